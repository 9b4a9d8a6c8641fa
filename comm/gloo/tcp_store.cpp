// tcp_store.cpp — the TCP rendezvous store's server and client (Note [TCP rendezvous store]).
#include "tcp_store.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <set>
#include <stdexcept>

namespace prism::gloo_comm {

namespace {

enum : uint8_t { kHello = 1, kSet = 2, kGet = 3 };
enum : uint8_t { kOk = 0, kNotFound = 1, kFatal = 2 };

std::string errno_text(int e) {
  return std::strerror(e);
}

bool write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t k = ::send(fd, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool read_all(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t k = ::recv(fd, c, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// Resolves host:port (IPv4 or IPv6). Throws naming the host.
addrinfo* resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0)
    throw std::runtime_error("cannot resolve the master address '" + host + "': " + gai_strerror(rc));
  return res;
}

}  // namespace

// ===========================================================================
// Server
// ===========================================================================

struct TcpStoreServer::State {
  std::mutex mu;
  std::map<std::string, std::vector<char>> kv;
  std::set<int> ranks;
  std::string fatal;
  int world_size = 0;
  int listen_fd = -1;
  std::atomic<bool> stop{false};
  std::mutex conn_mu;
  std::vector<int> conns;
};

namespace {

void serve(const std::shared_ptr<TcpStoreServer::State>& st, int fd) {
  for (;;) {
    uint8_t cmd = 0;
    uint32_t klen = 0;
    uint64_t vlen = 0;
    if (!read_all(fd, &cmd, 1) || !read_all(fd, &klen, 4) || klen > (1u << 20)) break;
    std::string key(klen, '\0');
    if (!read_all(fd, key.data(), klen) || !read_all(fd, &vlen, 8) || vlen > (1ull << 30)) break;
    std::vector<char> value(vlen);
    if (!read_all(fd, value.data(), vlen)) break;
    uint8_t status = kOk;
    std::vector<char> out;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (cmd == kHello && vlen == 8) {
        int32_t rank = 0, world = 0;
        std::memcpy(&rank, value.data(), 4);
        std::memcpy(&world, value.data() + 4, 4);
        std::string why;
        if (world != st->world_size)
          why = "rank " + std::to_string(rank) + " was started with world size " + std::to_string(world) +
                " but rank 0 (the master) has world size " + std::to_string(st->world_size);
        else if (rank < 0 || rank >= world)
          why = "rank " + std::to_string(rank) + " is out of range for world size " + std::to_string(world);
        else if (!st->ranks.insert(rank).second)
          why = "two processes joined as rank " + std::to_string(rank);
        if (!why.empty()) {
          if (st->fatal.empty()) st->fatal = why;
          status = kFatal;
          out.assign(why.begin(), why.end());
        }
      } else if (cmd == kSet) {
        st->kv[key] = std::move(value);
      } else if (cmd == kGet) {
        if (!st->fatal.empty()) {
          status = kFatal;
          out.assign(st->fatal.begin(), st->fatal.end());
        } else {
          auto it = st->kv.find(key);
          if (it == st->kv.end()) {
            status = kNotFound;
          } else {
            out = it->second;
          }
        }
      } else {
        break;
      }
    }
    uint64_t olen = out.size();
    if (!write_all(fd, &status, 1) || !write_all(fd, &olen, 8) || !write_all(fd, out.data(), out.size()))
      break;
  }
  ::close(fd);
}

}  // namespace

TcpStoreServer::TcpStoreServer(const std::string& addr, int port, int world_size)
    : state_(std::make_shared<State>()) {
  state_->world_size = world_size;
  // Listen on every address (the master address names this host for the
  // others; binding to it alone would refuse loopback clients when it is a
  // public address, and the reverse). The port decides.
  (void)addr;
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  bool v6 = fd >= 0;
  if (!v6) fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket: " + errno_text(errno));
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (v6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_any;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("rank 0 cannot listen on port " + std::to_string(port) + ": " + errno_text(e) +
                             (e == EADDRINUSE
                                  ? " (the port is in use: pick another with PRISM_MASTER_PORT or "
                                    "`prism run --master-port`)"
                                  : ""));
  }
  state_->listen_fd = fd;
  std::shared_ptr<State> st = state_;
  accept_thread_ = std::thread([st] {
    while (!st->stop.load()) {
      pollfd p{st->listen_fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r <= 0) continue;
      int c = ::accept(st->listen_fd, nullptr, nullptr);
      if (c < 0) continue;
      int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      {
        std::lock_guard<std::mutex> lock(st->conn_mu);
        st->conns.push_back(c);
      }
      std::thread([st, c] { serve(st, c); }).detach();
    }
  });
}

TcpStoreServer::~TcpStoreServer() {
  state_->stop = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(state_->listen_fd);
  // Wake the connection threads; each closes its own descriptor.
  std::lock_guard<std::mutex> lock(state_->conn_mu);
  for (int c : state_->conns) ::shutdown(c, SHUT_RDWR);
}

// ===========================================================================
// Client
// ===========================================================================

TcpStore::TcpStore(const std::string& addr, int port, int rank, int world_size,
                   std::chrono::milliseconds timeout)
    : where_(addr + ":" + std::to_string(port)), timeout_(timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no attempt";
  auto backoff = std::chrono::milliseconds(10);
  while (fd_ < 0) {
    addrinfo* res = resolve(addr, port, false);
    for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        last = errno_text(errno);
        ::close(fd);
      }
    }
    ::freeaddrinfo(res);
    if (fd_ >= 0) break;
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("cannot reach the rendezvous master " + where_ + " within " +
                               std::to_string(timeout.count()) + " ms (last error: " + last +
                               "); is rank 0 running and PRISM_MASTER_ADDR/PRISM_MASTER_PORT right?");
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Replies must come within the timeout too (a dead master never answers).
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::vector<char> hello(8), reply;
  int32_t r = rank, w = world_size;
  std::memcpy(hello.data(), &r, 4);
  std::memcpy(hello.data() + 4, &w, 4);
  if (request(kHello, "", hello, reply) == kFatal)
    throw std::runtime_error("rendezvous refused by the master " + where_ + ": " +
                             std::string(reply.begin(), reply.end()));
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) ::close(fd_);
}

