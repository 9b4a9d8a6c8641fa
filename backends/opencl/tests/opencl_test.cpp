// opencl_test.cpp — the OpenCL plugin through the user C ABI: every op against the CPU device, rng bits,
// caches, bad input.
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../../tests/prism_require_devices.h"
#include "prism/prism.h"

namespace {

// ===========================================================================
// Helpers
// ===========================================================================

#define ASSERT_OK(expr) ASSERT_EQ((expr), PRISM_OK) << #expr << ": " << prism_last_error()
#define EXPECT_OK(expr) EXPECT_EQ((expr), PRISM_OK) << #expr << ": " << prism_last_error()

// Owns one tensor reference.
class T {
 public:
  T() = default;
  explicit T(prism_tensor_t t) : t_(t) {}
  T(const T&) = delete;
  T& operator=(const T&) = delete;
  T(T&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  T& operator=(T&& o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~T() { prism_tensor_release(t_); }
  prism_tensor_t get() const { return t_; }
  prism_tensor_t* out() {
    prism_tensor_release(t_);
    t_ = nullptr;
    return &t_;
  }

 private:
  prism_tensor_t t_ = nullptr;
};

const char* kOcl = "opencl:0";
const char* kCpu = "cpu";

// Why the OpenCL device is missing ("" when it is there).
std::string opencl_unavailable() {
  static std::string reason = [] {
    prism_plugin_load(PRISM_CPU_PLUGIN_PATH);
    if (prism_plugin_load(PRISM_OPENCL_PLUGIN_PATH) != PRISM_OK) {
      return std::string("the OpenCL plugin did not load: ") + prism_last_error();
    }
    int32_t n = 0;
    prism_device_count(&n);
    for (int32_t i = 0; i < n; ++i) {
      prism_device_info info;
      std::memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      if (prism_device_info_get(i, &info) == PRISM_OK && std::strcmp(info.device, "opencl:0") == 0) {
        return std::string();
      }
    }
    size_t rows = 0;
    prism_load_report_count(&rows);
    for (size_t i = 0; i < rows; ++i) {
      prism_load_report_row row;
      std::memset(&row, 0, sizeof row);
      row.struct_size = sizeof row;
      if (prism_load_report_get(i, &row) == PRISM_OK && std::strcmp(row.plugin_name, "opencl") == 0) {
        return std::string("no OpenCL device: ") + row.reason;
      }
    }
    return std::string("no OpenCL device");
  }();
  return reason;
}

class OpenCL : public testing::Test {
 protected:
  void SetUp() override {
    const std::string why = opencl_unavailable();
    if (!why.empty() && prism_test_device_required("opencl:0"))
      GTEST_FAIL() << "an OpenCL device is required (PRISM_REQUIRE_DEVICES) but absent: " << why;
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;
    // Every op must run on the device: a fallback to the CPU is a failure.
    ASSERT_OK(prism_fallback_set_policy(PRISM_FALLBACK_ERROR));
    ASSERT_OK(prism_fallback_reset());
  }
  void TearDown() override {
    uint64_t n = 1;
    EXPECT_OK(prism_fallback_count(nullptr, &n));
    EXPECT_EQ(n, 0u) << "an op fell back to the CPU";
    prism_fallback_set_policy(PRISM_FALLBACK_WARN);
  }
};

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(s >> 8) / 16777216.0f;
  }
  return v;
}

template <class V>
std::vector<V> to_host(prism_tensor_t t) {
  std::vector<V> v(static_cast<size_t>(prism_tensor_numel(t)));
  EXPECT_EQ(prism_tensor_copy_to_host(t, v.data(), v.size() * sizeof(V)), PRISM_OK) << prism_last_error();
  return v;
}

enum class Layout { kContiguous, kTransposed, kOffset, kBroadcast };
const Layout kLayouts[] = {Layout::kContiguous, Layout::kTransposed, Layout::kOffset, Layout::kBroadcast};
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kContiguous:
      return "contiguous";
    case Layout::kTransposed:
      return "transposed";
    case Layout::kOffset:
      return "offset";
    case Layout::kBroadcast:
      return "broadcast";
  }
  return "?";
}

// A (3, 4, 5) tensor of `dtype` with the given layout, values from `seed`.
T make(Layout layout, const char* device, uint32_t seed, float lo = -2.f, float hi = 2.f,
       prism_dtype dtype = PRISM_DTYPE_F32) {
  T base, out, f;
  switch (layout) {
    case Layout::kContiguous: {
      const int64_t sizes[3] = {3, 4, 5};
      auto v = random_floats(60, seed, lo, hi);
      EXPECT_OK(prism_from_data(v.data(), sizes, 3, PRISM_DTYPE_F32, device, f.out()));
      break;
    }
    case Layout::kTransposed: {
      const int64_t sizes[3] = {3, 5, 4};
      auto v = random_floats(60, seed, lo, hi);
      EXPECT_OK(prism_from_data(v.data(), sizes, 3, PRISM_DTYPE_F32, device, base.out()));
      EXPECT_OK(prism_transpose(base.get(), 1, 2, f.out()));
      break;
    }
    case Layout::kOffset: {
      const int64_t sizes[3] = {3, 4, 8};
      auto v = random_floats(96, seed, lo, hi);
      EXPECT_OK(prism_from_data(v.data(), sizes, 3, PRISM_DTYPE_F32, device, base.out()));
      EXPECT_OK(prism_narrow(base.get(), 2, 3, 5, f.out()));
      break;
    }
    case Layout::kBroadcast: {
      const int64_t sizes[3] = {1, 4, 1};
      const int64_t full[3] = {3, 4, 5};
      auto v = random_floats(4, seed, lo, hi);
      EXPECT_OK(prism_from_data(v.data(), sizes, 3, PRISM_DTYPE_F32, device, base.out()));
      EXPECT_OK(prism_expand(base.get(), full, 3, f.out()));
      break;
    }
  }
  if (dtype == PRISM_DTYPE_F32) return f;
  // cast on the CPU so both devices see identical values in that dtype
  T cpu_f, cast;
  EXPECT_OK(prism_to_device(f.get(), kCpu, cpu_f.out()));
  EXPECT_OK(prism_to_dtype(cpu_f.get(), dtype, cast.out()));
  EXPECT_OK(prism_to_device(cast.get(), device, out.out()));
  return out;
}

