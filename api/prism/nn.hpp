// nn.hpp — header-only layers, initialisers, losses and module state dicts over prism.hpp (torch.nn's shape).
#ifndef PRISM_API_PRISM_NN_HPP_
#define PRISM_API_PRISM_NN_HPP_

// Note [Modules]
// --------------
// A Module owns named parameters (leaf tensors with requires_grad), named
// buffers (tensors without gradients, such as BatchNorm's running statistics)
// and named child modules, in registration order. Names follow torch.nn:
// "fc1.weight", "0.bias", "bn.running_mean", so a state dict saved here loads
// into the same model in PyTorch and back (safetensors, prism/serialize.hpp).
//
// to(device) replaces every parameter and buffer by a copy on that device
// (still a leaf, requires_grad kept) — move the model before building its
// optimizer, as in PyTorch. train()/eval() set the mode of the whole tree;
// Dropout and BatchNorm read it.
//
// Layers initialise their parameters as torch.nn does (Linear and Conv2d:
// kaiming_uniform_ with a = sqrt(5) for weights, U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) for biases; Embedding: N(0, 1); norms: ones and zeros),
// drawing from Prism's global Philox generator (prism::manual_seed), so a
// seeded model is the same on every device.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "prism/prism.hpp"
#include "prism/serialize.hpp"

namespace prism::nn {

// ===========================================================================
// Initialisers (torch.nn.init): fill a tensor in place, without autograd.
// ===========================================================================
namespace init {

// fan_in and fan_out of a weight: dim 1 and dim 0 times the receptive field.
inline std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  if (t.dim() < 2) {
    detail::fail(
        "init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got " +
        shape_string(t.sizes()) + ")");
  }
  int64_t field = 1;
  for (int64_t d = 2; d < t.dim(); ++d) field *= t.size(d);
  return {t.size(1) * field, t.size(0) * field};
}

// torch.nn.init.calculate_gain for the nonlinearities the layers use.
inline double calculate_gain(const std::string& nonlinearity, double param = 0.01) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  detail::fail("init: unsupported nonlinearity '" + nonlinearity + "'");
}

inline Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0) {
  NoGradGuard no_grad;
  Tensor r = Tensor::rand(t.sizes(), t.dtype(), t.device());
  t.copy_(r.mul(high - low).add(low));
  return t;
}
inline Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0) {
  NoGradGuard no_grad;
  Tensor r = Tensor::randn(t.sizes(), t.dtype(), t.device());
  t.copy_(r.mul(std).add(mean));
  return t;
}
inline Tensor& constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
  return t;
}
inline Tensor& zeros_(Tensor& t) {
  return constant_(t, 0.0);
}
inline Tensor& ones_(Tensor& t) {
  return constant_(t, 1.0);
}
inline Tensor& xavier_uniform_(Tensor& t, double gain = 1.0) {
  auto f = calculate_fan_in_and_fan_out(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(f.first + f.second));
  return uniform_(t, -a, a);
}
inline Tensor& xavier_normal_(Tensor& t, double gain = 1.0) {
  auto f = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.first + f.second)));
}
// mode: "fan_in" (default) or "fan_out".
inline int64_t fan(const Tensor& t, const std::string& mode) {
  auto f = calculate_fan_in_and_fan_out(t);
  if (mode == "fan_in") return f.first;
  if (mode == "fan_out") return f.second;
  detail::fail("init: mode must be 'fan_in' or 'fan_out', not '" + mode + "'");
}
inline Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                                const std::string& nonlinearity = "leaky_relu") {
  const double bound =
      std::sqrt(3.0) * calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  return uniform_(t, -bound, bound);
}
inline Tensor& kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                               const std::string& nonlinearity = "leaky_relu") {
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode))));
}

}  // namespace init

