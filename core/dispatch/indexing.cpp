// indexing.cpp — indexing ops: subscripts (views and advanced indexing), index_put, gather/scatter,
// index_select/add/fill, masked ops, take, nonzero, tril/triu, cumsum/cumprod, sort/topk, one_hot, embedding.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"

namespace prism {

namespace ag = autograd;

namespace {

// Note [Indexing in the core]
// ---------------------------
// The plugin primitives are gather, scatter (copy/add/multiply/max/min), index_select,
// index_put (copy/add along one dim), nonzero, cumsum, cumprod, sort and topk
// (docs/ops.md). Everything else here is composed from them and from the
// elementwise ops, so every device gets the whole set, and a device without
// these kernels runs them through the CPU fallback (Note [Dispatch]).
// Gradients are closures (record_closure) written with the same dispatcher
// ops; composites built from recorded ops (masked_select, take, advanced
// indexing, masked_fill through where) get theirs from the ops they use.
// Backward closures are not themselves differentiable (no double backward).

Tensor zeros_sized(const Dims& s, const Tensor& like) {
  return full(s, 0.0, like->dtype, like->device());
}
Tensor i64_scalar(int64_t v, Device* dev) {
  return scalar_tensor(static_cast<double>(v), PRISM_DTYPE_I64, dev);
}

// Adds the user-facing op name in front of errors raised underneath it (a
// kernel reports its own kernel name).
template <typename F>
auto as_op(const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    std::string m = e.what();
    std::string prefix = std::string(op);
    if (m.compare(0, prefix.size() + 1, prefix + ":") == 0 ||
        m.compare(0, prefix.size() + 1, prefix + "(") == 0)
      throw;
    throw Error(e.status(), detail::str_cat(op, ": ", m));
  }
}

// Index tensors are int64 (int32 is converted); anything else is an error naming the dtype.
Tensor long_index(const char* op, const Tensor& idx, const char* what = "index") {
  PRISM_CHECK(idx != nullptr, INVALID_ARGUMENT, op, ": ", what, " is undefined");
  PRISM_CHECK(idx->dtype == PRISM_DTYPE_I64 || idx->dtype == PRISM_DTYPE_I32, INVALID_ARGUMENT, op,
              "(): expected ", what, " to have dtype int64 or int32, but got ", dtype_name(idx->dtype), " (",
              describe(idx), ")");
  return idx->dtype == PRISM_DTYPE_I64 ? idx : to_dtype(idx, PRISM_DTYPE_I64);
}

// gather / index_select index: int64 or int32; an EMPTY index of another
// dtype is accepted too (nothing is read from it): any dtype for gather, as
// PyTorch's gather, and any integer dtype for index_select (PyTorch 1.13's
// index_select refuses int8/int16/uint8 even when empty; Prism does not).
Tensor long_index_or_empty(const char* op, const Tensor& idx, bool integer_only) {
  PRISM_CHECK(idx != nullptr, INVALID_ARGUMENT, op, ": index is undefined");
  if (idx->numel() == 0 && idx->dtype != PRISM_DTYPE_I64 && idx->dtype != PRISM_DTYPE_I32 &&
      (!integer_only || is_integral(idx->dtype, false)))
    return empty(idx->sizes, PRISM_DTYPE_I64, idx->device());
  return long_index(op, idx);
}

void require_bool_mask(const char* op, const Tensor& mask) {
  PRISM_CHECK(mask != nullptr, INVALID_ARGUMENT, op, ": mask is undefined");
  PRISM_CHECK(mask->dtype == PRISM_DTYPE_BOOL, INVALID_ARGUMENT, op,
              "(): expected a bool mask, but got mask with dtype ", dtype_name(mask->dtype), " (",
              describe(mask), ")");
}

// A 0-d tensor seen as a 1-element 1-d one (no autograd: kernel-level helper).
Tensor as_1d(const Tensor& t) {
  return t->dim() == 0 ? make_view(t, Dims{1}, Dims{1}, t->offset) : t;
}

// Runs `fwd` without recording and attaches `bwd` as `name` to its result.
template <typename Fwd>
Tensor with_closure(const char* op, const char* name, const std::vector<Tensor>& inputs,
                    const std::vector<Tensor>& saved, Fwd&& fwd, ag::BackwardClosure bwd) {
  Tensor out;
  {
    ag::NoGradGuard ng;
    out = fwd();
  }
  ag::record_closure(op, name, out, inputs, saved, std::move(bwd));
  return out;
}

// Zeros of `sizes` with `t` written into its leading corner (gradient of an
// input larger than the index that used it).
Tensor pad_to(const Tensor& t, const Dims& sizes) {
  if (t->sizes == sizes) return t;
  Tensor z = zeros_sized(sizes, t);
  Tensor v = z;
  for (int d = 0; d < t->dim(); ++d) v = narrow(v, d, 0, t->sizes[d]);
  copy_(v, t);
  return z;
}

// ---- kernel-level primitives (no autograd; dims already wrapped) ---------------------------------------

Tensor index_select_raw(const Tensor& x, int64_t d, const Tensor& idx, bool wrap) {
  Tensor x1 = as_1d(x);
  Dims s = x1->sizes;
  s[static_cast<int>(d)] = idx->numel();
  Tensor out = empty(s, x->dtype, x->device());
  if (out->numel() > 0) {
    Attrs a;
    a.add_int("dim", d).add_int("wrap", wrap ? 1 : 0);
    Tensor i1 = as_1d(idx);
    run_kernel("index_select", x->dtype, {x1.get(), i1.get()}, {out.get()}, a);
  }
  return out;
}

// self[..., idx[j], ...] (= or +=) src[..., j, ...] along d; src broadcasts.
void index_put_dim_raw(const Tensor& self, int64_t d, const Tensor& idx, const Tensor& src, bool accumulate,
                       bool wrap) {
  bump_version(self);
  Tensor s1 = as_1d(self);
  Dims want = s1->sizes;
  want[static_cast<int>(d)] = idx->numel();
  if (numel_of(want) == 0) return;
  Tensor v = src->dtype == self->dtype ? src : to_dtype(src, self->dtype);
  if (v->sizes != want) v = expand(v, want);
  Tensor i1 = as_1d(idx);
  Attrs a;
  a.add_int("dim", d).add_int("accumulate", accumulate ? 1 : 0).add_int("wrap", wrap ? 1 : 0);
  run_kernel("index_put", self->dtype, {i1.get(), v.get()}, {s1.get()}, a);
}

Tensor gather_raw(const Tensor& x, int64_t d, const Tensor& idx) {
  Tensor x1 = as_1d(x), i1 = as_1d(idx);
  Tensor out = empty(i1->sizes, x->dtype, x->device());
  if (out->numel() > 0) {
    Attrs a;
    a.add_int("dim", d);
    run_kernel("gather", x->dtype, {x1.get(), i1.get()}, {out.get()}, a);
  }
  return idx->dim() == 0 ? make_view(out, Dims{}, Dims{}, out->offset) : out;
}

// self[..., idx[i], ...] (op)= src[i] along d, in place; src must be at least idx's size. `reduce` is the
// kernel's code: 0 copy, 1 add, 2 multiply, 3 max, 4 min.
void scatter_reduce_raw(const Tensor& self, int64_t d, const Tensor& idx, const Tensor& src, int reduce) {
  bump_version(self);
  if (idx->numel() == 0) return;
  Tensor s1 = as_1d(self), i1 = as_1d(idx);
  Tensor v = src->dtype == self->dtype ? src : to_dtype(src, self->dtype);
  v = as_1d(v);
  Attrs a;
  a.add_int("dim", d).add_int("reduce", reduce);
  run_kernel("scatter", self->dtype, {i1.get(), v.get()}, {s1.get()}, a);
}

void scatter_raw(const Tensor& self, int64_t d, const Tensor& idx, const Tensor& src, bool add) {
  scatter_reduce_raw(self, d, idx, src, add ? 1 : 0);
}

Tensor scatter_add_into_zeros(const Dims& sizes, int64_t d, const Tensor& idx, const Tensor& g) {
  Tensor z = zeros_sized(sizes, g);
  scatter_raw(z, d, idx, g, true);
  return z;
}

// Shapes of gather/scatter: index has self's number of dims, and is no larger
// than self outside `d` and than src everywhere (PyTorch's rules).
void check_scatter_shapes(const char* op, const Tensor& self, int64_t d, const Tensor& idx,
                          const Tensor& src) {
  int64_t nd = std::max<int64_t>(self->dim(), 1);
  int64_t ni = std::max<int64_t>(idx->dim(), 1);
  PRISM_CHECK(nd == ni, INVALID_ARGUMENT, op,
              "(): Index tensor must have the same number of dimensions as input tensor (index ",
              describe(idx), ", input ", describe(self), ")");
  if (src) {
    PRISM_CHECK(std::max<int64_t>(src->dim(), 1) == ni, INVALID_ARGUMENT, op,
                "(): Index tensor must have the same number of dimensions as src tensor (index ",
                describe(idx), ", src ", describe(src), ")");
  }
  Tensor s1 = as_1d(self), i1 = as_1d(idx);
  for (int k = 0; k < ni; ++k) {
    PRISM_CHECK(k == d || i1->sizes[k] <= s1->sizes[k], INVALID_ARGUMENT, op,
                "(): Size does not match at dimension ", k, " expected index ", idx->sizes.str(),
                " to be smaller than self ", self->sizes.str(), " apart from dimension ", d);
    if (src) {
      Tensor c1 = as_1d(src);
      PRISM_CHECK(i1->sizes[k] <= c1->sizes[k], INVALID_ARGUMENT, op, "(): Size does not match at dimension ",
                  k, " expected index ", idx->sizes.str(), " to be smaller than src ", src->sizes.str());
    }
  }
}

// ---- subscripts ----------------------------------------------------------------------------------------

// Note [Advanced indexing]
// ------------------------
// t[i0, i1, ...] is applied left to right: an integer selects (removes the
// dim), a slice narrows with a step (> 0), None inserts a size-1 dim and one
// `...` stands for the dims no other entry consumes. These give views. Index
// tensors (int64/int32, negative values count from the end) and bool masks (a
// mask of k dims stands for the k int64 tensors of its nonzero() coordinates,
// and its shape must match the dims it covers) make the result a copy: the
// index tensors broadcast together to B, and the result has the dims B in
// place of the indexed dims when those were adjacent, else first (the
// NumPy/PyTorch rule; integers are applied before, as in PyTorch, so they do
// not separate index tensors). The implementation moves the indexed dims to
// the front, merges them into one, turns the indices into a linear index and
// calls index_select (reading) or index_put (writing) along that dim.
// Covered: any mix of the entries above. Not covered: negative slice steps
// (an error, as in PyTorch).

struct Subscript {
  Tensor view;                     // x after integers, slices, None and `...` (a view of x)
  std::vector<int64_t> dims;       // dims of `view` taken by index tensors, ascending
  std::vector<int64_t> orig_dims;  // the same dims numbered as in x (for messages)
  std::vector<Tensor> idx;         // one int64 tensor per entry of dims (not yet broadcast)
};

bool is_mask(const Tensor& t) {
  return t->dtype == PRISM_DTYPE_BOOL || t->dtype == PRISM_DTYPE_U8;
}

Subscript apply_subscript(const char* op, const Tensor& x, const std::vector<TensorIndex>& indices) {
  int64_t consumed = 0;
  int ellipses = 0;
  for (const TensorIndex& i : indices) {
    switch (i.kind) {
      case TensorIndex::kInt:
      case TensorIndex::kSlice:
        ++consumed;
        break;
      case TensorIndex::kEllipsis:
        ++ellipses;
        break;
      case TensorIndex::kNone:
        break;
      case TensorIndex::kTensor:
        PRISM_CHECK(i.tensor != nullptr, INVALID_ARGUMENT, op, ": index tensor is undefined");
        consumed += is_mask(i.tensor) ? i.tensor->dim() : 1;
        break;
      default:
        PRISM_FAIL(INVALID_ARGUMENT, op, ": unknown index kind ", int(i.kind));
    }
  }
  PRISM_CHECK(ellipses <= 1, INVALID_ARGUMENT, op, ": an index can only have a single ellipsis ('...')");
  PRISM_CHECK(consumed <= x->dim(), INVALID_ARGUMENT, op, ": too many indices for tensor of dimension ",
              x->dim(), " (got ", consumed, ")");
  Subscript s;
  s.view = x;
  int64_t d = 0;     // current dim of s.view
  int64_t orig = 0;  // current dim of x
  for (const TensorIndex& i : indices) {
    switch (i.kind) {
      case TensorIndex::kInt: {
        int64_t size = s.view->sizes[static_cast<int>(d)];
        PRISM_CHECK(i.value >= -size && i.value < size, INVALID_ARGUMENT, op, ": index ", i.value,
                    " is out of bounds for dimension ", orig, " with size ", size);
        s.view = select(s.view, d, i.value);
        ++orig;
        break;
      }
      case TensorIndex::kSlice:
        PRISM_CHECK(i.step > 0, INVALID_ARGUMENT, op, ": step must be greater than zero (got ", i.step,
                    "); negative steps are not supported");
        s.view = slice(s.view, d, i.start, i.stop, i.step);
        ++d;
        ++orig;
        break;
      case TensorIndex::kNone:
        s.view = unsqueeze(s.view, d);
        ++d;
        break;
      case TensorIndex::kEllipsis:
        d += x->dim() - consumed;
        orig += x->dim() - consumed;
        break;
      case TensorIndex::kTensor: {
        Tensor t = i.tensor;
        if (t->device() != x->device()) t = to_device(t, x->device());
        if (is_mask(t)) {
          if (t->dtype == PRISM_DTYPE_U8) t = to_dtype(t, PRISM_DTYPE_BOOL);
          if (t->dim() == 0) {  // t[True] adds a dim of size 1, t[False] one of size 0
            s.view = unsqueeze(s.view, d);
            int64_t n = item_int64(t) != 0 ? 1 : 0;
            s.dims.push_back(d);
            s.orig_dims.push_back(orig);
            s.idx.push_back(arange(0, static_cast<double>(n), 1, PRISM_DTYPE_I64, x->device()));
            ++d;
            break;
          }
          for (int k = 0; k < t->dim(); ++k) {
            PRISM_CHECK(t->sizes[k] == s.view->sizes[static_cast<int>(d) + k], INVALID_ARGUMENT, op,
                        ": The shape of the mask ", t->sizes.str(), " at index ", k,
                        " does not match the shape of the indexed tensor ", x->sizes.str(), " at index ",
                        orig + k);
          }
          Tensor nz = nonzero(t);  // [n, k]
          for (int k = 0; k < t->dim(); ++k) {
            s.dims.push_back(d + k);
            s.orig_dims.push_back(orig + k);
            s.idx.push_back(select(nz, 1, k));
          }
          d += t->dim();
          orig += t->dim();
        } else {
          PRISM_CHECK(t->dtype == PRISM_DTYPE_I64 || t->dtype == PRISM_DTYPE_I32, INVALID_ARGUMENT, op,
                      ": tensors used as indices must be int64, int32 or bool tensors, but got ",
                      dtype_name(t->dtype), " (", describe(t), ")");
          s.dims.push_back(d);
          s.orig_dims.push_back(orig);
          s.idx.push_back(long_index(op, t));
          ++d;
          ++orig;
        }
        break;
      }
    }
  }
  return s;
}

// The index tensors of a subscript, merged.
struct Advanced {
  Dims bshape;    // broadcast shape of the index tensors
  Tensor linear;  // int64 [numel(bshape)]: row-major index into the merged indexed dims
  Tensor moved;   // s.view with the indexed dims first
  int64_t n_adv = 0;
  int64_t merged = 1;  // product of the indexed dims' sizes
  int64_t first = 0;   // where the B dims go in the result
  Dims result_shape;   // shape of t[...] (B dims placed)
};

Advanced merge_indices(const char* op, const Subscript& s) {
  Advanced a;
  Device* dev = s.view->device();
  a.n_adv = static_cast<int64_t>(s.dims.size());
  a.bshape = s.idx[0]->sizes;
  for (size_t k = 1; k < s.idx.size(); ++k) a.bshape = broadcast_shapes(op, a.bshape, s.idx[k]->sizes);
  Tensor lin;
  for (size_t k = 0; k < s.idx.size(); ++k) {
    int64_t size = s.view->sizes[static_cast<int>(s.dims[k])];
    Tensor ik = s.idx[k];
    if (ik->numel() > 0) {
      int64_t mx = item_int64(reduce("amax", ik, {}, false));
      int64_t mn = item_int64(reduce("amin", ik, {}, false));
      PRISM_CHECK(mx < size, INVALID_ARGUMENT, op, ": index ", mx, " is out of bounds for dimension ",
                  s.orig_dims[k], " with size ", size);
      PRISM_CHECK(mn >= -size, INVALID_ARGUMENT, op, ": index ", mn, " is out of bounds for dimension ",
                  s.orig_dims[k], " with size ", size);
      if (mn < 0) ik = binary("remainder", ik, i64_scalar(size, dev));
    }
    lin = lin ? binary("add", binary("mul", lin, i64_scalar(size, dev)), ik) : ik;
    a.merged *= size;
  }
  if (lin->sizes != a.bshape) lin = expand(lin, a.bshape);
  a.linear = reshape(contiguous(lin), Dims{-1});
  // indexed dims first, the others in order
  Dims perm;
  for (int64_t d : s.dims) perm.push_back(d);
  Dims rest;
  for (int d = 0; d < s.view->dim(); ++d) {
    if (std::find(s.dims.begin(), s.dims.end(), d) == s.dims.end()) {
      perm.push_back(d);
      rest.push_back(s.view->sizes[d]);
    }
  }
  a.moved = permute(s.view, perm);
  bool adjacent = true;
  for (size_t k = 1; k < s.dims.size(); ++k) adjacent = adjacent && s.dims[k] == s.dims[k - 1] + 1;
  a.first = adjacent ? s.dims[0] : 0;
  PRISM_CHECK(a.bshape.n + rest.n <= PRISM_MAX_DIMS, INVALID_ARGUMENT, op, ": the result would have ",
              a.bshape.n + rest.n, " dims (at most ", PRISM_MAX_DIMS, ")");
  for (int i = 0; i < a.first; ++i) a.result_shape.push_back(rest[i]);
  for (int i = 0; i < a.bshape.n; ++i) a.result_shape.push_back(a.bshape[i]);
  for (int i = static_cast<int>(a.first); i < rest.n; ++i) a.result_shape.push_back(rest[i]);
  return a;
}

// Permutation taking [B..., rest...] to the result layout (B at `first`), and its inverse.
Dims placement(const Advanced& a, int64_t ndim, bool inverse) {
  int64_t nb = a.bshape.n;
  Dims p;
  for (int64_t i = 0; i < a.first; ++i) p.push_back(nb + i);
  for (int64_t i = 0; i < nb; ++i) p.push_back(i);
  for (int64_t i = nb + a.first; i < ndim; ++i) p.push_back(i);
  if (!inverse) return p;
  Dims inv;
  inv.n = p.n;
  for (int i = 0; i < p.n; ++i) inv[static_cast<int>(p[i])] = i;
  return inv;
}

Dims merged_sizes(const Advanced& a) {
  Dims m;
  m.push_back(a.merged);
  for (int i = static_cast<int>(a.n_adv); i < a.moved->dim(); ++i) m.push_back(a.moved->sizes[i]);
  return m;
}

// Writes values into x[indices] (no autograd).
void index_put_raw(const char* op, const Tensor& x, const std::vector<TensorIndex>& indices,
                   const Tensor& values, bool accumulate) {
  Subscript s = apply_subscript(op, x, indices);
  Tensor v = values;
  if (v->device() != x->device()) v = to_device(v, x->device());
  if (v->dtype != x->dtype) v = to_dtype(v, x->dtype);
  if (s.dims.empty()) {
    Dims b = broadcast_shapes(op, s.view->sizes, v->sizes);
    PRISM_CHECK(b == s.view->sizes, INVALID_ARGUMENT, op, ": shape mismatch: value tensor of shape ",
                v->sizes.str(), " cannot be broadcast to indexing result of shape ", s.view->sizes.str());
    if (accumulate) {
      binary_("add", s.view, v);
    } else {
      copy_(s.view, v);
    }
    bump_version(x);
    return;
  }
  Advanced a = merge_indices(op, s);
  Dims b = broadcast_shapes(op, a.result_shape, v->sizes);
  PRISM_CHECK(b == a.result_shape, INVALID_ARGUMENT, op, ": shape mismatch: value tensor of shape ",
              v->sizes.str(), " cannot be broadcast to indexing result of shape ", a.result_shape.str());
  if (a.linear->numel() == 0) return;
  Tensor vb = expand(v, a.result_shape);
  vb = permute(vb, placement(a, vb->dim(), true));  // [B..., rest...]
  Dims msizes = merged_sizes(a);
  Dims vsizes = msizes;
  vsizes[0] = a.linear->numel();
  vb = reshape(vb, vsizes);
  // The indexed dims of `moved` merge into one dim of a view when their strides
  // chain (size-1 dims do not matter); otherwise the write goes through a copy.
  int64_t stride = 1;
  int64_t expect = -1;
  bool mergeable = true;
  for (int k = static_cast<int>(a.n_adv) - 1; k >= 0; --k) {
    int64_t sz = a.moved->sizes[k];
    if (sz == 1) continue;
    if (expect < 0) {
      stride = a.moved->strides[k];
    } else if (a.moved->strides[k] != expect) {
      mergeable = false;
    }
    expect = a.moved->strides[k] * sz;
  }
  if (mergeable) {
    Dims st;
    st.push_back(stride);
    for (int i = static_cast<int>(a.n_adv); i < a.moved->dim(); ++i) st.push_back(a.moved->strides[i]);
    Tensor target = make_view(a.moved, msizes, st, a.moved->offset);
    index_put_dim_raw(target, 0, a.linear, vb, accumulate, false);
  } else {
    Tensor target = reshape(clone(a.moved), msizes);
    index_put_dim_raw(target, 0, a.linear, vb, accumulate, false);
    copy_(a.moved, reshape(target, a.moved->sizes));
  }
  bump_version(x);
}

Tensor index_select_impl(const char* op, const Tensor& x, int64_t d, const Tensor& idx1d, bool wrap);

Tensor clone_raw(const Tensor& x) {
  ag::NoGradGuard ng;
  return clone(x);
}

}  // namespace

