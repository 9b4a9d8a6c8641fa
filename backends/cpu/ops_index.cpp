// ops_index.cpp — indexing kernels: gather, scatter, index_select, index_put, nonzero, cumsum/cumprod, sort,
// topk.
#include <algorithm>
#include <vector>

#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// Note [Indexing kernels]
// -----------------------
// Every kernel here walks "the other dims" of its tensors with a StridedPlan
// (the indexed dim `dim` dropped from every operand) and handles the indexed
// dim in a loop of its own: outside the walk for gather, scatter,
// index_select and index_put (Note [Row order]), inside it for the scans and
// sorts, which need a whole line at once. Two consequences:
// - Destinations picked by different elements of the other dims never
//   overlap, so that walk may be threaded while writes through an index
//   (scatter, index_put) stay race free and accumulate in index order: the
//   results are deterministic whatever the thread count.
// - Views of any strides (transposed, offset, stride-0 broadcast sources) are
//   handled by the plan; only the index tensors must be int64 (the core casts
//   int32 indices before calling).
// Index values are validated in a first pass, before anything is written, so
// an out-of-range index leaves the output untouched and is reported through
// the plugin error path ("index 5 is out of bounds for dimension 0 with
// size 3"). With the `wrap` attribute set, -size <= i < 0 counts from the end.

// A descriptor with dim `dim` removed; the sizes come from `shape`.
struct SubDesc {
  prism_tensor_desc d{};
  int64_t sizes[PRISM_MAX_DIMS] = {};
  int64_t strides[PRISM_MAX_DIMS] = {};
};

void drop_dim(SubDesc& s, const prism_tensor_desc& src, const prism_tensor_desc& shape, int dim) {
  s.d = src;
  int n = 0;
  for (int k = 0; k < src.ndim; ++k) {
    if (k == dim) continue;
    s.sizes[n] = shape.sizes[k];
    s.strides[n] = src.strides[k];
    ++n;
  }
  s.d.ndim = n;
  s.d.sizes = s.sizes;
  s.d.strides = s.strides;
}

// Builds the plan of `n` operands, each with `dim` dropped, shaped like `shape`.
void plan_without_dim(StridedPlan& p, const prism_tensor_desc* const* ops, int n,
                      const prism_tensor_desc& shape, int dim) {
  SubDesc subs[kMaxOperands];
  const prism_tensor_desc* ptrs[kMaxOperands];
  for (int k = 0; k < n; ++k) {
    drop_dim(subs[k], *ops[k], shape, dim);
    ptrs[k] = &subs[k].d;
  }
  build_plan(p, ptrs, n);
}

// Calls body(ptrs, jb, je) for every element of `plan` (pointers to each
// operand's element), over inner indices [jb, je) of `inner`. Threads split
// the outer elements, or the inner range when `split_inner` allows it and the
// outer walk is too short to feed the threads.
template <class Body>
void run_outer_inner(const StridedPlan& plan, int64_t inner, bool split_inner, const Body& body) {
  if (plan.numel == 0 || inner == 0) return;
  auto outer = [&](int64_t b, int64_t e, int64_t jb, int64_t je) {
    auto run = [&](char** p, const int64_t* s, int64_t n) {
      char* q[kMaxOperands];
      for (int64_t i = 0; i < n; ++i) {
        for (int k = 0; k < plan.nops; ++k) q[k] = p[k] + i * s[k];
        body(q, jb, je);
      }
    };
    for_each_run(plan, b, e, run);
  };
  const int64_t total = plan.numel * inner;
  if (total < kParallelGrain || max_threads() == 1) {
    outer(0, plan.numel, 0, inner);
  } else if (plan.numel >= 4 * max_threads() || !split_inner) {
    parallel_range(plan.numel, std::max<int64_t>(1, kParallelGrain / inner),
                   [&](int64_t b, int64_t e) { outer(b, e, 0, inner); });
  } else {
    parallel_range(inner, std::max<int64_t>(1, kParallelGrain / plan.numel),
                   [&](int64_t jb, int64_t je) { outer(0, plan.numel, jb, je); });
  }
}

