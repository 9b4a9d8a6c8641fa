/* prism_dialect_hip.h — maps the portable kernel dialect of backends/gpu_common onto HIP C++ (hipcc). */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_

/* See Note [Kernel dialect] in prism_dialect_opencl.h for the names defined
 * here. Math functions are the HIP overloads of <cmath>, which select the
 * float or double version from the compute type. Compile random kernels with
 * -ffp-contract=off (Note [Philox reference]). */

#include <hip/hip_runtime.h>
#include <stdint.h>

#define PRISM_GK_HIP 1

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

#define PRISM_ISNAN(x) isnan(x)
#define PRISM_FLOOR(x) floor(x)
#define PRISM_CEIL(x) ceil(x)
#define PRISM_TRUNC(x) trunc(x)
#define PRISM_RINT(x) rint(x)
#define PRISM_FMOD(a, b) fmod(a, b)
#define PRISM_COPYSIGN(a, b) copysign(a, b)
#define PRISM_POW(a, b) pow(a, b)
#define PRISM_EXP(x) exp(x)
#define PRISM_LOG(x) log(x)
#define PRISM_LOG1P(x) log1p(x)
#define PRISM_EXPM1(x) expm1(x)
#define PRISM_SQRT(x) sqrt(x)
#define PRISM_SIN(x) sin(x)
#define PRISM_COS(x) cos(x)
#define PRISM_TANH(x) tanh(x)
#define PRISM_ERF(x) erf(x)

#define PRISM_PHILOX_FN static __device__ __forceinline__

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_ */
