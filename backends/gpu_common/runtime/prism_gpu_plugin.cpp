// prism_gpu_plugin.cpp — one host source for libprism-cuda.so and libprism-rocm.so: devices, streams,
// events, memory, copies and kernel launches over the vendor shim (prism_gpu_shim.hpp).
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "prism/plugin.h"
#include "prism_gk_frontend.hpp"
#include "prism_gk_registry.h"
#include "prism_gk_types.h"
#include "prism_gpu_shim.hpp"
#include "prism_plugin_sdk.h"

namespace prism::gpu {
namespace {

const prism_host_table* g_host = nullptr;

// ===========================================================================
// Note [GPU error mapping]
// ---------------------------------------------------------------------------
// Every failing runtime call becomes an error "<plugin>: <call>: <the
// runtime's own message> (<error name>)". The status follows the error
// (prism_gpu_shim.hpp, error_status): allocation failures are OUT_OF_MEMORY;
// no device, no or too old a driver, no kernel image for this GPU are
// UNAVAILABLE; faults during a kernel (illegal address, launch failure,
// ECC) are DEVICE_LOST, since they leave the context unusable; anything
// else is INTERNAL (the plugin validated its inputs). The thread's last
// error is cleared after a failure, so a later call does not report it
// again; sticky faults keep failing every later call, which is what
// DEVICE_LOST promises.
// ===========================================================================

prism_plugin_error* gpu_error(Error e, const char* what) {
  clear_last_error();
  return prism_sdk_error(g_host, error_status(e), "%s: %s: %s (%s)", kPluginName, what, error_string(e),
                         error_name(e));
}

#define PRISM_GPU_CHECK(expr, what)                                                     \
  do {                                                                                  \
    const ::prism::gpu::Error prism_gpu_rc_ = (expr);                                   \
    if (prism_gpu_rc_ != ::prism::gpu::kSuccess) return gpu_error(prism_gpu_rc_, what); \
  } while (0)

// Pinned staging for small host -> device copies (Note [GPU copies]).
struct Staging {
  void* host = nullptr;
  Event done = nullptr;
  bool in_flight = false;
};

constexpr size_t kStagingBytes = size_t{1} << 20;  // copies up to 1 MiB are staged
constexpr size_t kStagingBlocks = 8;               // per device

struct Device {
  int ordinal = 0;
  Stream stream = nullptr;  // the default stream: non-blocking
  DeviceInfo info;
  std::string display_name;  // "<name>, <arch>"
  std::mutex mu;             // staging, BLAS handle
  std::vector<Staging> staging;
  size_t next_staging = 0;
  void* blas = nullptr;  // BLAS handle, created on first use
};

struct Context {
  std::vector<std::unique_ptr<Device>> devices;
  std::string reason;  // why there are no devices
};

// Kernel instances by KernelKey (Note [Ahead-of-time instances]); filled
// once from the generated tables, read-only afterwards.
std::unordered_map<uint64_t, const void*>* g_kernels = nullptr;

void load_kernel_tables() {
  auto* map = new std::unordered_map<uint64_t, const void*>();
  using Table = const prism_gk_kernel_entry* (*)(size_t*);
  for (Table t : {prism_gk_instances_copy, prism_gk_instances_unary, prism_gk_instances_binary,
                  prism_gk_instances_reduce, prism_gk_instances_random, prism_gk_instances_gemm}) {
    size_t n = 0;
    const prism_gk_kernel_entry* rows = t(&n);
    for (size_t i = 0; i < n; ++i) {
      const gk::KernelKey key{static_cast<gk::Kind>(rows[i].kind), rows[i].op, rows[i].dtype, rows[i].dtype2};
      (*map)[gk::pack(key, false)] = rows[i].fn;
    }
  }
  g_kernels = map;
}

const void* find_kernel(const gk::KernelKey& key) {
  auto it = g_kernels->find(gk::pack(key, false));
  return it == g_kernels->end() ? nullptr : it->second;
}

prism_plugin_error* missing_kernel(const prism_kernel_call* c, const gk::KernelKey& key) {
  return prism_sdk_error(g_host, PRISM_ERROR_UNIMPLEMENTED,
                         "%s: %s: no compiled kernel instance for kind %d, op %d, dtype %s (second dtype %d)",
                         kPluginName, c->op, static_cast<int>(key.kind), key.op,
                         prism_sdk_dtype_name(key.dt0), key.dt1);
}

Device* find_device(void* ctx, int32_t index) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr || index < 0 || static_cast<size_t>(index) >= c->devices.size()) return nullptr;
  return c->devices[static_cast<size_t>(index)].get();
}