// Note [Row order]
// gather, scatter, index_select and index_put take the indexed dim `j` as the
// outer loop: for each j the operands' data move by shift(j) (bytes per
// operand) and `run` gets the runs of the other dims, so a row of an
// embedding table or a slice of a batch is copied along its contiguous dim
// (vectorised), not one element per pass over the whole index. Threads split
// the j range when writes cannot collide (`split_inner`: gather,
// index_select), else the other dims, each thread walking every j in order
// (scatter, index_put: duplicates accumulate in index order).
template <class Shift, class Run>
void run_rows(const StridedPlan& plan, int64_t inner, bool split_inner, const Shift& shift, const Run& run) {
  if (plan.numel == 0 || inner == 0) return;
  auto walk = [&](int64_t b, int64_t e, int64_t jb, int64_t je) {
    StridedPlan local = plan;
    Run r = run;
    int64_t off[kMaxOperands] = {};
    for (int64_t j = jb; j < je; ++j) {
      shift(j, off);
      for (int k = 0; k < plan.nops; ++k) local.data[k] = plan.data[k] + off[k];
      for_each_run(local, b, e, r);
    }
  };
  const int64_t total = plan.numel * inner;
  if (total < kParallelGrain || max_threads() == 1) {
    walk(0, plan.numel, 0, inner);
  } else if (split_inner && inner >= max_threads()) {
    parallel_range(inner, std::max<int64_t>(1, kParallelGrain / plan.numel),
                   [&](int64_t jb, int64_t je) { walk(0, plan.numel, jb, je); });
  } else {
    parallel_range(plan.numel, std::max<int64_t>(1, kParallelGrain / inner),
                   [&](int64_t b, int64_t e) { walk(b, e, 0, inner); });
  }
}

prism_plugin_error* read_dim(const prism_kernel_call* c, int ndim, int& dim) {
  const prism_attr* a = nullptr;
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "dim", PRISM_ATTR_INT, &a));
  const int64_t d = prism_sdk_attr_as_int(a);
  if (d < 0 || d >= (ndim == 0 ? 1 : ndim)) {
    return PRISM_CPU_INVALID("%s: dim %lld out of range for a tensor of %d dims", c->op,
                             static_cast<long long>(d), ndim);
  }
  dim = static_cast<int>(d);
  return nullptr;
}

inline int64_t elem_size(const prism_tensor_desc& d) {
  return static_cast<int64_t>(prism_sdk_dtype_size(d.dtype));
}

// Checks every value of the int64 tensor `index` against [0, size) (or
// [-size, size) with wrap) before any write.
prism_plugin_error* check_indices(const prism_kernel_call* c, const prism_tensor_desc& index, int64_t size,
                                  int dim, bool wrap) {
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, index, PRISM_DTYPE_I64, "index"));
  const prism_tensor_desc* ops[1] = {&index};
  StridedPlan p;
  build_plan(p, ops, 1);
  const int64_t lo = wrap ? -size : 0;
  bool bad = false;
  int64_t bad_value = 0;
  auto run = [&](char** ptr, const int64_t* s, int64_t n) {
    if (bad) return;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = *reinterpret_cast<const int64_t*>(ptr[0] + i * s[0]);
      if (v < lo || v >= size) {
        bad = true;
        bad_value = v;
        return;
      }
    }
  };
  if (p.numel > 0) for_each_run(p, 0, p.numel, run);
  if (bad) {
    return PRISM_CPU_INVALID("%s: index %lld is out of bounds for dimension %d with size %lld", c->op,
                             static_cast<long long>(bad_value), dim, static_cast<long long>(size));
  }
  return nullptr;
}

inline int64_t load_index(const char* p, int64_t size) {
  const int64_t v = *reinterpret_cast<const int64_t*>(p);
  return v < 0 ? v + size : v;
}

// ===========================================================================
// gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along dim
//   inputs (x, index) -> out, index and out of the same shape
// ===========================================================================

