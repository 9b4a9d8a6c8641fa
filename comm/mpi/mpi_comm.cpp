// mpi_comm.cpp — the MPI communicator plugin (libprism-comm-mpi.so): collectives from the MPI library (Debian
// OpenMPI). The C API only (no MPI C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "prism/comm.h"

/*
 * Note [MPI communicator]
 * -----------------------
 * For clusters that launch with mpirun or Slurm: the job's ranks come from
 * MPI itself (the core passes rank/world size -1 when the environment has
 * none; when it has them, they must match MPI's). MPI is initialised with
 * MPI_THREAD_SERIALIZED at the first comm_create (the core calls every
 * collective from a group's worker thread) and finalised when the world
 * communicator is destroyed, or at exit. All MPI calls of the process go
 * through one mutex, so groups' worker threads never call MPI at once. So
 * two groups used at once from two threads can deadlock, when the ranks
 * start their collectives in different orders: one group's call holds the
 * lock while waiting for a peer that holds it for the other group.
 * MPI has no timeouts: a rank that dies makes the MPI runtime abort the whole
 * job (mpirun then exits non-zero naming the rank), which is MPI's fault
 * model; timeout_ms is therefore not used here.
 */

#define PRISM_STR2(x) #x
#define PRISM_STR(x) PRISM_STR2(x)

namespace {

const prism_host_table* g_host = nullptr;
std::mutex g_mpi_mu;
bool g_we_initialised = false;

prism_plugin_error* make_error(prism_status code, const std::string& msg) {
  return g_host->error_create(code, msg.c_str());
}

prism_plugin_error* mpi_error(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return nullptr;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return make_error(PRISM_ERROR_UNAVAILABLE,
                    std::string(what) + ": " + std::string(text, static_cast<size_t>(len)));
}

struct Comm {
  MPI_Comm comm;
  bool world;
};

Comm* as_comm(prism_comm_t c) {
  return reinterpret_cast<Comm*>(c);
}

// f16 / bf16 reductions (MPI has no such types): user ops over uint16.
inline float bf16_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
inline float f16_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal
      float f = std::ldexp(static_cast<float>(man), -24);
      std::memcpy(&u, &f, 4);
      u |= sign;
    }
  } else if (exp == 31) {
    u = sign | 0x7F800000u | (man << 13);
  } else {
    u = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t float_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  if (std::isnan(f)) return static_cast<uint16_t>(sign | 0x7E00u);
  float a = std::fabs(f);
  if (a >= 65520.0f) return static_cast<uint16_t>(sign | 0x7C00u);
  if (a < 6.103515625e-05f) {  // subnormal or zero: round to a multiple of 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t e = ((u >> 23) & 0xFF) - 112, m = u & 0x7FFFFF;
  uint32_t h = (e << 10) | (m >> 13);
  uint32_t rest = m & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

template <bool BF16, int OP>
void half_op(void* in, void* inout, int* len, MPI_Datatype*) {
  auto* a = static_cast<uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = BF16 ? bf16_to_float(a[i]) : f16_to_float(a[i]);
    float y = BF16 ? bf16_to_float(b[i]) : f16_to_float(b[i]);
    float r = OP == PRISM_COMM_MAX    ? (x > y ? x : y)
              : OP == PRISM_COMM_MIN  ? (x < y ? x : y)
              : OP == PRISM_COMM_PROD ? x * y
                                      : x + y;
    b[i] = BF16 ? float_to_bf16(r) : float_to_f16(r);
  }
}

MPI_Op g_half_ops[2][5];  // [bf16][op], made at init

MPI_Datatype mpi_type(int32_t dtype) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
    case PRISM_DTYPE_U8:
      return MPI_UINT8_T;
    case PRISM_DTYPE_I8:
      return MPI_INT8_T;
    case PRISM_DTYPE_I16:
      return MPI_INT16_T;
    case PRISM_DTYPE_I32:
      return MPI_INT32_T;
    case PRISM_DTYPE_I64:
      return MPI_INT64_T;
    case PRISM_DTYPE_F16:
    case PRISM_DTYPE_BF16:
      return MPI_UINT16_T;
    case PRISM_DTYPE_F32:
      return MPI_FLOAT;
    case PRISM_DTYPE_F64:
      return MPI_DOUBLE;
    default:
      return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(int32_t dtype, int32_t op) {
  if (dtype == PRISM_DTYPE_BOOL) return op == PRISM_COMM_SUM || op == PRISM_COMM_MAX ? MPI_LOR : MPI_LAND;
  if (dtype == PRISM_DTYPE_F16 || dtype == PRISM_DTYPE_BF16)
    return g_half_ops[dtype == PRISM_DTYPE_BF16 ? 1 : 0][op >= 0 && op <= 4 ? op : 0];
  switch (op) {
    case PRISM_COMM_MAX:
      return MPI_MAX;
    case PRISM_COMM_MIN:
      return MPI_MIN;
    case PRISM_COMM_PROD:
      return MPI_PROD;
    default:
      return MPI_SUM;
  }
}

prism_plugin_error* check_count(uint64_t count, int32_t dtype, const char* what) {
  if (mpi_type(dtype) == MPI_DATATYPE_NULL)
    return make_error(PRISM_ERROR_TYPE, std::string(what) + ": unknown dtype " + std::to_string(dtype));
  if (count > static_cast<uint64_t>(INT_MAX))
    return make_error(PRISM_ERROR_INVALID_ARGUMENT,
                      std::string(what) + ": more than INT_MAX elements in one MPI call");
  return nullptr;
}

void finalize_at_exit() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized && g_we_initialised) MPI_Finalize();
}

