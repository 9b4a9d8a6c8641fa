// prism_hip_cpu_kernels.hpp — what the kernel translation units need from Prism when the HIP CPU Runtime
// (ROCm/HIP-CPU, g++ + TBB) stands in for hipcc: type-erased kernel handles and the global isnan.
#ifndef PRISM_GPU_COMMON_PRISM_HIP_CPU_KERNELS_HPP_
#define PRISM_GPU_COMMON_PRISM_HIP_CPU_KERNELS_HPP_

// Note [HIP CPU launches]
// -----------------------
// On a GPU a kernel's host-side handle is an opaque `const void*` and
// hipLaunchKernel(fn, grid, block, args, shmem, stream) reads the kernel's
// parameters from `args` using the signature recorded in the code object.
// HIP-CPU has no code objects and no hipLaunchKernel: a launch
// (hipLaunchKernelGGL) must see the kernel's C++ type, and its
// hipModuleLaunchKernel with kernelParams throws "Unimplemented". So in the
// rocm-on-cpu flavour the handle stored in the instance tables
// (PRISM_GK_HANDLE, prism_gk_registry.h) points to a prism_hip_cpu_kernel
// whose `launch` was instantiated next to the kernel and knows its parameter
// types; it copies each *args[i] into the launch, as hipLaunchKernel does.
// prism_hip_cpu::hipLaunchKernel (backends/rocm/prism_hip_cpu_runtime.hpp)
// calls it, so the shared shim's launch() is unchanged. Kept apart from the
// runtime fixes: every kernel translation unit includes this file.

#include <hip/hip_runtime.h>

#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

// HIP's device library has a global isnan(float/double); HIP-CPU leaves it in
// std (the other PRISM_* math names of the dialect it does provide).
using std::isnan;

struct prism_hip_cpu_kernel {
  hipError_t (*launch)(dim3 grid, dim3 block, void** args, hipStream_t stream);
};

namespace prism_hip_cpu {

template <typename F, F K>
struct Kernel;

template <typename... A, void (*K)(A...)>
struct Kernel<void (*)(A...), K> {
  template <std::size_t... I>
  static void go(dim3 grid, dim3 block, void** args, hipStream_t s, std::index_sequence<I...>) {
    hipLaunchKernelGGL(K, grid, block, 0, s, *static_cast<std::decay_t<A>*>(args[I])...);
  }
  static hipError_t launch(dim3 grid, dim3 block, void** args, hipStream_t s) {
    go(grid, block, args, s, std::index_sequence_for<A...>{});
    return hipSuccess;
  }
  static constexpr prism_hip_cpu_kernel entry{&launch};
};

}  // namespace prism_hip_cpu

// The instance tables' handle of kernel `k` (Note [HIP CPU launches]).
#define PRISM_GK_HANDLE(k) (static_cast<const void*>(&::prism_hip_cpu::Kernel<decltype(&k), &k>::entry))

#endif  // PRISM_GPU_COMMON_PRISM_HIP_CPU_KERNELS_HPP_
