// Prometheus text rendering of a sample snapshot: names, HELP/TYPE once per
// family, labels escaped, cumulative histogram buckets.
#include "metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

using namespace srdx;
using namespace srdx::ctl;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

Snapshot sample() {
  Snapshot s;
  s.instance = 42;
  s.start_time = 1.5e9;
  s.link_kind = "udp";
  s.link_local = Addr{0x7f000001, 47000};
  s.ep.packets_sent = 1000;
  s.ep.retransmissions = 3;
  s.ep.drops[static_cast<size_t>(DropReason::bad_checksum)] = 5;
  s.link.tx_packets = 999;
  s.poller.iterations = 12345;
  PeerSnapshot p;
  p.cfg.name = "b";
  p.cfg.addr = Addr{0x7f000001, 47100};
  p.known = true;
  p.stats.up = true;
  p.stats.srtt = Duration::micros(25);
  p.stats.min_rtt = Duration::micros(20);
  p.stats.retransmissions = 2;
  PathStats path;
  path.entropy = 7;
  path.srtt = Duration::micros(30);
  path.min_rtt = Duration::micros(28);
  path.packets_sent = 500;
  p.paths.push_back(path);
  path.entropy = 40000;  // slot 1
  path.packets_sent = 9;
  p.paths.push_back(path);
  s.peers.push_back(p);
  PeerSnapshot q;
  q.cfg.name = "we\"ird\\";
  s.peers.push_back(q);
  return s;
}

TEST(Prometheus, RendersASample) {
  const Snapshot s = sample();
  MetricsInput in;
  in.snap = &s;
  in.api = ApiCounters{10, 4, 2};
  Histogram h;
  h.observe(3e-6);   // first bucket (5us)
  h.observe(40e-6);  // 50us
  h.observe(2.0);    // +Inf
  in.probes.rtt[{"b", "srdx", "probe"}] = h;
  in.probes.rtt[{"b", "tcp", "periodic"}] = h;
  in.probes.lost[{"b", "srdx", "periodic"}] = 3;
  in.probes.failed[{"b", "tcp", "periodic"}] = 2;
  in.uptime_s = 1.5;
  const std::string t = render_prometheus(in);

  EXPECT_THAT(t, HasSubstr("# HELP srdx_packets_sent_total "));
  EXPECT_THAT(t,
              HasSubstr("# TYPE srdx_packets_sent_total counter\nsrdx_packets_sent_total 1000\n"));
  EXPECT_THAT(t, HasSubstr("srdx_retransmissions_total 3\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_drops_total counter\n"));
  EXPECT_THAT(t, HasSubstr("srdx_drops_total{reason=\"bad_checksum\"} 5\n"));
  EXPECT_THAT(t, HasSubstr("srdx_link_tx_packets_total{kind=\"udp\"} 999\n"));
  EXPECT_THAT(t, HasSubstr("srdx_poller_iterations_total 12345\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_peer_up gauge\nsrdx_peer_up{peer=\"b\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_up{peer=\"we\\\"ird\\\\\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_srtt_seconds{peer=\"b\"} 2.5e-05\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_retransmissions_total{peer=\"b\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_min_rtt_seconds{peer=\"b\"} 2e-05\n"));
  // Paths are labelled with their slot, not their entropy (which churns).
  EXPECT_THAT(t, HasSubstr("srdx_path_srtt_seconds{peer=\"b\",path=\"0\"} 3e-05\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_sent_total{peer=\"b\",path=\"0\"} 500\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_sent_total{peer=\"b\",path=\"1\"} 9\n"));
  EXPECT_THAT(t, Not(HasSubstr("entropy=")));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_probe_rtt_seconds histogram\n"));
  EXPECT_THAT(t, HasSubstr("srdx_probe_rtt_seconds_bucket{peer=\"b\",transport=\"srdx\",source="
                           "\"probe\",le=\"5e-06\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("srdx_probe_rtt_seconds_bucket{peer=\"b\",transport=\"srdx\",source="
                           "\"probe\",le=\"5e-05\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("srdx_probe_rtt_seconds_bucket{peer=\"b\",transport=\"srdx\",source="
                           "\"probe\",le=\"1\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("srdx_probe_rtt_seconds_bucket{peer=\"b\",transport=\"srdx\",source="
                           "\"probe\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(
      t, HasSubstr(
             "srdx_probe_rtt_seconds_count{peer=\"b\",transport=\"srdx\",source=\"probe\"} 3\n"));
  EXPECT_THAT(
      t,
      HasSubstr(
          "srdx_probe_rtt_seconds_sum{peer=\"b\",transport=\"srdx\",source=\"probe\"} 2.000043\n"));
  // Periodic rounds and API probes are separate series.
  EXPECT_THAT(t, HasSubstr("srdx_probe_rtt_seconds_count{peer=\"b\",transport=\"tcp\","
                           "source=\"periodic\"} 3\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_probe_pings_lost_total counter\n"
                           "srdx_probe_pings_lost_total{peer=\"b\",transport=\"srdx\","
                           "source=\"periodic\"} 3\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_probe_failures_total counter\n"
                           "srdx_probe_failures_total{peer=\"b\",transport=\"tcp\","
                           "source=\"periodic\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("srdx_api_unauthorized_total 4\n"));
  EXPECT_THAT(t, HasSubstr("srdx_api_requests_total 10\n"));
  EXPECT_THAT(t, HasSubstr("srdx_uptime_seconds 1.5\n"));

  // Every sample line belongs to a family announced by one TYPE line before it.
  std::istringstream in2(t);
  std::set<std::string> typed;
  for (std::string line; std::getline(in2, line);) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      continue;
    }
    if (line[0] == '#') continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::string(suffix).size());
      if (name.size() > std::string(suffix).size() &&
          name.compare(name.size() - std::string(suffix).size(), std::string::npos, suffix) == 0 &&
          typed.count(base)) {
        name = base;
      }
    }
    EXPECT_TRUE(typed.count(name)) << "no TYPE before " << line;
  }
}

// Encryption: whether it is on, handshakes, key updates, and the drops of
// datagrams that failed authentication, replays, unknown keys and clear
// packets where sealed ones belong.
TEST(Prometheus, Encryption) {
  Snapshot s = sample();
  s.encryption = true;
  s.ep.handshakes_completed = 4;
  s.ep.key_updates = 17;
  s.ep.drops[static_cast<size_t>(DropReason::bad_auth)] = 6;
  s.ep.drops[static_cast<size_t>(DropReason::replay)] = 7;
  s.ep.drops[static_cast<size_t>(DropReason::unknown_key)] = 8;
  s.ep.drops[static_cast<size_t>(DropReason::unauthenticated)] = 9;
  MetricsInput in;
  in.snap = &s;
  std::string t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_encryption_enabled gauge\nsrdx_encryption_enabled 1\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_handshakes_completed_total counter\n"
                           "srdx_handshakes_completed_total 4\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_key_updates_total counter\nsrdx_key_updates_total 17\n"));
  EXPECT_THAT(t, HasSubstr("srdx_drops_total{reason=\"bad_auth\"} 6\n"));
  EXPECT_THAT(t, HasSubstr("srdx_drops_total{reason=\"replay\"} 7\n"));
  EXPECT_THAT(t, HasSubstr("srdx_drops_total{reason=\"unknown_key\"} 8\n"));
  EXPECT_THAT(t, HasSubstr("srdx_drops_total{reason=\"unauthenticated\"} 9\n"));
  s.encryption = false;
  t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("\nsrdx_encryption_enabled 0\n"));
}

