// indexing_test.cpp — indexing ops: subscripts, advanced indexing, index_put, gather/scatter, index/masked
// ops, cumsum/cumprod, sort/topk, one_hot, embedding; finite-difference gradients; errors; the CPU fallback.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "tests/unit/gradcheck.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::gradcheck;
using test::values;
namespace ag = autograd;
using V = std::vector<double>;

class IndexingTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

Tensor F(const V& v, Dims s) {
  return test::tensor<double>(v, s);
}
Tensor L(const std::vector<int64_t>& v, Dims s) {
  return test::tensor<int64_t>(v, s);
}
Tensor M(const std::vector<uint8_t>& v, Dims s) {
  return from_host(v.data(), s, PRISM_DTYPE_BOOL, cpu());
}
// 0, 1, 2, ... as float64 of `s`.
Tensor iota(Dims s) {
  return reshape(arange(0, static_cast<double>(numel_of(s)), 1, PRISM_DTYPE_F64, cpu()), s);
}
TensorIndex I(int64_t v) {
  TensorIndex i;
  i.kind = TensorIndex::kInt;
  i.value = v;
  return i;
}
TensorIndex Sl(int64_t start, int64_t stop = INT64_MAX, int64_t step = 1) {
  TensorIndex i;
  i.kind = TensorIndex::kSlice;
  i.start = start;
  i.stop = stop;
  i.step = step;
  return i;
}
TensorIndex Ell() {
  TensorIndex i;
  i.kind = TensorIndex::kEllipsis;
  return i;
}
TensorIndex NewAxis() {
  TensorIndex i;
  i.kind = TensorIndex::kNone;
  return i;
}
TensorIndex T(const Tensor& t) {
  TensorIndex i;
  i.kind = TensorIndex::kTensor;
  i.tensor = t;
  return i;
}
Tensor rnd(Dims sizes, double lo = -1.0, double hi = 1.0) {
  ag::NoGradGuard ng;
  Tensor u = rand(sizes, PRISM_DTYPE_F64, cpu());
  return binary("add", binary("mul", u, scalar_tensor(hi - lo, PRISM_DTYPE_F64, cpu())),
                scalar_tensor(lo, PRISM_DTYPE_F64, cpu()));
}
// 0, 1, ..., 9, 0, 1, ... (n int64 values).
Tensor remainder_rows(int64_t n) {
  Tensor a = arange(0, static_cast<double>(n), 1, PRISM_DTYPE_I64, cpu());
  return binary("remainder", a, scalar_tensor(10, PRISM_DTYPE_I64, cpu()));
}
Tensor S0(double v) {
  return scalar_tensor(v, PRISM_DTYPE_F64, cpu());
}

// ---- subscripts ---------------------------------------------------------------------------------

TEST_F(IndexingTest, BasicSubscriptsAreViews) {
  Tensor x = iota(Dims{2, 3, 4});
  Tensor a = index(x, {I(1), Sl(0, 3, 2)});  // x[1, 0:3:2] -> [2, 4]
  EXPECT_EQ(a->sizes, (Dims{2, 4}));
  EXPECT_EQ(a->storage, x->storage);
  EXPECT_EQ(values(a), (V{12, 13, 14, 15, 20, 21, 22, 23}));
  Tensor b = index(x, {Ell(), I(-1)});  // x[..., -1] -> [2, 3]
  EXPECT_EQ(values(b), (V{3, 7, 11, 15, 19, 23}));
  Tensor c = index(x, {NewAxis(), I(0), Ell(), NewAxis()});  // [1, 3, 4, 1]
  EXPECT_EQ(c->sizes, (Dims{1, 3, 4, 1}));
  EXPECT_EQ(values(c)[5], 5);
  Tensor d = index(x, {Sl(-1), Sl(1, INT64_MAX, 2), Sl(0, 100, 3)});  // x[-1:, 1::2, 0:100:3]
  EXPECT_EQ(d->sizes, (Dims{1, 1, 2}));
  EXPECT_EQ(values(d), (V{16, 19}));
  // 0-d: x[...] and x[None]
  Tensor z = scalar_tensor(7, PRISM_DTYPE_F64, cpu());
  EXPECT_EQ(index(z, {Ell()})->sizes, Dims{});
  EXPECT_EQ(index(z, {NewAxis()})->sizes, Dims{1});
  // empty slice
  EXPECT_EQ(index(x, {Sl(2, 1)})->sizes, (Dims{0, 3, 4}));
}

