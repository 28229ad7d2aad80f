// Two srdx endpoints over two udp links on loopback, each run by the poll
// loop that srdxd and srdx-perf run (dp::Poller::run on its own thread, idle
// back-off included): every message arrives exactly once, intact.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "loop/poller.h"
#include "srdx/endpoint.h"
#include "udp/udp_link.h"
#include "udp_test_util.h"

namespace srdx::dp {
namespace {

using test::open_link;

// One endpoint on one link, run by a Poller on a thread of its own. The
// handlers run on that thread: the test reads what they record through the
// atomics while the loop runs, the rest after stop().
struct Node {
  std::unique_ptr<UdpLink> link;
  std::unique_ptr<Endpoint> ep;
  std::unique_ptr<Poller> poller;
  std::atomic<bool> stop_flag{false};
  std::atomic<uint64_t> ticks{0};
  std::thread thread;

  explicit Node(uint64_t seed) {
    link = open_link(16);
    EndpointConfig cfg;
    cfg.seed = seed;
    cfg.port = link->local().port;  // peers answer here, whatever the entropy port
    cfg.mtu = 1500;
    // Generous on a loaded 2-core machine: this test is about the link, and
    // a peer is declared unreachable after peer_timeout without an answer.
    cfg.peer_timeout = Duration::seconds(2);
    cfg.message_timeout = Duration::seconds(30);
    ep = std::make_unique<Endpoint>(cfg);
    poller = std::make_unique<Poller>(*link, *ep);  // srdx-perf's defaults: spin, then sleep
  }
  ~Node() { stop(); }

  // The tick handler counts iterations for the test, then calls `app`.
  void start(Poller::TickHandler app = {}) {
    poller->on_tick([this, app = std::move(app)](Time now) {
      ticks.fetch_add(1, std::memory_order_relaxed);
      if (app) app(now);
    });
    thread = std::thread([this] { poller->run(stop_flag); });
  }
  void stop() {
    stop_flag = true;
    if (thread.joinable()) thread.join();
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
  Node a(1), b(2);
  Result<PeerId> peer = a.ep->add_peer(b.link->local(), b.ep->public_key());
  b.ep->allow_key(a.ep->public_key());
  ASSERT_TRUE(peer.ok());

  constexpr uint32_t kMessages = 200;
  constexpr uint32_t kWindow = 32;  // messages outstanding, as srdx-perf keeps a window
  constexpr size_t kSize = 64 << 10;
  std::vector<std::vector<uint8_t>> messages;
  for (uint32_t i = 0; i < kMessages; ++i) messages.push_back(message(i, kSize));

  // A: the application sends from the tick handler and counts outcomes.
  uint32_t next = 0;
  std::atomic<uint32_t> completed{0}, failed{0};
  std::string first_failure, send_error;
  a.poller->on_event([&](const Event& ev, Time) {
    if (ev.type == EventType::send_completed) completed.fetch_add(1);
    if (ev.type == EventType::send_failed) {
      if (failed.fetch_add(1) == 0) {
        first_failure = "message " + std::to_string(ev.cookie) +
                        " failed: " + std::string(to_string(ev.reason));
      }
    }
  });
  a.start([&](Time now) {
    while (next < kMessages && next - completed.load() - failed.load() < kWindow) {
      SendOptions opt;
      opt.cookie = next;
      const Result<MsgId> r = a.ep->send(peer.value, messages[next], opt, now);
      if (r.err == Errc::would_block) break;  // a completion makes room
      if (!r.ok() && send_error.empty()) send_error = std::string(to_string(r.err));
      ++next;
    }
  });
  // B: copies what arrives.
  std::vector<std::vector<uint8_t>> received;
  std::atomic<uint32_t> received_count{0};
  b.poller->on_event([&](const Event& ev, Time) {
    if (ev.type != EventType::message_received) return;
    received.emplace_back(ev.data.begin(), ev.data.end());
    received_count.fetch_add(1);
  });
  b.start();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((received_count.load() < kMessages || completed.load() < kMessages) &&
         failed.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // A few hundred iterations more of both loops, so that a duplicate delivery
  // would show.
  const uint64_t ta = a.ticks.load(), tb = b.ticks.load();
  while ((a.ticks.load() < ta + 300 || b.ticks.load() < tb + 300) &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  a.stop();
  b.stop();

  EXPECT_EQ(send_error, "");
  EXPECT_EQ(failed.load(), 0u) << first_failure;
  EXPECT_EQ(next, kMessages);
  EXPECT_EQ(completed.load(), kMessages);
  ASSERT_EQ(received.size(), kMessages);
  std::vector<int> seen(kMessages, 0);
  for (const auto& m : received) {
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
  // The loops did the moving: every datagram a link received went through
  // its poller to the endpoint, and the window kept the sender's loop
  // iterating with room to receive.
  const PollerStats& pa = a.poller->stats();
  const PollerStats& pb = b.poller->stats();
  EXPECT_EQ(pb.rx_packets, b.ep->stats().packets_received);
  EXPECT_EQ(pa.rx_packets, a.ep->stats().packets_received);
  EXPECT_EQ(pb.rx_packets, lb.rx_packets);
  EXPECT_GE(pa.events, kMessages) << "every completion reached the handler";
  const EndpointStats& es = a.ep->stats();
  std::printf(
      "a: %llu packets sent, %llu retransmissions, %llu loop iterations (%llu idle, %llu sleeps), "
      "%llu partial flushes; b: rx %llu in %llu bursts\n",
      static_cast<unsigned long long>(es.packets_sent),
      static_cast<unsigned long long>(es.retransmissions),
      static_cast<unsigned long long>(pa.iterations),
      static_cast<unsigned long long>(pa.idle_iterations),
      static_cast<unsigned long long>(pa.idle_sleeps),
      static_cast<unsigned long long>(pa.partial_tx),
      static_cast<unsigned long long>(pb.rx_packets),
      static_cast<unsigned long long>(pb.rx_bursts));
  EXPECT_EQ(a.ep->buffered_messages(), 0u);
}

}  // namespace
}  // namespace srdx::dp
