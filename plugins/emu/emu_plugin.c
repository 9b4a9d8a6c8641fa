/* emu_plugin.c — libprism-emu.so: an emulated device whose memory the host cannot touch. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prism/plugin.h"
#include "prism_philox.h"
#include "prism_plugin_sdk.h"

/*
 * Note [Emulated device]
 * ----------------------
 * The worked example of a third-party plugin: it includes only the plugin ABI
 * (prism/plugin.h) and the header-only SDK, links nothing of Prism, and
 * exports only prism_plugin_entry.
 *
 * Device memory is a private anonymous mapping per buffer, kept PROT_NONE at
 * all times except inside this plugin's own copy and kernel calls, which
 * open the buffers they touch (PROT_READ|PROT_WRITE) under the device lock
 * and close them again before returning. Any code outside the plugin that
 * dereferences a buffer handle — the core reading "device" memory as if it
 * were host memory — gets SIGSEGV at once. That is what makes emu the CI
 * stand-in for a real GPU (after PyTorch's OpenReg).
 *
 * The device stores every dtype and implements the required slots plus the
 * kernels fill and copy (every dtype pair), add/sub/mul, sum and
 * philox_uniform (f32). Every other op reaches emu through the core's CPU
 * fallback (docs/ops.md), which only ever moves data with copy_to_host /
 * copy_from_host and the copy kernel; `prism-conformance --mode support`
 * lists those fallbacks.
 *
 * The device is synchronous: kernels and copies complete before returning,
 * so synchronize has nothing to wait for and there are no event slots.
 */

#define EMU_NAME "emu"

static const prism_host_table* g_host = NULL;

/* ===========================================================================
 * Buffers: one mapping each, found by address (Note [Emulated device])
 * ======================================================================== */

typedef struct emu_region {
  char* base;
  size_t bytes; /* mapped length (a whole number of pages) */
} emu_region;

typedef struct emu_ctx {
  pthread_mutex_t lock; /* the device: one call at a time */
  emu_region* regions;
  size_t n_regions, cap_regions;
  size_t page;
  int64_t live_buffers;
} emu_ctx;

static prism_plugin_error* emu_error(prism_status code, const char* msg) {
  return g_host->error_create(code, msg);
}

static emu_region* emu_find(emu_ctx* c, const void* handle) {
  size_t i;
  for (i = 0; i < c->n_regions; ++i)
    if (c->regions[i].base == (const char*)handle) return &c->regions[i];
  return NULL;
}

/* Opens (prot = RW) or closes (prot = NONE) the mapping of `handle`. */
static int emu_protect(emu_ctx* c, const void* handle, int prot) {
  emu_region* r = emu_find(c, handle);
  if (r == NULL) return -1;
  return mprotect(r->base, r->bytes, prot);
}

/* ===========================================================================
 * Lifecycle and devices
 * ======================================================================== */

static prism_plugin_error* emu_init(void** ctx) {
  emu_ctx* c = (emu_ctx*)calloc(1, sizeof(emu_ctx));
  long page = sysconf(_SC_PAGESIZE);
  if (c == NULL) return emu_error(PRISM_ERROR_OUT_OF_MEMORY, "emu: cannot allocate the context");
  pthread_mutex_init(&c->lock, NULL);
  c->page = page > 0 ? (size_t)page : 4096u;
  *ctx = c;
  return NULL;
}

static void emu_shutdown(void* ctx) {
  emu_ctx* c = (emu_ctx*)ctx;
  size_t i;
  if (c == NULL) return;
  for (i = 0; i < c->n_regions; ++i) munmap(c->regions[i].base, c->regions[i].bytes);
  free(c->regions);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

static prism_plugin_error* emu_device_count(void* ctx, int32_t* count, const char** reason) {
  (void)ctx;
  *count = 1;
  if (reason != NULL) *reason = NULL;
  return NULL;
}

static prism_plugin_error* emu_check_device(int32_t device) {
  if (device != 0) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "emu: no device %d (emu has one device)",
                           (int)device);
  }
  return NULL;
}

