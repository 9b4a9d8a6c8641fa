// streams.cpp — prism._C stream and event handles, record_stream and non-blocking copies (prism.h "Streams
// and events").
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "tensor.h"

using namespace nb::literals;  // NOLINT(google-build-using-namespace): as the other binding files

namespace prism_py {
namespace {

// One owned prism_user_stream_t.
struct StreamHandle {
  prism_user_stream_t h = nullptr;
  StreamHandle() = default;
  explicit StreamHandle(prism_user_stream_t s) : h(s) {}
  StreamHandle(const StreamHandle&) = delete;
  StreamHandle& operator=(const StreamHandle&) = delete;
  ~StreamHandle() { prism_stream_destroy(h); }
};

// One owned prism_user_event_t.
struct EventHandle {
  prism_user_event_t h = nullptr;
  explicit EventHandle(bool timing) { check(prism_event_create(timing ? 1 : 0, &h)); }
  EventHandle(const EventHandle&) = delete;
  EventHandle& operator=(const EventHandle&) = delete;
  ~EventHandle() { prism_event_destroy(h); }
};

StreamHandle* new_stream(prism_status (*fn)(const char*, prism_user_stream_t*), const std::string& device) {
  prism_user_stream_t s = nullptr;
  check(fn(device.empty() ? nullptr : device.c_str(), &s));
  return new StreamHandle(s);
}

}  // namespace
}  // namespace prism_py

void register_streams(nb::module_& m) {
  using prism_py::check;
  using prism_py::EventHandle;
  using prism_py::StreamHandle;
  nb::class_<StreamHandle>(m, "_StreamHandle", "A stream of one device (prism_user_stream_t).")
      .def_prop_ro(
          "device",
          [](const StreamHandle& s) {
            const char* d = nullptr;
            check(prism_stream_get_device(s.h, &d, nullptr));
            return std::string(d);
          },
          "The stream's device, e.g. 'opencl:0'.")
      .def_prop_ro(
          "id",
          [](const StreamHandle& s) {
            const char* d = nullptr;
            uint64_t id = 0;
            check(prism_stream_get_device(s.h, &d, &id));
            return id;
          },
          "0 for a default stream, else a number unique to the stream.")
      .def(
          "synchronize",
          [](const StreamHandle& s) {
            nb::gil_scoped_release nogil;
            check(prism_stream_synchronize(s.h));
          },
          "Blocks until the stream's queued work completed.")
      .def(
          "query",
          [](const StreamHandle& s) {
            int32_t done = 0;
            check(prism_stream_query(s.h, &done));
            return done != 0;
          },
          "True when the stream has no pending work.")
      .def(
          "set_current", [](const StreamHandle& s) { check(prism_stream_set_current(s.h)); },
          "Makes this stream this thread's current stream of its device.");

  nb::class_<EventHandle>(m, "_EventHandle", "An event (prism_user_event_t).")
      .def(nb::init<bool>(), "enable_timing"_a)
      .def(
          "record", [](EventHandle& e, const StreamHandle& s) { check(prism_event_record(e.h, s.h)); },
          "stream"_a, "Captures the work queued so far on `stream`.")
      .def(
          "wait", [](EventHandle& e, const StreamHandle& s) { check(prism_event_wait(e.h, s.h)); },
          "stream"_a, "Work queued on `stream` afterwards waits for the captured work.")
      .def(
          "synchronize",
          [](EventHandle& e) {
            nb::gil_scoped_release nogil;
            check(prism_event_synchronize(e.h));
          },
          "Blocks until the captured work completed.")
      .def(
          "query",
          [](EventHandle& e) {
            int32_t done = 0;
            check(prism_event_query(e.h, &done));
            return done != 0;
          },
          "True when the captured work completed.")
      .def(
          "elapsed_time",
          [](EventHandle& e, EventHandle& end) {
            double ms = 0;
            {
              nb::gil_scoped_release nogil;
              check(prism_event_elapsed_time(e.h, end.h, &ms));
            }
            return ms;
          },
          "end"_a, "Milliseconds from this event to `end`.");

  m.def(
      "_stream_create",
      [](const std::string& device) { return prism_py::new_stream(prism_stream_create, device); }, "device"_a,
      nb::rv_policy::take_ownership, "A new stream of `device`.");
  m.def(
      "_stream_current",
      [](const std::string& device) { return prism_py::new_stream(prism_stream_get_current, device); },
      "device"_a, nb::rv_policy::take_ownership, "This thread's current stream of `device`.");
  m.def(
      "_stream_default",
      [](const std::string& device) { return prism_py::new_stream(prism_stream_get_default, device); },
      "device"_a, nb::rv_policy::take_ownership, "The default stream of `device`.");
  m.def(
      "_record_stream",
      [](nb::handle t, const StreamHandle& s) {
        check(prism_tensor_record_stream(prism_py::tensor_arg(t, "tensor"), s.h));
      },
      "tensor"_a, "stream"_a, "Marks the tensor's memory as used by work on `stream`.");
  m.def(
      "_to_device_non_blocking",
      [](nb::handle t, const std::string& device) {
        prism_tensor_t out = nullptr;
        check(prism_to_device_non_blocking(prism_py::tensor_arg(t, "tensor"), device.c_str(), 1, &out));
        return prism_py::wrap(out);
      },
      "tensor"_a, "device"_a, "to(device, non_blocking=True).");
  m.def(
      "_empty_pinned",
      [](const std::vector<int64_t>& sizes, nb::handle dtype, const std::string& device) {
        prism_tensor_t out = nullptr;
        check(prism_empty_pinned(sizes.data(), static_cast<int32_t>(sizes.size()), prism_py::dtype_arg(dtype),
                                 device.c_str(), &out));
        return prism_py::wrap(out);
      },
      "sizes"_a, "dtype"_a, "device"_a, "An uninitialised host tensor pinned for `device`.");
}
