// opencl_ops.cpp — elementwise, reduction and random kernel ops of the OpenCL plugin (host side of
// backends/gpu_common).
#include <cmath>
#include <cstring>
#include <string>

#include "opencl_internal.hpp"
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
    default:
      return false;
  }
}

// A scalar kernel argument of a dtype's compute type.
struct Scalar {
  unsigned char bytes[8];
  size_t size;
};

Scalar make_scalar(int32_t dtype, int64_t i, double f) {
  Scalar s{};
  auto put = [&](auto v) {
    s.size = sizeof v;
    std::memcpy(s.bytes, &v, sizeof v);
  };
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      put(static_cast<uint8_t>(i != 0 ? 1 : 0));
      break;
    case PRISM_DTYPE_U8:
      put(static_cast<uint8_t>(i));
      break;
    case PRISM_DTYPE_I8:
      put(static_cast<int8_t>(i));
      break;
    case PRISM_DTYPE_I16:
      put(static_cast<int16_t>(i));
      break;
    case PRISM_DTYPE_I32:
      put(static_cast<int32_t>(i));
      break;
    case PRISM_DTYPE_I64:
      put(static_cast<int64_t>(i));
      break;
    case PRISM_DTYPE_F32:
      put(static_cast<float>(f));
      break;
    default:
      put(f);
      break;
  }
  return s;
}

size_t local_size(const Device& d, size_t want) {
  size_t l = want;
  while (l > d.max_work_group && l > 1) l /= 2;
  return l;
}

// Note [Elementwise iteration]
// ----------------------------
// The output's sizes drive the iteration (inputs were broadcast by the core).
// Size-1 dims are dropped and neighbouring dims merged when every operand
// steps through them as one, without reordering, so element i of the
// kernel is row-major element i of the output (the random fills rely on
// it). Byte offsets become element offsets.
prism_plugin_error* build_iter(const prism_kernel_call* c, const prism_tensor_desc* const* ops, int nops,
                               prism_gk_iter* it) {
  std::memset(it, 0, sizeof *it);
  const prism_tensor_desc& shape = *ops[0];
  int64_t numel = 1;
  for (int32_t d = 0; d < shape.ndim; ++d) numel *= shape.sizes[d];
  it->numel = numel;
  for (int k = 0; k < nops; ++k) {
    const size_t es = prism_sdk_dtype_size(ops[k]->dtype);
    if (es == 0 || ops[k]->byte_offset % es != 0) {
      return PRISM_OCL_INVALID("%s: operand %d has byte offset %llu, not a multiple of its element size",
                               c->op, k, static_cast<unsigned long long>(ops[k]->byte_offset));
    }
    if (ops[k]->ndim != shape.ndim) {
      return PRISM_OCL_INVALID("%s: operand %d has %d dims, the output %d", c->op, k, ops[k]->ndim,
                               shape.ndim);
    }
    for (int32_t d = 0; d < shape.ndim; ++d) {
      if (ops[k]->sizes[d] != shape.sizes[d]) {
        return PRISM_OCL_INVALID("%s: operand %d size %lld differs from the output's %lld in dim %d", c->op,
                                 k, static_cast<long long>(ops[k]->sizes[d]),
                                 static_cast<long long>(shape.sizes[d]), d);
      }
    }
    it->offsets[k] = static_cast<int64_t>(ops[k]->byte_offset / es);
  }
  if (shape.ndim > PRISM_GK_MAX_DIMS) return PRISM_OCL_INVALID("%s: too many dims (%d)", c->op, shape.ndim);
  int n = 0;  // dims kept so far, outermost first
  for (int32_t d = 0; d < shape.ndim; ++d) {
    const int64_t size = shape.sizes[d];
    if (size == 1) continue;
    if (n > 0) {
      bool merge = true;
      for (int k = 0; k < nops; ++k) {
        if (it->strides[k][n - 1] != ops[k]->strides[d] * size) merge = false;
      }
      if (merge) {
        it->sizes[n - 1] *= size;
        for (int k = 0; k < nops; ++k) it->strides[k][n - 1] = ops[k]->strides[d];
        continue;
      }
    }
    it->sizes[n] = size;
    for (int k = 0; k < nops; ++k) it->strides[k][n] = ops[k]->strides[d];
    ++n;
  }
  if (n == 0) {  // a single element
    it->sizes[0] = 1;
    for (int k = 0; k < nops; ++k) it->strides[k][0] = 1;
    n = 1;
  }
  it->ndim = n;
  it->dense = 0;
  if (n == 1) {
    it->dense = 1;
    for (int k = 0; k < nops; ++k) {
      if (it->strides[k][0] != 1) it->dense = 0;
    }
  }
  return nullptr;
}

