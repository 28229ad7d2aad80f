// libFuzzer target: a pair of endpoints, A and B, driven through their public
// API by the fuzzer's bytes, which choose the time as well as the packets (as
// ngtcp2 fuzzes its connections). The input is a configuration byte, then a
// sequence of operations: one opcode byte and its arguments (see Op below):
// send a message from either side, advance time, deliver, drop, duplicate,
// reorder or alter the next datagram in flight in either direction, inject a
// datagram made of input bytes, remove and add a peer, restart a side, pause
// a side's reader, run the network fault-free for a while.
//
// After every operation both endpoints get on_timer(now), their packets are
// drained into the network and their events read, and the invariants below
// are checked; at the end of the input the network runs fault-free for two
// simulated seconds, after which every message has its outcome and both
// endpoints hold nothing and are idle (next_deadline() infinite):
//  - a delivered message is intact (its payload encodes its sender and index,
//    and the rest of its bytes follow from them) and is delivered at most once;
//  - a message gets at most one outcome (send_completed or send_failed, with
//    the cookie it was sent with), and, unless its sender restarted, exactly
//    one by the end;
//  - send_completed: the receiver delivered it (seen once the receiver's
//    events are read);
//  - send_failed with maybe_delivered false: never delivered, before or after;
//  - ordered messages of one flow and connection are delivered in send order;
//  - peer_up and peer_down alternate per peer, and agree with peer_stats().up;
//  - a removed or reclaimed peer's PeerId never names a later peer;
//  - next_deadline() never stays at or before now without progress.
//
// Half the inputs run encrypted: then every injected and altered datagram is
// delivered, sealed or not, and the invariants must hold (this is the fuzz
// target of the sealed-packet receive path: the fuzzer alters real sealed
// datagrams, replays them by duplication and forges sealed headers). In the
// clear runs, injected and altered datagrams that would pass as data or an
// ACK of a live connection are not delivered: without encryption the protocol
// carries no authentication (the CRC32C is not a MAC), and libFuzzer can
// learn connection ids and checksums from the comparisons it traces, so such
// a forgery breaks the invariants without an engine bug. Every other forgery
// (hellos, retries, closes, stale connection ids, garbage) goes through.
//
// ENDPOINT_FUZZ_TRACE=1 prints every operation and event, for reading a crash:
//   ENDPOINT_FUZZ_TRACE=1 build-fuzz/fuzz/endpoint_fuzz CRASH_FILE
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "srdx/endpoint.h"
#include "wire.h"

namespace {

using namespace srdx;
using namespace srdx::literals;

const bool g_trace = [] {
  const char* e = std::getenv("ENDPOINT_FUZZ_TRACE");
  return e && *e && *e != '0';
}();

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  std::fprintf(stderr, "endpoint_fuzz: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::abort();
}

#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

__attribute__((format(printf, 1, 2))) void trace(const char* fmt, ...) {
  if (!g_trace) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
}

constexpr Addr kAddr[2] = {{0x0a000001, 1000}, {0x0a000002, 2000}};
constexpr Addr kStranger{0x0a000003, 3000};
constexpr char kName[2] = {'A', 'B'};
constexpr Duration kDelay = 5_us;  // of the fault-free network (op run, the final drain)
constexpr size_t kMaxQueue = 256;  // datagrams in flight per direction (tail drop)
constexpr uint64_t kMaxMessage = 8192;
constexpr uint32_t kMinLen = 8;          // the header every message carries...
constexpr uint16_t kEmptyFlow = 0x8000;  // ...but an empty one: flow kEmptyFlow | index
constexpr size_t kMaxRecords = 4096;
constexpr int kMaxStalls = 1000;       // next_deadline() <= now without progress
constexpr size_t kMaxSettle = 100000;  // packets and events of one step
constexpr Duration kDrain = 2_s;       // the fault-free run after the input
constexpr uint64_t kMaxDrainIterations = 1000000;

PrivateKey side_key(int side) {
  PrivateKey k{};
  k.fill(static_cast<uint8_t>(0x41 + side));
  return k;
}

// The configuration byte (the input's first) picks among small variants.
EndpointConfig config(int side, uint8_t variant, uint64_t seed) {
  EndpointConfig c;
  c.seed = seed;
  c.mtu = 1500;
  c.max_message_size = (variant & 0x40) && side == 1 ? kMaxMessage / 2 : kMaxMessage;
  c.message_timeout = 4_ms;
  c.max_outstanding_msgs = 16;
  c.recv_msg_window = (variant & 0x80) ? 4 : 16;
  c.recv_buffer_bytes = 64 << 10;
  c.recv_memory_bytes = 64 << 10;
  c.idle_timeout = 30_ms;
  static constexpr uint32_t kPaths[4] = {16, 4, 1, 2};
  c.paths_per_peer = kPaths[(variant >> 3) & 3];
  c.max_inflight_packets = (variant & 0x20) ? 16 : 64;
  c.coalesce = !(variant & (1u << side));
  c.pacing = !(variant & 0x04);
  c.handshake_interval = 100_us;
  c.peer_timeout = 3_ms;
  c.cc_initial_window = 16 << 10;
  c.cc_max_window = 256 << 10;
  // Half the inputs run encrypted (a bit derived from two others, so that
  // every other setting meets both). The static key stays across restarts,
  // like an appliance's key file.
  c.encryption = ((variant >> 2) ^ (variant >> 5)) & 1;
  c.static_key = side_key(side);
  return c;
}

// A message's bytes: its index (4, little endian), 0xA0 | its sender, its
// length (3), then a pattern that follows from the index.
void fill(uint8_t* p, uint32_t len, int side, uint32_t index) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(index >> (8 * i));
  p[4] = static_cast<uint8_t>(0xA0 | side);
  for (int i = 0; i < 3; ++i) p[5 + i] = static_cast<uint8_t>(len >> (8 * i));
  uint32_t x = index * 2654435761u + static_cast<uint32_t>(side) + 1;
  for (uint32_t i = kMinLen; i < len; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = static_cast<uint8_t>(x >> 24);
  }
}

