// ops_complex.cpp — complex64/complex128 kernels of the CPU plugin: fill, casts, elementwise math, sum/prod.
#include <complex>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu_loops.hpp"

namespace prism::cpu {

// Note [Complex kernels]
// ----------------------
// complex64 and complex128 are interleaved (real, imaginary) pairs, the layout of
// std::complex<float/double>. The math is std::complex's: libstdc++ forwards exp, log,
// sqrt, pow, the trigonometric and hyperbolic functions and their inverses to the C99
// <complex.h> functions (cexp, clog, csqrt, casin, ...), whose glibc versions follow
// C99 Annex G for infinities, NaNs and signed zeros, and compiles * and / to __muldc3 /
// __divdc3, which recover infinite results where the textbook formula gives NaN. These
// kernels are separate kernel definitions with the complex dtype mask, so the real
// kernels' templates never see a complex type; the copy kernel of ops_elementwise.cpp
// hands casts that involve a complex dtype to run_copy_complex.

namespace {

template <class R>
using Cx = std::complex<R>;

// Real and imaginary parts of any stored element, as R.
template <class T, class R>
inline Cx<R> load_cx(const char* p) {
  if constexpr (std::is_same_v<T, Cx<float>> || std::is_same_v<T, Cx<double>>) {
    const T v = *reinterpret_cast<const T*>(p);
    return {static_cast<R>(v.real()), static_cast<R>(v.imag())};
  } else {
    const T v = *reinterpret_cast<const T*>(p);
    return {static_cast<R>(Num<T>::load(v)), R(0)};
  }
}

template <class Fn>
prism_plugin_error* dispatch_complex(const prism_kernel_call* c, int32_t dt, Fn&& fn) {
  if (dt == PRISM_DTYPE_C64) return fn(TypeTag<float>{});
  if (dt == PRISM_DTYPE_C128) return fn(TypeTag<double>{});
  return unsupported_dtype(c, dt);
}

// ===========================================================================
// fill, copy
// ===========================================================================

template <class R>
struct FillRunCx {
  Cx<R> value;
  void operator()(char** p, const int64_t* s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) *reinterpret_cast<Cx<R>*>(p[0] + i * s[0]) = value;
  }
};

prism_plugin_error* run_fill_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  const prism_attr* value = nullptr;
  PRISM_CPU_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "value", PRISM_ATTR_SCALAR, &value));
  const prism_tensor_desc* ops[1] = {&c->outputs[0]};
  StridedPlan plan;
  build_plan(plan, ops, 1);
  return dispatch_complex(c, c->outputs[0].dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, FillRunCx<R>{Cx<R>(static_cast<R>(prism_sdk_attr_as_float(value)), R(0))});
    return nullptr;
  });
}

// To complex from anything (a real source gets imaginary part 0).
template <class From, class R>
struct ToComplexRun {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Cx<R>*>(p[0] + i * s[0]) = load_cx<From, R>(p[1] + i * s[1]);
  }
};

// From complex to a real dtype: the real part (PyTorch and NumPy drop the imaginary part),
// to bool: nonzero.
template <class R, class To>
struct FromComplexRun {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) {
      const Cx<R> v = *reinterpret_cast<const Cx<R>*>(p[1] + i * s[1]);
      To& o = *reinterpret_cast<To*>(p[0] + i * s[0]);
      if constexpr (kIsBool<To>) {
        o = v.real() != R(0) || v.imag() != R(0);
      } else {
        o = cast<To>(v.real());
      }
    }
  }
};

struct CopyRunBytes16 {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) std::memcpy(p[0] + i * s[0], p[1] + i * s[1], 16);
  }
};

}  // namespace

