// tensor.cpp — storage, creation functions, views and copies of the tensor core.
#include "core/tensor/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/dispatch.hpp"
#include "core/memory/caching_allocator.hpp"
#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"
#include "core/profiler/profiler.hpp"

namespace prism {

// ---- Dims ----------------------------------------------------------------------------

Dims Dims::from(const int64_t* p, int32_t n) {
  PRISM_CHECK(n >= 0 && n <= PRISM_MAX_DIMS, INVALID_ARGUMENT, "ndim ", n, " is out of range [0, ",
              PRISM_MAX_DIMS, "]");
  PRISM_CHECK(n == 0 || p != nullptr, INVALID_ARGUMENT, "sizes pointer is NULL with ndim ", n);
  Dims d;
  for (int32_t i = 0; i < n; ++i) d.d[i] = p[i];
  d.n = n;
  return d;
}
void Dims::insert(int pos, int64_t v) {
  PRISM_CHECK(n < PRISM_MAX_DIMS, INVALID_ARGUMENT, "a tensor may have at most ", PRISM_MAX_DIMS, " dims");
  for (int i = n; i > pos; --i) d[i] = d[i - 1];
  d[pos] = v;
  ++n;
}
void Dims::erase(int pos) {
  for (int i = pos; i + 1 < n; ++i) d[i] = d[i + 1];
  --n;
}
bool Dims::operator==(const Dims& o) const {
  if (n != o.n) return false;
  for (int i = 0; i < n; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}
std::string Dims::str() const {
  std::ostringstream os;
  os << "[";
  for (int i = 0; i < n; ++i) os << (i ? ", " : "") << d[i];
  os << "]";
  return os.str();
}

int64_t checked_mul(int64_t a, int64_t b, const char* op) {
  int64_t r = 0;
  PRISM_CHECK(!mul_overflows(a, b, &r), INVALID_ARGUMENT, op, ": integer multiplication overflow (", a, " * ",
              b, ")");
  return r;
}
int64_t checked_add(int64_t a, int64_t b, const char* op) {
  int64_t r = 0;
  PRISM_CHECK(!add_overflows(a, b, &r), INVALID_ARGUMENT, op, ": integer addition overflow (", a, " + ", b,
              ")");
  return r;
}

int64_t numel_of(const Dims& sizes) {
  int64_t span = 1;
  bool overflow = false;
  for (int i = 0; i < sizes.n; ++i) overflow |= mul_overflows(span, sizes[i] > 1 ? sizes[i] : 1, &span);
  if (overflow) PRISM_FAIL(INVALID_ARGUMENT, "numel: integer multiplication overflow for size ", sizes.str());
  int64_t n = 1;
  for (int i = 0; i < sizes.n; ++i) n *= sizes[i];  // |n| <= span: cannot overflow
  return n;
}
Dims contiguous_strides(const Dims& sizes) {
  Dims s;
  s.n = sizes.n;
  int64_t acc = 1;
  for (int i = sizes.n - 1; i >= 0; --i) {
    s[i] = acc;
    if (i > 0 && mul_overflows(acc, std::max<int64_t>(sizes[i], 1), &acc))
      PRISM_FAIL(INVALID_ARGUMENT, "strides: integer multiplication overflow for size ", sizes.str());
  }
  return s;
}
int64_t max_reach(const Dims& sizes, const Dims& strides, const char* op) {
  int64_t reach = 0;
  for (int i = 0; i < sizes.n; ++i)
    if (sizes[i] == 0) return 0;
  for (int i = 0; i < sizes.n; ++i) {
    int64_t step = 0;
    PRISM_CHECK(!mul_overflows(sizes[i] - 1, strides[i] < 0 ? -strides[i] : strides[i], &step) &&
                    !add_overflows(reach, step, &reach),
                INVALID_ARGUMENT, op, ": size ", sizes.str(), " with stride ", strides.str(),
                " overflows int64 element offsets (integer multiplication overflow)");
  }
  return reach;
}

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (int i = sizes.n - 1; i >= 0; --i) {
    if (sizes[i] == 1) continue;
    if (sizes[i] == 0) return true;
    if (strides[i] != expected) return false;
    expected *= sizes[i];
  }
  return true;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  PRISM_CHECK(dim >= lo && dim <= hi, INVALID_ARGUMENT, op,
              ": dimension out of range (expected to be in range of [", lo, ", ", hi, "], but got ", dim,
              ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

std::string describe(const Tensor& t) {
  return detail::str_cat(dtype_name(t->dtype), t->sizes.str(), " on ", t->device()->name);
}

// ---- storage -----------------------------------------------------------------------------

Storage::~Storage() {
  if (block_bytes != 0) {
    device->allocator->release(buffer, block_bytes, alloc_stream,
                               stream_uses.empty() ? nullptr : &stream_uses);
  } else if (deleter != nullptr) {
    deleter(deleter_data, deleter_ctx);
  }
}

StoragePtr allocate_storage(Device* device, size_t nbytes) {
  auto s = std::make_shared<Storage>();
  s->device = device;
  s->nbytes = nbytes;
  s->alloc_stream = current_stream_handle(device);
  s->buffer = device->allocator->allocate(nbytes, &s->block_bytes, s->alloc_stream);
  profiler::note_alloc(nbytes);  // Note [Profiler hook]
  return s;
}

// ---- creation ------------------------------------------------------------------------------

namespace {
void check_sizes(const Dims& sizes, prism_dtype dtype, const char* op) {
  PRISM_CHECK(dtype_valid(dtype), INVALID_ARGUMENT, op, ": invalid dtype ", int(dtype));
  for (int i = 0; i < sizes.n; ++i)
    PRISM_CHECK(sizes[i] >= 0, INVALID_ARGUMENT, op, ": negative dimension ", sizes[i], " in size ",
                sizes.str());
  // Guard against element- and byte-count overflow (Note [Checked size arithmetic]):
  // too many elements cannot be allocated (OUT_OF_MEMORY); an empty shape whose
  // strides overflow is invalid.
  int64_t span = static_cast<int64_t>(dtype_size(dtype));
  bool overflow = false, has_zero = false;
  for (int i = 0; i < sizes.n; ++i) {
    has_zero |= sizes[i] == 0;
    overflow |= mul_overflows(span, std::max<int64_t>(sizes[i], 1), &span);
  }
  PRISM_CHECK(!overflow || has_zero, OUT_OF_MEMORY, op, ": size ", sizes.str(), " of ", dtype_name(dtype),
              " does not fit in memory");
  PRISM_CHECK(!overflow, INVALID_ARGUMENT, op, ": size ", sizes.str(),
              " has strides that overflow int64 (integer multiplication overflow)");
}
Tensor make_tensor(StoragePtr storage, prism_dtype dtype, const Dims& sizes) {
  auto t = std::make_shared<TensorImpl>();
  t->storage = std::move(storage);
  t->dtype = dtype;
  t->sizes = sizes;
  t->strides = contiguous_strides(sizes);
  return t;
}
}  // namespace

Tensor empty(const Dims& sizes, prism_dtype dtype, Device* device) {
  check_sizes(sizes, dtype, "empty");
  PRISM_CHECK(device->dtype_mask & PRISM_DTYPE_BIT(dtype), INVALID_ARGUMENT, "empty: device ", device->name,
              " (plugin '", device->plugin->name, "') does not support dtype ", dtype_name(dtype));
  size_t nbytes = static_cast<size_t>(numel_of(sizes)) * dtype_size(dtype);
  return make_tensor(allocate_storage(device, nbytes), dtype, sizes);
}

Tensor empty_like(const Tensor& t) {
  return empty(t->sizes, t->dtype, t->device());
}

Tensor full(const Dims& sizes, double value, prism_dtype dtype, Device* device) {
  Tensor t = empty(sizes, dtype, device);
  fill_(t, value);
  return t;
}

Tensor scalar_tensor(double value, prism_dtype dtype, Device* device) {
  return full(Dims{}, value, dtype, device);
}

Tensor scalar_like(double value, const Tensor& like) {
  return scalar_tensor(value, like->dtype, like->device());
}

Tensor from_host(const void* data, const Dims& sizes, prism_dtype dtype, Device* device) {
  Tensor t = empty(sizes, dtype, device);
  size_t bytes = static_cast<size_t>(t->numel()) * dtype_size(dtype);
  if (bytes == 0) return t;
  PRISM_CHECK(data != nullptr, INVALID_ARGUMENT, "from_data: data is NULL for ", bytes, " bytes");
  const prism_plugin_table* tab = device->plugin->table;
  prism_stream_t stream = launch_stream(device);
  PRISM_PLUGIN_CHECK(
      tab->copy_from_host(device->plugin->ctx, device->index, stream, data, t->storage->buffer, 0, bytes),
      *device->plugin, "copy of ", bytes, " bytes to ", device->name);
  // The staging memory belongs to the caller: make sure the copy has completed.
  if (device->capabilities & PRISM_DEVICE_CAP_ASYNC) synchronize_stream(device, stream);
  return t;
}

namespace {
Tensor from_doubles(const std::vector<double>& v, const Dims& sizes, prism_dtype dtype, Device* device) {
  std::vector<unsigned char> host(v.size() * dtype_size(dtype));
  for (size_t i = 0; i < v.size(); ++i) store_from_double(host.data() + i * dtype_size(dtype), dtype, v[i]);
  return from_host(host.data(), sizes, dtype, device);
}
}  // namespace

Tensor arange(double start, double end, double step, prism_dtype dtype, Device* device) {
  PRISM_CHECK(step != 0 && std::isfinite(step) && std::isfinite(start) && std::isfinite(end),
              INVALID_ARGUMENT, "arange: step must be nonzero and bounds finite (got start=", start,
              ", end=", end, ", step=", step, ")");
  PRISM_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), INVALID_ARGUMENT,
              "arange: upper bound and larger bound inconsistent with step sign (start=", start,
              ", end=", end, ", step=", step, ")");
  double n = std::ceil((end - start) / step);
  PRISM_CHECK(n < 1e12, OUT_OF_MEMORY, "arange: ", n, " elements is too many");
  std::vector<double> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<double>(i) * step;
  return from_doubles(v, Dims{static_cast<int64_t>(v.size())}, dtype, device);
}

Tensor linspace(double start, double end, int64_t steps, prism_dtype dtype, Device* device) {
  PRISM_CHECK(steps >= 0, INVALID_ARGUMENT, "linspace: number of steps must be non-negative, got ", steps);
  std::vector<double> v(static_cast<size_t>(steps));
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Like PyTorch: the first half counts up from start, the second down from end.
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    v[i] = (i < half || steps == 1) ? start + step * static_cast<double>(i)
                                    : end - step * static_cast<double>(steps - 1 - i);
  return from_doubles(v, Dims{steps}, dtype, device);
}

Tensor eye(int64_t n, int64_t m, prism_dtype dtype, Device* device) {
  if (m < 0) m = n;
  PRISM_CHECK(n >= 0, INVALID_ARGUMENT, "eye: n must be non-negative, got ", n);
  Tensor t = full(Dims{n, m}, 0.0, dtype, device);
  if (n > 0 && m > 0) fill_(diagonal(t, 0, 0, 1), 1.0);
  return t;
}

// ---- views ---------------------------------------------------------------------------------

Tensor make_view(const Tensor& t, const Dims& sizes, const Dims& strides, int64_t offset) {
  auto v = std::make_shared<TensorImpl>();
  v->storage = t->storage;
  v->dtype = t->dtype;
  v->sizes = sizes;
  v->strides = strides;
  v->offset = offset;
  return v;
}

namespace {
Dims infer_size(Dims sizes, int64_t numel, const char* op, const Tensor& t) {
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < sizes.n; ++i) {
    if (sizes[i] == -1) {
      PRISM_CHECK(infer < 0, INVALID_ARGUMENT, op, ": only one dimension can be inferred (-1) in shape ",
                  sizes.str());
      infer = i;
    } else {
      PRISM_CHECK(sizes[i] >= 0, INVALID_ARGUMENT, op, ": invalid shape dimension ", sizes[i], " in ",
                  sizes.str());
      PRISM_CHECK(!mul_overflows(known, sizes[i], &known), INVALID_ARGUMENT, op,
                  ": integer multiplication overflow in shape ", sizes.str());
    }
  }
  if (infer >= 0) {
    PRISM_CHECK(known != 0 && numel % known == 0, INVALID_ARGUMENT, op, ": shape ", sizes.str(),
                " is invalid for input of size ", numel, " (", describe(t), ")");
    sizes[infer] = numel / known;
    numel_of(sizes);
  } else {
    PRISM_CHECK(known == numel, INVALID_ARGUMENT, op, ": shape ", sizes.str(),
                " is invalid for input of size ", numel, " (", describe(t), ")");
    numel_of(sizes);  // zero-sized shapes: the strides must not overflow either
  }
  return sizes;
}

// PyTorch's computeStride: strides for viewing (old sizes/strides) as new sizes
// without a copy, or false when some new dim spans two non-contiguous chunks.
bool compute_view_strides(const Dims& oldsize, const Dims& oldstride, const Dims& newsize, Dims* newstride) {
  newstride->n = newsize.n;
  if (numel_of(oldsize) == 0) {
    *newstride = contiguous_strides(newsize);
    return true;
  }
  int64_t view_d = newsize.n - 1;
  int64_t chunk_base_stride = oldsize.n > 0 ? oldstride[oldsize.n - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = oldsize.n - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= oldsize[tensor_d];
    if (tensor_d == 0 ||
        (oldsize[tensor_d - 1] != 1 && oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newsize[view_d] == 1)) {
        (*newstride)[view_d] = view_numel * chunk_base_stride;
        view_numel *= newsize[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = oldstride[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace

Tensor view(const Tensor& t, Dims sizes) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("view", {t}, {}, [&] { return view(t, sizes); });
  }
  sizes = infer_size(sizes, t->numel(), "view", t);
  Dims strides;
  PRISM_CHECK(compute_view_strides(t->sizes, t->strides, sizes, &strides), INVALID_ARGUMENT, "view: size ",
              sizes.str(), " is not compatible with the input's size ", t->sizes.str(), " and stride ",
              t->strides.str(),
              " (at least one dimension spans across two contiguous subspaces: the tensor is not contiguous)."
              " Use reshape(...) instead, which copies when needed.");
  return make_view(t, sizes, strides, t->offset);
}

Tensor reshape(const Tensor& t, Dims sizes) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("reshape", {t}, {}, [&] { return reshape(t, sizes); });
  }
  sizes = infer_size(sizes, t->numel(), "reshape", t);
  Dims strides;
  if (compute_view_strides(t->sizes, t->strides, sizes, &strides))
    return make_view(t, sizes, strides, t->offset);
  Tensor c = contiguous(t);
  return make_view(c, sizes, contiguous_strides(sizes), c->offset);
}

Tensor permute(const Tensor& t, const Dims& dims) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    for (int i = 0; i < dims.n; ++i) at.sizes.push_back(wrap_dim(dims[i], t->dim(), "permute"));
    return autograd::recorded("permute", {t}, at, [&] { return permute(t, dims); });
  }
  PRISM_CHECK(dims.n == t->dim(), INVALID_ARGUMENT, "permute: number of dims ", dims.n,
              " doesn't match the tensor's ", t->dim(), " dims (", describe(t), ")");
  Dims s, st;
  s.n = st.n = dims.n;
  bool seen[PRISM_MAX_DIMS] = {};
  for (int i = 0; i < dims.n; ++i) {
    int64_t d = wrap_dim(dims[i], t->dim(), "permute");
    PRISM_CHECK(!seen[d], INVALID_ARGUMENT, "permute: dim ", d, " repeats in ", dims.str());
    seen[d] = true;
    s[i] = t->sizes[d];
    st[i] = t->strides[d];
  }
  return make_view(t, s, st, t->offset);
}

