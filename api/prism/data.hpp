// data.hpp — header-only data loading over prism.h: Dataset, TensorDataset, DataLoader with background
// prefetch, and the IDX (MNIST / Fashion-MNIST) reader.
#ifndef PRISM_API_PRISM_DATA_HPP_
#define PRISM_API_PRISM_DATA_HPP_

// Note [DataLoader]
// -----------------
// Like torch.utils.data.DataLoader with a map-style dataset:
// - Each epoch (each begin()) draws its order with prism_randperm on the
//   global Philox generator when shuffle is on, so prism_manual_seed() makes
//   every epoch's order reproducible on every device; otherwise 0 .. n-1.
// - Batches hold batch_size examples; the last, smaller batch is dropped
//   with drop_last. A batch is one tensor per dataset field, stacked along a
//   new dim 0 (Dataset::get_batch; TensorDataset stacks row views).
// - A background thread assembles up to `prefetch` batches ahead into a
//   bounded queue and copies each to the target device there, so host work
//   and the host-to-device copy overlap the training step. Errors in the
//   thread are rethrown by the iterator. Starting a new epoch or destroying
//   the loader stops the thread.
// - prefetch = 0 assembles each batch on the calling thread instead.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "prism/prism.hpp"

namespace prism::data {

// One example, or one batch: a tensor per field (e.g. {image, label}).
using Example = std::vector<Tensor>;

// A map-style dataset: size() examples, each a fixed list of tensors.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices`, each field stacked along a new dim 0.
  virtual Example get_batch(const std::vector<int64_t>& indices) const {
    if (indices.empty()) detail::fail("Dataset::get_batch: no indices");
    std::vector<Example> rows;
    for (int64_t i : indices) rows.push_back(get(i));
    Example out;
    for (size_t f = 0; f < rows[0].size(); ++f) {
      std::vector<prism_tensor_t> hs;
      for (const Example& r : rows) {
        if (r.size() != rows[0].size())
          detail::fail("Dataset::get_batch: examples have different field counts");
        hs.push_back(r[f].get());
      }
      prism_tensor_t o = nullptr;
      check(prism_stack(hs.data(), hs.size(), 0, &o));
      out.push_back(Tensor::adopt(o));
    }
    return out;
  }
};

// Examples are the rows (dim 0) of tensors that share their first size.
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
    if (tensors_.empty()) detail::fail("TensorDataset: needs at least one tensor");
    for (const Tensor& t : tensors_) {
      if (t.dim() == 0) detail::fail("TensorDataset: a 0-d tensor has no rows");
      if (t.size(0) != tensors_[0].size(0))
        detail::fail("TensorDataset: size mismatch between tensors: " + shape_string(tensors_[0].sizes()) +
                     " and " + shape_string(t.sizes()));
    }
  }
  int64_t size() const override { return tensors_[0].size(0); }
  Example get(int64_t index) const override {
    if (index < 0 || index >= size())
      detail::fail("TensorDataset: index " + std::to_string(index) + " is out of range for " +
                   std::to_string(size()) + " examples");
    Example e;
    for (const Tensor& t : tensors_) e.push_back(t.select(0, index));
    return e;
  }
  // One index_select per field instead of a stack of row views.
  Example get_batch(const std::vector<int64_t>& indices) const override {
    if (indices.empty()) detail::fail("TensorDataset::get_batch: no indices");
    const int64_t n = static_cast<int64_t>(indices.size());
    Tensor idx = Tensor::from_data(indices.data(), {n}, kInt64);
    Example out;
    for (const Tensor& t : tensors_) out.push_back(t.index_select(0, idx.to(t.device())));
    return out;
  }
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
};

