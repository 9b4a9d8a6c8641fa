// wrapper_test.cpp — tests of the prism.hpp wrapper itself: RAII, accessors, creation, operators, runtime
// helpers.
#include <dlpack/dlpack.h>

#include <cmath>
#include <sstream>

#include "test_util.hpp"

namespace {

using prism::Tensor;
using prism_test::near_values;
using prism_test::Sizes;
using prism_test::throws_with;
using prism_test::values;

// ===========================================================================
// Errors
// ===========================================================================

TEST(Wrapper, CheckTurnsStatusIntoError) {
  EXPECT_NO_THROW(prism::check(PRISM_OK));
  try {
    prism::check(prism_tensor_retain(nullptr));
    FAIL() << "expected prism::Error";
  } catch (const prism::Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(e.status_name(), "INVALID_ARGUMENT");
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

TEST(Wrapper, ErrorIsARuntimeError) {
  EXPECT_THROW(Tensor::zeros({-1}), std::runtime_error);
}

TEST(Wrapper, UndefinedTensorThrows) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.dim(), prism::Error);
  EXPECT_THROW(t.sizes(), prism::Error);
  EXPECT_TRUE(throws_with([&] { t + t; }, {}));
  EXPECT_EQ(t.to_string(), "tensor(undefined)");
}

// ===========================================================================
// RAII
// ===========================================================================

TEST(Wrapper, CopiesShareTheTensor) {
  Tensor a = Tensor::zeros({3});
  Tensor b = a;  // retain: same tensor
  b.fill_(2);
  EXPECT_TRUE(near_values(a, {2, 2, 2}));
  Tensor c;
  c = a;
  c += 1;
  EXPECT_TRUE(near_values(a, {3, 3, 3}));
}

TEST(Wrapper, MoveLeavesSourceUndefined) {
  Tensor a = Tensor::ones({2});
  Tensor b = std::move(a);
  EXPECT_FALSE(a.defined());  // NOLINT: testing the moved-from state
  EXPECT_TRUE(b.defined());
  Tensor c;
  c = std::move(b);
  EXPECT_FALSE(b.defined());  // NOLINT
  EXPECT_TRUE(near_values(c, {1, 1}));
}

TEST(Wrapper, ReleaseOnDestruction) {
  prism::empty_cache();
  const uint64_t before = prism::memory_stats().allocated;
  {
    Tensor big = Tensor::zeros({1024, 256});
    Tensor alias = big;
    EXPECT_GE(prism::memory_stats().allocated, before + 1024 * 256 * 4);
  }
  EXPECT_EQ(prism::memory_stats().allocated, before);
}

TEST(Wrapper, AdoptBorrowRelease) {
  prism_tensor_t h = nullptr;
  prism::check(prism_ones(Sizes{2}.data(), 1, PRISM_DTYPE_F32, "cpu", &h));
  Tensor borrowed = Tensor::borrow(h);  // +1
  {
    Tensor owner = Tensor::adopt(h);  // takes our reference
  }
  EXPECT_TRUE(near_values(borrowed, {1, 1}));  // still alive
  prism_tensor_t raw = borrowed.release();
  EXPECT_FALSE(borrowed.defined());
  EXPECT_EQ(prism_tensor_release(raw), PRISM_OK);
}

// ===========================================================================
// Accessors
// ===========================================================================

TEST(Wrapper, Accessors) {
  Tensor t = Tensor::zeros({2, 3, 4}, prism::kInt16);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.sizes(), (Sizes{2, 3, 4}));
  EXPECT_EQ(t.shape(), (Sizes{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Sizes{12, 4, 1}));
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.stride(0), 12);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dtype(), prism::kInt16);
  EXPECT_EQ(t.element_size(), 2u);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.device(), prism::Device("cpu"));
  EXPECT_EQ(t.device().str(), "cpu:0");
  EXPECT_EQ(t.device().type(), "cpu");
  EXPECT_EQ(t.device().index(), 0);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FALSE(t.is_floating_point());
  EXPECT_EQ(t.storage_offset(), 0);
  EXPECT_THROW(t.size(3), prism::Error);
  EXPECT_THROW(t.stride(3), prism::Error);
}

