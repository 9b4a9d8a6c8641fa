// ops_nn.cpp — neural-network kernels: fused softmax/log_softmax (forward and backward), conv2d and 2-D
// pooling through oneDNN primitives (forward, backward data, backward weights), direct loops for float64.
#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <unordered_map>
#include <vector>

#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// Note [CPU nn kernels]
// ---------------------
// The core hands every kernel here contiguous (row-major) tensors; the
// kernels check it and refuse anything else. float32 runs on oneDNN
// primitives built once per shape and thread, with the layouts oneDNN
// prefers and reorders from and to the plain ones (Note [Cached oneDNN
// primitives]). float16 / bfloat16 are widened to float32, run
// through the same primitives (float32 accumulation, as PyTorch does on the
// CPU) and rounded once. float64 has no oneDNN primitive: direct loops
// accumulating in float64 (slow, exact: the finite-difference checks use it).
// Softmax and log_softmax are fused loops over (outer, n, inner), computing in
// float32 (float64 for float64); the max is subtracted before exp.
// Max pooling backward has no workspace across calls: it recomputes the
// forward pass with oneDNN's workspace (float32) or the arg-max (float64).

// ===========================================================================
// Shared helpers
// ===========================================================================

prism_plugin_error* check_contiguous(const prism_kernel_call* c) {
  for (size_t i = 0; i < c->n_inputs + c->n_outputs; ++i) {
    const prism_tensor_desc& d = i < c->n_inputs ? c->inputs[i] : c->outputs[i - c->n_inputs];
    if (prism_sdk_desc_is_contiguous(&d) == 0) {
      return PRISM_CPU_INVALID("%s: operand %zu must be contiguous (the core passes contiguous tensors)",
                               c->op, i);
    }
  }
  return nullptr;
}

prism_plugin_error* check_float_dtypes(const prism_kernel_call* c) {
  const int32_t dt = c->outputs[0].dtype;
  if (prism_sdk_dtype_is_float(dt) == 0) return unsupported_dtype(c, dt);
  for (size_t i = 0; i < c->n_inputs; ++i)
    PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->inputs[i], dt, "input"));
  return nullptr;
}

// Reads a 2-int attribute ({h, w}); a missing one is `fallback` in both.
bool pair_attr(const prism_kernel_call* c, const char* name, int64_t fallback, int64_t out[2]) {
  const prism_attr* a = prism_sdk_attr_find(c, name);
  if (a == nullptr) {
    out[0] = out[1] = fallback;
    return true;
  }
  if (a->kind != PRISM_ATTR_INTS || a->n_ints != 2 || a->ints == nullptr) return false;
  out[0] = a->ints[0];
  out[1] = a->ints[1];
  return true;
}

template <class T>
T* data_of(const prism_tensor_desc& d) {
  return reinterpret_cast<T*>(desc_data(d));
}

