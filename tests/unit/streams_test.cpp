// streams_test.cpp — user streams, events and the stream-aware caching allocator, on a recording plugin.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/memory/caching_allocator.hpp"
#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"
#include "core/tensor/tensor.hpp"

namespace {

using prism::Device;
using prism::Dims;
using prism::Event;
using prism::StreamPtr;
using prism::Tensor;

// ---------------------------------------------------------------------------
// The recorder: an in-process plugin ("rec", one device) whose memory is
// plain malloc, whose streams are distinct tokens and whose events complete
// only when the test says so, so the test controls exactly when work "ends".
// Every stream-bearing call is logged.
// ---------------------------------------------------------------------------

const prism_host_table* g_host = nullptr;
std::mutex g_mu;
std::vector<std::string> g_log;
bool g_events_complete = false;  // the state a newly recorded event takes
struct RecStream {
  int id;
};
struct RecEvent {
  bool done = true;
  prism_stream_t stream = nullptr;
};
std::vector<RecEvent*> g_live_events;

std::string sname(prism_stream_t s) {
  return s == nullptr ? "default" : "s" + std::to_string(reinterpret_cast<RecStream*>(s)->id);
}
void log_line(const std::string& l) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_log.push_back(l);
}
bool logged(const std::string& l) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& x : g_log)
    if (x == l) return true;
  return false;
}

prism_plugin_error* rec_init(void** ctx) {
  *ctx = &g_log;
  return nullptr;
}
void rec_shutdown(void*) {}
prism_plugin_error* rec_device_count(void*, int32_t* n, const char** reason) {
  *n = 1;
  if (reason != nullptr) *reason = nullptr;
  return nullptr;
}
prism_plugin_error* rec_device_props(void*, int32_t, prism_device_props* p) {
  p->name = "recorder";
  p->vendor = "prism tests";
  p->stable_id = "rec:0";
  p->total_memory = 0;
  p->dtype_mask = PRISM_DTYPE_BIT(PRISM_DTYPE_F32);
  p->capabilities = PRISM_DEVICE_CAP_ASYNC | PRISM_DEVICE_CAP_EVENTS;
  return nullptr;
}
prism_plugin_error* rec_alloc(void*, int32_t, size_t bytes, void** buf) {
  *buf = std::malloc(bytes == 0 ? 1 : bytes);
  return nullptr;
}
void rec_free(void*, int32_t, void* buf) {
  std::free(buf);
}
prism_plugin_error* rec_copy_from_host(void*, int32_t, prism_stream_t s, const void* src, void* dst,
                                       uint64_t off, size_t bytes) {
  std::memcpy(static_cast<char*>(dst) + off, src, bytes);
  log_line("copy_from_host " + sname(s));
  return nullptr;
}
prism_plugin_error* rec_copy_to_host(void*, int32_t, prism_stream_t s, const void* src, uint64_t off,
                                     void* dst, size_t bytes) {
  std::memcpy(dst, static_cast<const char*>(src) + off, bytes);
  log_line("copy_to_host " + sname(s));
  return nullptr;
}
prism_plugin_error* rec_synchronize(void*, int32_t, prism_stream_t s) {
  log_line("synchronize " + sname(s));
  return nullptr;
}
prism_plugin_error* rec_fill(void*, const prism_kernel_call* c) {
  log_line(std::string("fill ") + sname(c->stream));
  const prism_tensor_desc& o = c->outputs[0];
  int64_t n = 1;
  for (int i = 0; i < o.ndim; ++i) n *= o.sizes[i];
  float* p = reinterpret_cast<float*>(static_cast<char*>(o.buffer) + o.byte_offset);
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(c->attrs[0].f);
  return nullptr;
}
prism_plugin_error* rec_event_create(void*, int32_t, prism_event_t* e) {
  auto* ev = new RecEvent();
  std::lock_guard<std::mutex> lock(g_mu);
  g_live_events.push_back(ev);
  *e = reinterpret_cast<prism_event_t>(ev);
  return nullptr;
}
prism_plugin_error* rec_event_record(void*, int32_t, prism_event_t e, prism_stream_t s) {
  auto* ev = reinterpret_cast<RecEvent*>(e);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ev->done = g_events_complete;
    ev->stream = s;
  }
  log_line("event_record " + sname(s));
  return nullptr;
}
prism_plugin_error* rec_event_wait(void*, int32_t, prism_event_t e, prism_stream_t s) {
  log_line("event_wait " + sname(reinterpret_cast<RecEvent*>(e)->stream) + " -> " + sname(s));
  return nullptr;
}
prism_plugin_error* rec_event_synchronize(void*, prism_event_t e) {
  std::lock_guard<std::mutex> lock(g_mu);
  reinterpret_cast<RecEvent*>(e)->done = true;  // the host waited: the work is over
  return nullptr;
}
void rec_event_destroy(void*, prism_event_t e) {
  auto* ev = reinterpret_cast<RecEvent*>(e);
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto it = g_live_events.begin(); it != g_live_events.end(); ++it) {
    if (*it == ev) {
      g_live_events.erase(it);
      break;
    }
  }
  delete ev;
}
prism_plugin_error* rec_event_query(void*, prism_event_t e, int32_t* done) {
  std::lock_guard<std::mutex> lock(g_mu);
  *done = reinterpret_cast<RecEvent*>(e)->done ? 1 : 0;
  return nullptr;
}
int g_next_stream = 1;
prism_plugin_error* rec_stream_create(void*, int32_t, prism_stream_t* s) {
  *s = reinterpret_cast<prism_stream_t>(new RecStream{g_next_stream++});
  return nullptr;
}
void rec_stream_destroy(void*, int32_t, prism_stream_t s) {
  delete reinterpret_cast<RecStream*>(s);
}

