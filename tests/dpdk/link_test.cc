// The dpdk link on real DPDK ports with no hardware: EAL with --no-huge -m 256
// --no-pci (started once for the process by the environment below), net_ring
// ports made from rte_rings (two links wired to each other, or one link whose
// far side the test plays by enqueueing and dequeueing frames), and net_null.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_timer.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dpdk/dpdk_link.h"
#include "dpdk/eal.h"
#include "dpdk/frame.h"
#include "link_test_util.h"
#include "transfer_util.h"

namespace srdx::dp {
namespace {

using frame::Mac;
using frame::Verdict;

constexpr uint32_t kIpA = 0xc6120001;  // 198.18.0.1
constexpr uint32_t kIpB = 0xc6120002;  // 198.18.0.2
using test::config;
using test::drain;
using test::kPort;
using test::send;
constexpr Mac kMacA = {0x02, 0, 198, 18, 0, 1};
constexpr Mac kMacB = {0x02, 0, 198, 18, 0, 2};

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    eal_init({"--no-huge", "-m", "256", "--no-pci", "--log-level=lib.eal:warning"}, "net_null0");
  }
};
[[maybe_unused]] const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

rte_mempool* test_pool() {
  static rte_mempool* pool =
      rte_pktmbuf_pool_create("srdx_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return pool;
}

std::string unique(const std::string& base) {
  static int n = 0;
  return base + std::to_string(n++);
}

rte_ring* make_ring(unsigned size = 1024) {
  rte_ring* r = rte_ring_create(unique("srdx_r").c_str(), size, SOCKET_ID_ANY, 0);
  EXPECT_NE(r, nullptr);
  return r;
}

// A net_ring port reading `rx` and writing `tx`. Returns the port name (what
// LinkConfig.device names). net_ring ports have no MAC: the link on it takes
// 02:00 + its IP (kMacA, kMacB).
std::string ring_port(rte_ring* rx, rte_ring* tx) {
  const std::string name = unique("p");
  const int port = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, SOCKET_ID_ANY);
  EXPECT_GE(port, 0) << rte_strerror(rte_errno);
  return "net_ring_" + name;
}

std::vector<std::string> receive(Link& link, std::vector<Addr>* from = nullptr) {
  std::vector<RxDatagram> rx(64);
  const size_t n = link.rx_burst(rx);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.emplace_back(rx[i].payload.begin(), rx[i].payload.end());
    if (from != nullptr) from->push_back(rx[i].src);
  }
  return out;
}

uint64_t verdict(const Link& link, Verdict v) {
  return as_dpdk(const_cast<Link*>(&link))->verdicts()[static_cast<size_t>(v)];
}

// Two links on net_ring ports wired back to back.
struct Pair {
  rte_ring* ab = make_ring();
  rte_ring* ba = make_ring();
  std::unique_ptr<Link> a, b;
  explicit Pair(LinkConfig ca = config("", kIpA), LinkConfig cb = config("", kIpB)) {
    ca.device = ring_port(ba, ab);
    cb.device = ring_port(ab, ba);
    a = make_dpdk_link(ca);
    b = make_dpdk_link(cb);
  }
  ~Pair() {
    a.reset();
    b.reset();
    rte_ring_free(ab);
    rte_ring_free(ba);
  }
};

TEST(DpdkLink, PortInfo) {
  Pair p;
  const DpdkPortInfo info = as_dpdk(p.a.get())->port_info();
  EXPECT_EQ(info.driver, "net_ring");
  EXPECT_EQ(info.mac, kMacA);
  EXPECT_EQ(info.rx_queues, 1);
  EXPECT_FALSE(info.owns_device);
  EXPECT_EQ(p.a->kind(), "dpdk");
  EXPECT_EQ(p.a->local(), (Addr{kIpA, kPort}));
  EXPECT_GE(p.a->tx_buffer().size(), 1500u - 28);
}

TEST(DpdkLink, ArpThenDatagramsBothWays) {
  Pair p;
  // No neighbour yet: dropped and counted, an ARP request goes out.
  ASSERT_TRUE(send(*p.a, "first", {kIpB, kPort}));
  EXPECT_EQ(p.a->stats().tx_no_neighbour, 1u);
  EXPECT_EQ(p.a->tx_flush(), 1u);  // the ARP request
  EXPECT_TRUE(receive(*p.b).empty());
  EXPECT_EQ(p.b->stats().arp_requests, 1u);
  EXPECT_TRUE(as_dpdk(p.b.get())->knows_neighbour(kIpA));  // learned from the request
  EXPECT_TRUE(receive(*p.a).empty());                      // the reply
  EXPECT_EQ(p.a->stats().arp_replies, 1u);
  ASSERT_TRUE(as_dpdk(p.a.get())->knows_neighbour(kIpB));

  // The transport retransmits: now it goes.
  ASSERT_TRUE(send(*p.a, "hello b", {kIpB, kPort}, /*entropy=*/5));
  ASSERT_TRUE(send(*p.a, "again", {kIpB, kPort}, /*entropy=*/64 + 6));
  EXPECT_EQ(p.a->tx_flush(), 2u);
  std::vector<Addr> from;
  EXPECT_EQ(receive(*p.b, &from), (std::vector<std::string>{"hello b", "again"}));
  ASSERT_EQ(from.size(), 2u);
  EXPECT_EQ(from[0], (Addr{kIpA, 49152 + 5}));  // entropy -> source port
  EXPECT_EQ(from[1], (Addr{kIpA, 49152 + 6}));

  ASSERT_TRUE(send(*p.b, "hello a", {kIpA, kPort}));
  EXPECT_EQ(p.b->tx_flush(), 1u);
  EXPECT_EQ(receive(*p.a), (std::vector<std::string>{"hello a"}));

  const LinkStats sa = p.a->stats();
  EXPECT_EQ(sa.tx_packets, 2u);
  EXPECT_EQ(sa.tx_bytes, 12u);
  EXPECT_EQ(sa.rx_packets, 1u);
  EXPECT_EQ(sa.rx_bytes, 7u);
  EXPECT_EQ(as_dpdk(p.a.get())->queue_stats(0).tx_packets, 2u);
  EXPECT_EQ(as_dpdk(p.a.get())->port_counters().opackets, 3u);  // with the ARP request
}