// Device `index` made current on the calling thread, or an error.
prism_plugin_error* use_device(void* ctx, int32_t index, Device** dev) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr || index < 0 || static_cast<size_t>(index) >= c->devices.size()) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: no device %d (the plugin has %zu)",
                           kPluginName, index, c == nullptr ? size_t{0} : c->devices.size());
  }
  *dev = c->devices[static_cast<size_t>(index)].get();
  PRISM_GPU_CHECK(set_device((*dev)->ordinal), "set device");
  return nullptr;
}

// ===========================================================================
// Note [GPU devices]
// ---------------------------------------------------------------------------
// Every device the runtime reports becomes "<plugin>:N" in runtime order.
// Each gets one non-blocking stream, its default stream; user streams
// (stream_create) are further non-blocking streams of the device. No device,
// no driver or a runtime that fails to start is not an error: the plugin
// loads with zero devices, and the reason quotes the runtime's message and
// error name for the failing call plus the runtime and driver versions,
// e.g. "cudaGetDeviceCount failed: CUDA driver version is insufficient for
// CUDA runtime version (cudaErrorInsufficientDriver); CUDA runtime 13.0, no
// CUDA driver found (libcuda.so.1)". Peer access is enabled between every
// pair of devices that supports it, so kernels and peer copies between them
// need no host round trip. The stable id is the GPU's UUID.
// ===========================================================================

void enumerate(Context& c) {
  int n = 0;
  const Error e = device_count(&n);
  if (e != kSuccess || n <= 0) {
    if (e != kSuccess) {
      clear_last_error();
      c.reason = std::string(kDeviceCountCall) + " failed: " + error_string(e) + " (" + error_name(e) +
                 "); " + versions();
    } else {
      c.reason = std::string("the ") + kRuntimeName + " runtime reports no device; " + versions();
    }
    return;
  }
  std::string last_failure;
  for (int i = 0; i < n; ++i) {
    auto dev = std::make_unique<Device>();
    dev->ordinal = i;
    Error rc = set_device(i);
    if (rc == kSuccess) rc = device_info(i, &dev->info);
    if (rc == kSuccess) rc = stream_create(&dev->stream);
    if (rc != kSuccess) {
      clear_last_error();
      last_failure = "device " + std::to_string(i) + ": " + error_string(rc) + " (" + error_name(rc) + ")";
      continue;
    }
    dev->display_name = dev->info.name + ", " + dev->info.arch;
    c.devices.push_back(std::move(dev));
  }
  for (auto& a : c.devices) {
    for (auto& b : c.devices) {
      int can = 0;
      if (a == b || can_access_peer(&can, a->ordinal, b->ordinal) != kSuccess || can == 0) continue;
      if (set_device(a->ordinal) == kSuccess) {
        const Error rc = enable_peer_access(b->ordinal);
        if (rc != kSuccess && rc != kPeerAccessAlreadyEnabled) clear_last_error();
      }
    }
  }
  if (c.devices.empty()) c.reason = "no usable device: " + last_failure + "; " + versions();
}

prism_plugin_error* gpu_init(void** ctx) {
  Context* c = new (std::nothrow) Context();
  if (c == nullptr)
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory in init", kPluginName);
  try {
    enumerate(*c);
  } catch (...) {
    delete c;
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory enumerating devices",
                           kPluginName);
  }
  *ctx = c;
  return nullptr;
}

void gpu_shutdown(void* ctx) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr) return;
  for (auto& d : c->devices) {
    if (set_device(d->ordinal) != kSuccess) continue;
    (void)stream_synchronize(d->stream);
    for (Staging& s : d->staging) {
      if (s.done != nullptr) (void)event_destroy(s.done);
      if (s.host != nullptr) (void)free_pinned(s.host);
    }
    if (d->blas != nullptr) blas_destroy(d->blas);
    (void)stream_destroy(d->stream);
  }
  clear_last_error();
  delete c;
}

prism_plugin_error* gpu_device_count(void* ctx, int32_t* count, const char** reason) {
  const Context* c = static_cast<const Context*>(ctx);
  *count = static_cast<int32_t>(c->devices.size());
  if (reason != nullptr) *reason = c->devices.empty() ? c->reason.c_str() : nullptr;
  return nullptr;
}

// Dtypes a device stores: every one; f16/bf16 are computed only by copy
// (same dtype) and bmm (BLAS), the rest fall back through the core.
constexpr uint32_t kDeviceMask = PRISM_DTYPE_MASK_ALL;

prism_plugin_error* gpu_device_props(void* ctx, int32_t device, prism_device_props* props) {
  Device* d = find_device(ctx, device);
  if (d == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: no device %d", kPluginName, device);
  }
  if (props == nullptr)
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: props is NULL", kPluginName);
  const uint32_t caps =
      PRISM_DEVICE_CAP_ASYNC | PRISM_DEVICE_CAP_EVENTS | PRISM_DEVICE_CAP_FP64 | PRISM_DEVICE_CAP_FP16;
  prism_sdk_device_props_set(props, d->display_name.c_str(), kVendor, d->info.stable_id.c_str(),
                             d->info.total_memory, kDeviceMask, caps);
  return nullptr;
}

