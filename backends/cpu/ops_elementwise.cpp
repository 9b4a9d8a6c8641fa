// ops_elementwise.cpp — fill, copy (every dtype pair) and the unary elementwise kernels of the CPU plugin.
#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// ===========================================================================
// fill
// ===========================================================================

template <class T>
struct FillRun {
  T value;
  void operator()(char** p, const int64_t* s, int64_t n) const {
    if (s[0] == static_cast<int64_t>(sizeof(T))) {
      T* o = reinterpret_cast<T*>(p[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = value;
    } else {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = value;
    }
  }
};

prism_plugin_error* run_fill(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  const prism_attr* value = nullptr;
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "value", PRISM_ATTR_SCALAR, &value));
  const prism_tensor_desc* ops[1] = {&c->outputs[0]};
  StridedPlan plan;
  build_plan(plan, ops, 1);
  const int32_t dt = c->outputs[0].dtype;
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    // f16/bf16 store as 16-bit patterns: fill them as u16
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      run_plan(plan, FillRun<uint16_t>{scalar_attr_value<T>(*value).bits});
    } else {
      run_plan(plan, FillRun<T>{scalar_attr_value<T>(*value)});
    }
    return nullptr;
  });
}

// ===========================================================================
// copy (Note [Float to integer casts] in cpu_internal.hpp)
// ===========================================================================

// Note [Single rounding to f16 and bf16]: a value wider than f32 (f64, or an
// integer above 2^24) is first rounded to f32 with round-to-odd, so the
// rounding to the 16-bit type after it is the one correct rounding to
// nearest-even of the original value; a plain f64 -> f32 -> f16 chain rounds
// twice and can land one ulp off (conformance "specials" cases).
inline float to_f32_round_to_odd(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) != v && f == f && !std::isinf(f)) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    if (std::fabs(static_cast<double>(f)) > std::fabs(v)) --bits;
    bits |= 1u;
    std::memcpy(&f, &bits, sizeof bits);
  }
  return f;
}

template <class From, class To>
struct CastOp {
  To operator()(From v) const {
    if constexpr ((std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>)&&(
                      std::is_same_v<From, double> || (std::is_integral_v<From> && !kIsBool<From>))) {
      return Num<To>::store(to_f32_round_to_odd(static_cast<double>(v)));
    } else {
      return cast<To>(v);
    }
  }
};

// Same-dtype copies move bytes: one instantiation per element size.
template <class U>
struct CopyRun {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    constexpr int64_t sz = sizeof(U);
    if (s[0] == sz && s[1] == sz) {
      std::memcpy(p[0], p[1], static_cast<size_t>(n) * sizeof(U));
    } else {
      MapRun1<U, U, CastOp<U, U>>{}(p, s, n);
    }
  }
};

