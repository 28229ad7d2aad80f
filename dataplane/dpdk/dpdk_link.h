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
// txqN_*, then the port's own port_*, the port events, then the port's
// extended statistics).
//
// Extended statistics (rte_eth_xstats): their names are read once when the
// port starts (and again after a reset), their values at most once a second
// when backend_counters() is asked (by name and id, never per packet: on the
// ENA a read is an admin-queue command). The ENA's allowance counters
// (kEnaAllowanceCounters: packets the instance queued or dropped for going
// over its bandwidth, PPS, connection-tracking or link-local allowance) keep
// their own names; every other xstat is named xstat_NAME, except the
// per-queue ones (rx_qN_*, tx_qN_*), which port_xstats() alone returns.
//
// Port events. A callback registered for RTE_ETH_EVENT_INTR_LSC, _INTR_RESET
// and _INTR_RMV runs on DPDK's interrupt thread and only sets a flag; the
// poll loop's next rx_burst() handles it:
//  - link state: read from the port (rte_eth_link_get_nowait) on an LSC
//    event and, for PMDs that raise none, every 100 ms; for a port over a
//    kernel interface (net_af_packet, net_af_xdp: dev_info.if_index), the
//    interface's own state (IFF_UP and IFF_RUNNING) too, since those PMDs
//    report their link up whatever the interface does. Each change is
//    logged and counted; datagrams keep going to the port (the transport
//    retransmits what a down link lost).
//  - reset (the ENA raises it when the device needs one): the port is
//    stopped, reset (rte_eth_dev_reset; a PMD without one is only stopped),
//    configured and started again with the same queues and pool. Frames
//    waiting for tx_flush() are dropped and counted: the transport
//    retransmits them, so no message is lost. A restart that fails is tried
//    again every 100 ms.
//  - removal: logged and counted; the port is no longer polled or sent to
//    (what is sent is counted in tx_dropped); the link stays usable as an
//    object and closes cleanly.
// raise_port_event() does what the PMD's interrupt does (the same callback):
// no PMD on this machine raises RESET or RMV by itself.
//
// Idle (Rx interrupts). The port is configured with intr_conf.rxq = 1 (and
// started without when it refuses; LinkConfig::rx_interrupts = false asks
// for none), and each RX queue's interrupt event fd
// (rte_eth_dev_rx_intr_ctl_q) goes into one epoll fd: wait_fd(). An idle
// Poller arms the link (arm_wait(): per-queue rte_eth_dev_rx_intr_enable
// where the PMD has it, and the stale edges emptied), polls once more, sleeps
// on wait_fd() and disarms it when it wakes, like DPDK's l3fwd-power. In
// DPDK 22.11, of the PMDs on this machine, net_tap has Rx interrupts (its
// queue's tap descriptor), and so do net_ena, virtio and net_vhost; none of
// net_af_xdp, net_af_packet, net_memif, net_ring and net_null has any.
// net_af_xdp gets the same through its AF_XDP sockets: the sockets its start
// made (one per RX queue) are polled, level-triggered, in wait_fd(); the
// link never reads or writes them (docs/dpdk-idle.md). On the others
// wait_fd() is -1 and an idle loop naps (PollerConfig::max_sleep_without_fd).
// The log says which at start (DpdkPortInfo::idle_note), and
// backend_counters() rx_interrupts (1: an idle loop sleeps until a frame
// comes) and rx_interrupt_arms. After a port restart they are looked for
// again (a link that finds none naps from then on, and says so).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // Idle: the port's RX queues raise interrupts that wait_fd() reports (an
  // idle poller sleeps until a frame arrives), or not (it naps and polls
  // again); idle_note says which, as logged when the port started.
  bool rx_interrupts = false;
  std::string idle_note;
};

// The ENA's allowance counters (ENA PMD xstats; DPDK 22.11 "ENI" statistics),
// exported under these names when the port has them.
inline constexpr std::array<std::string_view, 5> kEnaAllowanceCounters = {
    "bw_in_allowance_exceeded", "bw_out_allowance_exceeded", "pps_allowance_exceeded",
    "conntrack_allowance_exceeded", "linklocal_allowance_exceeded"};

// The backend_counters() name of the port xstat `xstat`: the ENA allowance
// counters keep theirs, every other is "xstat_" + its name.
std::string xstat_counter_name(std::string_view xstat);

enum class PortEvent : uint8_t { link_change, reset, removal };

// The port's link and what has happened to it (see Port events above).
struct DpdkPortHealth {
  bool link_up = false;
  uint32_t link_speed_mbps = 0;   // 0: unknown
  bool lsc_interrupt = false;     // the PMD raises LSC events (otherwise the link is polled)
  bool kernel_interface = false;  // the port is over a kernel interface whose state counts too
  bool removed = false;
  uint64_t link_up_events = 0, link_down_events = 0;  // changes seen, however
  uint64_t lsc_events = 0;                            // LSC callbacks from the PMD
  uint64_t reset_events = 0;                          // RESET callbacks (or raise_port_event)
  uint64_t resets_done = 0, reset_failures = 0;       // restarts that worked, attempts that failed
  uint64_t removal_events = 0;
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
  // The link state and port event counts as of the last rx_burst().
  virtual DpdkPortHealth port_health() const = 0;
  // The port's extended statistics by their DPDK names, read now.
  virtual std::vector<std::pair<std::string, uint64_t>> port_xstats() const = 0;
  // Does what the PMD's interrupt does for `e` (the same callback, so
  // thread-safe): the next rx_burst() handles it. For tests, and for a
  // restart an operator asks for.
  virtual void raise_port_event(PortEvent e) = 0;
};

// The DpdkLink behind a Link make_dpdk_link() built, or nullptr.
inline DpdkLink* as_dpdk(Link* link) { return dynamic_cast<DpdkLink*>(link); }

}  // namespace srdx::dp
