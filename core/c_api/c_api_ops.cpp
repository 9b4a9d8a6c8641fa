// c_api_ops.cpp — user C ABI: elementwise ops, reductions, matmul, joining/splitting and random creation.
#include "core/c_api/handle.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"
#include "prism/prism.h"

using prism::Dims;
using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::make;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

std::vector<int64_t> dims_list(const int64_t* dims, int32_t n, const char* op) {
  PRISM_CHECK(n >= 0 && (n == 0 || dims != nullptr), INVALID_ARGUMENT, op, ": dims is NULL with n_dims ", n);
  return std::vector<int64_t>(dims, dims + n);
}

std::vector<Tensor> tensor_list(const prism_tensor_t* ts, size_t n, const char* op) {
  PRISM_CHECK(ts != nullptr || n == 0, INVALID_ARGUMENT, op, ": tensors array is NULL");
  std::vector<Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(arg(ts[i], op, "tensors[i]"));
  return v;
}

prism_status write_list(std::vector<Tensor> parts, prism_tensor_t* outs, size_t capacity, size_t* n_out,
                        const char* op) {
  out_arg(n_out, op);
  *n_out = parts.size();
  PRISM_CHECK(capacity >= parts.size() && (outs != nullptr || parts.empty()), INVALID_ARGUMENT, op,
              ": capacity ", capacity, " is smaller than the ", parts.size(), " pieces");
  for (size_t i = 0; i < parts.size(); ++i) outs[i] = wrap(std::move(parts[i]));
  return PRISM_OK;
}

prism::Device* dev(const char* name) {
  return prism::Runtime::get().device(name);
}

}  // namespace

