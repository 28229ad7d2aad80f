#include "ack_tracker.h"

namespace srdx {

void AckTracker::clear_range(uint64_t from, uint64_t to) {
  if (to - from >= kWindow) {
    bits_.fill(0);
    return;
  }
  for (uint64_t p = from + 1; p <= to;) {
    if ((p & 63) == 0 && to - p >= 63) {
      bits_[(p & (kWindow - 1)) >> 6] = 0;
      p += 64;
    } else {
      bits_[(p & (kWindow - 1)) >> 6] &= ~(uint64_t{1} << (p & 63));
      ++p;
    }
  }
}

bool AckTracker::on_packet(uint64_t pn, Time now) {
  if (!has_largest_) {
    has_largest_ = true;
    largest_ = pn;
    largest_time_ = now;
    bits_.fill(0);
    set(pn);
    return true;
  }
  if (pn > largest_) {
    clear_range(largest_, pn);
    largest_ = pn;
    largest_time_ = now;
    set(pn);
    return true;
  }
  if (largest_ - pn >= kWindow) return true;  // too old to tell; data-level dedup decides
  if (test(pn)) return false;
  set(pn);
  return true;
}

bool AckTracker::contains(uint64_t pn) const {
  if (!has_largest_ || pn > largest_ || largest_ - pn >= kWindow) return false;
  return test(pn);
}

uint64_t AckTracker::find_prev(uint64_t pn, uint64_t lo, bool want) const {
  // Scans down from pn one 64-bit word at a time.
  while (true) {
    uint64_t w = bits_[(pn & (kWindow - 1)) >> 6];
    if (!want) w = ~w;
    unsigned b = static_cast<unsigned>(pn & 63);
    if (b != 63) w &= (uint64_t{2} << b) - 1;
    if (w) {
      uint64_t hit = pn - (b - (63 - static_cast<unsigned>(__builtin_clzll(w))));
      return hit >= lo ? hit : lo - 1;
    }
    if (pn < lo + b + 1) return lo - 1;
    pn -= b + 1;
  }
}

void AckTracker::fill(wire::Ack& ack) const {
  ack.largest_pn = largest_;
  ack.range_count = 0;
  if (!has_largest_) return;
  uint64_t lo = largest_ >= kWindow ? largest_ - kWindow + 1 : 0;
  if (floor_ > lo) lo = floor_;
  if (lo > largest_) lo = largest_;  // always report at least the largest
  uint64_t p = largest_;
  while (ack.range_count < tuning::kMaxAckRanges) {
    // p is a received packet number: extend the range down to the first gap.
    uint64_t gap = find_prev(p, lo, false);
    uint64_t range_lo = gap + 1;  // wraps to lo when no gap (gap == lo - 1)
    ack.ranges[ack.range_count++] = {range_lo, p};
    if (gap == lo - 1 || gap < lo) break;
    uint64_t next = find_prev(gap, lo, true);
    if (next == lo - 1 || next < lo || next > gap) break;
    p = next;
  }
}

}  // namespace srdx
