/* plugin.h — the Prism plugin ABI v1.2: what a device backend exports and what the core hands it. */
#ifndef PRISM_API_PRISM_PLUGIN_H_
#define PRISM_API_PRISM_PLUGIN_H_

/*
 * Note [Plugin ABI rules]
 * -----------------------
 * - A plugin is a shared library exporting exactly one symbol,
 *   prism_plugin_entry. It never links against libprism: everything it needs
 *   from the core arrives in the prism_host_table passed to the entry point.
 * - Every struct crossing the boundary starts with `size_t struct_size`, set by
 *   whoever fills the struct to sizeof() as *they* compiled it. Fields are only
 *   ever appended. A reader checks PRISM_HAS(ptr, type, field) before touching
 *   a field that was appended after v1.0 and uses the documented default when
 *   the field is absent.
 * - Major version: breaking layout change. Minor version: appended fields or
 *   new optional slots. The core accepts a plugin whose major equals its own;
 *   any minor works (missing trailing fields take defaults).
 * - Errors are prism_plugin_error objects made with host->error_create. NULL
 *   means success. The core owns and frees every error object; a plugin never
 *   frees one. No C++ exception, abort or longjmp may cross the boundary.
 * - Ownership: pointers passed into a plugin call are borrowed for the
 *   duration of that call only, unless a field says otherwise. Whoever
 *   allocates an object frees it.
 * - Units: sizes and strides are in elements; offsets named byte_offset and
 *   counts named bytes are in bytes.
 */

#include "prism/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PRISM_PLUGIN_ABI_MAJOR 1
#define PRISM_PLUGIN_ABI_MINOR 2

#if defined(_WIN32)
#define PRISM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define PRISM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* True when the struct at `ptr` (whose first field is struct_size) is large
 * enough to contain `field` of `type`. */