// Gather and index_select only move elements: complex64/complex128 move as 8/16-byte words
// (Note [Complex kernels] in ops_complex.cpp).
struct Bytes16 {
  uint64_t lo, hi;
};
template <class Fn>
prism_plugin_error* dispatch_move(const prism_kernel_call* c, int32_t dtype, Fn&& fn) {
  if (dtype == PRISM_DTYPE_C64) return fn(TypeTag<uint64_t>{});
  if (dtype == PRISM_DTYPE_C128) return fn(TypeTag<Bytes16>{});
  return dispatch_dtype(c, dtype, fn);
}

prism_plugin_error* run_gather(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& index = c->inputs[1];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, x.dtype, "output"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, index, "index"));
  if (x.ndim != out.ndim || x.ndim == 0) {
    return PRISM_CPU_INVALID("%s: input, index and output need the same number (>= 1) of dims", c->op);
  }
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, x.ndim, dim));
  for (int k = 0; k < x.ndim; ++k) {
    if (k != dim && index.sizes[k] > x.sizes[k]) {
      return PRISM_CPU_INVALID("%s: index size %lld exceeds the input's %lld at dim %d", c->op,
                               static_cast<long long>(index.sizes[k]), static_cast<long long>(x.sizes[k]), k);
    }
  }
  const int64_t size = x.sizes[dim];
  PRISM_CPU_RETURN_IF_ERROR(check_indices(c, index, size, dim, false));
  const prism_tensor_desc* ops[3] = {&out, &index, &x};
  StridedPlan p;
  plan_without_dim(p, ops, 3, out, dim);
  const int64_t es = elem_size(x);
  const int64_t so = out.strides[dim] * es, si = index.strides[dim] * 8, sx = x.strides[dim] * es;
  const int64_t inner = out.sizes[dim];
  return dispatch_move(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    auto shift = [&](int64_t j, int64_t* off) {
      off[0] = j * so;
      off[1] = j * si;
      off[2] = 0;
    };
    run_rows(p, inner, true, shift, [&](char** q, const int64_t* st, int64_t n) {
      for (int64_t e = 0; e < n; ++e) {
        const int64_t i = load_index(q[1] + e * st[1], size);
        *reinterpret_cast<T*>(q[0] + e * st[0]) = *reinterpret_cast<const T*>(q[2] + e * st[2] + i * sx);
      }
    });
    return nullptr;
  });
}

// dst (op) v for scatter's reduce codes 1 add, 2 multiply, 3 max, 4 min (bool: or, and, or, and).
template <class T>
inline T combine(int64_t reduce, T dst, T v) {
  if constexpr (kIsBool<T>) {
    return (reduce == 1 || reduce == 3) ? (dst || v) : (dst && v);
  } else {
    using C = Compute<T>;
    const C a = Num<T>::load(dst), b = Num<T>::load(v);
    switch (reduce) {
      case 1:
        return Num<T>::store(static_cast<C>(wrap_add(a, b)));
      case 2:
        return Num<T>::store(static_cast<C>(wrap_mul(a, b)));
      case 3:
        if constexpr (kIsFloat<T>) {
          if (a != a) return dst;
          if (b != b) return v;
        }
        return b > a ? v : dst;
      default:
        if constexpr (kIsFloat<T>) {
          if (a != a) return dst;
          if (b != b) return v;
        }
        return b < a ? v : dst;
    }
  }
}

// ===========================================================================
// scatter: self[..., index[..., j, ...], ...] (=|+=) src[..., j, ...] along dim
//   inputs (index, src) -> self (written in place); attrs dim, reduce (0 copy, 1 add, 2 multiply,
//   3 max, 4 min; max/min propagate NaN)
// ===========================================================================

