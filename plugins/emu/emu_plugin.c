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
 * By default the device is synchronous: kernels and copies complete before
 * returning, so synchronize has nothing to wait for and there are no event
 * slots. Note [Emulated asynchrony]: with PRISM_EMU_ASYNC=1 a worker thread
 * runs kernels and host-to-device copies in submission order after the call
 * returned (each after PRISM_EMU_ASYNC_DELAY_US microseconds, default 200),
 * as a GPU stream does; copy_to_host, synchronize and free wait for the
 * queue, and an error of queued work is returned by the next synchronize
 * or copy_to_host. Arguments are checked before a call returns, so bad
 * calls still fail at once. Asynchrony bugs of a plugin (a read that does
 * not wait, a kernel that reads a buffer before its upload landed) can so be
 * planted in, and caught by the conformance suite on, a plugin CI runs.
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

struct emu_job;

typedef struct emu_ctx {
  pthread_mutex_t lock; /* the device: one call at a time */
  emu_region* regions;
  size_t n_regions, cap_regions;
  size_t page;
  int64_t live_buffers;
  /* Note [Emulated asynchrony] */
  int async;
  unsigned delay_us;
  pthread_t worker;
  pthread_mutex_t qlock;
  pthread_cond_t qwork, qdone;
  struct emu_job *head, *tail;
  int64_t pending;
  int stop;
  prism_plugin_error* sticky; /* first error of queued work, not yet returned */
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

static void* emu_worker_main(void* arg);
static void emu_wait_idle(emu_ctx* c);
static prism_plugin_error* emu_drain(emu_ctx* c);
static prism_plugin_error* emu_enqueue_upload(emu_ctx* c, const void* src, void* dst, uint64_t offset,
                                              size_t bytes);

static prism_plugin_error* emu_init(void** ctx) {
  emu_ctx* c = (emu_ctx*)calloc(1, sizeof(emu_ctx));
  long page = sysconf(_SC_PAGESIZE);
  const char* async = getenv("PRISM_EMU_ASYNC");
  const char* delay = getenv("PRISM_EMU_ASYNC_DELAY_US");
  if (c == NULL) return emu_error(PRISM_ERROR_OUT_OF_MEMORY, "emu: cannot allocate the context");
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->qlock, NULL);
  pthread_cond_init(&c->qwork, NULL);
  pthread_cond_init(&c->qdone, NULL);
  c->page = page > 0 ? (size_t)page : 4096u;
  c->async = async != NULL && async[0] != '\0' && strcmp(async, "0") != 0;
  c->delay_us = delay != NULL ? (unsigned)strtoul(delay, NULL, 10) : 200u;
  if (c->async && pthread_create(&c->worker, NULL, emu_worker_main, c) != 0) c->async = 0;
  *ctx = c;
  return NULL;
}

static void emu_shutdown(void* ctx) {
  emu_ctx* c = (emu_ctx*)ctx;
  size_t i;
  if (c == NULL) return;
  if (c->async) {
    emu_wait_idle(c);
    pthread_mutex_lock(&c->qlock);
    c->stop = 1;
    pthread_cond_signal(&c->qwork);
    pthread_mutex_unlock(&c->qlock);
    pthread_join(c->worker, NULL);
  }
  for (i = 0; i < c->n_regions; ++i) munmap(c->regions[i].base, c->regions[i].bytes);
  free(c->regions);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->qlock);
  pthread_cond_destroy(&c->qwork);
  pthread_cond_destroy(&c->qdone);
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
  const emu_ctx* c = (const emu_ctx*)ctx;
  if (err != NULL) return err;
  prism_sdk_device_props_set(
      props, "Prism emulated device (PROT_NONE memory)", "Prism", "emu-0", (uint64_t)1 << 32,
      PRISM_DTYPE_MASK_ALL,
      PRISM_DEVICE_CAP_FP64 | PRISM_DEVICE_CAP_FP16 | (c != NULL && c->async ? PRISM_DEVICE_CAP_ASYNC : 0u));
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
  if (c->async) emu_wait_idle(c); /* pending work may still use the buffer */
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
  if (err == NULL && c->async) {
    pthread_mutex_unlock(&c->lock);
    return emu_enqueue_upload(c, src, dst_buffer, dst_byte_offset, bytes);
  }
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
  if (c->async) { /* a read back to the host waits for the queued work */
    err = emu_drain(c);
    if (err != NULL) return err;
  }
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
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err = emu_check_device(device);
  (void)stream;
  if (err != NULL || !c->async) return err; /* synchronous device: nothing is ever pending */
  return emu_drain(c);
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

