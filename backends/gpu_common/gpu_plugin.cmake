# gpu_plugin.cmake — CMake helpers shared by backends/cuda and backends/rocm: generated kernel instances and the one host source compiled per vendor.

set(PRISM_GPU_COMMON_DIR ${PROJECT_SOURCE_DIR}/backends/gpu_common)
set(PRISM_GPU_INSTANCE_GROUPS copy unary binary reduce random gemm)
set(PRISM_GPU_KERNEL_HEADERS
  ${PRISM_GPU_COMMON_DIR}/prism_dialect_cuda.h
  ${PRISM_GPU_COMMON_DIR}/prism_dialect_hip.h
  ${PRISM_GPU_COMMON_DIR}/prism_dialect_cxx.h
  ${PRISM_GPU_COMMON_DIR}/prism_dialect_math.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_types.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_registry.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_elementwise.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_reduce.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_random.h
  ${PRISM_GPU_COMMON_DIR}/prism_gk_gemm.h
  ${PROJECT_SOURCE_DIR}/plugins/sdk/prism_philox.h)

# prism_gpu_instances(<cu|hip> <out dir> <out var>): the translation units of
# Note [Ahead-of-time instances], written at build time into <out dir>.
function(prism_gpu_instances ext out_dir out_var)
  set(_files)
  foreach(_g IN LISTS PRISM_GPU_INSTANCE_GROUPS)
    list(APPEND _files ${out_dir}/prism_gk_${_g}.${ext})
  endforeach()
  add_custom_command(
    OUTPUT ${_files} ${out_dir}/prism_gk_instance_keys.h
    COMMAND ${CMAKE_COMMAND} -DOUT_DIR=${out_dir} -DEXT=${ext} -DGPU_COMMON=${PRISM_GPU_COMMON_DIR}
            -DSDK=${PROJECT_SOURCE_DIR}/plugins/sdk -P ${PRISM_GPU_COMMON_DIR}/gen_instances.cmake
    DEPENDS ${PRISM_GPU_COMMON_DIR}/gen_instances.cmake
    COMMENT "Writing the ${ext} instances of the shared GPU kernels"
    VERBATIM)
  set(${out_var} ${_files} PARENT_SCOPE)
endfunction()

# prism_gpu_plugin(<name> <vendor dir> SOURCES ... LIBS ...): libprism-<name>.so
# from the shared host source plus the vendor's sources (Note [GPU runtime shim]).
function(prism_gpu_plugin name vendor_dir)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  prism_add_backend(${name}
    SOURCES ${PRISM_GPU_COMMON_DIR}/runtime/prism_gpu_plugin.cpp ${ARG_SOURCES}
    LIBS ${ARG_LIBS})
  # the vendor folder first: it holds this plugin's prism_gpu_shim.hpp
  target_include_directories(prism-${name} BEFORE PRIVATE ${vendor_dir})
  target_include_directories(prism-${name} PRIVATE ${PRISM_GPU_COMMON_DIR})
  target_link_options(prism-${name} PRIVATE -Wl,--version-script=${PRISM_GPU_COMMON_DIR}/runtime/prism_gpu.map)
  set_target_properties(prism-${name} PROPERTIES LINK_DEPENDS ${PRISM_GPU_COMMON_DIR}/runtime/prism_gpu.map)
endfunction()