// Every pending event completes (the device "finished" its queued work).
void complete_all_events() {
  std::lock_guard<std::mutex> lock(g_mu);
  for (RecEvent* e : g_live_events) e->done = true;
}

prism_kernel_def g_kernels[1];
prism_plugin_table g_table;

prism_plugin_error* rec_entry(const prism_host_table* host, const prism_plugin_table** table) {
  g_host = host;
  g_kernels[0] =
      prism_kernel_def{sizeof(prism_kernel_def), "fill", PRISM_DTYPE_BIT(PRISM_DTYPE_F32), nullptr, rec_fill};
  prism_plugin_table& t = g_table;
  std::memset(&t, 0, sizeof t);
  t.struct_size = sizeof t;
  t.abi_major = PRISM_PLUGIN_ABI_MAJOR;
  t.abi_minor = PRISM_PLUGIN_ABI_MINOR;
  t.name = "rec";
  t.device_type = "rec";
  t.version = "1";
  t.init = rec_init;
  t.shutdown = rec_shutdown;
  t.device_count = rec_device_count;
  t.device_props = rec_device_props;
  t.alloc = rec_alloc;
  t.free = rec_free;
  t.copy_from_host = rec_copy_from_host;
  t.copy_to_host = rec_copy_to_host;
  t.synchronize = rec_synchronize;
  t.kernels = g_kernels;
  t.n_kernels = 1;
  t.kernel_def_size = sizeof(prism_kernel_def);
  t.event_create = rec_event_create;
  t.event_record = rec_event_record;
  t.event_wait = rec_event_wait;
  t.event_synchronize = rec_event_synchronize;
  t.event_destroy = rec_event_destroy;
  t.stream_create = rec_stream_create;
  t.stream_destroy = rec_stream_destroy;
  t.event_query = rec_event_query;
  *table = &t;
  return nullptr;
}

