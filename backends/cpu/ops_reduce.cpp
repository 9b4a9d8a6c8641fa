// ops_reduce.cpp — reductions (sum prod amax amin argmax argmin all any) in the keepdim layout.
#include <algorithm>
#include <memory>

#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// ===========================================================================
// Reducers
// ---------------------------------------------------------------------------
// A reducer folds elements of T into an accumulator: identity(), step(acc,
// x, index) where index is the position along the reduced dims, combine(l, r)
// where every index of l precedes every index of r, finish(acc) -> Out.
// ===========================================================================

template <class T>
using SumAcc = std::conditional_t<kIsInt<T>, int64_t, Compute<T>>;

template <class T>
struct SumReducer {
  using Acc = SumAcc<T>;
  using Out = T;
  static constexpr bool kLanes = true;  // order-insensitive: lanes allowed
  Acc identity() const { return Acc(0); }
  Acc step(Acc a, Compute<T> x, int64_t) const { return wrap_add(a, static_cast<Acc>(x)); }
  Acc combine(Acc l, Acc r) const { return wrap_add(l, r); }
  Out finish(Acc a) const { return Num<T>::store(static_cast<Compute<T>>(a)); }
};

template <class T>
struct ProdReducer {
  using Acc = SumAcc<T>;
  using Out = T;
  static constexpr bool kLanes = true;
  Acc identity() const { return Acc(1); }
  Acc step(Acc a, Compute<T> x, int64_t) const { return wrap_mul(a, static_cast<Acc>(x)); }
  Acc combine(Acc l, Acc r) const { return wrap_mul(l, r); }
  Out finish(Acc a) const { return Num<T>::store(static_cast<Compute<T>>(a)); }
};

template <class C>
inline bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    return x != x;
  } else {
    (void)x;
    return false;
  }
}

template <class T, bool kMax>
struct ExtremumReducer {
  using C = Compute<T>;
  using Acc = C;
  using Out = T;
  static constexpr bool kLanes = false;
  Acc identity() const {
    if constexpr (std::is_same_v<C, bool>) {
      return !kMax;
    } else if constexpr (std::is_floating_point_v<C>) {
      return kMax ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
    } else {
      return kMax ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
    }
  }
  Acc step(Acc a, C x, int64_t) const { return combine(a, x); }
  Acc combine(Acc l, Acc r) const {
    if (is_nan(l)) return l;
    if (is_nan(r)) return r;
    return kMax ? (r > l ? r : l) : (r < l ? r : l);
  }
  Out finish(Acc a) const { return Num<T>::store(a); }
};

template <class C>
struct ValueIndex {
  C value;
  int64_t index;
};

// Note [argmax and NaN]: the first NaN wins for both argmax and argmin (NaN
// propagates, as torch.argmax/argmin); otherwise the first extreme wins.
template <class T, bool kMax>
struct ArgReducer {
  using C = Compute<T>;
  using Acc = ValueIndex<C>;
  using Out = int64_t;
  static constexpr bool kLanes = false;
  Acc identity() const { return {ExtremumReducer<T, kMax>{}.identity(), -1}; }
  Acc step(Acc a, C x, int64_t i) const { return combine(a, Acc{x, i}); }
  Acc combine(Acc l, Acc r) const {
    if (l.index < 0) return r;
    if (r.index < 0) return l;
    if (is_nan(l.value)) return l;
    if (is_nan(r.value)) return r;
    const bool better = kMax ? r.value > l.value : r.value < l.value;
    return better ? r : l;
  }
  Out finish(Acc a) const { return a.index < 0 ? 0 : a.index; }
};

template <class T, bool kAll>
struct BoolReducer {
  using Acc = bool;
  using Out = bool;
  static constexpr bool kLanes = true;
  Acc identity() const { return kAll; }
  Acc step(Acc a, Compute<T> x, int64_t) const {
    const bool v = x != Compute<T>(0);
    return kAll ? (a && v) : (a || v);
  }
  Acc combine(Acc l, Acc r) const { return kAll ? (l && r) : (l || r); }
  Out finish(Acc a) const { return a; }
};

// ===========================================================================
// Layout (Note [Reduction layout])
// ---------------------------------------------------------------------------
// The output has the input's ndim; dims whose output size is 1 are reduced.
// Kept and reduced dims are each ordered by the input's stride magnitude
// (innermost first) and coalesced. If the innermost input dim is reduced
// ("inner" case: rows), each output folds its elements in memory order;
// otherwise ("outer" case: columns) a tile of up to kTile neighbouring
// outputs is folded together, one input row at a time, so the input is read
// contiguously. Both cases split the reduced range recursively in halves
// down to a block (pairwise summation: error grows with log n, not n).
// Threads take outputs when there are enough of them, otherwise they split
// the reduced range and the partial results are combined in index order.
// ===========================================================================

