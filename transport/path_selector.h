// Spraying: one connection's packets spread over many path entropies (the UDP
// source port the dataplane sends from; ECMP switches hash it, so each entropy
// pins a path through the fabric). Every slot keeps its own RTT and loss
// statistics. New packets go to the better of two randomly drawn slots
// (fewest packets in flight weighted by smoothed RTT), so slow or queued
// paths get less traffic; a slot that keeps timing out or losing is given a
// fresh entropy, which moves it to another path.
#pragma once

#include <cstdint>
#include <vector>

#include "rng.h"
#include "srdx/endpoint.h"
#include "srdx/time.h"

namespace srdx {

struct PathSlot {
  uint16_t entropy = 0;
  PathState state = PathState::active;
  bool has_rtt = false;
  Duration srtt, rttvar, min_rtt, last_rtt;
  uint64_t next_seq = 0;           // per-slot send sequence
  uint64_t largest_acked_seq = 0;  // highest sequence acked (+1; 0 = none)
  uint32_t inflight = 0;
  uint32_t consecutive_timeouts = 0;
  double loss_ewma = 0;  // fraction of recent packets lost
  Time penalty_until;    // avoided until then (after a timeout)
  uint64_t sent = 0, acked = 0, lost = 0, timeouts = 0;
  uint32_t generation = 0;
  uint32_t samples = 0;  // RTT samples since this entropy was drawn
  // Once any slot of the connection has an RTT, a slot without one of its
  // own (a fresh entropy, maybe on a dead path) carries one packet at a time
  // until that packet is acknowledged: a probe, not a share of the traffic.
  uint64_t spurious = 0;  // losses later found to be only late
  // choose()'s factor for this slot, kept current whenever the RTT or the
  // loss rate changes so that looking at a slot costs one multiplication:
  // (srtt + 1 ns) x (1 + 4 x loss_ewma) once the slot has an RTT, and
  // -(1 + 4 x loss_ewma) before (the connection's srtt stands in).
  double weight = -1;
};

class PathSelector {
 public:
  static constexpr uint16_t kNone = 0xffff;

  PathSelector(uint32_t slots, Rng& rng, const EndpointConfig& cfg);

  // The slot for the next packet; `avoid` (a slot, or kNone) is skipped when
  // another usable slot exists (retransmissions go elsewhere).
  uint16_t choose(uint16_t avoid, Time now);
  // Records a send on `slot`; returns the packet's per-slot sequence.
  uint64_t on_sent(uint16_t slot);
  // A packet sent on `slot` with sequence `seq` was acknowledged; `rtt` is the
  // sample, or a negative duration when none applies.
  void on_acked(uint16_t slot, uint64_t seq, Duration rtt);
  // Was the packet (slot, seq) overtaken by `threshold` later packets on its slot?
  bool overtaken(uint16_t slot, uint64_t seq, uint32_t threshold) const {
    return slots_[slot].largest_acked_seq >= seq + 1 + threshold;
  }
  // An ACK named a packet after it was declared lost: the loss was spurious.
  void on_late_ack(uint16_t slot, uint32_t gen, uint64_t seq, Duration rtt);
  void on_lost(uint16_t slot, Time now);  // detected by reordering
  // Retransmission timer fired for a packet sent on generation `gen` of the
  // slot. Only timeouts of the current entropy, and only when the path is to
  // blame (not a stall that hit most paths at once), count towards replacing it.
  void on_timeout(uint16_t slot, uint32_t gen, Time now, bool blame_path = true);
  void on_abandoned(uint16_t slot);  // in flight, now forgotten (reset)
  // Retransmission timers fired and nothing sent later was acknowledged (a
  // stall, not a path's loss): after kRtoBackoffGrace such rounds in a row
  // every RTO doubles (Karn), so a path whose real RTT exceeds the estimate
  // gets a sample instead of timing out forever, and a network that delivers
  // nothing is not hammered. The grace keeps heavy random loss, where the
  // repair of a lost repair is lost again, from waiting ever longer.
  // Only packets sent since the stall began wait the longer timeouts: those
  // already in flight keep theirs, or each round would expire one of them
  // and push every other's timeout further out while they hold the window.
  uint32_t stall_rounds() const { return backoff_; }
  // A round counts once per stall begun, and then each time a packet sent
  // since its start times out (`latest_sent`: the latest send time among
  // the packets that just did): those are the repairs, and they failed.
  void on_rto_round(Time now, Time latest_sent) {
    if (backoff_ == 0) {
      stall_since_ = now;
    } else if (latest_sent < stall_since_) {
      return;
    }
    if (backoff_ < tuning::kMaxRtoBackoff + tuning::kRtoBackoffGrace) ++backoff_;
  }

