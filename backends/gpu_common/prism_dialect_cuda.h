/* prism_dialect_cuda.h — maps the portable kernel dialect of backends/gpu_common onto CUDA C++ (nvcc). */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_CUDA_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_CUDA_H_

/* The names are those of prism_dialect_cxx.h (Note [Kernel dialect] in
 * prism_dialect_opencl.h). Compile random kernels with --fmad=false
 * (Note [Philox reference]). */

#define PRISM_GK_CUDA 1

#include "prism_dialect_cxx.h"

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_CUDA_H_ */
