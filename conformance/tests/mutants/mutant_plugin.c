/* mutant_plugin.c — a small correct f32 plugin; compile-time switches plant one bug each. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prism/plugin.h"
#include "prism_plugin_sdk.h"

/*
 * Note [Mutant plugins]
 * ---------------------
 * Built with no switch this is a correct plugin (device type "mutant", one
 * host-memory device storing f32, u8 and i64; kernels fill and copy for all
 * three (copy across them with the conversion rules of docs/ops.md), neg add
 * sub mul sum amax for f32, div for i64), and the conformance suite passes it. Each switch plants one bug the
 * suite must catch and name (op, dtype, layout):
 *
 *   MUTANT_ADD_ULP         add is off by 2 ulp (the result's bits + 2)
 *   MUTANT_SUM_DROP_LAST   sum skips the last element of every reduction
 *   MUTANT_WRITE_PAST_END  add also writes the element just past the end of
 *                          a contiguous output
 *   MUTANT_IGNORE_STRIDES  every kernel assumes dense row-major tensors
 *   MUTANT_BAD_ABI_SIZE    the table reports a struct_size that ends before
 *                          the kernel slots (a wrong ABI size)
 *
 *
 * Conditional bugs, each right on the suite's old hand-written layouts:
 *
 *   MUTANT_SIZE1_STRIDE    a size-1 dim makes the element walk use the next
 *                          dim's stride for the dim before it
 *   MUTANT_BCAST_LEADING   a stride-0 (broadcast) input dim is honoured only
 *                          in dim 0; elsewhere the dense stride is used
 *   MUTANT_FULL_REDUCE_DENSE  a full reduction (every output size 1) reads
 *                          its input as dense row-major memory
 *   MUTANT_NARROW_COPY_OVERRUN  a copy between dense 1-byte tensors moves
 *                          whole 4-byte words: a narrow view whose length
 *                          is not a multiple of 4 gets up to 3 bytes past
 *                          its end, taken from the source's neighbouring
 *                          bytes (invisible when every guard holds one
 *                          pattern)
 *   MUTANT_FLOAT_TO_INT_CAST  float -> integer copy is a plain C cast: no
 *                          NaN -> 0 and no saturation of +-Inf and
 *                          out-of-range values (modelled as x86 does it: the
 *                          "integer indefinite" INT64_MIN), right for every
 *                          finite in-range value
 *   MUTANT_I64_DIV_DOUBLE  i64 floor/trunc division computed through double:
 *                          right up to 2^53, wrong above
 *
 * Two more switches exercise the runner's handling of broken plugins:
 *
 *   MUTANT_INIT_CRASH      init dereferences NULL (SIGSEGV)
 *   MUTANT_MUL_HANGS       mul never returns (the per-case timeout ends it)
 */

#ifndef MUTANT_NAME
#define MUTANT_NAME "mutant"
#endif

static const prism_host_table* g_host = NULL;

