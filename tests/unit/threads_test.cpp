// threads_test.cpp — Prism used from several user threads at once through the C ABI (run under TSan by
// scripts/test.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "prism/prism.h"

namespace {

constexpr int kThreads = 4;

// Releases every thread at once (the lazy paths race only when first uses overlap).
class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) {
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return waiting_ == 0; });
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
};

// Runs body(i) on kThreads threads started together; returns the failures
// each thread recorded (empty = all fine).
template <class Body>
std::vector<std::string> run_threads(int n, Body body) {
  StartLine line(n);
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) {
    ts.emplace_back([&, i] {
      line.arrive_and_wait();
      errors[static_cast<size_t>(i)] = body(i);
    });
  }
  for (auto& t : ts) t.join();
  std::vector<std::string> failed;
  for (auto& e : errors)
    if (!e.empty()) failed.push_back(e);
  return failed;
}

#define T_OK(call)                                                               \
  do {                                                                           \
    if ((call) != PRISM_OK) return std::string(#call ": ") + prism_last_error(); \
  } while (0)

std::vector<float> host(prism_tensor_t t) {
  std::vector<float> v(static_cast<size_t>(prism_tensor_numel(t)));
  EXPECT_EQ(prism_tensor_copy_to_host(t, v.data(), v.size() * sizeof(float)), PRISM_OK) << prism_last_error();
  return v;
}

// Every thread's first call is a device lookup, so plugin discovery, the
// runtime singleton and the CPU plugin's init all race (ctest runs each test
// in a fresh process, so this really is the first use).
TEST(Threads, ConcurrentFirstUseAndDiscovery) {
  std::vector<int32_t> counts(kThreads, -1);
  auto failed = run_threads(kThreads, [&](int i) -> std::string {
    int64_t n = 1000 + i;
    prism_tensor_t t = nullptr;
    T_OK(prism_ones(&n, 1, PRISM_DTYPE_F32, "cpu", &t));
    double s = 0;
    prism_tensor_t sum = nullptr;
    T_OK(prism_sum(t, nullptr, 0, 0, &sum));
    T_OK(prism_tensor_item_double(sum, &s));
    prism_tensor_release(sum);
    prism_tensor_release(t);
    if (s != static_cast<double>(n)) return "wrong sum " + std::to_string(s);
    T_OK(prism_device_count(&counts[static_cast<size_t>(i)]));
    size_t rows = 0;
    T_OK(prism_load_report_count(&rows));
    if (rows == 0) return std::string("empty load report");
    return {};
  });
  EXPECT_TRUE(failed.empty()) << failed.front();
  for (int32_t c : counts) EXPECT_EQ(c, counts[0]);
  EXPECT_GE(counts[0], 1);
}

// Each thread trains its own little chain: nothing shared but the runtime.
TEST(Threads, IndependentChains) {
  auto failed = run_threads(kThreads, [](int i) -> std::string {
    const int64_t sz[2] = {64, 64};
    for (int it = 0; it < 20; ++it) {
      prism_tensor_t w = nullptr, x = nullptr, y = nullptr, r = nullptr, loss = nullptr, g = nullptr;
      T_OK(prism_full(sz, 2, 0.5 + i, PRISM_DTYPE_F32, "cpu", &w));
      T_OK(prism_tensor_set_requires_grad(w, 1));
      T_OK(prism_full(sz, 2, 1.0, PRISM_DTYPE_F32, "cpu", &x));
      T_OK(prism_matmul(x, w, &y));  // every element 64 * (0.5 + i) > 0
      T_OK(prism_relu(y, &r));
      T_OK(prism_sum(r, nullptr, 0, 0, &loss));
      T_OK(prism_backward(loss, nullptr, 0));
      T_OK(prism_tensor_grad(w, &g));
      std::vector<float> gv(64 * 64);
      T_OK(prism_tensor_copy_to_host(g, gv.data(), gv.size() * sizeof(float)));
      for (float v : gv)  // d sum(relu(x @ w)) / dw = x^T @ ones = 64
        if (v != 64.0f) return "thread " + std::to_string(i) + ": grad " + std::to_string(v) + " != 64";
      for (prism_tensor_t t : {w, x, y, r, loss, g}) prism_tensor_release(t);
    }
    return {};
  });
  EXPECT_TRUE(failed.empty()) << failed.front();
}

// One read-only input used by every thread's graph.
TEST(Threads, SharedReadOnlyInputs) {
  const int64_t n = 4096;
  std::vector<float> xs(n);
  for (int64_t k = 0; k < n; ++k) xs[static_cast<size_t>(k)] = static_cast<float>(k % 17) - 8.0f;
  prism_tensor_t x = nullptr;
  ASSERT_EQ(prism_from_data(xs.data(), &n, 1, PRISM_DTYPE_F32, "cpu", &x), PRISM_OK) << prism_last_error();
  auto failed = run_threads(kThreads, [&](int i) -> std::string {
    for (int it = 0; it < 20; ++it) {
      prism_tensor_t w = nullptr, p = nullptr, loss = nullptr, g = nullptr;
      T_OK(prism_full(&n, 1, 1.0 + i, PRISM_DTYPE_F32, "cpu", &w));
      T_OK(prism_tensor_set_requires_grad(w, 1));
      T_OK(prism_mul(x, w, &p));
      T_OK(prism_sum(p, nullptr, 0, 0, &loss));
      T_OK(prism_backward(loss, nullptr, 0));
      T_OK(prism_tensor_grad(w, &g));
      std::vector<float> gv(static_cast<size_t>(n));
      T_OK(prism_tensor_copy_to_host(g, gv.data(), gv.size() * sizeof(float)));
      if (std::memcmp(gv.data(), xs.data(), gv.size() * sizeof(float)) != 0)
        return "thread " + std::to_string(i) + ": grad of sum(x * w) is not x";
      for (prism_tensor_t t : {w, p, loss, g}) prism_tensor_release(t);
    }
    return {};
  });
  EXPECT_TRUE(failed.empty()) << failed.front();
  EXPECT_EQ(host(x), xs);  // the shared input is untouched
  prism_tensor_release(x);
}

// Every thread backpropagates into the same leaf at the same time: each
// backward adds (thread + 1) to every element of w.grad, so after all of them
// w.grad = kIters * (1 + 2 + ... + kThreads) exactly (small integers are
// exact in float32). A lost read-add-store shows up as a smaller value. The
// leaf's accumulator does not exist before the threads start, so its lazy
// creation races too.
TEST(Threads, SharedLeafConcurrentBackwardLosesNoUpdate) {
  constexpr int kIters = 50;
  const int64_t n = 256;
  prism_tensor_t w = nullptr;
  ASSERT_EQ(prism_zeros(&n, 1, PRISM_DTYPE_F32, "cpu", &w), PRISM_OK) << prism_last_error();
  ASSERT_EQ(prism_tensor_set_requires_grad(w, 1), PRISM_OK);
  auto failed = run_threads(kThreads, [&](int i) -> std::string {
    for (int it = 0; it < kIters; ++it) {
      prism_tensor_t c = nullptr, p = nullptr, loss = nullptr;
      T_OK(prism_full(&n, 1, 1.0 + i, PRISM_DTYPE_F32, "cpu", &c));
      T_OK(prism_mul(w, c, &p));
      T_OK(prism_sum(p, nullptr, 0, 0, &loss));
      T_OK(prism_backward(loss, nullptr, 0));
      for (prism_tensor_t t : {c, p, loss}) prism_tensor_release(t);
    }
    return {};
  });
  EXPECT_TRUE(failed.empty()) << failed.front();
  prism_tensor_t g = nullptr;
  ASSERT_EQ(prism_tensor_grad(w, &g), PRISM_OK) << prism_last_error();
  ASSERT_NE(g, nullptr);
  const float want = static_cast<float>(kIters * kThreads * (kThreads + 1) / 2);
  for (float v : host(g)) ASSERT_EQ(v, want) << "a concurrent gradient accumulation was lost";
  prism_tensor_release(g);
  prism_tensor_release(w);
}

// no_grad is per thread: one thread's guard never stops another's recording.
TEST(Threads, NoGradIsThreadLocal) {
  StartLine entered(2), checked(2);
  std::string a_err, b_err;
  std::thread a([&] {
    if (prism_no_grad_enter() != PRISM_OK) a_err = prism_last_error();
    entered.arrive_and_wait();
    if (prism_is_grad_enabled() != 0) a_err = "no_grad did not take effect on its own thread";
    checked.arrive_and_wait();
    prism_no_grad_exit();
  });
  std::thread b([&] {
    entered.arrive_and_wait();
    int64_t n = 4;
    prism_tensor_t w = nullptr, y = nullptr;
    if (prism_is_grad_enabled() != 1) b_err = "another thread's no_grad disabled recording here";
    if (prism_ones(&n, 1, PRISM_DTYPE_F32, "cpu", &w) == PRISM_OK &&
        prism_tensor_set_requires_grad(w, 1) == PRISM_OK && prism_mul(w, w, &y) == PRISM_OK) {
      if (prism_tensor_requires_grad(y) != 1) b_err = "op not recorded while another thread is in no_grad";
    } else {
      b_err = prism_last_error();
    }
    prism_tensor_release(y);
    prism_tensor_release(w);
    checked.arrive_and_wait();
  });
  a.join();
  b.join();
  EXPECT_EQ(a_err, "");
  EXPECT_EQ(b_err, "");
}

// Random draws, the caching allocator and the fallback counters from several
// threads: every call succeeds, the generator hands each draw its own offset
// (no two threads get the same numbers) and the allocator's books balance.
TEST(Threads, RandomAllocatorAndCountersShared) {
  ASSERT_EQ(prism_manual_seed(7), PRISM_OK);
  prism_memory_stats before{};
  before.struct_size = sizeof before;
  ASSERT_EQ(prism_memory_stats_get("cpu", &before), PRISM_OK) << prism_last_error();
  std::vector<std::vector<float>> firsts(kThreads);
  auto failed = run_threads(kThreads, [&](int i) -> std::string {
    for (int it = 0; it < 30; ++it) {
      const int64_t n = 64 + 37 * ((i + it) % 5);
      prism_tensor_t r = nullptr;
      T_OK(prism_rand(&n, 1, PRISM_DTYPE_F32, "cpu", &r));
      if (it == 0) {
        std::vector<float> v(static_cast<size_t>(n));
        T_OK(prism_tensor_copy_to_host(r, v.data(), v.size() * sizeof(float)));
        firsts[static_cast<size_t>(i)] = v;
      }
      prism_tensor_release(r);
      uint64_t count = 0;
      T_OK(prism_fallback_count(nullptr, &count));
      prism_memory_stats s{};
      s.struct_size = sizeof s;
      T_OK(prism_memory_stats_get("cpu", &s));
    }
    return {};
  });
  EXPECT_TRUE(failed.empty()) << failed.front();
  for (int i = 0; i < kThreads; ++i)
    for (int j = i + 1; j < kThreads; ++j)
      EXPECT_NE(firsts[static_cast<size_t>(i)][0], firsts[static_cast<size_t>(j)][0])
          << "threads " << i << " and " << j << " drew the same random numbers";
  prism_memory_stats after{};
  after.struct_size = sizeof after;
  ASSERT_EQ(prism_memory_stats_get("cpu", &after), PRISM_OK);
  EXPECT_EQ(after.allocated, before.allocated) << "the allocator lost track of released blocks";
}

// Handles made on some threads and released on others, more of them than a
// thread keeps for reuse (Note [Per-thread free slots]), by threads that go
// on making handles and then exit: every released handle is refused
// afterwards, and the handles made after each round are all distinct and
// each holds its own tensor (a slot given out twice shows as a repeated
// handle, a refused one or a wrong element).
TEST(Threads, HandlesReleasedAcrossThreadsAndThreadExit) {
  constexpr int kPerThread = 700;  // above the per-thread cache
  using Handles = std::vector<std::vector<prism_tensor_t>>;
  auto make_all = [](Handles& into, int i) -> std::string {
    for (int k = 0; k < kPerThread; ++k) {
      prism_tensor_t t = nullptr;
      T_OK(prism_full(nullptr, 0, static_cast<double>(i * kPerThread + k), PRISM_DTYPE_F32, "cpu", &t));
      into[static_cast<size_t>(i)].push_back(t);
    }
    return {};
  };
  auto check_all = [](const Handles& hs) {
    std::vector<prism_tensor_t> all;
    for (int i = 0; i < kThreads; ++i)
      for (int k = 0; k < kPerThread; ++k) {
        prism_tensor_t t = hs[static_cast<size_t>(i)][static_cast<size_t>(k)];
        all.push_back(t);
        float v = -1;
        ASSERT_EQ(prism_tensor_copy_to_host(t, &v, sizeof v), PRISM_OK) << prism_last_error();
        ASSERT_EQ(v, static_cast<float>(i * kPerThread + k)) << "handle " << i << "/" << k;
      }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "one slot was handed out twice";
  };
  auto refused = [](const Handles& hs) {
    for (const auto& v : hs)
      for (prism_tensor_t t : v) ASSERT_EQ(prism_tensor_retain(t), PRISM_ERROR_INVALID_ARGUMENT);
  };
  Handles made(kThreads), again(kThreads), last(1);
  auto failed = run_threads(kThreads, [&](int i) { return make_all(made, i); });
  ASSERT_TRUE(failed.empty()) << failed.front();
  // Thread i releases what thread i+1 made, then makes new handles from the
  // slots it keeps and the shared ones.
  failed = run_threads(kThreads, [&](int i) -> std::string {
    for (prism_tensor_t t : made[static_cast<size_t>((i + 1) % kThreads)]) T_OK(prism_tensor_release(t));
    return make_all(again, i);
  });
  ASSERT_TRUE(failed.empty()) << failed.front();
  refused(made);
  check_all(again);
  // Each thread releases its own and exits with its list full.
  failed = run_threads(kThreads, [&](int i) -> std::string {
    for (prism_tensor_t t : again[static_cast<size_t>(i)]) T_OK(prism_tensor_release(t));
    return {};
  });
  ASSERT_TRUE(failed.empty()) << failed.front();
  refused(again);
  Handles after(kThreads);
  for (int i = 0; i < kThreads; ++i) ASSERT_EQ(make_all(after, i), "");
  check_all(after);
  for (const auto& v : after)
    for (prism_tensor_t t : v) EXPECT_EQ(prism_tensor_release(t), PRISM_OK);
}

}  // namespace
