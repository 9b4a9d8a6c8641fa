// bench_opencl.cpp — the OpenCL plugin against bare OpenCL and CLBlast: 16M add, 1024² matmul, a chain of
// 1000 small ops.
#include <CL/cl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../../../tests/prism_require_devices.h"
#include "prism/plugin.h"
#include "prism/prism.h"

#ifdef PRISM_OPENCL_HAVE_CLBLAST
#include <clblast_c.h>
#endif

namespace {

// Note [Benchmark pairs]
// ----------------------
// Each Prism figure has a bare counterpart run in the same process on the same
// device: the bare side owns its context and queue, builds a one-line kernel
// (c[i] = a[i] + b[i]) and enqueues it directly; it is the ceiling Prism's
// dispatch, allocation cache and strided kernel are measured against.
// The chain benchmarks enqueue 1000 launches and synchronise once, so they
// measure the per-op host cost of asynchronous dispatch. BM_PluginChain1000
// calls the plugin's "add" kernel entry directly (dlopen, a stub host table),
// which splits Prism's per-op cost into plugin and core shares.

const char* kDev = "opencl:0";

bool prism_ready() {
  static bool ok = [] {
    // PRISM_BENCH_OPENCL_PLUGIN: another build of the plugin (an A/B comparison)
    const char* path = std::getenv("PRISM_BENCH_OPENCL_PLUGIN");
    if (prism_plugin_load(path != nullptr ? path : PRISM_OPENCL_PLUGIN_PATH) != PRISM_OK) return false;
    int32_t n = 0;
    prism_device_count(&n);
    for (int32_t i = 0; i < n; ++i) {
      prism_device_info info{};
      info.struct_size = sizeof info;
      if (prism_device_info_get(i, &info) == PRISM_OK && std::string(info.device) == kDev) return true;
    }
    return false;
  }();
  return ok;
}

struct Bare {
  cl_context ctx = nullptr;
  cl_command_queue q = nullptr;
  cl_kernel add = nullptr;
  bool ok = false;
  Bare() {
    cl_platform_id p;
    cl_device_id d;
    if (clGetPlatformIDs(1, &p, nullptr) != CL_SUCCESS) return;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, nullptr) != CL_SUCCESS) return;
    cl_int rc;
    ctx = clCreateContext(nullptr, 1, &d, nullptr, nullptr, &rc);
    q = clCreateCommandQueue(ctx, d, 0, &rc);
    const char* src =
        "__kernel void add(__global float* c, __global const float* a, __global const float* b) {"
        "  size_t i = get_global_id(0); c[i] = a[i] + b[i]; }";
    cl_program prog = clCreateProgramWithSource(ctx, 1, &src, nullptr, &rc);
    if (clBuildProgram(prog, 1, &d, "", nullptr, nullptr) != CL_SUCCESS) return;
    add = clCreateKernel(prog, "add", &rc);
    ok = rc == CL_SUCCESS;
  }
  cl_mem buffer(size_t bytes) {
    cl_int rc;
    cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, &rc);
    std::vector<char> zeros(bytes, 0);
    clEnqueueWriteBuffer(q, m, CL_TRUE, 0, bytes, zeros.data(), 0, nullptr, nullptr);
    return m;
  }
  void launch_add(cl_mem c, cl_mem a, cl_mem b, size_t n) {
    // cl_mem is itself a pointer type: the argument size is sizeof(cl_mem).
    clSetKernelArg(add, 0, sizeof(cl_mem), &c);
    clSetKernelArg(add, 1, sizeof(cl_mem), &a);
    clSetKernelArg(add, 2, sizeof(cl_mem), &b);
    const size_t local = 256;
    clEnqueueNDRangeKernel(q, add, 1, nullptr, &n, n % local == 0 ? &local : nullptr, 0, nullptr, nullptr);
  }
};

Bare& bare() {
  static Bare b;
  return b;
}

prism_tensor_t make(const std::vector<int64_t>& sizes, double value) {
  prism_tensor_t t = nullptr;
  prism_full(sizes.data(), static_cast<int32_t>(sizes.size()), value, PRISM_DTYPE_F32, kDev, &t);
  return t;
}

