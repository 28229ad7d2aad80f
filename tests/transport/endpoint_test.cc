// Two endpoints on a lossless link with a fixed one-way delay of 5us. The
// harness (Wire2) decodes every packet into one line of a log ("A>B data pn=0
// msg=0 frag=0/1"), drops the packets a test asks it to drop, and drives both
// endpoints through their public API with literal times. Faults come from
// the harness only; the engine runs unmodified.
#include "srdx/endpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "wire.h"

namespace srdx {

// Readable times in assertion failures.
void PrintTo(const Time& t, std::ostream* os) { *os << t.ns() << "ns"; }
void PrintTo(const Duration& d, std::ostream* os) { *os << d.ns() << "ns"; }

namespace {

using namespace srdx::literals;

constexpr Addr kAddrA{0x0a000001, 1000};
constexpr Addr kAddrB{0x0a000002, 2000};
constexpr Addr kAddrC{0x0a000003, 3000};
constexpr Duration kDelay = 5_us;
constexpr uint64_t kMaxMessage = 100000;  // 72 fragments of 1400 bytes

Time at(Duration d) { return Time::zero() + d; }

std::string us(Time t) {
  char b[32];
  if (t.ns() % 1000 == 0) {
    std::snprintf(b, sizeof b, "%lldus", static_cast<long long>(t.ns() / 1000));
  } else {
    std::snprintf(b, sizeof b, "%.3fus", static_cast<double>(t.ns()) / 1e3);
  }
  return b;
}

std::string describe(const wire::Packet& p) {
  using wire::Type;
  const uint16_t f = p.common.flags;
  switch (p.common.type) {
    case Type::hello:
      return p.hello.cookie[0] | p.hello.cookie[1] | p.hello.cookie[2] ? "hello cookie" : "hello";
    case Type::hello_ack:
      return "hello_ack";
    case Type::retry:
      return "retry";
    case Type::sealed:
      return "sealed";
    case Type::close: {
      static const char* const kWhy[] = {"?",       "no_connection", "removed",
                                         "timeout", "idle",          "replaced"};
      return std::string("close ") + (p.close.reason <= 5 ? kWhy[p.close.reason] : "?");
    }
    case Type::data: {
      const wire::Data& d = p.data;
      const uint32_t nfrags =
          d.msg_len == 0
              ? 1
              : static_cast<uint32_t>((uint64_t{d.msg_len} + d.frag_size - 1) / d.frag_size);
      std::string s = "data pn=" + std::to_string(d.pn) + " msg=" + std::to_string(d.msg_id) +
                      " frag=" + std::to_string(d.frag_index) + "/" + std::to_string(nfrags);
      if (f & wire::flag::kOrdered) s += " ordered";
      if (f & wire::flag::kRetransmission) s += " retx";
      return s;
    }
    case Type::ack: {
      const wire::Ack& a = p.ack;
      std::string s = "ack largest=" + std::to_string(a.largest_pn) +
                      " ranges=" + std::to_string(a.range_count);
      if (a.msg_floor) s += " floor=" + std::to_string(a.msg_floor);
      return s;
    }
  }
  return "?";
}

// One packet an endpoint sent, as the log shows it.
struct Sent {
  size_t index = 0;  // 0, 1, 2, ... over both directions
  Time t;
  char from = '?', to = '?';
  std::string line;  // "A>B data pn=0 msg=0 frag=0/1"
  uint16_t entropy = 0;
  bool dropped = false;
  wire::Packet pkt;  // decoded; pkt.data.payload is not valid
  // A coalesced datagram: `ack` is the ACK in front, `pkt` the data after it.
  bool coalesced = false;
  wire::Packet ack;
  std::vector<uint8_t> bytes;

  bool is(wire::Type t) const {
    return pkt.common.type == t || (coalesced && t == wire::Type::ack);
  }
  bool is_data() const { return is(wire::Type::data); }
  bool retx() const { return is_data() && (pkt.common.flags & wire::flag::kRetransmission); }
};

// One event, as the application saw it.
struct Got {
  Time t;
  Event ev;  // ev.data is not valid; see `data`
  std::string data;
  std::string line;  // "recv msg=0 len=2"
};

// Nothing left to do but one-shot timers of a quiet peer: giving its rings
// back after tuning::kRingIdleRelease and, for a peer that was accepted
// rather than added, forgetting it once it has been idle for idle_timeout.
::testing::AssertionResult quiet(const Endpoint& ep, Time now) {
  const Time d = ep.next_deadline();
  if (d.is_infinite() || d - now > min(ep.config().idle_timeout, tuning::kRingIdleRelease) / 2)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a timer is due in " << (d - now).ns() << "ns";
}

class Wire2 {
 public:
  static EndpointConfig config(uint64_t seed) {
    EndpointConfig c;
    c.seed = seed;
    // The protocol in the clear, so the tests can read and forge packets;
    // encryption_test.cc covers the sealed connection.
    c.encryption = false;
    c.max_message_size = kMaxMessage;
    return c;
  }

  explicit Wire2(EndpointConfig a = config(1), EndpointConfig b = config(2))
      : a_(std::make_unique<Endpoint>(a)), b_(std::make_unique<Endpoint>(b)) {
    b_of_a_ = a_->add_peer(kAddrB).value;
  }

  Endpoint& A() { return *a_; }
  Endpoint& B() { return *b_; }
  PeerId peer_b() const { return b_of_a_; }  // A's id for B
  Time now() const { return now_; }

  Result<MsgId> send_a(std::string_view s, SendOptions o = {}) {
    return a_->send(b_of_a_, bytes(s), o, now_);
  }
  Result<MsgId> send_b(std::string_view s, SendOptions o = {}) {
    PeerId id = b_->find_peer(kAddrA);
    if (id == kNoPeer) id = b_->add_peer(kAddrA).value;
    return b_->send(id, bytes(s), o, now_);
  }

  // B restarts: a new incarnation (larger epoch) at the same address.
  void restart_b(const EndpointConfig& cfg) { b_ = std::make_unique<Endpoint>(cfg); }
  // A forgets B and adds it again, as srdxd's SIGHUP reload does.
  void readd_b() {
    ASSERT_EQ(a_->remove_peer(b_of_a_, now_), Errc::ok);
    pump();
    b_of_a_ = a_->add_peer(kAddrB).value;
  }

  // ---- faults ---------------------------------------------------------------
  void drop_nth(size_t index) { drop_index_.insert(index); }
  void drop_if(std::function<bool(const Sent&)> pred) { drop_preds_.push_back(std::move(pred)); }
  void stop_dropping() {
    drop_index_.clear();
    drop_preds_.clear();
  }
  // Delivers `bytes` to `to` ('A' or 'B') at `when`, as if sent from `from`.
  void inject(char to, std::vector<uint8_t> bytes_, Addr from, Time when, uint16_t entropy = 7) {
    flights_.emplace(std::make_pair(when, seq_++), Flight{to, from, entropy, std::move(bytes_)});
  }

  // A packet that reaches a host waits this long before its endpoint
  // handles it (a sleeping or busy poll loop); with stamp_arrival the
  // endpoint is told when it arrived (RxPath::arrival), as the udp link does.
  std::function<Duration(char to)> host_wait;
  bool stamp_arrival = true;

  // ---- the application side -------------------------------------------------
  bool polling_a = true, polling_b = true;
  // Called for every event as the application reads it (it may send). With
  // events_first, the harness reads events before it polls for packets, as
  // the real poll loop does, so what a handler sends leaves at once.
  std::function<void(char side, const Got& g)> on_event;
  bool events_first = false;
  std::vector<Got> events_a, events_b;
  std::vector<Sent> log;

  // ---- time ----------------------------------------------------------------
  void run_until(Time end) {
    int stalls = 0;
    while (true) {
      pump();
      Time next = min(a_->next_deadline(), b_->next_deadline());
      if (!flights_.empty()) next = min(next, flights_.begin()->first.first);
      if (next > end) break;
      if (next <= now_) {
        if (++stalls > 10000) {
          ADD_FAILURE() << "ENGINE: next_deadline() stays at or before now=" << us(now_) << " (A "
                        << a_->next_deadline().ns() << ", B " << b_->next_deadline().ns() << ")";
          break;
        }
      } else {
        stalls = 0;
        now_ = next;
      }
      while (!flights_.empty() && flights_.begin()->first.first <= now_) {
        Flight f = std::move(flights_.begin()->second);
        flights_.erase(flights_.begin());
        if (host_wait && f.arrival == Time::zero()) {
          // It reached the host now; the endpoint handles it after the wait.
          f.arrival = now_;
          const Duration w = host_wait(f.to);
          flights_.emplace(std::make_pair(now_ + w, seq_++), std::move(f));
          continue;
        }
        RxPath rx{f.from, f.entropy, 0, stamp_arrival ? f.arrival : Time::zero()};
        (f.to == 'A' ? *a_ : *b_).on_packet(f.bytes, rx, now_);
      }
      a_->on_timer(now_);
      b_->on_timer(now_);
    }
    now_ = max(now_, end);
    pump();
  }
  void run_for(Duration d) { run_until(now_ + d); }

  // ---- reading the record ----------------------------------------------------
  // Every log line, "\n" separated; with times: "10us A>B data ...".
  std::string lines(bool times = false, size_t from = 0) const {
    std::string s;
    for (size_t i = from; i < log.size(); ++i) {
      if (!s.empty()) s += "\n";
      if (times) s += us(log[i].t) + " ";
      s += log[i].line;
    }
    return s;
  }
  std::vector<const Sent*> find(const std::function<bool(const Sent&)>& pred) const {
    std::vector<const Sent*> v;
    for (const Sent& s : log)
      if (pred(s)) v.push_back(&s);
    return v;
  }
  const Sent* first(const std::function<bool(const Sent&)>& pred) const {
    for (const Sent& s : log)
      if (pred(s)) return &s;
    return nullptr;
  }
  static std::string joined(const std::vector<Got>& ev, bool times = false) {
    std::string s;
    for (const Got& g : ev) {
      if (!s.empty()) s += "; ";
      if (times) s += us(g.t) + " ";
      s += g.line;
    }
    return s;
  }
  std::string events(char side, bool times = false) const {
    return joined(side == 'A' ? events_a : events_b, times);
  }
  size_t count_events(char side, EventType t) const {
    const auto& v = side == 'A' ? events_a : events_b;
    return std::count_if(v.begin(), v.end(), [t](const Got& g) { return g.ev.type == t; });
  }

  static std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

 private:
  struct Flight {
    char to;
    Addr from;
    uint16_t entropy;
    std::vector<uint8_t> bytes;
    Time arrival = Time::zero();  // set once it waited host_wait
  };

  void pump() {
    bool more = true;
    while (more) {
      more = false;
      if (events_first)
        more = poll('A', *a_, polling_a, events_a) | poll('B', *b_, polling_b, events_b);
      more |= transmit('A', *a_, kAddrA) | transmit('B', *b_, kAddrB);
      more |= poll('A', *a_, polling_a, events_a) | poll('B', *b_, polling_b, events_b);
    }
  }

