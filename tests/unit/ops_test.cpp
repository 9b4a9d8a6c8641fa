// ops_test.cpp — op front-ends: type promotion, broadcasting, in-place rules, reductions, matmul, joining.
#include <cmath>
#include <limits>

#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::tensor;
using test::values;

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

TEST_F(OpsTest, ResultTypeFollowsTorch) {
  Tensor i32 = full(Dims{2}, 1, PRISM_DTYPE_I32, cpu());
  Tensor f16 = full(Dims{2}, 1, PRISM_DTYPE_F16, cpu());
  Tensor u8 = full(Dims{2}, 1, PRISM_DTYPE_U8, cpu());
  Tensor i8 = full(Dims{2}, 1, PRISM_DTYPE_I8, cpu());
  Tensor f64_0d = scalar_tensor(1, PRISM_DTYPE_F64, cpu());
  Tensor i64_0d = scalar_tensor(1, PRISM_DTYPE_I64, cpu());
  EXPECT_EQ(binary("add", i32, f16)->dtype, PRISM_DTYPE_F16);
  EXPECT_EQ(binary("add", u8, i8)->dtype, PRISM_DTYPE_I16);
  EXPECT_EQ(binary("add", f16, f64_0d)->dtype, PRISM_DTYPE_F16);  // 0-d does not widen
  EXPECT_EQ(binary("add", i32, f64_0d)->dtype, PRISM_DTYPE_F64);  // but raises the category
  EXPECT_EQ(binary("add", u8, i64_0d)->dtype, PRISM_DTYPE_U8);
  EXPECT_EQ(binary("div", i32, i32)->dtype, PRISM_DTYPE_F32);
  EXPECT_EQ(unary("exp", i32)->dtype, PRISM_DTYPE_F32);
  EXPECT_EQ(compare("lt", i32, f16)->dtype, PRISM_DTYPE_BOOL);
}

TEST_F(OpsTest, BroadcastingAndItsError) {
  Tensor a = tensor<float>({1, 2, 3}, Dims{3, 1});
  Tensor b = tensor<float>({10, 20}, Dims{2});
  Tensor c = binary("add", a, b, 2.0);
  EXPECT_EQ(c->sizes, (Dims{3, 2}));
  EXPECT_EQ(values(c), (std::vector<double>{21, 41, 22, 42, 23, 43}));
  Tensor x = full(Dims{2, 3}, 1, PRISM_DTYPE_F32, cpu());
  Tensor y = full(Dims{4}, 1, PRISM_DTYPE_F32, cpu());
  expect_error([&] { binary("add", x, y); }, PRISM_ERROR_INVALID_ARGUMENT, {"[2, 3]", "[4]", "dimension 1"});
  EXPECT_EQ(values(x)[0], 1);  // untouched
}

