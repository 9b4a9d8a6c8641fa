// prism.hpp — header-only C++17 wrapper over the Prism user C ABI (prism.h): RAII tensors, operators,
// exceptions.
#ifndef PRISM_API_PRISM_PRISM_HPP_
#define PRISM_API_PRISM_PRISM_HPP_

// Note [C++ wrapper]
// ------------------
// This header sees only prism.h: everything it does goes through the C ABI,
// so it works against any build of libprism with a matching major version.
// - Every failing C call becomes a prism::Error carrying the status and the
//   message of prism_last_error().
// - prism::Tensor owns one reference to a prism_tensor_t. Copying a Tensor
//   retains (both copies name the same tensor, as in PyTorch); destruction
//   releases. In-place methods (`add_`, `+=`, `fill_`) change that shared tensor.
// - Dimension lists are prism::IntList, built implicitly from `{1, 2}`, a
//   std::vector<int64_t> or a single integer. An empty list in a reduction
//   means "all dims".
// - Scalars (`t + 2`, `2.0 * t`) become 0-d tensors whose dtype follows
//   Note [Scalar operands] below, so results match PyTorch's Python scalars.
// - Autograd (requires_grad_, backward, hooks, NoGradGuard, autograd::grad)
//   follows PyTorch; see Note [Autograd in the wrapper].

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prism/prism.h"

namespace prism {

// ===========================================================================
// Errors
// ===========================================================================

// A failed Prism call: the status code and the runtime's message.
class Error : public std::runtime_error {
 public:
  Error(prism_status status, const std::string& message) : std::runtime_error(message), status_(status) {}

  prism_status status() const noexcept { return status_; }
  // Static name of the status ("INVALID_ARGUMENT").
  const char* status_name() const noexcept { return prism_status_name(status_); }

 private:
  prism_status status_;
};

// Throws prism::Error when `status` is not PRISM_OK.
inline void check(prism_status status) {
  if (status == PRISM_OK) return;
  std::string message = prism_last_error();
  if (message.empty()) message = prism_status_name(status);
  throw Error(status, message);
}

namespace detail {
// Raises an INVALID_ARGUMENT Error that originates in the wrapper itself.
[[noreturn]] inline void fail(const std::string& message) {
  throw Error(PRISM_ERROR_INVALID_ARGUMENT, message);
}
}  // namespace detail

// ===========================================================================
// Versions
// ===========================================================================

inline std::string version() {
  return prism_version();
}

// (major, minor) of the plugin ABI the core implements.
inline std::pair<uint32_t, uint32_t> plugin_abi_version() {
  uint32_t major = 0, minor = 0;
  prism_plugin_abi_version(&major, &minor);
  return {major, minor};
}

// ===========================================================================
// Dtypes
// ===========================================================================

enum class Dtype : int {
  Bool = PRISM_DTYPE_BOOL,
  UInt8 = PRISM_DTYPE_U8,
  Int8 = PRISM_DTYPE_I8,
  Int16 = PRISM_DTYPE_I16,
  Int32 = PRISM_DTYPE_I32,
  Int64 = PRISM_DTYPE_I64,
  Float16 = PRISM_DTYPE_F16,
  BFloat16 = PRISM_DTYPE_BF16,
  Float32 = PRISM_DTYPE_F32,
  Float64 = PRISM_DTYPE_F64,
};

constexpr Dtype kBool = Dtype::Bool;
constexpr Dtype kUInt8 = Dtype::UInt8;
constexpr Dtype kInt8 = Dtype::Int8;
constexpr Dtype kInt16 = Dtype::Int16;
constexpr Dtype kInt32 = Dtype::Int32;
constexpr Dtype kInt64 = Dtype::Int64;
constexpr Dtype kFloat16 = Dtype::Float16;
constexpr Dtype kBFloat16 = Dtype::BFloat16;
constexpr Dtype kFloat32 = Dtype::Float32;
constexpr Dtype kFloat64 = Dtype::Float64;
// PyTorch-style aliases.
constexpr Dtype kByte = kUInt8;
constexpr Dtype kChar = kInt8;
constexpr Dtype kShort = kInt16;
constexpr Dtype kInt = kInt32;
constexpr Dtype kLong = kInt64;
constexpr Dtype kHalf = kFloat16;
constexpr Dtype kFloat = kFloat32;
constexpr Dtype kDouble = kFloat64;

constexpr prism_dtype to_c(Dtype d) noexcept {
  return static_cast<prism_dtype>(d);
}
constexpr Dtype from_c(prism_dtype d) noexcept {
  return static_cast<Dtype>(d);
}

// "float32", "int64", ...
inline const char* dtype_name(Dtype d) {
  return prism_dtype_name(to_c(d));
}
// Bytes per element.
inline size_t element_size(Dtype d) {
  return prism_dtype_size(to_c(d));
}
constexpr bool is_floating_point(Dtype d) noexcept {
  return d == kFloat16 || d == kBFloat16 || d == kFloat32 || d == kFloat64;
}
// Integer dtypes; bool counts only when include_bool is true (as torch.is_integral).
constexpr bool is_integral(Dtype d, bool include_bool = false) noexcept {
  return (d == kBool && include_bool) || d == kUInt8 || d == kInt8 || d == kInt16 || d == kInt32 ||
         d == kInt64;
}
// torch.promote_types.
inline Dtype promote_types(Dtype a, Dtype b) {
  prism_dtype out = PRISM_DTYPE_BOOL;
  check(prism_promote_types(to_c(a), to_c(b), &out));
  return from_c(out);
}

inline std::ostream& operator<<(std::ostream& os, Dtype d) {
  return os << dtype_name(d);
}

// The dtype matching a C++ element type (bool, fixed-width ints, float, double).
template <typename T>
struct dtype_of;
template <>
struct dtype_of<bool> {
  static constexpr Dtype value = kBool;
};
template <>
struct dtype_of<uint8_t> {
  static constexpr Dtype value = kUInt8;
};
template <>
struct dtype_of<int8_t> {
  static constexpr Dtype value = kInt8;
};
template <>
struct dtype_of<int16_t> {
  static constexpr Dtype value = kInt16;
};
template <>
struct dtype_of<int32_t> {
  static constexpr Dtype value = kInt32;
};
template <>
struct dtype_of<int64_t> {
  static constexpr Dtype value = kInt64;
};
template <>
struct dtype_of<float> {
  static constexpr Dtype value = kFloat32;
};
template <>
struct dtype_of<double> {
  static constexpr Dtype value = kFloat64;
};
template <typename T>
constexpr Dtype dtype_of_v = dtype_of<T>::value;

// ===========================================================================
// Devices
// ===========================================================================

// A device name "type:index" ("cpu", "cpu:0", "opencl:1"); "type" alone is index 0.
class Device {
 public:
  Device() : name_("cpu") {}
  Device(const char* name) : name_(name ? name : "cpu") {}  // NOLINT: implicit by design
  Device(std::string name) : name_(std::move(name)) {}      // NOLINT: implicit by design

  const std::string& str() const noexcept { return name_; }
  const char* c_str() const noexcept { return name_.c_str(); }
  // The part before ':' ("cpu").
  std::string type() const { return name_.substr(0, name_.find(':')); }
  // The number after ':' (0 when absent).
  int index() const {
    size_t colon = name_.find(':');
    return colon == std::string::npos ? 0 : std::stoi(name_.substr(colon + 1));
  }
  // "cpu" and "cpu:0" name the same device.
  bool operator==(const Device& o) const { return type() == o.type() && index() == o.index(); }
  bool operator!=(const Device& o) const { return !(*this == o); }

 private:
  std::string name_;
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << d.str();
}

// ===========================================================================
// Plugins, devices, memory, fallback, random seed
// ===========================================================================

struct DeviceInfo {
  std::string device;  // "cpu:0"
  std::string plugin;
  std::string name;
  std::string vendor;
  std::string stable_id;
  uint64_t total_memory = 0;  // bytes, 0 when unknown
  uint32_t dtype_mask = 0;    // PRISM_DTYPE_BIT(...) of supported dtypes
  uint32_t capabilities = 0;  // PRISM_DEVICE_CAP_* (plugin.h)

  bool supports(Dtype d) const { return (dtype_mask & PRISM_DTYPE_BIT(to_c(d))) != 0; }
};

struct LoadReportRow {
  std::string path;
  std::string plugin_name;  // "" when the plugin did not load
  bool loaded = false;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  int32_t device_count = 0;
  std::string reason;  // "" when loaded with devices
};

struct MemoryStats {
  uint64_t allocated = 0;  // bytes held by live tensors
  uint64_t reserved = 0;   // allocated + cached
  uint64_t peak_allocated = 0;
  uint64_t num_device_allocs = 0;
  uint64_t num_cache_hits = 0;
};

enum class FallbackPolicy : int {
  Allow = PRISM_FALLBACK_ALLOW,
  Warn = PRISM_FALLBACK_WARN,
  Error = PRISM_FALLBACK_ERROR,
};

namespace detail {
inline std::string str(const char* s) {
  return s ? std::string(s) : std::string();
}
}  // namespace detail

// Loads one plugin file now; throws (UNAVAILABLE) with the reason when it cannot.
inline void load_plugin(const std::string& path) {
  check(prism_plugin_load(path.c_str()));
}
// Runs plugin discovery (a no-op after the first call).
inline void load_default_plugins() {
  check(prism_plugins_load_default());
}

// Every candidate plugin file seen so far, loaded or not.
inline std::vector<LoadReportRow> load_report() {
  size_t n = 0;
  check(prism_load_report_count(&n));
  std::vector<LoadReportRow> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    prism_load_report_row c{};
    c.struct_size = sizeof(c);
    check(prism_load_report_get(i, &c));
    LoadReportRow r;
    r.path = detail::str(c.path);
    r.plugin_name = detail::str(c.plugin_name);
    r.loaded = c.loaded != 0;
    r.abi_major = c.abi_major;
    r.abi_minor = c.abi_minor;
    r.device_count = c.device_count;
    r.reason = detail::str(c.reason);
    rows.push_back(std::move(r));
  }
  return rows;
}

inline int32_t device_count() {
  int32_t n = 0;
  check(prism_device_count(&n));
  return n;
}

// Every device of every loaded plugin.
inline std::vector<DeviceInfo> devices() {
  int32_t n = device_count();
  std::vector<DeviceInfo> out;
  out.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info c{};
    c.struct_size = sizeof(c);
    check(prism_device_info_get(i, &c));
    DeviceInfo d;
    d.device = detail::str(c.device);
    d.plugin = detail::str(c.plugin);
    d.name = detail::str(c.name);
    d.vendor = detail::str(c.vendor);
    d.stable_id = detail::str(c.stable_id);
    d.total_memory = c.total_memory;
    d.dtype_mask = c.dtype_mask;
    d.capabilities = c.capabilities;
    out.push_back(std::move(d));
  }
  return out;
}

// Blocks until all queued work on `device` is complete.
inline void synchronize(const Device& device = Device()) {
  check(prism_synchronize(device.c_str()));
}

inline MemoryStats memory_stats(const Device& device = Device()) {
  prism_memory_stats c{};
  c.struct_size = sizeof(c);
  check(prism_memory_stats_get(device.c_str(), &c));
  MemoryStats s;
  s.allocated = c.allocated;
  s.reserved = c.reserved;
  s.peak_allocated = c.peak_allocated;
  s.num_device_allocs = c.num_device_allocs;
  s.num_cache_hits = c.num_cache_hits;
  return s;
}
inline void reset_peak_memory_stats(const Device& device = Device()) {
  check(prism_memory_reset_peak(device.c_str()));
}
// Returns cached, unused blocks of `device` to its plugin.
inline void empty_cache(const Device& device = Device()) {
  check(prism_memory_empty_cache(device.c_str()));
}
// Caps the bytes `device` may hold (live tensors + cache); 0 removes the cap.
// An allocation beyond it throws prism::Error with PRISM_ERROR_OUT_OF_MEMORY.
inline void set_memory_limit(uint64_t bytes, const Device& device = Device()) {
  check(prism_memory_set_limit(device.c_str(), bytes));
}
inline uint64_t memory_limit(const Device& device = Device()) {
  uint64_t bytes = 0;
  check(prism_memory_get_limit(device.c_str(), &bytes));
  return bytes;
}

inline void set_fallback_policy(FallbackPolicy p) {
  check(prism_fallback_set_policy(static_cast<prism_fallback_policy>(p)));
}
inline FallbackPolicy fallback_policy() {
  prism_fallback_policy p = PRISM_FALLBACK_WARN;
  check(prism_fallback_get_policy(&p));
  return static_cast<FallbackPolicy>(p);
}
// Fallbacks taken by kernel op `op`; an empty name counts all ops.
inline uint64_t fallback_count(const std::string& op = std::string()) {
  uint64_t n = 0;
  check(prism_fallback_count(op.empty() ? nullptr : op.c_str(), &n));
  return n;
}
inline void reset_fallback_counters() {
  check(prism_fallback_reset());
}

// Seeds the global generator (bit-identical random tensors on every device).
inline void manual_seed(uint64_t seed) {
  check(prism_manual_seed(seed));
}

// ===========================================================================
// IntList and Scalar: argument helpers
// ===========================================================================

// A list of sizes or dims: `{2, 3}`, a std::vector<int64_t>, or one integer.
class IntList {
 public:
  IntList() = default;
  IntList(std::initializer_list<int64_t> v) : v_(v) {}   // NOLINT: implicit by design
  IntList(std::vector<int64_t> v) : v_(std::move(v)) {}  // NOLINT: implicit by design
  template <typename I,
            typename = std::enable_if_t<std::is_integral<I>::value && !std::is_same<I, bool>::value>>
  IntList(I one) : v_{static_cast<int64_t>(one)} {}  // NOLINT: implicit by design

  const int64_t* data() const noexcept { return v_.empty() ? nullptr : v_.data(); }
  int32_t size() const noexcept { return static_cast<int32_t>(v_.size()); }
  bool empty() const noexcept { return v_.empty(); }
  const std::vector<int64_t>& vec() const noexcept { return v_; }

 private:
  std::vector<int64_t> v_;
};

// "(2, 3)" for printing sizes.
inline std::string shape_string(const std::vector<int64_t>& sizes) {
  std::string s = "(";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(sizes[i]);
  }
  if (sizes.size() == 1) s += ",";
  return s + ")";
}

// Note [Scalar operands]
// ----------------------
// A C++ number used as an operand (t + 2, 2.5 * t, t < 0) becomes a 0-d tensor.
// The core's promotion lets a 0-d tensor change the result's category (bool <
// integer < float) but never its width, so the scalar's dtype only has to
// name the right category:
//   - floating scalar, floating tensor -> float64 0-d (value kept exactly;
//     the result keeps the tensor's dtype);
//   - floating scalar, integer/bool tensor -> float32 0-d (the default float
//     dtype, as torch.tensor([1]) + 2.5 is float32);
//   - integer scalar -> int64 0-d (keeps an integer or float tensor's dtype;
//     bool + 2 is int64, as in PyTorch);
//   - bool scalar -> bool 0-d.
class Scalar {
 public:
  enum class Kind { Bool, Integer, Floating };