// ===========================================================================
// Note [GPU copies]
// ---------------------------------------------------------------------------
// A buffer handle is the device pointer itself; views are pointer + element
// offset inside the kernels. alloc is the runtime's allocator; the core's
// caching layer sits on top of it, so the plugin keeps no pool of its own.
// free uses the runtime's free, which waits for the device's pending work.
// Host -> device copies up to 1 MiB go through pinned staging blocks (eight
// per device): the source is copied into a block, the block is copied on the
// device stream and an event marks when the block is free again, so the
// call returns without waiting for the device. Larger copies go straight
// from the caller's (pageable) memory, which the runtime stages itself.
// Device -> host copies are queued on the stream and then wait for it
// (a read back synchronises, plugin.h).
// ===========================================================================

prism_plugin_error* gpu_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  Device* d = nullptr;
  *buffer = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const Error e = malloc_device(&p, bytes);
  if (e != kSuccess || p == nullptr) {
    clear_last_error();
    return prism_sdk_error(g_host, e == kSuccess ? PRISM_ERROR_OUT_OF_MEMORY : error_status(e),
                           "%s: cannot allocate %zu bytes on '%s': %s (%s)", kPluginName, bytes,
                           d->display_name.c_str(), error_string(e), error_name(e));
  }
  *buffer = p;
  return nullptr;
}

void gpu_free(void* ctx, int32_t device, void* buffer) {
  Device* d = find_device(ctx, device);
  if (buffer == nullptr || d == nullptr) return;
  if (set_device(d->ordinal) == kSuccess && free_device(buffer) == kSuccess) return;
  clear_last_error();
}

// A free staging block of `d` (caller holds d.mu), or nullptr.
prism_plugin_error* get_staging(Device& d, Staging** out) {
  *out = nullptr;
  if (d.staging.empty()) d.staging.resize(kStagingBlocks);
  for (size_t n = 0; n < d.staging.size(); ++n) {
    Staging& s = d.staging[(d.next_staging + n) % d.staging.size()];
    if (s.host == nullptr) {
      PRISM_GPU_CHECK(malloc_pinned(&s.host, kStagingBytes), "pinned host allocation");
      PRISM_GPU_CHECK(event_create(&s.done), "event create");
    } else if (s.in_flight) {
      const Error q = event_query(s.done);
      if (q == kNotReady) continue;
      if (q != kSuccess) return gpu_error(q, "event query");
      s.in_flight = false;
    }
    d.next_staging = (d.next_staging + n + 1) % d.staging.size();
    *out = &s;
    return nullptr;
  }
  // every block is in flight: wait for the oldest
  Staging& s = d.staging[d.next_staging];
  PRISM_GPU_CHECK(event_synchronize(s.done), "event synchronize");
  s.in_flight = false;
  d.next_staging = (d.next_staging + 1) % d.staging.size();
  *out = &s;
  return nullptr;
}

// Pinned host memory (plugin ABI 1.1): the runtime's page-locked host
// allocation, usable from every device. Blocks are remembered so that a copy
// whose source lies in one goes to the device directly instead of through a
// staging block.
std::mutex g_pinned_mu;
std::map<uintptr_t, size_t> g_pinned;  // start -> bytes

bool in_pinned(const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(g_pinned_mu);
  auto it = g_pinned.upper_bound(a);
  if (it == g_pinned.begin()) return false;
  --it;
  return a + bytes <= it->first + it->second;
}

prism_plugin_error* gpu_host_alloc(void* ctx, int32_t device, size_t bytes, void** ptr) {
  Device* d = nullptr;
  *ptr = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  if (bytes == 0) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: host_alloc of 0 bytes", kPluginName);
  }
  void* p = nullptr;
  const Error e = malloc_pinned(&p, bytes);
  if (e != kSuccess || p == nullptr) {
    clear_last_error();
    return prism_sdk_error(g_host, e == kSuccess ? PRISM_ERROR_OUT_OF_MEMORY : error_status(e),
                           "%s: cannot allocate %zu bytes of pinned host memory for '%s': %s (%s)",
                           kPluginName, bytes, d->display_name.c_str(), error_string(e), error_name(e));
  }
  std::lock_guard<std::mutex> lock(g_pinned_mu);
  g_pinned[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return nullptr;
}

void gpu_host_free(void*, int32_t, void* ptr) {
  if (ptr == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_pinned_mu);
    if (g_pinned.erase(reinterpret_cast<uintptr_t>(ptr)) == 0) return;
  }
  // the runtime's free of page-locked memory waits for copies still reading it
  if (free_pinned(ptr) != kSuccess) clear_last_error();
}