// f16/bf16 <-> f32 staging for the oneDNN paths.
template <class T>
void widen(const prism_tensor_desc& d, std::vector<float>& dst) {
  const int64_t n = prism_sdk_desc_numel(&d);
  dst.resize(static_cast<size_t>(n));
  const T* src = data_of<const T>(d);
  for (int64_t i = 0; i < n; ++i) dst[static_cast<size_t>(i)] = Num<T>::load(src[i]);
}
template <class T>
void narrow_to(const std::vector<float>& src, const prism_tensor_desc& d) {
  T* dst = data_of<T>(d);
  for (size_t i = 0; i < src.size(); ++i) dst[i] = Num<T>::store(src[i]);
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// Runs `body` turning oneDNN and allocation failures into plugin errors.
template <class F>
prism_plugin_error* guarded(const prism_kernel_call* c, F&& body) {
  OmpThreadsScope threads(max_threads());  // oneDNN's team (Note [Threads under load])
  try {
    return body();
  } catch (const dnnl::error& e) {
    return PRISM_CPU_ERROR(PRISM_ERROR_INTERNAL, "%s: oneDNN failed: %s", c->op, e.what());
  } catch (const std::bad_alloc&) {
    return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory", c->op);
  }
}

// ===========================================================================
// softmax / log_softmax (forward and backward)
// ===========================================================================

struct RowShape {
  int64_t outer, n, inner;
};

RowShape row_shape(const prism_tensor_desc& d, int64_t dim) {
  RowShape s{1, 1, 1};
  for (int i = 0; i < d.ndim; ++i) {
    if (i < dim) s.outer *= d.sizes[i];
    if (i == dim) s.n = d.sizes[i];
    if (i > dim) s.inner *= d.sizes[i];
  }
  return s;
}

// out: y (outer, n, inner) = softmax or log_softmax of x along n.
template <class T, bool kLog>
void softmax_fwd(const T* x, T* y, const RowShape& s) {
  using C = Compute<T>;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, s.n * s.inner));
  parallel_range(s.outer, grain, [&](int64_t b, int64_t e) {
    std::vector<C> mx(static_cast<size_t>(s.inner)), sum(static_cast<size_t>(s.inner));
    for (int64_t o = b; o < e; ++o) {
      const T* src = x + o * s.n * s.inner;
      T* dst = y + o * s.n * s.inner;
      std::fill(mx.begin(), mx.end(), -std::numeric_limits<C>::infinity());
      std::fill(sum.begin(), sum.end(), C(0));
      for (int64_t k = 0; k < s.n; ++k)
        for (int64_t i = 0; i < s.inner; ++i) mx[i] = std::max(mx[i], Num<T>::load(src[k * s.inner + i]));
      for (int64_t i = 0; i < s.inner; ++i)
        if (std::isinf(mx[i])) mx[i] = std::isnan(mx[i]) ? mx[i] : (mx[i] > 0 ? mx[i] : C(0));
      for (int64_t k = 0; k < s.n; ++k)
        for (int64_t i = 0; i < s.inner; ++i) sum[i] += std::exp(Num<T>::load(src[k * s.inner + i]) - mx[i]);
      if constexpr (kLog) {
        for (int64_t i = 0; i < s.inner; ++i) sum[i] = std::log(sum[i]) + mx[i];
        for (int64_t k = 0; k < s.n; ++k)
          for (int64_t i = 0; i < s.inner; ++i)
            dst[k * s.inner + i] = Num<T>::store(Num<T>::load(src[k * s.inner + i]) - sum[i]);
      } else {
        for (int64_t i = 0; i < s.inner; ++i) sum[i] = C(1) / sum[i];
        for (int64_t k = 0; k < s.n; ++k) {
          for (int64_t i = 0; i < s.inner; ++i)
            dst[k * s.inner + i] =
                Num<T>::store(std::exp(Num<T>::load(src[k * s.inner + i]) - mx[i]) * sum[i]);
        }
      }
    }
  });
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
template <class T, bool kLog>
void softmax_bwd(const T* gy, const T* y, T* gx, const RowShape& s) {
  using C = Compute<T>;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, s.n * s.inner));
  parallel_range(s.outer, grain, [&](int64_t b, int64_t e) {
    std::vector<C> acc(static_cast<size_t>(s.inner));
    for (int64_t o = b; o < e; ++o) {
      const int64_t base = o * s.n * s.inner;
      std::fill(acc.begin(), acc.end(), C(0));
      for (int64_t k = 0; k < s.n; ++k) {
        for (int64_t i = 0; i < s.inner; ++i) {
          const int64_t j = base + k * s.inner + i;
          acc[i] += kLog ? Num<T>::load(gy[j]) : Num<T>::load(gy[j]) * Num<T>::load(y[j]);
        }
      }
      for (int64_t k = 0; k < s.n; ++k) {
        for (int64_t i = 0; i < s.inner; ++i) {
          const int64_t j = base + k * s.inner + i;
          const C g = Num<T>::load(gy[j]), v = Num<T>::load(y[j]);
          gx[j] = Num<T>::store(kLog ? g - std::exp(v) * acc[i] : v * (g - acc[i]));
        }
      }
    }
  });
}

template <bool kLog, bool kBackward>
prism_plugin_error* run_softmax(void*, const prism_kernel_call* c) {
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, kBackward ? 2 : 1, kBackward ? 2 : 1, 1));
  PRISM_CPU_RETURN_IF_ERROR(check_float_dtypes(c));
  PRISM_CPU_RETURN_IF_ERROR(check_contiguous(c));
  for (size_t i = 0; i < c->n_inputs; ++i)
    PRISM_CPU_RETURN_IF_ERROR(check_same_shape(c, c->inputs[i], "input"));
  const prism_tensor_desc& out = c->outputs[0];
  int64_t dim = prism_sdk_attr_int(c, "dim", 0);
  if (out.ndim == 0) dim = 0;
  if (dim < 0 || (out.ndim > 0 && dim >= out.ndim))
    return PRISM_CPU_INVALID("%s: dim %lld out of range", c->op, static_cast<long long>(dim));
  const RowShape s = row_shape(out, dim);
  if (s.outer * s.n * s.inner == 0) return nullptr;
  return guarded(c, [&]() -> prism_plugin_error* {
    return dispatch_dtype(c, out.dtype, [&](auto tag) -> prism_plugin_error* {
      using T = PRISM_CPU_TYPE_OF(tag);
      if constexpr (kIsFloat<T>) {
        if constexpr (kBackward) {
          softmax_bwd<T, kLog>(data_of<const T>(c->inputs[0]), data_of<const T>(c->inputs[1]),
                               data_of<T>(out), s);
        } else {
          softmax_fwd<T, kLog>(data_of<const T>(c->inputs[0]), data_of<T>(out), s);
        }
        return nullptr;
      } else {
        return unsupported_dtype(c, out.dtype);
      }
    });
  });
}

// ===========================================================================
// conv2d
// ===========================================================================

struct ConvShape {
  int64_t N, C, H, W;  // input
  int64_t O, KH, KW;   // weight (O, C / G, KH, KW)
  int64_t OH, OW;      // output
  int64_t G;           // groups
  int64_t s[2], p[2], d[2];
};

enum class ConvKind { kForward, kBackwardInput, kBackwardWeight };

