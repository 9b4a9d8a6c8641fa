// attention_fused_test.cpp — the fused scaled_dot_product_attention kernel (CPU plugin) against the composite
// softmax(QKᵀ·scale + M)·V: masks, causal, L != S, batch/head broadcasting, strided inputs, dtypes,
// gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "../prism_require_devices.h"
#include "prism/nn.hpp"
#include "test_util.hpp"

namespace {

using prism::Tensor;
namespace F = prism::nn::functional;

// Largest |a - b|; a NaN on one side only counts as infinitely far.
double diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to(prism::kFloat64).to_vector<double>(),
                      y = b.to(prism::kFloat64).to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (std::isnan(x[i]) != std::isnan(y[i])) return std::numeric_limits<double>::infinity();
      continue;
    }
    m = std::max(m, std::fabs(x[i] - y[i]));
  }
  return m;
}

// The composite written out with primitives (what devices without the kernel run).
Tensor explicit_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                          double scale) {
  Tensor s = q.matmul(k.transpose(-2, -1)) * scale;
  const double inf = std::numeric_limits<double>::infinity();
  if (causal) {
    const int64_t L = s.sizes()[s.dim() - 2], S = s.sizes()[s.dim() - 1];
    Tensor keep = Tensor::ones({L, S}).tril();
    s = prism::where(keep.to(prism::kBool), s, -inf);
  }
  if (mask.defined()) s = mask.dtype() == prism::kBool ? prism::where(mask, s, -inf) : s + mask.to(s.dtype());
  return F::softmax(s, -1).matmul(v);
}

// Names of the ops the profiler saw while fn ran.
template <class Fn>
std::vector<std::string> ops_run(Fn&& fn) {
  std::vector<std::string> names;
  {
    prism::profiler::Profile prof;
    fn();
    prof.stop();
  }
  for (const auto& e : prism::profiler::events())
    if (!e.is_range) names.push_back(e.name);
  return names;
}

bool ran(const std::vector<std::string>& names, const std::string& op) {
  for (const auto& n : names)
    if (n == op) return true;
  return false;
}

// Sets an environment variable for a scope (restores the old value).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

struct Shapes {
  const char* name;
  std::vector<int64_t> q, k, v;
};

TEST(FusedAttention, MatchesTheCompositeOnCpu) {
  prism::manual_seed(21);
  const std::vector<Shapes> shapes = {
      {"3-d L<S", {2, 5, 8}, {2, 9, 8}, {2, 9, 3}},
      {"4-d L>S", {2, 3, 9, 4}, {2, 3, 5, 4}, {2, 3, 5, 6}},
      {"2-d", {7, 16}, {7, 16}, {7, 16}},
      {"broadcast heads", {2, 3, 6, 8}, {1, 3, 70, 8}, {2, 1, 70, 8}},
      {"long", {1, 2, 130, 32}, {1, 2, 150, 32}, {1, 2, 150, 16}},
  };
  for (prism::Dtype dt : {prism::kFloat32, prism::kFloat64}) {
    const double tol = dt == prism::kFloat64 ? 1e-12 : 2e-5;
    for (const Shapes& sh : shapes) {
      SCOPED_TRACE(sh.name);
      Tensor q = Tensor::randn(sh.q, dt), k = Tensor::randn(sh.k, dt), v = Tensor::randn(sh.v, dt);
      const int64_t L = sh.q[sh.q.size() - 2], S = sh.k[sh.k.size() - 2], E = sh.q.back();
      Tensor fmask = Tensor::randn({L, S}, dt);
      Tensor bmask = Tensor::rand({L, S}) > 0.4;
      {
        prism::NoGradGuard ng;
        bmask.select(0, 0).fill_(0);  // row 0 fully masked: NaN on both paths
      }
      struct Case {
        const char* name;
        Tensor mask;
        bool causal;
        std::optional<double> scale;
      };
      const std::vector<Case> cases = {{"plain", Tensor(), false, std::nullopt},
                                       {"float mask", fmask, false, 0.3},
                                       {"bool mask", bmask, false, std::nullopt},
                                       {"causal", Tensor(), true, std::nullopt}};
      for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Tensor out;
        std::vector<std::string> names =
            ops_run([&] { out = F::scaled_dot_product_attention(q, k, v, c.mask, 0.0, c.causal, c.scale); });
        EXPECT_TRUE(ran(names, "scaled_dot_product_attention"));
        EXPECT_FALSE(ran(names, "softmax") || ran(names, "bmm"))
            << "the fused kernel should replace the composite";
        const double scale = c.scale ? *c.scale : 1.0 / std::sqrt(static_cast<double>(E));
        Tensor want = explicit_attention(q, k, v, c.mask, c.causal, scale);
        EXPECT_EQ(out.sizes(), want.sizes());
        EXPECT_EQ(out.dtype(), dt);
        EXPECT_LT(diff(out, want), tol);
      }
    }
  }
}