static prism_plugin_error* emu_device_props(void* ctx, int32_t device, prism_device_props* props) {
  prism_plugin_error* err = emu_check_device(device);
  (void)ctx;
  if (err != NULL) return err;
  prism_sdk_device_props_set(props, "Prism emulated device (PROT_NONE memory)", "Prism", "emu-0",
                             (uint64_t)1 << 32, PRISM_DTYPE_MASK_ALL,
                             PRISM_DEVICE_CAP_FP64 | PRISM_DEVICE_CAP_FP16);
  return NULL;
}

/* ===========================================================================
 * Memory
 * ======================================================================== */

#define EMU_MAX_BYTES ((size_t)1 << 40) /* refuse absurd requests up front */

static prism_plugin_error* emu_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err = emu_check_device(device);
  size_t len;
  void* p;
  if (err != NULL) return err;
  *buffer = NULL;
  if (bytes > EMU_MAX_BYTES) {
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "emu: cannot allocate %lu bytes (limit %lu)",
                           (unsigned long)bytes, (unsigned long)EMU_MAX_BYTES);
  }
  len = bytes == 0 ? c->page : (bytes + c->page - 1) / c->page * c->page;
  p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return prism_sdk_error(g_host, PRISM_ERROR_OUT_OF_MEMORY, "emu: mmap of %lu bytes failed: %s",
                           (unsigned long)len, strerror(errno));
  }
  pthread_mutex_lock(&c->lock);
  if (c->n_regions == c->cap_regions) {
    size_t cap = c->cap_regions ? 2 * c->cap_regions : 64;
    emu_region* grown = (emu_region*)realloc(c->regions, cap * sizeof(emu_region));
    if (grown == NULL) {
      pthread_mutex_unlock(&c->lock);
      munmap(p, len);
      return emu_error(PRISM_ERROR_OUT_OF_MEMORY, "emu: out of host memory for the buffer table");
    }
    c->regions = grown;
    c->cap_regions = cap;
  }
  c->regions[c->n_regions].base = (char*)p;
  c->regions[c->n_regions].bytes = len;
  ++c->n_regions;
  ++c->live_buffers;
  pthread_mutex_unlock(&c->lock);
  *buffer = p;
  return NULL;
}

static void emu_free(void* ctx, int32_t device, void* buffer) {
  emu_ctx* c = (emu_ctx*)ctx;
  emu_region* r;
  (void)device;
  if (buffer == NULL) return;
  pthread_mutex_lock(&c->lock);
  r = emu_find(c, buffer);
  if (r != NULL) {
    munmap(r->base, r->bytes);
    *r = c->regions[c->n_regions - 1];
    --c->n_regions;
    --c->live_buffers;
  }
  pthread_mutex_unlock(&c->lock);
}

/* Checks that [offset, offset + bytes) lies inside the buffer. */
static prism_plugin_error* emu_check_range(emu_ctx* c, const void* handle, uint64_t offset, size_t bytes,
                                           const char* what) {
  emu_region* r = emu_find(c, handle);
  if (r == NULL)
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "emu: %s: unknown buffer", what);
  if (offset > r->bytes || bytes > r->bytes - offset) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                           "emu: %s: %lu bytes at offset %lu exceed the buffer (%lu bytes)", what,
                           (unsigned long)bytes, (unsigned long)offset, (unsigned long)r->bytes);
  }
  return NULL;
}

/* Pinned host memory (ABI 1.1): the emulated device copies from any host
 * memory directly, so a "pinned" block is ordinary 64-byte-aligned host
 * memory. */
static prism_plugin_error* emu_host_alloc(void* ctx, int32_t device, size_t bytes, void** ptr) {
  prism_plugin_error* err = emu_check_device(device);
  void* p = NULL;
  (void)ctx;
  if (err != NULL) return err;
  *ptr = NULL;
  if (bytes == 0 || bytes > EMU_MAX_BYTES || posix_memalign(&p, 64, bytes) != 0) {
    return prism_sdk_error(g_host, bytes == 0 ? PRISM_ERROR_INVALID_ARGUMENT : PRISM_ERROR_OUT_OF_MEMORY,
                           "emu: cannot allocate %lu bytes of pinned host memory", (unsigned long)bytes);
  }
  *ptr = p;
  return NULL;
}

static void emu_host_free(void* ctx, int32_t device, void* ptr) {
  (void)ctx;
  (void)device;
  free(ptr); /* free(NULL) is a no-op */
}

