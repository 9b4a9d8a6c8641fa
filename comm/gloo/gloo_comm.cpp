// gloo_comm.cpp — the Gloo communicator plugin (libprism-comm-gloo.so): collectives over Gloo's TCP
// transport.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/types.h>

#include "prism/comm.h"
#include "prism_plugin_sdk.h"
#include "tcp_store.hpp"

namespace {

using prism::gloo_comm::TcpStore;
using prism::gloo_comm::TcpStoreServer;

const prism_host_table* g_host = nullptr;

prism_plugin_error* make_error(prism_status code, const std::string& msg) {
  return g_host->error_create(code, msg.c_str());
}

// One communicator: a Gloo context, the store it met its peers through and
// the transport device. The world communicator of rank 0 also owns the store
// server, which must outlive every sub-group's rendezvous.
struct Comm {
  std::shared_ptr<TcpStoreServer> server;  // rank 0 of the world only
  std::shared_ptr<TcpStore> store;
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  std::string prefix;  // store key prefix of this communicator
  int rank = 0, size = 1;
  std::string broken;  // non-empty after a failed collective
  uint64_t seq = 0;    // collectives issued on this communicator (Note [Gloo tags carry the shape])
};

Comm* as_comm(prism_comm_t c) {
  return reinterpret_cast<Comm*>(c);
}

// The local address that routes to the master: what Gloo advertises to the
// peers (a host name lookup could give an address they cannot reach, e.g.
// inside a network namespace).
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr)
    return host;
  std::string out = host;
  int fd = ::socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      char buf[INET6_ADDRSTRLEN] = {0};
      if (ss.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
      else
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof(buf));
      if (buf[0] != '\0') out = buf;
    }
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(res);
  return out;
}

// ---- element types and reductions ------------------------------------------------------------------

struct Bf16 {
  uint16_t x;
};

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
  u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

template <typename T>
T apply(int op, T a, T b) {
  switch (op) {
    case PRISM_COMM_MAX:
      return a > b ? a : b;
    case PRISM_COMM_MIN:
      return a < b ? a : b;
    case PRISM_COMM_PROD:
      return static_cast<T>(a * b);
    default:
      return static_cast<T>(a + b);
  }
}

// Gloo's reduction callback: c[i] = a[i] op b[i]. One tight loop per
// operator, so the compiler vectorises it (the buffer is reduced once per
// hop of the ring: this loop is on the bandwidth path).
template <typename T, int OP>
void reduce_loop(void* c, const void* a, const void* b, size_t n) {
  T* dst = static_cast<T*>(c);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  for (size_t i = 0; i < n; ++i) dst[i] = apply<T>(OP, x[i], y[i]);
}

template <typename T>
gloo::AllreduceOptions::Func reduce_fn(int op) {
  switch (op) {
    case PRISM_COMM_MAX:
      return &reduce_loop<T, PRISM_COMM_MAX>;
    case PRISM_COMM_MIN:
      return &reduce_loop<T, PRISM_COMM_MIN>;
    case PRISM_COMM_PROD:
      return &reduce_loop<T, PRISM_COMM_PROD>;
    default:
      return &reduce_loop<T, PRISM_COMM_SUM>;
  }
}

gloo::AllreduceOptions::Func reduce_fn_bool(int op) {
  return [op](void* c, const void* a, const void* b, size_t n) {
    auto* dst = static_cast<uint8_t*>(c);
    const auto* x = static_cast<const uint8_t*>(a);
    const auto* y = static_cast<const uint8_t*>(b);
    bool any = op == PRISM_COMM_SUM || op == PRISM_COMM_MAX;
    for (size_t i = 0; i < n; ++i) dst[i] = any ? (x[i] || y[i]) : (x[i] && y[i]);
  };
}

gloo::AllreduceOptions::Func reduce_fn_half(int op, bool bf16) {
  return [op, bf16](void* c, const void* a, const void* b, size_t n) {
    auto* dst = static_cast<uint16_t*>(c);
    const auto* x = static_cast<const uint16_t*>(a);
    const auto* y = static_cast<const uint16_t*>(b);
    for (size_t i = 0; i < n; ++i) {
      float fa, fb;
      if (bf16) {
        fa = bf16_to_float(x[i]);
        fb = bf16_to_float(y[i]);
      } else {
        gloo::float16 ha, hb;
        ha.x = x[i];
        hb.x = y[i];
        fa = gloo::cpu_half2float(ha);
        fb = gloo::cpu_half2float(hb);
      }
      float r = apply<float>(op, fa, fb);
      dst[i] = bf16 ? float_to_bf16(r) : gloo::cpu_float2half_rn(r).x;
    }
  };
}

