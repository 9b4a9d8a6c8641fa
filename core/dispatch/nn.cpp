// nn.cpp — neural-network ops: softmax family, losses, linear, dropout, normalisation, conv2d and pooling,
// with their autograd (closures written with dispatcher ops, so every device gets gradients).
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

// Note [nn ops: kernels, composites and fallback]
// -----------------------------------------------
// softmax and log_softmax (forward and backward) use a device's fused kernel
// when its plugin registers one, and otherwise run as composites of
// primitives (amax, sub, exp, sum, log, div) on that same device. conv2d,
// its two backward kernels and the 2-D pools have no composite: a device
// without them goes through the dispatcher's fallback policy (the CPU plugin
// runs the kernel on copies; PRISM_FALLBACK=error refuses). Losses, linear,
// dropout, layer_norm and batch_norm are composites of primitives on every
// device. Backward formulas are closures (autograd::record_closure) written
// with dispatcher ops, or come from the primitives' table entries.
//
// Mixed precision: float16 / bfloat16 inputs are computed in float32 where
// PyTorch accumulates in float (softmax, losses, norms; matmul and conv
// accumulate in float32 inside the kernels) and the result is rounded back
// to the input's dtype once.

namespace {

namespace ag = autograd;

bool has_kernel(Device* dev, const char* op, prism_dtype dt) {
  return dev->plugin->find_kernel(op, dt) != nullptr;
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b);
}
Tensor sum_all(const Tensor& t) {
  return reduce("sum", t, {}, false);
}

// float32 for halves (Note [nn ops: kernels, composites and fallback]).
prism_dtype compute_dtype(prism_dtype dt) {
  return (dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16) ? PRISM_DTYPE_F32 : dt;
}
Tensor upcast(const Tensor& t) {
  return t ? to_dtype(t, compute_dtype(t->dtype)) : nullptr;
}

void require_float(const char* op, const Tensor& t, const char* what) {
  PRISM_CHECK(is_float(t->dtype), INVALID_ARGUMENT, op, ": expected ", what,
              " to be a floating point tensor, but got ", describe(t));
}

void require_defined(const char* op, const Tensor& t, const char* what) {
  PRISM_CHECK(t != nullptr, INVALID_ARGUMENT, op, ": ", what, " is NULL");
}

std::vector<int64_t> all_dims_but(int64_t ndim, int64_t keep) {
  std::vector<int64_t> d;
  for (int64_t i = 0; i < ndim; ++i)
    if (i != keep) d.push_back(i);
  return d;
}

// Shape (1, C, 1, ...) of rank `ndim` for broadcasting a per-class vector along dim `cd`.
Dims class_shape(int64_t C, int64_t ndim, int64_t cd) {
  Dims s;
  for (int64_t i = 0; i < ndim; ++i) s.push_back(i == cd ? C : 1);
  return s;
}

Tensor apply_reduction(const char* op, const Tensor& loss, prism_reduction r) {
  switch (r) {
    case PRISM_REDUCTION_NONE:
      return loss;
    case PRISM_REDUCTION_SUM:
      return sum_all(loss);
    case PRISM_REDUCTION_MEAN:
      return mean(loss, {}, false);
    default:
      PRISM_FAIL(INVALID_ARGUMENT, op, ": reduction must be none (0), mean (1) or sum (2), got ", int(r));
  }
}

void check_reduction(const char* op, prism_reduction r) {
  PRISM_CHECK(r == PRISM_REDUCTION_NONE || r == PRISM_REDUCTION_MEAN || r == PRISM_REDUCTION_SUM,
              INVALID_ARGUMENT, op, ": reduction must be none (0), mean (1) or sum (2), got ", int(r));
}

// Runs `fwd` with grad mode off and records a closure node on its result.
template <typename F>
Tensor with_closure(const char* op, const char* name, const std::vector<Tensor>& inputs,
                    const std::function<std::vector<Tensor>(Tensor out)>& saved_of, ag::BackwardClosure bwd,
                    F&& fwd) {
  Tensor out;
  {
    ag::NoGradGuard ng;
    out = fwd();
  }
  ag::record_closure(op, name, out, inputs, saved_of(out), std::move(bwd));
  return out;
}

bool any_requires_grad(std::initializer_list<const Tensor*> ts) {
  return ag::should_record(ts);
}

}  // namespace

// ===========================================================================
// softmax / log_softmax
// ===========================================================================

Tensor softmax_backward(const Tensor& grad, const Tensor& out, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  Tensor g = to_dtype(grad, out->dtype);
  PRISM_CHECK(g->sizes == out->sizes, INVALID_ARGUMENT, op, ": grad ", describe(g), " and output ",
              describe(out), " differ in shape");
  if (out->numel() == 0) return empty_like(out);
  if (has_kernel(out->device(), op, out->dtype)) {
    Tensor cg = contiguous(g), co = contiguous(out);
    Tensor gx = empty(out->sizes, out->dtype, out->device());
    Attrs at;
    at.add_int("dim", dim);
    run_kernel(op, out->dtype, {cg.get(), co.get()}, {gx.get()}, at);
    return gx;
  }
  Tensor gg = upcast(g), y = upcast(out);
  Tensor r = log ? sub(gg, mul(unary("exp", y), reduce("sum", gg, {dim}, true)))
                 : mul(y, sub(gg, reduce("sum", mul(gg, y), {dim}, true)));
  return to_dtype(r, out->dtype);
}

