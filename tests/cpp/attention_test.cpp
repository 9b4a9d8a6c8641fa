// attention_test.cpp — scaled_dot_product_attention against the explicit formula, MultiheadAttention /
// TransformerEncoderLayer behaviour, BCELoss, and gradient checkpointing (gradients and memory).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "../prism_require_devices.h"
#include "prism/nn.hpp"
#include "test_util.hpp"

namespace {

using prism::Tensor;
namespace F = prism::nn::functional;
namespace nn = prism::nn;
using prism_test::throws_with;

// cpu plus opencl:0 and emu:0 where loaded; a device PRISM_REQUIRE_DEVICES
// names but that is missing fails the test.
std::vector<std::string> test_devices() {
  prism::load_default_plugins();
  std::vector<std::string> out = {"cpu"};
  for (const char* want : {"opencl:0", "emu:0"}) {
    bool found = false;
    for (const prism::DeviceInfo& d : prism::devices()) found = found || d.device == want;
    if (found) {
      out.emplace_back(want);
    } else {
      EXPECT_FALSE(prism_test_device_required(want)) << want << " is required but not loaded";
      std::printf("skipped: %s is not loaded\n", want);
    }
  }
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    m = std::max(m, std::fabs(x[i] - y[i]));
  }
  return m;
}

// out[b, i, :] = sum_j softmax_j(q[b,i]·k[b,j] * scale + mask[i, j]) v[b, j, :], in double,
// mask[i][j] = -inf where masked (bool false / causal), or the additive value.
std::vector<double> naive_attention(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, const std::vector<double>& mask, int64_t B,
                                    int64_t L, int64_t S, int64_t E, int64_t Ev, double scale) {
  std::vector<double> out(static_cast<size_t>(B * L * Ev), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < L; ++i) {
      std::vector<double> s(static_cast<size_t>(S));
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < E; ++e) dot += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        s[j] = dot * scale + (mask.empty() ? 0.0 : mask[i * S + j]);
        mx = std::max(mx, s[j]);
      }
      double z = 0;
      for (int64_t j = 0; j < S; ++j) z += (s[j] = std::exp(s[j] - mx));
      for (int64_t j = 0; j < S; ++j)
        for (int64_t e = 0; e < Ev; ++e) out[(b * L + i) * Ev + e] += s[j] / z * v[(b * S + j) * Ev + e];
    }
  }
  return out;
}

TEST(ScaledDotProductAttention, MatchesTheExplicitFormulaOnEveryDevice) {
  const int64_t B = 2, L = 5, S = 7, E = 4, Ev = 3;
  prism::manual_seed(3);
  Tensor q = Tensor::randn({B, L, E}), k = Tensor::randn({B, S, E}), v = Tensor::randn({B, S, Ev});
  Tensor fmask = Tensor::randn({L, S});
  Tensor bmask = Tensor::rand({L, S}) > 0.3;
  {
    // every row keeps at least one position
    prism::NoGradGuard ng;
    bmask.select(1, 0).fill_(1);
  }
  std::vector<double> qd = q.to_vector<double>(), kd = k.to_vector<double>(), vd = v.to_vector<double>();
  std::vector<double> fm = fmask.to_vector<double>(), bm = bmask.to_vector<double>();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> bm_add(bm.size()), causal(static_cast<size_t>(L * S));
  for (size_t i = 0; i < bm.size(); ++i) bm_add[i] = bm[i] != 0 ? 0.0 : -inf;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < S; ++j) causal[i * S + j] = j <= i ? 0.0 : -inf;
  const double dflt = 1.0 / std::sqrt(static_cast<double>(E));
  for (const std::string& dev : test_devices()) {
    SCOPED_TRACE(dev);
    Tensor qq = q.to(dev), kk = k.to(dev), vv = v.to(dev);
    struct Case {
      const char* name;
      Tensor mask;
      bool causal;
      std::optional<double> scale;
      const std::vector<double>* ref_mask;
    };
    std::vector<double> none;
    std::vector<Case> cases = {{"plain", Tensor(), false, std::nullopt, &none},
                               {"float mask", fmask.to(dev), false, std::nullopt, &fm},
                               {"bool mask", bmask.to(dev), false, 0.7, &bm_add},
                               {"causal", Tensor(), true, std::nullopt, &causal}};
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      Tensor out = F::scaled_dot_product_attention(qq, kk, vv, c.mask, 0.0, c.causal, c.scale);
      EXPECT_EQ(out.sizes(), (std::vector<int64_t>{B, L, Ev}));
      EXPECT_EQ(out.device().str(), qq.device().str());
      std::vector<double> want =
          naive_attention(qd, kd, vd, *c.ref_mask, B, L, S, E, Ev, c.scale ? *c.scale : dflt);
      EXPECT_TRUE(prism_test::near_values(out, want, 1e-5));
    }
  }
}

