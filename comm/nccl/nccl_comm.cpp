// nccl_comm.cpp — the NCCL communicator plugin (libprism-comm-nccl.so) and, compiled with the HIP names, the
// RCCL one (libprism-comm-rccl.so): collectives on the GPU plugin's device buffers.
#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// The vendor's runtime names (backends/cuda or backends/rocm, Note [GPU runtime shim]).
#include "prism_gpu_shim.hpp"
#ifdef PRISM_COMM_RCCL
#include <rccl/rccl.h>
#else
#include <nccl.h>
#endif

#include "prism/comm.h"
#include "prism_plugin_sdk.h"
#include "tcp_store.hpp"

// Note [NCCL plugin]
// ------------------
// One source for NCCL (CUDA) and RCCL (ROCm, which keeps NCCL's API names):
// the GPU runtime calls go through the device plugins' shim (PRISM_GPU_API),
// the engine through a table of entry points.
//
// - The engine library is loaded at run time (dlopen libnccl.so.2 /
//   librccl.so.1), as the CUDA plugin loads cuBLAS: libnccl is hundreds of
//   MiB of device code that only a machine with a GPU can use. The plugin
//   therefore loads everywhere nccl.h existed at build time; probe answers
//   "no device: <the runtime's reason>" without a GPU, and "no NCCL library:
//   <dlerror>" where a GPU exists but the library does not.
// - Rendezvous: rank 0 makes the ncclUniqueId and publishes it through
//   Prism's TCP store (comm/gloo/tcp_store.hpp) on the master address; the
//   other ranks read it from there. The store also refuses a wrong world size
//   or a duplicate rank at once.
// - Device: each rank uses device (local rank mod device count), the local
//   rank coming from PRISM_LOCAL_RANK (`prism run`), LOCAL_RANK,
//   OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID, else the rank; as one
//   process per GPU is what NCCL expects (it refuses two ranks of one
//   communicator on one GPU).
// - Buffers: pointers into device memory of that device are used in place
//   (the core's device-native path, Note [Device-native collectives] in
//   core/comm/process_group.cpp); host pointers (tensors the core staged,
//   its debug fingerprints) go through a device scratch buffer of the
//   communicator. The two are told apart by PointerGetAttributes.
// - Timeouts: communicators are non-blocking (config.blocking = 0), so no
//   NCCL call waits on a peer. Each call is issued on the communicator's
//   stream inside ncclGroupStart/End, then the plugin polls
//   ncclCommGetAsyncError (until the work is enqueued) and a CUDA event
//   recorded after it (until it completed); a peer's failure shows up as an
//   async error. When timeout_ms passes first, ncclCommAbort frees the
//   communicator and every later call fails with the reason.
// - Dtypes: NCCL has no bool and no 16-bit integer. Broadcast, all_gather and
//   send/recv move bytes, so every dtype works; reductions on bool run on
//   uint8 with sum/max as OR and prod/min as AND (PyTorch's meaning);
//   reductions on int16 are refused with PRISM_ERROR_TYPE.
// - Send/recv: NCCL has no tags; messages between two ranks match in issue
//   order, which the core's one worker per group keeps (tags are checked by
//   the core only).

