// ops_optim.cpp — CPU kernels of the fused optimizer updates sgd_update and adam_update and of the
// gradient scaler's amp_unscale_check (one pass, OpenMP).
#include <atomic>
#include <cmath>
#include <type_traits>

#include "cpu_internal.hpp"
#include "cpu_loops.hpp"

namespace prism::cpu {

namespace {

// Note [Fused optimizer kernels]
// Each kernel reads grad and updates param and the optimizer state in one
// pass over dense memory, in the compute type of the dtype (f32 for f16 and
// bf16), following the PyTorch rules the core's composite spells out
// (core/dispatch/optim.cpp). The core only calls them with dense tensors of
// one dtype and shape; supports() declines anything else.

// Bits of the "flags" attribute (docs/ops.md; the same values as
// PRISM_SGD_* and PRISM_ADAM_* in prism.h, which never change).
constexpr int64_t kSgdNesterov = 1, kSgdMaximize = 2, kSgdInitBuffer = 4;
constexpr int64_t kAdamAmsgrad = 1, kAdamMaximize = 2, kAdamDecoupled = 4;

int64_t numel(const prism_tensor_desc& d) {
  int64_t n = 1;
  for (int i = 0; i < d.ndim; ++i) n *= d.sizes[i];
  return n;
}

int supports_update(void* /*ctx*/, const prism_kernel_call* c) {
  if (c->n_inputs != 1 || c->n_outputs < 1) return 0;
  const prism_tensor_desc& p = c->outputs[0];
  if (!dense(c->inputs[0]) || !same_shape(c->inputs[0], p) || c->inputs[0].dtype != p.dtype) return 0;
  for (size_t i = 0; i < c->n_outputs; ++i) {
    if (!dense(c->outputs[i]) || !same_shape(c->outputs[i], p) || c->outputs[i].dtype != p.dtype) return 0;
  }
  return 1;
}

prism_plugin_error* check_update(const prism_kernel_call* c, size_t min_out, size_t max_out) {
  if (c->n_inputs != 1 || c->n_outputs < min_out || c->n_outputs > max_out)
    return PRISM_CPU_INVALID("%s: expected 1 input and %zu..%zu outputs, got %zu and %zu", c->op, min_out,
                             max_out, c->n_inputs, c->n_outputs);
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, c->n_outputs));
  if (supports_update(nullptr, c) == 0)
    return PRISM_CPU_INVALID("%s: every tensor must be dense with param's shape and dtype", c->op);
  return nullptr;
}

template <class T>
T* data_of(const prism_tensor_desc& d) {
  return reinterpret_cast<T*>(desc_data(d));
}

