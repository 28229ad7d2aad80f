// Latency percentiles as sockperf and netperf report them.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/link.h"  // srdx/time.h with its <compare> include

namespace srdx::sim {

struct Percentiles {
  uint64_t count = 0;
  double mean_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Nearest-rank percentiles of `samples` (sorted in place).
Percentiles percentiles(std::vector<Duration>& samples);

}  // namespace srdx::sim