// Compares an OpenCL result with the CPU result element by element (both
// brought to f64 on the host through the CPU device).
void expect_close(prism_tensor_t ocl, prism_tensor_t cpu, double rtol, double atol, const std::string& what) {
  ASSERT_NE(ocl, nullptr) << what;
  ASSERT_NE(cpu, nullptr) << what;
  ASSERT_STREQ(prism_tensor_device(ocl), "opencl:0") << what;
  ASSERT_EQ(prism_tensor_dtype(ocl), prism_tensor_dtype(cpu)) << what;
  ASSERT_EQ(prism_tensor_ndim(ocl), prism_tensor_ndim(cpu)) << what;
  T a_cpu, a64, b64;
  ASSERT_OK(prism_to_device(ocl, kCpu, a_cpu.out()));
  ASSERT_OK(prism_to_dtype(a_cpu.get(), PRISM_DTYPE_F64, a64.out()));
  ASSERT_OK(prism_to_dtype(cpu, PRISM_DTYPE_F64, b64.out()));
  auto a = to_host<double>(a64.get());
  auto b = to_host<double>(b64.get());
  ASSERT_EQ(a.size(), b.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < a.size() && bad < 5; ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    const bool same_inf = std::isinf(a[i]) && a[i] == b[i];
    if (both_nan || same_inf) continue;
    if (!(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]))) {
      ADD_FAILURE() << what << ": element " << i << " opencl " << a[i] << " cpu " << b[i];
      ++bad;
    }
  }
}

// Runs `op` on inputs made on both devices and compares.
using Op1 = std::function<prism_status(prism_tensor_t, prism_tensor_t*)>;
using Op2 = std::function<prism_status(prism_tensor_t, prism_tensor_t, prism_tensor_t*)>;

void check_unary(const std::string& name, const Op1& op, float lo, float hi, double tol = 1e-5) {
  for (Layout l : kLayouts) {
    T xo = make(l, kOcl, 1, lo, hi), xc = make(l, kCpu, 1, lo, hi), ro, rc;
    ASSERT_OK(op(xc.get(), rc.out()));
    ASSERT_EQ(op(xo.get(), ro.out()), PRISM_OK)
        << name << " " << layout_name(l) << ": " << prism_last_error();
    expect_close(ro.get(), rc.get(), tol, tol, name + " " + layout_name(l));
  }
}

void check_binary(const std::string& name, const Op2& op, float lo = -2.f, float hi = 2.f, double tol = 1e-5,
                  prism_dtype dtype = PRISM_DTYPE_F32) {
  for (Layout la : kLayouts) {
    const Layout lb = la == Layout::kContiguous ? Layout::kTransposed : Layout::kContiguous;
    T ao = make(la, kOcl, 2, lo, hi, dtype), ac = make(la, kCpu, 2, lo, hi, dtype);
    T bo = make(lb, kOcl, 3, lo, hi, dtype), bc = make(lb, kCpu, 3, lo, hi, dtype);
    T ro, rc;
    ASSERT_OK(op(ac.get(), bc.get(), rc.out()));
    ASSERT_EQ(op(ao.get(), bo.get(), ro.out()), PRISM_OK)
        << name << " " << layout_name(la) << ": " << prism_last_error();
    expect_close(ro.get(), rc.get(), tol, tol, name + " " + layout_name(la) + " " + prism_dtype_name(dtype));
  }
  // broadcasting across ranks: (3, 4, 5) op (5)
  T ao = make(Layout::kContiguous, kOcl, 4, lo, hi, dtype),
    ac = make(Layout::kContiguous, kCpu, 4, lo, hi, dtype);
  const int64_t n5[1] = {5};
  auto v = random_floats(5, 9, lo, hi);
  T bo, bc, bo_t, bc_t, ro, rc;
  ASSERT_OK(prism_from_data(v.data(), n5, 1, PRISM_DTYPE_F32, kOcl, bo.out()));
  ASSERT_OK(prism_from_data(v.data(), n5, 1, PRISM_DTYPE_F32, kCpu, bc.out()));
  if (dtype != PRISM_DTYPE_F32) {
    T tmp;
    ASSERT_OK(prism_to_dtype(bc.get(), dtype, bc_t.out()));
    ASSERT_OK(prism_to_device(bc_t.get(), kOcl, bo_t.out()));
  } else {
    ASSERT_OK(prism_clone(bc.get(), bc_t.out()));
    ASSERT_OK(prism_clone(bo.get(), bo_t.out()));
  }
  ASSERT_OK(op(ac.get(), bc_t.get(), rc.out()));
  ASSERT_OK(op(ao.get(), bo_t.get(), ro.out()));
  expect_close(ro.get(), rc.get(), tol, tol, name + " rank broadcast");
}

// ===========================================================================
// Devices
// ===========================================================================

TEST_F(OpenCL, DeviceIsListedWithProperties) {
  int32_t n = 0;
  ASSERT_OK(prism_device_count(&n));
  bool found = false;
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ASSERT_OK(prism_device_info_get(i, &info));
    if (std::strncmp(info.device, "opencl:", 7) != 0) continue;
    found = true;
    EXPECT_STREQ(info.plugin, "opencl");
    EXPECT_GT(std::strlen(info.name), 0u);
    EXPECT_EQ(std::strncmp(info.stable_id, "opencl:", 7), 0) << info.stable_id;
    EXPECT_GT(info.total_memory, 0u);
    EXPECT_TRUE(info.dtype_mask & (1u << PRISM_DTYPE_F32));
    EXPECT_FALSE(info.capabilities & (1u << 0)) << "OpenCL buffers are not host memory";
    std::printf("  %s: %s (%s), %llu MiB, caps 0x%x\n", info.device, info.name, info.vendor,
                static_cast<unsigned long long>(info.total_memory >> 20), info.capabilities);
  }
  EXPECT_TRUE(found);
}

