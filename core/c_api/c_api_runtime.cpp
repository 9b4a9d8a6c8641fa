// c_api_runtime.cpp — user C ABI: errors, versions, dtypes, plugins, devices, fallback, memory, seeding.
#include <cstring>

#include "core/c_api/handle.hpp"
#include "core/dispatch/dispatch.hpp"
#include "core/dispatch/ops.hpp"
#include "core/memory/caching_allocator.hpp"
#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"
#include "prism/prism.h"

using prism::capi::guard;
using prism::capi::out_arg;

namespace prism::capi {

namespace {
struct ErrorState {
  prism_status status = PRISM_OK;
  std::string message;
};
ErrorState& error_state() {
  thread_local ErrorState s;
  return s;
}
}  // namespace

prism_status set_error(prism_status status, const std::string& message) {
  ErrorState& s = error_state();
  s.status = status;
  s.message = message;
  return status;
}

const char* last_error_message() {
  return error_state().message.c_str();
}
prism_status last_error_status() {
  return error_state().status;
}

}  // namespace prism::capi

extern "C" {

PRISM_API const char* prism_last_error(void) {
  return prism::capi::last_error_message();
}
PRISM_API prism_status prism_last_status(void) {
  return prism::capi::last_error_status();
}
PRISM_API void prism_clear_error(void) {
  prism::capi::set_error(PRISM_OK, "");
}

PRISM_API const char* prism_status_name(prism_status status) {
  return prism::status_name(status);
}

PRISM_API const char* prism_version(void) {
  return PRISM_VERSION_STRING;
}

PRISM_API void prism_plugin_abi_version(uint32_t* major, uint32_t* minor) {
  if (major != nullptr) *major = PRISM_PLUGIN_ABI_MAJOR;
  if (minor != nullptr) *minor = PRISM_PLUGIN_ABI_MINOR;
}

PRISM_API const char* prism_dtype_name(prism_dtype dtype) {
  return prism::dtype_name(dtype);
}
PRISM_API size_t prism_dtype_size(prism_dtype dtype) {
  return prism::dtype_size(dtype);
}

PRISM_API prism_status prism_promote_types(prism_dtype a, prism_dtype b, prism_dtype* out) {
  return guard([&] {
    out_arg(out, "promote_types");
    *out = prism::promote_types(a, b);
  });
}

// ---- plugins ----------------------------------------------------------------------------------

PRISM_API prism_status prism_plugin_load(const char* path) {
  return guard([&] {
    PRISM_CHECK(path != nullptr && *path != '\0', INVALID_ARGUMENT, "plugin_load: path is NULL or empty");
    prism::Runtime::get().load_path(path);
  });
}

PRISM_API prism_status prism_plugins_load_default(void) {
  return guard([&] { prism::Runtime::get().load_default(); });
}

namespace {
// Report strings are handed out as const char* that live until exit: keep a
// stable, append-only copy of the report's rows.
struct ReportCache {
  std::mutex mutex;
  std::vector<std::unique_ptr<prism::LoadReportRow>> rows;
};
ReportCache& report_cache() {
  static ReportCache* c = new ReportCache;  // lives for the process (strings handed out)
  return *c;
}
const prism::LoadReportRow& report_row(size_t index) {
  auto rows = prism::Runtime::get().load_report();
  PRISM_CHECK(index < rows.size(), INVALID_ARGUMENT, "load_report_get: index ", index,
              " is out of range for ", rows.size(), " rows");
  ReportCache& c = report_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  // Rows are final once added and only ever appended: copy the new ones.
  while (c.rows.size() < rows.size())
    c.rows.push_back(std::make_unique<prism::LoadReportRow>(rows[c.rows.size()]));
  return *c.rows[index];
}
}  // namespace

PRISM_API prism_status prism_load_report_count(size_t* n) {
  return guard([&] {
    out_arg(n, "load_report_count");
    prism::Runtime::get().load_default();
    *n = prism::Runtime::get().load_report().size();
  });
}

PRISM_API prism_status prism_load_report_get(size_t index, prism_load_report_row* row) {
  return guard([&] {
    out_arg(row, "load_report_get");
    PRISM_CHECK(row->struct_size >= offsetof(prism_load_report_row, reason) + sizeof(row->reason),
                INVALID_ARGUMENT, "load_report_get: row->struct_size (", row->struct_size,
                ") is smaller than the v1 layout");
    prism::Runtime::get().load_default();
    const prism::LoadReportRow& r = report_row(index);
    row->path = r.path.c_str();
    row->plugin_name = r.plugin_name.c_str();
    row->loaded = r.loaded ? 1 : 0;
    row->abi_major = r.abi_major;
    row->abi_minor = r.abi_minor;
    row->device_count = r.device_count;
    row->reason = r.reason.c_str();
    if (PRISM_HAS(row, prism_load_report_row, kind)) row->kind = r.kind.c_str();
  });
}

// ---- devices ----------------------------------------------------------------------------------

PRISM_API prism_status prism_device_count(int32_t* n) {
  return guard([&] {
    out_arg(n, "device_count");
    prism::Runtime::get().load_default();
    *n = static_cast<int32_t>(prism::Runtime::get().devices().size());
  });
}

PRISM_API prism_status prism_device_info_get(int32_t index, prism_device_info* info) {
  return guard([&] {
    out_arg(info, "device_info_get");
    PRISM_CHECK(info->struct_size >= offsetof(prism_device_info, capabilities) + sizeof(info->capabilities),
                INVALID_ARGUMENT, "device_info_get: info->struct_size (", info->struct_size,
                ") is smaller than the v1 layout");
    prism::Runtime::get().load_default();
    auto devs = prism::Runtime::get().devices();
    PRISM_CHECK(index >= 0 && static_cast<size_t>(index) < devs.size(), INVALID_ARGUMENT,
                "device_info_get: index ", index, " is out of range for ", devs.size(), " devices");
    const prism::Device* d = devs[static_cast<size_t>(index)];
    info->device = d->name.c_str();
    info->plugin = d->plugin->name.c_str();
    info->name = d->device_name.c_str();
    info->vendor = d->vendor.c_str();
    info->stable_id = d->stable_id.c_str();
    info->total_memory = d->total_memory;
    info->dtype_mask = d->dtype_mask;
    info->capabilities = d->capabilities;
  });
}

PRISM_API prism_status prism_synchronize(const char* device) {
  return guard([&] {
    prism::synchronize_device(prism::Runtime::get().device(device));  // every stream (Note [User streams])
  });
}

// ---- fallback -----------------------------------------------------------------------------------

PRISM_API prism_status prism_fallback_set_policy(prism_fallback_policy policy) {
  return guard([&] {
    PRISM_CHECK(policy >= PRISM_FALLBACK_ALLOW && policy <= PRISM_FALLBACK_ERROR, INVALID_ARGUMENT,
                "fallback_set_policy: invalid policy ", int(policy));
    prism::set_fallback_policy(policy);
  });
}
PRISM_API prism_status prism_fallback_get_policy(prism_fallback_policy* policy) {
  return guard([&] {
    out_arg(policy, "fallback_get_policy");
    *policy = prism::fallback_policy();
  });
}
PRISM_API prism_status prism_fallback_count(const char* op, uint64_t* count) {
  return guard([&] {
    out_arg(count, "fallback_count");
    *count = prism::fallback_count(op);
  });
}
PRISM_API prism_status prism_fallback_reset(void) {
  return guard([&] { prism::fallback_reset(); });
}

// ---- memory -------------------------------------------------------------------------------------

PRISM_API prism_status prism_memory_stats_get(const char* device, prism_memory_stats* stats) {
  return guard([&] {
    out_arg(stats, "memory_stats_get");
    size_t want = stats->struct_size;
    PRISM_CHECK(want >= offsetof(prism_memory_stats, num_cache_hits) + sizeof(uint64_t), INVALID_ARGUMENT,
                "memory_stats_get: stats->struct_size (", want, ") is smaller than the v1 layout");
    prism_memory_stats s = prism::Runtime::get().device(device)->allocator->stats();
    std::memcpy(stats, &s, std::min(want, sizeof(s)));
    stats->struct_size = want;
  });
}
PRISM_API prism_status prism_memory_reset_peak(const char* device) {
  return guard([&] { prism::Runtime::get().device(device)->allocator->reset_peak(); });
}
PRISM_API prism_status prism_memory_empty_cache(const char* device) {
  return guard([&] {
    prism::Device* d = prism::Runtime::get().device(device);
    d->allocator->empty_cache();
    prism::free_cached_pinned(d);
  });
}

PRISM_API prism_status prism_memory_set_limit(const char* device, uint64_t bytes) {
  return guard([&] { prism::Runtime::get().device(device)->allocator->set_limit(bytes); });
}
PRISM_API prism_status prism_memory_get_limit(const char* device, uint64_t* bytes) {
  return guard([&] {
    out_arg(bytes, "memory_get_limit");
    *bytes = prism::Runtime::get().device(device)->allocator->limit();
  });
}

// ---- random -------------------------------------------------------------------------------------

PRISM_API prism_status prism_manual_seed(uint64_t seed) {
  return guard([&] { prism::manual_seed(seed); });
}

}  // extern "C"
