// The encrypted connection (docs/protocol.md, section 13): the Noise IK
// handshake, sealed datagrams, key updates, and what forged, replayed or
// altered datagrams can and cannot do. endpoint_test.cc covers the protocol
// in the clear.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "srdx/endpoint.h"
#include "wire.h"

namespace srdx {
namespace {

constexpr Addr kA{0x0a000001, 7000};
constexpr Addr kB{0x0a000002, 7000};
constexpr Addr kC{0x0a000003, 7000};

[[maybe_unused]] uint64_t drops(const Endpoint& ep, DropReason r) {
  return ep.stats().drops[static_cast<size_t>(r)];
}

EndpointConfig config(uint64_t seed, Addr self) {
  EndpointConfig c;
  c.seed = seed;
  c.port = self.port;
  c.peer_timeout = Duration::millis(200);
  return c;
}

struct Datagram {
  char to;  // 'A', 'B' or 'C'
  Addr from;
  std::vector<uint8_t> bytes;
};

// Endpoints A and B (and optionally C) on a wire the test can watch, drop,
// alter, replay and inject into. Time moves by `step` per turn.
class Net {
 public:
  explicit Net(EndpointConfig a = config(1, kA), EndpointConfig b = config(2, kB)) : a(a), b(b) {}

  Endpoint a, b;
  Endpoint* c = nullptr;
  Time now = Time::zero();
  Duration step = Duration::micros(10);
  // Called for each datagram before delivery: false drops it; it may alter it.
  std::function<bool(Datagram&)> filter;
  std::vector<Datagram> seen;  // every datagram sent, as sent
  std::vector<std::string> got_a, got_b;
  std::vector<Event> events_a, events_b;

  Endpoint& ep(char n) { return n == 'A' ? a : n == 'B' ? b : *c; }
  Addr addr(char n) const { return n == 'A' ? kA : n == 'B' ? kB : kC; }
  char name_of(Addr x) const { return x == kA ? 'A' : x == kB ? 'B' : 'C'; }

  void inject(Datagram d) { queue_.push_back(std::move(d)); }

  void turn() {
    for (char n : {'A', 'B', 'C'}) {
      if (n == 'C' && !c) continue;
      Endpoint& e = ep(n);
      if (e.next_deadline() <= now) e.on_timer(now);
      std::vector<uint8_t> buf(9000);
      TxPath tx;
      while (size_t len = e.poll_transmit(buf, tx, now)) {
        Datagram d{name_of(tx.remote), addr(n), {buf.begin(), buf.begin() + len}};
        seen.push_back(d);
        queue_.push_back(std::move(d));
      }
    }
    std::deque<Datagram> q;
    q.swap(queue_);
    for (Datagram& d : q) {
      if (filter && !filter(d)) continue;
      if (d.to == 'C' && !c) continue;
      ep(d.to).on_packet(d.bytes, RxPath{d.from, 5000, 0}, now);
    }
    drain('A', got_a, events_a);
    drain('B', got_b, events_b);
    now = now + step;
  }
  void run(int turns) {
    for (int i = 0; i < turns; ++i) turn();
  }

 private:
  void drain(char n, std::vector<std::string>& got, std::vector<Event>& evs) {
    Event ev;
    while (ep(n).poll_event(ev)) {
      if (ev.type == EventType::message_received)
        got.emplace_back(reinterpret_cast<const char*>(ev.data.data()), ev.data.size());
      evs.push_back(ev);
    }
  }
  std::deque<Datagram> queue_;
};

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

[[maybe_unused]] size_t count(const std::vector<Event>& evs, EventType t) {
  size_t n = 0;
  for (const Event& e : evs) n += e.type == t;
  return n;
}

TEST(Encryption, HandshakeThenMessagesBothWays) {
  Net n;
  const PeerId b = n.a.add_peer(kB, n.b.public_key()).value;
  const PeerId a = n.b.add_peer(kA, n.a.public_key()).value;
  ASSERT_TRUE(n.a.send(b, bytes("hello B"), {}, n.now).ok());
  n.run(50);
  ASSERT_TRUE(n.b.send(a, bytes("hello A"), {}, n.now).ok());
  n.run(50);
  EXPECT_EQ(n.got_b, std::vector<std::string>{"hello B"});
  EXPECT_EQ(n.got_a, std::vector<std::string>{"hello A"});
  EXPECT_EQ(n.a.stats().handshakes_completed, 1u);
  EXPECT_EQ(n.b.stats().handshakes_completed, 1u);
  EXPECT_EQ(n.a.stats().total_drops() + n.b.stats().total_drops(), 0u);
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i)
    if (n.a.stats().drops[i] + n.b.stats().drops[i])
      ADD_FAILURE() << to_string(static_cast<DropReason>(i)) << ": A " << n.a.stats().drops[i]
                    << " B " << n.b.stats().drops[i];
}

}  // namespace
}  // namespace srdx
