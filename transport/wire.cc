// Wire format v3 encoders and the decoder; docs/protocol.md is the spec.
// The decoder checks in a fixed order (sizes, magic and version, type,
// lengths, checksum, then field semantics) so that every malformed datagram is
// refused for its first fault and nothing past the datagram is ever read.
// A coalesced datagram (feature coalesce) is an ack that ends at its
// header_len followed by a data packet; decode_datagram() runs the same
// checks on each part, then the rules that bind the two together.
//
// Data header layout note: wire.h lists twelve Data fields, which add up to
// 52 bytes, but fixes kDataSize (and so kDataOverhead, which max_payload is
// computed from) at 48. The 48-byte layout is what is implemented: the last
// two members, payload_len and reserved, are not on the wire. payload_len is
// the datagram's length minus header_len (as in UDP, IP carries the length),
// and reserved is always 0 after decoding.
#include "wire.h"

#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <type_traits>

namespace srdx::wire {
namespace {

// Byte offsets in the common header.
constexpr size_t kOffMagic = 0;
constexpr size_t kOffFlags = 4;
constexpr size_t kOffChecksum = 8;
constexpr size_t kHelloHeaderLen = kCommonHeaderSize + kHelloSize;
constexpr size_t kDataHeaderLen = kCommonHeaderSize + kDataSize;
constexpr size_t kAckHeaderLen = kCommonHeaderSize + kAckSize;
constexpr size_t kRetryHeaderLen = kCommonHeaderSize + kRetrySize;
constexpr size_t kCloseHeaderLen = kCommonHeaderSize + kCloseSize;
static_assert(kAckHeaderLen + tuning::kMaxAckRanges * kAckRangeSize <= 0xffff);

template <class T>
inline T byteswap_if_little(T v) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
  }
  return v;
}

template <class T>
inline T load_be(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return byteswap_if_little(v);
}

template <class T>
inline void store_be(uint8_t* p, T v) {
  v = byteswap_if_little(v);
  std::memcpy(p, &v, sizeof v);
}