#define PRISM_HAS(ptr, type, field) \
  ((ptr) != NULL && (ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* ===========================================================================
 * Opaque handles
 * ======================================================================== */

/* An error object. Made by host->error_create, owned and freed by the core. */
typedef struct prism_plugin_error prism_plugin_error;

/* A device stream, created and owned by the plugin. The core only passes it
 * back. NULL means the device's default stream. */
typedef struct prism_stream_s* prism_stream_t;

/* A device event, created and owned by the plugin (optional slots). */
typedef struct prism_event_s* prism_event_t;

/* ===========================================================================
 * Host table: what the core gives a plugin
 * ======================================================================== */

typedef enum prism_log_level {
  PRISM_LOG_DEBUG = 0,
  PRISM_LOG_INFO = 1,
  PRISM_LOG_WARN = 2,
  PRISM_LOG_ERROR = 3,
  PRISM_LOG_FORCE_32BIT = 0x7FFFFFFF /* not a level: makes every int32 a valid value */
} prism_log_level;

typedef struct prism_host_table {
  size_t struct_size;
  uint32_t abi_major; /* the core's ABI version */
  uint32_t abi_minor;
  /* Makes an error object. `message` is copied (borrowed for the call, may be
   * NULL). Never returns NULL: on allocation failure a static
   * out-of-memory error is returned. The core frees the result. */
  prism_plugin_error* (*error_create)(prism_status code, const char* message);
  /* Logs a line through the core's logger. Both strings borrowed, non-NULL. */
  void (*log)(prism_log_level level, const char* plugin_name, const char* message);
} prism_host_table;

/* ===========================================================================
 * Devices
 * ======================================================================== */

/* Capability flags of a device. */
#define PRISM_DEVICE_CAP_HOST_MEMORY                                             \
  (1u << 0)                               /* buffers ARE host pointers: the core \
                                            may read/write them directly and may \
                                            wrap caller host memory as a buffer */
#define PRISM_DEVICE_CAP_ASYNC (1u << 1)  /* kernels/copies may run after return */
#define PRISM_DEVICE_CAP_EVENTS (1u << 2) /* event slots implemented */
#define PRISM_DEVICE_CAP_FP64 (1u << 3)
#define PRISM_DEVICE_CAP_FP16 (1u << 4)

typedef struct prism_device_props {
  size_t struct_size;
  /* All strings point to plugin-owned storage that lives as long as the
   * plugin context; never NULL (use "" when unknown). */
  const char* name;      /* e.g. "Intel(R) Xeon(R) ..." */
  const char* vendor;    /* e.g. "GenuineIntel" */
  const char* stable_id; /* unique and stable across runs: used to deduplicate
                            the same device exposed by two plugins */
  uint64_t total_memory; /* bytes; 0 when unknown */
  uint32_t dtype_mask;   /* PRISM_DTYPE_BIT of each dtype the device stores */
  uint32_t capabilities; /* PRISM_DEVICE_CAP_* */
} prism_device_props;

/* ===========================================================================
 * Kernel calls
 * ======================================================================== */

/* A strided view of a device buffer, as a kernel sees it. Borrowed for the
 * call. Element (i0, i1, ...) lives at
 *   (char*)buffer + byte_offset + (sum_k i_k * strides[k]) * dtype_size.
 * Strides may be 0 (broadcast) or negative only where an op says so. ndim may
 * be 0 (a scalar: one element). Any size may be 0 (no elements). */
typedef struct prism_tensor_desc {
  size_t struct_size;
  void* buffer;           /* a handle from prism_plugin_table.alloc (or a host
                             pointer on HOST_MEMORY devices) */
  uint64_t byte_offset;   /* bytes from the start of buffer */
  int32_t dtype;          /* prism_dtype */
  int32_t ndim;           /* 0..PRISM_MAX_DIMS */
  const int64_t* sizes;   /* ndim entries, elements */
  const int64_t* strides; /* ndim entries, elements */
} prism_tensor_desc;

typedef enum prism_attr_kind {
  PRISM_ATTR_INT = 1,                 /* .i */
  PRISM_ATTR_FLOAT = 2,               /* .f */
  PRISM_ATTR_SCALAR = 3,              /* a number for a tensor element: both .i and .f are set
                                         (.i truncated); a kernel picks by dtype */
  PRISM_ATTR_INTS = 4,                /* .ints[0 .. n_ints) */
  PRISM_ATTR_FORCE_32BIT = 0x7FFFFFFF /* not a kind: makes every int32 a valid value */
} prism_attr_kind;

/* A named attribute of a call, e.g. {"alpha", SCALAR}. Borrowed for the call. */
typedef struct prism_attr {
  size_t struct_size;
  const char* name;
  int32_t kind; /* prism_attr_kind */
  int64_t i;
  double f;
  const int64_t* ints;
  int64_t n_ints;
} prism_attr;

/* One kernel invocation. Everything is borrowed for the call. The shapes the
 * core passes follow the op's contract in docs/ops.md (for elementwise ops the
 * core has already broadcast every input to the output's shape with stride-0
 * dims, and cast inputs to the dtypes the op declares). */
typedef struct prism_kernel_call {
  size_t struct_size;
  const char* op;        /* op name, e.g. "add" */
  int32_t device;        /* device index within this plugin */
  prism_stream_t stream; /* NULL = default stream of `device` */
  const prism_tensor_desc* inputs;
  size_t n_inputs;
  const prism_tensor_desc* outputs; /* outputs are preallocated by the core and
                                       never overlap inputs unless the op is an
                                       in-place form documented as such */
  size_t n_outputs;
  const prism_attr* attrs;
  size_t n_attrs;
} prism_kernel_call;

/* Runs a kernel. Returns NULL on success or an error made with
 * host->error_create. May return before the work completes on ASYNC devices. */
typedef prism_plugin_error* (*prism_kernel_fn)(void* plugin_ctx, const prism_kernel_call* call);

/* Optional: returns 1 when this kernel handles the call, 0 to decline (the
 * core then falls back per PRISM_FALLBACK). Must not fail or have effects. */
typedef int (*prism_kernel_supports_fn)(void* plugin_ctx, const prism_kernel_call* call);

typedef struct prism_kernel_def {
  size_t struct_size;
  const char* op;                    /* op name from docs/ops.md; static storage */
  uint32_t dtype_mask;               /* PRISM_DTYPE_BIT of each key dtype handled
                                        (the key dtype of each op is in docs/ops.md) */
  prism_kernel_supports_fn supports; /* optional, NULL = supports every call
                                        whose key dtype is in dtype_mask */
  prism_kernel_fn run;               /* required */
} prism_kernel_def;

/* ===========================================================================
 * The plugin table: what a plugin gives the core
 * ======================================================================== */

typedef struct prism_plugin_table {
  size_t struct_size;
  uint32_t abi_major; /* the plugin's ABI version */
  uint32_t abi_minor;
  const char* name;        /* plugin name, e.g. "cpu"; static storage */
  const char* device_type; /* device type prefix, e.g. "cpu", "opencl" */
  const char* version;     /* free-form plugin version; static storage */

  /* --- lifecycle (required) ------------------------------------------------ */
  /* Creates the plugin context. *ctx (out) is passed to every other call. */
  prism_plugin_error* (*init)(void** ctx);
  /* Frees the context. Called once, after every buffer has been freed. */
  void (*shutdown)(void* ctx);

  /* --- devices (required) --------------------------------------------------- */
  /* *count (out) = number of usable devices. Zero devices is not an error;
   * `reason` (out, may be set to NULL) then points to a plugin-owned string
   * explaining why (e.g. the driver's own message), valid for the context's
   * lifetime. */
  prism_plugin_error* (*device_count)(void* ctx, int32_t* count, const char** reason);
  /* Fills *props (out). The core sets props->struct_size before the call; the
   * plugin writes only the fields that fit. */
  prism_plugin_error* (*device_props)(void* ctx, int32_t device, prism_device_props* props);

  /* --- memory (required) ---------------------------------------------------- */
  /* Allocates `bytes` (may be 0: then returns a unique non-NULL handle or NULL
   * buffer and no error) of device memory, aligned to at least 64 bytes.
   * *buffer (out) is an opaque handle owned by the caller until free().
   * Out of memory must return PRISM_ERROR_OUT_OF_MEMORY. */
  prism_plugin_error* (*alloc)(void* ctx, int32_t device, size_t bytes, void** buffer);
  /* Frees a handle from alloc (NULL is a no-op). Waits for pending work. */
  void (*free)(void* ctx, int32_t device, void* buffer);

  /* --- copies (required) ---------------------------------------------------- */
  /* Copies `bytes` contiguous bytes host -> device buffer at dst_byte_offset.
   * `src` is borrowed until the copy completes; the core keeps it alive until
   * synchronize when the device is ASYNC. */
  prism_plugin_error* (*copy_from_host)(void* ctx, int32_t device, prism_stream_t stream, const void* src,
                                        void* dst_buffer, uint64_t dst_byte_offset, size_t bytes);
  /* Copies `bytes` contiguous bytes device buffer -> host. Completes before
   * returning (a read back to the host synchronises the stream). */
  prism_plugin_error* (*copy_to_host)(void* ctx, int32_t device, prism_stream_t stream,
                                      const void* src_buffer, uint64_t src_byte_offset, void* dst,
                                      size_t bytes);

  /* --- streams (required) --------------------------------------------------- */
  /* Blocks until all work queued on `stream` (NULL = default) is complete. */
  prism_plugin_error* (*synchronize)(void* ctx, int32_t device, prism_stream_t stream);

  /* --- kernels (required) --------------------------------------------------- */
  /* Static array of kernel definitions; `n_kernels` entries. Each entry's
   * struct_size may differ from the core's sizeof(prism_kernel_def); the core
   * steps through the array with kernel_def_size (below). */
  const prism_kernel_def* kernels;
  size_t n_kernels;
  size_t kernel_def_size; /* sizeof(prism_kernel_def) as the plugin compiled it */

  /* --- events (optional: NULL slots mean the device has no events; the core
   *     then orders cross-device work with synchronize) ----------------------- */
  prism_plugin_error* (*event_create)(void* ctx, int32_t device, prism_event_t* event);
  prism_plugin_error* (*event_record)(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream);
  prism_plugin_error* (*event_wait)(void* ctx, int32_t device, prism_event_t event, prism_stream_t stream);
  prism_plugin_error* (*event_synchronize)(void* ctx, prism_event_t event);
  void (*event_destroy)(void* ctx, prism_event_t event);

  /* --- pinned host memory (optional, ABI 1.1: a table without these fields,
   *     or with NULL slots, means the device has none; the core then refuses
   *     prism_tensor_pin_memory for it and the DataLoader stages batches in
   *     ordinary host memory) ----------------------------------------------- */
  /* Allocates `bytes` (> 0) of host memory that `device` copies from and to
   * without an intermediate copy (page-locked / mapped). *ptr (out) is a host
   * pointer, aligned to at least 64 bytes, readable and writable by the CPU,
   * owned by the caller until host_free. copy_from_host and copy_to_host may
   * be given pointers into it. Out of memory must return
   * PRISM_ERROR_OUT_OF_MEMORY. */
  prism_plugin_error* (*host_alloc)(void* ctx, int32_t device, size_t bytes, void** ptr);
  /* Frees a pointer from host_alloc of the same device (NULL is a no-op).
   * Copies still reading it finish first. */
  void (*host_free)(void* ctx, int32_t device, void* ptr);

  /* --- user streams and event queries (optional, ABI 1.2: a table without
   *     these fields, or with NULL slots, means the device has only its
   *     default stream; Note [User streams] in core/plugin/streams.cpp) ----- */
  /* Creates a stream of `device` whose work runs in order with itself and in
   * no particular order with other streams (only events order them).
   * *stream (out) is owned by the caller until stream_destroy and is passed
   * back in prism_kernel_call.stream and the copy/synchronize/event slots. */
  prism_plugin_error* (*stream_create)(void* ctx, int32_t device, prism_stream_t* stream);
  /* Destroys a stream from stream_create (NULL is a no-op). Work queued on
   * it finishes first; events recorded on it stay valid. */
  void (*stream_destroy)(void* ctx, int32_t device, prism_stream_t stream);
  /* *done (out) = 1 when all work captured by the last event_record of
   * `event` has completed (or it was never recorded), else 0. Never blocks. */
  prism_plugin_error* (*event_query)(void* ctx, prism_event_t event, int32_t* done);
  /* *ms (out) = device time in milliseconds between the completion of the
   * work captured by `start` and by `end` (both recorded and complete, on
   * the same device); optional: NULL means the core times events on the
   * host. Returns INVALID_ARGUMENT when either was never recorded. */
  prism_plugin_error* (*event_elapsed_ms)(void* ctx, prism_event_t start, prism_event_t end, double* ms);
} prism_plugin_table;

/* ===========================================================================
 * The entry point
 * ======================================================================== */

/* Signature of the one symbol a plugin exports:
 *
 *   PRISM_PLUGIN_EXPORT prism_plugin_error* prism_plugin_entry(
 *       const prism_host_table* host, const prism_plugin_table** table);
 *
 * `host` is owned by the core and lives until the plugin is unloaded; the
 * plugin may keep the pointer. The plugin checks host->abi_major and returns
 * an UNAVAILABLE error naming both versions when it cannot serve that major.
 * On success *table (out) points to plugin-owned static storage. The core then
 * checks table->abi_major against its own and refuses with a message naming
 * both versions when they differ. */
typedef prism_plugin_error* (*prism_plugin_entry_fn)(const prism_host_table* host,
                                                     const prism_plugin_table** table);

#define PRISM_PLUGIN_ENTRY_SYMBOL "prism_plugin_entry"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_API_PRISM_PLUGIN_H_ */
