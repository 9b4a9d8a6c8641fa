// c_api_optim.cpp — user C ABI: the fused optimizer updates (Note [Fused optimizer updates]).
#include "core/c_api/handle.hpp"
#include "core/dispatch/optim.hpp"
#include "prism/prism.h"

using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;

extern "C" {

PRISM_API prism_status prism_sgd_update(prism_tensor_t param, prism_tensor_t grad,
                                        prism_tensor_t momentum_buffer, double lr, double momentum,
                                        double dampening, double weight_decay, uint32_t flags) {
  return guard([&] {
    prism::SgdOptions o;
    o.lr = lr;
    o.momentum = momentum;
    o.dampening = dampening;
    o.weight_decay = weight_decay;
    o.flags = flags;
    const Tensor none;
    prism::sgd_update(
        arg(param, "sgd_update", "param"), arg(grad, "sgd_update", "grad"),
        momentum_buffer != nullptr ? arg(momentum_buffer, "sgd_update", "momentum_buffer") : none, o);
  });
}

PRISM_API prism_status prism_adam_update(prism_tensor_t param, prism_tensor_t grad, prism_tensor_t exp_avg,
                                         prism_tensor_t exp_avg_sq, prism_tensor_t max_exp_avg_sq, double lr,
                                         double beta1, double beta2, double eps, double weight_decay,
                                         int64_t step, uint32_t flags) {
  const char* op = "adam_update";
  return guard([&] {
    prism::AdamOptions o;
    o.lr = lr;
    o.beta1 = beta1;
    o.beta2 = beta2;
    o.eps = eps;
    o.weight_decay = weight_decay;
    o.step = step;
    o.flags = flags;
    const Tensor none;
    prism::adam_update(arg(param, op, "param"), arg(grad, op, "grad"), arg(exp_avg, op, "exp_avg"),
                       arg(exp_avg_sq, op, "exp_avg_sq"),
                       max_exp_avg_sq != nullptr ? arg(max_exp_avg_sq, op, "max_exp_avg_sq") : none, o);
  });
}

}  // extern "C"
