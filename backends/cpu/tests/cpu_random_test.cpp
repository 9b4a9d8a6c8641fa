// cpu_random_test.cpp — Philox known answers, the libm-free log/cos, and the philox_* kernels.
#include "cpu_test_util.hpp"
#include "prism_philox.h"

extern "C" void prism_cpu_test_c99_philox_zero(uint32_t out[4]);
extern "C" double prism_cpu_test_c99_normal(uint64_t seed, uint64_t offset, uint64_t index);

namespace prism_cpu_test {
namespace {

using RandomTest = CpuTest;

TEST(PhiloxTest, KnownAnswerVectors) {
  prism_philox4x32 zero = {{0, 0, 0, 0}};
  prism_philox4x32 r = prism_philox4x32_10(zero, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  prism_philox4x32 ones = {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}};
  r = prism_philox4x32_10(ones, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  // Random123 pi vector
  prism_philox4x32 pi = {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  r = prism_philox4x32_10(pi, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
  uint32_t c[4];
  prism_cpu_test_c99_philox_zero(c);
  EXPECT_EQ(c[0], 0x6627e8d5u);
  EXPECT_EQ(c[3], 0x9b00dbd8u);
}

TEST(PhiloxTest, ElementCounterLayout) {
  const uint64_t seed = 0x0123456789abcdefull, offset = 0xfedcba9876543210ull, index = 0x1122334455667788ull;
  prism_philox4x32 ctr = {{0x55667788u, 0x11223344u, 0x76543210u, 0xfedcba98u}};
  prism_philox4x32 want = prism_philox4x32_10(ctr, 0x89abcdefu, 0x01234567u);
  prism_philox4x32 got = prism_philox_element(seed, offset, index);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], want.v[i]);
}

TEST(PhiloxTest, LogMatchesLibm) {
  double worst = 0;
  Lcg g(1);
  for (int i = 0; i < 200000; ++i) {
    // uniform in (0, 1] plus a spread of magnitudes and the points near 1
    double x = i % 3 == 0   ? g.next(0, 1)
               : i % 3 == 1 ? std::ldexp(g.next(0.5, 1), -static_cast<int>(g.next(0, 60)))
                            : 1 - g.next(0, 1e-6);
    if (x <= 0) continue;
    const double ref = std::log(x);
    const double got = prism_philox_log(x);
    if (ref != 0) worst = std::max(worst, std::fabs(got - ref) / std::fabs(ref));
  }
  EXPECT_LT(worst, 1e-15);
  EXPECT_EQ(prism_philox_log(1.0), 0.0);
  EXPECT_NEAR(prism_philox_log(1.1102230246251565e-16), std::log(1.1102230246251565e-16), 1e-13);
  EXPECT_NEAR(prism_philox_log(4.9406564584124654e-324), std::log(4.9406564584124654e-324),
              1e-12);  // subnormal
  EXPECT_NEAR(prism_philox_log(1e300), std::log(1e300), 1e-12);
}

TEST(PhiloxTest, CosMatchesLibm) {
  double worst_abs = 0;
  Lcg g(2);
  const double two_pi = 6.283185307179586476925286766559;
  for (int i = 0; i < 200000; ++i) {
    const double t = g.next(0, 1);
    const double ref = std::cos(two_pi * static_cast<long double>(t));
    const double got = prism_philox_cos_2pi(t);
    worst_abs = std::max(worst_abs, std::fabs(got - ref));
  }
  EXPECT_LT(worst_abs, 2e-15);
  EXPECT_EQ(prism_philox_cos_2pi(0.0), 1.0);
  EXPECT_EQ(prism_philox_cos_2pi(0.5), -1.0);
  EXPECT_EQ(prism_philox_cos_2pi(0.25), 0.0);
  // relative accuracy near the zeros, where the reduction in turns pays off
  const double t = 0.25 + 1e-9;
  EXPECT_NEAR(prism_philox_cos_2pi(t) / std::sin(-two_pi * 1e-9), 1.0, 1e-6);
}

TEST(PhiloxTest, CAndCxxAgreeBitForBit) {
  for (uint64_t i = 0; i < 1000; ++i) {
    const double a = prism_philox_normal_f64(prism_philox_element(42, 7, i));
    const double b = prism_cpu_test_c99_normal(42, 7, i);
    // Bit identity is the point of this check.
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
  }
}

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

std::vector<prism_attr> stream(int64_t seed, int64_t offset, std::vector<prism_attr> extra = {}) {
  extra.push_back(attr_int("seed", seed));
  extra.push_back(attr_int("offset", offset));
  return extra;
}

TEST_F(RandomTest, UniformMatchesTheReferenceAndIsDeterministic) {
  const int64_t n = 200003;  // threaded
  for (prism_dtype dt : kFloatDtypes) {
    Tensor a(dt, {n}), b(dt, {n}), c(dt, {n});
    auto attrs = stream(123, 5, {attr_float("low", -2), attr_float("high", 3)});
    ASSERT_OK(call("philox_uniform", {}, {&a}, attrs));
    ASSERT_OK(call("philox_uniform", {}, {&b}, attrs));
    ASSERT_OK(
        call("philox_uniform", {}, {&c}, stream(123, 6, {attr_float("low", -2), attr_float("high", 3)})));
    double sum = 0;
    int64_t same_as_c = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = a.get(i);
      ASSERT_EQ(v, b.get(i));
      ASSERT_GE(v, -2.0);
      ASSERT_LE(v, 3.0);
      same_as_c += v == c.get(i);
      sum += v;
    }
    EXPECT_LT(same_as_c, n / 50) << prism_sdk_dtype_name(dt);
    EXPECT_NEAR(sum / n, 0.5, 0.02);
    // element i is a pure function of (seed, offset, i)
    for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{77777}, n - 1}) {
      const prism_philox4x32 r = prism_philox_element(123, 5, static_cast<uint64_t>(i));
      double want;
      if (dt == PRISM_DTYPE_F64) {
        want = -2.0 + 5.0 * prism_philox_uniform_f64(r.v[0], r.v[1]);
      } else {
        want = round_to(dt, -2.0f + 5.0f * prism_philox_uniform_f32(r.v[0]));
      }
      EXPECT_EQ(a.get(i), want) << i;
    }
  }
}

