/* capi_golden_test.c — the MLP acceptance check through the C ABI: parameter gradients against PyTorch's. */
/*
 * Replays tests/golden/mlp_c.bin (written by tests/golden/gen_golden.py, the
 * mlp_cross_entropy f64 case): y = linear(relu(linear(x, W1, b1)), W2, b2),
 * loss = cross_entropy(y, target), built with prism.h on the CPU plugin, then
 * prism_backward. Every parameter's .grad must be within 1e-10 of PyTorch's,
 * relative to its largest element.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prism/prism.h"

#ifndef PRISM_GOLDEN_DIR
#define PRISM_GOLDEN_DIR "tests/golden"
#endif

static int g_failures = 0;

#define CHECK_OK(call)                                                                          \
  do {                                                                                          \
    if ((call) != PRISM_OK) {                                                                   \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, prism_last_error()); \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

/* Reads n items of `size` bytes from f into a new buffer (the caller frees it); exits on a short file. */
static void* read_array(FILE* f, size_t n, size_t size, const char* what) {
  void* p = malloc(n * size > 0 ? n * size : 1);
  if (p == NULL || fread(p, size, n, f) != n) {
    fprintf(stderr, "capi_golden_test: mlp_c.bin is too short (reading %s)\n", what);
    exit(1);
  }
  return p;
}

static prism_tensor_t leaf(const double* data, int64_t d0, int64_t d1, int32_t ndim) {
  int64_t sizes[2];
  prism_tensor_t t = NULL;
  sizes[0] = d0;
  sizes[1] = d1;
  CHECK_OK(prism_from_data(data, sizes, ndim, PRISM_DTYPE_F64, "cpu", &t));
  CHECK_OK(prism_tensor_set_requires_grad(t, 1));
  return t;
}

/* Compares t's .grad (n elements) with `want`: max |g - want| <= 1e-10 * max |want|. */
static void check_grad(const char* name, prism_tensor_t t, const double* want, size_t n) {
  prism_tensor_t g = NULL;
  double* got;
  double err = 0, scale = 0;
  size_t i;
  CHECK_OK(prism_tensor_grad(t, &g));
  if (g == NULL || (size_t)prism_tensor_numel(g) != n) {
    fprintf(stderr, "capi_golden_test: %s: no gradient of %zu elements\n", name, n);
    ++g_failures;
    if (g != NULL) prism_tensor_release(g);
    return;
  }
  got = (double*)malloc(n * sizeof(double));
  if (got == NULL) exit(1);
  CHECK_OK(prism_tensor_copy_to_host(g, got, n * sizeof(double)));
  for (i = 0; i < n; ++i) {
    double e = fabs(got[i] - want[i]);
    if (e > err) err = e;
    if (fabs(want[i]) > scale) scale = fabs(want[i]);
  }
  if (!(scale > 0) || !(err <= 1e-10 * scale)) {
    fprintf(stderr, "capi_golden_test: %s: max error %g vs max |grad| %g\n", name, err, scale);
    ++g_failures;
  } else {
    printf("capi_golden_test: %s: max |grad - torch| / max |torch| = %g\n", name, err / scale);
  }
  free(got);
  prism_tensor_release(g);
}