// ---- subscripts ------------------------------------------------------------------------------------------

Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices) {
  const char* op = "index";
  Subscript s = apply_subscript(op, x, indices);
  if (s.dims.empty()) return s.view;
  Advanced a = merge_indices(op, s);
  Tensor merged = reshape(a.moved, merged_sizes(a));
  Tensor out = index_select_impl(op, merged, 0, a.linear, false);
  Dims bs = a.bshape;
  for (int i = static_cast<int>(a.n_adv); i < a.moved->dim(); ++i) bs.push_back(a.moved->sizes[i]);
  out = reshape(out, bs);
  if (a.first > 0) out = permute(out, placement(a, out->dim(), false));
  return out;
}

Tensor index_put(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values,
                 bool accumulate) {
  const char* op = accumulate ? "index_put(accumulate)" : "index_put";
  PRISM_CHECK(values != nullptr, INVALID_ARGUMENT, op, ": values is undefined");
  if (ag::should_record({&x, &values})) {
    std::vector<Tensor> saved;
    for (const TensorIndex& i : indices)
      if (i.kind == TensorIndex::kTensor) saved.push_back(i.tensor);
    return with_closure(
        "index_put", "IndexPutBackward", {x, values}, saved,
        [&] {
          Tensor out = clone(x);
          index_put_raw(op, out, indices, values, accumulate);
          return out;
        },
        [indices, accumulate, op](const std::vector<Tensor>&, const Tensor& g) -> std::vector<Tensor> {
          Tensor gx = g;
          if (!accumulate) {
            gx = clone_raw(g);
            index_put_raw(op, gx, indices, scalar_tensor(0, g->dtype, g->device()), false);
          }
          Tensor gv = index(g, indices);
          return {gx, gv};
        });
  }
  Tensor out = clone(x);
  index_put_raw(op, out, indices, values, accumulate);
  return out;
}

