// char_lm.cpp — a character-level language model in C++: embeddings, pre-norm TransformerEncoderLayers under
// a causal mask and a linear head, trained with Adam (the model of examples/python/char_lm.py).
//
// Usage: char_lm [--device NAME] [--steps N] [--dropout P] [--checkpoint]
//   --device      cpu, opencl:0, emu:0, ... (default cpu)
//   --steps       Adam steps (default 300)
//   --dropout     dropout of the layers (default 0)
//   --checkpoint  recompute each layer in backward instead of keeping its activations (prism::checkpoint)
// Prints the loss every 25 steps and exits 1 when the final loss is not below the first one.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "prism/nn.hpp"
#include "prism/optim.hpp"

namespace {

using prism::Tensor;
namespace nn = prism::nn;

const char* kText =
    "Prism is a heterogeneous tensor runtime. A small core owns the tensor, the dispatcher and autograd; "
    "every device is a plugin loaded at run time through one stable C ABI, and one conformance suite checks "
    "them all. Attention lets each position of a sequence look at the positions before it: the queries meet "
    "the keys, a softmax turns the scores into weights, and the weights mix the values. A causal mask hides "
    "the future, so the model learns to predict the next character from the ones it has already seen.\n";

class CharLM : public nn::Module {
 public:
  CharLM(int64_t vocab, int64_t d_model, int64_t heads, int64_t layers, int64_t block, double dropout,
         bool checkpoint)
      : checkpoint_(checkpoint) {
    tok_ = register_module("tok", std::make_shared<nn::Embedding>(vocab, d_model));
    pos_ = register_module("pos", std::make_shared<nn::Embedding>(block, d_model));
    layers_ = register_module("layers", std::make_shared<nn::ModuleList>());
    for (int64_t i = 0; i < layers; ++i)
      layers_->push_back(std::make_shared<nn::TransformerEncoderLayer>(d_model, heads, 4 * d_model, dropout,
                                                                       "gelu", 1e-5, true, true));
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(prism::IntList{d_model}));
    head_ = register_module("head", std::make_shared<nn::Linear>(d_model, vocab));
  }
  // idx (B, T) int64 -> logits (B, T, vocab)
  Tensor forward(const Tensor& idx) override {
    const int64_t T = idx.size(1);
    Tensor x =
        (*tok_)(idx) + (*pos_)(Tensor::arange(0, static_cast<double>(T), 1, prism::kInt64, idx.device()));
    for (size_t i = 0; i < layers_->size(); ++i) {
      auto layer = std::static_pointer_cast<nn::TransformerEncoderLayer>((*layers_)[i]);
      auto run = [layer](const Tensor& h) {
        return layer->forward(h, Tensor(), Tensor(), /*is_causal=*/true);
      };
      x = checkpoint_ ? prism::checkpoint(run, x) : run(x);
    }
    return (*head_)((*norm_)(x));
  }
  std::string name() const override { return "CharLM"; }

 private:
  bool checkpoint_;
  std::shared_ptr<nn::Embedding> tok_, pos_;
  std::shared_ptr<nn::ModuleList> layers_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Linear> head_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu";
  int64_t steps = 300;
  double dropout = 0.0;
  bool checkpoint = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      device = argv[++i];
    } else if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      steps = std::atoll(argv[++i]);
    } else if (std::strcmp(argv[i], "--dropout") == 0 && i + 1 < argc) {
      dropout = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--checkpoint") == 0) {
      checkpoint = true;
    } else {
      std::fprintf(stderr, "usage: %s [--device NAME] [--steps N] [--dropout P] [--checkpoint]\n", argv[0]);
      return 2;
    }
  }
  try {
    prism::load_default_plugins();
    prism::manual_seed(0);
    const std::string text = kText;
    std::set<char> charset(text.begin(), text.end());
    std::vector<char> chars(charset.begin(), charset.end());
    std::vector<int64_t> ids;
    for (char c : text) ids.push_back(std::lower_bound(chars.begin(), chars.end(), c) - chars.begin());
    const int64_t vocab = static_cast<int64_t>(chars.size()), block = 32, batch = 16;
    const int64_t n = static_cast<int64_t>(ids.size());
    Tensor data = Tensor::from_vector(ids, {n});

    CharLM model(vocab, 32, 4, 2, block, dropout, checkpoint);
    model.to(device);
    prism::optim::AdamOptions o;
    o.lr = 3e-3;
    prism::optim::Adam opt(model.parameters(), o);
    // Window offsets 0..block (inputs: 0..block-1, targets: 1..block) added to random starts.
    Tensor offsets = Tensor::arange(0, static_cast<double>(block + 1), 1, prism::kInt64).unsqueeze(0);
    double first = 0, last = 0;
    for (int64_t step = 0; step < steps; ++step) {
      Tensor starts = Tensor::randint(0, n - block - 1, {batch, 1});
      Tensor window = data.index_select(0, (starts + offsets).reshape({-1})).reshape({batch, block + 1});
      Tensor x = window.narrow(1, 0, block).to(device), y = window.narrow(1, 1, block).to(device);
      Tensor logits = model(x);
      Tensor loss = nn::functional::cross_entropy(logits.reshape({-1, vocab}), y.reshape({-1}));
      opt.zero_grad();
      loss.backward();
      opt.step();
      last = loss.item<double>();
      if (step == 0) first = last;
      if (step % 25 == 0 || step == steps - 1) std::printf("step %4lld  loss %.4f\n", (long long)step, last);
    }
    if (!(last < first)) {
      std::fprintf(stderr, "char_lm: the loss did not fall (%.4f -> %.4f)\n", first, last);
      return 1;
    }
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "char_lm: %s\n", e.what());
    return 1;
  }
  return 0;
}
