// The TCP echo listener (services.tcp-echo): accepts connections, sets
// TCP_NODELAY and writes back every byte it reads, so that a peer's probe
// can compare TCP with srdx on the same hosts and paths. One thread, poll().
//
// It answers configured peers only, known by their IP (the IP of their
// peers.peer address): a connection from any other address is reset at once
// (closed with SO_LINGER 0, so the client sees ECONNRESET) and counted in
// refused(). A reload that takes an IP away also resets that IP's open
// connections (counted the same way).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "srdx/endpoint.h"

namespace srdx::ctl {

class TcpEchoServer {
 public:
  ~TcpEchoServer();
  // Binds and listens; empty on success, else the reason. Until set_allowed()
  // no address is answered.
  std::string start(Addr addr);
  void stop();
  // The IPs answered from now on (the configured peers'); open connections
  // from other IPs are reset. Any thread.
  void set_allowed(std::set<uint32_t> ips);
  uint64_t connections() const { return connections_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  void run();
  bool allowed(uint32_t ip) const;
  void refuse(int fd, uint32_t ip, uint16_t port, const char* what);
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() or set_allowed()
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> allowed_gen_{0};
  mutable std::mutex mu_;
  std::set<uint32_t> allowed_;
  std::thread thread_;
  std::atomic<uint64_t> connections_{0}, bytes_{0}, refused_{0};
};

}  // namespace srdx::ctl