// The runtime stream of a prism_stream_t: a user stream (stream_create, plugin
// ABI 1.2) is the runtime's stream itself; NULL is the device's default stream.
Stream stream_of(const Device* d, prism_stream_t s) {
  return s != nullptr ? reinterpret_cast<Stream>(s) : d->stream;
}

prism_plugin_error* gpu_copy_from_host(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                       void* dst_buffer, uint64_t dst_byte_offset, size_t bytes) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  if (bytes == 0) return nullptr;
  if (src == nullptr || dst_buffer == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: copy_from_host: NULL pointer",
                           kPluginName);
  }
  void* dst = static_cast<char*>(dst_buffer) + dst_byte_offset;
  if (bytes <= kStagingBytes && !in_pinned(src, bytes)) {
    std::lock_guard<std::mutex> lock(d->mu);
    Staging* s = nullptr;
    PRISM_GK_RETURN_IF_ERROR(get_staging(*d, &s));
    std::memcpy(s->host, src, bytes);
    PRISM_GPU_CHECK(copy_h2d_async(dst, s->host, bytes, stream_of(d, stream)), "host to device copy");
    PRISM_GPU_CHECK(event_record(s->done, stream_of(d, stream)), "event record");
    s->in_flight = true;
    return nullptr;
  }
  PRISM_GPU_CHECK(copy_h2d_async(dst, src, bytes, stream_of(d, stream)), "host to device copy");
  return nullptr;
}

prism_plugin_error* gpu_copy_to_host(void* ctx, int32_t device, prism_stream_t stream, const void* src_buffer,
                                     uint64_t src_byte_offset, void* dst, size_t bytes) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  if (bytes == 0) return nullptr;
  if (dst == nullptr || src_buffer == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: copy_to_host: NULL pointer",
                           kPluginName);
  }
  const void* src = static_cast<const char*>(src_buffer) + src_byte_offset;
  PRISM_GPU_CHECK(copy_d2h_async(dst, src, bytes, stream_of(d, stream)), "device to host copy");
  PRISM_GPU_CHECK(stream_synchronize(stream_of(d, stream)), "stream synchronize");
  return nullptr;
}

prism_plugin_error* gpu_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  PRISM_GPU_CHECK(stream_synchronize(stream_of(d, stream)), "stream synchronize");
  return nullptr;
}

// ===========================================================================
// Events: created on a device, recorded on a device's stream (re-created
// when recorded on another device, since a runtime event belongs to one
// device), waited on by any device's stream without a host round trip.
// ===========================================================================

struct GpuEvent {
  Event ev = nullptr;
  int32_t device = -1;
  bool recorded = false;
};

prism_plugin_error* gpu_event_create(void* ctx, int32_t device, prism_event_t* event) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  GpuEvent* e = new (std::nothrow) GpuEvent();
  if (e == nullptr)
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory", kPluginName);
  const Error rc = event_create_timed(&e->ev);
  if (rc != kSuccess) {
    delete e;
    return gpu_error(rc, "event create");
  }
  e->device = device;
  *event = reinterpret_cast<prism_event_t>(e);
  return nullptr;
}

prism_plugin_error* gpu_event_record(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  GpuEvent* e = reinterpret_cast<GpuEvent*>(event);
  if (e == nullptr)
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: event_record: NULL event", kPluginName);
  if (e->device != device) {
    Event fresh = nullptr;
    PRISM_GPU_CHECK(event_create_timed(&fresh), "event create");
    if (e->ev != nullptr) (void)event_destroy(e->ev);
    e->ev = fresh;
    e->device = device;
  }
  PRISM_GPU_CHECK(event_record(e->ev, stream_of(d, stream)), "event record");
  e->recorded = true;
  return nullptr;
}

prism_plugin_error* gpu_event_wait(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  GpuEvent* e = reinterpret_cast<GpuEvent*>(event);
  if (e == nullptr)
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: event_wait: NULL event", kPluginName);
  if (!e->recorded) return nullptr;  // never recorded: nothing to wait for
  PRISM_GPU_CHECK(stream_wait_event(stream_of(d, stream), e->ev), "stream wait event");
  return nullptr;
}

prism_plugin_error* gpu_event_synchronize(void*, prism_event_t event) {
  GpuEvent* e = reinterpret_cast<GpuEvent*>(event);
  if (e == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: event_synchronize: NULL event",
                           kPluginName);
  }
  if (!e->recorded) return nullptr;
  PRISM_GPU_CHECK(event_synchronize(e->ev), "event synchronize");
  return nullptr;
}