prism_plugin_error* run_scatter(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& index = c->inputs[0];
  const prism_tensor_desc& src = c->inputs[1];
  const prism_tensor_desc& self = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, src, self.dtype, "src"));
  if (self.ndim != index.ndim || src.ndim != index.ndim || self.ndim == 0) {
    return PRISM_CPU_INVALID("%s: self, index and src need the same number (>= 1) of dims", c->op);
  }
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, self.ndim, dim));
  const int64_t reduce = prism_sdk_attr_int(c, "reduce", 0);
  if (reduce < 0 || reduce > 4) {
    return PRISM_CPU_INVALID(
        "%s: reduce must be 0 (copy), 1 (add), 2 (multiply), 3 (max) or 4 (min), got %lld", c->op,
        static_cast<long long>(reduce));
  }
  for (int k = 0; k < self.ndim; ++k) {
    if (index.sizes[k] > src.sizes[k] || (k != dim && index.sizes[k] > self.sizes[k])) {
      return PRISM_CPU_INVALID("%s: index size %lld at dim %d exceeds src (%lld) or self (%lld)", c->op,
                               static_cast<long long>(index.sizes[k]), k,
                               static_cast<long long>(src.sizes[k]), static_cast<long long>(self.sizes[k]));
    }
  }
  const int64_t size = self.sizes[dim];
  PRISM_CPU_RETURN_IF_ERROR(check_indices(c, index, size, dim, false));
  const prism_tensor_desc* ops[3] = {&self, &index, &src};
  StridedPlan p;
  plan_without_dim(p, ops, 3, index, dim);
  const int64_t es = elem_size(self);
  const int64_t sd = self.strides[dim] * es, si = index.strides[dim] * 8, ss = src.strides[dim] * es;
  const int64_t inner = index.sizes[dim];
  return dispatch_dtype(c, self.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    auto shift = [&](int64_t j, int64_t* off) {
      off[0] = 0;
      off[1] = j * si;
      off[2] = j * ss;
    };
    run_rows(p, inner, false, shift, [&](char** q, const int64_t* st, int64_t n) {
      for (int64_t e = 0; e < n; ++e) {
        const int64_t i = load_index(q[1] + e * st[1], size);
        T* dst = reinterpret_cast<T*>(q[0] + e * st[0] + i * sd);
        const T v = *reinterpret_cast<const T*>(q[2] + e * st[2]);
        *dst = reduce == 0 ? v : combine<T>(reduce, *dst, v);
      }
    });
    return nullptr;
  });
}

// ===========================================================================
// index_select: out[..., j, ...] = x[..., index[j], ...] along dim
//   inputs (x, index 1-d) -> out; attrs dim, wrap
// ===========================================================================

prism_plugin_error* run_index_select(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& index = c->inputs[1];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, x.dtype, "output"));
  if (index.ndim != 1 || x.ndim != out.ndim || x.ndim == 0) {
    return PRISM_CPU_INVALID("%s: expected a 1-d index and input/output of the same number (>= 1) of dims",
                             c->op);
  }
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, x.ndim, dim));
  for (int k = 0; k < x.ndim; ++k) {
    const int64_t want = k == dim ? index.sizes[0] : x.sizes[k];
    if (out.sizes[k] != want) {
      return PRISM_CPU_INVALID("%s: output size %lld at dim %d, expected %lld", c->op,
                               static_cast<long long>(out.sizes[k]), k, static_cast<long long>(want));
    }
  }
  const int64_t size = x.sizes[dim];
  const bool wrap = prism_sdk_attr_int(c, "wrap", 0) != 0;
  PRISM_CPU_RETURN_IF_ERROR(check_indices(c, index, size, dim, wrap));
  const prism_tensor_desc* ops[2] = {&out, &x};
  StridedPlan p;
  plan_without_dim(p, ops, 2, out, dim);
  const int64_t es = elem_size(x);
  const int64_t so = out.strides[dim] * es, sx = x.strides[dim] * es, si = index.strides[0] * 8;
  const char* idx = desc_data(index);
  return dispatch_move(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    auto shift = [&](int64_t j, int64_t* off) {
      off[0] = j * so;
      off[1] = load_index(idx + j * si, size) * sx;
    };
    run_rows(p, index.sizes[0], true, shift, [](char** q, const int64_t* st, int64_t n) {
      T* o = reinterpret_cast<T*>(q[0]);
      const T* a = reinterpret_cast<const T*>(q[1]);
      constexpr int64_t kSize = static_cast<int64_t>(sizeof(T));
      if (st[0] == kSize && st[1] == kSize) {
        for (int64_t e = 0; e < n; ++e) o[e] = a[e];
      } else {
        for (int64_t e = 0; e < n; ++e) {
          *reinterpret_cast<T*>(q[0] + e * st[0]) = *reinterpret_cast<const T*>(q[1] + e * st[1]);
        }
      }
    });
    return nullptr;
  });
}

