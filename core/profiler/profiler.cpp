// profiler.cpp — see Note [Profiler hook]: event recording, device timing, Chrome trace, summary table,
// and the PRISM_PROFILE environment variable.
#include "core/profiler/profiler.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dispatch/dispatch.hpp"
#include "core/plugin/runtime.hpp"
#include "core/tensor/dtype.hpp"
#include "core/tensor/tensor.hpp"

namespace prism::profiler {

std::atomic<bool> g_enabled{false};

struct ThreadState {
  uint64_t tid = 0;
  uint64_t bytes = 0;  // allocated since the previous recorded op
  OpScope* current = nullptr;
  struct Range {
    std::string name;
    int64_t start_ns;
  };
  std::vector<Range> ranges;
};

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct State {
  std::mutex mutex;
  std::vector<Event> events;
  int64_t origin_ns = 0;
  bool record_shapes = true;
  bool device_time = true;
  uint64_t next_tid = 1;
};
// Never destroyed: the PRISM_PROFILE exit handler may run after static destructors.
State& state() {
  static State* s = new State();
  return *s;
}

ThreadState& thread_state() {
  thread_local ThreadState t;
  if (t.tid == 0) {
    std::lock_guard<std::mutex> lock(state().mutex);
    t.tid = state().next_tid++;
  }
  return t;
}

// Note [Profiler device time]
// The plugin ABI's event slots (create/record/synchronize) carry no elapsed
// time, so the profiler measures device time from the host: on a device with
// events and asynchronous work it records an event and waits for it before
// the op (draining earlier work) and again after it; the op's device time is
// the interval between the two completions, which includes its launch. This
// serialises the stream while profiling, as CUDA_LAUNCH_BLOCKING profiling
// does, so the timeline shows each op's own cost. Devices that run kernels
// synchronously (cpu, emu without PRISM_EMU_ASYNC) report no device time:
// their host time is the op's time. Options.device_time = 0 skips this.
bool device_timed(Device* dev) {
  return dev != nullptr && dev->plugin->has_events && (dev->capabilities & PRISM_DEVICE_CAP_ASYNC) != 0 &&
         (dev->capabilities & PRISM_DEVICE_CAP_EVENTS) != 0;
}

// Records an event on dev's default stream and waits for it; false when the
// plugin refuses (the op is then reported without device time).
// The event lives for this call only (a cached one would outlive the plugin
// at exit, and plugin events are not safe to share between threads).
bool drain(Device* dev) {
  const prism_plugin_table* t = dev->plugin->table;
  prism_event_t ev = nullptr;
  prism_plugin_error* err = t->event_create(dev->plugin->ctx, dev->index, &ev);
  if (err == nullptr) err = t->event_record(dev->plugin->ctx, dev->index, ev, nullptr);
  if (err == nullptr) err = t->event_synchronize(dev->plugin->ctx, ev);
  if (ev != nullptr) t->event_destroy(dev->plugin->ctx, ev);
  if (err != nullptr) {
    free_plugin_error(err);
    return false;
  }
  return true;
}

}  // namespace

void note_alloc_slow(uint64_t bytes) {
  thread_state().bytes += bytes;
}

void OpScope::begin(const char* op, prism_dtype key, std::initializer_list<TensorImpl*> inputs, Device* dev) {
  State& st = state();
  uncaught_ = std::uncaught_exceptions();
  op_ = op;
  key_ = key;
  dev_ = dev;
  if (st.record_shapes) {
    shapes_.reserve(inputs.size());
    for (TensorImpl* t : inputs) shapes_.emplace_back(t->sizes.begin(), t->sizes.end());
  }
  fallbacks_before_ = fallback_count(op);
  ThreadState& ts = thread_state();
  parent_ = ts.current;
  ts.current = this;  // nothing below throws
  active_ = true;
  dev_start_ns_ = -1;
  if (st.device_time && device_timed(dev) && drain(dev)) dev_start_ns_ = now_ns();
  host_start_ns_ = now_ns();
}

void OpScope::end() noexcept {
  const int64_t host_end = now_ns();
  ThreadState& ts = thread_state();
  ts.current = parent_;
  if (std::uncaught_exceptions() > uncaught_) return;  // the op failed: not recorded
  try {
    record(host_end, ts);
  } catch (...) {  // out of host memory while recording: the event is dropped, the op is not failed
  }
}