TEST(Wrapper, ItemAndToVector) {
  Tensor s = Tensor::scalar(3.75, prism::kFloat64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_DOUBLE_EQ(s.item<double>(), 3.75);
  EXPECT_FLOAT_EQ(s.item<float>(), 3.75f);
  EXPECT_EQ(Tensor::scalar(-7, prism::kInt64).item<int64_t>(), -7);
  EXPECT_EQ(Tensor::scalar(1, prism::kBool).item<bool>(), true);
  EXPECT_THROW(Tensor::ones({2}).item<float>(), prism::Error);

  Tensor t = Tensor::from_vector(std::vector<int32_t>{1, -2, 3, 4}, {2, 2});
  EXPECT_EQ(t.dtype(), prism::kInt32);
  EXPECT_EQ(t.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 4}));
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, -2, 3, 4}));  // converted
  EXPECT_EQ(t.to_vector<bool>(), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(t.t().to_vector<int64_t>(), (std::vector<int64_t>{1, 3, -2, 4}));  // row-major of the view
}

TEST(Wrapper, FromVectorEveryType) {
  EXPECT_EQ(Tensor::from_vector(std::vector<bool>{true, false}).dtype(), prism::kBool);
  EXPECT_EQ(Tensor::from_vector(std::vector<uint8_t>{1}).dtype(), prism::kUInt8);
  EXPECT_EQ(Tensor::from_vector(std::vector<int8_t>{1}).dtype(), prism::kInt8);
  EXPECT_EQ(Tensor::from_vector(std::vector<int16_t>{1}).dtype(), prism::kInt16);
  EXPECT_EQ(Tensor::from_vector(std::vector<int64_t>{1}).dtype(), prism::kInt64);
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{1}).dtype(), prism::kFloat32);
  EXPECT_EQ(Tensor::from_vector(std::vector<double>{1}).dtype(), prism::kFloat64);
  EXPECT_EQ(Tensor::from_vector(std::vector<bool>{true, false, true}).to_vector<bool>(),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(prism::from_vector(std::vector<float>{}).numel(), 0);
  EXPECT_THROW(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), prism::Error);
}

// ===========================================================================
// Creation
// ===========================================================================

TEST(Wrapper, Creation) {
  EXPECT_TRUE(near_values(Tensor::ones({2}, prism::kInt64), {1, 1}));
  EXPECT_TRUE(near_values(Tensor::full({2, 2}, -1.5), {-1.5, -1.5, -1.5, -1.5}));
  EXPECT_EQ(Tensor::empty({3, 0}).numel(), 0);
  EXPECT_TRUE(near_values(Tensor::eye(2), {1, 0, 0, 1}));
  EXPECT_EQ(Tensor::eye(2, 3).sizes(), (Sizes{2, 3}));
  EXPECT_TRUE(near_values(Tensor::arange(4), {0, 1, 2, 3}));
  EXPECT_EQ(Tensor::arange(4, prism::kInt64).dtype(), prism::kInt64);
  EXPECT_TRUE(near_values(Tensor::arange(1, 2, 0.5), {1, 1.5}));
  EXPECT_TRUE(near_values(Tensor::linspace(0, 1, 3), {0, 0.5, 1}));
  EXPECT_TRUE(near_values(prism::linspace(2, 3, 1), {2}));  // torch.linspace(2, 3, 1) == [2.]
  Tensor like = Tensor::zeros({2, 3}, prism::kFloat64);
  EXPECT_EQ(prism::empty_like(like).sizes(), (Sizes{2, 3}));
  EXPECT_EQ(prism::zeros_like(like).dtype(), prism::kFloat64);
  EXPECT_TRUE(near_values(prism::ones_like(like), {1, 1, 1, 1, 1, 1}));
  EXPECT_TRUE(near_values(prism::full_like(like, 4), {4, 4, 4, 4, 4, 4}));
  EXPECT_TRUE(near_values(prism::zeros({2}), {0, 0}));
  EXPECT_TRUE(near_values(prism::ones({1}), {1}));
  EXPECT_TRUE(near_values(prism::full({1}, 9), {9}));
  EXPECT_TRUE(near_values(prism::eye(1), {1}));
  EXPECT_TRUE(near_values(prism::arange(0, 3), {0, 1, 2}));
  EXPECT_EQ(prism::empty({4}).numel(), 4);
}

