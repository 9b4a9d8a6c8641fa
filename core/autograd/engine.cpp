// engine.cpp — autograd metadata, grad mode, hooks and the backward engine (reverse topological sweep).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism::autograd {

// ---- modes ---------------------------------------------------------------------------------------

namespace {
thread_local bool t_grad_enabled = true;
// Note [Thread-local fast paths]
// ------------------------------
// libprism is a shared library, so every read of a thread_local calls
// __tls_get_addr (about 11 instructions); a 4-element add read thread-local
// state 13 times (grad mode, current stream, autocast, a std::call_once that
// touches TLS even when done), ~4 % of its instructions. Each such state
// therefore has a process-wide count of threads that left its default, and
// the common case (no thread did) reads only that count. A thread that
// changes its own state updates the count first, so it always sees its own
// change; a thread that exits in a non-default state leaves the count
// raised, which only costs the TLS read again.
std::atomic<int> g_grad_disabled_threads{0};
std::atomic<bool> g_anomaly{false};
std::atomic<int> g_next_hook{1};

AutogradMeta& meta(const Tensor& t) {
  if (!t->autograd) t->autograd = std::make_shared<AutogradMeta>();
  return *t->autograd;
}
}  // namespace

bool grad_enabled() {
  return g_grad_disabled_threads.load(std::memory_order_relaxed) == 0 || t_grad_enabled;
}
void set_grad_enabled(bool on) {
  if (t_grad_enabled == on) return;
  g_grad_disabled_threads.fetch_add(on ? -1 : 1,
                                    std::memory_order_relaxed);  // Note [Thread-local fast paths]
  t_grad_enabled = on;
}
bool anomaly_enabled() {
  return g_anomaly.load();
}
void set_anomaly_enabled(bool on) {
  g_anomaly.store(on);
}

// ---- tensor API ----------------------------------------------------------------------------------

bool requires_grad(const TensorImpl* t) {
  return t->autograd && (t->autograd->requires_grad || t->autograd->grad_fn != nullptr);
}

bool is_leaf(const Tensor& t) {
  return !t->autograd || t->autograd->grad_fn == nullptr;
}

void set_requires_grad(const Tensor& t, bool on) {
  if (!is_leaf(t)) {
    PRISM_CHECK(
        on, INVALID_ARGUMENT,
        "requires_grad_: you can only change requires_grad flags of leaf tensors; use detach() to get a "
        "tensor that does not require grad");
    return;
  }
  PRISM_CHECK(!on || is_float(t->dtype), INVALID_ARGUMENT,
              "requires_grad_: only tensors of floating point dtype can require gradients, got ",
              describe(t));
  meta(t).requires_grad = on;
}

Tensor grad(const Tensor& t) {
  if (!t->autograd) return nullptr;
  std::lock_guard<std::mutex> lock(t->autograd->mutex);
  return t->autograd->grad;
}

void set_grad(const Tensor& t, const Tensor& g) {
  if (g) {
    PRISM_CHECK(g->sizes == t->sizes, INVALID_ARGUMENT, "set_grad: assigned grad has shape ", g->sizes.str(),
                " but the tensor has shape ", t->sizes.str());
    PRISM_CHECK(g->dtype == t->dtype && g->device() == t->device(), INVALID_ARGUMENT,
                "set_grad: assigned grad ", describe(g), " must match the tensor's dtype and device (",
                describe(t), ")");
  }
  AutogradMeta& m = meta(t);
  std::lock_guard<std::mutex> lock(m.mutex);
  m.grad = g;
}

void zero_grad(const Tensor& t, bool set_to_none) {
  if (!t->autograd) return;
  std::lock_guard<std::mutex> lock(t->autograd->mutex);
  if (!t->autograd->grad) return;
  if (set_to_none) {
    t->autograd->grad = nullptr;
  } else {
    fill_(t->autograd->grad, 0.0);
  }
}

std::shared_ptr<Node> grad_fn(const Tensor& t) {
  return t->autograd ? t->autograd->grad_fn : nullptr;
}

Tensor detach(const Tensor& t) {
  return make_view(t, t->sizes, t->strides, t->offset);
}

void detach_(const Tensor& t) {
  if (!t->autograd) return;
  t->autograd->grad_fn = nullptr;
  t->autograd->requires_grad = false;
}