// Note [Storage-only halves]: f16 and bf16 are stored as 16 bits and computed
// in f32 on any device, cl_khr_fp16 or not, with the CPU plugin's rounding:
// the bits of correctly rounded ops match the CPU device exactly, NaN included.
TEST_F(OpenCL, HalfFloatsComputeInF32BitExactWithCpu) {
  int32_t n = 0;
  ASSERT_OK(prism_device_count(&n));
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ASSERT_OK(prism_device_info_get(i, &info));
    if (std::strcmp(info.device, kOcl) != 0) continue;
    EXPECT_TRUE(info.dtype_mask & (1u << PRISM_DTYPE_F16)) << "opencl:0 stores float16";
    EXPECT_TRUE(info.dtype_mask & (1u << PRISM_DTYPE_BF16)) << "opencl:0 stores bfloat16";
  }
  auto v = random_floats(1031, 11, -4, 4);
  auto w = random_floats(1031, 12, -4, 4);
  v[3] = std::numeric_limits<float>::quiet_NaN();
  v[4] = std::numeric_limits<float>::infinity();
  v[5] = 1.00390625f;  // exactly between two bf16 values: rounds to even
  v[6] = 65504.0f;     // largest f16
  const int64_t sizes[1] = {1031};
  for (prism_dtype dt : {PRISM_DTYPE_F16, PRISM_DTYPE_BF16}) {
    SCOPED_TRACE(dt == PRISM_DTYPE_F16 ? "float16" : "bfloat16");
    // results on each device, read back as raw 16-bit patterns
    auto run = [&](const char* dev) {
      T a32, b32, a, b, sum, prod, ex, total, back;
      EXPECT_OK(prism_from_data(v.data(), sizes, 1, PRISM_DTYPE_F32, dev, a32.out()));
      EXPECT_OK(prism_from_data(w.data(), sizes, 1, PRISM_DTYPE_F32, dev, b32.out()));
      EXPECT_OK(prism_to_dtype(a32.get(), dt, a.out()));  // f32 -> half on the device
      EXPECT_OK(prism_to_dtype(b32.get(), dt, b.out()));
      EXPECT_OK(prism_add(a.get(), b.get(), 0.5, sum.out()));
      EXPECT_OK(prism_mul(a.get(), b.get(), prod.out()));
      EXPECT_OK(prism_maximum(a.get(), b.get(), ex.out()));
      EXPECT_OK(prism_to_dtype(sum.get(), PRISM_DTYPE_F32, back.out()));  // half -> f32
      std::vector<std::vector<uint16_t>> bits;
      for (const T* t : {&a, &sum, &prod, &ex}) bits.push_back(to_host<uint16_t>(t->get()));
      bits.emplace_back();
      for (float f : to_host<float>(back.get())) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        bits.back().push_back(static_cast<uint16_t>(u >> 16));
        bits.back().push_back(static_cast<uint16_t>(u));
      }
      return bits;
    };
    const auto ocl = run(kOcl);
    const auto cpu = run(kCpu);
    ASSERT_EQ(ocl.size(), cpu.size());
    const char* what[] = {"to_dtype", "add alpha=0.5", "mul", "maximum", "to f32"};
    for (size_t k = 0; k < ocl.size(); ++k) {
      ASSERT_EQ(ocl[k].size(), cpu[k].size()) << what[k];
      size_t bad = 0;
      const uint16_t inf = dt == PRISM_DTYPE_F16 ? 0x7C00u : 0x7F80u;
      auto nan16 = [&](uint16_t x) { return (x & 0x7FFFu) > inf; };
      for (size_t i = 0; i < ocl[k].size() && bad < 5; ++i) {
        // NaN is NaN: its payload after an op is the processor's business
        const bool both_nan = k < 4 ? nan16(ocl[k][i]) && nan16(cpu[k][i]) : i / 2 == 3;
        if (ocl[k][i] != cpu[k][i] && !both_nan) {
          ++bad;
          ADD_FAILURE() << what[k] << " element " << i << ": opencl 0x" << std::hex << ocl[k][i] << ", cpu 0x"
                        << cpu[k][i];
        }
      }
    }
    EXPECT_EQ(ocl[0][3], cpu[0][3]);  // a NaN converted from f32 keeps sign and payload top
    EXPECT_GT(ocl[0][3] & 0x7FFFu, dt == PRISM_DTYPE_F16 ? 0x7C00u : 0x7F80u);
    EXPECT_GT(ocl[1][3] & 0x7FFFu, dt == PRISM_DTYPE_F16 ? 0x7C00u : 0x7F80u);  // NaN + x is NaN
  }
}

// Out of device memory is an error, never an abort inside the driver (PoCL
// accepts any clCreateBuffer and asserts at first use: Note [OpenCL memory
// accounting]). Untouched buffers cost no host memory, so the device's whole
// reported memory can be asked for without using it.
TEST_F(OpenCL, OutOfDeviceMemoryIsAnErrorAndTheProgramGoesOn) {
  prism_device_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  int32_t n = 0;
  ASSERT_OK(prism_device_count(&n));
  for (int32_t i = 0; i < n; ++i) {
    ASSERT_OK(prism_device_info_get(i, &info));
    if (std::strcmp(info.device, kOcl) == 0) break;
  }
  ASSERT_STREQ(info.device, kOcl);
  ASSERT_GT(info.total_memory, 0u);
  auto v = random_floats(1000, 3, -1, 1);
  const int64_t sizes[1] = {1000};
  T keep;
  ASSERT_OK(prism_from_data(v.data(), sizes, 1, PRISM_DTYPE_F32, kOcl, keep.out()));

  // One request beyond the device's memory.
  const int64_t beyond[1] = {static_cast<int64_t>(info.total_memory + 1)};
  T big;
  EXPECT_EQ(prism_empty(beyond, 1, PRISM_DTYPE_U8, kOcl, big.out()), PRISM_ERROR_OUT_OF_MEMORY)
      << prism_last_error();
  EXPECT_EQ(big.get(), nullptr);

  // Requests that each fit but together go beyond it: at most four succeed.
  const int64_t quarter[1] = {static_cast<int64_t>(info.total_memory / 4 + (8 << 20))};
  std::vector<T> held;
  prism_status last = PRISM_OK;
  for (int k = 0; k < 5 && last == PRISM_OK; ++k) {
    T t;
    last = prism_empty(quarter, 1, PRISM_DTYPE_U8, kOcl, t.out());
    if (last == PRISM_OK) held.push_back(std::move(t));
  }
  EXPECT_EQ(last, PRISM_ERROR_OUT_OF_MEMORY) << prism_last_error();
  EXPECT_LE(held.size(), 3u);
  EXPECT_NE(std::string(prism_last_error()).find(kOcl), std::string::npos) << prism_last_error();
  held.clear();
  ASSERT_OK(prism_memory_empty_cache(kOcl));

  // A small cap on the device: beyond it is OUT_OF_MEMORY, below it works.
  ASSERT_OK(prism_memory_set_limit(kOcl, 1 << 20));
  uint64_t limit = 0;
  ASSERT_OK(prism_memory_get_limit(kOcl, &limit));
  EXPECT_EQ(limit, 1u << 20);
  const int64_t two_mib[1] = {2 << 20};
  T over, ok, sum;
  EXPECT_EQ(prism_empty(two_mib, 1, PRISM_DTYPE_U8, kOcl, over.out()), PRISM_ERROR_OUT_OF_MEMORY);
  EXPECT_NE(std::string(prism_last_error()).find("memory limit"), std::string::npos) << prism_last_error();

  // The program goes on: kernels run and the old tensor is intact.
  ASSERT_OK(prism_mul(keep.get(), keep.get(), ok.out()));
  ASSERT_OK(prism_sum(keep.get(), nullptr, 0, 0, sum.out()));
  EXPECT_EQ(to_host<float>(keep.get()), v);
  ASSERT_OK(prism_memory_set_limit(kOcl, 0));
}

