// reduce.cpp — reductions over any set of dims with keepdim, and their composites (mean, var, std, norm,
// logsumexp).
#include <cmath>
#include <cstring>
#include <limits>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

namespace {

// Reduced-dim mask; empty `dims` means every dim.
std::vector<bool> reduce_mask(const char* op, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<bool> mask(static_cast<size_t>(x->dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x->dim(), op);
    if (x->dim() == 0) continue;
    PRISM_CHECK(!mask[w], INVALID_ARGUMENT, op, ": dim ", w, " appears multiple times in the list of dims");
    mask[w] = true;
  }
  return mask;
}

Dims keepdim_shape(const Tensor& x, const std::vector<bool>& mask) {
  Dims s = x->sizes;
  for (int i = 0; i < s.n; ++i)
    if (mask[i]) s[i] = 1;
  return s;
}

Tensor drop_dims(const Tensor& r, const std::vector<bool>& mask) {
  Dims s, st;
  for (int i = 0; i < r->dim(); ++i) {
    if (mask[i]) continue;
    s.push_back(r->sizes[i]);
    st.push_back(r->strides[i]);
  }
  return make_view(r, s, st, r->offset);
}

int64_t reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  int64_t n = 1;
  for (int i = 0; i < x->dim(); ++i)
    if (mask[i]) n *= x->sizes[i];
  return n;
}

bool is_op(const char* a, const char* b) {
  return std::strcmp(a, b) == 0;
}

// Halves compute composites in float32 (PyTorch accumulates them in float).
Tensor upcast(const Tensor& x) {
  return (x->dtype == PRISM_DTYPE_F16 || x->dtype == PRISM_DTYPE_BF16) ? to_dtype(x, PRISM_DTYPE_F32) : x;
}

void require_float(const char* op, const Tensor& x) {
  PRISM_CHECK(is_float(x->dtype) || (is_complex(x->dtype) && is_op(op, "mean")), INVALID_ARGUMENT, op,
              "(): could not infer output dtype. Input dtype must be a floating point dtype, got ",
              describe(x));
}

}  // namespace

Tensor reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (amp::Autocast ac{op, {&x}}) return reduce(op, ac[0], dims, keepdim);  // Note [Autocast]
  if (autograd::should_record({&x})) {
    autograd::OpAttrs at;
    at.dims = dims;
    at.keepdim = keepdim;
    return autograd::recorded(op, {x}, at, [&] { return reduce(op, x, dims, keepdim); });
  }
  std::vector<bool> mask = reduce_mask(op, x, dims);
  bool identity_free = is_op(op, "amax") || is_op(op, "amin");
  if (identity_free) {
    for (int i = 0; i < x->dim(); ++i)
      PRISM_CHECK(!(mask[i] && x->sizes[i] == 0), INVALID_ARGUMENT, op, "(): expected reduction dim ", i,
                  " to have non-zero size (", describe(x), ")");
    PRISM_CHECK(x->numel() > 0 || x->dim() > 0, INVALID_ARGUMENT, op, "(): cannot reduce an empty tensor");
  }
  Tensor in = x;
  prism_dtype out_dt = x->dtype;
  if (is_op(op, "sum") || is_op(op, "prod")) {
    if (!is_float(x->dtype) && !is_complex(x->dtype)) out_dt = PRISM_DTYPE_I64;
    in = to_dtype(x, out_dt);
  } else if (is_op(op, "all") || is_op(op, "any")) {
    out_dt = PRISM_DTYPE_BOOL;
  }
  Tensor out = empty(keepdim_shape(x, mask), out_dt, x->device());
  if (out->numel() > 0) run_kernel(op, in->dtype, {in.get()}, {out.get()});
  return keepdim ? out : drop_dims(out, mask);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  require_float("mean", x);
  Tensor xx = upcast(x);
  std::vector<bool> mask = reduce_mask("mean", x, dims);
  Tensor s = reduce("sum", xx, dims, keepdim);
  double n = static_cast<double>(reduced_count(x, mask));
  Tensor r = binary("div", s, scalar_like(n, s));
  return to_dtype(r, x->dtype);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  require_float("var", x);
  Tensor xx = upcast(x);
  std::vector<bool> mask = reduce_mask("var", x, dims);
  double n = static_cast<double>(reduced_count(x, mask));
  Tensor m = mean(xx, dims, true);
  Tensor d = binary("sub", xx, m);
  Tensor sq = unary("square", d);
  Tensor s = reduce("sum", sq, dims, keepdim);
  double denom = std::max(0.0, n - static_cast<double>(correction));
  return to_dtype(binary("div", s, scalar_like(denom, s)), x->dtype);
}

