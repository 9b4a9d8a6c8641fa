// process_group.cpp — process groups: environment, staging through host memory, the worker thread, debug
// checks.
#include "core/comm/process_group.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/dispatch/ops.hpp"
#include "core/tensor/dtype.hpp"

namespace prism::dist {

namespace {

// Note [World group lifetime]
// The world group is reachable from a heap pointer that is never freed, as
// the runtime is (Note [Runtime lifetime]): a program that never calls
// prism_dist_finalize exits without joining the group's worker thread or
// tearing down the engine's sockets from a static destructor, where the
// engine's own threads and statics may already be gone.
std::mutex g_world_mu;
std::shared_ptr<ProcessGroup>& world_slot() {
  static auto* w = new std::shared_ptr<ProcessGroup>();
  return *w;
}

// Takes an error object's message and frees it.
std::pair<prism_status, std::string> take_error(prism_plugin_error* err) {
  prism_status code = err->code;
  std::string msg = err->message;
  free_plugin_error(err);
  return {code, msg};
}

const char* reduce_name(Reduce op) {
  switch (op) {
    case Reduce::Sum:
      return "sum";
    case Reduce::Avg:
      return "avg";
    case Reduce::Max:
      return "max";
    case Reduce::Min:
      return "min";
    case Reduce::Prod:
      return "prod";
  }
  return "?";
}

void check_reduce(Reduce op, const char* fn) {
  int v = static_cast<int>(op);
  PRISM_CHECK(v >= 0 && v <= 4, INVALID_ARGUMENT, fn, ": invalid reduce op ", v,
              " (expected PRISM_REDUCE_SUM, AVG, MAX, MIN or PROD)");
}

int32_t plugin_op(Reduce op) {
  return op == Reduce::Avg ? PRISM_COMM_SUM : static_cast<int32_t>(op);
}

// A host view of a tensor's elements for the plugin (Note [Process groups]),
// or a device view for a device-native plugin (Note [Device-native collectives]).
struct Staged {
  Tensor user;          // the caller's tensor
  Tensor host;          // contiguous tensor the plugin reads/writes (== user when used in place)
  bool copy_back;       // host != user
  bool native = false;  // `host` is on the user's (non-host) device, ptr is a device pointer
  char* ptr = nullptr;
  uint64_t count = 0;
};

char* host_data(const Tensor& t) {
  return static_cast<char*>(t->storage->buffer) + t->offset * static_cast<int64_t>(t->element_size());
}

// Note [Device-native collectives]
// A communicator plugin that names a native_device_type (NCCL: "cuda", RCCL:
// "rocm") is given tensors of that device type where they are: the pointer
// is the device buffer handle plus the byte offset, which for the GPU
// plugins is a device pointer (Note [GPU copies]). The device is
// synchronized when the work is issued, so the kernels that wrote the
// tensor have finished before the engine's own stream reads it; the plugin
// returns only once the collective completed, so work issued after wait()
// sees the result. A non-contiguous tensor is copied into a contiguous one
// on the same device (and back at wait()). Host tensors, other devices and
// the integer average (whose truncating division runs on the host) keep the
// host staging of Note [Process groups]; a float average divides on the
// device at wait(). Plugins of communicator ABI 1.0 always get host memory.
bool native_for(const CommPlugin* p, const Tensor& t) {
  const char* type = p->table->native_device_type;
  return type != nullptr && p->abi_minor >= 1 && !t->device()->host_memory() &&
         t->device()->plugin->device_type == type;
}

void sync_device(Device* d) {
  Plugin* pl = d->plugin;
  PRISM_PLUGIN_CHECK(pl->table->synchronize(pl->ctx, d->index, nullptr), *pl, "synchronize ", d->name);
}

// `read`: the plugin reads the tensor (copy its values into the staging buffer).
// `native`: pass the device's memory itself (native_for said so).
Staged stage(const Tensor& t, bool read, bool native = false) {
  Staged s;
  s.user = t;
  s.count = static_cast<uint64_t>(t->numel());
  if (native) {
    s.native = true;
    if (t->is_contiguous()) {
      s.host = t;
      s.copy_back = false;
    } else {
      s.host = read ? contiguous(t) : empty(t->sizes, t->dtype, t->device());
      s.copy_back = true;
    }
    sync_device(t->device());
    s.ptr = static_cast<char*>(s.host->storage->buffer) +
            s.host->offset * static_cast<int64_t>(s.host->element_size());
    return s;
  }
  if (t->device()->host_memory() && t->is_contiguous()) {
    s.host = t;
    s.copy_back = false;
  } else {
    Device* cpu = Runtime::get().cpu();
    if (read) {
      s.host = t->device() == cpu ? contiguous(t) : to_device(contiguous(t), cpu);
      if (s.host == t) s.host = clone(t);
    } else {
      s.host = empty(t->sizes, t->dtype, cpu);
    }
    s.copy_back = true;
  }
  s.ptr = host_data(s.host);
  return s;
}

std::function<void()> copy_back(const Staged& s) {
  if (!s.copy_back) return {};
  Tensor user = s.user, host = s.host;
  return [user, host] { copy_(user, host); };
}

// copy_back, after the average's division on the device for a device-native
// float average (Note [Device-native collectives]).
std::function<void()> finish_avg(const Staged& s, Reduce op, int32_t n) {
  if (!s.native || op != Reduce::Avg) return copy_back(s);
  Tensor user = s.user, staged = s.host;
  bool back = s.copy_back;
  return [user, staged, back, n] {
    binary_("div", staged, scalar_like(static_cast<double>(n), staged));
    if (back) copy_(user, staged);
  };
}

// Divides `count` elements at p by n (the AVG operator's second half).
void divide(char* p, uint64_t count, prism_dtype dt, int32_t n) {
  if (dt == PRISM_DTYPE_F32) {
    auto* f = reinterpret_cast<float*>(p);
    for (uint64_t i = 0; i < count; ++i) f[i] /= static_cast<float>(n);
  } else if (dt == PRISM_DTYPE_F64) {
    auto* f = reinterpret_cast<double*>(p);
    for (uint64_t i = 0; i < count; ++i) f[i] /= n;
  } else if (is_float(dt)) {
    size_t es = dtype_size(dt);
    for (uint64_t i = 0; i < count; ++i)
      store_from_double(p + i * es, dt, load_as_double(p + i * es, dt) / n);
  } else {
    size_t es = dtype_size(dt);
    for (uint64_t i = 0; i < count; ++i) {
      const int64_t quotient = load_as_int64(p + i * es, dt) / n;  // truncating, as documented
      store_from_double(p + i * es, dt, static_cast<double>(quotient));
    }
  }
}

// Note [Complex collectives]
// --------------------------
// Engines have no complex types (Gloo, MPI's C bindings, NCCL). A complex
// tensor travels as its real view: complex64 as twice as many float32,
// complex128 as float64. That is exact for everything that moves or adds
// elements: broadcast, all_gather, send/recv, and the sum and average of
// all_reduce and reduce_scatter (each part summed, then divided, on its
// own). Max, min and product have no element-wise meaning there, and are
// refused, as torch.distributed refuses them for complex tensors.
struct Wire {
  prism_dtype dtype;
  uint64_t count;
};
Wire wire(prism_dtype dt, uint64_t count) {
  if (dt == PRISM_DTYPE_C64) return {PRISM_DTYPE_F32, count * 2};
  if (dt == PRISM_DTYPE_C128) return {PRISM_DTYPE_F64, count * 2};
  return {dt, count};
}
void check_complex_op(const Tensor& t, Reduce op, const char* what) {
  const bool complex = t->dtype == PRISM_DTYPE_C64 || t->dtype == PRISM_DTYPE_C128;
  PRISM_CHECK(!complex || op == Reduce::Sum || op == Reduce::Avg, TYPE, what, ": the ", reduce_name(op),
              " operator does not take complex tensors (", describe(t), "); sum and avg do");
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || v[0] == '\0') return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  PRISM_CHECK(end != v && *end == '\0', INVALID_ARGUMENT, "dist_init: environment variable ", name, "='", v,
              "' is not an integer");
  return x;
}

const char* env_first(std::initializer_list<const char*> names, const char** which) {
  for (const char* n : names) {
    const char* v = std::getenv(n);
    if (v != nullptr && v[0] != '\0') {
      if (which != nullptr) *which = n;
      return v;
    }
  }
  return nullptr;
}

}  // namespace