TEST_F(IndexingTest, SubscriptErrors) {
  Tensor x = iota(Dims{3, 4});
  expect_error([&] { index(x, {Sl(0, 3, -1)}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"step must be greater than zero"});
  expect_error([&] { index(x, {Sl(0, 3, 0)}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"step must be greater than zero"});
  expect_error(
      [&] {
        index(x, {I(0), I(0), I(0)});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"too many indices for tensor of dimension 2"});
  expect_error([&] { index(x, {I(3)}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"index 3 is out of bounds for dimension 0 with size 3"});
  expect_error([&] { index(x, {Ell(), Ell()}); }, PRISM_ERROR_INVALID_ARGUMENT, {"single ellipsis"});
  expect_error([&] { index(x, {T(F({0}, Dims{1}))}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"int64, int32 or bool", "float64"});
  expect_error(
      [&] {
        index(x, {T(L({0, 5}, Dims{2}))});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"index 5 is out of bounds for dimension 0 with size 3"});
  expect_error(
      [&] {
        index(x, {Sl(0), T(L({-5}, Dims{1}))});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"index -5 is out of bounds for dimension 1 with size 4"});
  expect_error(
      [&] {
        index(x, {T(M({1, 0}, Dims{2}))});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"shape of the mask [2] at index 0 does not match", "[3, 4]"});
}

// Reference: out[i, j] = x[a[i, j], b[i, j]] style loops written out by hand.
TEST_F(IndexingTest, AdvancedIndexing) {
  Tensor x = iota(Dims{3, 4, 5});  // x[i, j, k] = 20 i + 5 j + k
  // one index tensor on dim 0, negative indices
  Tensor r1 = index(x, {T(L({2, -3, 1}, Dims{3}))});
  EXPECT_EQ(r1->sizes, (Dims{3, 4, 5}));
  EXPECT_EQ(values(r1)[0], 40);
  EXPECT_EQ(values(r1)[20], 0);
  // two index tensors broadcast together ([2,1] with [3]) on adjacent dims 1, 2: result [3, 2, 3]
  Tensor a = L({0, 3}, Dims{2, 1}), b = L({1, 2, 4}, Dims{3});
  Tensor r2 = index(x, {Sl(0), T(a), T(b)});
  EXPECT_EQ(r2->sizes, (Dims{3, 2, 3}));
  V want;
  for (int i = 0; i < 3; ++i)
    for (int p : {0, 3})
      for (int q : {1, 2, 4}) want.push_back(20 * i + 5 * p + q);
  EXPECT_EQ(values(r2), want);
  // non-adjacent index tensors (dims 0 and 2): the broadcast dims come first -> [2, 4]
  Tensor r3 = index(x, {T(L({0, 2}, Dims{2})), Sl(0), T(L({4, 1}, Dims{2}))});
  EXPECT_EQ(r3->sizes, (Dims{2, 4}));
  EXPECT_EQ(values(r3), (V{4, 9, 14, 19, 41, 46, 51, 56}));
  // an integer before a tensor is applied first (PyTorch): x[1, :, idx] -> [4, 2]
  Tensor r4 = index(x, {I(1), Sl(0), T(L({0, 4}, Dims{2}))});
  EXPECT_EQ(r4->sizes, (Dims{4, 2}));
  EXPECT_EQ(values(r4), (V{20, 24, 25, 29, 30, 34, 35, 39}));
  // bool mask over dims 0-1, then a slice on dim 2
  std::vector<uint8_t> mv(12, 0);
  mv[1] = mv[6] = mv[11] = 1;  // (0,1) (1,2) (2,3)
  Tensor r5 = index(x, {T(M(mv, Dims{3, 4})), Sl(1, 3)});
  EXPECT_EQ(r5->sizes, (Dims{3, 2}));
  EXPECT_EQ(values(r5), (V{6, 7, 31, 32, 56, 57}));
  // 0-d bool mask adds a dim
  EXPECT_EQ(index(x, {T(M({1}, Dims{}))})->sizes, (Dims{1, 3, 4, 5}));
  EXPECT_EQ(index(x, {T(M({0}, Dims{}))})->sizes, (Dims{0, 3, 4, 5}));
  // non-contiguous input: a transposed view
  Tensor xt = transpose(x, 0, 2);  // [5, 4, 3], xt[k, j, i] = x[i, j, k]
  Tensor r6 = index(xt, {T(L({4, 0}, Dims{2})), I(2)});
  EXPECT_EQ(values(r6), (V{14, 34, 54, 10, 30, 50}));
  // int32 indices and empty index tensors
  Tensor r7 = index(x, {T(to_dtype(L({2}, Dims{1}), PRISM_DTYPE_I32)), I(0), I(0)});
  EXPECT_EQ(values(r7), (V{40}));
  EXPECT_EQ(index(x, {T(L({}, Dims{0}))})->sizes, (Dims{0, 4, 5}));
}

TEST_F(IndexingTest, IndexPutAndMaskAssignment) {
  // t[mask] = v
  Tensor x = iota(Dims{2, 3});
  index_put_(x, {T(compare("gt", x, S0(3)))}, S0(-1), false);
  EXPECT_EQ(values(x), (V{0, 1, 2, 3, -1, -1}));
  // t[idx] = tensor, rows; values broadcast
  Tensor y = iota(Dims{3, 2});
  index_put_(y, {T(L({2, 0}, Dims{2}))}, F({7, 8}, Dims{2}), false);
  EXPECT_EQ(values(y), (V{7, 8, 2, 3, 7, 8}));
  // accumulate with duplicates
  Tensor z = full(Dims{4}, 0.0, PRISM_DTYPE_F64, cpu());
  index_put_(z, {T(L({1, 1, 3, 1}, Dims{4}))}, F({1, 2, 3, 4}, Dims{4}), true);
  EXPECT_EQ(values(z), (V{0, 7, 0, 3}));
  // write through a transposed (non-mergeable) view into the base tensor
  Tensor base = iota(Dims{3, 4});
  Tensor tv = transpose(base, 0, 1);  // [4, 3]
  index_put_(tv, {T(L({0, 3}, Dims{2})), T(L({2, 1}, Dims{2}))}, F({100, 200}, Dims{2}), false);
  V want = values(iota(Dims{3, 4}));
  want[2 * 4 + 0] = 100;
  want[1 * 4 + 3] = 200;
  EXPECT_EQ(values(base), want);
  // basic subscript assignment and accumulate
  Tensor w = iota(Dims{2, 2});
  index_put_(w, {I(1)}, S0(9), false);
  index_put_(w, {Sl(0), I(0)}, S0(10), true);
  EXPECT_EQ(values(w), (V{10, 1, 19, 9}));
  // functional form leaves the input alone
  Tensor u = iota(Dims{3});
  Tensor u2 = index_put_tensors(u, {L({0}, Dims{1})}, S0(5), false);
  EXPECT_EQ(values(u), (V{0, 1, 2}));
  EXPECT_EQ(values(u2), (V{5, 1, 2}));
  // shape mismatch and out-of-range leave the tensor intact
  expect_error(
      [&] {
        index_put_(u, {T(L({0, 1}, Dims{2}))}, F({1, 2, 3}, Dims{3}), false);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"index_put_", "[3]", "[2]"});
  expect_error(
      [&] {
        index_put_(u, {T(L({0, 3}, Dims{2}))}, S0(1), false);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"index 3 is out of bounds for dimension 0 with size 3"});
  EXPECT_EQ(values(u), (V{0, 1, 2}));
}

// ---- index_select / index_add / index_fill ------------------------------------------------------

TEST_F(IndexingTest, IndexSelectAddFill) {
  Tensor x = iota(Dims{3, 4});
  EXPECT_EQ(values(index_select(x, 1, L({3, 0, 3}, Dims{3}))), (V{3, 0, 3, 7, 4, 7, 11, 8, 11}));
  EXPECT_EQ(values(index_select(transpose(x, 0, 1), 0, L({1}, Dims{1}))), (V{1, 5, 9}));
  EXPECT_EQ(values(index_select(x, -2, L({2}, Dims{}))), (V{8, 9, 10, 11}));
  EXPECT_EQ(index_select(x, 0, L({}, Dims{0}))->sizes, (Dims{0, 4}));
  EXPECT_EQ(values(index_select(S0(4), 0, L({0}, Dims{1}))), (V{4}));
  expect_error([&] { index_select(x, 0, L({3}, Dims{1})); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"index_select", "index 3 is out of bounds for dimension 0 with size 3"});
  expect_error(
      [&] {
        index_select(x, 0, L({0, 1}, Dims{1, 2}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"supposed to be a vector"});
  expect_error([&] { index_select(x, 0, F({0}, Dims{1})); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"int64", "float64"});

  Tensor a = index_add(x, 0, L({2, 0, 2}, Dims{3}), full(Dims{3, 4}, 1.0, PRISM_DTYPE_F64, cpu()), 2.0);
  EXPECT_EQ(values(a), (V{2, 3, 4, 5, 4, 5, 6, 7, 12, 13, 14, 15}));
  Tensor b = iota(Dims{2, 3});
  index_add_(b, 1, L({1, 1}, Dims{2}), F({1, 2, 3, 4}, Dims{2, 2}), 1.0);
  EXPECT_EQ(values(b), (V{0, 4, 2, 3, 11, 5}));
  expect_error(
      [&] {
        index_add(x, 0, L({0}, Dims{1}), F({1, 2}, Dims{1, 2}), 1.0);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"source tensor shape [1, 2]", "[3, 4]"});

  Tensor f = index_fill(x, 1, L({-1, 0}, Dims{2}), -5);
  EXPECT_EQ(values(f), (V{-5, 1, 2, -5, -5, 5, 6, -5, -5, 9, 10, -5}));
  Tensor g = iota(Dims{2, 2});
  index_fill_(g, 0, L({1}, Dims{1}), 3);
  EXPECT_EQ(values(g), (V{0, 1, 3, 3}));
}

// ---- gather / scatter ---------------------------------------------------------------------------

TEST_F(IndexingTest, GatherScatter) {
  Tensor x = iota(Dims{3, 3});
  Tensor idx = L({2, 0, 1, 1, 0, 2}, Dims{2, 3});
  // out[i][j] = x[idx[i][j]][j]
  EXPECT_EQ(values(gather(x, 0, idx)), (V{6, 1, 5, 3, 1, 8}));
  // out[i][j] = x[i][idx[i][j]]
  EXPECT_EQ(values(gather(x, 1, idx)), (V{2, 0, 1, 4, 3, 5}));
  // transposed input, smaller index along the other dim
  Tensor xt = transpose(x, 0, 1);  // xt[i][j] = x[j][i] = 3 j + i
  EXPECT_EQ(values(gather(xt, 1, L({2, 0}, Dims{2, 1}))), (V{6, 1}));
  EXPECT_EQ(gather(x, 0, L({}, Dims{0, 3}))->sizes, (Dims{0, 3}));

  Tensor src = F({10, 20, 30, 40, 50, 60}, Dims{2, 3});
  // self[idx[i][j]][j] = src[i][j]
  Tensor s = scatter(full(Dims{3, 3}, 0.0, PRISM_DTYPE_F64, cpu()), 0, idx, src);
  EXPECT_EQ(values(s), (V{0, 50, 0, 40, 0, 30, 10, 0, 60}));
  Tensor sv = scatter_value(full(Dims{2, 3}, 0.0, PRISM_DTYPE_F64, cpu()), 1, L({2, 0}, Dims{2, 1}), 7);
  EXPECT_EQ(values(sv), (V{0, 0, 7, 7, 0, 0}));
  // scatter_add with duplicates
  Tensor sa = scatter_add(full(Dims{4}, 1.0, PRISM_DTYPE_F64, cpu()), 0, L({0, 3, 0, 0}, Dims{4}),
                          F({1, 2, 3, 4}, Dims{4}));
  EXPECT_EQ(values(sa), (V{9, 1, 1, 3}));
  // in place into a transposed view
  Tensor base = full(Dims{2, 3}, 0.0, PRISM_DTYPE_F64, cpu());
  scatter_add_(transpose(base, 0, 1), 1, L({1, 0, 1}, Dims{3, 1}), F({1, 2, 3}, Dims{3, 1}));
  EXPECT_EQ(values(base), (V{0, 2, 0, 1, 0, 3}));
  Tensor ints = full(Dims{3}, 0.0, PRISM_DTYPE_I64, cpu());
  scatter_value_(ints, 0, L({2}, Dims{1}), 4);
  scatter_(ints, 0, L({0}, Dims{1}), L({9}, Dims{1}));
  EXPECT_EQ(values(ints), (V{9, 0, 4}));

  // errors: range, dims, sizes; the tensor is left untouched
  expect_error(
      [&] {
        gather(x, 0, L({5}, Dims{1, 1}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"gather", "index 5 is out of bounds for dimension 0 with size 3"});
  expect_error([&] { gather(x, 0, L({0}, Dims{1})); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"same number of dimensions"});
  expect_error(
      [&] {
        gather(x, 0, L({0, 0, 0, 0}, Dims{1, 4}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"Size does not match at dimension 1"});
  expect_error(
      [&] {
        scatter_(base, 0, L({-1}, Dims{1, 1}), F({1}, Dims{1, 1}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"index -1 is out of bounds for dimension 0 with size 2"});
  EXPECT_EQ(values(base), (V{0, 2, 0, 1, 0, 3}));
  expect_error(
      [&] {
        scatter(x, 0, L({0, 1}, Dims{1, 2}), F({1}, Dims{1, 1}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"smaller than src"});
}

TEST_F(IndexingTest, ScatterReduce) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = F({1, 2, 3, 4}, Dims{4});
  Tensor idx = L({0, 2, 0, 2, 3}, Dims{5});
  Tensor src = F({5, -1, 2, 7, nan}, Dims{5});
  using R = ScatterReduce;
  V sum = values(scatter_reduce(x, 0, idx, src, R::kSum, true));
  EXPECT_EQ((V{sum[0], sum[1], sum[2]}), (V{8, 2, 9}));
  EXPECT_TRUE(std::isnan(sum[3]));
  Tensor s2 = F({5, -1, 2, 7, 3}, Dims{5});
  EXPECT_EQ(values(scatter_reduce(x, 0, idx, s2, R::kSum, false)), (V{7, 2, 6, 3}));
  EXPECT_EQ(values(scatter_reduce(x, 0, idx, s2, R::kProd, true)), (V{10, 2, -21, 12}));
  EXPECT_EQ(values(scatter_reduce(x, 0, idx, s2, R::kProd, false)), (V{10, 2, -7, 3}));
  EXPECT_EQ(values(scatter_reduce(x, 0, idx, s2, R::kAmax, true)), (V{5, 2, 7, 4}));
  EXPECT_EQ(values(scatter_reduce(x, 0, idx, s2, R::kAmin, false)), (V{2, 2, -1, 3}));
  V mx = values(scatter_reduce(x, 0, idx, src, R::kAmax, true));
  EXPECT_TRUE(std::isnan(mx[3]));  // NaN propagates
  // integers, along dim 1 of a transposed view
  Tensor xi = transpose(L({1, 2, 3, 4, 5, 6}, Dims{3, 2}), 0, 1);  // [[1, 3, 5], [2, 4, 6]]
  Tensor r = scatter_reduce(xi, 1, L({0, 0, 2, 1}, Dims{2, 2}), L({9, -9, 4, 0}, Dims{2, 2}), R::kAmin, true);
  EXPECT_EQ(values(r), (V{-9, 3, 5, 2, 0, 4}));
  expect_error([&] { scatter_reduce(x, 0, L({4}, Dims{1}), src, R::kSum, true); },
               PRISM_ERROR_INVALID_ARGUMENT,
               {"scatter_reduce", "index 4 is out of bounds for dimension 0 with size 4"});
}

// ---- masked ops, take, nonzero ------------------------------------------------------------------

TEST_F(IndexingTest, MaskedOpsTakeNonzero) {
  Tensor x = iota(Dims{2, 3});
  Tensor m = M({1, 0, 1}, Dims{3});  // broadcast over rows
  EXPECT_EQ(values(masked_fill(x, m, S0(-1))), (V{-1, 1, -1, -1, 4, -1}));
  Tensor xi = to_dtype(x, PRISM_DTYPE_I32);
  Tensor mf = masked_fill(xi, m, scalar_tensor(2.7, PRISM_DTYPE_F64, cpu()));
  EXPECT_EQ(mf->dtype, PRISM_DTYPE_I32);
  EXPECT_EQ(values(mf), (V{2, 1, 2, 2, 4, 2}));
  Tensor y = iota(Dims{2, 3});
  masked_fill_(transpose(y, 0, 1), M({0, 1}, Dims{2}), S0(9));
  EXPECT_EQ(values(y), (V{0, 1, 2, 9, 9, 9}));
  expect_error(
      [&] {
        masked_fill(x, L({1, 0, 1}, Dims{3}), S0(0));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"bool mask", "int64"});
  expect_error(
      [&] {
        masked_fill(x, M({1, 0}, Dims{2}), S0(0));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"[2, 3]", "[2]"});
  expect_error(
      [&] {
        masked_fill_(x, M({1, 0, 1, 1, 0, 1}, Dims{2, 1, 3}), S0(0));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"cannot be broadcast"});
  expect_error(
      [&] {
        masked_fill(x, m, F({1, 2}, Dims{2}));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"0-dimensional"});

  EXPECT_EQ(values(masked_select(x, m)), (V{0, 2, 3, 5}));
  EXPECT_EQ(values(masked_select(transpose(x, 0, 1), M({1, 0}, Dims{2}))), (V{0, 1, 2}));
  EXPECT_EQ(masked_select(x, M({0, 0, 0}, Dims{3}))->sizes, (Dims{0}));

  EXPECT_EQ(values(take(x, L({5, -1, 0, 2}, Dims{2, 2}))), (V{5, 5, 0, 2}));
  EXPECT_EQ(values(take(transpose(x, 0, 1), L({1, 2}, Dims{2}))), (V{3, 1}));
  expect_error([&] { take(x, L({6}, Dims{1})); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"take", "index 6 is out of bounds for dimension 0 with size 6"});

  Tensor nz = nonzero(F({0, 3, 0, 0, 1, 2}, Dims{2, 3}));
  EXPECT_EQ(nz->dtype, PRISM_DTYPE_I64);
  EXPECT_EQ(nz->sizes, (Dims{3, 2}));
  EXPECT_EQ(values(nz), (V{0, 1, 1, 1, 1, 2}));
  EXPECT_EQ(values(nonzero(transpose(F({0, 3, 0, 0, 1, 2}, Dims{2, 3}), 0, 1))), (V{1, 0, 1, 1, 2, 1}));
  EXPECT_EQ(nonzero(F({}, Dims{0, 2}))->sizes, (Dims{0, 2}));
  EXPECT_EQ(nonzero(S0(5))->sizes, (Dims{1, 0}));
  EXPECT_EQ(values(nonzero(M({0, 1, 1}, Dims{3}))), (V{1, 2}));
}

// ---- tril / triu, cumsum / cumprod --------------------------------------------------------------

TEST_F(IndexingTest, TrilTriu) {
  Tensor x = binary("add", iota(Dims{3, 4}), S0(1));
  EXPECT_EQ(values(tril(x, 0)), (V{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0}));
  EXPECT_EQ(values(triu(x, 1)), (V{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}));
  EXPECT_EQ(values(tril(x, -1)), (V{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}));
  EXPECT_EQ(values(triu(transpose(x, 0, 1), 0)), (V{1, 5, 9, 0, 6, 10, 0, 0, 11, 0, 0, 0}));
  Tensor b = tril(full(Dims{2, 2, 2}, 1.0, PRISM_DTYPE_I64, cpu()), 0);
  EXPECT_EQ(b->dtype, PRISM_DTYPE_I64);
  EXPECT_EQ(values(b), (V{1, 0, 1, 1, 1, 0, 1, 1}));
  expect_error(
      [&] {
        tril(F({1, 2}, Dims{2}), 0);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"tril", "at least 2 dimensions"});
}

TEST_F(IndexingTest, CumsumCumprod) {
  Tensor x = F({1, 2, 3, 4, 5, 6}, Dims{2, 3});
  EXPECT_EQ(values(cumsum(x, 1)), (V{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(values(cumsum(x, 0)), (V{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(values(cumprod(x, -1)), (V{1, 2, 6, 4, 20, 120}));
  EXPECT_EQ(values(cumsum(transpose(x, 0, 1), 0)), (V{1, 4, 3, 9, 6, 15}));
  Tensor xi = to_dtype(x, PRISM_DTYPE_I8);
  Tensor ci = cumprod(xi, 1);
  EXPECT_EQ(ci->dtype, PRISM_DTYPE_I64);  // no int8 overflow: accumulates in int64
  EXPECT_EQ(values(ci), (V{1, 2, 6, 4, 20, 120}));
  Tensor cb = cumsum(M({1, 0, 1, 1}, Dims{4}), 0);
  EXPECT_EQ(cb->dtype, PRISM_DTYPE_I64);
  EXPECT_EQ(values(cb), (V{1, 1, 2, 3}));
  Tensor cf = cumsum(to_dtype(x, PRISM_DTYPE_F32), 1);
  EXPECT_EQ(cf->dtype, PRISM_DTYPE_F32);
  EXPECT_EQ(values(cumsum(S0(3), 0)), (V{3}));
  EXPECT_EQ(cumsum(F({}, Dims{0, 3}), 1)->sizes, (Dims{0, 3}));
  expect_error([&] { cumsum(x, 2); }, PRISM_ERROR_INVALID_ARGUMENT, {"cumsum", "dim"});
}

// ---- sort / topk --------------------------------------------------------------------------------

TEST_F(IndexingTest, SortTopk) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = F({3, 1, nan, 1, 2, 3}, Dims{6});
  auto r = sort(x, 0, false, true);
  V v = values(r.first);
  EXPECT_EQ((V{v[0], v[1], v[2], v[3], v[4]}), (V{1, 1, 2, 3, 3}));
  EXPECT_TRUE(std::isnan(v[5]));
  EXPECT_EQ(values(r.second), (V{1, 3, 4, 0, 5, 2}));  // stable: equal keys keep their order
  auto d = sort(x, 0, true, true);
  EXPECT_TRUE(std::isnan(values(d.first)[0]));
  EXPECT_EQ(values(d.second), (V{2, 0, 5, 4, 1, 3}));
  // along dim 0 of a transposed view
  Tensor m = F({4, 1, 3, 2, 6, 5}, Dims{2, 3});
  auto c = sort(transpose(m, 0, 1), 1, false, false);  // rows (4,2) (1,6) (3,5)
  EXPECT_EQ(values(c.first), (V{2, 4, 1, 6, 3, 5}));
  EXPECT_EQ(values(c.second), (V{1, 0, 0, 1, 0, 1}));
  auto t = topk(m, 2, 1, true, true);
  EXPECT_EQ(values(t.first), (V{4, 3, 6, 5}));
  EXPECT_EQ(values(t.second), (V{0, 2, 1, 2}));
  auto s = topk(m, 1, 0, false, true);
  EXPECT_EQ(values(s.first), (V{2, 1, 3}));
  EXPECT_EQ(s.second->dtype, PRISM_DTYPE_I64);
  auto i = sort(L({3, -1, 2}, Dims{3}), -1, true, false);
  EXPECT_EQ(values(i.first), (V{3, 2, -1}));
  EXPECT_EQ(topk(m, 0, 1, true, true).first->sizes, (Dims{2, 0}));
  EXPECT_EQ(sort(S0(2), 0, false, false).first->sizes, Dims{});
  expect_error([&] { topk(m, 4, 1, true, true); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"topk", "k (4) is out of range for dimension 1 with size 3"});
}

// ---- one_hot / embedding ------------------------------------------------------------------------

TEST_F(IndexingTest, OneHotEmbedding) {
  Tensor oh = one_hot(L({2, 0, 1}, Dims{3}), -1);
  EXPECT_EQ(oh->sizes, (Dims{3, 3}));
  EXPECT_EQ(oh->dtype, PRISM_DTYPE_I64);
  EXPECT_EQ(values(oh), (V{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(one_hot(L({1}, Dims{1, 1}), 4)->sizes, (Dims{1, 1, 4}));
  EXPECT_EQ(one_hot(L({}, Dims{0}), 3)->sizes, (Dims{0, 3}));
  expect_error([&] { one_hot(L({3}, Dims{1}), 3); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"smaller than num_classes"});
  expect_error([&] { one_hot(L({-1}, Dims{1}), 3); }, PRISM_ERROR_INVALID_ARGUMENT, {"non-negative"});
  expect_error([&] { one_hot(to_dtype(L({1}, Dims{1}), PRISM_DTYPE_I32), 3); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"int64", "int32"});
  expect_error([&] { one_hot(L({}, Dims{0}), -1); }, PRISM_ERROR_INVALID_ARGUMENT, {"empty"});

  Tensor w = iota(Dims{4, 2});
  Tensor e = embedding(w, L({3, 0, 3, 1}, Dims{2, 2}), kNoPaddingIdx);
  EXPECT_EQ(e->sizes, (Dims{2, 2, 2}));
  EXPECT_EQ(values(e), (V{6, 7, 0, 1, 6, 7, 2, 3}));
  EXPECT_EQ(values(embedding(transpose(iota(Dims{2, 4}), 0, 1), L({1}, Dims{}), kNoPaddingIdx)), (V{1, 5}));
  expect_error([&] { embedding(w, L({4}, Dims{1}), kNoPaddingIdx); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"embedding", "index 4 is out of bounds for dimension 0 with size 4"});
  expect_error([&] { embedding(w, L({0}, Dims{1}), 4); }, PRISM_ERROR_INVALID_ARGUMENT, {"padding_idx"});
  expect_error([&] { embedding(F({1}, Dims{1}), L({0}, Dims{1}), kNoPaddingIdx); },
               PRISM_ERROR_INVALID_ARGUMENT, {"2-D"});
  // padding_idx rows get no gradient; duplicates accumulate
  Tensor wl = iota(Dims{4, 2});
  ag::set_requires_grad(wl, true);
  Tensor out = embedding(wl, L({1, 3, 1, 0}, Dims{4}), -1);  // padding_idx -1 = row 3
  EXPECT_EQ(ag::grad_fn(out)->name(), "EmbeddingBackward");
  ag::backward({reduce("sum", out, {}, false)}, {}, false);
  EXPECT_EQ(values(ag::grad(wl)), (V{1, 1, 2, 2, 0, 0, 0, 0}));
}

// ---- every dtype: each kernel op against the same op on float64 (checked by hand above) -------------

TEST_F(IndexingTest, EveryDtypeMatchesFloat64) {
  const prism_dtype all[] = {PRISM_DTYPE_BOOL, PRISM_DTYPE_U8,  PRISM_DTYPE_I8,  PRISM_DTYPE_I16,
                             PRISM_DTYPE_I32,  PRISM_DTYPE_I64, PRISM_DTYPE_F16, PRISM_DTYPE_BF16,
                             PRISM_DTYPE_F32,  PRISM_DTYPE_F64};
  Tensor idx = L({2, 0, 1, 1, 0, 2}, Dims{2, 3});
  Tensor perm = L({1, 0}, Dims{2});
  for (prism_dtype dt : all) {
    bool is_bool = dt == PRISM_DTYPE_BOOL;
    Tensor base = is_bool ? F({1, 0, 1, 1, 0, 0}, Dims{2, 3}) : F({3, 0, 7, 2, 5, 1}, Dims{2, 3});
    Tensor x = to_dtype(base, dt);
    Tensor r = to_dtype(x, PRISM_DTYPE_F64);  // the same values in float64
    auto same = [&](const Tensor& a, const Tensor& b, const char* what) {
      EXPECT_EQ(values(a), values(b)) << what << " " << dtype_name(dt);
    };
    Tensor xt = transpose(x, 0, 1), rt = transpose(r, 0, 1);
    same(gather(xt, 0, transpose(idx, 0, 1)), gather(rt, 0, transpose(idx, 0, 1)), "gather");
    same(index_select(xt, 1, perm), index_select(rt, 1, perm), "index_select");
    same(take(x, L({5, -6}, Dims{2})), take(r, L({5, -6}, Dims{2})), "take");
    same(index(x, {Sl(0), T(L({2, 2}, Dims{2}))}), index(r, {Sl(0), T(L({2, 2}, Dims{2}))}), "index");
    same(masked_select(x, M({1, 0, 1}, Dims{3})), masked_select(r, M({1, 0, 1}, Dims{3})), "masked_select");
    same(nonzero(xt), nonzero(rt), "nonzero");
    same(tril(x, 0), tril(r, 0), "tril");
    same(scatter(x, 1, idx, x), scatter(r, 1, idx, r), "scatter");
    same(index_fill(x, 0, perm, 1), index_fill(r, 0, perm, 1), "index_fill");
    same(sort(xt, 0, true, true).second, sort(rt, 0, true, true).second, "sort indices");
    same(sort(x, 1, false, true).first, sort(r, 1, false, true).first, "sort values");
    same(topk(x, 2, 1, true, true).second, topk(r, 2, 1, true, true).second, "topk");
    if (!is_bool) {
      same(scatter_add(x, 1, idx, x), scatter_add(r, 1, idx, r), "scatter_add");
      same(index_add(x, 0, perm, x, 1.0), index_add(r, 0, perm, r, 1.0), "index_add");
      same(cumprod(x, 1), cumprod(r, 1), "cumprod");
    }
    Tensor c = cumsum(x, 1);
    EXPECT_EQ(c->dtype, is_float(dt) ? dt : PRISM_DTYPE_I64) << dtype_name(dt);
    same(c, cumsum(r, 1), "cumsum");
  }
}

// ---- large inputs: the threaded paths of the CPU kernels against host loops ----------------------

TEST_F(IndexingTest, LargeInputsMatchHostLoops) {
  manual_seed(21);
  // take / index_select: a short outer walk and a long index (threads split the index)
  const int64_t n = 200000;
  Tensor src = iota(Dims{100});
  Tensor idx = randint(-100, 100, Dims{n}, PRISM_DTYPE_I64, cpu());
  std::vector<double> iv = values(idx);
  std::vector<double> got = values(take(src, idx));
  bool same = true;
  for (int64_t k = 0; k < n; ++k) same = same && got[k] == (iv[k] < 0 ? iv[k] + 100 : iv[k]);
  EXPECT_TRUE(same) << "take";
  // gather along dim 0 of a transposed [300, 400] view: a long outer walk
  Tensor x = transpose(iota(Dims{400, 300}), 0, 1);  // x[i][j] = 300 j + i
  Tensor gi = randint(0, 300, Dims{300, 400}, PRISM_DTYPE_I64, cpu());
  std::vector<double> gv = values(gi), gg = values(gather(x, 0, gi));
  same = true;
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 400; ++j) same = same && gg[i * 400 + j] == 300 * j + gv[i * 400 + j];
  EXPECT_TRUE(same) << "gather";
  // embedding backward (index_put with accumulate): exact counts, whatever the threading
  Tensor w = full(Dims{10, 8}, 0.0, PRISM_DTYPE_F32, cpu());
  ag::set_requires_grad(w, true);
  Tensor e = embedding(w, remainder_rows(n), kNoPaddingIdx);
  ag::backward({reduce("sum", e, {}, false)}, {}, false);
  std::vector<double> gw = values(ag::grad(w));
  for (int64_t r = 0; r < 10; ++r) EXPECT_EQ(gw[r * 8 + 3], n / 10) << "row " << r;
  // cumsum of int64 along dim 0 of [300, 300]
  Tensor ci = randint(-5, 5, Dims{300, 300}, PRISM_DTYPE_I64, cpu());
  std::vector<double> cv = values(ci), cs = values(cumsum(ci, 0));
  same = true;
  for (int64_t j = 0; j < 300; ++j) {
    double acc = 0;
    for (int64_t i = 0; i < 300; ++i) {
      acc += cv[i * 300 + j];
      same = same && cs[i * 300 + j] == acc;
    }
  }
  EXPECT_TRUE(same) << "cumsum";
  // sort rows of [1000, 100]: sorted, and each index points at its value
  Tensor r = rand(Dims{1000, 100}, PRISM_DTYPE_F32, cpu());
  auto sr = sort(r, 1, false, true);
  std::vector<double> rv = values(r), sv = values(sr.first), si = values(sr.second);
  same = true;
  for (int64_t i = 0; i < 1000; ++i) {
    for (int64_t j = 0; j < 100; ++j) {
      same = same && sv[i * 100 + j] == rv[i * 100 + static_cast<int64_t>(si[i * 100 + j])];
      if (j > 0) same = same && sv[i * 100 + j - 1] <= sv[i * 100 + j];
    }
  }
  EXPECT_TRUE(same) << "sort";
}

// ---- gradients ----------------------------------------------------------------------------------

TEST_F(IndexingTest, FiniteDifferencesGatherScatterIndex) {
  manual_seed(11);
  Tensor idx = L({2, 0, 1, 1, 0, 2}, Dims{2, 3});
  Tensor perm = L({2, 0, 1, 1, 2, 0}, Dims{2, 3});
  for (bool tr : {false, true}) {
    auto in = [tr](const Tensor& t) { return tr ? transpose(t, 0, 1) : t; };
    gradcheck("gather", [&](const std::vector<Tensor>& x) { return gather(in(x[0]), 0, idx); },
              {rnd({3, 3})});
    // scatter: distinct targets (with duplicates the last write wins and the others get no gradient)
    gradcheck("scatter", [&](const std::vector<Tensor>& x) { return scatter(in(x[0]), 0, perm, in(x[1])); },
              {rnd({3, 3}), rnd({3, 3})});
    gradcheck("scatter_add",
              [&](const std::vector<Tensor>& x) { return scatter_add(in(x[0]), 1, idx, in(x[1])); },
              {rnd({3, 3}), rnd({3, 3})});
    gradcheck("index_select",
              [&](const std::vector<Tensor>& x) {
                return index_select(in(x[0]), 1, L({2, 0, 2}, Dims{3}));
              },
              {rnd({3, 4})});
    gradcheck("index_add",
              [&](const std::vector<Tensor>& x) {
                return index_add(in(x[0]), 0, L({1, 1}, Dims{2}), x[1], 0.5);
              },
              {rnd({2, 2}), rnd({2, 2})});
    gradcheck("index_fill",
              [&](const std::vector<Tensor>& x) { return index_fill(in(x[0]), 1, L({0}, Dims{1}), 3); },
              {rnd({2, 3})});
    gradcheck("take",
              [&](const std::vector<Tensor>& x) {
                return take(in(x[0]), L({5, 0, -1, 3}, Dims{2, 2}));
              },
              {rnd({2, 3})});
  }
  for (ScatterReduce r :
       {ScatterReduce::kSum, ScatterReduce::kProd, ScatterReduce::kAmax, ScatterReduce::kAmin}) {
    for (bool self : {true, false}) {
      gradcheck("scatter_reduce",
                [&](const std::vector<Tensor>& x) { return scatter_reduce(x[0], 1, idx, x[1], r, self); },
                {rnd({3, 3}, 0.5, 1.5), rnd({2, 4}, 0.5, 1.5)});
    }
  }
  // ties share the gradient of amax evenly (self and two sources equal to the max)
  Tensor t = F({2, 0}, Dims{2});
  ag::set_requires_grad(t, true);
  Tensor ts = F({2, 2, 1}, Dims{3});
  ag::set_requires_grad(ts, true);
  Tensor m = scatter_reduce(t, 0, L({0, 0, 1}, Dims{3}), ts, ScatterReduce::kAmax, true);
  EXPECT_EQ(ag::grad_fn(m)->name(), "ScatterReduceBackward");
  std::vector<Tensor> gr = ag::grad({reduce("sum", m, {}, false)}, {}, {t, ts}, false, false);
  std::vector<double> g0 = values(gr[0]), g1 = values(gr[1]);
  EXPECT_NEAR(g0[0], 1.0 / 3, 1e-12);
  EXPECT_EQ(g0[1], 0);
  EXPECT_NEAR(g1[0], 1.0 / 3, 1e-12);
  EXPECT_NEAR(g1[1], 1.0 / 3, 1e-12);
  EXPECT_EQ(g1[2], 1);
  gradcheck("scatter_ in place",
            [&](const std::vector<Tensor>& x) {
              Tensor y = binary("mul", x[0], S0(2));
              scatter_(y, 0, perm, x[1]);
              return y;
            },
            {rnd({3, 3}), rnd({2, 3})});
}

TEST_F(IndexingTest, FiniteDifferencesSubscriptsAndMasks) {
  manual_seed(12);
  Tensor mask = M({1, 0, 1, 1, 0, 0}, Dims{2, 3});
  for (bool tr : {false, true}) {
    auto in = [tr](const Tensor& t) { return tr ? transpose(t, 0, 1) : t; };
    gradcheck("basic subscript",
              [&](const std::vector<Tensor>& x) {
                return index(in(x[0]), {I(1), NewAxis(), Sl(0, 3, 2)});
              },
              {rnd({3, 3})});
    gradcheck("advanced index",
              [&](const std::vector<Tensor>& x) {
                return index(in(x[0]), {T(L({2, 0, 2}, Dims{3})), T(L({1, 1, 0}, Dims{3}))});
              },
              {rnd({3, 3})});
    gradcheck("mask index", [&](const std::vector<Tensor>& x) { return index(in(x[0]), {T(mask)}); },
              {tr ? rnd({3, 2}) : rnd({2, 3})});
    gradcheck("masked_select", [&](const std::vector<Tensor>& x) { return masked_select(in(x[0]), mask); },
              {tr ? rnd({3, 2}) : rnd({2, 3})});
    gradcheck("masked_fill",
              [&](const std::vector<Tensor>& x) {
                return masked_fill(in(x[0]), M({0, 1, 1}, Dims{3}), x[1]);
              },
              {rnd({3, 3}), rnd({})});
    gradcheck("index_put",
              [&](const std::vector<Tensor>& x) {
                return index_put(in(x[0]), {T(L({0, 2}, Dims{2}))}, x[1], false);
              },
              {rnd({3, 3}), rnd({3})});
    gradcheck("index_put accumulate",
              [&](const std::vector<Tensor>& x) {
                return index_put(in(x[0]), {Sl(0), T(L({1, 1}, Dims{2}))}, x[1], true);
              },
              {rnd({3, 3}), rnd({3, 2})});
  }
  gradcheck("masked_fill_ in place",
            [&](const std::vector<Tensor>& x) {
              Tensor y = binary("mul", x[0], S0(1));
              masked_fill_(y, mask, x[1]);
              return y;
            },
            {rnd({2, 3}), rnd({})});
  gradcheck("index_put_ in place",
            [&](const std::vector<Tensor>& x) {
              Tensor y = binary("mul", x[0], S0(1));
              index_put_(y, {T(mask)}, x[1], false);
              return y;
            },
            {rnd({2, 3}), rnd({3})});
}

TEST_F(IndexingTest, FiniteDifferencesScansSortsTriangles) {
  manual_seed(13);
  for (bool tr : {false, true}) {
    auto in = [tr](const Tensor& t) { return tr ? transpose(t, 0, 1) : t; };
    gradcheck("tril", [&](const std::vector<Tensor>& x) { return tril(in(x[0]), 0); }, {rnd({3, 4})});
    gradcheck("triu", [&](const std::vector<Tensor>& x) { return triu(in(x[0]), -1); }, {rnd({3, 4})});
    gradcheck("cumsum", [&](const std::vector<Tensor>& x) { return cumsum(in(x[0]), 1); }, {rnd({3, 4})});
    gradcheck("cumprod", [&](const std::vector<Tensor>& x) { return cumprod(in(x[0]), 0); },
              {rnd({3, 4}, 0.5, 1.5)});
    gradcheck("sort", [&](const std::vector<Tensor>& x) { return sort(in(x[0]), 1, true, true).first; },
              {rnd({3, 4})});
    gradcheck("topk", [&](const std::vector<Tensor>& x) { return topk(in(x[0]), 2, 0, false, true).first; },
              {rnd({3, 4})});
  }
  // cumprod with zeros (one, two and no zero per row): the exact formula of Note [cumprod gradient]
  Tensor z = F({0.5, 0, 1.5, 0.7, 0, 2, 0, 1.2, 0.7, 0.3, -1.1, 0.9}, Dims{3, 4});
  gradcheck("cumprod zeros", [&](const std::vector<Tensor>& x) { return cumprod(x[0], 1); }, {z});
  gradcheck("cumprod zeros transposed",
            [&](const std::vector<Tensor>& x) { return cumprod(transpose(x[0], 0, 1), 0); }, {clone(z)});
  gradcheck("embedding",
            [&](const std::vector<Tensor>& x) {
              return embedding(x[0], L({2, 0, 2}, Dims{3}), kNoPaddingIdx);
            },
            {rnd({3, 2})});
  gradcheck("embedding transposed",
            [&](const std::vector<Tensor>& x) {
              return embedding(transpose(x[0], 0, 1), L({1, 1}, Dims{2}), kNoPaddingIdx);
            },
            {rnd({2, 3})});
}

TEST_F(IndexingTest, GradFnNames) {
  Tensor x = rnd({3, 3});
  ag::set_requires_grad(x, true);
  Tensor idx = L({0, 1, 2}, Dims{3, 1});
  EXPECT_EQ(ag::grad_fn(gather(x, 1, idx))->name(), "GatherBackward");
  EXPECT_EQ(ag::grad_fn(scatter_add(x, 1, idx, x))->name(), "ScatterAddBackward");
  EXPECT_EQ(ag::grad_fn(index_select(x, 0, L({1}, Dims{1})))->name(), "IndexSelectBackward");
  EXPECT_EQ(ag::grad_fn(cumsum(x, 0))->name(), "CumsumBackward");
  EXPECT_EQ(ag::grad_fn(sort(x, 0, false, true).first)->name(), "SortBackward");
  EXPECT_EQ(ag::grad_fn(topk(x, 1, 0, true, true).first)->name(), "TopkBackward");
  EXPECT_EQ(ag::grad_fn(tril(x, 0))->name(), "TrilBackward");
  EXPECT_EQ(ag::grad_fn(index(x, {I(0)}))->name(), "SelectBackward");
  // in-place on a leaf that requires grad is refused, as for every in-place op
  expect_error([&] { index_put_(x, {I(0)}, S0(1), false); }, PRISM_ERROR_INVALID_ARGUMENT, {"leaf"});
  // an index modified after use is caught by the version counter
  Tensor i2 = L({0, 1, 2}, Dims{3, 1});
  Tensor g = gather(x, 1, i2);
  fill_(i2, 0);
  expect_error([&] { ag::backward({reduce("sum", g, {}, false)}, {}, false); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"modified by an inplace operation"});
}

// ---- the CPU fallback: a device without these kernels runs them through the CPU plugin ----------

TEST_F(IndexingTest, FallbackOnDeviceWithoutKernels) {
  // The emulated device (plugins/emu, PROT_NONE memory the core cannot touch)
  // has no indexing kernels: every op below runs through the CPU fallback.
  Device* emu = nullptr;
  try {
    std::string path = PRISM_TEST_CPU_PLUGIN;
    path.replace(path.rfind("libprism-cpu.so"), std::strlen("libprism-cpu.so"), "libprism-emu.so");
    Runtime::get().load_path(path);
    emu = Runtime::get().device("emu");
  } catch (const Error& e) {
    if (prism_test_device_required("emu:0"))
      GTEST_FAIL() << "the emu plugin is required (PRISM_REQUIRE_DEVICES) but unavailable: " << e.what();
    GTEST_SKIP() << "skipped: the emu plugin is not available: " << e.what();
  }
  set_fallback_policy(PRISM_FALLBACK_ALLOW);
  fallback_reset();
  Tensor x = to_device(test::tensor<float>({1, 5, 2, 7, 3, 0}, Dims{2, 3}), emu);
  Tensor i = to_device(L({2, 0}, Dims{2}), emu);
  Tensor s = index_select(x, 1, i);
  EXPECT_EQ(s->device(), emu);
  EXPECT_EQ(values(s), (V{2, 1, 0, 7}));
  EXPECT_GE(fallback_count("index_select"), 1u);
  EXPECT_EQ(values(gather(x, 1, to_device(L({1, 1, 0, 2}, Dims{2, 2}), emu))), (V{5, 5, 7, 0}));
  EXPECT_EQ(values(masked_select(x, compare("gt", x, scalar_tensor(2, PRISM_DTYPE_F32, emu)))), (V{5, 7, 3}));
  EXPECT_EQ(values(sort(x, 1, false, true).first), (V{1, 2, 5, 0, 3, 7}));
  EXPECT_EQ(values(cumsum(x, 1)), (V{1, 6, 8, 7, 10, 10}));
  EXPECT_EQ(values(nonzero(x)), (V{0, 0, 0, 1, 0, 2, 1, 0, 1, 1}));
  index_put_(x, {T(to_device(L({1}, Dims{1}), emu)), T(to_device(L({0}, Dims{1}), emu))},
             scalar_tensor(9, PRISM_DTYPE_F32, emu), false);
  EXPECT_EQ(values(x), (V{1, 5, 2, 9, 3, 0}));
  EXPECT_GE(fallback_count("index_put"), 1u);
  // kernel errors come back through the plugin error path on the fallback too
  expect_error([&] { index_select(x, 0, to_device(L({2}, Dims{1}), emu)); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"index 2 is out of bounds for dimension 0 with size 2"});
  // gradients on the emu device
  Tensor w = to_device(test::tensor<float>({1, 2, 3, 4}, Dims{2, 2}), emu);
  ag::set_requires_grad(w, true);
  Tensor e = embedding(w, to_device(L({1, 1, 0}, Dims{3}), emu), kNoPaddingIdx);
  ag::backward({reduce("sum", e, {}, false)}, {}, false);
  EXPECT_EQ(ag::grad(w)->device(), emu);
  EXPECT_EQ(values(ag::grad(w)), (V{1, 1, 2, 2}));
  set_fallback_policy(PRISM_FALLBACK_ERROR);
  expect_error(
      [&] {
        gather(x, 1, to_device(L({0, 0}, Dims{2, 1}), emu));
      },
      PRISM_ERROR_UNIMPLEMENTED, {"'gather'"});
  set_fallback_policy(PRISM_FALLBACK_WARN);
}

}  // namespace
}  // namespace prism