TEST_F(OpenCL, RoundTripAndOffsetsAndFill) {
  auto v = random_floats(1000, 5, -1, 1);
  const int64_t sizes[1] = {1000};
  T t, n, back;
  ASSERT_OK(prism_from_data(v.data(), sizes, 1, PRISM_DTYPE_F32, kOcl, t.out()));
  EXPECT_EQ(to_host<float>(t.get()), v);
  ASSERT_OK(prism_narrow(t.get(), 0, 17, 100, n.out()));
  ASSERT_OK(prism_fill_(n.get(), 3.5));
  auto w = to_host<float>(t.get());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i], (i >= 17 && i < 117) ? 3.5f : v[i]) << i;
  T f;
  const int64_t s2[2] = {7, 9};
  ASSERT_OK(prism_full(s2, 2, -2.25, PRISM_DTYPE_F32, kOcl, f.out()));
  for (float x : to_host<float>(f.get())) EXPECT_EQ(x, -2.25f);
}

TEST_F(OpenCL, PinnedHostMemoryCopiesBothWays) {
  // host_alloc (plugin ABI 1.1): a mapped CL_MEM_ALLOC_HOST_PTR buffer holds
  // the host copy; copies to the device read it directly, and released blocks
  // are reused and finally freed by empty_cache.
  auto v = random_floats(3000, 9, -1, 1);
  const int64_t sizes[2] = {60, 50};
  T h;
  ASSERT_OK(prism_from_data(v.data(), sizes, 2, PRISM_DTYPE_F32, "cpu", h.out()));
  for (int round = 0; round < 3; ++round) {
    T pin, dev, back;
    ASSERT_OK(prism_pin_memory(h.get(), kOcl, pin.out()));
    EXPECT_EQ(prism_tensor_is_pinned(pin.get()), 1);
    EXPECT_STREQ(prism_tensor_device(pin.get()), "cpu:0");
    EXPECT_EQ(to_host<float>(pin.get()), v);
    ASSERT_OK(prism_to_device(pin.get(), kOcl, dev.out()));
    EXPECT_EQ(to_host<float>(dev.get()), v);
    ASSERT_OK(prism_add(dev.get(), dev.get(), 1.0, back.out()));
    ASSERT_OK(prism_copy_(pin.get(), back.get()));  // device -> pinned host
    auto w = to_host<float>(pin.get());
    for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], 2.0f * v[i]) << i;
  }
  ASSERT_OK(prism_memory_empty_cache(kOcl));
  T dev_t, bad;
  ASSERT_OK(prism_to_device(h.get(), kOcl, dev_t.out()));
  EXPECT_EQ(prism_pin_memory(dev_t.get(), kOcl, bad.out()), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(prism_last_error()).find("not in host memory"), std::string::npos)
      << prism_last_error();
}

// ===========================================================================
// Elementwise ops against the CPU device, f32, four layouts
// ===========================================================================

TEST_F(OpenCL, UnaryOpsMatchCpu) {
  struct U {
    const char* name;
    prism_status (*fn)(prism_tensor_t, prism_tensor_t*);
    bool positive;
  };
  const U ops[] = {{"neg", prism_neg, false},         {"abs", prism_abs, false},
                   {"sign", prism_sign, false},       {"exp", prism_exp, false},
                   {"log", prism_log, true},          {"log1p", prism_log1p, true},
                   {"expm1", prism_expm1, false},     {"sqrt", prism_sqrt, true},
                   {"rsqrt", prism_rsqrt, true},      {"reciprocal", prism_reciprocal, true},
                   {"square", prism_square, false},   {"sin", prism_sin, false},
                   {"cos", prism_cos, false},         {"tanh", prism_tanh, false},
                   {"sigmoid", prism_sigmoid, false}, {"relu", prism_relu, false},
                   {"gelu", prism_gelu, false},       {"silu", prism_silu, false},
                   {"floor", prism_floor, false},     {"ceil", prism_ceil, false},
                   {"round", prism_round, false}};
  for (const U& u : ops) check_unary(u.name, u.fn, u.positive ? 0.05f : -3.f, 3.f);
}

TEST_F(OpenCL, BinaryOpsMatchCpu) {
  check_binary("add",
               [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) { return prism_add(a, b, 1.0, o); });
  check_binary("add alpha", [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
    return prism_add(a, b, -0.5, o);
  });
  check_binary("sub",
               [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) { return prism_sub(a, b, 2.0, o); });
  check_binary("mul", prism_mul);
  check_binary("div", prism_div);
  check_binary("div floor", [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
    return prism_div_mode(a, b, PRISM_ROUNDING_FLOOR, o);
  });
  check_binary("div trunc", [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
    return prism_div_mode(a, b, PRISM_ROUNDING_TRUNC, o);
  });
  check_binary("remainder", prism_remainder);
  check_binary("pow", prism_pow, 0.1f, 2.f);
  check_binary("maximum", prism_maximum);
  check_binary("minimum", prism_minimum);
}

TEST_F(OpenCL, ComparisonsLogicalWhereClampMatchCpu) {
  check_binary("eq", prism_eq, -1.f, 1.f);
  check_binary("ne", prism_ne);
  check_binary("lt", prism_lt);
  check_binary("le", prism_le);
  check_binary("gt", prism_gt);
  check_binary("ge", prism_ge);
  check_binary("logical_and", prism_logical_and);
  check_binary("logical_or", prism_logical_or);
  check_binary("logical_xor", prism_logical_xor);
  check_unary("logical_not", prism_logical_not, -1.f, 1.f);
  check_binary("where", [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
    T cond;
    prism_status s = prism_gt(a, b, cond.out());
    if (s != PRISM_OK) return s;
    return prism_where(cond.get(), a, b, o);
  });
  const double lo = -0.5, hi = 0.75;
  check_unary(
      "clamp", [&](prism_tensor_t x, prism_tensor_t* o) { return prism_clamp(x, &lo, &hi, o); }, -2.f, 2.f);
  check_unary(
      "clamp min", [&](prism_tensor_t x, prism_tensor_t* o) { return prism_clamp(x, &lo, nullptr, o); }, -2.f,
      2.f);
  check_unary(
      "clamp max", [&](prism_tensor_t x, prism_tensor_t* o) { return prism_clamp(x, nullptr, &hi, o); }, -2.f,
      2.f);
}