int main(void) {
  const char* path = PRISM_GOLDEN_DIR "/mlp_c.bin";
  FILE* f = fopen(path, "rb");
  char magic[8];
  int64_t dims[4], B, D, H, C;
  double *x, *w1, *b1, *w2, *b2, *loss_ref, *gw1, *gb1, *gw2, *gb2;
  int64_t* target;
  int64_t sizes[2];
  prism_tensor_t tx = NULL, tw1, tb1, tw2, tb2, ttarget = NULL, h1 = NULL, a1 = NULL, y = NULL, loss = NULL;
  double loss_val = 0;

  if (f == NULL) {
    fprintf(stderr, "capi_golden_test: cannot open %s\n", path);
    return 1;
  }
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "PRSMMLP1", 8) != 0 ||
      fread(dims, sizeof(int64_t), 4, f) != 4) {
    fprintf(stderr, "capi_golden_test: %s is not an MLP fixture (magic PRSMMLP1)\n", path);
    return 1;
  }
  B = dims[0];
  D = dims[1];
  H = dims[2];
  C = dims[3];
  if (B <= 0 || D <= 0 || H <= 0 || C <= 0 || B > 4096 || D > 4096 || H > 4096 || C > 4096) {
    fprintf(stderr, "capi_golden_test: bad sizes in %s\n", path);
    return 1;
  }
  x = (double*)read_array(f, (size_t)(B * D), sizeof(double), "x");
  w1 = (double*)read_array(f, (size_t)(H * D), sizeof(double), "W1");
  b1 = (double*)read_array(f, (size_t)H, sizeof(double), "b1");
  w2 = (double*)read_array(f, (size_t)(C * H), sizeof(double), "W2");
  b2 = (double*)read_array(f, (size_t)C, sizeof(double), "b2");
  target = (int64_t*)read_array(f, (size_t)B, sizeof(int64_t), "target");
  loss_ref = (double*)read_array(f, 1, sizeof(double), "loss");
  gw1 = (double*)read_array(f, (size_t)(H * D), sizeof(double), "grad W1");
  gb1 = (double*)read_array(f, (size_t)H, sizeof(double), "grad b1");
  gw2 = (double*)read_array(f, (size_t)(C * H), sizeof(double), "grad W2");
  gb2 = (double*)read_array(f, (size_t)C, sizeof(double), "grad b2");
  fclose(f);

  sizes[0] = B;
  sizes[1] = D;
  CHECK_OK(prism_from_data(x, sizes, 2, PRISM_DTYPE_F64, "cpu", &tx));
  CHECK_OK(prism_from_data(target, sizes, 1, PRISM_DTYPE_I64, "cpu", &ttarget));
  tw1 = leaf(w1, H, D, 2);
  tb1 = leaf(b1, H, 0, 1);
  tw2 = leaf(w2, C, H, 2);
  tb2 = leaf(b2, C, 0, 1);

  CHECK_OK(prism_linear(tx, tw1, tb1, &h1));
  CHECK_OK(prism_relu(h1, &a1));
  CHECK_OK(prism_linear(a1, tw2, tb2, &y));
  CHECK_OK(
      prism_cross_entropy(y, ttarget, NULL, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_MEAN, &loss));
  CHECK_OK(prism_tensor_item_double(loss, &loss_val));
  if (!(fabs(loss_val - loss_ref[0]) <= 1e-12 * fabs(loss_ref[0]))) {
    fprintf(stderr, "capi_golden_test: loss %.17g vs PyTorch's %.17g\n", loss_val, loss_ref[0]);
    ++g_failures;
  }
  CHECK_OK(prism_backward(loss, NULL, 0));
  check_grad("W1", tw1, gw1, (size_t)(H * D));
  check_grad("b1", tb1, gb1, (size_t)H);
  check_grad("W2", tw2, gw2, (size_t)(C * H));
  check_grad("b2", tb2, gb2, (size_t)C);

  prism_tensor_release(loss);
  prism_tensor_release(y);
  prism_tensor_release(a1);
  prism_tensor_release(h1);
  prism_tensor_release(tb2);
  prism_tensor_release(tw2);
  prism_tensor_release(tb1);
  prism_tensor_release(tw1);
  prism_tensor_release(ttarget);
  prism_tensor_release(tx);
  free(x);
  free(w1);
  free(b1);
  free(w2);
  free(b2);
  free(target);
  free(loss_ref);
  free(gw1);
  free(gb1);
  free(gw2);
  free(gb2);
  if (g_failures) {
    fprintf(stderr, "capi_golden_test: %d failure(s)\n", g_failures);
    return 1;
  }
  printf("capi_golden_test: the MLP's gradients match PyTorch's\n");
  return 0;
}