TEST(DpdkLink, ArpRequestsAreRateLimited) {
  Pair p;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(send(*p.a, "x", {kIpB, kPort}));
  EXPECT_EQ(p.a->stats().tx_no_neighbour, 5u);
  EXPECT_EQ(p.a->tx_flush(), 1u);  // one ARP request, not five
}

TEST(DpdkLink, StaticNeighboursAndGateway) {
  LinkConfig ca = config("", kIpA);
  ca.gateway = kIpB;  // B is the "router" for everything off 198.18.0.0/24
  ca.static_neighbours = {{kIpB, kMacB}};
  Pair p(ca);
  ASSERT_TRUE(send(*p.a, "on-link", {kIpB, kPort}));
  const uint32_t far = 0x0a000005;  // 10.0.0.5, via the gateway's MAC
  ASSERT_TRUE(send(*p.a, "routed", {far, kPort}));
  EXPECT_EQ(p.a->tx_flush(), 2u);
  EXPECT_EQ(p.a->stats().tx_no_neighbour, 0u);
  EXPECT_EQ(receive(*p.b), (std::vector<std::string>{"on-link"}));
  EXPECT_EQ(verdict(*p.b, Verdict::wrong_dst_ip), 1u);  // B is not 10.0.0.5
  EXPECT_EQ(p.b->stats().rx_not_for_us, 1u);
}

TEST(DpdkLink, FullTxRingIsCountedNotRetried) {
  rte_ring* rx = make_ring(64);
  rte_ring* tx = make_ring(64);  // holds 63
  LinkConfig c = config(ring_port(rx, tx), kIpA);
  c.static_neighbours = {{kIpB, kMacB}};
  c.burst = 32;
  {
    auto link = make_dpdk_link(c);
    size_t sent = 0;
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(send(*link, "payload", {kIpB, kPort}));
    }
    sent += link->tx_flush();
    const LinkStats s = link->stats();
    EXPECT_EQ(s.tx_packets, 63u);
    EXPECT_EQ(s.tx_dropped, 37u);
    EXPECT_LE(sent, 63u);
    // Drain what went, so the mbufs return to the link's pool before it closes.
    EXPECT_EQ(drain(tx), 63u);
  }
  rte_ring_free(rx);
  rte_ring_free(tx);
}

// One link; the test is the far side: it enqueues frames on the link's RX
// ring and reads what the link sends from its TX ring.
class Wire : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_ = make_ring();
    tx_ = make_ring();
    LinkConfig c = config(ring_port(rx_, tx_), kIpA);
    link_ = make_dpdk_link(c);
  }
  void TearDown() override {
    (void)sent();
    link_.reset();
    rte_ring_free(rx_);
    rte_ring_free(tx_);
  }
  void inject(const std::vector<uint8_t>& bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
    ASSERT_NE(m, nullptr);
    char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
    ASSERT_NE(d, nullptr);
    std::memcpy(d, bytes.data(), bytes.size());
    ASSERT_EQ(rte_ring_enqueue(rx_, m), 0);
  }
  // Frames the link has sent since the last call.
  std::vector<std::vector<uint8_t>> sent() {
    std::vector<std::vector<uint8_t>> out;
    void* obj = nullptr;
    while (rte_ring_dequeue(tx_, &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
      out.emplace_back(p, p + m->data_len);
      rte_pktmbuf_free(m);
    }
    return out;
  }
  // A valid datagram from 198.18.0.2:7000 to the link.
  std::vector<uint8_t> datagram(const std::string& payload) {
    frame::UdpFrameSpec s;
    s.src_mac = kPeerMac;
    s.dst_mac = kLinkMac;
    s.src_ip = kIpB;
    s.dst_ip = kIpA;
    s.src_port = 7000;
    s.dst_port = kPort;
    std::vector<uint8_t> f(frame::kHeadersLen + payload.size());
    std::memcpy(f.data() + frame::kHeadersLen, payload.data(), payload.size());
    frame::build_udp(f, payload.size(), s);
    return f;
  }
  static void fix_ip_checksum(std::vector<uint8_t>& f, size_t ihl = 20) {
    f[24] = f[25] = 0;
    const uint16_t c = frame::internet_checksum({f.data() + 14, ihl});
    f[24] = static_cast<uint8_t>(c >> 8);
    f[25] = static_cast<uint8_t>(c);
  }

  static constexpr Mac kLinkMac = kMacA;
  static constexpr Mac kPeerMac = kMacB;
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  std::unique_ptr<Link> link_;
};

TEST_F(Wire, DeliversAndFrees) {
  const unsigned before = rte_mempool_avail_count(test_pool());
  inject(datagram("one"));
  inject(datagram("two"));
  std::vector<Addr> from;
  EXPECT_EQ(receive(*link_, &from), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(from[0], (Addr{kIpB, 7000}));
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), before - 2);  // held until the next rx_burst
  EXPECT_TRUE(receive(*link_).empty());
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), before);
}