# prism_gpu_plugin_tests(<name> <PRISM_GPU_CUDA|PRISM_GPU_HIP> <device-count call> LIBS ...): the ctest
# entries of a GPU plugin on a machine without its GPU: <name>_plugin_instance_coverage
# (gpu_instance_coverage_test.cpp), <name>_plugin_no_device (gpu_no_device_test.cpp),
# <name>_plugin_info and <name>_plugin_conformance_no_device (expect_output.cmake). LIBS: the vendor
# runtime, which the test asks for its own message.
function(prism_gpu_plugin_tests name define count_call)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  if(NOT PRISM_BUILD_TESTS)
    return()
  endif()
  find_package(GTest REQUIRED)
  set(_test prism_${name}_no_device_test)
  add_executable(${_test} ${PRISM_GPU_COMMON_DIR}/tests/gpu_no_device_test.cpp)
  target_include_directories(${_test} PRIVATE ${PROJECT_SOURCE_DIR}/api)
  target_compile_options(${_test} PRIVATE ${PRISM_WARNINGS})
  target_compile_definitions(${_test} PRIVATE ${define} PRISM_GPU_PLUGIN_PATH="$<TARGET_FILE:prism-${name}>"
    PRISM_CPU_PLUGIN_PATH="${PROJECT_BINARY_DIR}/lib/libprism-cpu.so")
  target_link_libraries(${_test} PRIVATE prism GTest::gtest_main ${ARG_LIBS})
  add_dependencies(${_test} prism-${name})
  if(TARGET prism-cpu)
    add_dependencies(${_test} prism-cpu)
  endif()
  set(_check ${PRISM_GPU_COMMON_DIR}/tests/expect_output.cmake)
  set(_env "PRISM_PLUGIN_PATH=${PROJECT_BINARY_DIR}/lib;PRISM_FALLBACK=allow")

  # Every (op, dtype) the plugin registers has a compiled kernel instance (host only, no GPU needed).
  set(_cov prism_${name}_instance_coverage_test)
  add_executable(${_cov} ${PRISM_GPU_COMMON_DIR}/tests/gpu_instance_coverage_test.cpp
    ${CMAKE_CURRENT_BINARY_DIR}/kernels/prism_gk_instance_keys.h)
  target_include_directories(${_cov} PRIVATE ${PROJECT_SOURCE_DIR}/api ${PROJECT_SOURCE_DIR}/plugins/sdk
    ${PRISM_GPU_COMMON_DIR} ${CMAKE_CURRENT_BINARY_DIR}/kernels)
  target_compile_options(${_cov} PRIVATE ${PRISM_WARNINGS})
  target_link_libraries(${_cov} PRIVATE GTest::gtest_main)
  add_test(NAME ${name}_plugin_instance_coverage COMMAND ${_cov})

  # Loads beside the CPU plugin with 0 devices and the runtime's own message.
  add_test(NAME ${name}_plugin_no_device COMMAND ${_test})
  set_tests_properties(${name}_plugin_no_device PROPERTIES SKIP_REGULAR_EXPRESSION "skipped: a device is present")

  # `prism info` lists the plugin in the load report with 0 devices and the reason.
  add_test(NAME ${name}_plugin_info
    COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:prism_cli>@@info@@--plugin@@$<TARGET_FILE:prism-${name}>" -DRC=0
      "-DMATCH=libprism-${name}\\.so[^\n]*${name}[^\n]* 0 [^\n]*${count_call} failed: " -P ${_check})
  set_tests_properties(${name}_plugin_info PROPERTIES ENVIRONMENT "${_env}")

  # prism-conformance: "skipped: no device (<reason>)" rows, exit 77 (NOT RUN), no pass in any device mode.
  if(TARGET prism-conformance OR EXISTS ${PROJECT_SOURCE_DIR}/conformance/CMakeLists.txt)
    add_test(NAME ${name}_plugin_conformance_no_device
      COMMAND ${CMAKE_COMMAND}
        "-DCMD=$<TARGET_FILE:prism-conformance>@@--plugin@@$<TARGET_FILE:prism-${name}>@@--mode@@abi,ops,rng,support,grad,async@@--verbose"
        -DRC=77
        "-DMATCH=SKIP +ops +\\(all\\)[^\n]*skipped: no device \\(${count_call} failed: @@SKIP +grad +\\(all\\)[^\n]*skipped: no device @@result: NOT RUN"
        "-DFORBID=\nPASS +(ops|rng|grad|async|perf) @@\n +(ops|rng|grad|async) +[1-9]"
        -P ${_check})
    set_tests_properties(${name}_plugin_conformance_no_device PROPERTIES ENVIRONMENT "${_env}" TIMEOUT 300)
  endif()
endfunction()

# prism_gpu_same_sources_test(<name> <instances> <sources>): ctest <name>_plugin_same_sources
# (backends/gpu_common/tests/same_sources_check.cmake).
function(prism_gpu_same_sources_test name instances sources)
  if(NOT PRISM_BUILD_TESTS)
    return()
  endif()
  string(REPLACE ";" "@@" _inst "${instances}")
  string(REPLACE ";" "@@" _src "${sources}")
  add_test(NAME ${name}_plugin_same_sources
    COMMAND ${CMAKE_COMMAND} -DGPU_COMMON=${PRISM_GPU_COMMON_DIR} -DSDK=${PROJECT_SOURCE_DIR}/plugins/sdk
      "-DINSTANCES=${_inst}" "-DSOURCES=${_src}" -DPLUGIN=$<TARGET_FILE:prism-${name}> -DNM=${CMAKE_NM}
      -DOPENCL_CMAKE=${PROJECT_SOURCE_DIR}/backends/opencl/CMakeLists.txt
      -P ${PRISM_GPU_COMMON_DIR}/tests/same_sources_check.cmake)
endfunction()
