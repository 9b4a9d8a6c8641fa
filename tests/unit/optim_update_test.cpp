// optim_update_test.cpp — sgd_update / adam_update: the CPU kernel and the core composite against a reference
// loop of PyTorch's rules, every flag combination, f64/f32/f16, and bad input.
#include <cmath>
#include <random>
#include <vector>

#include "core/dispatch/optim.hpp"
#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::values;

using Vec = std::vector<double>;

// torch.optim.SGD, one tensor, in double.
void ref_sgd(Vec& p, const Vec& g, Vec& buf, const SgdOptions& o) {
  for (size_t i = 0; i < p.size(); ++i) {
    double d = (o.flags & PRISM_SGD_MAXIMIZE) ? -g[i] : g[i];
    if (o.weight_decay != 0) d += o.weight_decay * p[i];
    if (o.momentum != 0) {
      buf[i] = (o.flags & PRISM_SGD_INIT_BUFFER) ? d : buf[i] * o.momentum + (1 - o.dampening) * d;
      d = (o.flags & PRISM_SGD_NESTEROV) ? d + o.momentum * buf[i] : buf[i];
    }
    p[i] += -o.lr * d;
  }
}

// `x` stored in `dt` and read back (the rounding of a state tensor).
double stored(double x, prism_dtype dt) {
  if (dt == PRISM_DTYPE_F16) return f16_bits_to_f32(f32_to_f16_bits(static_cast<float>(x)));
  if (dt == PRISM_DTYPE_F32) return static_cast<float>(x);
  return x;
}

// torch.optim.Adam / AdamW, one tensor, in double, rounding what is stored to `dt`.
void ref_adam(Vec& p, const Vec& g, Vec& m, Vec& v, Vec& vmax, const AdamOptions& o, prism_dtype dt) {
  const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(o.step));
  const double bc2 = std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step)));
  for (size_t i = 0; i < p.size(); ++i) {
    double gi = (o.flags & PRISM_ADAM_MAXIMIZE) ? -g[i] : g[i];
    if (o.weight_decay != 0) {
      if (o.flags & PRISM_ADAM_DECOUPLED_WEIGHT_DECAY)
        p[i] = stored(p[i] * (1 - o.lr * o.weight_decay), dt);
      else
        gi += o.weight_decay * p[i];
    }
    m[i] = stored(m[i] * o.beta1 + (1 - o.beta1) * gi, dt);
    v[i] = stored(v[i] * o.beta2 + (1 - o.beta2) * gi * gi, dt);
    double second = v[i];
    if (o.flags & PRISM_ADAM_AMSGRAD) {
      vmax[i] = std::max(vmax[i], v[i]);
      second = vmax[i];
    }
    p[i] = stored(p[i] - (o.lr / bc1) * m[i] / (std::sqrt(second) / bc2 + o.eps), dt);
  }
}

