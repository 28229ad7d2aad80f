#include "sim/stats.h"

#include <algorithm>
#include <cmath>

namespace srdx::sim {

namespace {
double rank(const std::vector<Duration>& sorted, double q) {
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  const auto n = static_cast<double>(sorted.size());
  auto i = static_cast<size_t>(std::ceil(q * n));
  i = std::clamp<size_t>(i, 1, sorted.size()) - 1;
  return sorted[i].us();
}
}  // namespace

Percentiles percentiles(std::vector<Duration>& samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  p.count = samples.size();
  double sum = 0;
  for (Duration d : samples) sum += d.us();
  p.mean_us = sum / static_cast<double>(samples.size());
  p.p50_us = rank(samples, 0.50);
  p.p90_us = rank(samples, 0.90);
  p.p99_us = rank(samples, 0.99);
  p.p999_us = rank(samples, 0.999);
  p.max_us = samples.back().us();
  return p;
}

}  // namespace srdx::sim
