// frame.h: build -> parse round trips, every verdict, checksums against known
// vectors (RFC 1071, Wikipedia's IPv4 header, frames built by an independent
// Python implementation), ARP and ICMP replies byte for byte.
#include "dpdk/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srdx::dp::frame {
namespace {

constexpr Mac kUs = {0x02, 0, 0, 0, 0, 0x01};
constexpr Mac kPeer = {0x02, 0, 0, 0, 0, 0x02};
constexpr uint32_t kUsIp = 0xc6120001;    // 198.18.0.1
constexpr uint32_t kPeerIp = 0xc6120002;  // 198.18.0.2
constexpr uint16_t kPort = 4791;

std::vector<uint8_t> hex(const std::string& s) {
  std::vector<uint8_t> b;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    b.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return b;
}

// A datagram from kUs:49153 to kPeer:4791 carrying "srdx-test-payload", IP id
// 0x1234, built by /usr/bin/python3 with struct (an independent checksum).
const std::string kUdpFrame =
    "02000000000202000000000108004500002d1234400040119c64c6120001c6120002c00112b7001904ac7372647"
    "82d746573742d7061796c6f6164";
const std::string kPayload = "srdx-test-payload";

// Parses as kPeer (the receiver of kUdpFrame).
ParseContext peer_ctx() {
  ParseContext c;
  c.local_mac = kPeer;
  c.local_ip = kPeerIp;
  c.local_port = kPort;
  return c;
}
ParseContext us_ctx() {
  ParseContext c;
  c.local_mac = kUs;
  c.local_ip = kUsIp;
  c.local_port = kPort;
  return c;
}

UdpFrameSpec spec() {
  UdpFrameSpec s;
  s.src_mac = kUs;
  s.dst_mac = kPeer;
  s.src_ip = kUsIp;
  s.dst_ip = kPeerIp;
  s.src_port = 49153;
  s.dst_port = kPort;
  s.ip_id = 0x1234;
  return s;
}

std::vector<uint8_t> build(const std::string& payload, const UdpFrameSpec& s = spec()) {
  std::vector<uint8_t> f(kHeadersLen + payload.size());
  std::copy(payload.begin(), payload.end(), f.begin() + kHeadersLen);
  const size_t n = build_udp(f, payload.size(), s);
  EXPECT_EQ(n, f.size());
  return f;
}

void fix_ip_checksum(std::vector<uint8_t>& f) {
  const size_t ihl = size_t{f[14] & 0x0fu} * 4;
  f[24] = f[25] = 0;
  const uint16_t c = internet_checksum({f.data() + 14, ihl});
  f[24] = static_cast<uint8_t>(c >> 8);
  f[25] = static_cast<uint8_t>(c);
}

Verdict verdict(const std::vector<uint8_t>& f, const ParseContext& c = peer_ctx()) {
  return parse(f, c).verdict;
}

TEST(FrameChecksum, KnownVectors) {
  // RFC 1071 section 3's example: the sum is ddf2.
  const auto rfc = hex("0001f203f4f5f6f7");
  EXPECT_EQ(ones_sum(rfc), 0xddf2);
  EXPECT_EQ(internet_checksum(rfc), 0x220d);
  // Wikipedia's IPv4 header example: checksum b861.
  EXPECT_EQ(internet_checksum(hex("450000730000400040110000c0a80001c0a800c7")), 0xb861);
  EXPECT_EQ(internet_checksum(hex("45000073000040004011b861c0a80001c0a800c7")), 0);
  // Odd length: the last byte is padded with zero.
  EXPECT_EQ(ones_sum(hex("010203")), ones_sum(hex("01020300")));
  EXPECT_EQ(ones_sum(hex("ffff"), 1), 1);  // end-around carry
}

TEST(FrameBuild, MatchesIndependentEncoder) { EXPECT_EQ(build(kPayload), hex(kUdpFrame)); }

TEST(FrameBuild, RoundTrip) {
  for (size_t len : {0u, 1u, 17u, 64u, 1472u}) {
    std::string payload(len, 'x');
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 7);
    const auto f = build(payload);
    const Parsed p = parse(f, peer_ctx());
    ASSERT_EQ(p.verdict, Verdict::datagram) << to_string(p.verdict) << " len " << len;
    EXPECT_EQ(p.src_ip, kUsIp);
    EXPECT_EQ(p.dst_ip, kPeerIp);
    EXPECT_EQ(p.src_port, 49153);
    EXPECT_EQ(p.dst_port, kPort);
    EXPECT_EQ(p.src_mac, kUs);
    ASSERT_EQ(p.payload_len, len);
    EXPECT_EQ(std::string(f.begin() + static_cast<long>(p.payload_offset), f.end()), payload);
  }
}

