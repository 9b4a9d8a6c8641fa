// loader_test.cpp — the plugin loader: ABI negotiation, broken plugins, discovery, dedupe, device names, load
// report.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/dll/shared_library.hpp>

#include "core/memory/caching_allocator.hpp"
#include "core/plugin/runtime.hpp"
#include "core/tensor/tensor.hpp"

#ifndef PRISM_TEST_PLUGIN_DIR
#error "PRISM_TEST_PLUGIN_DIR is defined by tests/plugins/CMakeLists.txt"
#endif

namespace prism {
namespace {

// Note [Loader test isolation]
// The runtime is a process-wide singleton and plugins are never unloaded, so
// each test loads what it needs through the idempotent load_path and asserts
// only on what it loaded. ctest runs every test in its own process; running
// the whole binary at once works too, in any order.

std::string broken(const std::string& variant) {
  return std::string(PRISM_TEST_PLUGIN_DIR) + "/libbroken-" + variant + ".so";
}

std::string canonical(const std::string& path) {
  return std::filesystem::weakly_canonical(std::filesystem::path(path)).string();
}

Runtime& rt() {
  return Runtime::get();
}

// The report row for `path` (canonical), or a default row with an empty path.
LoadReportRow row_for(const std::string& path) {
  std::string key = canonical(path);
  for (const LoadReportRow& r : rt().load_report())
    if (r.path == key) return r;
  return LoadReportRow{};
}

size_t rows_for(const std::string& path) {
  std::string key = canonical(path);
  size_t n = 0;
  for (const LoadReportRow& r : rt().load_report()) n += r.path == key ? 1 : 0;
  return n;
}

// Loads `path`, expecting a refusal; returns the error message.
std::string refusal(const std::string& path) {
  try {
    rt().load_path(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_UNAVAILABLE) << e.what();
    return e.what();
  }
  ADD_FAILURE() << path << " loaded but should have been refused";
  return "";
}

Device* load_toy() {
  rt().load_path(broken("toy"));
  return rt().device("toy:0");
}

// A device buffer from the device's caching allocator, released on scope exit.
class Buffer {
 public:
  Buffer(Device* dev, size_t bytes) : dev_(dev) { ptr_ = dev->allocator->allocate(bytes, &block_); }
  ~Buffer() { dev_->allocator->release(ptr_, block_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* get() const { return ptr_; }

 private:
  Device* dev_;
  void* ptr_ = nullptr;
  size_t block_ = 0;
};

void upload(Device* dev, const Buffer& dst, const std::vector<float>& src) {
  Plugin* p = dev->plugin;
  throw_if_plugin_error(p->table->copy_from_host(p->ctx, dev->index, nullptr, src.data(), dst.get(), 0,
                                                 src.size() * sizeof(float)),
                        *p, "copy to " + dev->name);
}

std::vector<float> download(Device* dev, const Buffer& src, size_t n) {
  std::vector<float> out(n);
  Plugin* p = dev->plugin;
  throw_if_plugin_error(
      p->table->copy_to_host(p->ctx, dev->index, nullptr, src.get(), 0, out.data(), n * sizeof(float)), *p,
      "copy from " + dev->name);
  return out;
}

// out = a + alpha * b through the device's "add" kernel, 1-D f32, n elements.
void run_add(Device* dev, const Buffer& a, const Buffer& b, const Buffer& out, int64_t n, double alpha) {
  const KernelEntry* k = dev->plugin->find_kernel("add", PRISM_DTYPE_F32);
  ASSERT_NE(k, nullptr) << dev->name << " has no f32 add kernel";
  int64_t sizes[1] = {n}, strides[1] = {1};
  auto desc = [&](const Buffer& buf) {
    return prism_tensor_desc{sizeof(prism_tensor_desc), buf.get(), 0, PRISM_DTYPE_F32, 1, sizes, strides};
  };
  prism_tensor_desc ins[2] = {desc(a), desc(b)};
  prism_tensor_desc outs[1] = {desc(out)};
  prism_attr attr{
      sizeof(prism_attr), "alpha", PRISM_ATTR_SCALAR, static_cast<int64_t>(alpha), alpha, nullptr, 0};
  prism_kernel_call call{sizeof(prism_kernel_call), "add", dev->index, nullptr, ins, 2, outs, 1, &attr, 1};
  throw_if_plugin_error(k->run(dev->plugin->ctx, &call), *dev->plugin, "running add on " + dev->name);
}

// Allocates through the caching allocator, uploads, adds, reads back.
void expect_add_works(Device* dev) {
  const int64_t n = 37;
  std::vector<float> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i), y[i] = static_cast<float>(100 - i);
  Buffer a(dev, n * sizeof(float)), b(dev, n * sizeof(float)), out(dev, n * sizeof(float));
  upload(dev, a, x);
  upload(dev, b, y);
  ASSERT_NO_THROW(run_add(dev, a, b, out, n, 2.0));
  std::vector<float> got = download(dev, out, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(got[i], x[i] + 2.0f * y[i]) << dev->name << " at " << i;
}

bool cpu_plugin_built() {
  return std::filesystem::exists(PRISM_TEST_CPU_PLUGIN);
}

// Exercises the good plugins: the toy always, the real CPU plugin when built.
// pin_memory for a device whose plugin has no pinned memory: UNAVAILABLE
// naming the plugin, the host tensor untouched.
void expect_no_pinned_memory(Device* dev) {
  if (!cpu_plugin_built()) return;
  rt().load_path(PRISM_TEST_CPU_PLUGIN);
  const float v[4] = {1, 2, 3, 4};
  Tensor h = from_host(v, Dims{4}, PRISM_DTYPE_F32, rt().cpu());
  // Toy devices address host memory (pinning is then a no-op); treat this
  // one as a device with memory of its own for the check.
  const uint32_t caps = dev->capabilities;
  dev->capabilities &= ~static_cast<uint32_t>(PRISM_DEVICE_CAP_HOST_MEMORY);
  try {
    (void)pin_memory(h, dev);
    ADD_FAILURE() << "pin_memory for " << dev->name << " did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_UNAVAILABLE);
    EXPECT_NE(std::string(e.what()).find("plugin '" + dev->plugin->name + "'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("no pinned host memory"), std::string::npos) << e.what();
  }
  dev->capabilities = caps;
  EXPECT_FALSE(is_pinned(h));
  EXPECT_EQ(pin_memory(h, dev), h);  // host memory: nothing to pin
}

void expect_good_plugins_work() {
  expect_add_works(load_toy());
  if (!cpu_plugin_built()) return;
  rt().load_path(PRISM_TEST_CPU_PLUGIN);
  Device* cpu = rt().cpu();
  Buffer buf(cpu, 64 * sizeof(float));
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * static_cast<float>(i);
  upload(cpu, buf, x);
  EXPECT_EQ(download(cpu, buf, x.size()), x);
  if (cpu->plugin->find_kernel("add", PRISM_DTYPE_F32) != nullptr) expect_add_works(cpu);
}

// ---------------------------------------------------------------------------
// Host table and errors
// ---------------------------------------------------------------------------

TEST(HostTable, AdvertisesAbiOne) {
  const prism_host_table* host = host_table();
  EXPECT_EQ(host->struct_size, sizeof(prism_host_table));
  EXPECT_EQ(host->abi_major, 1u);
  EXPECT_EQ(host->abi_minor, 2u);
  ASSERT_NE(host->error_create, nullptr);
  ASSERT_NE(host->log, nullptr);
}

TEST(HostTable, ErrorObjectsBecomeExceptions) {
  prism_plugin_error* err = host_table()->error_create(PRISM_ERROR_DEVICE_LOST, "link down");
  ASSERT_NE(err, nullptr);
  try {
    throw_if_plugin_error(err, "synchronizing toy:0");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_DEVICE_LOST);
    EXPECT_STREQ(e.what(), "synchronizing toy:0: link down");
  }
  EXPECT_NO_THROW(throw_if_plugin_error(nullptr, "nothing"));
  free_plugin_error(nullptr);
  free_plugin_error(host_table()->error_create(PRISM_ERROR_INTERNAL, nullptr));
}

TEST(HostTable, NamesThePlugin) {
  Plugin p;
  p.name = "toy";
  try {
    throw_if_plugin_error(host_table()->error_create(PRISM_ERROR_INTERNAL, nullptr), p, "running add");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_INTERNAL);
    EXPECT_STREQ(e.what(), "running add: INTERNAL (plugin 'toy')");  // no message: the code's name
  }
}

TEST(HostTable, CodesFromPluginsAreChecked) {
  // The toy's fill returns error_create(<raw int>, ...) when asked: what a C
  // plugin may do. Codes outside the error range become INTERNAL.
  Device* dev = load_toy();
  const KernelEntry* fill = dev->plugin->find_kernel("fill", PRISM_DTYPE_F32);
  ASSERT_NE(fill, nullptr);
  Buffer buf(dev, 4 * sizeof(float));
  int64_t sizes[1] = {4}, strides[1] = {1};
  prism_tensor_desc out{sizeof(prism_tensor_desc), buf.get(), 0, PRISM_DTYPE_F32, 1, sizes, strides};
  const std::pair<int64_t, prism_status> cases[] = {{42, PRISM_ERROR_INTERNAL},
                                                    {0, PRISM_ERROR_INTERNAL},
                                                    {-1, PRISM_ERROR_INTERNAL},
                                                    {PRISM_ERROR_DEVICE_LOST, PRISM_ERROR_DEVICE_LOST},
                                                    {PRISM_ERROR_OUT_OF_MEMORY, PRISM_ERROR_OUT_OF_MEMORY}};
  for (const auto& c : cases) {
    prism_attr fail{sizeof(prism_attr), "fail_with", PRISM_ATTR_INT, c.first, 0.0, nullptr, 0};
    prism_kernel_call call{sizeof(call), "fill", dev->index, nullptr, nullptr, 0, &out, 1, &fail, 1};
    try {
      throw_if_plugin_error(fill->run(dev->plugin->ctx, &call), *dev->plugin, "running fill on toy:0");
      ADD_FAILURE() << "no exception for code " << c.first;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), c.second) << "raw code " << c.first;
      EXPECT_STREQ(e.what(), "running fill on toy:0: failure requested by the caller (plugin 'toy')");
    }
  }
}

TEST(HostTable, LogFormatAndDebugSuppression) {
  testing::internal::CaptureStderr();
  host_table()->log(PRISM_LOG_WARN, "toy", "queue is slow");
  host_table()->log(PRISM_LOG_DEBUG, "toy", "a debug line");
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("[prism:toy] warn: queue is slow\n"), std::string::npos) << out;
  const char* level = std::getenv("PRISM_LOG");
  if (level == nullptr || std::strcmp(level, "debug") != 0) {
    EXPECT_EQ(out.find("a debug line"), std::string::npos) << out;
  }
}

// ---------------------------------------------------------------------------
// The good toy plugin
// ---------------------------------------------------------------------------

TEST(Loader, ToyPluginLoadsAndRuns) {
  Device* dev = load_toy();
  EXPECT_EQ(dev->name, "toy:0");
  EXPECT_EQ(dev->plugin->name, "toy");
  EXPECT_EQ(dev->plugin->version, "0.0.1-test");
  EXPECT_EQ(dev->stable_id, "toy-0");
  EXPECT_EQ(dev->device_name, "Toy host device");
  EXPECT_TRUE(dev->host_memory());
  EXPECT_TRUE(dev->plugin->has_events);
  ASSERT_NE(dev->allocator, nullptr);
  EXPECT_NE(dev->plugin->find_kernel("fill", PRISM_DTYPE_F32), nullptr);
  EXPECT_EQ(dev->plugin->find_kernel("fill", PRISM_DTYPE_F64), nullptr);  // dtype bit not set
  EXPECT_EQ(dev->plugin->find_kernel("mul", PRISM_DTYPE_F32), nullptr);
  EXPECT_EQ(dev->plugin->find_kernel("add", static_cast<prism_dtype>(99)), nullptr);
  expect_add_works(dev);

  LoadReportRow row = row_for(broken("toy"));
  EXPECT_TRUE(row.loaded);
  EXPECT_EQ(row.plugin_name, "toy");
  EXPECT_EQ(row.abi_major, 1u);
  EXPECT_EQ(row.abi_minor, 2u);
  EXPECT_EQ(row.device_count, 1);
  EXPECT_EQ(row.reason, "");
}

TEST(Loader, FillKernelWithStrides) {
  Device* dev = load_toy();
  const KernelEntry* fill = dev->plugin->find_kernel("fill", PRISM_DTYPE_F32);
  ASSERT_NE(fill, nullptr);
  Buffer buf(dev, 12 * sizeof(float));
  upload(dev, buf, std::vector<float>(12, 0.0f));
  // out: (3, 2) viewed transposed out of a (2, 6) buffer, 4 bytes in
  int64_t sizes[2] = {3, 2}, strides[2] = {1, 6};
  prism_tensor_desc out{sizeof(prism_tensor_desc), buf.get(), 4, PRISM_DTYPE_F32, 2, sizes, strides};
  prism_attr value{sizeof(prism_attr), "value", PRISM_ATTR_SCALAR, 7, 7.0, nullptr, 0};
  prism_kernel_call call{sizeof(call), "fill", dev->index, nullptr, nullptr, 0, &out, 1, &value, 1};
  throw_if_plugin_error(fill->run(dev->plugin->ctx, &call), *dev->plugin, "fill");
  std::vector<float> got = download(dev, buf, 12);
  std::vector<float> want = {0, 7, 7, 7, 0, 0, 0, 7, 7, 7, 0, 0};
  EXPECT_EQ(got, want);
}

TEST(Loader, SamePathTwiceIsANoOp) {
  load_toy();
  size_t before = rt().load_report().size();
  rt().load_path(broken("toy"));
  rt().load_path(std::string(PRISM_TEST_PLUGIN_DIR) + "/./libbroken-toy.so");
  EXPECT_EQ(rt().load_report().size(), before);
  EXPECT_EQ(rows_for(broken("toy")), 1u);
}

// ---------------------------------------------------------------------------
// Broken plugins: each is refused with a precise reason, the rest keep working
// ---------------------------------------------------------------------------

struct BrokenCase {
  const char* variant;
  std::vector<std::string> reason_parts;  // substrings of the report reason
};

void PrintTo(const BrokenCase& c, std::ostream* os) {
  *os << c.variant;
}

class BrokenPlugin : public testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenPlugin, IsRefusedWithReasonAndOthersKeepWorking) {
  const BrokenCase& c = GetParam();
  expect_good_plugins_work();
  std::string path = broken(c.variant);
  std::string message = refusal(path);
  LoadReportRow row = row_for(path);
  ASSERT_EQ(row.path, canonical(path)) << "no report row for " << path;
  EXPECT_FALSE(row.loaded);
  EXPECT_EQ(row.device_count, 0);
  EXPECT_EQ(row.plugin_name, "");
  for (const std::string& part : c.reason_parts) {
    EXPECT_NE(row.reason.find(part), std::string::npos) << "reason: " << row.reason << "\nmissing: " << part;
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message;
  }
  EXPECT_NE(message.find(canonical(path)), std::string::npos) << message;
  // A second attempt gives the same answer and no second row.
  EXPECT_EQ(refusal(path), message);
  EXPECT_EQ(rows_for(path), 1u);
  expect_good_plugins_work();
}