  template <typename T, typename = std::enable_if_t<std::is_arithmetic<T>::value>>
  Scalar(T v)  // NOLINT: implicit by design
      : kind_(std::is_same<T, bool>::value       ? Kind::Bool
              : std::is_floating_point<T>::value ? Kind::Floating
                                                 : Kind::Integer),
        value_(static_cast<double>(v)) {}

  Kind kind() const noexcept { return kind_; }
  double to_double() const noexcept { return value_; }

  // The 0-d tensor dtype that gives PyTorch's result next to a tensor of `other`.
  Dtype dtype_next_to(Dtype other) const noexcept {
    switch (kind_) {
      case Kind::Bool:
        return kBool;
      case Kind::Integer:
        return kInt64;
      case Kind::Floating:
        return is_floating_point(other) ? kFloat64 : kFloat32;
    }
    return kFloat64;
  }

 private:
  Kind kind_;
  double value_;
};

// torch.div rounding modes.
enum class RoundingMode : int {
  None = PRISM_ROUNDING_NONE,
  Floor = PRISM_ROUNDING_FLOOR,
  Trunc = PRISM_ROUNDING_TRUNC,
};

class TensorIndex;  // the Indexing section below

// ===========================================================================
// Tensor
// ===========================================================================

class Tensor {
 public:
  // An undefined tensor (no handle); most calls on it throw INVALID_ARGUMENT.
  Tensor() noexcept = default;
  ~Tensor() { reset(); }

