#include "sim/attacker.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "wire.h"  // the transport's private wire codec: forgeries are well formed

namespace srdx::sim {

namespace {
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
}  // namespace

Attacker::Attacker(Network& net, Addr own, Side side, const AttackConfig& cfg,
                   std::vector<AttackTarget> targets)
    : net_(net),
      cfg_(cfg),
      targets_(std::move(targets)),
      rng_(mix64(cfg.seed ^ 0x6174746b))  // "attk"
{
  if (cfg_.rate_pps == 0) throw std::invalid_argument("attack: rate must be positive");
  interval_ =
      Duration::nanos(std::max<int64_t>(1, 1'000'000'000 / static_cast<int64_t>(cfg_.rate_pps)));
  next_ = cfg_.start;
  net_.attach(*this, own, side);
}

Attacker::~Attacker() { net_.detach(*this); }

void Attacker::deliver(const Datagram& d, Time now) {
  (void)d;
  (void)now;
  counters_.received++;
}

Time Attacker::deadline() const {
  if (targets_.empty() || next_ >= cfg_.end) return Time::infinite();
  return max(next_, net_.now());
}

void Attacker::poll(Time now) {
  while (!targets_.empty() && next_ <= now && next_ < cfg_.end) {
    forge_one();
    next_ += interval_;
  }
}

// A connection identifier as a guesser draws it: tiny values (a counter, a
// clock that started at zero), huge ones (to win any "larger is newer" rule),
// clock-like ones (nanoseconds since 1970: 2^60 and a bit), or any 64 bits.
uint64_t Attacker::identifier() {
  switch (rng_.below(4)) {
    case 0:
      return 1 + rng_.below(16);
    case 1:
      return kMax64 - rng_.below(16);
    case 2:
      return (1ull << 60) + rng_.below(1ull << 59);
    default:
      return rng_.next() | 1;  // never 0, which decoders refuse outright
  }
}

// Mostly small values (within any window a real connection uses), sometimes
// anything.
uint64_t Attacker::small_or_any(uint64_t small) {
  return rng_.chance(0.75) ? rng_.below(small) : rng_.next();
}

void Attacker::forge_one() {
  const AttackTarget& t = targets_[rng_.below(targets_.size())];
  wire::Common c;
  c.src_port = t.from.port;  // the port the spoofed endpoint receives on
  c.src_cid = identifier();
  const std::span<uint8_t> buf(buf_);
  size_t n = 0;
  switch (rng_.below(6)) {
    case 0:
    case 1: {
      const bool ack = rng_.below(2) == 1;
      c.type = ack ? wire::Type::hello_ack : wire::Type::hello;
      // A header naming another receive port is another identity at the
      // spoofed address.
      if (!ack && rng_.chance(cfg_.new_identity)) {
        c.src_port = static_cast<uint16_t>(1024 + rng_.below(65536 - 1024));
      }
      wire::Hello h;
      h.dst_cid = rng_.chance(0.2) ? 0 : identifier();
      h.features = static_cast<uint32_t>(rng_.next());
      h.max_payload = static_cast<uint32_t>(1 + rng_.below(9000));
      h.max_message = rng_.chance(0.5) ? 1 + rng_.below(1u << 20) : rng_.next();
      h.recv_msg_window = static_cast<uint32_t>(1 + small_or_any(1u << 16));
      h.recv_buffer = small_or_any(1ull << 30);
      // An encrypting hello carries a Noise message: a made-up one (the
      // attacker holds no key the endpoints trust).
      uint8_t noise[wire::kNoise1Size];
      for (uint8_t& x : noise) x = static_cast<uint8_t>(rng_.next());
      if (h.features & wire::feature::kSealed)
        h.noise = std::span<const uint8_t>(noise, ack ? wire::kNoise2Size : wire::kNoise1Size);
      n = wire::encode_hello(buf, c, h);
      (ack ? counters_.hello_ack : counters_.hello)++;
      break;
    }
    case 2: {
      c.type = wire::Type::data;
      if (rng_.chance(0.3)) c.flags |= wire::flag::kAckNow;
      if (rng_.chance(0.2)) c.flags |= wire::flag::kRetransmission;
      wire::Data d;
      d.dst_cid = identifier();
      d.pn = small_or_any(1u << 20);
      d.pn_floor_delta = static_cast<uint32_t>(rng_.below(std::min<uint64_t>(d.pn, 1u << 16) + 1));
      d.msg_id = small_or_any(1u << 12);
      d.msg_floor_delta =
          static_cast<uint32_t>(rng_.below(std::min<uint64_t>(d.msg_id, 1u << 12) + 1));
      if (rng_.chance(0.3)) {
        c.flags |= wire::flag::kOrdered;
        d.prev_delta = static_cast<uint32_t>(rng_.below(std::min<uint64_t>(d.msg_id, 8) + 1));
      }
      d.flow = static_cast<uint16_t>(rng_.below(4));
      // Recognisably foreign: the index every scenario payload starts with,
      // tagged, then random bytes.
      const uint16_t len = static_cast<uint16_t>(8 + rng_.below(1024));
      std::array<uint8_t, 1032> payload{};
      const uint64_t index = kForgedIndexTag | forged_messages_++;
      for (int i = 0; i < 8; i++) payload[i] = static_cast<uint8_t>(index >> (8 * i));
      for (size_t i = 8; i < len; i++) payload[i] = static_cast<uint8_t>(rng_.next());
      d.payload = std::span<const uint8_t>(payload.data(), len);
      d.frag_size = len;
      if (rng_.chance(0.7)) {  // a whole message in one fragment
        d.msg_len = len;
        d.frag_index = 0;
      } else {  // one fragment of a larger message
        const uint32_t frags = static_cast<uint32_t>(2 + rng_.below(64));
        d.frag_index = static_cast<uint32_t>(rng_.below(frags - 1));
        d.msg_len = frags * uint32_t{len};
      }
      n = wire::encode_data(buf, c, d);
      counters_.data++;
      break;
    }
    case 4: {  // a retry: a cookie for a connection it guesses
      c.type = wire::Type::retry;
      wire::Retry r;
      r.dst_cid = identifier();
      for (uint8_t& b : r.cookie) b = static_cast<uint8_t>(rng_.next());
      n = wire::encode_retry(buf, c, r);
      counters_.retry++;
      break;
    }
    case 5: {  // a close of a connection it guesses
      c.type = wire::Type::close;
      wire::Close cl;
      cl.dst_cid = identifier();
      cl.reason = static_cast<uint32_t>(1 + rng_.below(wire::kMaxCloseReason));
      n = wire::encode_close(buf, c, cl);
      counters_.close++;
      break;
    }
    default: {
      c.type = wire::Type::ack;
      wire::Ack a;
      a.dst_cid = identifier();
      a.ack_delay_ns = static_cast<uint32_t>(rng_.below(1'000'000));
      a.ack_seq = static_cast<uint32_t>(rng_.next());
      a.max_msg_id = small_or_any(1u << 16);
      a.msg_floor = small_or_any(1u << 12);
      a.free_buffer = rng_.next();
      if (rng_.chance(0.1)) {
        a.largest_pn = 0;
        a.range_count = 0;  // a pure credit and floor update
      } else {
        a.largest_pn = small_or_any(1u << 20);
        uint64_t hi = a.largest_pn;
        const uint64_t want = 1 + rng_.below(tuning::kMaxAckRanges);
        while (a.range_count < want) {
          const uint64_t len = 1 + rng_.below(std::min<uint64_t>(hi, 63) + 1);
          const uint64_t lo = hi - (len - 1);
          a.ranges[a.range_count++] = wire::AckRange{lo, hi};
          const uint64_t gap = 1 + rng_.below(8);
          if (lo < gap + 2) break;
          hi = lo - gap - 1;
        }
      }
      n = wire::encode_ack(buf, c, a);
      counters_.ack++;
      break;
    }
  }
  if (n == 0) return;
  const uint16_t entropy = static_cast<uint16_t>(1024 + rng_.below(65536 - 1024));
  net_.send(t.from, entropy, t.to, std::span<const uint8_t>(buf_.data(), n));
  counters_.sent++;
}

}  // namespace srdx::sim