INSTANTIATE_TEST_SUITE_P(
    Loader, BrokenPlugin,
    testing::Values(
        BrokenCase{"abi2", {"plugin ABI 2.2 is not compatible with core ABI 1.2"}},
        BrokenCase{"noentry", {"does not export 'prism_plugin_entry'"}},
        BrokenCase{"entryerr", {"prism_plugin_entry failed: UNAVAILABLE: toy needs host ABI 2.x"}},
        BrokenCase{"initfail", {"init failed: UNAVAILABLE: simulated driver initialisation failure"}},
        BrokenCase{"countfail", {"device_count failed: DEVICE_LOST: simulated device enumeration failure"}},
        BrokenCase{"nullslot", {"required slot 'alloc' is NULL"}},
        BrokenCase{"shortkdef", {"kernel_def_size 32 is smaller than the ABI 1.0 minimum 40"}},
        BrokenCase{"notelf", {"cannot load the library: ", "libbroken-notelf.so"}},
        BrokenCase{
            "undefsym",
            {"cannot load the library: ", "undefined symbol", "prism_test_symbol_that_nothing_defines"}},
        BrokenCase{"does-not-exist", {"cannot load the library: ", "No such file"}}),
    [](const testing::TestParamInfo<BrokenCase>& info) {
      std::string name = info.param.variant;
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

TEST(Loader, WrongAbiRowKeepsThePluginsVersion) {
  refusal(broken("abi2"));
  LoadReportRow row = row_for(broken("abi2"));
  EXPECT_EQ(row.abi_major, 2u);
  EXPECT_EQ(row.abi_minor, 2u);
}

TEST(Loader, FailedPropsSkipsOnlyThatDevice) {
  rt().load_path(broken("propsfail"));
  LoadReportRow row = row_for(broken("propsfail"));
  EXPECT_TRUE(row.loaded);
  EXPECT_EQ(row.device_count, 1);
  EXPECT_NE(row.reason.find("device 0: device_props failed: DEVICE_LOST: simulated property query failure"),
            std::string::npos)
      << row.reason;
  Device* dev = rt().device("propsfail");
  EXPECT_EQ(dev->name, "propsfail:0");
  EXPECT_EQ(dev->index, 1);  // the plugin's device 1 is the first usable one
  expect_add_works(dev);
}

// ---------------------------------------------------------------------------
// Compatibility: older and newer struct sizes
// ---------------------------------------------------------------------------

TEST(Loader, OlderTableWithoutEventSlotsLoads) {
  rt().load_path(broken("old"));
  LoadReportRow row = row_for(broken("old"));
  EXPECT_TRUE(row.loaded) << row.reason;
  EXPECT_EQ(row.device_count, 1);
  Device* dev = rt().device("old:0");
  EXPECT_LT(dev->plugin->table->struct_size, sizeof(prism_plugin_table));
  EXPECT_FALSE(dev->plugin->has_events);  // slots past struct_size read as NULL
  EXPECT_FALSE(dev->plugin->has_pinned);  // a 1.0 table has no pinned-memory slots
  expect_no_pinned_memory(dev);
  expect_add_works(dev);
  expect_good_plugins_work();
}

TEST(Loader, NewerTableAndKernelDefsLoad) {
  rt().load_path(broken("new"));
  LoadReportRow row = row_for(broken("new"));
  EXPECT_TRUE(row.loaded) << row.reason;
  EXPECT_EQ(row.abi_major, 1u);
  EXPECT_EQ(row.abi_minor, 3u);
  Device* dev = rt().device("new:0");
  EXPECT_GT(dev->plugin->table->struct_size, sizeof(prism_plugin_table));
  EXPECT_GT(dev->plugin->table->kernel_def_size, sizeof(prism_kernel_def));
  EXPECT_TRUE(dev->plugin->has_events);
  EXPECT_FALSE(dev->plugin->has_pinned);       // present but NULL
  ASSERT_EQ(dev->plugin->kernels.size(), 2u);  // stepped with kernel_def_size
  EXPECT_EQ(dev->plugin->kernels[0].op, "fill");
  EXPECT_EQ(dev->plugin->kernels[1].op, "add");
  expect_add_works(dev);
  expect_good_plugins_work();
}

// ---------------------------------------------------------------------------
// Zero devices, faults, dedupe
// ---------------------------------------------------------------------------

TEST(Loader, ZeroDevicesIsLoadedWithReason) {
  rt().load_path(broken("zero"));
  LoadReportRow row = row_for(broken("zero"));
  EXPECT_TRUE(row.loaded);
  EXPECT_EQ(row.plugin_name, "zero");
  EXPECT_EQ(row.device_count, 0);
  EXPECT_EQ(row.reason, "no toy hardware found (simulated)");
  try {
    rt().device("zero:0");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_UNAVAILABLE);
    EXPECT_NE(std::string(e.what()).find("no toy hardware found (simulated)"), std::string::npos) << e.what();
  }
  expect_good_plugins_work();
}

TEST(Loader, FaultyKernelErrorNamesPluginAndLaterCallsWork) {
  rt().load_path(broken("faulty"));
  Device* dev = rt().device("faulty:0");
  const int64_t n = 5;
  Buffer a(dev, n * sizeof(float)), b(dev, n * sizeof(float)), out(dev, n * sizeof(float));
  upload(dev, a, {1, 2, 3, 4, 5});
  upload(dev, b, {10, 20, 30, 40, 50});
  run_add(dev, a, b, out, n, 1.0);
  run_add(dev, a, b, out, n, 1.0);
  try {
    run_add(dev, a, b, out, n, 1.0);  // the 3rd call fails
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_INTERNAL);
    EXPECT_STREQ(e.what(), "running add on faulty:0: simulated device fault (plugin 'faulty')");
  }
  run_add(dev, a, b, out, n, 1.0);
  EXPECT_EQ(download(dev, out, n), (std::vector<float>{11, 22, 33, 44, 55}));
  expect_add_works(dev);
  expect_good_plugins_work();
}

