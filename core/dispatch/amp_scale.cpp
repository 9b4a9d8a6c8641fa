// amp_scale.cpp — front-ends of amp_unscale_check and amp_update_scale (Note [Gradient scaler ops]).
#include "core/dispatch/amp_scale.hpp"

#include <cmath>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

namespace {

void check_one(const char* op, const Tensor& t, const char* what, prism_dtype dt, Device* dev) {
  PRISM_CHECK(t != nullptr, INVALID_ARGUMENT, op, ": ", what, " is NULL");
  PRISM_CHECK(t->dtype == dt && t->numel() == 1, INVALID_ARGUMENT, op, ": ", what, " must be a ",
              dtype_name(dt), " tensor with one element, got ", describe(t));
  PRISM_CHECK(t->device() == dev, INVALID_ARGUMENT, op, ": ", what, " is on ", t->device()->name,
              " but the other operands are on ", dev->name);
}

}  // namespace

void amp_unscale_check(const Tensor& grad, const Tensor& found_inf, const Tensor& inv_scale) {
  const char* op = "amp_unscale_check";
  PRISM_CHECK(grad != nullptr, INVALID_ARGUMENT, op, ": grad is NULL");
  PRISM_CHECK(is_float(grad->dtype), INVALID_ARGUMENT, op, ": grad must be floating point, got ",
              describe(grad));
  check_one(op, found_inf, "found_inf", PRISM_DTYPE_F32, grad->device());
  check_one(op, inv_scale, "inv_scale", PRISM_DTYPE_F32, grad->device());
  autograd::NoGradGuard no_grad;
  if (grad->numel() == 0) return;
  check_overlap(op, {inv_scale.get()}, {grad.get(), found_inf.get()});
  PRISM_CHECK(grad->storage != found_inf->storage && grad->storage != inv_scale->storage, INVALID_ARGUMENT,
              op, ": grad shares memory with found_inf or inv_scale");

  bump_version(grad);
  bump_version(found_inf);
  if (grad->is_contiguous() && grad->device()->plugin->find_kernel(op, grad->dtype) != nullptr) {
    run_kernel(op, grad->dtype, {inv_scale.get()}, {grad.get(), found_inf.get()});
    return;
  }
  // Composite: found_inf = max(found_inf, !all(isfinite(grad))); grad *= inv_scale.
  Tensor bad =
      to_dtype(logical_not(reduce("all", unary_predicate("isfinite", grad), {}, false)), PRISM_DTYPE_F32);
  copy_(found_inf, binary("maximum", found_inf, reshape(bad, found_inf->sizes)));
  binary_("mul", grad, reshape(inv_scale, Dims{}));
}

void amp_update_scale(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval) {
  const char* op = "amp_update_scale";
  PRISM_CHECK(scale != nullptr, INVALID_ARGUMENT, op, ": scale is NULL");
  check_one(op, scale, "scale", PRISM_DTYPE_F32, scale->device());
  check_one(op, growth_tracker, "growth_tracker", PRISM_DTYPE_I32, scale->device());
  check_one(op, found_inf, "found_inf", PRISM_DTYPE_F32, scale->device());
  PRISM_CHECK(std::isfinite(growth_factor) && growth_factor > 1.0, INVALID_ARGUMENT, op,
              ": growth_factor must be > 1, got ", growth_factor);
  PRISM_CHECK(std::isfinite(backoff_factor) && backoff_factor > 0.0 && backoff_factor < 1.0, INVALID_ARGUMENT,
              op, ": backoff_factor must be in (0, 1), got ", backoff_factor);
  PRISM_CHECK(growth_interval >= 1 && growth_interval <= INT32_MAX, INVALID_ARGUMENT, op,
              ": growth_interval must be a positive int32, got ", growth_interval);
  autograd::NoGradGuard no_grad;
  // Three one-element reads: the step already synchronised on found_inf.
  const auto current = static_cast<float>(item_double(scale));
  const int64_t tracker = item_int64(growth_tracker);
  const bool found = item_double(found_inf) != 0.0;
  float next = current;
  int64_t next_tracker = 0;
  if (found) {
    next = static_cast<float>(current * backoff_factor);
  } else if (tracker + 1 >= growth_interval) {
    const auto grown = static_cast<float>(current * growth_factor);
    if (std::isfinite(grown)) next = grown;
  } else {
    next_tracker = tracker + 1;
  }
  bump_version(scale);
  bump_version(growth_tracker);
  fill_(scale, next);
  fill_(growth_tracker, static_cast<double>(next_tracker));
}

}  // namespace prism