// Note [DistributedSampler]
// As torch.utils.data.distributed.DistributedSampler: each rank of a
// data-parallel job reads a disjoint 1/num_replicas share of the dataset.
// With shuffle, every rank draws the same permutation from (seed, epoch) —
// a Fisher-Yates shuffle driven by splitmix64, identical on every platform —
// so call set_epoch(e) at the start of each epoch on every rank. The order
// is padded by repeating its head to a multiple of num_replicas (or cut
// with drop_last), so every rank gets the same number of examples and runs
// the same number of steps (collectives stay matched).
class DistributedSampler {
 public:
  // num_replicas / rank < 0: the world size / rank of prism::distributed.
  explicit DistributedSampler(int64_t dataset_size, int32_t num_replicas = -1, int32_t rank = -1,
                              bool shuffle = true, uint64_t seed = 0, bool drop_last = false)
      : n_(dataset_size), shuffle_(shuffle), drop_last_(drop_last), seed_(seed) {
    replicas_ = num_replicas >= 0 ? num_replicas : distributed::get_world_size();
    rank_ = rank >= 0 ? rank : distributed::get_rank();
    if (n_ < 0 || replicas_ <= 0 || rank_ >= replicas_)
      detail::fail("DistributedSampler: rank " + std::to_string(rank_) + " of " + std::to_string(replicas_) +
                   " replicas over " + std::to_string(n_) + " examples is not valid");
  }
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  // Examples per rank.
  int64_t size() const { return drop_last_ ? n_ / replicas_ : (n_ + replicas_ - 1) / replicas_; }
  std::vector<int64_t> indices() const {
    std::vector<int64_t> order(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) order[static_cast<size_t>(i)] = i;
    if (shuffle_) {
      uint64_t state = seed_ + static_cast<uint64_t>(epoch_) * 0x9E3779B97F4A7C15ULL;
      auto next = [&state] {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
      };
      for (int64_t i = n_ - 1; i > 0; --i)
        std::swap(order[static_cast<size_t>(i)], order[next() % static_cast<uint64_t>(i + 1)]);
    }
    const int64_t total = size() * replicas_;
    if (drop_last_) {
      order.resize(static_cast<size_t>(total));
    } else {
      for (int64_t i = n_; i < total; ++i)
        order.push_back(order[static_cast<size_t>((i - n_) % std::max<int64_t>(n_, 1))]);
    }
    std::vector<int64_t> mine;
    mine.reserve(static_cast<size_t>(size()));
    for (int64_t i = rank_; i < total; i += replicas_) mine.push_back(order[static_cast<size_t>(i)]);
    return mine;
  }

 private:
  int64_t n_;
  int32_t replicas_ = 1, rank_ = 0;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  int64_t epoch_ = 0;
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;
  size_t prefetch = 2;       // batches prepared ahead by the background thread; 0: no thread
  Device device = Device();  // where batches are delivered
  // Host batches bound for a device with memory of its own are staged in
  // memory pinned for it (prism_pin_memory) before the copy. A device whose
  // plugin has no pinned memory gets ordinary host batches instead.
  bool pin_memory = true;
  // When set, each epoch reads sampler->indices() in that order (shuffle must
  // be false: the sampler shuffles); see Note [DistributedSampler].
  std::shared_ptr<const DistributedSampler> sampler;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
      : dataset_(std::move(dataset)), o_(std::move(options)) {
    if (!dataset_) detail::fail("DataLoader: dataset is null");
    if (o_.batch_size <= 0)
      detail::fail("DataLoader: batch_size must be > 0, got " + std::to_string(o_.batch_size));
  }
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  ~DataLoader() { stop(); }

  // Whether batches are staged in pinned memory (false once the device
  // turned out to have none).
  bool pins_batches() const { return o_.pin_memory && !no_pinned_.load(); }

  // Batches per epoch.
  int64_t size() const {
    const int64_t n = o_.sampler ? o_.sampler->size() : dataset_->size();
    return o_.drop_last ? n / o_.batch_size : (n + o_.batch_size - 1) / o_.batch_size;
  }