namespace {
// A reduction's result (or gradient) with the reduced dims put back as size 1,
// so it broadcasts against the input.
Tensor with_reduced_dims(Tensor r, const std::vector<bool>& mask, bool keepdim) {
  if (keepdim) return r;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) r = unsqueeze(r, static_cast<int64_t>(i));
  return r;
}
// 0 where `den` is 0, num / den elsewhere (PyTorch's masking of 0/0 in the
// std and norm backward formulas).
Tensor div_or_zero(const Tensor& num, const Tensor& den) {
  Tensor q = binary("div", num, den);
  return where(compare("eq", den, scalar_like(0.0, den)), scalar_like(0.0, q), q);
}
}  // namespace

// Note [std and norm backward]: recorded with their own closures rather than
// through sqrt / pow, so a zero result gives a zero gradient as in PyTorch
// (the composite's chain rule would give 0 * inf = NaN).
Tensor std_(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  if (!autograd::should_record({&x})) return unary("sqrt", var(x, dims, correction, keepdim));
  Tensor out;
  {
    autograd::NoGradGuard no_grad;
    out = unary("sqrt", var(x, dims, correction, keepdim));
  }
  std::vector<bool> mask = reduce_mask("std", x, dims);
  const double denom = static_cast<double>(reduced_count(x, mask)) - static_cast<double>(correction);
  autograd::record_closure("std", "StdBackward", out, {x}, {x, out},
                           [dims, mask, keepdim, denom](const std::vector<Tensor>& s, const Tensor& g) {
                             Tensor o = with_reduced_dims(s[1], mask, keepdim);
                             Tensor gg = with_reduced_dims(g, mask, keepdim);
                             Tensor centered = binary("sub", s[0], mean(s[0], dims, true));
                             Tensor scale = div_or_zero(gg, binary("mul", o, scalar_like(denom, o)));
                             return std::vector<Tensor>{binary("mul", centered, scale)};
                           });
  return out;
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  if (amp::Autocast ac{"norm", {&x}}) return norm(ac[0], p, dims, keepdim);  // Note [Autocast]
  require_float("norm", x);
  if (std::isfinite(p) && p >= 1 && autograd::should_record({&x})) {
    Tensor out;
    {
      autograd::NoGradGuard no_grad;
      out = norm(x, p, dims, keepdim);
    }
    std::vector<bool> mask = reduce_mask("norm", x, dims);
    autograd::record_closure("norm", "NormBackward", out, {x}, {x, out},
                             [p, mask, keepdim](const std::vector<Tensor>& s, const Tensor& g) {
                               const Tensor& xs = s[0];
                               Tensor gg = with_reduced_dims(g, mask, keepdim);
                               if (p == 1) return std::vector<Tensor>{binary("mul", unary("sign", xs), gg)};
                               Tensor o = with_reduced_dims(s[1], mask, keepdim);
                               if (p == 2) return std::vector<Tensor>{binary("mul", xs, div_or_zero(gg, o))};
                               // sign(x) |x|^(p-1) / norm^(p-1)
                               Tensor num = binary("mul", unary("sign", xs),
                                                   binary("pow", unary("abs", xs), scalar_like(p - 1, xs)));
                               Tensor den = binary("pow", o, scalar_like(p - 1, o));
                               return std::vector<Tensor>{binary("mul", num, div_or_zero(gg, den))};
                             });
    return out;
  }
  Tensor xx = upcast(x);
  Tensor a = unary("abs", xx);
  Tensor r;
  if (std::isinf(p)) {
    r = reduce(p > 0 ? "amax" : "amin", a, dims, keepdim);
  } else if (p == 0) {
    Tensor nz = to_dtype(compare("ne", a, scalar_like(0.0, a)), a->dtype);
    r = reduce("sum", nz, dims, keepdim);
  } else if (p == 1) {
    r = reduce("sum", a, dims, keepdim);
  } else if (p == 2) {
    r = unary("sqrt", reduce("sum", unary("square", a), dims, keepdim));
  } else {
    Tensor pw = binary("pow", a, scalar_like(p, a));
    r = binary("pow", reduce("sum", pw, dims, keepdim), scalar_like(1.0 / p, a));
  }
  return to_dtype(r, x->dtype);
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (amp::Autocast ac{"logsumexp", {&x}}) return logsumexp(ac[0], dims, keepdim);  // Note [Autocast]
  Tensor xx = is_float(x->dtype) ? upcast(x) : to_dtype(x, kDefaultFloat);
  if (xx->numel() == 0) {
    Tensor s = reduce("sum", unary("exp", xx), dims, keepdim);
    return unary("log", s);
  }
  Tensor m = reduce("amax", xx, dims, true);
  // Infinite maxima (all -inf, or +inf) would give inf - inf = nan: shift by 0 there.
  Tensor inf_max = compare("eq", unary("abs", m), scalar_like(std::numeric_limits<double>::infinity(), m));
  Tensor shift = where(inf_max, scalar_like(0.0, m), m);
  Tensor e = unary("exp", binary("sub", xx, shift));
  Tensor s = unary("log", reduce("sum", e, dims, true));
  Tensor r = binary("add", s, shift);
  if (!keepdim) r = reshape(r, drop_dims(r, reduce_mask("logsumexp", x, dims))->sizes);
  prism_dtype out_dt = is_float(x->dtype) ? x->dtype : kDefaultFloat;
  return to_dtype(r, out_dt);
}

