// optim.hpp — header-only optimizers (SGD, Adam, AdamW with parameter groups) and LR schedulers over prism.h.
#ifndef PRISM_API_PRISM_OPTIM_HPP_
#define PRISM_API_PRISM_OPTIM_HPP_

// Note [Optimizers]
// -----------------
// The optimizers follow torch.optim: each owns parameter groups (params +
// their own options such as lr), step() updates every parameter that has a
// gradient through the fused ops prism_sgd_update / prism_adam_update (one
// kernel per parameter on devices that have one), and zero_grad(set_to_none)
// clears the gradients. Gradients accumulate across backward() calls until
// zero_grad(), so gradient accumulation works as in PyTorch: call backward()
// on several micro-batches (scaling the loss), then step() once.
//
// State dicts are flat name -> tensor maps plus scalars, so they save to a
// safetensors file (prism/serialize.hpp; save_state_dict() below stores the
// scalars in the header metadata). Names follow PyTorch's numbering of
// parameters across groups: "state.<i>.momentum_buffer", "state.<i>.exp_avg",
// "state.<i>.exp_avg_sq", "state.<i>.max_exp_avg_sq"; scalars
// "state.<i>.step" and "param_groups.<g>.<option>".
//
// The LR schedulers (StepLR, CosineAnnealingLR, LinearLR, OneCycleLR,
// ReduceLROnPlateau) use PyTorch's own (recursive) update formulas, so the
// sequences match torch.optim.lr_scheduler step for step.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "prism/prism.hpp"
#include "prism/serialize.hpp"

namespace prism::optim {

// A flat state dict: tensors plus scalars (counters, hyper-parameters).
struct StateDict {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

// Saves a state dict to a safetensors file; scalars go to the metadata as
// "scalar:<name>" -> "%.17g" (exact round trip).
inline void save_state_dict(const std::string& path, const StateDict& sd, StringMap metadata = StringMap()) {
  for (const auto& kv : sd.scalars) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", kv.second);
    metadata["scalar:" + kv.first] = buf;
  }
  save_safetensors(path, sd.tensors, metadata);
}

// Loads a state dict saved by save_state_dict(), tensors onto `device`.
inline StateDict load_state_dict(const std::string& path, const Device& device = Device()) {
  StringMap metadata;
  StateDict sd;
  sd.tensors = load_safetensors(path, device, &metadata);
  for (const auto& kv : metadata) {
    if (kv.first.rfind("scalar:", 0) != 0) continue;
    char* end = nullptr;
    double v = std::strtod(kv.second.c_str(), &end);
    if (end == kv.second.c_str() || *end != '\0')
      detail::fail("load_state_dict: '" + path + "': metadata " + kv.first + " = '" + kv.second +
                   "' is not a number");
    sd.scalars[kv.first.substr(7)] = v;
  }
  return sd;
}

// ===========================================================================
// Optimizer base
// ===========================================================================

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Clears the gradients (set_to_none = true drops them, as PyTorch's default).
  void zero_grad(bool set_to_none = true) {
    for (size_t g = 0; g < num_groups(); ++g)
      for (Tensor& p : group_params(g)) p.zero_grad(set_to_none);
  }

  virtual size_t num_groups() const = 0;
  virtual std::vector<Tensor>& group_params(size_t group) = 0;
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
  // The momentum a scheduler cycles: SGD's momentum, Adam's beta1.
  virtual double momentum(size_t group) const = 0;
  virtual void set_momentum(size_t group, double m) = 0;

  virtual StateDict state_dict() const = 0;
  // Restores state saved from an optimizer with the same groups and shapes;
  // tensors are copied into this optimizer's device/dtype.
  virtual void load_state_dict(const StateDict& sd) = 0;

 protected:
  // Index of the first parameter of `group` in the flat numbering.
  static size_t flat_index(const std::vector<size_t>& sizes, size_t group) {
    size_t n = 0;
    for (size_t g = 0; g < group; ++g) n += sizes[g];
    return n;
  }
  static double scalar(const StateDict& sd, const std::string& name) {
    auto it = sd.scalars.find(name);
    if (it == sd.scalars.end()) detail::fail("load_state_dict: the state dict has no scalar '" + name + "'");
    return it->second;
  }
  // A copy of sd.tensors[name] matching `like` (shape checked).
  static Tensor state_tensor(const StateDict& sd, const std::string& name, const Tensor& like) {
    auto it = sd.tensors.find(name);
    if (it == sd.tensors.end()) detail::fail("load_state_dict: the state dict has no tensor '" + name + "'");
    if (it->second.sizes() != like.sizes())
      detail::fail("load_state_dict: '" + name + "' has shape " + shape_string(it->second.sizes()) +
                   " but the parameter has " + shape_string(like.sizes()));
    return it->second.to(like.device()).to(like.dtype()).clone();
  }
};

// Parameters with their own options.
template <typename Options>
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
};

