// Writes a pcap capture of srdx datagrams, and the field values a dissector
// must decode from it, for tests/wireshark/dissector.sh.
//
//   make_capture OUT.pcap OUT.expect
//
// Every packet is made by the transport's own encoders (transport/wire.h,
// which speak version 3) and checked with its decoder before it is written.
// The version 2 packets (the dissector still reads captures of older
// appliances) are version 3 clear packets with the version byte set to 2 and
// the checksum recomputed: the two versions differ in nothing else. The
// sealed datagrams (type 7) have headers from the transport's encoder and a
// pattern for ciphertext and tag, so the expected hex is easy to read. At the
// end, a real encrypted exchange between two endpoints (handshake, messages,
// acknowledgements) is captured as the endpoints sent it: the dissector must
// decode every datagram of it, and no frame of it may show the messages'
// plaintext.
//
// The capture is classic pcap (microsecond timestamps), linktype 1
// (Ethernet), each datagram in IPv4 and UDP headers built here with correct
// IPv4 and UDP checksums. Most go to UDP port 47000 (the dissector's default
// port); the ones to port 51000 are found by its heuristic dissector only.
//
// OUT.expect has one line per check, tab separated:
//   FRAME  FIELD  VALUE    tshark -T fields -e FIELD prints VALUE for FRAME
//                          (occurrences joined with ',')
//   FRAME  text   STRING   tshark -V's text for FRAME contains STRING
//   FRAME  expert STRING   an expert info of FRAME contains STRING; frames
//                          without such a line must have none at warning or
//                          error level and a good checksum where one exists
#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "srdx/endpoint.h"
#include "wire.h"

namespace {

using srdx::wire::Ack;
using srdx::wire::Close;
using srdx::wire::CloseReason;
using srdx::wire::Common;
using srdx::wire::Data;
using srdx::wire::Hello;
using srdx::wire::Packet;
using srdx::wire::Retry;
using srdx::wire::Type;
namespace wire = srdx::wire;
namespace flag = srdx::wire::flag;
namespace feature = srdx::wire::feature;

using Bytes = std::vector<uint8_t>;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "make_capture: %s\n", why.c_str());
  std::exit(1);
}

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void put32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
// n bytes first, first + 1, ... (mod 256): recognisable in hex dumps.
Bytes pattern(uint8_t first, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}
std::string hex(const Bytes& b) {
  std::string s;
  char buf[3];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}
std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}
std::string hex16(uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08" PRIx32, v);
  return buf;
}
std::string cid(uint64_t v) {  // as the Info column shows a connection id
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return v == 0 ? "0" : buf;
}
std::string dec(uint64_t v) { return std::to_string(v); }

// The checksum rule of docs/protocol.md section 2: CRC32C of the packet with
// bytes 8-11 read as zero, stored big endian at offset 8.
void reseal(Bytes& pkt) { put32(pkt, 8, wire::crc32c_hole(pkt, 8)); }

// ---- the real encoders, each result checked with the real decoder ----

Common common(Type t, uint64_t src_cid, uint16_t flags = 0) {
  Common c;
  c.type = t;
  c.flags = flags;
  c.src_port = 47000;
  c.src_cid = src_cid;
  return c;
}

Bytes enc_hello(const Common& c, const Hello& h) {
  Bytes b(200);
  b.resize(wire::encode_hello(b, c, h));
  return b;
}
Bytes enc_data(const Common& c, const Data& d) {
  Bytes b(70000);
  b.resize(wire::encode_data(b, c, d));
  return b;
}
Bytes enc_ack(const Common& c, const Ack& a) {
  Bytes b(400);
  b.resize(wire::encode_ack(b, c, a));
  return b;
}
Bytes enc_retry(const Common& c, const Retry& r) {
  Bytes b(100);
  b.resize(wire::encode_retry(b, c, r));
  return b;
}
Bytes enc_close(const Common& c, const Close& cl) {
  Bytes b(100);
  b.resize(wire::encode_close(b, c, cl));
  return b;
}

// The transport's decoder accepts the datagram (count packets in it).
void check_decodes(const Bytes& datagram, size_t want_count) {
  if (datagram.empty()) die("an encoder refused its input");
  Packet first, second;
  size_t count = 0;
  const auto e = wire::decode_datagram(datagram, first, second, count);
  if (e != wire::DecodeError::ok || count != want_count) {
    die("the transport's decoder refuses a packet the test means to be valid (error " +
        std::to_string(static_cast<int>(e)) + ")");
  }
}

// Version 2 is version 3 with encryption off and byte 2 = 2: the version 3
// packet (checked by the decoder first) with the version byte changed and the
// checksum recomputed. For a coalesced datagram both packets change.
Bytes as_v2(Bytes v3, size_t second_packet_at = 0) {
  check_decodes(v3, second_packet_at ? 2 : 1);
  if (second_packet_at == 0) {
    v3[2] = 2;
    reseal(v3);
    return v3;
  }
  Bytes a(v3.begin(), v3.begin() + static_cast<long>(second_packet_at));
  Bytes d(v3.begin() + static_cast<long>(second_packet_at), v3.end());
  a[2] = d[2] = 2;
  reseal(a);
  reseal(d);
  append(a, d);
  return a;
}
// A version 3 packet, checked by the decoder.
Bytes v3(Bytes p, size_t count = 1) {
  check_decodes(p, count);
  return p;
}