prism_plugin_error* run_copy_complex(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  const prism_tensor_desc* ops[2] = {&out, &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  if (x.dtype == PRISM_DTYPE_C128 && out.dtype == PRISM_DTYPE_C128) {
    run_plan(plan, CopyRunBytes16{});
    return nullptr;
  }
  if (prism_sdk_dtype_is_complex(out.dtype)) {
    return dispatch_complex(c, out.dtype, [&](auto rt_) -> prism_plugin_error* {
      using R = PRISM_CPU_TYPE_OF(rt_);
      if (x.dtype == PRISM_DTYPE_C64) {
        run_plan(plan, ToComplexRun<Cx<float>, R>{});
        return nullptr;
      }
      if (x.dtype == PRISM_DTYPE_C128) {
        run_plan(plan, ToComplexRun<Cx<double>, R>{});
        return nullptr;
      }
      return dispatch_dtype(c, x.dtype, [&](auto from_) -> prism_plugin_error* {
        using From = PRISM_CPU_TYPE_OF(from_);
        run_plan(plan, ToComplexRun<From, R>{});
        return nullptr;
      });
    });
  }
  return dispatch_complex(c, x.dtype, [&](auto rt_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(rt_);
    return dispatch_dtype(c, out.dtype, [&](auto to_) -> prism_plugin_error* {
      using To = PRISM_CPU_TYPE_OF(to_);
      run_plan(plan, FromComplexRun<R, To>{});
      return nullptr;
    });
  });
}

namespace {

// ===========================================================================
// unary
// ===========================================================================

enum class CUnary {
  kNeg,
  kSign,
  kExp,
  kLog,
  kLog1p,
  kExpm1,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kSquare,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kTanh,
  kAsinh,
  kAcosh,
  kAtanh,
  kLog2,
  kLog10,
  kConj
};

template <class R>
inline bool finite(Cx<R> z) {
  return std::isfinite(z.real()) && std::isfinite(z.imag());
}

template <class R, CUnary K>
struct CUnaryOp {
  Cx<R> operator()(Cx<R> z) const {
    const R x = z.real(), y = z.imag();
    if constexpr (K == CUnary::kNeg) return {-x, -y};
    if constexpr (K == CUnary::kConj) return {x, -y};
    if constexpr (K == CUnary::kSign) {
      // z / |z|, 0 for 0 (the array API's sign), NaN when a part is NaN
      if (std::isnan(x) || std::isnan(y))
        return {std::numeric_limits<R>::quiet_NaN(), std::numeric_limits<R>::quiet_NaN()};
      if (x == R(0) && y == R(0)) return {R(0), R(0)};
      if (std::isinf(x) || std::isinf(y)) {
        // direction of the infinite part(s)
        const R ux = std::isinf(x) ? std::copysign(R(1), x) : R(0),
                uy = std::isinf(y) ? std::copysign(R(1), y) : R(0);
        const R h = std::hypot(ux, uy);
        return {ux / h, uy / h};
      }
      const R h = std::hypot(x, y);
      return {x / h, y / h};
    }
    if constexpr (K == CUnary::kExp) return std::exp(z);
    if constexpr (K == CUnary::kLog) return std::log(z);
    if constexpr (K == CUnary::kLog2) return std::log(z) / std::log(R(2));
    if constexpr (K == CUnary::kLog10) return std::log10(z);
    if constexpr (K == CUnary::kExpm1) {
      // exp(z) - 1 without cancellation near 0:
      // expm1(x) cos(y) - 2 sin^2(y/2) + i exp(x) sin(y); non-finite inputs take exp(z) - 1 (Annex G)
      if (!finite(z)) return std::exp(z) - R(1);
      if (x == R(0) && y == R(0)) return {R(0), y};  // exp(±0 + 0j) - 1 = +0 + 0j (the array API's case)
      const R sh = std::sin(y / R(2));
      return {std::expm1(x) * std::cos(y) - R(2) * sh * sh, y == R(0) ? y : std::exp(x) * std::sin(y)};
    }
    if constexpr (K == CUnary::kLog1p) {
      // log(1 + z) without cancellation near 0: 0.5 log1p(2x + x^2 + y^2) + i atan2(y, 1 + x)
      if (!finite(z)) return std::log(R(1) + z);
      const R ax = std::fabs(x), ay = std::fabs(y);
      if (ax > R(0.5) || ay > R(0.5)) return std::log(R(1) + z);
      return {R(0.5) * std::log1p(x * (R(2) + x) + y * y), std::atan2(y, R(1) + x)};
    }
    if constexpr (K == CUnary::kSqrt) return std::sqrt(z);
    if constexpr (K == CUnary::kRsqrt) return R(1) / std::sqrt(z);
    if constexpr (K == CUnary::kReciprocal) return R(1) / z;
    if constexpr (K == CUnary::kSquare) return z * z;
    if constexpr (K == CUnary::kSin) return std::sin(z);
    if constexpr (K == CUnary::kCos) return std::cos(z);
    if constexpr (K == CUnary::kTan) return std::tan(z);
    if constexpr (K == CUnary::kAsin) return std::asin(z);
    if constexpr (K == CUnary::kAcos) return std::acos(z);
    if constexpr (K == CUnary::kAtan) return std::atan(z);
    if constexpr (K == CUnary::kSinh) return std::sinh(z);
    if constexpr (K == CUnary::kCosh) return std::cosh(z);
    if constexpr (K == CUnary::kTanh) {
      // tanh(±inf + iy), y finite: ±1 + 0j with the sign of y (glibc gives the sign of sin(2y), C99's
      // allowance; the array API asks for the sign of y)
      if (std::isinf(x) && std::isfinite(y)) return {std::copysign(R(1), x), std::copysign(R(0), y)};
      return std::tanh(z);
    }
    if constexpr (K == CUnary::kAsinh) return std::asinh(z);
    if constexpr (K == CUnary::kAcosh) return std::acosh(z);
    if constexpr (K == CUnary::kAtanh) return std::atanh(z);
    return z;
  }
};

template <CUnary K>
prism_plugin_error* run_unary_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], x.dtype, "output"));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_complex(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun1<Cx<R>, Cx<R>, CUnaryOp<R, K>>{});
    return nullptr;
  });
}