// Sequential big-endian writer/reader over a region whose size the caller
// checked beforehand; they do no bounds checks of their own.
class Writer {
 public:
  explicit Writer(uint8_t* p) : p_(p) {}
  void u8(uint8_t v) { *p_++ = v; }
  void u16(uint16_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void bytes(const uint8_t* b, size_t n) {
    std::memcpy(p_, b, n);
    p_ += n;
  }
  uint8_t* pos() const { return p_; }

 private:
  template <class T>
  void put(T v) {
    store_be(p_, v);
    p_ += sizeof v;
  }
  uint8_t* p_;
};

class Reader {
 public:
  explicit Reader(const uint8_t* p) : p_(p) {}
  uint8_t u8() { return *p_++; }
  uint16_t u16() { return get<uint16_t>(); }
  uint32_t u32() { return get<uint32_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  void bytes(uint8_t* out, size_t n) {
    std::memcpy(out, p_, n);
    p_ += n;
  }

 private:
  template <class T>
  T get() {
    T v = load_be<T>(p_);
    p_ += sizeof v;
    return v;
  }
  const uint8_t* p_;
};

// CRC32C of the datagram with the checksum field read as zero.
uint32_t packet_checksum(std::span<const uint8_t> pkt) { return crc32c_hole(pkt, kOffChecksum); }

void write_common(Writer& w, Type type, uint16_t flags, size_t header_len, const Common& c) {
  w.u16(kMagic);
  w.u8(kVersion);
  w.u8(static_cast<uint8_t>(type));
  w.u16(flags);
  w.u16(static_cast<uint16_t>(header_len));
  w.u32(0);  // checksum, filled in by finish()
  w.u16(c.src_port);
  w.u16(type == Type::data || type == Type::ack ? c.echo : 0);
  w.u64(c.src_cid);
}

// The checksum, unless the packet goes inside a sealed datagram (0 there).
size_t finish(std::span<uint8_t> pkt, const Common& c) {
  if (!c.sealed) store_be<uint32_t>(pkt.data() + kOffChecksum, packet_checksum(pkt));
  return pkt.size();
}

// The Noise message after a hello's header: its size, or 0 for none.
size_t noise_size(Type t, uint32_t features, bool sealed) {
  if (sealed || !(features & feature::kSealed)) return 0;
  return t == Type::hello ? kNoise1Size : kNoise2Size;
}

DecodeError check_data(const Common& c, const Data& d) {
  if (d.pn_floor_delta > d.pn || d.msg_floor_delta > d.msg_id || d.prev_delta > d.msg_id) {
    return DecodeError::bad_field;
  }
  if (d.prev_delta != 0 && !(c.flags & flag::kOrdered)) return DecodeError::bad_field;
  if (d.msg_len == 0) {
    // The empty message: one fragment with nothing in it.
    return d.frag_index == 0 && d.payload_len == 0 ? DecodeError::ok : DecodeError::bad_field;
  }
  if (d.frag_size == 0 || d.payload_len == 0 || d.payload_len > d.frag_size) {
    return DecodeError::bad_field;
  }
  // Fragment i covers [i * frag_size, i * frag_size + payload_len); every
  // fragment but the last is exactly frag_size long. 32 x 16 bits: no overflow.
  const uint64_t offset = uint64_t{d.frag_index} * d.frag_size;
  const uint64_t end = offset + d.payload_len;
  if (end > d.msg_len) return DecodeError::bad_field;
  if (end != d.msg_len && d.payload_len != d.frag_size) return DecodeError::bad_field;
  return DecodeError::ok;
}

DecodeError decode_hello(Reader& r, Hello& h) {
  h.dst_cid = r.u64();
  h.features = r.u32();  // unknown feature bits are legal: they are ignored
  h.max_payload = r.u32();
  h.max_message = r.u64();
  h.recv_msg_window = r.u32();
  h.initial_window = r.u32();
  h.recv_buffer = r.u64();
  r.bytes(h.cookie, kCookieSize);
  if (h.max_payload == 0 || h.recv_msg_window == 0) {
    return DecodeError::bad_field;
  }
  return DecodeError::ok;
}

DecodeError decode_retry(Reader& r, Retry& rt) {
  rt.dst_cid = r.u64();
  r.bytes(rt.cookie, kCookieSize);
  return rt.dst_cid == 0 ? DecodeError::bad_field : DecodeError::ok;
}

DecodeError decode_close(Reader& r, Close& cl) {
  cl.dst_cid = r.u64();
  cl.reason = r.u32();
  cl.reserved = r.u32();
  if (cl.dst_cid == 0 || cl.reserved != 0 || cl.reason == 0 || cl.reason > kMaxCloseReason) {
    return DecodeError::bad_field;
  }
  return DecodeError::ok;
}

DecodeError decode_data(Reader& r, std::span<const uint8_t> bytes, const Common& c, Data& d) {
  d.dst_cid = r.u64();
  d.pn = r.u64();
  d.pn_floor_delta = r.u32();
  d.msg_floor_delta = r.u32();
  d.msg_id = r.u64();
  d.msg_len = r.u32();
  d.frag_index = r.u32();
  d.prev_delta = r.u32();
  d.frag_size = r.u16();
  d.flow = r.u16();
  if (d.dst_cid == 0) return DecodeError::bad_field;
  // The payload is the rest of the datagram (decode() checked it fits in 16
  // bits); payload_len and reserved are not carried on the wire, see below.
  d.payload = bytes.subspan(kDataHeaderLen);
  d.payload_len = static_cast<uint16_t>(d.payload.size());
  d.reserved = 0;
  return check_data(c, d);
}

DecodeError decode_ack(Reader& r, Ack& a) {
  a.dst_cid = r.u64();
  a.largest_pn = r.u64();
  a.ack_delay_ns = r.u32();
  a.ack_seq = r.u32();
  a.max_msg_id = r.u64();
  a.msg_floor = r.u64();
  a.free_buffer = r.u64();
  a.range_count = r.u16();
  a.share = r.u16();
  if (a.range_count > tuning::kMaxAckRanges || a.dst_cid == 0) {
    return DecodeError::bad_field;
  }
  // No ranges: a pure update of credit and floor, acknowledging nothing.
  if (a.range_count == 0 && a.largest_pn != 0) return DecodeError::bad_field;
  // Ranges descend from largest_pn; every subtraction is checked first, so a
  // range reaching below packet number 0 is refused, not wrapped.
  uint64_t hi = a.largest_pn;
  for (uint16_t i = 0; i < a.range_count; ++i) {
    const uint32_t gap = r.u32();
    const uint32_t len = r.u32();
    if (i == 0 ? gap != 0 : gap == 0) return DecodeError::bad_field;
    if (i > 0) {
      const uint64_t prev_lo = a.ranges[i - 1].lo;
      if (prev_lo < uint64_t{gap} + 1) return DecodeError::bad_field;
      hi = prev_lo - gap - 1;
    }
    if (len == 0 || len - 1 > hi) return DecodeError::bad_field;
    a.ranges[i] = AckRange{hi - (len - 1), hi};
  }
  return DecodeError::ok;
}

}  // namespace

DropReason to_drop_reason(DecodeError e) {
  switch (e) {
    case DecodeError::too_short:
      return DropReason::too_short;
    case DecodeError::bad_version:
      return DropReason::bad_version;
    case DecodeError::bad_type:
      return DropReason::bad_type;
    case DecodeError::bad_checksum:
      return DropReason::bad_checksum;
    case DecodeError::bad_length:
      return DropReason::bad_length;
    case DecodeError::bad_field:
      return DropReason::bad_field;
    case DecodeError::bad_coalesce:
      return DropReason::bad_coalesce;
    case DecodeError::ok:
      break;
  }
  // ok is not a reason to drop; callers only map errors.
  assert(false && "to_drop_reason(DecodeError::ok)");
  return DropReason::bad_field;
}

namespace {

// Decodes the packet at the start of `bytes`. A packet without the coalesced
// flag must fill the datagram; an ack with it ends at header_len, and `rest`
// is set to the bytes after it (the next packet, checked by the caller).
DecodeError decode_packet(std::span<const uint8_t> bytes, Packet& out,
                          std::span<const uint8_t>& rest, bool sealed) {
  if (bytes.size() < kCommonHeaderSize) return DecodeError::too_short;
  const uint8_t* p = bytes.data();
  if (load_be<uint16_t>(p + kOffMagic) != kMagic || p[2] != kVersion) {
    return DecodeError::bad_version;
  }

  // Length sanity: the type's fixed header must be present before anything in
  // it (range_count) is read, header_len must be exactly what the type needs,
  // and the datagram must end exactly where the packet does.
  const uint8_t type = p[3];
  size_t fixed = 0;
  switch (static_cast<Type>(type)) {
    case Type::hello:
    case Type::hello_ack:
      fixed = kHelloHeaderLen;
      break;
    case Type::data:
      fixed = kDataHeaderLen;
      break;
    case Type::ack:
      fixed = kAckHeaderLen;
      break;
    case Type::retry:
      fixed = kRetryHeaderLen;
      break;
    case Type::close:
      fixed = kCloseHeaderLen;
      break;
    default:
      return DecodeError::bad_type;
  }
  // Only an ack may have another packet after it (it knows its own length;
  // a data packet's payload runs to the end of the datagram).
  const bool coalesced = (load_be<uint16_t>(p + kOffFlags) & flag::kCoalesced) != 0;
  if (coalesced && static_cast<Type>(type) != Type::ack) return DecodeError::bad_coalesce;
  if (bytes.size() < fixed) return DecodeError::too_short;
  size_t want_header_len = fixed;
  if (static_cast<Type>(type) == Type::ack) {
    want_header_len += size_t{load_be<uint16_t>(p + kAckHeaderLen - 4)} * kAckRangeSize;
  }
  const size_t header_len = load_be<uint16_t>(p + 6);
  if (header_len != want_header_len) return DecodeError::bad_length;
  if (bytes.size() < header_len) return DecodeError::too_short;
  rest = {};
  if (coalesced) {
    rest = bytes.subspan(header_len);
    bytes = bytes.first(header_len);
  }
  // Only data carries bytes past its header, at most 2^16-1 of them, and a
  // hello of an encrypting sender its Noise message, exactly.
  size_t noise = 0;
  if (static_cast<Type>(type) == Type::hello || static_cast<Type>(type) == Type::hello_ack) {
    noise =
        noise_size(static_cast<Type>(type), load_be<uint32_t>(p + kCommonHeaderSize + 8), sealed);
    if (bytes.size() < header_len + noise) return DecodeError::too_short;
  }
  const size_t max_size = static_cast<Type>(type) == Type::data
                              ? header_len + std::numeric_limits<uint16_t>::max()
                              : header_len + noise;
  if (bytes.size() > max_size) return DecodeError::bad_length;

  // Inside a sealed datagram the AEAD tag covered every byte; the checksum
  // field is 0 there (one encoding per packet).
  const uint32_t checksum = load_be<uint32_t>(p + kOffChecksum);
  if (sealed ? checksum != 0 : checksum != packet_checksum(bytes)) {
    return DecodeError::bad_checksum;
  }

  Reader r(p + 4);
  Common& c = out.common;
  c.type = static_cast<Type>(type);
  c.flags = r.u16();
  r.u16();  // header_len
  r.u32();  // checksum
  c.src_port = r.u16();
  c.echo = r.u16();
  c.src_cid = r.u64();
  // Every packet but a retry comes from a connection; a retry has none.
  if ((c.echo != 0 && c.type != Type::data && c.type != Type::ack) ||
      (c.flags & ~flag::kKnown) != 0 || (c.type == Type::retry) != (c.src_cid == 0)) {
    return DecodeError::bad_field;
  }
  switch (c.type) {
    case Type::hello:
    case Type::hello_ack:
      out.hello.noise = bytes.subspan(header_len, noise);
      return decode_hello(r, out.hello);
    case Type::data:
      return decode_data(r, bytes, c, out.data);
    case Type::ack:
      return decode_ack(r, out.ack);
    case Type::retry:
      return decode_retry(r, out.retry);
    case Type::close:
      return decode_close(r, out.close);
    case Type::sealed:
      break;
  }
  return DecodeError::bad_type;  // unreachable: the type was checked above
}

}  // namespace

DecodeError decode(std::span<const uint8_t> bytes, Packet& out) {
  std::span<const uint8_t> rest;
  const DecodeError e = decode_packet(bytes, out, rest, false);
  if (e != DecodeError::ok) return e;
  return (out.common.flags & flag::kCoalesced) ? DecodeError::bad_coalesce : DecodeError::ok;
}

DecodeError decode_datagram(std::span<const uint8_t> bytes, Packet& first, Packet& second,
                            size_t& count, bool sealed) {
  count = 0;
  std::span<const uint8_t> rest;
  DecodeError e = decode_packet(bytes, first, rest, sealed);
  if (e != DecodeError::ok) return e;
  if (!(first.common.flags & flag::kCoalesced)) {
    count = 1;
    return DecodeError::ok;
  }
  // The packet after the ack: judged like a datagram of its own (so a missing
  // or cut one is too_short), then it must be the last one, a data packet,
  // from the same sender incarnation to the same receiver incarnation.
  std::span<const uint8_t> after;
  e = decode_packet(rest, second, after, sealed);
  if (e != DecodeError::ok) return e;
  const Common &a = first.common, &d = second.common;
  if ((d.flags & flag::kCoalesced) || d.type != Type::data || d.src_cid != a.src_cid ||
      d.src_port != a.src_port || second.data.dst_cid != first.ack.dst_cid) {
    return DecodeError::bad_coalesce;
  }
  count = 2;
  return DecodeError::ok;
}

size_t encode_hello(std::span<uint8_t> buf, const Common& c, const Hello& h) {
  if (c.type != Type::hello && c.type != Type::hello_ack) return 0;
  const size_t noise = noise_size(c.type, h.features, c.sealed);
  if (h.noise.size() != noise) return 0;
  if (buf.size() < kHelloHeaderLen + noise) return 0;
  Writer w(buf.data());
  write_common(w, c.type, c.flags, kHelloHeaderLen, c);
  w.u64(h.dst_cid);
  w.u32(h.features);
  w.u32(h.max_payload);
  w.u64(h.max_message);
  w.u32(h.recv_msg_window);
  w.u32(h.initial_window);
  w.u64(h.recv_buffer);
  w.bytes(h.cookie, kCookieSize);
  assert(w.pos() == buf.data() + kHelloHeaderLen);
  if (noise) w.bytes(h.noise.data(), noise);
  return finish(buf.first(kHelloHeaderLen + noise), c);
}

void hello_transcript(const Common& c, const Hello& h, uint8_t out[kHelloTranscriptSize]) {
  static_assert(kHelloTranscriptSize == kHelloHeaderLen);
  Writer w(out);
  write_common(w, c.type, c.flags, kHelloHeaderLen, c);
  w.u64(h.dst_cid);
  w.u32(h.features);
  w.u32(h.max_payload);
  w.u64(h.max_message);
  w.u32(h.recv_msg_window);
  w.u32(h.initial_window);
  w.u64(h.recv_buffer);
  std::memset(w.pos(), 0, kCookieSize);
}

bool is_sealed(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && load_be<uint16_t>(bytes.data()) == kMagic && bytes[2] == kVersion &&
         bytes[3] == static_cast<uint8_t>(Type::sealed);
}

DecodeError decode_sealed(std::span<const uint8_t> bytes, SealedHeader& out) {
  if (bytes.size() < kSealedMin) return DecodeError::too_short;
  const uint8_t* p = bytes.data();
  if (load_be<uint16_t>(p) != kMagic || p[2] != kVersion) return DecodeError::bad_version;
  if (p[3] != static_cast<uint8_t>(Type::sealed)) return DecodeError::bad_type;
  out.flags = p[4];
  out.src_port = load_be<uint16_t>(p + 6);
  out.dst_cid = load_be<uint64_t>(p + 8);
  out.counter = load_be<uint64_t>(p + 16);
  if ((out.flags & ~(sealed_flag::kKeyPhase | sealed_flag::kPeerPhase)) != 0 || p[5] != 0 ||
      out.dst_cid == 0)
    return DecodeError::bad_field;
  return DecodeError::ok;
}

void encode_sealed_header(uint8_t* out, const SealedHeader& h) {
  Writer w(out);
  w.u16(kMagic);
  w.u8(kVersion);
  w.u8(static_cast<uint8_t>(Type::sealed));
  w.u8(h.flags);
  w.u8(0);
  w.u16(h.src_port);
  w.u64(h.dst_cid);
  w.u64(h.counter);
}

size_t encode_data(std::span<uint8_t> buf, const Common& c, const Data& d) {
  // The payload's length is the datagram's length minus the header: the
  // payload_len and reserved members of Data are not written (see the layout
  // note at the top of this file).
  if (d.payload.size() > std::numeric_limits<uint16_t>::max()) return 0;
  const size_t total = kDataHeaderLen + d.payload.size();
  if (buf.size() < total) return 0;
  Writer w(buf.data());
  write_common(w, Type::data, c.flags, kDataHeaderLen, c);
  w.u64(d.dst_cid);
  w.u64(d.pn);
  w.u32(d.pn_floor_delta);
  w.u32(d.msg_floor_delta);
  w.u64(d.msg_id);
  w.u32(d.msg_len);
  w.u32(d.frag_index);
  w.u32(d.prev_delta);
  w.u16(d.frag_size);
  w.u16(d.flow);
  assert(w.pos() == buf.data() + kDataHeaderLen);
  if (!d.payload.empty()) std::memcpy(w.pos(), d.payload.data(), d.payload.size());
  return finish(buf.first(total), c);
}

size_t encode_ack(std::span<uint8_t> buf, const Common& c, const Ack& a) {
  if (a.range_count > tuning::kMaxAckRanges) return 0;
  // Ranges are written as (gap, len) pairs of 32 bits. A range or gap too
  // long for that ends the list there (the range itself clipped to its top
  // 2^32-1 packets): acknowledging fewer packets than were received is always
  // truthful, and the sender's pn_floor keeps real ranges far shorter.
  constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();
  uint32_t gaps[tuning::kMaxAckRanges];
  uint32_t lens[tuning::kMaxAckRanges];
  uint16_t count = 0;
  for (uint16_t i = 0; i < a.range_count; ++i) {
    const AckRange& r = a.ranges[i];
    assert(r.lo <= r.hi);
    assert(i == 0 ? r.hi == a.largest_pn : r.hi + 1 < a.ranges[i - 1].lo);
    uint64_t gap = 0;
    if (i > 0) {
      gap = a.ranges[i - 1].lo - r.hi - 1;
      if (gap > kMax32) break;
    }
    const uint64_t len_minus_1 = r.hi - r.lo;  // cannot overflow, unlike len
    gaps[count] = static_cast<uint32_t>(gap);
    lens[count] = static_cast<uint32_t>(len_minus_1 < kMax32 ? len_minus_1 + 1 : kMax32);
    ++count;
    if (len_minus_1 >= kMax32) break;  // clipped: the pns below it are not described
  }
  const size_t header_len = kAckHeaderLen + size_t{count} * kAckRangeSize;
  if (buf.size() < header_len) return 0;
  Writer w(buf.data());
  write_common(w, Type::ack, c.flags, header_len, c);
  w.u64(a.dst_cid);
  w.u64(a.largest_pn);
  w.u32(a.ack_delay_ns);
  w.u32(a.ack_seq);
  w.u64(a.max_msg_id);
  w.u64(a.msg_floor);
  w.u64(a.free_buffer);
  w.u16(count);
  w.u16(a.share);
  for (uint16_t i = 0; i < count; ++i) {
    w.u32(gaps[i]);
    w.u32(lens[i]);
  }
  assert(w.pos() == buf.data() + header_len);
  return finish(buf.first(header_len), c);
}

size_t encode_retry(std::span<uint8_t> buf, const Common& c, const Retry& rt) {
  if (buf.size() < kRetryHeaderLen) return 0;
  Common stateless = c;
  stateless.src_cid = 0;
  Writer w(buf.data());
  write_common(w, Type::retry, c.flags, kRetryHeaderLen, stateless);
  w.u64(rt.dst_cid);
  w.bytes(rt.cookie, kCookieSize);
  assert(w.pos() == buf.data() + kRetryHeaderLen);
  return finish(buf.first(kRetryHeaderLen), c);
}

size_t encode_close(std::span<uint8_t> buf, const Common& c, const Close& cl) {
  if (buf.size() < kCloseHeaderLen) return 0;
  Writer w(buf.data());
  write_common(w, Type::close, c.flags, kCloseHeaderLen, c);
  w.u64(cl.dst_cid);
  w.u32(cl.reason);
  w.u32(cl.reserved);
  assert(w.pos() == buf.data() + kCloseHeaderLen);
  return finish(buf.first(kCloseHeaderLen), c);
}

uint64_t dst_cid(const Packet& p) {
  switch (p.common.type) {
    case Type::hello:
    case Type::hello_ack:
      return p.hello.dst_cid;
    case Type::data:
      return p.data.dst_cid;
    case Type::ack:
      return p.ack.dst_cid;
    case Type::retry:
      return p.retry.dst_cid;
    case Type::close:
      return p.close.dst_cid;
    case Type::sealed:
      break;
  }
  return 0;
}

}  // namespace srdx::wire