void gpu_event_destroy(void*, prism_event_t event) {
  GpuEvent* e = reinterpret_cast<GpuEvent*>(event);
  if (e == nullptr) return;
  if (e->ev != nullptr && event_destroy(e->ev) != kSuccess) clear_last_error();
  delete e;
}

prism_plugin_error* gpu_event_query(void*, prism_event_t event, int32_t* done) {
  GpuEvent* e = reinterpret_cast<GpuEvent*>(event);
  if (e == nullptr || done == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: event_query: NULL argument",
                           kPluginName);
  }
  *done = 1;
  if (!e->recorded) return nullptr;
  const Error q = event_query(e->ev);
  if (q == kNotReady) {
    clear_last_error();
    *done = 0;
    return nullptr;
  }
  if (q != kSuccess) return gpu_error(q, "event query");
  return nullptr;
}

prism_plugin_error* gpu_event_elapsed_ms(void*, prism_event_t start, prism_event_t end, double* ms) {
  GpuEvent* a = reinterpret_cast<GpuEvent*>(start);
  GpuEvent* b = reinterpret_cast<GpuEvent*>(end);
  if (a == nullptr || b == nullptr || ms == nullptr || !a->recorded || !b->recorded) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                           "%s: event_elapsed_ms: an event is NULL or was never recorded", kPluginName);
  }
  PRISM_GPU_CHECK(event_synchronize(a->ev), "event synchronize");
  PRISM_GPU_CHECK(event_synchronize(b->ev), "event synchronize");
  float f = 0;
  PRISM_GPU_CHECK(event_elapsed(&f, a->ev, b->ev), "event elapsed time");
  *ms = static_cast<double>(f);
  return nullptr;
}

// User streams (plugin ABI 1.2): non-blocking runtime streams of the device;
// the prism_stream_t is the runtime's stream handle itself.
prism_plugin_error* gpu_stream_create(void* ctx, int32_t device, prism_stream_t* stream) {
  Device* d = nullptr;
  PRISM_GK_RETURN_IF_ERROR(use_device(ctx, device, &d));
  if (stream == nullptr) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: stream_create: NULL output",
                           kPluginName);
  }
  Stream s = nullptr;
  PRISM_GPU_CHECK(stream_create(&s), "stream create");
  *stream = reinterpret_cast<prism_stream_t>(s);
  return nullptr;
}

void gpu_stream_destroy(void* ctx, int32_t device, prism_stream_t stream) {
  Device* d = find_device(ctx, device);
  if (stream == nullptr || d == nullptr || set_device(d->ordinal) != kSuccess) return;
  // Destroying a runtime stream lets its queued work finish; wait anyway so a
  // later free of memory it used never races it.
  if (stream_synchronize(reinterpret_cast<Stream>(stream)) != kSuccess ||
      stream_destroy(reinterpret_cast<Stream>(stream)) != kSuccess)
    clear_last_error();
}

// ===========================================================================
// Launches (Note [Kernel front end] in prism_gk_frontend.hpp)
// ===========================================================================

constexpr unsigned kBlock = 256;
constexpr int64_t kMaxGridX = 2147483647;  // 2^31 - 1 blocks in x
constexpr int64_t kMaxGridYZ = 65535;

// Kernel parameter pointers: buffers (device pointers, by value), the
// argument struct, the extra scalars.
struct Params {
  void* buffers[PRISM_GK_MAX_OPERANDS + 1];
  void* argv[16];
  int n = 0;
};

bool supports_operands_impl(void* ctx, const prism_kernel_call* c) {
  if (find_device(ctx, c->device) == nullptr) return true;  // let run() report the bad index
  auto ok = [](const prism_tensor_desc& d) {
    return gk::kernel_dtype(d.dtype) && d.byte_offset % prism_sdk_dtype_size(d.dtype) == 0 &&
           d.ndim <= PRISM_GK_MAX_DIMS;
  };
  for (size_t i = 0; i < c->n_inputs; ++i) {
    if (!ok(c->inputs[i])) return false;
  }
  for (size_t i = 0; i < c->n_outputs; ++i) {
    if (!ok(c->outputs[i])) return false;
  }
  return true;
}

// Same-dtype f16/bf16 copies run as 16-bit integer copies (bit patterns).
bool half_copy(const prism_kernel_call* c) {
  if (c->op == nullptr || std::strcmp(c->op, "copy") != 0 || c->n_inputs != 1 || c->n_outputs != 1)
    return false;
  const int32_t dt = c->outputs[0].dtype;
  return (dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16) && c->inputs[0].dtype == dt &&
         c->inputs[0].byte_offset % 2 == 0 && c->outputs[0].byte_offset % 2 == 0 &&
         c->outputs[0].ndim <= PRISM_GK_MAX_DIMS;
}