struct Datagram {
  std::vector<uint8_t> bytes;
  uint16_t entropy = 0;
  Time ready;            // when the fault-free network delivers it
  bool altered = false;  // bytes changed by the fuzzer (op flip)
};

struct Record {
  enum State : uint8_t { outstanding, completed, failed_not_delivered, failed_maybe, abandoned };
  int side = 0;  // the sender
  uint32_t len = 0;
  uint16_t flow = 0;
  bool ordered = false;
  MsgId id = 0;
  PeerId peer = kNoPeer;
  uint64_t conn = 0;  // the sender's connection id when it was sent
  uint32_t incarnation = 0;
  State state = outstanding;
  uint8_t delivered = 0;
  std::vector<uint8_t> zero_copy;  // SendOptions::copy false: kept until the outcome
};

const char* state_name(Record::State s) {
  switch (s) {
    case Record::outstanding:
      return "outstanding";
    case Record::completed:
      return "completed";
    case Record::failed_not_delivered:
      return "failed (not delivered)";
    case Record::failed_maybe:
      return "failed (maybe delivered)";
    case Record::abandoned:
      return "abandoned (sender restarted)";
  }
  return "?";
}

struct Side {
  std::unique_ptr<Endpoint> ep;
  uint32_t incarnation = 0;
  bool paused = false;  // the application does not read events
  std::unordered_map<PeerId, bool> up;
  std::vector<PeerId> peers;  // peers() at the end of the last step
  std::set<PeerId> gone;      // ids of peers removed or reclaimed since
};

// Reads the input; past its end every read gives 0.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool done() const { return i_ >= n_; }
  uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  uint16_t u16() {
    const uint16_t hi = u8();
    return static_cast<uint16_t>(hi << 8 | u8());
  }
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, n_ - std::min(i_, n_));
    std::span<const uint8_t> s(d_ + i_, n);
    i_ += n;
    return s;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t i_ = 0;
};

enum Op : uint8_t {
  // flags: ordered (bit 0), flow (bits 1-2), a timeout byte follows (bit 3:
  // (timeout + 1) x 25 us), zero copy (bit 4), one byte over max_message_size
  // (bits 5 and 6), empty (bit 7). size: size < 128: 8 + size bytes; else
  // 8 + (size - 128) x 64.
  kSendA,       // flags, size[, timeout]
  kSendB,       // flags, size[, timeout]
  kAdvance,     // t: t < 128: t us; t < 250: (t - 127) x 200 us; else (t - 249) x 400 ms
  kToDeadline,  // to the earlier next_deadline() of the two, if any
  kDeliver,     // a: direction (bit 0), count - 1 (bits 1-2)
  kDrop,        // a: direction
  kDuplicate,   // a: direction; the copy goes to the back of the queue
  kSwap,        // a: direction, i: the front swaps with element i % size
  kFlip,        // a: direction, pos (u16), xor: the front's byte pos % len ^= xor (0: 1)
  kInject,      // a: to (bit 0), from a stranger (bit 1), fix the checksum (bit 2);
                // entropy, len, len bytes
  kRemovePeer,  // a: side
  kAddPeer,     // a: side
  kRestart,     // a: side: a new Endpoint (new seed) at the same address
  kPause,       // a: side: toggles whether its application reads events
  kRun,         // t: the fault-free network for (t + 1) x 10 us
  kFlush,       // delivers every datagram in flight, in order, at once
  kOpCount
};

class Harness {
 public:
  explicit Harness(uint8_t variant) : variant_(variant) {
    for (int s = 0; s < 2; ++s) {
      const EndpointConfig c = config(s, variant, seed(s));
      CHECK(c.validate().empty(), "config: %s", c.validate().c_str());
      sides_[s].ep = std::make_unique<Endpoint>(c);
    }
  }