// Note [Flat launches]: dense operands from element 0 over a whole number of
// work-groups run kernels without an iteration argument, and add/sub with
// alpha 1 (and the ops that ignore alpha) without alpha. Each op runs on a
// 4 x 256 tensor (flat), on the same shape narrowed from row 1 of 5 x 256
// (dense, offset 256: not flat) and on 3 x 5 (dense, not a whole work-group),
// bit for bit against the CPU device.
TEST_F(OpenCL, FlatLaunchesMatchCpu) {
  struct Shape {
    int64_t rows, cols, skip;
  };
  for (const Shape sh : {Shape{4, 256, 0}, Shape{4, 256, 1}, Shape{3, 5, 0}}) {
    SCOPED_TRACE("shape " + std::to_string(sh.rows) + "x" + std::to_string(sh.cols) + " from row " +
                 std::to_string(sh.skip));
    const size_t n = static_cast<size_t>((sh.rows + sh.skip) * sh.cols);
    const auto va = random_floats(n, 21, -3, 3), vb = random_floats(n, 22, -3, 3);
    const int64_t full[2] = {sh.rows + sh.skip, sh.cols};
    auto run = [&](const char* dev) {
      T a0, b0, a, b;
      EXPECT_OK(prism_from_data(va.data(), full, 2, PRISM_DTYPE_F32, dev, a0.out()));
      EXPECT_OK(prism_from_data(vb.data(), full, 2, PRISM_DTYPE_F32, dev, b0.out()));
      EXPECT_OK(prism_narrow(a0.get(), 0, sh.skip, sh.rows, a.out()));
      EXPECT_OK(prism_narrow(b0.get(), 0, sh.skip, sh.rows, b.out()));
      std::vector<T> outs(12);
      const double lo = -1.0, hi = 2.0;
      EXPECT_OK(prism_add(a.get(), b.get(), 1.0, outs[0].out()));
      EXPECT_OK(prism_add(a.get(), b.get(), -0.5, outs[1].out()));
      EXPECT_OK(prism_sub(a.get(), b.get(), 1.0, outs[2].out()));
      EXPECT_OK(prism_mul(a.get(), b.get(), outs[3].out()));
      EXPECT_OK(prism_maximum(a.get(), b.get(), outs[4].out()));
      EXPECT_OK(prism_relu(a.get(), outs[5].out()));
      EXPECT_OK(prism_lt(a.get(), b.get(), outs[6].out()));
      EXPECT_OK(prism_where(outs[6].get(), a.get(), b.get(), outs[7].out()));
      EXPECT_OK(prism_clamp(a.get(), &lo, &hi, outs[8].out()));
      EXPECT_OK(prism_to_dtype(a.get(), PRISM_DTYPE_I32, outs[9].out()));
      EXPECT_OK(prism_add(outs[9].get(), outs[9].get(), 3.0, outs[10].out()));  // i32, alpha 3
      EXPECT_OK(prism_add_(a.get(), b.get(), 1.0));                             // in place, on the view
      std::vector<std::vector<uint8_t>> bytes;
      for (size_t k = 0; k < 11; ++k) {
        prism_tensor_t t = outs[k].get();
        std::vector<uint8_t> v(static_cast<size_t>(prism_tensor_numel(t)) *
                               prism_dtype_size(prism_tensor_dtype(t)));
        EXPECT_OK(prism_tensor_copy_to_host(t, v.data(), v.size()));
        bytes.push_back(v);
      }
      std::vector<uint8_t> whole(n * sizeof(float));
      EXPECT_OK(
          prism_tensor_copy_to_host(a0.get(), whole.data(), whole.size()));  // rows outside the view kept
      bytes.push_back(whole);
      return bytes;
    };
    const auto ocl = run(kOcl), cpu = run(kCpu);
    const char* what[] = {"add", "add alpha -0.5", "sub",   "mul",    "maximum",         "relu",
                          "lt",  "where",          "clamp", "to i32", "i32 add alpha 3", "add_ in place"};
    ASSERT_EQ(ocl.size(), cpu.size());
    for (size_t k = 0; k < ocl.size(); ++k) EXPECT_EQ(ocl[k], cpu[k]) << what[k];
  }
}

TEST_F(OpenCL, InPlaceOpsWriteTheirInput) {
  for (Layout l : {Layout::kContiguous, Layout::kTransposed, Layout::kOffset}) {
    T ao = make(l, kOcl, 7), ac = make(l, kCpu, 7), bo = make(l, kOcl, 8), bc = make(l, kCpu, 8);
    ASSERT_OK(prism_add_(ac.get(), bc.get(), 0.25));
    ASSERT_OK(prism_add_(ao.get(), bo.get(), 0.25));
    ASSERT_OK(prism_exp_(ac.get()));
    ASSERT_OK(prism_exp_(ao.get()));
    expect_close(ao.get(), ac.get(), 1e-5, 1e-5, std::string("add_/exp_ ") + layout_name(l));
  }
}

TEST_F(OpenCL, CastsMatchCpu) {
  const prism_dtype dts[] = {PRISM_DTYPE_BOOL, PRISM_DTYPE_U8,  PRISM_DTYPE_I8,  PRISM_DTYPE_I16,
                             PRISM_DTYPE_I32,  PRISM_DTYPE_I64, PRISM_DTYPE_F64, PRISM_DTYPE_F32};
  for (Layout l : kLayouts) {
    T xo = make(l, kOcl, 11, -300.f, 300.f), xc = make(l, kCpu, 11, -300.f, 300.f);
    for (prism_dtype dt : dts) {
      T ro, rc, back_o, back_c;
      ASSERT_OK(prism_to_dtype(xc.get(), dt, rc.out()));
      ASSERT_EQ(prism_to_dtype(xo.get(), dt, ro.out()), PRISM_OK)
          << prism_dtype_name(dt) << ": " << prism_last_error();
      expect_close(ro.get(), rc.get(), 0, 0,
                   std::string("f32 -> ") + prism_dtype_name(dt) + " " + layout_name(l));
      // and back to f32 on the device
      ASSERT_OK(prism_to_dtype(rc.get(), PRISM_DTYPE_F32, back_c.out()));
      ASSERT_OK(prism_to_dtype(ro.get(), PRISM_DTYPE_F32, back_o.out()));
      expect_close(back_o.get(), back_c.get(), 0, 0, std::string(prism_dtype_name(dt)) + " -> f32");
    }
  }
}

TEST_F(OpenCL, IntegerAndDoubleOpsMatchCpu) {
  for (prism_dtype dt : {PRISM_DTYPE_I32, PRISM_DTYPE_I64, PRISM_DTYPE_F64}) {
    check_binary(
        "add", [](prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) { return prism_add(a, b, 3.0, o); },
        -100.f, 100.f, 1e-12, dt);
    check_binary("mul", prism_mul, -100.f, 100.f, 1e-12, dt);
    check_binary("maximum", prism_maximum, -100.f, 100.f, 0, dt);
    check_binary("lt", prism_lt, -100.f, 100.f, 0, dt);
  }
}

// ===========================================================================
// Reductions
// ===========================================================================

