// profiler.cpp — prism._C bindings of the profiler section of prism.h (prism.profiler is built on them).
#include <nanobind/stl/string.h>

#include <string>

#include "tensor.h"

void register_profiler(nb::module_& m) {
  using namespace prism_py;  // NOLINT(google-build-using-namespace): a .cpp file, one function
  m.def(
      "_profiler_start",
      [](bool record_shapes, bool device_time) {
        prism_profiler_options o{};
        o.struct_size = sizeof(o);
        o.record_shapes = record_shapes ? 1 : 0;
        o.device_time = device_time ? 1 : 0;
        check(prism_profiler_start(&o));
      },
      nb::arg("record_shapes") = true, nb::arg("device_time") = true,
      "Clears the recorded events and starts recording every op (prism_profiler_start).");
  m.def(
      "_profiler_stop", [] { check(prism_profiler_stop()); }, "Stops recording (prism_profiler_stop).");
  m.def(
      "_profiler_is_enabled",
      [] {
        int32_t on = 0;
        check(prism_profiler_is_enabled(&on));
        return on != 0;
      },
      "True while the profiler records.");
  m.def(
      "_profiler_range_push", [](const std::string& name) { check(prism_profiler_range_push(name.c_str())); },
      nb::arg("name"), "Opens a named user range on this thread.");
  m.def(
      "_profiler_range_pop", [] { check(prism_profiler_range_pop()); }, "Closes the innermost user range.");
  m.def(
      "_profiler_events",
      [] {
        size_t n = 0;
        check(prism_profiler_event_count(&n));
        nb::list out;
        for (size_t i = 0; i < n; ++i) {
          prism_profiler_event e{};
          e.struct_size = sizeof(e);
          check(prism_profiler_event_get(i, &e));
          out.append(nb::make_tuple(e.name, e.device, e.dtype, e.fallback, e.shapes, e.start_ns, e.host_ns,
                                    e.self_ns, e.device_ns, e.bytes, e.thread, e.is_range != 0));
        }
        return out;
      },
      "The recorded events as tuples (name, device, dtype, fallback, shapes, start_ns, host_ns, self_ns, "
      "device_ns, bytes, thread, is_range), by start time.");
  m.def(
      "_profiler_export_chrome_trace",
      [](const std::string& path) { check(prism_profiler_export_chrome_trace(path.c_str())); },
      nb::arg("path"), "Writes the recorded events as a Chrome trace (JSON).");
  m.def(
      "_profiler_summary",
      [](size_t row_limit) {
        size_t needed = 0;
        check(prism_profiler_summary(row_limit, nullptr, 0, &needed));
        std::string text(needed, '\0');
        check(prism_profiler_summary(row_limit, &text[0], text.size(), &needed));
        text.resize(text.size() - 1);
        return text;
      },
      nb::arg("row_limit") = 0, "The summary table of the core, sorted by total host time.");
}