// The dpdk link's port: link state, port events, the ENA's allowance
// counters and the port's xstats, all from the link's backend counters; a
// link without a port (udp) shows none of them.
TEST(Prometheus, DpdkPortStateEventsAndEnaAllowances) {
  Snapshot s = sample();
  MetricsInput in;
  in.snap = &s;
  std::string t = render_prometheus(in);
  EXPECT_THAT(t, Not(HasSubstr("srdx_link_up")));
  EXPECT_THAT(t, Not(HasSubstr("srdx_ena_allowance_exceeded_total")));
  EXPECT_THAT(t, Not(HasSubstr("srdx_link_xstat")));
  s.link_kind = "dpdk";
  s.link_backend = {{"rx_queues", 4},
                    {"link_up", 0},
                    {"link_up_events", 2},
                    {"link_down_events", 3},
                    {"lsc_events", 5},
                    {"reset_events", 1},
                    {"resets_done", 1},
                    {"reset_failures", 0},
                    {"removal_events", 0},
                    {"port_removed", 0},
                    {"bw_in_allowance_exceeded", 11},
                    {"pps_allowance_exceeded", 12},
                    {"linklocal_allowance_exceeded", 13},
                    {"xstat_rx_good_packets", 1000},
                    {"xstat_rx_q0_errors", 1}};
  t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_link_up gauge\nsrdx_link_up{kind=\"dpdk\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_link_events_total counter\n"
                           "srdx_link_events_total{event=\"up\"} 2\n"
                           "srdx_link_events_total{event=\"down\"} 3\n"
                           "srdx_link_events_total{event=\"lsc\"} 5\n"
                           "srdx_link_events_total{event=\"reset\"} 1\n"
                           "srdx_link_events_total{event=\"reset_done\"} 1\n"
                           "srdx_link_events_total{event=\"reset_failed\"} 0\n"
                           "srdx_link_events_total{event=\"removal\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_ena_allowance_exceeded_total counter\n"
                           "srdx_ena_allowance_exceeded_total{allowance=\"bw_in\"} 11\n"
                           "srdx_ena_allowance_exceeded_total{allowance=\"pps\"} 12\n"
                           "srdx_ena_allowance_exceeded_total{allowance=\"linklocal\"} 13\n"));
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_link_xstat untyped\n"
                           "srdx_link_xstat{name=\"rx_good_packets\"} 1000\n"
                           "srdx_link_xstat{name=\"rx_q0_errors\"} 1\n"));
}