void index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values,
                bool accumulate) {
  PRISM_CHECK(values != nullptr, INVALID_ARGUMENT, "index_put_: values is undefined");
  if (ag::should_record({&x, &values})) {
    ag::recorded_inplace("index_put_", x,
                         [&](const Tensor& old) { return index_put(old, indices, values, accumulate); });
    return;
  }
  index_put_raw("index_put_", x, indices, values, accumulate);
}

Tensor index_put_tensors(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values,
                         bool accumulate) {
  std::vector<TensorIndex> list;
  for (const Tensor& t : indices) {
    TensorIndex i;
    i.kind = TensorIndex::kTensor;
    i.tensor = t;
    list.push_back(i);
  }
  return index_put(x, list, values, accumulate);
}

// ---- index_select / index_add / index_fill ----------------------------------------------------------------

namespace {

Tensor index_select_impl(const char* op, const Tensor& x, int64_t d, const Tensor& idx1d, bool wrap) {
  if (ag::should_record({&x})) {
    Dims xs = x->sizes;
    return with_closure(
        op, "IndexSelectBackward", {x}, {idx1d}, [&] { return index_select_impl(op, x, d, idx1d, wrap); },
        [xs, d, wrap](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
          Tensor z = zeros_sized(xs, g);
          index_put_dim_raw(z, d, saved[0], g, true, wrap);
          return {z};
        });
  }
  Tensor out = index_select_raw(x, d, idx1d, wrap);
  return x->dim() == 0 ? make_view(out, Dims{}, Dims{}, out->offset) : out;
}

// Checks index (1-d or 0-d) and returns it as 1-d int64; wraps dim.
Tensor vector_index(const char* op, const Tensor& x, int64_t& dim, const Tensor& index,
                    bool empty_any_dtype = false) {
  Tensor idx = empty_any_dtype ? long_index_or_empty(op, index, true) : long_index(op, index);
  PRISM_CHECK(idx->dim() <= 1, INVALID_ARGUMENT, op, "(): Index is supposed to be a vector, got ",
              describe(index));
  common_device(op, {x.get(), idx.get()});
  dim = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
  return as_1d(idx);
}

// src of index_add: self's shape with `len` at dim d.
void check_index_source(const char* op, const Tensor& x, int64_t d, int64_t len, const Tensor& src) {
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, op, ": source is undefined");
  common_device(op, {x.get(), src.get()});
  Dims want = as_1d(x)->sizes;
  want[static_cast<int>(d)] = len;
  Dims got = as_1d(src)->sizes;
  PRISM_CHECK(got == want, INVALID_ARGUMENT, op, "(): source tensor shape ", src->sizes.str(),
              " must match self tensor shape ", x->sizes.str(), ", excluding the specified dimension ", d,
              " (expected ", want.str(), ")");
}