prism_plugin_error* check_arity(const prism_kernel_call* c, size_t in_min, size_t in_max, size_t outs) {
  if (c->n_inputs < in_min || c->n_inputs > in_max || c->n_outputs != outs) {
    return PRISM_OCL_INVALID("%s: expected %zu..%zu inputs and %zu outputs, got %zu and %zu", c->op, in_min,
                             in_max, outs, c->n_inputs, c->n_outputs);
  }
  return nullptr;
}

// Note [Kernel keys]
// ------------------
// A launch names its program by a KernelKey of small integers; the defines
// string (and the program build) is only made the first time a key is seen
// on a device, so the per-launch host cost of an elementwise op is one hash
// lookup, the argument copies and the enqueue. Dense iterations
// (prism_gk_iter.dense) get their own program compiled with
// -DPRISM_GK_DENSE, whose body has no index arithmetic at all.
enum class Kind : uint8_t { kFill, kCopy, kUnary, kBinary, kCompare, kWhere, kClamp, kRandom };

struct KernelKey {
  Kind kind;
  int op;       // PRISM_OP, or 0
  int32_t dt0;  // PRISM_T
  int32_t dt1;  // copy: source dtype; random: p dtype; else -1
};

uint64_t pack(const KernelKey& k, bool dense) {
  return (uint64_t{static_cast<uint8_t>(k.kind)} << 40) |
         (uint64_t(static_cast<uint32_t>(k.op) & 0xFFFF) << 24) |
         (uint64_t(static_cast<uint32_t>(k.dt0) & 0xFF) << 16) |
         (uint64_t(static_cast<uint32_t>(k.dt1 + 1) & 0xFF) << 8) | (dense ? 1u : 0u);
}

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
  }
  return "?";
}

std::string defines_for(const KernelKey& k, bool dense) {
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
  }
  if (dense) d += " -DPRISM_GK_DENSE";
  return d;
}

// Builds the iteration over `ops` and launches the kernel of `key`; buffer
// args first (in the order of `ops`; `buffer_args` > nops repeats operand 0
// as a placeholder), then the iter struct, then `extra`.
prism_plugin_error* run_elementwise(void* ctx, const prism_kernel_call* c, const KernelKey& key,
                                    const prism_tensor_desc* const* ops, int nops, const KArg* extra,
                                    size_t n_extra, int buffer_args = -1) {
  Device* dev = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, c->device, &dev));
  prism_gk_iter it;
  PRISM_OCL_RETURN_IF_ERROR(build_iter(c, ops, nops, &it));
  if (it.numel == 0) return nullptr;
  const int nbuf = buffer_args < 0 ? nops : buffer_args;
  cl_mem mems[PRISM_GK_MAX_OPERANDS + 1];
  KArg args[16];
  size_t n = 0;
  for (int k = 0; k < nbuf; ++k) {
    mems[k] = static_cast<cl_mem>(ops[k < nops ? k : 0]->buffer);
    args[n++] = {sizeof(cl_mem), &mems[k]};
  }
  const bool dense = it.dense != 0;
  prism_gk_dense compact;
  if (dense) {
    for (int k = 0; k < PRISM_GK_MAX_OPERANDS; ++k) compact.offsets[k] = it.offsets[k];
    compact.numel = it.numel;
    args[n++] = {sizeof compact, &compact};
  } else {
    args[n++] = {sizeof it, &it};
  }
  for (size_t e = 0; e < n_extra; ++e) args[n++] = extra[e];
  std::lock_guard<std::mutex> lock(dev->mu);
  cl_kernel k = nullptr;
  const uint64_t packed = pack(key, dense);
  auto hit = dev->fast_kernels.find(packed);
  if (hit != dev->fast_kernels.end()) {
    k = hit->second;
  } else {
    const Source source = key.kind == Kind::kRandom ? Source::kRandom : Source::kElementwise;
    PRISM_OCL_RETURN_IF_ERROR(get_kernel(*static_cast<Context*>(ctx), *dev, source, defines_for(key, dense),
                                         kernel_name(key.kind), &k));
    dev->fast_kernels.emplace(packed, k);
  }
  const size_t local = local_size(*dev, 256);
  const size_t global = (static_cast<size_t>(it.numel) + local - 1) / local * local;
  return launch(*dev, k, args, n, 1, &global, &local);
}

