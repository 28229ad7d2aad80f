// Many peers on one endpoint (issue 11, Scale): a hub endpoint with 1000
// peers, each a leaf endpoint of its own, on a lossless star with a fixed
// one-way delay. The hub finds its due timers in a heap and its senders in a
// list, not by visiting every peer; these tests check that every peer's
// timers still fire wherever it sits in the table (a hello retry, an RTO, a
// message deadline, an idle reclaim), and that a peer gives its rings back
// when it goes quiet after traffic. Simulated time only: the harness jumps
// to the next deadline. In debug builds the hub also checks its schedule
// against a scan of its table at every next_deadline().
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "srdx/endpoint.h"
#include "wire.h"

namespace srdx {
namespace {

using namespace srdx::literals;

constexpr Addr kHub{0x0a000001, 1000};
constexpr Duration kDelay = 5_us;
constexpr size_t kLeaves = 1000;

Addr leaf_addr(size_t i) { return Addr{0x0b000000u + static_cast<uint32_t>(i), 2000}; }

EndpointConfig config(uint64_t seed) {
  EndpointConfig c;
  c.seed = seed;
  c.encryption = false;  // the harness reads the packets
  c.max_peers = kLeaves + 1;
  // Rings a tenth of the defaults' (about 60 KiB a peer with traffic), so
  // 2 x 1000 busy peers fit a test machine; their size changes nothing here.
  c.max_inflight_packets = 256;
  c.max_outstanding_msgs = 64;
  c.recv_msg_window = 256;
  return c;
}

// What went to one leaf, by kind.
struct Tally {
  size_t hellos = 0, data = 0, retx = 0, packets = 0;
};

class Star {
 public:
  explicit Star(EndpointConfig hub_cfg = config(1)) : hub_(hub_cfg), tally_(kLeaves) {
    for (size_t i = 0; i < kLeaves; ++i)
      leaves_.push_back(std::make_unique<Endpoint>(config(100 + i)));
    ids_.assign(kLeaves, kNoPeer);
  }

  Endpoint& hub() { return hub_; }
  Endpoint& leaf(size_t i) { return *leaves_[i]; }
  Time now() const { return now_; }
  const Tally& to_leaf(size_t i) const { return tally_[i]; }
  size_t hub_packets() const { return hub_packets_; }

  // The hub adds every leaf as a peer.
  void add_all() {
    for (size_t i = 0; i < kLeaves; ++i) {
      auto r = hub_.add_peer(leaf_addr(i));
      ASSERT_TRUE(r.ok());
      ids_[i] = r.value;
    }
  }
  PeerId id(size_t i) const { return ids_[i]; }

  Result<MsgId> hub_send(size_t i, size_t len, SendOptions o = {}) {
    std::vector<uint8_t> b(len, static_cast<uint8_t>(i));
    return hub_.send(ids_[i], b, o, now_);
  }
  Result<MsgId> leaf_send(size_t i, size_t len) {
    PeerId p = leaf(i).find_peer(kHub);
    if (p == kNoPeer) p = leaf(i).add_peer(kHub).value;
    std::vector<uint8_t> b(len, static_cast<uint8_t>(i));
    return leaf(i).send(p, b, SendOptions{}, now_);
  }

  // Drops what the hub sends to leaf i when it says so (packets to the leaf
  // decoded, in order).
  std::function<bool(size_t leaf, const wire::Packet& pkt)> drop_to_leaf;

  struct HubEvent {
    Time t;
    Event ev;
  };
  std::vector<HubEvent> hub_events;
  size_t leaf_received = 0;

  void run_until(Time end) {
    int stalls = 0;
    while (true) {
      pump();
      Time next = hub_.next_deadline();
      for (auto& l : leaves_) next = min(next, l->next_deadline());
      if (!flights_.empty()) next = min(next, flights_.begin()->first);
      if (next > end) break;
      if (next <= now_) {
        if (++stalls > 10000) {
          ADD_FAILURE() << "next_deadline() stays at or before now=" << now_.ns() << "ns";
          break;
        }
      } else {
        stalls = 0;
        now_ = next;
      }
      while (!flights_.empty() && flights_.begin()->first <= now_) {
        Flight f = std::move(flights_.begin()->second);
        flights_.erase(flights_.begin());
        Endpoint& to = f.to_hub ? hub_ : leaf(f.leaf);
        to.on_packet(f.bytes, RxPath{f.to_hub ? leaf_addr(f.leaf) : kHub, f.entropy, 0}, now_);
      }
      if (hub_.next_deadline() <= now_) hub_.on_timer(now_);
      for (auto& l : leaves_)
        if (l->next_deadline() <= now_) l->on_timer(now_);
    }
    now_ = max(now_, end);
    pump();
  }
  void run_for(Duration d) { run_until(now_ + d); }

 private:
  struct Flight {
    bool to_hub = false;
    size_t leaf = 0;
    uint16_t entropy = 0;
    std::vector<uint8_t> bytes;
  };

  size_t leaf_of(Addr a) const {
    const uint32_t i = a.ip - 0x0b000000u;
    return i < kLeaves && a.port == 2000 ? i : kLeaves;
  }