Tensor index_add_impl(const Tensor& x, int64_t d, const Tensor& idx, const Tensor& src, double alpha) {
  if (ag::should_record({&x, &src})) {
    return with_closure(
        "index_add", "IndexAddBackward", {x, src}, {idx},
        [&] { return index_add_impl(x, d, idx, src, alpha); },
        [d, alpha](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
          Tensor gs = index_select_raw(g, d, saved[0], false);
          if (alpha != 1.0) gs = binary("mul", gs, scalar_tensor(alpha, gs->dtype, gs->device()));
          return {g, gs};
        });
  }
  Tensor out = clone(x);
  Tensor v = alpha == 1.0 ? src : binary("mul", src, scalar_tensor(alpha, src->dtype, src->device()));
  index_put_dim_raw(out, d, idx, v, true, false);
  return out;
}

Tensor index_fill_impl(const Tensor& x, int64_t d, const Tensor& idx, double value) {
  if (ag::should_record({&x})) {
    return with_closure(
        "index_fill", "IndexFillBackward", {x}, {idx}, [&] { return index_fill_impl(x, d, idx, value); },
        [d](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
          Tensor gx = clone_raw(g);
          index_put_dim_raw(gx, d, saved[0], scalar_tensor(0, g->dtype, g->device()), false, true);
          return {gx};
        });
  }
  Tensor out = clone(x);
  index_put_dim_raw(out, d, idx, scalar_tensor(value, x->dtype, x->device()), false, true);
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  return as_op("index_select", [&] {
    Tensor idx = vector_index("index_select", x, dim, index, true);
    return index_select_impl("index_select", x, dim, idx, false);
  });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  return as_op("index_add", [&] {
    Tensor idx = vector_index("index_add", x, dim, index);
    check_index_source("index_add", x, dim, idx->numel(), src);
    return index_add_impl(x, dim, idx, src, alpha);
  });
}