// ===========================================================================
// fill, copy, unary, binary, compare, where, clamp
// ===========================================================================

prism_plugin_error* run_fill(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 0, 0, 1));
  const prism_attr* value = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "value", PRISM_ATTR_SCALAR, &value));
  const prism_tensor_desc* ops[1] = {&c->outputs[0]};
  const int32_t dt = c->outputs[0].dtype;
  const Scalar s = make_scalar(dt, prism_sdk_attr_as_int(value), prism_sdk_attr_as_float(value));
  const KArg extra[1] = {{s.size, s.bytes}};
  return run_elementwise(ctx, c, {Kind::kFill, 0, dt, -1}, ops, 1, extra, 1);
}

prism_plugin_error* run_copy(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
  TypeInfo in;
  if (!type_info(c->inputs[0].dtype, &in)) {
    return PRISM_OCL_INVALID("copy: unsupported source dtype %s", prism_sdk_dtype_name(c->inputs[0].dtype));
  }
  return run_elementwise(ctx, c, {Kind::kCopy, 0, c->outputs[0].dtype, c->inputs[0].dtype}, ops, 2, nullptr,
                         0);
}

template <int Op>
prism_plugin_error* run_unary(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  if (c->outputs[0].dtype != c->inputs[0].dtype)
    return PRISM_OCL_INVALID("%s: output dtype differs from input", c->op);
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
  return run_elementwise(ctx, c, {Kind::kUnary, Op, c->inputs[0].dtype, -1}, ops, 2, nullptr, 0);
}

template <int Op>
prism_plugin_error* run_binary(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const int32_t dt = c->outputs[0].dtype;
  if (c->inputs[0].dtype != dt || c->inputs[1].dtype != dt) {
    return PRISM_OCL_INVALID("%s: inputs must have the output's dtype %s", c->op, prism_sdk_dtype_name(dt));
  }
  int op = Op;
  if (Op == 3) {  // div: the rounding mode picks the kernel
    const int64_t mode = prism_sdk_attr_int(c, "rounding_mode", 0);
    if (mode < 0 || mode > 2) {
      return PRISM_OCL_INVALID("div: rounding_mode must be 0 (true), 1 (floor) or 2 (trunc), got %lld",
                               static_cast<long long>(mode));
    }
    op = 3 + static_cast<int>(mode);
  }
  int64_t alpha_i = 1;
  double alpha_f = 1.0;
  if (Op == 0 || Op == 1) prism_sdk_attr_scalar(c, "alpha", 1, 1.0, &alpha_i, &alpha_f);
  const Scalar alpha = make_scalar(dt, alpha_i, alpha_f);
  const prism_tensor_desc* ops[3] = {&c->outputs[0], &c->inputs[0], &c->inputs[1]};
  const KArg extra[1] = {{alpha.size, alpha.bytes}};
  return run_elementwise(ctx, c, {Kind::kBinary, op, dt, -1}, ops, 3, extra, 1);
}

template <int Op>
prism_plugin_error* run_compare(void* ctx, const prism_kernel_call* c) {
  const bool unary = Op == 9;
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, unary ? 1 : 2, unary ? 1 : 2, 1));
  if (c->outputs[0].dtype != PRISM_DTYPE_BOOL) return PRISM_OCL_INVALID("%s: output must be bool", c->op);
  if (!unary && c->inputs[0].dtype != c->inputs[1].dtype)
    return PRISM_OCL_INVALID("%s: inputs differ in dtype", c->op);
  const prism_tensor_desc* ops[3] = {&c->outputs[0], &c->inputs[0], &c->inputs[unary ? 0 : 1]};
  return run_elementwise(ctx, c, {Kind::kCompare, Op, c->inputs[0].dtype, -1}, ops, 3, nullptr, 0);
}

