// amp_test.cpp — mixed precision through prism.hpp/optim.hpp: autocast's cast policy op by op, gradients
// through the recorded casts, the fused unscale op and GradScaler's skip/backoff/growth rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "prism/optim.hpp"
#include "prism/prism.hpp"
#include "test_util.hpp"

namespace {

using prism::Tensor;
namespace F = prism::nn::functional;

class AmpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { prism::load_default_plugins(); }
};

// The devices this run can use: cpu plus opencl:0 and emu:0 when loaded.
std::vector<std::string> devices() {
  std::vector<std::string> out{"cpu"};
  for (const auto& d : prism::devices())
    if (d.device == "opencl:0" || d.device == "emu:0") out.push_back(d.device);
  return out;
}

Tensor randn(const std::vector<int64_t>& sizes, const std::string& dev, prism::Dtype dt = prism::kFloat32) {
  return prism::randn(sizes).to(dt).to(prism::Device(dev));
}

// Note [Autocast] — the output dtype of each op under torch.autocast("cpu", dtype=torch.bfloat16) in
// PyTorch 1.13 (python/tests/test_amp.py checks this same table against torch itself).
TEST_F(AmpTest, CpuPolicyMatchesPyTorch113) {
  prism::manual_seed(1);
  const std::string dev = "cpu";
  Tensor x = randn({4, 8}, dev), w = randn({8, 8}, dev), xb = x.to(prism::kBFloat16);
  Tensor t = Tensor::from_vector(std::vector<int64_t>{1, 0, 3, 7}, {4});
  Tensor img = randn({1, 1, 4, 4}, dev), k = randn({1, 1, 3, 3}, dev);
  prism::AutocastGuard autocast("cpu", prism::kBFloat16);
  struct Row {
    const char* what;
    Tensor got;
    prism::Dtype want;
  };
  const std::vector<Row> rows = {
      {"matmul", prism::matmul(x, w), prism::kBFloat16},
      {"linear", F::linear(x, w), prism::kBFloat16},
      {"conv2d", F::conv2d(img, k), prism::kBFloat16},
      {"bmm", prism::bmm(x.unsqueeze(0), w.unsqueeze(0)), prism::kBFloat16},
      {"softmax f32", F::softmax(x, 1), prism::kFloat32},
      {"softmax bf16", F::softmax(xb, 1), prism::kBFloat16},
      {"log_softmax bf16", F::log_softmax(xb, 1), prism::kBFloat16},
      {"exp bf16", xb.exp(), prism::kBFloat16},
      {"log bf16", xb.abs().log(), prism::kBFloat16},
      {"sum bf16", prism::sum(xb), prism::kBFloat16},
      {"mean bf16", prism::mean(xb), prism::kBFloat16},
      {"prod bf16", prism::prod(xb), prism::kFloat32},
      {"cross_entropy bf16", F::cross_entropy(xb, t), prism::kFloat32},
      {"nll_loss bf16", F::nll_loss(xb, t), prism::kFloat32},
      {"mse_loss bf16", F::mse_loss(xb, xb), prism::kFloat32},
      {"l1_loss bf16", F::l1_loss(xb, xb), prism::kFloat32},
      {"huber_loss bf16", F::huber_loss(xb, xb), prism::kFloat32},
      {"bce_with_logits bf16", F::binary_cross_entropy_with_logits(xb, xb.sigmoid()), prism::kFloat32},
      {"layer_norm bf16", F::layer_norm(xb, {8}), prism::kBFloat16},
      {"cat bf16+f32", prism::cat({xb, x}), prism::kFloat32},
      {"stack bf16+f32", prism::stack({xb, x}), prism::kFloat32},
      {"relu f32", x.relu(), prism::kFloat32},
      {"add bf16+f32", xb + x, prism::kFloat32},
      {"max_pool2d bf16", F::max_pool2d(img.to(prism::kBFloat16), {2}), prism::kBFloat16},
  };
  for (const Row& r : rows) EXPECT_EQ(r.got.dtype(), r.want) << r.what;
  // Values: the bf16 matmul is the f32 one within bf16 rounding of the inputs and the output.
  Tensor y = prism::matmul(x, w).to(prism::kFloat32);
  prism::AutocastGuard off("cpu", prism::kBFloat16, false);
  Tensor ref = prism::matmul(x, w);
  EXPECT_TRUE(prism::allclose(y, ref, 3e-2, 0.15)) << y << ref;
}

