// nn_test.cpp — neural-network ops: forward values against naive references, finite-difference gradients in
// float64 (contiguous and transposed inputs), mixed precision, the no-kernel device path, bad input.
#include <cmath>
#include <functional>

#include "core/autograd/autograd.hpp"
#include "tests/unit/gradcheck.hpp"
#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::gradcheck;
using test::values;
namespace ag = autograd;
using V = std::vector<double>;
using Ts = std::vector<Tensor>;

class NnTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

Tensor f64(const V& v, Dims sizes) {
  return test::tensor<double>(v, sizes);
}
Tensor i64(const std::vector<int64_t>& v, Dims sizes) {
  return test::tensor<int64_t>(v, sizes);
}
// Uniform values in [lo, hi), float64 (seeded by the caller).
Tensor rnd(Dims sizes, double lo = -1.0, double hi = 1.0) {
  ag::NoGradGuard ng;
  Tensor u = rand(sizes, PRISM_DTYPE_F64, cpu());
  return binary("add", binary("mul", u, scalar_tensor(hi - lo, PRISM_DTYPE_F64, cpu())),
                scalar_tensor(lo, PRISM_DTYPE_F64, cpu()));
}
void expect_near(const V& got, const V& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << what << " element " << i;
}
double item(const Tensor& t) {
  return values(t).at(0);
}

// ---- naive references -------------------------------------------------------------------------------

// Softmax of a row-major (rows, n) matrix along n.
V ref_softmax(const V& x, int64_t rows, int64_t n, bool log) {
  V out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < n; ++j) m = std::max(m, x[r * n + j]);
    for (int64_t j = 0; j < n; ++j) s += std::exp(x[r * n + j] - m);
    for (int64_t j = 0; j < n; ++j)
      out[r * n + j] = log ? x[r * n + j] - m - std::log(s) : std::exp(x[r * n + j] - m) / s;
  }
  return out;
}

struct Conv {
  int64_t N, C, H, W, O, KH, KW, s[2], p[2], d[2], G;
  int64_t OH() const { return (H + 2 * p[0] - d[0] * (KH - 1) - 1) / s[0] + 1; }
  int64_t OW() const { return (W + 2 * p[1] - d[1] * (KW - 1) - 1) / s[1] + 1; }
};
V ref_conv(const Conv& c, const V& x, const V& w, const V* b) {
  const int64_t Cg = c.C / c.G, Og = c.O / c.G, OH = c.OH(), OW = c.OW();
  V y(static_cast<size_t>(c.N * c.O * OH * OW));
  for (size_t yi = 0; yi < y.size(); ++yi) {  // y (N, O, OH, OW), row-major
    const int64_t ow = static_cast<int64_t>(yi) % OW, oh = static_cast<int64_t>(yi) / OW % OH;
    const int64_t o = static_cast<int64_t>(yi) / (OW * OH) % c.O,
                  n = static_cast<int64_t>(yi) / (OW * OH * c.O);
    double acc = b ? (*b)[o] : 0.0;
    for (int64_t wi = 0; wi < Cg * c.KH * c.KW; ++wi) {  // one (ci, kh, kw) of the group's filter
      const int64_t kw = wi % c.KW, kh = wi / c.KW % c.KH, ci = wi / (c.KW * c.KH);
      const int64_t ih = oh * c.s[0] - c.p[0] + kh * c.d[0], iw = ow * c.s[1] - c.p[1] + kw * c.d[1];
      if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
      acc += x[((n * c.C + (o / Og) * Cg + ci) * c.H + ih) * c.W + iw] * w[o * Cg * c.KH * c.KW + wi];
    }
    y[yi] = acc;
  }
  return y;
}

V ref_pool(bool is_max, const V& x, int64_t NC, int64_t H, int64_t W, int64_t k, int64_t s, int64_t p,
           bool include_pad) {
  const int64_t OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
  V y(static_cast<size_t>(NC * OH * OW));
  for (size_t yi = 0; yi < y.size(); ++yi) {  // y (NC, OH, OW)
    const int64_t ow = static_cast<int64_t>(yi) % OW, oh = static_cast<int64_t>(yi) / OW % OH;
    const int64_t c = static_cast<int64_t>(yi) / (OW * OH);
    double acc = is_max ? -INFINITY : 0.0;
    int64_t cnt = 0;
    for (int64_t wi = 0; wi < k * k; ++wi) {
      const int64_t i = oh * s - p + wi / k, j = ow * s - p + wi % k;
      if (i < 0 || i >= H || j < 0 || j >= W) continue;
      const double v = x[(c * H + i) * W + j];
      acc = is_max ? std::max(acc, v) : acc + v;
      ++cnt;
    }
    y[yi] = is_max ? acc : acc / static_cast<double>(include_pad ? k * k : cnt);
  }
  return y;
}

// ---- softmax family -----------------------------------------------------------------------------------

TEST_F(NnTest, SoftmaxMatchesReference) {
  manual_seed(3);
  Tensor x = rnd({3, 5}, -4, 4);
  V xv = values(x);
  expect_near(values(softmax(x, 1)), ref_softmax(xv, 3, 5, false), 1e-12, "softmax dim 1");
  expect_near(values(log_softmax(x, -1)), ref_softmax(xv, 3, 5, true), 1e-12, "log_softmax dim -1");
  // dim 0 = the rows of the transpose.
  Tensor xt = contiguous(transpose(x, 0, 1));
  V want = ref_softmax(values(xt), 5, 3, false);
  expect_near(values(contiguous(transpose(softmax(x, 0), 0, 1))), want, 1e-12, "softmax dim 0");
  // Non-contiguous input and a middle dim of a 3-D tensor.
  Tensor x3 = rnd({2, 4, 3}, -3, 3);
  Tensor s3 = softmax(transpose(x3, 1, 2), 2);  // (2, 3, 4): softmax over the original dim 1
  V ref = ref_softmax(values(contiguous(transpose(x3, 1, 2))), 6, 4, false);
  expect_near(values(s3), ref, 1e-12, "softmax transposed");
  // float32 through the fused kernel; large logits stay finite.
  Tensor big = test::tensor<float>({1000.f, 1001.f, 1002.f}, Dims{3});
  expect_near(values(softmax(big, 0)), ref_softmax({1000, 1001, 1002}, 1, 3, false), 1e-6,
              "softmax f32 large");
  // x - logsumexp(x) near 1000: float32's spacing there is 6e-5.
  expect_near(values(log_softmax(big, 0)), ref_softmax({1000, 1001, 1002}, 1, 3, true), 1e-4,
              "log_softmax f32");
}

