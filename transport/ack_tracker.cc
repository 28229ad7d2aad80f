#include "ack_tracker.h"

#include <algorithm>
#include <functional>

namespace srdx {

void AckTracker::clear_range(uint64_t from, uint64_t to) {
  if (to - from >= kWindow) {
    bits_->fill(0);
    return;
  }
  for (uint64_t p = from + 1; p <= to;) {
    if ((p & 63) == 0 && to - p >= 63) {
      (*bits_)[(p & (kWindow - 1)) >> 6] = 0;
      p += 64;
    } else {
      (*bits_)[(p & (kWindow - 1)) >> 6] &= ~(uint64_t{1} << (p & 63));
      ++p;
    }
  }
}

bool AckTracker::on_packet(uint64_t pn, Time now, Duration wait) {
  // When full (many packets between two ACKs), later arrivals are left to
  // the newest-first ranges every ACK carries.
  if (fresh_count_ < kFresh) fresh_[fresh_count_++] = pn;
  if (!has_largest_) {
    has_largest_ = true;
    largest_ = pn;
    largest_time_ = now;
    largest_wait_ = wait;
    if (!bits_) bits_ = std::make_unique<Bits>();
    bits_->fill(0);
    set(pn);
    return true;
  }
  if (pn > largest_) {
    clear_range(largest_, pn);
    largest_ = pn;
    largest_time_ = now;
    largest_wait_ = wait;
    set(pn);
    return true;
  }
  if (largest_ - pn >= kWindow) return true;  // too old to tell; data-level dedup decides
  if (test(pn)) return false;
  set(pn);
  return true;
}

bool AckTracker::release_memory() {
  if (fresh_count_ != 0) return false;
  const uint64_t floor = has_largest_ && largest_ + 1 > floor_ ? largest_ + 1 : floor_;
  *this = AckTracker();
  floor_ = floor;
  return true;
}

bool AckTracker::contains(uint64_t pn) const {
  if (!has_largest_ || pn > largest_ || largest_ - pn >= kWindow) return false;
  return test(pn);
}

uint64_t AckTracker::find_prev(uint64_t pn, uint64_t lo, bool want) const {
  // Scans down from pn one 64-bit word at a time.
  while (true) {
    uint64_t w = (*bits_)[(pn & (kWindow - 1)) >> 6];
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

uint64_t AckTracker::find_next_clear(uint64_t pn, uint64_t hi) const {
  while (pn <= hi) {
    uint64_t w = ~(*bits_)[(pn & (kWindow - 1)) >> 6];
    unsigned b = static_cast<unsigned>(pn & 63);
    w >>= b;
    if (w) {
      uint64_t hit = pn + static_cast<unsigned>(__builtin_ctzll(w));
      return hit <= hi ? hit : hi + 1;
    }
    pn += 64 - b;
  }
  return hi + 1;
}

bool AckTracker::fill(wire::Ack& ack) {
  constexpr size_t kMax = tuning::kMaxAckRanges;
  ack.largest_pn = has_largest_ ? largest_ : 0;
  ack.range_count = 0;
  if (!has_largest_) return true;
  uint64_t lo = largest_ >= kWindow ? largest_ - kWindow + 1 : 0;
  if (floor_ > lo) lo = floor_;
  if (lo > largest_) lo = largest_;  // always report at least the largest
  // The maximal range of received packet numbers holding pn (received).
  auto range_of = [&](uint64_t pn) {
    uint64_t gap = find_prev(pn, lo, false);
    uint64_t rlo = (gap == lo - 1 || gap < lo) ? lo : gap + 1;
    return wire::AckRange{rlo, find_next_clear(pn, largest_) - 1};
  };

  // 1. The newest ranges, from the largest packet number down. Repeating
  //    them makes a lost ACK harmless.
  wire::AckRange top[kMax];
  size_t nt = 0;
  for (uint64_t p = largest_; nt < kMax;) {
    top[nt] = range_of(p);
    const uint64_t below = top[nt].lo;
    ++nt;
    if (below <= lo) break;
    const uint64_t next = find_prev(below - 1, lo, true);
    if (next == lo - 1 || next < lo || next >= below) break;
    p = next;
  }
  // 2. Fresh arrivals older than those: each needs its range reported once.
  std::sort(fresh_.begin(), fresh_.begin() + static_cast<long>(fresh_count_),
            std::greater<uint64_t>());
  wire::AckRange old[kMax];
  size_t no = 0;
  const uint64_t covered = top[nt - 1].lo;
  for (size_t i = 0; i < fresh_count_ && no < kMax - 1; ++i) {
    const uint64_t pn = fresh_[i];
    if (pn < lo || pn >= covered) continue;
    if (no && pn >= old[no - 1].lo) continue;
    old[no++] = range_of(pn);
  }
  // 3. Keep as many newest ranges as leave room for the fresh older ones.
  const size_t keep_top = std::min(nt, kMax - no);
  for (size_t i = 0; i < keep_top; ++i) ack.ranges[ack.range_count++] = top[i];
  for (size_t i = 0; i < no; ++i) ack.ranges[ack.range_count++] = old[i];
  // Fresh arrivals still unreported wait for the next ACK.
  size_t kept = 0;
  for (size_t i = 0; i < fresh_count_; ++i) {
    const uint64_t pn = fresh_[i];
    if (pn < lo) continue;
    bool reported = false;
    for (size_t r = 0; r < ack.range_count && !reported; ++r)
      reported = ack.ranges[r].lo <= pn && pn <= ack.ranges[r].hi;
    if (!reported) fresh_[kept++] = pn;
  }
  fresh_count_ = kept;
  return kept == 0;
}

}  // namespace srdx