static prism_plugin_error* m_init(void** ctx) {
#if defined(MUTANT_INIT_CRASH)
  *(volatile int*)(uintptr_t)0 = 1;
#endif
  *ctx = malloc(1);
  return *ctx ? NULL : g_host->error_create(PRISM_ERROR_OUT_OF_MEMORY, "mutant: no memory");
}
static void m_shutdown(void* ctx) {
  free(ctx);
}
static prism_plugin_error* m_device_count(void* ctx, int32_t* count, const char** reason) {
  (void)ctx;
  *count = 1;
  if (reason) *reason = NULL;
  return NULL;
}
static prism_plugin_error* m_check_device(int32_t device) {
  return device == 0
             ? NULL
             : prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT, "mutant: no device %d", (int)device);
}
static prism_plugin_error* m_device_props(void* ctx, int32_t device, prism_device_props* props) {
  prism_plugin_error* err = m_check_device(device);
  (void)ctx;
  if (err) return err;
  if (PRISM_HAS(props, prism_device_props, name)) props->name = "mutant host device";
  if (PRISM_HAS(props, prism_device_props, vendor)) props->vendor = "Prism tests";
  if (PRISM_HAS(props, prism_device_props, stable_id)) props->stable_id = "mutant-0";
  if (PRISM_HAS(props, prism_device_props, total_memory)) props->total_memory = 0;
  if (PRISM_HAS(props, prism_device_props, dtype_mask))
    props->dtype_mask =
        PRISM_DTYPE_BIT(PRISM_DTYPE_F32) | PRISM_DTYPE_BIT(PRISM_DTYPE_U8) | PRISM_DTYPE_BIT(PRISM_DTYPE_I64);
  if (PRISM_HAS(props, prism_device_props, capabilities)) props->capabilities = PRISM_DEVICE_CAP_HOST_MEMORY;
  return NULL;
}
static prism_plugin_error* m_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  void* p = NULL;
  prism_plugin_error* err = m_check_device(device);
  (void)ctx;
  if (err) return err;
  *buffer = NULL;
  if (bytes > ((size_t)1 << 40) || posix_memalign(&p, 64, bytes == 0 ? 64 : bytes) != 0)
    return g_host->error_create(PRISM_ERROR_OUT_OF_MEMORY, "mutant: out of memory");
  *buffer = p;
  return NULL;
}
static void m_free(void* ctx, int32_t device, void* buffer) {
  (void)ctx;
  (void)device;
  free(buffer);
}
static prism_plugin_error* m_copy_from_host(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                            void* dst, uint64_t off, size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes) memcpy((char*)dst + off, src, bytes);
  return m_check_device(device);
}
static prism_plugin_error* m_copy_to_host(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                          uint64_t off, void* dst, size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes) memcpy(dst, (const char*)src + off, bytes);
  return m_check_device(device);
}
static prism_plugin_error* m_synchronize(void* ctx, int32_t device, prism_stream_t stream) {
  (void)ctx;
  (void)stream;
  return m_check_device(device);
}

/* Element at row-major linear index i. */
static float* m_at(const prism_tensor_desc* d, int64_t i) {
  float* base = (float*)((char*)d->buffer + d->byte_offset);
#if defined(MUTANT_IGNORE_STRIDES)
  return base + i;
#else
  int64_t off = 0, dense = 1;
  int32_t k;
  for (k = d->ndim - 1; k >= 0; --k) {
    int64_t stride = d->strides[k];
#if defined(MUTANT_SIZE1_STRIDE)
    if (k > 0 && d->sizes[k] == 1) stride = d->strides[k - 1];
    if (k + 1 < d->ndim && d->sizes[k + 1] == 1) stride = d->strides[k + 1];
#endif
#if defined(MUTANT_BCAST_LEADING)
    if (k > 0 && stride == 0) stride = dense;
#endif
    off += (i % d->sizes[k]) * stride;
    dense *= d->sizes[k];
    i /= d->sizes[k];
  }
  (void)dense;
  return base + off;
#endif
}

static prism_plugin_error* m_fill(void* ctx, const prism_kernel_call* c) {
  const prism_attr* value = NULL;
  int64_t i, n;
  prism_plugin_error* err = prism_sdk_attr_require(g_host, c, "value", PRISM_ATTR_SCALAR, &value);
  (void)ctx;
  if (err) return err;
  n = prism_sdk_desc_numel(&c->outputs[0]);
  for (i = 0; i < n; ++i) *m_at(&c->outputs[0], i) = (float)prism_sdk_attr_as_float(value);
  return NULL;
}

static prism_plugin_error* m_unary(void* ctx, const prism_kernel_call* c) {
  const int neg = prism_sdk_str_eq(c->op, "neg");
  int64_t i, n = prism_sdk_desc_numel(&c->outputs[0]);
  (void)ctx;
  for (i = 0; i < n; ++i) {
    const float x = *m_at(&c->inputs[0], i);
    *m_at(&c->outputs[0], i) = neg ? -x : x;
  }
  return NULL;
}

