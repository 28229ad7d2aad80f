// DPDK telemetry: when the dpdk link runs, the daemon's counters are also
// registered as telemetry commands (readable with dpdk-telemetry.py):
//   /srdx/counters   endpoint counters and drops
//   /srdx/link       link counters
//   /srdx/peers      configured peers (or the one named as parameter): a dict
//                    per peer (up, srtt_ns, cwnd, retransmissions, messages)
// A build without DPDK registers nothing.
#pragma once

namespace srdx::ctl {
class Daemon;
void register_telemetry(Daemon* d);
// The callbacks answer -1 from now on (the daemon is going away).
void unregister_telemetry();
}  // namespace srdx::ctl
