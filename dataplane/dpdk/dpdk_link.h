// The `dpdk` link backend: any DPDK poll-mode driver behind link.h's burst
// interface (net_ena / net_mlx5 on hardware; net_af_xdp, net_af_packet,
// net_memif, net_ring, net_null on this machine).
//
// The link owns Ethernet, IPv4, UDP, ARP and ICMP echo on its port: it answers
// ARP for its address and learns neighbours, answers pings (an engineer can
// ping the appliance), and hands only srdx datagrams to the transport. Every
// other frame is counted by reason (frame::Verdict) and freed. Frame layouts
// are in frame.h, the ARP table in neighbours.h, EAL start-up in eal.h.
//
// LinkConfig::device is a vdev spec ("net_af_xdp0,iface=veth0") or PCI address
// that the link probes (and removes again when it is destroyed), the name of
// a port that already exists ("net_ring_a", "0000:00:05.0"), or a port id
// ("0"). A port without a MAC address (net_ring) gets 02:00 followed by the
// link's IPv4 address. The link takes the port over: configures, starts, and at the end
// stops and closes it.
//
// Queues: cfg.queues RX and TX queues, each clamped to what the port has (a
// line on stderr says so). With more than one RX queue the link asks for RSS
// over IP and UDP when the port offers it (and says when it does not).
// rx_burst() polls every RX queue within the caller's burst, starting from a
// rotating queue so that a busy one cannot starve the others. A datagram goes
// to the TX queue its UDP source port (its entropy) picks, so one path's
// packets stay in order on one queue; each TX queue has its own pending burst,
// all flushed by tx_flush(); ARP and ICMP replies leave on queue 0. Counters
// per queue: queue_stats(), and by name in backend_counters() (rxqN_*,
// txqN_*, then the port's own port_*).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "dpdk/frame.h"
#include "link.h"

namespace srdx::dp {

std::unique_ptr<Link> make_dpdk_link(const LinkConfig& cfg);

struct DpdkPortInfo {
  uint16_t port_id = 0;
  std::string driver;
  frame::Mac mac{};
  uint16_t rx_queues = 0, tx_queues = 0;
  bool rss = false;        // RSS (IP/UDP hash) spreads received frames over the RX queues
  std::string queue_note;  // what was logged about the queues (clamped, RSS), or empty
  uint16_t rx_desc = 0, tx_desc = 0;
  uint32_t mtu = 0;
  // Checksums the device computes on TX. Without the UDP one, datagrams leave
  // with UDP checksum 0 ("none", legal in IPv4): srdx packets carry their own
  // CRC32C. Without the IPv4 one, the link computes it.
  bool tx_ip_checksum_offload = false, tx_udp_checksum_offload = false;
  bool rx_checksum_offload = false;  // some RX checksum is verified by the device
  bool owns_device = false;          // probed by the link, removed when it goes
};

// What the device itself counts (rte_eth_stats_get), beside the link's counters.
struct DpdkPortCounters {
  uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0;
  uint64_t imissed = 0, ierrors = 0, oerrors = 0, rx_nombuf = 0;
};

// The dpdk-specific side of a link make_dpdk_link() built.
class DpdkLink : public Link {
 public:
  virtual DpdkPortInfo port_info() const = 0;
  virtual DpdkPortCounters port_counters() const = 0;
  // The link's counters for one queue (stats() sums the queues).
  virtual LinkStats queue_stats(uint16_t queue) const = 0;
  // Received frames by parse verdict, all queues.
  virtual std::array<uint64_t, frame::kVerdictCount> verdicts() const = 0;
  // Whether a MAC is known for `ip` (static or learned).
  virtual bool knows_neighbour(uint32_t ip) const = 0;
};

// The DpdkLink behind a Link make_dpdk_link() built, or nullptr.
inline DpdkLink* as_dpdk(Link* link) { return dynamic_cast<DpdkLink*>(link); }

}  // namespace srdx::dp
