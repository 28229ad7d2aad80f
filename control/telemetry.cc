#include "telemetry.h"

#include "daemon.h"
#include "log.h"

#if SRDX_HAVE_DPDK_TELEMETRY
#include <rte_telemetry.h>
#endif

namespace srdx::ctl {

#if SRDX_HAVE_DPDK_TELEMETRY
namespace {
// Telemetry callbacks take no user pointer: one daemon per process.
Daemon* g_daemon = nullptr;

int counters_cb(const char*, const char*, rte_tel_data* d) {
  if (!g_daemon) return -1;
  const Snapshot s = g_daemon->snapshot();
  rte_tel_data_start_dict(d);
#define SRDX_T(f) rte_tel_data_add_dict_u64(d, #f, s.ep.f);
  SRDX_ENDPOINT_COUNTERS(SRDX_T)
#undef SRDX_T
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    const std::string name = "drops_" + std::string(to_string(static_cast<DropReason>(i)));
    rte_tel_data_add_dict_u64(d, name.c_str(), s.ep.drops[i]);
  }
  rte_tel_data_add_dict_u64(d, "buffered_messages", s.buffered_messages);
  return 0;
}

int link_cb(const char*, const char*, rte_tel_data* d) {
  if (!g_daemon) return -1;
  const Snapshot s = g_daemon->snapshot();
  rte_tel_data_start_dict(d);
#define SRDX_T(f) rte_tel_data_add_dict_u64(d, #f, s.link.f);
  SRDX_LINK_COUNTERS(SRDX_T)
#undef SRDX_T
  return 0;
}

int peers_cb(const char*, const char* params, rte_tel_data* d) {
  if (!g_daemon) return -1;
  const Snapshot s = g_daemon->snapshot();
  rte_tel_data_start_dict(d);
  for (const PeerSnapshot& p : s.peers) {
    if (params && *params && p.cfg.name != params) continue;
    rte_tel_data_add_dict_u64(d, (p.cfg.name + ".up").c_str(), p.stats.up ? 1 : 0);
    rte_tel_data_add_dict_u64(d, (p.cfg.name + ".srtt_us").c_str(),
                              static_cast<uint64_t>(p.stats.srtt.us()));
    rte_tel_data_add_dict_u64(d, (p.cfg.name + ".retransmissions").c_str(),
                              p.stats.retransmissions);
    rte_tel_data_add_dict_u64(d, (p.cfg.name + ".messages_completed").c_str(),
                              p.stats.messages_completed);
  }
  return 0;
}
}  // namespace

void register_telemetry(Daemon* d) {
  g_daemon = d;
  int rc = rte_telemetry_register_cmd("/srdx/counters", counters_cb,
                                      "srdx endpoint counters. No parameters");
  rc |= rte_telemetry_register_cmd("/srdx/link", link_cb, "srdx link counters. No parameters");
  rc |= rte_telemetry_register_cmd("/srdx/peers", peers_cb,
                                   "srdx peers. Parameter: a peer name (optional)");
  if (rc != 0) {
    SRDX_LOG_WARN("dpdk telemetry: could not register the /srdx commands");
  } else {
    SRDX_LOG_INFO("dpdk telemetry: /srdx/counters, /srdx/link, /srdx/peers registered");
  }
}
#else
void register_telemetry(Daemon*) {
  SRDX_LOG_WARN("dpdk telemetry: this build has no DPDK; no telemetry commands");
}
#endif

}  // namespace srdx::ctl
