// The encrypted connection (docs/protocol.md, section 13): the Noise IK
// handshake, sealed datagrams, key updates, and what forged, replayed or
// altered datagrams can and cannot do. endpoint_test.cc covers the protocol
// in the clear.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <new>
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

bool contains(const std::vector<uint8_t>& hay, const std::string& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// Both sides know each other: the usual set-up.
struct Pair : Net {
  explicit Pair(EndpointConfig ca = config(1, kA), EndpointConfig cb = config(2, kB))
      : Net(ca, cb) {
    ab = a.add_peer(kB, b.public_key()).value;
    ba = b.add_peer(kA, a.public_key()).value;
  }
  PeerId ab = kNoPeer, ba = kNoPeer;
};

TEST(Encryption, NoPlaintextOnTheWireAndAllOfItInTheClear) {
  const std::string secret = "PATIENT-RECORD-0123456789";
  for (bool enc : {true, false}) {
    EndpointConfig ca = config(1, kA), cb = config(2, kB);
    ca.encryption = cb.encryption = enc;
    Net n(ca, cb);
    const PeerId b = enc ? n.a.add_peer(kB, n.b.public_key()).value : n.a.add_peer(kB).value;
    ASSERT_NE(b, kNoPeer);
    ASSERT_TRUE(enc ? n.b.add_peer(kA, n.a.public_key()).ok() : n.b.add_peer(kA).ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(n.a.send(b, bytes(secret), {}, n.now).ok());
    n.run(100);
    ASSERT_EQ(n.got_b.size(), 20u) << "encryption " << enc;
    size_t plain = 0;
    for (const Datagram& d : n.seen) plain += contains(d.bytes, secret);
    if (enc) {
      EXPECT_EQ(plain, 0u);
      for (const Datagram& d : n.seen) {
        const uint8_t t = d.bytes[3];
        // Nothing in the clear but the handshake.
        EXPECT_TRUE(t == 1 || t == 2 || t == 5 || t == 7) << int(t);
      }
    } else {
      EXPECT_GE(plain, 20u);  // the control: the search finds clear text
    }
  }
}

TEST(Encryption, APeerWithTheWrongKeyIsRefusedAndCounted) {
  // A believes B's key is C's: its hello is sealed to a key B does not hold.
  {
    Net n;
    Endpoint c(config(3, kC));
    const PeerId b = n.a.add_peer(kB, c.public_key()).value;
    n.b.add_peer(kA, n.a.public_key());
    ASSERT_TRUE(n.a.send(b, bytes("x"), {}, n.now).ok());
    n.run(300);
    EXPECT_TRUE(n.got_b.empty());
    EXPECT_GT(drops(n.b, DropReason::bad_auth), 0u);
    EXPECT_EQ(count(n.events_a, EventType::peer_up) + count(n.events_b, EventType::peer_up), 0u);
    EXPECT_EQ(n.b.stats().handshakes_completed, 0u);
  }
  // B believes A's key is C's: A proves a key B does not trust.
  {
    Net n;
    Endpoint c(config(3, kC));
    const PeerId b = n.a.add_peer(kB, n.b.public_key()).value;
    n.b.add_peer(kA, c.public_key());
    ASSERT_TRUE(n.a.send(b, bytes("x"), {}, n.now).ok());
    n.run(300);
    EXPECT_TRUE(n.got_b.empty());
    EXPECT_GT(drops(n.b, DropReason::unknown_key), 0u);
    EXPECT_EQ(n.b.stats().handshakes_completed, 0u);
  }
}

TEST(Encryption, AStrangerIsAcceptedOnlyWithAnAllowedKey) {
  for (bool allowed : {false, true}) {
    Net n;
    const PeerId b = n.a.add_peer(kB, n.b.public_key()).value;
    if (allowed) n.b.allow_key(n.a.public_key());
    ASSERT_TRUE(n.a.send(b, bytes("knock"), {}, n.now).ok());
    n.run(100);
    if (allowed) {
      EXPECT_EQ(n.got_b, std::vector<std::string>{"knock"});
      EXPECT_EQ(n.b.peers().size(), 1u);
    } else {
      EXPECT_TRUE(n.got_b.empty());
      EXPECT_GT(drops(n.b, DropReason::unknown_key), 0u);
      EXPECT_TRUE(n.b.peers().empty()) << "no state for a key we do not know";
    }
  }
}

// A real clock is far past zero when a stranger connects. The accepted peer's
// idle time counts from its hello, not from time zero: it must not be
// forgotten as idle at the first timer.
TEST(Encryption, AStrangerAcceptedLateInTheDayIsNotReclaimedAtOnce) {
  Net n;
  n.now = Time::zero() + Duration::seconds(3600);
  const PeerId b = n.a.add_peer(kB, n.b.public_key()).value;
  n.b.allow_key(n.a.public_key());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(n.a.send(b, bytes("m" + std::to_string(i)), {}, n.now).ok());
    n.run(50);
  }
  EXPECT_EQ(n.got_b.size(), 5u);
  EXPECT_EQ(n.b.stats().peers_reclaimed, 0u);
  EXPECT_EQ(n.b.stats().peer_restarts, 0u);
  EXPECT_EQ(n.b.peers().size(), 1u);
}

TEST(Encryption, AlteredDatagramsAreDroppedAndTheRepairDelivers) {
  Pair n;
  // Flip one byte (a different one each time) of every third sealed
  // datagram A sends, in the header, the ciphertext or the tag.
  size_t k = 0, altered = 0;
  n.filter = [&](Datagram& d) {
    if (d.to != 'B' || d.bytes[3] != 7 || ++k % 3) return true;
    d.bytes[(k * 7) % d.bytes.size()] ^= 0x20;
    ++altered;
    return true;
  };
  std::vector<std::string> sent;
  for (int i = 0; i < 60; ++i) {
    sent.push_back("message " + std::to_string(i));
    ASSERT_TRUE(n.a.send(n.ab, bytes(sent.back()), {}, n.now).ok());
  }
  n.run(3000);
  std::vector<std::string> got = n.got_b;
  std::sort(got.begin(), got.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(got, sent);  // each exactly once, intact
  EXPECT_GT(altered, 10u);
  // Each altered datagram is refused: its tag (or, with the header altered,
  // its connection id, counter or phase) does not check.
  const EndpointStats& st = n.b.stats();
  EXPECT_GE(st.drops[size_t(DropReason::bad_auth)] +
                st.drops[size_t(DropReason::wrong_connection)] +
                st.drops[size_t(DropReason::bad_version)] + st.drops[size_t(DropReason::bad_type)] +
                st.drops[size_t(DropReason::bad_field)] + st.drops[size_t(DropReason::replay)] +
                st.drops[size_t(DropReason::unknown_peer)] +
                st.drops[size_t(DropReason::unauthenticated)],
            altered);
  EXPECT_EQ(count(n.events_a, EventType::send_completed), 60u);
  EXPECT_EQ(count(n.events_a, EventType::peer_down), 0u);
}

TEST(Encryption, ReplayedDatagramsDeliverNothingTwice) {
  Pair n;
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(n.a.send(n.ab, bytes("m" + std::to_string(i)), {}, n.now).ok());
  n.run(200);
  ASSERT_EQ(n.got_b.size(), 30u);
  // Everything A ever sent to B, again, twice.
  std::vector<Datagram> again;
  for (const Datagram& d : n.seen)
    if (d.to == 'B' && d.bytes[3] == 7) again.push_back(d);
  ASSERT_GT(again.size(), 10u);
  for (int r = 0; r < 2; ++r)
    for (const Datagram& d : again) n.inject(d);
  const uint64_t before = n.b.stats().messages_received;
  n.run(50);
  EXPECT_EQ(n.b.stats().messages_received, before);
  EXPECT_EQ(n.got_b.size(), 30u);
  EXPECT_EQ(drops(n.b, DropReason::replay), 2 * again.size());
  // And the connection carries on.
  ASSERT_TRUE(n.a.send(n.ab, bytes("after"), {}, n.now).ok());
  n.run(100);
  EXPECT_EQ(n.got_b.back(), "after");
}

TEST(Encryption, KeysUpdateUnderLoadWithNothingLost) {
  EndpointConfig ca = config(1, kA), cb = config(2, kB);
  ca.rekey_packets = cb.rekey_packets = 64;
  Pair n(ca, cb);
  std::vector<std::string> sent;
  int next = 0;
  for (int turn = 0; turn < 4000; ++turn) {
    while (next < 3000 && n.a.send(n.ab, bytes("load " + std::to_string(next)), {}, n.now).ok()) {
      ++next;
      if (next % 2 == 0) n.b.send(n.ba, bytes("back " + std::to_string(next)), {}, n.now);
    }
    n.turn();
  }
  EXPECT_EQ(next, 3000);
  EXPECT_EQ(n.got_b.size(), 3000u);
  EXPECT_EQ(n.got_a.size(), 1500u);
  EXPECT_GT(n.a.stats().key_updates, 10u);
  EXPECT_GT(n.b.stats().key_updates, 5u);
  EXPECT_EQ(n.a.stats().total_drops() + n.b.stats().total_drops(), 0u);
  EXPECT_EQ(count(n.events_a, EventType::send_failed), 0u);
}

TEST(Encryption, KeysUpdateByTimeAlone) {
  EndpointConfig ca = config(1, kA), cb = config(2, kB);
  ca.rekey_interval = cb.rekey_interval = Duration::millis(1);
  Pair n(ca, cb);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(n.a.send(n.ab, bytes("t" + std::to_string(i)), {}, n.now).ok());
    n.run(30);  // 300 us apart
  }
  n.run(100);
  EXPECT_EQ(n.got_b.size(), 50u);
  EXPECT_GE(n.a.stats().key_updates, 3u);
  EXPECT_EQ(n.b.stats().total_drops(), 0u);
}

TEST(Encryption, ARestartedPeerReplacesTheConnectionAtOnce) {
  Pair n;
  ASSERT_TRUE(n.a.send(n.ab, bytes("before"), {}, n.now).ok());
  n.run(50);
  ASSERT_EQ(n.got_b.size(), 1u);
  // B restarts (same key, as an appliance keeps its key file) and knows A.
  n.b.~Endpoint();
  new (&n.b) Endpoint(config(2, kB));
  n.b.add_peer(kA, n.a.public_key());
  // A's next message goes to the old connection; B answers with a handshake
  // of its own, A takes it as B's new incarnation, and A's message fails
  // (not silently lost); the next one gets through.
  ASSERT_TRUE(n.a.send(n.ab, bytes("lost with the old connection"), {}, n.now).ok());
  n.run(100);
  EXPECT_EQ(count(n.events_a, EventType::send_failed), 1u);
  EXPECT_EQ(n.a.stats().peer_restarts, 1u);
  ASSERT_TRUE(n.a.send(n.ab, bytes("after"), {}, n.now).ok());
  n.run(100);
  EXPECT_EQ(n.got_b.back(), "after");
}

TEST(Encryption, AReplayedOldHelloBreaksNothing) {
  // A's key file outlives its restart; its seed (and so its ids) does not.
  EndpointConfig ca = config(1, kA);
  ca.static_key = generate_private_key();
  Pair n(ca);
  ASSERT_TRUE(n.a.send(n.ab, bytes("one"), {}, n.now).ok());
  n.run(50);
  std::vector<Datagram> hellos;
  for (const Datagram& d : n.seen)
    if (d.to == 'B' && d.bytes[3] == 1) hellos.push_back(d);
  ASSERT_FALSE(hellos.empty());
  // A restarts: its new connection replaces the first at B.
  n.a.~Endpoint();
  ca.seed = 7;
  new (&n.a) Endpoint(ca);
  n.ab = n.a.add_peer(kB, n.b.public_key()).value;
  ASSERT_TRUE(n.a.send(n.ab, bytes("two"), {}, n.now).ok());
  n.run(2000);
  ASSERT_EQ(n.got_b.back(), "two");
  const uint64_t restarts = n.b.stats().peer_restarts;
  // The first incarnation's hellos, replayed (an attacker recorded them):
  // B answers (it cannot tell), but nothing comes of it.
  for (const Datagram& d : hellos) n.inject(d);
  n.run(5);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(n.a.send(n.ab, bytes("three"), {}, n.now).ok());
  n.run(30000);  // past the pending connection's expiry
  EXPECT_EQ(n.got_b.size(), 22u);
  EXPECT_EQ(n.b.stats().peer_restarts, restarts);
  EXPECT_EQ(count(n.events_a, EventType::send_failed), 0u);
  EXPECT_EQ(count(n.events_b, EventType::peer_down), 1u);  // the first restart only
}

TEST(Encryption, BothSidesOpeningAtOnceMakeOneConnection) {
  Pair n;
  ASSERT_TRUE(n.a.send(n.ab, bytes("from A"), {}, n.now).ok());
  ASSERT_TRUE(n.b.send(n.ba, bytes("from B"), {}, n.now).ok());
  n.run(200);
  EXPECT_EQ(n.got_b, std::vector<std::string>{"from A"});
  EXPECT_EQ(n.got_a, std::vector<std::string>{"from B"});
  EXPECT_EQ(n.a.stats().handshakes_completed, 1u);
  EXPECT_EQ(n.b.stats().handshakes_completed, 1u);
  EXPECT_EQ(count(n.events_a, EventType::peer_up), 1u);
  EXPECT_EQ(count(n.events_b, EventType::peer_up), 1u);
}

TEST(Encryption, AForgedAnswerDoesNotSpoilTheHandshake) {
  Pair n;
  // Every hello A sends draws, before B's real answer, a forged hello_ack
  // naming A's id with a made-up Noise message.
  n.filter = [&](Datagram& d) {
    if (d.to == 'B' && d.bytes[3] == 1) {
      wire::Packet p;
      if (wire::decode(d.bytes, p) != wire::DecodeError::ok) return true;
      wire::Common c;
      c.type = wire::Type::hello_ack;
      c.src_port = kB.port;
      c.src_cid = 0x1234;
      wire::Hello h = p.hello;
      h.dst_cid = p.common.src_cid;
      std::fill_n(h.cookie, wire::kCookieSize, 0);
      std::vector<uint8_t> noise(wire::kNoise2Size, 0x77);
      h.noise = noise;
      std::vector<uint8_t> out(256);
      out.resize(wire::encode_hello(out, c, h));
      n.a.on_packet(out, RxPath{kB, 1, 0}, n.now);
    }
    return true;
  };
  ASSERT_TRUE(n.a.send(n.ab, bytes("through"), {}, n.now).ok());
  n.run(200);
  EXPECT_EQ(n.got_b, std::vector<std::string>{"through"});
  EXPECT_GT(drops(n.a, DropReason::bad_auth), 0u);
  EXPECT_EQ(n.a.stats().handshakes_completed, 1u);
}

TEST(Encryption, AnEncryptingAndAClearEndpointNeverConnect) {
  EndpointConfig cb = config(2, kB);
  cb.encryption = false;
  Net n(config(1, kA), cb);
  const PeerId b = n.a.add_peer(kB, n.b.public_key()).value;
  n.b.add_peer(kA);
  ASSERT_TRUE(n.a.send(b, bytes("x"), {}, n.now).ok());
  n.run(300);
  EXPECT_TRUE(n.got_b.empty());
  EXPECT_EQ(count(n.events_a, EventType::peer_up), 0u);
  EXPECT_GT(drops(n.a, DropReason::unauthenticated), 0u);
}

TEST(Encryption, AddPeerWithoutAKeyIsRefused) {
  Endpoint e(config(1, kA));
  EXPECT_EQ(e.add_peer(kB).err, Errc::invalid_argument);
  EXPECT_EQ(e.add_peer(kB, PublicKey{}).err, Errc::invalid_argument);
  Endpoint other(config(2, kB));
  EXPECT_TRUE(e.add_peer(kB, other.public_key()).ok());
}

}  // namespace
}  // namespace srdx

