// c_api_op_forms.cpp — user C ABI: op forms (clamp with tensor bounds, gelu approximations, pad, conv2d
// padding modes, mm, dtype= on softmax and reductions).
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

Tensor opt(prism_tensor_t h, const char* op, const char* what) {
  return prism::capi::opt_arg(h, op, what);
}

std::vector<int64_t> dims_list(const int64_t* dims, int32_t n, const char* op) {
  PRISM_CHECK(n >= 0 && (n == 0 || dims != nullptr), INVALID_ARGUMENT, op, ": dims is NULL with n_dims ", n);
  return std::vector<int64_t>(dims, dims + n);
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_clamp_tensor(prism_tensor_t x, prism_tensor_t min, prism_tensor_t max,
                                          prism_tensor_t* out) {
  const char* op = "clamp";
  return make(out, op,
              [&] { return prism::clamp_tensor(arg(x, op, "x"), opt(min, op, "min"), opt(max, op, "max")); });
}

PRISM_API prism_status prism_gelu_approximate(prism_tensor_t x, prism_gelu_approximation approximate,
                                              prism_tensor_t* out) {
  return make(out, "gelu",
              [&] { return prism::gelu_approx(arg(x, "gelu", "x"), static_cast<int>(approximate)); });
}

PRISM_API prism_status prism_pad(prism_tensor_t x, const int64_t* pad, size_t n_pad, prism_pad_mode mode,
                                 double value, prism_tensor_t* out) {
  const char* op = "pad";
  return make(out, op, [&] {
    PRISM_CHECK(pad != nullptr || n_pad == 0, INVALID_ARGUMENT, "pad: pad is NULL with n_pad ", n_pad);
    return prism::pad(arg(x, op, "x"), std::vector<int64_t>(pad, pad + n_pad), static_cast<int>(mode), value);
  });
}

PRISM_API prism_status prism_conv2d_padding(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                            const int64_t* stride, prism_conv_padding padding,
                                            const int64_t* dilation, int64_t groups, prism_tensor_t* out) {
  const char* op = "conv2d";
  return make(out, op, [&] {
    return prism::conv2d_padding(arg(input, op, "input"), arg(weight, op, "weight"), opt(bias, op, "bias"),
                                 stride, static_cast<int>(padding), dilation, groups);
  });
}

PRISM_API prism_status prism_mm(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out) {
  return make(out, "mm", [&] { return prism::mm(arg(a, "mm", "a"), arg(b, "mm", "b")); });
}

PRISM_API prism_status prism_softmax_dtype(prism_tensor_t x, int64_t dim, prism_dtype dtype,
                                           prism_tensor_t* out) {
  return make(out, "softmax",
              [&] { return prism::softmax_dtype(arg(x, "softmax", "x"), dim, dtype, false); });
}

PRISM_API prism_status prism_log_softmax_dtype(prism_tensor_t x, int64_t dim, prism_dtype dtype,
                                               prism_tensor_t* out) {
  return make(out, "log_softmax",
              [&] { return prism::softmax_dtype(arg(x, "log_softmax", "x"), dim, dtype, true); });
}

#define PRISM_DEFINE_DTYPE_REDUCTION(name)                                                                \
  PRISM_API prism_status prism_##name##_dtype(prism_tensor_t x, const int64_t* dims, int32_t n_dims,      \
                                              int32_t keepdim, prism_dtype dtype, prism_tensor_t* out) {  \
    return make(out, #name, [&] {                                                                         \
      return prism::reduce_dtype(#name, arg(x, #name, "x"), dims_list(dims, n_dims, #name), keepdim != 0, \
                                 dtype);                                                                  \
    });                                                                                                   \
  }

PRISM_DEFINE_DTYPE_REDUCTION(sum)
PRISM_DEFINE_DTYPE_REDUCTION(prod)
PRISM_DEFINE_DTYPE_REDUCTION(mean)

}  // extern "C"