// ===========================================================================
// Work
// ===========================================================================

bool Work::completed() {
  std::lock_guard<std::mutex> lock(mu);
  return done;
}

void Work::wait(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu);
  if (!cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done; }))
    PRISM_FAIL(UNAVAILABLE, what, ": not complete after ", timeout_ms,
               " ms (wait timed out; a peer rank may be slow, stuck or gone)");
  if (code != PRISM_OK) throw Error(code, message);
  if (!finished) {
    finished = true;
    std::function<void()> f = std::move(finish);
    lock.unlock();
    if (f) f();
  }
}

// ===========================================================================
// ProcessGroup
// ===========================================================================

ProcessGroup::ProcessGroup(CommPlugin* plugin, prism_comm_t comm, int32_t rank, int32_t size,
                           int64_t timeout_ms)
    : plugin_(plugin), comm_(comm), rank_(rank), size_(size), timeout_ms_(timeout_ms) {
  const char* dbg = std::getenv("PRISM_DIST_DEBUG");
  debug_ = dbg != nullptr && dbg[0] != '\0' && std::strcmp(dbg, "0") != 0;
  inline_ok_ = plugin->abi_minor >= 2 && PRISM_HAS(plugin->table, prism_comm_table, flags) &&
               (plugin->table->flags & PRISM_COMM_FLAG_ANY_THREAD) != 0;
  worker_ = std::thread([this] { loop(); });
}

