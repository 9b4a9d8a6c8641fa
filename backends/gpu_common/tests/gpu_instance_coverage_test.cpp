// gpu_instance_coverage_test.cpp — every (op, dtype) the CUDA and ROCm plugins register has a compiled kernel
// instance: runs the shared front end (prism_gk_frontend.hpp) over a recording backend and looks each
// requested kernel key up in the generated instance list (prism_gk_instance_keys.h).
//
// Without a GPU the plugins never launch, so this is what makes sure a launch on a GPU cannot miss its
// kernel (which the plugin would report as UNIMPLEMENTED): the front end's keys and gen_instances.cmake's
// instances must agree for every dtype of every registered kernel.
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "prism_gk_frontend.hpp"
#include "prism_gk_instance_keys.h"

namespace {

using prism::gk::Frontend;
using prism::gk::KArg;
using prism::gk::KernelKey;
using prism::gk::Kind;

using Key = std::tuple<int, int, int, int>;

std::vector<Key> g_requested;
std::string g_last_error;
int g_error_token;

prism_plugin_error* record_error(prism_status, const char* message) {
  g_last_error = message != nullptr ? message : "";
  return reinterpret_cast<prism_plugin_error*>(&g_error_token);
}
void ignore_log(prism_log_level, const char*, const char*) {}

const prism_host_table kHost = {sizeof(prism_host_table), PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR,
                                record_error, ignore_log};

Key key_of(const KernelKey& k) {
  return Key{static_cast<int>(k.kind), k.op, k.dt0, k.dt1};
}

// Records the keys the front end asks for, with the work-group choice of the GPU plugin for reductions.
struct Recorder {
  static constexpr uint32_t kBmmMask = prism::gk::kMaskFloat;
  static constexpr uint32_t kHalfMask = 0;  // the CUDA/ROCm tables: f16/bf16 copies only
  static const prism_host_table* host() { return &kHost; }
  static prism_plugin_error* elementwise(void*, const prism_kernel_call*, const KernelKey& key,
                                         const prism_gk_iter&, void* const*, int, const KArg*, size_t) {
    g_requested.push_back(key_of(key));
    return nullptr;
  }
  static prism_plugin_error* reduce(void*, const prism_kernel_call* c, int op, const prism_gk_reduce& r) {
    g_requested.push_back(key_of({Kind::kReduce, op, c->inputs[0].dtype, r.n_red >= 32 ? 64 : 1}));
    return nullptr;
  }
  static prism_plugin_error* bmm(void*, const prism_kernel_call* c, const prism_gk_gemm&) {
    g_requested.push_back(key_of({Kind::kGemm, 0, c->outputs[0].dtype, -1}));
    return nullptr;
  }
  static int supports(void*, const prism_kernel_call*) { return 1; }
  static int supports_random(void*, const prism_kernel_call*) { return 1; }
  static int supports_bmm(void*, const prism_kernel_call*) { return 1; }
};

// A call with `n_in` inputs and one output over contiguous tensors of `sizes`.
struct Call {
  std::vector<int64_t> sizes, out_sizes, strides, out_strides;
  std::vector<prism_tensor_desc> in, out;
  std::vector<prism_attr> attrs;
  prism_kernel_call call{};

  Call(const char* op, const std::vector<int32_t>& in_dtypes, int32_t out_dtype,
       std::vector<int64_t> in_sizes, std::vector<int64_t> o_sizes)
      : sizes(std::move(in_sizes)), out_sizes(std::move(o_sizes)) {
    strides = contiguous(sizes);
    out_strides = contiguous(out_sizes);
    for (int32_t dt : in_dtypes) in.push_back(desc(dt, sizes, strides));
    out.push_back(desc(out_dtype, out_sizes, out_strides));
    call.struct_size = sizeof call;
    call.op = op;
    call.inputs = in.data();
    call.n_inputs = in.size();
    call.outputs = out.data();
    call.n_outputs = 1;
  }
  static std::vector<int64_t> contiguous(const std::vector<int64_t>& s) {
    std::vector<int64_t> st(s.size(), 1);
    for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
    return st;
  }
  static prism_tensor_desc desc(int32_t dt, const std::vector<int64_t>& s, const std::vector<int64_t>& st) {
    prism_tensor_desc d{};
    d.struct_size = sizeof d;
    d.buffer = &g_error_token;  // never dereferenced: the recorder launches nothing
    d.dtype = dt;
    d.ndim = static_cast<int32_t>(s.size());
    d.sizes = s.data();
    d.strides = st.data();
    return d;
  }
  Call& attr(const char* name, int32_t kind, int64_t i, double f) {
    prism_attr a{};
    a.struct_size = sizeof a;
    a.name = name;
    a.kind = kind;
    a.i = i;
    a.f = f;
    attrs.push_back(a);
    call.attrs = attrs.data();
    call.n_attrs = attrs.size();
    return *this;
  }
};

bool in(const char* op, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (std::strcmp(op, n) == 0) return true;
  }
  return false;
}

