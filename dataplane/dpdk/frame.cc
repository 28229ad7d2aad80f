#include "frame.h"  // beside it: the fuzz build compiles this file alone

#include <bit>
#include <cstring>

namespace srdx::dp::frame {
namespace {

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void put_mac(uint8_t* p, const Mac& m) { std::memcpy(p, m.data(), m.size()); }
Mac get_mac(const uint8_t* p) {
  Mac m;
  std::memcpy(m.data(), p, m.size());
  return m;
}

uint16_t fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// The one's complement sum of the IPv4 pseudo-header (addresses, protocol,
// UDP length).
uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

void write_eth(uint8_t* p, const Mac& dst, const Mac& src, uint16_t type) {
  put_mac(p, dst);
  put_mac(p + 6, src);
  put16(p + 12, type);
}

// IPv4 header without options; checksum computed unless `offload`.
void write_ipv4(uint8_t* p, uint16_t total_len, uint16_t id, uint8_t ttl, uint8_t proto,
                uint32_t src, uint32_t dst, bool offload) {
  p[0] = 0x45;
  p[1] = 0;
  put16(p + 2, total_len);
  put16(p + 4, id);
  put16(p + 6, 0x4000);  // DF: srdx sizes packets to the MTU and never fragments
  p[8] = ttl;
  p[9] = proto;
  put16(p + 10, 0);
  put32(p + 12, src);
  put32(p + 16, dst);
  if (!offload) {
    // Summed from the values, not read back from the bytes just stored: a
    // wide load over fresh narrow stores stalls store-to-load forwarding.
    const uint64_t sum = 0x4500u + total_len + id + 0x4000u + (uint32_t{ttl} << 8 | proto) +
                         (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    put16(p + 10, static_cast<uint16_t>(~fold(sum)));
  }
}

}  // namespace

uint16_t ones_sum(std::span<const uint8_t> bytes, uint32_t sum) {
  // One's complement addition does not depend on byte order (RFC 1071 2(B)):
  // add native 64-bit words with end-around carry, fold, and swap to network
  // order at the end. Two accumulators keep the carries out of each other's way.
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a = 0, b = 0;
  auto add = [](uint64_t& acc, uint64_t w) {
    if (__builtin_add_overflow(acc, w, &acc)) ++acc;
  };
  while (n >= 16) {
    uint64_t w0, w1;
    std::memcpy(&w0, p, 8);
    std::memcpy(&w1, p + 8, 8);
    add(a, w0);
    add(b, w1);
    p += 16;
    n -= 16;
  }
  add(a, b);
  if (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    add(a, w);
    p += 8;
    n -= 8;
  }
  // The last 0..7 bytes, zero padded, at their natural position in a word.
  uint8_t tail[8] = {};
  std::memcpy(tail, p, n);
  uint64_t w;
  std::memcpy(&w, tail, 8);
  add(a, w);
  uint16_t native = fold((a >> 32) + (a & 0xffffffff));
  if constexpr (std::endian::native == std::endian::little) {
    native = static_cast<uint16_t>(native << 8 | native >> 8);
  }
  return fold(uint64_t{native} + sum);
}

uint16_t internet_checksum(std::span<const uint8_t> bytes) {
  return static_cast<uint16_t>(~ones_sum(bytes));
}

size_t build_udp(std::span<uint8_t> frame, size_t payload_len, const UdpFrameSpec& spec) {
  if (payload_len > 65535 - kIpv4Len - kUdpLen || frame.size() < kHeadersLen + payload_len) {
    return 0;
  }
  uint8_t* p = frame.data();
  const auto udp_len = static_cast<uint16_t>(kUdpLen + payload_len);
  write_eth(p, spec.dst_mac, spec.src_mac, kEtherIpv4);
  write_ipv4(p + kEthLen, static_cast<uint16_t>(kIpv4Len + udp_len), spec.ip_id, spec.ttl,
             kProtoUdp, spec.src_ip, spec.dst_ip, spec.ip_checksum == Checksum::offload);
  uint8_t* u = p + kEthLen + kIpv4Len;
  put16(u, spec.src_port);
  put16(u + 2, spec.dst_port);
  put16(u + 4, udp_len);
  put16(u + 6, 0);
  const uint32_t ph = pseudo_sum(spec.src_ip, spec.dst_ip, kProtoUdp, udp_len);
  switch (spec.udp_checksum) {
    case Checksum::software: {
      // Header from the values, payload from memory (see write_ipv4).
      const uint32_t hdr = ph + spec.src_port + spec.dst_port + udp_len;
      uint16_t c = static_cast<uint16_t>(~ones_sum({u + kUdpLen, payload_len}, fold(hdr)));
      put16(u + 6, c == 0 ? 0xffff : c);  // zero means "no checksum" on the wire
      break;
    }
    case Checksum::offload:
      // What DPDK's rte_ipv4_phdr_cksum() gives: the device adds the rest.
      put16(u + 6, fold(ph));
      break;
    case Checksum::none:
      break;
  }
  return kHeadersLen + payload_len;
}

UdpHeaderTemplate::UdpHeaderTemplate(const UdpFrameSpec& spec)
    : ip_checksum_(spec.ip_checksum), udp_checksum_(spec.udp_checksum) {
  UdpFrameSpec s = spec;
  s.src_port = s.dst_port = 0;
  s.ip_id = 0;
  s.ip_checksum = Checksum::offload;  // zero fields: write() fills them
  s.udp_checksum = Checksum::none;
  build_udp(bytes_, 0, s);
  ip_sum_ = 0x4500u + 0x4000u + (uint32_t{s.ttl} << 8 | kProtoUdp) + (s.src_ip >> 16) +
            (s.src_ip & 0xffff) + (s.dst_ip >> 16) + (s.dst_ip & 0xffff);
  udp_sum_ = pseudo_sum(s.src_ip, s.dst_ip, kProtoUdp, 0);
}

uint16_t detail::udp_software_checksum(const uint8_t* payload, size_t len, uint64_t hdr) {
  const auto c = static_cast<uint16_t>(~ones_sum({payload, len}, fold(hdr)));
  return c == 0 ? 0xffff : c;  // zero means "no checksum" on the wire
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::datagram:
      return "datagram";
    case Verdict::arp_request:
      return "arp_request";
    case Verdict::arp_reply:
      return "arp_reply";
    case Verdict::arp_other:
      return "arp_other";
    case Verdict::icmp_echo_request:
      return "icmp_echo_request";
    case Verdict::not_for_us:
      return "not_for_us";
    case Verdict::unknown_ethertype:
      return "unknown_ethertype";
    case Verdict::not_ipv4:
      return "not_ipv4";
    case Verdict::not_udp:
      return "not_udp";
    case Verdict::truncated:
      return "truncated";
    case Verdict::bad_ip_header:
      return "bad_ip_header";
    case Verdict::bad_ip_checksum:
      return "bad_ip_checksum";
    case Verdict::bad_udp_checksum:
      return "bad_udp_checksum";
    case Verdict::ip_fragment:
      return "ip_fragment";
    case Verdict::wrong_dst_ip:
      return "wrong_dst_ip";
    case Verdict::wrong_dst_port:
      return "wrong_dst_port";
  }
  return "?";
}

namespace {

Parsed parse_arp(std::span<const uint8_t> f, const ParseContext& ctx, Parsed r) {
  if (f.size() < kArpFrameLen) {
    r.verdict = Verdict::truncated;
    return r;
  }
  const uint8_t* a = f.data() + kEthLen;
  // Ethernet (1) / IPv4, 6-byte hardware and 4-byte protocol addresses.
  if (get16(a) != 1 || get16(a + 2) != kEtherIpv4 || a[4] != 6 || a[5] != 4) {
    r.verdict = Verdict::bad_ip_header;
    return r;
  }
  const uint16_t op = get16(a + 6);
  r.arp_sender_mac = get_mac(a + 8);
  r.src_ip = get32(a + 14);
  r.dst_ip = get32(a + 24);
  const bool to_us = r.dst_ip == ctx.local_ip && ctx.local_ip != 0;
  if (op == 1 && to_us) {
    r.verdict = Verdict::arp_request;
  } else if (op == 2 && to_us) {
    r.verdict = Verdict::arp_reply;
  } else {
    r.verdict = Verdict::arp_other;
  }
  return r;
}

Parsed parse_icmp(std::span<const uint8_t> ip_payload, size_t offset, Parsed r) {
  if (ip_payload.size() < kIcmpEchoLen) {
    r.verdict = Verdict::truncated;
    return r;
  }
  if (ip_payload[0] != 8 || ip_payload[1] != 0) {
    r.verdict = Verdict::not_udp;  // only echo requests are answered
    return r;
  }
  // Devices check TCP and UDP checksums only: ICMP's is always checked here.
  if (internet_checksum(ip_payload) != 0) {
    r.verdict = Verdict::bad_udp_checksum;
    return r;
  }
  r.verdict = Verdict::icmp_echo_request;
  r.payload_offset = offset;
  r.payload_len = ip_payload.size();
  return r;
}

}  // namespace

Parsed parse(std::span<const uint8_t> f, const ParseContext& ctx) {
  Parsed r;
  if (f.size() < kEthLen) {
    r.verdict = Verdict::truncated;
    return r;
  }
  const Mac dst = get_mac(f.data());
  r.src_mac = get_mac(f.data() + 6);
  const uint16_t type = get16(f.data() + 12);
  const bool broadcast = dst == kBroadcast;
  if (dst != ctx.local_mac && !broadcast) {
    r.verdict = Verdict::not_for_us;
    return r;
  }
  if (type == kEtherArp) return parse_arp(f, ctx, r);
  if (type == kEtherIpv6) {
    r.verdict = Verdict::not_ipv4;
    return r;
  }
  if (type != kEtherIpv4) {
    r.verdict = Verdict::unknown_ethertype;
    return r;
  }
  if (broadcast) {  // srdx and ping are unicast; IP broadcasts are someone else's
    r.verdict = Verdict::not_for_us;
    return r;
  }
  if (f.size() < kEthLen + kIpv4Len) {
    r.verdict = Verdict::truncated;
    return r;
  }
  const uint8_t* ip = f.data() + kEthLen;
  if (ip[0] >> 4 != 4) {
    r.verdict = Verdict::not_ipv4;
    return r;
  }
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  const size_t total = get16(ip + 2);
  if (ihl < kIpv4Len || total < ihl) {
    r.verdict = Verdict::bad_ip_header;
    return r;
  }
  if (f.size() < kEthLen + total) {  // also covers options past the end
    r.verdict = Verdict::truncated;
    return r;
  }
  if (ctx.ip_checksum == HwCheck::bad ||
      (ctx.ip_checksum == HwCheck::unknown && internet_checksum({ip, ihl}) != 0)) {
    r.verdict = Verdict::bad_ip_checksum;
    return r;
  }
  r.src_ip = get32(ip + 12);
  r.dst_ip = get32(ip + 16);
  if ((get16(ip + 6) & 0x3fff) != 0) {  // MF or fragment offset
    r.verdict = Verdict::ip_fragment;
    return r;
  }
  if (r.dst_ip != ctx.local_ip) {
    r.verdict = Verdict::wrong_dst_ip;
    return r;
  }
  // Options (IHL > 5) are skipped: the checksum above covered them.
  const size_t l4_offset = kEthLen + ihl;
  const std::span<const uint8_t> l4 = f.subspan(l4_offset, total - ihl);
  if (ip[9] == kProtoIcmp) return parse_icmp(l4, l4_offset, r);
  if (ip[9] != kProtoUdp) {
    r.verdict = Verdict::not_udp;
    return r;
  }
  if (l4.size() < kUdpLen) {
    r.verdict = Verdict::truncated;
    return r;
  }
  const uint8_t* u = l4.data();
  const size_t udp_len = get16(u + 4);
  if (udp_len < kUdpLen || udp_len > l4.size()) {
    r.verdict = Verdict::truncated;
    return r;
  }
  if (ctx.l4_checksum == HwCheck::bad) {
    r.verdict = Verdict::bad_udp_checksum;
    return r;
  }
  if (ctx.l4_checksum == HwCheck::unknown && get16(u + 6) != 0) {
    const uint32_t ph = pseudo_sum(r.src_ip, r.dst_ip, kProtoUdp, static_cast<uint16_t>(udp_len));
    if (ones_sum(l4.first(udp_len), ph) != 0xffff) {
      r.verdict = Verdict::bad_udp_checksum;
      return r;
    }
  }
  r.src_port = get16(u);
  r.dst_port = get16(u + 2);
  if (r.dst_port != ctx.local_port) {
    r.verdict = Verdict::wrong_dst_port;
    return r;
  }
  r.verdict = Verdict::datagram;
  r.payload_offset = l4_offset + kUdpLen;
  r.payload_len = udp_len - kUdpLen;
  return r;
}

size_t build_arp_request(std::span<uint8_t> out, const Mac& our_mac, uint32_t our_ip,
                         uint32_t target_ip) {
  if (out.size() < kArpFrameLen) return 0;
  uint8_t* p = out.data();
  write_eth(p, kBroadcast, our_mac, kEtherArp);
  uint8_t* a = p + kEthLen;
  put16(a, 1);
  put16(a + 2, kEtherIpv4);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 1);
  put_mac(a + 8, our_mac);
  put32(a + 14, our_ip);
  put_mac(a + 18, Mac{});
  put32(a + 24, target_ip);
  return kArpFrameLen;
}