// abs, real, imag: complex -> real (Note [Complex to real ops] in core/dispatch/elementwise.cpp).
enum class CPart { kAbs, kReal, kImag };

template <class R, CPart K>
struct CPartOp {
  R operator()(Cx<R> z) const {
    if constexpr (K == CPart::kAbs) return std::abs(z);  // hypot: +inf when a part is infinite
    if constexpr (K == CPart::kReal) return z.real();
    return z.imag();
  }
};

template <CPart K>
prism_plugin_error* run_part_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  const int32_t real_dt = x.dtype == PRISM_DTYPE_C64 ? PRISM_DTYPE_F32 : PRISM_DTYPE_F64;
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], real_dt, "output"));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_complex(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun1<Cx<R>, R, CPartOp<R, K>>{});
    return nullptr;
  });
}

enum class CPred { kIsNan, kIsInf, kIsFinite };

template <class R, CPred K>
struct CPredOp {
  bool operator()(Cx<R> z) const {
    if constexpr (K == CPred::kIsNan) return std::isnan(z.real()) || std::isnan(z.imag());
    if constexpr (K == CPred::kIsInf) return std::isinf(z.real()) || std::isinf(z.imag());
    return std::isfinite(z.real()) && std::isfinite(z.imag());
  }
};

template <CPred K>
prism_plugin_error* run_pred_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], PRISM_DTYPE_BOOL, "output"));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_complex(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun1<Cx<R>, bool, CPredOp<R, K>>{});
    return nullptr;
  });
}

// ===========================================================================
// binary
// ===========================================================================

enum class CBinary { kAdd, kSub, kMul, kDiv, kPow, kEq, kNe };

template <class R, CBinary K>
struct CBinaryOp {
  Cx<R> alpha{R(1), R(0)};
  bool plain = true;  // alpha == 1
  auto operator()(Cx<R> a, Cx<R> b) const {
    if constexpr (K == CBinary::kAdd) return plain ? a + b : a + alpha * b;
    if constexpr (K == CBinary::kSub) return plain ? a - b : a - alpha * b;
    if constexpr (K == CBinary::kMul) return a * b;
    if constexpr (K == CBinary::kDiv) return a / b;
    if constexpr (K == CBinary::kPow) {
      // z ** 0 is 1 (libstdc++'s pow(0, w) is 0 for every w), z ** 1 is z
      if (b == Cx<R>(R(1), R(0))) return a;
      if (b.real() == R(0) && b.imag() == R(0)) return Cx<R>(R(1), R(0));
      if (b.imag() == R(0) && a.imag() == R(0) && a.real() >= R(0))
        return Cx<R>(std::pow(a.real(), b.real()), R(0));
      return std::pow(a, b);
    }
    if constexpr (K == CBinary::kEq) return a.real() == b.real() && a.imag() == b.imag();
    if constexpr (K == CBinary::kNe) return !(a.real() == b.real() && a.imag() == b.imag());
  }
};

template <CBinary K>
prism_plugin_error* run_binary_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, a, "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, b, "input b"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, b, a.dtype, "input b"));
  constexpr bool kCompare = K == CBinary::kEq || K == CBinary::kNe;
  PRISM_CPU_RETURN_IF_ERROR(
      check_dtype(c, c->outputs[0], kCompare ? int32_t(PRISM_DTYPE_BOOL) : a.dtype, "output"));
  if (K == CBinary::kDiv && prism_sdk_attr_int(c, "rounding_mode", 0) != 0)
    return PRISM_CPU_INVALID("div: rounding division is not defined for complex tensors (%s)",
                             prism_sdk_dtype_name(a.dtype));
  const prism_tensor_desc* ops[3] = {&c->outputs[0], &a, &b};
  StridedPlan plan;
  build_plan(plan, ops, 3);
  return dispatch_complex(c, a.dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    CBinaryOp<R, K> op;
    if (const prism_attr* alpha = prism_sdk_attr_find(c, "alpha")) {
      const double v = prism_sdk_attr_as_float(alpha);
      op.alpha = Cx<R>(static_cast<R>(v), R(0));
      op.plain = v == 1.0;
    }
    using Out = std::conditional_t<kCompare, bool, Cx<R>>;
    run_plan(plan, MapRun2<Cx<R>, Out, CBinaryOp<R, K>>{op});
    return nullptr;
  });
}

