// prism_gpu_shim.hpp (HIP) — the HIP runtime calls behind backends/gpu_common/runtime/prism_gpu_plugin.cpp.
#ifndef PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_
#define PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_

// The HIP twin of backends/cuda/prism_gpu_shim.hpp (Note [GPU runtime shim]
// there). Each wrapper is the HIP runtime call of the same name (HIP
// Runtime API reference, ROCm 5.2: the hip* counterpart of the CUDA call).
// Host code includes hip_runtime_api.h with __HIP_PLATFORM_AMD__ defined,
// so it compiles with the ordinary C++ compiler; only the kernel
// instances go through hipcc.

#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#include <hip/hip_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "prism/plugin.h"

namespace prism::gpu {

using Error = hipError_t;
using Stream = hipStream_t;
using Event = hipEvent_t;
constexpr Error kSuccess = hipSuccess;
constexpr Error kNotReady = hipErrorNotReady;
constexpr Error kPeerAccessAlreadyEnabled = hipErrorPeerAccessAlreadyEnabled;

constexpr const char* kPluginName = "rocm";  // plugin and device type: "rocm:N"
constexpr const char* kRuntimeName = "HIP";  // in messages
constexpr const char* kVendor = "AMD";

inline const char* error_name(Error e) {
  return hipGetErrorName(e);
}
inline const char* error_string(Error e) {
  return hipGetErrorString(e);
}
// Clears the calling thread's last error (a failed launch or
// allocation leaves it set; sticky errors stay on the context).
inline void clear_last_error() {
  (void)hipGetLastError();
}

constexpr const char* kDeviceCountCall = "hipGetDeviceCount";
inline Error device_count(int* n) {
  return hipGetDeviceCount(n);
}
inline Error set_device(int d) {
  return hipSetDevice(d);
}
inline Error mem_get_info(size_t* free_bytes, size_t* total_bytes) {
  return hipMemGetInfo(free_bytes, total_bytes);
}
inline Error can_access_peer(int* can, int device, int peer) {
  return hipDeviceCanAccessPeer(can, device, peer);
}
// Makes memory of `peer` accessible from the current device.
inline Error enable_peer_access(int peer) {
  return hipDeviceEnablePeerAccess(peer, 0);
}

inline Error malloc_device(void** p, size_t bytes) {
  return hipMalloc(p, bytes);
}
// hipFree synchronises the device first, so pending kernels that use the
// buffer finish before it is released (plugin.h: free waits for pending work).
inline Error free_device(void* p) {
  return hipFree(p);
}
// Pinned (page-locked) host memory, usable from every device.
inline Error malloc_pinned(void** p, size_t bytes) {
  return hipHostMalloc(p, bytes, hipHostMallocPortable);
}
inline Error free_pinned(void* p) {
  return hipHostFree(p);
}
inline Error copy_h2d_async(void* dst, const void* src, size_t bytes, Stream s) {
  return hipMemcpyAsync(dst, src, bytes, hipMemcpyHostToDevice, s);
}
inline Error copy_d2h_async(void* dst, const void* src, size_t bytes, Stream s) {
  return hipMemcpyAsync(dst, src, bytes, hipMemcpyDeviceToHost, s);
}
// Direct GPU-to-GPU copy (over the peer link where enable_peer_access succeeded): for the
// device-to-device copy slot the plugin ABI does not have yet (v1.0 copies through the host).
inline Error copy_peer_async(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                             Stream s) {
  return hipMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, s);
}

// The device's default stream: non-blocking, so it never synchronises with
// the legacy NULL stream other libraries in the process may use.
inline Error stream_create(Stream* s) {
  return hipStreamCreateWithFlags(s, hipStreamNonBlocking);
}
inline Error stream_destroy(Stream s) {
  return hipStreamDestroy(s);
}
inline Error stream_synchronize(Stream s) {
  return hipStreamSynchronize(s);
}
inline Error stream_wait_event(Stream s, Event e) {
  return hipStreamWaitEvent(s, e, 0);
}

// Events only order work: no timing.
inline Error event_create(Event* e) {
  return hipEventCreateWithFlags(e, hipEventDisableTiming);
}
inline Error event_record(Event e, Stream s) {
  return hipEventRecord(e, s);
}
inline Error event_query(Event e) {
  return hipEventQuery(e);
}
inline Error event_synchronize(Event e) {
  return hipEventSynchronize(e);
}
inline Error event_destroy(Event e) {
  return hipEventDestroy(e);
}