TEST_F(Wire, UdpChecksumZeroIsTakenNonzeroIsVerified) {
  auto zero = datagram("zero");
  zero[40] = zero[41] = 0;
  inject(zero);
  inject(datagram("sum"));  // build_udp computed a nonzero checksum
  auto bad = datagram("bad");
  bad.back() ^= 1;
  inject(bad);
  auto bad_zero = datagram("zero");  // no checksum: a corrupted payload goes up (the CRC32C's job)
  bad_zero[40] = bad_zero[41] = 0;
  bad_zero.back() ^= 1;
  inject(bad_zero);
  // IP options: not the fast path, still a datagram.
  auto opts = datagram("opts");
  opts.insert(opts.begin() + 34, {1, 1, 1, 0});  // NOP NOP NOP EOL
  opts[14] = 0x46;
  opts[17] = static_cast<uint8_t>(opts[17] + 4);
  fix_ip_checksum(opts, 24);
  inject(opts);
  EXPECT_EQ(receive(*link_), (std::vector<std::string>{"zero", "sum", "zern", "opts"}));
  EXPECT_EQ(link_->stats().rx_bad_checksum, 1u);
  EXPECT_EQ(link_->stats().rx_packets, 4u);
  EXPECT_EQ(verdict(*link_, Verdict::datagram), 4u);
}

TEST_F(Wire, RejectionsAreCountedAndDropped) {
  const unsigned before = rte_mempool_avail_count(test_pool());
  auto bad_ip = datagram("x");
  bad_ip[25] ^= 1;
  inject(bad_ip);
  auto bad_udp = datagram("x");
  bad_udp.back() ^= 1;
  inject(bad_udp);
  auto lldp = datagram("x");
  lldp[12] = 0x88;
  lldp[13] = 0xcc;
  inject(lldp);
  auto ipv6 = datagram("x");
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  inject(ipv6);
  auto frag = datagram("x");
  frag[20] = 0x20;  // MF
  fix_ip_checksum(frag);
  inject(frag);
  auto other_ip = datagram("x");
  other_ip[33] = 9;
  fix_ip_checksum(other_ip);
  inject(other_ip);
  auto other_port = datagram("x");
  other_port[37] ^= 1;  // dst port; breaks the UDP checksum too, so clear it
  other_port[40] = other_port[41] = 0;
  inject(other_port);
  auto other_mac = datagram("x");
  other_mac[5] = 0x77;
  inject(other_mac);
  auto tcp = datagram("x");
  tcp[23] = 6;
  fix_ip_checksum(tcp);
  inject(tcp);
  auto shortf = datagram("x");
  shortf.resize(30);
  inject(shortf);

  EXPECT_TRUE(receive(*link_).empty());
  const LinkStats s = link_->stats();
  EXPECT_EQ(s.rx_packets, 0u);
  EXPECT_EQ(s.rx_bad_checksum, 2u);
  EXPECT_EQ(s.rx_unknown_ethertype, 1u);
  EXPECT_EQ(s.rx_not_ip, 1u);
  EXPECT_EQ(s.rx_fragments, 1u);
  EXPECT_EQ(s.rx_not_for_us, 3u);
  EXPECT_EQ(s.rx_not_udp, 1u);
  EXPECT_EQ(s.rx_truncated, 1u);
  EXPECT_EQ(verdict(*link_, Verdict::bad_ip_checksum), 1u);
  EXPECT_EQ(verdict(*link_, Verdict::bad_udp_checksum), 1u);
  EXPECT_EQ(verdict(*link_, Verdict::wrong_dst_ip), 1u);
  EXPECT_EQ(verdict(*link_, Verdict::wrong_dst_port), 1u);
  EXPECT_EQ(verdict(*link_, Verdict::not_for_us), 1u);
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), before);  // every one freed
  EXPECT_TRUE(sent().empty());
}

TEST_F(Wire, AnswersArpForItsAddressOnly) {
  std::vector<uint8_t> req(frame::kArpFrameLen);
  frame::build_arp_request(req, kPeerMac, kIpB, kIpA);
  inject(req);
  std::vector<uint8_t> other(frame::kArpFrameLen);
  frame::build_arp_request(other, kPeerMac, kIpB, kIpA + 7);
  inject(other);
  EXPECT_TRUE(receive(*link_).empty());
  const auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  frame::ParseContext ctx;
  ctx.local_mac = kPeerMac;
  ctx.local_ip = kIpB;
  const frame::Parsed r = frame::parse(out[0], ctx);
  EXPECT_EQ(r.verdict, Verdict::arp_reply);
  EXPECT_EQ(r.arp_sender_mac, kLinkMac);
  EXPECT_EQ(r.src_ip, kIpA);
  EXPECT_EQ(link_->stats().arp_requests, 1u);
  EXPECT_EQ(verdict(*link_, Verdict::arp_other), 1u);
  EXPECT_TRUE(as_dpdk(link_.get())->knows_neighbour(kIpB));
}

TEST_F(Wire, AnswersPing) {
  // 8-byte ICMP echo request, id 0x1234 seq 1, from B.
  std::vector<uint8_t> f(frame::kEthLen + 20 + 16);
  std::memcpy(f.data(), kLinkMac.data(), 6);
  std::memcpy(f.data() + 6, kPeerMac.data(), 6);
  f[12] = 0x08;
  const uint8_t ip[20] = {0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1};
  std::memcpy(f.data() + 14, ip, 20);
  fix_ip_checksum(f);
  uint8_t* icmp = f.data() + 34;
  icmp[0] = 8;
  icmp[4] = 0x12;
  icmp[5] = 0x34;
  icmp[7] = 1;
  for (int i = 0; i < 8; ++i) icmp[8 + i] = static_cast<uint8_t>(i);
  const uint16_t c = frame::internet_checksum({icmp, 16});
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
  inject(f);
  EXPECT_TRUE(receive(*link_).empty());
  EXPECT_EQ(link_->stats().icmp_echo, 1u);
  const auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), f.size());
  EXPECT_EQ(out[0][34], 0);  // echo reply
  EXPECT_EQ(frame::internet_checksum({out[0].data() + 34, 16}), 0);
  EXPECT_EQ(frame::internet_checksum({out[0].data() + 14, 20}), 0);
  EXPECT_TRUE(std::equal(out[0].begin() + 38, out[0].end(), f.begin() + 38));  // id, seq, data
}

