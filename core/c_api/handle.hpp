// handle.hpp — the C handle behind prism_tensor_t and the exception-to-status boundary (internal).
#pragma once

#include <atomic>
#include <new>
#include <string>

#include "core/common.hpp"
#include "core/tensor/tensor.hpp"

struct prism_tensor_s {
  std::atomic<int64_t> refs{1};
  prism::Tensor t;
};

namespace prism::capi {

prism_status set_error(prism_status status, const std::string& message);

// Runs `body` and turns every exception into a status + thread-local message
// (Note [Core error model]): nothing crosses extern "C" as an exception.
template <typename F>
prism_status guard(F&& body) {
  try {
    body();
    return PRISM_OK;
  } catch (const prism::Error& e) {
    return set_error(e.status(), e.what());
  } catch (const std::bad_alloc&) {
    return set_error(PRISM_ERROR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return set_error(PRISM_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return set_error(PRISM_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

// Borrowed tensor of a handle; throws INVALID_ARGUMENT naming `op` and `arg` for NULL.
const prism::Tensor& arg(prism_tensor_t h, const char* op, const char* arg_name);
// Wraps a tensor in a new handle (one reference for the caller).
prism_tensor_t wrap(prism::Tensor t);
// Checks that an out-parameter pointer is not NULL.
template <typename T>
void out_arg(T* p, const char* op) {
  PRISM_CHECK(p != nullptr, INVALID_ARGUMENT, op, ": output pointer is NULL");
}

}  // namespace prism::capi