prism_plugin_error* run_where(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 3, 3, 1));
  const int32_t dt = c->outputs[0].dtype;
  if (c->inputs[0].dtype != PRISM_DTYPE_BOOL || c->inputs[1].dtype != dt || c->inputs[2].dtype != dt) {
    return PRISM_OCL_INVALID("where: expected (bool, %s, %s) inputs", prism_sdk_dtype_name(dt),
                             prism_sdk_dtype_name(dt));
  }
  const prism_tensor_desc* ops[4] = {&c->outputs[0], &c->inputs[0], &c->inputs[1], &c->inputs[2]};
  return run_elementwise(ctx, c, {Kind::kWhere, 0, dt, -1}, ops, 4, nullptr, 0);
}

prism_plugin_error* run_clamp(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const int32_t dt = c->inputs[0].dtype;
  if (c->outputs[0].dtype != dt) return PRISM_OCL_INVALID("clamp: output dtype differs from input");
  const prism_attr* lo = prism_sdk_attr_find(c, "min");
  const prism_attr* hi = prism_sdk_attr_find(c, "max");
  Scalar slo, shi;
  if (prism_sdk_dtype_is_float(dt)) {
    slo = make_scalar(dt, 0, lo ? prism_sdk_attr_as_float(lo) : 0.0);
    shi = make_scalar(dt, 0, hi ? prism_sdk_attr_as_float(hi) : 0.0);
  } else {
    slo = make_scalar(PRISM_DTYPE_I64, lo ? prism_sdk_attr_as_int(lo) : 0, 0.0);
    shi = make_scalar(PRISM_DTYPE_I64, hi ? prism_sdk_attr_as_int(hi) : 0, 0.0);
  }
  const int32_t has_lo = lo != nullptr, has_hi = hi != nullptr;
  const KArg extra[4] = {
      {slo.size, slo.bytes}, {shi.size, shi.bytes}, {sizeof has_lo, &has_lo}, {sizeof has_hi, &has_hi}};
  const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
  return run_elementwise(ctx, c, {Kind::kClamp, 0, dt, -1}, ops, 2, extra, 4);
}

// ===========================================================================
// Reductions (Note [Reduction kernel] in prism_gk_reduce.h)
// ---------------------------------------------------------------------------
// Kept dims (output size == input size) and reduced dims (output size 1,
// input size != 1) are coalesced separately. A work-group of 64 serves each
// output when at least 32 elements are reduced into it, else one work-item.
// ===========================================================================

void push_dim(int64_t* sizes, int64_t* s1, int64_t* s2, int* n, int64_t size, int64_t a, int64_t b) {
  if (size == 1) return;
  if (*n > 0 && s1[*n - 1] == a * size && (s2 == nullptr || s2[*n - 1] == b * size)) {
    sizes[*n - 1] *= size;
    s1[*n - 1] = a;
    if (s2 != nullptr) s2[*n - 1] = b;
    return;
  }
  sizes[*n] = size;
  s1[*n] = a;
  if (s2 != nullptr) s2[*n] = b;
  ++*n;
}

