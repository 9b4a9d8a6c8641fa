// dtype.hpp — dtype sizes, names, categories and PyTorch type promotion (internal).
#pragma once

#include <cstddef>
#include <cstdint>

#include "prism/types.h"

namespace prism {

inline bool dtype_valid(int dt) {
  return dt >= 0 && dt < PRISM_NUM_DTYPES;
}
size_t dtype_size(prism_dtype dt);
const char* dtype_name(prism_dtype dt);
inline bool is_float(prism_dtype dt) {
  return dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16 || dt == PRISM_DTYPE_F32 || dt == PRISM_DTYPE_F64;
}
inline bool is_integral(prism_dtype dt, bool include_bool) {
  return (dt >= PRISM_DTYPE_U8 && dt <= PRISM_DTYPE_I64) || (include_bool && dt == PRISM_DTYPE_BOOL);
}
inline bool is_complex(prism_dtype dt) {
  return dt == PRISM_DTYPE_C64 || dt == PRISM_DTYPE_C128;
}
// float32 for complex64, float64 for complex128, dt itself otherwise.
inline prism_dtype complex_to_real(prism_dtype dt) {
  return dt == PRISM_DTYPE_C64 ? PRISM_DTYPE_F32 : (dt == PRISM_DTYPE_C128 ? PRISM_DTYPE_F64 : dt);
}
// complex128 for float64, complex64 for every other real dtype, dt itself for complex.
inline prism_dtype real_to_complex(prism_dtype dt) {
  return is_complex(dt) ? dt : (dt == PRISM_DTYPE_F64 ? PRISM_DTYPE_C128 : PRISM_DTYPE_C64);
}
// torch.promote_types.
prism_dtype promote_types(prism_dtype a, prism_dtype b);
// 0 bool, 1 integer, 2 floating, 3 complex.
inline int dtype_category(prism_dtype dt) {
  return dt == PRISM_DTYPE_BOOL ? 0 : (is_complex(dt) ? 3 : (is_float(dt) ? 2 : 1));
}
// The default float dtype (torch.get_default_dtype()).
constexpr prism_dtype kDefaultFloat = PRISM_DTYPE_F32;

}  // namespace prism

namespace prism {
// Host-side element conversions (used for item(), creation and tests).
double load_as_double(const void* p, prism_dtype dt);
int64_t load_as_int64(const void* p, prism_dtype dt);
void store_from_double(void* p, prism_dtype dt, double v);
// Throws INVALID_ARGUMENT naming `op` when `v` cannot be stored in `dt`
// without overflow, by PyTorch's rule (c10::overflows): NaN or +-Inf into an
// integer dtype, a finite value outside the dtype's range (integer values
// down to -max wrap into unsigned dtypes, as PyTorch's integer scalars do).
// Bool takes every value; floats take NaN and +-Inf.
void check_value_fits(double v, prism_dtype dt, const char* op);
uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(uint16_t h);
uint16_t f32_to_bf16_bits(float f);
float bf16_bits_to_f32(uint16_t h);
}  // namespace prism
