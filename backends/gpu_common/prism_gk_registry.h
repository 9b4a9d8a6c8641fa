/* prism_gk_registry.h — the table row through which CUDA/HIP host code finds an ahead-of-time kernel
 * instance (plain C). */
#ifndef PRISM_GPU_COMMON_PRISM_GK_REGISTRY_H_
#define PRISM_GPU_COMMON_PRISM_GK_REGISTRY_H_

/* Note [Ahead-of-time instances] in gen_instances.cmake: every generated
 * translation unit ends with a function prism_gk_instances_<group> returning
 * an array of these rows. `kind` is prism::gk::Kind (prism_gk_frontend.hpp),
 * `op` the PRISM_OP code, `dtype` the key dtype (prism_dtype), `dtype2` the
 * second dtype (copy: source; random: p tensor; reduce: work-group size;
 * else -1), `fn` the kernel's host-side handle for cudaLaunchKernel /
 * hipLaunchKernel. */

#include <stddef.h>
#include <stdint.h>

typedef struct prism_gk_kernel_entry {
  int32_t kind;
  int32_t op;
  int32_t dtype;
  int32_t dtype2;
  const void* fn;
} prism_gk_kernel_entry;

/* The `fn` of a kernel's row: its address, or a launcher where the dialect
 * needs one (prism_hip_cpu_kernels.hpp, Note [HIP CPU launches]). */
#if defined(__cplusplus) && !defined(PRISM_GK_HANDLE)
#define PRISM_GK_HANDLE(k) reinterpret_cast<const void*>(&k)
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* The instance groups written by gen_instances.cmake. */
const prism_gk_kernel_entry* prism_gk_instances_copy(size_t* count);
const prism_gk_kernel_entry* prism_gk_instances_unary(size_t* count);
const prism_gk_kernel_entry* prism_gk_instances_binary(size_t* count);
const prism_gk_kernel_entry* prism_gk_instances_reduce(size_t* count);
const prism_gk_kernel_entry* prism_gk_instances_random(size_t* count);
const prism_gk_kernel_entry* prism_gk_instances_gemm(size_t* count);
#ifdef __cplusplus
}
#endif

#endif /* PRISM_GPU_COMMON_PRISM_GK_REGISTRY_H_ */