template <int Op>
prism_plugin_error* run_reduce(void* ctx, const prism_kernel_call* c) {
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  const bool arg = Op == 4 || Op == 5;
  const int32_t want_out = arg ? PRISM_DTYPE_I64 : (Op == 6 || Op == 7) ? PRISM_DTYPE_BOOL : x.dtype;
  if (out.dtype != want_out) {
    return PRISM_OCL_INVALID("%s: output dtype must be %s, got %s", c->op, prism_sdk_dtype_name(want_out),
                             prism_sdk_dtype_name(out.dtype));
  }
  if (out.ndim != x.ndim)
    return PRISM_OCL_INVALID("%s: output must have the input's %d dims (keepdim layout)", c->op, x.ndim);
  int64_t dim = -1;
  if (arg) {
    const prism_attr* a = nullptr;
    PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "dim", PRISM_ATTR_INT, &a));
    dim = prism_sdk_attr_as_int(a);
    if (dim < 0) dim += x.ndim;
    if (dim < 0 || dim >= (x.ndim == 0 ? 1 : x.ndim)) return PRISM_OCL_INVALID("%s: dim out of range", c->op);
  }
  const size_t xs = prism_sdk_dtype_size(x.dtype), os = prism_sdk_dtype_size(out.dtype);
  if (x.byte_offset % xs != 0 || out.byte_offset % os != 0)
    return PRISM_OCL_INVALID("%s: unaligned byte offset", c->op);
  prism_gk_reduce r;
  std::memset(&r, 0, sizeof r);
  r.in_offset = static_cast<int64_t>(x.byte_offset / xs);
  r.out_offset = static_cast<int64_t>(out.byte_offset / os);
  int n_out = 0, n_red = 0;
  r.n_out = 1;
  r.n_red = 1;
  for (int32_t d = 0; d < x.ndim; ++d) {
    const int64_t in_size = x.sizes[d], out_size = out.sizes[d];
    bool reduced = arg ? d == dim : (out_size == 1 && in_size != 1);
    if (!reduced && out_size != in_size) {
      return PRISM_OCL_INVALID("%s: output size %lld in dim %d is neither 1 nor the input's %lld", c->op,
                               static_cast<long long>(out_size), d, static_cast<long long>(in_size));
    }
    if (reduced && out_size != 1)
      return PRISM_OCL_INVALID("%s: reduced dim %d must have output size 1", c->op, d);
    if (reduced) {
      r.n_red *= in_size;
      push_dim(r.red_sizes, r.red_strides, nullptr, &n_red, in_size, x.strides[d], 0);
    } else {
      r.n_out *= in_size;
      push_dim(r.out_sizes, r.out_in_strides, r.out_out_strides, &n_out, in_size, x.strides[d],
               out.strides[d]);
    }
  }
  r.out_ndim = n_out;
  r.red_ndim = n_red;
  if (r.n_out == 0) return nullptr;
  if (r.n_red == 0 && Op >= 2 && Op <= 5) {
    return PRISM_OCL_INVALID("%s: cannot reduce over an empty dimension (no identity)", c->op);
  }
  Device* dev = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, c->device, &dev));
  const size_t local = r.n_red >= 32 ? local_size(*dev, 64) : 1;
  TypeInfo ti;
  type_info(x.dtype, &ti);
  std::string defines = "-DPRISM_OP=" + std::to_string(Op) + " " + type_defines(x.dtype) +
                        " -DPRISM_ACC=" + ti.c + " -DPRISM_GK_REDUCE_LOCAL=" + std::to_string(local);
  cl_mem dst = static_cast<cl_mem>(out.buffer), src = static_cast<cl_mem>(x.buffer);
  const KArg args[3] = {{sizeof(cl_mem), &dst}, {sizeof(cl_mem), &src}, {sizeof r, &r}};
  std::lock_guard<std::mutex> lock(dev->mu);
  cl_kernel k = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(
      get_kernel(*static_cast<Context*>(ctx), *dev, Source::kReduce, defines, "prism_reduce", &k));
  const size_t global = static_cast<size_t>(r.n_out) * local;
  return launch(*dev, k, args, 3, 1, &global, &local);
}

// ===========================================================================
// Random fills (Note [Random kernels] in prism_gk_random.h)
// ===========================================================================