// Reads the shape from the call: forward (x, w[, b]) -> y; backward input
// (gy, w) -> gx; backward weight (gy, x) -> gw[, gb].
prism_plugin_error* conv_shape(const prism_kernel_call* c, ConvKind kind, ConvShape& s) {
  const prism_tensor_desc *x, *w, *y;
  if (kind == ConvKind::kForward) {
    x = &c->inputs[0], w = &c->inputs[1], y = &c->outputs[0];
  } else if (kind == ConvKind::kBackwardInput) {
    y = &c->inputs[0], w = &c->inputs[1], x = &c->outputs[0];
  } else {
    y = &c->inputs[0], x = &c->inputs[1], w = &c->outputs[0];
  }
  if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
    return PRISM_CPU_INVALID("%s: expected 4-D input, weight and output", c->op);
  if (!pair_attr(c, "stride", 1, s.s) || !pair_attr(c, "padding", 0, s.p) ||
      !pair_attr(c, "dilation", 1, s.d))
    return PRISM_CPU_INVALID("%s: stride, padding and dilation must be 2 ints", c->op);
  s.G = prism_sdk_attr_int(c, "groups", 1);
  s.N = x->sizes[0], s.C = x->sizes[1], s.H = x->sizes[2], s.W = x->sizes[3];
  s.O = w->sizes[0], s.KH = w->sizes[2], s.KW = w->sizes[3];
  s.OH = y->sizes[2], s.OW = y->sizes[3];
  const bool ok = s.G >= 1 && s.C % s.G == 0 && s.O % s.G == 0 && w->sizes[1] == s.C / s.G &&
                  y->sizes[0] == s.N && y->sizes[1] == s.O && s.s[0] >= 1 && s.s[1] >= 1 && s.d[0] >= 1 &&
                  s.d[1] >= 1 && s.p[0] >= 0 && s.p[1] >= 0 &&
                  s.OH == (s.H + 2 * s.p[0] - s.d[0] * (s.KH - 1) - 1) / s.s[0] + 1 &&
                  s.OW == (s.W + 2 * s.p[1] - s.d[1] * (s.KW - 1) - 1) / s.s[1] + 1;
  if (!ok) return PRISM_CPU_INVALID("%s: inconsistent shapes or attributes", c->op);
  return nullptr;
}

struct ConvDescs {
  dnnl::memory::desc src, wei, bias, dst;
  dnnl::memory::dims strides, dil, pad_l, pad_r;
};

ConvDescs conv_descs(const ConvShape& s, bool with_bias) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  ConvDescs d;
  d.src = dnnl::memory::desc({s.N, s.C, s.H, s.W}, dt::f32, tag::nchw);
  d.dst = dnnl::memory::desc({s.N, s.O, s.OH, s.OW}, dt::f32, tag::nchw);
  if (s.G == 1) {
    d.wei = dnnl::memory::desc({s.O, s.C, s.KH, s.KW}, dt::f32, tag::oihw);
  } else {
    d.wei = dnnl::memory::desc({s.G, s.O / s.G, s.C / s.G, s.KH, s.KW}, dt::f32, tag::goihw);
  }
  if (with_bias) d.bias = dnnl::memory::desc({s.O}, dt::f32, tag::x);
  d.strides = {s.s[0], s.s[1]};
  d.dil = {s.d[0] - 1, s.d[1] - 1};
  d.pad_l = {s.p[0], s.p[1]};
  // Right padding that reproduces PyTorch's floor((H + 2p - span) / s) + 1.
  d.pad_r = {(s.OH - 1) * s.s[0] + s.d[0] * (s.KH - 1) + 1 - s.H - s.p[0],
             (s.OW - 1) * s.s[1] + s.d[1] * (s.KW - 1) + 1 - s.W - s.p[1]};
  return d;
}

dnnl::convolution_forward::primitive_desc conv_fwd_pd(const ConvDescs& d, bool with_bias) {
  using namespace dnnl;
  auto desc = with_bias
                  ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                              d.src, d.wei, d.bias, d.dst, d.strides, d.dil, d.pad_l, d.pad_r)
                  : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                              d.src, d.wei, d.dst, d.strides, d.dil, d.pad_l, d.pad_r);
  return convolution_forward::primitive_desc(desc, engine());
}

// Note [Cached oneDNN primitives]
// -------------------------------
// Building a oneDNN primitive descriptor walks the implementation list on
// every call (oneDNN caches primitives, not descriptors), which cost more
// than the small convolutions of a training step themselves. Each thread
// therefore keeps the primitives it built for a (kind, shape, bias) key,
// with the layouts oneDNN chose for them: descriptors ask for
// format_tag::any, so oneDNN picks its blocked layouts (nChw8c, OIhw8i8o on
// AVX2) where they are faster, and the entry keeps the reorders between the
// core's plain row-major tensors and those layouts, plus the blocked scratch
// buffers, allocated once per entry. A plain layout chosen by oneDNN needs
// no reorder and no scratch. PRISM_CPU_CONV_LAYOUT=plain forces plain
// layouts everywhere (nchw / oihw), the pre-cache behaviour. The cache is
// bounded (cleared when it holds kMaxCached entries) and never shared
// between threads, so scratch buffers are never used concurrently.
// The key includes the OpenMP team the call runs with (the ICV that
// guarded() sets from max_threads()): oneDNN fixes a primitive's thread
// count when it is created and runs its regions with that count, so a
// primitive built for 2 threads would keep forking 2 threads after
// Note [Threads under load] chose 1 (a collapse under load), and one built
// under load would stay single-threaded on a quiet machine.

// One primitive argument: the core's plain desc and the layout the primitive uses.
struct CachedArg {
  int arg = 0;
  bool output = false;
  dnnl::memory::desc user, chosen;
  dnnl::memory scratch;   // chosen layout, when it differs from user
  dnnl::reorder reorder;  // user -> chosen (input) or chosen -> user (output)
  bool needs_reorder = false;
};