  void run(Reader& in) {
    while (!in.done()) {
      do_op(static_cast<Op>(in.u8() % kOpCount), in);
      step();
    }
    finish();
  }

 private:
  uint64_t seed(int s) const { return 1 + static_cast<uint64_t>(s) + 2 * restarts_; }
  Endpoint& ep(int s) { return *sides_[s].ep; }

  // ---- operations -------------------------------------------------------------
  void do_op(Op op, Reader& in) {
    switch (op) {
      case kSendA:
      case kSendB: {
        const uint8_t flags = in.u8(), size = in.u8();
        const uint8_t timeout = (flags & 0x08) ? in.u8() : 0;
        return send(op == kSendA ? 0 : 1, flags, size, timeout);
      }
      case kAdvance: {
        const uint8_t t = in.u8();
        const Duration d = t < 128   ? Duration::micros(t)
                           : t < 250 ? Duration::micros(200) * (t - 127)
                                     : Duration::millis(400) * (t - 249);
        now_ += d;
        trace("%lld advance %lld us\n", us(now_), static_cast<long long>(d.ns() / 1000));
        return;
      }
      case kToDeadline: {
        const Time d = min(ep(0).next_deadline(), ep(1).next_deadline());
        if (!d.is_infinite() && d > now_) now_ = d;
        trace("%lld to deadline\n", us(now_));
        return;
      }
      case kDeliver: {
        const uint8_t a = in.u8();
        const int dir = a & 1, n = 1 + ((a >> 1) & 3);
        for (int i = 0; i < n && !q_[dir].empty(); ++i) deliver_front(dir, "deliver");
        return;
      }
      case kDrop: {
        const int dir = in.u8() & 1;
        if (q_[dir].empty()) return;
        trace("%lld drop %c>%c %s\n", us(now_), kName[dir], kName[1 - dir],
              describe(q_[dir].front().bytes).c_str());
        q_[dir].pop_front();
        return;
      }
      case kDuplicate: {
        const int dir = in.u8() & 1;
        if (q_[dir].empty() || q_[dir].size() >= kMaxQueue) return;
        trace("%lld duplicate %c>%c %s\n", us(now_), kName[dir], kName[1 - dir],
              describe(q_[dir].front().bytes).c_str());
        Datagram copy = q_[dir].front();
        copy.ready = max(copy.ready, now_ + kDelay);
        q_[dir].push_back(std::move(copy));
        return;
      }
      case kSwap: {
        const int dir = in.u8() & 1;
        const uint8_t i = in.u8();
        if (q_[dir].size() < 2) return;
        const size_t j = i % q_[dir].size();
        trace("%lld swap %c>%c 0 <-> %zu\n", us(now_), kName[dir], kName[1 - dir], j);
        std::swap(q_[dir].front(), q_[dir][j]);
        return;
      }
      case kFlip: {
        const int dir = in.u8() & 1;
        const uint16_t pos = in.u16();
        uint8_t x = in.u8();
        if (q_[dir].empty()) return;
        if (x == 0) x = 1;
        Datagram& d = q_[dir].front();
        if (d.bytes.empty()) return;
        d.bytes[pos % d.bytes.size()] ^= x;
        d.altered = true;
        trace("%lld flip %c>%c byte %zu ^= 0x%02x\n", us(now_), kName[dir], kName[1 - dir],
              pos % d.bytes.size(), x);
        return;
      }
      case kInject: {
        const uint8_t a = in.u8();
        const uint16_t entropy = in.u8();
        const uint8_t len = in.u8();
        std::span<const uint8_t> b = in.bytes(len);
        std::vector<uint8_t> bytes(b.begin(), b.end());
        if ((a & 4) && bytes.size() >= 12) {
          for (int i = 8; i < 12; ++i) bytes[i] = 0;
          const uint32_t crc = wire::crc32c_hole(bytes, 8);
          for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
        }
        const int to = a & 1;
        const Addr from = (a & 2) ? kStranger : kAddr[1 - to];
        trace("%lld inject >%c from %s: %s\n", us(now_), kName[to], (a & 2) ? "stranger" : "peer",
              describe(bytes).c_str());
        if (forgery(to, bytes)) {
          trace("  (not delivered: data or ACK of a live connection)\n");
          return;
        }
        ep(to).on_packet(bytes, RxPath{from, entropy, 0}, now_);
        return;
      }
      case kRemovePeer: {
        const int s = in.u8() & 1;
        const PeerId p = ep(s).find_peer(kAddr[1 - s]);
        trace("%lld remove_peer %c (peer %u)\n", us(now_), kName[s], p);
        if (p != kNoPeer) CHECK(ep(s).remove_peer(p, now_) == Errc::ok, "remove_peer failed");
        // Its messages failed at once: read them now.
        poll_all();
        return;
      }
      case kAddPeer: {
        const int s = in.u8() & 1;
        const Result<PeerId> r = ep(s).add_peer(kAddr[1 - s], public_key_of(side_key(1 - s)));
        trace("%lld add_peer %c: %u\n", us(now_), kName[s], r.value);
        CHECK(r.ok(), "add_peer failed: %s", std::string(to_string(r.err)).c_str());
        return;
      }
      case kRestart:
        return restart(in.u8() & 1);
      case kPause: {
        const int s = in.u8() & 1;
        sides_[s].paused = !sides_[s].paused;
        trace("%lld %s %c\n", us(now_), sides_[s].paused ? "pause" : "resume", kName[s]);
        return;
      }
      case kRun: {
        const Duration d = Duration::micros(10) * (1 + in.u8());
        trace("%lld run %lld us\n", us(now_), static_cast<long long>(d.ns() / 1000));
        run_network(now_ + d, false);
        return;
      }
      case kFlush: {
        trace("%lld flush\n", us(now_));
        for (int dir = 0; dir < 2; ++dir)
          while (!q_[dir].empty()) deliver_front(dir, "deliver");
        return;
      }
      case kOpCount:
        break;
    }
  }

