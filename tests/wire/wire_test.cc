// Wire format v2: checksum, encoders, decoder. The golden vectors pin the byte
// layout that docs/protocol.md describes; the corruption tests check that
// every malformed datagram is refused with the right DecodeError.
#include "wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "crc32c.h"

namespace srdx::wire {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint16_t kMax16 = std::numeric_limits<uint16_t>::max();
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
// Every flag a packet that fills its datagram may carry (coalesced says that
// another packet follows).
constexpr uint16_t kLoneFlags = flag::kKnown & ~flag::kCoalesced;

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// ---- CRC32C -----------------------------------------------------------------

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
  // RFC 3720 appendix B.4.
  Bytes zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(crc32c_impl::portable(as_bytes("123456789"), 0), 0xE3069283u);
  EXPECT_EQ(crc32c_impl::portable(up, 0), 0x46DD794Eu);
}

TEST(Crc32c, ContinuationEqualsWhole) {
  std::mt19937_64 rng(7);
  Bytes buf(300);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint32_t whole = crc32c(buf);
  const std::span<const uint8_t> s(buf);
  for (size_t cut = 0; cut <= buf.size(); ++cut) {
    EXPECT_EQ(crc32c(s.subspan(cut), crc32c(s.first(cut))), whole) << cut;
    EXPECT_EQ(crc32c_impl::portable(s.subspan(cut), crc32c_impl::portable(s.first(cut), 0)), whole)
        << cut;
  }
}

TEST(Crc32c, HoleReadsAsZero) {
  std::mt19937_64 rng(9);
  Bytes buf(1200);
  for (auto& b : buf) b = static_cast<uint8_t>(rng() | 1);  // no zero bytes
  for (size_t len : {4u, 12u, 100u, 164u, 1200u}) {
    for (size_t hole = 0; hole + 4 <= len; hole += (len > 200 ? 97 : 1)) {
      Bytes copy(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
      std::fill_n(copy.begin() + static_cast<std::ptrdiff_t>(hole), 4, 0);
      ASSERT_EQ(crc32c_hole(std::span<const uint8_t>(buf.data(), len), hole), crc32c(copy))
          << len << " " << hole;
    }
  }
}

// Every implementation against the portable one, over every length up to 300
// and random ones past two jumbo frames from every alignment: the unit test
// crc32c_selftest (crc32c_selftest.cc, without GoogleTest so that
// scripts/check-arm64 runs the same on arm64).

// ---- helpers ----------------------------------------------------------------

void put_be(Bytes& b, size_t off, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}
// Recomputes the checksum after a test edited a packet, so that the edit is
// what the decoder judges.
void reseal(Bytes& b) {
  put_be(b, 8, 0, 4);
  put_be(b, 8, crc32c(b), 4);
}
void patch(Bytes& b, size_t off, uint64_t v, size_t width) {
  put_be(b, off, v, width);
  reseal(b);
}

DecodeError dec(const Bytes& b) {
  Packet p;
  return decode(b, p);
}

Bytes enc_hello(const Common& c, const Hello& h) {
  Bytes b(256);
  b.resize(encode_hello(b, c, h));
  return b;
}
Bytes enc_data(const Common& c, const Data& d) {
  Bytes b(kDataOverhead + kMax16);
  b.resize(encode_data(b, c, d));
  return b;
}
Bytes enc_ack(const Common& c, const Ack& a) {
  Bytes b(1024);
  b.resize(encode_ack(b, c, a));
  return b;
}
Bytes enc_retry(const Common& c, const Retry& r) {
  Bytes b(256);
  b.resize(encode_retry(b, c, r));
  return b;
}
Bytes enc_close(const Common& c, const Close& cl) {
  Bytes b(256);
  b.resize(encode_close(b, c, cl));
  return b;
}

// Byte offsets the corruption tests patch.
namespace off {
constexpr size_t kType = 3, kFlags = 4, kHeaderLen = 6, kChecksum = 8, kReserved = 12, kSrcCid = 16,
                 kBody = 24;
// Every type's own header starts with dst_cid.
constexpr size_t kDstCid = kBody;
// hello
constexpr size_t kMaxPayload = kBody + 12, kRecvMsgWindow = kBody + 24,
                 kHelloInitialWindow = kBody + 28, kHelloCookie = kBody + 40;
// ack
constexpr size_t kLargest = kBody + 8, kFreeBuffer = kBody + 40, kRangeCount = kBody + 48,
                 kAckShare = kBody + 50, kRanges = kBody + 52;
// retry
constexpr size_t kRetryCookie = kBody + 8;
// close
constexpr size_t kCloseReason = kBody + 8, kCloseReserved = kBody + 12;
}  // namespace off

// Header lengths, written out rather than taken from wire.h.
constexpr size_t kHelloLen = 80, kDataLen = 72, kAckLen = 76, kRetryLen = 48, kCloseLen = 40;

Common common(Type t, uint16_t flags = 0, uint64_t src_cid = 7) {
  Common c;
  c.type = t;
  c.flags = flags;
  c.src_cid = src_cid;
  return c;
}

Hello valid_hello() {
  Hello h;
  h.dst_cid = 9;
  h.features = feature::kOrdered;
  h.max_payload = 1400;
  h.max_message = 1 << 20;
  h.recv_msg_window = 4096;
  h.recv_buffer = 64 << 20;
  return h;
}

void fill_cookie(uint8_t (&cookie)[kCookieSize], uint8_t first) {
  for (size_t i = 0; i < kCookieSize; ++i) cookie[i] = static_cast<uint8_t>(first + i);
}

// A hello that echoes the cookie of a retry.
Hello valid_hello_with_cookie() {
  Hello h = valid_hello();
  fill_cookie(h.cookie, 0xc0);
  return h;
}

// The retry that answers a hello whose src_cid was 7.
Retry valid_retry() {
  Retry r;
  r.dst_cid = 7;
  fill_cookie(r.cookie, 0xc0);
  return r;
}

Close valid_close() {
  Close cl;
  cl.dst_cid = 9;
  cl.reason = static_cast<uint32_t>(CloseReason::removed);
  return cl;
}

// Fragment 1 of a 3000-byte message cut in 1400-byte fragments.
struct DataFixture {
  Bytes payload = Bytes(1400);
  Data d;
  DataFixture() {
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
    d.dst_cid = 9;
    d.pn = 50;
    d.pn_floor_delta = 5;
    d.msg_floor_delta = 3;
    d.msg_id = 100;
    d.msg_len = 3000;
    d.frag_index = 1;
    d.prev_delta = 1;
    d.frag_size = 1400;
    d.flow = 12;
    d.payload = payload;
  }
};

Ack valid_ack() {
  Ack a;
  a.dst_cid = 9;
  a.largest_pn = 100;
  a.ack_delay_ns = 5000;
  a.ack_seq = 3;
  a.max_msg_id = 4196;
  a.msg_floor = 77;
  a.free_buffer = uint64_t{5} << 32;  // more than 32 bits can say
  a.range_count = 3;
  a.ranges[0] = {90, 100};
  a.ranges[1] = {50, 80};
  a.ranges[2] = {10, 10};
  return a;
}

void expect_same(const Common& a, const Common& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.src_port, b.src_port);
  EXPECT_EQ(a.src_cid, b.src_cid);
}
void expect_same_cookie(const uint8_t (&a)[kCookieSize], const uint8_t (&b)[kCookieSize]) {
  EXPECT_EQ(Bytes(a, a + kCookieSize), Bytes(b, b + kCookieSize));
}
void expect_same(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.dst_cid, b.dst_cid);
  EXPECT_EQ(a.features, b.features);
  EXPECT_EQ(a.max_payload, b.max_payload);
  EXPECT_EQ(a.max_message, b.max_message);
  EXPECT_EQ(a.recv_msg_window, b.recv_msg_window);
  EXPECT_EQ(a.initial_window, b.initial_window);
  EXPECT_EQ(a.recv_buffer, b.recv_buffer);
  expect_same_cookie(a.cookie, b.cookie);
}
void expect_same(const Data& a, const Data& b) {
  EXPECT_EQ(a.dst_cid, b.dst_cid);
  EXPECT_EQ(a.pn, b.pn);
  EXPECT_EQ(a.pn_floor_delta, b.pn_floor_delta);
  EXPECT_EQ(a.msg_floor_delta, b.msg_floor_delta);
  EXPECT_EQ(a.msg_id, b.msg_id);
  EXPECT_EQ(a.msg_len, b.msg_len);
  EXPECT_EQ(a.frag_index, b.frag_index);
  EXPECT_EQ(a.prev_delta, b.prev_delta);
  EXPECT_EQ(a.frag_size, b.frag_size);
  EXPECT_EQ(a.flow, b.flow);
  EXPECT_EQ(b.payload_len, b.payload.size());
  EXPECT_EQ(a.payload.size(), b.payload.size());
  EXPECT_TRUE(std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end()));
}
void expect_same(const Ack& a, const Ack& b) {
  EXPECT_EQ(a.dst_cid, b.dst_cid);
  EXPECT_EQ(a.largest_pn, b.largest_pn);
  EXPECT_EQ(a.ack_delay_ns, b.ack_delay_ns);
  EXPECT_EQ(a.ack_seq, b.ack_seq);
  EXPECT_EQ(a.max_msg_id, b.max_msg_id);
  EXPECT_EQ(a.msg_floor, b.msg_floor);
  EXPECT_EQ(a.free_buffer, b.free_buffer);
  EXPECT_EQ(a.share, b.share);
  ASSERT_EQ(a.range_count, b.range_count);
  for (int i = 0; i < a.range_count; ++i) {
    EXPECT_EQ(a.ranges[i].lo, b.ranges[i].lo) << i;
    EXPECT_EQ(a.ranges[i].hi, b.ranges[i].hi) << i;
  }
}

