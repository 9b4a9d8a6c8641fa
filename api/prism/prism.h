/* prism.h — the Prism user C ABI: runtime, plugins, devices, tensors, ops and errors. */
#ifndef PRISM_API_PRISM_PRISM_H_
#define PRISM_API_PRISM_PRISM_H_

/*
 * Note [User ABI conventions]
 * ---------------------------
 * - Every function returns a prism_status (PRISM_OK = 0) unless it is a plain
 *   query documented otherwise. On error, prism_last_error() returns a
 *   message naming the op, shapes, dtypes, devices and plugin involved; the
 *   message is thread-local and valid until the next failing call on the same
 *   thread. A failing call leaves every existing tensor unchanged and writes
 *   nothing to its out-parameters.
 * - prism_tensor_t is a reference-counted handle. Every function that writes
 *   a tensor to an out-parameter gives the caller one new reference, which
 *   the caller releases with prism_tensor_release(). Input tensors are
 *   borrowed for the call. A NULL handle is an INVALID_ARGUMENT error, and so
 *   is a released or invalid one (see prism_tensor_t below).
 * - In-place writes (the `_` functions, prism_copy_) refuse, as PyTorch does,
 *   an output that shares memory with an input without being the same view
 *   element for element (x.add_(x) is fine, x[1:].copy_(x[:-1]) is not), and
 *   an output in which several elements are one memory location (an expanded
 *   view); prism_fill_ may write into such a view.
 * - Sizes, strides and offsets are checked with int64 overflow checks:
 *   a shape or view whose element count or byte span overflows is
 *   INVALID_ARGUMENT ("integer multiplication overflow").
 * - Devices are named by strings "type:index" ("cpu", "cpu:0", "opencl:1").
 *   "type" alone means index 0. A NULL device string means "cpu".
 * - Sizes and strides are in elements; byte counts are named bytes.
 * - dims arrays: a NULL dims pointer with n_dims == 0 means "all dims".
 *   Negative dims count from the end, as in PyTorch.
 * - Strings returned as `const char*` are owned by the runtime and live until
 *   the process exits unless stated otherwise.
 * - Plugins are discovered on first use (see prism_plugins_load_default).
 */

#include "prism/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor handle (opaque, reference counted). Handle rules:
 * - A handle is a checked value, not a pointer to dereference: its bits name
 *   a slot of a table the runtime never frees plus a generation. Every call
 *   checks the handles it is given, so a released handle (used after
 *   prism_tensor_release, released twice, retained after release) or a value
 *   that never came from Prism is PRISM_ERROR_INVALID_ARGUMENT with a message,
 *   never a crash. Only NULL means "no tensor".
 * - Do not compare handles for tensor identity beyond equality of values, and
 *   do not keep using a handle after its last release: a slot is reused, and
 *   after about 2^31 reuses of one slot a stale handle could name a new tensor.
 * - Releasing a handle while another thread is still using it is a race, as
 *   with any object; retain it first. */
typedef struct prism_tensor_s* prism_tensor_t;

/* DLPack's managed tensor (dlpack/dlpack.h); declared here so this header
 * needs no DLPack include. */
struct DLManagedTensor;

/* ===========================================================================
 * Errors and versions
 * ======================================================================== */

/* Message of the last failing call on this thread ("" when none). Never NULL. */
PRISM_API const char* prism_last_error(void);
/* Status of the last failing call on this thread (PRISM_OK when none). */
PRISM_API prism_status prism_last_status(void);
/* Clears this thread's last error. */
PRISM_API void prism_clear_error(void);
/* Static name of a status code ("INVALID_ARGUMENT"); "UNKNOWN" for others. */
PRISM_API const char* prism_status_name(prism_status status);
/* Library version string, e.g. "0.1.0". Static. */
PRISM_API const char* prism_version(void);
/* Plugin ABI version the core implements. Either pointer may be NULL. */
PRISM_API void prism_plugin_abi_version(uint32_t* major, uint32_t* minor);

/* ===========================================================================
 * Dtypes
 * ======================================================================== */

/* Static name ("float32", "int64", "bool", ...); "invalid" for bad values. */
PRISM_API const char* prism_dtype_name(prism_dtype dtype);
/* Bytes per element; 0 for an invalid dtype. */
PRISM_API size_t prism_dtype_size(prism_dtype dtype);
/* torch.promote_types: *out (out) = the common dtype of a and b. */
PRISM_API prism_status prism_promote_types(prism_dtype a, prism_dtype b, prism_dtype* out);

/* ===========================================================================
 * Plugins and the load report
 * ======================================================================== */

/* Loads one plugin file now (explicit path: first in the discovery order).
 * Returns UNAVAILABLE with the reason when it cannot be loaded; the report
 * gets a row either way. Loading the same file twice is a no-op. */
PRISM_API prism_status prism_plugin_load(const char* path);

/* Runs discovery once (later calls are no-ops): every file named
 * libprism-*.so in, in order, the directories of PRISM_PLUGIN_PATH
 * (colon-separated), the install's plugin directory, and the directory of
 * libprism itself. A plugin that fails is reported and skipped; the others
 * still load. Returns PRISM_OK even when some plugins failed. Called
 * implicitly by every function that needs a device. */
PRISM_API prism_status prism_plugins_load_default(void);

/* One row of the load report. All strings are owned by the runtime. */
typedef struct prism_load_report_row {
  size_t struct_size;      /* set by the caller to sizeof(prism_load_report_row) */
  const char* path;        /* the candidate file */
  const char* plugin_name; /* "" when the plugin did not load */
  int32_t loaded;          /* 1 when the plugin is active */
  uint32_t abi_major;      /* the plugin's ABI version, 0 when unknown */
  uint32_t abi_minor;
  int32_t device_count; /* devices it exposes (0 when not loaded) */
  const char* reason;   /* loader error, refusal reason or zero-device
                           reason; "" when loaded with devices */
  /* Appended in 0.2 (read only when struct_size covers it): */
  const char* kind; /* "device" (prism_plugin_entry) or "comm" (a communicator
                       plugin, comm.h: device_count is 0 and reason says why
                       it cannot run here, "" when it can) */
} prism_load_report_row;

/* *n (out) = number of rows in the load report. */
PRISM_API prism_status prism_load_report_count(size_t* n);
/* Fills *row (out) for row `index`; the caller sets row->struct_size. */
PRISM_API prism_status prism_load_report_get(size_t index, prism_load_report_row* row);

/* ===========================================================================
 * Devices
 * ======================================================================== */

typedef struct prism_device_info {
  size_t struct_size; /* set by the caller */
  const char* device; /* "cpu:0" */
  const char* plugin; /* plugin name */
  const char* name;
  const char* vendor;
  const char* stable_id;
  uint64_t total_memory; /* bytes, 0 when unknown */
  uint32_t dtype_mask;   /* PRISM_DTYPE_BIT(...) of supported dtypes */
  uint32_t capabilities; /* PRISM_DEVICE_CAP_* from plugin.h */
} prism_device_info;

/* *n (out) = number of devices across all loaded plugins. */
PRISM_API prism_status prism_device_count(int32_t* n);
/* Fills *info (out) for device number `index` (0 .. count-1). */
PRISM_API prism_status prism_device_info_get(int32_t index, prism_device_info* info);
/* Blocks until all queued work on `device` is complete. */
PRISM_API prism_status prism_synchronize(const char* device);

/* ===========================================================================
 * Fallback policy and counters
 * ======================================================================== */

typedef enum prism_fallback_policy {
  PRISM_FALLBACK_ALLOW = 0,               /* run missing kernels through the CPU plugin silently */
  PRISM_FALLBACK_WARN = 1,                /* the same, warning once per op (default) */
  PRISM_FALLBACK_ERROR = 2,               /* a missing kernel is an UNIMPLEMENTED error */
  PRISM_FALLBACK_FORCE_32BIT = 0x7FFFFFFF /* not a policy: makes every int32 a valid value */
} prism_fallback_policy;

/* Sets the policy (overrides the PRISM_FALLBACK environment variable). */
PRISM_API prism_status prism_fallback_set_policy(prism_fallback_policy policy);
/* *policy (out) = the current policy. */
PRISM_API prism_status prism_fallback_get_policy(prism_fallback_policy* policy);
/* *count (out) = fallbacks taken by kernel op `op` (NULL = all ops). */
PRISM_API prism_status prism_fallback_count(const char* op, uint64_t* count);
/* Resets every fallback counter to zero. */
PRISM_API prism_status prism_fallback_reset(void);

/* ===========================================================================
 * Memory (the caching allocator over plugin allocations)
 * ======================================================================== */

typedef struct prism_memory_stats {
  size_t struct_size;         /* set by the caller */
  uint64_t allocated;         /* bytes held by live tensors */
  uint64_t reserved;          /* bytes obtained from the plugin (allocated + cached) */
  uint64_t peak_allocated;    /* high-water mark of `allocated` since the last reset */
  uint64_t num_device_allocs; /* calls into the plugin's alloc */
  uint64_t num_cache_hits;    /* allocations served from the cache */
} prism_memory_stats;

/* Fills *stats (out) for `device`. */
PRISM_API prism_status prism_memory_stats_get(const char* device, prism_memory_stats* stats);
/* Sets peak_allocated to the current allocated. */
PRISM_API prism_status prism_memory_reset_peak(const char* device);
/* Returns every cached (unused) block of `device` to its plugin, and the
 * pinned host blocks kept for `device` (prism_pin_memory). */
PRISM_API prism_status prism_memory_empty_cache(const char* device);
/* Caps the bytes `device` may hold from its plugin (live tensors plus the
 * cache, the `reserved` of prism_memory_stats) at `bytes`; 0 removes the cap.
 * `device` as elsewhere ("opencl:0"; NULL or "" is cpu:0). An allocation that
 * would cross the cap first returns the cached blocks to the plugin, then
 * fails with PRISM_ERROR_OUT_OF_MEMORY (message: device, request, cap, bytes
 * in use); the program may go on, and allocations fit again once tensors are
 * released. Setting a cap below what live tensors hold is allowed: they stay
 * valid, new blocks are refused until enough is released. The cache is
 * emptied by this call. The initial cap comes from PRISM_MEMORY_LIMIT (README),
 * read once per device at its first use. Independently of any cap, a request
 * larger than the device's memory (or, on a device whose memory is not host
 * memory, one beyond what remains of it) is PRISM_ERROR_OUT_OF_MEMORY. */
PRISM_API prism_status prism_memory_set_limit(const char* device, uint64_t bytes);
/* *bytes (out) = the cap of `device` in bytes (0 = none). NULL `bytes` is an
 * INVALID_ARGUMENT error. */
PRISM_API prism_status prism_memory_get_limit(const char* device, uint64_t* bytes);

/* ===========================================================================
 * Random numbers (Note [Philox streams] in docs/ops.md)
 * ======================================================================== */

/* Seeds the global generator: the same seed gives bit-identical random
 * tensors on every device. */
PRISM_API prism_status prism_manual_seed(uint64_t seed);

/* ===========================================================================
 * Tensor handles and metadata
 * ======================================================================== */

/* Adds a reference. A NULL, released or invalid handle is INVALID_ARGUMENT. */
PRISM_API prism_status prism_tensor_retain(prism_tensor_t t);
/* Drops a reference; the tensor is freed at zero. NULL is a no-op (returns OK);
 * a released (double release) or invalid handle is INVALID_ARGUMENT and
 * changes nothing. */
PRISM_API prism_status prism_tensor_release(prism_tensor_t t);

/* Plain queries: return 0 / PRISM_DTYPE_BOOL / "" for a NULL handle and set
 * the last error. */
PRISM_API int32_t prism_tensor_ndim(prism_tensor_t t);
PRISM_API int64_t prism_tensor_numel(prism_tensor_t t);
PRISM_API prism_dtype prism_tensor_dtype(prism_tensor_t t);
/* Device string, e.g. "cpu:0", owned by the runtime. */
PRISM_API const char* prism_tensor_device(prism_tensor_t t);
/* Storage offset in elements. */
PRISM_API int64_t prism_tensor_storage_offset(prism_tensor_t t);
/* 1 when the strides are row-major contiguous. */
PRISM_API int32_t prism_tensor_is_contiguous(prism_tensor_t t);