// --- 16M f32 add --------------------------------------------------------------
constexpr int64_t kBig = 16 << 20;

void BM_PrismAdd16M(benchmark::State& state) {
  if (!prism_ready()) return state.SkipWithError("skipped: no OpenCL device");
  prism_tensor_t a = make({kBig}, 1.0), b = make({kBig}, 2.0);
  prism_synchronize(kDev);
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    prism_add(a, b, 1.0, &c);
    prism_synchronize(kDev);
    prism_tensor_release(c);
  }
  state.SetBytesProcessed(state.iterations() * kBig * 4 * 3);
  prism_tensor_release(a);
  prism_tensor_release(b);
}

void BM_BareAdd16M(benchmark::State& state) {
  Bare& B = bare();
  if (!B.ok) return state.SkipWithError("skipped: no OpenCL device");
  cl_mem a = B.buffer(kBig * 4), b = B.buffer(kBig * 4), c = B.buffer(kBig * 4);
  for (auto _ : state) {
    B.launch_add(c, a, b, kBig);
    clFinish(B.q);
  }
  state.SetBytesProcessed(state.iterations() * kBig * 4 * 3);
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
}

// --- 1024² matmul ---------------------------------------------------------------
constexpr int64_t kN = 1024;

void prism_matmul_bench(benchmark::State& state, const char* gemm) {
  if (!prism_ready()) return state.SkipWithError("skipped: no OpenCL device");
  setenv("PRISM_OPENCL_GEMM", gemm, 1);
  prism_tensor_t a = make({kN, kN}, 0.5), b = make({kN, kN}, 0.25);
  prism_tensor_t warm = nullptr;
  prism_matmul(a, b, &warm);  // builds kernels / CLBlast's cache
  prism_synchronize(kDev);
  prism_tensor_release(warm);
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    if (prism_matmul(a, b, &c) != PRISM_OK) {
      state.SkipWithError(prism_last_error());
      break;
    }
    prism_synchronize(kDev);
    prism_tensor_release(c);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kN * kN * kN * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  prism_tensor_release(a);
  prism_tensor_release(b);
  unsetenv("PRISM_OPENCL_GEMM");
}

void BM_PrismMatmul1024(benchmark::State& state) {
  prism_matmul_bench(state, "auto");
}
void BM_PrismMatmul1024Tiled(benchmark::State& state) {
  prism_matmul_bench(state, "tiled");
}

#ifdef PRISM_OPENCL_HAVE_CLBLAST
void BM_ClblastSgemm1024(benchmark::State& state) {
  Bare& B = bare();
  if (!B.ok) return state.SkipWithError("skipped: no OpenCL device");
  cl_mem a = B.buffer(kN * kN * 4), b = B.buffer(kN * kN * 4), c = B.buffer(kN * kN * 4);
  auto gemm = [&] {
    return CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, kN, kN, kN, 1.0f, a, 0,
                        kN, b, 0, kN, 0.0f, c, 0, kN, &B.q, nullptr);
  };
  gemm();
  clFinish(B.q);
  for (auto _ : state) {
    gemm();
    clFinish(B.q);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kN * kN * kN * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
}
#endif

// --- 1000 small ops without host reads -------------------------------------------
constexpr int kChain = 1000;
constexpr int64_t kSmall = 1024;