TEST(ScaledDotProductAttention, GradientsMatchTheExplicitComposition) {
  // The gradients of the op equal those of softmax(QKᵀ·s + M)V written out
  // with matmul/softmax (float64, so the comparison is tight).
  prism::manual_seed(5);
  for (const std::string& dev : test_devices()) {
    SCOPED_TRACE(dev);
    auto leaf = [&](std::vector<int64_t> s) {
      return Tensor::randn(s, prism::kFloat64).to(dev).requires_grad_(true);
    };
    Tensor q = leaf({2, 3, 4, 8}), k = leaf({2, 3, 6, 8}), v = leaf({2, 3, 6, 5});
    Tensor mask = Tensor::randn({4, 6}, prism::kFloat64).to(dev);
    Tensor gout = Tensor::randn({2, 3, 4, 5}, prism::kFloat64).to(dev);
    Tensor out = F::scaled_dot_product_attention(q, k, v, mask);
    std::vector<Tensor> g1 = prism::autograd::grad({out}, {q, k, v}, {gout});
    Tensor ref = F::softmax(q.matmul(k.transpose(-2, -1)) * (1.0 / std::sqrt(8.0)) + mask, -1).matmul(v);
    EXPECT_LT(max_abs_diff(out, ref), 1e-12);
    std::vector<Tensor> g2 = prism::autograd::grad({ref}, {q, k, v}, {gout});
    for (size_t i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(g1[i], g2[i]), 1e-12) << "input " << i;
  }
}

TEST(ScaledDotProductAttention, DropoutIsSeededAndScalesKeptWeights) {
  Tensor q = Tensor::randn({1, 4, 8}), k = Tensor::randn({1, 6, 8}), v = Tensor::randn({1, 6, 8});
  prism::manual_seed(11);
  Tensor a = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.5);
  prism::manual_seed(11);
  Tensor b = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.5);
  Tensor c = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.5);
  Tensor d = F::scaled_dot_product_attention(q, k, v);
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  EXPECT_GT(max_abs_diff(a, c), 1e-3);
  EXPECT_GT(max_abs_diff(a, d), 1e-3);
}

TEST(ScaledDotProductAttention, BadInputIsAClearError) {
  Tensor q = Tensor::randn({2, 4, 8}), k = Tensor::randn({2, 6, 8}), v = Tensor::randn({2, 6, 3});
  EXPECT_TRUE(throws_with(
      [&] {
        F::scaled_dot_product_attention(q, Tensor::randn({2, 6, 7}), v);
      },
      {"scaled_dot_product_attention", "[2, 6, 7]"}));
  EXPECT_TRUE(throws_with(
      [&] {
        F::scaled_dot_product_attention(q, k, Tensor::randn({2, 5, 3}));
      },
      {"scaled_dot_product_attention", "value"}));
  EXPECT_TRUE(throws_with(
      [&] {
        F::scaled_dot_product_attention(q, k, v, Tensor::zeros({4, 6}), 0.0, true);
      },
      {"is_causal"}));
  EXPECT_TRUE(throws_with(
      [&] {
        F::scaled_dot_product_attention(q, k, v, Tensor::zeros({4, 5}));
      },
      {"attn_mask", "[4, 5]"}));
  EXPECT_TRUE(throws_with([&] { F::scaled_dot_product_attention(q, k, v, Tensor(), 1.0); }, {"dropout_p"}));
  EXPECT_TRUE(
      throws_with([&] { F::scaled_dot_product_attention(q.to(prism::kInt64), k, v); }, {"floating point"}));
}

