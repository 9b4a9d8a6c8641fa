// indexing_test.cpp — prism.hpp's indexing: subscripts with Slice / Ellipsis / None / tensors, index_put_,
// and the method and free-function forms of the indexing ops.
#include "test_util.hpp"

namespace {

using prism::Slice;
using prism::Tensor;
using prism::indexing::Ellipsis;
using prism::indexing::None;
using prism_test::near_values;
using prism_test::throws_with;
using prism_test::values;

Tensor iota(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return prism::arange(0, static_cast<double>(n), 1, prism::kFloat32).reshape(sizes);
}

TEST(WrapperIndexing, Subscripts) {
  Tensor x = iota({2, 3, 4});
  Tensor a = x.index({1, Slice(0, 3, 2)});
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(near_values(a, {12, 13, 14, 15, 20, 21, 22, 23}));
  EXPECT_TRUE(near_values(x[{Ellipsis, -1}], {3, 7, 11, 15, 19, 23}));
  EXPECT_EQ((x[{None, 0, Ellipsis, None}].sizes()), (std::vector<int64_t>{1, 3, 4, 1}));
  EXPECT_TRUE(near_values(x[Slice(1)][0][2], {20, 21, 22, 23}));
  Tensor idx = prism::from_vector<int64_t>({2, 0}, {2});
  EXPECT_TRUE(near_values(x[{0, idx, Slice(std::nullopt, std::nullopt, 3)}], {8, 11, 0, 3}));
  Tensor mask = x.sum({2}) > 40;  // [2, 3]: rows 0..2 of x[0] sum to 6, 22, 38; x[1] to 54, 70, 86
  EXPECT_EQ(x[mask].sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(throws_with([&] { x.index({Slice(0, 2, -1)}); }, {"step must be greater than zero"}));
  EXPECT_TRUE(throws_with([&] { x.index({5}); }, {"index 5 is out of bounds for dimension 0 with size 2"}));
}

TEST(WrapperIndexing, AssignmentThroughIndexPut) {
  Tensor x = iota({2, 3});
  x.index_put_({x > 3}, 0.0);  // t[mask] = 0
  EXPECT_TRUE(near_values(x, {0, 1, 2, 3, 0, 0}));
  x.index_put_({Slice(), 1}, prism::from_vector<float>({7, 8}, {2}));
  EXPECT_TRUE(near_values(x, {0, 7, 2, 3, 8, 0}));
  Tensor acc = prism::zeros({3});
  acc.index_put_({prism::from_vector<int64_t>({1, 1, 2}, {3})}, prism::ones({3}), true);
  EXPECT_TRUE(near_values(acc, {0, 2, 1}));
  Tensor copy = prism::index_put(acc, {prism::from_vector<int64_t>({0}, {1})}, Tensor::scalar(5.0));
  EXPECT_TRUE(near_values(copy, {5, 2, 1}));
  EXPECT_TRUE(near_values(acc, {0, 2, 1}));
}

TEST(WrapperIndexing, OpsAndGradients) {
  Tensor x = iota({2, 3});
  Tensor i = prism::from_vector<int64_t>({2, 0}, {2});
  EXPECT_TRUE(near_values(x.index_select(1, i), {2, 0, 5, 3}));
  EXPECT_TRUE(near_values(prism::gather(x, 1, prism::from_vector<int64_t>({1, 0}, {2, 1})), {1, 3}));
  EXPECT_TRUE(near_values(x.masked_fill(x > 2, -1.0), {0, 1, 2, -1, -1, -1}));
  EXPECT_TRUE(near_values(prism::masked_select(x, x > 3), {4, 5}));
  EXPECT_TRUE(near_values(x.take(prism::from_vector<int64_t>({-1}, {1})), {5}));
  EXPECT_TRUE(near_values(prism::nonzero(x), {0, 1, 0, 2, 1, 0, 1, 1, 1, 2}));
  EXPECT_TRUE(near_values(prism::triu(x, 1), {0, 1, 2, 0, 0, 5}));
  Tensor c = x.cumsum(1, prism::kInt32);
  EXPECT_EQ(c.dtype(), prism::kInt64);
  EXPECT_TRUE(near_values(c, {0, 1, 3, 3, 7, 12}));
  auto [v, k] = prism::topk(x, 1);
  EXPECT_TRUE(near_values(v, {2, 5}));
  EXPECT_TRUE(near_values(k, {2, 2}));
  EXPECT_TRUE(near_values(x.sort(0, true).first, {3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(prism::one_hot(i).sizes(), (std::vector<int64_t>{2, 3}));
  Tensor sr = prism::zeros({3}).scatter_reduce(0, prism::from_vector<int64_t>({1, 1}, {2}),
                                               prism::from_vector<float>({4, 6}, {2}), "amax", false);
  EXPECT_TRUE(near_values(sr, {0, 6, 0}));
  EXPECT_TRUE(throws_with([&] { x.scatter_reduce(0, i, x, "mean"); }, {"scatter_reduce", "mean"}));

  Tensor w = iota({3, 2}).requires_grad_();
  Tensor e = prism::embedding(w, prism::from_vector<int64_t>({2, 2, 0}, {3}), 0);
  prism::sum(e).backward();
  EXPECT_TRUE(near_values(w.grad(), {0, 0, 0, 0, 2, 2}));
  Tensor y = iota({2, 2}).requires_grad_();
  Tensor g = y.gather(0, prism::from_vector<int64_t>({1, 1}, {1, 2})) * 3;
  prism::sum(g).backward();
  EXPECT_TRUE(near_values(y.grad(), {0, 0, 3, 3}));
}

}  // namespace
