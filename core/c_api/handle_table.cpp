// handle_table.cpp — the never-freed table of tensor handle slots (Note [Tensor handles]).
#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/c_api/handle.hpp"

namespace prism::capi {

namespace {

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

// Chunks are published once and never freed (Note [Tensor handles]).
std::atomic<Slot*> g_chunks[kMaxChunks];
std::atomic<uint32_t> g_n_chunks{0};
std::mutex g_grow_mutex;
// Free-list head: (tag << 32) | slot index, kNone for empty.
std::atomic<uint64_t> g_free{kNone};

Slot& slot_at(uint32_t index) {
  return g_chunks[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSlots - 1)];
}

void push_free(uint32_t index) {
  Slot& s = slot_at(index);
  uint64_t head = g_free.load(std::memory_order_relaxed);
  for (;;) {
    s.next_free.store(static_cast<uint32_t>(head), std::memory_order_relaxed);
    const uint64_t want = ((head >> 32) + 1) << 32 | index;
    if (g_free.compare_exchange_weak(head, want, std::memory_order_release, std::memory_order_relaxed))
      return;
  }
}

uint32_t pop_free() {
  uint64_t head = g_free.load(std::memory_order_acquire);
  for (;;) {
    const auto index = static_cast<uint32_t>(head);
    if (index == kNone) return kNone;
    // Slots are never freed, so reading a stale head's link is safe; the tag
    // makes the exchange fail if the head was popped and pushed meanwhile.
    const uint32_t next = slot_at(index).next_free.load(std::memory_order_relaxed);
    const uint64_t want = ((head >> 32) + 1) << 32 | next;
    if (g_free.compare_exchange_weak(head, want, std::memory_order_acquire, std::memory_order_acquire))
      return index;
  }
}

uint32_t grow() {
  std::lock_guard<std::mutex> lock(g_grow_mutex);
  uint32_t index = pop_free();  // another thread may have grown the table meanwhile
  if (index != kNone) return index;
  const uint32_t n = g_n_chunks.load(std::memory_order_relaxed);
  PRISM_CHECK(n < kMaxChunks, OUT_OF_MEMORY, "too many live tensor handles (", uint64_t{n} * kChunkSlots,
              ")");
  Slot* chunk = new Slot[kChunkSlots];
  g_chunks[n].store(chunk, std::memory_order_release);
  g_n_chunks.store(n + 1, std::memory_order_release);
  const uint32_t base = n * kChunkSlots;
  for (uint32_t i = kChunkSlots - 1; i >= 1; --i) push_free(base + i);
  return base;
}

// The slot of a live handle, or nullptr (with why) for anything else.
Slot* lookup(prism_tensor_t h, const char** why) {
  const auto bits = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
  const auto gen = static_cast<uint32_t>(bits >> 32);
  const auto low = static_cast<uint32_t>(bits);
  const uint32_t index = low - 1;
  if ((gen & 1u) == 0 || low == 0 || (index >> kChunkBits) >= g_n_chunks.load(std::memory_order_acquire)) {
    *why = "is not a valid tensor handle (never returned by Prism)";
    return nullptr;
  }
  Slot& s = slot_at(index);
  const uint32_t now = s.generation.load(std::memory_order_acquire);
  if (now != gen) {
    *why = (gen - now) < 0x80000000u ? "is not a valid tensor handle (never returned by Prism)"
                                     : "is a released tensor handle (used after prism_tensor_release)";
    return nullptr;
  }
  return &s;
}

Slot& live(prism_tensor_t h, const char* op, const char* arg_name) {
  PRISM_CHECK(h != nullptr, INVALID_ARGUMENT, op, ": argument '", arg_name, "' is a NULL tensor handle");
  const char* why = "";
  Slot* s = lookup(h, &why);
  PRISM_CHECK(s != nullptr, INVALID_ARGUMENT, op, ": argument '", arg_name, "' (",
              static_cast<const void*>(h), ") ", why);
  return *s;
}

}  // namespace

const prism::Tensor& arg(prism_tensor_t h, const char* op, const char* arg_name) {
  return live(h, op, arg_name).t;
}

prism::Tensor opt_arg(prism_tensor_t h, const char* op, const char* arg_name) {
  return h == nullptr ? nullptr : live(h, op, arg_name).t;
}

prism_tensor_t wrap(prism::Tensor t) {
  uint32_t index = pop_free();
  if (index == kNone) index = grow();
  Slot& s = slot_at(index);
  s.t = std::move(t);
  s.refs.store(1, std::memory_order_relaxed);
  const uint32_t gen = s.generation.load(std::memory_order_relaxed) + 1;  // even -> odd: live
  s.generation.store(gen, std::memory_order_release);
  const uint64_t bits = uint64_t{gen} << 32 | (uint64_t{index} + 1);
  return reinterpret_cast<prism_tensor_t>(static_cast<uintptr_t>(bits));
}

void retain(prism_tensor_t h) {
  live(h, "tensor_retain", "t").refs.fetch_add(1, std::memory_order_relaxed);
}

void release(prism_tensor_t h) {
  Slot& s = live(h, "tensor_release", "t");
  const int64_t before = s.refs.fetch_sub(1, std::memory_order_acq_rel);
  if (before > 1) return;
  if (before < 1) {  // a concurrent release got there first
    s.refs.fetch_add(1, std::memory_order_relaxed);
    PRISM_FAIL(INVALID_ARGUMENT, "tensor_release: argument 't' is a released tensor handle (released twice)");
  }
  prism::Tensor dead = std::move(s.t);
  s.generation.fetch_add(1, std::memory_order_acq_rel);  // odd -> even: released
  const auto index = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(h)) - 1;
  push_free(index);
  dead.reset();  // the tensor may free device memory: after the slot is consistent
}

}  // namespace prism::capi