// ===========================================================================
// Module
// ===========================================================================
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;
  virtual ~Module() = default;

  // One input, one output (losses and multi-input models define their own calls).
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }
  // The class name shown in messages ("Linear", "Sequential", ...).
  virtual std::string name() const = 0;

  // ---- registration (call from constructors) ----
  // The parameter becomes a leaf with requires_grad.
  Tensor& register_parameter(const std::string& n, Tensor t, bool requires_grad = true) {
    Tensor leaf = t.detach();
    leaf.requires_grad_(requires_grad);
    params_.emplace_back(n, std::move(leaf));
    return params_.back().second;
  }
  // An undefined buffer is allowed (it is then left out of state dicts).
  Tensor& register_buffer(const std::string& n, Tensor t) {
    buffers_.emplace_back(n, std::move(t));
    return buffers_.back().second;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& n, std::shared_ptr<M> m) {
    if (!m) detail::fail(name() + ": register_module('" + n + "') got a null module");
    children_.emplace_back(n, m);
    return m;
  }

  // ---- access ----
  NamedTensors named_parameters(bool recurse = true) const {
    NamedTensors out;
    collect(out, "", recurse, true);
    return out;
  }
  NamedTensors named_buffers(bool recurse = true) const {
    NamedTensors out;
    collect(out, "", recurse, false);
    return out;
  }
  std::vector<Tensor> parameters(bool recurse = true) const {
    std::vector<Tensor> out;
    for (auto& kv : named_parameters(recurse)) out.push_back(kv.second);
    return out;
  }
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // The parameter or buffer called `n` (a dotted path such as "fc1.weight").
  Tensor& at(const std::string& n) {
    const size_t dot = n.find('.');
    if (dot != std::string::npos) {
      const std::string head = n.substr(0, dot);
      for (auto& c : children_)
        if (c.first == head) return c.second->at(n.substr(dot + 1));
    } else {
      for (auto& p : params_)
        if (p.first == n) return p.second;
      for (auto& b : buffers_)
        if (b.first == n) return b.second;
    }
    detail::fail(name() + ": no parameter or buffer named '" + n + "'");
  }

  // ---- modes, devices, traversal ----
  virtual void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.second->train(on);
  }
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }

  void to(const Device& device) {
    for (auto& p : params_) {
      if (!p.second.defined() || p.second.device() == device) continue;
      const bool rg = p.second.requires_grad();
      Tensor moved = p.second.detach().to(device);
      moved.requires_grad_(rg);
      p.second = moved;
    }
    for (auto& b : buffers_)
      if (b.second.defined() && b.second.device() != device) b.second = b.second.to(device);
    for (auto& c : children_) c.second->to(device);
  }
  // Calls fn on every module of the tree, children first (torch's apply).
  void apply(const std::function<void(Module&)>& fn) {
    for (auto& c : children_) c.second->apply(fn);
    fn(*this);
  }
  void zero_grad(bool set_to_none = true) {
    for (Tensor& p : parameters()) p.zero_grad(set_to_none);
  }
  int64_t num_parameters() const {
    int64_t n = 0;
    for (const Tensor& p : parameters()) n += p.numel();
    return n;
  }

  // ---- state dicts (parameters then buffers, torch's names) ----
  TensorMap state_dict() const {
    TensorMap out;
    for (auto& kv : named_parameters()) out[kv.first] = kv.second.detach();
    for (auto& kv : named_buffers()) out[kv.first] = kv.second;
    return out;
  }
  // Copies values into the existing tensors (shapes must match; dtypes and
  // devices are converted). strict: every key present and no extra keys.
  void load_state_dict(const TensorMap& sd, bool strict = true) {
    NoGradGuard no_grad;
    size_t used = 0;
    auto load = [&](NamedTensors entries) {
      for (auto& kv : entries) {
        auto it = sd.find(kv.first);
        if (it == sd.end()) {
          if (strict) detail::fail(name() + ".load_state_dict: missing key '" + kv.first + "'");
          continue;
        }
        ++used;
        if (it->second.sizes() != kv.second.sizes()) {
          detail::fail(name() + ".load_state_dict: size mismatch for '" + kv.first +
                       "': the checkpoint has " + shape_string(it->second.sizes()) + ", the model " +
                       shape_string(kv.second.sizes()));
        }
        Tensor dst = kv.second;
        dst.copy_(it->second.to(kv.second.device()).to(kv.second.dtype()));
      }
    };
    load(named_parameters());
    load(named_buffers());
    if (strict && used != sd.size()) {
      for (auto& kv : sd) {
        bool known = false;
        for (auto& p : named_parameters()) known = known || p.first == kv.first;
        for (auto& b : named_buffers()) known = known || b.first == kv.first;
        if (!known) detail::fail(name() + ".load_state_dict: unexpected key '" + kv.first + "'");
      }
    }
  }
  void save(const std::string& path, const StringMap& metadata = StringMap()) const {
    save_safetensors(path, state_dict(), metadata);
  }
  // Loads a safetensors file (e.g. written by PyTorch's safetensors) into this model.
  void load(const std::string& path, bool strict = true) {
    load_state_dict(load_safetensors(path, Device()), strict);
  }

 protected:
  bool training_ = true;

 private:
  void collect(NamedTensors& out, const std::string& prefix, bool recurse, bool params) const {
    for (auto& kv : params ? params_ : buffers_)
      if (kv.second.defined()) out.emplace_back(prefix + kv.first, kv.second);
    if (!recurse) return;
    for (auto& c : children_) c.second->collect(out, prefix + c.first + ".", true, params);
  }

  // deques: registration returns references that later registrations keep valid.
  std::deque<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

namespace F = ::prism::nn::functional;

// ===========================================================================
// Layers
// ===========================================================================

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool with_bias = true, Dtype dtype = kFloat32)
      : in_(in_features), out_(out_features) {
    if (in_features <= 0 || out_features <= 0) {
      detail::fail("Linear: in_features and out_features must be positive (got " +
                   std::to_string(in_features) + ", " + std::to_string(out_features) + ")");
    }
    Tensor w = Tensor::empty({out_features, in_features}, dtype);
    init::kaiming_uniform_(w, std::sqrt(5.0));
    weight = &register_parameter("weight", w);
    if (with_bias) {
      Tensor b = Tensor::empty({out_features}, dtype);
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
      init::uniform_(b, -bound, bound);
      this->bias = &register_parameter("bias", b);
    }
  }
  Tensor forward(const Tensor& x) override { return F::linear(x, *weight, bias ? *bias : Tensor()); }
  std::string name() const override { return "Linear"; }
  int64_t in_features() const noexcept { return in_; }
  int64_t out_features() const noexcept { return out_; }
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;

 private:
  int64_t in_, out_;
};

