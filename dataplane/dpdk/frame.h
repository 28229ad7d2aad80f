// Ethernet / IPv4 / UDP / ARP / ICMP framing for the dpdk link: pure functions
// over byte spans, no DPDK types, so that they are unit tested and fuzzed on
// their own. Addresses and ports are in host byte order; the functions convert.
//
// parse() classifies a received frame into exactly one Verdict; each verdict
// other than `datagram` is a reason the link counts and drops (or answers:
// ARP, ICMP echo). It never reads outside the span it is given.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace srdx::dp::frame {

using Mac = std::array<uint8_t, 6>;
inline constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

inline constexpr size_t kEthLen = 14;
inline constexpr size_t kIpv4Len = 20;  // without options
inline constexpr size_t kUdpLen = 8;
inline constexpr size_t kHeadersLen = kEthLen + kIpv4Len + kUdpLen;  // 42
inline constexpr size_t kArpLen = 28;
inline constexpr size_t kArpFrameLen = kEthLen + kArpLen;  // 42 (the device pads to 60)
inline constexpr size_t kIcmpEchoLen = 8;                  // type, code, checksum, id, seq

inline constexpr uint16_t kEtherIpv4 = 0x0800;
inline constexpr uint16_t kEtherArp = 0x0806;
inline constexpr uint16_t kEtherIpv6 = 0x86dd;
inline constexpr uint16_t kEtherVlan = 0x8100;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoUdp = 17;

// The RFC 1071 one's complement sum of `bytes` (odd lengths padded with a zero
// byte) added to `sum`, folded to 16 bits but not complemented.
uint16_t ones_sum(std::span<const uint8_t> bytes, uint32_t sum = 0);
// The Internet checksum of `bytes`: ~ones_sum(bytes). Zero when `bytes` already
// holds a correct checksum field.
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// ---------------------------------------------------------------------------
// Building a UDP datagram around a payload already in place.

enum class Checksum : uint8_t {
  software,  // computed here
  offload,   // left for the device: IPv4 field zero, UDP field the pseudo-header sum
  none,      // UDP only: zero, "no checksum" (legal in IPv4)
};

struct UdpFrameSpec {
  Mac src_mac{}, dst_mac{};
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t ttl = 64;
  uint16_t ip_id = 0;
  Checksum ip_checksum = Checksum::software;
  Checksum udp_checksum = Checksum::software;
};

// `frame` holds kHeadersLen bytes of room followed by `payload_len` payload
// bytes already written. Fills in Ethernet, IPv4 (no options, DF set) and UDP
// headers and returns the frame length, or 0 when the frame does not fit in
// `frame` or the IP datagram would exceed 65535 bytes.
size_t build_udp(std::span<uint8_t> frame, size_t payload_len, const UdpFrameSpec& spec);

// The fast path of build_udp() for a run of datagrams to one destination: the
// constant 42 header bytes and their partial checksums are prepared once;
// write() copies them and fills in lengths, ports, IP id and checksums. The
// frame it writes is byte for byte what build_udp() writes for the same spec.
class UdpHeaderTemplate {
 public:
  UdpHeaderTemplate() = default;
  explicit UdpHeaderTemplate(const UdpFrameSpec& spec);  // ports and ip_id ignored
  // Inline (below): it runs once per transmitted packet.
  size_t write(std::span<uint8_t> frame, size_t payload_len, uint16_t src_port, uint16_t dst_port,
               uint16_t ip_id) const;

 private:
  std::array<uint8_t, kHeadersLen> bytes_{};
  uint32_t ip_sum_ = 0;   // IPv4 header without total length and id
  uint32_t udp_sum_ = 0;  // pseudo-header without the UDP length
  Checksum ip_checksum_ = Checksum::software, udp_checksum_ = Checksum::software;
};

namespace detail {
inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);  // one store
}
// Folds a sum of 16-bit words (or of native 32-bit words) to 16 bits with
// end-around carry.
inline uint16_t fold64(uint64_t s) {
  s = (s >> 32) + (s & 0xffffffff);
  s = (s >> 16) + (s & 0xffff);
  s = (s >> 16) + (s & 0xffff);
  s = (s >> 16) + (s & 0xffff);
  return static_cast<uint16_t>(s);
}
// The UDP checksum field for a datagram whose pseudo-header plus UDP header
// sum is `hdr` (software mode: sums the payload too).
uint16_t udp_software_checksum(const uint8_t* payload, size_t len, uint64_t hdr);
}  // namespace detail