TEST(Loader, SamePluginNameFromAnotherPathIsSkipped) {
  load_toy();
  std::string message = refusal(broken("toycopy"));
  std::string want = "plugin 'toy' is already loaded from '" + canonical(broken("toy")) + "'";
  EXPECT_NE(message.find(want), std::string::npos) << message;
  LoadReportRow row = row_for(broken("toycopy"));
  EXPECT_FALSE(row.loaded);
  EXPECT_NE(row.reason.find(want), std::string::npos) << row.reason;
  EXPECT_EQ(rt().device("toy:0")->plugin->path, canonical(broken("toy")));
  expect_good_plugins_work();
}

TEST(Loader, DeviceWithKnownStableIdIsSkipped) {
  load_toy();
  rt().load_path(broken("toyalias"));
  LoadReportRow row = row_for(broken("toyalias"));
  EXPECT_TRUE(row.loaded);
  EXPECT_EQ(row.device_count, 1);
  EXPECT_NE(
      row.reason.find("device 0 (stable id 'toy-0') is already provided by toy:0 (plugin 'toy'); skipped"),
      std::string::npos)
      << row.reason;
  // Numbered per device type across plugins: toyalias's device 1 is toy:1.
  Device* second = rt().device("toy:1");
  EXPECT_EQ(second->plugin->name, "toyalias");
  EXPECT_EQ(second->index, 1);
  EXPECT_EQ(second->stable_id, "toy-1");
  EXPECT_EQ(rt().device("toy:0")->plugin->name, "toy");
  expect_add_works(second);
}

