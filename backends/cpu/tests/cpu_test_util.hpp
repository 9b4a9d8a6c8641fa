// cpu_test_util.hpp — CPU plugin test harness: dlopen, a minimal host table, strided tensors, kernel calls.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "prism/plugin.h"
#include "prism_plugin_sdk.h"

// The core's error object, as this test's host table defines it.
struct prism_plugin_error {
  prism_status code;
  std::string message;
};

namespace prism_cpu_test {

inline prism_plugin_error* host_error_create(prism_status code, const char* message) {
  return new prism_plugin_error{code, message != nullptr ? message : ""};
}
inline void host_log(prism_log_level, const char*, const char*) {}

struct Status {
  prism_status code = PRISM_OK;
  std::string message;
  bool ok() const { return code == PRISM_OK; }
};

inline Status take(prism_plugin_error* e) {
  Status s;
  if (e != nullptr) {
    s.code = e->code;
    s.message = e->message;
    delete e;
  }
  return s;
}

// The plugin, loaded once per process.
class Plugin {
 public:
  static Plugin& get() {
    static Plugin p;
    return p;
  }
  const prism_plugin_table* table() const { return table_; }
  void* ctx() const { return ctx_; }
  const prism_host_table& host() const { return host_; }
  bool loaded() const { return table_ != nullptr && ctx_ != nullptr; }
  std::string load_error;