ProcessGroup::~ProcessGroup() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  plugin_->table->comm_destroy(plugin_->ctx, comm_);
}

void ProcessGroup::loop() {
  for (;;) {
    WorkPtr w;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || (!queue_.empty() && !running_); });
      if (queue_.empty()) return;  // stop_ and nothing left
      w = queue_.front();
      queue_.pop_front();
      running_ = true;
    }
    execute(*w);
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
}

void ProcessGroup::execute(Work& w) {
  prism_status code = PRISM_OK;
  std::string message;
  try {
    if (prism_plugin_error* err = w.run()) {
      auto [c, m] = take_error(err);
      code = c;
      message = detail::str_cat(w.what, " failed on rank ", rank_, " of ", size_, ": ", m, " (comm plugin '",
                                plugin_->name, "')");
    }
  } catch (const std::exception& e) {
    code = PRISM_ERROR_INTERNAL;
    message = detail::str_cat(w.what, ": internal error: ", e.what());
  }
  {
    std::lock_guard<std::mutex> lock(w.mu);
    w.code = code;
    w.message = std::move(message);
    w.done = true;
  }
  w.cv.notify_all();
}

// Note [Blocking collectives]
// ---------------------------
// Every collective is a Work item that the group's worker thread runs in
// issue order, so async calls overlap the caller's work. A caller that
// blocks on the result (the C functions with work == NULL) would then pay
// two thread hand-offs per call, caller to worker and back, each a wake-up
// that on a busy machine can wait for a scheduler tick: for small messages
// that was most of the time of a 1 KiB all-reduce. So run_blocking queues
// its item without waking the worker and, when the item is first in line
// and nothing is running, runs it on the calling thread. `running_` keeps
// one item at a time per group, in issue order, whichever thread runs it:
// the worker takes nothing while a caller runs one, and a caller that finds
// the worker (or another caller) busy leaves its item queued and waits, as
// before. Items queued meanwhile are handed to the worker when the caller
// is done. Only engines that take calls from any thread and time out by
// themselves opt in (PRISM_COMM_FLAG_ANY_THREAD, comm.h): Gloo does; MPI
// (no timeouts: a caller stuck in it could not give up at wait's timeout)
// and NCCL/RCCL (each call sets the GPU device of the calling thread) keep
// every call on the worker.
namespace {
// Set while run_blocking issues its collective.
thread_local bool t_caller_waits = false;
}  // namespace

void ProcessGroup::run_blocking(const std::function<WorkPtr()>& issue, int64_t timeout_ms) {
  WorkPtr w;
  {
    t_caller_waits = inline_ok_;
    struct Reset {
      ~Reset() { t_caller_waits = false; }
    } reset;
    w = issue();
  }
  if (w->deferred) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!running_ && !queue_.empty() && queue_.front() == w) {
      queue_.pop_front();
      running_ = true;
      lock.unlock();
      execute(*w);
      lock.lock();
      running_ = false;
      // Work queued meanwhile (by other threads) was left for the worker.
      if (!queue_.empty()) cv_.notify_one();
    }
    // Otherwise the worker or another thread's blocking call is running
    // earlier work; whichever finishes takes this one next.
  }
  w->wait(timeout_ms);
}