struct CachedPrim {
  dnnl::primitive prim;
  std::vector<CachedArg> args;
  // max-pool backward: the forward that recomputes its workspace (Note [CPU nn kernels])
  dnnl::primitive recompute;
  dnnl::memory workspace, tmp_dst;
  dnnl::memory::desc src_desc;
};

bool plain_layouts() {
  static const bool plain = [] {
    const char* e = std::getenv("PRISM_CPU_CONV_LAYOUT");
    return e != nullptr && std::strcmp(e, "plain") == 0;
  }();
  return plain;
}

void add_arg(CachedPrim& cp, int arg, bool output, const dnnl::memory::desc& user,
             const dnnl::memory::desc& chosen) {
  CachedArg a;
  a.arg = arg;
  a.output = output;
  a.user = user;
  a.chosen = chosen;
  a.needs_reorder = chosen != user;
  if (a.needs_reorder) {
    a.scratch = dnnl::memory(chosen, engine());
    dnnl::memory u(user, engine(), DNNL_MEMORY_NONE);
    a.reorder = output ? dnnl::reorder(a.scratch, u) : dnnl::reorder(u, a.scratch);
  }
  cp.args.push_back(std::move(a));
}

// Runs the cached primitive on the caller's buffers (ptrs in the order of cp.args).
void run_cached(CachedPrim& cp, const std::vector<const void*>& ptrs) {
  dnnl::stream strm(engine());
  std::unordered_map<int, dnnl::memory> args;
  std::vector<std::pair<size_t, dnnl::memory>> outs;
  if (cp.workspace) args.insert({DNNL_ARG_WORKSPACE, cp.workspace});
  for (size_t i = 0; i < cp.args.size(); ++i) {
    CachedArg& a = cp.args[i];
    dnnl::memory u(a.user, engine(), const_cast<void*>(ptrs[i]));
    if (!a.needs_reorder) {
      args.insert({a.arg, u});
      continue;
    }
    if (!a.output) a.reorder.execute(strm, {{DNNL_ARG_FROM, u}, {DNNL_ARG_TO, a.scratch}});
    if (a.output) outs.emplace_back(i, u);
    args.insert({a.arg, a.scratch});
  }
  cp.prim.execute(strm, args);
  for (auto& [i, u] : outs)
    cp.args[i].reorder.execute(strm, {{DNNL_ARG_FROM, cp.args[i].scratch}, {DNNL_ARG_TO, u}});
  strm.wait();
}

struct PrimKey {
  static constexpr int kTeam = 19;  // the last value: the OpenMP team (Note [Cached oneDNN primitives])
  int64_t v[20] = {};
  bool operator==(const PrimKey& o) const { return std::equal(v, v + 20, o.v); }
};
struct PrimKeyHash {
  size_t operator()(const PrimKey& k) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ static_cast<size_t>(x)) * 1099511628211ull;
    return h;
  }
};
constexpr size_t kMaxCached = 64;

CachedPrim& cached(PrimKey key, const std::function<CachedPrim()>& build) {
  thread_local std::unordered_map<PrimKey, CachedPrim, PrimKeyHash> cache;
#ifdef _OPENMP
  key.v[PrimKey::kTeam] = omp_get_max_threads();
#endif
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCached) cache.clear();
  return cache.emplace(key, build()).first->second;
}

PrimKey conv_key(ConvKind kind, const ConvShape& s, bool with_bias) {
  PrimKey k;
  const int64_t vals[] = {static_cast<int64_t>(kind) + 1,
                          with_bias,
                          s.N,
                          s.C,
                          s.H,
                          s.W,
                          s.O,
                          s.KH,
                          s.KW,
                          s.OH,
                          s.OW,
                          s.G,
                          s.s[0],
                          s.s[1],
                          s.p[0],
                          s.p[1],
                          s.d[0],
                          s.d[1]};
  std::copy(std::begin(vals), std::end(vals), k.v);
  return k;
}