static prism_plugin_error* emu_copy_from_host(void* ctx, int32_t device, prism_stream_t stream,
                                              const void* src, void* dst_buffer, uint64_t dst_byte_offset,
                                              size_t bytes) {
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err = emu_check_device(device);
  (void)stream;
  if (err != NULL || bytes == 0) return err;
  pthread_mutex_lock(&c->lock);
  err = emu_check_range(c, dst_buffer, dst_byte_offset, bytes, "copy_from_host");
  if (err == NULL) {
    emu_protect(c, dst_buffer, PROT_READ | PROT_WRITE);
    memcpy((char*)dst_buffer + dst_byte_offset, src, bytes);
    emu_protect(c, dst_buffer, PROT_NONE);
  }
  pthread_mutex_unlock(&c->lock);
  return err;
}

static prism_plugin_error* emu_copy_to_host(void* ctx, int32_t device, prism_stream_t stream,
                                            const void* src_buffer, uint64_t src_byte_offset, void* dst,
                                            size_t bytes) {
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err = emu_check_device(device);
  (void)stream;
  if (err != NULL || bytes == 0) return err;
  pthread_mutex_lock(&c->lock);
  err = emu_check_range(c, src_buffer, src_byte_offset, bytes, "copy_to_host");
  if (err == NULL) {
    emu_protect(c, src_buffer, PROT_READ);
    memcpy(dst, (const char*)src_buffer + src_byte_offset, bytes);
    emu_protect(c, src_buffer, PROT_NONE);
  }
  pthread_mutex_unlock(&c->lock);
  return err;
}

static prism_plugin_error* emu_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  (void)ctx;
  (void)stream;
  return emu_check_device(device); /* synchronous device: nothing is ever pending */
}

/* ===========================================================================
 * Strided element access
 * ======================================================================== */

/* Byte address of the element at row-major linear index `i` of `d`. */
static char* emu_at(const prism_tensor_desc* d, int64_t i) {
  int64_t off = 0;
  int32_t k;
  for (k = d->ndim - 1; k >= 0; --k) {
    off += (i % d->sizes[k]) * d->strides[k];
    i /= d->sizes[k];
  }
  return (char*)d->buffer + d->byte_offset + off * (int64_t)prism_sdk_dtype_size(d->dtype);
}

static double emu_load_f(int32_t dt, const char* p) {
  switch (dt) {
    case PRISM_DTYPE_BOOL:
      return *(const uint8_t*)p != 0;
    case PRISM_DTYPE_U8:
      return *(const uint8_t*)p;
    case PRISM_DTYPE_I8:
      return *(const int8_t*)p;
    case PRISM_DTYPE_I16:
      return *(const int16_t*)p;
    case PRISM_DTYPE_I32:
      return *(const int32_t*)p;
    case PRISM_DTYPE_I64:
      return (double)*(const int64_t*)p;
    case PRISM_DTYPE_F16:
      return prism_sdk_f16_to_f32(*(const uint16_t*)p);
    case PRISM_DTYPE_BF16:
      return prism_sdk_bf16_to_f32(*(const uint16_t*)p);
    case PRISM_DTYPE_F32:
      return *(const float*)p;
    default:
      return *(const double*)p;
  }
}

