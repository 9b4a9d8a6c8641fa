// bench_prism.cpp — Prism through its C ABI beside dnnl_sgemm and plain OpenMP loops (matmul, adds, small
// op).
#include <benchmark/benchmark.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "prism/prism.h"

// Note [Fair peers]
// -----------------
// Each Prism case has a peer measured in the same process, one after the
// other, so the ratio reads machine noise the same way for both:
//
// * matmul: prism_matmul (inputs made once, the new output released every
//   iteration) against dnnl_sgemm writing into a preallocated buffer. The
//   CPU plugin runs matmul through the same libdnnl, so the ratio is the cost
//   of Prism's dispatch, output allocation and primitive setup around GEMM.
// * adds: prism_add into a NEW tensor every iteration (the caching allocator
//   should make that allocation free) against a plain `#pragma omp parallel
//   for` loop writing into a preallocated buffer. The transposed peer is a
//   tiled loop (what a careful hand-written loop does), the broadcast peers
//   index the small operand directly.
// * thread counts: every peer uses omp_get_max_threads() threads of the one
//   libgomp the plugin and oneDNN also use. bench/run.sh sets
//   OMP_NUM_THREADS=2; the count is printed in the JSON context.
//
// Before timing, main() checks every Prism result against its peer's, so a
// fast wrong kernel cannot pass.

namespace {

// ===========================================================================
// Helpers
// ===========================================================================

void check(prism_status s, const char* what) {
  if (s != PRISM_OK) {
    std::fprintf(stderr, "bench_prism: %s failed: %s: %s\n", what, prism_status_name(s), prism_last_error());
    std::exit(2);
  }
}

// An owned tensor handle.
struct Tensor {
  prism_tensor_t h = nullptr;
  Tensor() = default;
  explicit Tensor(prism_tensor_t t) : h(t) {}
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor() { prism_tensor_release(h); }
};

// 64-byte aligned host floats, first touched by the threads that use them.
struct HostBuf {
  float* p = nullptr;
  int64_t n = 0;
  explicit HostBuf(int64_t count) : n(count) {
    const size_t bytes = ((static_cast<size_t>(count) * sizeof(float) + 63) / 64) * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (p == nullptr) {
      std::fprintf(stderr, "bench_prism: out of host memory (%zu bytes)\n", bytes);
      std::exit(2);
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) p[i] = 0.0f;
  }
  HostBuf(const HostBuf&) = delete;
  HostBuf& operator=(const HostBuf&) = delete;
  ~HostBuf() {
    std::free(p);
  }
};

// Deterministic values in [-1, 1) (xorshift), the same for Prism and the peer.
void fill_random(HostBuf& b, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < b.n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b.p[i] = static_cast<float>(static_cast<double>(x >> 40) * (1.0 / 8388608.0) - 1.0);
  }
}

prism_tensor_t to_prism(const HostBuf& b, std::initializer_list<int64_t> sizes) {
  prism_tensor_t t = nullptr;
  check(prism_from_data(b.p, sizes.begin(), static_cast<int32_t>(sizes.size()), PRISM_DTYPE_F32, "cpu", &t),
        "prism_from_data");
  return t;
}

int threads() {
  return omp_get_max_threads();
}

// ===========================================================================
// Inputs (made once, on first use, outside every timed loop)
// ===========================================================================

constexpr int64_t kSide = 4096;           // 2-D add cases: [4096, 4096]
constexpr int64_t kAddN = kSide * kSide;  // 16M elements, the contiguous add too

struct AddData {
  HostBuf a{kAddN}, b{kAddN}, c{kAddN}, b_vec{kSide};
  Tensor pa, pb, pa2, pbt, prow, pcol;  // [16M], [16M], [4096,4096], b.t(), [4096], [4096,1]
  AddData() {
    fill_random(a, 1);
    fill_random(b, 2);
    fill_random(b_vec, 3);
    pa.h = to_prism(a, {kAddN});
    pb.h = to_prism(b, {kAddN});
    pa2.h = to_prism(a, {kSide, kSide});
    Tensor pb2(to_prism(b, {kSide, kSide}));
    check(prism_t(pb2.h, &pbt.h), "prism_t");
    prow.h = to_prism(b_vec, {kSide});
    pcol.h = to_prism(b_vec, {kSide, 1});
  }
};