TEST_F(Wire, SentFramesParseAtTheFarEnd) {
  std::vector<uint8_t> req(frame::kArpFrameLen);
  frame::build_arp_request(req, kPeerMac, kIpB, kIpA);  // teaches the link B's MAC
  inject(req);
  receive(*link_);
  (void)sent();
  ASSERT_TRUE(send(*link_, "to b", {kIpB, 9000}, 17));
  link_->tx_flush();
  const auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  frame::ParseContext ctx;
  ctx.local_mac = kPeerMac;
  ctx.local_ip = kIpB;
  ctx.local_port = 9000;
  const frame::Parsed p = frame::parse(out[0], ctx);
  ASSERT_EQ(p.verdict, Verdict::datagram);
  EXPECT_EQ(p.src_port, 49152 + 17);
  EXPECT_EQ(p.src_ip, kIpA);
  // net_ring has no checksum offload: the IPv4 checksum is computed, the UDP
  // checksum is zero ("none"; srdx packets carry their own CRC32C).
  EXPECT_FALSE(as_dpdk(link_.get())->port_info().tx_udp_checksum_offload);
  EXPECT_EQ(out[0][40] | out[0][41], 0);
  EXPECT_EQ(frame::internet_checksum({out[0].data() + 14, 20}), 0);
  EXPECT_EQ(std::string(out[0].begin() + static_cast<long>(p.payload_offset), out[0].end()),
            "to b");
}

TEST(DpdkLinkNull, ProbesAndRemovesAVdev) {
  for (int round = 0; round < 2; ++round) {  // the same name again: it was removed
    LinkConfig c = config("net_null7,size=64", kIpA);
    c.static_neighbours = {{kIpB, kMacB}};
    auto link = make_dpdk_link(c);
    EXPECT_TRUE(as_dpdk(link.get())->port_info().owns_device);
    EXPECT_EQ(as_dpdk(link.get())->port_info().driver, "net_null");
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(send(*link, std::string(64, 'z'), {kIpB, kPort}));
    EXPECT_EQ(link->tx_flush(), 10u);
    EXPECT_EQ(link->stats().tx_packets, 10u);
    // net_null receives zeroed frames: dropped as an unknown ethertype, or as
    // not for us (zero destination MAC).
    std::vector<RxDatagram> rx(32);
    EXPECT_EQ(link->rx_burst(rx), 0u);
    EXPECT_EQ(link->stats().rx_packets, 0u);
  }
}

// --- Several queues -------------------------------------------------------

// A net_ring port with one ring per RX queue and per TX queue.
std::string ring_port(const std::vector<rte_ring*>& rx, const std::vector<rte_ring*>& tx) {
  const std::string name = unique("p");
  std::vector<rte_ring*> r = rx, t = tx;
  const int port = rte_eth_from_rings(name.c_str(), r.data(), static_cast<unsigned>(r.size()),
                                      t.data(), static_cast<unsigned>(t.size()), SOCKET_ID_ANY);
  EXPECT_GE(port, 0) << rte_strerror(rte_errno);
  return "net_ring_" + name;
}

uint64_t counter(const Link& link, std::string_view name) {
  for (const auto& [n, v] : link.backend_counters()) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no backend counter " << name;
  return 0;
}

// Sums the backend counters named PREFIX<q>SUFFIX over every queue.
uint64_t sum_counters(const Link& link, std::string_view prefix, std::string_view suffix) {
  uint64_t t = 0;
  for (const auto& [n, v] : link.backend_counters()) {
    if (n.size() > prefix.size() + suffix.size() && n.substr(0, prefix.size()) == prefix &&
        n.substr(n.size() - suffix.size()) == suffix &&
        std::isdigit(static_cast<unsigned char>(n[prefix.size()])) != 0 &&
        n.find('_') == n.size() - suffix.size()) {
      t += v;
    }
  }
  return t;
}

// Two links on net_ring ports with kQueues queue pairs each, wired back to
// back queue by queue (A's TX queue i is B's RX queue i), neighbours static.
struct QueuePair {
  static constexpr size_t kQueues = 2;
  std::vector<rte_ring*> ab, ba;
  std::unique_ptr<Link> a, b;
  std::string log;
  explicit QueuePair(uint16_t queues = kQueues) {
    for (size_t i = 0; i < kQueues; ++i) {
      ab.push_back(make_ring());
      ba.push_back(make_ring());
    }
    LinkConfig ca = config(ring_port(ba, ab), kIpA);
    LinkConfig cb = config(ring_port(ab, ba), kIpB);
    ca.queues = cb.queues = queues;
    ca.static_neighbours = {{kIpB, kMacB}};
    cb.static_neighbours = {{kIpA, kMacA}};
    ::testing::internal::CaptureStderr();
    a = make_dpdk_link(ca);
    b = make_dpdk_link(cb);
    log = ::testing::internal::GetCapturedStderr();
  }
  ~QueuePair() {
    a.reset();
    b.reset();
    for (rte_ring* r : ab) rte_ring_free(r);
    for (rte_ring* r : ba) rte_ring_free(r);
  }
};

