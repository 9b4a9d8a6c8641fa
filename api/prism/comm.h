/* comm.h — the Prism communicator ABI v1.1: what a collectives engine plugin (libprism-comm-<name>.so)
 * exports. */
#ifndef PRISM_API_PRISM_COMM_H_
#define PRISM_API_PRISM_COMM_H_

/*
 * Note [Communicator ABI rules]
 * ----------------------------
 * A communicator plugin wraps an existing collectives engine (Gloo, MPI,
 * NCCL, RCCL) for the core. It follows Note [Plugin ABI rules] (plugin.h)
 * with its own version numbers:
 * - One exported symbol, prism_comm_plugin_entry. The plugin never links
 *   against libprism; it receives the same prism_host_table device plugins
 *   get (error_create, log) and makes every error object through it.
 * - Every struct starts with struct_size; fields are only appended;
 *   PRISM_HAS() guards fields appended after v1.0; a NULL optional slot means
 *   the documented default. Major = breaking layout change, minor = appended
 *   fields. The core refuses a plugin whose major differs from its own, with a
 *   message naming both versions.
 * - Buffers are contiguous, owned by the core and borrowed for the call.
 *   The core copies non-contiguous tensors into a contiguous buffer first,
 *   so a plugin only sees flat arrays. They are host memory, except for a
 *   plugin that names a native_device_type (NCCL for "cuda", RCCL for
 *   "rocm") and reports ABI 1.1 or newer: it is given tensors of that
 *   device type in place, as (char*)buffer handle + byte offset (a device
 *   pointer for the GPU plugins), after the core synchronized that device.
 *   Such a plugin still gets host pointers for everything else (host
 *   tensors, the core's own debug checks) and tells the two apart itself.
 *   Plugins reporting ABI 1.0 always get host memory.
 * - Every collective call blocks until it is complete on this rank or has
 *   failed, and fails (never hangs) once timeout_ms has passed: the engine's
 *   own timeout where it has one. The core runs calls on one worker thread per
 *   communicator, in the order they were issued, which gives users async work
 *   handles; a plugin therefore sees at most one call at a time per
 *   communicator, from a thread that is not the one that created it. A
 *   plugin that sets PRISM_COMM_FLAG_ANY_THREAD (ABI 1.2) may instead get a
 *   blocking call on the thread of the user waiting for it, when nothing
 *   else of that communicator is queued or running: still one call at a
 *   time per communicator, in issue order.
 * - Counts are in elements of `dtype`, sizes in bytes where named bytes,
 *   timeouts in milliseconds (> 0).
 * - A failed collective (peer gone, timeout) may leave the communicator
 *   unusable: later calls must fail with an error too, never hang or crash.
 */

#include "prism/plugin.h"
#include "prism/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PRISM_COMM_ABI_MAJOR 1
#define PRISM_COMM_ABI_MINOR 2

/* Bits of prism_comm_table.flags (ABI 1.2). */
typedef enum prism_comm_flag {
  /* Collectives may be called from any thread, one at a time per
   * communicator (see the rules above). Set it when the engine has no
   * thread affinity and bounds every call by its timeout itself: the core
   * then runs a blocking collective on the caller's thread, saving two
   * thread hand-offs per call. */
  PRISM_COMM_FLAG_ANY_THREAD = 1u << 0
} prism_comm_flag;

/* A communicator: one group of ranks. Created and owned by the plugin. */
typedef struct prism_comm_s* prism_comm_t;

/* Reduction operators (values are ABI). Average is done by the core (a sum
 * then a division on the host), so plugins only see SUM, MAX, MIN and PROD. */
typedef enum prism_comm_reduce {
  PRISM_COMM_SUM = 0,
  PRISM_COMM_MAX = 2,
  PRISM_COMM_MIN = 3,
  PRISM_COMM_PROD = 4,
  PRISM_COMM_REDUCE_FORCE_32BIT = 0x7FFFFFFF /* not an operator */
} prism_comm_reduce;

/* How to reach the other ranks of the world (borrowed for comm_create). */
typedef struct prism_comm_config {
  size_t struct_size;
  int32_t rank;       /* 0 .. world_size-1, or -1: the engine finds it (MPI) */
  int32_t world_size; /* >= 1, or -1: the engine finds it (MPI) */
  const char*
      master_addr;     /* rendezvous host (rank 0 listens there); may be NULL for engines that need none */
  int32_t master_port; /* TCP port, 1..65535 (0 when master_addr is NULL) */
  int64_t timeout_ms;  /* rendezvous and default collective timeout, > 0 */
} prism_comm_config;