AddData& add_data() {
  static AddData d;
  return d;
}

struct MatmulData {
  int64_t n;
  HostBuf a, b, c;
  Tensor pa, pb;
  explicit MatmulData(int64_t side) : n(side), a(side * side), b(side * side), c(side * side) {
    fill_random(a, 10 + static_cast<uint64_t>(side));
    fill_random(b, 20 + static_cast<uint64_t>(side));
    pa.h = to_prism(a, {side, side});
    pb.h = to_prism(b, {side, side});
  }
};

MatmulData& matmul_data(int64_t n) {
  static std::map<int64_t, std::unique_ptr<MatmulData>> cache;
  auto& slot = cache[n];
  if (!slot) slot = std::make_unique<MatmulData>(n);
  return *slot;
}

// ===========================================================================
// Plain peers
// ===========================================================================

void sgemm(MatmulData& d) {
  const int64_t n = d.n;
  // row-major C[n,n] = A[n,n] · B[n,n]
  if (dnnl_sgemm('N', 'N', n, n, n, 1.0f, d.a.p, n, d.b.p, n, 0.0f, d.c.p, n) != dnnl_success) {
    std::fprintf(stderr, "bench_prism: dnnl_sgemm failed\n");
    std::exit(2);
  }
}

// out: (n,) = a + b
void loop_add(const float* a, const float* b, float* c, int64_t n) {
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int64_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
}

// out: (rows, cols) = a (rows, cols) + v (cols,)
void loop_add_row(const float* a, const float* v, float* c, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* src = a + i * cols;
    float* dst = c + i * cols;
    for (int64_t j = 0; j < cols; ++j) dst[j] = src[j] + v[j];
  }
}

// out: (rows, cols) = a (rows, cols) + v (rows, 1)
void loop_add_col(const float* a, const float* v, float* c, int64_t rows, int64_t cols) {
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* src = a + i * cols;
    float* dst = c + i * cols;
    const float x = v[i];
    for (int64_t j = 0; j < cols; ++j) dst[j] = src[j] + x;
  }
}

// out: (n, n) = a (n, n) + b.t(), tiled so both a and b are read in cache lines.
void loop_add_transposed(const float* a, const float* b, float* c, int64_t n) {
  constexpr int64_t kTile = 64;
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int64_t i0 = 0; i0 < n; i0 += kTile) {
    const int64_t i1 = std::min(n, i0 + kTile);
    for (int64_t j0 = 0; j0 < n; j0 += kTile) {
      const int64_t j1 = std::min(n, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i) {
        for (int64_t j = j0; j < j1; ++j) c[i * n + j] = a[i * n + j] + b[j * n + i];
      }
    }
  }
}

// out = a + b.t() as the plain two-level loop a first version would be (b read down its columns).
void loop_add_transposed_plain(const float* a, const float* b, float* c, int64_t n) {
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * n + j] = a[i * n + j] + b[j * n + i];
  }
}

// ===========================================================================
// Benchmarks
// ===========================================================================

void set_gflops(benchmark::State& state, int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n) * n * n * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Bytes moved: two inputs read and one output written; a broadcast operand counts its own size.
void set_gbps(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_matmul_prism(benchmark::State& state, int64_t n) {
  MatmulData& d = matmul_data(n);
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    check(prism_matmul(d.pa.h, d.pb.h, &c), "prism_matmul");
    check(prism_synchronize("cpu"), "prism_synchronize");
    prism_tensor_release(c);
  }
  set_gflops(state, d.n);
}

void BM_matmul_sgemm(benchmark::State& state, int64_t n) {
  MatmulData& d = matmul_data(n);
  for (auto _ : state) {
    sgemm(d);
    benchmark::DoNotOptimize(d.c.p);
    benchmark::ClobberMemory();
  }
  set_gflops(state, d.n);
}

enum class AddCase { kContiguous, kRow, kCol, kTransposed };

