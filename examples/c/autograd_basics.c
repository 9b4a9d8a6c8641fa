/* autograd_basics.c — fits y = 2x + 1 by gradient descent with Prism's autograd (C99, prism.h only). */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prism/prism.h"

/*
 * Note [autograd basics]
 * ----------------------
 * The model is pred = w * x + b with w and b 0-d float32 tensors that
 * require grad; the data are 20 points of y = 2x + 1 on [-1, 1]. Each step
 *   loss = mean((pred - y)^2)        forward: records the graph
 *   backward(loss)                   fills w.grad and b.grad
 *   w -= lr * w.grad, b -= ...       in place, inside no_grad
 *   zero_grad(w), zero_grad(b)       gradients accumulate otherwise
 * Exit status: 0 when the learned w and b are within 1e-2 of 2 and 1.
 * Usage: autograd_basics [device]   (default "cpu")
 */

enum { STEPS = 100, POINTS = 20 };
#define LR 0.2
#define TOL 1e-2

/* Any failing call: print the runtime's message and stop. */
#define CHECK(call)                                                                              \
  do {                                                                                           \
    prism_status s_ = (call);                                                                    \
    if (s_ != PRISM_OK) {                                                                        \
      fprintf(stderr, "%s failed (%s): %s\n", #call, prism_status_name(s_), prism_last_error()); \
      exit(1);                                                                                   \
    }                                                                                            \
  } while (0)

static double value_of(prism_tensor_t t) {
  double v = 0;
  CHECK(prism_tensor_item_double(t, &v));
  return v;
}

/* One step of gradient descent on `p` (a leaf): p -= lr * p.grad, then drop p.grad. */
static void sgd_update(prism_tensor_t p, double lr) {
  prism_tensor_t grad = NULL;
  CHECK(prism_tensor_grad(p, &grad));
  if (grad == NULL) {
    fprintf(stderr, "no gradient reached a parameter\n");
    exit(1);
  }
  CHECK(prism_sub_(p, grad, lr)); /* in place on a leaf: only allowed under no_grad */
  prism_tensor_release(grad);
  CHECK(prism_tensor_zero_grad(p, 1));
}

int main(int argc, char** argv) {
  const char* device = argc > 1 ? argv[1] : "cpu";
  prism_tensor_t x = NULL, two = NULL, one = NULL, x2 = NULL, y = NULL, w = NULL, b = NULL;
  int step;
  double wv, bv;

  /* Data: y = 2x + 1 (no gradients needed: plain tensors). */
  CHECK(prism_linspace(-1.0, 1.0, POINTS, PRISM_DTYPE_F32, device, &x));
  CHECK(prism_scalar(2.0, PRISM_DTYPE_F32, device, &two));
  CHECK(prism_scalar(1.0, PRISM_DTYPE_F32, device, &one));
  CHECK(prism_mul(x, two, &x2));
  CHECK(prism_add(x2, one, 1.0, &y));

  /* Parameters: 0-d leaves that require grad, starting at 0. */
  CHECK(prism_scalar(0.0, PRISM_DTYPE_F32, device, &w));
  CHECK(prism_scalar(0.0, PRISM_DTYPE_F32, device, &b));
  CHECK(prism_tensor_set_requires_grad(w, 1));
  CHECK(prism_tensor_set_requires_grad(b, 1));

  printf("fitting y = 2x + 1 on %s: %d points, %d steps, lr %g\n", device, POINTS, STEPS, LR);
  for (step = 1; step <= STEPS; ++step) {
    prism_tensor_t wx = NULL, pred = NULL, diff = NULL, sq = NULL, loss = NULL;
    CHECK(prism_mul(x, w, &wx));              /* (20) */
    CHECK(prism_add(wx, b, 1.0, &pred));      /* (20) */
    CHECK(prism_sub(pred, y, 1.0, &diff));    /* (20) */
    CHECK(prism_mul(diff, diff, &sq));        /* (20) */
    CHECK(prism_mean(sq, NULL, 0, 0, &loss)); /* () */
    if (step == 1) printf("  graph: loss <- %s\n", prism_tensor_grad_fn_name(loss));

    CHECK(prism_backward(loss, NULL, 0));

    CHECK(prism_no_grad_enter());
    sgd_update(w, LR);
    sgd_update(b, LR);
    CHECK(prism_no_grad_exit());

    if (step == 1 || step % 20 == 0)
      printf("  step %3d  loss %.3e  w %.6f  b %.6f\n", step, value_of(loss), value_of(w), value_of(b));
    prism_tensor_release(wx);
    prism_tensor_release(pred);
    prism_tensor_release(diff);
    prism_tensor_release(sq);
    prism_tensor_release(loss);
  }

  wv = value_of(w);
  bv = value_of(b);
  printf("learned w = %.6f (want 2), b = %.6f (want 1)\n", wv, bv);

  prism_tensor_release(x);
  prism_tensor_release(two);
  prism_tensor_release(one);
  prism_tensor_release(x2);
  prism_tensor_release(y);
  prism_tensor_release(w);
  prism_tensor_release(b);

  if (!(fabs(wv - 2.0) <= TOL && fabs(bv - 1.0) <= TOL)) {
    fprintf(stderr, "the fit is off by more than %g\n", TOL);
    return 1;
  }
  return 0;
}