  class Iterator {
   public:
    using value_type = Example;
    Iterator() = default;
    const Example& operator*() const { return batch_; }
    const Example* operator->() const { return &batch_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    bool operator==(const Iterator& o) const { return done() == o.done(); }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* l) : loader_(l) { advance(); }
    bool done() const { return loader_ == nullptr; }
    void advance() {
      if (loader_ != nullptr && !loader_->next(batch_)) loader_ = nullptr;
    }
    DataLoader* loader_ = nullptr;
    Example batch_;
  };

  // Starts an epoch (stopping any previous one).
  Iterator begin() {
    start_epoch();
    return Iterator(this);
  }
  Iterator end() { return Iterator(); }

 private:
  void start_epoch() {
    stop();
    const int64_t n = dataset_->size();
    order_.resize(static_cast<size_t>(n));
    if (o_.sampler) {
      if (o_.shuffle) detail::fail("DataLoader: shuffle must be false with a sampler (the sampler shuffles)");
      order_ = o_.sampler->indices();
    } else if (o_.shuffle && n > 0) {
      prism_tensor_t perm = nullptr;
      check(prism_randperm(n, PRISM_DTYPE_I64, "cpu", &perm));
      Tensor p = Tensor::adopt(perm);
      check(prism_tensor_copy_to_host(p.get(), order_.data(), order_.size() * sizeof(int64_t)));
    } else {
      for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
    }
    consumed_ = 0;
    error_ = nullptr;
    stopping_ = false;
    queue_.clear();
    if (o_.prefetch > 0) worker_ = std::thread([this] { produce(); });
  }

  Example make_batch(int64_t b) const {
    const int64_t n = static_cast<int64_t>(order_.size());
    const int64_t first = b * o_.batch_size;
    const int64_t last = std::min(n, first + o_.batch_size);
    std::vector<int64_t> idx(order_.begin() + first, order_.begin() + last);
    Example batch = dataset_->get_batch(idx);
    for (Tensor& t : batch) t = stage(t).to(o_.device);
    return batch;
  }

  // The pinned copy of a host batch tensor, or the tensor itself (see
  // DataLoaderOptions::pin_memory).
  Tensor stage(const Tensor& t) const {
    if (!o_.pin_memory || no_pinned_.load()) return t;
    prism_tensor_t out = nullptr;
    const prism_status st = prism_pin_memory(t.get(), o_.device.c_str(), &out);
    if (st == PRISM_ERROR_UNAVAILABLE || st == PRISM_ERROR_INVALID_ARGUMENT) {
      no_pinned_.store(true);  // no pinned memory there, or batches that are not on the host
      return t;
    }
    check(st);
    return Tensor::adopt(out);
  }

  void produce() {
    const int64_t total = size();
    try {
      for (int64_t b = 0; b < total; ++b) {
        Example batch = make_batch(b);
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || queue_.size() < o_.prefetch; });
        if (stopping_) return;
        queue_.push_back(std::move(batch));
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
    }
  }

  bool next(Example& out) {
    if (consumed_ >= size()) {
      stop();
      return false;
    }
    if (o_.prefetch == 0) {
      out = make_batch(consumed_++);
      return true;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty() || error_ != nullptr; });
    if (queue_.empty()) {
      std::exception_ptr e = error_;
      lock.unlock();
      stop();
      std::rethrow_exception(e);
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    ++consumed_;
    cv_.notify_all();
    return true;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.clear();
  }

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions o_;
  std::vector<int64_t> order_;
  int64_t consumed_ = 0;
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Example> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  mutable std::atomic<bool> no_pinned_{false};  // the device has no pinned memory
};

// Reads an IDX file (plain or gzip-compressed) onto `device` (prism_load_idx).
inline Tensor load_idx(const std::string& path, const Device& device = Device()) {
  prism_tensor_t out = nullptr;
  check(prism_load_idx(path.c_str(), device.c_str(), &out));
  return Tensor::adopt(out);
}

}  // namespace prism::data

#endif  // PRISM_API_PRISM_DATA_HPP_
