// reference.cpp — naive float64 reference kernels for every kernel op of docs/ops.md.
#include "reference.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "prism_philox.h"
#include "prism_plugin_sdk.h"

namespace prism::conformance {

/*
 * Note [Reference kernels]
 * ------------------------
 * Every kernel here is the most obvious loop that could implement the op:
 * iterate the output in row-major order, read each input at the same logical
 * index through its strides, compute in double (floats) or wrapping 64-bit
 * integers (integer and bool outputs), round once to the output dtype. No
 * vectorisation, blocking or threading, so the code can be checked by eye
 * against docs/ops.md. Accumulating ops (sum, prod, bmm) also return, per
 * output element, the sum of |terms|: a correct f32 accumulator may differ
 * from the exact sum by a small multiple of that (Note [Conformance
 * tolerances] in suite.cpp).
 */

// ===========================================================================
// Dtypes
// ===========================================================================

size_t dtype_size(int32_t dtype) {
  return prism_sdk_dtype_size(dtype);
}
const char* dtype_name(int32_t dtype) {
  return prism_sdk_dtype_name(dtype);
}
int32_t dtype_from_name(const std::string& name) {
  for (int32_t d = 0; d < PRISM_NUM_DTYPES; ++d)
    if (name == prism_sdk_dtype_name(d)) return d;
  return -1;
}
bool is_float(int32_t dtype) {
  return prism_sdk_dtype_is_float(dtype) != 0;
}
bool is_int(int32_t dtype) {
  return prism_sdk_dtype_is_int(dtype) != 0;
}

namespace {

// double -> f32 rounded with round-to-odd, so a second rounding to a half
// dtype is the single correct rounding of the double.
float to_f32_odd(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) != v && f == f && !std::isinf(f)) {
    uint32_t bits = prism_sdk_f32_to_bits(f);
    if (std::fabs(static_cast<double>(f)) > std::fabs(v)) --bits;
    bits |= 1u;
    f = prism_sdk_bits_to_f32(bits);
  }
  return f;
}

int64_t wrap(int32_t dtype, int64_t v) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      return v != 0;
    case PRISM_DTYPE_U8:
      return static_cast<uint8_t>(v);
    case PRISM_DTYPE_I8:
      return static_cast<int8_t>(static_cast<uint8_t>(v));
    case PRISM_DTYPE_I16:
      return static_cast<int16_t>(static_cast<uint16_t>(v));
    case PRISM_DTYPE_I32:
      return static_cast<int32_t>(static_cast<uint32_t>(v));
    default:
      return v;
  }
}

int64_t float_to_int64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::trunc(v));
}

}  // namespace

Value load(int32_t dtype, const void* p) {
  Value v;
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      v.i = *static_cast<const uint8_t*>(p) != 0;
      break;
    case PRISM_DTYPE_U8:
      v.i = *static_cast<const uint8_t*>(p);
      break;
    case PRISM_DTYPE_I8: {
      int8_t x;
      std::memcpy(&x, p, 1);
      v.i = x;
      break;
    }
    case PRISM_DTYPE_I16: {
      int16_t x;
      std::memcpy(&x, p, 2);
      v.i = x;
      break;
    }
    case PRISM_DTYPE_I32: {
      int32_t x;
      std::memcpy(&x, p, 4);
      v.i = x;
      break;
    }
    case PRISM_DTYPE_I64: {
      int64_t x;
      std::memcpy(&x, p, 8);
      v.i = x;
      break;
    }
    case PRISM_DTYPE_F16: {
      uint16_t x;
      std::memcpy(&x, p, 2);
      v.f = prism_sdk_f16_to_f32(x);
      break;
    }
    case PRISM_DTYPE_BF16: {
      uint16_t x;
      std::memcpy(&x, p, 2);
      v.f = prism_sdk_bf16_to_f32(x);
      break;
    }
    case PRISM_DTYPE_F32: {
      float x;
      std::memcpy(&x, p, 4);
      v.f = x;
      break;
    }
    case PRISM_DTYPE_F64: {
      double x;
      std::memcpy(&x, p, 8);
      v.f = x;
      break;
    }
    default:
      break;
  }
  if (!is_float(dtype))
    v.f = static_cast<double>(v.i);
  else
    v.i = float_to_int64(v.f);
  return v;
}

void store_int(int32_t dtype, void* p, int64_t v) {
  if (is_float(dtype)) {
    store_real(dtype, p, static_cast<double>(v));
    return;
  }
  const int64_t w = wrap(dtype, v);
  std::memcpy(p, &w, dtype_size(dtype));  // little-endian: the low bytes
}