// ---------------------------------------------------------------------------
// load_entry
// ---------------------------------------------------------------------------

prism_plugin_error* entry_failing(const prism_host_table* host, const prism_plugin_table** table) {
  *table = nullptr;
  return host->error_create(PRISM_ERROR_UNAVAILABLE, "built-in plugin disabled");
}

prism_plugin_error* entry_without_table(const prism_host_table*, const prism_plugin_table** table) {
  *table = nullptr;
  return nullptr;
}

TEST(LoadEntry, InProcessEntryLoads) {
  // The "entry" variant, opened here as if it were linked into the program.
  // Never closed, like every plugin library (Note [Runtime lifetime]).
  static auto* lib = new boost::dll::shared_library(broken("entry"), boost::dll::load_mode::rtld_now);
  auto entry = &lib->get<prism_plugin_error*(const prism_host_table*, const prism_plugin_table**)>(
      PRISM_PLUGIN_ENTRY_SYMBOL);
  rt().load_entry(entry, "builtin:entrytoy");
  rt().load_entry(entry, "builtin:entrytoy");  // idempotent per label
  LoadReportRow row = row_for("builtin:entrytoy");
  size_t n = 0;
  for (const LoadReportRow& r : rt().load_report()) n += r.path == "builtin:entrytoy" ? 1 : 0;
  EXPECT_EQ(n, 1u);
  Device* dev = rt().device("entrytoy");
  EXPECT_EQ(dev->plugin->path, "builtin:entrytoy");
  expect_add_works(dev);
}

