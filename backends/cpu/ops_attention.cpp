// ops_attention.cpp — the CPU kernel of scaled_dot_product_attention: softmax(Q·Kᵀ·scale + M)·V in one pass
// per block of query rows, with an online softmax over blocks of keys (Note [Fused attention on the CPU]).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu_internal.hpp"
#include "cpu_loops.hpp"

// The register tiles are GCC vector types inside always-inline helpers; no
// such value crosses a call, so the baseline build's ABI note does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace prism::cpu {

namespace {

// Note [Fused attention on the CPU]
// ---------------------------------
// The contract is Note [Fused attention kernel] (core/dispatch/attention.cpp)
// and docs/ops.md: inputs q (B..., L, E), k (B..., S, E), v (B..., S, Ev)
// and an optional additive mask (B..., L, S), all of one rank and one dtype,
// any strides (0 on broadcast dims); output (B..., L, Ev) dense; attributes
// scale and is_causal.
//
// Work is split in units of (batch entry, run of query rows), spread over
// the threads with parallel_range (batch x heads first; a few batch entries
// with long sequences are split along the rows too). A thread packs K
// transposed (E x S, padded to whole key blocks) and V (S x Ev) of its
// batch entry once into scratch in the compute type (f32 for f16/bf16), so
// strided and broadcast inputs cost one gather, then walks tiles of kRows
// query rows: for each block of kKeys keys it forms the kRows x kKeys scores
// in registers (an outer-product loop over vector registers), applies
// scale, mask and the causal limit, and folds the block into each row's
// running maximum m, normaliser l and output accumulator (the online
// softmax: acc and l are rescaled by exp(m_old - m_new) when the maximum
// grows, so no exp ever overflows); P·V is accumulated the same way, kRows x
// kLanes outputs in registers per pass over the block's keys. Only kRows x kKeys scores exist at a
// time; the L x S matrix is never formed. A causal tile stops at the last
// key its rows can see.
//
// A row whose scores are all -inf keeps l = 0 and ends as 0/0 = NaN, as the
// composite's softmax gives; NaN scores propagate through exp and l. On
// x86-64 the loops are compiled twice, for the baseline and for AVX2+FMA,
// and the CPU picks one at run time (the plugin is built for the baseline).

constexpr int64_t kRows = 4;    // query rows per tile
constexpr int64_t kKeys = 64;   // keys per block
constexpr int64_t kLanes = 16;  // keys per register tile

template <class T>
T* data_at(const prism_tensor_desc& d) {
  return reinterpret_cast<T*>(static_cast<char*>(d.buffer) + d.byte_offset);
}

// Element offset of batch entry n (row-major over the leading nb dims).
int64_t batch_offset(const prism_tensor_desc& d, int nb, int64_t n) {
  int64_t off = 0;
  for (int i = nb - 1; i >= 0; --i) {
    const int64_t sz = d.sizes[i];
    off += (n % sz) * d.strides[i];
    n /= sz;
  }
  return off;
}

// The shapes the contract allows; nullptr when the call fits, else why not.
const char* shape_problem(const prism_kernel_call* c) {
  if ((c->n_inputs != 3 && c->n_inputs != 4) || c->n_outputs != 1)
    return "expected 3 or 4 inputs and 1 output";
  const prism_tensor_desc &q = c->inputs[0], &k = c->inputs[1], &v = c->inputs[2], &o = c->outputs[0];
  const int nd = o.ndim;
  if (nd < 2) return "expected operands of at least 2 dimensions";
  for (size_t i = 0; i < c->n_inputs; ++i) {
    if (c->inputs[i].ndim != nd) return "expected every operand of the output's rank";
    if (c->inputs[i].dtype != o.dtype) return "expected every operand of the output's dtype";
    for (int d = 0; d < nd - 2; ++d)
      if (c->inputs[i].sizes[d] != o.sizes[d]) return "expected the same batch dims on every operand";
  }
  const int64_t L = q.sizes[nd - 2], E = q.sizes[nd - 1], S = k.sizes[nd - 2], Ev = v.sizes[nd - 1];
  if (k.sizes[nd - 1] != E || v.sizes[nd - 2] != S || o.sizes[nd - 2] != L || o.sizes[nd - 1] != Ev)
    return "expected q (..., L, E), k (..., S, E), v (..., S, Ev) and out (..., L, Ev)";
  if (c->n_inputs == 4 && (c->inputs[3].sizes[nd - 2] != L || c->inputs[3].sizes[nd - 1] != S))
    return "expected mask (..., L, S)";
  if (!dense(o)) return "expected a dense output";
  return nullptr;
}

int supports_attention(void* /*ctx*/, const prism_kernel_call* c) {
  return shape_problem(c) == nullptr ? 1 : 0;
}

struct Problem {
  const prism_tensor_desc *q, *k, *v, *mask, *out;
  int nb;
  int64_t L, S, E, Ev, Sp;  // Sp: S rounded up to whole key blocks
  double scale;
  bool causal;
};

template <class C>
struct Scratch {
  std::vector<C> kt, vp, qt, acc;
  int64_t packed = -1;  // batch entry held in kt/vp
};

#if defined(__GNUC__)
#define PRISM_ATTN_INLINE inline __attribute__((always_inline))
#else
#define PRISM_ATTN_INLINE inline
#endif

// Register tiles: kRows x kLanes accumulators in GCC vector registers (8
// floats or 4 doubles each, so 8 or 16 ymm registers under AVX2; the
// baseline build splits each into SSE halves).
template <class C>
struct Vec {
  typedef C type __attribute__((vector_size(32)));
};
template <class C>
using V = typename Vec<C>::type;

template <class C>
PRISM_ATTN_INLINE V<C> vload(const C* p) {
  V<C> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class C>
PRISM_ATTN_INLINE void vstore(C* p, V<C> v) {
  std::memcpy(p, &v, sizeof(v));
}

// s[r * kKeys + j] = sum_e qt[r * E + e] * kt[e * Sp + j0 + j], r < kRows, j < kKeys.
template <class C>
PRISM_ATTN_INLINE void tile_scores(const C* qt, const C* kt, int64_t E, int64_t Sp, int64_t j0, C* s) {
  constexpr int64_t W = static_cast<int64_t>(32 / sizeof(C)), NV = kLanes / W;
  for (int64_t jc = 0; jc < kKeys; jc += kLanes) {
    V<C> t[kRows][NV];
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t x = 0; x < NV; ++x) t[r][x] = V<C>{};
    for (int64_t e = 0; e < E; ++e) {
      const C* kr = kt + e * Sp + j0 + jc;
      V<C> kv[NV];
      for (int64_t x = 0; x < NV; ++x) kv[x] = vload(kr + x * W);
      for (int64_t r = 0; r < kRows; ++r) {
        const V<C> qv = V<C>{} + qt[r * E + e];
        for (int64_t x = 0; x < NV; ++x) t[r][x] += qv * kv[x];
      }
    }
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t x = 0; x < NV; ++x) vstore(s + r * kKeys + jc + x * W, t[r][x]);
  }
}

