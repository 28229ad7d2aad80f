// The udp link on loopback: datagrams in and out, source port per entropy,
// bursts, a full transmit queue, a dry receive ring, errors.
#include "udp/udp_link.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "loop/clock.h"
#include "udp_test_util.h"

namespace srdx::dp {
namespace {

using test::kLoopback;
using test::open_link;
using test::receive;
using ::testing::HasSubstr;

// Payload of datagram `i`: its index, then bytes derived from it.
size_t write_payload(std::span<uint8_t> buf, uint32_t i, size_t len) {
  std::memcpy(buf.data(), &i, sizeof i);
  for (size_t k = sizeof i; k < len; ++k) buf[k] = static_cast<uint8_t>(i * 31 + k);
  return len;
}

uint32_t check_payload(std::span<const uint8_t> p) {
  uint32_t i = 0;
  EXPECT_GE(p.size(), sizeof i);
  if (p.size() < sizeof i) return ~0u;
  std::memcpy(&i, p.data(), sizeof i);
  for (size_t k = sizeof i; k < p.size(); ++k) {
    if (p[k] != static_cast<uint8_t>(i * 31 + k)) {
      ADD_FAILURE() << "datagram " << i << " byte " << k << " differs";
      return i;
    }
  }
  return i;
}

// Sends datagram i (len bytes) to `to` with entropy i; false when no buffer.
bool send_one(UdpLink& link, Addr to, uint32_t i, size_t len) {
  std::span<uint8_t> buf = link.tx_buffer();
  if (buf.empty()) return false;
  TxPath path;
  path.remote = to;
  path.entropy = static_cast<uint16_t>(i);
  link.tx_commit(write_payload(buf, i, len), path);
  return true;
}

// A plain socket on 127.0.0.1 with a kernel-chosen port.
struct PlainSocket {
  int fd = -1;
  uint16_t port = 0;
  PlainSocket() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(kLoopback);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  ~PlainSocket() {
    if (fd >= 0) close(fd);
  }
  void send_to(uint16_t to_port, size_t len) const {
    std::vector<uint8_t> b(len, 0xab);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(kLoopback);
    sa.sin_port = htons(to_port);
    EXPECT_EQ(sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
              static_cast<ssize_t>(len));
  }
};

TEST(UdpLink, ExchangesDatagramsBothWaysFromThePortOfTheirEntropy) {
  auto a = open_link(8);
  auto b = open_link(8);
  EXPECT_EQ(a->kind(), "udp");
  EXPECT_EQ(a->local().ip, kLoopback);
  EXPECT_NE(a->local().port, 0);

  constexpr uint32_t kCount = 64;
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 100 + i * 17));
  EXPECT_EQ(a->tx_flush(), kCount);

  std::vector<int> seen(kCount, 0);
  size_t got = receive(*b, kCount, [&](const RxDatagram& d) {
    uint32_t i = check_payload(d.payload);
    ASSERT_LT(i, kCount);
    seen[i]++;
    EXPECT_EQ(d.payload.size(), 100 + i * 17);
    EXPECT_EQ(d.src.ip, kLoopback);
    EXPECT_EQ(d.src.port, a->entropy().port_for(static_cast<uint16_t>(i)));
  });
  EXPECT_EQ(got, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], 1) << "datagram " << i;

  // And back, full size.
  const size_t max = a->tx_buffer().size();
  EXPECT_EQ(max, LinkConfig{}.mtu - 28);
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(send_one(*b, a->local(), i, max));
  b->tx_flush();
  got = receive(*a, 10, [&](const RxDatagram& d) {
    uint32_t i = check_payload(d.payload);
    EXPECT_EQ(d.payload.size(), max);
    EXPECT_EQ(d.src.port, b->entropy().port_for(static_cast<uint16_t>(i)));
  });
  EXPECT_EQ(got, 10u);

  LinkStats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.tx_packets, kCount);
  EXPECT_EQ(sa.rx_packets, 10u);
  EXPECT_EQ(sb.rx_packets, kCount);
  EXPECT_EQ(sb.tx_packets, 10u);
  EXPECT_EQ(sa.tx_dropped + sb.tx_dropped + sa.rx_dropped + sb.rx_dropped, 0u);
}

