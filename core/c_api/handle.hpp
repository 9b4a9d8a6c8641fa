// handle.hpp — the C handle behind prism_tensor_t and the exception-to-status boundary (internal).
#pragma once

#include <atomic>
#include <cstdint>
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
// after its release could match again. Released slots are reused: first
// from the releasing thread's own short list, then from a lock-free shared
// free list (a Treiber stack with a tag against ABA); see Note [Per-thread
// free slots] in handle_table.cpp.
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

// The handle table (Note [Tensor handles]); internal to handle_table.cpp
// except for the inline fast path of arg().
namespace handles {
constexpr uint32_t kChunkBits = 10;
constexpr uint32_t kChunkSlots = 1u << kChunkBits;  // slots per chunk
constexpr uint32_t kMaxChunks = 1u << 18;           // 2^28 live handles at most
constexpr uint32_t kNone = 0xFFFFFFFFu;             // end of the free list

struct Slot {
  std::atomic<uint32_t> generation{0};  // odd: live
  std::atomic<uint32_t> next_free{kNone};
  std::atomic<int64_t> refs{0};
  prism::Tensor t;
};

// Chunks are published once and never freed.
extern std::atomic<Slot*> g_chunks[kMaxChunks];
extern std::atomic<uint32_t> g_n_chunks;

// The slot of a live handle, or nullptr (NULL, released, never a handle).
inline Slot* find(prism_tensor_t h) {
  const auto bits = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
  const auto gen = static_cast<uint32_t>(bits >> 32);
  const uint32_t index = static_cast<uint32_t>(bits) - 1;  // wraps for a zero low half
  if ((gen & 1u) == 0 || (index >> kChunkBits) >= g_n_chunks.load(std::memory_order_acquire)) return nullptr;
  Slot& s = g_chunks[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSlots - 1)];
  return s.generation.load(std::memory_order_acquire) == gen ? &s : nullptr;
}

// Throws INVALID_ARGUMENT saying why `h` is not a live handle.
[[noreturn]] void bad_handle(prism_tensor_t h, const char* op, const char* arg_name);
}  // namespace handles

// Borrowed tensor of a handle; throws INVALID_ARGUMENT naming `op` and `arg`
// for NULL, released or invalid handles.
inline const prism::Tensor& arg(prism_tensor_t h, const char* op, const char* arg_name) {
  handles::Slot* s = handles::find(h);
  if (s == nullptr) handles::bad_handle(h, op, arg_name);
  return s->t;
}
// The tensor of an optional handle (NULL gives nullptr); invalid handles throw.
inline prism::Tensor opt_arg(prism_tensor_t h, const char* op, const char* arg_name) {
  return h == nullptr ? nullptr : arg(h, op, arg_name);
}
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

// The body of a C function that makes one tensor: checks `out`, runs f (a
// callable returning prism::Tensor) under guard, and hands the caller a new
// handle through *out.
template <typename F>
prism_status make(prism_tensor_t* out, const char* op, F&& f) {
  return guard([&] {
    out_arg(out, op);
    prism::Tensor t = f();
    *out = wrap(std::move(t));
  });
}

}  // namespace prism::capi