std::shared_ptr<AccumulateGrad> leaf_accumulator(const Tensor& t) {
  AutogradMeta& m = meta(t);
  std::lock_guard<std::mutex> lock(m.mutex);
  if (!m.accumulator) {
    m.accumulator = std::make_shared<AccumulateGrad>();
    m.accumulator->leaf = t;
  }
  return m.accumulator;
}

namespace {
Edge gradient_edge(const Tensor& t) {
  if (!requires_grad(t.get())) return {};
  if (t->autograd->grad_fn) return {t->autograd->grad_fn, t->autograd->output_nr};
  return {leaf_accumulator(t), 0};
}
}  // namespace

int register_hook(const Tensor& t, GradHook hook) {
  PRISM_CHECK(requires_grad(t), INVALID_ARGUMENT,
              "register_hook: cannot register a hook on a tensor that doesn't require gradient");
  int h = g_next_hook++;
  if (is_leaf(t)) {
    std::shared_ptr<AccumulateGrad> acc = leaf_accumulator(t);
    std::lock_guard<std::mutex> lock(t->autograd->mutex);
    acc->hooks.emplace_back(h, std::move(hook));
  } else {
    Node& n = *t->autograd->grad_fn;
    size_t nr = static_cast<size_t>(t->autograd->output_nr);
    if (n.pre_hooks.size() <= nr) n.pre_hooks.resize(nr + 1);
    n.pre_hooks[nr].emplace_back(h, std::move(hook));
  }
  return h;
}

void remove_hook(const Tensor& t, int handle) {
  auto drop = [handle](std::vector<std::pair<int, GradHook>>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [&](auto& p) { return p.first == handle; }), v.end());
  };
  if (!t->autograd) return;
  {
    std::lock_guard<std::mutex> lock(t->autograd->mutex);
    if (t->autograd->accumulator) drop(t->autograd->accumulator->hooks);
  }
  if (t->autograd->grad_fn)
    for (auto& v : t->autograd->grad_fn->pre_hooks) drop(v);
}

void retain_grad(const Tensor& t) {
  PRISM_CHECK(requires_grad(t), INVALID_ARGUMENT,
              "retain_grad: can't retain_grad on a tensor that has requires_grad=False");
  if (is_leaf(t) || t->autograd->retains_grad) return;
  t->autograd->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = t;
  register_hook(t, [weak](const Tensor& g) -> Tensor {
    if (Tensor self = weak.lock()) {
      std::lock_guard<std::mutex> lock(self->autograd->mutex);
      Tensor& slot = self->autograd->grad;
      slot = slot ? binary("add", slot, g) : clone(g);
    }
    return nullptr;
  });
}

// ---- AccumulateGrad ------------------------------------------------------------------------------

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grad_outputs) {
  std::vector<Tensor>& grads = grad_outputs;
  Tensor t = leaf.lock();
  if (!t || grads.empty() || !grads[0]) return {};
  Tensor g = std::move(grads[0]);
  AutogradMeta& m = meta(t);
  std::vector<std::pair<int, GradHook>> run_hooks;
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    run_hooks = hooks;
  }
  for (auto& h : run_hooks)
    if (Tensor r = h.second(g)) g = r;
  if (g->sizes != t->sizes) g = expand(g, t->sizes);
  // Note [Concurrent backward]: the read-add-store below is one critical
  // section per leaf, so concurrent backward passes never lose an update.
  std::lock_guard<std::mutex> lock(m.mutex);
  if (!m.grad) {
    // .grad owns fresh, contiguous memory. A gradient that already is such
    // memory (contiguous, the whole of a storage nobody else references, the
    // usual result of a backward formula) is taken over as it is, as PyTorch's
    // AccumulateGrad steals; anything else (a view, an expanded or shared
    // tensor, caller memory, another dtype) is copied.
    const bool own = g.use_count() == 1 && g->storage.use_count() == 1 && !g->autograd &&
                     g->dtype == t->dtype && g->device() == t->device() && g->offset == 0 &&
                     g->storage->deleter == nullptr && g->is_contiguous() &&
                     g->storage->nbytes == static_cast<size_t>(g->numel()) * g->element_size();
    if (own) {
      m.grad = std::move(g);
    } else {
      m.grad = g->dtype == t->dtype ? clone(g) : to_dtype(g, t->dtype);
    }
  } else {
    binary_("add", m.grad, g);
  }
  return {};
}