Tensor transpose(const Tensor& t, int64_t d0, int64_t d1) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.i0 = d0;
    at.i1 = d1;
    return autograd::recorded("transpose", {t}, at, [&] { return transpose(t, d0, d1); });
  }
  if (t->dim() == 0) {
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return make_view(t, t->sizes, t->strides, t->offset);
  }
  d0 = wrap_dim(d0, t->dim(), "transpose");
  d1 = wrap_dim(d1, t->dim(), "transpose");
  Dims s = t->sizes, st = t->strides;
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  return make_view(t, s, st, t->offset);
}

Tensor t2(const Tensor& t) {
  PRISM_CHECK(t->dim() <= 2, INVALID_ARGUMENT, "t: expects a tensor with <= 2 dimensions, but got ",
              describe(t), " (use transpose or permute)");
  return t->dim() < 2 ? make_view(t, t->sizes, t->strides, t->offset) : transpose(t, 0, 1);
}

Tensor expand(const Tensor& t, const Dims& sizes) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("expand", {t}, {}, [&] { return expand(t, sizes); });
  }
  PRISM_CHECK(sizes.n >= t->dim(), INVALID_ARGUMENT, "expand: the number of sizes provided (", sizes.n,
              ") must be greater or equal to the number of dimensions in the tensor (", t->dim(), ")");
  Dims s, st;
  s.n = st.n = sizes.n;
  int lead = sizes.n - t->dim();
  for (int i = sizes.n - 1; i >= 0; --i) {
    int j = i - lead;
    int64_t want = sizes[i];
    if (j >= 0) {
      int64_t have = t->sizes[j];
      if (want == -1) want = have;
      PRISM_CHECK(have == want || have == 1, INVALID_ARGUMENT, "expand: the expanded size of the tensor (",
                  want, ") must match the existing size (", have, ") at non-singleton dimension ", i,
                  ".  Target sizes: ", sizes.str(), ".  Tensor sizes: ", t->sizes.str());
      s[i] = want;
      st[i] = have == want ? t->strides[j] : 0;
    } else {
      PRISM_CHECK(want >= 0, INVALID_ARGUMENT, "expand: the expanded size ", want,
                  " is not allowed in a leading, non-existing dimension ", i);
      s[i] = want;
      st[i] = 0;
    }
  }
  numel_of(s);  // throws "numel: integer multiplication overflow" (as PyTorch does)
  return make_view(t, s, st, t->offset);
}

