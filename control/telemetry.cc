#include "telemetry.h"

#include <atomic>
#include <cctype>
#include <cerrno>

#include "daemon.h"
#include "log.h"

#if SRDX_HAVE_DPDK_TELEMETRY
#include <rte_telemetry.h>
#endif

namespace srdx::ctl {

#if SRDX_HAVE_DPDK_TELEMETRY
namespace {
// Telemetry callbacks take no user pointer: one daemon per process.
std::atomic<Daemon*> g_daemon{nullptr};

int counters_cb(const char*, const char*, rte_tel_data* d) {
  Daemon* daemon = g_daemon.load();
  if (!daemon) return -1;
  const Snapshot s = daemon->snapshot();
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
  Daemon* daemon = g_daemon.load();
  if (!daemon) return -1;
  const Snapshot s = daemon->snapshot();
  rte_tel_data_start_dict(d);
#define SRDX_T(f) rte_tel_data_add_dict_u64(d, #f, s.link.f);
  SRDX_LINK_COUNTERS(SRDX_T)
#undef SRDX_T
  // The backend's own (per queue, the port's), prefixed so they cannot
  // collide with the names above.
  for (const auto& [name, v] : s.link_backend) {
    rte_tel_data_add_dict_u64(d, ("backend_" + name).c_str(), v);
  }
  return 0;
}

int peers_cb(const char*, const char* params, rte_tel_data* d) {
  Daemon* daemon = g_daemon.load();
  if (!daemon) return -1;
  const Snapshot s = daemon->snapshot();
  rte_tel_data_start_dict(d);
  // One dict per peer: telemetry names allow letters, digits and '_' only
  // reliably, so peers whose names hold other characters get them as '_'.
  for (const PeerSnapshot& p : s.peers) {
    if (params && *params && p.cfg.name != params) continue;
    rte_tel_data* c = rte_tel_data_alloc();
    if (!c) return -ENOMEM;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_u64(c, "up", p.stats.up ? 1 : 0);
    rte_tel_data_add_dict_u64(c, "srtt_ns", static_cast<uint64_t>(p.stats.srtt.ns()));
    rte_tel_data_add_dict_u64(c, "min_rtt_ns", static_cast<uint64_t>(p.stats.min_rtt.ns()));
    rte_tel_data_add_dict_u64(c, "cwnd_bytes", p.stats.cwnd_bytes);
    rte_tel_data_add_dict_u64(c, "inflight_bytes", p.stats.inflight_bytes);
    rte_tel_data_add_dict_u64(c, "retransmissions", p.stats.retransmissions);
    rte_tel_data_add_dict_u64(c, "messages_completed", p.stats.messages_completed);
    rte_tel_data_add_dict_u64(c, "messages_failed", p.stats.messages_failed);
    rte_tel_data_add_dict_u64(c, "messages_received", p.stats.messages_received);
    std::string key = p.cfg.name;
    for (char& ch : key) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    if (rte_tel_data_add_dict_container(d, key.c_str(), c, 0) != 0) rte_tel_data_free(c);
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
void unregister_telemetry() { g_daemon = nullptr; }
#else
void unregister_telemetry() {}
void register_telemetry(Daemon*) {
  SRDX_LOG_WARN("dpdk telemetry: this build has no DPDK; no telemetry commands");
}
#endif

}  // namespace srdx::ctl
