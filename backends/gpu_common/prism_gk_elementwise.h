/* prism_gk_elementwise.h — portable strided elementwise kernels: fill, copy/cast, unary, binary, compare,
 * where, clamp. */

/*
 * Note [One program per op and dtype]
 * -----------------------------------
 * The host picks the kernel and the types with preprocessor definitions, so
 * the body of each kernel is straight-line code the device compiler can
 * vectorise (PoCL turns a work-group into a vector loop only when the body
 * has no data-dependent branches):
 *
 *   PRISM_GK_<KERNEL>        which kernel to compile (UNARY, BINARY, ...)
 *   PRISM_OP                 the op code within that kernel (tables below)
 *   PRISM_T                  storage type of the op's key operand
 *   PRISM_C                  compute type (float, double, or PRISM_T for ints)
 *   PRISM_UT                 unsigned type of PRISM_T (ints: wrapping arithmetic)
 *   PRISM_KIND               0 bool, 1 integer, 2 floating
 *   PRISM_TI / PRISM_KIND_I  copy: source type and kind (PRISM_T is the destination)
 *
 * Integer arithmetic goes through PRISM_UT so that overflow wraps (two's
 * complement) without undefined behaviour, as docs/ops.md requires.
 * PRISM_GK_NAME(n) may add a suffix to entry-point names when several
 * instantiations share one translation unit (CUDA, HIP).
 */

#ifndef PRISM_GK_NAME
#define PRISM_GK_NAME(n) n
#endif

/* Operand offsets (elements) of linear element i; o0 is the output.
 *
 * Note [No private arrays in kernels]: the offsets come back as four named
 * scalars, not an array. PoCL keeps a private array indexed in a loop as
 * per-work-item memory, which stops it from vectorising the work-group
 * (measured: a dense f32 add ran at 0.6x of a bare kernel with an offset
 * array, at 1.0x with scalars). Unused operands have stride 0 and offset 0.
 * With PRISM_GK_DENSE (the host defines it when prism_gk_iter.dense is 1)
 * every operand advances by one element per work-item and the body has no
 * division. */
#ifdef PRISM_GK_DENSE
#define PRISM_GK_ITER prism_gk_dense
#else
#define PRISM_GK_ITER prism_gk_iter
#endif

/* Note [Flat launches]
 * --------------------
 * Under PoCL every kernel argument costs each launch an allocation and a copy
 * on the host thread and a free on a device thread, and a chain of launches
 * on small tensors is bound by that host work. With PRISM_GK_FLAT (the OpenCL
 * host defines it beside PRISM_GK_DENSE when every operand of a dense
 * iteration starts at element 0 and the launch covers exactly numel
 * work-items) a kernel takes no iteration argument: work-item i touches
 * element i of every operand and there is no bounds check. With
 * PRISM_GK_ALPHA_ONE the binary kernel takes no alpha either (add/sub with
 * alpha 1, and the ops that ignore alpha); alpha is then the constant 1,
 * which gives the same results (1 * b is b exactly). PRISM_GK_ITER_ARG and
 * PRISM_GK_ALPHA_ARG expand to ", <parameter>" or to nothing, and
 * PRISM_GK_BEGIN(off) declares the offsets of this work-item (returning
 * from work-items past the end). CUDA and HIP define neither macro. */
#ifdef PRISM_GK_FLAT
#define PRISM_GK_ITER_ARG
#define PRISM_GK_BEGIN(off) \
  prism_gk_offs off;        \
  off.o0 = off.o1 = off.o2 = off.o3 = PRISM_GLOBAL_ID(0)
#else
#define PRISM_GK_ITER_ARG , const PRISM_GK_ITER it
#define PRISM_GK_BEGIN(off)                      \
  prism_gk_offs off;                             \
  const int64_t prism_gk_i = PRISM_GLOBAL_ID(0); \
  if (prism_gk_i >= it.numel) return;            \
  off = prism_gk_offsets(&it, prism_gk_i)