TEST(FrameBuild, RefusesWhatDoesNotFit) {
  std::vector<uint8_t> f(kHeadersLen + 9);
  EXPECT_EQ(build_udp(f, 10, spec()), 0u);
  EXPECT_EQ(build_udp(std::span<uint8_t>(f).first(41), 0, spec()), 0u);
  std::vector<uint8_t> big(70000);
  EXPECT_EQ(build_udp(big, 65535 - 28 + 1, spec()), 0u);
  EXPECT_EQ(build_udp(big, 65535 - 28, spec()), kHeadersLen + 65535 - 28);
}

TEST(FrameBuild, OffloadLeavesChecksumsToTheDevice) {
  UdpFrameSpec s = spec();
  s.ip_checksum = Checksum::offload;
  s.udp_checksum = Checksum::offload;
  const auto f = build(kPayload, s);
  EXPECT_EQ(f[24], 0);  // IPv4 checksum zero
  EXPECT_EQ(f[25], 0);
  // UDP field: the folded pseudo-header sum, as rte_ipv4_phdr_cksum() gives.
  const uint32_t ph = 0xc612 + 0x0001 + 0xc612 + 0x0002 + 17 + 25;
  const uint16_t folded = static_cast<uint16_t>((ph & 0xffff) + (ph >> 16));
  EXPECT_EQ(f[40] << 8 | f[41], folded);
  // The device completes them; then it is the same frame the software builds.
  auto done = f;
  fix_ip_checksum(done);
  done[40] = done[41] = 0;
  const uint16_t c = static_cast<uint16_t>(~ones_sum({done.data() + 34, done.size() - 34}, ph));
  done[40] = static_cast<uint8_t>(c >> 8);
  done[41] = static_cast<uint8_t>(c);
  EXPECT_EQ(done, hex(kUdpFrame));
}

TEST(FrameBuild, NoUdpChecksumIsAccepted) {
  UdpFrameSpec s = spec();
  s.udp_checksum = Checksum::none;
  const auto f = build(kPayload, s);
  EXPECT_EQ(f[40] | f[41], 0);
  EXPECT_EQ(verdict(f), Verdict::datagram);
}

TEST(FrameBuild, ZeroChecksumIsSentAsFfff) {
  // Find a payload whose UDP checksum computes to zero: it must go out as ffff.
  for (uint32_t v = 0; v < 0x10000; ++v) {
    const std::string payload = {static_cast<char>(v >> 8), static_cast<char>(v)};
    const auto f = build(payload);
    if ((f[40] << 8 | f[41]) == 0xffff) {
      EXPECT_EQ(verdict(f), Verdict::datagram);
      return;
    }
  }
  FAIL() << "no payload with a zero checksum found";
}

TEST(FrameBuild, TemplateWritesWhatBuildUdpWrites) {
  for (Checksum ip : {Checksum::software, Checksum::offload}) {
    for (Checksum udp : {Checksum::software, Checksum::offload, Checksum::none}) {
      UdpFrameSpec s = spec();
      s.ip_checksum = ip;
      s.udp_checksum = udp;
      s.dst_ip = 0x0a0000ff;
      const UdpHeaderTemplate t(s);
      for (size_t len : {0u, 1u, 7u, 64u, 1000u, 1473u}) {
        for (uint16_t port : {uint16_t{0}, uint16_t{49152}, uint16_t{65535}}) {
          s.src_port = port;
          s.dst_port = static_cast<uint16_t>(port ^ 0x5a5a);
          s.ip_id = static_cast<uint16_t>(len * 977 + port);
          std::string payload(len, '\0');
          for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 31 + port);
          const auto want = build(payload, s);
          std::vector<uint8_t> got(kHeadersLen + len);
          std::copy(payload.begin(), payload.end(), got.begin() + kHeadersLen);
          ASSERT_EQ(t.write(got, len, s.src_port, s.dst_port, s.ip_id), got.size());
          EXPECT_EQ(got, want) << "len " << len << " port " << port;
        }
      }
      std::vector<uint8_t> small(kHeadersLen + 3);
      EXPECT_EQ(t.write(small, 4, 1, 2, 3), 0u);
    }
  }
}

