// handle.hpp — the C handle behind prism_tensor_t and the exception-to-status boundary (internal).
#pragma once

#include <atomic>
#include <new>
#include <string>

#include "core/common.hpp"
#include "core/tensor/tensor.hpp"

// Note [Tensor handles]
// ---------------------
// A prism_tensor_t is not a pointer to anything: its bits are a slot number
// and a generation, (generation << 32) | (slot + 1). The slots live in a
// table owned by the core that only grows and is never freed, so checking a
// handle reads only memory that stays valid: the slot number must be in
// range and the slot's generation must equal the handle's. A slot's
// generation is odd while a handle to it is live and is bumped when its
// last reference is released, so a released handle (use after release,
// double release, retain after release) and any value that was never a
// handle fail with INVALID_ARGUMENT instead of touching freed memory.
// Generations wrap after 2^31 reuses of one slot; a handle kept that long
// after its release could match again. Released slots go on a lock-free
// free list (a Treiber stack with a tag against ABA) and are reused.
// Releasing a handle while another thread is still using it stays a race,
// as freeing any object in use is.
struct prism_tensor_s;  // never defined: see Note [Tensor handles]

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

// Borrowed tensor of a handle; throws INVALID_ARGUMENT naming `op` and `arg`
// for NULL, released or invalid handles.
const prism::Tensor& arg(prism_tensor_t h, const char* op, const char* arg_name);
// The tensor of an optional handle (NULL gives nullptr); invalid handles throw.
prism::Tensor opt_arg(prism_tensor_t h, const char* op, const char* arg_name);
// Wraps a tensor in a new handle (one reference for the caller).
prism_tensor_t wrap(prism::Tensor t);
// Adds a reference / drops one (the last frees the tensor); throw INVALID_ARGUMENT
// for handles that are not live.
void retain(prism_tensor_t h);
void release(prism_tensor_t h);
// Checks that an out-parameter pointer is not NULL.
template <typename T>
void out_arg(T* p, const char* op) {
  PRISM_CHECK(p != nullptr, INVALID_ARGUMENT, op, ": output pointer is NULL");
}

}  // namespace prism::capi