void BM_PrismChain1000(benchmark::State& state) {
  if (!prism_ready()) return state.SkipWithError("skipped: no OpenCL device");
  prism_tensor_t x = make({kSmall}, 0.0), y = make({kSmall}, 1.0);
  prism_add_(x, y, 1.0);
  prism_synchronize(kDev);
  for (auto _ : state) {
    for (int i = 0; i < kChain; ++i) prism_add_(x, y, 1.0);
    prism_synchronize(kDev);
  }
  state.counters["s/op"] = benchmark::Counter(static_cast<double>(state.iterations()) * kChain,
                                              benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  prism_tensor_release(x);
  prism_tensor_release(y);
}

void BM_BareChain1000Batched(benchmark::State& state) {
  Bare& B = bare();
  if (!B.ok) return state.SkipWithError("skipped: no OpenCL device");
  cl_mem x = B.buffer(kSmall * 4), y = B.buffer(kSmall * 4);
  for (auto _ : state) {
    for (int i = 0; i < kChain; ++i) B.launch_add(x, x, y, kSmall);
    clFinish(B.q);
  }
  state.counters["s/op"] = benchmark::Counter(static_cast<double>(state.iterations()) * kChain,
                                              benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  clReleaseMemObject(x);
  clReleaseMemObject(y);
}

// The plugin alone: its kernel table entry, no core in between.
prism_plugin_error* stub_error(prism_status, const char*) {
  static char token;
  return reinterpret_cast<prism_plugin_error*>(&token);
}
void stub_log(prism_log_level, const char*, const char*) {}

void BM_PluginChain1000(benchmark::State& state) {
  // A private copy of the library: its globals (the host table pointer) stay
  // apart from the instance libprism loaded, whose host table must not change.
  const std::string copy = "/tmp/prism-bench-opencl-" + std::to_string(static_cast<long>(getpid())) + ".so";
  std::system(("cp '" + std::string(PRISM_OPENCL_PLUGIN_PATH) + "' '" + copy + "'").c_str());
  void* lib = dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::remove(copy.c_str());
  auto entry = lib ? reinterpret_cast<prism_plugin_entry_fn>(dlsym(lib, PRISM_PLUGIN_ENTRY_SYMBOL)) : nullptr;
  static const prism_host_table host = {sizeof(prism_host_table), PRISM_PLUGIN_ABI_MAJOR,
                                        PRISM_PLUGIN_ABI_MINOR, stub_error, stub_log};
  const prism_plugin_table* t = nullptr;
  void* ctx = nullptr;
  int32_t n_dev = 0;
  if (entry == nullptr || entry(&host, &t) != nullptr || t->init(&ctx) != nullptr ||
      t->device_count(ctx, &n_dev, nullptr) != nullptr || n_dev == 0) {
    return state.SkipWithError("skipped: no OpenCL device");
  }
  const prism_kernel_def* add = nullptr;
  for (size_t i = 0; i < t->n_kernels; ++i) {
    const auto* def = reinterpret_cast<const prism_kernel_def*>(reinterpret_cast<const char*>(t->kernels) +
                                                                i * t->kernel_def_size);
    if (std::string(def->op) == "add") add = def;
  }
  void* buf = nullptr;
  t->alloc(ctx, 0, kSmall * 4, &buf);
  int64_t sizes[1] = {kSmall}, strides[1] = {1};
  const prism_tensor_desc d = {sizeof(prism_tensor_desc), buf, 0, PRISM_DTYPE_F32, 1, sizes, strides};
  const prism_tensor_desc ins[2] = {d, d};
  const prism_attr alpha = {sizeof(prism_attr), "alpha", PRISM_ATTR_SCALAR, 1, 1.0, nullptr, 0};
  const prism_kernel_call call = {sizeof(prism_kernel_call), "add", 0, nullptr, ins, 2, &d, 1, &alpha, 1};
  add->run(ctx, &call);
  t->synchronize(ctx, 0, nullptr);
  for (auto _ : state) {
    for (int i = 0; i < kChain; ++i) add->run(ctx, &call);
    t->synchronize(ctx, 0, nullptr);
  }
  state.counters["s/op"] = benchmark::Counter(static_cast<double>(state.iterations()) * kChain,
                                              benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  t->free(ctx, 0, buf);
  t->shutdown(ctx);
}

void BM_BareEmptySyncLaunch(benchmark::State& state) {
  Bare& B = bare();
  if (!B.ok) return state.SkipWithError("skipped: no OpenCL device");
  cl_mem x = B.buffer(256 * 4), y = B.buffer(256 * 4);
  for (auto _ : state) {
    B.launch_add(x, x, y, 256);
    clFinish(B.q);
  }
  clReleaseMemObject(x);
  clReleaseMemObject(y);
}

BENCHMARK(BM_PrismAdd16M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BareAdd16M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrismMatmul1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrismMatmul1024Tiled)->Unit(benchmark::kMillisecond)->UseRealTime();
#ifdef PRISM_OPENCL_HAVE_CLBLAST
BENCHMARK(BM_ClblastSgemm1024)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif
BENCHMARK(BM_PrismChain1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PluginChain1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BareChain1000Batched)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BareEmptySyncLaunch)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ===========================================================================
// Result checks (Note [Benchmark result checks])
// ---------------------------------------------------------------------------
// Before anything is timed, the Prism results the benchmarks measure are
// checked on random data against float64 loops on the host: the 16M add
// (every element), the 1024² matmul with each GEMM path (512 sampled
// elements, float32 accumulation bound) and the chain of 1000 in-place adds.
// A wrong result exits with status 3; PRISM_BENCH_NO_CHECK=1 skips this.
// ===========================================================================

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = static_cast<float>(static_cast<double>(x >> 40) * (1.0 / 8388608.0) - 1.0);
  }
  return v;
}

