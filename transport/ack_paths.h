// Which paths ACKs take back (docs/protocol.md, section 7).
//
// A data packet's entropy picks its forward path; the reverse direction is
// hashed independently by every switch, so an ACK sent back with the same
// entropy lands on a path of its own. When most paths are dead, retracing
// the data's entropy makes a round trip work only when both draws hit a
// living path: with 7 of 8 paths dead, one draw in 64. The sender then
// cannot tell a dead forward path from a dead return path and replaces
// entropies that were fine.
//
// So ACK paths are chosen by their sender, from evidence. With feature
// kAckEcho every data packet echoes the entropy of an ACK its sender
// received (EchoQueue, on the data sender). The ACK sender (AckPaths, on
// the data receiver) keeps a few entropies that were echoed lately, sends its
// ACKs round robin over them, and keeps exploring: every kExploreEvery-th ACK
// (and every ACK while none is proven) retraces the data's entropy, a fresh
// draw that finds paths that came back. An entropy whose ACKs stop being
// echoed while others' are (or while data keeps coming) is dropped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "srdx/time.h"

namespace srdx {

class AckPaths {
 public:
  static constexpr size_t kSlots = 8;
  // One ACK in this many explores (retraces the data's entropy).
  static constexpr uint32_t kExploreEvery = 8;
  // ACKs on one entropy without an echo, past the time an echo takes, before
  // it is dropped.
  static constexpr uint32_t kMisses = 3;

  // The entropy for the next ACK, and the send recorded. `data_entropy` is
  // the entropy of the data being acknowledged (0: none); `fallback` is used
  // when nothing else applies. `explore`: retrace `data_entropy` whatever
  // is proven.
  uint16_t choose(uint16_t data_entropy, uint16_t fallback, Time now, bool explore = false);
  // A data packet echoed `entropy`: ACKs sent with it arrive.
  void on_echo(uint16_t entropy, Time now);
  // A data packet arrived (echo or not): entropies whose ACKs went unechoed
  // for too long are dropped.
  void judge(Time now);
  // Entropies proven now (tests, stats).
  uint32_t proven() const;
  bool is_proven(uint16_t entropy) const;
  uint64_t dropped() const { return dropped_; }

 private:
  struct Slot {
    uint16_t entropy = 0;  // 0: free
    bool proven = false;
    uint16_t unanswered = 0;  // ACKs sent on it since its last echo
    Time first_unanswered;
  };
  Slot* find(uint16_t entropy);
  Slot& take(uint16_t entropy, Time now);  // find, or claim a free or unproven slot
  bool overdue(const Slot& s, Time now) const;

  std::array<Slot, kSlots> slots_{};
  uint32_t rr_ = 0;
  uint32_t since_explore_ = 0;
  Duration echo_rtt_ = Duration::zero();  // smoothed ACK-to-echo time (0: no sample)
  uint64_t dropped_ = 0;
};

// The data sender's side: entropies of ACKs received, each echoed once in the
// next data packets (in arrival order; a burst of ACKs is echoed over the
// data that follows it).
class EchoQueue {
 public:
  static constexpr size_t kSize = 8;
  void on_ack(uint16_t entropy) {
    if (entropy == 0) return;
    for (size_t i = 0; i < n_; ++i)
      if (q_[(head_ + i) % kSize] == entropy) return;
    if (n_ == kSize) {
      head_ = (head_ + 1) % kSize;
      --n_;
    }
    q_[(head_ + n_) % kSize] = entropy;
    ++n_;
  }
  uint16_t next() {
    if (n_ == 0) return 0;
    const uint16_t e = q_[head_];
    head_ = (head_ + 1) % kSize;
    --n_;
    return e;
  }
  void clear() { head_ = n_ = 0; }

 private:
  std::array<uint16_t, kSize> q_{};
  uint8_t head_ = 0, n_ = 0;
};

}  // namespace srdx