// ===========================================================================
// SGD
// ===========================================================================

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  using Group = ParamGroup<SGDOptions>;
  SGD(std::vector<Tensor> params, const SGDOptions& options)
      : SGD(std::vector<Group>{{std::move(params), options}}) {}
  explicit SGD(std::vector<Group> groups) : groups_(std::move(groups)) {
    for (const Group& g : groups_) validate(g.options);
  }

  void add_param_group(Group g) {
    validate(g.options);
    groups_.push_back(std::move(g));
  }

  void step() override {
    size_t i = 0;
    for (Group& g : groups_) {
      const SGDOptions& o = g.options;
      for (Tensor& p : g.params) {
        const size_t idx = i++;
        Tensor grad = p.grad();
        if (!grad.defined()) continue;
        uint32_t flags = (o.nesterov ? uint32_t{PRISM_SGD_NESTEROV} : 0u) |
                         (o.maximize ? uint32_t{PRISM_SGD_MAXIMIZE} : 0u);
        prism_tensor_t buf = nullptr;
        if (o.momentum != 0) {
          auto it = buffers_.find(idx);
          if (it == buffers_.end()) {
            it = buffers_.emplace(idx, empty_like(p)).first;
            flags |= uint32_t{PRISM_SGD_INIT_BUFFER};
          }
          buf = it->second.get();
        }
        check(
            prism_sgd_update(p.get(), grad.get(), buf, o.lr, o.momentum, o.dampening, o.weight_decay, flags));
      }
    }
  }

  size_t num_groups() const override { return groups_.size(); }
  std::vector<Tensor>& group_params(size_t g) override { return groups_.at(g).params; }
  Group& param_group(size_t g) { return groups_.at(g); }
  double lr(size_t g) const override { return groups_.at(g).options.lr; }
  void set_lr(size_t g, double lr) override { groups_.at(g).options.lr = lr; }
  double momentum(size_t g) const override { return groups_.at(g).options.momentum; }
  void set_momentum(size_t g, double m) override { groups_.at(g).options.momentum = m; }

  // The momentum buffer of flat parameter `i` (undefined before its first step).
  Tensor momentum_buffer(size_t i) const {
    auto it = buffers_.find(i);
    return it == buffers_.end() ? Tensor() : it->second;
  }

  StateDict state_dict() const override {
    StateDict sd;
    for (const auto& kv : buffers_)
      sd.tensors["state." + std::to_string(kv.first) + ".momentum_buffer"] = kv.second;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const SGDOptions& o = groups_[g].options;
      const std::string k = "param_groups." + std::to_string(g) + ".";
      sd.scalars[k + "lr"] = o.lr;
      sd.scalars[k + "momentum"] = o.momentum;
      sd.scalars[k + "dampening"] = o.dampening;
      sd.scalars[k + "weight_decay"] = o.weight_decay;
      sd.scalars[k + "nesterov"] = o.nesterov ? 1 : 0;
      sd.scalars[k + "maximize"] = o.maximize ? 1 : 0;
    }
    return sd;
  }

  void load_state_dict(const StateDict& sd) override {
    std::vector<SGDOptions> opts;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const std::string k = "param_groups." + std::to_string(g) + ".";
      SGDOptions o;
      o.lr = scalar(sd, k + "lr");
      o.momentum = scalar(sd, k + "momentum");
      o.dampening = scalar(sd, k + "dampening");
      o.weight_decay = scalar(sd, k + "weight_decay");
      o.nesterov = scalar(sd, k + "nesterov") != 0;
      o.maximize = scalar(sd, k + "maximize") != 0;
      validate(o);
      opts.push_back(o);
    }
    std::map<size_t, Tensor> buffers;
    size_t i = 0;
    for (const Group& g : groups_) {
      for (const Tensor& p : g.params) {
        const std::string name = "state." + std::to_string(i) + ".momentum_buffer";
        if (sd.tensors.count(name) != 0) buffers.emplace(i, state_tensor(sd, name, p));
        ++i;
      }
    }
    for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = opts[g];
    buffers_ = std::move(buffers);
  }

 private:
  static void validate(const SGDOptions& o) {
    if (!(o.lr >= 0)) detail::fail("SGD: invalid learning rate " + std::to_string(o.lr));
    if (!(o.momentum >= 0)) detail::fail("SGD: invalid momentum " + std::to_string(o.momentum));
    if (!(o.weight_decay >= 0)) detail::fail("SGD: invalid weight_decay " + std::to_string(o.weight_decay));
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
      detail::fail("SGD: nesterov momentum requires a momentum > 0 and zero dampening");
  }
  std::vector<Group> groups_;
  std::map<size_t, Tensor> buffers_;  // flat parameter index -> momentum buffer
};