// torch.nn.Conv2d's string padding: Conv2d(in, out, k, 1, nn::Padding::kSame).
enum class Padding { kValid, kSame };

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntList kernel_size, IntList stride = 1,
         IntList padding = 0, IntList dilation = 1, int64_t groups = 1, bool with_bias = true,
         Dtype dtype = kFloat32)
      : stride_(std::move(stride)),
        padding_(std::move(padding)),
        dilation_(std::move(dilation)),
        groups_(groups) {
    if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0) {
      detail::fail("Conv2d: in_channels (" + std::to_string(in_channels) + ") and out_channels (" +
                   std::to_string(out_channels) + ") must be divisible by groups (" + std::to_string(groups) +
                   ")");
    }
    const auto& k = kernel_size.vec();
    if (k.empty() || k.size() > 2) detail::fail("Conv2d: kernel_size takes 1 or 2 values");
    Tensor w = Tensor::empty({out_channels, in_channels / groups, k[0], k[k.size() - 1]}, dtype);
    init::kaiming_uniform_(w, std::sqrt(5.0));
    weight = &register_parameter("weight", w);
    if (with_bias) {
      Tensor b = Tensor::empty({out_channels}, dtype);
      const double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(w).first));
      init::uniform_(b, -bound, bound);
      this->bias = &register_parameter("bias", b);
    }
  }
  // padding "valid" / "same" (stride 1; the odd element of even kernels on the right / bottom).
  Conv2d(int64_t in_channels, int64_t out_channels, IntList kernel_size, IntList stride, Padding padding,
         IntList dilation = 1, int64_t groups = 1, bool with_bias = true, Dtype dtype = kFloat32)
      : Conv2d(in_channels, out_channels, std::move(kernel_size), std::move(stride), 0, std::move(dilation),
               groups, with_bias, dtype) {
    mode_ = padding == Padding::kSame ? "same" : "valid";
  }
  Tensor forward(const Tensor& x) override {
    if (!mode_.empty())
      return F::conv2d(x, *weight, bias ? *bias : Tensor(), stride_, mode_, dilation_, groups_);
    return F::conv2d(x, *weight, bias ? *bias : Tensor(), stride_, padding_, dilation_, groups_);
  }
  std::string name() const override { return "Conv2d"; }
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;

 private:
  IntList stride_, padding_, dilation_;
  int64_t groups_;
  std::string mode_;  // "same" / "valid" when built with a Padding, else empty (padding_ applies)
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(IntList kernel_size, IntList stride = IntList(), IntList padding = 0)
      : k_(std::move(kernel_size)), s_(std::move(stride)), p_(std::move(padding)) {}
  Tensor forward(const Tensor& x) override { return F::max_pool2d(x, k_, s_, p_); }
  std::string name() const override { return "MaxPool2d"; }

 private:
  IntList k_, s_, p_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(IntList kernel_size, IntList stride = IntList(), IntList padding = 0,
                     bool count_include_pad = true)
      : k_(std::move(kernel_size)), s_(std::move(stride)), p_(std::move(padding)), cip_(count_include_pad) {}
  Tensor forward(const Tensor& x) override { return F::avg_pool2d(x, k_, s_, p_, cip_); }
  std::string name() const override { return "AvgPool2d"; }

 private:
  IntList k_, s_, p_;
  bool cip_;
};

// Activations.
#define PRISM_NN_ACTIVATION(Class, method)                          \
  class Class : public Module {                                     \
   public:                                                          \
    Tensor forward(const Tensor& x) override { return x.method(); } \
    std::string name() const override { return #Class; }            \
  };
PRISM_NN_ACTIVATION(ReLU, relu)
PRISM_NN_ACTIVATION(GELU, gelu)
PRISM_NN_ACTIVATION(SiLU, silu)
PRISM_NN_ACTIVATION(Tanh, tanh)
PRISM_NN_ACTIVATION(Sigmoid, sigmoid)
#undef PRISM_NN_ACTIVATION

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : p_(p) {
    if (!(p >= 0.0 && p <= 1.0)) {
      detail::fail("Dropout: probability has to be between 0 and 1, but got " + std::to_string(p));
    }
  }
  Tensor forward(const Tensor& x) override { return F::dropout(x, p_, training_); }
  std::string name() const override { return "Dropout"; }

 private:
  double p_;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_, end_); }
  std::string name() const override { return "Flatten"; }

 private:
  int64_t start_, end_;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            Dtype dtype = kFloat32)
      : padding_idx_(padding_idx) {
    Tensor w = Tensor::empty({num_embeddings, embedding_dim}, dtype);
    init::normal_(w);
    if (padding_idx) {
      int64_t p = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
      if (p < 0 || p >= num_embeddings) detail::fail("Embedding: padding_idx must be within num_embeddings");
      padding_idx_ = p;
      NoGradGuard no_grad;
      w.select(0, p).zero_();
    }
    weight = &register_parameter("weight", w);
  }
  Tensor forward(const Tensor& indices) override { return embedding(*weight, indices, padding_idx_); }
  std::string name() const override { return "Embedding"; }
  Tensor* weight = nullptr;

 private:
  std::optional<int64_t> padding_idx_;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(IntList normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     Dtype dtype = kFloat32)
      : shape_(std::move(normalized_shape)), eps_(eps) {
    if (elementwise_affine) {
      weight = &register_parameter("weight", Tensor::ones(shape_, dtype));
      bias = &register_parameter("bias", Tensor::zeros(shape_, dtype));
    }
  }
  Tensor forward(const Tensor& x) override {
    return F::layer_norm(x, shape_, weight ? *weight : Tensor(), bias ? *bias : Tensor(), eps_);
  }
  std::string name() const override { return "LayerNorm"; }
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;

 private:
  IntList shape_;
  double eps_;
};

// BatchNorm1d ((N, C) or (N, C, L)) and BatchNorm2d ((N, C, H, W)). The
// state dict carries running_mean, running_var and num_batches_tracked, as
// torch's does; momentum is used as given (no cumulative average).
class BatchNormBase : public Module {
 public:
  BatchNormBase(int64_t num_features, double eps, double momentum, bool affine, bool track_running_stats,
                Dtype dtype)
      : eps_(eps), momentum_(momentum) {
    if (affine) {
      weight = &register_parameter("weight", Tensor::ones({num_features}, dtype));
      bias = &register_parameter("bias", Tensor::zeros({num_features}, dtype));
    }
    if (track_running_stats) {
      running_mean = &register_buffer("running_mean", Tensor::zeros({num_features}, dtype));
      running_var = &register_buffer("running_var", Tensor::ones({num_features}, dtype));
      num_batches_tracked = &register_buffer("num_batches_tracked", Tensor::zeros({}, kInt64));
    }
  }
  Tensor forward(const Tensor& x) override {
    check_input(x);
    const bool use_batch = training_ || running_mean == nullptr;
    if (training_ && num_batches_tracked != nullptr) num_batches_tracked->add_(1);
    return F::batch_norm(x, running_mean ? *running_mean : Tensor(), running_var ? *running_var : Tensor(),
                         weight ? *weight : Tensor(), bias ? *bias : Tensor(), use_batch, momentum_, eps_);
  }
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;
  Tensor* running_mean = nullptr;
  Tensor* running_var = nullptr;
  Tensor* num_batches_tracked = nullptr;

