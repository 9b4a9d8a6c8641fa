// tensor.hpp — storage, tensor metadata and the view/creation/copy functions of the core (internal).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/common.hpp"
#include "core/tensor/dtype.hpp"
#include "prism/plugin.h"
#include "prism/prism.h"

namespace prism {

struct Device;

// A small fixed-capacity array of dims (no heap: tensors are created on every op).
struct Dims {
  int64_t d[PRISM_MAX_DIMS] = {};
  int32_t n = 0;
  Dims() = default;
  Dims(std::initializer_list<int64_t> l) {
    for (int64_t v : l) d[n++] = v;
  }
  static Dims from(const int64_t* p, int32_t n);
  int64_t& operator[](int i) { return d[i]; }
  int64_t operator[](int i) const { return d[i]; }
  int32_t size() const { return n; }
  void push_back(int64_t v) { d[n++] = v; }
  void insert(int pos, int64_t v);
  void erase(int pos);
  const int64_t* begin() const { return d; }
  const int64_t* end() const { return d + n; }
  bool operator==(const Dims& o) const;
  bool operator!=(const Dims& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3]"
};

// Note [Checked size arithmetic]
// Every product or sum of sizes, strides and offsets in the core goes through
// these helpers: a size near 2^62 or a stride of INT64_MAX must give an error
// naming the op, never a wrapped value that passes a bounds check and lets a
// view reach outside its storage. They throw INVALID_ARGUMENT with PyTorch's
// wording ("integer multiplication overflow").
int64_t checked_mul(int64_t a, int64_t b, const char* op);
int64_t checked_add(int64_t a, int64_t b, const char* op);
inline bool mul_overflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
inline bool add_overflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

// Element count; throws when the product of the sizes (zero sizes counted as
// one, as contiguous strides are) overflows int64.
int64_t numel_of(const Dims& sizes);
Dims contiguous_strides(const Dims& sizes);
// Largest element index a view reaches, relative to its offset: sum of
// (size-1)*stride (0 for an empty view); throws naming `op` on overflow.
int64_t max_reach(const Dims& sizes, const Dims& strides, const char* op);

// Storage: one device allocation (or caller memory), reference counted.
struct Storage {
  Device* device = nullptr;
  void* buffer = nullptr;  // plugin handle, or a host pointer on HOST_MEMORY devices
  size_t nbytes = 0;
  size_t block_bytes = 0;              // size of the cached block (0: not from the allocator)
  prism_deleter_fn deleter = nullptr;  // caller memory (from_blob / DLPack)
  void* deleter_data = nullptr;
  void* deleter_ctx = nullptr;
  // Note [Version counter]: bumped by every in-place write. It lives in the
  // storage, so all views of the same memory share it (as in PyTorch).
  std::atomic<uint64_t> version{0};
  // Host memory from `pinned_for`'s plugin (host_alloc): that device copies
  // it without staging. Null for ordinary memory.
  Device* pinned_for = nullptr;
  // Note [Stream-aware caching]: the stream that allocated the block, and the
  // other streams record_stream named (returned to the allocator on release).
  prism_stream_t alloc_stream = nullptr;
  std::vector<prism_stream_t> stream_uses;
  ~Storage();
};
using StoragePtr = std::shared_ptr<Storage>;

// Allocates `nbytes` on `device` through its caching allocator.
StoragePtr allocate_storage(Device* device, size_t nbytes);

namespace autograd {
struct AutogradMeta;  // core/autograd/autograd.hpp
}

// A tensor: storage + dtype + sizes + strides + offset + version counter.
struct TensorImpl {
  StoragePtr storage;
  prism_dtype dtype = PRISM_DTYPE_F32;
  Dims sizes, strides;
  int64_t offset = 0;                                // elements
  std::shared_ptr<autograd::AutogradMeta> autograd;  // null until autograd needs it

