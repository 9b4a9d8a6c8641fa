// hip_blas.cpp — bmm through hipBLAS in libprism-rocm.so when CMake found it; otherwise no BLAS path.
#include <string>

#include "prism_gpu_shim.hpp"
#include "prism_plugin_sdk.h"

// ===========================================================================
// Note [ROCm GEMM]
// ---------------------------------------------------------------------------
// Debian 12 packages the HIP runtime and compiler but neither hipBLAS nor
// rocBLAS, so the default build has no BLAS path: bmm runs the shared tiled
// kernel of backends/gpu_common/prism_gk_gemm.h for f32/f64 and declines
// f16/bf16 (the core falls back). When CMake finds hipBLAS
// (find_package(hipblas), e.g. on a full ROCm install) the plugin is built
// with PRISM_ROCM_HAVE_HIPBLAS and bmm uses hipblasGemmStridedBatchedEx the
// way the CUDA plugin uses cuBLAS (hipBLAS reference, ROCm 5.x signature:
// the compute type is a hipblasDatatype_t; f32 accumulation for
// f16/bf16/f32, f64 for f64).
// ===========================================================================

#ifdef PRISM_ROCM_HAVE_HIPBLAS
#if __has_include(<hipblas/hipblas.h>)
#include <hipblas/hipblas.h>
#else
#include <hipblas.h>
#endif
#endif

namespace prism::gpu {

#ifdef PRISM_ROCM_HAVE_HIPBLAS

namespace {
prism_status blas_status(hipblasStatus_t s) {
  switch (s) {
    case HIPBLAS_STATUS_ALLOC_FAILED:
      return PRISM_ERROR_OUT_OF_MEMORY;
    case HIPBLAS_STATUS_NOT_INITIALIZED:
    case HIPBLAS_STATUS_ARCH_MISMATCH:
    case HIPBLAS_STATUS_NOT_SUPPORTED:
      return PRISM_ERROR_UNAVAILABLE;
    case HIPBLAS_STATUS_EXECUTION_FAILED:
      return PRISM_ERROR_DEVICE_LOST;
    default:
      return PRISM_ERROR_INTERNAL;
  }
}
}  // namespace

bool blas_available(std::string*) {
  return true;
}

prism_plugin_error* blas_gemm(const prism_host_table* host, void** handle, Stream stream, const BlasGemm& g) {
  if (*handle == nullptr) {
    hipblasHandle_t h = nullptr;
    const hipblasStatus_t s = hipblasCreate(&h);
    if (s != HIPBLAS_STATUS_SUCCESS) {
      return prism_sdk_error(host, blas_status(s), "rocm: bmm: hipblasCreate failed (status %d)",
                             static_cast<int>(s));
    }
    *handle = h;
  }
  hipblasHandle_t h = static_cast<hipblasHandle_t>(*handle);
  hipblasStatus_t s = hipblasSetStream(h, stream);
  if (s != HIPBLAS_STATUS_SUCCESS) {
    return prism_sdk_error(host, blas_status(s), "rocm: bmm: hipblasSetStream failed (status %d)",
                           static_cast<int>(s));
  }
  hipblasDatatype_t type = HIPBLAS_R_32F, compute = HIPBLAS_R_32F;
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const void* alpha = &alpha_f;
  const void* beta = &beta_f;
  switch (g.dtype) {
    case PRISM_DTYPE_F16:
      type = HIPBLAS_R_16F;
      break;
    case PRISM_DTYPE_BF16:
      type = HIPBLAS_R_16B;
      break;
    case PRISM_DTYPE_F32:
      break;
    case PRISM_DTYPE_F64:
      type = compute = HIPBLAS_R_64F;
      alpha = &alpha_d;
      beta = &beta_d;
      break;
    default:
      return prism_sdk_error(host, PRISM_ERROR_INVALID_ARGUMENT, "rocm: bmm: dtype %s has no hipBLAS path",
                             prism_sdk_dtype_name(g.dtype));
  }
  s = hipblasGemmStridedBatchedEx(
      h, g.trans_a ? HIPBLAS_OP_T : HIPBLAS_OP_N, g.trans_b ? HIPBLAS_OP_T : HIPBLAS_OP_N,
      static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), alpha, g.a, type,
      static_cast<int>(g.lda), g.stride_a, g.b, type, static_cast<int>(g.ldb), g.stride_b, beta, g.c, type,
      static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.batch), compute, HIPBLAS_GEMM_DEFAULT);
  if (s != HIPBLAS_STATUS_SUCCESS) {
    return prism_sdk_error(host, blas_status(s), "rocm: bmm: hipblasGemmStridedBatchedEx failed (status %d)",
                           static_cast<int>(s));
  }
  return nullptr;
}

void blas_destroy(void* handle) {
  if (handle != nullptr) hipblasDestroy(static_cast<hipblasHandle_t>(handle));
}

#else  // no hipBLAS: the tiled kernel serves f32/f64 (Note [ROCm GEMM])

bool blas_available(std::string* why) {
  if (why != nullptr) *why = "built without hipBLAS (Note [ROCm GEMM])";
  return false;
}

prism_plugin_error* blas_gemm(const prism_host_table* host, void**, Stream, const BlasGemm&) {
  return prism_sdk_error(host, PRISM_ERROR_UNIMPLEMENTED, "rocm: bmm: built without hipBLAS");
}

void blas_destroy(void*) {}

#endif

}  // namespace prism::gpu
