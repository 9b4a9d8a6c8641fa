// process_group.hpp — process groups over communicator plugins: staging, async work, debug checks (internal,
// no compatibility promise).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/plugin/runtime.hpp"
#include "core/tensor/tensor.hpp"

namespace prism::dist {

// Reduction operators of the user ABI (prism_reduce_op values).
enum class Reduce : int32_t { Sum = 0, Avg = 1, Max = 2, Min = 3, Prod = 4 };

// One issued collective. `run` executes on the group's worker thread and
// touches only host memory; `finish` (copy back into a staged tensor) runs
// once, on the thread that waits, after `run` succeeded.
struct Work {
  std::function<prism_plugin_error*()> run;
  std::function<void()> finish;
  std::string what;  // "all_reduce(float32[1000] on cpu:0)", for messages
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool finished = false;
  bool deferred = false;  // queued for ProcessGroup::run_blocking, the worker not woken
  prism_status code = PRISM_OK;
  std::string message;

  bool completed();
  // Blocks until done or timeout_ms (> 0) passed; then runs finish. Throws
  // prism::Error with the collective's error, or UNAVAILABLE on timeout.
  void wait(int64_t timeout_ms);
};
using WorkPtr = std::shared_ptr<Work>;

// Note [Process groups]
// A ProcessGroup is one communicator of a plugin plus one worker thread that
// runs its collectives in issue order (what makes every collective
// asynchronous: the caller gets a Work and goes on, e.g. with the rest of
// backward while DDP's buckets travel). Tensors are staged on the caller's
// thread when the work is issued: a contiguous tensor on a HOST_MEMORY device
// is used in place; anything else (another device, a non-contiguous view) is
// copied into a contiguous host tensor, and copied back into the user's
// tensor when the work is waited for. The worker thread therefore never runs
// a tensor op; it only hands raw host memory to the plugin.
class ProcessGroup {
 public:
  ProcessGroup(CommPlugin* plugin, prism_comm_t comm, int32_t rank, int32_t size, int64_t timeout_ms);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int32_t rank() const { return rank_; }
  int32_t size() const { return size_; }
  int64_t timeout_ms() const { return timeout_ms_; }
  const std::string& backend() const { return plugin_->name; }

  WorkPtr all_reduce(const Tensor& t, Reduce op);
  WorkPtr broadcast(const Tensor& t, int32_t root);
  WorkPtr all_gather(const Tensor& out, const Tensor& in);
  WorkPtr reduce_scatter(const Tensor& out, const Tensor& in, Reduce op);
  WorkPtr barrier();
  WorkPtr send(const Tensor& t, int32_t dst, int32_t tag);
  WorkPtr recv(const Tensor& t, int32_t src, int32_t tag);
  // A sub-group of the ranks listed (this group's ranks); nullptr on ranks
  // not listed. Every rank of this group must call it with the same list.
  std::shared_ptr<ProcessGroup> split(const std::vector<int32_t>& ranks);
  // Calls `issue` (one call of a collective above) and waits for its work
  // (Work::wait), running it on the calling thread when nothing else of this
  // group is queued or running (Note [Blocking collectives]).
  void run_blocking(const std::function<WorkPtr()>& issue, int64_t timeout_ms);

 private:
  WorkPtr enqueue(std::string what, std::function<prism_plugin_error*()> run, std::function<void()> finish);
  // PRISM_DIST_DEBUG=1: every rank compares (kind, dtype, numel, arg) of the
  // collective with every other rank's before running it (Note [Debug mode]).
  prism_plugin_error* debug_check(const std::string& what, int64_t kind, int64_t dtype, int64_t numel,
                                  int64_t arg);
  void loop();
  void execute(Work& w);  // runs w and completes it

  CommPlugin* plugin_;
  prism_comm_t comm_;
  int32_t rank_, size_;
  int64_t timeout_ms_;
  bool debug_;
  uint64_t next_group_id_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WorkPtr> queue_;
  bool stop_ = false;
  bool running_ = false;    // a work item is running (on the worker or a blocking caller)
  bool inline_ok_ = false;  // the engine takes calls from any thread (Note [Blocking collectives])
  std::thread worker_;
};

// The world group made by init; nullptr before init / after finalize.
std::shared_ptr<ProcessGroup> world();
// Joins the world through the plugin named `backend` (nullptr/"": from
// PRISM_DIST_BACKEND, default "gloo"). rank/world_size < 0 and an empty
// master_addr / master_port <= 0 are read from the environment
// (Note [Distributed environment]); timeout_ms <= 0 means the default.
void init(const char* backend, int32_t rank, int32_t world_size, const char* master_addr, int32_t master_port,
          int64_t timeout_ms);
void finalize();

}  // namespace prism::dist
