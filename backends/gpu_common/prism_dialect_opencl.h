/* prism_dialect_opencl.h — maps the portable kernel dialect of backends/gpu_common onto OpenCL C 1.2. */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_OPENCL_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_OPENCL_H_

/*
 * Note [Kernel dialect]
 * ---------------------
 * The kernel sources in this folder (prism_gk_*.h) are written once and
 * compiled three ways: embedded as OpenCL C by backends/opencl, included into
 * a .cu file by nvcc and into a .hip file by hipcc. They use only C99 control
 * flow and the names below, which each dialect header defines:
 *
 *   PRISM_KERNEL            qualifier of an entry point
 *   PRISM_FN                qualifier of a helper function
 *   PRISM_GLOBAL            address space of a buffer argument
 *   PRISM_SHARED            declares work-group (local / shared) memory in a kernel
 *   PRISM_GLOBAL_ID(d)      global index of the work-item in dimension d
 *   PRISM_LOCAL_ID(d)       index in the work-group
 *   PRISM_GROUP_ID(d)       work-group index
 *   PRISM_LOCAL_SIZE(d)     work-group size
 *   PRISM_BARRIER()         work-group barrier with local memory fence
 *   int32_t int64_t uint32_t uint64_t uint8_t   fixed-width integers
 *   PRISM_ISNAN(x) PRISM_FLOOR(x) ...           math on the compute type
 *
 * The element types are chosen by the host with preprocessor definitions
 * (PRISM_T, PRISM_C, ... see prism_gk_elementwise.h), so one source yields a
 * program per dtype. Random fills include plugins/sdk/prism_philox.h with
 * PRISM_PHILOX_FN set to PRISM_FN; the OpenCL plugin splices that header in at
 * build time (without its <stdint.h> include, which OpenCL C does not have).
 */

#define PRISM_GK_OPENCL 1

#ifdef PRISM_GK_ENABLE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

typedef char int8_t;
typedef uchar uint8_t;
typedef short int16_t;
typedef ushort uint16_t;
typedef int int32_t;
typedef uint uint32_t;
typedef long int64_t;
typedef ulong uint64_t;

#define PRISM_KERNEL __kernel
#define PRISM_FN static inline
#define PRISM_GLOBAL __global
#define PRISM_SHARED __local
#define PRISM_GLOBAL_ID(d) ((int64_t)get_global_id(d))
#define PRISM_LOCAL_ID(d) ((int64_t)get_local_id(d))
#define PRISM_GROUP_ID(d) ((int64_t)get_group_id(d))
#define PRISM_LOCAL_SIZE(d) ((int64_t)get_local_size(d))
#define PRISM_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)

/* PRISM_ISNAN(x) and the other math names: prism_dialect_math.h, spliced in after this file. */

#define PRISM_PHILOX_FN PRISM_FN

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_OPENCL_H_ */
