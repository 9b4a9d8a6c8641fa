/* train_mlp.c — trains a 784-64-10 MLP on Fashion-MNIST through prism.h alone (C99): IDX loading,
 * linear layers, cross-entropy, autograd, fused SGD updates, a safetensors checkpoint. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prism/prism.h"

/*
 * Note [C training example]
 * -------------------------
 * Each step takes a batch of BATCH images (rows of the normalised image
 * matrix, picked with prism_index_select from a shuffled permutation), runs
 *   h = relu(linear(x, w1, b1)); logits = linear(h, w2, b2)
 *   loss = cross_entropy(logits, labels)
 * then prism_backward(loss) and one prism_sgd_update per parameter (momentum
 * 0.9), dropping the gradients afterwards. The test accuracy is computed on
 * TEST_N test images under no_grad; the weights are saved to a safetensors
 * file, reloaded and checked to give the same logits.
 *
 * Usage: train_mlp [device] [data dir]   (defaults: "cpu",
 *        /usr/share/datasets/fashion-mnist, files plain or .gz)
 * Exit status: 0 when the test accuracy after one pass over TRAIN_N images
 * is at least 0.75 and the checkpoint reloads exactly; 1 otherwise.
 */

enum { TRAIN_N = 12800, TEST_N = 2000, BATCH = 64, HIDDEN = 64, CLASSES = 10, PIXELS = 784 };
#define LR 0.05
#define MOMENTUM 0.9
#define TARGET 0.75

#define CHECK(call)                                                                              \
  do {                                                                                           \
    prism_status s_ = (call);                                                                    \
    if (s_ != PRISM_OK) {                                                                        \
      fprintf(stderr, "%s failed (%s): %s\n", #call, prism_status_name(s_), prism_last_error()); \
      exit(1);                                                                                   \
    }                                                                                            \
  } while (0)

static const char* device = "cpu";

/* images (n, 784) float32 normalised, labels (n) int64, on `device`. */
static void load(const char* dir, const char* prefix, int64_t n, prism_tensor_t* images,
                 prism_tensor_t* labels) {
  char path[1024];
  prism_tensor_t raw = NULL, lab = NULL, part = NULL, f = NULL, scaled = NULL, flat = NULL;
  const int64_t shape[2] = {n, PIXELS};
  const char* exts[2] = {".gz", ""};
  int i;
  for (i = 0; i < 2 && raw == NULL; ++i) {
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, prefix, exts[i]);
    if (prism_load_idx(path, "cpu", &raw) != PRISM_OK) raw = NULL;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefix, exts[i]);
    if (raw != NULL) CHECK(prism_load_idx(path, "cpu", &lab));
  }
  if (raw == NULL) {
    fprintf(stderr, "train_mlp: cannot read %s/%s-images-idx3-ubyte(.gz): %s\n", dir, prefix,
            prism_last_error());
    exit(1);
  }
  CHECK(prism_narrow(raw, 0, 0, n, &part));
  CHECK(prism_to_dtype(part, PRISM_DTYPE_F32, &f));
  CHECK(prism_reshape(f, shape, 2, &flat));
  {
    prism_tensor_t k = NULL, moved = NULL, l64 = NULL, lpart = NULL;
    CHECK(prism_scalar(1.0 / 255.0, PRISM_DTYPE_F32, "cpu", &k));
    CHECK(prism_mul(flat, k, &scaled));
    CHECK(prism_to_device(scaled, device, &moved));
    *images = moved;
    CHECK(prism_narrow(lab, 0, 0, n, &lpart));
    CHECK(prism_to_dtype(lpart, PRISM_DTYPE_I64, &l64));
    CHECK(prism_to_device(l64, device, labels));
    prism_tensor_release(k);
    prism_tensor_release(l64);
    prism_tensor_release(lpart);
  }
  prism_tensor_release(raw);
  prism_tensor_release(lab);
  prism_tensor_release(part);
  prism_tensor_release(f);
  prism_tensor_release(flat);
  prism_tensor_release(scaled);
}

/* A (rows, cols) parameter uniform in [-bound, bound] (torch.nn.Linear's
 * default bounds with bound = 1/sqrt(fan_in)), requiring grad. */
static prism_tensor_t param(int64_t rows, int64_t cols, double bound) {
  const int64_t shape[2] = {rows, cols};
  prism_tensor_t u = NULL, two = NULL, shifted = NULL, p = NULL, one = NULL, scaled = NULL;
  CHECK(prism_rand(shape, cols > 0 ? 2 : 1, PRISM_DTYPE_F32, device, &u));
  CHECK(prism_scalar(2.0 * bound, PRISM_DTYPE_F32, device, &two));
  CHECK(prism_scalar(bound, PRISM_DTYPE_F32, device, &one));
  CHECK(prism_mul(u, two, &scaled));
  CHECK(prism_sub(scaled, one, 1.0, &shifted));
  CHECK(prism_contiguous(shifted, &p));
  CHECK(prism_tensor_set_requires_grad(p, 1));
  prism_tensor_release(u);
  prism_tensor_release(two);
  prism_tensor_release(one);
  prism_tensor_release(scaled);
  prism_tensor_release(shifted);
  return p;
}

static prism_tensor_t forward(prism_tensor_t x, prism_tensor_t* params) {
  prism_tensor_t h = NULL, r = NULL, logits = NULL;
  CHECK(prism_linear(x, params[0], params[1], &h));
  CHECK(prism_relu(h, &r));
  CHECK(prism_linear(r, params[2], params[3], &logits));
  prism_tensor_release(h);
  prism_tensor_release(r);
  return logits;
}

