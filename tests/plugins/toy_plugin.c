/* toy_plugin.c — a minimal host-memory plugin in C99; compile-time switches turn it into the broken plugins
 * the loader tests load. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prism/plugin.h"

/*
 * Note [Toy plugin variants]
 * --------------------------
 * The good plugin is built with no switch: device type "toy", one device whose
 * buffers are host memory from posix_memalign, f32 kernels "fill" and "add".
 * tests/plugins/CMakeLists.txt builds one library per switch below; each one
 * breaks exactly one rule of Note [Plugin ABI rules] (or exercises one
 * compatibility path) so a test can assert the loader's reason for it.
 *
 *   TOY_NAME, TOY_DEVICE_TYPE   plugin name / device type (default "toy")
 *   TOY_ABI_MAJOR               the ABI major the table claims
 *   TOY_NUM_DEVICES             number of devices (default 1)
 *   TOY_STABLE_PREFIX           stable ids are "<prefix>-<index>"
 *   TOY_NO_ENTRY                exports a misspelt entry symbol
 *   TOY_ENTRY_REFUSES           the entry point itself returns UNAVAILABLE
 *   TOY_INIT_FAILS              init returns UNAVAILABLE
 *   TOY_COUNT_FAILS             device_count returns DEVICE_LOST
 *   TOY_PROPS_FAIL_DEVICE=n     device_props fails for device n
 *   TOY_ZERO_DEVICES            no devices, with a reason
 *   TOY_NULL_SLOT               the required `alloc` slot is NULL
 *   TOY_OLD_TABLE               the table ends before the event slots (an
 *                               older layout: the object really is shorter)
 *   TOY_NEW_TABLE               table and kernel defs carry extra trailing
 *                               fields (a newer minor)
 *   TOY_SHORT_KERNEL_DEF        kernel_def_size too small to hold `run`
 *   TOY_FAULTY                  the 3rd call of "add" fails with INTERNAL
 *   TOY_UNDEFINED_SYMBOL        references a symbol nothing defines
 *   TOY_ALLOC_NULL              alloc returns success with a NULL buffer
 *   TOY_DEVICE_COUNT=n          device_count reports n devices (props of
 *                               every index past the first 8 repeat device 0)
 */

#ifndef TOY_NAME
#define TOY_NAME "toy"
#endif
#ifndef TOY_DEVICE_TYPE
#define TOY_DEVICE_TYPE TOY_NAME
#endif
#ifndef TOY_ABI_MAJOR
#define TOY_ABI_MAJOR PRISM_PLUGIN_ABI_MAJOR
#endif
#ifndef TOY_NUM_DEVICES
#define TOY_NUM_DEVICES 1
#endif
#ifndef TOY_STABLE_PREFIX
#define TOY_STABLE_PREFIX TOY_NAME
#endif
#ifndef TOY_PROPS_FAIL_DEVICE
#define TOY_PROPS_FAIL_DEVICE (-1)
#endif

#if defined(TOY_ZERO_DEVICES)
#define TOY_DEVICES 0
#elif defined(TOY_DEVICE_COUNT)
#define TOY_DEVICES TOY_DEVICE_COUNT
#else
#define TOY_DEVICES TOY_NUM_DEVICES
#endif

static const prism_host_table* g_host = NULL;

typedef struct toy_ctx {
  int64_t live_buffers;
  int64_t add_calls;
  char stable_ids[8][32];
} toy_ctx;

static prism_plugin_error* toy_error(prism_status code, const char* message) {
  return g_host->error_create(code, message);
}

#if defined(TOY_UNDEFINED_SYMBOL)
extern void prism_test_symbol_that_nothing_defines(void);
#endif

/* ===========================================================================
 * Lifecycle and devices
 * ======================================================================== */