namespace {

using prism::gloo_comm::TcpStore;
using prism::gloo_comm::TcpStoreServer;
namespace gpu = prism::gpu;
using Clock = std::chrono::steady_clock;

#ifdef PRISM_COMM_RCCL
constexpr const char* kEngine = "rccl";
constexpr const char* kEngineName = "RCCL";
constexpr const char* kLibraries[] = {"librccl.so.1", "librccl.so"};
#else
constexpr const char* kEngine = "nccl";
constexpr const char* kEngineName = "NCCL";
constexpr const char* kLibraries[] = {"libnccl.so.2", "libnccl.so"};
#endif

const prism_host_table* g_host = nullptr;

prism_plugin_error* make_error(prism_status code, const std::string& msg) {
  return g_host->error_create(code, (std::string(kEngine) + ": " + msg).c_str());
}

// ---- the engine's entry points, loaded at run time ------------------------------------------------

struct Engine {
  void* handle = nullptr;
  decltype(&ncclGetVersion) GetVersion = nullptr;
  decltype(&ncclGetUniqueId) GetUniqueId = nullptr;
  decltype(&ncclCommInitRankConfig) CommInitRankConfig = nullptr;
  decltype(&ncclCommSplit) CommSplit = nullptr;
  decltype(&ncclCommFinalize) CommFinalize = nullptr;
  decltype(&ncclCommDestroy) CommDestroy = nullptr;
  decltype(&ncclCommAbort) CommAbort = nullptr;
  decltype(&ncclCommGetAsyncError) CommGetAsyncError = nullptr;
  decltype(&ncclGetErrorString) GetErrorString = nullptr;
  decltype(&ncclGetLastError) GetLastError = nullptr;
  decltype(&ncclGroupStart) GroupStart = nullptr;
  decltype(&ncclGroupEnd) GroupEnd = nullptr;
  decltype(&ncclAllReduce) AllReduce = nullptr;
  decltype(&ncclBroadcast) Broadcast = nullptr;
  decltype(&ncclAllGather) AllGather = nullptr;
  decltype(&ncclReduceScatter) ReduceScatter = nullptr;
  decltype(&ncclSend) Send = nullptr;
  decltype(&ncclRecv) Recv = nullptr;
};

// *out = the symbol `name`, or nullptr and its name appended to *missing.
template <typename F>
void bind(void* h, const char* name, F* out, std::string* missing) {
  *out = reinterpret_cast<F>(::dlsym(h, name));
  if (*out == nullptr) *missing += (missing->empty() ? "" : ", ") + std::string(name);
}

// Loads the library; false and *why on failure.
bool load_engine(Engine* e, std::string* why) {
  std::string tried;
  for (const char* name : kLibraries) {
    e->handle = ::dlopen(name, RTLD_LAZY | RTLD_LOCAL);  // lazy: the probe binds only a table
    if (e->handle != nullptr) break;
    const char* err = ::dlerror();
    tried += (tried.empty() ? "" : "; ") + std::string(err != nullptr ? err : name);
  }
  if (e->handle == nullptr) {
    *why = "cannot load " + std::string(kLibraries[0]) + " (" + tried + ")";
    return false;
  }
  std::string missing;
  void* h = e->handle;
  bind(h, "ncclGetVersion", &e->GetVersion, &missing);
  bind(h, "ncclGetUniqueId", &e->GetUniqueId, &missing);
  bind(h, "ncclCommInitRankConfig", &e->CommInitRankConfig, &missing);
  bind(h, "ncclCommSplit", &e->CommSplit, &missing);
  bind(h, "ncclCommFinalize", &e->CommFinalize, &missing);
  bind(h, "ncclCommDestroy", &e->CommDestroy, &missing);
  bind(h, "ncclCommAbort", &e->CommAbort, &missing);
  bind(h, "ncclCommGetAsyncError", &e->CommGetAsyncError, &missing);
  bind(h, "ncclGetErrorString", &e->GetErrorString, &missing);
  bind(h, "ncclGetLastError", &e->GetLastError, &missing);
  bind(h, "ncclGroupStart", &e->GroupStart, &missing);
  bind(h, "ncclGroupEnd", &e->GroupEnd, &missing);
  bind(h, "ncclAllReduce", &e->AllReduce, &missing);
  bind(h, "ncclBroadcast", &e->Broadcast, &missing);
  bind(h, "ncclAllGather", &e->AllGather, &missing);
  bind(h, "ncclReduceScatter", &e->ReduceScatter, &missing);
  bind(h, "ncclSend", &e->Send, &missing);
  bind(h, "ncclRecv", &e->Recv, &missing);
  if (!missing.empty()) {
    *why = std::string(kLibraries[0]) + " lacks " + missing + " (" + kEngineName +
           " 2.18 or newer is needed: ncclCommSplit, non-blocking communicators)";
    ::dlclose(e->handle);
    *e = Engine{};
    return false;
  }
  return true;
}

struct Ctx {
  bool probed = false;
  int32_t usable = 0;
  std::string reason;
  int device_count = 0;
  Engine nccl;
};

// ---- communicators ----------------------------------------------------------------------------------

struct Comm {
  Ctx* ctx = nullptr;
  std::shared_ptr<TcpStoreServer> server;  // rank 0 of the world only
  std::shared_ptr<TcpStore> store;
  ncclComm_t nc = nullptr;
  int device = 0;
  int rank = 0, size = 1;
  int64_t timeout_ms = 300000;  // the world's default (comm_split has no timeout argument)
  gpu::Stream stream = nullptr;
  gpu::Event done = nullptr;
  void* scratch = nullptr;  // device staging of host buffers; grows
  size_t scratch_bytes = 0;
  void* one = nullptr;  // 4 bytes of device memory: the barrier's all-reduce
  std::string broken;   // non-empty once unusable
  bool aborted = false;
};

Comm* as_comm(prism_comm_t c) {
  return reinterpret_cast<Comm*>(c);
}

std::string gpu_text(gpu::Error e) {
  return std::string(gpu::error_string(e)) + " (" + gpu::error_name(e) + ")";
}

std::string engine_text(Comm* c, ncclResult_t r) {
  const Engine& n = c->ctx->nccl;
  std::string s = n.GetErrorString(r);
  const char* last = c->nc != nullptr ? n.GetLastError(c->nc) : n.GetLastError(nullptr);
  if (last != nullptr && last[0] != '\0') s += ": " + std::string(last);
  return s;
}

void abort_comm(Comm* c) {
  if (c->nc != nullptr && !c->aborted) {
    (void)c->ctx->nccl.CommAbort(c->nc);
    c->aborted = true;
  }
}

// Marks the communicator unusable, aborts it, and returns the error.
prism_plugin_error* fail(Comm* c, prism_status code, const std::string& msg) {
  if (c->broken.empty()) c->broken = msg;
  abort_comm(c);
  return make_error(code, msg);
}

prism_status engine_status(ncclResult_t r) {
  return r == ncclInvalidArgument || r == ncclInvalidUsage ? PRISM_ERROR_INVALID_ARGUMENT
                                                           : PRISM_ERROR_UNAVAILABLE;
}

// Polls until the NCCL work issued on `c` is enqueued (its state leaves
// ncclInProgress) and, with `event`, until c->done completed; a failed state
// or the deadline aborts the communicator (Note [NCCL plugin]).
prism_plugin_error* settle(Comm* c, const std::string& what, ncclResult_t issued, Clock::time_point deadline,
                           int64_t timeout_ms, bool event) {
  if (issued != ncclSuccess && issued != ncclInProgress)
    return fail(c, engine_status(issued), what + " failed: " + engine_text(c, issued));
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = c->ctx->nccl.CommGetAsyncError(c->nc, &state);
    if (r != ncclSuccess) state = r;
    if (state != ncclSuccess && state != ncclInProgress)
      return fail(c, engine_status(state), what + " failed: " + engine_text(c, state));
    if (state == ncclSuccess) {
      if (!event) return nullptr;
      const gpu::Error q = gpu::event_query(c->done);
      if (q == gpu::kSuccess) return nullptr;
      if (q != gpu::kNotReady) {
        gpu::clear_last_error();
        return fail(c, gpu::error_status(q), what + " failed on the device: " + gpu_text(q));
      }
    }
    if (Clock::now() >= deadline) {
      return fail(c, PRISM_ERROR_UNAVAILABLE,
                  what + " timed out after " + std::to_string(timeout_ms) +
                      " ms (a peer rank may be slow, stuck or gone); the communicator was aborted "
                      "(ncclCommAbort)");
    }
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(1)) pause *= 2;
  }
}