size_t build_arp_reply(std::span<uint8_t> out, const Parsed& request, const Mac& our_mac,
                       uint32_t our_ip) {
  if (out.size() < kArpFrameLen || request.verdict != Verdict::arp_request) return 0;
  uint8_t* p = out.data();
  write_eth(p, request.arp_sender_mac, our_mac, kEtherArp);
  uint8_t* a = p + kEthLen;
  put16(a, 1);
  put16(a + 2, kEtherIpv4);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 2);
  put_mac(a + 8, our_mac);
  put32(a + 14, our_ip);
  put_mac(a + 18, request.arp_sender_mac);
  put32(a + 24, request.src_ip);
  return kArpFrameLen;
}

size_t build_icmp_echo_reply(std::span<uint8_t> out, std::span<const uint8_t> request,
                             const Parsed& parsed, const Mac& our_mac) {
  if (parsed.verdict != Verdict::icmp_echo_request || parsed.payload_len < kIcmpEchoLen ||
      parsed.payload_offset > request.size() ||
      request.size() - parsed.payload_offset < parsed.payload_len) {
    return 0;
  }
  const size_t icmp_len = parsed.payload_len;
  const size_t len = kEthLen + kIpv4Len + icmp_len;
  if (out.size() < len || kIpv4Len + icmp_len > 65535) return 0;
  uint8_t* p = out.data();
  write_eth(p, parsed.src_mac, our_mac, kEtherIpv4);
  write_ipv4(p + kEthLen, static_cast<uint16_t>(kIpv4Len + icmp_len), 0, 64, kProtoIcmp,
             parsed.dst_ip, parsed.src_ip, false);
  uint8_t* icmp = p + kEthLen + kIpv4Len;
  std::memmove(icmp, request.data() + parsed.payload_offset, icmp_len);
  icmp[0] = 0;  // echo reply
  icmp[1] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 2, internet_checksum({icmp, icmp_len}));
  return len;
}

}  // namespace srdx::dp::frame
