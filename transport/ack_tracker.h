// Receiver side of acknowledgement: which packet numbers arrived, and the
// selective ACK ranges that describe them. A bitmap ring over the most recent
// kWindow packet numbers; the sender's pn_floor (carried in every data packet)
// bounds what is reported, so an ACK describes only what the sender still
// waits for.
//
// Sprayed packets arrive with many holes (each path has its own delay), more
// than one ACK has room to describe. So an ACK carries the range holding the
// largest packet number, then the ranges holding every packet that arrived
// since the last ACK; ranges in between may be left out. Leaving a range out
// is harmless: the sender reads ACK gaps as "not acknowledged yet", never as
// lost (loss comes from per-path order and timers).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "srdx/time.h"
#include "wire.h"

namespace srdx {

class AckTracker {
 public:
  static constexpr uint64_t kWindow = tuning::kAckWindow;

  // Records `pn`, handled at `now` after waiting `wait` in this host since it
  // arrived (RxPath::arrival). Returns false if it was seen before (a
  // duplicate packet).
  bool on_packet(uint64_t pn, Time now, Duration wait = Duration::zero());
  void raise_floor(uint64_t floor) {
    if (floor > floor_) floor_ = floor;
  }
  bool any() const { return has_largest_; }
  uint64_t largest() const { return largest_; }
  Time largest_time() const { return largest_time_; }
  Duration largest_wait() const { return largest_wait_; }
  bool contains(uint64_t pn) const;

  // Fills ack.largest_pn, ranges and range_count (descending, at most
  // tuning::kMaxAckRanges, none below the floor), and forgets the packets it
  // reported. Returns false if some new arrivals did not fit (ACK again soon).
  bool fill(wire::Ack& ack);
  size_t unreported() const { return fresh_count_; }
  // Forgets everything and gives the bitmap back (allocated again by the
  // first packet after).
  void reset() { *this = AckTracker(); }
  // Gives the bitmap back while the connection lasts (the peer went quiet),
  // once every arrival was reported; false if some was not. What arrived
  // before is below the floor from then on: not reported again, and a late
  // copy of it is left to data-level dedup, as a packet too old for the
  // window is.
  bool release_memory();
  size_t allocated_bytes() const { return bits_ ? sizeof(Bits) : 0; }

 private:
  bool test(uint64_t pn) const { return ((*bits_)[(pn & (kWindow - 1)) >> 6] >> (pn & 63)) & 1; }
  void set(uint64_t pn) { (*bits_)[(pn & (kWindow - 1)) >> 6] |= uint64_t{1} << (pn & 63); }
  void clear_range(uint64_t from, uint64_t to);  // (from, to]
  // Highest p in [lo, pn] whose bit equals `want`, or lo - 1 if none.
  uint64_t find_prev(uint64_t pn, uint64_t lo, bool want) const;
  // Lowest p in [pn, hi] whose bit is clear, or hi + 1 if none.
  uint64_t find_next_clear(uint64_t pn, uint64_t hi) const;
  static constexpr size_t kFresh = tuning::kAckFreshArrivals;

  using Bits = std::array<uint64_t, kWindow / 64>;
  std::unique_ptr<Bits> bits_;  // allocated by the first packet
  uint64_t largest_ = 0, floor_ = 0;
  Time largest_time_;
  Duration largest_wait_;
  bool has_largest_ = false;
  // Packet numbers that arrived since the last ACK (the first kFresh).
  std::array<uint64_t, kFresh> fresh_{};
  size_t fresh_count_ = 0;
};

}  // namespace srdx
