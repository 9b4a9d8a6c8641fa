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

/* Note [SDK table set-up] in C99: a table filled by prism_sdk_table_init and
 * the slot macros, handed out by prism_sdk_entry. */
static prism_plugin_error* c99_init(void** ctx) {
  *ctx = NULL;
  return NULL;
}
static void c99_shutdown(void* ctx) {
  (void)ctx;
}
static prism_plugin_error* c99_device_count(void* ctx, int32_t* n, const char** reason) {
  (void)ctx;
  *n = 0;
  if (reason != NULL) *reason = "none";
  return NULL;
}
static prism_plugin_error* c99_device_props(void* ctx, int32_t device, prism_device_props* props) {
  (void)ctx;
  (void)device;
  prism_sdk_device_props_set(props, "c99", "sdk", "c99-0", 1024u, PRISM_DTYPE_BIT(PRISM_DTYPE_F32),
                             PRISM_DEVICE_CAP_HOST_MEMORY);
  return NULL;
}
static prism_plugin_error* c99_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  (void)ctx;
  (void)device;
  (void)bytes;
  *buffer = NULL;
  return NULL;
}
static void c99_free(void* ctx, int32_t device, void* buffer) {
  (void)ctx;
  (void)device;
  (void)buffer;
}
static prism_plugin_error* c99_copy_from_host(void* ctx, int32_t device, prism_stream_t s, const void* src,
                                              void* dst, uint64_t off, size_t bytes) {
  (void)ctx;
  (void)device;
  (void)s;
  (void)src;
  (void)dst;
  (void)off;
  (void)bytes;
  return NULL;
}
static prism_plugin_error* c99_copy_to_host(void* ctx, int32_t device, prism_stream_t s, const void* src,
                                            uint64_t off, void* dst, size_t bytes) {
  (void)ctx;
  (void)device;
  (void)s;
  (void)src;
  (void)dst;
  (void)off;
  (void)bytes;
  return NULL;
}
static prism_plugin_error* c99_synchronize(void* ctx, int32_t device, prism_stream_t s) {
  (void)ctx;
  (void)device;
  (void)s;
  return NULL;
}
static prism_plugin_table g_c99_table;
static const prism_host_table* g_c99_host = NULL;

/* prism_sdk_entry over a table built with the SDK; *out_host: what the entry stored. */
prism_plugin_error* prism_cpu_test_c99_entry(const prism_host_table* host, const prism_plugin_table** table,
                                             const prism_host_table** out_host) {
  prism_plugin_error* err;
  prism_plugin_table* t = prism_sdk_table_init(&g_c99_table, "c99", "9.9", NULL, 0);
  PRISM_SDK_TABLE_REQUIRED_SLOTS(t, c99);
  g_c99_host = NULL;
  err = prism_sdk_entry(host, table, "c99", &g_c99_host, t);
  *out_host = g_c99_host;
  return err;
}
