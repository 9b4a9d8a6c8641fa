// prism_gpu_shim_common.hpp — the one GPU runtime shim shared by CUDA, HIP and HIP-CPU, written against the
// name-mapping layer (PRISM_GPU_API) that each vendor's prism_gpu_shim.hpp defines before including it.
#ifndef PRISM_GPU_COMMON_RUNTIME_PRISM_GPU_SHIM_COMMON_HPP_
#define PRISM_GPU_COMMON_RUNTIME_PRISM_GPU_SHIM_COMMON_HPP_

// Note [GPU runtime shim]
// -----------------------
// The CUDA and ROCm plugins are one host source (prism_gpu_plugin.cpp)
// compiled per vendor; each includes the prism_gpu_shim.hpp of its own
// folder, found through the include path. HIP mirrors the CUDA runtime API
// name for name (cudaMalloc / hipMalloc, cudaErrorNotReady /
// hipErrorNotReady), so the wrappers are written once, here, against
//
//   PRISM_GPU_API(Name)   the runtime entry point or constant `Name` with
//                         the vendor's prefix: cuda##Name, hip##Name, or
//                         ::prism_hip_cpu::hip##Name in the rocm-on-cpu
//                         flavour (Note [HIP CPU runtime fixes]);
//   PRISM_GPU_PREFIX      "cuda" or "hip", for messages;
//   PRISM_GPU_HOST_MALLOC(p, bytes), PRISM_GPU_HOST_FREE(p)
//                         pinned host memory, the one pair whose names
//                         differ (cudaHostAlloc / hipHostMalloc,
//                         cudaFreeHost / hipHostFree);
//
// and each vendor header keeps only what really differs: the plugin's
// names, the error table, the device properties and the version text. So
// the HIP-CPU run executes exactly the wrappers the CUDA build compiles.
// Each wrapper is the documented runtime call of the same name: CUDA
// Runtime API reference, sections "Device Management", "Stream
// Management", "Event Management", "Memory Management", "Execution
// Control" and "Error Handling" (CUDA 13.0), and its hip* twin (HIP
// Runtime API reference, ROCm 5.2).

#include <cstdint>
#include <cstdio>
#include <string>

#include "prism/plugin.h"

#if !defined(PRISM_GPU_API) || !defined(PRISM_GPU_PREFIX) || !defined(PRISM_GPU_HOST_MALLOC) || \
    !defined(PRISM_GPU_HOST_FREE)
#error "include the vendor's prism_gpu_shim.hpp, which defines the name-mapping layer first"
#endif

