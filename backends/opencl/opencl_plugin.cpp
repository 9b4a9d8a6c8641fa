// opencl_plugin.cpp — entry point, plugin table, devices, memory, copies and events of libprism-opencl.so.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "opencl_internal.hpp"

namespace prism::opencl {

const prism_host_table* g_host = nullptr;

// ===========================================================================
// Errors (Note [OpenCL error mapping])
// ---------------------------------------------------------------------------
// Every failing OpenCL call becomes an error naming the call and the CL error
// name. Allocation failures on the device (CL_MEM_OBJECT_ALLOCATION_FAILURE,
// CL_OUT_OF_RESOURCES, CL_INVALID_BUFFER_SIZE from clCreateBuffer) and on the
// host (CL_OUT_OF_HOST_MEMORY) are OUT_OF_MEMORY; a lost device or context is
// DEVICE_LOST; CL_INVALID_* from argument checks is INVALID_ARGUMENT for
// buffer-size errors only, INTERNAL otherwise (the plugin validated its
// inputs, so any other invalid-value error is a plugin bug); a missing
// platform or device is UNAVAILABLE.
// ===========================================================================

const char* cl_error_name(cl_int code) {
  switch (code) {
#define PRISM_OCL_NAME(c) \
  case c:                 \
    return #c;
    PRISM_OCL_NAME(CL_SUCCESS)
    PRISM_OCL_NAME(CL_DEVICE_NOT_FOUND)
    PRISM_OCL_NAME(CL_DEVICE_NOT_AVAILABLE)
    PRISM_OCL_NAME(CL_COMPILER_NOT_AVAILABLE)
    PRISM_OCL_NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    PRISM_OCL_NAME(CL_OUT_OF_RESOURCES)
    PRISM_OCL_NAME(CL_OUT_OF_HOST_MEMORY)
    PRISM_OCL_NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
    PRISM_OCL_NAME(CL_MEM_COPY_OVERLAP)
    PRISM_OCL_NAME(CL_IMAGE_FORMAT_MISMATCH)
    PRISM_OCL_NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    PRISM_OCL_NAME(CL_BUILD_PROGRAM_FAILURE)
    PRISM_OCL_NAME(CL_MAP_FAILURE)
    PRISM_OCL_NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    PRISM_OCL_NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    PRISM_OCL_NAME(CL_COMPILE_PROGRAM_FAILURE)
    PRISM_OCL_NAME(CL_LINKER_NOT_AVAILABLE)
    PRISM_OCL_NAME(CL_LINK_PROGRAM_FAILURE)
    PRISM_OCL_NAME(CL_DEVICE_PARTITION_FAILED)
    PRISM_OCL_NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    PRISM_OCL_NAME(CL_INVALID_VALUE)
    PRISM_OCL_NAME(CL_INVALID_DEVICE_TYPE)
    PRISM_OCL_NAME(CL_INVALID_PLATFORM)
    PRISM_OCL_NAME(CL_INVALID_DEVICE)
    PRISM_OCL_NAME(CL_INVALID_CONTEXT)
    PRISM_OCL_NAME(CL_INVALID_QUEUE_PROPERTIES)
    PRISM_OCL_NAME(CL_INVALID_COMMAND_QUEUE)
    PRISM_OCL_NAME(CL_INVALID_HOST_PTR)
    PRISM_OCL_NAME(CL_INVALID_MEM_OBJECT)
    PRISM_OCL_NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    PRISM_OCL_NAME(CL_INVALID_IMAGE_SIZE)
    PRISM_OCL_NAME(CL_INVALID_SAMPLER)
    PRISM_OCL_NAME(CL_INVALID_BINARY)
    PRISM_OCL_NAME(CL_INVALID_BUILD_OPTIONS)
    PRISM_OCL_NAME(CL_INVALID_PROGRAM)
    PRISM_OCL_NAME(CL_INVALID_PROGRAM_EXECUTABLE)
    PRISM_OCL_NAME(CL_INVALID_KERNEL_NAME)
    PRISM_OCL_NAME(CL_INVALID_KERNEL_DEFINITION)
    PRISM_OCL_NAME(CL_INVALID_KERNEL)
    PRISM_OCL_NAME(CL_INVALID_ARG_INDEX)
    PRISM_OCL_NAME(CL_INVALID_ARG_VALUE)
    PRISM_OCL_NAME(CL_INVALID_ARG_SIZE)
    PRISM_OCL_NAME(CL_INVALID_KERNEL_ARGS)
    PRISM_OCL_NAME(CL_INVALID_WORK_DIMENSION)
    PRISM_OCL_NAME(CL_INVALID_WORK_GROUP_SIZE)
    PRISM_OCL_NAME(CL_INVALID_WORK_ITEM_SIZE)
    PRISM_OCL_NAME(CL_INVALID_GLOBAL_OFFSET)
    PRISM_OCL_NAME(CL_INVALID_EVENT_WAIT_LIST)
    PRISM_OCL_NAME(CL_INVALID_EVENT)
    PRISM_OCL_NAME(CL_INVALID_OPERATION)
    PRISM_OCL_NAME(CL_INVALID_GL_OBJECT)
    PRISM_OCL_NAME(CL_INVALID_BUFFER_SIZE)
    PRISM_OCL_NAME(CL_INVALID_MIP_LEVEL)
    PRISM_OCL_NAME(CL_INVALID_GLOBAL_WORK_SIZE)
    PRISM_OCL_NAME(CL_INVALID_PROPERTY)
    PRISM_OCL_NAME(CL_INVALID_IMAGE_DESCRIPTOR)
    PRISM_OCL_NAME(CL_INVALID_COMPILER_OPTIONS)
    PRISM_OCL_NAME(CL_INVALID_LINKER_OPTIONS)
    PRISM_OCL_NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef PRISM_OCL_NAME
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "CL_UNKNOWN_ERROR";
  }
}

prism_status cl_error_status(cl_int code) {
  switch (code) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_OUT_OF_HOST_MEMORY:
    case CL_INVALID_BUFFER_SIZE:
      return PRISM_ERROR_OUT_OF_MEMORY;
    case CL_DEVICE_NOT_AVAILABLE:
    case CL_INVALID_CONTEXT:
    case CL_INVALID_COMMAND_QUEUE:
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
      return PRISM_ERROR_DEVICE_LOST;
    case CL_DEVICE_NOT_FOUND:
    case CL_COMPILER_NOT_AVAILABLE:
    case -1001:
      return PRISM_ERROR_UNAVAILABLE;
    default:
      return PRISM_ERROR_INTERNAL;
  }
}