TEST_F(NnTest, SoftmaxGradients) {
  manual_seed(4);
  for (bool log : {false, true}) {
    auto f = [log](int64_t d) {
      return [log, d](const Ts& x) { return log ? log_softmax(x[0], d) : softmax(x[0], d); };
    };
    gradcheck(log ? "log_softmax" : "softmax", f(1), {rnd({3, 4})});
    gradcheck(log ? "log_softmax dim 0" : "softmax dim 0", f(0), {rnd({3, 4})});
    gradcheck(log ? "log_softmax transposed" : "softmax transposed",
              [log](const Ts& x) {
                return log ? log_softmax(transpose(x[0], 0, 1), 1) : softmax(transpose(x[0], 0, 1), 1);
              },
              {rnd({4, 3})});
  }
  Tensor x = rnd({2, 3});
  ag::set_requires_grad(x, true);
  EXPECT_EQ(ag::grad_fn(softmax(x, 1))->name(), "SoftmaxBackward");
  EXPECT_EQ(ag::grad_fn(log_softmax(x, 1))->name(), "LogSoftmaxBackward");
}

// ---- classification losses ------------------------------------------------------------------------------

TEST_F(NnTest, CrossEntropyMatchesReference) {
  manual_seed(5);
  const int64_t N = 4, C = 3;
  Tensor x = rnd({N, C}, -2, 2);
  V xv = values(x);
  V lp = ref_softmax(xv, N, C, true);
  std::vector<int64_t> tv = {2, 0, 1, 2};
  Tensor t = i64(tv, Dims{N});
  V w = {0.5, 2.0, 1.5};
  Tensor wt = f64(w, Dims{C});
  // none / sum / weighted mean with the sum of the targets' weights as denominator.
  double sum = 0, wsum = 0;
  V per(N);
  for (int64_t i = 0; i < N; ++i) {
    per[i] = -w[tv[i]] * lp[i * C + tv[i]];
    sum += per[i];
    wsum += w[tv[i]];
  }
  expect_near(values(cross_entropy(x, t, wt, -100, 0.0, PRISM_REDUCTION_NONE)), per, 1e-12, "ce none");
  EXPECT_NEAR(item(cross_entropy(x, t, wt, -100, 0.0, PRISM_REDUCTION_SUM)), sum, 1e-12);
  EXPECT_NEAR(item(cross_entropy(x, t, wt, -100, 0.0, PRISM_REDUCTION_MEAN)), sum / wsum, 1e-12);
  // ignore_index: sample 1 (target 0) is ignored and leaves the denominator.
  Tensor ti = i64({2, -100, 1, 2}, Dims{N});
  double s2 = 0, w2 = 0;
  for (int64_t i : {0, 2, 3}) {
    s2 += -w[tv[i]] * lp[i * C + tv[i]];
    w2 += w[tv[i]];
  }
  EXPECT_NEAR(item(cross_entropy(x, ti, wt, -100, 0.0, PRISM_REDUCTION_MEAN)), s2 / w2, 1e-12);
  EXPECT_EQ(values(cross_entropy(x, ti, wt, -100, 0.0, PRISM_REDUCTION_NONE))[1], 0.0);
  // Label smoothing (no weight): (1 - e) * nll + e / C * (-sum_c logp), mean over the non-ignored samples.
  const double e = 0.1;
  double acc = 0;
  for (int64_t i : {0, 2, 3}) {
    double smooth = 0;
    for (int64_t c = 0; c < C; ++c) smooth -= lp[i * C + c];
    acc += (1 - e) * -lp[i * C + tv[i]] + e / C * smooth;
  }
  EXPECT_NEAR(item(cross_entropy(x, ti, nullptr, -100, e, PRISM_REDUCTION_MEAN)), acc / 3, 1e-12);
  // Class probabilities: mean over samples, weights inside.
  Tensor p = softmax(rnd({N, C}), 1);
  V pv = values(p);
  double ps = 0;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < C; ++c) ps -= w[c] * pv[i * C + c] * lp[i * C + c];
  EXPECT_NEAR(item(cross_entropy(x, p, wt, -100, 0.0, PRISM_REDUCTION_MEAN)), ps / N, 1e-12);
  // nll_loss of log_softmax equals cross_entropy; (N, C, d) inputs put classes in dim 1.
  EXPECT_NEAR(item(nll_loss(log_softmax(x, 1), t, wt, -100, PRISM_REDUCTION_MEAN)), sum / wsum, 1e-12);
  Tensor x3 = rnd({2, C, 2});
  Tensor t3 = i64({0, 2, 1, 1}, Dims{2, 2});
  Tensor flat = reshape(contiguous(transpose(x3, 1, 2)), Dims{4, C});
  EXPECT_NEAR(item(cross_entropy(x3, t3, nullptr, -100, 0.0, PRISM_REDUCTION_SUM)),
              item(cross_entropy(flat, reshape(t3, Dims{4}), nullptr, -100, 0.0, PRISM_REDUCTION_SUM)),
              1e-12);
}

TEST_F(NnTest, BinaryCrossEntropyWithLogitsMatchesReference) {
  manual_seed(6);
  Tensor x = rnd({2, 3}, -30, 30);  // large logits: the stable form must not overflow
  Tensor y = rnd({2, 3}, 0, 1);
  V pw = {1.0, 2.0, 0.5}, wv = {0.3, 1.0, 2.0};
  V xv = values(x), yv = values(y), want(6);
  for (size_t i = 0; i < 6; ++i) {
    double sig = 1 / (1 + std::exp(-xv[i]));
    double l = -(pw[i % 3] * yv[i] * std::log(sig) + (1 - yv[i]) * std::log1p(-sig));
    if (!std::isfinite(l)) l = NAN;
    want[i] = wv[i % 3] * l;
  }
  V got = values(
      binary_cross_entropy_with_logits(x, y, f64(wv, Dims{3}), f64(pw, Dims{3}), PRISM_REDUCTION_NONE));
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(std::isfinite(got[i])) << i;
    if (std::isfinite(want[i])) {
      EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::fabs(want[i]))) << i;
    }
  }
}