  void send(int s, uint8_t flags, uint8_t size, uint8_t timeout) {
    if (records_.size() >= kMaxRecords) return;
    Endpoint& e = ep(s);
    PeerId p = e.find_peer(kAddr[1 - s]);
    if (p == kNoPeer) {
      const Result<PeerId> r = e.add_peer(kAddr[1 - s], public_key_of(side_key(1 - s)));
      CHECK(r.ok(), "add_peer failed: %s", std::string(to_string(r.err)).c_str());
      p = r.value;
    }
    uint32_t len = size < 128 ? kMinLen + size : kMinLen + (size - 128u) * 64u;
    if ((flags & 0x60) == 0x60) len = static_cast<uint32_t>(e.config().max_message_size + 1);
    if (flags & 0x80) len = 0;
    const uint32_t index = static_cast<uint32_t>(records_.size());
    std::vector<uint8_t> payload(len);
    if (len != 0) fill(payload.data(), len, s, index);
    SendOptions o;
    o.ordered = flags & 0x01;
    o.flow = (flags >> 1) & 3;
    // An empty message has no bytes to name it: its flow does (a flow of its own).
    if (len == 0) o.flow = static_cast<uint16_t>(kEmptyFlow | index);
    o.copy = !(flags & 0x10);
    o.timeout = (flags & 0x08) ? Duration::micros(25) * (1 + timeout) : Duration::zero();
    o.cookie = index + 1;
    const Result<MsgId> r = e.send(p, payload, o, now_);
    trace("%lld send %c #%u len=%u flow=%u%s%s timeout=%lldus: %s msg=%llu\n", us(now_), kName[s],
          index, len, o.flow, o.ordered ? " ordered" : "", o.copy ? "" : " zero-copy",
          static_cast<long long>(o.timeout.ns() / 1000), std::string(to_string(r.err)).c_str(),
          static_cast<unsigned long long>(r.value));
    if (!r.ok()) {
      CHECK(r.err == Errc::too_large || r.err == Errc::would_block, "send: unexpected error %s",
            std::string(to_string(r.err)).c_str());
      return;
    }
    CHECK(len <= e.config().max_message_size, "send took %u bytes, over max_message_size", len);
    Record rec;
    rec.side = s;
    rec.len = len;
    rec.flow = o.flow;
    rec.ordered = o.ordered;
    rec.id = r.value;
    rec.peer = p;
    PeerStats ps;
    CHECK(e.peer_stats(p, ps), "peer_stats of the peer just sent to");
    // No connection yet only while a connection the peer offered waits for
    // its confirmation (encrypted): the message goes on whichever connection
    // comes next, so its order is not checked against others (a key of its
    // own: connection ids are random 64-bit numbers, never this small).
    CHECK(ps.local_cid != 0 || e.config().encryption, "a message queued on no connection");
    rec.conn = ps.local_cid != 0 ? ps.local_cid : records_.size() + 1;
    rec.incarnation = sides_[s].incarnation;
    if (!o.copy) rec.zero_copy = std::move(payload);  // the buffer stays where it is
    records_.push_back(std::move(rec));
  }

  void restart(int s) {
    // The old application reads what its endpoint still holds; what it
    // delivered counts as delivered.
    drain_events(s);
    ++restarts_;
    ++sides_[s].incarnation;
    sides_[s].ep = std::make_unique<Endpoint>(config(s, variant_, seed(s)));
    sides_[s].up.clear();
    sides_[s].peers.clear();
    sides_[s].gone.clear();
    sides_[s].paused = false;
    trace("%lld restart %c (seed %llu)\n", us(now_), kName[s],
          static_cast<unsigned long long>(seed(s)));
    for (Record& r : records_) {
      if (r.side == s && r.state == Record::outstanding) {
        r.state = Record::abandoned;
        std::vector<uint8_t>().swap(r.zero_copy);
      }
    }
  }

