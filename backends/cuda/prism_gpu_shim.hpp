// prism_gpu_shim.hpp (CUDA) — the CUDA runtime calls behind backends/gpu_common/runtime/prism_gpu_plugin.cpp.
#ifndef PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_
#define PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_

// Note [GPU runtime shim]
// -----------------------
// The CUDA and ROCm plugins are one host source (prism_gpu_plugin.cpp)
// compiled twice; each includes the prism_gpu_shim.hpp of its own folder,
// found through the include path. A shim is a list of one-line wrappers with
// the same names in both vendors (HIP mirrors the CUDA runtime API, so the
// two files differ only in prefixes, the error table and the device
// properties), plus the vendor's BLAS entry points (cuda_blas.cpp /
// hip_blas.cpp). Each wrapper is the documented runtime call of the same
// name: CUDA Runtime API reference, sections "Device Management", "Stream
// Management", "Event Management", "Memory Management", "Execution Control"
// and "Error Handling" (CUDA 13.0).

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "prism/plugin.h"

namespace prism::gpu {

using Error = cudaError_t;
using Stream = cudaStream_t;
using Event = cudaEvent_t;
constexpr Error kSuccess = cudaSuccess;
constexpr Error kNotReady = cudaErrorNotReady;
constexpr Error kPeerAccessAlreadyEnabled = cudaErrorPeerAccessAlreadyEnabled;

constexpr const char* kPluginName = "cuda";   // plugin and device type: "cuda:N"
constexpr const char* kRuntimeName = "CUDA";  // in messages
constexpr const char* kVendor = "NVIDIA";

inline const char* error_name(Error e) {
  return cudaGetErrorName(e);
}
inline const char* error_string(Error e) {
  return cudaGetErrorString(e);
}
// Clears the calling thread's last error (a failed launch or
// allocation leaves it set; sticky errors stay on the context).
inline void clear_last_error() {
  (void)cudaGetLastError();
}

constexpr const char* kDeviceCountCall = "cudaGetDeviceCount";
inline Error device_count(int* n) {
  return cudaGetDeviceCount(n);
}
inline Error set_device(int d) {
  return cudaSetDevice(d);
}
inline Error mem_get_info(size_t* free_bytes, size_t* total_bytes) {
  return cudaMemGetInfo(free_bytes, total_bytes);
}
inline Error can_access_peer(int* can, int device, int peer) {
  return cudaDeviceCanAccessPeer(can, device, peer);
}
// Makes memory of `peer` accessible from the current device.
inline Error enable_peer_access(int peer) {
  return cudaDeviceEnablePeerAccess(peer, 0);
}

inline Error malloc_device(void** p, size_t bytes) {
  return cudaMalloc(p, bytes);
}
// cudaFree synchronises the device first, so pending kernels that use the
// buffer finish before it is released (plugin.h: free waits for pending work).
inline Error free_device(void* p) {
  return cudaFree(p);
}
// Pinned (page-locked) host memory, usable from every device.
inline Error malloc_pinned(void** p, size_t bytes) {
  return cudaHostAlloc(p, bytes, cudaHostAllocPortable);
}
inline Error free_pinned(void* p) {
  return cudaFreeHost(p);
}
inline Error copy_h2d_async(void* dst, const void* src, size_t bytes, Stream s) {
  return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s);
}
inline Error copy_d2h_async(void* dst, const void* src, size_t bytes, Stream s) {
  return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s);
}
// Direct GPU-to-GPU copy (over the peer link where enable_peer_access succeeded): for the
// device-to-device copy slot the plugin ABI does not have yet (v1.0 copies through the host).
inline Error copy_peer_async(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                             Stream s) {
  return cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, s);
}

// The device's default stream: non-blocking, so it never synchronises with
// the legacy NULL stream other libraries in the process may use.
inline Error stream_create(Stream* s) {
  return cudaStreamCreateWithFlags(s, cudaStreamNonBlocking);
}
inline Error stream_destroy(Stream s) {
  return cudaStreamDestroy(s);
}
inline Error stream_synchronize(Stream s) {
  return cudaStreamSynchronize(s);
}
inline Error stream_wait_event(Stream s, Event e) {
  return cudaStreamWaitEvent(s, e, 0);
}

