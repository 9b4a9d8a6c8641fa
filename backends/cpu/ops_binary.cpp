// ops_binary.cpp — binary arithmetic, comparisons, logical ops, where and clamp kernels of the CPU plugin.
#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// ===========================================================================
// Arithmetic ops on compute types (Note [Binary semantics])
// ---------------------------------------------------------------------------
// Integers wrap on overflow. Integer div/remainder by zero is refused before
// the loop runs (a scan of b), so no SIGFPE and no half-written output;
// INT_MIN / -1 wraps to INT_MIN instead of trapping. div floor/trunc and
// remainder follow Python: floor rounds toward -inf, remainder has the sign
// of b (a zero remainder too: -0.0 when b < 0); float floor division matches PyTorch's div_floor_floating
// (computed from fmod so that floor(a / b) is exact). maximum/minimum propagate NaN. On bool, add is or, mul
// is and, maximum is or, minimum is and.
// ===========================================================================

template <class C>
struct AddOp {
  C alpha;
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      return a || (alpha && b);
    } else {
      return wrap_add(a, wrap_mul(alpha, b));
    }
  }
};

template <class C>
struct SubOp {
  C alpha;
  C operator()(C a, C b) const { return wrap_sub(a, wrap_mul(alpha, b)); }
};

// Plain a + b / a - b (alpha == 1): the common case, kept free of the multiply.
template <class C>
struct AddPlainOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      return a || b;
    } else {
      return wrap_add(a, b);
    }
  }
};
template <class C>
struct SubPlainOp {
  C operator()(C a, C b) const { return wrap_sub(a, b); }
};

template <class C>
struct MulOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      return a && b;
    } else {
      return wrap_mul(a, b);
    }
  }
};

template <class C>
inline C int_div_trunc(C a, C b) {
  if constexpr (std::is_signed_v<C>) {
    if (b == C(-1)) return wrap_sub(C(0), a);
  }
  return static_cast<C>(a / b);
}

template <class C>
inline C int_mod_trunc(C a, C b) {
  if constexpr (std::is_signed_v<C>) {
    if (b == C(-1)) return C(0);
  }
  return static_cast<C>(a % b);
}

template <class C, int Mode>  // 0 true, 1 floor, 2 trunc
struct DivOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      C q = int_div_trunc(a, b);
      if constexpr (Mode == 1 && std::is_signed_v<C>) {
        const C r = int_mod_trunc(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) q = wrap_sub(q, C(1));
      }
      return q;
    } else {
      if constexpr (Mode == 0) return a / b;
      if constexpr (Mode == 2) return std::trunc(a / b);
      if constexpr (Mode == 1) {
        if (b == C(0)) return a / b;
        const C mod = std::fmod(a, b);
        C div = (a - mod) / b;
        if (mod != C(0) && ((b < C(0)) != (mod < C(0)))) div -= C(1);
        if (div == C(0)) return std::copysign(C(0), a / b);
        C floordiv = std::floor(div);
        if (div - floordiv > C(0.5)) floordiv += C(1);
        return floordiv;
      }
    }
  }
};

template <class C>
struct RemainderOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      C r = int_mod_trunc(a, b);
      if constexpr (std::is_signed_v<C>) {
        if (r != 0 && ((r < 0) != (b < 0))) r = wrap_add(r, b);
      }
      return r;
    } else {
      C mod = std::fmod(a, b);
      if (mod != C(0) && ((b < C(0)) != (mod < C(0)))) mod += b;
      if (mod == C(0)) mod = std::copysign(C(0), b);  // Python: 0.0 % -1.0 is -0.0
      return mod;
    }
  }
};

template <class C>
struct PowOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      // b >= 0 is checked before the loop
      C result = 1;
      C base = a;
      using U = std::make_unsigned_t<C>;
      U e = static_cast<U>(b);
      while (e != 0) {
        if (e & 1u) result = wrap_mul(result, base);
        e = static_cast<U>(e >> 1);
        if (e != 0) base = wrap_mul(base, base);
      }
      return result;
    } else {
      return std::pow(a, b);
    }
  }
};