WorkPtr ProcessGroup::enqueue(std::string what, std::function<prism_plugin_error*()> run,
                              std::function<void()> finish) {
  auto w = std::make_shared<Work>();
  w->what = std::move(what);
  w->run = std::move(run);
  w->finish = std::move(finish);
  w->deferred = t_caller_waits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(w);
  }
  if (!w->deferred) cv_.notify_one();
  return w;
}

// Note [Debug mode]
// With PRISM_DIST_DEBUG=1 each collective first all-gathers a fingerprint
// (kind, dtype, element count, root/peer) from every rank and fails on every
// rank, naming both calls, when they differ: mismatched sizes become a clear
// error instead of a timeout or an engine-specific message, as
// TORCH_DISTRIBUTED_DEBUG=DETAIL does.
prism_plugin_error* ProcessGroup::debug_check(const std::string& what, int64_t kind, int64_t dtype,
                                              int64_t numel, int64_t arg) {
  if (!debug_) return nullptr;
  int64_t mine[4] = {kind, dtype, numel, arg};
  std::vector<int64_t> all(static_cast<size_t>(size_) * 4);
  if (prism_plugin_error* err =
          plugin_->table->all_gather(plugin_->ctx, comm_, mine, all.data(), 4, PRISM_DTYPE_I64, timeout_ms_))
    return err;
  static const char* kinds[] = {"all_reduce", "broadcast", "all_gather", "reduce_scatter", "barrier"};
  for (int32_t r = 0; r < size_; ++r) {
    const int64_t* o = &all[static_cast<size_t>(r) * 4];
    if (o[0] != kind || o[1] != dtype || o[2] != numel || o[3] != arg) {
      std::string other = detail::str_cat(
          kinds[o[0] >= 0 && o[0] < 5 ? o[0] : 0], "(",
          dtype_valid(static_cast<int>(o[1])) ? dtype_name(static_cast<prism_dtype>(o[1])) : "?", ", ", o[2],
          " elements, arg ", o[3], ")");
      return host_table()->error_create(
          PRISM_ERROR_INVALID_ARGUMENT,
          detail::str_cat("PRISM_DIST_DEBUG: collective mismatch: rank ", rank_, " called ", what, " (",
                          numel, " elements, arg ", arg, ") but rank ", r, " called ", other)
              .c_str());
    }
  }
  return nullptr;
}

WorkPtr ProcessGroup::all_reduce(const Tensor& t, Reduce op) {
  check_reduce(op, "all_reduce");
  PRISM_CHECK(!(op == Reduce::Avg && t->dtype == PRISM_DTYPE_BOOL), TYPE,
              "all_reduce: the avg operator does not take bool tensors (", describe(t), ")");
  check_complex_op(t, op, "all_reduce");
  const bool native = native_for(plugin_, t) && (op != Reduce::Avg || is_float(t->dtype));
  Staged s = stage(t, true, native);
  std::string what = detail::str_cat("all_reduce(", reduce_name(op), ", ", describe(t), ")");
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  int32_t n = size_;
  prism_dtype dt = t->dtype;
  return enqueue(
      what,
      [=] {
        if (prism_plugin_error* e =
                debug_check(what, 0, dt, static_cast<int64_t>(s.count), static_cast<int>(op)))
          return e;
        const Wire w = wire(dt, s.count);
        prism_plugin_error* e =
            p->table->all_reduce(p->ctx, comm, s.ptr, w.count, w.dtype, plugin_op(op), timeout);
        if (e == nullptr && op == Reduce::Avg && !s.native) divide(s.ptr, w.count, w.dtype, n);
        return e;
      },
      finish_avg(s, op, n));
}

WorkPtr ProcessGroup::broadcast(const Tensor& t, int32_t root) {
  PRISM_CHECK(root >= 0 && root < size_, INVALID_ARGUMENT, "broadcast: root ", root,
              " is not a rank of the group (size ", size_, ")");
  Staged s = stage(t, root == rank_, native_for(plugin_, t));
  std::string what = detail::str_cat("broadcast(root ", root, ", ", describe(t), ")");
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  prism_dtype dt = t->dtype;
  return enqueue(
      what,
      [=] {
        if (prism_plugin_error* e = debug_check(what, 1, dt, static_cast<int64_t>(s.count), root)) return e;
        const Wire w = wire(dt, s.count);
        return p->table->broadcast(p->ctx, comm, s.ptr, w.count, w.dtype, root, timeout);
      },
      copy_back(s));
}