  Tensor(const Tensor& o) : h_(o.h_) {
    if (h_) check(prism_tensor_retain(h_));
  }
  Tensor(Tensor&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Tensor& operator=(const Tensor& o) {
    if (this != &o) {
      if (o.h_) check(prism_tensor_retain(o.h_));
      reset();
      h_ = o.h_;
    }
    return *this;
  }
  Tensor& operator=(Tensor&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }

  // Takes over one reference the caller owns (e.g. from a C out-parameter).
  static Tensor adopt(prism_tensor_t h) noexcept {
    Tensor t;
    t.h_ = h;
    return t;
  }
  // Wraps a borrowed handle, adding a reference.
  static Tensor borrow(prism_tensor_t h) {
    if (h) check(prism_tensor_retain(h));
    return adopt(h);
  }

  // The C handle (still owned by this Tensor).
  prism_tensor_t get() const noexcept { return h_; }
  // Gives up ownership: the caller must prism_tensor_release() the handle.
  prism_tensor_t release() noexcept {
    prism_tensor_t h = h_;
    h_ = nullptr;
    return h;
  }
  bool defined() const noexcept { return h_ != nullptr; }
  explicit operator bool() const = delete;  // ambiguous for tensors: use defined() or item<bool>()

  // ------------------------------------------------------------------ metadata
  int64_t dim() const { return prism_tensor_ndim(handle()); }
  int64_t ndimension() const { return dim(); }
  int64_t numel() const { return prism_tensor_numel(handle()); }
  Dtype dtype() const { return from_c(prism_tensor_dtype(handle())); }
  Dtype scalar_type() const { return dtype(); }
  Device device() const { return Device(prism_tensor_device(handle())); }
  int64_t storage_offset() const { return prism_tensor_storage_offset(handle()); }
  bool is_contiguous() const { return prism_tensor_is_contiguous(handle()) != 0; }
  bool is_floating_point() const { return prism::is_floating_point(dtype()); }
  size_t element_size() const { return prism::element_size(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }

  // Size of `d` (negative counts from the end).
  int64_t size(int64_t d) const {
    int64_t s = 0;
    check(prism_tensor_size(h_, static_cast<int32_t>(d), &s));
    return s;
  }
  std::vector<int64_t> sizes() const {
    std::vector<int64_t> v(static_cast<size_t>(dim()));
    check(prism_tensor_sizes(h_, v.data(), static_cast<int32_t>(v.size())));
    return v;
  }
  std::vector<int64_t> shape() const { return sizes(); }
  // Strides in elements.
  std::vector<int64_t> strides() const {
    std::vector<int64_t> v(static_cast<size_t>(dim()));
    check(prism_tensor_strides(h_, v.data(), static_cast<int32_t>(v.size())));
    return v;
  }
  int64_t stride(int64_t d) const {
    std::vector<int64_t> s = strides();
    int64_t n = static_cast<int64_t>(s.size());
    int64_t w = d < 0 ? d + n : d;
    if (w < 0 || w >= n) {
      detail::fail("stride(): dim " + std::to_string(d) + " is out of range for a tensor with " +
                   std::to_string(n) + " dims");
    }
    return s[static_cast<size_t>(w)];
  }

  // ----------------------------------------------------------- reading values
  // The value of a one-element tensor as T (arithmetic types).
  template <typename T>
  T item() const {
    static_assert(std::is_arithmetic<T>::value, "item<T>() needs an arithmetic T");
    if constexpr (std::is_floating_point<T>::value) {
      double v = 0;
      check(prism_tensor_item_double(h_, &v));
      return static_cast<T>(v);
    } else {
      int64_t v = 0;
      check(prism_tensor_item_int64(h_, &v));
      return static_cast<T>(v);
    }
  }

  // All elements in row-major order, converted to T's dtype first if needed.
  template <typename T>
  std::vector<T> to_vector() const {
    constexpr Dtype want = dtype_of_v<T>;
    Tensor src = dtype() == want ? *this : to(want);
    const size_t n = static_cast<size_t>(src.numel());
    if constexpr (std::is_same<T, bool>::value) {
      std::vector<uint8_t> raw(n);
      check(prism_tensor_copy_to_host(src.h_, raw.data(), n));
      return std::vector<bool>(raw.begin(), raw.end());
    } else {
      std::vector<T> out(n);
      check(prism_tensor_copy_to_host(src.h_, out.data(), n * sizeof(T)));
      return out;
    }
  }

  // Row-major bytes into caller memory (`bytes` must equal nbytes()).
  void copy_to_host(void* dst, size_t bytes) const { check(prism_tensor_copy_to_host(h_, dst, bytes)); }

  // "tensor([[1, 2], [3, 4]], dtype=int64, device=cpu:0)".
  std::string to_string() const;

  // ------------------------------------------------------------------ creation
  static Tensor empty(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_empty(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  static Tensor zeros(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_zeros(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  static Tensor ones(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_ones(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  static Tensor full(const IntList& sizes, double value, Dtype dtype = kFloat32,
                     const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_full(sizes.data(), sizes.size(), value, to_c(dtype), device.c_str(), o);
    });
  }
  // A 0-d tensor.
  static Tensor scalar(double value, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) { return prism_scalar(value, to_c(dtype), device.c_str(), o); });
  }
  // n x m identity (m < 0: square).
  static Tensor eye(int64_t n, int64_t m = -1, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) { return prism_eye(n, m, to_c(dtype), device.c_str(), o); });
  }
  // start, start+step, ... < end.
  static Tensor arange(double start, double end, double step = 1, Dtype dtype = kFloat32,
                       const Device& device = Device()) {
    return make(
        [&](prism_tensor_t* o) { return prism_arange(start, end, step, to_c(dtype), device.c_str(), o); });
  }
  // 0, 1, ..., end-1.
  static Tensor arange(double end, Dtype dtype = kFloat32, const Device& device = Device()) {
    return arange(0, end, 1, dtype, device);
  }
  // `steps` evenly spaced values from start to end inclusive.
  static Tensor linspace(double start, double end, int64_t steps, Dtype dtype = kFloat32,
                         const Device& device = Device()) {
    return make(
        [&](prism_tensor_t* o) { return prism_linspace(start, end, steps, to_c(dtype), device.c_str(), o); });
  }

  // Copies host values into a new tensor of T's dtype; sizes default to {values.size()}.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const IntList& sizes = IntList(),
                            const Device& device = Device()) {
    constexpr Dtype dt = dtype_of_v<T>;
    IntList shape = sizes.empty() ? IntList(static_cast<int64_t>(values.size())) : sizes;
    int64_t numel = 1;
    for (int64_t s : shape.vec()) numel *= s;
    if (numel != static_cast<int64_t>(values.size())) {  // prism_from_data would read past the vector
      detail::fail("from_vector(): " + std::to_string(values.size()) + " values cannot fill sizes " +
                   shape_string(shape.vec()) + " (" + std::to_string(numel) + " elements)");
    }
    if constexpr (std::is_same<T, bool>::value) {
      std::vector<uint8_t> raw(values.begin(), values.end());
      return from_data(raw.empty() ? nullptr : raw.data(), shape, dt, device);
    } else {
      return from_data(values.empty() ? nullptr : values.data(), shape, dt, device);
    }
  }
  // Copies numel * element_size bytes of row-major host data.
  static Tensor from_data(const void* data, const IntList& sizes, Dtype dtype,
                          const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_from_data(data, sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }

  // Wraps caller-owned host memory without copying. `deleter` (optional) runs
  // once when the last tensor using the memory is released; it never runs
  // when this call throws. Empty `strides` means row-major.
  static Tensor from_blob(void* data, const IntList& sizes, Dtype dtype,
                          std::function<void(void*)> deleter = nullptr, const IntList& strides = IntList()) {
    if (!strides.empty() && strides.size() != sizes.size()) {
      detail::fail("from_blob(): got " + std::to_string(strides.size()) + " strides for " +
                   std::to_string(sizes.size()) + " sizes");
    }
    prism_deleter_fn fn = nullptr;
    std::function<void(void*)>* ctx = nullptr;
    if (deleter) {
      ctx = new std::function<void(void*)>(std::move(deleter));
      fn = &blob_trampoline;
    }
    prism_tensor_t out = nullptr;
    prism_status s = prism_from_blob(data, sizes.data(), strides.empty() ? nullptr : strides.data(),
                                     sizes.size(), to_c(dtype), fn, ctx, &out);
    if (s != PRISM_OK) delete ctx;  // the runtime does not call the deleter on error
    check(s);
    return adopt(out);
  }

  // ------------------------------------------------------------------ random
  // Uniform in [0, 1).
  static Tensor rand(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_rand(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  // Standard normal.
  static Tensor randn(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_randn(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  // Integers uniform in [low, high).
  static Tensor randint(int64_t low, int64_t high, const IntList& sizes, Dtype dtype = kInt64,
                        const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_randint(low, high, sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  // A random permutation of 0 .. n-1.
  static Tensor randperm(int64_t n, Dtype dtype = kInt64, const Device& device = Device()) {
    return make([&](prism_tensor_t* o) { return prism_randperm(n, to_c(dtype), device.c_str(), o); });
  }
  // 1 with probability p everywhere.
  static Tensor bernoulli(const IntList& sizes, double p, Dtype dtype = kFloat32,
                          const Device& device = Device()) {
    return make([&](prism_tensor_t* o) {
      return prism_bernoulli_scalar(sizes.data(), sizes.size(), p, to_c(dtype), device.c_str(), o);
    });
  }
  // 1 with probability (*this)[i]; same shape and dtype.
  Tensor bernoulli() const { return call1(prism_bernoulli); }

  // ------------------------------------------------------------------ DLPack
  // Zero-copy export; the caller calls result->deleter(result) exactly once.
  DLManagedTensor* to_dlpack() const {
    DLManagedTensor* out = nullptr;
    check(prism_to_dlpack(h_, &out));
    return out;
  }
  // Zero-copy import (kDLCPU). On success Prism owns `src`; on error the caller still does.
  static Tensor from_dlpack(DLManagedTensor* src) {
    return make([&](prism_tensor_t* o) { return prism_from_dlpack(src, o); });
  }

  // ------------------------------------------------ copies, devices, dtypes
  Tensor to(const Device& device) const {
    return make([&](prism_tensor_t* o) { return prism_to_device(h_, device.c_str(), o); });
  }
  Tensor to(Dtype dtype) const {
    return make([&](prism_tensor_t* o) { return prism_to_dtype(h_, to_c(dtype), o); });
  }
  Tensor to(const Device& device, Dtype dtype) const { return to(device).to(dtype); }
  // A host copy in memory `device` copies without staging (prism_pin_memory).
  Tensor pin_memory(const Device& device) const {
    return make([&](prism_tensor_t* o) { return prism_pin_memory(h_, device.c_str(), o); });
  }
  bool is_pinned() const { return prism_tensor_is_pinned(h_) != 0; }
  // to(device) that, from memory pinned for `device`, returns before the copy
  // completes (prism_to_device_non_blocking; Streams and events below).
  Tensor to(const Device& device, bool non_blocking) const {
    return make([&](prism_tensor_t* o) {
      return prism_to_device_non_blocking(h_, device.c_str(), non_blocking ? 1 : 0, o);
    });
  }
  // An uninitialised host tensor pinned for `device` (prism_empty_pinned).
  static Tensor empty_pinned(const IntList& sizes, Dtype dtype, const Device& device) {
    return make([&](prism_tensor_t* o) {
      return prism_empty_pinned(sizes.data(), sizes.size(), to_c(dtype), device.c_str(), o);
    });
  }
  Tensor cpu() const { return to(Device("cpu")); }
  // Row-major copy, or *this when already contiguous.
  Tensor contiguous() const { return call1(prism_contiguous); }
  // Always a new row-major copy.
  Tensor clone() const { return call1(prism_clone); }
  // Copies src into *this (broadcast, cast, any devices).
  Tensor& copy_(const Tensor& src) {
    check(prism_copy_(h_, src.h_));
    return *this;
  }
  Tensor& fill_(const Scalar& value) {
    check(prism_fill_(h_, value.to_double()));
    return *this;
  }
  Tensor& zero_() { return fill_(0); }

  // ------------------------------------------------------------------ views
  // Same storage, new sizes; one size may be -1. Throws on non-viewable strides.
  Tensor view(const IntList& sizes) const {
    return make([&](prism_tensor_t* o) { return prism_view(h_, sizes.data(), sizes.size(), o); });
  }
  // A view when possible, else a copy.
  Tensor reshape(const IntList& sizes) const {
    return make([&](prism_tensor_t* o) { return prism_reshape(h_, sizes.data(), sizes.size(), o); });
  }
  Tensor view_as(const Tensor& other) const { return view(other.sizes()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.sizes()); }
  Tensor permute(const IntList& dims) const {
    return make([&](prism_tensor_t* o) { return prism_permute(h_, dims.data(), dims.size(), o); });
  }
  Tensor transpose(int64_t dim0, int64_t dim1) const {
    return make([&](prism_tensor_t* o) { return prism_transpose(h_, dim0, dim1, o); });
  }
  // Transpose of a tensor with at most 2 dims.
  Tensor t() const { return call1(prism_t); }
  // -1 keeps a dim; only size-1 dims grow (stride 0).
  Tensor expand(const IntList& sizes) const {
    return make([&](prism_tensor_t* o) { return prism_expand(h_, sizes.data(), sizes.size(), o); });
  }
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  // Removes every size-1 dim.
  Tensor squeeze() const { return call1(prism_squeeze); }
  // Removes `d` when its size is 1.
  Tensor squeeze(int64_t d) const {
    return make([&](prism_tensor_t* o) { return prism_squeeze_dim(h_, d, o); });
  }
  Tensor unsqueeze(int64_t d) const {
    return make([&](prism_tensor_t* o) { return prism_unsqueeze(h_, d, o); });
  }
  Tensor narrow(int64_t d, int64_t start, int64_t length) const {
    return make([&](prism_tensor_t* o) { return prism_narrow(h_, d, start, length, o); });
  }
  // Removes `d`, taking element `index`.
  Tensor select(int64_t d, int64_t index) const {
    return make([&](prism_tensor_t* o) { return prism_select(h_, d, index, o); });
  }
  // t[i] = select(0, i).
  Tensor operator[](int64_t index) const { return select(0, index); }
  // Python slice start:end:step on `d` (clamped like Python; step > 0).
  Tensor slice(int64_t d, int64_t start = 0, int64_t end = std::numeric_limits<int64_t>::max(),
               int64_t step = 1) const {
    return make([&](prism_tensor_t* o) { return prism_slice(h_, d, start, end, step, o); });
  }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const {
    return make([&](prism_tensor_t* o) { return prism_flatten(h_, start_dim, end_dim, o); });
  }
  // Windows of `size` every `step` along `d`, as a new last dim.
  Tensor unfold(int64_t d, int64_t size, int64_t step) const {
    return make([&](prism_tensor_t* o) { return prism_unfold(h_, d, size, step, o); });
  }
  // Any view of the storage; the offset defaults to this tensor's own.
  Tensor as_strided(const IntList& sizes, const IntList& strides,
                    std::optional<int64_t> storage_offset = std::nullopt) const {
    if (sizes.size() != strides.size()) {
      detail::fail("as_strided(): got " + std::to_string(sizes.size()) + " sizes and " +
                   std::to_string(strides.size()) + " strides");
    }
    int64_t off = storage_offset ? *storage_offset : this->storage_offset();
    return make([&](prism_tensor_t* o) {
      return prism_as_strided(h_, sizes.data(), strides.data(), sizes.size(), off, o);
    });
  }
  Tensor diagonal(int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1) const {
    return make([&](prism_tensor_t* o) { return prism_diagonal(h_, offset, dim1, dim2, o); });
  }

  // ----------------------------------------------------------- unary ops
  // Each op `f` has f() (new tensor) and f_() (in place, returns *this).
#define PRISM_HPP_UNARY_METHOD(name) \
  Tensor name() const {              \
    return call1(prism_##name);      \
  }                                  \
  Tensor& name##_() {                \
    check(prism_##name##_(h_));      \
    return *this;                    \
  }
  PRISM_HPP_UNARY_METHOD(neg)
  PRISM_HPP_UNARY_METHOD(abs)
  PRISM_HPP_UNARY_METHOD(sign)
  PRISM_HPP_UNARY_METHOD(exp)
  PRISM_HPP_UNARY_METHOD(log)
  PRISM_HPP_UNARY_METHOD(log1p)
  PRISM_HPP_UNARY_METHOD(expm1)
  PRISM_HPP_UNARY_METHOD(sqrt)
  PRISM_HPP_UNARY_METHOD(rsqrt)
  PRISM_HPP_UNARY_METHOD(reciprocal)
  PRISM_HPP_UNARY_METHOD(square)
  PRISM_HPP_UNARY_METHOD(sin)
  PRISM_HPP_UNARY_METHOD(cos)
  PRISM_HPP_UNARY_METHOD(tanh)
  PRISM_HPP_UNARY_METHOD(sigmoid)
  PRISM_HPP_UNARY_METHOD(relu)
  PRISM_HPP_UNARY_METHOD(gelu)
  PRISM_HPP_UNARY_METHOD(silu)
  PRISM_HPP_UNARY_METHOD(floor)
  PRISM_HPP_UNARY_METHOD(ceil)
  PRISM_HPP_UNARY_METHOD(round)
  PRISM_HPP_UNARY_METHOD(trunc)
  PRISM_HPP_UNARY_METHOD(tan)
  PRISM_HPP_UNARY_METHOD(asin)
  PRISM_HPP_UNARY_METHOD(acos)
  PRISM_HPP_UNARY_METHOD(atan)
  PRISM_HPP_UNARY_METHOD(sinh)
  PRISM_HPP_UNARY_METHOD(cosh)
  PRISM_HPP_UNARY_METHOD(asinh)
  PRISM_HPP_UNARY_METHOD(acosh)
  PRISM_HPP_UNARY_METHOD(atanh)
  PRISM_HPP_UNARY_METHOD(log2)
  PRISM_HPP_UNARY_METHOD(log10)
  PRISM_HPP_UNARY_METHOD(bitwise_not)
#undef PRISM_HPP_UNARY_METHOD
  Tensor logical_not() const {
    return call1(prism_logical_not);
  }
  Tensor isnan() const {
    return call1(prism_isnan);
  }
  Tensor isinf() const {
    return call1(prism_isinf);
  }
  Tensor isfinite() const {
    return call1(prism_isfinite);
  }
  Tensor signbit() const {
    return call1(prism_signbit);
  }

  // ----------------------------------------------------------- binary ops
  // this + alpha * other.
  Tensor add(const Tensor& other, double alpha = 1) const {
    return make([&](prism_tensor_t* o) { return prism_add(h_, other.h_, alpha, o); });
  }
  Tensor add(const Scalar& other, double alpha = 1) const {
    return add(scalar_operand(other), alpha);
  }
  Tensor& add_(const Tensor& other, double alpha = 1) {
    check(prism_add_(h_, other.h_, alpha));
    return *this;
  }
  Tensor& add_(const Scalar& other, double alpha = 1) {
    return add_(scalar_operand(other), alpha);
  }
  // this - alpha * other.
  Tensor sub(const Tensor& other, double alpha = 1) const {
    return make([&](prism_tensor_t* o) { return prism_sub(h_, other.h_, alpha, o); });
  }
  Tensor sub(const Scalar& other, double alpha = 1) const {
    return sub(scalar_operand(other), alpha);
  }
  Tensor& sub_(const Tensor& other, double alpha = 1) {
    check(prism_sub_(h_, other.h_, alpha));
    return *this;
  }
  Tensor& sub_(const Scalar& other, double alpha = 1) {
    return sub_(scalar_operand(other), alpha);
  }

#define PRISM_HPP_BINARY_METHOD(name)                  \
  Tensor name(const Tensor& other) const {             \
    return call2(prism_##name, other);                 \
  }                                                    \
  Tensor name(const Scalar& other) const {             \
    return call2(prism_##name, scalar_operand(other)); \
  }                                                    \
  Tensor& name##_(const Tensor& other) {               \
    check(prism_##name##_(h_, other.h_));              \
    return *this;                                      \
  }                                                    \
  Tensor& name##_(const Scalar& other) {               \
    return name##_(scalar_operand(other));             \
  }
  PRISM_HPP_BINARY_METHOD(mul)
  PRISM_HPP_BINARY_METHOD(div)
  PRISM_HPP_BINARY_METHOD(remainder)
  PRISM_HPP_BINARY_METHOD(pow)
  PRISM_HPP_BINARY_METHOD(maximum)
  PRISM_HPP_BINARY_METHOD(minimum)
  PRISM_HPP_BINARY_METHOD(atan2)
  PRISM_HPP_BINARY_METHOD(hypot)
  PRISM_HPP_BINARY_METHOD(copysign)
  PRISM_HPP_BINARY_METHOD(logaddexp)
  PRISM_HPP_BINARY_METHOD(nextafter)
  PRISM_HPP_BINARY_METHOD(bitwise_and)
  PRISM_HPP_BINARY_METHOD(bitwise_or)
  PRISM_HPP_BINARY_METHOD(bitwise_xor)
  PRISM_HPP_BINARY_METHOD(bitwise_left_shift)
  PRISM_HPP_BINARY_METHOD(bitwise_right_shift)
#undef PRISM_HPP_BINARY_METHOD

  // torch.div(a, b, rounding_mode=...).
  Tensor div(const Tensor& other, RoundingMode mode) const {
    return make([&](prism_tensor_t* o) {
      return prism_div_mode(h_, other.h_, static_cast<prism_rounding_mode>(mode), o);
    });
  }
  Tensor div(const Scalar& other, RoundingMode mode) const {
    return div(scalar_operand(other), mode);
  }

#define PRISM_HPP_PREDICATE_METHOD(name)               \
  Tensor name(const Tensor& other) const {             \
    return call2(prism_##name, other);                 \
  }                                                    \
  Tensor name(const Scalar& other) const {             \
    return call2(prism_##name, scalar_operand(other)); \
  }
  PRISM_HPP_PREDICATE_METHOD(eq)
  PRISM_HPP_PREDICATE_METHOD(ne)
  PRISM_HPP_PREDICATE_METHOD(lt)
  PRISM_HPP_PREDICATE_METHOD(le)
  PRISM_HPP_PREDICATE_METHOD(gt)
  PRISM_HPP_PREDICATE_METHOD(ge)
  PRISM_HPP_PREDICATE_METHOD(logical_and)
  PRISM_HPP_PREDICATE_METHOD(logical_or)
  PRISM_HPP_PREDICATE_METHOD(logical_xor)
#undef PRISM_HPP_PREDICATE_METHOD

  // Clamp into [min, max]; either bound may be absent, not both.
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const {
    return make(
        [&](prism_tensor_t* o) { return prism_clamp(h_, min ? &*min : nullptr, max ? &*max : nullptr, o); });
  }
  Tensor& clamp_(std::optional<double> min, std::optional<double> max = std::nullopt) {
    check(prism_clamp_(h_, min ? &*min : nullptr, max ? &*max : nullptr));
    return *this;
  }
  Tensor clamp_min(double min) const {
    return clamp(min, std::nullopt);
  }
  Tensor clamp_max(double max) const {
    return clamp(std::nullopt, max);
  }
  // Op forms: clamp with tensor bounds (an undefined Tensor() is an absent
  // bound), torch.mm, and reductions with dtype= (input cast first).
  Tensor clamp(const Tensor& min, const Tensor& max) const {
    return make([&](prism_tensor_t* o) { return prism_clamp_tensor(h_, min.get(), max.get(), o); });
  }
  Tensor mm(const Tensor& other) const {
    return make([&](prism_tensor_t* o) { return prism_mm(h_, other.get(), o); });
  }
  Tensor sum(const IntList& dims, bool keepdim, Dtype dtype) const {
    return make([&](prism_tensor_t* o) {
      return prism_sum_dtype(h_, dims.data(), dims.size(), keepdim, to_c(dtype), o);
    });
  }
  Tensor prod(const IntList& dims, bool keepdim, Dtype dtype) const {
    return make([&](prism_tensor_t* o) {
      return prism_prod_dtype(h_, dims.data(), dims.size(), keepdim, to_c(dtype), o);
    });
  }
  Tensor mean(const IntList& dims, bool keepdim, Dtype dtype) const {
    return make([&](prism_tensor_t* o) {
      return prism_mean_dtype(h_, dims.data(), dims.size(), keepdim, to_c(dtype), o);
    });
  }

  // ----------------------------------------------------------- reductions
  // dims: {} = all dims.
#define PRISM_HPP_REDUCTION_METHOD(name)                                                                    \
  Tensor name(const IntList& dims = IntList(), bool keepdim = false) const {                                \
    return make([&](prism_tensor_t* o) { return prism_##name(h_, dims.data(), dims.size(), keepdim, o); }); \
  }
  PRISM_HPP_REDUCTION_METHOD(sum)
  PRISM_HPP_REDUCTION_METHOD(prod)
  PRISM_HPP_REDUCTION_METHOD(mean)
  PRISM_HPP_REDUCTION_METHOD(amax)
  PRISM_HPP_REDUCTION_METHOD(amin)
  PRISM_HPP_REDUCTION_METHOD(all)
  PRISM_HPP_REDUCTION_METHOD(any)
  PRISM_HPP_REDUCTION_METHOD(logsumexp)
#undef PRISM_HPP_REDUCTION_METHOD

  // Variance with Bessel correction (1 = unbiased, 0 = population).
  Tensor var(const IntList& dims = IntList(), int64_t correction = 1, bool keepdim = false) const {
    return make(
        [&](prism_tensor_t* o) { return prism_var(h_, dims.data(), dims.size(), correction, keepdim, o); });
  }
  Tensor std(const IntList& dims = IntList(), int64_t correction = 1, bool keepdim = false) const {
    return make(
        [&](prism_tensor_t* o) { return prism_std(h_, dims.data(), dims.size(), correction, keepdim, o); });
  }
  // p-norm; p may be +-infinity or 0.
  Tensor norm(double p = 2, const IntList& dims = IntList(), bool keepdim = false) const {
    return make([&](prism_tensor_t* o) { return prism_norm(h_, p, dims.data(), dims.size(), keepdim, o); });
  }
  // Largest element (0-d).
  Tensor max() const {
    return call1(prism_max);
  }
  Tensor min() const {
    return call1(prism_min);
  }
  // (values, indices) along `d`.
  std::pair<Tensor, Tensor> max(int64_t d, bool keepdim = false) const {
    return value_index(prism_max_dim, d, keepdim);
  }
  std::pair<Tensor, Tensor> min(int64_t d, bool keepdim = false) const {
    return value_index(prism_min_dim, d, keepdim);
  }
  // Index of the largest element (first on ties); no dim = over the flattened tensor.
  Tensor argmax(std::optional<int64_t> d = std::nullopt, bool keepdim = false) const {
    return make([&](prism_tensor_t* o) { return prism_argmax(h_, d ? *d : PRISM_DIM_NONE, keepdim, o); });
  }
  Tensor argmin(std::optional<int64_t> d = std::nullopt, bool keepdim = false) const {
    return make([&](prism_tensor_t* o) { return prism_argmin(h_, d ? *d : PRISM_DIM_NONE, keepdim, o); });
  }

  // ----------------------------------------------------------- linear algebra
  Tensor matmul(const Tensor& other) const {
    return call2(prism_matmul, other);
  }
  Tensor bmm(const Tensor& other) const {
    return call2(prism_bmm, other);
  }

  // ----------------------------------------------------------- splitting
  // Views of `split_size` along `d` (the last may be smaller).
  std::vector<Tensor> split(int64_t split_size, int64_t d = 0) const {
    return pieces([&](prism_tensor_t* outs, size_t cap, size_t* n) {
      return prism_split(h_, split_size, d, outs, cap, n);
    });
  }
  // Views of the given sizes (must sum to the dim's size).
  std::vector<Tensor> split(const IntList& sizes, int64_t d = 0) const {
    return pieces([&](prism_tensor_t* outs, size_t cap, size_t* n) {
      return prism_split_sizes(h_, sizes.data(), static_cast<size_t>(sizes.size()), d, outs, cap, n);
    });
  }
  std::vector<Tensor> split_with_sizes(const IntList& sizes, int64_t d = 0) const {
    return split(sizes, d);
  }
  // torch.chunk: ceil(size / chunks) per piece; may give fewer pieces.
  std::vector<Tensor> chunk(int64_t chunks, int64_t d = 0) const {
    return pieces([&](prism_tensor_t* outs, size_t cap, size_t* n) {
      return prism_chunk(h_, chunks, d, outs, cap, n);
    });
  }

  // ----------------------------------------------------------- whole-tensor comparison
  // Same sizes and equal values.
  bool equal(const Tensor& other) const {
    int32_t r = 0;
    check(prism_equal(h_, other.h_, &r));
    return r != 0;
  }
  // |this - other| <= atol + rtol * |other| everywhere.
  bool allclose(const Tensor& other, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false) const {
    int32_t r = 0;
    check(prism_allclose(h_, other.h_, rtol, atol, equal_nan, &r));
    return r != 0;
  }

  // ----------------------------------------------------------- indexing
  // Defined in the "Indexing" section below (Note [Indexing in the wrapper]).
  // t.index({1, Slice(0, 4, 2), indexing::Ellipsis, indexing::None}); t[{...}], t[Slice(1)], t[mask], t[idx].
  Tensor index(const std::vector<TensorIndex>& indices) const;
  Tensor operator[](const TensorIndex& i) const;
  Tensor operator[](std::initializer_list<TensorIndex> indices) const;
  // t[indices] = values (accumulate: +=); values broadcast and are cast to this dtype.
  Tensor& index_put_(const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate = false);
  Tensor& index_put_(const std::vector<TensorIndex>& indices, double value);
  Tensor index_select(int64_t d, const Tensor& index) const;
  Tensor index_add(int64_t d, const Tensor& index, const Tensor& src, double alpha = 1) const;
  Tensor& index_add_(int64_t d, const Tensor& index, const Tensor& src, double alpha = 1);
  Tensor index_fill(int64_t d, const Tensor& index, double value) const;
  Tensor& index_fill_(int64_t d, const Tensor& index, double value);
  Tensor gather(int64_t d, const Tensor& index) const;
  Tensor scatter(int64_t d, const Tensor& index, const Tensor& src) const;
  Tensor scatter(int64_t d, const Tensor& index, double value) const;
  Tensor& scatter_(int64_t d, const Tensor& index, const Tensor& src);
  Tensor& scatter_(int64_t d, const Tensor& index, double value);
  Tensor scatter_add(int64_t d, const Tensor& index, const Tensor& src) const;
  // reduce: "sum", "prod", "amax" or "amin" (torch.scatter_reduce).
  Tensor scatter_reduce(int64_t d, const Tensor& index, const Tensor& src, const std::string& reduce,
                        bool include_self = true) const;
  Tensor& scatter_add_(int64_t d, const Tensor& index, const Tensor& src);
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;  // value: 0-d
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& masked_fill_(const Tensor& mask, const Tensor& value);
  Tensor masked_select(const Tensor& mask) const;
  Tensor take(const Tensor& index) const;
  Tensor nonzero() const;
  Tensor tril(int64_t diagonal = 0) const;
  Tensor triu(int64_t diagonal = 0) const;
  // bool/int inputs give int64; `dtype` casts the input first (torch's dtype=).
  Tensor cumsum(int64_t d, std::optional<Dtype> dtype = std::nullopt) const;
  Tensor cumprod(int64_t d, std::optional<Dtype> dtype = std::nullopt) const;
  // (values, int64 indices); always stable / sorted.
  std::pair<Tensor, Tensor> sort(int64_t d = -1, bool descending = false, bool stable = false) const;
  std::pair<Tensor, Tensor> topk(int64_t k, int64_t d = -1, bool largest = true, bool sorted = true) const;

  // ----------------------------------------------------------- autograd
  // Note [Autograd in the wrapper] (below the class) describes hooks and errors.
  //
  // Turns gradient recording for this leaf on or off (floating point dtypes
  // only; turning it off on a non-leaf throws, use detach()).
  Tensor& requires_grad_(bool on = true) {
    check(prism_tensor_set_requires_grad(h_, on ? 1 : 0));
    return *this;
  }
  // A leaf with requires_grad, or a result with a grad_fn.
  bool requires_grad() const {
    return prism_tensor_requires_grad(handle()) != 0;
  }
  // No grad_fn: created by the user, or not requiring grad.
  bool is_leaf() const {
    return prism_tensor_is_leaf(handle()) != 0;
  }
  // The accumulated gradient; undefined (defined() == false) when there is none.
  Tensor grad() const {
    return make([&](prism_tensor_t* o) { return prism_tensor_grad(h_, o); });
  }
  // Replaces the gradient (same shape, dtype and device); an undefined `g` clears it.
  Tensor& set_grad(const Tensor& g) {
    check(prism_tensor_set_grad(h_, g.h_));
    return *this;
  }
  // Drops the gradient (set_to_none, the default as in PyTorch 2) or zeroes it in place.
  void zero_grad(bool set_to_none = true) {
    check(prism_tensor_zero_grad(h_, set_to_none ? 1 : 0));
  }
  // Keeps .grad on a non-leaf after backward (a no-op on leaves).
  void retain_grad() {
    check(prism_tensor_retain_grad(h_));
  }
  // "MulBackward", ...; "" for a leaf.
  std::string grad_fn_name() const {
    return detail::str(prism_tensor_grad_fn_name(handle()));
  }
  // Names of the grad_fn's next functions, one per input: "AccumulateGrad"
  // for a leaf, "" for an input that needs no gradient. Empty for a leaf.
  std::vector<std::string> grad_fn_next() const;
  // Backpropagates from this tensor, accumulating into the .grad of every
  // leaf that requires grad. `grad` may be left undefined for one-element
  // tensors (ones). Without retain_graph the graph's saved tensors are freed.
  void backward(const Tensor& grad, bool retain_graph = false) const;
  void backward() const {
    backward(Tensor());
  }
  // A tensor sharing this one's storage that never requires grad.
  Tensor detach() const {
    return call1(prism_detach);
  }
  // Cuts this tensor out of the graph: it becomes a leaf that does not require grad.
  Tensor& detach_() {
    check(prism_detach_(h_));
    return *this;
  }
  // Registers `hook`, called with the gradient of this tensor during
  // backward; a defined result replaces the gradient. The callable is kept
  // until remove_hook() (Note [Autograd in the wrapper]). Callables
  // returning void are accepted too (they only observe the gradient).
  template <typename F>
  int32_t register_hook(F&& hook);
  // Unregisters a hook registered on this tensor and frees its callable.
  void remove_hook(int32_t handle);

 private:
  void reset() noexcept {
    if (h_) prism_tensor_release(h_);
    h_ = nullptr;
  }
  // The handle for plain queries, which cannot report a status.
  prism_tensor_t handle() const {
    if (!h_) detail::fail("prism::Tensor: the tensor is undefined (default-constructed or moved-from)");
    return h_;
  }
  // Runs a C call writing one tensor and adopts the result.
  template <typename F>
  static Tensor make(F&& f) {
    prism_tensor_t out = nullptr;
    check(f(&out));
    return adopt(out);
  }
  Tensor call1(prism_status (*fn)(prism_tensor_t, prism_tensor_t*)) const {
    prism_tensor_t out = nullptr;
    check(fn(h_, &out));
    return adopt(out);
  }
  Tensor call2(prism_status (*fn)(prism_tensor_t, prism_tensor_t, prism_tensor_t*),
               const Tensor& other) const {
    prism_tensor_t out = nullptr;
    check(fn(h_, other.h_, &out));
    return adopt(out);
  }
  std::pair<Tensor, Tensor> value_index(prism_status (*fn)(prism_tensor_t, int64_t, int32_t, prism_tensor_t*,
                                                           prism_tensor_t*),
                                        int64_t d, bool keepdim) const {
    prism_tensor_t v = nullptr, i = nullptr;
    check(fn(h_, d, keepdim, &v, &i));
    return {adopt(v), adopt(i)};
  }
  // Calls a splitting function, growing the handle array when it is too small.
  template <typename F>
  static std::vector<Tensor> pieces(F&& f) {
    std::vector<prism_tensor_t> handles(16, nullptr);
    size_t n = SIZE_MAX;
    prism_status s = f(handles.data(), handles.size(), &n);
    if (s != PRISM_OK && n != SIZE_MAX && n > handles.size()) {
      prism_clear_error();
      handles.assign(n, nullptr);
      n = SIZE_MAX;
      s = f(handles.data(), handles.size(), &n);
    }
    check(s);
    std::vector<Tensor> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(adopt(handles[i]));
    return out;
  }
  static void blob_trampoline(void* data, void* ctx) {
    auto* fn = static_cast<std::function<void(void*)>*>(ctx);
    (*fn)(data);
    delete fn;
  }
  // A 0-d tensor for `s` per Note [Scalar operands], on this tensor's device.
  Tensor scalar_operand(const Scalar& s) const {
    return scalar(s.to_double(), s.dtype_next_to(dtype()), device());
  }

  friend Tensor scalar_tensor_for(const Scalar& s, const Tensor& like);

  prism_tensor_t h_ = nullptr;
};

// The 0-d tensor that stands for `s` next to `like` (Note [Scalar operands]).
inline Tensor scalar_tensor_for(const Scalar& s, const Tensor& like) {
  return like.scalar_operand(s);
}

// ===========================================================================
// Free functions: creation
// ===========================================================================

inline Tensor empty(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::empty(sizes, dtype, device);
}
inline Tensor zeros(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::zeros(sizes, dtype, device);
}
inline Tensor ones(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::ones(sizes, dtype, device);
}
inline Tensor full(const IntList& sizes, double value, Dtype dtype = kFloat32,
                   const Device& device = Device()) {
  return Tensor::full(sizes, value, dtype, device);
}
inline Tensor eye(int64_t n, int64_t m = -1, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::eye(n, m, dtype, device);
}
inline Tensor arange(double start, double end, double step = 1, Dtype dtype = kFloat32,
                     const Device& device = Device()) {
  return Tensor::arange(start, end, step, dtype, device);
}
inline Tensor linspace(double start, double end, int64_t steps, Dtype dtype = kFloat32,
                       const Device& device = Device()) {
  return Tensor::linspace(start, end, steps, dtype, device);
}
template <typename T>
Tensor from_vector(const std::vector<T>& values, const IntList& sizes = IntList(),
                   const Device& device = Device()) {
  return Tensor::from_vector(values, sizes, device);
}
inline Tensor rand(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::rand(sizes, dtype, device);
}
inline Tensor randn(const IntList& sizes, Dtype dtype = kFloat32, const Device& device = Device()) {
  return Tensor::randn(sizes, dtype, device);
}
inline Tensor randint(int64_t low, int64_t high, const IntList& sizes, Dtype dtype = kInt64,
                      const Device& device = Device()) {
  return Tensor::randint(low, high, sizes, dtype, device);
}
inline Tensor randperm(int64_t n, Dtype dtype = kInt64, const Device& device = Device()) {
  return Tensor::randperm(n, dtype, device);
}
inline Tensor bernoulli(const Tensor& p) {
  return p.bernoulli();
}

namespace detail {
inline Tensor like(prism_status (*fn)(prism_tensor_t, prism_tensor_t*), const Tensor& t) {
  prism_tensor_t out = nullptr;
  check(fn(t.get(), &out));
  return Tensor::adopt(out);
}
}  // namespace detail

// Same sizes, dtype and device as `t`.
inline Tensor empty_like(const Tensor& t) {
  return detail::like(prism_empty_like, t);
}
inline Tensor zeros_like(const Tensor& t) {
  return detail::like(prism_zeros_like, t);
}
inline Tensor ones_like(const Tensor& t) {
  return detail::like(prism_ones_like, t);
}
inline Tensor full_like(const Tensor& t, double value) {
  prism_tensor_t out = nullptr;
  check(prism_full_like(t.get(), value, &out));
  return Tensor::adopt(out);
}

inline DLManagedTensor* to_dlpack(const Tensor& t) {
  return t.to_dlpack();
}
inline Tensor from_dlpack(DLManagedTensor* src) {
  return Tensor::from_dlpack(src);
}

// ===========================================================================
// Free functions: elementwise
// ===========================================================================

#define PRISM_HPP_UNARY_FREE(name)      \
  inline Tensor name(const Tensor& x) { \
    return x.name();                    \
  }
PRISM_HPP_UNARY_FREE(neg)
PRISM_HPP_UNARY_FREE(abs)
PRISM_HPP_UNARY_FREE(sign)
PRISM_HPP_UNARY_FREE(exp)
PRISM_HPP_UNARY_FREE(log)
PRISM_HPP_UNARY_FREE(log1p)
PRISM_HPP_UNARY_FREE(expm1)
PRISM_HPP_UNARY_FREE(sqrt)
PRISM_HPP_UNARY_FREE(rsqrt)
PRISM_HPP_UNARY_FREE(reciprocal)
PRISM_HPP_UNARY_FREE(square)
PRISM_HPP_UNARY_FREE(sin)
PRISM_HPP_UNARY_FREE(cos)
PRISM_HPP_UNARY_FREE(tanh)
PRISM_HPP_UNARY_FREE(sigmoid)
PRISM_HPP_UNARY_FREE(relu)
PRISM_HPP_UNARY_FREE(gelu)
PRISM_HPP_UNARY_FREE(silu)
PRISM_HPP_UNARY_FREE(floor)
PRISM_HPP_UNARY_FREE(ceil)
PRISM_HPP_UNARY_FREE(round)
PRISM_HPP_UNARY_FREE(logical_not)
PRISM_HPP_UNARY_FREE(trunc)
PRISM_HPP_UNARY_FREE(tan)
PRISM_HPP_UNARY_FREE(asin)
PRISM_HPP_UNARY_FREE(acos)
PRISM_HPP_UNARY_FREE(atan)
PRISM_HPP_UNARY_FREE(sinh)
PRISM_HPP_UNARY_FREE(cosh)
PRISM_HPP_UNARY_FREE(asinh)
PRISM_HPP_UNARY_FREE(acosh)
PRISM_HPP_UNARY_FREE(atanh)
PRISM_HPP_UNARY_FREE(log2)
PRISM_HPP_UNARY_FREE(log10)
PRISM_HPP_UNARY_FREE(bitwise_not)
PRISM_HPP_UNARY_FREE(isnan)
PRISM_HPP_UNARY_FREE(isinf)
PRISM_HPP_UNARY_FREE(isfinite)
PRISM_HPP_UNARY_FREE(signbit)
#undef PRISM_HPP_UNARY_FREE

inline Tensor add(const Tensor& a, const Tensor& b, double alpha = 1) {
  return a.add(b, alpha);
}
inline Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1) {
  return a.sub(b, alpha);
}

// Binary and predicate ops as free functions, with a scalar on either side.
#define PRISM_HPP_BINARY_FREE(name)                      \
  inline Tensor name(const Tensor& a, const Tensor& b) { \
    return a.name(b);                                    \
  }                                                      \
  inline Tensor name(const Tensor& a, const Scalar& b) { \
    return a.name(b);                                    \
  }                                                      \
  inline Tensor name(const Scalar& a, const Tensor& b) { \
    return scalar_tensor_for(a, b).name(b);              \
  }
PRISM_HPP_BINARY_FREE(mul)
PRISM_HPP_BINARY_FREE(div)
PRISM_HPP_BINARY_FREE(remainder)
PRISM_HPP_BINARY_FREE(pow)
PRISM_HPP_BINARY_FREE(maximum)
PRISM_HPP_BINARY_FREE(minimum)
PRISM_HPP_BINARY_FREE(atan2)
PRISM_HPP_BINARY_FREE(hypot)
PRISM_HPP_BINARY_FREE(copysign)
PRISM_HPP_BINARY_FREE(logaddexp)
PRISM_HPP_BINARY_FREE(nextafter)
PRISM_HPP_BINARY_FREE(bitwise_and)
PRISM_HPP_BINARY_FREE(bitwise_or)
PRISM_HPP_BINARY_FREE(bitwise_xor)
PRISM_HPP_BINARY_FREE(bitwise_left_shift)
PRISM_HPP_BINARY_FREE(bitwise_right_shift)
PRISM_HPP_BINARY_FREE(eq)
PRISM_HPP_BINARY_FREE(ne)
PRISM_HPP_BINARY_FREE(lt)
PRISM_HPP_BINARY_FREE(le)
PRISM_HPP_BINARY_FREE(gt)
PRISM_HPP_BINARY_FREE(ge)
PRISM_HPP_BINARY_FREE(logical_and)
PRISM_HPP_BINARY_FREE(logical_or)
PRISM_HPP_BINARY_FREE(logical_xor)
#undef PRISM_HPP_BINARY_FREE

inline Tensor div(const Tensor& a, const Tensor& b, RoundingMode mode) {
  return a.div(b, mode);
}

// cond ? a : b with three-way broadcasting; cond must be bool.
inline Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  prism_tensor_t out = nullptr;
  check(prism_where(cond.get(), a.get(), b.get(), &out));
  return Tensor::adopt(out);
}
inline Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) {
  return where(cond, a, scalar_tensor_for(b, a));
}
inline Tensor where(const Tensor& cond, const Scalar& a, const Tensor& b) {
  return where(cond, scalar_tensor_for(a, b), b);
}
inline Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max = std::nullopt) {
  return x.clamp(min, max);
}

// ===========================================================================
// Operators. Comparisons return bool tensors: use equal() for one bool.
// ===========================================================================

inline Tensor operator-(const Tensor& x) {
  return x.neg();
}
inline Tensor operator!(const Tensor& x) {
  return x.logical_not();
}

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return a.add(b);
}
inline Tensor operator+(const Tensor& a, const Scalar& b) {
  return a.add(b);
}
inline Tensor operator+(const Scalar& a, const Tensor& b) {
  return scalar_tensor_for(a, b).add(b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return a.sub(b);
}
inline Tensor operator-(const Tensor& a, const Scalar& b) {
  return a.sub(b);
}
inline Tensor operator-(const Scalar& a, const Tensor& b) {
  return scalar_tensor_for(a, b).sub(b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return a.mul(b);
}
inline Tensor operator*(const Tensor& a, const Scalar& b) {
  return a.mul(b);
}
inline Tensor operator*(const Scalar& a, const Tensor& b) {
  return scalar_tensor_for(a, b).mul(b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return a.div(b);
}
inline Tensor operator/(const Tensor& a, const Scalar& b) {
  return a.div(b);
}
inline Tensor operator/(const Scalar& a, const Tensor& b) {
  return scalar_tensor_for(a, b).div(b);
}
inline Tensor operator%(const Tensor& a, const Tensor& b) {
  return a.remainder(b);
}
inline Tensor operator%(const Tensor& a, const Scalar& b) {
  return a.remainder(b);
}
inline Tensor operator%(const Scalar& a, const Tensor& b) {
  return scalar_tensor_for(a, b).remainder(b);
}

// In place: the left tensor's dtype must hold the result.
inline Tensor& operator+=(Tensor& a, const Tensor& b) {
  return a.add_(b);
}
inline Tensor& operator+=(Tensor& a, const Scalar& b) {
  return a.add_(b);
}
inline Tensor& operator-=(Tensor& a, const Tensor& b) {
  return a.sub_(b);
}
inline Tensor& operator-=(Tensor& a, const Scalar& b) {
  return a.sub_(b);
}
inline Tensor& operator*=(Tensor& a, const Tensor& b) {
  return a.mul_(b);
}
inline Tensor& operator*=(Tensor& a, const Scalar& b) {
  return a.mul_(b);
}
inline Tensor& operator/=(Tensor& a, const Tensor& b) {
  return a.div_(b);
}
inline Tensor& operator/=(Tensor& a, const Scalar& b) {
  return a.div_(b);
}
inline Tensor& operator%=(Tensor& a, const Tensor& b) {
  return a.remainder_(b);
}
inline Tensor& operator%=(Tensor& a, const Scalar& b) {
  return a.remainder_(b);
}

#define PRISM_HPP_COMPARE_OP(op, name)                          \
  inline Tensor operator op(const Tensor& a, const Tensor& b) { \
    return a.name(b);                                           \
  }                                                             \
  inline Tensor operator op(const Tensor& a, const Scalar& b) { \
    return a.name(b);                                           \
  }                                                             \
  inline Tensor operator op(const Scalar& a, const Tensor& b) { \
    return scalar_tensor_for(a, b).name(b);                     \
  }
PRISM_HPP_COMPARE_OP(==, eq)
PRISM_HPP_COMPARE_OP(!=, ne)
PRISM_HPP_COMPARE_OP(<, lt)
PRISM_HPP_COMPARE_OP(<=, le)
PRISM_HPP_COMPARE_OP(>, gt)
PRISM_HPP_COMPARE_OP(>=, ge)
#undef PRISM_HPP_COMPARE_OP

// ===========================================================================
// Free functions: reductions, linear algebra, joining and splitting
// ===========================================================================

inline Tensor sum(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.sum(dims, keepdim);
}
inline Tensor prod(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.prod(dims, keepdim);
}
inline Tensor mean(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.mean(dims, keepdim);
}
inline Tensor amax(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.amax(dims, keepdim);
}
inline Tensor amin(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.amin(dims, keepdim);
}
inline Tensor all(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.all(dims, keepdim);
}
inline Tensor any(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.any(dims, keepdim);
}
inline Tensor logsumexp(const Tensor& x, const IntList& dims = IntList(), bool keepdim = false) {
  return x.logsumexp(dims, keepdim);
}
inline Tensor var(const Tensor& x, const IntList& dims = IntList(), int64_t correction = 1,
                  bool keepdim = false) {
  return x.var(dims, correction, keepdim);
}
inline Tensor std(const Tensor& x, const IntList& dims = IntList(), int64_t correction = 1,
                  bool keepdim = false) {
  return x.std(dims, correction, keepdim);
}
inline Tensor norm(const Tensor& x, double p = 2, const IntList& dims = IntList(), bool keepdim = false) {
  return x.norm(p, dims, keepdim);
}
inline Tensor max(const Tensor& x) {
  return x.max();
}
inline Tensor min(const Tensor& x) {
  return x.min();
}
inline std::pair<Tensor, Tensor> max(const Tensor& x, int64_t d, bool keepdim = false) {
  return x.max(d, keepdim);
}
inline std::pair<Tensor, Tensor> min(const Tensor& x, int64_t d, bool keepdim = false) {
  return x.min(d, keepdim);
}
inline Tensor argmax(const Tensor& x, std::optional<int64_t> d = std::nullopt, bool keepdim = false) {
  return x.argmax(d, keepdim);
}
inline Tensor argmin(const Tensor& x, std::optional<int64_t> d = std::nullopt, bool keepdim = false) {
  return x.argmin(d, keepdim);
}

inline Tensor matmul(const Tensor& a, const Tensor& b) {
  return a.matmul(b);
}
inline Tensor bmm(const Tensor& a, const Tensor& b) {
  return a.bmm(b);
}

namespace detail {
inline std::vector<prism_tensor_t> handles(const std::vector<Tensor>& ts) {
  std::vector<prism_tensor_t> hs;
  hs.reserve(ts.size());
  for (const Tensor& x : ts) hs.push_back(x.get());
  return hs;
}
}  // namespace detail

// Concatenates along `d`; dtypes promote.
inline Tensor cat(const std::vector<Tensor>& tensors, int64_t d = 0) {
  std::vector<prism_tensor_t> hs = detail::handles(tensors);
  prism_tensor_t out = nullptr;
  check(prism_cat(hs.data(), hs.size(), d, &out));
  return Tensor::adopt(out);
}
// Stacks same-shaped tensors along a new dim `d`.
inline Tensor stack(const std::vector<Tensor>& tensors, int64_t d = 0) {
  std::vector<prism_tensor_t> hs = detail::handles(tensors);
  prism_tensor_t out = nullptr;
  check(prism_stack(hs.data(), hs.size(), d, &out));
  return Tensor::adopt(out);
}
inline std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t d = 0) {
  return x.split(split_size, d);
}
inline std::vector<Tensor> split(const Tensor& x, const IntList& sizes, int64_t d = 0) {
  return x.split(sizes, d);
}
inline std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t d = 0) {
  return x.chunk(chunks, d);
}

inline bool equal(const Tensor& a, const Tensor& b) {
  return a.equal(b);
}
inline bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
                     bool equal_nan = false) {
  return a.allclose(b, rtol, atol, equal_nan);
}

// ===========================================================================
// Autograd
// ===========================================================================

// Note [Autograd in the wrapper]
// ------------------------------
// Gradients are computed by the core (prism.h "Autograd"); the wrapper only
// adds C++ ownership and exceptions.
// - Hook callables. prism_tensor_register_hook() borrows a context pointer
//   until the hook is removed, so Tensor::register_hook() moves the callable
//   into a process-wide registry keyed by the hook handle the core returns
//   (handles are unique in the process) and passes the registry's copy as
//   the context. Tensor::remove_hook() unregisters the hook in the core
//   first and then frees the callable. A hook that is never removed keeps its
//   callable until the process exits, even after its tensor is freed (the C
//   ABI does not say when that happens), so remove hooks on tensors you
//   create and drop in a loop. remove_hook() must be called on the tensor the
//   hook was registered on. The registry itself is never destroyed: a
//   callable that captures tensors must not release them into a runtime
//   that static destruction may already have torn down.
// - Exceptions thrown by a hook do not cross the C ABI: the trampoline
//   stores the exception, returns a failing status that makes the core abort
//   backward, and backward()/autograd::grad() rethrow the original
//   exception (type and message intact) once the C call has returned.
// - NoGradGuard and AnomalyGuard are scoped: they restore the previous state
//   when they are destroyed, also during stack unwinding.

namespace detail {

using GradHookFn = std::function<Tensor(const Tensor&)>;

struct HookRegistry {
  std::mutex mutex;
  std::unordered_map<int32_t, std::unique_ptr<GradHookFn>> fns;
};

// One registry per process (an inline function's static is shared by every
// translation unit); deliberately never destroyed, see the Note above.
inline HookRegistry& hook_registry() {
  static HookRegistry* registry = new HookRegistry;
  return *registry;
}

// An exception a hook threw during the current backward on this thread.
inline std::exception_ptr& pending_hook_error() {
  static thread_local std::exception_ptr error;
  return error;
}

// Called by the core with a borrowed gradient; never lets an exception out.
inline prism_status grad_hook_trampoline(prism_tensor_t grad, void* ctx,
                                         prism_tensor_t* replacement) noexcept {
  try {
    const GradHookFn& fn = *static_cast<const GradHookFn*>(ctx);
    Tensor r = fn(Tensor::borrow(grad));
    *replacement = r.release();  // NULL keeps the gradient
    return PRISM_OK;
  } catch (const Error& e) {
    pending_hook_error() = std::current_exception();
    return e.status();
  } catch (...) {
    pending_hook_error() = std::current_exception();
    return PRISM_ERROR_INTERNAL;
  }
}

// Runs a C call that may run hooks: a hook's own exception wins over the
// status it caused; otherwise the status is checked as usual.
template <typename F>
void run_backward(F&& call) {
  pending_hook_error() = nullptr;
  prism_status s = call();
  std::exception_ptr hook_error = pending_hook_error();
  pending_hook_error() = nullptr;
  if (s != PRISM_OK && hook_error) {
    prism_clear_error();
    std::rethrow_exception(hook_error);
  }
  check(s);
}

// Wrapper-side copy of the process-wide anomaly flag (the C ABI has no
// getter); kept by set_anomaly_enabled() and AnomalyGuard.
inline std::atomic<bool>& anomaly_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

}  // namespace detail

inline std::vector<std::string> Tensor::grad_fn_next() const {
  prism_tensor_t h = handle();
  std::vector<const char*> names(4, nullptr);
  for (;;) {
    size_t n = SIZE_MAX;
    prism_status s = prism_tensor_grad_fn_next(h, names.data(), names.size(), &n);
    if (s == PRISM_OK) {
      std::vector<std::string> out;
      out.reserve(n);
      for (size_t i = 0; i < n; ++i) out.push_back(detail::str(names[i]));
      return out;
    }
    // Too small: grow to the count when the core reports it, else double.
    const size_t grown = n != SIZE_MAX && n > names.size() ? n : names.size() * 2;
    if (grown > (size_t{1} << 20)) check(s);
    prism_clear_error();
    names.assign(grown, nullptr);
  }
}

inline void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  prism_tensor_t h = handle();
  detail::run_backward([&] { return prism_backward(h, grad.h_, retain_graph ? 1 : 0); });
}

template <typename F>
int32_t Tensor::register_hook(F&& hook) {
  using Result = std::invoke_result_t<F&, const Tensor&>;
  static_assert(std::is_void<Result>::value || std::is_convertible<Result, Tensor>::value,
                "register_hook: the hook must return a Tensor (the replacement gradient, or an undefined "
                "Tensor to keep it) or void");
  auto fn = std::make_unique<detail::GradHookFn>();
  if constexpr (std::is_void<Result>::value) {
    *fn = [f = std::forward<F>(hook)](const Tensor& g) mutable -> Tensor {
      f(g);
      return Tensor();
    };
  } else {
    *fn = std::forward<F>(hook);
  }
  if (!*fn) detail::fail("register_hook(): the hook is empty");
  int32_t id = 0;
  check(prism_tensor_register_hook(handle(), &detail::grad_hook_trampoline, fn.get(), &id));
  detail::HookRegistry& registry = detail::hook_registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  if (!registry.fns.emplace(id, std::move(fn)).second) {
    // The core repeated a live handle: the callable cannot be tracked safely.
    prism_tensor_remove_hook(h_, id);
    throw Error(PRISM_ERROR_INTERNAL, "register_hook(): the runtime returned hook handle " +
                                          std::to_string(id) + ", which is already in use");
  }
  return id;
}

inline void Tensor::remove_hook(int32_t handle_id) {
  check(prism_tensor_remove_hook(handle(), handle_id));
  std::unique_ptr<detail::GradHookFn> fn;  // freed outside the lock
  detail::HookRegistry& registry = detail::hook_registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto it = registry.fns.find(handle_id);
  if (it != registry.fns.end()) {
    fn = std::move(it->second);
    registry.fns.erase(it);
  }
}

// True when gradient recording is enabled on this thread.
inline bool is_grad_enabled() {
  return prism_is_grad_enabled() != 0;
}

// Disables gradient recording on this thread for its lifetime (torch.no_grad()).
// Guards nest; each restores the state it found.
class NoGradGuard {
 public:
  NoGradGuard() { check(prism_no_grad_enter()); }
  ~NoGradGuard() { prism_no_grad_exit(); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
};

// Anomaly mode (process-wide): backward checks every gradient for NaN/Inf
// and fails naming the backward function and the forward op.
inline void set_anomaly_enabled(bool enabled) {
  check(prism_set_anomaly_enabled(enabled ? 1 : 0));
  detail::anomaly_flag().store(enabled);
}
// The state last set through this header (the C ABI cannot be asked).
inline bool is_anomaly_enabled() {
  return detail::anomaly_flag().load();
}

// Sets anomaly mode for its lifetime (torch.autograd.detect_anomaly()), then
// restores the previous state.
class AnomalyGuard {
 public:
  explicit AnomalyGuard(bool enabled = true) : prev_(is_anomaly_enabled()) { set_anomaly_enabled(enabled); }
  ~AnomalyGuard() {
    if (prism_set_anomaly_enabled(prev_ ? 1 : 0) == PRISM_OK) detail::anomaly_flag().store(prev_);
  }
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

 private:
  bool prev_;
};

namespace autograd {

// Gradients of `outputs` with respect to `inputs` (torch.autograd.grad),
// without touching any .grad. `grad_outputs` is empty (every output must
// have one element) or one per output (an undefined entry means ones). An
// input the outputs do not depend on gives an undefined Tensor when
// allow_unused, and throws otherwise.
inline std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                                const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                                bool allow_unused = false) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    detail::fail("autograd::grad(): got " + std::to_string(grad_outputs.size()) + " grad_outputs for " +
                 std::to_string(outputs.size()) + " outputs");
  }
  std::vector<prism_tensor_t> outs = detail::handles(outputs);
  std::vector<prism_tensor_t> gouts = detail::handles(grad_outputs);
  std::vector<prism_tensor_t> ins = detail::handles(inputs);
  std::vector<prism_tensor_t> results(inputs.size(), nullptr);
  detail::run_backward([&] {
    return prism_autograd_grad(outs.data(), outs.size(), gouts.empty() ? nullptr : gouts.data(), ins.data(),
                               ins.size(), retain_graph ? 1 : 0, allow_unused ? 1 : 0, results.data());
  });
  std::vector<Tensor> out;
  out.reserve(results.size());
  for (prism_tensor_t r : results) out.push_back(Tensor::adopt(r));
  return out;
}

// The gradient of one output with respect to one input.
inline Tensor grad(const Tensor& output, const Tensor& input, const Tensor& grad_output = Tensor(),
                   bool retain_graph = false) {
  return grad(std::vector<Tensor>{output}, std::vector<Tensor>{input},
              grad_output.defined() ? std::vector<Tensor>{grad_output} : std::vector<Tensor>{},
              retain_graph)[0];
}

}  // namespace autograd

// ===========================================================================
// Indexing
// ===========================================================================

// Note [Indexing in the wrapper]
// ------------------------------
// Subscripts are lists of TensorIndex, as in libtorch: an integer, a Slice
// (Python's start:stop:step, step > 0; a missing bound is open),
// indexing::Ellipsis (`...`), indexing::None (new axis) or a Tensor (int64 /
// int32 indices or a bool mask: advanced indexing, a copy). Without tensors
// the result is a view. Writes use index_put_: `t[mask] = v` is
// t.index_put_({mask}, v).
struct Slice {
  // Slice() is `:`, Slice(1) `1:`, Slice(1, 4) `1:4`, Slice(std::nullopt, std::nullopt, 2) `::2`.
  Slice(std::optional<int64_t> first = std::nullopt, std::optional<int64_t> last = std::nullopt,  // NOLINT
        std::optional<int64_t> stride = std::nullopt)
      : start(first.value_or(0)), stop(last.value_or(PRISM_SLICE_END)), step(stride.value_or(1)) {}
  int64_t start, stop, step;
};

namespace indexing {
struct EllipsisIndexType {};
struct NoneIndexType {};
constexpr EllipsisIndexType Ellipsis{};  // NOLINT(readability-identifier-naming): libtorch's spelling
constexpr NoneIndexType None{};          // NOLINT(readability-identifier-naming)
using prism::Slice;
}  // namespace indexing

class TensorIndex {
 public:
  template <typename I,
            typename = std::enable_if_t<std::is_integral<I>::value && !std::is_same<I, bool>::value>>
  TensorIndex(I v) : kind_(PRISM_INDEX_INT), value_(static_cast<int64_t>(v)) {}  // NOLINT: implicit by design
  TensorIndex(Slice s) : kind_(PRISM_INDEX_SLICE), slice_(s) {}                  // NOLINT: implicit by design
  TensorIndex(indexing::EllipsisIndexType) : kind_(PRISM_INDEX_ELLIPSIS) {}      // NOLINT: implicit by design
  TensorIndex(indexing::NoneIndexType) : kind_(PRISM_INDEX_NONE) {}              // NOLINT: implicit by design
  TensorIndex(Tensor t) : kind_(PRISM_INDEX_TENSOR), tensor_(std::move(t)) {}    // NOLINT: implicit by design

  // The C descriptor (borrows this entry's tensor).
  prism_tensor_index to_c() const {
    prism_tensor_index c{};
    c.struct_size = sizeof(prism_tensor_index);
    c.kind = kind_;
    c.value = value_;
    c.start = slice_.start;
    c.stop = slice_.stop;
    c.step = slice_.step;
    c.tensor = tensor_.get();
    return c;
  }

 private:
  prism_index_kind kind_;
  int64_t value_ = 0;
  Slice slice_;
  Tensor tensor_;
};

namespace detail {
inline std::vector<prism_tensor_index> c_indices(const std::vector<TensorIndex>& indices) {
  std::vector<prism_tensor_index> c;
  c.reserve(indices.size());
  for (const TensorIndex& i : indices) c.push_back(i.to_c());
  return c;
}
}  // namespace detail

inline Tensor Tensor::index(const std::vector<TensorIndex>& indices) const {
  std::vector<prism_tensor_index> c = detail::c_indices(indices);
  return make([&](prism_tensor_t* o) { return prism_index(h_, c.data(), c.size(), o); });
}
inline Tensor Tensor::operator[](const TensorIndex& i) const {
  return index({i});
}
inline Tensor Tensor::operator[](std::initializer_list<TensorIndex> indices) const {
  return index(std::vector<TensorIndex>(indices));
}
inline Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& values,
                                  bool accumulate) {
  std::vector<prism_tensor_index> c = detail::c_indices(indices);
  check(prism_index_put_(h_, c.data(), c.size(), values.h_, accumulate ? 1 : 0));
  return *this;
}
inline Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, double value) {
  return index_put_(indices, scalar(value, dtype(), device()));
}
inline Tensor Tensor::index_select(int64_t d, const Tensor& index) const {
  return make([&](prism_tensor_t* o) { return prism_index_select(h_, d, index.h_, o); });
}
inline Tensor Tensor::index_add(int64_t d, const Tensor& index, const Tensor& src, double alpha) const {
  return make([&](prism_tensor_t* o) { return prism_index_add(h_, d, index.h_, src.h_, alpha, o); });
}
inline Tensor& Tensor::index_add_(int64_t d, const Tensor& index, const Tensor& src, double alpha) {
  check(prism_index_add_(h_, d, index.h_, src.h_, alpha));
  return *this;
}
inline Tensor Tensor::index_fill(int64_t d, const Tensor& index, double value) const {
  return make([&](prism_tensor_t* o) { return prism_index_fill(h_, d, index.h_, value, o); });
}
inline Tensor& Tensor::index_fill_(int64_t d, const Tensor& index, double value) {
  check(prism_index_fill_(h_, d, index.h_, value));
  return *this;
}
inline Tensor Tensor::gather(int64_t d, const Tensor& index) const {
  return make([&](prism_tensor_t* o) { return prism_gather(h_, d, index.h_, o); });
}
inline Tensor Tensor::scatter(int64_t d, const Tensor& index, const Tensor& src) const {
  return make([&](prism_tensor_t* o) { return prism_scatter(h_, d, index.h_, src.h_, o); });
}
inline Tensor Tensor::scatter(int64_t d, const Tensor& index, double value) const {
  return make([&](prism_tensor_t* o) { return prism_scatter_value(h_, d, index.h_, value, o); });
}
inline Tensor& Tensor::scatter_(int64_t d, const Tensor& index, const Tensor& src) {
  check(prism_scatter_(h_, d, index.h_, src.h_));
  return *this;
}
inline Tensor& Tensor::scatter_(int64_t d, const Tensor& index, double value) {
  check(prism_scatter_value_(h_, d, index.h_, value));
  return *this;
}
inline Tensor Tensor::scatter_add(int64_t d, const Tensor& index, const Tensor& src) const {
  return make([&](prism_tensor_t* o) { return prism_scatter_add(h_, d, index.h_, src.h_, o); });
}
inline Tensor Tensor::scatter_reduce(int64_t d, const Tensor& index, const Tensor& src,
                                     const std::string& reduce, bool include_self) const {
  prism_scatter_reduce_op op = reduce == "sum"    ? PRISM_SCATTER_REDUCE_SUM
                               : reduce == "prod" ? PRISM_SCATTER_REDUCE_PROD
                               : reduce == "amax" ? PRISM_SCATTER_REDUCE_AMAX
                               : reduce == "amin" ? PRISM_SCATTER_REDUCE_AMIN
                                                  : PRISM_SCATTER_REDUCE_FORCE_32BIT;
  if (op == PRISM_SCATTER_REDUCE_FORCE_32BIT) {
    detail::fail("scatter_reduce(): reduce must be \"sum\", \"prod\", \"amax\" or \"amin\", got \"" + reduce +
                 "\"");
  }
  return make([&](prism_tensor_t* o) {
    return prism_scatter_reduce(h_, d, index.h_, src.h_, op, include_self ? 1 : 0, o);
  });
}
inline Tensor& Tensor::scatter_add_(int64_t d, const Tensor& index, const Tensor& src) {
  check(prism_scatter_add_(h_, d, index.h_, src.h_));
  return *this;
}
inline Tensor Tensor::masked_fill(const Tensor& mask, double value) const {
  return make([&](prism_tensor_t* o) { return prism_masked_fill(h_, mask.h_, value, o); });
}
inline Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  return make([&](prism_tensor_t* o) { return prism_masked_fill_tensor(h_, mask.h_, value.h_, o); });
}
inline Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  check(prism_masked_fill_(h_, mask.h_, value));
  return *this;
}
inline Tensor& Tensor::masked_fill_(const Tensor& mask, const Tensor& value) {
  check(prism_masked_fill_tensor_(h_, mask.h_, value.h_));
  return *this;
}
inline Tensor Tensor::masked_select(const Tensor& mask) const {
  return make([&](prism_tensor_t* o) { return prism_masked_select(h_, mask.h_, o); });
}
inline Tensor Tensor::take(const Tensor& index) const {
  return make([&](prism_tensor_t* o) { return prism_take(h_, index.h_, o); });
}
inline Tensor Tensor::nonzero() const {
  return call1(prism_nonzero);
}
inline Tensor Tensor::tril(int64_t diagonal) const {
  return make([&](prism_tensor_t* o) { return prism_tril(h_, diagonal, o); });
}
inline Tensor Tensor::triu(int64_t diagonal) const {
  return make([&](prism_tensor_t* o) { return prism_triu(h_, diagonal, o); });
}
inline Tensor Tensor::cumsum(int64_t d, std::optional<Dtype> dtype) const {
  Tensor x = dtype ? to(*dtype) : *this;
  return x.make([&](prism_tensor_t* o) { return prism_cumsum(x.h_, d, o); });
}
inline Tensor Tensor::cumprod(int64_t d, std::optional<Dtype> dtype) const {
  Tensor x = dtype ? to(*dtype) : *this;
  return x.make([&](prism_tensor_t* o) { return prism_cumprod(x.h_, d, o); });
}
inline std::pair<Tensor, Tensor> Tensor::sort(int64_t d, bool descending, bool stable) const {
  prism_tensor_t v = nullptr, i = nullptr;
  check(prism_sort(handle(), d, descending ? 1 : 0, stable ? 1 : 0, &v, &i));
  return {adopt(v), adopt(i)};
}
inline std::pair<Tensor, Tensor> Tensor::topk(int64_t k, int64_t d, bool largest, bool sorted) const {
  prism_tensor_t v = nullptr, i = nullptr;
  check(prism_topk(handle(), k, d, largest ? 1 : 0, sorted ? 1 : 0, &v, &i));
  return {adopt(v), adopt(i)};
}

// Free-function forms (torch.gather(x, dim, index), ...).
inline Tensor index_select(const Tensor& x, int64_t d, const Tensor& index) {
  return x.index_select(d, index);
}
inline Tensor gather(const Tensor& x, int64_t d, const Tensor& index) {
  return x.gather(d, index);
}
inline Tensor scatter(const Tensor& x, int64_t d, const Tensor& index, const Tensor& src) {
  return x.scatter(d, index, src);
}
inline Tensor scatter_add(const Tensor& x, int64_t d, const Tensor& index, const Tensor& src) {
  return x.scatter_add(d, index, src);
}
inline Tensor masked_select(const Tensor& x, const Tensor& mask) {
  return x.masked_select(mask);
}
inline Tensor take(const Tensor& x, const Tensor& index) {
  return x.take(index);
}
inline Tensor nonzero(const Tensor& x) {
  return x.nonzero();
}
inline Tensor tril(const Tensor& x, int64_t diagonal = 0) {
  return x.tril(diagonal);
}
inline Tensor triu(const Tensor& x, int64_t diagonal = 0) {
  return x.triu(diagonal);
}
inline Tensor cumsum(const Tensor& x, int64_t d, std::optional<Dtype> dtype = std::nullopt) {
  return x.cumsum(d, dtype);
}
inline Tensor cumprod(const Tensor& x, int64_t d, std::optional<Dtype> dtype = std::nullopt) {
  return x.cumprod(d, dtype);
}
inline std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t d = -1, bool descending = false,
                                      bool stable = false) {
  return x.sort(d, descending, stable);
}
inline std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t d = -1, bool largest = true,
                                      bool sorted = true) {
  return x.topk(k, d, largest, sorted);
}
// torch.index_put: a copy of x with x[indices...] = values (or += with accumulate).
inline Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values,
                        bool accumulate = false) {
  std::vector<prism_tensor_t> h;
  for (const Tensor& t : indices) h.push_back(t.get());
  prism_tensor_t out = nullptr;
  check(prism_index_put(x.get(), h.data(), h.size(), values.get(), accumulate ? 1 : 0, &out));
  return Tensor::adopt(out);
}
// int64 one-hot of int64 class indices (num_classes -1: max + 1).
inline Tensor one_hot(const Tensor& x, int64_t num_classes = -1) {
  prism_tensor_t out = nullptr;
  check(prism_one_hot(x.get(), num_classes, &out));
  return Tensor::adopt(out);
}
// Rows of weight (num, dim) at indices; padding_idx's row gets no gradient.
inline Tensor embedding(const Tensor& weight, const Tensor& indices,
                        std::optional<int64_t> padding_idx = std::nullopt) {
  prism_tensor_t out = nullptr;
  check(prism_embedding(weight.get(), indices.get(), padding_idx.value_or(PRISM_PADDING_IDX_NONE), &out));
  return Tensor::adopt(out);
}

