// tensor_test.cpp — the tensor core: creation, views sharing storage, view errors, copies, casts and item().
#include <cmath>

#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::values;

class TensorTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
  static Tensor iota(Dims sizes) {
    return reshape(arange(0, double(numel_of(sizes)), 1, PRISM_DTYPE_F32, cpu()), sizes);
  }
};

TEST_F(TensorTest, CreationFunctions) {
  EXPECT_EQ(values(full(Dims{2, 2}, 3.5, PRISM_DTYPE_F32, cpu())), (std::vector<double>{3.5, 3.5, 3.5, 3.5}));
  EXPECT_EQ(values(arange(0, 5, 2, PRISM_DTYPE_I64, cpu())), (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(values(arange(5, 0, -2, PRISM_DTYPE_F64, cpu())), (std::vector<double>{5, 3, 1}));
  EXPECT_EQ(values(linspace(0, 1, 5, PRISM_DTYPE_F64, cpu())), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(values(eye(2, 3, PRISM_DTYPE_I32, cpu())), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  Tensor s = scalar_tensor(7, PRISM_DTYPE_I16, cpu());
  EXPECT_EQ(s->dim(), 0);
  EXPECT_EQ(item_int64(s), 7);
  Tensor e = empty(Dims{0, 3}, PRISM_DTYPE_F32, cpu());
  EXPECT_EQ(e->numel(), 0);
  expect_error([] { empty(Dims{-1}, PRISM_DTYPE_F32, cpu()); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"negative dimension"});
  expect_error([] { arange(0, 1, 0, PRISM_DTYPE_F32, cpu()); }, PRISM_ERROR_INVALID_ARGUMENT, {"arange"});
  expect_error(
      [] {
        empty(Dims{int64_t(1) << 40, int64_t(1) << 40}, PRISM_DTYPE_F32, cpu());
      },
      PRISM_ERROR_OUT_OF_MEMORY, {"does not fit"});
}

TEST_F(TensorTest, ViewsShareStorage) {
  Tensor base = iota(Dims{3, 4});
  Tensor v = view(base, Dims{4, -1});
  EXPECT_EQ(v->sizes, (Dims{4, 3}));
  fill_(select(v, 0, 1), -1);  // elements 3, 4, 5 of base
  EXPECT_EQ(values(base)[3], -1);
  EXPECT_EQ(values(base)[5], -1);
  EXPECT_EQ(values(base)[6], 6);
  Tensor tr = transpose(base, 0, 1);
  EXPECT_FALSE(tr->is_contiguous());
  EXPECT_EQ(tr->strides, (Dims{1, 4}));
  EXPECT_EQ(values(tr)[1], -1);  // tr[0][1] = base[1][0], written through the view above
  EXPECT_EQ(values(tr)[2], 8);   // tr[0][2] = base[2][0]
  Tensor sl = slice(base, 1, 1, 4, 2);
  EXPECT_EQ(sl->sizes, (Dims{3, 2}));
  EXPECT_EQ(values(sl), (std::vector<double>{1, -1, -1, 7, 9, 11}));
  Tensor d = diagonal(base, 0, 0, 1);
  EXPECT_EQ(values(d), (std::vector<double>{0, -1, 10}));
  Tensor u = unfold(arange(0, 7, 1, PRISM_DTYPE_F32, cpu()), 0, 2, 2);
  EXPECT_EQ(u->sizes, (Dims{3, 2}));
  EXPECT_EQ(values(u), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  Tensor ex = expand(full(Dims{3, 1}, 2, PRISM_DTYPE_F32, cpu()), Dims{-1, 4});
  EXPECT_EQ(ex->strides, (Dims{1, 0}));
  EXPECT_EQ(squeeze(empty(Dims{1, 3, 1}, PRISM_DTYPE_F32, cpu()))->sizes, (Dims{3}));
  EXPECT_EQ(unsqueeze(base, -1)->sizes, (Dims{3, 4, 1}));
  EXPECT_EQ(flatten(empty(Dims{2, 3, 4}, PRISM_DTYPE_F32, cpu()), 1, 2)->sizes, (Dims{2, 12}));
  EXPECT_EQ(permute(empty(Dims{2, 3, 4}, PRISM_DTYPE_F32, cpu()), Dims{2, 0, 1})->sizes, (Dims{4, 2, 3}));
  Tensor n = narrow(base, 0, -2, 2);
  EXPECT_EQ(n->offset, 4);
  Tensor as = as_strided(base, Dims{2, 2}, Dims{1, 4}, 1);
  EXPECT_EQ(values(as), (std::vector<double>{1, -1, 2, 6}));
}

TEST_F(TensorTest, ImpossibleViewsExplainThemselves) {
  Tensor base = iota(Dims{3, 4});
  expect_error([&] { view(transpose(base, 0, 1), Dims{12}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"view", "not compatible", "reshape"});
  expect_error([&] { view(base, Dims{5, -1}); }, PRISM_ERROR_INVALID_ARGUMENT, {"[5, -1]", "12"});
  expect_error([&] { view(base, Dims{-1, -1}); }, PRISM_ERROR_INVALID_ARGUMENT, {"only one dimension"});
  expect_error([&] { select(base, 1, 4); }, PRISM_ERROR_INVALID_ARGUMENT, {"index 4", "size 4"});
  expect_error([&] { select(base, 2, 0); }, PRISM_ERROR_INVALID_ARGUMENT, {"dimension out of range"});
  expect_error([&] { slice(base, 0, 0, 3, -1); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"step must be greater than zero"});
  expect_error(
      [&] {
        expand(base, Dims{3, 5});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"expanded size", "(5)", "(4)"});
  expect_error(
      [&] {
        as_strided(base, Dims{4, 4}, Dims{4, 1}, 0);
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"outside the storage"});
  expect_error(
      [&] {
        t2(empty(Dims{2, 2, 2}, PRISM_DTYPE_F32, cpu()));
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"<= 2"});
  expect_error([&] { permute(base, Dims{0, 0}); }, PRISM_ERROR_INVALID_ARGUMENT, {"repeats"});
  // The failing calls left the base unchanged.
  EXPECT_EQ(values(base)[11], 11);
  // reshape copies when a view is impossible, and views when possible.
  Tensor r = reshape(transpose(base, 0, 1), Dims{12});
  EXPECT_NE(r->storage, base->storage);
  EXPECT_EQ(values(r)[1], 4);
  EXPECT_EQ(reshape(base, Dims{12})->storage, base->storage);
}

TEST_F(TensorTest, CopiesAndCasts) {
  Tensor f = test::tensor<double>({-1.7, 2.5, 3.9, 0.0}, Dims{4});
  EXPECT_EQ(values(to_dtype(f, PRISM_DTYPE_I32)), (std::vector<double>{-1, 2, 3, 0}));
  EXPECT_EQ(values(to_dtype(f, PRISM_DTYPE_BOOL)), (std::vector<double>{1, 1, 1, 0}));
  EXPECT_EQ(values(to_dtype(f, PRISM_DTYPE_F16)), (std::vector<double>{-1.7001953125, 2.5, 3.900390625, 0}));
  Tensor dst = full(Dims{2, 4}, 0, PRISM_DTYPE_F32, cpu());
  copy_(dst, f);  // broadcast over rows
  EXPECT_EQ(values(dst)[4], -1.7f);
  expect_error([&] { copy_(dst, full(Dims{3}, 0, PRISM_DTYPE_F32, cpu())); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"expand"});
  Tensor c = clone(transpose(reshape(f, Dims{2, 2}), 0, 1));
  EXPECT_TRUE(c->is_contiguous());
  EXPECT_EQ(values(c), (std::vector<double>{-1.7, 3.9, 2.5, 0}));
  EXPECT_EQ(item_double(select(f, 0, 1)), 2.5);
  expect_error([&] { item_double(f); }, PRISM_ERROR_INVALID_ARGUMENT, {"4 elements"});
  unsigned char small[4];
  expect_error([&] { copy_to_host(f, small, sizeof small); }, PRISM_ERROR_INVALID_ARGUMENT, {"needs 32"});
}

TEST_F(TensorTest, VersionCounterIsSharedByViews) {
  Tensor base = iota(Dims{4});
  Tensor v = narrow(base, 0, 1, 2);
  uint64_t before = base->version()->load();
  fill_(v, 1);
  EXPECT_GT(base->version()->load(), before);
  EXPECT_EQ(base->version(), v->version());
}

}  // namespace
}  // namespace prism