WorkPtr ProcessGroup::all_gather(const Tensor& out, const Tensor& in) {
  PRISM_CHECK(out->dtype == in->dtype, TYPE, "all_gather: output ", describe(out), " and input ",
              describe(in), " have different dtypes");
  PRISM_CHECK(out->numel() == in->numel() * size_, INVALID_ARGUMENT, "all_gather: output ", describe(out),
              " has ", out->numel(), " elements; expected world size ", size_, " x input ", describe(in),
              " = ", in->numel() * size_);
  Staged si = stage(in, true, native_for(plugin_, in));
  Staged so = stage(out, false, native_for(plugin_, out));
  std::string what = detail::str_cat("all_gather(", describe(in), ")");
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  prism_dtype dt = in->dtype;
  return enqueue(
      what,
      [=] {
        if (prism_plugin_error* e = debug_check(what, 2, dt, static_cast<int64_t>(si.count), 0)) return e;
        const Wire w = wire(dt, si.count);
        return p->table->all_gather(p->ctx, comm, si.ptr, so.ptr, w.count, w.dtype, timeout);
      },
      copy_back(so));
}

WorkPtr ProcessGroup::reduce_scatter(const Tensor& out, const Tensor& in, Reduce op) {
  check_reduce(op, "reduce_scatter");
  PRISM_CHECK(out->dtype == in->dtype, TYPE, "reduce_scatter: output ", describe(out), " and input ",
              describe(in), " have different dtypes");
  PRISM_CHECK(in->numel() == out->numel() * size_, INVALID_ARGUMENT, "reduce_scatter: input ", describe(in),
              " has ", in->numel(), " elements; expected world size ", size_, " x output ", describe(out),
              " = ", out->numel() * size_);
  PRISM_CHECK(!(op == Reduce::Avg && in->dtype == PRISM_DTYPE_BOOL), TYPE,
              "reduce_scatter: the avg operator does not take bool tensors");
  check_complex_op(in, op, "reduce_scatter");
  const bool native_ok = op != Reduce::Avg || is_float(in->dtype);
  Staged si = stage(in, true, native_ok && native_for(plugin_, in));
  Staged so = stage(out, false, native_ok && native_for(plugin_, out));
  std::string what = detail::str_cat("reduce_scatter(", reduce_name(op), ", ", describe(in), ")");
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  int32_t n = size_;
  prism_dtype dt = in->dtype;
  return enqueue(
      what,
      [=] {
        if (prism_plugin_error* e =
                debug_check(what, 3, dt, static_cast<int64_t>(so.count), static_cast<int>(op)))
          return e;
        const Wire w = wire(dt, so.count);
        prism_plugin_error* e =
            p->table->reduce_scatter(p->ctx, comm, si.ptr, so.ptr, w.count, w.dtype, plugin_op(op), timeout);
        if (e == nullptr && op == Reduce::Avg && !so.native) divide(so.ptr, w.count, w.dtype, n);
        return e;
      },
      finish_avg(so, op, n));
}

WorkPtr ProcessGroup::barrier() {
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  return enqueue("barrier()",
                 [=] {
                   if (prism_plugin_error* e = debug_check("barrier()", 4, 0, 0, 0)) return e;
                   return p->table->barrier(p->ctx, comm, timeout);
                 },
                 {});
}

WorkPtr ProcessGroup::send(const Tensor& t, int32_t dst, int32_t tag) {
  PRISM_CHECK(dst >= 0 && dst < size_ && dst != rank_, INVALID_ARGUMENT, "send: destination rank ", dst,
              " is not another rank of the group (rank ", rank_, " of ", size_, ")");
  PRISM_CHECK(tag >= 0, INVALID_ARGUMENT, "send: tag ", tag, " is negative");
  Staged s = stage(t, true, native_for(plugin_, t));
  uint64_t bytes = s.count * t->element_size();
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  return enqueue(detail::str_cat("send(to rank ", dst, ", tag ", tag, ", ", describe(t), ")"),
                 [=] { return p->table->send(p->ctx, comm, s.ptr, bytes, dst, tag, timeout); }, {});
}