// ===========================================================================
// index_put: self[..., index[j], ...] (=|+=) src[..., j, ...] along dim
//   inputs (index 1-d, src) -> self (in place); attrs dim, accumulate, wrap.
//   Duplicate indices: the last write wins (copy) or all add up in index order.
// ===========================================================================

prism_plugin_error* run_index_put(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& index = c->inputs[0];
  const prism_tensor_desc& src = c->inputs[1];
  const prism_tensor_desc& self = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, src, self.dtype, "src"));
  if (index.ndim != 1 || src.ndim != self.ndim || self.ndim == 0) {
    return PRISM_CPU_INVALID("%s: expected a 1-d index and self/src of the same number (>= 1) of dims",
                             c->op);
  }
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, self.ndim, dim));
  for (int k = 0; k < self.ndim; ++k) {
    const int64_t want = k == dim ? index.sizes[0] : self.sizes[k];
    if (src.sizes[k] != want) {
      return PRISM_CPU_INVALID("%s: src size %lld at dim %d, expected %lld", c->op,
                               static_cast<long long>(src.sizes[k]), k, static_cast<long long>(want));
    }
  }
  const int64_t size = self.sizes[dim];
  const bool wrap = prism_sdk_attr_int(c, "wrap", 0) != 0;
  const bool accumulate = prism_sdk_attr_int(c, "accumulate", 0) != 0;
  PRISM_CPU_RETURN_IF_ERROR(check_indices(c, index, size, dim, wrap));
  const prism_tensor_desc* ops[2] = {&self, &src};
  StridedPlan p;
  plan_without_dim(p, ops, 2, self, dim);
  const int64_t es = elem_size(self);
  const int64_t sd = self.strides[dim] * es, ss = src.strides[dim] * es, si = index.strides[0] * 8;
  const char* idx = desc_data(index);
  if (accumulate && prism_sdk_dtype_is_complex(self.dtype))
    return PRISM_CPU_INVALID("%s: accumulate is not supported for %s", c->op,
                             prism_sdk_dtype_name(self.dtype));
  return dispatch_move(c, self.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    auto shift = [&](int64_t j, int64_t* off) {
      off[0] = load_index(idx + j * si, size) * sd;
      off[1] = j * ss;
    };
    run_rows(p, index.sizes[0], false, shift, [&](char** q, const int64_t* st, int64_t n) {
      for (int64_t e = 0; e < n; ++e) {
        T* dst = reinterpret_cast<T*>(q[0] + e * st[0]);
        const T v = *reinterpret_cast<const T*>(q[1] + e * st[1]);
        if constexpr (std::is_same_v<T, Bytes16> || std::is_same_v<T, uint64_t>) {
          *dst = v;  // complex (moved as words; accumulate refused above)
        } else {
          *dst = accumulate ? combine<T>(1, *dst, v) : v;
        }
      }
    });
    return nullptr;
  });
}

// ===========================================================================
// nonzero: out[n, ndim] (int64) = coordinates of the non-zero elements of x,
// in row-major order. The core sizes `out` from a count it took first.
// ===========================================================================

