// c_api_nn.cpp — user C ABI: neural-network ops (softmax family, losses, linear, dropout, norms, conv,
// pooling).
#include "core/c_api/handle.hpp"
#include "core/dispatch/ops.hpp"
#include "prism/prism.h"

using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::make;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

// An optional tensor argument: NULL stays nullptr.
Tensor opt(prism_tensor_t h) {
  return prism::capi::opt_arg(h, "nn", "optional tensor");
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_softmax(prism_tensor_t x, int64_t dim, prism_tensor_t* out) {
  return make(out, "softmax", [&] { return prism::softmax(arg(x, "softmax", "x"), dim); });
}

PRISM_API prism_status prism_log_softmax(prism_tensor_t x, int64_t dim, prism_tensor_t* out) {
  return make(out, "log_softmax", [&] { return prism::log_softmax(arg(x, "log_softmax", "x"), dim); });
}

PRISM_API prism_status prism_cross_entropy(prism_tensor_t input, prism_tensor_t target, prism_tensor_t weight,
                                           int64_t ignore_index, double label_smoothing,
                                           prism_reduction reduction, prism_tensor_t* out) {
  const char* op = "cross_entropy";
  return make(out, op, [&] {
    return prism::cross_entropy(arg(input, op, "input"), arg(target, op, "target"), opt(weight), ignore_index,
                                label_smoothing, reduction);
  });
}

PRISM_API prism_status prism_nll_loss(prism_tensor_t input, prism_tensor_t target, prism_tensor_t weight,
                                      int64_t ignore_index, prism_reduction reduction, prism_tensor_t* out) {
  const char* op = "nll_loss";
  return make(out, op, [&] {
    return prism::nll_loss(arg(input, op, "input"), arg(target, op, "target"), opt(weight), ignore_index,
                           reduction);
  });
}

PRISM_API prism_status prism_binary_cross_entropy_with_logits(prism_tensor_t input, prism_tensor_t target,
                                                              prism_tensor_t weight,
                                                              prism_tensor_t pos_weight,
                                                              prism_reduction reduction,
                                                              prism_tensor_t* out) {
  const char* op = "binary_cross_entropy_with_logits";
  return make(out, op, [&] {
    return prism::binary_cross_entropy_with_logits(arg(input, op, "input"), arg(target, op, "target"),
                                                   opt(weight), opt(pos_weight), reduction);
  });
}

PRISM_API prism_status prism_mse_loss(prism_tensor_t input, prism_tensor_t target, prism_reduction reduction,
                                      prism_tensor_t* out) {
  return make(out, "mse_loss", [&] {
    return prism::mse_loss(arg(input, "mse_loss", "input"), arg(target, "mse_loss", "target"), reduction);
  });
}

PRISM_API prism_status prism_l1_loss(prism_tensor_t input, prism_tensor_t target, prism_reduction reduction,
                                     prism_tensor_t* out) {
  return make(out, "l1_loss", [&] {
    return prism::l1_loss(arg(input, "l1_loss", "input"), arg(target, "l1_loss", "target"), reduction);
  });
}

PRISM_API prism_status prism_huber_loss(prism_tensor_t input, prism_tensor_t target, double delta,
                                        prism_reduction reduction, prism_tensor_t* out) {
  return make(out, "huber_loss", [&] {
    return prism::huber_loss(arg(input, "huber_loss", "input"), arg(target, "huber_loss", "target"), delta,
                             reduction);
  });
}

PRISM_API prism_status prism_smooth_l1_loss(prism_tensor_t input, prism_tensor_t target, double beta,
                                            prism_reduction reduction, prism_tensor_t* out) {
  const char* op = "smooth_l1_loss";
  return make(out, op, [&] {
    return prism::smooth_l1_loss(arg(input, op, "input"), arg(target, op, "target"), beta, reduction);
  });
}

PRISM_API prism_status prism_linear(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                    prism_tensor_t* out) {
  return make(out, "linear", [&] {
    return prism::linear(arg(input, "linear", "input"), arg(weight, "linear", "weight"), opt(bias));
  });
}

PRISM_API prism_status prism_dropout(prism_tensor_t input, double p, int32_t training, prism_tensor_t* out) {
  return make(out, "dropout",
              [&] { return prism::dropout(arg(input, "dropout", "input"), p, training != 0); });
}

PRISM_API prism_status prism_layer_norm(prism_tensor_t input, const int64_t* normalized_shape,
                                        int32_t n_normalized, prism_tensor_t weight, prism_tensor_t bias,
                                        double eps, prism_tensor_t* out) {
  const char* op = "layer_norm";
  return make(out, op, [&] {
    PRISM_CHECK(n_normalized >= 1 && normalized_shape != nullptr, INVALID_ARGUMENT, op,
                ": normalized_shape must hold at least one size (got ", n_normalized,
                normalized_shape == nullptr ? " sizes, NULL pointer)" : " sizes)");
    std::vector<int64_t> ns(normalized_shape, normalized_shape + n_normalized);
    return prism::layer_norm(arg(input, op, "input"), ns, opt(weight), opt(bias), eps);
  });
}

PRISM_API prism_status prism_batch_norm(prism_tensor_t input, prism_tensor_t running_mean,
                                        prism_tensor_t running_var, prism_tensor_t weight,
                                        prism_tensor_t bias, int32_t training, double momentum, double eps,
                                        prism_tensor_t* out) {
  const char* op = "batch_norm";
  return make(out, op, [&] {
    return prism::batch_norm(arg(input, op, "input"), opt(running_mean), opt(running_var), opt(weight),
                             opt(bias), training != 0, momentum, eps);
  });
}

PRISM_API prism_status prism_conv2d(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                    const int64_t* stride, const int64_t* padding, const int64_t* dilation,
                                    int64_t groups, prism_tensor_t* out) {
  const char* op = "conv2d";
  return make(out, op, [&] {
    return prism::conv2d(arg(input, op, "input"), arg(weight, op, "weight"), opt(bias), stride, padding,
                         dilation, groups);
  });
}

PRISM_API prism_status prism_max_pool2d(prism_tensor_t input, const int64_t* kernel_size,
                                        const int64_t* stride, const int64_t* padding, prism_tensor_t* out) {
  const char* op = "max_pool2d";
  return make(out, op,
              [&] { return prism::max_pool2d(arg(input, op, "input"), kernel_size, stride, padding); });
}

PRISM_API prism_status prism_avg_pool2d(prism_tensor_t input, const int64_t* kernel_size,
                                        const int64_t* stride, const int64_t* padding,
                                        int32_t count_include_pad, prism_tensor_t* out) {
  const char* op = "avg_pool2d";
  return make(out, op, [&] {
    return prism::avg_pool2d(arg(input, op, "input"), kernel_size, stride, padding, count_include_pad != 0);
  });
}

}  // extern "C"