Tensor arg_reduce(const char* op, const Tensor& x, int64_t dim, bool keepdim) {
  PRISM_CHECK(x->dtype != PRISM_DTYPE_BOOL, INVALID_ARGUMENT, op, ": not implemented for bool tensors");
  if (dim == PRISM_DIM_NONE) {
    PRISM_CHECK(x->numel() > 0, INVALID_ARGUMENT, op,
                "(): expected reduction dim to be specified for an empty input (", describe(x), ")");
    Tensor flat = reshape(x, Dims{-1});
    Tensor r = arg_reduce(op, flat, 0, false);
    if (!keepdim) return r;
    Dims ones;
    for (int i = 0; i < x->dim(); ++i) ones.push_back(1);
    return reshape(r, ones);
  }
  int64_t d = wrap_dim(dim, x->dim(), op);
  Tensor in = x->dim() == 0 ? reshape(x, Dims{1}) : x;
  PRISM_CHECK(in->sizes[d] > 0, INVALID_ARGUMENT, op, "(): expected reduction dim ", d,
              " to have non-zero size (", describe(x), ")");
  std::vector<bool> mask(static_cast<size_t>(in->dim()), false);
  mask[d] = true;
  Tensor out = empty(keepdim_shape(in, mask), PRISM_DTYPE_I64, x->device());
  Attrs at;
  at.add_int("dim", d);
  if (out->numel() > 0) run_kernel(op, in->dtype, {in.get()}, {out.get()}, at);
  if (x->dim() == 0) return reshape(out, Dims{});
  return keepdim ? out : drop_dims(out, mask);
}

std::pair<Tensor, Tensor> max_min_dim(bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  const char* name = is_max ? "max" : "min";
  int64_t d = wrap_dim(dim, x->dim(), name);
  PRISM_CHECK(x->dim() == 0 || x->sizes[d] > 0, INVALID_ARGUMENT, name, "(): expected reduction dim ", d,
              " to have non-zero size (", describe(x), ")");
  if (is_float(x->dtype) && autograd::should_record({&x})) {
    // The gradient goes to the returned index only, as in PyTorch (amax would
    // share it between ties).
    std::pair<Tensor, Tensor> r;
    {
      autograd::NoGradGuard no_grad;
      r = max_min_dim(is_max, x, dim, keepdim);
    }
    const Dims sizes = x->sizes;
    autograd::record_closure(name, is_max ? "MaxBackward" : "MinBackward", r.first, {x}, {r.second},
                             [d, keepdim, sizes](const std::vector<Tensor>& s, const Tensor& g) {
                               if (sizes.n == 0) return std::vector<Tensor>{g};
                               Tensor idx = keepdim ? s[0] : unsqueeze(s[0], d);
                               Tensor gg = keepdim ? g : unsqueeze(g, d);
                               Tensor zeros = full(sizes, 0.0, g->dtype, g->device());
                               return std::vector<Tensor>{scatter(zeros, d, idx, gg)};
                             });
    return r;
  }
  Tensor values = reduce(is_max ? "amax" : "amin", x, {dim}, keepdim);
  Tensor src = x->dtype == PRISM_DTYPE_BOOL ? to_dtype(x, PRISM_DTYPE_U8) : x;
  Tensor idx = arg_reduce(is_max ? "argmax" : "argmin", src, dim, keepdim);
  return {values, idx};
}

}  // namespace prism
