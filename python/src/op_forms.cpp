// op_forms.cpp — prism._C bindings of prism.h's "Op forms": clamp with tensor bounds, gelu approximations,
// pad, conv2d padding modes, mm, and dtype= on softmax / sum / prod / mean.

// Note [Op forms in prism._C]
// ---------------------------
// One-to-one wrappers of the prism.h functions; prism.nn.functional and the
// Tensor methods installed by prism/_op_forms.py do the PyTorch-style
// argument handling (strings, defaults, None). Names start with "op_" so
// they never shadow the older bindings.

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <string>
#include <vector>

#include "tensor.h"

using prism_py::check;
using prism_py::opt_handle;
using prism_py::tensor_arg;
using prism_py::wrap;

namespace {

using Handle = nb::handle;

std::array<int64_t, 2> pair_of(nb::handle o, const char* what) {
  std::vector<int64_t> v = prism_py::int_list(o, what);
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) throw nb::value_error((std::string(what) + " must be an int or a pair of ints").c_str());
  return {v[0], v[1]};
}

nb::object clamp_tensor(Handle x, Handle lo, Handle hi) {
  prism_tensor_t out = nullptr;
  check(prism_clamp_tensor(tensor_arg(x, "input"), opt_handle(lo, "min"), opt_handle(hi, "max"), &out));
  return wrap(out);
}

nb::object gelu_approximate(Handle x, int approximate) {
  prism_tensor_t out = nullptr;
  check(prism_gelu_approximate(tensor_arg(x, "input"), static_cast<prism_gelu_approximation>(approximate),
                               &out));
  return wrap(out);
}

nb::object pad(Handle x, Handle pads, int mode, double value) {
  std::vector<int64_t> p = prism_py::int_list(pads, "pad");
  prism_tensor_t out = nullptr;
  check(prism_pad(tensor_arg(x, "input"), p.empty() ? nullptr : p.data(), p.size(),
                  static_cast<prism_pad_mode>(mode), value, &out));
  return wrap(out);
}

nb::object conv2d_padding(Handle input, Handle weight, Handle bias, Handle stride, int padding,
                          Handle dilation, int64_t groups) {
  const auto s = pair_of(stride, "stride");
  const auto d = pair_of(dilation, "dilation");
  prism_tensor_t out = nullptr;
  check(prism_conv2d_padding(tensor_arg(input, "input"), tensor_arg(weight, "weight"),
                             opt_handle(bias, "bias"), s.data(), static_cast<prism_conv_padding>(padding),
                             d.data(), groups, &out));
  return wrap(out);
}

nb::object mm(Handle a, Handle b) {
  prism_tensor_t out = nullptr;
  check(prism_mm(tensor_arg(a, "input"), tensor_arg(b, "mat2"), &out));
  return wrap(out);
}

nb::object softmax_dtype(Handle x, int64_t dim, Handle dtype, bool log) {
  prism_tensor_t out = nullptr;
  prism_dtype dt = prism_py::dtype_arg(dtype);
  if (log) {
    check(prism_log_softmax_dtype(tensor_arg(x, "input"), dim, dt, &out));
  } else {
    check(prism_softmax_dtype(tensor_arg(x, "input"), dim, dt, &out));
  }
  return wrap(out);
}

nb::object reduce_dtype(const std::string& op, Handle x, Handle dim, bool keepdim, Handle dtype) {
  std::vector<int64_t> d = dim.is_none() ? std::vector<int64_t>() : prism_py::int_list(dim, "dim");
  prism_dtype dt = prism_py::dtype_arg(dtype);
  prism_tensor_t h = tensor_arg(x, "input");
  const int64_t* dp = d.empty() ? nullptr : d.data();
  const auto n = static_cast<int32_t>(d.size());
  prism_tensor_t out = nullptr;
  if (op == "sum") {
    check(prism_sum_dtype(h, dp, n, keepdim ? 1 : 0, dt, &out));
  } else if (op == "prod") {
    check(prism_prod_dtype(h, dp, n, keepdim ? 1 : 0, dt, &out));
  } else if (op == "mean") {
    check(prism_mean_dtype(h, dp, n, keepdim ? 1 : 0, dt, &out));
  } else {
    throw nb::value_error(("reduce_dtype: unknown reduction '" + op + "'").c_str());
  }
  return wrap(out);
}

}  // namespace

void register_op_forms(nb::module_& m) {
  using namespace nb::literals;
  m.def("op_clamp_tensor", &clamp_tensor, "input"_a.none(), "min"_a.none(), "max"_a.none(),
        "prism_clamp_tensor.");
  m.def("op_gelu_approximate", &gelu_approximate, "input"_a.none(), "approximate"_a,
        "prism_gelu_approximate.");
  m.def("op_pad", &pad, "input"_a.none(), "pad"_a, "mode"_a, "value"_a, "prism_pad.");
  m.def("op_conv2d_padding", &conv2d_padding, "input"_a.none(), "weight"_a.none(), "bias"_a.none(),
        "stride"_a, "padding"_a, "dilation"_a, "groups"_a, "prism_conv2d_padding.");
  m.def("op_mm", &mm, "input"_a.none(), "mat2"_a.none(), "prism_mm.");
  m.def("op_softmax_dtype", &softmax_dtype, "input"_a.none(), "dim"_a, "dtype"_a, "log"_a,
        "prism_softmax_dtype / prism_log_softmax_dtype.");
  m.def("op_reduce_dtype", &reduce_dtype, "op"_a, "input"_a.none(), "dim"_a.none(), "keepdim"_a, "dtype"_a,
        "prism_sum_dtype / prism_prod_dtype / prism_mean_dtype.");
}