struct Dims {
  int nd = 0;
  int64_t sizes[PRISM_MAX_DIMS];
  int64_t in_strides[PRISM_MAX_DIMS];   // bytes
  int64_t out_strides[PRISM_MAX_DIMS];  // bytes (kept dims only)
  int64_t numel = 1;
};

inline int64_t abs64(int64_t v) {
  return v < 0 ? -v : v;
}

void sort_and_coalesce(Dims& d, bool with_out) {
  for (int i = 1; i < d.nd; ++i) {
    for (int j = i; j > 0 && abs64(d.in_strides[j]) < abs64(d.in_strides[j - 1]); --j) {
      std::swap(d.sizes[j], d.sizes[j - 1]);
      std::swap(d.in_strides[j], d.in_strides[j - 1]);
      std::swap(d.out_strides[j], d.out_strides[j - 1]);
    }
  }
  if (d.nd == 0) return;
  int w = 0;
  for (int i = 1; i < d.nd; ++i) {
    const bool merge = d.in_strides[i] == d.in_strides[w] * d.sizes[w] &&
                       (!with_out || d.out_strides[i] == d.out_strides[w] * d.sizes[w]);
    if (merge) {
      d.sizes[w] *= d.sizes[i];
    } else {
      ++w;
      d.sizes[w] = d.sizes[i];
      d.in_strides[w] = d.in_strides[i];
      d.out_strides[w] = d.out_strides[i];
    }
  }
  d.nd = w + 1;
}

// Byte offsets of flat index `flat` of `d` (dim 0 fastest).
inline void offsets_of(const Dims& d, int64_t flat, int64_t& in_off, int64_t& out_off) {
  in_off = 0;
  out_off = 0;
  for (int k = 0; k < d.nd; ++k) {
    const int64_t i = flat % d.sizes[k];
    flat /= d.sizes[k];
    in_off += i * d.in_strides[k];
    out_off += i * d.out_strides[k];
  }
}

template <class T, class R>
class ReduceKernel {
 public:
  using Acc = typename R::Acc;
  using Out = typename R::Out;
  static constexpr int64_t kBlock = 1024;   // leaf of the pairwise split (inner case)
  static constexpr int64_t kRowBlock = 32;  // rows per leaf (outer case)
  static constexpr int kTile = 64;

  ReduceKernel(R r, const char* in, char* out, const Dims& kept, const Dims& red)
      : r_(r), in_(in), out_(out), kept_(kept), red_(red) {}

  void run() {
    const int64_t n_out = kept_.numel;
    const int64_t n_red = red_.numel;
    const bool inner =
        kept_.nd == 0 || (red_.nd > 0 && abs64(red_.in_strides[0]) <= abs64(kept_.in_strides[0]));
    if (inner || red_.nd == 0) {
      run_inner(n_out, n_red);
    } else {
      run_outer(n_red);
    }
  }

 private:
  // ---- inner case -----------------------------------------------------------

  // Folds the reduced elements [b, e) starting at `base` (one output).
  Acc fold_range(const char* base, int64_t b, int64_t e) const {
    if (e - b > kBlock) {
      const int64_t mid = b + (e - b) / 2;
      return r_.combine(fold_range(base, b, mid), fold_range(base, mid, e));
    }
    Acc acc = r_.identity();
    if (red_.nd == 0) {
      return b < e ? r_.step(acc, Num<T>::load(*reinterpret_cast<const T*>(base)), 0) : acc;
    }
    // runs of reduced dim 0
    int64_t in_off, unused;
    int64_t flat = b;
    while (flat < e) {
      const int64_t i0 = flat % red_.sizes[0];
      const int64_t n = std::min(red_.sizes[0] - i0, e - flat);
      offsets_of(red_, flat, in_off, unused);
      acc = fold_run(acc, base + in_off, red_.in_strides[0], n, flat);
      flat += n;
    }
    return acc;
  }