prism_plugin_error* run_copy(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  if (prism_sdk_dtype_is_complex(x.dtype) || prism_sdk_dtype_is_complex(out.dtype))
    return run_copy_complex(nullptr, c);
  const prism_tensor_desc* ops[2] = {&out, &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  if (x.dtype == out.dtype) {
    switch (prism_sdk_dtype_size(out.dtype)) {
      case 1:
        run_plan(plan, CopyRun<uint8_t>{});
        return nullptr;
      case 2:
        run_plan(plan, CopyRun<uint16_t>{});
        return nullptr;
      case 4:
        run_plan(plan, CopyRun<uint32_t>{});
        return nullptr;
      case 8:
        run_plan(plan, CopyRun<uint64_t>{});
        return nullptr;
      default:
        return unsupported_dtype(c, out.dtype);
    }
  }
  return dispatch_dtype(c, out.dtype, [&](auto tag_) -> prism_plugin_error* {
    using To = PRISM_CPU_TYPE_OF(tag_);
    return dispatch_dtype(c, x.dtype, [&](auto from_) -> prism_plugin_error* {
      using From = PRISM_CPU_TYPE_OF(from_);
      run_plan(plan, MapRun1<From, To, CastOp<From, To>>{});
      return nullptr;
    });
  });
}

// ===========================================================================
// Unary ops
// ===========================================================================

enum class Unary {
  kNeg,
  kAbs,
  kSign,
  kExp,
  kLog,
  kLog1p,
  kExpm1,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kSin,
  kCos,
  kTanh,
  kSigmoid,
  kGelu,
  kSilu,
  kSquare,
  kRelu,
  kFloor,
  kCeil,
  kRound,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
  kLog2,
  kLog10,
  kTrunc,
  kBitwiseNot
};

template <Unary K>
constexpr uint32_t unary_mask() {
  switch (K) {
    case Unary::kNeg:
    case Unary::kAbs:
    case Unary::kSign:
    case Unary::kSquare:
    case Unary::kRelu:
    case Unary::kFloor:
    case Unary::kCeil:
    case Unary::kRound:
    case Unary::kTrunc:
      return kMaskNumeric;
    case Unary::kBitwiseNot:
      return kMaskAll & ~kMaskFloat;
    default:
      return kMaskFloat;
  }
}

// Note [Unary semantics]
// ----------------------
// Integers wrap (neg/abs/square of the minimum value), as PyTorch. sign is
// (0 < x) - (x < 0), so sign(NaN) = 0 and sign(-0.0) = 0, as PyTorch's CPU
// kernel. relu keeps NaN. round is half-to-even (nearbyint in the default
// rounding mode). gelu is the exact erf form. trunc of an integer is the
// integer itself; bitwise_not is ~x on integers and logical not on bool.
template <Unary K>
struct UnaryOp {
  template <class C>
  C operator()(C x) const {
    if constexpr (K == Unary::kBitwiseNot) {
      if constexpr (std::is_same_v<C, bool>) {
        return !x;
      } else if constexpr (std::is_integral_v<C>) {
        return static_cast<C>(~x);
      } else {
        return x;  // not registered for floats (unary_mask)
      }
    } else if constexpr (std::is_integral_v<C>) {
      if constexpr (K == Unary::kNeg) return wrap_sub(C(0), x);
      if constexpr (K == Unary::kAbs) {
        if constexpr (std::is_signed_v<C>) return x < C(0) ? wrap_sub(C(0), x) : x;
        return x;
      }
      if constexpr (K == Unary::kSign) return static_cast<C>((C(0) < x) - (x < C(0)));
      if constexpr (K == Unary::kSquare) return wrap_mul(x, x);
      if constexpr (K == Unary::kRelu) return x < C(0) ? C(0) : x;
      return x;  // floor ceil round
    } else {
      if constexpr (K == Unary::kNeg) return -x;
      if constexpr (K == Unary::kAbs) return std::fabs(x);
      if constexpr (K == Unary::kSign) return static_cast<C>((C(0) < x) - (x < C(0)));
      if constexpr (K == Unary::kExp) return std::exp(x);
      if constexpr (K == Unary::kLog) return std::log(x);
      if constexpr (K == Unary::kLog1p) return std::log1p(x);
      if constexpr (K == Unary::kExpm1) return std::expm1(x);
      if constexpr (K == Unary::kSqrt) return std::sqrt(x);
      if constexpr (K == Unary::kRsqrt) return C(1) / std::sqrt(x);
      if constexpr (K == Unary::kReciprocal) return C(1) / x;
      if constexpr (K == Unary::kSin) return std::sin(x);
      if constexpr (K == Unary::kCos) return std::cos(x);
      if constexpr (K == Unary::kTanh) return std::tanh(x);
      if constexpr (K == Unary::kSigmoid) return C(1) / (C(1) + std::exp(-x));
      if constexpr (K == Unary::kGelu) {
        return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
      }
      if constexpr (K == Unary::kSilu) return x / (C(1) + std::exp(-x));
      if constexpr (K == Unary::kSquare) return x * x;
      if constexpr (K == Unary::kRelu) return x < C(0) ? C(0) : x;
      if constexpr (K == Unary::kFloor) return std::floor(x);
      if constexpr (K == Unary::kCeil) return std::ceil(x);
      if constexpr (K == Unary::kRound) return std::nearbyint(x);
      if constexpr (K == Unary::kTan) return std::tan(x);
      if constexpr (K == Unary::kAsin) return std::asin(x);
      if constexpr (K == Unary::kAcos) return std::acos(x);
      if constexpr (K == Unary::kAtan) return std::atan(x);
      if constexpr (K == Unary::kSinh) return std::sinh(x);
      if constexpr (K == Unary::kCosh) return std::cosh(x);
      if constexpr (K == Unary::kAsinh) return std::asinh(x);
      if constexpr (K == Unary::kAcosh) return std::acosh(x);
      if constexpr (K == Unary::kAtanh) return std::atanh(x);
      if constexpr (K == Unary::kLog2) return std::log2(x);
      if constexpr (K == Unary::kLog10) return std::log10(x);
      if constexpr (K == Unary::kTrunc) return std::trunc(x);
    }
  }
};

template <Unary K>
prism_plugin_error* run_unary(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, x.dtype, "output"));
  const prism_tensor_desc* ops[2] = {&out, &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (in_mask<T>(unary_mask<K>())) {
      run_plan(plan, MapRun1<T, T, Lift1<T, T, UnaryOp<K>>>{});
      return nullptr;
    }
    return unsupported_dtype(c, x.dtype);
  });
}

// ===========================================================================
// Unary predicates: x of any dtype -> bool. Integers are never NaN or
// infinite; signbit of an integer is x < 0, of a float its sign bit (so
// signbit(-0.0) and signbit(-NaN) are true, as C's signbit).
// ===========================================================================

