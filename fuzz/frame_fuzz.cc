// libFuzzer target: the dpdk link's frame parser (dataplane/dpdk/frame.h) on
// arbitrary frames, and the replies it builds for what it accepts.
//
// Input: one control byte, then the frame. Control bit 0: the receiver is
// whoever the frame is addressed to (its destination MAC, IP and UDP port), so
// that most inputs get deep into the parser; otherwise a fixed receiver
// (02:00:c6:12:00:01, 198.18.0.1:4791). Bits 1-2 and 3-4: what the device says
// of the IP and L4 checksums (unknown, good, bad).
//
// Checks: parse() reads only inside the frame (ASan), a datagram's payload lies
// inside it and rebuilds into a frame that parses to the same fields (with a
// computed UDP checksum and with none); parse_datagram(), the link's fast
// path, accepts exactly what parse() accepts as a datagram without IP options,
// with the same fields; an ARP
// request gets a reply that parses as a reply at the requester; an echo
// request gets a reply with valid checksums, built apart and in place alike.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../dataplane/dpdk/frame.h"

namespace {

using namespace srdx::dp::frame;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "frame_fuzz: %s\n", what);
    std::abort();
  }
}

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

ParseContext context(uint8_t control, std::span<const uint8_t> f) {
  ParseContext c;
  c.local_mac = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01};
  c.local_ip = 0xc6120001;
  c.local_port = 4791;
  if ((control & 1) != 0) {
    if (f.size() >= 6) std::memcpy(c.local_mac.data(), f.data(), 6);
    if (f.size() >= kEthLen + kIpv4Len) c.local_ip = be32(f.data() + kEthLen + 16);
    if (f.size() >= kEthLen + kArpLen && f.size() >= 14 && f[12] == 0x08 && f[13] == 0x06) {
      c.local_ip = be32(f.data() + kEthLen + 24);  // ARP target
    }
    if (f.size() >= 15) {
      const size_t ihl = size_t{f[14] & 0x0fu} * 4;
      if (f.size() >= kEthLen + ihl + 4) {
        const uint8_t* u = f.data() + kEthLen + ihl;
        c.local_port = static_cast<uint16_t>(u[2] << 8 | u[3]);
      }
    }
  }
  c.ip_checksum = static_cast<HwCheck>(((control >> 1) & 3) % 3);
  c.l4_checksum = static_cast<HwCheck>(((control >> 3) & 3) % 3);
  return c;
}

void check_datagram(std::span<const uint8_t> f, const Parsed& p, const ParseContext& ctx) {
  check(p.payload_offset <= f.size() && f.size() - p.payload_offset >= p.payload_len,
        "payload outside the frame");
  check(p.payload_offset >= kHeadersLen, "payload inside the headers");
  std::vector<uint8_t> g(kHeadersLen + p.payload_len);
  if (p.payload_len != 0) {
    std::memcpy(g.data() + kHeadersLen, f.data() + p.payload_offset, p.payload_len);
  }
  UdpFrameSpec s;
  s.src_mac = p.src_mac;
  s.dst_mac = ctx.local_mac;
  s.src_ip = p.src_ip;
  s.dst_ip = p.dst_ip;
  s.src_port = p.src_port;
  s.dst_port = p.dst_port;
  s.udp_checksum = (p.payload_len & 1) != 0 ? Checksum::none : Checksum::software;
  check(build_udp(g, p.payload_len, s) == g.size(), "rebuild failed");
  ParseContext soft = ctx;
  soft.ip_checksum = soft.l4_checksum = HwCheck::unknown;
  const Parsed q = parse(g, soft);
  // Our MAC may be broadcast (control bit 0): then IP is refused as not for us.
  if (ctx.local_mac == kBroadcast) {
    check(q.verdict == Verdict::not_for_us, "broadcast IP accepted");
    return;
  }
  check(q.verdict == Verdict::datagram, "rebuilt frame does not parse as a datagram");
  check(q.src_ip == p.src_ip && q.dst_ip == p.dst_ip && q.src_port == p.src_port &&
            q.dst_port == p.dst_port && q.payload_len == p.payload_len &&
            q.payload_offset == kHeadersLen,
        "rebuilt frame parses to other fields");
  check(p.payload_len == 0 ||
            std::memcmp(g.data() + kHeadersLen, f.data() + p.payload_offset, p.payload_len) == 0,
        "payload changed");
}