TEST(BCELoss, ValuesGradientsAndRange) {
  Tensor x = Tensor::from_vector(std::vector<float>{0.1f, 0.5f, 0.9f, 0.0f}, {4}).requires_grad_(true);
  Tensor y = Tensor::from_vector(std::vector<float>{0.0f, 1.0f, 1.0f, 0.0f}, {4});
  Tensor l = nn::BCELoss(Tensor(), F::Reduction::kNone)(x, y);
  // -log(1 - 0.1), -log(0.5), -log(0.9), -log(1)
  EXPECT_TRUE(prism_test::near_values(l, {-std::log(0.9), -std::log(0.5), -std::log(0.9), 0.0}, 1e-6));
  Tensor m = nn::BCELoss()(x, y);
  m.backward();
  // d/dx = (x - y) / (x (1 - x)) / n
  EXPECT_TRUE(prism_test::near_values(x.grad().narrow(0, 0, 3),
                                      {0.1 / 0.09 / 4, -0.5 / 0.25 / 4, -0.1 / 0.09 / 4}, 1e-5));
  Tensor ones = Tensor::ones({4});
  EXPECT_TRUE(prism_test::near_values(nn::BCELoss(Tensor(), F::Reduction::kSum)(x.detach() * 0.0, ones),
                                      {400.0}, 1e-3));  // log clamped at -100
  EXPECT_TRUE(throws_with([&] { F::binary_cross_entropy(x.detach() + 1.0, y); }, {"between 0 and 1"}));
  EXPECT_TRUE(throws_with([&] { F::binary_cross_entropy(x, Tensor::zeros({3})); }, {"[3]", "[4]"}));
}

TEST(MultiheadAttention, LayoutsMasksAndWeights) {
  prism::manual_seed(1);
  nn::MultiheadAttention mha(8, 2, 0.0, true, /*batch_first=*/true);
  nn::MultiheadAttention mha_seq(8, 2);
  mha_seq.load_state_dict(mha.state_dict());
  EXPECT_EQ(mha.state_dict().size(), 4u);  // in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias
  Tensor x = Tensor::randn({3, 5, 8});
  auto r1 = mha.forward(x, x, x);
  auto r2 = mha_seq.forward(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1));
  EXPECT_LT(max_abs_diff(r1.first, r2.first.transpose(0, 1)), 1e-6);
  EXPECT_EQ(r1.second.sizes(), (std::vector<int64_t>{3, 5, 5}));
  // The weights are rows of a softmax.
  EXPECT_TRUE(prism_test::near_values(prism::sum(r1.second, {-1}), std::vector<double>(15, 1.0), 1e-5));
  // need_weights=false goes through scaled_dot_product_attention: same output.
  auto r3 = mha.forward(x, x, x, Tensor(), false);
  EXPECT_FALSE(r3.second.defined());
  EXPECT_LT(max_abs_diff(r1.first, r3.first), 1e-5);
  // A padded key gets zero weight.
  Tensor kpm = Tensor::zeros({3, 5}, prism::kBool);
  {
    prism::NoGradGuard ng;
    kpm.select(1, 4).fill_(1);
  }
  auto r4 = mha.forward(x, x, x, kpm, true, Tensor(), false);
  EXPECT_EQ(r4.second.sizes(), (std::vector<int64_t>{3, 2, 5, 5}));
  EXPECT_TRUE(prism_test::near_values(r4.second.select(3, 4), std::vector<double>(30, 0.0), 0.0));
  EXPECT_TRUE(throws_with(
      [&] {
        mha.forward(x, x, x, Tensor(), true, Tensor::zeros({4, 5}));
      },
      {"attn_mask", "(4, 5)"}));
  EXPECT_TRUE(throws_with([&] { nn::MultiheadAttention(10, 3); }, {"divisible"}));
}