/* *size (out) = size of `dim` (negative counts from the end). */
PRISM_API prism_status prism_tensor_size(prism_tensor_t t, int32_t dim, int64_t* size);
/* Copies ndim sizes into sizes[0 .. capacity); capacity must be >= ndim. */
PRISM_API prism_status prism_tensor_sizes(prism_tensor_t t, int64_t* sizes, int32_t capacity);
/* Copies ndim strides (elements) into strides[0 .. capacity). */
PRISM_API prism_status prism_tensor_strides(prism_tensor_t t, int64_t* strides, int32_t capacity);

/* Copies the tensor's elements in row-major order into host memory `dst`
 * (`bytes` must equal numel * dtype size). Synchronises the device. */
PRISM_API prism_status prism_tensor_copy_to_host(prism_tensor_t t, void* dst, size_t bytes);
/* The value of a one-element tensor, converted to double / int64. */
PRISM_API prism_status prism_tensor_item_double(prism_tensor_t t, double* value);
PRISM_API prism_status prism_tensor_item_int64(prism_tensor_t t, int64_t* value);

/* ===========================================================================
 * Creation
 * ======================================================================== */

/* Uninitialised tensor of `sizes` (ndim entries, each >= 0). */
PRISM_API prism_status prism_empty(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out);
PRISM_API prism_status prism_zeros(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out);
PRISM_API prism_status prism_ones(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                  prism_tensor_t* out);
PRISM_API prism_status prism_full(const int64_t* sizes, int32_t ndim, double value, prism_dtype dtype,
                                  const char* device, prism_tensor_t* out);
/* A 0-d tensor holding `value`. */
PRISM_API prism_status prism_scalar(double value, prism_dtype dtype, const char* device, prism_tensor_t* out);
/* n × m identity (m < 0 means m = n). */
PRISM_API prism_status prism_eye(int64_t n, int64_t m, prism_dtype dtype, const char* device,
                                 prism_tensor_t* out);
/* Values start, start+step, ... < end (step != 0; sign must reach end). */
PRISM_API prism_status prism_arange(double start, double end, double step, prism_dtype dtype,
                                    const char* device, prism_tensor_t* out);
/* `steps` (>= 0) evenly spaced values from start to end inclusive. */
PRISM_API prism_status prism_linspace(double start, double end, int64_t steps, prism_dtype dtype,
                                      const char* device, prism_tensor_t* out);
/* Same sizes, dtype and device as `like`. */
PRISM_API prism_status prism_empty_like(prism_tensor_t like, prism_tensor_t* out);
PRISM_API prism_status prism_zeros_like(prism_tensor_t like, prism_tensor_t* out);
PRISM_API prism_status prism_ones_like(prism_tensor_t like, prism_tensor_t* out);
PRISM_API prism_status prism_full_like(prism_tensor_t like, double value, prism_tensor_t* out);

/* Copies numel * dtype_size bytes of row-major host data into a new tensor on
 * `device`. `data` is borrowed for the call (may be NULL only when numel = 0). */
PRISM_API prism_status prism_from_data(const void* data, const int64_t* sizes, int32_t ndim,
                                       prism_dtype dtype, const char* device, prism_tensor_t* out);

/* Deleter for caller-owned memory: called once with (data, ctx) when the last
 * tensor viewing the memory is released. */
typedef void (*prism_deleter_fn)(void* data, void* ctx);

/* Wraps caller-owned host memory without copying (a tensor on "cpu"). `strides`
 * may be NULL (row-major). `data` must be aligned to the dtype's element size
 * (INVALID_ARGUMENT otherwise), and the span sizes x strides must fit in
 * int64 bytes. The memory must stay valid until `deleter` is
 * called; `deleter` may be NULL (the caller then keeps it alive for as long
 * as any tensor uses it). On error the deleter is NOT called. */
PRISM_API prism_status prism_from_blob(void* data, const int64_t* sizes, const int64_t* strides, int32_t ndim,
                                       prism_dtype dtype, prism_deleter_fn deleter, void* deleter_ctx,
                                       prism_tensor_t* out);

/* ===========================================================================
 * Copies, devices, dtypes, DLPack
 * ======================================================================== */

/* Copy to another device (same dtype). When `t` is already there, *out is a
 * new handle to the same tensor (same storage, no copy). */
PRISM_API prism_status prism_to_device(prism_tensor_t t, const char* device, prism_tensor_t* out);
/* Pinned host memory (plugin ABI 1.1, docs/abi-policy.md): *out (out, owned
 * by the caller) is a contiguous copy of host tensor `t` on "cpu" whose memory
 * `device`'s plugin allocated so that copies to and from `device` need no
 * staging; it is freed through that plugin when the last view is released.
 * When `t` already is pinned for `device`, or `device` addresses host memory
 * itself (e.g. "cpu"), *out is a new handle to `t` (no copy). Errors:
 * INVALID_ARGUMENT when `t` is not in host memory or a handle is NULL,
 * UNAVAILABLE naming the plugin when it offers no pinned memory,
 * OUT_OF_MEMORY. */
PRISM_API prism_status prism_pin_memory(prism_tensor_t t, const char* device, prism_tensor_t* out);
/* 1 when t's memory is pinned host memory (prism_pin_memory), 0 otherwise or
 * for a NULL handle. */
PRISM_API int32_t prism_tensor_is_pinned(prism_tensor_t t);
/* Cast to another dtype on the same device (a new tensor unless the dtype is
 * already `dtype`, then a new handle to the same tensor). */
PRISM_API prism_status prism_to_dtype(prism_tensor_t t, prism_dtype dtype, prism_tensor_t* out);
/* Row-major copy, or a new handle to the same tensor (no copy) when `t` is
 * already contiguous. */
PRISM_API prism_status prism_contiguous(prism_tensor_t t, prism_tensor_t* out);
/* Always a new row-major copy. */
PRISM_API prism_status prism_clone(prism_tensor_t t, prism_tensor_t* out);
/* Copies src into dst (src broadcast to dst's shape, cast, any devices). */
PRISM_API prism_status prism_copy_(prism_tensor_t dst, prism_tensor_t src);
/* Sets every element of t to value. */
PRISM_API prism_status prism_fill_(prism_tensor_t t, double value);

/* Exports t (zero copy) as a DLPack managed tensor. *out (out) is owned by
 * the caller, who calls (*out)->deleter(*out) exactly once; it keeps t's
 * storage alive. Only devices with host-addressable memory can be exported. */
PRISM_API prism_status prism_to_dlpack(prism_tensor_t t, struct DLManagedTensor** out);
/* Imports a DLPack tensor (zero copy, kDLCPU only). On success Prism owns
 * `src` and calls its deleter when the last view is released; on error the
 * caller still owns it. */
PRISM_API prism_status prism_from_dlpack(struct DLManagedTensor* src, prism_tensor_t* out);

/* ===========================================================================
 * Views (share storage with the input; see docs/ops.md)
 * ======================================================================== */

/* One size may be -1 (inferred). Fails on non-viewable strides, suggesting reshape. */
PRISM_API prism_status prism_view(prism_tensor_t t, const int64_t* sizes, int32_t ndim, prism_tensor_t* out);
/* A view when the strides allow it, else a copy. */
PRISM_API prism_status prism_reshape(prism_tensor_t t, const int64_t* sizes, int32_t ndim,
                                     prism_tensor_t* out);
/* dims: a permutation of 0..ndim-1. */
PRISM_API prism_status prism_permute(prism_tensor_t t, const int64_t* dims, int32_t ndim,
                                     prism_tensor_t* out);
PRISM_API prism_status prism_transpose(prism_tensor_t t, int64_t dim0, int64_t dim1, prism_tensor_t* out);
/* Transpose of a tensor with ndim <= 2. */
PRISM_API prism_status prism_t(prism_tensor_t t, prism_tensor_t* out);
/* Size -1 keeps a dim; new leading dims are allowed; only size-1 dims grow. */
PRISM_API prism_status prism_expand(prism_tensor_t t, const int64_t* sizes, int32_t ndim,
                                    prism_tensor_t* out);
/* Removes every size-1 dim. */
PRISM_API prism_status prism_squeeze(prism_tensor_t t, prism_tensor_t* out);
/* Removes `dim` when its size is 1 (else returns a view of t unchanged). */
PRISM_API prism_status prism_squeeze_dim(prism_tensor_t t, int64_t dim, prism_tensor_t* out);
PRISM_API prism_status prism_unsqueeze(prism_tensor_t t, int64_t dim, prism_tensor_t* out);
PRISM_API prism_status prism_narrow(prism_tensor_t t, int64_t dim, int64_t start, int64_t length,
                                    prism_tensor_t* out);
/* Removes `dim`, taking element `index` (negative counts from the end). */
PRISM_API prism_status prism_select(prism_tensor_t t, int64_t dim, int64_t index, prism_tensor_t* out);
/* Python slice start:end:step on `dim` (clamped as Python does; step > 0). */
PRISM_API prism_status prism_slice(prism_tensor_t t, int64_t dim, int64_t start, int64_t end, int64_t step,
                                   prism_tensor_t* out);
PRISM_API prism_status prism_flatten(prism_tensor_t t, int64_t start_dim, int64_t end_dim,
                                     prism_tensor_t* out);
/* Windows of `size` every `step` along dim, as a new last dim. */
PRISM_API prism_status prism_unfold(prism_tensor_t t, int64_t dim, int64_t size, int64_t step,
                                    prism_tensor_t* out);
/* Arbitrary view of t's storage; must stay inside the storage. */
PRISM_API prism_status prism_as_strided(prism_tensor_t t, const int64_t* sizes, const int64_t* strides,
                                        int32_t ndim, int64_t storage_offset, prism_tensor_t* out);
PRISM_API prism_status prism_diagonal(prism_tensor_t t, int64_t offset, int64_t dim1, int64_t dim2,
                                      prism_tensor_t* out);

/* ===========================================================================
 * Elementwise ops. Each has an out-of-place form writing a new tensor to
 * *out and, where listed in docs/ops.md, an in-place form ending in `_`
 * that writes into its first argument (whose dtype must hold the result).
 * ======================================================================== */

#define PRISM_DECLARE_UNARY(name)                                             \
  PRISM_API prism_status prism_##name(prism_tensor_t x, prism_tensor_t* out); \
  PRISM_API prism_status prism_##name##_(prism_tensor_t x);

/* Unary ops (docs/ops.md). Integer inputs of float-only ops give float32. */
PRISM_DECLARE_UNARY(neg)
PRISM_DECLARE_UNARY(abs)
PRISM_DECLARE_UNARY(sign)
PRISM_DECLARE_UNARY(exp)
PRISM_DECLARE_UNARY(log)
PRISM_DECLARE_UNARY(log1p)
PRISM_DECLARE_UNARY(expm1)
PRISM_DECLARE_UNARY(sqrt)
PRISM_DECLARE_UNARY(rsqrt)
PRISM_DECLARE_UNARY(reciprocal)
PRISM_DECLARE_UNARY(square)
PRISM_DECLARE_UNARY(sin)
PRISM_DECLARE_UNARY(cos)
PRISM_DECLARE_UNARY(tanh)
PRISM_DECLARE_UNARY(sigmoid)
PRISM_DECLARE_UNARY(relu)
PRISM_DECLARE_UNARY(gelu)
PRISM_DECLARE_UNARY(silu)
PRISM_DECLARE_UNARY(floor)
PRISM_DECLARE_UNARY(ceil)
PRISM_DECLARE_UNARY(round)
/* trunc (numeric, integers unchanged); the float-only
 * tan asin acos atan sinh cosh asinh acosh atanh log2 log10 (C99 semantics for
 * NaN, infinities and signed zeros); bitwise_not (~x on integers, logical not
 * on bool; floats are refused). */
