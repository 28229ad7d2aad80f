#include "echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "config.h"
#include "log.h"
#include "sim/units.h"

namespace srdx::ctl {

namespace {
constexpr size_t kMaxConnections = 256;
constexpr size_t kBuf = 64 * 1024;

struct Conn {
  int fd = -1;
  uint32_t ip = 0;  // the client's address
  uint16_t port = 0;
  std::vector<uint8_t> pending;  // read but not yet written back
  size_t off = 0;
  std::chrono::steady_clock::time_point last;  // accepted, or last read from
};
}  // namespace

TcpEchoServer::~TcpEchoServer() { stop(); }

std::string TcpEchoServer::start(Addr addr, const Options& opt) {
  opt_ = opt;
  unavailable_.clear();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(addr.port);
  sa.sin_addr.s_addr = htonl(addr.ip);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    const std::string why = "cannot listen on " + format_addr(addr) + ": " + std::strerror(err);
    if (opt.dpdk_link && err == EADDRNOTAVAIL) {
      // Said once; the daemon runs on without it (a restart would not help).
      unavailable_ = why +
                     " (with link.kind = dpdk the link's IP belongs to DPDK, not to the kernel; "
                     "set services.tcp-echo to one of the host's kernel addresses, or off)";
      SRDX_LOG_WARN("tcp echo: off: %s", unavailable_.c_str());
      return {};
    }
    return "--services.tcp-echo: " + why;
  }
  sockaddr_in bound{};
  socklen_t blen = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) == 0) {
    port_ = ntohs(bound.sin_port);
  }
  listen_fd_ = fd;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_.store(false);
  thread_ = std::thread([this] { run(); });
  return {};
}

void TcpEchoServer::set_allowed(std::set<uint32_t> ips) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    allowed_ = std::move(ips);
  }
  allowed_gen_.fetch_add(1);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

bool TcpEchoServer::allowed(uint32_t ip) const {
  std::lock_guard<std::mutex> lock(mu_);
  return allowed_.count(ip) > 0;
}

void TcpEchoServer::refuse(int fd, uint32_t ip, uint16_t port, const char* what) {
  // A reset, not a FIN: the client learns at once that it is not answered.
  const linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  const uint64_t n = refused_.fetch_add(1) + 1;  // counted before the client can see it
  ::close(fd);
  // Logged at the 1st, 2nd, 4th, 8th... refusal: a scan cannot flood the log.
  const bool log = (n & (n - 1)) == 0;
  logf(log ? LogLevel::info : LogLevel::debug,
       "tcp echo: %s %s (not the IP of a configured peer; %llu refused so far)", what,
       format_addr(Addr{ip, port}).c_str(), static_cast<unsigned long long>(n));
}

void TcpEchoServer::reset_over_cap(int fd, uint32_t ip, uint16_t port) {
  const linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  const uint64_t n = over_cap_.fetch_add(1) + 1;
  ::close(fd);
  const bool log = (n & (n - 1)) == 0;
  logf(log ? LogLevel::info : LogLevel::debug,
       "tcp echo: reset a connection from %s (%zu already open from that IP: "
       "services.tcp-echo-max-per-source; %llu so far)",
       format_addr(Addr{ip, port}).c_str(), opt_.max_per_source,
       static_cast<unsigned long long>(n));
}

