// nn_module_test.cpp — prism/nn.hpp: modules, parameter names, modes, init, state dicts, clip_grad_norm_.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "prism/nn.hpp"
#include "prism/optim.hpp"
#include "test_util.hpp"

namespace {

namespace nn = prism::nn;
using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;

std::vector<std::string> names(const nn::NamedTensors& v) {
  std::vector<std::string> out;
  for (const auto& kv : v) out.push_back(kv.first);
  return out;
}

TEST(NnModule, LinearInitialisesLikeTorchAndComputesXWtPlusB) {
  prism::manual_seed(1);
  nn::Linear fc(16, 4);
  EXPECT_EQ(fc.weight->sizes(), (std::vector<int64_t>{4, 16}));
  EXPECT_TRUE(fc.weight->requires_grad());
  // kaiming_uniform_(a = sqrt(5)) bounds the weight by 1/sqrt(fan_in), as the bias.
  const double bound = 1.0 / std::sqrt(16.0);
  EXPECT_LE(fc.weight->abs().amax().item<double>(), bound);
  EXPECT_LE(fc.bias->abs().amax().item<double>(), bound);
  EXPECT_GT(fc.weight->abs().amax().item<double>(), bound * 0.8);  // not all near zero
  Tensor x = Tensor::randn({3, 16});
  Tensor want = x.matmul(fc.weight->t()).add(*fc.bias);
  EXPECT_TRUE(fc(x).allclose(want, 1e-5, 1e-6));
  EXPECT_TRUE(throws_with([] { nn::Linear bad(0, 3); }, {"Linear", "positive"}));
}

TEST(NnModule, SequentialNamesParametersLikeTorch) {
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(8, 6), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(6, 2)});
  EXPECT_EQ(names(model->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(model->num_parameters(), 8 * 6 + 6 + 6 * 2 + 2);
  Tensor x = Tensor::randn({5, 8});
  Tensor y = (*model)(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_TRUE(model->at("2.bias").defined());
  EXPECT_TRUE(throws_with([&] { model->at("3.weight"); }, {"no parameter or buffer", "3.weight"}));
  EXPECT_TRUE(throws_with([&] { (*model)[7]; }, {"Sequential", "index 7", "size 3"}));
}

TEST(NnModule, BackwardReachesEveryParameterAndZeroGradClears) {
  nn::Sequential model{std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Linear>(3, 1)};
  Tensor loss = model(Tensor::randn({6, 4})).square().mean();
  loss.backward();
  for (const auto& kv : model.named_parameters()) {
    ASSERT_TRUE(kv.second.grad().defined()) << kv.first;
    EXPECT_EQ(kv.second.grad().sizes(), kv.second.sizes()) << kv.first;
  }
  model.zero_grad();
  for (const Tensor& p : model.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(NnModule, TrainEvalReachesChildrenAndDropoutObeysIt) {
  auto drop = std::make_shared<nn::Dropout>(0.5);
  nn::Sequential model{std::make_shared<nn::Linear>(4, 4), drop};
  EXPECT_TRUE(drop->is_training());
  model.eval();
  EXPECT_FALSE(drop->is_training());
  Tensor x = Tensor::ones({2, 4});
  EXPECT_TRUE(drop->forward(x).equal(x));  // identity in eval mode
  model.train();
  Tensor y = drop->forward(Tensor::ones({1000}));
  const double zeros = y.eq(0.0).to(prism::kFloat64).sum().item<double>();
  EXPECT_GT(zeros, 380);
  EXPECT_LT(zeros, 620);
  EXPECT_TRUE(near_values(y.amax(), {2.0}));
  EXPECT_TRUE(throws_with([] { nn::Dropout bad(1.5); }, {"Dropout", "between 0 and 1"}));
}

TEST(NnModule, BatchNormTracksRunningStatsInTrainingOnly) {
  nn::BatchNorm1d bn(2);
  EXPECT_EQ(names(bn.named_buffers()),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  Tensor x = Tensor::from_vector<float>({1, 10, 3, 20, 5, 30}, {3, 2});
  Tensor y = bn(x);
  // Batch mean (3, 20), unbiased var (4, 100); momentum 0.1.
  EXPECT_TRUE(near_values(*bn.running_mean, {0.3, 2.0}, 1e-6));
  EXPECT_TRUE(near_values(*bn.running_var, {0.9 + 0.4, 0.9 + 10.0}, 1e-5));
  EXPECT_EQ(bn.num_batches_tracked->item<int64_t>(), 1);
  // Normalised with the biased batch variance: column 0 is (-2, 0, 2) / sqrt(8/3 + eps).
  const double s = std::sqrt(8.0 / 3.0 + 1e-5);
  EXPECT_TRUE(near_values(y.select(1, 0), {-2 / s, 0, 2 / s}, 1e-5));
  bn.eval();
  Tensor before = bn.running_mean->clone();
  Tensor z = bn(x);
  EXPECT_TRUE(bn.running_mean->equal(before));
  EXPECT_EQ(bn.num_batches_tracked->item<int64_t>(), 1);
  EXPECT_TRUE(near_values(z.select(1, 0),
                          {(1 - 0.3) / std::sqrt(1.3 + 1e-5), (3 - 0.3) / std::sqrt(1.3 + 1e-5),
                           (5 - 0.3) / std::sqrt(1.3 + 1e-5)},
                          1e-5));
  EXPECT_TRUE(throws_with([&] { bn(Tensor::ones({2, 2, 2, 2})); }, {"BatchNorm1d", "2D or 3D"}));
}

TEST(NnModule, ConvPoolFlattenShapes) {
  nn::Sequential cnn{std::make_shared<nn::Conv2d>(1, 4, 3, 1, 1), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
                     std::make_shared<nn::Linear>(4 * 4 * 4, 3)};
  Tensor y = cnn(Tensor::randn({2, 1, 8, 8}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(cnn.at("0.weight").sizes(), (std::vector<int64_t>{4, 1, 3, 3}));
  EXPECT_TRUE(throws_with([] { nn::Conv2d bad(3, 4, 3, 1, 0, 1, 2); }, {"Conv2d", "divisible by groups"}));
}

TEST(NnModule, EmbeddingAndLayerNorm) {
  nn::Embedding emb(10, 3, 0);
  EXPECT_TRUE(near_values(emb.weight->select(0, 0), {0, 0, 0}));
  Tensor idx = Tensor::from_vector<int64_t>({0, 4, 4});
  Tensor e = emb(idx);
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_TRUE(e.select(0, 1).equal(emb.weight->select(0, 4)));
  nn::LayerNorm ln(3);  // one normalised dim of size 3
  Tensor y = ln(Tensor::from_vector<float>({1, 2, 3}, {1, 3}));
  const double s = std::sqrt(2.0 / 3.0 + 1e-5);
  EXPECT_TRUE(near_values(y, {-1 / s, 0, 1 / s}, 1e-5));
}

TEST(NnModule, InitialisersFollowTorchFormulas) {
  prism::manual_seed(3);
  Tensor w = Tensor::empty({200, 300});
  nn::init::xavier_uniform_(w);
  const double a = std::sqrt(6.0 / 500.0);
  EXPECT_LE(w.abs().amax().item<double>(), a);
  EXPECT_GT(w.abs().amax().item<double>(), 0.95 * a);
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");
  EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / 300.0), 0.002);
  nn::init::zeros_(w);
  EXPECT_EQ(w.abs().amax().item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  Tensor v = Tensor::empty({4});
  EXPECT_TRUE(throws_with([&] { nn::init::xavier_uniform_(v); }, {"fewer than 2 dimensions"}));
  EXPECT_TRUE(
      throws_with([&] { nn::init::kaiming_uniform_(w, 0, "fan_sideways"); }, {"fan_in", "fan_sideways"}));
}

TEST(NnModule, StateDictRoundTripThroughSafetensors) {
  prism::manual_seed(5);
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(5, 4), std::make_shared<nn::BatchNorm1d>(4),
        std::make_shared<nn::Linear>(4, 2)});
  };
  auto a = make();
  (*a)(Tensor::randn({8, 5}));  // moves the running statistics
  const std::string path = ::testing::TempDir() + "prism_nn_state.safetensors";
  a->save(path);
  auto b = make();
  b->load(path);
  a->eval();
  b->eval();
  Tensor x = Tensor::randn({3, 5});
  EXPECT_TRUE((*a)(x).equal((*b)(x)));
  EXPECT_TRUE(b->at("1.running_mean").equal(a->at("1.running_mean")));
  // A model of another shape refuses the file, naming the tensor and both shapes.
  nn::Sequential other{std::make_shared<nn::Linear>(5, 3)};
  EXPECT_TRUE(
      throws_with([&] { other.load(path, false); }, {"size mismatch", "0.weight", "(4, 5)", "(3, 5)"}));
  prism::TensorMap partial = a->state_dict();
  partial.erase("2.bias");
  EXPECT_TRUE(throws_with([&] { b->load_state_dict(partial); }, {"missing key", "2.bias"}));
  partial = a->state_dict();
  partial["extra"] = Tensor::zeros({1});
  EXPECT_TRUE(throws_with([&] { b->load_state_dict(partial); }, {"unexpected key", "extra"}));
  std::remove(path.c_str());
}

TEST(NnModule, ClipGradNormScalesJointNorm) {
  Tensor p1 = Tensor::zeros({2}).requires_grad_();
  Tensor p2 = Tensor::zeros({1}).requires_grad_();
  p1.set_grad(Tensor::from_vector<float>({3, 0}));
  p2.set_grad(Tensor::from_vector<float>({4}));
  const double total = nn::clip_grad_norm_({p1, p2}, 1.0);
  EXPECT_NEAR(total, 5.0, 1e-6);
  EXPECT_TRUE(near_values(p1.grad(), {0.6, 0.0}, 1e-5));
  EXPECT_TRUE(near_values(p2.grad(), {0.8}, 1e-5));
  // Under the limit: unchanged; infinity norm.
  EXPECT_NEAR(nn::clip_grad_norm_({p1, p2}, 10.0, INFINITY), 0.8, 1e-5);
  EXPECT_TRUE(near_values(p2.grad(), {0.8}, 1e-5));
}

TEST(NnModule, SgdTrainsASmallRegression) {
  prism::manual_seed(7);
  nn::Sequential model{std::make_shared<nn::Linear>(2, 8), std::make_shared<nn::ReLU>(),
                       std::make_shared<nn::Linear>(8, 1)};
  prism::optim::SGDOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  prism::optim::SGD opt(model.parameters(), o);
  nn::MSELoss mse;
  Tensor x = Tensor::randn({64, 2});
  Tensor y = x.select(1, 0).mul(2.0).sub(x.select(1, 1)).unsqueeze(1);
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = mse(model(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, first * 0.05) << "first " << first << ", last " << last;
}

}  // namespace