extern "C" {

// ---- elementwise --------------------------------------------------------------------------------------

#define PRISM_DEFINE_UNARY(name)                                                      \
  PRISM_API prism_status prism_##name(prism_tensor_t x, prism_tensor_t* out) {        \
    return make(out, #name, [&] { return prism::unary(#name, arg(x, #name, "x")); }); \
  }                                                                                   \
  PRISM_API prism_status prism_##name##_(prism_tensor_t x) {                          \
    return guard([&] { prism::unary_(#name, arg(x, #name "_", "x")); });              \
  }

PRISM_DEFINE_UNARY(neg)
PRISM_DEFINE_UNARY(abs)
PRISM_DEFINE_UNARY(sign)
PRISM_DEFINE_UNARY(exp)
PRISM_DEFINE_UNARY(log)
PRISM_DEFINE_UNARY(log1p)
PRISM_DEFINE_UNARY(expm1)
PRISM_DEFINE_UNARY(sqrt)
PRISM_DEFINE_UNARY(rsqrt)
PRISM_DEFINE_UNARY(reciprocal)
PRISM_DEFINE_UNARY(square)
PRISM_DEFINE_UNARY(sin)
PRISM_DEFINE_UNARY(cos)
PRISM_DEFINE_UNARY(tanh)
PRISM_DEFINE_UNARY(sigmoid)
PRISM_DEFINE_UNARY(relu)
PRISM_DEFINE_UNARY(gelu)
PRISM_DEFINE_UNARY(silu)
PRISM_DEFINE_UNARY(floor)
PRISM_DEFINE_UNARY(ceil)
PRISM_DEFINE_UNARY(round)
PRISM_DEFINE_UNARY(trunc)
PRISM_DEFINE_UNARY(tan)
PRISM_DEFINE_UNARY(asin)
PRISM_DEFINE_UNARY(acos)
PRISM_DEFINE_UNARY(atan)
PRISM_DEFINE_UNARY(sinh)
PRISM_DEFINE_UNARY(cosh)
PRISM_DEFINE_UNARY(asinh)
PRISM_DEFINE_UNARY(acosh)
PRISM_DEFINE_UNARY(atanh)
PRISM_DEFINE_UNARY(log2)
PRISM_DEFINE_UNARY(log10)
PRISM_DEFINE_UNARY(bitwise_not)

PRISM_API prism_status prism_add(prism_tensor_t a, prism_tensor_t b, double alpha, prism_tensor_t* out) {
  return make(out, "add",
              [&] { return prism::binary("add", arg(a, "add", "a"), arg(b, "add", "b"), alpha); });
}
PRISM_API prism_status prism_add_(prism_tensor_t a, prism_tensor_t b, double alpha) {
  return guard([&] { prism::binary_("add", arg(a, "add_", "a"), arg(b, "add_", "b"), alpha); });
}
PRISM_API prism_status prism_sub(prism_tensor_t a, prism_tensor_t b, double alpha, prism_tensor_t* out) {
  return make(out, "sub",
              [&] { return prism::binary("sub", arg(a, "sub", "a"), arg(b, "sub", "b"), alpha); });
}
PRISM_API prism_status prism_sub_(prism_tensor_t a, prism_tensor_t b, double alpha) {
  return guard([&] { prism::binary_("sub", arg(a, "sub_", "a"), arg(b, "sub_", "b"), alpha); });
}

#define PRISM_DEFINE_BINARY(name)                                                                          \
  PRISM_API prism_status prism_##name(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out) {           \
    return make(out, #name, [&] { return prism::binary(#name, arg(a, #name, "a"), arg(b, #name, "b")); }); \
  }                                                                                                        \
  PRISM_API prism_status prism_##name##_(prism_tensor_t a, prism_tensor_t b) {                             \
    return guard([&] { prism::binary_(#name, arg(a, #name "_", "a"), arg(b, #name "_", "b")); });          \
  }

PRISM_DEFINE_BINARY(mul)
PRISM_DEFINE_BINARY(div)
PRISM_DEFINE_BINARY(remainder)
PRISM_DEFINE_BINARY(pow)
PRISM_DEFINE_BINARY(maximum)
PRISM_DEFINE_BINARY(minimum)
PRISM_DEFINE_BINARY(atan2)
PRISM_DEFINE_BINARY(hypot)
PRISM_DEFINE_BINARY(copysign)
PRISM_DEFINE_BINARY(logaddexp)
PRISM_DEFINE_BINARY(nextafter)
PRISM_DEFINE_BINARY(bitwise_and)
PRISM_DEFINE_BINARY(bitwise_or)
PRISM_DEFINE_BINARY(bitwise_xor)
PRISM_DEFINE_BINARY(bitwise_left_shift)
PRISM_DEFINE_BINARY(bitwise_right_shift)

PRISM_API prism_status prism_div_mode(prism_tensor_t a, prism_tensor_t b, prism_rounding_mode mode,
                                      prism_tensor_t* out) {
  return make(out, "div", [&] { return prism::div_mode(arg(a, "div", "a"), arg(b, "div", "b"), mode); });
}

#define PRISM_DEFINE_PREDICATE(name)                                                                        \
  PRISM_API prism_status prism_##name(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out) {            \
    return make(out, #name, [&] { return prism::compare(#name, arg(a, #name, "a"), arg(b, #name, "b")); }); \
  }

PRISM_DEFINE_PREDICATE(eq)
PRISM_DEFINE_PREDICATE(ne)
PRISM_DEFINE_PREDICATE(lt)
PRISM_DEFINE_PREDICATE(le)
PRISM_DEFINE_PREDICATE(gt)
PRISM_DEFINE_PREDICATE(ge)
PRISM_DEFINE_PREDICATE(logical_and)
PRISM_DEFINE_PREDICATE(logical_or)
PRISM_DEFINE_PREDICATE(logical_xor)

PRISM_API prism_status prism_logical_not(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "logical_not", [&] { return prism::logical_not(arg(x, "logical_not", "x")); });
}

#define PRISM_DEFINE_UNARY_PREDICATE(name)                                                      \
  PRISM_API prism_status prism_##name(prism_tensor_t x, prism_tensor_t* out) {                  \
    return make(out, #name, [&] { return prism::unary_predicate(#name, arg(x, #name, "x")); }); \
  }

PRISM_DEFINE_UNARY_PREDICATE(isnan)
PRISM_DEFINE_UNARY_PREDICATE(isinf)
PRISM_DEFINE_UNARY_PREDICATE(isfinite)
PRISM_DEFINE_UNARY_PREDICATE(signbit)

PRISM_API prism_status prism_real(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "real", [&] { return prism::complex_part("real", arg(x, "real", "x")); });
}
PRISM_API prism_status prism_imag(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "imag", [&] { return prism::complex_part("imag", arg(x, "imag", "x")); });
}
PRISM_API prism_status prism_conj(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "conj", [&] { return prism::complex_part("conj", arg(x, "conj", "x")); });
}

PRISM_API prism_status prism_where(prism_tensor_t cond, prism_tensor_t a, prism_tensor_t b,
                                   prism_tensor_t* out) {
  return make(out, "where", [&] {
    return prism::where(arg(cond, "where", "cond"), arg(a, "where", "a"), arg(b, "where", "b"));
  });
}

PRISM_API prism_status prism_clamp(prism_tensor_t x, const double* min, const double* max,
                                   prism_tensor_t* out) {
  return make(out, "clamp", [&] { return prism::clamp(arg(x, "clamp", "x"), min, max); });
}
PRISM_API prism_status prism_clamp_(prism_tensor_t x, const double* min, const double* max) {
  return guard([&] { prism::clamp_(arg(x, "clamp_", "x"), min, max); });
}

// ---- reductions ---------------------------------------------------------------------------------------

#define PRISM_DEFINE_KERNEL_REDUCTION(name)                                                          \
  PRISM_API prism_status prism_##name(prism_tensor_t x, const int64_t* dims, int32_t n_dims,         \
                                      int32_t keepdim, prism_tensor_t* out) {                        \
    return make(out, #name, [&] {                                                                    \
      return prism::reduce(#name, arg(x, #name, "x"), dims_list(dims, n_dims, #name), keepdim != 0); \
    });                                                                                              \
  }