template <class C>
struct MaximumOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      return a || b;
    } else if constexpr (std::is_integral_v<C>) {
      return a > b ? a : b;
    } else {
      return a != a ? a : (b != b ? b : (a > b ? a : b));
    }
  }
};

template <class C>
struct MinimumOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      return a && b;
    } else if constexpr (std::is_integral_v<C>) {
      return a < b ? a : b;
    } else {
      return a != a ? a : (b != b ? b : (a < b ? a : b));
    }
  }
};

// Note [Math and bitwise binary ops]
// ----------------------------------
// atan2, hypot, copysign, logaddexp and nextafter are float-only (the core
// promotes integer inputs to the default float). logaddexp is
// max + log1p(exp(-|a - b|)), with a == b (infinities included) giving
// a + log(2). nextafter runs only on f32/f64: stepping in f32 and rounding to
// f16/bf16 would return the input. Bitwise and/or/xor take integers and bool
// (on bool they are logical); shifts take integers only and are exact: a left
// shift is done on the unsigned type (bits shifted out are lost, as in
// two's complement), a right shift on a signed type is arithmetic. A shift
// count outside [0, bits) gives 0 for a left shift and the sign fill (0 or
// -1) for a right shift, as NumPy and PyTorch do.

template <class C>
struct Atan2Op {
  C operator()(C a, C b) const { return std::atan2(a, b); }
};
template <class C>
struct HypotOp {
  C operator()(C a, C b) const { return std::hypot(a, b); }
};
template <class C>
struct CopysignOp {
  C operator()(C a, C b) const { return std::copysign(a, b); }
};
template <class C>
struct NextafterOp {
  C operator()(C a, C b) const { return std::nextafter(a, b); }
};
template <class C>
struct LogaddexpOp {
  C operator()(C a, C b) const {
    if (a != a || b != b) return a + b;  // NaN
    if (a == b) return a + static_cast<C>(0.69314718055994530942);
    const C m = a > b ? a : b;
    return m + std::log1p(std::exp(-std::fabs(a - b)));
  }
};

template <class C, int Kind>  // 0 and, 1 or, 2 xor
struct BitwiseOp {
  C operator()(C a, C b) const {
    if constexpr (std::is_same_v<C, bool>) {
      if constexpr (Kind == 0) return a && b;
      if constexpr (Kind == 1) return a || b;
      if constexpr (Kind == 2) return a != b;
    } else {
      if constexpr (Kind == 0) return static_cast<C>(a & b);
      if constexpr (Kind == 1) return static_cast<C>(a | b);
      if constexpr (Kind == 2) return static_cast<C>(a ^ b);
    }
  }
};

template <class C>
inline bool shift_out_of_range(C b) {
  if constexpr (std::is_signed_v<C>) {
    if (b < C(0)) return true;
  }
  return static_cast<uint64_t>(b) >= sizeof(C) * 8;
}

template <class C>
struct ShiftLeftOp {
  C operator()(C a, C b) const {
    using U = std::make_unsigned_t<C>;
    if (shift_out_of_range(b)) return C(0);
    return static_cast<C>(static_cast<U>(static_cast<U>(a) << static_cast<unsigned>(b)));
  }
};
template <class C>
struct ShiftRightOp {
  C operator()(C a, C b) const {
    if (shift_out_of_range(b)) {
      if constexpr (std::is_signed_v<C>) return a < C(0) ? C(-1) : C(0);
      return C(0);
    }
    return static_cast<C>(a >> static_cast<unsigned>(b));
  }
};

enum class Binary {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kRemainder,
  kPow,
  kMaximum,
  kMinimum,
  kAtan2,
  kHypot,
  kCopysign,
  kLogaddexp,
  kNextafter,
  kBitwiseAnd,
  kBitwiseOr,
  kBitwiseXor,
  kShiftLeft,
  kShiftRight
};

constexpr uint32_t kMaskF32F64 = PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);
constexpr uint32_t kMaskIntBool = kMaskAll & ~kMaskFloat;
constexpr uint32_t kMaskInt = kMaskIntBool & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL);

