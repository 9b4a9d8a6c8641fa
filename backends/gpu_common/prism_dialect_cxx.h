/* prism_dialect_cxx.h — the portable kernel dialect of backends/gpu_common in the CUDA-style C++ that nvcc,
 * hipcc and the HIP CPU Runtime share (included by prism_dialect_cuda.h and prism_dialect_hip.h). */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_CXX_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_CXX_H_

/* See Note [Kernel dialect] in prism_dialect_opencl.h for the names defined
 * here. HIP mirrors CUDA's kernel language (blockIdx, __shared__,
 * __syncthreads, the <cmath> overloads), so one mapping serves both; the
 * vendor headers add only their runtime header and PRISM_GK_<vendor>. */

#include <stdint.h>

#define PRISM_KERNEL extern "C" __global__
#define PRISM_FN static __device__ __forceinline__
#define PRISM_GLOBAL
#define PRISM_SHARED __shared__
#define PRISM_GLOBAL_ID(d)                                             \
  ((int64_t)(d == 0   ? blockIdx.x * (int64_t)blockDim.x + threadIdx.x \
             : d == 1 ? blockIdx.y * (int64_t)blockDim.y + threadIdx.y \
                      : blockIdx.z * (int64_t)blockDim.z + threadIdx.z))
#define PRISM_LOCAL_ID(d) ((int64_t)(d == 0 ? threadIdx.x : d == 1 ? threadIdx.y : threadIdx.z))
#define PRISM_GROUP_ID(d) ((int64_t)(d == 0 ? blockIdx.x : d == 1 ? blockIdx.y : blockIdx.z))
#define PRISM_LOCAL_SIZE(d) ((int64_t)(d == 0 ? blockDim.x : d == 1 ? blockDim.y : blockDim.z))
#define PRISM_BARRIER() __syncthreads()

#include "prism_dialect_math.h"

#define PRISM_PHILOX_FN static __device__ __forceinline__

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_CXX_H_ */