// ===========================================================================
// Printing
// ===========================================================================

namespace detail {
// Writes values[pos ...] as nested brackets for sizes[d ...].
inline void print_nested(std::ostream& os, const std::vector<double>& values,
                         const std::vector<int64_t>& sizes, size_t d, size_t& pos, bool integral) {
  if (d == sizes.size()) {
    double v = values[pos++];
    if (integral) {
      os << static_cast<long long>(v);
    } else {
      os << v;
    }
    return;
  }
  os << '[';
  for (int64_t i = 0; i < sizes[d]; ++i) {
    if (i) os << ", ";
    print_nested(os, values, sizes, d + 1, pos, integral);
  }
  os << ']';
}
}  // namespace detail

inline std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  const bool integral = is_integral(dtype(), /*include_bool=*/true);
  std::vector<double> values = to_vector<double>();
  std::vector<int64_t> dims = sizes();
  size_t pos = 0;
  os << "tensor(";
  detail::print_nested(os, values, dims, 0, pos, integral);
  os << ", dtype=" << dtype() << ", device=" << device() << ')';
  return os.str();
}

inline std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  return os << t.to_string();
}

// ===========================================================================
// Neural-network ops: prism::nn::functional (torch.nn.functional's names)
// ===========================================================================

namespace nn::functional {

enum class Reduction : int32_t {
  kNone = PRISM_REDUCTION_NONE,
  kMean = PRISM_REDUCTION_MEAN,
  kSum = PRISM_REDUCTION_SUM,
};

namespace detail {
// Runs `call(&out)` and adopts the tensor it wrote (throws on a failed status).
template <typename F>
Tensor make(F&& call) {
  prism_tensor_t out = nullptr;
  ::prism::check(call(&out));
  return Tensor::adopt(out);
}
inline prism_reduction to_c(Reduction r) {
  return static_cast<prism_reduction>(r);
}
// {h, w} from one value (both) or two; empty -> nullptr (the op's default).
inline const int64_t* pair(const IntList& v, int64_t (&buf)[2], const char* op, const char* what) {
  if (v.empty()) return nullptr;
  if (v.size() > 2) ::prism::detail::fail(std::string(op) + ": " + what + " takes 1 or 2 values");
  buf[0] = v.vec()[0];
  buf[1] = v.vec()[v.size() - 1];
  return buf;
}
}  // namespace detail

inline Tensor softmax(const Tensor& x, int64_t dim) {
  return detail::make([&](prism_tensor_t* o) { return prism_softmax(x.get(), dim, o); });
}
inline Tensor log_softmax(const Tensor& x, int64_t dim) {
  return detail::make([&](prism_tensor_t* o) { return prism_log_softmax(x.get(), dim, o); });
}
// target: integer class indices or class probabilities (the input's shape).
inline Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            int64_t ignore_index = PRISM_IGNORE_INDEX_DEFAULT, double label_smoothing = 0.0,
                            Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_cross_entropy(input.get(), target.get(), weight.get(), ignore_index, label_smoothing,
                               detail::to_c(reduction), o);
  });
}
inline Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                       int64_t ignore_index = PRISM_IGNORE_INDEX_DEFAULT,
                       Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_nll_loss(input.get(), target.get(), weight.get(), ignore_index, detail::to_c(reduction), o);
  });
}
inline Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                               const Tensor& weight = Tensor(),
                                               const Tensor& pos_weight = Tensor(),
                                               Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_binary_cross_entropy_with_logits(input.get(), target.get(), weight.get(), pos_weight.get(),
                                                  detail::to_c(reduction), o);
  });
}
inline Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_mse_loss(input.get(), target.get(), detail::to_c(reduction), o);
  });
}
inline Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_l1_loss(input.get(), target.get(), detail::to_c(reduction), o);
  });
}
inline Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean,
                         double delta = 1.0) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_huber_loss(input.get(), target.get(), delta, detail::to_c(reduction), o);
  });
}
inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                             Reduction reduction = Reduction::kMean, double beta = 1.0) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_smooth_l1_loss(input.get(), target.get(), beta, detail::to_c(reduction), o);
  });
}
inline Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor()) {
  return detail::make(
      [&](prism_tensor_t* o) { return prism_linear(input.get(), weight.get(), bias.get(), o); });
}
inline Tensor dropout(const Tensor& input, double p = 0.5, bool training = true) {
  return detail::make([&](prism_tensor_t* o) { return prism_dropout(input.get(), p, training ? 1 : 0, o); });
}
inline Tensor layer_norm(const Tensor& input, const IntList& normalized_shape,
                         const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), double eps = 1e-5) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_layer_norm(input.get(), normalized_shape.data(), normalized_shape.size(), weight.get(),
                            bias.get(), eps, o);
  });
}
// Undefined running statistics are allowed when training.
inline Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                         const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                         bool training = false, double momentum = 0.1, double eps = 1e-5) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_batch_norm(input.get(), running_mean.get(), running_var.get(), weight.get(), bias.get(),
                            training ? 1 : 0, momentum, eps, o);
  });
}
// stride / padding / dilation: one value for both dims or {h, w}.
inline Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                     const IntList& stride = 1, const IntList& padding = 0, const IntList& dilation = 1,
                     int64_t groups = 1) {
  int64_t s[2], p[2], d[2];
  return detail::make([&](prism_tensor_t* o) {
    return prism_conv2d(input.get(), weight.get(), bias.get(), detail::pair(stride, s, "conv2d", "stride"),
                        detail::pair(padding, p, "conv2d", "padding"),
                        detail::pair(dilation, d, "conv2d", "dilation"), groups, o);
  });
}
// stride empty = kernel_size.
inline Tensor max_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride = IntList(),
                         const IntList& padding = 0) {
  int64_t k[2], s[2], p[2];
  return detail::make([&](prism_tensor_t* o) {
    return prism_max_pool2d(input.get(), detail::pair(kernel_size, k, "max_pool2d", "kernel_size"),
                            detail::pair(stride, s, "max_pool2d", "stride"),
                            detail::pair(padding, p, "max_pool2d", "padding"), o);
  });
}
inline Tensor avg_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride = IntList(),
                         const IntList& padding = 0, bool count_include_pad = true) {
  int64_t k[2], s[2], p[2];
  return detail::make([&](prism_tensor_t* o) {
    return prism_avg_pool2d(input.get(), detail::pair(kernel_size, k, "avg_pool2d", "kernel_size"),
                            detail::pair(stride, s, "avg_pool2d", "stride"),
                            detail::pair(padding, p, "avg_pool2d", "padding"), count_include_pad ? 1 : 0, o);
  });
}

}  // namespace nn::functional