// ---- pcap: Ethernet, IPv4, UDP ----

struct Writer {
  FILE* pcap = nullptr;
  FILE* expectations = nullptr;
  int frame = 0;
  uint32_t usec = 0;

  void u32le(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                          static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    std::fwrite(b, 1, 4, pcap);
  }
  void u16le(uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
    std::fwrite(b, 1, 2, pcap);
  }
  void global_header() {
    u32le(0xa1b2c3d4);  // magic: microsecond timestamps, written little endian
    u16le(2);           // version 2.4
    u16le(4);
    u32le(0);      // thiszone
    u32le(0);      // sigfigs
    u32le(65535);  // snaplen
    u32le(1);      // LINKTYPE_ETHERNET
  }

  static uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t{p[i]} << 8 | p[i + 1];
    if (n & 1) s += uint32_t{p[n - 1]} << 8;
    return s;
  }
  static uint16_t fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  }

  // One UDP datagram from `src`:`sport` to `dst`:`dport`; returns its frame number.
  int datagram(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const Bytes& payload) {
    const size_t udp_len = 8 + payload.size();
    const size_t ip_len = 20 + udp_len;
    Bytes f(14 + ip_len, 0);
    // Ethernet: locally administered MACs that end in the host's last octet.
    const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(dst)};
    const uint8_t smac[6] = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(src)};
    std::memcpy(&f[0], dmac, 6);
    std::memcpy(&f[6], smac, 6);
    put16(f, 12, 0x0800);
    // IPv4, no options.
    f[14] = 0x45;
    put16(f, 16, static_cast<uint16_t>(ip_len));
    put16(f, 18, static_cast<uint16_t>(frame + 1));  // identification
    put16(f, 20, 0x4000);                            // don't fragment
    f[22] = 64;                                      // TTL
    f[23] = 17;                                      // UDP
    put32(f, 26, src);
    put32(f, 30, dst);
    put16(f, 24, fold(sum16(&f[14], 20)));
    // UDP, with its checksum over the IPv4 pseudo header.
    put16(f, 34, sport);
    put16(f, 36, dport);
    put16(f, 38, static_cast<uint16_t>(udp_len));
    std::memcpy(&f[42], payload.data(), payload.size());
    uint32_t s = sum16(&f[26], 8);  // source and destination address
    s += 17 + static_cast<uint32_t>(udp_len);
    uint16_t ck = fold(sum16(&f[34], udp_len, s));
    put16(f, 40, ck == 0 ? 0xffff : ck);

    usec += 100;
    u32le(1700000000);  // seconds
    u32le(usec);
    u32le(static_cast<uint32_t>(f.size()));
    u32le(static_cast<uint32_t>(f.size()));
    std::fwrite(f.data(), 1, f.size(), pcap);
    return ++frame;
  }

  void expect(int fr, const std::string& field, const std::string& value) {
    std::fprintf(expectations, "%d\t%s\t%s\n", fr, field.c_str(), value.c_str());
  }
};

constexpr uint32_t kHostA = 0xc6120102;  // 198.18.1.2
constexpr uint32_t kHostB = 0xc6120202;  // 198.18.2.2
constexpr uint16_t kPort = 47000;        // the dissector's default port
constexpr uint16_t kOtherPort = 51000;   // no dissector: the heuristic must find srdx