  bool transmit(char name, Endpoint& ep, Addr self) {
    bool any = false;
    uint8_t buf[tuning::kMaxMtu];
    TxPath tx;
    while (size_t n = ep.poll_transmit(buf, tx, now_)) {
      any = true;
      Sent s;
      s.index = log.size();
      s.t = now_;
      s.from = name;
      s.to = tx.remote == kAddrA ? 'A' : tx.remote == kAddrB ? 'B' : '?';
      s.entropy = tx.entropy;
      s.bytes.assign(buf, buf + n);
      size_t count = 0;
      const wire::DecodeError e = wire::decode_datagram(s.bytes, s.pkt, s.ack, count);
      s.coalesced = count == 2;
      if (s.coalesced) std::swap(s.pkt, s.ack);
      s.line = std::string(1, name) + ">" + s.to + " " +
               (e != wire::DecodeError::ok ? "undecodable"
                : s.coalesced              ? describe(s.ack) + " + " + describe(s.pkt)
                                           : describe(s.pkt));
      EXPECT_EQ(e, wire::DecodeError::ok) << "the engine sent a packet the decoder refuses";
      s.pkt.data.payload = {};
      s.dropped = drop_index_.count(s.index) > 0;
      for (auto& p : drop_preds_) s.dropped = s.dropped || p(s);
      if (s.dropped) {
        s.line += " DROPPED";
      } else if (s.to != '?') {
        flights_.emplace(std::make_pair(now_ + kDelay, seq_++),
                         Flight{s.to, self, s.entropy, s.bytes});
      }
      log.push_back(std::move(s));
    }
    return any;
  }

  bool poll(char name, Endpoint& ep, bool enabled, std::vector<Got>& out) {
    if (!enabled) return false;
    bool any = false;
    Event ev;
    while (ep.poll_event(ev)) {
      any = true;
      Got g;
      g.t = now_;
      g.ev = ev;
      g.data.assign(reinterpret_cast<const char*>(ev.data.data()), ev.data.size());
      g.ev.data = {};
      switch (ev.type) {
        case EventType::message_received:
          g.line =
              "recv msg=" + std::to_string(ev.msg_id) + " len=" + std::to_string(ev.data.size());
          if (ev.data.size() <= 16) g.line += " '" + g.data + "'";
          break;
        case EventType::send_completed:
          g.line = "send_completed msg=" + std::to_string(ev.msg_id);
          break;
        case EventType::send_failed:
          g.line = "send_failed msg=" + std::to_string(ev.msg_id) + " " +
                   std::string(to_string(ev.reason));
          break;
        case EventType::peer_up:
          g.line = "peer_up";
          break;
        case EventType::peer_down:
          g.line = "peer_down " + std::string(to_string(ev.reason));
          break;
      }
      out.push_back(g);
      if (on_event) on_event(name, g);
    }
    return any;
  }

  std::unique_ptr<Endpoint> a_, b_;
  PeerId b_of_a_ = kNoPeer;
  Time now_ = Time::zero();
  uint64_t seq_ = 0;
  std::map<std::pair<Time, uint64_t>, Flight> flights_;
  std::set<size_t> drop_index_;
  std::vector<std::function<bool(const Sent&)>> drop_preds_;
};

uint64_t drops(const Endpoint& ep, DropReason r) {
  return ep.stats().drops[static_cast<size_t>(r)];
}

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

auto data_of(uint64_t msg) {
  return [msg](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == msg; };
}

// ---- handshake ----------------------------------------------------------------

TEST(Endpoint, HandshakeIsHelloThenHelloAckThenData) {
  Wire2 w;
  Result<MsgId> r = w.send_a("hi");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 0u);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.lines(true),
            "0us A>B hello\n"
            "5us B>A retry\n"
            "10us A>B hello cookie\n"
            "15us B>A hello_ack\n"
            "20us A>B data pn=0 msg=0 frag=0/1\n"
            "25us B>A ack largest=0 ranges=1");
  EXPECT_EQ(w.events('A', true), "20us peer_up; 30us send_completed msg=0");
  EXPECT_EQ(w.events('B', true), "15us peer_up; 25us recv msg=0 len=2 'hi'");
}

TEST(Endpoint, PeerUpOnBothSidesWithTheirConnectionIds) {
  Wire2 w;
  w.send_a("hi");
  w.run_until(at(100_us));
  ASSERT_EQ(w.count_events('A', EventType::peer_up), 1u);
  ASSERT_EQ(w.count_events('B', EventType::peer_up), 1u);
  PeerStats pa, pb;
  ASSERT_TRUE(w.A().peer_stats(w.peer_b(), pa));
  const PeerId a_at_b = w.B().find_peer(kAddrA);
  ASSERT_NE(a_at_b, kNoPeer);
  ASSERT_TRUE(w.B().peer_stats(a_at_b, pb));
  EXPECT_TRUE(pa.up);
  EXPECT_TRUE(pb.up);
  // Each side's id for the connection, and the other side's, agree.
  EXPECT_NE(pa.local_cid, 0u);
  EXPECT_NE(pb.local_cid, 0u);
  EXPECT_NE(pa.local_cid, pb.local_cid);
  EXPECT_EQ(pa.remote_cid, pb.local_cid);
  EXPECT_EQ(pb.remote_cid, pa.local_cid);
  EXPECT_EQ(w.events_b[0].ev.peer, a_at_b);
  EXPECT_EQ(w.events_a[0].ev.peer, w.peer_b());
}

// Feature share: the answering side gives the new connection its own
// initial window divided among the connections starting or sending to it
// (one here), and ACKs carry no share while one sender is alone.
TEST(Endpoint, TheHelloAckSetsTheInitialWindowAndALoneSenderHasNoShare) {
  EndpointConfig b = Wire2::config(2);
  b.cc_initial_window = 16u << 10;
  Wire2 w(Wire2::config(1), b);
  w.send_a("hi");
  w.run_until(at(100_us));
  bool hello_ack = false, ack = false;
  for (const Sent& s : w.log) {
    if (s.is(wire::Type::hello_ack)) {
      hello_ack = true;
      EXPECT_NE(s.pkt.hello.features & wire::feature::kShare, 0u);
      EXPECT_EQ(s.pkt.hello.initial_window, 16u << 10);
    } else if (s.is(wire::Type::hello)) {
      EXPECT_EQ(s.pkt.hello.initial_window, 0u) << "only a hello_ack gives a window";
    } else if (s.is(wire::Type::ack)) {
      ack = true;
      EXPECT_EQ((s.coalesced ? s.ack : s.pkt).ack.share, 0u);
    }
  }
  EXPECT_TRUE(hello_ack);
  EXPECT_TRUE(ack);
  PeerStats pa;
  ASSERT_TRUE(w.A().peer_stats(w.peer_b(), pa));
  EXPECT_LE(pa.cwnd_bytes, (16u << 10) + 1500) << "A starts at B's window, not its own 64 KiB";
}

// ---- messages -----------------------------------------------------------------

TEST(Endpoint, EmptyMessageIsDeliveredIntact) {
  Wire2 w;
  ASSERT_TRUE(w.send_a("").ok());
  w.run_until(at(1_ms));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=0 ''");
  EXPECT_EQ(w.events('A'), "peer_up; send_completed msg=0");
}

TEST(Endpoint, LargestMessageIsDeliveredIntact) {
  Wire2 w;
  const std::string m = pattern(kMaxMessage, 1);
  ASSERT_TRUE(w.send_a(m).ok());
  w.run_until(at(5_ms));
  ASSERT_EQ(w.count_events('B', EventType::message_received), 1u);
  EXPECT_TRUE(w.events_b.back().data == m);
  EXPECT_EQ(w.find([](const Sent& s) { return s.is_data(); }).size(), 72u);  // 1400 per packet
  EXPECT_EQ(w.log[4].line, "A>B data pn=0 msg=0 frag=0/72");
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 1u);
  EXPECT_EQ(w.A().stats().retransmissions, 0u);
}

TEST(Endpoint, TooLargeIsRejectedBySend) {
  Wire2 w;
  const std::string m(kMaxMessage + 1, 'x');
  Result<MsgId> r = w.send_a(m);
  EXPECT_EQ(r.err, Errc::too_large);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.lines(), "");  // not even a handshake
  EXPECT_EQ(w.A().stats().messages_sent, 0u);
  EXPECT_EQ(w.A().buffered_messages(), 0u);
}

TEST(Endpoint, UnknownPeerIdIsRejectedBySend) {
  Wire2 w;
  EXPECT_EQ(w.A().send(77, Wire2::bytes("x"), {}, w.now()).err, Errc::unknown_peer);
}

TEST(Endpoint, WouldBlockAtMaxOutstandingUntilACompletion) {
  EndpointConfig a = Wire2::config(1);
  a.max_outstanding_msgs = 4;
  Wire2 w(a);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.send_a("m").ok()) << i;
  EXPECT_EQ(w.send_a("m").err, Errc::would_block);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 4u);
  Result<MsgId> r = w.send_a("again");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 4u);
  w.run_until(at(2_ms));
  EXPECT_EQ(w.count_events('B', EventType::message_received), 5u);
}

// ---- loss recovery ------------------------------------------------------------

// The ACK of a repair, as the log shows it: once, then kRepairAckCopies
// copies on other entropies (ack_paths.h).
std::string acks(const std::string& line) {
  std::string out = line;
  for (uint32_t i = 0; i < tuning::kRepairAckCopies; ++i) out += "\n" + line;
  return out;
}

TEST(Endpoint, LostDataIsRetransmittedOnAnotherEntropyAndDeliveredOnce) {
  Wire2 w;
  w.drop_nth(4);  // the first data packet
  w.send_a("lost once");
  w.run_until(at(5_ms));
  // No RTT sample yet: the RTO is rto_initial (1ms) after the send at 20us.
  EXPECT_EQ(w.lines(true),
            "0us A>B hello\n"
            "5us B>A retry\n"
            "10us A>B hello cookie\n"
            "15us B>A hello_ack\n"
            "20us A>B data pn=0 msg=0 frag=0/1 DROPPED\n"
            "1020us A>B data pn=1 msg=0 frag=0/1 retx\n" +
                acks("1025us B>A ack largest=1 ranges=1"));
  EXPECT_NE(w.log[5].entropy, w.log[4].entropy);
  // The ACK of a repair goes out again on other entropies: the ACK paths
  // may be what failed (ack_paths.h).
  std::set<uint16_t> ack_entropies;
  for (size_t i = 6; i < w.log.size(); ++i) ack_entropies.insert(w.log[i].entropy);
  EXPECT_EQ(ack_entropies.size(), 1u + tuning::kRepairAckCopies);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=9 'lost once'");
  EXPECT_EQ(w.events('A'), "peer_up; send_completed msg=0");
  EXPECT_EQ(w.A().stats().rto_events, 1u);
  EXPECT_EQ(w.A().stats().retransmissions, 1u);
}