inline size_t UdpHeaderTemplate::write(std::span<uint8_t> frame, size_t payload_len,
                                       uint16_t src_port, uint16_t dst_port, uint16_t ip_id) const {
  using namespace detail;
  if (payload_len > 65535 - kIpv4Len - kUdpLen || frame.size() < kHeadersLen + payload_len) {
    return 0;
  }
  uint8_t* p = frame.data();
  std::memcpy(p, bytes_.data(), kHeadersLen);
  const auto udp_len = static_cast<uint16_t>(kUdpLen + payload_len);
  const auto total = static_cast<uint16_t>(kIpv4Len + udp_len);
  uint8_t* ip = p + kEthLen;
  put16(ip + 2, total);
  put16(ip + 4, ip_id);
  if (ip_checksum_ != Checksum::offload) {
    put16(ip + 10, static_cast<uint16_t>(~fold64(uint64_t{ip_sum_} + total + ip_id)));
  }
  uint8_t* u = ip + kIpv4Len;
  put16(u, src_port);
  put16(u + 2, dst_port);
  put16(u + 4, udp_len);
  // The template holds a zero UDP checksum: Checksum::none needs no store.
  if (udp_checksum_ == Checksum::offload) {
    put16(u + 6, fold64(uint64_t{udp_sum_} + udp_len));
  } else if (udp_checksum_ == Checksum::software) {
    // Pseudo-header and UDP header both carry the length.
    const uint64_t hdr = uint64_t{udp_sum_} + udp_len + src_port + dst_port + udp_len;
    put16(u + 6, udp_software_checksum(u + kUdpLen, payload_len, hdr));
  }
  return kHeadersLen + payload_len;
}

// ---------------------------------------------------------------------------
// Parsing a received frame.

enum class Verdict : uint8_t {
  datagram = 0,       // a UDP datagram to our IP and port: deliver the payload
  arp_request,        // an ARP request for our IP: answer it, learn the sender
  arp_reply,          // an ARP reply to us: learn the sender
  arp_other,          // well-formed ARP not addressed to us (may refresh a known entry)
  icmp_echo_request,  // a ping to our IP: answer it
  not_for_us,         // destination MAC is neither ours nor broadcast
  unknown_ethertype,  // not IPv4, ARP or IPv6 (VLAN tags included)
  not_ipv4,           // IPv6, or the IPv4 ethertype with another IP version
  not_udp,            // IPv4 to us, but neither UDP nor ICMP echo request
  truncated,          // shorter than its headers, or than their length fields say
  bad_ip_header,      // IHL below 5, total length below the header, bad ARP sizes
  bad_ip_checksum,
  bad_udp_checksum,  // also a bad ICMP checksum
  ip_fragment,       // MF set or a fragment offset: srdx never fragments
  wrong_dst_ip,      // IPv4 to our MAC but another address
  wrong_dst_port,    // UDP to our IP but another port
};
inline constexpr size_t kVerdictCount = 16;
static_assert(static_cast<size_t>(Verdict::wrong_dst_port) + 1 == kVerdictCount);
std::string_view to_string(Verdict);

// What the device already checked (mbuf RX checksum flags); `unknown` means
// parse() verifies in software.
enum class HwCheck : uint8_t { unknown, good, bad };

struct ParseContext {
  Mac local_mac{};
  uint32_t local_ip = 0;
  uint16_t local_port = 0;
  HwCheck ip_checksum = HwCheck::unknown;
  HwCheck l4_checksum = HwCheck::unknown;
};

struct Parsed {
  Verdict verdict = Verdict::truncated;
  Mac src_mac{};
  // IPv4 (datagram, icmp_echo_request, wrong_dst_*, not_udp) or ARP sender/target.
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t src_port = 0, dst_port = 0;  // datagram, wrong_dst_port
  // datagram: the UDP payload; icmp_echo_request: the ICMP message (header on).
  size_t payload_offset = 0, payload_len = 0;
  Mac arp_sender_mac{};  // arp_*: the sender hardware address in the ARP body
};

Parsed parse(std::span<const uint8_t> frame, const ParseContext& ctx);

// The common case of parse(), inline for the link's RX loop: a unicast UDP
// datagram to our MAC, IP and port, IPv4 header without options, not a
// fragment, checksums good (or UDP checksum zero: "none", RFC 768). When it
// returns true, parse() returns Verdict::datagram with the same source and
// payload; false means "some other case": ask parse() for the verdict.
struct DatagramRef {  // written by parse_datagram() when it returns true
  uint32_t src_ip;
  uint16_t src_port;
  uint16_t payload_offset, payload_len;
};
// What parse_datagram() compares a frame with, prepared once per burst from
// a ParseContext (its checksum fields are not used: they vary per frame).
struct DatagramMatch {
  static constexpr bool kLittle = std::endian::native == std::endian::little;
  static constexpr uint64_t kMacMask = kLittle ? 0x0000ffffffffffffu : 0xffffffffffff0000u;
  explicit DatagramMatch(const ParseContext& ctx)
      : local_ip(ctx.local_ip), local_port(ctx.local_port) {
    std::memcpy(&mac, ctx.local_mac.data(), 6);
    ip_be = kLittle ? __builtin_bswap32(ctx.local_ip) : ctx.local_ip;
    port_be = kLittle ? __builtin_bswap16(ctx.local_port) : ctx.local_port;
    // parse() refuses IPv4 to broadcast: with a broadcast "local" MAC nothing
    // matches (an impossible MAC bit pattern in the unused bytes).
    if ((mac & kMacMask) == kMacMask) mac = ~kMacMask;
  }
  uint64_t mac = 0;  // our MAC in the first 6 bytes of a native word
  uint32_t ip_be = 0, local_ip = 0;
  uint16_t port_be = 0, local_port = 0;
};