/* v rounded to f32 with round-to-odd: rounding that to f16/bf16 is then the
 * one correct rounding of v (a plain (float)v rounds twice; docs/ops.md,
 * "Float to integer conversion" and the conversions after it). */
static float emu_f32_odd(double v) {
  float f = (float)v;
  if ((double)f != v && f == f && f - f == 0.0f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (fabs((double)f) > fabs(v)) --bits;
    bits |= 1u;
    memcpy(&f, &bits, sizeof bits);
  }
  return f;
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
      *(uint16_t*)p = prism_sdk_f32_to_f16(emu_f32_odd((double)v));
      break;
    case PRISM_DTYPE_BF16:
      *(uint16_t*)p = prism_sdk_f32_to_bf16(emu_f32_odd((double)v));
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
      *(uint16_t*)p = prism_sdk_f32_to_f16(emu_f32_odd((double)v));
      break;
    case PRISM_DTYPE_BF16:
      *(uint16_t*)p = prism_sdk_f32_to_bf16(emu_f32_odd((double)v));
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
 * The asynchronous queue (Note [Emulated asynchrony])
 * ======================================================================== */

typedef struct emu_job {
  struct emu_job* next;
  emu_body_fn body; /* a kernel; NULL for an upload */
  prism_kernel_call call;
  /* owned copies of everything the borrowed call pointed at */
  prism_tensor_desc* descs;
  int64_t* dims;
  prism_attr* attrs;
  int64_t* ints;
  char* op;
  /* an upload */
  void* dst;
  uint64_t offset;
  void* staged;
  size_t bytes;
} emu_job;

static void emu_job_free(emu_job* j) {
  size_t i;
  if (j == NULL) return;
  if (j->attrs != NULL)
    for (i = 0; i < j->call.n_attrs; ++i) free((void*)j->attrs[i].name);
  free(j->descs);
  free(j->dims);
  free(j->attrs);
  free(j->ints);
  free(j->op);
  free(j->staged);
  free(j);
}

static char* emu_strdup(const char* s) {
  size_t n = s != NULL ? strlen(s) + 1 : 1;
  char* d = (char*)malloc(n);
  if (d != NULL) memcpy(d, s != NULL ? s : "", n);
  return d;
}

/* A deep copy of `call`: the caller's arrays are borrowed only for the call. */
static emu_job* emu_job_for_call(const prism_kernel_call* call, emu_body_fn body) {
  emu_job* j = (emu_job*)calloc(1, sizeof(emu_job));
  size_t nd = call->n_inputs + call->n_outputs, i, total_dims = 0, total_ints = 0, at = 0;
  if (j == NULL) return NULL;
  j->body = body;
  j->call = *call;
  for (i = 0; i < nd; ++i) {
    const prism_tensor_desc* d = i < call->n_inputs ? &call->inputs[i] : &call->outputs[i - call->n_inputs];
    total_dims += 2u * (size_t)(d->ndim > 0 ? d->ndim : 0);
  }
  for (i = 0; i < call->n_attrs; ++i)
    total_ints += (size_t)(call->attrs[i].n_ints > 0 ? call->attrs[i].n_ints : 0);
  j->descs = (prism_tensor_desc*)calloc(nd > 0 ? nd : 1, sizeof(prism_tensor_desc));
  j->dims = (int64_t*)calloc(total_dims > 0 ? total_dims : 1, sizeof(int64_t));
  j->attrs = (prism_attr*)calloc(call->n_attrs > 0 ? call->n_attrs : 1, sizeof(prism_attr));
  j->ints = (int64_t*)calloc(total_ints > 0 ? total_ints : 1, sizeof(int64_t));
  j->op = emu_strdup(call->op);
  if (j->descs == NULL || j->dims == NULL || j->attrs == NULL || j->ints == NULL || j->op == NULL) {
    emu_job_free(j);
    return NULL;
  }
  for (i = 0; i < nd; ++i) {
    const prism_tensor_desc* d = i < call->n_inputs ? &call->inputs[i] : &call->outputs[i - call->n_inputs];
    const size_t n = (size_t)(d->ndim > 0 ? d->ndim : 0);
    j->descs[i] = *d;
    if (n > 0) {
      memcpy(j->dims + at, d->sizes, n * sizeof(int64_t));
      memcpy(j->dims + at + n, d->strides, n * sizeof(int64_t));
    }
    j->descs[i].sizes = j->dims + at;
    j->descs[i].strides = j->dims + at + n;
    at += 2 * n;
  }
  at = 0;
  for (i = 0; i < call->n_attrs; ++i) {
    const size_t n = (size_t)(call->attrs[i].n_ints > 0 ? call->attrs[i].n_ints : 0);
    j->attrs[i] = call->attrs[i];
    j->attrs[i].name = emu_strdup(call->attrs[i].name);
    if (n > 0 && call->attrs[i].ints != NULL) memcpy(j->ints + at, call->attrs[i].ints, n * sizeof(int64_t));
    j->attrs[i].ints = n > 0 ? j->ints + at : NULL;
    at += n;
  }
  j->call.op = j->op;
  j->call.inputs = j->descs;
  j->call.outputs = j->descs + call->n_inputs;
  j->call.attrs = call->n_attrs > 0 ? j->attrs : NULL;
  return j;
}

static void emu_push(emu_ctx* c, emu_job* j) {
  pthread_mutex_lock(&c->qlock);
  if (c->tail != NULL)
    c->tail->next = j;
  else
    c->head = j;
  c->tail = j;
  ++c->pending;
  pthread_cond_signal(&c->qwork);
  pthread_mutex_unlock(&c->qlock);
}

static void* emu_worker_main(void* arg) {
  emu_ctx* c = (emu_ctx*)arg;
  for (;;) {
    emu_job* j;
    prism_plugin_error* err = NULL;
    pthread_mutex_lock(&c->qlock);
    while (c->head == NULL && !c->stop) pthread_cond_wait(&c->qwork, &c->qlock);
    if (c->head == NULL) {
      pthread_mutex_unlock(&c->qlock);
      return NULL;
    }
    j = c->head;
    c->head = j->next;
    if (c->head == NULL) c->tail = NULL;
    pthread_mutex_unlock(&c->qlock);
    if (c->delay_us > 0) usleep(c->delay_us);
    if (j->body != NULL) {
      err = emu_run_opened(c, &j->call, j->body);
    } else {
      pthread_mutex_lock(&c->lock);
      emu_protect(c, j->dst, PROT_READ | PROT_WRITE);
      memcpy((char*)j->dst + j->offset, j->staged, j->bytes);
      emu_protect(c, j->dst, PROT_NONE);
      pthread_mutex_unlock(&c->lock);
    }
    emu_job_free(j);
    pthread_mutex_lock(&c->qlock);
    if (err != NULL && c->sticky == NULL) c->sticky = err; /* later ones: the first error is reported */
    --c->pending;
    pthread_cond_broadcast(&c->qdone);
    pthread_mutex_unlock(&c->qlock);
  }
}

static void emu_wait_idle(emu_ctx* c) {
  pthread_mutex_lock(&c->qlock);
  while (c->pending > 0) pthread_cond_wait(&c->qdone, &c->qlock);
  pthread_mutex_unlock(&c->qlock);
}

/* Waits for every queued job; returns (and clears) the first error among them. */
static prism_plugin_error* emu_drain(emu_ctx* c) {
  prism_plugin_error* err;
  emu_wait_idle(c);
  pthread_mutex_lock(&c->qlock);
  err = c->sticky;
  c->sticky = NULL;
  pthread_mutex_unlock(&c->qlock);
  return err;
}

static prism_plugin_error* emu_enqueue_upload(emu_ctx* c, const void* src, void* dst, uint64_t offset,
                                              size_t bytes) {
  emu_job* j = (emu_job*)calloc(1, sizeof(emu_job));
  if (j != NULL) j->staged = malloc(bytes);
  if (j == NULL || j->staged == NULL) {
    free(j);
    return emu_error(PRISM_ERROR_OUT_OF_MEMORY,
                     "emu: copy_from_host: out of host memory for the staging copy");
  }
  memcpy(j->staged, src, bytes);
  j->dst = dst;
  j->offset = offset;
  j->bytes = bytes;
  emu_push(c, j);
  return NULL;
}

/* Checks a kernel call before it is queued: the device, every buffer, the
 * arity and the required attributes of each kernel (the bodies check the
 * same again when they run). */
static prism_plugin_error* emu_validate(emu_ctx* c, const prism_kernel_call* call) {
  prism_plugin_error* err = emu_check_device(call->device);
  const prism_attr* a = NULL;
  size_t i;
  if (err != NULL) return err;
  pthread_mutex_lock(&c->lock);
  for (i = 0; i < call->n_inputs + call->n_outputs && err == NULL; ++i) {
    const prism_tensor_desc* d = i < call->n_inputs ? &call->inputs[i] : &call->outputs[i - call->n_inputs];
    if (emu_find(c, d->buffer) == NULL)
      err = prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "emu: %s: operand %lu is not an emu buffer",
                            call->op, (unsigned long)i);
  }
  pthread_mutex_unlock(&c->lock);
  if (err != NULL) return err;
  if (prism_sdk_str_eq(call->op, "fill")) {
    err = emu_arity(call, 0, 1);
    if (err == NULL) err = prism_sdk_attr_require(g_host, call, "value", PRISM_ATTR_SCALAR, &a);
  } else if (prism_sdk_str_eq(call->op, "philox_uniform")) {
    err = emu_arity(call, 0, 1);
    if (err == NULL) err = prism_sdk_attr_require(g_host, call, "seed", PRISM_ATTR_INT, &a);
    if (err == NULL) err = prism_sdk_attr_require(g_host, call, "offset", PRISM_ATTR_INT, &a);
  } else if (prism_sdk_str_eq(call->op, "copy") || prism_sdk_str_eq(call->op, "sum")) {
    err = emu_arity(call, 1, 1);
    if (err == NULL && prism_sdk_str_eq(call->op, "sum") && call->inputs[0].ndim != call->outputs[0].ndim)
      err = prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                            "emu: sum: output ndim %d differs from input ndim %d", (int)call->outputs[0].ndim,
                            (int)call->inputs[0].ndim);
  } else {
    err = emu_arity(call, 2, 1);
  }
  return err;
}