// The link's UDP checksum policy without a TX offload: checksum zero ("none").
// The receiver takes it: payload integrity is the srdx CRC32C's job.
TEST(FrameChecksumNone, ZeroChecksumSkipsVerificationNonzeroDoesNot) {
  UdpFrameSpec s = spec();
  s.udp_checksum = Checksum::none;
  auto f = build(kPayload, s);
  ASSERT_EQ(f[40] | f[41], 0);
  EXPECT_EQ(internet_checksum({f.data() + 14, 20}), 0);  // the IP checksum is still there
  f.back() ^= 0x40;  // corrupted payload: not seen without a checksum
  EXPECT_EQ(verdict(f), Verdict::datagram);
  DatagramRef d;
  EXPECT_TRUE(parse_datagram(f, peer_ctx(), d));
  // A nonzero checksum is verified, by both parsers, unless the device did.
  auto g = hex(kUdpFrame);
  g.back() ^= 0x40;
  EXPECT_EQ(verdict(g), Verdict::bad_udp_checksum);
  EXPECT_FALSE(parse_datagram(g, peer_ctx(), d));
  ParseContext c = peer_ctx();
  c.l4_checksum = HwCheck::good;
  EXPECT_TRUE(parse_datagram(g, c, d));
  c.l4_checksum = HwCheck::bad;
  EXPECT_FALSE(parse_datagram(f, c, d));  // the device's "bad" wins even over zero
  EXPECT_EQ(verdict(f, c), Verdict::bad_udp_checksum);
}

TEST(FrameChecksumNone, TemplateLeavesZeroAndKeepsIpChecksum) {
  UdpFrameSpec s = spec();
  s.udp_checksum = Checksum::none;
  const UdpHeaderTemplate t(s);
  std::vector<uint8_t> f(kHeadersLen + 64, 0xa5);
  ASSERT_EQ(t.write(f, 64, 49153, kPort, 7), f.size());
  EXPECT_EQ(f[40] | f[41], 0);
  EXPECT_EQ(internet_checksum({f.data() + 14, 20}), 0);
  EXPECT_EQ(verdict(f), Verdict::datagram);
}

// parse_datagram() is parse()'s fast path: whenever it accepts, parse() says
// datagram with the same fields; whenever parse() says datagram for a frame
// without IP options, it accepts. Checked on every single-byte change and
// every truncation of a valid frame (zero and nonzero UDP checksums), under
// every device checksum verdict.
TEST(FrameFastPath, AgreesWithParse) {
  UdpFrameSpec none = spec();
  none.udp_checksum = Checksum::none;
  const std::vector<std::vector<uint8_t>> bases = {hex(kUdpFrame), build(kPayload, none),
                                                   build(std::string(64, 'x'))};
  size_t accepted = 0, cases = 0;
  auto check = [&](const std::vector<uint8_t>& f, const ParseContext& c) {
    ++cases;
    DatagramRef d;
    const bool fast = parse_datagram(f, c, d);
    const Parsed p = parse(f, c);
    if (fast) {
      ++accepted;
      ASSERT_EQ(p.verdict, Verdict::datagram);
      EXPECT_EQ(d.src_ip, p.src_ip);
      EXPECT_EQ(d.src_port, p.src_port);
      EXPECT_EQ(d.payload_offset, p.payload_offset);
      EXPECT_EQ(d.payload_len, p.payload_len);
    } else if (p.verdict == Verdict::datagram) {
      EXPECT_NE(f[14], 0x45)
          << "parse() accepted a frame without options that the fast path refused";
    }
  };
  for (int hw = 0; hw < 9; ++hw) {
    ParseContext c = peer_ctx();
    c.ip_checksum = static_cast<HwCheck>(hw % 3);
    c.l4_checksum = static_cast<HwCheck>(hw / 3);
    for (const auto& base : bases) {
      check(base, c);
      for (size_t n = 0; n < base.size(); ++n) {
        check(std::vector<uint8_t>(base.begin(), base.begin() + static_cast<long>(n)), c);
      }
      for (size_t i = 0; i < base.size(); ++i) {
        for (uint8_t x : {0x01, 0x10, 0x80, 0xff}) {
          auto f = base;
          f[i] ^= x;
          check(f, c);
          fix_ip_checksum(f);
          check(f, c);
        }
      }
    }
  }
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(cases, 10000u);
  // A broadcast "local" MAC: parse() refuses IPv4 to broadcast, so must the fast path.
  ParseContext b = peer_ctx();
  b.local_mac = kBroadcast;
  auto f = hex(kUdpFrame);
  std::fill(f.begin(), f.begin() + 6, 0xff);
  DatagramRef d;
  EXPECT_FALSE(parse_datagram(f, b, d));
  EXPECT_EQ(verdict(f, b), Verdict::not_for_us);
}