// Every other device type uses PyTorch's CUDA lists: softmax, exp and sum run in f32 there.
TEST_F(AmpTest, OtherDeviceTypesFollowTheCudaLists) {
  for (const std::string& dev : devices()) {
    const std::string type = prism::Device(dev).type();
    if (type == "cpu") continue;
    SCOPED_TRACE(dev);
    Tensor x = randn({3, 5}, dev), w = randn({5, 5}, dev), xb = x.to(prism::kBFloat16);
    prism::AutocastGuard autocast(type, prism::kBFloat16);
    EXPECT_EQ(prism::matmul(x, w).dtype(), prism::kBFloat16);
    EXPECT_EQ(F::softmax(xb, 1).dtype(), prism::kFloat32);
    EXPECT_EQ(F::log_softmax(xb, 1).dtype(), prism::kFloat32);
    EXPECT_EQ(xb.exp().dtype(), prism::kFloat32);
    EXPECT_EQ(prism::sum(xb).dtype(), prism::kFloat32);
    EXPECT_EQ(F::layer_norm(xb, {5}).dtype(), prism::kFloat32);
    EXPECT_EQ(xb.relu().dtype(), prism::kBFloat16);  // not listed
    // A scope for another device type leaves these tensors alone.
    prism::AutocastGuard cpu_only("cpu", prism::kBFloat16, false);
    EXPECT_EQ(prism::matmul(x, w).dtype(), prism::kBFloat16);
  }
}

// The casts are recorded: f32 leaves get f32 gradients close to the f32 run's.
TEST_F(AmpTest, GradientsFlowBackToF32Leaves) {
  for (const std::string& dev : devices()) {
    SCOPED_TRACE(dev);
    prism::manual_seed(3);
    const std::string type = prism::Device(dev).type();
    Tensor x = randn({6, 8}, dev), w = randn({4, 8}, dev), b = randn({4}, dev);
    Tensor t = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 0, 1}, {6}).to(prism::Device(dev));
    std::vector<Tensor> grads[2];
    for (int amp = 0; amp < 2; ++amp) {
      Tensor wl = w.detach().clone().requires_grad_(), bl = b.detach().clone().requires_grad_();
      Tensor loss;
      {
        prism::AutocastGuard autocast(type, prism::kBFloat16, amp == 1);
        Tensor y = F::linear(x, wl, bl);
        EXPECT_EQ(y.dtype(), amp == 1 ? prism::kBFloat16 : prism::kFloat32);
        loss = F::cross_entropy(y, t);
        EXPECT_EQ(loss.dtype(), prism::kFloat32);
      }
      loss.backward();
      ASSERT_TRUE(wl.grad().defined() && bl.grad().defined());
      EXPECT_EQ(wl.grad().dtype(), prism::kFloat32);
      EXPECT_EQ(bl.grad().dtype(), prism::kFloat32);
      grads[amp] = {wl.grad(), bl.grad()};
    }
    EXPECT_TRUE(prism::allclose(grads[1][0], grads[0][0], 5e-2, 2e-2)) << grads[1][0] << grads[0][0];
    EXPECT_TRUE(prism::allclose(grads[1][1], grads[0][1], 5e-2, 2e-2));
  }
}