 protected:
  virtual void check_input(const Tensor& x) const = 0;

 private:
  double eps_, momentum_;
};

class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, Dtype dtype = kFloat32)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats, dtype) {}
  std::string name() const override { return "BatchNorm1d"; }

 protected:
  void check_input(const Tensor& x) const override {
    if (x.dim() != 2 && x.dim() != 3) {
      detail::fail("BatchNorm1d: expected 2D or 3D input (got " + std::to_string(x.dim()) + "D input)");
    }
  }
};

class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, Dtype dtype = kFloat32)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats, dtype) {}
  std::string name() const override { return "BatchNorm2d"; }

 protected:
  void check_input(const Tensor& x) const override {
    if (x.dim() != 4)
      detail::fail("BatchNorm2d: expected 4D input (got " + std::to_string(x.dim()) + "D input)");
  }
};

// Runs its children in order; children are named "0", "1", ... as in torch.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
    for (const auto& m : modules) push_back(m);
  }
  Sequential& push_back(std::shared_ptr<Module> m) {
    register_module(std::to_string(size_++), std::move(m));
    return *this;
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (auto& c : named_children()) h = c.second->forward(h);
    return h;
  }
  std::string name() const override { return "Sequential"; }
  size_t size() const noexcept { return size_; }
  std::shared_ptr<Module> operator[](size_t i) const {
    if (i >= size_)
      detail::fail("Sequential: index " + std::to_string(i) + " is out of range for size " +
                   std::to_string(size_));
    return named_children()[i].second;
  }

 private:
  size_t size_ = 0;
};

// Holds modules (named "0", "1", ...) without a forward of its own.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  ModuleList& push_back(std::shared_ptr<Module> m) {
    register_module(std::to_string(size_++), std::move(m));
    return *this;
  }
  Tensor forward(const Tensor&) override { detail::fail("ModuleList: has no forward(); call its modules"); }
  std::string name() const override { return "ModuleList"; }
  size_t size() const noexcept { return size_; }
  std::shared_ptr<Module> operator[](size_t i) const {
    if (i >= size_)
      detail::fail("ModuleList: index " + std::to_string(i) + " is out of range for size " +
                   std::to_string(size_));
    return named_children()[i].second;
  }

 private:
  size_t size_ = 0;
};

// ===========================================================================
// Data-parallel training across processes (prism::distributed)
// ===========================================================================

// Note [DistributedDataParallel]
// ------------------------------
// As torch.nn.parallel.DistributedDataParallel, over prism::distributed:
// - Construction checks that every rank holds the same parameters (count,
//   shapes, dtypes), failing on every rank with a message naming the first
//   difference, then broadcasts parameters and buffers from rank 0.
// - Gradients are averaged over the ranks in buckets: parameters, in reverse
//   registration order (roughly the order backward produces their
//   gradients), are packed into flat buckets of about bucket_cap_mb (the
//   first about first_bucket_mb so communication starts early). A gradient
//   hook on each parameter copies its gradient (plus any gradient already
//   accumulated in .grad, so no_sync() accumulation is synchronised too) into
//   its bucket slot; a bucket whose slots are all filled starts an async
//   all-reduce (avg) at once, in bucket order on every rank, while backward
//   goes on with the remaining layers: communication overlaps backward.
// - The hook of the last parameter to receive its gradient waits for every
//   bucket and writes the averaged values into every .grad (it sets its own
//   parameter's .grad and hands the engine a zero gradient to add), so after
//   loss.backward() returns, .grad holds the average on every rank and the
//   values are bitwise equal across ranks.
// - no_sync() (a guard): backward only accumulates locally; the next
//   synchronised backward averages the accumulated gradients.
// - Every parameter that requires grad must receive a gradient in each
//   synchronised backward (torch's find_unused_parameters=false); forward()
//   refuses to start when the previous backward left some without one.
// - World size 1 registers no gradient hooks: the average over one rank is
//   the gradient itself, so backward runs exactly as without DDP (nothing is
//   copied, sent or called per gradient).
class DistributedDataParallel : public Module {
 public:
  struct Options {
    double bucket_cap_mb = 25.0;
    double first_bucket_mb = 1.0;
    bool broadcast_buffers = true;  // buffers (e.g. BatchNorm statistics) from rank 0 at every forward
    distributed::ProcessGroup group = distributed::ProcessGroup();
  };