constexpr uint32_t binary_mask(Binary k) {
  switch (k) {
    case Binary::kAtan2:
    case Binary::kHypot:
    case Binary::kCopysign:
    case Binary::kLogaddexp:
      return kMaskFloat;
    case Binary::kNextafter:
      return kMaskF32F64;
    case Binary::kBitwiseAnd:
    case Binary::kBitwiseOr:
    case Binary::kBitwiseXor:
      return kMaskIntBool;
    case Binary::kShiftLeft:
    case Binary::kShiftRight:
      return kMaskInt;
    case Binary::kAdd:
    case Binary::kMul:
    case Binary::kMaximum:
    case Binary::kMinimum:
      return kMaskAll;
    default:
      return kMaskNumeric;  // sub on bool is refused, as PyTorch
  }
}

// ===========================================================================
// Shared call plumbing
// ===========================================================================

// Checks (a, b) -> out where a and b have `in_dtype` and the output's shape.
prism_plugin_error* check_binary(const prism_kernel_call* c, int32_t in_dtype) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[0], "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[1], "input b"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[0], in_dtype, "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[1], in_dtype, "input b"));
  return nullptr;
}

void binary_plan(StridedPlan& plan, const prism_kernel_call* c) {
  const prism_tensor_desc* ops[3] = {&c->outputs[0], &c->inputs[0], &c->inputs[1]};
  build_plan(plan, ops, 3);
}

// True when pred(x) holds for any element of `d` (a scan on the calling thread).
template <class T, class Pred>
bool any_element(const prism_tensor_desc& d, Pred pred) {
  const prism_tensor_desc* ops[1] = {&d};
  StridedPlan plan;
  build_plan(plan, ops, 1);
  bool found = false;
  auto run = [&](char** p, const int64_t* s, int64_t n) {
    if (found) return;
    const char* q = p[0];
    for (int64_t i = 0; i < n; ++i) {
      if (pred(*reinterpret_cast<const T*>(q + i * s[0]))) {
        found = true;
        return;
      }
    }
  };
  if (plan.numel > 0) for_each_run(plan, 0, plan.numel, run);
  return found;
}

template <class T, class Op>
void launch2(const StridedPlan& plan, Op op) {
  run_plan(plan, MapRun2<T, T, Lift2<T, T, Op>>{Lift2<T, T, Op>{op}});
}