// out: param (N), [momentum_buffer (N)]; in: grad (N).
prism_plugin_error* run_sgd(void* /*ctx*/, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_update(c, 1, 2));
  const double lr = prism_sdk_attr_float(c, "lr", 0);
  const double momentum = prism_sdk_attr_float(c, "momentum", 0);
  const double dampening = prism_sdk_attr_float(c, "dampening", 0);
  const double wd = prism_sdk_attr_float(c, "weight_decay", 0);
  const int64_t flags = prism_sdk_attr_int(c, "flags", 0);
  const bool nesterov = (flags & kSgdNesterov) != 0;
  const bool maximize = (flags & kSgdMaximize) != 0;
  const bool init = (flags & kSgdInitBuffer) != 0;
  const bool has_buf = c->n_outputs == 2;
  if (momentum != 0 && !has_buf)
    return PRISM_CPU_INVALID("%s: momentum %g needs a momentum buffer", c->op, momentum);
  const int64_t n = numel(c->outputs[0]);
  return dispatch_dtype(c, c->outputs[0].dtype, [&](auto tag) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag);
    if constexpr (kIsFloat<T>) {
      using C = Compute<T>;
      T* p = data_of<T>(c->outputs[0]);
      T* buf = has_buf ? data_of<T>(c->outputs[1]) : nullptr;
      const T* g = data_of<const T>(c->inputs[0]);
      const C clr = static_cast<C>(lr), cm = static_cast<C>(momentum), cd = static_cast<C>(1 - dampening);
      const C cwd = static_cast<C>(wd);
      if constexpr (std::is_same_v<T, C>) {
        // f32/f64 in the common cases: the same arithmetic, in the same order,
        // without per-element branches, so the loops vectorise.
        if (has_buf && momentum != 0 && !init && !nesterov && !maximize) {
          parallel_range(n, kParallelGrain, [&](int64_t b, int64_t e) {
            if (wd != 0) {
              for (int64_t i = b; i < e; ++i) {
                const T d = g[i] + cwd * p[i];
                const T bv = buf[i] * cm + cd * d;
                buf[i] = bv;
                p[i] = p[i] + (-clr) * bv;
              }
            } else {
              for (int64_t i = b; i < e; ++i) {
                const T bv = buf[i] * cm + cd * g[i];
                buf[i] = bv;
                p[i] = p[i] + (-clr) * bv;
              }
            }
          });
          return nullptr;
        }
        if ((!has_buf || momentum == 0) && wd == 0 && !maximize) {
          parallel_range(n, kParallelGrain, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) p[i] = p[i] + (-clr) * g[i];
          });
          return nullptr;
        }
      }
      parallel_range(n, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const C pv = Num<T>::load(p[i]);
          C d = Num<T>::load(g[i]);
          if (maximize) d = -d;
          if (wd != 0) d = d + cwd * pv;
          if (has_buf && momentum != 0) {
            C bv;
            if (init) {
              bv = d;
            } else {
              bv = Num<T>::load(buf[i]) * cm;
              bv = bv + cd * d;
            }
            buf[i] = Num<T>::store(bv);
            bv = Num<T>::load(buf[i]);
            d = nesterov ? d + cm * bv : bv;
          }
          p[i] = Num<T>::store(pv + (-clr) * d);
        }
      });
      return nullptr;
    }
    return unsupported_dtype(c, c->outputs[0].dtype);
  });
}

// out: param, exp_avg, exp_avg_sq, [max_exp_avg_sq] (N each); in: grad (N).
prism_plugin_error* run_adam(void* /*ctx*/, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_update(c, 3, 4));
  const double lr = prism_sdk_attr_float(c, "lr", 0);
  const double beta1 = prism_sdk_attr_float(c, "beta1", 0.9);
  const double beta2 = prism_sdk_attr_float(c, "beta2", 0.999);
  const double eps = prism_sdk_attr_float(c, "eps", 1e-8);
  const double wd = prism_sdk_attr_float(c, "weight_decay", 0);
  const int64_t step = prism_sdk_attr_int(c, "step", 1);
  const int64_t flags = prism_sdk_attr_int(c, "flags", 0);
  const bool amsgrad = (flags & kAdamAmsgrad) != 0;
  const bool maximize = (flags & kAdamMaximize) != 0;
  const bool decoupled = (flags & kAdamDecoupled) != 0;
  if (amsgrad != (c->n_outputs == 4))
    return PRISM_CPU_INVALID("%s: amsgrad needs exactly one max_exp_avg_sq output", c->op);
  if (step < 1)
    return PRISM_CPU_INVALID("%s: step must be >= 1, got %lld", c->op, static_cast<long long>(step));
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bc2_sqrt = std::sqrt(1 - std::pow(beta2, static_cast<double>(step)));
  const double step_size = lr / bc1;
  const int64_t n = numel(c->outputs[0]);
  return dispatch_dtype(c, c->outputs[0].dtype, [&](auto tag) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag);
    if constexpr (kIsFloat<T>) {
      using C = Compute<T>;
      T* p = data_of<T>(c->outputs[0]);
      T* m = data_of<T>(c->outputs[1]);
      T* v = data_of<T>(c->outputs[2]);
      T* vmax = amsgrad ? data_of<T>(c->outputs[3]) : nullptr;
      const T* g = data_of<const T>(c->inputs[0]);
      const C b1 = static_cast<C>(beta1), b2 = static_cast<C>(beta2);
      const C omb1 = static_cast<C>(1 - beta1), omb2 = static_cast<C>(1 - beta2);
      const C cwd = static_cast<C>(wd), decay = static_cast<C>(1 - lr * wd);
      const C cbc2 = static_cast<C>(bc2_sqrt), ceps = static_cast<C>(eps), cstep = static_cast<C>(-step_size);
      parallel_range(n, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          C pv = Num<T>::load(p[i]);
          C gv = Num<T>::load(g[i]);
          if (maximize) gv = -gv;
          if (wd != 0) {
            if (decoupled) {
              pv = Num<T>::load(Num<T>::store(pv * decay));
            } else {
              gv = gv + cwd * pv;
            }
          }
          const C mv = Num<T>::load(Num<T>::store(Num<T>::load(m[i]) * b1 + omb1 * gv));
          C vv = Num<T>::load(Num<T>::store(Num<T>::load(v[i]) * b2 + omb2 * (gv * gv)));
          m[i] = Num<T>::store(mv);
          v[i] = Num<T>::store(vv);
          if (amsgrad) {
            const C mx = Num<T>::load(vmax[i]);
            if (mx != mx || mx > vv) vv = mx;  // torch.maximum: NaN propagates
            vmax[i] = Num<T>::store(vv);
          }
          const C denom = std::sqrt(vv) / cbc2 + ceps;
          p[i] = Num<T>::store(pv + cstep * (mv / denom));
        }
      });
      return nullptr;
    }
    return unsupported_dtype(c, c->outputs[0].dtype);
  });
}