template <class R>
struct WhereRunCx {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) {
      const bool cond = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
      *reinterpret_cast<Cx<R>*>(p[0] + i * s[0]) =
          *reinterpret_cast<const Cx<R>*>((cond ? p[2] : p[3]) + i * (cond ? s[2] : s[3]));
    }
  }
};

prism_plugin_error* run_where_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 3, 3, 1));
  const int32_t dt = c->outputs[0].dtype;
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[0], "cond"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[1], "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[2], "input b"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[0], PRISM_DTYPE_BOOL, "cond"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[1], dt, "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[2], dt, "input b"));
  const prism_tensor_desc* ops[4] = {&c->outputs[0], &c->inputs[0], &c->inputs[1], &c->inputs[2]};
  StridedPlan plan;
  build_plan(plan, ops, 4);
  return dispatch_complex(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, WhereRunCx<R>{});
    return nullptr;
  });
}

// ===========================================================================
// sum / prod over dims (output keeps the reduced dims with size 1)
// ===========================================================================

template <bool kProd>
prism_plugin_error* run_reduce_cx(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, out, x.dtype, "output"));
  if (out.ndim != x.ndim)
    return PRISM_CPU_INVALID("%s: output has %d dims, input %d", kProd ? "prod" : "sum", int(out.ndim),
                             int(x.ndim));
  for (int d = 0; d < x.ndim; ++d) {
    if (out.sizes[d] != x.sizes[d] && out.sizes[d] != 1)
      return PRISM_CPU_INVALID("%s: output size %lld at dim %d is neither the input's nor 1",
                               kProd ? "prod" : "sum", static_cast<long long>(out.sizes[d]), d);
  }
  return dispatch_complex(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using R = PRISM_CPU_TYPE_OF(tag_);
    // out: (kept dims, reduced dims of size 1); accumulate in complex128
    int64_t on = 1;
    for (int d = 0; d < out.ndim; ++d) on *= out.sizes[d];
    const char* src = static_cast<const char*>(x.buffer) + x.byte_offset;
    char* dst = static_cast<char*>(out.buffer) + out.byte_offset;
    const int nd = x.ndim;
    // output element -> its accumulator, in output linear order
    std::vector<Cx<double>> acc(static_cast<size_t>(on), kProd ? Cx<double>(1, 0) : Cx<double>(0, 0));
    int64_t xn = 1;
    for (int d = 0; d < nd; ++d) xn *= x.sizes[d];
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    for (int64_t k = 0; k < xn; ++k) {
      int64_t xoff = 0, olin = 0;
      for (int d = 0; d < nd; ++d) {
        xoff += idx[d] * x.strides[d];
        olin = olin * out.sizes[d] + (out.sizes[d] == 1 ? 0 : idx[d]);
      }
      const Cx<R> v = *reinterpret_cast<const Cx<R>*>(src + xoff * static_cast<int64_t>(sizeof(Cx<R>)));
      const Cx<double> w(v.real(), v.imag());
      if constexpr (kProd) {
        acc[olin] *= w;
      } else {
        acc[olin] += w;
      }
      for (int d = nd - 1; d >= 0; --d) {
        if (++idx[d] < x.sizes[d]) break;
        idx[d] = 0;
      }
    }
    std::vector<int64_t> oidx(static_cast<size_t>(out.ndim), 0);
    for (int64_t k = 0; k < on; ++k) {
      int64_t ooff = 0;
      for (int d = 0; d < out.ndim; ++d) ooff += oidx[d] * out.strides[d];
      *reinterpret_cast<Cx<R>*>(dst + ooff * static_cast<int64_t>(sizeof(Cx<R>))) =
          Cx<R>(static_cast<R>(acc[k].real()), static_cast<R>(acc[k].imag()));
      for (int d = out.ndim - 1; d >= 0; --d) {
        if (++oidx[d] < out.sizes[d]) break;
        oidx[d] = 0;
      }
    }
    return nullptr;
  });
}