void OpScope::record(int64_t host_end, ThreadState& ts) {
  Event e;
  e.host_ns = host_end - host_start_ns_;
  e.self_ns = e.host_ns - child_ns_;
  if (parent_ != nullptr) parent_->child_ns_ += e.host_ns;
  if (dev_start_ns_ >= 0 && drain(dev_)) e.device_ns = now_ns() - dev_start_ns_;
  e.name = op_;
  e.device = dev_ != nullptr ? dev_->name : "";
  e.dtype = dtype_name(key_);
  e.shapes = std::move(shapes_);
  if (fallback_count(op_) != fallbacks_before_) {
    Device* cpu = Runtime::get().cpu();
    e.fallback = cpu != nullptr ? cpu->name : "cpu";
  }
  e.bytes = ts.bytes;
  ts.bytes = 0;
  e.tid = ts.tid;
  e.depth = static_cast<int32_t>(ts.ranges.size());
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  e.start_ns = host_start_ns_ - st.origin_ns;
  st.events.push_back(std::move(e));
}

void start(const prism_profiler_options* options) {
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    st.events.clear();
    st.record_shapes = options == nullptr || options->record_shapes != 0;
    st.device_time = options == nullptr || options->device_time != 0;
    st.origin_ns = now_ns();
  }
  thread_state().bytes = 0;
  g_enabled.store(true, std::memory_order_relaxed);
}

void stop() {
  g_enabled.store(false, std::memory_order_relaxed);
}

std::vector<Event> events() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  std::vector<Event> out = st.events;
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.start_ns < b.start_ns; });
  return out;
}

void range_push(const char* name) {
  PRISM_CHECK(name != nullptr, INVALID_ARGUMENT, "profiler_range_push: name is NULL");
  thread_state().ranges.push_back({name, now_ns()});
}

void range_pop() {
  ThreadState& ts = thread_state();
  PRISM_CHECK(!ts.ranges.empty(), INVALID_ARGUMENT, "profiler_range_pop: no range is open on this thread");
  ThreadState::Range r = std::move(ts.ranges.back());
  ts.ranges.pop_back();
  if (!enabled()) return;
  Event e;
  e.name = std::move(r.name);
  e.is_range = true;
  e.tid = ts.tid;
  e.depth = static_cast<int32_t>(ts.ranges.size());
  State& st = state();
  const int64_t end = now_ns();
  std::lock_guard<std::mutex> lock(st.mutex);
  const int64_t begin = std::max(r.start_ns, st.origin_ns);  // a range opened before start
  e.host_ns = e.self_ns = end - begin;
  e.start_ns = begin - st.origin_ns;
  st.events.push_back(std::move(e));
}