// ---- in-place ops ----------------------------------------------------------------------------------

// Note [In-place ops and autograd]
// An in-place op on a leaf that requires grad is an error (as in PyTorch).
// An in-place op on a view recorded by autograd is refused as well: only the
// view would be rebased while its base kept a stale history.
// On any other tensor in a graph, the front-end computes the result
// out-of-place from a recorded clone of `self`, writes the values into
// `self` (bumping its version, so nodes that saved the old value refuse to
// run), and `self` takes over the result's grad_fn (rebase).
void check_inplace(const char* op, const Tensor& t) {
  if (grad_enabled() && t->autograd && t->autograd->is_view) {
    Tensor base = t->autograd->view_base.lock();
    bool leaf_base = base && base->autograd && base->autograd->requires_grad && !base->autograd->grad_fn;
    PRISM_FAIL(INVALID_ARGUMENT, op, ": ",
               leaf_base
                   ? "a view of a leaf tensor that requires grad is being used in an in-place operation"
                   : "an in-place operation on a view of a tensor that is part of an autograd graph is not "
                     "supported (its base would keep a stale history)",
               " (", describe(t), "); clone() the view first, or wrap the update in no_grad");
  }
  PRISM_CHECK(
      !(grad_enabled() && t->autograd && t->autograd->requires_grad && t->autograd->grad_fn == nullptr),
      INVALID_ARGUMENT, op, ": a leaf tensor that requires grad is being used in an in-place operation (",
      describe(t), "); wrap it in no_grad or use the out-of-place op");
}

void rebase(const Tensor& self, const Tensor& result) {
  if (!result->autograd || !result->autograd->grad_fn) return;
  AutogradMeta& m = meta(self);
  m.grad_fn = result->autograd->grad_fn;
  m.output_nr = result->autograd->output_nr;
}

// ---- the engine ------------------------------------------------------------------------------------