// Events only order work: no timing.
inline Error event_create(Event* e) {
  return cudaEventCreateWithFlags(e, cudaEventDisableTiming);
}
inline Error event_record(Event e, Stream s) {
  return cudaEventRecord(e, s);
}
inline Error event_query(Event e) {
  return cudaEventQuery(e);
}
inline Error event_synchronize(Event e) {
  return cudaEventSynchronize(e);
}
inline Error event_destroy(Event e) {
  return cudaEventDestroy(e);
}

// Most work-items one launch can have in x (gridDim.x < 2^31, blockDim.x <= 1024).
constexpr int64_t kMaxThreadsX = int64_t{2147483647} * 1024;

// `args[i]` points to the value of kernel parameter i.
inline Error launch(const void* fn, dim3 grid, dim3 block, void** args, Stream s) {
  return cudaLaunchKernel(fn, grid, block, args, 0, s);
}

// Prism status of a runtime error (Note [GPU error mapping] in prism_gpu_plugin.cpp).
inline prism_status error_status(Error e) {
  switch (e) {
    case cudaErrorMemoryAllocation:
      return PRISM_ERROR_OUT_OF_MEMORY;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorCallRequiresNewerDriver:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorInitializationError:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorSystemNotReady:
      return PRISM_ERROR_UNAVAILABLE;
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorECCUncorrectable:
    case cudaErrorAssert:
    case cudaErrorCudartUnloading:
      return PRISM_ERROR_DEVICE_LOST;
    default:
      return PRISM_ERROR_INTERNAL;
  }
}

struct DeviceInfo {
  std::string name;       // "NVIDIA H100 80GB HBM3"
  std::string arch;       // "sm_90" (compute capability 9.0)
  std::string stable_id;  // "cuda:GPU-<uuid>"
  uint64_t total_memory = 0;
  int max_threads_per_block = 0;
  int max_grid[3] = {0, 0, 0};
};

inline Error device_info(int device, DeviceInfo* info) {
  cudaDeviceProp p{};
  const Error e = cudaGetDeviceProperties(&p, device);
  if (e != kSuccess) return e;
  info->name = p.name;
  info->arch = "sm_" + std::to_string(p.major) + std::to_string(p.minor) + " (compute capability " +
               std::to_string(p.major) + "." + std::to_string(p.minor) + ")";
  char uuid[48];
  const unsigned char* u = reinterpret_cast<const unsigned char*>(p.uuid.bytes);
  std::snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  info->stable_id = std::string("cuda:GPU-") + uuid;
  info->total_memory = p.totalGlobalMem;
  info->max_threads_per_block = p.maxThreadsPerBlock;
  for (int i = 0; i < 3; ++i) info->max_grid[i] = p.maxGridSize[i];
  return kSuccess;
}

// "CUDA runtime 13.0, driver 12.8" / "..., no CUDA driver found".
inline std::string versions() {
  int rt = 0, drv = 0;
  (void)cudaRuntimeGetVersion(&rt);
  (void)cudaDriverGetVersion(&drv);
  std::string s =
      std::string("CUDA runtime ") + std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10);
  if (drv == 0) return s + ", no CUDA driver found (libcuda.so.1)";
  return s + ", driver " + std::to_string(drv / 1000) + "." + std::to_string(drv % 1000 / 10);
}

// ---------------------------------------------------------------------------
// BLAS (cuda_blas.cpp: cuBLAS, loaded on first use; Note [cuBLAS loading])
// ---------------------------------------------------------------------------

// A column-major strided-batched GEMM C = op(A) op(B), as cublasGemmStridedBatchedEx takes it.
struct BlasGemm {
  int32_t dtype;  // prism dtype of A, B and C
  bool trans_a, trans_b;
  int64_t m, n, k;
  const void* a;
  int64_t lda, stride_a;
  const void* b;
  int64_t ldb, stride_b;
  void* c;
  int64_t ldc, stride_c;
  int64_t batch;
};

// Dtypes the BLAS path registers for bmm (f16/bf16 only through BLAS).
constexpr uint32_t kBlasDtypeMask = PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16) |
                                    PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);

// True when the BLAS library can be used; otherwise *why says why.
bool blas_available(std::string* why);
// Runs `g` on `stream` of the current device with the per-device handle
// *handle (created on first use). Returns nullptr on success.
prism_plugin_error* blas_gemm(const prism_host_table* host, void** handle, Stream stream, const BlasGemm& g);
void blas_destroy(void* handle);

}  // namespace prism::gpu

#endif  // PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_