Vec random_vec(std::mt19937& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// Gradients with 0.25 <= |g| <= 1, so g * g stays a normal f16 number.
Vec random_grad(std::mt19937& rng, size_t n) {
  Vec v = random_vec(rng, n, 0.25, 1);
  std::bernoulli_distribution sign(0.5);
  for (double& x : v) x = sign(rng) ? -x : x;
  return v;
}

// A tensor holding `v`; with strided = true, a non-contiguous view (the composite path).
Tensor make(const Vec& v, prism_dtype dt, bool strided) {
  const auto n = static_cast<int64_t>(v.size());
  Tensor d = from_host(v.data(), Dims{n}, PRISM_DTYPE_F64, cpu());
  if (!strided) return to_dtype(d, dt);
  Tensor wide = full(Dims{n, 2}, -7, dt, cpu());
  Tensor col = select(wide, 1, 0);
  copy_(col, d);
  return col;
}

void expect_close(const Tensor& t, const Vec& want, double tol, const char* what) {
  Vec got = values(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << what << "[" << i << "]";
}

struct Path {
  prism_dtype dtype;
  bool strided;
  double tol;
};
const Path kPaths[] = {
    {PRISM_DTYPE_F64, false, 1e-13}, {PRISM_DTYPE_F64, true, 1e-13}, {PRISM_DTYPE_F32, false, 2e-6},
    {PRISM_DTYPE_F32, true, 2e-6},   {PRISM_DTYPE_F16, false, 3e-3},
};

class OptimUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

TEST_F(OptimUpdateTest, SgdMatchesTheReferenceOnEveryPathAndFlag) {
  std::mt19937 rng(7);
  const size_t n = 37;
  for (const Path& path : kPaths) {
    for (uint32_t variant = 0; variant < 16; ++variant) {
      SgdOptions o;
      o.lr = 0.05;
      o.momentum = (variant & 1) ? 0.9 : 0;
      o.weight_decay = (variant & 2) ? 0.01 : 0;
      if (variant & 4) o.flags |= PRISM_SGD_MAXIMIZE;
      if (variant & 8) {
        if (o.momentum == 0) continue;
        o.flags |= PRISM_SGD_NESTEROV;
      } else if (o.momentum != 0) {
        o.dampening = 0.1;
      }
      SCOPED_TRACE(testing::Message()
                   << dtype_name(path.dtype) << (path.strided ? " strided" : "") << " variant " << variant);
      Vec p = random_vec(rng, n, -2, 2), buf(n, 0);
      Tensor tp = make(p, path.dtype, path.strided);
      Tensor tb = make(buf, path.dtype, path.strided);
      p = values(tp);  // the dtype's rounding of the start values
      for (int step = 0; step < 3; ++step) {
        Vec g = values(make(random_grad(rng, n), path.dtype, false));
        SgdOptions os = o;
        if (step == 0) os.flags |= PRISM_SGD_INIT_BUFFER;
        const uint64_t version = tp->version()->load();
        sgd_update(tp, make(g, path.dtype, path.strided), o.momentum != 0 ? tb : Tensor(), os);
        EXPECT_GT(tp->version()->load(), version);
        ref_sgd(p, g, buf, os);
      }
      expect_close(tp, p, path.tol * 10, "param");
      if (o.momentum != 0) expect_close(tb, buf, path.tol * 10, "momentum_buffer");
    }
  }
}

TEST_F(OptimUpdateTest, AdamMatchesTheReferenceOnEveryPathAndFlag) {
  std::mt19937 rng(11);
  const size_t n = 29;
  for (const Path& path : kPaths) {
    for (uint32_t flags = 0; flags < 8; ++flags) {
      for (double wd : {0.0, 0.1}) {
        AdamOptions o;
        o.lr = 0.01;
        o.beta1 = 0.85;
        o.beta2 = 0.99;
        o.eps = 1e-6;
        o.weight_decay = wd;
        o.flags = flags;
        SCOPED_TRACE(testing::Message() << dtype_name(path.dtype) << (path.strided ? " strided" : "")
                                        << " flags " << flags << " wd " << wd);
        Vec p = random_vec(rng, n, -2, 2), m(n, 0), v(n, 0), vmax(n, 0);
        Tensor tp = make(p, path.dtype, path.strided), tm = make(m, path.dtype, path.strided);
        Tensor tv = make(v, path.dtype, path.strided), tx = make(vmax, path.dtype, path.strided);
        p = values(tp);
        for (int step = 1; step <= 3; ++step) {
          Vec g = values(make(random_grad(rng, n), path.dtype, false));
          o.step = step;
          adam_update(tp, make(g, path.dtype, path.strided), tm, tv, tx, o);
          ref_adam(p, g, m, v, vmax, o, path.dtype);
        }
        expect_close(tp, p, path.tol * 10, "param");
        expect_close(tm, m, path.tol * 10, "exp_avg");
        expect_close(tv, v, path.tol * 10, "exp_avg_sq");
        if (flags & PRISM_ADAM_AMSGRAD) expect_close(tx, vmax, path.tol * 10, "max_exp_avg_sq");
      }
    }
  }
}

TEST_F(OptimUpdateTest, TheCpuPluginHasTheFusedKernels) {
  for (prism_dtype dt : {PRISM_DTYPE_F16, PRISM_DTYPE_BF16, PRISM_DTYPE_F32, PRISM_DTYPE_F64}) {
    EXPECT_NE(cpu()->plugin->find_kernel("sgd_update", dt), nullptr) << dtype_name(dt);
    EXPECT_NE(cpu()->plugin->find_kernel("adam_update", dt), nullptr) << dtype_name(dt);
  }
}

TEST_F(OptimUpdateTest, KernelAndCompositeAgree) {
  // Large enough for the threaded kernel path.
  std::mt19937 rng(3);
  const size_t n = 100000;
  Vec p0 = random_vec(rng, n, -1, 1), g = random_vec(rng, n, -1, 1);
  AdamOptions o;
  o.lr = 0.001;
  o.weight_decay = 0.01;
  o.flags = PRISM_ADAM_AMSGRAD | PRISM_ADAM_DECOUPLED_WEIGHT_DECAY;
  Tensor dense = make(p0, PRISM_DTYPE_F32, false), strided = make(p0, PRISM_DTYPE_F32, true);
  Tensor zeros_a[3] = {make(Vec(n, 0), PRISM_DTYPE_F32, false), make(Vec(n, 0), PRISM_DTYPE_F32, false),
                       make(Vec(n, 0), PRISM_DTYPE_F32, false)};
  Tensor zeros_b[3] = {make(Vec(n, 0), PRISM_DTYPE_F32, true), make(Vec(n, 0), PRISM_DTYPE_F32, true),
                       make(Vec(n, 0), PRISM_DTYPE_F32, true)};
  for (int step = 1; step <= 2; ++step) {
    o.step = step;
    adam_update(dense, make(g, PRISM_DTYPE_F32, false), zeros_a[0], zeros_a[1], zeros_a[2], o);
    adam_update(strided, make(g, PRISM_DTYPE_F32, true), zeros_b[0], zeros_b[1], zeros_b[2], o);
  }
  expect_close(dense, values(strided), 1e-6, "param");
}

TEST_F(OptimUpdateTest, BadInputIsAnErrorAndChangesNothing) {
  Tensor p = make({1, 2}, PRISM_DTYPE_F32, false);
  Tensor g3 = make({1, 2, 3}, PRISM_DTYPE_F32, false);
  Tensor g64 = make({1, 2}, PRISM_DTYPE_F64, false);
  Tensor i = full(Dims{2}, 1, PRISM_DTYPE_I32, cpu());
  SgdOptions o;
  o.lr = 0.1;
  expect_error([&] { sgd_update(p, g3, Tensor(), o); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"sgd_update", "grad", "float32[3]", "float32[2]"});
  expect_error([&] { sgd_update(p, g64, Tensor(), o); }, PRISM_ERROR_INVALID_ARGUMENT, {"float64"});
  expect_error([&] { sgd_update(i, i, Tensor(), o); }, PRISM_ERROR_INVALID_ARGUMENT, {"floating point"});
  o.momentum = 0.9;
  expect_error([&] { sgd_update(p, p, Tensor(), o); }, PRISM_ERROR_INVALID_ARGUMENT, {"momentum_buffer"});
  o.flags = PRISM_SGD_NESTEROV;
  o.dampening = 0.5;
  expect_error([&] { sgd_update(p, p, p, o); }, PRISM_ERROR_INVALID_ARGUMENT, {"nesterov"});
  o = SgdOptions();
  o.lr = -1;
  expect_error([&] { sgd_update(p, p, Tensor(), o); }, PRISM_ERROR_INVALID_ARGUMENT, {"learning rate"});
  AdamOptions a;
  a.step = 0;
  Tensor m = make({0, 0}, PRISM_DTYPE_F32, false);
  expect_error([&] { adam_update(p, p, m, m, Tensor(), a); }, PRISM_ERROR_INVALID_ARGUMENT, {"step"});
  a.step = 1;
  a.beta1 = 1;
  expect_error([&] { adam_update(p, p, m, m, Tensor(), a); }, PRISM_ERROR_INVALID_ARGUMENT, {"betas"});
  a.beta1 = 0.9;
  a.flags = PRISM_ADAM_AMSGRAD;
  expect_error([&] { adam_update(p, p, m, m, Tensor(), a); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"max_exp_avg_sq"});
  EXPECT_EQ(values(p), (Vec{1, 2}));
  EXPECT_EQ(values(m), (Vec{0, 0}));
}

}  // namespace
}  // namespace prism
