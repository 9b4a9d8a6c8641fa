// derivatives.cpp — the derivatives table (one entry per differentiable op, written with dispatcher ops) and
// record().
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/ops.hpp"

namespace prism::autograd {

namespace {

// What a backward formula sees.
struct Ctx {
  std::vector<Tensor> in;  // saved inputs (detached aliases), may be null when not saved
  Tensor out;              // saved output, may be null
  const OpAttrs& a;
  const std::vector<Dims>& in_sizes;
  const std::vector<prism_dtype>& in_dtypes;
  const std::vector<Edge>& next;  // the node's edges: input i receives a gradient when next[i].node is set
  // Formulas may skip (return null for) a gradient nobody receives.
  bool need(size_t i) const { return i < next.size() && next[i].node != nullptr; }
};
using Grads = std::vector<Tensor>;
using BackwardFn = Grads (*)(const Ctx&, const Tensor& g);

struct Derivative {
  const char* op;
  const char* name;
  bool save_inputs;
  bool save_output;
  BackwardFn fn;
};

// ---- helpers written with dispatcher ops ---------------------------------------------------------

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b);
}
Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b);
}
Tensor muls(const Tensor& a, double s) {
  return mul(a, scalar_like(s, a));
}
Tensor mask(const Tensor& b, const Tensor& like) {
  return to_dtype(b, like->dtype);
}
Tensor zeros_of(const Dims& sizes, const Tensor& like) {
  return full(sizes, 0.0, like->dtype, like->device());
}

// Expands a reduction's gradient back over the reduced dims.
Tensor unreduce(const Tensor& g, const Ctx& c) {
  const Dims& in = c.in_sizes[0];
  Tensor r = g;
  if (!c.a.keepdim && in.n > 0) {
    std::vector<bool> m(static_cast<size_t>(in.n), c.a.dims.empty());
    for (int64_t d : c.a.dims) m[static_cast<size_t>(wrap_dim(d, in.n, "backward"))] = true;
    for (int i = 0; i < in.n; ++i)
      if (m[i]) r = unsqueeze(r, i);
  }
  return expand(r, in);
}

// ---- formulas --------------------------------------------------------------------------------------