static prism_plugin_error* toy_init(void** ctx) {
#if defined(TOY_INIT_FAILS)
  *ctx = NULL;
  return toy_error(PRISM_ERROR_UNAVAILABLE, "simulated driver initialisation failure");
#else
  toy_ctx* c = (toy_ctx*)calloc(1, sizeof(toy_ctx));
  int i;
  if (c == NULL) return toy_error(PRISM_ERROR_OUT_OF_MEMORY, "toy: cannot allocate the context");
  for (i = 0; i < 8; ++i) {
    /* "<prefix>-<i>" without snprintf's C99 varargs: prefix is short. */
    size_t n = strlen(TOY_STABLE_PREFIX);
    if (n > 20) n = 20;
    memcpy(c->stable_ids[i], TOY_STABLE_PREFIX, n);
    c->stable_ids[i][n] = '-';
    c->stable_ids[i][n + 1] = (char)('0' + i);
    c->stable_ids[i][n + 2] = '\0';
  }
#if defined(TOY_UNDEFINED_SYMBOL)
  prism_test_symbol_that_nothing_defines();
#endif
  g_host->log(PRISM_LOG_DEBUG, TOY_NAME, "context created");
  *ctx = c;
  return NULL;
#endif
}

static void toy_shutdown(void* ctx) {
  toy_ctx* c = (toy_ctx*)ctx;
  if (c != NULL && c->live_buffers != 0) g_host->log(PRISM_LOG_WARN, TOY_NAME, "shutdown with live buffers");
  free(c);
}

static prism_plugin_error* toy_device_count(void* ctx, int32_t* count, const char** reason) {
  (void)ctx;
#if defined(TOY_COUNT_FAILS)
  (void)count;
  (void)reason;
  return toy_error(PRISM_ERROR_DEVICE_LOST, "simulated device enumeration failure");
#else
  *count = TOY_DEVICES;
  *reason = TOY_DEVICES == 0 ? "no toy hardware found (simulated)" : NULL;
  return NULL;
#endif
}

static prism_plugin_error* toy_device_props(void* ctx, int32_t device, prism_device_props* props) {
  toy_ctx* c = (toy_ctx*)ctx;
#if defined(TOY_DEVICE_COUNT)
  if (device >= 8 && device < TOY_DEVICES) device = 0;
#endif
  if (device < 0 || device >= TOY_DEVICES || device >= 8)
    return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy: no such device");
  if (device == TOY_PROPS_FAIL_DEVICE)
    return toy_error(PRISM_ERROR_DEVICE_LOST, "simulated property query failure");
  props->name = "Toy host device";
  props->vendor = "Prism tests";
  props->stable_id = c->stable_ids[device];
#if defined(TOY_DEVICE_COUNT)
  props->stable_id = NULL; /* no deduplication: every device is distinct */
#endif
  props->total_memory = 0;
  props->dtype_mask = PRISM_DTYPE_BIT(PRISM_DTYPE_F32);
  props->capabilities = PRISM_DEVICE_CAP_HOST_MEMORY;
  return NULL;
}

/* ===========================================================================
 * Memory, copies, streams
 * ======================================================================== */

static prism_plugin_error* toy_check_device(int32_t device) {
  if (device < 0 || device >= TOY_DEVICES) return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy: bad device");
  return NULL;
}

static prism_plugin_error* toy_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  toy_ctx* c = (toy_ctx*)ctx;
  void* p = NULL;
  prism_plugin_error* err = toy_check_device(device);
  if (err != NULL) return err;
#if defined(TOY_ALLOC_NULL)
  (void)bytes;
  (void)c;
  *buffer = NULL; /* the bug under test: success without a buffer */
  return NULL;
#endif
  if (posix_memalign(&p, 64, bytes == 0 ? 64 : bytes) != 0)
    return toy_error(PRISM_ERROR_OUT_OF_MEMORY, "toy: out of host memory");
  ++c->live_buffers;
  *buffer = p;
  return NULL;
}

static void toy_free(void* ctx, int32_t device, void* buffer) {
  toy_ctx* c = (toy_ctx*)ctx;
  (void)device;
  if (buffer == NULL) return;
  --c->live_buffers;
  free(buffer);
}