prism_plugin_error* check_usable(Comm* c, const std::string& what) {
  if (c == nullptr) return make_error(PRISM_ERROR_INVALID_ARGUMENT, what + ": NULL communicator");
  if (!c->broken.empty())
    return make_error(PRISM_ERROR_UNAVAILABLE,
                      what + ": the communicator is unusable after an earlier failure: " + c->broken);
  return nullptr;
}

// ---- buffers ------------------------------------------------------------------------------------------

// One buffer of a call: used in place when it is device memory of the
// communicator's device, else staged through the scratch buffer.
struct Buf {
  const void* user = nullptr;
  size_t bytes = 0;
  bool read = false, write = false;
  void* dev = nullptr;
  bool staged = false;
};

// *on_device = p is device (or managed) memory; an error when it is another device's.
prism_plugin_error* locate(Comm* c, const std::string& what, const void* p, bool* on_device) {
  *on_device = false;
  int device = -1;
#ifdef PRISM_COMM_RCCL
  hipPointerAttribute_t a{};
  if (hipPointerGetAttributes(&a, p) != hipSuccess) {
    gpu::clear_last_error();  // unregistered host memory
    return nullptr;
  }
  *on_device = a.memoryType == hipMemoryTypeDevice || a.isManaged != 0;
  device = a.device;
#else
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    gpu::clear_last_error();
    return nullptr;
  }
  *on_device = a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
  device = a.device;
#endif
  if (*on_device && device != c->device) {
    return make_error(PRISM_ERROR_INVALID_ARGUMENT,
                      what + ": the buffer is on " + gpu::kPluginName + ":" + std::to_string(device) +
                          " but this rank's communicator uses " + gpu::kPluginName + ":" +
                          std::to_string(c->device) + " (device = local rank mod device count)");
  }
  return nullptr;
}

constexpr size_t kAlign = 256;

