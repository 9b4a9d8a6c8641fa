// amp.cpp — prism._C bindings of the mixed-precision C ABI: autocast scopes and the gradient-scaler ops.
// prism.amp (Python) builds torch.autocast and GradScaler on them.

#include <nanobind/stl/string.h>

#include <string>

#include "tensor.h"

using prism_py::check;
using prism_py::tensor_arg;

void register_amp(nb::module_& m) {
  using namespace nb::literals;
  m.def(
      "autocast_enter",
      [](const std::string& device_type, nb::handle dtype, bool enabled) {
        check(prism_autocast_enter(device_type.c_str(), prism_py::dtype_arg(dtype), enabled ? 1 : 0));
      },
      "device_type"_a, "dtype"_a, "enabled"_a,
      "prism_autocast_enter: opens an autocast scope on this thread (prism.autocast uses it).");
  m.def(
      "autocast_exit", [] { check(prism_autocast_exit()); },
      "prism_autocast_exit: closes the innermost autocast scope of this thread.");
  m.def(
      "autocast_is_enabled",
      [](const std::string& device_type) {
        int32_t on = 0;
        check(prism_autocast_is_enabled(device_type.c_str(), &on));
        return on != 0;
      },
      "device_type"_a, "True when autocast is on for the device type on this thread.");
  m.def(
      "autocast_get_dtype",
      [](const std::string& device_type) {
        prism_dtype d = PRISM_DTYPE_BF16;
        check(prism_autocast_get_dtype(device_type.c_str(), &d));
        return prism_py::dtype_object(d);
      },
      "device_type"_a, "The innermost autocast scope's dtype for the device type (or the default).");
  m.def(
      "amp_unscale_check",
      [](nb::handle grad, nb::handle found_inf, nb::handle inv_scale) {
        check(prism_amp_unscale_check(tensor_arg(grad, "grad"), tensor_arg(found_inf, "found_inf"),
                                      tensor_arg(inv_scale, "inv_scale")));
      },
      "grad"_a.none(), "found_inf"_a.none(), "inv_scale"_a.none(),
      "prism_amp_unscale_check: grad *= inv_scale in place; found_inf = 1 when grad holds NaN/Inf.");
  m.def(
      "amp_update_scale",
      [](nb::handle scale, nb::handle tracker, nb::handle found_inf, double growth_factor,
         double backoff_factor, int64_t growth_interval) {
        check(prism_amp_update_scale(tensor_arg(scale, "scale"), tensor_arg(tracker, "growth_tracker"),
                                     tensor_arg(found_inf, "found_inf"), growth_factor, backoff_factor,
                                     growth_interval));
      },
      "scale"_a.none(), "growth_tracker"_a.none(), "found_inf"_a.none(), "growth_factor"_a,
      "backoff_factor"_a, "growth_interval"_a,
      "prism_amp_update_scale: GradScaler's scale update (backoff on overflow, growth after "
      "growth_interval clean steps), in place.");
}
