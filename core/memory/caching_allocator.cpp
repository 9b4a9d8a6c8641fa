// caching_allocator.cpp — see Note [Caching allocator].
#include "core/memory/caching_allocator.hpp"

#include <algorithm>

#include "core/plugin/runtime.hpp"

namespace prism {

namespace {
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeThreshold = size_t{1} << 20;
constexpr size_t kLargeRound = size_t{2} << 20;
}  // namespace

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) return kSmallRound;
  size_t r = bytes <= kLargeThreshold ? kSmallRound : kLargeRound;
  return (bytes + r - 1) / r * r;
}

CachingAllocator::~CachingAllocator() {
  // The process is exiting or the device is going away: hand the cache back.
  try {
    empty_cache();
  } catch (...) {
  }
}

void* CachingAllocator::allocate(size_t bytes, size_t* block_bytes) {
  size_t want = round_size(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.lower_bound(want);
    if (it != free_blocks_.end() && (want <= kLargeThreshold ? it->first == want : it->first <= 2 * want)) {
      void* buf = it->second;
      *block_bytes = it->first;
      free_blocks_.erase(it);
      allocated_ += *block_bytes;
      peak_ = std::max(peak_, allocated_);
      ++hits_;
      return buf;
    }
  }
  const prism_plugin_table* t = device_->plugin->table;
  void* buf = nullptr;
  prism_plugin_error* err = t->alloc(device_->plugin->ctx, device_->index, want, &buf);
  if (err != nullptr && err->code == PRISM_ERROR_OUT_OF_MEMORY) {
    free_plugin_error(err);
    empty_cache();
    buf = nullptr;
    err = t->alloc(device_->plugin->ctx, device_->index, want, &buf);
  }
  PRISM_PLUGIN_CHECK(err, *device_->plugin, "allocating ", bytes, " bytes on ", device_->name);
  // A NULL handle is "no buffer" everywhere in the ABI (free(NULL) is a no-op):
  // a plugin that reports success without one has a bug, caught here rather
  // than at the first kernel that writes through it.
  PRISM_CHECK(buf != nullptr || want == 0, INTERNAL, "allocating ", bytes, " bytes on ", device_->name,
              ": plugin '", device_->plugin->name, "' returned success with a NULL buffer");
  std::lock_guard<std::mutex> lock(mutex_);
  *block_bytes = want;
  allocated_ += want;
  reserved_ += want;
  peak_ = std::max(peak_, allocated_);
  ++device_allocs_;
  return buf;
}

void CachingAllocator::release(void* buffer, size_t block_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  allocated_ -= block_bytes;
  free_blocks_.emplace(block_bytes, buffer);
}

void CachingAllocator::empty_cache() {
  std::multimap<size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    blocks.swap(free_blocks_);
    for (auto& b : blocks) reserved_ -= b.first;
  }
  const prism_plugin_table* t = device_->plugin->table;
  for (auto& b : blocks) t->free(device_->plugin->ctx, device_->index, b.second);
}

prism_memory_stats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  prism_memory_stats s{};
  s.struct_size = sizeof(s);
  s.allocated = allocated_;
  s.reserved = reserved_;
  s.peak_allocated = peak_;
  s.num_device_allocs = device_allocs_;
  s.num_cache_hits = hits_;
  return s;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_ = allocated_;
}

}  // namespace prism