Grads d_neg(const Ctx&, const Tensor& g) {
  return {unary("neg", g)};
}
Grads d_abs(const Ctx& c, const Tensor& g) {
  return {mul(g, unary("sign", c.in[0]))};
}
Grads d_zero(const Ctx& c, const Tensor& g) {
  return {zeros_of(c.in_sizes[0], g)};
}
Grads d_exp(const Ctx& c, const Tensor& g) {
  return {mul(g, c.out)};
}
Grads d_log(const Ctx& c, const Tensor& g) {
  return {div(g, c.in[0])};
}
Grads d_log1p(const Ctx& c, const Tensor& g) {
  return {div(g, add(c.in[0], scalar_like(1, c.in[0])))};
}
Grads d_expm1(const Ctx& c, const Tensor& g) {
  return {mul(g, add(c.out, scalar_like(1, c.out)))};
}
Grads d_sqrt(const Ctx& c, const Tensor& g) {
  return {div(g, muls(c.out, 2))};
}
Grads d_rsqrt(const Ctx& c, const Tensor& g) {
  return {mul(muls(g, -0.5), mul(c.out, unary("square", c.out)))};
}
Grads d_reciprocal(const Ctx& c, const Tensor& g) {
  return {mul(unary("neg", g), unary("square", c.out))};
}
Grads d_square(const Ctx& c, const Tensor& g) {
  return {mul(muls(g, 2), c.in[0])};
}
Grads d_sin(const Ctx& c, const Tensor& g) {
  return {mul(g, unary("cos", c.in[0]))};
}
Grads d_cos(const Ctx& c, const Tensor& g) {
  return {mul(unary("neg", g), unary("sin", c.in[0]))};
}
Grads d_tanh(const Ctx& c, const Tensor& g) {
  return {mul(g, sub(scalar_like(1, c.out), unary("square", c.out)))};
}
Grads d_sigmoid(const Ctx& c, const Tensor& g) {
  return {mul(g, mul(c.out, sub(scalar_like(1, c.out), c.out)))};
}
// threshold_backward as PyTorch: g where out > 0, else 0 (a NaN gradient is dropped there too); a select
// over the bool mask instead of casting it to g's dtype and multiplying (one pass and allocation less).
Grads d_relu(const Ctx& c, const Tensor& g) {
  return {where(compare("gt", c.out, scalar_like(0, c.out)), g, scalar_like(0, g))};
}
Grads d_gelu(const Ctx& c, const Tensor& g) {
  // gelu(x) = x * Phi(x): d/dx = Phi(x) + x * phi(x), with Phi(x) = gelu(x) / x (1/2 at 0).
  const Tensor& x = c.in[0];
  Tensor is0 = compare("eq", x, scalar_like(0, x));
  Tensor safe_x = where(is0, scalar_like(1, x), x);
  Tensor cdf = where(is0, scalar_like(0.5, x), div(c.out, safe_x));
  Tensor pdf = muls(unary("exp", muls(unary("square", x), -0.5)), 0.3989422804014327);
  return {mul(g, add(cdf, mul(x, pdf)))};
}
Grads d_silu(const Ctx& c, const Tensor& g) {
  const Tensor& x = c.in[0];
  Tensor s = unary("sigmoid", x);
  return {mul(g, mul(s, add(scalar_like(1, x), mul(x, sub(scalar_like(1, s), s)))))};
}
// Note [Inverse trig and hyperbolic derivatives]: written from the input x
// (and the output where that is shorter), as PyTorch's derivatives.yaml.
Grads d_tan(const Ctx& c, const Tensor& g) {  // 1 + tan^2
  return {mul(g, add(scalar_like(1, c.out), unary("square", c.out)))};
}
Grads d_asin(const Ctx& c, const Tensor& g) {  // 1 / sqrt(1 - x^2)
  const Tensor& x = c.in[0];
  return {mul(g, unary("rsqrt", sub(scalar_like(1, x), unary("square", x))))};
}
Grads d_acos(const Ctx& c, const Tensor& g) {  // -1 / sqrt(1 - x^2)
  const Tensor& x = c.in[0];
  return {mul(unary("neg", g), unary("rsqrt", sub(scalar_like(1, x), unary("square", x))))};
}
Grads d_atan(const Ctx& c, const Tensor& g) {  // 1 / (1 + x^2)
  const Tensor& x = c.in[0];
  return {div(g, add(scalar_like(1, x), unary("square", x)))};
}
Grads d_sinh(const Ctx& c, const Tensor& g) {
  return {mul(g, unary("cosh", c.in[0]))};
}
Grads d_cosh(const Ctx& c, const Tensor& g) {
  return {mul(g, unary("sinh", c.in[0]))};
}
Grads d_asinh(const Ctx& c, const Tensor& g) {  // 1 / sqrt(x^2 + 1)
  const Tensor& x = c.in[0];
  return {mul(g, unary("rsqrt", add(unary("square", x), scalar_like(1, x))))};
}
Grads d_acosh(const Ctx& c, const Tensor& g) {  // 1 / sqrt(x^2 - 1)
  const Tensor& x = c.in[0];
  return {mul(g, unary("rsqrt", sub(unary("square", x), scalar_like(1, x))))};
}
Grads d_atanh(const Ctx& c, const Tensor& g) {  // 1 / (1 - x^2)
  const Tensor& x = c.in[0];
  return {div(g, sub(scalar_like(1, x), unary("square", x)))};
}
Grads d_log2(const Ctx& c, const Tensor& g) {
  return {div(g, muls(c.in[0], 0.69314718055994530942))};
}
Grads d_log10(const Ctx& c, const Tensor& g) {
  return {div(g, muls(c.in[0], 2.30258509299404568402))};
}
Grads d_atan2(const Ctx& c, const Tensor& g) {  // d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)
  const Tensor& a = c.in[0];
  const Tensor& b = c.in[1];
  Tensor r2 = add(unary("square", a), unary("square", b));
  return {div(mul(g, b), r2), div(mul(unary("neg", g), a), r2)};
}
Grads d_hypot(const Ctx& c, const Tensor& g) {  // a / h, b / h
  return {mul(g, div(c.in[0], c.out)), mul(g, div(c.in[1], c.out))};
}
Grads d_copysign(const Ctx& c, const Tensor& g) {
  // d/da = sign(a) * sign(out) (0 where a == 0, as PyTorch); b gets no gradient.
  Tensor s = mul(unary("sign", c.in[0]), unary("sign", c.out));
  return {mul(g, s), zeros_of(c.in_sizes[1], g)};
}
Grads d_logaddexp(const Ctx& c, const Tensor& g) {  // exp(a - out), exp(b - out)
  return {mul(g, unary("exp", sub(c.in[0], c.out))), mul(g, unary("exp", sub(c.in[1], c.out)))};
}
Grads d_zero2(const Ctx& c, const Tensor& g) {
  return {zeros_of(c.in_sizes[0], g), zeros_of(c.in_sizes[1], g)};
}
Grads d_identity(const Ctx&, const Tensor& g) {
  return {g};
}
Grads d_to_device(const Ctx& c, const Tensor& g) {
  return {to_device(g, c.in[0]->device())};
}