PRISM_DECLARE_UNARY(trunc)
PRISM_DECLARE_UNARY(tan)
PRISM_DECLARE_UNARY(asin)
PRISM_DECLARE_UNARY(acos)
PRISM_DECLARE_UNARY(atan)
PRISM_DECLARE_UNARY(sinh)
PRISM_DECLARE_UNARY(cosh)
PRISM_DECLARE_UNARY(asinh)
PRISM_DECLARE_UNARY(acosh)
PRISM_DECLARE_UNARY(atanh)
PRISM_DECLARE_UNARY(log2)
PRISM_DECLARE_UNARY(log10)
PRISM_DECLARE_UNARY(bitwise_not)

/* out = a + alpha * b / a - alpha * b, broadcasting, promoted dtype. */
PRISM_API prism_status prism_add(prism_tensor_t a, prism_tensor_t b, double alpha, prism_tensor_t* out);
PRISM_API prism_status prism_add_(prism_tensor_t a, prism_tensor_t b, double alpha);
PRISM_API prism_status prism_sub(prism_tensor_t a, prism_tensor_t b, double alpha, prism_tensor_t* out);
PRISM_API prism_status prism_sub_(prism_tensor_t a, prism_tensor_t b, double alpha);

#define PRISM_DECLARE_BINARY(name)                                                              \
  PRISM_API prism_status prism_##name(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out); \
  PRISM_API prism_status prism_##name##_(prism_tensor_t a, prism_tensor_t b);

/* Binary ops with broadcasting and type promotion. div is true division. */
PRISM_DECLARE_BINARY(mul)
PRISM_DECLARE_BINARY(div)
PRISM_DECLARE_BINARY(remainder)
PRISM_DECLARE_BINARY(pow)
PRISM_DECLARE_BINARY(maximum)
PRISM_DECLARE_BINARY(minimum)
/* Float-only, integer inputs give float32 (C99 atan2/hypot/copysign/nextafter;
 * logaddexp = log(exp(a) + exp(b)) without overflow). nextafter takes f32/f64. */
PRISM_DECLARE_BINARY(atan2)
PRISM_DECLARE_BINARY(hypot)
PRISM_DECLARE_BINARY(copysign)
PRISM_DECLARE_BINARY(logaddexp)
PRISM_DECLARE_BINARY(nextafter)
/* Bitwise ops on integer (and, for and/or/xor, bool) tensors; floats are
 * refused. Exact in every integer dtype. Shifts: a count outside [0, bits)
 * gives 0 (left) or the sign fill 0/-1 (right); right shifts of signed types
 * are arithmetic. */
PRISM_DECLARE_BINARY(bitwise_and)
PRISM_DECLARE_BINARY(bitwise_or)
PRISM_DECLARE_BINARY(bitwise_xor)
PRISM_DECLARE_BINARY(bitwise_left_shift)
PRISM_DECLARE_BINARY(bitwise_right_shift)

typedef enum prism_rounding_mode {
  PRISM_ROUNDING_NONE = 0, /* true division */
  PRISM_ROUNDING_FLOOR = 1,
  PRISM_ROUNDING_TRUNC = 2,
  PRISM_ROUNDING_FORCE_32BIT = 0x7FFFFFFF /* not a mode: makes every int32 a valid value */
} prism_rounding_mode;

/* torch.div(a, b, rounding_mode=...). */
PRISM_API prism_status prism_div_mode(prism_tensor_t a, prism_tensor_t b, prism_rounding_mode mode,
                                      prism_tensor_t* out);

#define PRISM_DECLARE_PREDICATE(name) \
  PRISM_API prism_status prism_##name(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out);

/* Comparisons and logical ops: broadcasting, result dtype bool. */
PRISM_DECLARE_PREDICATE(eq)
PRISM_DECLARE_PREDICATE(ne)
PRISM_DECLARE_PREDICATE(lt)
PRISM_DECLARE_PREDICATE(le)
PRISM_DECLARE_PREDICATE(gt)
PRISM_DECLARE_PREDICATE(ge)
PRISM_DECLARE_PREDICATE(logical_and)
PRISM_DECLARE_PREDICATE(logical_or)
PRISM_DECLARE_PREDICATE(logical_xor)
PRISM_API prism_status prism_logical_not(prism_tensor_t x, prism_tensor_t* out);
/* Elementwise tests, result dtype bool, same shape as x (a new tensor in *out).
 * Integers are never NaN or infinite; signbit is x < 0 for integers and the
 * sign bit for floats (true for -0.0); signbit refuses bool. */
