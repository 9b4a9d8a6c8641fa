// test_util.hpp — small helpers shared by the prism.hpp tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "prism/prism.hpp"

namespace prism_test {

using Sizes = std::vector<int64_t>;

// Values of any tensor as float64, row-major.
inline std::vector<double> values(const prism::Tensor& t) {
  return t.to_vector<double>();
}

// Element-wise comparison with an absolute tolerance; NaN equals NaN.
inline ::testing::AssertionResult near_values(const prism::Tensor& t, const std::vector<double>& want,
                                              double tol = 1e-6) {
  std::vector<double> got = values(t);
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "numel " << got.size() << ", expected " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    bool same = (std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i] ||
                std::fabs(got[i] - want[i]) <= tol;
    if (!same) {
      return ::testing::AssertionFailure()
             << "value " << i << ": got " << got[i] << ", expected " << want[i] << " in " << t;
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs `f`, expecting a prism::Error whose message contains every needle.
template <typename F>
::testing::AssertionResult throws_with(F&& f, const std::vector<std::string>& needles,
                                       prism_status status = PRISM_ERROR_INVALID_ARGUMENT) {
  try {
    f();
  } catch (const prism::Error& e) {
    if (e.status() != status) {
      return ::testing::AssertionFailure() << "status " << e.status_name() << ", expected "
                                           << prism_status_name(status) << ": " << e.what();
    }
    for (const std::string& n : needles) {
      if (std::string(e.what()).find(n) == std::string::npos) {
        return ::testing::AssertionFailure() << "message lacks \"" << n << "\": " << e.what();
      }
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no prism::Error was thrown";
}

}  // namespace prism_test
