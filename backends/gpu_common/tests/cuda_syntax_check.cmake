# cuda_syntax_check.cmake — `cmake -P` script: compiles every shared kernel as CUDA with clang (no SDK) in several instantiations (Note [CUDA syntax check]).
# Inputs (-D): CLANG (clang++), GPU_COMMON (backends/gpu_common), SDK (plugins/sdk), WORK (scratch directory).
file(MAKE_DIRECTORY ${WORK})
set(_f "-DPRISM_T=float -DPRISM_C=float -DPRISM_UT=unsigned -DPRISM_KIND=2")
set(_d "-DPRISM_T=double -DPRISM_C=double -DPRISM_UT=uint64_t -DPRISM_KIND=2")
set(_i "-DPRISM_T=int64_t -DPRISM_C=int64_t -DPRISM_UT=uint64_t -DPRISM_KIND=1")
set(_b "-DPRISM_T=uint8_t -DPRISM_C=uint8_t -DPRISM_UT=uint8_t -DPRISM_KIND=0")
# name | headers after the dialect and types | defines
set(_cases
  "fill|prism_gk_elementwise.h|-DPRISM_GK_FILL ${_f}"
  "copy|prism_gk_elementwise.h|-DPRISM_GK_COPY ${_i} -DPRISM_TI=double -DPRISM_KIND_I=2"
  "unary|prism_gk_elementwise.h|-DPRISM_GK_UNARY -DPRISM_OP=14 ${_d} -DPRISM_GK_DENSE"
  "unary_int|prism_gk_elementwise.h|-DPRISM_GK_UNARY -DPRISM_OP=1 ${_i}"
  "binary|prism_gk_elementwise.h|-DPRISM_GK_BINARY -DPRISM_OP=4 ${_f}"
  "binary_bool|prism_gk_elementwise.h|-DPRISM_GK_BINARY -DPRISM_OP=0 ${_b}"
  "compare|prism_gk_elementwise.h|-DPRISM_GK_COMPARE -DPRISM_OP=3 ${_f}"
  "where|prism_gk_elementwise.h|-DPRISM_GK_WHERE ${_f} -DPRISM_GK_DENSE"
  "clamp|prism_gk_elementwise.h|-DPRISM_GK_CLAMP ${_i}"
  "reduce|prism_gk_reduce.h|-DPRISM_OP=4 ${_f} -DPRISM_ACC=float -DPRISM_GK_REDUCE_LOCAL=64"
  "reduce_int|prism_gk_reduce.h|-DPRISM_OP=1 ${_i} -DPRISM_ACC=int64_t -DPRISM_GK_REDUCE_LOCAL=1"
  "random|${SDK}/prism_philox.h,prism_gk_elementwise.h,prism_gk_random.h|-DPRISM_OP=1 -DPRISM_IS_F64=0 ${_f}"
  "gemm|prism_gk_gemm.h|${_f}")
set(_failed 0)
foreach(_case IN LISTS _cases)
  string(REPLACE "|" ";" _parts "${_case}")
  list(GET _parts 0 _name)
  list(GET _parts 1 _headers)
  list(GET _parts 2 _defs)
  string(REPLACE "," ";" _headers "${_headers}")
  set(_src "#include \"${GPU_COMMON}/tests/cuda_sdk_stub.h\"\n#include <stdint.h>\n")
  string(APPEND _src "#include \"${GPU_COMMON}/prism_dialect_cuda.h\"\n#include \"${GPU_COMMON}/prism_gk_types.h\"\n")
  foreach(_h IN LISTS _headers)
    if(IS_ABSOLUTE "${_h}")
      string(APPEND _src "#include \"${_h}\"\n")
    else()
      string(APPEND _src "#include \"${GPU_COMMON}/${_h}\"\n")
    endif()
  endforeach()
  file(WRITE ${WORK}/${_name}.cu "${_src}")
  separate_arguments(_defl UNIX_COMMAND "${_defs}")
  execute_process(
    COMMAND ${CLANG} -x cuda --cuda-gpu-arch=sm_70 -nocudainc -nocudalib --cuda-device-only -fsyntax-only
            -Wno-unknown-cuda-version ${_defl} ${WORK}/${_name}.cu
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(_rc EQUAL 0)
    message(STATUS "cuda ${_name}: ok")
  else()
    message(STATUS "cuda ${_name}: FAILED\n${_out}")
    set(_failed 1)
  endif()
endforeach()
if(_failed)
  message(FATAL_ERROR "some shared kernels do not compile as CUDA")
endif()