// Element size of the dtypes this engine moves: the SDK's table, with the
// complex dtypes refused (0) as every other dtype it does not know.
size_t elem_size(int32_t dtype) {
  if (dtype == PRISM_DTYPE_C64 || dtype == PRISM_DTYPE_C128) return 0;
  return prism_sdk_dtype_size(dtype);
}

gloo::AllreduceOptions::Func pick_reduce(int32_t dtype, int32_t op) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      return reduce_fn_bool(op);
    case PRISM_DTYPE_U8:
      return reduce_fn<uint8_t>(op);
    case PRISM_DTYPE_I8:
      return reduce_fn<int8_t>(op);
    case PRISM_DTYPE_I16:
      return reduce_fn<int16_t>(op);
    case PRISM_DTYPE_I32:
      return reduce_fn<int32_t>(op);
    case PRISM_DTYPE_I64:
      return reduce_fn<int64_t>(op);
    case PRISM_DTYPE_F16:
      return reduce_fn_half(op, false);
    case PRISM_DTYPE_BF16:
      return reduce_fn_half(op, true);
    case PRISM_DTYPE_F32:
      return reduce_fn<float>(op);
    case PRISM_DTYPE_F64:
      return reduce_fn<double>(op);
    default:
      return {};
  }
}

// Note [Gloo tags carry the shape]
// Gloo matches messages by slot (operation and tag). When ranks pass
// different sizes to one collective, Gloo's transport thread fails an
// internal check ("op.preamble.length <= op.nbytes") and the exception ends
// the process with std::terminate, beyond the reach of any caller. Prism
// therefore derives each collective's tag from (element count, dtype, root):
// ranks that disagree on the size use different slots, their messages never
// match, and each rank's collective fails with a timeout error instead. Ranks
// that agree (the normal case) compute the same tag and pay nothing. The tag
// also mixes in the communicator's collective count (every rank issues the
// same collectives in the same order), so successive collectives, barriers
// included, use distinct slots as torch's Gloo group does with its counter.
uint32_t shape_tag(Comm* c, uint64_t count, int32_t dtype, int32_t extra) {
  uint32_t h = 2166136261u;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h = (h ^ static_cast<uint32_t>(v & 0xFF)) * 16777619u;
      v >>= 8;
    }
  };
  mix(c->seq++);
  mix(count);
  mix(static_cast<uint64_t>(static_cast<uint32_t>(dtype)));
  mix(static_cast<uint64_t>(static_cast<uint32_t>(extra)));
  return h & 0x7FFFFFFFu;
}

// Gloo's typed setters only use sizeof(T): one byte-sized type per width.
template <size_t N>
struct Elem {
  char b[N];
};

// Runs `body`, turning every exception into an error object; marks the
// communicator broken after a failure (Note [Communicator ABI rules]).
template <typename F>
prism_plugin_error* guarded(Comm* c, const char* what, F&& body) {
  if (c == nullptr)
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, std::string(what) + ": communicator is NULL");
  if (!c->broken.empty())
    return make_error(
        PRISM_ERROR_UNAVAILABLE,
        std::string(what) + ": the communicator is unusable after an earlier failure: " + c->broken);
  try {
    body();
    return nullptr;
  } catch (const gloo::IoException& e) {
    c->broken = std::string(
                    "Gloo I/O error (a peer rank exited, was killed or is unreachable, or the "
                    "timeout passed): ") +
                e.what();
  } catch (const std::exception& e) {
    c->broken = e.what();
  }
  return make_error(PRISM_ERROR_UNAVAILABLE, c->broken);
}

// ---- table slots ------------------------------------------------------------------------------------

prism_plugin_error* gl_init(void** ctx) {
  *ctx = nullptr;
  return nullptr;
}

void gl_shutdown(void* /*ctx*/) {}

