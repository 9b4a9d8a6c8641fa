// cuda_blas.cpp — cuBLAS for bmm in libprism-cuda.so, loaded with dlopen on first use.
#include <dlfcn.h>

#include <cublas_api.h>

#include <mutex>
#include <string>

#include "prism_gpu_shim.hpp"
#include "prism_plugin_sdk.h"

namespace prism::gpu {
namespace {

// ===========================================================================
// Note [cuBLAS loading]
// ---------------------------------------------------------------------------
// The CUDA runtime is linked statically (CUDA::cudart_static), so
// libprism-cuda.so loads on any machine, driver or not. cuBLAS is not linked:
// it is opened with dlopen("libcublas.so.<major>") the first time a bmm
// wants it, and the five entry points below are looked up by name. So the
// plugin still loads (and reports its devices, or why there are none) where
// the toolkit's libraries are not on the loader path; bmm then uses the
// shared tiled kernel for f32/f64 and declines f16/bf16 (the core falls
// back). The major version is the one of the headers the plugin was built
// with (cuBLAS keeps its ABI within a major version). Signatures come from
// cublas_api.h through decltype (and a static_cast for the overloaded
// GEMM), so a mismatch is a compile error.
// Calls (cuBLAS library reference, CUDA 13.0): cublasCreate_v2,
// cublasSetStream_v2, cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F for
// f32/f16/bf16 (f32 accumulation, no TF32: the default math mode) and
// CUBLAS_COMPUTE_64F for f64, CUBLAS_GEMM_DEFAULT, host-side alpha/beta.
// ===========================================================================

#define PRISM_CUBLAS_STR2(x) #x
#define PRISM_CUBLAS_STR(x) PRISM_CUBLAS_STR2(x)

// cublasGemmStridedBatchedEx with a cublasComputeType_t (cublas_api.h also
// declares a C++ overload taking a cudaDataType compute type).
using GemmFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                  const void*, const void*, cudaDataType, int, long long int, const void*,
                                  cudaDataType, int, long long int, const void*, void*, cudaDataType, int,
                                  long long int, int, cublasComputeType_t, cublasGemmAlgo_t);
// Fails to compile when no declaration of cublasGemmStridedBatchedEx has this type.
using GemmFnCheck = decltype(static_cast<GemmFn>(&cublasGemmStridedBatchedEx));

struct Cublas {
  bool loaded = false;
  std::string why;
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  GemmFn gemm = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

const Cublas& cublas() {
  static Cublas lib;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* name = "libcublas.so." PRISM_CUBLAS_STR(CUBLAS_VER_MAJOR);
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = dlerror();
      lib.why = std::string("cannot load ") + name + ": " + (e != nullptr ? e : "unknown error");
      return;
    }
    lib.create = reinterpret_cast<decltype(lib.create)>(dlsym(h, "cublasCreate_v2"));
    lib.destroy = reinterpret_cast<decltype(lib.destroy)>(dlsym(h, "cublasDestroy_v2"));
    lib.set_stream = reinterpret_cast<decltype(lib.set_stream)>(dlsym(h, "cublasSetStream_v2"));
    lib.gemm = reinterpret_cast<GemmFn>(dlsym(h, "cublasGemmStridedBatchedEx"));
    lib.status_string = reinterpret_cast<decltype(lib.status_string)>(dlsym(h, "cublasGetStatusString"));
    if (lib.create == nullptr || lib.destroy == nullptr || lib.set_stream == nullptr || lib.gemm == nullptr ||
        lib.status_string == nullptr) {
      lib.why = std::string(name) + " lacks a cuBLAS entry point";
      return;  // the handle stays open: the library may still be in use by others
    }
    lib.loaded = true;
  });
  return lib;
}

prism_status blas_status(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return PRISM_ERROR_OUT_OF_MEMORY;
    case CUBLAS_STATUS_NOT_INITIALIZED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return PRISM_ERROR_UNAVAILABLE;
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return PRISM_ERROR_DEVICE_LOST;
    default:
      return PRISM_ERROR_INTERNAL;
  }
}

prism_plugin_error* blas_error(const prism_host_table* host, const Cublas& lib, cublasStatus_t s,
                               const char* what) {
  return prism_sdk_error(host, blas_status(s), "cuda: bmm: %s: %s (status %d)", what, lib.status_string(s),
                         static_cast<int>(s));
}

}  // namespace

bool blas_available(std::string* why) {
  const Cublas& lib = cublas();
  if (!lib.loaded && why != nullptr) *why = lib.why;
  return lib.loaded;
}

prism_plugin_error* blas_gemm(const prism_host_table* host, void** handle, Stream stream, const BlasGemm& g) {
  const Cublas& lib = cublas();
  if (!lib.loaded) return prism_sdk_error(host, PRISM_ERROR_UNAVAILABLE, "cuda: bmm: %s", lib.why.c_str());
  if (*handle == nullptr) {
    cublasHandle_t h = nullptr;
    const cublasStatus_t s = lib.create(&h);
    if (s != CUBLAS_STATUS_SUCCESS) return blas_error(host, lib, s, "cublasCreate");
    *handle = h;
  }
  cublasHandle_t h = static_cast<cublasHandle_t>(*handle);
  cublasStatus_t s = lib.set_stream(h, stream);
  if (s != CUBLAS_STATUS_SUCCESS) return blas_error(host, lib, s, "cublasSetStream");
  cudaDataType_t type = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const void* alpha = &alpha_f;
  const void* beta = &beta_f;
  switch (g.dtype) {
    case PRISM_DTYPE_F16:
      type = CUDA_R_16F;
      break;
    case PRISM_DTYPE_BF16:
      type = CUDA_R_16BF;
      break;
    case PRISM_DTYPE_F32:
      break;
    case PRISM_DTYPE_F64:
      type = CUDA_R_64F;
      compute = CUBLAS_COMPUTE_64F;
      alpha = &alpha_d;
      beta = &beta_d;
      break;
    default:
      return prism_sdk_error(host, PRISM_ERROR_INVALID_ARGUMENT, "cuda: bmm: dtype %s has no cuBLAS path",
                             prism_sdk_dtype_name(g.dtype));
  }
  s = lib.gemm(h, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
               static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), alpha, g.a, type,
               static_cast<int>(g.lda), g.stride_a, g.b, type, static_cast<int>(g.ldb), g.stride_b, beta, g.c,
               type, static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.batch), compute,
               CUBLAS_GEMM_DEFAULT);
  if (s != CUBLAS_STATUS_SUCCESS) return blas_error(host, lib, s, "cublasGemmStridedBatchedEx");
  return nullptr;
}

void blas_destroy(void* handle) {
  const Cublas& lib = cublas();
  if (handle != nullptr && lib.loaded) lib.destroy(static_cast<cublasHandle_t>(handle));
}

}  // namespace prism::gpu
