#include "sim/link.h"

#include "sim/rng.h"

namespace srdx::sim {

Duration Link::serialisation(uint32_t wire_bytes) const {
  if (params.rate_bps == 0) return Duration::zero();
  const u128 bits = static_cast<u128>(wire_bytes) * 8u * 1000000000u;
  const auto ns = static_cast<int64_t>((bits + params.rate_bps - 1) / params.rate_bps);
  return Duration::nanos(ns);
}

uint64_t Link::backlog_bytes(Time now) const {
  if (params.rate_bps == 0 || busy_until_ <= now) return 0;
  const auto ns = static_cast<u128>((busy_until_ - now).ns());
  // Round up: a packet partly serialised still occupies the queue.
  return static_cast<uint64_t>((ns * params.rate_bps + 8000000000ull - 1) / 8000000000ull);
}

Admission Link::admit(uint32_t wire_bytes, uint32_t payload_bytes, Time now, Rng& rng) {
  Admission a;
  counters.enqueued_packets++;
  counters.enqueued_bytes += payload_bytes;
  if (params.blackhole) {
    counters.dropped_blackhole++;
    a.verdict = Verdict::drop_blackhole;
    return a;
  }
  if (rng.chance(params.loss)) {
    counters.dropped_loss++;
    a.verdict = Verdict::drop_loss;
    return a;
  }
  if (params.queue_bytes != 0 && backlog_bytes(now) + wire_bytes > params.queue_bytes) {
    counters.dropped_queue++;
    a.verdict = Verdict::drop_queue;
    return a;
  }
  const Time start = max(now, busy_until_);
  busy_until_ = start + serialisation(wire_bytes);
  Time at = busy_until_ + params.delay;
  if (params.jitter > Duration::zero()) {
    at += Duration::nanos(
        static_cast<int64_t>(rng.below(static_cast<uint64_t>(params.jitter.ns()) + 1)));
  }
  if (rng.chance(params.reorder)) {
    // Held back past the FIFO floor, and not raising it: later packets overtake.
    const auto extra = static_cast<uint64_t>(max(params.reorder_delay, Duration::nanos(1)).ns());
    a.deliver_at =
        max(at, last_delivery_) + Duration::nanos(static_cast<int64_t>(1 + rng.below(extra)));
    a.reordered = true;
    counters.reordered++;
  } else {
    if (!params.jitter_reorders) at = max(at, last_delivery_);
    last_delivery_ = max(last_delivery_, at);
    a.deliver_at = at;
  }
  a.duplicate = rng.chance(params.duplicate);
  if (a.duplicate) counters.duplicated++;
  a.corrupt = payload_bytes > 0 && rng.chance(params.corrupt);
  if (a.corrupt) counters.corrupted++;
  return a;
}

}  // namespace srdx::sim
