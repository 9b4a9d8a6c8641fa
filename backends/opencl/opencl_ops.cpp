// opencl_ops.cpp — elementwise, reduction and random kernel ops of the OpenCL plugin (host side of
// backends/gpu_common).
#include <cmath>
#include <cstring>
#include <string>

#include "opencl_internal.hpp"
#include "prism_gk_frontend.hpp"
#include "prism_gk_types.h"

namespace prism::opencl {

// ===========================================================================
// Shared helpers
// ===========================================================================

namespace {

struct TypeInfo {
  const char* t;   // storage type in OpenCL C
  const char* c;   // compute type
  const char* ut;  // unsigned counterpart (integers)
  int kind;        // 0 bool, 1 integer, 2 floating
};

bool type_info(int32_t dtype, TypeInfo* info) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      *info = {"uchar", "uchar", "uchar", 0};
      return true;
    case PRISM_DTYPE_U8:
      *info = {"uchar", "uchar", "uchar", 1};
      return true;
    case PRISM_DTYPE_I8:
      *info = {"char", "char", "uchar", 1};
      return true;
    case PRISM_DTYPE_I16:
      *info = {"short", "short", "ushort", 1};
      return true;
    case PRISM_DTYPE_I32:
      *info = {"int", "int", "uint", 1};
      return true;
    case PRISM_DTYPE_I64:
      *info = {"long", "long", "ulong", 1};
      return true;
    case PRISM_DTYPE_F32:
      *info = {"float", "float", "uint", 2};
      return true;
    case PRISM_DTYPE_F64:
      *info = {"double", "double", "ulong", 2};
      return true;
    case PRISM_DTYPE_F16:  // storage-only halves: the bits, computed in f32 (Note [Storage-only halves])
    case PRISM_DTYPE_BF16:
      *info = {"ushort", "float", "ushort", 2};
      return true;
    default:
      return false;
  }
}

// PRISM_HALF of a dtype: 1 f16, 2 bf16, 0 otherwise (Note [Storage-only halves]).
int half_code(int32_t dtype) {
  return dtype == PRISM_DTYPE_F16 ? 1 : dtype == PRISM_DTYPE_BF16 ? 2 : 0;
}

size_t local_size(const Device& d, size_t want) {
  size_t l = want;
  while (l > d.max_work_group && l > 1) l /= 2;
  return l;
}

// Note [Kernel keys]
// ------------------
// A launch names its program by a KernelKey of small integers; the defines
// string (and the program build) is only made the first time a key is seen
// on a device, so the per-launch host cost of an elementwise op is one hash
// lookup, the argument copies and the enqueue. Dense iterations
// (prism_gk_iter.dense) get their own program compiled with
// -DPRISM_GK_DENSE, whose body has no index arithmetic at all.
using gk::KernelKey;
using gk::Kind;

const char* kernel_name(Kind kind) {
  switch (kind) {
    case Kind::kFill:
      return "prism_fill";
    case Kind::kCopy:
      return "prism_copy";
    case Kind::kUnary:
      return "prism_unary";
    case Kind::kBinary:
      return "prism_binary";
    case Kind::kCompare:
      return "prism_compare";
    case Kind::kWhere:
      return "prism_where";
    case Kind::kClamp:
      return "prism_clamp";
    case Kind::kRandom:
      return "prism_random";
    default:
      break;
  }
  return "?";
}

std::string defines_for(const KernelKey& k, bool dense, bool flat, bool alpha_one) {
  std::string d = type_defines(k.dt0);
  const std::string op = " -DPRISM_OP=" + std::to_string(k.op);
  TypeInfo t1{"uchar", "uchar", "uchar", 0};
  if (k.dt1 >= 0) type_info(k.dt1, &t1);
  switch (k.kind) {
    case Kind::kFill:
      d += " -DPRISM_GK_FILL";
      break;
    case Kind::kCopy:
      d += std::string(" -DPRISM_GK_COPY -DPRISM_TI=") + t1.t + " -DPRISM_KIND_I=" + std::to_string(t1.kind);
      if (half_code(k.dt1) != 0) d += " -DPRISM_CI=float -DPRISM_HALF_I=" + std::to_string(half_code(k.dt1));
      break;
    case Kind::kUnary:
      d += " -DPRISM_GK_UNARY" + op;
      break;
    case Kind::kBinary:
      d += " -DPRISM_GK_BINARY" + op;
      break;
    case Kind::kCompare:
      d += " -DPRISM_GK_COMPARE" + op;
      break;
    case Kind::kWhere:
      d += " -DPRISM_GK_WHERE";
      break;
    case Kind::kClamp:
      d += " -DPRISM_GK_CLAMP";
      break;
    case Kind::kRandom:
      d += op + " -DPRISM_IS_F64=" + (k.dt0 == PRISM_DTYPE_F64 ? "1" : "0");
      if (k.dt1 >= 0) d += std::string(" -DPRISM_TP=") + t1.t;
      break;
    default:
      break;
  }
  if (dense) d += " -DPRISM_GK_DENSE";
  if (flat) d += " -DPRISM_GK_FLAT";
  if (alpha_one) d += " -DPRISM_GK_ALPHA_ONE";
  return d;
}

