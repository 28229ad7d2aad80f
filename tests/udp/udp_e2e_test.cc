// Two srdx endpoints over two udp links on loopback, driven by a minimal
// poll loop written out here: every message arrives exactly once, intact.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "srdx/endpoint.h"
#include "udp/udp_link.h"
#include "udp_test_util.h"

namespace srdx::dp {
namespace {

using test::open_link;

Time wall_now() {
  static const auto t0 = std::chrono::steady_clock::now();
  return Time::from_ns(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

// One endpoint on one link: rx burst, engine, tx burst, timers.
struct Node {
  std::unique_ptr<UdpLink> link;
  std::unique_ptr<Endpoint> ep;
  std::vector<Event> events;
  std::vector<std::vector<uint8_t>> received;  // message copies, in arrival order

  Node(uint64_t epoch, uint64_t seed) {
    link = open_link(16);
    EndpointConfig cfg;
    (void)epoch;  // the engine picks connection ids itself now
    cfg.seed = seed;
    cfg.port = link->local().port;  // peers answer here, whatever the entropy port
    cfg.mtu = 1500;
    // Generous on a loaded 2-core machine: this test is about the link, and
    // a peer is declared unreachable after peer_timeout without an answer.
    cfg.peer_timeout = Duration::seconds(2);
    cfg.message_timeout = Duration::seconds(30);
    ep = std::make_unique<Endpoint>(cfg);
  }

  void poll_once() {
    Time now = wall_now();
    RxDatagram rx[32];
    while (size_t n = link->rx_burst(rx)) {
      for (size_t i = 0; i < n; ++i)
        ep->on_packet(rx[i].payload, RxPath{rx[i].src, rx[i].src.port, 0}, now);
    }
    now = wall_now();
    if (ep->next_deadline() <= now) ep->on_timer(now);
    for (;;) {
      std::span<uint8_t> buf = link->tx_buffer();
      if (buf.empty()) break;
      TxPath path;
      const size_t len = ep->poll_transmit(buf, path, now);
      if (len == 0) break;
      link->tx_commit(len, path);
    }
    link->tx_flush();
    Event ev;
    while (ep->poll_event(ev)) {
      if (ev.type == EventType::message_received)
        received.emplace_back(ev.data.begin(), ev.data.end());
      ev.data = {};
      events.push_back(ev);
    }
  }

  size_t count(EventType t) const {
    size_t n = 0;
    for (const Event& e : events) n += e.type == t;
    return n;
  }
};

std::vector<uint8_t> message(uint32_t i, size_t len) {
  std::vector<uint8_t> m(len);
  std::memcpy(m.data(), &i, sizeof i);
  uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
  for (size_t k = sizeof i; k < len; ++k) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m[k] = static_cast<uint8_t>(x);
  }
  return m;
}

TEST(UdpEndToEnd, TwoHundredMessagesOf64KiBArriveExactlyOnce) {
  Node a(1000, 1), b(2000, 2);
  Result<PeerId> peer = a.ep->add_peer(b.link->local(), b.ep->public_key());
  b.ep->allow_key(a.ep->public_key());
  ASSERT_TRUE(peer.ok());

  constexpr uint32_t kMessages = 200;
  constexpr size_t kSize = 64 << 10;
  std::vector<std::vector<uint8_t>> messages;
  for (uint32_t i = 0; i < kMessages; ++i) messages.push_back(message(i, kSize));
  for (uint32_t i = 0; i < kMessages; ++i) {
    SendOptions opt;
    opt.cookie = i;
    Result<MsgId> r = a.ep->send(peer.value, messages[i], opt, wall_now());
    ASSERT_TRUE(r.ok()) << to_string(r.err);
    if (i % 16 == 0) {
      a.poll_once();
      b.poll_once();
    }
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((b.received.size() < kMessages || a.count(EventType::send_completed) < kMessages) &&
         a.count(EventType::send_failed) == 0 && std::chrono::steady_clock::now() < deadline) {
    a.poll_once();
    b.poll_once();
  }
  // A little longer, so that a duplicate delivery would show.
  for (int i = 0; i < 200; ++i) {
    a.poll_once();
    b.poll_once();
  }

  EXPECT_EQ(a.count(EventType::send_failed), 0u);
  for (const Event& e : a.events) {
    if (e.type == EventType::send_failed) {
      ADD_FAILURE() << "message " << e.cookie << " failed: " << to_string(e.reason);
      break;
    }
  }
  EXPECT_EQ(a.count(EventType::send_completed), kMessages);
  ASSERT_EQ(b.received.size(), kMessages);
  std::vector<int> seen(kMessages, 0);
  for (const auto& m : b.received) {
    ASSERT_EQ(m.size(), kSize);
    uint32_t i = 0;
    std::memcpy(&i, m.data(), sizeof i);
    ASSERT_LT(i, kMessages);
    seen[i]++;
    EXPECT_TRUE(m == messages[i]) << "message " << i << " corrupted";
  }
  for (uint32_t i = 0; i < kMessages; ++i) EXPECT_EQ(seen[i], 1) << "message " << i;

  // The peer B sees is A's receive port, not any of A's entropy ports.
  std::vector<PeerId> peers = b.ep->peers();
  ASSERT_EQ(peers.size(), 1u);
  PeerStats ps;
  ASSERT_TRUE(b.ep->peer_stats(peers[0], ps));
  EXPECT_EQ(ps.addr, a.link->local());

  const LinkStats la = a.link->stats(), lb = b.link->stats();
  EXPECT_EQ(la.tx_dropped + lb.tx_dropped, 0u);
  EXPECT_GT(la.tx_packets, kMessages * kSize / 1500);
  EXPECT_EQ(lb.rx_not_for_us + la.rx_not_for_us, 0u);
  const EndpointStats& es = a.ep->stats();
  std::printf("a: %llu packets sent, %llu retransmissions, link tx_no_buffer %llu; b: rx %llu\n",
              static_cast<unsigned long long>(es.packets_sent),
              static_cast<unsigned long long>(es.retransmissions),
              static_cast<unsigned long long>(la.tx_no_buffer),
              static_cast<unsigned long long>(lb.rx_packets));
  EXPECT_EQ(a.ep->buffered_messages(), 0u);
}

}  // namespace
}  // namespace srdx::dp
