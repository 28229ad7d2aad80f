#include "metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace srdx::ctl {

const std::vector<double>& Histogram::bounds() {
  static const std::vector<double> b = {5e-6,   10e-6,  20e-6,  50e-6,  100e-6, 200e-6,
                                        500e-6, 1e-3,   2e-3,   5e-3,   10e-3,  20e-3,
                                        50e-3,  100e-3, 200e-3, 500e-3, 1.0};
  return b;
}

void Histogram::observe(double seconds) {
  const double ns = std::round(seconds * 1e9);
  ns_.record(ns <= 0 ? 0 : ns >= 1.8e19 ? ~uint64_t{0} : static_cast<uint64_t>(ns));
  sum_ += seconds;
}

std::vector<uint64_t> Histogram::buckets() const {
  const std::vector<double>& b = bounds();
  std::vector<uint64_t> out(b.size() + 1, 0);
  size_t j = 0;  // the first bound at or above the bucket's midpoint
  for (size_t i = 0; i < LogLinearHistogram::kBuckets; ++i) {
    const uint64_t n = ns_.bucket_count(i);
    if (n == 0) continue;
    const double mid = static_cast<double>(LogLinearHistogram::bucket_low(i)) +
                       static_cast<double>(LogLinearHistogram::bucket_width(i)) / 2;
    while (j < b.size() && mid > b[j] * 1e9) ++j;
    out[j] += n;
  }
  return out;
}

void ProbeHistograms::observe(const ProbeKey& k, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  m_.rtt[k].observe(seconds);
}

void ProbeHistograms::lost(const ProbeKey& k) {
  std::lock_guard<std::mutex> lock(mu_);
  ++m_.lost[k];
}

void ProbeHistograms::observe(Series& s, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.rtt_) s.rtt_ = &m_.rtt[s.key_];
  s.rtt_->observe(seconds);
}

void ProbeHistograms::lost(Series& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.lost_) s.lost_ = &m_.lost[s.key_];
  ++*s.lost_;
}

void ProbeHistograms::failed(const ProbeKey& k) {
  std::lock_guard<std::mutex> lock(mu_);
  ++m_.failed[k];
}

ProbeMetrics ProbeHistograms::copy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return m_;
}

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

// The shortest %g form that reads back as exactly v: 2.5e-05 and 0.001 stay
// so (the histograms' le labels keep their names), and a wall-clock time
// such as 1796652567.125 keeps every digit (%.9g made it 1.79665257e+09).
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}
std::string num(uint64_t v) { return std::to_string(v); }

