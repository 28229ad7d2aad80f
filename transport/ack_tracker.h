// Receiver side of acknowledgement: which packet numbers arrived, and the
// selective ACK ranges that describe them. A bitmap ring over the most recent
// kWindow packet numbers; the sender's pn_floor (carried in every data packet)
// bounds what is reported, so an ACK describes only what the sender still
// waits for.
#pragma once

#include <array>
#include <cstdint>

#include "srdx/time.h"
#include "wire.h"

namespace srdx {

class AckTracker {
 public:
  static constexpr uint64_t kWindow = 1u << 16;

  // Records `pn`. Returns false if it was seen before (a duplicate packet).
  bool on_packet(uint64_t pn, Time now);
  void raise_floor(uint64_t floor) {
    if (floor > floor_) floor_ = floor;
  }
  bool any() const { return has_largest_; }
  uint64_t largest() const { return largest_; }
  Time largest_time() const { return largest_time_; }
  bool contains(uint64_t pn) const;

  // Fills ack.largest_pn, ranges and range_count (most recent first, at most
  // tuning::kMaxAckRanges ranges, none below the floor).
  void fill(wire::Ack& ack) const;
  void reset() { *this = AckTracker(); }

 private:
  bool test(uint64_t pn) const { return (bits_[(pn & (kWindow - 1)) >> 6] >> (pn & 63)) & 1; }
  void set(uint64_t pn) { bits_[(pn & (kWindow - 1)) >> 6] |= uint64_t{1} << (pn & 63); }
  void clear_range(uint64_t from, uint64_t to);  // (from, to]
  // Highest p in [lo, pn] whose bit equals `want`, or lo - 1 if none.
  uint64_t find_prev(uint64_t pn, uint64_t lo, bool want) const;

  std::array<uint64_t, kWindow / 64> bits_{};
  uint64_t largest_ = 0, floor_ = 0;
  Time largest_time_;
  bool has_largest_ = false;
};

}  // namespace srdx