// ===========================================================================
// Adam and AdamW
// ===========================================================================

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
};

// Adam; with decoupled weight decay (AdamW below) the decay multiplies the
// parameter instead of adding to the gradient.
class Adam : public Optimizer {
 public:
  using Group = ParamGroup<AdamOptions>;
  Adam(std::vector<Tensor> params, const AdamOptions& options)
      : Adam(std::vector<Group>{{std::move(params), options}}) {}
  explicit Adam(std::vector<Group> groups, bool decoupled = false)
      : groups_(std::move(groups)), decoupled_(decoupled) {
    for (const Group& g : groups_) validate(g.options);
  }

  void add_param_group(Group g) {
    validate(g.options);
    groups_.push_back(std::move(g));
  }

  void step() override {
    size_t i = 0;
    for (Group& g : groups_) {
      const AdamOptions& o = g.options;
      for (Tensor& p : g.params) {
        const size_t idx = i++;
        Tensor grad = p.grad();
        if (!grad.defined()) continue;
        State& s = state_[idx];
        if (!s.exp_avg.defined()) {
          s.exp_avg = zeros_like(p);
          s.exp_avg_sq = zeros_like(p);
        }
        if (o.amsgrad && !s.max_exp_avg_sq.defined()) s.max_exp_avg_sq = zeros_like(p);
        s.step += 1;
        uint32_t flags = (o.amsgrad ? uint32_t{PRISM_ADAM_AMSGRAD} : 0u) |
                         (o.maximize ? uint32_t{PRISM_ADAM_MAXIMIZE} : 0u) |
                         (decoupled_ ? uint32_t{PRISM_ADAM_DECOUPLED_WEIGHT_DECAY} : 0u);
        prism_status st = prism_adam_update(p.get(), grad.get(), s.exp_avg.get(), s.exp_avg_sq.get(),
                                            o.amsgrad ? s.max_exp_avg_sq.get() : nullptr, o.lr, o.beta1,
                                            o.beta2, o.eps, o.weight_decay, s.step, flags);
        if (st != PRISM_OK) s.step -= 1;
        check(st);
      }
    }
  }