PRISM_API prism_status prism_isnan(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_isinf(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_isfinite(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_signbit(prism_tensor_t x, prism_tensor_t* out);
/* Complex parts (complex64 -> float32, complex128 -> float64; *out a new tensor): real(x), imag(x),
 * and conj(x) (same complex dtype). For a real x, real and conj give x itself (a new handle to the
 * same tensor) and imag is refused, as in PyTorch. complex64/complex128 run on devices whose kernels
 * declare them (the CPU plugin); elsewhere the fallback policy applies. */
PRISM_API prism_status prism_real(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_imag(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_conj(prism_tensor_t x, prism_tensor_t* out);

/* out = cond ? a : b (three-way broadcasting; cond must be bool). */
PRISM_API prism_status prism_where(prism_tensor_t cond, prism_tensor_t a, prism_tensor_t b,
                                   prism_tensor_t* out);
/* Clamp into [*min, *max]; either pointer may be NULL (unbounded), not both. */
PRISM_API prism_status prism_clamp(prism_tensor_t x, const double* min, const double* max,
                                   prism_tensor_t* out);
PRISM_API prism_status prism_clamp_(prism_tensor_t x, const double* min, const double* max);

/* ===========================================================================
 * Reductions. dims/n_dims per Note [User ABI conventions]; keepdim 0 or 1.
 * ======================================================================== */

#define PRISM_DECLARE_REDUCTION(name)                                                        \
  PRISM_API prism_status prism_##name(prism_tensor_t x, const int64_t* dims, int32_t n_dims, \
                                      int32_t keepdim, prism_tensor_t* out);

PRISM_DECLARE_REDUCTION(sum)  /* bool/int -> int64 */
PRISM_DECLARE_REDUCTION(prod) /* bool/int -> int64 */
PRISM_DECLARE_REDUCTION(mean) /* floats only */
PRISM_DECLARE_REDUCTION(amax)
PRISM_DECLARE_REDUCTION(amin)
PRISM_DECLARE_REDUCTION(all)       /* -> bool */
PRISM_DECLARE_REDUCTION(any)       /* -> bool */
PRISM_DECLARE_REDUCTION(logsumexp) /* floats */

/* Variance / standard deviation with Bessel-style `correction` (1 = unbiased). */
PRISM_API prism_status prism_var(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int64_t correction,
                                 int32_t keepdim, prism_tensor_t* out);
PRISM_API prism_status prism_std(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int64_t correction,
                                 int32_t keepdim, prism_tensor_t* out);
/* p-norm (p may be INFINITY, -INFINITY, 0 or any real). */
PRISM_API prism_status prism_norm(prism_tensor_t x, double p, const int64_t* dims, int32_t n_dims,
                                  int32_t keepdim, prism_tensor_t* out);
/* Max / min of all elements (0-d). Empty input is an error. */
PRISM_API prism_status prism_max(prism_tensor_t x, prism_tensor_t* out);
PRISM_API prism_status prism_min(prism_tensor_t x, prism_tensor_t* out);
/* (values, indices) along one dim. */
PRISM_API prism_status prism_max_dim(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* values,
                                     prism_tensor_t* indices);
PRISM_API prism_status prism_min_dim(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* values,
                                     prism_tensor_t* indices);

/* Pass as `dim` to arg-reductions to reduce over the flattened tensor. */
#define PRISM_DIM_NONE INT64_MIN
PRISM_API prism_status prism_argmax(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* out);
PRISM_API prism_status prism_argmin(prism_tensor_t x, int64_t dim, int32_t keepdim, prism_tensor_t* out);

/* ===========================================================================
 * Linear algebra, joining and splitting, comparison of whole tensors
 * ======================================================================== */

/* torch.matmul rules (1-D/2-D/N-D with batch broadcasting). */
PRISM_API prism_status prism_matmul(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out);
/* (B,M,K) x (B,K,N) -> (B,M,N), no broadcasting. */
PRISM_API prism_status prism_bmm(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out);

/* Concatenates n >= 1 tensors (borrowed array) along dim; dtypes promote. */
PRISM_API prism_status prism_cat(const prism_tensor_t* tensors, size_t n, int64_t dim, prism_tensor_t* out);
/* Stacks n >= 1 same-shaped tensors along a new dim. */
PRISM_API prism_status prism_stack(const prism_tensor_t* tensors, size_t n, int64_t dim, prism_tensor_t* out);
/* Views of pieces of `split_size` (last may be smaller). Writes at most
 * `capacity` handles to outs and the piece count to *n_out (out); when
 * capacity is too small it fails, writing only *n_out. */
PRISM_API prism_status prism_split(prism_tensor_t t, int64_t split_size, int64_t dim, prism_tensor_t* outs,
                                   size_t capacity, size_t* n_out);
/* Views of the given sizes (must sum to the dim's size). */
PRISM_API prism_status prism_split_sizes(prism_tensor_t t, const int64_t* sizes, size_t n_sizes, int64_t dim,
                                         prism_tensor_t* outs, size_t capacity, size_t* n_out);
/* torch.chunk: ceil(size / chunks) per piece; may return fewer pieces. */
PRISM_API prism_status prism_chunk(prism_tensor_t t, int64_t chunks, int64_t dim, prism_tensor_t* outs,
                                   size_t capacity, size_t* n_out);

/* *result (out) = 1 when same sizes and equal elements (dtypes promote). */
PRISM_API prism_status prism_equal(prism_tensor_t a, prism_tensor_t b, int32_t* result);
/* *result (out) = 1 when |a - b| <= atol + rtol * |b| everywhere (broadcasting). */
PRISM_API prism_status prism_allclose(prism_tensor_t a, prism_tensor_t b, double rtol, double atol,
                                      int32_t equal_nan, int32_t* result);

/* ===========================================================================
 * Random creation (global generator, see prism_manual_seed)
 * ======================================================================== */

/* Uniform [0, 1) (floats). */
PRISM_API prism_status prism_rand(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                  prism_tensor_t* out);
/* Standard normal (floats). */
PRISM_API prism_status prism_randn(const int64_t* sizes, int32_t ndim, prism_dtype dtype, const char* device,
                                   prism_tensor_t* out);
/* Integers uniform in [low, high). */
PRISM_API prism_status prism_randint(int64_t low, int64_t high, const int64_t* sizes, int32_t ndim,
                                     prism_dtype dtype, const char* device, prism_tensor_t* out);
/* A random permutation of 0 .. n-1. */
PRISM_API prism_status prism_randperm(int64_t n, prism_dtype dtype, const char* device, prism_tensor_t* out);
/* 1 with probability p[i] (float tensor in [0, 1]), same shape/dtype as p. */
PRISM_API prism_status prism_bernoulli(prism_tensor_t p, prism_tensor_t* out);
/* 1 with probability p everywhere. */
PRISM_API prism_status prism_bernoulli_scalar(const int64_t* sizes, int32_t ndim, double p, prism_dtype dtype,
                                              const char* device, prism_tensor_t* out);

/* ===========================================================================
 * Autograd (define-by-run; see DESIGN.md §5). Gradients are computed in the
 * core from dispatcher ops, so they work on every device.
 * ======================================================================== */

/* Sets requires_grad on a leaf (floating point dtypes only). Turning it off
 * on a non-leaf is an error (use prism_detach). */
PRISM_API prism_status prism_tensor_set_requires_grad(prism_tensor_t t, int32_t requires_grad);
/* 1 when t requires grad (a leaf with requires_grad, or a result with a grad_fn). */
PRISM_API int32_t prism_tensor_requires_grad(prism_tensor_t t);
/* 1 when t has no grad_fn (created by the user, or not requiring grad). */
PRISM_API int32_t prism_tensor_is_leaf(prism_tensor_t t);
/* *grad (out) = a new reference to t's accumulated gradient, or NULL when it
 * has none (status is still PRISM_OK). */
PRISM_API prism_status prism_tensor_grad(prism_tensor_t t, prism_tensor_t* grad);
/* Replaces t's gradient (`grad` borrowed; NULL clears it). Same shape, dtype, device. */
PRISM_API prism_status prism_tensor_set_grad(prism_tensor_t t, prism_tensor_t grad);
/* Zeroes t's gradient in place, or drops it when set_to_none is 1. */
PRISM_API prism_status prism_tensor_zero_grad(prism_tensor_t t, int32_t set_to_none);
/* Asks a non-leaf tensor to keep its .grad during backward. */
PRISM_API prism_status prism_tensor_retain_grad(prism_tensor_t t);
/* Name of t's grad_fn ("MulBackward", "AccumulateGrad" never: leaves return
 * ""). The string lives as long as the runtime. */
PRISM_API const char* prism_tensor_grad_fn_name(prism_tensor_t t);
/* Names of the next functions of t's grad_fn (one per differentiable input;
 * "" for an input that needs no gradient, "AccumulateGrad" for a leaf).
 * Writes at most `capacity` pointers and the count to *n (out). */
PRISM_API prism_status prism_tensor_grad_fn_next(prism_tensor_t t, const char** names, size_t capacity,
                                                 size_t* n);

/* Backpropagates from t. `grad` may be NULL for a one-element t (ones).
 * Gradients accumulate into the .grad of every leaf that requires grad.
 * With retain_graph = 0 the graph's saved tensors are freed. */
PRISM_API prism_status prism_backward(prism_tensor_t t, prism_tensor_t grad, int32_t retain_graph);
/* Gradients of outputs[0..n_outputs) w.r.t. inputs[0..n_inputs), written to
 * results[0..n_inputs) (new references) without touching any .grad.
 * grad_outputs may be NULL (every output must then have one element). An
 * input the outputs do not depend on gives NULL when allow_unused is 1 and
 * an error otherwise. */
PRISM_API prism_status prism_autograd_grad(const prism_tensor_t* outputs, size_t n_outputs,
                                           const prism_tensor_t* grad_outputs, const prism_tensor_t* inputs,
                                           size_t n_inputs, int32_t retain_graph, int32_t allow_unused,
                                           prism_tensor_t* results);

/* no_grad for the calling thread: enter/exit pairs nest. While disabled, no
 * graph is recorded (and no graph memory is kept). */
PRISM_API prism_status prism_no_grad_enter(void);
PRISM_API prism_status prism_no_grad_exit(void);
/* 1 when gradient recording is enabled on this thread. */
PRISM_API int32_t prism_is_grad_enabled(void);
/* Anomaly mode (process-wide): backward checks every gradient for NaN/Inf
 * and fails naming the backward function and the forward op. */
PRISM_API prism_status prism_set_anomaly_enabled(int32_t enabled);

/* A tensor sharing t's storage that never requires grad. */
PRISM_API prism_status prism_detach(prism_tensor_t t, prism_tensor_t* out);
/* Detaches t itself from the graph (it becomes a leaf without requires_grad). */
PRISM_API prism_status prism_detach_(prism_tensor_t t);

/* A gradient hook: called with the gradient (borrowed) before it is used. It
 * may write a replacement gradient (a new reference, same shape, given to the
 * core) to *replacement, or leave it NULL. A non-OK status aborts backward
 * with that status. */
typedef prism_status (*prism_grad_hook_fn)(prism_tensor_t grad, void* ctx, prism_tensor_t* replacement);
/* Registers a hook on t (which must require grad); *handle (out) identifies it.
 * `ctx` is borrowed until the hook is removed or until t and every graph
 * node built from t are freed (the graph keeps t's grad_fn, and the hook). */
PRISM_API prism_status prism_tensor_register_hook(prism_tensor_t t, prism_grad_hook_fn hook, void* ctx,
                                                  int32_t* handle);
PRISM_API prism_status prism_tensor_remove_hook(prism_tensor_t t, int32_t handle);

/* ===========================================================================
 * Neural-network ops (docs/ops.md, "Neural-network ops"). Each writes a new
 * tensor to *out (one reference for the caller) and records autograd when an
 * input requires grad. Tensor arguments documented "optional" may be NULL;
 * every other handle must be non-NULL. float16 / bfloat16 inputs compute in
 * float32 where PyTorch accumulates in float (softmax, losses, norms, matmul,
 * conv) and return the input's dtype.
 * ======================================================================== */

/* How a loss reduces its per-element values. */
typedef enum prism_reduction {
  PRISM_REDUCTION_NONE = 0,                /* per-element losses, the target's shape */
  PRISM_REDUCTION_MEAN = 1,                /* 0-d mean (weighted mean where the loss has class weights) */
  PRISM_REDUCTION_SUM = 2,                 /* 0-d sum */
  PRISM_REDUCTION_FORCE_32BIT = 0x7FFFFFFF /* not a reduction: makes every int32 a valid value */
} prism_reduction;

/* PyTorch's default ignore_index for the class-index losses. */
#define PRISM_IGNORE_INDEX_DEFAULT (-100)

/* softmax / log_softmax of a float tensor along `dim` (negative counts from the end). */
PRISM_API prism_status prism_softmax(prism_tensor_t x, int64_t dim, prism_tensor_t* out);
PRISM_API prism_status prism_log_softmax(prism_tensor_t x, int64_t dim, prism_tensor_t* out);
/* Cross-entropy of logits `input` (C), (N, C) or (N, C, d1, ...) with
 * `target` either integer class indices of shape (), (N) or (N, d1, ...), or
 * float class probabilities of the input's shape. weight (optional): (C)
 * class weights. ignore_index: targets equal to it contribute nothing
 * (indices only; pass PRISM_IGNORE_INDEX_DEFAULT). label_smoothing in [0, 1].
 * MEAN over indices divides by the sum of the targets' weights, as PyTorch;
 * over probabilities by the number of samples. A target outside [0, C) is an
 * error ("Target 12 is out of bounds."). */
PRISM_API prism_status prism_cross_entropy(prism_tensor_t input, prism_tensor_t target, prism_tensor_t weight,
                                           int64_t ignore_index, double label_smoothing,
                                           prism_reduction reduction, prism_tensor_t* out);
/* Negative log-likelihood of log-probabilities `input` (shapes and weight as
 * prism_cross_entropy with class indices). */
PRISM_API prism_status prism_nll_loss(prism_tensor_t input, prism_tensor_t target, prism_tensor_t weight,
                                      int64_t ignore_index, prism_reduction reduction, prism_tensor_t* out);
/* Binary cross-entropy on logits; target has the input's shape. weight and
 * pos_weight (optional) broadcast against the input. */
PRISM_API prism_status prism_binary_cross_entropy_with_logits(prism_tensor_t input, prism_tensor_t target,
                                                              prism_tensor_t weight,
                                                              prism_tensor_t pos_weight,
                                                              prism_reduction reduction, prism_tensor_t* out);
/* (input - target)^2, |input - target|, Huber (delta > 0) and smooth L1
 * (beta >= 0; 0 = L1) losses; input and target broadcast. */
PRISM_API prism_status prism_mse_loss(prism_tensor_t input, prism_tensor_t target, prism_reduction reduction,
                                      prism_tensor_t* out);
PRISM_API prism_status prism_l1_loss(prism_tensor_t input, prism_tensor_t target, prism_reduction reduction,
                                     prism_tensor_t* out);
PRISM_API prism_status prism_huber_loss(prism_tensor_t input, prism_tensor_t target, double delta,
                                        prism_reduction reduction, prism_tensor_t* out);
PRISM_API prism_status prism_smooth_l1_loss(prism_tensor_t input, prism_tensor_t target, double beta,
                                            prism_reduction reduction, prism_tensor_t* out);
/* input (..., in) @ weight(out, in)^T + bias (optional, (out)). */
PRISM_API prism_status prism_linear(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                    prism_tensor_t* out);
/* Zeroes each element with probability p (0 <= p <= 1) and scales the rest by
 * 1 / (1 - p) when training is 1; returns the input itself (a new reference)
 * when training is 0. The mask comes from the global Philox generator
 * (prism_manual_seed), so it is the same on every device. */
PRISM_API prism_status prism_dropout(prism_tensor_t input, double p, int32_t training, prism_tensor_t* out);
/* Normalises over the last n_normalized dims, whose sizes are
 * normalized_shape[0 .. n_normalized) (n_normalized >= 1); weight and bias
 * (optional) have that shape. Biased variance, eps added inside the sqrt. */
PRISM_API prism_status prism_layer_norm(prism_tensor_t input, const int64_t* normalized_shape,
                                        int32_t n_normalized, prism_tensor_t weight, prism_tensor_t bias,
                                        double eps, prism_tensor_t* out);
/* Batch normalisation of input (N, C, ...) per channel. training = 1: batch
 * statistics; running_mean / running_var (optional, (C), both or neither)
 * are updated in place: running = (1 - momentum) * running + momentum * stat,
 * with the unbiased batch variance. training = 0: normalises with the
 * running statistics (then required). weight, bias optional (C). */
PRISM_API prism_status prism_batch_norm(prism_tensor_t input, prism_tensor_t running_mean,
                                        prism_tensor_t running_var, prism_tensor_t weight,
                                        prism_tensor_t bias, int32_t training, double momentum, double eps,
                                        prism_tensor_t* out);
/* 2-D convolution (cross-correlation) of input (N, C, H, W) or (C, H, W) with
 * weight (O, C / groups, kH, kW) and bias (optional, (O)). stride, padding
 * and dilation point to {h, w} pairs (borrowed); NULL means 1, 0 and 1. */
PRISM_API prism_status prism_conv2d(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                    const int64_t* stride, const int64_t* padding, const int64_t* dilation,
                                    int64_t groups, prism_tensor_t* out);
/* 2-D max / average pooling of (N, C, H, W) or (C, H, W). kernel_size points
 * to {kH, kW} (required); stride NULL = kernel_size; padding NULL = 0 (at most
 * half the kernel). No ceil_mode. count_include_pad 1 divides every window by
 * kH * kW (PyTorch's default), 0 by the number of unpadded elements. */
PRISM_API prism_status prism_max_pool2d(prism_tensor_t input, const int64_t* kernel_size,
                                        const int64_t* stride, const int64_t* padding, prism_tensor_t* out);
PRISM_API prism_status prism_avg_pool2d(prism_tensor_t input, const int64_t* kernel_size,
                                        const int64_t* stride, const int64_t* padding,
                                        int32_t count_include_pad, prism_tensor_t* out);

/* ===========================================================================
 * Optimizer updates (docs/ops.md, Note [Fused optimizer updates]): one
 * step of torch.optim.SGD / Adam / AdamW on one parameter, as one op. A
 * plugin kernel runs it in one pass; devices without one get the same
 * arithmetic as a composite. No autograd is recorded. param and the state
 * tensors are updated in place; grad is read. All share param's shape,
 * floating dtype and device. The C++ optimizers in prism/optim.hpp drive
 * these for whole parameter groups.
 * ======================================================================== */

typedef enum prism_sgd_flags {
  PRISM_SGD_NESTEROV = 1,    /* Nesterov momentum (needs momentum > 0, dampening 0) */
  PRISM_SGD_MAXIMIZE = 2,    /* ascend: use -grad */
  PRISM_SGD_INIT_BUFFER = 4, /* first step: momentum_buffer <- d_p (PyTorch's clone) */
  PRISM_SGD_FLAGS_FORCE_32BIT = 0x7FFFFFFF
} prism_sgd_flags;

/* SGD: d = grad (negated with MAXIMIZE) + weight_decay * param; with
 * momentum != 0: buf = INIT_BUFFER ? d : momentum * buf + (1 - dampening) * d,
 * d = NESTEROV ? d + momentum * buf : buf; then param -= lr * d.
 * `momentum_buffer` may be NULL when momentum is 0. `flags` ORs prism_sgd_flags. */
PRISM_API prism_status prism_sgd_update(prism_tensor_t param, prism_tensor_t grad,
                                        prism_tensor_t momentum_buffer, double lr, double momentum,
                                        double dampening, double weight_decay, uint32_t flags);

typedef enum prism_adam_flags {
  PRISM_ADAM_AMSGRAD = 1,                /* keep the running max of exp_avg_sq */
  PRISM_ADAM_MAXIMIZE = 2,               /* ascend: use -grad */
  PRISM_ADAM_DECOUPLED_WEIGHT_DECAY = 4, /* AdamW: param *= 1 - lr * weight_decay */
  PRISM_ADAM_FLAGS_FORCE_32BIT = 0x7FFFFFFF
} prism_adam_flags;

/* Adam / AdamW step number `step` (1 on the first call; the caller counts):
 * g = grad (negated with MAXIMIZE), plus weight_decay * param unless
 * DECOUPLED_WEIGHT_DECAY (then param *= 1 - lr * weight_decay);
 * exp_avg = beta1 * exp_avg + (1 - beta1) * g;
 * exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g;
 * with AMSGRAD max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq) is used below;
 * param -= lr / (1 - beta1^step) * exp_avg / (sqrt(v) / sqrt(1 - beta2^step) + eps).
 * `max_exp_avg_sq` may be NULL without AMSGRAD. State tensors start at zero. */
PRISM_API prism_status prism_adam_update(prism_tensor_t param, prism_tensor_t grad, prism_tensor_t exp_avg,
                                         prism_tensor_t exp_avg_sq, prism_tensor_t max_exp_avg_sq, double lr,
                                         double beta1, double beta2, double eps, double weight_decay,
                                         int64_t step, uint32_t flags);

/* ===========================================================================
 * Checkpoints: safetensors files (Note [Safetensors format] in
 * core/io/safetensors.hpp). Files written here load in PyTorch / the
 * `safetensors` package and the other way round. Reading is strict: a
 * corrupt, truncated or inconsistent file is an INVALID_ARGUMENT error naming
 * the file and the tensor, never a crash.
 * ======================================================================== */

/* An opened, fully validated safetensors file held in host memory (opaque). */
typedef struct prism_safetensors_s* prism_safetensors_t;

/* Writes `n` tensors (any device, any layout; borrowed) under `names` (n
 * non-NULL, unique, non-empty UTF-8 strings, not "__metadata__") to `path`,
 * replacing it atomically: the data goes to a new temporary file in the
 * target's directory (created exclusively, never through a symlink), is
 * fsync'ed and renamed over the target, and the directory is fsync'ed. A
 * symlink as `path` is followed (its target is replaced); a target that is a
 * directory, FIFO or device is refused. On any failure the previous file is
 * unchanged and no temporary file remains; I/O failures (disk full, file too
 * large for RLIMIT_FSIZE, which raises no SIGXFSZ) are PRISM_ERROR_IO.
 * Concurrent saves to one path (threads or processes) each write a whole
 * file; the last rename wins. `metadata_keys`/`metadata_values` hold
 * `n_metadata` UTF-8 string pairs for the header's "__metadata__" map; both
 * may be NULL when n_metadata is 0. Data is written row-major little-endian,
 * tensors ordered by element size then name. Dtypes: the ten real Prism dtypes (complex64/128 are
 * refused: safetensors has no complex dtype). */
PRISM_API prism_status prism_safetensors_save(const char* path, const char* const* names,
                                              const prism_tensor_t* tensors, size_t n,
                                              const char* const* metadata_keys,
                                              const char* const* metadata_values, size_t n_metadata);
/* Reads and validates the file at `path`; *out (out) = a new handle the caller
 * closes with prism_safetensors_close(). */
PRISM_API prism_status prism_safetensors_open(const char* path, prism_safetensors_t* out);
/* The same for `bytes` bytes at `data` (copied; the caller keeps `data`). */
PRISM_API prism_status prism_safetensors_open_memory(const void* data, size_t bytes,
                                                     prism_safetensors_t* out);
/* Frees the handle and every string it returned. NULL is a no-op; a handle
 * closed already or never returned by Prism is INVALID_ARGUMENT (as in every
 * call taking a prism_safetensors_t). Tensors read from it stay valid (they
 * own their memory). */
PRISM_API prism_status prism_safetensors_close(prism_safetensors_t f);
/* *n (out) = the number of tensors in the file. */
PRISM_API prism_status prism_safetensors_count(prism_safetensors_t f, size_t* n);
/* *name (out) = the name of tensor `index` (0 .. count-1, in data order);
 * owned by the handle, valid until prism_safetensors_close(). */
PRISM_API prism_status prism_safetensors_name(prism_safetensors_t f, size_t index, const char** name);
/* Dtype (written to *dtype unless NULL), sizes (written to sizes[0 ..
 * capacity), capacity >= ndim) and *ndim (out) of tensor `name`, without
 * reading its data. */
PRISM_API prism_status prism_safetensors_info(prism_safetensors_t f, const char* name, prism_dtype* dtype,
                                              int64_t* sizes, int32_t capacity, int32_t* ndim);
/* *out (out) = a new tensor on `device` (NULL = "cpu"; map_location) holding a
 * copy of tensor `name`. A missing name is an error naming the file. */
PRISM_API prism_status prism_safetensors_get(prism_safetensors_t f, const char* name, const char* device,
                                             prism_tensor_t* out);
/* *n (out) = the number of "__metadata__" entries. */
PRISM_API prism_status prism_safetensors_metadata_count(prism_safetensors_t f, size_t* n);
/* *key and *value (out) = metadata entry `index` (in key order); owned by the
 * handle, valid until prism_safetensors_close(). */
PRISM_API prism_status prism_safetensors_metadata_get(prism_safetensors_t f, size_t index, const char** key,
                                                      const char** value);

/* ===========================================================================
 * Indexing (docs/ops.md, "Indexing"). Functions with `out` write a new tensor
 * (one reference for the caller); functions ending in `_` write into their
 * first argument. Index tensors are int64 or int32 (int32 is converted) and
 * live on the indexed tensor's device; masks are bool. Out-of-range indices
 * are INVALID_ARGUMENT errors naming the op, the index, the dim and its size
 * ("index 5 is out of bounds for dimension 0 with size 3"), and nothing is
 * written. Every handle must be non-NULL. Gradients flow to float inputs
 * (docs/ops.md lists which argument of each op is differentiable).
 * ======================================================================== */

/* The kind of one entry of a subscript t[...]. */
typedef enum prism_index_kind {
  PRISM_INDEX_INT = 0,                 /* `value`: selects one element, removing the dim */
  PRISM_INDEX_SLICE = 1,               /* start:stop:step (clamped as Python; step > 0) */
  PRISM_INDEX_ELLIPSIS = 2,            /* `...`: the dims no other entry consumes (at most one) */
  PRISM_INDEX_NONE = 3,                /* None: inserts a dim of size 1 */
  PRISM_INDEX_TENSOR = 4,              /* `tensor`: int64/int32 indices or a bool mask (advanced indexing) */
  PRISM_INDEX_FORCE_32BIT = 0x7FFFFFFF /* not a kind: makes every int32 a valid value */
} prism_index_kind;

/* `stop` of an open-ended slice (start:). */
#define PRISM_SLICE_END INT64_MAX

/* One entry of a subscript. The caller sets struct_size to
 * sizeof(prism_tensor_index) in every element of an array (the array is
 * stepped by it); fields other than those of `kind` are ignored. */
typedef struct prism_tensor_index {
  size_t struct_size;
  int32_t kind;          /* a prism_index_kind */
  int64_t value;         /* PRISM_INDEX_INT; negative counts from the end */
  int64_t start;         /* PRISM_INDEX_SLICE: negative counts from the end */
  int64_t stop;          /* PRISM_INDEX_SLICE: exclusive; PRISM_SLICE_END for none */
  int64_t step;          /* PRISM_INDEX_SLICE: > 0 ("step must be greater than zero") */
  prism_tensor_t tensor; /* PRISM_INDEX_TENSOR: borrowed for the call */
} prism_tensor_index;

/* out = t[indices[0], ..., indices[n-1]] (`indices` borrowed; NULL only when
 * n = 0). Integers, slices, `...` and None give a view sharing t's storage;
 * index tensors and masks give a copy with PyTorch's advanced-indexing rules
 * (index tensors broadcast together; their dims replace the indexed dims
 * where those are adjacent, else they come first). */
PRISM_API prism_status prism_index(prism_tensor_t t, const prism_tensor_index* indices, size_t n,
                                   prism_tensor_t* out);
/* t[indices] = values (accumulate 0), or += (accumulate 1; duplicate indices
 * add up). values broadcast to the shape of t[indices] and are cast to t's
 * dtype. Writes into t's memory (through views too). */
PRISM_API prism_status prism_index_put_(prism_tensor_t t, const prism_tensor_index* indices, size_t n,
                                        prism_tensor_t values, int32_t accumulate);
/* torch.index_put: a copy of t with t[tensors[0], ..., tensors[n-1]] =
 * values (or += with accumulate); `tensors` (borrowed, n >= 1) holds index
 * tensors or masks for the leading dims. */
PRISM_API prism_status prism_index_put(prism_tensor_t t, const prism_tensor_t* tensors, size_t n,
                                       prism_tensor_t values, int32_t accumulate, prism_tensor_t* out);

/* Elements of x at `index` (1-d or 0-d, values in [0, size)) along dim. */
PRISM_API prism_status prism_index_select(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                          prism_tensor_t* out);
/* x with alpha * src[..., j, ...] added at x[..., index[j], ...] along dim
 * (src: x's shape with index's length at dim). Duplicates add up, in index
 * order (deterministic). */
PRISM_API prism_status prism_index_add(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                       prism_tensor_t src, double alpha, prism_tensor_t* out);
PRISM_API prism_status prism_index_add_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                        prism_tensor_t src, double alpha);
/* x with the slices at `index` (negative counts from the end) along dim set to value. */
PRISM_API prism_status prism_index_fill(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value,
                                        prism_tensor_t* out);
PRISM_API prism_status prism_index_fill_(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value);

/* out[i][j] = x[index[i][j]][j] (dim 0), ...: out has index's shape; index has
 * x's number of dims and is no larger than x outside dim. */
PRISM_API prism_status prism_gather(prism_tensor_t x, int64_t dim, prism_tensor_t index, prism_tensor_t* out);
/* x with x[index[i][j]][j] = src[i][j] (dim 0), ...; index no larger than src,
 * nor than x outside dim. Duplicate targets: the last write wins. */
PRISM_API prism_status prism_scatter(prism_tensor_t x, int64_t dim, prism_tensor_t index, prism_tensor_t src,
                                     prism_tensor_t* out);
PRISM_API prism_status prism_scatter_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                      prism_tensor_t src);
/* The same with every written element = value. */
PRISM_API prism_status prism_scatter_value(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value,
                                           prism_tensor_t* out);
PRISM_API prism_status prism_scatter_value_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                            double value);
/* How prism_scatter_reduce combines the values that reach one place. */
typedef enum prism_scatter_reduce_op {
  PRISM_SCATTER_REDUCE_SUM = 0,
  PRISM_SCATTER_REDUCE_PROD = 1,
  PRISM_SCATTER_REDUCE_AMAX = 2,                /* NaN propagates */
  PRISM_SCATTER_REDUCE_AMIN = 3,                /* NaN propagates */
  PRISM_SCATTER_REDUCE_FORCE_32BIT = 0x7FFFFFFF /* not an op: makes every int32 a valid value */
} prism_scatter_reduce_op;

/* torch.scatter_reduce: x with the src values scattered as by prism_scatter
 * combined by `reduce` at each target, together with x's own value when
 * include_self is 1 (else targets hold only the combined src values). The
 * gradient of amax/amin is shared evenly between tied values; prod's needs
 * inputs without zeros (docs/ops.md). */
PRISM_API prism_status prism_scatter_reduce(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                            prism_tensor_t src, prism_scatter_reduce_op reduce,
                                            int32_t include_self, prism_tensor_t* out);
/* x with src added at the scattered positions (duplicates add up, deterministic). */
PRISM_API prism_status prism_scatter_add(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                         prism_tensor_t src, prism_tensor_t* out);
PRISM_API prism_status prism_scatter_add_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                          prism_tensor_t src);

