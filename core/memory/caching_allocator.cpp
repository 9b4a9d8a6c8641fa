// caching_allocator.cpp — see Note [Caching allocator].
#include "core/memory/caching_allocator.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"

namespace prism {

namespace {
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeThreshold = size_t{1} << 20;
constexpr size_t kLargeRound = size_t{2} << 20;
}  // namespace

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) return kSmallRound;
  size_t r = bytes <= kLargeThreshold ? kSmallRound : kLargeRound;
  if (bytes > SIZE_MAX - r) return bytes;  // no rounding room: the device check refuses it
  return (bytes + r - 1) / r * r;
}

namespace {

// "1048576", "512K", "256M", "2G", "1T" (binary multiples, optional "iB"/"B"); false when malformed.
bool parse_size(std::string s, uint64_t* out) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return false;
  std::string unit = s.substr(i);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KB" || unit == "KIB") {
    shift = 10;
  } else if (unit == "M" || unit == "MB" || unit == "MIB") {
    shift = 20;
  } else if (unit == "G" || unit == "GB" || unit == "GIB") {
    shift = 30;
  } else if (unit == "T" || unit == "TB" || unit == "TIB") {
    shift = 40;
  } else {
    return false;
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

}  // namespace

// PRISM_MEMORY_LIMIT (README): "<size>" caps every device; "<device>=<size>"
// entries separated by commas cap the devices named ("opencl:0=256M,cpu=4G";
// a bare type names every device of that type). A later entry for the same
// device wins. A malformed value is reported once and ignored (no cap).
void CachingAllocator::apply_env_limit() {
  // std::call_once touches thread-local state on every call, done or not
  // (Note [Thread-local fast paths]): check a flag first.
  if (env_applied_.load(std::memory_order_acquire)) return;
  apply_env_limit_once();
  env_applied_.store(true, std::memory_order_release);
}

void CachingAllocator::apply_env_limit_once() {
  std::call_once(env_once_, [this] {
    const char* env = std::getenv("PRISM_MEMORY_LIMIT");
    if (env == nullptr || *env == '\0') return;
    const std::string spec = env;
    const std::string type = device_->plugin->device_type;
    size_t pos = 0;
    while (pos <= spec.size()) {
      size_t comma = spec.find(',', pos);
      if (comma == std::string::npos) comma = spec.size();
      std::string entry = spec.substr(pos, comma - pos);
      pos = comma + 1;
      while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front()))) entry.erase(0, 1);
      if (entry.empty()) continue;
      const size_t eq = entry.find('=');
      std::string name = eq == std::string::npos ? std::string() : entry.substr(0, eq);
      uint64_t bytes = 0;
      if (!parse_size(eq == std::string::npos ? entry : entry.substr(eq + 1), &bytes)) {
        std::cerr << "[prism] warning: ignoring PRISM_MEMORY_LIMIT entry '" << entry
                  << "': expected <size> or <device>=<size> with size like 1048576, 512K, 256M or 2G\n";
        continue;
      }
      if (name.empty() || name == device_->name || name == type) limit_ = bytes;
    }
  });
}

void CachingAllocator::book(size_t want, size_t bytes) {
  const bool host = device_->host_memory();
  const uint64_t total = device_->total_memory;
  auto fits = [&] {
    if (!host && total != 0 && (reserved_ > total || want > total - reserved_)) return false;
    return limit_ == 0 || (reserved_ <= limit_ && want <= limit_ - reserved_);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fits()) {
        reserved_ += want;
        return;
      }
      if (attempt == 1) {
        if (limit_ != 0 && (reserved_ > limit_ || want > limit_ - reserved_)) {
          PRISM_FAIL(OUT_OF_MEMORY, "allocating ", bytes, " bytes on ", device_->name, " (plugin '",
                     device_->plugin->name, "'): the memory limit of ", limit_, " bytes for ", device_->name,
                     " would be exceeded (", reserved_, " bytes reserved, ", allocated_,
                     " held by live tensors); release tensors or raise the limit (prism_memory_set_limit, "
                     "PRISM_MEMORY_LIMIT)");
        }
        PRISM_FAIL(OUT_OF_MEMORY, "allocating ", bytes, " bytes on ", device_->name, " (plugin '",
                   device_->plugin->name, "'): the device has ", total, " bytes and ", reserved_,
                   " are reserved (", allocated_, " held by live tensors)");
      }
    }
    empty_cache();
  }
}

void CachingAllocator::set_limit(uint64_t bytes) {
  apply_env_limit();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
  }
  empty_cache();
}