TEST_F(NnTest, RegressionLossesMatchReference) {
  Tensor a = f64({0.0, 0.5, -2.0, 3.0}, Dims{4});
  Tensor b = f64({0.2, -0.5, 1.0, 3.0}, Dims{4});
  // diffs: -0.2, 1.0, -3.0, 0.0
  EXPECT_NEAR(item(mse_loss(a, b, PRISM_REDUCTION_MEAN)), (0.04 + 1 + 9 + 0) / 4, 1e-12);
  EXPECT_NEAR(item(l1_loss(a, b, PRISM_REDUCTION_SUM)), 0.2 + 1 + 3, 1e-12);
  expect_near(values(huber_loss(a, b, 1.5, PRISM_REDUCTION_NONE)), {0.02, 0.5, 1.5 * (3 - 0.75), 0.0}, 1e-12,
              "huber");
  expect_near(values(smooth_l1_loss(a, b, 0.5, PRISM_REDUCTION_NONE)), {0.04, 0.75, 2.75, 0.0}, 1e-12,
              "smooth_l1");
  expect_near(values(smooth_l1_loss(a, b, 0.0, PRISM_REDUCTION_NONE)), {0.2, 1.0, 3.0, 0.0}, 1e-12,
              "smooth_l1 beta 0");
}