/* x with value where the bool mask (broadcast with x) is true. The in-place
 * forms need the mask to broadcast to x's shape. _tensor: value is a 0-d
 * tensor (differentiable). */
PRISM_API prism_status prism_masked_fill(prism_tensor_t x, prism_tensor_t mask, double value,
                                         prism_tensor_t* out);
PRISM_API prism_status prism_masked_fill_(prism_tensor_t x, prism_tensor_t mask, double value);
PRISM_API prism_status prism_masked_fill_tensor(prism_tensor_t x, prism_tensor_t mask, prism_tensor_t value,
                                                prism_tensor_t* out);
PRISM_API prism_status prism_masked_fill_tensor_(prism_tensor_t x, prism_tensor_t mask, prism_tensor_t value);
/* 1-d copy of the elements of x where the bool mask is true (x and mask broadcast). */
PRISM_API prism_status prism_masked_select(prism_tensor_t x, prism_tensor_t mask, prism_tensor_t* out);
/* x seen as 1-d, at `index` (any shape; negative counts from the end): out has index's shape. */
PRISM_API prism_status prism_take(prism_tensor_t x, prism_tensor_t index, prism_tensor_t* out);
/* int64 [n, ndim]: the coordinates of the n non-zero elements, row-major order. */
PRISM_API prism_status prism_nonzero(prism_tensor_t x, prism_tensor_t* out);
/* Lower / upper triangle of the last two dims (x has >= 2 dims): keeps
 * elements with col - row <= diagonal (tril) or >= diagonal (triu). */