prism_plugin_error* gl_probe(void* /*ctx*/, int32_t* usable, const char** reason) {
  *usable = 1;
  *reason = nullptr;
  return nullptr;
}

std::shared_ptr<gloo::rendezvous::Context> connect(gloo::rendezvous::Store& store,
                                                   std::shared_ptr<gloo::transport::Device>& dev, int rank,
                                                   int size, std::chrono::milliseconds timeout) {
  auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
  ctx->setTimeout(timeout);
  ctx->connectFullMesh(store, dev);
  return ctx;
}

prism_plugin_error* gl_comm_create(void* /*ctx*/, const prism_comm_config* cfg, prism_comm_t* out,
                                   int32_t* rank, int32_t* world_size) {
  *out = nullptr;
  if (cfg == nullptr || cfg->master_addr == nullptr || cfg->rank < 0 || cfg->world_size < 1)
    return make_error(PRISM_ERROR_INVALID_ARGUMENT, "gloo needs a rank, a world size and a master address");
  auto c = std::make_unique<Comm>();
  c->rank = cfg->rank;
  c->size = cfg->world_size;
  std::chrono::milliseconds timeout(cfg->timeout_ms);
  try {
    if (cfg->rank == 0)
      c->server = std::make_shared<TcpStoreServer>(cfg->master_addr, cfg->master_port, cfg->world_size);
    c->store =
        std::make_shared<TcpStore>(cfg->master_addr, cfg->master_port, cfg->rank, cfg->world_size, timeout);
    gloo::transport::tcp::attr attr;
    attr.hostname = local_address_towards(cfg->master_addr, cfg->master_port);
    c->device = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::PrefixStore world("w", *c->store);
    c->context = connect(world, c->device, c->rank, c->size, timeout);
  } catch (const std::exception& e) {
    return make_error(PRISM_ERROR_UNAVAILABLE, e.what());
  }
  *rank = c->rank;
  *world_size = c->size;
  *out = reinterpret_cast<prism_comm_t>(c.release());
  return nullptr;
}

prism_plugin_error* gl_comm_split(void* /*ctx*/, prism_comm_t parent, const int32_t* ranks, size_t n,
                                  uint64_t group_id, prism_comm_t* out) {
  *out = nullptr;
  Comm* p = as_comm(parent);
  int mine = -1;
  for (size_t i = 0; i < n; ++i)
    if (ranks[i] == p->rank) mine = static_cast<int>(i);
  if (mine < 0) return nullptr;
  auto c = std::make_unique<Comm>();
  c->store = p->store;
  c->device = p->device;
  c->rank = mine;
  c->size = static_cast<int>(n);
  c->prefix = p->prefix + "/g" + std::to_string(group_id);
  prism_plugin_error* err = guarded(p, "new_group", [&] {
    gloo::rendezvous::PrefixStore sub(c->prefix, *c->store);
    c->context = connect(sub, c->device, c->rank, c->size, p->context->getTimeout());
  });
  if (err != nullptr) return err;
  *out = reinterpret_cast<prism_comm_t>(c.release());
  return nullptr;
}

void gl_comm_destroy(void* /*ctx*/, prism_comm_t comm) {
  delete as_comm(comm);
}

prism_plugin_error* check_dtype(int32_t dtype, const char* what) {
  if (elem_size(dtype) == 0)
    return make_error(PRISM_ERROR_TYPE, std::string(what) + ": unknown dtype " + std::to_string(dtype));
  return nullptr;
}

template <typename F>
void with_width(size_t es, F&& f) {
  switch (es) {
    case 1:
      f(Elem<1>{});
      break;
    case 2:
      f(Elem<2>{});
      break;
    case 4:
      f(Elem<4>{});
      break;
    default:
      f(Elem<8>{});
      break;
  }
}

prism_plugin_error* gl_all_reduce(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                  int32_t op, int64_t timeout_ms) {
  if (prism_plugin_error* e = check_dtype(dtype, "all_reduce")) return e;
  Comm* c = as_comm(comm);
  if (count == 0 || (c != nullptr && c->size == 1 && c->broken.empty())) return nullptr;
  return guarded(c, "all_reduce", [&] {
    gloo::AllreduceOptions opts(c->context);
    with_width(elem_size(dtype), [&](auto e) {
      using T = decltype(e);
      opts.setOutput(static_cast<T*>(buf), count);
    });
    opts.setReduceFunction(pick_reduce(dtype, op));
    opts.setTag(shape_tag(c, count, dtype, op));
    opts.setTimeout(std::chrono::milliseconds(timeout_ms));
    gloo::allreduce(opts);
  });
}