TEST_F(NnTest, LossGradients) {
  manual_seed(7);
  Tensor t = i64({2, 0, 1, 2, 1}, Dims{5});
  Tensor ti = i64({2, -100, 1, 2, 0}, Dims{5});
  Tensor w = f64({0.5, 2.0, 1.5}, Dims{3});
  for (prism_reduction r : {PRISM_REDUCTION_NONE, PRISM_REDUCTION_MEAN, PRISM_REDUCTION_SUM}) {
    gradcheck("cross_entropy weighted", [&](const Ts& x) { return cross_entropy(x[0], ti, w, -100, 0.2, r); },
              {rnd({5, 3})});
    gradcheck("cross_entropy transposed",
              [&](const Ts& x) { return cross_entropy(transpose(x[0], 0, 1), t, nullptr, -100, 0.0, r); },
              {rnd({3, 5})});
    gradcheck("nll_loss", [&](const Ts& x) { return nll_loss(x[0], ti, w, -100, r); }, {rnd({5, 3})});
  }
  Tensor probs = softmax(rnd({4, 3}), 1);
  gradcheck("cross_entropy probabilities",
            [&](const Ts& x) { return cross_entropy(x[0], probs, w, -100, 0.1, PRISM_REDUCTION_MEAN); },
            {rnd({4, 3})});
  Tensor y = rnd({4, 3}, 0, 1);
  gradcheck("bce_with_logits",
            [&](const Ts& x) {
              return binary_cross_entropy_with_logits(transpose(x[0], 0, 1), transpose(y, 0, 1), x[1], x[2],
                                                      PRISM_REDUCTION_MEAN);
            },
            {rnd({4, 3}, -3, 3), rnd({4}, 0.5, 2), rnd({4}, 0.5, 2)});
  // Keep |input - target| away from the kinks at 0, delta and beta.
  Tensor target = f64({0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, Dims{2, 3});
  Tensor x0 = f64({-2.0, -0.7, -0.3, 0.2, 0.8, 1.9}, Dims{3, 2});
  auto xt = [](const Ts& x) { return transpose(x[0], 0, 1); };
  gradcheck("mse_loss", [&](const Ts& x) { return mse_loss(xt(x), x[1], PRISM_REDUCTION_MEAN); },
            {x0, rnd({2, 3})});
  gradcheck("l1_loss", [&](const Ts& x) { return l1_loss(xt(x), target, PRISM_REDUCTION_SUM); }, {x0});
  gradcheck("huber_loss", [&](const Ts& x) { return huber_loss(xt(x), target, 1.0, PRISM_REDUCTION_NONE); },
            {x0});
  gradcheck("smooth_l1_loss",
            [&](const Ts& x) { return smooth_l1_loss(xt(x), target, 0.5, PRISM_REDUCTION_MEAN); }, {x0});
}

// ---- linear, dropout ----------------------------------------------------------------------------------

TEST_F(NnTest, LinearAndDropout) {
  manual_seed(8);
  Tensor x = f64({1, 2, 3, 4, 5, 6}, Dims{2, 3});
  Tensor w = f64({1, 0, -1, 2, 1, 0}, Dims{2, 3});
  Tensor b = f64({0.5, -1}, Dims{2});
  expect_near(values(linear(x, w, b)), {1 - 3 + 0.5, 2 + 2 - 1, 4 - 6 + 0.5, 8 + 5 - 1}, 1e-12, "linear");
  gradcheck("linear", [](const Ts& a) { return linear(transpose(a[0], 0, 1), a[1], a[2]); },
            {rnd({3, 2}), rnd({4, 3}), rnd({4})});
  gradcheck("linear 3-D no bias", [](const Ts& a) { return linear(a[0], a[1], nullptr); },
            {rnd({2, 2, 3}), rnd({4, 3})});
  gradcheck("linear 1-D", [](const Ts& a) { return linear(a[0], a[1], a[2]); },
            {rnd({3}), rnd({2, 3}), rnd({2})});
  {
    // Only the parameters need gradients (a first layer): x gets none, the
    // weight's is g^T x in its own contiguous layout, the bias's sums the rows.
    Tensor lw = rnd({2, 3}), lb = rnd({2});
    ag::set_requires_grad(lw, true);
    ag::set_requires_grad(lb, true);
    Tensor y = linear(x, lw, lb);
    ag::backward({reduce("sum", binary("mul", y, y), {}, false)}, {}, false);
    Tensor g2;
    {
      ag::NoGradGuard ng;
      g2 = binary("mul", linear(x, lw, lb), scalar_tensor(2.0, PRISM_DTYPE_F64, cpu()));
    }
    expect_near(values(ag::grad(lw)), values(matmul(transpose(g2, 0, 1), x)), 1e-12, "linear weight grad");
    expect_near(values(ag::grad(lb)), values(reduce("sum", g2, {0}, false)), 1e-12, "linear bias grad");
    EXPECT_TRUE(ag::grad(lw)->is_contiguous());
    EXPECT_EQ(ag::grad(x), nullptr);
  }
  // Dropout: kept elements are scaled by 1 / (1 - p); the mask follows the seed.
  Tensor ones = full(Dims{4000}, 1.0, PRISM_DTYPE_F64, cpu());
  manual_seed(42);
  V d1 = values(dropout(ones, 0.25, true));
  manual_seed(42);
  V d2 = values(dropout(ones, 0.25, true));
  EXPECT_EQ(d1, d2);
  int64_t kept = 0;
  for (double v : d1) {
    EXPECT_TRUE(v == 0.0 || std::fabs(v - 1 / 0.75) < 1e-12) << v;
    kept += v != 0.0;
  }
  EXPECT_NEAR(static_cast<double>(kept) / 4000, 0.75, 0.03);
  EXPECT_EQ(dropout(ones, 0.25, false).get(), ones.get());
  EXPECT_EQ(values(reduce("sum", dropout(ones, 1.0, true), {}, false))[0], 0.0);
  gradcheck("dropout",
            [](const Ts& a) {
              manual_seed(9);
              return dropout(transpose(a[0], 0, 1), 0.4, true);
            },
            {rnd({3, 4})});
  // The float32 mask equals the float64 one (same Philox stream).
  manual_seed(42);
  V d3 = values(dropout(full(Dims{4000}, 1.0, PRISM_DTYPE_F32, cpu()), 0.25, true));
  for (size_t i = 0; i < d1.size(); ++i) EXPECT_EQ(d3[i] != 0.0, d1[i] != 0.0) << i;
}

// ---- normalisation ----------------------------------------------------------------------------------

TEST_F(NnTest, LayerNormMatchesReferenceAndGradients) {
  manual_seed(10);
  Tensor x = rnd({2, 3, 4});
  Tensor w = rnd({3, 4}), b = rnd({3, 4});
  V xv = values(x), wv = values(w), bv = values(b), want(24);
  for (int n = 0; n < 2; ++n) {
    double m = 0, v = 0;
    for (int i = 0; i < 12; ++i) m += xv[n * 12 + i] / 12;
    for (int i = 0; i < 12; ++i) v += (xv[n * 12 + i] - m) * (xv[n * 12 + i] - m) / 12;
    for (int i = 0; i < 12; ++i)
      want[n * 12 + i] = (xv[n * 12 + i] - m) / std::sqrt(v + 1e-5) * wv[i] + bv[i];
  }
  expect_near(values(layer_norm(x, {3, 4}, w, b, 1e-5)), want, 1e-10, "layer_norm");
  gradcheck("layer_norm", [](const Ts& a) { return layer_norm(a[0], {4}, a[1], a[2], 1e-5); },
            {rnd({3, 4}), rnd({4}), rnd({4})});
  gradcheck("layer_norm transposed 2 dims",
            [](const Ts& a) {
              return layer_norm(transpose(a[0], 0, 2), {3, 2}, a[1], nullptr, 1e-5);
            },
            {rnd({2, 3, 2}), rnd({3, 2})});
  gradcheck("layer_norm no affine", [](const Ts& a) { return layer_norm(a[0], {5}, nullptr, nullptr, 1e-5); },
            {rnd({2, 5})});
  Tensor xg = rnd({2, 4});
  ag::set_requires_grad(xg, true);
  EXPECT_EQ(ag::grad_fn(layer_norm(xg, {4}, nullptr, nullptr, 1e-5))->name(), "LayerNormBackward");
}

TEST_F(NnTest, BatchNormTrainingEvalAndGradients) {
  manual_seed(11);
  const int64_t N = 3, C = 2, L = 4;
  Tensor x = rnd({N, C, L}, -2, 2);
  Tensor rm = f64({0.5, -0.5}, Dims{C}), rv = f64({2.0, 0.5}, Dims{C});
  Tensor w = f64({1.5, -0.5}, Dims{C}), b = f64({0.1, 0.2}, Dims{C});
  V xv = values(x), want(static_cast<size_t>(N * C * L));
  V mean(C, 0), var(C, 0);
  auto channel = [&](size_t i) { return static_cast<size_t>(static_cast<int64_t>(i) / L % C); };
  for (size_t i = 0; i < xv.size(); ++i) mean[channel(i)] += xv[i] / (N * L);
  for (size_t i = 0; i < xv.size(); ++i) var[channel(i)] += std::pow(xv[i] - mean[channel(i)], 2) / (N * L);
  V wv = values(w), bv = values(b);
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = channel(i);
    want[i] = (xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * wv[c] + bv[c];
  }
  expect_near(values(batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5)), want, 1e-10, "batch_norm train");
  // Running stats: momentum 0.1, unbiased variance.
  const double unb = static_cast<double>(N * L) / (N * L - 1);
  expect_near(values(rm), {0.9 * 0.5 + 0.1 * mean[0], 0.9 * -0.5 + 0.1 * mean[1]}, 1e-12, "running_mean");
  expect_near(values(rv), {0.9 * 2.0 + 0.1 * var[0] * unb, 0.9 * 0.5 + 0.1 * var[1] * unb}, 1e-12,
              "running_var");
  // Eval: the running statistics.
  V rmv = values(rm), rvv = values(rv);
  V ev = values(batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5));
  for (size_t i = 0; i < ev.size(); ++i) {
    int c = static_cast<int>((i / L) % C);
    EXPECT_NEAR(ev[i], (xv[i] - rmv[c]) / std::sqrt(rvv[c] + 1e-5) * wv[c] + bv[c], 1e-10);
  }
  EXPECT_EQ(values(rm), rmv);  // eval leaves them alone
  gradcheck("batch_norm train",
            [](const Ts& a) { return batch_norm(a[0], nullptr, nullptr, a[1], a[2], true, 0.1, 1e-5); },
            {rnd({3, 2, 2}), rnd({2}), rnd({2})});
  gradcheck("batch_norm train transposed",
            [](const Ts& a) {
              return batch_norm(transpose(a[0], 0, 1), nullptr, nullptr, a[1], nullptr, true, 0.1, 1e-5);
            },
            {rnd({2, 4}), rnd({2})});
  Tensor erm = f64({0.1, 0.2}, Dims{2}), erv = f64({1.5, 0.7}, Dims{2});
  gradcheck("batch_norm eval",
            [&](const Ts& a) { return batch_norm(a[0], erm, erv, a[1], a[2], false, 0.1, 1e-5); },
            {rnd({3, 2, 2}), rnd({2}), rnd({2})});
}

