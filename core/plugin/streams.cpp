// streams.cpp — user streams and events over the plugin's stream/event slots; see Note [User streams].
#include "core/plugin/streams.hpp"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

namespace prism {

// Note [User streams]
// -------------------
// A Stream wraps a plugin stream (stream_create, plugin ABI 1.2) or, with a
// NULL handle, the device's default stream. Each thread has a current stream
// per device (default: the default stream); the dispatcher passes it in
// prism_kernel_call.stream and every copy the core issues for that device
// goes to it, so code written without streams runs on the default stream as
// before. A device whose plugin has no stream slots (cpu, emu) hands out
// streams that alias its default stream: work stays in one order, which is
// always a correct schedule of several streams (it only forgoes overlap).
// As in CUDA, streams are ordered only by events: a tensor made on one
// stream and read on another needs wait_stream/event.wait first, and a
// tensor used on a stream other than the one that allocated it needs
// record_stream before it is released (Note [Stream-aware caching]).
// prism_synchronize waits for the default stream and every live user stream
// of the device.

namespace {

std::atomic<uint64_t> g_next_stream_id{1};

// Process-wide tables are never destroyed: plugins outlive static
// destructors (Note [Runtime singleton]), and so must what points into them.
// Live user streams, for synchronize_device.
std::mutex g_live_mu;
auto& g_live = *new std::vector<std::weak_ptr<Stream>>();

// Default streams, one per device.
std::mutex g_default_mu;
auto& g_defaults = *new std::vector<std::pair<Device*, StreamPtr>>();

// This thread's current streams (only devices whose stream was set).
thread_local std::vector<std::pair<const Device*, StreamPtr>> t_current;
// Set once any thread sets a current stream (Note [Thread-local fast paths]):
// until then every thread's current stream is the default one.
std::atomic<bool> g_any_current{false};

const prism_plugin_table& table_of(const Device* d) {
  return *d->plugin->table;
}

bool has_elapsed(const Device* d) {
  const prism_plugin_table* t = d->plugin->table;
  return d->plugin->has_events && PRISM_HAS(t, prism_plugin_table, event_elapsed_ms) &&
         t->event_elapsed_ms != nullptr;
}

bool is_async(const Device* d) {
  return (d->capabilities & PRISM_DEVICE_CAP_ASYNC) != 0;
}

}  // namespace

bool has_user_streams(const Device* d) {
  const prism_plugin_table* t = d->plugin->table;
  return PRISM_HAS(t, prism_plugin_table, stream_destroy) && t->stream_create != nullptr &&
         t->stream_destroy != nullptr;
}

bool has_event_query(const Device* d) {
  const prism_plugin_table* t = d->plugin->table;
  return d->plugin->has_events && PRISM_HAS(t, prism_plugin_table, event_query) && t->event_query != nullptr;
}

namespace {
void forget_pending(const Device* device, prism_stream_t handle);  // Note [Idle streams]
}  // namespace

Stream::~Stream() {
  if (owned && handle != nullptr) {
    table_of(device).stream_destroy(device->plugin->ctx, device->index, handle);
    forget_pending(device, handle);  // the plugin may hand the handle out again
  }
}

StreamPtr create_stream(Device* device) {
  PRISM_CHECK(device != nullptr, INVALID_ARGUMENT, "stream_create: no device");
  auto s = std::make_shared<Stream>();
  s->device = device;
  s->id = g_next_stream_id.fetch_add(1);
  if (has_user_streams(device)) {
    prism_stream_t h = nullptr;
    PRISM_PLUGIN_CHECK(table_of(device).stream_create(device->plugin->ctx, device->index, &h),
                       *device->plugin, "stream_create on ", device->name);
    s->handle = h;
    s->owned = true;
  }
  std::lock_guard<std::mutex> lock(g_live_mu);
  g_live.erase(std::remove_if(g_live.begin(), g_live.end(), [](const auto& w) { return w.expired(); }),
               g_live.end());
  g_live.push_back(s);
  return s;
}

StreamPtr default_stream(Device* device) {
  std::lock_guard<std::mutex> lock(g_default_mu);
  for (auto& p : g_defaults)
    if (p.first == device) return p.second;
  auto s = std::make_shared<Stream>();
  s->device = device;
  g_defaults.emplace_back(device, s);
  return s;
}

StreamPtr current_stream(Device* device) {
  for (auto& p : t_current)
    if (p.first == device) return p.second;
  return default_stream(device);
}

prism_stream_t current_stream_handle(const Device* device) {
  if (!g_any_current.load(std::memory_order_relaxed)) return nullptr;
  for (auto& p : t_current)
    if (p.first == device) return p.second->handle;
  return nullptr;
}

void set_current_stream(const StreamPtr& stream) {
  PRISM_CHECK(stream != nullptr, INVALID_ARGUMENT, "stream_set_current: no stream");
  g_any_current.store(true, std::memory_order_relaxed);
  for (auto& p : t_current) {
    if (p.first == stream->device) {
      p.second = stream;
      return;
    }
  }
  t_current.emplace_back(stream->device, stream);
}

// Note [Idle streams]
// -------------------
// stream_query on a device with events records an event and asks whether it
// has completed. An event recorded on an idle stream still has to pass
// through the device's queue (PoCL runs the marker on a worker thread a few
// microseconds later), so "synchronize, then query" could answer "busy". The
// core therefore remembers which streams have had work queued (kernels,
// host-to-device copies and event waits, through launch_stream) since they
// were last seen idle, and answers "done" at once for the others. A stream is
// seen idle when it is synchronized, or when an event recorded on it after
// its last launch is found complete (Event::synchronize, Event::query).
namespace {
struct Pending {
  const Device* device;
  prism_stream_t handle;
  uint64_t gen;  // bumped by every launch on the stream
  bool pending;  // work queued since the stream was last seen idle
};
std::mutex g_pending_mu;
auto& g_pending = *new std::vector<Pending>();

Pending& pending_entry(const Device* device, prism_stream_t handle) {  // g_pending_mu held
  for (Pending& p : g_pending)
    if (p.device == device && p.handle == handle) return p;
  g_pending.push_back(Pending{device, handle, 0, false});
  return g_pending.back();
}

void note_launch(const Device* device, prism_stream_t handle) {
  std::lock_guard<std::mutex> lock(g_pending_mu);
  Pending& p = pending_entry(device, handle);
  ++p.gen;
  p.pending = true;
}

uint64_t stream_gen(const Device* device, prism_stream_t handle) {
  std::lock_guard<std::mutex> lock(g_pending_mu);
  return pending_entry(device, handle).gen;
}

// The stream is idle when nothing was launched on it after `gen` (or at all,
// with gen = UINT64_MAX meaning "whatever was launched": a synchronize).
void note_idle(const Device* device, prism_stream_t handle, uint64_t gen) {
  std::lock_guard<std::mutex> lock(g_pending_mu);
  Pending& p = pending_entry(device, handle);
  if (gen == UINT64_MAX || p.gen == gen) p.pending = false;
}

void forget_pending(const Device* device, prism_stream_t handle) {
  std::lock_guard<std::mutex> lock(g_pending_mu);
  g_pending.erase(std::remove_if(g_pending.begin(), g_pending.end(),
                                 [&](const Pending& p) { return p.device == device && p.handle == handle; }),
                  g_pending.end());
}

bool is_pending(const Device* device, prism_stream_t handle) {
  std::lock_guard<std::mutex> lock(g_pending_mu);
  return pending_entry(device, handle).pending;
}
}  // namespace

prism_stream_t launch_stream(const Device* device) {
  prism_stream_t handle = current_stream_handle(device);
  if (has_event_query(device)) note_launch(device, handle);
  return handle;
}

void synchronize_stream(Device* device, prism_stream_t handle) {
  PRISM_PLUGIN_CHECK(table_of(device).synchronize(device->plugin->ctx, device->index, handle),
                     *device->plugin, "synchronize ", device->name);
  note_idle(device, handle, UINT64_MAX);
}

void synchronize_device(Device* device) {
  std::vector<StreamPtr> live;
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    for (auto& w : g_live)
      if (auto s = w.lock(); s && s->device == device && s->handle != nullptr) live.push_back(s);
  }
  synchronize_stream(device, nullptr);
  for (auto& s : live) synchronize_stream(device, s->handle);
  reap_keep_alives(false);
}

