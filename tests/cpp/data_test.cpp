// data_test.cpp — prism/data.hpp: TensorDataset, DataLoader (batching, drop_last, Philox shuffle, prefetch
// thread, errors), the IDX reader on the committed fixtures and, when installed, Fashion-MNIST, and a small
// training loop using DataLoader, SGD and StepLR together.
#include "prism/data.hpp"

#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "prism/optim.hpp"
#include "prism/plugin.h"
#include "test_util.hpp"

namespace {

using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;
namespace data = prism::data;

std::string data_dir() {
  std::string here = __FILE__;  // .../tests/cpp/data_test.cpp
  return here.substr(0, here.rfind("/cpp/")) + "/data/";
}

// x[i] = (i, 10 i), y[i] = i.
std::shared_ptr<data::TensorDataset> numbered(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(static_cast<float>(10 * i));
    y.push_back(i);
  }
  return std::make_shared<data::TensorDataset>(
      std::vector<Tensor>{Tensor::from_vector(x, {n, 2}), Tensor::from_vector(y)});
}

std::vector<int64_t> epoch_labels(data::DataLoader& loader, std::vector<int64_t>* batch_sizes = nullptr) {
  std::vector<int64_t> out;
  for (const data::Example& b : loader) {
    std::vector<int64_t> y = b[1].to_vector<int64_t>();
    std::vector<float> x = b[0].to_vector<float>();
    EXPECT_EQ(b[0].sizes(), (std::vector<int64_t>{static_cast<int64_t>(y.size()), 2}));
    for (size_t i = 0; i < y.size(); ++i) {  // the fields of one example stay together
      EXPECT_EQ(x[2 * i], static_cast<float>(y[i]));
      EXPECT_EQ(x[2 * i + 1], static_cast<float>(10 * y[i]));
    }
    if (batch_sizes != nullptr) batch_sizes->push_back(static_cast<int64_t>(y.size()));
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

TEST(DataLoader, BatchesInOrderWithAndWithoutDropLast) {
  for (size_t prefetch : {size_t{0}, size_t{2}}) {
    data::DataLoaderOptions o;
    o.batch_size = 4;
    o.prefetch = prefetch;
    data::DataLoader loader(numbered(10), o);
    EXPECT_EQ(loader.size(), 3);
    std::vector<int64_t> sizes;
    EXPECT_EQ(epoch_labels(loader, &sizes), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
    o.drop_last = true;
    data::DataLoader dropping(numbered(10), o);
    EXPECT_EQ(dropping.size(), 2);
    sizes.clear();
    EXPECT_EQ(epoch_labels(dropping, &sizes).size(), 8u);
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));
  }
}

TEST(DataLoader, ShuffleIsAPermutationReproducibleWithTheSeed) {
  data::DataLoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  data::DataLoader loader(numbered(50), o);
  prism::manual_seed(123);
  std::vector<int64_t> e1 = epoch_labels(loader);
  std::vector<int64_t> e2 = epoch_labels(loader);
  EXPECT_EQ(std::set<int64_t>(e1.begin(), e1.end()).size(), 50u);
  EXPECT_EQ(e1.size(), 50u);
  EXPECT_NE(e1, e2);  // each epoch draws a new order
  prism::manual_seed(123);
  EXPECT_EQ(epoch_labels(loader), e1);
  // The order is the one prism_randperm draws: the same with or without the thread.
  o.prefetch = 0;
  data::DataLoader inline_loader(numbered(50), o);
  prism::manual_seed(123);
  EXPECT_EQ(epoch_labels(inline_loader), e1);
  prism::manual_seed(123);
  EXPECT_EQ(Tensor::randperm(50).to_vector<int64_t>(), e1);
}

// Throws on one index, to check that errors cross the prefetch thread.
class Faulty : public data::Dataset {
 public:
  int64_t size() const override { return 12; }
  data::Example get(int64_t i) const override {
    if (i == 9) throw prism::Error(PRISM_ERROR_INVALID_ARGUMENT, "Faulty: example 9 is unreadable");
    return {Tensor::full({2}, static_cast<double>(i))};
  }
};

TEST(DataLoader, ErrorsReachTheConsumerAndEarlyExitsStopTheThread) {
  data::DataLoaderOptions o;
  o.batch_size = 3;
  o.prefetch = 1;
  data::DataLoader loader(std::make_shared<Faulty>(), o);
  int64_t batches = 0;
  EXPECT_TRUE(throws_with(
      [&] {
        for (const data::Example& b : loader) {
          EXPECT_EQ(b[0].sizes(), (std::vector<int64_t>{3, 2}));
          ++batches;
        }
      },
      {"example 9"}));
  EXPECT_EQ(batches, 3);
  // Leaving an epoch early and starting another is fine (the thread is stopped).
  for (const data::Example& b : loader) {
    EXPECT_TRUE(near_values(b[0], {0, 0, 1, 1, 2, 2}));
    break;
  }
  auto it = loader.begin();
  EXPECT_TRUE(near_values((*it)[0], {0, 0, 1, 1, 2, 2}));
}

TEST(DataLoader, PinsBatchesForDevicesWithTheirOwnMemory) {
  // Batches bound for a device with memory of its own go through pinned host
  // memory; the data arrive unchanged, with and without the prefetch thread.
  prism::load_default_plugins();
  std::string target;
  for (const prism::DeviceInfo& d : prism::devices()) {
    if ((d.capabilities & PRISM_DEVICE_CAP_HOST_MEMORY) == 0 && d.supports(prism::kFloat32) &&
        d.supports(prism::kInt64)) {
      target = d.device;
      break;
    }
  }
  if (target.empty()) GTEST_SKIP() << "skipped: no device with its own memory is loaded";
  for (size_t prefetch : {size_t{0}, size_t{2}}) {
    data::DataLoaderOptions o;
    o.batch_size = 4;
    o.prefetch = prefetch;
    o.device = prism::Device(target);
    data::DataLoader loader(numbered(10), o);
    std::vector<int64_t> labels;
    for (const data::Example& b : loader) {
      EXPECT_EQ(b[0].device(), target);
      std::vector<int64_t> y = b[1].to_vector<int64_t>();
      std::vector<float> x = b[0].to_vector<float>();
      for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(x[2 * i + 1], static_cast<float>(10 * y[i]));
      labels.insert(labels.end(), y.begin(), y.end());
    }
    EXPECT_EQ(labels, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})) << target;
    EXPECT_TRUE(loader.pins_batches()) << target;
  }
  // The same tensor pinned by hand: a pinned host copy.
  Tensor h = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Tensor p = h.pin_memory(prism::Device(target));
  EXPECT_TRUE(p.is_pinned());
  EXPECT_FALSE(h.is_pinned());
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST(DataLoader, BadOptionsAndDatasets) {
  data::DataLoaderOptions o;
  o.batch_size = 0;
  EXPECT_TRUE(throws_with([&] { data::DataLoader(numbered(3), o); }, {"batch_size"}));
  EXPECT_TRUE(throws_with(
      [&] {
        data::TensorDataset({Tensor::zeros({3, 2}), Tensor::zeros({4})});
      },
      {"size mismatch", "(3, 2)", "(4,)"}));
  EXPECT_TRUE(throws_with([&] { numbered(3)->get(3); }, {"index 3", "3 examples"}));
}

