/* prism_plugin_sdk.h — header-only C99 helpers for plugin authors: attributes, dtypes, descriptors, errors,
 * half floats. */
#ifndef PRISM_PLUGINS_SDK_PRISM_PLUGIN_SDK_H_
#define PRISM_PLUGINS_SDK_PRISM_PLUGIN_SDK_H_

/*
 * Note [Plugin SDK]
 * -----------------
 * Everything here is `static inline` and depends only on the plugin ABI
 * (prism/plugin.h) and the C99 standard library (<stdarg.h>, <stdio.h> for
 * the error formatter). It compiles as C99 (-std=c99 -pedantic) and as C++.
 * Nothing here carries state: the error helpers take the host table the
 * plugin received in prism_plugin_entry.
 *
 * Names follow prism_sdk_<object>_<verb>. No function allocates memory except
 * through host->error_create.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "prism/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===========================================================================
 * Dtypes
 * ======================================================================== */

/* Size in bytes of one element of `dtype`; 0 for an unknown dtype. */
static inline size_t prism_sdk_dtype_size(int32_t dtype) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
    case PRISM_DTYPE_U8:
    case PRISM_DTYPE_I8:
      return 1;
    case PRISM_DTYPE_I16:
    case PRISM_DTYPE_F16:
    case PRISM_DTYPE_BF16:
      return 2;
    case PRISM_DTYPE_I32:
    case PRISM_DTYPE_F32:
      return 4;
    case PRISM_DTYPE_I64:
    case PRISM_DTYPE_F64:
    case PRISM_DTYPE_C64:
      return 8;
    case PRISM_DTYPE_C128:
      return 16;
    default:
      return 0;
  }
}

/* Short name of `dtype` ("f32", "bool", ...); "invalid" for unknown values.
 * Static storage. */
static inline const char* prism_sdk_dtype_name(int32_t dtype) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      return "bool";
    case PRISM_DTYPE_U8:
      return "u8";
    case PRISM_DTYPE_I8:
      return "i8";
    case PRISM_DTYPE_I16:
      return "i16";
    case PRISM_DTYPE_I32:
      return "i32";
    case PRISM_DTYPE_I64:
      return "i64";
    case PRISM_DTYPE_F16:
      return "f16";
    case PRISM_DTYPE_BF16:
      return "bf16";
    case PRISM_DTYPE_F32:
      return "f32";
    case PRISM_DTYPE_F64:
      return "f64";
    case PRISM_DTYPE_C64:
      return "c64";
    case PRISM_DTYPE_C128:
      return "c128";
    default:
      return "invalid";
  }
}

static inline int prism_sdk_dtype_is_float(int32_t dtype) {
  return dtype >= PRISM_DTYPE_F16 && dtype <= PRISM_DTYPE_F64;
}

/* complex64 or complex128 (interleaved real, imaginary pairs). */
static inline int prism_sdk_dtype_is_complex(int32_t dtype) {
  return dtype == PRISM_DTYPE_C64 || dtype == PRISM_DTYPE_C128;
}

static inline int prism_sdk_dtype_is_int(int32_t dtype) {
  return dtype >= PRISM_DTYPE_U8 && dtype <= PRISM_DTYPE_I64;
}

/* ===========================================================================
 * Tensor descriptors
 * ======================================================================== */

/* Number of elements (1 for ndim == 0, 0 when any size is 0). */
static inline int64_t prism_sdk_desc_numel(const prism_tensor_desc* desc) {
  int64_t n = 1;
  int32_t d;
  for (d = 0; d < desc->ndim; ++d) n *= desc->sizes[d];
  return n;
}

/* 1 when the view is dense row-major (dims of size 1 may have any stride). */
static inline int prism_sdk_desc_is_contiguous(const prism_tensor_desc* desc) {
  int64_t expected = 1;
  int32_t d;
  for (d = desc->ndim - 1; d >= 0; --d) {
    if (desc->sizes[d] == 0) return 1;
    if (desc->sizes[d] != 1 && desc->strides[d] != expected) return 0;
    expected *= desc->sizes[d];
  }
  return 1;
}

/* Address of element 0 on a HOST_MEMORY device (buffer is a host pointer). */
static inline void* prism_sdk_desc_host_data(const prism_tensor_desc* desc) {
  return (char*)desc->buffer + desc->byte_offset;
}

/* ===========================================================================
 * Attributes
 * ======================================================================== */

