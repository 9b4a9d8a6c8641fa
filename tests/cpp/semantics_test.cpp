// semantics_test.cpp — PyTorch semantics through prism.hpp: views, broadcasting, promotion, reductions,
// matmul, errors.
#include <cmath>
#include <limits>
#include <tuple>

#include "test_util.hpp"

namespace {

using prism::Dtype;
using prism::Tensor;
using prism_test::near_values;
using prism_test::Sizes;
using prism_test::throws_with;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ===========================================================================
// Views, strides, contiguity
// ===========================================================================

TEST(Views, TransposeIsANonContiguousView) {
  Tensor x = Tensor::arange(6).view({2, 3});
  Tensor t = x.t();
  EXPECT_EQ(t.strides(), (Sizes{1, 3}));
  EXPECT_FALSE(t.is_contiguous());
  t[0].fill_(-1);  // writes through to x
  EXPECT_TRUE(near_values(x, {-1, 1, 2, -1, 4, 5}));
}

TEST(Views, ViewNeedsCompatibleStridesAndSuggestsReshape) {
  Tensor t = Tensor::arange(6).view({2, 3}).t();
  EXPECT_TRUE(throws_with([&] { t.view({6}); }, {"view", "contiguous", "reshape"}));
  EXPECT_TRUE(near_values(t.reshape({6}), {0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(near_values(t.contiguous().view({6}), {0, 3, 1, 4, 2, 5}));
  // Splitting a dim of a non-contiguous tensor is still a valid view.
  EXPECT_EQ(Tensor::arange(12).view({3, 4}).t().view({2, 2, 3}).strides(), (Sizes{2, 1, 4}));
}

TEST(Views, ReshapeIsAViewWhenItCanBe) {
  Tensor x = Tensor::zeros({2, 3});
  Tensor r = x.reshape({3, 2});
  r.fill_(1);
  EXPECT_TRUE(near_values(x, {1, 1, 1, 1, 1, 1}));
  Tensor c = x.t().reshape({6});  // a copy
  c.fill_(5);
  EXPECT_TRUE(near_values(x, {1, 1, 1, 1, 1, 1}));
}

TEST(Views, OneInferredDimension) {
  Tensor x = Tensor::arange(12);
  EXPECT_EQ(x.view({-1, 4}).sizes(), (Sizes{3, 4}));
  EXPECT_EQ(x.view({2, -1, 2}).sizes(), (Sizes{2, 3, 2}));
  EXPECT_EQ(x.view({-1}).sizes(), (Sizes{12}));
  EXPECT_TRUE(throws_with([&] { x.view({-1, -1}); }, {"only one dimension can be inferred"}));
  EXPECT_TRUE(throws_with([&] { x.view({5, -1}); }, {"[5, -1]", "12"}));
  EXPECT_TRUE(throws_with([&] { x.view({5, 3}); }, {"[5, 3]"}));
  EXPECT_EQ(Tensor::zeros({0, 4}).view({-1, 2}).sizes(), (Sizes{0, 2}));
}

TEST(Views, NarrowSelectSliceShareStorage) {
  Tensor x = Tensor::arange(12).view({4, 3});
  Tensor rows = x.narrow(0, 1, 2);
  EXPECT_EQ(rows.storage_offset(), 3);
  EXPECT_TRUE(rows.is_contiguous());
  EXPECT_EQ(rows.view({6}).sizes(), (Sizes{6}));
  Tensor col = x.select(1, -1);
  EXPECT_EQ(col.strides(), (Sizes{3}));
  EXPECT_TRUE(near_values(col, {2, 5, 8, 11}));
  Tensor every_other = x.slice(0, 0, 4, 2);
  EXPECT_EQ(every_other.strides(), (Sizes{6, 1}));
  every_other.fill_(0);
  EXPECT_TRUE(near_values(x, {0, 0, 0, 3, 4, 5, 0, 0, 0, 9, 10, 11}));
  EXPECT_TRUE(throws_with([&] { x.select(0, 4); }, {"4", "size 4"}));
  EXPECT_TRUE(throws_with([&] { x.select(2, 0); }, {"dimension"}));
}

TEST(Views, ExpandUsesStrideZero) {
  Tensor col = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_EQ(e.strides(), (Sizes{0, 1, 0}));
  EXPECT_FALSE(e.is_contiguous());
  EXPECT_TRUE(near_values(e.sum({0, 2}), {8, 16, 24}));
  EXPECT_THROW(col.expand({3, 4, 5}), prism::Error);  // 3 cannot become 4
  // Writing through an expanded view aliases one element many times: refused, as PyTorch does.
  EXPECT_TRUE(throws_with([&] { e.add_(1); }, {"clone"}));
  EXPECT_TRUE(near_values(col, {1, 2, 3}));
}

TEST(Views, SqueezeUnsqueezeFlattenPermute) {
  Tensor x = Tensor::zeros({1, 3, 1, 2});
  EXPECT_EQ(x.squeeze().sizes(), (Sizes{3, 2}));
  EXPECT_EQ(x.squeeze(2).sizes(), (Sizes{1, 3, 2}));
  EXPECT_EQ(x.squeeze(1).sizes(), (Sizes{1, 3, 1, 2}));  // size 3: unchanged
  EXPECT_EQ(x.unsqueeze(-1).sizes(), (Sizes{1, 3, 1, 2, 1}));
  EXPECT_EQ(x.flatten(1, 2).sizes(), (Sizes{1, 3, 2}));
  EXPECT_EQ(x.permute({3, 1, 0, 2}).sizes(), (Sizes{2, 3, 1, 1}));
  EXPECT_THROW(x.permute({0, 1, 2}), prism::Error);
  EXPECT_THROW(x.permute({0, 1, 2, 2}), prism::Error);
}

// ===========================================================================
// Broadcasting
// ===========================================================================

TEST(Broadcasting, AlignsFromTheRight) {
  Tensor col = Tensor::arange(3).view({3, 1});
  Tensor row = Tensor::arange(4).view({1, 4});
  Tensor s = col + row;
  EXPECT_EQ(s.sizes(), (Sizes{3, 4}));
  EXPECT_TRUE(near_values(s, {0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5}));
  EXPECT_EQ((Tensor::zeros({5, 3, 4}) + Tensor::zeros({4})).sizes(), (Sizes{5, 3, 4}));
  EXPECT_EQ((Tensor::zeros({5, 3, 4}) + Tensor::zeros({3, 1})).sizes(), (Sizes{5, 3, 4}));
  EXPECT_EQ((Tensor::zeros({5, 1, 4}) * Tensor::zeros({2, 1})).sizes(), (Sizes{5, 2, 4}));
  EXPECT_EQ((Tensor::zeros({0, 3}) + Tensor::zeros({1, 3})).sizes(), (Sizes{0, 3}));
  EXPECT_EQ((Tensor::zeros({2, 3}) + Tensor::scalar(1)).sizes(), (Sizes{2, 3}));
}

TEST(Broadcasting, ErrorNamesShapesAndDimension) {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({2});
  EXPECT_TRUE(throws_with([&] { a + b; }, {"[2, 3]", "[2]", "dimension 1"}));
  EXPECT_TRUE(throws_with(
      [&] {
        Tensor::zeros({4, 3}) * Tensor::zeros({2, 1, 3, 1}).expand({2, 2, 3, 2});
      },
      {"[4, 3]", "[2, 2, 3, 2]"}));
  EXPECT_TRUE(throws_with([&] { prism::where(a > 0, a, Tensor::zeros({4})); }, {"[4]"}));
}

TEST(Broadcasting, InPlaceCannotGrowTheDestination) {
  Tensor a = Tensor::ones({3});
  Tensor b = Tensor::ones({2, 3});
  EXPECT_NO_THROW(b += a);  // a broadcasts into b
  EXPECT_TRUE(near_values(b, {2, 2, 2, 2, 2, 2}));
  EXPECT_THROW(a += b, prism::Error);  // result (2, 3) does not fit a (3)
  EXPECT_EQ(a.sizes(), (Sizes{3}));
  EXPECT_TRUE(near_values(a, {1, 1, 1}));
}

// ===========================================================================
// Type promotion (torch.result_type)
// ===========================================================================

TEST(Promotion, PromoteTypesTable) {
  struct Row {
    Dtype a, b, want;
  };
  const Row rows[] = {
      {prism::kBool, prism::kBool, prism::kBool},
      {prism::kBool, prism::kUInt8, prism::kUInt8},
      {prism::kBool, prism::kFloat16, prism::kFloat16},
      {prism::kUInt8, prism::kInt8, prism::kInt16},
      {prism::kUInt8, prism::kInt16, prism::kInt16},
      {prism::kUInt8, prism::kInt64, prism::kInt64},
      {prism::kInt8, prism::kInt16, prism::kInt16},
      {prism::kInt32, prism::kInt64, prism::kInt64},
      {prism::kInt16, prism::kFloat16, prism::kFloat16},
      {prism::kInt64, prism::kBFloat16, prism::kBFloat16},
      {prism::kFloat16, prism::kBFloat16, prism::kFloat32},
      {prism::kFloat16, prism::kFloat32, prism::kFloat32},
      {prism::kBFloat16, prism::kFloat64, prism::kFloat64},
      {prism::kInt64, prism::kFloat32, prism::kFloat32},
      {prism::kUInt8, prism::kFloat16, prism::kFloat16},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(prism::promote_types(r.a, r.b), r.want) << r.a << " + " << r.b;
    EXPECT_EQ(prism::promote_types(r.b, r.a), r.want) << r.b << " + " << r.a;
    // The ops agree with the table.
    EXPECT_EQ((Tensor::ones({2}, r.a) + Tensor::ones({2}, r.b)).dtype(), r.want) << r.a << " + " << r.b;
  }
}

TEST(Promotion, ZeroDimTensorsChangeCategoryNotWidth) {
  struct Row {
    Dtype tensor, zero_dim, want;
  };
  const Row rows[] = {
      {prism::kInt32, prism::kInt64, prism::kInt32},
      {prism::kUInt8, prism::kInt8, prism::kUInt8},
      {prism::kFloat16, prism::kFloat64, prism::kFloat16},
      {prism::kInt64, prism::kFloat64, prism::kFloat64},
      {prism::kBool, prism::kInt32, prism::kInt32},
      {prism::kInt32, prism::kBool, prism::kInt32},
      {prism::kFloat16, prism::kInt64, prism::kFloat16},
      {prism::kBFloat16, prism::kFloat32, prism::kBFloat16},
  };
  for (const Row& r : rows) {
    Tensor t = Tensor::ones({3}, r.tensor);
    Tensor z = Tensor::scalar(1, r.zero_dim);
    EXPECT_EQ((t * z).dtype(), r.want) << r.tensor << " tensor * 0-d " << r.zero_dim;
    EXPECT_EQ((z * t).dtype(), r.want) << "0-d " << r.zero_dim << " * " << r.tensor << " tensor";
  }
  // Two 0-d tensors promote normally.
  EXPECT_EQ((Tensor::scalar(1, prism::kFloat32) + Tensor::scalar(1, prism::kFloat64)).dtype(),
            prism::kFloat64);
}

TEST(Promotion, CppScalarsActLikePythonScalars) {
  EXPECT_EQ((Tensor::ones({2}, prism::kInt32) + 2).dtype(), prism::kInt32);
  EXPECT_EQ((Tensor::ones({2}, prism::kInt32) + 2.5).dtype(), prism::kFloat32);
  EXPECT_EQ((Tensor::ones({2}, prism::kInt64) * 0.5).dtype(), prism::kFloat32);
  EXPECT_EQ((Tensor::ones({2}, prism::kFloat16) + 2.5).dtype(), prism::kFloat16);
  EXPECT_EQ((Tensor::ones({2}, prism::kBFloat16) * 3).dtype(), prism::kBFloat16);
  EXPECT_EQ((Tensor::ones({2}, prism::kBool) + 1).dtype(), prism::kInt64);
  EXPECT_EQ((Tensor::ones({2}, prism::kBool) * 1.5).dtype(), prism::kFloat32);
  EXPECT_EQ((Tensor::ones({2}, prism::kUInt8) * 2).dtype(), prism::kUInt8);
  EXPECT_EQ((Tensor::ones({2}, prism::kFloat64) + 1).dtype(), prism::kFloat64);
  EXPECT_EQ((Tensor::ones({2}, prism::kInt16) + true).dtype(), prism::kInt16);
  // The float scalar keeps its precision against a float32 tensor.
  EXPECT_TRUE(near_values(Tensor::zeros({1}, prism::kFloat64) + 0.1, {0.1}, 0));
  EXPECT_TRUE(near_values(Tensor::ones({2}, prism::kInt32) + 2.5, {3.5, 3.5}));
}

TEST(Promotion, TrueDivisionOfIntegersIsFloat) {
  Tensor a = Tensor::from_vector(std::vector<int64_t>{7, -7});
  Tensor q = a / 2;
  EXPECT_EQ(q.dtype(), prism::kFloat32);
  EXPECT_TRUE(near_values(q, {3.5, -3.5}));
  Tensor f = a.div(2, prism::RoundingMode::Floor);
  EXPECT_EQ(f.dtype(), prism::kInt64);
  EXPECT_TRUE(near_values(f, {3, -4}));
  EXPECT_TRUE(near_values(a.div(2, prism::RoundingMode::Trunc), {3, -3}));
  EXPECT_TRUE(near_values(a % 3, {1, 2}));  // sign of the divisor
  EXPECT_TRUE(near_values(a % -3, {-2, -1}));
  EXPECT_TRUE(near_values(prism::exp(Tensor::zeros({1}, prism::kInt32)), {1}));
  EXPECT_EQ(prism::sqrt(Tensor::ones({1}, prism::kInt64)).dtype(), prism::kFloat32);
}

// ===========================================================================
// In-place ops
// ===========================================================================

TEST(InPlace, ChangesEveryAliasAndView) {
  Tensor x = Tensor::zeros({2, 3});
  Tensor row = x[1];
  row += Tensor::from_vector(std::vector<float>{1, 2, 3});
  row *= 2;
  EXPECT_TRUE(near_values(x, {0, 0, 0, 2, 4, 6}));
  x.t().sub_(1);
  EXPECT_TRUE(near_values(x, {-1, -1, -1, 1, 3, 5}));
  x.exp_().log_();
  EXPECT_TRUE(near_values(x, {-1, -1, -1, 1, 3, 5}, 1e-5));
}

TEST(InPlace, ResultMustFitTheDestinationDtype) {
  Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2});
  EXPECT_TRUE(throws_with([&] { i += 1.5; }, {"float32", "int32"}));
  EXPECT_TRUE(throws_with([&] { i /= 2; }, {"int32"}));
  EXPECT_THROW(i.sqrt_(), prism::Error);
  EXPECT_EQ(i.dtype(), prism::kInt32);
  EXPECT_TRUE(near_values(i, {1, 2}));
  i += 2;  // int scalar: fine
  EXPECT_TRUE(near_values(i, {3, 4}));
  Tensor f = Tensor::ones({2}, prism::kFloat16);
  f += Tensor::ones({2}, prism::kFloat64);  // float into float: allowed, as PyTorch
  EXPECT_EQ(f.dtype(), prism::kFloat16);
  EXPECT_TRUE(near_values(f, {2, 2}));
}

// ===========================================================================
// Reductions
// ===========================================================================

TEST(Reductions, KeepdimShapes) {
  Tensor x = Tensor::ones({2, 3, 4});
  EXPECT_EQ(x.sum({1}).sizes(), (Sizes{2, 4}));
  EXPECT_EQ(x.sum({1}, true).sizes(), (Sizes{2, 1, 4}));
  EXPECT_EQ(x.mean({0, 2}, true).sizes(), (Sizes{1, 3, 1}));
  EXPECT_EQ(x.amax({-1, 0}).sizes(), (Sizes{3}));
  EXPECT_EQ(x.sum().dim(), 0);
  EXPECT_EQ(x.sum({}, true).sizes(), (Sizes{1, 1, 1}));
  EXPECT_TRUE(near_values(x.sum({0, 1}), {6, 6, 6, 6}));
  EXPECT_THROW(x.sum({3}), prism::Error);
}

TEST(Reductions, IntegerAndBoolSumsAreInt64) {
  EXPECT_EQ(Tensor::ones({3}, prism::kInt8).sum().dtype(), prism::kInt64);
  EXPECT_EQ(Tensor::ones({3}, prism::kBool).sum().dtype(), prism::kInt64);
  EXPECT_EQ(Tensor::ones({3}, prism::kUInt8).prod().dtype(), prism::kInt64);
  EXPECT_EQ((Tensor::arange(10) > 4).sum().item<int64_t>(), 5);
  Tensor big = Tensor::full({300}, 100, prism::kInt8);
  EXPECT_EQ(big.sum().item<int64_t>(), 30000);  // no int8 overflow
  EXPECT_EQ(Tensor::ones({2}, prism::kFloat16).sum().dtype(), prism::kFloat16);
  EXPECT_TRUE(throws_with([] { Tensor::ones({2}, prism::kInt32).mean(); }, {"mean", "floating point"}));
}

TEST(Reductions, VarAndStdCorrection) {
  Tensor x = Tensor::from_vector(std::vector<double>{2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_TRUE(near_values(x.var(), {32.0 / 7}, 1e-12));  // unbiased by default
  EXPECT_TRUE(near_values(x.var({}, 0), {4}, 1e-12));    // population
  EXPECT_TRUE(near_values(x.std({}, 0), {2}, 1e-12));
  EXPECT_TRUE(near_values(x.std(), {std::sqrt(32.0 / 7)}, 1e-12));
  Tensor m = x.view({2, 4});
  EXPECT_TRUE(near_values(m.var({1}), {1, 11.0 / 3}, 1e-12));
  EXPECT_EQ(m.std({1}, 1, true).sizes(), (Sizes{2, 1}));
  EXPECT_TRUE(std::isnan(Tensor::ones({1}).std().item<double>()));  // one sample, correction 1
  EXPECT_EQ(Tensor::ones({4}, prism::kInt32).to(prism::kFloat32).var().dtype(), prism::kFloat32);
}

TEST(Reductions, NormVariants) {
  Tensor x = Tensor::from_vector(std::vector<double>{3, -4, 0, 1});
  EXPECT_TRUE(near_values(x.norm(), {std::sqrt(26.0)}, 1e-12));
  EXPECT_TRUE(near_values(x.norm(1), {8}, 1e-12));
  EXPECT_TRUE(near_values(x.norm(kInf), {4}));
  EXPECT_TRUE(near_values(x.norm(-kInf), {0}));
  EXPECT_TRUE(near_values(x.norm(0), {3}));
  EXPECT_TRUE(near_values(x.norm(3), {std::cbrt(27.0 + 64 + 1)}, 1e-12));
  EXPECT_TRUE(near_values(x.norm(0.5), {std::pow(std::sqrt(3.0) + 2 + 1, 2)}, 1e-12));
  Tensor m = x.view({2, 2});
  EXPECT_TRUE(near_values(m.norm(2, {1}), {5, 1}, 1e-12));
  EXPECT_EQ(m.norm(2, {0}, true).sizes(), (Sizes{1, 2}));
}

TEST(Reductions, LogsumexpIsStable) {
  Tensor big = Tensor::from_vector(std::vector<float>{1000, 1000, 1000});
  EXPECT_TRUE(near_values(big.logsumexp(), {1000 + std::log(3.0)}, 1e-3));
  Tensor tiny = Tensor::from_vector(std::vector<double>{-1000, -1000});
  EXPECT_TRUE(near_values(tiny.logsumexp(), {-1000 + std::log(2.0)}, 1e-9));
  Tensor mixed = Tensor::from_vector(std::vector<double>{0, 1000, -1000, 1000}, {2, 2});
  EXPECT_TRUE(near_values(mixed.logsumexp({1}), {1000, 1000}, 1e-9));
  EXPECT_TRUE(near_values(Tensor::full({2}, -kInf).logsumexp(), {-kInf}));
  EXPECT_TRUE(near_values(Tensor::from_vector(std::vector<double>{kInf, 0}).logsumexp(), {kInf}));
}

TEST(Reductions, ArgmaxTiesTakeTheFirst) {
  Tensor x = Tensor::from_vector(std::vector<float>{2, 7, 7, 1, 7, 0}, {2, 3});
  EXPECT_EQ(x.argmax().item<int64_t>(), 1);
  EXPECT_TRUE(near_values(x.argmax(1), {1, 1}));
  EXPECT_TRUE(near_values(x.argmin(1), {0, 2}));
  EXPECT_TRUE(near_values(x.max(1).second, {1, 1}));
  EXPECT_EQ(Tensor::zeros({5}).argmax().item<int64_t>(), 0);
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{1, static_cast<float>(kNaN), 3}).argmax().item<int64_t>(),
            1);
  EXPECT_TRUE(
      std::isnan(Tensor::from_vector(std::vector<float>{1, static_cast<float>(kNaN)}).max().item<double>()));
  EXPECT_THROW(Tensor::zeros({0}).max(), prism::Error);
}

// ===========================================================================
// matmul shape rules
// ===========================================================================

TEST(Matmul, ShapeRules) {
  auto shape = [](const Sizes& a, const Sizes& b) {
    return prism::matmul(Tensor::ones(a), Tensor::ones(b)).sizes();
  };
  EXPECT_EQ(shape({3}, {3}), (Sizes{}));
  EXPECT_EQ(shape({2, 3}, {3}), (Sizes{2}));
  EXPECT_EQ(shape({3}, {3, 4}), (Sizes{4}));
  EXPECT_EQ(shape({2, 3}, {3, 4}), (Sizes{2, 4}));
  EXPECT_EQ(shape({10, 2, 3}, {3, 4}), (Sizes{10, 2, 4}));
  EXPECT_EQ(shape({3}, {10, 3, 4}), (Sizes{10, 4}));
  EXPECT_EQ(shape({10, 2, 3}, {3}), (Sizes{10, 2}));
  EXPECT_EQ(shape({2, 1, 2, 3}, {5, 3, 4}), (Sizes{2, 5, 2, 4}));
  EXPECT_TRUE(
      near_values(prism::matmul(Tensor::ones({2, 3}), Tensor::ones({3, 4})), std::vector<double>(8, 3)));
}

TEST(Matmul, ValuesMatchNaiveProduct) {
  Tensor a = Tensor::arange(12, prism::kFloat64).view({2, 2, 3});
  Tensor b = Tensor::arange(6, prism::kFloat64).view({3, 2});
  // batch 0: [[0,1,2],[3,4,5]] . [[0,1],[2,3],[4,5]]
  EXPECT_TRUE(near_values(a.matmul(b), {10, 13, 28, 40, 46, 67, 64, 94}));
  EXPECT_TRUE(near_values(a.bmm(b.unsqueeze(0).expand({2, 3, 2})), {10, 13, 28, 40, 46, 67, 64, 94}));
  Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4}, {2, 2});
  EXPECT_TRUE(near_values(i.matmul(i), {7, 10, 15, 22}));
  EXPECT_EQ(i.matmul(i).dtype(), prism::kInt32);
}