Tensor squeeze(const Tensor& t) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("squeeze", {t}, {}, [&] { return squeeze(t); });
  }
  Dims s, st;
  for (int i = 0; i < t->dim(); ++i) {
    if (t->sizes[i] != 1) {
      s.push_back(t->sizes[i]);
      st.push_back(t->strides[i]);
    }
  }
  return make_view(t, s, st, t->offset);
}

Tensor squeeze_dim(const Tensor& t, int64_t dim) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("squeeze", {t}, {}, [&] { return squeeze_dim(t, dim); });
  }
  dim = wrap_dim(dim, t->dim(), "squeeze");
  Dims s = t->sizes, st = t->strides;
  if (t->dim() > 0 && s[dim] == 1) {
    s.erase(static_cast<int>(dim));
    st.erase(static_cast<int>(dim));
  }
  return make_view(t, s, st, t->offset);
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("unsqueeze", {t}, {}, [&] { return unsqueeze(t, dim); });
  }
  dim = wrap_dim(dim, t->dim() + 1, "unsqueeze");
  Dims s = t->sizes, st = t->strides;
  int64_t new_stride = dim < t->dim() ? checked_mul(s[dim], st[dim], "unsqueeze") : 1;
  s.insert(static_cast<int>(dim), 1);
  st.insert(static_cast<int>(dim), new_stride);
  return make_view(t, s, st, t->offset);
}

Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.dim = dim;
    at.i0 = start;
    at.i1 = length;
    return autograd::recorded("narrow", {t}, at, [&] { return narrow(t, dim, start, length); });
  }
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "narrow: cannot be applied to a 0-dim tensor");
  dim = wrap_dim(dim, t->dim(), "narrow");
  int64_t size = t->sizes[dim];
  PRISM_CHECK(start >= -size && start <= size, INVALID_ARGUMENT, "narrow: start (", start,
              ") is out of range for dimension ", dim, " of size ", size);
  if (start < 0) start += size;
  PRISM_CHECK(length >= 0 && start <= size - length, INVALID_ARGUMENT, "narrow: start (", start,
              ") + length (", length, ") exceeds dimension size (", size, ") of dim ", dim);
  Dims s = t->sizes;
  s[dim] = length;
  return make_view(t, s, t->strides,
                   checked_add(t->offset, checked_mul(start, t->strides[dim], "narrow"), "narrow"));
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.dim = dim;
    at.i0 = index;
    return autograd::recorded("select", {t}, at, [&] { return select(t, dim, index); });
  }
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "select: cannot be applied to a 0-dim tensor");
  dim = wrap_dim(dim, t->dim(), "select");
  int64_t size = t->sizes[dim];
  PRISM_CHECK(index >= -size && index < size, INVALID_ARGUMENT, "select: index ", index,
              " is out of bounds for dimension ", dim, " with size ", size);
  if (index < 0) index += size;
  Dims s = t->sizes, st = t->strides;
  int64_t off = checked_add(t->offset, checked_mul(index, st[dim], "select"), "select");
  s.erase(static_cast<int>(dim));
  st.erase(static_cast<int>(dim));
  return make_view(t, s, st, off);
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.dim = dim;
    at.i0 = start;
    at.i1 = end;
    at.i2 = step;
    return autograd::recorded("slice", {t}, at, [&] { return slice(t, dim, start, end, step); });
  }
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "slice: cannot be applied to a 0-dim tensor");
  dim = wrap_dim(dim, t->dim(), "slice");
  PRISM_CHECK(step > 0, INVALID_ARGUMENT, "slice: step must be greater than zero (got ", step,
              "); negative steps are not supported, use flip");
  int64_t size = t->sizes[dim];
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Dims s = t->sizes, st = t->strides;
  // Note [Checked size arithmetic]: (len + step - 1) / step overflows for a
  // step near INT64_MAX; a dim of at most one element keeps its stride.
  const int64_t len = end - start;
  s[dim] = len == 0 ? 0 : (len - 1) / step + 1;
  int64_t off = t->offset;
  if (s[dim] > 0) off = checked_add(t->offset, checked_mul(start, st[dim], "slice"), "slice");
  if (s[dim] > 1) st[dim] = checked_mul(st[dim], step, "slice");
  return make_view(t, s, st, off);
}

Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  if (t->dim() == 0) return reshape(t, Dims{1});
  start_dim = wrap_dim(start_dim, t->dim(), "flatten");
  end_dim = wrap_dim(end_dim, t->dim(), "flatten");
  PRISM_CHECK(start_dim <= end_dim, INVALID_ARGUMENT, "flatten: start_dim (", start_dim,
              ") cannot come after end_dim (", end_dim, ")");
  Dims s;
  for (int i = 0; i < start_dim; ++i) s.push_back(t->sizes[i]);
  int64_t m = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) m = checked_mul(m, t->sizes[i], "flatten");
  s.push_back(m);
  for (int i = static_cast<int>(end_dim) + 1; i < t->dim(); ++i) s.push_back(t->sizes[i]);
  return reshape(t, s);
}