TEST(FusedAttention, StridedAndBroadcastMaskInputs) {
  // The MultiheadAttention layout: (B, L, H, E) viewed as (B, H, L, E), a
  // (B, 1, L, S) mask broadcast over the heads, v sliced from a wider tensor.
  prism::manual_seed(22);
  const int64_t B = 2, H = 3, L = 6, S = 11, E = 8;
  Tensor q = Tensor::randn({B, L, H, E}).transpose(1, 2);
  Tensor k = Tensor::randn({B, S, H, E}).transpose(1, 2);
  Tensor v = Tensor::randn({B, H, S, 2 * E}).narrow(3, 3, E);
  ASSERT_FALSE(q.is_contiguous());
  ASSERT_FALSE(v.is_contiguous());
  Tensor mask = Tensor::randn({B, 1, L, S});
  Tensor bmask = (Tensor::rand({S, L}) > 0.3).transpose(0, 1);  // strided bool mask
  {
    prism::NoGradGuard ng;
    bmask.select(1, 0).fill_(1);
  }
  const double scale = 1.0 / std::sqrt(8.0);
  EXPECT_LT(diff(F::scaled_dot_product_attention(q, k, v, mask),
                 explicit_attention(q.contiguous(), k.contiguous(), v.contiguous(), mask, false, scale)),
            2e-5);
  EXPECT_LT(diff(F::scaled_dot_product_attention(q, k, v, bmask),
                 explicit_attention(q.contiguous(), k.contiguous(), v.contiguous(), bmask, false, scale)),
            2e-5);
}

TEST(FusedAttention, HalfPrecisionComputesInFloat) {
  prism::manual_seed(23);
  Tensor q = Tensor::randn({2, 2, 9, 16}), k = Tensor::randn({2, 2, 12, 16}),
         v = Tensor::randn({2, 2, 12, 8});
  for (prism::Dtype dt : {prism::kFloat16, prism::kBFloat16}) {
    Tensor out = F::scaled_dot_product_attention(q.to(dt), k.to(dt), v.to(dt), Tensor(), 0.0, true);
    EXPECT_EQ(out.dtype(), dt);
    // Reference in f32 from the rounded inputs; the only extra error is the output's rounding.
    Tensor want = explicit_attention(q.to(dt).to(prism::kFloat32), k.to(dt).to(prism::kFloat32),
                                     v.to(dt).to(prism::kFloat32), Tensor(), true, 0.25);
    EXPECT_LT(diff(out, want), dt == prism::kFloat16 ? 4e-3 : 3e-2);
  }
}