// ---- conv2d and pooling -----------------------------------------------------------------------------------

TEST_F(NnTest, Conv2dMatchesReference) {
  manual_seed(12);
  const Conv cases[] = {
      {2, 3, 5, 6, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1},
      {1, 4, 7, 7, 6, 3, 2, {2, 1}, {0, 1}, {2, 1}, 2},
      {2, 2, 4, 4, 2, 1, 1, {1, 1}, {0, 0}, {1, 1}, 2},
  };
  for (const Conv& c : cases) {
    for (prism_dtype dt : {PRISM_DTYPE_F64, PRISM_DTYPE_F32}) {
      Tensor x = rnd({c.N, c.C, c.H, c.W}), w = rnd({c.O, c.C / c.G, c.KH, c.KW}), b = rnd({c.O});
      V bv = values(b);
      V want = ref_conv(c, values(x), values(w), &bv);
      Tensor y = conv2d(to_dtype(x, dt), to_dtype(w, dt), to_dtype(b, dt), c.s, c.p, c.d, c.G);
      EXPECT_EQ(y->sizes, (Dims{c.N, c.O, c.OH(), c.OW()}));
      expect_near(values(y), want, dt == PRISM_DTYPE_F64 ? 1e-12 : 1e-5, "conv2d");
      V nb = ref_conv(c, values(x), values(w), nullptr);
      expect_near(values(conv2d(to_dtype(x, dt), to_dtype(w, dt), nullptr, c.s, c.p, c.d, c.G)), nb,
                  dt == PRISM_DTYPE_F64 ? 1e-12 : 1e-5, "conv2d no bias");
    }
  }
  // Unbatched (C, H, W) input.
  Tensor x = rnd({2, 4, 4}), w = rnd({3, 2, 3, 3});
  Tensor y3 = conv2d(x, w, nullptr, nullptr, nullptr, nullptr, 1);
  EXPECT_EQ(y3->sizes, (Dims{3, 2, 2}));
  expect_near(values(y3), values(conv2d(unsqueeze(x, 0), w, nullptr, nullptr, nullptr, nullptr, 1)), 0,
              "unbatched");
}

TEST_F(NnTest, Conv2dGradients) {
  manual_seed(13);
  const int64_t s1[2] = {1, 1}, p1[2] = {1, 1}, s2[2] = {2, 1}, p0[2] = {0, 1}, d2[2] = {1, 2};
  gradcheck("conv2d pad 1 bias", [&](const Ts& a) { return conv2d(a[0], a[1], a[2], s1, p1, nullptr, 1); },
            {rnd({2, 2, 4, 4}), rnd({3, 2, 3, 3}), rnd({3})});
  gradcheck("conv2d stride dilation groups transposed",
            [&](const Ts& a) { return conv2d(transpose(a[0], 2, 3), a[1], nullptr, s2, p0, d2, 2); },
            {rnd({1, 4, 5, 6}), rnd({4, 2, 2, 2})});
  // float32 gradients through the oneDNN backward primitives match float64 ones.
  Tensor x = rnd({2, 3, 6, 5}), w = rnd({4, 3, 3, 3}), b = rnd({4}), gy = rnd({2, 4, 3, 5});
  auto grads = [&](prism_dtype dt) {
    Tensor xx = to_dtype(x, dt), ww = to_dtype(w, dt), bb = to_dtype(b, dt);
    for (auto* t : {&xx, &ww, &bb}) ag::set_requires_grad(*t, true);
    Tensor y = conv2d(xx, ww, bb, s2, p1, nullptr, 1);
    return ag::grad({y}, {to_dtype(gy, dt)}, {xx, ww, bb}, false, false);
  };
  Ts g64 = grads(PRISM_DTYPE_F64), g32 = grads(PRISM_DTYPE_F32);
  for (size_t i = 0; i < 3; ++i) expect_near(values(g32[i]), values(g64[i]), 1e-4, "conv2d f32 grad");
}

TEST_F(NnTest, PoolingMatchesReferenceAndGradients) {
  manual_seed(14);
  Tensor x = rnd({2, 3, 7, 6});
  V xv = values(x);
  const int64_t k3[2] = {3, 3}, s2[2] = {2, 2}, p1[2] = {1, 1};
  for (prism_dtype dt : {PRISM_DTYPE_F64, PRISM_DTYPE_F32}) {
    double tol = dt == PRISM_DTYPE_F64 ? 1e-12 : 1e-6;
    Tensor xd = to_dtype(x, dt);
    // ref_pool takes square windows: use a 7 x 6 input with k 3, s 2, p 1.
    V mp = values(max_pool2d(xd, k3, s2, p1));
    V ap = values(avg_pool2d(xd, k3, s2, p1, true));
    V ae = values(avg_pool2d(xd, k3, s2, p1, false));
    expect_near(mp, ref_pool(true, xv, 6, 7, 6, 3, 2, 1, true), tol, "max_pool2d");
    expect_near(ap, ref_pool(false, xv, 6, 7, 6, 3, 2, 1, true), tol, "avg_pool2d include pad");
    expect_near(ae, ref_pool(false, xv, 6, 7, 6, 3, 2, 1, false), tol, "avg_pool2d exclude pad");
    // stride defaults to the kernel
    EXPECT_EQ(max_pool2d(xd, k3, nullptr, nullptr)->sizes, (Dims{2, 3, 2, 2}));
  }
  gradcheck("max_pool2d", [&](const Ts& a) { return max_pool2d(a[0], k3, s2, p1); }, {rnd({1, 2, 5, 5})});
  gradcheck("max_pool2d transposed",
            [&](const Ts& a) { return max_pool2d(transpose(a[0], 2, 3), k3, s2, nullptr); },
            {rnd({1, 2, 5, 4})});
  for (bool inc : {true, false}) {
    gradcheck("avg_pool2d", [&](const Ts& a) { return avg_pool2d(transpose(a[0], 2, 3), k3, s2, p1, inc); },
              {rnd({1, 2, 5, 6})});
  }
  // float32 backward kernels (oneDNN) against float64 loops.
  Tensor gy = rnd({2, 3, 4, 3});
  for (bool is_max : {true, false}) {
    auto grad_of = [&](prism_dtype dt) {
      Tensor xx = to_dtype(x, dt);
      ag::set_requires_grad(xx, true);
      Tensor y = is_max ? max_pool2d(xx, k3, s2, p1) : avg_pool2d(xx, k3, s2, p1, true);
      return ag::grad({y}, {to_dtype(gy, dt)}, {xx}, false, false)[0];
    };
    expect_near(values(grad_of(PRISM_DTYPE_F32)), values(grad_of(PRISM_DTYPE_F64)), 1e-5, "pool f32 grad");
  }
}