prism_plugin_error* run_nonzero(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, PRISM_DTYPE_I64, "output"));
  if (out.ndim != 2 || out.sizes[1] != x.ndim) {
    return PRISM_CPU_INVALID("%s: output must be [n, %d]", c->op, static_cast<int>(x.ndim));
  }
  int64_t numel = 1;
  for (int k = 0; k < x.ndim; ++k) numel *= x.sizes[k];
  const int64_t es = elem_size(x);
  const int64_t rows = out.sizes[0];
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    int64_t coord[PRISM_MAX_DIMS] = {};
    const char* base = desc_data(x);
    char* dst = desc_data(out);
    int64_t row = 0;
    int64_t off = 0;  // element offset of coord in x
    for (int64_t e = 0; e < numel; ++e) {
      const T v = *reinterpret_cast<const T*>(base + off * es);
      if (Num<T>::load(v) != Compute<T>(0)) {
        if (row == rows)
          return PRISM_CPU_INVALID("%s: more non-zero elements than the output's %lld rows", c->op,
                                   static_cast<long long>(rows));
        for (int k = 0; k < x.ndim; ++k) {
          *reinterpret_cast<int64_t*>(dst + (row * out.strides[0] + k * out.strides[1]) * 8) = coord[k];
        }
        ++row;
      }
      for (int k = x.ndim - 1; k >= 0; --k) {  // odometer, last dim fastest
        off += x.strides[k];
        if (++coord[k] < x.sizes[k]) break;
        off -= coord[k] * x.strides[k];
        coord[k] = 0;
      }
    }
    if (row != rows) {
      return PRISM_CPU_INVALID("%s: found %lld non-zero elements, but the output has %lld rows", c->op,
                               static_cast<long long>(row), static_cast<long long>(rows));
    }
    return nullptr;
  });
}

// ===========================================================================
// cumsum / cumprod along dim: inputs (x) -> out, same dtype and shape.
// Floating inputs accumulate in double; integers wrap as in PyTorch.
// ===========================================================================

template <bool kProd>
prism_plugin_error* run_scan(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, x.dtype, "output"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  if (x.ndim == 0) return PRISM_CPU_INVALID("%s: expected at least one dim", c->op);
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, x.ndim, dim));
  const prism_tensor_desc* ops[2] = {&out, &x};
  StridedPlan p;
  plan_without_dim(p, ops, 2, out, dim);
  const int64_t es = elem_size(x);
  const int64_t so = out.strides[dim] * es, sx = x.strides[dim] * es;
  const int64_t inner = x.sizes[dim];
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (kIsBool<T>) {
      return unsupported_dtype(c, x.dtype);
    } else {
      using Acc = std::conditional_t<kIsFloat<T>, double, T>;
      run_outer_inner(p, inner, false, [&](char** q, int64_t, int64_t) {
        Acc acc = kProd ? Acc(1) : Acc(0);
        for (int64_t j = 0; j < inner; ++j) {
          const Acc v = static_cast<Acc>(Num<T>::load(*reinterpret_cast<const T*>(q[1] + j * sx)));
          acc = kProd ? wrap_mul(acc, v) : wrap_add(acc, v);
          *reinterpret_cast<T*>(q[0] + j * so) = Num<T>::store(static_cast<Compute<T>>(acc));
        }
      });
      return nullptr;
    }
  });
}

// ===========================================================================
// sort / topk along dim: inputs (x) -> (values, indices int64).
// Order: NaN is larger than every number (last ascending, first descending);
// ties keep their input order (stable), for topk too.
// ===========================================================================

template <class C>
struct Before {
  bool descending;
  bool operator()(const std::pair<C, int64_t>& a, const std::pair<C, int64_t>& b) const {
    if constexpr (std::is_floating_point_v<C>) {
      const bool an = a.first != a.first, bn = b.first != b.first;
      if (an || bn) {
        if (an && bn) return a.second < b.second;
        return descending ? an : bn;
      }
    }
    if (a.first != b.first) return descending ? a.first > b.first : a.first < b.first;
    return a.second < b.second;
  }
};

