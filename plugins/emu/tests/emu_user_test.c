/* emu_user_test.c — ops on "emu:0" through the user C ABI, fallbacks included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prism/prism.h"

/* Any direct read or write of emu memory by the core would raise SIGSEGV
 * here (Note [Emulated device]); every check below goes through the core's
 * public functions only. */

static int g_failures = 0;

#define CHECK_OK(call)                                                                          \
  do {                                                                                          \
    if ((call) != PRISM_OK) {                                                                   \
      fprintf(stderr, "FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #call, prism_last_error()); \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

static void expect_near(const char* what, const float* got, const float* want, int n, float tol) {
  int i;
  for (i = 0; i < n; ++i) {
    if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])))) {
      fprintf(stderr, "FAIL %s: element %d is %.9g, expected %.9g\n", what, i, got[i], want[i]);
      ++g_failures;
      return;
    }
  }
  printf("ok   %s\n", what);
}

static void to_host(prism_tensor_t t, float* dst, int n) {
  CHECK_OK(prism_tensor_copy_to_host(t, dst, (size_t)n * sizeof(float)));
}

int main(int argc, char** argv) {
  const int64_t sizes[2] = {3, 4};
  float a[12], b[12], got[12], want[12];
  prism_tensor_t x, y, z, e, xt, xc, s, m, r_emu, r_cpu, sq, total, grad;
  uint64_t fallbacks = 0;
  double v = 0;
  int i;
  if (argc < 2) {
    fprintf(stderr, "usage: emu_user_test PATH/libprism-emu.so\n");
    return 2;
  }
  for (i = 0; i < 12; ++i) {
    a[i] = 0.25f * (float)i - 1.0f;
    b[i] = 2.0f - 0.5f * (float)i;
  }
  CHECK_OK(prism_plugin_load(argv[1]));
  CHECK_OK(prism_fallback_set_policy(PRISM_FALLBACK_ALLOW));
  CHECK_OK(prism_from_data(a, sizes, 2, PRISM_DTYPE_F32, "emu:0", &x));
  CHECK_OK(prism_from_data(b, sizes, 2, PRISM_DTYPE_F32, "emu:0", &y));
  if (strcmp(prism_tensor_device(x), "emu:0") != 0) {
    fprintf(stderr, "FAIL tensor lives on %s, not emu:0\n", prism_tensor_device(x));
    return 1;
  }

  /* an emu kernel */
  CHECK_OK(prism_add(x, y, 2.0, &z));
  to_host(z, got, 12);
  for (i = 0; i < 12; ++i) want[i] = a[i] + 2.0f * b[i];
  expect_near("add on emu:0 (emu kernel)", got, want, 12, 0);

  /* a fallback op: exp has no emu kernel, the core runs it on the CPU plugin */
  CHECK_OK(prism_fallback_reset());
  CHECK_OK(prism_exp(x, &e));
  to_host(e, got, 12);
  for (i = 0; i < 12; ++i) want[i] = expf(a[i]);
  expect_near("exp on emu:0 (CPU fallback)", got, want, 12, 1e-6f);
  CHECK_OK(prism_fallback_count("exp", &fallbacks));
  if (fallbacks == 0) {
    fprintf(stderr, "FAIL exp on emu:0 did not count a fallback\n");
    ++g_failures;
  }
  if (strcmp(prism_tensor_device(e), "emu:0") != 0) {
    fprintf(stderr, "FAIL the fallback result lives on %s, not emu:0\n", prism_tensor_device(e));
    ++g_failures;
  }

  /* strided views: a transposed view made contiguous uses emu's copy kernel */
  CHECK_OK(prism_t(x, &xt));
  CHECK_OK(prism_contiguous(xt, &xc));
  to_host(xc, got, 12);
  for (i = 0; i < 12; ++i) want[i] = a[(i % 3) * 4 + i / 3];
  expect_near("transpose + contiguous on emu:0", got, want, 12, 0);

  /* reductions: sum is an emu kernel, amax falls back */
  CHECK_OK(prism_sum(x, NULL, 0, 0, &s));
  CHECK_OK(prism_tensor_item_double(s, &v));
  want[0] = 0;
  for (i = 0; i < 12; ++i) want[0] += a[i];
  got[0] = (float)v;
  expect_near("sum on emu:0", got, want, 1, 1e-6f);
  CHECK_OK(prism_amax(x, NULL, 0, 0, &m));
  CHECK_OK(prism_tensor_item_double(m, &v));
  got[0] = (float)v;
  want[0] = a[11];
  expect_near("amax on emu:0 (CPU fallback)", got, want, 1, 0);

  /* random numbers: the same seed gives the same bits on emu and cpu */
  CHECK_OK(prism_manual_seed(1234));
  CHECK_OK(prism_rand(sizes, 2, PRISM_DTYPE_F32, "emu:0", &r_emu));
  CHECK_OK(prism_manual_seed(1234));
  CHECK_OK(prism_rand(sizes, 2, PRISM_DTYPE_F32, "cpu", &r_cpu));
  to_host(r_emu, got, 12);
  to_host(r_cpu, want, 12);
  if (memcmp(got, want, sizeof got) != 0) {
    fprintf(stderr, "FAIL rand on emu:0 differs from rand on cpu for the same seed\n");
    ++g_failures;
  } else {
    printf("ok   rand on emu:0 is bit-identical to cpu\n");
  }

  /* autograd on emu: d/dx sum(x*x) = 2x */
  CHECK_OK(prism_tensor_set_requires_grad(x, 1));
  CHECK_OK(prism_mul(x, x, &sq));
  CHECK_OK(prism_sum(sq, NULL, 0, 0, &total));
  CHECK_OK(prism_backward(total, NULL, 0));
  CHECK_OK(prism_tensor_grad(x, &grad));
  to_host(grad, got, 12);
  for (i = 0; i < 12; ++i) want[i] = 2.0f * a[i];
  expect_near("backward of sum(x*x) on emu:0", got, want, 12, 0);

  /* pinned host memory for emu:0 (plugin ABI 1.1): a host copy, reused blocks, direct copies */
  {
    prism_tensor_t hc, hct, pin, pin2, same, on_emu, bad = NULL;
    int round;
    CHECK_OK(prism_from_data(a, sizes, 2, PRISM_DTYPE_F32, "cpu", &hc));
    CHECK_OK(prism_transpose(hc, 0, 1, &hct));
    for (round = 0; round < 3; ++round) { /* later rounds reuse the released block */
      CHECK_OK(prism_pin_memory(hct, "emu:0", &pin));
      if (!prism_tensor_is_pinned(pin) || prism_tensor_is_pinned(hct) || !prism_tensor_is_contiguous(pin) ||
          strcmp(prism_tensor_device(pin), "cpu:0") != 0) {
        fprintf(stderr, "FAIL pin_memory: pinned %d, source pinned %d, contiguous %d, device %s\n",
                prism_tensor_is_pinned(pin), prism_tensor_is_pinned(hct), prism_tensor_is_contiguous(pin),
                prism_tensor_device(pin));
        ++g_failures;
      }
      CHECK_OK(prism_pin_memory(pin, "emu:0", &same)); /* already pinned: no copy */
      CHECK_OK(prism_to_device(pin, "emu:0", &on_emu));
      to_host(on_emu, got, 12);
      for (i = 0; i < 12; ++i) want[i] = a[(i % 3) * 4 + i / 3]; /* the transpose, row-major */
      expect_near("pinned copy of a transposed host tensor reaches emu:0", got, want, 12, 0);
      prism_tensor_release(on_emu);
      prism_tensor_release(same);
      prism_tensor_release(pin);
    }
    CHECK_OK(prism_pin_memory(hc, "cpu", &pin2)); /* host devices need no pinning */
    if (prism_tensor_is_pinned(pin2)) {
      fprintf(stderr, "FAIL pin_memory for cpu made a pinned copy\n");
      ++g_failures;
    }
    if (prism_pin_memory(x, "emu:0", &bad) != PRISM_ERROR_INVALID_ARGUMENT || bad != NULL ||
        strstr(prism_last_error(), "not in host memory") == NULL) {
      fprintf(stderr, "FAIL pin_memory of an emu tensor: %s\n", prism_last_error());
      ++g_failures;
    }
    if (prism_pin_memory(NULL, "emu:0", &bad) != PRISM_ERROR_INVALID_ARGUMENT ||
        prism_pin_memory(hc, "nowhere:0", &bad) == PRISM_OK || prism_tensor_is_pinned(NULL) != 0) {
      fprintf(stderr, "FAIL pin_memory bad arguments: %s\n", prism_last_error());
      ++g_failures;
    }
    CHECK_OK(prism_memory_empty_cache("emu:0")); /* frees the kept pinned block */
    prism_tensor_release(pin2);
    prism_tensor_release(hct);
    prism_tensor_release(hc);
  }

  prism_tensor_release(grad);
  prism_tensor_release(total);
  prism_tensor_release(sq);
  prism_tensor_release(r_cpu);
  prism_tensor_release(r_emu);
  prism_tensor_release(m);
  prism_tensor_release(s);
  prism_tensor_release(xc);
  prism_tensor_release(xt);
  prism_tensor_release(e);
  prism_tensor_release(z);
  prism_tensor_release(y);
  prism_tensor_release(x);
  if (g_failures != 0) {
    fprintf(stderr, "%d failure(s)\n", g_failures);
    return 1;
  }
  printf("emu user ABI test passed\n");
  return 0;
}
