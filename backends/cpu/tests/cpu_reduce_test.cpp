// cpu_reduce_test.cpp — keepdim reductions: every dim subset, arg-reductions, NaN, empty, large.
#include "cpu_test_util.hpp"

namespace prism_cpu_test {
namespace {

using ReduceTest = CpuTest;

enum class Red { kSum, kProd, kAmax, kAmin, kAll, kAny };

const char* red_name(Red r) {
  switch (r) {
    case Red::kSum:
      return "sum";
    case Red::kProd:
      return "prod";
    case Red::kAmax:
      return "amax";
    case Red::kAmin:
      return "amin";
    case Red::kAll:
      return "all";
    case Red::kAny:
      return "any";
  }
  return "";
}

// Reference reduction over the dims in `mask` (bit d set = reduce dim d).
std::vector<double> reference(const Tensor& x, unsigned mask, Red r, std::vector<int64_t>& out_sizes) {
  const auto& sz = x.sizes();
  out_sizes = sz;
  for (size_t d = 0; d < sz.size(); ++d) {
    if (mask & (1u << d)) out_sizes[d] = 1;
  }
  int64_t n_out = 1;
  for (int64_t s : out_sizes) n_out *= s;
  std::vector<double> acc(static_cast<size_t>(n_out));
  std::vector<bool> seen(static_cast<size_t>(n_out), false);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t rem = i, o = 0, mul = 1;
    for (int d = static_cast<int>(sz.size()) - 1; d >= 0; --d) {
      const int64_t idx = rem % sz[d];
      rem /= sz[d];
      if (!(mask & (1u << d))) o += idx * mul;
      mul *= out_sizes[d];
    }
    const double v = x.get(i);
    double& a = acc[static_cast<size_t>(o)];
    if (!seen[static_cast<size_t>(o)]) {
      seen[static_cast<size_t>(o)] = true;
      a = (r == Red::kAll || r == Red::kAny) ? (v != 0) : v;
      continue;
    }
    switch (r) {
      case Red::kSum:
        a += v;
        break;
      case Red::kProd:
        a *= v;
        break;
      case Red::kAmax:
        a = (a != a || v != v) ? NAN : std::max(a, v);
        break;
      case Red::kAmin:
        a = (a != a || v != v) ? NAN : std::min(a, v);
        break;
      case Red::kAll:
        a = a && v != 0;
        break;
      case Red::kAny:
        a = a || v != 0;
        break;
    }
  }
  return acc;
}

Tensor make_layout(prism_dtype dt, const std::vector<int64_t>& sizes, int layout) {
  if (layout == 0) return Tensor(dt, sizes);
  if (layout == 1) return Tensor::transposed(dt, sizes);
  // permuted storage: dim 0 innermost
  std::vector<int64_t> st(sizes.size());
  int64_t acc = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    st[d] = acc;
    acc *= sizes[d];
  }
  return Tensor(dt, sizes, st, 0, acc);
}

TEST_F(ReduceTest, EveryReductionEveryDimSubset) {
  const std::vector<int64_t> sizes = {3, 4, 5};
  for (prism_dtype dt : kAllDtypes) {
    for (Red r : {Red::kSum, Red::kProd, Red::kAmax, Red::kAmin, Red::kAll, Red::kAny}) {
      if ((r == Red::kSum || r == Red::kProd) && dt == PRISM_DTYPE_BOOL) continue;
      for (int layout = 0; layout < 3; ++layout) {
        Tensor x = make_layout(dt, sizes, layout);
        if (dt == PRISM_DTYPE_BOOL || r == Red::kAll || r == Red::kAny) {
          fill_random_int(x, 3 + layout, 0, 2);
        } else if (r == Red::kProd && is_float(dt)) {
          fill_random(x, 3 + layout, 0.8, 1.2);  // products stay in range
        } else if (r == Red::kProd) {
          fill_random_int(x, 3 + layout, dt == PRISM_DTYPE_U8 ? 0 : -1, 2);  // no overflow
        } else if (is_float(dt)) {
          fill_random(x, 3 + layout, -3, 3);
        } else {
          fill_random_int(x, 3 + layout, 0, 9);
        }
        for (unsigned mask = 0; mask < 8; ++mask) {
          std::vector<int64_t> out_sizes;
          const std::vector<double> ref = reference(x, mask, r, out_sizes);
          const prism_dtype out_dt = (r == Red::kAll || r == Red::kAny) ? PRISM_DTYPE_BOOL : dt;
          Tensor out(out_dt, out_sizes);
          ASSERT_OK(call(red_name(r), {&x}, {&out}));
          for (int64_t i = 0; i < out.numel(); ++i) {
            double want = ref[static_cast<size_t>(i)];
            if (!is_float(out_dt) && out_dt != PRISM_DTYPE_BOOL) {  // integers wrap
              const int64_t w = static_cast<int64_t>(want);
              want = out_dt == PRISM_DTYPE_U8    ? static_cast<uint8_t>(w)
                     : out_dt == PRISM_DTYPE_I8  ? static_cast<int8_t>(w)
                     : out_dt == PRISM_DTYPE_I16 ? static_cast<int16_t>(w)
                     : out_dt == PRISM_DTYPE_I32 ? static_cast<int32_t>(w)
                                                 : static_cast<double>(w);
            }
            EXPECT_NEAR(out.get(i), round_to(out_dt, want), tol(out_dt, want) * 4)
                << red_name(r) << " " << prism_sdk_dtype_name(dt) << " mask=" << mask << " layout=" << layout;
          }
        }
      }
    }
  }
}