#endif
#ifdef PRISM_GK_ALPHA_ONE
#define PRISM_GK_ALPHA_ARG
#define PRISM_GK_ALPHA ((PRISM_C)1)
#else
#define PRISM_GK_ALPHA_ARG , const PRISM_C alpha
#define PRISM_GK_ALPHA alpha
#endif

typedef struct prism_gk_offs {
  int64_t o0;
  int64_t o1;
  int64_t o2;
  int64_t o3;
} prism_gk_offs;

PRISM_FN prism_gk_offs prism_gk_offsets(const PRISM_GK_ITER* it, int64_t i) {
  prism_gk_offs r;
#ifdef PRISM_GK_DENSE
  r.o0 = it->offsets[0] + i;
  r.o1 = it->offsets[1] + i;
  r.o2 = it->offsets[2] + i;
  r.o3 = it->offsets[3] + i;
#else
  int d;
  r.o0 = it->offsets[0];
  r.o1 = it->offsets[1];
  r.o2 = it->offsets[2];
  r.o3 = it->offsets[3];
  for (d = it->ndim - 1; d >= 0; --d) {
    const int64_t size = it->sizes[d];
    const int64_t idx = d == 0 ? i : i % size;
    i = d == 0 ? 0 : i / size;
    r.o0 += idx * it->strides[0][d];
    r.o1 += idx * it->strides[1][d];
    r.o2 += idx * it->strides[2][d];
    r.o3 += idx * it->strides[3][d];
  }
#endif
  return r;
}

/* NaN-propagating maximum / minimum on the compute type. */
#if PRISM_KIND == 2
PRISM_FN PRISM_C prism_gk_max(PRISM_C a, PRISM_C b) {
  return PRISM_ISNAN(a) ? a : (PRISM_ISNAN(b) ? b : (a > b ? a : b));
}
PRISM_FN PRISM_C prism_gk_min(PRISM_C a, PRISM_C b) {
  return PRISM_ISNAN(a) ? a : (PRISM_ISNAN(b) ? b : (a < b ? a : b));
}
#elif PRISM_KIND == 1
PRISM_FN PRISM_C prism_gk_max(PRISM_C a, PRISM_C b) {
  return a > b ? a : b;
}
PRISM_FN PRISM_C prism_gk_min(PRISM_C a, PRISM_C b) {
  return a < b ? a : b;
}
#else
PRISM_FN PRISM_C prism_gk_max(PRISM_C a, PRISM_C b) {
  return (PRISM_C)(a | b);
}
PRISM_FN PRISM_C prism_gk_min(PRISM_C a, PRISM_C b) {
  return (PRISM_C)(a & b);
}
#endif

/* ===========================================================================
 * fill: out = value
 * ======================================================================== */
#ifdef PRISM_GK_FILL
PRISM_KERNEL void PRISM_GK_NAME(prism_fill)(PRISM_GLOBAL PRISM_T* dst PRISM_GK_ITER_ARG,
                                            const PRISM_T value) {
  PRISM_GK_BEGIN(off);
  dst[off.o0] = value;
}
#endif

/* ===========================================================================
 * copy: out (PRISM_T) = x (PRISM_TI), with the casts of docs/ops.md
 * (float -> integer truncates toward zero, saturates to the i64 range, NaN
 * -> 0, then wraps into narrower types; anything -> bool is != 0).
 * ======================================================================== */
#ifdef PRISM_GK_COPY
#ifndef PRISM_CI /* the source's compute type: PRISM_TI, or float for a half (Note [Storage-only halves]) */
#define PRISM_CI PRISM_TI
#endif
PRISM_FN PRISM_C prism_gk_cast(PRISM_CI x) {
#if PRISM_KIND == 0
  return (PRISM_C)(x != (PRISM_CI)0 ? 1 : 0);
#elif PRISM_KIND == 1 && PRISM_KIND_I == 2
  int64_t r;
  if (PRISM_ISNAN(x)) {
    r = 0;
  } else if (x >= (PRISM_CI)9223372036854775807.0) {
    r = (int64_t)9223372036854775807L;
  } else if (x < (PRISM_CI)-9223372036854775807.0) {
    r = (int64_t)(-9223372036854775807L - 1L);
  } else {
    r = (int64_t)x;
  }
  return (PRISM_C)(PRISM_T)r;
#elif PRISM_HALF != 0 && defined(cl_khr_fp64)
  /* Storage-only half output: a source wider than f32 is rounded to f32 with
   * round-to-odd first, so the rounding to f16/bf16 after it is the single
   * correct one (Note [Single rounding to f16 and bf16] in the CPU plugin). */
  const double d = (double)x;
  float f = (float)d;
  if ((double)f != d && !isnan(f) && !isinf(f)) {
    uint b = as_uint(f);
    if (fabs((double)f) > fabs(d)) b -= 1u;
    f = as_float(b | 1u);
  }
  return f;
#else
  return (PRISM_C)x;
#endif
}