static inline int prism_sdk_str_eq(const char* a, const char* b) {
  if (a == NULL || b == NULL) return 0;
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

/* The attribute named `name`, or NULL when the call has none. */
static inline const prism_attr* prism_sdk_attr_find(const prism_kernel_call* call, const char* name) {
  size_t i;
  for (i = 0; i < call->n_attrs; ++i) {
    if (prism_sdk_str_eq(call->attrs[i].name, name)) return &call->attrs[i];
  }
  return NULL;
}

/* Integer value of an attribute (INT or SCALAR: .i; FLOAT: .f truncated). */
static inline int64_t prism_sdk_attr_as_int(const prism_attr* attr) {
  return attr->kind == PRISM_ATTR_FLOAT ? (int64_t)attr->f : attr->i;
}

/* Floating value of an attribute (FLOAT or SCALAR: .f; INT: .i converted). */
static inline double prism_sdk_attr_as_float(const prism_attr* attr) {
  return attr->kind == PRISM_ATTR_INT ? (double)attr->i : attr->f;
}

/* Value of attribute `name` as an integer, or `fallback` when absent. */
static inline int64_t prism_sdk_attr_int(const prism_kernel_call* call, const char* name, int64_t fallback) {
  const prism_attr* a = prism_sdk_attr_find(call, name);
  return a != NULL ? prism_sdk_attr_as_int(a) : fallback;
}

/* Value of attribute `name` as a double, or `fallback` when absent. */
static inline double prism_sdk_attr_float(const prism_kernel_call* call, const char* name, double fallback) {
  const prism_attr* a = prism_sdk_attr_find(call, name);
  return a != NULL ? prism_sdk_attr_as_float(a) : fallback;
}

/* A SCALAR attribute for a tensor of `dtype`: *as_int and *as_float (out,
 * either may be NULL) receive the value; integer dtypes should use *as_int,
 * float dtypes *as_float. Returns 0 when absent (outputs then get the
 * fallbacks). */
static inline int prism_sdk_attr_scalar(const prism_kernel_call* call, const char* name, int64_t fallback_int,
                                        double fallback_float, int64_t* as_int, double* as_float) {
  const prism_attr* a = prism_sdk_attr_find(call, name);
  if (as_int != NULL) *as_int = a != NULL ? prism_sdk_attr_as_int(a) : fallback_int;
  if (as_float != NULL) *as_float = a != NULL ? prism_sdk_attr_as_float(a) : fallback_float;
  return a != NULL;
}

/* ===========================================================================
 * Errors
 * ======================================================================== */

/* Formats a message printf-style and makes an error object through the host
 * table. Messages longer than 1023 bytes are truncated. Never returns NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline prism_plugin_error*
prism_sdk_error(const prism_host_table* host, prism_status code, const char* fmt, ...) {
  char message[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  return host->error_create(code, message);
}

/* The attribute `name` of `kind` (INT, FLOAT and SCALAR are interchangeable:
 * any of them satisfies a numeric request). On success *attr (out) is set and
 * NULL returned; otherwise an INVALID_ARGUMENT error naming the op and the
 * attribute. */
static inline prism_plugin_error* prism_sdk_attr_require(const prism_host_table* host,
                                                         const prism_kernel_call* call, const char* name,
                                                         int32_t kind, const prism_attr** attr) {
  const prism_attr* a = prism_sdk_attr_find(call, name);
  int numeric_ok;
  *attr = NULL;
  if (a == NULL) {
    return prism_sdk_error(host, PRISM_ERROR_INVALID_ARGUMENT, "%s: missing required attribute '%s'",
                           call->op ? call->op : "?", name);
  }
  numeric_ok = kind != PRISM_ATTR_INTS && a->kind != PRISM_ATTR_INTS;
  if (a->kind != kind && !numeric_ok) {
    return prism_sdk_error(host, PRISM_ERROR_INVALID_ARGUMENT, "%s: attribute '%s' has kind %d, expected %d",
                           call->op ? call->op : "?", name, (int)a->kind, (int)kind);
  }
  *attr = a;
  return NULL;
}

/* ===========================================================================
 * Half floats (Note [Half conversions])
 * ------------------------------------------------------------------------
 * f32 -> f16/bf16 round to nearest, ties to even; overflow goes to infinity;
 * NaN stays NaN (quiet, sign and top payload bits kept); f16 subnormals are
 * produced and read exactly. Bit manipulation through a union keeps the
 * header free of memcpy and usable from OpenCL C / CUDA.
 * ======================================================================== */

typedef union prism_sdk_f32_bits {
  float f;
  uint32_t u;
} prism_sdk_f32_bits;

static inline uint32_t prism_sdk_f32_to_bits(float f) {
  prism_sdk_f32_bits b;
  b.f = f;
  return b.u;
}

static inline float prism_sdk_bits_to_f32(uint32_t u) {
  prism_sdk_f32_bits b;
  b.u = u;
  return b.f;
}

static inline float prism_sdk_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1Fu) return prism_sdk_bits_to_f32(sign | 0x7F800000u | (mant << 13));
  if (exp == 0) {
    /* zero or subnormal: mant * 2^-24, exact in f32 */
    float v = (float)mant * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return prism_sdk_bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

static inline uint16_t prism_sdk_f32_to_f16(float f) {
  uint32_t x = prism_sdk_f32_to_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) { /* inf or NaN */
    if (ax == 0x7F800000u) return (uint16_t)(sign | 0x7C00u);
    return (uint16_t)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  }
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */
  if (ax < 0x38800000u) {                                   /* below 2^-14: subnormal */
    /* value * 2^24 rounded to an integer, ties to even: adding 0.5f * 2^-1
     * would double-round, so work on the mantissa directly. */
    uint32_t e = ax >> 23;
    uint32_t m;
    uint32_t shift;
    uint32_t q;
    uint32_t rem;
    uint32_t half;
    if (e < 102u) return sign; /* < 2^-25: rounds to zero */
    m = (ax & 0x7FFFFFu) | 0x800000u;
    shift = 126u - e; /* 14 .. 24 */
    q = m >> shift;
    rem = m & ((1u << shift) - 1u);
    half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return (uint16_t)(sign | q);
  }
  {
    uint32_t r = ax + 0xFFFu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
  }
}