void expect_same(const Retry& a, const Retry& b) {
  EXPECT_EQ(a.dst_cid, b.dst_cid);
  expect_same_cookie(a.cookie, b.cookie);
}
void expect_same(const Close& a, const Close& b) {
  EXPECT_EQ(a.dst_cid, b.dst_cid);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.reserved, b.reserved);
}

Packet decoded(const Bytes& b) {
  Packet p;
  EXPECT_EQ(decode(b, p), DecodeError::ok);
  return p;
}

// ---- round trips ------------------------------------------------------------

TEST(WireRoundTrip, HelloAndHelloAckAtBoundaries) {
  Hello lo;  // a first hello: no dst_cid, no cookie yet
  lo.max_payload = 1;
  lo.recv_msg_window = 1;
  Hello hi;
  hi.dst_cid = kMax64;
  // Unknown feature bits are carried, not refused (sealed, which brings a
  // Noise message, is covered by WireV3).
  hi.features = kMax32 & ~feature::kSealed;
  hi.max_payload = kMax32;
  hi.max_message = kMax64;
  hi.recv_msg_window = kMax32;
  hi.recv_buffer = kMax64;
  std::fill_n(hi.cookie, kCookieSize, 0xff);
  for (Type t : {Type::hello, Type::hello_ack}) {
    for (const Hello& h : {lo, hi, valid_hello(), valid_hello_with_cookie()}) {
      for (uint64_t cid : {uint64_t{1}, kMax64}) {
        Common c = common(t, kLoneFlags, cid);
        c.src_port = static_cast<uint16_t>(cid);
        const Bytes b = enc_hello(c, h);
        ASSERT_EQ(b.size(), kHelloLen);
        const Packet p = decoded(b);
        expect_same(c, p.common);
        expect_same(h, p.hello);
      }
    }
  }
}

// The echo (feature kAckEcho) travels in data packets only: any value
// there, and an encoder never writes it into another type.
// Data carries an ACK's entropy there, an ack its receiver's host wait
// (feature kRxWait); every other type writes zero whatever it is given.
TEST(WireRoundTrip, EchoIsCarriedByDataAndAckOnly) {
  for (uint16_t e : {uint16_t{0}, uint16_t{1}, kMax16}) {
    Common c = common(Type::data, flag::kOrdered);
    c.echo = e;
    DataFixture f;
    Packet out;
    ASSERT_EQ(decode(enc_data(c, f.d), out), DecodeError::ok);
    EXPECT_EQ(out.common.echo, e);
    Common a = common(Type::ack);
    a.echo = e;
    ASSERT_EQ(decode(enc_ack(a, valid_ack()), out), DecodeError::ok);
    EXPECT_EQ(out.common.echo, e);
    Common k = common(Type::close, kLoneFlags);
    k.echo = e;
    Close cl;
    cl.dst_cid = 7;
    cl.reason = 1;
    ASSERT_EQ(decode(enc_close(k, cl), out), DecodeError::ok);
    EXPECT_EQ(out.common.echo, 0u);
  }
}

TEST(WireRoundTrip, DataAtBoundaries) {
  // The largest everything: the last fragment of a 4 GiB - 1 message cut in
  // 64 KiB - 1 fragments, with every other field at its maximum.
  Bytes big(kMax16, 0xa5);
  Data hi;
  hi.dst_cid = kMax64;
  hi.pn = kMax64;
  hi.pn_floor_delta = kMax32;
  hi.msg_floor_delta = kMax32;
  hi.msg_id = kMax64;
  hi.msg_len = kMax32;
  hi.frag_size = kMax16;
  hi.frag_index = kMax32 / kMax16 - 1;  // offset 4294901760, ends at msg_len
  hi.prev_delta = kMax32;
  hi.flow = kMax16;
  hi.payload = big;
  // The smallest: the empty message (frag_size is free then) to the
  // smallest connection id.
  Data empty;
  empty.dst_cid = 1;
  empty.frag_size = kMax16;
  // One-byte fragments up to the last byte of a 4 GiB - 1 message.
  Bytes one(1, 0x42);
  Data tiny;
  tiny.dst_cid = 1;
  tiny.msg_len = kMax32;
  tiny.frag_size = 1;
  tiny.frag_index = kMax32 - 1;
  tiny.payload = one;
  // A single fragment shorter than frag_size.
  Data single = tiny;
  single.msg_len = 1;
  single.frag_size = 1400;
  single.frag_index = 0;

  DataFixture f;
  for (const Data* d : {&hi, &empty, &tiny, &single, &f.d}) {
    for (uint16_t flags : {kLoneFlags, uint16_t{0}}) {
      Data dd = *d;
      if (!(flags & flag::kOrdered)) dd.prev_delta = 0;
      const Common c = common(Type::data, flags, kMax64);
      const Bytes b = enc_data(c, dd);
      ASSERT_EQ(b.size(), kDataLen + dd.payload.size());
      const Packet p = decoded(b);
      expect_same(c, p.common);
      expect_same(dd, p.data);
      EXPECT_EQ(p.data.payload.data(), b.data() + kDataOverhead) << "payload points into bytes";
    }
  }
}

TEST(WireRoundTrip, AckAtBoundaries) {
  Ack lo;  // one range holding packet number 0 only, to the smallest id
  lo.dst_cid = 1;
  lo.range_count = 1;
  lo.ranges[0] = {0, 0};
  Ack hi;
  hi.dst_cid = kMax64;
  hi.largest_pn = kMax64;
  hi.ack_delay_ns = kMax32;
  hi.ack_seq = kMax32;
  hi.max_msg_id = kMax64;
  hi.msg_floor = kMax64;
  hi.free_buffer = kMax64;
  hi.share = 0xffff;
  hi.range_count = 1;
  hi.ranges[0] = {kMax64 - kMax32 + 1, kMax64};  // the longest range: 2^32-1 pns
  Ack update = hi;                               // no ranges: a pure credit and msg_floor update
  update.largest_pn = 0;
  update.range_count = 0;
  for (const Ack& a : {lo, hi, update, valid_ack()}) {
    const Common c = common(Type::ack, 0, 1);
    const Bytes b = enc_ack(c, a);
    ASSERT_EQ(b.size(), kAckLen + a.range_count * 8u);
    const Packet p = decoded(b);
    expect_same(c, p.common);
    expect_same(a, p.ack);
  }
}

TEST(WireRoundTrip, RetryAtBoundaries) {
  Retry lo;  // the smallest dst_cid, an all-zero cookie
  lo.dst_cid = 1;
  Retry hi;
  hi.dst_cid = kMax64;
  std::fill_n(hi.cookie, kCookieSize, 0xff);
  for (const Retry& r : {lo, hi, valid_retry()}) {
    for (uint16_t flags : {kLoneFlags, uint16_t{0}}) {
      Common c = common(Type::retry, flags, 0);
      c.src_port = kMax16;
      const Bytes b = enc_retry(c, r);
      ASSERT_EQ(b.size(), kRetryLen);
      const Packet p = decoded(b);
      expect_same(c, p.common);
      expect_same(r, p.retry);
      EXPECT_EQ(dst_cid(p), r.dst_cid);
    }
  }
}

TEST(WireRoundTrip, RetryIsSentWithoutConnectionId) {
  // A retry belongs to no connection: whatever src_cid the caller passes,
  // the encoder writes 0.
  Common c = common(Type::retry, flag::kAckNow, 0x0102030405060708);
  const Bytes b = enc_retry(c, valid_retry());
  ASSERT_EQ(b.size(), kRetryLen);
  EXPECT_EQ(b[off::kType], 5);
  EXPECT_EQ(Bytes(b.begin() + off::kSrcCid, b.begin() + off::kSrcCid + 8), Bytes(8, 0));
  const Packet p = decoded(b);
  EXPECT_EQ(p.common.type, Type::retry);
  EXPECT_EQ(p.common.src_cid, 0u);
  EXPECT_EQ(p.common.flags, flag::kAckNow);
  expect_same(valid_retry(), p.retry);
  EXPECT_EQ(b, enc_retry(common(Type::retry, flag::kAckNow, 0), valid_retry()));
}

TEST(WireRoundTrip, CloseAtBoundaries) {
  for (uint32_t reason = 1; reason <= kMaxCloseReason; ++reason) {
    for (uint64_t cid : {uint64_t{1}, kMax64}) {
      Close cl;
      cl.dst_cid = cid;
      cl.reason = reason;
      for (uint64_t src_cid : {uint64_t{1}, kMax64}) {
        const Common c = common(Type::close, kLoneFlags, src_cid);
        const Bytes b = enc_close(c, cl);
        ASSERT_EQ(b.size(), kCloseLen);
        const Packet p = decoded(b);
        expect_same(c, p.common);
        expect_same(cl, p.close);
        EXPECT_EQ(dst_cid(p), cid);
      }
    }
  }
  // The reasons wire.h names are 1..kMaxCloseReason.
  EXPECT_EQ(static_cast<uint32_t>(CloseReason::no_connection), 1u);
  EXPECT_EQ(static_cast<uint32_t>(CloseReason::removed), 2u);
  EXPECT_EQ(static_cast<uint32_t>(CloseReason::timeout), 3u);
  EXPECT_EQ(static_cast<uint32_t>(CloseReason::idle), 4u);
  EXPECT_EQ(static_cast<uint32_t>(CloseReason::replaced), 5u);
  EXPECT_EQ(kMaxCloseReason, 5u);
}

