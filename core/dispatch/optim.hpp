// optim.hpp — the fused optimizer update ops sgd_update and adam_update: kernel or core composite (internal).
#pragma once

#include <cstdint>

#include "core/tensor/tensor.hpp"

namespace prism {

// Note [Fused optimizer updates]
// ------------------------------
// One optimizer step on one parameter is one op: "sgd_update" and
// "adam_update" (docs/ops.md). A plugin may register a kernel of that name
// (the CPU plugin does: one pass over the tensors, OpenMP when large); on a
// device without one, or for non-contiguous tensors, the core runs the same
// arithmetic as a composite of primitive ops, so every device can train.
// Both follow PyTorch's single-tensor update rules (torch.optim.SGD, Adam,
// AdamW) operation for operation. They run without recording autograd, write
// param and the state tensors in place (bumping their version counters) and
// read grad; all must share param's shape, dtype (floating) and device.

struct SgdOptions {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  uint32_t flags = 0;  // PRISM_SGD_* (prism.h)
};

struct AdamOptions {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;    // 1 on the first step (after incrementing, as PyTorch counts)
  uint32_t flags = 0;  // PRISM_ADAM_* (prism.h)
};

// `momentum_buffer` may be null when momentum == 0.
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdOptions& o);
// `max_exp_avg_sq` is required with PRISM_ADAM_AMSGRAD and ignored otherwise.
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor& max_exp_avg_sq, const AdamOptions& o);

}  // namespace prism
