#include "congestion.h"

#include <algorithm>
#include <cmath>

namespace srdx {

namespace {
// 1/sqrt(w) at the two ends of flow scaling, w in packets.
const double kFsLow = 1.0 / std::sqrt(tuning::kCcFlowScaleMaxWindow);
const double kFsHigh = 1.0 / std::sqrt(tuning::kCcFlowScaleMinWindow);
}  // namespace

Congestion::Congestion(const EndpointConfig& cfg, uint32_t mss)
    : cfg_(cfg), mss_(mss), cwnd_(static_cast<double>(cfg.cc_initial_window)) {}

void Congestion::reset() {
  cwnd_ = static_cast<double>(cfg_.cc_initial_window);
  inflight_ = 0;
  standing_ = Duration::zero();
  win_min_ = Duration::infinite();
  win_samples_ = 0;
  win_sum_ = Duration::zero();
  noise_ = Duration::zero();
  block_min_.fill(Duration::infinite());
  block_next_ = 0;
  win_end_ = Time::zero();
  acked_cur_ = lost_cur_ = acked_prev_ = lost_prev_ = 0;
  cwnd_before_timeout_ = 0;
  cwnd_before_loss_ = 0;
  loss_cut_by_ = Time::zero();
  last_decrease_ = Time::zero();
  next_send_ = Time::zero();
  share_ = 0;
  last_share_cut_ = Time::zero();
}

bool Congestion::over_share() const { return share_ > 1.0 + tuning::kShareSlack; }

void Congestion::on_share(double share, Duration srtt, Time now) {
  share_ = share;
  if (!over_share()) return;
  // Only while a queue stands: below it the bottleneck has room, and a
  // sender over the mean is one whose peers send less than they could.
  if (standing_ <= target() / 2) return;
  // The next interval's figure must show the last cut before another.
  if (now - last_share_cut_ < tuning::kShareInterval + srtt) return;
  cwnd_ = std::max(cwnd_ / share, std::max(cwnd_ * (1.0 - cfg_.cc_max_decrease), min_window()));
  last_share_cut_ = now;
}

Duration Congestion::noise_allowance() const {
  const Duration over = noise_ - cfg_.cc_target_delay;
  return over > Duration::zero() ? over * tuning::kCcNoiseAllowance : Duration::zero();
}

Duration Congestion::target() const {
  const Duration noise = noise_allowance();
  if (cfg_.cc_flow_scale_range <= Duration::zero()) return cfg_.cc_target_delay + noise;
  const double scale = (1.0 / std::sqrt(cwnd_ / mss_) - kFsLow) / (kFsHigh - kFsLow);
  const double ns =
      static_cast<double>(cfg_.cc_flow_scale_range.ns()) * std::clamp(scale, 0.0, 1.0);
  return cfg_.cc_target_delay + noise + Duration::nanos(static_cast<int64_t>(ns));
}

void Congestion::on_sent(uint32_t bytes, Time now, Duration srtt) {
  inflight_ += bytes;
  if (!cfg_.pacing) return;
  // Before the first sample, the RTT the timers assume (rto_initial): the
  // initial window leaves spread over it, not as a burst into a queue that
  // other connections may be filling at the same moment.
  const Duration rtt = srtt > Duration::zero() ? srtt : cfg_.rto_initial;
  // rate = gain * cwnd / rtt  =>  interval = bytes * rtt / (gain * cwnd).
  // Below one packet the window is the rate itself: no gain, or a sender
  // meant to send one packet every few RTTs would send more.
  const double gain = cwnd_ < mss_ ? 1.0 : tuning::kPacingGain;
  const double interval_ns =
      static_cast<double>(bytes) * static_cast<double>(rtt.ns()) / (gain * cwnd_);
  // Allow a small burst (a few packets, at most one RTT's worth) to absorb
  // scheduling jitter without building credit over idle periods.
  const Duration burst = min(Duration::nanos(static_cast<int64_t>(interval_ns * 4)), rtt);
  const Time base = max(next_send_, now - burst);
  next_send_ = base + Duration::nanos(static_cast<int64_t>(interval_ns));
}

void Congestion::decrease(double factor, Time now) {
  cwnd_ = std::max(cwnd_ * factor, min_window());
  last_decrease_ = now;
}

void Congestion::on_delay(uint32_t bytes, Duration queue_delay, Duration srtt, Time now) {
  // React to the standing queue, not to what single packets met: the least
  // queueing delay of the last kCcStandingSamples packets. A queue that
  // persists shows in every packet and so in the least of them; a busy host's
  // scheduling noise (a late receiver, a descheduled sender), a short burst
  // on one path, only in some. The mean of those samples read noise as
  // queueing, and on a noisy host held every path at a fraction of its rate.
  // A fixed count rather than the samples of one RTT: the least of more
  // samples is smaller, so a large window judged over its RTT saw less
  // queue than a small one in the same queue, kept growing, and took the
  // bottleneck from it (16 senders into 4 x 64 KiB queues: Jain's index 0.58).
  if (queue_delay < win_min_) win_min_ = queue_delay;
  win_sum_ += queue_delay;
  if (win_samples_ == 0) block_start_ = now;
  ++win_samples_;
  if (win_samples_ >= tuning::kCcStandingSamples ||
      (win_samples_ >= 2 && now - block_start_ >= srtt)) {
    // How far the block's mean sits above its least: the noise the least
    // of kCcStandingSamples samples still carries (host scheduling, jitter
    // in both directions), which the target tolerates (target()).
    const Duration spread = win_sum_ / win_samples_ - win_min_;
    noise_ += (spread - noise_) / tuning::kCcNoiseGainDiv;
    // The standing queue: the least over the last block, or over the last
    // few when the noise is large against the target (about one block per
    // target's worth of noise): the least of 8 samples of noise spread over
    // hundreds of microseconds still varies by as much from block to block,
    // and every high one shrank the window.
    block_min_[block_next_] = win_min_;
    block_next_ = (block_next_ + 1) % kBlocks;
    const int64_t ratio = noise_.ns() / std::max<int64_t>(cfg_.cc_target_delay.ns(), 1);
    const uint32_t n = static_cast<uint32_t>(std::clamp<int64_t>(ratio, 1, kBlocks));
    standing_ = Duration::infinite();
    for (uint32_t i = 1; i <= n; ++i) {
      standing_ = min(standing_, block_min_[(block_next_ + kBlocks - i) % kBlocks]);
    }
    win_min_ = Duration::infinite();
    win_sum_ = Duration::zero();
    win_samples_ = 0;
  }
  if (now >= win_end_) {  // the loss rate's windows: about an RTT each
    win_end_ = now + max(srtt, tuning::kCcLossWindowMin);
    acked_prev_ = acked_cur_;
    lost_prev_ = lost_cur_;
    acked_cur_ = lost_cur_ = 0;
  }
  const Duration goal = target();
  if (standing_ <= goal) {
    // Over its share of a receiver that is shared, a sender leaves the
    // room to the others (on_share).
    if (over_share() && standing_ > goal / 2) return;
    // About cc_additive_increase packets per window's worth of ACKs; below
    // one packet, that much per ACK (one ACK then takes more than an RTT).
    // A connection whose RTT is longer than kCcIncreaseRtt grows by as much
    // per kCcIncreaseRtt of time: per RTT it would otherwise gain what a
    // short flow gains many times over in the same time, and at a shared
    // queue both shrink alike, so its rate would end up as much smaller as
    // its RTT is longer (a 1 ms flow beside a 20 us one: a tenth of its share).
    const double stretch = std::clamp(
        static_cast<double>(srtt.ns()) / static_cast<double>(tuning::kCcIncreaseRtt.ns()), 1.0,
        tuning::kCcIncreaseMaxStretch);
    cwnd_ += cfg_.cc_additive_increase * stretch * mss_ * static_cast<double>(bytes) /
             std::max(cwnd_, mss_);
    cwnd_ = std::min(cwnd_, static_cast<double>(cfg_.cc_max_window));
    return;
  }
  if (now - last_decrease_ < srtt) return;
  const double excess =
      static_cast<double>((standing_ - goal).ns()) / static_cast<double>(standing_.ns());
  decrease(std::max(1.0 - cfg_.cc_beta * excess, 1.0 - cfg_.cc_max_decrease), now);
}

void Congestion::on_lost(uint32_t bytes, Time sent, Duration srtt, Time now) {
  inflight_ -= bytes <= inflight_ ? bytes : inflight_;
  lost_cur_ += bytes;
  // A packet sent before the last decrease belongs to the congestion that
  // decrease answered (a burst's drops are declared over several RTO rounds
  // when nothing is acknowledged): one cut per episode, not one per round.
  if (sent < last_decrease_ || now - last_decrease_ < srtt) return;
  const double lost = static_cast<double>(lost_cur_ + lost_prev_);
  const double fraction = lost / (lost + static_cast<double>(acked_cur_ + acked_prev_));
  const double before = cwnd_;
  decrease(std::max(1.0 - cfg_.cc_loss_beta * fraction, 1.0 - cfg_.cc_max_decrease), now);
  cwnd_before_loss_ = before;
  loss_cut_by_ = sent;
  // The next decrease weighs only what is lost after this one.
  acked_cur_ = lost_cur_ = acked_prev_ = lost_prev_ = 0;
}

void Congestion::undo_loss(Time sent) {
  if (sent != loss_cut_by_ || cwnd_before_loss_ == 0) return;
  if (cwnd_before_loss_ > cwnd_) cwnd_ = cwnd_before_loss_;
  cwnd_before_loss_ = 0;
}

void Congestion::undo_timeout() {
  if (cwnd_before_timeout_ > cwnd_) cwnd_ = cwnd_before_timeout_;
  cwnd_before_timeout_ = 0;
}

void Congestion::on_timeout(Duration srtt, Time now) {
  if (now - last_decrease_ < srtt) return;
  cwnd_before_timeout_ = cwnd_;
  decrease(1.0 - cfg_.cc_max_decrease, now);
}

}  // namespace srdx