TEST(WireRoundTrip, DstCidOfEveryType) {
  Hello h = valid_hello();
  h.dst_cid = 0x11;
  DataFixture f;
  f.d.dst_cid = 0x22;
  Ack a = valid_ack();
  a.dst_cid = 0x33;
  Retry r = valid_retry();
  r.dst_cid = 0x44;
  Close cl = valid_close();
  cl.dst_cid = 0x55;
  EXPECT_EQ(dst_cid(decoded(enc_hello(common(Type::hello), h))), 0x11u);
  EXPECT_EQ(dst_cid(decoded(enc_hello(common(Type::hello_ack), h))), 0x11u);
  EXPECT_EQ(dst_cid(decoded(enc_data(common(Type::data, flag::kOrdered), f.d))), 0x22u);
  EXPECT_EQ(dst_cid(decoded(enc_ack(common(Type::ack), a))), 0x33u);
  EXPECT_EQ(dst_cid(decoded(enc_retry(common(Type::retry, 0, 0), r))), 0x44u);
  EXPECT_EQ(dst_cid(decoded(enc_close(common(Type::close), cl))), 0x55u);
  // A first hello names no connection at the receiver.
  h.dst_cid = 0;
  EXPECT_EQ(dst_cid(decoded(enc_hello(common(Type::hello), h))), 0u);
}

TEST(WireRoundTrip, AckWithOneAndMaxRanges) {
  Ack one = valid_ack();
  one.range_count = 1;
  one.ranges[0] = {7, 100};
  expect_same(one, decoded(enc_ack(common(Type::ack), one)).ack);

  // kMaxAckRanges ranges, alternately with the smallest gap (1) and the
  // largest (2^32-1), the last one ending exactly at packet number 0.
  Ack full;
  full.dst_cid = 9;
  full.range_count = tuning::kMaxAckRanges;
  uint64_t lo = 0;
  for (int i = tuning::kMaxAckRanges - 1; i >= 0; --i) {
    const uint64_t len = 1 + static_cast<uint64_t>(i) * 3;
    full.ranges[i] = {lo, lo + len - 1};
    lo += len + (i % 2 ? 1 : kMax32);
  }
  full.largest_pn = full.ranges[0].hi;
  const Bytes b = enc_ack(common(Type::ack), full);
  ASSERT_EQ(b.size(), kAckLen + tuning::kMaxAckRanges * 8u);
  expect_same(full, decoded(b).ack);
}

TEST(WireRoundTrip, AckEncoderClipsWhatDoesNotFit32Bits) {
  // A range longer than 2^32-1 is cut to its top 2^32-1 packets and ends the
  // list; so does a gap longer than 2^32-1: acking less is always truthful.
  Ack a = valid_ack();
  a.largest_pn = uint64_t{1} << 40;
  a.range_count = 2;
  a.ranges[0] = {0x10, a.largest_pn};
  a.ranges[1] = {1, 2};
  Ack p = decoded(enc_ack(common(Type::ack), a)).ack;
  ASSERT_EQ(p.range_count, 1);
  EXPECT_EQ(p.ranges[0].hi, a.largest_pn);
  EXPECT_EQ(p.ranges[0].lo, a.largest_pn - kMax32 + 1);

  a.ranges[0] = {a.largest_pn - 5, a.largest_pn};
  a.ranges[1] = {1, 2};  // gap of about 2^40
  p = decoded(enc_ack(common(Type::ack), a)).ack;
  ASSERT_EQ(p.range_count, 1);
  EXPECT_EQ(p.ranges[0].lo, a.largest_pn - 5);
}

// ---- the golden vectors -----------------------------------------------------

// Every byte of one packet of every type written out from the layout in
// docs/protocol.md, so that the document, wire.h and wire.cc cannot drift
// apart unnoticed. The checksums were computed independently (bitwise CRC32C
// in Python, checked against the old v1 data vector) over these bytes with
// the checksum field zero.

TEST(WireGolden, DataPacketBytes) {
  const Bytes golden = {
      0x52, 0x44,                                      // 0 magic "RD"
      0x03,                                            // 2 version
      0x03,                                            // 3 type: data
      0x00, 0x05,                                      // 4 flags: ordered | ack_now
      0x00, 0x48,                                      // 6 header_len: 72
      0x92, 0x8f, 0xd0, 0xb7,                          // 8 checksum
      0x00, 0x00,                                      // 12 src_port: 0
      0x00, 0x00,                                      // 14 reserved
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 16 src_cid
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,  // 24 dst_cid
      0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,  // 32 pn
      0x31, 0x32, 0x33, 0x34,                          // 40 pn_floor_delta
      0x41, 0x42, 0x43, 0x44,                          // 44 msg_floor_delta
      0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,  // 48 msg_id
      0x00, 0x00, 0x08, 0x05,                          // 56 msg_len: 2053
      0x00, 0x00, 0x00, 0x02,                          // 60 frag_index: 2
      0x00, 0x00, 0x00, 0x03,                          // 64 prev_delta: 3
      0x04, 0x00,                                      // 68 frag_size: 1024
      0x71, 0x72,                                      // 70 flow
      'h',  'e',  'l',  'l',  'o',                     // 72 payload: bytes 2048..2052
  };
  const Bytes payload = {'h', 'e', 'l', 'l', 'o'};
  Data d;
  d.dst_cid = 0x1112131415161718;
  d.pn = 0x2122232425262728;
  d.pn_floor_delta = 0x31323334;
  d.msg_floor_delta = 0x41424344;
  d.msg_id = 0x5152535455565758;
  d.msg_len = 2053;
  d.frag_index = 2;
  d.prev_delta = 3;
  d.frag_size = 1024;
  d.flow = 0x7172;
  d.payload = payload;
  const Common c = common(Type::data, flag::kOrdered | flag::kAckNow, 0x0102030405060708);
  EXPECT_EQ(enc_data(c, d), golden);

  const Packet p = decoded(golden);
  expect_same(c, p.common);
  expect_same(d, p.data);
  EXPECT_EQ(p.data.payload_len, 5);
}

TEST(WireGolden, HelloPacketBytes) {
  // A hello that echoes a retry's cookie; the hello_ack below is the same
  // with type 2 and no cookie.
  Bytes golden = {
      0x52, 0x44,                                      // 0 magic "RD"
      0x03,                                            // 2 version
      0x01,                                            // 3 type: hello
      0x00, 0x00,                                      // 4 flags
      0x00, 0x50,                                      // 6 header_len: 80
      0xd2, 0x2c, 0x89, 0xd3,                          // 8 checksum
      0x0c, 0x0d,                                      // 12 src_port
      0x00, 0x00,                                      // 14 reserved
      0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,  // 16 src_cid
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 24 dst_cid
      0x11, 0x12, 0x13, 0x14,                          // 32 features
      0x21, 0x22, 0x23, 0x24,                          // 36 max_payload
      0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,  // 40 max_message
      0x41, 0x42, 0x43, 0x44,                          // 48 recv_msg_window
      0x00, 0x00, 0x00, 0x00,                          // 52 reserved
      0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,  // 56 recv_buffer
      0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,  // 64 cookie
      0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,  //
  };
  Hello h;
  h.dst_cid = 0x0102030405060708;
  h.features = 0x11121314;
  h.max_payload = 0x21222324;
  h.max_message = 0x3132333435363738;
  h.recv_msg_window = 0x41424344;
  h.recv_buffer = 0x5152535455565758;
  fill_cookie(h.cookie, 0xc0);
  Common c = common(Type::hello, 0, 0xa0a1a2a3a4a5a6a7);
  c.src_port = 0x0c0d;
  EXPECT_EQ(enc_hello(c, h), golden);
  Packet p = decoded(golden);
  expect_same(c, p.common);
  expect_same(h, p.hello);

  golden[3] = 0x02;  // type: hello_ack
  const uint8_t ack_checksum[] = {0x84, 0x72, 0xf5, 0x01};
  std::copy(std::begin(ack_checksum), std::end(ack_checksum), golden.begin() + 8);
  std::fill(golden.begin() + 64, golden.end(), 0);  // no cookie
  std::fill_n(h.cookie, kCookieSize, 0);
  c.type = Type::hello_ack;
  EXPECT_EQ(enc_hello(c, h), golden);
  p = decoded(golden);
  expect_same(c, p.common);
  expect_same(h, p.hello);
}

TEST(WireGolden, AckPacketBytes) {
  const Bytes golden = {
      0x52, 0x44,                                      // 0 magic "RD"
      0x03,                                            // 2 version
      0x04,                                            // 3 type: ack
      0x00, 0x00,                                      // 4 flags
      0x00, 0x5c,                                      // 6 header_len: 76 + 2 x 8
      0x99, 0x98, 0xe8, 0xa3,                          // 8 checksum
      0x0c, 0x0d,                                      // 12 src_port
      0x00, 0x00,                                      // 14 reserved
      0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,  // 16 src_cid
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 24 dst_cid
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // 32 largest_pn: 1000
      0x21, 0x22, 0x23, 0x24,                          // 40 ack_delay_ns
      0x31, 0x32, 0x33, 0x34,                          // 44 ack_seq
      0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,  // 48 max_msg_id
      0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,  // 56 msg_floor
      0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,  // 64 free_buffer
      0x00, 0x02,                                      // 72 range_count
      0x00, 0x00,                                      // 74 share
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,  // 76 gap 0, len 10
      0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x50,  // 84 gap 11, len 80
  };
  Ack a;
  a.dst_cid = 0x0102030405060708;
  a.largest_pn = 1000;
  a.ack_delay_ns = 0x21222324;
  a.ack_seq = 0x31323334;
  a.max_msg_id = 0x4142434445464748;
  a.msg_floor = 0x6162636465666768;
  a.free_buffer = 0x7172737475767778;
  a.range_count = 2;
  a.ranges[0] = {991, 1000};  // len 10
  a.ranges[1] = {900, 979};   // gap 11 (980..990), len 80
  Common c = common(Type::ack, 0, 0xa0a1a2a3a4a5a6a7);
  c.src_port = 0x0c0d;
  EXPECT_EQ(enc_ack(c, a), golden);
  const Packet p = decoded(golden);
  expect_same(c, p.common);
  expect_same(a, p.ack);
}