PRISM_KERNEL void PRISM_GK_NAME(prism_copy)(PRISM_GLOBAL PRISM_T* dst,
                                            PRISM_GLOBAL const PRISM_TI* src PRISM_GK_ITER_ARG) {
  PRISM_GK_BEGIN(off);
  PRISM_STORE(dst, off.o0, prism_gk_cast(PRISM_LOAD_I(src, off.o1)));
}
#endif

/* ===========================================================================
 * unary: out = f(x), same dtype. PRISM_OP:
 *  0 neg 1 abs 2 sign 3 exp 4 log 5 log1p 6 expm1 7 sqrt 8 rsqrt 9 reciprocal
 * 10 sin 11 cos 12 tanh 13 sigmoid 14 gelu 15 silu 16 square 17 relu
 * 18 floor 19 ceil 20 round (half to even)
 * ======================================================================== */
#ifdef PRISM_GK_UNARY
PRISM_FN PRISM_C prism_gk_unary(PRISM_C x) {
  const PRISM_C zero = (PRISM_C)0;
  const PRISM_C one = (PRISM_C)1;
#if PRISM_KIND == 2
#if PRISM_OP == 0
  return -x;
#elif PRISM_OP == 1
  return x < zero ? -x : (x == zero ? zero : x);
#elif PRISM_OP == 2
  return (PRISM_C)((zero < x) - (x < zero));
#elif PRISM_OP == 3
  return PRISM_EXP(x);
#elif PRISM_OP == 4
  return PRISM_LOG(x);
#elif PRISM_OP == 5
  return PRISM_LOG1P(x);
#elif PRISM_OP == 6
  return PRISM_EXPM1(x);
#elif PRISM_OP == 7
  return PRISM_SQRT(x);
#elif PRISM_OP == 8
  return one / PRISM_SQRT(x);
#elif PRISM_OP == 9
  return one / x;
#elif PRISM_OP == 10
  return PRISM_SIN(x);
#elif PRISM_OP == 11
  return PRISM_COS(x);
#elif PRISM_OP == 12
  return PRISM_TANH(x);
#elif PRISM_OP == 13
  return one / (one + PRISM_EXP(-x));
#elif PRISM_OP == 14
  return (PRISM_C)0.5 * x * (one + PRISM_ERF(x * (PRISM_C)0.70710678118654752440));
#elif PRISM_OP == 15
  return x / (one + PRISM_EXP(-x));
#elif PRISM_OP == 16
  return x * x;
#elif PRISM_OP == 17
  return x < zero ? zero : x;
#elif PRISM_OP == 18
  return PRISM_FLOOR(x);
#elif PRISM_OP == 19
  return PRISM_CEIL(x);
#elif PRISM_OP == 20
  return PRISM_RINT(x);
#else
#error "unary: unknown PRISM_OP for a floating type"
#endif
#else /* integers */
#if PRISM_OP == 0
  return (PRISM_C)((PRISM_UT)0 - (PRISM_UT)x);
#elif PRISM_OP == 1
  return x < zero ? (PRISM_C)((PRISM_UT)0 - (PRISM_UT)x) : x;
#elif PRISM_OP == 2
  return (PRISM_C)((zero < x) - (x < zero));
#elif PRISM_OP == 16
  return (PRISM_C)((PRISM_UT)x * (PRISM_UT)x);
#elif PRISM_OP == 17
  return x < zero ? zero : x;
#elif PRISM_OP == 18 || PRISM_OP == 19 || PRISM_OP == 20
  return x;
#else
#error "unary: op not defined for integers"
#endif
#endif
}