void index_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  as_op("index_add_", [&] {
    Tensor idx = vector_index("index_add_", x, dim, index);
    check_index_source("index_add_", x, dim, idx->numel(), src);
    if (ag::should_record({&x, &src})) {
      ag::recorded_inplace("index_add_", x,
                           [&](const Tensor& old) { return index_add_impl(old, dim, idx, src, alpha); });
      return;
    }
    Tensor v = alpha == 1.0 ? src : binary("mul", src, scalar_tensor(alpha, src->dtype, src->device()));
    index_put_dim_raw(x, dim, idx, v, true, false);
  });
}

Tensor index_fill(const Tensor& x, int64_t dim, const Tensor& index, double value) {
  return as_op("index_fill", [&] {
    Tensor idx = vector_index("index_fill", x, dim, index);
    return index_fill_impl(x, dim, idx, value);
  });
}

void index_fill_(const Tensor& x, int64_t dim, const Tensor& index, double value) {
  as_op("index_fill_", [&] {
    Tensor idx = vector_index("index_fill_", x, dim, index);
    if (ag::should_record({&x})) {
      ag::recorded_inplace("index_fill_", x,
                           [&](const Tensor& old) { return index_fill_impl(old, dim, idx, value); });
      return;
    }
    index_put_dim_raw(x, dim, idx, scalar_tensor(value, x->dtype, x->device()), false, true);
  });
}

// ---- gather / scatter
// ----------------------------------------------------------------------------------------

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  return as_op("gather", [&] {
    Tensor idx = long_index_or_empty("gather", index, false);
    common_device("gather", {x.get(), idx.get()});
    int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), "gather");
    check_scatter_shapes("gather", x, d, idx, nullptr);
    if (ag::should_record({&x})) {
      Dims xs = x->sizes;
      return with_closure(
          "gather", "GatherBackward", {x}, {idx}, [&] { return gather_raw(x, d, idx); },
          [xs, d](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
            return {scatter_add_into_zeros(xs, d, saved[0], g)};
          });
    }
    return gather_raw(x, d, idx);
  });
}

namespace {

// src may be null: then `value` fills.
Tensor scatter_impl(const char* op, const Tensor& x, int64_t d, const Tensor& idx, const Tensor& src,
                    double value, bool add) {
  if (ag::should_record({&x, &src})) {
    Dims ss = src ? src->sizes : Dims();
    bool has_src = src != nullptr;
    return with_closure(
        op, add ? "ScatterAddBackward" : "ScatterBackward", {x, src}, {idx},
        [&] { return scatter_impl(op, x, d, idx, src, value, add); },
        [ss, d, add, has_src](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
          const Tensor& i = saved[0];
          Tensor gx = g;
          if (!add) {
            gx = clone_raw(g);
            Tensor z = expand(scalar_tensor(0, g->dtype, g->device()), as_1d(i)->sizes);
            scatter_raw(gx, d, i, z, false);
          }
          Tensor gs = has_src ? pad_to(gather_raw(g, d, i), ss) : nullptr;
          return {gx, gs};
        });
  }
  Tensor out = clone(x);
  Tensor v = src ? src : expand(scalar_tensor(value, x->dtype, x->device()), as_1d(idx)->sizes);
  scatter_raw(out, d, idx, v, add);
  return out;
}

Tensor scatter_checked(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                       double value, bool add, bool inplace) {
  return as_op(op, [&]() -> Tensor {
    Tensor idx = long_index(op, index);
    common_device(op, {x.get(), idx.get()});
    if (src) common_device(op, {x.get(), src.get()});
    int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
    check_scatter_shapes(op, x, d, idx, src);
    if (!inplace) return scatter_impl(op, x, d, idx, src, value, add);
    if (ag::should_record({&x, &src})) {
      ag::recorded_inplace(op, x,
                           [&](const Tensor& old) { return scatter_impl(op, old, d, idx, src, value, add); });
      return x;
    }
    Tensor v = src ? src : expand(scalar_tensor(value, x->dtype, x->device()), as_1d(idx)->sizes);
    scatter_raw(x, d, idx, v, add);
    return x;
  });
}

}  // namespace

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, "scatter: src is undefined");
  return scatter_checked("scatter", x, dim, index, src, 0, false, false);
}
Tensor scatter_value(const Tensor& x, int64_t dim, const Tensor& index, double value) {
  return scatter_checked("scatter", x, dim, index, nullptr, value, false, false);
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, "scatter_add: src is undefined");
  return scatter_checked("scatter_add", x, dim, index, src, 0, true, false);
}
void scatter_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, "scatter_: src is undefined");
  scatter_checked("scatter_", x, dim, index, src, 0, false, true);
}
void scatter_value_(const Tensor& x, int64_t dim, const Tensor& index, double value) {
  scatter_checked("scatter_", x, dim, index, nullptr, value, false, true);
}
void scatter_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, "scatter_add_: src is undefined");
  scatter_checked("scatter_add_", x, dim, index, src, 0, true, true);
}