PRISM_API prism_status prism_tril(prism_tensor_t x, int64_t diagonal, prism_tensor_t* out);
PRISM_API prism_status prism_triu(prism_tensor_t x, int64_t diagonal, prism_tensor_t* out);
/* Inclusive running sum / product along dim; bool and integer inputs give
 * int64 (cast x first for another dtype). */
PRISM_API prism_status prism_cumsum(prism_tensor_t x, int64_t dim, prism_tensor_t* out);
PRISM_API prism_status prism_cumprod(prism_tensor_t x, int64_t dim, prism_tensor_t* out);
/* Sorts along dim (ascending unless descending = 1; NaN sorts as the largest
 * value). Always stable: `stable` is accepted for PyTorch parity. Writes the
 * values and their int64 positions in x. */
PRISM_API prism_status prism_sort(prism_tensor_t x, int64_t dim, int32_t descending, int32_t stable,
                                  prism_tensor_t* values, prism_tensor_t* indices);
/* The k (0 <= k <= size) largest (largest = 1) or smallest values along dim
 * and their int64 positions, always sorted (ties: lower position first). */
PRISM_API prism_status prism_topk(prism_tensor_t x, int64_t k, int64_t dim, int32_t largest, int32_t sorted,
                                  prism_tensor_t* values, prism_tensor_t* indices);
/* int64 one-hot encoding of the int64 class indices x, a new last dim of
 * num_classes (-1: max(x) + 1). */
PRISM_API prism_status prism_one_hot(prism_tensor_t x, int64_t num_classes, prism_tensor_t* out);

/* `padding_idx` of prism_embedding when no row is padding. */
#define PRISM_PADDING_IDX_NONE INT64_MIN
/* Rows of weight (num, dim) at the int64/int32 indices: out is indices'
 * shape + (dim). The row at padding_idx (negative counts from the end, or
 * PRISM_PADDING_IDX_NONE) gets no gradient. The gradient of weight adds rows
 * in index order (deterministic). */
PRISM_API prism_status prism_embedding(prism_tensor_t weight, prism_tensor_t indices, int64_t padding_idx,
                                       prism_tensor_t* out);

/* ===========================================================================
 * Data files
 * ======================================================================== */

/* Reads an IDX file (the MNIST / Fashion-MNIST format; plain or
 * gzip-compressed, e.g. the .gz files in /usr/share/datasets/fashion-mnist) into a new
 * tensor on `device` (NULL = "cpu") with the file's sizes and dtype (u8, i8,
 * i16, i32, f32, f64; big-endian data is converted). A truncated, padded or
 * malformed file is an INVALID_ARGUMENT error naming it. */
PRISM_API prism_status prism_load_idx(const char* path, const char* device, prism_tensor_t* out);

/* ===========================================================================
 * Distributed: collectives across processes and hosts
 * ======================================================================== */

/*
 * Collectives run on a communicator plugin (libprism-comm-<name>.so: "gloo",
 * the default, over TCP; "mpi"; "nccl"/"rccl" where built), found like device
 * plugins and listed by `prism info` (kind "comm"). A process joins the world
 * once with prism_dist_init; `prism run -n N program` starts N processes with
 * the environment it reads. Every rank of a group must issue the same
 * collectives in the same order.
 *
 * Groups: NULL means the world group everywhere a prism_process_group_t is
 * taken. Ranks passed to a collective (root, peer) are ranks of that group.
 *
 * Tensors: any dtype, any device, any layout. A tensor on a device without
 * host memory, or a non-contiguous one, is copied to a contiguous host buffer
 * when the collective is issued and its result copied back when it is waited
 * for; a contiguous host tensor is used in place. Under "nccl" ("rccl"),
 * cuda (rocm) tensors stay on their device instead: a contiguous one is used
 * in place, a non-contiguous one through a contiguous copy on that device,
 * and each rank's GPU is device (local rank mod device count); these engines
 * refuse reductions of int16 tensors (TYPE: they have no 16-bit integer
 * type). Complex tensors travel as their real parts and imaginary parts:
 * every collective takes them, but all_reduce and reduce_scatter only with
 * sum and avg (max, min and prod are TYPE errors). The tensors are retained by the work until it completes:
 * do not read or write them before the work completes (prism_work_wait).
 *
 * Work: every collective takes `prism_work_t* work`. NULL: the call blocks
 * until the collective completed on this rank (the copy back included) or
 * failed. Non-NULL: the call returns at once and *work (out) is a new handle
 * owned by the caller (free it with prism_work_release); wait with
 * prism_work_wait. Collectives of one group run in issue order on a worker
 * thread of that group.
 *
 * Errors and timeouts: a collective fails (status UNAVAILABLE, message naming
 * the collective, the ranks and the engine's reason) when a peer is gone or
 * the group's timeout passed; it never hangs past the timeout. After such an
 * error the group may be unusable: finalize and exit.
 * PRISM_DIST_DEBUG=1 makes every collective first compare its kind, dtype,
 * size and root across ranks and fail on every rank with a message naming
 * both calls when they differ.
 */
typedef struct prism_process_group_s* prism_process_group_t;
typedef struct prism_work_s* prism_work_t;

/* Reduction operators (values are ABI). AVG divides the sum by the group
 * size (integer dtypes: truncating division; bool: refused). On bool tensors
 * SUM and MAX are logical or, PROD and MIN logical and. */
typedef enum prism_reduce_op {
  PRISM_REDUCE_SUM = 0,
  PRISM_REDUCE_AVG = 1,
  PRISM_REDUCE_MAX = 2,
  PRISM_REDUCE_MIN = 3,
  PRISM_REDUCE_PROD = 4,
  PRISM_REDUCE_FORCE_32BIT = 0x7FFFFFFF /* not an operator */
} prism_reduce_op;

/* Joins the world group. `backend`: the communicator plugin's name ("gloo",
 * "mpi", "nccl", "rccl"); NULL or "" reads PRISM_DIST_BACKEND, default
 * "gloo". Rank and world size come from PRISM_RANK / PRISM_WORLD_SIZE (else OMPI_COMM_WORLD_RANK/SIZE
 * as mpirun sets them, PMI_RANK/PMI_SIZE, SLURM_PROCID/SLURM_NTASKS,
 * RANK/WORLD_SIZE), the rendezvous from PRISM_MASTER_ADDR / PRISM_MASTER_PORT
 * (else MASTER_ADDR / MASTER_PORT, else 127.0.0.1:29500): rank 0 listens
 * there. `timeout_ms` (milliseconds) bounds the rendezvous and every later
 * collective; <= 0 reads PRISM_DIST_TIMEOUT (seconds), default 300 s. Blocks
 * until every rank joined. Errors: INVALID_ARGUMENT (missing or bad rank,
 * world size or port; already initialized), UNAVAILABLE (no such plugin,
 * port in use, master unreachable, a rank reporting another world size,
 * timeout), each with a message naming the cause. SIGPIPE is set to SIG_IGN
 * if it is still at its default, so that a peer that dies is an error on the
 * other ranks rather than a signal that kills them (a handler the program set
 * is left alone; Note [SIGPIPE and dead peers]). */
PRISM_API prism_status prism_dist_init(const char* backend, int64_t timeout_ms);
/* As prism_dist_init with explicit values: rank/world_size < 0, master_addr
 * NULL or "" and master_port <= 0 mean "from the environment" as above. */
PRISM_API prism_status prism_dist_init_with(const char* backend, int32_t rank, int32_t world_size,
                                            const char* master_addr, int32_t master_port, int64_t timeout_ms);
/* 1 after a successful prism_dist_init and before prism_dist_finalize, else 0. */
PRISM_API int32_t prism_dist_is_initialized(void);
/* Leaves the world: waits for the world group's issued collectives, then
 * closes it. Sub-group handles must be released by their owners. A no-op when
 * not initialized. */
PRISM_API prism_status prism_dist_finalize(void);
/* *rank (out) = this process's rank in `group` (NULL = world). */
PRISM_API prism_status prism_dist_rank(prism_process_group_t group, int32_t* rank);
/* *size (out) = number of ranks in `group` (NULL = world). */
PRISM_API prism_status prism_dist_world_size(prism_process_group_t group, int32_t* size);
/* *name (out) = the communicator plugin's name, static storage. */
PRISM_API prism_status prism_dist_backend(const char** name);
/* A group of the world ranks listed (`n` entries, ascending, distinct).
 * Collective over the world: every rank calls it with the same list. *out
 * (out) is a new handle owned by the caller (prism_process_group_release),
 * or NULL on ranks not in the list. */
PRISM_API prism_status prism_dist_new_group(const int32_t* ranks, size_t n, prism_process_group_t* out);
/* Frees a group handle (NULL is a no-op); waits for its issued collectives. */
PRISM_API prism_status prism_process_group_release(prism_process_group_t group);

/* In place: t becomes the reduction of every rank's t. */
PRISM_API prism_status prism_dist_all_reduce(prism_process_group_t group, prism_tensor_t t,
                                             prism_reduce_op op, prism_work_t* work);
/* In place: every rank's t becomes rank `root`'s. */
PRISM_API prism_status prism_dist_broadcast(prism_process_group_t group, prism_tensor_t t, int32_t root,
                                            prism_work_t* work);
/* out (group size x numel(in) elements, any shape, same dtype) = every rank's
 * `in` concatenated in rank order (torch's all_gather_into_tensor). */
PRISM_API prism_status prism_dist_all_gather(prism_process_group_t group, prism_tensor_t out,
                                             prism_tensor_t in, prism_work_t* work);
/* out (numel(in) / group size elements) = this rank's chunk (in flat order)
 * of the reduction of every rank's `in` (torch's reduce_scatter_tensor). */
PRISM_API prism_status prism_dist_reduce_scatter(prism_process_group_t group, prism_tensor_t out,
                                                 prism_tensor_t in, prism_reduce_op op, prism_work_t* work);
/* Returns (or completes) once every rank of the group reached it. */
PRISM_API prism_status prism_dist_barrier(prism_process_group_t group, prism_work_t* work);
/* Sends t's elements to rank `dst` of the group, matched by `tag` (>= 0)
 * with the peer's prism_dist_recv of the same byte size. */
PRISM_API prism_status prism_dist_send(prism_process_group_t group, prism_tensor_t t, int32_t dst,
                                       int32_t tag, prism_work_t* work);
/* Receives into t from rank `src` of the group (see prism_dist_send). */
PRISM_API prism_status prism_dist_recv(prism_process_group_t group, prism_tensor_t t, int32_t src,
                                       int32_t tag, prism_work_t* work);