// Issue 17's metric names: no abbreviated units (promtool's lint), seconds
// for times, and a wall-clock start time with all its digits.
TEST(Prometheus, ConventionalNamesAndExactValues) {
  Snapshot s = sample();
  s.poller.slept_ns = 2500000000;
  s.link.rx_not_for_us = 4;
  s.start_time = 1796652567.125;
  MetricsInput in;
  in.snap = &s;
  in.uptime_s = 10000000.5;
  const std::string t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_poller_slept_seconds_total counter\n"
                           "srdx_poller_slept_seconds_total 2.5\n"));
  EXPECT_THAT(t, HasSubstr("srdx_link_rx_not_local_total{kind=\"udp\"} 4\n"));
  EXPECT_THAT(t, HasSubstr("\nsrdx_start_time_seconds 1796652567.125\n"));
  EXPECT_THAT(t, HasSubstr("\nsrdx_uptime_seconds 10000000.5\n"));
  EXPECT_THAT(t, Not(HasSubstr("_ns")));
  EXPECT_THAT(t, Not(HasSubstr("_for_us")));
}

// A peer (or a path slot) without an RTT measured yet has no RTT samples:
// not 0, and not the initial RTO the endpoint shows as its srtt.
TEST(Prometheus, NoRttSampleBeforeOneIsMeasured) {
  Snapshot s = sample();
  PeerSnapshot c;
  c.cfg.name = "c";
  c.known = true;
  c.stats.srtt = Duration::millis(1);  // the endpoint's initial RTO stand-in
  PathStats fresh;                     // a slot that has no RTT
  fresh.entropy = 9;
  fresh.packets_sent = 3;
  c.paths.push_back(fresh);
  s.peers.push_back(c);
  MetricsInput in;
  in.snap = &s;
  const std::string t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("srdx_peer_up{peer=\"c\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_sent_total{peer=\"c\",path=\"0\"} 3\n"));
  for (const char* name :
       {"srdx_peer_srtt_seconds{peer=\"c\"}", "srdx_peer_min_rtt_seconds{peer=\"c\"}",
        "srdx_path_srtt_seconds{peer=\"c\"", "srdx_path_min_rtt_seconds{peer=\"c\"",
        "srdx_peer_srtt_seconds{peer=\"we"}) {
    EXPECT_THAT(t, Not(HasSubstr(name)));
  }
  // The families stay (HELP and TYPE), and a measured peer has its samples.
  EXPECT_THAT(t, HasSubstr("# TYPE srdx_peer_srtt_seconds gauge\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_srtt_seconds{peer=\"b\"} 2.5e-05\n"));
}