prism_plugin_error* gl_broadcast(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t count, int32_t dtype,
                                 int32_t root, int64_t timeout_ms) {
  if (prism_plugin_error* e = check_dtype(dtype, "broadcast")) return e;
  Comm* c = as_comm(comm);
  if (count == 0 || (c != nullptr && c->size == 1 && c->broken.empty())) return nullptr;
  return guarded(c, "broadcast", [&] {
    gloo::BroadcastOptions opts(c->context);
    with_width(elem_size(dtype), [&](auto e) {
      using T = decltype(e);
      opts.setOutput(static_cast<T*>(buf), count);
    });
    opts.setRoot(root);
    opts.setTag(shape_tag(c, count, dtype, 100 + root));
    opts.setTimeout(std::chrono::milliseconds(timeout_ms));
    gloo::broadcast(opts);
  });
}

prism_plugin_error* gl_all_gather(void* /*ctx*/, prism_comm_t comm, const void* src, void* dst,
                                  uint64_t count, int32_t dtype, int64_t timeout_ms) {
  if (prism_plugin_error* e = check_dtype(dtype, "all_gather")) return e;
  Comm* c = as_comm(comm);
  if (count == 0) return nullptr;
  if (c != nullptr && c->size == 1 && c->broken.empty()) {
    std::memcpy(dst, src, count * elem_size(dtype));
    return nullptr;
  }
  return guarded(c, "all_gather", [&] {
    gloo::AllgatherOptions opts(c->context);
    with_width(elem_size(dtype), [&](auto e) {
      using T = decltype(e);
      opts.setInput(static_cast<T*>(const_cast<void*>(src)), count);
      opts.setOutput(static_cast<T*>(dst), count * static_cast<uint64_t>(c->size));
    });
    opts.setTag(shape_tag(c, count, dtype, -1));
    opts.setTimeout(std::chrono::milliseconds(timeout_ms));
    gloo::allgather(opts);
  });
}

// Note [Gloo reduce_scatter]
// Debian's Gloo has no reduce-scatter in its options API (only the legacy
// halving-doubling class for float types). Prism all-reduces a copy of the
// input with Gloo's ring all-reduce and keeps this rank's chunk: the same
// bytes on the wire as a ring reduce-scatter plus an all-gather.
prism_plugin_error* gl_reduce_scatter(void* ctx, prism_comm_t comm, const void* src, void* dst,
                                      uint64_t count, int32_t dtype, int32_t op, int64_t timeout_ms) {
  if (prism_plugin_error* e = check_dtype(dtype, "reduce_scatter")) return e;
  Comm* c = as_comm(comm);
  if (c == nullptr) return make_error(PRISM_ERROR_INVALID_ARGUMENT, "reduce_scatter: communicator is NULL");
  size_t es = elem_size(dtype);
  size_t total = count * static_cast<size_t>(c->size);
  std::vector<char> tmp(total * es);
  if (total > 0) std::memcpy(tmp.data(), src, total * es);
  if (prism_plugin_error* e = gl_all_reduce(ctx, comm, tmp.data(), total, dtype, op, timeout_ms)) return e;
  if (count > 0) std::memcpy(dst, tmp.data() + static_cast<size_t>(c->rank) * count * es, count * es);
  return nullptr;
}

prism_plugin_error* gl_barrier(void* /*ctx*/, prism_comm_t comm, int64_t timeout_ms) {
  Comm* c = as_comm(comm);
  if (c != nullptr && c->size == 1 && c->broken.empty()) return nullptr;
  return guarded(c, "barrier", [&] {
    gloo::BarrierOptions opts(c->context);
    opts.setTag(shape_tag(c, 0, 0, -2));
    opts.setTimeout(std::chrono::milliseconds(timeout_ms));
    gloo::barrier(opts);
  });
}

