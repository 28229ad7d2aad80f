// Ethernet / IPv4 / UDP / ARP / ICMP framing for the dpdk link: pure functions
// over byte spans, no DPDK types, so that they are unit tested and fuzzed on
// their own. Addresses and ports are in host byte order; the functions convert.
//
// parse() classifies a received frame into exactly one Verdict; each verdict
// other than `datagram` is a reason the link counts and drops (or answers:
// ARP, ICMP echo). It never reads outside the span it is given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
  size_t write(std::span<uint8_t> frame, size_t payload_len, uint16_t src_port, uint16_t dst_port,
               uint16_t ip_id) const;

 private:
  std::array<uint8_t, kHeadersLen> bytes_{};
  uint32_t ip_sum_ = 0;   // IPv4 header without total length and id
  uint32_t udp_sum_ = 0;  // pseudo-header without the UDP length
  Checksum ip_checksum_ = Checksum::software, udp_checksum_ = Checksum::software;
};

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
