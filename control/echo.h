// The TCP echo listener (services.tcp-echo): accepts connections, sets
// TCP_NODELAY and writes back every byte it reads, so that a peer's probe
// can compare TCP with srdx on the same hosts and paths. One thread, poll().
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "srdx/endpoint.h"

namespace srdx::ctl {

class TcpEchoServer {
 public:
  ~TcpEchoServer();
  // Binds and listens; empty on success, else the reason.
  std::string start(Addr addr);
  void stop();
  uint64_t connections() const { return connections_.load(); }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  void run();
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop()
  std::thread thread_;
  std::atomic<uint64_t> connections_{0}, bytes_{0};
};

}  // namespace srdx::ctl