TEST(Endpoint, LostAckCausesNoDuplicateDelivery) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.is(wire::Type::ack) && s.index == 5; });
  w.send_a("once");
  w.run_until(at(5_ms));
  EXPECT_EQ(w.lines(true),
            "0us A>B hello\n"
            "5us B>A retry\n"
            "10us A>B hello cookie\n"
            "15us B>A hello_ack\n"
            "20us A>B data pn=0 msg=0 frag=0/1\n"
            "25us B>A ack largest=0 ranges=1 DROPPED\n"
            "1020us A>B data pn=1 msg=0 frag=0/1 retx\n" +
                acks("1025us B>A ack largest=1 ranges=1"));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=4 'once'");
  EXPECT_EQ(w.events('A'), "peer_up; send_completed msg=0");
  EXPECT_EQ(w.B().stats().duplicate_fragments, 1u);
}

TEST(Endpoint, ReorderingOnOnePathDetectsLossBeforeTheRto) {
  EndpointConfig a = Wire2::config(1);
  a.paths_per_peer = 2;  // so that many later packets share the lost one's path
  Wire2 w(a);
  w.drop_if([](const Sent& s) { return s.is_data() && s.pkt.data.pn == 3; });
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(w.send_a(pattern(1000, i)).ok());
  w.run_until(at(5_ms));
  const Sent* lost = w.first([](const Sent& s) { return s.dropped; });
  ASSERT_NE(lost, nullptr);
  // The initial window is paced before the first RTT sample (over
  // rto_initial), so pn 3 leaves after the data starts at 20us.
  const Time lost_at = lost->t;
  EXPECT_GE(lost_at, at(20_us));
  const uint64_t msg = lost->pkt.data.msg_id;
  const Sent* retx = w.first([msg](const Sent& s) { return s.retx() && s.pkt.data.msg_id == msg; });
  ASSERT_NE(retx, nullptr);
  // Later packets on the lost packet's entropy were acknowledged by 30us: the
  // loss is declared then, not when an RTO (at least rto_min = 50us) expires.
  EXPECT_LT(retx->t, lost_at + 50_us);
  EXPECT_NE(retx->entropy, lost->entropy);
  EXPECT_GE(w.A().stats().reorder_losses, 1u);
  EXPECT_EQ(w.A().stats().rto_events, 0u);
  EXPECT_EQ(w.count_events('B', EventType::message_received), 60u);
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 60u);
  EXPECT_EQ(w.B().stats().duplicate_fragments, 0u);
}

TEST(Endpoint, RtoFiresAtRtoMinAfterTheSendWhenTheOnlyPacketIsLost) {
  Wire2 w;
  w.send_a("warm-up");  // one RTT sample: 10us
  w.run_until(at(1_ms));
  ASSERT_EQ(w.count_events('A', EventType::send_completed), 1u);
  w.drop_if([](const Sent& s) { return s.is_data() && !s.retx(); });
  w.send_a("lost");
  w.run_until(at(2_ms));
  // srtt 10us + 4 x rttvar 5us + ack_delay 10us = 40us, raised to rto_min 50us.
  EXPECT_EQ(w.lines(true, 6),
            "1000us A>B data pn=1 msg=1 frag=0/1 DROPPED\n"
            "1050us A>B data pn=2 msg=1 frag=0/1 retx\n" +
                acks("1055us B>A ack largest=2 ranges=1"));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=7 'warm-up'; recv msg=1 len=4 'lost'");
}

// During an outage a message's retransmissions must back off (RTO doubling
// up to rto_max), not repeat every rto_min.
TEST(Endpoint, RtoBacksOffWhileEverythingIsLost) {
  Wire2 w;
  w.send_a("warm-up");
  w.run_until(at(1_ms));
  w.drop_if([](const Sent& s) { return s.is_data(); });
  w.send_a("lost");
  w.run_until(at(20_ms));
  std::vector<const Sent*> tx = w.find(data_of(1));
  ASSERT_GE(tx.size(), 4u);
  EXPECT_EQ(tx[1]->t - tx[0]->t, 50_us);
  // Each retransmission waits at least as long as the one before.
  size_t shorter = 0;
  for (size_t i = 2; i < tx.size(); ++i)
    shorter += tx[i]->t - tx[i - 1]->t < tx[i - 1]->t - tx[i - 2]->t;
  EXPECT_EQ(shorter, 0u) << w.lines(true);
  // 50us doubling up to rto_max (20ms) fits about 9 copies into 19ms.
  EXPECT_LE(tx.size(), 12u);
}

TEST(Endpoint, MessageTimeoutFailsItAndTheReceiverDropsThePartialMessage) {
  Wire2 w;
  // Three fragments; the last never arrives.
  w.drop_if([](const Sent& s) { return s.is_data() && s.pkt.data.frag_index == 2; });
  SendOptions o;
  o.timeout = 2_ms;
  w.send_a(pattern(3000, 3), o);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.B().buffered_messages(), 1u);  // the partial message
  w.run_until(at(10_ms));
  EXPECT_EQ(w.events('A', true), "20us peer_up; 2000us send_failed msg=0 timeout");
  EXPECT_EQ(w.events('B'), "peer_up");
  // The receiver learnt the new floor from ACK-type floor updates.
  EXPECT_NE(w.first([](const Sent& s) { return s.line == "A>B ack largest=0 ranges=0 floor=1"; }),
            nullptr);
  EXPECT_EQ(w.B().buffered_messages(), 0u);
  EXPECT_EQ(w.B().buffered_bytes(), 0u);
  EXPECT_EQ(w.A().buffered_messages(), 0u);
  EXPECT_EQ(w.A().buffered_bytes(), 0u);
  // The next message gets through.
  w.stop_dropping();
  w.send_a("next");
  w.run_for(1_ms);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=1 len=4 'next'");
}

// ---- peer restart ------------------------------------------------------------

// A sends m0..m2 (delivered), then five 3000-byte messages; B restarts at 103us
// while their first packets are on the wire, and its new incarnation sends a
// message to A.
struct Restart {
  Wire2 w;
  std::vector<uint8_t> old_ack_from_b, old_data_from_a;

  Restart() {
    for (int i = 0; i < 3; ++i) w.send_a("m" + std::to_string(i));
    w.run_until(at(100_us));
    for (int i = 3; i < 8; ++i) w.send_a(pattern(3000, i));
    w.run_until(at(103_us));
    old_ack_from_b = w.first([](const Sent& s) { return s.is(wire::Type::ack); })->bytes;
    old_data_from_a = w.first([](const Sent& s) { return s.is_data(); })->bytes;
    w.restart_b(Wire2::config(3));
    w.events_b.clear();
    w.send_b("from new B");
  }
};

TEST(Endpoint, PeerRestartFailsInFlightMessagesAndNewSendsWork) {
  Restart r;
  Wire2& w = r.w;
  w.run_until(at(1_ms));
  EXPECT_EQ(w.events('A'),
            "peer_up; send_completed msg=0; send_completed msg=1; send_completed msg=2; "
            "send_failed msg=3 peer_restarted; send_failed msg=4 peer_restarted; "
            "send_failed msg=5 peer_restarted; send_failed msg=6 peer_restarted; "
            "send_failed msg=7 peer_restarted; peer_down peer_restarted; peer_up; "
            "recv msg=0 len=10 'from new B'");
  EXPECT_EQ(w.A().stats().peer_restarts, 1u);
  // Message ids restart at 0 for the new incarnation.
  Result<MsgId> r2 = w.send_a("after");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.value, 0u);
  w.run_until(at(2_ms));
  EXPECT_EQ(w.events('B'), "peer_up; send_completed msg=0; recv msg=0 len=5 'after'");
  EXPECT_EQ(w.A().buffered_messages(), 0u);
  EXPECT_EQ(w.B().buffered_messages(), 0u);
}

TEST(Endpoint, PacketsOfTheOldConnectionAreDroppedAndCounted) {
  Restart r;
  Wire2& w = r.w;
  w.run_until(at(1_ms));
  ASSERT_EQ(w.count_events('B', EventType::peer_up), 1u);
  // The data A sent to the old B before the restart reached the new B,
  // which has no such connection: dropped.
  EXPECT_GE(drops(w.B(), DropReason::wrong_connection), 1u);
  // Late copies now: an ACK of the old B to A, and A's data for the old B.
  const uint64_t a_before = drops(w.A(), DropReason::wrong_connection);
  const uint64_t b_before = drops(w.B(), DropReason::wrong_connection);
  w.inject('A', r.old_ack_from_b, kAddrB, at(1_ms));
  w.inject('B', r.old_data_from_a, kAddrA, at(1_ms));
  w.run_until(at(2_ms));
  EXPECT_EQ(drops(w.A(), DropReason::wrong_connection), a_before + 1);
  // B: the old data, and A's close answering the old ACK (it names the old
  // B's connection). A's retry earlier does not use up the reply limit that
  // lets that close go: retries are not limited per peer.
  EXPECT_EQ(drops(w.B(), DropReason::wrong_connection), b_before + 2);
  EXPECT_EQ(w.A().stats().closes_sent, 1u);
  EXPECT_EQ(w.count_events('A', EventType::peer_down), 1u);  // no second restart
  EXPECT_EQ(w.events('B'), "peer_up; send_completed msg=0");
}

TEST(Endpoint, RestartedReceiverNeverGetsAnOldMessage) {
  Restart r;
  Wire2& w = r.w;
  w.run_until(at(50_ms));
  for (const Got& g : w.events_b)
    if (g.ev.type == EventType::message_received) ADD_FAILURE() << "new B received " << g.line;
  EXPECT_EQ(w.B().stats().messages_received, 0u);
}

TEST(Endpoint, SilentlyRestartedReceiverIsDetectedFromItsAnswer) {
  Wire2 w;
  w.send_a("before");
  w.run_until(at(100_us));
  for (int i = 0; i < 3; ++i) w.send_a(pattern(3000, i));
  w.run_until(at(103_us));
  w.restart_b(Wire2::config(3));  // the new B sends nothing of its own
  w.events_b.clear();
  w.run_until(at(1_ms));
  // A learns of the restart from the close the new B answers its data with
  // (B has no such connection), long before peer_timeout.
  EXPECT_EQ(w.events('A'),
            "peer_up; send_completed msg=0; send_failed msg=1 peer_restarted; "
            "send_failed msg=2 peer_restarted; send_failed msg=3 peer_restarted; "
            "peer_down peer_restarted");
  const Got& down = *std::find_if(w.events_a.begin(), w.events_a.end(),
                                  [](const Got& g) { return g.ev.type == EventType::peer_down; });
  EXPECT_LT(down.t, at(200_us));
  ASSERT_TRUE(w.send_a("after").ok());
  w.run_until(at(2_ms));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=5 'after'");
}