Tensor unfold(const Tensor& t, int64_t dim, int64_t size, int64_t step) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.dim = t->dim() == 0 ? 0 : wrap_dim(dim, t->dim(), "unfold");
    at.i0 = size;
    at.i1 = step;
    return autograd::recorded("unfold", {t}, at, [&] { return unfold(t, dim, size, step); });
  }
  int64_t d = wrap_dim(dim, t->dim(), "unfold");
  int64_t len = t->dim() == 0 ? 1 : t->sizes[d];
  PRISM_CHECK(size >= 0 && size <= len, INVALID_ARGUMENT, "unfold: maximum size for tensor at dimension ", d,
              " is ", len, " but size is ", size);
  PRISM_CHECK(step > 0, INVALID_ARGUMENT, "unfold: step is ", step, " but must be > 0");
  Dims s = t->sizes, st = t->strides;
  if (t->dim() == 0) {
    s.push_back(size);
    st.push_back(1);
    return make_view(t, s, st, t->offset);
  }
  s[d] = (len - size) / step + 1;
  int64_t stride = st[d];
  st[d] = checked_mul(stride, step, "unfold");
  s.push_back(size);
  st.push_back(stride);
  return make_view(t, s, st, t->offset);
}

Tensor as_strided(const Tensor& t, const Dims& sizes, const Dims& strides, int64_t offset) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.sizes = sizes;
    at.strides = strides;
    at.offset = offset;
    PRISM_CHECK(t->is_contiguous() && t->offset == 0, INVALID_ARGUMENT,
                "as_strided: differentiating through as_strided needs a contiguous input with offset 0, got ",
                describe(t));
    return autograd::recorded("as_strided", {t}, at, [&] { return as_strided(t, sizes, strides, offset); });
  }
  PRISM_CHECK(sizes.n == strides.n, INVALID_ARGUMENT, "as_strided: mismatch in length of strides (",
              strides.n, ") and shape (", sizes.n, ")");
  PRISM_CHECK(offset >= 0, INVALID_ARGUMENT, "as_strided: negative storage offset ", offset);
  for (int i = 0; i < sizes.n; ++i) {
    PRISM_CHECK(sizes[i] >= 0, INVALID_ARGUMENT, "as_strided: negative size ", sizes[i]);
    PRISM_CHECK(strides[i] >= 0, INVALID_ARGUMENT, "as_strided: negative strides are not supported, got ",
                strides.str());
  }
  numel_of(sizes);
  const bool empty_view = numel_of(sizes) == 0;
  // Note [Checked size arithmetic]: the reach and offset sum are checked, so
  // a stride near 2^62 is refused instead of wrapping below the storage size.
  const int64_t max_index =
      empty_view ? offset : checked_add(offset, max_reach(sizes, strides, "as_strided"), "as_strided");
  int64_t storage_elems = static_cast<int64_t>(t->storage->nbytes / t->element_size());
  PRISM_CHECK(empty_view || max_index < storage_elems, INVALID_ARGUMENT, "as_strided: size ", sizes.str(),
              ", stride ", strides.str(), ", offset ", offset, " reaches element ", max_index,
              " outside the storage of ", storage_elems, " elements");
  return make_view(t, sizes, strides, offset);
}

