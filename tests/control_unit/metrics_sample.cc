// Prints render_prometheus() of a sample in which every family has samples
// (the dpdk port's, replication jobs and the DR side, probes, peers with
// paths, one with no RTT yet): the control test promtool_sample runs
// `promtool check metrics` on it, for the families a udp-link daemon in the
// other tests does not show.
#include <cstdio>

#include "metrics.h"

using namespace srdx;
using namespace srdx::ctl;

int main() {
  Snapshot s;
  s.start_time = 1796652567.125;
  s.carrier = "engine";
  s.link_kind = "dpdk";
  s.link_local = Addr{0x0a000001, 47000};
  s.encryption = true;
  s.ep.packets_sent = 1000;
  s.ep.drops[0] = 1;
  s.link.rx_not_for_us = 2;
  s.poller.slept_ns = 1500000000;
  s.link_backend = {{"link_up", 1},
                    {"link_up_events", 2},
                    {"link_down_events", 1},
                    {"lsc_events", 3},
                    {"reset_events", 0},
                    {"resets_done", 0},
                    {"reset_failures", 0},
                    {"removal_events", 0},
                    {"bw_in_allowance_exceeded", 1},
                    {"bw_out_allowance_exceeded", 2},
                    {"pps_allowance_exceeded", 3},
                    {"conntrack_allowance_exceeded", 4},
                    {"linklocal_allowance_exceeded", 5},
                    {"xstat_rx_good_packets", 100},
                    {"xstat_tx_good_bytes", 6400}};
  PeerSnapshot b;
  b.cfg.name = "b";
  b.known = true;
  b.stats.up = true;
  b.stats.srtt = Duration::micros(30);
  b.stats.min_rtt = Duration::micros(25);
  b.stats.bytes_acked = 1000;
  b.earlier.bytes_acked = 5000;
  for (int i = 0; i < 4; ++i) {
    PathStats p;
    p.entropy = static_cast<uint16_t>(1000 + i);
    p.packets_sent = 10;
    if (i != 3) p.srtt = p.min_rtt = Duration::micros(30 + i);
    b.paths.push_back(p);
  }
  s.peers.push_back(b);
  PeerSnapshot c;  // never answered
  c.cfg.name = "c";
  c.stats.srtt = Duration::millis(1);
  s.peers.push_back(c);

  MetricsInput in;
  in.snap = &s;
  in.api = ApiCounters{10, 1, 2, 3};
  in.uptime_s = 12.5;
  in.probes_started = 2;
  Histogram h;
  for (double v : {20e-6, 40e-6, 90e-6, 2e-3, 3.0}) h.observe(v);
  in.probes.rtt[{"b", "srdx", "probe"}] = h;
  in.probes.rtt[{"b", "tcp", "periodic"}] = h;
  in.probes.lost[{"b", "srdx", "probe"}] = 1;
  in.probes.failed[{"c", "tcp", "periodic"}] = 4;
  ReplicationJobMetrics j;
  j.job = "ehr";
  j.state = "syncing";
  j.lag_seconds = 0.5;
  in.jobs.push_back(j);
  in.sink.present = true;
  in.sink.commits = 3;
  in.replication_refused = 1;
  const std::string text = render_prometheus(in);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