  void pump() {
    uint8_t buf[tuning::kMaxMtu];
    TxPath tx;
    bool moved = true;
    while (moved) {
      moved = false;
      while (size_t n = hub_.poll_transmit(buf, tx, now_)) {
        moved = true;
        ++hub_packets_;
        const size_t i = leaf_of(tx.remote);
        if (i == kLeaves) {
          ADD_FAILURE() << "hub sent to an unknown address";
          continue;
        }
        wire::Packet p1, p2;
        size_t count = 0;
        ASSERT_EQ(wire::decode_datagram({buf, n}, p1, p2, count), wire::DecodeError::ok);
        const wire::Packet& p = count == 2 ? p2 : p1;
        Tally& t = tally_[i];
        ++t.packets;
        if (p.common.type == wire::Type::hello) ++t.hellos;
        if (p.common.type == wire::Type::data) {
          ++t.data;
          if (p.common.flags & wire::flag::kRetransmission) ++t.retx;
        }
        if (drop_to_leaf && drop_to_leaf(i, p)) continue;
        flights_.emplace(now_ + kDelay, Flight{false, i, tx.entropy, {buf, buf + n}});
      }
      for (size_t i = 0; i < kLeaves; ++i) {
        Endpoint& l = leaf(i);
        while (size_t n = l.poll_transmit(buf, tx, now_)) {
          moved = true;
          flights_.emplace(now_ + kDelay, Flight{true, i, tx.entropy, {buf, buf + n}});
        }
        Event ev;
        while (l.poll_event(ev))
          if (ev.type == EventType::message_received) ++leaf_received;
      }
      Event ev;
      while (hub_.poll_event(ev)) {
        moved = true;
        hub_events.push_back({now_, ev});
      }
    }
  }