// ===========================================================================
// Note [Reduced instance set]
// ---------------------------------------------------------------------------
// A build may instantiate the kernels for a subset of the dtypes only
// (gen_instances.cmake DTYPES; the rocm-on-cpu flavour does, since g++ takes
// minutes per hundred HIP-CPU kernels): PRISM_GK_DTYPE_SUBSET is then the
// mask of those dtypes. The kernel table registers only them, and supports()
// declines any call with an operand of another dtype (a copy from u8 to f32,
// say), so the core falls back instead of the launch finding no instance.
// Same-dtype f16/bf16 copies run on the i16 instance, which every build has.
// ===========================================================================

#ifdef PRISM_GK_DTYPE_SUBSET
constexpr uint32_t kInstanceDtypes = PRISM_GK_DTYPE_SUBSET;
#else
constexpr uint32_t kInstanceDtypes = PRISM_DTYPE_MASK_ALL;
#endif

bool has_instances(const prism_kernel_call* c) {
  if (kInstanceDtypes == PRISM_DTYPE_MASK_ALL) return true;
  for (size_t i = 0; i < c->n_inputs; ++i)
    if ((kInstanceDtypes & PRISM_DTYPE_BIT(c->inputs[i].dtype)) == 0) return false;
  for (size_t i = 0; i < c->n_outputs; ++i)
    if ((kInstanceDtypes & PRISM_DTYPE_BIT(c->outputs[i].dtype)) == 0) return false;
  return true;
}

// True when build_gemm accepts the call (so supports() never makes an error object).
bool gemm_call_valid(const prism_kernel_call* c) {
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  const prism_tensor_desc& o = c->outputs[0];
  if (a.ndim != 3 || b.ndim != 3 || o.ndim != 3 || a.dtype != o.dtype || b.dtype != o.dtype) return false;
  const size_t es = prism_sdk_dtype_size(o.dtype);
  if (es == 0 || a.byte_offset % es != 0 || b.byte_offset % es != 0 || o.byte_offset % es != 0) return false;
  return a.sizes[0] == o.sizes[0] && b.sizes[0] == o.sizes[0] && a.sizes[1] == o.sizes[1] &&
         b.sizes[2] == o.sizes[2] && a.sizes[2] == b.sizes[1];
}

// --- BLAS layout (Note [GPU GEMM]) ---------------------------------------------

// Leading dimension and transpose flag of a row-major-indexed (rows, cols)
// matrix with strides (rs, cs), or false when no BLAS layout fits.
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool* trans, int64_t* ld) {
  if (cs == 1 && (rs >= cols || rows <= 1)) {
    *trans = false;
    *ld = rs >= cols ? rs : (cols > 0 ? cols : 1);
    return true;
  }
  if (rs == 1 && (cs >= rows || cols <= 1)) {
    *trans = true;
    *ld = cs >= rows ? cs : (rows > 0 ? rows : 1);
    return true;
  }
  return false;
}

// The column-major GEMM computing row-major out = a b: out^T = b^T a^T.
bool to_blas(const prism_gk_gemm& g, int32_t dtype, const void* a, const void* b, void* o, BlasGemm* out) {
  bool ta = false, tb = false, to = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  if (!blas_layout(g.m, g.k, g.a_strides[1], g.a_strides[2], &ta, &lda)) return false;
  if (!blas_layout(g.k, g.n, g.b_strides[1], g.b_strides[2], &tb, &ldb)) return false;
  if (!blas_layout(g.m, g.n, g.o_strides[1], g.o_strides[2], &to, &ldc) || to) return false;
  if (g.a_strides[0] < 0 || g.b_strides[0] < 0 || g.k == 0) return false;
  if (g.batch > 1 && g.o_strides[0] < g.m * ldc) return false;
  const int64_t lim = 2147483647;
  if (g.m > lim || g.n > lim || g.k > lim || lda > lim || ldb > lim || ldc > lim || g.batch > lim)
    return false;
  const size_t es = prism_sdk_dtype_size(dtype);
  *out = BlasGemm{dtype,
                  tb,
                  ta,
                  g.n,
                  g.m,
                  g.k,
                  static_cast<const char*>(b) + g.b_offset * static_cast<int64_t>(es),
                  ldb,
                  g.b_strides[0],
                  static_cast<const char*>(a) + g.a_offset * static_cast<int64_t>(es),
                  lda,
                  g.a_strides[0],
                  static_cast<char*>(o) + g.o_offset * static_cast<int64_t>(es),
                  ldc,
                  g.o_strides[0],
                  g.batch};
  return true;
}

struct Backend {
  static constexpr uint32_t kBmmMask = gk::kMaskFloat | kBlasDtypeMask;
  static constexpr uint32_t kHalfMask = 0;  // f16/bf16: copies only (run_copy), bmm through BLAS