template <int Op>
prism_plugin_error* run_random(void* ctx, const prism_kernel_call* c) {
  const bool p_tensor = Op == 3 && c->n_inputs == 1;
  PRISM_OCL_RETURN_IF_ERROR(check_arity(c, 0, Op == 3 ? 1 : 0, 1));
  const prism_attr* seed_a = nullptr;
  const prism_attr* offset_a = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "seed", PRISM_ATTR_INT, &seed_a));
  PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "offset", PRISM_ATTR_INT, &offset_a));
  const uint64_t seed = static_cast<uint64_t>(prism_sdk_attr_as_int(seed_a));
  const uint64_t offset = static_cast<uint64_t>(prism_sdk_attr_as_int(offset_a));
  const int32_t dt = c->outputs[0].dtype;
  double d0 = 0, d1 = 0;
  int64_t low = 0;
  uint64_t range = 1;
  int op = Op;
  if (Op == 0) {
    const double lo = prism_sdk_attr_float(c, "low", 0.0), hi = prism_sdk_attr_float(c, "high", 1.0);
    if (dt == PRISM_DTYPE_F32) {  // the CPU computes lo and span in f32
      d0 = static_cast<float>(lo);
      d1 = static_cast<double>(static_cast<float>(hi) - static_cast<float>(lo));
    } else {
      d0 = lo;
      d1 = hi - lo;
    }
  } else if (Op == 1) {
    d0 = prism_sdk_attr_float(c, "mean", 0.0);
    d1 = prism_sdk_attr_float(c, "std", 1.0);
  } else if (Op == 2) {
    const prism_attr* high_a = nullptr;
    PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "high", PRISM_ATTR_INT, &high_a));
    low = prism_sdk_attr_int(c, "low", 0);
    const int64_t high = prism_sdk_attr_as_int(high_a);
    if (high <= low) {
      return PRISM_OCL_INVALID("philox_randint: high (%lld) must be greater than low (%lld)",
                               static_cast<long long>(high), static_cast<long long>(low));
    }
    range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  } else if (p_tensor) {
    if (!prism_sdk_dtype_is_float(c->inputs[0].dtype)) {
      return PRISM_OCL_INVALID("philox_bernoulli: p must be a float tensor, got %s",
                               prism_sdk_dtype_name(c->inputs[0].dtype));
    }
    TypeInfo pt;
    if (!type_info(c->inputs[0].dtype, &pt))
      return PRISM_OCL_INVALID("philox_bernoulli: unsupported p dtype");
    op = 4;
  } else {
    const prism_attr* p = nullptr;
    PRISM_OCL_RETURN_IF_ERROR(prism_sdk_attr_require(g_host, c, "p", PRISM_ATTR_FLOAT, &p));
    d0 = prism_sdk_attr_as_float(p);
  }
  const KArg extra[6] = {{sizeof seed, &seed}, {sizeof offset, &offset}, {sizeof d0, &d0},
                         {sizeof d1, &d1},     {sizeof low, &low},       {sizeof range, &range}};
  if (p_tensor) {
    const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
    return run_elementwise(ctx, c, {Kind::kRandom, op, dt, c->inputs[0].dtype}, ops, 2, extra, 6);
  }
  const prism_tensor_desc* ops[1] = {&c->outputs[0]};
  return run_elementwise(ctx, c, {Kind::kRandom, op, dt, -1}, ops, 1, extra, 6, /*buffer_args=*/2);
}

int supports_random(void* ctx, const prism_kernel_call* c) {
  const Device* dev = find_device(ctx, c->device);
  if (dev == nullptr) return 1;                   // let run() report the bad index
  return dev->fp64 && supports_operands(ctx, c);  // normal and bernoulli work in f64
}

// ===========================================================================
// Kernel table
// ===========================================================================

constexpr uint32_t kMaskStd =
    PRISM_DTYPE_MASK_ALL & ~PRISM_DTYPE_BIT(PRISM_DTYPE_F16) & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BF16);
constexpr uint32_t kMaskNumeric = kMaskStd & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL);
constexpr uint32_t kMaskFloat = PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);

#define PRISM_OCL_DEF(name, mask, fn) \
  { sizeof(prism_kernel_def), name, mask, supports_operands, fn }