enum class Predicate { kIsNan, kIsInf, kIsFinite, kSignbit };

template <class T, Predicate K>
struct PredicateOp {
  bool operator()(T v) const {
    if constexpr (K == Predicate::kSignbit && (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)) {
      // the sign bit of the 16-bit pattern (also avoids a gcc 12 -O3 ICE vectorising the f32 form)
      return (v.bits >> 15) != 0;
    }
    const Compute<T> x = Num<T>::load(v);
    if constexpr (kIsFloat<T>) {
      if constexpr (K == Predicate::kIsNan) return std::isnan(x);
      if constexpr (K == Predicate::kIsInf) return std::isinf(x);
      if constexpr (K == Predicate::kIsFinite) return std::isfinite(x);
      if constexpr (K == Predicate::kSignbit) return std::signbit(x);
    } else {
      if constexpr (K == Predicate::kIsFinite) return true;
      if constexpr (K == Predicate::kSignbit) {
        if constexpr (std::is_signed_v<T>) return x < Compute<T>(0);
      }
      return false;
    }
  }
};

template <Predicate K>
prism_plugin_error* run_predicate(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], PRISM_DTYPE_BOOL, "output"));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun1<T, bool, PredicateOp<T, K>>{});
    return nullptr;
  });
}

#define PRISM_CPU_UNARY_DEF(name, kind) \
  { sizeof(prism_kernel_def), name, unary_mask<Unary::kind>(), nullptr, run_unary<Unary::kind> }

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "fill", kMaskAll, nullptr, run_fill},
    {sizeof(prism_kernel_def), "copy", kMaskAll, nullptr, run_copy},
    PRISM_CPU_UNARY_DEF("neg", kNeg),
    PRISM_CPU_UNARY_DEF("abs", kAbs),
    PRISM_CPU_UNARY_DEF("sign", kSign),
    PRISM_CPU_UNARY_DEF("exp", kExp),
    PRISM_CPU_UNARY_DEF("log", kLog),
    PRISM_CPU_UNARY_DEF("log1p", kLog1p),
    PRISM_CPU_UNARY_DEF("expm1", kExpm1),
    PRISM_CPU_UNARY_DEF("sqrt", kSqrt),
    PRISM_CPU_UNARY_DEF("rsqrt", kRsqrt),
    PRISM_CPU_UNARY_DEF("reciprocal", kReciprocal),
    PRISM_CPU_UNARY_DEF("sin", kSin),
    PRISM_CPU_UNARY_DEF("cos", kCos),
    PRISM_CPU_UNARY_DEF("tanh", kTanh),
    PRISM_CPU_UNARY_DEF("sigmoid", kSigmoid),
    PRISM_CPU_UNARY_DEF("gelu", kGelu),
    PRISM_CPU_UNARY_DEF("silu", kSilu),
    PRISM_CPU_UNARY_DEF("square", kSquare),
    PRISM_CPU_UNARY_DEF("relu", kRelu),
    PRISM_CPU_UNARY_DEF("floor", kFloor),
    PRISM_CPU_UNARY_DEF("ceil", kCeil),
    PRISM_CPU_UNARY_DEF("round", kRound),
    PRISM_CPU_UNARY_DEF("tan", kTan),
    PRISM_CPU_UNARY_DEF("asin", kAsin),
    PRISM_CPU_UNARY_DEF("acos", kAcos),
    PRISM_CPU_UNARY_DEF("atan", kAtan),
    PRISM_CPU_UNARY_DEF("sinh", kSinh),
    PRISM_CPU_UNARY_DEF("cosh", kCosh),
    PRISM_CPU_UNARY_DEF("asinh", kAsinh),
    PRISM_CPU_UNARY_DEF("acosh", kAcosh),
    PRISM_CPU_UNARY_DEF("atanh", kAtanh),
    PRISM_CPU_UNARY_DEF("log2", kLog2),
    PRISM_CPU_UNARY_DEF("log10", kLog10),
    PRISM_CPU_UNARY_DEF("trunc", kTrunc),
    PRISM_CPU_UNARY_DEF("bitwise_not", kBitwiseNot),
    {sizeof(prism_kernel_def), "isnan", kMaskAll, nullptr, run_predicate<Predicate::kIsNan>},
    {sizeof(prism_kernel_def), "isinf", kMaskAll, nullptr, run_predicate<Predicate::kIsInf>},
    {sizeof(prism_kernel_def), "isfinite", kMaskAll, nullptr, run_predicate<Predicate::kIsFinite>},
    {sizeof(prism_kernel_def), "signbit", kMaskNumeric, nullptr, run_predicate<Predicate::kSignbit>},
};

}  // namespace

KernelList elementwise_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