TEST(WireGolden, RetryPacketBytes) {
  // The answer to the hello above (src_cid a0..a7) before it had a cookie.
  const Bytes golden = {
      0x52, 0x44,                                      // 0 magic "RD"
      0x03,                                            // 2 version
      0x05,                                            // 3 type: retry
      0x00, 0x00,                                      // 4 flags
      0x00, 0x30,                                      // 6 header_len: 48
      0x90, 0x85, 0x9b, 0x6f,                          // 8 checksum
      0x0c, 0x0d,                                      // 12 src_port
      0x00, 0x00,                                      // 14 reserved
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 16 src_cid: none
      0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,  // 24 dst_cid
      0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,  // 32 cookie
      0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,  //
  };
  Retry r;
  r.dst_cid = 0xa0a1a2a3a4a5a6a7;
  fill_cookie(r.cookie, 0xc0);
  Common c = common(Type::retry, 0, 0);
  c.src_port = 0x0c0d;
  EXPECT_EQ(enc_retry(c, r), golden);
  const Packet p = decoded(golden);
  expect_same(c, p.common);
  expect_same(r, p.retry);
}

TEST(WireGolden, ClosePacketBytes) {
  const Bytes golden = {
      0x52, 0x44,                                      // 0 magic "RD"
      0x03,                                            // 2 version
      0x06,                                            // 3 type: close
      0x00, 0x00,                                      // 4 flags
      0x00, 0x28,                                      // 6 header_len: 40
      0x78, 0x88, 0xd1, 0x32,                          // 8 checksum
      0x0c, 0x0d,                                      // 12 src_port
      0x00, 0x00,                                      // 14 reserved
      0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,  // 16 src_cid
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 24 dst_cid
      0x00, 0x00, 0x00, 0x03,                          // 32 reason: timeout
      0x00, 0x00, 0x00, 0x00,                          // 36 reserved
  };
  Close cl;
  cl.dst_cid = 0x0102030405060708;
  cl.reason = static_cast<uint32_t>(CloseReason::timeout);
  Common c = common(Type::close, 0, 0xa0a1a2a3a4a5a6a7);
  c.src_port = 0x0c0d;
  EXPECT_EQ(enc_close(c, cl), golden);
  const Packet p = decoded(golden);
  expect_same(c, p.common);
  expect_same(cl, p.close);
}

// ---- encoders ---------------------------------------------------------------

TEST(WireEncode, ReturnsZeroWhenTheBufferIsTooSmall) {
  DataFixture f;
  const Ack a = valid_ack();
  const Hello h = valid_hello();
  const size_t need_hello = enc_hello(common(Type::hello), h).size();
  const size_t need_data = enc_data(common(Type::data, flag::kOrdered), f.d).size();
  const size_t need_ack = enc_ack(common(Type::ack), a).size();
  const size_t need_retry = enc_retry(common(Type::retry, 0, 0), valid_retry()).size();
  const size_t need_close = enc_close(common(Type::close), valid_close()).size();
  ASSERT_EQ(need_hello, kHelloLen);
  ASSERT_EQ(need_ack, kAckLen + 3 * 8);
  ASSERT_EQ(need_retry, kRetryLen);
  ASSERT_EQ(need_close, kCloseLen);
  Bytes buf(need_data);
  for (size_t n = 0; n <= need_data; ++n) {
    const std::span<uint8_t> s(buf.data(), n);
    EXPECT_EQ(encode_hello(s, common(Type::hello), h), n >= need_hello ? need_hello : 0) << n;
    EXPECT_EQ(encode_data(s, common(Type::data, flag::kOrdered), f.d),
              n >= need_data ? need_data : 0)
        << n;
    EXPECT_EQ(encode_ack(s, common(Type::ack), a), n >= need_ack ? need_ack : 0) << n;
    EXPECT_EQ(encode_retry(s, common(Type::retry, 0, 0), valid_retry()),
              n >= need_retry ? need_retry : 0)
        << n;
    EXPECT_EQ(encode_close(s, common(Type::close), valid_close()), n >= need_close ? need_close : 0)
        << n;
  }
}

TEST(WireEncode, RefusesWhatCannotBeEncoded) {
  Bytes buf(kDataOverhead + kMax16 + 1);
  EXPECT_EQ(encode_hello(buf, common(Type::data), valid_hello()), 0u);
  Bytes huge(kMax16 + 1);
  Data d;
  d.msg_len = static_cast<uint32_t>(huge.size());
  d.frag_size = kMax16;
  d.payload = huge;
  EXPECT_EQ(encode_data(buf, common(Type::data), d), 0u);
  Ack a = valid_ack();
  a.range_count = tuning::kMaxAckRanges + 1;
  EXPECT_EQ(encode_ack(buf, common(Type::ack), a), 0u);
}

// ---- decoder errors ---------------------------------------------------------

struct Valid {
  DataFixture f;
  Bytes hello = enc_hello(common(Type::hello), valid_hello_with_cookie());
  Bytes hello_ack = enc_hello(common(Type::hello_ack), valid_hello());
  Bytes data = enc_data(common(Type::data, flag::kOrdered), f.d);
  Bytes ack = enc_ack(common(Type::ack), valid_ack());
  Bytes retry = enc_retry(common(Type::retry, 0, 0), valid_retry());
  Bytes close = enc_close(common(Type::close), valid_close());
  std::vector<const Bytes*> all() const {
    return {&hello, &hello_ack, &data, &ack, &retry, &close};
  }
};

TEST(WireDecode, ValidPacketsDecode) {
  const Valid v;
  for (const Bytes* b : v.all()) EXPECT_EQ(dec(*b), DecodeError::ok);
}

TEST(WireDecode, TooShort) {
  const Valid v;
  EXPECT_EQ(dec({}), DecodeError::too_short);
  EXPECT_EQ(dec(Bytes(v.hello.begin(), v.hello.begin() + 23)), DecodeError::too_short);
  // An ack whose range_count promises more ranges than the datagram holds.
  Bytes b = v.ack;
  b.resize(b.size() - kAckRangeSize);
  patch(b, off::kRangeCount, 3, 2);
  EXPECT_EQ(dec(b), DecodeError::too_short);
}

TEST(WireDecode, TruncatedAtEveryLength) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    const size_t header_len = (size_t{(*pkt)[6]} << 8) | (*pkt)[7];
    for (size_t n = 0; n < pkt->size(); ++n) {
      const Bytes b(pkt->begin(), pkt->begin() + n);
      // Cut into the header: too short. Cut into a data payload: the lengths
      // still agree (the payload is the rest), so the checksum catches it.
      EXPECT_EQ(dec(b), n < header_len ? DecodeError::too_short : DecodeError::bad_checksum)
          << "type " << int((*pkt)[3]) << " len " << n;
    }
  }
}

TEST(WireDecode, EveryFlippedByteIsRefused) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    const uint8_t type = (*pkt)[3];
    for (size_t i = 0; i < pkt->size(); ++i) {
      for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
        Bytes b = *pkt;
        b[i] ^= mask;
        const DecodeError e = dec(b);
        ASSERT_NE(e, DecodeError::ok) << "type " << int(type) << " byte " << i;
        if (i < 3) {
          EXPECT_EQ(e, DecodeError::bad_version) << i;
        } else if (i == off::kType) {
          EXPECT_TRUE(e == DecodeError::bad_type || e == DecodeError::bad_length ||
                      e == DecodeError::too_short)
              << i;
        } else if (i == off::kFlags + 1 && (mask & flag::kCoalesced) &&
                   type != uint8_t(Type::ack)) {
          EXPECT_EQ(e, DecodeError::bad_coalesce) << "type " << int(type);
        } else if ((type == uint8_t(Type::hello) || type == uint8_t(Type::hello_ack)) &&
                   i == kCommonHeaderSize + 11 && (mask & feature::kSealed)) {
          // Feature sealed: a Noise message must follow the header.
          EXPECT_EQ(e, DecodeError::too_short) << i;
        } else if (i == off::kHeaderLen || i == off::kHeaderLen + 1 ||
                   (type == uint8_t(Type::ack) &&
                    (i == off::kRangeCount || i == off::kRangeCount + 1))) {
          EXPECT_TRUE(e == DecodeError::bad_length || e == DecodeError::too_short) << i;
        } else {
          EXPECT_EQ(e, DecodeError::bad_checksum) << "type " << int(type) << " byte " << i;
        }
      }
    }
  }
}

TEST(WireDecode, BadVersion) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    Bytes b = *pkt;
    ASSERT_EQ(b[2], 3) << "version 3";
    patch(b, 0, 0x5245, 2);
    EXPECT_EQ(dec(b), DecodeError::bad_version);
    // Versions 1 (epochs, 40-byte hello, 48-byte ack) and 2 (no encryption)
    // are not understood.
    for (uint8_t version : {0, 1, 2, 4, 255}) {
      b = *pkt;
      patch(b, 2, version, 1);
      EXPECT_EQ(dec(b), DecodeError::bad_version) << int(version);
    }
  }
}

