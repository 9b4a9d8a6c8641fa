/* template_plugin.c — a minimal Prism device plugin to copy (host memory, f32 kernels). */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prism/plugin.h"
#include "prism/sdk/prism_plugin_sdk.h"

/*
 * Note [Template plugin]
 * ----------------------
 * Rename "template" everywhere, replace the memory functions with your
 * device's allocator and copies, and add kernels for the ops of docs/ops.md
 * your device runs; every op you leave out still works through the core's
 * CPU fallback. Run `prism-conformance --plugin libprism-<name>.so` until it
 * passes. The rules: export only prism_plugin_entry, never link libprism,
 * make every error with host->error_create, never let a crash, exception or
 * longjmp cross the boundary.
 */

static const prism_host_table* g_host = NULL;

static prism_plugin_error* tp_init(void** ctx) {
  *ctx = NULL; /* this device needs no state */
  return NULL;
}
static void tp_shutdown(void* ctx) {
  (void)ctx;
}

static prism_plugin_error* tp_device_count(void* ctx, int32_t* count, const char** reason) {
  (void)ctx;
  *count = 1;
  if (reason != NULL) *reason = NULL;
  return NULL;
}

static prism_plugin_error* tp_check_device(int32_t device) {
  if (device == 0) return NULL;
  return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "template: no device %d", (int)device);
}

static prism_plugin_error* tp_device_props(void* ctx, int32_t device, prism_device_props* props) {
  prism_plugin_error* err = tp_check_device(device);
  (void)ctx;
  if (err != NULL) return err;
  /* write only the fields the caller's struct has room for */
  /* f32 kernels, and bool storage (no bool kernels): autograd's backward
   * formulas keep bool masks on the device, the ops on them fall back */
  prism_sdk_device_props_set(props, "template host device", "you", "template-0", 0,
                             PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL),
                             PRISM_DEVICE_CAP_HOST_MEMORY);
  return NULL;
}

static prism_plugin_error* tp_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  void* p = NULL;
  prism_plugin_error* err = tp_check_device(device);
  (void)ctx;
  if (err != NULL) return err;
  *buffer = NULL;
  if (bytes > ((size_t)1 << 40) || posix_memalign(&p, 64, bytes == 0 ? 64 : bytes) != 0)
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "template: cannot allocate %lu bytes",
                           (unsigned long)bytes);
  *buffer = p;
  return NULL;
}

static void tp_free(void* ctx, int32_t device, void* buffer) {
  (void)ctx;
  (void)device;
  free(buffer);
}

static prism_plugin_error* tp_copy_from_host(void* ctx, int32_t device, prism_stream_t stream,
                                             const void* src, void* dst, uint64_t dst_byte_offset,
                                             size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes > 0) memcpy((char*)dst + dst_byte_offset, src, bytes);
  return tp_check_device(device);
}

static prism_plugin_error* tp_copy_to_host(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                           uint64_t src_byte_offset, void* dst, size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes > 0) memcpy(dst, (const char*)src + src_byte_offset, bytes);
  return tp_check_device(device);
}

static prism_plugin_error* tp_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  (void)ctx;
  (void)stream;
  return tp_check_device(device);
}

/* The f32 element at row-major linear index i of a strided view. */
static float* tp_at(const prism_tensor_desc* d, int64_t i) {
  int64_t off = 0;
  int32_t k;
  for (k = d->ndim - 1; k >= 0; --k) {
    off += (i % d->sizes[k]) * d->strides[k];
    i /= d->sizes[k];
  }
  return (float*)((char*)d->buffer + d->byte_offset) + off;
}

/* fill: out = value */
static prism_plugin_error* tp_fill(void* ctx, const prism_kernel_call* call) {
  const prism_attr* value = NULL;
  int64_t i, n;
  prism_plugin_error* err = prism_sdk_attr_require(g_host, call, "value", PRISM_ATTR_SCALAR, &value);
  (void)ctx;
  if (err != NULL) return err;
  n = prism_sdk_desc_numel(&call->outputs[0]);
  for (i = 0; i < n; ++i) *tp_at(&call->outputs[0], i) = (float)prism_sdk_attr_as_float(value);
  return NULL;
}

/* The byte of the bool element at row-major linear index i of a strided view. */
static const unsigned char* tp_at_bool(const prism_tensor_desc* d, int64_t i) {
  int64_t off = 0;
  int32_t k;
  for (k = d->ndim - 1; k >= 0; --k) {
    off += (i % d->sizes[k]) * d->strides[k];
    i /= d->sizes[k];
  }
  return (const unsigned char*)d->buffer + d->byte_offset + off;
}

/* copy to f32 (any strides) from every dtype the device stores (f32, bool):
 * out = x; the key dtype of copy is the output's, the input may be any */
static prism_plugin_error* tp_copy(void* ctx, const prism_kernel_call* call) {
  int64_t i, n = prism_sdk_desc_numel(&call->outputs[0]);
  const int from_bool = call->inputs[0].dtype == PRISM_DTYPE_BOOL;
  (void)ctx;
  for (i = 0; i < n; ++i)
    *tp_at(&call->outputs[0], i) =
        from_bool ? (*tp_at_bool(&call->inputs[0], i) != 0 ? 1.0f : 0.0f) : *tp_at(&call->inputs[0], i);
  return NULL;
}

/* add: out = a + alpha * b; mul: out = a * b (inputs already broadcast) */
static prism_plugin_error* tp_binary(void* ctx, const prism_kernel_call* call) {
  const int is_add = prism_sdk_str_eq(call->op, "add");
  const float alpha = (float)prism_sdk_attr_float(call, "alpha", 1.0);
  int64_t i, n = prism_sdk_desc_numel(&call->outputs[0]);
  (void)ctx;
  for (i = 0; i < n; ++i) {
    const float a = *tp_at(&call->inputs[0], i), b = *tp_at(&call->inputs[1], i);
    *tp_at(&call->outputs[0], i) = is_add ? a + alpha * b : a * b;
  }
  return NULL;
}

#define TP_F32 PRISM_DTYPE_BIT(PRISM_DTYPE_F32)
static const prism_kernel_def g_kernels[] = {
    {sizeof(prism_kernel_def), "fill", TP_F32, NULL, tp_fill},
    {sizeof(prism_kernel_def), "copy", TP_F32, NULL, tp_copy},
    {sizeof(prism_kernel_def), "add", TP_F32, NULL, tp_binary},
    {sizeof(prism_kernel_def), "mul", TP_F32, NULL, tp_binary},
};

static const prism_plugin_table g_table = {
    sizeof(prism_plugin_table),
    PRISM_PLUGIN_ABI_MAJOR,
    PRISM_PLUGIN_ABI_MINOR,
    "template",
    "template",
    "0.1.0",
    tp_init,
    tp_shutdown,
    tp_device_count,
    tp_device_props,
    tp_alloc,
    tp_free,
    tp_copy_from_host,
    tp_copy_to_host,
    tp_synchronize,
    g_kernels,
    sizeof g_kernels / sizeof g_kernels[0],
    sizeof(prism_kernel_def),
    NULL,
    NULL,
    NULL,
    NULL,
    NULL, /* no events: a synchronous device */
    NULL,
    NULL, /* ABI 1.1: no pinned host memory (host_alloc, host_free) */
    NULL,
    NULL, /* ABI 1.2: no user streams (stream_create, stream_destroy) */
    NULL,
    NULL, /* ABI 1.2: no event_query, event_elapsed_ms */
};

PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(const prism_host_table* host,
                                                           const prism_plugin_table** table) {
  return prism_sdk_entry(host, table, "template", &g_host, &g_table);
}