// ---- ordering --------------------------------------------------------------------

TEST(Endpoint, OrderedMessageWaitsForItsLostPredecessor) {
  Wire2 w;
  w.drop_nth(4);  // message 0's first copy
  SendOptions o;
  o.ordered = true;
  o.flow = 1;
  w.send_a("first", o);
  w.send_a("second", o);
  w.run_until(at(5_ms));
  ASSERT_EQ(w.log[5].line, "A>B data pn=1 msg=1 frag=0/1 ordered");
  const Sent* retx = w.first([](const Sent& s) { return s.retx(); });
  ASSERT_NE(retx, nullptr);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=5 'first'; recv msg=1 len=6 'second'");
  // Both handed up when the retransmission arrived.
  EXPECT_EQ(w.events_b[1].t, retx->t + kDelay);
  EXPECT_EQ(w.events_b[2].t, retx->t + kDelay);
}

TEST(Endpoint, UnorderedMessageDoesNotWaitForALostOne) {
  Wire2 w;
  w.drop_nth(4);
  w.send_a("first");
  w.send_a("second");
  w.run_until(at(5_ms));
  const Sent* retx = w.first([](const Sent& s) { return s.retx(); });
  ASSERT_NE(retx, nullptr);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=1 len=6 'second'; recv msg=0 len=5 'first'");
  EXPECT_EQ(w.events_b[1].t, at(25_us));
  EXPECT_EQ(w.events_b[2].t, retx->t + kDelay);
}

TEST(Endpoint, OrderedSuccessorIsDeliveredAfterItsPredecessorTimesOut) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 0; });
  SendOptions first;
  first.ordered = true;
  first.flow = 4;
  first.timeout = 1_ms;
  SendOptions second = first;
  second.timeout = Duration::zero();  // the default, 2s
  w.send_a("never", first);
  w.send_a("waits", second);
  w.run_until(at(5_ms));
  // An ordered message completes only once B handed it up (so a restart of B
  // cannot lose it after A reported success): B had it at 20us but held it
  // until A's floor passed message 0 (1000us floor update, 1005us delivery),
  // and B's next ACK (its delivered floor) reached A at 1010us.
  EXPECT_EQ(w.events('A', true),
            "20us peer_up; 1000us send_failed msg=0 timeout; 1010us send_completed msg=1");
  EXPECT_EQ(w.events('B', true), "15us peer_up; 1005us recv msg=1 len=5 'waits'");
  EXPECT_EQ(w.B().buffered_messages(), 0u);
}

TEST(Endpoint, DuplicatedPacketsAreDeliveredOnce) {
  Wire2 w;
  w.send_a("dup");
  w.run_until(at(1_ms));
  const std::vector<uint8_t> data = w.first([](const Sent& s) { return s.is_data(); })->bytes;
  w.inject('B', data, kAddrA, at(1_ms));
  w.inject('B', data, kAddrA, at(1_ms));
  w.run_until(at(2_ms));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=3 'dup'");
  EXPECT_EQ(w.B().stats().duplicate_fragments, 2u);
  EXPECT_EQ(w.events('A'), "peer_up; send_completed msg=0");
}

TEST(Endpoint, CompletionCarriesTheCookieAndFlow) {
  Wire2 w;
  SendOptions o;
  o.cookie = 0xc00c1e;
  o.flow = 9;
  w.send_a("c", o);
  w.run_until(at(1_ms));
  ASSERT_EQ(w.events_a.back().ev.type, EventType::send_completed);
  EXPECT_EQ(w.events_a.back().ev.cookie, 0xc00c1eu);
  EXPECT_EQ(w.events_a.back().ev.flow, 9);
  EXPECT_EQ(w.events_b.back().ev.flow, 9);
}

TEST(Endpoint, ZeroCopySendDeliversTheCallersBytes) {
  Wire2 w;
  const std::string m = pattern(5000, 8);
  SendOptions o;
  o.copy = false;
  ASSERT_TRUE(w.send_a(m, o).ok());
  w.run_until(at(1_ms));
  ASSERT_EQ(w.count_events('B', EventType::message_received), 1u);
  EXPECT_TRUE(w.events_b.back().data == m);
}

TEST(Endpoint, RemovePeerFailsItsMessages) {
  Wire2 w;
  w.send_a("a");
  w.run_until(at(100_us));
  w.drop_if([](const Sent&) { return true; });
  w.send_a("b");
  w.send_a("c");
  EXPECT_EQ(w.A().remove_peer(w.peer_b(), w.now()), Errc::ok);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.events('A'),
            "peer_up; send_completed msg=0; send_failed msg=1 peer_removed; "
            "send_failed msg=2 peer_removed; peer_down peer_removed");
  EXPECT_EQ(w.A().peers().size(), 0u);
  EXPECT_EQ(w.A().remove_peer(w.peer_b(), w.now()), Errc::unknown_peer);
  EXPECT_EQ(w.A().buffered_messages(), 0u);
}

TEST(Endpoint, MessageLargerThanThePeerAcceptsFails) {
  EndpointConfig b = Wire2::config(2);
  b.max_message_size = 1000;
  Wire2 w(Wire2::config(1), b);
  w.send_a(std::string(1001, 'x'));  // queued before A knows B's limit
  w.send_a(std::string(1000, 'y'));
  w.run_until(at(1_ms));
  EXPECT_EQ(w.events('A'), "peer_up; send_failed msg=0 too_large; send_completed msg=1");
  EXPECT_EQ(w.send_a(std::string(1001, 'x')).err, Errc::too_large);  // now known
  EXPECT_EQ(w.count_events('B', EventType::message_received), 1u);
}

// ---- flow control ----------------------------------------------------------------

TEST(Endpoint, ReceiverThatStopsReadingHoldsTheSenderBackAndLosesNothing) {
  EndpointConfig b = Wire2::config(2);
  b.recv_buffer_bytes = 64 << 10;
  b.max_message_size = 64 << 10;
  Wire2 w(Wire2::config(1), b);
  w.polling_b = false;
  constexpr int kN = 40;  // 40 x 4000 bytes: more than twice the receive buffer
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w.send_a(pattern(4000, i)).ok());
  w.run_until(at(50_ms));
  EXPECT_LE(w.B().stats().messages_received, (64u << 10) / 4000);
  EXPECT_LT(w.count_events('A', EventType::send_completed), static_cast<size_t>(kN));
  EXPECT_EQ(w.count_events('A', EventType::send_failed), 0u);
  EXPECT_LE(w.B().buffered_bytes(), 64u << 10);

  w.polling_b = true;
  w.run_until(at(300_ms));
  std::vector<int> seen(kN, 0);
  for (const Got& g : w.events_b) {
    if (g.ev.type != EventType::message_received) continue;
    ASSERT_LT(g.ev.msg_id, static_cast<uint64_t>(kN));
    ++seen[g.ev.msg_id];
    EXPECT_TRUE(g.data == pattern(4000, static_cast<uint32_t>(g.ev.msg_id))) << g.line;
  }
  for (int i = 0; i < kN; ++i) EXPECT_EQ(seen[i], 1) << "message " << i;
  EXPECT_EQ(w.count_events('A', EventType::send_completed), static_cast<size_t>(kN));
  w.run_until(at(3_s));  // past the message timeout
  for (Endpoint* ep : {&w.A(), &w.B()}) {
    EXPECT_TRUE(quiet(*ep, w.now()));
    EXPECT_EQ(ep->buffered_bytes(), 0u);
    EXPECT_EQ(ep->buffered_messages(), 0u);
  }
}

// A repair queued behind a full window whose fragment is acknowledged before
// it leaves (the loss was spurious) must not open the gate for a message that
// has no credit. B never reads: it holds messages 0 and 1 (2 x 1300 of its
// 64 KiB), so message 2 (64000 more) may never start. B's first ACK is lost:
// A times out msg 0 (sent at 10 us) at 1010 us and queues its repair, which
// the window (two packets) holds back behind msg 1 (sent at 1005 us). B's ACK
// of msg 1 names msg 0 too: the queue then holds only a stale repair.
TEST(Endpoint, StaleRepairsDoNotBypassTheCreditCheck) {
  EndpointConfig a = Wire2::config(1);
  a.max_message_size = 64 << 10;
  a.cc_initial_window = 2 * 1400 + 50;  // two 1300-byte messages (1400 on the wire)
  EndpointConfig b = Wire2::config(2);
  b.max_message_size = 64 << 10;
  b.recv_buffer_bytes = 64 << 10;
  Wire2 w(a, b);
  w.polling_b = false;
  w.drop_if([&w](const Sent& s) { return s.is(wire::Type::ack) && w.now() < at(500_us); });
  ASSERT_TRUE(w.send_a(std::string(1300, 'a')).ok());
  w.run_until(at(1005_us));
  ASSERT_TRUE(w.send_a(std::string(1300, 'b')).ok());
  ASSERT_TRUE(w.send_a(std::string(64000, 'c')).ok());  // 1300 + 1300 + 64000 > 64 KiB
  w.run_until(at(30_ms));
  EXPECT_NE(w.lines().find("B>A ack largest=0 ranges=1 DROPPED"), std::string::npos)
      << w.lines(true);
  EXPECT_EQ(w.first([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 2; }), nullptr)
      << w.lines(true);
  EXPECT_EQ(drops(w.B(), DropReason::no_buffer), 0u);
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 2u) << w.events('A');
  EXPECT_EQ(w.B().stats().messages_received, 2u);
}

TEST(Endpoint, EveryMessageArrivesOnceUnderSteadyLossBothWays) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.index % 7 == 3; });
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w.send_a(pattern(100 + 37 * i, i)).ok());
  w.run_until(at(3_s));
  std::vector<int> seen(kN, 0);
  for (const Got& g : w.events_b) {
    if (g.ev.type != EventType::message_received) continue;
    ASSERT_LT(g.ev.msg_id, static_cast<uint64_t>(kN));
    ++seen[g.ev.msg_id];
    EXPECT_TRUE(g.data == pattern(100 + 37 * g.ev.msg_id, static_cast<uint32_t>(g.ev.msg_id)));
  }
  for (int i = 0; i < kN; ++i) EXPECT_EQ(seen[i], 1) << "message " << i;
  EXPECT_EQ(w.count_events('A', EventType::send_completed), static_cast<size_t>(kN));
  EXPECT_GT(w.A().stats().retransmissions, 0u);
  for (Endpoint* ep : {&w.A(), &w.B()}) {
    EXPECT_TRUE(quiet(*ep, w.now()));
    EXPECT_EQ(ep->buffered_bytes(), 0u);
    EXPECT_EQ(ep->buffered_messages(), 0u);
  }
}

// ---- coalescing an ACK with data --------------------------------------------------