void TcpEchoServer::stop() {
  if (thread_.joinable()) {
    stop_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void TcpEchoServer::run() {
  std::vector<Conn> conns;
  std::vector<pollfd> pfds;
  std::vector<uint8_t> buf(kBuf);
  uint64_t gen_seen = 0;
  const auto idle = std::chrono::nanoseconds(opt_.idle_timeout.ns());
  for (;;) {
    pfds.clear();
    pfds.push_back({wake_fd_, POLLIN, 0});
    pfds.push_back(
        {listen_fd_, static_cast<short>(conns.size() < kMaxConnections ? POLLIN : 0), 0});
    for (const Conn& c : conns) {
      // Read only when everything read before went back (bounded memory).
      const short ev = c.pending.empty() ? POLLIN : POLLOUT;
      pfds.push_back({c.fd, ev, 0});
    }
    // Wake for the connection that goes idle first.
    int wait_ms = -1;
    const auto now0 = std::chrono::steady_clock::now();
    for (const Conn& c : conns) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(c.last + idle - now0).count();
      const int l = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
      wait_ms = wait_ms < 0 ? l : std::min(wait_ms, l);
    }
    if (::poll(pfds.data(), pfds.size(), wait_ms) < 0) {
      if (errno == EINTR) continue;
      SRDX_LOG_ERROR("tcp echo: poll: %s", std::strerror(errno));
      break;
    }
    if (pfds[0].revents) {
      uint64_t v = 0;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
      if (stop_.load()) break;
    }
    std::vector<bool> dead(conns.size(), false);
    const uint64_t gen = allowed_gen_.load();
    if (gen != gen_seen) {
      // The peers changed: a connection whose IP is no longer a peer's ends.
      gen_seen = gen;
      for (size_t i = conns.size(); i-- > 0;) {
        if (allowed(conns[i].ip)) continue;
        refuse(conns[i].fd, conns[i].ip, conns[i].port, "reset an open connection from");
        conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
        pfds.erase(pfds.begin() + 2 + static_cast<std::ptrdiff_t>(i));
        dead.erase(dead.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short re = pfds[i + 2].revents;
      if (!re) continue;
      if (c.pending.empty()) {
        const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          dead[i] = true;
          continue;
        }
        if (n < 0) continue;
        bytes_.fetch_add(static_cast<uint64_t>(n));
        c.last = std::chrono::steady_clock::now();
        c.pending.assign(buf.begin(), buf.begin() + n);
        c.off = 0;
      }
      // Write back at once (usually all of it goes).
      while (c.off < c.pending.size()) {
        const ssize_t w =
            ::send(c.fd, c.pending.data() + c.off, c.pending.size() - c.off, MSG_NOSIGNAL);
        if (w > 0) {
          c.off += static_cast<size_t>(w);
        } else {
          if (w < 0 && errno != EAGAIN && errno != EINTR) dead[i] = true;
          break;
        }
      }
      if (c.off == c.pending.size()) {
        c.pending.clear();
        c.off = 0;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = conns.size(); i-- > 0;) {
      if (!dead[i] && now - conns[i].last >= idle) {
        dead[i] = true;
        const uint64_t n = idle_closed_.fetch_add(1) + 1;
        logf((n & (n - 1)) == 0 ? LogLevel::info : LogLevel::debug,
             "tcp echo: closed a connection from %s idle for %s "
             "(services.tcp-echo-idle-timeout; %llu so far)",
             format_addr(Addr{conns[i].ip, conns[i].port}).c_str(),
             sim::format_duration(opt_.idle_timeout).c_str(), static_cast<unsigned long long>(n));
      }
      if (dead[i]) {
        ::close(conns[i].fd);
        conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (pfds[1].revents & POLLIN) {
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const int cfd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &len,
                                  SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) break;
        const uint32_t ip = from.sin_family == AF_INET ? ntohl(from.sin_addr.s_addr) : 0;
        if (!allowed(ip)) {
          refuse(cfd, ip, ntohs(from.sin_port), "refused a connection from");
          continue;
        }
        const size_t from_ip = static_cast<size_t>(
            std::count_if(conns.begin(), conns.end(), [&](const Conn& c) { return c.ip == ip; }));
        if (from_ip >= opt_.max_per_source) {
          reset_over_cap(cfd, ip, ntohs(from.sin_port));
          continue;
        }
        const int one = 1;
        ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns.push_back(
            Conn{cfd, ip, ntohs(from.sin_port), {}, 0, std::chrono::steady_clock::now()});
        connections_.fetch_add(1);
        if (conns.size() >= kMaxConnections) break;
      }
    }
  }
  for (Conn& c : conns) ::close(c.fd);
}

}  // namespace srdx::ctl
