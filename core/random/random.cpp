// random.cpp — the global Philox generator state and the random creation ops (Note [Philox streams],
// docs/ops.md).
#include <algorithm>
#include <mutex>
#include <numeric>
#include <vector>

#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

namespace {

// The generator is (seed, offset): each random op consumes one offset, and the
// kernel derives element i's bits from (seed, offset, i) alone, so no device
// keeps a stream of its own and every device produces the same bits.
struct Generator {
  std::mutex mutex;
  uint64_t seed = 67280421310721ULL;  // a fixed default, like PyTorch's
  uint64_t offset = 0;
};
Generator& generator() {
  static Generator g;
  return g;
}

Attrs next_attrs() {
  Generator& g = generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  Attrs a;
  a.add_int("seed", static_cast<int64_t>(g.seed));
  a.add_int("offset", static_cast<int64_t>(g.offset++));
  return a;
}

void require_float(const char* op, prism_dtype dt) {
  PRISM_CHECK(is_float(dt), INVALID_ARGUMENT, op, ": expected a floating point dtype, got ", dtype_name(dt));
}

}  // namespace

void manual_seed(uint64_t seed) {
  Generator& g = generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.seed = seed;
  g.offset = 0;
}

Tensor rand(const Dims& sizes, prism_dtype dtype, Device* device) {
  require_float("rand", dtype);
  Tensor t = empty(sizes, dtype, device);
  Attrs a = next_attrs();
  a.add_float("low", 0.0).add_float("high", 1.0);
  if (t->numel() > 0) run_kernel("philox_uniform", dtype, {}, {t.get()}, a);
  return t;
}

Tensor randn(const Dims& sizes, prism_dtype dtype, Device* device) {
  require_float("randn", dtype);
  Tensor t = empty(sizes, dtype, device);
  Attrs a = next_attrs();
  a.add_float("mean", 0.0).add_float("std", 1.0);
  if (t->numel() > 0) run_kernel("philox_normal", dtype, {}, {t.get()}, a);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Dims& sizes, prism_dtype dtype, Device* device) {
  PRISM_CHECK(low < high, INVALID_ARGUMENT, "randint: expects 'low' < 'high', but got low=", low,
              ", high=", high);
  PRISM_CHECK(dtype != PRISM_DTYPE_BOOL, INVALID_ARGUMENT, "randint: bool is not a valid dtype");
  Tensor t = empty(sizes, dtype, device);
  Attrs a = next_attrs();
  a.add_int("low", low).add_int("high", high);
  if (t->numel() > 0) run_kernel("philox_randint", dtype, {}, {t.get()}, a);
  return t;
}

// randperm sorts n random 62-bit keys drawn by the device's randint kernel
// (ties broken by index), so the permutation is the same on every device.
Tensor randperm(int64_t n, prism_dtype dtype, Device* device) {
  PRISM_CHECK(n >= 0, INVALID_ARGUMENT, "randperm: n must be non-negative, got ", n);
  PRISM_CHECK(dtype != PRISM_DTYPE_BOOL && (is_float(dtype) || dtype_size(dtype) == 8 ||
                                            n <= (int64_t{1} << (8 * dtype_size(dtype) - 1))),
              INVALID_ARGUMENT, "randperm: n = ", n, " is too large for dtype ", dtype_name(dtype));
  Tensor keys = randint(0, int64_t{1} << 62, Dims{n}, PRISM_DTYPE_I64, device);
  std::vector<int64_t> k(static_cast<size_t>(n));
  copy_to_host(keys, k.data(), k.size() * sizeof(int64_t));
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) { return k[x] < k[y]; });
  Tensor perm = from_host(idx.data(), Dims{n}, PRISM_DTYPE_I64, device);
  return to_dtype(perm, dtype);
}

Tensor bernoulli(const Tensor& p) {
  require_float("bernoulli", p->dtype);
  Tensor t = empty(p->sizes, p->dtype, p->device());
  Attrs a = next_attrs();
  if (t->numel() > 0) run_kernel("philox_bernoulli", p->dtype, {p.get()}, {t.get()}, a);
  return t;
}

Tensor bernoulli_scalar(const Dims& sizes, double p, prism_dtype dtype, Device* device) {
  PRISM_CHECK(p >= 0.0 && p <= 1.0, INVALID_ARGUMENT, "bernoulli: p must be in [0, 1], got ", p);
  Tensor t = empty(sizes, dtype, device);
  Attrs a = next_attrs();
  a.add_float("p", p);
  if (t->numel() > 0) run_kernel("philox_bernoulli", dtype, {}, {t.get()}, a);
  return t;
}

}  // namespace prism

namespace prism {

// The generator's (seed, offset) pair, read and restored whole: gradient
// checkpointing replays a segment's random ops with the state it saw
// (Note [Checkpoint RNG state] in core/autograd/checkpoint.cpp).
void get_rng_state(uint64_t* seed, uint64_t* offset) {
  Generator& g = generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  *seed = g.seed;
  *offset = g.offset;
}

void set_rng_state(uint64_t seed, uint64_t offset) {
  Generator& g = generator();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.seed = seed;
  g.offset = offset;
}

}  // namespace prism