prism_plugin_error* mp_init(void** ctx) {
  *ctx = nullptr;
  return nullptr;
}
void mp_shutdown(void*) {}
prism_plugin_error* mp_probe(void*, int32_t* usable, const char** reason) {
  *usable = 1;
  *reason = nullptr;
  return nullptr;
}

template <int BF, int OP>
void make_half_op() {
  MPI_Op_create(&half_op<BF != 0, OP>, 1, &g_half_ops[BF][OP]);
}

prism_plugin_error* mp_comm_create(void*, const prism_comm_config* cfg, prism_comm_t* out, int32_t* rank,
                                   int32_t* size) {
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  *out = nullptr;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    if (int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided))
      return mpi_error(rc, "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED)
      return make_error(PRISM_ERROR_UNAVAILABLE, "the MPI library does not provide MPI_THREAD_SERIALIZED");
    g_we_initialised = true;
    std::atexit(finalize_at_exit);
    make_half_op<0, 0>();
    make_half_op<0, 2>();
    make_half_op<0, 3>();
    make_half_op<0, 4>();
    make_half_op<1, 0>();
    make_half_op<1, 2>();
    make_half_op<1, 3>();
    make_half_op<1, 4>();
  }
  int r = 0, n = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  if (cfg != nullptr &&
      ((cfg->rank >= 0 && cfg->rank != r) || (cfg->world_size >= 0 && cfg->world_size != n)))
    return make_error(PRISM_ERROR_INVALID_ARGUMENT,
                      "the environment says rank " + std::to_string(cfg->rank) + " of " +
                          std::to_string(cfg->world_size) + " but MPI says rank " + std::to_string(r) +
                          " of " + std::to_string(n) +
                          " (launch with mpirun, or unset PRISM_RANK/PRISM_WORLD_SIZE)");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  *rank = r;
  *size = n;
  *out = reinterpret_cast<prism_comm_t>(new Comm{MPI_COMM_WORLD, true});
  return nullptr;
}

prism_plugin_error* mp_comm_split(void*, prism_comm_t parent, const int32_t* ranks, size_t n, uint64_t,
                                  prism_comm_t* out) {
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  *out = nullptr;
  Comm* p = as_comm(parent);
  int me = 0;
  MPI_Comm_rank(p->comm, &me);
  int color = MPI_UNDEFINED, key = 0;
  for (size_t i = 0; i < n; ++i)
    if (ranks[i] == me) {
      color = 0;
      key = static_cast<int>(i);
    }
  MPI_Comm sub = MPI_COMM_NULL;
  if (int rc = MPI_Comm_split(p->comm, color, key, &sub)) return mpi_error(rc, "MPI_Comm_split");
  if (sub != MPI_COMM_NULL) {
    MPI_Comm_set_errhandler(sub, MPI_ERRORS_RETURN);
    *out = reinterpret_cast<prism_comm_t>(new Comm{sub, false});
  }
  return nullptr;
}

void mp_comm_destroy(void*, prism_comm_t comm) {
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  Comm* c = as_comm(comm);
  if (c == nullptr) return;
  if (c->world) {
    finalize_at_exit();
  } else {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&c->comm);
  }
  delete c;
}