uint64_t CachingAllocator::limit() {
  apply_env_limit();
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

CachingAllocator::~CachingAllocator() {
  // The process is exiting or the device is going away: hand the cache back.
  try {
    empty_cache();
  } catch (...) {
  }
}

void* CachingAllocator::allocate(size_t bytes, size_t* block_bytes, prism_stream_t stream) {
  apply_env_limit();
  const uint64_t total = device_->total_memory;
  PRISM_CHECK(total == 0 || bytes <= total, OUT_OF_MEMORY, "allocating ", bytes, " bytes on ", device_->name,
              " (plugin '", device_->plugin->name, "'): more than the device's memory (", total, " bytes)");
  size_t want = round_size(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!parked_.empty()) unpark_locked(false);
    auto it = free_blocks_.lower_bound({stream, want});
    if (it != free_blocks_.end() && it->first.first == stream &&
        (want <= kLargeThreshold ? it->first.second == want : it->first.second <= 2 * want)) {
      void* buf = it->second;
      *block_bytes = it->first.second;
      free_blocks_.erase(it);
      allocated_ += *block_bytes;
      peak_ = std::max(peak_, allocated_);
      ++hits_;
      return buf;
    }
  }
  book(want, bytes);  // Note [Memory limits]
  const prism_plugin_table* t = device_->plugin->table;
  void* buf = nullptr;
  prism_plugin_error* err = t->alloc(device_->plugin->ctx, device_->index, want, &buf);
  if (err != nullptr && err->code == PRISM_ERROR_OUT_OF_MEMORY) {
    free_plugin_error(err);
    empty_cache();
    buf = nullptr;
    err = t->alloc(device_->plugin->ctx, device_->index, want, &buf);
  }
  if (err != nullptr) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reserved_ -= want;
    }
    PRISM_PLUGIN_CHECK(err, *device_->plugin, "allocating ", bytes, " bytes on ", device_->name);
  }
  // A NULL handle is "no buffer" everywhere in the ABI (free(NULL) is a no-op):
  // a plugin that reports success without one has a bug, caught here rather
  // than at the first kernel that writes through it.
  if (buf == nullptr && want != 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reserved_ -= want;
    }
    PRISM_FAIL(INTERNAL, "allocating ", bytes, " bytes on ", device_->name, ": plugin '",
               device_->plugin->name, "' returned success with a NULL buffer");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  *block_bytes = want;
  allocated_ += want;
  peak_ = std::max(peak_, allocated_);
  ++device_allocs_;
  return buf;
}

void CachingAllocator::release(void* buffer, size_t block_bytes, prism_stream_t stream,
                               const std::vector<prism_stream_t>* uses) {
  std::vector<prism_event_t> events;
  if (uses != nullptr) {
    const Plugin& pl = *device_->plugin;
    const bool can_park = has_event_query(device_);
    for (prism_stream_t u : *uses) {
      if (u == stream) continue;
      prism_plugin_error* err = nullptr;
      if (can_park) {
        prism_event_t ev = nullptr;
        err = pl.table->event_create(pl.ctx, device_->index, &ev);
        if (err == nullptr) err = pl.table->event_record(pl.ctx, device_->index, ev, u);
        if (err == nullptr) {
          events.push_back(ev);
          continue;
        }
        if (ev != nullptr) pl.table->event_destroy(pl.ctx, ev);
        free_plugin_error(err);
      }
      // No event to wait on: wait for the other stream now.
      free_plugin_error(pl.table->synchronize(pl.ctx, device_->index, u));
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  allocated_ -= block_bytes;
  if (!events.empty()) {
    parked_.push_back(Parked{buffer, block_bytes, stream, std::move(events)});
    return;
  }
  free_blocks_.emplace(std::make_pair(stream, block_bytes), buffer);
}

void CachingAllocator::unpark_locked(bool wait) {
  const Plugin& pl = *device_->plugin;
  for (size_t i = 0; i < parked_.size();) {
    Parked& p = parked_[i];
    while (!p.events.empty()) {
      int32_t done = 0;
      prism_plugin_error* err = wait ? pl.table->event_synchronize(pl.ctx, p.events.back())
                                     : pl.table->event_query(pl.ctx, p.events.back(), &done);
      // A failed wait or query: the device reports the fault at its next
      // synchronize; the block must not stay parked forever.
      if (err != nullptr || wait) done = 1;
      free_plugin_error(err);
      if (done == 0) break;
      pl.table->event_destroy(pl.ctx, p.events.back());
      p.events.pop_back();
    }
    if (p.events.empty()) {
      free_blocks_.emplace(std::make_pair(p.stream, p.bytes), p.buffer);
      parked_.erase(parked_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

size_t CachingAllocator::parked_blocks() {
  std::lock_guard<std::mutex> lock(mutex_);
  return parked_.size();
}

void CachingAllocator::empty_cache() {
  std::multimap<std::pair<prism_stream_t, size_t>, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!parked_.empty()) unpark_locked(true);
    blocks.swap(free_blocks_);
    for (auto& b : blocks) reserved_ -= b.first.second;
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
