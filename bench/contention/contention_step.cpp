// contention_step.cpp — the Prism side of bench/contention: times the MLP and CNN training steps and prints
// one JSON line.
//
// Usage: contention_step [--model mlp|cnn] [--seconds S] [--warmup N]
// Threads: the CPU plugin's (OMP_NUM_THREADS / PRISM_NUM_THREADS of this process, set by run.sh);
// PRISM_THREAD_POLICY=fixed gives the policy without load adaptation (Note [Threads under load]).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "prism/nn.hpp"
#include "prism/optim.hpp"

namespace {

namespace nn = prism::nn;
using prism::Tensor;
constexpr int64_t kBatch = 64;

std::shared_ptr<nn::Sequential> make_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(256, 10)});
}

// The CNN of examples/cpp/train_fashion_mnist.cpp.
std::shared_ptr<nn::Sequential> make_cnn() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(1, 16, 3, 1, 1), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(32 * 7 * 7, 128), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(128, 10)});
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "mlp";
  double seconds = 2.0;
  int warmup = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") {
      model = argv[i + 1];
    } else if (a == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (a == "--warmup") {
      warmup = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "contention_step: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (model != "mlp" && model != "cnn") {
    std::fprintf(stderr, "contention_step: --model must be mlp or cnn\n");
    return 2;
  }
  try {
    prism::load_default_plugins();
    prism::manual_seed(0);
    auto net = model == "mlp" ? make_mlp() : make_cnn();
    prism::optim::SGDOptions so;
    so.lr = 0.01;
    so.momentum = 0.9;
    prism::optim::SGD opt(net->parameters(), so);
    const Tensor x = prism::randn({kBatch, 1, 28, 28});
    const Tensor y = prism::randint(0, 10, {kBatch});
    auto step = [&] {
      opt.zero_grad(true);
      Tensor loss = nn::functional::cross_entropy((*net)(x), y);
      loss.backward();
      opt.step();
      (void)loss.item<double>();  // one read back per step, as a training loop logging its loss
    };
    for (int i = 0; i < warmup; ++i) step();
    std::vector<double> ms;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end || ms.size() < 5) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf(
        "{\"impl\": \"prism\", \"model\": \"%s\", \"steps\": %zu, \"median_ms\": %.4f, \"min_ms\": %.4f}\n",
        model.c_str(), ms.size(), ms[ms.size() / 2], ms.front());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "contention_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