  size_t num_groups() const override { return groups_.size(); }
  std::vector<Tensor>& group_params(size_t g) override { return groups_.at(g).params; }
  Group& param_group(size_t g) { return groups_.at(g); }
  double lr(size_t g) const override { return groups_.at(g).options.lr; }
  void set_lr(size_t g, double lr) override { groups_.at(g).options.lr = lr; }
  double momentum(size_t g) const override { return groups_.at(g).options.beta1; }
  void set_momentum(size_t g, double m) override { groups_.at(g).options.beta1 = m; }

  // Steps taken by flat parameter `i` (0 before its first step).
  int64_t step_count(size_t i) const {
    auto it = state_.find(i);
    return it == state_.end() ? 0 : it->second.step;
  }

  StateDict state_dict() const override {
    StateDict sd;
    for (const auto& kv : state_) {
      const std::string k = "state." + std::to_string(kv.first) + ".";
      sd.scalars[k + "step"] = static_cast<double>(kv.second.step);
      if (kv.second.exp_avg.defined()) sd.tensors[k + "exp_avg"] = kv.second.exp_avg;
      if (kv.second.exp_avg_sq.defined()) sd.tensors[k + "exp_avg_sq"] = kv.second.exp_avg_sq;
      if (kv.second.max_exp_avg_sq.defined()) sd.tensors[k + "max_exp_avg_sq"] = kv.second.max_exp_avg_sq;
    }
    for (size_t g = 0; g < groups_.size(); ++g) {
      const AdamOptions& o = groups_[g].options;
      const std::string k = "param_groups." + std::to_string(g) + ".";
      sd.scalars[k + "lr"] = o.lr;
      sd.scalars[k + "beta1"] = o.beta1;
      sd.scalars[k + "beta2"] = o.beta2;
      sd.scalars[k + "eps"] = o.eps;
      sd.scalars[k + "weight_decay"] = o.weight_decay;
      sd.scalars[k + "amsgrad"] = o.amsgrad ? 1 : 0;
      sd.scalars[k + "maximize"] = o.maximize ? 1 : 0;
    }
    return sd;
  }

  void load_state_dict(const StateDict& sd) override {
    std::vector<AdamOptions> opts;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const std::string k = "param_groups." + std::to_string(g) + ".";
      AdamOptions o;
      o.lr = scalar(sd, k + "lr");
      o.beta1 = scalar(sd, k + "beta1");
      o.beta2 = scalar(sd, k + "beta2");
      o.eps = scalar(sd, k + "eps");
      o.weight_decay = scalar(sd, k + "weight_decay");
      o.amsgrad = scalar(sd, k + "amsgrad") != 0;
      o.maximize = scalar(sd, k + "maximize") != 0;
      validate(o);
      opts.push_back(o);
    }
    std::map<size_t, State> state;
    size_t i = 0;
    for (const Group& g : groups_) {
      for (const Tensor& p : g.params) {
        const std::string k = "state." + std::to_string(i) + ".";
        if (sd.scalars.count(k + "step") != 0) {
          State s;
          const double step = scalar(sd, k + "step");
          if (!(step >= 0) || step != std::floor(step))
            detail::fail("load_state_dict: invalid " + k + "step");
          s.step = static_cast<int64_t>(step);
          s.exp_avg = state_tensor(sd, k + "exp_avg", p);
          s.exp_avg_sq = state_tensor(sd, k + "exp_avg_sq", p);
          if (sd.tensors.count(k + "max_exp_avg_sq") != 0)
            s.max_exp_avg_sq = state_tensor(sd, k + "max_exp_avg_sq", p);
          state.emplace(i, std::move(s));
        }
        ++i;
      }
    }
    for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = opts[g];
    state_ = std::move(state);
  }

 private:
  struct State {
    int64_t step = 0;
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
  };
  static void validate(const AdamOptions& o) {
    if (!(o.lr >= 0)) detail::fail("Adam: invalid learning rate " + std::to_string(o.lr));
    if (!(o.eps >= 0)) detail::fail("Adam: invalid eps " + std::to_string(o.eps));
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
      detail::fail("Adam: invalid betas (" + std::to_string(o.beta1) + ", " + std::to_string(o.beta2) + ")");
    if (!(o.weight_decay >= 0)) detail::fail("Adam: invalid weight_decay " + std::to_string(o.weight_decay));
  }
  std::vector<Group> groups_;
  bool decoupled_ = false;
  std::map<size_t, State> state_;
};