// A peer a reload removed has no series; added again, its counters continue
// from what it had counted (the daemon keeps them in PeerSnapshot::earlier),
// and its probe series come back with their counts.
TEST(Prometheus, RemovedPeersHiddenAndCountersMonotonicWhenReAdded) {
  Snapshot s = sample();
  MetricsInput in;
  in.snap = &s;
  Histogram h;
  h.observe(40e-6);
  in.probes.rtt[{"b", "srdx", "probe"}] = h;
  in.probes.rtt[{"gone", "srdx", "probe"}] = h;
  in.probes.lost[{"gone", "srdx", "probe"}] = 2;
  in.probes.failed[{"gone", "tcp", "periodic"}] = 1;
  std::string t = render_prometheus(in);
  EXPECT_THAT(
      t, HasSubstr(
             "srdx_probe_rtt_seconds_count{peer=\"b\",transport=\"srdx\",source=\"probe\"} 1\n"));
  EXPECT_THAT(t, Not(HasSubstr("peer=\"gone\"")));

  // b re-added: the endpoint's counters restart from 0, the metrics do not.
  PeerSnapshot& b = s.peers[0];
  b.earlier.retransmissions = 10;
  b.earlier.bytes_acked = 1000;
  b.earlier.paths = {{600, 5, 1}, {20, 0, 0}};
  b.stats.retransmissions = 1;
  b.stats.bytes_acked = 7;
  b.paths[0].packets_sent = 3;
  b.paths[1].packets_sent = 0;
  t = render_prometheus(in);
  EXPECT_THAT(t, HasSubstr("srdx_peer_retransmissions_total{peer=\"b\"} 11\n"));
  EXPECT_THAT(t, HasSubstr("srdx_peer_bytes_acked_total{peer=\"b\"} 1007\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_sent_total{peer=\"b\",path=\"0\"} 603\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_lost_total{peer=\"b\",path=\"0\"} 5\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_timeouts_total{peer=\"b\",path=\"0\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("srdx_path_packets_sent_total{peer=\"b\",path=\"1\"} 20\n"));

  // "gone" configured again: its probe series are back, with their counts.
  PeerSnapshot g;
  g.cfg.name = "gone";
  s.peers.push_back(g);
  t = render_prometheus(in);
  EXPECT_THAT(
      t,
      HasSubstr(
          "srdx_probe_rtt_seconds_count{peer=\"gone\",transport=\"srdx\",source=\"probe\"} 1\n"));
  EXPECT_THAT(
      t, HasSubstr(
             "srdx_probe_pings_lost_total{peer=\"gone\",transport=\"srdx\",source=\"probe\"} 2\n"));
  EXPECT_THAT(
      t, HasSubstr(
             "srdx_probe_failures_total{peer=\"gone\",transport=\"tcp\",source=\"periodic\"} 1\n"));
}

// PeerTotals sums a peer's incarnations, slot by slot.
TEST(Prometheus, PeerTotalsAdd) {
  PeerTotals t;
  PeerStats st;
  st.retransmissions = 2;
  st.messages_failed = 3;
  std::vector<PathStats> slots(2);
  slots[1].packets_lost = 4;
  t.add(st, slots);
  t.add(st, {slots[0]});
  EXPECT_EQ(t.retransmissions, 4u);
  EXPECT_EQ(t.messages_failed, 6u);
  ASSERT_EQ(t.paths.size(), 2u);
  EXPECT_EQ(t.paths[1].packets_lost, 4u);
}

TEST(Prometheus, EscapeLabel) { EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

}  // namespace

namespace {

TEST(Prometheus, Replication) {
  const Snapshot s = sample();
  MetricsInput in;
  in.snap = &s;
  std::string text = render_prometheus(in);
  // The families are there before any job, without samples.
  EXPECT_THAT(text, HasSubstr("# TYPE srdx_replication_lag_seconds gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE srdx_replication_bytes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("srdx_replication_sink_enabled 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("srdx_replication_lag_seconds{")));
  ReplicationJobMetrics j;
  j.job = "ehr";
  j.state = "syncing";
  j.lag_seconds = 0.25;
  j.lag_bytes = 4096;
  j.bytes_sent = 1000;
  j.bytes_committed = 900;
  j.files_pending = 3;
  j.chunks_resent = 2;
  j.verify_failures = 1;
  in.jobs.push_back(j);
  in.sink.present = true;
  in.sink.commits = 7;
  in.replication_refused = 1;
  text = render_prometheus(in);
  for (const char* line :
       {"srdx_replication_lag_seconds{job=\"ehr\"} 0.25\n",
        "srdx_replication_lag_bytes{job=\"ehr\"} 4096\n",
        "srdx_replication_bytes_total{job=\"ehr\"} 1000\n",
        "srdx_replication_committed_bytes_total{job=\"ehr\"} 900\n",
        "srdx_replication_files_pending{job=\"ehr\"} 3\n",
        "srdx_replication_chunks_resent_total{job=\"ehr\"} 2\n",
        "srdx_replication_verify_failures_total{job=\"ehr\"} 1\n",
        "srdx_replication_job_state{job=\"ehr\",state=\"syncing\"} 1\n",
        "srdx_replication_refused_total 1\n", "srdx_replication_sink_enabled 1\n",
        "srdx_replication_sink_commits_total 7\n"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

}  // namespace

namespace srdx::ctl {
namespace {

// The Prometheus buckets come from the probes' log-linear histogram: every
// value more than 1% away from a bound lands under the right one.
TEST(Prometheus, HistogramBucketsFromTheLogLinearHistogram) {
  const std::vector<double>& b = Histogram::bounds();
  Histogram h;
  std::vector<uint64_t> want(b.size() + 1, 0);
  uint64_t n = 0;
  double last = 0;
  for (double v = 1e-7; v < 5.0; v *= 1.013) {
    bool near = false;
    for (double x : b) near = near || std::abs(v - x) <= 0.01 * x;
    if (near) continue;
    size_t i = 0;
    while (i < b.size() && v > b[i]) ++i;
    ++want[i];
    h.observe(v);
    last = v;
    ++n;
  }
  EXPECT_EQ(h.buckets(), want);
  EXPECT_EQ(h.count(), n);
  EXPECT_NEAR(static_cast<double>(h.ns().percentile(1.0)), last * 1e9, 1.0);
}

}  // namespace
}  // namespace srdx::ctl