// Places every buffer (in place or in scratch) and queues the host -> device
// copies of the ones the engine reads.
prism_plugin_error* stage_in(Comm* c, const std::string& what, Buf* bufs, size_t n) {
  size_t need = 0;
  for (size_t i = 0; i < n; ++i) {
    bool on_device = false;
    if (prism_plugin_error* e = locate(c, what, bufs[i].user, &on_device)) return e;
    bufs[i].staged = !on_device;
    if (on_device) bufs[i].dev = const_cast<void*>(bufs[i].user);
    if (bufs[i].staged) need += (bufs[i].bytes + kAlign - 1) / kAlign * kAlign;
  }
  if (need > c->scratch_bytes) {
    if (c->scratch != nullptr) (void)gpu::free_device(c->scratch);  // earlier work has completed
    c->scratch = nullptr;
    c->scratch_bytes = 0;
    const gpu::Error e = gpu::malloc_device(&c->scratch, need);
    if (e != gpu::kSuccess) {
      gpu::clear_last_error();
      return make_error(gpu::error_status(e), what + ": cannot allocate " + std::to_string(need) +
                                                  " bytes of device staging memory: " + gpu_text(e));
    }
    c->scratch_bytes = need;
  }
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!bufs[i].staged) continue;
    bufs[i].dev = static_cast<char*>(c->scratch) + at;
    at += (bufs[i].bytes + kAlign - 1) / kAlign * kAlign;
    if (bufs[i].read) {
      const gpu::Error e = gpu::copy_h2d_async(bufs[i].dev, bufs[i].user, bufs[i].bytes, c->stream);
      if (e != gpu::kSuccess) {
        gpu::clear_last_error();
        return fail(c, gpu::error_status(e), what + ": host to device copy failed: " + gpu_text(e));
      }
    }
  }
  return nullptr;
}

// Copies the staged outputs back to the host (after the collective completed).
prism_plugin_error* stage_out(Comm* c, const std::string& what, const Buf* bufs, size_t n) {
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    if (!bufs[i].staged || !bufs[i].write) continue;
    const gpu::Error e =
        gpu::copy_d2h_async(const_cast<void*>(bufs[i].user), bufs[i].dev, bufs[i].bytes, c->stream);
    if (e != gpu::kSuccess) {
      gpu::clear_last_error();
      return fail(c, gpu::error_status(e), what + ": device to host copy failed: " + gpu_text(e));
    }
    any = true;
  }
  if (any) {
    const gpu::Error e = gpu::stream_synchronize(c->stream);
    if (e != gpu::kSuccess) {
      gpu::clear_last_error();
      return fail(c, gpu::error_status(e), what + ": stream synchronize failed: " + gpu_text(e));
    }
  }
  return nullptr;
}

// Runs one call: stage in, `issue` (the NCCL calls, inside a group) on the
// communicator's stream, wait with the timeout, stage out.
template <typename Issue>
prism_plugin_error* run(Comm* c, const std::string& what, int64_t timeout_ms, Buf* bufs, size_t n,
                        Issue&& issue) {
  if (prism_plugin_error* e = check_usable(c, what)) return e;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const gpu::Error se = gpu::set_device(c->device);
  if (se != gpu::kSuccess) {
    gpu::clear_last_error();
    return make_error(gpu::error_status(se), what + ": cannot select " + gpu::kPluginName + ":" +
                                                 std::to_string(c->device) + ": " + gpu_text(se));
  }
  if (prism_plugin_error* e = stage_in(c, what, bufs, n)) return e;
  const Engine& x = c->ctx->nccl;
  ncclResult_t r = x.GroupStart();
  if (r == ncclSuccess) {
    r = issue();
    const ncclResult_t g = x.GroupEnd();  // always closes the group
    if (r == ncclSuccess) r = g;
  }
  if (prism_plugin_error* e = settle(c, what, r, deadline, timeout_ms, false)) return e;
  const gpu::Error re = gpu::event_record(c->done, c->stream);
  if (re != gpu::kSuccess) {
    gpu::clear_last_error();
    return fail(c, gpu::error_status(re), what + ": event record failed: " + gpu_text(re));
  }
  if (prism_plugin_error* e = settle(c, what, ncclSuccess, deadline, timeout_ms, true)) return e;
  return stage_out(c, what, bufs, n);
}

// ---- dtypes -------------------------------------------------------------------------------------------

// Element size of the dtypes this engine moves: the SDK's table, with the
// complex dtypes refused (0) as every other dtype it does not know.
size_t elem_size(int32_t dtype) {
  if (dtype == PRISM_DTYPE_C64 || dtype == PRISM_DTYPE_C128) return 0;
  return prism_sdk_dtype_size(dtype);
}

const char* dtype_text(int32_t dtype) {
  static const char* names[] = {"bool",  "uint8",   "int8",     "int16",   "int32",
                                "int64", "float16", "bfloat16", "float32", "float64"};
  return dtype >= 0 && dtype <= 9 ? names[dtype] : "?";
}

