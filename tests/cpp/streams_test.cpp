// streams_test.cpp — prism.hpp streams, events, StreamGuard, record_stream and non-blocking pinned copies on
// cpu, opencl:0 and emu:0.
#include <string>
#include <vector>

#include "../prism_require_devices.h"
#include "test_util.hpp"

namespace {

using prism::Event;
using prism::Stream;
using prism::StreamGuard;
using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;
using prism_test::values;

bool has_device(std::string name) {
  if (name.find(':') == std::string::npos) name += ":0";
  for (const auto& d : prism::devices())
    if (d.device == name) return true;
  return false;
}

class StreamsOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!has_device(GetParam())) {
      if (prism_test_device_required(GetParam().c_str()))
        FAIL() << GetParam() << " is required but not loaded";
      GTEST_SKIP() << "skipped: " << GetParam() << " is not loaded";
    }
  }
  std::string dev() const { return GetParam(); }
};

TEST_P(StreamsOn, GuardMakesAStreamCurrentAndRestores) {
  Stream s(dev());
  EXPECT_EQ(s.device(), dev() == "cpu" ? "cpu:0" : dev());
  EXPECT_NE(s.id(), 0u);
  EXPECT_EQ(Stream::current(dev()), Stream::default_stream(dev()));
  Tensor x = Tensor::arange(0, 64, 1, prism::kFloat32, dev());
  s.wait_stream(Stream::default_stream(dev()));  // x was made on the default stream
  Tensor y;
  {
    StreamGuard g(s);
    EXPECT_EQ(Stream::current(dev()), s);
    y = x * 2.0 + 1.0;
  }
  EXPECT_EQ(Stream::current(dev()), Stream::default_stream(dev()));
  s.synchronize();
  EXPECT_TRUE(s.query());
  std::vector<double> want(64);
  for (int i = 0; i < 64; ++i) want[static_cast<size_t>(i)] = 2.0 * i + 1.0;
  EXPECT_TRUE(near_values(y, want));
}

TEST_P(StreamsOn, EventsOrderAProducerAndAConsumer) {
  Stream producer(dev()), consumer(dev());
  Tensor a = Tensor::ones({96, 96}, prism::kFloat32, dev());
  Event made(true), start(true), used(true);
  Tensor b, c;
  // `a` was filled on the default stream: a new stream does not wait for it
  // by itself (as in PyTorch), so the producer waits explicitly.
  producer.wait_stream(Stream::default_stream(dev()));
  {
    StreamGuard g(producer);
    start.record(producer);
    b = a.matmul(a);  // every element 96
    made.record(producer);
  }
  {
    StreamGuard g(consumer);
    consumer.wait_event(made);
    c = b + 1.0;
    used.record(consumer);
  }
  used.synchronize();
  EXPECT_TRUE(used.query());
  EXPECT_TRUE(made.query());
  EXPECT_TRUE(near_values(c, std::vector<double>(96 * 96, 97.0)));
  EXPECT_GE(start.elapsed_time(made), 0.0);
  EXPECT_GE(made.elapsed_time(used), 0.0);  // the consumer finished after the producer
  Event untimed;
  untimed.record(producer);
  EXPECT_TRUE(throws_with([&] { untimed.elapsed_time(used); }, {"enable_timing"}));
  Event never(true);
  EXPECT_TRUE(throws_with([&] { never.elapsed_time(used); }, {"recorded"}));
}

TEST_P(StreamsOn, NonBlockingCopyFromPinnedMemoryKeepsItsSource) {
  std::vector<float> host(1 << 16);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 1000);
  Tensor src = Tensor::from_data(host.data(), {static_cast<int64_t>(host.size())}, prism::kFloat32);
  Tensor pinned = src.pin_memory(dev());
  Stream copies(dev());
  Tensor d;
  {
    StreamGuard g(copies);
    d = pinned.to(dev(), true);
  }
  pinned = Tensor();  // the copy may still read it: Prism keeps the memory alive
  copies.synchronize();
  std::vector<double> want(host.begin(), host.end());
  EXPECT_TRUE(near_values(d, want));
  Tensor e = Tensor::empty_pinned({4}, prism::kFloat32, dev());
  EXPECT_STREQ(e.device().c_str(), "cpu:0");
  EXPECT_EQ(e.is_pinned(), dev() != "cpu");
}

TEST_P(StreamsOn, RecordStreamKeepsTheValuesOfLaterTensors) {
  Stream s1(dev()), s2(dev());
  Tensor keep;
  {
    StreamGuard g(s1);
    Tensor t = Tensor::full({1 << 14}, 3.0, prism::kFloat32, dev());
    prism::record_stream(t, s2);
    {
      StreamGuard g2(s2);
      s2.wait_stream(s1);
      keep = t * 2.0;
    }
  }  // t released while s2 may still read it
  {
    StreamGuard g(s1);
    Tensor reuse = Tensor::full({1 << 14}, -1.0, prism::kFloat32, dev());
    s1.synchronize();
  }
  prism::synchronize(dev());
  EXPECT_TRUE(near_values(keep, std::vector<double>(1 << 14, 6.0)));
  Stream moved(dev());
  Stream taken(std::move(moved));
  EXPECT_TRUE(throws_with([&] { prism::record_stream(keep, moved); }, {"tensor_record_stream", "NULL"}));
}

INSTANTIATE_TEST_SUITE_P(Devices, StreamsOn, ::testing::Values("cpu", "opencl:0", "emu:0"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& ch : n)
                             if (ch == ':') ch = '_';
                           return n;
                         });

}  // namespace
