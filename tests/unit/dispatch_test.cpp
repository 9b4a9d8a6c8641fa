// dispatch_test.cpp — kernel selection, the CPU fallback policy and its counters, device mixing, memory
// stats, RNG.
#include <algorithm>
#include <cstdlib>

#include "core/memory/caching_allocator.hpp"
#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::values;

// The toy plugin (tests/plugins) is a non-CPU device with only a few kernels,
// so everything else it runs goes through the fallback.
class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PRISM_REQUIRE_CPU();
    try {
      Runtime::get().load_path(PRISM_TEST_PLUGIN_DIR "/libbroken-toy.so");
      toy_ = Runtime::get().device("toy");
    } catch (const Error& e) {
      GTEST_SKIP() << "skipped: the toy plugin is not available: " << e.what();
    }
    set_fallback_policy(PRISM_FALLBACK_ALLOW);
    fallback_reset();
  }
  void TearDown() override { set_fallback_policy(PRISM_FALLBACK_WARN); }
  Device* toy_ = nullptr;
};

TEST_F(DispatchTest, FallbackRunsOnCpuAndCounts) {
  Tensor a = to_device(test::tensor<float>({1, 2, 3}, Dims{3}), toy_);
  Tensor b = to_device(test::tensor<float>({4, 5, 6}, Dims{3}), toy_);
  EXPECT_EQ(a->device(), toy_);
  Tensor p = binary("mul", a, b);  // the toy plugin has no mul kernel
  EXPECT_EQ(p->device(), toy_);
  EXPECT_EQ(values(p), (std::vector<double>{4, 10, 18}));
  EXPECT_EQ(fallback_count("mul"), 1u);
  Tensor s = reduce("sum", p, {}, false);
  EXPECT_EQ(values(s), (std::vector<double>{32}));
  EXPECT_GE(fallback_count(nullptr), 2u);
  // In-place through the fallback writes into the toy tensor.
  binary_("mul", a, b);
  EXPECT_EQ(values(a), (std::vector<double>{4, 10, 18}));
  fallback_reset();
  EXPECT_EQ(fallback_count(nullptr), 0u);
}

TEST_F(DispatchTest, ErrorPolicyRefusesAndKeepsTensors) {
  Tensor a = to_device(test::tensor<float>({1, 2}, Dims{2}), toy_);
  set_fallback_policy(PRISM_FALLBACK_ERROR);
  expect_error([&] { binary("mul", a, a); }, PRISM_ERROR_UNIMPLEMENTED,
               {"'mul'", "float32", "toy:0", "plugin 'toy'", "PRISM_FALLBACK=error"});
  set_fallback_policy(PRISM_FALLBACK_ALLOW);
  EXPECT_EQ(values(a), (std::vector<double>{1, 2}));
}

TEST_F(DispatchTest, MixingDevicesNamesBoth) {
  Tensor a = to_device(test::tensor<float>({1, 2}, Dims{2}), toy_);
  Tensor b = test::tensor<float>({1, 2}, Dims{2});
  expect_error([&] { binary("add", a, b); }, PRISM_ERROR_INVALID_ARGUMENT, {"toy:0", "cpu:0"});
  expect_error([&] { matmul(a, b); }, PRISM_ERROR_INVALID_ARGUMENT, {"toy:0", "cpu:0"});
}

TEST_F(DispatchTest, RandomIsIdenticalAcrossDevices) {
  manual_seed(1234);
  Tensor c = rand(Dims{64}, PRISM_DTYPE_F32, cpu());
  Tensor cn = randn(Dims{64}, PRISM_DTYPE_F32, cpu());
  manual_seed(1234);
  Tensor t = rand(Dims{64}, PRISM_DTYPE_F32, toy_);
  Tensor tn = randn(Dims{64}, PRISM_DTYPE_F32, toy_);
  EXPECT_EQ(values(c), values(t));
  EXPECT_EQ(values(cn), values(tn));
  Tensor again = rand(Dims{64}, PRISM_DTYPE_F32, cpu());
  EXPECT_NE(values(again), values(c));  // the generator advanced
}

TEST(Random, SeedsAndRanges) {
  PRISM_REQUIRE_CPU();
  manual_seed(7);
  auto a = values(rand(Dims{1000}, PRISM_DTYPE_F32, cpu()));
  manual_seed(7);
  auto b = values(rand(Dims{1000}, PRISM_DTYPE_F32, cpu()));
  EXPECT_EQ(a, b);
  for (double v : a) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
  auto r = values(randint(-3, 3, Dims{1000}, PRISM_DTYPE_I32, cpu()));
  for (double v : r) {
    EXPECT_GE(v, -3);
    EXPECT_LT(v, 3);
  }
  auto p = values(randperm(50, PRISM_DTYPE_I64, cpu()));
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(p, sorted);
  auto bern = values(bernoulli_scalar(Dims{4000}, 0.25, PRISM_DTYPE_F32, cpu()));
  double mean = 0;
  for (double v : bern) mean += v / 4000;
  EXPECT_NEAR(mean, 0.25, 0.03);
  auto n = values(randn(Dims{20000}, PRISM_DTYPE_F32, cpu()));
  double m = 0, sq = 0;
  for (double v : n) {
    m += v / n.size();
    sq += v * v / n.size();
  }
  EXPECT_NEAR(m, 0, 0.03);
  EXPECT_NEAR(sq, 1, 0.05);
  EXPECT_THROW(randint(3, 3, Dims{1}, PRISM_DTYPE_I32, cpu()), Error);
  EXPECT_THROW(rand(Dims{1}, PRISM_DTYPE_I32, cpu()), Error);
}

TEST(Memory, CachingAllocatorReusesBlocksAndReportsStats) {
  PRISM_REQUIRE_CPU();
  CachingAllocator& alloc = *cpu()->allocator;
  alloc.empty_cache();
  prism_memory_stats s0 = alloc.stats();
  {
    Tensor t = empty(Dims{1 << 20}, PRISM_DTYPE_F32, cpu());  // 4 MiB
    prism_memory_stats s1 = alloc.stats();
    EXPECT_GE(s1.allocated, s0.allocated + (4u << 20));
    EXPECT_GE(s1.peak_allocated, s1.allocated);
  }
  prism_memory_stats s2 = alloc.stats();
  EXPECT_EQ(s2.allocated, s0.allocated);
  EXPECT_GT(s2.reserved, s2.allocated);  // the block is cached
  uint64_t allocs = s2.num_device_allocs;
  { Tensor t = empty(Dims{1 << 20}, PRISM_DTYPE_F32, cpu()); }
  prism_memory_stats s3 = alloc.stats();
  EXPECT_EQ(s3.num_device_allocs, allocs);  // served from the cache
  EXPECT_GT(s3.num_cache_hits, s2.num_cache_hits);
  alloc.reset_peak();
  EXPECT_EQ(alloc.stats().peak_allocated, alloc.stats().allocated);
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().reserved, alloc.stats().allocated);
}

}  // namespace
}  // namespace prism
