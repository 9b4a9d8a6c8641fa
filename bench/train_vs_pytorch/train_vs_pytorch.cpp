// train_vs_pytorch.cpp — the Prism side of bench/train_vs_pytorch: the MLP or the demo CNN of
// train_vs_pytorch.py, trained from the same initial weights in the same order with the same
// hyper-parameters.
//
// Usage: train_vs_pytorch DIR [--epochs N] [--device NAME] [--data DIR] [--model mlp|cnn] [--steps N]
//                             [--profile TRACE.json]
//   Reads DIR/init.safetensors and DIR/order.safetensors (train_vs_pytorch.py prepare),
//   writes DIR/prism.json: per-step losses, seconds per epoch, test accuracy.
//   --steps N stops each epoch after N batches (0 = the whole epoch);
//   --profile records steps 10..14 of the first epoch with the op profiler and writes their trace.
// Threads: the CPU plugin's OpenMP count (OMP_NUM_THREADS), set by train_vs_pytorch.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
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

constexpr double kMean = 0.2860, kStd = 0.3530, kMomentum = 0.9;
constexpr int64_t kBatch = 64;

std::string find(const std::string& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    std::ifstream f(dir + "/" + stem + ext);
    if (f.good()) return dir + "/" + stem + ext;
  }
  throw prism::Error(PRISM_ERROR_INVALID_ARGUMENT, dir + "/" + stem + "(.gz) not found");
}

std::pair<Tensor, Tensor> load_split(const std::string& data, const std::string& prefix,
                                     const prism::Device& d, bool images) {
  Tensor x = prism::data::load_idx(find(data, prefix + "-images-idx3-ubyte"));
  Tensor y = prism::data::load_idx(find(data, prefix + "-labels-idx1-ubyte"));
  x = x.to(prism::kFloat32).div(255.0).sub(kMean).div(kStd);
  x = images ? x.reshape({-1, 1, 28, 28}) : x.reshape({-1, 784});
  return {x.to(d), y.to(prism::kInt64).to(d)};
}

// The models of train_vs_pytorch.py's make_model (the CNN is examples/cpp/train_fashion_mnist's).
std::shared_ptr<nn::Sequential> make_model(const std::string& name) {
  if (name == "cnn") {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(1, 16, 3, 1, 1), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(32 * 7 * 7, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 10)});
  }
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(256, 10)});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: train_vs_pytorch DIR [--epochs N] [--device NAME] [--data DIR] [--model mlp|cnn] "
                 "[--steps N] [--profile TRACE]\n");
    return 2;
  }
  const std::string dir = argv[1];
  int epochs = 2;
  std::string device = "cpu", data = "/usr/share/datasets/fashion-mnist", model_name = "mlp", trace;
  int64_t max_steps = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--epochs")
      epochs = std::atoi(argv[i + 1]);
    else if (a == "--device")
      device = argv[i + 1];
    else if (a == "--data")
      data = argv[i + 1];
    else if (a == "--model")
      model_name = argv[i + 1];
    else if (a == "--steps")
      max_steps = std::atoll(argv[i + 1]);
    else if (a == "--profile")
      trace = argv[i + 1];
    else {
      std::fprintf(stderr, "train_vs_pytorch: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    prism::load_default_plugins();
    const prism::Device dev(device);
    if (model_name != "mlp" && model_name != "cnn") {
      std::fprintf(stderr, "train_vs_pytorch: --model must be mlp or cnn\n");
      return 2;
    }
    const bool cnn = model_name == "cnn";
    const std::shared_ptr<nn::Sequential> net = make_model(model_name);
    nn::Sequential& model = *net;
    model.load(dir + "/init.safetensors");
    model.to(dev);
    prism::TensorMap order = prism::load_safetensors(dir + "/order.safetensors", dev);
    auto [x, y] = load_split(data, "train", dev, cnn);
    auto [tx, ty] = load_split(data, "t10k", dev, cnn);
    prism::optim::SGDOptions so;
    so.lr = cnn ? 0.01 : 0.05;
    so.momentum = kMomentum;
    prism::optim::SGD opt(model.parameters(), so);
    std::vector<double> losses, seconds, cpu_seconds;
    const int64_t n = x.size(0);
    for (int e = 0; e < epochs; ++e) {
      const Tensor perm = order.at("epoch" + std::to_string(e));
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      int64_t step = 0;
      std::unique_ptr<prism::profiler::Profile> prof;
      for (int64_t i = 0; i + kBatch <= n && (max_steps <= 0 || step < max_steps); i += kBatch, ++step) {
        if (!trace.empty() && e == 0 && step == 10) prof = std::make_unique<prism::profiler::Profile>();
        if (prof && step == 15) {
          prof->stop();
          prism::profiler::export_chrome_trace(trace);
          std::fprintf(stderr, "%s", prism::profiler::summary(25).c_str());
          prof.reset();
        }
        const Tensor idx = perm.narrow(0, i, kBatch);
        const Tensor xb = x.index_select(0, idx), yb = y.index_select(0, idx);
        opt.zero_grad(true);
        Tensor loss = nn::functional::cross_entropy(model(xb), yb);
        loss.backward();
        opt.step();
        losses.push_back(loss.item<double>());
      }
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      cpu_seconds.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    double acc = 0;
    {
      prism::NoGradGuard no_grad;
      model.eval();
      Tensor correct = prism::zeros({}, prism::kFloat64, dev);
      for (int64_t i = 0; i < tx.size(0); i += 1000) {
        const int64_t m = std::min<int64_t>(1000, tx.size(0) - i);
        correct =
            correct.add(model(tx.narrow(0, i, m)).argmax(1).eq(ty.narrow(0, i, m)).to(prism::kFloat64).sum());
      }
      acc = correct.item<double>() / static_cast<double>(tx.size(0));
    }
    std::ofstream out(dir + "/prism.json");
    out.precision(17);
    out << "{\"losses\": [";
    for (size_t i = 0; i < losses.size(); ++i) out << (i ? ", " : "") << losses[i];
    out << "], \"epoch_seconds\": [";
    for (size_t i = 0; i < seconds.size(); ++i) out << (i ? ", " : "") << seconds[i];
    out << "], \"epoch_cpu_seconds\": [";
    for (size_t i = 0; i < cpu_seconds.size(); ++i) out << (i ? ", " : "") << cpu_seconds[i];
    out << "], \"accuracy\": " << acc << ", \"device\": \"" << device << "\", \"model\": \"" << model_name
        << "\"}\n";
    return 0;
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "train_vs_pytorch: %s\n", e.what());
    return 1;
  }
}