Tensor diagonal(const Tensor& t, int64_t offset, int64_t d1, int64_t d2) {
  if (autograd::should_record({&t})) {
    autograd::OpAttrs at;
    at.i0 = offset;
    at.i1 = d1;
    at.i2 = d2;
    return autograd::recorded("diagonal", {t}, at, [&] { return diagonal(t, offset, d1, d2); });
  }
  PRISM_CHECK(t->dim() >= 2, INVALID_ARGUMENT, "diagonal: expects a tensor with >= 2 dims, got ",
              describe(t));
  d1 = wrap_dim(d1, t->dim(), "diagonal");
  d2 = wrap_dim(d2, t->dim(), "diagonal");
  PRISM_CHECK(d1 != d2, INVALID_ARGUMENT, "diagonal: dimensions cannot be identical ", d1, ", ", d2);
  int64_t diag_size, off = t->offset;
  if (offset >= 0) {
    diag_size = std::max<int64_t>(std::min(t->sizes[d1], t->sizes[d2] - offset), 0);
    if (diag_size > 0) off = checked_add(off, checked_mul(offset, t->strides[d2], "diagonal"), "diagonal");
  } else {
    diag_size = std::max<int64_t>(std::min(t->sizes[d1] + offset, t->sizes[d2]), 0);
    if (diag_size > 0) off = checked_add(off, checked_mul(-offset, t->strides[d1], "diagonal"), "diagonal");
  }
  Dims s, st;
  for (int i = 0; i < t->dim(); ++i) {
    if (i == d1 || i == d2) continue;
    s.push_back(t->sizes[i]);
    st.push_back(t->strides[i]);
  }
  s.push_back(diag_size);
  st.push_back(checked_add(t->strides[d1], t->strides[d2], "diagonal"));
  return make_view(t, s, st, off);
}

