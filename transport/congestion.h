// Per-connection congestion control, delay based in the spirit of Swift: the
// window grows additively while the standing queueing delay (the least that
// packets saw over the last RTT, each packet's RTT minus its path's minimum
// RTT) stays under a target, and shrinks in proportion to the excess, at most
// once per RTT. A retransmission timeout of a stall halves it.
// Sends are paced at gain x window / srtt so a window leaves as a smooth
// stream rather than a burst that fills a switch queue.
#pragma once

#include <cstdint>

#include "srdx/config.h"
#include "srdx/time.h"

namespace srdx {

class Congestion {
 public:
  Congestion(const EndpointConfig& cfg, uint32_t mss);

  bool can_send(uint32_t bytes) const { return inflight_ == 0 || inflight_ + bytes <= cwnd(); }
  // Earliest time the pacer lets the next packet go.
  Time next_send_time() const { return next_send_; }
  void on_sent(uint32_t bytes, Time now, Duration srtt);
  // `queue_delay` is the packet's RTT minus its path's minimum RTT, or negative
  // when the ACK gave no usable sample; `base_rtt` the connection's minimum RTT.
  // Called for every acknowledged packet: inline, so a packet without a sample
  // costs a subtraction and a branch; with one, on_delay() is a compare, a
  // roll-over once per window, and the window update.
  void on_acked(uint32_t bytes, Duration queue_delay, Duration base_rtt, Duration srtt, Time now) {
    inflight_ -= bytes <= inflight_ ? bytes : inflight_;
    if (queue_delay >= Duration::zero()) on_delay(bytes, queue_delay, base_rtt, srtt, now);
  }
  // The queueing delay the window aims at: cc_target_delay, or the base RTT
  // when that is longer. On a slow path one packet's serialisation alone can
  // exceed a fixed microsecond target (1500 B at 200 Mbit/s: 60 us), and a
  // target below it keeps the path idle; the base RTT grows with it (Swift
  // scales its target with the path for the same reason).
  Duration target(Duration base_rtt) const { return max(cfg_.cc_target_delay, base_rtt); }
  void on_lost(uint32_t bytes) { inflight_ -= bytes <= inflight_ ? bytes : inflight_; }
  void on_timeout(Duration srtt, Time now);
  // The timeout that last shrank the window was spurious: restore it.
  void undo_timeout();
  void reset();

  uint64_t cwnd() const { return static_cast<uint64_t>(cwnd_); }
  uint64_t inflight() const { return inflight_; }

 private:
  void on_delay(uint32_t bytes, Duration queue_delay, Duration base_rtt, Duration srtt, Time now);

  const EndpointConfig& cfg_;
  double mss_;
  double cwnd_;
  uint64_t inflight_ = 0;
  Time last_decrease_ = Time::zero();
  Time next_send_ = Time::zero();
  Duration standing_ = Duration::zero();     // the least queueing delay of the last window
  Duration win_min_ = Duration::infinite();  // the least so far in this window
  Time win_end_ = Time::zero();
  double cwnd_before_timeout_ = 0;  // 0: nothing to undo
};

}  // namespace srdx
