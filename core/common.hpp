// common.hpp — internal error model of the core (no compatibility promise).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "prism/types.h"

namespace prism {

// Note [Core error model]
// Inside the core, user errors are C++ exceptions of type prism::Error carrying
// a prism_status. Every exported C function catches them at the boundary
// (core/c_api) and turns them into a status + thread-local message; no
// exception ever crosses extern "C". PRISM_CHECK reports bad user input,
// PRISM_ASSERT guards internal invariants (INTERNAL status).
class Error : public std::runtime_error {
 public:
  Error(prism_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  prism_status status() const { return status_; }

 private:
  prism_status status_;
};

// The name of a status code, "INVALID_ARGUMENT"; "UNKNOWN" for other values
// (core/plugin/runtime.cpp; prism_status_name in the C ABI).
const char* status_name(prism_status code);

namespace detail {
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace prism

// PRISM_CHECK(cond, status_suffix, message parts...): throws prism::Error.
#define PRISM_CHECK(cond, code, ...)                                                              \
  do {                                                                                            \
    if (!(cond)) throw ::prism::Error(PRISM_ERROR_##code, ::prism::detail::str_cat(__VA_ARGS__)); \
  } while (0)

#define PRISM_FAIL(code, ...) throw ::prism::Error(PRISM_ERROR_##code, ::prism::detail::str_cat(__VA_ARGS__))

#define PRISM_ASSERT(cond)                                                                                  \
  do {                                                                                                      \
    if (!(cond))                                                                                            \
      throw ::prism::Error(                                                                                 \
          PRISM_ERROR_INTERNAL,                                                                             \
          ::prism::detail::str_cat("internal invariant failed: ", #cond, " at ", __FILE__, ":", __LINE__)); \
  } while (0)
