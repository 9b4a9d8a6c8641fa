// autograd_test.cpp — the autograd engine: canonical examples, finite-difference checks of every table entry,
// errors.
#include <cmath>
#include <functional>

#include "core/autograd/autograd.hpp"
#include "tests/unit/gradcheck.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::values;
namespace ag = autograd;

class AutogradTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
  static Tensor leaf(const std::vector<double>& v, Dims sizes) {
    Tensor t = test::tensor<double>(v, sizes);
    ag::set_requires_grad(t, true);
    return t;
  }
  static Tensor S(double v) { return scalar_tensor(v, PRISM_DTYPE_F64, cpu()); }
};

TEST_F(AutogradTest, PolynomialGradient) {
  Tensor x = leaf({2.0}, Dims{});
  Tensor y = binary("add", binary("add", binary("pow", x, S(2)), binary("mul", S(3), x)), S(1));
  EXPECT_EQ(ag::grad_fn(y)->name(), "AddBackward");
  ag::backward({y}, {}, false);
  EXPECT_EQ(values(ag::grad(x)), (std::vector<double>{7.0}));
}

TEST_F(AutogradTest, ProductSumAndAccumulation) {
  Tensor a = leaf({1, 2, 3}, Dims{3});
  Tensor b = leaf({4, 5, 6}, Dims{3});
  Tensor s = reduce("sum", binary("mul", a, b), {}, false);
  ag::backward({s}, {}, true);
  EXPECT_EQ(values(ag::grad(a)), (std::vector<double>{4, 5, 6}));
  ag::backward({s}, {}, false);  // accumulates
  EXPECT_EQ(values(ag::grad(a)), (std::vector<double>{8, 10, 12}));
  expect_error([&] { ag::backward({s}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"a second time", "retain_graph"});
  ag::zero_grad(a, false);
  EXPECT_EQ(values(ag::grad(a)), (std::vector<double>{0, 0, 0}));
  ag::zero_grad(a, true);
  EXPECT_EQ(ag::grad(a), nullptr);
}

TEST_F(AutogradTest, DetachAndNoGradStopRecording) {
  Tensor x = leaf({1, 2}, Dims{2});
  Tensor d = ag::detach(x);
  EXPECT_FALSE(ag::requires_grad(binary("mul", d, d)));
  EXPECT_EQ(d->storage, x->storage);
  {
    ag::NoGradGuard ng;
    Tensor y = binary("mul", x, x);
    EXPECT_FALSE(ag::requires_grad(y));
    EXPECT_EQ(y->autograd, nullptr);  // no graph memory at all
  }
  EXPECT_TRUE(ag::requires_grad(binary("mul", x, x)));
}

TEST_F(AutogradTest, InPlaceRules) {
  Tensor x = leaf({1, 2}, Dims{2});
  expect_error([&] { binary_("add", x, S(1)); }, PRISM_ERROR_INVALID_ARGUMENT, {"leaf", "in-place"});
  Tensor y = binary("mul", x, S(2));
  Tensor z = binary("mul", y, y);  // saves y
  binary_("add", y, S(1));
  expect_error([&] { ag::backward({reduce("sum", z, {}, false)}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"modified by an inplace operation", "MulBackward", "version"});
  // An in-place op on a non-leaf that nobody saved is differentiable.
  Tensor w = binary("mul", x, S(3));
  unary_("exp", w);
  ag::backward({reduce("sum", w, {}, false)}, {}, false);
  EXPECT_NEAR(values(ag::grad(x))[0], 3 * std::exp(3.0), 1e-9);
  // In-place through a view of a leaf, or of a graph tensor, is refused.
  expect_error([&] { binary_("add", narrow(x, 0, 0, 1), S(1)); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"view of a leaf"});
  Tensor h = binary("mul", x, S(2));
  expect_error([&] { binary_("mul", narrow(h, 0, 0, 1), S(10)); }, PRISM_ERROR_INVALID_ARGUMENT, {"view"});
  EXPECT_EQ(values(x), (std::vector<double>{1, 2}));
}

TEST_F(AutogradTest, GraphsWithoutSavedTensorsRunTwice) {
  Tensor x = leaf({1, 2, 3}, Dims{3});
  Tensor loss = reduce("sum", binary("add", x, S(1)), {}, false);
  ag::backward({loss}, {}, false);
  ag::backward({loss}, {}, false);
  EXPECT_EQ(values(ag::grad(x)), (std::vector<double>{2, 2, 2}));
}

TEST_F(AutogradTest, BadBackwardCalls) {
  Tensor x = leaf({1, 2}, Dims{2});
  expect_error([&] { ag::backward({binary("mul", x, x)}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"only for scalar outputs"});
  Tensor plain = test::tensor<double>({1}, Dims{1});
  expect_error([&] { ag::backward({plain}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"does not require grad"});
  expect_error([&] { ag::set_requires_grad(test::tensor<int64_t>({1}, Dims{1}), true); },
               PRISM_ERROR_INVALID_ARGUMENT, {"floating point"});
  expect_error(
      [&] {
        ag::backward({binary("mul", x, x)}, {test::tensor<double>({1, 1, 1}, Dims{3})}, false);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"mismatch in shape"});
}

TEST_F(AutogradTest, HooksGradAndAnomaly) {
  Tensor x = leaf({1, 2}, Dims{2});
  Tensor y = binary("mul", x, S(3));
  int h = ag::register_hook(
      y, [](const Tensor& g) { return binary("mul", g, scalar_tensor(10, g->dtype, g->device())); });
  (void)h;
  ag::backward({reduce("sum", y, {}, false)}, {}, false);
  EXPECT_EQ(values(ag::grad(x)), (std::vector<double>{30, 30}));
  // grad() leaves .grad alone.
  Tensor q = reduce("sum", unary("square", x), {}, false);
  auto g = ag::grad({q}, {}, {x}, false, false);
  EXPECT_EQ(values(g[0]), (std::vector<double>{2, 4}));
  EXPECT_EQ(values(ag::grad(x)), (std::vector<double>{30, 30}));
  // Anomaly mode names the backward function and the forward op.
  ag::set_anomaly_enabled(true);
  Tensor z = leaf({0.0}, Dims{1});
  Tensor r = reduce("sum", unary("sqrt", z), {}, false);
  expect_error([&] { ag::backward({r}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"SqrtBackward", "'sqrt'"});
  ag::set_anomaly_enabled(false);
  // Retained non-leaf grads.
  Tensor a = leaf({1, 2}, Dims{2});
  Tensor m = binary("mul", a, a);
  ag::retain_grad(m);
  ag::backward({reduce("sum", m, {}, false)}, {}, false);
  EXPECT_EQ(values(ag::grad(m)), (std::vector<double>{1, 1}));
}

TEST_F(AutogradTest, LeafGradientsOwnTheirMemory) {
  // A transposed weight's gradient reaches the leaf contiguous, and .grad never
  // shares memory with a tensor someone else holds (here a hook keeps it).
  Tensor w = leaf({1, 2, 3, 4, 5, 6}, Dims{2, 3});
  Tensor x = test::tensor<double>({1, -1, 2, 0.5, 3, -2}, Dims{2, 3});
  Tensor kept;
  ag::register_hook(w, [&kept](const Tensor& g) {
    kept = g;
    return Tensor();
  });
  ag::backward({reduce("sum", matmul(x, transpose(w, 0, 1)), {}, false)}, {}, false);
  Tensor g = ag::grad(w);
  ASSERT_TRUE(g && kept);
  EXPECT_TRUE(g->is_contiguous());
  EXPECT_EQ(values(g), (std::vector<double>{1.5, 2, 0, 1.5, 2, 0}));
  ag::zero_grad(w, false);  // in place: kept must not change
  EXPECT_EQ(values(g), (std::vector<double>(6, 0.0)));
  EXPECT_EQ(values(kept), (std::vector<double>{1.5, 2, 0, 1.5, 2, 0}));
  // Without a hook the formula's result is taken over; a second backward adds into it.
  Tensor v = leaf({1, 2}, Dims{2});
  ag::backward({reduce("sum", binary("mul", v, v), {}, false)}, {}, false);
  Tensor gv = ag::grad(v);
  ag::backward({reduce("sum", binary("mul", v, v), {}, false)}, {}, false);
  EXPECT_EQ(values(ag::grad(v)), (std::vector<double>{4, 8}));
  EXPECT_EQ(ag::grad(v).get(), gv.get());
}

// ---- finite differences over the derivatives table ---------------------------------------------------

// gradcheck (tests/unit/gradcheck.hpp): d(sum(f(x) * w))/dx against central differences.
using test::gradcheck;

Tensor rnd(Dims sizes, double lo = -1.0, double hi = 1.0) {
  ag::NoGradGuard ng;
  Tensor u = rand(sizes, PRISM_DTYPE_F64, cpu());
  return binary("add", binary("mul", u, scalar_tensor(hi - lo, PRISM_DTYPE_F64, cpu())),
                scalar_tensor(lo, PRISM_DTYPE_F64, cpu()));
}

TEST_F(AutogradTest, FiniteDifferencesUnary) {
  manual_seed(1);
  const char* any_ops[] = {"neg",  "abs",     "exp",  "square", "sin", "cos",
                           "tanh", "sigmoid", "gelu", "silu",   "relu"};
  for (const char* op : any_ops) {
    gradcheck(op, [op](const std::vector<Tensor>& x) { return unary(op, x[0]); }, {rnd({2, 3})});
    // Non-contiguous input: a transposed view.
    gradcheck(op, [op](const std::vector<Tensor>& x) { return unary(op, transpose(x[0], 0, 1)); },
              {rnd({3, 2})});
  }
  const char* pos_ops[] = {"log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal"};
  for (const char* op : pos_ops)
    gradcheck(op, [op](const std::vector<Tensor>& x) { return unary(op, x[0]); }, {rnd({4}, 0.5, 2.0)});
}

TEST_F(AutogradTest, FiniteDifferencesBinaryWithBroadcasting) {
  manual_seed(2);
  const char* ops[] = {"add", "sub", "mul", "div", "maximum", "minimum"};
  for (const char* op : ops) {
    gradcheck(op, [op](const std::vector<Tensor>& x) { return binary(op, x[0], x[1], 0.5); },
              {rnd({2, 3}), rnd({3}, 0.5, 1.5)});
  }
  gradcheck("pow", [](const std::vector<Tensor>& x) { return binary("pow", x[0], x[1]); },
            {rnd({3}, 0.5, 2.0), rnd({2, 1}, -1, 2)});
  gradcheck(
      "remainder", [](const std::vector<Tensor>& x) { return binary("remainder", x[0], x[1]); },
      {rnd({3}, 0.1, 0.9), test::tensor<double>({2.5, 3.5, 4.5}, Dims{3})}, 1e-5);
  gradcheck("where",
            [](const std::vector<Tensor>& x) {
              Tensor c = compare("gt", x[0], scalar_tensor(0, PRISM_DTYPE_F64, cpu()));
              return where(c, x[0], x[1]);
            },
            {rnd({4}), rnd({4})});
  gradcheck("clamp",
            [](const std::vector<Tensor>& x) {
              double lo = -0.5, hi = 0.5;
              return clamp(x[0], &lo, &hi);
            },
            {test::tensor<double>({-0.9, -0.2, 0.3, 0.8}, Dims{4})});
}

TEST_F(AutogradTest, FiniteDifferencesReductionsAndComposites) {
  manual_seed(3);
  gradcheck("sum", [](const std::vector<Tensor>& x) { return reduce("sum", x[0], {1}, false); },
            {rnd({2, 3})});
  gradcheck("sum keepdim", [](const std::vector<Tensor>& x) { return reduce("sum", x[0], {0}, true); },
            {rnd({2, 3})});
  gradcheck("prod", [](const std::vector<Tensor>& x) { return reduce("prod", x[0], {0}, false); },
            {rnd({3, 2}, 0.5, 1.5)});
  gradcheck("amax", [](const std::vector<Tensor>& x) { return reduce("amax", x[0], {1}, false); },
            {rnd({2, 3})});
  gradcheck("amin", [](const std::vector<Tensor>& x) { return reduce("amin", x[0], {}, false); },
            {rnd({2, 3})});
  gradcheck("mean", [](const std::vector<Tensor>& x) { return mean(x[0], {0}, false); }, {rnd({3, 2})});
  gradcheck("var", [](const std::vector<Tensor>& x) { return var(x[0], {1}, 1, false); }, {rnd({2, 4})});
  gradcheck("std", [](const std::vector<Tensor>& x) { return std_(x[0], {}, 1, false); }, {rnd({5})});
  gradcheck("norm2", [](const std::vector<Tensor>& x) { return norm(x[0], 2, {}, false); }, {rnd({4})});
  gradcheck("norm3", [](const std::vector<Tensor>& x) { return norm(x[0], 3, {1}, false); },
            {rnd({2, 3}, 0.2, 1)});
  gradcheck("logsumexp", [](const std::vector<Tensor>& x) { return logsumexp(x[0], {1}, false); },
            {rnd({2, 3})});
}

TEST_F(AutogradTest, FiniteDifferencesLinalgViewsAndJoins) {
  manual_seed(4);
  gradcheck("matmul", [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
            {rnd({2, 3}), rnd({3, 2})});
  gradcheck("matmul batch", [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
            {rnd({2, 2, 3}), rnd({3})});
  gradcheck("matmul transposed",
            [](const std::vector<Tensor>& x) { return matmul(transpose(x[0], 0, 1), x[1]); },
            {rnd({3, 2}), rnd({3, 4})});
  // Column-major operands get their gradients in their own layout (Note [bmm gradient layout]).
  gradcheck("matmul both transposed",
            [](const std::vector<Tensor>& x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); },
            {rnd({3, 2}), rnd({4, 3})});
  gradcheck("bmm transposed batch",
            [](const std::vector<Tensor>& x) { return bmm(x[0], transpose(x[1], 1, 2)); },
            {rnd({2, 2, 3}), rnd({2, 4, 3})});
  gradcheck("cat",
            [](const std::vector<Tensor>& x) {
              return cat({x[0], x[1]}, 1);
            },
            {rnd({2, 1}), rnd({2, 3})});
  gradcheck("stack",
            [](const std::vector<Tensor>& x) {
              return stack({x[0], x[1]}, 0);
            },
            {rnd({3}), rnd({3})});
  gradcheck("views",
            [](const std::vector<Tensor>& x) {
              Tensor v = reshape(permute(x[0], Dims{1, 0, 2}), Dims{3, 4});
              return unsqueeze(squeeze(narrow(select(v, 0, 1), 0, 1, 2)), 0);
            },
            {rnd({2, 3, 2})});
  gradcheck("slice+diagonal",
            [](const std::vector<Tensor>& x) { return diagonal(slice(x[0], 1, 0, 4, 2), 0, 0, 1); },
            {rnd({3, 4})});
  gradcheck("expand", [](const std::vector<Tensor>& x) { return expand(x[0], Dims{2, 3}); }, {rnd({3})});
  gradcheck("unfold", [](const std::vector<Tensor>& x) { return unfold(x[0], 0, 3, 1); }, {rnd({5})});
  gradcheck("as_strided",
            [](const std::vector<Tensor>& x) {
              return as_strided(x[0], Dims{2, 2}, Dims{1, 1}, 0);
            },
            {rnd({3})});
  gradcheck(
      "to",
      [](const std::vector<Tensor>& x) { return to_dtype(to_dtype(x[0], PRISM_DTYPE_F32), PRISM_DTYPE_F64); },
      {test::tensor<double>({0.5, 0.25}, Dims{2})},
      5e-2);  // float32 rounding dominates the difference quotient
  gradcheck("split", [](const std::vector<Tensor>& x) { return split(x[0], 2, 0)[1]; }, {rnd({5})});
}

}  // namespace
}  // namespace prism

namespace prism {
namespace {

// prod's gradient with zeros in the input is the product of the other
// elements of each group (one zero: that element gets it; two: all zero), as
// PyTorch, over one dim, several dims and all dims, on a transposed input.
TEST(AutogradProd, ZerosGetTheProductOfTheOthers) {
  std::vector<double> v = {1.5, 0.0, -2.0, 0.5, 3.0, 0.0, 1.25, -0.75, 2.0, 0.0, -1.0, 0.8};
  Tensor x = test::tensor<double>(v, Dims{2, 3, 2});
  test::gradcheck("prod dim 1",
                  [](const std::vector<Tensor>& in) { return reduce("prod", in[0], {1}, false); }, {x});
  test::gradcheck("prod dims 0,2",
                  [](const std::vector<Tensor>& in) {
                    return reduce("prod", in[0], {0, 2}, true);
                  },
                  {x});
  test::gradcheck("prod all", [](const std::vector<Tensor>& in) { return reduce("prod", in[0], {}, false); },
                  {test::tensor<double>({2.0, 0.0, 3.0, 4.0}, Dims{2, 2})});
  test::gradcheck(
      "prod transposed",
      [](const std::vector<Tensor>& in) { return reduce("prod", transpose(in[0], 0, 2), {0}, false); }, {x});
  // One zero in the group: exactly the product of the others there, zero elsewhere.
  Tensor y = test::tensor<double>({2.0, 0.0, 3.0}, Dims{3});
  autograd::set_requires_grad(y, true);
  autograd::backward({reduce("prod", y, {}, false)}, {nullptr}, false);
  EXPECT_EQ(values(autograd::grad(y)), (std::vector<double>{0.0, 6.0, 0.0}));
}

}  // namespace
}  // namespace prism
