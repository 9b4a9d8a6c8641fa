// c_api_autograd.cpp — user C ABI: requires_grad, backward, grad, no_grad, detach, hooks, anomaly mode.
#include <mutex>
#include <set>

#include "core/autograd/autograd.hpp"
#include "core/c_api/handle.hpp"
#include "prism/prism.h"

using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::out_arg;
using prism::capi::wrap;
namespace ag = prism::autograd;

namespace {

// grad_fn names are handed out as const char*: intern them for the process.
const char* intern(const std::string& s) {
  static std::mutex mutex;
  static auto* names = new std::set<std::string>;
  std::lock_guard<std::mutex> lock(mutex);
  return names->insert(s).first->c_str();
}

std::vector<Tensor> list(const prism_tensor_t* ts, size_t n, const char* op, bool allow_null_entries) {
  std::vector<Tensor> v;
  if (ts == nullptr) return v;
  for (size_t i = 0; i < n; ++i)
    v.push_back(allow_null_entries && ts[i] == nullptr ? nullptr : arg(ts[i], op, "tensor"));
  return v;
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_tensor_set_requires_grad(prism_tensor_t t, int32_t requires_grad) {
  return guard([&] { ag::set_requires_grad(arg(t, "requires_grad_", "t"), requires_grad != 0); });
}

PRISM_API int32_t prism_tensor_requires_grad(prism_tensor_t t) {
  int32_t r = 0;
  guard([&] { r = ag::requires_grad(arg(t, "requires_grad", "t")) ? 1 : 0; });
  return r;
}

PRISM_API int32_t prism_tensor_is_leaf(prism_tensor_t t) {
  int32_t r = 0;
  guard([&] { r = ag::is_leaf(arg(t, "is_leaf", "t")) ? 1 : 0; });
  return r;
}

PRISM_API prism_status prism_tensor_grad(prism_tensor_t t, prism_tensor_t* grad) {
  return guard([&] {
    const Tensor& x = arg(t, "grad", "t");
    out_arg(grad, "grad");
    Tensor g = ag::grad(x);
    *grad = g ? wrap(g) : nullptr;
  });
}

PRISM_API prism_status prism_tensor_set_grad(prism_tensor_t t, prism_tensor_t grad) {
  return guard([&] {
    const Tensor& x = arg(t, "set_grad", "t");
    ag::set_grad(x, grad == nullptr ? nullptr : arg(grad, "set_grad", "grad"));
  });
}

PRISM_API prism_status prism_tensor_zero_grad(prism_tensor_t t, int32_t set_to_none) {
  return guard([&] { ag::zero_grad(arg(t, "zero_grad", "t"), set_to_none != 0); });
}

PRISM_API prism_status prism_tensor_retain_grad(prism_tensor_t t) {
  return guard([&] { ag::retain_grad(arg(t, "retain_grad", "t")); });
}

PRISM_API const char* prism_tensor_grad_fn_name(prism_tensor_t t) {
  const char* r = "";
  guard([&] {
    auto fn = ag::grad_fn(arg(t, "grad_fn", "t"));
    if (fn) r = intern(fn->name());
  });
  return r;
}

PRISM_API prism_status prism_tensor_grad_fn_next(prism_tensor_t t, const char** names, size_t capacity,
                                                 size_t* n) {
  return guard([&] {
    auto fn = ag::grad_fn(arg(t, "grad_fn_next", "t"));
    out_arg(n, "grad_fn_next");
    size_t count = fn ? fn->next.size() : 0;
    *n = count;  // written even when the capacity is too small, so callers can size the array
    PRISM_CHECK(capacity >= count && (names != nullptr || count == 0), INVALID_ARGUMENT,
                "grad_fn_next: capacity ", capacity, " is smaller than the ", count, " next functions");
    for (size_t i = 0; i < count; ++i) names[i] = fn->next[i].node ? intern(fn->next[i].node->name()) : "";
  });
}

PRISM_API prism_status prism_backward(prism_tensor_t t, prism_tensor_t grad, int32_t retain_graph) {
  return guard([&] {
    const Tensor& x = arg(t, "backward", "t");
    ag::backward({x}, {grad == nullptr ? nullptr : arg(grad, "backward", "grad")}, retain_graph != 0);
  });
}

PRISM_API prism_status prism_autograd_grad(const prism_tensor_t* outputs, size_t n_outputs,
                                           const prism_tensor_t* grad_outputs, const prism_tensor_t* inputs,
                                           size_t n_inputs, int32_t retain_graph, int32_t allow_unused,
                                           prism_tensor_t* results) {
  return guard([&] {
    PRISM_CHECK(outputs != nullptr && n_outputs > 0, INVALID_ARGUMENT, "grad: outputs is NULL or empty");
    PRISM_CHECK(inputs != nullptr && n_inputs > 0, INVALID_ARGUMENT, "grad: inputs is NULL or empty");
    out_arg(results, "grad");
    std::vector<Tensor> outs = list(outputs, n_outputs, "grad", false);
    std::vector<Tensor> gouts = list(grad_outputs, n_outputs, "grad", true);
    std::vector<Tensor> ins = list(inputs, n_inputs, "grad", false);
    std::vector<Tensor> r = ag::grad(outs, gouts, ins, retain_graph != 0, allow_unused != 0);
    for (size_t i = 0; i < r.size(); ++i) results[i] = r[i] ? wrap(r[i]) : nullptr;
  });
}

namespace {
thread_local int t_no_grad_depth = 0;
thread_local bool t_saved_mode[64];
}  // namespace

PRISM_API prism_status prism_no_grad_enter(void) {
  return guard([&] {
    PRISM_CHECK(t_no_grad_depth < 64, INVALID_ARGUMENT, "no_grad_enter: nested more than 64 deep");
    t_saved_mode[t_no_grad_depth++] = ag::grad_enabled();
    ag::set_grad_enabled(false);
  });
}

PRISM_API prism_status prism_no_grad_exit(void) {
  return guard([&] {
    PRISM_CHECK(t_no_grad_depth > 0, INVALID_ARGUMENT,
                "no_grad_exit: called without a matching no_grad_enter");
    ag::set_grad_enabled(t_saved_mode[--t_no_grad_depth]);
  });
}

PRISM_API int32_t prism_is_grad_enabled(void) {
  return ag::grad_enabled() ? 1 : 0;
}

PRISM_API prism_status prism_set_anomaly_enabled(int32_t enabled) {
  return guard([&] { ag::set_anomaly_enabled(enabled != 0); });
}

PRISM_API prism_status prism_detach(prism_tensor_t t, prism_tensor_t* out) {
  return guard([&] {
    out_arg(out, "detach");
    *out = wrap(ag::detach(arg(t, "detach", "t")));
  });
}

PRISM_API prism_status prism_detach_(prism_tensor_t t) {
  return guard([&] { ag::detach_(arg(t, "detach_", "t")); });
}

PRISM_API prism_status prism_tensor_register_hook(prism_tensor_t t, prism_grad_hook_fn hook, void* ctx,
                                                  int32_t* handle) {
  return guard([&] {
    const Tensor& x = arg(t, "register_hook", "t");
    PRISM_CHECK(hook != nullptr, INVALID_ARGUMENT, "register_hook: hook is NULL");
    out_arg(handle, "register_hook");
    *handle = ag::register_hook(x, [hook, ctx](const Tensor& g) -> Tensor {
      prism_tensor_t gh = wrap(g);
      prism_tensor_t repl = nullptr;
      prism_clear_error();
      prism_status st = hook(gh, ctx, &repl);
      prism_tensor_release(gh);
      if (st != PRISM_OK) {
        prism_tensor_release(repl);
        std::string why = *prism_last_error() != '\0' ? prism_last_error() : "no error message was set";
        throw prism::Error(st, std::string("gradient hook returned ") + prism_status_name(st) + ": " + why);
      }
      if (repl == nullptr) return nullptr;
      Tensor r = prism::capi::arg(repl, "gradient hook", "replacement");
      prism_tensor_release(repl);
      PRISM_CHECK(r && r->sizes == g->sizes, INVALID_ARGUMENT, "gradient hook returned a tensor of shape ",
                  r ? r->sizes.str() : std::string("NULL"), " for a gradient of shape ", g->sizes.str());
      return r;
    });
  });
}

PRISM_API prism_status prism_tensor_remove_hook(prism_tensor_t t, int32_t handle) {
  return guard([&] { ag::remove_hook(arg(t, "remove_hook", "t"), handle); });
}

}  // extern "C"