TEST_F(OpenCL, ReductionsMatchCpu) {
  using Red = prism_status (*)(prism_tensor_t, const int64_t*, int32_t, int32_t, prism_tensor_t*);
  struct R {
    const char* name;
    Red fn;
    float lo, hi;
  };
  const R reds[] = {{"sum", prism_sum, -2, 2},   {"prod", prism_prod, 0.8f, 1.2f},
                    {"amax", prism_amax, -2, 2}, {"amin", prism_amin, -2, 2},
                    {"all", prism_all, -1, 1},   {"any", prism_any, -1, 1},
                    {"mean", prism_mean, -2, 2}};
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {-1, -2}};
  for (const R& r : reds) {
    for (Layout l : kLayouts) {
      T xo = make(l, kOcl, 21, r.lo, r.hi), xc = make(l, kCpu, 21, r.lo, r.hi);
      for (const auto& dims : dim_sets) {
        for (int keep = 0; keep < 2; ++keep) {
          T ro, rc;
          ASSERT_OK(r.fn(xc.get(), dims.data(), static_cast<int32_t>(dims.size()), keep, rc.out()));
          ASSERT_EQ(r.fn(xo.get(), dims.data(), static_cast<int32_t>(dims.size()), keep, ro.out()), PRISM_OK)
              << r.name << ": " << prism_last_error();
          expect_close(ro.get(), rc.get(), 1e-5, 1e-5,
                       std::string(r.name) + " " + layout_name(l) + " dims " + std::to_string(dims.size()));
        }
      }
    }
  }
}

TEST_F(OpenCL, LargeSumUsesTheTree) {
  const int64_t sizes[2] = {3, 100000};
  auto v = random_floats(300000, 31, -1, 1);
  T xo, xc, ro, rc;
  ASSERT_OK(prism_from_data(v.data(), sizes, 2, PRISM_DTYPE_F32, kOcl, xo.out()));
  ASSERT_OK(prism_from_data(v.data(), sizes, 2, PRISM_DTYPE_F32, kCpu, xc.out()));
  const int64_t dim = 1;
  ASSERT_OK(prism_sum(xc.get(), &dim, 1, 0, rc.out()));
  ASSERT_OK(prism_sum(xo.get(), &dim, 1, 0, ro.out()));
  expect_close(ro.get(), rc.get(), 1e-4, 1e-3, "sum of 100000");
  T mo, mc;
  ASSERT_OK(prism_argmax(xc.get(), 1, 0, mc.out()));
  ASSERT_OK(prism_argmax(xo.get(), 1, 0, mo.out()));
  expect_close(mo.get(), mc.get(), 0, 0, "argmax of 100000");
}

TEST_F(OpenCL, ArgReductionsMatchCpu) {
  for (Layout l : kLayouts) {
    T xo = make(l, kOcl, 41, -3, 3), xc = make(l, kCpu, 41, -3, 3);
    for (int64_t dim = 0; dim < 3; ++dim) {
      for (int keep = 0; keep < 2; ++keep) {
        T ro, rc;
        ASSERT_OK(prism_argmax(xc.get(), dim, keep, rc.out()));
        ASSERT_OK(prism_argmax(xo.get(), dim, keep, ro.out()));
        expect_close(ro.get(), rc.get(), 0, 0, std::string("argmax ") + layout_name(l));
        ASSERT_OK(prism_argmin(xc.get(), dim, keep, rc.out()));
        ASSERT_OK(prism_argmin(xo.get(), dim, keep, ro.out()));
        expect_close(ro.get(), rc.get(), 0, 0, std::string("argmin ") + layout_name(l));
      }
    }
  }
  // NaN wins and ties keep the first index
  const float v[6] = {1, 5, 5, NAN, 2, NAN};
  const int64_t sizes[1] = {6};
  T x, i;
  ASSERT_OK(prism_from_data(v, sizes, 1, PRISM_DTYPE_F32, kOcl, x.out()));
  int64_t idx = -1;
  ASSERT_OK(prism_argmax(x.get(), 0, 0, i.out()));
  ASSERT_OK(prism_tensor_item_int64(i.get(), &idx));
  EXPECT_EQ(idx, 3);
  ASSERT_OK(prism_argmin(x.get(), 0, 0, i.out()));
  ASSERT_OK(prism_tensor_item_int64(i.get(), &idx));
  EXPECT_EQ(idx, 3);
  T y, j;
  ASSERT_OK(prism_from_data(v, sizes, 1, PRISM_DTYPE_F32, kOcl, y.out()));
  T y3;
  ASSERT_OK(prism_narrow(y.get(), 0, 0, 3, y3.out()));
  ASSERT_OK(prism_argmax(y3.get(), 0, 0, j.out()));
  ASSERT_OK(prism_tensor_item_int64(j.get(), &idx));
  EXPECT_EQ(idx, 1);
}

TEST_F(OpenCL, EmptyReductionIsAnError) {
  const int64_t sizes[2] = {3, 0};
  T x, r;
  ASSERT_OK(prism_empty(sizes, 2, PRISM_DTYPE_F32, kOcl, x.out()));
  const int64_t dim = 1;
  ASSERT_OK(prism_sum(x.get(), &dim, 1, 0, r.out()));
  for (float s : to_host<float>(r.get())) EXPECT_EQ(s, 0.f);
  EXPECT_EQ(prism_amax(x.get(), &dim, 1, 0, r.out()), PRISM_ERROR_INVALID_ARGUMENT);
}

// ===========================================================================
// bmm / matmul
// ===========================================================================

TEST_F(OpenCL, BmmMatchesCpu) {
  const int64_t B = 2, M = 33, K = 17, N = 29;
  auto av = random_floats(B * M * K, 51, -1, 1);
  auto bv = random_floats(B * K * N, 52, -1, 1);
  for (int pass = 0; pass < 2; ++pass) {  // CLBlast where it fits, then the tiled kernel everywhere
    if (pass == 1) setenv("PRISM_OPENCL_GEMM", "tiled", 1);
    for (int variant = 0; variant < 4; ++variant) {
      T a[2], b[2], r[2];
      for (int dev = 0; dev < 2; ++dev) {
        const char* d = dev == 0 ? kOcl : kCpu;
        T a0, b0;
        if (variant == 1) {  // transposed a: stored (B, K, M)
          const int64_t s[3] = {B, K, M};
          ASSERT_OK(prism_from_data(av.data(), s, 3, PRISM_DTYPE_F32, d, a0.out()));
          ASSERT_OK(prism_transpose(a0.get(), 1, 2, a[dev].out()));
        } else if (variant == 3) {  // offset view of a wider a
          const int64_t s[3] = {B, M, K - 4};
          (void)s;
          const int64_t s2[3] = {B, M, K};
          ASSERT_OK(prism_from_data(av.data(), s2, 3, PRISM_DTYPE_F32, d, a0.out()));
          ASSERT_OK(prism_narrow(a0.get(), 2, 2, K - 4, a[dev].out()));
        } else {
          const int64_t s[3] = {B, M, K};
          ASSERT_OK(prism_from_data(av.data(), s, 3, PRISM_DTYPE_F32, d, a[dev].out()));
        }
        const int64_t kb = variant == 3 ? K - 4 : K;
        if (variant == 2) {  // broadcast batch: b expanded from (1, K, N)
          const int64_t s[3] = {1, kb, N};
          const int64_t full[3] = {B, kb, N};
          ASSERT_OK(prism_from_data(bv.data(), s, 3, PRISM_DTYPE_F32, d, b0.out()));
          ASSERT_OK(prism_expand(b0.get(), full, 3, b[dev].out()));
        } else if (variant == 1) {  // transposed b too
          const int64_t s[3] = {B, N, kb};
          ASSERT_OK(prism_from_data(bv.data(), s, 3, PRISM_DTYPE_F32, d, b0.out()));
          ASSERT_OK(prism_transpose(b0.get(), 1, 2, b[dev].out()));
        } else {
          const int64_t s[3] = {B, kb, N};
          ASSERT_OK(prism_from_data(bv.data(), s, 3, PRISM_DTYPE_F32, d, b[dev].out()));
        }
        ASSERT_EQ(prism_bmm(a[dev].get(), b[dev].get(), r[dev].out()), PRISM_OK)
            << variant << ": " << prism_last_error();
      }
      expect_close(r[0].get(), r[1].get(), 1e-4, 1e-4,
                   std::string(pass == 0 ? "auto" : "tiled") + " bmm variant " + std::to_string(variant));
    }
  }
  unsetenv("PRISM_OPENCL_GEMM");
}