// ===========================================================================
// Distributed: process groups, collectives, work handles (prism.h's
// "Distributed" section; Note [Process groups] in the core)
// ===========================================================================

namespace distributed {

enum class ReduceOp : int32_t {
  Sum = PRISM_REDUCE_SUM,
  Avg = PRISM_REDUCE_AVG,
  Max = PRISM_REDUCE_MAX,
  Min = PRISM_REDUCE_MIN,
  Prod = PRISM_REDUCE_PROD,
};

// An issued collective (move-only). wait() throws prism::Error on failure or
// timeout; the destructor releases the handle without waiting.
class Work {
 public:
  Work() = default;
  explicit Work(prism_work_t h) : h_(h) {}
  Work(Work&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Work& operator=(Work&& o) noexcept {
    if (this != &o) {
      prism_work_release(h_);
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  ~Work() { prism_work_release(h_); }
  // Blocks until complete (timeout_ms <= 0: the group's timeout).
  void wait(int64_t timeout_ms = 0) {
    if (h_ != nullptr) check(prism_work_wait(h_, timeout_ms));
  }
  bool is_completed() const {
    int32_t done = 1;
    if (h_ != nullptr) check(prism_work_is_completed(h_, &done));
    return done != 0;
  }
  bool valid() const { return h_ != nullptr; }

 private:
  prism_work_t h_ = nullptr;
};

// A process group handle (shared; a default-constructed one is the world).
class ProcessGroup {
 public:
  ProcessGroup() = default;
  explicit ProcessGroup(prism_process_group_t h)
      : h_(h == nullptr ? nullptr : std::shared_ptr<prism_process_group_s>(h, [](prism_process_group_t g) {
          prism_process_group_release(g);
        })) {}
  prism_process_group_t get() const { return h_.get(); }
  int32_t rank() const {
    int32_t r = 0;
    check(prism_dist_rank(get(), &r));
    return r;
  }
  int32_t size() const {
    int32_t n = 0;
    check(prism_dist_world_size(get(), &n));
    return n;
  }

 private:
  std::shared_ptr<prism_process_group_s> h_;
};

// Joins the world (prism_dist_init): backend "" = PRISM_DIST_BACKEND or gloo.
inline void init_process_group(const std::string& backend = "", int64_t timeout_ms = 0) {
  check(prism_dist_init(backend.empty() ? nullptr : backend.c_str(), timeout_ms));
}
inline void init_process_group(const std::string& backend, int32_t rank, int32_t world_size,
                               const std::string& master_addr, int32_t master_port, int64_t timeout_ms = 0) {
  check(prism_dist_init_with(backend.empty() ? nullptr : backend.c_str(), rank, world_size,
                             master_addr.c_str(), master_port, timeout_ms));
}
inline bool is_initialized() {
  return prism_dist_is_initialized() != 0;
}
inline void destroy_process_group() {
  check(prism_dist_finalize());
}
inline int32_t get_rank(const ProcessGroup& g = ProcessGroup()) {
  return g.rank();
}
inline int32_t get_world_size(const ProcessGroup& g = ProcessGroup()) {
  return g.size();
}
// A sub-group (collective over the world). On ranks not listed the result
// is an empty optional-like group: check member().
inline ProcessGroup new_group(const std::vector<int32_t>& ranks, bool* member = nullptr) {
  prism_process_group_t h = nullptr;
  check(prism_dist_new_group(ranks.data(), ranks.size(), &h));
  if (member != nullptr) *member = h != nullptr;
  return ProcessGroup(h);
}

namespace detail {
// Runs a collective: blocking (returns an empty Work) or async.
template <typename F>
Work issue(bool async_op, F&& f) {
  if (!async_op) {
    check(f(nullptr));
    return Work();
  }
  prism_work_t w = nullptr;
  check(f(&w));
  return Work(w);
}
}  // namespace detail

inline Work all_reduce(const Tensor& t, ReduceOp op = ReduceOp::Sum, const ProcessGroup& g = ProcessGroup(),
                       bool async_op = false) {
  return detail::issue(async_op, [&](prism_work_t* w) {
    return prism_dist_all_reduce(g.get(), t.get(), static_cast<prism_reduce_op>(op), w);
  });
}
inline Work broadcast(const Tensor& t, int32_t src, const ProcessGroup& g = ProcessGroup(),
                      bool async_op = false) {
  return detail::issue(async_op,
                       [&](prism_work_t* w) { return prism_dist_broadcast(g.get(), t.get(), src, w); });
}
inline Work all_gather(const Tensor& out, const Tensor& in, const ProcessGroup& g = ProcessGroup(),
                       bool async_op = false) {
  return detail::issue(
      async_op, [&](prism_work_t* w) { return prism_dist_all_gather(g.get(), out.get(), in.get(), w); });
}
inline Work reduce_scatter(const Tensor& out, const Tensor& in, ReduceOp op = ReduceOp::Sum,
                           const ProcessGroup& g = ProcessGroup(), bool async_op = false) {
  return detail::issue(async_op, [&](prism_work_t* w) {
    return prism_dist_reduce_scatter(g.get(), out.get(), in.get(), static_cast<prism_reduce_op>(op), w);
  });
}
inline Work barrier(const ProcessGroup& g = ProcessGroup(), bool async_op = false) {
  return detail::issue(async_op, [&](prism_work_t* w) { return prism_dist_barrier(g.get(), w); });
}
inline Work send(const Tensor& t, int32_t dst, int32_t tag = 0, const ProcessGroup& g = ProcessGroup(),
                 bool async_op = false) {
  return detail::issue(async_op,
                       [&](prism_work_t* w) { return prism_dist_send(g.get(), t.get(), dst, tag, w); });
}
inline Work recv(const Tensor& t, int32_t src, int32_t tag = 0, const ProcessGroup& g = ProcessGroup(),
                 bool async_op = false) {
  return detail::issue(async_op,
                       [&](prism_work_t* w) { return prism_dist_recv(g.get(), t.get(), src, tag, w); });
}

}  // namespace distributed

// ===========================================================================
// Op forms (prism.h's "Op forms" section): free functions and
// nn::functional spellings of clamp with tensor bounds, mm, pad, gelu's
// approximation, conv2d's string padding, softmax dtype=.
// ===========================================================================

inline Tensor clamp(const Tensor& x, const Tensor& min, const Tensor& max) {
  return x.clamp(min, max);
}
inline Tensor mm(const Tensor& a, const Tensor& b) {
  return a.mm(b);
}

namespace nn::functional {

namespace detail {
inline prism_pad_mode pad_mode(const std::string& mode) {
  if (mode == "constant") return PRISM_PAD_CONSTANT;
  if (mode == "reflect") return PRISM_PAD_REFLECT;
  if (mode == "replicate") return PRISM_PAD_REPLICATE;
  if (mode == "circular") return PRISM_PAD_CIRCULAR;
  ::prism::detail::fail("pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '" + mode +
                        "'");
}
}  // namespace detail

// torch.nn.functional.pad: (left, right) pairs from the last dim; negative values crop.
inline Tensor pad(const Tensor& input, const IntList& pad, const std::string& mode = "constant",
                  double value = 0.0) {
  prism_pad_mode m = detail::pad_mode(mode);
  return detail::make(
      [&](prism_tensor_t* o) { return prism_pad(input.get(), pad.data(), pad.size(), m, value, o); });
}
// approximate: "none" or "tanh".
inline Tensor gelu(const Tensor& input, const std::string& approximate = "none") {
  prism_gelu_approximation a = PRISM_GELU_APPROXIMATE_NONE;
  if (approximate == "tanh") {
    a = PRISM_GELU_APPROXIMATE_TANH;
  } else if (approximate != "none") {
    ::prism::detail::fail("gelu: approximate must be 'none' or 'tanh', got '" + approximate + "'");
  }
  return detail::make([&](prism_tensor_t* o) { return prism_gelu_approximate(input.get(), a, o); });
}
// padding: "valid" or "same" (stride 1; the odd element of even kernels on the right / bottom).
inline Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const IntList& stride,
                     const std::string& padding, const IntList& dilation = 1, int64_t groups = 1) {
  prism_conv_padding p = PRISM_CONV_PADDING_VALID;
  if (padding == "same") {
    p = PRISM_CONV_PADDING_SAME;
  } else if (padding != "valid") {
    ::prism::detail::fail("conv2d: padding must be 'valid', 'same' or sizes, got '" + padding + "'");
  }
  int64_t s[2], d[2];
  return detail::make([&](prism_tensor_t* o) {
    return prism_conv2d_padding(input.get(), weight.get(), bias.get(),
                                detail::pair(stride, s, "conv2d", "stride"), p,
                                detail::pair(dilation, d, "conv2d", "dilation"), groups, o);
  });
}
inline Tensor softmax(const Tensor& x, int64_t dim, Dtype dtype) {
  return detail::make([&](prism_tensor_t* o) { return prism_softmax_dtype(x.get(), dim, to_c(dtype), o); });
}
inline Tensor log_softmax(const Tensor& x, int64_t dim, Dtype dtype) {
  return detail::make(
      [&](prism_tensor_t* o) { return prism_log_softmax_dtype(x.get(), dim, to_c(dtype), o); });
}

}  // namespace nn::functional

// ===========================================================================
// Mixed precision: autocast scopes and the gradient-scaler ops
// ===========================================================================

// Opens an autocast scope for its lifetime (torch.autocast(device_type,
// dtype, enabled)): listed ops on tensors of `device_type` ("cpu", "opencl",
// ...) cast their inputs by Prism's policy (matmul/linear/conv2d in `dtype`,
// losses in f32, ...; docs/ops.md, Autocast). Guards nest; each restores the
// state it found. Thread-local; works under NoGradGuard.
class AutocastGuard {
 public:
  explicit AutocastGuard(const std::string& device_type = "cpu", Dtype dtype = kBFloat16,
                         bool enabled = true) {
    check(prism_autocast_enter(device_type.c_str(), to_c(dtype), enabled ? 1 : 0));
  }
  ~AutocastGuard() { prism_autocast_exit(); }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
};

// torch.is_autocast_enabled / get_autocast_dtype for one device type.
inline bool is_autocast_enabled(const std::string& device_type = "cpu") {
  int32_t on = 0;
  check(prism_autocast_is_enabled(device_type.c_str(), &on));
  return on != 0;
}
inline Dtype get_autocast_dtype(const std::string& device_type = "cpu") {
  prism_dtype d = PRISM_DTYPE_BF16;
  check(prism_autocast_get_dtype(device_type.c_str(), &d));
  return from_c(d);
}

namespace amp {
// In place: found_inf = 1 when grad holds NaN/Inf; grad *= inv_scale
// (prism_amp_unscale_check).
inline void unscale_check(const Tensor& grad, const Tensor& found_inf, const Tensor& inv_scale) {
  check(prism_amp_unscale_check(grad.get(), found_inf.get(), inv_scale.get()));
}
// In place: the scale/growth-tracker update of a gradient scaler (prism_amp_update_scale).
inline void update_scale(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                         double growth_factor, double backoff_factor, int64_t growth_interval) {
  check(prism_amp_update_scale(scale.get(), growth_tracker.get(), found_inf.get(), growth_factor,
                               backoff_factor, growth_interval));
}
}  // namespace amp

// ============================================================================
// Profiler (the prism_profiler_* section of prism.h)
// ============================================================================

namespace profiler {

// One recorded op or user range (copied out of the profiler).
struct Event {
  std::string name, device, dtype, fallback, shapes;
  int64_t start_ns = 0, host_ns = 0, self_ns = 0, device_ns = -1;
  uint64_t bytes = 0, thread = 0;
  bool is_range = false;
};

inline bool is_enabled() {
  int32_t on = 0;
  check(prism_profiler_is_enabled(&on));
  return on != 0;
}

// Every event recorded since the last start, by start time.
inline std::vector<Event> events() {
  size_t n = 0;
  check(prism_profiler_event_count(&n));
  std::vector<Event> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    prism_profiler_event e{};
    e.struct_size = sizeof(e);
    check(prism_profiler_event_get(i, &e));
    Event x;
    x.name = detail::str(e.name);
    x.device = detail::str(e.device);
    x.dtype = detail::str(e.dtype);
    x.fallback = detail::str(e.fallback);
    x.shapes = detail::str(e.shapes);
    x.start_ns = e.start_ns;
    x.host_ns = e.host_ns;
    x.self_ns = e.self_ns;
    x.device_ns = e.device_ns;
    x.bytes = e.bytes;
    x.thread = e.thread;
    x.is_range = e.is_range != 0;
    out.push_back(std::move(x));
  }
  return out;
}

// The summary table sorted by total host time (row_limit 0 = all rows).
inline std::string summary(size_t row_limit = 0) {
  size_t needed = 0;
  check(prism_profiler_summary(row_limit, nullptr, 0, &needed));
  std::string text(needed, '\0');
  check(prism_profiler_summary(row_limit, &text[0], text.size(), &needed));
  text.resize(text.size() - 1);
  return text;
}

inline void export_chrome_trace(const std::string& path) {
  check(prism_profiler_export_chrome_trace(path.c_str()));
}

// Records every op while alive (RAII over start/stop); the events stay
// readable after the scope ends until the next profile starts.
class Profile {
 public:
  explicit Profile(bool record_shapes = true, bool device_time = true) {
    prism_profiler_options o{};
    o.struct_size = sizeof(o);
    o.record_shapes = record_shapes ? 1 : 0;
    o.device_time = device_time ? 1 : 0;
    check(prism_profiler_start(&o));
  }
  ~Profile() { prism_profiler_stop(); }
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;
  void stop() { check(prism_profiler_stop()); }
};

// A named user range while alive (torch.autograd.profiler.record_function).
class RecordFunction {
 public:
  explicit RecordFunction(const std::string& name) { check(prism_profiler_range_push(name.c_str())); }
  ~RecordFunction() { prism_profiler_range_pop(); }
  RecordFunction(const RecordFunction&) = delete;
  RecordFunction& operator=(const RecordFunction&) = delete;
};

}  // namespace profiler

// ===========================================================================
// Streams and events (prism.h "Streams and events"): RAII over the C handles,
// spelled as torch.cuda.Stream / Event / stream(s), for every device.
// ===========================================================================

class Event;

class Stream {
 public:
  // A new stream of `device`.
  explicit Stream(const Device& device) { check(prism_stream_create(device.c_str(), &h_)); }
  // This thread's current stream of `device`.
  static Stream current(const Device& device = Device()) {
    prism_user_stream_t h = nullptr;
    check(prism_stream_get_current(device.c_str(), &h));
    return Stream(h);
  }
  // The default stream of `device`.
  static Stream default_stream(const Device& device = Device()) {
    prism_user_stream_t h = nullptr;
    check(prism_stream_get_default(device.c_str(), &h));
    return Stream(h);
  }
  Stream(Stream&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      prism_stream_destroy(h_);
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { prism_stream_destroy(h_); }

  void synchronize() const { check(prism_stream_synchronize(h_)); }
  bool query() const {
    int32_t done = 0;
    check(prism_stream_query(h_, &done));
    return done != 0;
  }
  std::string device() const {
    const char* d = nullptr;
    check(prism_stream_get_device(h_, &d, nullptr));
    return d;
  }
  uint64_t id() const {
    const char* d = nullptr;
    uint64_t id = 0;
    check(prism_stream_get_device(h_, &d, &id));
    return id;
  }
  bool operator==(const Stream& o) const { return device() == o.device() && id() == o.id(); }
  bool operator!=(const Stream& o) const { return !(*this == o); }
  // Future work on this stream waits for `e` / for all work queued on `other` so far.
  inline void wait_event(const Event& e) const;
  inline void wait_stream(const Stream& other) const;
  prism_user_stream_t get() const noexcept { return h_; }

 private:
  explicit Stream(prism_user_stream_t h) : h_(h) {}
  prism_user_stream_t h_ = nullptr;
};

class Event {
 public:
  explicit Event(bool enable_timing = false) { check(prism_event_create(enable_timing ? 1 : 0, &h_)); }
  Event(Event&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      prism_event_destroy(h_);
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { prism_event_destroy(h_); }

  void record(const Stream& s) const { check(prism_event_record(h_, s.get())); }
  void wait(const Stream& s) const { check(prism_event_wait(h_, s.get())); }
  void synchronize() const { check(prism_event_synchronize(h_)); }
  bool query() const {
    int32_t done = 0;
    check(prism_event_query(h_, &done));
    return done != 0;
  }
  // Milliseconds from this event to `end` (both with enable_timing).
  double elapsed_time(const Event& end) const {
    double ms = 0;
    check(prism_event_elapsed_time(h_, end.h_, &ms));
    return ms;
  }
  prism_user_event_t get() const noexcept { return h_; }

 private:
  prism_user_event_t h_ = nullptr;
};

inline void Stream::wait_event(const Event& e) const {
  e.wait(*this);
}
inline void Stream::wait_stream(const Stream& other) const {
  Event e;
  e.record(other);
  e.wait(*this);
}

// Makes `s` the current stream of its device for this thread until the
// guard goes out of scope, then restores the previous one (torch.cuda.stream).
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& s) : prev_(Stream::current(s.device())) {
    check(prism_stream_set_current(s.get()));
  }
  ~StreamGuard() { prism_stream_set_current(prev_.get()); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream prev_;
};

// Marks t's memory as used by work on `s` (prism_tensor_record_stream).
inline void record_stream(const Tensor& t, const Stream& s) {
  check(prism_tensor_record_stream(t.get(), s.get()));
}

// ===========================================================================
// Attention, binary cross-entropy, gradient checkpointing, random state
// (prism.h's section of the same name)
// ===========================================================================

namespace nn::functional {

// torch.nn.functional.scaled_dot_product_attention: query (..., L, E), key
// (..., S, E), value (..., S, Ev) -> (..., L, Ev). attn_mask: bool (true =
// attend) or float (added); scale: 1/sqrt(E) when empty.
inline Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                           const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                           bool is_causal = false,
                                           std::optional<double> scale = std::nullopt) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_scaled_dot_product_attention(query.get(), key.get(), value.get(), attn_mask.get(), dropout_p,
                                              is_causal ? 1 : 0, scale ? &*scale : nullptr, o);
  });
}
// input: probabilities in [0, 1].
inline Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                   Reduction reduction = Reduction::kMean) {
  return detail::make([&](prism_tensor_t* o) {
    return prism_binary_cross_entropy(input.get(), target.get(), weight.get(), detail::to_c(reduction), o);
  });
}

}  // namespace nn::functional