bool stream_query(const Stream& s) {
  Device* d = s.device;
  if (has_event_query(d)) {
    if (!is_pending(d, s.handle)) return true;  // Note [Idle streams]
    const prism_plugin_table& t = table_of(d);
    prism_event_t ev = nullptr;
    PRISM_PLUGIN_CHECK(t.event_create(d->plugin->ctx, d->index, &ev), *d->plugin, "stream query on ",
                       d->name);
    int32_t done = 0;
    prism_plugin_error* err = t.event_record(d->plugin->ctx, d->index, ev, s.handle);
    if (err == nullptr) err = t.event_query(d->plugin->ctx, ev, &done);
    t.event_destroy(d->plugin->ctx, ev);
    PRISM_PLUGIN_CHECK(err, *d->plugin, "stream query on ", d->name);
    return done != 0;
  }
  if (is_async(d)) synchronize_stream(d, s.handle);
  return true;
}

// Note [User events]
// ------------------
// An event captures the work queued on a stream when it is recorded. On a
// device with event slots it is the plugin's event, created at the first
// record (and again when recorded on another plugin's device); wait is the
// plugin's device-side wait when the stream belongs to the same plugin, a
// host wait otherwise. A device without event slots (cpu, emu) cannot mark a
// point in its queue, so record waits for the stream there (a no-op on a
// synchronous device): the event is complete once recorded, and wait has
// nothing to do. Timing: elapsed_ms uses the plugin's event_elapsed_ms
// (device timestamps) when it has one; otherwise an event with timing is
// host-timed, i.e. record waits for the stream and reads the host clock, so
// the figure includes the host's launch gaps. elapsed_ms waits for both
// events (PyTorch's raises when one is pending).