TEST(WireDecode, BadType) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    for (uint8_t type : {0, 7, 8, 255}) {
      Bytes b = *pkt;
      patch(b, off::kType, type, 1);
      EXPECT_EQ(dec(b), DecodeError::bad_type) << int(type);
    }
  }
}

TEST(WireDecode, BadLength) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    for (int delta : {-1, 1, 8}) {
      Bytes b = *pkt;
      patch(b, off::kHeaderLen, ((b[6] << 8) | b[7]) + delta, 2);
      EXPECT_EQ(dec(b), DecodeError::bad_length) << int(b[3]) << " " << delta;
    }
  }
  // Bytes past the end of any packet but data.
  for (const Bytes* pkt : {&v.hello, &v.hello_ack, &v.ack, &v.retry, &v.close}) {
    for (size_t extra : {1u, 8u, 16u}) {
      Bytes b = *pkt;
      b.resize(b.size() + extra);
      reseal(b);
      EXPECT_EQ(dec(b), DecodeError::bad_length) << int(b[3]) << " " << extra;
    }
  }
  // Every type has exactly one header_len: another type's is refused, even
  // when the datagram is that long.
  const std::pair<const Bytes*, size_t> lens[] = {{&v.hello, kHelloLen}, {&v.hello_ack, kHelloLen},
                                                  {&v.data, kDataLen},   {&v.ack, kAckLen + 24},
                                                  {&v.retry, kRetryLen}, {&v.close, kCloseLen}};
  for (const auto& [pkt, len] : lens) {
    ASSERT_EQ((size_t{(*pkt)[6]} << 8) | (*pkt)[7], len) << int((*pkt)[3]);
    for (size_t other : {kCommonHeaderSize, kHelloLen, kDataLen, kAckLen, kRetryLen, kCloseLen}) {
      if (other == len) continue;
      Bytes b = *pkt;
      b.resize(std::max(b.size(), other));
      patch(b, off::kHeaderLen, other, 2);
      EXPECT_EQ(dec(b), DecodeError::bad_length) << int(b[3]) << " header_len " << other;
    }
  }
  // More range entries than range_count says (header_len agreeing with them).
  Bytes b = v.ack;
  b.resize(b.size() + kAckRangeSize);
  patch(b, off::kHeaderLen, b.size(), 2);
  EXPECT_EQ(dec(b), DecodeError::bad_length);
  // A data payload longer than payload_len can say.
  b = v.data;
  b.resize(kDataOverhead + kMax16 + 1);
  reseal(b);
  EXPECT_EQ(dec(b), DecodeError::bad_length);
}

TEST(WireDecode, BadChecksum) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    Bytes b = *pkt;
    b[off::kChecksum + 3] ^= 1;
    EXPECT_EQ(dec(b), DecodeError::bad_checksum);
    b = *pkt;
    b.back() ^= 0x40;
    EXPECT_EQ(dec(b), DecodeError::bad_checksum);
  }
}

TEST(WireDecode, ChecksumIsCheckedBeforeFields) {
  const Valid v;
  Bytes b = v.hello;
  patch(b, off::kReserved, 1, 4);
  ASSERT_EQ(dec(b), DecodeError::bad_field);
  b[off::kChecksum] ^= 1;
  EXPECT_EQ(dec(b), DecodeError::bad_checksum);
}

TEST(WireDecode, BadCommonFields) {
  const Valid v;
  for (const Bytes* pkt : v.all()) {
    Bytes b = *pkt;
    // offset 12 is src_port (any value), 14 the echo u16: data packets
    // carry an entropy there, acks a host wait (any value); every other
    // type must have zero.
    patch(b, off::kReserved + 2, 0x8000u, 2);
    const bool data =
        (*pkt)[off::kType] == uint8_t(Type::data) || (*pkt)[off::kType] == uint8_t(Type::ack);
    EXPECT_EQ(dec(b), data ? DecodeError::ok : DecodeError::bad_field)
        << "type " << int(b[off::kType]);
    if (data) {
      Packet echoed;
      ASSERT_EQ(decode(b, echoed), DecodeError::ok);
      EXPECT_EQ(echoed.common.echo, 0x8000u);
    }
    b = *pkt;
    patch(b, off::kReserved, 0xbeefu, 2);
    Packet out;
    ASSERT_EQ(decode(b, out), DecodeError::ok) << "src_port is not reserved";
    EXPECT_EQ(out.common.src_port, 0xbeefu);
    // src_cid: nonzero on every type but retry, zero on a retry.
    const bool retry = (*pkt)[off::kType] == uint8_t(Type::retry);
    for (uint64_t cid : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 63, kMax64}) {
      b = *pkt;
      patch(b, off::kSrcCid, cid, 8);
      EXPECT_EQ(dec(b), (cid == 0) == retry ? DecodeError::ok : DecodeError::bad_field)
          << "type " << int(b[off::kType]) << " src_cid " << cid;
    }
    for (uint16_t f = 1u << 4; f != 0; f = static_cast<uint16_t>(f << 1)) {
      b = *pkt;
      patch(b, off::kFlags, f, 2);
      EXPECT_EQ(dec(b), DecodeError::bad_field) << "flag " << f;
    }
    // Bit 3, coalesced, says another packet follows: only an ack may say it,
    // and a lone ack that says it lacks the packet it promises.
    b = *pkt;
    patch(b, off::kFlags, flag::kCoalesced, 2);
    Packet first, second;
    size_t count = 0;
    EXPECT_EQ(decode_datagram(b, first, second, count), b[off::kType] == uint8_t(Type::ack)
                                                            ? DecodeError::too_short
                                                            : DecodeError::bad_coalesce);
    EXPECT_EQ(dec(b), DecodeError::bad_coalesce);
  }
}

TEST(WireDecode, BadHelloFields) {
  const Valid v;
  for (const Bytes* pkt : {&v.hello, &v.hello_ack}) {
    Bytes b = *pkt;
    patch(b, off::kMaxPayload, 0, 4);
    EXPECT_EQ(dec(b), DecodeError::bad_field);
    b = *pkt;
    patch(b, off::kRecvMsgWindow, 0, 4);
    EXPECT_EQ(dec(b), DecodeError::bad_field);
    // initial_window (feature share) is a byte count: every value is valid.
    for (uint32_t window : {1u, 0x80000000u, 0xffffffffu}) {
      b = *pkt;
      patch(b, off::kHelloInitialWindow, window, 4);
      Packet p;
      ASSERT_EQ(decode(b, p), DecodeError::ok) << window;
      EXPECT_EQ(p.hello.initial_window, window);
    }
  }
}

TEST(WireDecode, HelloDstCidAndCookieAreFree) {
  // A first hello knows no id of the receiver (dst_cid 0) and has no cookie
  // (zeros); the cookie is opaque to the decoder, the endpoint checks it.
  const Valid v;
  Bytes b = v.hello;
  patch(b, off::kDstCid, 0, 8);
  Packet p;
  ASSERT_EQ(decode(b, p), DecodeError::ok);
  EXPECT_EQ(p.hello.dst_cid, 0u);
  EXPECT_EQ(dst_cid(p), 0u);
  for (uint64_t half : {uint64_t{0}, kMax64}) {
    b = v.hello;
    patch(b, off::kHelloCookie, half, 8);
    patch(b, off::kHelloCookie + 8, half, 8);
    ASSERT_EQ(decode(b, p), DecodeError::ok);
    EXPECT_EQ(Bytes(p.hello.cookie, p.hello.cookie + kCookieSize),
              Bytes(kCookieSize, static_cast<uint8_t>(half)));
  }
}

TEST(WireDecode, BadRetryFields) {
  const Valid v;
  ASSERT_EQ(dec(v.retry), DecodeError::ok);
  Bytes b = v.retry;
  patch(b, off::kDstCid, 0, 8);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "dst_cid 0: a retry answers a hello's src_cid";
  // A retry comes from no connection: every byte of its common src_cid is 0
  // (the encoder always writes 0, so these are built by hand).
  for (size_t i = 0; i < 8; ++i) {
    b = v.retry;
    patch(b, off::kSrcCid + i, 1, 1);
    EXPECT_EQ(dec(b), DecodeError::bad_field) << "src_cid byte " << i;
  }
  b = v.retry;
  patch(b, off::kReserved + 2, 1, 2);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "common reserved";
  // The cookie is opaque: any value, all zeros included.
  for (uint64_t half : {uint64_t{0}, kMax64}) {
    b = v.retry;
    patch(b, off::kRetryCookie, half, 8);
    patch(b, off::kRetryCookie + 8, half, 8);
    EXPECT_EQ(dec(b), DecodeError::ok);
  }
  // Cut anywhere, or its header_len wrong.
  for (size_t n = 0; n < kRetryLen; ++n) {
    EXPECT_EQ(dec(Bytes(v.retry.begin(), v.retry.begin() + n)), DecodeError::too_short) << n;
  }
  for (size_t len : {kRetryLen - 1, kRetryLen + 1, kCloseLen, kHelloLen}) {
    b = v.retry;
    patch(b, off::kHeaderLen, len, 2);
    EXPECT_EQ(dec(b), DecodeError::bad_length) << len;
  }
  // A close relabelled retry is too short for one; a retry relabelled close
  // has the wrong header_len.
  b = v.close;
  patch(b, off::kType, uint8_t(Type::retry), 1);
  EXPECT_EQ(dec(b), DecodeError::too_short);
  b = v.retry;
  patch(b, off::kType, uint8_t(Type::close), 1);
  EXPECT_EQ(dec(b), DecodeError::bad_length);
}

