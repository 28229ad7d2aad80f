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

// An EndpointConfig::epoch for an endpoint starting now: wall-clock
// nanoseconds, so that it grows across restarts (a restarted peer is told
// apart from a late packet). Never zero (zero is reserved).
inline uint64_t startup_epoch() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
  return ns == 0 ? 1 : ns;
}

}  // namespace srdx::dp