// ---- copies --------------------------------------------------------------------------------

namespace {
void* host_address(const Tensor& t) {
  return static_cast<char*>(t->storage->buffer) + t->offset * static_cast<int64_t>(t->element_size());
}
}  // namespace

void fill_(const Tensor& t, double value) {
  bump_version(t);
  if (t->numel() == 0) return;
  Attrs a;
  a.add_scalar("value", value);
  run_kernel("fill", t->dtype, {}, {t.get()}, a);
}

// Note [Non-blocking copies]
// A host-to-device copy normally waits for the device (the source may be the
// caller's memory). With non_blocking, a contiguous source in memory pinned
// for the destination device is copied on the destination's current stream
// and the call returns at once: the source storage is kept alive until an
// event behind the copy completes (Note [Stream-ordered keep-alives]), so
// dropping the source tensor cannot free or reuse the memory under the copy.
// As with CUDA, writing to the source before the copy completed is a race the
// caller avoids (event or stream synchronize). Every other copy completes
// before returning, non_blocking or not, as do copies to a device that
// cannot query events (it is then synchronised).
void copy_(const Tensor& dst, const Tensor& src, bool non_blocking) {
  Tensor s = src->sizes == dst->sizes ? src : expand(src, dst->sizes);
  bump_version(dst);
  if (dst->numel() == 0) return;
  Device* dd = dst->device();
  Device* sd = s->device();
  if (dd == sd) {
    run_kernel("copy", dst->dtype, {s.get()}, {dst.get()});
    return;
  }
  // Cross-device: stage through host memory. Note [Cross-device copies]: a
  // contiguous same-dtype destination receives the bytes directly; otherwise
  // the bytes land in a contiguous temporary on the destination device and a
  // device-side copy kernel scatters/casts them. A strided source on a device
  // without a copy kernel of its own cannot be made contiguous there (that
  // would fall back to this very copy): the bytes its view spans travel
  // instead, and the destination device gathers the view from them.
  if (!s->is_contiguous() && sd->plugin->find_kernel("copy", s->dtype) == nullptr) {
    const int64_t span = checked_add(max_reach(s->sizes, s->strides, "copy_"), 1, "copy_");
    Tensor raw = make_view(s, Dims{span}, Dims{1}, s->offset);
    Tensor staged = empty(Dims{span}, s->dtype, dd);
    copy_(staged, raw);
    run_kernel("copy", dst->dtype, {make_view(staged, s->sizes, s->strides, 0).get()}, {dst.get()});
    return;
  }
  Tensor sc = contiguous(s);
  size_t bytes = static_cast<size_t>(sc->numel()) * sc->element_size();
  std::vector<unsigned char> staging;
  const void* host_src;
  if (sd->host_memory()) {
    synchronize_stream(sd, current_stream_handle(sd));
    host_src = host_address(sc);
  } else {
    staging.resize(bytes);
    copy_to_host(sc, staging.data(), bytes);
    host_src = staging.data();
  }
  Tensor target = dst;
  if (!(dst->is_contiguous() && dst->dtype == sc->dtype)) target = empty(sc->sizes, sc->dtype, dd);
  const prism_plugin_table* tab = dd->plugin->table;
  prism_stream_t stream = launch_stream(dd);
  PRISM_PLUGIN_CHECK(
      tab->copy_from_host(dd->plugin->ctx, dd->index, stream, host_src, target->storage->buffer,
                          static_cast<uint64_t>(target->offset) * target->element_size(), bytes),
      *dd->plugin, "copy from ", sd->name, " to ", dd->name);
  // Note [Non-blocking copies]
  const bool async = non_blocking && staging.empty() && sc->storage->pinned_for == dd &&
                     (dd->capabilities & PRISM_DEVICE_CAP_ASYNC) != 0;
  if (!async || !keep_alive_until_done(dd, stream, sc->storage)) synchronize_stream(dd, stream);
  if (target != dst) run_kernel("copy", dst->dtype, {target.get()}, {dst.get()});
}