// ---- scatter_reduce ------------------------------------------------------------------------------------

namespace {

// The part of src that index covers (src may be larger than index).
Tensor narrow_to(const Tensor& t, const Dims& sizes) {
  Tensor v = t;
  for (int k = 0; k < sizes.n; ++k)
    if (v->sizes[k] != sizes[k]) v = narrow(v, k, 0, sizes[k]);
  return v;
}

// 1 where a scatter along d with idx writes, else 0 (g's dtype and device; self's shape).
Tensor touched_mask(const Dims& sizes, int64_t d, const Tensor& idx, const Tensor& like) {
  Tensor m = zeros_sized(sizes, like);
  scatter_reduce_raw(m, d, idx, expand(scalar_tensor(1, like->dtype, like->device()), as_1d(idx)->sizes), 0);
  return m;
}

Tensor mulv(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b);
}

// Note [scatter_reduce gradients]
// sum: as scatter_add. prod: g * out / self and gather(g * out) / src, exact
// for inputs without zeros (as cumprod). amax/amin: the gradient is shared
// evenly between the elements equal to the result (self, when included, and
// every src that reached it), as PyTorch. Without include_self, self gets no
// gradient where it was scattered to.
std::vector<Tensor> scatter_reduce_backward(ScatterReduce r, bool include_self, int64_t d, const Tensor& idx,
                                            const Tensor& x, const Tensor& src, const Tensor& out,
                                            const Tensor& g) {
  Dims is = as_1d(idx)->sizes;
  Tensor keep_self;  // 1 where self took part in the result
  if (!include_self) {
    keep_self = binary("sub", scalar_tensor(1, g->dtype, g->device()), touched_mask(x->sizes, d, idx, g));
  }
  auto self_part = [&](const Tensor& t) { return keep_self ? mulv(t, keep_self) : t; };
  Tensor src_n = narrow_to(as_1d(src), is);
  Tensor gx, gs;
  switch (r) {
    case ScatterReduce::kSum:
      gx = self_part(g);
      gs = gather_raw(g, d, idx);
      break;
    case ScatterReduce::kProd: {
      Tensor go = mulv(g, out);
      gx = self_part(binary("div", go, x));
      gs = binary("div", gather_raw(go, d, idx), src_n);
      break;
    }
    default: {
      Tensor val = gather_raw(out, d, idx);
      Tensor src_hit = to_dtype(compare("eq", src_n, val), g->dtype);
      Tensor self_hit = self_part(to_dtype(compare("eq", x, out), g->dtype));
      Tensor count = binary("add", self_hit, scatter_add_into_zeros(x->sizes, d, idx, src_hit));
      Tensor gc = binary("div", g, count);
      gx = mulv(gc, self_hit);
      gs = mulv(gather_raw(gc, d, idx), src_hit);
      break;
    }
  }
  if (idx->dim() == 0) gs = make_view(gs, Dims{}, Dims{}, gs->offset);
  return {gx, pad_to(gs, src->sizes)};
}

Tensor scatter_reduce_impl(const Tensor& x, int64_t d, const Tensor& idx, const Tensor& src, ScatterReduce r,
                           bool include_self) {
  if (ag::should_record({&x, &src})) {
    Tensor out;
    {
      ag::NoGradGuard ng;
      out = scatter_reduce_impl(x, d, idx, src, r, include_self);
    }
    ag::record_closure("scatter_reduce", "ScatterReduceBackward", out, {x, src}, {idx, x, src, out},
                       [r, include_self, d](const std::vector<Tensor>& sv, const Tensor& g) {
                         return scatter_reduce_backward(r, include_self, d, sv[0], sv[1], sv[2], sv[3], g);
                       });
    return out;
  }
  Tensor out = clone(x);
  if (!include_self) {
    // Touched places start from the reduction's identity (sum, prod) or from
    // one of the values scattered there (amax, amin: repeating a value changes nothing).
    if (r == ScatterReduce::kAmax || r == ScatterReduce::kAmin) {
      scatter_reduce_raw(out, d, idx, src, 0);
    } else {
      double id = r == ScatterReduce::kProd ? 1 : 0;
      scatter_reduce_raw(out, d, idx, expand(scalar_tensor(id, x->dtype, x->device()), as_1d(idx)->sizes), 0);
    }
  }
  static const int kCode[] = {1, 2, 3, 4};
  scatter_reduce_raw(out, d, idx, src, kCode[static_cast<int>(r)]);
  return out;
}

}  // namespace

Tensor scatter_reduce(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                      ScatterReduce reduce, bool include_self) {
  const char* op = "scatter_reduce";
  PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, op, ": src is undefined");
  PRISM_CHECK(static_cast<int>(reduce) >= 0 && static_cast<int>(reduce) <= 3, INVALID_ARGUMENT, op,
              ": reduce must be sum, prod, amax or amin (got ", static_cast<int>(reduce), ")");
  return as_op(op, [&] {
    Tensor idx = long_index(op, index);
    common_device(op, {x.get(), idx.get(), src.get()});
    int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
    check_scatter_shapes(op, x, d, idx, src);
    return scatter_reduce_impl(x, d, idx, src, reduce, include_self);
  });
}

// ---- masked ops, take, nonzero
// ------------------------------------------------------------------------------

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value) {
  require_bool_mask("masked_fill", mask);
  PRISM_CHECK(value != nullptr, INVALID_ARGUMENT, "masked_fill: value is undefined");
  PRISM_CHECK(value->dim() == 0, INVALID_ARGUMENT,
              "masked_fill: only supports a 0-dimensional value tensor, but got tensor with ", value->dim(),
              " dimension(s)");
  common_device("masked_fill", {x.get(), mask.get()});
  broadcast_shapes("masked_fill", x->sizes, mask->sizes);
  Tensor v = value->device() != x->device() ? to_device(value, x->device()) : value;
  if (v->dtype != x->dtype) v = to_dtype(v, x->dtype);
  return where(mask, v, x);
}

