// dtype.cpp — dtype tables and the PyTorch promotion lattice.
#include "core/tensor/dtype.hpp"

#include <algorithm>

#include "core/common.hpp"

namespace prism {

size_t dtype_size(prism_dtype dt) {
  static const size_t kSizes[PRISM_NUM_DTYPES] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8, 8, 16};
  return dtype_valid(dt) ? kSizes[dt] : 0;
}

const char* dtype_name(prism_dtype dt) {
  static const char* const kNames[PRISM_NUM_DTYPES] = {"bool",    "uint8",   "int8",      "int16",
                                                       "int32",   "int64",   "float16",   "bfloat16",
                                                       "float32", "float64", "complex64", "complex128"};
  return dtype_valid(dt) ? kNames[dt] : "invalid";
}

prism_dtype promote_types(prism_dtype a, prism_dtype b) {
  PRISM_CHECK(dtype_valid(a) && dtype_valid(b), INVALID_ARGUMENT, "promote_types: invalid dtype ", int(a),
              ", ", int(b));
  if (a == b) return a;
  if (a == PRISM_DTYPE_BOOL) return b;
  if (b == PRISM_DTYPE_BOOL) return a;
  if (is_complex(a) || is_complex(b)) {
    // complex with anything: the complex type whose parts hold both (complex64 with float64 is complex128).
    prism_dtype ra = complex_to_real(a), rb = complex_to_real(b);
    prism_dtype r = is_float(ra) && is_float(rb) ? promote_types(ra, rb) : (is_float(ra) ? ra : rb);
    return r == PRISM_DTYPE_F64 ? PRISM_DTYPE_C128 : PRISM_DTYPE_C64;
  }
  bool fa = is_float(a), fb = is_float(b);
  if (fa && fb) {
    // f16 with bf16 has no common 16-bit type: float32.
    if ((a == PRISM_DTYPE_F16 && b == PRISM_DTYPE_BF16) || (a == PRISM_DTYPE_BF16 && b == PRISM_DTYPE_F16))
      return PRISM_DTYPE_F32;
    return std::max(a, b);  // enum order f16 < bf16 < f32 < f64 matches width
  }
  if (fa) return a;
  if (fb) return b;
  // Both integers. u8 with a signed type needs the next wider signed type.
  if (a == PRISM_DTYPE_U8 || b == PRISM_DTYPE_U8) {
    prism_dtype other = a == PRISM_DTYPE_U8 ? b : a;
    return other == PRISM_DTYPE_I8 ? PRISM_DTYPE_I16 : other;
  }
  return std::max(a, b);
}

}  // namespace prism

#include <cmath>
#include <cstring>

#include "prism_plugin_sdk.h"