namespace {

Tensor softmax_impl(bool log, const Tensor& x, int64_t dim) {
  const char* op = log ? "log_softmax" : "softmax";
  require_defined(op, x, "input");
  require_float(op, x, "input");
  int64_t d = wrap_dim(dim, std::max<int64_t>(x->dim(), 1), op);
  if (x->dim() == 0) d = 0;
  if (any_requires_grad({&x})) {
    return with_closure(
        op, log ? "LogSoftmaxBackward" : "SoftmaxBackward", {x},
        [](const Tensor& out) { return std::vector<Tensor>{out}; },
        [d, log](const std::vector<Tensor>& saved, const Tensor& g) {
          return std::vector<Tensor>{softmax_backward(g, saved[0], d, log)};
        },
        [&] { return softmax_impl(log, x, d); });
  }
  if (x->numel() == 0) return empty(x->sizes, x->dtype, x->device());
  if (has_kernel(x->device(), op, x->dtype)) {
    Tensor cx = contiguous(x);
    Tensor out = empty(x->sizes, x->dtype, x->device());
    Attrs at;
    at.add_int("dim", d);
    run_kernel(op, x->dtype, {cx.get()}, {out.get()}, at);
    return out;
  }
  // Composite: shift by the max. A row whose max is infinite gives NaN, as
  // PyTorch's softmax does (and the fused kernel), so no special case.
  Tensor xx = upcast(x);
  Tensor z = sub(xx, reduce("amax", xx, {d}, true));
  Tensor r;
  if (log) {
    r = sub(z, unary("log", reduce("sum", unary("exp", z), {d}, true)));
  } else {
    Tensor e = unary("exp", z);
    r = div(e, reduce("sum", e, {d}, true));
  }
  return to_dtype(r, x->dtype);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  if (amp::Autocast ac{"softmax", {&x}}) return softmax(ac[0], dim);  // Note [Autocast]
  return softmax_impl(false, x, dim);
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  if (amp::Autocast ac{"log_softmax", {&x}}) return log_softmax(ac[0], dim);  // Note [Autocast]
  return softmax_impl(true, x, dim);
}

// ===========================================================================
// Classification losses
// ===========================================================================

namespace {

struct ClassTarget {
  Tensor valid;    // bool, target's shape: target != ignore_index
  Tensor onehot;   // input dtype, input's shape: 1 at (i, target_i) for valid i
  int64_t cd = 1;  // class dim of the input
  int64_t C = 0;
};

// Validates an (N, C, d1, ...) / (C) input against an integer target and builds the masks.
ClassTarget class_target(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight,
                         int64_t ignore_index, prism_dtype dt) {
  PRISM_CHECK(input->dim() >= 1, INVALID_ARGUMENT, op,
              ": expected input with at least 1 dimension (C) or (N, C, ...), got ", describe(input));
  PRISM_CHECK(!is_float(target->dtype) && target->dtype != PRISM_DTYPE_BOOL, INVALID_ARGUMENT, op,
              ": expected target to hold class indices (an integer tensor) of shape ",
              input->dim() == 1 ? "[]" : "[N, d1, ...]", ", but got ", describe(target), " for input ",
              describe(input));
  common_device(op, {input.get(), target.get()});
  ClassTarget ct;
  ct.cd = input->dim() == 1 ? 0 : 1;
  ct.C = input->sizes[ct.cd];
  Dims expect;
  for (int i = 0; i < input->dim(); ++i)
    if (i != ct.cd) expect.push_back(input->sizes[i]);
  if (input->dim() >= 2 && target->dim() >= 1 && input->sizes[0] != target->sizes[0]) {
    PRISM_FAIL(INVALID_ARGUMENT, op, ": Expected input batch_size (", input->sizes[0],
               ") to match target batch_size (", target->sizes[0], "); input ", describe(input), ", target ",
               describe(target));
  }
  PRISM_CHECK(target->sizes == expect, INVALID_ARGUMENT, op, ": expected target of shape ", expect.str(),
              " for input of shape ", input->sizes.str(), ", but got target ", describe(target));
  if (weight) {
    common_device(op, {input.get(), weight.get()});
    PRISM_CHECK(weight->dim() == 1 && weight->sizes[0] == ct.C, INVALID_ARGUMENT, op,
                ": weight tensor should be defined either for all ", ct.C,
                " classes or no classes but got weight tensor of shape: ", weight->sizes.str());
    require_float(op, weight, "weight");
  }
  Tensor t = to_dtype(target, PRISM_DTYPE_I64);
  Tensor ign = scalar_tensor(static_cast<double>(ignore_index), PRISM_DTYPE_I64, t->device());
  ct.valid = compare("ne", t, ign);
  if (t->numel() > 0) {
    Tensor zero = scalar_tensor(0, PRISM_DTYPE_I64, t->device());
    Tensor checked = where(ct.valid, t, zero);
    int64_t hi = item_int64(reduce("amax", checked, {}, false));
    int64_t lo = item_int64(reduce("amin", checked, {}, false));
    int64_t bad = hi >= ct.C ? hi : lo;
    PRISM_CHECK(lo >= 0 && hi < ct.C, INVALID_ARGUMENT, op, ": Target ", bad, " is out of bounds. (", ct.C,
                " classes; input ", describe(input), ")");
  }
  Tensor classes = reshape(arange(0, static_cast<double>(ct.C), 1, PRISM_DTYPE_I64, t->device()),
                           class_shape(ct.C, input->dim(), ct.cd));
  Tensor tt = input->dim() == 1 ? reshape(t, Dims{1}) : unsqueeze(t, 1);
  Tensor vv = input->dim() == 1 ? reshape(ct.valid, Dims{1}) : unsqueeze(ct.valid, 1);
  ct.onehot = to_dtype(compare("logical_and", compare("eq", classes, tt), vv), dt);
  return ct;
}

// Per-class weight broadcast along the class dim (ones when absent), in dtype dt.
Tensor class_weight(const Tensor& weight, const ClassTarget& ct, int64_t ndim, prism_dtype dt, Device* dev) {
  if (!weight) return scalar_tensor(1.0, dt, dev);
  return reshape(to_dtype(weight, dt), class_shape(ct.C, ndim, ct.cd));
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                prism_reduction reduction) {
  if (amp::Autocast ac{"nll_loss", {&input, &target, &weight}})  // Note [Autocast]
    return nll_loss(ac[0], ac[1], ac[2], ignore_index, reduction);
  const char* op = "nll_loss";
  require_defined(op, input, "input");
  require_defined(op, target, "target");
  require_float(op, input, "input");
  check_reduction(op, reduction);
  prism_dtype dt = compute_dtype(input->dtype);
  ClassTarget ct = class_target(op, input, target, weight, ignore_index, dt);
  Tensor x = upcast(input);
  Tensor wm = mul(ct.onehot, class_weight(weight, ct, input->dim(), dt, input->device()));  // w[t_i] at t_i
  Tensor loss = unary("neg", reduce("sum", mul(x, wm), {ct.cd}, false));
  Tensor r;
  if (reduction == PRISM_REDUCTION_MEAN) {
    r = div(sum_all(loss), sum_all(wm));  // weighted mean: divide by the sum of the targets' weights
  } else {
    r = apply_reduction(op, loss, reduction);
  }
  return to_dtype(r, input->dtype);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     double label_smoothing, prism_reduction reduction) {
  if (amp::Autocast ac{"cross_entropy", {&input, &target, &weight}})  // Note [Autocast]
    return cross_entropy(ac[0], ac[1], ac[2], ignore_index, label_smoothing, reduction);
  const char* op = "cross_entropy";
  require_defined(op, input, "input");
  require_defined(op, target, "target");
  require_float(op, input, "input");
  check_reduction(op, reduction);
  PRISM_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, INVALID_ARGUMENT, op,
              ": label_smoothing must be between 0.0 and 1.0. Got: ", label_smoothing);
  PRISM_CHECK(input->dim() >= 1, INVALID_ARGUMENT, op,
              ": expected input with at least 1 dimension (C) or (N, C, ...), got ", describe(input));
  prism_dtype dt = compute_dtype(input->dtype);
  const int64_t cd = input->dim() == 1 ? 0 : 1;
  const int64_t C = input->sizes[cd];
  Tensor logp = log_softmax(upcast(input), cd);
  const double eps = label_smoothing;