// The global generator's (seed, offset) (torch.get_rng_state / set_rng_state).
struct RngState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};
inline RngState get_rng_state() {
  RngState s;
  check(prism_random_get_state(&s.seed, &s.offset));
  return s;
}
inline void set_rng_state(const RngState& s) {
  check(prism_random_set_state(s.seed, s.offset));
}

// Note [Checkpoint in the wrapper]
// --------------------------------
// prism::checkpoint(fn, inputs) is torch.utils.checkpoint.checkpoint over
// prism_checkpoint(): fn is moved to the heap and handed to the core as its
// context, freed by the core's release call when the graph is done with it.
// An exception fn throws (in forward or in its recomputation during
// backward) does not cross the C ABI: the trampoline keeps it, the core
// fails, and checkpoint() or backward() rethrows the original exception.
using CheckpointFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

namespace detail {
inline prism_status checkpoint_trampoline(const prism_tensor_t* inputs, size_t n_inputs,
                                          prism_tensor_t* outputs, size_t capacity, size_t* n_outputs,
                                          void* ctx) noexcept {
  try {
    std::vector<Tensor> in;
    in.reserve(n_inputs);
    for (size_t i = 0; i < n_inputs; ++i) in.push_back(inputs[i] ? Tensor::borrow(inputs[i]) : Tensor());
    std::vector<Tensor> out = (*static_cast<const CheckpointFn*>(ctx))(in);
    if (out.size() > capacity) fail("checkpoint: the segment returned too many outputs");
    for (size_t i = 0; i < out.size(); ++i) outputs[i] = out[i].release();
    *n_outputs = out.size();
    return PRISM_OK;
  } catch (const Error& e) {
    pending_hook_error() = std::current_exception();
    return e.status();
  } catch (...) {
    pending_hook_error() = std::current_exception();
    return PRISM_ERROR_INTERNAL;
  }
}
inline void checkpoint_release(void* ctx) {
  delete static_cast<CheckpointFn*>(ctx);
}
}  // namespace detail

