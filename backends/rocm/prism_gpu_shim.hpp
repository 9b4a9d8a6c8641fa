// prism_gpu_shim.hpp (HIP) — the HIP names of the shared GPU runtime shim, plus what HIP alone has.
#ifndef PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_
#define PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_

// The wrappers themselves are in backends/gpu_common/runtime/prism_gpu_shim_common.hpp
// (Note [GPU runtime shim]); this file maps their names onto the HIP runtime
// and keeps the HIP error table, device properties and versions. Host code
// includes hip_runtime_api.h with __HIP_PLATFORM_AMD__ defined, so it
// compiles with the ordinary C++ compiler; only the kernel instances go
// through hipcc. With PRISM_HIP_CPU (the rocm-on-cpu flavour) the HIP CPU
// Runtime stands in for libamdhip64 and g++ compiles the kernels too; the
// names then go through Prism's fixes (Note [HIP CPU runtime fixes]).

#include <string>

#ifdef PRISM_HIP_CPU
#include "prism_hip_cpu_runtime.hpp"
#define PRISM_GPU_API(name) ::prism_hip_cpu::hip##name
#else
#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#include <hip/hip_runtime_api.h>
#define PRISM_GPU_API(name) hip##name
#endif
#define PRISM_GPU_PREFIX "hip"
#define PRISM_GPU_HOST_MALLOC(p, bytes) PRISM_GPU_API(HostMalloc)(p, bytes, hipHostMallocPortable)
#define PRISM_GPU_HOST_FREE(p) PRISM_GPU_API(HostFree)(p)
#include "runtime/prism_gpu_shim_common.hpp"

namespace prism::gpu {

constexpr const char* kPluginName = "rocm";  // plugin and device type: "rocm:N"
constexpr const char* kRuntimeName = "HIP";  // in messages
constexpr const char* kVendor = "AMD";

// Most work-items one launch can have in x (gridDim.x * blockDim.x < 2^32 on HIP).
constexpr int64_t kMaxThreadsX = int64_t{4294967295};

// Dtypes the BLAS path registers for bmm (Note [ROCm GEMM] in hip_blas.cpp).
#ifdef PRISM_ROCM_HAVE_HIPBLAS
constexpr uint32_t kBlasDtypeMask = kFullBlasDtypeMask;
#else
constexpr uint32_t kBlasDtypeMask = 0;
#endif

// Prism status of a runtime error (Note [GPU error mapping] in prism_gpu_plugin.cpp).
constexpr Error kOutOfMemoryErrors[] = {hipErrorOutOfMemory};
constexpr Error kUnavailableErrors[] = {
    hipErrorNoDevice,       hipErrorInsufficientDriver, hipErrorInitializationError,
    hipErrorNoBinaryForGpu, hipErrorInvalidImage,       hipErrorSharedObjectInitFailed};
constexpr Error kDeviceLostErrors[] = {hipErrorLaunchFailure, hipErrorIllegalAddress, hipErrorLaunchTimeOut,
                                       hipErrorECCNotCorrectable, hipErrorAssert};
inline prism_status error_status(Error e) {
  return error_status_from(e, kOutOfMemoryErrors, kUnavailableErrors, kDeviceLostErrors);
}

inline Error device_info(int device, DeviceInfo* info) {
  hipDeviceProp_t p{};
  const Error e = PRISM_GPU_API(GetDeviceProperties)(&p, device);
  if (e != kSuccess) return e;
  common_device_info(p, info);
#ifdef PRISM_HIP_CPU  // HIP-CPU has no gcnArchName, UUID or PCI address
  info->arch = "hip-cpu";
  info->stable_id = "rocm:cpu-" + std::to_string(device);
#else
  info->arch = p.gcnArchName;
  hipDevice_t handle = 0;
  hipUUID uuid{};
  if (hipDeviceGet(&handle, device) == kSuccess && hipDeviceGetUuid(&uuid, handle) == kSuccess) {
    info->stable_id = uuid_stable_id(kPluginName, uuid.bytes);
  } else {
    char text[48];
    std::snprintf(text, sizeof text, "rocm:pci-%04x:%02x:%02x", static_cast<unsigned>(p.pciDomainID),
                  static_cast<unsigned>(p.pciBusID), static_cast<unsigned>(p.pciDeviceID));
    info->stable_id = text;
  }
#endif
  return kSuccess;
}

// "HIP runtime 50221153, driver 50221153" (HIP encodes versions as one number).
inline std::string versions() {
  int rt = 0, drv = 0;
  (void)PRISM_GPU_API(RuntimeGetVersion)(&rt);
  (void)PRISM_GPU_API(DriverGetVersion)(&drv);
  return "HIP runtime " + std::to_string(rt) + ", driver " + std::to_string(drv);
}

}  // namespace prism::gpu

#endif  // PRISM_BACKENDS_ROCM_PRISM_GPU_SHIM_HPP_