Event::~Event() {
  if (handle_ != nullptr) table_of(device_).event_destroy(device_->plugin->ctx, handle_);
}

void Event::record(const Stream& s) {
  std::lock_guard<std::mutex> lock(mu_);
  Device* d = s.device;
  if (d->plugin->has_events) {
    if (handle_ != nullptr && device_->plugin != d->plugin) {
      table_of(device_).event_destroy(device_->plugin->ctx, handle_);
      handle_ = nullptr;
    }
    if (handle_ == nullptr) {
      PRISM_PLUGIN_CHECK(table_of(d).event_create(d->plugin->ctx, d->index, &handle_), *d->plugin,
                         "event_create on ", d->name);
    }
    device_ = d;
    rec_stream_ = s.handle;
    rec_gen_ = stream_gen(d, s.handle);
    PRISM_PLUGIN_CHECK(table_of(d).event_record(d->plugin->ctx, d->index, handle_, s.handle), *d->plugin,
                       "event_record on ", d->name);
    host_timed_ = timing_ && !has_elapsed(d);
  } else {
    if (handle_ != nullptr) {
      table_of(device_).event_destroy(device_->plugin->ctx, handle_);
      handle_ = nullptr;
    }
    device_ = d;
    host_timed_ = timing_;
    if (is_async(d)) synchronize_stream(d, s.handle);
  }
  if (host_timed_) {
    if (handle_ != nullptr)
      PRISM_PLUGIN_CHECK(table_of(d).event_synchronize(d->plugin->ctx, handle_), *d->plugin,
                         "event_synchronize on ", d->name);
    host_time_ = std::chrono::steady_clock::now();
  }
  recorded_ = true;
}

void Event::wait(const Stream& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!recorded_ || handle_ == nullptr) return;  // nothing captured, or complete at record
  Device* d = s.device;
  if (d->plugin == device_->plugin) {
    PRISM_PLUGIN_CHECK(table_of(d).event_wait(d->plugin->ctx, d->index, handle_, s.handle), *d->plugin,
                       "event_wait on ", d->name);
    if (has_event_query(d)) note_launch(d, s.handle);  // a queued wait is work (Note [Idle streams])
  } else {
    PRISM_PLUGIN_CHECK(table_of(device_).event_synchronize(device_->plugin->ctx, handle_), *device_->plugin,
                       "event_synchronize on ", device_->name);
  }
}

void Event::synchronize() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!recorded_ || handle_ == nullptr) return;
  PRISM_PLUGIN_CHECK(table_of(device_).event_synchronize(device_->plugin->ctx, handle_), *device_->plugin,
                     "event_synchronize on ", device_->name);
  if (has_event_query(device_)) note_idle(device_, rec_stream_, rec_gen_);  // Note [Idle streams]
}