  // ---- the network --------------------------------------------------------------
  void deliver_front(int dir, const char* what) {
    Datagram d = std::move(q_[dir].front());
    q_[dir].pop_front();
    const int to = 1 - dir;
    trace("%lld %s %c>%c %s\n", us(now_), what, kName[dir], kName[to], describe(d.bytes).c_str());
    if (d.altered && forgery(to, d.bytes)) {
      trace("  (not delivered: data or ACK of a live connection)\n");
      return;
    }
    ep(to).on_packet(d.bytes, RxPath{kAddr[dir], d.entropy, 0}, now_);
  }

  // Whether `bytes` would pass at `to` as data or an ACK of one of its live
  // connections (see the top of the file).
  bool forgery(int to, std::span<const uint8_t> bytes) {
    if (config(to, variant_, 0).encryption) return false;  // the engine must refuse it
    wire::Packet p, p2;
    size_t count = 0;
    if (wire::decode_datagram(bytes, p, p2, count) != wire::DecodeError::ok) return false;
    if (p.common.type != wire::Type::data && p.common.type != wire::Type::ack) return false;
    const uint64_t cid = wire::dst_cid(p);
    for (PeerId id : ep(to).peers()) {
      PeerStats ps;
      if (ep(to).peer_stats(id, ps) && ps.local_cid != 0 && ps.local_cid == cid) return true;
    }
    return false;
  }

  std::string describe(std::span<const uint8_t> bytes) const {
    if (!g_trace) return {};
    wire::Packet p, p2;
    size_t count = 0;
    char b[160];
    wire::SealedHeader sh;
    if (wire::decode_sealed(bytes, sh) == wire::DecodeError::ok) {
      std::snprintf(b, sizeof b, "sealed dst=%llx counter=%llu phase=%u (%zu bytes)",
                    static_cast<unsigned long long>(sh.dst_cid),
                    static_cast<unsigned long long>(sh.counter),
                    sh.flags & wire::sealed_flag::kKeyPhase, bytes.size());
      return b;
    }
    const wire::DecodeError e = wire::decode_datagram(bytes, p, p2, count);
    if (e != wire::DecodeError::ok) {
      std::snprintf(b, sizeof b, "(%zu bytes, undecodable: %s)", bytes.size(),
                    std::string(to_string(wire::to_drop_reason(e))).c_str());
      return b;
    }
    auto one = [](const wire::Packet& q) {
      char s[140];
      switch (q.common.type) {
        case wire::Type::hello:
        case wire::Type::hello_ack: {
          bool cookie = false;
          for (uint8_t c : q.hello.cookie) cookie = cookie || c;
          std::snprintf(s, sizeof s, "%s src=%llx dst=%llx%s",
                        q.common.type == wire::Type::hello ? "hello" : "hello_ack",
                        static_cast<unsigned long long>(q.common.src_cid),
                        static_cast<unsigned long long>(q.hello.dst_cid), cookie ? " cookie" : "");
          break;
        }
        case wire::Type::retry:
          std::snprintf(s, sizeof s, "retry dst=%llx",
                        static_cast<unsigned long long>(q.retry.dst_cid));
          break;
        case wire::Type::close:
          std::snprintf(s, sizeof s, "close src=%llx dst=%llx reason=%u",
                        static_cast<unsigned long long>(q.common.src_cid),
                        static_cast<unsigned long long>(q.close.dst_cid), q.close.reason);
          break;
        case wire::Type::data: {
          const wire::Data& d = q.data;
          std::snprintf(s, sizeof s, "data pn=%llu msg=%llu frag=%u len=%u floor=%llu%s%s",
                        static_cast<unsigned long long>(d.pn),
                        static_cast<unsigned long long>(d.msg_id), d.frag_index, d.msg_len,
                        static_cast<unsigned long long>(d.msg_id - d.msg_floor_delta),
                        (q.common.flags & wire::flag::kOrdered) ? " ordered" : "",
                        (q.common.flags & wire::flag::kRetransmission) ? " retx" : "");
          break;
        }
        case wire::Type::ack: {
          const wire::Ack& a = q.ack;
          std::snprintf(s, sizeof s, "ack largest=%llu ranges=%u max_msg=%llu floor=%llu free=%llu",
                        static_cast<unsigned long long>(a.largest_pn), a.range_count,
                        static_cast<unsigned long long>(a.max_msg_id),
                        static_cast<unsigned long long>(a.msg_floor),
                        static_cast<unsigned long long>(a.free_buffer));
          break;
        }
        case wire::Type::sealed:  // decode_datagram() refuses it
          std::snprintf(s, sizeof s, "sealed");
          break;
      }
      return std::string(s);
    };
    return count == 2 ? one(p) + " + " + one(p2) : one(p);
  }