TEST(FrameParse, Truncated) {
  const auto f = hex(kUdpFrame);
  for (size_t n : {size_t{0}, size_t{13}, size_t{14}, size_t{33}, f.size() - 1}) {
    std::vector<uint8_t> g(f.begin(), f.begin() + static_cast<long>(n));
    EXPECT_EQ(verdict(g), Verdict::truncated) << n;
  }
  // UDP length larger than the IP payload.
  auto g = f;
  g[38] = 0;
  g[39] = 0xff;
  EXPECT_EQ(verdict(g), Verdict::truncated);
  // UDP length below its header.
  g[39] = 7;
  EXPECT_EQ(verdict(g), Verdict::truncated);
  // IP payload shorter than a UDP header.
  auto h = f;
  h[16] = 0;
  h[17] = 20 + 4;
  fix_ip_checksum(h);
  EXPECT_EQ(verdict(h), Verdict::truncated);
}

TEST(FrameParse, EthernetPaddingIsIgnored) {
  auto f = build("ab");
  f.resize(60, 0xee);
  const Parsed p = parse(f, peer_ctx());
  ASSERT_EQ(p.verdict, Verdict::datagram);
  EXPECT_EQ(p.payload_len, 2u);
}

TEST(FrameParse, UdpShorterThanIpPayloadUsesUdpLength) {
  auto f = build("abcd");
  f.push_back(0);
  f.push_back(0);
  f[17] = static_cast<uint8_t>(f[17] + 2);  // IP total length covers 2 more bytes
  fix_ip_checksum(f);
  const Parsed p = parse(f, peer_ctx());
  ASSERT_EQ(p.verdict, Verdict::datagram);
  EXPECT_EQ(p.payload_len, 4u);
}

TEST(FrameParse, BadIpHeader) {
  auto f = hex(kUdpFrame);
  f[14] = 0x44;  // IHL 4
  EXPECT_EQ(verdict(f), Verdict::bad_ip_header);
  f = hex(kUdpFrame);
  f[16] = 0;
  f[17] = 19;  // total length below the header
  EXPECT_EQ(verdict(f), Verdict::bad_ip_header);
}

TEST(FrameParse, NotIpv4AndUnknownEthertype) {
  auto f = hex(kUdpFrame);
  f[12] = 0x86;
  f[13] = 0xdd;
  EXPECT_EQ(verdict(f), Verdict::not_ipv4);
  f = hex(kUdpFrame);
  f[14] = 0x65;  // version 6 under the IPv4 ethertype
  EXPECT_EQ(verdict(f), Verdict::not_ipv4);
  f = hex(kUdpFrame);
  f[12] = 0x88;
  f[13] = 0xcc;  // LLDP
  EXPECT_EQ(verdict(f), Verdict::unknown_ethertype);
  f[12] = 0x81;
  f[13] = 0x00;  // VLAN tagged
  EXPECT_EQ(verdict(f), Verdict::unknown_ethertype);
}