TEST_F(OpsTest, InPlaceRules) {
  Tensor a = tensor<float>({1, 2, 3, 4}, Dims{2, 2});
  binary_("mul", a, tensor<float>({10, 100}, Dims{2}));
  EXPECT_EQ(values(a), (std::vector<double>{10, 200, 30, 400}));
  Tensor i = tensor<int64_t>({1, 2}, Dims{2});
  expect_error(
      [&] {
        binary_("add", i, tensor<float>({0.5, 0.5}, Dims{2}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"float32", "can't be cast", "int64"});
  expect_error([&] { binary_("add", tensor<float>({1}, Dims{1}), a); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"doesn't match the broadcast shape"});
  // Partial overlap is refused, as PyTorch does (Note [Memory overlap]); the tensor is unchanged.
  Tensor m = tensor<float>({1, 2, 3, 4}, Dims{2, 2});
  expect_error([&] { binary_("add", m, transpose(m, 0, 1)); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"refer to a single memory location", "clone()"});
  EXPECT_EQ(values(m), (std::vector<double>{1, 2, 3, 4}));
  binary_("add", m, m);  // the same view element for element: allowed
  EXPECT_EQ(values(m), (std::vector<double>{2, 4, 6, 8}));
  expect_error([&] { unary_("neg", expand(tensor<float>({1}, Dims{1}), Dims{3})); },
               PRISM_ERROR_INVALID_ARGUMENT, {"more than one element"});
}

TEST_F(OpsTest, DivisionModesAndRemainder) {
  Tensor a = tensor<float>({7, -7, 7, -7}, Dims{4});
  Tensor b = tensor<float>({2, 2, -2, -2}, Dims{4});
  EXPECT_EQ(values(div_mode(a, b, PRISM_ROUNDING_FLOOR)), (std::vector<double>{3, -4, -4, 3}));
  EXPECT_EQ(values(div_mode(a, b, PRISM_ROUNDING_TRUNC)), (std::vector<double>{3, -3, -3, 3}));
  EXPECT_EQ(values(binary("remainder", a, b)), (std::vector<double>{1, 1, -1, -1}));
  Tensor ia = tensor<int64_t>({7}, Dims{1}), iz = tensor<int64_t>({0}, Dims{1});
  expect_error([&] { div_mode(ia, iz, PRISM_ROUNDING_FLOOR); }, PRISM_ERROR_INVALID_ARGUMENT, {"div"});
}

TEST_F(OpsTest, Reductions) {
  Tensor x = reshape(arange(0, 24, 1, PRISM_DTYPE_F32, cpu()), Dims{2, 3, 4});
  Tensor s = reduce("sum", x, {0, 2}, false);
  EXPECT_EQ(s->sizes, (Dims{3}));
  EXPECT_EQ(values(s), (std::vector<double>{60, 92, 124}));
  EXPECT_EQ(reduce("sum", x, {-1}, true)->sizes, (Dims{2, 3, 1}));
  EXPECT_EQ(reduce("sum", tensor<int32_t>({1, 2}, Dims{2}), {}, false)->dtype, PRISM_DTYPE_I64);
  EXPECT_EQ(values(mean(x, {}, false)), (std::vector<double>{11.5}));
  EXPECT_NEAR(values(var(x, {}, 1, false))[0], 50.0, 1e-4);
  EXPECT_NEAR(values(std_(x, {}, 0, false))[0], std::sqrt(47.916666), 1e-4);
  EXPECT_NEAR(values(norm(tensor<float>({3, -4}, Dims{2}), 2, {}, false))[0], 5, 1e-6);
  EXPECT_EQ(values(norm(tensor<float>({3, -4}, Dims{2}), INFINITY, {}, false))[0], 4);
  EXPECT_EQ(values(norm(tensor<float>({3, 0, -4}, Dims{3}), 0, {}, false))[0], 2);
  Tensor big = tensor<float>({1000, 1000}, Dims{2});
  EXPECT_NEAR(values(logsumexp(big, {}, false))[0], 1000 + std::log(2.0), 1e-3);
  Tensor ninf = full(Dims{2}, -INFINITY, PRISM_DTYPE_F32, cpu());
  EXPECT_EQ(values(logsumexp(ninf, {}, false))[0], -INFINITY);
  auto mm = max_min_dim(true, tensor<float>({1, 5, 5, 2}, Dims{2, 2}), 1, false);
  EXPECT_EQ(values(mm.first), (std::vector<double>{5, 5}));
  EXPECT_EQ(values(mm.second), (std::vector<double>{1, 0}));
  EXPECT_EQ(values(arg_reduce("argmax", tensor<float>({1, 9, 9}, Dims{3}), PRISM_DIM_NONE, false))[0], 1);
  expect_error(
      [&] {
        reduce("amax", empty(Dims{0, 2}, PRISM_DTYPE_F32, cpu()), {0}, false);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"amax", "non-zero size"});
  expect_error([&] { reduce("sum", x, {1, 1}, false); }, PRISM_ERROR_INVALID_ARGUMENT, {"multiple times"});
  expect_error([&] { mean(tensor<int64_t>({1}, Dims{1}), {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"floating point"});
  EXPECT_EQ(values(reduce("sum", empty(Dims{0}, PRISM_DTYPE_F32, cpu()), {}, false)),
            (std::vector<double>{0}));
  EXPECT_EQ(values(reduce("all", tensor<float>({1, 0}, Dims{2}), {}, false)), (std::vector<double>{0}));
  EXPECT_EQ(values(reduce("any", tensor<float>({1, 0}, Dims{2}), {}, false)), (std::vector<double>{1}));
}

TEST_F(OpsTest, MatmulShapeRules) {
  auto ones = [](Dims d) { return full(d, 1, PRISM_DTYPE_F32, cpu()); };
  EXPECT_EQ(matmul(ones({3}), ones({3}))->dim(), 0);
  EXPECT_EQ(values(matmul(ones({3}), ones({3}))), (std::vector<double>{3}));
  EXPECT_EQ(matmul(ones({2, 3}), ones({3}))->sizes, (Dims{2}));
  EXPECT_EQ(matmul(ones({3}), ones({3, 4}))->sizes, (Dims{4}));
  EXPECT_EQ(matmul(ones({5, 1, 2, 3}), ones({4, 3, 6}))->sizes, (Dims{5, 4, 2, 6}));
  EXPECT_EQ(matmul(ones({2, 3}), ones({7, 3, 4}))->sizes, (Dims{7, 2, 4}));
  Tensor a = tensor<float>({1, 2, 3, 4, 5, 6}, Dims{2, 3});
  Tensor r = matmul(a, transpose(a, 0, 1));
  EXPECT_EQ(values(r), (std::vector<double>{14, 32, 32, 77}));
  expect_error(
      [&] {
        matmul(ones({2, 3}), ones({4, 5}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"[2, 3]", "[4, 5]", "3 != 4"});
  expect_error(
      [&] {
        matmul(ones({2, 3}), full(Dims{3}, 1, PRISM_DTYPE_F64, cpu()));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"same dtype"});
  EXPECT_EQ(values(matmul(ones({2, 0}), ones({0, 2}))), (std::vector<double>{0, 0, 0, 0}));
}

TEST_F(OpsTest, JoiningAndSplitting) {
  Tensor a = tensor<float>({1, 2}, Dims{1, 2});
  Tensor b = tensor<int64_t>({3, 4, 5, 6}, Dims{2, 2});
  Tensor c = cat({a, b}, 0);
  EXPECT_EQ(c->dtype, PRISM_DTYPE_F32);
  EXPECT_EQ(values(c), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  expect_error([&] { cat({a, b}, 1); }, PRISM_ERROR_INVALID_ARGUMENT, {"Expected size 1 but got size 2"});
  Tensor s = stack({a, a}, 1);
  EXPECT_EQ(s->sizes, (Dims{1, 2, 2}));
  expect_error([&] { stack({a, b}, 0); }, PRISM_ERROR_INVALID_ARGUMENT, {"equal size"});
  Tensor x = arange(0, 10, 1, PRISM_DTYPE_F32, cpu());
  auto parts = split(x, 4, 0);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2]->sizes, (Dims{2}));
  EXPECT_EQ(parts[1]->storage, x->storage);
  auto ch = chunk(arange(0, 6, 1, PRISM_DTYPE_F32, cpu()), 4, 0);
  EXPECT_EQ(ch.size(), 3u);  // torch.chunk returns fewer pieces here
  EXPECT_TRUE(equal(x, clone(x)));
  EXPECT_FALSE(equal(x, reshape(x, Dims{2, 5})));
  EXPECT_TRUE(allclose(tensor<float>({1, INFINITY}, Dims{2}), tensor<float>({1 + 1e-7f, INFINITY}, Dims{2}),
                       1e-5, 1e-8, false));
  EXPECT_FALSE(allclose(tensor<float>({NAN}, Dims{1}), tensor<float>({NAN}, Dims{1}), 1e-5, 1e-8, false));
  EXPECT_TRUE(allclose(tensor<float>({NAN}, Dims{1}), tensor<float>({NAN}, Dims{1}), 1e-5, 1e-8, true));
}

TEST_F(OpsTest, WhereAndClamp) {
  Tensor c = to_dtype(tensor<float>({1, 0, 1}, Dims{3}), PRISM_DTYPE_BOOL);
  Tensor r = where(c, tensor<float>({1, 2, 3}, Dims{3}), scalar_tensor(-1, PRISM_DTYPE_F32, cpu()));
  EXPECT_EQ(values(r), (std::vector<double>{1, -1, 3}));
  double lo = 0, hi = 2;
  EXPECT_EQ(values(clamp(tensor<float>({-1, 1, 5}, Dims{3}), &lo, &hi)), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(values(clamp(tensor<float>({-1, 1, 5}, Dims{3}), nullptr, &hi)), (std::vector<double>{-1, 1, 2}));
  expect_error([&] { clamp(c, &lo, nullptr); }, PRISM_ERROR_INVALID_ARGUMENT, {"bool"});
  expect_error([&] { where(tensor<float>({1}, Dims{1}), c, c); }, PRISM_ERROR_INVALID_ARGUMENT, {"bool"});
}

}  // namespace
}  // namespace prism