TEST(TransformerEncoderLayer, CausalMaskAndDropoutModes) {
  prism::manual_seed(2);
  for (bool norm_first : {false, true}) {
    nn::TransformerEncoderLayer layer(8, 2, 16, 0.1, "gelu", 1e-5, true, norm_first);
    Tensor x = Tensor::randn({2, 6, 8});
    layer.eval();
    Tensor full = layer.forward(x, Tensor(), Tensor(), true);
    // Causality: position i does not see later positions.
    Tensor prefix = layer.forward(x.narrow(1, 0, 3), Tensor(), Tensor(), true);
    EXPECT_LT(max_abs_diff(full.narrow(1, 0, 3), prefix), 1e-5);
    Tensor again = layer.forward(x, nn::generate_square_subsequent_mask(6), Tensor());
    EXPECT_LT(max_abs_diff(full, again), 1e-6);
    layer.train();
    Tensor t1 = layer.forward(x);
    Tensor t2 = layer.forward(x);
    EXPECT_GT(max_abs_diff(t1, t2), 1e-4);  // dropout draws new masks in training
  }
  EXPECT_TRUE(throws_with([&] { nn::TransformerEncoderLayer(8, 2, 16, 0.1, "tanh"); }, {"relu/gelu"}));
}

// ---- gradient checkpointing -------------------------------------------------------------

std::shared_ptr<nn::Sequential> deep_mlp(int64_t width, int64_t depth, double p) {
  auto seq = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < depth; ++i) {
    seq->push_back(std::make_shared<nn::Linear>(width, width));
    seq->push_back(std::make_shared<nn::ReLU>());
    if (p > 0) seq->push_back(std::make_shared<nn::Dropout>(p));
  }
  return seq;
}

TEST(Checkpoint, GradientsEqualTheUncheckpointedRunWithDropout) {
  for (const std::string& dev : test_devices()) {
    SCOPED_TRACE(dev);
    prism::manual_seed(7);
    auto model = deep_mlp(16, 6, 0.3);
    model->to(dev);
    Tensor x = Tensor::randn({4, 16}).to(dev);
    auto run = [&](bool ckpt) {
      model->zero_grad();
      prism::manual_seed(99);
      Tensor y = ckpt ? nn::checkpoint_sequential(*model, 3, x) : model->forward(x);
      Tensor loss = prism::sum(y * y);
      const prism::RngState after_forward = prism::get_rng_state();
      loss.backward();
      // The recomputation leaves the generator where forward left it.
      EXPECT_EQ(prism::get_rng_state().offset, after_forward.offset);
      std::vector<std::vector<double>> grads;
      for (const Tensor& p : model->parameters()) grads.push_back(p.grad().to_vector<double>());
      return std::make_pair(loss.item<double>(), grads);
    };
    auto plain = run(false);
    auto ck = run(true);
    EXPECT_EQ(plain.first, ck.first);
    ASSERT_EQ(plain.second.size(), ck.second.size());
    for (size_t i = 0; i < plain.second.size(); ++i)
      EXPECT_EQ(plain.second[i], ck.second[i]) << "parameter " << i;  // bitwise: same ops, same masks
  }
}