namespace prism::gpu {

using Error = PRISM_GPU_API(Error_t);
using Stream = PRISM_GPU_API(Stream_t);
using Event = PRISM_GPU_API(Event_t);
constexpr Error kSuccess = PRISM_GPU_API(Success);
constexpr Error kNotReady = PRISM_GPU_API(ErrorNotReady);
constexpr Error kPeerAccessAlreadyEnabled = PRISM_GPU_API(ErrorPeerAccessAlreadyEnabled);

inline const char* error_name(Error e) {
  return PRISM_GPU_API(GetErrorName)(e);
}
inline const char* error_string(Error e) {
  return PRISM_GPU_API(GetErrorString)(e);
}
// Clears the calling thread's last error (a failed launch or
// allocation leaves it set; sticky errors stay on the context).
inline void clear_last_error() {
  (void)PRISM_GPU_API(GetLastError)();
}

inline Error device_count(int* n) {
  return PRISM_GPU_API(GetDeviceCount)(n);
}
inline Error set_device(int d) {
  return PRISM_GPU_API(SetDevice)(d);
}
inline Error mem_get_info(size_t* free_bytes, size_t* total_bytes) {
  return PRISM_GPU_API(MemGetInfo)(free_bytes, total_bytes);
}
inline Error can_access_peer(int* can, int device, int peer) {
  return PRISM_GPU_API(DeviceCanAccessPeer)(can, device, peer);
}
// Makes memory of `peer` accessible from the current device.
inline Error enable_peer_access(int peer) {
  return PRISM_GPU_API(DeviceEnablePeerAccess)(peer, 0);
}

inline Error malloc_device(void** p, size_t bytes) {
  return PRISM_GPU_API(Malloc)(p, bytes);
}
// The runtime's free synchronises the device first, so pending kernels that
// use the buffer finish before it is released (plugin.h: free waits for
// pending work).
inline Error free_device(void* p) {
  return PRISM_GPU_API(Free)(p);
}
// Pinned (page-locked) host memory, usable from every device.
inline Error malloc_pinned(void** p, size_t bytes) {
  return PRISM_GPU_HOST_MALLOC(p, bytes);
}
inline Error free_pinned(void* p) {
  return PRISM_GPU_HOST_FREE(p);
}
inline Error copy_h2d_async(void* dst, const void* src, size_t bytes, Stream s) {
  return PRISM_GPU_API(MemcpyAsync)(dst, src, bytes, PRISM_GPU_API(MemcpyHostToDevice), s);
}
inline Error copy_d2h_async(void* dst, const void* src, size_t bytes, Stream s) {
  return PRISM_GPU_API(MemcpyAsync)(dst, src, bytes, PRISM_GPU_API(MemcpyDeviceToHost), s);
}
// Direct GPU-to-GPU copy (over the peer link where enable_peer_access succeeded): for the
// device-to-device copy slot the plugin ABI does not have yet (v1.0 copies through the host).
inline Error copy_peer_async(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                             Stream s) {
  return PRISM_GPU_API(MemcpyPeerAsync)(dst, dst_device, src, src_device, bytes, s);
}

// The device's default stream: non-blocking, so it never synchronises with
// the legacy NULL stream other libraries in the process may use.
inline Error stream_create(Stream* s) {
  return PRISM_GPU_API(StreamCreateWithFlags)(s, PRISM_GPU_API(StreamNonBlocking));
}
inline Error stream_destroy(Stream s) {
  return PRISM_GPU_API(StreamDestroy)(s);
}
inline Error stream_synchronize(Stream s) {
  return PRISM_GPU_API(StreamSynchronize)(s);
}
inline Error stream_wait_event(Stream s, Event e) {
  return PRISM_GPU_API(StreamWaitEvent)(s, e, 0);
}

// Events only order work: no timing.
inline Error event_create(Event* e) {
  return PRISM_GPU_API(EventCreateWithFlags)(e, PRISM_GPU_API(EventDisableTiming));
}
// User events (plugin ABI 1.2): with timing, for event_elapsed_ms.
inline Error event_create_timed(Event* e) {
  return PRISM_GPU_API(EventCreate)(e);
}
inline Error event_elapsed(float* ms, Event start, Event end) {
  return PRISM_GPU_API(EventElapsedTime)(ms, start, end);
}
inline Error event_record(Event e, Stream s) {
  return PRISM_GPU_API(EventRecord)(e, s);
}
inline Error event_query(Event e) {
  return PRISM_GPU_API(EventQuery)(e);
}
inline Error event_synchronize(Event e) {
  return PRISM_GPU_API(EventSynchronize)(e);
}
inline Error event_destroy(Event e) {
  return PRISM_GPU_API(EventDestroy)(e);
}

// `args[i]` points to the value of kernel parameter i.
inline Error launch(const void* fn, dim3 grid, dim3 block, void** args, Stream s) {
  return PRISM_GPU_API(LaunchKernel)(fn, grid, block, args, 0, s);
}

// Prism status of a runtime error (Note [GPU error mapping] in prism_gpu_plugin.cpp): the
// vendor lists which of its errors are OUT_OF_MEMORY, UNAVAILABLE and DEVICE_LOST; anything
// else is INTERNAL.
template <size_t A, size_t B, size_t C>
prism_status error_status_from(Error e, const Error (&oom)[A], const Error (&unavailable)[B],
                               const Error (&lost)[C]) {
  for (Error x : oom)
    if (e == x) return PRISM_ERROR_OUT_OF_MEMORY;
  for (Error x : unavailable)
    if (e == x) return PRISM_ERROR_UNAVAILABLE;
  for (Error x : lost)
    if (e == x) return PRISM_ERROR_DEVICE_LOST;
  return PRISM_ERROR_INTERNAL;
}

// The name of the runtime's device-count call, for the no-device reason.
constexpr const char* kDeviceCountCall = PRISM_GPU_PREFIX "GetDeviceCount";

struct DeviceInfo {
  std::string name;       // "NVIDIA H100 80GB HBM3", "AMD Instinct MI210"
  std::string arch;       // "sm_90 (compute capability 9.0)", "gfx90a:sramecc+:xnack-"
  std::string stable_id;  // "<plugin>:GPU-<uuid>" (ROCm without a UUID: "rocm:pci-<domain:bus:device>")
  uint64_t total_memory = 0;
  int max_threads_per_block = 0;
  int max_grid[3] = {0, 0, 0};
};

// "<plugin>:GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from a 16-byte UUID.
inline std::string uuid_stable_id(const char* plugin, const void* bytes) {
  const unsigned char* u = static_cast<const unsigned char*>(bytes);
  char text[48];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return std::string(plugin) + ":GPU-" + text;
}

// The fields every vendor's device properties share.
template <typename Props>
void common_device_info(const Props& p, DeviceInfo* info) {
  info->name = p.name;
  info->total_memory = p.totalGlobalMem;
  info->max_threads_per_block = p.maxThreadsPerBlock;
  for (int i = 0; i < 3; ++i) info->max_grid[i] = p.maxGridSize[i];
}

// ---------------------------------------------------------------------------
// BLAS (cuda_blas.cpp: cuBLAS, loaded on first use; hip_blas.cpp: hipBLAS when
// CMake found it, else none)
// ---------------------------------------------------------------------------

// A column-major strided-batched GEMM C = op(A) op(B), as cublasGemmStridedBatchedEx and
// hipblasGemmStridedBatchedEx take it.
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

// Dtypes a BLAS library serves for bmm (f16/bf16 only through BLAS).
constexpr uint32_t kFullBlasDtypeMask = PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16) |
                                        PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);

// True when the BLAS library can be used; otherwise *why says why.
bool blas_available(std::string* why);
// Runs `g` on `stream` of the current device with the per-device handle
// *handle (created on first use). Returns nullptr on success.
prism_plugin_error* blas_gemm(const prism_host_table* host, void** handle, Stream stream, const BlasGemm& g);
void blas_destroy(void* handle);

}  // namespace prism::gpu

#endif  // PRISM_GPU_COMMON_RUNTIME_PRISM_GPU_SHIM_COMMON_HPP_