// acc[r * Ev + e] += sum_{j < bc} s[r * kKeys + j] * vp[j * Ev + e], r < kRows.
template <class C>
PRISM_ATTN_INLINE void tile_pv(const C* s, int64_t bc, const C* vp, int64_t Ev, C* acc) {
  constexpr int64_t W = static_cast<int64_t>(32 / sizeof(C)), NV = kLanes / W;
  int64_t ec = 0;
  for (; ec + kLanes <= Ev; ec += kLanes) {
    V<C> t[kRows][NV];
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t x = 0; x < NV; ++x) t[r][x] = vload(acc + r * Ev + ec + x * W);
    for (int64_t j = 0; j < bc; ++j) {
      const C* vr = vp + j * Ev + ec;
      V<C> vv[NV];
      for (int64_t x = 0; x < NV; ++x) vv[x] = vload(vr + x * W);
      for (int64_t r = 0; r < kRows; ++r) {
        const V<C> pv = V<C>{} + s[r * kKeys + j];
        for (int64_t x = 0; x < NV; ++x) t[r][x] += pv * vv[x];
      }
    }
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t x = 0; x < NV; ++x) vstore(acc + r * Ev + ec + x * W, t[r][x]);
  }
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t j = 0; j < bc; ++j) {
      const C pj = s[r * kKeys + j];
      const C* vr = vp + j * Ev;
      for (int64_t e = ec; e < Ev; ++e) acc[r * Ev + e] += pj * vr[e];
    }
  }
}

