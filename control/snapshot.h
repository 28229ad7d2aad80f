// What the poller thread publishes for the HTTP threads: a copy of the
// endpoint's, link's and poller's counters and of every configured peer's
// state, refreshed every few milliseconds under a mutex. The HTTP threads
// never touch the Endpoint.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "link.h"
#include "loop/poller.h"
#include "srdx/endpoint.h"

namespace srdx::ctl {

// What a peer counted before reloads removed it, summed over its earlier
// incarnations under the same name: the metrics add it to the endpoint's
// counters, so that a peer removed and added again never goes backwards.
struct PeerTotals {
  uint64_t retransmissions = 0, messages_completed = 0, messages_failed = 0;
  uint64_t messages_received = 0, bytes_acked = 0, bytes_received = 0;
  struct Path {
    uint64_t packets_sent = 0, packets_lost = 0, timeouts = 0;
  };
  std::vector<Path> paths;  // by path slot (0 .. endpoint.paths - 1)

  void add(const PeerStats& s, const std::vector<PathStats>& slots) {
    retransmissions += s.retransmissions;
    messages_completed += s.messages_completed;
    messages_failed += s.messages_failed;
    messages_received += s.messages_received;
    bytes_acked += s.bytes_acked;
    bytes_received += s.bytes_received;
    if (paths.size() < slots.size()) paths.resize(slots.size());
    for (size_t i = 0; i < slots.size(); ++i) {
      paths[i].packets_sent += slots[i].packets_sent;
      paths[i].packets_lost += slots[i].packets_lost;
      paths[i].timeouts += slots[i].timeouts;
    }
  }
};

struct PeerSnapshot {
  PeerConfig cfg;
  bool known = false;  // the endpoint has it (false briefly after a reload)
  PeerStats stats;
  std::vector<PathStats> paths;  // by slot: paths[i] is slot i
  PeerTotals earlier;            // its counters before reloads removed it
};

struct Snapshot {
  // When the poll loop took it: wall-clock seconds since 1970 (status
  // "snapshot.taken_at") and its monotonic clock (the age, in the API).
  double taken_at = 0;
  Time taken_mono = Time::zero();
  uint64_t instance = 0;       // random, chosen when srdxd started: tells two runs apart
  double start_time = 0;       // wall-clock seconds since 1970 when srdxd started
  std::string carrier;         // "engine" or "fabric"
  std::string carrier_name;    // what peers add: IP:PORT, or the fabric endpoint's name in hex
  std::string carrier_detail;  // fabric: provider, fabric, domain, segment size
  std::string link_kind;       // udp, dpdk; "fabric" with the fabric carrier
  Addr link_local;
  bool encryption = false;  // endpoint.encryption
  std::string public_key;   // the endpoint's static public key, base64
  EndpointStats ep;
  dp::LinkStats link;
  // What the link backend counts beyond LinkStats (udp: GSO, ring; dpdk:
  // per queue and the port's own), by name.
  std::vector<std::pair<std::string, uint64_t>> link_backend;
  dp::PollerStats poller;
  uint64_t buffered_messages = 0, buffered_bytes = 0;
  uint64_t endpoint_peers = 0;  // every peer the endpoint knows, named or not
  uint64_t echo_served = 0;     // srdx echo service: messages echoed
  uint64_t echo_failed = 0;     // ... that could not be sent back
  uint64_t echo_refused = 0;    // ... not answered: the sender is not a configured peer
  uint64_t tcp_echo_connections = 0, tcp_echo_bytes = 0;  // TCP echo: accepted, echoed
  uint64_t tcp_echo_refused = 0;    // TCP echo: connections reset (not a configured peer's IP)
  uint64_t other_flow_dropped = 0;  // messages on flows no application serves
  std::vector<PeerSnapshot> peers;  // configured peers, in config order

  // TCP echo: connections closed after services.tcp-echo-idle-timeout, and
  // reset because their IP had services.tcp-echo-max-per-source open.
  uint64_t tcp_echo_idle_closed = 0, tcp_echo_over_cap = 0;
};

struct ApiCounters {
  uint64_t requests = 0, unauthorized = 0, bad_requests = 0;
  uint64_t forbidden = 0;  // a read-only token on a POST or DELETE (403)
  // Connections closed unserved (control/api.cc): the whole request not in
  // within control.request-timeout (408), over
  // control.max-connections-per-client, the worker queue full (503).
  uint64_t refused_deadline = 0, refused_per_client = 0, refused_queue_full = 0;
};

// Every EndpointStats counter by name (X(name)), drops aside; LinkStats and
// PollerStats likewise. The API, the metrics and DPDK telemetry use them.
// clang-format off
#define SRDX_ENDPOINT_COUNTERS(X)                                                   \
  X(packets_sent) X(packets_received) X(bytes_sent) X(bytes_received)               \
  X(data_packets_sent) X(ack_packets_sent) X(handshake_packets_sent)                \
  X(retransmissions) X(rto_events) X(reorder_losses) X(spurious_losses)             \
  X(duplicate_fragments) X(out_of_order_packets) X(messages_sent)                   \
  X(messages_completed) X(messages_failed) X(messages_received)                     \
  X(path_replacements) X(peer_restarts) X(coalesced_sent) X(coalesced_received)   \
  X(retries_sent) X(closes_sent) X(closes_received) X(peers_reclaimed)              \
  X(handshakes_completed) X(key_updates)

#define SRDX_LINK_COUNTERS(X)                                                       \
  X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes) X(tx_dropped) X(tx_no_buffer) \
  X(rx_dropped) X(rx_not_ip) X(rx_not_udp) X(rx_not_for_us) X(rx_bad_checksum)      \
  X(rx_truncated) X(rx_fragments) X(rx_unknown_ethertype) X(arp_requests)           \
  X(arp_replies) X(icmp_echo) X(tx_no_neighbour)

#define SRDX_POLLER_COUNTERS(X)                                                     \
  X(iterations) X(idle_iterations) X(idle_sleeps) X(wakeups_by_link) X(slept_ns)    \
  X(rx_bursts) X(rx_packets) X(tx_bursts) X(tx_packets) X(partial_tx)               \
  X(tx_dropped) X(tx_no_buffer) X(tx_budget_spent) X(timer_calls) X(events)
// clang-format on

}  // namespace srdx::ctl