  explicit DistributedDataParallel(std::shared_ptr<Module> module)
      : DistributedDataParallel(std::move(module), Options()) {}
  DistributedDataParallel(std::shared_ptr<Module> module, Options options) : o_(std::move(options)) {
    if (!module) detail::fail("DistributedDataParallel: module is null");
    module_ = register_module("module", std::move(module));
    size_ = o_.group.size();
    rank_ = o_.group.rank();
    for (auto& kv : module_->named_parameters())
      if (kv.second.requires_grad()) params_.push_back(kv);
    check_same_parameters();
    {
      NoGradGuard ng;
      for (auto& kv : module_->named_parameters()) distributed::broadcast(kv.second, 0, o_.group);
      for (auto& kv : module_->named_buffers())
        if (kv.second.defined()) distributed::broadcast(kv.second, 0, o_.group);
    }
    build_buckets();
    if (size_ == 1) return;  // no hooks: the average over one rank is the gradient itself
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor p = params_[i].second;
      hooks_.emplace_back(p, p.register_hook([this, i](const Tensor& g) { return on_grad(i, g); }));
    }
  }
  ~DistributedDataParallel() override {
    for (auto& h : hooks_) {
      try {
        h.first.remove_hook(h.second);
      } catch (...) {  // a destructor never throws
      }
    }
  }

  Tensor forward(const Tensor& input) override {
    if (pending_ != 0 && pending_ != params_.size()) {
      std::string missing;
      for (size_t i = 0; i < params_.size(); ++i)
        if (!ready_[i]) missing += (missing.empty() ? "" : ", ") + params_[i].first;
      detail::fail("DistributedDataParallel: the previous backward produced no gradient for parameter(s) " +
                   missing + "; every parameter that requires grad must take part in the loss");
    }
    reset_round();
    if (o_.broadcast_buffers && size_ > 1) {
      NoGradGuard ng;
      for (auto& kv : module_->named_buffers())
        if (kv.second.defined()) distributed::broadcast(kv.second, 0, o_.group);
    }
    return module_->forward(input);
  }
  std::string name() const override { return "DistributedDataParallel"; }
  Module& module() { return *module_; }
  std::shared_ptr<Module> module_ptr() const { return module_; }
  size_t bucket_count() const { return buckets_.size(); }
  // Elements per bucket, in launch order.
  std::vector<int64_t> bucket_numels() const {
    std::vector<int64_t> out;
    for (const Bucket& b : buckets_) out.push_back(b.flat.numel());
    return out;
  }

  // Disables gradient synchronisation while alive (gradient accumulation).
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& d) : d_(d), prev_(d.sync_) { d_.sync_ = false; }
    ~NoSyncGuard() { d_.sync_ = prev_; }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& d_;
    bool prev_;
  };
  NoSyncGuard no_sync() { return NoSyncGuard(*this); }

 private:
  struct Bucket {
    Tensor flat;                 // 1-d, the parameters' dtype and device
    std::vector<size_t> params;  // indices into params_
    size_t filled = 0;
    distributed::Work work;
    bool launched = false;
  };

  void check_same_parameters() {
    // (count, total elements, a hash of every shape and dtype), then the
    // per-parameter element counts to name the first difference.
    std::vector<int64_t> sig = {static_cast<int64_t>(params_.size()), 0, 1469598103934665603LL};
    std::vector<int64_t> numels;
    for (auto& kv : params_) {
      int64_t n = kv.second.numel();
      numels.push_back(n);
      sig[1] += n;
      auto mix = [&](int64_t v) {  // FNV-1a step in unsigned arithmetic (wraps, no overflow)
        uint64_t h = (static_cast<uint64_t>(sig[2]) ^ static_cast<uint64_t>(v)) * 1099511628211ULL;
        sig[2] = static_cast<int64_t>(h);
      };
      mix(static_cast<int64_t>(kv.second.dtype()));
      for (int64_t d : kv.second.sizes()) mix(d);
      mix(-1);
    }
    if (size_ == 1) return;
    Tensor mine = Tensor::from_data(sig.data(), {3}, kInt64);
    Tensor all = zeros({3 * static_cast<int64_t>(size_)}, kInt64);
    distributed::all_gather(all, mine, o_.group);
    std::vector<int64_t> got = all.to_vector<int64_t>();
    for (int32_t r = 0; r < size_; ++r) {
      const int64_t* o = &got[static_cast<size_t>(r) * 3];
      if (o[0] == sig[0] && o[1] == sig[1] && o[2] == sig[2]) continue;
      std::string why = "rank " + std::to_string(rank_) + " has " + std::to_string(sig[0]) + " parameters (" +
                        std::to_string(sig[1]) + " elements) but rank " + std::to_string(r) + " has " +
                        std::to_string(o[0]) + " (" + std::to_string(o[1]) + " elements)";
      if (o[0] == sig[0] && o[1] == sig[1]) why += ", with different shapes or dtypes";
      detail::fail("DistributedDataParallel: the model differs across ranks: " + why +
                   "; every rank must build the same model");
    }
  }

  void build_buckets() {
    ready_.assign(params_.size(), false);
    slot_.assign(params_.size(), {0, 0});
    const double cap0 = o_.first_bucket_mb * 1048576.0, cap = o_.bucket_cap_mb * 1048576.0;
    std::vector<size_t> cur;
    double bytes = 0;
    auto close = [&] {
      if (cur.empty()) return;
      Bucket b;
      int64_t total = 0;
      for (size_t i : cur) {
        slot_[i] = {buckets_.size(), total};
        total += params_[i].second.numel();
      }
      const Tensor& p0 = params_[cur[0]].second;
      b.flat = zeros({total}, p0.dtype(), p0.device());
      b.params = cur;
      buckets_.push_back(std::move(b));
      cur.clear();
      bytes = 0;
    };
    for (size_t k = params_.size(); k-- > 0;) {
      const Tensor& p = params_[k].second;
      if (!cur.empty()) {
        const Tensor& q = params_[cur[0]].second;
        if (q.dtype() != p.dtype() || q.device().str() != p.device().str()) close();
      }
      cur.push_back(k);
      bytes += static_cast<double>(p.numel()) * static_cast<double>(element_size(p.dtype()));
      if (bytes >= (buckets_.empty() ? cap0 : cap)) close();
    }
    close();
    reset_round();
  }

  void reset_round() {
    pending_ = params_.size();
    std::fill(ready_.begin(), ready_.end(), false);
    next_launch_ = 0;
    for (Bucket& b : buckets_) {
      b.filled = 0;
      b.launched = false;
    }
  }

  Tensor on_grad(size_t i, const Tensor& g) {
    if (!sync_ || ready_[i] || size_ == 1) return Tensor();  // the average over one rank is the gradient
    NoGradGuard ng;
    const Tensor& p = params_[i].second;
    Bucket& b = buckets_[slot_[i].first];
    Tensor dst = b.flat.narrow(0, slot_[i].second, p.numel()).view(p.sizes());
    Tensor acc = p.grad();
    if (acc.defined()) {
      dst.copy_(acc);
      dst.add_(g);
    } else {
      dst.copy_(g);
    }
    ready_[i] = true;
    ++b.filled;
    --pending_;
    launch_ready();
    if (pending_ > 0) return Tensor();
    // The last gradient of this backward: wait and write every average.
    for (Bucket& bk : buckets_) bk.work.wait();
    for (size_t k = 0; k < params_.size(); ++k) {
      Tensor pk = params_[k].second;
      Tensor v = buckets_[slot_[k].first].flat.narrow(0, slot_[k].second, pk.numel()).view(pk.sizes());
      Tensor gk = pk.grad();
      if (k != i && gk.defined()) {
        gk.copy_(v);
      } else {
        pk.set_grad(v.clone());
      }
    }
    pending_ = 0;
    return zeros_like(g);
  }

  // Starts, in bucket order, every bucket whose slots are all filled.
  void launch_ready() {
    while (next_launch_ < buckets_.size() &&
           buckets_[next_launch_].filled == buckets_[next_launch_].params.size()) {
      Bucket& b = buckets_[next_launch_++];
      if (size_ > 1) b.work = distributed::all_reduce(b.flat, distributed::ReduceOp::Avg, o_.group, true);
      b.launched = true;
    }
  }

  Options o_;
  std::shared_ptr<Module> module_;
  int32_t size_ = 1, rank_ = 0;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<Tensor, int32_t>> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, int64_t>> slot_;  // (bucket, offset) of each parameter
  std::vector<bool> ready_;
  size_t pending_ = 0, next_launch_ = 0;
  bool sync_ = true;
};