  if (is_float(target->dtype)) {
    // Class probabilities: target has the input's shape.
    common_device(op, {input.get(), target.get()});
    Dims index_shape;
    for (int i = 0; i < input->dim(); ++i)
      if (i != cd) index_shape.push_back(input->sizes[i]);
    PRISM_CHECK(target->sizes == input->sizes, INVALID_ARGUMENT, op,
                ": expected class-probability target of the input's shape ", input->sizes.str(),
                " (or integer class indices of shape ", index_shape.str(), "), but got target ",
                describe(target));
    PRISM_CHECK(ignore_index < 0, INVALID_ARGUMENT, op,
                ": ignore_index is not supported for floating point target (got ", ignore_index, ")");
    if (weight) {
      common_device(op, {input.get(), weight.get()});
      PRISM_CHECK(weight->dim() == 1 && weight->sizes[0] == C, INVALID_ARGUMENT, op,
                  ": weight tensor should be defined either for all ", C,
                  " classes or no classes but got weight tensor of shape: ", weight->sizes.str());
    }
    Tensor t = to_dtype(target, dt);
    if (eps > 0) t = add(mul(t, scalar_like(1.0 - eps, t)), scalar_like(eps / static_cast<double>(C), t));
    Tensor prod = mul(logp, t);
    if (weight) prod = mul(prod, reshape(to_dtype(weight, dt), class_shape(C, input->dim(), cd)));
    Tensor loss = unary("neg", reduce("sum", prod, {cd}, false));
    Tensor r;
    if (reduction == PRISM_REDUCTION_MEAN) {
      double n = C == 0 ? 0.0 : static_cast<double>(input->numel()) / static_cast<double>(C);
      r = div(sum_all(loss), scalar_like(n, loss));
    } else {
      r = apply_reduction(op, loss, reduction);
    }
    return to_dtype(r, input->dtype);
  }