constexpr uint32_t kMaskComplex = PRISM_DTYPE_MASK_COMPLEX;

#define PRISM_CPU_CX_DEF(name, fn) \
  { sizeof(prism_kernel_def), name, kMaskComplex, nullptr, fn }

const prism_kernel_def kKernels[] = {
    PRISM_CPU_CX_DEF("fill", run_fill_cx),
    PRISM_CPU_CX_DEF("copy", run_copy_complex),
    PRISM_CPU_CX_DEF("neg", run_unary_cx<CUnary::kNeg>),
    PRISM_CPU_CX_DEF("conj", run_unary_cx<CUnary::kConj>),
    PRISM_CPU_CX_DEF("sign", run_unary_cx<CUnary::kSign>),
    PRISM_CPU_CX_DEF("exp", run_unary_cx<CUnary::kExp>),
    PRISM_CPU_CX_DEF("log", run_unary_cx<CUnary::kLog>),
    PRISM_CPU_CX_DEF("log1p", run_unary_cx<CUnary::kLog1p>),
    PRISM_CPU_CX_DEF("expm1", run_unary_cx<CUnary::kExpm1>),
    PRISM_CPU_CX_DEF("sqrt", run_unary_cx<CUnary::kSqrt>),
    PRISM_CPU_CX_DEF("rsqrt", run_unary_cx<CUnary::kRsqrt>),
    PRISM_CPU_CX_DEF("reciprocal", run_unary_cx<CUnary::kReciprocal>),
    PRISM_CPU_CX_DEF("square", run_unary_cx<CUnary::kSquare>),
    PRISM_CPU_CX_DEF("sin", run_unary_cx<CUnary::kSin>),
    PRISM_CPU_CX_DEF("cos", run_unary_cx<CUnary::kCos>),
    PRISM_CPU_CX_DEF("tan", run_unary_cx<CUnary::kTan>),
    PRISM_CPU_CX_DEF("asin", run_unary_cx<CUnary::kAsin>),
    PRISM_CPU_CX_DEF("acos", run_unary_cx<CUnary::kAcos>),
    PRISM_CPU_CX_DEF("atan", run_unary_cx<CUnary::kAtan>),
    PRISM_CPU_CX_DEF("sinh", run_unary_cx<CUnary::kSinh>),
    PRISM_CPU_CX_DEF("cosh", run_unary_cx<CUnary::kCosh>),
    PRISM_CPU_CX_DEF("tanh", run_unary_cx<CUnary::kTanh>),
    PRISM_CPU_CX_DEF("asinh", run_unary_cx<CUnary::kAsinh>),
    PRISM_CPU_CX_DEF("acosh", run_unary_cx<CUnary::kAcosh>),
    PRISM_CPU_CX_DEF("atanh", run_unary_cx<CUnary::kAtanh>),
    PRISM_CPU_CX_DEF("log2", run_unary_cx<CUnary::kLog2>),
    PRISM_CPU_CX_DEF("log10", run_unary_cx<CUnary::kLog10>),
    PRISM_CPU_CX_DEF("abs", run_part_cx<CPart::kAbs>),
    PRISM_CPU_CX_DEF("real", run_part_cx<CPart::kReal>),
    PRISM_CPU_CX_DEF("imag", run_part_cx<CPart::kImag>),
    PRISM_CPU_CX_DEF("isnan", run_pred_cx<CPred::kIsNan>),
    PRISM_CPU_CX_DEF("isinf", run_pred_cx<CPred::kIsInf>),
    PRISM_CPU_CX_DEF("isfinite", run_pred_cx<CPred::kIsFinite>),
    PRISM_CPU_CX_DEF("add", run_binary_cx<CBinary::kAdd>),
    PRISM_CPU_CX_DEF("sub", run_binary_cx<CBinary::kSub>),
    PRISM_CPU_CX_DEF("mul", run_binary_cx<CBinary::kMul>),
    PRISM_CPU_CX_DEF("div", run_binary_cx<CBinary::kDiv>),
    PRISM_CPU_CX_DEF("pow", run_binary_cx<CBinary::kPow>),
    PRISM_CPU_CX_DEF("eq", run_binary_cx<CBinary::kEq>),
    PRISM_CPU_CX_DEF("ne", run_binary_cx<CBinary::kNe>),
    PRISM_CPU_CX_DEF("where", run_where_cx),
    PRISM_CPU_CX_DEF("sum", run_reduce_cx<false>),
    PRISM_CPU_CX_DEF("prod", run_reduce_cx<true>),
};

}  // namespace

KernelList complex_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