TEST(FusedAttention, DropoutAndEmptyInputsUseTheComposite) {
  prism::manual_seed(24);
  Tensor q = Tensor::randn({1, 4, 8}), k = Tensor::randn({1, 6, 8}), v = Tensor::randn({1, 6, 8});
  std::vector<std::string> names = ops_run([&] { F::scaled_dot_product_attention(q, k, v, Tensor(), 0.25); });
  EXPECT_TRUE(ran(names, "softmax"));
  EXPECT_FALSE(ran(names, "scaled_dot_product_attention"));
  // S = 0: the composite's zeros, as before.
  Tensor z = F::scaled_dot_product_attention(q, Tensor::randn({1, 0, 8}), Tensor::randn({1, 0, 5}));
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_TRUE(prism_test::near_values(z, std::vector<double>(20, 0.0), 0.0));
}

TEST(FusedAttention, SmallCallsThatNeedGradientsUseTheComposite) {
  // Below PRISM_ATTENTION_RECOMPUTE_ELEMENTS (default 2^24 weights) a call
  // that needs gradients runs the composite (Note [Fused attention kernel]).
  prism::manual_seed(28);
  Tensor q = Tensor::randn({2, 5, 8}).requires_grad_(true), k = Tensor::randn({2, 6, 8}),
         v = Tensor::randn({2, 6, 3});
  std::vector<std::string> names = ops_run([&] { F::scaled_dot_product_attention(q, k, v); });
  EXPECT_TRUE(ran(names, "bmm"));
  EXPECT_FALSE(ran(names, "scaled_dot_product_attention"));
  {
    prism::NoGradGuard ng;
    names = ops_run([&] { F::scaled_dot_product_attention(q, k, v); });
    EXPECT_TRUE(ran(names, "scaled_dot_product_attention"));
  }
  ScopedEnv env("PRISM_ATTENTION_RECOMPUTE_ELEMENTS", "60");  // 2 x 5 x 6 weights
  names = ops_run([&] { F::scaled_dot_product_attention(q, k, v); });
  EXPECT_TRUE(ran(names, "scaled_dot_product_attention"));
  EXPECT_FALSE(ran(names, "bmm"));
  names = ops_run([&] { F::scaled_dot_product_attention(q, k.narrow(1, 0, 5), v.narrow(1, 0, 5)); });
  EXPECT_FALSE(ran(names, "scaled_dot_product_attention"));  // 50 < 60
}

TEST(FusedAttention, GradientsMatchTheComposite) {
  // With the threshold at 0 the forward runs the kernel and backward
  // recomputes the weights (Note [Fused attention kernel]). float64 so the
  // comparison is tight.
  ScopedEnv env("PRISM_ATTENTION_RECOMPUTE_ELEMENTS", "0");
  prism::manual_seed(25);
  auto leaf = [](const std::vector<int64_t>& s) {
    return Tensor::randn(s, prism::kFloat64).requires_grad_(true);
  };
  struct Case {
    const char* name;
    bool causal;
    int mask;  // 0 none, 1 float (requires grad, broadcast over batch), 2 bool
  };
  for (const Case& c : {Case{"plain", false, 0}, Case{"float mask", false, 1}, Case{"bool mask", false, 2},
                        Case{"causal", true, 0}}) {
    SCOPED_TRACE(c.name);
    // k broadcast over the batch dim: its gradient is summed back.
    Tensor q = leaf({2, 3, 5, 8}), k = leaf({1, 3, 7, 8}), v = leaf({2, 3, 7, 4});
    Tensor mask;
    if (c.mask == 1) mask = leaf({5, 7});
    if (c.mask == 2) mask = (Tensor::rand({5, 7}) > 0.3).logical_or(Tensor::eye(5, 7).to(prism::kBool));
    Tensor gout = Tensor::randn({2, 3, 5, 4}, prism::kFloat64);
    std::vector<Tensor> wrt = {q, k, v};
    if (c.mask == 1) wrt.push_back(mask);
    Tensor out;
    std::vector<std::string> names =
        ops_run([&] { out = F::scaled_dot_product_attention(q, k, v, mask, 0.0, c.causal); });
    EXPECT_TRUE(ran(names, "scaled_dot_product_attention"));
    std::vector<Tensor> g1 = prism::autograd::grad({out}, wrt, {gout});
    Tensor ref = explicit_attention(q, k, v, mask, c.causal, 1.0 / std::sqrt(8.0));
    EXPECT_LT(diff(out, ref), 1e-12);
    std::vector<Tensor> g2 = prism::autograd::grad({ref}, wrt, {gout});
    ASSERT_EQ(g1.size(), g2.size());
    for (size_t i = 0; i < g1.size(); ++i) {
      EXPECT_EQ(g1[i].sizes(), wrt[i].sizes()) << "input " << i;
      EXPECT_LT(diff(g1[i], g2[i]), 1e-12) << "input " << i;
    }
  }
}

