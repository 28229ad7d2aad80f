// The dpdk link's ARP table and next-hop choice. Pure: time is an argument
// (nanoseconds on any monotonic clock), no DPDK types, no I/O: the link sends
// the ARP requests this table asks for.
//
// Entries are static (from LinkConfig::static_neighbours, never replaced) or
// learned (from ARP requests to us and ARP replies). A datagram whose next hop
// has no entry is dropped by the link (counted in tx_no_neighbour; the
// transport retransmits) and the table asks for one ARP request per next hop
// per `retry` interval.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "dpdk/frame.h"

namespace srdx::dp {

struct NeighbourConfig {
  uint32_t local_ip = 0;
  uint32_t prefix_len = 24;         // the local subnet: local_ip / prefix_len
  uint32_t gateway = 0;             // next hop off the subnet; 0: every address is on-link
  uint64_t retry_ns = 100'000'000;  // at most one ARP request per next hop per 100 ms
  size_t capacity = 4096;           // learned entries beyond this are not kept
};

class NeighbourTable {
 public:
  explicit NeighbourTable(const NeighbourConfig& cfg);

  // The address whose MAC a datagram to `dst` goes to: `dst` itself when it is
  // in the local subnet (or no gateway is set), else the gateway.
  uint32_t next_hop(uint32_t dst) const;
  bool on_link(uint32_t ip) const;

  void add_static(uint32_t ip, const frame::Mac& mac);
  // Records what an ARP packet told us. Static entries win; a full table only
  // refreshes what it has. `refresh_only`: update an existing entry, add none
  // (ARP traffic not addressed to us, RFC 826's merge rule).
  void learn(uint32_t ip, const frame::Mac& mac, bool refresh_only = false);
  const frame::Mac* lookup(uint32_t ip) const;

  // True when the link should send an ARP request for `ip` now: no entry, and
  // none asked for in the last retry_ns. Records the request.
  bool should_request(uint32_t ip, uint64_t now_ns);

  size_t size() const { return entries_.size(); }
  const NeighbourConfig& config() const { return cfg_; }

 private:
  struct Entry {
    frame::Mac mac{};
    bool is_static = false;
  };
  NeighbourConfig cfg_;
  uint32_t mask_ = 0;
  std::unordered_map<uint32_t, Entry> entries_;
  std::unordered_map<uint32_t, uint64_t> pending_;  // ip -> last request time
};

}  // namespace srdx::dp