template <bool kTopk>
prism_plugin_error* run_sort(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 2));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& values = c->outputs[0];
  const prism_tensor_desc& indices = c->outputs[1];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, values, x.dtype, "values"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, indices, PRISM_DTYPE_I64, "indices"));
  if (x.ndim == 0 || values.ndim != x.ndim || !same_shape(values, indices)) {
    return PRISM_CPU_INVALID("%s: values and indices need the input's number (>= 1) of dims", c->op);
  }
  int dim = 0;
  PRISM_CPU_RETURN_IF_ERROR(read_dim(c, x.ndim, dim));
  const int64_t n = x.sizes[dim];
  int64_t k = n;
  bool descending = prism_sdk_attr_int(c, "descending", 0) != 0;
  if (kTopk) {
    k = prism_sdk_attr_int(c, "k", -1);
    descending = prism_sdk_attr_int(c, "largest", 1) != 0;
    if (k < 0 || k > n) {
      return PRISM_CPU_INVALID("%s: k %lld out of range for dimension %d with size %lld", c->op,
                               static_cast<long long>(k), dim, static_cast<long long>(n));
    }
  }
  for (int d = 0; d < x.ndim; ++d) {
    if (values.sizes[d] != (d == dim ? k : x.sizes[d])) {
      return PRISM_CPU_INVALID("%s: output size %lld at dim %d does not match", c->op,
                               static_cast<long long>(values.sizes[d]), d);
    }
  }
  const prism_tensor_desc* ops[3] = {&values, &indices, &x};
  StridedPlan p;
  plan_without_dim(p, ops, 3, x, dim);
  const int64_t es = elem_size(x);
  const int64_t sv = values.strides[dim] * es, si = indices.strides[dim] * 8, sx = x.strides[dim] * es;
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    using C = std::conditional_t<kIsBool<T>, int, Compute<T>>;
    const Before<C> before{descending};
    run_outer_inner(p, n, false, [&](char** q, int64_t, int64_t) {
      std::vector<std::pair<C, int64_t>> buf(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) {
        buf[j] = {static_cast<C>(Num<T>::load(*reinterpret_cast<const T*>(q[2] + j * sx))), j};
      }
      if (kTopk && k < n) {
        std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), before);
      } else {
        std::sort(buf.begin(), buf.end(), before);  // the index tie-break makes it stable
      }
      for (int64_t j = 0; j < k; ++j) {
        *reinterpret_cast<T*>(q[0] + j * sv) = *reinterpret_cast<const T*>(q[2] + buf[j].second * sx);
        *reinterpret_cast<int64_t*>(q[1] + j * si) = buf[j].second;
      }
    });
    return nullptr;
  });
}

#define PRISM_CPU_INDEX_DEF(name, mask, fn) \
  { sizeof(prism_kernel_def), name, mask, nullptr, fn }

const prism_kernel_def kKernels[] = {
    PRISM_CPU_INDEX_DEF("gather", kMaskAll, run_gather),
    PRISM_CPU_INDEX_DEF("scatter", kMaskAll, run_scatter),
    PRISM_CPU_INDEX_DEF("index_select", kMaskAll, run_index_select),
    PRISM_CPU_INDEX_DEF("gather", PRISM_DTYPE_MASK_COMPLEX, run_gather),
    PRISM_CPU_INDEX_DEF("index_select", PRISM_DTYPE_MASK_COMPLEX, run_index_select),
    PRISM_CPU_INDEX_DEF("index_put", PRISM_DTYPE_MASK_COMPLEX, run_index_put),
    PRISM_CPU_INDEX_DEF("index_put", kMaskAll, run_index_put),
    PRISM_CPU_INDEX_DEF("nonzero", kMaskAll, run_nonzero),
    PRISM_CPU_INDEX_DEF("cumsum", kMaskNumeric, run_scan<false>),
    PRISM_CPU_INDEX_DEF("cumprod", kMaskNumeric, run_scan<true>),
    PRISM_CPU_INDEX_DEF("sort", kMaskAll, run_sort<false>),
    PRISM_CPU_INDEX_DEF("topk", kMaskAll, run_sort<true>),
};

}  // namespace

KernelList index_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