static prism_plugin_error* toy_copy_from_host(void* ctx, int32_t device, prism_stream_t stream,
                                              const void* src, void* dst_buffer, uint64_t dst_byte_offset,
                                              size_t bytes) {
  prism_plugin_error* err = toy_check_device(device);
  (void)ctx;
  (void)stream;
  if (err != NULL) return err;
  if (bytes > 0) memcpy((char*)dst_buffer + dst_byte_offset, src, bytes);
  return NULL;
}

static prism_plugin_error* toy_copy_to_host(void* ctx, int32_t device, prism_stream_t stream,
                                            const void* src_buffer, uint64_t src_byte_offset, void* dst,
                                            size_t bytes) {
  (void)ctx;
  (void)stream;
  (void)device;
  if (bytes > 0) memcpy(dst, (const char*)src_buffer + src_byte_offset, bytes);
  return NULL;
}

static prism_plugin_error* toy_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  (void)ctx;
  (void)stream;
  return toy_check_device(device);
}

/* Events: the device is synchronous, so an event is only a token. */
static prism_plugin_error* toy_event_create(void* ctx, int32_t device, prism_event_t* event) {
  (void)ctx;
  (void)device;
  *event = (prism_event_t)malloc(1);
  return *event != NULL ? NULL : toy_error(PRISM_ERROR_OUT_OF_MEMORY, "toy: no memory for an event");
}
static prism_plugin_error* toy_event_record(void* ctx, int32_t device, prism_event_t event,
                                            prism_stream_t stream) {
  (void)ctx, (void)device, (void)event, (void)stream;
  return NULL;
}
static prism_plugin_error* toy_event_wait(void* ctx, int32_t device, prism_event_t event,
                                          prism_stream_t stream) {
  (void)ctx, (void)device, (void)event, (void)stream;
  return NULL;
}
static prism_plugin_error* toy_event_synchronize(void* ctx, prism_event_t event) {
  (void)ctx, (void)event;
  return NULL;
}
static void toy_event_destroy(void* ctx, prism_event_t event) {
  (void)ctx;
  free(event);
}

/* ===========================================================================
 * Kernels (f32 only; any strides)
 * ======================================================================== */

static float* toy_at(const prism_tensor_desc* d, const int64_t* idx) {
  int64_t off = 0;
  int32_t k;
  for (k = 0; k < d->ndim; ++k) off += idx[k] * d->strides[k];
  return (float*)((char*)d->buffer + d->byte_offset) + off;
}

/* Advances the row-major index `idx` over `sizes`; returns 0 after the last. */
static int toy_next(int64_t* idx, const int64_t* sizes, int32_t ndim) {
  int32_t k;
  for (k = ndim - 1; k >= 0; --k) {
    if (++idx[k] < sizes[k]) return 1;
    idx[k] = 0;
  }
  return 0;
}

static int64_t toy_numel(const prism_tensor_desc* d) {
  int64_t n = 1;
  int32_t k;
  for (k = 0; k < d->ndim; ++k) n *= d->sizes[k];
  return n;
}

static const prism_attr* toy_attr(const prism_kernel_call* call, const char* name) {
  size_t i;
  for (i = 0; i < call->n_attrs; ++i)
    if (strcmp(call->attrs[i].name, name) == 0) return &call->attrs[i];
  return NULL;
}

static prism_plugin_error* toy_check_f32(const prism_tensor_desc* d, const prism_tensor_desc* out) {
  int32_t k;
  if (d->dtype != PRISM_DTYPE_F32) return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy: only float32");
  if (d->ndim != out->ndim || d->ndim > PRISM_MAX_DIMS)
    return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy: rank mismatch");
  for (k = 0; k < d->ndim; ++k)
    if (d->sizes[k] != out->sizes[k]) return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy: shape mismatch");
  return NULL;
}