double add_bytes(AddCase k) {
  const double big = static_cast<double>(kAddN) * sizeof(float);
  switch (k) {
    case AddCase::kRow:
    case AddCase::kCol:
      return 2 * big + static_cast<double>(kSide) * sizeof(float);
    default:
      return 3 * big;
  }
}

prism_status prism_add_case(AddCase k, prism_tensor_t* out) {
  AddData& d = add_data();
  switch (k) {
    case AddCase::kContiguous:
      return prism_add(d.pa.h, d.pb.h, 1.0, out);
    case AddCase::kRow:
      return prism_add(d.pa2.h, d.prow.h, 1.0, out);
    case AddCase::kCol:
      return prism_add(d.pa2.h, d.pcol.h, 1.0, out);
    case AddCase::kTransposed:
      return prism_add(d.pa2.h, d.pbt.h, 1.0, out);
  }
  return PRISM_OK;
}

void loop_add_case(AddCase k) {
  AddData& d = add_data();
  switch (k) {
    case AddCase::kContiguous:
      loop_add(d.a.p, d.b.p, d.c.p, kAddN);
      break;
    case AddCase::kRow:
      loop_add_row(d.a.p, d.b_vec.p, d.c.p, kSide, kSide);
      break;
    case AddCase::kCol:
      loop_add_col(d.a.p, d.b_vec.p, d.c.p, kSide, kSide);
      break;
    case AddCase::kTransposed:
      loop_add_transposed(d.a.p, d.b.p, d.c.p, kSide);
      break;
  }
}

void BM_add_prism(benchmark::State& state, AddCase k) {
  add_data();
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    check(prism_add_case(k, &c), "prism_add");
    check(prism_synchronize("cpu"), "prism_synchronize");
    prism_tensor_release(c);
  }
  set_gbps(state, add_bytes(k));
}

void BM_add_loop(benchmark::State& state, AddCase k) {
  AddData& d = add_data();
  for (auto _ : state) {
    loop_add_case(k);
    benchmark::DoNotOptimize(d.c.p);
    benchmark::ClobberMemory();
  }
  set_gbps(state, add_bytes(k));
}

// Small-op overhead: 4-element f32 add through the C ABI, a new output each
// time (made and released). The variants below split that cost.
struct SmallData {
  Tensor a, b, out;
  SmallData() {
    const float av[4] = {1, 2, 3, 4}, bv[4] = {0.5f, 0.25f, 0.125f, 1};
    const int64_t n = 4;
    check(prism_from_data(av, &n, 1, PRISM_DTYPE_F32, "cpu", &a.h), "prism_from_data");
    check(prism_from_data(bv, &n, 1, PRISM_DTYPE_F32, "cpu", &b.h), "prism_from_data");
    check(prism_empty(&n, 1, PRISM_DTYPE_F32, "cpu", &out.h), "prism_empty");
  }
};

SmallData& small_data() {
  static SmallData d;
  return d;
}

void BM_small_add(benchmark::State& state) {
  SmallData& d = small_data();
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    check(prism_add(d.a.h, d.b.h, 1.0, &c), "prism_add");
    prism_tensor_release(c);
  }
}

// The same add written in place into an existing tensor: no allocation.
void BM_small_add_inplace(benchmark::State& state) {
  SmallData& d = small_data();
  for (auto _ : state) check(prism_add_(d.out.h, d.b.h, 1.0), "prism_add_");
}

// Only the output's life: make a 4-element tensor and release it.
void BM_small_empty(benchmark::State& state) {
  const int64_t n = 4;
  for (auto _ : state) {
    prism_tensor_t c = nullptr;
    check(prism_empty(&n, 1, PRISM_DTYPE_F32, "cpu", &c), "prism_empty");
    prism_tensor_release(c);
  }
}

