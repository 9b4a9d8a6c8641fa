// prism_gpu_shim.hpp (CUDA) — the CUDA names of the shared GPU runtime shim, plus what CUDA alone has.
#ifndef PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_
#define PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_

// The wrappers themselves are in backends/gpu_common/runtime/prism_gpu_shim_common.hpp
// (Note [GPU runtime shim]); this file maps their names onto the CUDA runtime
// and keeps the CUDA error table, device properties and versions.

#include <cuda_runtime_api.h>

#include <string>

#define PRISM_GPU_API(name) cuda##name
#define PRISM_GPU_PREFIX "cuda"
#define PRISM_GPU_HOST_MALLOC(p, bytes) cudaHostAlloc(p, bytes, cudaHostAllocPortable)
#define PRISM_GPU_HOST_FREE(p) cudaFreeHost(p)
#include "runtime/prism_gpu_shim_common.hpp"

namespace prism::gpu {

constexpr const char* kPluginName = "cuda";   // plugin and device type: "cuda:N"
constexpr const char* kRuntimeName = "CUDA";  // in messages
constexpr const char* kVendor = "NVIDIA";

// Most work-items one launch can have in x (gridDim.x < 2^31, blockDim.x <= 1024).
constexpr int64_t kMaxThreadsX = int64_t{2147483647} * 1024;

// Dtypes the BLAS path registers for bmm: cuBLAS serves all four.
constexpr uint32_t kBlasDtypeMask = kFullBlasDtypeMask;

// Prism status of a runtime error (Note [GPU error mapping] in prism_gpu_plugin.cpp).
constexpr Error kOutOfMemoryErrors[] = {cudaErrorMemoryAllocation};
constexpr Error kUnavailableErrors[] = {cudaErrorNoDevice,
                                        cudaErrorInsufficientDriver,
                                        cudaErrorCallRequiresNewerDriver,
                                        cudaErrorSystemDriverMismatch,
                                        cudaErrorCompatNotSupportedOnDevice,
                                        cudaErrorDevicesUnavailable,
                                        cudaErrorInitializationError,
                                        cudaErrorNoKernelImageForDevice,
                                        cudaErrorUnsupportedPtxVersion,
                                        cudaErrorSystemNotReady};
constexpr Error kDeviceLostErrors[] = {cudaErrorLaunchFailure,       cudaErrorIllegalAddress,
                                       cudaErrorLaunchTimeout,       cudaErrorHardwareStackError,
                                       cudaErrorIllegalInstruction,  cudaErrorMisalignedAddress,
                                       cudaErrorInvalidAddressSpace, cudaErrorInvalidPc,
                                       cudaErrorECCUncorrectable,    cudaErrorAssert,
                                       cudaErrorCudartUnloading};
inline prism_status error_status(Error e) {
  return error_status_from(e, kOutOfMemoryErrors, kUnavailableErrors, kDeviceLostErrors);
}

inline Error device_info(int device, DeviceInfo* info) {
  cudaDeviceProp p{};
  const Error e = cudaGetDeviceProperties(&p, device);
  if (e != kSuccess) return e;
  common_device_info(p, info);
  const std::string cc = std::to_string(p.major) + "." + std::to_string(p.minor);
  info->arch = "sm_" + std::to_string(p.major) + std::to_string(p.minor) + " (compute capability " + cc + ")";
  info->stable_id = uuid_stable_id(kPluginName, p.uuid.bytes);
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

}  // namespace prism::gpu

#endif  // PRISM_BACKENDS_CUDA_PRISM_GPU_SHIM_HPP_
