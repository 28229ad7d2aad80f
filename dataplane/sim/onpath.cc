#include "sim/onpath.h"

#include <algorithm>
#include <cstring>

#include "noise.h"         // the transport's Noise IK: a real handshake under the attacker's key
#include "sim/attacker.h"  // kForgedIndexTag
#include "sim/host.h"      // Host::public_key_for: the hosts' public keys are public
#include "wire.h"          // the transport's private codec: forgeries are well formed

namespace srdx::sim {

namespace {
constexpr size_t kHistory = 256;
constexpr size_t kHellos = 32;
constexpr size_t kSolicited = 64;
constexpr size_t kOffChecksum = 8;
constexpr size_t kOffCookie = 64;  // hello: 24 + 40

uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

// A hello or hello_ack (c.type) as an encrypting endpoint might send it,
// naming `dst_cid`, with `noise_size` made-up bytes for its Noise message;
// returns the encoded length.
template <class R>
size_t forge_hello(std::span<uint8_t> buf, const wire::Common& c, uint64_t dst_cid,
                   size_t noise_size, R& rng) {
  wire::Hello h;
  h.dst_cid = dst_cid;
  h.features = wire::feature::kSealed | wire::feature::kOrdered;
  h.max_payload = 1400;
  h.max_message = 1u << 20;
  h.recv_msg_window = 64;
  h.recv_buffer = 1u << 20;
  uint8_t noise[wire::kNoise1Size];
  for (size_t i = 0; i < noise_size; ++i) noise[i] = static_cast<uint8_t>(rng.next());
  h.noise = std::span<const uint8_t>(noise, noise_size);
  return wire::encode_hello(buf, c, h);
}
}  // namespace

OnPath::OnPath(Network& net, const OnPathConfig& cfg)
    : net_(net), cfg_(cfg), rng_(mix64(cfg.seed ^ 0x6f6e70617468ull)) {  // "onpath"
  net_.set_tap(this);
}

OnPath::~OnPath() { net_.set_tap(nullptr); }

void OnPath::fix_checksum(std::vector<uint8_t>& b) {
  if (b.size() < wire::kCommonHeaderSize) return;
  const uint32_t c = wire::crc32c_hole(b, kOffChecksum);
  for (int i = 0; i < 4; i++) b[kOffChecksum + i] = static_cast<uint8_t>(c >> (24 - 8 * i));
}

void OnPath::send(const Seen& s, Label label) {
  net_.inject(s.src, s.src_port, s.dst, s.bytes, label);
}

void OnPath::learn(const Seen& s) {
  if (std::find(hosts_.begin(), hosts_.end(), s.src) == hosts_.end()) hosts_.push_back(s.src);
  Learned& fwd = learned(s.src, s.dst);
  Learned& rev = learned(s.dst, s.src);
  fwd.src_port = s.src_port;
  if (wire::is_sealed(s.bytes)) {
    wire::SealedHeader h;
    if (wire::decode_sealed(s.bytes, h) != wire::DecodeError::ok) return;
    fwd.dst_cid = rev.src_cid = h.dst_cid;
    fwd.counter = std::max(fwd.counter, h.counter);
    return;
  }
  wire::Packet p;
  if (wire::decode(s.bytes, p) != wire::DecodeError::ok) return;
  if (p.common.src_cid) fwd.src_cid = rev.dst_cid = p.common.src_cid;
  const uint64_t d = wire::dst_cid(p);
  if (d && p.common.type != wire::Type::retry) fwd.dst_cid = rev.src_cid = d;
  if (p.common.type == wire::Type::data) {
    fwd.msg_id = p.data.msg_id;
    fwd.pn = p.data.pn;
  }
}

bool OnPath::on_send(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes,
                     Time now) {
  if (now < cfg_.start || now >= cfg_.end) return true;
  counters_.seen++;
  Seen s{src, dst, src_port, {bytes.begin(), bytes.end()}};
  learn(s);
  const bool hello = !wire::is_sealed(bytes) && bytes.size() > 3 &&
                     bytes[3] == static_cast<uint8_t>(wire::Type::hello);
  if (hello) {
    hellos_.push_back(s);
    if (hellos_.size() > kHellos) hellos_.pop_front();
  }
  if (bytes.size() > 3 && bytes[3] == static_cast<uint8_t>(wire::Type::retry)) on_retry(s);

  // What it makes of this one, each on its own draw. The original leaves
  // after the copies made now: an alteration that arrives first must not be
  // mistaken for the original when it is dropped.
  if (rng_.chance(cfg_.copy)) {
    counters_.copies++;
    send(s, Label::copy);
  }
  if (rng_.chance(cfg_.alter)) {
    Seen a = s;
    alter(a);
    counters_.altered++;
    send(a, Label::altered);
  }
  if (rng_.chance(cfg_.reflect)) reflect(s);
  if (rng_.chance(cfg_.replay) && !history_.empty()) {
    counters_.replays++;
    send(history_[rng_.below(history_.size())], Label::copy);
  }
  if (rng_.chance(cfg_.forge)) forge(s);
  history_.push_back(s);
  if (history_.size() > kHistory) history_.pop_front();

  if (counters_.dropped < cfg_.max_drops && rng_.chance(cfg_.drop)) {
    counters_.dropped++;
    return false;
  }
  if (rng_.chance(cfg_.delay)) {
    counters_.delayed++;
    const Duration d = Duration::nanos(
        static_cast<int64_t>(1 + rng_.below(static_cast<uint64_t>(cfg_.max_delay.ns()))));
    // Not bound to the attacker: what it holds is on the wire even if it goes.
    net_.at(now + d, [s = std::move(s)](Network& net) {
      net.inject(s.src, s.src_port, s.dst, s.bytes, Label::delayed);
    });
    return false;
  }
  return true;
}

// Flips one to three bits in one region: the header (the sealed header, or
// the clear packet's common and type headers), the body, or the last 16
// bytes (a sealed datagram's tag). A clear packet's checksum is made right
// again most of the time, so the alteration reaches the checks behind it.
void OnPath::alter(Seen& s) {
  std::vector<uint8_t>& b = s.bytes;
  if (b.empty()) return;
  const bool sealed = wire::is_sealed(b);
  const size_t header = std::min(b.size(), sealed ? wire::kSealedHeaderSize : size_t{80});
  size_t lo = 0, hi = header;
  switch (rng_.below(3)) {
    case 0:
      break;
    case 1:
      if (b.size() > header) lo = header, hi = b.size();
      break;
    default:
      lo = b.size() > wire::kTagSize ? b.size() - wire::kTagSize : 0;
      hi = b.size();
      break;
  }
  const std::vector<uint8_t> before = b;
  const uint64_t flips = 1 + rng_.below(3);
  // Until it differs: two flips of one bit would give the original back.
  for (uint64_t i = 0; i < flips || b == before; i++) {
    size_t at = lo + rng_.below(hi - lo);
    // A clear packet's checksum field is not worth a flip when it is fixed
    // afterwards: move to the byte after it.
    if (!sealed && at >= kOffChecksum && at < kOffChecksum + 4) at = kOffChecksum + 4;
    b[at] ^= static_cast<uint8_t>(1u << rng_.below(8));
  }
  if (!sealed && rng_.chance(0.8)) fix_checksum(b);
}

// A copy to its own sender as if its peer sent it, or to a third host as if
// from either end.
void OnPath::reflect(Seen s) {
  counters_.reflected++;
  std::vector<Addr> others;
  for (const Addr& h : hosts_)
    if (h != s.src && h != s.dst) others.push_back(h);
  if (others.empty() || rng_.chance(0.5)) {
    std::swap(s.src, s.dst);
  } else {
    if (rng_.chance(0.5)) s.src = s.dst;
    s.dst = others[rng_.below(others.size())];
  }
  send(s, Label::reflected);
}

// The retry a responder sends carries a fresh cookie for the hello it
// answers: an old hello the attacker sent without one comes back with it.
void OnPath::on_retry(const Seen& s) {
  wire::Packet p;
  if (wire::decode(s.bytes, p) != wire::DecodeError::ok) return;
  auto it = solicited_.find(p.retry.dst_cid);
  if (it == solicited_.end()) return;
  Seen h = std::move(it->second);
  solicited_.erase(it);
  if (h.bytes.size() < kOffCookie + wire::kCookieSize) return;
  std::memcpy(h.bytes.data() + kOffCookie, p.retry.cookie, wire::kCookieSize);
  fix_checksum(h.bytes);
  counters_.forged++;
  counters_.recookied_hello++;
  send(h, Label::forged);
}

// An old hello (any it recorded), its cookie taken out: the responder
// answers with a retry carrying a fresh one (on_retry).
void OnPath::solicit_cookie(const Seen& hello) {
  Seen h = hello;
  if (h.bytes.size() < kOffCookie + wire::kCookieSize) return;
  std::memset(h.bytes.data() + kOffCookie, 0, wire::kCookieSize);
  fix_checksum(h.bytes);
  const uint64_t src_cid = be64(h.bytes.data() + 16);
  if (solicited_.size() >= kSolicited) solicited_.erase(solicited_.begin());
  solicited_[src_cid] = h;
  counters_.forged++;
  send(h, Label::forged);
}

// A datagram in the direction of `s` (from its sender to its receiver, or
// the reverse), made from what the attacker learned of that pair.
void OnPath::forge(const Seen& s) {
  const bool reverse = rng_.chance(0.5);
  const Addr from = reverse ? s.dst : s.src, to = reverse ? s.src : s.dst;
  const Learned& l = learned(from, to);
  std::vector<uint8_t> buf(2048);
  wire::Common c;
  c.src_port = from.port;
  c.src_cid = l.src_cid ? l.src_cid : (rng_.next() | 1);
  const uint64_t dst = l.dst_cid ? l.dst_cid : (rng_.next() | 1);
  size_t n = 0;
  switch (rng_.below(10)) {
    case 9: {
      // A real handshake under a key of the attacker's own, sent without a
      // cookie so that the retry brings one (on_retry): it reads, and the
      // key is not one the receiver trusts.
      c.type = wire::Type::hello;
      c.src_cid = rng_.next() | 1;
      wire::Hello h;
      h.features = wire::feature::kSealed | wire::feature::kOrdered;
      h.max_payload = 1400;
      h.max_message = 1u << 20;
      h.recv_msg_window = 64;
      h.recv_buffer = 1u << 20;
      PrivateKey mine{}, eph{};
      for (size_t i = 0; i < mine.size(); i++) {
        mine[i] = static_cast<uint8_t>(rng_.next());
        eph[i] = static_cast<uint8_t>(rng_.next());
      }
      static constexpr uint8_t kPrologue[] = {'s', 'r', 'd', 'x', ' ', 'v', '3'};
      crypto::NoiseIK hs;
      hs.init_initiator(mine, Host::public_key_for(to), {kPrologue, sizeof kPrologue});
      uint8_t tr[wire::kHelloTranscriptSize];
      wire::hello_transcript(c, h, tr);
      uint8_t noise[wire::kNoise1Size];
      if (!hs.write_msg1(tr, std::span<uint8_t, wire::kNoise1Size>(noise), &eph)) return;
      h.noise = std::span<const uint8_t>(noise, sizeof noise);
      n = wire::encode_hello(buf, c, h);
      buf.resize(n);
      counters_.forged_hello++;
      Seen hello{from, to, l.src_port ? l.src_port : from.port, std::move(buf)};
      if (solicited_.size() >= kSolicited) solicited_.erase(solicited_.begin());
      solicited_[c.src_cid] = hello;
      counters_.forged++;
      send(hello, Label::forged);
      return;
    }
    case 0:
    case 1: {  // a hello: a made-up key, from a new id or naming the receiver's
      c.type = wire::Type::hello;
      c.src_cid = rng_.next() | 1;
      const uint64_t named = rng_.chance(0.5) ? 0 : dst;
      n = forge_hello(buf, c, named, wire::kNoise1Size, rng_);
      counters_.forged_hello++;
      break;
    }
    case 2: {  // an old hello again, with a fresh cookie (after the retry)
      if (hellos_.empty()) return;
      solicit_cookie(hellos_[rng_.below(hellos_.size())]);
      return;
    }
    case 3: {  // a hello_ack naming the receiver's id, a made-up Noise message
      c.type = wire::Type::hello_ack;
      n = forge_hello(buf, c, dst, wire::kNoise2Size, rng_);
      counters_.forged_hello_ack++;
      break;
    }
    case 4: {
      c.type = wire::Type::retry;
      c.src_cid = 0;
      wire::Retry r;
      r.dst_cid = dst;
      for (uint8_t& b : r.cookie) b = static_cast<uint8_t>(rng_.next());
      n = wire::encode_retry(buf, c, r);
      counters_.forged_retry++;
      break;
    }
    case 5: {
      c.type = wire::Type::close;
      wire::Close cl;
      cl.dst_cid = dst;
      cl.reason = static_cast<uint32_t>(1 + rng_.below(4));  // the reasons an endpoint sends
      n = wire::encode_close(buf, c, cl);
      counters_.forged_close++;
      break;
    }
    case 6: {  // a message of its own, at the message ids the sender uses next
      c.type = wire::Type::data;
      c.flags = wire::flag::kAckNow;
      wire::Data d;
      d.dst_cid = dst;
      d.pn = l.pn + 1 + rng_.below(4);
      d.msg_id = l.msg_id + rng_.below(4);
      std::vector<uint8_t> payload(8 + rng_.below(64));
      const uint64_t index = kForgedIndexTag | forged_messages_++;
      for (int i = 0; i < 8; i++) payload[i] = static_cast<uint8_t>(index >> (8 * i));
      for (size_t i = 8; i < payload.size(); i++) payload[i] = static_cast<uint8_t>(rng_.next());
      d.payload = payload;
      d.frag_size = static_cast<uint32_t>(payload.size());
      d.msg_len = static_cast<uint32_t>(payload.size());
      n = wire::encode_data(buf, c, d);
      counters_.forged_data++;
      break;
    }
    case 7: {  // an ACK of everything the peer may have sent: a forged SACK
      c.type = wire::Type::ack;
      wire::Ack a;
      a.dst_cid = dst;
      a.ack_seq = static_cast<uint32_t>(rng_.next());
      const Learned& back = learned(to, from);
      a.largest_pn = back.pn + rng_.below(8);
      a.ranges[0] = wire::AckRange{0, a.largest_pn};
      a.range_count = 1;
      a.max_msg_id = back.msg_id + 64;
      a.msg_floor = 0;
      a.free_buffer = 1u << 24;
      n = wire::encode_ack(buf, c, a);
      counters_.forged_ack++;
      break;
    }
    default: {  // a sealed datagram of random bytes, at a counter in the window
      wire::SealedHeader h;
      h.src_port = from.port;
      h.dst_cid = dst;
      h.counter = l.counter + rng_.below(16);
      h.flags = static_cast<uint8_t>(rng_.below(4));
      const size_t len = wire::kSealedHeaderSize + 64 + rng_.below(512) + wire::kTagSize;
      for (size_t i = wire::kSealedHeaderSize; i < len; i++)
        buf[i] = static_cast<uint8_t>(rng_.next());
      wire::encode_sealed_header(buf.data(), h);
      n = len;
      counters_.forged_sealed++;
      break;
    }
  }
  if (n == 0) return;
  buf.resize(n);
  counters_.forged++;
  send(Seen{from, to, l.src_port ? l.src_port : from.port, std::move(buf)}, Label::forged);
}

}  // namespace srdx::sim