// Only the C ABI round trip: a metadata query.
// Tiny autograd graph (Note [tiny graph]): y = sum(relu(a * b) + a) on 4
// elements, then backward into a.grad and b.grad, which are set to none after
// each step (as optimizer.zero_grad(set_to_none=True) does). bench_libtorch
// runs the same steps through libtorch's C++ autograd.
struct TinyGraph {
  Tensor a, b;
  TinyGraph() {
    const float av[4] = {1, -2, 3, -4}, bv[4] = {0.5f, 0.25f, -0.125f, 1};
    const int64_t n = 4;
    check(prism_from_data(av, &n, 1, PRISM_DTYPE_F32, "cpu", &a.h), "prism_from_data");
    check(prism_from_data(bv, &n, 1, PRISM_DTYPE_F32, "cpu", &b.h), "prism_from_data");
    check(prism_tensor_set_requires_grad(a.h, 1), "set_requires_grad");
    check(prism_tensor_set_requires_grad(b.h, 1), "set_requires_grad");
  }
  void step() {
    Tensor m, r, s, y;
    check(prism_mul(a.h, b.h, &m.h), "prism_mul");
    check(prism_relu(m.h, &r.h), "prism_relu");
    check(prism_add(r.h, a.h, 1.0, &s.h), "prism_add");
    check(prism_sum(s.h, nullptr, 0, 0, &y.h), "prism_sum");
    check(prism_backward(y.h, nullptr, 0), "prism_backward");
  }
};

void BM_tiny_graph(benchmark::State& state) {
  static TinyGraph g;
  for (auto _ : state) {
    g.step();
    check(prism_tensor_zero_grad(g.a.h, 1), "zero_grad");
    check(prism_tensor_zero_grad(g.b.h, 1), "zero_grad");
  }
}

void BM_small_query(benchmark::State& state) {
  SmallData& d = small_data();
  for (auto _ : state) benchmark::DoNotOptimize(prism_tensor_numel(d.a.h));
}

// ===========================================================================
// Checks: every Prism result equals its peer's before anything is timed
// ===========================================================================

bool close_enough(const float* got, const float* want, int64_t n, float tol, const char* what) {
  double worst = 0;
  int64_t where = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]) / (1.0 + std::fabs(want[i]));
    if (std::isnan(err)) {
      worst = err;
      where = i;
      break;
    }
    if (err > worst) {
      worst = err;
      where = i;
    }
  }
  if (!(worst <= tol)) {
    std::fprintf(stderr, "bench_prism: check %s FAILED: element %lld is %g, peer gives %g\n", what,
                 static_cast<long long>(where), got[where], want[where]);
    return false;
  }
  return true;
}

// ===========================================================================
// Training steps: forward + backward (Note [nn benchmark cases])
// ---------------------------------------------------------------------------
// conv2d: x (64, 1, 28, 28), w (32, 1, 3, 3), b (32), padding 1; matmul:
// a, b (512, 512). Every input requires grad, so backward computes every
// gradient (conv: data, weight and bias); the upstream gradient is a fixed
// random tensor; grads are dropped (set to none) after each step, as
// optimizer.zero_grad(set_to_none=True) does. bench_libtorch runs the same
// steps through libtorch's autograd.
// ===========================================================================

constexpr int64_t kConvN = 64, kConvC = 1, kConvHW = 28, kConvO = 32;
constexpr int64_t kTrainMM = 512;

struct TrainData {
  HostBuf hx{kConvN * kConvC * kConvHW * kConvHW}, hw{kConvO * kConvC * 9}, hb{kConvO},
      hgy{kConvN * kConvO * kConvHW * kConvHW}, ha{kTrainMM * kTrainMM}, hbm{kTrainMM * kTrainMM},
      hgc{kTrainMM * kTrainMM};
  Tensor x, w, b, gy, a, bm, gc;
  TrainData() {
    uint64_t seed = 100;
    for (HostBuf* h : {&hx, &hw, &hb, &hgy, &ha, &hbm, &hgc}) fill_random(*h, seed++);
    x.h = to_prism(hx, {kConvN, kConvC, kConvHW, kConvHW});
    w.h = to_prism(hw, {kConvO, kConvC, 3, 3});
    b.h = to_prism(hb, {kConvO});
    gy.h = to_prism(hgy, {kConvN, kConvO, kConvHW, kConvHW});
    a.h = to_prism(ha, {kTrainMM, kTrainMM});
    bm.h = to_prism(hbm, {kTrainMM, kTrainMM});
    gc.h = to_prism(hgc, {kTrainMM, kTrainMM});
    for (Tensor* t : {&x, &w, &b, &a, &bm})
      check(prism_tensor_set_requires_grad(t->h, 1), "set_requires_grad");
  }
};

