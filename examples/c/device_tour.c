/* device_tour.c — lists every Prism device and runs a short checked workload on each (C99, prism.h only). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prism/prism.h"

/*
 * Note [device tour workload]
 * ---------------------------
 * On every device that stores float32 the tour uploads A (M, K), C (M, K),
 * B (K, N) and bias (N), then computes
 *   X = A + 0.5 * C            add with alpha
 *   Y = X * C                  mul
 *   Z = Y @ B                  matmul               // (M, N)
 *   W = Z + bias               add, bias broadcast  // (M, N)
 *   S = sum(W, dim 1)          reduction            // (M)
 *   T = B^T @ Y^T              matmul of transposed views == Z^T  // (N, M)
 *   total = sum(W)             full reduction, read back as a double
 * and checks each result it reads back against the same computation done on
 * the host in double precision (|got - ref| <= ATOL + RTOL * |ref|). Then it
 * times the device-side steps over a few iterations. Exit status: 0 when
 * every device passed, 1 otherwise (or when there is no device at all).
 */

enum { M = 64, K = 48, N = 32, TIMED_ITERS = 10 };
#define RTOL 1e-4
#define ATOL 1e-3

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Deterministic values in [-1, 1). */
static void fill_host(float* dst, size_t n, uint32_t seed) {
  size_t i;
  uint32_t s = seed;
  for (i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    dst[i] = (float)((double)(s >> 8) / (double)(1u << 23) - 1.0);
  }
}

/* Largest |got - ref| over n values; *ok cleared when any exceeds the tolerance. */
static double max_error(const float* got, const double* ref, size_t n, int* ok) {
  size_t i;
  double worst = 0.0;
  for (i = 0; i < n; ++i) {
    double err = fabs((double)got[i] - ref[i]);
    if (!(err <= ATOL + RTOL * fabs(ref[i]))) *ok = 0; /* also catches NaN */
    if (err > worst || err != err) worst = err;
  }
  return worst;
}

/* ===========================================================================
 * Host reference (double precision, from the same float inputs)
 * ======================================================================== */

typedef struct host_data {
  float a[M * K], c[M * K], b[K * N], bias[N];
  double w[M * N], s[M], zt[N * M], total;
} host_data;

static void host_compute(host_data* h) {
  static double y[M * K];
  int i, j, k;
  for (i = 0; i < M * K; ++i) y[i] = ((double)h->a[i] + 0.5 * (double)h->c[i]) * (double)h->c[i];
  h->total = 0.0;
  for (i = 0; i < M; ++i) {
    h->s[i] = 0.0;
    for (j = 0; j < N; ++j) {
      double z = 0.0;
      for (k = 0; k < K; ++k) z += y[i * K + k] * (double)h->b[k * N + j];
      h->zt[j * M + i] = z;
      h->w[i * N + j] = z + (double)h->bias[j];
      h->s[i] += h->w[i * N + j];
    }
    h->total += h->s[i];
  }
}

/* ===========================================================================
 * One device
 * ======================================================================== */

/* Tensors made for one device, released together. */
typedef struct tensor_pool {
  prism_tensor_t items[32];
  int n;
} tensor_pool;

static prism_tensor_t* pool_slot(tensor_pool* p) {
  if (p->n == (int)(sizeof(p->items) / sizeof(p->items[0]))) {
    fprintf(stderr, "device_tour: tensor pool exhausted\n");
    exit(1);
  }
  p->items[p->n] = NULL;
  return &p->items[p->n++];
}

static void pool_release(tensor_pool* p) {
  int i;
  for (i = 0; i < p->n; ++i) prism_tensor_release(p->items[i]);
  p->n = 0;
}

/* Evaluates a prism call; on failure prints it and jumps to the device's cleanup. */
#define CHECK(call)                                                                         \
  do {                                                                                      \
    if ((call) != PRISM_OK) {                                                               \
      printf("  FAIL  %s\n        %s: %s\n", #call, prism_status_name(prism_last_status()), \
             prism_last_error());                                                           \
      ok = 0;                                                                               \
      goto done;                                                                            \
    }                                                                                       \
  } while (0)

static void print_step(const char* step, const char* shape, double err, double ms, int step_ok) {
  printf("  %-30s %-9s %-10.2e %9.3f ms  %s\n", step, shape, err, ms, step_ok ? "OK" : "FAIL");
}

