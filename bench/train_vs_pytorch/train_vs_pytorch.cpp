// train_vs_pytorch.cpp — the Prism side of bench/train_vs_pytorch: the MLP of train_vs_pytorch.py, trained
// from the same initial weights in the same order with the same hyper-parameters.
//
// Usage: train_vs_pytorch DIR [--epochs N] [--device NAME] [--data DIR]
//   Reads DIR/init.safetensors and DIR/order.safetensors (train_vs_pytorch.py prepare),
//   writes DIR/prism.json: per-step losses, seconds per epoch, test accuracy.
// Threads: the CPU plugin's OpenMP count (OMP_NUM_THREADS), set by train_vs_pytorch.sh.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "prism/data.hpp"
#include "prism/nn.hpp"
#include "prism/optim.hpp"

namespace {

namespace nn = prism::nn;
using prism::Tensor;

constexpr double kMean = 0.2860, kStd = 0.3530, kLr = 0.05, kMomentum = 0.9;
constexpr int64_t kBatch = 64;

std::string find(const std::string& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    std::ifstream f(dir + "/" + stem + ext);
    if (f.good()) return dir + "/" + stem + ext;
  }
  throw prism::Error(PRISM_ERROR_INVALID_ARGUMENT, dir + "/" + stem + "(.gz) not found");
}

std::pair<Tensor, Tensor> load_split(const std::string& data, const std::string& prefix,
                                     const prism::Device& d) {
  Tensor x = prism::data::load_idx(find(data, prefix + "-images-idx3-ubyte"));
  Tensor y = prism::data::load_idx(find(data, prefix + "-labels-idx1-ubyte"));
  x = x.to(prism::kFloat32).div(255.0).sub(kMean).div(kStd).reshape({-1, 784});
  return {x.to(d), y.to(prism::kInt64).to(d)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: train_vs_pytorch DIR [--epochs N] [--device NAME] [--data DIR]\n");
    return 2;
  }
  const std::string dir = argv[1];
  int epochs = 2;
  std::string device = "cpu", data = "/usr/share/datasets/fashion-mnist";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--epochs")
      epochs = std::atoi(argv[i + 1]);
    else if (a == "--device")
      device = argv[i + 1];
    else if (a == "--data")
      data = argv[i + 1];
    else {
      std::fprintf(stderr, "train_vs_pytorch: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    prism::load_default_plugins();
    const prism::Device dev(device);
    nn::Sequential model{std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
                         std::make_shared<nn::Linear>(256, 10)};
    model.load(dir + "/init.safetensors");
    model.to(dev);
    prism::TensorMap order = prism::load_safetensors(dir + "/order.safetensors", dev);
    auto [x, y] = load_split(data, "train", dev);
    auto [tx, ty] = load_split(data, "t10k", dev);
    prism::optim::SGDOptions so;
    so.lr = kLr;
    so.momentum = kMomentum;
    prism::optim::SGD opt(model.parameters(), so);
    std::vector<double> losses, seconds;
    const int64_t n = x.size(0);
    for (int e = 0; e < epochs; ++e) {
      const Tensor perm = order.at("epoch" + std::to_string(e));
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i + kBatch <= n; i += kBatch) {
        const Tensor idx = perm.narrow(0, i, kBatch);
        const Tensor xb = x.index_select(0, idx), yb = y.index_select(0, idx);
        opt.zero_grad(true);
        Tensor loss = nn::functional::cross_entropy(model(xb), yb);
        loss.backward();
        opt.step();
        losses.push_back(loss.item<double>());
      }
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double acc = 0;
    {
      prism::NoGradGuard no_grad;
      acc = model(tx).argmax(1).eq(ty).to(prism::kFloat64).mean().item<double>();
    }
    std::ofstream out(dir + "/prism.json");
    out.precision(17);
    out << "{\"losses\": [";
    for (size_t i = 0; i < losses.size(); ++i) out << (i ? ", " : "") << losses[i];
    out << "], \"epoch_seconds\": [";
    for (size_t i = 0; i < seconds.size(); ++i) out << (i ? ", " : "") << seconds[i];
    out << "], \"accuracy\": " << acc << ", \"device\": \"" << device << "\"}\n";
    return 0;
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "train_vs_pytorch: %s\n", e.what());
    return 1;
  }
}