  Endpoint hub_;
  std::vector<std::unique_ptr<Endpoint>> leaves_;
  std::vector<PeerId> ids_;
  std::vector<Tally> tally_;
  std::multimap<Time, Flight> flights_;
  Time now_ = Time::zero();
  size_t hub_packets_ = 0;
};

// The hub's message events for leaf i's peer.
std::vector<Star::HubEvent> events_of(const Star& s, PeerId peer, EventType t) {
  std::vector<Star::HubEvent> v;
  for (const auto& e : s.hub_events)
    if (e.ev.peer == peer && e.ev.type == t) v.push_back(e);
  return v;
}

// Four kinds of peer, interleaved over the table (leaf i is kind i % 4), all
// started at once: a dead one (hello retries until peer_timeout), one whose
// first data packet is lost (an RTO repairs it), one whose data all goes
// missing (its message deadline fails it), and a healthy one.
TEST(Scale, EveryPeersTimersFire) {
  Star s;
  s.add_all();
  s.drop_to_leaf = [](size_t i, const wire::Packet& p) {
    switch (i % 4) {
      case 0:
        return true;  // dead
      case 1:
        return p.common.type == wire::Type::data && p.data.pn == 0 &&
               !(p.common.flags & wire::flag::kRetransmission);
      case 2:
        return p.common.type == wire::Type::data;
      default:
        return false;
    }
  };
  const Duration short_timeout = 5_ms;
  for (size_t i = 0; i < kLeaves; ++i) {
    SendOptions o;
    if (i % 4 == 2) o.timeout = short_timeout;
    ASSERT_TRUE(s.hub_send(i, 100, o).ok()) << i;
  }
  s.run_for(1_s);

  const Duration peer_timeout = s.hub().config().peer_timeout;
  for (size_t i = 0; i < kLeaves; ++i) {
    SCOPED_TRACE("leaf " + std::to_string(i));
    const auto done = events_of(s, s.id(i), EventType::send_completed);
    const auto failed = events_of(s, s.id(i), EventType::send_failed);
    const Tally& t = s.to_leaf(i);
    switch (i % 4) {
      case 0:
        // Retries at 1, 2, 4, ... ms, up to peer_timeout / 4 apart.
        EXPECT_GE(t.hellos, 7u);
        ASSERT_EQ(failed.size(), 1u);
        EXPECT_EQ(failed[0].ev.reason, FailReason::peer_unreachable);
        EXPECT_GT(failed[0].t, Time::zero() + peer_timeout);
        EXPECT_LT(failed[0].t, Time::zero() + peer_timeout + 1_ms);
        break;
      case 1:
        EXPECT_GE(t.retx, 1u);
        EXPECT_EQ(done.size(), 1u);
        EXPECT_TRUE(failed.empty());
        break;
      case 2:
        EXPECT_GE(t.retx, 1u);  // the RTO fired before the deadline
        ASSERT_EQ(failed.size(), 1u);
        EXPECT_EQ(failed[0].ev.reason, FailReason::timeout);
        EXPECT_GE(failed[0].t, Time::zero() + short_timeout);
        EXPECT_LT(failed[0].t, Time::zero() + short_timeout + 1_ms);
        break;
      default:
        EXPECT_EQ(t.retx, 0u);
        EXPECT_EQ(done.size(), 1u);
        EXPECT_TRUE(failed.empty());
        break;
    }
  }
  EXPECT_EQ(s.leaf_received, kLeaves / 2);  // kinds 1 and 3
}

// Leaves that connect to the hub (accepted, not added) and go quiet are
// forgotten after idle_timeout, every one of them.
TEST(Scale, AcceptedIdlePeersAreReclaimed) {
  EndpointConfig cfg = config(1);
  cfg.idle_timeout = 2_s;
  Star s(cfg);
  // 50 new leaves per millisecond: a thousand hellos at once would overflow
  // the hub's stateless queue (64 retries), as a storm of strangers should.
  for (size_t i = 0; i < kLeaves; ++i) {
    ASSERT_TRUE(s.leaf_send(i, 64).ok());
    if (i % 50 == 49) s.run_for(1_ms);
  }
  s.run_for(10_ms);
  ASSERT_EQ(s.hub().peers().size(), kLeaves);
  ASSERT_EQ(s.leaf_received, 0u);
  Time first = Time::infinite(), last = Time::zero();
  size_t received = 0;
  for (const auto& e : s.hub_events) {
    if (e.ev.type != EventType::message_received) continue;
    ++received;
    first = min(first, e.t);
    last = max(last, e.t);
  }
  ASSERT_EQ(received, kLeaves);
  // Each goes idle_timeout after it was last heard (its last packet came
  // after its message: the final ACK at most).
  s.run_until(first + cfg.idle_timeout - 1_us);
  EXPECT_EQ(s.hub().peers().size(), kLeaves);
  EXPECT_EQ(s.hub().stats().peers_reclaimed, 0u);
  s.run_until(last + cfg.idle_timeout + 1_ms);
  EXPECT_TRUE(s.hub().peers().empty());
  EXPECT_EQ(s.hub().stats().peers_reclaimed, kLeaves);
  EXPECT_TRUE(s.hub().next_deadline().is_infinite());
  size_t idle_downs = 0;
  for (const auto& e : s.hub_events)
    idle_downs += e.ev.type == EventType::peer_down && e.ev.reason == FailReason::idle;
  EXPECT_EQ(idle_downs, kLeaves);
}

// Traffic both ways allocates every peer's rings; quiet for
// tuning::kRingIdleRelease gives them back, with no packet and no timer
// left for the idle peers; the next message allocates them again.
TEST(Scale, QuietPeersGiveTheirRingsBack) {
  Star s;
  s.add_all();
  const size_t before = s.hub().memory_bytes();
  for (size_t i = 0; i < kLeaves; ++i) {
    ASSERT_TRUE(s.hub_send(i, 3000).ok());  // three fragments
    ASSERT_TRUE(s.leaf_send(i, 3000).ok());
  }
  s.run_for(20_ms);
  ASSERT_EQ(events_of(s, s.id(0), EventType::send_completed).size(), 1u);
  size_t completed = 0, received = 0;
  for (const auto& e : s.hub_events) {
    completed += e.ev.type == EventType::send_completed;
    received += e.ev.type == EventType::message_received;
  }
  ASSERT_EQ(completed, kLeaves);
  ASSERT_EQ(received, kLeaves);
  const size_t busy = s.hub().memory_bytes();
  // Send queue, sent packets, reassembly and ACK bitmap of every peer.
  EXPECT_GT(busy - before, kLeaves * (32u << 10));

  const size_t packets = s.hub_packets();
  s.run_for(tuning::kRingIdleRelease + 10_ms);
  const size_t idle = s.hub().memory_bytes();
  EXPECT_LE(idle, before + kLeaves * 64) << "per peer: " << (idle - before) / kLeaves;
  EXPECT_LE(idle / kLeaves, 16u << 10);
  // Idle established peers cost no packets and no timer work.
  EXPECT_EQ(s.hub_packets(), packets);
  EXPECT_TRUE(s.hub().next_deadline().is_infinite());
  for (size_t i = 0; i < kLeaves; ++i) {
    PeerStats ps;
    ASSERT_TRUE(s.hub().peer_stats(s.id(i), ps));
    EXPECT_TRUE(ps.up);
  }

  // The rings come back with the next message, on the same connections.
  const size_t events = s.hub_events.size();
  for (size_t i = 0; i < kLeaves; i += 7) {
    ASSERT_TRUE(s.hub_send(i, 3000).ok());
    ASSERT_TRUE(s.leaf_send(i, 3000).ok());
  }
  s.run_for(20_ms);
  completed = received = 0;
  for (size_t k = events; k < s.hub_events.size(); ++k) {
    const Event& ev = s.hub_events[k].ev;
    completed += ev.type == EventType::send_completed;
    received += ev.type == EventType::message_received;
    EXPECT_NE(ev.type, EventType::send_failed);
    EXPECT_NE(ev.type, EventType::peer_down);
  }
  EXPECT_EQ(completed, (kLeaves + 6) / 7);
  EXPECT_EQ(received, (kLeaves + 6) / 7);
}

}  // namespace
}  // namespace srdx