/* Runs the workload on `device`; returns 1 when every check passed. */
static int tour_device(const char* device, const host_data* h) {
  static const int64_t kSizesMK[2] = {M, K}, kSizesKN[2] = {K, N}, kSizesN[1] = {N};
  static const int64_t kDim1[1] = {1};
  static float got_w[M * N], got_zt[N * M], got_s[M];
  tensor_pool pool;
  prism_tensor_t ta, tc, tb, tbias, tx, ty, tz, tw, ts, tbt, tyt, tt, ttotal;
  double t0, total = 0.0, err;
  int ok = 1, step_ok, iter;
  uint64_t fallbacks_before = 0, fallbacks_after = 0;
  pool.n = 0;

  prism_fallback_count(NULL, &fallbacks_before);
  printf("  %-30s %-9s %-10s %12s  %s\n", "step", "shape", "max err", "time", "result");

  t0 = now_ms();
  CHECK(prism_from_data(h->a, kSizesMK, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  ta = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->c, kSizesMK, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tc = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->b, kSizesKN, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tb = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->bias, kSizesN, 1, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tbias = pool.items[pool.n - 1];
  CHECK(prism_synchronize(device));
  print_step("upload A, C, B, bias", "-", 0.0, now_ms() - t0, 1);

  t0 = now_ms();
  CHECK(prism_add(ta, tc, 0.5, pool_slot(&pool)));
  tx = pool.items[pool.n - 1];
  CHECK(prism_mul(tx, tc, pool_slot(&pool)));
  ty = pool.items[pool.n - 1];
  CHECK(prism_matmul(ty, tb, pool_slot(&pool)));
  tz = pool.items[pool.n - 1];
  CHECK(prism_add(tz, tbias, 1.0, pool_slot(&pool)));
  tw = pool.items[pool.n - 1];
  CHECK(prism_synchronize(device));
  t0 = now_ms() - t0;
  CHECK(prism_tensor_copy_to_host(tw, got_w, sizeof(got_w)));
  step_ok = 1;
  err = max_error(got_w, h->w, (size_t)M * N, &step_ok);
  print_step("W = (A + 0.5C) * C @ B + bias", "64x32", err, t0, step_ok);
  ok &= step_ok;

  t0 = now_ms();
  CHECK(prism_sum(tw, kDim1, 1, 0, pool_slot(&pool)));
  ts = pool.items[pool.n - 1];
  CHECK(prism_synchronize(device));
  t0 = now_ms() - t0;
  CHECK(prism_tensor_copy_to_host(ts, got_s, sizeof(got_s)));
  step_ok = 1;
  err = max_error(got_s, h->s, (size_t)M, &step_ok);
  print_step("S = sum(W, dim 1)", "64", err, t0, step_ok);
  ok &= step_ok;

  t0 = now_ms();
  CHECK(prism_t(tb, pool_slot(&pool)));
  tbt = pool.items[pool.n - 1];
  CHECK(prism_t(ty, pool_slot(&pool)));
  tyt = pool.items[pool.n - 1];
  CHECK(prism_matmul(tbt, tyt, pool_slot(&pool)));
  tt = pool.items[pool.n - 1];
  CHECK(prism_synchronize(device));
  t0 = now_ms() - t0;
  CHECK(prism_tensor_copy_to_host(tt, got_zt, sizeof(got_zt)));
  step_ok = 1;
  err = max_error(got_zt, h->zt, (size_t)N * M, &step_ok);
  print_step("T = B^T @ Y^T (strided views)", "32x64", err, t0, step_ok);
  ok &= step_ok;

  t0 = now_ms();
  CHECK(prism_sum(tw, NULL, 0, 0, pool_slot(&pool)));
  ttotal = pool.items[pool.n - 1];
  CHECK(prism_tensor_item_double(ttotal, &total));
  t0 = now_ms() - t0;
  err = fabs(total - h->total);
  step_ok = err <= ATOL * (double)(M * N) + RTOL * fabs(h->total);
  print_step("total = sum(W)", "scalar", err, t0, step_ok);
  ok &= step_ok;

  /* Steady state: the device-side chain again, without read-backs. */
  pool_release(&pool);
  CHECK(prism_from_data(h->a, kSizesMK, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  ta = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->c, kSizesMK, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tc = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->b, kSizesKN, 2, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tb = pool.items[pool.n - 1];
  CHECK(prism_from_data(h->bias, kSizesN, 1, PRISM_DTYPE_F32, device, pool_slot(&pool)));
  tbias = pool.items[pool.n - 1];
  CHECK(prism_synchronize(device));
  t0 = now_ms();
  for (iter = 0; iter < TIMED_ITERS; ++iter) {
    int base = pool.n;
    CHECK(prism_add(ta, tc, 0.5, pool_slot(&pool)));
    CHECK(prism_mul(pool.items[base], tc, pool_slot(&pool)));
    CHECK(prism_matmul(pool.items[base + 1], tb, pool_slot(&pool)));
    CHECK(prism_add(pool.items[base + 2], tbias, 1.0, pool_slot(&pool)));
    CHECK(prism_sum(pool.items[base + 3], kDim1, 1, 0, pool_slot(&pool)));
    CHECK(prism_synchronize(device));
    /* Drop this iteration's intermediates (the caching allocator reuses them). */
    while (pool.n > base) prism_tensor_release(pool.items[--pool.n]);
  }
  printf("  steady state: %.3f ms per iteration of add, mul, matmul, add, sum (%d iterations)\n",
         (now_ms() - t0) / TIMED_ITERS, TIMED_ITERS);

done:
  pool_release(&pool);
  if (prism_fallback_count(NULL, &fallbacks_after) == PRISM_OK && fallbacks_after > fallbacks_before) {
    printf("  note: %llu kernel call(s) fell back to the CPU plugin on this device\n",
           (unsigned long long)(fallbacks_after - fallbacks_before));
  }
  return ok;
}

/* ===========================================================================
 * main
 * ======================================================================== */

int main(void) {
  static host_data h;
  int32_t n_devices = 0, i;
  int n_ok = 0, n_fail = 0, n_skipped = 0;
  uint32_t abi_major = 0, abi_minor = 0;

  prism_plugin_abi_version(&abi_major, &abi_minor);
  printf("Prism %s (plugin ABI %u.%u): device tour\n\n", prism_version(), (unsigned)abi_major,
         (unsigned)abi_minor);
  if (prism_plugins_load_default() != PRISM_OK || prism_device_count(&n_devices) != PRISM_OK) {
    fprintf(stderr, "device_tour: %s\n", prism_last_error());
    return 1;
  }
  if (n_devices == 0) {
    fprintf(stderr, "device_tour: no device found; run `prism info` to see why each plugin has none\n");
    return 1;
  }

  printf("%-12s %-10s %-12s %s\n", "device", "plugin", "memory", "name");
  for (i = 0; i < n_devices; ++i) {
    prism_device_info info;
    char memory[32] = "-";
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (prism_device_info_get(i, &info) != PRISM_OK) {
      fprintf(stderr, "device_tour: %s\n", prism_last_error());
      return 1;
    }
    if (info.total_memory != 0) {
      snprintf(memory, sizeof(memory), "%.1f GiB", (double)info.total_memory / (1024.0 * 1024.0 * 1024.0));
    }
    printf("%-12s %-10s %-12s %s\n", info.device, info.plugin, memory, info.name);
  }

  fill_host(h.a, (size_t)M * K, 1u);
  fill_host(h.c, (size_t)M * K, 2u);
  fill_host(h.b, (size_t)K * N, 3u);
  fill_host(h.bias, (size_t)N, 4u);
  host_compute(&h);

  for (i = 0; i < n_devices; ++i) {
    prism_device_info info;
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (prism_device_info_get(i, &info) != PRISM_OK) {
      fprintf(stderr, "device_tour: %s\n", prism_last_error());
      return 1;
    }
    printf("\n== %s (%s: %s) ==\n", info.device, info.plugin, info.name);
    if (!(info.dtype_mask & PRISM_DTYPE_BIT(PRISM_DTYPE_F32))) {
      printf("%s: skipped (stores no float32)\n", info.device);
      ++n_skipped;
      continue;
    }
    if (tour_device(info.device, &h)) {
      printf("%s: OK\n", info.device);
      ++n_ok;
    } else {
      printf("%s: FAIL\n", info.device);
      ++n_fail;
    }
  }

  printf("\ndevices: %d OK, %d FAIL, %d skipped\n", n_ok, n_fail, n_skipped);
  return (n_fail == 0 && n_ok > 0) ? 0 : 1;
}