PRISM_KERNEL void PRISM_GK_NAME(prism_unary)(PRISM_GLOBAL PRISM_T* dst,
                                             PRISM_GLOBAL const PRISM_T* src PRISM_GK_ITER_ARG) {
  PRISM_GK_BEGIN(off);
  PRISM_STORE(dst, off.o0, prism_gk_unary(PRISM_LOAD(src, off.o1)));
}
#endif

/* ===========================================================================
 * binary: out = f(a, b), same dtype. PRISM_OP:
 * 0 add (a + alpha b) 1 sub (a - alpha b) 2 mul 3 div 4 div floor 5 div trunc
 * 6 remainder (sign of b) 7 pow 8 maximum 9 minimum
 * bool: add is or, mul is and, maximum or, minimum and.
 * ======================================================================== */
#ifdef PRISM_GK_BINARY
PRISM_FN PRISM_C prism_gk_binary(PRISM_C a, PRISM_C b, PRISM_C alpha) {
#if PRISM_OP == 8
  return prism_gk_max(a, b);
#elif PRISM_OP == 9
  return prism_gk_min(a, b);
#elif PRISM_KIND == 0
#if PRISM_OP == 0
  return (PRISM_C)((a | (b & alpha)) != 0);
#elif PRISM_OP == 2
  return (PRISM_C)((a & b) != 0);
#else
#error "binary: op not defined for bool"
#endif
#elif PRISM_KIND == 1
#if PRISM_OP == 0
  return (PRISM_C)((PRISM_UT)a + (PRISM_UT)alpha * (PRISM_UT)b);
#elif PRISM_OP == 1
  return (PRISM_C)((PRISM_UT)a - (PRISM_UT)alpha * (PRISM_UT)b);
#elif PRISM_OP == 2
  return (PRISM_C)((PRISM_UT)a * (PRISM_UT)b);
#else
#error "binary: op not defined for integers"
#endif
#else /* floating */
#if PRISM_OP == 0
  return a + alpha * b;
#elif PRISM_OP == 1
  return a - alpha * b;
#elif PRISM_OP == 2
  return a * b;
#elif PRISM_OP == 3
  return a / b;
#elif PRISM_OP == 4
  /* PyTorch's div_floor_floating: exact floor(a / b) computed from fmod */
  PRISM_C mod;
  PRISM_C div;
  PRISM_C floordiv;
  if (b == (PRISM_C)0) return a / b;
  mod = PRISM_FMOD(a, b);
  div = (a - mod) / b;
  if (mod != (PRISM_C)0 && ((b < (PRISM_C)0) != (mod < (PRISM_C)0))) div -= (PRISM_C)1;
  if (div == (PRISM_C)0) return PRISM_COPYSIGN((PRISM_C)0, a / b);
  floordiv = PRISM_FLOOR(div);
  if (div - floordiv > (PRISM_C)0.5) floordiv += (PRISM_C)1;
  return floordiv;
#elif PRISM_OP == 5
  return PRISM_TRUNC(a / b);
#elif PRISM_OP == 6
  PRISM_C mod = PRISM_FMOD(a, b);
  if (mod != (PRISM_C)0 && ((b < (PRISM_C)0) != (mod < (PRISM_C)0))) mod += b;
  return mod;
#elif PRISM_OP == 7
  return PRISM_POW(a, b);
#else
#error "binary: unknown PRISM_OP"
#endif
#endif
}

/* Note [Alpha without a branch]: alpha is 1 for add/sub unless the caller
 * sets it, and mul/div ignore it, so every op takes the same arguments. */
