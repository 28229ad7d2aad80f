// The dataplane's clocks. The transport never reads one: the poll loop reads
// the monotonic clock once per iteration and passes that `now` down.
#pragma once

#include <time.h>

#include <cstdint>

#include "srdx/time.h"

namespace srdx::dp {

// CLOCK_MONOTONIC in nanoseconds as a transport Time. Origin: boot; only
// differences mean anything.
inline Time monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Time::from_ns(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec);
}

// Wall-clock seconds since 1970, for "started at" in reports.
inline double wall_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}


}  // namespace srdx::dp