TEST(UdpLink, ThousandDatagramsFlushedPer32AllArrive) {
  auto a = open_link(64);
  auto b = open_link(8);
  constexpr uint32_t kCount = 1000;
  std::vector<int> seen(kCount, 0);
  size_t got = 0;
  auto count = [&](const RxDatagram& d) {
    uint32_t i = check_payload(d.payload);
    ASSERT_LT(i, kCount);
    seen[i]++;
  };
  for (uint32_t i = 0; i < kCount;) {
    for (uint32_t k = 0; k < 32 && i < kCount; ++k, ++i)
      ASSERT_TRUE(send_one(*a, b->local(), i, 64));
    a->tx_flush();
    RxDatagram rx[32];
    for (size_t n; (n = b->rx_burst(rx)) > 0; got += n)
      for (size_t k = 0; k < n; ++k) count(rx[k]);
  }
  got += receive(*b, kCount - got, count);
  EXPECT_EQ(got, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], 1) << "datagram " << i;
  EXPECT_EQ(a->stats().tx_packets, kCount);
  EXPECT_EQ(b->stats().rx_dropped, 0u);
}

TEST(UdpLink, ThousandDatagramsInOneFlushAreAllAccountedFor) {
  LinkConfig cfg;
  cfg.queue_depth = 1024;
  auto a = open_link(cfg, 64);
  auto b = open_link(cfg, 8);
  constexpr uint32_t kCount = 1000;
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 64));
  EXPECT_EQ(a->tx_flush(), kCount);
  std::vector<int> seen(kCount, 0);
  size_t got = receive(*b, kCount, [&](const RxDatagram& d) { seen[check_payload(d.payload)]++; });
  // Whatever the kernel could not queue it counted: nothing vanishes.
  EXPECT_EQ(got + b->stats().rx_dropped, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_LE(seen[i], 1) << "datagram " << i;
  EXPECT_GT(got, kCount / 2);
}

// Sends datagram i (len bytes) to `to` with the given entropy.
bool send_on(UdpLink& link, Addr to, uint32_t i, size_t len, uint16_t entropy) {
  std::span<uint8_t> buf = link.tx_buffer();
  if (buf.empty()) return false;
  TxPath path;
  path.remote = to;
  path.entropy = entropy;
  link.tx_commit(write_payload(buf, i, len), path);
  return true;
}

uint64_t backend_counter(const Link& link, std::string_view name) {
  for (const auto& [n, v] : link.backend_counters())
    if (n == name) return v;
  ADD_FAILURE() << "no backend counter " << name;
  return 0;
}

// Datagrams of one entropy in one flush leave as GSO sends, and still arrive
// one by one: each intact, with its own length (a shorter one ends a run),
// from the entropy's port. Interleaved entropies are grouped per port.
TEST(UdpLink, RunsOfOneEntropyLeaveAsGsoSendsAndArriveAsSingleDatagrams) {
  auto a = open_link(4);
  auto b = open_link(4);
  ASSERT_TRUE(a->gso());
  const size_t max = a->tx_buffer().size();
  constexpr uint32_t kCount = 200;
  std::vector<size_t> len(kCount);
  for (uint32_t i = 0; i < kCount; ++i) {
    // Mostly full-size; every 7th shorter; entropies interleaved 0,1,2,3,...
    len[i] = i % 7 == 6 ? 300 + i : max;
    ASSERT_TRUE(send_on(*a, b->local(), i, len[i], static_cast<uint16_t>(i % 4)));
  }
  EXPECT_EQ(a->tx_flush(), kCount);
  std::vector<int> seen(kCount, 0);
  const size_t got = receive(*b, kCount, [&](const RxDatagram& d) {
    const uint32_t i = check_payload(d.payload);
    ASSERT_LT(i, kCount);
    seen[i]++;
    EXPECT_EQ(d.payload.size(), len[i]) << "datagram " << i;
    EXPECT_EQ(d.src.port, a->entropy().port_for(static_cast<uint16_t>(i % 4)));
  });
  EXPECT_EQ(got, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], 1) << "datagram " << i;
  EXPECT_GT(backend_counter(*a, "gso_sends"), 0u);
  EXPECT_GT(backend_counter(*a, "gso_datagrams"), backend_counter(*a, "gso_sends"));
  // Over loopback a GSO train reaches a GRO socket whole: b cut it up.
  ASSERT_TRUE(b->gro());
  EXPECT_GT(backend_counter(*b, "gro_buffers"), 0u);
  EXPECT_GT(backend_counter(*b, "gro_datagrams"), backend_counter(*b, "gro_buffers"));
  EXPECT_EQ(b->stats().rx_packets, kCount);
  EXPECT_EQ(backend_counter(*a, "gso_refused"), 0u);
  const LinkStats s = a->stats();
  EXPECT_EQ(s.tx_packets, kCount);
  EXPECT_EQ(s.tx_dropped, 0u);
  EXPECT_EQ(a->tx_in_flight(), 0u);
}