  Device* device() const { return storage->device; }
  std::atomic<uint64_t>* version() const { return &storage->version; }
  int32_t dim() const { return sizes.n; }
  int64_t numel() const { return numel_of(sizes); }
  bool is_contiguous() const;
  size_t element_size() const { return dtype_size(dtype); }
};
using Tensor = std::shared_ptr<TensorImpl>;

// Wraps negative dims; throws naming `op`, the dim and the valid range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
std::string describe(const Tensor& t);  // "float32[2, 3] on cpu:0"

// ---- creation -----------------------------------------------------------------
Tensor empty(const Dims& sizes, prism_dtype dtype, Device* device);
Tensor empty_like(const Tensor& t);  // contiguous, same dtype/device
Tensor full(const Dims& sizes, double value, prism_dtype dtype, Device* device);
Tensor scalar_tensor(double value, prism_dtype dtype, Device* device);
// A 0-d tensor holding `value` with `like`'s dtype and device.
Tensor scalar_like(double value, const Tensor& like);
Tensor from_host(const void* data, const Dims& sizes, prism_dtype dtype, Device* device);
Tensor arange(double start, double end, double step, prism_dtype dtype, Device* device);
Tensor linspace(double start, double end, int64_t steps, prism_dtype dtype, Device* device);
Tensor eye(int64_t n, int64_t m, prism_dtype dtype, Device* device);

// ---- views (share storage) ------------------------------------------------------
Tensor make_view(const Tensor& t, const Dims& sizes, const Dims& strides, int64_t offset);
Tensor view(const Tensor& t, Dims sizes);
Tensor reshape(const Tensor& t, Dims sizes);
Tensor permute(const Tensor& t, const Dims& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
Tensor t2(const Tensor& t);
Tensor expand(const Tensor& t, const Dims& sizes);
Tensor squeeze(const Tensor& t);
Tensor squeeze_dim(const Tensor& t, int64_t dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step);
Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim);
Tensor unfold(const Tensor& t, int64_t dim, int64_t size, int64_t step);
Tensor as_strided(const Tensor& t, const Dims& sizes, const Dims& strides, int64_t offset);
Tensor diagonal(const Tensor& t, int64_t offset, int64_t d1, int64_t d2);

// ---- copies -----------------------------------------------------------------------
// dst <- src (src broadcast to dst's shape, cast to dst's dtype, any devices).
// non_blocking: a copy from pinned host memory to a device returns without
// waiting (Note [Non-blocking copies]); otherwise it has completed on return.
void copy_(const Tensor& dst, const Tensor& src, bool non_blocking = false);
Tensor contiguous(const Tensor& t);
Tensor clone(const Tensor& t);
Tensor to_device(const Tensor& t, Device* device, bool non_blocking = false);
// Note [Stream-aware caching]: marks `t`'s memory as used on `stream` (a
// handle of t's device), so its block is not reused before that work ends.
void record_stream(const Tensor& t, prism_stream_t stream);
// An uninitialised contiguous host tensor in pinned memory of `target`
// (Note [Pinned host memory]); UNAVAILABLE when the plugin has none.
Tensor empty_pinned(const Dims& sizes, prism_dtype dtype, Device* target);
// Note [Pinned host memory]: a contiguous copy of host tensor `t` in memory
// that `target` copies from and to without staging (its plugin's host_alloc,
// plugin ABI 1.1). Returns `t` itself when it already is pinned for `target`
// or when `target` addresses host memory (nothing to pin). Throws UNAVAILABLE
// naming the plugin when it has no pinned memory.
Tensor pin_memory(const Tensor& t, Device* target);
// True when `t`'s storage is pinned host memory (for any device).
bool is_pinned(const Tensor& t);
// Frees the pinned blocks `d` keeps for reuse (prism_memory_empty_cache).
void free_cached_pinned(Device* d);
Tensor to_dtype(const Tensor& t, prism_dtype dtype);
void fill_(const Tensor& t, double value);
// Copies the elements row-major to host memory (bytes == numel * element size).
void copy_to_host(const Tensor& t, void* dst, size_t bytes);
double item_double(const Tensor& t);
int64_t item_int64(const Tensor& t);
// Marks an in-place write (Note [Version counter]).
inline void bump_version(const Tensor& t) {
  t->version()->fetch_add(1, std::memory_order_relaxed);
}

}  // namespace prism
