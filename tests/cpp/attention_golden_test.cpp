// attention_golden_test.cpp — nn::MultiheadAttention and nn::TransformerEncoderLayer against PyTorch 1.13's
// modules from the same weights: outputs, attention weights and gradients
// (tests/golden/attention.safetensors, written by tests/golden/gen_attention.py).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "../prism_require_devices.h"
#include "prism/nn.hpp"

namespace {

using prism::Tensor;
namespace nn = prism::nn;

std::string golden_path() {
#ifdef PRISM_GOLDEN_DIR
  return std::string(PRISM_GOLDEN_DIR) + "/attention.safetensors";
#else
  std::string here = __FILE__;
  return here.substr(0, here.find_last_of('/')) + "/../golden/attention.safetensors";
#endif
}

std::vector<std::string> devices() {
  prism::load_default_plugins();
  std::vector<std::string> out = {"cpu"};
  for (const char* want : {"opencl:0", "emu:0"}) {
    bool found = false;
    for (const prism::DeviceInfo& d : prism::devices()) found = found || d.device == want;
    if (found) {
      out.emplace_back(want);
    } else {
      EXPECT_FALSE(prism_test_device_required(want)) << want << " is required but not loaded";
    }
  }
  return out;
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want, double tol) {
  if (!got.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure()
           << "shape " << prism::shape_string(got.sizes()) << " vs " << prism::shape_string(want.sizes());
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= tol * (1.0 + std::fabs(b[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

// The golden entries under `prefix` + "." (without the prefix), as a state dict.
prism::TensorMap with_prefix(const prism::TensorMap& g, const std::string& prefix) {
  prism::TensorMap out;
  for (const auto& kv : g)
    if (kv.first.rfind(prefix + ".", 0) == 0) out[kv.first.substr(prefix.size() + 1)] = kv.second;
  return out;
}

TEST(AttentionGolden, MultiheadAttentionMatchesPyTorch) {
  prism::TensorMap g = prism::load_safetensors(golden_path());
  prism::TensorMap sd = with_prefix(g, "mha");
  for (const std::string& dev : devices()) {
    SCOPED_TRACE(dev);
    nn::MultiheadAttention mha(8, 2, 0.0, true, false, prism::kFloat64);
    prism::TensorMap weights;
    for (const auto& kv : mha.state_dict()) weights[kv.first] = sd.at(kv.first);
    mha.load_state_dict(weights);
    mha.to(dev);
    auto leaf = [&](const char* n) {
      return g.at(std::string("mha.") + n).detach().to(dev).requires_grad_(true);
    };
    Tensor q = leaf("q"), k = leaf("k"), v = leaf("v");
    Tensor kpm = g.at("mha.key_padding_mask").to(dev).to(prism::kBool);
    auto r = mha.forward(q, k, v, kpm, true, g.at("mha.attn_mask").to(dev));
    EXPECT_TRUE(close(r.first, sd.at("out"), 1e-10));
    EXPECT_TRUE(close(r.second, sd.at("weights"), 1e-10));
    r.first.backward(sd.at("grad_out").to(dev));
    EXPECT_TRUE(close(q.grad(), sd.at("grad.q"), 1e-9));
    EXPECT_TRUE(close(k.grad(), sd.at("grad.k"), 1e-9));
    EXPECT_TRUE(close(v.grad(), sd.at("grad.v"), 1e-9));
    for (const auto& kv : mha.named_parameters())
      EXPECT_TRUE(close(kv.second.grad(), sd.at("grad." + kv.first), 1e-9)) << kv.first;
  }
}

TEST(AttentionGolden, TransformerEncoderLayerMatchesPyTorchBothNormOrders) {
  prism::TensorMap g = prism::load_safetensors(golden_path());
  for (int norm_first = 0; norm_first < 2; ++norm_first) {
    const std::string tag = "tel" + std::to_string(norm_first);
    prism::TensorMap sd = with_prefix(g, tag);
    for (const std::string& dev : devices()) {
      SCOPED_TRACE(tag + " " + dev);
      nn::TransformerEncoderLayer layer(8, 2, 16, 0.0, norm_first ? "gelu" : "relu", 1e-5, true,
                                        norm_first != 0, prism::kFloat64);
      prism::TensorMap weights;
      for (const auto& kv : layer.state_dict()) weights[kv.first] = sd.at(kv.first);
      layer.load_state_dict(weights);
      layer.to(dev);
      Tensor x = sd.at("x").detach().to(dev).requires_grad_(true);
      Tensor y = layer.forward(x, Tensor(), Tensor(), /*is_causal=*/true);
      EXPECT_TRUE(close(y, sd.at("out"), 1e-10));
      y.backward(sd.at("grad_out").to(dev));
      EXPECT_TRUE(close(x.grad(), sd.at("grad.x"), 1e-9));
      for (const auto& kv : layer.named_parameters())
        EXPECT_TRUE(close(kv.second.grad(), sd.at("grad." + kv.first), 1e-9)) << kv.first;
    }
  }
}

}  // namespace