template <Binary K>
prism_plugin_error* run_binary(void*, const prism_kernel_call* c) {
  const int32_t dt = c->n_outputs == 1 ? c->outputs[0].dtype : -1;
  PRISM_CPU_RETURN_IF_ERROR(check_binary(c, dt));
  StridedPlan plan;
  binary_plan(plan, c);
  int64_t mode = 0;
  if constexpr (K == Binary::kDiv) {
    mode = prism_sdk_attr_int(c, "rounding_mode", 0);
    if (mode < 0 || mode > 2) {
      return PRISM_CPU_INVALID("div: rounding_mode must be 0 (true), 1 (floor) or 2 (trunc), got %lld",
                               static_cast<long long>(mode));
    }
  }
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (in_mask<T>(binary_mask(K))) {
      using C = Compute<T>;
      if constexpr (kIsInt<T>) {
        if constexpr (K == Binary::kDiv || K == Binary::kRemainder) {
          if (plan.numel > 0 && any_element<T>(c->inputs[1], [](T v) { return v == T(0); })) {
            return PRISM_CPU_INVALID("%s: integer division by zero", c->op);
          }
        }
        if constexpr (K == Binary::kPow && std::is_signed_v<T>) {
          if (plan.numel > 0 && any_element<T>(c->inputs[1], [](T v) { return v < T(0); })) {
            return PRISM_CPU_INVALID("pow: integers to negative integer powers are not allowed");
          }
        }
      }
      if constexpr (K == Binary::kAdd || K == Binary::kSub) {
        const prism_attr* alpha = prism_sdk_attr_find(c, "alpha");
        const C a = alpha != nullptr ? Num<T>::load(scalar_attr_value<T>(*alpha)) : C(1);
        if (a == C(1)) {
          if constexpr (K == Binary::kAdd)
            launch2<T>(plan, AddPlainOp<C>{});
          else
            launch2<T>(plan, SubPlainOp<C>{});
        } else {
          if constexpr (K == Binary::kAdd)
            launch2<T>(plan, AddOp<C>{a});
          else
            launch2<T>(plan, SubOp<C>{a});
        }
      }
      if constexpr (K == Binary::kMul) launch2<T>(plan, MulOp<C>{});
      if constexpr (K == Binary::kDiv) {
        if (mode == 0) {
          if constexpr (kIsFloat<T>) {
            launch2<T>(plan, DivOp<C, 0>{});
          } else {
            return PRISM_CPU_INVALID("div: true division (rounding_mode 0) needs a float output, got %s",
                                     prism_sdk_dtype_name(dt));
          }
        } else if (mode == 1) {
          launch2<T>(plan, DivOp<C, 1>{});
        } else {
          launch2<T>(plan, DivOp<C, 2>{});
        }
      }
      if constexpr (K == Binary::kRemainder) launch2<T>(plan, RemainderOp<C>{});
      if constexpr (K == Binary::kPow) launch2<T>(plan, PowOp<C>{});
      if constexpr (K == Binary::kMaximum) launch2<T>(plan, MaximumOp<C>{});
      if constexpr (K == Binary::kMinimum) launch2<T>(plan, MinimumOp<C>{});
      if constexpr (K == Binary::kAtan2) launch2<T>(plan, Atan2Op<C>{});
      if constexpr (K == Binary::kHypot) launch2<T>(plan, HypotOp<C>{});
      if constexpr (K == Binary::kCopysign) launch2<T>(plan, CopysignOp<C>{});
      if constexpr (K == Binary::kLogaddexp) launch2<T>(plan, LogaddexpOp<C>{});
      if constexpr (K == Binary::kNextafter) launch2<T>(plan, NextafterOp<C>{});
      if constexpr (K == Binary::kBitwiseAnd) launch2<T>(plan, BitwiseOp<C, 0>{});
      if constexpr (K == Binary::kBitwiseOr) launch2<T>(plan, BitwiseOp<C, 1>{});
      if constexpr (K == Binary::kBitwiseXor) launch2<T>(plan, BitwiseOp<C, 2>{});
      if constexpr (K == Binary::kShiftLeft) launch2<T>(plan, ShiftLeftOp<C>{});
      if constexpr (K == Binary::kShiftRight) launch2<T>(plan, ShiftRightOp<C>{});
      return nullptr;
    }
    return unsupported_dtype(c, dt);
  });
}

// ===========================================================================
// Comparisons and logical ops: (a, b) of one dtype -> bool
// ===========================================================================

enum class Compare { kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr, kXor };

template <Compare K>
struct CompareOp {
  template <class C>
  bool operator()(C a, C b) const {
    if constexpr (K == Compare::kEq) return a == b;
    if constexpr (K == Compare::kNe) return a != b;
    if constexpr (K == Compare::kLt) return a < b;
    if constexpr (K == Compare::kLe) return a <= b;
    if constexpr (K == Compare::kGt) return a > b;
    if constexpr (K == Compare::kGe) return a >= b;
    if constexpr (K == Compare::kAnd) return (a != C(0)) && (b != C(0));
    if constexpr (K == Compare::kOr) return (a != C(0)) || (b != C(0));
    if constexpr (K == Compare::kXor) return (a != C(0)) != (b != C(0));
  }
};

template <class T, Compare K>
struct CompareLift {
  bool operator()(T a, T b) const { return CompareOp<K>{}(Num<T>::load(a), Num<T>::load(b)); }
};

