// memory_limit_test.cpp — PRISM_MEMORY_LIMIT and prism_memory_set_limit (Note [Memory limits]); one process
// per test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "prism/prism.h"

namespace {

// The variable is read once per device at its first use, so each test sets
// it before its first Prism call (ctest runs every test in its own process).
TEST(MemoryLimit, EnvironmentCapsTheNamedDevices) {
  ASSERT_EQ(setenv("PRISM_MEMORY_LIMIT", "opencl=3M, cpu:0=1M", 1), 0);
  uint64_t limit = 0;
  ASSERT_EQ(prism_memory_get_limit("cpu", &limit), PRISM_OK) << prism_last_error();
  EXPECT_EQ(limit, uint64_t{1} << 20);
  const int64_t big = 512 * 1024;  // 2 MiB of f32
  prism_tensor_t t = nullptr;
  EXPECT_EQ(prism_zeros(&big, 1, PRISM_DTYPE_F32, "cpu", &t), PRISM_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(t, nullptr);
  EXPECT_NE(std::string(prism_last_error()).find("memory limit"), std::string::npos) << prism_last_error();
  const int64_t small = 1024;
  ASSERT_EQ(prism_zeros(&small, 1, PRISM_DTYPE_F32, "cpu", &t), PRISM_OK) << prism_last_error();
  prism_tensor_release(t);
  ASSERT_EQ(prism_memory_set_limit("cpu", 0), PRISM_OK);
  ASSERT_EQ(prism_zeros(&big, 1, PRISM_DTYPE_F32, "cpu", &t), PRISM_OK) << prism_last_error();
  prism_tensor_release(t);
}

TEST(MemoryLimit, BareSizeCapsEveryDevice) {
  ASSERT_EQ(setenv("PRISM_MEMORY_LIMIT", "2MiB", 1), 0);
  uint64_t limit = 0;
  ASSERT_EQ(prism_memory_get_limit(nullptr, &limit), PRISM_OK) << prism_last_error();
  EXPECT_EQ(limit, uint64_t{2} << 20);
}

TEST(MemoryLimit, MalformedValueIsIgnored) {
  ASSERT_EQ(setenv("PRISM_MEMORY_LIMIT", "12Q", 1), 0);
  uint64_t limit = 99;
  ASSERT_EQ(prism_memory_get_limit("cpu", &limit), PRISM_OK) << prism_last_error();
  EXPECT_EQ(limit, 0u);
}

}  // namespace