CachedPrim build_conv(ConvKind kind, const ConvShape& s, bool with_bias) {
  using namespace dnnl;
  const ConvDescs plain = conv_descs(s, with_bias);
  ConvDescs d = plain;
  if (!plain_layouts()) {
    const memory::format_tag any = memory::format_tag::any;
    d.src = memory::desc(plain.src.dims(), memory::data_type::f32, any);
    d.wei = memory::desc(plain.wei.dims(), memory::data_type::f32, any);
    d.dst = memory::desc(plain.dst.dims(), memory::data_type::f32, any);
  }
  auto fwd = conv_fwd_pd(d, with_bias);
  CachedPrim cp;
  if (kind == ConvKind::kForward) {
    cp.prim = convolution_forward(fwd);
    add_arg(cp, DNNL_ARG_SRC, false, plain.src, fwd.src_desc());
    add_arg(cp, DNNL_ARG_WEIGHTS, false, plain.wei, fwd.weights_desc());
    add_arg(cp, DNNL_ARG_DST, true, plain.dst, fwd.dst_desc());
    if (with_bias) add_arg(cp, DNNL_ARG_BIAS, false, plain.bias, fwd.bias_desc());
  } else if (kind == ConvKind::kBackwardInput) {
    auto pd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, d.src, d.wei, d.dst, d.strides, d.dil,
                                        d.pad_l, d.pad_r),
        engine(), fwd);
    cp.prim = convolution_backward_data(pd);
    add_arg(cp, DNNL_ARG_DIFF_DST, false, plain.dst, pd.diff_dst_desc());
    add_arg(cp, DNNL_ARG_WEIGHTS, false, plain.wei, pd.weights_desc());
    add_arg(cp, DNNL_ARG_DIFF_SRC, true, plain.src, pd.diff_src_desc());
  } else {
    auto desc = with_bias
                    ? convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.wei, d.bias,
                                                         d.dst, d.strides, d.dil, d.pad_l, d.pad_r)
                    : convolution_backward_weights::desc(algorithm::convolution_direct, d.src, d.wei, d.dst,
                                                         d.strides, d.dil, d.pad_l, d.pad_r);
    auto pd = convolution_backward_weights::primitive_desc(desc, engine(), fwd);
    cp.prim = convolution_backward_weights(pd);
    add_arg(cp, DNNL_ARG_DIFF_DST, false, plain.dst, pd.diff_dst_desc());
    add_arg(cp, DNNL_ARG_SRC, false, plain.src, pd.src_desc());
    add_arg(cp, DNNL_ARG_DIFF_WEIGHTS, true, plain.wei, pd.diff_weights_desc());
    if (with_bias) add_arg(cp, DNNL_ARG_DIFF_BIAS, true, plain.bias, pd.diff_bias_desc());
  }
  return cp;
}

// float32 through oneDNN (Note [Cached oneDNN primitives]). Pointers are dense buffers of the shapes in `s`.
void conv_f32(ConvKind kind, const ConvShape& s, const float* a, const float* b, const float* bias,
              float* out, float* out_bias) {
  const bool with_bias = kind == ConvKind::kForward ? bias != nullptr : out_bias != nullptr;
  CachedPrim& cp = cached(conv_key(kind, s, with_bias), [&] { return build_conv(kind, s, with_bias); });
  if (kind == ConvKind::kForward) {
    std::vector<const void*> ptrs{a, b, out};
    if (with_bias) ptrs.push_back(bias);
    run_cached(cp, ptrs);
  } else if (kind == ConvKind::kBackwardInput) {
    run_cached(cp, {a, b, out});
  } else {
    std::vector<const void*> ptrs{a, b, out};
    if (with_bias) ptrs.push_back(out_bias);
    run_cached(cp, ptrs);
  }
}

// float64: direct loops (Note [CPU nn kernels]). x (N, C, H, W), w (O, C/G, KH, KW), y (N, O, OH, OW).
void conv_f64(ConvKind kind, const ConvShape& s, const double* a, const double* b, const double* bias,
              double* out, double* out_bias) {
  const int64_t Cg = s.C / s.G, Og = s.O / s.G;
  const double *x = nullptr, *w = nullptr, *gy = nullptr;
  if (kind == ConvKind::kForward) x = a, w = b;
  if (kind == ConvKind::kBackwardInput) gy = a, w = b;
  if (kind == ConvKind::kBackwardWeight) gy = a, x = b;
  if (kind == ConvKind::kBackwardInput) std::fill(out, out + s.N * s.C * s.H * s.W, 0.0);
  if (kind == ConvKind::kBackwardWeight) std::fill(out, out + s.O * Cg * s.KH * s.KW, 0.0);
  if (out_bias != nullptr) std::fill(out_bias, out_bias + s.O, 0.0);
  for (int64_t n = 0; n < s.N; ++n) {
    for (int64_t o = 0; o < s.O; ++o) {
      const int64_t g = o / Og;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t yi = ((n * s.O + o) * s.OH + oh) * s.OW + ow;
          double acc = kind == ConvKind::kForward && bias != nullptr ? bias[o] : 0.0;
          const double gv = gy != nullptr ? gy[yi] : 0.0;
          if (out_bias != nullptr) out_bias[o] += gv;
          for (int64_t ci = 0; ci < Cg; ++ci) {
            const int64_t cin = g * Cg + ci;
            for (int64_t kh = 0; kh < s.KH; ++kh) {
              const int64_t ih = oh * s.s[0] - s.p[0] + kh * s.d[0];
              if (ih < 0 || ih >= s.H) continue;
              for (int64_t kw = 0; kw < s.KW; ++kw) {
                const int64_t iw = ow * s.s[1] - s.p[1] + kw * s.d[1];
                if (iw < 0 || iw >= s.W) continue;
                const int64_t xi = ((n * s.C + cin) * s.H + ih) * s.W + iw;
                const int64_t wi = ((o * Cg + ci) * s.KH + kh) * s.KW + kw;
                if (kind == ConvKind::kForward) acc += x[xi] * w[wi];
                if (kind == ConvKind::kBackwardInput) out[xi] += gv * w[wi];
                if (kind == ConvKind::kBackwardWeight) out[wi] += gv * x[xi];
              }
            }
          }
          if (kind == ConvKind::kForward) out[yi] = acc;
        }
      }
    }
  }
}