Tensor contiguous(const Tensor& t) {
  return t->is_contiguous() ? t : clone(t);
}

Tensor clone(const Tensor& t) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("clone", {t}, {}, [&] { return clone(t); });
  }
  Tensor out = empty(t->sizes, t->dtype, t->device());
  copy_(out, t);
  return out;
}

Tensor to_device(const Tensor& t, Device* device, bool non_blocking) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("to_device", {t}, {}, [&] { return to_device(t, device, non_blocking); });
  }
  if (t->device() == device) return t;
  Tensor out = empty(t->sizes, t->dtype, device);
  copy_(out, t, non_blocking);
  return out;
}

void record_stream(const Tensor& t, prism_stream_t stream) {
  Storage& s = *t->storage;
  if (s.block_bytes == 0 || stream == s.alloc_stream) return;  // not a cached block, or its own stream
  if (std::find(s.stream_uses.begin(), s.stream_uses.end(), stream) == s.stream_uses.end())
    s.stream_uses.push_back(stream);
}

// Note [Pinned host memory]
// Pinned memory comes from the target device's plugin (host_alloc, plugin ABI
// 1.1) and is wrapped as a host tensor whose deleter hands the block back.
// Page-locking is slow (milliseconds in CUDA), so released blocks are kept
// per device and reused by exact (4 KiB-rounded) size, as PyTorch's caching
// host allocator does; a data loader pins batches of one size over and over.
// At most kPinnedKeep blocks are kept; empty_cache frees them
// (free_cached_pinned).
namespace {
constexpr size_t kPinnedKeep = 16;

size_t pinned_round(size_t bytes) {
  return (bytes + 4095) / 4096 * 4096;
}

void release_pinned(void* data, void* ctx) {
  auto* d = static_cast<Device*>(ctx);
  char* base = static_cast<char*>(data) - 64;
  size_t block = 0;
  std::memcpy(&block, base, sizeof block);  // written by acquire_pinned
  {
    std::lock_guard<std::mutex> lock(d->pinned_mu);
    if (d->pinned_free.size() < kPinnedKeep) {
      d->pinned_free.emplace(block, base);
      return;
    }
  }
  d->plugin->table->host_free(d->plugin->ctx, d->index, base);
}

// Returns the user pointer of a block of at least `bytes` (64 bytes past the
// block start, which records the block's size and keeps 64-byte alignment).
void* acquire_pinned(Device* d, size_t bytes) {
  const size_t block = pinned_round(bytes + 64);
  {
    std::lock_guard<std::mutex> lock(d->pinned_mu);
    auto it = d->pinned_free.find(block);
    if (it != d->pinned_free.end()) {
      void* p = it->second;
      d->pinned_free.erase(it);
      return static_cast<char*>(p) + 64;
    }
  }
  const Plugin& pl = *d->plugin;
  void* p = nullptr;
  PRISM_PLUGIN_CHECK(pl.table->host_alloc(pl.ctx, d->index, block, &p), pl, "pin_memory: ", block,
                     " bytes of pinned host memory for ", d->name);
  PRISM_CHECK(p != nullptr, INTERNAL, "pin_memory: plugin '", pl.name, "' returned no memory for ", block,
              " bytes on ", d->name);
  std::memcpy(p, &block, sizeof block);
  return static_cast<char*>(p) + 64;
}
}  // namespace