  // The slot's retransmission timeout: RFC 6298 over the slot's samples, and
  // never below the same over the whole connection's samples. Packets are
  // sprayed, so a queue that builds on one path delays the next packets of
  // every slot that maps to it; a slot's own estimate, fed by a few of them,
  // lags that, while the connection's variance holds the spread between paths.
  Duration rto(uint16_t slot) const { return rto(slot, Time::infinite()); }
  // The timeout of a packet sent on `slot` at `sent`.
  Duration rto(uint16_t slot, Time sent) const;
  // No packet times out sooner after its send (the stall backoff left out).
  Duration min_rto() const { return min_rto_; }
  Duration srtt() const { return has_rtt_ ? srtt_ : cfg_.rto_initial; }
  bool has_rtt() const { return has_rtt_; }
  Duration min_rtt() const { return min_rtt_; }
  const PathSlot& slot(uint16_t i) const { return slots_[i]; }
  uint32_t size() const { return n_; }
  size_t allocated_bytes() const {
    return slots_.capacity() * sizeof(PathSlot) + cost_.capacity() * sizeof(double);
  }
  uint64_t replacements() const { return replacements_; }
  // After an ACK or timeout: recomputes min_rto() and re-draws a slot that is
  // persistently slower than the best one.
  void refresh(Time now);
  uint64_t slow_replacements() const { return slow_replacements_; }

 private:
  void replace(uint16_t slot, Time now);
  void sample(PathSlot& s, Duration rtt);
  uint16_t fresh_entropy();
  bool usable(const PathSlot& s, Time now) const { return now >= s.penalty_until; }
  // An entropy that has not delivered yet while others of the connection
  // have: it is on probation (one packet at a time) and judged on one timeout.
  bool unproven(const PathSlot& s) const { return has_rtt_ && !s.has_rtt; }
  void reweigh(PathSlot& s);
  // Keep cost_ current: every change of inflight or weight goes through these
  // (or is followed by reweigh(), which calls recost()).
  void recost(const PathSlot& s) {
    cost_[static_cast<size_t>(&s - slots_.data())] =
        s.weight >= 0 ? (s.inflight + 1.0) * s.weight : -1;
  }
  void add_inflight(PathSlot& s) {
    ++s.inflight;
    recost(s);
  }
  void drop_inflight(PathSlot& s) {
    if (s.inflight) --s.inflight;
    recost(s);
  }
  void penalise(PathSlot& s, Time until) {
    s.penalty_until = until;
    penalty_horizon_ = max(penalty_horizon_, until);
  }
  // Packets in flight x RTT x loss factor; `fallback` is the connection's
  // srtt in ns + 1, for slots without an RTT of their own.
  double cost(uint32_t i, double fallback) const {
    const double c = cost_[i];
    return c >= 0 ? c : (slots_[i].inflight + 1.0) * (-slots_[i].weight * fallback);
  }

  Rng& rng_;
  const EndpointConfig& cfg_;
  std::vector<PathSlot> slots_;
  uint32_t n_;  // slots_.size(), kept: that divides by sizeof(PathSlot)
  // choose()'s cost of each slot as it stands, (inflight + 1) x weight, next
  // to each other for the scan; -1 while the slot has no RTT (its cost then
  // follows the connection's srtt and is computed when looked at).
  std::vector<double> cost_;
  // No slot is penalised from this time on (the latest penalty_until given).
  Time penalty_horizon_ = Time::zero();
  bool has_rtt_ = false;
  // Over every sample of every slot: the spread between paths' delays shows
  // in rttvar_, which no single slot's estimate sees.
  Duration srtt_, rttvar_, min_rtt_;
  Duration min_rto_;
  uint64_t replacements_ = 0, slow_replacements_ = 0;
  uint32_t backoff_ = 0;
  Time stall_since_ = Time::infinite();
  Time next_slow_replace_ = Time::zero();
  Time next_explore_ = Time::zero();
};

}  // namespace srdx