WorkPtr ProcessGroup::recv(const Tensor& t, int32_t src, int32_t tag) {
  PRISM_CHECK(src >= 0 && src < size_ && src != rank_, INVALID_ARGUMENT, "recv: source rank ", src,
              " is not another rank of the group (rank ", rank_, " of ", size_, ")");
  PRISM_CHECK(tag >= 0, INVALID_ARGUMENT, "recv: tag ", tag, " is negative");
  Staged s = stage(t, false, native_for(plugin_, t));
  uint64_t bytes = s.count * t->element_size();
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  int64_t timeout = timeout_ms_;
  return enqueue(
      detail::str_cat("recv(from rank ", src, ", tag ", tag, ", ", describe(t), ")"),
      [=] { return p->table->recv(p->ctx, comm, s.ptr, bytes, src, tag, timeout); }, copy_back(s));
}

std::shared_ptr<ProcessGroup> ProcessGroup::split(const std::vector<int32_t>& ranks) {
  PRISM_CHECK(!ranks.empty(), INVALID_ARGUMENT, "new_group: the rank list is empty");
  for (size_t i = 0; i < ranks.size(); ++i) {
    PRISM_CHECK(ranks[i] >= 0 && ranks[i] < size_, INVALID_ARGUMENT, "new_group: rank ", ranks[i],
                " is out of range for world size ", size_);
    PRISM_CHECK(i == 0 || ranks[i] > ranks[i - 1], INVALID_ARGUMENT,
                "new_group: ranks must be ascending and distinct (", ranks[i - 1], " then ", ranks[i], ")");
  }
  uint64_t id = next_group_id_++;
  // Runs on the worker so it is ordered after collectives already issued.
  auto out = std::make_shared<prism_comm_t>(nullptr);  // outlives a wait that times out
  CommPlugin* p = plugin_;
  prism_comm_t comm = comm_;
  WorkPtr w = enqueue(detail::str_cat("new_group(", ranks.size(), " ranks)"),
                      [out, p, comm, ranks, id] {
                        return p->table->comm_split(p->ctx, comm, ranks.data(), ranks.size(), id, out.get());
                      },
                      {});
  w->wait(timeout_ms_ + 5000);
  prism_comm_t sub = *out;
  if (sub == nullptr) return nullptr;
  int32_t my = 0;
  for (size_t i = 0; i < ranks.size(); ++i)
    if (ranks[i] == rank_) my = static_cast<int32_t>(i);
  return std::make_shared<ProcessGroup>(plugin_, sub, my, static_cast<int32_t>(ranks.size()), timeout_ms_);
}

// ===========================================================================
// init / finalize
// ===========================================================================

std::shared_ptr<ProcessGroup> world() {
  std::lock_guard<std::mutex> lock(g_world_mu);
  return world_slot();
}