// B echoes every message; A sends the next one when the echo arrives, up to
// `rounds` messages: a ping-pong, with events read before transmitting.
void ping_pong(Wire2& w, int rounds, size_t size = 4) {
  w.events_first = true;
  w.on_event = [&w, rounds, size](char side, const Got& g) {
    if (g.ev.type != EventType::message_received) return;
    if (side == 'B') {
      ASSERT_TRUE(w.send_b(g.data).ok());
    } else if (g.ev.msg_id + 1 < static_cast<uint64_t>(rounds)) {
      ASSERT_TRUE(w.send_a(pattern(size, static_cast<uint32_t>(g.ev.msg_id + 1))).ok());
    }
  };
  ASSERT_TRUE(w.send_a(pattern(size, 0)).ok());
}

// ---- host waits (RxPath::arrival, feature kRxWait) --------------------------

uint16_t ack_wait_us(const Sent& s) { return s.coalesced ? s.ack.common.echo : s.pkt.common.echo; }

TEST(EndpointHostWait, TheAckSaysHowLongItsPacketWaitedInTheHost) {
  Wire2 w;
  w.host_wait = [](char to) { return to == 'B' ? 300_us : Duration::zero(); };
  ASSERT_TRUE(w.send_a("x").ok());
  w.run_for(5_ms);
  ASSERT_EQ(w.count_events('B', EventType::message_received), 1u);
  const Sent* ack = w.first([](const Sent& s) { return s.from == 'B' && s.is(wire::Type::ack); });
  ASSERT_NE(ack, nullptr) << w.lines();
  EXPECT_EQ(ack_wait_us(*ack), 300u) << w.lines();
}

TEST(EndpointHostWait, AnUnstampedPacketWaitedNothingAsFarAsTheAckSays) {
  Wire2 w;
  w.host_wait = [](char to) { return to == 'B' ? 300_us : Duration::zero(); };
  w.stamp_arrival = false;
  ASSERT_TRUE(w.send_a("x").ok());
  w.run_for(5_ms);
  const Sent* ack = w.first([](const Sent& s) { return s.from == 'B' && s.is(wire::Type::ack); });
  ASSERT_NE(ack, nullptr) << w.lines();
  EXPECT_EQ(ack_wait_us(*ack), 0u);
}

// The receiver's loop is quick while the min RTT is learned, then each
// packet waits 200 us for it (it sleeps between packets, or is busy): the
// network queue stays empty. Told when packets arrived, the sender's window
// keeps growing; not told, it reads 200 us of queue and shrinks (the
// collapse on real hosts that the host waits fix).
TEST(EndpointHostWait, AHostsWaitIsNotReadAsQueueing) {
  auto run = [](bool stamps) {
    Wire2 w;
    w.stamp_arrival = stamps;
    const Time busy = Time::zero() + 5_ms;
    w.host_wait = [&w, busy](char) { return w.now() < busy ? Duration::zero() : 200_us; };
    EXPECT_TRUE(w.send_a("warm").ok());
    w.run_until(busy);
    const std::string m = pattern(8000, 3);
    for (int i = 0; i < 40; ++i) EXPECT_TRUE(w.send_a(m).ok());
    w.run_for(200_ms);
    PeerStats ps;
    EXPECT_TRUE(w.A().peer_stats(w.peer_b(), ps));
    return std::make_pair(w.count_events('B', EventType::message_received), ps.cwnd_bytes);
  };
  const uint64_t initial = tuning::kDefaultCcInitialWindow;
  const auto [delivered, cwnd] = run(true);
  EXPECT_EQ(delivered, 41u);
  EXPECT_GE(cwnd, initial);
  // Not told: the window falls to its floor (1/64 packet), and most of the
  // 40 messages are still queued 200 ms later.
  const auto [delivered_blind, cwnd_blind] = run(false);
  EXPECT_LT(cwnd_blind, 1500u);
  EXPECT_LT(delivered_blind, 41u);
}

TEST(EndpointCoalesce, EchoCarriesTheAckOfWhatItAnswers) {
  Wire2 w;
  ping_pong(w, 3);
  w.run_until(at(1_ms));
  EXPECT_EQ(w.lines(true),
            "0us A>B hello\n"
            "5us B>A retry\n"
            "10us A>B hello cookie\n"
            "15us B>A hello_ack\n"
            "20us A>B data pn=0 msg=0 frag=0/1\n"
            "25us B>A ack largest=0 ranges=1 + data pn=0 msg=0 frag=0/1\n"
            "30us A>B ack largest=0 ranges=1 floor=1 + data pn=1 msg=1 frag=0/1\n"
            "35us B>A ack largest=1 ranges=1 floor=1 + data pn=1 msg=1 frag=0/1\n"
            "40us A>B ack largest=1 ranges=1 floor=2 + data pn=2 msg=2 frag=0/1\n"
            "45us B>A ack largest=2 ranges=1 floor=2 + data pn=2 msg=2 frag=0/1\n"
            "50us A>B ack largest=2 ranges=1 floor=3");
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 3u);
  EXPECT_EQ(w.count_events('B', EventType::send_completed), 3u);
  EXPECT_EQ(w.count_events('A', EventType::message_received), 3u);
  const EndpointStats &a = w.A().stats(), &b = w.B().stats();
  EXPECT_EQ(a.coalesced_sent, 2u);
  EXPECT_EQ(b.coalesced_sent, 3u);
  EXPECT_EQ(a.coalesced_received, 3u);
  EXPECT_EQ(b.coalesced_received, 2u);
  // Packets are counted each, datagrams once.
  EXPECT_EQ(b.ack_packets_sent + b.data_packets_sent + b.handshake_packets_sent + b.closes_sent,
            b.packets_sent + b.coalesced_sent);
  EXPECT_EQ(a.total_drops() + b.total_drops(), 0u);
  for (Endpoint* ep : {&w.A(), &w.B()}) {
    EXPECT_EQ(ep->buffered_messages(), 0u);
    EXPECT_TRUE(quiet(*ep, w.now()));
  }
}

// The datagram leaves on the data's path (one of B's own entropy slots, so
// the data is accounted to it), not on the entropy the ACK would follow; A
// still takes its RTT sample from the ACK.
TEST(EndpointCoalesce, TheDatagramTakesTheDataPath) {
  Wire2 w;
  ping_pong(w, 20);
  w.run_until(at(2_ms));
  const PeerId a_at_b = w.B().find_peer(kAddrA);
  std::set<uint16_t> b_slots, a_slots;
  for (const PathStats& ps : w.B().path_stats(a_at_b)) b_slots.insert(ps.entropy);
  for (const PathStats& ps : w.A().path_stats(w.peer_b())) a_slots.insert(ps.entropy);
  size_t coalesced = 0;
  for (const Sent& s : w.log) {
    if (!s.coalesced) continue;
    ++coalesced;
    EXPECT_EQ((s.from == 'B' ? b_slots : a_slots).count(s.entropy), 1u) << s.line;
  }
  EXPECT_EQ(coalesced, 39u);
  PeerStats pa;
  ASSERT_TRUE(w.A().peer_stats(w.peer_b(), pa));
  EXPECT_EQ(pa.min_rtt, 10_us);
}

TEST(EndpointCoalesce, OnlyWhenBothSidesOfferIt) {
  for (int off : {0, 1}) {
    EndpointConfig a = Wire2::config(1), b = Wire2::config(2);
    (off == 0 ? a : b).coalesce = false;
    Wire2 w(a, b);
    ping_pong(w, 2);
    w.run_until(at(1_ms));
    EXPECT_EQ(w.lines(true),
              "0us A>B hello\n"
              "5us B>A retry\n"
              "10us A>B hello cookie\n"
              "15us B>A hello_ack\n"
              "20us A>B data pn=0 msg=0 frag=0/1\n"
              "25us B>A ack largest=0 ranges=1\n"
              "25us B>A data pn=0 msg=0 frag=0/1\n"
              "30us A>B ack largest=0 ranges=1 floor=1\n"
              "30us A>B data pn=1 msg=1 frag=0/1\n"
              "35us B>A ack largest=1 ranges=1 floor=1\n"
              "35us B>A data pn=1 msg=1 frag=0/1\n"
              "40us A>B ack largest=1 ranges=1 floor=2")
        << "coalesce off at " << (off == 0 ? 'A' : 'B');
    EXPECT_EQ(w.A().stats().coalesced_sent + w.B().stats().coalesced_sent, 0u);
    EXPECT_EQ(w.A().stats().total_drops() + w.B().stats().total_drops(), 0u);
  }
}

// The ACK and the fragment share one packet's payload room (1400 bytes at
// MTU 1500): an ACK of one range is 84 bytes, so a 1316-byte answer rides
// with it and a 1317-byte one follows it in a datagram of its own.
TEST(EndpointCoalesce, OnlyWhenBothFitInOnePacket) {
  for (size_t size : {size_t{1316}, size_t{1317}}) {
    Wire2 w;
    ping_pong(w, 1, size);
    w.run_until(at(1_ms));
    const std::string answer = size == 1316
                                   ? "25us B>A ack largest=0 ranges=1 + data pn=0 msg=0 frag=0/1"
                                   : "25us B>A ack largest=0 ranges=1\n"
                                     "25us B>A data pn=0 msg=0 frag=0/1";
    EXPECT_EQ(w.lines(true, 5), answer + "\n30us A>B ack largest=0 ranges=1 floor=1") << size;
    for (const Sent& s : w.log) EXPECT_LE(s.bytes.size(), 1500u - 28) << s.line;
    EXPECT_EQ(w.count_events('A', EventType::message_received), 1u);
    EXPECT_TRUE(w.events_a.back().data == pattern(size, 0));
  }
}

// Losing a coalesced datagram loses both packets: the data is repaired by its
// sender's RTO, the ACK by the repeat of the ACK for the repaired request.
TEST(EndpointCoalesce, PingPongUnderLossDeliversEverythingOnce) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.index % 5 == 4; });
  constexpr int kRounds = 100;
  ping_pong(w, kRounds, 64);
  w.run_until(at(1_s));
  EXPECT_EQ(w.count_events('A', EventType::message_received), static_cast<size_t>(kRounds));
  EXPECT_EQ(w.count_events('B', EventType::message_received), static_cast<size_t>(kRounds));
  EXPECT_EQ(w.count_events('A', EventType::send_completed), static_cast<size_t>(kRounds));
  EXPECT_EQ(w.count_events('B', EventType::send_completed), static_cast<size_t>(kRounds));
  EXPECT_GT(w.A().stats().coalesced_sent, 0u);
  EXPECT_GT(w.B().stats().coalesced_sent, 0u);
  EXPECT_GT(w.A().stats().retransmissions + w.B().stats().retransmissions, 0u);
  for (Endpoint* ep : {&w.A(), &w.B()}) {
    EXPECT_EQ(ep->buffered_messages(), 0u);
    EXPECT_EQ(ep->buffered_bytes(), 0u);
  }
}

