#include "congestion.h"

#include <algorithm>

namespace srdx {

Congestion::Congestion(const EndpointConfig& cfg, uint32_t mss)
    : cfg_(cfg), mss_(mss), cwnd_(static_cast<double>(cfg.cc_initial_window)) {}

void Congestion::reset() {
  cwnd_ = static_cast<double>(cfg_.cc_initial_window);
  inflight_ = 0;
  standing_ = Duration::zero();
  win_min_ = Duration::infinite();
  win_end_ = Time::zero();
  cwnd_before_timeout_ = 0;
  last_decrease_ = Time::zero();
  next_send_ = Time::zero();
}

void Congestion::on_sent(uint32_t bytes, Time now, Duration srtt) {
  inflight_ += bytes;
  if (!cfg_.pacing) return;
  // rate = gain * cwnd / srtt  =>  interval = bytes * srtt / (gain * cwnd)
  double interval_ns =
      static_cast<double>(bytes) * static_cast<double>(srtt.ns()) / (tuning::kPacingGain * cwnd_);
  // Allow a small burst (a few packets) to absorb scheduling jitter without
  // building credit over idle periods.
  Duration burst = Duration::nanos(static_cast<int64_t>(interval_ns * 4));
  Time base = max(next_send_, now - burst);
  next_send_ = base + Duration::nanos(static_cast<int64_t>(interval_ns));
}

void Congestion::on_delay(uint32_t bytes, Duration queue_delay, Duration base_rtt, Duration srtt,
                          Time now) {
  // React to the standing queue, not to what single packets met: the least
  // queueing delay any packet saw over the last RTT. A queue that
  // persists shows in every packet and so in the least of them; a busy host's
  // scheduling noise (a late receiver, a descheduled sender), a short burst
  // on one path, only in some. The mean of those samples read noise as
  // queueing, and on a noisy host held every path at a fraction of its rate.
  if (queue_delay < win_min_) win_min_ = queue_delay;
  if (now >= win_end_) {
    standing_ = win_min_;
    win_min_ = Duration::infinite();
    win_end_ = now + max(srtt / tuning::kCcStandingWindowDiv, tuning::kCcStandingWindowMin);
  }
  const Duration goal = target(base_rtt);
  if (standing_ <= goal) {
    // About cc_additive_increase packets per window's worth of ACKs.
    cwnd_ += cfg_.cc_additive_increase * mss_ * static_cast<double>(bytes) / cwnd_;
    cwnd_ = std::min(cwnd_, static_cast<double>(cfg_.cc_max_window));
    return;
  }
  if (now - last_decrease_ < srtt) return;
  double excess =
      static_cast<double>((standing_ - goal).ns()) / static_cast<double>(standing_.ns());
  double factor = std::max(1.0 - cfg_.cc_beta * excess, 1.0 - cfg_.cc_max_decrease);
  cwnd_ = std::max(cwnd_ * factor, mss_);
  last_decrease_ = now;
}

void Congestion::undo_timeout() {
  if (cwnd_before_timeout_ > cwnd_) cwnd_ = cwnd_before_timeout_;
  cwnd_before_timeout_ = 0;
}

void Congestion::on_timeout(Duration srtt, Time now) {
  if (now - last_decrease_ < srtt) return;
  cwnd_before_timeout_ = cwnd_;
  cwnd_ = std::max(cwnd_ * (1.0 - cfg_.cc_max_decrease), mss_);
  last_decrease_ = now;
}

}  // namespace srdx