TEST(DpdkLinkQueues, SprayedDatagramsUseEveryQueueAndArriveOnce) {
  QueuePair p;
  const DpdkPortInfo info = as_dpdk(p.a.get())->port_info();
  EXPECT_EQ(info.rx_queues, 2);
  EXPECT_EQ(info.tx_queues, 2);
  EXPECT_FALSE(info.rss);  // net_ring has no RSS: said so, once per link
  EXPECT_NE(p.log.find("offers no IP/UDP RSS"), std::string::npos) << p.log;
  EXPECT_EQ(p.log.find("asked for"), std::string::npos) << p.log;  // nothing clamped

  // 300 datagrams over 64 entropies (several per path), flushed now and then.
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(send(*p.a, "d" + std::to_string(i), {kIpB, kPort}, static_cast<uint16_t>(i % 64)));
    if (i % 50 == 49) p.a->tx_flush();
  }
  p.a->tx_flush();
  // Both TX queues carried some; each frame is on the ring of its source port's queue.
  EXPECT_GT(rte_ring_count(p.ab[0]), 0u);
  EXPECT_GT(rte_ring_count(p.ab[1]), 0u);
  EXPECT_EQ(rte_ring_count(p.ab[0]) + rte_ring_count(p.ab[1]), unsigned{kCount});
  const DpdkLink& da = *as_dpdk(p.a.get());
  EXPECT_EQ(da.queue_stats(0).tx_packets, rte_ring_count(p.ab[0]));
  EXPECT_EQ(da.queue_stats(1).tx_packets, rte_ring_count(p.ab[1]));
  EXPECT_EQ(p.a->stats().tx_packets, uint64_t{kCount});
  EXPECT_EQ(sum_counters(*p.a, "txq", "_packets"), uint64_t{kCount});
  EXPECT_EQ(counter(*p.a, "txq0_packets") + counter(*p.a, "txq1_packets"), uint64_t{kCount});
  EXPECT_EQ(counter(*p.a, "txq0_dropped") + counter(*p.a, "txq1_dropped"), 0u);
  EXPECT_EQ(counter(*p.a, "port_opackets"), uint64_t{kCount});
  EXPECT_EQ(counter(*p.a, "tx_queues"), 2u);

  // Every datagram arrives exactly once, through rx_bursts across both
  // queues, and one path's (source port's) datagrams in the order sent.
  std::map<std::string, int> seen;
  std::map<uint16_t, int> last_of_port;
  for (int round = 0; round < 100; ++round) {
    std::vector<Addr> from;
    const auto got = receive(*p.b, &from);
    if (got.empty()) break;
    for (size_t i = 0; i < got.size(); ++i) {
      ++seen[got[i]];
      const int idx = std::stoi(got[i].substr(1));
      EXPECT_EQ(from[i].port, 49152 + idx % 64);
      auto [it, fresh] = last_of_port.try_emplace(from[i].port, idx);
      if (!fresh) {
        EXPECT_GT(idx, it->second) << "path " << from[i].port << " reordered";
        it->second = idx;
      }
    }
  }
  EXPECT_EQ(seen.size(), size_t{kCount});
  for (const auto& [payload, n] : seen) EXPECT_EQ(n, 1) << payload;
  const DpdkLink& db = *as_dpdk(p.b.get());
  EXPECT_GT(db.queue_stats(0).rx_packets, 0u);
  EXPECT_GT(db.queue_stats(1).rx_packets, 0u);
  EXPECT_EQ(db.queue_stats(0).rx_packets, da.queue_stats(0).tx_packets);
  EXPECT_EQ(db.queue_stats(1).rx_packets, da.queue_stats(1).tx_packets);
  EXPECT_EQ(p.b->stats().rx_packets, uint64_t{kCount});
  EXPECT_EQ(counter(*p.b, "rxq0_packets") + counter(*p.b, "rxq1_packets"), uint64_t{kCount});
  EXPECT_EQ(counter(*p.b, "rxq0_bytes") + counter(*p.b, "rxq1_bytes"), p.b->stats().rx_bytes);
  EXPECT_EQ(counter(*p.b, "port_ipackets"), uint64_t{kCount});
}

TEST(DpdkLinkQueues, ABusyQueueDoesNotStarveTheOthers) {
  QueuePair p;
  // 200 datagrams on even source ports (TX queue 0, so B's RX queue 0), 3 on odd ones.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(send(*p.a, "busy", {kIpB, kPort}, static_cast<uint16_t>(2 * (i % 32))));
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send(*p.a, "quiet", {kIpB, kPort}, 1));
  p.a->tx_flush();
  ASSERT_EQ(rte_ring_count(p.ab[0]), 200u);
  ASSERT_EQ(rte_ring_count(p.ab[1]), 3u);
  // Bursts of 8: wherever polling starts, the second burst starts on the other queue.
  std::vector<RxDatagram> rx(8);
  EXPECT_EQ(p.b->rx_burst(rx), 8u);
  EXPECT_EQ(p.b->rx_burst(rx), 8u);
  const DpdkLink& db = *as_dpdk(p.b.get());
  EXPECT_EQ(db.queue_stats(1).rx_packets, 3u);
  EXPECT_EQ(db.queue_stats(0).rx_packets, 13u);
  size_t total = 16;
  while (const size_t n = p.b->rx_burst(rx)) total += n;
  EXPECT_EQ(total, 203u);
}

