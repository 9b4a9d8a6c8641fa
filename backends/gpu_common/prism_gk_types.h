/* prism_gk_types.h — argument structs shared by the host code and the portable GPU kernels (plain C, no
 * pointers). */
#ifndef PRISM_GPU_COMMON_PRISM_GK_TYPES_H_
#define PRISM_GPU_COMMON_PRISM_GK_TYPES_H_

/*
 * Note [Kernel argument structs]
 * ------------------------------
 * Shapes reach a kernel as one struct passed by value: it holds only int64_t
 * and int32_t fields, ordered so that the host compiler (x86-64, AArch64) and
 * every device compiler lay it out identically (8-byte fields first, the
 * int32_t pair last, total a multiple of 8). Strides and offsets are in
 * elements; the host converts byte offsets (and refuses offsets that are not
 * a whole number of elements). The host coalesces dimensions before filling a
 * struct; when every operand ends up dense it passes the small
 * prism_gk_dense instead and builds the kernel with PRISM_GK_DENSE.
 * Each struct stays below the 1024-byte kernel-argument minimum of OpenCL
 * full-profile devices, together with the buffer arguments.
 */

#if !defined(PRISM_GK_OPENCL)
#include <stdint.h>
#endif

#define PRISM_GK_MAX_DIMS 16
#define PRISM_GK_MAX_OPERANDS 4

/* Elementwise iteration: operand 0 is the output. */
typedef struct prism_gk_iter {
  int64_t sizes[PRISM_GK_MAX_DIMS];
  int64_t strides[PRISM_GK_MAX_OPERANDS][PRISM_GK_MAX_DIMS];
  int64_t offsets[PRISM_GK_MAX_OPERANDS];
  int64_t numel;
  int32_t ndim;
  int32_t dense; /* 1: every operand is dense with unit stride (ndim == 1) */
} prism_gk_iter;

/* Elementwise iteration when every operand is dense (prism_gk_iter.dense):
 * the kernels compiled with PRISM_GK_DENSE take this 40-byte struct instead,
 * which PoCL copies into each command faster than the full one (about
 * 0.5 us per launch on the CI machine). */
typedef struct prism_gk_dense {
  int64_t offsets[PRISM_GK_MAX_OPERANDS];
  int64_t numel;
} prism_gk_dense;

/* Reduction in keepdim layout: `out` dims index the output (and the input at
 * the same positions), `red` dims are the reduced ones. */
typedef struct prism_gk_reduce {
  int64_t out_sizes[PRISM_GK_MAX_DIMS];
  int64_t out_in_strides[PRISM_GK_MAX_DIMS];
  int64_t out_out_strides[PRISM_GK_MAX_DIMS];
  int64_t red_sizes[PRISM_GK_MAX_DIMS];
  int64_t red_strides[PRISM_GK_MAX_DIMS];
  int64_t in_offset;
  int64_t out_offset;
  int64_t n_out;
  int64_t n_red;
  int32_t out_ndim;
  int32_t red_ndim;
} prism_gk_reduce;

/* Batched matrix product out(b, m, n) = sum_k a(b, m, k) * b(b, k, n). */
typedef struct prism_gk_gemm {
  int64_t a_strides[3]; /* batch, m, k */
  int64_t b_strides[3]; /* batch, k, n */
  int64_t o_strides[3]; /* batch, m, n */
  int64_t a_offset;
  int64_t b_offset;
  int64_t o_offset;
  int64_t batch;
  int64_t m;
  int64_t n;
  int64_t k;
} prism_gk_gemm;

#endif /* PRISM_GPU_COMMON_PRISM_GK_TYPES_H_ */
