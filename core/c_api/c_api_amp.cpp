// c_api_amp.cpp — user C ABI: autocast scopes and the gradient-scaler ops (Note [Autocast],
// Note [Gradient scaler ops]).
#include "core/c_api/handle.hpp"
#include "core/dispatch/amp_scale.hpp"
#include "core/dispatch/autocast.hpp"
#include "prism/prism.h"

using prism::capi::arg;
using prism::capi::guard;
using prism::capi::out_arg;

namespace {
std::string device_type_arg(const char* device_type, const char* op) {
  PRISM_CHECK(device_type != nullptr, INVALID_ARGUMENT, op, ": device_type is NULL");
  return device_type;
}
}  // namespace

extern "C" {

PRISM_API prism_status prism_autocast_enter(const char* device_type, prism_dtype dtype, int32_t enabled) {
  return guard(
      [&] { prism::amp::enter(device_type_arg(device_type, "autocast_enter"), dtype, enabled != 0); });
}

PRISM_API prism_status prism_autocast_exit(void) {
  return guard([&] { prism::amp::exit(); });
}

PRISM_API prism_status prism_autocast_is_enabled(const char* device_type, int32_t* enabled) {
  return guard([&] {
    out_arg(enabled, "autocast_is_enabled");
    *enabled = prism::amp::is_enabled(device_type_arg(device_type, "autocast_is_enabled")) ? 1 : 0;
  });
}

PRISM_API prism_status prism_autocast_get_dtype(const char* device_type, prism_dtype* dtype) {
  return guard([&] {
    out_arg(dtype, "autocast_get_dtype");
    *dtype = prism::amp::get_dtype(device_type_arg(device_type, "autocast_get_dtype"));
  });
}

PRISM_API prism_status prism_amp_unscale_check(prism_tensor_t grad, prism_tensor_t found_inf,
                                               prism_tensor_t inv_scale) {
  const char* op = "amp_unscale_check";
  return guard([&] {
    prism::amp_unscale_check(arg(grad, op, "grad"), arg(found_inf, op, "found_inf"),
                             arg(inv_scale, op, "inv_scale"));
  });
}

PRISM_API prism_status prism_amp_update_scale(prism_tensor_t scale, prism_tensor_t growth_tracker,
                                              prism_tensor_t found_inf, double growth_factor,
                                              double backoff_factor, int64_t growth_interval) {
  const char* op = "amp_update_scale";
  return guard([&] {
    prism::amp_update_scale(arg(scale, op, "scale"), arg(growth_tracker, op, "growth_tracker"),
                            arg(found_inf, op, "found_inf"), growth_factor, backoff_factor, growth_interval);
  });
}

}  // extern "C"
