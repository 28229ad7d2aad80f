// The seam between the transport and packet I/O: one burst interface that
// every link backend implements (dpdk, udp over io_uring, sim), chosen at run
// time by make_link() (dpdk, udp), or built by the simulator for each of its
// hosts (sim, sim/host_link.h). A link moves whole UDP payloads (srdx
// packets); it owns Ethernet, IP and UDP (or the kernel does), buffers and
// queues. It never interprets srdx bytes.
//
// The poll loop drives it like a DPDK l2fwd core:
//   n = link.rx_burst(rx);            // payloads valid until the next rx_burst
//   for each: endpoint.on_packet(...)
//   while (buf = link.tx_buffer(), !buf.empty() && (len = endpoint.poll_transmit(buf, path, now)))
//     link.tx_commit(len, path);
//   link.tx_flush();                  // partial sends are counted, never retried forever
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "srdx/endpoint.h"

namespace srdx::dp {

struct RxDatagram {
  std::span<const uint8_t> payload;  // the srdx packet
  Addr src;                          // source IP and UDP source port (the entropy)
  Time arrival = Time::zero();       // kernel receive time (monotonic); zero: unknown
};

// Counters for every place a packet can be dropped or refused.
struct LinkStats {
  uint64_t rx_packets = 0, rx_bytes = 0;
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t tx_dropped = 0;    // committed but the device/kernel refused them
  uint64_t tx_no_buffer = 0;  // tx_buffer() had none to give
  uint64_t rx_dropped = 0;    // device/kernel-level drops the link can see
  // Frames that reached the link but are not srdx datagrams for us.
  uint64_t rx_not_ip = 0, rx_not_udp = 0, rx_not_for_us = 0, rx_bad_checksum = 0;
  uint64_t rx_truncated = 0, rx_fragments = 0, rx_unknown_ethertype = 0;
  uint64_t arp_requests = 0, arp_replies = 0, icmp_echo = 0;
  uint64_t tx_no_neighbour = 0;  // no MAC known for the next hop yet
};

// How a link turns an entropy (0..65535, chosen by the transport) into the UDP
// source port a datagram leaves from: first_port + entropy % port_count. The
// udp backend binds one socket per port of the range.
struct EntropyPorts {
  uint16_t first_port = 49152;
  uint16_t port_count = 64;
  uint16_t port_for(uint16_t entropy) const {
    return static_cast<uint16_t>(first_port + entropy % port_count);
  }
};

struct LinkConfig {
  std::string kind = "udp";  // "udp" or "dpdk" (make_link() refuses "sim", and says why)
  Addr local;                // IP and UDP port the endpoint receives on
  EntropyPorts entropy;
  uint32_t mtu = 1500;  // IP MTU
  uint32_t burst = 32;  // packets per rx/tx burst
  uint32_t queue_depth = 1024;
  bool udp_gso = true;  // udp only: several datagrams per send with UDP GSO
  bool udp_gro = true;  // udp only: the kernel may hand over several datagrams at once (UDP GRO)

  // dpdk only.
  std::vector<std::string> eal_args;  // passed to rte_eal_init as given
  std::string device;                 // a vdev spec ("net_af_xdp0,iface=veth0") or a PCI address
  uint16_t queues = 1;
  std::vector<std::pair<uint32_t, std::array<uint8_t, 6>>> static_neighbours;  // ip -> mac
  uint32_t gateway = 0;  // next hop for off-subnet peers (0: on-link)
  uint32_t prefix_len = 24;
  // Ask the port for Rx interrupts, for an idle poller to sleep on (where
  // the PMD has them); false: it naps and polls again, as on a PMD without.
  bool rx_interrupts = true;
};

class Link {
 public:
  virtual ~Link() = default;
  virtual std::string_view kind() const = 0;
  virtual Addr local() const = 0;
  // Receives up to out.size() datagrams. Their payloads stay valid until the
  // next rx_burst() call.
  virtual size_t rx_burst(std::span<RxDatagram> out) = 0;
  // Room for the next outgoing payload (at least mtu - 28 bytes), or an empty
  // span when the transmit queue is full (counted in tx_no_buffer).
  virtual std::span<uint8_t> tx_buffer() = 0;
  // Queues the payload written into the last tx_buffer(): `len` bytes to
  // path.remote, leaving from the source port path.entropy maps to.
  virtual void tx_commit(size_t len, const TxPath& path) = 0;
  // Hands every queued datagram to the device or kernel; returns how many
  // went. What could not go is dropped and counted, never retried in a loop.
  virtual size_t tx_flush() = 0;
  // A file descriptor that becomes readable when packets arrive (for an idle
  // poller to sleep on), or -1 when the link can only be polled.
  virtual int wait_fd() const { return -1; }
  // For a link whose wait_fd() fires only once armed (the dpdk link on Rx
  // interrupts): true. An idle poller then calls arm_wait() before it sleeps,
  // polls the link once more (a packet that arrived between its last look and
  // the arming may raise no interrupt: l3fwd-power's race), sleeps only when
  // that found nothing, and calls disarm_wait() when it wakes. arm_wait()
  // returns false when the link cannot be armed now (a stopped port): then
  // the poller naps as for a link without wait_fd(). Links whose wait_fd()
  // is always live (udp: a readable socket) keep the defaults.
  virtual bool wait_needs_arming() const { return false; }
  virtual bool arm_wait() { return true; }
  virtual void disarm_wait() {}
  virtual LinkStats stats() const = 0;
  // What this backend counts beyond LinkStats, by name (for reports).
  virtual std::vector<std::pair<std::string_view, uint64_t>> backend_counters() const { return {}; }
};

// Builds the link that cfg.kind names: udp or dpdk. Throws std::runtime_error
// with a one line reason (which option, what failed) when it cannot.
std::unique_ptr<Link> make_link(const LinkConfig& cfg);

}  // namespace srdx::dp