// ---- mixed precision ------------------------------------------------------------------------------------

TEST_F(NnTest, HalfPrecisionThroughTheOps) {
  manual_seed(15);
  for (prism_dtype half : {PRISM_DTYPE_F16, PRISM_DTYPE_BF16}) {
    const double tol = half == PRISM_DTYPE_F16 ? 4e-3 : 3e-2;
    auto h = [&](const Tensor& t) { return to_dtype(t, half); };
    auto ref = [&](const Tensor& t) { return to_dtype(h(t), PRISM_DTYPE_F64); };  // the rounded inputs
    Tensor x = rnd({4, 8}, -3, 3);
    Tensor s = softmax(h(x), 1);
    EXPECT_EQ(s->dtype, half);
    expect_near(values(s), values(softmax(ref(x), 1)), tol, "softmax half");
    expect_near(values(log_softmax(h(x), 1)), values(log_softmax(ref(x), 1)), tol, "log_softmax half");
    Tensor t = i64({1, 7, 0, 3}, Dims{4});
    Tensor ce = cross_entropy(h(x), t, nullptr, -100, 0.1, PRISM_REDUCTION_MEAN);
    EXPECT_EQ(ce->dtype, half);
    EXPECT_NEAR(item(ce), item(cross_entropy(ref(x), t, nullptr, -100, 0.1, PRISM_REDUCTION_MEAN)), tol * 4);
    Tensor w = rnd({8}), b = rnd({8});
    expect_near(values(layer_norm(h(x), {8}, h(w), h(b), 1e-5)),
                values(layer_norm(ref(x), {8}, ref(w), ref(b), 1e-5)), tol * 4, "layer_norm half");
    Tensor img = rnd({2, 3, 6, 6}), k = rnd({4, 3, 3, 3});
    const int64_t p1[2] = {1, 1}, k2[2] = {2, 2};
    expect_near(values(conv2d(h(img), h(k), nullptr, nullptr, p1, nullptr, 1)),
                values(conv2d(ref(img), ref(k), nullptr, nullptr, p1, nullptr, 1)), tol * 8, "conv2d half");
    expect_near(values(max_pool2d(h(img), k2, nullptr, nullptr)),
                values(max_pool2d(ref(img), k2, nullptr, nullptr)), 0, "max_pool half");
    Tensor rm = full(Dims{3}, 0.0, PRISM_DTYPE_F32, cpu()), rv = full(Dims{3}, 1.0, PRISM_DTYPE_F32, cpu());
    Tensor bn = batch_norm(h(img), rm, rv, nullptr, nullptr, true, 0.1, 1e-5);
    EXPECT_EQ(bn->dtype, half);
    EXPECT_EQ(rm->dtype, PRISM_DTYPE_F32);  // float32 running stats with half input (PyTorch's mixed mode)
    expect_near(values(bn), values(batch_norm(ref(img), nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-5)),
                tol * 8, "batch_norm half");
    Tensor lw = rnd({5, 8});
    expect_near(values(linear(h(x), h(lw), nullptr)), values(linear(ref(x), ref(lw), nullptr)), tol * 8,
                "linear half");
    // Gradients flow to half leaves and come back in their dtype.
    Tensor xh = h(x);
    ag::set_requires_grad(xh, true);
    Tensor loss = cross_entropy(xh, t, nullptr, -100, 0.0, PRISM_REDUCTION_SUM);
    Tensor g = ag::grad({loss}, {}, {xh}, false, false)[0];
    EXPECT_EQ(g->dtype, half);
    Tensor xr = ref(x);
    ag::set_requires_grad(xr, true);
    Tensor gr =
        ag::grad({cross_entropy(xr, t, nullptr, -100, 0.0, PRISM_REDUCTION_SUM)}, {}, {xr}, false, false)[0];
    expect_near(values(g), values(gr), tol * 4, "cross_entropy half grad");
  }
}

TEST_F(NnTest, CastIsDifferentiable) {
  Tensor x = f64({1.5, -2.0, 3.25}, Dims{3});
  ag::set_requires_grad(x, true);
  Tensor h = to_dtype(x, PRISM_DTYPE_F16);
  EXPECT_EQ(ag::grad_fn(h)->name(), "ToCopyBackward");
  Tensor y = reduce("sum", binary("mul", to_dtype(h, PRISM_DTYPE_F32), f64({1, 2, 3}, Dims{3})), {}, false);
  ag::backward({y}, {}, false);
  Tensor g = ag::grad(x);
  EXPECT_EQ(g->dtype, PRISM_DTYPE_F64);
  EXPECT_EQ(values(g), (V{1, 2, 3}));
}

// ---- devices without the kernels ------------------------------------------------------------------------

