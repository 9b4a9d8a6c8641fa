// c_api_attention.cpp — user C ABI: scaled_dot_product_attention, binary_cross_entropy, gradient
// checkpointing and the random generator's state.
#include <memory>
#include <string>
#include <vector>

#include "core/autograd/checkpoint.hpp"
#include "core/c_api/handle.hpp"
#include "core/dispatch/attention.hpp"
#include "prism/prism.h"

using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::opt_arg;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

// Calls the user's segment function through the C ABI: inputs are lent as
// handles for the call, outputs come back as new references the core adopts.
std::vector<Tensor> call_segment(prism_checkpoint_fn fn, void* ctx, const std::vector<Tensor>& inputs) {
  std::vector<prism_tensor_t> in;
  in.reserve(inputs.size());
  for (const Tensor& t : inputs) in.push_back(t ? wrap(t) : nullptr);
  std::vector<prism_tensor_t> out(PRISM_CHECKPOINT_MAX_OUTPUTS, nullptr);
  size_t n = 0;
  prism_clear_error();
  const prism_status st = fn(in.data(), in.size(), out.data(), out.size(), &n, ctx);
  for (prism_tensor_t h : in)
    if (h) prism_tensor_release(h);
  std::vector<Tensor> result;
  std::string bad;
  const size_t got = n < out.size() ? n : out.size();
  for (size_t i = 0; i < got; ++i) {
    if (out[i] == nullptr) {
      bad = "output " + std::to_string(i) + " is NULL";
      continue;
    }
    result.push_back(arg(out[i], "checkpoint", "segment output"));
    prism_tensor_release(out[i]);
  }
  if (st != PRISM_OK) {
    std::string why = *prism_last_error() != '\0' ? prism_last_error() : "no error message was set";
    throw prism::Error(
        st, std::string("checkpoint: the segment function returned ") + prism_status_name(st) + ": " + why);
  }
  PRISM_CHECK(n <= out.size(), INVALID_ARGUMENT, "checkpoint: the segment function reported ", n,
              " outputs; at most PRISM_CHECKPOINT_MAX_OUTPUTS (", out.size(), ") are allowed");
  PRISM_CHECK(bad.empty(), INVALID_ARGUMENT, "checkpoint: the segment function's ", bad);
  return result;
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_scaled_dot_product_attention(prism_tensor_t query, prism_tensor_t key,
                                                          prism_tensor_t value, prism_tensor_t attn_mask,
                                                          double dropout_p, int32_t is_causal,
                                                          const double* scale, prism_tensor_t* out) {
  const char* op = "scaled_dot_product_attention";
  return guard([&] {
    out_arg(out, op);
    Tensor r = prism::scaled_dot_product_attention(
        arg(query, op, "query"), arg(key, op, "key"), arg(value, op, "value"),
        opt_arg(attn_mask, op, "attn_mask"), dropout_p, is_causal != 0, scale);
    *out = wrap(std::move(r));
  });
}

PRISM_API prism_status prism_binary_cross_entropy(prism_tensor_t input, prism_tensor_t target,
                                                  prism_tensor_t weight, prism_reduction reduction,
                                                  prism_tensor_t* out) {
  const char* op = "binary_cross_entropy";
  return guard([&] {
    out_arg(out, op);
    Tensor r = prism::binary_cross_entropy(arg(input, op, "input"), arg(target, op, "target"),
                                           opt_arg(weight, op, "weight"), reduction);
    *out = wrap(std::move(r));
  });
}

PRISM_API prism_status prism_random_get_state(uint64_t* seed, uint64_t* offset) {
  return guard([&] {
    out_arg(seed, "random_get_state");
    out_arg(offset, "random_get_state");
    prism::get_rng_state(seed, offset);
  });
}

PRISM_API prism_status prism_random_set_state(uint64_t seed, uint64_t offset) {
  return guard([&] { prism::set_rng_state(seed, offset); });
}

PRISM_API prism_status prism_checkpoint(prism_checkpoint_fn fn, void* ctx,
                                        prism_checkpoint_release_fn release, const prism_tensor_t* inputs,
                                        size_t n_inputs, prism_tensor_t* outputs, size_t capacity,
                                        size_t* n_outputs) {
  // ctx is released exactly once, whatever happens: the holder's deleter runs
  // when the last copy of the segment closure is gone.
  std::shared_ptr<void> holder(ctx, [release](void* c) {
    if (release) release(c);
  });
  return guard([&] {
    const char* op = "checkpoint";
    PRISM_CHECK(fn != nullptr, INVALID_ARGUMENT, op, ": fn is NULL");
    PRISM_CHECK(inputs != nullptr || n_inputs == 0, INVALID_ARGUMENT, op, ": inputs is NULL");
    out_arg(n_outputs, op);
    PRISM_CHECK(outputs != nullptr || capacity == 0, INVALID_ARGUMENT, op, ": outputs is NULL");
    std::vector<Tensor> in;
    for (size_t i = 0; i < n_inputs; ++i) in.push_back(opt_arg(inputs[i], op, "input"));
    prism::autograd::SegmentFn seg = [fn, holder](const std::vector<Tensor>& xs) {
      return call_segment(fn, holder.get(), xs);
    };
    holder.reset();
    std::vector<Tensor> res = prism::autograd::checkpoint(std::move(seg), in);
    PRISM_CHECK(res.size() <= capacity, INVALID_ARGUMENT, op, ": the segment returned ", res.size(),
                " outputs but `outputs` holds only ", capacity);
    for (size_t i = 0; i < res.size(); ++i) outputs[i] = wrap(res[i]);
    *n_outputs = res.size();
  });
}

}  // extern "C"
