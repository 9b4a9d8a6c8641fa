// gpu_no_device_test.cpp — the CUDA / ROCm plugin on a machine without that GPU: it loads beside the CPU
// plugin with zero devices and the runtime's own message as the reason, and nothing else changes.
//
// Built twice (backends/gpu_common/tests/CMakeLists.txt): with PRISM_GPU_CUDA against the static CUDA
// runtime, with PRISM_GPU_HIP against libamdhip64. The test asks the runtime itself why it has no device,
// so the expected reason is the runtime's message on this machine, not a copy of it. On a machine with a
// device of that kind the tests skip ("skipped: a device is present"); prism-conformance then runs for real.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "prism/prism.h"

#if defined(PRISM_GPU_CUDA)
#include <cuda_runtime_api.h>
namespace {
const char* const kPlugin = "cuda";
const char* const kCountCall = "cudaGetDeviceCount";
// The runtime's own answer: count, message and error name.
int runtime_devices(std::string* message, std::string* name) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess) return n;
  *message = cudaGetErrorString(e);
  *name = cudaGetErrorName(e);
  return 0;
}
}  // namespace
#elif defined(PRISM_GPU_HIP)
#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#include <hip/hip_runtime_api.h>
namespace {
const char* const kPlugin = "rocm";
const char* const kCountCall = "hipGetDeviceCount";
int runtime_devices(std::string* message, std::string* name) {
  int n = 0;
  const hipError_t e = hipGetDeviceCount(&n);
  if (e == hipSuccess) return n;
  *message = hipGetErrorString(e);
  *name = hipGetErrorName(e);
  return 0;
}
}  // namespace
#else
#error "define PRISM_GPU_CUDA or PRISM_GPU_HIP"
#endif

namespace {

#define ASSERT_OK(expr) ASSERT_EQ((expr), PRISM_OK) << #expr << ": " << prism_last_error()

struct Tensor {
  prism_tensor_t t = nullptr;
  ~Tensor() { prism_tensor_release(t); }
};

class NoDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (runtime_devices(&message_, &name_) > 0) GTEST_SKIP() << "skipped: a device is present";
    ASSERT_OK(prism_plugin_load(PRISM_CPU_PLUGIN_PATH));
    ASSERT_OK(prism_plugin_load(PRISM_GPU_PLUGIN_PATH));
  }

  // The load-report row of plugin `name`; fails the test when absent.
  static bool row_of(const char* name, prism_load_report_row* out) {
    size_t rows = 0;
    if (prism_load_report_count(&rows) != PRISM_OK) return false;
    for (size_t i = 0; i < rows; ++i) {
      prism_load_report_row row;
      std::memset(&row, 0, sizeof row);
      row.struct_size = sizeof row;
      if (prism_load_report_get(i, &row) != PRISM_OK) return false;
      if (row.plugin_name != nullptr && std::strcmp(row.plugin_name, name) == 0) {
        *out = row;
        return true;
      }
    }
    return false;
  }

  std::string message_, name_;
};

TEST_F(NoDevice, LoadsWithZeroDevicesAndTheRuntimeReason) {
  prism_load_report_row row;
  ASSERT_TRUE(row_of(kPlugin, &row)) << "no load-report row for plugin '" << kPlugin << "'";
  EXPECT_EQ(row.loaded, 1);
  EXPECT_EQ(row.device_count, 0);
  const std::string reason = row.reason != nullptr ? row.reason : "";
  std::printf("  %s reason: %s\n", kPlugin, reason.c_str());
  ASSERT_FALSE(message_.empty()) << "the runtime reported no error, yet no device";
  EXPECT_NE(reason.find(kCountCall), std::string::npos) << reason;
  EXPECT_NE(reason.find(message_), std::string::npos)
      << "reason lacks the runtime's message '" << message_ << "': " << reason;
  EXPECT_NE(reason.find(name_), std::string::npos) << reason;
}

TEST_F(NoDevice, CpuPluginStillComputes) {
  prism_load_report_row row;
  ASSERT_TRUE(row_of("cpu", &row));
  EXPECT_EQ(row.loaded, 1);
  EXPECT_GT(row.device_count, 0);
  const float a[4] = {1.5f, -2.0f, 3.25f, 0.5f};
  const float b[4] = {0.25f, 4.0f, -1.0f, 8.0f};
  const int64_t sizes[1] = {4};
  Tensor ta, tb, tc;
  ASSERT_OK(prism_from_data(a, sizes, 1, PRISM_DTYPE_F32, "cpu", &ta.t));
  ASSERT_OK(prism_from_data(b, sizes, 1, PRISM_DTYPE_F32, "cpu", &tb.t));
  ASSERT_OK(prism_add(ta.t, tb.t, 2.0, &tc.t));
  float c[4] = {0, 0, 0, 0};
  ASSERT_OK(prism_tensor_copy_to_host(tc.t, c, sizeof c));
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(c[i], a[i] + 2.0f * b[i]) << i;
}

TEST_F(NoDevice, DeviceTensorIsAClearError) {
  const std::string device = std::string(kPlugin) + ":0";
  const int64_t sizes[1] = {4};
  Tensor t;
  EXPECT_NE(prism_empty(sizes, 1, PRISM_DTYPE_F32, device.c_str(), &t.t), PRISM_OK);
  const std::string err = prism_last_error();
  EXPECT_NE(err.find(device), std::string::npos) << err;
  EXPECT_NE(err.find(message_), std::string::npos) << "the error should carry the plugin's reason: " << err;
}

}  // namespace
