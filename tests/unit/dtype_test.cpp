// dtype_test.cpp — dtype tables, the promotion lattice and half-precision conversions.
#include <gtest/gtest.h>

#include <cmath>

#include "core/common.hpp"
#include "core/tensor/dtype.hpp"

namespace prism {
namespace {

TEST(Dtype, SizesAndNames) {
  EXPECT_EQ(dtype_size(PRISM_DTYPE_BOOL), 1u);
  EXPECT_EQ(dtype_size(PRISM_DTYPE_BF16), 2u);
  EXPECT_EQ(dtype_size(PRISM_DTYPE_I64), 8u);
  EXPECT_EQ(dtype_size(static_cast<prism_dtype>(42)), 0u);
  EXPECT_STREQ(dtype_name(PRISM_DTYPE_F16), "float16");
  EXPECT_STREQ(dtype_name(static_cast<prism_dtype>(-1)), "invalid");
}

TEST(Dtype, PromotionMatchesTorchPromoteTypes) {
  // Rows from torch.promote_types.
  EXPECT_EQ(promote_types(PRISM_DTYPE_U8, PRISM_DTYPE_I8), PRISM_DTYPE_I16);
  EXPECT_EQ(promote_types(PRISM_DTYPE_U8, PRISM_DTYPE_I32), PRISM_DTYPE_I32);
  EXPECT_EQ(promote_types(PRISM_DTYPE_BOOL, PRISM_DTYPE_U8), PRISM_DTYPE_U8);
  EXPECT_EQ(promote_types(PRISM_DTYPE_I64, PRISM_DTYPE_F16), PRISM_DTYPE_F16);
  EXPECT_EQ(promote_types(PRISM_DTYPE_F16, PRISM_DTYPE_BF16), PRISM_DTYPE_F32);
  EXPECT_EQ(promote_types(PRISM_DTYPE_BF16, PRISM_DTYPE_F64), PRISM_DTYPE_F64);
  EXPECT_EQ(promote_types(PRISM_DTYPE_I16, PRISM_DTYPE_I32), PRISM_DTYPE_I32);
  EXPECT_EQ(promote_types(PRISM_DTYPE_I8, PRISM_DTYPE_BOOL), PRISM_DTYPE_I8);
  // Symmetric for every pair.
  for (int a = 0; a < PRISM_NUM_DTYPES; ++a)
    for (int b = 0; b < PRISM_NUM_DTYPES; ++b)
      EXPECT_EQ(promote_types(prism_dtype(a), prism_dtype(b)), promote_types(prism_dtype(b), prism_dtype(a)));
  EXPECT_THROW(promote_types(static_cast<prism_dtype>(42), PRISM_DTYPE_F32), Error);
}

TEST(Dtype, ComplexSizesNamesAndPromotion) {
  EXPECT_EQ(dtype_size(PRISM_DTYPE_C64), 8u);
  EXPECT_EQ(dtype_size(PRISM_DTYPE_C128), 16u);
  EXPECT_STREQ(dtype_name(PRISM_DTYPE_C128), "complex128");
  // torch.promote_types: complex with floats keeps the wider precision.
  EXPECT_EQ(promote_types(PRISM_DTYPE_C64, PRISM_DTYPE_F64), PRISM_DTYPE_C128);
  EXPECT_EQ(promote_types(PRISM_DTYPE_C64, PRISM_DTYPE_F16), PRISM_DTYPE_C64);
  EXPECT_EQ(promote_types(PRISM_DTYPE_I64, PRISM_DTYPE_C64), PRISM_DTYPE_C64);
  EXPECT_EQ(promote_types(PRISM_DTYPE_BOOL, PRISM_DTYPE_C128), PRISM_DTYPE_C128);
  EXPECT_EQ(promote_types(PRISM_DTYPE_C64, PRISM_DTYPE_C128), PRISM_DTYPE_C128);
  EXPECT_EQ(dtype_category(PRISM_DTYPE_C64), 3);
  float z[2] = {7, 7};
  store_from_double(z, PRISM_DTYPE_C64, 2.5);
  EXPECT_EQ(z[0], 2.5f);
  EXPECT_EQ(z[1], 0.0f);
  EXPECT_EQ(load_as_double(z, PRISM_DTYPE_C64), 2.5);
}

TEST(Dtype, HalfConversionsRoundTripAndRound) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(f16_bits_to_f32(f32_to_f16_bits(f)), f) << f;
  }
  EXPECT_TRUE(std::isinf(f16_bits_to_f32(f32_to_f16_bits(1e6f))));
  EXPECT_TRUE(std::isnan(f16_bits_to_f32(f32_to_f16_bits(NAN))));
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: rounds to even (1).
  EXPECT_EQ(f16_bits_to_f32(f32_to_f16_bits(1.0f + 0.00048828125f)), 1.0f);
  EXPECT_EQ(bf16_bits_to_f32(f32_to_bf16_bits(3.0f)), 3.0f);
  EXPECT_EQ(f32_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(NAN))));
}

TEST(Dtype, StoreSaturatesInsteadOfUndefinedBehaviour) {
  int64_t v = 0;
  store_from_double(&v, PRISM_DTYPE_I64, 1e30);
  EXPECT_EQ(v, INT64_MAX);
  store_from_double(&v, PRISM_DTYPE_I64, NAN);
  EXPECT_EQ(v, 0);
  uint8_t b = 7;
  store_from_double(&b, PRISM_DTYPE_BOOL, -0.5);
  EXPECT_EQ(b, 1);
}

}  // namespace
}  // namespace prism
