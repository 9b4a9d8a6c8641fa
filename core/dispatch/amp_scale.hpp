// amp_scale.hpp — the gradient-scaler ops amp_unscale_check (kernel or core composite) and amp_update_scale
// (internal).
#pragma once

#include <cstdint>

#include "core/tensor/tensor.hpp"

namespace prism {

// Note [Gradient scaler ops]
// --------------------------
// Mixed-precision training scales the loss up so small f16 gradients do not
// flush to zero, then unscales the gradients before the optimizer step and
// skips the step when any of them overflowed (torch.cuda.amp.GradScaler).
// Two ops carry it:
//  * "amp_unscale_check" (PyTorch's _amp_foreach_non_finite_check_and_unscale_
//    on one tensor): grad *= inv_scale in place (computed in f32, rounded once
//    to grad's dtype), and found_inf is set to 1 when any element of grad was
//    NaN or +-Inf (it is never reset here: one found_inf collects every
//    gradient of a step). A plugin may register a kernel of that name (the
//    CPU plugin does: one pass); elsewhere, or for non-contiguous grads, the
//    core composite runs isfinite/all/maximum/mul.
//  * "amp_update_scale" (PyTorch's _amp_update_scale_): a core op on three
//    one-element tensors. found_inf != 0: scale *= backoff_factor and the
//    growth tracker restarts at 0; else the tracker counts one more clean
//    step and, on reaching growth_interval, scale *= growth_factor (kept
//    only when finite) and the tracker restarts at 0.
// Both run without recording autograd and bump the version counters of what
// they write. inv_scale, found_inf and scale are f32 with one element; the
// growth tracker is i32 with one element; all on grad's (scale's) device.
void amp_unscale_check(const Tensor& grad, const Tensor& found_inf, const Tensor& inv_scale);
void amp_update_scale(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval);

}  // namespace prism