// A coalesced buffer larger than one rx_burst is handed out over several
// calls, and its datagrams stay valid until the next call.
TEST(UdpLink, ACoalescedTrainIsCutAcrossSmallRxBursts) {
  auto a = open_link(1);
  auto b = open_link(1);
  ASSERT_TRUE(b->gro());
  constexpr uint32_t kCount = 40;
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(send_on(*a, b->local(), i, 1200, 0));
  EXPECT_EQ(a->tx_flush(), kCount);
  std::vector<int> seen(kCount, 0);
  RxDatagram rx[3];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  uint32_t got = 0;
  while (got < kCount && std::chrono::steady_clock::now() < deadline) {
    const size_t n = b->rx_burst(rx);
    for (size_t k = 0; k < n; ++k) {
      const uint32_t i = check_payload(rx[k].payload);
      ASSERT_LT(i, kCount);
      EXPECT_EQ(rx[k].payload.size(), 1200u);
      seen[i]++;
    }
    got += static_cast<uint32_t>(n);
  }
  EXPECT_EQ(got, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], 1) << "datagram " << i;
  EXPECT_GT(backend_counter(*b, "gro_buffers"), 0u);
}

TEST(UdpLink, GroOffReceivesSingleDatagrams) {
  LinkConfig cfg;
  cfg.udp_gro = false;
  auto a = open_link(1);
  auto b = open_link(cfg, 1);
  EXPECT_FALSE(b->gro());
  for (uint32_t i = 0; i < 30; ++i) ASSERT_TRUE(send_on(*a, b->local(), i, 1000, 0));
  EXPECT_EQ(a->tx_flush(), 30u);
  EXPECT_EQ(receive(*b, 30, [&](const RxDatagram& d) { check_payload(d.payload); }), 30u);
  EXPECT_EQ(backend_counter(*b, "gro_buffers"), 0u);
}

TEST(UdpLink, GsoOffSendsEveryDatagramAlone) {
  LinkConfig cfg;
  cfg.udp_gso = false;
  auto a = open_link(cfg, 2);
  auto b = open_link(2);
  EXPECT_FALSE(a->gso());
  for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(send_on(*a, b->local(), i, 1000, 0));
  EXPECT_EQ(a->tx_flush(), 50u);
  EXPECT_EQ(receive(*b, 50, [&](const RxDatagram& d) { check_payload(d.payload); }), 50u);
  EXPECT_EQ(backend_counter(*a, "gso_sends"), 0u);
  EXPECT_EQ(backend_counter(*a, "gso"), 0u);
}

TEST(UdpLink, TxBufferRunsOutWhenTheQueueIsFullAndRecoversAfterFlush) {
  LinkConfig cfg;
  cfg.queue_depth = 8;
  auto a = open_link(cfg);
  auto b = open_link();
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 64));
  EXPECT_TRUE(a->tx_buffer().empty());
  EXPECT_TRUE(a->tx_buffer().empty());
  EXPECT_EQ(a->stats().tx_no_buffer, 2u);
  EXPECT_EQ(a->tx_in_flight(), 8u);

  EXPECT_EQ(a->tx_flush(), 8u);
  // Loopback sends complete inside the submission; allow a late one anyway.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (a->tx_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) a->tx_flush();
  EXPECT_EQ(a->tx_in_flight(), 0u);
  for (uint32_t i = 8; i < 16; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 64));
  a->tx_flush();
  EXPECT_EQ(receive(*b, 16, [](const RxDatagram& d) { check_payload(d.payload); }), 16u);
  EXPECT_EQ(a->stats().tx_packets, 16u);
}

TEST(UdpLink, UncommittedBufferIsGivenAgainAndOversizedCommitIsRefused) {
  auto a = open_link();
  auto b = open_link();
  std::span<uint8_t> first = a->tx_buffer();
  std::span<uint8_t> again = a->tx_buffer();
  EXPECT_EQ(first.data(), again.data());
  TxPath path;
  path.remote = b->local();
  a->tx_commit(first.size() + 1, path);
  EXPECT_EQ(a->stats().tx_dropped, 1u);
  EXPECT_EQ(a->tx_buffer().data(), first.data());
  a->tx_commit(write_payload(first, 7, 32), path);
  a->tx_flush();
  EXPECT_EQ(receive(*b, 1, [](const RxDatagram& d) { EXPECT_EQ(check_payload(d.payload), 7u); }),
            1u);
}

