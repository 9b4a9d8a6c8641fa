// cpu_elementwise_test.cpp — fill, copy/cast, unary, binary, compare, logical, where, clamp vs references.
#include <functional>

#include "cpu_test_util.hpp"

namespace prism_cpu_test {
namespace {

using ElementwiseTest = CpuTest;

// Layouts every elementwise op is checked on: (name, make input of sizes).
enum class Layout { kContiguous, kTransposed, kBroadcast, kOffsetView, kNegativeStride };
constexpr Layout kLayouts[] = {Layout::kContiguous, Layout::kTransposed, Layout::kBroadcast,
                               Layout::kOffsetView, Layout::kNegativeStride};

// A (rows, cols) input with the given layout.
Tensor make_input(prism_dtype dt, int64_t rows, int64_t cols, Layout layout) {
  switch (layout) {
    case Layout::kContiguous:
      return Tensor(dt, {rows, cols});
    case Layout::kTransposed:
      return Tensor::transposed(dt, {rows, cols});
    case Layout::kBroadcast:
      return Tensor(dt, {rows, cols}, {0, 1}, 0, cols);  // one row repeated
    case Layout::kOffsetView:  // a window into a bigger (rows + 2, cols + 3) tensor, offset (1, 2)
      return Tensor(dt, {rows, cols}, {cols + 3, 1}, (cols + 3) + 2, (rows + 2) * (cols + 3));
    case Layout::kNegativeStride:  // rows reversed
      return Tensor(dt, {rows, cols}, {-cols, 1}, (rows - 1) * cols, rows * cols);
  }
  return Tensor();
}

double wrap_int(prism_dtype dt, double v) {
  const int64_t i = static_cast<int64_t>(v);
  switch (dt) {
    case PRISM_DTYPE_U8:
      return static_cast<uint8_t>(i);
    case PRISM_DTYPE_I8:
      return static_cast<int8_t>(i);
    case PRISM_DTYPE_I16:
      return static_cast<int16_t>(i);
    case PRISM_DTYPE_I32:
      return static_cast<int32_t>(i);
    case PRISM_DTYPE_BOOL:
      return i != 0;
    default:
      return static_cast<double>(i);
  }
}

TEST_F(ElementwiseTest, FillEveryDtypeAndLayout) {
  for (prism_dtype dt : kAllDtypes) {
    Tensor a(dt, {3, 5});
    ASSERT_OK(call("fill", {}, {&a}, {attr_scalar("value", 3.0)}));
    for (double v : a.values()) EXPECT_EQ(v, dt == PRISM_DTYPE_BOOL ? 1.0 : 3.0);
    Tensor t = make_input(dt, 4, 3, Layout::kOffsetView);
    ASSERT_OK(call("fill", {}, {&t}, {attr_scalar("value", 0.0)}));
    for (double v : t.values()) EXPECT_EQ(v, 0.0);
    // the guard pattern around the view is untouched
    EXPECT_EQ(*static_cast<uint8_t*>(t.buffer()), 0xA5);
  }
  Tensor f(PRISM_DTYPE_F16, {2});
  ASSERT_OK(call("fill", {}, {&f}, {attr_scalar("value", 0.1)}));
  EXPECT_EQ(f.get(1), round_to(PRISM_DTYPE_F16, 0.1));
  Tensor scalar(PRISM_DTYPE_I64, {});
  ASSERT_OK(call("fill", {}, {&scalar}, {attr_scalar("value", -7)}));
  EXPECT_EQ(scalar.get_i64(0), -7);
  Tensor empty(PRISM_DTYPE_F32, {0, 4});
  ASSERT_OK(call("fill", {}, {&empty}, {attr_scalar("value", 1)}));
}

TEST_F(ElementwiseTest, CopyEveryDtypePair) {
  const std::vector<double> src_vals = {0, 1, 2.75, -2.5, 100, 0.5, -0.0, 7};
  for (prism_dtype from : kAllDtypes) {
    for (prism_dtype to : kAllDtypes) {
      for (Layout layout : {Layout::kContiguous, Layout::kTransposed, Layout::kNegativeStride}) {
        Tensor x = make_input(from, 2, 4, layout);
        for (int64_t i = 0; i < 8; ++i) {
          double v = src_vals[static_cast<size_t>(i)];
          if (!is_float(from)) v = wrap_int(from, std::trunc(v));
          x.set(i, v);
        }
        Tensor out(to, {2, 4});
        ASSERT_OK(call("copy", {&x}, {&out}));
        for (int64_t i = 0; i < 8; ++i) {
          const double v = x.get(i);
          double ref;
          if (to == PRISM_DTYPE_BOOL) {
            ref = v != 0;
          } else if (!is_float(to)) {
            ref = wrap_int(to, std::trunc(v));  // truncation toward zero, then wrap
          } else {
            ref = round_to(to, v);
          }
          EXPECT_EQ(out.get(i), ref) << prism_sdk_dtype_name(from) << "->" << prism_sdk_dtype_name(to)
                                     << " i=" << i << " v=" << v;
        }
      }
    }
  }
}

TEST_F(ElementwiseTest, CopyCastEdgeCases) {
  Tensor x(PRISM_DTYPE_F32, {6});
  x.set_all({NAN, INFINITY, -INFINITY, 3e9, -3e9, 0.9999});
  Tensor b(PRISM_DTYPE_BOOL, {6});
  ASSERT_OK(call("copy", {&x}, {&b}));
  EXPECT_EQ(b.values(), (std::vector<double>{1, 1, 1, 1, 1, 1}));
  Tensor i32(PRISM_DTYPE_I32, {6});
  ASSERT_OK(call("copy", {&x}, {&i32}));
  // Note [Float to integer casts]: saturate to i64 (NaN -> 0), then wrap
  EXPECT_EQ(i32.get(0), 0);
  EXPECT_EQ(i32.get(1), -1);  // i64 max wraps to -1
  EXPECT_EQ(i32.get(2), 0);   // i64 min wraps to 0
  EXPECT_EQ(i32.get(3), static_cast<int32_t>(static_cast<uint32_t>(3000000000u)));
  EXPECT_EQ(i32.get(5), 0);
  Tensor i64(PRISM_DTYPE_I64, {6});
  ASSERT_OK(call("copy", {&x}, {&i64}));
  EXPECT_EQ(i64.get_i64(1), INT64_MAX);
  EXPECT_EQ(i64.get_i64(2), INT64_MIN);
  EXPECT_EQ(i64.get_i64(4), -3000000000LL);
  Tensor u8(PRISM_DTYPE_U8, {1});
  Tensor neg(PRISM_DTYPE_F64, {1});
  neg.set(0, -1.0);
  ASSERT_OK(call("copy", {&neg}, {&u8}));
  EXPECT_EQ(u8.get(0), 255);  // as PyTorch on x86
  // f32 -> f16 rounds to nearest even; f16 -> bf16 through f32
  Tensor h(PRISM_DTYPE_F16, {6});
  ASSERT_OK(call("copy", {&x}, {&h}));
  EXPECT_TRUE(std::isnan(h.get(0)));
  EXPECT_TRUE(std::isinf(h.get(3)));
  Tensor bf(PRISM_DTYPE_BF16, {6});
  ASSERT_OK(call("copy", {&h}, {&bf}));
  EXPECT_TRUE(std::isnan(bf.get(0)));
  EXPECT_EQ(bf.get(5), round_to(PRISM_DTYPE_BF16, round_to(PRISM_DTYPE_F16, 0.9999)));
}

TEST_F(ElementwiseTest, CopyBroadcastZeroDimAndEmpty) {
  Tensor s(PRISM_DTYPE_F64, {});
  s.set(0, 4.5);
  Tensor out0(PRISM_DTYPE_F32, {});
  ASSERT_OK(call("copy", {&s}, {&out0}));
  EXPECT_EQ(out0.get(0), 4.5);
  Tensor bcast(PRISM_DTYPE_F64, {3, 4}, {0, 0}, 0, 1);
  bcast.set(0, 2.0);
  Tensor out(PRISM_DTYPE_I16, {3, 4});
  ASSERT_OK(call("copy", {&bcast}, {&out}));
  for (double v : out.values()) EXPECT_EQ(v, 2.0);
  Tensor e1(PRISM_DTYPE_F32, {0, 3}), e2(PRISM_DTYPE_I8, {0, 3});
  ASSERT_OK(call("copy", {&e1}, {&e2}));
}

// ---------------------------------------------------------------------------
// Unary
// ---------------------------------------------------------------------------

struct UnaryCase {
  const char* op;
  std::function<double(double)> ref;
  double lo, hi;
};

double erf_gelu(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

TEST_F(ElementwiseTest, FloatUnaryOpsMatchLibm) {
  const UnaryCase cases[] = {
      {"neg", [](double x) { return -x; }, -3, 3},
      {"abs", [](double x) { return std::fabs(x); }, -3, 3},
      {"sign", [](double x) { return (0 < x) - (x < 0); }, -3, 3},
      {"exp", [](double x) { return std::exp(x); }, -3, 3},
      {"log", [](double x) { return std::log(x); }, 0.01, 5},
      {"log1p", [](double x) { return std::log1p(x); }, -0.5, 5},
      {"expm1", [](double x) { return std::expm1(x); }, -1, 1},
      {"sqrt", [](double x) { return std::sqrt(x); }, 0, 9},
      {"rsqrt", [](double x) { return 1 / std::sqrt(x); }, 0.1, 9},
      {"reciprocal", [](double x) { return 1 / x; }, 0.5, 4},
      {"sin", [](double x) { return std::sin(x); }, -3, 3},
      {"cos", [](double x) { return std::cos(x); }, -3, 3},
      {"tanh", [](double x) { return std::tanh(x); }, -3, 3},
      {"sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -5, 5},
      {"gelu", erf_gelu, -3, 3},
      {"silu", [](double x) { return x / (1 + std::exp(-x)); }, -5, 5},
      {"square", [](double x) { return x * x; }, -3, 3},
      {"relu", [](double x) { return x < 0 ? 0 : x; }, -3, 3},
      {"floor", [](double x) { return std::floor(x); }, -3, 3},
      {"ceil", [](double x) { return std::ceil(x); }, -3, 3},
      {"round", [](double x) { return std::nearbyint(x); }, -3, 3},
  };
  for (const UnaryCase& uc : cases) {
    for (prism_dtype dt : kFloatDtypes) {
      for (Layout layout : kLayouts) {
        Tensor x = make_input(dt, 5, 7, layout);
        fill_random(x, 11, uc.lo, uc.hi);
        Tensor out(dt, {5, 7});
        ASSERT_OK(call(uc.op, {&x}, {&out}));
        for (int64_t i = 0; i < 35; ++i) {
          const double ref = uc.ref(x.get(i));
          EXPECT_NEAR(out.get(i), ref, 2 * tol(dt, ref))
              << uc.op << " " << prism_sdk_dtype_name(dt) << " x=" << x.get(i);
        }
      }
    }
  }
  // round is half to even
  Tensor r(PRISM_DTYPE_F32, {4}), ro(PRISM_DTYPE_F32, {4});
  r.set_all({0.5, 1.5, 2.5, -0.5});
  ASSERT_OK(call("round", {&r}, {&ro}));
  EXPECT_EQ(ro.values(), (std::vector<double>{0, 2, 2, -0.0}));
  // sign of NaN is 0, as PyTorch
  Tensor n(PRISM_DTYPE_F32, {1}), no(PRISM_DTYPE_F32, {1});
  n.set(0, NAN);
  ASSERT_OK(call("sign", {&n}, {&no}));
  EXPECT_EQ(no.get(0), 0.0);
}

TEST_F(ElementwiseTest, IntegerUnaryOps) {
  for (prism_dtype dt : {PRISM_DTYPE_I8, PRISM_DTYPE_I16, PRISM_DTYPE_I32, PRISM_DTYPE_I64}) {
    Tensor x(dt, {6});
    x.set_all({-3, -1, 0, 1, 5, 7});
    Tensor out(dt, {6});
    ASSERT_OK(call("neg", {&x}, {&out}));
    EXPECT_EQ(out.values(), (std::vector<double>{3, 1, 0, -1, -5, -7}));
    ASSERT_OK(call("abs", {&x}, {&out}));
    EXPECT_EQ(out.values(), (std::vector<double>{3, 1, 0, 1, 5, 7}));
    ASSERT_OK(call("sign", {&x}, {&out}));
    EXPECT_EQ(out.values(), (std::vector<double>{-1, -1, 0, 1, 1, 1}));
    ASSERT_OK(call("square", {&x}, {&out}));
    EXPECT_EQ(out.values(), (std::vector<double>{9, 1, 0, 1, 25, 49}));
    ASSERT_OK(call("relu", {&x}, {&out}));
    EXPECT_EQ(out.values(), (std::vector<double>{0, 0, 0, 1, 5, 7}));
    ASSERT_OK(call("floor", {&x}, {&out}));
    EXPECT_EQ(out.values(), x.values());
  }
  Tensor m(PRISM_DTYPE_I8, {1}), mo(PRISM_DTYPE_I8, {1});
  m.set(0, -128);
  ASSERT_OK(call("neg", {&m}, {&mo}));
  EXPECT_EQ(mo.get(0), -128);  // wraps
  Tensor u(PRISM_DTYPE_U8, {2}), uo(PRISM_DTYPE_U8, {2});
  u.set_all({0, 3});
  ASSERT_OK(call("neg", {&u}, {&uo}));
  EXPECT_EQ(uo.values(), (std::vector<double>{0, 253}));
  // float-only ops refuse integers, bool is refused by neg
  EXPECT_EQ(call("exp", {&u}, {&uo}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor b(PRISM_DTYPE_BOOL, {2}), bo(PRISM_DTYPE_BOOL, {2});
  EXPECT_EQ(call("neg", {&b}, {&bo}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------

TEST_F(ElementwiseTest, AddEveryDtypeAndLayout) {
  for (prism_dtype dt : kAllDtypes) {
    for (Layout la : kLayouts) {
      for (Layout lb : {Layout::kContiguous, Layout::kBroadcast, Layout::kTransposed}) {
        Tensor a = make_input(dt, 6, 5, la);
        Tensor b = make_input(dt, 6, 5, lb);
        if (dt == PRISM_DTYPE_BOOL) {
          fill_random_int(a, 1, 0, 2);
          fill_random_int(b, 2, 0, 2);
        } else if (is_float(dt)) {
          fill_random(a, 1);
          fill_random(b, 2);
        } else {
          fill_random_int(a, 1, 0, 50);
          fill_random_int(b, 2, 0, 50);
        }
        Tensor out(dt, {6, 5});
        ASSERT_OK(call("add", {&a, &b}, {&out}));
        for (int64_t i = 0; i < 30; ++i) {
          double ref = a.get(i) + b.get(i);
          if (dt == PRISM_DTYPE_BOOL) ref = ref != 0;
          EXPECT_NEAR(out.get(i), round_to(dt, ref), tol(dt, ref)) << prism_sdk_dtype_name(dt);
        }
      }
    }
  }
}

TEST_F(ElementwiseTest, AddSubAlphaInPlaceAndZeroDim) {
  Tensor a(PRISM_DTYPE_F32, {4}), b(PRISM_DTYPE_F32, {4});
  a.set_all({1, 2, 3, 4});
  b.set_all({10, 20, 30, 40});
  ASSERT_OK(call("add", {&a, &b}, {&a}, {attr_scalar("alpha", 0.5)}));  // in place
  EXPECT_EQ(a.values(), (std::vector<double>{6, 12, 18, 24}));
  ASSERT_OK(call("sub", {&a, &b}, {&a}, {attr_scalar("alpha", 2)}));
  EXPECT_EQ(a.values(), (std::vector<double>{-14, -28, -42, -56}));
  Tensor i(PRISM_DTYPE_I32, {2}), j(PRISM_DTYPE_I32, {2}), o(PRISM_DTYPE_I32, {2});
  i.set_all({5, 6});
  j.set_all({1, 2});
  ASSERT_OK(call("sub", {&i, &j}, {&o}, {attr_scalar("alpha", 3)}));
  EXPECT_EQ(o.values(), (std::vector<double>{2, 0}));
  Tensor s1(PRISM_DTYPE_F64, {}), s2(PRISM_DTYPE_F64, {}), so(PRISM_DTYPE_F64, {});
  s1.set(0, 1.25);
  s2.set(0, 2.5);
  ASSERT_OK(call("mul", {&s1, &s2}, {&so}));
  EXPECT_EQ(so.get(0), 3.125);
  Tensor e(PRISM_DTYPE_F32, {3, 0}), eo(PRISM_DTYPE_F32, {3, 0});
  ASSERT_OK(call("add", {&e, &e}, {&eo}));
  // integer overflow wraps
  Tensor big(PRISM_DTYPE_I32, {1}), bo(PRISM_DTYPE_I32, {1});
  big.set(0, 2147483647);
  ASSERT_OK(call("add", {&big, &big}, {&bo}));
  EXPECT_EQ(bo.get(0), -2);
}

TEST_F(ElementwiseTest, LargeAddsUseEveryPath) {
  // big enough for the threaded path; contiguous, broadcast row, transposed
  const int64_t R = 512, C = 300;
  for (Layout lb : {Layout::kContiguous, Layout::kBroadcast, Layout::kTransposed}) {
    Tensor a(PRISM_DTYPE_F32, {R, C});
    Tensor b = make_input(PRISM_DTYPE_F32, R, C, lb);
    fill_random(a, 3);
    fill_random(b, 4);
    Tensor out(PRISM_DTYPE_F32, {R, C});
    ASSERT_OK(call("add", {&a, &b}, {&out}));
    for (int64_t i = 0; i < R * C; i += 7) {
      ASSERT_EQ(out.get(i), static_cast<float>(static_cast<float>(a.get(i)) + static_cast<float>(b.get(i))));
    }
  }
}

TEST_F(ElementwiseTest, LargeTransposedOutputsAreStreamed) {
  // Outputs of 8 MiB and more written by the tiled transposed walk go out
  // through non-temporal stores (Note [Streamed tile output]): check every
  // element, with sizes that leave partial tiles and an output whose rows
  // start unaligned, for 2-, 4- and 8-byte elements, add and copy.
  struct Case {
    prism_dtype dt;
    int64_t R, C;
  };
  for (const Case& k : {Case{PRISM_DTYPE_F32, 1500, 1430}, Case{PRISM_DTYPE_F64, 1100, 1001},
                        Case{PRISM_DTYPE_F16, 2100, 2050}}) {
    for (Layout lo : {Layout::kContiguous, Layout::kOffsetView}) {
      Tensor a(k.dt, {k.R, k.C});
      Tensor b = make_input(k.dt, k.R, k.C, Layout::kTransposed);
      fill_random(a, 5);
      fill_random(b, 6);
      Tensor out = make_input(k.dt, k.R, k.C, lo);
      ASSERT_OK(call("add", {&a, &b}, {&out}));
      Tensor sum(k.dt, {k.R, k.C});
      Tensor bc(k.dt, {k.R, k.C});
      ASSERT_OK(call("copy", {&b}, {&bc}));
      int64_t bad = 0;
      for (int64_t i = 0; i < k.R * k.C; ++i) {
        if (bc.get(i) != b.get(i)) ++bad;
        if (k.dt == PRISM_DTYPE_F32) {
          if (out.get(i) != static_cast<float>(static_cast<float>(a.get(i)) + static_cast<float>(b.get(i))))
            ++bad;
        } else if (k.dt == PRISM_DTYPE_F64) {
          if (out.get(i) != a.get(i) + b.get(i)) ++bad;
        } else if (i % 7 == 0) {
          // f16 rounds a + b through a one-element add (the non-tiled path)
          Tensor x(k.dt, {1}), y(k.dt, {1}), z(k.dt, {1});
          x.set(0, a.get(i));
          y.set(0, b.get(i));
          ASSERT_OK(call("add", {&x, &y}, {&z}));
          if (out.get(i) != z.get(0)) ++bad;
        }
      }
      EXPECT_EQ(bad, 0) << prism_sdk_dtype_name(k.dt) << " output layout " << static_cast<int>(lo);
    }
  }
}

double py_floordiv(double a, double b) {
  return std::floor(a / b);
}
double py_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

TEST_F(ElementwiseTest, DivModesAndRemainderFollowPython) {
  const std::vector<double> av = {7, -7, 7, -7, 0, 6, -6, 5};
  const std::vector<double> bv = {2, 2, -2, -2, 3, 3, 4, -3};
  for (prism_dtype dt : {PRISM_DTYPE_I8, PRISM_DTYPE_I16, PRISM_DTYPE_I32, PRISM_DTYPE_I64, PRISM_DTYPE_F32,
                         PRISM_DTYPE_F64, PRISM_DTYPE_F16, PRISM_DTYPE_BF16}) {
    Tensor a(dt, {8}), b(dt, {8}), out(dt, {8});
    a.set_all(av);
    b.set_all(bv);
    ASSERT_OK(call("div", {&a, &b}, {&out}, {attr_int("rounding_mode", 1)}));
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(out.get(i), py_floordiv(av[i], bv[i])) << prism_sdk_dtype_name(dt) << i;
    ASSERT_OK(call("div", {&a, &b}, {&out}, {attr_int("rounding_mode", 2)}));
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(out.get(i), std::trunc(av[i] / bv[i])) << prism_sdk_dtype_name(dt) << i;
    ASSERT_OK(call("remainder", {&a, &b}, {&out}));
    for (int i = 0; i < 8; ++i) EXPECT_EQ(out.get(i), py_mod(av[i], bv[i])) << prism_sdk_dtype_name(dt) << i;
    if (is_float(dt)) {
      ASSERT_OK(call("div", {&a, &b}, {&out}));
      for (int i = 0; i < 8; ++i) EXPECT_NEAR(out.get(i), av[i] / bv[i], tol(dt, av[i] / bv[i]));
    } else {
      EXPECT_EQ(call("div", {&a, &b}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
    }
  }
  // float floor division of non-integers and by zero
  Tensor a(PRISM_DTYPE_F64, {4}), b(PRISM_DTYPE_F64, {4}), out(PRISM_DTYPE_F64, {4});
  a.set_all({5.5, -5.5, 1.0, -1.0});
  b.set_all({2.0, 2.0, 0.0, 0.0});
  ASSERT_OK(call("div", {&a, &b}, {&out}, {attr_int("rounding_mode", 1)}));
  EXPECT_EQ(out.get(0), 2.0);
  EXPECT_EQ(out.get(1), -3.0);
  EXPECT_EQ(out.get(2), INFINITY);
  EXPECT_EQ(out.get(3), -INFINITY);
  ASSERT_OK(call("remainder", {&a, &b}, {&out}));
  EXPECT_EQ(out.get(0), 1.5);
  EXPECT_EQ(out.get(1), 0.5);
  EXPECT_TRUE(std::isnan(out.get(2)));
  // INT_MIN / -1 wraps instead of trapping
  Tensor m(PRISM_DTYPE_I64, {1}), n(PRISM_DTYPE_I64, {1}), mo(PRISM_DTYPE_I64, {1});
  *static_cast<int64_t*>(m.ptr(0)) = INT64_MIN;
  n.set(0, -1);
  ASSERT_OK(call("div", {&m, &n}, {&mo}, {attr_int("rounding_mode", 2)}));
  EXPECT_EQ(mo.get_i64(0), INT64_MIN);
  ASSERT_OK(call("remainder", {&m, &n}, {&mo}));
  EXPECT_EQ(mo.get_i64(0), 0);
}

TEST_F(ElementwiseTest, IntegerDivisionByZeroIsAnError) {
  for (prism_dtype dt : {PRISM_DTYPE_U8, PRISM_DTYPE_I8, PRISM_DTYPE_I32, PRISM_DTYPE_I64}) {
    Tensor a(dt, {3}), b(dt, {3}), out(dt, {3});
    a.set_all({1, 2, 3});
    b.set_all({1, 0, 1});
    out.set_all({9, 9, 9});
    Status s = call("div", {&a, &b}, {&out}, {attr_int("rounding_mode", 2)});
    EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(s.message.find("div"), std::string::npos) << s.message;
    EXPECT_NE(s.message.find("zero"), std::string::npos) << s.message;
    EXPECT_EQ(out.values(), (std::vector<double>{9, 9, 9}));  // untouched
    s = call("remainder", {&a, &b}, {&out});
    EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(s.message.find("remainder"), std::string::npos) << s.message;
  }
  // a broadcast zero divisor too
  Tensor a(PRISM_DTYPE_I32, {2, 2}), out(PRISM_DTYPE_I32, {2, 2});
  Tensor z(PRISM_DTYPE_I32, {2, 2}, {0, 0}, 0, 1);
  z.set(0, 0);
  EXPECT_EQ(call("div", {&a, &z}, {&out}, {attr_int("rounding_mode", 1)}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

TEST_F(ElementwiseTest, PowAndMaximumMinimum) {
  Tensor a(PRISM_DTYPE_I32, {4}), b(PRISM_DTYPE_I32, {4}), out(PRISM_DTYPE_I32, {4});
  a.set_all({2, -3, 5, 0});
  b.set_all({10, 3, 0, 0});
  ASSERT_OK(call("pow", {&a, &b}, {&out}));
  EXPECT_EQ(out.values(), (std::vector<double>{1024, -27, 1, 1}));
  b.set(1, -1);
  Status s = call("pow", {&a, &b}, {&out});
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("pow"), std::string::npos);
  Tensor f(PRISM_DTYPE_F32, {3}), g(PRISM_DTYPE_F32, {3}), fo(PRISM_DTYPE_F32, {3});
  f.set_all({2, 9, 4});
  g.set_all({0.5, 0.5, -1});
  ASSERT_OK(call("pow", {&f, &g}, {&fo}));
  EXPECT_NEAR(fo.get(0), std::sqrt(2.0), 1e-6);
  EXPECT_EQ(fo.get(1), 3);
  EXPECT_EQ(fo.get(2), 0.25);
  f.set_all({NAN, 1, 5});
  g.set_all({1, NAN, 2});
  ASSERT_OK(call("maximum", {&f, &g}, {&fo}));
  EXPECT_TRUE(std::isnan(fo.get(0)));
  EXPECT_TRUE(std::isnan(fo.get(1)));
  EXPECT_EQ(fo.get(2), 5);
  ASSERT_OK(call("minimum", {&f, &g}, {&fo}));
  EXPECT_TRUE(std::isnan(fo.get(0)));
  EXPECT_TRUE(std::isnan(fo.get(1)));
  EXPECT_EQ(fo.get(2), 2);
  Tensor p(PRISM_DTYPE_BOOL, {4}), q(PRISM_DTYPE_BOOL, {4}), po(PRISM_DTYPE_BOOL, {4});
  p.set_all({0, 0, 1, 1});
  q.set_all({0, 1, 0, 1});
  ASSERT_OK(call("maximum", {&p, &q}, {&po}));
  EXPECT_EQ(po.values(), (std::vector<double>{0, 1, 1, 1}));
  ASSERT_OK(call("mul", {&p, &q}, {&po}));
  EXPECT_EQ(po.values(), (std::vector<double>{0, 0, 0, 1}));
  ASSERT_OK(call("add", {&p, &q}, {&po}));
  EXPECT_EQ(po.values(), (std::vector<double>{0, 1, 1, 1}));
}

TEST_F(ElementwiseTest, CompareAndLogicalEveryDtype) {
  for (prism_dtype dt : kAllDtypes) {
    for (Layout lb : {Layout::kContiguous, Layout::kBroadcast, Layout::kTransposed}) {
      Tensor a = make_input(dt, 4, 3, Layout::kContiguous);
      Tensor b = make_input(dt, 4, 3, lb);
      fill_random_int(a, 5, 0, dt == PRISM_DTYPE_BOOL ? 2 : 3);
      fill_random_int(b, 6, 0, dt == PRISM_DTYPE_BOOL ? 2 : 3);
      Tensor out(PRISM_DTYPE_BOOL, {4, 3});
      const std::pair<const char*, std::function<bool(double, double)>> ops[] = {
          {"eq", [](double x, double y) { return x == y; }},
          {"ne", [](double x, double y) { return x != y; }},
          {"lt", [](double x, double y) { return x < y; }},
          {"le", [](double x, double y) { return x <= y; }},
          {"gt", [](double x, double y) { return x > y; }},
          {"ge", [](double x, double y) { return x >= y; }},
          {"logical_and", [](double x, double y) { return x != 0 && y != 0; }},
          {"logical_or", [](double x, double y) { return x != 0 || y != 0; }},
          {"logical_xor", [](double x, double y) { return (x != 0) != (y != 0); }},
      };
      for (const auto& op : ops) {
        ASSERT_OK(call(op.first, {&a, &b}, {&out}));
        for (int64_t i = 0; i < 12; ++i) {
          EXPECT_EQ(out.get(i), op.second(a.get(i), b.get(i)) ? 1.0 : 0.0)
              << op.first << prism_sdk_dtype_name(dt);
        }
      }
      ASSERT_OK(call("logical_not", {&b}, {&out}));
      for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(out.get(i), b.get(i) == 0 ? 1.0 : 0.0);
    }
  }
  Tensor n(PRISM_DTYPE_F32, {2}), m(PRISM_DTYPE_F32, {2}), o(PRISM_DTYPE_BOOL, {2});
  n.set_all({NAN, 1});
  m.set_all({NAN, 1});
  ASSERT_OK(call("eq", {&n, &m}, {&o}));
  EXPECT_EQ(o.values(), (std::vector<double>{0, 1}));
  ASSERT_OK(call("ne", {&n, &m}, {&o}));
  EXPECT_EQ(o.values(), (std::vector<double>{1, 0}));
}

TEST_F(ElementwiseTest, WhereWithBroadcastCondition) {
  for (prism_dtype dt : kAllDtypes) {
    Tensor cond(PRISM_DTYPE_BOOL, {3, 4}, {0, 1}, 0, 4);  // one row broadcast
    cond.set_all({1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1});
    Tensor a = make_input(dt, 3, 4, Layout::kTransposed);
    Tensor b = make_input(dt, 3, 4, Layout::kOffsetView);
    fill_random_int(a, 7, 0, 2);
    fill_random_int(b, 8, 0, 2);
    Tensor out(dt, {3, 4});
    ASSERT_OK(call("where", {&cond, &a, &b}, {&out}));
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(out.get(i), cond.get(i) != 0 ? a.get(i) : b.get(i));
  }
  Tensor cond(PRISM_DTYPE_BOOL, {5}), a(PRISM_DTYPE_F32, {5}), b(PRISM_DTYPE_F32, {5}),
      out(PRISM_DTYPE_F32, {5});
  cond.set_all({1, 0, 1, 0, 1});
  a.set_all({1, 2, 3, 4, 5});
  b.set_all({-1, -2, -3, -4, -5});
  ASSERT_OK(call("where", {&cond, &a, &b}, {&out}));
  EXPECT_EQ(out.values(), (std::vector<double>{1, -2, 3, -4, 5}));
}

TEST_F(ElementwiseTest, ClampWithOptionalBounds) {
  Tensor x(PRISM_DTYPE_F32, {5}), out(PRISM_DTYPE_F32, {5});
  x.set_all({-5, -1, 0, 3, NAN});
  ASSERT_OK(call("clamp", {&x}, {&out}, {attr_scalar("min", -2), attr_scalar("max", 2)}));
  EXPECT_EQ(out.get(0), -2);
  EXPECT_EQ(out.get(1), -1);
  EXPECT_EQ(out.get(3), 2);
  EXPECT_TRUE(std::isnan(out.get(4)));
  ASSERT_OK(call("clamp", {&x}, {&out}, {attr_scalar("min", 0)}));
  EXPECT_EQ(out.get(0), 0);
  EXPECT_EQ(out.get(3), 3);
  ASSERT_OK(call("clamp", {&x}, {&out}, {attr_scalar("max", 0)}));
  EXPECT_EQ(out.get(0), -5);
  EXPECT_EQ(out.get(3), 0);
  ASSERT_OK(call("clamp", {&x}, {&out}, {attr_scalar("min", 1), attr_scalar("max", -1)}));
  EXPECT_EQ(out.get(2), -1);  // min > max: everything is max
  Tensor u(PRISM_DTYPE_U8, {3}), uo(PRISM_DTYPE_U8, {3});
  u.set_all({0, 100, 255});
  ASSERT_OK(call("clamp", {&u}, {&uo}, {attr_scalar("min", -5), attr_scalar("max", 300)}));
  EXPECT_EQ(uo.values(), (std::vector<double>{0, 100, 255}));
  ASSERT_OK(call("clamp", {&u}, {&uo}, {attr_scalar("min", 10), attr_scalar("max", 200)}));
  EXPECT_EQ(uo.values(), (std::vector<double>{10, 100, 200}));
}

}  // namespace
}  // namespace prism_cpu_test
