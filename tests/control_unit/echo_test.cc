// The TCP echo listener on its own (control/echo.cc): configured peers' IPs
// only, the idle timeout, the per-source cap, and a dpdk link's address the
// kernel does not have (off, said once, no failure).
#include "echo.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace srdx::ctl {
namespace {

constexpr uint32_t kLoopback = 0x7f000001;

// A client socket from `source` (any of 127.0.0.0/8) connected to the echo.
int connect_from(uint32_t source, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(source);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(kLoopback);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
  return fd;
}

// What a read gets within 10 s: the bytes, "" at a clean close, "reset", or
// "nothing" (no answer in time: never expected).
std::string read_some(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10000) <= 0) return "nothing";
  char b[256];
  const ssize_t n = ::recv(fd, b, sizeof b, 0);
  if (n < 0) return errno == ECONNRESET ? "reset" : "error";
  return std::string(b, static_cast<size_t>(n));
}

std::string echo(int fd, const std::string& s) {
  EXPECT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  return read_some(fd);
}

TEST(TcpEcho, PeersOnlyIdleTimeoutAndPerSourceCap) {
  TcpEchoServer e;
  TcpEchoServer::Options o;
  o.idle_timeout = Duration::seconds(1);
  o.max_per_source = 2;
  ASSERT_EQ(e.start(Addr{kLoopback, 0}, o), "");
  ASSERT_NE(e.port(), 0);
  e.set_allowed({kLoopback});

  // Not a peer's IP: reset at once, counted.
  const int stranger = connect_from(0x7f000002, e.port());
  EXPECT_EQ(read_some(stranger), "reset");
  ::close(stranger);
  EXPECT_EQ(e.refused(), 1u);

  // A peer's IP: answered; a third connection from it is reset (cap 2).
  const int a = connect_from(kLoopback, e.port());
  const int b = connect_from(kLoopback, e.port());
  EXPECT_EQ(echo(a, "ping-a"), "ping-a");
  EXPECT_EQ(echo(b, "ping-b"), "ping-b");
  const int c = connect_from(kLoopback, e.port());
  EXPECT_EQ(read_some(c), "reset");
  ::close(c);
  EXPECT_EQ(e.over_cap(), 1u);

  // Idle: a talks every 0.1 s for 1.5 s and stays; b says nothing and is closed.
  for (int i = 0; i < 15; ++i) {
    ::usleep(100000);
    EXPECT_EQ(echo(a, "still here"), "still here");
  }
  EXPECT_EQ(read_some(b), "");  // closed (FIN) by the echo
  EXPECT_GE(e.idle_closed(), 1u);
  ::close(b);
  // Its slot is free again: a new connection from the same IP is answered.
  const int d = connect_from(kLoopback, e.port());
  EXPECT_EQ(echo(d, "again"), "again");
  ::close(a);
  ::close(d);
  e.stop();
}

// With a dpdk link the echo's address is usually not the kernel's: the echo
// is off and says why, but start() does not fail (the daemon keeps running).
// With any other link that is an error.
TEST(TcpEcho, AnAddressTheKernelDoesNotHave) {
  const Addr not_local{0xc6120263, 0};  // 198.18.2.99: on no interface here
  TcpEchoServer udp;
  const std::string err = udp.start(not_local, TcpEchoServer::Options{});
  EXPECT_THAT(err, ::testing::HasSubstr("--services.tcp-echo: cannot listen on 198.18.2.99:0"));
  EXPECT_EQ(udp.unavailable(), "");

  TcpEchoServer dpdk;
  TcpEchoServer::Options o;
  o.dpdk_link = true;
  EXPECT_EQ(dpdk.start(not_local, o), "");
  EXPECT_THAT(dpdk.unavailable(), ::testing::HasSubstr("link.kind = dpdk"));
  EXPECT_THAT(dpdk.unavailable(), ::testing::HasSubstr("198.18.2.99"));
  dpdk.stop();  // nothing to stop: no thread, no socket
}

}  // namespace
}  // namespace srdx::ctl
