// Delivered goodput over time, and the dip a path failure causes in it.
//
// A timeline is the payload bytes delivered at the receiver per interval
// (1 ms by default), from the start of the run. The dip is measured as the
// fabric benchmark measures it (bench/srdx-bench.md): goodput over a sliding
// 5 ms window; the baseline is that window's median from the first delivery
// to the failure; the dip is the longest stretch after the failure (until the
// last delivery, 3 s at most) in which the window stays below half the baseline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/link.h"  // srdx/time.h with its <compare> include

namespace srdx::sim {

class Timeline {
 public:
  Timeline() = default;
  explicit Timeline(Duration interval) : interval_(interval) {}

  // `bytes` delivered at `at` (at or after `origin`).
  void add(Time origin, Time at, uint64_t bytes);

  Duration interval() const { return interval_; }
  // bins()[k]: bytes delivered in [origin + k * interval, origin + (k + 1) * interval).
  const std::vector<uint64_t>& bins() const { return bins_; }
  // "# interval_s I" then one "TIME_S BYTES" line per interval (TIME_S: the
  // interval's start, seconds from the origin).
  std::string text() const;

 private:
  Duration interval_ = Duration::millis(1);
  std::vector<uint64_t> bins_;
};

inline constexpr Duration kDipWindow = Duration::millis(5);
inline constexpr double kDipFraction = 0.5;
inline constexpr Duration kDipLookAfter = Duration::seconds(3);  // after the failure, at most

struct Dip {
  bool measured = false;     // false: no failure, or too little before or after it
  double baseline_bps = 0;   // median 5 ms window goodput before the failure
  Duration longest;          // the dip
  double min_after_bps = 0;  // lowest 5 ms window goodput after the failure
};

// The dip after a failure `failure` (time since the timeline's origin).
Dip measure_dip(const std::vector<uint64_t>& bins, Duration interval, Duration failure);

}  // namespace srdx::sim
