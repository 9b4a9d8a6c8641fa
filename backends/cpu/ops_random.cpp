// ops_random.cpp — Philox random fills (uniform, normal, randint, bernoulli), bit-identical on every device.
#include "cpu_loops.hpp"
#include "prism_philox.h"

namespace prism::cpu {
namespace {

// Note [Random fills]
// -------------------
// Each element is a pure function of (seed, offset, i) where i is the
// row-major index in the output's sizes (docs/ops.md, Note [Philox streams];
// transforms in plugins/sdk/prism_philox.h). The plan is built without
// reordering dims so runs arrive in row-major order and each run knows the
// index of its first element; threads take disjoint index ranges, so the
// result does not depend on the thread count. This file is compiled with
// -ffp-contract=off so no FMA changes a bit.

// double -> f16/bf16 rounded once: round to odd into f32 (enough extra bits),
// then the usual round-to-nearest-even narrowing.
template <class T>
T store_from_double(double v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    float f = static_cast<float>(v);
    if (static_cast<double>(f) != v && f == f && !std::isinf(f)) {
      uint32_t bits = prism_sdk_f32_to_bits(f);
      if (std::fabs(static_cast<double>(f)) > std::fabs(v)) --bits;  // truncate toward zero
      bits |= 1u;                                                    // sticky bit
      f = prism_sdk_bits_to_f32(bits);
    }
    return Num<T>::store(f);
  } else {
    return static_cast<T>(v);
  }
}

struct Stream {
  uint64_t seed;
  uint64_t offset;
};

// Calls gen(index, pointers) for every element, pointers[0] = the output.
template <class Gen>
void for_each_index(const StridedPlan& plan, const Gen& gen) {
  parallel_range(plan.numel, kParallelGrain / 8, [&](int64_t b, int64_t e) {
    int64_t next = b;
    auto run = [&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        char* ptrs[kMaxOperands];
        for (int k = 0; k < plan.nops; ++k) ptrs[k] = p[k] + i * s[k];
        gen(static_cast<uint64_t>(next + i), ptrs);
      }
      next += n;
    };
    for_each_run(plan, b, e, run);
  });
}

prism_plugin_error* read_stream(const prism_kernel_call* c, Stream& st) {
  const prism_attr* seed = nullptr;
  const prism_attr* offset = nullptr;
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "seed", PRISM_ATTR_INT, &seed));
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "offset", PRISM_ATTR_INT, &offset));
  st.seed = static_cast<uint64_t>(prism_sdk_attr_as_int(seed));
  st.offset = static_cast<uint64_t>(prism_sdk_attr_as_int(offset));
  return nullptr;
}

void out_plan(StridedPlan& plan, const prism_kernel_call* c) {
  const prism_tensor_desc* ops[1] = {&c->outputs[0]};
  build_plan(plan, ops, 1, /*reorder=*/false);
}

prism_plugin_error* run_uniform(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  Stream st;
  PRISM_CPU_RETURN_IF_ERROR(read_stream(c, st));
  const double low = prism_sdk_attr_float(c, "low", 0.0);
  const double high = prism_sdk_attr_float(c, "high", 1.0);
  StridedPlan plan;
  out_plan(plan, c);
  const int32_t dt = c->outputs[0].dtype;
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (kIsFloat<T>) {
      using C = Compute<T>;
      const C lo = static_cast<C>(low), span = static_cast<C>(high) - static_cast<C>(low);
      for_each_index(plan, [&](uint64_t i, char** p) {
        const prism_philox4x32 r = prism_philox_element(st.seed, st.offset, i);
        C u;
        if constexpr (std::is_same_v<C, double>) {
          u = prism_philox_uniform_f64(r.v[0], r.v[1]);
        } else {
          u = prism_philox_uniform_f32(r.v[0]);
        }
        *reinterpret_cast<T*>(p[0]) = Num<T>::store(lo + span * u);
      });
      return nullptr;
    }
    return unsupported_dtype(c, dt);
  });
}