  static const prism_host_table* host() { return g_host; }

  static prism_plugin_error* launch_key(void* ctx, const prism_kernel_call* c, const gk::KernelKey& key,
                                        dim3 grid, dim3 block, Params& p) {
    Device* d = nullptr;
    PRISM_GK_RETURN_IF_ERROR(use_device(ctx, c->device, &d));
    const void* fn = find_kernel(key);
    if (fn == nullptr) return missing_kernel(c, key);
    PRISM_GPU_CHECK(launch(fn, grid, block, p.argv, stream_of(d, c->stream)), c->op);
    return nullptr;
  }

  static prism_plugin_error* elementwise(void* ctx, const prism_kernel_call* c, const gk::KernelKey& key,
                                         const prism_gk_iter& it, void* const* buffers, int n_buffers,
                                         const gk::KArg* extra, size_t n_extra) {
    Params p;
    for (int k = 0; k < n_buffers; ++k) {
      p.buffers[k] = buffers[k];
      p.argv[p.n++] = &p.buffers[k];
    }
    p.argv[p.n++] = const_cast<prism_gk_iter*>(&it);
    for (size_t e = 0; e < n_extra; ++e) p.argv[p.n++] = const_cast<void*>(extra[e].ptr);
    const int64_t blocks = (it.numel + kBlock - 1) / kBlock;
    if (blocks > kMaxGridX || blocks * kBlock > kMaxThreadsX) {
      return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: %s: %lld elements exceed one launch",
                             kPluginName, c->op, static_cast<long long>(it.numel));
    }
    return launch_key(ctx, c, key, dim3(static_cast<unsigned>(blocks)), dim3(kBlock), p);
  }

  static prism_plugin_error* reduce(void* ctx, const prism_kernel_call* c, int op, const prism_gk_reduce& r) {
    const int local = r.n_red >= 32 ? 64 : 1;
    if (r.n_out > kMaxGridX) {
      return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "%s: %s: %lld outputs exceed one launch",
                             kPluginName, c->op, static_cast<long long>(r.n_out));
    }
    Params p;
    p.buffers[0] = c->outputs[0].buffer;
    p.buffers[1] = c->inputs[0].buffer;
    p.argv[0] = &p.buffers[0];
    p.argv[1] = &p.buffers[1];
    p.argv[2] = const_cast<prism_gk_reduce*>(&r);
    p.n = 3;
    return launch_key(ctx, c, {gk::Kind::kReduce, op, c->inputs[0].dtype, local},
                      dim3(static_cast<unsigned>(r.n_out)), dim3(static_cast<unsigned>(local)), p);
  }

  // Note [GPU GEMM]: bmm goes to the vendor BLAS (cuBLAS strided-batched,
  // f32/f16/bf16 with f32 accumulation, f64) when it is available and the
  // operands fit a BLAS layout (the rules of Note [GEMM choice] in
  // backends/opencl/opencl_gemm.cpp); otherwise f32/f64 run the shared tiled
  // kernel, in chunks of at most 65535 batches (the grid's z limit).
  static prism_plugin_error* bmm(void* ctx, const prism_kernel_call* c, const prism_gk_gemm& g) {
    Device* d = nullptr;
    PRISM_GK_RETURN_IF_ERROR(use_device(ctx, c->device, &d));
    const int32_t dt = c->outputs[0].dtype;
    BlasGemm bg{};
    std::string why;
    if ((kBlasDtypeMask & PRISM_DTYPE_BIT(dt)) != 0 && blas_available(&why) &&
        to_blas(g, dt, c->inputs[0].buffer, c->inputs[1].buffer, c->outputs[0].buffer, &bg)) {
      std::lock_guard<std::mutex> lock(d->mu);
      return blas_gemm(g_host, &d->blas, stream_of(d, c->stream), bg);
    }
    if (dt != PRISM_DTYPE_F32 && dt != PRISM_DTYPE_F64) {
      return prism_sdk_error(g_host, PRISM_ERROR_UNIMPLEMENTED, "%s: bmm: %s needs the BLAS library (%s)",
                             kPluginName, prism_sdk_dtype_name(dt),
                             why.empty() ? "layout not supported" : why.c_str());
    }
    const int64_t tile = 16, block = 64;
    const int64_t gx = (g.n + block - 1) / block, gy = (g.m + block - 1) / block;
    if (gy > kMaxGridYZ || gx > kMaxGridX) {
      return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                             "%s: bmm: output %lld x %lld exceeds one launch", kPluginName,
                             static_cast<long long>(g.m), static_cast<long long>(g.n));
    }
    for (int64_t b0 = 0; b0 < g.batch; b0 += kMaxGridYZ) {
      prism_gk_gemm part = g;
      const int64_t nb = g.batch - b0 < kMaxGridYZ ? g.batch - b0 : kMaxGridYZ;
      part.batch = nb;
      part.a_offset += b0 * g.a_strides[0];
      part.b_offset += b0 * g.b_strides[0];
      part.o_offset += b0 * g.o_strides[0];
      Params p;
      p.buffers[0] = c->outputs[0].buffer;
      p.buffers[1] = c->inputs[0].buffer;
      p.buffers[2] = c->inputs[1].buffer;
      for (int k = 0; k < 3; ++k) p.argv[k] = &p.buffers[k];
      p.argv[3] = &part;
      p.n = 4;
      PRISM_GK_RETURN_IF_ERROR(
          launch_key(ctx, c, {gk::Kind::kGemm, 0, dt, -1},
                     dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(nb)),
                     dim3(static_cast<unsigned>(tile), static_cast<unsigned>(tile)), p));
    }
    return nullptr;
  }

  static int supports(void* ctx, const prism_kernel_call* c) {
    return (has_instances(c) && supports_operands_impl(ctx, c)) || half_copy(c) ? 1 : 0;
  }
  static int supports_random(void* ctx, const prism_kernel_call* c) {
    return has_instances(c) && supports_operands_impl(ctx, c) ? 1 : 0;
  }
  static int supports_bmm(void* ctx, const prism_kernel_call* c) {
    if (c->n_inputs != 2 || c->n_outputs != 1) return 1;  // run() reports it
    if (!has_instances(c) && (kBlasDtypeMask & PRISM_DTYPE_BIT(c->outputs[0].dtype)) == 0) return 0;
    const int32_t dt = c->outputs[0].dtype;
    if (dt == PRISM_DTYPE_F32 || dt == PRISM_DTYPE_F64) return supports_operands_impl(ctx, c) ? 1 : 0;
    std::string why;
    if ((kBlasDtypeMask & PRISM_DTYPE_BIT(dt)) == 0 || !blas_available(&why)) return 0;
    if (!gemm_call_valid(c)) return 1;  // run() reports the bad call
    prism_gk_gemm g;
    bool empty = false;
    if (gk::build_gemm(g_host, c, &g, &empty) != nullptr) return 1;  // not reached: the call was validated
    BlasGemm bg{};
    return empty || to_blas(g, dt, c->inputs[0].buffer, c->inputs[1].buffer, c->outputs[0].buffer, &bg) ? 1
                                                                                                        : 0;
  }
};