  ClassTarget ct = class_target(op, input, target, weight, ignore_index, dt);
  Tensor cw = class_weight(weight, ct, input->dim(), dt, input->device());
  Tensor wm = mul(ct.onehot, cw);
  Tensor nll = unary("neg", reduce("sum", mul(logp, wm), {cd}, false));
  Tensor denom;  // weighted-mean denominator: sum of w[t_i] over non-ignored i
  if (reduction == PRISM_REDUCTION_MEAN) denom = sum_all(wm);
  auto reduce_loss = [&](const Tensor& l) {
    return reduction == PRISM_REDUCTION_MEAN ? div(sum_all(l), denom) : apply_reduction(op, l, reduction);
  };
  Tensor r = reduce_loss(nll);
  if (eps > 0) {
    Tensor smooth = unary("neg", reduce("sum", weight ? mul(logp, cw) : logp, {cd}, false));
    smooth = where(ct.valid, smooth, scalar_like(0.0, smooth));
    Tensor rs = reduce_loss(smooth);
    r = add(mul(r, scalar_like(1.0 - eps, r)), mul(rs, scalar_like(eps / static_cast<double>(C), rs)));
  }
  return to_dtype(r, input->dtype);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, prism_reduction reduction) {
  if (amp::Autocast ac{"binary_cross_entropy_with_logits", {&input, &target, &weight, &pos_weight}})
    return binary_cross_entropy_with_logits(ac[0], ac[1], ac[2], ac[3], reduction);  // Note [Autocast]
  const char* op = "binary_cross_entropy_with_logits";
  require_defined(op, input, "input");
  require_defined(op, target, "target");
  require_float(op, input, "input");
  require_float(op, target, "target");
  check_reduction(op, reduction);
  common_device(op, {input.get(), target.get()});
  PRISM_CHECK(target->sizes == input->sizes, INVALID_ARGUMENT, op, ": Target size (", target->sizes.str(),
              ") must be the same as input size (", input->sizes.str(), ")");
  prism_dtype dt = compute_dtype(input->dtype);
  Tensor x = upcast(input), y = to_dtype(target, dt);
  // softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), stable for any x.
  const double zero = 0.0;
  Tensor sp = add(clamp(unary("neg", x), &zero, nullptr),
                  unary("log1p", unary("exp", unary("neg", unary("abs", x)))));
  Tensor lw = sp;
  if (pos_weight) {
    require_float(op, pos_weight, "pos_weight");
    common_device(op, {input.get(), pos_weight.get()});
    broadcast_shapes(op, pos_weight->sizes, input->sizes);
    Tensor pw = to_dtype(pos_weight, dt);
    lw = mul(add(mul(sub(pw, scalar_like(1.0, pw)), y), scalar_like(1.0, y)), sp);
  }
  Tensor loss = add(mul(sub(scalar_like(1.0, y), y), x), lw);
  if (weight) {
    require_float(op, weight, "weight");
    common_device(op, {input.get(), weight.get()});
    broadcast_shapes(op, weight->sizes, input->sizes);
    loss = mul(loss, to_dtype(weight, dt));
  }
  return to_dtype(apply_reduction(op, loss, reduction), input->dtype);
}

// ===========================================================================
// Regression losses
// ===========================================================================

namespace {

// Validated, upcast difference input - target.
Tensor loss_diff(const char* op, const Tensor& input, const Tensor& target, prism_reduction reduction) {
  require_defined(op, input, "input");
  require_defined(op, target, "target");
  require_float(op, input, "input");
  require_float(op, target, "target");
  check_reduction(op, reduction);
  common_device(op, {input.get(), target.get()});
  broadcast_shapes(op, input->sizes, target->sizes);
  prism_dtype dt = compute_dtype(promote_types(input->dtype, target->dtype));
  return sub(to_dtype(input, dt), to_dtype(target, dt));
}

prism_dtype loss_out_dtype(const Tensor& input, const Tensor& target) {
  return promote_types(input->dtype, target->dtype);
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, prism_reduction reduction) {
  if (amp::Autocast ac{"mse_loss", {&input, &target}}) return mse_loss(ac[0], ac[1], reduction);
  Tensor d = loss_diff("mse_loss", input, target, reduction);
  return to_dtype(apply_reduction("mse_loss", unary("square", d), reduction), loss_out_dtype(input, target));
}

Tensor l1_loss(const Tensor& input, const Tensor& target, prism_reduction reduction) {
  if (amp::Autocast ac{"l1_loss", {&input, &target}}) return l1_loss(ac[0], ac[1], reduction);
  Tensor d = loss_diff("l1_loss", input, target, reduction);
  return to_dtype(apply_reduction("l1_loss", unary("abs", d), reduction), loss_out_dtype(input, target));
}

Tensor huber_loss(const Tensor& input, const Tensor& target, double delta, prism_reduction reduction) {
  if (amp::Autocast ac{"huber_loss", {&input, &target}}) return huber_loss(ac[0], ac[1], delta, reduction);
  PRISM_CHECK(delta > 0, INVALID_ARGUMENT, "huber_loss: delta must be positive, got ", delta);
  Tensor d = loss_diff("huber_loss", input, target, reduction);
  Tensor a = unary("abs", d);
  // |d| < delta: d^2 / 2; else delta * (|d| - delta / 2)
  Tensor quad = mul(unary("square", d), scalar_like(0.5, d));
  Tensor lin = mul(sub(a, scalar_like(0.5 * delta, a)), scalar_like(delta, a));
  Tensor loss = where(compare("lt", a, scalar_like(delta, a)), quad, lin);
  return to_dtype(apply_reduction("huber_loss", loss, reduction), loss_out_dtype(input, target));
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta, prism_reduction reduction) {
  if (amp::Autocast ac{"smooth_l1_loss", {&input, &target}})
    return smooth_l1_loss(ac[0], ac[1], beta, reduction);
  PRISM_CHECK(beta >= 0, INVALID_ARGUMENT, "smooth_l1_loss: beta must be non-negative, got ", beta);
  Tensor d = loss_diff("smooth_l1_loss", input, target, reduction);
  Tensor a = unary("abs", d);
  Tensor loss = a;
  if (beta > 0) {
    // |d| < beta: d^2 / (2 beta); else |d| - beta / 2
    Tensor quad = mul(unary("square", d), scalar_like(0.5 / beta, d));
    loss = where(compare("lt", a, scalar_like(beta, a)), quad, sub(a, scalar_like(0.5 * beta, a)));
  }
  return to_dtype(apply_reduction("smooth_l1_loss", loss, reduction), loss_out_dtype(input, target));
}

// ===========================================================================
// linear, dropout
// ===========================================================================

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  if (amp::Autocast ac{"linear", {&input, &weight, &bias}})
    return linear(ac[0], ac[1], ac[2]);  // Note [Autocast]
  const char* op = "linear";
  require_defined(op, input, "input");
  require_defined(op, weight, "weight");
  PRISM_CHECK(weight->dim() == 2, INVALID_ARGUMENT, op,
              ": expected a 2-D weight [out_features, in_features], got ", describe(weight));
  PRISM_CHECK(input->dim() >= 1 && input->sizes[input->dim() - 1] == weight->sizes[1], INVALID_ARGUMENT, op,
              ": input ", describe(input), " has ", input->dim() >= 1 ? input->sizes[input->dim() - 1] : 0,
              " features but weight ", describe(weight), " expects in_features = ", weight->sizes[1]);
  if (bias) {
    PRISM_CHECK(bias->dim() == 1 && bias->sizes[0] == weight->sizes[0], INVALID_ARGUMENT, op, ": bias ",
                describe(bias), " must have shape [", weight->sizes[0], "] (out_features of weight ",
                weight->sizes.str(), ")");
  }
  common_device(op, {input.get(), weight.get()});
  PRISM_CHECK(input->dtype == weight->dtype && (!bias || bias->dtype == input->dtype), INVALID_ARGUMENT, op,
              ": input ", describe(input), ", weight ", describe(weight), bias ? " and bias " : "",
              bias ? describe(bias) : std::string(), " must have the same dtype");
  // Note [linear]: one node instead of transpose + matmul + add. The forward
  // hands weight.t() to the bmm kernel as a transposed operand (no copy) and
  // adds the bias in place; the backward computes only the gradients some input
  // needs, and the weight's as g^T x, so it arrives contiguous in the weight's
  // own layout. Batched inputs (N-D) fold their leading dims into rows.
  auto forward = [&] {
    Tensor out = matmul(input, transpose(weight, 0, 1));
    if (bias) binary_("add", out, bias);
    return out;
  };
  if (!any_requires_grad({&input, &weight, &bias})) return forward();
  const bool need_x = ag::requires_grad(input), need_w = ag::requires_grad(weight);
  const bool need_b = bias && ag::requires_grad(bias);
  const int64_t in_f = weight->sizes[1], out_f = weight->sizes[0];
  return with_closure(
      op, "LinearBackward", {input, weight, bias},
      [&](const Tensor&) {
        return std::vector<Tensor>{need_w ? input : nullptr, need_x ? weight : nullptr};
      },
      [need_x, need_w, need_b, in_f, out_f](const std::vector<Tensor>& s, const Tensor& g) {
        Tensor gx, gw, gb;
        if (need_x) gx = matmul(g, s[1]);
        const Tensor g2 = (need_w || need_b) ? reshape(g, Dims{-1, out_f}) : nullptr;
        if (need_w) gw = matmul(transpose(g2, 0, 1), reshape(s[0], Dims{-1, in_f}));
        if (need_b) gb = reduce("sum", g2, {0}, false);
        return std::vector<Tensor>{gx, gw, gb};
      },
      forward);
}

Tensor dropout(const Tensor& input, double p, bool training) {
  const char* op = "dropout";
  require_defined(op, input, "input");
  PRISM_CHECK(p >= 0.0 && p <= 1.0, INVALID_ARGUMENT, op,
              ": dropout probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0.0) return input;
  require_float(op, input, "input");
  if (p == 1.0) return mul(input, scalar_like(0.0, input));
  // The keep mask comes from the Philox generator (core/random), so every
  // device draws the same mask for the same seed.
  Tensor keep;
  {
    ag::NoGradGuard ng;
    keep = bernoulli_scalar(input->sizes, 1.0 - p, input->dtype, input->device());
    keep = mul(keep, scalar_like(1.0 / (1.0 - p), keep));
  }
  return mul(input, keep);
}

// ===========================================================================
// layer_norm, batch_norm
// ===========================================================================

namespace {

// gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) over `dims`.
Tensor norm_input_grad(const Tensor& gxhat, const Tensor& xhat, const Tensor& rstd,
                       const std::vector<int64_t>& dims) {
  Tensor m1 = mean(gxhat, dims, true);
  Tensor m2 = mean(mul(gxhat, xhat), dims, true);
  return mul(rstd, sub(sub(gxhat, m1), mul(xhat, m2)));
}

}  // namespace

Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  if (amp::Autocast ac{"layer_norm", {&input, &weight, &bias}})  // Note [Autocast]
    return layer_norm(ac[0], normalized_shape, ac[1], ac[2], eps);
  const char* op = "layer_norm";
  require_defined(op, input, "input");
  require_float(op, input, "input");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  Dims ns;
  for (int64_t v : normalized_shape) ns.push_back(v);
  bool ok = k >= 1 && k <= input->dim();
  for (int64_t i = 0; ok && i < k; ++i)
    ok = input->sizes[static_cast<int>(input->dim() - k + i)] == normalized_shape[i];
  PRISM_CHECK(
      ok, INVALID_ARGUMENT, op, ": Given normalized_shape=", ns.str(), ", expected input with shape [*",
      [&] {
        std::string s;
        for (int64_t v : normalized_shape) s += detail::str_cat(", ", v);
        return s;
      }(),
      "], but got input of size", input->sizes.str());
  for (const Tensor* t : {&weight, &bias}) {
    if (!*t) continue;
    common_device(op, {input.get(), t->get()});
    PRISM_CHECK((*t)->sizes == ns, INVALID_ARGUMENT, op, ": expected ", t == &weight ? "weight" : "bias",
                " of shape ", ns.str(), " (normalized_shape), but got ", describe(*t));
  }
  std::vector<int64_t> dims;
  for (int64_t i = input->dim() - k; i < input->dim(); ++i) dims.push_back(i);
  std::vector<int64_t> batch_dims;
  for (int64_t i = 0; i < input->dim() - k; ++i) batch_dims.push_back(i);

  auto forward = [&](Tensor* mean_out, Tensor* rstd_out) {
    Tensor x = upcast(input);
    Tensor m = mean(x, dims, true);
    Tensor v = var(x, dims, 0, true);
    Tensor rstd = unary("rsqrt", add(v, scalar_like(eps, v)));
    Tensor y = mul(sub(x, m), rstd);
    if (weight) y = mul(y, to_dtype(weight, y->dtype));
    if (bias) y = add(y, to_dtype(bias, y->dtype));
    if (mean_out != nullptr) *mean_out = m;
    if (rstd_out != nullptr) *rstd_out = rstd;
    return to_dtype(y, input->dtype);
  };
  if (!any_requires_grad({&input, &weight, &bias})) return forward(nullptr, nullptr);
  Tensor m, rstd;
  const bool has_w = weight != nullptr, has_b = bias != nullptr;
  return with_closure(
      op, "LayerNormBackward", {input, weight, bias},
      [&](const Tensor&) {
        return std::vector<Tensor>{input, weight, m, rstd};
      },
      [dims, batch_dims, has_w, has_b](const std::vector<Tensor>& s, const Tensor& g) {
        Tensor x = upcast(s[0]), gg = upcast(g);
        Tensor xhat = mul(sub(x, s[2]), s[3]);
        auto batch_sum = [&](const Tensor& t) {
          return batch_dims.empty() ? t : reduce("sum", t, batch_dims, false);
        };
        Tensor gw = has_w ? batch_sum(mul(gg, xhat)) : nullptr;
        Tensor gb = has_b ? batch_sum(gg) : nullptr;
        Tensor gxhat = has_w ? mul(gg, to_dtype(s[1], gg->dtype)) : gg;
        return std::vector<Tensor>{norm_input_grad(gxhat, xhat, s[3], dims), gw, gb};
      },
      [&] { return forward(&m, &rstd); });
}

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  require_defined(op, input, "input");
  require_float(op, input, "input");
  PRISM_CHECK(input->dim() >= 2, INVALID_ARGUMENT, op,
              ": expected input of shape (N, C, ...) with at least 2 dims, got ", describe(input));
  const int64_t C = input->sizes[1];
  const char* names[] = {"running_mean", "running_var", "weight", "bias"};
  const Tensor* params[] = {&running_mean, &running_var, &weight, &bias};
  for (int i = 0; i < 4; ++i) {
    if (!*params[i]) continue;
    common_device(op, {input.get(), params[i]->get()});
    require_float(op, *params[i], names[i]);
    PRISM_CHECK((*params[i])->dim() == 1 && (*params[i])->sizes[0] == C, INVALID_ARGUMENT, op, ": ", names[i],
                " should contain ", C, " elements not ", (*params[i])->numel(), " (", describe(*params[i]),
                ", input ", describe(input), ")");
  }
  PRISM_CHECK(training || (running_mean && running_var), INVALID_ARGUMENT, op,
              ": running_mean and running_var must be defined in evaluation mode");
  PRISM_CHECK((running_mean == nullptr) == (running_var == nullptr), INVALID_ARGUMENT, op,
              ": running_mean and running_var must both be given or both be NULL");
  const int64_t count = C == 0 ? 0 : input->numel() / C;
  PRISM_CHECK(!training || count > 1, INVALID_ARGUMENT, op,
              ": Expected more than 1 value per channel when training, got input size ", input->sizes.str());
  std::vector<int64_t> dims = all_dims_but(input->dim(), 1);
  const Dims cshape = class_shape(C, input->dim(), 1);