TEST(Matmul, Errors) {
  EXPECT_TRUE(throws_with([] { prism::matmul(Tensor::ones({2, 3}), Tensor::ones({2, 3})); }, {"[2, 3]"}));
  EXPECT_TRUE(throws_with([] { prism::matmul(Tensor::ones({3}), Tensor::ones({4})); }, {"[3]", "[4]"}));
  EXPECT_TRUE(
      throws_with([] { prism::matmul(Tensor::scalar(1), Tensor::ones({4})); }, {"at least 1 dimension"}));
  EXPECT_THROW(prism::matmul(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 4})),
               prism::Error);  // batch 2 vs 3
  EXPECT_THROW(prism::bmm(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 4})), prism::Error);
  EXPECT_THROW(prism::bmm(Tensor::ones({2, 3}), Tensor::ones({3, 4})), prism::Error);
}

// ===========================================================================
// Joining and splitting
// ===========================================================================

TEST(Joining, CatPromotesMixedDtypes) {
  Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2});
  Tensor d = Tensor::from_vector(std::vector<double>{0.5});
  Tensor c = prism::cat({i, d});
  EXPECT_EQ(c.dtype(), prism::kFloat64);
  EXPECT_TRUE(near_values(c, {1, 2, 0.5}));
  Tensor b = Tensor::ones({1}, prism::kBool);
  Tensor u = Tensor::full({1}, 200, prism::kUInt8);
  EXPECT_EQ(prism::cat({b, u}).dtype(), prism::kUInt8);
  EXPECT_EQ(prism::cat({u, Tensor::ones({1}, prism::kInt8)}).dtype(), prism::kInt16);
  EXPECT_EQ(prism::cat({Tensor::ones({2, 3}), Tensor::zeros({4, 3})}).sizes(), (Sizes{6, 3}));
  EXPECT_TRUE(throws_with([] { prism::cat({Tensor::ones({2, 3}), Tensor::zeros({2, 4})}); }, {"cat"}));
  EXPECT_THROW(prism::cat({}), prism::Error);
}

