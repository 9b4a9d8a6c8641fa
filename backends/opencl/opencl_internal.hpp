// opencl_internal.hpp — internal declarations of the OpenCL plugin; no compatibility promise.
#ifndef PRISM_BACKENDS_OPENCL_OPENCL_INTERNAL_HPP_
#define PRISM_BACKENDS_OPENCL_OPENCL_INTERNAL_HPP_

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "prism/plugin.h"
#include "prism_gk_frontend.hpp"
#include "prism_gk_types.h"
#include "prism_plugin_sdk.h"

namespace prism::opencl {

extern const prism_host_table* g_host;

// Name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL_UNKNOWN_ERROR".
const char* cl_error_name(cl_int code);

// Prism status for an OpenCL error (Note [OpenCL error mapping]).
prism_status cl_error_status(cl_int code);

// An error "<what>: <CL name> (<code>)" with the mapped status.
prism_plugin_error* cl_error(cl_int code, const char* what);

#define PRISM_OCL_ERROR(code, ...) prism_sdk_error(::prism::opencl::g_host, code, __VA_ARGS__)
#define PRISM_OCL_INVALID(...) PRISM_OCL_ERROR(PRISM_ERROR_INVALID_ARGUMENT, __VA_ARGS__)
#define PRISM_OCL_RETURN_IF_ERROR(expr)                   \
  do {                                                    \
    prism_plugin_error* prism_ocl_err_ = (expr);          \
    if (prism_ocl_err_ != nullptr) return prism_ocl_err_; \
  } while (0)
#define PRISM_OCL_CHECK_CL(expr, what)                                                      \
  do {                                                                                      \
    cl_int prism_ocl_rc_ = (expr);                                                          \
    if (prism_ocl_rc_ != CL_SUCCESS) return ::prism::opencl::cl_error(prism_ocl_rc_, what); \
  } while (0)

// One OpenCL device exposed as "opencl:N".
struct Device {
  cl_platform_id platform = nullptr;
  cl_device_id id = nullptr;
  cl_context context = nullptr;      // shared by the devices of one platform
  cl_command_queue queue = nullptr;  // in-order: the default stream
  std::string name, vendor, driver, platform_name, platform_version, stable_id;
  uint64_t total_memory = 0;
  uint64_t max_alloc = 0;
  bool host_device = false;         // CL_DEVICE_TYPE_CPU: buffers live in host memory (PoCL)
  std::atomic<uint64_t> in_use{0};  // bytes of live buffers (Note [OpenCL memory accounting])
  bool fp64 = false;
  bool fp16 = false;
  size_t max_work_group = 1;

  // Program cache (Note [Program cache]). `mu` also serialises
  // clSetKernelArg + enqueue on the shared cl_kernel objects.
  std::mutex mu;
  std::unordered_map<std::string, cl_program> programs;
  std::unordered_map<std::string, cl_kernel> kernels;
  std::unordered_map<uint64_t, cl_kernel>
      fast_kernels;  // Note [Kernel keys] (opencl_ops.cpp); borrowed from `kernels`
};

struct Context {
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<cl_context> contexts;
  std::string reason;               // why there are no devices (empty when there are)
  std::string cache_dir;            // on-disk program cache; empty = disabled
  std::string extra_build_options;  // $PRISM_OPENCL_BUILD_OPTIONS, appended to every build
  // Pinned host blocks (host_alloc): mapped pointer -> its host-allocated buffer.
  std::mutex pinned_mu;
  std::unordered_map<void*, cl_mem> pinned;
};

// A user stream (plugin ABI 1.2): one more in-order queue of the device's
// context; prism_stream_t handles point to it (NULL: the device's queue).
struct Stream {
  cl_command_queue queue = nullptr;
};

// The queue of `stream` on `dev`.
inline cl_command_queue queue_of(const Device& dev, prism_stream_t stream) {
  return stream != nullptr ? reinterpret_cast<const Stream*>(stream)->queue : dev.queue;
}

// Kernel sources embedded at build time (embed_sources.cmake).
extern const char* const kSrcDialect;
extern const char* const kSrcDialectMath;
extern const char* const kSrcTypes;
extern const char* const kSrcPhilox;
extern const char* const kSrcElementwise;
extern const char* const kSrcReduce;
extern const char* const kSrcRandom;
extern const char* const kSrcGemm;

enum class Source { kElementwise, kReduce, kRandom, kGemm };

// The kernel `kernel_name` of the program built from `source` with the
// preprocessor `defines` for device `dev`, built (or loaded from the caches)
// on first use. Caller holds dev.mu.
prism_plugin_error* get_kernel(Context& ctx, Device& dev, Source source, const std::string& defines,
                               const char* kernel_name, cl_kernel* kernel);

// The plugin's kernel definitions: the shared front end of
// backends/gpu_common/prism_gk_frontend.hpp over the OpenCL launches (opencl_ops.cpp).
struct KernelList {
  const prism_kernel_def* defs;
  size_t count;
};
KernelList kernels();

// bmm after the shared argument checks, and its supports() (opencl_gemm.cpp).
prism_plugin_error* run_bmm(void* ctx, const prism_kernel_call* c, const prism_gk_gemm& g);
int supports_bmm(void* ctx, const prism_kernel_call* c);

// Device `index` of the context, or an INVALID_ARGUMENT error.
prism_plugin_error* get_device(void* ctx, int32_t index, Device** dev);

// Device `index`, or nullptr; makes no error object (for supports() and free()).
Device* find_device(void* ctx, int32_t index);

// One kernel argument: `size` bytes at `ptr` (clSetKernelArg semantics).
using KArg = gk::KArg;

// Sets the arguments and enqueues `kernel` on the queue of `stream` without
// waiting. Caller holds dev.mu (the cl_kernel is shared).
prism_plugin_error* launch(Device& dev, prism_stream_t stream, cl_kernel kernel, const KArg* args,
                           size_t n_args, cl_uint dims, const size_t* global, const size_t* local);

// 1 when every operand of the call has a dtype this device computes and an
// element-aligned byte offset (the shared supports() of every kernel).
int supports_operands(void* ctx, const prism_kernel_call* call);

// The OpenCL type names of a dtype for the kernel macros
// (Note [One program per op and dtype] in prism_gk_elementwise.h):
// "-DPRISM_T=... -DPRISM_C=... -DPRISM_UT=... -DPRISM_KIND=...".
std::string type_defines(int32_t dtype);

}  // namespace prism::opencl

#endif  // PRISM_BACKENDS_OPENCL_OPENCL_INTERNAL_HPP_