// Note [Chrome trace format]
// The trace is the JSON Object Format of the Trace Event Format that
// chrome://tracing and Perfetto load: {"traceEvents": [...],
// "displayTimeUnit": "ms"}. Every op and user range is a complete event
// (ph "X") with ts and dur in microseconds (fractions kept), pid = the
// process id, tid = a small per-thread number, cat "op" or "user_range",
// and args holding the device, dtype, input shapes, bytes allocated, device
// time (µs) and fallback device. Metadata events (ph "M") name the process
// and threads.
std::string chrome_trace() {
  using nlohmann::json;
  std::vector<Event> evs = events();
  const int64_t pid = static_cast<int64_t>(::getpid());
  json trace = json::array();
  trace.push_back(
      {{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", "prism"}}}});
  std::vector<uint64_t> tids;
  for (const Event& e : evs) {
    if (std::find(tids.begin(), tids.end(), e.tid) == tids.end()) {
      tids.push_back(e.tid);
      trace.push_back({{"name", "thread_name"},
                       {"ph", "M"},
                       {"pid", pid},
                       {"tid", e.tid},
                       {"args", {{"name", "thread " + std::to_string(e.tid)}}}});
    }
    json args = json::object();
    if (!e.is_range) {
      args["device"] = e.device;
      args["dtype"] = e.dtype;
      args["input_shapes"] = e.shapes;
      args["bytes_allocated"] = e.bytes;
      if (e.device_ns >= 0) args["device_time_us"] = static_cast<double>(e.device_ns) / 1000.0;
      if (!e.fallback.empty()) args["fallback"] = e.fallback;
    }
    trace.push_back({{"name", e.name},
                     {"cat", e.is_range ? "user_range" : "op"},
                     {"ph", "X"},
                     {"ts", static_cast<double>(e.start_ns) / 1000.0},
                     {"dur", static_cast<double>(e.host_ns) / 1000.0},
                     {"pid", pid},
                     {"tid", e.tid},
                     {"args", args}});
  }
  json doc = {{"traceEvents", trace}, {"displayTimeUnit", "ms"}};
  return doc.dump();
}

void export_chrome_trace(const std::string& path) {
  std::string text = chrome_trace();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  PRISM_CHECK(f.good(), IO, "profiler_export_chrome_trace: cannot open '", path,
              "' for writing: ", std::strerror(errno));
  f << text;
  f.close();
  PRISM_CHECK(!f.fail(), IO, "profiler_export_chrome_trace: writing '", path, "' failed");
}

// Note [Profiler summary]
// One row per (name, device) with the count, total and average host time,
// self host time (less nested ops), total device time where measured, bytes
// allocated and the number of calls that fell back to another device;
// sorted by total host time, largest first, like torch's
// key_averages().table(sort_by="cpu_time_total").
std::string summary(size_t row_limit) {
  struct Row {
    std::string name, device;
    uint64_t count = 0, bytes = 0, fallbacks = 0;
    int64_t host = 0, self = 0, dev = 0;
    bool has_dev = false;
  };
  std::vector<Row> rows;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (const Event& e : events()) {
    auto key = std::make_pair(e.name, e.is_range ? std::string("(range)") : e.device);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, rows.size()).first;
      rows.push_back(Row{key.first, key.second});
    }
    Row& r = rows[it->second];
    ++r.count;
    r.host += e.host_ns;
    r.self += e.self_ns;
    r.bytes += e.bytes;
    if (!e.fallback.empty()) ++r.fallbacks;
    if (e.device_ns >= 0) {
      r.dev += e.device_ns;
      r.has_dev = true;
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.host > b.host; });
  if (row_limit > 0 && rows.size() > row_limit) rows.resize(row_limit);
  size_t wname = 4, wdev = 6;
  for (const Row& r : rows) {
    wname = std::max(wname, r.name.size());
    wdev = std::max(wdev, r.device.size());
  }
  std::ostringstream os;
  char buf[512];
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  std::snprintf(buf, sizeof(buf), "%-*s  %-*s  %8s  %12s  %12s  %12s  %12s  %12s  %9s\n", int(wname), "Name",
                int(wdev), "Device", "Calls", "Host total", "Host self", "Host avg", "Device total",
                "Bytes alloc", "Fallbacks");
  os << buf;
  os << std::string(wname + wdev + 8 + 12 * 5 + 9 + 2 * 8, '-') << "\n";
  int64_t total = 0;
  for (const Row& r : rows) {
    char devt[32];
    if (r.has_dev)
      std::snprintf(devt, sizeof(devt), "%.3fms", ms(r.dev));
    else
      std::snprintf(devt, sizeof(devt), "-");
    char host[32], self[32], avg[32];
    std::snprintf(host, sizeof(host), "%.3fms", ms(r.host));
    std::snprintf(self, sizeof(self), "%.3fms", ms(r.self));
    std::snprintf(avg, sizeof(avg), "%.3fus", static_cast<double>(r.host) / 1e3 / double(r.count));
    std::snprintf(buf, sizeof(buf), "%-*s  %-*s  %8llu  %12s  %12s  %12s  %12s  %12llu  %9llu\n", int(wname),
                  r.name.c_str(), int(wdev), r.device.c_str(), static_cast<unsigned long long>(r.count), host,
                  self, avg, devt, static_cast<unsigned long long>(r.bytes),
                  static_cast<unsigned long long>(r.fallbacks));
    os << buf;
    if (r.device != "(range)") total += r.self;
  }
  std::snprintf(buf, sizeof(buf), "Self host time total (ops): %.3fms\n", ms(total));
  os << buf;
  return os.str();
}

// ---- PRISM_PROFILE ---------------------------------------------------------------------------------

namespace {

std::string& exit_path() {
  static std::string* p = new std::string();
  return *p;
}

void write_at_exit() {
  stop();
  std::string path = exit_path();
  try {
    export_chrome_trace(path);
    const char* s = std::getenv("PRISM_PROFILE_SUMMARY");
    if (s != nullptr && std::strcmp(s, "0") != 0) {
      std::fprintf(stderr, "[prism] profile of pid %d (trace: %s)\n%s", int(::getpid()), path.c_str(),
                   summary(0).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[prism] PRISM_PROFILE: %s\n", e.what());
  }
}

// Note [PRISM_PROFILE]
// When libprism is loaded with PRISM_PROFILE=path in the environment it
// starts the profiler at once and writes the Chrome trace to `path` when the
// process exits normally (exit() or returning from main; not on a signal or
// _exit). "%p" in the path becomes the process id, so the ranks of
// `prism profile -- prism run -n 2 ...` write one file each.
// PRISM_PROFILE_SUMMARY=1 also prints the summary table on stderr.
// `prism profile` sets both.
struct EnvStart {
  EnvStart() {
    const char* p = std::getenv("PRISM_PROFILE");
    if (p == nullptr || *p == '\0') return;
    std::string path = p;
    for (size_t at = path.find("%p"); at != std::string::npos; at = path.find("%p", at))
      path.replace(at, 2, std::to_string(::getpid()));
    exit_path() = path;
    start(nullptr);
    std::atexit(write_at_exit);
  }
};
const EnvStart g_env_start;

}  // namespace

}  // namespace prism::profiler