TEST(FusedAttention, GradientsWithAFloat32MaskOnFloat64Inputs) {
  // The mask is cast to the query's dtype for the kernel; its gradient comes back in f32.
  ScopedEnv env("PRISM_ATTENTION_RECOMPUTE_ELEMENTS", "0");
  prism::manual_seed(26);
  Tensor q = Tensor::randn({3, 4, 8}, prism::kFloat64).requires_grad_(true);
  Tensor k = Tensor::randn({3, 6, 8}, prism::kFloat64), v = Tensor::randn({3, 6, 2}, prism::kFloat64);
  Tensor mask = Tensor::randn({4, 6}).requires_grad_(true);
  Tensor out;
  EXPECT_TRUE(ran(ops_run([&] { out = F::scaled_dot_product_attention(q, k, v, mask); }),
                  "scaled_dot_product_attention"));
  prism::sum(out).backward();
  Tensor q2 = q.detach().requires_grad_(true), m2 = mask.detach().requires_grad_(true);
  prism::sum(explicit_attention(q2, k, v, m2, false, 1.0 / std::sqrt(8.0))).backward();
  EXPECT_EQ(mask.grad().dtype(), prism::kFloat32);
  EXPECT_LT(diff(q.grad(), q2.grad()), 1e-12);
  EXPECT_LT(diff(mask.grad(), m2.grad()), 1e-6);
}

}  // namespace

namespace {

TEST(FusedAttention, OtherDevicesRunTheCompositeWithTheSameResult) {
  // opencl:0 and emu:0 register no attention kernel: the composite runs there
  // (its bmm calls among the ops, no fallback of the fused op to the CPU plugin).
  prism::load_default_plugins();
  prism::manual_seed(27);
  Tensor q = Tensor::randn({2, 3, 5, 8}), k = Tensor::randn({2, 3, 9, 8}), v = Tensor::randn({2, 3, 9, 4});
  Tensor mask = Tensor::rand({5, 9}) > 0.3;
  {
    prism::NoGradGuard ng;
    mask.select(1, 0).fill_(1);
  }
  Tensor on_cpu = F::scaled_dot_product_attention(q, k, v, mask);
  int ran_devices = 0;
  for (const char* dev : {"opencl:0", "emu:0"}) {
    bool found = false;
    for (const prism::DeviceInfo& d : prism::devices()) found = found || d.device == dev;
    if (!found) {
      EXPECT_FALSE(prism_test_device_required(dev)) << dev << " is required but not loaded";
      std::printf("skipped: %s is not loaded\n", dev);
      continue;
    }
    SCOPED_TRACE(dev);
    ++ran_devices;
    Tensor qq = q.to(dev), kk = k.to(dev), vv = v.to(dev), mm = mask.to(dev);
    Tensor out;
    std::vector<std::string> names = ops_run([&] { out = F::scaled_dot_product_attention(qq, kk, vv, mm); });
    EXPECT_TRUE(ran(names, "bmm"));  // Q·Kᵀ and P·V of the composite
    EXPECT_FALSE(ran(names, "scaled_dot_product_attention"));
    EXPECT_EQ(out.device().str(), dev);
    EXPECT_LT(diff(out.to("cpu"), on_cpu), 2e-5);
  }
  std::printf("compared on %d other device(s)\n", ran_devices);
}

}  // namespace