// Rank-0-only checkpoints: rank 0 writes, then every rank waits at a barrier
// (so a rank that reads the file next finds it complete).
inline void save_on_rank0(const Module& m, const std::string& path, const StringMap& metadata = StringMap(),
                          const distributed::ProcessGroup& group = distributed::ProcessGroup()) {
  const Module* target = &m;
  if (auto* ddp = dynamic_cast<const DistributedDataParallel*>(&m)) target = ddp->module_ptr().get();
  if (!distributed::is_initialized() || group.rank() == 0) target->save(path, metadata);
  if (distributed::is_initialized()) distributed::barrier(group);
}

// ===========================================================================
// Losses: callables of (input, target), torch.nn's defaults.
// ===========================================================================

class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(Tensor weight = Tensor(), int64_t ignore_index = PRISM_IGNORE_INDEX_DEFAULT,
                            double label_smoothing = 0.0, F::Reduction reduction = F::Reduction::kMean)
      : weight_(std::move(weight)),
        ignore_(ignore_index),
        smoothing_(label_smoothing),
        reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::cross_entropy(input, target, weight_, ignore_, smoothing_, reduction_);
  }

 private:
  Tensor weight_;
  int64_t ignore_;
  double smoothing_;
  F::Reduction reduction_;
};

class BCEWithLogitsLoss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Tensor pos_weight = Tensor(),
                             F::Reduction reduction = F::Reduction::kMean)
      : weight_(std::move(weight)), pos_weight_(std::move(pos_weight)), reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::binary_cross_entropy_with_logits(input, target, weight_, pos_weight_, reduction_);
  }

 private:
  Tensor weight_, pos_weight_;
  F::Reduction reduction_;
};

class MSELoss {
 public:
  explicit MSELoss(F::Reduction reduction = F::Reduction::kMean) : reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::mse_loss(input, target, reduction_);
  }

 private:
  F::Reduction reduction_;
};

class L1Loss {
 public:
  explicit L1Loss(F::Reduction reduction = F::Reduction::kMean) : reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::l1_loss(input, target, reduction_);
  }

 private:
  F::Reduction reduction_;
};

class HuberLoss {
 public:
  explicit HuberLoss(F::Reduction reduction = F::Reduction::kMean, double delta = 1.0)
      : reduction_(reduction), delta_(delta) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::huber_loss(input, target, reduction_, delta_);
  }

 private:
  F::Reduction reduction_;
  double delta_;
};

// ===========================================================================
// Utilities
// ===========================================================================

// torch.nn.utils.clip_grad_norm_: scales every gradient in place so that their
// joint norm is at most max_norm; returns the norm before clipping. Parameters
// without a gradient are skipped. norm_type: a p >= 1 or INFINITY.
inline double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0) {
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return 0.0;
  double total = 0.0;
  if (std::isinf(norm_type)) {
    for (const Tensor& g : grads) total = std::max(total, g.abs().amax().to(kFloat64).item<double>());
  } else {
    for (const Tensor& g : grads) total += std::pow(g.norm(norm_type).to(kFloat64).item<double>(), norm_type);
    total = std::pow(total, 1.0 / norm_type);
  }
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (Tensor& g : grads) g.mul_(coef);
  return total;
}

// ===========================================================================
// Attention and transformer layers, BCELoss, checkpoint_sequential
// ===========================================================================

