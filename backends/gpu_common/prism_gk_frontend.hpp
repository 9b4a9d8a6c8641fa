// prism_gk_frontend.hpp — host side of the shared GPU kernels: argument checks, iteration and descriptor
// building, and the kernel table, written once for every plugin that launches backends/gpu_common kernels.
#ifndef PRISM_BACKENDS_GPU_COMMON_PRISM_GK_FRONTEND_HPP_
#define PRISM_BACKENDS_GPU_COMMON_PRISM_GK_FRONTEND_HPP_

// Note [Kernel front end]
// -----------------------
// Every plugin that runs the kernels of backends/gpu_common (OpenCL, CUDA,
// ROCm) needs the same host logic between a prism_kernel_call and a launch:
// arity and dtype checks, attribute parsing, the coalesced iteration of
// Note [Elementwise iteration], the keepdim reduction descriptor, the bmm
// descriptor and the op -> (kernel, PRISM_OP, dtype mask) table. It lives
// here as templates over a Backend that only launches:
//
//   static const prism_host_table* host();
//   static prism_plugin_error* elementwise(void* ctx, const prism_kernel_call* c, const KernelKey& key,
//                                          const prism_gk_iter& it, void* const* buffers, int n_buffers,
//                                          const KArg* extra, size_t n_extra);
//   static prism_plugin_error* reduce(void* ctx, const prism_kernel_call* c, int op, const prism_gk_reduce&
//   r); static prism_plugin_error* bmm(void* ctx, const prism_kernel_call* c, const prism_gk_gemm& g); static
//   int supports(void* ctx, const prism_kernel_call* c);         // operands of any kernel static int
//   supports_random(void* ctx, const prism_kernel_call* c); static int supports_bmm(void* ctx, const
//   prism_kernel_call* c); static constexpr uint32_t kBmmMask, kHalfMask; // dtypes bmm registers
//
// Frontend<Backend>::kernels() is then the plugin's prism_kernel_def array.
// Buffers reach the backend as the opaque handles of the descriptors, in
// kernel argument order (output first); `extra` are the scalar arguments
// after the iteration struct, each {size, pointer to the value}.

#include <cstdint>
#include <cstring>

#include "prism/plugin.h"
#include "prism_gk_types.h"
#include "prism_plugin_sdk.h"

namespace prism::gk {

// Kernel families; the values are the `kind` column of prism_gk_registry.h
// and of gen_instances.cmake.
enum class Kind : uint8_t {
  kFill = 0,
  kCopy = 1,
  kUnary = 2,
  kBinary = 3,
  kCompare = 4,
  kWhere = 5,
  kClamp = 6,
  kRandom = 7,
  kReduce = 8,
  kGemm = 9
};

struct KernelKey {
  Kind kind;
  int op;       // PRISM_OP, or 0
  int32_t dt0;  // PRISM_T
  int32_t dt1;  // copy: source dtype; random: p dtype; reduce: work-group size; else -1
};

// A key as one integer (Note [Kernel keys] in backends/opencl/opencl_ops.cpp).
inline uint64_t pack(const KernelKey& k, bool dense) {
  return (uint64_t{static_cast<uint8_t>(k.kind)} << 40) |
         (uint64_t(static_cast<uint32_t>(k.op) & 0xFFFF) << 24) |
         (uint64_t(static_cast<uint32_t>(k.dt0) & 0xFF) << 16) |
         (uint64_t(static_cast<uint32_t>(k.dt1 + 1) & 0xFF) << 8) | (dense ? 1u : 0u);
}

// One kernel argument: `size` bytes at `ptr`.
struct KArg {
  size_t size;
  const void* ptr;
};

// A scalar kernel argument of a dtype's compute type.
struct Scalar {
  unsigned char bytes[8];
  size_t size;
};

inline Scalar make_scalar(int32_t dtype, int64_t i, double f) {
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
    case PRISM_DTYPE_F16:  // the bits of a storage-only half (Note [Storage-only halves])
      put(prism_sdk_f32_to_f16(static_cast<float>(f)));
      break;
    case PRISM_DTYPE_BF16:
      put(prism_sdk_f32_to_bf16(static_cast<float>(f)));
      break;
    default:
      put(f);
      break;
  }
  return s;
}

