/* sdk_c99_check.c — compiles the SDK headers as strict C99; exposes a few results to the C++ tests. */
#include "prism_philox.h"
#include "prism_plugin_sdk.h"

/* Philox4x32-10 of counter {0,0,0,0}, key {0,0}, computed by C code. */
void prism_cpu_test_c99_philox_zero(uint32_t out[4]) {
  prism_philox4x32 ctr;
  prism_philox4x32 r;
  int i;
  for (i = 0; i < 4; ++i) ctr.v[i] = 0;
  r = prism_philox4x32_10(ctr, 0u, 0u);
  for (i = 0; i < 4; ++i) out[i] = r.v[i];
}

/* One standard normal as C computes it (to compare with the C++ build). */
double prism_cpu_test_c99_normal(uint64_t seed, uint64_t offset, uint64_t index) {
  return prism_philox_normal_f64(prism_philox_element(seed, offset, index));
}

size_t prism_cpu_test_c99_dtype_size(int32_t dtype) {
  return prism_sdk_dtype_size(dtype);
}