PRISM_DEFINE_KERNEL_REDUCTION(sum)
PRISM_DEFINE_KERNEL_REDUCTION(prod)
PRISM_DEFINE_KERNEL_REDUCTION(amax)
PRISM_DEFINE_KERNEL_REDUCTION(amin)
PRISM_DEFINE_KERNEL_REDUCTION(all)
PRISM_DEFINE_KERNEL_REDUCTION(any)

PRISM_API prism_status prism_mean(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int32_t keepdim,
                                  prism_tensor_t* out) {
  return make(out, "mean", [&] {
    return prism::mean(arg(x, "mean", "x"), dims_list(dims, n_dims, "mean"), keepdim != 0);
  });
}
PRISM_API prism_status prism_logsumexp(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int32_t keepdim,
                                       prism_tensor_t* out) {
  return make(out, "logsumexp", [&] {
    return prism::logsumexp(arg(x, "logsumexp", "x"), dims_list(dims, n_dims, "logsumexp"), keepdim != 0);
  });
}
PRISM_API prism_status prism_var(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int64_t correction,
                                 int32_t keepdim, prism_tensor_t* out) {
  return make(out, "var", [&] {
    return prism::var(arg(x, "var", "x"), dims_list(dims, n_dims, "var"), correction, keepdim != 0);
  });
}
PRISM_API prism_status prism_std(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int64_t correction,
                                 int32_t keepdim, prism_tensor_t* out) {
  return make(out, "std", [&] {
    return prism::std_(arg(x, "std", "x"), dims_list(dims, n_dims, "std"), correction, keepdim != 0);
  });
}
PRISM_API prism_status prism_norm(prism_tensor_t x, double p, const int64_t* dims, int32_t n_dims,
                                  int32_t keepdim, prism_tensor_t* out) {
  return make(out, "norm", [&] {
    return prism::norm(arg(x, "norm", "x"), p, dims_list(dims, n_dims, "norm"), keepdim != 0);
  });
}
PRISM_API prism_status prism_max(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "max", [&] {
    const Tensor& t = arg(x, "max", "x");
    PRISM_CHECK(t->numel() > 0, INVALID_ARGUMENT, "max(): expected a non-empty tensor, got ",
                prism::describe(t));
    return prism::reduce("amax", t, {}, false);
  });
}
PRISM_API prism_status prism_min(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "min", [&] {
    const Tensor& t = arg(x, "min", "x");
    PRISM_CHECK(t->numel() > 0, INVALID_ARGUMENT, "min(): expected a non-empty tensor, got ",
                prism::describe(t));
    return prism::reduce("amin", t, {}, false);
  });
}

namespace {
prism_status max_min(bool is_max, prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* values,
                     prism_tensor_t* indices) {
  const char* op = is_max ? "max_dim" : "min_dim";
  return guard([&] {
    out_arg(values, op);
    out_arg(indices, op);
    auto r = prism::max_min_dim(is_max, arg(x, op, "x"), dim, keepdim != 0);
    *values = wrap(std::move(r.first));
    *indices = wrap(std::move(r.second));
  });
}
}  // namespace

PRISM_API prism_status prism_max_dim(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* values,
                                     prism_tensor_t* indices) {
  return max_min(true, x, dim, keepdim, values, indices);
}
PRISM_API prism_status prism_min_dim(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* values,
                                     prism_tensor_t* indices) {
  return max_min(false, x, dim, keepdim, values, indices);
}
PRISM_API prism_status prism_argmax(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* out) {
  return make(out, "argmax",
              [&] { return prism::arg_reduce("argmax", arg(x, "argmax", "x"), dim, keepdim != 0); });
}
PRISM_API prism_status prism_argmin(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* out) {
  return make(out, "argmin",
              [&] { return prism::arg_reduce("argmin", arg(x, "argmin", "x"), dim, keepdim != 0); });
}