static double accuracy(prism_tensor_t images, prism_tensor_t labels, prism_tensor_t* params,
                       prism_tensor_t* logits_out) {
  prism_tensor_t logits = NULL, pred = NULL, hit = NULL, count = NULL;
  double correct = 0;
  CHECK(prism_no_grad_enter());
  logits = forward(images, params);
  CHECK(prism_argmax(logits, 1, 0, &pred));
  CHECK(prism_eq(pred, labels, &hit));
  CHECK(prism_sum(hit, NULL, 0, 0, &count));
  CHECK(prism_tensor_item_double(count, &correct));
  CHECK(prism_no_grad_exit());
  if (logits_out != NULL) {
    *logits_out = logits;
  } else {
    prism_tensor_release(logits);
  }
  prism_tensor_release(pred);
  prism_tensor_release(hit);
  prism_tensor_release(count);
  return correct / (double)prism_tensor_numel(labels);
}

int main(int argc, char** argv) {
  const char* dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
  const char* names[4] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
  prism_tensor_t train_x = NULL, train_y = NULL, test_x = NULL, test_y = NULL, order = NULL;
  prism_tensor_t params[4], momentum[4];
  prism_tensor_t logits_before = NULL, logits_after = NULL;
  prism_safetensors_t file = NULL;
  double acc = 0, acc_reloaded = 0, last_loss = 0;
  int32_t same = 0;
  int64_t step, i;
  if (argc > 1) device = argv[1];

  CHECK(prism_manual_seed(0));
  load(dir, "train", TRAIN_N, &train_x, &train_y);
  load(dir, "t10k", TEST_N, &test_x, &test_y);
  params[0] = param(HIDDEN, PIXELS, 1.0 / 28.0); /* 1/sqrt(784) */
  params[1] = param(HIDDEN, 0, 1.0 / 28.0);
  params[2] = param(CLASSES, HIDDEN, 0.125); /* 1/sqrt(64) */
  params[3] = param(CLASSES, 0, 0.125);
  for (i = 0; i < 4; ++i) CHECK(prism_zeros_like(params[i], &momentum[i]));

  CHECK(prism_randperm(TRAIN_N, PRISM_DTYPE_I64, device, &order));
  for (step = 0; step < TRAIN_N / BATCH; ++step) {
    prism_tensor_t idx = NULL, x = NULL, y = NULL, logits = NULL, loss = NULL;
    CHECK(prism_narrow(order, 0, step * BATCH, BATCH, &idx));
    CHECK(prism_index_select(train_x, 0, idx, &x));
    CHECK(prism_index_select(train_y, 0, idx, &y));
    logits = forward(x, params);
    CHECK(prism_cross_entropy(logits, y, NULL, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_MEAN, &loss));
    CHECK(prism_backward(loss, NULL, 0));
    for (i = 0; i < 4; ++i) {
      prism_tensor_t g = NULL;
      CHECK(prism_tensor_grad(params[i], &g));
      CHECK(prism_sgd_update(params[i], g, momentum[i], LR, MOMENTUM, 0.0, 0.0,
                             step == 0 ? (uint32_t)PRISM_SGD_INIT_BUFFER : 0u));
      CHECK(prism_tensor_zero_grad(params[i], 1));
      prism_tensor_release(g);
    }
    CHECK(prism_tensor_item_double(loss, &last_loss));
    if (step % 50 == 0) printf("step %3ld  loss %.4f\n", (long)step, last_loss);
    prism_tensor_release(idx);
    prism_tensor_release(x);
    prism_tensor_release(y);
    prism_tensor_release(logits);
    prism_tensor_release(loss);
  }
  acc = accuracy(test_x, test_y, params, &logits_before);
  printf("device %s: %d steps of %d, last loss %.4f, test accuracy %.4f on %d images\n", device,
         TRAIN_N / BATCH, BATCH, last_loss, acc, TEST_N);

  /* Checkpoint round trip: save, reload into the same handles' values, compare logits. */
  CHECK(prism_safetensors_save("train_mlp.safetensors", names, params, 4, NULL, NULL, 0));
  CHECK(prism_safetensors_open("train_mlp.safetensors", &file));
  for (i = 0; i < 4; ++i) {
    prism_tensor_t loaded = NULL;
    CHECK(prism_safetensors_get(file, names[i], device, &loaded));
    CHECK(prism_no_grad_enter());
    CHECK(prism_copy_(params[i], loaded));
    CHECK(prism_no_grad_exit());
    prism_tensor_release(loaded);
  }
  CHECK(prism_safetensors_close(file));
  acc_reloaded = accuracy(test_x, test_y, params, &logits_after);
  CHECK(prism_equal(logits_before, logits_after, &same));
  printf("checkpoint train_mlp.safetensors reloaded: accuracy %.4f, identical logits: %s\n", acc_reloaded,
         same ? "yes" : "no");

  for (i = 0; i < 4; ++i) {
    prism_tensor_release(params[i]);
    prism_tensor_release(momentum[i]);
  }
  prism_tensor_release(train_x);
  prism_tensor_release(train_y);
  prism_tensor_release(test_x);
  prism_tensor_release(test_y);
  prism_tensor_release(order);
  prism_tensor_release(logits_before);
  prism_tensor_release(logits_after);
  if (acc < TARGET || !same) {
    fprintf(stderr, "train_mlp: accuracy %.4f (target %.2f), checkpoint identical: %d\n", acc, TARGET, same);
    return 1;
  }
  return 0;
}