  // Float sums take 8 lanes over dense runs (vectorised, and more accurate).
  // Integer sums are exact in any order and take the plain loop; GCC 12 at
  // -O3 also miscompiles the widening u8/i8 -> i64 lane loop.
  Acc fold_run(Acc acc, const char* p, int64_t stride, int64_t n, int64_t idx0) const {
    if constexpr (R::kLanes && std::is_floating_point_v<Acc>) {
      if (stride == static_cast<int64_t>(sizeof(T)) && n >= 16) {
        const T* x = reinterpret_cast<const T*>(p);
        constexpr int L = 8;
        Acc lanes[L];
        for (int l = 0; l < L; ++l) lanes[l] = r_.identity();
        int64_t i = 0;
        for (; i + L <= n; i += L) {
          for (int l = 0; l < L; ++l) lanes[l] = r_.step(lanes[l], Num<T>::load(x[i + l]), 0);
        }
        Acc s01 = r_.combine(lanes[0], lanes[1]), s23 = r_.combine(lanes[2], lanes[3]);
        Acc s45 = r_.combine(lanes[4], lanes[5]), s67 = r_.combine(lanes[6], lanes[7]);
        acc = r_.combine(acc, r_.combine(r_.combine(s01, s23), r_.combine(s45, s67)));
        for (; i < n; ++i) acc = r_.step(acc, Num<T>::load(x[i]), 0);
        return acc;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      acc = r_.step(acc, Num<T>::load(*reinterpret_cast<const T*>(p + i * stride)), idx0 + i);
    }
    return acc;
  }

  void run_inner(int64_t n_out, int64_t n_red) {
    const int nt = max_threads();
    auto one_output = [&](int64_t o) {
      int64_t in_off, out_off;
      offsets_of(kept_, o, in_off, out_off);
      *reinterpret_cast<Out*>(out_ + out_off) = r_.finish(fold_range(in_ + in_off, 0, n_red));
    };
    const int64_t total = n_out * (n_red > 0 ? n_red : 1);
    if (total < kParallelGrain || nt == 1) {
      for (int64_t o = 0; o < n_out; ++o) one_output(o);
      return;
    }
    if (n_out >= 4 * nt) {
      const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n_red, 1));
      parallel_range(n_out, grain, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) one_output(o);
      });
      return;
    }
    // few outputs, long reductions: split each reduction across threads
    std::unique_ptr<Acc[]> partial(new Acc[static_cast<size_t>(nt)]);
    for (int64_t o = 0; o < n_out; ++o) {
      int64_t in_off, out_off;
      offsets_of(kept_, o, in_off, out_off);
      const char* base = in_ + in_off;
      const int64_t chunk = (n_red + nt - 1) / nt;
      for (int t = 0; t < nt; ++t) partial[static_cast<size_t>(t)] = r_.identity();
      parallel_range(nt, 1, [&](int64_t tb, int64_t te) {
        for (int64_t t = tb; t < te; ++t) {
          const int64_t b = t * chunk, e = std::min(n_red, b + chunk);
          if (b < e) partial[static_cast<size_t>(t)] = fold_range(base, b, e);
        }
      });
      Acc acc = partial[0];
      for (int t = 1; t < nt; ++t) acc = r_.combine(acc, partial[static_cast<size_t>(t)]);
      *reinterpret_cast<Out*>(out_ + out_off) = r_.finish(acc);
    }
  }

  // ---- outer case -----------------------------------------------------------

  // Folds rows [b, e) of the reduced range into acc[0..w) for the tile at base.
  void fold_rows(const char* base, int w, int64_t b, int64_t e, Acc* acc) const {
    if (e - b > kRowBlock) {
      const int64_t mid = b + (e - b) / 2;
      fold_rows(base, w, b, mid, acc);
      Acc right[kTile];
      for (int j = 0; j < w; ++j) right[j] = r_.identity();
      fold_rows(base, w, mid, e, right);
      for (int j = 0; j < w; ++j) acc[j] = r_.combine(acc[j], right[j]);
      return;
    }
    const int64_t ks = kept_.in_strides[0];
    for (int64_t row = b; row < e; ++row) {
      int64_t in_off, unused;
      offsets_of(red_, row, in_off, unused);
      const char* p = base + in_off;
      if (ks == static_cast<int64_t>(sizeof(T))) {
        const T* x = reinterpret_cast<const T*>(p);
        for (int j = 0; j < w; ++j) acc[j] = r_.step(acc[j], Num<T>::load(x[j]), row);
      } else {
        for (int j = 0; j < w; ++j) {
          acc[j] = r_.step(acc[j], Num<T>::load(*reinterpret_cast<const T*>(p + j * ks)), row);
        }
      }
    }
  }

  void store_tile(int64_t out_off, int w, const Acc* acc) const {
    const int64_t os = kept_.out_strides[0];
    for (int j = 0; j < w; ++j) *reinterpret_cast<Out*>(out_ + out_off + j * os) = r_.finish(acc[j]);
  }

  void run_outer(int64_t n_red) {
    // tiles: kept dim 0 cut in pieces of kTile, times the other kept dims
    const int64_t k0 = kept_.sizes[0];
    const int64_t tiles_per_row = (k0 + kTile - 1) / kTile;
    const int64_t n_rest = kept_.numel / k0;
    const int64_t n_tiles = tiles_per_row * n_rest;
    Dims rest = kept_;  // kept dims without dim 0
    rest.nd = kept_.nd - 1;
    for (int k = 0; k < rest.nd; ++k) {
      rest.sizes[k] = kept_.sizes[k + 1];
      rest.in_strides[k] = kept_.in_strides[k + 1];
      rest.out_strides[k] = kept_.out_strides[k + 1];
    }
    auto tile_origin = [&](int64_t t, int64_t& in_off, int64_t& out_off, int& w) {
      const int64_t piece = t % tiles_per_row;
      offsets_of(rest, t / tiles_per_row, in_off, out_off);
      in_off += piece * kTile * kept_.in_strides[0];
      out_off += piece * kTile * kept_.out_strides[0];
      w = static_cast<int>(std::min<int64_t>(kTile, k0 - piece * kTile));
    };
    auto one_tile = [&](int64_t t) {
      int64_t in_off, out_off;
      int w;
      tile_origin(t, in_off, out_off, w);
      Acc acc[kTile];
      for (int j = 0; j < w; ++j) acc[j] = r_.identity();
      fold_rows(in_ + in_off, w, 0, n_red, acc);
      store_tile(out_off, w, acc);
    };
    const int nt = max_threads();
    const int64_t total = kept_.numel * n_red;
    if (total < kParallelGrain || nt == 1) {
      for (int64_t t = 0; t < n_tiles; ++t) one_tile(t);
      return;
    }
    if (n_tiles >= 2 * nt) {
      parallel_range(n_tiles, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) one_tile(t);
      });
      return;
    }
    // few tiles: split the rows across threads, combine in row order
    const size_t n_partial = static_cast<size_t>(nt) * kTile;
    std::unique_ptr<Acc[]> partial(new Acc[n_partial]);
    for (int64_t t = 0; t < n_tiles; ++t) {
      int64_t in_off, out_off;
      int w;
      tile_origin(t, in_off, out_off, w);
      const int64_t chunk = (n_red + nt - 1) / nt;
      for (size_t k = 0; k < n_partial; ++k) partial[k] = r_.identity();
      parallel_range(nt, 1, [&](int64_t tb, int64_t te) {
        for (int64_t th = tb; th < te; ++th) {
          const int64_t b = th * chunk, e = std::min(n_red, b + chunk);
          if (b < e) fold_rows(in_ + in_off, w, b, e, &partial[static_cast<size_t>(th) * kTile]);
        }
      });
      Acc acc[kTile];
      for (int j = 0; j < w; ++j) {
        acc[j] = partial[static_cast<size_t>(j)];
        for (int th = 1; th < nt; ++th) {
          acc[j] = r_.combine(acc[j], partial[static_cast<size_t>(th) * kTile + j]);
        }
      }
      store_tile(out_off, w, acc);
    }
  }

  R r_;
  const char* in_;
  char* out_;
  Dims kept_;
  Dims red_;
};

