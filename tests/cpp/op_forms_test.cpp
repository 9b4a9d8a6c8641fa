// op_forms_test.cpp — the op forms through prism.hpp / nn::functional on every loaded device (cpu, opencl:0,
// emu:0), checked against PyTorch 1.13's values.
#include <string>
#include <vector>

#include "prism/nn.hpp"
#include "test_util.hpp"

namespace {

namespace F = prism::nn::functional;
using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;

// cpu plus every non-CPU device that is loaded and takes float64 (the expected values are exact there).
std::vector<std::string> test_devices() {
  prism::load_default_plugins();
  std::vector<std::string> out{"cpu"};
  for (const prism::DeviceInfo& d : prism::devices()) {
    const std::string type = d.device.substr(0, d.device.find(':'));
    if ((type == "opencl" || type == "emu") && d.supports(prism::kFloat64) && d.supports(prism::kInt64))
      out.push_back(d.device);
  }
  return out;
}

Tensor f64(const std::vector<double>& v, const prism::IntList& sizes, const std::string& dev) {
  return Tensor::from_vector(v, sizes, dev);
}

// Gradient of sum(out * (1, 2, ..., n)).
void backward_weighted(const Tensor& out) {
  Tensor w = Tensor::arange(1, static_cast<double>(out.numel()) + 1, 1, prism::kFloat64, out.device())
                 .reshape(out.sizes());
  out.backward(w);
}

class OpForms : public ::testing::TestWithParam<std::string> {};

TEST_P(OpForms, ClampWithTensorBoundsBroadcastsAndSplitsTheGradient) {
  const std::string dev = GetParam();
  Tensor x = f64({-2, -0.5, 0.5, 1, 2, 3}, {2, 3}, dev).requires_grad_();
  Tensor lo = f64({-1, 0, 1}, {3}, dev).requires_grad_();
  Tensor hi = f64({0, 2.5}, {2, 1}, dev).requires_grad_();
  Tensor y = x.clamp(lo, hi);
  EXPECT_EQ(y.device(), prism::Device(dev));
  EXPECT_TRUE(near_values(y, {-1, 0, 0, 1, 2, 2.5}));
  EXPECT_EQ(y.grad_fn_name(), "ClampBackward");
  backward_weighted(y);
  EXPECT_TRUE(near_values(x.grad(), {0, 0, 0, 4, 5, 0}));
  EXPECT_TRUE(near_values(lo.grad(), {1, 0, 0}));
  EXPECT_TRUE(near_values(hi.grad(), {3, 6}));
  // min only, and min > max gives max (PyTorch: min(max(x, min), max)).
  EXPECT_TRUE(near_values(prism::clamp(x.detach(), lo.detach(), Tensor()), {-1, 0, 1, 1, 2, 3}));
  Tensor big = f64({5, 5, 5}, {3}, dev);
  EXPECT_TRUE(near_values(x.detach().clamp(big, hi.detach()), {0, 0, 0, 2.5, 2.5, 2.5}));
}

TEST_P(OpForms, GeluTanhMatchesPyTorch) {
  const std::string dev = GetParam();
  Tensor x = f64({-3, -1, -0.1, 0, 0.5, 2}, {6}, dev).requires_grad_();
  Tensor y = F::gelu(x, "tanh");
  EXPECT_TRUE(near_values(
      y, {-0.003637392082, -0.158808009392, -0.046017248955, 0, 0.345714009825, 1.954597694088}, 1e-9));
  y.sum().backward();
  EXPECT_TRUE(near_values(
      x.grad(), {-0.011584166631, -0.082964083846, 0.420478210728, 0.5, 0.867369903535, 1.086099256624},
      1e-9));
  EXPECT_TRUE(near_values(F::gelu(x.detach(), "none"), prism_test::values(x.detach().gelu()), 0));
  EXPECT_TRUE(throws_with([&] { F::gelu(x, "fast"); }, {"approximate", "fast"}));
}

TEST_P(OpForms, PadModesAndTheirGradients) {
  const std::string dev = GetParam();
  Tensor x = f64({0, 1, 2, 3, 4, 5}, {1, 2, 3}, dev).requires_grad_();
  Tensor r = F::pad(x, {2, 1}, "reflect");
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{1, 2, 6}));
  EXPECT_TRUE(near_values(r, {2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4}));
  backward_weighted(r);
  EXPECT_TRUE(near_values(x.grad(), {3, 12, 6, 9, 30, 18}));
  x.zero_grad(true);
  Tensor c = F::pad(x, {1, -1, 0, 1}, "constant", 9);
  EXPECT_TRUE(near_values(c, {9, 0, 1, 9, 3, 4, 9, 9, 9}));
  backward_weighted(c);
  EXPECT_TRUE(near_values(x.grad(), {2, 3, 0, 5, 6, 0}));
  EXPECT_TRUE(near_values(F::pad(x.detach(), {1, 2, 1, 0}, "replicate"),
                          {0, 0, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2, 3, 3, 4, 5, 5, 5}));
  EXPECT_TRUE(near_values(F::pad(x.detach(), {1, 1}, "circular"), {2, 0, 1, 2, 0, 5, 3, 4, 5, 3}));
  EXPECT_TRUE(throws_with([&] { F::pad(x, {3, 0}, "reflect"); }, {"reflect", "(3, 0)", "[1, 2, 3]", dev}));
  EXPECT_TRUE(throws_with([&] { F::pad(x, {1, 1}, "mirror"); }, {"mode", "mirror"}));
}