TEST(UdpLink, ReceiveRingRunsDryAndIsArmedAgain) {
  LinkConfig small;
  small.queue_depth = 64;
  small.burst = 8;  // 64 receive buffers
  auto a = open_link(16);
  auto b = open_link(small, 8);
  b->rx_burst({});  // arm the receive
  constexpr uint32_t kCount = 500;
  for (uint32_t i = 0; i < kCount;) {
    for (uint32_t k = 0; k < 32 && i < kCount; ++k, ++i)
      ASSERT_TRUE(send_one(*a, b->local(), i, 200));
    a->tx_flush();
  }
  // Polled without taking anything: the 64 buffers fill, the receive stops.
  for (int i = 0; i < 10; ++i) b->rx_burst({});
  std::vector<int> seen(kCount, 0);
  size_t got = receive(*b, kCount, [&](const RxDatagram& d) { seen[check_payload(d.payload)]++; });
  EXPECT_EQ(got, kCount);
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], 1) << "datagram " << i;
  EXPECT_GE(b->counters().rx_ring_empty, 1u);
  EXPECT_GE(b->counters().rx_rearms, 2u);
}

TEST(UdpLink, PortInUseGivesOneClearLine) {
  PlainSocket taken;
  LinkConfig cfg;
  cfg.local = Addr{kLoopback, taken.port};
  cfg.entropy.first_port = 20000;
  cfg.entropy.port_count = 1;
  try {
    UdpLink link(cfg);
    FAIL() << "bound a port that is in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "udp link: cannot bind 127.0.0.1:" + std::to_string(taken.port) +
                  ": Address already in use (is another srdx running?)");
  }

  // An entropy port in use names the range.
  cfg.local.port = 0;
  cfg.entropy.first_port = taken.port;
  cfg.entropy.port_count = 1;
  try {
    UdpLink link(cfg);
    FAIL() << "bound an entropy port that is in use";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot bind entropy source port 127.0.0.1:" +
                                    std::to_string(taken.port)));
    EXPECT_THAT(e.what(), HasSubstr("Address already in use"));
  }
}

TEST(UdpLink, BadConfigurationIsRefused) {
  LinkConfig cfg;
  cfg.local = Addr{kLoopback, 0};
  cfg.entropy.port_count = 0;
  EXPECT_THROW(UdpLink{cfg}, std::runtime_error);
  cfg.entropy = EntropyPorts{};
  cfg.local.port = cfg.entropy.first_port + 3;
  try {
    UdpLink link(cfg);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("inside the entropy ports"));
  }
  cfg.local.port = 0;
  cfg.mtu = 100;
  EXPECT_THROW(UdpLink{cfg}, std::runtime_error);
  cfg.mtu = 1500;
  cfg.local.ip = 0xc0000201;  // 192.0.2.1, not ours
  try {
    UdpLink link(cfg);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Cannot assign requested address"));
  }
}

// Each datagram says when it reached the host (the kernel's receive time,
// on the loop's monotonic clock), not when rx_burst() handed it over: the
// engine leaves that wait out of its congestion samples.
TEST(UdpLink, DatagramsCarryTheTimeTheyArrivedNotTheTimeTheyWereRead) {
  auto a = open_link();
  auto b = open_link();
  const Time before = monotonic_now();
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 100));
  ASSERT_EQ(a->tx_flush(), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const Time read_at = monotonic_now();
  std::vector<Time> arrivals;
  EXPECT_EQ(receive(*b, 4, [&](const RxDatagram& d) { arrivals.push_back(d.arrival); }), 4u);
  ASSERT_EQ(arrivals.size(), 4u);
  for (const Time t : arrivals) {
    EXPECT_GE(t, before - Duration::millis(1));  // the clocks' conversion may be a hair off
    // They waited the 20 ms sleep (and more) in the socket before this read.
    EXPECT_LE(t, read_at - Duration::millis(15));
  }
}

TEST(UdpLink, IdleRxBurstReturnsZeroWithoutBlocking) {
  auto a = open_link();
  RxDatagram rx[32];
  const auto t0 = std::chrono::steady_clock::now();
  size_t n = 0;
  for (int i = 0; i < 10000; ++i) n += a->rx_burst(rx);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(n, 0u);
  EXPECT_LT(took, std::chrono::milliseconds(500));
  EXPECT_EQ(a->tx_flush(), 0u);
}