class Writer {
 public:
  // HELP and TYPE once per metric family.
  void family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

std::string label(const char* k, std::string_view v) {
  return std::string(k) + "=\"" + escape_label(v) + "\"";
}

// The port under a dpdk link, from its backend counters (by name; a link
// without a port has none of them): its state and events, the ENA's
// allowance counters (NAME_allowance_exceeded), the port's xstats (xstat_*).
void render_port(Writer& w, const Snapshot& s) {
  const auto find = [&s](std::string_view name) -> const uint64_t* {
    for (const auto& [n, v] : s.link_backend)
      if (n == name) return &v;
    return nullptr;
  };
  if (const uint64_t* up = find("link_up")) {
    w.family("srdx_link_up", "gauge",
             "1 while the link is up (dpdk: its port's link; udp: its local address is the "
             "host's)");
    w.sample("srdx_link_up", label("kind", s.link_kind), num(*up));
    w.family("srdx_link_events_total", "counter",
             "Port events of the dpdk link: up, down (link changes seen), lsc (LSC callbacks), "
             "reset (RESET events), reset_done, reset_failed (port restarts), removal");
    static const std::pair<const char*, const char*> events[] = {
        {"up", "link_up_events"},      {"down", "link_down_events"},
        {"lsc", "lsc_events"},         {"reset", "reset_events"},
        {"reset_done", "resets_done"}, {"reset_failed", "reset_failures"},
        {"removal", "removal_events"}};
    for (const auto& [event, name] : events) {
      if (const uint64_t* v = find(name))
        w.sample("srdx_link_events_total", label("event", event), num(*v));
    }
  }
  constexpr std::string_view kAllowance = "_allowance_exceeded";
  bool family = false;
  for (const auto& [n, v] : s.link_backend) {
    if (n.size() <= kAllowance.size() || n.rfind("xstat_", 0) == 0 ||
        n.compare(n.size() - kAllowance.size(), kAllowance.size(), kAllowance) != 0)
      continue;
    if (!family) {
      w.family("srdx_ena_allowance_exceeded_total", "counter",
               "Packets the ENA queued or dropped because the instance exceeded an allowance: "
               "bw_in, bw_out (bandwidth), pps, conntrack, linklocal");
      family = true;
    }
    w.sample("srdx_ena_allowance_exceeded_total",
             label("allowance", std::string_view(n).substr(0, n.size() - kAllowance.size())),
             num(v));
  }
  family = false;
  for (const auto& [n, v] : s.link_backend) {
    if (n.rfind("xstat_", 0) != 0) continue;
    if (!family) {
      w.family("srdx_link_xstat", "untyped",
               "The dpdk link's port extended statistics (rte_eth_xstats), by name");
      family = true;
    }
    w.sample("srdx_link_xstat", label("name", std::string_view(n).substr(6)), num(v));
  }
}

// Link and poller counters by their field names, but for the two whose
// names Prometheus conventions refuse: rx_not_for_us ("us" reads as
// microseconds) and slept_ns (in seconds, as every srdx time).
void link_counter(Writer& w, std::string_view field, const std::string& kind, uint64_t v) {
  if (field == "rx_not_for_us") {
    w.family("srdx_link_rx_not_local_total", "counter",
             "Packets the link received for another address or port (dropped)");
    w.sample("srdx_link_rx_not_local_total", label("kind", kind), num(v));
    return;
  }
  const std::string name = "srdx_link_" + std::string(field) + "_total";
  w.family(name, "counter", ("Link counter " + std::string(field)).c_str());
  w.sample(name, label("kind", kind), num(v));
}

void poller_counter(Writer& w, std::string_view field, uint64_t v) {
  if (field == "slept_ns") {
    w.family("srdx_poller_slept_seconds_total", "counter",
             "Seconds the poll loop slept waiting for packets or timers");
    w.sample("srdx_poller_slept_seconds_total", "", num(static_cast<double>(v) / 1e9));
    return;
  }
  const std::string name = "srdx_poller_" + std::string(field) + "_total";
  w.family(name, "counter", ("Poll loop counter " + std::string(field)).c_str());
  w.sample(name, "", num(v));
}

// A peer's RTT is measured once its smallest RTT is: before, the endpoint
// shows no min_rtt (0) and the initial RTO as srtt, and the metrics show
// neither. A path slot likewise, until its entropy delivers an RTT.
bool measured(const PeerSnapshot& p) { return p.stats.min_rtt.ns() > 0; }
bool measured(const PathStats& p) { return p.min_rtt.ns() > 0; }

}  // namespace