// A coalesced datagram built by hand from what A sent: A's ACK of B's data
// in front of A's data.
std::vector<uint8_t> coalesce(const Sent& ack, const Sent& data) {
  std::vector<uint8_t> b = ack.bytes;
  b[5] |= wire::flag::kCoalesced;
  b[8] = b[9] = b[10] = b[11] = 0;
  const uint32_t crc = wire::crc32c(b);
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  b.insert(b.end(), data.bytes.begin(), data.bytes.end());
  return b;
}

TEST(EndpointCoalesce, ACoalescedDatagramFromAPeerThatDidNotNegotiateItIsDropped) {
  for (int off : {0, 1}) {
    // off 0: B never offered coalescing; off 1: B did, A did not.
    EndpointConfig a = Wire2::config(1), b = Wire2::config(2);
    (off == 0 ? b : a).coalesce = false;
    Wire2 w(a, b);
    ping_pong(w, 2);
    w.run_until(at(1_ms));
    ASSERT_EQ(w.count_events('A', EventType::message_received), 2u);
    const Sent* ack = w.first([](const Sent& s) { return s.from == 'A' && s.is(wire::Type::ack); });
    const Sent* data = w.first([](const Sent& s) { return s.from == 'A' && s.is_data(); });
    ASSERT_TRUE(ack && data);
    const size_t lines = w.log.size();
    w.inject('B', coalesce(*ack, *data), kAddrA, at(1_ms));
    w.run_until(at(2_ms));
    EXPECT_EQ(drops(w.B(), DropReason::bad_coalesce), 1u) << off;
    EXPECT_EQ(w.B().stats().total_drops(), 1u);
    EXPECT_EQ(w.B().stats().coalesced_received, 0u);
    EXPECT_EQ(w.log.size(), lines) << "not even a duplicate's ACK: the datagram was not read";
  }
}

TEST(EndpointCoalesce, ANegotiatedCoalescedDatagramIsReadWhole) {
  // Coalescing on at both ends. A's first request and its last ACK went out
  // alone (nothing to share them with); put together, B reads both parts:
  // the ACK, and a duplicate fragment it acknowledges again.
  Wire2 w;
  ping_pong(w, 2);
  w.run_until(at(1_ms));
  const Sent* ack = w.find([](const Sent& s) {
                       return s.from == 'A' && s.is(wire::Type::ack) && !s.coalesced;
                     }).back();
  const Sent* data = w.first([](const Sent& s) { return s.from == 'A' && s.is_data(); });
  ASSERT_TRUE(ack && data);
  ASSERT_FALSE(data->coalesced);
  const size_t lines = w.log.size();
  const uint64_t dups = w.B().stats().duplicate_fragments;
  w.inject('B', coalesce(*ack, *data), kAddrA, at(1_ms));
  w.run_until(at(2_ms));
  EXPECT_EQ(w.B().stats().total_drops(), 0u);
  EXPECT_EQ(w.B().stats().coalesced_received, 2u);
  EXPECT_EQ(w.B().stats().duplicate_fragments, dups + 1);
  EXPECT_EQ(w.lines(false, lines), "B>A ack largest=1 ranges=1 floor=2");
  EXPECT_EQ(w.count_events('B', EventType::message_received), 2u);
}

// ---- liveness ---------------------------------------------------------------------

TEST(Endpoint, SilentPeerIsDownAfterPeerTimeoutAndEveryMessageFails) {
  Wire2 w;
  w.send_a("hello");
  w.run_until(at(1_ms));
  w.drop_if([](const Sent& s) { return s.from == 'B'; });
  for (int i = 0; i < 3; ++i) w.send_a("m");
  w.run_until(at(400_ms));
  // Silent since the sends at 1ms; peer_timeout is 200ms.
  EXPECT_EQ(w.events('A', true),
            "20us peer_up; 30us send_completed msg=0; "
            "201000.001us send_failed msg=1 peer_unreachable; "
            "201000.001us send_failed msg=2 peer_unreachable; "
            "201000.001us send_failed msg=3 peer_unreachable; "
            "201000.001us peer_down peer_unreachable");
  EXPECT_EQ(w.A().buffered_messages(), 0u);
  EXPECT_EQ(w.A().buffered_bytes(), 0u);
}

// ---- bad input -----------------------------------------------------------------

TEST(Endpoint, BadPacketsAreCountedAndChangeNothing) {
  Wire2 w;
  w.send_a("x");
  w.run_until(at(1_ms));
  const std::vector<uint8_t> data = w.first([](const Sent& s) { return s.is_data(); })->bytes;
  const size_t lines = w.log.size();
  const uint64_t before = w.B().stats().total_drops();

  std::vector<uint8_t> garbage(100, 0xab);
  std::vector<uint8_t> truncated(data.begin(), data.begin() + 30);
  std::vector<uint8_t> tiny(data.begin(), data.begin() + 10);
  std::vector<uint8_t> flipped = data;
  flipped.back() ^= 1;
  w.inject('B', garbage, kAddrA, at(1_ms));
  w.inject('B', truncated, kAddrA, at(1_ms));
  w.inject('B', tiny, kAddrA, at(1_ms));
  w.inject('B', flipped, kAddrA, at(1_ms));
  w.run_until(at(2_ms));

  EXPECT_EQ(drops(w.B(), DropReason::bad_version), 1u);
  EXPECT_EQ(drops(w.B(), DropReason::too_short), 2u);
  EXPECT_EQ(drops(w.B(), DropReason::bad_checksum), 1u);
  EXPECT_EQ(w.B().stats().total_drops(), before + 4);
  EXPECT_EQ(w.log.size(), lines);  // no answer to any of them
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=1 'x'");
  EXPECT_EQ(w.B().buffered_messages(), 0u);
  EXPECT_TRUE(quiet(w.B(), w.now()));
}

// Data from an address B has no connection with is dropped; B answers with a
// hello, so that a peer still talking to B's previous incarnation learns of
// the restart.
TEST(Endpoint, DataFromAnUnknownPeerIsDroppedAndAnsweredWithAClose) {
  Wire2 w;
  w.send_a("x");
  w.run_until(at(1_ms));
  const std::vector<uint8_t> data = w.first([](const Sent& s) { return s.is_data(); })->bytes;
  const size_t lines = w.log.size();
  w.inject('B', data, kAddrC, at(1_ms));
  w.run_until(at(2_ms));
  EXPECT_EQ(drops(w.B(), DropReason::unknown_peer), 1u);
  EXPECT_EQ(w.lines(true, lines), "1000us B>? close no_connection");  // to C
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=1 'x'");
  EXPECT_EQ(w.B().stats().messages_received, 1u);
  // Answered without keeping state: stray or forged packets cannot fill the
  // peer table.
  EXPECT_EQ(w.B().peers().size(), 1u);
}

TEST(Endpoint, HelloFromAnUnknownPeerIsDroppedWhenNotAccepted) {
  EndpointConfig b = Wire2::config(2);
  b.accept_unknown_peers = false;
  Wire2 w(Wire2::config(1), b);
  w.send_a("x");
  w.run_until(at(1_ms));
  EXPECT_EQ(w.lines(true, 0).substr(0, 13), "0us A>B hello");
  EXPECT_GE(drops(w.B(), DropReason::unknown_peer), 1u);
  EXPECT_EQ(w.B().peers().size(), 0u);
  EXPECT_EQ(w.events('B'), "");
}

// ---- idle -------------------------------------------------------------------------

TEST(Endpoint, IdleWithNoDeadlineBeforeAnyTraffic) {
  Wire2 w;
  EXPECT_TRUE(quiet(w.A(), w.now()));
  EXPECT_TRUE(quiet(w.B(), w.now()));
}

TEST(Endpoint, NoDeadlineLeftOnceEveryMessageCompleted) {
  Wire2 w;
  w.send_a("x");
  w.run_until(at(1_ms));
  ASSERT_EQ(w.count_events('A', EventType::send_completed), 1u);
  EXPECT_TRUE(quiet(w.A(), w.now()));
  EXPECT_TRUE(quiet(w.B(), w.now()));
}

TEST(Endpoint, EverythingReturnsToZeroAfterTrafficEnds) {
  Wire2 w;
  for (int i = 0; i < 20; ++i) w.send_a(pattern(3000, i));
  w.send_b("reply");
  w.drop_nth(7);  // some repair work too
  w.run_until(at(100_ms));
  EXPECT_EQ(w.count_events('B', EventType::message_received), 20u);
  EXPECT_EQ(w.count_events('A', EventType::message_received), 1u);
  for (Endpoint* ep : {&w.A(), &w.B()}) {
    EXPECT_TRUE(quiet(*ep, w.now()));
    EXPECT_EQ(ep->buffered_bytes(), 0u);
    EXPECT_EQ(ep->buffered_messages(), 0u);
  }
  PeerStats ps;
  ASSERT_TRUE(w.A().peer_stats(w.peer_b(), ps));
  EXPECT_EQ(ps.inflight_bytes, 0u);
  EXPECT_EQ(ps.messages_queued, 0u);
}

// ---- exactly once under every fault (issue 9) ------------------------------------
// Each case below broke the promise (send_completed for a message the
// receiver never handed up) before connections had identities of their own.

// The messages `side` handed up, by content.
std::multiset<std::string> received(const Wire2& w, char side) {
  std::multiset<std::string> m;
  for (const Got& g : side == 'A' ? w.events_a : w.events_b)
    if (g.ev.type == EventType::message_received) m.insert(g.data);
  return m;
}

// A->B dead, B->A alive, longer than peer_timeout, in the middle of a
// multi-fragment message. B gives up on A and drops the fragments it had
// acknowledged; it must then tell A, whose message fails instead of
// completing from the fragments it resends after the outage.
TEST(ExactlyOnce, OneWayOutageLongerThanPeerTimeoutFailsTheMessage) {
  Wire2 w;
  const std::string big = pattern(kMaxMessage, 7);
  bool outage = false;
  w.drop_if([&outage](const Sent& s) { return outage && s.from == 'A'; });
  w.send_a("warm-up");
  w.run_until(at(1_ms));
  SendOptions o;
  o.timeout = 2_s;
  ASSERT_TRUE(w.send_a(big, o).ok());
  // Let the first window through (B acknowledges it), then cut A->B only.
  w.run_until(at(1_ms) + 8_us);
  const size_t acked_before = w.find([](const Sent& s) { return s.from == 'B'; }).size();
  ASSERT_GT(acked_before, 0u);
  outage = true;
  w.run_until(at(400_ms));  // B's peer_timeout (200ms) passes; B->A still works
  outage = false;
  w.run_until(at(3_s));
  // B gave up and said so; A's message failed, and says it may have been
  // delivered only if every fragment had left.
  EXPECT_GE(w.B().stats().closes_sent, 1u);
  const auto fails = std::count_if(w.events_a.begin(), w.events_a.end(), [](const Got& g) {
    return g.ev.type == EventType::send_failed && g.ev.msg_id == 1;
  });
  const bool completed = std::any_of(w.events_a.begin(), w.events_a.end(), [](const Got& g) {
    return g.ev.type == EventType::send_completed && g.ev.msg_id == 1;
  });
  EXPECT_EQ(received(w, 'B').count(big), completed ? 1u : 0u) << w.events('A');
  EXPECT_FALSE(completed) << "B dropped the partial message when it gave up";
  EXPECT_EQ(fails, 1) << w.events('A');
  EXPECT_EQ(w.A().buffered_messages(), 0u);
  EXPECT_EQ(w.B().buffered_messages(), 0u);
}

