#include "path_selector.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace srdx {

using tuning::kExploreEveryRtts;
using tuning::kPathLossEwmaGain;
using tuning::kPathLossReplaceThreshold;
using tuning::kPathSamplesBeforeJudging;
using tuning::kSlowReplaceEveryRtts;

PathSelector::PathSelector(uint32_t slots, Rng& rng, const EndpointConfig& cfg)
    : rng_(rng),
      cfg_(cfg),
      slots_(slots),
      n_(slots),
      cost_(slots, -1.0),
      min_rto_(cfg.rto_initial) {
  for (auto& s : slots_) s.entropy = fresh_entropy();
}

uint16_t PathSelector::fresh_entropy() {
  // Entropies are 16-bit and nonzero; avoid values another slot holds.
  while (true) {
    uint16_t e = static_cast<uint16_t>(1 + rng_.below(0xfffe));
    bool used = false;
    for (const auto& s : slots_) used |= (s.entropy == e);
    if (!used) return e;
  }
}

void PathSelector::reweigh(PathSlot& s) {
  const double loss = 1.0 + 4.0 * s.loss_ewma;
  s.weight = s.has_rtt ? (static_cast<double>(s.srtt.ns()) + 1.0) * loss : -loss;
  recost(s);
}

uint16_t PathSelector::choose(uint16_t avoid, Time now) {
  const uint32_t n = size();
  if (n == 1) return 0;
  // The cheapest usable slot among kPathChoices consecutive ones from a
  // random start (slot indices map to paths at random, so a run of slots is
  // as good a sample as any). Entropies land unevenly on paths and several
  // slots share each path without knowing it: a choice between two slots
  // often has no slot of the idle path to pick, so a path stays idle while
  // another's queue grows. A wider look finds the idle one.
  const uint32_t look = n < tuning::kPathChoices ? n : tuning::kPathChoices;
  const double fallback = static_cast<double>(srtt().ns()) + 1.0;
  uint32_t at = static_cast<uint32_t>(rng_.below(n));
  // Without branches on the comparisons, which no predictor guesses: costs
  // are positive and finite, so their bit patterns order as the values do,
  // and a skipped slot gets the largest key, which no real cost reaches. The
  // first of equal costs wins, as in a scan with `<`.
  uint32_t best = kNone;
  uint64_t best_key = UINT64_MAX;
  const bool all_usable = now >= penalty_horizon_;
  for (uint32_t k = 0; k < look; ++k, at = at + 1 == n ? 0 : at + 1) {
    uint64_t key = std::bit_cast<uint64_t>(cost(at, fallback));
    const PathSlot& s = slots_[at];
    const bool on_probation = unproven(s) && s.inflight > 0;
    key = (at == avoid || on_probation || (!all_usable && !usable(s, now))) ? UINT64_MAX : key;
    const uint32_t take = 0u - static_cast<uint32_t>(key < best_key);  // all ones or zero
    best = (at & take) | (best & ~take);
    best_key = key < best_key ? key : best_key;
  }
  if (best != kNone) return static_cast<uint16_t>(best);
  // Everything looked at was penalised: take the cheapest slot that is not
  // `avoid`.
  double bc = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i == avoid) continue;
    const PathSlot& s = slots_[i];
    const bool held = !usable(s, now) || (unproven(s) && s.inflight > 0);
    double c = cost(i, fallback) * (held ? 16.0 : 1.0);
    if (best == kNone || c < bc) {
      best = i;
      bc = c;
    }
  }
  return static_cast<uint16_t>(best);
}

uint64_t PathSelector::on_sent(uint16_t slot) {
  PathSlot& s = slots_[slot];
  add_inflight(s);
  ++s.sent;
  return s.next_seq++;
}

void PathSelector::on_acked(uint16_t slot, uint64_t seq, Duration rtt) {
  PathSlot& s = slots_[slot];
  if (s.inflight) --s.inflight;  // reweigh() below brings the cost up to date
  ++s.acked;
  s.consecutive_timeouts = 0;
  backoff_ = 0;
  stall_since_ = Time::infinite();
  s.loss_ewma *= (1 - kPathLossEwmaGain);
  if (seq + 1 > s.largest_acked_seq) s.largest_acked_seq = seq + 1;
  sample(s, rtt);
  reweigh(s);
}

void PathSelector::on_late_ack(uint16_t slot, uint32_t gen, uint64_t seq, Duration rtt) {
  PathSlot& s = slots_[slot];
  ++s.spurious;
  backoff_ = 0;
  stall_since_ = Time::infinite();
  if (gen != s.generation) return;  // the entropy moved on; its stats are not this path's
  // The path was slow, not lossy: take back the penalties, learn its RTT.
  s.consecutive_timeouts = 0;
  s.penalty_until = Time::zero();
  s.loss_ewma = s.loss_ewma > kPathLossEwmaGain ? s.loss_ewma - kPathLossEwmaGain : 0.0;
  if (seq + 1 > s.largest_acked_seq) s.largest_acked_seq = seq + 1;
  sample(s, rtt);
  reweigh(s);
}