// Note [MultiheadAttention]
// -------------------------
// As torch.nn.MultiheadAttention (kdim = vdim = embed_dim, no bias_k /
// add_zero_attn): parameters in_proj_weight (3E, E), in_proj_bias (3E) and
// out_proj (Linear), initialised as torch does (xavier_uniform_ on
// in_proj_weight, zero biases, Linear's init for out_proj.weight), so state
// dicts move between the two. Inputs are (L, N, E), or (N, L, E) with
// batch_first, or unbatched (L, E). Masks follow the module's convention:
// a bool attn_mask / key_padding_mask marks the positions NOT allowed to
// attend (true -> -inf), a float mask is added; attn_mask is (L, S) or
// (N * num_heads, L, S), key_padding_mask (N, S) (or (S) unbatched). The
// attention weights returned with need_weights are those used for the output
// (after dropout), averaged over the heads unless average_attn_weights is
// false. Without need_weights the heads go through
// F::scaled_dot_product_attention.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool batch_first = false, Dtype dtype = kFloat32)
      : embed_dim_(embed_dim), num_heads_(num_heads), dropout_(dropout), batch_first_(batch_first) {
    if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads != 0) {
      detail::fail("MultiheadAttention: embed_dim (" + std::to_string(embed_dim) +
                   ") must be positive and divisible by num_heads (" + std::to_string(num_heads) + ")");
    }
    if (!(dropout >= 0.0 && dropout < 1.0))
      detail::fail("MultiheadAttention: dropout must be in [0, 1), got " + std::to_string(dropout));
    Tensor w = Tensor::empty({3 * embed_dim, embed_dim}, dtype);
    init::xavier_uniform_(w);
    in_proj_weight = &register_parameter("in_proj_weight", w);
    if (bias) in_proj_bias = &register_parameter("in_proj_bias", Tensor::zeros({3 * embed_dim}, dtype));
    out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias, dtype));
    if (bias) {
      NoGradGuard no_grad;
      out_proj->bias->zero_();
    }
  }

  // Self-attention without masks; the output only.
  Tensor forward(const Tensor& x) override { return forward(x, x, x, Tensor(), false).first; }

  // (output, weights): output as the query's layout; weights (N, L, S) or
  // (N, num_heads, L, S), undefined when need_weights is false.
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                    const Tensor& attn_mask = Tensor(), bool average_attn_weights = true) {
    const bool batched = query.dim() == 3;
    if (!batched && query.dim() != 2) {
      detail::fail("MultiheadAttention: query should be unbatched 2D or batched 3D, got " +
                   shape_string(query.sizes()));
    }
    if (key.dim() != query.dim() || value.dim() != query.dim()) {
      detail::fail("MultiheadAttention: query " + shape_string(query.sizes()) + ", key " +
                   shape_string(key.sizes()) + " and value " + shape_string(value.sizes()) +
                   " must have the same number of dims");
    }
    // To (N, L, E).
    auto to_nle = [&](const Tensor& t) {
      if (!batched) return t.unsqueeze(0);
      return batch_first_ ? t : t.transpose(0, 1);
    };
    Tensor q = to_nle(query), k = to_nle(key), v = to_nle(value);
    const int64_t E = embed_dim_, H = num_heads_, hd = E / H;
    const int64_t N = q.size(0), L = q.size(1), S = k.size(1);
    if (q.size(2) != E || k.size(2) != E || v.size(2) != E) {
      detail::fail("MultiheadAttention: expected query, key and value with embed_dim " + std::to_string(E) +
                   ", got " + shape_string(query.sizes()) + ", " + shape_string(key.sizes()) + ", " +
                   shape_string(value.sizes()));
    }
    if (k.size(0) != N || v.size(0) != N || v.size(1) != S) {
      detail::fail("MultiheadAttention: key " + shape_string(key.sizes()) + " and value " +
                   shape_string(value.sizes()) + " do not match query " + shape_string(query.sizes()));
    }
    auto proj = [&](const Tensor& t, int64_t i) {
      Tensor w = in_proj_weight->narrow(0, i * E, E);
      Tensor b = in_proj_bias ? in_proj_bias->narrow(0, i * E, E) : Tensor();
      return F::linear(t, w, b).reshape({N, -1, H, hd}).transpose(1, 2);  // (N, H, L|S, hd)
    };
    Tensor qh = proj(q, 0), kh = proj(k, 1), vh = proj(v, 2);
    Tensor mask = merged_mask(attn_mask, key_padding_mask, batched, N, L, S, qh.dtype(), qh.device());
    const double p = training_ ? dropout_ : 0.0;
    Tensor o, weights;
    if (need_weights) {
      Tensor scores = (qh * (1.0 / std::sqrt(static_cast<double>(hd)))).matmul(kh.transpose(-2, -1));
      if (mask.defined()) scores = scores + mask;
      weights = F::dropout(F::softmax(scores, -1), p, p > 0.0);
      o = weights.matmul(vh);
      if (average_attn_weights) weights = mean(weights, {1});
      if (!batched) weights = weights.squeeze(0);
    } else {
      o = F::scaled_dot_product_attention(qh, kh, vh, mask, p);
    }
    o = (*out_proj)(o.transpose(1, 2).reshape({N, L, E}));
    if (!batched) {
      o = o.squeeze(0);
    } else if (!batch_first_) {
      o = o.transpose(0, 1);
    }
    return {o, weights};
  }
  std::string name() const override { return "MultiheadAttention"; }
  int64_t embed_dim() const noexcept { return embed_dim_; }
  int64_t num_heads() const noexcept { return num_heads_; }
  bool batch_first() const noexcept { return batch_first_; }

  Tensor* in_proj_weight = nullptr;
  Tensor* in_proj_bias = nullptr;
  std::shared_ptr<Linear> out_proj;

 private:
  // A bool mask (true = masked) as 0 / -inf in dtype `dt`; a float mask as it is.
  static Tensor additive(const Tensor& m, Dtype dt) {
    if (m.dtype() == kBool) return zeros(m.sizes(), dt, m.device()).masked_fill(m, -INFINITY);
    return m.to(dt);
  }
  // attn_mask and key_padding_mask as one additive mask broadcasting to (N, H, L, S).
  Tensor merged_mask(const Tensor& attn_mask, const Tensor& kpm, bool batched, int64_t N, int64_t L,
                     int64_t S, Dtype dt, const Device& dev) const {
    (void)dev;
    Tensor m;
    if (attn_mask.defined()) {
      Tensor a = additive(attn_mask, dt);
      if (a.dim() == 2) {
        if (a.size(0) != L || a.size(1) != S)
          detail::fail("MultiheadAttention: the shape of the 2D attn_mask is " + shape_string(a.sizes()) +
                       ", but should be " + shape_string({L, S}));
      } else if (a.dim() == 3) {
        if (a.size(0) != N * num_heads_ || a.size(1) != L || a.size(2) != S)
          detail::fail("MultiheadAttention: the shape of the 3D attn_mask is " + shape_string(a.sizes()) +
                       ", but should be " + shape_string({N * num_heads_, L, S}));
        a = a.reshape({N, num_heads_, L, S});
      } else {
        detail::fail("MultiheadAttention: attn_mask's dimension " + std::to_string(a.dim()) +
                     " is not supported (2D or 3D)");
      }
      m = a;
    }
    if (kpm.defined()) {
      Tensor k = additive(kpm, dt);
      const IntList want = batched ? IntList{N, S} : IntList{S};
      if (k.sizes() != want.vec())
        detail::fail("MultiheadAttention: expected key_padding_mask of shape " + shape_string(want.vec()) +
                     ", got " + shape_string(k.sizes()));
      k = k.reshape({N, 1, 1, S});
      m = m.defined() ? m + k : k;
    }
    return m;
  }

  int64_t embed_dim_, num_heads_;
  double dropout_;
  bool batch_first_;
};