prism_plugin_error* cl_error(cl_int code, const char* what) {
  return PRISM_OCL_ERROR(cl_error_status(code), "opencl: %s: %s (%d)", what, cl_error_name(code),
                         static_cast<int>(code));
}

Device* find_device(void* ctx, int32_t index) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr || index < 0 || static_cast<size_t>(index) >= c->devices.size()) return nullptr;
  return c->devices[static_cast<size_t>(index)].get();
}

prism_plugin_error* get_device(void* ctx, int32_t index, Device** dev) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr || index < 0 || static_cast<size_t>(index) >= c->devices.size()) {
    return PRISM_OCL_INVALID("opencl: no device %d (the plugin has %zu)", index,
                             c == nullptr ? size_t{0} : c->devices.size());
  }
  *dev = c->devices[static_cast<size_t>(index)].get();
  return nullptr;
}

namespace {

// ===========================================================================
// Enumeration (Note [OpenCL devices])
// ---------------------------------------------------------------------------
// Every device of every platform the ICD loader reports becomes "opencl:N"
// in platform order, then device order. One context per platform holds all
// of its devices, so events can order work between them; each device gets
// one in-order queue, its default stream. stable_id is
// "opencl:<platform>:<device>:<vendor id hex>" — stable across runs as long
// as the driver reports the same names. No platform is not an error: the
// plugin loads with zero devices and the ICD's answer as the reason.
// ===========================================================================

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetPlatformInfo(p, what, n, &s[0], nullptr) != CL_SUCCESS) return {};
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::string device_string(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetDeviceInfo(d, what, n, &s[0], nullptr) != CL_SUCCESS) return {};
  s.resize(std::strlen(s.c_str()));
  return s;
}

template <class T>
T device_value(cl_device_id d, cl_device_info what, T fallback) {
  T v{};
  return clGetDeviceInfo(d, what, sizeof v, &v, nullptr) == CL_SUCCESS ? v : fallback;
}