void PathSelector::sample(PathSlot& s, Duration rtt) {
  if (rtt < Duration::zero()) return;
  if (rtt == Duration::zero()) rtt = Duration::nanos(1);
  s.last_rtt = rtt;
  ++s.samples;
  if (!s.has_rtt) {
    s.has_rtt = true;
    s.srtt = rtt;
    s.rttvar = rtt / 2;
    s.min_rtt = rtt;
  } else {
    Duration err = s.srtt > rtt ? s.srtt - rtt : rtt - s.srtt;
    s.rttvar = (s.rttvar * 3 + err) / 4;
    s.srtt = (s.srtt * 7 + rtt) / 8;
    s.min_rtt = min(s.min_rtt, rtt);
  }
  if (!has_rtt_) {
    has_rtt_ = true;
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    min_rtt_ = rtt;
  } else {
    Duration err = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
    rttvar_ = (rttvar_ * 3 + err) / 4;
    srtt_ = (srtt_ * 7 + rtt) / 8;
    min_rtt_ = min(min_rtt_, rtt);
  }
}

void PathSelector::on_lost(uint16_t slot, Time now) {
  PathSlot& s = slots_[slot];
  if (s.inflight) --s.inflight;  // reweigh() below brings the cost up to date
  ++s.lost;
  s.loss_ewma = s.loss_ewma * (1 - kPathLossEwmaGain) + kPathLossEwmaGain;
  reweigh(s);
  if (s.loss_ewma > kPathLossReplaceThreshold && s.sent >= 16) replace(slot, now);
}

void PathSelector::on_timeout(uint16_t slot, uint32_t gen, Time now, bool blame_path) {
  PathSlot& s = slots_[slot];
  drop_inflight(s);
  ++s.lost;
  if (gen != s.generation) return;
  ++s.timeouts;
  s.loss_ewma = s.loss_ewma * (1 - kPathLossEwmaGain) + kPathLossEwmaGain;
  reweigh(s);
  if (!blame_path) return;
  ++s.consecutive_timeouts;
  // Keep new packets off this slot for a while; a second timeout in a row
  // means the path is likely dead: move the slot to a fresh entropy.
  penalise(s, now + rto(slot));
  // An entropy that never delivered in this generation while others did is
  // judged on one timeout: most fresh draws land on dead paths when most
  // paths are dead.
  if (s.consecutive_timeouts >= (unproven(s) ? 1 : tuning::kPathTimeoutsBeforeReplace))
    replace(slot, now);
}

void PathSelector::on_abandoned(uint16_t slot) {
  PathSlot& s = slots_[slot];
  drop_inflight(s);
}

void PathSelector::replace(uint16_t slot, Time now) {
  PathSlot& s = slots_[slot];
  PathSlot fresh;
  fresh.entropy = fresh_entropy();
  fresh.generation = s.generation + 1;
  // Sequences continue, so packets still out on the old entropy are judged
  // against what the new one delivers.
  fresh.next_seq = s.next_seq;
  fresh.largest_acked_seq = s.largest_acked_seq;
  fresh.inflight = s.inflight;
  fresh.sent = s.sent;
  fresh.acked = s.acked;
  fresh.lost = s.lost;
  fresh.timeouts = s.timeouts;
  s = fresh;
  penalise(s, now);
  recost(s);  // no RTT yet
  ++replacements_;
}

Duration PathSelector::rto(uint16_t slot, Time sent) const {
  const PathSlot& s = slots_[slot];
  Duration base;
  // Like RFC 6298, plus the longest the receiver may hold an ACK back.
  if (s.has_rtt) {
    base = s.srtt + max(s.rttvar * 4, s.srtt / 2) + cfg_.ack_delay;
  } else if (has_rtt_) {
    base = srtt_ * 2 + cfg_.ack_delay;
  } else {
    base = cfg_.rto_initial;
  }
  if (has_rtt_) base = max(base, srtt_ + rttvar_ * 4 + cfg_.ack_delay);
  base = max(base, cfg_.rto_min);
  const uint32_t doublings =
      s.consecutive_timeouts + (backoff_ > tuning::kRtoBackoffGrace && sent >= stall_since_
                                    ? backoff_ - tuning::kRtoBackoffGrace
                                    : 0);
  for (uint32_t i = 0; i < doublings && base < cfg_.rto_max; ++i) base = base * 2;
  return min(base, cfg_.rto_max);
}

void PathSelector::refresh(Time now) {
  Duration m = cfg_.rto_max;
  Duration best = Duration::infinite();
  uint16_t worst = kNone;
  for (uint16_t i = 0; i < size(); ++i) {
    const PathSlot& s = slots_[i];
    m = min(m, rto(i, Time::zero()));
    if (s.has_rtt && s.samples >= kPathSamplesBeforeJudging) {
      best = min(best, s.srtt);
      if (worst == kNone || s.srtt > slots_[worst].srtt) worst = i;
    }
  }
  min_rto_ = m;
  // A slot whose smoothed RTT stays well above the best slot's sits on a
  // queued or slower path: give it a fresh entropy, which lands it on a
  // random path. Repeated, this moves entropies off congested paths and onto
  // idle ones. One replacement per RTT at most, so the signal can settle.
  if (worst == kNone || size() < 2 || now < next_slow_replace_) return;
  const Duration excess = slots_[worst].srtt - best;
  if (excess > max(cfg_.cc_target_delay, best / 2)) {
    ++slow_replacements_;
    replace(worst, now);
    next_slow_replace_ = now + best * kSlowReplaceEveryRtts;
    return;
  }
  // Exploration: when every slot sees queueing, a path that no entropy maps
  // to may be idle. Now and then move the slowest slot to a fresh entropy; if
  // it lands on a quieter path it wins traffic, if not nothing is lost.
  if (slots_[worst].srtt - min_rtt_ > cfg_.cc_target_delay / 2 && now >= next_explore_) {
    ++slow_replacements_;
    replace(worst, now);
    next_explore_ = now + best * kExploreEveryRtts;
    next_slow_replace_ = now + best * kSlowReplaceEveryRtts;
  }
}

}  // namespace srdx