TEST(Checkpoint, InputGradientsMultipleOutputsAndErrors) {
  Tensor w = Tensor::randn({3, 3}).requires_grad_(true);
  Tensor x = Tensor::randn({2, 3}).requires_grad_(true);
  auto fn = [w](const std::vector<Tensor>& xs) {
    Tensor h = xs[0].matmul(w).tanh();
    return std::vector<Tensor>{h, h * xs[1], xs[1].to(prism::kInt64)};
  };
  Tensor c = Tensor::full({2, 3}, 2.0);
  std::vector<Tensor> outs = prism::checkpoint(fn, {x, c});
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].grad_fn_name(), "CheckpointBackward");
  EXPECT_FALSE(outs[2].requires_grad());
  prism::sum(outs[0] + outs[1]).backward();
  std::vector<double> gx = x.grad().to_vector<double>(), gw = w.grad().to_vector<double>();
  x.zero_grad();
  w.zero_grad();
  std::vector<Tensor> ref = fn({x, c});
  prism::sum(ref[0] + ref[1]).backward();
  EXPECT_TRUE(prism_test::near_values(x.grad(), gx, 1e-6));
  EXPECT_TRUE(prism_test::near_values(w.grad(), gw, 1e-6));
  // No input requires grad: parameters read by the segment still get gradients.
  w.zero_grad();
  Tensor y = prism::checkpoint([w](const Tensor& t) { return t.matmul(w); }, x.detach());
  EXPECT_TRUE(y.requires_grad());
  prism::sum(y).backward();
  EXPECT_TRUE(w.grad().defined());
  // A second backward without retain_graph, an input modified in place, an exception in the segment.
  Tensor z = prism::checkpoint([](const Tensor& t) { return t * 2.0; }, x);
  Tensor s = prism::sum(z);
  s.backward();
  EXPECT_TRUE(throws_with([&] { s.backward(); }, {"second time"}));
  Tensor xi = x.detach().clone().requires_grad_(true);
  Tensor base = xi * 1.0;
  Tensor z2 = prism::checkpoint([](const Tensor& t) { return t * t; }, base);
  {
    prism::NoGradGuard ng;
    base.add_(1.0);
  }
  EXPECT_TRUE(throws_with([&] { prism::sum(z2).backward(); }, {"checkpoint", "inplace"}));
  int calls = 0;
  Tensor z3 = prism::checkpoint(
      [&calls](const Tensor& t) {
        if (++calls == 2) throw prism::Error(PRISM_ERROR_INTERNAL, "segment failed on purpose");
        return t * 3.0;
      },
      x);
  try {
    prism::sum(z3).backward();
    ADD_FAILURE() << "backward did not fail";
  } catch (const prism::Error& e) {
    EXPECT_NE(std::string(e.what()).find("segment failed on purpose"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, SavesMemoryOnADeepMlp) {
  // Peak bytes of one training step's forward + backward on the CPU device,
  // with and without checkpointing 64 layers (128 modules) in 8 segments.
  const int64_t width = 128, depth = 64, batch = 128, segments = 8;
  prism::manual_seed(1);
  auto model = deep_mlp(width, depth, 0.0);
  Tensor x = Tensor::randn({batch, width});
  auto peak = [&](bool ckpt) {
    model->zero_grad(false);  // .grad kept (zeroed): the peak above `base` is activations and temporaries
    prism::empty_cache();
    prism::reset_peak_memory_stats();
    const uint64_t base = prism::memory_stats().allocated;
    {
      Tensor y = ckpt ? nn::checkpoint_sequential(*model, segments, x) : model->forward(x);
      prism::sum(y).backward();
    }
    return prism::memory_stats().peak_allocated - base;
  };
  peak(false);  // warm-up: every .grad exists in both measured runs
  const uint64_t plain = peak(false), ck = peak(true);
  std::printf(
      "deep MLP (%lld x Linear(%lld)+ReLU, batch %lld): peak %.2f MiB plain, %.2f MiB checkpointed "
      "(%lld segments), %.1f%% saved\n",
      static_cast<long long>(depth), static_cast<long long>(width), static_cast<long long>(batch),
      static_cast<double>(plain) / 1048576.0, static_cast<double>(ck) / 1048576.0,
      static_cast<long long>(segments), 100.0 * (1.0 - static_cast<double>(ck) / static_cast<double>(plain)));
  EXPECT_LT(static_cast<double>(ck), 0.5 * static_cast<double>(plain));
}

}  // namespace