TrainData& train_data() {
  static TrainData d;
  return d;
}

void conv_step(TrainData& d) {
  static const int64_t pad[2] = {1, 1};
  Tensor y;
  check(prism_conv2d(d.x.h, d.w.h, d.b.h, nullptr, pad, nullptr, 1, &y.h), "prism_conv2d");
  check(prism_backward(y.h, d.gy.h, 0), "prism_backward (conv2d)");
}

void matmul_step(TrainData& d) {
  Tensor c;
  check(prism_matmul(d.a.h, d.bm.h, &c.h), "prism_matmul");
  check(prism_backward(c.h, d.gc.h, 0), "prism_backward (matmul)");
}

void BM_conv2d_train_prism(benchmark::State& state) {
  TrainData& d = train_data();
  for (auto _ : state) {
    conv_step(d);
    for (Tensor* t : {&d.x, &d.w, &d.b}) check(prism_tensor_zero_grad(t->h, 1), "zero_grad");
  }
}

void BM_matmul_train_prism(benchmark::State& state) {
  TrainData& d = train_data();
  for (auto _ : state) {
    matmul_step(d);
    for (Tensor* t : {&d.a, &d.bm}) check(prism_tensor_zero_grad(t->h, 1), "zero_grad");
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3 * 2.0 * kTrainMM * kTrainMM * kTrainMM * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Sampled elements of C (m, n) = A (m, k) · B (k, n) (B given transposed as
// (n, k) when b_t) against float64 dot products; the bound is the float32
// accumulation error of any summation order.
bool sampled_matmul_check(const float* a, const float* b, const float* c, int64_t m, int64_t k, int64_t n,
                          bool b_t, const char* what) {
  uint64_t x = 0x5EEDull;
  for (int s = 0; s < 512; ++s) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t i = static_cast<int64_t>((x >> 33) % static_cast<uint64_t>(m));
    const int64_t j = static_cast<int64_t>((x >> 11) % static_cast<uint64_t>(n));
    double acc = 0, mag = 0;
    for (int64_t t = 0; t < k; ++t) {
      const double term = static_cast<double>(a[i * k + t]) * (b_t ? b[j * k + t] : b[t * n + j]);
      acc += term;
      mag += std::fabs(term);
    }
    const double got = c[i * n + j];
    if (!(std::fabs(got - acc) <= 1.2e-7 * static_cast<double>(k) * mag + 1e-6)) {
      std::fprintf(stderr, "bench_prism: check %s FAILED: element (%lld, %lld) is %.9g, float64 gives %.9g\n",
                   what, static_cast<long long>(i), static_cast<long long>(j), got, acc);
      return false;
    }
  }
  return true;
}

// The training steps' results: conv2d forward against a float64 loop, and
// the gradients of both steps against their float64 formulas (sampled).
bool check_train_steps() {
  TrainData& d = train_data();
  bool ok = true;
  {
    static const int64_t pad[2] = {1, 1};
    Tensor y;
    check(prism_conv2d(d.x.h, d.w.h, d.b.h, nullptr, pad, nullptr, 1, &y.h), "prism_conv2d");
    HostBuf got(kConvN * kConvO * kConvHW * kConvHW);
    check(prism_tensor_copy_to_host(y.h, got.p, got.n * sizeof(float)), "prism_tensor_copy_to_host");
    const int64_t H = kConvHW;
    for (int64_t n = 0; n < kConvN && ok; ++n)
      for (int64_t o = 0; o < kConvO && ok; ++o)
        for (int64_t h = 0; h < H && ok; ++h)
          for (int64_t w = 0; w < H && ok; ++w) {
            double acc = d.hb.p[o], mag = std::fabs(acc);
            for (int64_t kh = 0; kh < 3; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = h + kh - 1, iw = w + kw - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
                const double t =
                    static_cast<double>(d.hx.p[(n * H + ih) * H + iw]) * d.hw.p[o * 9 + kh * 3 + kw];
                acc += t;
                mag += std::fabs(t);
              }
            const double g = got.p[((n * kConvO + o) * H + h) * H + w];
            if (!(std::fabs(g - acc) <= 1e-5 * mag + 1e-6)) {  // any f32 algorithm (direct, Winograd)
              std::fprintf(stderr,
                           "bench_prism: check conv2d forward FAILED at (%lld, %lld, %lld, %lld): %.9g, "
                           "float64 gives %.9g\n",
                           static_cast<long long>(n), static_cast<long long>(o), static_cast<long long>(h),
                           static_cast<long long>(w), g, acc);
              ok = false;
            }
          }
  }
  {
    // grad of a in C = A·B with upstream G: G·Bᵀ
    matmul_step(d);
    prism_tensor_t ga = nullptr;
    check(prism_tensor_grad(d.a.h, &ga), "prism_tensor_grad");
    Tensor hold(ga);
    HostBuf got(kTrainMM * kTrainMM);
    check(prism_tensor_copy_to_host(ga, got.p, got.n * sizeof(float)), "prism_tensor_copy_to_host");
    ok &= sampled_matmul_check(d.hgc.p, d.hbm.p, got.p, kTrainMM, kTrainMM, kTrainMM, true,
                               "matmul backward (grad a = G Bt) vs float64");
    for (Tensor* t : {&d.a, &d.bm}) check(prism_tensor_zero_grad(t->h, 1), "zero_grad");
  }
  return ok;
}

bool check_results() {
  bool ok = true;
  {
    MatmulData& d = matmul_data(1024);
    sgemm(d);
    Tensor c;
    check(prism_matmul(d.pa.h, d.pb.h, &c.h), "prism_matmul");
    HostBuf got(d.n * d.n);
    check(prism_tensor_copy_to_host(c.h, got.p, got.n * sizeof(float)), "prism_tensor_copy_to_host");
    ok &= close_enough(got.p, d.c.p, got.n, 1e-4f, "matmul 1024");
    // independent of dnnl_sgemm (which the CPU plugin calls too): sampled
    // elements against a float64 dot product
    ok &= sampled_matmul_check(d.a.p, d.b.p, got.p, d.n, d.n, d.n, false, "matmul 1024 vs float64");
    MatmulData& d2 = matmul_data(2048);
    Tensor c2;
    check(prism_matmul(d2.pa.h, d2.pb.h, &c2.h), "prism_matmul");
    HostBuf got2(d2.n * d2.n);
    check(prism_tensor_copy_to_host(c2.h, got2.p, got2.n * sizeof(float)), "prism_tensor_copy_to_host");
    ok &= sampled_matmul_check(d2.a.p, d2.b.p, got2.p, d2.n, d2.n, d2.n, false, "matmul 2048 vs float64");
  }
  ok &= check_train_steps();
  const struct {
    AddCase k;
    const char* name;
  } cases[] = {{AddCase::kContiguous, "add contiguous"},
               {AddCase::kRow, "add row broadcast"},
               {AddCase::kCol, "add column broadcast"},
               {AddCase::kTransposed, "add transposed"}};
  HostBuf got(kAddN);
  for (const auto& c : cases) {
    loop_add_case(c.k);
    Tensor out;
    check(prism_add_case(c.k, &out.h), "prism_add");
    check(prism_tensor_copy_to_host(out.h, got.p, got.n * sizeof(float)), "prism_tensor_copy_to_host");
    ok &= close_enough(got.p, add_data().c.p, kAddN, 0.0f, c.name);
  }
  {
    SmallData& d = small_data();
    Tensor out;
    check(prism_add(d.a.h, d.b.h, 1.0, &out.h), "prism_add");
    float got4[4];
    const float want4[4] = {1.5f, 2.25f, 3.125f, 5};
    check(prism_tensor_copy_to_host(out.h, got4, sizeof got4), "prism_tensor_copy_to_host");
    ok &= close_enough(got4, want4, 4, 0.0f, "small add");
  }
  return ok;
}

void register_all() {
  using benchmark::kMillisecond;
  using benchmark::kNanosecond;
  for (int64_t n : {1024, 2048}) {
    const std::string s = std::to_string(n);
    benchmark::RegisterBenchmark(("matmul_f32/" + s + "/prism").c_str(), BM_matmul_prism, n)
        ->UseRealTime()
        ->Unit(kMillisecond);
    benchmark::RegisterBenchmark(("matmul_f32/" + s + "/dnnl_sgemm").c_str(), BM_matmul_sgemm, n)
        ->UseRealTime()
        ->Unit(kMillisecond);
  }
  const struct {
    AddCase k;
    const char* name;
  } adds[] = {{AddCase::kContiguous, "add_f32/16M"},
              {AddCase::kRow, "add_f32/4096x4096+row"},
              {AddCase::kCol, "add_f32/4096x4096+col"},
              {AddCase::kTransposed, "add_f32/4096x4096+t"}};
  for (const auto& a : adds) {
    benchmark::RegisterBenchmark((std::string(a.name) + "/prism").c_str(), BM_add_prism, a.k)
        ->UseRealTime()
        ->Unit(kMillisecond);
    benchmark::RegisterBenchmark((std::string(a.name) + "/loop").c_str(), BM_add_loop, a.k)
        ->UseRealTime()
        ->Unit(kMillisecond);
  }
  benchmark::RegisterBenchmark("add_f32/4096x4096+t/plain_loop",
                               [](benchmark::State& state) {
                                 AddData& d = add_data();
                                 for (auto _ : state) {
                                   loop_add_transposed_plain(d.a.p, d.b.p, d.c.p, kSide);
                                   benchmark::DoNotOptimize(d.c.p);
                                   benchmark::ClobberMemory();
                                 }
                                 set_gbps(state, add_bytes(AddCase::kTransposed));
                               })
      ->UseRealTime()
      ->Unit(kMillisecond);
  benchmark::RegisterBenchmark("conv2d_train_f32/64x1x28x28-32x3x3/prism", BM_conv2d_train_prism)
      ->UseRealTime()
      ->Unit(kMillisecond);
  benchmark::RegisterBenchmark("matmul_train_f32/512/prism", BM_matmul_train_prism)
      ->UseRealTime()
      ->Unit(kMillisecond);
  benchmark::RegisterBenchmark("small_add_f32/4/prism", BM_small_add)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("small_add_f32/4/prism_inplace", BM_small_add_inplace)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("small_empty_f32/4/prism", BM_small_empty)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("small_query/prism", BM_small_query)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("tiny_graph_f32/4/prism", BM_tiny_graph)->Unit(kNanosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  int32_t devices = 0;
  check(prism_device_count(&devices), "prism_device_count");
  if (devices == 0) {
    std::fprintf(stderr, "bench_prism: no device loaded; load report:\n");
    size_t rows = 0;
    prism_load_report_count(&rows);
    for (size_t i = 0; i < rows; ++i) {
      prism_load_report_row r{};
      r.struct_size = sizeof r;
      if (prism_load_report_get(i, &r) == PRISM_OK) std::fprintf(stderr, "  %s: %s\n", r.path, r.reason);
    }
    return 2;
  }
  const char* env = std::getenv("OMP_NUM_THREADS");
  benchmark::AddCustomContext("omp_threads", std::to_string(threads()));
  benchmark::AddCustomContext("OMP_NUM_THREADS", env != nullptr ? env : "(unset)");
  benchmark::AddCustomContext("prism_version", prism_version());
  const dnnl_version_t* dv = dnnl_version();
  benchmark::AddCustomContext("dnnl_version",
                              std::to_string(dv->major) + "." + std::to_string(dv->minor) + "." +
                                  std::to_string(dv->patch) +
                                  (dv->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : " (not OpenMP)"));
  if (std::getenv("PRISM_BENCH_NO_CHECK") == nullptr && !check_results()) return 3;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
