#include "sim/timeline.h"

#include <algorithm>
#include <cstdio>

namespace srdx::sim {

void Timeline::add(Time origin, Time at, uint64_t bytes) {
  if (at < origin || interval_ <= Duration::zero()) return;
  const auto k = static_cast<size_t>((at - origin).ns() / interval_.ns());
  if (k >= bins_.size()) bins_.resize(k + 1, 0);
  bins_[k] += bytes;
}

std::string Timeline::text() const {
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof buf, "# interval_s %.9g\n", interval_.sec());
  out += buf;
  for (size_t k = 0; k < bins_.size(); k++) {
    std::snprintf(buf, sizeof buf, "%.6f %llu\n", (interval_ * static_cast<int64_t>(k)).sec(),
                  static_cast<unsigned long long>(bins_[k]));
    out += buf;
  }
  return out;
}

Dip measure_dip(const std::vector<uint64_t>& bins, Duration interval, Duration failure) {
  Dip d;
  if (interval <= Duration::zero() || bins.empty()) return d;
  const int64_t iv = interval.ns();
  // The window in whole intervals (at least one), rounded to the nearest.
  const size_t k = static_cast<size_t>(std::max<int64_t>(1, (kDipWindow.ns() + iv / 2) / iv));
  size_t first = bins.size(), last = 0;
  for (size_t i = 0; i < bins.size(); i++) {
    if (bins[i] == 0) continue;
    first = std::min(first, i);
    last = i;
  }
  if (first == bins.size()) return d;
  const int64_t t_first = static_cast<int64_t>(first) * iv;
  const int64_t t_last = static_cast<int64_t>(last) * iv;
  const int64_t t_fail = failure.ns();
  if (t_fail >= t_last) return d;
  // Goodput over the window ending at end[i] = (i + 1) * interval.
  struct Point {
    int64_t end;
    double bps;
  };
  std::vector<Point> pts;
  uint64_t acc = 0;
  const double window_s = static_cast<double>(k) * interval.sec();
  for (size_t i = 0; i < bins.size(); i++) {
    acc += bins[i];
    if (i >= k) acc -= bins[i - k];
    if (i + 1 >= k)
      pts.push_back({static_cast<int64_t>(i + 1) * iv, static_cast<double>(acc) * 8 / window_s});
  }
  std::vector<double> pre;
  for (const Point& p : pts)
    if (p.end >= t_first + kDipWindow.ns() && p.end < t_fail) pre.push_back(p.bps);
  if (pre.size() < 10) return d;
  std::sort(pre.begin(), pre.end());
  const size_t n = pre.size();
  d.baseline_bps = n % 2 ? pre[n / 2] : (pre[n / 2 - 1] + pre[n / 2]) / 2;
  const double threshold = d.baseline_bps * kDipFraction;
  const int64_t t_end = std::min(t_last, t_fail + kDipLookAfter.ns());
  int64_t run = 0, best = 0;
  bool any = false;
  for (const Point& p : pts) {
    if (p.end < t_fail || p.end >= t_end) continue;
    d.min_after_bps = any ? std::min(d.min_after_bps, p.bps) : p.bps;
    any = true;
    run = p.bps < threshold ? run + iv : 0;
    best = std::max(best, run);
  }
  d.measured = true;
  d.longest = Duration::nanos(best);
  return d;
}

}  // namespace srdx::sim
