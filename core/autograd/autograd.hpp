// autograd.hpp — define-by-run autograd: graph nodes, saved tensors, grad mode and the engine API (internal).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/tensor/tensor.hpp"

namespace prism::autograd {

struct Node;

// An edge to the `input_nr`-th gradient slot of `node` (null node = no grad).
struct Edge {
  std::shared_ptr<Node> node;
  int input_nr = 0;
};

// A gradient hook: may return a replacement gradient (nullptr keeps it).
using GradHook = std::function<Tensor(const Tensor& grad)>;

// Note [Saved tensors]
// A node saves *detached aliases* of the tensors its backward needs (same
// storage and version counter, no autograd metadata), so saving an output
// never makes a reference cycle through its own grad_fn. The version seen at
// save time is checked when backward unpacks it: an in-place change in
// between is the error PyTorch users know.
struct SavedTensor {
  Tensor alias;
  uint64_t version = 0;
  bool defined() const { return alias != nullptr; }
};

// Attributes a backward formula may need (a small superset for all ops).
struct OpAttrs {
  double alpha = 1.0;
  std::vector<int64_t> dims;
  bool keepdim = false;
  int64_t dim = 0, i0 = 0, i1 = 0, i2 = 0;
  int mode = 0;
  bool has_min = false, has_max = false;
  double min = 0, max = 0;
  Dims sizes, strides;
  int64_t offset = 0;
  std::vector<int64_t> split_sizes;
};

struct Node {
  virtual ~Node() = default;
  // Gradients for each next edge, given the gradients of this node's outputs.
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grad_outputs) = 0;
  virtual std::string name() const = 0;
  virtual void release_saved() {}
  std::vector<Edge> next;
  uint64_t seq = 0;  // creation order: later nodes run first
  // Hooks on the gradient of output `i` (registered through a non-leaf tensor).
  std::vector<std::vector<std::pair<int, GradHook>>> pre_hooks;
  std::string forward_op;  // the op that created it (for anomaly messages)
};

// Accumulates into a leaf's .grad; runs the leaf's hooks first. Thread-safe
// (Note [Concurrent backward]): `hooks` is guarded by the leaf's meta mutex.
struct AccumulateGrad : Node {
  std::weak_ptr<TensorImpl> leaf;
  std::vector<std::pair<int, GradHook>> hooks;
  std::vector<Tensor> apply(std::vector<Tensor>& grad_outputs) override;
  std::string name() const override { return "AccumulateGrad"; }
};

// Note [Concurrent backward]
// Independent graphs may run forward and backward on several user threads at
// once, and they may share leaves (one set of weights trained by several
// threads, as in Hogwild-style or data-parallel-on-threads training). The
// state two such threads reach in common is a shared leaf's AutogradMeta: its
// accumulator (created on first use by whichever thread records first) and
// its .grad (read-modify-written by every backward). Both are guarded by the
// leaf's `mutex`, held across the whole read-add-store of an accumulation, so
// no update is lost; hooks are copied under it and run outside it. The rest
// of the metadata (requires_grad, grad_fn) is written only by the thread that
// creates or rebases a tensor, before any other thread can see it, and is
// only read afterwards. Grad mode is thread-local; each backward builds its
// own buffers and dependency counts, so graphs that share nothing but leaves
// never touch each other's nodes.
struct AutogradMeta {
  std::mutex mutex;            // guards grad and accumulator (Note [Concurrent backward])
  bool requires_grad = false;  // leaves only
  bool retains_grad = false;   // non-leaf asked to keep .grad
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  int output_nr = 0;
  std::shared_ptr<AccumulateGrad> accumulator;  // leaves, created on demand
  std::string name;                             // optional, for messages
  // Set on the results of view ops recorded by autograd: the tensor whose
  // memory they view (Note [In-place ops and autograd]).
  bool is_view = false;
  std::weak_ptr<TensorImpl> view_base;
};

