// bench_gpu.cu — Prism on cuda:0 against bare CUDA in one process: add vs a bare kernel, a 1000-op chain's
// launch overhead, matmul vs cuBLAS called directly, H2D/D2H bandwidth vs cudaMemcpy, pinned-upload
// copy/compute overlap.
//
// Usage: bench_gpu [--plugin PATH] [--reps N]   (scripts/gpu-check.sh runs it; docs/benchmarks.md)
// Prints one line per case: "<case>  prism <value> <unit>  peer <value> <unit>  ratio <r>" where ratio > 1
// means Prism is better (a rate over the peer's rate, or the peer's time over Prism's). Exit status 0 when
// every case ran, 1 when a case failed, 77 when there is no CUDA device (nothing was measured).
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "prism/prism.h"

namespace {

// Note [GPU benchmark pairs]
// --------------------------
// Every figure has a bare-CUDA peer measured in the same process on the same
// GPU, interleaved rep by rep (Prism, peer, Prism, peer, ...) so drift in
// clocks or load hits both; each side's figure is the median of its reps.
// Timing is host wall time around a full device synchronisation
// (prism_synchronize / cudaDeviceSynchronize), which is what a user waits
// for. cuBLAS is loaded with dlopen, as the CUDA plugin itself loads it, so
// the bundle carries no cuBLAS; without it the matmul row is skipped.

const char* kDev = "cuda:0";
int g_reps = 15;
int g_failed = 0;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
#define CK(x)                                                                     \
  do {                                                                            \
    if ((x) != PRISM_OK) {                                                        \
      std::fprintf(stderr, "bench_gpu: %s failed: %s\n", #x, prism_last_error()); \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)
#define CU(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "bench_gpu: %s failed: %s\n", #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

__global__ void bare_add(const float* a, const float* b, float* c, long long n) {
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
__global__ void bare_spin(float* x, int iters) {  // compute that keeps the SMs busy
  float v = x[threadIdx.x];
  for (int i = 0; i < iters; ++i) v = v * 0.999f + 0.001f;
  x[threadIdx.x] = v;
}

void sync_prism() {
  CK(prism_synchronize(kDev));
}

// Runs prism_side and peer_side alternately g_reps times (after one warm-up
// each) and returns their median seconds.
void pair(const std::function<void()>& prism_side, const std::function<void()>& peer_side, double* tp,
          double* tq) {
  prism_side();
  peer_side();
  std::vector<double> a, b;
  for (int r = 0; r < g_reps; ++r) {
    double t0 = now_s();
    prism_side();
    a.push_back(now_s() - t0);
    t0 = now_s();
    peer_side();
    b.push_back(now_s() - t0);
  }
  *tp = median(a);
  *tq = median(b);
}

void row(const char* name, double p, double q, const char* unit, bool higher_better) {
  std::printf("%-34s prism %10.3f %-6s peer %10.3f %-6s ratio %.3f\n", name, p, unit, q, unit,
              higher_better ? p / q : q / p);
  std::fflush(stdout);
}

prism_tensor_t randn(int64_t rows, int64_t cols) {
  int64_t sizes[2] = {rows, cols};
  prism_tensor_t t = nullptr;
  CK(prism_randn(sizes, 2, PRISM_DTYPE_F32, kDev, &t));
  return t;
}

void bench_add() {
  const long long n = 1LL << 24;  // 16M f32: 192 MiB moved per add
  prism_tensor_t a = randn(1, n), b = randn(1, n);
  float *da, *db, *dc;
  CU(cudaMalloc(&da, n * 4));
  CU(cudaMalloc(&db, n * 4));
  CU(cudaMalloc(&dc, n * 4));
  CU(cudaMemset(da, 0, n * 4));
  CU(cudaMemset(db, 0, n * 4));
  double tp, tq;
  pair(
      [&] {
        prism_tensor_t c = nullptr;
        CK(prism_add(a, b, 1.0, &c));
        sync_prism();
        prism_tensor_release(c);
      },
      [&] {
        bare_add<<<(unsigned)((n + 255) / 256), 256>>>(da, db, dc, n);
        CU(cudaDeviceSynchronize());
      },
      &tp, &tq);
  const double gb = 3.0 * n * 4 / 1e9;
  row("add 16M f32 (GB/s)", gb / tp, gb / tq, "GB/s", true);
  pair(
      [&] {
        CK(prism_add_(a, b, 1.0));
        sync_prism();
      },
      [&] {
        bare_add<<<(unsigned)((n + 255) / 256), 256>>>(da, db, da, n);
        CU(cudaDeviceSynchronize());
      },
      &tp, &tq);
  row("add_ in place 16M f32 (GB/s)", gb / tp, gb / tq, "GB/s", true);
  prism_tensor_release(a);
  prism_tensor_release(b);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

void bench_chain() {
  const int ops = 1000;
  const long long n = 1024;
  prism_tensor_t a = randn(1, n), b = randn(1, n);
  float *da, *db;
  CU(cudaMalloc(&da, n * 4));
  CU(cudaMalloc(&db, n * 4));
  double tp, tq;
  pair(
      [&] {
        for (int i = 0; i < ops; ++i) CK(prism_add_(a, b, 1e-3));
        sync_prism();
      },
      [&] {
        for (int i = 0; i < ops; ++i) bare_add<<<4, 256>>>(da, db, da, n);
        CU(cudaDeviceSynchronize());
      },
      &tp, &tq);
  row("chain of 1000 add_ (us per op)", tp / ops * 1e6, tq / ops * 1e6, "us", false);
  prism_tensor_release(a);
  prism_tensor_release(b);
  cudaFree(da);
  cudaFree(db);
}

// cuBLAS through dlopen (Note [GPU benchmark pairs]).
using CreateFn = int (*)(void**);
using SgemmFn = int (*)(void*, int, int, int, int, int, const float*, const float*, int, const float*, int,
                        const float*, float*, int);

void bench_matmul() {
  void* lib = nullptr;
  for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"})
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
  if (lib == nullptr) {
    std::printf("%-34s skipped: cuBLAS not found (libcublas.so.13/12/11)\n", "matmul 4096^2 f32 (TFLOP/s)");
    return;
  }
  auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(lib, "cublasSgemm_v2"));
  void* h = nullptr;
  if (create == nullptr || sgemm == nullptr || create(&h) != 0) {
    std::printf("%-34s skipped: cuBLAS could not be started\n", "matmul 4096^2 f32 (TFLOP/s)");
    return;
  }
  const int m = 4096;
  prism_tensor_t a = randn(m, m), b = randn(m, m);
  float *da, *db, *dc;
  CU(cudaMalloc(&da, (size_t)m * m * 4));
  CU(cudaMalloc(&db, (size_t)m * m * 4));
  CU(cudaMalloc(&dc, (size_t)m * m * 4));
  const float one = 1.0f, zero = 0.0f;
  double tp, tq;
  pair(
      [&] {
        prism_tensor_t c = nullptr;
        CK(prism_matmul(a, b, &c));
        sync_prism();
        prism_tensor_release(c);
      },
      [&] {
        sgemm(h, 0, 0, m, m, m, &one, da, m, db, m, &zero, dc, m);
        CU(cudaDeviceSynchronize());
      },
      &tp, &tq);
  const double tflop = 2.0 * m * m * m / 1e12;
  row("matmul 4096^2 f32 (TFLOP/s)", tflop / tp, tflop / tq, "TF/s", true);
  prism_tensor_release(a);
  prism_tensor_release(b);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

void bench_bandwidth() {
  const size_t bytes = size_t{256} << 20;
  const int64_t n = static_cast<int64_t>(bytes / 4);
  std::vector<float> host(static_cast<size_t>(n), 1.0f);
  float* dev = nullptr;
  CU(cudaMalloc(&dev, bytes));
  double tp, tq;
  prism_tensor_t on_dev = nullptr;
  pair(
      [&] {
        prism_tensor_t t = nullptr;
        CK(prism_from_data(host.data(), &n, 1, PRISM_DTYPE_F32, kDev, &t));
        sync_prism();
        prism_tensor_release(on_dev);
        on_dev = t;
      },
      [&] { CU(cudaMemcpy(dev, host.data(), bytes, cudaMemcpyHostToDevice)); }, &tp, &tq);
  row("H2D 256 MiB pageable (GB/s)", bytes / tp / 1e9, bytes / tq / 1e9, "GB/s", true);
  pair([&] { CK(prism_tensor_copy_to_host(on_dev, host.data(), bytes)); },
       [&] { CU(cudaMemcpy(host.data(), dev, bytes, cudaMemcpyDeviceToHost)); }, &tp, &tq);
  row("D2H 256 MiB pageable (GB/s)", bytes / tp / 1e9, bytes / tq / 1e9, "GB/s", true);
  prism_tensor_release(on_dev);
  cudaFree(dev);
}

// Copy/compute overlap of a pinned upload: the upload is issued, then
// `compute` (as long as the upload alone) runs before one synchronisation.
// Overlap = (t_upload + t_compute) / t_together: 2 is perfect, 1 none.
// Prism's compute is host work (its uploads are asynchronous from pinned
// memory, on the device's one stream); the peer's is a kernel on a second
// stream beside cudaMemcpyAsync.
void bench_overlap() {
  const size_t bytes = size_t{256} << 20;
  const int64_t n = static_cast<int64_t>(bytes / 4);
  std::vector<float> src(static_cast<size_t>(n), 1.0f);
  prism_tensor_t blob = nullptr, pinned = nullptr;
  CK(prism_from_blob(src.data(), &n, nullptr, 1, PRISM_DTYPE_F32, nullptr, nullptr, &blob));
  CK(prism_pin_memory(blob, kDev, &pinned));
  auto upload = [&] {
    prism_tensor_t t = nullptr;
    CK(prism_to_device(pinned, kDev, &t));
    return t;
  };
  // time of the upload alone, then host work of the same length beside it
  prism_tensor_release(upload());
  sync_prism();
  double t0 = now_s();
  prism_tensor_t u = upload();
  sync_prism();
  const double t_up = now_s() - t0;
  prism_tensor_release(u);
  volatile double sink = 0;
  auto host_work = [&](double seconds) {
    const double end = now_s() + seconds;
    while (now_s() < end) sink = sink + 1.0;
  };
  std::vector<double> together;
  for (int r = 0; r < g_reps; ++r) {
    t0 = now_s();
    prism_tensor_t t = upload();
    host_work(t_up);
    sync_prism();
    together.push_back(now_s() - t0);
    prism_tensor_release(t);
  }
  const double prism_overlap = 2 * t_up / median(together);

  float *hp = nullptr, *dp = nullptr, *spin = nullptr;
  CU(cudaHostAlloc(&hp, bytes, cudaHostAllocDefault));
  CU(cudaMalloc(&dp, bytes));
  CU(cudaMalloc(&spin, 1024 * 4));
  CU(cudaMemset(spin, 0, 1024 * 4));
  cudaStream_t s1, s2;
  CU(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CU(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  auto timed = [&](const std::function<void()>& f) {
    CU(cudaDeviceSynchronize());
    const double s = now_s();
    f();
    CU(cudaDeviceSynchronize());
    return now_s() - s;
  };
  const double t_copy = timed([&] { CU(cudaMemcpyAsync(dp, hp, bytes, cudaMemcpyHostToDevice, s1)); });
  int iters = 1 << 16;  // grow the spin kernel until it lasts as long as the copy
  while (iters < (1 << 28) && timed([&] { bare_spin<<<132, 1024, 0, s2>>>(spin, iters); }) < t_copy)
    iters *= 2;
  const double t_spin = timed([&] { bare_spin<<<132, 1024, 0, s2>>>(spin, iters); });
  std::vector<double> both;
  for (int r = 0; r < g_reps; ++r) {
    both.push_back(timed([&] {
      CU(cudaMemcpyAsync(dp, hp, bytes, cudaMemcpyHostToDevice, s1));
      bare_spin<<<132, 1024, 0, s2>>>(spin, iters);
    }));
  }
  const double peer_overlap = (t_copy + t_spin) / median(both);
  row("pinned upload overlap (x, 2=full)", prism_overlap, peer_overlap, "x", true);
  std::printf("  pinned upload alone: prism %.2f GB/s, cudaMemcpyAsync %.2f GB/s\n", bytes / t_up / 1e9,
              bytes / t_copy / 1e9);
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
  cudaFreeHost(hp);
  cudaFree(dp);
  cudaFree(spin);
  prism_tensor_release(pinned);
  prism_tensor_release(blob);
}

}  // namespace

int main(int argc, char** argv) {
  const char* plugin = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--plugin") == 0 && i + 1 < argc) {
      plugin = argv[++i];
    } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      g_reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_gpu [--plugin PATH] [--reps N]\n");
      return 2;
    }
  }
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::printf("skipped: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  if (plugin != nullptr && prism_plugin_load(plugin) != PRISM_OK) {
    std::fprintf(stderr, "bench_gpu: cannot load %s: %s\n", plugin, prism_last_error());
    return 1;
  }
  cudaDeviceProp p{};
  CU(cudaGetDeviceProperties(&p, 0));
  std::printf("GPU: %s (sm_%d%d), %d reps per side, interleaved, medians\n", p.name, p.major, p.minor,
              g_reps);
  bench_add();
  bench_chain();
  bench_matmul();
  bench_bandwidth();
  bench_overlap();
  return g_failed == 0 ? 0 : 1;
}
