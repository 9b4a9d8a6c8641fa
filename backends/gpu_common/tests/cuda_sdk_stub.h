/* cuda_sdk_stub.h — the few CUDA SDK declarations prism_dialect_cuda.h relies on, so clang can check the
 * shared kernels without an SDK. */
#ifndef PRISM_GPU_COMMON_TESTS_CUDA_SDK_STUB_H_
#define PRISM_GPU_COMMON_TESTS_CUDA_SDK_STUB_H_

/* Note [CUDA syntax check]: CI machines have no CUDA toolkit, so the CUDA
 * instantiation of the shared kernels is checked with clang's CUDA front end
 * (-nocudainc -nocudalib --cuda-device-only -fsyntax-only). This header
 * stands in for cuda_runtime.h: qualifiers, builtin indices and the math
 * overloads the dialect names. It checks that the sources compile as CUDA
 * C++; it does not run them. */

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#include <__clang_cuda_builtin_vars.h>

__device__ void __syncthreads();
#define PRISM_STUB_MATH1(f)  \
  __device__ float f(float); \
  __device__ double f(double);
#define PRISM_STUB_MATH2(f)         \
  __device__ float f(float, float); \
  __device__ double f(double, double);
PRISM_STUB_MATH1(floor)
PRISM_STUB_MATH1(ceil)
PRISM_STUB_MATH1(trunc)
PRISM_STUB_MATH1(rint)
PRISM_STUB_MATH1(exp)
PRISM_STUB_MATH1(log)
PRISM_STUB_MATH1(log1p)
PRISM_STUB_MATH1(expm1)
PRISM_STUB_MATH1(sqrt)
PRISM_STUB_MATH1(sin)
PRISM_STUB_MATH1(cos)
PRISM_STUB_MATH1(tanh)
PRISM_STUB_MATH1(erf)
PRISM_STUB_MATH2(fmod)
PRISM_STUB_MATH2(copysign)
PRISM_STUB_MATH2(pow)
__device__ bool isnan(float);
__device__ bool isnan(double);

#endif /* PRISM_GPU_COMMON_TESTS_CUDA_SDK_STUB_H_ */