prism_tensor_t upload(const std::vector<float>& v, const std::vector<int64_t>& sizes) {
  prism_tensor_t t = nullptr;
  if (prism_from_data(v.data(), sizes.data(), static_cast<int32_t>(sizes.size()), PRISM_DTYPE_F32, kDev,
                      &t) != PRISM_OK)
    return nullptr;
  return t;
}

bool fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "bench_opencl: check %s FAILED: %s\n", what, detail.c_str());
  return false;
}

bool check_results() {
  if (!prism_ready()) {
    if (prism_test_device_required(kDev))
      return fail("device", "opencl:0 is required (PRISM_REQUIRE_DEVICES) but absent");
    std::printf("bench_opencl: result checks skipped: no OpenCL device\n");
    return true;
  }
  bool ok = true;
  {
    const std::vector<float> a = random_floats(kBig, 1), b = random_floats(kBig, 2);
    prism_tensor_t ta = upload(a, {kBig}), tb = upload(b, {kBig}), tc = nullptr;
    std::vector<float> c(kBig);
    if (prism_add(ta, tb, 1.0, &tc) != PRISM_OK ||
        prism_tensor_copy_to_host(tc, c.data(), c.size() * sizeof(float)) != PRISM_OK)
      ok = fail("add 16M", prism_last_error());
    for (size_t i = 0; ok && i < c.size(); ++i)
      if (c[i] != a[i] + b[i])
        ok = fail("add 16M", "element " + std::to_string(i) + " is " + std::to_string(c[i]));
    prism_tensor_release(ta);
    prism_tensor_release(tb);
    prism_tensor_release(tc);
  }
  const std::vector<float> a = random_floats(kN * kN, 3), b = random_floats(kN * kN, 4);
  for (const char* gemm : {"auto", "tiled"}) {
    setenv("PRISM_OPENCL_GEMM", gemm, 1);
    prism_tensor_t ta = upload(a, {kN, kN}), tb = upload(b, {kN, kN}), tc = nullptr;
    std::vector<float> c(kN * kN);
    const std::string what = std::string("matmul 1024 (") + gemm + ")";
    if (prism_matmul(ta, tb, &tc) != PRISM_OK ||
        prism_tensor_copy_to_host(tc, c.data(), c.size() * sizeof(float)) != PRISM_OK)
      ok = fail(what.c_str(), prism_last_error());
    uint64_t x = 0x5EED;
    for (int s = 0; ok && s < 512; ++s) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const int64_t i = static_cast<int64_t>((x >> 33) % kN), j = static_cast<int64_t>((x >> 11) % kN);
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < kN; ++k) {
        const double t = static_cast<double>(a[i * kN + k]) * b[k * kN + j];
        acc += t;
        mag += std::fabs(t);
      }
      if (!(std::fabs(c[i * kN + j] - acc) <= 1.2e-7 * kN * mag + 1e-6))
        ok = fail(what.c_str(), "element (" + std::to_string(i) + ", " + std::to_string(j) + ") is " +
                                    std::to_string(c[i * kN + j]) + ", float64 gives " + std::to_string(acc));
    }
    unsetenv("PRISM_OPENCL_GEMM");
    prism_tensor_release(ta);
    prism_tensor_release(tb);
    prism_tensor_release(tc);
  }
  {
    prism_tensor_t x = make({kSmall}, 0.0), y = make({kSmall}, 1.0);
    for (int i = 0; i < kChain; ++i) prism_add_(x, y, 1.0);
    std::vector<float> got(kSmall);
    if (prism_tensor_copy_to_host(x, got.data(), got.size() * sizeof(float)) != PRISM_OK)
      ok = fail("chain of 1000 add_", prism_last_error());
    for (size_t i = 0; ok && i < got.size(); ++i)
      if (got[i] != static_cast<float>(kChain))
        ok = fail("chain of 1000 add_", "element " + std::to_string(i) + " is " + std::to_string(got[i]));
    prism_tensor_release(x);
    prism_tensor_release(y);
  }
  if (ok) std::printf("bench_opencl: results checked (add 16M, matmul 1024 auto/tiled, chain 1000)\n");
  return ok;
}