TEST(Wrapper, FromBlobDeleterRunsOnce) {
  std::vector<float> buf{1, 2, 3, 4, 5, 6};
  int deleted = 0;
  {
    Tensor t = Tensor::from_blob(buf.data(), {2, 3}, prism::kFloat32, [&](void* p) {
      ++deleted;
      EXPECT_EQ(p, buf.data());
    });
    Tensor v = t.t();
    buf[0] = 10;  // zero copy
    EXPECT_TRUE(near_values(v, {10, 4, 2, 5, 3, 6}));
    EXPECT_EQ(deleted, 0);
  }
  EXPECT_EQ(deleted, 1);
  // Column-major strides; no deleter.
  Tensor cm = Tensor::from_blob(buf.data(), {2, 3}, prism::kFloat32, nullptr, {1, 2});
  EXPECT_FALSE(cm.is_contiguous());
  EXPECT_TRUE(near_values(cm, {10, 3, 5, 2, 4, 6}));
  // On error the deleter does not run (and nothing leaks).
  EXPECT_THROW(Tensor::from_blob(nullptr, {2}, prism::kFloat32, [&](void*) { ++deleted; }), prism::Error);
  EXPECT_EQ(deleted, 1);
}

TEST(Wrapper, RandomReproducible) {
  prism::manual_seed(7);
  Tensor a = Tensor::rand({64});
  Tensor n = Tensor::randn({2, 8}, prism::kFloat64);
  prism::manual_seed(7);
  Tensor b = prism::rand({64});
  Tensor m = prism::randn({2, 8}, prism::kFloat64);
  EXPECT_TRUE(prism::equal(a, b));
  EXPECT_TRUE(prism::equal(n, m));
  EXPECT_FALSE(prism::equal(a, Tensor::rand({64})));
  Tensor ri = prism::randint(0, 3, {100}, prism::kInt32);
  EXPECT_EQ(ri.dtype(), prism::kInt32);
  EXPECT_GE(ri.min().item<int>(), 0);
  EXPECT_LE(ri.max().item<int>(), 2);
  Tensor p = prism::randperm(6);
  EXPECT_EQ(p.dtype(), prism::kInt64);
  EXPECT_EQ(p.sum().item<int64_t>(), 15);
  EXPECT_TRUE(near_values(p.amax(), {5}));
  EXPECT_TRUE(near_values(prism::bernoulli(Tensor::from_vector(std::vector<float>{1, 0})), {1, 0}));
  EXPECT_TRUE(near_values(Tensor::bernoulli({3}, 0.0), {0, 0, 0}));
}

// ===========================================================================
// Views, copies
// ===========================================================================