static int64_t emu_load_i(int32_t dt, const char* p) {
  double v;
  switch (dt) {
    case PRISM_DTYPE_BOOL:
      return *(const uint8_t*)p != 0;
    case PRISM_DTYPE_U8:
      return *(const uint8_t*)p;
    case PRISM_DTYPE_I8:
      return *(const int8_t*)p;
    case PRISM_DTYPE_I16:
      return *(const int16_t*)p;
    case PRISM_DTYPE_I32:
      return *(const int32_t*)p;
    case PRISM_DTYPE_I64:
      return *(const int64_t*)p;
    default:
      break;
  }
  /* float -> integer: truncate toward zero, saturate to i64, NaN -> 0 (docs/ops.md) */
  v = emu_load_f(dt, p);
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

static void emu_store_i(int32_t dt, char* p, int64_t v) {
  switch (dt) {
    case PRISM_DTYPE_BOOL:
      *(uint8_t*)p = v != 0;
      break;
    case PRISM_DTYPE_U8:
      *(uint8_t*)p = (uint8_t)v;
      break;
    case PRISM_DTYPE_I8:
      *(int8_t*)p = (int8_t)(uint8_t)v;
      break;
    case PRISM_DTYPE_I16:
      *(int16_t*)p = (int16_t)(uint16_t)v;
      break;
    case PRISM_DTYPE_I32:
      *(int32_t*)p = (int32_t)(uint32_t)v;
      break;
    case PRISM_DTYPE_I64:
      *(int64_t*)p = v;
      break;
    case PRISM_DTYPE_F16:
      *(uint16_t*)p = prism_sdk_f32_to_f16((float)v);
      break;
    case PRISM_DTYPE_BF16:
      *(uint16_t*)p = prism_sdk_f32_to_bf16((float)v);
      break;
    case PRISM_DTYPE_F32:
      *(float*)p = (float)v;
      break;
    default:
      *(double*)p = (double)v;
      break;
  }
}

static void emu_store_f(int32_t dt, char* p, double v) {
  switch (dt) {
    case PRISM_DTYPE_F16:
      *(uint16_t*)p = prism_sdk_f32_to_f16((float)v);
      break;
    case PRISM_DTYPE_BF16:
      *(uint16_t*)p = prism_sdk_f32_to_bf16((float)v);
      break;
    case PRISM_DTYPE_F32:
      *(float*)p = (float)v;
      break;
    case PRISM_DTYPE_F64:
      *(double*)p = v;
      break;
    case PRISM_DTYPE_BOOL:
      *(uint8_t*)p = v != 0;
      break;
    default:
      break;
  }
}

/* ===========================================================================
 * Kernel plumbing: open every buffer of the call, run, close them again
 * ======================================================================== */

typedef prism_plugin_error* (*emu_body_fn)(const prism_kernel_call* call);

static prism_plugin_error* emu_run_opened(void* ctx, const prism_kernel_call* call, emu_body_fn body) {
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err = emu_check_device(call->device);
  size_t i;
  if (err != NULL) return err;
  pthread_mutex_lock(&c->lock);
  for (i = 0; i < call->n_inputs && err == NULL; ++i) {
    if (emu_protect(c, call->inputs[i].buffer, PROT_READ | PROT_WRITE) != 0)
      err = prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "emu: %s: input %lu is not an emu buffer",
                            call->op, (unsigned long)i);
  }
  for (i = 0; i < call->n_outputs && err == NULL; ++i) {
    if (emu_protect(c, call->outputs[i].buffer, PROT_READ | PROT_WRITE) != 0)
      err = prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "emu: %s: output %lu is not an emu buffer",
                            call->op, (unsigned long)i);
  }
  if (err == NULL) err = body(call);
  for (i = 0; i < call->n_inputs; ++i) emu_protect(c, call->inputs[i].buffer, PROT_NONE);
  for (i = 0; i < call->n_outputs; ++i) emu_protect(c, call->outputs[i].buffer, PROT_NONE);
  pthread_mutex_unlock(&c->lock);
  return err;
}

static prism_plugin_error* emu_arity(const prism_kernel_call* call, size_t n_in, size_t n_out) {
  if (call->n_inputs != n_in || call->n_outputs != n_out) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                           "emu: %s takes %lu inputs and %lu outputs, got %lu/%lu", call->op,
                           (unsigned long)n_in, (unsigned long)n_out, (unsigned long)call->n_inputs,
                           (unsigned long)call->n_outputs);
  }
  return NULL;
}

/* ===========================================================================
 * Kernels
 * ======================================================================== */

/* fill: out = value (SCALAR), every dtype. */
static prism_plugin_error* emu_fill_body(const prism_kernel_call* call) {
  const prism_tensor_desc* out = &call->outputs[0];
  const prism_attr* value = NULL;
  int64_t i, n;
  prism_plugin_error* err = emu_arity(call, 0, 1);
  if (err == NULL) err = prism_sdk_attr_require(g_host, call, "value", PRISM_ATTR_SCALAR, &value);
  if (err != NULL) return err;
  n = prism_sdk_desc_numel(out);
  for (i = 0; i < n; ++i) {
    if (prism_sdk_dtype_is_float(out->dtype))
      emu_store_f(out->dtype, emu_at(out, i), prism_sdk_attr_as_float(value));
    else
      emu_store_i(out->dtype, emu_at(out, i), prism_sdk_attr_as_int(value));
  }
  return NULL;
}