void check_arp(const Parsed& p, const ParseContext& ctx) {
  std::vector<uint8_t> out(kArpFrameLen);
  const size_t n = build_arp_reply(out, p, ctx.local_mac, ctx.local_ip);
  check(n == kArpFrameLen, "no ARP reply");
  ParseContext requester;
  requester.local_mac = p.arp_sender_mac;
  requester.local_ip = p.src_ip;
  const Parsed r = parse(out, requester);
  if (p.src_ip == 0) return;  // an ARP probe: the reply goes to 0.0.0.0
  check(r.verdict == Verdict::arp_reply || r.verdict == Verdict::not_for_us,
        "ARP reply does not parse as one");
  if (r.verdict == Verdict::arp_reply) {
    check(r.src_ip == ctx.local_ip && r.arp_sender_mac == ctx.local_mac, "ARP reply fields");
  }
}

void check_icmp(std::span<const uint8_t> f, const Parsed& p, const ParseContext& ctx) {
  check(p.payload_offset <= f.size() && f.size() - p.payload_offset >= p.payload_len,
        "ICMP outside the frame");
  std::vector<uint8_t> out(kEthLen + kIpv4Len + p.payload_len);
  const size_t n = build_icmp_echo_reply(out, f, p, ctx.local_mac);
  if (n == 0) return;  // a request larger than an IPv4 datagram without options allows
  check(n == out.size(), "ICMP reply length");
  check(internet_checksum({out.data() + kEthLen, kIpv4Len}) == 0, "reply IP checksum");
  check(internet_checksum({out.data() + kEthLen + kIpv4Len, p.payload_len}) == 0,
        "reply ICMP checksum");
  std::vector<uint8_t> inplace(f.begin(), f.end());
  check(build_icmp_echo_reply(inplace, inplace, p, ctx.local_mac) == n, "in-place reply length");
  check(std::memcmp(inplace.data(), out.data(), n) == 0, "in-place reply differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  // A copy of exactly the frame's size, so that ASan sees any read past it.
  std::vector<uint8_t> copy(data + 1, data + size);
  const std::span<const uint8_t> f(copy);
  const ParseContext ctx = context(control, f);
  const Parsed p = parse(f, ctx);
  check(static_cast<size_t>(p.verdict) < kVerdictCount, "verdict out of range");
  DatagramRef d;
  const bool fast = parse_datagram(f, ctx, d);
  if (fast) {
    check(p.verdict == Verdict::datagram, "fast path accepted what parse() refuses");
    check(d.src_ip == p.src_ip && d.src_port == p.src_port &&
              d.payload_offset == p.payload_offset && d.payload_len == p.payload_len,
          "fast path fields differ");
  } else if (p.verdict == Verdict::datagram) {
    check(f[kEthLen] != 0x45, "fast path refused a datagram without IP options");
  }
  check(to_string(p.verdict) != "?", "unnamed verdict");
  switch (p.verdict) {
    case Verdict::datagram:
      check_datagram(f, p, ctx);
      break;
    case Verdict::arp_request:
      check_arp(p, ctx);
      break;
    case Verdict::icmp_echo_request:
      check_icmp(f, p, ctx);
      break;
    default:
      break;
  }
  // Whatever the verdict, the builders refuse what is not theirs.
  std::vector<uint8_t> out(64);
  if (p.verdict != Verdict::arp_request) {
    check(build_arp_reply(out, p, ctx.local_mac, ctx.local_ip) == 0, "ARP reply to non-request");
  }
  if (p.verdict != Verdict::icmp_echo_request) {
    check(build_icmp_echo_reply(out, f, p, ctx.local_mac) == 0, "echo reply to non-request");
  }
  return 0;
}