static prism_plugin_error* m_binary(void* ctx, const prism_kernel_call* c) {
  const int op = prism_sdk_str_eq(c->op, "add") ? 0 : prism_sdk_str_eq(c->op, "sub") ? 1 : 2;
  const float alpha = (float)prism_sdk_attr_float(c, "alpha", 1.0);
  const prism_tensor_desc* out = &c->outputs[0];
  int64_t i, n = prism_sdk_desc_numel(out);
  (void)ctx;
#if defined(MUTANT_MUL_HANGS)
  if (op == 2) {
    volatile int forever = 1;
    while (forever) {
    }
  }
#endif
  for (i = 0; i < n; ++i) {
    const float a = *m_at(&c->inputs[0], i), b = *m_at(&c->inputs[1], i);
    float r = op == 0 ? a + alpha * b : op == 1 ? a - alpha * b : a * b;
#if defined(MUTANT_ADD_ULP)
    if (op == 0 && r != 0.0f && r == r) r = prism_sdk_bits_to_f32(prism_sdk_f32_to_bits(r) + 2u);
#endif
    *m_at(out, i) = r;
  }
#if defined(MUTANT_WRITE_PAST_END)
  if (op == 0 && prism_sdk_desc_is_contiguous(out))
    ((float*)((char*)out->buffer + out->byte_offset))[n] = 0.0f;
#endif
  return NULL;
}

/* sum / amax over every dim whose output size is 1 (keepdim layout). */
static prism_plugin_error* m_reduce(void* ctx, const prism_kernel_call* c) {
  const int is_sum = prism_sdk_str_eq(c->op, "sum");
  const prism_tensor_desc* x = &c->inputs[0];
  const prism_tensor_desc* out = &c->outputs[0];
  const int64_t n_in = prism_sdk_desc_numel(x), n_out = prism_sdk_desc_numel(out);
  double* acc = (double*)calloc(n_out > 0 ? (size_t)n_out : 1u, sizeof(double));
  int64_t* count = (int64_t*)calloc(n_out > 0 ? (size_t)n_out : 1u, sizeof(int64_t));
  int64_t i;
  (void)ctx;
  if (!acc || !count) {
    free(acc);
    free(count);
    return g_host->error_create(PRISM_ERROR_OUT_OF_MEMORY, "mutant: out of memory");
  }
  for (i = 0; i < n_in; ++i) {
    int64_t rest = i, o = 0, mul = 1;
    int last_in_group = 1, any_reduced = 0;
    int32_t k;
    double v;
    for (k = x->ndim - 1; k >= 0; --k) {
      const int64_t idx = rest % x->sizes[k];
      rest /= x->sizes[k];
      if (out->sizes[k] != 1)
        o += idx * mul;
      else if (x->sizes[k] > 1) {
        any_reduced = 1;
        if (idx != x->sizes[k] - 1) last_in_group = 0;
      }
      mul *= out->sizes[k];
    }
#if defined(MUTANT_SUM_DROP_LAST)
    if (is_sum && any_reduced && last_in_group) continue;
#else
    (void)any_reduced;
    (void)last_in_group;
#endif
#if defined(MUTANT_FULL_REDUCE_DENSE)
    v = n_out == 1 ? ((const float*)((const char*)x->buffer + x->byte_offset))[i] : *m_at(x, i);
#else
    v = *m_at(x, i);
#endif
    if (is_sum)
      acc[o] += v;
    else if (count[o] == 0 || v != v || (acc[o] == acc[o] && v > acc[o]))
      acc[o] = v;
    ++count[o];
  }
  for (i = 0; i < n_out; ++i) {
    if (!is_sum && count[i] == 0) {
      free(acc);
      free(count);
      return g_host->error_create(PRISM_ERROR_INVALID_ARGUMENT, "mutant: amax over an empty dimension");
    }
    *m_at(out, i) = (float)acc[i];
  }
  free(acc);
  free(count);
  return NULL;
}