// A float (sz, sz) mask with -inf above the diagonal and 0 elsewhere
// (torch.nn.Transformer.generate_square_subsequent_mask).
inline Tensor generate_square_subsequent_mask(int64_t sz, Dtype dtype = kFloat32,
                                              const Device& device = Device()) {
  return full({sz, sz}, -INFINITY, dtype, device).triu(1);
}

// Note [TransformerEncoderLayer]
// ------------------------------
// As torch.nn.TransformerEncoderLayer: self_attn (MultiheadAttention),
// linear1 -> activation -> dropout -> linear2, norm1 / norm2 (LayerNorm with
// layer_norm_eps), dropout1 / dropout2, activation "relu" or "gelu" (exact),
// norm_first choosing pre-norm (x + sa(norm1(x)); x + ff(norm2(x))) or
// post-norm (norm1(x + sa(x)); norm2(x + ff(x))). Parameter names match
// torch's, so a state dict loads either way. forward(src, src_mask,
// src_key_padding_mask, is_causal): is_causal without src_mask builds the
// square subsequent mask.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048,
                          double dropout_p = 0.1, const std::string& activation = "relu",
                          double layer_norm_eps = 1e-5, bool batch_first = false, bool norm_first = false,
                          Dtype dtype = kFloat32)
      : activation_(activation), norm_first_(norm_first), batch_first_(batch_first) {
    if (activation != "relu" && activation != "gelu")
      detail::fail("TransformerEncoderLayer: activation should be relu/gelu, not " + activation);
    self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, dropout_p,
                                                                                  true, batch_first, dtype));
    linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, true, dtype));
    dropout = register_module("dropout", std::make_shared<Dropout>(dropout_p));
    linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, true, dtype));
    norm1 =
        register_module("norm1", std::make_shared<LayerNorm>(IntList{d_model}, layer_norm_eps, true, dtype));
    norm2 =
        register_module("norm2", std::make_shared<LayerNorm>(IntList{d_model}, layer_norm_eps, true, dtype));
    dropout1 = register_module("dropout1", std::make_shared<Dropout>(dropout_p));
    dropout2 = register_module("dropout2", std::make_shared<Dropout>(dropout_p));
  }
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false) {
    Tensor mask = src_mask;
    if (is_causal && !mask.defined()) {
      const int64_t L = src.dim() == 3 && batch_first_ ? src.size(1) : src.size(0);
      mask = generate_square_subsequent_mask(L, src.dtype(), src.device());
    }
    Tensor x = src;
    if (norm_first_) {
      x = x + sa_block((*norm1)(x), mask, src_key_padding_mask);
      x = x + ff_block((*norm2)(x));
    } else {
      x = (*norm1)(x + sa_block(x, mask, src_key_padding_mask));
      x = (*norm2)(x + ff_block(x));
    }
    return x;
  }
  std::string name() const override { return "TransformerEncoderLayer"; }

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm) {
    return (*dropout1)(self_attn->forward(x, x, x, kpm, false, mask).first);
  }
  Tensor ff_block(const Tensor& x) {
    Tensor h = (*linear1)(x);
    h = activation_ == "gelu" ? h.gelu() : h.relu();
    return (*dropout2)((*linear2)((*dropout)(h)));
  }

  std::string activation_;
  bool norm_first_, batch_first_;
};

class BCELoss {
 public:
  explicit BCELoss(Tensor weight = Tensor(), F::Reduction reduction = F::Reduction::kMean)
      : weight_(std::move(weight)), reduction_(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return F::binary_cross_entropy(input, target, weight_, reduction_);
  }

 private:
  Tensor weight_;
  F::Reduction reduction_;
};

// torch.utils.checkpoint.checkpoint_sequential: runs `seq` in `segments`
// consecutive segments; every segment but the last is checkpointed
// (prism::checkpoint), the last runs normally, as torch does.
inline Tensor checkpoint_sequential(const Sequential& seq, int64_t segments, const Tensor& input) {
  const auto n = static_cast<int64_t>(seq.size());
  if (segments <= 0 || segments > std::max<int64_t>(n, 1))
    detail::fail("checkpoint_sequential: segments must be in [1, " + std::to_string(n) + "], got " +
                 std::to_string(segments));
  const int64_t segment_size = n / segments;
  Tensor x = input;
  int64_t next = 0;
  for (int64_t start = 0; start < segment_size * (segments - 1); start += segment_size) {
    std::vector<std::shared_ptr<Module>> mods;
    for (int64_t i = start; i < start + segment_size; ++i) mods.push_back(seq[static_cast<size_t>(i)]);
    x = checkpoint(
        [mods](const std::vector<Tensor>& xs) {
          Tensor h = xs[0];
          for (const auto& m : mods) h = m->forward(h);
          return std::vector<Tensor>{h};
        },
        std::vector<Tensor>{x})[0];
    next = start + segment_size;
  }
  for (int64_t i = next; i < n; ++i) x = seq[static_cast<size_t>(i)]->forward(x);
  return x;
}

}  // namespace prism::nn

#endif  // PRISM_API_PRISM_NN_HPP_