// One unit: batch entry n, query rows [r0, r1).
template <class T>
PRISM_ATTN_INLINE void run_unit(const Problem& p, int64_t n, int64_t r0, int64_t r1, Scratch<Compute<T>>& w) {
  using C = Compute<T>;
  const int nd = p.nb + 2;
  const int64_t E = p.E, Ev = p.Ev, S = p.S, Sp = p.Sp;
  const C scale = static_cast<C>(p.scale);
  const C ninf = -std::numeric_limits<C>::infinity();
  if (w.packed != n) {
    const prism_tensor_desc &k = *p.k, &v = *p.v;
    const T* kb = data_at<const T>(k) + batch_offset(k, p.nb, n);
    const T* vb = data_at<const T>(v) + batch_offset(v, p.nb, n);
    const int64_t ks0 = k.strides[nd - 2], ks1 = k.strides[nd - 1];
    const int64_t vs0 = v.strides[nd - 2], vs1 = v.strides[nd - 1];
    for (int64_t e = 0; e < E; ++e) {
      C* row = w.kt.data() + e * Sp;
      for (int64_t j = 0; j < S; ++j) row[j] = Num<T>::load(kb[j * ks0 + e * ks1]);
      for (int64_t j = S; j < Sp; ++j) row[j] = C(0);
    }
    for (int64_t j = 0; j < S; ++j)
      for (int64_t e = 0; e < Ev; ++e) w.vp[j * Ev + e] = Num<T>::load(vb[j * vs0 + e * vs1]);
    w.packed = n;
  }
  const prism_tensor_desc& q = *p.q;
  const T* qb = data_at<const T>(q) + batch_offset(q, p.nb, n);
  const int64_t qs0 = q.strides[nd - 2], qs1 = q.strides[nd - 1];
  const T* mb = nullptr;
  int64_t ms0 = 0, ms1 = 0;
  if (p.mask != nullptr) {
    mb = data_at<const T>(*p.mask) + batch_offset(*p.mask, p.nb, n);
    ms0 = p.mask->strides[nd - 2];
    ms1 = p.mask->strides[nd - 1];
  }
  T* ob = data_at<T>(*p.out) + n * p.L * Ev;
  C s[kRows * kKeys];
  C m[kRows], l[kRows];
  C* qt = w.qt.data();
  C* acc = w.acc.data();
  for (int64_t i0 = r0; i0 < r1; i0 += kRows) {
    const int64_t nr = std::min(kRows, r1 - i0);
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t e = 0; e < E; ++e)
        qt[r * E + e] = r < nr ? Num<T>::load(qb[(i0 + r) * qs0 + e * qs1]) : C(0);
    std::fill(acc, acc + kRows * Ev, C(0));
    for (int64_t r = 0; r < kRows; ++r) {
      m[r] = ninf;
      l[r] = C(0);
    }
    const int64_t jend = p.causal ? std::min(S, i0 + nr) : S;
    for (int64_t j0 = 0; j0 < jend; j0 += kKeys) {
      const int64_t bc = std::min(kKeys, jend - j0);
      tile_scores(qt, w.kt.data(), E, Sp, j0, s);
      for (int64_t r = 0; r < kRows; ++r) {
        const int64_t i = i0 + r;
        C* sr = s + r * kKeys;
        C bmax = ninf;
        if (r < nr) {
          for (int64_t j = 0; j < bc; ++j) {
            C x = sr[j] * scale;
            if (mb != nullptr) x += Num<T>::load(mb[i * ms0 + (j0 + j) * ms1]);
            if (p.causal && j0 + j > i) x = ninf;
            sr[j] = x;
            if (x > bmax) bmax = x;
          }
        }
        const C mnew = bmax > m[r] ? bmax : m[r];
        if (mnew == ninf) {  // padding row, or nothing visible yet: keep m = -inf, l = 0
          std::fill(sr, sr + bc, C(0));
          continue;
        }
        const C corr = std::exp(m[r] - mnew);
        C sum = 0;
        for (int64_t j = 0; j < bc; ++j) {
          const C ex = std::exp(sr[j] - mnew);
          sr[j] = ex;
          sum += ex;
        }
        if (corr != C(1)) {
          C* ar = acc + r * Ev;
          for (int64_t e = 0; e < Ev; ++e) ar[e] *= corr;
        }
        l[r] = l[r] * corr + sum;
        m[r] = mnew;
      }
      tile_pv(s, bc, w.vp.data() + j0 * Ev, Ev, acc);
    }
    for (int64_t r = 0; r < nr; ++r) {
      T* orow = ob + (i0 + r) * Ev;
      const C* ar = acc + r * Ev;
      if (l[r] == C(0)) {
        for (int64_t e = 0; e < Ev; ++e) orow[e] = Num<T>::store(std::numeric_limits<C>::quiet_NaN());
      } else {
        const C inv = C(1) / l[r];
        for (int64_t e = 0; e < Ev; ++e) orow[e] = Num<T>::store(ar[e] * inv);
      }
    }
  }
}