// ===========================================================================
// Note [Paired ratios]
// ---------------------------------------------------------------------------
// `bench_opencl --ratios [ROUNDS [PAIRS]]` (ROUNDS default 21, the matmul a
// third of them; PAIRS a list such as "add,chain") times the target pairs as
// interleaved repetitions: each round times one Prism sample and one peer
// sample back to back, alternating which goes first, and the pair's ratio is
// the median over the rounds of the per-round ratio (load that comes and goes
// lands on both members of a round). A sample is one whole operation with its
// synchronisation: the 16M add (a new output each time, released), the chain
// of 1000 in-place adds and one sync, the 1024² matmul. Printed per pair: the
// median times of each side, the median ratio, its quartiles, and the target.
// PRISM_BENCH_VERBOSE=1 prints every round; PRISM_BENCH_OPENCL_PLUGIN=PATH
// loads another build of the plugin (to compare two builds run after run).
// ===========================================================================

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Runs `rounds` paired samples; ratio = prism/peer time when `lower_is_better`
// (a cost ratio), else peer/prism (a speed ratio). Returns true when met.
bool paired(const char* name, int rounds, const std::function<void()>& prism_fn,
            const std::function<void()>& peer_fn, bool cost_ratio, double target, const char* unit,
            double scale) {
  prism_fn();  // warm both sides: kernels built, allocator cache filled
  peer_fn();
  std::vector<double> tp, tb, r;
  for (int i = 0; i < rounds; ++i) {
    double a = 0, b = 0;
    if (i % 2 == 0) {
      a = seconds_of(prism_fn);
      b = seconds_of(peer_fn);
    } else {
      b = seconds_of(peer_fn);
      a = seconds_of(prism_fn);
    }
    tp.push_back(a);
    tb.push_back(b);
    r.push_back(cost_ratio ? a / b : b / a);
    if (std::getenv("PRISM_BENCH_VERBOSE") != nullptr)
      std::printf("  round %2d: prism %.3f peer %.3f ratio %.2f\n", i, a * scale, b * scale, r.back());
  }
  const double med = quantile(r, 0.5);
  const bool met = cost_ratio ? med <= target : med >= target;
  std::printf(
      "%-34s prism %9.3f %s  peer %9.3f %s  ratio %5.2f (quartiles %.2f-%.2f, %d rounds)  target %s %.2f: "
      "%s\n",
      name, quantile(tp, 0.5) * scale, unit, quantile(tb, 0.5) * scale, unit, med, quantile(r, 0.25),
      quantile(r, 0.75), rounds, cost_ratio ? "<=" : ">=", target, met ? "met" : "NOT met");
  std::fflush(stdout);
  return met;
}