const prism_kernel_def kKernels[] = {
    PRISM_OCL_DEF("fill", kMaskStd, run_fill),
    PRISM_OCL_DEF("copy", kMaskStd, run_copy),
    PRISM_OCL_DEF("neg", kMaskNumeric, run_unary<0>),
    PRISM_OCL_DEF("abs", kMaskNumeric, run_unary<1>),
    PRISM_OCL_DEF("sign", kMaskNumeric, run_unary<2>),
    PRISM_OCL_DEF("exp", kMaskFloat, run_unary<3>),
    PRISM_OCL_DEF("log", kMaskFloat, run_unary<4>),
    PRISM_OCL_DEF("log1p", kMaskFloat, run_unary<5>),
    PRISM_OCL_DEF("expm1", kMaskFloat, run_unary<6>),
    PRISM_OCL_DEF("sqrt", kMaskFloat, run_unary<7>),
    PRISM_OCL_DEF("rsqrt", kMaskFloat, run_unary<8>),
    PRISM_OCL_DEF("reciprocal", kMaskFloat, run_unary<9>),
    PRISM_OCL_DEF("sin", kMaskFloat, run_unary<10>),
    PRISM_OCL_DEF("cos", kMaskFloat, run_unary<11>),
    PRISM_OCL_DEF("tanh", kMaskFloat, run_unary<12>),
    PRISM_OCL_DEF("sigmoid", kMaskFloat, run_unary<13>),
    PRISM_OCL_DEF("gelu", kMaskFloat, run_unary<14>),
    PRISM_OCL_DEF("silu", kMaskFloat, run_unary<15>),
    PRISM_OCL_DEF("square", kMaskNumeric, run_unary<16>),
    PRISM_OCL_DEF("relu", kMaskNumeric, run_unary<17>),
    PRISM_OCL_DEF("floor", kMaskNumeric, run_unary<18>),
    PRISM_OCL_DEF("ceil", kMaskNumeric, run_unary<19>),
    PRISM_OCL_DEF("round", kMaskNumeric, run_unary<20>),
    // integer div/remainder/pow raise errors on the CPU (division by zero,
    // negative exponents) that a device kernel cannot report without a host
    // round trip: those dtypes fall back through the core.
    PRISM_OCL_DEF("add", kMaskStd, run_binary<0>),
    PRISM_OCL_DEF("sub", kMaskNumeric, run_binary<1>),
    PRISM_OCL_DEF("mul", kMaskStd, run_binary<2>),
    PRISM_OCL_DEF("div", kMaskFloat, run_binary<3>),
    PRISM_OCL_DEF("remainder", kMaskFloat, run_binary<6>),
    PRISM_OCL_DEF("pow", kMaskFloat, run_binary<7>),
    PRISM_OCL_DEF("maximum", kMaskStd, run_binary<8>),
    PRISM_OCL_DEF("minimum", kMaskStd, run_binary<9>),
    PRISM_OCL_DEF("eq", kMaskStd, run_compare<0>),
    PRISM_OCL_DEF("ne", kMaskStd, run_compare<1>),
    PRISM_OCL_DEF("lt", kMaskStd, run_compare<2>),
    PRISM_OCL_DEF("le", kMaskStd, run_compare<3>),
    PRISM_OCL_DEF("gt", kMaskStd, run_compare<4>),
    PRISM_OCL_DEF("ge", kMaskStd, run_compare<5>),
    PRISM_OCL_DEF("logical_and", kMaskStd, run_compare<6>),
    PRISM_OCL_DEF("logical_or", kMaskStd, run_compare<7>),
    PRISM_OCL_DEF("logical_xor", kMaskStd, run_compare<8>),
    PRISM_OCL_DEF("logical_not", kMaskStd, run_compare<9>),
    PRISM_OCL_DEF("where", kMaskStd, run_where),
    PRISM_OCL_DEF("clamp", kMaskNumeric, run_clamp),
    PRISM_OCL_DEF("sum", kMaskNumeric, run_reduce<0>),
    PRISM_OCL_DEF("prod", kMaskNumeric, run_reduce<1>),
    PRISM_OCL_DEF("amax", kMaskStd, run_reduce<2>),
    PRISM_OCL_DEF("amin", kMaskStd, run_reduce<3>),
    PRISM_OCL_DEF("argmax", kMaskNumeric, run_reduce<4>),
    PRISM_OCL_DEF("argmin", kMaskNumeric, run_reduce<5>),
    PRISM_OCL_DEF("all", kMaskStd, run_reduce<6>),
    PRISM_OCL_DEF("any", kMaskStd, run_reduce<7>),
    {sizeof(prism_kernel_def), "philox_uniform", kMaskFloat, supports_random, run_random<0>},
    {sizeof(prism_kernel_def), "philox_normal", kMaskFloat, supports_random, run_random<1>},
    {sizeof(prism_kernel_def), "philox_randint", kMaskNumeric, supports_random, run_random<2>},
    {sizeof(prism_kernel_def), "philox_bernoulli", kMaskStd, supports_random, run_random<3>},
};

}  // namespace

std::string type_defines(int32_t dtype) {
  TypeInfo t{"uchar", "uchar", "uchar", 0};
  type_info(dtype, &t);
  return std::string("-DPRISM_T=") + t.t + " -DPRISM_C=" + t.c + " -DPRISM_UT=" + t.ut +
         " -DPRISM_KIND=" + std::to_string(t.kind);
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

prism_plugin_error* launch(Device& dev, cl_kernel kernel, const KArg* args, size_t n_args, cl_uint dims,
                           const size_t* global, const size_t* local) {
  for (size_t i = 0; i < n_args; ++i) {
    const cl_int rc = clSetKernelArg(kernel, static_cast<cl_uint>(i), args[i].size, args[i].ptr);
    if (rc != CL_SUCCESS) return cl_error(rc, "clSetKernelArg");
  }
  PRISM_OCL_CHECK_CL(
      clEnqueueNDRangeKernel(dev.queue, kernel, dims, nullptr, global, local, 0, nullptr, nullptr),
      "clEnqueueNDRangeKernel");
  return nullptr;
}

KernelList elementwise_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::opencl
