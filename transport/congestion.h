// Per-connection congestion control after Swift (docs/protocol.md, section
// "Congestion control"): a sender-driven window steered by queueing delay,
// with loss as a second signal.
//
// Delay: each ACKed packet's RTT minus the connection's least RTT is its
// queueing delay. The window grows additively while the standing queue (the
// least of the last few such delays) stays under the target, and
// shrinks in proportion to the excess otherwise. The target does not depend
// on the base RTT, so a flow on a long path keeps no more queue than one on
// a short path sharing its bottleneck; it grows as the window shrinks
// (Swift's flow scaling), so that with a large fan-in, where each sender's
// share is a packet or less, the senders do not all sit over a target that
// only the sum of their small windows can reach.
//
// Noise (jitter on the paths, a busy host) that the least of a block of
// samples still carries raises the target and widens the standing-queue
// estimate to several blocks, but only beyond cc_target_delay of it.
//
// Loss: a packet declared lost (by per-path reordering or by timeout)
// shrinks the window by the fraction of bytes lost over the last one or two
// RTTs. A queue that overflows before the delay shows it, or a sender whose
// least RTT was measured behind a queue (it takes that queue for empty), is
// stopped by its drops. Random loss of a few percent costs as many percent
// of the window per RTT, so a lossy fabric is not mistaken for a congested
// one. Either signal shrinks the window at most once per RTT.
//
// Fan-in (feature kShare, docs/protocol.md): the receiver says how this
// connection's rate compares with the mean of its active senders, and a
// sender over it while a queue stands gives the difference back
// (on_share); the receiver's hello_ack also sets the window a connection
// starts with when many start together (start_window).
//
// Pacing: sends leave at gain x window / srtt. Below one packet per window
// the pacer spaces packets more than an RTT apart (a window of a quarter
// packet sends one packet every four RTTs): with hundreds of senders into
// one receiver, each sender's share of the bottleneck can be less than a
// packet per RTT. Before the first RTT sample the initial window is paced
// over rto_initial, so a connection's first packets measure the empty path
// before the rest of the window arrives behind them.
#pragma once

#include <array>
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
  // `srtt` is zero while the connection has no RTT sample.
  void on_sent(uint32_t bytes, Time now, Duration srtt);
  // `queue_delay` is the packet's network RTT minus the connection's least
  // network RTT, or negative when the ACK gave no usable sample. A network
  // RTT leaves out what the peer held the packet for (the ACK delay) and the
  // time the packet and its ACK waited in either host for a poll loop
  // (RxPath::arrival, feature kRxWait): a sleeping or busy loop is the
  // host's delay, not a queue this window builds.
  // Called for every acknowledged packet: inline, so a packet without a sample
  // costs a subtraction and a branch; with one, on_delay() is a compare, a
  // roll-over once per block of samples, and the window update.
  void on_acked(uint32_t bytes, Duration queue_delay, Duration srtt, Time now) {
    inflight_ -= bytes <= inflight_ ? bytes : inflight_;
    acked_cur_ += bytes;
    if (queue_delay >= Duration::zero()) on_delay(bytes, queue_delay, srtt, now);
  }
  // The queueing delay the window aims at: cc_target_delay plus up to
  // cc_flow_scale_range as the window shrinks from kCcFlowScaleMaxWindow
  // packets to kCcFlowScaleMinWindow (in proportion to 1/sqrt(window)).
  Duration target() const;
  // What the target adds for measurement noise (noise_ beyond
  // cc_target_delay, times tuning::kCcNoiseAllowance).
  Duration noise_allowance() const;
  // A packet of `bytes` sent at `sent` is lost (declared by reordering or by
  // timeout).
  void on_lost(uint32_t bytes, Time sent, Duration srtt, Time now);
  // Every path timed out at once (a stall) or the only one did: halve.
  void on_timeout(Duration srtt, Time now);
  // The timeout that last shrank the window was spurious: restore it.
  void undo_timeout();
  // The packet sent at `sent` was declared lost but acknowledged after all:
  // if its loss made the last loss cut, undo the cut. On a busy host a
  // delayed ACK (a descheduled receiver, a late poll loop) times packets out
  // that were never lost; a window cut for each would hold the connection
  // far below the path's rate.
  void undo_loss(Time sent);
  void reset();
  // Feature kShare: the receiver says this connection sent `share` times the
  // mean of its active peers in its last interval (0: no figure).
  void on_share(double share, Duration srtt, Time now);
  // Feature kShare: the receiver's window for a connection's start (hello_ack);
  // only ever lowers the window (to at least min_window()).
  void start_window(uint64_t bytes) {
    cwnd_ = std::max(std::min(cwnd_, static_cast<double>(bytes)), min_window());
  }

  uint64_t cwnd() const { return static_cast<uint64_t>(cwnd_); }
  // The window in bytes with its fraction, which matters below one packet.
  double window() const { return cwnd_; }
  uint64_t inflight() const { return inflight_; }
  double min_window() const { return mss_ * tuning::kCcMinWindowPackets; }

 private:
  bool over_share() const;
  void on_delay(uint32_t bytes, Duration queue_delay, Duration srtt, Time now);
  void decrease(double factor, Time now);

  const EndpointConfig& cfg_;
  double mss_;
  double cwnd_;
  uint64_t inflight_ = 0;
  Time last_decrease_ = Time::zero();
  Time next_send_ = Time::zero();
  // The least queueing delay of the last kCcStandingSamples samples, and of
  // the samples so far towards the next.
  Duration standing_ = Duration::zero();
  Duration win_min_ = Duration::infinite();
  Duration win_sum_ = Duration::zero();
  uint32_t win_samples_ = 0;
  Time block_start_ = Time::zero();
  Duration noise_ = Duration::zero();  // smoothed (block mean - block least)
  // The least of each of the last kBlocks blocks, a ring; block_next_ the
  // slot the next one goes to.
  static constexpr uint32_t kBlocks = 8;
  std::array<Duration, kBlocks> block_min_ = filled(Duration::infinite());
  uint32_t block_next_ = 0;
  static std::array<Duration, kBlocks> filled(Duration d) {
    std::array<Duration, kBlocks> a;
    a.fill(d);
    return a;
  }
  // Bytes acknowledged and lost in this window of about an RTT (until
  // win_end_) and the one before: the loss rate a loss is weighed by.
  Time win_end_ = Time::zero();
  uint64_t acked_cur_ = 0, lost_cur_ = 0, acked_prev_ = 0, lost_prev_ = 0;
  double cwnd_before_timeout_ = 0;   // 0: nothing to undo
  double cwnd_before_loss_ = 0;      // 0: nothing to undo
  Time loss_cut_by_ = Time::zero();  // send time of the packet whose loss made the last cut
  double share_ = 0;                 // the receiver's latest figure (0: none)
  Time last_share_cut_ = Time::zero();
};

}  // namespace srdx