TEST(FrameParse, NotForUs) {
  auto f = hex(kUdpFrame);
  f[5] = 0x99;  // another MAC
  EXPECT_EQ(verdict(f), Verdict::not_for_us);
  std::fill(f.begin(), f.begin() + 6, 0xff);  // IP to the broadcast MAC
  EXPECT_EQ(verdict(f), Verdict::not_for_us);
  f = hex(kUdpFrame);
  ParseContext c = peer_ctx();
  c.local_ip = kPeerIp + 1;
  EXPECT_EQ(verdict(f, c), Verdict::wrong_dst_ip);
  c = peer_ctx();
  c.local_port = kPort + 1;
  const Parsed p = parse(f, c);
  EXPECT_EQ(p.verdict, Verdict::wrong_dst_port);
  EXPECT_EQ(p.dst_port, kPort);
}

TEST(FrameParse, BadChecksums) {
  auto f = hex(kUdpFrame);
  f[25] ^= 1;
  EXPECT_EQ(verdict(f), Verdict::bad_ip_checksum);
  f = hex(kUdpFrame);
  f.back() ^= 0x40;  // payload corrupted
  EXPECT_EQ(verdict(f), Verdict::bad_udp_checksum);
  // The device's verdict is taken when it has one.
  ParseContext c = peer_ctx();
  c.l4_checksum = HwCheck::good;
  EXPECT_EQ(verdict(f, c), Verdict::datagram);
  c.l4_checksum = HwCheck::bad;
  EXPECT_EQ(verdict(hex(kUdpFrame), c), Verdict::bad_udp_checksum);
  c = peer_ctx();
  c.ip_checksum = HwCheck::bad;
  EXPECT_EQ(verdict(hex(kUdpFrame), c), Verdict::bad_ip_checksum);
  auto g = hex(kUdpFrame);
  g[25] ^= 1;
  c.ip_checksum = HwCheck::good;
  EXPECT_EQ(verdict(g, c), Verdict::datagram);
}

TEST(FrameParse, Fragments) {
  auto f = hex(kUdpFrame);
  f[20] = 0x20;  // MF
  fix_ip_checksum(f);
  EXPECT_EQ(verdict(f), Verdict::ip_fragment);
  f = hex(kUdpFrame);
  f[20] = 0x00;
  f[21] = 0x10;  // offset 16 * 8
  fix_ip_checksum(f);
  EXPECT_EQ(verdict(f), Verdict::ip_fragment);
  f = hex(kUdpFrame);
  f[20] = 0x00;  // DF clear, not a fragment
  fix_ip_checksum(f);
  EXPECT_EQ(verdict(f), Verdict::datagram);
}

TEST(FrameParse, NotUdp) {
  auto f = hex(kUdpFrame);
  f[23] = 6;  // TCP
  fix_ip_checksum(f);
  EXPECT_EQ(verdict(f), Verdict::not_udp);
}

TEST(FrameParse, IpOptionsAreSkipped) {
  // Insert 4 bytes of options (NOP NOP NOP EOL) and make IHL 6.
  auto f = hex(kUdpFrame);
  f.insert(f.begin() + 34, {1, 1, 1, 0});
  f[14] = 0x46;
  f[17] = static_cast<uint8_t>(f[17] + 4);
  fix_ip_checksum(f);
  const Parsed p = parse(f, peer_ctx());
  ASSERT_EQ(p.verdict, Verdict::datagram) << to_string(p.verdict);
  EXPECT_EQ(p.payload_offset, kHeadersLen + 4);
  EXPECT_EQ(std::string(f.begin() + static_cast<long>(p.payload_offset), f.end()), kPayload);
  // Options running past the frame end are truncation.
  auto g = f;
  g[14] = 0x4f;  // 60-byte header
  g[16] = 0;
  g[17] = 60 + 8;
  g.resize(14 + 40);
  EXPECT_EQ(verdict(g), Verdict::truncated);
}

const std::string kArpRequest =  // who has 198.18.0.1? tell 198.18.0.2 (02..02)
    "ffffffffffff02000000000208060001080006040001020000000002c6120002000000000000c6120001";
const std::string kArpReply =
    "02000000000202000000000108060001080006040002020000000001c6120001020000000002c6120002";