TEST(DpdkLinkQueues, FullTxQueueIsCountedOnItsQueue) {
  std::vector<rte_ring*> rx = {make_ring(64), make_ring(64)};
  std::vector<rte_ring*> tx = {make_ring(64), make_ring(64)};  // each holds 63
  LinkConfig c = config(ring_port(rx, tx), kIpA);
  c.static_neighbours = {{kIpB, kMacB}};
  c.queues = 2;
  {
    ::testing::internal::CaptureStderr();
    auto link = make_dpdk_link(c);
    (void)::testing::internal::GetCapturedStderr();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(send(*link, "even", {kIpB, kPort}, 0));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(send(*link, "odd", {kIpB, kPort}, 1));
    link->tx_flush();
    const DpdkLink& d = *as_dpdk(link.get());
    EXPECT_EQ(d.queue_stats(0).tx_packets, 63u);
    EXPECT_EQ(d.queue_stats(0).tx_dropped, 37u);
    EXPECT_EQ(d.queue_stats(1).tx_packets, 10u);
    EXPECT_EQ(d.queue_stats(1).tx_dropped, 0u);
    EXPECT_EQ(counter(*link, "txq0_dropped"), 37u);
    EXPECT_GE(counter(*link, "txq0_partial_bursts"), 1u);
    EXPECT_EQ(counter(*link, "txq1_partial_bursts"), 0u);
    EXPECT_EQ(link->stats().tx_dropped, 37u);
    for (rte_ring* r : tx) drain(r);
  }
  for (rte_ring* r : rx) rte_ring_free(r);
  for (rte_ring* r : tx) rte_ring_free(r);
}

TEST(DpdkLinkQueues, MoreQueuesThanThePortHasAreClampedAndSaid) {
  rte_ring* rx = make_ring();
  rte_ring* tx = make_ring();
  LinkConfig c = config(ring_port(rx, tx), kIpA);
  c.static_neighbours = {{kIpB, kMacB}};
  c.queues = 4;
  {
    ::testing::internal::CaptureStderr();
    auto link = make_dpdk_link(c);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("4 queues asked for"), std::string::npos) << log;
    EXPECT_NE(log.find("using 1 RX and 1 TX"), std::string::npos) << log;
    EXPECT_EQ(log.find("RSS"), std::string::npos) << log;  // one RX queue: no RSS to speak of
    const DpdkPortInfo info = as_dpdk(link.get())->port_info();
    EXPECT_EQ(info.rx_queues, 1);
    EXPECT_EQ(info.tx_queues, 1);
    EXPECT_EQ(log.rfind(info.queue_note + "\n", 0), 0u) << log;  // the queue line first
    // Then the idle line: net_ring has no Rx interrupts, so an idle loop naps.
    EXPECT_FALSE(info.rx_interrupts);
    EXPECT_NE(log.find("net_ring has no Rx interrupts: an idle loop naps"), std::string::npos)
        << log;
    EXPECT_NE(log.find(info.idle_note), std::string::npos) << log;
    EXPECT_EQ(link->wait_fd(), -1);
    EXPECT_FALSE(link->wait_needs_arming());
    EXPECT_FALSE(link->arm_wait());
    EXPECT_EQ(counter(*link, "rx_interrupts"), 0u);
    EXPECT_EQ(counter(*link, "rx_queues"), 1u);
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(send(*link, "x", {kIpB, kPort}, static_cast<uint16_t>(i)));
    EXPECT_EQ(link->tx_flush(), 10u);
    EXPECT_EQ(counter(*link, "txq0_packets"), 10u);
    EXPECT_EQ(drain(tx, 16), 10u);
  }
  rte_ring_free(rx);
  rte_ring_free(tx);
}

TEST(DpdkLinkQueues, NullPortWithFourQueues) {
  LinkConfig c = config("net_null9,size=64", kIpA);
  c.static_neighbours = {{kIpB, kMacB}};
  c.queues = 4;
  ::testing::internal::CaptureStderr();
  auto link = make_dpdk_link(c);
  const std::string log = ::testing::internal::GetCapturedStderr();
  const DpdkPortInfo info = as_dpdk(link.get())->port_info();
  ASSERT_EQ(info.rx_queues, 4) << log;
  ASSERT_EQ(info.tx_queues, 4) << log;
  EXPECT_NE(log.find("RX queues"), std::string::npos) << log;  // RSS on, or why not
  if (info.rss) {
    EXPECT_NE(log.find("RSS (IP/UDP hash) over 4 RX queues"), std::string::npos) << log;
  }
  EXPECT_EQ(counter(*link, "rss"), info.rss ? 1u : 0u);
  // 64 entropies, 64 source ports: 16 per TX queue.
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(send(*link, std::string(64, 'z'), {kIpB, kPort}, static_cast<uint16_t>(i)));
  }
  EXPECT_EQ(link->tx_flush(), 64u);
  for (int q = 0; q < 4; ++q) {
    EXPECT_EQ(counter(*link, "txq" + std::to_string(q) + "_packets"), 16u) << q;
  }
  EXPECT_EQ(link->stats().tx_packets, 64u);
  EXPECT_EQ(counter(*link, "port_opackets"), 64u);
  // net_null hands every queue zeroed frames, none a datagram: one rx_burst
  // polls all four queues (refused frames do not use up the caller's burst).
  std::vector<RxDatagram> rx(32);
  EXPECT_EQ(link->rx_burst(rx), 0u);
  for (int q = 0; q < 4; ++q) {
    EXPECT_EQ(counter(*link, "rxq" + std::to_string(q) + "_not_datagram"), 32u) << q;
  }
  EXPECT_EQ(counter(*link, "port_ipackets"), 4u * 32);
}

// --- Extended statistics and port events ------------------------------------