TEST(Wrapper, Views) {
  Tensor x = Tensor::arange(24).view({2, 3, 4});
  EXPECT_EQ(x.reshape({4, -1}).sizes(), (Sizes{4, 6}));
  EXPECT_EQ(x.permute({2, 0, 1}).sizes(), (Sizes{4, 2, 3}));
  EXPECT_EQ(x.transpose(0, 2).strides(), (Sizes{1, 4, 12}));
  EXPECT_EQ(x.flatten().sizes(), (Sizes{24}));
  EXPECT_EQ(x.flatten(1).sizes(), (Sizes{2, 12}));
  EXPECT_EQ(x.unsqueeze(1).sizes(), (Sizes{2, 1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(1).squeeze().sizes(), (Sizes{2, 3, 4}));
  EXPECT_EQ(x.unsqueeze(0).squeeze(0).sizes(), (Sizes{2, 3, 4}));
  EXPECT_TRUE(near_values(x.select(0, 1).select(0, 2), {20, 21, 22, 23}));
  EXPECT_TRUE(near_values(x[1][2], {20, 21, 22, 23}));
  EXPECT_TRUE(near_values(x.narrow(2, 1, 2)[0][0], {1, 2}));
  EXPECT_TRUE(near_values(x.flatten().slice(0, 3, 12, 4), {3, 7, 11}));
  EXPECT_TRUE(near_values(x.flatten().slice(0, 20), {20, 21, 22, 23}));
  EXPECT_EQ(x.flatten().unfold(0, 4, 4).sizes(), (Sizes{6, 4}));
  EXPECT_TRUE(near_values(x.flatten().as_strided({2}, {5}, 1), {1, 6}));
  EXPECT_TRUE(near_values(x[0].diagonal(), {0, 5, 10}));
  EXPECT_TRUE(near_values(x[0].diagonal(1), {1, 6, 11}));
  Tensor col = Tensor::arange(3).view({3, 1});
  EXPECT_EQ(col.expand({3, 2}).strides(), (Sizes{1, 0}));
  EXPECT_EQ(col.expand_as(Tensor::zeros({2, 3, 5})).sizes(), (Sizes{2, 3, 5}));
  EXPECT_EQ(x.view_as(Tensor::zeros({6, 4})).sizes(), (Sizes{6, 4}));
  EXPECT_THROW(x.t(), prism::Error);  // t() is for <= 2 dims
}

TEST(Wrapper, ViewsWriteThrough) {
  Tensor base = Tensor::zeros({3, 3});
  base.diagonal().fill_(1);
  base[0].slice(0, 1).fill_(5);
  EXPECT_TRUE(near_values(base, {1, 5, 5, 0, 1, 0, 0, 0, 1}));
  Tensor view = base.view({9});
  view.zero_();
  EXPECT_TRUE(near_values(base, std::vector<double>(9, 0)));
}

TEST(Wrapper, CopiesAndCasts) {
  Tensor a = Tensor::from_vector(std::vector<double>{1.9, -1.9, 0});
  EXPECT_TRUE(near_values(a.to(prism::kInt32), {1, -1, 0}));
  EXPECT_EQ(a.to(prism::kFloat16).dtype(), prism::kFloat16);
  EXPECT_EQ(a.to("cpu").device(), prism::Device("cpu:0"));
  EXPECT_EQ(a.cpu().to(prism::Device("cpu"), prism::kBFloat16).dtype(), prism::kBFloat16);
  EXPECT_THROW(a.to("nosuchdevice:0"), prism::Error);
  Tensor c = a.clone();
  c.fill_(0);
  EXPECT_TRUE(near_values(a, {1.9, -1.9, 0}));
  Tensor dst = Tensor::zeros({2, 3}, prism::kInt64);
  dst.copy_(Tensor::from_vector(std::vector<float>{1, 2, 3}));
  EXPECT_TRUE(near_values(dst, {1, 2, 3, 1, 2, 3}));
  Tensor tr = Tensor::arange(6).view({2, 3}).t();
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_TRUE(tr.contiguous().is_contiguous());
  EXPECT_TRUE(near_values(tr.contiguous(), {0, 3, 1, 4, 2, 5}));
}

// ===========================================================================
// Elementwise ops and operators
// ===========================================================================

TEST(Wrapper, UnaryMethodsAndFreeFunctions) {
  Tensor x = Tensor::from_vector(std::vector<double>{0.25, 1, 4});
  EXPECT_TRUE(near_values(x.sqrt(), {0.5, 1, 2}));
  EXPECT_TRUE(near_values(prism::sqrt(x), {0.5, 1, 2}));
  EXPECT_TRUE(near_values(prism::rsqrt(x), {2, 1, 0.5}));
  EXPECT_TRUE(near_values(prism::reciprocal(x), {4, 1, 0.25}));
  EXPECT_TRUE(near_values(prism::log(x), {std::log(0.25), 0, std::log(4.0)}, 1e-12));
  EXPECT_TRUE(near_values(prism::exp(x), {std::exp(0.25), std::exp(1.0), std::exp(4.0)}, 1e-9));
  EXPECT_TRUE(near_values(prism::square(x), {0.0625, 1, 16}));
  EXPECT_TRUE(near_values(prism::neg(x), {-0.25, -1, -4}));
  EXPECT_TRUE(near_values(-x, {-0.25, -1, -4}));
  EXPECT_TRUE(near_values(prism::abs(-x), {0.25, 1, 4}));
  EXPECT_TRUE(near_values(prism::sign(x - 1), {-1, 0, 1}));
  EXPECT_TRUE(near_values(prism::relu(x - 1), {0, 0, 3}));
  EXPECT_TRUE(near_values(prism::floor(x * 1.5), {0, 1, 6}));
  EXPECT_TRUE(near_values(prism::ceil(x * 1.5), {1, 2, 6}));
  EXPECT_TRUE(
      near_values(prism::round(Tensor::from_vector(std::vector<float>{0.5, 1.5, 2.5, -0.5})), {0, 2, 2, -0}));
  EXPECT_TRUE(near_values(prism::sigmoid(Tensor::zeros({1})), {0.5}));
  EXPECT_TRUE(near_values(prism::tanh(Tensor::zeros({1})), {0}));
  EXPECT_TRUE(near_values(prism::sin(Tensor::zeros({1})), {0}));
  EXPECT_TRUE(near_values(prism::cos(Tensor::zeros({1})), {1}));
  EXPECT_TRUE(near_values(prism::log1p(Tensor::zeros({1})), {0}));
  EXPECT_TRUE(near_values(prism::expm1(Tensor::zeros({1})), {0}));
  EXPECT_TRUE(near_values(prism::gelu(Tensor::ones({1}, prism::kFloat64)), {0.8413447460685429}, 1e-12));
  EXPECT_TRUE(
      near_values(prism::silu(Tensor::ones({1}, prism::kFloat64)), {1 / (1 + std::exp(-1.0))}, 1e-12));
  Tensor y = x.clone();
  y.sqrt_().neg_().abs_().square_();
  EXPECT_TRUE(near_values(y, {0.25, 1, 4}));
  EXPECT_TRUE(near_values(prism::logical_not(Tensor::from_vector(std::vector<float>{0, 2})), {1, 0}));
}

TEST(Wrapper, BinaryOperators) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<float>{10, 20});
  EXPECT_TRUE(near_values(a + b, {11, 22, 13, 24}));
  EXPECT_TRUE(near_values(a - b, {-9, -18, -7, -16}));
  EXPECT_TRUE(near_values(a * b, {10, 40, 30, 80}));
  EXPECT_TRUE(near_values(b / a, {10, 10, 10.0 / 3, 5}, 1e-5));
  EXPECT_TRUE(near_values(a % 3, {1, 2, 0, 1}));
  EXPECT_TRUE(near_values(a.add(b, 2), {21, 42, 23, 44}));
  EXPECT_TRUE(near_values(prism::sub(a, b, 0.5), {-4, -8, -2, -6}));
  EXPECT_TRUE(near_values(prism::add(a, b), {11, 22, 13, 24}));
  EXPECT_TRUE(near_values(prism::pow(a, 2), {1, 4, 9, 16}));
  EXPECT_TRUE(near_values(prism::pow(2, a), {2, 4, 8, 16}));
  EXPECT_TRUE(near_values(prism::maximum(a, 2.5), {2.5, 2.5, 3, 4}));
  EXPECT_TRUE(near_values(prism::minimum(a, 2.5), {1, 2, 2.5, 2.5}));
  EXPECT_TRUE(near_values(prism::remainder(-5, b), {5, 15}));
  EXPECT_TRUE(near_values(prism::div(a, Tensor::scalar(-3), prism::RoundingMode::Floor), {-1, -1, -1, -2}));
  EXPECT_TRUE(near_values(a.div(-3, prism::RoundingMode::Trunc), {-0.0, -0.0, -1, -1}));
}