PRISM_KERNEL void PRISM_GK_NAME(prism_binary)(PRISM_GLOBAL PRISM_T* dst, PRISM_GLOBAL const PRISM_T* a,
                                              PRISM_GLOBAL const PRISM_T* b PRISM_GK_ITER_ARG
                                                  PRISM_GK_ALPHA_ARG) {
  PRISM_GK_BEGIN(off);
  PRISM_STORE(dst, off.o0, prism_gk_binary(PRISM_LOAD(a, off.o1), PRISM_LOAD(b, off.o2), PRISM_GK_ALPHA));
}
#endif

/* ===========================================================================
 * compare / logical: out (bool, uint8_t) = f(a, b). PRISM_OP:
 * 0 eq 1 ne 2 lt 3 le 4 gt 5 ge 6 logical_and 7 logical_or 8 logical_xor
 * 9 logical_not (b unused)
 * ======================================================================== */
#ifdef PRISM_GK_COMPARE
PRISM_FN int prism_gk_compare(PRISM_C a, PRISM_C b) {
#if PRISM_OP == 0
  return a == b;
#elif PRISM_OP == 1
  return a != b;
#elif PRISM_OP == 2
  return a < b;
#elif PRISM_OP == 3
  return a <= b;
#elif PRISM_OP == 4
  return a > b;
#elif PRISM_OP == 5
  return a >= b;
#elif PRISM_OP == 6
  return (a != (PRISM_C)0) && (b != (PRISM_C)0);
#elif PRISM_OP == 7
  return (a != (PRISM_C)0) || (b != (PRISM_C)0);
#elif PRISM_OP == 8
  return (a != (PRISM_C)0) != (b != (PRISM_C)0);
#elif PRISM_OP == 9
  return a == (PRISM_C)0;
#else
#error "compare: unknown PRISM_OP"
#endif
}

PRISM_KERNEL void PRISM_GK_NAME(prism_compare)(PRISM_GLOBAL uint8_t* dst, PRISM_GLOBAL const PRISM_T* a,
                                               PRISM_GLOBAL const PRISM_T* b PRISM_GK_ITER_ARG) {
  PRISM_GK_BEGIN(off);
  dst[off.o0] = (uint8_t)(prism_gk_compare(PRISM_LOAD(a, off.o1), PRISM_LOAD(b, off.o2)) ? 1 : 0);
}
#endif

/* ===========================================================================
 * where: out = cond ? a : b
 * ======================================================================== */
#ifdef PRISM_GK_WHERE
PRISM_KERNEL void PRISM_GK_NAME(prism_where)(PRISM_GLOBAL PRISM_T* dst, PRISM_GLOBAL const uint8_t* cond,
                                             PRISM_GLOBAL const PRISM_T* a,
                                             PRISM_GLOBAL const PRISM_T* b PRISM_GK_ITER_ARG) {
  PRISM_GK_BEGIN(off);
  dst[off.o0] = cond[off.o1] != 0 ? a[off.o2] : b[off.o3];
}
#endif

/* ===========================================================================
 * clamp: out = min(max(x, lo), hi) with NaN propagation; a bound whose flag
 * is 0 is absent. Integer bounds arrive as int64_t so out-of-range bounds
 * compare correctly.
 * ======================================================================== */
#ifdef PRISM_GK_CLAMP
#if PRISM_KIND == 2
#define PRISM_GK_BOUND PRISM_C
#else
#define PRISM_GK_BOUND int64_t
#endif
PRISM_KERNEL void PRISM_GK_NAME(prism_clamp)(PRISM_GLOBAL PRISM_T* dst,
                                             PRISM_GLOBAL const PRISM_T* src PRISM_GK_ITER_ARG,
                                             const PRISM_GK_BOUND lo, const PRISM_GK_BOUND hi,
                                             const int32_t has_lo, const int32_t has_hi) {
  PRISM_GK_BEGIN(off);
  PRISM_GK_BOUND x = (PRISM_GK_BOUND)PRISM_LOAD(src, off.o1);
#if PRISM_KIND == 2
  if (has_lo) x = prism_gk_max(x, lo);
  if (has_hi) x = prism_gk_min(x, hi);
#else
  if (has_lo && x < lo) x = lo;
  if (has_hi && x > hi) x = hi;
#endif
  PRISM_STORE(dst, off.o0, x);
}
#endif