void masked_fill_(const Tensor& x, const Tensor& mask, const Tensor& value) {
  require_bool_mask("masked_fill_", mask);
  Dims b = broadcast_shapes("masked_fill_", x->sizes, mask->sizes);
  PRISM_CHECK(b == x->sizes, INVALID_ARGUMENT, "masked_fill_: mask of shape ", mask->sizes.str(),
              " cannot be broadcast to the tensor's shape ", x->sizes.str());
  if (ag::should_record({&x, &value})) {
    ag::recorded_inplace("masked_fill_", x, [&](const Tensor& old) { return masked_fill(old, mask, value); });
    return;
  }
  Tensor r = masked_fill(x, mask, value);
  copy_(x, r);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  require_bool_mask("masked_select", mask);
  common_device("masked_select", {x.get(), mask.get()});
  Dims s = broadcast_shapes("masked_select", x->sizes, mask->sizes);
  Tensor xb = x->sizes == s ? x : expand(x, s);
  Tensor mb = mask->sizes == s ? mask : expand(mask, s);
  Tensor pos = nonzero(reshape(mb, Dims{-1}));  // [n, 1]
  Tensor flat = select(pos, 1, 0);
  return index_select_impl("masked_select", reshape(xb, Dims{-1}), 0, flat, false);
}

Tensor take(const Tensor& x, const Tensor& index) {
  return as_op("take", [&] {
    Tensor idx = long_index("take", index);
    common_device("take", {x.get(), idx.get()});
    PRISM_CHECK(x->numel() > 0 || idx->numel() == 0, INVALID_ARGUMENT,
                "take: tried to take from an empty tensor (", describe(x), ")");
    Tensor flat = reshape(x, Dims{-1});
    Tensor i1 = reshape(idx, Dims{-1});
    Tensor out = index_select_impl("take", flat, 0, i1, true);
    return reshape(out, idx->sizes);
  });
}

Tensor nonzero(const Tensor& x) {
  Tensor nz = compare("ne", x, scalar_tensor(0, x->dtype, x->device()));
  int64_t n = item_int64(reduce("sum", nz, {}, false));
  Tensor out = empty(Dims{n, x->dim()}, PRISM_DTYPE_I64, x->device());
  if (n > 0 && x->dim() > 0) run_kernel("nonzero", x->dtype, {x.get()}, {out.get()});
  return out;
}

// ---- tril / triu
// ----------------------------------------------------------------------------------------------

namespace {

Tensor tri(const char* op, const Tensor& x, int64_t k, bool lower) {
  PRISM_CHECK(x->dim() >= 2, INVALID_ARGUMENT, op, ": input tensor must have at least 2 dimensions, got ",
              describe(x));
  if (ag::should_record({&x})) {
    return with_closure(
        op, lower ? "TrilBackward" : "TriuBackward", {x}, {}, [&] { return tri(op, x, k, lower); },
        [op, k, lower](const std::vector<Tensor>&, const Tensor& g) -> std::vector<Tensor> {
          return {tri(op, g, k, lower)};
        });
  }
  Device* dev = x->device();
  int64_t rows = x->sizes[x->dim() - 2], cols = x->sizes[x->dim() - 1];
  Tensor r = reshape(arange(0, static_cast<double>(rows), 1, PRISM_DTYPE_I64, dev), Dims{rows, 1});
  Tensor c = arange(0, static_cast<double>(cols), 1, PRISM_DTYPE_I64, dev);
  Tensor diff = binary("sub", c, r);  // [rows, cols]: col - row
  Tensor keep = compare(lower ? "le" : "ge", diff, i64_scalar(k, dev));
  return where(keep, x, scalar_tensor(0, x->dtype, dev));
}

}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) {
  return tri("tril", x, diagonal, true);
}
Tensor triu(const Tensor& x, int64_t diagonal) {
  return tri("triu", x, diagonal, false);
}

// ---- cumsum / cumprod
// ------------------------------------------------------------------------------------------