  // The fault-free network: every datagram arrives kDelay after it left (or
  // at once, if it has waited longer), time jumps to the next deadline.
  void run_network(Time end, bool final_drain) {
    int stalls = 0;
    uint64_t iterations = 0;
    while (true) {
      while (true) {
        int dir = -1;
        for (int d = 0; d < 2; ++d) {
          if (!q_[d].empty() && q_[d].front().ready <= now_ &&
              (dir < 0 || q_[d].front().ready < q_[dir].front().ready))
            dir = d;
        }
        if (dir < 0) break;
        deliver_front(dir, "arrive");
      }
      step();
      Time next = min(ep(0).next_deadline(), ep(1).next_deadline());
      for (int d = 0; d < 2; ++d)
        if (!q_[d].empty()) next = min(next, max(q_[d].front().ready, now_));
      if (next > end) break;
      if (next <= now_) {
        // Something is due now, again: on_timer() and poll_transmit() must
        // deal with it, not leave it due forever.
        CHECK(++stalls <= kMaxStalls,
              "next_deadline() stays at or before now=%lldus (A %lld, B %lld ns)", us(now_),
              static_cast<long long>(ep(0).next_deadline().ns()),
              static_cast<long long>(ep(1).next_deadline().ns()));
      } else {
        stalls = 0;
        now_ = next;
      }
      if (++iterations > kMaxDrainIterations) {
        CHECK(!final_drain, "the endpoints never go quiet: %llu iterations by %lldus",
              static_cast<unsigned long long>(iterations), us(now_));
        break;
      }
    }
    now_ = max(now_, end);
    step();
  }

  // ---- after every operation -------------------------------------------------------
  // on_timer(now) on both sides, their packets into the network and their
  // events read until neither has more, then the checks. Whether anything
  // moved.
  bool step() {
    ep(0).on_timer(now_);
    ep(1).on_timer(now_);
    bool any = false;
    size_t n = 0;
    while (true) {
      bool more = transmit(0);
      more = transmit(1) || more;
      more = poll(0) || more;
      more = poll(1) || more;
      if (!more) break;
      any = true;
      CHECK(++n < kMaxSettle, "poll_transmit / poll_event never run dry at %lldus", us(now_));
    }
    check_completions();
    check_peers(0);
    check_peers(1);
    return any;
  }

  // A removed (or reclaimed) peer's id never names a later peer; with its
  // events read, a side's peer_up / peer_down agree with peer_stats().
  void check_peers(int s) {
    Side& side = sides_[s];
    std::vector<PeerId> now_peers = ep(s).peers();
    for (PeerId id : side.peers)
      if (std::find(now_peers.begin(), now_peers.end(), id) == now_peers.end())
        side.gone.insert(id);
    for (PeerId id : now_peers)
      CHECK(!side.gone.count(id), "%c: peer id %u, of a removed peer, names a new one", kName[s],
            id);
    side.peers = std::move(now_peers);
    if (sides_[s].paused) return;
    for (const auto& [id, up] : sides_[s].up) {
      PeerStats ps;
      const bool now_up = ep(s).peer_stats(id, ps) && ps.up;
      CHECK(now_up == up, "%c: peer %u is %s, but its events said %s", kName[s], id,
            now_up ? "up" : "not up", up ? "peer_up" : "peer_down");
    }
    for (PeerId id : ep(s).peers()) {
      PeerStats ps;
      CHECK(!ep(s).peer_stats(id, ps) || !ps.up || sides_[s].up[id],
            "%c: peer %u is up without a peer_up", kName[s], id);
    }
  }

  bool transmit(int s) {
    uint8_t buf[tuning::kMaxMtu];
    TxPath tx;
    bool any = false;
    while (size_t n = ep(s).poll_transmit(buf, tx, now_)) {
      any = true;
      CHECK(n <= ep(s).config().mtu - tuning::kIpUdpOverhead, "a datagram of %zu bytes", n);
      const std::span<const uint8_t> out(buf, n);
      wire::Packet p, p2;
      size_t count = 0;
      wire::SealedHeader sh;
      const bool sealed = wire::decode_sealed(out, sh) == wire::DecodeError::ok;
      const wire::DecodeError e =
          sealed ? wire::DecodeError::ok : wire::decode_datagram(out, p, p2, count);
      CHECK(e == wire::DecodeError::ok, "%c sent a datagram the decoder refuses: %s", kName[s],
            std::string(to_string(wire::to_drop_reason(e))).c_str());
      // Encrypted, data and ACKs only ever leave sealed.
      CHECK(sealed || !ep(s).config().encryption ||
                (p.common.type != wire::Type::data && p.common.type != wire::Type::ack),
            "%c sent data or an ACK in the clear with encryption on", kName[s]);
      CHECK(!sealed || ep(s).config().encryption, "%c sealed a datagram with encryption off",
            kName[s]);
      if (!(tx.remote == kAddr[1 - s])) continue;  // to a stranger: nowhere
      if (q_[s].size() >= kMaxQueue) continue;     // tail drop
      Datagram d;
      d.bytes.assign(buf, buf + n);
      d.entropy = tx.entropy;
      d.ready = now_ + kDelay;
      q_[s].push_back(std::move(d));
    }
    return any;
  }

