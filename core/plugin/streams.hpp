// streams.hpp — user streams, events, the thread-local current stream and stream-ordered keep-alives
// (internal).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/plugin/runtime.hpp"

namespace prism {

// A stream of one device (Note [User streams] in streams.cpp). `handle` is
// the plugin's stream, or nullptr for the device's default stream (and for
// every stream of a device whose plugin has no stream slots).
struct Stream {
  Device* device = nullptr;
  prism_stream_t handle = nullptr;
  bool owned = false;  // made by stream_create: destroyed with this object
  uint64_t id = 0;     // unique per process; 0 for default streams
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
};
using StreamPtr = std::shared_ptr<Stream>;

// True when `device`'s plugin creates streams of its own (ABI 1.2 slots).
bool has_user_streams(const Device* device);
// True when the plugin can record events and query them without blocking.
bool has_event_query(const Device* device);

// A new stream of `device`; aliases the default stream when the plugin has
// no stream slots (work then stays in one order, which is always correct).
StreamPtr create_stream(Device* device);
// The default stream of `device` (one object per device).
StreamPtr default_stream(Device* device);
// This thread's current stream of `device` (the default stream when unset).
StreamPtr current_stream(Device* device);
// The plugin handle of this thread's current stream of `device`; the fast
// path the dispatcher and copies use.
prism_stream_t current_stream_handle(const Device* device);
// The current stream's handle for work about to be queued on it: also notes
// that the stream has work a synchronize has not yet seen (Note [Idle streams]).
prism_stream_t launch_stream(const Device* device);
// Makes `stream` this thread's current stream of its device.
void set_current_stream(const StreamPtr& stream);

// Blocks until the work queued on `handle` of `device` completed.
void synchronize_stream(Device* device, prism_stream_t handle);
// Blocks until every stream of `device` (default and live user streams) is done.
void synchronize_device(Device* device);
// True when the stream has no pending work. Without event queries on an
// asynchronous device this waits for the stream (then answers true).
bool stream_query(const Stream& stream);

// An event (Note [User events] in streams.cpp). Not copyable; thread-safe.
class Event {
 public:
  explicit Event(bool enable_timing) : timing_(enable_timing) {}
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(const Stream& stream);
  // Makes future work on `stream` wait for the work this event captured.
  void wait(const Stream& stream);
  void synchronize();
  bool query();
  // Milliseconds from this event to `end` (both recorded with timing).
  double elapsed_ms(Event& end);
  bool timing() const { return timing_; }

 private:
  std::mutex mu_;
  const bool timing_;
  Device* device_ = nullptr;             // device of the last record
  prism_event_t handle_ = nullptr;       // plugin event (devices with events)
  prism_stream_t rec_stream_ = nullptr;  // the stream of the last record and its launch
  uint64_t rec_gen_ = 0;                 // generation then (Note [Idle streams])
  bool recorded_ = false;
  bool host_timed_ = false;  // time taken on the host at record
  std::chrono::steady_clock::time_point host_time_{};
};

// Keeps `keep` alive until the work queued so far on `handle` of `device`
// completed (Note [Stream-ordered keep-alives]). Returns false, keeping
// nothing, when the device cannot tell (no event query): the caller then
// synchronises instead.
bool keep_alive_until_done(Device* device, prism_stream_t handle, std::shared_ptr<void> keep);
// Drops the keep-alives whose work completed (wait: of every one, waiting).
void reap_keep_alives(bool wait);
// Number of keep-alives still pending (tests).
size_t pending_keep_alives();

}  // namespace prism
