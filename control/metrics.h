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

#include "snapshot.h"

namespace srdx::ctl {

// A cumulative histogram with fixed bucket bounds in seconds.
class Histogram {
 public:
  // Upper bounds (le) in seconds: 5us .. 1s, then +Inf.
  static const std::vector<double>& bounds();
  void observe(double seconds);
  const std::vector<uint64_t>& buckets() const { return buckets_; }  // not cumulative
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<uint64_t> buckets_ = std::vector<uint64_t>(bounds().size() + 1, 0);
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Probe RTT histograms keyed by (peer, transport), thread-safe.
class ProbeHistograms {
 public:
  void observe(const std::string& peer, std::string_view transport, double seconds);
  std::map<std::pair<std::string, std::string>, Histogram> copy() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Histogram> h_;
};

struct MetricsInput {
  const Snapshot* snap = nullptr;
  ApiCounters api;
  std::map<std::pair<std::string, std::string>, Histogram> probe_rtt;
  double uptime_s = 0;
  bool draining = false;
  uint64_t probes_started = 0;
};

std::string render_prometheus(const MetricsInput& in);

// A label value escaped for the text format (\\, \", \n).
std::string escape_label(std::string_view v);

}  // namespace srdx::ctl
