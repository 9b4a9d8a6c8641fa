// caching_allocator.hpp — per-device cache of plugin allocations with statistics (internal).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "prism/plugin.h"
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
//
// Note [Stream-aware caching]
// Every block belongs to the stream that allocated it (prism_stream_t, NULL
// for the default stream) and returns to that stream's free list, so a later
// request on the same stream reuses it in stream order with no wait, as
// PyTorch's CUDA caching allocator does. A block whose tensor was also used
// on other streams (record_stream) is not reusable until that work is done:
// release() records an event on each of those streams and parks the block;
// allocate() moves a parked block to its free list once every event
// reports completion (event_query, plugin ABI 1.2), and never hands it to
// any stream before. A device that cannot query events waits for those
// streams in release() instead. empty_cache() waits for parked blocks and
// frees them too.
class CachingAllocator {
 public:
  explicit CachingAllocator(Device* device) : device_(device) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Returns a plugin buffer of at least `bytes` for use on `stream`;
  // *block_bytes (out) is the rounded size to pass back to release(). Throws
  // OUT_OF_MEMORY.
  void* allocate(size_t bytes, size_t* block_bytes, prism_stream_t stream = nullptr);
  // Returns a block allocated on `stream` to the cache; `uses` lists the
  // other streams that used it (Note [Stream-aware caching]). Never throws.
  void release(void* buffer, size_t block_bytes, prism_stream_t stream = nullptr,
               const std::vector<prism_stream_t>* uses = nullptr);
  // Blocks released but waiting for other streams' work (tests).
  size_t parked_blocks();
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
  void apply_env_limit_once();
  std::once_flag env_once_;
  std::atomic<bool> env_applied_{false};
  uint64_t limit_ = 0;
  Device* device_;
  std::mutex mutex_;
  // Free blocks by (stream, size).
  std::multimap<std::pair<prism_stream_t, size_t>, void*> free_blocks_;
  struct Parked {
    void* buffer;
    size_t bytes;
    prism_stream_t stream;
    std::vector<prism_event_t> events;  // one per other stream that used it
  };
  std::vector<Parked> parked_;
  // Moves parked blocks whose events completed to the free lists (wait:
  // waits for every one). Caller holds mutex_.
  void unpark_locked(bool wait);
  uint64_t allocated_ = 0, reserved_ = 0, peak_ = 0, device_allocs_ = 0, hits_ = 0;
};

}  // namespace prism