 private:
  Plugin() {
    host_.struct_size = sizeof(host_);
    host_.abi_major = PRISM_PLUGIN_ABI_MAJOR;
    host_.abi_minor = PRISM_PLUGIN_ABI_MINOR;
    host_.error_create = host_error_create;
    host_.log = host_log;
    handle_ = dlopen(PRISM_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      load_error = dlerror();
      return;
    }
    auto entry = reinterpret_cast<prism_plugin_entry_fn>(dlsym(handle_, PRISM_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
      load_error = "no entry symbol";
      return;
    }
    Status s = take(entry(&host_, &table_));
    if (!s.ok()) {
      load_error = s.message;
      table_ = nullptr;
      return;
    }
    s = take(table_->init(&ctx_));
    if (!s.ok()) load_error = s.message;
  }
  ~Plugin() {
    if (table_ != nullptr && ctx_ != nullptr) table_->shutdown(ctx_);
    // the library stays loaded: OpenMP worker threads may still be parked in it
  }
  prism_host_table host_{};
  void* handle_ = nullptr;
  const prism_plugin_table* table_ = nullptr;
  void* ctx_ = nullptr;
};

inline const prism_kernel_def* find_kernel(const char* op) {
  const prism_plugin_table* t = Plugin::get().table();
  for (size_t i = 0; i < t->n_kernels; ++i) {
    const prism_kernel_def* d = reinterpret_cast<const prism_kernel_def*>(
        reinterpret_cast<const char*>(t->kernels) + i * t->kernel_def_size);
    if (std::strcmp(d->op, op) == 0) return d;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Host tensors in plugin buffers (the CPU device has HOST_MEMORY)
// ---------------------------------------------------------------------------

inline size_t dsize(prism_dtype dt) {
  return prism_sdk_dtype_size(dt);
}

class Tensor {
 public:
  Tensor() = default;
  // contiguous
  Tensor(prism_dtype dt, std::vector<int64_t> sizes) : dtype_(dt), sizes_(std::move(sizes)) {
    strides_.assign(sizes_.size(), 1);
    for (int d = static_cast<int>(sizes_.size()) - 2; d >= 0; --d) {
      strides_[d] = strides_[d + 1] * std::max<int64_t>(sizes_[d + 1], 1);
    }
    allocate(numel());
  }
  // a view with given strides/offset over fresh storage of `storage` elements
  Tensor(prism_dtype dt, std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t offset,
         int64_t storage)
      : dtype_(dt), sizes_(std::move(sizes)), strides_(std::move(strides)), offset_(offset) {
    allocate(storage);
  }
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& o) noexcept { *this = std::move(o); }
  Tensor& operator=(Tensor&& o) noexcept {
    std::swap(dtype_, o.dtype_);
    std::swap(sizes_, o.sizes_);
    std::swap(strides_, o.strides_);
    std::swap(offset_, o.offset_);
    std::swap(buffer_, o.buffer_);
    std::swap(storage_, o.storage_);
    return *this;
  }
  ~Tensor() {
    if (buffer_ != nullptr) Plugin::get().table()->free(Plugin::get().ctx(), 0, buffer_);
  }

  // Transposed view (B, N, M) -> (.., M, N) of the last two dims, same storage layout semantics:
  // returns a tensor of `sizes` whose last two dims are stored swapped.
  static Tensor transposed(prism_dtype dt, std::vector<int64_t> sizes) {
    const size_t n = sizes.size();
    std::vector<int64_t> st(n, 1);
    // storage order: ..., sizes[n-1], sizes[n-2] (dense)
    int64_t acc = 1;
    st[n - 2] = acc;
    acc *= sizes[n - 2];
    st[n - 1] = acc;
    acc *= sizes[n - 1];
    for (int d = static_cast<int>(n) - 3; d >= 0; --d) {
      st[d] = acc;
      acc *= sizes[d];
    }
    return Tensor(dt, sizes, st, 0, acc);
  }

  prism_tensor_desc desc() const {
    prism_tensor_desc d{};
    d.struct_size = sizeof(d);
    d.buffer = buffer_;
    d.byte_offset = static_cast<uint64_t>(offset_) * dsize(dtype_);
    d.dtype = dtype_;
    d.ndim = static_cast<int32_t>(sizes_.size());
    d.sizes = sizes_.data();
    d.strides = strides_.data();
    return d;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes_) n *= s;
    return n;
  }
  prism_dtype dtype() const { return dtype_; }
  const std::vector<int64_t>& sizes() const { return sizes_; }

  // element offset (in elements, from storage start) of row-major index i
  int64_t elem(int64_t i) const {
    int64_t off = offset_;
    for (int d = static_cast<int>(sizes_.size()) - 1; d >= 0; --d) {
      off += (i % sizes_[d]) * strides_[d];
      i /= sizes_[d];
    }
    return off;
  }
  void* ptr(int64_t i) const { return static_cast<char*>(buffer_) + elem(i) * dsize(dtype_); }

  double get(int64_t i) const {
    const void* p = ptr(i);
    switch (dtype_) {
      default:  // out-of-range values (the enum's FORCE_32BIT sentinel) fall through to the code after the
                // switch
        break;
      case PRISM_DTYPE_BOOL:
        return *static_cast<const uint8_t*>(p);
      case PRISM_DTYPE_U8:
        return *static_cast<const uint8_t*>(p);
      case PRISM_DTYPE_I8:
        return *static_cast<const int8_t*>(p);
      case PRISM_DTYPE_I16:
        return *static_cast<const int16_t*>(p);
      case PRISM_DTYPE_I32:
        return *static_cast<const int32_t*>(p);
      case PRISM_DTYPE_I64:
        return static_cast<double>(*static_cast<const int64_t*>(p));
      case PRISM_DTYPE_F16:
        return prism_sdk_f16_to_f32(*static_cast<const uint16_t*>(p));
      case PRISM_DTYPE_BF16:
        return prism_sdk_bf16_to_f32(*static_cast<const uint16_t*>(p));
      case PRISM_DTYPE_F32:
        return *static_cast<const float*>(p);
      case PRISM_DTYPE_F64:
        return *static_cast<const double*>(p);
    }
    return 0;
  }
  int64_t get_i64(int64_t i) const {
    if (dtype_ == PRISM_DTYPE_I64) return *static_cast<const int64_t*>(ptr(i));
    return static_cast<int64_t>(get(i));
  }
  // stores v (which must be representable or is rounded by the dtype)
  void set(int64_t i, double v) {
    void* p = ptr(i);
    switch (dtype_) {
      default:  // out-of-range values (the enum's FORCE_32BIT sentinel) fall through to the code after the
                // switch
        break;
      case PRISM_DTYPE_BOOL:
        *static_cast<uint8_t*>(p) = v != 0;
        break;
      case PRISM_DTYPE_U8:
        *static_cast<uint8_t*>(p) = static_cast<uint8_t>(static_cast<int64_t>(v));
        break;
      case PRISM_DTYPE_I8:
        *static_cast<int8_t*>(p) = static_cast<int8_t>(v);
        break;
      case PRISM_DTYPE_I16:
        *static_cast<int16_t*>(p) = static_cast<int16_t>(v);
        break;
      case PRISM_DTYPE_I32:
        *static_cast<int32_t*>(p) = static_cast<int32_t>(v);
        break;
      case PRISM_DTYPE_I64:
        *static_cast<int64_t*>(p) = static_cast<int64_t>(v);
        break;
      case PRISM_DTYPE_F16:
        *static_cast<uint16_t*>(p) = prism_sdk_f32_to_f16(static_cast<float>(v));
        break;
      case PRISM_DTYPE_BF16:
        *static_cast<uint16_t*>(p) = prism_sdk_f32_to_bf16(static_cast<float>(v));
        break;
      case PRISM_DTYPE_F32:
        *static_cast<float*>(p) = static_cast<float>(v);
        break;
      case PRISM_DTYPE_F64:
        *static_cast<double*>(p) = v;
        break;
    }
  }
  void set_all(const std::vector<double>& v) {
    for (int64_t i = 0; i < numel(); ++i) set(i, v[static_cast<size_t>(i)]);
  }
  std::vector<double> values() const {
    std::vector<double> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = get(i);
    return v;
  }
  void* buffer() const { return buffer_; }
  int64_t storage() const { return storage_; }

 private:
  void allocate(int64_t elems) {
    storage_ = elems;
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(elems, 0)) * dsize(dtype_);
    Status s = take(Plugin::get().table()->alloc(Plugin::get().ctx(), 0, bytes, &buffer_));
    EXPECT_TRUE(s.ok()) << s.message;
    if (bytes > 0) std::memset(buffer_, 0xA5, bytes);  // guard pattern
  }
  prism_dtype dtype_ = PRISM_DTYPE_F32;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> strides_;
  int64_t offset_ = 0;
  void* buffer_ = nullptr;
  int64_t storage_ = 0;
};

// ---------------------------------------------------------------------------
// Attributes and calls
// ---------------------------------------------------------------------------

inline prism_attr attr_int(const char* name, int64_t v) {
  prism_attr a{};
  a.struct_size = sizeof(a);
  a.name = name;
  a.kind = PRISM_ATTR_INT;
  a.i = v;
  a.f = static_cast<double>(v);
  return a;
}
inline prism_attr attr_float(const char* name, double v) {
  prism_attr a = attr_int(name, 0);
  a.kind = PRISM_ATTR_FLOAT;
  a.f = v;
  a.i = 0;
  return a;
}
inline prism_attr attr_scalar(const char* name, double v) {
  prism_attr a = attr_int(name, static_cast<int64_t>(v));
  a.kind = PRISM_ATTR_SCALAR;
  a.f = v;
  return a;
}

inline Status call(const char* op, std::initializer_list<const Tensor*> inputs,
                   std::initializer_list<const Tensor*> outputs, std::vector<prism_attr> attrs = {}) {
  const prism_kernel_def* k = find_kernel(op);
  if (k == nullptr) return Status{PRISM_ERROR_UNIMPLEMENTED, std::string("no kernel ") + op};
  std::vector<prism_tensor_desc> in, out;
  for (const Tensor* t : inputs) in.push_back(t->desc());
  for (const Tensor* t : outputs) out.push_back(t->desc());
  prism_kernel_call c{};
  c.struct_size = sizeof(c);
  c.op = op;
  c.device = 0;
  c.inputs = in.data();
  c.n_inputs = in.size();
  c.outputs = out.data();
  c.n_outputs = out.size();
  c.attrs = attrs.data();
  c.n_attrs = attrs.size();
  return take(k->run(Plugin::get().ctx(), &c));
}

#define ASSERT_OK(expr)                         \
  do {                                          \
    const ::prism_cpu_test::Status s_ = (expr); \
    ASSERT_TRUE(s_.ok()) << s_.message;         \
  } while (0)

// Deterministic pseudo-random doubles in [lo, hi).
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  double next(double lo, double hi) {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * static_cast<double>(s_ >> 11) * (1.0 / 9007199254740992.0);
  }
  int64_t next_int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next(0, 1) * static_cast<double>(hi - lo));
  }

 private:
  uint64_t s_;
};