  void poll_all() {
    poll(0);
    poll(1);
  }

  bool poll(int s) {
    if (sides_[s].paused) return false;
    return drain_events(s);
  }

  bool drain_events(int s) {
    bool any = false;
    Event ev;
    while (ep(s).poll_event(ev)) {
      any = true;
      on_event(s, ev);
    }
    return any;
  }

  void on_event(int s, const Event& ev) {
    Side& side = sides_[s];
    switch (ev.type) {
      case EventType::message_received:
        return on_received(s, ev);
      case EventType::send_completed:
      case EventType::send_failed: {
        const bool ok = ev.type == EventType::send_completed;
        trace("%lld   %c %s msg=%llu cookie=%llu %s%s\n", us(now_), kName[s],
              ok ? "send_completed" : "send_failed", static_cast<unsigned long long>(ev.msg_id),
              static_cast<unsigned long long>(ev.cookie),
              ok ? "" : std::string(to_string(ev.reason)).c_str(),
              ok ? "" : (ev.maybe_delivered ? " maybe_delivered" : " not_delivered"));
        CHECK(ev.cookie >= 1 && ev.cookie <= records_.size(), "%c: outcome with cookie %llu",
              kName[s], static_cast<unsigned long long>(ev.cookie));
        const uint32_t index = static_cast<uint32_t>(ev.cookie - 1);
        Record& r = records_[index];
        CHECK(r.side == s && r.incarnation == side.incarnation,
              "%c: outcome of message #%u, sent by another side or incarnation", kName[s], index);
        CHECK(r.state == Record::outstanding, "%c: second outcome (%s) of message #%u, already %s",
              kName[s], ok ? "send_completed" : "send_failed", index, state_name(r.state));
        CHECK(ev.msg_id == r.id && ev.peer == r.peer,
              "%c: outcome of message #%u names msg %llu peer %u, sent as msg %llu to peer %u",
              kName[s], index, static_cast<unsigned long long>(ev.msg_id), ev.peer,
              static_cast<unsigned long long>(r.id), r.peer);
        if (ok) {
          CHECK(ev.reason == FailReason::none, "send_completed with a reason");
          r.state = Record::completed;
          pending_.push_back(index);
        } else {
          CHECK(ev.reason != FailReason::none && ev.reason != FailReason::idle,
                "send_failed with reason %s", std::string(to_string(ev.reason)).c_str());
          if (!ev.maybe_delivered) {
            CHECK(r.delivered == 0,
                  "%c: send_failed (%s, maybe_delivered false) for message #%u, which %c "
                  "delivered",
                  kName[s], std::string(to_string(ev.reason)).c_str(), index, kName[1 - s]);
            r.state = Record::failed_not_delivered;
          } else {
            r.state = Record::failed_maybe;
          }
        }
        // The endpoint no longer reads the bytes: free them, so that ASan
        // catches a read after the outcome.
        std::vector<uint8_t>().swap(r.zero_copy);
        return;
      }
      case EventType::peer_up: {
        trace("%lld   %c peer_up %u\n", us(now_), kName[s], ev.peer);
        bool& up = side.up[ev.peer];
        CHECK(!up, "%c: peer_up for peer %u, which is up", kName[s], ev.peer);
        up = true;
        return;
      }
      case EventType::peer_down: {
        trace("%lld   %c peer_down %u %s\n", us(now_), kName[s], ev.peer,
              std::string(to_string(ev.reason)).c_str());
        bool& up = side.up[ev.peer];
        CHECK(up, "%c: peer_down for peer %u, which is not up", kName[s], ev.peer);
        CHECK(ev.reason != FailReason::none, "peer_down without a reason");
        up = false;
        return;
      }
    }
    fail("%c: event of unknown type %d", kName[s], static_cast<int>(ev.type));
  }

  void on_received(int s, const Event& ev) {
    const std::span<const uint8_t> d = ev.data;
    if (d.empty()) {
      const uint32_t index = ev.flow & ~kEmptyFlow;
      trace("%lld   %c message_received #%u msg=%llu empty\n", us(now_), kName[s], index,
            static_cast<unsigned long long>(ev.msg_id));
      CHECK((ev.flow & kEmptyFlow) && index < records_.size() && records_[index].side == 1 - s &&
                records_[index].len == 0,
            "%c delivered an empty message no one sent (flow %u)", kName[s], ev.flow);
      return received(s, ev, index);
    }
    CHECK(d.size() >= kMinLen, "%c delivered %zu bytes: no message is that short", kName[s],
          d.size());
    uint32_t index = 0, len = 0;
    for (int i = 0; i < 4; ++i) index |= uint32_t{d[i]} << (8 * i);
    for (int i = 0; i < 3; ++i) len |= uint32_t{d[5 + i]} << (8 * i);
    trace("%lld   %c message_received #%u msg=%llu len=%zu flow=%u\n", us(now_), kName[s], index,
          static_cast<unsigned long long>(ev.msg_id), d.size(), ev.flow);
    CHECK(d[4] == (0xA0 | (1 - s)) && index < records_.size() && len == d.size(),
          "%c delivered a message no one sent (%zu bytes)", kName[s], d.size());
    Record& r = records_[index];
    CHECK(r.side == 1 - s && r.len == len, "%c delivered a corrupt header (#%u)", kName[s], index);
    uint32_t x = index * 2654435761u + static_cast<uint32_t>(r.side) + 1;
    for (uint32_t i = kMinLen; i < len; ++i) {
      x = x * 1103515245u + 12345u;
      CHECK(d[i] == static_cast<uint8_t>(x >> 24), "%c delivered message #%u corrupt at byte %u",
            kName[s], index, i);
    }
    received(s, ev, index);
  }

