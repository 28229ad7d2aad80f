// Prometheus text exposition (format 0.0.4) of a Snapshot, the API counters
// and the probe RTT histograms. Pure functions: the unit tests render a
// sample and compare.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hdr_histogram.h"
#include "snapshot.h"

namespace srdx::ctl {

// The probes' RTT histogram, as Prometheus shows it: fixed bucket bounds in
// seconds, over the same log-linear histogram the probes keep
// (LogLinearHistogram, in ns; one piece of code for both). A value within
// 1% of a bound may be counted on either side of it: a log-linear bucket
// goes under the first bound at or above its midpoint.
class Histogram {
 public:
  // Upper bounds (le) in seconds: 5us .. 1s, then +Inf.
  static const std::vector<double>& bounds();
  void observe(double seconds);
  // Per bound, then +Inf; not cumulative.
  std::vector<uint64_t> buckets() const;
  uint64_t count() const { return ns_.count(); }
  double sum() const { return sum_; }
  // The samples in ns, for percentiles.
  const LogLinearHistogram& ns() const { return ns_; }

 private:
  LogLinearHistogram ns_;
  double sum_ = 0;
};

// What the probes measured, per (peer, transport, source): source is
// "probe" for POST /v1/probes (srdxctl probe) and "periodic" for the rounds
// daemon.probe-every starts, so that the two never mix in one series.
struct ProbeKey {
  std::string peer, transport, source;
  auto operator<=>(const ProbeKey&) const = default;
};

struct ProbeMetrics {
  std::map<ProbeKey, Histogram> rtt;  // answered pings' round-trip times
  std::map<ProbeKey, uint64_t> lost;  // pings without an answer in time
  // Probes (API probes or periodic rounds) that ended failed on the
  // transport: an error over it (tcp connect refused, the endpoint refused a
  // ping) or not one answer over it.
  std::map<ProbeKey, uint64_t> failed;
};

// ProbeMetrics, thread-safe (probe threads and the poller thread write).
class ProbeHistograms {
 public:
  // One series' place, made once when a probe starts: observing through it
  // builds no string and, after its first sample, looks nothing up and
  // allocates nothing (the probe's record() runs in the poll loop).
  class Series {
   public:
    Series() = default;
    explicit Series(ProbeKey k) : key_(std::move(k)) {}

   private:
    friend class ProbeHistograms;
    ProbeKey key_;
    // std::map nodes stay put; entries are never erased: a peer a reload
    // removed keeps its entries, which render_prometheus hides until the
    // peer is configured again (its counters then continue, not restart).
    Histogram* rtt_ = nullptr;
    uint64_t* lost_ = nullptr;
  };
  void observe(const ProbeKey& k, double seconds);
  void lost(const ProbeKey& k);
  void observe(Series& s, double seconds);
  void lost(Series& s);
  void failed(const ProbeKey& k);
  ProbeMetrics copy() const;

 private:
  mutable std::mutex mu_;
  ProbeMetrics m_;
};

// One replication job's figures (control/jobs.h fills them from its
// Source's progress), labelled job="NAME".
struct ReplicationJobMetrics {
  std::string job;
  std::string state;  // starting, syncing, watching, done, failed, stopped
  double lag_seconds = 0;
  uint64_t lag_bytes = 0;
  uint64_t bytes_sent = 0, bytes_committed = 0;
  uint64_t files_pending = 0, files_failed = 0;
  uint64_t chunks_resent = 0, verify_failures = 0;
};

// The DR side (the Sink), when this appliance has a replication.dr-root.
struct ReplicationSinkMetrics {
  bool present = false;
  uint64_t offers = 0, chunks_written = 0, bytes_written = 0, commits = 0;
  uint64_t verify_failures = 0, refused = 0, malformed = 0;
  uint64_t groups = 0;
  double receive_s = 0, sync_s = 0, publish_s = 0, audit_s = 0;
};

struct MetricsInput {
  const Snapshot* snap = nullptr;
  ApiCounters api;
  ProbeMetrics probes;
  double uptime_s = 0;
  bool draining = false;
  // Seconds since the poll loop's last iteration (grows while it hangs).
  double heartbeat_age_s = 0;
  uint64_t probes_started = 0;
  std::vector<ReplicationJobMetrics> jobs;
  ReplicationSinkMetrics sink;
  uint64_t replication_refused = 0;  // jobs refused (peer region not allowed)
};

std::string render_prometheus(const MetricsInput& in);

// A label value escaped for the text format (\\, \", \n).
std::string escape_label(std::string_view v);

}  // namespace srdx::ctl