uint8_t TcpStore::request(uint8_t cmd, const std::string& key, const std::vector<char>& value,
                          std::vector<char>& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t klen = static_cast<uint32_t>(key.size());
  uint64_t vlen = value.size();
  uint8_t status = 0;
  uint64_t rlen = 0;
  if (!write_all(fd_, &cmd, 1) || !write_all(fd_, &klen, 4) || !write_all(fd_, key.data(), key.size()) ||
      !write_all(fd_, &vlen, 8) || !write_all(fd_, value.data(), value.size()) ||
      !read_all(fd_, &status, 1) || !read_all(fd_, &rlen, 8))
    throw std::runtime_error("lost the connection to the rendezvous master " + where_ +
                             " (rank 0 exited or is unreachable)");
  reply.resize(rlen);
  if (!read_all(fd_, reply.data(), rlen))
    throw std::runtime_error("lost the connection to the rendezvous master " + where_);
  return status;
}

void TcpStore::set(const std::string& key, const std::vector<char>& data) {
  std::vector<char> reply;
  request(kSet, key, data, reply);
}

std::vector<char> TcpStore::get(const std::string& key) {
  wait({key}, timeout_);
  std::vector<char> reply;
  if (request(kGet, key, {}, reply) != kOk)
    throw std::runtime_error("rendezvous key '" + key + "' vanished from the master " + where_);
  return reply;
}

void TcpStore::wait(const std::vector<std::string>& keys) {
  wait(keys, timeout_);
}

void TcpStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(1);
  for (const std::string& key : keys) {
    for (;;) {
      std::vector<char> reply;
      uint8_t st = request(kGet, key, {}, reply);
      if (st == kOk) break;
      if (st == kFatal)
        throw std::runtime_error("rendezvous failed: " + std::string(reply.begin(), reply.end()));
      if (std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error("rendezvous timed out after " + std::to_string(timeout.count()) +
                                 " ms waiting for key '" + key + "' at " + where_ +
                                 " (a rank did not join: check the world size and that every rank started)");
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(20));
    }
  }
}

}  // namespace prism::gloo_comm