// ---- linear algebra, joining, splitting ----------------------------------------------------------------

PRISM_API prism_status prism_matmul(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out) {
  return make(out, "matmul", [&] { return prism::matmul(arg(a, "matmul", "a"), arg(b, "matmul", "b")); });
}
PRISM_API prism_status prism_bmm(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out) {
  return make(out, "bmm", [&] { return prism::bmm(arg(a, "bmm", "a"), arg(b, "bmm", "b")); });
}
PRISM_API prism_status prism_cat(const prism_tensor_t* tensors, size_t n, int64_t dim, prism_tensor_t* out) {
  return make(out, "cat", [&] { return prism::cat(tensor_list(tensors, n, "cat"), dim); });
}
PRISM_API prism_status prism_stack(const prism_tensor_t* tensors, size_t n, int64_t dim,
                                   prism_tensor_t* out) {
  return make(out, "stack", [&] { return prism::stack(tensor_list(tensors, n, "stack"), dim); });
}
PRISM_API prism_status prism_split(prism_tensor_t t, int64_t split_size, int64_t dim, prism_tensor_t* outs,
                                   size_t capacity, size_t* n_out) {
  return guard([&] {
    write_list(prism::split(arg(t, "split", "t"), split_size, dim), outs, capacity, n_out, "split");
  });
}
PRISM_API prism_status prism_split_sizes(prism_tensor_t t, const int64_t* sizes, size_t n_sizes, int64_t dim,
                                         prism_tensor_t* outs, size_t capacity, size_t* n_out) {
  return guard([&] {
    PRISM_CHECK(sizes != nullptr || n_sizes == 0, INVALID_ARGUMENT, "split_sizes: sizes is NULL");
    std::vector<int64_t> s(sizes, sizes + n_sizes);
    write_list(prism::split_sizes(arg(t, "split_sizes", "t"), s, dim), outs, capacity, n_out, "split_sizes");
  });
}
PRISM_API prism_status prism_chunk(prism_tensor_t t, int64_t chunks, int64_t dim, prism_tensor_t* outs,
                                   size_t capacity, size_t* n_out) {
  return guard(
      [&] { write_list(prism::chunk(arg(t, "chunk", "t"), chunks, dim), outs, capacity, n_out, "chunk"); });
}
PRISM_API prism_status prism_equal(prism_tensor_t a, prism_tensor_t b, int32_t* result) {
  return guard([&] {
    out_arg(result, "equal");
    *result = prism::equal(arg(a, "equal", "a"), arg(b, "equal", "b")) ? 1 : 0;
  });
}
PRISM_API prism_status prism_allclose(prism_tensor_t a, prism_tensor_t b, double rtol, double atol,
                                      int32_t equal_nan, int32_t* result) {
  return guard([&] {
    out_arg(result, "allclose");
    *result =
        prism::allclose(arg(a, "allclose", "a"), arg(b, "allclose", "b"), rtol, atol, equal_nan != 0) ? 1 : 0;
  });
}

// ---- random -----------------------------------------------------------------------------------------------

PRISM_API prism_status prism_rand(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                  prism_tensor_t* out) {
  return make(out, "rand", [&] { return prism::rand(Dims::from(sizes, ndim), dtype, dev(device)); });
}
PRISM_API prism_status prism_randn(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out) {
  return make(out, "randn", [&] { return prism::randn(Dims::from(sizes, ndim), dtype, dev(device)); });
}
PRISM_API prism_status prism_randint(int64_t low, int64_t high, const int64_t* sizes, int32_t ndim,
                                     prism_dtype dtype, const char* device, prism_tensor_t* out) {
  return make(out, "randint",
              [&] { return prism::randint(low, high, Dims::from(sizes, ndim), dtype, dev(device)); });
}
PRISM_API prism_status prism_randperm(int64_t n, prism_dtype dtype, const char* device, prism_tensor_t* out) {
  return make(out, "randperm", [&] { return prism::randperm(n, dtype, dev(device)); });
}
PRISM_API prism_status prism_bernoulli(prism_tensor_t p, prism_tensor_t* out) {
  return make(out, "bernoulli", [&] { return prism::bernoulli(arg(p, "bernoulli", "p")); });
}
PRISM_API prism_status prism_bernoulli_scalar(const int64_t* sizes, int32_t ndim, double p, prism_dtype dtype,
                                              const char* device, prism_tensor_t* out) {
  return make(out, "bernoulli",
              [&] { return prism::bernoulli_scalar(Dims::from(sizes, ndim), p, dtype, dev(device)); });
}

}  // extern "C"
