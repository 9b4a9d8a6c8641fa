/* prism_philox.h — header-only C99 Philox4x32-10 and the bit-exact random transforms of docs/ops.md. */
#ifndef PRISM_PLUGINS_SDK_PRISM_PHILOX_H_
#define PRISM_PLUGINS_SDK_PRISM_PHILOX_H_

/*
 * Note [Philox reference]
 * -----------------------
 * This header is the reference for docs/ops.md "Note [Philox streams]": every
 * device computes random tensors with exactly these functions, so one seed
 * gives the same bits everywhere. To keep that promise:
 *
 * - Only <stdint.h> and + - * / and sqrt (IEEE correctly rounded on every
 *   target) are used. log and cos are computed by the polynomial routines
 *   below, not libm, whose results differ between vendors.
 * - No fused multiply-add: `#pragma STDC FP_CONTRACT OFF` is set here, and a
 *   translation unit that includes this header should also be compiled with
 *   -ffp-contract=off (GCC ignores the pragma; nvcc needs --fmad=false;
 *   OpenCL C honours the pragma).
 * - Doubles are reinterpreted through a union (valid C99, OpenCL C and CUDA).
 *
 * Element i of a random tensor uses
 *   philox4x32_10(counter = {i_lo, i_hi, offset_lo, offset_hi},
 *                 key = {seed_lo, seed_hi}).
 *
 * PRISM_PHILOX_FN may be predefined (e.g. `__device__ static inline`) before
 * including the header; it defaults to `static inline`.
 */

#include <stdint.h>

#ifndef PRISM_PHILOX_FN
#define PRISM_PHILOX_FN static inline
#endif

#if defined(__STDC_VERSION__) && !defined(__GNUC__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===========================================================================
 * Philox4x32-10 (Salmon et al., SC'11; constants from Random123)
 * ======================================================================== */

typedef struct prism_philox4x32 {
  uint32_t v[4];
} prism_philox4x32;

#define PRISM_PHILOX_M0 0xD2511F53u
#define PRISM_PHILOX_M1 0xCD9E8D57u
#define PRISM_PHILOX_W0 0x9E3779B9u
#define PRISM_PHILOX_W1 0xBB67AE85u

PRISM_PHILOX_FN prism_philox4x32 prism_philox4x32_10(prism_philox4x32 ctr, uint32_t k0, uint32_t k1) {
  int round;
  for (round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)PRISM_PHILOX_M0 * ctr.v[0];
    uint64_t p1 = (uint64_t)PRISM_PHILOX_M1 * ctr.v[2];
    prism_philox4x32 next;
    next.v[0] = (uint32_t)(p1 >> 32) ^ ctr.v[1] ^ k0;
    next.v[1] = (uint32_t)p1;
    next.v[2] = (uint32_t)(p0 >> 32) ^ ctr.v[3] ^ k1;
    next.v[3] = (uint32_t)p0;
    ctr = next;
    k0 += PRISM_PHILOX_W0;
    k1 += PRISM_PHILOX_W1;
  }
  return ctr;
}

