// The dpdk link over net_memif (DPDK's shared-memory packet interface): two
// links in this process, one on a memif server and one on a memif client that
// meet on a unix socket in a temporary directory. EAL is the one link_test.cc's
// environment starts (--no-huge -m 256 --no-pci).
//
// DPDK's memif guide (22.11 too) says the two ends must live in separate
// processes, or at least use different sockets; with the 22.11 PMD they need
// not. It keeps one socket object per socket path for the process: the server
// makes it a listener, the client joins it, connects to the path, and the
// listener hands the connection to the server of the same id (it only looks
// at server-role devices). Both ends' control messages run on the EAL
// interrupt thread, so the link comes up a moment after the client's port
// starts: the tests wait for it.
#include <gtest/gtest.h>
#include <rte_alarm.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dpdk/dpdk_link.h"
#include "dpdk/frame.h"
#include "link_test_util.h"

namespace srdx::dp {
namespace {

using frame::Mac;
using frame::Verdict;

constexpr uint32_t kIpA = 0xc6120101;  // 198.18.1.1, the server's link
constexpr uint32_t kIpB = 0xc6120102;  // 198.18.1.2, the client's link
using test::config;
using test::kPort;
using test::send;
constexpr Mac kMacA = {0x02, 0, 198, 18, 1, 1};
constexpr Mac kMacB = {0x02, 0, 198, 18, 1, 2};
constexpr auto kLinkUpDeadline = std::chrono::seconds(10);  // a busy machine

std::string mac_string(const Mac& m) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}

// A directory of its own under the temp dir, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "srdx-memif-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// net_memif<n> in `role` on the filesystem socket `socket` (memif sockets are
// abstract unless socket-abstract=no), interface id 0, with MAC `mac`.
std::string memif_spec(int n, const std::string& role, const std::string& socket, const Mac& mac) {
  return "net_memif" + std::to_string(n) + ",role=" + role + ",socket=" + socket +
         ",socket-abstract=no,id=0,mac=" + mac_string(mac);
}

bool link_up(const Link& link) {
  rte_eth_link l{};
  const uint16_t port = as_dpdk(const_cast<Link*>(&link))->port_info().port_id;
  return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

// Returns once the EAL interrupt thread has finished what it was doing: an
// alarm's callback runs on that thread, after the callback in progress.
void drain_interrupt_thread() {
  std::atomic<bool> ran{false};
  const auto mark = [](void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ASSERT_EQ(rte_eal_alarm_set(1, mark, &ran), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ran.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!ran.load()) {
    rte_eal_alarm_cancel(mark, &ran);
    ADD_FAILURE() << "the EAL interrupt thread ran no alarm in 5 s";
  }
}

// Memif device names are unique per process run, so that a test that fails
// half way cannot leave a name the next test trips over.
int next_memif() {
  static int n = 10;
  n += 2;
  return n;
}

// A memif server link (A) and a client link (B) on one socket, up.
struct MemifPair {
  TempDir dir;
  std::string socket = (dir.path / "memif.sock").string();
  std::unique_ptr<Link> a, b;
  bool up = false;
  MemifPair(LinkConfig ca, LinkConfig cb, bool prime = true) {
    const int n = next_memif();
    ca.device = memif_spec(n, "server", socket, kMacA);
    cb.device = memif_spec(n + 1, "client", socket, kMacB);
    a = make_dpdk_link(ca);  // listens: the client's start connects at once
    b = make_dpdk_link(cb);
    const auto deadline = std::chrono::steady_clock::now() + kLinkUpDeadline;
    while (!(up = link_up(*a) && link_up(*b)) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (up && prime) prime_server_tx();
  }
  // The client's receive path hands the server the slots it sends into (the
  // server-to-client ring starts empty, and each client RX poll refills it):
  // until the client link's first rx_burst, everything the server link sends
  // is dropped (and counted). A poller polls at once; a test says so here.
  void prime_server_tx() {
    std::vector<RxDatagram> rx(8);
    EXPECT_EQ(b->rx_burst(rx), 0u);
  }
  // memif handles its control channel on the EAL interrupt thread, and in
  // 22.11 nothing serialises that with the application's stop and close: the
  // client's going makes the interrupt thread disconnect the server (link
  // down, control socket closed) and, if the server were stopped at the same
  // time, both would close that socket (a double close, then a later test's
  // listener never accepting, or a crash). So: the client goes, the server
  // sees it, the interrupt thread finishes, then the server goes.
  ~MemifPair() {
    b.reset();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (up && link_up(*a) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    drain_interrupt_thread();
    a.reset();  // the last device on the socket removes its file
  }
};

LinkConfig config_a() { return config("", kIpA); }
LinkConfig config_b() { return config("", kIpB); }

// Payload i: its side and index (never cut, so payloads differ), then bytes
// that depend on i; up to 1472 bytes (all an IP MTU of 1500 holds).
std::string payload(char side, int i) {
  const std::string head = std::string(1, side) + std::to_string(i) + ":";
  const size_t len = std::max(head.size(), 1 + (static_cast<size_t>(i) * 97) % 1472);
  std::string p(len, '\0');
  for (size_t k = 0; k < len; ++k) {
    p[k] = k < head.size() ? head[k] : static_cast<char>((k * 31 + static_cast<size_t>(i)) & 0xff);
  }
  return p;
}

// Polls `link` until `want` datagrams came or a quiet deadline passed;
// appends them to `got` (payload -> times seen).
void receive(Link& link, size_t want, std::map<std::string, int>& got, size_t& count) {
  std::vector<RxDatagram> rx(64);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (count < want && std::chrono::steady_clock::now() < deadline) {
    const size_t n = link.rx_burst(rx);
    for (size_t i = 0; i < n; ++i) {
      ++got[std::string(rx[i].payload.begin(), rx[i].payload.end())];
    }
    count += n;
    if (n == 0) std::this_thread::yield();
  }
}

// The link's and the port's counters in one line, for a failure message.
std::string report(Link& link) {
  std::string s = "\n" + std::string(as_dpdk(&link)->port_info().driver) + ":";
  for (const auto& [name, v] : link.backend_counters()) {
    if (v != 0) s += " " + std::string(name) + "=" + std::to_string(v);
  }
  const LinkStats st = link.stats();
  s += " | tx_packets=" + std::to_string(st.tx_packets) +
       " tx_dropped=" + std::to_string(st.tx_dropped) +
       " rx_packets=" + std::to_string(st.rx_packets);
  return s;
}

uint64_t verdict(Link& link, Verdict v) {
  return as_dpdk(&link)->verdicts()[static_cast<size_t>(v)];
}

TEST(DpdkLinkMemif, ComesUpWithTheGivenMacs) {
  LinkConfig ca = config_a(), cb = config_b();
  ca.static_neighbours = {{kIpB, kMacB}};
  cb.static_neighbours = {{kIpA, kMacA}};
  MemifPair p(ca, cb);
  ASSERT_TRUE(p.up) << "memif link not up within " << kLinkUpDeadline.count() << " s";
  const DpdkPortInfo ia = as_dpdk(p.a.get())->port_info();
  const DpdkPortInfo ib = as_dpdk(p.b.get())->port_info();
  EXPECT_EQ(ia.driver, "net_memif");
  EXPECT_EQ(ib.driver, "net_memif");
  EXPECT_TRUE(ia.owns_device);
  EXPECT_TRUE(ib.owns_device);
  EXPECT_EQ(ia.mac, kMacA);
  EXPECT_EQ(ib.mac, kMacB);
  EXPECT_TRUE(std::filesystem::exists(p.socket));
  EXPECT_GE(p.a->tx_buffer().size(), 1500u - 28);
}

// Up, but the client link has not polled yet: the server link's datagrams
// find no slot and are dropped, counted once, never retried; the client's
// first rx_burst opens the way.
TEST(DpdkLinkMemif, ServerSendsOnceTheClientHasPolled) {
  LinkConfig ca = config_a(), cb = config_b();
  ca.static_neighbours = {{kIpB, kMacB}};
  cb.static_neighbours = {{kIpA, kMacA}};
  MemifPair p(ca, cb, /*prime=*/false);
  ASSERT_TRUE(p.up);
  ASSERT_TRUE(send(*p.a, "too early", {kIpB, kPort}, 1));
  EXPECT_EQ(p.a->tx_flush(), 0u);
  EXPECT_EQ(p.a->stats().tx_dropped, 1u);
  EXPECT_EQ(p.a->stats().tx_packets, 0u);
  p.prime_server_tx();
  ASSERT_TRUE(send(*p.a, "in time", {kIpB, kPort}, 1));
  EXPECT_EQ(p.a->tx_flush(), 1u);
  std::map<std::string, int> at_b;
  size_t n = 0;
  receive(*p.b, 1, at_b, n);
  EXPECT_EQ(at_b, (std::map<std::string, int>{{"in time", 1}}));
  EXPECT_EQ(p.a->stats().tx_dropped, 1u);
  EXPECT_EQ(as_dpdk(p.a.get())->port_counters().opackets, 1u);
}

// Datagrams of every size both ways, interleaved, in bursts: each arrives once
// and byte for byte; the links' counters and the ports' agree.
TEST(DpdkLinkMemif, DatagramsBothWaysArriveOnceAndIntact) {
  LinkConfig ca = config_a(), cb = config_b();
  ca.static_neighbours = {{kIpB, kMacB}};
  cb.static_neighbours = {{kIpA, kMacA}};
  MemifPair p(ca, cb);
  ASSERT_TRUE(p.up);

  constexpr int kCount = 2000;  // about twice memif's 1024-slot rings each way
  std::map<std::string, int> at_a, at_b;
  size_t n_at_a = 0, n_at_b = 0;
  uint64_t bytes_ab = 0, bytes_ba = 0;
  for (int i = 0; i < kCount; ++i) {
    const std::string ab = payload('a', i), ba = payload('b', i);
    ASSERT_TRUE(send(*p.a, ab, {kIpB, kPort}, static_cast<uint16_t>(i))) << i;
    ASSERT_TRUE(send(*p.b, ba, {kIpA, kPort}, static_cast<uint16_t>(i))) << i;
    bytes_ab += ab.size();
    bytes_ba += ba.size();
    if (i % 32 == 31 || i == kCount - 1) {
      p.a->tx_flush();
      p.b->tx_flush();
      // Drain what was flushed before the rings fill up.
      receive(*p.b, static_cast<size_t>(i + 1), at_b, n_at_b);
      receive(*p.a, static_cast<size_t>(i + 1), at_a, n_at_a);
      ASSERT_EQ(n_at_b, static_cast<size_t>(i + 1)) << report(*p.a) << report(*p.b);
      ASSERT_EQ(n_at_a, static_cast<size_t>(i + 1)) << report(*p.a) << report(*p.b);
    }
  }
  ASSERT_EQ(n_at_b, size_t{kCount});
  ASSERT_EQ(n_at_a, size_t{kCount});
  ASSERT_EQ(at_b.size(), size_t{kCount});
  ASSERT_EQ(at_a.size(), size_t{kCount});
  for (int i = 0; i < kCount; ++i) {
    const auto ib = at_b.find(payload('a', i));
    ASSERT_NE(ib, at_b.end()) << "a->b " << i << " missing or damaged";
    EXPECT_EQ(ib->second, 1) << "a->b " << i;
    const auto ia = at_a.find(payload('b', i));
    ASSERT_NE(ia, at_a.end()) << "b->a " << i << " missing or damaged";
    EXPECT_EQ(ia->second, 1) << "b->a " << i;
  }

  const LinkStats sa = p.a->stats(), sb = p.b->stats();
  EXPECT_EQ(sa.tx_packets, uint64_t{kCount});
  EXPECT_EQ(sa.tx_bytes, bytes_ab);
  EXPECT_EQ(sb.rx_packets, uint64_t{kCount});
  EXPECT_EQ(sb.rx_bytes, bytes_ab);
  EXPECT_EQ(sb.tx_packets, uint64_t{kCount});
  EXPECT_EQ(sb.tx_bytes, bytes_ba);
  EXPECT_EQ(sa.rx_packets, uint64_t{kCount});
  EXPECT_EQ(sa.rx_bytes, bytes_ba);
  for (const LinkStats& s : {sa, sb}) {
    EXPECT_EQ(s.tx_dropped, 0u);
    EXPECT_EQ(s.tx_no_buffer, 0u);
    EXPECT_EQ(s.tx_no_neighbour, 0u);
    EXPECT_EQ(s.rx_dropped, 0u);
    EXPECT_EQ(s.rx_not_for_us + s.rx_not_ip + s.rx_not_udp + s.rx_bad_checksum + s.rx_truncated,
              0u);
    EXPECT_EQ(s.arp_requests + s.arp_replies, 0u);  // static neighbours: no ARP at all
  }
  EXPECT_EQ(verdict(*p.a, Verdict::datagram), uint64_t{kCount});
  EXPECT_EQ(verdict(*p.b, Verdict::datagram), uint64_t{kCount});
  // The ports count the same frames (memif counts packets and payload bytes
  // per ring).
  const DpdkPortCounters pa = as_dpdk(p.a.get())->port_counters();
  const DpdkPortCounters pb = as_dpdk(p.b.get())->port_counters();
  EXPECT_EQ(pa.opackets, uint64_t{kCount});
  EXPECT_EQ(pb.ipackets, uint64_t{kCount});
  EXPECT_EQ(pb.opackets, uint64_t{kCount});
  EXPECT_EQ(pa.ipackets, uint64_t{kCount});
  EXPECT_EQ(pa.obytes, pb.ibytes);
  EXPECT_EQ(pb.obytes, pa.ibytes);
  EXPECT_EQ(pa.obytes, bytes_ab + uint64_t{kCount} * frame::kHeadersLen);
  EXPECT_EQ(pa.oerrors + pb.oerrors + pa.ierrors + pb.ierrors + pa.rx_nombuf + pb.rx_nombuf, 0u);
}

// Neither side knows the other: the first datagram finds no neighbour and
// sends an ARP request over memif; the reply comes back the same way.
TEST(DpdkLinkMemif, ArpFindsALeftOutNeighbour) {
  MemifPair p(config_a(), config_b());
  ASSERT_TRUE(p.up);
  ASSERT_TRUE(send(*p.a, "first", {kIpB, kPort}, 1));
  EXPECT_EQ(p.a->stats().tx_no_neighbour, 1u);
  EXPECT_EQ(p.a->tx_flush(), 1u);  // the ARP request

  std::vector<RxDatagram> rx(8);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!as_dpdk(p.a.get())->knows_neighbour(kIpB) &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(p.b->rx_burst(rx), 0u);  // answers the request (the reply is flushed in rx_burst)
    EXPECT_EQ(p.a->rx_burst(rx), 0u);  // learns from the reply
  }
  ASSERT_TRUE(as_dpdk(p.a.get())->knows_neighbour(kIpB));
  EXPECT_TRUE(as_dpdk(p.b.get())->knows_neighbour(kIpA));  // learned from the request
  EXPECT_EQ(p.b->stats().arp_requests, 1u);
  EXPECT_EQ(p.a->stats().arp_replies, 1u);
  EXPECT_EQ(verdict(*p.b, Verdict::arp_request), 1u);
  EXPECT_EQ(verdict(*p.a, Verdict::arp_reply), 1u);

  // The transport's retransmission goes, and B answers without asking.
  ASSERT_TRUE(send(*p.a, "hello b", {kIpB, kPort}, 5));
  EXPECT_EQ(p.a->tx_flush(), 1u);
  std::map<std::string, int> at_b, at_a;
  size_t n_b = 0, n_a = 0;
  receive(*p.b, 1, at_b, n_b);
  EXPECT_EQ(at_b, (std::map<std::string, int>{{"hello b", 1}}));
  ASSERT_TRUE(send(*p.b, "hello a", {kIpA, kPort}, 6));
  EXPECT_EQ(p.b->tx_flush(), 1u);
  receive(*p.a, 1, at_a, n_a);
  EXPECT_EQ(at_a, (std::map<std::string, int>{{"hello a", 1}}));
  EXPECT_EQ(p.b->stats().tx_no_neighbour, 0u);
  // Frames on the wire: A sent the request and a datagram, B the reply and a datagram.
  EXPECT_EQ(as_dpdk(p.a.get())->port_counters().opackets, 2u);
  EXPECT_EQ(as_dpdk(p.b.get())->port_counters().ipackets, 2u);
  EXPECT_EQ(as_dpdk(p.b.get())->port_counters().opackets, 2u);
  EXPECT_EQ(as_dpdk(p.a.get())->port_counters().ipackets, 2u);
}

// A client with no server on its socket: the link says which device failed
// and why, and leaves nothing behind (the same name probes again).
TEST(DpdkLinkMemif, ClientWithoutServerSaysWhy) {
  TempDir dir;
  const std::string socket = (dir.path / "nobody.sock").string();
  const int n = next_memif();
  const LinkConfig c = config(memif_spec(n, "client", socket, kMacB), kIpB);
  for (int round = 0; round < 2; ++round) {
    try {
      make_dpdk_link(c);
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("net_memif" + std::to_string(n)), std::string::npos) << what;
      EXPECT_NE(what.find("rte_eth_dev_start"), std::string::npos) << what;
      EXPECT_NE(what.find("is a memif server"), std::string::npos) << what;
      EXPECT_EQ(what.find("Operation not permitted"), std::string::npos) << what;  // memif's -1
    }
  }
}

}  // namespace
}  // namespace srdx::dp