// AdamW: Adam with decoupled weight decay (PyTorch's default weight_decay 1e-2).
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options)
      : Adam(std::vector<Group>{{std::move(params), options}}, true) {}
  explicit AdamW(std::vector<Group> groups) : Adam(std::move(groups), true) {}
};

// ===========================================================================
// LR schedulers
// ===========================================================================

// Base: remembers each group's initial lr; construction applies epoch 0, as
// PyTorch's constructors do; step() advances one epoch.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt) : opt_(opt) {
    for (size_t g = 0; g < opt.num_groups(); ++g) base_lrs_.push_back(opt.lr(g));
  }
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step() {
    ++last_epoch_;
    for (size_t g = 0; g < opt_.num_groups(); ++g) opt_.set_lr(g, lr_at(g, opt_.lr(g)));
  }
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const {
    std::vector<double> v;
    for (size_t g = 0; g < opt_.num_groups(); ++g) v.push_back(opt_.lr(g));
    return v;
  }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  // The lr of `group` at last_epoch_, from its current lr (PyTorch's get_lr()).
  virtual double lr_at(size_t group, double current) = 0;
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1)
      : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
    if (step_size <= 0) detail::fail("StepLR: step_size must be > 0, got " + std::to_string(step_size));
    step();
  }

 protected:
  double lr_at(size_t, double current) override {
    if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return current;
    return current * gamma_;
  }

 private:
  int64_t step_size_;
  double gamma_;
};

// Cosine annealing from the initial lr to eta_min over t_max epochs (SGDR
// without restarts), in PyTorch's recursive form.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0)
      : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
    if (t_max <= 0) detail::fail("CosineAnnealingLR: T_max must be > 0, got " + std::to_string(t_max));
    step();
  }

 protected:
  double lr_at(size_t g, double current) override {
    const double pi = 3.14159265358979323846;
    const double e = static_cast<double>(last_epoch_), t = static_cast<double>(t_max_);
    if (last_epoch_ == 0) return current;
    if ((last_epoch_ - 1 - t_max_) % (2 * t_max_) == 0)
      return current + (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / t)) / 2;
    return (1 + std::cos(pi * e / t)) / (1 + std::cos(pi * (e - 1) / t)) * (current - eta_min_) + eta_min_;
  }

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: the factor goes from start_factor to end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5)
      : LRScheduler(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
    if (!(start_factor > 0 && start_factor <= 1))
      detail::fail("LinearLR: start_factor must be in (0, 1], got " + std::to_string(start_factor));
    if (!(end_factor >= 0 && end_factor <= 1))
      detail::fail("LinearLR: end_factor must be in [0, 1], got " + std::to_string(end_factor));
    if (total_iters < 0) detail::fail("LinearLR: total_iters must be >= 0");
    step();
  }

 protected:
  double lr_at(size_t, double current) override {
    if (last_epoch_ == 0) return current * start_;
    if (last_epoch_ > total_) return current;
    return current * (1 + (end_ - start_) / (static_cast<double>(total_) * start_ +
                                             static_cast<double>(last_epoch_ - 1) * (end_ - start_)));
  }

 private:
  double start_, end_;
  int64_t total_;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  bool cos_anneal = true;  // false: linear (anneal_strategy='linear')
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25, final_div_factor = 1e4;
  bool three_phase = false;
};