void store_real(int32_t dtype, void* p, double v) {
  switch (dtype) {
    case PRISM_DTYPE_F16: {
      uint16_t h = prism_sdk_f32_to_f16(to_f32_odd(v));
      std::memcpy(p, &h, 2);
      return;
    }
    case PRISM_DTYPE_BF16: {
      uint16_t h = prism_sdk_f32_to_bf16(to_f32_odd(v));
      std::memcpy(p, &h, 2);
      return;
    }
    case PRISM_DTYPE_F32: {
      float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      return;
    }
    case PRISM_DTYPE_F64:
      std::memcpy(p, &v, 8);
      return;
    case PRISM_DTYPE_BOOL: {
      uint8_t b = v != 0;
      std::memcpy(p, &b, 1);
      return;
    }  // NaN != 0: true
    default:
      store_int(dtype, p, float_to_int64(v));
      return;
  }
}

double round_to(int32_t dtype, double v) {
  unsigned char buf[8];
  store_real(dtype, buf, v);
  return load(dtype, buf).f;
}

int64_t ulp_distance(int32_t dtype, double a, double b) {
  auto ordered = [dtype](double v) -> int64_t {
    switch (dtype) {
      case PRISM_DTYPE_F64: {
        int64_t bits;
        std::memcpy(&bits, &v, 8);
        return bits < 0 ? std::numeric_limits<int64_t>::min() - bits : bits;
      }
      case PRISM_DTYPE_F32: {
        float f = static_cast<float>(v);
        int32_t bits;
        std::memcpy(&bits, &f, 4);
        return bits < 0 ? static_cast<int64_t>(std::numeric_limits<int32_t>::min()) - bits : bits;
      }
      default: {
        unsigned char buf[2];
        store_real(dtype, buf, v);
        uint16_t h;
        std::memcpy(&h, buf, 2);
        return (h & 0x8000u) ? -static_cast<int64_t>(h & 0x7FFFu) : static_cast<int64_t>(h);
      }
    }
  };
  const int64_t x = ordered(a), y = ordered(b);
  const double d = std::fabs(static_cast<double>(x) - static_cast<double>(y));
  return d > 9.0e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(d);
}

int64_t View::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

uint64_t View::byte_pos(int64_t linear) const {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    const int64_t s = sizes[d];
    off += (linear % s) * strides[d];
    linear /= s;
  }
  return byte_offset + static_cast<uint64_t>(off * static_cast<int64_t>(dtype_size(dtype)));
}

// ===========================================================================
// The op table (docs/ops.md "Kernel ops")
// ===========================================================================

namespace {
constexpr uint32_t kAll = PRISM_DTYPE_MASK_ALL;
constexpr uint32_t kNumeric = PRISM_DTYPE_MASK_ALL & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL);
constexpr uint32_t kFloat = PRISM_DTYPE_MASK_FLOAT;
}  // namespace