// The toy plugin (tests/plugins) has only fill and add kernels, float32 only:
// conv2d and the pools run there through the CPU plugin's kernels.
TEST_F(NnTest, ConvAndPoolFallBackToTheCpuPlugin) {
  Device* toy = nullptr;
  try {
    Runtime::get().load_path(PRISM_TEST_PLUGIN_DIR "/libbroken-toy.so");
    toy = Runtime::get().device("toy");
  } catch (const Error& e) {
    GTEST_SKIP() << "skipped: the toy plugin is not available: " << e.what();
  }
  set_fallback_policy(PRISM_FALLBACK_ALLOW);
  fallback_reset();
  manual_seed(16);
  Tensor img = to_dtype(rnd({1, 2, 4, 4}), PRISM_DTYPE_F32), k = to_dtype(rnd({2, 2, 3, 3}), PRISM_DTYPE_F32);
  Tensor ti = to_device(img, toy), tk = to_device(k, toy);
  ag::set_requires_grad(ti, true);
  ag::set_requires_grad(tk, true);
  Tensor y = conv2d(ti, tk, nullptr, nullptr, nullptr, nullptr, 1);
  EXPECT_EQ(y->device(), toy);
  EXPECT_EQ(fallback_count("conv2d"), 1u);
  expect_near(values(to_device(y, cpu())), values(conv2d(img, k, nullptr, nullptr, nullptr, nullptr, 1)),
              1e-6, "conv2d fallback");
  // Backward runs the CPU plugin's backward kernels too, results on the toy device.
  Tensor gy = to_dtype(rnd({1, 2, 2, 2}), PRISM_DTYPE_F32);
  Ts g = ag::grad({y}, {to_device(gy, toy)}, {ti, tk}, false, false);
  EXPECT_EQ(g[0]->device(), toy);
  EXPECT_EQ(fallback_count("conv2d_backward_input"), 1u);
  EXPECT_EQ(fallback_count("conv2d_backward_weight"), 1u);
  Tensor ci = contiguous(img), ck = contiguous(k);
  ag::set_requires_grad(ci, true);
  ag::set_requires_grad(ck, true);
  Ts gc = ag::grad({conv2d(ci, ck, nullptr, nullptr, nullptr, nullptr, 1)}, {gy}, {ci, ck}, false, false);
  expect_near(values(to_device(g[0], cpu())), values(gc[0]), 1e-6, "conv2d fallback grad input");
  expect_near(values(to_device(g[1], cpu())), values(gc[1]), 1e-6, "conv2d fallback grad weight");
  const int64_t k2[2] = {2, 2};
  Tensor mp = max_pool2d(to_device(img, toy), k2, nullptr, nullptr);
  EXPECT_EQ(mp->device(), toy);
  EXPECT_EQ(fallback_count("max_pool2d"), 1u);
  expect_near(values(to_device(mp, cpu())), values(max_pool2d(img, k2, nullptr, nullptr)), 0,
              "max_pool2d fallback");
  set_fallback_policy(PRISM_FALLBACK_ERROR);
  expect_error([&] { conv2d(to_device(img, toy), to_device(k, toy), nullptr, nullptr, nullptr, nullptr, 1); },
               PRISM_ERROR_UNIMPLEMENTED, {"conv2d", "toy"});
  set_fallback_policy(PRISM_FALLBACK_WARN);
}

// Strided and broadcast views on a device without a copy kernel (the toy
// plugin) reach the host and the fallback: the bytes the view spans travel and
// the destination gathers them (Note [Cross-device copies]).
TEST_F(NnTest, StridedViewsLeaveADeviceWithoutACopyKernel) {
  Device* toy = nullptr;
  try {
    Runtime::get().load_path(PRISM_TEST_PLUGIN_DIR "/libbroken-toy.so");
    toy = Runtime::get().device("toy");
  } catch (const Error& e) {
    GTEST_SKIP() << "skipped: the toy plugin is not available: " << e.what();
  }
  set_fallback_policy(PRISM_FALLBACK_ALLOW);
  Tensor a = to_dtype(rnd({3, 4}), PRISM_DTYPE_F32);
  Tensor ta = to_device(a, toy);
  expect_near(values(to_device(transpose(ta, 0, 1), cpu())), values(transpose(a, 0, 1)), 0,
              "transposed view");
  Tensor row = narrow(ta, 0, 1, 1);
  expect_near(values(to_device(expand(row, Dims{5, 4}), cpu())),
              values(expand(narrow(a, 0, 1, 1), Dims{5, 4})), 0, "broadcast view");
  // mul has no toy kernel: the fallback copies the transposed operands to the CPU plugin.
  Tensor m = binary("mul", transpose(ta, 0, 1), transpose(ta, 0, 1));
  EXPECT_EQ(m->device(), toy);
  expect_near(values(to_device(m, cpu())), values(binary("mul", transpose(a, 0, 1), transpose(a, 0, 1))), 0,
              "mul fallback on transposed operands");
  set_fallback_policy(PRISM_FALLBACK_WARN);
}

// softmax / log_softmax on a device whose plugin has no softmax kernel: the
// composite runs on that device (the OpenCL plugin, when it is built and a
// platform is present).
TEST_F(NnTest, SoftmaxCompositeOnADeviceWithoutTheKernel) {
  Device* dev = nullptr;
  try {
    dev = Runtime::get().device("opencl");
  } catch (const Error& e) {
    if (prism_test_device_required("opencl:0"))
      GTEST_FAIL() << "an OpenCL device is required (PRISM_REQUIRE_DEVICES) but absent: " << e.what();
    GTEST_SKIP() << "skipped: no OpenCL device: " << e.what();
  }
  if (dev->plugin->find_kernel("softmax", PRISM_DTYPE_F32) != nullptr)
    GTEST_SKIP() << "the device has the kernel";
  set_fallback_policy(PRISM_FALLBACK_ALLOW);
  fallback_reset();
  manual_seed(17);
  Tensor x = to_dtype(rnd({3, 5}, -3, 3), PRISM_DTYPE_F32);
  Tensor xd = to_device(x, dev);
  Tensor s = softmax(xd, 1);
  EXPECT_EQ(s->device(), dev);
  EXPECT_EQ(fallback_count("softmax"), 0u);
  expect_near(values(to_device(s, cpu())), values(softmax(x, 1)), 1e-5, "softmax composite");
  ag::set_requires_grad(xd, true);
  Tensor g =
      ag::grad({reduce("sum", binary("mul", log_softmax(xd, 1), xd), {}, false)}, {}, {xd}, false, false)[0];
  Tensor xc = contiguous(x);
  ag::set_requires_grad(xc, true);
  Tensor gc =
      ag::grad({reduce("sum", binary("mul", log_softmax(xc, 1), xc), {}, false)}, {}, {xc}, false, false)[0];
  EXPECT_EQ(g->device(), dev);
  EXPECT_EQ(fallback_count("log_softmax_backward"), 0u);
  expect_near(values(to_device(g, cpu())), values(gc), 1e-5, "log_softmax composite backward");
  set_fallback_policy(PRISM_FALLBACK_WARN);
}

// ---- bad input --------------------------------------------------------------------------------------------