bool Event::query() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!recorded_ || handle_ == nullptr) return true;
  if (!has_event_query(device_)) {
    PRISM_PLUGIN_CHECK(table_of(device_).event_synchronize(device_->plugin->ctx, handle_), *device_->plugin,
                       "event_synchronize on ", device_->name);
    return true;
  }
  int32_t done = 0;
  PRISM_PLUGIN_CHECK(table_of(device_).event_query(device_->plugin->ctx, handle_, &done), *device_->plugin,
                     "event_query on ", device_->name);
  if (done != 0) note_idle(device_, rec_stream_, rec_gen_);  // Note [Idle streams]
  return done != 0;
}

double Event::elapsed_ms(Event& end) {
  PRISM_CHECK(timing_ && end.timing_, INVALID_ARGUMENT,
              "event elapsed_time: both events must be created with enable_timing=True");
  PRISM_CHECK(recorded_ && end.recorded_, INVALID_ARGUMENT,
              "event elapsed_time: both events must be recorded before elapsed_time is called");
  synchronize();
  end.synchronize();
  std::scoped_lock lock(mu_, end.mu_);
  if (host_timed_ || end.host_timed_) {
    PRISM_CHECK(host_timed_ && end.host_timed_, INVALID_ARGUMENT,
                "event elapsed_time: the events were recorded on devices timed differently (", device_->name,
                " and ", end.device_->name, "); record both on the same device");
    return std::chrono::duration<double, std::milli>(end.host_time_ - host_time_).count();
  }
  PRISM_CHECK(device_->plugin == end.device_->plugin, INVALID_ARGUMENT,
              "event elapsed_time: events recorded on ", device_->name, " and ", end.device_->name,
              " cannot be compared");
  double ms = 0;
  PRISM_PLUGIN_CHECK(table_of(device_).event_elapsed_ms(device_->plugin->ctx, handle_, end.handle_, &ms),
                     *device_->plugin, "event_elapsed_ms on ", device_->name);
  return ms;
}

// Note [Stream-ordered keep-alives]
// ---------------------------------
// A non-blocking copy from pinned host memory returns while the device still
// reads the source. The source storage is therefore parked here with an
// event recorded behind the copy, and released once a query says the event
// completed: at the next keep-alive, at synchronize, or when it is reaped.
// This is PyTorch's CachingHostAllocator record_event, kept outside the
// pinned block cache so a block is reused only after its copies finished.

namespace {
struct KeepAlive {
  Device* device;
  prism_event_t event;
  std::shared_ptr<void> keep;
};
std::mutex g_keep_mu;
auto& g_keep = *new std::vector<KeepAlive>();  // never destroyed (see g_live)
}  // namespace

bool keep_alive_until_done(Device* d, prism_stream_t handle, std::shared_ptr<void> keep) {
  if (!has_event_query(d)) return false;
  reap_keep_alives(false);
  const prism_plugin_table& t = table_of(d);
  prism_event_t ev = nullptr;
  PRISM_PLUGIN_CHECK(t.event_create(d->plugin->ctx, d->index, &ev), *d->plugin, "event_create on ", d->name);
  if (prism_plugin_error* err = t.event_record(d->plugin->ctx, d->index, ev, handle)) {
    t.event_destroy(d->plugin->ctx, ev);
    throw_if_plugin_error(err, *d->plugin, detail::str_cat("event_record on ", d->name));
  }
  std::lock_guard<std::mutex> lock(g_keep_mu);
  g_keep.push_back(KeepAlive{d, ev, std::move(keep)});
  return true;
}

void reap_keep_alives(bool wait) {
  std::vector<KeepAlive> done;
  {
    std::lock_guard<std::mutex> lock(g_keep_mu);
    for (size_t i = 0; i < g_keep.size();) {
      KeepAlive& k = g_keep[i];
      const prism_plugin_table& t = table_of(k.device);
      int32_t ok = 0;
      prism_plugin_error* err = wait ? t.event_synchronize(k.device->plugin->ctx, k.event)
                                     : t.event_query(k.device->plugin->ctx, k.event, &ok);
      if (err != nullptr) ok = 1;  // a failed query: the device reports it at its next synchronize
      if (wait && err == nullptr) ok = 1;
      free_plugin_error(err);
      if (ok != 0) {
        done.push_back(std::move(k));
        g_keep.erase(g_keep.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  for (auto& k : done) table_of(k.device).event_destroy(k.device->plugin->ctx, k.event);
  // `done` releases the kept storages here, outside the lock.
}

size_t pending_keep_alives() {
  std::lock_guard<std::mutex> lock(g_keep_mu);
  return g_keep.size();
}

}  // namespace prism
