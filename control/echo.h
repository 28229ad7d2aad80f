// The TCP echo listener (services.tcp-echo): accepts connections, sets
// TCP_NODELAY and writes back every byte it reads, so that a peer's probe
// can compare TCP with srdx on the same hosts and paths. One thread, poll().
//
// It answers configured peers only, known by their IP (the IP of their
// peers.peer address): a connection from any other address is reset at once
// (closed with SO_LINGER 0, so the client sees ECONNRESET) and counted in
// refused(). A reload that takes an IP away also resets that IP's open
// connections (counted the same way).
//
// A connection that sends nothing for the idle timeout is closed (counted in
// idle_closed()); one source IP holds at most max_per_source connections, a
// further one is reset (counted in over_cap()). With a dpdk link the
// address (by default the link's IP) is usually no address of the kernel's:
// start() then says so once (a warning), leaves the echo off and reports it
// in unavailable(), instead of failing the daemon (which systemd would
// restart, and which would fail again).
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
  struct Options {
    Duration idle_timeout = Duration::seconds(60);
    size_t max_per_source = 8;
    // The daemon's link is dpdk: an address the kernel does not have is no
    // error (see above).
    bool dpdk_link = false;
  };
  // Binds and listens; empty on success (or the echo unavailable, see
  // above), else the reason. Until set_allowed() no address is answered.
  std::string start(Addr addr, const Options& opt);
  std::string start(Addr addr) { return start(addr, Options{}); }
  // Why the echo is off although configured; empty when it listens (or
  // was never started).
  const std::string& unavailable() const { return unavailable_; }
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  void stop();
  // The IPs answered from now on (the configured peers'); open connections
  // from other IPs are reset. Any thread.
  void set_allowed(std::set<uint32_t> ips);
  uint64_t connections() const { return connections_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  uint64_t refused() const { return refused_.load(); }
  uint64_t idle_closed() const { return idle_closed_.load(); }
  uint64_t over_cap() const { return over_cap_.load(); }

 private:
  void run();
  bool allowed(uint32_t ip) const;
  void refuse(int fd, uint32_t ip, uint16_t port, const char* what);
  void reset_over_cap(int fd, uint32_t ip, uint16_t port);
  Options opt_;
  std::string unavailable_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> idle_closed_{0}, over_cap_{0};
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