// Note [Point-to-point slots]
// ----------------------------
// A send and a recv meet on a Gloo slot. Gloo's transport thread checks the
// byte count of a message against the recv it matched and, when they differ,
// throws on its own thread, which ends the process. So the slot holds the
// byte count too (24 bits of a hash of it, beside the 31-bit tag): a send and
// a recv of different sizes then never match, and the recv fails at its
// timeout with an error saying what to check, where Gloo would abort. Two
// sizes whose hashes collide still meet (1 in 2^24). The slots keep the top
// byte 0, below the prefixes Gloo's collectives put there.
uint64_t p2p_slot(int32_t tag, uint64_t bytes) {
  uint64_t z = bytes + 0x9E3779B97F4A7C15ull;  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (uint64_t{1} << 55) | (static_cast<uint64_t>(tag) << 24) | (z & 0xFFFFFFu);
}

// Waits for a point-to-point transfer; a failure (Gloo's own timeout
// included) names the size, peer and tag (Note [Point-to-point slots]).
template <typename Wait>
void p2p_wait(const char* what, uint64_t bytes, int32_t peer, int32_t tag, int64_t timeout_ms, Wait&& wait) {
  const std::string head = std::string(what) + " of " + std::to_string(bytes) + " bytes " +
                           (what[0] == 's' ? "to" : "from") + " rank " + std::to_string(peer) + " with tag " +
                           std::to_string(tag);
  const std::string hint = std::string(" (no matching ") + (what[0] == 's' ? "recv" : "send") +
                           " of that size and tag on that rank: sizes must match)";
  bool done = false;
  try {
    done = wait(std::chrono::milliseconds(timeout_ms));
  } catch (const gloo::IoException& e) {
    throw gloo::IoException(head + ": " + e.what() + hint);
  }
  if (!done) throw gloo::IoException(head + " timed out after " + std::to_string(timeout_ms) + " ms" + hint);
}

prism_plugin_error* gl_send(void* /*ctx*/, prism_comm_t comm, const void* buf, uint64_t bytes, int32_t peer,
                            int32_t tag, int64_t timeout_ms) {
  Comm* c = as_comm(comm);
  return guarded(c, "send", [&] {
    char dummy = 0;
    void* p = bytes > 0 ? const_cast<void*>(buf) : &dummy;
    auto ub = c->context->createUnboundBuffer(p, bytes);
    ub->send(peer, p2p_slot(tag, bytes));
    p2p_wait("send", bytes, peer, tag, timeout_ms,
             [&](std::chrono::milliseconds t) { return ub->waitSend(t); });
  });
}

prism_plugin_error* gl_recv(void* /*ctx*/, prism_comm_t comm, void* buf, uint64_t bytes, int32_t peer,
                            int32_t tag, int64_t timeout_ms) {
  Comm* c = as_comm(comm);
  return guarded(c, "recv", [&] {
    char dummy = 0;
    void* p = bytes > 0 ? buf : &dummy;
    auto ub = c->context->createUnboundBuffer(p, bytes);
    ub->recv(peer, p2p_slot(tag, bytes));
    p2p_wait("recv", bytes, peer, tag, timeout_ms,
             [&](std::chrono::milliseconds t) { return ub->waitRecv(t); });
  });
}

const prism_comm_table kTable = {
    sizeof(prism_comm_table),
    PRISM_COMM_ABI_MAJOR,
    PRISM_COMM_ABI_MINOR,
    "gloo",
    "gloo 0.0~git20220518 (Debian libgloo), TCP transport",
    nullptr,
    gl_init,
    gl_shutdown,
    gl_probe,
    gl_comm_create,
    gl_comm_split,
    gl_comm_destroy,
    gl_all_reduce,
    gl_broadcast,
    gl_all_gather,
    gl_reduce_scatter,
    gl_barrier,
    gl_send,
    gl_recv,
    PRISM_COMM_FLAG_ANY_THREAD,  // Gloo has no thread affinity and times out by itself
};

}  // namespace

extern "C" PRISM_PLUGIN_EXPORT prism_plugin_error* prism_comm_plugin_entry(const prism_host_table* host,
                                                                           const prism_comm_table** table) {
  if (host == nullptr || table == nullptr) return nullptr;
  g_host = host;
  if (host->abi_major != PRISM_PLUGIN_ABI_MAJOR)
    return host->error_create(PRISM_ERROR_UNAVAILABLE, "gloo comm plugin: host table ABI major differs");
  *table = &kTable;
  return nullptr;
}
