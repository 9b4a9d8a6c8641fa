// autograd_test.cpp — autograd through prism.hpp: the canonical examples, graph names, grad modes, hooks, an
// MLP checked against finite differences.
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using prism::Tensor;
using prism_test::near_values;
using prism_test::Sizes;
using prism_test::throws_with;
using prism_test::values;

Tensor f64(const std::vector<double>& v, const prism::IntList& sizes = prism::IntList()) {
  return Tensor::from_vector(v, sizes);
}

// ===========================================================================
// The canonical examples
// ===========================================================================

TEST(Autograd, PolynomialGradient) {
  // y = x^2 + 3x + 1 at x = 2: dy/dx = 2x + 3 = 7.
  Tensor x = Tensor::scalar(2.0).requires_grad_();
  Tensor y = x * x + 3 * x + 1;
  EXPECT_TRUE(near_values(y, {11}));
  EXPECT_FALSE(x.grad().defined());
  y.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), prism::kFloat32);
  EXPECT_TRUE(near_values(x.grad(), {7}));
}

TEST(Autograd, SumOfProductGivesTheOtherFactor) {
  Tensor a = f64({1, 2, 3}).requires_grad_();
  Tensor b = f64({4, 5, 6}).requires_grad_();
  Tensor loss = (a * b).sum();
  loss.backward();
  EXPECT_TRUE(near_values(a.grad(), {4, 5, 6}));
  EXPECT_TRUE(near_values(b.grad(), {1, 2, 3}));
}

TEST(Autograd, GradientsAccumulateUntilZeroed) {
  Tensor a = f64({1, 2, 3}).requires_grad_();
  Tensor b = f64({4, 5, 6});
  (a * b).sum().backward();
  (a * b).sum().backward();
  EXPECT_TRUE(near_values(a.grad(), {8, 10, 12}));
  EXPECT_FALSE(b.grad().defined());  // b does not require grad

  Tensor g = a.grad();
  a.zero_grad(/*set_to_none=*/false);  // zeroes the same tensor in place
  EXPECT_TRUE(near_values(g, {0, 0, 0}));
  EXPECT_TRUE(near_values(a.grad(), {0, 0, 0}));
  a.zero_grad();  // default: set_to_none, as PyTorch 2
  EXPECT_FALSE(a.grad().defined());
  (a * b).sum().backward();
  EXPECT_TRUE(near_values(a.grad(), {4, 5, 6}));

  a.set_grad(f64({-1, -1, -1}));
  EXPECT_TRUE(near_values(a.grad(), {-1, -1, -1}));
  EXPECT_TRUE(throws_with([&] { a.set_grad(f64({1, 2})); }, {"shape"}));
  a.set_grad(Tensor());
  EXPECT_FALSE(a.grad().defined());
}

TEST(Autograd, LeafAndRequiresGrad) {
  Tensor x = f64({1, 2});
  EXPECT_FALSE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  Tensor& same = x.requires_grad_();
  EXPECT_EQ(&same, &x);
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  Tensor y = x * 2;
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(throws_with([&] { y.requires_grad_(false); }, {"leaf", "detach"}));
  x.requires_grad_(false);
  EXPECT_FALSE(x.requires_grad());
  EXPECT_TRUE(throws_with([&] { Tensor::arange(3, prism::kInt64).requires_grad_(); }, {"floating point"}));
  Tensor undefined;
  EXPECT_THROW(undefined.requires_grad(), prism::Error);
  EXPECT_THROW(undefined.backward(), prism::Error);
}

// ===========================================================================
// Graph inspection
// ===========================================================================

TEST(Autograd, GradFnNames) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor w = f64({1, 1, 1});
  EXPECT_EQ(x.grad_fn_name(), "");
  EXPECT_TRUE(x.grad_fn_next().empty());
  Tensor m = x * w;
  EXPECT_EQ(m.grad_fn_name(), "MulBackward");
  EXPECT_EQ(m.grad_fn_next(), (std::vector<std::string>{"AccumulateGrad", ""}));
  Tensor s = m + x;
  EXPECT_EQ(s.grad_fn_name(), "AddBackward");
  EXPECT_EQ(s.grad_fn_next(), (std::vector<std::string>{"MulBackward", "AccumulateGrad"}));
  Tensor z = s.sum();
  EXPECT_EQ(z.grad_fn_name(), "SumBackward");
  EXPECT_EQ(z.grad_fn_next(), (std::vector<std::string>{"AddBackward"}));
  EXPECT_EQ((x.square()).grad_fn_name(), "SquareBackward");
  EXPECT_EQ(x.sqrt().grad_fn_name(), "SqrtBackward");
  EXPECT_EQ(x.relu().grad_fn_name(), "ReluBackward");
  EXPECT_EQ(x.view({3, 1}).grad_fn_name(), "ViewBackward");
  // mean is a composite: sum, then a division by the count.
  EXPECT_EQ(x.mean().grad_fn_name(), "DivBackward");
  EXPECT_EQ(x.mean().grad_fn_next(), (std::vector<std::string>{"SumBackward", ""}));
  EXPECT_EQ((x - w).grad_fn_name(), "SubBackward");
  EXPECT_EQ(prism::cat({x, x}).grad_fn_name(), "CatBackward");
  EXPECT_EQ(prism::cat({x, x}).grad_fn_next(),
            (std::vector<std::string>{"AccumulateGrad", "AccumulateGrad"}));
}