// Runs fn(inputs) without keeping its activations; backward recomputes it
// with the same random numbers (Note [Gradient checkpointing] in the core).
inline std::vector<Tensor> checkpoint(CheckpointFn fn, const std::vector<Tensor>& inputs) {
  std::vector<prism_tensor_t> in;
  in.reserve(inputs.size());
  for (const Tensor& t : inputs) in.push_back(t.get());
  std::vector<prism_tensor_t> out(PRISM_CHECKPOINT_MAX_OUTPUTS, nullptr);
  size_t n = 0;
  auto* ctx = new CheckpointFn(std::move(fn));
  detail::run_backward([&] {
    return prism_checkpoint(detail::checkpoint_trampoline, ctx, detail::checkpoint_release, in.data(),
                            in.size(), out.data(), out.size(), &n);
  });
  std::vector<Tensor> result;
  result.reserve(n);
  for (size_t i = 0; i < n; ++i) result.push_back(Tensor::adopt(out[i]));
  return result;
}
// One tensor in, one out.
inline Tensor checkpoint(const std::function<Tensor(const Tensor&)>& fn, const Tensor& input) {
  return checkpoint([fn](const std::vector<Tensor>& xs) { return std::vector<Tensor>{fn(xs[0])}; },
                    std::vector<Tensor>{input})[0];
}

}  // namespace prism

#endif  // PRISM_API_PRISM_PRISM_HPP_
