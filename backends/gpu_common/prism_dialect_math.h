/* prism_dialect_math.h — the math names of the portable kernel dialect (Note [Kernel dialect]), the same in
 * OpenCL C, CUDA and HIP: each maps to the overloaded (C++) or generic (OpenCL C) function of the compute
 * type. */
#ifndef PRISM_GPU_COMMON_PRISM_DIALECT_MATH_H_
#define PRISM_GPU_COMMON_PRISM_DIALECT_MATH_H_

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

/*
 * Note [Storage-only halves]
 * --------------------------
 * Kernels read and write their PRISM_T buffers only through PRISM_LOAD(p, i)
 * (element i as the compute type PRISM_C) and PRISM_STORE(p, i, v) (v
 * rounded to PRISM_T); copy reads its source through PRISM_LOAD_I.
 * Everywhere but one case these are plain indexing and casts. The OpenCL
 * plugin also builds f16 and bf16 programs on devices without cl_khr_fp16:
 * the host then passes PRISM_HALF (PRISM_HALF_I for a copy's source) = 1 for
 * f16 or 2 for bf16, with PRISM_T ushort (the bits) and PRISM_C float, so
 * every op computes in f32 and only storage is 16-bit: f16 through
 * vload_half / vstore_half_rte (no half arithmetic, which is what the
 * extension would add; NaN written by hand, as PoCL's vstore_half turns
 * every NaN into 0x7FFF), bf16 through its bit pattern, widened exactly and
 * narrowed with round-to-nearest-even, NaN kept quiet with its sign: the
 * rounding of prism_sdk_f32_to_bf16, so results are bit-exact with the CPU
 * plugin's f32-computed halves.
 */
#ifndef PRISM_HALF
#define PRISM_HALF 0
#endif
#ifndef PRISM_HALF_I
#define PRISM_HALF_I 0
#endif
#if defined(PRISM_GK_OPENCL) && (PRISM_HALF != 0 || PRISM_HALF_I != 0)
PRISM_FN float prism_gk_bf16_load(ushort b) {
  return as_float((uint)b << 16);
}
PRISM_FN ushort prism_gk_bf16_round(float f) {
  uint x = as_uint(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((x >> 16) | 0x40u); /* quiet NaN */
  x += 0x7FFFu + ((x >> 16) & 1u);
  return (ushort)(x >> 16);
}
/* f16 store: vstore_half_rte, except NaN, whose bits some implementations
 * canonicalise: quiet, sign and top payload bits kept, as prism_sdk_f32_to_f16. */
PRISM_FN void prism_gk_f16_store(PRISM_GLOBAL ushort* p, size_t i, float v) {
  const uint x = as_uint(v);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
    p[i] = (ushort)(((x >> 16) & 0x8000u) | 0x7E00u | ((x >> 13) & 0x3FFu));
  } else {
    vstore_half_rte(v, i, (PRISM_GLOBAL half*)p);
  }
}
#define PRISM_GK_LOAD_H1(p, i) vload_half((size_t)(i), (PRISM_GLOBAL const half*)(p))
#define PRISM_GK_LOAD_H2(p, i) prism_gk_bf16_load((p)[i])
#endif
#if PRISM_HALF == 1
#define PRISM_LOAD(p, i) PRISM_GK_LOAD_H1(p, i)
#define PRISM_STORE(p, i, v) prism_gk_f16_store((p), (size_t)(i), (float)(v))
#elif PRISM_HALF == 2
#define PRISM_LOAD(p, i) PRISM_GK_LOAD_H2(p, i)
#define PRISM_STORE(p, i, v) ((p)[i] = prism_gk_bf16_round((float)(v)))
#else
#define PRISM_LOAD(p, i) ((PRISM_C)(p)[i])
#define PRISM_STORE(p, i, v) ((p)[i] = (PRISM_T)(v))
#endif
#if PRISM_HALF_I == 1
#define PRISM_LOAD_I(p, i) PRISM_GK_LOAD_H1(p, i)
#elif PRISM_HALF_I == 2
#define PRISM_LOAD_I(p, i) PRISM_GK_LOAD_H2(p, i)
#else
#define PRISM_LOAD_I(p, i) ((p)[i])
#endif

#endif /* PRISM_GPU_COMMON_PRISM_DIALECT_MATH_H_ */