const std::vector<OpSpec>& op_table() {
  static const std::vector<OpSpec> table = {
      {"fill", OpKind::kFill, kAll, TolClass::kExact},
      {"copy", OpKind::kCopy, kAll, TolClass::kExact},  // Note [Exact conversions] (suite.cpp)
      {"neg", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"abs", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"sign", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"exp", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"log", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"log1p", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"expm1", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"sqrt", OpKind::kUnary, kFloat, TolClass::kRounded},
      {"rsqrt", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"reciprocal", OpKind::kUnary, kFloat, TolClass::kRounded},
      {"sin", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"cos", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"tanh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"sigmoid", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"gelu", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"silu", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"square", OpKind::kUnary, kNumeric, TolClass::kRounded},
      {"relu", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"floor", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"ceil", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"round", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"trunc", OpKind::kUnary, kNumeric, TolClass::kExact},
      {"tan", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"asin", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"acos", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"atan", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"sinh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"cosh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"asinh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"acosh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"atanh", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"log2", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"log10", OpKind::kUnary, kFloat, TolClass::kTranscendental},
      {"bitwise_not", OpKind::kUnary, kAll & ~kFloat, TolClass::kExact},
      {"add", OpKind::kBinary, kAll, TolClass::kRounded},
      {"sub", OpKind::kBinary, kNumeric, TolClass::kRounded},
      {"mul", OpKind::kBinary, kAll, TolClass::kRounded},
      {"div", OpKind::kBinary, kNumeric, TolClass::kRounded},
      {"remainder", OpKind::kBinary, kNumeric, TolClass::kRounded},
      {"pow", OpKind::kBinary, kNumeric, TolClass::kTranscendental},
      {"maximum", OpKind::kBinary, kAll, TolClass::kExact},
      {"minimum", OpKind::kBinary, kAll, TolClass::kExact},
      {"atan2", OpKind::kBinary, kFloat, TolClass::kTranscendental},
      {"hypot", OpKind::kBinary, kFloat, TolClass::kRounded},
      {"copysign", OpKind::kBinary, kFloat, TolClass::kExact},
      {"nextafter", OpKind::kBinary, PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64),
       TolClass::kExact},
      {"logaddexp", OpKind::kBinary, kFloat, TolClass::kTranscendental},
      {"bitwise_and", OpKind::kBinary, kAll & ~kFloat, TolClass::kExact},
      {"bitwise_or", OpKind::kBinary, kAll & ~kFloat, TolClass::kExact},
      {"bitwise_xor", OpKind::kBinary, kAll & ~kFloat, TolClass::kExact},
      {"bitwise_left_shift", OpKind::kBinary, kNumeric & ~kFloat, TolClass::kExact},
      {"bitwise_right_shift", OpKind::kBinary, kNumeric & ~kFloat, TolClass::kExact},
      {"eq", OpKind::kCompare, kAll, TolClass::kExact},
      {"ne", OpKind::kCompare, kAll, TolClass::kExact},
      {"lt", OpKind::kCompare, kAll, TolClass::kExact},
      {"le", OpKind::kCompare, kAll, TolClass::kExact},
      {"gt", OpKind::kCompare, kAll, TolClass::kExact},
      {"ge", OpKind::kCompare, kAll, TolClass::kExact},
      {"logical_and", OpKind::kLogical, kAll, TolClass::kExact},
      {"logical_or", OpKind::kLogical, kAll, TolClass::kExact},
      {"logical_xor", OpKind::kLogical, kAll, TolClass::kExact},
      {"logical_not", OpKind::kLogicalNot, kAll, TolClass::kExact},
      // x -> bool predicates share logical_not's shape (one input, a bool output)
      {"isnan", OpKind::kLogicalNot, kAll, TolClass::kExact},
      {"isinf", OpKind::kLogicalNot, kAll, TolClass::kExact},
      {"isfinite", OpKind::kLogicalNot, kAll, TolClass::kExact},
      {"signbit", OpKind::kLogicalNot, kNumeric, TolClass::kExact},
      {"where", OpKind::kWhere, kAll, TolClass::kExact},
      {"clamp", OpKind::kClamp, kNumeric, TolClass::kExact},
      {"sum", OpKind::kReduce, kNumeric, TolClass::kAccumulate},
      {"prod", OpKind::kReduce, kNumeric, TolClass::kAccumulate},
      {"amax", OpKind::kReduce, kAll, TolClass::kExact},
      {"amin", OpKind::kReduce, kAll, TolClass::kExact},
      {"argmax", OpKind::kArgReduce, kNumeric, TolClass::kExact},
      {"argmin", OpKind::kArgReduce, kNumeric, TolClass::kExact},
      {"all", OpKind::kBoolReduce, kAll, TolClass::kExact},
      {"any", OpKind::kBoolReduce, kAll, TolClass::kExact},
      {"bmm", OpKind::kBmm, kNumeric, TolClass::kAccumulate},
      {"philox_uniform", OpKind::kRandom, kFloat, TolClass::kBitExact},
      {"philox_normal", OpKind::kRandom, kFloat, TolClass::kBitExact},
      {"philox_randint", OpKind::kRandom, kNumeric, TolClass::kBitExact},
      {"philox_bernoulli", OpKind::kRandom, kAll, TolClass::kBitExact},
      {"softmax", OpKind::kSoftmax, kFloat, TolClass::kTranscendental},
      {"log_softmax", OpKind::kSoftmax, kFloat, TolClass::kTranscendental},
      {"softmax_backward", OpKind::kSoftmax, kFloat, TolClass::kAccumulate},
      {"log_softmax_backward", OpKind::kSoftmax, kFloat, TolClass::kAccumulate},
      {"conv2d", OpKind::kConv, kFloat, TolClass::kAccumulate},
      {"conv2d_backward_input", OpKind::kConv, kFloat, TolClass::kAccumulate},
      {"conv2d_backward_weight", OpKind::kConv, kFloat, TolClass::kAccumulate},
      {"max_pool2d", OpKind::kPool, kFloat, TolClass::kExact},
      {"avg_pool2d", OpKind::kPool, kFloat, TolClass::kAccumulate},
      {"max_pool2d_backward", OpKind::kPool, kFloat, TolClass::kAccumulate},
      {"avg_pool2d_backward", OpKind::kPool, kFloat, TolClass::kAccumulate},
      {"gather", OpKind::kGather, kAll, TolClass::kExact},
      {"scatter", OpKind::kScatter, kAll, TolClass::kAccumulate},
      {"index_select", OpKind::kIndexSelect, kAll, TolClass::kExact},
      {"index_put", OpKind::kIndexPut, kAll, TolClass::kAccumulate},
      {"nonzero", OpKind::kNonzero, kAll, TolClass::kExact},
      {"cumsum", OpKind::kScan, kNumeric, TolClass::kAccumulate},
      {"cumprod", OpKind::kScan, kNumeric, TolClass::kAccumulate},
      {"sort", OpKind::kSort, kAll, TolClass::kExact},
      {"topk", OpKind::kSort, kAll, TolClass::kExact},
      {"sgd_update", OpKind::kOptim, kFloat, TolClass::kTranscendental},
      {"adam_update", OpKind::kOptim, kFloat, TolClass::kTranscendental},
      {"amp_unscale_check", OpKind::kAmpUnscale, kFloat, TolClass::kRounded},
      {"scaled_dot_product_attention", OpKind::kAttention, kFloat, TolClass::kAccumulate},
  };
  return table;
}