// out: grad (N, in place), found_inf (f32, 1 element); in: inv_scale (f32, 1
// element). Note [Gradient scaler ops] in core/dispatch/amp_scale.hpp: one
// pass that multiplies by inv_scale in the compute type and notes any NaN/Inf.
int supports_unscale(void* /*ctx*/, const prism_kernel_call* c) {
  if (c->n_inputs != 1 || c->n_outputs != 2) return 0;
  const prism_tensor_desc &g = c->outputs[0], &f = c->outputs[1], &s = c->inputs[0];
  return dense(g) && f.dtype == PRISM_DTYPE_F32 && numel(f) == 1 && s.dtype == PRISM_DTYPE_F32 &&
                 numel(s) == 1
             ? 1
             : 0;
}

prism_plugin_error* run_unscale(void* /*ctx*/, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 2));
  if (supports_unscale(nullptr, c) == 0)
    return PRISM_CPU_INVALID("%s: expected a dense grad, a one-element f32 found_inf and inv_scale", c->op);
  const float inv = *data_of<const float>(c->inputs[0]);
  float* found = data_of<float>(c->outputs[1]);
  const int64_t n = numel(c->outputs[0]);
  return dispatch_dtype(c, c->outputs[0].dtype, [&](auto tag) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag);
    if constexpr (kIsFloat<T>) {
      using C = Compute<T>;
      T* g = data_of<T>(c->outputs[0]);
      const C cinv = static_cast<C>(inv);
      std::atomic<bool> bad{false};
      parallel_range(n, kParallelGrain, [&](int64_t b, int64_t e) {
        bool local = false;
        for (int64_t i = b; i < e; ++i) {
          const C v = Num<T>::load(g[i]);
          local = local || !std::isfinite(v);
          g[i] = Num<T>::store(cinv == C(1) ? v : v * cinv);
        }
        if (local) bad.store(true, std::memory_order_relaxed);
      });
      if (bad.load()) *found = 1.0f;
      return nullptr;
    }
    return unsupported_dtype(c, c->outputs[0].dtype);
  });
}

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "sgd_update", kMaskFloat, supports_update, run_sgd},
    {sizeof(prism_kernel_def), "adam_update", kMaskFloat, supports_update, run_adam},
    {sizeof(prism_kernel_def), "amp_unscale_check", kMaskFloat, supports_unscale, run_unscale},
};

}  // namespace

KernelList optim_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
