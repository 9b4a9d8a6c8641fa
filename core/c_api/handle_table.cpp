// handle_table.cpp — the never-freed table of tensor handle slots (Note [Tensor handles]).
#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/c_api/handle.hpp"

namespace prism::capi {

namespace handles {
std::atomic<Slot*> g_chunks[kMaxChunks];
std::atomic<uint32_t> g_n_chunks{0};
}  // namespace handles

namespace {

using handles::g_chunks;
using handles::g_n_chunks;
using handles::kChunkBits;
using handles::kChunkSlots;
using handles::kMaxChunks;
using handles::kNone;
using handles::Slot;

std::mutex g_grow_mutex;
// Free-list head: (tag << 32) | slot index, kNone for empty.
std::atomic<uint64_t> g_free{kNone};

// Note [Per-thread free slots]
// ----------------------------
// Every op that returns a tensor takes a slot and its release gives one back.
// Doing both on the shared Treiber stack costs two locked compare-and-swaps
// per op, which is what made checked handles measurably slower than the
// malloc'd handles they replaced (malloc's own per-thread cache has none). So
// each thread keeps up to kLocalSlots released slots on a private list,
// linked through Slot::next_free, and only goes to the shared stack when that
// list is empty or full. Reading the list head costs one __tls_get_addr
// call and no locked instruction. (The initial-exec TLS model would make it
// a plain %fs-relative load, but a library with any initial-exec variable
// must fit its whole TLS block, 8 KiB with the dispatch cache, into the small
// static surplus glibc keeps for dlopen, and Python's import then fails.) A
// thread's list goes back to the shared stack when the thread exits
// (LocalFlush below); a release after that, from another thread-local
// destructor, goes straight to the stack.
// Measured against raw-pointer handles (docs/benchmarks.md), the 4-element
// add costs the same within 1.5 % with this cache, and up to 3 % more
// without it.
constexpr uint32_t kLocalSlots = 256;
struct LocalFree {
  uint32_t head;
  uint32_t count;
  uint32_t state;  // 0: flush not registered yet, 1: registered, 2: thread exiting
};
thread_local LocalFree t_free{kNone, 0, 0};

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

struct LocalFlush {
  LocalFlush() = default;
  LocalFlush(const LocalFlush&) = delete;
  LocalFlush& operator=(const LocalFlush&) = delete;
  ~LocalFlush() {
    while (t_free.count > 0) {
      const uint32_t index = t_free.head;
      t_free.head = slot_at(index).next_free.load(std::memory_order_relaxed);
      --t_free.count;
      push_free(index);
    }
    t_free.state = 2;
  }
};

// Gives a released slot back: to this thread's list while it has room.
void give_back(uint32_t index) {
  LocalFree& local = t_free;
  if (local.count >= kLocalSlots || local.state == 2) {
    push_free(index);
    return;
  }
  if (local.state == 0) {
    thread_local LocalFlush flush;  // registers the exit flush: once per thread
    static_cast<void>(flush);
    local.state = 1;
  }
  slot_at(index).next_free.store(local.head, std::memory_order_relaxed);
  local.head = index;
  ++local.count;
}

// A free slot: this thread's last released one if any, else the shared stack's.
uint32_t take() {
  LocalFree& local = t_free;
  if (local.count > 0) {
    const uint32_t index = local.head;
    local.head = slot_at(index).next_free.load(std::memory_order_relaxed);
    --local.count;
    return index;
  }
  return pop_free();
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

Slot& live(prism_tensor_t h, const char* op, const char* arg_name) {
  Slot* s = handles::find(h);
  if (s == nullptr) handles::bad_handle(h, op, arg_name);
  return *s;
}

}  // namespace

void handles::bad_handle(prism_tensor_t h, const char* op, const char* arg_name) {
  PRISM_CHECK(h != nullptr, INVALID_ARGUMENT, op, ": argument '", arg_name, "' is a NULL tensor handle");
  const auto bits = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
  const auto gen = static_cast<uint32_t>(bits >> 32);
  const uint32_t index = static_cast<uint32_t>(bits) - 1;
  const char* why = "is not a valid tensor handle (never returned by Prism)";
  if ((gen & 1u) != 0 && (index >> kChunkBits) < g_n_chunks.load(std::memory_order_acquire)) {
    const uint32_t now = slot_at(index).generation.load(std::memory_order_acquire);
    if (now - gen < 0x80000000u) why = "is a released tensor handle (used after prism_tensor_release)";
  }
  PRISM_FAIL(INVALID_ARGUMENT, op, ": argument '", arg_name, "' (", static_cast<const void*>(h), ") ", why);
}

prism_tensor_t wrap(prism::Tensor t) {
  uint32_t index = take();
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
  // Only the release that took the count to zero gets here: odd -> even, released.
  s.generation.store(s.generation.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  const auto index = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(h)) - 1;
  give_back(index);
  dead.reset();  // the tensor may free device memory: after the slot is consistent
}

}  // namespace prism::capi