// 1 when the binary kernel's alpha (the one extra argument) is unused or is
// the compute type's 1 (Note [Flat launches] in prism_gk_elementwise.h).
bool alpha_is_one(const KernelKey& key, const KArg* extra, size_t n_extra) {
  if (key.kind != Kind::kBinary || n_extra != 1) return false;
  if (key.op != 0 && key.op != 1) return true;  // only add and sub read alpha
  const gk::Scalar one = gk::make_scalar(gk::compute_dtype(key.dt0), 1, 1.0);
  return extra[0].size == one.size && std::memcmp(extra[0].ptr, one.bytes, one.size) == 0;
}

// Launches the kernel of `key` over the iteration built by the front end
// (Note [Kernel front end] in prism_gk_frontend.hpp); dense iterations pass
// the compact struct to a program built with -DPRISM_GK_DENSE, and dense
// iterations from element 0 of a whole number of work-groups pass no
// iteration at all (-DPRISM_GK_FLAT, Note [Flat launches]).
prism_plugin_error* run_elementwise(void* ctx, const prism_kernel_call* c, const KernelKey& key,
                                    const prism_gk_iter& it, void* const* buffers, int n_buffers,
                                    const KArg* extra, size_t n_extra) {
  Device* dev = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, c->device, &dev));
  const size_t local = local_size(*dev, 256);
  cl_mem mems[PRISM_GK_MAX_OPERANDS + 1];
  KArg args[16];
  size_t n = 0;
  for (int k = 0; k < n_buffers; ++k) {
    mems[k] = static_cast<cl_mem>(buffers[k]);
    args[n++] = {sizeof(cl_mem), &mems[k]};
  }
  const bool dense = it.dense != 0;
  bool flat = dense && key.kind != Kind::kRandom && static_cast<uint64_t>(it.numel) % local == 0;
  for (int k = 0; flat && k < PRISM_GK_MAX_OPERANDS; ++k) flat = it.offsets[k] == 0;
  const bool alpha_one = alpha_is_one(key, extra, n_extra);
  prism_gk_dense compact;
  if (flat) {
    // no iteration argument
  } else if (dense) {
    for (int k = 0; k < PRISM_GK_MAX_OPERANDS; ++k) compact.offsets[k] = it.offsets[k];
    compact.numel = it.numel;
    args[n++] = {sizeof compact, &compact};
  } else {
    args[n++] = {sizeof it, &it};
  }
  for (size_t e = alpha_one ? 1 : 0; e < n_extra; ++e) args[n++] = extra[e];
  std::lock_guard<std::mutex> lock(dev->mu);
  cl_kernel k = nullptr;
  // pack() leaves bits 1-7 clear: bit 1 flat, bit 2 alpha one.
  const uint64_t packed = gk::pack(key, dense) | (flat ? 2u : 0u) | (alpha_one ? 4u : 0u);
  auto hit = dev->fast_kernels.find(packed);
  if (hit != dev->fast_kernels.end()) {
    k = hit->second;
  } else {
    const Source source = key.kind == Kind::kRandom ? Source::kRandom : Source::kElementwise;
    PRISM_OCL_RETURN_IF_ERROR(get_kernel(*static_cast<Context*>(ctx), *dev, source,
                                         defines_for(key, dense, flat, alpha_one), kernel_name(key.kind),
                                         &k));
    dev->fast_kernels.emplace(packed, k);
  }
  const size_t global = (static_cast<size_t>(it.numel) + local - 1) / local * local;
  return launch(*dev, c->stream, k, args, n, 1, &global, &local);
}

// Reductions (Note [Reduction kernel] in prism_gk_reduce.h): a work-group of
// 64 serves each output when at least 32 elements are reduced into it, else
// one work-item.
prism_plugin_error* run_reduce(void* ctx, const prism_kernel_call* c, int op, const prism_gk_reduce& r) {
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  Device* dev = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, c->device, &dev));
  const size_t local = r.n_red >= 32 ? local_size(*dev, 64) : 1;
  TypeInfo ti;
  type_info(x.dtype, &ti);
  std::string defines = "-DPRISM_OP=" + std::to_string(op) + " " + type_defines(x.dtype) +
                        " -DPRISM_ACC=" + ti.c + " -DPRISM_GK_REDUCE_LOCAL=" + std::to_string(local);
  cl_mem dst = static_cast<cl_mem>(out.buffer), src = static_cast<cl_mem>(x.buffer);
  const KArg args[3] = {{sizeof(cl_mem), &dst}, {sizeof(cl_mem), &src}, {sizeof r, &r}};
  std::lock_guard<std::mutex> lock(dev->mu);
  cl_kernel k = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(
      get_kernel(*static_cast<Context*>(ctx), *dev, Source::kReduce, defines, "prism_reduce", &k));
  const size_t global = static_cast<size_t>(r.n_out) * local;
  return launch(*dev, c->stream, k, args, 3, 1, &global, &local);
}