int run_ratios(int rounds, const std::string& pairs) {
  auto want = [&](const char* pair) { return pairs.empty() || pairs.find(pair) != std::string::npos; };
  if (!prism_ready() || !bare().ok) {
    std::printf("bench_opencl --ratios: skipped: no OpenCL device\n");
    return 0;
  }
  Bare& B = bare();
  int met = 0, total = 0;
  if (want("add")) {
    prism_tensor_t a = make({kBig}, 1.0), b = make({kBig}, 2.0);
    cl_mem ba = B.buffer(kBig * 4), bb = B.buffer(kBig * 4), bc = B.buffer(kBig * 4);
    prism_synchronize(kDev);
    met += paired(
        "add 16M f32 (x bare kernel)", rounds,
        [&] {
          prism_tensor_t c = nullptr;
          prism_add(a, b, 1.0, &c);
          prism_synchronize(kDev);
          prism_tensor_release(c);
        },
        [&] {
          B.launch_add(bc, ba, bb, kBig);
          clFinish(B.q);
        },
        false, 0.8, "ms", 1e3);
    ++total;
    prism_tensor_release(a);
    prism_tensor_release(b);
    clReleaseMemObject(ba);
    clReleaseMemObject(bb);
    clReleaseMemObject(bc);
  }
  if (want("chain")) {
    prism_tensor_t x = make({kSmall}, 0.0), y = make({kSmall}, 1.0);
    cl_mem bx = B.buffer(kSmall * 4), by = B.buffer(kSmall * 4);
    prism_synchronize(kDev);
    met += paired(
        "chain 1000 add_ (x bare batched)", rounds,
        [&] {
          for (int i = 0; i < kChain; ++i) prism_add_(x, y, 1.0);
          prism_synchronize(kDev);
        },
        [&] {
          for (int i = 0; i < kChain; ++i) B.launch_add(bx, bx, by, kSmall);
          clFinish(B.q);
        },
        true, 1.5, "us/op", 1e6 / kChain);
    ++total;
    prism_tensor_release(x);
    prism_tensor_release(y);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
  }
#ifdef PRISM_OPENCL_HAVE_CLBLAST
  if (want("matmul")) {
    prism_tensor_t a = make({kN, kN}, 0.5), b = make({kN, kN}, 0.25);
    cl_mem ba = B.buffer(kN * kN * 4), bb = B.buffer(kN * kN * 4), bc = B.buffer(kN * kN * 4);
    prism_synchronize(kDev);
    met += paired(
        "matmul 1024^2 f32 (x CLBlast)", std::max(3, rounds / 3),
        [&] {
          prism_tensor_t c = nullptr;
          prism_matmul(a, b, &c);
          prism_synchronize(kDev);
          prism_tensor_release(c);
        },
        [&] {
          CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, kN, kN, kN, 1.0f, ba, 0,
                       kN, bb, 0, kN, 0.0f, bc, 0, kN, &B.q, nullptr);
          clFinish(B.q);
        },
        false, 0.95, "ms", 1e3);
    ++total;
    prism_tensor_release(a);
    prism_tensor_release(b);
    clReleaseMemObject(ba);
    clReleaseMemObject(bb);
    clReleaseMemObject(bc);
  }
#else
  if (want("matmul")) std::printf("matmul 1024^2 f32 (x CLBlast)      skipped: built without CLBlast\n");
#endif
  char model[256] = "unknown CPU";
  if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "model name", 10) == 0) {
        const char* colon = std::strchr(line, ':');
        if (colon != nullptr) std::snprintf(model, sizeof model, "%s", colon + 2);
        model[std::strcspn(model, "\n")] = '\0';
        break;
      }
    }
    std::fclose(f);
  }
  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf("targets met: %d/%d  (cpu: %s, %ld cpus, load %.2f %.2f %.2f)\n", met, total, model,
              sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--ratios") == 0) {
      const int rounds = i + 1 < argc ? std::atoi(argv[i + 1]) : 0;
      const std::string pairs = i + 2 < argc ? argv[i + 2] : "";
      if (std::getenv("PRISM_BENCH_NO_CHECK") == nullptr && !check_results()) return 3;
      return run_ratios(rounds > 0 ? rounds : 21, pairs);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (std::getenv("PRISM_BENCH_NO_CHECK") == nullptr && !check_results()) return 3;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