/* fill: out = value. out: any shape, f32. */
static prism_plugin_error* toy_fill(void* ctx, const prism_kernel_call* call) {
  const prism_tensor_desc* dst;
  const prism_attr* value;
  int64_t idx[PRISM_MAX_DIMS] = {0};
  prism_plugin_error* err;
  (void)ctx;
  if (call->n_outputs != 1) return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy fill: one output");
  dst = &call->outputs[0];
  if ((err = toy_check_f32(dst, dst)) != NULL) return err;
  /* Test hook: an INT attribute "fail_with" makes fill return an error with
   * that raw code (any int, as a C plugin may pass). */
  if (toy_attr(call, "fail_with") != NULL)
    return toy_error((prism_status)toy_attr(call, "fail_with")->i, "failure requested by the caller");
  value = toy_attr(call, "value");
  if (value == NULL) return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy fill: missing attribute 'value'");
  if (toy_numel(dst) == 0) return NULL;
  do {
    *toy_at(dst, idx) = (float)value->f;
  } while (toy_next(idx, dst->sizes, dst->ndim));
  return NULL;
}

/* add: out = a + alpha * b. a, b, out: same shape (broadcast dims have stride 0), f32. */
static prism_plugin_error* toy_add(void* ctx, const prism_kernel_call* call) {
  const prism_tensor_desc *a, *b, *dst;
  const prism_attr* alpha_attr;
  float alpha;
  int64_t idx[PRISM_MAX_DIMS] = {0};
  prism_plugin_error* err;
#if defined(TOY_FAULTY)
  toy_ctx* c = (toy_ctx*)ctx;
  if (++c->add_calls == 3) return toy_error(PRISM_ERROR_INTERNAL, "simulated device fault");
#else
  (void)ctx;
#endif
  if (call->n_inputs != 2 || call->n_outputs != 1)
    return toy_error(PRISM_ERROR_INVALID_ARGUMENT, "toy add: two inputs, one output");
  a = &call->inputs[0];
  b = &call->inputs[1];
  dst = &call->outputs[0];
  if ((err = toy_check_f32(dst, dst)) != NULL) return err;
  if ((err = toy_check_f32(a, dst)) != NULL) return err;
  if ((err = toy_check_f32(b, dst)) != NULL) return err;
  alpha_attr = toy_attr(call, "alpha");
  alpha = alpha_attr != NULL ? (float)alpha_attr->f : 1.0f;
  if (toy_numel(dst) == 0) return NULL;
  do {
    *toy_at(dst, idx) = *toy_at(a, idx) + alpha * *toy_at(b, idx);
  } while (toy_next(idx, dst->sizes, dst->ndim));
  return NULL;
}

#define TOY_F32 PRISM_DTYPE_BIT(PRISM_DTYPE_F32)

#if defined(TOY_NEW_TABLE)
/* A kernel definition as a later minor might lay it out. */
typedef struct toy_kernel_def_v1_1 {
  prism_kernel_def base;
  const char* future_note;
  uint64_t future_flags;
} toy_kernel_def_v1_1;
static const toy_kernel_def_v1_1 toy_kernels[] = {
    {{sizeof(toy_kernel_def_v1_1), "fill", TOY_F32, NULL, toy_fill}, "ignored by a 1.0 core", ~0ull},
    {{sizeof(toy_kernel_def_v1_1), "add", TOY_F32, NULL, toy_add}, "ignored by a 1.0 core", ~0ull},
};
#define TOY_KERNEL_DEF_SIZE sizeof(toy_kernel_def_v1_1)
#else
static const prism_kernel_def toy_kernels[] = {
    {sizeof(prism_kernel_def), "fill", TOY_F32, NULL, toy_fill},
    {sizeof(prism_kernel_def), "add", TOY_F32, NULL, toy_add},
};
#if defined(TOY_SHORT_KERNEL_DEF)
#define TOY_KERNEL_DEF_SIZE offsetof(prism_kernel_def, run)
#else
#define TOY_KERNEL_DEF_SIZE sizeof(prism_kernel_def)
#endif
#endif

