// elementwise.cpp — unary, binary, comparison, where and clamp front-ends: promotion, broadcasting, in-place
// rules.
#include <cmath>
#include <cstring>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

// Note [Type promotion]
// result_type follows torch.result_type: tensors with dims decide the dtype;
// 0-d tensors only count when they belong to a higher category (bool < int <
// float), in which case the two are promoted. So float16[3] + float64[] stays
// float16 while int32[3] + float32[] becomes float32.
prism_dtype result_type(std::initializer_list<const TensorImpl*> tensors) {
  int dim_dt = -1, zero_dt = -1;
  for (const TensorImpl* t : tensors) {
    int& slot = t->dim() > 0 ? dim_dt : zero_dt;
    slot = slot < 0 ? t->dtype : promote_types(static_cast<prism_dtype>(slot), t->dtype);
  }
  if (dim_dt < 0) return static_cast<prism_dtype>(zero_dt);
  if (zero_dt < 0) return static_cast<prism_dtype>(dim_dt);
  auto d = static_cast<prism_dtype>(dim_dt), z = static_cast<prism_dtype>(zero_dt);
  if (dtype_category(z) > dtype_category(d)) return promote_types(d, z);
  return d;
}

Dims broadcast_shapes(const char* op, const Dims& a, const Dims& b) {
  Dims out;
  out.n = std::max(a.n, b.n);
  for (int i = 0; i < out.n; ++i) {
    int ia = a.n - out.n + i, ib = b.n - out.n + i;
    int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    PRISM_CHECK(sa == sb || sa == 1 || sb == 1, INVALID_ARGUMENT, op, ": shapes ", a.str(), " and ", b.str(),
                " are not broadcastable: the size of tensor a (", sa, ") must match the size of tensor b (",
                sb, ") at non-singleton dimension ", i);
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

namespace {

bool float_only(const char* op) {
  static const char* const kOps[] = {
      "exp",     "log",   "log1p", "expm1", "sqrt",  "rsqrt", "reciprocal", "sin",       "cos",      "tanh",
      "sigmoid", "gelu",  "silu",  "tan",   "asin",  "acos",  "atan",       "sinh",      "cosh",     "asinh",
      "acosh",   "atanh", "log2",  "log10", "atan2", "hypot", "copysign",   "logaddexp", "nextafter"};
  for (const char* k : kOps)
    if (std::strcmp(op, k) == 0) return true;
  return false;
}

Tensor cast_expand(const Tensor& t, prism_dtype dt, const Dims& shape) {
  Tensor c = to_dtype(t, dt);
  return c->sizes == shape ? c : expand(c, shape);
}

// Note [In-place writes]: an in-place op's destination must not have internal
// overlap (stride 0 over size > 1), and an input that shares storage with the
// destination without being the identical view is cloned first (PyTorch
// rejects partial overlap; copying is the friendlier equivalent).
void check_writable(const char* op, const Tensor& out) {
  for (int i = 0; i < out->dim(); ++i) {
    PRISM_CHECK(
        !(out->strides[i] == 0 && out->sizes[i] > 1), INVALID_ARGUMENT, op,
        ": unsupported operation: more than one element of the written-to tensor ", describe(out),
        " refers to a single memory location. Please clone() the tensor before performing the operation.");
  }
}
void check_result_castable(const char* op, prism_dtype result, prism_dtype out) {
  PRISM_CHECK(dtype_category(result) <= dtype_category(out), INVALID_ARGUMENT, op, ": result type ",
              dtype_name(result), " can't be cast to the desired output type ", dtype_name(out));
}

bool bitwise_op(const char* op) {
  if (std::strncmp(op, "bitwise_", 8) != 0) return false;  // the common case costs one compare
  static const char* const kOps[] = {"bitwise_and", "bitwise_or",         "bitwise_xor",
                                     "bitwise_not", "bitwise_left_shift", "bitwise_right_shift"};
  for (const char* k : kOps)
    if (std::strcmp(op, k) == 0) return true;
  return false;
}

void check_bitwise(const char* op, prism_dtype dt) {
  if (!bitwise_op(op)) return;
  PRISM_CHECK(!is_float(dt) && !is_complex(dt), INVALID_ARGUMENT, op,
              ": not supported for floating point tensors (", dtype_name(dt),
              "); it takes integer and bool tensors");
  const bool shift = std::strstr(op, "shift") != nullptr;
  PRISM_CHECK(!(shift && dt == PRISM_DTYPE_BOOL), INVALID_ARGUMENT, op,
              ": not supported for bool tensors; it takes integer tensors");
}

prism_dtype unary_dtype(const char* op, const Tensor& x) {
  if (!is_float(x->dtype) && !is_complex(x->dtype) && float_only(op)) return kDefaultFloat;
  check_bitwise(op, x->dtype);
  PRISM_CHECK(!(x->dtype == PRISM_DTYPE_BOOL && std::strcmp(op, "trunc") == 0), INVALID_ARGUMENT,
              "trunc: not supported for bool tensors");
  PRISM_CHECK(!(x->dtype == PRISM_DTYPE_BOOL && std::strcmp(op, "neg") == 0), INVALID_ARGUMENT,
              "neg: negation, the `-` operator, on a bool tensor is not supported. Use logical_not instead.");
  return x->dtype;
}

// Binary result dtype and the dtype the kernel computes in.
prism_dtype binary_dtype(const char* op, const Tensor& a, const Tensor& b) {
  prism_dtype rt = result_type({a.get(), b.get()});
  // The dtype tests come first: the name comparisons cost more than the rest
  // of a small op's dispatch, and float inputs need none of them.
  if (!is_float(rt) && !is_complex(rt) && (std::strcmp(op, "div") == 0 || float_only(op)))
    return kDefaultFloat;
  check_bitwise(op, rt);
  if (rt == PRISM_DTYPE_BOOL && std::strcmp(op, "sub") == 0) {
    PRISM_CHECK(
        rt != PRISM_DTYPE_BOOL, INVALID_ARGUMENT,
        "sub: subtraction, the `-` operator, with two bool tensors is not supported. Use logical_xor.");
  }
  return rt;
}

Attrs binary_attrs(const char* op, double alpha) {
  Attrs at;
  if (std::strcmp(op, "add") == 0 || std::strcmp(op, "sub") == 0) at.add_scalar("alpha", alpha);
  if (std::strcmp(op, "div") == 0) at.add_int("rounding_mode", PRISM_ROUNDING_NONE);
  return at;
}

Tensor binary_impl(const char* op, const Tensor& a, const Tensor& b, prism_dtype dt, const Attrs& at) {
  common_device(op, {a.get(), b.get()});
  Dims shape = broadcast_shapes(op, a->sizes, b->sizes);
  Tensor ca = cast_expand(a, dt, shape), cb = cast_expand(b, dt, shape);
  Tensor out = empty(shape, dt, a->device());
  run_kernel(op, dt, {ca.get(), cb.get()}, {out.get()}, at);
  return out;
}

void binary_inplace_impl(const char* op, const Tensor& a, const Tensor& b, prism_dtype dt, const Attrs& at,
                         double alpha) {
  common_device(op, {a.get(), b.get()});
  Dims shape = broadcast_shapes(op, a->sizes, b->sizes);
  PRISM_CHECK(shape == a->sizes, INVALID_ARGUMENT, op, "_: output with shape ", a->sizes.str(),
              " doesn't match the broadcast shape ", shape.str());
  check_result_castable(op, dt, a->dtype);
  check_writable(op, a);
  check_overlap(op, {b.get()}, {a.get()});  // Note [Memory overlap]: as PyTorch, refused
  if (autograd::should_record({&a, &b})) {
    autograd::recorded_inplace(op, a, [&](const Tensor& old) { return binary(op, old, b, alpha); });
    return;
  }
  if (dt != a->dtype) {
    Tensor r = binary_impl(op, a, b, dt, at);
    copy_(a, r);
    return;
  }
  Tensor cb = cast_expand(b, dt, shape);
  bump_version(a);
  if (a->numel() == 0) return;
  run_kernel(op, dt, {a.get(), cb.get()}, {a.get()}, at);
}

}  // namespace

// Note [Complex to real ops]: abs, real and imag of a complex tensor are real (float32 for complex64,
// float64 for complex128); the kernel is looked up by the input's complex dtype.
bool complex_to_real_op(const char* op) {
  return std::strcmp(op, "abs") == 0 || std::strcmp(op, "real") == 0 || std::strcmp(op, "imag") == 0;
}

Tensor unary(const char* op, const Tensor& x) {
  if (amp::Autocast ac{op, {&x}}) return unary(op, ac[0]);  // Note [Autocast]
  if (autograd::should_record({&x})) return autograd::recorded(op, {x}, {}, [&] { return unary(op, x); });
  prism_dtype dt = unary_dtype(op, x);
  Tensor cx = to_dtype(x, dt);
  const prism_dtype out_dt = is_complex(dt) && complex_to_real_op(op) ? complex_to_real(dt) : dt;
  Tensor out = empty(x->sizes, out_dt, x->device());
  if (out->numel() > 0) run_kernel(op, dt, {cx.get()}, {out.get()});
  return out;
}

void unary_(const char* op, const Tensor& x) {
  prism_dtype dt = unary_dtype(op, x);
  if (is_complex(dt) && complex_to_real_op(op)) {
    copy_(x, unary(op, x));
    return;
  }
  check_result_castable(op, dt, x->dtype);
  check_writable(op, x);
  if (autograd::should_record({&x})) {
    autograd::recorded_inplace(op, x, [&](const Tensor& old) { return unary(op, old); });
    return;
  }
  if (dt != x->dtype) {
    copy_(x, unary(op, x));
    return;
  }
  bump_version(x);
  if (x->numel() > 0) run_kernel(op, dt, {x.get()}, {x.get()});
}

Tensor binary(const char* op, const Tensor& a, const Tensor& b, double alpha) {
  if (amp::Autocast ac{op, {&a, &b}}) return binary(op, ac[0], ac[1], alpha);  // Note [Autocast]
  if (autograd::should_record({&a, &b})) {
    autograd::OpAttrs at;
    at.alpha = alpha;
    return autograd::recorded(op, {a, b}, at, [&] { return binary(op, a, b, alpha); });
  }
  return binary_impl(op, a, b, binary_dtype(op, a, b), binary_attrs(op, alpha));
}

void binary_(const char* op, const Tensor& a, const Tensor& b, double alpha) {
  binary_inplace_impl(op, a, b, binary_dtype(op, a, b), binary_attrs(op, alpha), alpha);
}

Tensor div_mode(const Tensor& a, const Tensor& b, prism_rounding_mode mode) {
  if (autograd::should_record({&a, &b})) {
    autograd::OpAttrs at;
    at.mode = mode;
    return autograd::recorded("div", {a, b}, at, [&] { return div_mode(a, b, mode); });
  }
  PRISM_CHECK(mode >= PRISM_ROUNDING_NONE && mode <= PRISM_ROUNDING_TRUNC, INVALID_ARGUMENT,
              "div: rounding_mode must be none (0), floor (1) or trunc (2), got ", int(mode));
  prism_dtype dt = mode == PRISM_ROUNDING_NONE ? binary_dtype("div", a, b) : result_type({a.get(), b.get()});
  PRISM_CHECK(dt != PRISM_DTYPE_BOOL, INVALID_ARGUMENT,
              "div: rounding division of bool tensors is not supported");
  Attrs at;
  at.add_int("rounding_mode", mode);
  return binary_impl("div", a, b, dt, at);
}

Tensor compare(const char* op, const Tensor& a, const Tensor& b) {
  common_device(op, {a.get(), b.get()});
  prism_dtype dt = result_type({a.get(), b.get()});
  Dims shape = broadcast_shapes(op, a->sizes, b->sizes);
  Tensor ca = cast_expand(a, dt, shape), cb = cast_expand(b, dt, shape);
  Tensor out = empty(shape, PRISM_DTYPE_BOOL, a->device());
  if (out->numel() > 0) run_kernel(op, dt, {ca.get(), cb.get()}, {out.get()});
  return out;
}

Tensor logical_not(const Tensor& x) {
  Tensor out = empty(x->sizes, PRISM_DTYPE_BOOL, x->device());
  if (out->numel() > 0) run_kernel("logical_not", x->dtype, {x.get()}, {out.get()});
  return out;
}

Tensor complex_part(const char* op, const Tensor& x) {
  if (!is_complex(x->dtype)) {
    PRISM_CHECK(std::strcmp(op, "imag") != 0, INVALID_ARGUMENT,
                "imag: not implemented for tensors with non-complex dtypes (", describe(x), ")");
    return x;
  }
  return unary(op, x);
}

Tensor unary_predicate(const char* op, const Tensor& x) {
  static const char* const kOps[] = {"isnan", "isinf", "isfinite", "signbit"};
  bool known = false;
  for (const char* k : kOps) known = known || std::strcmp(op, k) == 0;
  PRISM_CHECK(known, INVALID_ARGUMENT, "unknown unary predicate '", op, "'");
  PRISM_CHECK(!(x->dtype == PRISM_DTYPE_BOOL && std::strcmp(op, "signbit") == 0), INVALID_ARGUMENT,
              "signbit: not supported for bool tensors");
  PRISM_CHECK(!(is_complex(x->dtype) && std::strcmp(op, "signbit") == 0), INVALID_ARGUMENT,
              "signbit: not supported for complex tensors (", describe(x), ")");
  Tensor out = empty(x->sizes, PRISM_DTYPE_BOOL, x->device());
  if (out->numel() > 0) run_kernel(op, x->dtype, {x.get()}, {out.get()});
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (autograd::should_record({&a, &b}))
    return autograd::recorded("where", {cond, a, b}, {}, [&] { return where(cond, a, b); });
  common_device("where", {cond.get(), a.get(), b.get()});
  PRISM_CHECK(cond->dtype == PRISM_DTYPE_BOOL, INVALID_ARGUMENT,
              "where: expected condition to be a bool tensor, got ", describe(cond));
  prism_dtype dt = result_type({a.get(), b.get()});
  Dims shape = broadcast_shapes("where", broadcast_shapes("where", cond->sizes, a->sizes), b->sizes);
  Tensor cc = cast_expand(cond, PRISM_DTYPE_BOOL, shape);
  Tensor ca = cast_expand(a, dt, shape), cb = cast_expand(b, dt, shape);
  Tensor out = empty(shape, dt, a->device());
  if (out->numel() > 0) run_kernel("where", dt, {cc.get(), ca.get(), cb.get()}, {out.get()});
  return out;
}

namespace {
prism_dtype clamp_dtype(const Tensor& x, const double* mn, const double* mx) {
  PRISM_CHECK(mn != nullptr || mx != nullptr, INVALID_ARGUMENT,
              "clamp: at least one of 'min' or 'max' must not be None");
  PRISM_CHECK(x->dtype != PRISM_DTYPE_BOOL, INVALID_ARGUMENT, "clamp: not implemented for bool tensors");
  auto integral_value = [](const double* v) { return v == nullptr || std::floor(*v) == *v; };
  if (!is_float(x->dtype) && !(integral_value(mn) && integral_value(mx))) return kDefaultFloat;
  return x->dtype;
}
autograd::OpAttrs clamp_grad_attrs(const double* mn, const double* mx) {
  autograd::OpAttrs at;
  at.has_min = mn != nullptr;
  at.has_max = mx != nullptr;
  at.min = mn != nullptr ? *mn : 0;
  at.max = mx != nullptr ? *mx : 0;
  return at;
}
Attrs clamp_attrs(const double* mn, const double* mx) {
  Attrs at;
  if (mn != nullptr) at.add_scalar("min", *mn);
  if (mx != nullptr) at.add_scalar("max", *mx);
  return at;
}
}  // namespace

Tensor clamp(const Tensor& x, const double* mn, const double* mx) {
  if (autograd::should_record({&x}))
    return autograd::recorded("clamp", {x}, clamp_grad_attrs(mn, mx), [&] { return clamp(x, mn, mx); });
  prism_dtype dt = clamp_dtype(x, mn, mx);
  Tensor cx = to_dtype(x, dt);
  Tensor out = empty(x->sizes, dt, x->device());
  if (out->numel() > 0) run_kernel("clamp", dt, {cx.get()}, {out.get()}, clamp_attrs(mn, mx));
  return out;
}

void clamp_(const Tensor& x, const double* mn, const double* mx) {
  prism_dtype dt = clamp_dtype(x, mn, mx);
  check_result_castable("clamp", dt, x->dtype);
  check_writable("clamp", x);
  if (autograd::should_record({&x})) {
    autograd::recorded_inplace("clamp_", x, [&](const Tensor& old) { return clamp(old, mn, mx); });
    return;
  }
  bump_version(x);
  if (x->numel() > 0) run_kernel("clamp", dt, {x.get()}, {x.get()}, clamp_attrs(mn, mx));
}

}  // namespace prism