// The 1cycle policy: lr rises from max_lr / div_factor to max_lr, then
// anneals to initial / final_div_factor over total_steps steps; momentum (or
// Adam's beta1) cycles inversely.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, const OneCycleOptions& o = OneCycleOptions())
      : OneCycleLR(opt, std::vector<double>(opt.num_groups(), max_lr), total_steps, o) {}
  OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps,
             const OneCycleOptions& o = OneCycleOptions())
      : LRScheduler(opt), total_(total_steps), o_(o) {
    if (total_steps <= 0)
      detail::fail("OneCycleLR: total_steps must be > 0, got " + std::to_string(total_steps));
    if (!(o.pct_start >= 0 && o.pct_start <= 1))
      detail::fail("OneCycleLR: pct_start must be in [0, 1], got " + std::to_string(o.pct_start));
    if (max_lrs.size() != opt.num_groups())
      detail::fail("OneCycleLR: one max_lr per parameter group is needed");
    const double n = static_cast<double>(total_steps);
    if (o.three_phase) {
      phases_ = {
          {o.pct_start * n - 1, 0, 1, 0, 1}, {2 * o.pct_start * n - 2, 1, 0, 1, 0}, {n - 1, 0, 2, 0, 0}};
    } else {
      phases_ = {{o.pct_start * n - 1, 0, 1, 0, 1}, {n - 1, 1, 2, 1, 0}};
    }
    for (size_t g = 0; g < opt.num_groups(); ++g) {
      const double initial = max_lrs[g] / o.div_factor;
      lrs_.push_back({initial, max_lrs[g], initial / o.final_div_factor});
      opt.set_lr(g, initial);
      base_lrs_[g] = initial;
      if (o.cycle_momentum) opt.set_momentum(g, o.max_momentum);
    }
    step();
  }

 protected:
  double lr_at(size_t g, double) override {
    const double pi = 3.14159265358979323846;
    const double step_num = static_cast<double>(last_epoch_);
    if (last_epoch_ > total_)
      detail::fail("OneCycleLR: stepped " + std::to_string(last_epoch_) + " times, more than total_steps " +
                   std::to_string(total_));
    auto anneal = [&](double start, double end, double pct) {
      return o_.cos_anneal ? end + (start - end) / 2.0 * (std::cos(pi * pct) + 1)
                           : (end - start) * pct + start;
    };
    const double mom[2] = {o_.max_momentum, o_.base_momentum};
    double start_step = 0, lr = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& ph = phases_[i];
      if (step_num <= ph.end_step || i + 1 == phases_.size()) {
        const double pct = (step_num - start_step) / (ph.end_step - start_step);
        lr = anneal(lrs_[g][ph.lr_from], lrs_[g][ph.lr_to], pct);
        if (o_.cycle_momentum) opt_.set_momentum(g, anneal(mom[ph.m_from], mom[ph.m_to], pct));
        break;
      }
      start_step = ph.end_step;
    }
    return lr;
  }

 private:
  struct Phase {
    double end_step;
    int lr_from, lr_to;  // 0 initial, 1 max, 2 min
    int m_from, m_to;    // 0 max_momentum, 1 base_momentum
  };
  int64_t total_;
  OneCycleOptions o_;
  std::vector<Phase> phases_;
  std::vector<std::vector<double>> lrs_;
};

struct PlateauOptions {
  bool mode_max = false;  // false: 'min' (lower is better)
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  bool threshold_rel = true;  // false: 'abs'
  int64_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;
};