TEST(Autograd, MatmulIsACompositeEndingInReshapeOfBmm) {
  // There is no MatmulBackward: matmul lifts its operands to 3-D (expand,
  // reshape), runs bmm and reshapes the result back.
  Tensor a = Tensor::ones({2, 3}, prism::kFloat64).requires_grad_();
  Tensor b = Tensor::ones({3, 4}, prism::kFloat64).requires_grad_();
  Tensor c = a.matmul(b);
  EXPECT_EQ(c.grad_fn_name(), "ReshapeBackward");
  EXPECT_EQ(c.grad_fn_next(), (std::vector<std::string>{"BmmBackward"}));
  EXPECT_EQ(prism::bmm(a.unsqueeze(0), b.unsqueeze(0)).grad_fn_name(), "BmmBackward");
  c.sum().backward();
  EXPECT_TRUE(near_values(a.grad(), std::vector<double>(6, 4)));   // row sums of b
  EXPECT_TRUE(near_values(b.grad(), std::vector<double>(12, 2)));  // column sums of a
}

// ===========================================================================
// Grad modes: detach, no_grad, anomaly
// ===========================================================================

TEST(Autograd, DetachStopsTheGraph) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.grad_fn_name(), "");
  EXPECT_FALSE((d * 2).requires_grad());
  // Same storage: a write through the detached tensor shows in x.
  {
    prism::NoGradGuard no_grad;
    d.fill_(5);
  }
  EXPECT_TRUE(near_values(x, {5, 5, 5}));
  // Only the attached path gets a gradient.
  (x * x.detach()).sum().backward();
  EXPECT_TRUE(near_values(x.grad(), {5, 5, 5}));

  Tensor h = x * 2;
  Tensor& self = h.detach_();
  EXPECT_EQ(&self, &h);
  EXPECT_FALSE(h.requires_grad());
  EXPECT_TRUE(h.is_leaf());
  EXPECT_EQ(h.grad_fn_name(), "");
}

TEST(Autograd, NoGradGuardNestsAndRestores) {
  Tensor x = f64({1, 2}).requires_grad_();
  EXPECT_TRUE(prism::is_grad_enabled());
  {
    prism::NoGradGuard outer;
    EXPECT_FALSE(prism::is_grad_enabled());
    Tensor y = x * x;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn_name(), "");
    {
      prism::NoGradGuard inner;
      EXPECT_FALSE(prism::is_grad_enabled());
    }
    EXPECT_FALSE(prism::is_grad_enabled());
    x.sub_(Tensor::scalar(1.0, prism::kFloat64));  // in place on a leaf: allowed here (optimizer step)
  }
  EXPECT_TRUE(prism::is_grad_enabled());
  EXPECT_TRUE(near_values(x, {0, 1}));
  // Outside no_grad the same update is refused.
  EXPECT_TRUE(throws_with([&] { x.sub_(1.0); }, {"leaf", "in-place"}));
  // The guard also restores while unwinding.
  try {
    prism::NoGradGuard guard;
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(prism::is_grad_enabled());
}

TEST(Autograd, AnomalyModeNamesTheBackwardFunction) {
  Tensor x = f64({0}).requires_grad_();
  Tensor y = x.sqrt();
  EXPECT_FALSE(prism::is_anomaly_enabled());
  {
    prism::AnomalyGuard anomaly;
    EXPECT_TRUE(prism::is_anomaly_enabled());
    EXPECT_TRUE(throws_with([&] { y.backward(Tensor(), /*retain_graph=*/true); },
                            {"SqrtBackward", "sqrt", "nan or inf"}));
    {
      prism::AnomalyGuard off(false);
      EXPECT_FALSE(prism::is_anomaly_enabled());
    }
    EXPECT_TRUE(prism::is_anomaly_enabled());
  }
  EXPECT_FALSE(prism::is_anomaly_enabled());
  y.backward();  // anomaly mode off: the infinity lands in .grad
  double g = x.grad().item<double>();
  EXPECT_TRUE(std::isinf(g) && g > 0);
}