/* Blocks until the work completed (then copies a staged result back into
 * its tensor) or `timeout_ms` milliseconds passed (<= 0: the group's
 * timeout). Returns the collective's own error if it failed, UNAVAILABLE on
 * timeout (the collective itself then still ends within the group's timeout).
 * May be called again after success (a no-op). */
PRISM_API prism_status prism_work_wait(prism_work_t work, int64_t timeout_ms);
/* *done (out) = 1 when the collective finished (successfully or not), else 0.
 * Never blocks. A finished work still needs prism_work_wait to copy a staged
 * result back and to report its error. */
PRISM_API prism_status prism_work_is_completed(prism_work_t work, int32_t* done);
/* Frees a work handle (NULL is a no-op). The collective still runs to its end;
 * a staged result is then not copied back. */
PRISM_API prism_status prism_work_release(prism_work_t work);

/* ===========================================================================
 * Op forms (docs/ops.md, "Op forms"): PyTorch spellings of existing ops with
 * tensor bounds, approximations, padding modes and dtype= arguments. Each
 * writes a new tensor to *out (one reference for the caller), records
 * autograd when an input requires grad, and runs on every device (composites
 * of primitives, Note [Op forms as composites] in core/dispatch/op_forms.cpp).
 * The older functions (prism_clamp, prism_gelu, prism_conv2d, prism_softmax,
 * prism_sum, ...) keep their signatures: these are new names, not new
 * arguments on old ones.
 * ======================================================================== */

/* torch.clamp(x, min=tensor, max=tensor): min(max(x, min), max) with min, max
 * (borrowed, each may be NULL, not both) broadcasting against x; the result
 * has the broadcast shape and torch.result_type of the three. Where min > max
 * the result is max. Gradients as PyTorch: x where min <= x <= max, min where
 * x < min < max, max where x > max or max < min. bool is refused. */
PRISM_API prism_status prism_clamp_tensor(prism_tensor_t x, prism_tensor_t min, prism_tensor_t max,
                                          prism_tensor_t* out);

/* The approximation of gelu (torch's approximate="none" / "tanh"). */
typedef enum prism_gelu_approximation {
  PRISM_GELU_APPROXIMATE_NONE = 0, /* x * Phi(x) with erf (prism_gelu) */
  PRISM_GELU_APPROXIMATE_TANH = 1, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  PRISM_GELU_APPROXIMATE_FORCE_32BIT = 0x7FFFFFFF
} prism_gelu_approximation;
/* gelu with the given approximation; float16/bfloat16 compute in float32,
 * integer inputs give float32. Any other value is INVALID_ARGUMENT. */
PRISM_API prism_status prism_gelu_approximate(prism_tensor_t x, prism_gelu_approximation approximate,
                                              prism_tensor_t* out);

/* How prism_pad fills the border (torch.nn.functional.pad's `mode`). */
typedef enum prism_pad_mode {
  PRISM_PAD_CONSTANT = 0,  /* `value` */
  PRISM_PAD_REFLECT = 1,   /* mirror without repeating the edge; each pad < the dim's size */
  PRISM_PAD_REPLICATE = 2, /* repeat the edge element */
  PRISM_PAD_CIRCULAR = 3,  /* wrap around; each pad <= the dim's size */
  PRISM_PAD_MODE_FORCE_32BIT = 0x7FFFFFFF
} prism_pad_mode;
/* torch.nn.functional.pad: `pad` (borrowed, n_pad even, n_pad / 2 <= ndim)
 * lists (left, right) element counts starting from the LAST dim: {l_w, r_w,
 * l_h, r_h, ...}. Negative counts crop. `value` (cast to x's dtype) is used by
 * PRISM_PAD_CONSTANT only. Non-constant modes pad any trailing dims (PyTorch
 * limits them to 1-3 dims of a batched input). Errors name the mode, the pad
 * pair, the dim and the input: an output size < 0, a reflect pad >= the size,
 * a circular pad > the size, an empty padded dim in a non-constant mode. */
PRISM_API prism_status prism_pad(prism_tensor_t x, const int64_t* pad, size_t n_pad, prism_pad_mode mode,
                                 double value, prism_tensor_t* out);

/* conv2d's string padding (torch's padding="valid" / "same"). */
typedef enum prism_conv_padding {
  PRISM_CONV_PADDING_VALID = 0, /* no padding */
  PRISM_CONV_PADDING_SAME = 1,  /* output size = input size (stride 1 only); dilation * (k - 1) in total,
                                   the odd element on the right / bottom as PyTorch */
  PRISM_CONV_PADDING_FORCE_32BIT = 0x7FFFFFFF
} prism_conv_padding;
/* prism_conv2d with a padding mode instead of explicit padding. stride and
 * dilation point to {h, w} (borrowed; NULL means 1). SAME with a stride other
 * than 1 is INVALID_ARGUMENT ("padding='same' is not supported for strided
 * convolutions"). */
PRISM_API prism_status prism_conv2d_padding(prism_tensor_t input, prism_tensor_t weight, prism_tensor_t bias,
                                            const int64_t* stride, prism_conv_padding padding,
                                            const int64_t* dilation, int64_t groups, prism_tensor_t* out);

/* torch.mm: (n, m) x (m, p) -> (n, p). Both must be 2-D with the same dtype
 * (no broadcasting, no promotion); anything else is INVALID_ARGUMENT naming
 * both shapes. */
PRISM_API prism_status prism_mm(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* out);

/* softmax / log_softmax(x, dim, dtype=dtype): x is cast to `dtype` (a
 * floating dtype) first, as PyTorch; the result has `dtype`. */
PRISM_API prism_status prism_softmax_dtype(prism_tensor_t x, int64_t dim, prism_dtype dtype,
                                           prism_tensor_t* out);
PRISM_API prism_status prism_log_softmax_dtype(prism_tensor_t x, int64_t dim, prism_dtype dtype,
                                               prism_tensor_t* out);
/* sum / prod / mean(x, dims, keepdim, dtype=dtype): x is cast to `dtype`
 * first and the result has `dtype` (dims/n_dims as prism_sum). mean needs a
 * floating dtype (then integer inputs are accepted, as PyTorch). */
PRISM_API prism_status prism_sum_dtype(prism_tensor_t x, const int64_t* dims, int32_t n_dims, int32_t keepdim,
                                       prism_dtype dtype, prism_tensor_t* out);
PRISM_API prism_status prism_prod_dtype(prism_tensor_t x, const int64_t* dims, int32_t n_dims,
                                        int32_t keepdim, prism_dtype dtype, prism_tensor_t* out);
PRISM_API prism_status prism_mean_dtype(prism_tensor_t x, const int64_t* dims, int32_t n_dims,
                                        int32_t keepdim, prism_dtype dtype, prism_tensor_t* out);

/* ==========================================================================
 * Mixed precision: autocast scopes and the gradient-scaler ops
 * (Note [Autocast] in core/dispatch/autocast.hpp, Note [Gradient scaler ops]
 * in core/dispatch/amp_scale.hpp)
 * ========================================================================== */

/* Opens an autocast scope on the calling thread (torch.autocast). Inside it,
 * ops on tensors of `device_type` ("cpu", "opencl", "emu", "cuda", ...: a
 * device name without its index) cast their floating inputs by Prism's cast
 * policy: matmul, bmm, linear and conv2d run in `dtype` (PRISM_DTYPE_F16 or
 * PRISM_DTYPE_BF16); losses (and on non-CPU device types softmax,
 * log_softmax, layer_norm, sums, exp, log, pow, ...) run in f32; cat and
 * stack promote to the widest input (docs/ops.md, Autocast). The casts are
 * recorded by autograd, so gradients reach f32 leaves in f32. Scopes nest;
 * enabled = 0 turns autocast off for the device type until the matching
 * prism_autocast_exit. Works under no_grad. Backward passes run without it.
 * device_type: borrowed for the call, not NULL, not empty, no ':'.
 * INVALID_ARGUMENT for a dtype other than f16/bf16 or a bad device type. */
PRISM_API prism_status prism_autocast_enter(const char* device_type, prism_dtype dtype, int32_t enabled);
/* Closes the innermost autocast scope of the calling thread; INVALID_ARGUMENT
 * when none is open. */
PRISM_API prism_status prism_autocast_exit(void);
/* *enabled (out) = 1 when the innermost scope for device_type is enabled,
 * else 0 (also when no scope is open). device_type: borrowed, not NULL. */
PRISM_API prism_status prism_autocast_is_enabled(const char* device_type, int32_t* enabled);
/* *dtype (out) = the innermost scope's low dtype for device_type, or the
 * default when none is open (bf16 for "cpu", f16 otherwise, as PyTorch). */
PRISM_API prism_status prism_autocast_get_dtype(const char* device_type, prism_dtype* dtype);

/* One gradient of a scaled step (PyTorch's
 * _amp_foreach_non_finite_check_and_unscale_ on one tensor): grad *= inv_scale
 * in place (in f32, rounded once to grad's dtype) and found_inf is set to 1.0
 * when any element of grad is NaN or +-Inf (left as it was otherwise, so one
 * found_inf collects a whole step). grad: floating, any shape; found_inf and
 * inv_scale: f32 with one element, on grad's device. No autograd recording.
 * All handles are borrowed; none may be NULL. */
PRISM_API prism_status prism_amp_unscale_check(prism_tensor_t grad, prism_tensor_t found_inf,
                                               prism_tensor_t inv_scale);
/* The scale update of a gradient scaler (PyTorch's _amp_update_scale_), in
 * place: found_inf != 0 -> scale *= backoff_factor, growth_tracker = 0; else
 * growth_tracker += 1 and when it reaches growth_interval scale *=
 * growth_factor (kept only if finite) and growth_tracker = 0. scale and
 * found_inf: f32 with one element; growth_tracker: i32 with one element; all
 * on one device. growth_factor > 1, 0 < backoff_factor < 1, growth_interval
 * >= 1 (PyTorch's defaults: 2.0, 0.5, 2000). Handles borrowed, not NULL. */
PRISM_API prism_status prism_amp_update_scale(prism_tensor_t scale, prism_tensor_t growth_tracker,
                                              prism_tensor_t found_inf, double growth_factor,
                                              double backoff_factor, int64_t growth_interval);

/* ===========================================================================
 * Profiler (Note [Profiler hook] in core/profiler/profiler.hpp)
 *
 * While started, every kernel the dispatcher runs is recorded on every device
 * (composite ops appear as the kernels they dispatch). The process has one
 * profiler; start clears what the previous run recorded, stop keeps the
 * events for the queries below until the next start. Times are nanoseconds
 * from prism_profiler_start on a monotonic clock. Setting PRISM_PROFILE=path
 * in the environment starts it when libprism loads and writes the Chrome
 * trace to `path` at normal process exit (`prism profile` does this).
 * ======================================================================== */

/* Options of prism_profiler_start (set struct_size = sizeof). */
typedef struct prism_profiler_options {
  size_t struct_size;
  int32_t record_shapes; /* 1 = record input shapes (default) */
  int32_t device_time;   /* 1 = measure device time with events where the
                          * device has them; serialises each op (default) */
} prism_profiler_options;

/* One recorded event. Every pointer is owned by the profiler and valid until
 * the next prism_profiler_start (reading while recording is allowed). */
typedef struct prism_profiler_event {
  size_t struct_size;   /* set by the caller: sizeof(prism_profiler_event) */
  const char* name;     /* op name ("conv2d") or user range name */
  const char* device;   /* "cpu:0"; "" for user ranges */
  const char* dtype;    /* dtype name of the kernel; "" for user ranges */
  const char* fallback; /* device the op ran on instead of its own ("" = none) */
  const char* shapes;   /* input shapes as "[2, 3], [3]" ("" when not recorded) */
  int64_t start_ns;     /* since prism_profiler_start */
  int64_t host_ns;      /* duration on the calling thread */
  int64_t self_ns;      /* host_ns less the ops nested inside it */
  int64_t device_ns;    /* device time, -1 when not measured (no events) */
  uint64_t bytes;       /* bytes allocated since the previous op on the thread */
  uint64_t thread;      /* small per-thread number, from 1 */
  int32_t is_range;     /* 1 = user range, 0 = op */
} prism_profiler_event;

