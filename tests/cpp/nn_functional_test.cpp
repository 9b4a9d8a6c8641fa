// nn_functional_test.cpp — prism::nn::functional in prism.hpp: defaults, {h, w} pairs, gradients and errors.
#include <cmath>
#include <vector>

#include "test_util.hpp"

namespace {

namespace F = prism::nn::functional;
using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;

TEST(NnFunctional, LossesWithDefaults) {
  const double ln3 = std::log(3.0);
  Tensor x = Tensor::from_vector<double>({0, ln3, ln3, 0}, {2, 2});
  Tensor t = Tensor::from_vector<int64_t>({1, 1});
  EXPECT_TRUE(near_values(F::softmax(x, 1), {0.25, 0.75, 0.75, 0.25}, 1e-12));
  // Defaults: no weight, ignore_index -100, no smoothing, mean.
  EXPECT_TRUE(near_values(F::cross_entropy(x, t), {(std::log(4.0 / 3.0) + std::log(4.0)) / 2}, 1e-12));
  EXPECT_TRUE(near_values(F::cross_entropy(x, t, Tensor(), -100, 0.0, F::Reduction::kNone),
                          {std::log(4.0 / 3.0), std::log(4.0)}, 1e-12));
  EXPECT_TRUE(
      near_values(F::nll_loss(F::log_softmax(x, 1), t), {(std::log(4.0 / 3.0) + std::log(4.0)) / 2}, 1e-12));
  Tensor a = Tensor::from_vector<double>({0.5, 2.0});
  Tensor z = Tensor::from_vector<double>({0.0, 0.0});
  EXPECT_TRUE(near_values(F::mse_loss(a, z), {2.125}, 1e-12));
  EXPECT_TRUE(near_values(F::l1_loss(a, z, F::Reduction::kSum), {2.5}, 1e-12));
  EXPECT_TRUE(near_values(F::huber_loss(a, z, F::Reduction::kNone), {0.125, 1.5}, 1e-12));
  EXPECT_TRUE(near_values(F::smooth_l1_loss(a, z, F::Reduction::kNone, 2.0), {0.0625, 1.0}, 1e-12));
  EXPECT_TRUE(near_values(F::binary_cross_entropy_with_logits(z, Tensor::from_vector<double>({1.0, 0.0})),
                          {std::log(2.0)}, 1e-12));
  EXPECT_TRUE(throws_with(
      [&] {
        F::cross_entropy(x, Tensor::from_vector<int64_t>({12, 0}));
      },
      {"cross_entropy", "Target 12 is out of bounds."}));
}

TEST(NnFunctional, LayersAndGradients) {
  // conv2d with a single padding value for both dims; gradient of the sum w.r.t. the bias = output positions.
  std::vector<float> iota(9);
  for (size_t i = 0; i < iota.size(); ++i) iota[i] = static_cast<float>(i);
  Tensor x = Tensor::from_vector<float>(iota, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector<float>({1, 1, 1, 1}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector<float>({1});
  b.requires_grad_();
  Tensor y = F::conv2d(x, w, b, 1, 1);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 4, 4}));
  y.sum().backward();
  EXPECT_TRUE(near_values(b.grad(), {16}));
  EXPECT_TRUE(near_values(F::max_pool2d(x, 2, 1), {4, 5, 7, 8}));
  EXPECT_TRUE(near_values(F::avg_pool2d(x, {3, 3}, {3, 3}, 1, false), {2}));
  EXPECT_TRUE(
      near_values(F::linear(Tensor::from_vector<float>({1, 2}, {1, 2}),
                            Tensor::from_vector<float>({3, 4}, {1, 2}), Tensor::from_vector<float>({5})),
                  {16}));
  Tensor ln = F::layer_norm(Tensor::from_vector<double>({1, 2, 3}, {1, 3}), {3}, Tensor(), Tensor(), 0.0);
  EXPECT_TRUE(near_values(ln, {-std::sqrt(1.5), 0, std::sqrt(1.5)}, 1e-12));
  Tensor rm = Tensor::from_vector<double>({0}), rv = Tensor::from_vector<double>({1});
  Tensor bn =
      F::batch_norm(Tensor::from_vector<double>({1, 3}, {2, 1}), rm, rv, Tensor(), Tensor(), true, 0.5, 0.0);
  EXPECT_TRUE(near_values(bn, {-1, 1}, 1e-12));
  EXPECT_TRUE(near_values(rm, {1}, 1e-12));
  EXPECT_TRUE(near_values(F::dropout(x, 0.5, false), std::vector<double>(iota.begin(), iota.end())));
  EXPECT_TRUE(throws_with([&] { F::conv2d(x, w, Tensor(), {1, 1, 1}); }, {"conv2d", "stride"}));
  EXPECT_TRUE(throws_with(
      [&] {
        F::conv2d(x, Tensor::from_vector<float>({1, 1}, {1, 2, 1, 1}));
      },
      {"conv2d", "to have 2 channels"}));
}

}  // namespace