Grads d_add(const Ctx& c, const Tensor& g) {
  return {g, c.a.alpha == 1 ? g : muls(g, c.a.alpha)};
}
Grads d_sub(const Ctx& c, const Tensor& g) {
  return {g, muls(g, -c.a.alpha)};
}
Grads d_mul(const Ctx& c, const Tensor& g) {
  return {mul(g, c.in[1]), mul(g, c.in[0])};
}
Grads d_div(const Ctx& c, const Tensor& g) {
  if (c.a.mode != PRISM_ROUNDING_NONE) return {zeros_of(c.in_sizes[0], g), zeros_of(c.in_sizes[1], g)};
  const Tensor& a = c.in[0];
  const Tensor& b = c.in[1];
  return {div(g, b), div(mul(unary("neg", g), a), unary("square", b))};
}
Grads d_remainder(const Ctx& c, const Tensor& g) {
  Tensor q = div_mode(c.in[0], c.in[1], PRISM_ROUNDING_FLOOR);
  return {g, mul(unary("neg", g), q)};
}
Grads d_pow(const Ctx& c, const Tensor& g) {
  const Tensor& a = c.in[0];
  const Tensor& b = c.in[1];
  Tensor ga = mul(g, mul(b, binary("pow", a, sub(b, scalar_like(1, b)))));
  // d/db a^b = a^b log a; where a == 0 and b >= 0 the limit is 0.
  Tensor zero_base =
      compare("logical_and", compare("eq", a, scalar_like(0, a)), compare("ge", b, scalar_like(0, b)));
  Tensor gb = where(zero_base, scalar_like(0, g), mul(g, mul(c.out, unary("log", a))));
  return {ga, gb};
}
Grads d_maxmin(const Ctx& c, const Tensor& g, const char* win) {
  const Tensor& a = c.in[0];
  const Tensor& b = c.in[1];
  Tensor tie = compare("eq", a, b);
  Tensor half = where(tie, muls(g, 0.5), g);
  return {mul(half, mask(compare(win, a, b), g)), mul(half, mask(compare(win, b, a), g))};
}
Grads d_maximum(const Ctx& c, const Tensor& g) {
  return d_maxmin(c, g, "ge");
}
Grads d_minimum(const Ctx& c, const Tensor& g) {
  return d_maxmin(c, g, "le");
}
Grads d_where(const Ctx& c, const Tensor& g) {
  const Tensor& cond = c.in[0];
  return {nullptr, where(cond, g, scalar_like(0, g)), where(cond, scalar_like(0, g), g)};
}
Grads d_clamp(const Ctx& c, const Tensor& g) {
  const Tensor& x = c.in[0];
  Tensor keep = full(x->sizes, 1.0, PRISM_DTYPE_BOOL, x->device());
  if (c.a.has_min) keep = compare("logical_and", keep, compare("ge", x, scalar_like(c.a.min, x)));
  if (c.a.has_max) keep = compare("logical_and", keep, compare("le", x, scalar_like(c.a.max, x)));
  return {mul(g, mask(keep, g))};
}
Grads d_sum(const Ctx& c, const Tensor& g) {
  return {unreduce(g, c)};
}
// Product of every other element of each reduced group: exclusive products
// from the left and from the right along the flattened reduced dims.
Tensor prod_of_others(const Tensor& x, const Ctx& c) {
  const int n = x->dim();
  std::vector<bool> red(static_cast<size_t>(n), c.a.dims.empty());
  for (int64_t d : c.a.dims) red[static_cast<size_t>(wrap_dim(d, n, "prod backward"))] = true;
  Dims order, kept_sizes;
  int64_t k = 1;
  for (int i = 0; i < n; ++i) {
    if (!red[i]) {
      order.push_back(i);
      kept_sizes.push_back(x->sizes[i]);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (red[i]) {
      order.push_back(i);
      k *= x->sizes[i];
    }
  }
  Dims flat = kept_sizes;
  flat.push_back(k);
  Tensor xf = reshape(permute(x, order), flat);
  const int last = flat.n - 1;
  Dims one_col = kept_sizes;
  one_col.push_back(1);
  Tensor ones = full(one_col, 1.0, x->dtype, x->device());
  auto exclusive = [&](const Tensor& t) {
    return cat({ones, narrow(cumprod(t, last), last, 0, k - 1)}, last);
  };
  Tensor rev = arange(static_cast<double>(k - 1), -1.0, -1.0, PRISM_DTYPE_I64, x->device());
  Tensor left = exclusive(xf);
  Tensor right = index_select(exclusive(index_select(xf, last, rev)), last, rev);
  Tensor others = mul(left, right);
  // back to x's layout: undo the flattening, then the permutation
  Dims unflat = kept_sizes;
  for (int i = 0; i < n; ++i)
    if (red[i]) unflat.push_back(x->sizes[i]);
  Dims inverse;
  inverse.n = n;
  for (int i = 0; i < n; ++i) inverse[static_cast<int>(order[i])] = i;
  return permute(reshape(others, unflat), inverse);
}

Grads d_prod(const Ctx& c, const Tensor& g) {
  // prod / x when no input is zero; otherwise the product of the other
  // elements of each group (PyTorch's result, also for several zeros).
  const Tensor& x = c.in[0];
  if (x->dim() == 0) return {g};  // the product of one element is that element
  bool has_zero = false;
  if (x->numel() > 0) {
    Tensor z = reduce("any", compare("eq", x, scalar_like(0.0, x)), {}, false);
    unsigned char b = 0;
    copy_to_host(z, &b, 1);
    has_zero = b != 0;
  }
  if (!has_zero) return {div(mul(unreduce(g, c), unreduce(c.out, c)), x)};
  return {mul(unreduce(g, c), prod_of_others(x, c))};
}
Grads d_amaxmin(const Ctx& c, const Tensor& g) {
  // The gradient is shared evenly between tied extrema.
  Tensor hit = mask(compare("eq", c.in[0], unreduce(c.out, c)), g);
  Tensor count = reduce("sum", hit, c.a.dims, true);
  return {div(mul(unreduce(g, c), hit), expand(count, c.in_sizes[0]))};
}
// Note [bmm gradient layout]
// A gradient is produced in its input's layout when that input is stored
// transposed (column-major in its last two dims, e.g. weight.t() in linear):
// grad_b = (g^T a)^T instead of a^T g, so after the transpose's backward the
// leaf's gradient arrives contiguous and is taken over without a copy (as
// PyTorch's mm_mat1/mat2_backward do). Unneeded gradients are not computed.
bool col_major(const Tensor& t) {
  return t->strides[1] == 1 && t->strides[2] != 1 && t->sizes[1] > 1 && t->sizes[2] > 1;
}
Grads d_bmm(const Ctx& c, const Tensor& g) {
  const Tensor& a = c.in[0];
  const Tensor& b = c.in[1];
  Tensor ga, gb;
  if (c.need(0)) {
    ga = col_major(a) ? transpose(bmm(b, transpose(g, 1, 2)), 1, 2) : bmm(g, transpose(b, 1, 2));
  }
  if (c.need(1)) {
    gb = col_major(b) ? transpose(bmm(transpose(g, 1, 2), a), 1, 2) : bmm(transpose(a, 1, 2), g);
  }
  return {ga, gb};
}
Grads d_cat(const Ctx& c, const Tensor& g) {
  Grads r;
  int64_t off = 0;
  for (size_t i = 0; i < c.a.split_sizes.size(); ++i) {
    const int64_t s = c.a.split_sizes[i];
    // An empty input (a legacy 1-D [0] skipped by cat too) gets an empty gradient of its own shape.
    if (i < c.in_sizes.size() && numel_of(c.in_sizes[i]) == 0) {
      r.push_back(zeros_of(c.in_sizes[i], g));
    } else {
      r.push_back(narrow(g, c.a.dim, off, s));
    }
    off += s;
  }
  return r;
}
Grads d_reshape(const Ctx& c, const Tensor& g) {
  return {reshape(g, c.in_sizes[0])};
}
Grads d_permute(const Ctx& c, const Tensor& g) {
  Dims inv;
  inv.n = c.a.sizes.n;
  for (int i = 0; i < c.a.sizes.n; ++i) inv[static_cast<int>(c.a.sizes[i])] = i;
  return {permute(g, inv)};
}
Grads d_transpose(const Ctx& c, const Tensor& g) {
  return {transpose(g, c.a.i0, c.a.i1)};
}
// Views that pick part of their input: scatter the gradient into zeros.
Grads d_select_like(const Ctx& c, const Tensor& g, Tensor (*view_of)(const Tensor&, const OpAttrs&)) {
  Tensor z = zeros_of(c.in_sizes[0], g);
  copy_(view_of(z, c.a), g);
  return {z};
}
Tensor v_narrow(const Tensor& z, const OpAttrs& a) {
  return narrow(z, a.dim, a.i0, a.i1);
}
Tensor v_select(const Tensor& z, const OpAttrs& a) {
  return select(z, a.dim, a.i0);
}
Tensor v_slice(const Tensor& z, const OpAttrs& a) {
  return slice(z, a.dim, a.i0, a.i1, a.i2);
}
Tensor v_diagonal(const Tensor& z, const OpAttrs& a) {
  return diagonal(z, a.i0, a.i1, a.i2);
}
Grads d_narrow(const Ctx& c, const Tensor& g) {
  return d_select_like(c, g, v_narrow);
}
Grads d_select(const Ctx& c, const Tensor& g) {
  return d_select_like(c, g, v_select);
}
Grads d_slice(const Ctx& c, const Tensor& g) {
  return d_select_like(c, g, v_slice);
}
Grads d_diagonal(const Ctx& c, const Tensor& g) {
  return d_select_like(c, g, v_diagonal);
}
Grads d_as_strided(const Ctx& c, const Tensor& g) {
  // Overlapping windows accumulate: add window by window through a flat view.
  Tensor z = zeros_of(c.in_sizes[0], g);
  Tensor flat = reshape(z, Dims{-1});
  Tensor idx_src = as_strided(arange(0, double(numel_of(c.in_sizes[0])), 1, PRISM_DTYPE_I64, g->device()),
                              c.a.sizes, c.a.strides, c.a.offset);
  std::vector<double> idx(static_cast<size_t>(idx_src->numel()));
  {
    std::vector<int64_t> raw(idx.size());
    copy_to_host(idx_src, raw.data(), raw.size() * sizeof(int64_t));
    Tensor gf = reshape(contiguous(g), Dims{-1});
    for (size_t i = 0; i < raw.size(); ++i) {
      Tensor dst = narrow(flat, 0, raw[i], 1);
      binary_("add", dst, narrow(gf, 0, static_cast<int64_t>(i), 1));
    }
  }
  return {z};
}
Grads d_unfold(const Ctx& c, const Tensor& g) {
  // out[..., w, ..., k] = in[..., w*step + k, ...]: add each window back.
  Tensor z = zeros_of(c.in_sizes[0], g);
  if (c.in_sizes[0].n == 0) return {reshape(reduce("sum", g, {}, false), Dims{})};
  int64_t d = c.a.dim, size = c.a.i0, step = c.a.i1;
  int64_t windows = g->sizes[d];
  for (int64_t w = 0; w < windows; ++w) {
    Tensor win = select(g, d, w);                         // (..., size) with dim d removed
    Tensor moved = unsqueeze(win, d);                     // (..., 1, ..., size)
    Tensor back = transpose(moved, d, moved->dim() - 1);  // size moves to dim d
    back = squeeze_dim(back, -1);
    binary_("add", narrow(z, d, w * step, size), back);
  }
  return {z};
}

const Derivative kTable[] = {
    // op            grad_fn name          inputs outputs formula
    {"neg", "NegBackward", false, false, d_neg},
    {"abs", "AbsBackward", true, false, d_abs},
    {"sign", "SignBackward", false, false, d_zero},
    {"floor", "FloorBackward", false, false, d_zero},
    {"ceil", "CeilBackward", false, false, d_zero},
    {"round", "RoundBackward", false, false, d_zero},
    {"trunc", "TruncBackward", false, false, d_zero},
    {"tan", "TanBackward", false, true, d_tan},
    {"asin", "AsinBackward", true, false, d_asin},
    {"acos", "AcosBackward", true, false, d_acos},
    {"atan", "AtanBackward", true, false, d_atan},
    {"sinh", "SinhBackward", true, false, d_sinh},
    {"cosh", "CoshBackward", true, false, d_cosh},
    {"asinh", "AsinhBackward", true, false, d_asinh},
    {"acosh", "AcoshBackward", true, false, d_acosh},
    {"atanh", "AtanhBackward", true, false, d_atanh},
    {"log2", "Log2Backward", true, false, d_log2},
    {"log10", "Log10Backward", true, false, d_log10},
    {"exp", "ExpBackward", false, true, d_exp},
    {"log", "LogBackward", true, false, d_log},
    {"log1p", "Log1pBackward", true, false, d_log1p},
    {"expm1", "Expm1Backward", false, true, d_expm1},
    {"sqrt", "SqrtBackward", false, true, d_sqrt},
    {"rsqrt", "RsqrtBackward", false, true, d_rsqrt},
    {"reciprocal", "ReciprocalBackward", false, true, d_reciprocal},
    {"square", "SquareBackward", true, false, d_square},
    {"sin", "SinBackward", true, false, d_sin},
    {"cos", "CosBackward", true, false, d_cos},
    {"tanh", "TanhBackward", false, true, d_tanh},
    {"sigmoid", "SigmoidBackward", false, true, d_sigmoid},
    {"relu", "ReluBackward", false, true, d_relu},
    {"gelu", "GeluBackward", true, true, d_gelu},
    {"silu", "SiluBackward", true, false, d_silu},
    {"add", "AddBackward", false, false, d_add},
    {"sub", "SubBackward", false, false, d_sub},
    {"mul", "MulBackward", true, false, d_mul},
    {"div", "DivBackward", true, false, d_div},
    {"remainder", "RemainderBackward", true, false, d_remainder},
    {"pow", "PowBackward", true, true, d_pow},
    {"maximum", "MaximumBackward", true, false, d_maximum},
    {"minimum", "MinimumBackward", true, false, d_minimum},
    {"atan2", "Atan2Backward", true, false, d_atan2},
    {"hypot", "HypotBackward", true, true, d_hypot},
    {"copysign", "CopysignBackward", true, true, d_copysign},
    {"logaddexp", "LogaddexpBackward", true, true, d_logaddexp},
    {"nextafter", "NextafterBackward", false, false, d_zero2},
    {"where", "WhereBackward", true, false, d_where},
    {"clamp", "ClampBackward", true, false, d_clamp},
    {"sum", "SumBackward", false, false, d_sum},
    {"prod", "ProdBackward", true, true, d_prod},
    {"amax", "AmaxBackward", true, true, d_amaxmin},
    {"amin", "AminBackward", true, true, d_amaxmin},
    {"bmm", "BmmBackward", true, false, d_bmm},
    {"cat", "CatBackward", false, false, d_cat},
    {"to", "ToCopyBackward", false, false, d_identity},
    {"clone", "CloneBackward", false, false, d_identity},
    {"to_device", "ToDeviceBackward", true, false, d_to_device},
    {"expand", "ExpandBackward", false, false, d_identity},
    {"view", "ViewBackward", false, false, d_reshape},
    {"reshape", "ReshapeBackward", false, false, d_reshape},
    {"squeeze", "SqueezeBackward", false, false, d_reshape},
    {"unsqueeze", "UnsqueezeBackward", false, false, d_reshape},
    {"permute", "PermuteBackward", false, false, d_permute},
    {"transpose", "TransposeBackward", false, false, d_transpose},
    {"narrow", "NarrowBackward", false, false, d_narrow},
    {"select", "SelectBackward", false, false, d_select},
    {"slice", "SliceBackward", false, false, d_slice},
    {"diagonal", "DiagonalBackward", false, false, d_diagonal},
    {"as_strided", "AsStridedBackward", false, false, d_as_strided},
    {"unfold", "UnfoldBackward", false, false, d_unfold},
};

const Derivative* find_derivative(const char* op) {
  for (const Derivative& d : kTable)
    if (std::strcmp(d.op, op) == 0) return &d;
  return nullptr;
}

std::atomic<uint64_t> g_seq{0};

SavedTensor save(const Tensor& t) {
  if (!t) return {};
  return {detach(t), t->version()->load(std::memory_order_relaxed)};
}

// Sums a gradient down to `sizes` (undoing broadcasting).
Tensor sum_to(const Tensor& g, const Dims& sizes) {
  if (g->sizes == sizes) return g;
  int lead = g->dim() - sizes.n;
  std::vector<int64_t> dims;
  dims.reserve(static_cast<size_t>(g->dim()));
  // Summing over a dim of size 1 changes nothing: those dims are dropped by
  // the reshape alone, which keeps g's layout (Note [bmm gradient layout]).
  for (int i = 0; i < lead; ++i)
    if (g->sizes[i] != 1) dims.push_back(i);
  for (int i = 0; i < sizes.n; ++i)
    if (sizes[i] == 1 && g->sizes[i + lead] != 1) dims.push_back(i + lead);
  Tensor r = dims.empty() ? g : reduce("sum", g, dims, true);
  return reshape(r, sizes);
}

// One node type serves the table's formulas and the closures of composite and
// fused ops (record_closure): both save detached aliases checked by version on
// unpack, and both have their gradients summed back to each input's shape.
struct OpNode : Node {
  const Derivative* d = nullptr;  // table entry, or null for a closure node
  std::string closure_name;
  BackwardClosure closure;
  std::vector<SavedTensor> saved_in;
  SavedTensor saved_out;
  OpAttrs attrs;
  std::vector<Dims> in_sizes;
  std::vector<prism_dtype> in_dtypes;
  bool released = false;

  std::string name() const override { return d ? std::string(d->name) : closure_name; }
  void release_saved() override {
    // A node that saved nothing can run again (as in PyTorch).
    released = released || !saved_in.empty() || saved_out.defined();
    saved_in.clear();
    saved_out = {};
  }
  Tensor unpack(const SavedTensor& s, size_t i) const {
    if (!s.defined()) return nullptr;
    uint64_t now = s.alias->version()->load();
    PRISM_CHECK(
        now == s.version, INVALID_ARGUMENT,
        "one of the variables needed for gradient computation has been modified by an inplace operation: [",
        dtype_name(s.alias->dtype), " ", s.alias->sizes.str(), "], which is ",
        i == SIZE_MAX ? std::string("the output") : detail::str_cat(d ? "input " : "saved tensor ", i),
        " of ", name(), ", is at version ", now, "; expected version ", s.version, " instead");
    return s.alias;
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    PRISM_CHECK(
        !released, INVALID_ARGUMENT,
        "Trying to backward through the graph a second time (or directly access"
        " saved tensors after they have already been freed) at ",
        name(),
        ". Saved intermediate values of the graph are freed when you call backward(); pass retain_graph=1 "
        "if you need to backward through the graph a second time");
    if (grads.empty() || !grads[0]) return std::vector<Tensor>(next.size());
    std::vector<Tensor> in;
    for (size_t i = 0; i < saved_in.size(); ++i) in.push_back(unpack(saved_in[i], i));
    Grads r;
    if (d) {
      Ctx c{in, unpack(saved_out, SIZE_MAX), attrs, in_sizes, in_dtypes, next};
      r = d->fn(c, grads[0]);
    } else {
      r = closure(in, grads[0]);
    }
    r.resize(next.size());
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r[i] || !next[i].node) {
        r[i] = nullptr;
        continue;
      }
      r[i] = sum_to(r[i], in_sizes[i]);
      if (r[i]->dtype != in_dtypes[i]) r[i] = to_dtype(r[i], in_dtypes[i]);
    }
    return r;
  }
};