static inline float prism_sdk_bf16_to_f32(uint16_t b) {
  return prism_sdk_bits_to_f32((uint32_t)b << 16);
}

static inline uint16_t prism_sdk_f32_to_bf16(float f) {
  uint32_t x = prism_sdk_f32_to_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN */
  x += 0x7FFFu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

/* ===========================================================================
 * The plugin table and the entry point
 * ======================================================================== */

/*
 * Note [SDK table set-up]
 * -----------------------
 * Every plugin fills a prism_plugin_table the same way: zero it, set the
 * sizes and ABI version this header was compiled with, its name and device
 * type, and one function per slot; and every prism_plugin_entry starts by
 * checking the host table and the core's ABI major. These helpers do that
 * once. The slot macros assume the plugin names its slot functions
 * <prefix>_<slot> (cpu_alloc, ocl_event_wait, ...), so a missing function is
 * a compile error naming it.
 */

/* Zeroes *t and sets struct_size, the ABI version, name and device type
 * (both `name`), version, and the kernel table (`kernels`, `n_kernels`
 * entries, kernel_def_size); every pointer is borrowed and must outlive the
 * plugin. The other slots stay NULL (the documented defaults) until set.
 * Returns t. */
static inline prism_plugin_table* prism_sdk_table_init(prism_plugin_table* t, const char* name,
                                                       const char* version, const prism_kernel_def* kernels,
                                                       size_t n_kernels) {
  memset(t, 0, sizeof *t);
  t->struct_size = sizeof(prism_plugin_table);
  t->abi_major = PRISM_PLUGIN_ABI_MAJOR;
  t->abi_minor = PRISM_PLUGIN_ABI_MINOR;
  t->name = name;
  t->device_type = name;
  t->version = version;
  t->kernels = kernels;
  t->n_kernels = n_kernels;
  t->kernel_def_size = sizeof(prism_kernel_def);
  return t;
}

/* Writes a device's properties into *props, each field only when the
 * caller's props->struct_size holds it (PRISM_HAS), as device_props must.
 * The strings are borrowed: they must live as long as the plugin's context. */
static inline void prism_sdk_device_props_set(prism_device_props* props, const char* name, const char* vendor,
                                              const char* stable_id, uint64_t total_memory,
                                              uint32_t dtype_mask, uint32_t capabilities) {
  if (PRISM_HAS(props, prism_device_props, name)) props->name = name;
  if (PRISM_HAS(props, prism_device_props, vendor)) props->vendor = vendor;
  if (PRISM_HAS(props, prism_device_props, stable_id)) props->stable_id = stable_id;
  if (PRISM_HAS(props, prism_device_props, total_memory)) props->total_memory = total_memory;
  if (PRISM_HAS(props, prism_device_props, dtype_mask)) props->dtype_mask = dtype_mask;
  if (PRISM_HAS(props, prism_device_props, capabilities)) props->capabilities = capabilities;
}

/* The required slots: <prefix>_init, _shutdown, _device_count, _device_props,
 * _alloc, _free, _copy_from_host, _copy_to_host, _synchronize. */
#define PRISM_SDK_TABLE_REQUIRED_SLOTS(t, prefix)  \
  do {                                             \
    (t)->init = prefix##_init;                     \
    (t)->shutdown = prefix##_shutdown;             \
    (t)->device_count = prefix##_device_count;     \
    (t)->device_props = prefix##_device_props;     \
    (t)->alloc = prefix##_alloc;                   \
    (t)->free = prefix##_free;                     \
    (t)->copy_from_host = prefix##_copy_from_host; \
    (t)->copy_to_host = prefix##_copy_to_host;     \
    (t)->synchronize = prefix##_synchronize;       \
  } while (0)

/* The event slots (asynchronous devices): <prefix>_event_create, _record,
 * _wait, _synchronize, _destroy. */
#define PRISM_SDK_TABLE_EVENT_SLOTS(t, prefix)           \
  do {                                                   \
    (t)->event_create = prefix##_event_create;           \
    (t)->event_record = prefix##_event_record;           \
    (t)->event_wait = prefix##_event_wait;               \
    (t)->event_synchronize = prefix##_event_synchronize; \
    (t)->event_destroy = prefix##_event_destroy;         \
  } while (0)

/* The pinned host memory slots (ABI 1.1): <prefix>_host_alloc, _host_free. */
#define PRISM_SDK_TABLE_PINNED_SLOTS(t, prefix) \
  do {                                          \
    (t)->host_alloc = prefix##_host_alloc;      \
    (t)->host_free = prefix##_host_free;        \
  } while (0)

/* The user stream and event timing slots (ABI 1.2): <prefix>_stream_create,
 * _stream_destroy, _event_query, _event_elapsed_ms. */
#define PRISM_SDK_TABLE_STREAM_SLOTS(t, prefix)        \
  do {                                                 \
    (t)->stream_create = prefix##_stream_create;       \
    (t)->stream_destroy = prefix##_stream_destroy;     \
    (t)->event_query = prefix##_event_query;           \
    (t)->event_elapsed_ms = prefix##_event_elapsed_ms; \
  } while (0)

/* The body of prism_plugin_entry: checks the host table and the core's ABI
 * major, then stores `host` in *host_slot (the plugin's copy, for its error
 * helpers) and sets *table to `built`, the plugin's filled table. Returns
 * NULL on success, or an UNAVAILABLE error naming both ABI versions when the
 * major differs (*table is then NULL). When host or table is NULL or the host
 * table has no error constructor nothing can be reported: returns NULL and
 * sets nothing (the core treats it as a refusal). */
static inline prism_plugin_error* prism_sdk_entry(const prism_host_table* host,
                                                  const prism_plugin_table** table, const char* name,
                                                  const prism_host_table** host_slot,
                                                  const prism_plugin_table* built) {
  if (host == NULL || table == NULL || host->error_create == NULL) return NULL;
  *table = NULL;
  if (host->abi_major != PRISM_PLUGIN_ABI_MAJOR) {
    return prism_sdk_error(host, PRISM_ERROR_UNAVAILABLE,
                           "%s: plugin ABI %d.%d cannot serve core ABI %u.%u (major differs)", name,
                           PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR, (unsigned)host->abi_major,
                           (unsigned)host->abi_minor);
  }
  *host_slot = host;
  *table = built;
  return NULL;
}

#ifdef __cplusplus
/* C++ plugins: defines the whole prism_plugin_entry. `build()` fills the
 * table `table_var` and runs once (a function-local static: thread-safe);
 * `host_slot` receives the host table (prism_sdk_entry). Use at namespace
 * scope, outside any namespace. C plugins call prism_sdk_entry themselves
 * with a statically initialised table. */
#define PRISM_SDK_DEFINE_ENTRY(name, host_slot, table_var, build)                                           \
  extern "C" PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(const prism_host_table* host,       \
                                                                        const prism_plugin_table** table) { \
    static const bool prism_sdk_built_ = ((build)(), true);                                                 \
    (void)prism_sdk_built_;                                                                                 \
    return prism_sdk_entry(host, table, name, &(host_slot), &(table_var));                                  \
  }
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_PLUGINS_SDK_PRISM_PLUGIN_SDK_H_ */