// Units [ub, ue) of `rows` query rows each, `per` units per batch entry.
template <class T>
PRISM_ATTN_INLINE void run_units_impl(const Problem& p, int64_t rows, int64_t per, int64_t ub, int64_t ue) {
  Scratch<Compute<T>> w;
  w.kt.resize(static_cast<size_t>(p.E * p.Sp));
  w.vp.resize(static_cast<size_t>(p.S * p.Ev));
  w.qt.resize(static_cast<size_t>(kRows * p.E));
  w.acc.resize(static_cast<size_t>(kRows * p.Ev));
  for (int64_t u = ub; u < ue; ++u) {
    const int64_t n = u / per, r0 = (u % per) * rows;
    run_unit<T>(p, n, r0, std::min(p.L, r0 + rows), w);
  }
}

template <class T>
void run_units_base(const Problem& p, int64_t rows, int64_t per, int64_t ub, int64_t ue) {
  run_units_impl<T>(p, rows, per, ub, ue);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define PRISM_ATTN_AVX2 1
template <class T>
__attribute__((target("avx2,fma"))) void run_units_avx2(const Problem& p, int64_t rows, int64_t per,
                                                        int64_t ub, int64_t ue) {
  run_units_impl<T>(p, rows, per, ub, ue);
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  return yes;
}
#endif

prism_plugin_error* run_attention(void* /*ctx*/, const prism_kernel_call* c) {
  if (const char* why = shape_problem(c)) return PRISM_CPU_INVALID("%s: %s", c->op, why);
  const prism_tensor_desc& o = c->outputs[0];
  const int nd = o.ndim;
  Problem p{};
  p.q = &c->inputs[0];
  p.k = &c->inputs[1];
  p.v = &c->inputs[2];
  p.mask = c->n_inputs == 4 ? &c->inputs[3] : nullptr;
  p.out = &o;
  p.nb = nd - 2;
  p.L = p.q->sizes[nd - 2];
  p.E = p.q->sizes[nd - 1];
  p.S = p.k->sizes[nd - 2];
  p.Ev = p.v->sizes[nd - 1];
  p.Sp = (p.S + kKeys - 1) / kKeys * kKeys;
  p.scale = prism_sdk_attr_float(c, "scale", 1.0 / std::sqrt(static_cast<double>(p.E)));
  p.causal = prism_sdk_attr_int(c, "is_causal", 0) != 0;
  if (!std::isfinite(p.scale)) return PRISM_CPU_INVALID("%s: scale must be finite", c->op);
  int64_t batch = 1;
  for (int i = 0; i < p.nb; ++i) batch *= o.sizes[i];
  if (batch == 0 || p.L == 0 || p.Ev == 0) return nullptr;
  if (p.S == 0 || p.E == 0)
    return PRISM_CPU_INVALID(
        "%s: S and E must be positive (the core runs empty inputs through the composite)", c->op);

  // Units: one per batch entry, or several runs of rows each when there are
  // fewer batch entries than threads could use.
  const int threads = max_threads();
  const int64_t tiles = (p.L + kRows - 1) / kRows;
  int64_t per = 1;
  if (threads > 1 && batch < 2 * threads) per = std::min(tiles, (4 * threads + batch - 1) / batch);
  const int64_t rows = (tiles + per - 1) / per * kRows;
  per = (p.L + rows - 1) / rows;
  const int64_t units = batch * per;
  const double work = static_cast<double>(batch) * p.L * p.S * (p.E + p.Ev);
  const int64_t grain = work < 65536.0 ? units + 1 : 1;

  return dispatch_dtype(c, o.dtype, [&](auto tag) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag);
    if constexpr (kIsFloat<T>) {
      parallel_range(units, grain, [&](int64_t b, int64_t e) {
#ifdef PRISM_ATTN_AVX2
        if (has_avx2()) {
          run_units_avx2<T>(p, rows, per, b, e);
          return;
        }
#endif
        run_units_base<T>(p, rows, per, b, e);
      });
      return nullptr;
    }
    return unsupported_dtype(c, o.dtype);
  });
}

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "scaled_dot_product_attention", kMaskFloat, supports_attention, run_attention},
};

}  // namespace

KernelList attention_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