prism_plugin_error* mp_all_reduce(void*, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                  int32_t op, int64_t) {
  if (prism_plugin_error* e = check_count(count, dtype, "all_reduce")) return e;
  if (count == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  return mpi_error(MPI_Allreduce(MPI_IN_PLACE, buf, static_cast<int>(count), mpi_type(dtype),
                                 mpi_op(dtype, op), as_comm(comm)->comm),
                   "MPI_Allreduce");
}

prism_plugin_error* mp_broadcast(void*, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                 int32_t root, int64_t) {
  if (prism_plugin_error* e = check_count(count, dtype, "broadcast")) return e;
  if (count == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  return mpi_error(MPI_Bcast(buf, static_cast<int>(count), mpi_type(dtype), root, as_comm(comm)->comm),
                   "MPI_Bcast");
}

prism_plugin_error* mp_all_gather(void*, prism_comm_t comm, const void* src, void* dst, uint64_t count,
                                  int32_t dtype, int64_t) {
  if (prism_plugin_error* e = check_count(count, dtype, "all_gather")) return e;
  if (count == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  MPI_Datatype t = mpi_type(dtype);
  return mpi_error(
      MPI_Allgather(src, static_cast<int>(count), t, dst, static_cast<int>(count), t, as_comm(comm)->comm),
      "MPI_Allgather");
}

prism_plugin_error* mp_reduce_scatter(void*, prism_comm_t comm, const void* src, void* dst, uint64_t count,
                                      int32_t dtype, int32_t op, int64_t) {
  if (prism_plugin_error* e = check_count(count, dtype, "reduce_scatter")) return e;
  if (count == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  return mpi_error(MPI_Reduce_scatter_block(src, dst, static_cast<int>(count), mpi_type(dtype),
                                            mpi_op(dtype, op), as_comm(comm)->comm),
                   "MPI_Reduce_scatter_block");
}

prism_plugin_error* mp_barrier(void*, prism_comm_t comm, int64_t) {
  std::lock_guard<std::mutex> lock(g_mpi_mu);
  return mpi_error(MPI_Barrier(as_comm(comm)->comm), "MPI_Barrier");
}

// Waits for a request, polling under the lock, so that a blocked transfer
// never holds it (the peer's matching call may need it in this process).
prism_plugin_error* wait_request(MPI_Request* req, const char* what) {
  for (;;) {
    int done = 0;
    {
      std::lock_guard<std::mutex> lock(g_mpi_mu);
      if (int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE)) return mpi_error(rc, what);
    }
    if (done) return nullptr;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

prism_plugin_error* mp_send(void*, prism_comm_t comm, const void* buf, uint64_t bytes, int32_t peer,
                            int32_t tag, int64_t) {
  if (bytes > static_cast<uint64_t>(INT_MAX))
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, "send: too many bytes");
  MPI_Request req;
  {
    std::lock_guard<std::mutex> lock(g_mpi_mu);
    if (int rc = MPI_Isend(buf, static_cast<int>(bytes), MPI_BYTE, peer, tag, as_comm(comm)->comm, &req))
      return mpi_error(rc, "MPI_Isend");
  }
  return wait_request(&req, "MPI_Isend");
}

prism_plugin_error* mp_recv(void*, prism_comm_t comm, void* buf, uint64_t bytes, int32_t peer, int32_t tag,
                            int64_t) {
  if (bytes > static_cast<uint64_t>(INT_MAX))
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, "recv: too many bytes");
  MPI_Request req;
  {
    std::lock_guard<std::mutex> lock(g_mpi_mu);
    if (int rc = MPI_Irecv(buf, static_cast<int>(bytes), MPI_BYTE, peer, tag, as_comm(comm)->comm, &req))
      return mpi_error(rc, "MPI_Irecv");
  }
  return wait_request(&req, "MPI_Irecv");
}

const prism_comm_table kTable = {
    sizeof(prism_comm_table),
    PRISM_COMM_ABI_MAJOR,
    PRISM_COMM_ABI_MINOR,
    "mpi",
    "MPI " PRISM_STR(MPI_VERSION) "." PRISM_STR(MPI_SUBVERSION),
    nullptr,
    mp_init,
    mp_shutdown,
    mp_probe,
    mp_comm_create,
    mp_comm_split,
    mp_comm_destroy,
    mp_all_reduce,
    mp_broadcast,
    mp_all_gather,
    mp_reduce_scatter,
    mp_barrier,
    mp_send,
    mp_recv,
    0,  // flags: MPI has no timeouts, so calls stay on the worker (a wait can time out)
};

}  // namespace

extern "C" PRISM_PLUGIN_EXPORT prism_plugin_error* prism_comm_plugin_entry(const prism_host_table* host,
                                                                           const prism_comm_table** table) {
  if (host == nullptr || table == nullptr) return nullptr;
  g_host = host;
  *table = &kTable;
  return nullptr;
}