std::string default_cache_dir() {
  if (const char* dir = std::getenv("PRISM_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/opencl";
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/prism/opencl";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/prism/opencl";
  }
  return {};
}

void enumerate(Context& c) {
  cl_uint n_platforms = 0;
  cl_int rc = clGetPlatformIDs(0, nullptr, &n_platforms);
  if (rc != CL_SUCCESS || n_platforms == 0) {
    char buf[160];
    if (rc != CL_SUCCESS) {
      std::snprintf(buf, sizeof buf, "no OpenCL platform: clGetPlatformIDs returned %s (%d)",
                    cl_error_name(rc), static_cast<int>(rc));
    } else {
      std::snprintf(buf, sizeof buf, "no OpenCL platform: the ICD loader found none");
    }
    c.reason = buf;
    return;
  }
  std::vector<cl_platform_id> platforms(n_platforms);
  clGetPlatformIDs(n_platforms, platforms.data(), nullptr);
  std::string last_failure;
  for (cl_uint pi = 0; pi < n_platforms; ++pi) {
    cl_platform_id p = platforms[pi];
    cl_uint n_devices = 0;
    rc = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n_devices);
    if (rc != CL_SUCCESS || n_devices == 0) {
      last_failure =
          "platform '" + platform_string(p, CL_PLATFORM_NAME) + "' has no device (" + cl_error_name(rc) + ")";
      continue;
    }
    std::vector<cl_device_id> ids(n_devices);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n_devices, ids.data(), nullptr);
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(p),
                                           0};
    cl_context context = clCreateContext(props, n_devices, ids.data(), nullptr, nullptr, &rc);
    if (rc != CL_SUCCESS) {
      last_failure = std::string("clCreateContext failed: ") + cl_error_name(rc);
      continue;
    }
    c.contexts.push_back(context);
    for (cl_device_id id : ids) {
      // Profiling stamps every command (event_elapsed_ms); PoCL's cost for it is
      // a clock read per command.
      cl_command_queue q = clCreateCommandQueue(context, id, CL_QUEUE_PROFILING_ENABLE, &rc);
      if (rc != CL_SUCCESS) {
        last_failure = std::string("clCreateCommandQueue failed: ") + cl_error_name(rc);
        continue;
      }
      auto dev = std::make_unique<Device>();
      dev->platform = p;
      dev->id = id;
      dev->context = context;
      dev->queue = q;
      dev->name = device_string(id, CL_DEVICE_NAME);
      dev->vendor = device_string(id, CL_DEVICE_VENDOR);
      dev->driver = device_string(id, CL_DRIVER_VERSION);
      dev->platform_name = platform_string(p, CL_PLATFORM_NAME);
      dev->platform_version = platform_string(p, CL_PLATFORM_VERSION);
      dev->total_memory = device_value<cl_ulong>(id, CL_DEVICE_GLOBAL_MEM_SIZE, 0);
      dev->max_alloc = device_value<cl_ulong>(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, 0);
      dev->max_work_group = device_value<size_t>(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
      dev->host_device = (device_value<cl_device_type>(id, CL_DEVICE_TYPE, 0) & CL_DEVICE_TYPE_CPU) != 0;
      const std::string ext = device_string(id, CL_DEVICE_EXTENSIONS);
      dev->fp64 = ext.find("cl_khr_fp64") != std::string::npos;
      dev->fp16 = ext.find("cl_khr_fp16") != std::string::npos;
      char vid[16];
      std::snprintf(vid, sizeof vid, "%x", device_value<cl_uint>(id, CL_DEVICE_VENDOR_ID, 0));
      dev->stable_id = "opencl:" + dev->platform_name + ":" + dev->name + ":" + vid;
      c.devices.push_back(std::move(dev));
    }
  }
  if (c.devices.empty()) c.reason = "no OpenCL device: " + last_failure;
}

// ===========================================================================
// Lifecycle and devices
// ===========================================================================

prism_plugin_error* ocl_init(void** ctx) {
  Context* c = new (std::nothrow) Context();
  if (c == nullptr) return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "opencl: out of memory in init");
  try {
    enumerate(*c);
    c->cache_dir = default_cache_dir();
    if (const char* extra = std::getenv("PRISM_OPENCL_BUILD_OPTIONS"); extra != nullptr) {
      c->extra_build_options = extra;
    }
  } catch (...) {
    delete c;
    return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "opencl: out of memory enumerating devices");
  }
  *ctx = c;
  return nullptr;
}