int supports_random(void* ctx, const prism_kernel_call* c) {
  const Device* dev = find_device(ctx, c->device);
  if (dev == nullptr) return 1;                   // let run() report the bad index
  return dev->fp64 && supports_operands(ctx, c);  // normal and bernoulli work in f64
}

// The OpenCL launches behind the shared front end (Note [Kernel front end]).
struct OclBackend {
  static constexpr uint32_t kHalfMask = PRISM_DTYPE_BIT(PRISM_DTYPE_F16) | PRISM_DTYPE_BIT(PRISM_DTYPE_BF16);
  static constexpr uint32_t kBmmMask = gk::kMaskFloat | kHalfMask;
  static const prism_host_table* host() { return g_host; }
  static prism_plugin_error* elementwise(void* ctx, const prism_kernel_call* c, const KernelKey& key,
                                         const prism_gk_iter& it, void* const* buffers, int n_buffers,
                                         const KArg* extra, size_t n_extra) {
    return run_elementwise(ctx, c, key, it, buffers, n_buffers, extra, n_extra);
  }
  static prism_plugin_error* reduce(void* ctx, const prism_kernel_call* c, int op, const prism_gk_reduce& r) {
    return run_reduce(ctx, c, op, r);
  }
  static prism_plugin_error* bmm(void* ctx, const prism_kernel_call* c, const prism_gk_gemm& g) {
    return run_bmm(ctx, c, g);
  }
  static int supports(void* ctx, const prism_kernel_call* c) { return supports_operands(ctx, c); }
  static int supports_random(void* ctx, const prism_kernel_call* c) {
    return opencl::supports_random(ctx, c);
  }
  static int supports_bmm(void* ctx, const prism_kernel_call* c) { return opencl::supports_bmm(ctx, c); }
};

}  // namespace

std::string type_defines(int32_t dtype) {
  TypeInfo t{"uchar", "uchar", "uchar", 0};
  type_info(dtype, &t);
  std::string d = std::string("-DPRISM_T=") + t.t + " -DPRISM_C=" + t.c + " -DPRISM_UT=" + t.ut +
                  " -DPRISM_KIND=" + std::to_string(t.kind);
  if (half_code(dtype) != 0) d += " -DPRISM_HALF=" + std::to_string(half_code(dtype));
  return d;
}

int supports_operands(void* ctx, const prism_kernel_call* c) {
  const Device* dev = find_device(ctx, c->device);
  if (dev == nullptr) return 1;  // let run() report the bad index
  auto ok = [&](const prism_tensor_desc& d) {
    TypeInfo t;
    if (!type_info(d.dtype, &t)) return false;
    if (d.dtype == PRISM_DTYPE_F64 && !dev->fp64) return false;
    return d.byte_offset % prism_sdk_dtype_size(d.dtype) == 0 && d.ndim <= PRISM_GK_MAX_DIMS;
  };
  for (size_t i = 0; i < c->n_inputs; ++i) {
    if (!ok(c->inputs[i])) return 0;
  }
  for (size_t i = 0; i < c->n_outputs; ++i) {
    if (!ok(c->outputs[i])) return 0;
  }
  return 1;
}

prism_plugin_error* launch(Device& dev, prism_stream_t stream, cl_kernel kernel, const KArg* args,
                           size_t n_args, cl_uint dims, const size_t* global, const size_t* local) {
  for (size_t i = 0; i < n_args; ++i) {
    const cl_int rc = clSetKernelArg(kernel, static_cast<cl_uint>(i), args[i].size, args[i].ptr);
    if (rc != CL_SUCCESS) return cl_error(rc, "clSetKernelArg");
  }
  PRISM_OCL_CHECK_CL(clEnqueueNDRangeKernel(queue_of(dev, stream), kernel, dims, nullptr, global, local, 0,
                                            nullptr, nullptr),
                     "clEnqueueNDRangeKernel");
  return nullptr;
}

KernelList kernels() {
  KernelList list{};
  list.defs = gk::Frontend<OclBackend>::kernels(&list.count);
  return list;
}

}  // namespace prism::opencl
