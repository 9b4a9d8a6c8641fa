// math_ops.cpp — module-level prism._C bindings of the elementwise math, predicate and bitwise ops of
// prism.h.
#include "tensor.h"

namespace prism_py {
namespace {

using UnaryFn = prism_status (*)(prism_tensor_t, prism_tensor_t*);
using BinaryFn = prism_status (*)(prism_tensor_t, prism_tensor_t, prism_tensor_t*);
using UnaryInplaceFn = prism_status (*)(prism_tensor_t);
using BinaryInplaceFn = prism_status (*)(prism_tensor_t, prism_tensor_t);

template <UnaryFn F>
nb::object unary(nb::handle x) {
  prism_tensor_t out = nullptr;
  check(F(tensor_arg(x, "input"), &out));
  return wrap(out);
}

template <UnaryInplaceFn F>
nb::object unary_inplace(nb::handle x) {
  check(F(tensor_arg(x, "input")));
  return nb::borrow(x);
}

template <BinaryFn F>
nb::object binary(nb::handle a, nb::handle b) {
  prism_tensor_t out = nullptr;
  check(F(tensor_arg(a, "input"), tensor_arg(b, "other"), &out));
  return wrap(out);
}

template <BinaryInplaceFn F>
nb::object binary_inplace(nb::handle a, nb::handle b) {
  check(F(tensor_arg(a, "input"), tensor_arg(b, "other")));
  return nb::borrow(a);
}

}  // namespace

}  // namespace prism_py

// Note [Module-level math ops]: these take tensors only (no Python scalars);
// the Tensor type's methods and operators, and prism.array_api, build on them.
void register_math_ops(nb::module_& m) {
  using namespace prism_py;  // NOLINT(google-build-using-namespace): a .cpp file, one function
#define PRISM_PY_MATH_UNARY(name)                                                                   \
  m.def(#name, &unary<prism_##name>, nb::arg("input"), "Elementwise " #name " (prism_" #name ")."); \
  m.def(#name "_", &unary_inplace<prism_##name##_>, nb::arg("input"), "In-place " #name ".");
#define PRISM_PY_MATH_BINARY(name)                                                        \
  m.def(#name, &binary<prism_##name>, nb::arg("input"), nb::arg("other"),                 \
        "Elementwise " #name " with broadcasting and type promotion (prism_" #name ")."); \
  m.def(#name "_", &binary_inplace<prism_##name##_>, nb::arg("input"), nb::arg("other"),  \
        "In-place " #name ".");
#define PRISM_PY_MATH_PREDICATE(name) \
  m.def(#name, &unary<prism_##name>, nb::arg("input"), "Elementwise " #name " -> bool (prism_" #name ").");

  PRISM_PY_MATH_UNARY(trunc)
  PRISM_PY_MATH_UNARY(tan)
  PRISM_PY_MATH_UNARY(asin)
  PRISM_PY_MATH_UNARY(acos)
  PRISM_PY_MATH_UNARY(atan)
  PRISM_PY_MATH_UNARY(sinh)
  PRISM_PY_MATH_UNARY(cosh)
  PRISM_PY_MATH_UNARY(asinh)
  PRISM_PY_MATH_UNARY(acosh)
  PRISM_PY_MATH_UNARY(atanh)
  PRISM_PY_MATH_UNARY(log2)
  PRISM_PY_MATH_UNARY(log10)
  PRISM_PY_MATH_UNARY(bitwise_not)
  PRISM_PY_MATH_PREDICATE(isnan)
  PRISM_PY_MATH_PREDICATE(isinf)
  PRISM_PY_MATH_PREDICATE(isfinite)
  PRISM_PY_MATH_PREDICATE(signbit)
  m.def("real", &unary<prism_real>, nb::arg("input"),
        "Real part (prism_real): float for complex, input itself otherwise.");
  m.def("imag", &unary<prism_imag>, nb::arg("input"), "Imaginary part of a complex tensor (prism_imag).");
  m.def("conj", &unary<prism_conj>, nb::arg("input"),
        "Complex conjugate (prism_conj): input itself for real dtypes.");
  PRISM_PY_MATH_BINARY(atan2)
  PRISM_PY_MATH_BINARY(hypot)
  PRISM_PY_MATH_BINARY(copysign)
  PRISM_PY_MATH_BINARY(logaddexp)
  PRISM_PY_MATH_BINARY(nextafter)
  PRISM_PY_MATH_BINARY(bitwise_and)
  PRISM_PY_MATH_BINARY(bitwise_or)
  PRISM_PY_MATH_BINARY(bitwise_xor)
  PRISM_PY_MATH_BINARY(bitwise_left_shift)
  PRISM_PY_MATH_BINARY(bitwise_right_shift)
#undef PRISM_PY_MATH_UNARY
#undef PRISM_PY_MATH_BINARY
#undef PRISM_PY_MATH_PREDICATE
}