template <ConvKind kKind>
prism_plugin_error* run_conv(void*, const prism_kernel_call* c) {
  constexpr bool kFwd = kKind == ConvKind::kForward;
  constexpr bool kBwdW = kKind == ConvKind::kBackwardWeight;
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, kFwd ? 3 : 2, kBwdW && c->n_outputs == 2 ? 2 : 1));
  PRISM_CPU_RETURN_IF_ERROR(check_float_dtypes(c));
  for (size_t i = 1; i < c->n_outputs; ++i)
    PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, c->outputs[i], c->outputs[0].dtype, "output"));
  PRISM_CPU_RETURN_IF_ERROR(check_contiguous(c));
  ConvShape s;
  PRISM_CPU_RETURN_IF_ERROR(conv_shape(c, kKind, s));
  const bool has_bias = kFwd ? c->n_inputs == 3 : c->n_outputs == 2;
  if (has_bias) {
    const prism_tensor_desc& bd = kFwd ? c->inputs[2] : c->outputs[1];
    if (bd.ndim != 1 || bd.sizes[0] != s.O)
      return PRISM_CPU_INVALID("%s: bias must have shape (%lld)", c->op, static_cast<long long>(s.O));
  }
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  const prism_tensor_desc* bias = kFwd && has_bias ? &c->inputs[2] : nullptr;
  const prism_tensor_desc& out = c->outputs[0];
  const prism_tensor_desc* out_bias = !kFwd && has_bias ? &c->outputs[1] : nullptr;
  if (prism_sdk_desc_numel(&out) == 0 && (out_bias == nullptr || s.O == 0)) return nullptr;
  return guarded(c, [&]() -> prism_plugin_error* {
    switch (out.dtype) {
      case PRISM_DTYPE_F32:
        conv_f32(kKind, s, data_of<const float>(a), data_of<const float>(b),
                 bias ? data_of<const float>(*bias) : nullptr, data_of<float>(out),
                 out_bias ? data_of<float>(*out_bias) : nullptr);
        return nullptr;
      case PRISM_DTYPE_F64:
        conv_f64(kKind, s, data_of<const double>(a), data_of<const double>(b),
                 bias ? data_of<const double>(*bias) : nullptr, data_of<double>(out),
                 out_bias ? data_of<double>(*out_bias) : nullptr);
        return nullptr;
      case PRISM_DTYPE_F16:
      case PRISM_DTYPE_BF16: {
        const bool f16 = out.dtype == PRISM_DTYPE_F16;
        std::vector<float> fa, fb, fbias, fo(static_cast<size_t>(prism_sdk_desc_numel(&out))), fob;
        f16 ? widen<Half>(a, fa) : widen<BFloat16>(a, fa);
        f16 ? widen<Half>(b, fb) : widen<BFloat16>(b, fb);
        if (bias != nullptr) f16 ? widen<Half>(*bias, fbias) : widen<BFloat16>(*bias, fbias);
        if (out_bias != nullptr) fob.resize(static_cast<size_t>(s.O));
        conv_f32(kKind, s, fa.data(), fb.data(), bias ? fbias.data() : nullptr, fo.data(),
                 out_bias ? fob.data() : nullptr);
        f16 ? narrow_to<Half>(fo, out) : narrow_to<BFloat16>(fo, out);
        if (out_bias != nullptr) f16 ? narrow_to<Half>(fob, *out_bias) : narrow_to<BFloat16>(fob, *out_bias);
        return nullptr;
      }
      default:
        return unsupported_dtype(c, out.dtype);
    }
  });
}

// ===========================================================================
// max_pool2d / avg_pool2d
// ===========================================================================

struct PoolShape {
  int64_t N, C, H, W, OH, OW;
  int64_t k[2], s[2], p[2];
  bool include_pad;
};

// Forward (x) -> y; backward (gy[, x]) -> gx.
prism_plugin_error* pool_shape(const prism_kernel_call* c, bool backward, PoolShape& s) {
  const prism_tensor_desc& x = backward ? c->outputs[0] : c->inputs[0];
  const prism_tensor_desc& y = backward ? c->inputs[0] : c->outputs[0];
  if (x.ndim != 4 || y.ndim != 4) return PRISM_CPU_INVALID("%s: expected 4-D (N, C, H, W) tensors", c->op);
  if (!pair_attr(c, "kernel", 1, s.k) || !pair_attr(c, "stride", 1, s.s) || !pair_attr(c, "padding", 0, s.p))
    return PRISM_CPU_INVALID("%s: kernel, stride and padding must be 2 ints", c->op);
  s.include_pad = prism_sdk_attr_int(c, "count_include_pad", 1) != 0;
  s.N = x.sizes[0], s.C = x.sizes[1], s.H = x.sizes[2], s.W = x.sizes[3], s.OH = y.sizes[2],
  s.OW = y.sizes[3];
  const bool ok = y.sizes[0] == s.N && y.sizes[1] == s.C && s.k[0] >= 1 && s.k[1] >= 1 && s.s[0] >= 1 &&
                  s.s[1] >= 1 && s.p[0] >= 0 && s.p[1] >= 0 && 2 * s.p[0] <= s.k[0] && 2 * s.p[1] <= s.k[1] &&
                  s.OH == (s.H + 2 * s.p[0] - s.k[0]) / s.s[0] + 1 &&
                  s.OW == (s.W + 2 * s.p[1] - s.k[1]) / s.s[1] + 1;
  if (!ok) return PRISM_CPU_INVALID("%s: inconsistent shapes or attributes", c->op);
  if (backward && c->n_inputs == 2 && !same_shape(c->inputs[1], x))
    return PRISM_CPU_INVALID("%s: input must have grad_input's shape", c->op);
  return nullptr;
}