template <Compare K>
prism_plugin_error* run_compare(void*, const prism_kernel_call* c) {
  const int32_t dt = c->n_inputs >= 1 ? c->inputs[0].dtype : -1;
  PRISM_CPU_RETURN_IF_ERROR(check_binary(c, dt));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], PRISM_DTYPE_BOOL, "output"));
  StridedPlan plan;
  binary_plan(plan, c);
  return dispatch_dtype(c, dt, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun2<T, bool, CompareLift<T, K>>{});
    return nullptr;
    return unsupported_dtype(c, dt);
  });
}

template <class T>
struct NotOp {
  bool operator()(T a) const { return !(Num<T>::load(a) != Compute<T>(0)); }
};

prism_plugin_error* run_logical_not(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], PRISM_DTYPE_BOOL, "output"));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    run_plan(plan, MapRun1<T, bool, NotOp<T>>{});
    return nullptr;
    return unsupported_dtype(c, x.dtype);
  });
}

// ===========================================================================
// where(cond, a, b)
// ===========================================================================

template <class T>
struct WhereRun {
  void operator()(char** p, const int64_t* s, int64_t n) const {
    constexpr int64_t st = sizeof(T);
    if (s[0] == st && s[1] == 1 && s[2] == st && s[3] == st) {
      T* o = reinterpret_cast<T*>(p[0]);
      const bool* cond = reinterpret_cast<const bool*>(p[1]);
      const T* a = reinterpret_cast<const T*>(p[2]);
      const T* b = reinterpret_cast<const T*>(p[3]);
      for (int64_t i = 0; i < n; ++i) o[i] = cond[i] ? a[i] : b[i];
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const bool cond = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
      *reinterpret_cast<T*>(p[0] + i * s[0]) =
          *reinterpret_cast<const T*>((cond ? p[2] : p[3]) + i * (cond ? s[2] : s[3]));
    }
  }
};

prism_plugin_error* run_where(void*, const prism_kernel_call* c) {
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
  switch (prism_sdk_dtype_size(dt)) {
    case 1:
      run_plan(plan, WhereRun<uint8_t>{});
      return nullptr;
    case 2:
      run_plan(plan, WhereRun<uint16_t>{});
      return nullptr;
    case 4:
      run_plan(plan, WhereRun<uint32_t>{});
      return nullptr;
    case 8:
      run_plan(plan, WhereRun<uint64_t>{});
      return nullptr;
    default:
      return unsupported_dtype(c, dt);
  }
}

// ===========================================================================
// clamp(x, min?, max?): min(max(x, lo), hi) with NaN propagation; integer
// bounds compare in i64 so out-of-range bounds behave.
// ===========================================================================

template <class T>
struct ClampOp {
  using C = std::conditional_t<kIsInt<T>, int64_t, Compute<T>>;
  C lo, hi;
  bool has_lo, has_hi;
  T operator()(T v) const {
    C x = static_cast<C>(
        Num<T>::load(v));  // NOLINT(bugprone-signed-char-misuse): int8 values widen with their sign
    if (has_lo) x = MaximumOp<C>{}(x, lo);
    if (has_hi) x = MinimumOp<C>{}(x, hi);
    return Num<T>::store(static_cast<Compute<T>>(x));
  }
};

prism_plugin_error* run_clamp(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, x, "input"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[0], x.dtype, "output"));
  const prism_attr* lo = prism_sdk_attr_find(c, "min");
  const prism_attr* hi = prism_sdk_attr_find(c, "max");
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &x};
  StridedPlan plan;
  build_plan(plan, ops, 2);
  return dispatch_dtype(c, x.dtype, [&](auto tag_) -> prism_plugin_error* {
    using T = PRISM_CPU_TYPE_OF(tag_);
    if constexpr (!kIsBool<T>) {
      using C = typename ClampOp<T>::C;
      ClampOp<T> op{};
      op.has_lo = lo != nullptr;
      op.has_hi = hi != nullptr;
      if constexpr (kIsInt<T>) {
        op.lo = lo ? prism_sdk_attr_as_int(lo) : 0;
        op.hi = hi ? prism_sdk_attr_as_int(hi) : 0;
      } else {
        op.lo = lo ? static_cast<C>(prism_sdk_attr_as_float(lo)) : C(0);
        op.hi = hi ? static_cast<C>(prism_sdk_attr_as_float(hi)) : C(0);
      }
      run_plan(plan, MapRun1<T, T, ClampOp<T>>{op});
      return nullptr;
    }
    return unsupported_dtype(c, x.dtype);
  });
}