// Most work-items one launch can have in x (gridDim.x * blockDim.x < 2^32 on HIP).
constexpr int64_t kMaxThreadsX = int64_t{4294967295};

// `args[i]` points to the value of kernel parameter i.
inline Error launch(const void* fn, dim3 grid, dim3 block, void** args, Stream s) {
  return hipLaunchKernel(fn, grid, block, args, 0, s);
}

// Prism status of a runtime error (Note [GPU error mapping] in prism_gpu_plugin.cpp).
inline prism_status error_status(Error e) {
  switch (e) {
    case hipErrorOutOfMemory:
      return PRISM_ERROR_OUT_OF_MEMORY;
    case hipErrorNoDevice:
    case hipErrorInsufficientDriver:
    case hipErrorInitializationError:
    case hipErrorNoBinaryForGpu:
    case hipErrorInvalidImage:
    case hipErrorSharedObjectInitFailed:
      return PRISM_ERROR_UNAVAILABLE;
    case hipErrorLaunchFailure:
    case hipErrorIllegalAddress:
    case hipErrorLaunchTimeOut:
    case hipErrorECCNotCorrectable:
    case hipErrorAssert:
      return PRISM_ERROR_DEVICE_LOST;
    default:
      return PRISM_ERROR_INTERNAL;
  }
}

struct DeviceInfo {
  std::string name;       // "AMD Instinct MI210"
  std::string arch;       // "gfx90a:sramecc+:xnack-"
  std::string stable_id;  // "rocm:GPU-<uuid>", or "rocm:pci-<domain:bus:device>" without a UUID
  uint64_t total_memory = 0;
  int max_threads_per_block = 0;
  int max_grid[3] = {0, 0, 0};
};

inline Error device_info(int device, DeviceInfo* info) {
  hipDeviceProp_t p{};
  const Error e = hipGetDeviceProperties(&p, device);
  if (e != kSuccess) return e;
  info->name = p.name;
  info->arch = p.gcnArchName;
  hipDevice_t handle = 0;
  hipUUID uuid{};
  if (hipDeviceGet(&handle, device) == kSuccess && hipDeviceGetUuid(&uuid, handle) == kSuccess) {
    char text[48];
    const unsigned char* u = reinterpret_cast<const unsigned char*>(uuid.bytes);
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                  u[14], u[15]);
    info->stable_id = std::string("rocm:GPU-") + text;
  } else {
    char text[48];
    std::snprintf(text, sizeof text, "rocm:pci-%04x:%02x:%02x", static_cast<unsigned>(p.pciDomainID),
                  static_cast<unsigned>(p.pciBusID), static_cast<unsigned>(p.pciDeviceID));
    info->stable_id = text;
  }
  info->total_memory = p.totalGlobalMem;
  info->max_threads_per_block = p.maxThreadsPerBlock;
  for (int i = 0; i < 3; ++i) info->max_grid[i] = p.maxGridSize[i];
  return kSuccess;
}

// "HIP runtime 50221153, driver 50221153" (HIP encodes versions as one number).
inline std::string versions() {
  int rt = 0, drv = 0;
  (void)hipRuntimeGetVersion(&rt);
  (void)hipDriverGetVersion(&drv);
  return "HIP runtime " + std::to_string(rt) + ", driver " + std::to_string(drv);
}

// ---------------------------------------------------------------------------
// BLAS (hip_blas.cpp: hipBLAS when CMake found it, else none; Note [ROCm GEMM])
// ---------------------------------------------------------------------------

// A column-major strided-batched GEMM C = op(A) op(B), as hipblasGemmStridedBatchedEx takes it.
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
#ifdef PRISM_ROCM_HAVE_HIPBLAS
constexpr uint32_t kBlasDtypeMask = PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16) |
                                    PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);
#else
constexpr uint32_t kBlasDtypeMask = 0;
#endif

// True when the BLAS library can be used; otherwise *why says why.
bool blas_available(std::string* why);
// Runs `g` on `stream` of the current device with the per-device handle
// *handle (created on first use). Returns nullptr on success.
prism_plugin_error* blas_gemm(const prism_host_table* host, void** handle, Stream stream, const BlasGemm& g);
void blas_destroy(void* handle);

}  // namespace prism::gpu

#endif  // PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_