TEST_F(ReduceTest, ReductionsPropagateNaNAndHandleZeroDim) {
  Tensor x(PRISM_DTYPE_F32, {2, 3});
  x.set_all({1, NAN, 3, 4, 5, 6});
  Tensor out(PRISM_DTYPE_F32, {2, 1});
  ASSERT_OK(call("amax", {&x}, {&out}));
  EXPECT_TRUE(std::isnan(out.get(0)));
  EXPECT_EQ(out.get(1), 6);
  ASSERT_OK(call("amin", {&x}, {&out}));
  EXPECT_TRUE(std::isnan(out.get(0)));
  EXPECT_EQ(out.get(1), 4);
  ASSERT_OK(call("sum", {&x}, {&out}));
  EXPECT_TRUE(std::isnan(out.get(0)));
  Tensor s(PRISM_DTYPE_F64, {}), so(PRISM_DTYPE_F64, {});
  s.set(0, 2.5);
  ASSERT_OK(call("sum", {&s}, {&so}));
  EXPECT_EQ(so.get(0), 2.5);
}

TEST_F(ReduceTest, EmptyReductions) {
  Tensor x(PRISM_DTYPE_F32, {0, 3});
  Tensor out(PRISM_DTYPE_F32, {1, 3});
  ASSERT_OK(call("sum", {&x}, {&out}));
  EXPECT_EQ(out.values(), (std::vector<double>{0, 0, 0}));
  ASSERT_OK(call("prod", {&x}, {&out}));
  EXPECT_EQ(out.values(), (std::vector<double>{1, 1, 1}));
  Tensor b(PRISM_DTYPE_BOOL, {1, 3});
  ASSERT_OK(call("all", {&x}, {&b}));
  EXPECT_EQ(b.values(), (std::vector<double>{1, 1, 1}));
  ASSERT_OK(call("any", {&x}, {&b}));
  EXPECT_EQ(b.values(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(call("amax", {&x}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor kept_empty(PRISM_DTYPE_F32, {3, 0}), ko(PRISM_DTYPE_F32, {1, 0});
  ASSERT_OK(call("amax", {&kept_empty}, {&ko}));  // nothing to produce
}

TEST_F(ReduceTest, ArgmaxArgminFirstOccurrenceAndNaN) {
  for (prism_dtype dt : {PRISM_DTYPE_U8, PRISM_DTYPE_I8, PRISM_DTYPE_I32, PRISM_DTYPE_I64, PRISM_DTYPE_F16,
                         PRISM_DTYPE_BF16, PRISM_DTYPE_F32, PRISM_DTYPE_F64}) {
    for (int layout = 0; layout < 3; ++layout) {
      Tensor x = make_layout(dt, {3, 4, 5}, layout);
      fill_random_int(x, 9 + layout, 0, 4);  // many ties
      for (int dim = 0; dim < 3; ++dim) {
        std::vector<int64_t> os = {3, 4, 5};
        os[dim] = 1;
        Tensor amax(PRISM_DTYPE_I64, os), amin(PRISM_DTYPE_I64, os);
        ASSERT_OK(call("argmax", {&x}, {&amax}, {attr_int("dim", dim)}));
        ASSERT_OK(call("argmin", {&x}, {&amin}, {attr_int("dim", dim - 3)}));  // negative dim too
        for (int64_t o = 0; o < amax.numel(); ++o) {
          // coordinates of output o
          int64_t rem = o, c[3];
          for (int d = 2; d >= 0; --d) {
            c[d] = rem % os[d];
            rem /= os[d];
          }
          int64_t best_max = 0, best_min = 0;
          double vmax = 0, vmin = 0;
          for (int64_t k = 0; k < (int64_t{3} * 4 * 5) / (os[0] * os[1] * os[2]); ++k) {
            int64_t cc[3] = {c[0], c[1], c[2]};
            cc[dim] = k;
            const double v = x.get((cc[0] * 4 + cc[1]) * 5 + cc[2]);
            if (k == 0 || v > vmax) {
              vmax = v;
              best_max = k;
            }
            if (k == 0 || v < vmin) {
              vmin = v;
              best_min = k;
            }
          }
          EXPECT_EQ(amax.get_i64(o), best_max) << prism_sdk_dtype_name(dt) << " dim " << dim;
          EXPECT_EQ(amin.get_i64(o), best_min) << prism_sdk_dtype_name(dt) << " dim " << dim;
        }
      }
    }
  }
  Tensor x(PRISM_DTYPE_F32, {6});
  x.set_all({1, 7, NAN, 7, NAN, -1});
  Tensor idx(PRISM_DTYPE_I64, {1});
  ASSERT_OK(call("argmax", {&x}, {&idx}, {attr_int("dim", 0)}));
  EXPECT_EQ(idx.get_i64(0), 2);
  ASSERT_OK(call("argmin", {&x}, {&idx}, {attr_int("dim", 0)}));
  EXPECT_EQ(idx.get_i64(0), 2);
  x.set_all({1, 7, 3, 7, 2, -1});
  ASSERT_OK(call("argmax", {&x}, {&idx}, {attr_int("dim", 0)}));
  EXPECT_EQ(idx.get_i64(0), 1);
  // reducing a dim other than `dim` is refused
  Tensor y(PRISM_DTYPE_F32, {2, 3}), yo(PRISM_DTYPE_I64, {1, 1});
  EXPECT_EQ(call("argmax", {&y}, {&yo}, {attr_int("dim", 0)}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

TEST_F(ReduceTest, LargeSumsArePairwiseAccurate) {
  // full reduction (threads split one long row): f32 sum of 2^22 values
  const int64_t n = int64_t{1} << 22;
  Tensor x(PRISM_DTYPE_F32, {n});
  Lcg g(21);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(g.next(0, 1));
    *static_cast<float*>(x.ptr(i)) = v;
    ref += v;
  }
  Tensor out(PRISM_DTYPE_F32, {1});
  ASSERT_OK(call("sum", {&x}, {&out}));
  EXPECT_NEAR(out.get(0), ref, ref * 1e-6);  // naive f32 summation is off by ~1e-3 here
  // f16 input accumulates in f32
  Tensor h(PRISM_DTYPE_F16, {4096}), ho(PRISM_DTYPE_F16, {1});
  for (int64_t i = 0; i < 4096; ++i) h.set(i, 0.1);
  ASSERT_OK(call("sum", {&h}, {&ho}));
  EXPECT_NEAR(ho.get(0), 4096 * round_to(PRISM_DTYPE_F16, 0.1), 0.25);
}

TEST_F(ReduceTest, LargeOuterAndInnerReductions) {
  // (R, C) reduced over dim 0 (columns, outer case) and dim 1 (rows, inner case)
  for (auto rc : {std::pair<int64_t, int64_t>{4096, 37}, {300, 1000}, {100000, 3}, {3, 100000}}) {
    const int64_t R = rc.first, C = rc.second;
    Tensor x(PRISM_DTYPE_F64, {R, C});
    fill_random(x, 5, -1, 1);
    Tensor cols(PRISM_DTYPE_F64, {1, C}), rows(PRISM_DTYPE_F64, {R, 1});
    Tensor amax_cols(PRISM_DTYPE_F64, {1, C}), arg_cols(PRISM_DTYPE_I64, {1, C});
    ASSERT_OK(call("sum", {&x}, {&cols}));
    ASSERT_OK(call("sum", {&x}, {&rows}));
    ASSERT_OK(call("amax", {&x}, {&amax_cols}));
    ASSERT_OK(call("argmax", {&x}, {&arg_cols}, {attr_int("dim", 0)}));
    std::vector<double> cs(static_cast<size_t>(C), 0), rs(static_cast<size_t>(R), 0);
    std::vector<double> cm(static_cast<size_t>(C), -1e300);
    std::vector<int64_t> ca(static_cast<size_t>(C), 0);
    for (int64_t i = 0; i < R; ++i) {
      for (int64_t j = 0; j < C; ++j) {
        const double v = x.get(i * C + j);
        cs[static_cast<size_t>(j)] += v;
        rs[static_cast<size_t>(i)] += v;
        if (v > cm[static_cast<size_t>(j)]) {
          cm[static_cast<size_t>(j)] = v;
          ca[static_cast<size_t>(j)] = i;
        }
      }
    }
    for (int64_t j = 0; j < C; ++j) {
      ASSERT_NEAR(cols.get(j), cs[static_cast<size_t>(j)], 1e-9) << R << "x" << C;
      ASSERT_EQ(amax_cols.get(j), cm[static_cast<size_t>(j)]);
      ASSERT_EQ(arg_cols.get_i64(j), ca[static_cast<size_t>(j)]);
    }
    for (int64_t i = 0; i < R; ++i) ASSERT_NEAR(rows.get(i), rs[static_cast<size_t>(i)], 1e-9);
  }
}

TEST_F(ReduceTest, StridedOutputAndBadShapes) {
  Tensor x(PRISM_DTYPE_I32, {4, 3});
  fill_random_int(x, 2, -5, 5);
  Tensor out(PRISM_DTYPE_I32, {4, 1}, {2, 1}, 1, 9);  // every other element, offset 1
  ASSERT_OK(call("sum", {&x}, {&out}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(out.get(i), x.get(i * 3) + x.get(i * 3 + 1) + x.get(i * 3 + 2));
  Tensor bad(PRISM_DTYPE_I32, {4, 2});
  EXPECT_EQ(call("sum", {&x}, {&bad}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor bad_nd(PRISM_DTYPE_I32, {4});
  EXPECT_EQ(call("sum", {&x}, {&bad_nd}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace prism_cpu_test