// remove_peer + add_peer of a live peer (srdxd's reload): the new peer is a
// new connection. Its message ids start at 0 again and must not be taken
// for the ones the old connection delivered.
TEST(ExactlyOnce, ReaddedPeerIsANewConnectionAndLosesNothing) {
  Wire2 w;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.send_a("old " + std::to_string(i)).ok());
  w.run_until(at(1_ms));
  ASSERT_EQ(w.count_events('A', EventType::send_completed), 5u);
  const PeerId old_id = w.peer_b();
  w.readd_b();
  // The new peer has an id of its own: nothing of the old one names it.
  EXPECT_NE(w.peer_b(), old_id);
  PeerStats gone;
  EXPECT_FALSE(w.A().peer_stats(old_id, gone));
  for (int i = 0; i < 5; ++i) {
    Result<MsgId> r = w.send_a("new " + std::to_string(i));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value, static_cast<MsgId>(i));  // ids start again
  }
  w.run_until(at(10_ms));
  const auto got = received(w, 'B');
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got.count("new " + std::to_string(i)), 1u) << i;
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 10u);
  EXPECT_EQ(w.count_events('A', EventType::send_failed), 0u);
  EXPECT_EQ(w.B().stats().duplicate_fragments, 0u);
}

// remove_peer with messages in flight: they fail at the remover
// (peer_removed), and the far side learns from a close that the connection
// is over, instead of holding partial messages until its peer_timeout.
TEST(ExactlyOnce, RemovedPeerFailsItsMessagesAndTheOtherSideHearsOfIt) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.is_data() && s.pkt.data.frag_index == 3; });
  ASSERT_TRUE(w.send_a(pattern(10000, 1)).ok());
  w.run_until(at(200_us));
  ASSERT_EQ(w.B().buffered_messages(), 1u);  // a partial message
  w.readd_b();
  w.run_until(at(1_ms));
  EXPECT_EQ(w.events('A'), "peer_up; send_failed msg=0 peer_removed; peer_down peer_removed");
  // Every fragment left (fragment 3 was lost on the way): A cannot tell.
  EXPECT_TRUE(w.events_a[1].ev.maybe_delivered);
  EXPECT_EQ(w.events('B'), "peer_up; peer_down peer_closed");
  EXPECT_EQ(w.B().buffered_messages(), 0u);
  EXPECT_EQ(w.B().stats().closes_received, 1u);
}

// One forged datagram from the peer's address, by someone who does not know
// the connection's ids (today's epochs let a larger src_epoch reset it, and
// a huge one lock the real peer out for good).
TEST(ExactlyOnce, ForgedDatagramsWithoutTheIdsChangeNothing) {
  Wire2 w;
  w.send_a("before");
  w.run_until(at(1_ms));
  PeerStats before;
  const PeerId a_at_b = w.B().find_peer(kAddrA);
  ASSERT_TRUE(w.B().peer_stats(a_at_b, before));
  uint8_t buf[2048];
  for (uint64_t forged_cid : {uint64_t{1}, before.remote_cid + 1, ~uint64_t{0}}) {
    wire::Common c;
    c.src_port = kAddrA.port;
    c.src_cid = forged_cid;
    // A hello (no cookie), a hello_ack, data, an ack and a close, each naming
    // a guessed id at B.
    wire::Hello h;
    h.max_payload = 1000;
    h.recv_msg_window = 8;
    h.max_message = 1000;
    h.dst_cid = forged_cid ^ 0x5555;
    c.type = wire::Type::hello;
    w.inject('B', {buf, buf + wire::encode_hello(buf, c, h)}, kAddrA, w.now());
    c.type = wire::Type::hello_ack;
    w.inject('B', {buf, buf + wire::encode_hello(buf, c, h)}, kAddrA, w.now());
    wire::Data d;
    d.dst_cid = forged_cid ^ 0x5555;
    d.msg_id = 1;
    d.msg_len = 4;
    d.frag_size = 4;
    const uint8_t evil[4] = {'e', 'v', 'i', 'l'};
    d.payload = evil;
    d.payload_len = 4;
    c.type = wire::Type::data;
    w.inject('B', {buf, buf + wire::encode_data(buf, c, d)}, kAddrA, w.now());
    wire::Ack a;
    a.dst_cid = forged_cid ^ 0x5555;
    a.max_msg_id = 1u << 30;
    a.msg_floor = 1u << 30;
    c.type = wire::Type::ack;
    w.inject('B', {buf, buf + wire::encode_ack(buf, c, a)}, kAddrA, w.now());
    wire::Close cl;
    cl.dst_cid = forged_cid ^ 0x5555;
    cl.reason = static_cast<uint32_t>(wire::CloseReason::removed);
    c.type = wire::Type::close;
    w.inject('B', {buf, buf + wire::encode_close(buf, c, cl)}, kAddrA, w.now());
  }
  w.run_for(1_ms);
  PeerStats after;
  ASSERT_TRUE(w.B().peer_stats(a_at_b, after));
  EXPECT_EQ(after.local_cid, before.local_cid);
  EXPECT_EQ(after.remote_cid, before.remote_cid);
  EXPECT_TRUE(after.up);
  EXPECT_EQ(w.B().peers().size(), 1u);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=6 'before'");
  EXPECT_GE(drops(w.B(), DropReason::wrong_connection), 9u);
  // The real peer is not locked out.
  w.send_a("after");
  w.run_for(1_ms);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=6 'before'; recv msg=1 len=5 'after'");
  EXPECT_EQ(w.A().stats().peer_restarts + w.B().stats().peer_restarts, 0u);
}

// A restarted endpoint is a new connection whatever its clock says: the
// identity is random, not the wall clock (a clock stepped back made a
// restarted appliance "stale" to every peer, forever).
TEST(ExactlyOnce, RestartIsANewConnectionWhateverTheClock) {
  Wire2 w(Wire2::config(1), Wire2::config(900));
  w.send_a("to the first B");
  w.run_until(at(1_ms));
  w.restart_b(Wire2::config(2));  // "earlier" by any measure: smaller seed
  w.events_b.clear();
  w.send_a("lost with it");
  w.run_until(at(2_ms));
  // A hears from the new B (a close: it has no such connection) and fails
  // what it had in flight; the next message gets through.
  EXPECT_EQ(w.count_events('A', EventType::peer_down), 1u);
  w.send_a("to the new B");
  w.run_until(at(3_ms));
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=12 'to the new B'");
}

// send_failed says whether the message may have been delivered: an ordered
// message every fragment of which was acknowledged, waiting at the receiver
// for a lost predecessor, may be handed up after its sender gives up on it.
TEST(ExactlyOnce, FailedOrderedMessageThatMayBeDeliveredSaysSo) {
  Wire2 w;
  w.drop_if([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 0; });
  SendOptions o;
  o.ordered = true;
  o.flow = 3;
  o.timeout = 1_ms;
  w.send_a("never", o);
  w.send_a("waits", o);
  w.run_until(at(5_ms));
  const auto failed = [&w](MsgId id) {
    for (const Got& g : w.events_a)
      if (g.ev.type == EventType::send_failed && g.ev.msg_id == id) return &g;
    return static_cast<const Got*>(nullptr);
  };
  ASSERT_NE(failed(0), nullptr);
  ASSERT_NE(failed(1), nullptr);
  // msg 0 left (and was lost) every time: it may have arrived, as far as A
  // can tell; msg 1 reached B whole and was handed up once msg 0's floor came.
  EXPECT_TRUE(failed(0)->ev.maybe_delivered);
  EXPECT_TRUE(failed(1)->ev.maybe_delivered);
  EXPECT_EQ(received(w, 'B').count("waits"), 1u);
  EXPECT_EQ(received(w, 'B').count("never"), 0u);
}

// A message one of whose fragments never left cannot have been delivered:
// send_failed says so, and it never is.
TEST(ExactlyOnce, FailedMessageWithAnUnsentFragmentWasNotDelivered) {
  EndpointConfig b = Wire2::config(2);
  b.recv_buffer_bytes = kMaxMessage;  // room for one largest message at a time
  Wire2 w(Wire2::config(1), b);
  w.polling_b = false;  // B's application reads nothing: its buffer stays full
  SendOptions o;
  o.timeout = 3_ms;
  ASSERT_TRUE(w.send_a(pattern(kMaxMessage, 1)).ok());
  ASSERT_TRUE(w.send_a(pattern(kMaxMessage, 2), o).ok());  // waits for credit
  w.run_until(at(10_ms));
  const Got* f = nullptr;
  for (const Got& g : w.events_a)
    if (g.ev.type == EventType::send_failed) f = &g;
  ASSERT_NE(f, nullptr) << w.events('A');
  EXPECT_EQ(f->ev.msg_id, 1u);
  EXPECT_EQ(f->ev.reason, FailReason::timeout);
  EXPECT_FALSE(f->ev.maybe_delivered);
  w.polling_b = true;
  w.run_until(at(20_ms));
  EXPECT_EQ(received(w, 'B').count(pattern(kMaxMessage, 2)), 0u);
  EXPECT_EQ(received(w, 'B').count(pattern(kMaxMessage, 1)), 1u);
}

// Credit is exact, in bytes: a receive buffer exactly one largest message
// big (not a multiple of 1 KiB) takes that message. In KiB it was rounded
// down below the message, and the message never started.
TEST(ExactlyOnce, ReceiveBufferOfExactlyOneLargestMessageTakesIt) {
  EndpointConfig a = Wire2::config(1), b = Wire2::config(2);
  a.max_message_size = b.max_message_size = 100001;  // 97.7 KiB
  b.recv_buffer_bytes = 100001;
  b.recv_memory_bytes = 100001;
  Wire2 w(a, b);
  const std::string m = pattern(100001, 5);
  ASSERT_TRUE(w.send_a(m).ok());
  ASSERT_TRUE(w.send_a(m).ok());
  w.run_until(at(20_ms));
  EXPECT_EQ(received(w, 'B').count(m), 2u);
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 2u);
}