#define PRISM_CPU_DEF(name, mask, fn) \
  { sizeof(prism_kernel_def), name, mask, nullptr, fn }

const prism_kernel_def kKernels[] = {
    PRISM_CPU_DEF("add", binary_mask(Binary::kAdd), run_binary<Binary::kAdd>),
    PRISM_CPU_DEF("sub", binary_mask(Binary::kSub), run_binary<Binary::kSub>),
    PRISM_CPU_DEF("mul", binary_mask(Binary::kMul), run_binary<Binary::kMul>),
    PRISM_CPU_DEF("div", binary_mask(Binary::kDiv), run_binary<Binary::kDiv>),
    PRISM_CPU_DEF("remainder", binary_mask(Binary::kRemainder), run_binary<Binary::kRemainder>),
    PRISM_CPU_DEF("pow", binary_mask(Binary::kPow), run_binary<Binary::kPow>),
    PRISM_CPU_DEF("maximum", binary_mask(Binary::kMaximum), run_binary<Binary::kMaximum>),
    PRISM_CPU_DEF("minimum", binary_mask(Binary::kMinimum), run_binary<Binary::kMinimum>),
    PRISM_CPU_DEF("atan2", binary_mask(Binary::kAtan2), run_binary<Binary::kAtan2>),
    PRISM_CPU_DEF("hypot", binary_mask(Binary::kHypot), run_binary<Binary::kHypot>),
    PRISM_CPU_DEF("copysign", binary_mask(Binary::kCopysign), run_binary<Binary::kCopysign>),
    PRISM_CPU_DEF("logaddexp", binary_mask(Binary::kLogaddexp), run_binary<Binary::kLogaddexp>),
    PRISM_CPU_DEF("nextafter", binary_mask(Binary::kNextafter), run_binary<Binary::kNextafter>),
    PRISM_CPU_DEF("bitwise_and", binary_mask(Binary::kBitwiseAnd), run_binary<Binary::kBitwiseAnd>),
    PRISM_CPU_DEF("bitwise_or", binary_mask(Binary::kBitwiseOr), run_binary<Binary::kBitwiseOr>),
    PRISM_CPU_DEF("bitwise_xor", binary_mask(Binary::kBitwiseXor), run_binary<Binary::kBitwiseXor>),
    PRISM_CPU_DEF("bitwise_left_shift", binary_mask(Binary::kShiftLeft), run_binary<Binary::kShiftLeft>),
    PRISM_CPU_DEF("bitwise_right_shift", binary_mask(Binary::kShiftRight), run_binary<Binary::kShiftRight>),
    PRISM_CPU_DEF("eq", kMaskAll, run_compare<Compare::kEq>),
    PRISM_CPU_DEF("ne", kMaskAll, run_compare<Compare::kNe>),
    PRISM_CPU_DEF("lt", kMaskAll, run_compare<Compare::kLt>),
    PRISM_CPU_DEF("le", kMaskAll, run_compare<Compare::kLe>),
    PRISM_CPU_DEF("gt", kMaskAll, run_compare<Compare::kGt>),
    PRISM_CPU_DEF("ge", kMaskAll, run_compare<Compare::kGe>),
    PRISM_CPU_DEF("logical_and", kMaskAll, run_compare<Compare::kAnd>),
    PRISM_CPU_DEF("logical_or", kMaskAll, run_compare<Compare::kOr>),
    PRISM_CPU_DEF("logical_xor", kMaskAll, run_compare<Compare::kXor>),
    PRISM_CPU_DEF("logical_not", kMaskAll, run_logical_not),
    PRISM_CPU_DEF("where", kMaskAll, run_where),
    PRISM_CPU_DEF("clamp", kMaskNumeric, run_clamp),
};

}  // namespace

KernelList binary_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