inline void fill_random(Tensor& t, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Lcg g(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, g.next(lo, hi));
}

inline void fill_random_int(Tensor& t, uint64_t seed, int64_t lo, int64_t hi) {
  Lcg g(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, static_cast<double>(g.next_int(lo, hi)));
}

constexpr prism_dtype kAllDtypes[] = {PRISM_DTYPE_BOOL, PRISM_DTYPE_U8,  PRISM_DTYPE_I8,  PRISM_DTYPE_I16,
                                      PRISM_DTYPE_I32,  PRISM_DTYPE_I64, PRISM_DTYPE_F16, PRISM_DTYPE_BF16,
                                      PRISM_DTYPE_F32,  PRISM_DTYPE_F64};
constexpr prism_dtype kFloatDtypes[] = {PRISM_DTYPE_F16, PRISM_DTYPE_BF16, PRISM_DTYPE_F32, PRISM_DTYPE_F64};

inline bool is_float(prism_dtype dt) {
  return prism_sdk_dtype_is_float(dt) != 0;
}

// Tolerance for a value computed in dtype dt.
inline double tol(prism_dtype dt, double ref) {
  const double a = std::fabs(ref);
  switch (dt) {
    case PRISM_DTYPE_F16:
      return 2e-3 * a + 1e-3;
    case PRISM_DTYPE_BF16:
      return 1e-2 * a + 1e-2;
    case PRISM_DTYPE_F32:
      return 2e-6 * a + 1e-6;
    case PRISM_DTYPE_F64:
      return 1e-13 * a + 1e-14;
    default:
      return 0;
  }
}

// Rounds v to what dtype dt stores.
inline double round_to(prism_dtype dt, double v) {
  switch (dt) {
    case PRISM_DTYPE_F16:
      return prism_sdk_f16_to_f32(prism_sdk_f32_to_f16(static_cast<float>(v)));
    case PRISM_DTYPE_BF16:
      return prism_sdk_bf16_to_f32(prism_sdk_f32_to_bf16(static_cast<float>(v)));
    case PRISM_DTYPE_F32:
      return static_cast<float>(v);
    default:
      return v;
  }
}

class CpuTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Plugin::get().loaded()) << Plugin::get().load_error; }
};

}  // namespace prism_cpu_test