void ocl_shutdown(void* ctx) {
  Context* c = static_cast<Context*>(ctx);
  if (c == nullptr) return;
  for (auto& d : c->devices) {
    clFinish(d->queue);
    for (auto& kv : d->kernels) clReleaseKernel(kv.second);
    for (auto& kv : d->programs) clReleaseProgram(kv.second);
    clReleaseCommandQueue(d->queue);
  }
  for (cl_context ctx_cl : c->contexts) clReleaseContext(ctx_cl);
  delete c;
}

prism_plugin_error* ocl_device_count(void* ctx, int32_t* count, const char** reason) {
  const Context* c = static_cast<const Context*>(ctx);
  *count = static_cast<int32_t>(c->devices.size());
  if (reason != nullptr) *reason = c->devices.empty() ? c->reason.c_str() : nullptr;
  return nullptr;
}

prism_plugin_error* ocl_device_props(void* ctx, int32_t device, prism_device_props* props) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  if (props == nullptr) return PRISM_OCL_INVALID("opencl: device_props: props is NULL");
  // Half floats are stored as 16 bits and computed in f32 on every device,
  // with or without cl_khr_fp16 (Note [Storage-only halves] in
  // prism_dialect_math.h); FP16 in the capabilities reports the extension.
  uint32_t mask = PRISM_DTYPE_MASK_ALL;
  if (!d->fp64) mask &= ~PRISM_DTYPE_BIT(PRISM_DTYPE_F64);
  uint32_t caps = PRISM_DEVICE_CAP_ASYNC | PRISM_DEVICE_CAP_EVENTS;
  if (d->fp64) caps |= PRISM_DEVICE_CAP_FP64;
  if (d->fp16) caps |= PRISM_DEVICE_CAP_FP16;
  prism_sdk_device_props_set(props, d->name.c_str(), d->vendor.c_str(), d->stable_id.c_str(), d->total_memory,
                             mask, caps);
  return nullptr;
}

// ===========================================================================
// Memory and copies (Note [OpenCL buffers])
// ---------------------------------------------------------------------------
// A buffer handle is the cl_mem itself. Views never become sub-buffers
// (sub-buffer origins must be aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN, which
// arbitrary tensor offsets are not): kernels receive the whole buffer plus an
// element offset. Requests above CL_DEVICE_MAX_MEM_ALLOC_SIZE are refused
// with OUT_OF_MEMORY before reaching the driver. Host-to-device copies are
// non-blocking (the core keeps the source alive until synchronize, plugin.h);
// device-to-host reads block, which synchronises the in-order queue.
// ===========================================================================

// Note [OpenCL memory accounting]
// Drivers may accept a buffer at clCreateBuffer and only find out at its
// first use that the memory is not there: PoCL's CPU device reserves nothing
// at creation (64 buffers of 8 GiB are all accepted) and asserts, aborting
// the process, when the first command needs the backing store. So the plugin
// keeps its own books: every live buffer (device and pinned) counts against
// CL_DEVICE_GLOBAL_MEM_SIZE, and a request that would go beyond it is
// OUT_OF_MEMORY before the driver sees it. On a host device (CL_DEVICE_TYPE_CPU)
// the backing store is host memory, so the request is also tried against the
// kernel's overcommit check with a private mapping of the same size (mapped
// and unmapped, never touched): a size the host would refuse to map is
// OUT_OF_MEMORY here instead of an abort inside the driver later.
prism_plugin_error* reserve_bytes(Device* d, size_t bytes) {
  uint64_t cur = d->in_use.load();
  do {
    if (d->total_memory != 0 && (bytes > d->total_memory || cur > d->total_memory - bytes)) {
      return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY,
                             "opencl: cannot allocate %zu bytes on '%s': %llu of its %llu bytes are in use",
                             bytes, d->name.c_str(), static_cast<unsigned long long>(cur),
                             static_cast<unsigned long long>(d->total_memory));
    }
  } while (!d->in_use.compare_exchange_weak(cur, cur + bytes));
  if (d->host_device) {
    void* probe = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED) {
      d->in_use -= bytes;
      return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY,
                             "opencl: cannot allocate %zu bytes on '%s': the host cannot back them", bytes,
                             d->name.c_str());
    }
    munmap(probe, bytes);
  }
  return nullptr;
}

