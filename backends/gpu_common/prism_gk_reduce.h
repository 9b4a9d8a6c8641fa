/* prism_gk_reduce.h — portable reductions in keepdim layout: sum prod amax amin argmax argmin all any. */

/*
 * Note [Reduction kernel]
 * -----------------------
 * One work-group per output element. Each of its PRISM_GK_REDUCE_LOCAL
 * work-items folds the reduced elements j = lid, lid + L, lid + 2L, ... in
 * order, then the partial results meet in a tree in local memory. With L = 1
 * (the host's choice when the reduced extent is small and there are many
 * outputs) this is the plain one-work-item-per-output loop. PRISM_OP:
 * 0 sum 1 prod 2 amax 3 amin 4 argmax 5 argmin 6 all 7 any.
 * Float sums therefore add L interleaved partial sums pairwise, which keeps
 * f32 error close to the CPU plugin's blocked summation.
 * amax/amin/arg*: NaN propagates (arg*: the first NaN wins); ties keep the
 * lower index, so the first occurrence wins. Lanes with no element carry
 * index -1 and lose every merge. The host rejects empty amax/amin/arg*.
 * PRISM_ACC is the accumulator type (f32 for f32, the element type for
 * integers, which wrap through PRISM_UT).
 */

#ifndef PRISM_GK_NAME
#define PRISM_GK_NAME(n) n
#endif

#if PRISM_OP == 4 || PRISM_OP == 5
#define PRISM_GK_RED_OUT int64_t
#elif PRISM_OP == 6 || PRISM_OP == 7
#define PRISM_GK_RED_OUT uint8_t
#else
#define PRISM_GK_RED_OUT PRISM_T
#endif

#if PRISM_KIND == 2
#define PRISM_GK_IS_NAN(x) PRISM_ISNAN(x)
#else
#define PRISM_GK_IS_NAN(x) 0
#endif

/* Merges (v, i) into (*acc, *idx) for the extreme-value ops. */
PRISM_FN void prism_gk_pick(PRISM_ACC* acc, int64_t* idx, PRISM_ACC v, int64_t i) {
  int take;
  if (i < 0) return;
  if (*idx < 0) {
    take = 1;
  } else if (PRISM_GK_IS_NAN(*acc)) {
    take = PRISM_GK_IS_NAN(v) && i < *idx;
  } else if (PRISM_GK_IS_NAN(v)) {
    take = 1;
  } else {
#if PRISM_OP == 2 || PRISM_OP == 4
    take = v > *acc || (v == *acc && i < *idx);
#else
    take = v < *acc || (v == *acc && i < *idx);
#endif
  }
  if (take) {
    *acc = v;
    *idx = i;
  }
}

PRISM_FN PRISM_ACC prism_gk_fold(PRISM_ACC a, PRISM_ACC b) {
#if PRISM_OP == 0
#if PRISM_KIND == 2
  return a + b;
#else
  return (PRISM_ACC)((PRISM_UT)a + (PRISM_UT)b);
#endif
#elif PRISM_OP == 1
#if PRISM_KIND == 2
  return a * b;
#else
  return (PRISM_ACC)((PRISM_UT)a * (PRISM_UT)b);
#endif
#elif PRISM_OP == 6
  return (PRISM_ACC)(a != (PRISM_ACC)0 && b != (PRISM_ACC)0);
#else
  return (PRISM_ACC)(a != (PRISM_ACC)0 || b != (PRISM_ACC)0);
#endif
}

PRISM_KERNEL void PRISM_GK_NAME(prism_reduce)(PRISM_GLOBAL PRISM_GK_RED_OUT* dst,
                                              PRISM_GLOBAL const PRISM_T* src, const prism_gk_reduce r) {
  PRISM_SHARED PRISM_ACC acc_s[PRISM_GK_REDUCE_LOCAL];
  PRISM_SHARED int64_t idx_s[PRISM_GK_REDUCE_LOCAL];
  const int64_t o = PRISM_GROUP_ID(0);
  const int64_t lid = PRISM_LOCAL_ID(0);
  int64_t in_base = r.in_offset;
  int64_t out_off = r.out_offset;
  int64_t rem = o;
  int64_t j;
  int d;
  int64_t s;
  PRISM_ACC acc;
  int64_t idx = -1;
  for (d = r.out_ndim - 1; d >= 0; --d) {
    const int64_t size = r.out_sizes[d];
    const int64_t q = rem % size;
    rem = rem / size;
    in_base += q * r.out_in_strides[d];
    out_off += q * r.out_out_strides[d];
  }
#if PRISM_OP == 1 || PRISM_OP == 6
  acc = (PRISM_ACC)1;
#else
  acc = (PRISM_ACC)0;
#endif
  for (j = lid; j < r.n_red; j += PRISM_GK_REDUCE_LOCAL) {
    int64_t off = in_base;
    int64_t t = j;
    PRISM_ACC v;
    for (d = r.red_ndim - 1; d >= 0; --d) {
      const int64_t size = r.red_sizes[d];
      off += (d == 0 ? t : t % size) * r.red_strides[d];
      t = d == 0 ? 0 : t / size;
    }
    v = (PRISM_ACC)PRISM_LOAD(src, off);
#if PRISM_OP >= 2 && PRISM_OP <= 5
    prism_gk_pick(&acc, &idx, v, j);
#else
    acc = prism_gk_fold(acc, v);
#endif
  }
  acc_s[lid] = acc;
  idx_s[lid] = idx;
  PRISM_BARRIER();
  for (s = PRISM_GK_REDUCE_LOCAL / 2; s > 0; s >>= 1) {
    if (lid < s) {
#if PRISM_OP >= 2 && PRISM_OP <= 5
      PRISM_ACC a = acc_s[lid];
      int64_t ai = idx_s[lid];
      prism_gk_pick(&a, &ai, acc_s[lid + s], idx_s[lid + s]);
      acc_s[lid] = a;
      idx_s[lid] = ai;
#else
      acc_s[lid] = prism_gk_fold(acc_s[lid], acc_s[lid + s]);
#endif
    }
    PRISM_BARRIER();
  }
  if (lid == 0) {
#if PRISM_OP == 4 || PRISM_OP == 5
    dst[out_off] = idx_s[0] < 0 ? 0 : idx_s[0];
#elif PRISM_OP == 6 || PRISM_OP == 7
    dst[out_off] = (uint8_t)(acc_s[0] != (PRISM_ACC)0 ? 1 : 0);
#else
    PRISM_STORE(dst, out_off, acc_s[0]);
#endif
  }
}