TEST_F(AmpTest, ScopesNestAndWorkUnderNoGrad) {
  Tensor a = randn({2, 3}, "cpu"), b = randn({3, 2}, "cpu");
  EXPECT_FALSE(prism::is_autocast_enabled("cpu"));
  EXPECT_EQ(prism::get_autocast_dtype("cpu"), prism::kBFloat16);
  {
    prism::NoGradGuard no_grad;
    prism::AutocastGuard outer("cpu", prism::kFloat16);
    EXPECT_TRUE(prism::is_autocast_enabled("cpu"));
    EXPECT_FALSE(prism::is_autocast_enabled("opencl"));
    EXPECT_EQ(prism::matmul(a, b).dtype(), prism::kFloat16);
    {
      prism::AutocastGuard inner("cpu", prism::kBFloat16);
      EXPECT_EQ(prism::matmul(a, b).dtype(), prism::kBFloat16);
      prism::AutocastGuard off("cpu", prism::kBFloat16, false);
      EXPECT_EQ(prism::matmul(a, b).dtype(), prism::kFloat32);
    }
    EXPECT_EQ(prism::matmul(a, b).dtype(), prism::kFloat16);
    // f64 and integer inputs are never cast.
    EXPECT_EQ(prism::matmul(a.to(prism::kFloat64), b.to(prism::kFloat64)).dtype(), prism::kFloat64);
  }
  EXPECT_FALSE(prism::is_autocast_enabled("cpu"));
  EXPECT_EQ(prism::matmul(a, b).dtype(), prism::kFloat32);
  EXPECT_TRUE(prism_test::throws_with([] { prism::AutocastGuard bad("cpu", prism::kFloat32); },
                                      {"autocast", "float16 or bfloat16"}));
}

// The fused op on every device and dtype: values scaled, NaN/Inf noted, found_inf never reset; the
// composite (a non-contiguous grad) gives the same.
TEST_F(AmpTest, UnscaleCheckOnEveryDevice) {
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::string& dev : devices()) {
    for (prism::Dtype dt : {prism::kFloat32, prism::kBFloat16, prism::kFloat16, prism::kFloat64}) {
      if (dt == prism::kFloat64 && dev != "cpu") continue;  // PoCL devices may lack f64
      SCOPED_TRACE(dev + " " + prism::dtype_name(dt));
      const prism::Device d(dev);
      Tensor found = prism::zeros({1}, prism::kFloat32, d);
      Tensor inv = prism::full({1}, 0.25, prism::kFloat32, d);
      Tensor g = Tensor::from_vector(std::vector<float>{4, -8, 2, 1}, {4}).to(dt).to(d);
      prism::amp::unscale_check(g, found, inv);
      EXPECT_TRUE(prism_test::near_values(g, {1, -2, 0.5, 0.25}, 0));
      EXPECT_TRUE(prism_test::near_values(found, {0}, 0));
      Tensor bad = Tensor::from_vector(std::vector<float>{4, inf, 2, 8, 6, 1}, {2, 3}).to(dt).to(d);
      Tensor strided = bad.t();  // composite path
      prism::amp::unscale_check(strided, found, inv);
      EXPECT_TRUE(prism_test::near_values(bad, {1, inf, 0.5, 2, 1.5, 0.25}, 0));
      EXPECT_TRUE(prism_test::near_values(found, {1}, 0));
      Tensor clean = prism::ones({3}, dt, d);
      prism::amp::unscale_check(clean, found, inv);
      EXPECT_TRUE(prism_test::near_values(found, {1}, 0));  // still set
      Tensor nan = Tensor::from_vector(std::vector<float>{NAN, 1}, {2}).to(dt).to(d);
      Tensor found2 = prism::zeros({1}, prism::kFloat32, d);
      prism::amp::unscale_check(nan, found2, inv);
      EXPECT_TRUE(prism_test::near_values(found2, {1}, 0));
    }
  }
  Tensor g = prism::ones({2});
  EXPECT_TRUE(
      prism_test::throws_with([&] { prism::amp::unscale_check(g, prism::zeros({2}), prism::ones({1})); },
                              {"amp_unscale_check", "found_inf", "one element"}));
  EXPECT_TRUE(prism_test::near_values(g, {1, 1}, 0));
}