// ---- grad mode (thread-local) ----------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool on);
struct NoGradGuard {
  bool prev;
  NoGradGuard() : prev(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev); }
};
bool anomaly_enabled();
void set_anomaly_enabled(bool on);

// ---- tensor-level API ---------------------------------------------------------------------
bool requires_grad(const TensorImpl* t);
inline bool requires_grad(const Tensor& t) {
  return t && requires_grad(t.get());
}
bool is_leaf(const Tensor& t);
void set_requires_grad(const Tensor& t, bool on);
Tensor grad(const Tensor& t);  // nullptr when none
void set_grad(const Tensor& t, const Tensor& g);
void zero_grad(const Tensor& t, bool set_to_none);
void retain_grad(const Tensor& t);
std::shared_ptr<Node> grad_fn(const Tensor& t);
// The leaf's AccumulateGrad node, created on first use (thread-safe).
std::shared_ptr<AccumulateGrad> leaf_accumulator(const Tensor& t);
Tensor detach(const Tensor& t);
void detach_(const Tensor& t);
// Returns a handle that remove_hook() accepts.
int register_hook(const Tensor& t, GradHook hook);
void remove_hook(const Tensor& t, int handle);

// ---- recording (called by the op front-ends) -------------------------------------------
// True when `out` must get a grad_fn: grad mode is on and an input requires grad.
bool should_record(std::initializer_list<const Tensor*> inputs);
// Attaches a node for `op` (an entry of the derivatives table) to `out`.
void record(const char* op, const Tensor& out, const std::vector<Tensor>& inputs, OpAttrs attrs = OpAttrs());
// Backward of a composite or fused op: gets the saved tensors (unpacked, in
// the order given; null stays null) and the output's gradient, returns one
// gradient per input (null = none). Results are summed back to each input's
// shape and cast to its dtype by the engine.
using BackwardClosure =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& saved, const Tensor& grad)>;
// Like record() for ops outside the derivatives table: `name` is the node's
// name (e.g. "SoftmaxBackward"), `saved` are version-checked like the table's
// saved tensors. Inputs may hold nullptr (optional arguments).
void record_closure(const char* forward_op, const char* name, const Tensor& out,
                    const std::vector<Tensor>& inputs, const std::vector<Tensor>& saved, BackwardClosure fn);
// Note [In-place ops and autograd]: see autograd.cpp.
void check_inplace(const char* op, const Tensor& t);
// After an in-place op wrote `result`'s values into `self`, makes `self`
// take over result's history (rebase).
void rebase(const Tensor& self, const Tensor& result);

// ---- the engine -----------------------------------------------------------------------------
// Backpropagates from `roots` (grads may hold nullptr for scalar roots: ones).
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);
// Gradients of roots w.r.t. inputs without touching .grad (nullptr where unused
// if allow_unused, else an error).
std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& inputs, bool retain_graph, bool allow_unused);

}  // namespace prism::autograd

namespace prism::autograd {

// Runs `call` with grad mode off and records `op` on its result. Front-ends
// use it as: if (should_record({&a})) return recorded("op", {a}, attrs, [&] { return op(a); });
template <typename F>
Tensor recorded(const char* op, const std::vector<Tensor>& inputs, OpAttrs attrs, F&& call) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = call();
  }
  record(op, out, inputs, std::move(attrs));
  return out;
}

// In-place form: computes `call(self_clone)` recorded, writes the values into
// `self` and rebases `self` onto the result (Note [In-place ops and autograd]).
template <typename F>
void recorded_inplace(const char* op, const Tensor& self, F&& call) {
  check_inplace(op, self);
  Tensor old = recorded("clone", {self}, OpAttrs(), [&] { return clone(self); });
  Tensor result = call(old);
  {
    NoGradGuard no_grad;
    copy_(self, result);
  }
  rebase(self, result);
}

}  // namespace prism::autograd