TEST_F(RandomTest, ElementIndexIsRowMajorNotMemoryOrder) {
  Tensor dense(PRISM_DTYPE_F32, {6, 7});
  Tensor trans = Tensor::transposed(PRISM_DTYPE_F32, {6, 7});
  ASSERT_OK(call("philox_uniform", {}, {&dense}, stream(9, 1)));
  ASSERT_OK(call("philox_uniform", {}, {&trans}, stream(9, 1)));
  EXPECT_EQ(dense.values(), trans.values());
}

TEST_F(RandomTest, NormalMomentsAndReference) {
  const int64_t n = 1 << 18;
  for (prism_dtype dt : kFloatDtypes) {
    Tensor x(dt, {n});
    ASSERT_OK(
        call("philox_normal", {}, {&x}, stream(2024, 3, {attr_float("mean", 1.5), attr_float("std", 2.0)})));
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = x.get(i);
      ASSERT_TRUE(std::isfinite(v));
      s += v;
      s2 += v * v;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, 1.5, 0.02) << prism_sdk_dtype_name(dt);
    EXPECT_NEAR(std::sqrt(var), 2.0, 0.02) << prism_sdk_dtype_name(dt);
    for (int64_t i : {int64_t{0}, int64_t{12345}}) {
      const double z = prism_philox_normal_f64(prism_philox_element(2024, 3, static_cast<uint64_t>(i)));
      EXPECT_NEAR(x.get(i), 1.5 + 2.0 * z, tol(dt, 1.5 + 2.0 * z));
      if (dt == PRISM_DTYPE_F64) {
        EXPECT_EQ(x.get(i), 1.5 + 2.0 * z);
      }
    }
  }
}

TEST_F(RandomTest, RandintRangeAndDtypes) {
  for (prism_dtype dt : {PRISM_DTYPE_U8, PRISM_DTYPE_I8, PRISM_DTYPE_I16, PRISM_DTYPE_I32, PRISM_DTYPE_I64,
                         PRISM_DTYPE_F32, PRISM_DTYPE_F64, PRISM_DTYPE_F16}) {
    Tensor x(dt, {10000});
    ASSERT_OK(call("philox_randint", {}, {&x}, stream(1, 2, {attr_int("low", 3), attr_int("high", 10)})));
    std::vector<int> hist(10, 0);
    for (int64_t i = 0; i < 10000; ++i) {
      const double v = x.get(i);
      ASSERT_GE(v, 3);
      ASSERT_LT(v, 10);
      ASSERT_EQ(v, std::floor(v));
      hist[static_cast<size_t>(v)]++;
    }
    for (int k = 3; k < 10; ++k) EXPECT_GT(hist[static_cast<size_t>(k)], 1200);
    const prism_philox4x32 r = prism_philox_element(1, 2, 17);
    EXPECT_EQ(x.get(17), static_cast<double>(prism_philox_randint(r, 3, 7)));
  }
  Tensor x(PRISM_DTYPE_I64, {4});
  EXPECT_EQ(call("philox_randint", {}, {&x}, stream(1, 2, {attr_int("low", 3), attr_int("high", 3)})).code,
            PRISM_ERROR_INVALID_ARGUMENT);
  // the full i64 range works
  ASSERT_OK(call("philox_randint", {}, {&x},
                 stream(1, 2, {attr_int("low", INT64_MIN), attr_int("high", INT64_MAX)})));
}

TEST_F(RandomTest, BernoulliWithScalarAndTensorP) {
  const int64_t n = 100000;
  for (prism_dtype dt : {PRISM_DTYPE_BOOL, PRISM_DTYPE_F32, PRISM_DTYPE_I32, PRISM_DTYPE_BF16}) {
    Tensor x(dt, {n});
    ASSERT_OK(call("philox_bernoulli", {}, {&x}, stream(5, 0, {attr_float("p", 0.3)})));
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = x.get(i);
      ASSERT_TRUE(v == 0 || v == 1);
      s += v;
    }
    EXPECT_NEAR(s / n, 0.3, 0.01);
  }
  Tensor p(PRISM_DTYPE_F64, {2, 5000});
  for (int64_t i = 0; i < 10000; ++i) p.set(i, i < 5000 ? 0.0 : 1.0);
  Tensor y(PRISM_DTYPE_U8, {2, 5000});
  ASSERT_OK(call("philox_bernoulli", {&p}, {&y}, stream(5, 1)));
  for (int64_t i = 0; i < 10000; ++i) ASSERT_EQ(y.get(i), i < 5000 ? 0 : 1);
  Tensor z(PRISM_DTYPE_F32, {3});
  Status s = call("philox_bernoulli", {}, {&z}, stream(5, 1));
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("'p'"), std::string::npos) << s.message;
}

}  // namespace
}  // namespace prism_cpu_test