// ===========================================================================
// Failures a user meets
// ===========================================================================

TEST(Autograd, InPlaceChangeOfASavedTensor) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor h = x * 2;
  Tensor loss = (h * h).sum();  // MulBackward saves h
  h += 1;
  EXPECT_TRUE(throws_with([&] { loss.backward(); }, {"modified by an inplace operation", "MulBackward"}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, BackwardErrors) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor y = x * 2;
  EXPECT_TRUE(throws_with([&] { y.backward(); }, {"scalar outputs"}));
  EXPECT_TRUE(throws_with([&] { y.backward(f64({1, 1})); }, {"shape"}));
  y.backward(f64({1, 10, 100}));  // vector-Jacobian product
  EXPECT_TRUE(near_values(x.grad(), {2, 20, 200}));
  x.zero_grad();

  EXPECT_TRUE(throws_with([&] { f64({1}).backward(); }, {"does not require grad"}));

  Tensor loss = (x * x).sum();
  loss.backward(Tensor(), /*retain_graph=*/true);
  loss.backward();
  EXPECT_TRUE(near_values(x.grad(), {4, 8, 12}));
  EXPECT_TRUE(throws_with([&] { loss.backward(); }, {"second time", "retain_graph"}));
  EXPECT_TRUE(near_values(x.grad(), {4, 8, 12}));
}

TEST(Autograd, RetainGrad) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor h = x * 3;
  Tensor k = h * 1;
  h.retain_grad();
  (h * h).sum().backward();
  EXPECT_TRUE(near_values(h.grad(), {6, 12}));
  EXPECT_FALSE(k.grad().defined());
  EXPECT_TRUE(near_values(x.grad(), {18, 36}));
  EXPECT_TRUE(throws_with([&] { f64({1}).retain_grad(); }, {"requires_grad"}));
}

// ===========================================================================
// autograd::grad
// ===========================================================================

TEST(Autograd, GradFunction) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor u = f64({7}).requires_grad_();
  Tensor sq = x * x;
  Tensor y = sq.sum();
  std::vector<Tensor> g =
      prism::autograd::grad({y}, {x, u}, {}, /*retain_graph=*/true, /*allow_unused=*/true);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_TRUE(near_values(g[0], {2, 4, 6}));
  EXPECT_FALSE(g[1].defined());
  EXPECT_FALSE(x.grad().defined());  // .grad untouched
  EXPECT_TRUE(throws_with([&] { prism::autograd::grad({y}, {u}, {}, true); }, {"allow_unused"}));
  // A non-scalar output takes a grad_output.
  EXPECT_TRUE(near_values(prism::autograd::grad(sq, x, f64({1, 0, 1}), true), {2, 0, 6}));
  EXPECT_TRUE(throws_with(
      [&] {
        prism::autograd::grad({sq}, {x}, {Tensor(), Tensor()}, true);
      },
      {"grad_outputs"}));
  // Second derivatives are not recorded (the engine runs under no_grad), so
  // the result is a plain tensor.
  Tensor gx = prism::autograd::grad(y, x, Tensor(), true);
  EXPECT_FALSE(gx.requires_grad());
  y.backward();
  EXPECT_TRUE(near_values(x.grad(), {2, 4, 6}));
}

// ===========================================================================
// Hooks
// ===========================================================================

TEST(Autograd, HookReplacesTheGradient) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  int calls = 0;
  int32_t h = x.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 10;
  });
  (x * x).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(near_values(x.grad(), {20, 40, 60}));
  x.remove_hook(h);
  x.zero_grad();
  (x * x).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(near_values(x.grad(), {2, 4, 6}));
}

TEST(Autograd, HookOnAnIntermediateAndObservingHooks) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor h = x * 2;
  std::vector<double> seen;
  int32_t observe = h.register_hook([&](const Tensor& g) { seen = values(g); });  // void: keeps the gradient
  int32_t halve =
      h.register_hook(std::function<Tensor(const Tensor&)>([](const Tensor& g) { return g * 0.5; }));
  EXPECT_NE(observe, halve);
  (h * h).sum().backward();
  EXPECT_EQ(seen, (std::vector<double>{4, 8}));  // 2h
  EXPECT_TRUE(near_values(x.grad(), {4, 8}));    // 0.5 * 2h * 2
  h.remove_hook(observe);
  h.remove_hook(halve);
  EXPECT_TRUE(throws_with([&] { f64({1}).register_hook([](const Tensor&) {}); }, {"require"}));
}