// ===========================================================================
// Entry points
// ===========================================================================

enum class Reduce { kSum, kProd, kAmax, kAmin, kArgmax, kArgmin, kAll, kAny };

constexpr uint32_t reduce_mask(Reduce k) {
  switch (k) {
    case Reduce::kAmax:
    case Reduce::kAmin:
    case Reduce::kAll:
    case Reduce::kAny:
      return kMaskAll;
    default:
      return kMaskNumeric;
  }
}

template <Reduce K, class T>
auto make_reducer() {
  if constexpr (K == Reduce::kSum) return SumReducer<T>{};
  if constexpr (K == Reduce::kProd) return ProdReducer<T>{};
  if constexpr (K == Reduce::kAmax) return ExtremumReducer<T, true>{};
  if constexpr (K == Reduce::kAmin) return ExtremumReducer<T, false>{};
  if constexpr (K == Reduce::kArgmax) return ArgReducer<T, true>{};
  if constexpr (K == Reduce::kArgmin) return ArgReducer<T, false>{};
  if constexpr (K == Reduce::kAll) return BoolReducer<T, true>{};
  if constexpr (K == Reduce::kAny) return BoolReducer<T, false>{};
}

template <Reduce K>
prism_plugin_error* run_reduce(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  constexpr bool kArg = K == Reduce::kArgmax || K == Reduce::kArgmin;
  constexpr bool kBool = K == Reduce::kAll || K == Reduce::kAny;
  const int32_t out_dtype = kArg ? PRISM_DTYPE_I64 : kBool ? PRISM_DTYPE_BOOL : x.dtype;
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, out_dtype, "output"));
  if (out.ndim != x.ndim) {
    return PRISM_CPU_INVALID("%s: output must keep the input's %d dims (keepdim layout), got %d", c->op,
                             static_cast<int>(x.ndim), static_cast<int>(out.ndim));
  }
  int64_t arg_dim = -1;
  if constexpr (kArg) {
    const prism_attr* dim = nullptr;
    PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "dim", PRISM_ATTR_INT, &dim));
    arg_dim = prism_sdk_attr_as_int(dim);
    const int64_t nd = x.ndim == 0 ? 1 : x.ndim;
    if (arg_dim < -nd || arg_dim >= nd) {
      return PRISM_CPU_INVALID("%s: dim %lld out of range for %d dims", c->op,
                               static_cast<long long>(arg_dim), static_cast<int>(x.ndim));
    }
    if (arg_dim < 0) arg_dim += nd;
  }
  const int64_t in_es = static_cast<int64_t>(prism_sdk_dtype_size(x.dtype));
  const int64_t out_es = static_cast<int64_t>(prism_sdk_dtype_size(out.dtype));
  Dims kept, red;
  for (int d = x.ndim - 1; d >= 0; --d) {
    const int64_t n = x.sizes[d];
    if (out.sizes[d] != n && out.sizes[d] != 1) {
      return PRISM_CPU_INVALID("%s: output size %lld at dim %d must be 1 or the input's %lld", c->op,
                               static_cast<long long>(out.sizes[d]), d, static_cast<long long>(n));
    }
    if (n == 1) continue;
    if (out.sizes[d] == n) {
      const int i = kept.nd++;
      kept.sizes[i] = n;
      kept.in_strides[i] = x.strides[d] * in_es;
      kept.out_strides[i] = out.strides[d] * out_es;
      kept.numel *= n;
    } else {
      if (kArg && d != arg_dim) {
        return PRISM_CPU_INVALID("%s: only dim %lld may be reduced, but the output has size 1 at dim %d",
                                 c->op, static_cast<long long>(arg_dim), d);
      }
      const int i = red.nd++;
      red.sizes[i] = n;
      red.in_strides[i] = x.strides[d] * in_es;
      red.out_strides[i] = 0;
      red.numel *= n;
    }
  }
  if (kept.numel == 0) return nullptr;
  if (red.numel == 0 && !(K == Reduce::kSum || K == Reduce::kProd || kBool)) {
    return PRISM_CPU_INVALID("%s: cannot reduce over an empty dimension", c->op);
  }
  sort_and_coalesce(kept, true);
  if (!kArg) sort_and_coalesce(red, false);
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (in_mask<T>(reduce_mask(K))) {
      using R = decltype(make_reducer<K, T>());
      if (red.numel == 0) {  // empty reduction: the identity everywhere
        red.nd = 0;
        red.numel = 0;
      }
      ReduceKernel<T, R> kernel(R{}, static_cast<const char*>(desc_data(x)), desc_data(out), kept, red);
      kernel.run();
      return nullptr;
    }
    return unsupported_dtype(c, x.dtype);
  });
}

#define PRISM_CPU_DEF(name, kind) \
  { sizeof(prism_kernel_def), name, reduce_mask(Reduce::kind), nullptr, run_reduce<Reduce::kind> }

const prism_kernel_def kKernels[] = {
    PRISM_CPU_DEF("sum", kSum),   PRISM_CPU_DEF("prod", kProd),     PRISM_CPU_DEF("amax", kAmax),
    PRISM_CPU_DEF("amin", kAmin), PRISM_CPU_DEF("argmax", kArgmax), PRISM_CPU_DEF("argmin", kArgmin),
    PRISM_CPU_DEF("all", kAll),   PRISM_CPU_DEF("any", kAny),
};

}  // namespace

KernelList reduce_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