// The NCCL type and operator of a reduction (Note [NCCL plugin], dtypes).
prism_plugin_error* reduction(const std::string& what, int32_t dtype, int32_t op, ncclDataType_t* type,
                              ncclRedOp_t* red) {
  switch (op) {
    case PRISM_COMM_SUM:
      *red = ncclSum;
      break;
    case PRISM_COMM_MAX:
      *red = ncclMax;
      break;
    case PRISM_COMM_MIN:
      *red = ncclMin;
      break;
    case PRISM_COMM_PROD:
      *red = ncclProd;
      break;
    default:
      return make_error(PRISM_ERROR_INVALID_ARGUMENT,
                        what + ": unknown reduce operator " + std::to_string(op));
  }
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      *type = ncclUint8;  // 0/1: OR and AND, as PyTorch reduces bool
      *red = *red == ncclSum || *red == ncclMax ? ncclMax : ncclMin;
      return nullptr;
    case PRISM_DTYPE_U8:
      *type = ncclUint8;
      return nullptr;
    case PRISM_DTYPE_I8:
      *type = ncclInt8;
      return nullptr;
    case PRISM_DTYPE_I32:
      *type = ncclInt32;
      return nullptr;
    case PRISM_DTYPE_I64:
      *type = ncclInt64;
      return nullptr;
    case PRISM_DTYPE_F16:
      *type = ncclFloat16;
      return nullptr;
    case PRISM_DTYPE_BF16:
      *type = ncclBfloat16;
      return nullptr;
    case PRISM_DTYPE_F32:
      *type = ncclFloat32;
      return nullptr;
    case PRISM_DTYPE_F64:
      *type = ncclFloat64;
      return nullptr;
    case PRISM_DTYPE_I16:
      return make_error(PRISM_ERROR_TYPE, what + " on int16 is refused: " + kEngineName +
                                              " has no 16-bit integer type (cast the tensor to int32, or "
                                              "use the gloo backend)");
    default:
      return make_error(PRISM_ERROR_TYPE, what + ": unknown dtype " + std::to_string(dtype));
  }
}

prism_plugin_error* bytes_of(const std::string& what, int32_t dtype, uint64_t count, size_t* bytes) {
  const size_t es = elem_size(dtype);
  if (es == 0) return make_error(PRISM_ERROR_TYPE, what + ": unknown dtype " + std::to_string(dtype));
  *bytes = static_cast<size_t>(count) * es;
  return nullptr;
}

// ---- table slots --------------------------------------------------------------------------------------

prism_plugin_error* nc_init(void** ctx) {
  *ctx = new Ctx();
  return nullptr;
}

void nc_shutdown(void* ctx) {
  auto* x = static_cast<Ctx*>(ctx);
  // The engine library stays loaded: its threads and the driver's state may
  // outlive this context (as the CUDA plugin never unloads the runtime).
  delete x;
}

prism_plugin_error* nc_probe(void* ctx, int32_t* usable, const char** reason) {
  auto* x = static_cast<Ctx*>(ctx);
  if (!x->probed) {
    x->probed = true;
    int n = 0;
    const gpu::Error e = gpu::device_count(&n);
    if (e != gpu::kSuccess) {
      gpu::clear_last_error();
      x->reason = std::string("no device: ") + gpu::kDeviceCountCall + " failed: " + gpu_text(e) + "; " +
                  gpu::versions();
    } else if (n <= 0) {
      x->reason = std::string("no device: ") + gpu::kDeviceCountCall + " reports 0 devices";
    } else {
      std::string why;
      if (!load_engine(&x->nccl, &why)) {
        x->reason = std::string("no ") + kEngineName + " library: " + why;
      } else {
        x->device_count = n;
        x->usable = 1;
      }
    }
  }
  *usable = x->usable;
  *reason = x->usable ? nullptr : x->reason.c_str();
  return nullptr;
}