  auto forward = [&](Tensor* mean_out, Tensor* rstd_out) {
    Tensor x = upcast(input);
    Tensor m, v;
    if (training) {
      m = mean(x, dims, true);
      v = var(x, dims, 0, true);
      if (running_mean) {
        ag::NoGradGuard ng;
        const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
        Tensor mf = to_dtype(reshape(m, Dims{C}), running_mean->dtype);
        Tensor vf = to_dtype(reshape(mul(v, scalar_like(unbias, v)), Dims{C}), running_var->dtype);
        binary_("mul", running_mean, scalar_like(1.0 - momentum, running_mean));
        binary_("add", running_mean, mf, momentum);
        binary_("mul", running_var, scalar_like(1.0 - momentum, running_var));
        binary_("add", running_var, vf, momentum);
      }
    } else {
      m = reshape(to_dtype(running_mean, x->dtype), cshape);
      v = reshape(to_dtype(running_var, x->dtype), cshape);
    }
    Tensor rstd = unary("rsqrt", add(v, scalar_like(eps, v)));
    Tensor y = mul(sub(x, m), rstd);
    if (weight) y = mul(y, reshape(to_dtype(weight, y->dtype), cshape));
    if (bias) y = add(y, reshape(to_dtype(bias, y->dtype), cshape));
    if (mean_out != nullptr) *mean_out = m;
    if (rstd_out != nullptr) *rstd_out = rstd;
    return to_dtype(y, input->dtype);
  };
  if (!any_requires_grad({&input, &weight, &bias})) {
    ag::NoGradGuard ng;  // running stats are never part of a graph
    return forward(nullptr, nullptr);
  }
  Tensor m, rstd;
  const bool has_w = weight != nullptr, has_b = bias != nullptr;
  return with_closure(
      op, "NativeBatchNormBackward", {input, weight, bias},
      [&](const Tensor&) {
        return std::vector<Tensor>{input, weight, m, rstd};
      },
      [dims, cshape, C, has_w, has_b, training](const std::vector<Tensor>& s, const Tensor& g) {
        Tensor x = upcast(s[0]), gg = upcast(g);
        Tensor xhat = mul(sub(x, s[2]), s[3]);
        Tensor gw = has_w ? reshape(reduce("sum", mul(gg, xhat), dims, false), Dims{C}) : nullptr;
        Tensor gb = has_b ? reshape(reduce("sum", gg, dims, false), Dims{C}) : nullptr;
        Tensor gxhat = has_w ? mul(gg, reshape(to_dtype(s[1], gg->dtype), cshape)) : gg;
        Tensor gx = training ? norm_input_grad(gxhat, xhat, s[3], dims) : mul(gxhat, s[3]);
        return std::vector<Tensor>{gx, gw, gb};
      },
      [&] { return forward(&m, &rstd); });
}