TEST(Joining, StackAddsADim) {
  Tensor a = Tensor::arange(3);
  Tensor b = Tensor::arange(3) + 10;
  EXPECT_TRUE(near_values(prism::stack({a, b}), {0, 1, 2, 10, 11, 12}));
  EXPECT_TRUE(near_values(prism::stack({a, b}, 1), {0, 10, 1, 11, 2, 12}));
  EXPECT_EQ(prism::stack({a, b}, -1).sizes(), (Sizes{3, 2}));
  EXPECT_THROW(prism::stack({a, Tensor::arange(4)}), prism::Error);
}

TEST(Splitting, SplitAndChunkSizes) {
  auto sizes_of = [](const std::vector<Tensor>& parts, int64_t d) {
    Sizes s;
    for (const Tensor& p : parts) s.push_back(p.size(d));
    return s;
  };
  Tensor x = Tensor::arange(10);
  EXPECT_EQ(sizes_of(x.split(3), 0), (Sizes{3, 3, 3, 1}));
  EXPECT_EQ(sizes_of(x.split(10), 0), (Sizes{10}));
  EXPECT_EQ(sizes_of(x.split(20), 0), (Sizes{10}));
  EXPECT_EQ(sizes_of(x.chunk(3), 0), (Sizes{4, 4, 2}));
  EXPECT_EQ(sizes_of(x.chunk(4), 0), (Sizes{3, 3, 3, 1}));
  EXPECT_EQ(sizes_of(Tensor::arange(6).chunk(4), 0), (Sizes{2, 2, 2}));  // fewer pieces than asked
  EXPECT_EQ(sizes_of(x.split({2, 3, 5}), 0), (Sizes{2, 3, 5}));
  Tensor m = Tensor::zeros({2, 7});
  EXPECT_EQ(sizes_of(m.split(3, 1), 1), (Sizes{3, 3, 1}));
  EXPECT_EQ(sizes_of(m.chunk(2, -1), 1), (Sizes{4, 3}));
  EXPECT_THROW(x.split({2, 3}), prism::Error);  // sums to 5, not 10
  EXPECT_THROW(x.chunk(0), prism::Error);
  // The pieces are views.
  std::vector<Tensor> parts = x.split(4);
  parts[1].fill_(-1);
  EXPECT_TRUE(near_values(x, {0, 1, 2, 3, -1, -1, -1, -1, 8, 9}));
}