// The calls a plugin can receive for kernel `def` with key dtype `dt`.
std::vector<Call> calls_for(const char* op, int32_t dt) {
  std::vector<Call> out;
  const int32_t b = PRISM_DTYPE_BOOL;
  if (std::strcmp(op, "fill") == 0) {
    out.emplace_back(op, std::vector<int32_t>{}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
    out.back().attr("value", PRISM_ATTR_SCALAR, 1, 1.0);
  } else if (std::strcmp(op, "copy") == 0) {
    for (int32_t src = 0; src < PRISM_NUM_DTYPES; ++src) {
      if (prism::gk::kernel_dtype(src))
        out.emplace_back(op, std::vector<int32_t>{src}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
    }
  } else if (in(op, {"add", "sub", "mul", "remainder", "pow", "maximum", "minimum"})) {
    out.emplace_back(op, std::vector<int32_t>{dt, dt}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
  } else if (std::strcmp(op, "div") == 0) {
    for (int mode = 0; mode < 3; ++mode) {
      out.emplace_back(op, std::vector<int32_t>{dt, dt}, dt, std::vector<int64_t>{4},
                       std::vector<int64_t>{4});
      out.back().attr("rounding_mode", PRISM_ATTR_INT, mode, 0.0);
    }
  } else if (in(op, {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"})) {
    out.emplace_back(op, std::vector<int32_t>{dt, dt}, b, std::vector<int64_t>{4}, std::vector<int64_t>{4});
  } else if (std::strcmp(op, "logical_not") == 0) {
    out.emplace_back(op, std::vector<int32_t>{dt}, b, std::vector<int64_t>{4}, std::vector<int64_t>{4});
  } else if (std::strcmp(op, "where") == 0) {
    out.emplace_back(op, std::vector<int32_t>{b, dt, dt}, dt, std::vector<int64_t>{4},
                     std::vector<int64_t>{4});
  } else if (std::strcmp(op, "clamp") == 0) {
    out.emplace_back(op, std::vector<int32_t>{dt}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
    out.back().attr("min", PRISM_ATTR_SCALAR, 0, 0.0).attr("max", PRISM_ATTR_SCALAR, 2, 2.0);
  } else if (in(op, {"sum", "prod", "amax", "amin", "argmax", "argmin", "all", "any"})) {
    const int32_t o = in(op, {"argmax", "argmin"}) ? PRISM_DTYPE_I64 : in(op, {"all", "any"}) ? b : dt;
    for (int64_t n : {4, 64}) {  // one work-item and a 64-wide work-group per output
      out.emplace_back(op, std::vector<int32_t>{dt}, o, std::vector<int64_t>{3, n},
                       std::vector<int64_t>{3, 1});
      out.back().attr("dim", PRISM_ATTR_INT, 1, 0.0);
    }
  } else if (std::strncmp(op, "philox_", 7) == 0) {
    out.emplace_back(op, std::vector<int32_t>{}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
    out.back()
        .attr("seed", PRISM_ATTR_INT, 1, 0)
        .attr("offset", PRISM_ATTR_INT, 0, 0)
        .attr("high", PRISM_ATTR_INT, 9, 0);
    out.back().attr("p", PRISM_ATTR_FLOAT, 0, 0.5);
    if (std::strcmp(op, "philox_bernoulli") == 0) {
      for (int32_t p : {PRISM_DTYPE_F32, PRISM_DTYPE_F64}) {
        out.emplace_back(op, std::vector<int32_t>{p}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
        out.back().attr("seed", PRISM_ATTR_INT, 1, 0).attr("offset", PRISM_ATTR_INT, 0, 0);
      }
    }
  } else if (std::strcmp(op, "bmm") == 0) {
    out.emplace_back(op, std::vector<int32_t>{dt, dt}, dt, std::vector<int64_t>{2, 3, 3},
                     std::vector<int64_t>{2, 3, 3});
  } else {  // unary
    out.emplace_back(op, std::vector<int32_t>{dt}, dt, std::vector<int64_t>{4}, std::vector<int64_t>{4});
  }
  return out;
}

TEST(GpuInstances, EveryRegisteredKernelHasAnInstance) {
  std::set<Key> have;
  for (const auto& k : prism_gk_instance_keys) have.insert(Key{k[0], k[1], k[2], k[3]});
  size_t n_defs = 0, n_calls = 0;
  const prism_kernel_def* defs = Frontend<Recorder>::kernels(&n_defs);
  ASSERT_GT(n_defs, 50u);
  for (size_t i = 0; i < n_defs; ++i) {
    for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
      if ((defs[i].dtype_mask & PRISM_DTYPE_BIT(dt)) == 0) continue;
      for (Call& c : calls_for(defs[i].op, dt)) {
        g_requested.clear();
        prism_plugin_error* err = defs[i].run(nullptr, &c.call);
        ASSERT_EQ(err, nullptr) << defs[i].op << " " << prism_sdk_dtype_name(dt) << ": " << g_last_error;
        ASSERT_EQ(g_requested.size(), 1u) << defs[i].op << " " << prism_sdk_dtype_name(dt);
        const Key& k = g_requested[0];
        EXPECT_TRUE(have.count(k) == 1)
            << defs[i].op << " " << prism_sdk_dtype_name(dt) << ": no instance for kind " << std::get<0>(k)
            << ", op " << std::get<1>(k) << ", dtype " << std::get<2>(k) << ", dtype2 " << std::get<3>(k);
        ++n_calls;
      }
    }
  }
  std::printf("  %zu kernel defs, %zu calls, %zu instances\n", n_defs, n_calls, have.size());
  EXPECT_GT(n_calls, 300u);
}

}  // namespace
