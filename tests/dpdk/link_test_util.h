// Shared by the dpdk link tests: a link configuration for tests and sending
// one datagram through the link's public API.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "link.h"

namespace srdx::dp::test {

inline constexpr uint16_t kPort = 4791;

// A dpdk link on `device` with address ip:kPort, small queues, a /24.
inline LinkConfig config(const std::string& device, uint32_t ip) {
  LinkConfig c;
  c.kind = "dpdk";
  c.device = device;
  c.local = Addr{ip, kPort};
  c.burst = 32;
  c.queue_depth = 256;
  c.prefix_len = 24;
  return c;
}

// Sends `payload` to `to` from entropy `entropy`; false when tx_buffer had none.
inline bool send(Link& link, const std::string& payload, Addr to, uint16_t entropy = 3) {
  std::span<uint8_t> buf = link.tx_buffer();
  if (buf.size() < payload.size()) return false;
  std::memcpy(buf.data(), payload.data(), payload.size());
  link.tx_commit(payload.size(), TxPath{to, entropy, 0});
  return true;
}

// Takes up to `max` (at most 64) mbufs a link sent off `ring`, frees them and
// returns how many there were, so they go back to the link's pool before it
// closes.
inline unsigned drain(rte_ring* ring, unsigned max = 64) {
  void* objs[64];
  const unsigned n = rte_ring_dequeue_burst(ring, objs, max < 64 ? max : 64, nullptr);
  for (unsigned i = 0; i < n; ++i) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
  return n;
}

}  // namespace srdx::dp::test
