// libFuzzer target: the wire decoder on arbitrary bytes, as datagrams (one
// packet, or a coalesced ack then data). Whatever decodes must re-encode to
// exactly the same bytes (v2 has one encoding per packet: reserved fields are
// zero, ack ranges and lengths are canonical, a retry's src_cid is 0) and
// decode again to the same fields, cookies included. A coalesced datagram
// must be an ack with the flag, then a data packet without it, of the same
// connection ids (src_cid, dst_cid) and src_port. A hello offering sealing
// carries its Noise message. Every input is tried three times: as it is, as
// the inside of a sealed datagram (checksum 0, no Noise message) and with its
// (first packet's) checksum field corrected; and as a sealed datagram's clear
// header. Also checks the CRC32C paths against each other.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "crc32c.h"
#include "wire.h"

namespace {

using namespace srdx::wire;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wire_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool same(const Packet& a, const Packet& b) {
  if (a.common.type != b.common.type || a.common.flags != b.common.flags ||
      a.common.src_cid != b.common.src_cid || a.common.src_port != b.common.src_port) {
    return false;
  }
  switch (a.common.type) {
    case Type::hello:
    case Type::hello_ack: {
      const Hello &x = a.hello, &y = b.hello;
      return x.dst_cid == y.dst_cid && x.features == y.features && x.max_payload == y.max_payload &&
             x.max_message == y.max_message && x.recv_msg_window == y.recv_msg_window &&
             x.initial_window == y.initial_window && x.recv_buffer == y.recv_buffer &&
             std::memcmp(x.cookie, y.cookie, kCookieSize) == 0 &&
             x.noise.size() == y.noise.size() &&
             (x.noise.empty() || std::memcmp(x.noise.data(), y.noise.data(), x.noise.size()) == 0);
    }
    case Type::data: {
      const Data &x = a.data, &y = b.data;
      return x.dst_cid == y.dst_cid && x.pn == y.pn && x.pn_floor_delta == y.pn_floor_delta &&
             x.msg_floor_delta == y.msg_floor_delta && x.msg_id == y.msg_id &&
             x.msg_len == y.msg_len && x.frag_index == y.frag_index &&
             x.prev_delta == y.prev_delta && x.frag_size == y.frag_size && x.flow == y.flow &&
             x.payload_len == y.payload_len && x.reserved == y.reserved &&
             x.payload.size() == y.payload.size() &&
             (x.payload.empty() ||
              std::memcmp(x.payload.data(), y.payload.data(), x.payload.size()) == 0);
    }
    case Type::ack: {
      const Ack &x = a.ack, &y = b.ack;
      if (x.dst_cid != y.dst_cid || x.largest_pn != y.largest_pn ||
          x.ack_delay_ns != y.ack_delay_ns || x.ack_seq != y.ack_seq ||
          x.max_msg_id != y.max_msg_id || x.msg_floor != y.msg_floor ||
          x.free_buffer != y.free_buffer || x.range_count != y.range_count || x.share != y.share) {
        return false;
      }
      for (uint16_t i = 0; i < x.range_count; ++i) {
        if (x.ranges[i].lo != y.ranges[i].lo || x.ranges[i].hi != y.ranges[i].hi) return false;
      }
      return true;
    }
    case Type::retry: {
      const Retry &x = a.retry, &y = b.retry;
      return x.dst_cid == y.dst_cid && std::memcmp(x.cookie, y.cookie, kCookieSize) == 0;
    }
    case Type::close: {
      const Close &x = a.close, &y = b.close;
      return x.dst_cid == y.dst_cid && x.reason == y.reason && x.reserved == y.reserved;
    }
    case Type::sealed:
      return false;  // only decode_sealed() reads one; see round_trip()
  }
  return false;
}

// What an accepted packet promises its users (the endpoint relies on these).
void check_invariants(const Packet& p, size_t size, bool sealed) {
  // Every packet comes from a connection (src_cid != 0) except a retry,
  // which has none (src_cid 0).
  check((p.common.type == Type::retry) == (p.common.src_cid == 0), "src_cid");
  check((p.common.flags & ~flag::kKnown) == 0, "unknown flag accepted");
  // data, ack, retry and close name a connection at their receiver; a first
  // hello knows none yet (and a hello_ack's dst_cid is the endpoint's to judge).
  const bool hello = p.common.type == Type::hello || p.common.type == Type::hello_ack;
  check(hello || dst_cid(p) != 0, "dst_cid 0 accepted");
  switch (p.common.type) {
    case Type::hello:
    case Type::hello_ack:
      check(dst_cid(p) == p.hello.dst_cid, "dst_cid() of a hello");
      // A Noise message follows the header when the hello offers sealing,
      // unless the hello itself came sealed.
      check(p.hello.noise.size() == (sealed || !(p.hello.features & feature::kSealed) ? 0
                                     : p.common.type == Type::hello                   ? kNoise1Size
                                                                    : kNoise2Size),
            "noise length");
      check(size == kCommonHeaderSize + kHelloSize + p.hello.noise.size(), "hello length");
      check(p.hello.max_payload != 0 && p.hello.recv_msg_window != 0, "hello fields");
      break;
    case Type::data:
      check(dst_cid(p) == p.data.dst_cid, "dst_cid() of a data packet");
      break;
    case Type::ack:
      check(dst_cid(p) == p.ack.dst_cid, "dst_cid() of an ack");
      break;
    case Type::retry:
      check(dst_cid(p) == p.retry.dst_cid, "dst_cid() of a retry");
      check(size == kCommonHeaderSize + kRetrySize, "retry length");
      break;
    case Type::close:
      check(dst_cid(p) == p.close.dst_cid, "dst_cid() of a close");
      check(size == kCommonHeaderSize + kCloseSize, "close length");
      check(p.close.reason >= 1 && p.close.reason <= kMaxCloseReason, "close reason");
      check(p.close.reserved == 0, "close reserved");
      break;
    case Type::sealed:
      fail("a sealed datagram decoded as a packet");
  }
  if (p.common.type == Type::data) {
    const Data& d = p.data;
    check(d.payload_len == d.payload.size() && size == kDataOverhead + d.payload.size(),
          "payload length");
    const uint64_t offset = uint64_t{d.frag_index} * d.frag_size;
    check(d.msg_len == 0 ? d.frag_index == 0 && d.payload.empty()
                         : offset + d.payload.size() <= d.msg_len,
          "fragment outside its message");
  } else if (p.common.type == Type::ack) {
    const Ack& a = p.ack;
    check(a.range_count <= srdx::tuning::kMaxAckRanges, "range_count");
    check(a.range_count == 0 ? a.largest_pn == 0 : a.ranges[0].hi == a.largest_pn,
          "first range ends at largest_pn");
    for (uint16_t i = 0; i < a.range_count; ++i) {
      check(a.ranges[i].lo <= a.ranges[i].hi, "empty range");
      if (i > 0) check(a.ranges[i].hi + 1 < a.ranges[i - 1].lo, "ranges touch or overlap");
    }
  }
}

// Big enough for the largest data packet behind the largest ack.
constexpr size_t kMaxAckLen =
    kCommonHeaderSize + kAckSize + srdx::tuning::kMaxAckRanges * kAckRangeSize;
std::array<uint8_t, kMaxAckLen + kDataOverhead + 0xffff> g_in, g_out;

size_t encode(std::span<uint8_t> out, const Packet& p) {
  switch (p.common.type) {
    case Type::hello:
    case Type::hello_ack:
      return encode_hello(out, p.common, p.hello);
    case Type::data:
      return encode_data(out, p.common, p.data);
    case Type::ack:
      return encode_ack(out, p.common, p.ack);
    case Type::retry:
      return encode_retry(out, p.common, p.retry);
    case Type::close:
      return encode_close(out, p.common, p.close);
    case Type::sealed:
      break;
  }
  return 0;
}

// A sealed datagram's clear header: what decodes re-encodes to the same bytes.
void sealed_round_trip(std::span<const uint8_t> in) {
  SealedHeader h;
  const DecodeError e = decode_sealed(in, h);
  if (e != DecodeError::ok) {
    (void)to_drop_reason(e);
    return;
  }
  check(is_sealed(in), "decode_sealed took what is_sealed refuses");
  check(h.dst_cid != 0, "sealed dst_cid 0 accepted");
  check((h.flags & ~(sealed_flag::kKeyPhase | sealed_flag::kPeerPhase)) == 0,
        "unknown sealed flag accepted");
  std::array<uint8_t, kSealedHeaderSize> out{};
  encode_sealed_header(out.data(), h);
  check(std::memcmp(out.data(), in.data(), kSealedHeaderSize) == 0,
        "re-encoded sealed header differs");
}

// Decodes `in` and, if it is a datagram, checks everything above. `sealed`:
// as the inside of a sealed datagram (checksum 0, no Noise message).
void round_trip(std::span<const uint8_t> in, bool sealed) {
  Packet p, p2;
  size_t count = 0;
  const DecodeError e = decode_datagram(in, p, p2, count, sealed);
  if (e != DecodeError::ok) {
    (void)to_drop_reason(e);
    check(count == 0, "count on error");
    return;
  }
  check(count == 1 || count == 2, "count");
  const bool coalesced = count == 2;
  check(coalesced == ((p.common.flags & flag::kCoalesced) != 0), "coalesced flag and count");
  size_t first_len = in.size();
  if (coalesced) {
    check(p.common.type == Type::ack && p2.common.type == Type::data, "coalesced types");
    check(!(p2.common.flags & flag::kCoalesced), "nested coalescing");
    check(p2.common.src_cid == p.common.src_cid && p2.common.src_port == p.common.src_port &&
              p2.data.dst_cid == p.ack.dst_cid,
          "coalesced parts from different senders or to different receivers");
    first_len = kCommonHeaderSize + kAckSize + size_t{p.ack.range_count} * kAckRangeSize;
    check(first_len < in.size(), "ack length");
    check_invariants(p2, in.size() - first_len, sealed);
    if (!sealed) {
      Packet single;
      check(decode(in, single) == DecodeError::bad_coalesce, "decode() took two packets");
    }
  }
  check_invariants(p, first_len, sealed);
  p.common.sealed = p2.common.sealed = sealed;

  size_t n = encode(g_out, p);
  check(n == first_len, "re-encoded length differs");
  if (coalesced) n += encode(std::span<uint8_t>(g_out).subspan(n), p2);
  check(n == in.size(), "re-encoded length differs");
  check(std::memcmp(g_out.data(), in.data(), n) == 0, "re-encoded bytes differ");

  Packet q, q2;
  size_t count2 = 0;
  check(decode_datagram(std::span<const uint8_t>(g_out.data(), n), q, q2, count2, sealed) ==
                DecodeError::ok &&
            count2 == count,
        "re-encoded datagram does not decode");
  check(same(p, q) && (!coalesced || same(p2, q2)), "decode(encode(decode(x))) != decode(x)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  if (crc32c_impl::hardware_available()) {
    check(crc32c_impl::hardware(in, 0) == crc32c_impl::portable(in, 0), "crc32c paths disagree");
  }
  round_trip(in, false);
  round_trip(in, true);  // as the inside of a sealed datagram
  sealed_round_trip(in);

  // The same bytes with a correct checksum, so that mutations reach the field
  // checks behind it without the fuzzer having to solve CRC32C each time.
  if (size >= 12 && size <= g_in.size()) {
    std::memcpy(g_in.data(), data, size);
    std::memset(g_in.data() + 8, 0, 4);
    const uint32_t crc = crc32c(std::span<const uint8_t>(g_in.data(), size));
    for (int i = 0; i < 4; ++i) g_in[8 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    round_trip(std::span<const uint8_t>(g_in.data(), size), false);
  }
  return 0;
}