// The rank's local rank (Note [NCCL plugin], device).
int local_rank(int rank) {
  for (const char* name : {"PRISM_LOCAL_RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || v[0] == '\0') continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && x >= 0) return static_cast<int>(x);
  }
  return rank;
}

// Creates the stream, event and barrier word of `c` on c->device.
prism_plugin_error* make_resources(Comm* c, const std::string& what) {
  gpu::Error e = gpu::set_device(c->device);
  if (e == gpu::kSuccess) e = gpu::stream_create(&c->stream);
  if (e == gpu::kSuccess) e = gpu::event_create(&c->done);
  if (e == gpu::kSuccess) e = gpu::malloc_device(&c->one, 4);
  if (e != gpu::kSuccess) {
    gpu::clear_last_error();
    return make_error(gpu::error_status(e), what + ": cannot set up " + gpu::kPluginName + ":" +
                                                std::to_string(c->device) + ": " + gpu_text(e));
  }
  return nullptr;
}

void free_comm(Comm* c) {
  if (c == nullptr) return;
  if (gpu::set_device(c->device) != gpu::kSuccess) gpu::clear_last_error();
  if (c->nc != nullptr) {
    const Engine& x = c->ctx->nccl;
    if (!c->aborted && c->broken.empty()) {
      // Finalize flushes this rank's work (all of it completed); it must not
      // wait on other ranks for long: abort after a short grace.
      ncclResult_t r = x.CommFinalize(c->nc);
      const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
      while (r == ncclSuccess || r == ncclInProgress) {
        ncclResult_t state = ncclSuccess;
        if (x.CommGetAsyncError(c->nc, &state) != ncclSuccess) break;
        if (state != ncclInProgress) {
          r = state;
          break;
        }
        if (Clock::now() >= deadline) {
          r = ncclInProgress;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (r == ncclSuccess)
        (void)x.CommDestroy(c->nc);
      else
        abort_comm(c);
    } else {
      abort_comm(c);
    }
  }
  if (c->done != nullptr) (void)gpu::event_destroy(c->done);
  if (c->stream != nullptr) (void)gpu::stream_destroy(c->stream);
  if (c->scratch != nullptr) (void)gpu::free_device(c->scratch);
  if (c->one != nullptr) (void)gpu::free_device(c->one);
  gpu::clear_last_error();
  delete c;
}

prism_plugin_error* nc_comm_create(void* ctx, const prism_comm_config* cfg, prism_comm_t* out, int32_t* rank,
                                   int32_t* world_size) {
  *out = nullptr;
  auto* x = static_cast<Ctx*>(ctx);
  if (!x->usable) return make_error(PRISM_ERROR_UNAVAILABLE, "cannot run here: " + x->reason);
  if (cfg == nullptr || cfg->master_addr == nullptr || cfg->rank < 0 || cfg->world_size < 1 ||
      cfg->rank >= cfg->world_size || cfg->timeout_ms <= 0) {
    return make_error(
        PRISM_ERROR_INVALID_ARGUMENT,
        "needs a rank in [0, world size), a world size, a master address and a positive timeout");
  }
  std::unique_ptr<Comm, void (*)(Comm*)> c(new Comm(), free_comm);
  c->ctx = x;
  c->rank = cfg->rank;
  c->size = cfg->world_size;
  c->timeout_ms = cfg->timeout_ms;
  c->device = local_rank(cfg->rank) % x->device_count;
  const std::string what = "init (rank " + std::to_string(c->rank) + " of " + std::to_string(c->size) +
                           " on " + gpu::kPluginName + ":" + std::to_string(c->device) + ")";
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(cfg->timeout_ms);
  if (prism_plugin_error* e = make_resources(c.get(), what)) return e;
  ncclUniqueId id{};
  try {
    if (cfg->rank == 0)
      c->server = std::make_shared<TcpStoreServer>(cfg->master_addr, cfg->master_port, cfg->world_size);
    c->store = std::make_shared<TcpStore>(cfg->master_addr, cfg->master_port, cfg->rank, cfg->world_size,
                                          std::chrono::milliseconds(cfg->timeout_ms));
    if (cfg->rank == 0) {
      const ncclResult_t r = x->nccl.GetUniqueId(&id);
      if (r != ncclSuccess)
        return make_error(PRISM_ERROR_UNAVAILABLE,
                          what + ": ncclGetUniqueId failed: " + engine_text(c.get(), r));
      const char* p = reinterpret_cast<const char*>(&id);
      c->store->set("nccl/id", std::vector<char>(p, p + sizeof(id)));
    } else {
      std::vector<char> v = c->store->get("nccl/id");
      if (v.size() != sizeof(id)) {
        return make_error(PRISM_ERROR_INVALID_ARGUMENT,
                          what + ": the master published a " + std::to_string(v.size()) +
                              "-byte id, not an ncclUniqueId (" + std::to_string(sizeof(id)) +
                              " bytes): is rank 0 running another communicator plugin?");
      }
      std::memcpy(&id, v.data(), sizeof(id));
    }
  } catch (const std::exception& e) {
    return make_error(PRISM_ERROR_UNAVAILABLE, what + ": rendezvous failed: " + e.what());
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const ncclResult_t r = x->nccl.CommInitRankConfig(&c->nc, c->size, id, c->rank, &config);
  if (c->nc == nullptr && r != ncclSuccess && r != ncclInProgress)
    return make_error(engine_status(r), what + ": ncclCommInitRankConfig failed: " + engine_text(c.get(), r));
  if (prism_plugin_error* e =
          settle(c.get(), what + ": ncclCommInitRankConfig", r, deadline, cfg->timeout_ms, false))
    return e;
  *rank = c->rank;
  *world_size = c->size;
  *out = reinterpret_cast<prism_comm_t>(c.release());
  return nullptr;
}

prism_plugin_error* nc_comm_split(void* /*ctx*/, prism_comm_t parent, const int32_t* ranks, size_t n,
                                  uint64_t group_id, prism_comm_t* out) {
  *out = nullptr;
  Comm* p = as_comm(parent);
  const std::string what = "new_group " + std::to_string(group_id) + " (" + std::to_string(n) + " ranks)";
  if (prism_plugin_error* e = check_usable(p, what)) return e;
  int mine = -1;
  for (size_t i = 0; i < n; ++i)
    if (ranks[i] == p->rank) mine = static_cast<int>(i);
  std::unique_ptr<Comm, void (*)(Comm*)> c(new Comm(), free_comm);
  c->ctx = p->ctx;
  c->device = p->device;
  c->rank = mine;
  c->size = static_cast<int>(n);
  c->timeout_ms = p->timeout_ms;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(p->timeout_ms);
  if (gpu::set_device(p->device) != gpu::kSuccess) gpu::clear_last_error();
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  // Collective over the parent: ranks outside the list pass NCCL_SPLIT_NOCOLOR and get no communicator.
  const ncclResult_t r = p->ctx->nccl.CommSplit(p->nc, mine >= 0 ? 0 : NCCL_SPLIT_NOCOLOR,
                                                mine >= 0 ? mine : 0, &c->nc, &config);
  if (prism_plugin_error* e = settle(p, what + ": ncclCommSplit", r, deadline, p->timeout_ms, false))
    return e;
  if (mine < 0) return nullptr;
  if (c->nc == nullptr)
    return fail(p, PRISM_ERROR_INTERNAL, what + ": ncclCommSplit returned no communicator");
  if (prism_plugin_error* e =
          settle(c.get(), what + ": ncclCommSplit", ncclSuccess, deadline, p->timeout_ms, false))
    return e;
  if (prism_plugin_error* e = make_resources(c.get(), what)) return e;
  *out = reinterpret_cast<prism_comm_t>(c.release());
  return nullptr;
}

void nc_comm_destroy(void* /*ctx*/, prism_comm_t comm) {
  free_comm(as_comm(comm));
}

prism_plugin_error* nc_all_reduce(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                  int32_t op, int64_t timeout_ms) {
  const std::string what =
      std::string("all_reduce(") + dtype_text(dtype) + "[" + std::to_string(count) + "])";
  ncclDataType_t type{};
  ncclRedOp_t red{};
  if (prism_plugin_error* e = reduction(what, dtype, op, &type, &red)) return e;
  Comm* c = as_comm(comm);
  if (count == 0) return check_usable(c, what);
  Buf b[1] = {{buf, count * elem_size(dtype), true, true}};
  return run(c, what, timeout_ms, b, 1,
             [&] { return c->ctx->nccl.AllReduce(b[0].dev, b[0].dev, count, type, red, c->nc, c->stream); });
}

prism_plugin_error* nc_broadcast(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                 int32_t root, int64_t timeout_ms) {
  const std::string what = std::string("broadcast(") + dtype_text(dtype) + "[" + std::to_string(count) +
                           "], root " + std::to_string(root) + ")";
  size_t bytes = 0;
  if (prism_plugin_error* e = bytes_of(what, dtype, count, &bytes)) return e;
  Comm* c = as_comm(comm);
  if (count == 0) return check_usable(c, what);
  if (c != nullptr && (root < 0 || root >= c->size))
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, what + ": root is not a rank of the communicator");
  Buf b[1] = {{buf, bytes, c != nullptr && c->rank == root, true}};
  return run(c, what, timeout_ms, b, 1, [&] {
    return c->ctx->nccl.Broadcast(b[0].dev, b[0].dev, bytes, ncclUint8, root, c->nc, c->stream);
  });
}

prism_plugin_error* nc_all_gather(void* /*ctx*/, prism_comm_t comm, const void* src, void* dst,
                                  uint64_t count, int32_t dtype, int64_t timeout_ms) {
  const std::string what =
      std::string("all_gather(") + dtype_text(dtype) + "[" + std::to_string(count) + "])";
  size_t bytes = 0;
  if (prism_plugin_error* e = bytes_of(what, dtype, count, &bytes)) return e;
  Comm* c = as_comm(comm);
  if (count == 0) return check_usable(c, what);
  if (prism_plugin_error* e = check_usable(c, what)) return e;
  Buf b[2] = {{src, bytes, true, false}, {dst, bytes * static_cast<size_t>(c->size), false, true}};
  return run(c, what, timeout_ms, b, 2,
             [&] { return c->ctx->nccl.AllGather(b[0].dev, b[1].dev, bytes, ncclUint8, c->nc, c->stream); });
}

prism_plugin_error* nc_reduce_scatter(void* /*ctx*/, prism_comm_t comm, const void* src, void* dst,
                                      uint64_t count, int32_t dtype, int32_t op, int64_t timeout_ms) {
  const std::string what =
      std::string("reduce_scatter(") + dtype_text(dtype) + "[" + std::to_string(count) + " per rank])";
  ncclDataType_t type{};
  ncclRedOp_t red{};
  if (prism_plugin_error* e = reduction(what, dtype, op, &type, &red)) return e;
  Comm* c = as_comm(comm);
  if (count == 0) return check_usable(c, what);
  if (prism_plugin_error* e = check_usable(c, what)) return e;
  const size_t bytes = count * elem_size(dtype);
  Buf b[2] = {{src, bytes * static_cast<size_t>(c->size), true, false}, {dst, bytes, false, true}};
  return run(c, what, timeout_ms, b, 2, [&] {
    return c->ctx->nccl.ReduceScatter(b[0].dev, b[1].dev, count, type, red, c->nc, c->stream);
  });
}

prism_plugin_error* nc_barrier(void* /*ctx*/, prism_comm_t comm, int64_t timeout_ms) {
  Comm* c = as_comm(comm);
  if (prism_plugin_error* e = check_usable(c, "barrier")) return e;
  // NCCL has no barrier: a one-element all-reduce that every rank must join.
  Buf b[1] = {{c->one, 4, false, false}};
  return run(c, "barrier", timeout_ms, b, 1,
             [&] { return c->ctx->nccl.AllReduce(c->one, c->one, 1, ncclInt32, ncclSum, c->nc, c->stream); });
}

prism_plugin_error* nc_send(void* /*ctx*/, prism_comm_t comm, const void* buf, uint64_t bytes, int32_t peer,
                            int32_t /*tag*/, int64_t timeout_ms) {
  const std::string what = "send(" + std::to_string(bytes) + " bytes to rank " + std::to_string(peer) + ")";
  Comm* c = as_comm(comm);
  if (prism_plugin_error* e = check_usable(c, what)) return e;
  if (peer < 0 || peer >= c->size || peer == c->rank)
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, what + ": not another rank of the communicator");
  if (bytes == 0) return nullptr;
  Buf b[1] = {{buf, static_cast<size_t>(bytes), true, false}};
  return run(c, what, timeout_ms, b, 1,
             [&] { return c->ctx->nccl.Send(b[0].dev, bytes, ncclUint8, peer, c->nc, c->stream); });
}

prism_plugin_error* nc_recv(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t bytes, int32_t peer,
                            int32_t /*tag*/, int64_t timeout_ms) {
  const std::string what = "recv(" + std::to_string(bytes) + " bytes from rank " + std::to_string(peer) + ")";
  Comm* c = as_comm(comm);
  if (prism_plugin_error* e = check_usable(c, what)) return e;
  if (peer < 0 || peer >= c->size || peer == c->rank)
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, what + ": not another rank of the communicator");
  if (bytes == 0) return nullptr;
  Buf b[1] = {{buf, static_cast<size_t>(bytes), false, true}};
  return run(c, what, timeout_ms, b, 1,
             [&] { return c->ctx->nccl.Recv(b[0].dev, bytes, ncclUint8, peer, c->nc, c->stream); });
}

#define PRISM_NCCL_STR2(x) #x
#define PRISM_NCCL_STR(x) PRISM_NCCL_STR2(x)

const prism_comm_table kTable = {
    sizeof(prism_comm_table),
    PRISM_COMM_ABI_MAJOR,
    PRISM_COMM_ABI_MINOR,
    kEngine,
#ifdef PRISM_COMM_RCCL
    "RCCL (librccl.so.1, loaded at run time; built against rccl.h " PRISM_NCCL_STR(
        NCCL_MAJOR) "." PRISM_NCCL_STR(NCCL_MINOR) "." PRISM_NCCL_STR(NCCL_PATCH) ")",
#else
    "NCCL (libnccl.so.2, loaded at run time; built against nccl.h " PRISM_NCCL_STR(
        NCCL_MAJOR) "." PRISM_NCCL_STR(NCCL_MINOR) "." PRISM_NCCL_STR(NCCL_PATCH) ")",
#endif
    gpu::kPluginName,
    nc_init,
    nc_shutdown,
    nc_probe,
    nc_comm_create,
    nc_comm_split,
    nc_comm_destroy,
    nc_all_reduce,
    nc_broadcast,
    nc_all_gather,
    nc_reduce_scatter,
    nc_barrier,
    nc_send,
    nc_recv,
    0,  // flags: each call sets the GPU device, which must not change a user thread's current device
};

}  // namespace

extern "C" PRISM_PLUGIN_EXPORT prism_plugin_error* prism_comm_plugin_entry(const prism_host_table* host,
                                                                           const prism_comm_table** table) {
  if (host == nullptr || table == nullptr) return nullptr;
  g_host = host;
  if (host->abi_major != PRISM_PLUGIN_ABI_MAJOR)
    return host->error_create(PRISM_ERROR_UNAVAILABLE, "nccl comm plugin: host table ABI major differs");
  *table = &kTable;
  return nullptr;
}