// ===========================================================================
// conv2d
// ===========================================================================

namespace {

struct ConvCall {
  int64_t stride[2], padding[2], dilation[2], groups;
  Attrs attrs() const {
    Attrs at;
    at.add_ints("stride", stride, 2).add_ints("padding", padding, 2).add_ints("dilation", dilation, 2);
    at.add_int("groups", groups);
    return at;
  }
};

Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, const Dims& x_sizes, const ConvCall& cc) {
  Tensor cg = contiguous(g), cw = contiguous(w);
  Tensor gx = empty(x_sizes, g->dtype, g->device());
  if (gx->numel() == 0) return gx;
  if (cg->numel() == 0 || cw->numel() == 0) {
    fill_(gx, 0.0);
    return gx;
  }
  Attrs at = cc.attrs();
  run_kernel("conv2d_backward_input", g->dtype, {cg.get(), cw.get()}, {gx.get()}, at);
  return gx;
}

std::pair<Tensor, Tensor> conv2d_backward_weight(const Tensor& g, const Tensor& x, const Dims& w_sizes,
                                                 bool bias, const ConvCall& cc) {
  Tensor cg = contiguous(g), cx = contiguous(x);
  Tensor gw = empty(w_sizes, g->dtype, g->device());
  Tensor gb = bias ? empty(Dims{w_sizes[0]}, g->dtype, g->device()) : nullptr;
  if (cg->numel() == 0 || cx->numel() == 0) {
    fill_(gw, 0.0);
    if (gb) fill_(gb, 0.0);
    return {gw, gb};
  }
  Attrs at = cc.attrs();
  if (gb) {
    run_kernel("conv2d_backward_weight", g->dtype, {cg.get(), cx.get()}, {gw.get(), gb.get()}, at);
  } else {
    run_kernel("conv2d_backward_weight", g->dtype, {cg.get(), cx.get()}, {gw.get()}, at);
  }
  return {gw, gb};
}

