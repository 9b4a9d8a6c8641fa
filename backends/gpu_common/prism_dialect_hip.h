/* prism_dialect_hip.h — maps the portable kernel dialect of backends/gpu_common onto HIP C++ (hipcc, or g++
 * with the HIP CPU Runtime in the rocm-on-cpu flavour). */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_

/* The names are those of prism_dialect_cxx.h (Note [Kernel dialect] in
 * prism_dialect_opencl.h). Compile random kernels with -ffp-contract=off
 * (Note [Philox reference]). */

#include <hip/hip_runtime.h>
#ifdef PRISM_HIP_CPU /* rocm-on-cpu: HIP CPU Runtime and g++ (Note [HIP CPU launches]) */
#include "prism_hip_cpu_kernels.hpp"
#endif

#define PRISM_GK_HIP 1

#include "prism_dialect_cxx.h"

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_HIP_H_ */
