/* prism_gk_random.h — portable Philox random fills (uniform, normal, randint, bernoulli), bit-identical to
 * the CPU plugin. */

/*
 * Note [Random kernels]
 * ---------------------
 * Requires prism_philox.h to be included first (the OpenCL plugin splices it
 * in; CUDA/HIP include it). Element i is the row-major linear index in the
 * output's sizes (docs/ops.md, Note [Philox streams]); the host never
 * reorders dims of a random fill, so the work-item index is that i.
 * PRISM_OP: 0 uniform, 1 normal, 2 randint, 3 bernoulli with scalar p,
 * 4 bernoulli with a p tensor (operand 1, element type PRISM_TP).
 * Arguments not used by an op are ignored. uniform takes lo and span already
 * rounded to PRISM_C by the host (exact in a double), so lo + span * u is
 * the same expression in the same type as on the CPU; FP contraction is off
 * (Note [Philox reference]), so it is not fused into an FMA.
 * Needs double precision on the device (normal and bernoulli work in f64).
 */

#ifndef PRISM_GK_NAME
#define PRISM_GK_NAME(n) n
#endif

#ifndef PRISM_TP
#define PRISM_TP PRISM_T
#endif

/* A double rounded once to a storage-only half (Note [Storage-only halves]):
 * round to odd into f32, whose extra bits make the half's round-to-nearest-
 * even narrowing exact, as the CPU plugin does. Other dtypes: unchanged. */
#if PRISM_HALF != 0
PRISM_FN float prism_gk_odd_f32(double v) {
  float f = (float)v;
  if ((double)f != v && f == f && !isinf(f)) {
    uint32_t bits = as_uint(f);
    if (fabs((double)f) > fabs(v)) --bits; /* truncate toward zero */
    f = as_float(bits | 1u);               /* sticky bit */
  }
  return f;
}
#define PRISM_GK_FROM_F64(v) prism_gk_odd_f32(v)
#else
#define PRISM_GK_FROM_F64(v) (v)
#endif

PRISM_KERNEL void PRISM_GK_NAME(prism_random)(PRISM_GLOBAL PRISM_T* dst, PRISM_GLOBAL const PRISM_TP* p,
                                              const PRISM_GK_ITER it, const uint64_t seed,
                                              const uint64_t offset, const double d0, const double d1,
                                              const int64_t low, const uint64_t range) {
  const int64_t i = PRISM_GLOBAL_ID(0);
  prism_gk_offs off;
  prism_philox4x32 r;
  if (i >= it.numel) return;
  off = prism_gk_offsets(&it, i);
  r = prism_philox_element(seed, offset, (uint64_t)i);
#if PRISM_OP == 0
#if PRISM_IS_F64
  PRISM_STORE(dst, off.o0, ((PRISM_C)d0 + (PRISM_C)d1 * prism_philox_uniform_f64(r.v[0], r.v[1])));
#else
  PRISM_STORE(dst, off.o0, ((PRISM_C)d0 + (PRISM_C)d1 * prism_philox_uniform_f32(r.v[0])));
#endif
#elif PRISM_OP == 1
  PRISM_STORE(dst, off.o0, PRISM_GK_FROM_F64(d0 + d1 * prism_philox_normal_f64(r)));
#elif PRISM_OP == 2
  PRISM_STORE(dst, off.o0, prism_philox_randint(r, low, range));
#elif PRISM_OP == 3
  PRISM_STORE(dst, off.o0, (prism_philox_bernoulli(r, d0) ? 1 : 0));
#elif PRISM_OP == 4
  PRISM_STORE(dst, off.o0, (prism_philox_bernoulli(r, (double)p[off.o1]) ? 1 : 0));
#else
#error "random: unknown PRISM_OP"
#endif
}