// Connects `node` to the inputs' history and makes it `out`'s grad_fn.
void attach(const std::shared_ptr<OpNode>& node, const Tensor& out, const std::vector<Tensor>& inputs) {
  node->seq = g_seq++;
  for (const Tensor& t : inputs) {
    node->in_sizes.push_back(t ? t->sizes : Dims());
    node->in_dtypes.push_back(t ? t->dtype : PRISM_DTYPE_F32);
    if (!t || !requires_grad(t.get())) {
      node->next.push_back({});
    } else if (t->autograd->grad_fn) {
      node->next.push_back({t->autograd->grad_fn, t->autograd->output_nr});
    } else {
      node->next.push_back({leaf_accumulator(t), 0});
    }
  }
  if (!out->autograd) out->autograd = std::make_shared<AutogradMeta>();
  out->autograd->grad_fn = node;
  out->autograd->output_nr = 0;
  out->autograd->requires_grad = false;
}

}  // namespace

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (*t && requires_grad(t->get())) return true;
  return false;
}

void record(const char* op, const Tensor& out, const std::vector<Tensor>& inputs, OpAttrs attrs) {
  if (!is_float(out->dtype)) return;  // integer/bool results carry no gradient
  for (const Tensor& t : inputs)
    if (t.get() == out.get()) return;  // the op returned its input unchanged
  const Derivative* d = find_derivative(op);
  PRISM_ASSERT(d != nullptr);
  auto node = std::make_shared<OpNode>();
  node->d = d;
  node->forward_op = op;
  node->attrs = std::move(attrs);
  if (d->save_inputs)
    for (const Tensor& t : inputs) node->saved_in.push_back(save(t));
  if (d->save_output) node->saved_out = save(out);
  attach(node, out, inputs);
  static const char* const kViewOps[] = {"view",       "reshape", "squeeze", "unsqueeze", "permute",
                                         "transpose",  "narrow",  "select",  "slice",     "diagonal",
                                         "as_strided", "unfold",  "expand"};
  for (const char* v : kViewOps) {
    if (std::strcmp(v, op) == 0 && out->storage == inputs[0]->storage) {
      const Tensor& in = inputs[0];
      out->autograd->is_view = true;
      out->autograd->view_base = (in->autograd && in->autograd->is_view) ? in->autograd->view_base : in;
      break;
    }
  }
}

void record_closure(const char* forward_op, const char* name, const Tensor& out,
                    const std::vector<Tensor>& inputs, const std::vector<Tensor>& saved, BackwardClosure fn) {
  if (!is_float(out->dtype)) return;
  auto node = std::make_shared<OpNode>();
  node->closure_name = name;
  node->closure = std::move(fn);
  node->forward_op = forward_op;
  for (const Tensor& t : saved) node->saved_in.push_back(save(t));
  attach(node, out, inputs);
}

}  // namespace prism::autograd