// A message the receiver holds is charged once: its advertised free buffer
// counts it, so the sender stops counting it when the first fragment is
// acknowledged. Charged twice (the sender's unfinished messages on top of
// the receiver's own count), a fourth message waited for the second and
// third to complete although the first had freed its room.
TEST(ExactlyOnce, MessagesInFlightAreChargedOnceAgainstCredit) {
  constexpr size_t kSize = 30000;  // 22 fragments
  EndpointConfig b = Wire2::config(2);
  b.recv_buffer_bytes = 3 * kSize;
  b.max_message_size = 3 * kSize;  // the buffer must hold one largest message
  Wire2 w(Wire2::config(1), b);
  // Messages 1 and 2 each lose a fragment's first copy: they complete only
  // after a retransmission timeout, while message 0 completes at once.
  w.drop_if([](const Sent& s) {
    return s.is_data() && !s.retx() && s.pkt.data.frag_index == 5 &&
           (s.pkt.data.msg_id == 1 || s.pkt.data.msg_id == 2);
  });
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(w.send_a(pattern(kSize, i)).ok());
  w.run_until(at(10_ms));
  ASSERT_EQ(w.count_events('B', EventType::message_received), 4u);
  const Sent* fourth = w.first([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 3; });
  const Got* second_done = nullptr;
  for (const Got& g : w.events_a)
    if (g.ev.type == EventType::send_completed && g.ev.msg_id == 1) second_done = &g;
  ASSERT_NE(fourth, nullptr);
  ASSERT_NE(second_done, nullptr);
  EXPECT_LT(fourth->t, second_done->t) << w.events('A', true);
}

// The ACK delay is the time the receiver held the largest packet: only that
// packet's RTT sample may subtract it (RFC 9002, 5.3).
TEST(ExactlyOnce, AckDelayIsSubtractedFromTheLargestPacketOnly) {
  Wire2 w;
  w.send_a("warm-up");
  w.run_until(at(1_ms));
  bool mute_b = true;
  w.drop_if([&mute_b](const Sent& s) { return mute_b && s.from == 'B'; });
  w.send_a("one");
  w.run_until(at(1_ms) + 3_us);
  w.send_a("two");
  w.run_until(at(1_ms) + 10_us);
  const Sent* one = w.first([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 1; });
  const Sent* two = w.first([](const Sent& s) { return s.is_data() && s.pkt.data.msg_id == 2; });
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  ASSERT_NE(one->entropy, two->entropy) << "two slots, so each has its own sample";
  // B's ACK of both, sent at 1020us, says it held the largest ("two") 7us.
  PeerStats pb;
  ASSERT_TRUE(w.A().peer_stats(w.peer_b(), pb));
  wire::Common c;
  c.type = wire::Type::ack;
  c.src_port = kAddrB.port;
  c.src_cid = pb.remote_cid;
  wire::Ack a;
  a.dst_cid = pb.local_cid;
  a.largest_pn = two->pkt.data.pn;
  a.ack_delay_ns = 7000;
  a.ack_seq = 1000;
  a.max_msg_id = 1000;
  a.msg_floor = 0;
  a.free_buffer = 1 << 20;
  a.range_count = 1;
  a.ranges[0] = {one->pkt.data.pn, two->pkt.data.pn};
  uint8_t buf[512];
  w.inject('A', {buf, buf + wire::encode_ack(buf, c, a)}, kAddrB, at(1_ms) + 20_us);
  w.run_until(at(1_ms) + 21_us);
  Duration rtt_one, rtt_two;
  for (const PathStats& ps : w.A().path_stats(w.peer_b())) {
    if (ps.entropy == one->entropy) rtt_one = ps.last_rtt;
    if (ps.entropy == two->entropy) rtt_two = ps.last_rtt;
  }
  EXPECT_EQ(rtt_two, 10_us);  // 17us, less the 7us B held it
  EXPECT_EQ(rtt_one, 20_us);  // whole: it waited at B for an unknown part of those 7us
  EXPECT_EQ(w.count_events('A', EventType::send_completed), 3u);
}

// No state for strangers: a hello from an address that has not proved it
// receives there creates nothing (one host could otherwise make 65,535
// identities through the header's port field), and is answered by a retry
// no larger than itself.
TEST(ExactlyOnce, HellosFromUnprovenAddressesCreateNothing) {
  Wire2 w;
  uint8_t buf[256];
  wire::Hello h;
  h.max_payload = 1000;
  h.recv_msg_window = 8;
  for (uint32_t port = 1; port <= 2000; ++port) {
    wire::Common c;
    c.type = wire::Type::hello;
    c.src_port = static_cast<uint16_t>(port);
    c.src_cid = port * 7919;
    w.inject('B', {buf, buf + wire::encode_hello(buf, c, h)}, kAddrC, at(Duration::micros(port)));
  }
  w.run_until(at(5_ms));
  EXPECT_EQ(w.B().peers().size(), 0u);
  EXPECT_EQ(w.B().memory_bytes(), Endpoint(Wire2::config(2)).memory_bytes());
  const EndpointStats& st = w.B().stats();
  EXPECT_GT(st.retries_sent, 0u);
  for (const Sent& s : w.log) EXPECT_LE(s.bytes.size(), wire::kCommonHeaderSize + wire::kHelloSize);
}

// A stranger that proves its address is accepted up to max_peers, and
// forgotten once idle for idle_timeout.
TEST(ExactlyOnce, AcceptedPeersAreCappedAndReclaimedWhenIdle) {
  EndpointConfig b = Wire2::config(2);
  b.max_peers = 1;
  b.idle_timeout = 1_s;
  Wire2 w(Wire2::config(1), b);
  w.send_a("hi");
  w.run_until(at(1_ms));
  ASSERT_EQ(w.B().peers().size(), 1u);
  // A second host (C) is refused: B is full.
  Endpoint c(Wire2::config(3));
  const PeerId b_at_c = c.add_peer(kAddrB).value;
  ASSERT_TRUE(c.send(b_at_c, Wire2::bytes("from c"), {}, w.now()).ok());
  uint8_t buf[2048];
  TxPath tx;
  for (int round = 0; round < 3; ++round) {
    while (size_t n = c.poll_transmit(buf, tx, w.now()))
      w.B().on_packet({buf, n}, RxPath{kAddrC, tx.entropy, 0}, w.now());
    // B's answers (retries) go back to C.
    while (size_t n = w.B().poll_transmit(buf, tx, w.now()))
      if (tx.remote == kAddrC) c.on_packet({buf, n}, RxPath{kAddrB, tx.entropy, 0}, w.now());
  }
  EXPECT_EQ(drops(w.B(), DropReason::peer_limit), 1u);
  EXPECT_EQ(w.B().peers().size(), 1u);
  // A goes quiet: B forgets it after idle_timeout and tells it.
  w.run_until(at(1_s) + 2_ms);
  EXPECT_EQ(w.B().peers().size(), 0u);
  EXPECT_EQ(w.B().stats().peers_reclaimed, 1u);
  EXPECT_EQ(w.events('B'), "peer_up; recv msg=0 len=2 'hi'; peer_down idle");
  EXPECT_EQ(w.count_events('A', EventType::peer_down), 1u);  // A heard the close
  // A comes back: a new connection.
  w.send_a("again");
  w.run_until(at(1_s) + 4_ms);
  EXPECT_EQ(received(w, 'B').count("again"), 1u);
}

// An idle peer costs little: its rings are allocated when first needed.
TEST(ExactlyOnce, IdlePeersHoldNoRings) {
  EndpointConfig cfg = Wire2::config(1);
  cfg.max_peers = 20000;
  Endpoint ep(cfg);
  const size_t empty = ep.memory_bytes();
  for (uint32_t i = 0; i < 10000; ++i) ASSERT_TRUE(ep.add_peer(Addr{0x0b000000 + i, 7000}).ok());
  const size_t per_peer = (ep.memory_bytes() - empty) / 10000;
  EXPECT_LE(per_peer, 16u * 1024) << per_peer << " bytes per idle peer";
  EXPECT_EQ(ep.add_peer(Addr{0x0c000000, 7000}).err, Errc::ok);
  cfg.max_peers = 2;
  Endpoint small(cfg);
  ASSERT_TRUE(small.add_peer(kAddrA).ok());
  ASSERT_TRUE(small.add_peer(kAddrB).ok());
  EXPECT_EQ(small.add_peer(kAddrC).err, Errc::too_many_peers);
}

// Receive memory is capped over all peers: credit never promises more than
// what is left of recv_memory_bytes.
TEST(ExactlyOnce, ReceiveMemoryIsCappedOverAllPeers) {
  EndpointConfig b = Wire2::config(2);
  b.recv_buffer_bytes = 1 << 20;
  b.recv_memory_bytes = 1 << 20;
  Wire2 w(Wire2::config(1), b);
  w.polling_b = false;  // nothing is consumed
  for (uint32_t i = 0; i < 30; ++i) w.send_a(pattern(50000, i));
  w.run_until(at(50_ms));
  EXPECT_LE(w.B().buffered_bytes(), uint64_t{1} << 20);
  EXPECT_EQ(w.count_events('B', EventType::message_received), 0u);  // not read yet
  w.polling_b = true;
  w.run_until(at(2_s));
  EXPECT_EQ(w.count_events('B', EventType::message_received), 30u);
}

// A sender blocked on credit whose receiver restarted and was cut off for a
// while ends up idle. (The endpoint fuzz target found a sequence where it
// probed forever: fuzz/corpus/endpoint/crash_credit_probe_forever is its
// regression input, run by the fuzz stage of scripts/test.)
TEST(ExactlyOnce, CreditProbesEndWithTheMessageThatWaited) {
  EndpointConfig a = Wire2::config(1), b = Wire2::config(2);
  b.recv_buffer_bytes = kMaxMessage;  // room for one largest message
  a.peer_timeout = b.peer_timeout = 3_ms;
  a.handshake_interval = b.handshake_interval = 100_us;
  Wire2 w(a, b);
  w.polling_b = false;  // the buffer stays full
  SendOptions o;
  o.timeout = 5_ms;
  ASSERT_TRUE(w.send_a(pattern(kMaxMessage, 1)).ok());
  ASSERT_TRUE(w.send_a(pattern(kMaxMessage, 2), o).ok());  // waits for credit
  w.run_until(at(2_ms));
  ASSERT_EQ(w.count_events('A', EventType::send_completed), 1u);
  w.restart_b(b);
  w.polling_b = true;
  bool cut = true;
  w.drop_if([&cut](const Sent&) { return cut; });
  w.send_b("hello from the new B");  // its handshake fails while cut off
  w.run_until(at(30_ms));
  cut = false;
  w.run_until(at(100_ms));
  EXPECT_EQ(w.count_events('A', EventType::send_failed), 1u);
  EXPECT_TRUE(quiet(w.A(), w.now())) << w.A().stats().handshake_packets_sent << " hellos";
  const size_t sent = w.log.size();
  w.run_until(at(1_s));
  EXPECT_EQ(w.log.size(), sent) << w.lines(true, sent).substr(0, 600);
}

}  // namespace
}  // namespace srdx