inline bool parse_datagram(std::span<const uint8_t> f, const DatagramMatch& match,
                           HwCheck ip_checksum, HwCheck l4_checksum, DatagramRef& out) {
  using namespace detail;
  if (f.size() < kHeadersLen) [[unlikely]]
    return false;
  const uint8_t* p = f.data();
  constexpr bool le = DatagramMatch::kLittle;
  // The fixed fields as native words, each masked and compared with what a
  // datagram for us holds, OR-ed into one test: destination MAC ours, IPv4
  // ethertype, version 4 with IHL 5 (no options), no MF flag or fragment
  // offset, UDP, our IP, our port.
  uint64_t mac;
  uint32_t w12, w20, dst_ip;
  uint16_t dst_port;
  std::memcpy(&mac, p, 8);
  std::memcpy(&w12, p + 12, 4);     // ethertype, version/IHL, TOS
  std::memcpy(&w20, p + 20, 4);     // flags/fragment offset, TTL, protocol
  std::memcpy(&dst_ip, p + 30, 4);  // network order
  std::memcpy(&dst_port, p + 36, 2);
  constexpr uint64_t kMac = DatagramMatch::kMacMask;
  constexpr uint32_t kM12 = le ? 0x00ffffffu : 0xffffff00u;  // 08 00 45 --
  constexpr uint32_t kE12 = le ? 0x00450008u : 0x08004500u;
  constexpr uint32_t kM20 = le ? 0xff00ff3fu : 0x3fff00ffu;  // (3f ff) -- 11
  constexpr uint32_t kE20 = le ? 0x11000000u : 0x00000011u;
  const uint64_t differs = ((mac ^ match.mac) & kMac) | ((w12 & kM12) ^ kE12) |
                           ((w20 & kM20) ^ kE20) | (dst_ip ^ match.ip_be) |
                           static_cast<uint16_t>(dst_port ^ match.port_be);
  if (differs != 0) return false;
  const uint8_t* ip = p + kEthLen;
  const size_t total = get16(ip + 2);
  const uint8_t* u = ip + kIpv4Len;
  const size_t udp_len = get16(u + 4);
  if (total < kIpv4Len + kUdpLen || f.size() < kEthLen + total || udp_len < kUdpLen ||
      udp_len > total - kIpv4Len) {
    return false;
  }
  if (ip_checksum != HwCheck::good) {
    if (ip_checksum == HwCheck::bad) return false;
    // The header's one's complement sum must be 0xffff (never 0: it holds 45).
    // Summing its five 32-bit words as plain integers, that is a sum divisible
    // by 0xffff (2^16 = 1 modulo 0xffff), whatever the byte order (swapping
    // the bytes of a word multiplies it by 2^8 modulo 0xffff, a unit).
    uint64_t a, b;
    uint32_t c;
    std::memcpy(&a, ip, 8);
    std::memcpy(&b, ip + 8, 8);
    std::memcpy(&c, ip + 16, 4);
    if (((a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + c) % 0xffff != 0) {
      return false;
    }
  }
  const uint32_t src_ip = get32(ip + 12);
  if (l4_checksum != HwCheck::good) {
    if (l4_checksum == HwCheck::bad) return false;
    // Zero: the sender computed none (srdx does this without an offload: every
    // srdx packet carries its own CRC32C). Anything else is verified here.
    if (get16(u + 6) != 0) {
      const uint64_t ph = uint64_t{src_ip >> 16} + (src_ip & 0xffff) + (match.local_ip >> 16) +
                          (match.local_ip & 0xffff) + kProtoUdp + udp_len;
      if (ones_sum({u, udp_len}, fold64(ph)) != 0xffff) return false;
    }
  }
  out.src_ip = src_ip;
  out.src_port = get16(u);
  out.payload_offset = static_cast<uint16_t>(kHeadersLen);
  out.payload_len = static_cast<uint16_t>(udp_len - kUdpLen);
  return true;
}

inline bool parse_datagram(std::span<const uint8_t> f, const ParseContext& ctx, DatagramRef& out) {
  return parse_datagram(f, DatagramMatch(ctx), ctx.ip_checksum, ctx.l4_checksum, out);
}

// ---------------------------------------------------------------------------
// Replies and requests. Each writes into `out` and returns the frame length, or
// 0 when `out` is too small (or the request is not what its verdict says).

// An ARP request (broadcast) asking who has `target_ip`.
size_t build_arp_request(std::span<uint8_t> out, const Mac& our_mac, uint32_t our_ip,
                         uint32_t target_ip);
// The ARP reply to a request parse() classified as arp_request.
size_t build_arp_reply(std::span<uint8_t> out, const Parsed& request, const Mac& our_mac,
                       uint32_t our_ip);
// The echo reply to a frame parse() classified as icmp_echo_request: same
// identifier, sequence and data; IPv4 header without options, TTL 64.
size_t build_icmp_echo_reply(std::span<uint8_t> out, std::span<const uint8_t> request,
                             const Parsed& parsed, const Mac& our_mac);

}  // namespace srdx::dp::frame