namespace prism {

// The f16/bf16 conversions are the plugin SDK's (plugins/sdk/prism_plugin_sdk.h), so the
// core, the plugins and the conformance reference round the same way.
float f16_bits_to_f32(uint16_t h) {
  return prism_sdk_f16_to_f32(h);
}
uint16_t f32_to_f16_bits(float f) {
  return prism_sdk_f32_to_f16(f);
}
uint16_t f32_to_bf16_bits(float f) {
  return prism_sdk_f32_to_bf16(f);
}
float bf16_bits_to_f32(uint16_t h) {
  return prism_sdk_bf16_to_f32(h);
}

double load_as_double(const void* p, prism_dtype dt) {
  switch (dt) {
    default:  // out-of-range values (the enum's FORCE_32BIT sentinel) fall through to the code after the
              // switch
      break;
    case PRISM_DTYPE_BOOL:
      return *static_cast<const uint8_t*>(p) != 0 ? 1.0 : 0.0;
    case PRISM_DTYPE_U8:
      return *static_cast<const uint8_t*>(p);
    case PRISM_DTYPE_I8:
      return *static_cast<const int8_t*>(p);
    case PRISM_DTYPE_I16:
      return *static_cast<const int16_t*>(p);
    case PRISM_DTYPE_I32:
      return *static_cast<const int32_t*>(p);
    case PRISM_DTYPE_I64:
      return static_cast<double>(*static_cast<const int64_t*>(p));
    case PRISM_DTYPE_F16:
      return f16_bits_to_f32(*static_cast<const uint16_t*>(p));
    case PRISM_DTYPE_BF16:
      return bf16_bits_to_f32(*static_cast<const uint16_t*>(p));
    case PRISM_DTYPE_F32:
      return *static_cast<const float*>(p);
    case PRISM_DTYPE_F64:
      return *static_cast<const double*>(p);
    case PRISM_DTYPE_C64:  // the real part
      return *static_cast<const float*>(p);
    case PRISM_DTYPE_C128:
      return *static_cast<const double*>(p);
  }
  return 0.0;
}

int64_t load_as_int64(const void* p, prism_dtype dt) {
  if (dt == PRISM_DTYPE_I64) return *static_cast<const int64_t*>(p);
  double v = load_as_double(p, dt);
  if (!(v == v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(v);
}

namespace {
template <typename T>
T saturate_int(double v) {
  // Float -> int conversion of an out-of-range value is UB in C++; wrap like
  // PyTorch does on x86 for in-range int64 and saturate beyond.
  if (!(v == v)) return 0;
  if (v >= 9.2233720368547758e18) return static_cast<T>(INT64_MAX);
  if (v <= -9.2233720368547758e18) return static_cast<T>(INT64_MIN);
  return static_cast<T>(static_cast<int64_t>(v));
}
}  // namespace

void store_from_double(void* p, prism_dtype dt, double v) {
  switch (dt) {
    default:  // out-of-range values (the enum's FORCE_32BIT sentinel) fall through to the code after the
              // switch
      break;
    case PRISM_DTYPE_BOOL:
      *static_cast<uint8_t*>(p) = v != 0.0 ? 1 : 0;
      break;
    case PRISM_DTYPE_U8:
      *static_cast<uint8_t*>(p) = saturate_int<uint8_t>(v);
      break;
    case PRISM_DTYPE_I8:
      *static_cast<int8_t*>(p) = saturate_int<int8_t>(v);
      break;
    case PRISM_DTYPE_I16:
      *static_cast<int16_t*>(p) = saturate_int<int16_t>(v);
      break;
    case PRISM_DTYPE_I32:
      *static_cast<int32_t*>(p) = saturate_int<int32_t>(v);
      break;
    case PRISM_DTYPE_I64:
      *static_cast<int64_t*>(p) = saturate_int<int64_t>(v);
      break;
    case PRISM_DTYPE_F16:
      *static_cast<uint16_t*>(p) = f32_to_f16_bits(static_cast<float>(v));
      break;
    case PRISM_DTYPE_BF16:
      *static_cast<uint16_t*>(p) = f32_to_bf16_bits(static_cast<float>(v));
      break;
    case PRISM_DTYPE_F32:
      *static_cast<float*>(p) = static_cast<float>(v);
      break;
    case PRISM_DTYPE_F64:
      *static_cast<double*>(p) = v;
      break;
    case PRISM_DTYPE_C64:  // (v, 0)
      static_cast<float*>(p)[0] = static_cast<float>(v);
      static_cast<float*>(p)[1] = 0.0f;
      break;
    case PRISM_DTYPE_C128:
      static_cast<double*>(p)[0] = v;
      static_cast<double*>(p)[1] = 0.0;
      break;
  }
}

void check_value_fits(double v, prism_dtype dt, const char* op) {
  double lo = 0, hi = 0;
  bool integral = true;
  switch (dt) {
    case PRISM_DTYPE_BOOL:
    case PRISM_DTYPE_F64:
      return;
    case PRISM_DTYPE_U8:
      lo = -255.0, hi = 255.0;  // integer values wrap like PyTorch's integral scalars
      break;
    case PRISM_DTYPE_I8:
      lo = -128.0, hi = 127.0;
      break;
    case PRISM_DTYPE_I16:
      lo = -32768.0, hi = 32767.0;
      break;
    case PRISM_DTYPE_I32:
      lo = -2147483648.0, hi = 2147483647.0;
      break;
    case PRISM_DTYPE_I64:
      lo = -9223372036854775808.0, hi = 9223372036854774784.0;  // the largest double below 2^63
      break;
    case PRISM_DTYPE_F16:
      integral = false, lo = -65504.0, hi = 65504.0;
      break;
    case PRISM_DTYPE_BF16:
      integral = false, lo = -3.3895313892515355e38, hi = 3.3895313892515355e38;
      break;
    case PRISM_DTYPE_F32:
    case PRISM_DTYPE_C64:
      integral = false, lo = -3.4028234663852886e38, hi = 3.4028234663852886e38;
      break;
    default:
      return;
  }
  bool fits = integral ? (v >= lo && v <= hi)  // false for NaN
                       : (std::isnan(v) || std::isinf(v) || (v >= lo && v <= hi));
  if (fits && dt == PRISM_DTYPE_U8 && v < 0) fits = v == std::trunc(v);
  PRISM_CHECK(fits, INVALID_ARGUMENT, op, ": value ", v, " cannot be converted to type ", dtype_name(dt),
              " without overflow");
}

}  // namespace prism