TEST(Wrapper, ScalarOperandsBothSides) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 4});
  EXPECT_TRUE(near_values(a + 2.0, {3, 4, 6}));
  EXPECT_TRUE(near_values(2.0 * a, {2, 4, 8}));
  EXPECT_TRUE(near_values(1 - a, {0, -1, -3}));
  EXPECT_TRUE(near_values(8 / a, {8, 4, 2}));
  EXPECT_TRUE(near_values(a / 2, {0.5, 1, 2}));
  EXPECT_TRUE(near_values(7 % a, {0, 1, 3}));
  EXPECT_TRUE(near_values(a - 0.5f, {0.5, 1.5, 3.5}));
}

TEST(Wrapper, CompoundAssignmentIsInPlace) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Tensor alias = a;
  a += 1;
  a *= Tensor::from_vector(std::vector<float>{2, 2, 2});
  a -= 1.0;
  a /= 2;
  EXPECT_TRUE(near_values(alias, {1.5, 2.5, 3.5}));
  Tensor i = Tensor::from_vector(std::vector<int64_t>{7, 8});
  i %= 3;
  EXPECT_TRUE(near_values(i, {1, 2}));
  EXPECT_EQ(i.dtype(), prism::kInt64);
  a.add_(1, 2).sub_(2).mul_(2).div_(2).pow_(1).maximum_(0).minimum_(100).remainder_(100);
  EXPECT_TRUE(near_values(alias, {1.5, 2.5, 3.5}));
}