void check_pair(const char* op, const char* what, const int64_t* v, int64_t min) {
  PRISM_CHECK(v[0] >= min && v[1] >= min, INVALID_ARGUMENT, op, ": ", what, " must be >= ", min, ", got [",
              v[0], ", ", v[1], "]");
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const int64_t stride[2],
              const int64_t padding[2], const int64_t dilation[2], int64_t groups) {
  if (amp::Autocast ac{"conv2d", {&input, &weight, &bias}})  // Note [Autocast]
    return conv2d(ac[0], ac[1], ac[2], stride, padding, dilation, groups);
  const char* op = "conv2d";
  require_defined(op, input, "input");
  require_defined(op, weight, "weight");
  PRISM_CHECK(input->dim() == 3 || input->dim() == 4, INVALID_ARGUMENT, op,
              ": expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got ", describe(input));
  if (input->dim() == 3)
    return squeeze_dim(conv2d(unsqueeze(input, 0), weight, bias, stride, padding, dilation, groups), 0);
  ConvCall cc{};
  for (int i = 0; i < 2; ++i) {
    cc.stride[i] = stride ? stride[i] : 1;
    cc.padding[i] = padding ? padding[i] : 0;
    cc.dilation[i] = dilation ? dilation[i] : 1;
  }
  cc.groups = groups;
  check_pair(op, "stride", cc.stride, 1);
  check_pair(op, "padding", cc.padding, 0);
  check_pair(op, "dilation", cc.dilation, 1);
  PRISM_CHECK(groups >= 1, INVALID_ARGUMENT, op, ": non-positive groups is not supported, got ", groups);
  PRISM_CHECK(weight->dim() == 4, INVALID_ARGUMENT, op,
              ": expected 4-D weight (out_channels, in_channels / groups, kH, kW), got ", describe(weight));
  common_device(op, {input.get(), weight.get()});
  require_float(op, input, "input");
  PRISM_CHECK(input->dtype == weight->dtype, INVALID_ARGUMENT, op, ": input ", describe(input),
              " and weight ", describe(weight), " must have the same dtype");
  const int64_t N = input->sizes[0], C = input->sizes[1], H = input->sizes[2], W = input->sizes[3];
  const int64_t O = weight->sizes[0], KH = weight->sizes[2], KW = weight->sizes[3];
  PRISM_CHECK(O % groups == 0, INVALID_ARGUMENT, op, ": out_channels ", O, " of weight ", weight->sizes.str(),
              " must be divisible by groups (", groups, ")");
  PRISM_CHECK(weight->sizes[1] * groups == C, INVALID_ARGUMENT, op, ": Given groups=", groups,
              ", weight of size ", weight->sizes.str(), ", expected input", input->sizes.str(), " to have ",
              weight->sizes[1] * groups, " channels, but got ", C, " channels instead");
  if (bias) {
    common_device(op, {input.get(), bias.get()});
    PRISM_CHECK(bias->dim() == 1 && bias->sizes[0] == O && bias->dtype == input->dtype, INVALID_ARGUMENT, op,
                ": expected bias of shape [", O, "] and dtype ", dtype_name(input->dtype), ", got ",
                describe(bias));
  }
  const int64_t OH = (H + 2 * cc.padding[0] - cc.dilation[0] * (KH - 1) - 1) / cc.stride[0] + 1;
  const int64_t OW = (W + 2 * cc.padding[1] - cc.dilation[1] * (KW - 1) - 1) / cc.stride[1] + 1;
  PRISM_CHECK(KH >= 1 && KW >= 1 && H + 2 * cc.padding[0] - cc.dilation[0] * (KH - 1) - 1 >= 0 &&
                  W + 2 * cc.padding[1] - cc.dilation[1] * (KW - 1) - 1 >= 0,
              INVALID_ARGUMENT, op, ": Calculated padded input size per channel: (", H + 2 * cc.padding[0],
              " x ", W + 2 * cc.padding[1], "). Kernel size: (", cc.dilation[0] * (KH - 1) + 1, " x ",
              cc.dilation[1] * (KW - 1) + 1, "). Kernel size can't be greater than actual input size (input ",
              describe(input), ", weight ", describe(weight), ")");
  if (any_requires_grad({&input, &weight, &bias})) {
    const bool has_b = bias != nullptr;
    // Only the gradients some input needs are computed (a first layer's input needs none).
    const bool need_x = ag::requires_grad(input);
    const bool need_wb = ag::requires_grad(weight) || (has_b && ag::requires_grad(bias));
    const Dims xs = input->sizes, ws = weight->sizes;
    return with_closure(
        op, "ConvolutionBackward", {input, weight, bias},
        [&](const Tensor&) {
          return std::vector<Tensor>{input, weight};
        },
        [cc, has_b, need_x, need_wb, xs, ws](const std::vector<Tensor>& s, const Tensor& g) {
          Tensor gg = to_dtype(g, s[0]->dtype);
          Tensor gx = need_x ? conv2d_backward_input(gg, s[1], xs, cc) : nullptr;
          std::pair<Tensor, Tensor> gwb;
          if (need_wb) gwb = conv2d_backward_weight(gg, s[0], ws, has_b, cc);
          return std::vector<Tensor>{gx, gwb.first, gwb.second};
        },
        [&] { return conv2d(input, weight, bias, cc.stride, cc.padding, cc.dilation, groups); });
  }
  Tensor out = empty(Dims{N, O, OH, OW}, input->dtype, input->device());
  if (out->numel() == 0) return out;
  Tensor cx = contiguous(input), cw = contiguous(weight), cb = bias ? contiguous(bias) : nullptr;
  Attrs at = cc.attrs();
  if (C == 0) {
    if (cb) {
      copy_(out, reshape(cb, Dims{1, O, 1, 1}));
    } else {
      fill_(out, 0.0);
    }
    return out;
  }
  if (cb) {
    run_kernel(op, input->dtype, {cx.get(), cw.get(), cb.get()}, {out.get()}, at);
  } else {
    run_kernel(op, input->dtype, {cx.get(), cw.get()}, {out.get()}, at);
  }
  return out;
}