TEST(FrameArp, RequestToUsIsAnsweredByteExact) {
  const auto req = hex(kArpRequest);
  const Parsed p = parse(req, us_ctx());
  ASSERT_EQ(p.verdict, Verdict::arp_request);
  EXPECT_EQ(p.src_ip, kPeerIp);
  EXPECT_EQ(p.dst_ip, kUsIp);
  EXPECT_EQ(p.arp_sender_mac, kPeer);
  std::vector<uint8_t> out(64);
  const size_t n = build_arp_reply(out, p, kUs, kUsIp);
  ASSERT_EQ(n, kArpFrameLen);
  out.resize(n);
  EXPECT_EQ(out, hex(kArpReply));
  // The reply parses as a reply at the requester.
  const Parsed r = parse(out, peer_ctx());
  EXPECT_EQ(r.verdict, Verdict::arp_reply);
  EXPECT_EQ(r.arp_sender_mac, kUs);
  EXPECT_EQ(r.src_ip, kUsIp);
  // Too little room, or not a request.
  EXPECT_EQ(build_arp_reply(std::span<uint8_t>(out).first(41), p, kUs, kUsIp), 0u);
  EXPECT_EQ(build_arp_reply(out, r, kUs, kUsIp), 0u);
}

TEST(FrameArp, RequestIsByteExact) {
  std::vector<uint8_t> out(42);
  ASSERT_EQ(build_arp_request(out, kPeer, kPeerIp, kUsIp), kArpFrameLen);
  EXPECT_EQ(out, hex(kArpRequest));
  EXPECT_EQ(build_arp_request(std::span<uint8_t>(out).first(41), kPeer, kPeerIp, kUsIp), 0u);
}

TEST(FrameArp, OtherArp) {
  auto req = hex(kArpRequest);
  ParseContext c = us_ctx();
  c.local_ip = kUsIp + 5;  // asks for someone else
  EXPECT_EQ(verdict(req, c), Verdict::arp_other);
  req[21] = 3;  // RARP-ish opcode
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::arp_other);
  req = hex(kArpRequest);
  req[15] = 6;  // hardware type 6
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::bad_ip_header);
  req = hex(kArpRequest);
  req.resize(41);
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::truncated);
}

const std::string kPing =  // 198.18.0.2 pings 198.18.0.1: id 0x1234 seq 1, 8 data bytes
    "020000000001020000000002080045000024000140004001aeb0c6120002c61200010800d9ba1234000100010203"
    "04050607";
const std::string kPong =
    "020000000002020000000001080045000024000040004001aeb1c6120001c61200020000e1ba1234000100010203"
    "04050607";

TEST(FrameIcmp, EchoReplyByteExact) {
  const auto req = hex(kPing);
  const Parsed p = parse(req, us_ctx());
  ASSERT_EQ(p.verdict, Verdict::icmp_echo_request) << to_string(p.verdict);
  std::vector<uint8_t> out(128);
  const size_t n = build_icmp_echo_reply(out, req, p, kUs);
  ASSERT_EQ(n, req.size());
  out.resize(n);
  EXPECT_EQ(out, hex(kPong));
  // In place works too (the link may answer in the request's buffer).
  auto inplace = req;
  ASSERT_EQ(build_icmp_echo_reply(inplace, inplace, p, kUs), req.size());
  EXPECT_EQ(inplace, hex(kPong));
}

TEST(FrameIcmp, Rejections) {
  auto req = hex(kPing);
  req[40] ^= 1;  // ICMP data corrupted
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::bad_udp_checksum);
  req = hex(kPing);
  req[34] = 0;  // an echo reply (or any other type) is not answered
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::not_udp);
  req = hex(kPing);
  req[16] = 0;
  req[17] = 24;  // 4 bytes of ICMP
  fix_ip_checksum(req);
  EXPECT_EQ(verdict(req, us_ctx()), Verdict::truncated);
  const Parsed p = parse(hex(kUdpFrame), peer_ctx());
  std::vector<uint8_t> out(128);
  EXPECT_EQ(build_icmp_echo_reply(out, hex(kUdpFrame), p, kUs), 0u);
}

TEST(FrameVerdict, Names) {
  for (size_t i = 0; i < kVerdictCount; ++i) {
    EXPECT_NE(to_string(static_cast<Verdict>(i)), "?") << i;
  }
}

}  // namespace
}  // namespace srdx::dp::frame