TEST(LoadEntry, FailuresAreReported) {
  try {
    rt().load_entry(entry_failing, "builtin:failing");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), PRISM_ERROR_UNAVAILABLE);
    EXPECT_NE(std::string(e.what()).find("prism_plugin_entry failed: UNAVAILABLE: built-in plugin disabled"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(rt().load_entry(entry_without_table, "builtin:no-table"), Error);
  bool found = false;
  for (const LoadReportRow& r : rt().load_report())
    if (r.path == "builtin:no-table") {
      found = true;
      EXPECT_FALSE(r.loaded);
      EXPECT_EQ(r.reason, "prism_plugin_entry returned no table");
    }
  EXPECT_TRUE(found);
  EXPECT_THROW(rt().load_entry(nullptr, "builtin:null"), Error);
}

// ---------------------------------------------------------------------------
// Device names
// ---------------------------------------------------------------------------

void expect_device_error(const char* name, prism_status status, const std::vector<std::string>& parts) {
  try {
    rt().device(name);
    ADD_FAILURE() << "device('" << name << "') did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(DeviceNames, ResolveAndReportErrors) {
  Device* toy = load_toy();
  EXPECT_EQ(rt().device("toy"), toy);
  EXPECT_EQ(rt().device("toy:0"), toy);
  expect_device_error("toy:7", PRISM_ERROR_INVALID_ARGUMENT, {"'toy:7'", "available devices: ", "toy:0"});
  expect_device_error("nosuch:0", PRISM_ERROR_UNAVAILABLE, {"'nosuch:0'", "available devices: ", "toy:0"});
  expect_device_error("nosuch", PRISM_ERROR_UNAVAILABLE, {"'nosuch'", "toy:0"});
  for (const char* bad : {"toy:", "toy:x", ":0", "toy:-1", "toy:0:1", "toy:1x", "toy:99999999999"})
    expect_device_error(bad, PRISM_ERROR_INVALID_ARGUMENT, {std::string("'") + bad + "'", "toy:0"});
  std::vector<Device*> all = rt().devices();
  EXPECT_NE(std::find(all.begin(), all.end(), toy), all.end());
}

TEST(DeviceNames, CpuIsTheDefault) {
  load_toy();
  if (!cpu_plugin_built()) {
    expect_device_error(nullptr, PRISM_ERROR_UNAVAILABLE, {"'cpu:0'", "toy:0"});
    GTEST_SKIP() << "skipped: libprism-cpu.so not built";
  }
  rt().load_path(PRISM_TEST_CPU_PLUGIN);
  Device* cpu = rt().device("cpu:0");
  EXPECT_EQ(cpu->name, "cpu:0");
  EXPECT_EQ(rt().device("cpu"), cpu);
  EXPECT_EQ(rt().device(nullptr), cpu);
  EXPECT_EQ(rt().device(""), cpu);
  EXPECT_EQ(rt().cpu(), cpu);
}

TEST(CpuPlugin, KeepsWorkingBesideBrokenPlugins) {
  if (!cpu_plugin_built()) GTEST_SKIP() << "skipped: libprism-cpu.so not built";
  rt().load_path(PRISM_TEST_CPU_PLUGIN);
  LoadReportRow row = row_for(PRISM_TEST_CPU_PLUGIN);
  EXPECT_TRUE(row.loaded) << row.reason;
  EXPECT_EQ(row.plugin_name, "cpu");
  EXPECT_GE(row.device_count, 1);
  for (const char* v : {"abi2", "noentry", "initfail", "nullslot", "notelf", "faulty", "zero"}) {
    try {
      rt().load_path(broken(v));
    } catch (const Error&) {
    }
    expect_good_plugins_work();
  }
}

TEST(Runtime, ConcurrentLoadsAndLookups) {
  std::vector<std::thread> threads;
  std::vector<Device*> seen(8, nullptr);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &seen] {
      try {
        rt().load_path(broken(t % 2 == 0 ? "toy" : "zero"));
        (void)rt().load_report();
        (void)rt().devices();
        seen[t] = rt().device("toy:0");
      } catch (const Error&) {
        seen[t] = nullptr;  // toy:0 not yet loaded by a "zero" thread: fine
      }
    });
  }
  for (auto& th : threads) th.join();
  Device* toy = load_toy();
  for (int t = 0; t < 8; t += 2) EXPECT_EQ(seen[t], toy);
  EXPECT_EQ(rows_for(broken("toy")), 1u);
  EXPECT_EQ(rows_for(broken("zero")), 1u);
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