dnnl::pooling_forward::primitive_desc pool_fwd_pd(const PoolShape& s, dnnl::algorithm alg,
                                                  dnnl::prop_kind prop = dnnl::prop_kind::forward_training) {
  using namespace dnnl;
  using tag = memory::format_tag;
  memory::desc src({s.N, s.C, s.H, s.W}, memory::data_type::f32, tag::nchw);
  memory::desc dst({s.N, s.C, s.OH, s.OW}, memory::data_type::f32, tag::nchw);
  memory::dims pr{(s.OH - 1) * s.s[0] + s.k[0] - s.H - s.p[0], (s.OW - 1) * s.s[1] + s.k[1] - s.W - s.p[1]};
  return pooling_forward::primitive_desc(
      pooling_forward::desc(prop, alg, src, dst, {s.s[0], s.s[1]}, {s.k[0], s.k[1]}, {s.p[0], s.p[1]}, pr),
      engine());
}

dnnl::algorithm pool_alg(bool is_max, const PoolShape& s) {
  if (is_max) return dnnl::algorithm::pooling_max;
  return s.include_pad ? dnnl::algorithm::pooling_avg_include_padding
                       : dnnl::algorithm::pooling_avg_exclude_padding;
}

template <class T>
void pool_loops(bool is_max, bool backward, const PoolShape& s, const T* a, const T* x, T* out);

PrimKey pool_key(bool is_max, bool backward, const PoolShape& s) {
  PrimKey k;
  const int64_t vals[] = {10 + is_max * 2 + backward,
                          s.include_pad,
                          s.N,
                          s.C,
                          s.H,
                          s.W,
                          s.OH,
                          s.OW,
                          s.k[0],
                          s.k[1],
                          s.s[0],
                          s.s[1],
                          s.p[0],
                          s.p[1]};
  std::copy(std::begin(vals), std::end(vals), k.v);
  return k;
}

// float32: forward x -> y, or backward (gy, x) -> gx (x only for max), on cached oneDNN primitives (Note
// [Cached oneDNN primitives]).
void pool_f32(bool is_max, bool backward, const PoolShape& s, const float* a, const float* x, float* out) {
  using namespace dnnl;
  CachedPrim& cp = cached(pool_key(is_max, backward, s), [&] {
    // The forward keeps no workspace between calls: max-pool backward recomputes it (below), so the
    // forward call itself is an inference primitive.
    auto fwd = pool_fwd_pd(s, pool_alg(is_max, s),
                           backward ? prop_kind::forward_training : prop_kind::forward_inference);

    CachedPrim c;
    if (!backward) {
      c.prim = pooling_forward(fwd);
      add_arg(c, DNNL_ARG_SRC, false, fwd.src_desc(), fwd.src_desc());
      add_arg(c, DNNL_ARG_DST, true, fwd.dst_desc(), fwd.dst_desc());
      return c;
    }
    memory::dims pr{(s.OH - 1) * s.s[0] + s.k[0] - s.H - s.p[0], (s.OW - 1) * s.s[1] + s.k[1] - s.W - s.p[1]};
    auto bwd = pooling_backward::primitive_desc(
        pooling_backward::desc(pool_alg(is_max, s), fwd.src_desc(), fwd.dst_desc(), {s.s[0], s.s[1]},
                               {s.k[0], s.k[1]}, {s.p[0], s.p[1]}, pr),
        engine(), fwd);
    c.prim = pooling_backward(bwd);
    add_arg(c, DNNL_ARG_DIFF_DST, false, fwd.dst_desc(), fwd.dst_desc());
    add_arg(c, DNNL_ARG_DIFF_SRC, true, fwd.src_desc(), fwd.src_desc());
    if (is_max) {
      c.recompute = pooling_forward(fwd);
      c.workspace = memory(fwd.workspace_desc(), engine());
      c.tmp_dst = memory(fwd.dst_desc(), engine());
      c.src_desc = fwd.src_desc();
    }
    return c;
  });
  if (backward && is_max) {
    // oneDNN's max-pool backward reads the forward's arg-max workspace: recompute it from x (vectorised;
    // cheaper than a scalar arg-max loop), into buffers kept in the cache entry.
    stream strm(engine());
    cp.recompute.execute(strm, {{DNNL_ARG_SRC, memory(cp.src_desc, engine(), const_cast<float*>(x))},
                                {DNNL_ARG_DST, cp.tmp_dst},
                                {DNNL_ARG_WORKSPACE, cp.workspace}});
    strm.wait();
  }
  run_cached(cp, {a, out});
}