// ===========================================================================
// max_pool2d / avg_pool2d
// ===========================================================================

namespace {

Tensor pool2d(bool is_max, const Tensor& input, const int64_t kernel[2], const int64_t stride_in[2],
              const int64_t padding_in[2], bool count_include_pad) {
  const char* op = is_max ? "max_pool2d" : "avg_pool2d";
  require_defined(op, input, "input");
  PRISM_CHECK(kernel != nullptr, INVALID_ARGUMENT, op, ": kernel_size is NULL");
  PRISM_CHECK(input->dim() == 3 || input->dim() == 4, INVALID_ARGUMENT, op,
              ": expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got ", describe(input));
  if (input->dim() == 3)
    return squeeze_dim(pool2d(is_max, unsqueeze(input, 0), kernel, stride_in, padding_in, count_include_pad),
                       0);
  require_float(op, input, "input");
  int64_t k[2] = {kernel[0], kernel[1]};
  int64_t s[2] = {stride_in ? stride_in[0] : k[0], stride_in ? stride_in[1] : k[1]};
  int64_t p[2] = {padding_in ? padding_in[0] : 0, padding_in ? padding_in[1] : 0};
  check_pair(op, "kernel_size", k, 1);
  check_pair(op, "stride", s, 1);
  check_pair(op, "padding", p, 0);
  PRISM_CHECK(2 * p[0] <= k[0] && 2 * p[1] <= k[1], INVALID_ARGUMENT, op,
              ": pad should be at most half of effective kernel size, but got pad=[", p[0], ", ", p[1],
              "], kernel_size=[", k[0], ", ", k[1], "]");
  const int64_t N = input->sizes[0], C = input->sizes[1], H = input->sizes[2], W = input->sizes[3];
  const int64_t OH = (H + 2 * p[0] - k[0]) / s[0] + 1, OW = (W + 2 * p[1] - k[1]) / s[1] + 1;
  PRISM_CHECK(H + 2 * p[0] >= k[0] && W + 2 * p[1] >= k[1] && OH >= 1 && OW >= 1, INVALID_ARGUMENT, op,
              ": Given input size: (", C, "x", H, "x", W, "). Calculated output size: (", C, "x",
              H + 2 * p[0] >= k[0] ? OH : 0, "x", W + 2 * p[1] >= k[1] ? OW : 0,
              "). Output size is too small");
  Attrs at;
  at.add_ints("kernel", k, 2).add_ints("stride", s, 2).add_ints("padding", p, 2);
  at.add_int("count_include_pad", count_include_pad ? 1 : 0);
  if (any_requires_grad({&input})) {
    const Dims xs = input->sizes;
    const prism_dtype dt = input->dtype;
    const std::array<int64_t, 6> cfg{k[0], k[1], s[0], s[1], p[0], p[1]};
    return with_closure(
        op, is_max ? "MaxPool2DBackward" : "AvgPool2DBackward", {input},
        [&](const Tensor&) { return is_max ? std::vector<Tensor>{input} : std::vector<Tensor>{}; },
        [is_max, xs, dt, cfg, count_include_pad](const std::vector<Tensor>& sv, const Tensor& g) {
          const char* bop = is_max ? "max_pool2d_backward" : "avg_pool2d_backward";
          Tensor gg = contiguous(to_dtype(g, dt));
          Tensor gx = empty(xs, gg->dtype, gg->device());
          if (gx->numel() == 0) return std::vector<Tensor>{gx};
          Attrs a;
          a.add_ints("kernel", cfg.data(), 2)
              .add_ints("stride", cfg.data() + 2, 2)
              .add_ints("padding", cfg.data() + 4, 2);
          a.add_int("count_include_pad", count_include_pad ? 1 : 0);
          if (is_max) {
            Tensor cx = contiguous(sv[0]);
            run_kernel(bop, gg->dtype, {gg.get(), cx.get()}, {gx.get()}, a);
          } else {
            run_kernel(bop, gg->dtype, {gg.get()}, {gx.get()}, a);
          }
          return std::vector<Tensor>{gx};
        },
        [&] { return pool2d(is_max, input, k, s, p, count_include_pad); });
  }
  Tensor out = empty(Dims{N, C, OH, OW}, input->dtype, input->device());
  if (out->numel() == 0) return out;
  Tensor cx = contiguous(input);
  run_kernel(op, input->dtype, {cx.get()}, {out.get()}, at);
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, const int64_t kernel[2], const int64_t stride[2],
                  const int64_t padding[2]) {
  return pool2d(true, input, kernel, stride, padding, true);
}

Tensor avg_pool2d(const Tensor& input, const int64_t kernel[2], const int64_t stride[2],
                  const int64_t padding[2], bool count_include_pad) {
  return pool2d(false, input, kernel, stride, padding, count_include_pad);
}

}  // namespace prism