TEST(Wrapper, ComparisonsReturnBoolTensors) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Tensor b = Tensor::from_vector(std::vector<int32_t>{3, 2, 1});
  Tensor eq = a == b;
  EXPECT_EQ(eq.dtype(), prism::kBool);
  EXPECT_EQ(eq.to_vector<bool>(), (std::vector<bool>{false, true, false}));
  EXPECT_EQ((a != b).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ((a < b).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ((a <= b).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ((a > 2).to_vector<bool>(), (std::vector<bool>{false, false, true}));
  EXPECT_EQ((2 >= a).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ((!(a > 1)).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(prism::logical_and(a > 1, b > 1).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(prism::logical_or(a > 2, b > 2).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(prism::logical_xor(a > 1, b > 1).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(prism::equal(a, a.clone()));
  EXPECT_FALSE(prism::equal(a, b));
  EXPECT_TRUE((a == a).all().item<bool>());
}

TEST(Wrapper, WhereAndClamp) {
  Tensor x = Tensor::from_vector(std::vector<float>{-2, 0.5, 3});
  EXPECT_TRUE(near_values(prism::where(x > 0, x, 0.0), {0, 0.5, 3}));
  EXPECT_TRUE(near_values(prism::where(x > 0, 1, x), {-2, 1, 1}));
  EXPECT_TRUE(near_values(prism::where(x > 0, x, -x), {2, 0.5, 3}));
  EXPECT_TRUE(near_values(x.clamp(-1, 1), {-1, 0.5, 1}));
  EXPECT_TRUE(near_values(prism::clamp(x, 0), {0, 0.5, 3}));
  EXPECT_TRUE(near_values(x.clamp_min(0), {0, 0.5, 3}));
  EXPECT_TRUE(near_values(x.clamp_max(0), {-2, 0, 0}));
  EXPECT_TRUE(near_values(x.clamp(std::nullopt, 1.0), {-2, 0.5, 1}));
  EXPECT_THROW(x.clamp(std::nullopt, std::nullopt), prism::Error);
  x.clamp_(0, 1);
  EXPECT_TRUE(near_values(x, {0, 0.5, 1}));
}

// ===========================================================================
// Reductions, linear algebra, joining
// ===========================================================================

TEST(Wrapper, ReductionDimForms) {
  Tensor x = Tensor::arange(6).view({2, 3});
  EXPECT_TRUE(near_values(x.sum(), {15}));
  EXPECT_TRUE(near_values(x.sum(0), {3, 5, 7}));
  EXPECT_TRUE(near_values(x.sum({1}), {3, 12}));
  EXPECT_TRUE(near_values(x.sum(std::vector<int64_t>{0, 1}), {15}));
  EXPECT_EQ(x.sum({0, 1}, true).sizes(), (Sizes{1, 1}));
  EXPECT_EQ(prism::sum(x, {-1}, true).sizes(), (Sizes{2, 1}));
  EXPECT_TRUE(near_values(prism::mean(x, 1), {1, 4}));
  EXPECT_TRUE(near_values(prism::prod(x + 1, 1), {6, 120}));
  EXPECT_TRUE(near_values(prism::amax(x, 0), {3, 4, 5}));
  EXPECT_TRUE(near_values(prism::amin(x, 1), {0, 3}));
  EXPECT_TRUE(near_values(prism::all(x, 1), {0, 1}));
  EXPECT_TRUE(near_values(prism::any(x, 1), {1, 1}));
  EXPECT_TRUE(near_values(prism::logsumexp(Tensor::zeros({2})), {std::log(2.0)}));
  EXPECT_TRUE(near_values(prism::var(x, 1), {1, 1}));
  EXPECT_TRUE(near_values(prism::std(x, 1, 0), {std::sqrt(2.0 / 3), std::sqrt(2.0 / 3)}));
  EXPECT_TRUE(near_values(prism::norm(x, 1, 1), {3, 12}));
}

TEST(Wrapper, MaxMinPairs) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 5, 2, 7, 0, 7}, {2, 3});
  EXPECT_TRUE(near_values(x.max(), {7}));
  EXPECT_TRUE(near_values(prism::min(x), {0}));
  auto [vals, idx] = x.max(1);
  EXPECT_TRUE(near_values(vals, {5, 7}));
  EXPECT_TRUE(near_values(idx, {1, 0}));
  EXPECT_EQ(idx.dtype(), prism::kInt64);
  auto mn = prism::min(x, 0, true);
  EXPECT_EQ(mn.first.sizes(), (Sizes{1, 3}));
  EXPECT_TRUE(near_values(mn.second, {0, 1, 0}));
  auto mx = prism::max(x, -1);
  EXPECT_TRUE(near_values(mx.first, {5, 7}));
  EXPECT_TRUE(near_values(x.argmax(), {3}));
  EXPECT_TRUE(near_values(prism::argmax(x, 0), {1, 0, 1}));
  EXPECT_TRUE(near_values(prism::argmin(x), {4}));
  EXPECT_EQ(x.argmin(1, true).sizes(), (Sizes{2, 1}));
}

TEST(Wrapper, MatmulBmmJoinSplit) {
  Tensor a = Tensor::arange(6).view({2, 3});
  EXPECT_TRUE(near_values(a.matmul(a.t()), {5, 14, 14, 50}));
  EXPECT_TRUE(near_values(prism::matmul(a, Tensor::ones({3})), {3, 12}));
  Tensor b = Tensor::ones({4, 2, 3});
  EXPECT_EQ(prism::bmm(b, Tensor::ones({4, 3, 5})).sizes(), (Sizes{4, 2, 5}));
  EXPECT_EQ(prism::cat({a, a}, 1).sizes(), (Sizes{2, 6}));
  EXPECT_EQ(prism::stack({a, a, a}).sizes(), (Sizes{3, 2, 3}));
  auto parts = prism::split(Tensor::arange(7), 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(near_values(parts[2], {6}));
  auto sized = Tensor::arange(7).split({2, 5});
  ASSERT_EQ(sized.size(), 2u);
  EXPECT_TRUE(near_values(sized[0], {0, 1}));
  EXPECT_EQ(a.split_with_sizes({1, 2}, 1)[1].sizes(), (Sizes{2, 2}));
  // ceil(100 / 40) = 3 per piece: 34 pieces, more than the wrapper's first guess of 16.
  auto chunks = prism::chunk(Tensor::arange(100), 40);
  EXPECT_EQ(chunks.size(), 34u);
  auto many = Tensor::arange(40).split(1);
  ASSERT_EQ(many.size(), 40u);
  EXPECT_TRUE(near_values(many[39], {39}));
  EXPECT_TRUE(prism::allclose(a, a * (1 + 1e-6)));  // within rtol = 1e-5
  EXPECT_FALSE(prism::allclose(a, a + 1e-7));       // |0 - 1e-7| > atol = 1e-8
  EXPECT_FALSE(prism::allclose(a, a + 1e-3));
  EXPECT_TRUE(a.allclose(a + 1e-3, 0, 1e-2));
}

// ===========================================================================
// DLPack
// ===========================================================================

TEST(Wrapper, DlpackRoundTrip) {
  Tensor a = Tensor::arange(6, prism::kFloat64).view({2, 3});
  DLManagedTensor* dl = a.to_dlpack();
  ASSERT_NE(dl, nullptr);
  EXPECT_EQ(dl->dl_tensor.ndim, 2);
  EXPECT_EQ(dl->dl_tensor.dtype.code, kDLFloat);
  EXPECT_EQ(dl->dl_tensor.dtype.bits, 64);
  Tensor b = prism::from_dlpack(dl);  // b now owns dl
  EXPECT_TRUE(prism::equal(a, b));
  b.fill_(1);
  EXPECT_TRUE(near_values(a, {1, 1, 1, 1, 1, 1}));  // zero copy both ways
  DLManagedTensor* again = prism::to_dlpack(b.t());
  EXPECT_EQ(again->dl_tensor.shape[0], 3);
  again->deleter(again);
}

// ===========================================================================
// Runtime helpers
// ===========================================================================

TEST(Wrapper, Runtime) {
  EXPECT_FALSE(prism::version().empty());
  EXPECT_EQ(prism::plugin_abi_version().first, 1u);
  prism::load_default_plugins();
  std::vector<prism::DeviceInfo> devs = prism::devices();
  ASSERT_GE(devs.size(), 1u);
  EXPECT_EQ(static_cast<int32_t>(devs.size()), prism::device_count());
  bool found_cpu = false;
  for (const prism::DeviceInfo& d : devs) {
    if (d.device == "cpu:0") {
      found_cpu = true;
      EXPECT_FALSE(d.plugin.empty());
      EXPECT_FALSE(d.name.empty());
      EXPECT_TRUE(d.supports(prism::kFloat32));
    }
  }
  EXPECT_TRUE(found_cpu);
  std::vector<prism::LoadReportRow> report = prism::load_report();
  ASSERT_GE(report.size(), 1u);
  bool any_loaded = false;
  for (const prism::LoadReportRow& r : report) any_loaded = any_loaded || (r.loaded && r.device_count > 0);
  EXPECT_TRUE(any_loaded);
  EXPECT_TRUE(throws_with([] { prism::load_plugin("/nonexistent/libprism-none.so"); }, {"libprism-none"},
                          PRISM_ERROR_UNAVAILABLE));
  EXPECT_NO_THROW(prism::synchronize());
  EXPECT_NO_THROW(prism::synchronize("cpu:0"));
  prism::MemoryStats st = prism::memory_stats("cpu");
  EXPECT_GE(st.reserved, st.allocated);
  prism::reset_peak_memory_stats();
  EXPECT_EQ(prism::memory_stats().peak_allocated, prism::memory_stats().allocated);
  prism::empty_cache("cpu");
  prism::FallbackPolicy old = prism::fallback_policy();
  prism::set_fallback_policy(prism::FallbackPolicy::Error);
  EXPECT_EQ(prism::fallback_policy(), prism::FallbackPolicy::Error);
  prism::set_fallback_policy(old);
  prism::reset_fallback_counters();
  EXPECT_EQ(prism::fallback_count(), 0u);
  EXPECT_EQ(prism::fallback_count("add"), 0u);
}

TEST(Wrapper, DtypeHelpers) {
  EXPECT_STREQ(prism::dtype_name(prism::kBFloat16), "bfloat16");
  EXPECT_EQ(prism::element_size(prism::kFloat64), 8u);
  EXPECT_TRUE(prism::is_floating_point(prism::kHalf));
  EXPECT_TRUE(prism::is_integral(prism::kUInt8));
  EXPECT_FALSE(prism::is_integral(prism::kBool));
  EXPECT_TRUE(prism::is_integral(prism::kBool, true));
  EXPECT_EQ(prism::promote_types(prism::kUInt8, prism::kInt8), prism::kInt16);
  std::ostringstream os;
  os << prism::kFloat32 << ' ' << prism::Device("cpu");
  EXPECT_EQ(os.str(), "float32 cpu");
}

TEST(Wrapper, Printing) {
  std::ostringstream os;
  os << Tensor::arange(4, prism::kInt64).view({2, 2});
  EXPECT_EQ(os.str(), "tensor([[0, 1], [2, 3]], dtype=int64, device=cpu:0)");
  EXPECT_EQ(Tensor::scalar(1.5).to_string(), "tensor(1.5, dtype=float32, device=cpu:0)");
  EXPECT_EQ(prism::shape_string({2, 3}), "(2, 3)");
  EXPECT_EQ(prism::shape_string({4}), "(4,)");
}

}  // namespace
