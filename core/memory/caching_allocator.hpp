// caching_allocator.hpp — per-device cache of plugin allocations with statistics (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

#include "prism/prism.h"

namespace prism {

struct Device;

// Note [Caching allocator]
// Freed blocks are kept per device in a size-ordered free list and reused for
// any later request that fits (best fit, at most 2x the request for large
// blocks so a small tensor never pins a huge block). Sizes are rounded up to
// 512 bytes (small) or 2 MiB (large, > 1 MiB), as PyTorch's CUDA caching
// allocator does, so repeated shapes hit the cache. A plugin allocation that
// fails with OUT_OF_MEMORY empties the cache and retries once. Fresh outputs
// therefore cost no page faults after the first iteration of a loop.
//
// Note [Memory limits]
// A request larger than the device's reported memory is OUT_OF_MEMORY before
// it reaches the plugin, on every device; on a device whose memory is not
// host memory, so is a request that would take the bytes held from the plugin
// (`reserved`: live tensors plus the cache) beyond the device's memory. A
// per-device cap (prism_memory_set_limit, or PRISM_MEMORY_LIMIT read once
// when the device is first used) bounds `reserved` too: a request that would
// cross it first empties the cache, then fails with OUT_OF_MEMORY naming the
// device, the request, the cap and the bytes in use. The bytes are booked
// before the plugin is called, so concurrent requests never overshoot the
// cap together. Live tensors are never touched: lowering the cap below what
// they hold only refuses new blocks until they are released.
class CachingAllocator {
 public:
  explicit CachingAllocator(Device* device) : device_(device) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Returns a plugin buffer of at least `bytes`; *block_bytes (out) is the
  // rounded size to pass back to release(). Throws OUT_OF_MEMORY.
  void* allocate(size_t bytes, size_t* block_bytes);
  // Returns a block to the cache.
  void release(void* buffer, size_t block_bytes);
  // Frees every cached block back to the plugin.
  void empty_cache();
  prism_memory_stats stats();
  void reset_peak();
  // Caps reserved bytes at `bytes` (0 = no cap) and empties the cache.
  void set_limit(uint64_t bytes);
  uint64_t limit();

 private:
  static size_t round_size(size_t bytes);
  // Books `want` bytes against the device's memory and the cap; throws
  // OUT_OF_MEMORY (after emptying the cache once) when they do not fit.
  void book(size_t want, size_t bytes);
  void apply_env_limit();  // PRISM_MEMORY_LIMIT, once
  std::once_flag env_once_;
  uint64_t limit_ = 0;
  Device* device_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;
  uint64_t allocated_ = 0, reserved_ = 0, peak_ = 0, device_allocs_ = 0, hits_ = 0;
};

}  // namespace prism