TEST_F(OpenCL, TiledGemmMatchesCpu) {
  setenv("PRISM_OPENCL_GEMM", "tiled", 1);
  const int64_t s1[2] = {70, 45}, s2[2] = {45, 38};
  auto av = random_floats(70 * 45, 61, -1, 1), bv = random_floats(45 * 38, 62, -1, 1);
  T ao, bo, ac, bc, ro, rc;
  ASSERT_OK(prism_from_data(av.data(), s1, 2, PRISM_DTYPE_F32, kOcl, ao.out()));
  ASSERT_OK(prism_from_data(bv.data(), s2, 2, PRISM_DTYPE_F32, kOcl, bo.out()));
  ASSERT_OK(prism_from_data(av.data(), s1, 2, PRISM_DTYPE_F32, kCpu, ac.out()));
  ASSERT_OK(prism_from_data(bv.data(), s2, 2, PRISM_DTYPE_F32, kCpu, bc.out()));
  ASSERT_OK(prism_matmul(ac.get(), bc.get(), rc.out()));
  ASSERT_OK(prism_matmul(ao.get(), bo.get(), ro.out()));
  unsetenv("PRISM_OPENCL_GEMM");
  expect_close(ro.get(), rc.get(), 1e-4, 1e-4, "tiled matmul");
}

// ===========================================================================
// Random numbers: bit-identical to the CPU plugin (Note [Philox streams])
// ===========================================================================

template <class V>
void expect_same_bits(prism_tensor_t ocl, prism_tensor_t cpu, const char* what) {
  auto a = to_host<V>(ocl);
  auto b = to_host<V>(cpu);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(V)), 0) << what;
}

TEST_F(OpenCL, RandomFillsAreBitIdenticalToCpu) {
  const int64_t sizes[2] = {37, 129};
  for (prism_dtype dt : {PRISM_DTYPE_F32, PRISM_DTYPE_F64}) {
    T o, c;
    ASSERT_OK(prism_manual_seed(1234));
    ASSERT_OK(prism_rand(sizes, 2, dt, kOcl, o.out()));
    ASSERT_OK(prism_manual_seed(1234));
    ASSERT_OK(prism_rand(sizes, 2, dt, kCpu, c.out()));
    if (dt == PRISM_DTYPE_F32)
      expect_same_bits<float>(o.get(), c.get(), "rand f32");
    else
      expect_same_bits<double>(o.get(), c.get(), "rand f64");
    ASSERT_OK(prism_manual_seed(99));
    ASSERT_OK(prism_randn(sizes, 2, dt, kOcl, o.out()));
    ASSERT_OK(prism_manual_seed(99));
    ASSERT_OK(prism_randn(sizes, 2, dt, kCpu, c.out()));
    if (dt == PRISM_DTYPE_F32)
      expect_same_bits<float>(o.get(), c.get(), "randn f32");
    else
      expect_same_bits<double>(o.get(), c.get(), "randn f64");
  }
  for (prism_dtype dt : {PRISM_DTYPE_I64, PRISM_DTYPE_I32}) {
    T o, c;
    ASSERT_OK(prism_manual_seed(7));
    ASSERT_OK(prism_randint(-50, 1000, sizes, 2, dt, kOcl, o.out()));
    ASSERT_OK(prism_manual_seed(7));
    ASSERT_OK(prism_randint(-50, 1000, sizes, 2, dt, kCpu, c.out()));
    if (dt == PRISM_DTYPE_I64)
      expect_same_bits<int64_t>(o.get(), c.get(), "randint i64");
    else
      expect_same_bits<int32_t>(o.get(), c.get(), "randint i32");
  }
  T o, c;
  ASSERT_OK(prism_manual_seed(5));
  ASSERT_OK(prism_bernoulli_scalar(sizes, 2, 0.3, PRISM_DTYPE_F32, kOcl, o.out()));
  ASSERT_OK(prism_manual_seed(5));
  ASSERT_OK(prism_bernoulli_scalar(sizes, 2, 0.3, PRISM_DTYPE_F32, kCpu, c.out()));
  expect_same_bits<float>(o.get(), c.get(), "bernoulli scalar");
  T po, pc;
  ASSERT_OK(prism_manual_seed(6));
  ASSERT_OK(prism_rand(sizes, 2, PRISM_DTYPE_F32, kCpu, pc.out()));
  ASSERT_OK(prism_to_device(pc.get(), kOcl, po.out()));
  ASSERT_OK(prism_manual_seed(8));
  ASSERT_OK(prism_bernoulli(po.get(), o.out()));
  ASSERT_OK(prism_manual_seed(8));
  ASSERT_OK(prism_bernoulli(pc.get(), c.out()));
  expect_same_bits<float>(o.get(), c.get(), "bernoulli tensor");
}

// ===========================================================================
// Asynchrony, memory, bad input
// ===========================================================================

TEST_F(OpenCL, LongChainWithoutHostReadsIsOrdered) {
  const int64_t sizes[1] = {4096};
  T x;
  ASSERT_OK(prism_zeros(sizes, 1, PRISM_DTYPE_F32, kOcl, x.out()));
  T one;
  ASSERT_OK(prism_ones(sizes, 1, PRISM_DTYPE_F32, kOcl, one.out()));
  for (int i = 0; i < 500; ++i) ASSERT_OK(prism_add_(x.get(), one.get(), 1.0));
  for (float v : to_host<float>(x.get())) ASSERT_EQ(v, 500.f);
}