// Note [Distributed environment]
// Rank and world size come from PRISM_RANK / PRISM_WORLD_SIZE (set by
// `prism run`), else from what launchers set: OMPI_COMM_WORLD_RANK/SIZE
// (OpenMPI's mpirun), PMI_RANK/PMI_SIZE (MPICH, Intel MPI), SLURM_PROCID/
// SLURM_NTASKS, RANK/WORLD_SIZE (torchrun). The rendezvous address is
// PRISM_MASTER_ADDR / PRISM_MASTER_PORT, else MASTER_ADDR / MASTER_PORT,
// else 127.0.0.1:29500. The timeout is PRISM_DIST_TIMEOUT (seconds), default
// 300. Engines that find the ranks themselves (MPI) ignore what is missing.
void init(const char* backend, int32_t rank, int32_t world_size, const char* master_addr, int32_t master_port,
          int64_t timeout_ms) {
  std::lock_guard<std::mutex> lock(g_world_mu);
  PRISM_CHECK(!world_slot(), INVALID_ARGUMENT, "dist_init: already initialized (rank ", world_slot()->rank(),
              " of ", world_slot()->size(), " over '", world_slot()->backend(),
              "'); call prism_dist_finalize first");
  std::string name = backend != nullptr && backend[0] != '\0' ? backend : "";
  if (name.empty()) {
    const char* env = std::getenv("PRISM_DIST_BACKEND");
    name = env != nullptr && env[0] != '\0' ? env : "gloo";
  }
  CommPlugin* plugin = Runtime::get().comm_plugin(name);
  if (plugin == nullptr) {
    std::string loaded;
    for (CommPlugin* c : Runtime::get().comm_plugins()) loaded += (loaded.empty() ? "" : ", ") + c->name;
    PRISM_FAIL(UNAVAILABLE, "dist_init: no communicator plugin '", name, "' is loaded (libprism-comm-", name,
               ".so; loaded: ", loaded.empty() ? "none" : loaded, "); run `prism info` for the load report");
  }
  PRISM_CHECK(plugin->usable, UNAVAILABLE, "dist_init: communicator plugin '", name,
              "' cannot run here: ", plugin->reason);
  // Note [SIGPIPE and dead peers]
  // When a rank dies its sockets close, and the engine's next write to it
  // raises SIGPIPE, whose default action would kill this rank too: a dead
  // peer must come back as an error (that is how faults are reported). So
  // joining a process group ignores SIGPIPE when it is still at its default,
  // as Python's interpreter and MPI runtimes do; a handler or mask the
  // program set is left alone. prism_dist_init's documentation says so.
  {
    struct sigaction cur {};
    if (::sigaction(SIGPIPE, nullptr, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) == 0 &&
        cur.sa_handler == SIG_DFL) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      sigemptyset(&ign.sa_mask);
      ::sigaction(SIGPIPE, &ign, nullptr);
    }
  }
  if (rank < 0) {
    const char* v =
        env_first({"PRISM_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", "RANK"}, nullptr);
    if (v != nullptr) {
      char* end = nullptr;
      rank = static_cast<int32_t>(std::strtol(v, &end, 10));
      PRISM_CHECK(end != v && *end == '\0', INVALID_ARGUMENT, "dist_init: rank '", v, "' is not an integer");
    }
  }
  if (world_size < 0) {
    const char* v = env_first(
        {"PRISM_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", "WORLD_SIZE"}, nullptr);
    if (v != nullptr) {
      char* end = nullptr;
      world_size = static_cast<int32_t>(std::strtol(v, &end, 10));
      PRISM_CHECK(end != v && *end == '\0', INVALID_ARGUMENT, "dist_init: world size '", v,
                  "' is not an integer");
    }
  }
  if (name != "mpi") {
    PRISM_CHECK(
        world_size >= 1, INVALID_ARGUMENT,
        "dist_init: the world size is not set: set PRISM_WORLD_SIZE (or launch with `prism run -n N`)");
    PRISM_CHECK(rank >= 0 && rank < world_size, INVALID_ARGUMENT, "dist_init: rank ", rank,
                " is not in [0, world size ", world_size,
                "): set PRISM_RANK (or launch with `prism run -n N`)");
  }
  std::string addr = master_addr != nullptr && master_addr[0] != '\0' ? master_addr : "";
  if (addr.empty()) {
    const char* v = env_first({"PRISM_MASTER_ADDR", "MASTER_ADDR"}, nullptr);
    addr = v != nullptr ? v : "127.0.0.1";
  }
  if (master_port <= 0) {
    const char* which = nullptr;
    const char* v = env_first({"PRISM_MASTER_PORT", "MASTER_PORT"}, &which);
    master_port = v != nullptr ? static_cast<int32_t>(env_int(which, 29500)) : 29500;
  }
  PRISM_CHECK(master_port > 0 && master_port < 65536, INVALID_ARGUMENT, "dist_init: master port ",
              master_port, " is not in 1..65535");
  if (timeout_ms <= 0) timeout_ms = env_int("PRISM_DIST_TIMEOUT", 300) * 1000;
  PRISM_CHECK(timeout_ms > 0, INVALID_ARGUMENT, "dist_init: the timeout must be positive");

  prism_comm_config cfg{};
  cfg.struct_size = sizeof(cfg);
  cfg.rank = rank;
  cfg.world_size = world_size;
  cfg.master_addr = addr.c_str();
  cfg.master_port = master_port;
  cfg.timeout_ms = timeout_ms;
  prism_comm_t comm = nullptr;
  int32_t got_rank = rank, got_size = world_size;
  if (prism_plugin_error* err = plugin->table->comm_create(plugin->ctx, &cfg, &comm, &got_rank, &got_size))
    throw_if_plugin_error(err, detail::str_cat("dist_init (comm plugin '", name, "', rank ", rank, " of ",
                                               world_size, ", master ", addr, ":", master_port, ")"));
  world_slot() = std::make_shared<ProcessGroup>(plugin, comm, got_rank, got_size, timeout_ms);
}

void finalize() {
  std::shared_ptr<ProcessGroup> w;
  {
    std::lock_guard<std::mutex> lock(g_world_mu);
    w = std::move(world_slot());
  }
}

}  // namespace prism::dist