// One parameter w (2 elements), SGD lr 0.5; loss = sum(w * c).
struct ToyStep {
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2}, {2}).requires_grad_();
  prism::optim::SGD opt{{w}, [] {
                          prism::optim::SGDOptions o;
                          o.lr = 0.5;
                          return o;
                        }()};
  // Returns whether the optimizer stepped.
  bool run(prism::amp::GradScaler& scaler, double c) {
    opt.zero_grad(true);
    Tensor loss = prism::sum(w * prism::full({2}, c));
    scaler.scale(loss).backward();
    const bool stepped = scaler.step(opt);
    scaler.update();
    return stepped;
  }
};

// Forced overflow, hand-computed: 65536 -> 32768 and the step is skipped; clean steps count.
TEST_F(AmpTest, GradScalerSkipsTheStepAndBacksOffOnOverflow) {
  prism::amp::GradScaler scaler;  // PyTorch's defaults
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  ToyStep s;
  // 1e35 * 65536 = 6.6e39 overflows f32: every gradient is Inf.
  EXPECT_FALSE(s.run(scaler, 1e35));
  EXPECT_TRUE(prism_test::near_values(s.w, {1, 2}, 0));  // untouched
  EXPECT_EQ(scaler.get_scale(), 32768.0);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
  // A clean step: grad 32768 * 1 unscaled to exactly 1, w -= 0.5.
  EXPECT_TRUE(s.run(scaler, 1.0));
  EXPECT_TRUE(prism_test::near_values(s.w, {0.5, 1.5}, 0));
  EXPECT_EQ(scaler.get_scale(), 32768.0);
  EXPECT_EQ(scaler.get_growth_tracker(), 1);
  // Another overflow resets the count and halves again: 16384.
  EXPECT_FALSE(s.run(scaler, 1e35));
  EXPECT_EQ(scaler.get_scale(), 16384.0);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
  EXPECT_TRUE(prism_test::near_values(s.w, {0.5, 1.5}, 0));
}

TEST_F(AmpTest, GradScalerGrowsAfterGrowthIntervalCleanSteps) {
  prism::amp::GradScalerOptions o;
  o.growth_interval = 3;
  prism::amp::GradScaler scaler(o);
  ToyStep s;
  EXPECT_FALSE(s.run(scaler, 1e35));  // 65536 -> 32768
  const double want[] = {32768, 32768, 65536, 65536, 65536, 131072};
  const int64_t tracker[] = {1, 2, 0, 1, 2, 0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(s.run(scaler, 0.125));
    EXPECT_EQ(scaler.get_scale(), want[i]) << "clean step " << i + 1;
    EXPECT_EQ(scaler.get_growth_tracker(), tracker[i]) << "clean step " << i + 1;
  }
  // Each clean step moved w by exactly 0.5 * 0.125.
  EXPECT_TRUE(prism_test::near_values(s.w, {1 - 6 * 0.0625, 2 - 6 * 0.0625}, 0));
}

// PyTorch's default growth_interval: the scale doubles on the 2000th clean step, not before.
TEST_F(AmpTest, GradScalerDefaultIntervalIs2000) {
  prism::amp::GradScaler scaler;
  Tensor w = prism::ones({1}).requires_grad_();
  prism::optim::SGDOptions so;
  so.lr = 0;
  prism::optim::SGD opt({w}, so);
  for (int i = 1; i <= 2000; ++i) {
    opt.zero_grad(true);
    scaler.scale(prism::sum(w)).backward();
    scaler.step(opt);
    scaler.update();
    if (i == 1999) {
      ASSERT_EQ(scaler.get_scale(), 65536.0);
      ASSERT_EQ(scaler.get_growth_tracker(), 1999);
    }
  }
  EXPECT_EQ(scaler.get_scale(), 131072.0);
  EXPECT_EQ(scaler.get_growth_tracker(), 0);
}