void unreserve(Device* d, cl_mem m) {
  size_t bytes = 0;
  if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, nullptr) == CL_SUCCESS) d->in_use -= bytes;
}

prism_plugin_error* ocl_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  *buffer = nullptr;
  if (bytes == 0) return nullptr;
  if (d->max_alloc != 0 && bytes > d->max_alloc) {
    return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY,
                           "opencl: cannot allocate %zu bytes on '%s' (largest allocation %llu bytes)", bytes,
                           d->name.c_str(), static_cast<unsigned long long>(d->max_alloc));
  }
  PRISM_OCL_RETURN_IF_ERROR(reserve_bytes(d, bytes));
  cl_int rc = CL_SUCCESS;
  cl_mem m = clCreateBuffer(d->context, CL_MEM_READ_WRITE, bytes, nullptr, &rc);
  if (rc != CL_SUCCESS || m == nullptr) {
    d->in_use -= bytes;
    return PRISM_OCL_ERROR(
        cl_error_status(rc) == PRISM_ERROR_INTERNAL ? PRISM_ERROR_OUT_OF_MEMORY : cl_error_status(rc),
        "opencl: clCreateBuffer of %zu bytes on '%s': %s (%d)", bytes, d->name.c_str(), cl_error_name(rc),
        static_cast<int>(rc));
  }
  *buffer = m;
  return nullptr;
}

void ocl_free(void* ctx, int32_t device, void* buffer) {
  // clReleaseMemObject defers the free until enqueued commands using the
  // buffer have finished, which is the "waits for pending work" of plugin.h
  // without blocking the host.
  if (buffer == nullptr) return;
  if (Device* d = find_device(ctx, device)) unreserve(d, static_cast<cl_mem>(buffer));
  clReleaseMemObject(static_cast<cl_mem>(buffer));
}

// Pinned host memory (plugin ABI 1.1): a buffer the runtime allocates in
// host memory (CL_MEM_ALLOC_HOST_PTR), mapped for the host for its whole
// life. Drivers page-lock such buffers, so writes from the mapped pointer
// need no staging copy; the mapping is undone when the block is freed.
prism_plugin_error* ocl_host_alloc(void* ctx, int32_t device, size_t bytes, void** ptr) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  *ptr = nullptr;
  if (bytes == 0) return PRISM_OCL_INVALID("opencl: host_alloc of 0 bytes");
  PRISM_OCL_RETURN_IF_ERROR(reserve_bytes(d, bytes));
  cl_int rc = CL_SUCCESS;
  cl_mem m = clCreateBuffer(d->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, nullptr, &rc);
  if (rc != CL_SUCCESS || m == nullptr) {
    d->in_use -= bytes;
    return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY,
                           "opencl: cannot allocate %zu bytes of pinned host memory for '%s': %s (%d)", bytes,
                           d->name.c_str(), cl_error_name(rc), static_cast<int>(rc));
  }
  void* p = clEnqueueMapBuffer(d->queue, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, nullptr,
                               nullptr, &rc);
  if (rc != CL_SUCCESS || p == nullptr) {
    d->in_use -= bytes;
    clReleaseMemObject(m);
    return cl_error(rc, "clEnqueueMapBuffer (pinned host memory)");
  }
  auto* c = static_cast<Context*>(ctx);
  std::lock_guard<std::mutex> lock(c->pinned_mu);
  c->pinned[p] = m;
  *ptr = p;
  return nullptr;
}

void ocl_host_free(void* ctx, int32_t device, void* ptr) {
  if (ptr == nullptr || ctx == nullptr) return;
  auto* c = static_cast<Context*>(ctx);
  cl_mem m = nullptr;
  {
    std::lock_guard<std::mutex> lock(c->pinned_mu);
    auto it = c->pinned.find(ptr);
    if (it == c->pinned.end()) return;
    m = it->second;
    c->pinned.erase(it);
  }
  if (device >= 0 && static_cast<size_t>(device) < c->devices.size()) {
    // in order after every copy queued from this block; release waits for the unmap
    clEnqueueUnmapMemObject(c->devices[static_cast<size_t>(device)]->queue, m, ptr, 0, nullptr, nullptr);
    unreserve(c->devices[static_cast<size_t>(device)].get(), m);
  }
  clReleaseMemObject(m);
}

