// tcp_store.hpp — Prism's TCP rendezvous store (Gloo, NCCL/RCCL plugins): rank 0 serves keys on
// MASTER_ADDR:PORT, every rank is a client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef PRISM_TCP_STORE_GLOO
#include <gloo/rendezvous/store.h>
#endif

namespace prism::gloo_comm {

// Note [One store source for every engine]
// The Gloo plugin hands this store to Gloo's rendezvous, so there it is a
// gloo::rendezvous::Store (built with PRISM_TCP_STORE_GLOO). The NCCL and
// RCCL plugins compile the same source to publish ncclUniqueId and need no
// Gloo: there the base is the StoreBase below, with the same virtuals.
#ifdef PRISM_TCP_STORE_GLOO
using StoreBase = ::gloo::rendezvous::Store;
#else
class StoreBase {
 public:
  virtual ~StoreBase() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
};
#endif

// Note [TCP rendezvous store]
// Debian's Gloo (2022 snapshot) has a file store (needs a shared file
// system) and a Redis store (needs a Redis server) but not the TCP store
// PyTorch added later. Ranks only need a few hundred bytes each (Gloo's
// addresses) exchanged once per communicator, so Prism has its own: rank 0
// runs a small key/value server on the master address; each rank, rank 0
// included, talks to it over one TCP connection with four requests (HELLO,
// SET, GET, CHECK). The collectives themselves travel over Gloo's TCP
// transport, never through this store.
//
// Wire format, little-endian: request = u8 command, u32 key length, key,
// u64 value length, value; reply = u8 status (0 ok, 1 not found, 2 fatal),
// u64 length, payload (a value, or the fatal message).
// HELLO carries (rank, world size) as two int32; the server answers fatal
// when the world size differs from its own, or the rank is out of range or
// already taken, and then fails every later GET with that message, so rank 0
// and the others stop at once with the reason instead of timing out.
class TcpStoreServer {
 public:
  // Listens on addr:port (SO_REUSEADDR). Throws std::runtime_error naming
  // the address and the OS reason (e.g. "Address already in use").
  TcpStoreServer(const std::string& addr, int port, int world_size);
  ~TcpStoreServer();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread accept_thread_;
};

class TcpStore : public StoreBase {
 public:
  // Connects to the master, retrying until timeout; sends HELLO. Throws
  // std::runtime_error with the cause (unreachable, wrong world size).
  TcpStore(const std::string& addr, int port, int rank, int world_size, std::chrono::milliseconds timeout);
  ~TcpStore() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  // One request/reply round trip; returns the status byte.
  uint8_t request(uint8_t cmd, const std::string& key, const std::vector<char>& value,
                  std::vector<char>& reply);
  std::mutex mu_;
  int fd_ = -1;
  std::string where_;
  std::chrono::milliseconds timeout_;
};

}  // namespace prism::gloo_comm