// The recorder without event_query (as a plugin that has streams but cannot
// poll events): the allocator must wait for the other stream at release.
prism_plugin_error* rec2_device_props(void* ctx, int32_t device, prism_device_props* p) {
  rec_device_props(ctx, device, p);
  p->stable_id = "rec2:0";
  return nullptr;
}
prism_plugin_table g_table2;
prism_plugin_error* rec2_entry(const prism_host_table* host, const prism_plugin_table** table) {
  const prism_plugin_table* base = nullptr;
  rec_entry(host, &base);
  g_table2 = *base;
  g_table2.name = "rec2";
  g_table2.device_type = "rec2";
  g_table2.device_props = rec2_device_props;
  g_table2.event_query = nullptr;
  *table = &g_table2;
  return nullptr;
}

class Streams : public ::testing::Test {
 protected:
  void SetUp() override {
    prism::Runtime::get().load_entry(rec_entry, "builtin:rec");
    dev_ = prism::Runtime::get().device("rec:0");
    dev_->allocator->empty_cache();
    std::lock_guard<std::mutex> lock(g_mu);
    g_log.clear();
    g_events_complete = false;
  }
  void TearDown() override {
    prism::set_current_stream(prism::default_stream(dev_));
    complete_all_events();
    dev_->allocator->empty_cache();
  }
  Tensor alloc() { return prism::empty(Dims{1024}, PRISM_DTYPE_F32, dev_); }
  Device* dev_ = nullptr;
};

TEST_F(Streams, KernelsAndCopiesGoToTheCurrentStream) {
  StreamPtr a = prism::create_stream(dev_);
  ASSERT_NE(a->handle, nullptr);
  prism::set_current_stream(a);
  EXPECT_EQ(prism::current_stream_handle(dev_), a->handle);
  Tensor t = alloc();
  prism::fill_(t, 2.0);
  EXPECT_TRUE(logged("fill " + sname(a->handle)));
  float x = 0;
  prism::copy_to_host(prism::narrow(t, 0, 0, 1), &x, sizeof x);
  EXPECT_EQ(x, 2.0f);
  EXPECT_TRUE(logged("copy_to_host " + sname(a->handle)));
  std::vector<float> host(4, 1.0f);
  prism::from_host(host.data(), Dims{4}, PRISM_DTYPE_F32, dev_);
  EXPECT_TRUE(logged("copy_from_host " + sname(a->handle)));
  EXPECT_TRUE(logged("synchronize " + sname(a->handle)));
  EXPECT_FALSE(logged("copy_from_host default"));
  // Back on the default stream, work goes there again.
  prism::set_current_stream(prism::default_stream(dev_));
  prism::fill_(t, 3.0);
  EXPECT_TRUE(logged("fill default"));
}

TEST_F(Streams, EventsRecordAndWaitOnTheirStreams) {
  StreamPtr a = prism::create_stream(dev_), b = prism::create_stream(dev_);
  Event e(false);
  EXPECT_TRUE(e.query());  // unrecorded: complete
  e.record(*a);
  EXPECT_TRUE(logged("event_record " + sname(a->handle)));
  EXPECT_FALSE(e.query());  // the recorder holds it pending
  e.wait(*b);
  EXPECT_TRUE(logged("event_wait " + sname(a->handle) + " -> " + sname(b->handle)));
  complete_all_events();
  EXPECT_TRUE(e.query());
  Event t0(true), t1(true);  // no event_elapsed_ms slot: host-timed
  t0.record(*a);
  t1.record(*a);
  EXPECT_GE(t0.elapsed_ms(t1), 0.0);
  Event untimed(false);
  untimed.record(*a);
  EXPECT_THROW(untimed.elapsed_ms(t1), prism::Error);
}