std::string render_prometheus(const MetricsInput& in) {
  Writer w;
  const Snapshot& s = *in.snap;

  w.family("srdx_info", "gauge", "srdxd version, link and carrier (always 1)");
  w.sample("srdx_info",
           label("version", kVersion) + "," + label("link", s.link_kind) + "," +
               label("carrier", s.carrier) + "," + label("local", format_addr(s.link_local)),
           "1");
  w.family("srdx_uptime_seconds", "gauge", "Seconds since srdxd started");
  w.sample("srdx_uptime_seconds", "", num(in.uptime_s));
  w.family("srdx_draining", "gauge", "1 while srdxd drains before exiting");
  w.sample("srdx_draining", "", in.draining ? "1" : "0");
  w.family("srdx_poller_heartbeat_age_seconds", "gauge",
           "Seconds since the poll loop last ran an iteration; while it grows, the counters "
           "here are as old as srdx_snapshot_timestamp_seconds says");
  w.sample("srdx_poller_heartbeat_age_seconds", "", num(in.heartbeat_age_s));
  w.family("srdx_snapshot_timestamp_seconds", "gauge",
           "When the poll loop took the counters served here, in seconds since 1970");
  {
    char at[40];  // milliseconds: %.9g would round a date to 10 s
    std::snprintf(at, sizeof at, "%.3f", s.taken_at);
    w.sample("srdx_snapshot_timestamp_seconds", "", at);
  }
  w.family("srdx_start_time_seconds", "gauge", "When srdxd started, in seconds since 1970");
  w.sample("srdx_start_time_seconds", "", num(s.start_time));
  w.family("srdx_encryption_enabled", "gauge",
           "1 when packets are authenticated and sealed (endpoint.encryption on); 0: "
           "measurement only, traffic in the clear");
  w.sample("srdx_encryption_enabled", "", s.encryption ? "1" : "0");

  // Endpoint counters.
#define SRDX_EP_METRIC(f)                                           \
  w.family("srdx_" #f "_total", "counter", "Endpoint counter " #f); \
  w.sample("srdx_" #f "_total", "", num(s.ep.f));
  SRDX_ENDPOINT_COUNTERS(SRDX_EP_METRIC)
#undef SRDX_EP_METRIC
  w.family("srdx_drops_total", "counter", "Incoming packets the endpoint dropped, by reason");
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    w.sample("srdx_drops_total", label("reason", to_string(static_cast<DropReason>(i))),
             num(s.ep.drops[i]));
  }
  w.family("srdx_buffered_messages", "gauge", "Messages in flight or undelivered");
  w.sample("srdx_buffered_messages", "", num(s.buffered_messages));
  w.family("srdx_buffered_bytes", "gauge", "Bytes of messages in flight or undelivered");
  w.sample("srdx_buffered_bytes", "", num(s.buffered_bytes));
  w.family("srdx_endpoint_peers", "gauge", "Peers the endpoint knows (configured or not)");
  w.sample("srdx_endpoint_peers", "", num(s.endpoint_peers));
  w.family("srdx_echo_messages_total", "counter", "Messages the srdx echo service answered");
  w.sample("srdx_echo_messages_total", "", num(s.echo_served));
  w.family("srdx_echo_failures_total", "counter", "Echoes the endpoint refused to send");
  w.sample("srdx_echo_failures_total", "", num(s.echo_failed));
  w.family("srdx_echo_refused_total", "counter",
           "Echo requests not answered: the sender is not a configured peer (tcp: by IP; the "
           "connection is reset)");
  w.sample("srdx_echo_refused_total", label("transport", "srdx"), num(s.echo_refused));
  w.sample("srdx_echo_refused_total", label("transport", "tcp"), num(s.tcp_echo_refused));
  w.family("srdx_tcp_echo_connections_total", "counter", "TCP echo connections accepted");
  w.sample("srdx_tcp_echo_connections_total", "", num(s.tcp_echo_connections));
  w.family("srdx_tcp_echo_bytes_total", "counter", "Bytes the TCP echo wrote back");
  w.sample("srdx_tcp_echo_bytes_total", "", num(s.tcp_echo_bytes));
  w.family("srdx_tcp_echo_closed_total", "counter",
           "TCP echo connections the echo ended: idle (services.tcp-echo-idle-timeout), "
           "per_source_cap (reset: services.tcp-echo-max-per-source)");
  w.sample("srdx_tcp_echo_closed_total", label("reason", "idle"), num(s.tcp_echo_idle_closed));
  w.sample("srdx_tcp_echo_closed_total", label("reason", "per_source_cap"),
           num(s.tcp_echo_over_cap));
  w.family("srdx_unserved_messages_total", "counter",
           "Messages on flows no application serves (dropped)");
  w.sample("srdx_unserved_messages_total", "", num(s.other_flow_dropped));

#define SRDX_LINK_METRIC(f) link_counter(w, #f, s.link_kind, s.link.f);
  SRDX_LINK_COUNTERS(SRDX_LINK_METRIC)
#undef SRDX_LINK_METRIC
  render_port(w, s);

#define SRDX_POLLER_METRIC(f) poller_counter(w, #f, s.poller.f);
  SRDX_POLLER_COUNTERS(SRDX_POLLER_METRIC)
#undef SRDX_POLLER_METRIC

  // Peers.
  // Peers: the configured ones (a peer a reload removed has no series; its
  // counters continue from where they were if it comes back). An empty
  // value: no sample (an RTT not measured yet).
  struct PeerMetric {
    const char* name;
    const char* type;
    const char* help;
    std::string (*value)(const PeerSnapshot&);
  };
  static const PeerMetric peer_metrics[] = {
      {"srdx_peer_up", "gauge", "1 when the handshake with the peer is done",
       [](const PeerSnapshot& p) { return std::string(p.stats.up ? "1" : "0"); }},
      {"srdx_peer_srtt_seconds", "gauge",
       "Smoothed RTT to the peer (no sample until an RTT is measured)",
       [](const PeerSnapshot& p) { return measured(p) ? num(p.stats.srtt.sec()) : ""; }},
      {"srdx_peer_min_rtt_seconds", "gauge",
       "Smallest RTT seen to the peer (no sample until an RTT is measured)",
       [](const PeerSnapshot& p) { return measured(p) ? num(p.stats.min_rtt.sec()) : ""; }},
      {"srdx_peer_cwnd_bytes", "gauge", "Congestion window",
       [](const PeerSnapshot& p) { return num(p.stats.cwnd_bytes); }},
      {"srdx_peer_inflight_bytes", "gauge", "Bytes in flight",
       [](const PeerSnapshot& p) { return num(p.stats.inflight_bytes); }},
      {"srdx_peer_retransmissions_total", "counter", "Packets retransmitted to the peer",
       [](const PeerSnapshot& p) {
         return num(p.earlier.retransmissions + p.stats.retransmissions);
       }},
      {"srdx_peer_messages_completed_total", "counter", "Messages the peer acknowledged",
       [](const PeerSnapshot& p) {
         return num(p.earlier.messages_completed + p.stats.messages_completed);
       }},
      {"srdx_peer_messages_failed_total", "counter", "Messages to the peer that failed",
       [](const PeerSnapshot& p) {
         return num(p.earlier.messages_failed + p.stats.messages_failed);
       }},
      {"srdx_peer_messages_received_total", "counter", "Messages received from the peer",
       [](const PeerSnapshot& p) {
         return num(p.earlier.messages_received + p.stats.messages_received);
       }},
      {"srdx_peer_bytes_acked_total", "counter", "Bytes the peer acknowledged",
       [](const PeerSnapshot& p) { return num(p.earlier.bytes_acked + p.stats.bytes_acked); }},
      {"srdx_peer_bytes_received_total", "counter", "Bytes received from the peer",
       [](const PeerSnapshot& p) {
         return num(p.earlier.bytes_received + p.stats.bytes_received);
       }},
  };
  for (const PeerMetric& m : peer_metrics) {
    w.family(m.name, m.type, m.help);
    for (const PeerSnapshot& p : s.peers) {
      const std::string v = m.value(p);
      if (!v.empty()) w.sample(m.name, label("peer", p.cfg.name), v);
    }
  }

  // Paths, by slot (path="0" .. endpoint.paths - 1): a slot keeps its
  // counters when it moves to a fresh entropy, so its series do not churn
  // (/v1/peers/NAME/paths shows each slot's entropy).
  using PathTotals = PeerTotals::Path;
  struct PathMetric {
    const char* name;
    const char* type;
    const char* help;
    std::string (*value)(const PathStats&, const PathTotals&);
  };
  static const PathMetric path_metrics[] = {
      {"srdx_path_srtt_seconds", "gauge",
       "Smoothed RTT of the path slot's entropy (no sample until it has one)",
       [](const PathStats& p, const PathTotals&) { return measured(p) ? num(p.srtt.sec()) : ""; }},
      {"srdx_path_min_rtt_seconds", "gauge",
       "Smallest RTT of the path slot's entropy (no sample until it has one)",
       [](const PathStats& p, const PathTotals&) {
         return measured(p) ? num(p.min_rtt.sec()) : "";
       }},
      {"srdx_path_active", "gauge", "1 when the path is active (not on probation or retired)",
       [](const PathStats& p, const PathTotals&) {
         return std::string(p.state == PathState::active ? "1" : "0");
       }},
      {"srdx_path_packets_sent_total", "counter", "Packets sent on the path slot",
       [](const PathStats& p, const PathTotals& e) {
         return num(e.packets_sent + p.packets_sent);
       }},
      {"srdx_path_packets_lost_total", "counter", "Packets lost on the path slot",
       [](const PathStats& p, const PathTotals& e) {
         return num(e.packets_lost + p.packets_lost);
       }},
      {"srdx_path_timeouts_total", "counter", "Retransmission timeouts on the path slot",
       [](const PathStats& p, const PathTotals& e) { return num(e.timeouts + p.timeouts); }},
  };
  static const PathTotals kNone;
  for (const PathMetric& m : path_metrics) {
    w.family(m.name, m.type, m.help);
    for (const PeerSnapshot& p : s.peers) {
      for (size_t i = 0; i < p.paths.size(); ++i) {
        const std::string v =
            m.value(p.paths[i], i < p.earlier.paths.size() ? p.earlier.paths[i] : kNone);
        if (!v.empty())
          w.sample(m.name, label("peer", p.cfg.name) + "," + label("path", std::to_string(i)), v);
      }
    }
  }

  // Probes: the configured peers' series only. A removed peer's stay in
  // ProbeHistograms, hidden, so that they continue if it comes back.
  std::set<std::string_view> configured;
  for (const PeerSnapshot& p : s.peers) configured.insert(p.cfg.name);
  const auto shown = [&configured](const ProbeKey& k) { return configured.count(k.peer) > 0; };
  w.family("srdx_probes_started_total", "counter", "Probes started (API and periodic)");
  w.sample("srdx_probes_started_total", "", num(in.probes_started));
  auto probe_labels = [](const ProbeKey& k) {
    return label("peer", k.peer) + "," + label("transport", k.transport) + "," +
           label("source", k.source);
  };
  w.family("srdx_probe_rtt_seconds", "histogram",
           "Ping-pong round-trip time of probes, by peer, transport and source (probe: the "
           "API; periodic: daemon.probe-every)");
  const std::vector<double>& b = Histogram::bounds();
  for (const auto& [key, h] : in.probes.rtt) {
    if (!shown(key)) continue;
    const std::string base = probe_labels(key);
    const std::vector<uint64_t> counts = h.buckets();
    uint64_t cum = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      cum += counts[i];
      w.sample("srdx_probe_rtt_seconds_bucket", base + "," + label("le", num(b[i])), num(cum));
    }
    cum += counts[b.size()];
    w.sample("srdx_probe_rtt_seconds_bucket", base + "," + label("le", "+Inf"), num(cum));
    w.sample("srdx_probe_rtt_seconds_sum", base, num(h.sum()));
    w.sample("srdx_probe_rtt_seconds_count", base, num(h.count()));
  }
  w.family("srdx_probe_pings_lost_total", "counter",
           "Probe pings that got no answer in time, by peer, transport and source");
  for (const auto& [key, n] : in.probes.lost) {
    if (shown(key)) w.sample("srdx_probe_pings_lost_total", probe_labels(key), num(n));
  }
  w.family("srdx_probe_failures_total", "counter",
           "Probes (periodic rounds or API probes) that failed on a transport: an error "
           "(connect refused, ping refused) or not one answer, by peer, transport and source");
  for (const auto& [key, n] : in.probes.failed) {
    if (shown(key)) w.sample("srdx_probe_failures_total", probe_labels(key), num(n));
  }

  // Replication jobs (source side) and the DR side. Families are always
  // written, so that dashboards find them before the first job.
  struct JobMetric {
    const char* name;
    const char* type;
    const char* help;
    std::string (*value)(const ReplicationJobMetrics&);
  };
  static const JobMetric job_metrics[] = {
      {"srdx_replication_lag_seconds", "gauge",
       "RPO: age of the oldest change seen at the source and not yet committed at DR, by job",
       [](const ReplicationJobMetrics& j) { return num(j.lag_seconds); }},
      {"srdx_replication_lag_bytes", "gauge",
       "Bytes changed at the source and not yet committed at DR, by job",
       [](const ReplicationJobMetrics& j) { return num(j.lag_bytes); }},
      {"srdx_replication_bytes_total", "counter", "Chunk bytes sent to the DR, by job",
       [](const ReplicationJobMetrics& j) { return num(j.bytes_sent); }},
      {"srdx_replication_committed_bytes_total", "counter",
       "Bytes committed at the DR (or found up to date there), by job",
       [](const ReplicationJobMetrics& j) { return num(j.bytes_committed); }},
      {"srdx_replication_files_pending", "gauge", "Files waiting to be shipped, by job",
       [](const ReplicationJobMetrics& j) { return num(j.files_pending); }},
      {"srdx_replication_files_failed", "gauge", "Files that failed in this pass, by job",
       [](const ReplicationJobMetrics& j) { return num(j.files_failed); }},
      {"srdx_replication_chunks_resent_total", "counter",
       "Chunks sent again (lost, timed out, refused), by job",
       [](const ReplicationJobMetrics& j) { return num(j.chunks_resent); }},
      {"srdx_replication_verify_failures_total", "counter",
       "File versions the DR refused on verification, by job",
       [](const ReplicationJobMetrics& j) { return num(j.verify_failures); }},
  };
  for (const JobMetric& m : job_metrics) {
    w.family(m.name, m.type, m.help);
    for (const ReplicationJobMetrics& j : in.jobs)
      w.sample(m.name, label("job", j.job), m.value(j));
  }
  w.family("srdx_replication_job_state", "gauge",
           "1 for the state each job is in (starting, syncing, watching, done, failed, stopped)");
  for (const ReplicationJobMetrics& j : in.jobs) {
    w.sample("srdx_replication_job_state", label("job", j.job) + "," + label("state", j.state),
             "1");
  }
  w.family("srdx_replication_refused_total", "counter",
           "Replication jobs refused: the peer's region is not in replication.allowed-regions");
  w.sample("srdx_replication_refused_total", "", num(in.replication_refused));
  w.family("srdx_replication_sink_enabled", "gauge",
           "1 when this appliance accepts replicas (replication.dr-root is set)");
  w.sample("srdx_replication_sink_enabled", "", in.sink.present ? "1" : "0");
  struct SinkMetric {
    const char* name;
    const char* help;
    uint64_t ReplicationSinkMetrics::*field;
  };
  static const SinkMetric sink_metrics[] = {
      {"srdx_replication_sink_offers_total", "File versions offered to this DR",
       &ReplicationSinkMetrics::offers},
      {"srdx_replication_sink_chunks_written_total", "Chunks written (and synced) at this DR",
       &ReplicationSinkMetrics::chunks_written},
      {"srdx_replication_sink_bytes_written_total", "Bytes written at this DR",
       &ReplicationSinkMetrics::bytes_written},
      {"srdx_replication_sink_commits_total", "File versions committed at this DR",
       &ReplicationSinkMetrics::commits},
      {"srdx_replication_sink_verify_failures_total",
       "File versions that failed verification at this DR (quarantined)",
       &ReplicationSinkMetrics::verify_failures},
      {"srdx_replication_sink_refused_total", "Offers this DR refused",
       &ReplicationSinkMetrics::refused},
      {"srdx_replication_sink_malformed_total", "Malformed replication messages received",
       &ReplicationSinkMetrics::malformed},
      {"srdx_replication_sink_groups_total",
       "Groups of messages this DR ended (each: its flushes, then its answers)",
       &ReplicationSinkMetrics::groups},
  };
  for (const SinkMetric& m : sink_metrics) {
    w.family(m.name, "counter", m.help);
    if (in.sink.present) w.sample(m.name, "", num(in.sink.*m.field));
  }
  w.family("srdx_replication_sink_worker_seconds_total", "counter",
           "Seconds the DR's replication worker spent, by phase: receive (offers, chunk writes, "
           "seals), sync (the groups' flushes), publish (renames, manifests, cleanup), audit");
  if (in.sink.present) {
    const std::pair<const char*, double> phases[] = {{"receive", in.sink.receive_s},
                                                     {"sync", in.sink.sync_s},
                                                     {"publish", in.sink.publish_s},
                                                     {"audit", in.sink.audit_s}};
    for (const auto& [phase, v] : phases)
      w.sample("srdx_replication_sink_worker_seconds_total", label("phase", phase), num(v));
  }

  // Control API.
  w.family("srdx_api_requests_total", "counter", "Control API requests");
  w.sample("srdx_api_requests_total", "", num(in.api.requests));
  w.family("srdx_api_unauthorized_total", "counter",
           "Control API requests refused for a missing or wrong bearer token");
  w.sample("srdx_api_unauthorized_total", "", num(in.api.unauthorized));
  w.family("srdx_api_forbidden_total", "counter",
           "Control API requests refused (403) because a read-only token asked for a change");
  w.sample("srdx_api_forbidden_total", "", num(in.api.forbidden));
  w.family("srdx_api_bad_requests_total", "counter", "Control API requests answered with 4xx");
  w.sample("srdx_api_bad_requests_total", "", num(in.api.bad_requests));
  w.family("srdx_api_connections_refused_total", "counter",
           "Control API connections closed unserved: deadline (the whole request not in within "
           "control.request-timeout), per_client (control.max-connections-per-client), "
           "queue_full (control.queue)");
  w.sample("srdx_api_connections_refused_total", label("reason", "deadline"),
           num(in.api.refused_deadline));
  w.sample("srdx_api_connections_refused_total", label("reason", "per_client"),
           num(in.api.refused_per_client));
  w.sample("srdx_api_connections_refused_total", label("reason", "queue_full"),
           num(in.api.refused_queue_full));
  return std::move(w.str());
}

}  // namespace srdx::ctl
