// Carriers for tests, shared by the carrier suite and the replication
// session tests: the srdx engine over the udp link on loopback (no
// encryption, generous timers for a loaded 2-core machine), and libfabric.
#pragma once

#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "engine_carrier.h"
#include "fabric_carrier.h"

namespace srdx::testing {

// An engine carrier on 127.0.0.1 with 8 entropy ports of its own, taken from
// [first, 48000) in turn (another process may hold some: those are skipped).
inline std::unique_ptr<carrier::Carrier> make_engine(uint32_t first) {
  static uint32_t next = 0;
  if (next == 0) next = first + static_cast<uint32_t>(getpid() % 50) * 160;
  for (int attempt = 0; attempt < 100; ++attempt) {
    dp::LinkConfig link;
    link.kind = "udp";
    link.local = Addr{0x7f000001, 0};
    link.entropy.first_port = static_cast<uint16_t>(next);
    link.entropy.port_count = 8;
    next += 8;
    if (next > 48000) next = first;
    EndpointConfig ep;
    ep.seed = next;
    ep.encryption = false;
    // Generous on a loaded 2-core machine: a peer is declared unreachable
    // after peer_timeout without an answer.
    ep.peer_timeout = Duration::seconds(2);
    ep.message_timeout = Duration::seconds(30);
    try {
      return std::make_unique<carrier::EngineCarrier>(link, ep);
    } catch (const std::runtime_error& e) {
      if (!std::strstr(e.what(), "in use")) throw;
    }
  }
  throw std::runtime_error("no free entropy port range for the engine carrier");
}

// A fabric carrier of `provider` (on 127.0.0.1 unless shm).
inline std::unique_ptr<carrier::Carrier> make_fabric(const std::string& provider,
                                                     uint32_t segment = 64u << 10,
                                                     bool always_register = false) {
  carrier::FabricConfig cfg;
  cfg.provider = provider;
  if (provider != "shm") cfg.node = "127.0.0.1";
  cfg.segment_size = segment;
  cfg.always_register = always_register;
  cfg.message_timeout = Duration::seconds(30);
  return std::make_unique<carrier::FabricCarrier>(cfg);
}

}  // namespace srdx::testing