prism_plugin_error* run_normal(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  Stream st;
  PRISM_CPU_RETURN_IF_ERROR(read_stream(c, st));
  const double mean = prism_sdk_attr_float(c, "mean", 0.0);
  const double stdev = prism_sdk_attr_float(c, "std", 1.0);
  StridedPlan plan;
  out_plan(plan, c);
  const int32_t dt = c->outputs[0].dtype;
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (kIsFloat<T>) {
      for_each_index(plan, [&](uint64_t i, char** p) {
        const double z = prism_philox_normal_f64(prism_philox_element(st.seed, st.offset, i));
        *reinterpret_cast<T*>(p[0]) = store_from_double<T>(mean + stdev * z);
      });
      return nullptr;
    }
    return unsupported_dtype(c, dt);
  });
}

prism_plugin_error* run_randint(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  Stream st;
  PRISM_CPU_RETURN_IF_ERROR(read_stream(c, st));
  const prism_attr* high_attr = nullptr;
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "high", PRISM_ATTR_INT, &high_attr));
  const int64_t low = prism_sdk_attr_int(c, "low", 0);
  const int64_t high = prism_sdk_attr_as_int(high_attr);
  if (high <= low) {
    return PRISM_CPU_INVALID("philox_randint: high (%lld) must be greater than low (%lld)",
                             static_cast<long long>(high), static_cast<long long>(low));
  }
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  StridedPlan plan;
  out_plan(plan, c);
  const int32_t dt = c->outputs[0].dtype;
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (!kIsBool<T>) {
      for_each_index(plan, [&](uint64_t i, char** p) {
        const int64_t v = prism_philox_randint(prism_philox_element(st.seed, st.offset, i), low, range);
        *reinterpret_cast<T*>(p[0]) = cast<T>(v);
      });
      return nullptr;
    }
    return unsupported_dtype(c, dt);
  });
}

prism_plugin_error* run_bernoulli(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 1, 1));
  Stream st;
  PRISM_CPU_RETURN_IF_ERROR(read_stream(c, st));
  const int32_t dt = c->outputs[0].dtype;
  StridedPlan plan;
  if (c->n_inputs == 0) {
    const prism_attr* p_attr = nullptr;
    PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "p", PRISM_ATTR_FLOAT, &p_attr));
    const double prob = prism_sdk_attr_as_float(p_attr);
    out_plan(plan, c);
    return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
      using T = PRISM_CPU_TYPE_OF(tag_);
      for_each_index(plan, [&](uint64_t i, char** p) {
        const bool v = prism_philox_bernoulli(prism_philox_element(st.seed, st.offset, i), prob) != 0;
        *reinterpret_cast<T*>(p[0]) = cast<T>(v);
      });
      return nullptr;
      return unsupported_dtype(c, dt);
    });
  }
  const prism_tensor_desc& pt = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, pt, "p"));
  if (!prism_sdk_dtype_is_float(pt.dtype)) {
    return PRISM_CPU_INVALID("philox_bernoulli: p must be a float tensor, got %s",
                             prism_sdk_dtype_name(pt.dtype));
  }
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &pt};
  build_plan(plan, ops, 2, /*reorder=*/false);
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using Out = PRISM_CPU_TYPE_OF(tag_);
    return dispatch_dtype(c, pt.dtype, [&](auto p_tag_) -> prism_plugin_error* {
      using T = PRISM_CPU_TYPE_OF(p_tag_);
      if constexpr (kIsFloat<T>) {
        for_each_index(plan, [&](uint64_t i, char** p) {
          const double prob = static_cast<double>(Num<T>::load(*reinterpret_cast<const T*>(p[1])));
          const bool v = prism_philox_bernoulli(prism_philox_element(st.seed, st.offset, i), prob) != 0;
          *reinterpret_cast<Out*>(p[0]) = cast<Out>(v);
        });
        return nullptr;
      }
      return unsupported_dtype(c, pt.dtype);
    });
  });
}

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "philox_uniform", kMaskFloat, nullptr, run_uniform},
    {sizeof(prism_kernel_def), "philox_normal", kMaskFloat, nullptr, run_normal},
    {sizeof(prism_kernel_def), "philox_randint", kMaskNumeric, nullptr, run_randint},
    {sizeof(prism_kernel_def), "philox_bernoulli", kMaskAll, nullptr, run_bernoulli},
};

}  // namespace

KernelList random_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