TEST(DpdkLinkXstats, NamesTheEnaAllowanceCountersAsTheyAre) {
  for (std::string_view a : kEnaAllowanceCounters) EXPECT_EQ(xstat_counter_name(a), a);
  EXPECT_EQ(xstat_counter_name("pps_allowance_exceeded"), "pps_allowance_exceeded");
  EXPECT_EQ(xstat_counter_name("rx_good_packets"), "xstat_rx_good_packets");
  EXPECT_EQ(xstat_counter_name("bw_in_allowance_exceeded_x"), "xstat_bw_in_allowance_exceeded_x");
}

// The PMD's own answer for xstat `name` on `port` (rte_eth_xstats_get, by name).
bool pmd_xstat(uint16_t port, std::string_view name, uint64_t& value) {
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
  std::vector<rte_eth_xstat> xs(static_cast<size_t>(n));
  if (rte_eth_xstats_get_names(port, names.data(), static_cast<unsigned>(n)) != n) return false;
  if (rte_eth_xstats_get(port, xs.data(), static_cast<unsigned>(n)) != n) return false;
  for (const rte_eth_xstat& x : xs) {
    if (name == names[x.id].name) {
      value = x.value;
      return true;
    }
  }
  return false;
}

TEST(DpdkLinkXstats, ReadByIdAgreeWithWhatThePmdReports) {
  Pair p;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(send(*p.a, "x" + std::to_string(i), {kIpB, kPort}));
  // A's first datagram asks B for its MAC; B answers; then the rest go.
  p.a->tx_flush();
  receive(*p.b);
  receive(*p.a);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(send(*p.a, "y" + std::to_string(i), {kIpB, kPort}));
  p.a->tx_flush();
  EXPECT_EQ(receive(*p.b).size(), 10u);

  DpdkLink* a = as_dpdk(p.a.get());
  const uint16_t port = a->port_info().port_id;
  const auto xs = a->port_xstats();
  ASSERT_FALSE(xs.empty());
  std::map<std::string, uint64_t> by_name(xs.begin(), xs.end());
  // ethdev's generic xstats, which every PMD has: what rte_eth_stats_get says.
  ASSERT_TRUE(by_name.count("tx_good_packets"));
  EXPECT_EQ(by_name["tx_good_packets"], a->port_counters().opackets);
  EXPECT_GE(by_name["tx_good_packets"], 11u);  // the ARP request and 10 datagrams at least
  for (const auto& [name, v] : xs) {
    uint64_t pmd = 0;
    ASSERT_TRUE(pmd_xstat(port, name, pmd)) << name;
    EXPECT_EQ(v, pmd) << name;
  }
  // The same values in backend_counters(), named xstat_*; net_ring has no
  // ENA allowance counters, so none is made up.
  std::map<std::string, uint64_t> counters;
  for (const auto& [n, v] : p.a->backend_counters()) counters[std::string(n)] = v;
  EXPECT_EQ(counters["xstat_tx_good_packets"], by_name["tx_good_packets"]);
  ASSERT_TRUE(by_name.count("tx_q0_packets"));  // per queue: port_xstats() only
  EXPECT_EQ(counters.count("xstat_tx_q0_packets"), 0u);
  for (std::string_view name : kEnaAllowanceCounters)
    EXPECT_EQ(counters.count(std::string(name)), 0u) << name;
}

uint64_t health_after_burst(Link& link, uint64_t DpdkPortHealth::*field) {
  std::vector<RxDatagram> rx(32);
  link.rx_burst(rx);
  return as_dpdk(&link)->port_health().*field;
}

TEST(DpdkLinkEvents, LinkStateChangesAreSeenAndCounted) {
  Pair p;
  DpdkLink* a = as_dpdk(p.a.get());
  const uint16_t port = a->port_info().port_id;
  EXPECT_TRUE(a->port_health().link_up);
  EXPECT_FALSE(a->port_health().lsc_interrupt);  // net_ring raises none: polled
  EXPECT_EQ(counter(*p.a, "link_up"), 1u);
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(rte_eth_dev_set_link_down(port), 0);
  // Polled: seen within 100 ms of rx_bursts.
  std::vector<RxDatagram> rx(32);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (a->port_health().link_up && std::chrono::steady_clock::now() < until) p.a->rx_burst(rx);
  EXPECT_FALSE(a->port_health().link_up);
  EXPECT_EQ(a->port_health().link_down_events, 1u);
  EXPECT_EQ(counter(*p.a, "link_up"), 0u);
  // An LSC event is looked at by the next rx_burst.
  ASSERT_EQ(rte_eth_dev_set_link_up(port), 0);
  a->raise_port_event(PortEvent::link_change);
  EXPECT_EQ(health_after_burst(*p.a, &DpdkPortHealth::link_up_events), 1u);
  EXPECT_TRUE(a->port_health().link_up);
  EXPECT_EQ(a->port_health().lsc_events, 1u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("link down"), std::string::npos) << log;
  EXPECT_NE(log.find("link up"), std::string::npos) << log;
}

TEST(DpdkLinkEvents, ResetRestartsThePortAndTrafficGoesOn) {
  Pair p;
  DpdkLink* a = as_dpdk(p.a.get());
  ASSERT_TRUE(send(*p.a, "before", {kIpB, kPort}));  // ARP first
  p.a->tx_flush();
  receive(*p.b);
  receive(*p.a);
  ASSERT_TRUE(send(*p.a, "pending", {kIpB, kPort}));  // committed, not flushed
  const uint64_t dropped = p.a->stats().tx_dropped;
  ::testing::internal::CaptureStderr();
  a->raise_port_event(PortEvent::reset);
  EXPECT_EQ(health_after_burst(*p.a, &DpdkPortHealth::resets_done), 1u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("started again"), std::string::npos) << log;
  EXPECT_EQ(a->port_health().reset_events, 1u);
  EXPECT_EQ(a->port_health().reset_failures, 0u);
  EXPECT_TRUE(a->port_health().link_up);
  // What waited for tx_flush() was dropped and counted (the transport resends it).
  EXPECT_EQ(p.a->stats().tx_dropped, dropped + 1);
  EXPECT_EQ(p.a->tx_flush(), 0u);
  // Both ways work after the restart, neighbours kept.
  ASSERT_TRUE(send(*p.a, "after", {kIpB, kPort}));
  p.a->tx_flush();
  EXPECT_EQ(receive(*p.b), std::vector<std::string>{"after"});
  ASSERT_TRUE(send(*p.b, "back", {kIpA, kPort}));
  p.b->tx_flush();
  EXPECT_EQ(receive(*p.a), std::vector<std::string>{"back"});
  EXPECT_EQ(counter(*p.a, "resets_done"), 1u);
}