prism_plugin_error* ocl_copy_from_host(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                       void* dst_buffer, uint64_t dst_byte_offset, size_t bytes) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  if (bytes == 0) return nullptr;
  if (src == nullptr || dst_buffer == nullptr)
    return PRISM_OCL_INVALID("opencl: copy_from_host: NULL pointer");
  PRISM_OCL_CHECK_CL(
      clEnqueueWriteBuffer(queue_of(*d, stream), static_cast<cl_mem>(dst_buffer), CL_FALSE,
                           static_cast<size_t>(dst_byte_offset), bytes, src, 0, nullptr, nullptr),
      "clEnqueueWriteBuffer");
  return nullptr;
}

prism_plugin_error* ocl_copy_to_host(void* ctx, int32_t device, prism_stream_t stream, const void* src_buffer,
                                     uint64_t src_byte_offset, void* dst, size_t bytes) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  if (bytes == 0) return nullptr;
  if (dst == nullptr || src_buffer == nullptr) return PRISM_OCL_INVALID("opencl: copy_to_host: NULL pointer");
  PRISM_OCL_CHECK_CL(
      clEnqueueReadBuffer(queue_of(*d, stream), static_cast<cl_mem>(const_cast<void*>(src_buffer)), CL_TRUE,
                          static_cast<size_t>(src_byte_offset), bytes, dst, 0, nullptr, nullptr),
      "clEnqueueReadBuffer");
  return nullptr;
}

prism_plugin_error* ocl_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  PRISM_OCL_CHECK_CL(clFinish(queue_of(*d, stream)), "clFinish");
  return nullptr;
}

// ===========================================================================
// Events: a marker on the in-order queue. Waiting on an event of the same
// context enqueues a barrier (no host round trip); an event of another
// platform's context cannot enter a wait list, so the host waits for it.
// ===========================================================================

struct Event {
  cl_event ev = nullptr;
  cl_context context = nullptr;
};

prism_plugin_error* ocl_event_create(void* ctx, int32_t device, prism_event_t* event) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  Event* e = new (std::nothrow) Event();
  if (e == nullptr)
    return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "opencl: out of memory creating an event");
  *event = reinterpret_cast<prism_event_t>(e);
  return nullptr;
}

prism_plugin_error* ocl_event_record(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  Event* e = reinterpret_cast<Event*>(event);
  if (e == nullptr) return PRISM_OCL_INVALID("opencl: event_record: NULL event");
  cl_event ev = nullptr;
  cl_command_queue q = queue_of(*d, stream);
  PRISM_OCL_CHECK_CL(clEnqueueMarkerWithWaitList(q, 0, nullptr, &ev), "clEnqueueMarkerWithWaitList");
  if (e->ev != nullptr) clReleaseEvent(e->ev);
  e->ev = ev;
  e->context = d->context;
  clFlush(q);
  return nullptr;
}

prism_plugin_error* ocl_event_wait(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  Event* e = reinterpret_cast<Event*>(event);
  if (e == nullptr) return PRISM_OCL_INVALID("opencl: event_wait: NULL event");
  if (e->ev == nullptr) return nullptr;  // never recorded: nothing to wait for
  if (e->context == d->context) {
    PRISM_OCL_CHECK_CL(clEnqueueBarrierWithWaitList(queue_of(*d, stream), 1, &e->ev, nullptr),
                       "clEnqueueBarrierWithWaitList");
  } else {
    PRISM_OCL_CHECK_CL(clWaitForEvents(1, &e->ev), "clWaitForEvents");
  }
  return nullptr;
}

prism_plugin_error* ocl_event_synchronize(void*, prism_event_t event) {
  Event* e = reinterpret_cast<Event*>(event);
  if (e == nullptr) return PRISM_OCL_INVALID("opencl: event_synchronize: NULL event");
  if (e->ev == nullptr) return nullptr;
  PRISM_OCL_CHECK_CL(clWaitForEvents(1, &e->ev), "clWaitForEvents");
  return nullptr;
}

void ocl_event_destroy(void*, prism_event_t event) {
  Event* e = reinterpret_cast<Event*>(event);
  if (e == nullptr) return;
  if (e->ev != nullptr) clReleaseEvent(e->ev);
  delete e;
}