// The dtype a kernel computes `dtype` in: f32 for the storage-only halves.
inline int32_t compute_dtype(int32_t dtype) {
  return dtype == PRISM_DTYPE_F16 || dtype == PRISM_DTYPE_BF16 ? PRISM_DTYPE_F32 : dtype;
}

// 1 for the dtypes the shared kernels compute: not f16/bf16 unless `halves`
// (a backend's kHalfMask) has their bit (Note [Storage-only halves]).
inline bool kernel_dtype(int32_t dtype, uint32_t halves = 0) {
  if (dtype == PRISM_DTYPE_F16 || dtype == PRISM_DTYPE_BF16) return (halves & PRISM_DTYPE_BIT(dtype)) != 0;
  return dtype >= PRISM_DTYPE_BOOL && dtype <= PRISM_DTYPE_F64;
}

constexpr uint32_t kMaskStd =
    PRISM_DTYPE_MASK_ALL & ~PRISM_DTYPE_BIT(PRISM_DTYPE_F16) & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BF16);
constexpr uint32_t kMaskNumeric = kMaskStd & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL);
constexpr uint32_t kMaskFloat = PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_F64);

#define PRISM_GK_INVALID(host, ...) prism_sdk_error(host, PRISM_ERROR_INVALID_ARGUMENT, __VA_ARGS__)
#define PRISM_GK_RETURN_IF_ERROR(expr)                  \
  do {                                                  \
    prism_plugin_error* prism_gk_err_ = (expr);         \
    if (prism_gk_err_ != nullptr) return prism_gk_err_; \
  } while (0)

inline prism_plugin_error* check_arity(const prism_host_table* host, const prism_kernel_call* c,
                                       size_t in_min, size_t in_max, size_t outs) {
  if (c->n_inputs < in_min || c->n_inputs > in_max || c->n_outputs != outs) {
    return PRISM_GK_INVALID(host, "%s: expected %zu..%zu inputs and %zu outputs, got %zu and %zu", c->op,
                            in_min, in_max, outs, c->n_inputs, c->n_outputs);
  }
  return nullptr;
}