namespace {

bool has_non_finite(const Tensor& g) {
  if (!is_float(g->dtype) || g->numel() == 0) return false;
  Tensor a = unary("abs", g);
  Tensor bad = compare(
      "logical_or", compare("ne", g, g),
      compare("eq", a, scalar_tensor(std::numeric_limits<double>::infinity(), g->dtype, g->device())));
  return item_int64(reduce("any", bad, {}, false)) != 0;
}

Tensor accumulate(const Tensor& acc, const Tensor& g) {
  if (!acc) return g;
  if (!g) return acc;
  return binary("add", acc, g);
}

struct NodeCmp {
  bool operator()(const Node* a, const Node* b) const { return a->seq < b->seq; }
};

// Runs the graph from `roots`. When `capture` is non-empty, the gradients
// flowing into those edges are returned instead of being accumulated into
// .grad (AccumulateGrad nodes are not run).
std::vector<Tensor> run(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                        const std::vector<Edge>* capture) {
  PRISM_CHECK(grads.empty() || grads.size() == roots.size(), INVALID_ARGUMENT, "backward: got ", grads.size(),
              " gradients for ", roots.size(), " outputs");
  NoGradGuard no_grad;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::vector<std::shared_ptr<Node>> keep;  // keeps every visited node alive for the sweep
  std::vector<Node*> starts;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    PRISM_CHECK(requires_grad(r), INVALID_ARGUMENT, "backward: element ", i,
                " of tensors does not require grad and does not have a grad_fn (", describe(r), ")");
    Tensor g = grads.empty() ? nullptr : grads[i];
    if (!g) {
      PRISM_CHECK(r->numel() == 1, INVALID_ARGUMENT,
                  "backward: grad can be implicitly created only for scalar outputs, but output ", i, " is ",
                  describe(r), "; pass a gradient of the same shape");
      g = full(r->sizes, 1.0, r->dtype, r->device());
    }
    PRISM_CHECK(g->sizes == r->sizes, INVALID_ARGUMENT, "backward: mismatch in shape: grad_output[", i,
                "] has a shape of ", g->sizes.str(), " and output[", i, "] has a shape of ", r->sizes.str());
    PRISM_CHECK(g->device() == r->device(), INVALID_ARGUMENT, "backward: grad_output[", i, "] is on ",
                g->device()->name, " but output[", i, "] is on ", r->device()->name);
    Edge e = gradient_edge(r);
    keep.push_back(e.node);
    auto& buf = buffers[e.node.get()];
    if (buf.size() <= static_cast<size_t>(e.input_nr)) buf.resize(e.input_nr + 1);
    buf[e.input_nr] = accumulate(buf[e.input_nr], g);
    starts.push_back(e.node.get());
  }
  // Dependency counts over the reachable graph.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack(starts.begin(), starts.end());
  std::unordered_set<Node*> seen(starts.begin(), starts.end());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.node) continue;
      ++deps[e.node.get()];
      if (seen.insert(e.node.get()).second) {
        keep.push_back(e.node);
        stack.push_back(e.node.get());
      }
    }
  }
  std::vector<Tensor> captured(capture ? capture->size() : 0);
  std::priority_queue<Node*, std::vector<Node*>, NodeCmp> ready;
  std::unordered_set<Node*> queued;
  for (Node* n : starts)
    if (deps[n] == 0 && queued.insert(n).second) ready.push(n);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    std::vector<Tensor> in = std::move(buffers[n]);
    buffers.erase(n);
    // Hooks on the gradients of this node's outputs (non-leaf tensor hooks).
    for (size_t k = 0; k < n->pre_hooks.size() && k < in.size(); ++k) {
      for (auto& h : n->pre_hooks[k])
        if (in[k])
          if (Tensor r = h.second(in[k])) in[k] = r;
    }
    auto* acc = dynamic_cast<AccumulateGrad*>(n);
    bool is_acc = acc != nullptr;
    if (capture && is_acc && !in.empty() && in[0]) {
      std::vector<std::pair<int, GradHook>> hooks;  // leaf hooks run for grad() too
      if (Tensor leaf = acc->leaf.lock()) {
        std::lock_guard<std::mutex> lock(leaf->autograd->mutex);
        hooks = acc->hooks;
      }
      for (auto& h : hooks)
        if (Tensor r = h.second(in[0])) in[0] = r;
    }
    if (capture) {
      for (size_t c = 0; c < capture->size(); ++c) {
        const Edge& e = (*capture)[c];
        if (e.node.get() == n && static_cast<size_t>(e.input_nr) < in.size())
          captured[c] = accumulate(captured[c], in[e.input_nr]);
      }
      if (is_acc) continue;
    }
    std::vector<Tensor> out = n->apply(in);
    if (!retain_graph) n->release_saved();
    if (anomaly_enabled()) {
      for (size_t k = 0; k < out.size(); ++k) {
        PRISM_CHECK(!(out[k] && has_non_finite(out[k])), INVALID_ARGUMENT, "anomaly detected: function '",
                    n->name(), "' returned nan or inf values in its ", k, "th output; the forward op was '",
                    n->forward_op, "'");
      }
    }
    for (size_t k = 0; k < n->next.size(); ++k) {
      const Edge& e = n->next[k];
      if (!e.node) continue;
      Node* m = e.node.get();
      if (k < out.size() && out[k]) {
        auto& buf = buffers[m];
        if (buf.size() <= static_cast<size_t>(e.input_nr)) buf.resize(e.input_nr + 1);
        buf[e.input_nr] = accumulate(buf[e.input_nr], out[k]);
      }
      if (--deps[m] == 0 && queued.insert(m).second) ready.push(m);
    }
  }
  return captured;
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  amp::SuspendGuard no_autocast;  // backward runs in the forward's dtypes (Note [Autocast])
  run(roots, grads, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& inputs, bool retain_graph, bool allow_unused) {
  std::vector<Edge> edges;
  for (size_t i = 0; i < inputs.size(); ++i) {
    PRISM_CHECK(requires_grad(inputs[i]), INVALID_ARGUMENT, "grad: input ", i, " does not require grad (",
                describe(inputs[i]), ")");
    edges.push_back(gradient_edge(inputs[i]));
  }
  std::vector<Tensor> r;
  {
    amp::SuspendGuard no_autocast;  // Note [Autocast]
    r = run(roots, grads, retain_graph, &edges);
  }
  for (size_t i = 0; i < r.size(); ++i) {
    PRISM_CHECK(r[i] || allow_unused, INVALID_ARGUMENT, "grad: one of the differentiated tensors (input ", i,
                ") appears to not have been used in the graph; set allow_unused if this is intended");
    if (r[i] && r[i]->sizes != inputs[i]->sizes) r[i] = clone(expand(r[i], inputs[i]->sizes));
  }
  return r;
}

}  // namespace prism::autograd