namespace srdx {
namespace {

// A clear packet's checksum made right again, as anyone on the path can.
void fix_checksum(std::vector<uint8_t>& b) {
  const uint32_t c = wire::crc32c_hole(b, 8);
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<uint8_t>(c >> (24 - 8 * i));
}
uint64_t get_u64(const std::vector<uint8_t>& b, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[off + i];
  return v;
}
// One with a field changed.
void set_u64_and_fix(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  fix_checksum(b);
}

bool cookieless_hello(const Datagram& d) {
  if (d.bytes.size() < 80 || d.bytes[3] != 1) return false;
  return std::all_of(d.bytes.begin() + 64, d.bytes.begin() + 80, [](uint8_t x) { return x == 0; });
}

// An attacker on the path sends, just before each of A's hellos, a
// cookie-less hello of its own from A's address. Both are answered with a
// retry (retries are not limited per peer: they cost the responder a hash
// and are smaller than the hello), so A's handshake completes.
TEST(Encryption, ForgedHellosDoNotStarveTheRetryOfARealOne) {
  Pair n;
  uint64_t forged = 0;
  n.filter = [&](Datagram& d) {
    if (d.to == 'B' && cookieless_hello(d)) {
      std::vector<uint8_t> f = d.bytes;
      set_u64_and_fix(f, 16, 0x5eed0000 + ++forged);  // another src_cid
      n.b.on_packet(f, RxPath{kA, 5000, 0}, n.now);
    }
    return true;
  };
  ASSERT_TRUE(n.a.send(n.ab, bytes("through"), {}, n.now).ok());
  n.run(2000);
  EXPECT_GT(forged, 0u);
  EXPECT_EQ(n.got_b, std::vector<std::string>{"through"});
  EXPECT_EQ(count(n.events_a, EventType::send_failed), 0u);
  EXPECT_GE(n.b.stats().retries_sent, 2u);  // the forged hello's and the real one's
}

// An old hello of A (a connection long over) sent again by an attacker
// with a fresh cookie (it got one by sending the hello without: the retry
// goes to A's address, where it sees it) while A opens a new connection:
// the responder takes it for a replay (it remembers the hello ids of the
// key) and the new connection is not disturbed.
TEST(Encryption, AnOldHelloWithAFreshCookieDoesNotDisturbANewConnection) {
  Pair n;
  ASSERT_TRUE(n.a.send(n.ab, bytes("one"), {}, n.now).ok());
  n.run(50);
  ASSERT_EQ(n.got_b.size(), 1u);
  std::vector<Datagram> old;
  for (const Datagram& d : n.seen)
    if (d.to == 'B' && d.bytes[3] == 1) old.push_back(d);
  ASSERT_FALSE(old.empty());
  const Datagram hello = old.back();  // with the cookie it was accepted with
  // The connection ends (A removes B and adds it again: a new connection).
  ASSERT_EQ(n.a.remove_peer(n.ab, n.now), Errc::ok);
  n.run(20);
  n.ab = n.a.add_peer(kB, n.b.public_key()).value;
  ASSERT_TRUE(n.a.send(n.ab, bytes("two"), {}, n.now).ok());
  // The attacker sends the old hello without its cookie along with A's new
  // one, takes the fresh cookie from the retry B sends to A's address for
  // it, and replays the old hello with that cookie whenever B answers A.
  const uint64_t old_cid = get_u64(hello.bytes, 16);
  std::vector<uint8_t> fresh;
  bool asked = false;
  uint64_t replayed = 0;
  n.filter = [&](Datagram& d) {
    if (d.to == 'B' && d.bytes[3] == 1 && !asked) {
      asked = true;
      std::vector<uint8_t> ask = hello.bytes;
      std::fill(ask.begin() + 64, ask.begin() + 80, 0);
      fix_checksum(ask);
      n.b.on_packet(ask, RxPath{kA, 5000, 0}, n.now);
    }
    if (d.to == 'A' && d.bytes[3] == 5 && get_u64(d.bytes, 24) == old_cid) {
      fresh = hello.bytes;
      std::copy(d.bytes.begin() + 32, d.bytes.begin() + 48, fresh.begin() + 64);
      fix_checksum(fresh);
      return false;
    }
    if (d.to == 'A' && d.bytes[3] == 2 && !fresh.empty()) {
      // B's answer to A's new hello is on its way: the replay reaches B first.
      ++replayed;
      n.b.on_packet(fresh, RxPath{kA, 5000, 0}, n.now);
    }
    return true;
  };
  n.run(3000);
  EXPECT_GT(replayed, 0u);
  EXPECT_EQ(n.got_b.back(), "two");
  EXPECT_EQ(count(n.events_a, EventType::send_failed), 0u);
  EXPECT_GT(drops(n.b, DropReason::replay), 0u);
}

}  // namespace
}  // namespace srdx