/* copy: out (dtype B) = x (dtype A), every pair; float -> int truncates. */
static prism_plugin_error* emu_copy_body(const prism_kernel_call* call) {
  const prism_tensor_desc* x;
  const prism_tensor_desc* out;
  int64_t i, n;
  prism_plugin_error* err = emu_arity(call, 1, 1);
  if (err != NULL) return err;
  x = &call->inputs[0];
  out = &call->outputs[0];
  n = prism_sdk_desc_numel(out);
  for (i = 0; i < n; ++i) {
    const char* s = emu_at(x, i);
    char* d = emu_at(out, i);
    if (out->dtype == PRISM_DTYPE_BOOL) {
      *(uint8_t*)d =
          prism_sdk_dtype_is_float(x->dtype) ? emu_load_f(x->dtype, s) != 0 : emu_load_i(x->dtype, s) != 0;
    } else if (prism_sdk_dtype_is_float(out->dtype) && prism_sdk_dtype_is_float(x->dtype)) {
      emu_store_f(out->dtype, d, emu_load_f(x->dtype, s));
    } else {
      emu_store_i(out->dtype, d, emu_load_i(x->dtype, s));
    }
  }
  return NULL;
}

/* add / sub / mul, f32: out = a (+|-) alpha·b, or a·b. */
static prism_plugin_error* emu_binary_body(const prism_kernel_call* call) {
  const prism_tensor_desc *a, *b, *out;
  int64_t i, n;
  float alpha = (float)prism_sdk_attr_float(call, "alpha", 1.0);
  int op = prism_sdk_str_eq(call->op, "add") ? 0 : prism_sdk_str_eq(call->op, "sub") ? 1 : 2;
  prism_plugin_error* err = emu_arity(call, 2, 1);
  if (err != NULL) return err;
  a = &call->inputs[0];
  b = &call->inputs[1];
  out = &call->outputs[0];
  n = prism_sdk_desc_numel(out);
  for (i = 0; i < n; ++i) {
    const float x = *(const float*)emu_at(a, i);
    const float y = *(const float*)emu_at(b, i);
    float r;
    if (op == 0)
      r = alpha == 1.0f ? x + y : x + alpha * y;
    else if (op == 1)
      r = alpha == 1.0f ? x - y : x - alpha * y;
    else
      r = x * y;
    *(float*)emu_at(out, i) = r;
  }
  return NULL;
}

/* sum, f32: reduces every dim whose output size is 1 (keepdim layout),
 * accumulating in double. out: same ndim as x. */
static prism_plugin_error* emu_sum_body(const prism_kernel_call* call) {
  const prism_tensor_desc *x, *out;
  int64_t i, n_in, n_out;
  double* acc;
  prism_plugin_error* err = emu_arity(call, 1, 1);
  if (err != NULL) return err;
  x = &call->inputs[0];
  out = &call->outputs[0];
  if (x->ndim != out->ndim) {
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                           "emu: sum: output ndim %d differs from input ndim %d", (int)out->ndim,
                           (int)x->ndim);
  }
  n_in = prism_sdk_desc_numel(x);
  n_out = prism_sdk_desc_numel(out);
  acc = (double*)calloc(n_out > 0 ? (size_t)n_out : 1u, sizeof(double));
  if (acc == NULL) return emu_error(PRISM_ERROR_OUT_OF_MEMORY, "emu: sum: out of host memory");
  for (i = 0; i < n_in; ++i) {
    /* output linear index: the input index with the reduced dims zeroed */
    int64_t rest = i, o = 0, mul = 1;
    int32_t k;
    for (k = x->ndim - 1; k >= 0; --k) {
      const int64_t idx = rest % x->sizes[k];
      rest /= x->sizes[k];
      if (out->sizes[k] != 1) o += idx * mul;
      mul *= out->sizes[k];
    }
    acc[o] += *(const float*)emu_at(x, i);
  }
  for (i = 0; i < n_out; ++i) *(float*)emu_at(out, i) = (float)acc[i];
  free(acc);
  return NULL;
}

