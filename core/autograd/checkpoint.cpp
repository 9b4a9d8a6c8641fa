// checkpoint.cpp — gradient checkpointing: a segment's forward is run without keeping its graph and is
// recomputed, with the same random numbers, when backward reaches it.
#include "core/autograd/checkpoint.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/ops.hpp"

namespace prism::autograd {

// Note [Gradient checkpointing]
// -----------------------------
// checkpoint(fn, inputs) trades compute for memory as torch.utils.checkpoint
// does: the activations inside the segment are not kept for backward; only
// the segment's inputs are, and backward runs fn again to rebuild them.
//
// Forward runs fn with the caller's grad mode, then detaches its outputs, so
// the segment's graph (and every activation it saved) is freed as soon as fn
// returns; the segment costs its activations only while it runs. Running it
// with grad mode on tells which outputs require grad — through the inputs or
// through parameters fn reads (captured weights) — so the outputs require
// grad exactly when they would without checkpointing, and parameters get
// gradients even when no input requires grad (PyTorch's use_reentrant=False
// behaviour; its reentrant default would leave them without).
//
// The outputs share one node, CheckpointBackward, whose edges go to the
// inputs. When backward reaches it, the node replays fn on detached copies
// of the inputs (leaves requiring grad where the inputs did) with grad mode
// on, then runs a nested backward from the recomputed outputs with the
// incoming gradients: parameters accumulate into their .grad there, and the
// inputs' gradients flow on through the node's edges. The saved inputs are
// version-checked like any saved tensor. Gradients requested with
// autograd::grad() stop at the node's inputs: parameters read by fn still
// accumulate into .grad (the recomputation is a backward of its own).
//
// Note [Checkpoint RNG state]
// The global Philox generator is a (seed, offset) pair (core/random). The
// node stores the pair fn saw in forward and sets it for the replay, so
// dropout inside the segment draws the same masks; the caller's state is put
// back afterwards, so the replay consumes no random numbers of its own.

namespace {

// Restores the generator's state on scope exit.
struct RngStateGuard {
  uint64_t seed = 0, offset = 0;
  RngStateGuard() { get_rng_state(&seed, &offset); }
  ~RngStateGuard() { set_rng_state(seed, offset); }
  RngStateGuard(const RngStateGuard&) = delete;
  RngStateGuard& operator=(const RngStateGuard&) = delete;
};

struct GradModeGuard {
  bool prev;
  explicit GradModeGuard(bool on) : prev(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(prev); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
};

struct CheckpointNode : Node {
  SegmentFn fn;
  std::vector<SavedTensor> inputs;
  std::vector<bool> input_requires_grad;
  std::vector<bool> output_requires_grad;
  uint64_t seed = 0, offset = 0;
  bool released = false;

  std::string name() const override { return "CheckpointBackward"; }
  void release_saved() override {
    released = true;
    inputs.clear();
    fn = nullptr;
  }

  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    PRISM_CHECK(!released, INVALID_ARGUMENT,
                "checkpoint: trying to backward through a checkpointed segment a second time; its inputs "
                "and function were released by the first backward (pass retain_graph to keep them)");
    std::vector<Tensor> detached;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const SavedTensor& s = inputs[i];
      if (!s.defined()) {
        detached.push_back(nullptr);
        continue;
      }
      uint64_t now = s.alias->version()->load();
      PRISM_CHECK(now == s.version, INVALID_ARGUMENT, "checkpoint: input ", i, " of the segment (",
                  describe(s.alias),
                  ") was modified by an inplace operation after the forward pass (version ", now,
                  ", expected ", s.version, "); its recomputation would differ");
      Tensor d = detach(s.alias);
      if (input_requires_grad[i]) set_requires_grad(d, true);
      detached.push_back(d);
    }
    std::vector<Tensor> outs;
    {
      RngStateGuard keep_caller_state;
      set_rng_state(seed, offset);
      GradModeGuard grad_on(true);
      outs = fn(detached);
    }
    PRISM_CHECK(outs.size() == output_requires_grad.size(), INVALID_ARGUMENT,
                "checkpoint: the recomputed segment returned ", outs.size(), " outputs, the forward pass ",
                output_requires_grad.size(), "; the function must return the same outputs each time");
    std::vector<Tensor> roots, root_grads;
    for (size_t k = 0; k < outs.size(); ++k) {
      if (k >= grads.size() || !grads[k] || !outs[k] || !requires_grad(outs[k])) continue;
      roots.push_back(outs[k]);
      root_grads.push_back(grads[k]);
    }
    if (!roots.empty()) {
      GradModeGuard grad_off(false);
      backward(roots, root_grads, false);
    }
    std::vector<Tensor> result(next.size());
    for (size_t i = 0; i < detached.size() && i < result.size(); ++i)
      if (detached[i] && input_requires_grad[i]) result[i] = grad(detached[i]);
    return result;
  }
};

}  // namespace

std::vector<Tensor> checkpoint(SegmentFn fn, const std::vector<Tensor>& inputs) {
  PRISM_CHECK(fn != nullptr, INVALID_ARGUMENT, "checkpoint: the function is NULL");
  if (!grad_enabled()) return fn(inputs);
  uint64_t seed = 0, offset = 0;
  get_rng_state(&seed, &offset);
  std::vector<Tensor> outs = fn(inputs);
  auto node = std::make_shared<CheckpointNode>();
  node->forward_op = "checkpoint";
  node->seed = seed;
  node->offset = offset;
  bool any = false;
  uint64_t seq = 0;
  for (const Tensor& o : outs) {
    PRISM_CHECK(o != nullptr, INVALID_ARGUMENT, "checkpoint: the function returned a NULL output");
    const bool rg = requires_grad(o);
    node->output_requires_grad.push_back(rg);
    any = any || rg;
    if (std::shared_ptr<Node> f = grad_fn(o)) seq = std::max(seq, f->seq);
  }
  if (!any) return outs;  // nothing to differentiate: the outputs carry no history either way
  // Detach the outputs: the segment's graph (and its activations) goes with them.
  std::vector<Tensor> result;
  result.reserve(outs.size());
  for (const Tensor& o : outs) result.push_back(detach(o));
  outs.clear();
  for (const Tensor& t : inputs) {
    node->input_requires_grad.push_back(t && requires_grad(t));
    // Every input is kept for the replay; only those requiring grad get an edge.
    node->inputs.push_back(t ? SavedTensor{detach(t), t->version()->load()} : SavedTensor{});
    if (!t || !requires_grad(t)) {
      node->next.push_back({});
      continue;
    }
    seq = std::max(seq, grad_fn(t) ? grad_fn(t)->seq : 0);
    node->next.push_back(grad_fn(t) ? Edge{grad_fn(t), t->autograd->output_nr}
                                    : Edge{leaf_accumulator(t), 0});
  }
  node->seq = seq;
  node->fn = std::move(fn);
  for (size_t k = 0; k < result.size(); ++k) {
    if (!node->output_requires_grad[k]) continue;
    Tensor& o = result[k];
    o->autograd = std::make_shared<AutogradMeta>();
    o->autograd->grad_fn = node;
    o->autograd->output_nr = static_cast<int>(k);
  }
  return result;
}

}  // namespace prism::autograd
