// profiler.hpp — the op profiler: records every dispatched kernel while enabled, writes Chrome traces and
// summary tables (internal; the user face is the prism_profiler_* section of prism.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "prism/prism.h"

namespace prism {

struct TensorImpl;
struct Device;

namespace profiler {

// Note [Profiler hook]
// The dispatcher's run_kernel() holds one OpScope for the whole call. While
// the profiler is off, the scope's constructor does a single relaxed atomic
// load and nothing else, so a profiled build costs nothing measurable when
// nobody profiles. While it is on, the scope records: the op name, the
// device, the input shapes and the dtype key, the host time of the call,
// the device time (Note [Profiler device time]), the bytes the caching
// allocator handed out on this thread since the previous recorded op on this
// thread (the op's outputs and temporaries: outputs are allocated by the op
// front-ends just before they dispatch), and the device the op fell back to
// when its own plugin had no kernel (read from the fallback counters, so the
// dispatcher needs no second call site). Composite ops (softmax, linear,
// cross_entropy, ... on a plugin without a fused kernel) are recorded as the
// kernels they dispatch; user ranges (prism_profiler_range_push/pop) group
// them under a name of the caller's choosing, as torch's record_function
// does. An op that throws is not recorded.
extern std::atomic<bool> g_enabled;
inline bool enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}

// Counts bytes handed out by the caching allocator on this thread while
// enabled (called by allocate_storage).
void note_alloc_slow(uint64_t bytes);
inline void note_alloc(uint64_t bytes) {
  if (enabled()) note_alloc_slow(bytes);
}

struct ThreadState;  // per-thread recording state (profiler.cpp)

class OpScope {
 public:
  OpScope(const char* op, prism_dtype key, std::initializer_list<TensorImpl*> inputs, Device* dev) {
    if (enabled()) begin(op, key, inputs, dev);
  }
  ~OpScope() {
    if (active_) end();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  void begin(const char* op, prism_dtype key, std::initializer_list<TensorImpl*> inputs, Device* dev);
  void end() noexcept;
  void record(int64_t host_end, ThreadState& ts);
  bool active_ = false;
  int uncaught_ = 0;
  const char* op_ = nullptr;
  prism_dtype key_ = PRISM_DTYPE_F32;
  Device* dev_ = nullptr;
  uint64_t fallbacks_before_ = 0;
  int64_t dev_start_ns_ = 0, host_start_ns_ = 0, child_ns_ = 0;
  OpScope* parent_ = nullptr;
  std::vector<std::vector<int64_t>> shapes_;
};

// One recorded event (an op or a user range).
struct Event {
  std::string name;
  std::string device;    // "cpu:0"; "" for user ranges
  std::string dtype;     // dtype key of the kernel; "" for ranges
  std::string fallback;  // device the op ran on instead ("" = its own device)
  std::vector<std::vector<int64_t>> shapes;
  int64_t start_ns = 0;    // since prism_profiler_start
  int64_t host_ns = 0;     // duration on the calling thread
  int64_t self_ns = 0;     // host_ns less the ops recorded inside this one
  int64_t device_ns = -1;  // Note [Profiler device time]; -1 = not measured
  uint64_t bytes = 0;      // allocated on this thread since the previous op
  uint64_t tid = 0;        // small per-thread number
  int32_t depth = 0;       // user-range nesting depth when recorded
  bool is_range = false;
};

void start(const prism_profiler_options* options);
void stop();
// A copy of the recorded events (start order).
std::vector<Event> events();
void range_push(const char* name);
void range_pop();
// Chrome trace JSON (Note [Chrome trace format]).
std::string chrome_trace();
void export_chrome_trace(const std::string& path);
// The summary table sorted by total host time (Note [Profiler summary]).
std::string summary(size_t row_limit);

}  // namespace profiler
}  // namespace prism