TEST_F(AmpTest, GradScalerStateDictRoundTripsThroughACheckpoint) {
  prism::amp::GradScalerOptions o;
  o.growth_interval = 5;
  prism::amp::GradScaler scaler(o);
  ToyStep s;
  s.run(scaler, 1e35);
  s.run(scaler, 1.0);
  s.run(scaler, 1.0);
  prism::optim::StateDict sd = scaler.state_dict();
  EXPECT_EQ(sd.scalars.at("scale"), 32768.0);
  EXPECT_EQ(sd.scalars.at("_growth_tracker"), 2.0);
  EXPECT_EQ(sd.scalars.at("growth_interval"), 5.0);
  const std::string path = ::testing::TempDir() + "/prism_amp_scaler.safetensors";
  prism::optim::save_state_dict(path, sd);
  prism::amp::GradScaler resumed;
  resumed.load_state_dict(prism::optim::load_state_dict(path));
  EXPECT_EQ(resumed.get_scale(), 32768.0);
  EXPECT_EQ(resumed.get_growth_tracker(), 2);
  EXPECT_EQ(resumed.get_growth_interval(), 5);
  // It continues the count: 3 more clean steps grow it.
  ToyStep s2;
  for (int i = 0; i < 3; ++i) s2.run(resumed, 1.0);
  EXPECT_EQ(resumed.get_scale(), 65536.0);
  std::remove(path.c_str());
}

TEST_F(AmpTest, GradScalerMisuseIsAnError) {
  prism::amp::GradScaler scaler;
  ToyStep s;
  s.opt.zero_grad(true);
  scaler.scale(prism::sum(s.w)).backward();
  scaler.unscale_(s.opt);
  EXPECT_TRUE(prism_test::throws_with([&] { scaler.unscale_(s.opt); }, {"unscale_", "already"}));
  // Disabled: a pass-through.
  prism::amp::GradScalerOptions off;
  off.enabled = false;
  prism::amp::GradScaler disabled(off);
  Tensor l = prism::sum(s.w);
  EXPECT_EQ(disabled.scale(l).get(), l.get());
  EXPECT_EQ(disabled.get_scale(), 1.0);
}

// A short mixed-precision training run on each device: the loss falls and f32 weights stay f32.
TEST_F(AmpTest, AutocastTrainingWithScalerOnEveryDevice) {
  for (const std::string& dev : devices()) {
    SCOPED_TRACE(dev);
    prism::manual_seed(7);
    const prism::Device d(dev);
    Tensor x = randn({32, 6}, dev);
    Tensor t = prism::argmax(prism::matmul(x, randn({6, 3}, dev)), 1);
    Tensor w = (randn({3, 6}, dev) * 0.1).detach().requires_grad_();
    Tensor b = prism::zeros({3}, prism::kFloat32, d).requires_grad_();
    prism::optim::AdamOptions ao;
    ao.lr = 0.05;
    prism::optim::Adam opt({w, b}, ao);
    prism::amp::GradScaler scaler;
    double first = 0, last = 0;
    for (int step = 0; step < 30; ++step) {
      opt.zero_grad(true);
      Tensor loss;
      {
        prism::AutocastGuard autocast(d.type(), prism::kBFloat16);
        loss = F::cross_entropy(F::linear(x, w, b), t);
      }
      scaler.scale(loss).backward();
      EXPECT_TRUE(scaler.step(opt));
      scaler.update();
      (step == 0 ? first : last) = loss.item<double>();
    }
    EXPECT_LT(last, 0.6 * first);
    EXPECT_EQ(w.dtype(), prism::kFloat32);
  }
}

}  // namespace
