// Congestion: delay- and loss-based window and pacing, with literal delays
// and times. mss 1500, initial window 65536, target delay 25us (flow scaling
// off unless a test turns it on), beta 0.8, max decrease 0.5, loss beta 1,
// pacing gain 1.5. The window reacts to the standing queueing delay: the
// least sample of each block of kCcStandingSamples (8) samples; before the
// first block ends, the standing delay is 0.
#include "congestion.h"

#include <gtest/gtest.h>

#include <cmath>

namespace srdx {
namespace {

using namespace srdx::literals;

const Time kT0 = Time::zero() + 1_ms;
constexpr Duration kSrtt = 100_us;
struct Fixture {
  Fixture() : cc(cfg, 1500) {
    cfg.cc_target_delay = 25_us;
    cfg.cc_flow_scale_range = Duration::zero();
  }
  EndpointConfig cfg;
  Congestion cc;
};

// `n` samples of `delay` at `t`: n = 8 closes a block.
void samples(Congestion& cc, int n, Duration delay, Time t, Duration srtt = kSrtt) {
  for (int i = 0; i < n; ++i) cc.on_acked(1500, delay, srtt, t);
}

TEST(Congestion, StartsAtTheInitialWindow) {
  Fixture f;
  EXPECT_EQ(f.cc.cwnd(), 65536u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

// An srtt at or below kCcIncreaseRtt (70us): one packet per window of ACKs.
constexpr Duration kShortSrtt = 50_us;

TEST(Congestion, AdditiveIncreaseBelowTarget) {
  Fixture f;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_acked(1500, 10_us, kShortSrtt, kT0 + 100_us);
  // + 1 x 1500 x 1500 / 65536 = 34.3 bytes
  EXPECT_EQ(f.cc.cwnd(), 65570u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, ExactlyTargetStillIncreases) {
  Fixture f;
  f.cc.on_acked(1500, 25_us, kShortSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 65570u);
}

TEST(Congestion, AWindowOfAcksGrowsAboutOnePacket) {
  Fixture f;
  for (int i = 0; i < 44; ++i) f.cc.on_acked(1500, 5_us, kShortSrtt, kT0);  // ~65536 bytes
  EXPECT_GE(f.cc.cwnd(), 65536u + 1400);
  EXPECT_LE(f.cc.cwnd(), 65536u + 1500);
}

// Beyond kCcIncreaseRtt the window grows that much per kCcIncreaseRtt of
// time: an srtt of 700us gains 10 packets per window of ACKs, so a long flow
// is not starved by short ones at a shared queue.
TEST(Congestion, ALongRttGrowsAsFastInTime) {
  Fixture f;
  for (int i = 0; i < 44; ++i) f.cc.on_acked(1500, 5_us, 700_us, kT0);
  EXPECT_GE(f.cc.cwnd(), 65536u + 10 * 1300);
  EXPECT_LE(f.cc.cwnd(), 65536u + 10 * 1500);
}

TEST(Congestion, NoSampleNoChange) {
  Fixture f;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_acked(1500, Duration::nanos(-1), kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 65536u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, ProportionalDecreaseAboveTarget) {
  Fixture f;
  // Standing 50us: excess (50 - 25) / 50 = 0.5; factor 1 - 0.8 x 0.5 = 0.6.
  // The first seven samples grow the window (no block has ended yet).
  samples(f.cc, 7, 50_us, kT0);
  const double before = f.cc.window();
  samples(f.cc, 1, 50_us, kT0);
  EXPECT_NEAR(f.cc.window(), before * 0.6, 1.0);
}

TEST(Congestion, DelaySpikesWithinABlockAreNoQueue) {
  Fixture f;
  // Noise: most packets delayed by far more than the target, one not.
  samples(f.cc, 7, 400_us, kT0);
  samples(f.cc, 1, 10_us, kT0 + 30_us);  // the block's least: 10us
  samples(f.cc, 7, 300_us, kT0 + 60_us);
  EXPECT_GT(f.cc.cwnd(), 65536u + 14 * 34);
}

TEST(Congestion, ADelayEveryPacketSeesDecreasesWhenItsBlockEnds) {
  Fixture f;
  samples(f.cc, 8, 10_us, kT0);  // standing 10us
  const uint64_t grown = f.cc.cwnd();
  samples(f.cc, 7, 60_us, kT0 + 10_us);
  EXPECT_GT(f.cc.cwnd(), grown) << "a queue in part of a block is not yet standing";
  const double before = f.cc.window();
  samples(f.cc, 1, 60_us, kT0 + 20_us);  // every packet of the block saw 60us
  // excess (60 - 25) / 60; factor 1 - 0.8 x 0.583 = 0.533
  EXPECT_NEAR(f.cc.window(), before * (1 - 0.8 * 35 / 60), 1.0);
}

// The standing delay is judged over a count of samples, not over an RTT's:
// two windows in the same queue see the same standing delay, so the larger
// one does not keep growing while the smaller one shrinks.
TEST(Congestion, WindowsOfEverySizeJudgeTheSameQueueAlike) {
  EndpointConfig cfg;
  cfg.cc_target_delay = 25_us;
  cfg.cc_flow_scale_range = Duration::zero();
  cfg.cc_initial_window = 8 * 1500;
  Congestion small(cfg, 1500);
  cfg.cc_initial_window = 64 * 1500;
  Congestion large(cfg, 1500);
  // One RTT: the queue is 40us for the first packets, then 20us for the rest.
  // The large window has 64 samples in the RTT, the small one 8.
  for (int i = 0; i < 64; ++i) {
    const Duration d = i < 8 ? 40_us : 20_us;
    large.on_acked(1500, d, kSrtt, kT0);
    if (i < 8) small.on_acked(1500, d, kSrtt, kT0);
  }
  EXPECT_LT(small.window(), 8 * 1500.0) << "40us over 8 samples: over the target";
  EXPECT_LT(large.window(), 64 * 1500.0)
      << "the large window's first 8 samples saw 40us too: it shrinks as well";
}

TEST(Congestion, DecreaseIsBoundedByMaxDecrease) {
  Fixture f;
  samples(f.cc, 7, 8_ms, kT0);
  const double before = f.cc.window();
  // 1 - 0.8 x 0.997 = 0.2, bounded to 0.5
  samples(f.cc, 1, 8_ms, kT0);
  EXPECT_NEAR(f.cc.window(), before / 2, 1.0);
}

TEST(Congestion, AtMostOneDecreasePerSrtt) {
  Fixture f;
  samples(f.cc, 8, 8_ms, kT0);
  const double once = f.cc.window();
  samples(f.cc, 8, 8_ms, kT0 + 99_us);
  EXPECT_EQ(f.cc.window(), once);
  samples(f.cc, 8, 8_ms, kT0 + 100_us);
  EXPECT_NEAR(f.cc.window(), once / 2, 1.0);
}

TEST(Congestion, TimeoutHalvesOncePerSrtt) {
  Fixture f;
  f.cc.on_timeout(kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  f.cc.on_timeout(kSrtt, kT0 + 50_us);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  f.cc.on_timeout(kSrtt, kT0 + 100_us);
  EXPECT_EQ(f.cc.cwnd(), 16384u);
}

// A loss shrinks the window by the fraction of bytes lost over the last RTT
// or two, at most cc_max_decrease, at most once per RTT.
TEST(Congestion, LossShrinksByTheFractionLost) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.cc.on_sent(1500, kT0, kSrtt);
  samples(f.cc, 3, Duration::nanos(-1), kT0 + 100_us);  // 3 acked, no delay sample
  const double before = f.cc.window();
  f.cc.on_lost(1500, kT0, kSrtt, kT0 + 100_us);  // 1 of 4 lost: 25%
  EXPECT_NEAR(f.cc.window(), before * 0.75, 1.0);
  EXPECT_EQ(f.cc.inflight(), 6u * 1500);
  // The same RTT: no second cut.
  f.cc.on_lost(1500, kT0 + 100_us, kSrtt, kT0 + 150_us);
  EXPECT_NEAR(f.cc.window(), before * 0.75, 1.0);
  // Everything lost since: bounded by cc_max_decrease.
  f.cc.on_sent(1500, kT0 + 150_us, kSrtt);
  f.cc.on_lost(1500, kT0 + 150_us, kSrtt, kT0 + 250_us);
  EXPECT_NEAR(f.cc.window(), before * 0.75 * 0.5, 1.0);
}

// Packets sent before a decrease belong to the congestion it answered: their
// loss, declared later (one RTO round after another when nothing is
// acknowledged), does not shrink the window again.
// A packet declared lost and acknowledged after all (a late ACK from a
// descheduled receiver): the cut its loss made is undone; the late ACK of
// any other packet undoes nothing.
TEST(Congestion, ASpuriousLossUndoesItsCut) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.cc.on_sent(1500, kT0, kSrtt);
  samples(f.cc, 3, Duration::nanos(-1), kT0 + 100_us);
  const double before = f.cc.window();
  const Time sent = kT0 + 7_us;
  f.cc.on_lost(1500, sent, kSrtt, kT0 + 100_us);
  ASSERT_NEAR(f.cc.window(), before * 0.75, 1.0);
  f.cc.undo_loss(kT0 + 8_us);
  EXPECT_NEAR(f.cc.window(), before * 0.75, 1.0);
  f.cc.undo_loss(sent);
  EXPECT_NEAR(f.cc.window(), before, 1.0);
  // Once only.
  f.cc.on_sent(1500, kT0 + 300_us, kSrtt);
  f.cc.on_lost(1500, kT0 + 300_us, kSrtt, kT0 + 400_us);
  const double cut = f.cc.window();
  ASSERT_LT(cut, before);
  f.cc.undo_loss(sent);
  EXPECT_NEAR(f.cc.window(), cut, 1.0);
}

TEST(Congestion, LossesOfOneEpisodeShrinkOnce) {
  Fixture f;
  for (int i = 0; i < 20; ++i) f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_lost(1500, kT0, kSrtt, kT0 + 300_us);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  for (int k = 1; k < 10; ++k) f.cc.on_lost(1500, kT0, kSrtt, kT0 + 300_us * (1 << k));
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  // A packet sent after the cut and lost is new information.
  f.cc.on_sent(1500, kT0 + 400_us, kSrtt);
  f.cc.on_lost(1500, kT0 + 400_us, kSrtt, kT0 + 1_ms);
  EXPECT_LT(f.cc.cwnd(), 32768u);
}

TEST(Congestion, ZeroLossBetaIgnoresLoss) {
  Fixture f;
  f.cfg.cc_loss_beta = 0;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_lost(1500, kT0, kSrtt, kT0 + 100_us);
  EXPECT_EQ(f.cc.cwnd(), 65536u);
}

// The target does not follow the base RTT: the queueing delay is judged
// against the same target whatever the path's length, so a flow on a long
// path keeps no more queue than a short one sharing its bottleneck.
TEST(Congestion, TargetIgnoresTheBaseRtt) {
  Fixture f;
  EXPECT_EQ(f.cc.target(), 25_us);
  const Time t = kT0 + 10_ms;
  samples(f.cc, 7, 120_us, t, 2_ms);  // an RTT of 2 ms
  const double before = f.cc.window();
  samples(f.cc, 1, 120_us, t, 2_ms);
  EXPECT_LT(f.cc.window(), before) << "120 us of queueing is over a 25 us target";
}

// Swift's flow scaling: the target grows as the window shrinks, up to
// cc_flow_scale_range at a tenth of a packet; nothing at 100 packets.
TEST(Congestion, FlowScalingRaisesTheTargetOfSmallWindows) {
  EndpointConfig cfg;
  cfg.cc_target_delay = 25_us;
  cfg.cc_flow_scale_range = 25_us;
  cfg.cc_max_window = 1000 * 1500;
  cfg.cc_initial_window = 100 * 1500;
  EXPECT_EQ(Congestion(cfg, 1500).target(), 25_us);
  cfg.cc_initial_window = 200 * 1500;
  EXPECT_EQ(Congestion(cfg, 1500).target(), 25_us) << "above 100 packets: no scaling";
  cfg.cc_initial_window = 1500;
  // (1/sqrt(1) - 1/sqrt(100)) / (1/sqrt(0.1) - 1/sqrt(100)) = 0.9 / 3.062 = 0.294
  const Duration one = Congestion(cfg, 1500).target();
  EXPECT_NEAR(one.us(), 25 + 25 * 0.9 / (1 / std::sqrt(0.1) - 0.1), 0.01);
  cfg.cc_initial_window = 4 * 1500;
  const Duration four = Congestion(cfg, 1500).target();
  EXPECT_GT(four, 25_us);
  EXPECT_LT(four, one);
}

TEST(Congestion, WindowFallsBelowOnePacketButNotBelowTheMinimum) {
  Fixture f;
  Time t = kT0;
  for (int i = 0; i < 20; ++i, t += kSrtt) f.cc.on_timeout(kSrtt, t);
  EXPECT_NEAR(f.cc.window(), 1500.0 * tuning::kCcMinWindowPackets, 1e-9);
  EXPECT_EQ(f.cc.window(), f.cc.min_window());
  f.cc.on_timeout(kSrtt, t + kSrtt);
  EXPECT_EQ(f.cc.window(), f.cc.min_window());
  EXPECT_TRUE(f.cc.can_send(1500)) << "with nothing in flight one packet may go";
}

// Below one packet per window, one ACKed packet adds cc_additive_increase x
// its bytes (Swift), instead of dividing by a window smaller than a packet.
TEST(Congestion, BelowOnePacketAnAckAddsItsBytes) {
  Fixture f;
  f.cfg.cc_initial_window = 1500;
  Congestion cc(f.cfg, 1500);
  Time t = kT0;
  for (int i = 0; i < 3; ++i, t += kSrtt) cc.on_timeout(kSrtt, t);  // 187.5 bytes
  EXPECT_NEAR(cc.window(), 187.5, 1e-9);
  cc.on_acked(100, 1_us, kShortSrtt, t);
  EXPECT_NEAR(cc.window(), 287.5, 1e-9);
}

// Below one packet per RTT the pacer spaces packets more than an RTT apart:
// a quarter of a packet per window is one packet every four RTTs, with no
// pacing gain and no burst credit beyond one RTT.
TEST(Congestion, PacingBelowOnePacketPerRtt) {
  Fixture f;
  Time t = kT0;
  f.cfg.cc_initial_window = 1500;
  Congestion cc(f.cfg, 1500);
  for (int i = 0; i < 2; ++i, t += kSrtt) cc.on_timeout(kSrtt, t);  // 375 = a quarter
  ASSERT_NEAR(cc.window(), 375.0, 1e-9);
  const Time start = t + 10_ms;
  cc.on_sent(1500, start, kSrtt);
  // The credit is at most one RTT (100us): the next packet is due 4 x 100us
  // after start - 100us.
  EXPECT_EQ(cc.next_send_time(), start + 300_us);
  cc.on_sent(1500, cc.next_send_time(), kSrtt);
  EXPECT_EQ(cc.next_send_time(), start + 700_us) << "then one every four RTTs";
}

// Noise: blocks whose samples spread from 0 to 200 us (mean 100, least 0)
// are jitter, not queue. Beyond cc_target_delay the noise raises the target
// by twice the excess; a steady queue (every sample alike) raises nothing.
TEST(Congestion, NoiseRaisesTheTargetAQueueDoesNot) {
  Fixture f;
  Time t = kT0;
  for (int b = 0; b < 64; ++b, t += 10_us) {
    for (int i = 0; i < 8; ++i) f.cc.on_acked(1500, i % 2 ? 200_us : Duration::zero(), kSrtt, t);
  }
  // The smoothed spread is near 100us: allowance 2 x (100 - 25) = 150us.
  EXPECT_GT(f.cc.noise_allowance(), 140_us);
  EXPECT_LE(f.cc.noise_allowance(), 150_us);
  EXPECT_EQ(f.cc.target(), 25_us + f.cc.noise_allowance());
  EXPECT_GT(f.cc.cwnd(), 65536u) << "noise alone never shrinks the window";

  Fixture g;
  t = kT0;
  for (int b = 0; b < 64; ++b, t += 10_us) samples(g.cc, 8, 30_us, t);
  EXPECT_EQ(g.cc.noise_allowance(), Duration::zero());
  EXPECT_EQ(g.cc.target(), 25_us);
  EXPECT_LT(g.cc.cwnd(), 65536u) << "a steady 30us queue is over the target";
}

TEST(Congestion, WindowNeverExceedsTheMaximum) {
  Fixture f;
  f.cfg.cc_max_window = 65600;
  for (int i = 0; i < 10; ++i) f.cc.on_acked(1500, 1_us, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 65600u);
}

TEST(Congestion, CanSendWithAnEmptyFlightWhateverTheSize) {
  Fixture f;
  EXPECT_TRUE(f.cc.can_send(10u << 20));
}

TEST(Congestion, CanSendUpToTheWindow) {
  Fixture f;
  f.cfg.pacing = false;
  for (int i = 0; i < 43; ++i) f.cc.on_sent(1500, kT0, kSrtt);  // 64500 bytes
  EXPECT_TRUE(f.cc.can_send(1036));                             // exactly 65536
  EXPECT_FALSE(f.cc.can_send(1037));
  f.cfg.cc_loss_beta = 0;  // only the accounting here
  f.cc.on_lost(1500, kT0, kSrtt, kT0 + kSrtt);
  EXPECT_EQ(f.cc.inflight(), 63000u);
  EXPECT_TRUE(f.cc.can_send(1500));
}

TEST(Congestion, LossAndAckNeverDriveInflightNegative) {
  Fixture f;
  f.cc.on_sent(100, kT0, kSrtt);
  f.cc.on_lost(1500, kT0, kSrtt, kT0);
  EXPECT_EQ(f.cc.inflight(), 0u);
  f.cc.on_acked(1500, 1_us, kSrtt, kT0);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, PacingSpacesPacketsAfterASmallBurst) {
  Fixture f;
  // interval = 1500 x 100us / (1.5 x 65536) = 1525.88ns; burst credit 4 intervals.
  const Time t = Time::zero() + 10_us;
  f.cc.on_sent(1500, t, kSrtt);
  EXPECT_EQ(f.cc.next_send_time(), Time::from_ns(10000 - 6103 + 1525));
  f.cc.on_sent(1500, t, kSrtt);
  f.cc.on_sent(1500, t, kSrtt);
  f.cc.on_sent(1500, t, kSrtt);
  EXPECT_EQ(f.cc.next_send_time(), Time::from_ns(3897 + 4 * 1525));  // 9997: still due
  f.cc.on_sent(1500, t, kSrtt);
  EXPECT_EQ(f.cc.next_send_time(), Time::from_ns(11522));  // the sixth waits
  // Idle time does not build up more than the burst credit.
  f.cc.on_sent(1500, t + 1_ms, kSrtt);
  EXPECT_EQ(f.cc.next_send_time(), Time::from_ns(1010000 - 6103 + 1525));
}

// Before the first RTT sample the initial window is paced over rto_initial
// (1 ms): 1500 x 1ms / (1.5 x 65536) = 15258 ns apart, after a burst credit
// of 4 of those (61035 ns): the sixth packet waits until kT0 + 5 x 15258 - 61035.
TEST(Congestion, PacingBeforeAnRttUsesRtoInitialAndNoneWhenDisabled) {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.cc.on_sent(1500, kT0, Duration::zero());
  EXPECT_GT(f.cc.next_send_time(), kT0);
  EXPECT_EQ(f.cc.next_send_time(), kT0 + Duration::nanos(5 * 15258 - 61035));
  Fixture g;
  g.cfg.pacing = false;
  g.cc.on_sent(1500, kT0, kSrtt);
  EXPECT_EQ(g.cc.next_send_time(), Time::zero());
}

// Feature share: a receiver's figure of this sender's rate against the mean
// of its active senders (1.0: the mean).
TEST(Congestion, OverItsShareWithAQueueShrinksToTheMean) {
  Fixture f;
  samples(f.cc, 8, 20_us, kT0);  // a standing queue of 20us: under 25, over half
  const double before = f.cc.window();
  f.cc.on_share(2.0, kSrtt, kT0 + 1_ms);
  EXPECT_NEAR(f.cc.window(), before / 2, 1);
  // Once per kShareInterval + srtt: the next figure must show the cut.
  f.cc.on_share(2.0, kSrtt, kT0 + 1_ms + tuning::kShareInterval);
  EXPECT_NEAR(f.cc.window(), before / 2, 1);
  f.cc.on_share(1.5, kSrtt, kT0 + 1_ms + tuning::kShareInterval + kSrtt);
  EXPECT_NEAR(f.cc.window(), before / 3, 1);
  // Never by more than cc_max_decrease at once.
  f.cc.on_share(8.0, kSrtt, kT0 + 3_ms);
  EXPECT_NEAR(f.cc.window(), before / 6, 1);
}

TEST(Congestion, OverItsShareItStopsGrowing) {
  Fixture f;
  samples(f.cc, 8, 20_us, kT0);
  f.cc.on_share(1.0 + tuning::kShareSlack * 2, kSrtt, kT0);  // cut once
  const double w = f.cc.window();
  samples(f.cc, 16, 20_us, kT0 + 10_us, kShortSrtt);
  EXPECT_EQ(f.cc.window(), w);
  // Back within the slack of the mean: it grows again.
  f.cc.on_share(1.0 + tuning::kShareSlack / 2, kSrtt, kT0 + 20_us);
  samples(f.cc, 8, 20_us, kT0 + 30_us, kShortSrtt);
  EXPECT_GT(f.cc.window(), w);
}

TEST(Congestion, WithoutAQueueTheShareDoesNotMatter) {
  Fixture f;
  samples(f.cc, 8, 5_us, kT0);  // the bottleneck has room: its peers send less than they could
  const double before = f.cc.window();
  f.cc.on_share(2.0, kSrtt, kT0 + 1_ms);
  EXPECT_EQ(f.cc.window(), before);
  samples(f.cc, 8, 5_us, kT0 + 1_ms, kShortSrtt);
  EXPECT_GT(f.cc.window(), before);
  // Under the mean, or no figure (0: alone): nothing happens either.
  Fixture g;
  samples(g.cc, 8, 20_us, kT0);
  const double w = g.cc.window();
  g.cc.on_share(0.5, kSrtt, kT0 + 1_ms);
  g.cc.on_share(0.0, kSrtt, kT0 + 2_ms);
  EXPECT_EQ(g.cc.window(), w);
}

// A window of a few packets gets fewer than 8 samples per RTT: its block
// ends after one srtt once it holds 2, so it sees a queue within an RTT.
TEST(Congestion, ASmallWindowJudgesEachRtt) {
  Fixture f;
  samples(f.cc, 2, 50_us, kT0, kShortSrtt);
  const double before = f.cc.window();
  samples(f.cc, 1, 50_us, kT0 + kShortSrtt, kShortSrtt);  // the block ends: standing 50us
  EXPECT_NEAR(f.cc.window(), before * 0.6, 1.0);
  // Within the srtt, fewer than 8 samples do not end a block.
  Fixture g;
  samples(g.cc, 1, 50_us, kT0, kShortSrtt);
  const double w = g.cc.window();
  samples(g.cc, 6, 50_us, kT0 + kShortSrtt / 2, kShortSrtt);
  EXPECT_GT(g.cc.window(), w);
}

// Feature share: the receiver's window for a connection's start only lowers
// the window, and never below the minimum.
TEST(Congestion, StartWindowOnlyLowers) {
  Fixture f;
  f.cc.start_window(16384);
  EXPECT_EQ(f.cc.cwnd(), 16384u);
  f.cc.start_window(1u << 20);
  EXPECT_EQ(f.cc.cwnd(), 16384u);
  f.cc.start_window(1);
  EXPECT_EQ(f.cc.window(), f.cc.min_window());
}

TEST(Congestion, ResetRestoresTheInitialState) {
  Fixture f;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_timeout(kSrtt, kT0);
  f.cc.reset();
  EXPECT_EQ(f.cc.cwnd(), 65536u);
  EXPECT_EQ(f.cc.inflight(), 0u);
  EXPECT_EQ(f.cc.next_send_time(), Time::zero());
}

}  // namespace
}  // namespace srdx