// Reduces the lr by `factor` when the metric has not improved for `patience` epochs.
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& opt, const PlateauOptions& o = PlateauOptions()) : opt_(opt), o_(o) {
    if (!(o.factor < 1)) detail::fail("ReduceLROnPlateau: factor should be < 1.0");
    best_ = o.mode_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  void step(double metric) {
    ++last_epoch_;
    if (better(metric)) {
      best_ = metric;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      bad_epochs_ = 0;
    }
    if (bad_epochs_ > o_.patience) {
      for (size_t g = 0; g < opt_.num_groups(); ++g) {
        const double old = opt_.lr(g);
        const double next = std::max(old * o_.factor, o_.min_lr);
        if (old - next > o_.eps) opt_.set_lr(g, next);
      }
      cooldown_counter_ = o_.cooldown;
      bad_epochs_ = 0;
    }
  }
  int64_t num_bad_epochs() const { return bad_epochs_; }
  double best() const { return best_; }

 private:
  bool better(double a) const {
    if (!o_.mode_max && o_.threshold_rel) return a < best_ * (1 - o_.threshold);
    if (!o_.mode_max) return a < best_ - o_.threshold;
    if (o_.threshold_rel) return a > best_ * (1 + o_.threshold);
    return a > best_ + o_.threshold;
  }
  Optimizer& opt_;
  PlateauOptions o_;
  double best_;
  int64_t last_epoch_ = 0;
  int64_t bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace prism::optim

// ===========================================================================
// Gradient scaling for mixed precision (torch.cuda.amp.GradScaler)
// ===========================================================================

namespace prism::amp {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

// Note [GradScaler]
// -----------------
// PyTorch's GradScaler, step for step: scale(loss) multiplies the loss by
// the scale (a one-element f32 tensor, 65536 at first, made on the loss's
// device); unscale_(opt) multiplies every gradient of the optimizer by
// 1/scale and notes NaN/Inf in a per-device found_inf through the fused op
// prism_amp_unscale_check; step(opt) unscales if the user did not, then runs
// opt.step() only when no gradient overflowed (returns whether it did);
// update() applies prism_amp_update_scale: ×backoff_factor (0.5) and a fresh
// growth count after an overflow, ×growth_factor (2) after growth_interval
// (2000) clean steps in a row. unscale_ twice before update() is an error, as
// in PyTorch. Disabled, every call passes through (scale(loss) returns loss).
// state_dict() holds "scale", "growth_factor", "backoff_factor",
// "growth_interval" and "_growth_tracker" as scalars, PyTorch's keys.
class GradScaler {
 public:
  explicit GradScaler(const GradScalerOptions& o = GradScalerOptions()) : o_(o) {
    if (o_.enabled && !(o_.init_scale > 0))
      detail::fail("GradScaler: init_scale must be > 0, got " + std::to_string(o_.init_scale));
  }

  bool is_enabled() const { return o_.enabled; }

  // loss * scale (the scale lives on the loss's device from the first call).
  Tensor scale(const Tensor& outputs) {
    if (!o_.enabled) return outputs;
    lazy_init(outputs.device());
    return outputs * (outputs.device() == scale_.device() ? scale_ : scale_.to(outputs.device()));
  }

  // Divides opt's gradients by the scale in place and records overflow.
  void unscale_(optim::Optimizer& opt) {
    if (!o_.enabled) return;
    PerOptimizer& st = state_[&opt];
    if (st.unscaled)
      detail::fail(
          "GradScaler: unscale_() has already been called on this optimizer since the last update()");
    if (st.stepped) detail::fail("GradScaler: unscale_() is being called after step()");
    if (!scale_.defined())
      detail::fail("GradScaler: scale() was never called, so there is nothing to unscale");
    // inv_scale = 1 / scale computed in f64, stored in f32 (as PyTorch).
    const double inv = 1.0 / scale_.item<double>();
    std::map<std::string, Tensor> inv_by_device;
    for (size_t g = 0; g < opt.num_groups(); ++g) {
      for (Tensor& p : opt.group_params(g)) {
        Tensor grad = p.grad();
        if (!grad.defined()) continue;
        const std::string dev = grad.device().str();
        Tensor& found = st.found_inf[dev];
        if (!found.defined()) found = zeros({1}, kFloat32, grad.device());
        Tensor& inv_t = inv_by_device[dev];
        if (!inv_t.defined()) inv_t = full({1}, inv, kFloat32, grad.device());
        unscale_check(grad, found, inv_t);
      }
    }
    st.unscaled = true;
  }

  // opt.step() unless a gradient overflowed; true when the step ran.
  bool step(optim::Optimizer& opt) {
    if (!o_.enabled) {
      opt.step();
      return true;
    }
    PerOptimizer& st = state_[&opt];
    if (st.stepped) detail::fail("GradScaler: step() has already been called since the last update()");
    if (!st.unscaled) unscale_(opt);
    double found = 0;
    for (auto& kv : st.found_inf) found += kv.second.item<double>();
    st.stepped = true;
    if (found != 0) return false;
    opt.step();
    return true;
  }

  // Updates the scale after a step (or sets it to new_scale when > 0).
  void update(double new_scale = 0) {
    if (!o_.enabled || !scale_.defined()) return;
    if (new_scale > 0) {
      scale_.fill_(new_scale);
    } else {
      Tensor found = zeros({1}, kFloat32, scale_.device());
      bool any = false;
      for (auto& ost : state_)
        for (auto& kv : ost.second.found_inf) {
          found = found + kv.second.to(scale_.device());
          any = true;
        }
      if (!any) detail::fail("GradScaler: no inf checks were recorded prior to update()");
      update_scale(scale_, growth_tracker_, found, o_.growth_factor, o_.backoff_factor, o_.growth_interval);
    }
    state_.clear();
  }

  // The current scale (1.0 when disabled; init_scale before the first scale()).
  double get_scale() const {
    if (!o_.enabled) return 1.0;
    return scale_.defined() ? scale_.item<double>() : o_.init_scale;
  }
  int64_t get_growth_tracker() const {
    return growth_tracker_.defined() ? growth_tracker_.item<int64_t>() : init_tracker_;
  }
  double get_growth_factor() const { return o_.growth_factor; }
  double get_backoff_factor() const { return o_.backoff_factor; }
  int64_t get_growth_interval() const { return o_.growth_interval; }

  // PyTorch's keys; empty when disabled.
  optim::StateDict state_dict() const {
    optim::StateDict sd;
    if (!o_.enabled) return sd;
    sd.scalars["scale"] = get_scale();
    sd.scalars["growth_factor"] = o_.growth_factor;
    sd.scalars["backoff_factor"] = o_.backoff_factor;
    sd.scalars["growth_interval"] = static_cast<double>(o_.growth_interval);
    sd.scalars["_growth_tracker"] = static_cast<double>(get_growth_tracker());
    return sd;
  }
  void load_state_dict(const optim::StateDict& sd) {
    if (!o_.enabled) detail::fail("GradScaler: load_state_dict() on a disabled scaler");
    if (sd.scalars.empty())
      detail::fail("GradScaler: the state dict is empty (saved from a disabled scaler?)");
    auto get = [&](const char* k) {
      auto it = sd.scalars.find(k);
      if (it == sd.scalars.end())
        detail::fail(std::string("GradScaler: the state dict has no scalar '") + k + "'");
      return it->second;
    };
    o_.init_scale = get("scale");
    o_.growth_factor = get("growth_factor");
    o_.backoff_factor = get("backoff_factor");
    o_.growth_interval = static_cast<int64_t>(get("growth_interval"));
    const auto tracker = static_cast<int64_t>(get("_growth_tracker"));
    if (scale_.defined()) {
      scale_.fill_(o_.init_scale);
      growth_tracker_.fill_(static_cast<double>(tracker));
    } else {
      init_tracker_ = tracker;
    }
  }

 private:
  struct PerOptimizer {
    bool unscaled = false, stepped = false;
    std::map<std::string, Tensor> found_inf;  // by device name
  };
  void lazy_init(const Device& device) {
    if (scale_.defined()) return;
    scale_ = full({1}, o_.init_scale, kFloat32, device);
    growth_tracker_ = full({1}, static_cast<double>(init_tracker_), kInt32, device);
  }
  GradScalerOptions o_;
  Tensor scale_, growth_tracker_;
  int64_t init_tracker_ = 0;
  std::map<const optim::Optimizer*, PerOptimizer> state_;
};

}  // namespace prism::amp

#endif  // PRISM_API_PRISM_OPTIM_HPP_