/* The four words for element `index` of the stream (seed, offset). */
PRISM_PHILOX_FN prism_philox4x32 prism_philox_element(uint64_t seed, uint64_t offset, uint64_t index) {
  prism_philox4x32 ctr;
  ctr.v[0] = (uint32_t)index;
  ctr.v[1] = (uint32_t)(index >> 32);
  ctr.v[2] = (uint32_t)offset;
  ctr.v[3] = (uint32_t)(offset >> 32);
  return prism_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* ===========================================================================
 * Uniform transforms
 * ======================================================================== */

/* [0, 1) with 24 random bits, exact in f32 (used for f32, f16, bf16). */
PRISM_PHILOX_FN float prism_philox_uniform_f32(uint32_t r0) {
  return (float)(r0 >> 8) * 5.9604644775390625e-8f; /* 2^-24 */
}

/* [0, 1) with 53 random bits, exact in f64. */
PRISM_PHILOX_FN double prism_philox_uniform_f64(uint32_t r0, uint32_t r1) {
  return (double)(((uint64_t)r0 << 21) ^ (uint64_t)(r1 >> 11)) *
         1.1102230246251565404236316680908203125e-16; /* 2^-53 */
}

/* ===========================================================================
 * log and cos in f64 without libm (Note [Philox log and cos])
 * ------------------------------------------------------------------------
 * log(x), x > 0 finite: x = m * 2^e with m in [sqrt(1/2), sqrt(2)); with
 * s = (m - 1) / (m + 1), log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...),
 * |s| <= 0.1716 so 12 odd terms reach 2^-53; log(x) = e*ln2_hi + (log(m) +
 * e*ln2_lo). Relative error a few ulp.
 * cos(2 pi t), t in [0, 1): v = 4t is exact; k = round(v), f = v - k (exact,
 * |f| <= 1/2) and x = f * pi/2 in [-pi/4, pi/4]; then cos or sin of x by
 * Taylor series (to x^18 / x^19) and the quadrant k picks sign and function.
 * The argument is reduced in turns, so there is no large-argument problem.
 * ======================================================================== */

typedef union prism_philox_f64_bits {
  double d;
  uint64_t u;
} prism_philox_f64_bits;

/* Natural log for finite x > 0 (normal or subnormal). */
PRISM_PHILOX_FN double prism_philox_log(double x) {
  prism_philox_f64_bits b;
  int64_t e;
  double m, s, s2, p, log_m;
  const double ln2_hi = 6.93147180369123816490e-01; /* 0x3FE62E42FEE00000 */
  const double ln2_lo = 1.90821492927058770002e-10; /* 0x3DEA39EF35793C76 */
  int64_t scale = 0;
  b.d = x;
  if ((b.u >> 52) == 0) {          /* subnormal: scale into the normal range */
    b.d = x * 18014398509481984.0; /* 2^54 */
    scale = -54;
  }
  e = (int64_t)((b.u >> 52) & 0x7FF) - 1023 + scale;
  b.u = (b.u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull; /* m in [1, 2) */
  m = b.d;
  if (m > 1.4142135623730951) { /* move to [sqrt(1/2), sqrt(2)) */
    m = m * 0.5;
    e += 1;
  }
  s = (m - 1.0) / (m + 1.0);
  s2 = s * s;
  p = 1.0 / 25.0;
  p = p * s2 + 1.0 / 23.0;
  p = p * s2 + 1.0 / 21.0;
  p = p * s2 + 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  log_m = 2.0 * s + 2.0 * s * (s2 * p);
  return (double)e * ln2_hi + (log_m + (double)e * ln2_lo);
}

/* cos(x) and sin(x) for |x| <= pi/4 by Taylor series. */
PRISM_PHILOX_FN double prism_philox_cos_kernel(double x) {
  double x2 = x * x;
  double p = 1.0 / 6402373705728000.0; /* 1/18! */
  p = p * x2 - 1.0 / 20922789888000.0; /* 1/16! */
  p = p * x2 + 1.0 / 87178291200.0;    /* 1/14! */
  p = p * x2 - 1.0 / 479001600.0;      /* 1/12! */
  p = p * x2 + 1.0 / 3628800.0;        /* 1/10! */
  p = p * x2 - 1.0 / 40320.0;          /* 1/8!  */
  p = p * x2 + 1.0 / 720.0;            /* 1/6!  */
  p = p * x2 - 1.0 / 24.0;             /* 1/4!  */
  p = p * x2 + 0.5;                    /* 1/2!  */
  return 1.0 - x2 * p;
}

PRISM_PHILOX_FN double prism_philox_sin_kernel(double x) {
  double x2 = x * x;
  double p = 1.0 / 121645100408832000.0; /* 1/19! */
  p = p * x2 - 1.0 / 355687428096000.0;  /* 1/17! */
  p = p * x2 + 1.0 / 1307674368000.0;    /* 1/15! */
  p = p * x2 - 1.0 / 6227020800.0;       /* 1/13! */
  p = p * x2 + 1.0 / 39916800.0;         /* 1/11! */
  p = p * x2 - 1.0 / 362880.0;           /* 1/9!  */
  p = p * x2 + 1.0 / 5040.0;             /* 1/7!  */
  p = p * x2 - 1.0 / 120.0;              /* 1/5!  */
  p = p * x2 + 1.0 / 6.0;                /* 1/3!  */
  return x - x * (x2 * p);
}

/* cos(2 pi t) for t in [0, 2^60) (the random streams pass t in [0, 1)). */
PRISM_PHILOX_FN double prism_philox_cos_2pi(double t) {
  const double half_pi = 1.57079632679489661923;
  double v = 4.0 * t;
  int64_t k = (int64_t)(v + 0.5); /* nearest quarter turn; v >= 0 */
  double x = (v - (double)k) * half_pi;
  switch ((int)(k & 3)) {
    case 0:
      return prism_philox_cos_kernel(x);
    case 1:
      return -prism_philox_sin_kernel(x);
    case 2:
      return -prism_philox_cos_kernel(x);
    default:
      return prism_philox_sin_kernel(x);
  }
}

/* ===========================================================================
 * Distributions
 * ======================================================================== */

/* One standard normal from the four words: u1 = 1 - uniform_f64(r0, r1) in
 * (0, 1], u2 = uniform_f64(r2, r3) in [0, 1),
 * z = sqrt(-2 log u1) * cos(2 pi u2). */
PRISM_PHILOX_FN double prism_philox_normal_f64(prism_philox4x32 r) {
  double u1 = 1.0 - prism_philox_uniform_f64(r.v[0], r.v[1]);
  double u2 = prism_philox_uniform_f64(r.v[2], r.v[3]);
  double radius = -2.0 * prism_philox_log(u1);
  /* sqrt is correctly rounded in IEEE 754 on every target */
#if defined(__OPENCL_VERSION__) || defined(__CUDACC__) || defined(__HIPCC__)
  radius = sqrt(radius);
#else
  radius = __builtin_sqrt(radius);
#endif
  return radius * prism_philox_cos_2pi(u2);
}

/* low + (((uint64)r0 << 32 | r1) mod range); range = high - low > 0. */
PRISM_PHILOX_FN int64_t prism_philox_randint(prism_philox4x32 r, int64_t low, uint64_t range) {
  uint64_t bits = ((uint64_t)r.v[0] << 32) | r.v[1];
  return (int64_t)((uint64_t)low + bits % range);
}

/* 1 when r0 * 2^-32 < p. */
PRISM_PHILOX_FN int prism_philox_bernoulli(prism_philox4x32 r, double p) {
  return (double)r.v[0] * 2.3283064365386962890625e-10 < p;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_PLUGINS_SDK_PRISM_PHILOX_H_ */
