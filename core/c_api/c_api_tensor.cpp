// c_api_tensor.cpp — user C ABI: tensor handles, metadata, creation, copies, DLPack and views.
#include <dlpack/dlpack.h>

#include <cstring>

#include "core/c_api/handle.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"
#include "prism/prism.h"

using prism::Dims;
using prism::Tensor;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::make;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

prism::Device* dev(const char* name) {
  return prism::Runtime::get().device(name);
}

Dims dims_arg(const int64_t* p, int32_t n, const char* op) {
  PRISM_CHECK(n >= 0 && n <= PRISM_MAX_DIMS, INVALID_ARGUMENT, op, ": ndim ", n, " is out of range [0, ",
              PRISM_MAX_DIMS, "]");
  PRISM_CHECK(n == 0 || p != nullptr, INVALID_ARGUMENT, op, ": sizes pointer is NULL with ndim ", n);
  return Dims::from(p, n);
}

// Runs `f` producing a tensor into *out.
// Plain queries return a default and set the last error on a NULL handle.
template <typename R, typename F>
R query(prism_tensor_t t, const char* op, R fallback, F&& f) {
  R r = fallback;
  guard([&] { r = f(arg(t, op, "t")); });
  return r;
}

}  // namespace

extern "C" {

// ---- handles and metadata -------------------------------------------------------------------------

PRISM_API prism_status prism_tensor_retain(prism_tensor_t t) {
  return guard([&] { prism::capi::retain(t); });
}

PRISM_API prism_status prism_tensor_release(prism_tensor_t t) {
  if (t == nullptr) return PRISM_OK;
  return guard([&] { prism::capi::release(t); });
}

PRISM_API int32_t prism_tensor_ndim(prism_tensor_t t) {
  return query<int32_t>(t, "tensor_ndim", 0, [](const Tensor& x) { return x->dim(); });
}
PRISM_API int64_t prism_tensor_numel(prism_tensor_t t) {
  return query<int64_t>(t, "tensor_numel", 0, [](const Tensor& x) { return x->numel(); });
}
PRISM_API prism_dtype prism_tensor_dtype(prism_tensor_t t) {
  return query<prism_dtype>(t, "tensor_dtype", PRISM_DTYPE_BOOL, [](const Tensor& x) { return x->dtype; });
}
PRISM_API const char* prism_tensor_device(prism_tensor_t t) {
  return query<const char*>(t, "tensor_device", "",
                            [](const Tensor& x) { return x->device()->name.c_str(); });
}
PRISM_API int64_t prism_tensor_storage_offset(prism_tensor_t t) {
  return query<int64_t>(t, "tensor_storage_offset", 0, [](const Tensor& x) { return x->offset; });
}
PRISM_API int32_t prism_tensor_is_contiguous(prism_tensor_t t) {
  return query<int32_t>(t, "tensor_is_contiguous", 0,
                        [](const Tensor& x) { return x->is_contiguous() ? 1 : 0; });
}

PRISM_API prism_status prism_tensor_size(prism_tensor_t t, int32_t dim, int64_t* size) {
  return guard([&] {
    const Tensor& x = arg(t, "tensor_size", "t");
    out_arg(size, "tensor_size");
    PRISM_CHECK(x->dim() > 0, INVALID_ARGUMENT, "tensor_size: a 0-dim tensor has no dimension ", dim);
    *size = x->sizes[static_cast<int>(prism::wrap_dim(dim, x->dim(), "tensor_size"))];
  });
}

PRISM_API prism_status prism_tensor_sizes(prism_tensor_t t, int64_t* sizes, int32_t capacity) {
  return guard([&] {
    const Tensor& x = arg(t, "tensor_sizes", "t");
    PRISM_CHECK(capacity >= x->dim() && (sizes != nullptr || x->dim() == 0), INVALID_ARGUMENT,
                "tensor_sizes: capacity ", capacity, " is smaller than ndim ", x->dim());
    for (int i = 0; i < x->dim(); ++i) sizes[i] = x->sizes[i];
  });
}

PRISM_API prism_status prism_tensor_strides(prism_tensor_t t, int64_t* strides, int32_t capacity) {
  return guard([&] {
    const Tensor& x = arg(t, "tensor_strides", "t");
    PRISM_CHECK(capacity >= x->dim() && (strides != nullptr || x->dim() == 0), INVALID_ARGUMENT,
                "tensor_strides: capacity ", capacity, " is smaller than ndim ", x->dim());
    for (int i = 0; i < x->dim(); ++i) strides[i] = x->strides[i];
  });
}

PRISM_API prism_status prism_tensor_copy_to_host(prism_tensor_t t, void* dst, size_t bytes) {
  return guard([&] { prism::copy_to_host(arg(t, "tensor_copy_to_host", "t"), dst, bytes); });
}

PRISM_API prism_status prism_tensor_item_double(prism_tensor_t t, double* value) {
  return guard([&] {
    const Tensor& x = arg(t, "item", "t");
    out_arg(value, "item");
    *value = prism::item_double(x);
  });
}

PRISM_API prism_status prism_tensor_item_int64(prism_tensor_t t, int64_t* value) {
  return guard([&] {
    const Tensor& x = arg(t, "item", "t");
    out_arg(value, "item");
    *value = prism::item_int64(x);
  });
}

// ---- creation -------------------------------------------------------------------------------------

PRISM_API prism_status prism_empty(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out) {
  return make(out, "empty", [&] { return prism::empty(dims_arg(sizes, ndim, "empty"), dtype, dev(device)); });
}
PRISM_API prism_status prism_zeros(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out) {
  return make(out, "zeros",
              [&] { return prism::full(dims_arg(sizes, ndim, "zeros"), 0.0, dtype, dev(device)); });
}
PRISM_API prism_status prism_ones(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                  prism_tensor_t* out) {
  return make(out, "ones",
              [&] { return prism::full(dims_arg(sizes, ndim, "ones"), 1.0, dtype, dev(device)); });
}
PRISM_API prism_status prism_full(const int64_t* sizes, int32_t ndim, double value, prism_dtype dtype,
                                  const char* device, prism_tensor_t* out) {
  return make(out, "full", [&] {
    Dims d = dims_arg(sizes, ndim, "full");
    prism::check_value_fits(value, dtype, "full");
    return prism::full(d, value, dtype, dev(device));
  });
}
PRISM_API prism_status prism_scalar(double value, prism_dtype dtype, const char* device,
                                    prism_tensor_t* out) {
  return make(out, "scalar", [&] {
    prism::check_value_fits(value, dtype, "scalar");
    return prism::scalar_tensor(value, dtype, dev(device));
  });
}
PRISM_API prism_status prism_eye(int64_t n, int64_t m, prism_dtype dtype, const char* device,
                                 prism_tensor_t* out) {
  return make(out, "eye", [&] { return prism::eye(n, m, dtype, dev(device)); });
}
PRISM_API prism_status prism_arange(double start, double end, double step, prism_dtype dtype,
                                    const char* device, prism_tensor_t* out) {
  return make(out, "arange", [&] { return prism::arange(start, end, step, dtype, dev(device)); });
}
PRISM_API prism_status prism_linspace(double start, double end, int64_t steps, prism_dtype dtype,
                                      const char* device, prism_tensor_t* out) {
  return make(out, "linspace", [&] { return prism::linspace(start, end, steps, dtype, dev(device)); });
}
PRISM_API prism_status prism_empty_like(prism_tensor_t like, prism_tensor_t* out) {
  return make(out, "empty_like", [&] { return prism::empty_like(arg(like, "empty_like", "like")); });
}
PRISM_API prism_status prism_zeros_like(prism_tensor_t like, prism_tensor_t* out) {
  return make(out, "zeros_like", [&] {
    const Tensor& l = arg(like, "zeros_like", "like");
    return prism::full(l->sizes, 0.0, l->dtype, l->device());
  });
}
PRISM_API prism_status prism_ones_like(prism_tensor_t like, prism_tensor_t* out) {
  return make(out, "ones_like", [&] {
    const Tensor& l = arg(like, "ones_like", "like");
    return prism::full(l->sizes, 1.0, l->dtype, l->device());
  });
}
PRISM_API prism_status prism_full_like(prism_tensor_t like, double value, prism_tensor_t* out) {
  return make(out, "full_like", [&] {
    const Tensor& l = arg(like, "full_like", "like");
    prism::check_value_fits(value, l->dtype, "full_like");
    return prism::full(l->sizes, value, l->dtype, l->device());
  });
}

PRISM_API prism_status prism_from_data(const void* data, const int64_t* sizes, int32_t ndim,
                                       prism_dtype dtype, const char* device, prism_tensor_t* out) {
  return make(out, "from_data",
              [&] { return prism::from_host(data, dims_arg(sizes, ndim, "from_data"), dtype, dev(device)); });
}

namespace {
// Note [Wrapping external memory]: caller memory becomes a Storage with no
// allocator block and the caller's deleter; only host-memory devices (the CPU
// plugin) can address it, because their buffer handles are host pointers.
Tensor wrap_host_memory(void* data, const Dims& sizes, const Dims* strides, prism_dtype dtype,
                        int64_t byte_offset, prism_deleter_fn deleter, void* data_for_deleter, void* ctx,
                        const char* op) {
  PRISM_CHECK(prism::dtype_valid(dtype), INVALID_ARGUMENT, op, ": invalid dtype ", int(dtype));
  prism::Device* cpu = prism::Runtime::get().cpu();
  PRISM_CHECK(cpu->host_memory(), UNAVAILABLE, op, ": the cpu device cannot address host memory");
  Dims st = strides != nullptr ? *strides : prism::contiguous_strides(sizes);
  for (int i = 0; i < sizes.n; ++i) {
    PRISM_CHECK(sizes[i] >= 0, INVALID_ARGUMENT, op, ": negative size in ", sizes.str());
    PRISM_CHECK(st[i] >= 0, INVALID_ARGUMENT, op, ": negative strides are not supported, got ", st.str());
  }
  const bool empty = prism::numel_of(sizes) == 0;
  PRISM_CHECK(data != nullptr || empty, INVALID_ARGUMENT, op, ": data is NULL");
  const auto es = static_cast<int64_t>(prism::dtype_size(dtype));
  PRISM_CHECK(byte_offset >= 0 && byte_offset % es == 0, INVALID_ARGUMENT, op, ": byte offset ", byte_offset,
              " is not a non-negative multiple of the element size ", es);
  // Note [Checked size arithmetic]: the span in bytes must fit in int64.
  int64_t span_bytes = 0;
  if (!empty) {
    const int64_t elems = prism::checked_add(prism::max_reach(sizes, st, op), 1, op);
    span_bytes = prism::checked_add(byte_offset, prism::checked_mul(elems, es, op), op);
  }
  // Note [Aligned external memory]: kernels read elements as their C type, so
  // the first element must be aligned to the element size (a misaligned
  // pointer is undefined behaviour in C and faults on some targets).
  const uintptr_t first = reinterpret_cast<uintptr_t>(data) + static_cast<uintptr_t>(byte_offset);
  PRISM_CHECK(empty || first % static_cast<uintptr_t>(es) == 0, INVALID_ARGUMENT, op, ": data pointer ", data,
              " + byte offset ", byte_offset, " is not aligned to the ", es, "-byte element size of ",
              prism::dtype_name(dtype));
  auto s = std::make_shared<prism::Storage>();
  s->device = cpu;
  s->buffer = data;
  s->nbytes = static_cast<size_t>(span_bytes);
  s->deleter = deleter;
  s->deleter_data = data_for_deleter;
  s->deleter_ctx = ctx;
  auto t = std::make_shared<prism::TensorImpl>();
  t->storage = std::move(s);
  t->dtype = dtype;
  t->sizes = sizes;
  t->strides = st;
  t->offset = byte_offset / es;
  return t;
}

// DLPack 0.6 (Debian 12) predates kDLBool; its value in later DLPack
// versions (0.8+) is 6, and PyTorch uses it for torch.bool.
constexpr uint8_t kDLBoolCode = 6;

// DLPack: one manager per exported tensor keeps the storage alive.
struct DlpackExport {
  Tensor t;
  int64_t shape[PRISM_MAX_DIMS];
  int64_t strides[PRISM_MAX_DIMS];
  DLManagedTensor managed;
};
void dlpack_export_deleter(DLManagedTensor* m) {
  delete static_cast<DlpackExport*>(m->manager_ctx);
}

DLDataType to_dl_dtype(prism_dtype dt) {
  DLDataType d{};
  d.lanes = 1;
  d.bits = static_cast<uint8_t>(prism::dtype_size(dt) * 8);
  switch (dt) {
    case PRISM_DTYPE_BOOL:
      d.code = kDLBoolCode;
      break;
    case PRISM_DTYPE_U8:
      d.code = kDLUInt;
      break;
    case PRISM_DTYPE_F16:
    case PRISM_DTYPE_F32:
    case PRISM_DTYPE_F64:
      d.code = kDLFloat;
      break;
    case PRISM_DTYPE_BF16:
      d.code = kDLBfloat;
      break;
    case PRISM_DTYPE_C64:
    case PRISM_DTYPE_C128:
      d.code = kDLComplex;
      break;
    default:
      d.code = kDLInt;
      break;
  }
  return d;
}

prism_dtype from_dl_dtype(DLDataType d) {
  PRISM_CHECK(d.lanes == 1, INVALID_ARGUMENT, "from_dlpack: vector dtypes (lanes=", int(d.lanes),
              ") are not supported");
  if (d.code == kDLBoolCode && d.bits == 8) return PRISM_DTYPE_BOOL;
  switch (d.code) {
    case kDLUInt:
      if (d.bits == 8) return PRISM_DTYPE_U8;
      if (d.bits == 1) return PRISM_DTYPE_BOOL;
      break;
    case kDLInt:
      if (d.bits == 8) return PRISM_DTYPE_I8;
      if (d.bits == 16) return PRISM_DTYPE_I16;
      if (d.bits == 32) return PRISM_DTYPE_I32;
      if (d.bits == 64) return PRISM_DTYPE_I64;
      break;
    case kDLFloat:
      if (d.bits == 16) return PRISM_DTYPE_F16;
      if (d.bits == 32) return PRISM_DTYPE_F32;
      if (d.bits == 64) return PRISM_DTYPE_F64;
      break;
    case kDLBfloat:
      if (d.bits == 16) return PRISM_DTYPE_BF16;
      break;
    case kDLComplex:
      if (d.bits == 64) return PRISM_DTYPE_C64;
      if (d.bits == 128) return PRISM_DTYPE_C128;
      break;
    default:
      break;
  }
  PRISM_FAIL(INVALID_ARGUMENT, "from_dlpack: unsupported DLPack dtype (code ", int(d.code), ", bits ",
             int(d.bits), ")");
}

void dlpack_import_deleter(void*, void* ctx) {
  auto* m = static_cast<DLManagedTensor*>(ctx);
  if (m->deleter != nullptr) m->deleter(m);
}
}  // namespace

PRISM_API prism_status prism_from_blob(void* data, const int64_t* sizes, const int64_t* strides, int32_t ndim,
                                       prism_dtype dtype, prism_deleter_fn deleter, void* deleter_ctx,
                                       prism_tensor_t* out) {
  return make(out, "from_blob", [&] {
    Dims s = dims_arg(sizes, ndim, "from_blob");
    Dims st;
    if (strides != nullptr) st = Dims::from(strides, ndim);
    return wrap_host_memory(data, s, strides != nullptr ? &st : nullptr, dtype, 0, deleter, data, deleter_ctx,
                            "from_blob");
  });
}

PRISM_API prism_status prism_to_dlpack(prism_tensor_t t, struct DLManagedTensor** out) {
  return guard([&] {
    const Tensor& x = arg(t, "to_dlpack", "t");
    out_arg(out, "to_dlpack");
    PRISM_CHECK(x->device()->host_memory(), INVALID_ARGUMENT, "to_dlpack: ", x->device()->name, " (plugin '",
                x->device()->plugin->name, "') memory is not host-addressable; copy the tensor to cpu first");
    auto e = std::make_unique<DlpackExport>();
    e->t = x;
    for (int i = 0; i < x->dim(); ++i) {
      e->shape[i] = x->sizes[i];
      e->strides[i] = x->strides[i];
    }
    DLTensor& dl = e->managed.dl_tensor;
    dl.data = x->storage->buffer;
    dl.device = DLDevice{kDLCPU, 0};
    dl.ndim = x->dim();
    dl.dtype = to_dl_dtype(x->dtype);
    dl.shape = e->shape;
    dl.strides = e->strides;
    dl.byte_offset = static_cast<uint64_t>(x->offset) * x->element_size();
    e->managed.manager_ctx = e.get();
    e->managed.deleter = dlpack_export_deleter;
    *out = &e.release()->managed;
  });
}

PRISM_API prism_status prism_from_dlpack(struct DLManagedTensor* src, prism_tensor_t* out) {
  return make(out, "from_dlpack", [&] {
    PRISM_CHECK(src != nullptr, INVALID_ARGUMENT, "from_dlpack: src is NULL");
    const DLTensor& dl = src->dl_tensor;
    PRISM_CHECK(dl.device.device_type == kDLCPU || dl.device.device_type == kDLCUDAHost, INVALID_ARGUMENT,
                "from_dlpack: only host (kDLCPU) tensors can be imported, got device type ",
                int(dl.device.device_type));
    PRISM_CHECK(dl.ndim >= 0 && dl.ndim <= PRISM_MAX_DIMS, INVALID_ARGUMENT, "from_dlpack: ndim ", dl.ndim,
                " out of range");
    prism_dtype dt = from_dl_dtype(dl.dtype);
    Dims s = dims_arg(dl.shape, dl.ndim, "from_dlpack");
    Dims st;
    if (dl.strides != nullptr) st = Dims::from(dl.strides, dl.ndim);
    return wrap_host_memory(dl.data, s, dl.strides != nullptr ? &st : nullptr, dt,
                            static_cast<int64_t>(dl.byte_offset), dlpack_import_deleter, nullptr, src,
                            "from_dlpack");
  });
}

// ---- copies -----------------------------------------------------------------------------------------

PRISM_API prism_status prism_to_device(prism_tensor_t t, const char* device, prism_tensor_t* out) {
  return make(out, "to_device", [&] { return prism::to_device(arg(t, "to_device", "t"), dev(device)); });
}
PRISM_API prism_status prism_pin_memory(prism_tensor_t t, const char* device, prism_tensor_t* out) {
  return make(out, "pin_memory", [&] { return prism::pin_memory(arg(t, "pin_memory", "t"), dev(device)); });
}
PRISM_API int32_t prism_tensor_is_pinned(prism_tensor_t t) {
  return query<int32_t>(t, "tensor_is_pinned", 0,
                        [](const Tensor& x) { return prism::is_pinned(x) ? 1 : 0; });
}
PRISM_API prism_status prism_to_dtype(prism_tensor_t t, prism_dtype dtype, prism_tensor_t* out) {
  return make(out, "to_dtype", [&] { return prism::to_dtype(arg(t, "to_dtype", "t"), dtype); });
}
PRISM_API prism_status prism_contiguous(prism_tensor_t t, prism_tensor_t* out) {
  return make(out, "contiguous", [&] { return prism::contiguous(arg(t, "contiguous", "t")); });
}
PRISM_API prism_status prism_clone(prism_tensor_t t, prism_tensor_t* out) {
  return make(out, "clone", [&] { return prism::clone(arg(t, "clone", "t")); });
}
PRISM_API prism_status prism_copy_(prism_tensor_t dst, prism_tensor_t src) {
  return guard([&] { prism::copy_(arg(dst, "copy_", "dst"), arg(src, "copy_", "src")); });
}
PRISM_API prism_status prism_fill_(prism_tensor_t t, double value) {
  return guard([&] {
    const Tensor& x = arg(t, "fill_", "t");
    prism::check_value_fits(value, x->dtype, "fill_");
    prism::fill_(x, value);
  });
}

// ---- views ------------------------------------------------------------------------------------------

PRISM_API prism_status prism_view(prism_tensor_t t, const int64_t* sizes, int32_t ndim, prism_tensor_t* out) {
  return make(out, "view", [&] { return prism::view(arg(t, "view", "t"), dims_arg(sizes, ndim, "view")); });
}
PRISM_API prism_status prism_reshape(prism_tensor_t t, const int64_t* sizes, int32_t ndim,
                                     prism_tensor_t* out) {
  return make(out, "reshape",
              [&] { return prism::reshape(arg(t, "reshape", "t"), dims_arg(sizes, ndim, "reshape")); });
}
PRISM_API prism_status prism_permute(prism_tensor_t t, const int64_t* dims, int32_t ndim,
                                     prism_tensor_t* out) {
  return make(out, "permute",
              [&] { return prism::permute(arg(t, "permute", "t"), dims_arg(dims, ndim, "permute")); });
}
PRISM_API prism_status prism_transpose(prism_tensor_t t, int64_t dim0, int64_t dim1, prism_tensor_t* out) {
  return make(out, "transpose", [&] { return prism::transpose(arg(t, "transpose", "t"), dim0, dim1); });
}
PRISM_API prism_status prism_t(prism_tensor_t t, prism_tensor_t* out) {
  return make(out, "t", [&] { return prism::t2(arg(t, "t", "t")); });
}
PRISM_API prism_status prism_expand(prism_tensor_t t, const int64_t* sizes, int32_t ndim,
                                    prism_tensor_t* out) {
  return make(out, "expand",
              [&] { return prism::expand(arg(t, "expand", "t"), dims_arg(sizes, ndim, "expand")); });
}
PRISM_API prism_status prism_squeeze(prism_tensor_t t, prism_tensor_t* out) {
  return make(out, "squeeze", [&] { return prism::squeeze(arg(t, "squeeze", "t")); });
}
PRISM_API prism_status prism_squeeze_dim(prism_tensor_t t, int64_t dim, prism_tensor_t* out) {
  return make(out, "squeeze", [&] { return prism::squeeze_dim(arg(t, "squeeze", "t"), dim); });
}
PRISM_API prism_status prism_unsqueeze(prism_tensor_t t, int64_t dim, prism_tensor_t* out) {
  return make(out, "unsqueeze", [&] { return prism::unsqueeze(arg(t, "unsqueeze", "t"), dim); });
}
PRISM_API prism_status prism_narrow(prism_tensor_t t, int64_t dim, int64_t start, int64_t length,
                                    prism_tensor_t* out) {
  return make(out, "narrow", [&] { return prism::narrow(arg(t, "narrow", "t"), dim, start, length); });
}
PRISM_API prism_status prism_select(prism_tensor_t t, int64_t dim, int64_t index, prism_tensor_t* out) {
  return make(out, "select", [&] { return prism::select(arg(t, "select", "t"), dim, index); });
}
PRISM_API prism_status prism_slice(prism_tensor_t t, int64_t dim, int64_t start, int64_t end, int64_t step,
                                   prism_tensor_t* out) {
  return make(out, "slice", [&] { return prism::slice(arg(t, "slice", "t"), dim, start, end, step); });
}
PRISM_API prism_status prism_flatten(prism_tensor_t t, int64_t start_dim, int64_t end_dim,
                                     prism_tensor_t* out) {
  return make(out, "flatten", [&] { return prism::flatten(arg(t, "flatten", "t"), start_dim, end_dim); });
}
PRISM_API prism_status prism_unfold(prism_tensor_t t, int64_t dim, int64_t size, int64_t step,
                                    prism_tensor_t* out) {
  return make(out, "unfold", [&] { return prism::unfold(arg(t, "unfold", "t"), dim, size, step); });
}
PRISM_API prism_status prism_as_strided(prism_tensor_t t, const int64_t* sizes, const int64_t* strides,
                                        int32_t ndim, int64_t storage_offset, prism_tensor_t* out) {
  return make(out, "as_strided", [&] {
    return prism::as_strided(arg(t, "as_strided", "t"), dims_arg(sizes, ndim, "as_strided"),
                             dims_arg(strides, ndim, "as_strided"), storage_offset);
  });
}
PRISM_API prism_status prism_diagonal(prism_tensor_t t, int64_t offset, int64_t dim1, int64_t dim2,
                                      prism_tensor_t* out) {
  return make(out, "diagonal", [&] { return prism::diagonal(arg(t, "diagonal", "t"), offset, dim1, dim2); });
}

}  // extern "C"
