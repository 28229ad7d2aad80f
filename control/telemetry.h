// DPDK telemetry: when the dpdk link runs, the daemon's counters are also
// registered as telemetry commands (readable with dpdk-telemetry.py):
//   /srdx/counters   endpoint counters and drops
//   /srdx/link       link counters
//   /srdx/peers      configured peers: name -> up, srtt_us, retransmissions
// A build without DPDK registers nothing.
#pragma once

namespace srdx::ctl {
class Daemon;
void register_telemetry(Daemon* d);
}  // namespace srdx::ctl