// Note [Elementwise iteration]
// ----------------------------
// The output's sizes drive the iteration (inputs were broadcast by the core).
// Size-1 dims are dropped and neighbouring dims merged when every operand
// steps through them as one, without reordering, so element i of the
// kernel is row-major element i of the output (the random fills rely on
// it). Byte offsets become element offsets.
inline prism_plugin_error* build_iter(const prism_host_table* host, const prism_kernel_call* c,
                                      const prism_tensor_desc* const* ops, int nops, prism_gk_iter* it) {
  std::memset(it, 0, sizeof *it);
  const prism_tensor_desc& shape = *ops[0];
  if (shape.ndim > PRISM_GK_MAX_DIMS)
    return PRISM_GK_INVALID(host, "%s: too many dims (%d)", c->op, shape.ndim);
  int64_t numel = 1;
  for (int32_t d = 0; d < shape.ndim; ++d) numel *= shape.sizes[d];
  it->numel = numel;
  for (int k = 0; k < nops; ++k) {
    const size_t es = prism_sdk_dtype_size(ops[k]->dtype);
    if (es == 0 || ops[k]->byte_offset % es != 0) {
      return PRISM_GK_INVALID(host, "%s: operand %d has byte offset %llu, not a multiple of its element size",
                              c->op, k, static_cast<unsigned long long>(ops[k]->byte_offset));
    }
    if (ops[k]->ndim != shape.ndim) {
      return PRISM_GK_INVALID(host, "%s: operand %d has %d dims, the output %d", c->op, k, ops[k]->ndim,
                              shape.ndim);
    }
    for (int32_t d = 0; d < shape.ndim; ++d) {
      if (ops[k]->sizes[d] != shape.sizes[d]) {
        return PRISM_GK_INVALID(host, "%s: operand %d size %lld differs from the output's %lld in dim %d",
                                c->op, k, static_cast<long long>(ops[k]->sizes[d]),
                                static_cast<long long>(shape.sizes[d]), d);
      }
    }
    it->offsets[k] = static_cast<int64_t>(ops[k]->byte_offset / es);
  }
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

inline void push_dim(int64_t* sizes, int64_t* s1, int64_t* s2, int* n, int64_t size, int64_t a, int64_t b) {
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

// Reductions (Note [Reduction kernel] in prism_gk_reduce.h): kept dims
// (output size == input size) and reduced dims (output size 1, input size
// != 1) are coalesced separately. *empty is set when there is no output.
inline prism_plugin_error* build_reduce(const prism_host_table* host, const prism_kernel_call* c, int op,
                                        prism_gk_reduce* r, bool* empty) {
  *empty = false;
  PRISM_GK_RETURN_IF_ERROR(check_arity(host, c, 1, 1, 1));
  const prism_tensor_desc& x = c->inputs[0];
  const prism_tensor_desc& out = c->outputs[0];
  const bool arg = op == 4 || op == 5;
  const int32_t want_out = arg ? PRISM_DTYPE_I64 : (op == 6 || op == 7) ? PRISM_DTYPE_BOOL : x.dtype;
  if (out.dtype != want_out) {
    return PRISM_GK_INVALID(host, "%s: output dtype must be %s, got %s", c->op,
                            prism_sdk_dtype_name(want_out), prism_sdk_dtype_name(out.dtype));
  }
  if (out.ndim != x.ndim)
    return PRISM_GK_INVALID(host, "%s: output must have the input's %d dims (keepdim layout)", c->op, x.ndim);
  if (x.ndim > PRISM_GK_MAX_DIMS) return PRISM_GK_INVALID(host, "%s: too many dims (%d)", c->op, x.ndim);
  int64_t dim = -1;
  if (arg) {
    const prism_attr* a = nullptr;
    PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(host, c, "dim", PRISM_ATTR_INT, &a));
    dim = prism_sdk_attr_as_int(a);
    if (dim < 0) dim += x.ndim;
    if (dim < 0 || dim >= (x.ndim == 0 ? 1 : x.ndim))
      return PRISM_GK_INVALID(host, "%s: dim out of range", c->op);
  }
  const size_t xs = prism_sdk_dtype_size(x.dtype), os = prism_sdk_dtype_size(out.dtype);
  if (xs == 0 || os == 0 || x.byte_offset % xs != 0 || out.byte_offset % os != 0)
    return PRISM_GK_INVALID(host, "%s: unaligned byte offset", c->op);
  std::memset(r, 0, sizeof *r);
  r->in_offset = static_cast<int64_t>(x.byte_offset / xs);
  r->out_offset = static_cast<int64_t>(out.byte_offset / os);
  int n_out = 0, n_red = 0;
  r->n_out = 1;
  r->n_red = 1;
  for (int32_t d = 0; d < x.ndim; ++d) {
    const int64_t in_size = x.sizes[d], out_size = out.sizes[d];
    const bool reduced = arg ? d == dim : (out_size == 1 && in_size != 1);
    if (!reduced && out_size != in_size) {
      return PRISM_GK_INVALID(host, "%s: output size %lld in dim %d is neither 1 nor the input's %lld", c->op,
                              static_cast<long long>(out_size), d, static_cast<long long>(in_size));
    }
    if (reduced && out_size != 1)
      return PRISM_GK_INVALID(host, "%s: reduced dim %d must have output size 1", c->op, d);
    if (reduced) {
      r->n_red *= in_size;
      push_dim(r->red_sizes, r->red_strides, nullptr, &n_red, in_size, x.strides[d], 0);
    } else {
      r->n_out *= in_size;
      push_dim(r->out_sizes, r->out_in_strides, r->out_out_strides, &n_out, in_size, x.strides[d],
               out.strides[d]);
    }
  }
  r->out_ndim = n_out;
  r->red_ndim = n_red;
  if (r->n_out == 0) {
    *empty = true;
    return nullptr;
  }
  if (r->n_red == 0 && op >= 2 && op <= 5) {
    return PRISM_GK_INVALID(host, "%s: cannot reduce over an empty dimension (no identity)", c->op);
  }
  return nullptr;
}

// bmm: out(b, m, n) = a(b, m, k) b(b, k, n) with any strides. *empty is set
// when the output has no element.
inline prism_plugin_error* build_gemm(const prism_host_table* host, const prism_kernel_call* c,
                                      prism_gk_gemm* g, bool* empty) {
  *empty = false;
  if (c->n_inputs != 2 || c->n_outputs != 1)
    return PRISM_GK_INVALID(host, "bmm: expected 2 inputs and 1 output");
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  const prism_tensor_desc& o = c->outputs[0];
  if (a.ndim != 3 || b.ndim != 3 || o.ndim != 3) return PRISM_GK_INVALID(host, "bmm: operands must be 3-D");
  const int32_t dt = o.dtype;
  if (a.dtype != dt || b.dtype != dt)
    return PRISM_GK_INVALID(host, "bmm: operands must share the output dtype");
  if (a.sizes[0] != o.sizes[0] || b.sizes[0] != o.sizes[0] || a.sizes[1] != o.sizes[1] ||
      b.sizes[2] != o.sizes[2] || a.sizes[2] != b.sizes[1]) {
    return PRISM_GK_INVALID(
        host, "bmm: shapes (%lld, %lld, %lld) x (%lld, %lld, %lld) -> (%lld, %lld, %lld) do not match",
        (long long)a.sizes[0], (long long)a.sizes[1], (long long)a.sizes[2], (long long)b.sizes[0],
        (long long)b.sizes[1], (long long)b.sizes[2], (long long)o.sizes[0], (long long)o.sizes[1],
        (long long)o.sizes[2]);
  }
  const size_t es = prism_sdk_dtype_size(dt);
  if (es == 0 || a.byte_offset % es != 0 || b.byte_offset % es != 0 || o.byte_offset % es != 0)
    return PRISM_GK_INVALID(host, "bmm: unaligned byte offset");
  std::memset(g, 0, sizeof *g);
  for (int d = 0; d < 3; ++d) {
    g->a_strides[d] = a.strides[d];
    g->b_strides[d] = b.strides[d];
    g->o_strides[d] = o.strides[d];
  }
  g->a_offset = static_cast<int64_t>(a.byte_offset / es);
  g->b_offset = static_cast<int64_t>(b.byte_offset / es);
  g->o_offset = static_cast<int64_t>(o.byte_offset / es);
  g->batch = o.sizes[0];
  g->m = o.sizes[1];
  g->n = o.sizes[2];
  g->k = a.sizes[2];
  *empty = g->batch == 0 || g->m == 0 || g->n == 0;
  return nullptr;
}

// The kernel table over a Backend (Note [Kernel front end]).
template <class B>
struct Frontend {
  // Builds the iteration over `ops` and hands the launch to the backend;
  // `buffer_args` > nops repeats operand 0 as a placeholder buffer.
  static prism_plugin_error* elementwise(void* ctx, const prism_kernel_call* c, const KernelKey& key,
                                         const prism_tensor_desc* const* ops, int nops, const KArg* extra,
                                         size_t n_extra, int buffer_args = -1) {
    prism_gk_iter it;
    PRISM_GK_RETURN_IF_ERROR(build_iter(B::host(), c, ops, nops, &it));
    if (it.numel == 0) return nullptr;
    const int nbuf = buffer_args < 0 ? nops : buffer_args;
    void* buffers[PRISM_GK_MAX_OPERANDS + 1];
    for (int k = 0; k < nbuf && k <= PRISM_GK_MAX_OPERANDS; ++k) buffers[k] = ops[k < nops ? k : 0]->buffer;
    return B::elementwise(ctx, c, key, it, buffers, nbuf, extra, n_extra);
  }

  static prism_plugin_error* run_fill(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 0, 0, 1));
    const prism_attr* value = nullptr;
    PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(B::host(), c, "value", PRISM_ATTR_SCALAR, &value));
    const prism_tensor_desc* ops[1] = {&c->outputs[0]};
    const int32_t dt = c->outputs[0].dtype;
    const Scalar s = make_scalar(dt, prism_sdk_attr_as_int(value), prism_sdk_attr_as_float(value));
    const KArg extra[1] = {{s.size, s.bytes}};
    return elementwise(ctx, c, {Kind::kFill, 0, dt, -1}, ops, 1, extra, 1);
  }

  static prism_plugin_error* run_copy(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 1, 1, 1));
    const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
    if (!kernel_dtype(c->inputs[0].dtype, B::kHalfMask)) {
      return PRISM_GK_INVALID(B::host(), "copy: unsupported source dtype %s",
                              prism_sdk_dtype_name(c->inputs[0].dtype));
    }
    return elementwise(ctx, c, {Kind::kCopy, 0, c->outputs[0].dtype, c->inputs[0].dtype}, ops, 2, nullptr, 0);
  }

  template <int Op>
  static prism_plugin_error* run_unary(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 1, 1, 1));
    if (c->outputs[0].dtype != c->inputs[0].dtype)
      return PRISM_GK_INVALID(B::host(), "%s: output dtype differs from input", c->op);
    const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
    return elementwise(ctx, c, {Kind::kUnary, Op, c->inputs[0].dtype, -1}, ops, 2, nullptr, 0);
  }

  template <int Op>
  static prism_plugin_error* run_binary(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 2, 2, 1));
    const int32_t dt = c->outputs[0].dtype;
    if (c->inputs[0].dtype != dt || c->inputs[1].dtype != dt) {
      return PRISM_GK_INVALID(B::host(), "%s: inputs must have the output's dtype %s", c->op,
                              prism_sdk_dtype_name(dt));
    }
    int op = Op;
    if (Op == 3) {  // div: the rounding mode picks the kernel
      const int64_t mode = prism_sdk_attr_int(c, "rounding_mode", 0);
      if (mode < 0 || mode > 2) {
        return PRISM_GK_INVALID(B::host(),
                                "div: rounding_mode must be 0 (true), 1 (floor) or 2 (trunc), got %lld",
                                static_cast<long long>(mode));
      }
      op = 3 + static_cast<int>(mode);
    }
    int64_t alpha_i = 1;
    double alpha_f = 1.0;
    if (Op == 0 || Op == 1) prism_sdk_attr_scalar(c, "alpha", 1, 1.0, &alpha_i, &alpha_f);
    const Scalar alpha = make_scalar(compute_dtype(dt), alpha_i, alpha_f);
    const prism_tensor_desc* ops[3] = {&c->outputs[0], &c->inputs[0], &c->inputs[1]};
    const KArg extra[1] = {{alpha.size, alpha.bytes}};
    return elementwise(ctx, c, {Kind::kBinary, op, dt, -1}, ops, 3, extra, 1);
  }

  template <int Op>
  static prism_plugin_error* run_compare(void* ctx, const prism_kernel_call* c) {
    const bool unary = Op == 9;
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, unary ? 1 : 2, unary ? 1 : 2, 1));
    if (c->outputs[0].dtype != PRISM_DTYPE_BOOL)
      return PRISM_GK_INVALID(B::host(), "%s: output must be bool", c->op);
    if (!unary && c->inputs[0].dtype != c->inputs[1].dtype)
      return PRISM_GK_INVALID(B::host(), "%s: inputs differ in dtype", c->op);
    const prism_tensor_desc* ops[3] = {&c->outputs[0], &c->inputs[0], &c->inputs[unary ? 0 : 1]};
    return elementwise(ctx, c, {Kind::kCompare, Op, c->inputs[0].dtype, -1}, ops, 3, nullptr, 0);
  }

  static prism_plugin_error* run_where(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 3, 3, 1));
    const int32_t dt = c->outputs[0].dtype;
    if (c->inputs[0].dtype != PRISM_DTYPE_BOOL || c->inputs[1].dtype != dt || c->inputs[2].dtype != dt) {
      return PRISM_GK_INVALID(B::host(), "where: expected (bool, %s, %s) inputs", prism_sdk_dtype_name(dt),
                              prism_sdk_dtype_name(dt));
    }
    const prism_tensor_desc* ops[4] = {&c->outputs[0], &c->inputs[0], &c->inputs[1], &c->inputs[2]};
    return elementwise(ctx, c, {Kind::kWhere, 0, dt, -1}, ops, 4, nullptr, 0);
  }

  static prism_plugin_error* run_clamp(void* ctx, const prism_kernel_call* c) {
    PRISM_GK_RETURN_IF_ERROR(check_arity(B::host(), c, 1, 1, 1));
    const int32_t dt = c->inputs[0].dtype;
    if (c->outputs[0].dtype != dt)
      return PRISM_GK_INVALID(B::host(), "clamp: output dtype differs from input");
    const prism_attr* lo = prism_sdk_attr_find(c, "min");
    const prism_attr* hi = prism_sdk_attr_find(c, "max");
    Scalar slo, shi;
    if (prism_sdk_dtype_is_float(dt)) {
      slo = make_scalar(compute_dtype(dt), 0, lo ? prism_sdk_attr_as_float(lo) : 0.0);
      shi = make_scalar(compute_dtype(dt), 0, hi ? prism_sdk_attr_as_float(hi) : 0.0);
    } else {
      slo = make_scalar(PRISM_DTYPE_I64, lo ? prism_sdk_attr_as_int(lo) : 0, 0.0);
      shi = make_scalar(PRISM_DTYPE_I64, hi ? prism_sdk_attr_as_int(hi) : 0, 0.0);
    }
    const int32_t has_lo = lo != nullptr, has_hi = hi != nullptr;
    const KArg extra[4] = {
        {slo.size, slo.bytes}, {shi.size, shi.bytes}, {sizeof has_lo, &has_lo}, {sizeof has_hi, &has_hi}};
    const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
    return elementwise(ctx, c, {Kind::kClamp, 0, dt, -1}, ops, 2, extra, 4);
  }

  template <int Op>
  static prism_plugin_error* run_reduce(void* ctx, const prism_kernel_call* c) {
    prism_gk_reduce r;
    bool empty = false;
    PRISM_GK_RETURN_IF_ERROR(build_reduce(B::host(), c, Op, &r, &empty));
    if (empty) return nullptr;
    return B::reduce(ctx, c, Op, r);
  }

  // Random fills (Note [Random kernels] in prism_gk_random.h).
  template <int Op>
  static prism_plugin_error* run_random(void* ctx, const prism_kernel_call* c) {
    const prism_host_table* host = B::host();
    const bool p_tensor = Op == 3 && c->n_inputs == 1;
    PRISM_GK_RETURN_IF_ERROR(check_arity(host, c, 0, Op == 3 ? 1 : 0, 1));
    const prism_attr* seed_a = nullptr;
    const prism_attr* offset_a = nullptr;
    PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(host, c, "seed", PRISM_ATTR_INT, &seed_a));
    PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(host, c, "offset", PRISM_ATTR_INT, &offset_a));
    const uint64_t seed = static_cast<uint64_t>(prism_sdk_attr_as_int(seed_a));
    const uint64_t offset = static_cast<uint64_t>(prism_sdk_attr_as_int(offset_a));
    const int32_t dt = c->outputs[0].dtype;
    double d0 = 0, d1 = 0;
    int64_t low = 0;
    uint64_t range = 1;
    int op = Op;
    if (Op == 0) {
      const double lo = prism_sdk_attr_float(c, "low", 0.0), hi = prism_sdk_attr_float(c, "high", 1.0);
      if (compute_dtype(dt) == PRISM_DTYPE_F32) {  // the CPU computes lo and span in f32 (halves too)
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
      PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(host, c, "high", PRISM_ATTR_INT, &high_a));
      low = prism_sdk_attr_int(c, "low", 0);
      const int64_t high = prism_sdk_attr_as_int(high_a);
      if (high <= low) {
        return PRISM_GK_INVALID(host, "philox_randint: high (%lld) must be greater than low (%lld)",
                                static_cast<long long>(high), static_cast<long long>(low));
      }
      range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
    } else if (p_tensor) {
      if (!prism_sdk_dtype_is_float(c->inputs[0].dtype) || !kernel_dtype(c->inputs[0].dtype)) {
        return PRISM_GK_INVALID(host, "philox_bernoulli: p must be an f32 or f64 tensor, got %s",
                                prism_sdk_dtype_name(c->inputs[0].dtype));
      }
      op = 4;
    } else {
      const prism_attr* p = nullptr;
      PRISM_GK_RETURN_IF_ERROR(prism_sdk_attr_require(host, c, "p", PRISM_ATTR_FLOAT, &p));
      d0 = prism_sdk_attr_as_float(p);
    }
    const KArg extra[6] = {{sizeof seed, &seed}, {sizeof offset, &offset}, {sizeof d0, &d0},
                           {sizeof d1, &d1},     {sizeof low, &low},       {sizeof range, &range}};
    if (p_tensor) {
      const prism_tensor_desc* ops[2] = {&c->outputs[0], &c->inputs[0]};
      return elementwise(ctx, c, {Kind::kRandom, op, dt, c->inputs[0].dtype}, ops, 2, extra, 6);
    }
    const prism_tensor_desc* ops[1] = {&c->outputs[0]};
    return elementwise(ctx, c, {Kind::kRandom, op, dt, -1}, ops, 1, extra, 6, /*buffer_args=*/2);
  }

  static prism_plugin_error* run_bmm(void* ctx, const prism_kernel_call* c) {
    prism_gk_gemm g;
    bool empty = false;
    PRISM_GK_RETURN_IF_ERROR(build_gemm(B::host(), c, &g, &empty));
    if (empty) return nullptr;
    return B::bmm(ctx, c, g);
  }

  static constexpr prism_kernel_def def(const char* name, uint32_t mask, prism_kernel_fn fn) {
    return {sizeof(prism_kernel_def), name, mask, B::supports, fn};
  }

  // The dtype masks of the defs below, with the backend's storage-only halves.
  static constexpr uint32_t kMaskStd = gk::kMaskStd | B::kHalfMask;
  static constexpr uint32_t kMaskNumeric = gk::kMaskNumeric | B::kHalfMask;
  static constexpr uint32_t kMaskFloat = gk::kMaskFloat | B::kHalfMask;

  // The plugin's kernel definitions: static storage, `*count` entries.
  static const prism_kernel_def* kernels(size_t* count) {
    static const prism_kernel_def kDefs[] = {
        def("fill", kMaskStd, run_fill),
        def("copy", kMaskStd, run_copy),
        def("neg", kMaskNumeric, run_unary<0>),
        def("abs", kMaskNumeric, run_unary<1>),
        def("sign", kMaskNumeric, run_unary<2>),
        def("exp", kMaskFloat, run_unary<3>),
        def("log", kMaskFloat, run_unary<4>),
        def("log1p", kMaskFloat, run_unary<5>),
        def("expm1", kMaskFloat, run_unary<6>),
        def("sqrt", kMaskFloat, run_unary<7>),
        def("rsqrt", kMaskFloat, run_unary<8>),
        def("reciprocal", kMaskFloat, run_unary<9>),
        def("sin", kMaskFloat, run_unary<10>),
        def("cos", kMaskFloat, run_unary<11>),
        def("tanh", kMaskFloat, run_unary<12>),
        def("sigmoid", kMaskFloat, run_unary<13>),
        def("gelu", kMaskFloat, run_unary<14>),
        def("silu", kMaskFloat, run_unary<15>),
        def("square", kMaskNumeric, run_unary<16>),
        def("relu", kMaskNumeric, run_unary<17>),
        def("floor", kMaskNumeric, run_unary<18>),
        def("ceil", kMaskNumeric, run_unary<19>),
        def("round", kMaskNumeric, run_unary<20>),
        // integer div/remainder/pow raise errors on the CPU (division by zero,
        // negative exponents) that a device kernel cannot report without a
        // host round trip: those dtypes fall back through the core.
        def("add", kMaskStd, run_binary<0>),
        def("sub", kMaskNumeric, run_binary<1>),
        def("mul", kMaskStd, run_binary<2>),
        def("div", kMaskFloat, run_binary<3>),
        def("remainder", kMaskFloat, run_binary<6>),
        def("pow", kMaskFloat, run_binary<7>),
        def("maximum", kMaskStd, run_binary<8>),
        def("minimum", kMaskStd, run_binary<9>),
        def("eq", kMaskStd, run_compare<0>),
        def("ne", kMaskStd, run_compare<1>),
        def("lt", kMaskStd, run_compare<2>),
        def("le", kMaskStd, run_compare<3>),
        def("gt", kMaskStd, run_compare<4>),
        def("ge", kMaskStd, run_compare<5>),
        def("logical_and", kMaskStd, run_compare<6>),
        def("logical_or", kMaskStd, run_compare<7>),
        def("logical_xor", kMaskStd, run_compare<8>),
        def("logical_not", kMaskStd, run_compare<9>),
        def("where", kMaskStd, run_where),
        def("clamp", kMaskNumeric, run_clamp),
        def("sum", kMaskNumeric, run_reduce<0>),
        def("prod", kMaskNumeric, run_reduce<1>),
        def("amax", kMaskStd, run_reduce<2>),
        def("amin", kMaskStd, run_reduce<3>),
        def("argmax", kMaskNumeric, run_reduce<4>),
        def("argmin", kMaskNumeric, run_reduce<5>),
        def("all", kMaskStd, run_reduce<6>),
        def("any", kMaskStd, run_reduce<7>),
        {sizeof(prism_kernel_def), "philox_uniform", kMaskFloat, B::supports_random, run_random<0>},
        {sizeof(prism_kernel_def), "philox_normal", kMaskFloat, B::supports_random, run_random<1>},
        {sizeof(prism_kernel_def), "philox_randint", kMaskNumeric, B::supports_random, run_random<2>},
        {sizeof(prism_kernel_def), "philox_bernoulli", kMaskStd, B::supports_random, run_random<3>},
        {sizeof(prism_kernel_def), "bmm", B::kBmmMask, B::supports_bmm, run_bmm},
    };
    *count = sizeof(kDefs) / sizeof(kDefs[0]);
    return kDefs;
  }
};

}  // namespace prism::gk

#endif  // PRISM_BACKENDS_GPU_COMMON_PRISM_GK_FRONTEND_HPP_