void free_cached_pinned(Device* d) {
  std::multimap<size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(d->pinned_mu);
    blocks.swap(d->pinned_free);
  }
  for (auto& b : blocks) d->plugin->table->host_free(d->plugin->ctx, d->index, b.second);
}

Tensor pin_memory(const Tensor& t, Device* target) {
  PRISM_CHECK(target != nullptr, INVALID_ARGUMENT, "pin_memory: no target device");
  PRISM_CHECK(t->device()->host_memory(), INVALID_ARGUMENT, "pin_memory: ", describe(t),
              " is not in host memory; only host tensors can be pinned (for ", target->name, ")");
  if (target->host_memory() || t->storage->pinned_for == target) return t;
  const Plugin& pl = *target->plugin;
  PRISM_CHECK(pl.has_pinned, UNAVAILABLE, "pin_memory: plugin '", pl.name, "' (ABI ", pl.abi_major, ".",
              pl.abi_minor, ") offers no pinned host memory for ", target->name, " (", describe(t), ")");
  Tensor out = empty_pinned(t->sizes, t->dtype, target);
  copy_(out, t);
  return out;
}

Tensor empty_pinned(const Dims& sizes, prism_dtype dtype, Device* target) {
  PRISM_CHECK(target != nullptr, INVALID_ARGUMENT, "empty_pinned: no target device");
  check_sizes(sizes, dtype, "empty_pinned");
  Device* cpu = Runtime::get().cpu();
  if (target->host_memory()) return empty(sizes, dtype, cpu);
  const Plugin& pl = *target->plugin;
  PRISM_CHECK(pl.has_pinned, UNAVAILABLE, "empty_pinned: plugin '", pl.name, "' (ABI ", pl.abi_major, ".",
              pl.abi_minor, ") offers no pinned host memory for ", target->name);
  const size_t bytes = static_cast<size_t>(numel_of(sizes)) * dtype_size(dtype);
  auto s = std::make_shared<Storage>();
  s->device = cpu;
  s->nbytes = bytes;
  if (bytes > 0) {
    void* p = acquire_pinned(target, bytes);
    s->buffer = p;
    s->deleter = release_pinned;
    s->deleter_data = p;
    s->deleter_ctx = target;
    s->pinned_for = target;
  }
  return make_tensor(std::move(s), dtype, sizes);
}

bool is_pinned(const Tensor& t) {
  return t->storage->pinned_for != nullptr;
}

Tensor to_dtype(const Tensor& t, prism_dtype dtype) {
  if (autograd::should_record({&t})) {
    return autograd::recorded("to", {t}, {}, [&] { return to_dtype(t, dtype); });
  }
  PRISM_CHECK(dtype_valid(dtype), INVALID_ARGUMENT, "to: invalid dtype ", int(dtype));
  if (t->dtype == dtype) return t;
  Tensor out = empty(t->sizes, dtype, t->device());
  copy_(out, t);
  return out;
}

void copy_to_host(const Tensor& t, void* dst, size_t bytes) {
  size_t want = static_cast<size_t>(t->numel()) * t->element_size();
  PRISM_CHECK(bytes == want, INVALID_ARGUMENT, "copy_to_host: destination has ", bytes, " bytes but ",
              describe(t), " needs ", want);
  if (want == 0) return;
  PRISM_CHECK(dst != nullptr, INVALID_ARGUMENT, "copy_to_host: destination is NULL");
  Tensor c = contiguous(t);
  Device* d = c->device();
  PRISM_PLUGIN_CHECK(
      d->plugin->table->copy_to_host(d->plugin->ctx, d->index, current_stream_handle(d), c->storage->buffer,
                                     static_cast<uint64_t>(c->offset) * c->element_size(), dst, bytes),
      *d->plugin, "copy from ", d->name, " to the host");
}

namespace {
void read_one(const Tensor& t, unsigned char* buf, const char* op) {
  PRISM_CHECK(t->numel() == 1, INVALID_ARGUMENT, op, ": a tensor with ", t->numel(),
              " elements cannot be converted to a scalar (", describe(t), ")");
  copy_to_host(t, buf, t->element_size());
}
}  // namespace

double item_double(const Tensor& t) {
  unsigned char buf[8];
  read_one(t, buf, "item");
  return load_as_double(buf, t->dtype);
}

int64_t item_int64(const Tensor& t) {
  unsigned char buf[8];
  read_one(t, buf, "item");
  return load_as_int64(buf, t->dtype);
}

}  // namespace prism