TEST(Autograd, RemoveHookFreesTheCallable) {
  Tensor x = f64({1}).requires_grad_();
  auto token = std::make_shared<int>(0);
  int32_t h = x.register_hook([token](const Tensor&) { ++*token; });
  EXPECT_EQ(token.use_count(), 2);  // one copy, owned by the registry
  (x * 1).sum().backward();
  EXPECT_EQ(*token, 1);
  x.remove_hook(h);
  EXPECT_EQ(token.use_count(), 1);
}

TEST(Autograd, HookExceptionsPropagateUnchanged) {
  Tensor x = f64({1, 2}).requires_grad_();
  int32_t h = x.register_hook([](const Tensor& g) -> Tensor {
    if (!(g.abs() < 100).all().item<bool>()) throw std::runtime_error("gradient too large");
    return Tensor();
  });
  (x * 2).sum().backward();
  EXPECT_TRUE(near_values(x.grad(), {2, 2}));
  try {
    (x * 1000).sum().backward();
    FAIL() << "expected the hook's exception";
  } catch (const prism::Error& e) {
    FAIL() << "the hook's exception became a prism::Error: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gradient too large");
  }
  EXPECT_TRUE(near_values(x.grad(), {2, 2}));  // the aborted backward added nothing
  x.remove_hook(h);

  // A prism::Error thrown by a hook keeps its status.
  h = x.register_hook([](const Tensor& g) -> Tensor { return g.view({3}); });  // 2 elements cannot view as 3
  EXPECT_TRUE(throws_with([&] { (x * 1).sum().backward(); }, {"view"}));
  x.remove_hook(h);
  (x * 1).sum().backward();  // later backward calls are unaffected
  EXPECT_TRUE(near_values(x.grad(), {3, 3}));
}

// ===========================================================================
// A two-layer MLP against finite differences
// ===========================================================================

// loss = mean((relu(X W1 + b1) W2 + b2 - T)^2), all float64.
struct Mlp {
  Tensor X, T, W1, b1, W2, b2;

  Tensor loss() const {
    Tensor hidden = (X.matmul(W1) + b1).relu();  // (4, 5)
    Tensor out = hidden.matmul(W2) + b2;         // (4, 2)
    Tensor diff = out - T;
    return (diff * diff).mean();
  }
};

// Central difference of the loss with respect to every element of `p`.
std::vector<double> numeric_grad(const Mlp& m, const Tensor& p, double eps = 1e-6) {
  prism::NoGradGuard no_grad;
  Tensor flat = p.view({-1});
  std::vector<double> out;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    Tensor e = flat.narrow(0, i, 1);
    double orig = e.item<double>();
    e.fill_(orig + eps);
    double up = m.loss().item<double>();
    e.fill_(orig - eps);
    double down = m.loss().item<double>();
    e.fill_(orig);
    out.push_back((up - down) / (2 * eps));
  }
  return out;
}

TEST(Autograd, MlpMatchesFiniteDifferences) {
  prism::manual_seed(7);
  Mlp m;
  m.X = prism::randn({4, 3}, prism::kFloat64);
  m.T = prism::randn({4, 2}, prism::kFloat64);
  m.W1 = prism::randn({3, 5}, prism::kFloat64).requires_grad_();
  m.b1 = (prism::randn({5}, prism::kFloat64) * 0.1).requires_grad_();
  m.W2 = prism::randn({5, 2}, prism::kFloat64).requires_grad_();
  m.b2 = prism::zeros({2}, prism::kFloat64).requires_grad_();

  Tensor loss = m.loss();
  EXPECT_EQ(loss.grad_fn_name(), "DivBackward");  // mean = sum / count
  loss.backward();
  for (const Tensor* p : {&m.W1, &m.b1, &m.W2, &m.b2}) {
    ASSERT_TRUE(p->grad().defined());
    EXPECT_EQ(p->grad().sizes(), p->sizes());
    EXPECT_TRUE(near_values(p->grad(), numeric_grad(m, *p), 1e-6));
  }
  // The check means something only when gradients flow through both layers.
  EXPECT_GT(m.W1.grad().abs().max().item<double>(), 1e-2);
  EXPECT_GT(m.W2.grad().abs().max().item<double>(), 1e-2);
  EXPECT_FALSE(m.X.grad().defined());
}

}  // namespace