// Direct loops (float64, and float32 max-pool backward); max picks the first maximum (NaN wins), as
// PyTorch. Parallel over the N * C planes, each plane written by one thread.
template <class T>
void pool_loops(bool is_max, bool backward, const PoolShape& s, const T* a, const T* x, T* out) {
  parallel_range(s.N * s.C, 8, [&](int64_t nc_begin, int64_t nc_end) {
    if (backward) std::fill(out + nc_begin * s.H * s.W, out + nc_end * s.H * s.W, T(0));
    for (int64_t nc = nc_begin; nc < nc_end; ++nc) {
      const T* src = (backward ? x : a) + nc * s.H * s.W;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t h0 = oh * s.s[0] - s.p[0], w0 = ow * s.s[1] - s.p[1];
          const int64_t h1 = std::min(h0 + s.k[0], s.H), w1 = std::min(w0 + s.k[1], s.W);
          const int64_t hs = std::max<int64_t>(h0, 0), ws = std::max<int64_t>(w0, 0);
          const int64_t yi = (nc * s.OH + oh) * s.OW + ow;
          if (is_max) {
            int64_t best = -1;
            T bv = -std::numeric_limits<T>::infinity();
            for (int64_t h = hs; h < h1; ++h) {
              for (int64_t w = ws; w < w1; ++w) {
                const T v = src[h * s.W + w];
                if (best < 0 || v > bv || (std::isnan(v) && !std::isnan(bv))) best = h * s.W + w, bv = v;
              }
            }
            if (backward) {
              if (best >= 0) out[nc * s.H * s.W + best] += a[yi];
            } else {
              out[yi] = bv;
            }
          } else {
            const T div =
                s.include_pad ? static_cast<T>(s.k[0] * s.k[1]) : static_cast<T>((h1 - hs) * (w1 - ws));
            if (backward) {
              for (int64_t h = hs; h < h1; ++h)
                for (int64_t w = ws; w < w1; ++w) out[nc * s.H * s.W + h * s.W + w] += a[yi] / div;
            } else {
              T acc = 0;
              for (int64_t h = hs; h < h1; ++h)
                for (int64_t w = ws; w < w1; ++w) acc += src[h * s.W + w];
              out[yi] = acc / div;
            }
          }
        }
      }
    }
  });
}

template <bool kMax, bool kBackward>
prism_plugin_error* run_pool(void*, const prism_kernel_call* c) {
  constexpr size_t kIn = kBackward && kMax ? 2 : 1;
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, kIn, kBackward ? 2 : 1, 1));
  PRISM_CPU_RETURN_IF_ERROR(check_float_dtypes(c));
  PRISM_CPU_RETURN_IF_ERROR(check_contiguous(c));
  PoolShape s;
  PRISM_CPU_RETURN_IF_ERROR(pool_shape(c, kBackward, s));
  const prism_tensor_desc& out = c->outputs[0];
  if (prism_sdk_desc_numel(&out) == 0) return nullptr;
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc* x = kBackward && c->n_inputs == 2 ? &c->inputs[1] : nullptr;
  return guarded(c, [&]() -> prism_plugin_error* {
    switch (out.dtype) {
      case PRISM_DTYPE_F32:
        pool_f32(kMax, kBackward, s, data_of<const float>(a), x ? data_of<const float>(*x) : nullptr,
                 data_of<float>(out));
        return nullptr;
      case PRISM_DTYPE_F64:
        pool_loops<double>(kMax, kBackward, s, data_of<const double>(a),
                           x ? data_of<const double>(*x) : nullptr, data_of<double>(out));
        return nullptr;
      case PRISM_DTYPE_F16:
      case PRISM_DTYPE_BF16: {
        const bool f16 = out.dtype == PRISM_DTYPE_F16;
        std::vector<float> fa, fx, fo(static_cast<size_t>(prism_sdk_desc_numel(&out)));
        f16 ? widen<Half>(a, fa) : widen<BFloat16>(a, fa);
        if (x != nullptr) f16 ? widen<Half>(*x, fx) : widen<BFloat16>(*x, fx);
        pool_f32(kMax, kBackward, s, fa.data(), x ? fx.data() : nullptr, fo.data());
        f16 ? narrow_to<Half>(fo, out) : narrow_to<BFloat16>(fo, out);
        return nullptr;
      }
      default:
        return unsupported_dtype(c, out.dtype);
    }
  });
}

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "softmax", kMaskFloat, nullptr, run_softmax<false, false>},
    {sizeof(prism_kernel_def), "log_softmax", kMaskFloat, nullptr, run_softmax<true, false>},
    {sizeof(prism_kernel_def), "softmax_backward", kMaskFloat, nullptr, run_softmax<false, true>},
    {sizeof(prism_kernel_def), "log_softmax_backward", kMaskFloat, nullptr, run_softmax<true, true>},
    {sizeof(prism_kernel_def), "conv2d", kMaskFloat, nullptr, run_conv<ConvKind::kForward>},
    {sizeof(prism_kernel_def), "conv2d_backward_input", kMaskFloat, nullptr,
     run_conv<ConvKind::kBackwardInput>},
    {sizeof(prism_kernel_def), "conv2d_backward_weight", kMaskFloat, nullptr,
     run_conv<ConvKind::kBackwardWeight>},
    {sizeof(prism_kernel_def), "max_pool2d", kMaskFloat, nullptr, run_pool<true, false>},
    {sizeof(prism_kernel_def), "max_pool2d_backward", kMaskFloat, nullptr, run_pool<true, true>},
    {sizeof(prism_kernel_def), "avg_pool2d", kMaskFloat, nullptr, run_pool<false, false>},
    {sizeof(prism_kernel_def), "avg_pool2d_backward", kMaskFloat, nullptr, run_pool<false, true>},
};

}  // namespace

KernelList nn_kernels() {
  return {kKernels, sizeof(kKernels) / sizeof(kKernels[0])};
}

}  // namespace prism::cpu