using Front = gk::Frontend<Backend>;

// copy: the shared front end, except same-dtype f16/bf16, copied as 16-bit integers.
prism_plugin_error* run_copy(void* ctx, const prism_kernel_call* c) {
  if (!half_copy(c)) return Front::run_copy(ctx, c);
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
  prism_tensor_desc as_i16[2] = {c->outputs[0], c->inputs[0]};
  as_i16[0].dtype = PRISM_DTYPE_I16;
  as_i16[1].dtype = PRISM_DTYPE_I16;
  ops[0] = &as_i16[0];
  ops[1] = &as_i16[1];
  return Front::elementwise(ctx, c, {gk::Kind::kCopy, 0, PRISM_DTYPE_I16, PRISM_DTYPE_I16}, ops, 2, nullptr,
                            0);
}

// ===========================================================================
// The table
// ===========================================================================

constexpr size_t kMaxKernels = 128;
prism_kernel_def g_defs[kMaxKernels];
prism_plugin_table g_table;

void build_table() {
  load_kernel_tables();
  size_t n = 0;
  const prism_kernel_def* defs = Front::kernels(&n);
  if (n > kMaxKernels) n = kMaxKernels;
  for (size_t i = 0; i < n; ++i) {
    g_defs[i] = defs[i];
    g_defs[i].dtype_mask &= kInstanceDtypes | kBlasDtypeMask;  // Note [Reduced instance set]
    if (std::strcmp(g_defs[i].op, "copy") == 0) {
      g_defs[i].run = run_copy;
      g_defs[i].dtype_mask |= PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16);
    }
  }
  prism_plugin_table* t = prism_sdk_table_init(&g_table, kPluginName, "0.1.0", g_defs, n);
  PRISM_SDK_TABLE_REQUIRED_SLOTS(t, gpu);
  PRISM_SDK_TABLE_PINNED_SLOTS(t, gpu);
  PRISM_SDK_TABLE_EVENT_SLOTS(t, gpu);
  PRISM_SDK_TABLE_STREAM_SLOTS(t, gpu);
}

}  // namespace
}  // namespace prism::gpu

PRISM_SDK_DEFINE_ENTRY(prism::gpu::kPluginName, prism::gpu::g_host, prism::gpu::g_table,
                       prism::gpu::build_table)
