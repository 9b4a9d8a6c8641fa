// bench_libtorch.cpp — the bench_prism cases through libtorch's C++ API (Debian libtorch-dev).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <cstdlib>
#include <string>

// Note [libtorch peer setup]
// --------------------------
// libtorch runs with at::set_num_threads(T), T = OMP_NUM_THREADS (2 when
// unset, bench/run.sh sets 2), the same thread count as every bench_prism
// peer. All cases run under c10::InferenceMode, libtorch's fastest eager
// mode (no autograd bookkeeping), so the small-op figure is its best case.
// Case names match bench_prism's ("<case>/libtorch") so bench/compare.py
// puts them side by side.

namespace {

constexpr int64_t kSide = 4096;
constexpr int64_t kAddN = kSide * kSide;

void set_gflops(benchmark::State& state, int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n) * n * n * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void set_gbps(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

at::Tensor rand_f32(at::IntArrayRef sizes) {
  return at::rand(sizes, at::kFloat) * 2 - 1;
}

void BM_matmul(benchmark::State& state, int64_t n) {
  const at::Tensor a = rand_f32({n, n}), b = rand_f32({n, n});
  for (auto _ : state) {
    at::Tensor c = at::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_gflops(state, n);
}

enum class AddCase { kContiguous, kRow, kCol, kTransposed };

struct AddData {
  at::Tensor a = rand_f32({kAddN}), b = rand_f32({kAddN}), vec = rand_f32({kSide});
  at::Tensor a2 = a.view({kSide, kSide}), bt = b.view({kSide, kSide}).t();
  at::Tensor row = vec, col = vec.view({kSide, 1});
  at::Tensor out = at::empty({kAddN}, at::kFloat);
};

AddData& add_data() {
  static AddData d;
  return d;
}

double add_bytes(AddCase k) {
  const double big = static_cast<double>(kAddN) * sizeof(float);
  return (k == AddCase::kRow || k == AddCase::kCol) ? 2 * big + kSide * sizeof(float) : 3 * big;
}

at::Tensor add_new(AddCase k) {
  AddData& d = add_data();
  switch (k) {
    case AddCase::kContiguous:
      return at::add(d.a, d.b);
    case AddCase::kRow:
      return at::add(d.a2, d.row);
    case AddCase::kCol:
      return at::add(d.a2, d.col);
    case AddCase::kTransposed:
      return at::add(d.a2, d.bt);
  }
  return {};
}

// A new output tensor every iteration (libtorch's CPU allocator does not cache).
void BM_add(benchmark::State& state, AddCase k) {
  add_data();
  for (auto _ : state) {
    at::Tensor c = add_new(k);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_gbps(state, add_bytes(k));
}

// Into a preallocated output: libtorch's kernel alone.
void BM_add_out(benchmark::State& state, AddCase k) {
  AddData& d = add_data();
  at::Tensor out = k == AddCase::kContiguous ? d.out : d.out.view({kSide, kSide});
  for (auto _ : state) {
    switch (k) {
      case AddCase::kContiguous:
        at::add_out(out, d.a, d.b);
        break;
      case AddCase::kRow:
        at::add_out(out, d.a2, d.row);
        break;
      case AddCase::kCol:
        at::add_out(out, d.a2, d.col);
        break;
      case AddCase::kTransposed:
        at::add_out(out, d.a2, d.bt);
        break;
    }
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_gbps(state, add_bytes(k));
}

void BM_small_add(benchmark::State& state) {
  const at::Tensor a = rand_f32({4}), b = rand_f32({4});
  for (auto _ : state) {
    at::Tensor c = at::add(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}

void BM_small_add_inplace(benchmark::State& state) {
  at::Tensor a = rand_f32({4});
  const at::Tensor b = rand_f32({4});
  for (auto _ : state) a.add_(b);
  benchmark::DoNotOptimize(a.data_ptr());
}

// Tiny autograd graph (Note [tiny graph] in bench_prism.cpp): autograd on,
// outside InferenceMode; grads set to none after each step.
void BM_tiny_graph(benchmark::State& state) {
  c10::InferenceMode off(false);
  at::Tensor a = at::tensor({1.0f, -2.0f, 3.0f, -4.0f}).set_requires_grad(true);
  at::Tensor b = at::tensor({0.5f, 0.25f, -0.125f, 1.0f}).set_requires_grad(true);
  for (auto _ : state) {
    at::Tensor y = (at::relu(a * b) + a).sum();
    y.backward();
    a.mutable_grad().reset();
    b.mutable_grad().reset();
  }
}

// Training steps (Note [nn benchmark cases] in bench_prism.cpp): autograd on,
// outside the global InferenceMode; the same shapes and steps as Prism's.
struct TrainData {
  at::Tensor x, w, b, gy, a, bm, gc;
  TrainData() {
    c10::InferenceMode off(false);
    x = rand_f32({64, 1, 28, 28}).requires_grad_(true);
    w = rand_f32({32, 1, 3, 3}).requires_grad_(true);
    b = rand_f32({32}).requires_grad_(true);
    gy = rand_f32({64, 32, 28, 28});
    a = rand_f32({512, 512}).requires_grad_(true);
    bm = rand_f32({512, 512}).requires_grad_(true);
    gc = rand_f32({512, 512});
  }
};
TrainData& train_data() {
  static TrainData d;
  return d;
}
void BM_conv2d_train(benchmark::State& state) {
  c10::InferenceMode off(false);
  TrainData& d = train_data();
  for (auto _ : state) {
    at::Tensor y = at::conv2d(d.x, d.w, d.b, {1, 1}, {1, 1});
    y.backward(d.gy);
    for (at::Tensor* t : {&d.x, &d.w, &d.b}) t->mutable_grad().reset();
  }
}
void BM_matmul_train(benchmark::State& state) {
  c10::InferenceMode off(false);
  TrainData& d = train_data();
  for (auto _ : state) {
    at::Tensor c = at::matmul(d.a, d.bm);
    c.backward(d.gc);
    for (at::Tensor* t : {&d.a, &d.bm}) t->mutable_grad().reset();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(3 * 2.0 * 512 * 512 * 512 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
void register_all() {
  using benchmark::kMillisecond;
  using benchmark::kNanosecond;
  for (int64_t n : {1024, 2048}) {
    benchmark::RegisterBenchmark(("matmul_f32/" + std::to_string(n) + "/libtorch").c_str(), BM_matmul, n)
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
    benchmark::RegisterBenchmark((std::string(a.name) + "/libtorch").c_str(), BM_add, a.k)
        ->UseRealTime()
        ->Unit(kMillisecond);
    benchmark::RegisterBenchmark((std::string(a.name) + "/libtorch_out").c_str(), BM_add_out, a.k)
        ->UseRealTime()
        ->Unit(kMillisecond);
  }
  benchmark::RegisterBenchmark("conv2d_train_f32/64x1x28x28-32x3x3/libtorch", BM_conv2d_train)
      ->UseRealTime()
      ->Unit(kMillisecond);
  benchmark::RegisterBenchmark("matmul_train_f32/512/libtorch", BM_matmul_train)
      ->UseRealTime()
      ->Unit(kMillisecond);
  benchmark::RegisterBenchmark("small_add_f32/4/libtorch", BM_small_add)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("small_add_f32/4/libtorch_inplace", BM_small_add_inplace)->Unit(kNanosecond);
  benchmark::RegisterBenchmark("tiny_graph_f32/4/libtorch", BM_tiny_graph)->Unit(kNanosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* env = std::getenv("OMP_NUM_THREADS");
  const int threads = env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 2;
  at::set_num_threads(threads);
  c10::InferenceMode inference;
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::AddCustomContext("OMP_NUM_THREADS", env != nullptr ? env : "(unset)");
  const char* blas_core = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("OPENBLAS_CORETYPE", blas_core != nullptr ? blas_core : "(detected)");
  benchmark::AddCustomContext("torch_parallel_info", at::get_parallel_info());
  benchmark::AddCustomContext("torch_config", at::show_config());
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