/* ---- u8 / i64 kernels and conversions (the three bug classes above) ------------------------ */

/* Address of the element at row-major linear index i, any dtype. */
static char* m_ptr(const prism_tensor_desc* d, int64_t i) {
  const int64_t esz = (int64_t)prism_sdk_dtype_size(d->dtype);
  int64_t off = 0;
  int32_t k;
  for (k = d->ndim - 1; k >= 0; --k) {
    off += (i % d->sizes[k]) * d->strides[k];
    i /= d->sizes[k];
  }
  return (char*)d->buffer + d->byte_offset + off * esz;
}

/* Float -> i64 by the rule of docs/ops.md: truncate, saturate, NaN -> 0. */
static int64_t m_float_to_i64(double v) {
#if defined(MUTANT_FLOAT_TO_INT_CAST)
  /* a plain cast; where C leaves it undefined x86 gives INT64_MIN */
  if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
  return (int64_t)v;
#else
  if (v != v) return 0;
  if (v >= 9223372036854775808.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
#endif
}

static void m_store(const prism_tensor_desc* d, int64_t i, int is_float, double f, int64_t n) {
  char* p = m_ptr(d, i);
  if (d->dtype == PRISM_DTYPE_F32) {
    *(float*)p = is_float ? (float)f : (float)n; /* int64 -> float rounds once to nearest even */
    return;
  }
  if (is_float) n = m_float_to_i64(f);
  if (d->dtype == PRISM_DTYPE_U8)
    *(uint8_t*)p = (uint8_t)(uint64_t)n; /* wraps modulo 2^8 */
  else
    *(int64_t*)p = n;
}

static prism_plugin_error* m_fill_any(void* ctx, const prism_kernel_call* c) {
  const prism_attr* value = NULL;
  const prism_tensor_desc* out = &c->outputs[0];
  int64_t i, n;
  prism_plugin_error* err = prism_sdk_attr_require(g_host, c, "value", PRISM_ATTR_SCALAR, &value);
  if (err) return err;
  if (out->dtype == PRISM_DTYPE_F32) return m_fill(ctx, c);
  n = prism_sdk_desc_numel(out);
  for (i = 0; i < n; ++i) m_store(out, i, 0, 0.0, prism_sdk_attr_as_int(value));
  return NULL;
}

static prism_plugin_error* m_copy(void* ctx, const prism_kernel_call* c) {
  const prism_tensor_desc* x = &c->inputs[0];
  const prism_tensor_desc* out = &c->outputs[0];
  int64_t i, n = prism_sdk_desc_numel(out);
  if (x->dtype == PRISM_DTYPE_F32 && out->dtype == PRISM_DTYPE_F32) return m_unary(ctx, c);
#if defined(MUTANT_NARROW_COPY_OVERRUN)
  if (x->dtype == out->dtype && prism_sdk_dtype_size(x->dtype) == 1 && prism_sdk_desc_is_contiguous(x) &&
      prism_sdk_desc_is_contiguous(out)) {
    /* "vectorised": whole 4-byte words, the tail rounded up */
    memcpy((char*)out->buffer + out->byte_offset, (const char*)x->buffer + x->byte_offset,
           (size_t)((n + 3) & ~(int64_t)3));
    return NULL;
  }
#endif
  for (i = 0; i < n; ++i) {
    const char* p = m_ptr(x, i);
    if (x->dtype == PRISM_DTYPE_F32)
      m_store(out, i, 1, (double)*(const float*)p, 0);
    else
      m_store(out, i, 0, 0.0,
              x->dtype == PRISM_DTYPE_U8 ? (int64_t) * (const uint8_t*)p : *(const int64_t*)p);
  }
  return NULL;
}

/* i64 div with rounding_mode 1 (floor) or 2 (trunc) (docs/ops.md, Integer division). */
static prism_plugin_error* m_div_i64(void* ctx, const prism_kernel_call* c) {
  const int64_t mode = prism_sdk_attr_int(c, "rounding_mode", 0);
  const prism_tensor_desc* out = &c->outputs[0];
  int64_t i, n = prism_sdk_desc_numel(out);
  (void)ctx;
  if (mode != 1 && mode != 2)
    return prism_sdk_error(g_host, PRISM_ERROR_INVALID_ARGUMENT,
                           "mutant: div of int64 needs rounding_mode 1 or 2, got %d", (int)mode);
  for (i = 0; i < n; ++i)
    if (*(const int64_t*)m_ptr(&c->inputs[1], i) == 0)
      return g_host->error_create(PRISM_ERROR_INVALID_ARGUMENT, "mutant: integer division by zero");
  for (i = 0; i < n; ++i) {
    const int64_t a = *(const int64_t*)m_ptr(&c->inputs[0], i), b = *(const int64_t*)m_ptr(&c->inputs[1], i);
    int64_t q;
#if defined(MUTANT_I64_DIV_DOUBLE)
    {
      const double r = (double)a / (double)b;
      q = m_float_to_i64(mode == 1 ? floor(r) : trunc(r));
    }
#else
    if (b == -1) {
      q = (int64_t)(0u - (uint64_t)a); /* INT64_MIN / -1 wraps to INT64_MIN */
    } else {
      q = a / b;
      if (mode == 1 && a % b != 0 && ((a < 0) != (b < 0))) --q;
    }
#endif
    *(int64_t*)m_ptr(out, i) = q;
  }
  return NULL;
}

#define F32 PRISM_DTYPE_BIT(PRISM_DTYPE_F32)
#define U8 PRISM_DTYPE_BIT(PRISM_DTYPE_U8)
#define I64 PRISM_DTYPE_BIT(PRISM_DTYPE_I64)
static const prism_kernel_def g_kernels[] = {
    {sizeof(prism_kernel_def), "fill", F32 | U8 | I64, NULL, m_fill_any},
    {sizeof(prism_kernel_def), "copy", F32 | U8 | I64, NULL, m_copy},
    {sizeof(prism_kernel_def), "neg", F32, NULL, m_unary},
    {sizeof(prism_kernel_def), "add", F32, NULL, m_binary},
    {sizeof(prism_kernel_def), "sub", F32, NULL, m_binary},
    {sizeof(prism_kernel_def), "mul", F32, NULL, m_binary},
    {sizeof(prism_kernel_def), "sum", F32, NULL, m_reduce},
    {sizeof(prism_kernel_def), "amax", F32, NULL, m_reduce},
    {sizeof(prism_kernel_def), "div", I64, NULL, m_div_i64},
};

static const prism_plugin_table g_table = {
#if defined(MUTANT_BAD_ABI_SIZE)
    offsetof(prism_plugin_table, kernels), /* wrong: ends before the kernel slots */
#else
    sizeof(prism_plugin_table),
#endif
    PRISM_PLUGIN_ABI_MAJOR,
    PRISM_PLUGIN_ABI_MINOR,
    MUTANT_NAME,
    "mutant",
    "0.0.1",
    m_init,
    m_shutdown,
    m_device_count,
    m_device_props,
    m_alloc,
    m_free,
    m_copy_from_host,
    m_copy_to_host,
    m_synchronize,
    g_kernels,
    sizeof g_kernels / sizeof g_kernels[0],
    sizeof(prism_kernel_def),
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(const prism_host_table* host,
                                                           const prism_plugin_table** table) {
  if (host == NULL || table == NULL) return NULL;
  *table = NULL;
  if (host->abi_major != PRISM_PLUGIN_ABI_MAJOR) {
    return prism_sdk_error(host, PRISM_ERROR_UNAVAILABLE,
                           "mutant: plugin ABI %d.%d cannot serve core ABI %u.%u", PRISM_PLUGIN_ABI_MAJOR,
                           PRISM_PLUGIN_ABI_MINOR, (unsigned)host->abi_major, (unsigned)host->abi_minor);
  }
  g_host = host;
  *table = &g_table;
  return NULL;
}