TEST_F(OpenCL, OutOfMemoryIsReportedAndOnlyThatTensorFails) {
  const int64_t keep_sizes[1] = {16};
  T keep;
  ASSERT_OK(prism_full(keep_sizes, 1, 1.5, PRISM_DTYPE_F32, kOcl, keep.out()));
  const int64_t huge[2] = {int64_t{1} << 20, int64_t{1} << 22};  // 16 TiB of f32
  T t;
  EXPECT_EQ(prism_empty(huge, 2, PRISM_DTYPE_F32, kOcl, t.out()), PRISM_ERROR_OUT_OF_MEMORY)
      << prism_last_error();
  EXPECT_NE(std::string(prism_last_error()).find("opencl"), std::string::npos) << prism_last_error();
  for (float v : to_host<float>(keep.get())) EXPECT_EQ(v, 1.5f);
}

// ===========================================================================
// The on-disk program cache (Note [Program cache])
// ===========================================================================

// Runs an add and checks the result; also the child of ProgramCache below.
TEST_F(OpenCL, CacheChildRunsAnAdd) {
  const int64_t sizes[1] = {1000};
  auto v = random_floats(1000, 71, -1, 1);
  T a, r;
  ASSERT_OK(prism_from_data(v.data(), sizes, 1, PRISM_DTYPE_F32, kOcl, a.out()));
  ASSERT_OK(prism_add(a.get(), a.get(), 1.0, r.out()));
  auto w = to_host<float>(r.get());
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], v[i] + v[i]);
}

std::vector<std::string> cache_files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 6 && name.substr(name.size() - 6) == ".clbin") {
        std::string path = dir;
        path += '/';
        path += name;
        out.push_back(path);
      }
    }
    closedir(d);
  }
  return out;
}

TEST_F(OpenCL, CorruptCacheEntriesAreRebuilt) {
  char tmpl[] = "/tmp/prism-ocl-cache-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl, dir = root + "/opencl";
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  const std::string child =
      "PRISM_CACHE_DIR=" + root + " '" + exe + "' --gtest_filter=OpenCL.CacheChildRunsAnAdd > /dev/null";
  ASSERT_EQ(std::system(child.c_str()), 0);
  auto files = cache_files(dir);
  ASSERT_FALSE(files.empty()) << "no program written to " << dir;
  std::vector<off_t> sizes;
  for (const auto& f : files) {  // corrupt: flip a byte in the middle of the payload, then truncate another
    struct stat st;
    ASSERT_EQ(stat(f.c_str(), &st), 0);
    sizes.push_back(st.st_size);
    FILE* fp = std::fopen(f.c_str(), "r+b");
    ASSERT_NE(fp, nullptr);
    std::fseek(fp, st.st_size / 2, SEEK_SET);
    const int c = std::fgetc(fp);
    std::fseek(fp, st.st_size / 2, SEEK_SET);
    std::fputc(c ^ 0x5A, fp);
    std::fclose(fp);
  }
  ASSERT_EQ(truncate(files[0].c_str(), sizes[0] / 3), 0);
  ASSERT_EQ(std::system(child.c_str()), 0) << "a corrupt cache entry broke the program";
  for (size_t i = 0; i < files.size(); ++i) {  // rewritten whole
    struct stat st;
    ASSERT_EQ(stat(files[i].c_str(), &st), 0);
    EXPECT_EQ(st.st_size, sizes[i]) << files[i];
  }
  ASSERT_EQ(std::system(child.c_str()), 0);  // and the rebuilt entries load
  std::system(("rm -rf '" + root + "'").c_str());
}

// ===========================================================================
// A kernel build failure reports the build log (run by ctest with
// PRISM_OPENCL_BUILD_OPTIONS=-DPRISM_T=not_a_type, entry
// prism_opencl_build_failure)
// ===========================================================================

TEST(BuildFailure, ReportsTheBuildLog) {
  const char* opts = std::getenv("PRISM_OPENCL_BUILD_OPTIONS");
  if (opts == nullptr || std::strstr(opts, "not_a_type") == nullptr) {
    GTEST_SKIP() << "skipped: needs PRISM_OPENCL_BUILD_OPTIONS=-DPRISM_T=not_a_type (ctest entry "
                    "prism_opencl_build_failure)";
  }
  const std::string why = opencl_unavailable();
  if (!why.empty() && prism_test_device_required("opencl:0"))
    GTEST_FAIL() << "an OpenCL device is required (PRISM_REQUIRE_DEVICES) but absent: " << why;
  if (!why.empty()) GTEST_SKIP() << "skipped: " << why;
  ASSERT_OK(prism_fallback_set_policy(PRISM_FALLBACK_ERROR));
  const int64_t sizes[1] = {8};
  const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  T a, r;
  ASSERT_OK(prism_from_data(v, sizes, 1, PRISM_DTYPE_F32, kOcl, a.out()));  // a plain write: no kernel
  EXPECT_EQ(prism_neg(a.get(), r.out()), PRISM_ERROR_INTERNAL);
  const std::string msg = prism_last_error();
  std::printf("  error: %.400s\n", msg.c_str());
  EXPECT_NE(msg.find("build log"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not_a_type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CL_BUILD_PROGRAM_FAILURE"), std::string::npos) << msg;
  EXPECT_EQ(to_host<float>(a.get())[7], 8.f) << "the input survives";
}

// ===========================================================================
// No platform (run by ctest with OCL_ICD_VENDORS pointing to an empty dir)
// ===========================================================================

TEST(NoPlatform, ZeroDevicesWithAReason) {
  const char* vendors = std::getenv("OCL_ICD_VENDORS");
  if (vendors == nullptr)
    GTEST_SKIP() << "skipped: needs OCL_ICD_VENDORS=<empty dir> (ctest entry prism_opencl_no_platform)";
  ASSERT_EQ(prism_plugin_load(PRISM_OPENCL_PLUGIN_PATH), PRISM_OK) << prism_last_error();
  size_t rows = 0;
  ASSERT_EQ(prism_load_report_count(&rows), PRISM_OK);
  bool seen = false;
  for (size_t i = 0; i < rows; ++i) {
    prism_load_report_row row;
    std::memset(&row, 0, sizeof row);
    row.struct_size = sizeof row;
    ASSERT_EQ(prism_load_report_get(i, &row), PRISM_OK);
    if (std::strcmp(row.plugin_name, "opencl") != 0) continue;
    seen = true;
    EXPECT_EQ(row.loaded, 1);
    EXPECT_EQ(row.device_count, 0);
    EXPECT_NE(std::string(row.reason).find("no OpenCL platform"), std::string::npos) << row.reason;
    std::printf("  reason: %s\n", row.reason);
  }
  EXPECT_TRUE(seen);
  T t;
  const int64_t s[1] = {4};
  EXPECT_NE(prism_empty(s, 1, PRISM_DTYPE_F32, "opencl:0", t.out()), PRISM_OK);
}

}  // namespace