/* philox_uniform, f32 (Note [Philox streams]). */
static prism_plugin_error* emu_uniform_body(const prism_kernel_call* call) {
  const prism_tensor_desc* out = &call->outputs[0];
  const prism_attr *seed = NULL, *offset = NULL;
  float lo, span;
  int64_t i, n;
  prism_plugin_error* err = emu_arity(call, 0, 1);
  if (err == NULL) err = prism_sdk_attr_require(g_host, call, "seed", PRISM_ATTR_INT, &seed);
  if (err == NULL) err = prism_sdk_attr_require(g_host, call, "offset", PRISM_ATTR_INT, &offset);
  if (err != NULL) return err;
  lo = (float)prism_sdk_attr_float(call, "low", 0.0);
  span = (float)prism_sdk_attr_float(call, "high", 1.0) - lo;
  n = prism_sdk_desc_numel(out);
  for (i = 0; i < n; ++i) {
    const prism_philox4x32 r = prism_philox_element((uint64_t)prism_sdk_attr_as_int(seed),
                                                    (uint64_t)prism_sdk_attr_as_int(offset), (uint64_t)i);
    const float u = prism_philox_uniform_f32(r.v[0]);
    const float scaled = span * u;
    *(float*)emu_at(out, i) = lo + scaled;
  }
  return NULL;
}

static prism_plugin_error* emu_fill(void* ctx, const prism_kernel_call* c) {
  return emu_run_opened(ctx, c, emu_fill_body);
}
static prism_plugin_error* emu_copy(void* ctx, const prism_kernel_call* c) {
  return emu_run_opened(ctx, c, emu_copy_body);
}
static prism_plugin_error* emu_binary(void* ctx, const prism_kernel_call* c) {
  return emu_run_opened(ctx, c, emu_binary_body);
}
static prism_plugin_error* emu_sum(void* ctx, const prism_kernel_call* c) {
  return emu_run_opened(ctx, c, emu_sum_body);
}
static prism_plugin_error* emu_uniform(void* ctx, const prism_kernel_call* c) {
  return emu_run_opened(ctx, c, emu_uniform_body);
}

#define EMU_F32 PRISM_DTYPE_BIT(PRISM_DTYPE_F32)

static const prism_kernel_def g_kernels[] = {
    {sizeof(prism_kernel_def), "fill", PRISM_DTYPE_MASK_ALL, NULL, emu_fill},
    {sizeof(prism_kernel_def), "copy", PRISM_DTYPE_MASK_ALL, NULL, emu_copy},
    {sizeof(prism_kernel_def), "add", EMU_F32, NULL, emu_binary},
    {sizeof(prism_kernel_def), "sub", EMU_F32, NULL, emu_binary},
    {sizeof(prism_kernel_def), "mul", EMU_F32, NULL, emu_binary},
    {sizeof(prism_kernel_def), "sum", EMU_F32, NULL, emu_sum},
    {sizeof(prism_kernel_def), "philox_uniform", EMU_F32, NULL, emu_uniform},
};

/* ===========================================================================
 * The table and the entry point
 * ======================================================================== */

static const prism_plugin_table g_table = {
    sizeof(prism_plugin_table),
    PRISM_PLUGIN_ABI_MAJOR,
    PRISM_PLUGIN_ABI_MINOR,
    EMU_NAME,
    "emu",
    "0.1.0",
    emu_init,
    emu_shutdown,
    emu_device_count,
    emu_device_props,
    emu_alloc,
    emu_free,
    emu_copy_from_host,
    emu_copy_to_host,
    emu_synchronize,
    g_kernels,
    sizeof g_kernels / sizeof g_kernels[0],
    sizeof(prism_kernel_def),
    NULL, /* events: none (synchronous device) */
    NULL,
    NULL,
    NULL,
    NULL,
    emu_host_alloc,
    emu_host_free,
};

PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(const prism_host_table* host,
                                                           const prism_plugin_table** table) {
  return prism_sdk_entry(host, table, EMU_NAME, &g_host, &g_table);
}
