// Liveness of the poll loop, for the API, the metrics and systemd's watchdog.
//
// The poll loop beats a Heartbeat once per iteration (its tick: one relaxed
// atomic store, no system call). Any thread reads its age: a loop that hangs
// (a handler that blocks, a stuck driver) keeps the last counters in the
// snapshot, but its heartbeat age grows, and /v1/status and /metrics show it.
//
// WatchdogGate decides when srdxd sends systemd WATCHDOG=1: every half of
// WATCHDOG_USEC, and only while the loop's heartbeat is younger than that
// half. A hung loop therefore stops the keep-alives, and systemd restarts
// srdxd once WatchdogSec= passes without one. The message itself is sent by
// the main thread (the one that also handles the signals), so that the loop
// never makes a system call for it and both threads must be alive.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "srdx/time.h"

namespace srdx::ctl {

class Heartbeat {
 public:
  void beat(Time now) { ns_.store(now.ns(), std::memory_order_relaxed); }
  Time last() const { return Time::from_ns(ns_.load(std::memory_order_relaxed)); }
  // Since the last beat; zero if `now` (read on another thread) is older.
  Duration age(Time now) const {
    const int64_t d = now.ns() - ns_.load(std::memory_order_relaxed);
    return Duration::nanos(d > 0 ? d : 0);
  }

 private:
  std::atomic<int64_t> ns_{0};
};

class WatchdogGate {
 public:
  // timeout: WATCHDOG_USEC (systemd's WatchdogSec=); zero: no watchdog.
  explicit WatchdogGate(Duration timeout) : interval_(Duration::nanos(timeout.ns() / 2)) {}
  bool enabled() const { return interval_ > Duration::zero(); }
  // How often WATCHDOG=1 goes out while the loop is alive.
  Duration interval() const { return interval_; }
  // True when WATCHDOG=1 is to be sent at `now`: one interval has passed
  // since the last one, and the loop beat within the last interval.
  bool due(Time now, Duration heartbeat_age) {
    if (!enabled() || now < next_ || heartbeat_age >= interval_) return false;
    next_ = now + interval_;
    return true;
  }

 private:
  Duration interval_;
  Time next_ = Time::zero();
};

// A poll loop whose heartbeat is this old is logged as stalled (the loop
// sleeps at most poller.max-sleep, 1 s at the very most, between beats).
inline constexpr Duration kLoopStalledAfter = Duration::seconds(2);

// The unit's stop timeout, as srdxd.service passes it
// (Environment=SRDXD_TIMEOUT_STOP_SEC=, beside TimeoutStopSec=): systemd
// does not tell a service its own stop timeout. Whole seconds; nullopt when
// unset, empty, not a number, or 0 / infinity (no bound).
inline constexpr const char* kStopTimeoutEnv = "SRDXD_TIMEOUT_STOP_SEC";
inline std::optional<Duration> stop_timeout_from(const char* env) {
  if (env == nullptr || *env == '\0') return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(env, &end, 10);
  if (*end != '\0' || v <= 0 || v > 86400 * 365) return std::nullopt;
  return Duration::seconds(v);
}

// The longest drain a stop timeout leaves room for: the drain, then one
// second to stop the threads and save the jobs, before systemd's SIGKILL.
inline Duration drain_limit(Duration stop_timeout) {
  const Duration margin = Duration::seconds(1);
  return stop_timeout > margin * 2 ? stop_timeout - margin : Duration::nanos(stop_timeout.ns() / 2);
}

}  // namespace srdx::ctl