TEST(Idx, ReadsPlainAndGzipFiles) {
  Tensor images = data::load_idx(data_dir() + "idx/tiny-images-idx3-ubyte");
  EXPECT_EQ(images.dtype(), prism::kUInt8);
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_TRUE(near_values(images, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}, 0));
  Tensor labels = data::load_idx(data_dir() + "idx/tiny-labels-idx1-ubyte.gz");
  EXPECT_TRUE(near_values(labels, {7, 0, 9}, 0));
  Tensor floats = data::load_idx(data_dir() + "idx/tiny-floats-idx2-float.gz");
  EXPECT_EQ(floats.dtype(), prism::kFloat32);
  EXPECT_TRUE(near_values(floats, {0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0}, 1e-9));
  // Images and labels make a dataset directly.
  data::DataLoaderOptions o;
  o.batch_size = 2;
  data::DataLoader loader(std::make_shared<data::TensorDataset>(std::vector<Tensor>{images, labels}), o);
  auto it = loader.begin();
  EXPECT_EQ((*it)[0].sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_TRUE(near_values((*it)[1], {7, 0}, 0));
  EXPECT_TRUE(
      throws_with([&] { data::load_idx(data_dir() + "idx/missing.gz"); }, {"missing.gz", "cannot open"}));
}

TEST(Idx, ReadsFashionMnistWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!std::ifstream(dir + "t10k-labels-idx1-ubyte.gz").good())
    GTEST_SKIP() << "skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  Tensor labels = data::load_idx(dir + "t10k-labels-idx1-ubyte.gz");
  Tensor images = data::load_idx(dir + "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(labels.sizes(), (std::vector<int64_t>{10000}));
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(labels.amax().item<int64_t>(), 9);
  EXPECT_EQ(labels.amin().item<int64_t>(), 0);
  // The test set is balanced: 1000 images of each class.
  std::vector<int64_t> counts(10, 0);
  for (uint8_t l : labels.to_vector<uint8_t>()) ++counts[l];
  EXPECT_EQ(counts, std::vector<int64_t>(10, 1000));
  EXPECT_EQ(images.amax().item<int64_t>(), 255);
}

}  // namespace

namespace {

TEST(Training, DataLoaderSgdAndStepLRFitALine) {
  // y = 2 x + 1 on 64 points, mini-batches of 16 in shuffled order.
  prism::manual_seed(0);
  Tensor x = Tensor::linspace(-1, 1, 64).reshape({64, 1});
  Tensor y = x * 2.0 + 1.0;
  data::DataLoaderOptions o;
  o.batch_size = 16;
  o.shuffle = true;
  data::DataLoader loader(std::make_shared<data::TensorDataset>(std::vector<Tensor>{x, y}), o);
  Tensor w = Tensor::zeros({1}).requires_grad_();
  Tensor b = Tensor::zeros({1}).requires_grad_();
  prism::optim::SGDOptions so;
  so.lr = 0.2;
  so.momentum = 0.9;
  prism::optim::SGD opt({w, b}, so);
  prism::optim::StepLR sched(opt, 20, 0.5);
  double last = 0;
  for (int epoch = 0; epoch < 60; ++epoch) {
    for (const data::Example& batch : loader) {
      Tensor err = batch[0] * w + b - batch[1];
      Tensor loss = (err * err).mean();
      opt.zero_grad();
      loss.backward();
      opt.step();
      last = loss.item<double>();
    }
    sched.step();
  }
  EXPECT_LT(last, 1e-8);
  EXPECT_TRUE(near_values(w, {2.0}, 1e-4));
  EXPECT_TRUE(near_values(b, {1.0}, 1e-4));
  EXPECT_NEAR(opt.lr(0), 0.2 / 8, 1e-15);
}

}  // namespace