prism_plugin_error* ocl_event_query(void*, prism_event_t event, int32_t* done) {
  Event* e = reinterpret_cast<Event*>(event);
  if (e == nullptr || done == nullptr) return PRISM_OCL_INVALID("opencl: event_query: NULL argument");
  *done = 1;
  if (e->ev == nullptr) return nullptr;
  cl_int status = CL_COMPLETE;
  PRISM_OCL_CHECK_CL(
      clGetEventInfo(e->ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr),
      "clGetEventInfo");
  if (status < 0) return cl_error(status, "queued work before the event");
  *done = status == CL_COMPLETE ? 1 : 0;
  return nullptr;
}

// Device time between two markers: the end stamps of their commands (every
// queue has profiling enabled), in milliseconds.
prism_plugin_error* ocl_event_elapsed_ms(void*, prism_event_t start, prism_event_t end, double* ms) {
  Event* a = reinterpret_cast<Event*>(start);
  Event* b = reinterpret_cast<Event*>(end);
  if (a == nullptr || b == nullptr || ms == nullptr)
    return PRISM_OCL_INVALID("opencl: event_elapsed_ms: NULL argument");
  if (a->ev == nullptr || b->ev == nullptr)
    return PRISM_OCL_INVALID("opencl: event_elapsed_ms: an event was never recorded");
  PRISM_OCL_CHECK_CL(clWaitForEvents(1, &a->ev), "clWaitForEvents");
  PRISM_OCL_CHECK_CL(clWaitForEvents(1, &b->ev), "clWaitForEvents");
  cl_ulong ta = 0, tb = 0;
  PRISM_OCL_CHECK_CL(clGetEventProfilingInfo(a->ev, CL_PROFILING_COMMAND_END, sizeof ta, &ta, nullptr),
                     "clGetEventProfilingInfo");
  PRISM_OCL_CHECK_CL(clGetEventProfilingInfo(b->ev, CL_PROFILING_COMMAND_END, sizeof tb, &tb, nullptr),
                     "clGetEventProfilingInfo");
  *ms = (static_cast<double>(tb) - static_cast<double>(ta)) * 1e-6;
  return nullptr;
}

// ===========================================================================
// User streams (plugin ABI 1.2): one in-order queue each, on the device's
// context, so a stream's commands may run beside the default queue's.
// ===========================================================================

prism_plugin_error* ocl_stream_create(void* ctx, int32_t device, prism_stream_t* stream) {
  Device* d = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, device, &d));
  if (stream == nullptr) return PRISM_OCL_INVALID("opencl: stream_create: NULL output");
  cl_int rc = CL_SUCCESS;
  cl_command_queue q = clCreateCommandQueue(d->context, d->id, CL_QUEUE_PROFILING_ENABLE, &rc);
  if (rc != CL_SUCCESS || q == nullptr) return cl_error(rc, "clCreateCommandQueue (stream_create)");
  Stream* s = new (std::nothrow) Stream();
  if (s == nullptr) {
    clReleaseCommandQueue(q);
    return PRISM_OCL_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "opencl: out of memory creating a stream");
  }
  s->queue = q;
  *stream = reinterpret_cast<prism_stream_t>(s);
  return nullptr;
}

void ocl_stream_destroy(void*, int32_t, prism_stream_t stream) {
  Stream* s = reinterpret_cast<Stream*>(stream);
  if (s == nullptr) return;
  clFinish(s->queue);
  clReleaseCommandQueue(s->queue);
  delete s;
}

// ===========================================================================
// The table
// ===========================================================================

constexpr size_t kMaxKernels = 128;
prism_kernel_def g_kernels[kMaxKernels];
prism_plugin_table g_table;

void build_table() {
  size_t n = 0;
  const KernelList list = kernels();
  for (size_t i = 0; i < list.count && n < kMaxKernels; ++i) g_kernels[n++] = list.defs[i];
  prism_plugin_table* t = prism_sdk_table_init(&g_table, "opencl", "0.1.0", g_kernels, n);
  PRISM_SDK_TABLE_REQUIRED_SLOTS(t, ocl);
  PRISM_SDK_TABLE_PINNED_SLOTS(t, ocl);
  PRISM_SDK_TABLE_EVENT_SLOTS(t, ocl);
  PRISM_SDK_TABLE_STREAM_SLOTS(t, ocl);
}

}  // namespace
}  // namespace prism::opencl

PRISM_SDK_DEFINE_ENTRY("opencl", prism::opencl::g_host, prism::opencl::g_table, prism::opencl::build_table)