/* Runs a kernel now (synchronous device) or queues it (PRISM_EMU_ASYNC). */
static prism_plugin_error* emu_launch(void* ctx, const prism_kernel_call* call, emu_body_fn body) {
  emu_ctx* c = (emu_ctx*)ctx;
  prism_plugin_error* err;
  emu_job* j;
  if (!c->async) return emu_run_opened(ctx, call, body);
  err = emu_validate(c, call);
  if (err != NULL) return err;
  j = emu_job_for_call(call, body);
  if (j == NULL) return emu_error(PRISM_ERROR_OUT_OF_MEMORY, "emu: out of host memory queueing a kernel");
  emu_push(c, j);
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
  return emu_launch(ctx, c, emu_fill_body);
}
static prism_plugin_error* emu_copy(void* ctx, const prism_kernel_call* c) {
  return emu_launch(ctx, c, emu_copy_body);
}
static prism_plugin_error* emu_binary(void* ctx, const prism_kernel_call* c) {
  return emu_launch(ctx, c, emu_binary_body);
}
static prism_plugin_error* emu_sum(void* ctx, const prism_kernel_call* c) {
  return emu_launch(ctx, c, emu_sum_body);
}
static prism_plugin_error* emu_uniform(void* ctx, const prism_kernel_call* c) {
  return emu_launch(ctx, c, emu_uniform_body);
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
    NULL, /* ABI 1.2: no user streams (one queue: streams alias it) */
    NULL,
    NULL, /* no events, so no event queries or timers */
    NULL,
};

PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(const prism_host_table* host,
                                                           const prism_plugin_table** table) {
  return prism_sdk_entry(host, table, EMU_NAME, &g_host, &g_table);
}