TEST(Discovery, PluginPathCandidatesSortedAndReported) {
  // Discovery runs once per process; it must not have run before this test.
  std::string dir = canonical(PRISM_TEST_DISCOVER_DIR);
  const char* old = std::getenv("PRISM_PLUGIN_PATH");
  std::string value = dir + "::" + (old != nullptr ? old : "");
  setenv("PRISM_PLUGIN_PATH", value.c_str(), 1);
  std::vector<LoadReportRow> rows = rt().load_report();  // runs discovery if it has not run yet
  size_t good = rows.size(), bad = rows.size();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].path == dir + "/libprism-toydisc.so") good = i;
    if (rows[i].path == dir + "/libprism-zz-notelf.so") bad = i;
    EXPECT_EQ(rows[i].path.find("libother.so"), std::string::npos);
  }
  if (good == rows.size() && bad == rows.size())
    GTEST_SKIP() << "skipped: discovery already ran in this process (run this test on its own)";
  ASSERT_LT(good, rows.size());
  ASSERT_LT(bad, rows.size());
  EXPECT_LT(good, bad);  // sorted by file name
  EXPECT_TRUE(rows[good].loaded);
  EXPECT_EQ(rows[good].plugin_name, "toydisc");
  EXPECT_FALSE(rows[bad].loaded);
  EXPECT_NE(rows[bad].reason.find("cannot load the library: "), std::string::npos) << rows[bad].reason;
  EXPECT_EQ(rt().device("toydisc")->name, "toydisc:0");
  // Explicitly loading a discovered file again is a no-op.
  rt().load_path(dir + "/libprism-toydisc.so");
  EXPECT_EQ(rows_for(dir + "/libprism-toydisc.so"), 1u);
  if (cpu_plugin_built()) {
    // PRISM_PLUGIN_PATH's later entry (the build's lib/ under ctest) follows.
    bool cpu_loaded = false;
    for (const LoadReportRow& r : rt().load_report()) cpu_loaded |= r.plugin_name == "cpu" && r.loaded;
    if (old != nullptr) {
      EXPECT_TRUE(cpu_loaded);
    }
  }
}

}  // namespace
}  // namespace prism