TEST_F(NnTest, BadInputGivesClearErrors) {
  const auto E = PRISM_ERROR_INVALID_ARGUMENT;
  Tensor x = rnd({2, 3});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 12}, Dims{2}), nullptr, -100, 0, PRISM_REDUCTION_MEAN);
      },
      E, {"cross_entropy", "Target 12 is out of bounds."});
  expect_error(
      [&] {
        nll_loss(x, i64({-3, 1}, Dims{2}), nullptr, -100, PRISM_REDUCTION_MEAN);
      },
      E, {"nll_loss", "Target -3 is out of bounds."});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 1, 2}, Dims{3}), nullptr, -100, 0, PRISM_REDUCTION_MEAN);
      },
      E, {"cross_entropy", "batch_size (2)", "[3]"});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 1, 2, 0}, Dims{2, 2}), nullptr, -100, 0, PRISM_REDUCTION_MEAN);
      },
      E, {"cross_entropy", "expected target of shape [2]", "[2, 2]"});
  expect_error(
      [&] {
        cross_entropy(x, rnd({2, 4}), nullptr, -100, 0, PRISM_REDUCTION_MEAN);
      },
      E, {"cross_entropy", "[2, 3]", "[2, 4]"});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 1}, Dims{2}), rnd({4}), -100, 0, PRISM_REDUCTION_MEAN);
      },
      E, {"weight", "3 classes", "[4]"});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 1}, Dims{2}), nullptr, -100, 1.5, PRISM_REDUCTION_MEAN);
      },
      E, {"label_smoothing", "1.5"});
  expect_error(
      [&] {
        cross_entropy(x, i64({0, 1}, Dims{2}), nullptr, -100, 0, static_cast<prism_reduction>(7));
      },
      E, {"reduction", "7"});
  expect_error([&] { softmax(i64({1, 2}, Dims{2}), 0); }, E, {"softmax", "floating point", "int64"});
  expect_error([&] { softmax(x, 2); }, E, {"softmax", "2"});
  expect_error([&] { binary_cross_entropy_with_logits(x, rnd({3}), nullptr, nullptr, PRISM_REDUCTION_MEAN); },
               E, {"binary_cross_entropy_with_logits", "[3]", "[2, 3]"});
  expect_error([&] { mse_loss(x, rnd({4}), PRISM_REDUCTION_MEAN); }, E, {"mse_loss", "[2, 3]", "[4]"});
  expect_error([&] { linear(x, rnd({4, 5}), nullptr); }, E, {"linear", "3 features", "[4, 5]"});
  expect_error([&] { dropout(x, 1.5, true); }, E, {"dropout", "between 0 and 1", "1.5"});
  expect_error([&] { layer_norm(x, {4}, nullptr, nullptr, 1e-5); }, E,
               {"layer_norm", "normalized_shape=[4]", "[2, 3]"});
  expect_error([&] { layer_norm(x, {3}, rnd({4}), nullptr, 1e-5); }, E, {"layer_norm", "weight", "[4]"});
  expect_error(
      [&] {
        batch_norm(rnd({1, 3}), nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-5);
      },
      E, {"batch_norm", "more than 1 value per channel", "[1, 3]"});
  expect_error(
      [&] {
        batch_norm(rnd({2, 3}), rnd({4}), rnd({3}), nullptr, nullptr, true, 0.1, 1e-5);
      },
      E, {"batch_norm", "running_mean should contain 3 elements not 4"});
  expect_error(
      [&] {
        batch_norm(rnd({2, 3}), nullptr, nullptr, nullptr, nullptr, false, 0.1, 1e-5);
      },
      E, {"batch_norm", "evaluation mode"});
  // conv2d: channel mismatch, wrong ranks, dtype mismatch, kernel larger than the input, bad attrs.
  Tensor img = rnd({64, 1, 28, 28});
  expect_error(
      [&] {
        conv2d(img, rnd({32, 3, 3, 3}), nullptr, nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "weight of size [32, 3, 3, 3]", "input[64, 1, 28, 28]", "3 channels", "1 channels"});
  expect_error(
      [&] {
        conv2d(rnd({28, 28}), rnd({32, 1, 3, 3}), nullptr, nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "[28, 28]"});
  expect_error(
      [&] {
        conv2d(img, rnd({32, 1, 3}), nullptr, nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "4-D weight"});
  expect_error(
      [&] {
        conv2d(img, to_dtype(rnd({32, 1, 3, 3}), PRISM_DTYPE_F32), nullptr, nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "float64", "float32"});
  expect_error(
      [&] {
        conv2d(rnd({1, 1, 2, 2}), rnd({1, 1, 3, 3}), nullptr, nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "Kernel size can't be greater"});
  const int64_t zero[2] = {0, 1};
  expect_error(
      [&] {
        conv2d(img, rnd({32, 1, 3, 3}), nullptr, zero, nullptr, nullptr, 1);
      },
      E, {"conv2d", "stride"});
  expect_error(
      [&] {
        conv2d(img, rnd({32, 1, 3, 3}), rnd({31}), nullptr, nullptr, nullptr, 1);
      },
      E, {"conv2d", "bias", "[32]"});
  expect_error(
      [&] {
        conv2d(rnd({1, 4, 5, 5}), rnd({3, 2, 3, 3}), nullptr, nullptr, nullptr, nullptr, 2);
      },
      E, {"conv2d", "divisible by groups"});
  const int64_t k3[2] = {3, 3}, p2[2] = {2, 2};
  expect_error(
      [&] {
        max_pool2d(rnd({1, 1, 5, 5}), k3, nullptr, p2);
      },
      E, {"max_pool2d", "pad should be at most half"});
  expect_error(
      [&] {
        avg_pool2d(rnd({1, 1, 2, 2}), k3, nullptr, nullptr, true);
      },
      E, {"avg_pool2d", "Output size is too small"});
  expect_error([&] { max_pool2d(rnd({5, 5}), k3, nullptr, nullptr); }, E, {"max_pool2d", "[5, 5]"});
  expect_error(
      [&] {
        max_pool2d(rnd({1, 1, 5, 5}), nullptr, nullptr, nullptr);
      },
      E, {"max_pool2d", "kernel_size"});
  expect_error([&] { softmax(nullptr, 0); }, E, {"softmax", "NULL"});
  // Nothing was left half-done: the running stats of a failed call are unchanged.
  Tensor rm = f64({1, 2, 3}, Dims{3});
  expect_error(
      [&] {
        batch_norm(rnd({2, 3}), rm, rnd({2}), nullptr, nullptr, true, 0.1, 1e-5);
      },
      E, {"running_var"});
  EXPECT_EQ(values(rm), (V{1, 2, 3}));
}

}  // namespace
}  // namespace prism
