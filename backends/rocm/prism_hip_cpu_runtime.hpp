// prism_hip_cpu_runtime.hpp — the HIP runtime names the rocm-on-cpu flavour maps the shared GPU shim onto:
// HIP CPU Runtime's own calls, and Prism's fixes where it lacks one or behaves unlike ROCm.
#ifndef PRISM_BACKENDS_ROCM_PRISM_HIP_CPU_RUNTIME_HPP_
#define PRISM_BACKENDS_ROCM_PRISM_HIP_CPU_RUNTIME_HPP_

// Note [HIP CPU runtime fixes]
// ----------------------------
// In the rocm-on-cpu flavour (PRISM_HIP_CPU) the shim's PRISM_GPU_API(Name)
// is ::prism_hip_cpu::hip##Name: this namespace re-exports HIP-CPU's
// (ROCm/HIP-CPU e112c93) calls where they match ROCm and defines the rest,
// so the shared wrappers run unchanged. HIP-CPU itself is never edited.
//  - hipLaunchKernel: missing; calls the launcher stored as the kernel's
//    handle (Note [HIP CPU launches]).
//  - hipMalloc / hipHostMalloc are std::malloc: 16-byte aligned (plugin.h
//    promises 64; ROCm gives 256, pinned memory a page), a failed
//    allocation returns hipSuccess with NULL, and freed blocks stay in the C
//    heap (conformance abi alloc_free_churn grew 76-92 MiB). Here device
//    and pinned blocks are whole pages from mmap, the length kept in the
//    page in front of the block; a free waits for the device first, as
//    hipFree does, then unmaps.
//  - hipEventQuery: missing; hipSuccess once the work before the record has
//    run (or the event was never recorded, as on ROCm), else
//    hipErrorNotReady.
//  - hipStreamWaitEvent queues a task that reads the hipEvent_t when the
//    stream reaches it, so a hipEventDestroy right after the call (legal on
//    ROCm; conformance abi event_slots does it) is a use after free, and a
//    re-record in between makes it wait for the newer record, possibly
//    queued behind it (seen: a wedged runtime in 3 of 21 runs). Here the
//    host waits for the event instead: stronger ordering, and nothing
//    queued holds the event.
//  - hipEventSynchronize of a never-recorded event: hipSuccess on ROCm,
//    hipErrorInvalidHandle on HIP-CPU; guarded.
//  - hipMemcpyPeerAsync: missing; one device in one address space, so a
//    device-to-device hipMemcpyAsync.

#include <hip/hip_runtime.h>
#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>

#include "prism_hip_cpu_kernels.hpp"

namespace prism_hip_cpu {

// HIP-CPU's own calls, where they behave as on ROCm.
using ::hipDeviceCanAccessPeer;
using ::hipDeviceEnablePeerAccess;
using ::hipDeviceSynchronize;
using ::hipDriverGetVersion;
using ::hipEventCreate;
using ::hipEventCreateWithFlags;
using ::hipEventDestroy;
using ::hipEventElapsedTime;
using ::hipEventRecord;
using ::hipGetDeviceCount;
using ::hipGetDeviceProperties;
using ::hipGetErrorName;
using ::hipGetErrorString;
using ::hipGetLastError;
using ::hipMemcpyAsync;
using ::hipMemGetInfo;
using ::hipRuntimeGetVersion;
using ::hipSetDevice;
using ::hipStreamCreateWithFlags;
using ::hipStreamDestroy;
using ::hipStreamSynchronize;
// Types and constants keep their HIP names.
constexpr ::hipError_t hipSuccess = ::hipSuccess;
constexpr ::hipError_t hipErrorNotReady = ::hipErrorNotReady;
constexpr ::hipError_t hipErrorPeerAccessAlreadyEnabled = ::hipErrorPeerAccessAlreadyEnabled;
constexpr auto hipMemcpyHostToDevice = ::hipMemcpyHostToDevice;
constexpr auto hipMemcpyDeviceToHost = ::hipMemcpyDeviceToHost;
constexpr auto hipStreamNonBlocking = ::hipStreamNonBlocking;
constexpr auto hipEventDisableTiming = ::hipEventDisableTiming;
constexpr auto hipHostMallocPortable = ::hipHostMallocPortable;
using hipError_t = ::hipError_t;
using hipStream_t = ::hipStream_t;
using hipEvent_t = ::hipEvent_t;

// Page-aligned blocks from mmap (Note [HIP CPU runtime fixes]).
inline hipError_t block_alloc(void** p, size_t bytes) {
  *p = nullptr;
  const size_t page = 4096;
  if (bytes > SIZE_MAX - 2 * page) return ::hipErrorOutOfMemory;
  const size_t len = (bytes + 2 * page - 1) / page * page;
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return ::hipErrorOutOfMemory;
  *static_cast<size_t*>(base) = len;
  *p = static_cast<char*>(base) + page;
  return ::hipSuccess;
}
inline hipError_t block_free(void* p) {
  if (p == nullptr) return ::hipSuccess;
  const hipError_t e = ::hipDeviceSynchronize();
  char* base = static_cast<char*>(p) - 4096;
  munmap(base, *reinterpret_cast<size_t*>(base));
  return e;
}
inline hipError_t hipMalloc(void** p, size_t bytes) {
  return block_alloc(p, bytes);
}
inline hipError_t hipFree(void* p) {
  return block_free(p);
}
inline hipError_t hipHostMalloc(void** p, size_t bytes, unsigned /*flags*/) {
  return block_alloc(p, bytes);
}
inline hipError_t hipHostFree(void* p) {
  return block_free(p);
}

inline hipError_t hipMemcpyPeerAsync(void* dst, int /*dst_device*/, const void* src, int /*src_device*/,
                                     size_t bytes, hipStream_t s) {
  return ::hipMemcpyAsync(dst, src, bytes, ::hipMemcpyDeviceToDevice, s);
}

inline hipError_t hipEventQuery(hipEvent_t e) {
  if (e == nullptr) return ::hipErrorInvalidHandle;
  const auto& done = is_done(*e);
  if (!done.valid()) return ::hipSuccess;
  return done.wait_for(std::chrono::seconds(0)) == std::future_status::ready ? ::hipSuccess
                                                                             : ::hipErrorNotReady;
}
inline hipError_t hipEventSynchronize(hipEvent_t e) {
  if (e != nullptr && !is_done(*e).valid()) return ::hipSuccess;  // never recorded
  return ::hipEventSynchronize(e);
}
inline hipError_t hipStreamWaitEvent(hipStream_t /*s*/, hipEvent_t e, unsigned /*flags*/) {
  if (e == nullptr) return ::hipErrorInvalidHandle;
  return hipEventSynchronize(e);
}

inline hipError_t hipLaunchKernel(const void* fn, dim3 grid, dim3 block, void** args, size_t /*shmem*/,
                                  hipStream_t s) {
  return static_cast<const prism_hip_cpu_kernel*>(fn)->launch(grid, block, args, s);
}

}  // namespace prism_hip_cpu

#endif  // PRISM_BACKENDS_ROCM_PRISM_HIP_CPU_RUNTIME_HPP_