const OpSpec* find_op(const std::string& name) {
  for (const OpSpec& s : op_table())
    if (name == s.name) return &s;
  return nullptr;
}

const RefAttr* RefCall::attr(const char* name) const {
  for (const RefAttr& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

// ===========================================================================
// Kernels
// ===========================================================================

namespace {

using u64 = uint64_t;

Value in_at(const RefCall& c, size_t k, int64_t linear) {
  return load(c.in_views[k].dtype, c.in_images[k]->data() + c.in_views[k].byte_pos(linear));
}

Value make_float(int32_t dt, double v) {
  Value r;
  r.f = round_to(dt, v);
  r.i = 0;
  return r;
}
Value make_int(int32_t dt, int64_t v) {
  Value r;
  if (is_float(dt)) return make_float(dt, static_cast<double>(v));
  r.i = wrap(dt, v);
  r.f = static_cast<double>(r.i);
  return r;
}

double nan_max(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
}
double nan_min(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
}

bool unary_float(const std::string& op, double x, double& r) {
  if (op == "neg")
    r = -x;
  else if (op == "abs")
    r = std::fabs(x);
  else if (op == "sign")
    r = std::isnan(x) ? 0.0 : (x > 0) - (x < 0);
  else if (op == "exp")
    r = std::exp(x);
  else if (op == "log")
    r = std::log(x);
  else if (op == "log1p")
    r = std::log1p(x);
  else if (op == "expm1")
    r = std::expm1(x);
  else if (op == "sqrt")
    r = std::sqrt(x);
  else if (op == "rsqrt")
    r = 1.0 / std::sqrt(x);
  else if (op == "reciprocal")
    r = 1.0 / x;
  else if (op == "sin")
    r = std::sin(x);
  else if (op == "cos")
    r = std::cos(x);
  else if (op == "tanh")
    r = std::tanh(x);
  else if (op == "sigmoid")
    r = 1.0 / (1.0 + std::exp(-x));
  else if (op == "gelu")
    r = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  else if (op == "silu")
    r = x / (1.0 + std::exp(-x));
  else if (op == "square")
    r = x * x;
  else if (op == "relu")
    r = std::isnan(x) ? x : (x > 0 ? x : 0.0);
  else if (op == "floor")
    r = std::floor(x);
  else if (op == "ceil")
    r = std::ceil(x);
  else if (op == "round")
    r = std::nearbyint(x);  // default mode: half to even
  else if (op == "trunc")
    r = std::trunc(x);
  else if (op == "tan")
    r = std::tan(x);
  else if (op == "asin")
    r = std::asin(x);
  else if (op == "acos")
    r = std::acos(x);
  else if (op == "atan")
    r = std::atan(x);
  else if (op == "sinh")
    r = std::sinh(x);
  else if (op == "cosh")
    r = std::cosh(x);
  else if (op == "asinh")
    r = std::asinh(x);
  else if (op == "acosh")
    r = std::acosh(x);
  else if (op == "atanh")
    r = std::atanh(x);
  else if (op == "log2")
    r = std::log2(x);
  else if (op == "log10")
    r = std::log10(x);
  else
    return false;
  return true;
}

bool unary_int(const std::string& op, int64_t x, int64_t& r) {
  if (op == "neg")
    r = static_cast<int64_t>(u64{0} - static_cast<u64>(x));
  else if (op == "abs")
    r = x < 0 ? static_cast<int64_t>(u64{0} - static_cast<u64>(x)) : x;
  else if (op == "sign")
    r = (x > 0) - (x < 0);
  else if (op == "square")
    r = static_cast<int64_t>(static_cast<u64>(x) * static_cast<u64>(x));
  else if (op == "relu")
    r = x > 0 ? x : 0;
  else if (op == "floor" || op == "ceil" || op == "round" || op == "trunc")
    r = x;
  else if (op == "bitwise_not")
    r = ~x;  // bool outputs: see the kUnary case
  else
    return false;
  return true;
}

std::string binary_float(const std::string& op, double a, double b, double alpha, int64_t mode, double& r) {
  if (op == "add")
    r = a + alpha * b;
  else if (op == "sub")
    r = a - alpha * b;
  else if (op == "mul")
    r = a * b;
  else if (op == "div") {
    r = a / b;
    if (mode == 2) r = std::trunc(r);
    if (mode == 1 && b != 0) {
      // Python/PyTorch floor division: from fmod, so inf // x is NaN and
      // -1 // inf is -1 (not floor(a / b)).
      const double mod = std::fmod(a, b);
      double div = (a - mod) / b;
      if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
      if (div != 0) {
        double fl = std::floor(div);
        if (div - fl > 0.5) fl += 1.0;
        r = fl;
      } else {
        r = std::copysign(0.0, a / b);
      }
    } else if (mode == 1) {
      r = std::floor(r);
    }
  } else if (op == "remainder") {
    r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    if (r == 0) r = std::copysign(0.0, b);
  } else if (op == "pow")
    r = std::pow(a, b);
  else if (op == "atan2")
    r = std::atan2(a, b);
  else if (op == "hypot")
    r = std::hypot(a, b);
  else if (op == "copysign")
    r = std::copysign(a, b);
  else if (op == "nextafter")  // f64 here; the f32 step is taken by the caller
    r = std::nextafter(a, b);
  else if (op == "logaddexp") {
    const double m = a > b ? a : b;
    r = std::isnan(a) || std::isnan(b)
            ? NAN
            : (a == b ? a + std::log(2.0) : m + std::log1p(std::exp(-std::fabs(a - b))));
  } else if (op == "maximum")
    r = nan_max(a, b);
  else if (op == "minimum")
    r = nan_min(a, b);
  else
    return "unknown op";
  return {};
}

std::string binary_int(int32_t dt, const std::string& op, int64_t a, int64_t b, int64_t alpha, int64_t mode,
                       int64_t& r) {
  if (dt == PRISM_DTYPE_BOOL) {
    if (op == "add" || op == "maximum")
      r = (a != 0) || (b != 0);
    else if (op == "mul" || op == "minimum" || op == "bitwise_and")
      r = (a != 0) && (b != 0);
    else if (op == "bitwise_or")
      r = (a != 0) || (b != 0);
    else if (op == "bitwise_xor")
      r = (a != 0) != (b != 0);
    else
      return "op not defined for bool";
    return {};
  }
  const u64 ua = static_cast<u64>(a), ub = static_cast<u64>(b);
  if (op == "add")
    r = static_cast<int64_t>(ua + static_cast<u64>(alpha) * ub);
  else if (op == "sub")
    r = static_cast<int64_t>(ua - static_cast<u64>(alpha) * ub);
  else if (op == "mul")
    r = static_cast<int64_t>(ua * ub);
  else if (op == "div" || op == "remainder") {
    if (b == 0) return "integer division by zero";
    if (b == -1) {  // INT_MIN / -1 wraps, INT_MIN % -1 is 0
      r = op == "div" ? static_cast<int64_t>(u64{0} - ua) : 0;
      return {};
    }
    if (op == "div") {
      if (mode == 0) return "div with rounding_mode 0 needs a float output";
      r = a / b;
      if (mode == 1 && (a % b != 0) && ((a < 0) != (b < 0))) --r;
    } else {
      r = a % b;
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
    }
  } else if (op == "pow") {
    if (b < 0) return "integer pow with a negative exponent";
    u64 result = 1, base = ua;
    for (int64_t e = b; e > 0; e >>= 1) {
      if (e & 1) result *= base;
      base *= base;
    }
    r = static_cast<int64_t>(result);
  } else if (op == "maximum")
    r = a > b ? a : b;
  else if (op == "minimum")
    r = a < b ? a : b;
  else if (op == "bitwise_and")
    r = static_cast<int64_t>(ua & ub);
  else if (op == "bitwise_or")
    r = static_cast<int64_t>(ua | ub);
  else if (op == "bitwise_xor")
    r = static_cast<int64_t>(ua ^ ub);
  else if (op == "bitwise_left_shift" || op == "bitwise_right_shift") {
    // a count outside [0, bits) shifts everything out (Note [Math and bitwise binary ops], CPU plugin)
    const int64_t bits = static_cast<int64_t>(dtype_size(dt)) * 8;
    const bool out_of_range = b < 0 || b >= bits;
    if (op == "bitwise_left_shift")
      r = out_of_range ? 0 : static_cast<int64_t>(ua << b);
    else
      r = out_of_range ? (a < 0 ? -1 : 0) : (a >> b);
  } else
    return "unknown op";
  return {};
}

bool compare(const std::string& op, const Value& a, const Value& b, bool floats) {
  if (floats) {
    const double x = a.f, y = b.f;
    if (op == "eq") return x == y;
    if (op == "ne") return x != y;
    if (op == "lt") return x < y;
    if (op == "le") return x <= y;
    if (op == "gt") return x > y;
    return x >= y;
  }
  const int64_t x = a.i, y = b.i;
  if (op == "eq") return x == y;
  if (op == "ne") return x != y;
  if (op == "lt") return x < y;
  if (op == "le") return x <= y;
  if (op == "gt") return x > y;
  return x >= y;
}

bool truthy(const Value& v, int32_t dt) {
  return is_float(dt) ? v.f != 0 : v.i != 0;
}

// Output linear index of an input linear index with the reduced dims zeroed.
int64_t reduced_index(const std::vector<int64_t>& in_sizes, const std::vector<int64_t>& out_sizes,
                      int64_t linear) {
  int64_t out = 0, mul = 1;
  for (int64_t d = static_cast<int64_t>(in_sizes.size()) - 1; d >= 0; --d) {
    const int64_t i = linear % in_sizes[d];
    linear /= in_sizes[d];
    if (out_sizes[d] != 1) out += i * mul;
    mul *= out_sizes[d];
  }
  return out;
}

// Accumulation epsilon of a correct kernel for `dtype` (f16/bf16/f32
// accumulate in f32, docs/ops.md).
double accumulation_eps(int32_t dt) {
  return dt == PRISM_DTYPE_F64 ? 1e-14 : 4e-6;
}

void run_random(const RefCall& c, RefResult& res) {
  const std::string op = c.op->name;
  const int32_t dt = c.out_view.dtype;
  const int64_t n = c.out_view.numel();
  const RefAttr* seed_a = c.attr("seed");
  const RefAttr* offset_a = c.attr("offset");
  if (!seed_a || !offset_a) {
    res.error = "missing seed/offset";
    return;
  }
  const u64 seed = static_cast<u64>(seed_a->i), offset = static_cast<u64>(offset_a->i);
  auto num = [&](const char* name, double fallback) {
    const RefAttr* a = c.attr(name);
    return a ? (a->kind == PRISM_ATTR_INT ? static_cast<double>(a->i) : a->f) : fallback;
  };
  auto inum = [&](const char* name, int64_t fallback) {
    const RefAttr* a = c.attr(name);
    return a ? (a->kind == PRISM_ATTR_FLOAT ? static_cast<int64_t>(a->f) : a->i) : fallback;
  };
  res.values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const prism_philox4x32 r = prism_philox_element(seed, offset, static_cast<u64>(i));
    Value v;
    if (op == "philox_uniform") {
      const double low = num("low", 0.0), high = num("high", 1.0);
      if (dt == PRISM_DTYPE_F64) {
        v = make_float(dt, low + (high - low) * prism_philox_uniform_f64(r.v[0], r.v[1]));
      } else {
        const float lo = static_cast<float>(low);
        const float span = static_cast<float>(high) - static_cast<float>(low);
        const float prod = span * prism_philox_uniform_f32(r.v[0]);
        const float x = lo + prod;
        v = make_float(dt, static_cast<double>(x));
      }
    } else if (op == "philox_normal") {
      const double mean = num("mean", 0.0), sd = num("std", 1.0);
      v = make_float(dt, mean + sd * prism_philox_normal_f64(r));
    } else if (op == "philox_randint") {
      const int64_t low = inum("low", 0), high = inum("high", 1);
      v = make_int(dt, prism_philox_randint(r, low, static_cast<u64>(high) - static_cast<u64>(low)));
    } else {  // philox_bernoulli
      double p = num("p", 0.5);
      if (!c.in_views.empty()) p = in_at(c, 0, i).f;
      v = make_int(dt, prism_philox_bernoulli(r, p) ? 1 : 0);
    }
    res.values[static_cast<size_t>(i)] = v;
  }
}

}  // namespace

Value ref_make_float(int32_t dt, double v) {
  return make_float(dt, v);
}
Value ref_make_int(int32_t dt, int64_t v) {
  return make_int(dt, v);
}
double ref_accumulation_eps(int32_t dt) {
  return accumulation_eps(dt);
}

RefResult reference_run(const RefCall& c) {
  RefResult res;
  const std::string op = c.op->name;
  const int32_t dt = c.out_view.dtype;
  const bool out_float = is_float(dt);
  const int64_t n = c.out_view.numel();

  switch (c.op->kind) {
    case OpKind::kFill: {
      const RefAttr* v = c.attr("value");
      if (!v) {
        res.error = "missing value";
        return res;
      }
      const Value fv = out_float ? make_float(dt, v->f) : make_int(dt, v->i);
      res.values.assign(static_cast<size_t>(n), fv);
      return res;
    }
    case OpKind::kCopy:
    case OpKind::kUnary:
    case OpKind::kBinary:
    case OpKind::kCompare:
    case OpKind::kLogical:
    case OpKind::kLogicalNot:
    case OpKind::kWhere:
    case OpKind::kClamp: {
      res.values.resize(static_cast<size_t>(n));
      const RefAttr* alpha_a = c.attr("alpha");
      const RefAttr* mode_a = c.attr("rounding_mode");
      const RefAttr* min_a = c.attr("min");
      const RefAttr* max_a = c.attr("max");
      const int64_t mode = mode_a ? mode_a->i : 0;
      for (int64_t i = 0; i < n; ++i) {
        Value r;
        const int32_t in_dt = c.in_views.empty() ? dt : c.in_views[0].dtype;
        switch (c.op->kind) {
          case OpKind::kCopy: {
            const Value x = in_at(c, 0, i);
            if (dt == PRISM_DTYPE_BOOL)
              r = make_int(dt, truthy(x, in_dt));
            else if (is_float(in_dt))
              r = out_float ? make_float(dt, x.f) : make_int(dt, float_to_int64(x.f));
            else
              r = make_int(dt, x.i);
            break;
          }
          case OpKind::kUnary: {
            const Value x = in_at(c, 0, i);
            if (out_float) {
              double y = 0;
              unary_float(op, x.f, y);
              r = make_float(dt, y);
            } else {
              int64_t y = 0;
              unary_int(op, x.i, y);
              if (dt == PRISM_DTYPE_BOOL && op == "bitwise_not") y = x.i == 0;
              r = make_int(dt, y);
            }
            break;
          }
          case OpKind::kBinary: {
            const Value a = in_at(c, 0, i), b = in_at(c, 1, i);
            std::string err;
            if (out_float) {
              double y = 0;
              const double alpha =
                  alpha_a ? (alpha_a->kind == PRISM_ATTR_INT ? static_cast<double>(alpha_a->i) : alpha_a->f)
                          : 1.0;
              err = binary_float(op, a.f, b.f, alpha, mode, y);
              if (op == "nextafter" && dt == PRISM_DTYPE_F32)
                y = std::nextafter(static_cast<float>(a.f), static_cast<float>(b.f));
              r = make_float(dt, y);
              // a + alpha·b is two operations when alpha·b is inexact: allow
              // the product's rounding in the compute type (f32 for halves)
              if ((op == "add" || op == "sub") && alpha != 1.0) {
                if (res.extra_atol.empty()) res.extra_atol.assign(static_cast<size_t>(n), 0.0);
                const int e = dt == PRISM_DTYPE_F64 ? -53 : -24;
                res.extra_atol[static_cast<size_t>(i)] =
                    std::ldexp(std::fabs(alpha * b.f), e) + std::ldexp(std::fabs(y), e + 1);
              }
            } else {
              int64_t y = 0;
              err = binary_int(dt, op, a.i, b.i, alpha_a ? alpha_a->i : 1, mode, y);
              r = make_int(dt, y);
            }
            if (!err.empty()) {
              res.error = err;
              return res;
            }
            break;
          }
          case OpKind::kCompare:
            r = make_int(dt, compare(op, in_at(c, 0, i), in_at(c, 1, i), is_float(in_dt)));
            break;
          case OpKind::kLogical: {
            const bool a = truthy(in_at(c, 0, i), in_dt), b = truthy(in_at(c, 1, i), c.in_views[1].dtype);
            const bool y = op == "logical_and" ? (a && b) : op == "logical_or" ? (a || b) : (a != b);
            r = make_int(dt, y);
            break;
          }
          case OpKind::kLogicalNot: {
            const Value x = in_at(c, 0, i);
            const bool fl = is_float(in_dt);
            bool y = !truthy(x, in_dt);
            if (op == "isnan")
              y = fl && std::isnan(x.f);
            else if (op == "isinf")
              y = fl && std::isinf(x.f);
            else if (op == "isfinite")
              y = !fl || std::isfinite(x.f);
            else if (op == "signbit")
              y = fl ? std::signbit(x.f) : x.i < 0;
            r = make_int(dt, y);
            break;
          }
          case OpKind::kWhere: {
            const Value x = in_at(c, in_at(c, 0, i).i != 0 ? 1 : 2, i);
            r = out_float ? make_float(dt, x.f) : make_int(dt, x.i);
            break;
          }
          default: {  // clamp
            const Value x = in_at(c, 0, i);
            if (out_float) {
              double y = x.f;
              if (!std::isnan(y)) {
                if (min_a && y < min_a->f) y = min_a->f;
                if (max_a && y > max_a->f) y = max_a->f;
              }
              r = make_float(dt, y);
            } else {
              int64_t y = x.i;
              if (min_a && y < min_a->i) y = min_a->i;
              if (max_a && y > max_a->i) y = max_a->i;
              r = make_int(dt, y);
            }
            break;
          }
        }
        res.values[static_cast<size_t>(i)] = r;
      }
      return res;
    }
    case OpKind::kReduce:
    case OpKind::kBoolReduce:
    case OpKind::kArgReduce: {
      const View& in = c.in_views[0];
      const int32_t in_dt = in.dtype;
      const int64_t in_n = in.numel();
      const size_t on = static_cast<size_t>(n);
      std::vector<double> facc(on), abs_acc(on, 0.0);
      std::vector<u64> iacc(on);
      std::vector<int64_t> count(on, 0), best_idx(on, 0);
      std::vector<Value> best(on);
      const bool is_max = op == "amax" || op == "argmax";
      int64_t arg_dim = -1;
      if (c.op->kind == OpKind::kArgReduce) {
        const RefAttr* d = c.attr("dim");
        if (!d) {
          res.error = "missing dim";
          return res;
        }
        arg_dim = d->i;
      }
      for (size_t k = 0; k < on; ++k) {
        facc[k] = op == "prod" ? 1.0 : 0.0;
        iacc[k] = op == "prod" || op == "all" ? 1 : 0;
      }
      for (int64_t li = 0; li < in_n; ++li) {
        const size_t o = static_cast<size_t>(reduced_index(in.sizes, c.out_view.sizes, li));
        const Value x = in_at(c, 0, li);
        // position along the arg dim (for argmax/argmin)
        int64_t pos = 0;
        if (arg_dim >= 0) {
          int64_t rest = li;
          for (int64_t d = static_cast<int64_t>(in.sizes.size()) - 1; d >= 0; --d) {
            if (d == arg_dim) pos = rest % in.sizes[d];
            rest /= in.sizes[d];
          }
        }
        const bool first = count[o] == 0;
        ++count[o];
        if (op == "sum") {
          facc[o] += x.f;
          iacc[o] += static_cast<u64>(x.i);
          abs_acc[o] += std::fabs(x.f);
        } else if (op == "prod") {
          facc[o] *= x.f;
          iacc[o] *= static_cast<u64>(x.i);
        } else if (op == "all") {
          iacc[o] = iacc[o] && truthy(x, in_dt);
        } else if (op == "any") {
          iacc[o] = iacc[o] || truthy(x, in_dt);
        } else {  // amax amin argmax argmin
          bool take = first;
          if (!first) {
            const Value& b = best[o];
            if (is_float(in_dt)) {
              if (std::isnan(b.f))
                take = false;  // the first NaN wins
              else if (std::isnan(x.f))
                take = true;
              else
                take = is_max ? x.f > b.f : x.f < b.f;
            } else {
              take = is_max ? x.i > b.i : x.i < b.i;
            }
          }
          if (take) {
            best[o] = x;
            best_idx[o] = pos;
          }
        }
      }
      res.values.resize(on);
      res.extra_atol.assign(on, 0.0);
      for (size_t o = 0; o < on; ++o) {
        Value r;
        if (op == "sum" || op == "prod") {
          if (out_float) {
            r = make_float(dt, facc[o]);
            const double eps = accumulation_eps(dt);
            res.extra_atol[o] =
                op == "sum" ? eps * abs_acc[o] : eps * static_cast<double>(count[o]) * std::fabs(facc[o]);
          } else {
            r = make_int(dt, static_cast<int64_t>(iacc[o]));
          }
        } else if (op == "all" || op == "any") {
          r = make_int(dt, static_cast<int64_t>(iacc[o]));
        } else {
          if (count[o] == 0) {
            res.error = op + " over an empty dimension";
            return res;
          }
          if (c.op->kind == OpKind::kArgReduce)
            r = make_int(dt, best_idx[o]);
          else
            r = out_float ? make_float(dt, best[o].f) : make_int(dt, best[o].i);
        }
        res.values[o] = r;
      }
      return res;
    }
    case OpKind::kBmm: {
      const View& a = c.in_views[0];
      const int64_t B = c.out_view.sizes[0], M = c.out_view.sizes[1], N = c.out_view.sizes[2];
      const int64_t K = a.sizes[2];
      res.values.resize(static_cast<size_t>(n));
      res.extra_atol.assign(static_cast<size_t>(n), 0.0);
      for (int64_t bi = 0; bi < B; ++bi)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0, abs_acc = 0;
            u64 iacc = 0;
            for (int64_t k = 0; k < K; ++k) {
              const Value x = in_at(c, 0, (bi * M + m) * K + k);
              const Value y = in_at(c, 1, (bi * K + k) * N + j);
              acc += x.f * y.f;
              abs_acc += std::fabs(x.f * y.f);
              iacc += static_cast<u64>(x.i) * static_cast<u64>(y.i);
            }
            const size_t o = static_cast<size_t>((bi * M + m) * N + j);
            res.values[o] = out_float ? make_float(dt, acc) : make_int(dt, static_cast<int64_t>(iacc));
            if (out_float) res.extra_atol[o] = accumulation_eps(dt) * abs_acc;
          }
      return res;
    }
    case OpKind::kRandom:
      run_random(c, res);
      return res;
    default:
      reference_run_ext(c, res);
      return res;
  }
  return res;
}

}  // namespace prism::conformance
