// cpu_bmm_test.cpp — bmm vs a naive loop: every dtype, transposed operands/output, batch stride 0, K = 0.
#include "cpu_test_util.hpp"

namespace prism_cpu_test {
namespace {

using BmmTest = CpuTest;

// (B, R, C) operand in one of several layouts.
Tensor operand(prism_dtype dt, int64_t B, int64_t R, int64_t C, int layout) {
  switch (layout) {
    case 0:
      return Tensor(dt, {B, R, C});
    case 1:
      return Tensor::transposed(dt, {B, R, C});
    case 2:
      return Tensor(dt, {B, R, C}, {0, C, 1}, 0, R * C);  // batch stride 0
    case 3:                                               // row stride padded, offset
      return Tensor(dt, {B, R, C}, {R * (C + 3), C + 3, 1}, 2, B * R * (C + 3) + 2);
    default:  // both inner strides > 1: needs a copy
      return Tensor(dt, {B, R, C}, {R * C * 4, C * 2, 2}, 0, B * R * C * 4);
  }
}

void check_bmm(prism_dtype dt, int64_t B, int64_t M, int64_t N, int64_t K, int la, int lb, int lo) {
  Tensor a = operand(dt, B, M, K, la);
  Tensor b = operand(dt, B, K, N, lb);
  if (is_float(dt)) {
    fill_random(a, 1 + la, -1, 1);
    fill_random(b, 2 + lb, -1, 1);
  } else {
    fill_random_int(a, 1 + la, 0, 5);
    fill_random_int(b, 2 + lb, 0, 5);
  }
  Tensor out = lo == 0 ? Tensor(dt, {B, M, N}) : Tensor::transposed(dt, {B, M, N});
  ASSERT_OK(call("bmm", {&a, &b}, {&out}));
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double p = a.get((i * M + m) * K + k) * b.get((i * K + k) * N + n);
          ref += p;
          mag += std::fabs(p);
        }
        const double got = out.get((i * M + m) * N + n);
        EXPECT_NEAR(got, round_to(dt, ref), tol(dt, mag) * 4 + (dt == PRISM_DTYPE_F32 ? 1e-5 : 0))
            << prism_sdk_dtype_name(dt) << " B" << B << " M" << M << " N" << N << " K" << K << " layouts "
            << la << lb << lo;
      }
    }
  }
}

TEST_F(BmmTest, F32AllLayouts) {
  for (int la = 0; la < 5; ++la) {
    for (int lb = 0; lb < 5; ++lb) {
      for (int lo = 0; lo < 2; ++lo) check_bmm(PRISM_DTYPE_F32, 3, 5, 7, 6, la, lb, lo);
    }
  }
}

TEST_F(BmmTest, F32DegenerateShapes) {
  check_bmm(PRISM_DTYPE_F32, 2, 1, 7, 5, 0, 1, 0);
  check_bmm(PRISM_DTYPE_F32, 2, 6, 1, 5, 1, 0, 0);
  check_bmm(PRISM_DTYPE_F32, 2, 4, 3, 1, 0, 0, 1);
  check_bmm(PRISM_DTYPE_F32, 1, 1, 1, 1, 0, 0, 0);
  check_bmm(PRISM_DTYPE_F32, 64, 8, 8, 8, 0, 2, 0);  // many small matrices: threaded by batch
  check_bmm(PRISM_DTYPE_F32, 1, 130, 70, 90, 1, 1, 0);
  // K = 0 gives zeros; empty batch / M / N are no-ops
  Tensor a(PRISM_DTYPE_F32, {2, 3, 0}), b(PRISM_DTYPE_F32, {2, 0, 4}), out(PRISM_DTYPE_F32, {2, 3, 4});
  ASSERT_OK(call("bmm", {&a, &b}, {&out}));
  for (double v : out.values()) EXPECT_EQ(v, 0.0);
  Tensor e1(PRISM_DTYPE_F32, {0, 3, 2}), e2(PRISM_DTYPE_F32, {0, 2, 4}), eo(PRISM_DTYPE_F32, {0, 3, 4});
  ASSERT_OK(call("bmm", {&e1, &e2}, {&eo}));
}

TEST_F(BmmTest, OtherDtypes) {
  for (prism_dtype dt : {PRISM_DTYPE_F64, PRISM_DTYPE_F16, PRISM_DTYPE_BF16, PRISM_DTYPE_U8, PRISM_DTYPE_I8,
                         PRISM_DTYPE_I16, PRISM_DTYPE_I32, PRISM_DTYPE_I64}) {
    for (int la : {0, 1, 2}) {
      for (int lb : {0, 1, 4}) check_bmm(dt, 2, 4, 5, 3, la, lb, la == 1 ? 1 : 0);
    }
  }
}

TEST_F(BmmTest, ShapeMismatchIsAnError) {
  Tensor a(PRISM_DTYPE_F32, {2, 3, 4}), b(PRISM_DTYPE_F32, {2, 5, 4}), out(PRISM_DTYPE_F32, {2, 3, 4});
  EXPECT_EQ(call("bmm", {&a, &b}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor b2(PRISM_DTYPE_F32, {1, 4, 4});
  EXPECT_EQ(call("bmm", {&a, &b2}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor bo(PRISM_DTYPE_BOOL, {2, 3, 4});
  EXPECT_EQ(call("bmm", {&a, &a}, {&bo}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace prism_cpu_test