  // Message #index reached side s (its bytes are checked).
  void received(int s, const Event& ev, uint32_t index) {
    Record& r = records_[index];
    CHECK(ev.flow == r.flow, "%c delivered message #%u with flow %u, sent with %u", kName[s], index,
          ev.flow, r.flow);
    CHECK(ev.msg_id == r.id, "%c delivered message #%u as msg %llu, sent as %llu", kName[s], index,
          static_cast<unsigned long long>(ev.msg_id), static_cast<unsigned long long>(r.id));
    CHECK(r.delivered == 0, "%c delivered message #%u twice", kName[s], index);
    CHECK(r.state != Record::failed_not_delivered,
          "%c delivered message #%u after its sender said send_failed, maybe_delivered false",
          kName[s], index);
    r.delivered = 1;
    if (r.ordered) {
      const auto key = std::make_tuple(r.side, r.incarnation, r.conn, r.flow);
      auto [it, fresh] = last_ordered_.try_emplace(key, r.id);
      CHECK(fresh || it->second < r.id,
            "%c delivered ordered message #%u (msg %llu, flow %u) after msg %llu of its flow",
            kName[s], index, static_cast<unsigned long long>(r.id), r.flow,
            static_cast<unsigned long long>(it->second));
      it->second = r.id;
    }
  }

  // A completion is checked once the receiver's events have been read: the
  // receiver handed the message up before it acknowledged its last part.
  void check_completions() {
    size_t kept = 0;
    for (uint32_t index : pending_) {
      const Record& r = records_[index];
      if (sides_[1 - r.side].paused) {
        pending_[kept++] = index;
        continue;
      }
      CHECK(r.delivered == 1,
            "%c: send_completed for message #%u (msg %llu), which %c never "
            "delivered",
            kName[r.side], index, static_cast<unsigned long long>(r.id), kName[1 - r.side]);
    }
    pending_.resize(kept);
  }

  // ---- the end of the input ------------------------------------------------------
  void finish() {
    trace("%lld end of input: fault-free drain\n", us(now_));
    sides_[0].paused = sides_[1].paused = false;
    step();
    run_network(now_ + kDrain, true);
    CHECK(pending_.empty(), "completions left unchecked");
    for (uint32_t i = 0; i < records_.size(); ++i) {
      const Record& r = records_[i];
      CHECK(r.state != Record::outstanding,
            "%c: message #%u (msg %llu, %u bytes) has no outcome %lldus after the input ended",
            kName[r.side], i, static_cast<unsigned long long>(r.id), r.len,
            static_cast<long long>(kDrain.ns() / 1000));
    }
    for (int s = 0; s < 2; ++s) {
      CHECK(ep(s).buffered_bytes() == 0 && ep(s).buffered_messages() == 0,
            "%c still holds %llu bytes, %llu messages after the drain", kName[s],
            static_cast<unsigned long long>(ep(s).buffered_bytes()),
            static_cast<unsigned long long>(ep(s).buffered_messages()));
      // Idle: nothing left for on_timer() to do, ever.
      CHECK(ep(s).next_deadline().is_infinite(),
            "%c is not idle %lldus after the input: next_deadline() %lldus (now %lldus), %llu "
            "packets sent in all",
            kName[s], static_cast<long long>(kDrain.ns() / 1000), us(ep(s).next_deadline()),
            us(now_), static_cast<unsigned long long>(ep(s).stats().packets_sent));
    }
  }

  static long long us(Time t) { return static_cast<long long>(t.ns() / 1000); }

  const uint8_t variant_;
  uint32_t restarts_ = 0;
  Side sides_[2];
  std::deque<Datagram> q_[2];  // q_[s]: datagrams from side s to the other
  Time now_ = Time::zero();
  std::vector<Record> records_;
  std::vector<uint32_t> pending_;  // completed, delivery to check
  std::map<std::tuple<int, uint32_t, uint64_t, uint16_t>, MsgId> last_ordered_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Reader in(data, size);
  Harness h(in.u8());
  h.run(in);
  return 0;
}