/* Clears recorded events and starts recording. options may be NULL (defaults). */
PRISM_API prism_status prism_profiler_start(const prism_profiler_options* options);
/* Stops recording; the events stay until the next start. Open user ranges
 * are not recorded. Calling it while stopped is a no-op. */
PRISM_API prism_status prism_profiler_stop(void);
/* *enabled (out) = 1 while recording. */
PRISM_API prism_status prism_profiler_is_enabled(int32_t* enabled);
/* Opens a named user range on the calling thread (torch's record_function);
 * name is copied (NULL is INVALID_ARGUMENT). Ranges nest; each push needs a
 * pop, whether or not the profiler is recording. */
PRISM_API prism_status prism_profiler_range_push(const char* name);
/* Closes the innermost range of the calling thread and, while recording,
 * records it (clipped to the start of recording); INVALID_ARGUMENT when no
 * range is open on the thread. */
PRISM_API prism_status prism_profiler_range_pop(void);
/* *count (out) = number of recorded events (ops and ranges). Takes a
 * snapshot sorted by start time that prism_profiler_event_get reads. */
PRISM_API prism_status prism_profiler_event_count(size_t* count);
/* Fills *event (out; event->struct_size set by the caller) with event i of
 * the last snapshot; INDEX when i is out of range. */
PRISM_API prism_status prism_profiler_event_get(size_t i, prism_profiler_event* event);
/* Writes the recorded events as a Chrome trace (JSON object format,
 * complete "X" events, ts/dur in microseconds; opens in chrome://tracing
 * and ui.perfetto.dev) to `path`. IO error when the file cannot be written. */
PRISM_API prism_status prism_profiler_export_chrome_trace(const char* path);
/* The summary table, one row per op name and device, sorted by total host
 * time (largest first) with calls, self time, device time, bytes and
 * fallbacks; row_limit 0 = all rows. Copies at most `capacity` bytes
 * including the terminating NUL into buf (may be NULL when capacity is 0);
 * *needed (out, may be NULL) = the full length + 1. */
PRISM_API prism_status prism_profiler_summary(size_t row_limit, char* buf, size_t capacity, size_t* needed);

/* ===========================================================================
 * Streams and events (Note [User streams] in core/plugin/streams.cpp)
 *
 * A stream is an ordered queue of work on one device; streams of a device
 * run in no particular order with each other unless an event orders them.
 * Each thread has a current stream per device (initially the device's
 * default stream): every kernel and copy Prism issues for that device from
 * this thread goes to it. Devices whose plugin has no stream slots (cpu,
 * emu) give streams that alias the default stream (work stays in one
 * order). Events on devices without event slots complete when recorded
 * (record waits for the stream) and are timed on the host; with event slots
 * but no device timer (event_elapsed_ms) an event with timing is host-timed
 * too (its record waits for the stream). Handles are not thread-affine;
 * each is owned by the caller until its destroy call (NULL is a no-op).
 * ======================================================================== */

typedef struct prism_user_stream_s* prism_user_stream_t; /* a user stream handle */
typedef struct prism_user_event_s* prism_user_event_t;   /* a user event handle */

/* *out (out, owned by the caller) = a new stream of `device` ("opencl:0";
 * NULL or "" is cpu:0). The stream lives while a handle to it exists or it is
 * some thread's current stream; its queued work finishes before it goes. */
PRISM_API prism_status prism_stream_create(const char* device, prism_user_stream_t* out);
/* Releases the handle (NULL is a no-op). */
PRISM_API prism_status prism_stream_destroy(prism_user_stream_t s);
/* Blocks until all work queued on `s` completed. */
PRISM_API prism_status prism_stream_synchronize(prism_user_stream_t s);
/* *done (out) = 1 when `s` has no pending work, else 0. Does not block on
 * devices with event queries; elsewhere it waits for the stream (then 1). */
PRISM_API prism_status prism_stream_query(prism_user_stream_t s, int32_t* done);
/* *device (out) = the stream's device name, valid for the process; *id
 * (out, may be NULL) = 0 for a default stream, else a number unique to the
 * stream in this process (handles of one stream compare equal by id). */
PRISM_API prism_status prism_stream_get_device(prism_user_stream_t s, const char** device, uint64_t* id);
/* Makes `s` this thread's current stream of its device (non-NULL). */
PRISM_API prism_status prism_stream_set_current(prism_user_stream_t s);
/* *out (out, owned by the caller) = a handle to this thread's current stream
 * of `device` (its default stream unless prism_stream_set_current set one). */
PRISM_API prism_status prism_stream_get_current(const char* device, prism_user_stream_t* out);
/* *out (out, owned by the caller) = a handle to `device`'s default stream. */
PRISM_API prism_status prism_stream_get_default(const char* device, prism_user_stream_t* out);

/* *out (out, owned by the caller) = a new event, unrecorded. With
 * enable_timing != 0 it can be passed to prism_event_elapsed_time. */
PRISM_API prism_status prism_event_create(int32_t enable_timing, prism_user_event_t* out);
/* Releases the event (NULL is a no-op); pending work is not waited for. */
PRISM_API prism_status prism_event_destroy(prism_user_event_t e);
/* Captures the work queued so far on stream `s` (non-NULL); re-recording
 * replaces the previous capture. */
PRISM_API prism_status prism_event_record(prism_user_event_t e, prism_user_stream_t s);
/* Work queued on `s` after this call starts after the captured work
 * completed (no host wait on the same plugin's devices). An unrecorded
 * event is complete. */
PRISM_API prism_status prism_event_wait(prism_user_event_t e, prism_user_stream_t s);
/* Blocks until the captured work completed. */
PRISM_API prism_status prism_event_synchronize(prism_user_event_t e);
/* *done (out) = 1 when the captured work completed (or e is unrecorded). */
PRISM_API prism_status prism_event_query(prism_user_event_t e, int32_t* done);
/* *ms (out) = milliseconds between `start` and `end`, both created with
 * timing and recorded on one device; waits for both. INVALID_ARGUMENT when
 * either lacks timing or was never recorded. */
PRISM_API prism_status prism_event_elapsed_time(prism_user_event_t start, prism_user_event_t end, double* ms);

/* Marks t's memory as used by work on `s` (a stream of t's device), so the
 * caching allocator does not hand it to another stream before that work
 * completed once t is released (PyTorch's record_stream). */
PRISM_API prism_status prism_tensor_record_stream(prism_tensor_t t, prism_user_stream_t s);
/* Like prism_to_device; with non_blocking != 0 a contiguous source in memory
 * pinned for `device` (prism_pin_memory, prism_empty_pinned) is copied on
 * the device's current stream and the call returns before the copy
 * completes; the source memory is kept alive until it did. Write the source
 * only after synchronising. Any other copy completes before returning. */
PRISM_API prism_status prism_to_device_non_blocking(prism_tensor_t t, const char* device,
                                                    int32_t non_blocking, prism_tensor_t* out);
/* *out (out, owned by the caller) = an uninitialised contiguous tensor on
 * "cpu" in host memory pinned for `device` (see prism_pin_memory; a plain
 * host tensor when `device` addresses host memory). UNAVAILABLE naming the
 * plugin when it offers no pinned memory. */
PRISM_API prism_status prism_empty_pinned(const int64_t* sizes, int32_t ndim, prism_dtype dtype,
                                          const char* device, prism_tensor_t* out);

/* ===========================================================================
 * Attention, binary cross-entropy, gradient checkpointing and the random
 * generator's state (docs/ops.md; Note [Gradient checkpointing] in the core).
 * ======================================================================== */

/* softmax(query key^T * scale + mask) value, with dropout on the weights:
 * query (..., L, E), key (..., S, E), value (..., S, Ev) -> *out (..., L, Ev)
 * (a new reference; leading dims broadcast as in prism_matmul). attn_mask
 * (optional, NULL = none) broadcasts to (..., L, S): bool keeps the
 * positions holding 1 (others get -inf), a float mask is added. is_causal
 * (0/1) masks key positions j > query position i; it cannot be combined
 * with attn_mask. dropout_p in [0, 1) is applied whenever > 0. scale
 * (optional, borrowed for the call; NULL = 1/sqrt(E)). A row whose every
 * position is masked gives NaN. Records autograd. Where the device's
 * plugin registers the kernel op "scaled_dot_product_attention" (the CPU
 * plugin does) the call runs as that one kernel, else as the composite of
 * matmul/softmax; the results agree up to rounding (docs/ops.md). */
PRISM_API prism_status prism_scaled_dot_product_attention(prism_tensor_t query, prism_tensor_t key,
                                                          prism_tensor_t value, prism_tensor_t attn_mask,
                                                          double dropout_p, int32_t is_causal,
                                                          const double* scale, prism_tensor_t* out);
/* Binary cross-entropy of probabilities `input` (values in [0, 1], else an
 * error) against `target` of the same shape; each log is clamped at -100.
 * weight (optional) broadcasts to the input. Records autograd. */
PRISM_API prism_status prism_binary_cross_entropy(prism_tensor_t input, prism_tensor_t target,
                                                  prism_tensor_t weight, prism_reduction reduction,
                                                  prism_tensor_t* out);

/* The global random generator (Philox) is a (seed, offset) pair: every
 * random op uses the current pair and advances the offset by one. Reading
 * the pair and setting it back replays the same random numbers on every
 * device (torch.get_rng_state / set_rng_state). */
PRISM_API prism_status prism_random_get_state(uint64_t* seed, uint64_t* offset);
PRISM_API prism_status prism_random_set_state(uint64_t seed, uint64_t offset);

/* The most outputs a checkpointed segment may return. */
#define PRISM_CHECKPOINT_MAX_OUTPUTS 64
/* A checkpointed segment. `inputs[0..n_inputs)` are borrowed for the call
 * (an entry may be NULL where the caller passed NULL). The function writes
 * new references (given to the core) to outputs[0..*n_outputs) with
 * *n_outputs <= capacity (capacity is PRISM_CHECKPOINT_MAX_OUTPUTS) and
 * returns PRISM_OK; on failure it returns a status (its message is taken
 * from prism_last_error()) and the core releases what it wrote. It is called
 * once in forward and once more when backward reaches the segment, on the
 * thread running backward, with grad mode on and the random state of the
 * first call; it must compute the same thing both times. */
typedef prism_status (*prism_checkpoint_fn)(const prism_tensor_t* inputs, size_t n_inputs,
                                            prism_tensor_t* outputs, size_t capacity, size_t* n_outputs,
                                            void* ctx);
/* Frees a checkpoint's ctx; may run on any thread. */
typedef void (*prism_checkpoint_release_fn)(void* ctx);
/* Gradient checkpointing (torch.utils.checkpoint, use_reentrant=False):
 * runs fn(ctx) on inputs[0..n_inputs) (borrowed; NULL entries allowed) and
 * writes its outputs (new references) to outputs[0..*n_outputs), at most
 * `capacity`. The segment's activations are not kept: when backward reaches
 * the outputs, fn runs again with the random state it saw the first time (so
 * dropout masks match) and the gradients flow to the inputs and to every
 * tensor fn used that requires grad (parameters accumulate into .grad).
 * Outputs require grad when they would without checkpointing. With grad
 * mode off, fn runs once and nothing is kept. `ctx` is kept while the graph
 * may still recompute the segment and then freed by `release` (optional,
 * NULL = nothing to free), exactly once, also on failure. An input modified
 * in place before backward is an error, as for any saved tensor.
 * prism_autograd_grad through a checkpoint gives the inputs' gradients;
 * tensors read by fn still accumulate into .grad. */
PRISM_API prism_status prism_checkpoint(prism_checkpoint_fn fn, void* ctx,
                                        prism_checkpoint_release_fn release, const prism_tensor_t* inputs,
                                        size_t n_inputs, prism_tensor_t* outputs, size_t capacity,
                                        size_t* n_outputs);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_API_PRISM_PRISM_H_ */