// Connection ids: the version 2 connection, then the version 3 one.
constexpr uint64_t kCidA = 0xa1a2a3a4a5a6a7a8;
constexpr uint64_t kCidB = 0xb1b2b3b4b5b6b7b8;
constexpr uint64_t kCidC = 0xc1c2c3c4c5c6c7c8;
constexpr uint64_t kCidD = 0xd1d2d3d4d5d6d7d8;

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: make_capture OUT.pcap OUT.expect");
  Writer w;
  w.pcap = std::fopen(argv[1], "wb");
  w.expectations = std::fopen(argv[2], "w");
  if (!w.pcap || !w.expectations) die("cannot open the output files");
  w.global_header();
  uint16_t entropy = 49152;  // UDP source ports: a sprayed sender's entropy
  auto a_to_b = [&](const Bytes& p, uint16_t dport = kPort) {
    return w.datagram(kHostA, kHostB, entropy++, dport, p);
  };
  auto b_to_a = [&](const Bytes& p, uint16_t dport = kPort) {
    return w.datagram(kHostB, kHostA, entropy++, dport, p);
  };
  auto E = [&](int fr, const std::string& field, const std::string& value) {
    w.expect(fr, field, value);
  };
  auto common_fields = [&](int fr, int version, int type, uint64_t src_cid, uint16_t flags,
                           uint16_t echo = 0) {
    E(fr, "srdx.magic", "0x5244");
    E(fr, "srdx.version", dec(version));
    E(fr, "srdx.type", dec(type));
    E(fr, "srdx.flags", hex16(flags));
    E(fr, "srdx.src_port", dec(kPort));
    // An ack's echo is its receiver's host wait (feature rx_wait).
    E(fr, type == 4 ? "srdx.rx_wait" : "srdx.echo", dec(echo));
    E(fr, "srdx.src_cid", hex64(src_cid));
    E(fr, "srdx.checksum.status", "1");  // good
  };

  // 1. hello (version 2), the first one: no peer id, no cookie.
  Hello h1;
  h1.dst_cid = 0;
  h1.features = feature::kOrdered | feature::kCoalesce;
  h1.max_payload = 1400;
  h1.max_message = 16u << 20;
  h1.recv_msg_window = 256;
  h1.recv_buffer = 4u << 20;
  Bytes p = as_v2(enc_hello(common(Type::hello, kCidA), h1));
  int fr = a_to_b(p);
  common_fields(fr, 2, 1, kCidA, 0);
  E(fr, "srdx.header_len", "80");
  E(fr, "srdx.checksum", hex32(wire::crc32c_hole(p, 8)));
  E(fr, "srdx.dst_cid", hex64(0));
  E(fr, "srdx.features", "0x00000005");
  E(fr, "srdx.features.ordered", "1");
  E(fr, "srdx.features.coalesce", "1");
  E(fr, "srdx.features.auth_tag", "0");
  E(fr, "srdx.features.share", "0");
  E(fr, "srdx.hello.max_payload", "1400");
  E(fr, "srdx.hello.max_message", dec(16u << 20));
  E(fr, "srdx.hello.recv_msg_window", "256");
  E(fr, "srdx.hello.initial_window", "0");
  E(fr, "srdx.hello.recv_buffer", dec(4u << 20));
  E(fr, "srdx.cookie", hex(Bytes(16, 0)));
  E(fr, "_ws.col.Info", "hello cid=" + cid(kCidA) + " dst=0");

  // 2. retry: B has not seen A prove its address; a cookie to echo.
  Retry rt;
  rt.dst_cid = kCidA;
  const Bytes cookie = pattern(0xc0, 16);
  std::memcpy(rt.cookie, cookie.data(), 16);
  p = as_v2(enc_retry(common(Type::retry, 0), rt));
  fr = b_to_a(p);
  common_fields(fr, 2, 5, 0, 0);
  E(fr, "srdx.header_len", "48");
  E(fr, "srdx.dst_cid", hex64(kCidA));
  E(fr, "srdx.cookie", hex(cookie));
  E(fr, "_ws.col.Info", "retry dst=" + cid(kCidA));

  // 3. hello again, echoing the cookie.
  Hello h3 = h1;
  std::memcpy(h3.cookie, cookie.data(), 16);
  p = as_v2(enc_hello(common(Type::hello, kCidA), h3));
  fr = a_to_b(p);
  common_fields(fr, 2, 1, kCidA, 0);
  E(fr, "srdx.cookie", hex(cookie));
  E(fr, "_ws.col.Info", "hello cid=" + cid(kCidA) + " dst=0 cookie");

  // 4. hello_ack: B's id and limits.
  Hello h4;
  h4.dst_cid = kCidA;
  h4.features = feature::kCoalesce;
  h4.max_payload = 8900;
  h4.max_message = 1u << 30;
  h4.recv_msg_window = 1024;
  h4.recv_buffer = 64u << 20;
  p = as_v2(enc_hello(common(Type::hello_ack, kCidB), h4));
  fr = b_to_a(p);
  common_fields(fr, 2, 2, kCidB, 0);
  E(fr, "srdx.dst_cid", hex64(kCidA));
  E(fr, "srdx.features", "0x00000004");
  E(fr, "srdx.features.ordered", "0");
  E(fr, "srdx.hello.max_payload", "8900");
  E(fr, "srdx.hello.max_message", dec(1u << 30));
  E(fr, "srdx.hello.recv_msg_window", "1024");
  E(fr, "srdx.hello.recv_buffer", dec(64u << 20));
  E(fr, "_ws.col.Info", "hello_ack cid=" + cid(kCidB) + " dst=" + cid(kCidA));

  // 5. data: fragment 0 of a 250-byte message in fragments of 100.
  const Bytes payload5 = pattern(0x30, 100);
  Data d5;
  d5.dst_cid = kCidB;
  d5.pn = 17;
  d5.pn_floor_delta = 2;
  d5.msg_floor_delta = 1;
  d5.msg_id = 5;
  d5.msg_len = 250;
  d5.frag_index = 0;
  d5.prev_delta = 0;
  d5.frag_size = 100;
  d5.flow = 7;
  d5.payload = payload5;
  const Bytes data5 = as_v2(enc_data(common(Type::data, kCidA), d5));
  fr = a_to_b(data5);
  common_fields(fr, 2, 3, kCidA, 0);
  E(fr, "srdx.header_len", "72");
  E(fr, "srdx.checksum", hex32(wire::crc32c_hole(data5, 8)));
  E(fr, "srdx.dst_cid", hex64(kCidB));
  E(fr, "srdx.data.pn", "17");
  E(fr, "srdx.data.pn_floor_delta", "2");
  E(fr, "srdx.data.pn_floor", "15");
  E(fr, "srdx.data.msg_floor_delta", "1");
  E(fr, "srdx.data.msg_floor", "4");
  E(fr, "srdx.data.msg_id", "5");
  E(fr, "srdx.data.msg_len", "250");
  E(fr, "srdx.data.frag_index", "0");
  E(fr, "srdx.data.frag_count", "3");
  E(fr, "srdx.data.prev_delta", "0");
  E(fr, "srdx.data.frag_size", "100");
  E(fr, "srdx.data.flow", "7");
  E(fr, "srdx.data.payload_len", "100");
  E(fr, "srdx.data.payload", hex(payload5));
  E(fr, "srdx.flags.ordered", "0");
  E(fr, "_ws.col.Info", "data msg=5 frag=0/3 pn=17");

  // 6. data: the last fragment (2 of 3, 50 bytes) of an ordered message,
  // resent; its flow's previous message is 9 - 4 = 5.
  const Bytes payload6 = pattern(0x80, 50);
  Data d6 = d5;
  d6.pn = 18;
  d6.pn_floor_delta = 0;
  d6.msg_floor_delta = 4;
  d6.msg_id = 9;
  d6.frag_index = 2;
  d6.prev_delta = 4;
  d6.payload = payload6;
  p = as_v2(enc_data(common(Type::data, kCidA, flag::kOrdered | flag::kRetransmission), d6));
  fr = a_to_b(p);
  common_fields(fr, 2, 3, kCidA, 0x0003);
  E(fr, "srdx.flags.ordered", "1");
  E(fr, "srdx.flags.retransmission", "1");
  E(fr, "srdx.flags.ack_now", "0");
  E(fr, "srdx.flags.coalesced", "0");
  E(fr, "srdx.data.pn", "18");
  E(fr, "srdx.data.msg_id", "9");
  E(fr, "srdx.data.frag_index", "2");
  E(fr, "srdx.data.prev_delta", "4");
  E(fr, "srdx.data.prev_msg_id", "5");
  E(fr, "srdx.data.payload_len", "50");
  E(fr, "srdx.data.payload", hex(payload6));
  E(fr, "_ws.col.Info", "data msg=9 frag=2/3 pn=18 [ordered,retx]");

  // 7. ack with four ranges (docs/protocol.md's example plus two more).
  Ack a7;
  a7.dst_cid = kCidA;
  a7.largest_pn = 1000;
  a7.ack_delay_ns = 12345;
  a7.ack_seq = 42;
  a7.max_msg_id = 300;
  a7.msg_floor = 3;
  a7.free_buffer = 4194000;
  a7.range_count = 4;
  a7.share = 300;              // feature share: 300/256 of the mean
  a7.ranges[0] = {991, 1000};  // gap 0, len 10
  a7.ranges[1] = {900, 979};   // gap 11, len 80
  a7.ranges[2] = {850, 880};   // gap 19, len 31
  a7.ranges[3] = {3, 10};      // gap 839, len 8
  p = as_v2(enc_ack(common(Type::ack, kCidB), a7));
  fr = b_to_a(p);
  common_fields(fr, 2, 4, kCidB, 0);
  E(fr, "srdx.header_len", dec(76 + 8 * 4));
  E(fr, "srdx.dst_cid", hex64(kCidA));
  E(fr, "srdx.ack.largest_pn", "1000");
  E(fr, "srdx.ack.ack_delay_ns", "12345");
  E(fr, "srdx.ack.ack_seq", "42");
  E(fr, "srdx.ack.max_msg_id", "300");
  E(fr, "srdx.ack.msg_floor", "3");
  E(fr, "srdx.ack.free_buffer", "4194000");
  E(fr, "srdx.ack.range_count", "4");
  E(fr, "srdx.ack.share", "300");
  E(fr, "srdx.ack.range.gap", "0,11,19,839");
  E(fr, "srdx.ack.range.len", "10,80,31,8");
  {
    std::string lo, hi;
    for (int i = 0; i < 4; ++i) {
      lo += (i ? "," : "") + dec(a7.ranges[i].lo);
      hi += (i ? "," : "") + dec(a7.ranges[i].hi);
    }
    E(fr, "srdx.ack.range.lo", lo);
    E(fr, "srdx.ack.range.hi", hi);
  }
  E(fr, "text", "Range 1: 900..979 (gap 11, len 80)");
  E(fr, "_ws.col.Info", "ack largest=1000 ranges=4");

  // 8. a coalesced datagram: an ack (flag coalesced) then a data packet,
  // each with its own checksum.
  Ack a8;
  a8.dst_cid = kCidA;
  a8.largest_pn = 40;
  a8.ack_seq = 43;
  a8.max_msg_id = 301;
  a8.msg_floor = 4;
  a8.free_buffer = 4000000;
  a8.range_count = 2;
  a8.ranges[0] = {38, 40};
  a8.ranges[1] = {30, 35};
  const Bytes payload8 = pattern(0x61, 20);
  Data d8;
  d8.dst_cid = kCidA;
  d8.pn = 41;
  d8.msg_id = 6;
  d8.msg_len = 20;
  d8.frag_size = 20;
  d8.flow = 65535;
  d8.payload = payload8;
  Bytes coalesced = enc_ack(common(Type::ack, kCidB, flag::kCoalesced), a8);
  const size_t ack8_len = coalesced.size();
  append(coalesced, enc_data(common(Type::data, kCidB, flag::kAckNow), d8));
  coalesced = as_v2(coalesced, ack8_len);
  const Bytes ack8(coalesced.begin(), coalesced.begin() + static_cast<long>(ack8_len));
  const Bytes data8(coalesced.begin() + static_cast<long>(ack8_len), coalesced.end());
  const uint32_t ack8_checksum = wire::crc32c_hole(ack8, 8);
  const uint32_t data8_checksum = wire::crc32c_hole(data8, 8);
  fr = b_to_a(coalesced);
  E(fr, "srdx.type", "4,3");
  E(fr, "srdx.flags", "0x0008,0x0004");
  E(fr, "srdx.flags.coalesced", "1,0");
  E(fr, "srdx.header_len", dec(ack8_len) + ",72");
  E(fr, "srdx.checksum", hex32(ack8_checksum) + "," + hex32(data8_checksum));
  E(fr, "srdx.checksum.status", "1,1");
  E(fr, "srdx.src_cid", hex64(kCidB) + "," + hex64(kCidB));
  E(fr, "srdx.dst_cid", hex64(kCidA) + "," + hex64(kCidA));
  E(fr, "srdx.ack.largest_pn", "40");
  E(fr, "srdx.ack.range_count", "2");
  E(fr, "srdx.ack.range.lo", "38,30");
  E(fr, "srdx.ack.range.hi", "40,35");
  E(fr, "srdx.data.pn", "41");
  E(fr, "srdx.data.msg_id", "6");
  E(fr, "srdx.data.flow", "65535");
  E(fr, "srdx.data.payload", hex(payload8));
  E(fr, "_ws.col.Info", "ack largest=40 ranges=2 + data msg=6 frag=0/1 pn=41 [ack_now]");

  // 9. close: A's application removed the peer.
  Close cl9;
  cl9.dst_cid = kCidB;
  cl9.reason = static_cast<uint32_t>(CloseReason::removed);
  p = as_v2(enc_close(common(Type::close, kCidA), cl9));
  fr = a_to_b(p);
  common_fields(fr, 2, 6, kCidA, 0);
  E(fr, "srdx.header_len", "40");
  E(fr, "srdx.dst_cid", hex64(kCidB));
  E(fr, "srdx.close.reason", "2");
  E(fr, "srdx.close.reserved", "0x00000000");
  E(fr, "text", "Reason: removed (2)");
  E(fr, "_ws.col.Info", "close reason=removed dst=" + cid(kCidB));

  // 10. packet 5 with one payload byte flipped on the way: bad checksum.
  Bytes corrupt = data5;
  corrupt[100] ^= 0x10;
  fr = a_to_b(corrupt);
  E(fr, "srdx.checksum", hex32(wire::crc32c_hole(data5, 8)));
  E(fr, "srdx.checksum.calculated", hex32(wire::crc32c_hole(corrupt, 8)));
  E(fr, "srdx.checksum.status", "0");
  E(fr, "expert", "Bad checksum");
  E(fr, "expert", "(bad_checksum)");
  E(fr, "_ws.col.Info", "data msg=5 frag=0/3 pn=17 [BAD CHECKSUM]");

  // ---- version 3 ----

  // 11. hello offering `sealed` (feature bit 1), followed after its 80
  // header bytes by Noise IK message 1 (96 bytes), built by hand:
  //   80  e                 32 bytes, the initiator's ephemeral X25519 public key
  //   112 encrypted static  48 bytes: its static public key (32) + AEAD tag (16)
  //   160 payload tag       16 bytes
  // The checksum covers the whole 176-byte datagram.
  Hello h11 = h1;
  h11.features = feature::kOrdered | feature::kSealed | feature::kCoalesce;  // bit 1 = sealed
  const Bytes e11 = pattern(0xe0, 32);
  const Bytes static11 = pattern(0x50, 48);
  const Bytes tag11 = pattern(0x70, 16);
  Bytes noise11 = e11;
  append(noise11, static11);
  append(noise11, tag11);
  h11.noise = noise11;
  const Bytes hello11 = v3(enc_hello(common(Type::hello, kCidC), h11));
  if (hello11.size() != 176) die("sealed hello is not 176 bytes");
  fr = a_to_b(hello11);
  common_fields(fr, 3, 1, kCidC, 0);
  E(fr, "srdx.header_len", "80");
  E(fr, "srdx.checksum", hex32(wire::crc32c_hole(hello11, 8)));
  E(fr, "srdx.features", "0x00000007");
  E(fr, "srdx.features.sealed", "1");
  E(fr, "srdx.noise.e", hex(e11));
  E(fr, "srdx.noise.encrypted_static", hex(static11));
  E(fr, "srdx.noise.payload_tag", hex(tag11));
  E(fr, "_ws.col.Info", "hello cid=" + cid(kCidC) + " dst=0 sealed");

  // 12. hello_ack with `sealed`, followed by Noise IK message 2 (48 bytes):
  //   80  e            32 bytes, the responder's ephemeral public key
  //   112 payload tag  16 bytes
  // Datagram 128 bytes, all of it under the checksum.
  Hello h12 = h4;
  h12.dst_cid = kCidC;
  h12.features = feature::kSealed | feature::kCoalesce;
  const Bytes e12 = pattern(0x90, 32);
  const Bytes tag12 = pattern(0xb0, 16);
  Bytes noise12 = e12;
  append(noise12, tag12);
  h12.noise = noise12;
  const Bytes hello12 = v3(enc_hello(common(Type::hello_ack, kCidD), h12));
  if (hello12.size() != 128) die("sealed hello_ack is not 128 bytes");
  fr = b_to_a(hello12);
  common_fields(fr, 3, 2, kCidD, 0);
  E(fr, "srdx.dst_cid", hex64(kCidC));
  E(fr, "srdx.features.sealed", "1");
  E(fr, "srdx.noise.e", hex(e12));
  E(fr, "srdx.noise.payload_tag", hex(tag12));
  E(fr, "srdx.noise.encrypted_static", "");
  E(fr, "_ws.col.Info", "hello_ack cid=" + cid(kCidD) + " dst=" + cid(kCidC) + " sealed");

  // 13, 14. sealed datagrams (type 7), big endian:
  //   0 magic u16 0x5244 | 2 version u8 3 | 3 type u8 7 |
  //   4 flags u8 (bit 0: key phase, bit 1: peer phase) | 5 reserved u8 0 |
  //   6 src_port u16 | 8 dst_cid u64 | 16 counter u64 | 24 ciphertext |
  //   last 16: AEAD tag
  // No checksum. The header is the transport's encoder's; the ciphertext
  // here is a pattern, not a real encryption (the real ones come at the end).
  auto sealed = [](uint8_t flags, uint64_t dst_cid, uint64_t counter, const Bytes& ciphertext,
                   const Bytes& tag) {
    wire::SealedHeader h;
    h.flags = flags;
    h.src_port = kPort;
    h.dst_cid = dst_cid;
    h.counter = counter;
    Bytes s(wire::kSealedHeaderSize, 0);
    wire::encode_sealed_header(s.data(), h);
    append(s, ciphertext);
    append(s, tag);
    return s;
  };
  const Bytes ct13 = pattern(0x11, 72 + 32);  // a data packet's size
  const Bytes tag13 = pattern(0xf0, 16);
  const Bytes sealed13 = sealed(0x03, kCidD, 7, ct13, tag13);
  wire::SealedHeader sh13;
  if (wire::decode_sealed(sealed13, sh13) != wire::DecodeError::ok || sh13.counter != 7)
    die("the transport's decoder refuses the sealed datagram");
  fr = a_to_b(sealed13);
  E(fr, "srdx.version", "3");
  E(fr, "srdx.type", "7");
  E(fr, "srdx.sealed.flags", "0x03");
  E(fr, "srdx.sealed.key_phase", "1");
  E(fr, "srdx.sealed.peer_phase", "1");
  E(fr, "srdx.sealed.reserved", "0x00");
  E(fr, "srdx.src_port", dec(kPort));
  E(fr, "srdx.dst_cid", hex64(kCidD));
  E(fr, "srdx.sealed.counter", "7");
  E(fr, "srdx.sealed.ciphertext_len", dec(ct13.size()));
  E(fr, "srdx.sealed.ciphertext", hex(ct13));
  E(fr, "srdx.sealed.tag", hex(tag13));
  E(fr, "srdx.checksum.status", "");  // none: the AEAD tag covers it
  E(fr, "text", "encrypted (AES-256-GCM or ChaCha20-Poly1305), cannot be decoded without the keys");
  E(fr, "_ws.col.Info", "sealed cid=" + cid(kCidD) + " ctr=7 kp=1");

  // The smallest sealed datagram (64 bytes), key phase 0, a 64-bit counter,
  // to a port only the heuristic dissector finds srdx on.
  const Bytes ct14 = pattern(0x21, 24);
  const Bytes tag14 = pattern(0xe8, 16);
  const uint64_t ctr14 = 0x0123456789abcdef;
  fr = b_to_a(sealed(0x00, kCidC, ctr14, ct14, tag14), kOtherPort);
  E(fr, "srdx.type", "7");
  E(fr, "srdx.sealed.key_phase", "0");
  E(fr, "srdx.dst_cid", hex64(kCidC));
  E(fr, "srdx.sealed.counter", dec(ctr14));
  E(fr, "srdx.sealed.ciphertext_len", "24");
  E(fr, "srdx.sealed.tag", hex(tag14));
  E(fr, "_ws.col.Info", "sealed cid=" + cid(kCidC) + " ctr=" + dec(ctr14) + " kp=0");

  // 15. version 3, encryption off: the empty message (msg_len 0, one empty
  // fragment), on the heuristic port.
  Data d15;
  d15.dst_cid = kCidD;
  d15.pn = 0;
  d15.msg_id = 0;
  d15.msg_len = 0;
  d15.frag_size = 0;
  d15.flow = 1;
  p = v3(enc_data(common(Type::data, kCidC, flag::kAckNow), d15));
  fr = a_to_b(p, kOtherPort);
  common_fields(fr, 3, 3, kCidC, 0x0004);
  E(fr, "srdx.checksum", hex32(wire::crc32c_hole(p, 8)));
  E(fr, "srdx.dst_cid", hex64(kCidD));
  E(fr, "srdx.data.msg_len", "0");
  E(fr, "srdx.data.payload_len", "0");
  E(fr, "_ws.col.Info", "data msg=0 frag=0/1 pn=0 [ack_now]");

  // 16. version 3 ack whose last range reaches packet number 0.
  Ack a16;
  a16.dst_cid = kCidC;
  a16.largest_pn = 5;
  a16.ack_seq = 1;
  a16.max_msg_id = 64;
  a16.free_buffer = 1 << 20;
  a16.range_count = 2;
  a16.ranges[0] = {5, 5};
  a16.ranges[1] = {0, 2};  // gap 2 (3, 4), len 3
  Common c16 = common(Type::ack, kCidD);
  c16.echo = 137;  // largest_pn waited 137 us in the receiving host
  p = v3(enc_ack(c16, a16));
  fr = b_to_a(p, kOtherPort);
  common_fields(fr, 3, 4, kCidD, 0, 137);
  E(fr, "srdx.ack.range.gap", "0,2");
  E(fr, "srdx.ack.range.len", "1,3");
  E(fr, "srdx.ack.range.lo", "5,0");
  E(fr, "srdx.ack.range.hi", "5,2");
  E(fr, "_ws.col.Info", "ack largest=5 ranges=2");

  // 17. version 3 coalesced ack + data, to the default port.
  Ack a17 = a16;
  a17.range_count = 1;
  a17.ack_seq = 2;
  Data d17;
  d17.dst_cid = kCidC;
  d17.pn = 9;
  d17.msg_id = 3;
  d17.msg_len = 3;
  d17.frag_size = 1000;
  d17.flow = 2;
  const Bytes payload17 = {'a', 'b', 'c'};
  d17.payload = payload17;
  Bytes c17 = enc_ack(common(Type::ack, kCidD, flag::kCoalesced), a17);
  append(c17, enc_data(common(Type::data, kCidD), d17));
  p = v3(c17, 2);
  fr = b_to_a(p);
  E(fr, "srdx.version", "3,3");
  E(fr, "srdx.type", "4,3");
  E(fr, "srdx.checksum.status", "1,1");
  E(fr, "srdx.ack.range.lo", "5");
  E(fr, "srdx.data.msg_id", "3");
  E(fr, "srdx.data.payload", hex(payload17));
  E(fr, "_ws.col.Info", "ack largest=5 ranges=1 + data msg=3 frag=0/1 pn=9");

  // 18. version 2 close (timeout), on the heuristic port.
  Close cl18;
  cl18.dst_cid = kCidA;
  cl18.reason = static_cast<uint32_t>(CloseReason::timeout);
  p = as_v2(enc_close(common(Type::close, kCidB), cl18));
  fr = b_to_a(p, kOtherPort);
  common_fields(fr, 2, 6, kCidB, 0);
  E(fr, "srdx.close.reason", "3");
  E(fr, "text", "Reason: timeout (3)");
  E(fr, "_ws.col.Info", "close reason=timeout dst=" + cid(kCidA));

  // ---- malformed: each must get an expert info, never a Lua error ----

  // 19. packet 5 cut after 40 bytes.
  fr = a_to_b(Bytes(data5.begin(), data5.begin() + 40));
  E(fr, "srdx.type", "3");
  E(fr, "expert", "(too_short)");
  E(fr, "srdx.checksum.status", "2");  // unverified: the header is cut

  // 20. an ack whose second range reaches below packet number 0 (valid
  // checksum: the field rule, not the CRC, must catch it). Encoded as
  // largest 5, ranges [5,5] and [0,2], then the second gap raised to 5.
  Bytes bad = v3(enc_ack(common(Type::ack, kCidB), a16));
  put32(bad, 76 + 8, 5);
  reseal(bad);
  fr = b_to_a(bad);
  E(fr, "srdx.checksum.status", "1");
  E(fr, "srdx.ack.range.gap", "0,5");
  E(fr, "srdx.ack.range.lo", "5");
  E(fr, "expert", "range reaches below packet number 0 (bad_field)");

  // 21. an unknown version on the default port.
  bad = data5;
  bad[2] = 9;
  fr = a_to_b(bad);
  E(fr, "srdx.version", "9");
  E(fr, "expert", "version 9 (known: 2 and 3) (bad_version)");

  // 22. an ack flagged coalesced with nothing after it.
  bad = enc_ack(common(Type::ack, kCidB, flag::kCoalesced), a8);
  fr = b_to_a(bad);
  E(fr, "srdx.checksum.status", "1");
  E(fr, "expert", "no data packet follows the ack (bad_coalesce)");

  // 23. a close with reason 0 and a data packet with the wrong header_len.
  bad = enc_close(common(Type::close, kCidA), cl9);
  put32(bad, 32, 0);
  reseal(bad);
  fr = a_to_b(bad);
  E(fr, "expert", "unknown close reason 0 (bad_field)");
  bad = data5;
  put16(bad, 6, 70);
  reseal(bad);
  fr = a_to_b(bad);
  E(fr, "expert", "header_len 70, the data needs 72 (bad_length)");

  // 25. a sealed datagram shorter than 64 bytes.
  fr = a_to_b(sealed(0x00, kCidD, 8, pattern(0, 4), pattern(0, 16)));
  E(fr, "srdx.type", "7");
  E(fr, "expert", "sealed datagram of 44 bytes; at least 64");
  E(fr, "expert", "(too_short)");

  // 26. a sealed hello cut inside its Noise part (150 of 176 bytes), with a
  // checksum over what is there: the header still decodes.
  bad = Bytes(hello11.begin(), hello11.begin() + 150);
  reseal(bad);
  fr = a_to_b(bad);
  E(fr, "srdx.checksum.status", "1");
  E(fr, "srdx.noise.e", hex(e11));
  E(fr, "expert",
    "70 bytes after the header, 96 expected (datagram 150, expected 176) (too_short)");

  // ---- a real encrypted exchange ----
  // Two endpoints with encryption on (the default): the Noise handshake in
  // the clear (hello without a cookie, retry, hello with the cookie,
  // hello_ack), then three messages of several fragments each and their
  // acknowledgements, all sealed. Each datagram is written as it was sent and
  // handed to the other endpoint; the expectations come from the transport's
  // decoders.
  {
    const std::string marker = "srdx-capture-plaintext-marker";
    srdx::EndpointConfig ca, cb;
    ca.seed = 1;
    cb.seed = 2;
    ca.port = cb.port = kPort;
    srdx::Endpoint a(ca), b(cb);
    const srdx::Addr addr_a{kHostA, kPort}, addr_b{kHostB, kPort};
    const auto to_b = a.add_peer(addr_b, b.public_key());
    if (!to_b.ok() || !b.add_peer(addr_a, a.public_key()).ok()) die("add_peer failed");
    std::string text;
    while (text.size() < 3000) text += marker;
    srdx::Time now = srdx::Time::zero();
    for (int i = 0; i < 3; ++i) {
      const Bytes msg(text.begin(), text.end());
      if (!a.send(to_b.value, msg, {}, now).ok()) die("send failed");
    }
    int sealed_frames = 0, hellos = 0, received = 0;
    Bytes buf(9000);
    for (int turn = 0; turn < 2000 && received < 3; ++turn) {
      for (srdx::Endpoint* from : {&a, &b}) {
        srdx::Endpoint& to = from == &a ? b : a;
        const srdx::Addr src = from == &a ? addr_a : addr_b;
        if (from->next_deadline() <= now) from->on_timer(now);
        srdx::TxPath tx;
        while (size_t len = from->poll_transmit(buf, tx, now)) {
          const Bytes d(buf.begin(), buf.begin() + static_cast<long>(len));
          if (std::search(d.begin(), d.end(), marker.begin(), marker.end()) != d.end())
            die("a datagram of the encrypted exchange carries the plaintext");
          const uint16_t sport = static_cast<uint16_t>(49152 + tx.entropy % 64);
          fr = w.datagram(src.ip, tx.remote.ip, sport, kPort, d);
          E(fr, "srdx.version", "3");
          wire::SealedHeader sh;
          if (wire::is_sealed(d)) {
            if (wire::decode_sealed(d, sh) != wire::DecodeError::ok)
              die("a sealed datagram that does not decode");
            ++sealed_frames;
            E(fr, "srdx.type", "7");
            E(fr, "srdx.dst_cid", hex64(sh.dst_cid));
            E(fr, "srdx.sealed.counter", dec(sh.counter));
            E(fr, "srdx.sealed.key_phase", dec(sh.flags & wire::sealed_flag::kKeyPhase));
            E(fr, "srdx.sealed.ciphertext_len",
              dec(len - wire::kSealedHeaderSize - wire::kTagSize));
            E(fr, "srdx.sealed.tag", hex(Bytes(d.end() - wire::kTagSize, d.end())));
            E(fr, "srdx.checksum.status", "");
          } else {
            Packet first, second;
            size_t count = 0;
            if (wire::decode_datagram(d, first, second, count) != wire::DecodeError::ok ||
                count != 1)
              die("a clear datagram of the handshake that does not decode");
            const Type t = first.common.type;
            E(fr, "srdx.type", dec(static_cast<int>(t)));
            E(fr, "srdx.src_cid", hex64(first.common.src_cid));
            E(fr, "srdx.checksum.status", "1");
            if (t == Type::hello || t == Type::hello_ack) {
              ++hellos;
              E(fr, "srdx.features.sealed", "1");
              E(fr, "srdx.noise.e",
                hex(Bytes(first.hello.noise.begin(), first.hello.noise.begin() + 32)));
            }
          }
          to.on_packet(d, srdx::RxPath{src, tx.entropy, 0}, now);
        }
      }
      srdx::Event ev;
      while (b.poll_event(ev)) {
        if (ev.type != srdx::EventType::message_received) continue;
        if (std::string(ev.data.begin(), ev.data.end()) != text) die("a message arrived altered");
        ++received;
      }
      while (a.poll_event(ev)) {
      }
      now = now + srdx::Duration::micros(10);
    }
    if (received != 3 || hellos < 2 || sealed_frames < 6) {
      die("the encrypted exchange did not complete: " + std::to_string(received) + " messages, " +
          std::to_string(hellos) + " hellos, " + std::to_string(sealed_frames) +
          " sealed datagrams");
    }
  }

  if (std::fclose(w.pcap) != 0 || std::fclose(w.expectations) != 0) die("cannot write the outputs");
  std::printf("make_capture: %d frames\n", w.frame);
  return 0;
}
