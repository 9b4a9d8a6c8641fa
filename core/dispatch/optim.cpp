// optim.cpp — front-ends of sgd_update and adam_update: checks, the fused kernel, and the composite
// (Note [Fused optimizer updates]).
#include "core/dispatch/optim.hpp"

#include <cmath>
#include <initializer_list>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

namespace {

void check_state(const char* op, const Tensor& param, const Tensor& t, const char* what) {
  PRISM_CHECK(t != nullptr, INVALID_ARGUMENT, op, ": ", what, " is NULL");
  PRISM_CHECK(t->device() == param->device(), INVALID_ARGUMENT, op, ": ", what, " is on ", t->device()->name,
              " but param is on ", param->device()->name);
  PRISM_CHECK(t->dtype == param->dtype && t->sizes == param->sizes, INVALID_ARGUMENT, op, ": ", what, " is ",
              describe(t), " but param is ", describe(param), " (they must match in shape and dtype)");
}

void check_param(const char* op, const Tensor& param, double lr) {
  PRISM_CHECK(param != nullptr, INVALID_ARGUMENT, op, ": param is NULL");
  PRISM_CHECK(is_float(param->dtype), INVALID_ARGUMENT, op, ": param must be floating point, got ",
              describe(param));
  PRISM_CHECK(std::isfinite(lr) && lr >= 0, INVALID_ARGUMENT, op, ": learning rate must be >= 0, got ", lr);
}

// True when `op` has a kernel on the tensors' device and every tensor is
// dense (the kernels walk contiguous memory).
bool use_kernel(const char* op, const Tensor& param, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (*t != nullptr && !(*t)->is_contiguous()) return false;
  Device* d = param->device();
  return d->plugin->find_kernel(op, param->dtype) != nullptr;
}

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdOptions& o) {
  const char* op = "sgd_update";
  check_param(op, param, o.lr);
  check_state(op, param, grad, "grad");
  PRISM_CHECK(o.momentum >= 0 && o.weight_decay >= 0, INVALID_ARGUMENT, op,
              ": momentum and weight_decay must be >= 0, got ", o.momentum, " and ", o.weight_decay);
  const bool nesterov = (o.flags & PRISM_SGD_NESTEROV) != 0;
  PRISM_CHECK(!nesterov || (o.momentum > 0 && o.dampening == 0), INVALID_ARGUMENT, op,
              ": nesterov momentum requires a momentum > 0 and zero dampening");
  const bool has_buf = o.momentum != 0;
  if (has_buf) check_state(op, param, momentum_buffer, "momentum_buffer");
  autograd::NoGradGuard no_grad;
  if (param->numel() == 0) return;

  if (use_kernel(op, param, {&param, &grad, &momentum_buffer})) {
    Attrs at;
    at.add_float("lr", o.lr)
        .add_float("momentum", o.momentum)
        .add_float("dampening", o.dampening)
        .add_float("weight_decay", o.weight_decay)
        .add_int("flags", o.flags);
    bump_version(param);
    if (has_buf) {
      bump_version(momentum_buffer);
      run_kernel(op, param->dtype, {grad.get()}, {param.get(), momentum_buffer.get()}, at);
    } else {
      run_kernel(op, param->dtype, {grad.get()}, {param.get()}, at);
    }
    return;
  }

  // Composite: torch.optim.SGD's single-tensor rule, op for op.
  Tensor d = (o.flags & PRISM_SGD_MAXIMIZE) ? unary("neg", grad) : grad;
  if (o.weight_decay != 0) d = binary("add", d, param, o.weight_decay);
  if (has_buf) {
    if (o.flags & PRISM_SGD_INIT_BUFFER) {
      copy_(momentum_buffer, d);
    } else {
      binary_("mul", momentum_buffer, scalar_like(o.momentum, param));
      binary_("add", momentum_buffer, d, 1 - o.dampening);
    }
    d = nesterov ? binary("add", d, momentum_buffer, o.momentum) : momentum_buffer;
  }
  binary_("add", param, d, -o.lr);
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor& max_exp_avg_sq, const AdamOptions& o) {
  const char* op = "adam_update";
  check_param(op, param, o.lr);
  check_state(op, param, grad, "grad");
  check_state(op, param, exp_avg, "exp_avg");
  check_state(op, param, exp_avg_sq, "exp_avg_sq");
  const bool amsgrad = (o.flags & PRISM_ADAM_AMSGRAD) != 0;
  if (amsgrad) check_state(op, param, max_exp_avg_sq, "max_exp_avg_sq");
  PRISM_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, INVALID_ARGUMENT, op,
              ": betas must be in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
  PRISM_CHECK(o.eps >= 0 && o.weight_decay >= 0, INVALID_ARGUMENT, op,
              ": eps and weight_decay must be >= 0, got ", o.eps, " and ", o.weight_decay);
  PRISM_CHECK(o.step >= 1, INVALID_ARGUMENT, op, ": step must be >= 1 (the count after this update), got ",
              o.step);
  autograd::NoGradGuard no_grad;
  if (param->numel() == 0) return;
  const Tensor none;
  const Tensor& mx = amsgrad ? max_exp_avg_sq : none;

  if (use_kernel(op, param, {&param, &grad, &exp_avg, &exp_avg_sq, &mx})) {
    Attrs at;
    at.add_float("lr", o.lr)
        .add_float("beta1", o.beta1)
        .add_float("beta2", o.beta2)
        .add_float("eps", o.eps)
        .add_float("weight_decay", o.weight_decay)
        .add_int("step", o.step)
        .add_int("flags", o.flags);
    bump_version(param);
    bump_version(exp_avg);
    bump_version(exp_avg_sq);
    if (amsgrad) {
      bump_version(mx);
      run_kernel(op, param->dtype, {grad.get()}, {param.get(), exp_avg.get(), exp_avg_sq.get(), mx.get()},
                 at);
    } else {
      run_kernel(op, param->dtype, {grad.get()}, {param.get(), exp_avg.get(), exp_avg_sq.get()}, at);
    }
    return;
  }

  // Composite: torch.optim.Adam / AdamW's single-tensor rule, op for op.
  Tensor g = (o.flags & PRISM_ADAM_MAXIMIZE) ? unary("neg", grad) : grad;
  if (o.weight_decay != 0) {
    if (o.flags & PRISM_ADAM_DECOUPLED_WEIGHT_DECAY)
      binary_("mul", param, scalar_like(1 - o.lr * o.weight_decay, param));
    else
      g = binary("add", g, param, o.weight_decay);
  }
  binary_("mul", exp_avg, scalar_like(o.beta1, param));
  binary_("add", exp_avg, g, 1 - o.beta1);
  binary_("mul", exp_avg_sq, scalar_like(o.beta2, param));
  binary_("add", exp_avg_sq, binary("mul", g, g), 1 - o.beta2);
  const double step = static_cast<double>(o.step);
  const double bias_correction1 = 1 - std::pow(o.beta1, step);
  const double bias_correction2 = 1 - std::pow(o.beta2, step);
  const double step_size = o.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  Tensor second = exp_avg_sq;
  if (amsgrad) {
    copy_(mx, binary("maximum", mx, exp_avg_sq));
    second = mx;
  }
  Tensor denom = binary("div", unary("sqrt", second), scalar_like(bias_correction2_sqrt, param));
  binary_("add", denom, scalar_like(o.eps, param));
  binary_("add", param, binary("div", exp_avg, denom), -step_size);
}

}  // namespace prism