TEST(WireDecode, BadCloseFields) {
  const Valid v;
  ASSERT_EQ(dec(v.close), DecodeError::ok);
  Bytes b = v.close;
  patch(b, off::kDstCid, 0, 8);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "dst_cid 0";
  b = v.close;
  patch(b, off::kSrcCid, 0, 8);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "src_cid 0";
  for (uint32_t reason = 0; reason <= kMaxCloseReason + 2; ++reason) {
    b = v.close;
    patch(b, off::kCloseReason, reason, 4);
    EXPECT_EQ(dec(b),
              reason >= 1 && reason <= kMaxCloseReason ? DecodeError::ok : DecodeError::bad_field)
        << "reason " << reason;
  }
  for (uint32_t reason : {0x100u, 0x80000001u, kMax32}) {
    b = v.close;
    patch(b, off::kCloseReason, reason, 4);
    EXPECT_EQ(dec(b), DecodeError::bad_field) << "reason " << reason;
  }
  for (size_t i = 0; i < 4; ++i) {
    b = v.close;
    patch(b, off::kCloseReserved + i, 1, 1);
    EXPECT_EQ(dec(b), DecodeError::bad_field) << "reserved byte " << i;
  }
  Close cl = valid_close();
  cl.reserved = 1;
  EXPECT_EQ(dec(enc_close(common(Type::close), cl)), DecodeError::bad_field)
      << "the encoder writes reserved as given";
  b = v.close;
  patch(b, off::kReserved + 2, 1, 2);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "common reserved";
  // Cut anywhere, or its header_len wrong.
  for (size_t n = 0; n < kCloseLen; ++n) {
    EXPECT_EQ(dec(Bytes(v.close.begin(), v.close.begin() + n)), DecodeError::too_short) << n;
  }
  for (size_t len : {kCloseLen - 1, kCloseLen + 1, kRetryLen, kCommonHeaderSize}) {
    b = v.close;
    patch(b, off::kHeaderLen, len, 2);
    EXPECT_EQ(dec(b), DecodeError::bad_length) << len;
  }
}

// Encodes `d` as an ordered data packet and returns the decoder's verdict.
DecodeError dec_data(const Data& d, uint16_t flags = flag::kOrdered) {
  return dec(enc_data(common(Type::data, flags), d));
}

TEST(WireDecode, BadDataFields) {
  const DataFixture f;
  ASSERT_EQ(dec_data(f.d), DecodeError::ok);
  const auto bad = [&](auto edit, uint16_t flags = flag::kOrdered) {
    Data d = f.d;
    edit(d);
    return dec_data(d, flags);
  };
  EXPECT_EQ(bad([](Data&) {}, 0), DecodeError::bad_field) << "prev_delta without ordered";
  EXPECT_EQ(bad([](Data& d) { d.dst_cid = 0; }), DecodeError::bad_field) << "dst_cid 0";
  EXPECT_EQ(bad([](Data& d) { d.pn_floor_delta = static_cast<uint32_t>(d.pn + 1); }),
            DecodeError::bad_field);
  EXPECT_EQ(bad([](Data& d) { d.msg_floor_delta = static_cast<uint32_t>(d.msg_id + 1); }),
            DecodeError::bad_field);
  EXPECT_EQ(bad([](Data& d) { d.prev_delta = static_cast<uint32_t>(d.msg_id + 1); }),
            DecodeError::bad_field);
  EXPECT_EQ(bad([](Data& d) { d.frag_size = 0; }), DecodeError::bad_field);
  EXPECT_EQ(bad([](Data& d) { d.payload = {}; }), DecodeError::bad_field) << "empty fragment";
  EXPECT_EQ(bad([](Data& d) { d.frag_index = 2; }), DecodeError::bad_field)
      << "fragment 2 starts at 2800 and would end past 3000";
  EXPECT_EQ(bad([](Data& d) { d.msg_len = 2799; }), DecodeError::bad_field) << "ends past msg_len";
  EXPECT_EQ(bad([](Data& d) { d.payload = d.payload.first(1399); }), DecodeError::bad_field)
      << "a fragment that is neither full nor last";
  EXPECT_EQ(bad([](Data& d) { d.frag_size = 1399; }), DecodeError::bad_field)
      << "longer than frag_size";
  EXPECT_EQ(bad([](Data& d) {
              d.frag_index = kMax32;
              d.frag_size = kMax16;
            }),
            DecodeError::bad_field)
      << "offset beyond 32 bits";
  EXPECT_EQ(bad([](Data& d) {
              d.msg_len = 1400;  // single fragment: fine with frag_size > msg_len only at index 0
              d.frag_index = 1;
            }),
            DecodeError::bad_field);
  // The empty message: fragment 0, no payload.
  EXPECT_EQ(bad([](Data& d) { d.msg_len = 0; }), DecodeError::bad_field) << "payload in it";
  EXPECT_EQ(bad([](Data& d) {
              d.msg_len = 0;
              d.payload = {};
            }),
            DecodeError::bad_field)
      << "frag_index 1 of an empty message";
}

TEST(WireDecode, DataDstCidZero) {
  // Refused whatever else the packet says, the empty message included.
  const Valid v;
  Bytes b = v.data;
  patch(b, off::kDstCid, 0, 8);
  EXPECT_EQ(dec(b), DecodeError::bad_field);
  Data empty;
  empty.msg_id = 1;
  empty.dst_cid = 1;
  EXPECT_EQ(dec_data(empty, 0), DecodeError::ok);
  empty.dst_cid = 0;
  EXPECT_EQ(dec_data(empty, 0), DecodeError::bad_field);
}

TEST(WireDecode, ConsistentFragmentsAreAccepted) {
  const DataFixture f;
  const auto ok = [&](auto edit) {
    Data d = f.d;
    edit(d);
    return dec_data(d);
  };
  EXPECT_EQ(ok([](Data& d) { d.frag_index = 0; }), DecodeError::ok);
  EXPECT_EQ(ok([](Data& d) {
              d.frag_index = 2;  // the last, 200 bytes
              d.payload = d.payload.first(200);
            }),
            DecodeError::ok);
  EXPECT_EQ(ok([](Data& d) {
              d.msg_len = 5;  // frag_size larger than the whole message
              d.frag_index = 0;
              d.payload = d.payload.first(5);
            }),
            DecodeError::ok);
  EXPECT_EQ(ok([](Data& d) {
              d.msg_len = 0;
              d.frag_index = 0;
              d.frag_size = 0;
              d.payload = {};
            }),
            DecodeError::ok);
  EXPECT_EQ(ok([](Data& d) {
              d.pn_floor_delta = static_cast<uint32_t>(d.pn);
              d.msg_floor_delta = static_cast<uint32_t>(d.msg_id);
              d.prev_delta = static_cast<uint32_t>(d.msg_id);
            }),
            DecodeError::ok);
}

TEST(WireDecode, BadAckFields) {
  const Valid v;
  const size_t r0 = off::kRanges, r1 = off::kRanges + 8;  // (gap, len) of ranges 0 and 1
  Bytes b = v.ack;
  // share (feature share) is a ratio: every 16-bit value is valid.
  for (uint16_t share : {uint16_t{1}, uint16_t{256}, uint16_t{0xffff}}) {
    b = v.ack;
    patch(b, off::kAckShare, share, 2);
    Packet p;
    ASSERT_EQ(decode(b, p), DecodeError::ok) << share;
    EXPECT_EQ(p.ack.share, share);
  }
  b = v.ack;
  patch(b, off::kDstCid, 0, 8);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "dst_cid 0";
  // free_buffer is a byte count: every 64-bit value is valid.
  for (uint64_t free : {uint64_t{0}, uint64_t{1} << 32, kMax64}) {
    b = v.ack;
    patch(b, off::kFreeBuffer, free, 8);
    Packet p;
    ASSERT_EQ(decode(b, p), DecodeError::ok) << free;
    EXPECT_EQ(p.ack.free_buffer, free);
  }
  b = v.ack;
  patch(b, r0, 1, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "first gap not 0";
  b = v.ack;
  patch(b, r1, 0, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "later gap 0: ranges would touch";
  b = v.ack;
  patch(b, r0 + 4, 0, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "first len 0";
  b = v.ack;
  patch(b, r1 + 4, 0, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "later len 0";

  // Underflow below packet number 0. One range 90..100 first.
  Ack a = valid_ack();
  a.range_count = 1;
  b = enc_ack(common(Type::ack), a);
  patch(b, r0 + 4, 101, 4);
  EXPECT_EQ(dec(b), DecodeError::ok) << "0..100 is fine";
  patch(b, r0 + 4, 102, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "first range below 0";
  // Then 90..100 and 50..80: gap 9 (81..89), len 31.
  a.range_count = 2;
  b = enc_ack(common(Type::ack), a);
  patch(b, r1 + 4, 81, 4);
  EXPECT_EQ(dec(b), DecodeError::ok) << "0..80 is fine";
  patch(b, r1 + 4, 82, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field) << "second range below 0";
  patch(b, r1, 89, 4);  // hi = 90 - 89 - 1 = 0
  patch(b, r1 + 4, 1, 4);
  EXPECT_EQ(dec(b), DecodeError::ok) << "range 1 is exactly pn 0";
  patch(b, r1, 90, 4);  // hi would be -1
  EXPECT_EQ(dec(b), DecodeError::bad_field);
  patch(b, r1, kMax32, 4);
  EXPECT_EQ(dec(b), DecodeError::bad_field);
  patch(b, off::kLargest, kMax64, 8);  // but from the top of the space it fits
  EXPECT_EQ(dec(b), DecodeError::ok);

  // range_count 0 acknowledges nothing, so largest_pn must be 0 too.
  a = valid_ack();
  a.range_count = 0;
  EXPECT_EQ(dec(enc_ack(common(Type::ack), a)), DecodeError::bad_field);
  a.largest_pn = 0;
  EXPECT_EQ(dec(enc_ack(common(Type::ack), a)), DecodeError::ok);
  a.dst_cid = 0;
  EXPECT_EQ(dec(enc_ack(common(Type::ack), a)), DecodeError::bad_field)
      << "a pure credit update names its connection too";
  // One range past the maximum, header_len agreeing.
  b = v.ack;
  const size_t n = tuning::kMaxAckRanges + 1;
  b.resize(off::kRanges + n * kAckRangeSize);
  for (size_t i = 3; i < n; ++i) {
    put_be(b, off::kRanges + i * 8, 1, 4);
    put_be(b, off::kRanges + i * 8 + 4, 1, 4);
  }
  put_be(b, off::kLargest, kMax64, 8);
  put_be(b, off::kRangeCount, n, 2);
  patch(b, off::kHeaderLen, b.size(), 2);
  EXPECT_EQ(dec(b), DecodeError::bad_field);
}

TEST(WireDecode, ToDropReason) {
  EXPECT_EQ(to_drop_reason(DecodeError::too_short), DropReason::too_short);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_version), DropReason::bad_version);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_type), DropReason::bad_type);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_checksum), DropReason::bad_checksum);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_length), DropReason::bad_length);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_field), DropReason::bad_field);
  EXPECT_EQ(to_drop_reason(DecodeError::bad_coalesce), DropReason::bad_coalesce);
}