TEST(DpdkLinkEvents, RemovalStopsPollingWithoutACrash) {
  Pair p;
  DpdkLink* a = as_dpdk(p.a.get());
  ::testing::internal::CaptureStderr();
  a->raise_port_event(PortEvent::removal);
  EXPECT_EQ(health_after_burst(*p.a, &DpdkPortHealth::removal_events), 1u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("removed"), std::string::npos) << log;
  EXPECT_TRUE(a->port_health().removed);
  EXPECT_FALSE(a->port_health().link_up);
  EXPECT_EQ(counter(*p.a, "port_removed"), 1u);
  // B's frames are not read any more; what A sends is dropped and counted.
  ASSERT_TRUE(send(*p.b, "unread", {kIpA, kPort}));
  p.b->tx_flush();
  EXPECT_TRUE(receive(*p.a).empty());
  const uint64_t dropped = p.a->stats().tx_dropped;
  for (int i = 0; i < 3; ++i) send(*p.a, "lost", {kIpB, kPort});
  EXPECT_EQ(p.a->tx_flush(), 0u);
  EXPECT_GT(p.a->stats().tx_dropped, dropped);
  // A reset asked for afterwards does nothing; the link closes cleanly.
  a->raise_port_event(PortEvent::reset);
  EXPECT_EQ(health_after_burst(*p.a, &DpdkPortHealth::resets_done), 0u);
  drain(p.ba);
}

// A reset while two endpoints move messages over the pair (each on its own
// poll loop): the port restarts under the sender, what it had queued is
// dropped and retransmitted, and every message arrives exactly once.
TEST(DpdkLinkEvents, ResetMidTransferLosesNoMessage) {
  rte_ring* ab = make_ring(4096);
  rte_ring* ba = make_ring(4096);
  {
    LinkConfig ca = config(ring_port(ba, ab), kIpA);
    LinkConfig cb = config(ring_port(ab, ba), kIpB);
    ca.static_neighbours = {{kIpB, kMacB}};
    cb.static_neighbours = {{kIpA, kMacA}};
    ::testing::internal::CaptureStderr();
    test::Node a(ca, 1), b(cb, 2);
    test::Transfer t(a, b);
    ASSERT_TRUE(test::Transfer::wait([&] { return t.completed() >= 100; }));
    // From this thread, as DPDK's interrupt thread would: the same callback.
    as_dpdk(a.link.get())->raise_port_event(PortEvent::reset);
    ASSERT_TRUE(test::Transfer::wait([&] { return a.port_health().resets_done == 1; }));
    const uint64_t at_reset = t.completed();
    as_dpdk(b.link.get())->raise_port_event(PortEvent::reset);  // and the receiver's
    ASSERT_TRUE(test::Transfer::wait([&] { return b.port_health().resets_done == 1; }));
    ASSERT_TRUE(test::Transfer::wait([&] { return t.completed() >= at_reset + 200; }));
    t.finish_and_check();
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("started again"), std::string::npos) << log;
    EXPECT_EQ(a.port_health().reset_failures + b.port_health().reset_failures, 0u);
    EXPECT_EQ(a.port_health().reset_events, 1u);
    while (drain(ab) + drain(ba) != 0) {  // back to the links' pools before they go
    }
  }
  rte_ring_free(ab);
  rte_ring_free(ba);
}

// The ENA's watchdog is a DPDK timer on EAL's main lcore: eal_init() makes
// the timer subsystem ready, eal_run_timers() runs what is due, from the
// main lcore's thread only.
TEST(DpdkEal, RunTimersRunsTheMainLcoresDueTimers) {
  rte_timer t;
  rte_timer_init(&t);
  int fired = 0;
  const auto cb = [](rte_timer*, void* arg) { ++*static_cast<int*>(arg); };
  ASSERT_EQ(rte_lcore_id(), rte_get_main_lcore());
  ASSERT_EQ(rte_timer_reset(&t, 0, SINGLE, rte_lcore_id(), cb, &fired), 0)
      << "the timer subsystem is initialised";
  std::thread([] { eal_run_timers(); }).join();  // not the main lcore: nothing runs
  EXPECT_EQ(fired, 0);
  eal_run_timers();
  EXPECT_EQ(fired, 1);
  eal_run_timers();
  EXPECT_EQ(fired, 1);  // SINGLE: once
  rte_timer_stop_sync(&t);
}

TEST(DpdkLinkErrors, BadDeviceSaysWhat) {
  LinkConfig c = config("net_nosuchpmd0", kIpA);
  try {
    make_dpdk_link(c);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("net_nosuchpmd0"), std::string::npos) << e.what();
  }
  c.device = "250";
  EXPECT_THROW(make_dpdk_link(c), std::runtime_error);
  c.device = "";
  EXPECT_THROW(make_dpdk_link(c), std::runtime_error);
}

}  // namespace
}  // namespace srdx::dp
