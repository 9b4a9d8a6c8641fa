// profiler_test.cpp — the C++ face of the op profiler (prism::profiler): one CNN training step recorded on
// cpu, opencl:0 and emu:0, the summary against the events, user ranges, the Chrome trace file.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "../prism_require_devices.h"
#include "prism/nn.hpp"
#include "prism/optim.hpp"
#include "prism/prism.hpp"
#include "test_util.hpp"

namespace {

namespace nn = prism::nn;
namespace profiler = prism::profiler;

bool have_device(const std::string& name) {
  if (name == "cpu") return true;
  for (const auto& d : prism::devices())
    if (d.device == name) return true;
  return false;
}

class ProfilerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    prism::load_default_plugins();
    if (!have_device(GetParam())) {
      if (prism_test_device_required(GetParam().c_str()))
        GTEST_FAIL() << GetParam() << " is required but absent";
      GTEST_SKIP() << "skipped: no device " << GetParam();
    }
    prism::set_fallback_policy(prism::FallbackPolicy::Allow);
  }
  void TearDown() override { prism::set_fallback_policy(prism::FallbackPolicy::Warn); }
};

// Counts of the op rows of a summary table: name -> calls (first row per name).
std::map<std::string, uint64_t> summary_counts(const std::string& table) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // header
  std::getline(in, line);  // rule
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string name, device;
    uint64_t calls = 0;
    if (!(row >> name >> device >> calls)) continue;  // the total line
    out[name + "@" + device] += calls;
  }
  return out;
}

TEST_P(ProfilerTest, TrainingStepRecordsEveryOp) {
  const prism::Device dev(GetParam());
  const std::string name = GetParam() == "cpu" ? "cpu:0" : GetParam();  // as events name it
  prism::manual_seed(3);
  auto net = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(1, 4, 3, 1, 1), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(4 * 4 * 4, 10)});
  net->to(dev);
  prism::optim::SGDOptions so;
  so.lr = 0.1;
  so.momentum = 0.9;
  prism::optim::SGD opt(net->parameters(), so);
  const prism::Tensor x = prism::randn({2, 1, 8, 8}).to(dev);
  const prism::Tensor y = prism::Tensor::from_vector<int64_t>({3, 7}, {2}).to(dev);
  {
    profiler::Profile prof;
    EXPECT_TRUE(profiler::is_enabled());
    profiler::RecordFunction step("train_step");
    opt.zero_grad(true);
    prism::Tensor loss = nn::functional::cross_entropy((*net)(x), y);
    loss.backward();
    opt.step();
  }
  EXPECT_FALSE(profiler::is_enabled());
  const std::vector<profiler::Event> evs = profiler::events();
  std::map<std::string, uint64_t> counts;
  int ranges = 0;
  for (const auto& e : evs) {
    if (e.is_range) {
      ++ranges;
      EXPECT_EQ(e.name, "train_step");
      continue;
    }
    EXPECT_FALSE(e.device.empty()) << e.name;
    EXPECT_GE(e.host_ns, 0) << e.name;
    EXPECT_LE(e.self_ns, e.host_ns) << e.name;
    if (e.fallback.empty()) {
      EXPECT_TRUE(e.device == name || e.device == "cpu:0")
          << e.name << " on " << e.device;  // cpu: copies of a fallback
    } else {
      EXPECT_EQ(e.fallback, "cpu:0") << e.name;
    }
    ++counts[e.name + "@" + e.device];
  }
  EXPECT_EQ(ranges, 1);
  // The forward and backward ops a CNN step must dispatch.
  for (const char* op : {"conv2d", "max_pool2d", "max_pool2d_backward", "conv2d_backward_weight"}) {
    EXPECT_EQ(counts[std::string(op) + "@" + name], 1u) << op;
  }
  // The summary lists every op that ran with its count.
  const std::map<std::string, uint64_t> rows = summary_counts(profiler::summary());
  for (const auto& [key, n] : counts) {
    auto it = rows.find(key);
    ASSERT_NE(it, rows.end()) << key << " missing from the summary:\n" << profiler::summary();
    EXPECT_EQ(it->second, n) << key;
  }
  EXPECT_EQ(rows.size(), counts.size() + 1);  // + the train_step range row
  // The Chrome trace names every op.
  const std::string path = "cpp_profiler_trace_" +
                           std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                           GetParam().substr(0, 3) + ".json";
  profiler::export_chrome_trace(path);
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_NE(text.str().find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(text.str().find("\"name\":\"conv2d\""), std::string::npos);
  std::remove(path.c_str());
}

TEST_P(ProfilerTest, DisabledRecordsNothing) {
  const prism::Device dev(GetParam());
  { profiler::Profile prof; }
  const prism::Tensor a = prism::ones({4}).to(dev);
  const prism::Tensor b = a.add(a).mul(a);
  EXPECT_TRUE(profiler::events().empty());
  EXPECT_TRUE(prism_test::near_values(b, {2, 2, 2, 2}));
}

INSTANTIATE_TEST_SUITE_P(Devices, ProfilerTest, ::testing::Values("cpu", "opencl:0", "emu:0"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           return n.substr(0, n.find(':'));
                         });

TEST(Profiler, BadInput) {
  EXPECT_TRUE(
      prism_test::throws_with([] { prism::check(prism_profiler_range_pop()); }, {"no range is open"}));
  EXPECT_TRUE(prism_test::throws_with([] { profiler::export_chrome_trace("/nonexistent-dir/t.json"); },
                                      {"/nonexistent-dir/t.json"}, PRISM_ERROR_IO));
}

}  // namespace