TEST_P(OpForms, Conv2dSameAndValid) {
  const std::string dev = GetParam();
  Tensor x = Tensor::arange(0, 9, 1, prism::kFloat32, dev).reshape({1, 1, 3, 3}).requires_grad_();
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2}, dev).requires_grad_();
  Tensor y = F::conv2d(x, w, Tensor(), 1, "same");
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 3, 3}));
  EXPECT_TRUE(near_values(y, {27, 37, 17, 57, 67, 29, 20, 23, 8}, 1e-4));
  y.sum().backward();
  // PyTorch: x.grad and w.grad of conv2d(x, w, padding='same').sum().
  EXPECT_TRUE(near_values(x.grad(), {1, 3, 3, 4, 10, 10, 4, 10, 10}, 1e-4));
  EXPECT_TRUE(near_values(w.grad(), {36, 27, 33, 24}, 1e-4));
  EXPECT_TRUE(near_values(F::conv2d(x.detach(), w.detach(), Tensor(), 1, "same", 2),
                          {16, 29, 12, 30, 54, 22, 8, 13, 4}, 1e-4));
  EXPECT_EQ(F::conv2d(x.detach(), w.detach(), Tensor(), 1, "valid").sizes(),
            (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_TRUE(throws_with([&] { F::conv2d(x, w, Tensor(), 2, "same"); }, {"strided"}));
  // The module spelling: same output size for an even kernel with dilation, on the layer's device.
  prism::nn::Conv2d conv(1, 2, {2, 4}, 1, prism::nn::Padding::kSame, {1, 2});
  conv.to(dev);
  EXPECT_EQ(conv.forward(x.detach()).sizes(), (std::vector<int64_t>{1, 2, 3, 3}));
  prism::nn::Conv2d valid(1, 2, 2, 1, prism::nn::Padding::kValid);
  valid.to(dev);
  EXPECT_EQ(valid.forward(x.detach()).sizes(), (std::vector<int64_t>{1, 2, 2, 2}));
}

TEST_P(OpForms, MmAndDtypeArguments) {
  const std::string dev = GetParam();
  Tensor a = f64({0, 1, 2, 3, 4, 5}, {2, 3}, dev);
  Tensor b = f64({0, 1, 2, 3, 4, 5}, {3, 2}, dev);
  EXPECT_TRUE(near_values(prism::mm(a, b), {10, 13, 28, 40}));
  EXPECT_TRUE(throws_with([&] { a.mm(a); }, {"mm", "2x3 and 2x3"}));
  EXPECT_TRUE(throws_with([&] { a.mm(b.reshape({6})); }, {"mm", "matrix", "[6]"}));
  Tensor i = Tensor::from_vector(std::vector<int32_t>{100, 100, 27}, {3}, dev);
  Tensor s = i.sum({}, false, prism::kInt16);
  EXPECT_EQ(s.dtype(), prism::kInt16);
  EXPECT_TRUE(near_values(s, {227}));
  Tensor m = i.mean({0}, false, prism::kFloat64);
  EXPECT_EQ(m.dtype(), prism::kFloat64);
  EXPECT_TRUE(near_values(m, {227.0 / 3}, 1e-12));
  EXPECT_TRUE(near_values(i.prod({}, false, prism::kFloat64), {270000}));
  Tensor f = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}, dev);
  Tensor sm = F::softmax(f, 0, prism::kFloat64);
  EXPECT_EQ(sm.dtype(), prism::kFloat64);
  EXPECT_TRUE(near_values(sm, {0.090030573170, 0.244728471055, 0.665240955775}, 1e-9));
  EXPECT_TRUE(near_values(F::log_softmax(f, 0, prism::kFloat64),
                          {-2.407605964444, -1.407605964444, -0.407605964444}, 1e-9));
}

TEST_P(OpForms, CatOfEmptiesAndEmptyIndexDtypes) {
  const std::string dev = GetParam();
  Tensor e1 = Tensor::zeros({0}, prism::kFloat64, dev).requires_grad_();
  Tensor e2 = Tensor::zeros({2, 0}, prism::kFloat64, dev).requires_grad_();
  Tensor c = prism::cat({e1, e2}, 0);
  EXPECT_EQ(c.grad_fn_name(), "CatBackward");
  c.sum().backward();
  EXPECT_EQ(e1.grad().sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(e2.grad().sizes(), (std::vector<int64_t>{2, 0}));
  Tensor x = f64({0, 1, 2, 3, 4, 5}, {2, 3}, dev);
  Tensor idx16 = Tensor::zeros({2, 0}, prism::kInt16, dev);
  EXPECT_EQ(x.gather(1, idx16).sizes(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(x.index_select(1, Tensor::zeros({0}, prism::kUInt8, dev)).sizes(), (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(throws_with(
      [&] {
        x.gather(1, Tensor::zeros({2, 1}, prism::kInt16, dev));
      },
      {"gather", "int16"}));
}

INSTANTIATE_TEST_SUITE_P(Devices, OpForms, ::testing::ValuesIn(test_devices()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           for (char& ch : n)
                             if (ch == ':') ch = '_';
                           return n;
                         });

}  // namespace
