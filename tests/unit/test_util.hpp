// test_util.hpp — shared helpers of the core unit tests (host round trips, error matching).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"
#include "tests/prism_require_devices.h"

namespace prism::test {

inline Device* cpu() {
  return Runtime::get().device("cpu");
}

// Skips the test when the CPU plugin is not built; fails it instead when
// PRISM_REQUIRE_DEVICES lists cpu (Note [Required devices]).
#define PRISM_REQUIRE_CPU()                                                                                 \
  do {                                                                                                      \
    try {                                                                                                   \
      ::prism::Runtime::get().cpu();                                                                        \
    } catch (const ::prism::Error& e) {                                                                     \
      if (prism_test_device_required("cpu"))                                                                \
        GTEST_FAIL() << "the CPU plugin is required (PRISM_REQUIRE_DEVICES) but unavailable: " << e.what(); \
      GTEST_SKIP() << "skipped: the CPU plugin is not available: " << e.what();                             \
    }                                                                                                       \
  } while (0)

template <typename T>
prism_dtype dtype_of();
template <>
inline prism_dtype dtype_of<float>() {
  return PRISM_DTYPE_F32;
}
template <>
inline prism_dtype dtype_of<double>() {
  return PRISM_DTYPE_F64;
}
template <>
inline prism_dtype dtype_of<int64_t>() {
  return PRISM_DTYPE_I64;
}
template <>
inline prism_dtype dtype_of<int32_t>() {
  return PRISM_DTYPE_I32;
}
template <>
inline prism_dtype dtype_of<uint8_t>() {
  return PRISM_DTYPE_U8;
}

template <typename T>
Tensor tensor(const std::vector<T>& v, Dims sizes, Device* d = nullptr) {
  return from_host(v.data(), sizes, dtype_of<T>(), d != nullptr ? d : cpu());
}

// Elements in row-major order converted to double.
inline std::vector<double> values(const Tensor& t) {
  std::vector<unsigned char> buf(static_cast<size_t>(t->numel()) * t->element_size());
  copy_to_host(t, buf.data(), buf.size());
  std::vector<double> out(static_cast<size_t>(t->numel()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = load_as_double(buf.data() + i * t->element_size(), t->dtype);
  return out;
}

// Runs f, expecting a prism::Error whose message contains every needle.
template <typename F>
void expect_error(F&& f, prism_status status, std::initializer_list<const char*> needles) {
  try {
    f();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    std::string msg = e.what();
    for (const char* n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
  }
}

}  // namespace prism::test