/* ===========================================================================
 * The table and the entry point
 * ======================================================================== */

#if defined(TOY_NEW_TABLE)
/* The table as a later minor (1.1) might lay it out. */
typedef struct toy_table_v1_1 {
  prism_plugin_table base;
  void* future_slot;
  uint64_t future_flags;
} toy_table_v1_1;
#endif

static prism_plugin_table toy_full_table(void) {
  prism_plugin_table t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(prism_plugin_table);
  t.abi_major = TOY_ABI_MAJOR;
  t.abi_minor = PRISM_PLUGIN_ABI_MINOR;
  t.name = TOY_NAME;
  t.device_type = TOY_DEVICE_TYPE;
  t.version = "0.0.1-test";
  t.init = toy_init;
  t.shutdown = toy_shutdown;
  t.device_count = toy_device_count;
  t.device_props = toy_device_props;
#if defined(TOY_NULL_SLOT)
  (void)toy_alloc;
#else
  t.alloc = toy_alloc;
#endif
  t.free = toy_free;
  t.copy_from_host = toy_copy_from_host;
  t.copy_to_host = toy_copy_to_host;
  t.synchronize = toy_synchronize;
  t.kernels = (const prism_kernel_def*)(const void*)toy_kernels;
  t.n_kernels = sizeof(toy_kernels) / sizeof(toy_kernels[0]);
  t.kernel_def_size = TOY_KERNEL_DEF_SIZE;
  t.event_create = toy_event_create;
  t.event_record = toy_event_record;
  t.event_wait = toy_event_wait;
  t.event_synchronize = toy_event_synchronize;
  t.event_destroy = toy_event_destroy;
  return t;
}

#if defined(TOY_OLD_TABLE)
/* Exactly the bytes before the event slots: reading past them is an
 * out-of-bounds read that AddressSanitizer reports. */
static union {
  unsigned char bytes[offsetof(prism_plugin_table, event_create)];
  size_t align;
} toy_table;
#elif defined(TOY_NEW_TABLE)
static toy_table_v1_1 toy_table;
#else
static prism_plugin_table toy_table;
#endif

#if defined(TOY_NO_ENTRY)
#define TOY_ENTRY prism_plugin_entry_misspelt
#else
#define TOY_ENTRY prism_plugin_entry
#endif

PRISM_PLUGIN_EXPORT prism_plugin_error* TOY_ENTRY(const prism_host_table* host,
                                                  const prism_plugin_table** table) {
  prism_plugin_table full = toy_full_table();
  g_host = host;
#if defined(TOY_ENTRY_REFUSES)
  return host->error_create(PRISM_ERROR_UNAVAILABLE, "toy needs host ABI 2.x");
#endif
#if TOY_ABI_MAJOR == PRISM_PLUGIN_ABI_MAJOR
  /* (The wrong-ABI variant skips this check so that the core's check of
   * table->abi_major is what refuses it.) */
  if (host->abi_major != PRISM_PLUGIN_ABI_MAJOR)
    return host->error_create(PRISM_ERROR_UNAVAILABLE, "toy: unsupported host ABI major");
#endif
#if defined(TOY_OLD_TABLE)
  full.struct_size = sizeof(toy_table.bytes);
  memcpy(toy_table.bytes, &full, sizeof(toy_table.bytes));
  *table = (const prism_plugin_table*)(const void*)&toy_table;
#elif defined(TOY_NEW_TABLE)
  full.struct_size = sizeof(toy_table_v1_1);
  full.abi_minor = PRISM_PLUGIN_ABI_MINOR + 1;
  toy_table.base = full;
  toy_table.future_slot = (void*)&toy_table;
  toy_table.future_flags = ~0ull;
  *table = &toy_table.base;
#else
  toy_table = full;
  *table = &toy_table;
#endif
  return NULL;
}