// Note [Stream-aware caching]: a block freed while stream B may still use it
// is handed to no stream, B's own included, before the event recorded on B
// at release completes; then it returns to its allocating stream A.
TEST_F(Streams, NoCrossStreamReuseBeforeTheEvent) {
  StreamPtr a = prism::create_stream(dev_), b = prism::create_stream(dev_);
  prism::set_current_stream(a);
  Tensor t = alloc();
  void* buf = t->storage->buffer;
  prism::record_stream(t, b->handle);
  t.reset();  // released while B's work on it is (per the recorder) still pending
  EXPECT_TRUE(logged("event_record " + sname(b->handle)));
  EXPECT_EQ(dev_->allocator->parked_blocks(), 1u);

  std::vector<Tensor> keep;
  for (StreamPtr s : {a, b, prism::default_stream(dev_)}) {
    prism::set_current_stream(s);
    keep.push_back(alloc());
    EXPECT_NE(keep.back()->storage->buffer, buf)
        << "block reused on " << sname(s->handle) << " before the event";
  }
  EXPECT_EQ(dev_->allocator->parked_blocks(), 1u);

  complete_all_events();  // B's work is done
  prism::set_current_stream(b);
  Tensor on_b = alloc();
  EXPECT_NE(on_b->storage->buffer, buf);  // unparked, but it belongs to A's free list
  EXPECT_EQ(dev_->allocator->parked_blocks(), 0u);
  prism::set_current_stream(a);
  Tensor on_a = alloc();
  EXPECT_EQ(on_a->storage->buffer, buf);  // A reuses it now
}

TEST_F(Streams, SameStreamReuseNeedsNoEvent) {
  StreamPtr a = prism::create_stream(dev_), b = prism::create_stream(dev_);
  prism::set_current_stream(a);
  Tensor t = alloc();
  void* buf = t->storage->buffer;
  prism::record_stream(t, a->handle);  // its own stream: nothing to wait for
  t.reset();
  EXPECT_EQ(dev_->allocator->parked_blocks(), 0u);
  EXPECT_FALSE(logged("event_record " + sname(a->handle)));
  prism::set_current_stream(b);
  Tensor other = alloc();
  EXPECT_NE(other->storage->buffer, buf);  // never handed to another stream
  prism::set_current_stream(a);
  Tensor again = alloc();
  EXPECT_EQ(again->storage->buffer, buf);
}

TEST_F(Streams, EmptyCacheWaitsForParkedBlocks) {
  StreamPtr a = prism::create_stream(dev_), b = prism::create_stream(dev_);
  prism::set_current_stream(a);
  Tensor t = alloc();
  prism::record_stream(t, b->handle);
  t.reset();
  EXPECT_EQ(dev_->allocator->parked_blocks(), 1u);
  dev_->allocator->empty_cache();
  EXPECT_EQ(dev_->allocator->parked_blocks(), 0u);
  EXPECT_EQ(dev_->allocator->stats().reserved, 0u);
}

TEST_F(Streams, SynchronizeCoversEveryLiveStream) {
  StreamPtr a = prism::create_stream(dev_), b = prism::create_stream(dev_);
  prism::synchronize_device(dev_);
  EXPECT_TRUE(logged("synchronize default"));
  EXPECT_TRUE(logged("synchronize " + sname(a->handle)));
  EXPECT_TRUE(logged("synchronize " + sname(b->handle)));
}

TEST_F(Streams, WithoutEventQueriesReleaseWaitsForTheOtherStream) {
  prism::Runtime::get().load_entry(rec2_entry, "builtin:rec2");
  Device* d2 = prism::Runtime::get().device("rec2:0");
  StreamPtr a = prism::create_stream(d2), b = prism::create_stream(d2);
  prism::set_current_stream(a);
  Tensor t = prism::empty(Dims{1024}, PRISM_DTYPE_F32, d2);
  void* buf = t->storage->buffer;
  prism::record_stream(t, b->handle);
  t.reset();
  EXPECT_TRUE(logged("synchronize " + sname(b->handle)));  // waited instead of parking
  EXPECT_EQ(d2->allocator->parked_blocks(), 0u);
  prism::set_current_stream(b);
  Tensor on_b = prism::empty(Dims{1024}, PRISM_DTYPE_F32, d2);
  EXPECT_NE(on_b->storage->buffer, buf);  // still A's block
  prism::set_current_stream(a);
  Tensor on_a = prism::empty(Dims{1024}, PRISM_DTYPE_F32, d2);
  EXPECT_EQ(on_a->storage->buffer, buf);
  prism::set_current_stream(prism::default_stream(d2));
}

}  // namespace
