// c_api_streams.cpp — user C ABI: streams, events, record_stream, non-blocking copies, pinned tensors.
#include <memory>

#include "core/c_api/handle.hpp"
#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"
#include "core/tensor/tensor.hpp"
#include "prism/prism.h"

using prism::capi::arg;
using prism::capi::guard;
using prism::capi::out_arg;
using prism::capi::wrap;

// The handles: a reference to a stream or event, checked by a tag so a NULL
// or foreign pointer is an error instead of a crash (a released handle stays
// a use-after-free, as with any C object).
struct prism_user_stream_s {
  uint32_t tag = 0x5354524du;  // "STRM"
  prism::StreamPtr stream;
};
struct prism_user_event_s {
  uint32_t tag = 0x4556454eu;  // "EVEN"
  std::shared_ptr<prism::Event> event;
};

namespace {

prism::Stream& stream_arg(prism_user_stream_t s, const char* op) {
  PRISM_CHECK(s != nullptr && s->tag == 0x5354524du && s->stream != nullptr, INVALID_ARGUMENT, op,
              ": the stream handle is NULL or not a stream");
  return *s->stream;
}

prism::Event& event_arg(prism_user_event_t e, const char* op) {
  PRISM_CHECK(e != nullptr && e->tag == 0x4556454eu && e->event != nullptr, INVALID_ARGUMENT, op,
              ": the event handle is NULL or not an event");
  return *e->event;
}

template <typename T>
void out_ptr(T* out, const char* op) {
  PRISM_CHECK(out != nullptr, INVALID_ARGUMENT, op, ": the output pointer is NULL");
}

prism_user_stream_t new_stream_handle(prism::StreamPtr s) {
  auto* h = new prism_user_stream_s();
  h->stream = std::move(s);
  return h;
}

}  // namespace

PRISM_API prism_status prism_stream_create(const char* device, prism_user_stream_t* out) {
  return guard([&] {
    out_ptr(out, "stream_create");
    *out = new_stream_handle(prism::create_stream(prism::Runtime::get().device(device)));
  });
}

PRISM_API prism_status prism_stream_destroy(prism_user_stream_t s) {
  return guard([&] {
    if (s == nullptr) return;
    stream_arg(s, "stream_destroy");
    s->tag = 0;
    delete s;
  });
}

PRISM_API prism_status prism_stream_synchronize(prism_user_stream_t s) {
  return guard([&] {
    prism::Stream& st = stream_arg(s, "stream_synchronize");
    prism::synchronize_stream(st.device, st.handle);
    prism::reap_keep_alives(false);
  });
}

PRISM_API prism_status prism_stream_query(prism_user_stream_t s, int32_t* done) {
  return guard([&] {
    prism::Stream& st = stream_arg(s, "stream_query");
    out_ptr(done, "stream_query");
    *done = prism::stream_query(st) ? 1 : 0;
  });
}

PRISM_API prism_status prism_stream_get_device(prism_user_stream_t s, const char** device, uint64_t* id) {
  return guard([&] {
    prism::Stream& st = stream_arg(s, "stream_get_device");
    out_ptr(device, "stream_get_device");
    *device = st.device->name.c_str();
    if (id != nullptr) *id = st.id;
  });
}

PRISM_API prism_status prism_stream_set_current(prism_user_stream_t s) {
  return guard([&] {
    stream_arg(s, "stream_set_current");
    prism::set_current_stream(s->stream);
  });
}

PRISM_API prism_status prism_stream_get_current(const char* device, prism_user_stream_t* out) {
  return guard([&] {
    out_ptr(out, "stream_get_current");
    *out = new_stream_handle(prism::current_stream(prism::Runtime::get().device(device)));
  });
}

PRISM_API prism_status prism_stream_get_default(const char* device, prism_user_stream_t* out) {
  return guard([&] {
    out_ptr(out, "stream_get_default");
    *out = new_stream_handle(prism::default_stream(prism::Runtime::get().device(device)));
  });
}

PRISM_API prism_status prism_event_create(int32_t enable_timing, prism_user_event_t* out) {
  return guard([&] {
    out_ptr(out, "event_create");
    auto* h = new prism_user_event_s();
    h->event = std::make_shared<prism::Event>(enable_timing != 0);
    *out = h;
  });
}

PRISM_API prism_status prism_event_destroy(prism_user_event_t e) {
  return guard([&] {
    if (e == nullptr) return;
    event_arg(e, "event_destroy");
    e->tag = 0;
    delete e;
  });
}

PRISM_API prism_status prism_event_record(prism_user_event_t e, prism_user_stream_t s) {
  return guard([&] { event_arg(e, "event_record").record(stream_arg(s, "event_record")); });
}

PRISM_API prism_status prism_event_wait(prism_user_event_t e, prism_user_stream_t s) {
  return guard([&] { event_arg(e, "event_wait").wait(stream_arg(s, "event_wait")); });
}

PRISM_API prism_status prism_event_synchronize(prism_user_event_t e) {
  return guard([&] {
    event_arg(e, "event_synchronize").synchronize();
    prism::reap_keep_alives(false);
  });
}

PRISM_API prism_status prism_event_query(prism_user_event_t e, int32_t* done) {
  return guard([&] {
    prism::Event& ev = event_arg(e, "event_query");
    out_ptr(done, "event_query");
    *done = ev.query() ? 1 : 0;
  });
}

PRISM_API prism_status prism_event_elapsed_time(prism_user_event_t start, prism_user_event_t end,
                                                double* ms) {
  return guard([&] {
    prism::Event& a = event_arg(start, "event_elapsed_time");
    prism::Event& b = event_arg(end, "event_elapsed_time");
    out_ptr(ms, "event_elapsed_time");
    *ms = a.elapsed_ms(b);
  });
}

PRISM_API prism_status prism_tensor_record_stream(prism_tensor_t t, prism_user_stream_t s) {
  return guard([&] {
    const prism::Tensor& x = arg(t, "tensor_record_stream", "t");
    prism::Stream& st = stream_arg(s, "tensor_record_stream");
    PRISM_CHECK(st.device == x->device(), INVALID_ARGUMENT, "tensor_record_stream: the stream is on ",
                st.device->name, " but the tensor ", prism::describe(x), " is not");
    prism::record_stream(x, st.handle);
  });
}

PRISM_API prism_status prism_to_device_non_blocking(prism_tensor_t t, const char* device,
                                                    int32_t non_blocking, prism_tensor_t* out) {
  return guard([&] {
    out_arg(out, "to_device_non_blocking");
    prism::Tensor r = prism::to_device(arg(t, "to_device_non_blocking", "t"),
                                       prism::Runtime::get().device(device), non_blocking != 0);
    *out = wrap(std::move(r));
  });
}

PRISM_API prism_status prism_empty_pinned(const int64_t* sizes, int32_t ndim, prism_dtype dtype,
                                          const char* device, prism_tensor_t* out) {
  return guard([&] {
    out_arg(out, "empty_pinned");
    PRISM_CHECK(ndim >= 0 && ndim <= PRISM_MAX_DIMS, INVALID_ARGUMENT, "empty_pinned: ndim ", ndim,
                " is out of range [0, ", PRISM_MAX_DIMS, "]");
    PRISM_CHECK(ndim == 0 || sizes != nullptr, INVALID_ARGUMENT,
                "empty_pinned: sizes pointer is NULL with ndim ", ndim);
    *out = wrap(
        prism::empty_pinned(prism::Dims::from(sizes, ndim), dtype, prism::Runtime::get().device(device)));
  });
}