// ===========================================================================
// Casts, rounding, creation semantics
// ===========================================================================

TEST(Semantics, CastsTruncateTowardZero) {
  Tensor f = Tensor::from_vector(std::vector<double>{2.7, -2.7, 0.0, 0.2});
  EXPECT_TRUE(near_values(f.to(prism::kInt64), {2, -2, 0, 0}));
  EXPECT_EQ(f.to(prism::kBool).to_vector<bool>(), (std::vector<bool>{true, true, false, true}));
  EXPECT_TRUE(
      near_values(Tensor::from_vector(std::vector<float>{0.5, 1.5, 2.5, -2.5}).round(), {0, 2, 2, -2}));
}

TEST(Semantics, ArangeAndLinspaceMatchTorch) {
  EXPECT_TRUE(near_values(Tensor::arange(0, 1, 0.1, prism::kFloat64),
                          {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, 1e-12));
  EXPECT_EQ(Tensor::arange(0, 1, 0.3).numel(), 4);
  EXPECT_EQ(Tensor::arange(10, 0, -3).numel(), 4);
  EXPECT_TRUE(near_values(Tensor::linspace(-1, 1, 5), {-1, -0.5, 0, 0.5, 1}));
  EXPECT_TRUE(near_values(Tensor::linspace(5, 10, 1), {5}));  // torch.linspace(5, 10, 1) == [5.]
  EXPECT_EQ(Tensor::linspace(0, 1, 0).numel(), 0);
  EXPECT_THROW(Tensor::arange(0, 1, 0), prism::Error);
}

TEST(Semantics, ClonesAreIndependent) {
  Tensor a = Tensor::arange(4);
  Tensor b = a.clone();
  Tensor c = a;  // same tensor
  b.fill_(0);
  EXPECT_TRUE(near_values(a, {0, 1, 2, 3}));
  c.fill_(9);
  EXPECT_TRUE(near_values(a, {9, 9, 9, 9}));
}

// ===========================================================================
// Errors carry useful messages
// ===========================================================================

TEST(Errors, MessagesNameOpShapesAndDevices) {
  EXPECT_TRUE(
      throws_with([] { Tensor::zeros({2}).to("gpu:3"); }, {"gpu:3", "cpu:0"}, PRISM_ERROR_UNAVAILABLE));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2, 3}).select(1, 5); }, {"select", "5", "3"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2, 3}).t().view({6}); }, {"view", "reshape"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2, 3}).sum({2}); }, {"dimension out of range"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2}).transpose(0, 1); }, {"transpose"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({-1}); }, {"-1"}));
  EXPECT_TRUE(throws_with([] { Tensor::ones({2}).item<double>(); }, {"2"}));
  EXPECT_TRUE(throws_with([] { Tensor::rand({2}, prism::kInt32); }, {"int32"}));
}

TEST(Errors, FailingCallsLeaveTensorsIntact) {
  Tensor a = Tensor::arange(6).view({2, 3});
  Tensor before = a.clone();
  EXPECT_THROW(a += Tensor::ones({4}), prism::Error);
  EXPECT_THROW(a.copy_(Tensor::ones({2})), prism::Error);
  EXPECT_THROW(a.view({4, -1}), prism::Error);
  EXPECT_THROW(a.narrow(1, 2, 5), prism::Error);
  EXPECT_EQ(a.sizes(), (Sizes{2, 3}));
  EXPECT_EQ(a.strides(), (Sizes{3, 1}));
  EXPECT_TRUE(prism::equal(a, before));
}

}  // namespace
