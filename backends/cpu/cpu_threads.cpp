// cpu_threads.cpp — the CPU plugin's thread count: PRISM_NUM_THREADS and the load-aware team size.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpu_internal.hpp"

namespace prism::cpu {

// Note [Threads under load]
// -------------------------
// libgomp's workers spin at a barrier before they sleep, and a fork-join
// waits for every member of the team. When other processes keep the CPUs
// busy, a worker is often descheduled while its partner spins for it, and a
// step made of many short regions pays a scheduler time slice per region: a
// 2-thread MLP step measured 37x slower beside 4 busy processes, where the
// same step on 1 thread was only ~6x slower. Prism therefore sizes each
// team from the CPUs that are actually free, and never touches OMP_* or
// another library's global settings to do it:
//
// * The requested count is PRISM_NUM_THREADS (read once; Prism's own
//   setting) or else the calling thread's omp_get_max_threads() (so the
//   user's OMP_NUM_THREADS and omp_set_num_threads keep working).
// * Every kSampleNs (10 ms) one caller reads the runnable-task count of
//   /proc/loadavg (its fourth field, "running/total": an instantaneous count,
//   unlike the load averages) and subtracts this process's own runnable
//   threads (state R in /proc/self/task/*/stat: the caller, and workers
//   that may still be spinning after the last region); what remains is
//   other work, scaled to the CPUs this process may run on
//   (sched_getaffinity) and smoothed (the mean of the last two samples).
//   Subtracting the last team size instead was wrong on a quiet machine:
//   after one sample that chose 1 thread, the idle worker still spinning in
//   libgomp counted as "other work" and kept the team at 1 (a quiet 2-thread
//   CNN step took 1.43x the fixed policy's). A process with more than
//   kMaxSelfScan threads falls back to subtracting the last team.
// * A region gets min(requested, affinity CPUs - other work), at least 1.
//   With the machine to itself that is the requested count; beside busy
//   processes it drops to 1 and the step runs like a 1-thread step instead
//   of waiting on descheduled partners.
// * oneDNN reads the calling thread's OpenMP ICV: OmpThreadsScope sets it to
//   the chosen team for the call and restores it (a per-thread setting, so
//   other threads and the user's own OpenMP regions are unaffected).
//
// PRISM_THREAD_POLICY=fixed turns the adaptation off (every region gets the
// requested count: the behaviour before, kept for comparison in
// bench/contention). Where /proc/loadavg is unreadable the policy is fixed.
// The runnable count is machine-wide, so a container sharing a larger host
// sees the host's load (scaled by its affinity mask, not its CPU quota).

namespace {

constexpr int64_t kSampleNs = 10'000'000;

int env_threads() {
  static const int n = [] {
    const char* s = std::getenv("PRISM_NUM_THREADS");
    if (s == nullptr || *s == '\0') return 0;
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    return (end != nullptr && *end == '\0' && v > 0 && v <= 4096) ? static_cast<int>(v) : 0;
  }();
  return n;
}

bool adaptive_policy() {
  static const bool on = [] {
    const char* s = std::getenv("PRISM_THREAD_POLICY");
    return s == nullptr || std::strcmp(s, "fixed") != 0;
  }();
  return on;
}

int affinity_cpus() {
  static const int n = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(online) : 1;
  }();
  return n;
}

int online_cpus() {
  static const int n = [] {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(online) : affinity_cpus();
  }();
  return n;
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The runnable-task count of /proc/loadavg ("0.50 0.40 0.30 3/345 1234"), or -1.
int runnable_tasks() {
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return -1;
  buf[got] = '\0';
  const char* p = buf;
  for (int field = 0; field < 3; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return -1;
    ++p;
  }
  char* end = nullptr;
  const long r = std::strtol(p, &end, 10);
  return (end != p && *end == '/' && r >= 0) ? static_cast<int>(r) : -1;
}

constexpr int kMaxSelfScan = 64;

// This process's threads in state R (running or runnable), or -1 when
// /proc/self/task cannot be read or holds more than kMaxSelfScan threads.
int self_runnable_tasks() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int running = 0, seen = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (++seen > kMaxSelfScan) {
      running = -1;
      break;
    }
    char path[300];
    std::snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the thread exited meanwhile
    char buf[256];
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (got <= 0) continue;
    buf[got] = '\0';
    const char* close_paren = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
    if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'R') ++running;
  }
  ::closedir(dir);
  return running;
}

struct LoadState {
  std::atomic<int64_t> next_sample{0};
  std::atomic<int> last_team{1};
  std::atomic<int> busy_x2{0};  // other runnable tasks on our CPUs, x2 (mean of two samples)
  std::atomic<int> prev_busy{0};
  std::atomic<bool> readable{true};
};

LoadState& load_state() {
  static LoadState s;
  return s;
}

// Refreshes busy_x2 when the sample is due; one caller at a time does it.
void maybe_sample(LoadState& s) {
  const int64_t now = now_ns();
  int64_t due = s.next_sample.load(std::memory_order_relaxed);
  if (now < due) return;
  if (!s.next_sample.compare_exchange_strong(due, now + kSampleNs, std::memory_order_relaxed)) return;
  const int r = runnable_tasks();
  if (r < 0) {
    s.readable.store(false, std::memory_order_relaxed);
    return;
  }
  const int self = self_runnable_tasks();
  const int others = std::max(0, r - (self >= 0 ? self : s.last_team.load(std::memory_order_relaxed)));
  const int scaled = (others * affinity_cpus() + online_cpus() - 1) / online_cpus();
  const int prev = s.prev_busy.exchange(scaled, std::memory_order_relaxed);
  s.busy_x2.store(prev + scaled, std::memory_order_relaxed);
}

}  // namespace

int max_threads() {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  const int env = env_threads();
  const int want = env > 0 ? env : omp_get_max_threads();
  if (want <= 1 || !adaptive_policy()) return want;
  LoadState& s = load_state();
  if (!s.readable.load(std::memory_order_relaxed)) return want;
  maybe_sample(s);
  const int busy = s.busy_x2.load(std::memory_order_relaxed) /
                   2;  // seen in both samples: one blip does not halve the team
  const int team = std::clamp(affinity_cpus() - busy, 1, want);
  if (s.last_team.load(std::memory_order_relaxed) != team) s.last_team.store(team, std::memory_order_relaxed);
  return team;
#else
  return 1;
#endif
}

OmpThreadsScope::OmpThreadsScope(int n) {
#ifdef _OPENMP
  prev_ = omp_get_max_threads();
  if (n >= 1 && n != prev_) {
    omp_set_num_threads(n);
  } else {
    prev_ = 0;
  }
#else
  (void)n;
#endif
}

OmpThreadsScope::~OmpThreadsScope() {
#ifdef _OPENMP
  if (prev_ > 0) omp_set_num_threads(prev_);
#endif
}

}  // namespace prism::cpu