namespace {

// sum_{j >= i} g_j along d, as total - inclusive prefix + g.
Tensor reverse_cumsum(const Tensor& g, int64_t d) {
  if (g->dim() == 0) return g;
  Tensor total = reduce("sum", g, {d}, true);
  return binary("add", binary("sub", total, cumsum(g, d)), g);
}

// Note [cumprod gradient]
// d out_j / d x_i = prod_{k <= j, k != i} x_k for j >= i. Before the first
// zero z of a slice that is out_j / x_i, so grad_i = reverse_cumsum(g * out)_i
// / x_i; after z every such product holds x_z = 0, so grad_i = 0; at z it is
// out'_j, the cumprod of x with x_z replaced by 1, so grad_z =
// reverse_cumsum(g * out')_z. Exact with any number of zeros (as PyTorch).
Tensor cumprod_backward(const Tensor& x, const Tensor& out, const Tensor& g, int64_t d) {
  if (x->dim() == 0) return g;
  Tensor zero = scalar_tensor(0, x->dtype, x->device()), one = scalar_tensor(1, x->dtype, x->device());
  Tensor is0 = compare("eq", x, zero);
  Tensor seen = cumsum(is0, d);  // int64: zeros up to and including each place
  Tensor before = compare("eq", seen, i64_scalar(0, x->device()));
  Tensor first = compare("logical_and", is0, compare("eq", seen, i64_scalar(1, x->device())));
  Tensor a = binary("div", reverse_cumsum(binary("mul", g, out), d), where(before, x, one));
  Tensor out1 = cumprod(where(first, one, x), d);
  Tensor b = reverse_cumsum(binary("mul", g, out1), d);
  return where(before, a, where(first, b, zero));
}

Tensor scan(const char* op, const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
  bool prod = std::strcmp(op, "cumprod") == 0;
  if (ag::should_record({&x})) {
    Tensor out;
    {
      ag::NoGradGuard ng;
      out = scan(op, x, d);
    }
    ag::record_closure(op, prod ? "CumprodBackward" : "CumsumBackward", out, {x},
                       prod ? std::vector<Tensor>{x, out} : std::vector<Tensor>{},
                       [d, prod](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
                         if (!prod) return {reverse_cumsum(g, d)};
                         return {cumprod_backward(saved[0], saved[1], g, d)};
                       });
    return out;
  }
  prism_dtype dt = is_float(x->dtype) ? x->dtype : PRISM_DTYPE_I64;
  Tensor in = as_1d(to_dtype(x, dt));
  Tensor out = empty(in->sizes, dt, x->device());
  if (out->numel() > 0) {
    Attrs a;
    a.add_int("dim", d);
    run_kernel(op, dt, {in.get()}, {out.get()}, a);
  }
  return x->dim() == 0 ? make_view(out, Dims{}, Dims{}, out->offset) : out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  if (amp::Autocast ac{"cumsum", {&x}}) return cumsum(ac[0], dim);  // Note [Autocast]
  return scan("cumsum", x, dim);
}
Tensor cumprod(const Tensor& x, int64_t dim) {
  if (amp::Autocast ac{"cumprod", {&x}}) return cumprod(ac[0], dim);  // Note [Autocast]
  return scan("cumprod", x, dim);
}

// ---- sort / topk
// -----------------------------------------------------------------------------------------------

namespace {

std::pair<Tensor, Tensor> sort_impl(const char* op, const Tensor& x, int64_t dim, int64_t k,
                                    bool descending) {
  int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
  Tensor x1 = as_1d(x);
  bool topk = k >= 0;
  Dims s = x1->sizes;
  if (topk) {
    PRISM_CHECK(k <= s[static_cast<int>(d)], INVALID_ARGUMENT, op, ": k (", k,
                ") is out of range for dimension ", d, " with size ", s[static_cast<int>(d)]);
    s[static_cast<int>(d)] = k;
  }
  if (ag::should_record({&x})) {
    std::pair<Tensor, Tensor> r;
    {
      ag::NoGradGuard ng;
      r = sort_impl(op, x, d, k, descending);
    }
    Dims xs = x->sizes;
    ag::record_closure(op, topk ? "TopkBackward" : "SortBackward", r.first, {x}, {r.second},
                       [xs, d](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
                         return {scatter_add_into_zeros(xs, d, saved[0], g)};
                       });
    return r;
  }
  Tensor values = empty(s, x->dtype, x->device());
  Tensor indices = empty(s, PRISM_DTYPE_I64, x->device());
  if (values->numel() > 0) {
    Attrs a;
    a.add_int("dim", d);
    if (topk) {
      a.add_int("k", k).add_int("largest", descending ? 1 : 0);
    } else {
      a.add_int("descending", descending ? 1 : 0);
    }
    run_kernel(topk ? "topk" : "sort", x->dtype, {x1.get()}, {values.get(), indices.get()}, a);
  }
  if (x->dim() == 0) {
    values = make_view(values, Dims{}, Dims{}, values->offset);
    indices = make_view(indices, Dims{}, Dims{}, indices->offset);
  }
  return {values, indices};
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool /*stable: always*/) {
  return as_op("sort", [&] { return sort_impl("sort", x, dim, -1, descending); });
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest,
                               bool /*sorted: always*/) {
  PRISM_CHECK(k >= 0, INVALID_ARGUMENT, "topk: k (", k, ") must be non-negative");
  return as_op("topk", [&] { return sort_impl("topk", x, dim, k, largest); });
}

// ---- one_hot / embedding
// -------------------------------------------------------------------------------------------

Tensor one_hot(const Tensor& x, int64_t num_classes) {
  PRISM_CHECK(x->dtype == PRISM_DTYPE_I64, INVALID_ARGUMENT,
              "one_hot: is only applicable to index tensors of dtype int64, got ", describe(x));
  PRISM_CHECK(num_classes >= -1, INVALID_ARGUMENT, "one_hot: num_classes must be -1 (infer) or >= 0, got ",
              num_classes);
  Device* dev = x->device();
  if (x->numel() == 0) {
    PRISM_CHECK(num_classes != -1, INVALID_ARGUMENT,
                "one_hot: can not infer the total number of classes from an empty tensor");
  } else {
    int64_t mn = item_int64(reduce("amin", x, {}, false));
    int64_t mx = item_int64(reduce("amax", x, {}, false));
    PRISM_CHECK(mn >= 0, INVALID_ARGUMENT, "one_hot: class values must be non-negative, got ", mn);
    if (num_classes == -1) num_classes = mx + 1;
    PRISM_CHECK(mx < num_classes, INVALID_ARGUMENT,
                "one_hot: class values must be smaller than num_classes (", num_classes, "), got ", mx);
  }
  PRISM_CHECK(x->dim() < PRISM_MAX_DIMS, INVALID_ARGUMENT, "one_hot: the result would have more than ",
              PRISM_MAX_DIMS, " dims");
  Tensor cls = arange(0, static_cast<double>(num_classes), 1, PRISM_DTYPE_I64, dev);
  Tensor hit = compare("eq", unsqueeze(x, -1), cls);
  return to_dtype(hit, PRISM_DTYPE_I64);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  return as_op("embedding", [&] {
    PRISM_CHECK(weight->dim() == 2, INVALID_ARGUMENT, "embedding: 'weight' must be 2-D, got ",
                describe(weight));
    Tensor idx = long_index("embedding", indices, "indices");
    common_device("embedding", {weight.get(), idx.get()});
    int64_t num = weight->sizes[0], width = weight->sizes[1];
    int64_t pad = padding_idx;
    if (pad != kNoPaddingIdx) {
      PRISM_CHECK(pad >= -num && pad < num, INVALID_ARGUMENT, "embedding: padding_idx (", pad,
                  ") must be within num_embeddings (", num, ")");
      if (pad < 0) pad += num;
    }
    PRISM_CHECK(idx->dim() < PRISM_MAX_DIMS, INVALID_ARGUMENT, "embedding: indices have too many dims");
    Tensor flat = reshape(idx, Dims{-1});
    Dims out_sizes = idx->sizes;
    out_sizes.push_back(width);
    auto fwd = [&] {
      Tensor rows = index_select_raw(weight, 0, flat, false);  // [n, width], contiguous
      return make_view(rows, out_sizes, contiguous_strides(out_sizes), rows->offset);
    };
    if (!ag::should_record({&weight})) return fwd();
    Dims ws = weight->sizes;
    return with_closure(
        "embedding", "EmbeddingBackward", {weight}, {flat}, fwd,
        [ws, pad, width](const std::vector<Tensor>& saved, const Tensor& g) -> std::vector<Tensor> {
          // Note [Embedding backward]: rows add up in index order
          // (index_put with accumulate), so the result is deterministic.
          const Tensor& f = saved[0];
          Tensor gf = reshape(g, Dims{f->numel(), width});
          if (pad != kNoPaddingIdx) {
            Tensor keep = compare("ne", f, i64_scalar(pad, f->device()));
            gf = binary("mul", gf, unsqueeze(to_dtype(keep, g->dtype), 1));
          }
          Tensor gw = zeros_sized(ws, g);
          index_put_dim_raw(gw, 0, f, gf, true, false);
          return {gw};
        });
  });
}

}  // namespace prism