typedef struct prism_comm_table {
  size_t struct_size;
  uint32_t abi_major; /* the plugin's communicator ABI version */
  uint32_t abi_minor;
  const char* name;    /* engine name, e.g. "gloo"; static storage */
  const char* version; /* free-form; static storage */
  /* Device type whose buffers the collectives take directly (e.g. "cuda"),
   * or NULL: host memory only. Static storage. Honoured from ABI 1.1 (see
   * Note [Communicator ABI rules]). */
  const char* native_device_type;

  /* --- lifecycle (required) ----------------------------------------------- */
  prism_plugin_error* (*init)(void** ctx /* out */);
  void (*shutdown)(void* ctx);
  /* *usable (out) = 1 when the engine can run in this process. Otherwise 0
   * and *reason (out) a plugin-owned string valid for the context's lifetime
   * (e.g. "no device": NCCL on a machine without a GPU). */
  prism_plugin_error* (*probe)(void* ctx, int32_t* usable, const char** reason);

  /* --- communicators (required) ------------------------------------------- */
  /* Joins the world described by `config` (blocks until every rank joined or
   * timeout). *comm (out) is owned by the caller until comm_destroy. *rank and
   * *world_size (out) are the values the engine settled on. */
  prism_plugin_error* (*comm_create)(void* ctx, const prism_comm_config* config, prism_comm_t* comm,
                                     int32_t* rank, int32_t* world_size);
  /* A communicator over the ranks of `parent` listed in `ranks` (n entries,
   * ascending, distinct, each < parent's size), called by every rank of
   * parent with the same list and the same `group_id` (a counter the core
   * keeps, unique per parent). *comm (out) is NULL on ranks not in the list. */
  prism_plugin_error* (*comm_split)(void* ctx, prism_comm_t parent, const int32_t* ranks, size_t n,
                                    uint64_t group_id, prism_comm_t* comm);
  /* Frees a communicator (NULL is a no-op). Must not block on other ranks. */
  void (*comm_destroy)(void* ctx, prism_comm_t comm);

  /* --- collectives (required): host buffers, blocking, see the rules ------ */
  /* In place: buf (count elements) becomes the reduction over all ranks. */
  prism_plugin_error* (*all_reduce)(void* ctx, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                    int32_t op /* prism_comm_reduce */, int64_t timeout_ms);
  /* In place: every rank's buf becomes root's. */
  prism_plugin_error* (*broadcast)(void* ctx, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                   int32_t root, int64_t timeout_ms);
  /* dst (world_size * count elements) = concatenation of every rank's src
   * (count elements), in rank order. src and dst do not overlap. */
  prism_plugin_error* (*all_gather)(void* ctx, prism_comm_t comm, const void* src, void* dst, uint64_t count,
                                    int32_t dtype, int64_t timeout_ms);
  /* dst (count elements) = chunk `rank` of the reduction of every rank's src
   * (world_size * count elements). src and dst do not overlap. */
  prism_plugin_error* (*reduce_scatter)(void* ctx, prism_comm_t comm, const void* src, void* dst,
                                        uint64_t count, int32_t dtype, int32_t op, int64_t timeout_ms);
  prism_plugin_error* (*barrier)(void* ctx, prism_comm_t comm, int64_t timeout_ms);
  /* Point to point: `bytes` bytes to / from rank `peer` of comm, matched by
   * `tag` (>= 0). */
  prism_plugin_error* (*send)(void* ctx, prism_comm_t comm, const void* buf, uint64_t bytes, int32_t peer,
                              int32_t tag, int64_t timeout_ms);
  prism_plugin_error* (*recv)(void* ctx, prism_comm_t comm, void* buf, uint64_t bytes, int32_t peer,
                              int32_t tag, int64_t timeout_ms);

  /* --- ABI 1.2 ------------------------------------------------------------ */
  /* prism_comm_flag bits; 0 keeps every call on the core's worker thread.
   * Read only when struct_size covers it and abi_minor >= 2. */
  uint32_t flags;
} prism_comm_table;

/* Signature of the one symbol a communicator plugin exports:
 *
 *   PRISM_PLUGIN_EXPORT prism_plugin_error* prism_comm_plugin_entry(
 *       const prism_host_table* host, const prism_comm_table** table);
 *
 * As prism_plugin_entry (plugin.h): `host` lives until the plugin is
 * unloaded; *table (out) points to plugin-owned static storage. */
typedef prism_plugin_error* (*prism_comm_entry_fn)(const prism_host_table* host,
                                                   const prism_comm_table** table);

#define PRISM_COMM_ENTRY_SYMBOL "prism_comm_plugin_entry"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_API_PRISM_COMM_H_ */