TEST(UdpLink, SendingToAClosedPortDoesNotBreakTheLink) {
  uint16_t closed;
  {
    PlainSocket s;
    closed = s.port;
  }
  auto a = open_link();
  auto b = open_link();
  for (int round = 0; round < 3; ++round) {
    for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(send_one(*a, Addr{kLoopback, closed}, i, 64));
    a->tx_flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a->tx_flush();
  }
  // ICMP port unreachable is not reported on unconnected sockets; if it
  // were, it would be counted, never fatal.
  LinkStats s = a->stats();
  EXPECT_EQ(s.tx_packets + s.tx_dropped, 150u);
  EXPECT_EQ(s.tx_dropped, a->counters().tx_refused);

  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(send_one(*a, b->local(), i, 64));
  a->tx_flush();
  EXPECT_EQ(receive(*b, 20, [](const RxDatagram& d) { check_payload(d.payload); }), 20u);
  EXPECT_EQ(a->rx_burst({}), 0u);
}

TEST(UdpLink, SendingToAnUnusableAddressIsCountedAsDropped) {
  auto a = open_link();
  auto b = open_link();
  ASSERT_TRUE(send_one(*a, Addr{0xffffffff, 9}, 1, 64));  // broadcast without SO_BROADCAST
  ASSERT_TRUE(send_one(*a, b->local(), 2, 64));
  a->tx_flush();
  EXPECT_EQ(receive(*b, 1, [](const RxDatagram& d) { EXPECT_EQ(check_payload(d.payload), 2u); }),
            1u);
  EXPECT_EQ(a->stats().tx_dropped, 1u);
  EXPECT_EQ(a->stats().tx_packets, 1u);
}

TEST(UdpLink, OversizedAndStrayDatagramsAreCounted) {
  auto b = open_link();
  PlainSocket s;
  b->rx_burst({});
  s.send_to(b->local().port, 1500);         // larger than mtu - 28
  s.send_to(b->entropy().port_for(3), 64);  // to a transmit socket
  s.send_to(b->local().port, 100);
  size_t got = receive(*b, 1, [&](const RxDatagram& d) {
    EXPECT_EQ(d.payload.size(), 100u);
    EXPECT_EQ(d.src, (Addr{kLoopback, s.port}));
  });
  EXPECT_EQ(got, 1u);
  LinkStats st = b->stats();
  EXPECT_EQ(st.rx_truncated, 1u);
  EXPECT_EQ(st.rx_not_for_us, 1u);
  EXPECT_EQ(st.rx_packets, 1u);
}

TEST(UdpLink, WaitFdWakesAPollerSleepingOnIt) {
  auto a = open_link();
  auto b = open_link();
  EXPECT_GE(b->wait_fd(), 0);
  size_t got = 0;
  int woke = -1;
  std::thread poller([&] {
    // The poll loop's thread: one rx_burst arms the receive, then it sleeps.
    RxDatagram rx[8];
    got += b->rx_burst(rx);
    pollfd p{b->wait_fd(), POLLIN, 0};
    const auto t0 = std::chrono::steady_clock::now();
    woke = poll(&p, 1, 5000);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "woke by timeout";
    got += receive(*b, 1, [](const RxDatagram& d) { EXPECT_EQ(check_payload(d.payload), 42u); });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(send_one(*a, b->local(), 42, 64));
  a->tx_flush();
  poller.join();
  EXPECT_EQ(woke, 1);
  EXPECT_EQ(got, 1u);
}

TEST(UdpLink, ItsPortsAreFreeAgainAsSoonAsItIsGone) {
  // A restarted srdx must find its ports free, even when another thread
  // polled the link (the ring's teardown in the kernel is asynchronous).
  auto a = open_link();
  auto b = open_link();
  LinkConfig cfg;
  cfg.local = b->local();
  cfg.entropy = b->entropy();
  std::thread poller([&] {
    for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(send_one(*b, a->local(), i, 64));
    b->tx_flush();
    b->rx_burst({});
  });
  poller.join();
  EXPECT_EQ(receive(*a, 10, [](const RxDatagram&) {}), 10u);
  b.reset();
  UdpLink again(cfg);
  EXPECT_EQ(again.local(), cfg.local);
  ASSERT_TRUE(send_one(*a, again.local(), 5, 64));
  a->tx_flush();
  EXPECT_EQ(receive(again, 1, [](const RxDatagram& d) { EXPECT_EQ(check_payload(d.payload), 5u); }),
            1u);
}

TEST(UdpLink, MakeUdpLinkBuildsOne) {
  LinkConfig cfg;
  cfg.local = Addr{kLoopback, 0};
  cfg.entropy.first_port = 31000;
  cfg.entropy.port_count = 2;
  try {
    std::unique_ptr<Link> l = make_udp_link(cfg);
    EXPECT_EQ(l->kind(), "udp");
    EXPECT_EQ(l->stats().rx_packets, 0u);
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("in use"));  // someone holds 31000: fine
  }
}

}  // namespace
}  // namespace srdx::dp
