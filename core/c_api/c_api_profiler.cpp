// c_api_profiler.cpp — the prism_profiler_* section of the C ABI over core/profiler.
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/c_api/handle.hpp"
#include "core/profiler/profiler.hpp"
#include "prism/prism.h"

using prism::capi::guard;
using prism::capi::out_arg;

namespace {

// The snapshot prism_profiler_event_get reads (strings owned here until the
// next prism_profiler_start or snapshot).
struct Snapshot {
  std::mutex mutex;
  std::vector<prism::profiler::Event> events;
  std::vector<std::string> shapes;
};
Snapshot& snapshot() {
  static Snapshot s;
  return s;
}

std::string shapes_text(const prism::profiler::Event& e) {
  std::string s;
  for (const auto& shape : e.shapes) {
    if (!s.empty()) s += ", ";
    s += "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    s += "]";
  }
  return s;
}

}  // namespace

PRISM_API prism_status prism_profiler_start(const prism_profiler_options* options) {
  return guard([&] {
    if (options != nullptr) {
      PRISM_CHECK(options->struct_size >= offsetof(prism_profiler_options, device_time) + sizeof(int32_t),
                  INVALID_ARGUMENT, "profiler_start: options->struct_size (", options->struct_size,
                  ") is smaller than the v1 layout");
    }
    Snapshot& s = snapshot();
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.events.clear();
      s.shapes.clear();
    }
    prism::profiler::start(options);
  });
}

PRISM_API prism_status prism_profiler_stop(void) {
  return guard([&] { prism::profiler::stop(); });
}

PRISM_API prism_status prism_profiler_is_enabled(int32_t* enabled) {
  return guard([&] {
    out_arg(enabled, "profiler_is_enabled");
    *enabled = prism::profiler::enabled() ? 1 : 0;
  });
}

PRISM_API prism_status prism_profiler_range_push(const char* name) {
  return guard([&] { prism::profiler::range_push(name); });
}

PRISM_API prism_status prism_profiler_range_pop(void) {
  return guard([&] { prism::profiler::range_pop(); });
}

PRISM_API prism_status prism_profiler_event_count(size_t* count) {
  return guard([&] {
    out_arg(count, "profiler_event_count");
    Snapshot& s = snapshot();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.events = prism::profiler::events();
    s.shapes.clear();
    s.shapes.reserve(s.events.size());
    for (const auto& e : s.events) s.shapes.push_back(shapes_text(e));
    *count = s.events.size();
  });
}

PRISM_API prism_status prism_profiler_event_get(size_t i, prism_profiler_event* event) {
  return guard([&] {
    out_arg(event, "profiler_event_get");
    PRISM_CHECK(event->struct_size >= offsetof(prism_profiler_event, is_range) + sizeof(int32_t),
                INVALID_ARGUMENT, "profiler_event_get: event->struct_size (", event->struct_size,
                ") is smaller than the v1 layout");
    Snapshot& s = snapshot();
    std::lock_guard<std::mutex> lock(s.mutex);
    PRISM_CHECK(i < s.events.size(), INDEX, "profiler_event_get: index ", i, " out of range for ",
                s.events.size(), " events (call prism_profiler_event_count first)");
    const prism::profiler::Event& e = s.events[i];
    event->name = e.name.c_str();
    event->device = e.device.c_str();
    event->dtype = e.dtype.c_str();
    event->fallback = e.fallback.c_str();
    event->shapes = s.shapes[i].c_str();
    event->start_ns = e.start_ns;
    event->host_ns = e.host_ns;
    event->self_ns = e.self_ns;
    event->device_ns = e.device_ns;
    event->bytes = e.bytes;
    event->thread = e.tid;
    event->is_range = e.is_range ? 1 : 0;
  });
}

PRISM_API prism_status prism_profiler_export_chrome_trace(const char* path) {
  return guard([&] {
    PRISM_CHECK(path != nullptr, INVALID_ARGUMENT, "profiler_export_chrome_trace: path is NULL");
    prism::profiler::export_chrome_trace(path);
  });
}

PRISM_API prism_status prism_profiler_summary(size_t row_limit, char* buf, size_t capacity, size_t* needed) {
  return guard([&] {
    PRISM_CHECK(buf != nullptr || capacity == 0, INVALID_ARGUMENT,
                "profiler_summary: buf is NULL with capacity ", capacity);
    std::string text = prism::profiler::summary(row_limit);
    if (needed != nullptr) *needed = text.size() + 1;
    if (capacity > 0) {
      size_t n = std::min(capacity - 1, text.size());
      std::memcpy(buf, text.data(), n);
      buf[n] = '\0';
    }
  });
}