// ---- coalesced datagrams: an ack, then a data packet -----------------------

Bytes cat(const Bytes& a, const Bytes& b) {
  Bytes r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

// An ack (3 ranges, 100 bytes) with the coalesced flag, then a 64-byte
// message: what a ping-pong's answer looks like.
struct Coalesced {
  Bytes payload = Bytes(64, 0x5a);
  Ack a = valid_ack();
  Data d;
  Common ac = common(Type::ack, flag::kCoalesced);
  Common dc = common(Type::data, flag::kAckNow);
  Bytes ack, data, both;
  Coalesced() {
    d.dst_cid = a.dst_cid;
    d.pn = 7;
    d.msg_id = 3;
    d.msg_len = 64;
    d.frag_size = 1400;
    d.payload = payload;
    ac.src_port = dc.src_port = 4000;
    ack = enc_ack(ac, a);
    data = enc_data(dc, d);
    both = cat(ack, data);
  }
  DecodeError dec2(const Bytes& b, size_t* count = nullptr) const {
    Packet p, q;
    size_t n = 0;
    const DecodeError e = decode_datagram(b, p, q, n);
    if (count) *count = n;
    return e;
  }
};

TEST(WireCoalesced, AckThenDataRoundTrip) {
  const Coalesced c;
  ASSERT_EQ(c.ack.size(), 100u);
  ASSERT_EQ(c.data.size(), 72u + 64);
  Packet p, q;
  size_t count = 0;
  ASSERT_EQ(decode_datagram(c.both, p, q, count), DecodeError::ok);
  EXPECT_EQ(count, 2u);
  expect_same(c.ac, p.common);
  EXPECT_EQ(p.common.src_port, 4000u);
  expect_same(c.a, p.ack);
  expect_same(c.dc, q.common);
  expect_same(c.d, q.data);
  EXPECT_EQ(q.data.payload.data(), c.both.data() + 100 + kDataOverhead);
  // A lone packet decodes with count 1, the second packet untouched.
  const Valid v;
  for (const Bytes* b : v.all()) {
    ASSERT_EQ(decode_datagram(*b, p, q, count), DecodeError::ok);
    EXPECT_EQ(count, 1u);
  }
  // decode() takes one packet only.
  EXPECT_EQ(dec(c.both), DecodeError::bad_coalesce);
}

TEST(WireCoalesced, EachChecksumCoversItsOwnPacket) {
  const Coalesced c;
  // Bytes 0..99: the ack alone, sealed over its header_len bytes.
  Bytes ack = c.ack;
  const uint32_t stored = (uint32_t{ack[8]} << 24) | (ack[9] << 16) | (ack[10] << 8) | ack[11];
  put_be(ack, off::kChecksum, 0, 4);
  EXPECT_EQ(stored, crc32c(ack));
  // The flag is the only difference from the same ack sent alone.
  Common lc = common(Type::ack);
  lc.src_port = c.ac.src_port;
  Bytes lone = enc_ack(lc, c.a);
  lone[off::kFlags + 1] |= flag::kCoalesced;
  reseal(lone);
  EXPECT_EQ(lone, c.ack);
  // A checksum over the whole datagram (both packets) is wrong.
  Bytes b = c.both;
  put_be(b, off::kChecksum, 0, 4);
  put_be(b, off::kChecksum, crc32c(b), 4);
  EXPECT_EQ(c.dec2(b), DecodeError::bad_checksum);
}

TEST(WireCoalesced, OnlyAnAckMayBeFollowed) {
  const Coalesced c;
  const Valid v;
  for (const Bytes* first : {&v.hello, &v.hello_ack, &v.data, &v.retry, &v.close}) {
    Bytes b = *first;
    patch(b, off::kFlags, flag::kCoalesced, 2);
    EXPECT_EQ(c.dec2(cat(b, c.data)), DecodeError::bad_coalesce) << int(b[off::kType]);
  }
}

TEST(WireCoalesced, TheSecondPacketMustBeOneDataPacket) {
  const Coalesced c;
  const Valid v;
  // Nothing after the ack, or a cut data packet.
  for (size_t n = 0; n < c.data.size(); ++n) {
    const Bytes b = cat(c.ack, Bytes(c.data.begin(), c.data.begin() + n));
    EXPECT_EQ(c.dec2(b), n < kDataOverhead ? DecodeError::too_short : DecodeError::bad_checksum)
        << n;
  }
  // Not data after the ack.
  Bytes ack2 = enc_ack(common(Type::ack), valid_ack());
  EXPECT_EQ(c.dec2(cat(c.ack, ack2)), DecodeError::bad_coalesce);
  EXPECT_EQ(c.dec2(cat(c.ack, v.hello)), DecodeError::bad_coalesce);
  EXPECT_EQ(c.dec2(cat(c.ack, v.retry)), DecodeError::bad_coalesce);
  Close cl = valid_close();
  cl.dst_cid = c.a.dst_cid;
  Common cc = common(Type::close);
  cc.src_port = c.ac.src_port;
  EXPECT_EQ(c.dec2(cat(c.ack, enc_close(cc, cl))), DecodeError::bad_coalesce)
      << "a close of the same connection ids";
  // Nesting: a second coalesced ack (with data after it), or a data packet
  // claiming to be followed.
  Bytes nested = enc_ack(common(Type::ack, flag::kCoalesced), valid_ack());
  EXPECT_EQ(c.dec2(cat(c.ack, cat(nested, c.data))), DecodeError::bad_coalesce);
  Bytes data = c.data;
  patch(data, off::kFlags, flag::kCoalesced | flag::kAckNow, 2);
  EXPECT_EQ(c.dec2(cat(c.ack, data)), DecodeError::bad_coalesce);
  // Two data packets after the ack: the first one's payload runs to the end
  // of the datagram, so it fails its own checksum.
  EXPECT_EQ(c.dec2(cat(c.both, c.data)), DecodeError::bad_checksum);
  // The second packet's own faults are the datagram's.
  data = c.data;
  patch(data, off::kBody + 32, 63, 4);  // msg_len 63 < the 64-byte payload
  EXPECT_EQ(c.dec2(cat(c.ack, data)), DecodeError::bad_field);
  data = c.data;
  patch(data, 2, 1, 1);  // version 1
  EXPECT_EQ(c.dec2(cat(c.ack, data)), DecodeError::bad_version);
}

TEST(WireCoalesced, BothPartsComeFromOneSenderToOneReceiver) {
  const Coalesced c;
  Common dc = c.dc;
  dc.src_cid = c.ac.src_cid + 1;
  EXPECT_EQ(c.dec2(cat(c.ack, enc_data(dc, c.d))), DecodeError::bad_coalesce) << "src_cid";
  dc.src_cid = c.ac.src_cid ^ (uint64_t{1} << 63);
  EXPECT_EQ(c.dec2(cat(c.ack, enc_data(dc, c.d))), DecodeError::bad_coalesce) << "src_cid top bit";
  dc = c.dc;
  dc.src_port = 4001;
  EXPECT_EQ(c.dec2(cat(c.ack, enc_data(dc, c.d))), DecodeError::bad_coalesce) << "src_port";
  Data d = c.d;
  d.dst_cid = c.a.dst_cid + 1;
  EXPECT_EQ(c.dec2(cat(c.ack, enc_data(c.dc, d))), DecodeError::bad_coalesce) << "dst_cid";
  d.dst_cid = c.a.dst_cid ^ (uint64_t{1} << 63);
  EXPECT_EQ(c.dec2(cat(c.ack, enc_data(c.dc, d))), DecodeError::bad_coalesce) << "dst_cid top bit";
  // A data packet with dst_cid 0 is refused as data before the ids are compared.
  Bytes ack0 = c.ack;
  patch(ack0, off::kDstCid, 0, 8);
  d.dst_cid = 0;
  EXPECT_EQ(c.dec2(cat(ack0, enc_data(c.dc, d))), DecodeError::bad_field);
}

TEST(WireCoalesced, EveryFlippedByteAndEveryCutIsRefused) {
  const Coalesced c;
  for (size_t i = 0; i < c.both.size(); ++i) {
    for (uint8_t mask : {0x01, 0x08, 0x80, 0xff}) {
      Bytes b = c.both;
      b[i] ^= mask;
      size_t count = 0;
      EXPECT_NE(c.dec2(b, &count), DecodeError::ok) << "byte " << i << " mask " << int(mask);
    }
  }
  for (size_t n = 0; n < c.both.size(); ++n) {
    const Bytes b(c.both.begin(), c.both.begin() + n);
    EXPECT_NE(c.dec2(b), DecodeError::ok) << n;
  }
}

// Writes the fuzzer's seed corpus (fuzz/corpus/wire) when SRDX_WIRE_SEED_DIR
// names a directory: one valid packet of every kind. From the source tree:
//   SRDX_WIRE_SEED_DIR=$PWD/fuzz/corpus/wire BUILD/tests/wire/wire_test --gtest_filter=WireSeeds.*
TEST(WireSeeds, Write) {
  const char* dir = std::getenv("SRDX_WIRE_SEED_DIR");
  if (dir == nullptr) GTEST_SKIP() << "set SRDX_WIRE_SEED_DIR to write the fuzz seeds";
  const Valid v;
  Ack one = valid_ack();
  one.range_count = 1;
  one.ranges[0] = {0, 100};
  Ack update = valid_ack();
  update.largest_pn = 0;
  update.range_count = 0;
  Data empty;
  empty.dst_cid = 9;
  empty.msg_id = 1;
  const Bytes small = {1, 2, 3};
  Data single;
  single.dst_cid = 9;
  single.msg_id = 2;
  single.msg_len = 3;
  single.frag_size = 1400;
  single.payload = small;
  // The data after a coalesced ack is for the same connection ids.
  Data empty9 = empty, single9 = single;
  empty9.dst_cid = single9.dst_cid = update.dst_cid;
  Hello first = valid_hello();  // before the retry: no dst_cid, no cookie
  first.dst_cid = 0;
  Retry retry_max;
  retry_max.dst_cid = kMax64;
  std::fill_n(retry_max.cookie, kCookieSize, 0xff);
  Close no_connection = valid_close(), replaced = valid_close();
  no_connection.reason = static_cast<uint32_t>(CloseReason::no_connection);
  replaced.reason = static_cast<uint32_t>(CloseReason::replaced);
  Common retry_port = common(Type::retry, 0, 0);
  retry_port.src_port = 4000;
  const std::pair<const char*, Bytes> seeds[] = {
      {"hello_first", enc_hello(common(Type::hello), first)},
      {"hello", v.hello},
      {"hello_ack", v.hello_ack},
      {"data_fragment", v.data},
      {"data_empty", enc_data(common(Type::data, flag::kAckNow), empty)},
      {"data_single", enc_data(common(Type::data, flag::kRetransmission), single)},
      {"ack_three_ranges", v.ack},
      {"ack_one_range", enc_ack(common(Type::ack), one)},
      {"ack_no_ranges", enc_ack(common(Type::ack), update)},
      {"coalesced_ack_data", Coalesced().both},
      {"coalesced_update_empty", cat(enc_ack(common(Type::ack, flag::kCoalesced), update),
                                     enc_data(common(Type::data, flag::kAckNow), empty9))},
      {"coalesced_one_range_single",
       cat(enc_ack(common(Type::ack, flag::kCoalesced), one),
           enc_data(common(Type::data, flag::kRetransmission), single9))},
      {"retry", v.retry},
      {"retry_max", enc_retry(retry_port, retry_max)},
      {"close_removed", v.close},
      {"close_no_connection", enc_close(common(Type::close), no_connection)},
      {"close_replaced", enc_close(common(Type::close, 0, kMax64), replaced)},
  };
  for (const auto& [name, bytes] : seeds) {
    Packet p, q;
    size_t count = 0;
    ASSERT_EQ(decode_datagram(bytes, p, q, count), DecodeError::ok) << name;
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << name;
  }
}

// ---- version 3: encryption ---------------------------------------------------

TEST(WireV3, HelloCarriesItsNoiseMessageExactly) {
  for (Type t : {Type::hello, Type::hello_ack}) {
    const size_t noise = t == Type::hello ? kNoise1Size : kNoise2Size;
    Hello h = valid_hello();
    h.features |= feature::kSealed;
    Bytes msg(noise);
    for (size_t i = 0; i < noise; ++i) msg[i] = static_cast<uint8_t>(i * 7 + 1);
    // Without its Noise message (or with one of the wrong size) it is not encoded.
    EXPECT_TRUE(enc_hello(common(t), h).empty());
    Bytes wrong(noise - 1);
    h.noise = wrong;
    EXPECT_TRUE(enc_hello(common(t), h).empty());
    h.noise = msg;
    const Bytes b = enc_hello(common(t), h);
    ASSERT_EQ(b.size(), kHelloLen + noise);
    const Packet p = decoded(b);
    EXPECT_EQ(Bytes(p.hello.noise.begin(), p.hello.noise.end()), msg);
    // Cut or extended, refused; a flipped bit of the message, a bad checksum.
    EXPECT_EQ(dec(Bytes(b.begin(), b.end() - 1)), DecodeError::too_short);
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_EQ(dec(longer), DecodeError::bad_length);
    Bytes flipped = b;
    flipped[kHelloLen + 3] ^= 1;
    EXPECT_EQ(dec(flipped), DecodeError::bad_checksum);
  }
}

TEST(WireV3, TranscriptIsTheHeaderWithoutChecksumAndCookie) {
  Hello h = valid_hello_with_cookie();
  const Common c = common(Type::hello);
  uint8_t tr[kHelloTranscriptSize];
  hello_transcript(c, h, tr);
  Bytes b = enc_hello(c, h);
  std::fill(b.begin() + 8, b.begin() + 12, 0);
  std::fill(b.begin() + 64, b.begin() + 80, 0);
  EXPECT_EQ(Bytes(tr, tr + sizeof tr), b);
  // The cookie changes nothing; any other field does.
  uint8_t tr2[kHelloTranscriptSize];
  std::fill_n(h.cookie, kCookieSize, 0x5a);
  hello_transcript(c, h, tr2);
  EXPECT_EQ(Bytes(tr, tr + sizeof tr), Bytes(tr2, tr2 + sizeof tr2));
  h.recv_buffer ^= 1;
  hello_transcript(c, h, tr2);
  EXPECT_NE(Bytes(tr, tr + sizeof tr), Bytes(tr2, tr2 + sizeof tr2));
}

TEST(WireV3, SealedHeaderRoundTripAndRules) {
  SealedHeader h;
  h.flags = sealed_flag::kKeyPhase | sealed_flag::kPeerPhase;
  h.src_port = 0x0c0d;
  h.dst_cid = 0x0102030405060708;
  h.counter = 0x1112131415161718;
  Bytes b(kSealedMin);
  encode_sealed_header(b.data(), h);
  const Bytes head = {0x52, 0x44, 0x03, 0x07, 0x03, 0x00, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04,
                      0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
  EXPECT_EQ(Bytes(b.begin(), b.begin() + kSealedHeaderSize), head);
  EXPECT_TRUE(is_sealed(b));
  SealedHeader out;
  ASSERT_EQ(decode_sealed(b, out), DecodeError::ok);
  EXPECT_EQ(out.flags, h.flags);
  EXPECT_EQ(out.src_port, h.src_port);
  EXPECT_EQ(out.dst_cid, h.dst_cid);
  EXPECT_EQ(out.counter, h.counter);
  EXPECT_EQ(decode_sealed(Bytes(b.begin(), b.end() - 1), out), DecodeError::too_short);
  Bytes x = b;
  x[4] |= 0x04;  // an unknown flag
  EXPECT_EQ(decode_sealed(x, out), DecodeError::bad_field);
  x = b;
  x[5] = 1;  // reserved
  EXPECT_EQ(decode_sealed(x, out), DecodeError::bad_field);
  x = b;
  std::fill(x.begin() + 8, x.begin() + 16, 0);  // no connection named
  EXPECT_EQ(decode_sealed(x, out), DecodeError::bad_field);
  x = b;
  x[2] = 2;
  EXPECT_FALSE(is_sealed(x));
  EXPECT_EQ(decode_sealed(x, out), DecodeError::bad_version);
  // Never a packet of its own: decode() refuses type 7 outright.
  EXPECT_EQ(dec(b), DecodeError::bad_type);
}

TEST(WireV3, InsideASealedDatagramTheChecksumIsZero) {
  Common c = common(Type::ack);
  c.sealed = true;
  const Bytes b = enc_ack(c, valid_ack());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b[8] | b[9] | b[10] | b[11], 0);
  Packet p, q;
  size_t n = 0;
  EXPECT_EQ(decode_datagram(b, p, q, n, true), DecodeError::ok);
  // Outside one, that is a bad checksum; inside, a checksum is.
  EXPECT_EQ(decode_datagram(b, p, q, n, false), DecodeError::bad_checksum);
  const Bytes clear = enc_ack(common(Type::ack), valid_ack());
  EXPECT_EQ(decode_datagram(clear, p, q, n, true), DecodeError::bad_checksum);
  // An inner hello has no Noise message, whatever its features say.
  Common hc = common(Type::hello);
  hc.sealed = true;
  Hello h = valid_hello();
  h.features |= feature::kSealed;
  const Bytes hb = enc_hello(hc, h);
  ASSERT_EQ(hb.size(), kHelloLen);
  EXPECT_EQ(decode_datagram(hb, p, q, n, true), DecodeError::ok);
  EXPECT_TRUE(p.hello.noise.empty());
}

}  // namespace
}  // namespace srdx::wire
