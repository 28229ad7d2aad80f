// Congestion: delay-based window and pacing, with literal delays and times.
// mss 1500, initial window 65536, target delay 25us, beta 0.8, max decrease
// 0.5, pacing gain 1.5. The window reacts to the standing queueing delay: the
// least sample over a window of one srtt. The first sample closes the first
// window, so it counts at once; later ones when the window they fall in ends.
#include "congestion.h"

#include <gtest/gtest.h>

namespace srdx {
namespace {

using namespace srdx::literals;

const Time kT0 = Time::zero() + 1_ms;
constexpr Duration kSrtt = 100_us;
// A base RTT below the configured target, so the target is cc_target_delay.
constexpr Duration kNoBase = 1_us;

struct Fixture {
  Fixture() : cc(cfg, 1500) { cfg.cc_target_delay = 25_us; }
  EndpointConfig cfg;
  Congestion cc;
};

TEST(Congestion, StartsAtTheInitialWindow) {
  Fixture f;
  EXPECT_EQ(f.cc.cwnd(), 65536u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, AdditiveIncreaseBelowTarget) {
  Fixture f;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_acked(1500, 10_us, kNoBase, kSrtt, kT0 + 100_us);
  // + 1 x 1500 x 1500 / 65536 = 34.3 bytes
  EXPECT_EQ(f.cc.cwnd(), 65570u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, ExactlyTargetStillIncreases) {
  Fixture f;
  f.cc.on_acked(1500, 25_us, kNoBase, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 65570u);
}

TEST(Congestion, AWindowOfAcksGrowsAboutOnePacket) {
  Fixture f;
  for (int i = 0; i < 44; ++i) f.cc.on_acked(1500, 5_us, kNoBase, kSrtt, kT0);  // ~65536 bytes
  EXPECT_GE(f.cc.cwnd(), 65536u + 1400);
  EXPECT_LE(f.cc.cwnd(), 65536u + 1500);
}

TEST(Congestion, NoSampleNoChange) {
  Fixture f;
  f.cc.on_sent(1500, kT0, kSrtt);
  f.cc.on_acked(1500, Duration::nanos(-1), kNoBase, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 65536u);
  EXPECT_EQ(f.cc.inflight(), 0u);
}

TEST(Congestion, ProportionalDecreaseAboveTarget) {
  Fixture f;
  // Standing 50us: excess (50 - 25) / 50 = 0.5; factor 1 - 0.8 x 0.5 = 0.6
  f.cc.on_acked(1500, 50_us, kNoBase, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 39321u);
}

TEST(Congestion, DelaySpikesWithinAnRttAreNoQueue) {
  Fixture f;
  f.cc.on_acked(1500, 10_us, kNoBase, kSrtt, kT0);  // standing 10us; window to kT0 + 100us
  // Noise: single packets delayed by far more than the target.
  f.cc.on_acked(1500, 400_us, kNoBase, kSrtt, kT0 + 30_us);
  f.cc.on_acked(1500, 10_us, kNoBase, kSrtt, kT0 + 60_us);
  f.cc.on_acked(1500, 300_us, kNoBase, kSrtt, kT0 + 100_us);  // window ends: least was 10us
  f.cc.on_acked(1500, 200_us, kNoBase, kSrtt, kT0 + 150_us);
  EXPECT_GT(f.cc.cwnd(), 65536u + 5 * 34);
}

TEST(Congestion, ADelayEveryPacketSeesDecreasesWhenItsWindowEnds) {
  Fixture f;
  f.cc.on_acked(1500, 10_us, kNoBase, kSrtt, kT0);  // standing 10us; window to kT0 + 100us
  const uint64_t grown = f.cc.cwnd();
  Time t = kT0 + 10_us;
  for (; t < kT0 + 100_us; t += 10_us) f.cc.on_acked(1500, 60_us, kNoBase, kSrtt, t);
  EXPECT_GT(f.cc.cwnd(), grown) << "a queue of less than one window is not yet standing";
  const uint64_t before = f.cc.cwnd();
  f.cc.on_acked(1500, 60_us, kNoBase, kSrtt, t);  // the window ends: every packet saw 60us
  // excess (60 - 25) / 60; factor 1 - 0.8 x 0.583 = 0.533
  EXPECT_NEAR(static_cast<double>(f.cc.cwnd()), static_cast<double>(before) * (1 - 0.8 * 35 / 60),
              2.0);
}

TEST(Congestion, DecreaseIsBoundedByMaxDecrease) {
  Fixture f;
  // Smoothed 1ms: 1 - 0.8 x 0.975 = 0.22, bounded to 0.5
  f.cc.on_acked(1500, 8_ms, kNoBase, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
}

TEST(Congestion, AtMostOneDecreasePerSrtt) {
  Fixture f;
  f.cc.on_acked(1500, 8_ms, kNoBase, kSrtt, kT0);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  f.cc.on_acked(1500, 8_ms, kNoBase, kSrtt, kT0 + 99_us);
  EXPECT_EQ(f.cc.cwnd(), 32768u);
  f.cc.on_acked(1500, 8_ms, kNoBase, kSrtt, kT0 + 100_us);
  EXPECT_EQ(f.cc.cwnd(), 16384u);
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

TEST(Congestion, WindowNeverFallsBelowOnePacket) {
  Fixture f;
  Time t = kT0;
  for (int i = 0; i < 20; ++i, t += kSrtt) f.cc.on_timeout(kSrtt, t);
  EXPECT_EQ(f.cc.cwnd(), 1500u);
  f.cc.on_acked(1500, 80_ms, kNoBase, kSrtt, t);
  EXPECT_EQ(f.cc.cwnd(), 1500u);
}

TEST(Congestion, WindowNeverExceedsTheMaximum) {
  Fixture f;
  f.cfg.cc_max_window = 65600;
  for (int i = 0; i < 10; ++i) f.cc.on_acked(1500, 1_us, kNoBase, kSrtt, kT0);
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
  f.cc.on_lost(1500);
  EXPECT_EQ(f.cc.inflight(), 63000u);
  EXPECT_TRUE(f.cc.can_send(1500));
}

TEST(Congestion, LossAndAckNeverDriveInflightNegative) {
  Fixture f;
  f.cc.on_sent(100, kT0, kSrtt);
  f.cc.on_lost(1500);
  EXPECT_EQ(f.cc.inflight(), 0u);
  f.cc.on_acked(1500, 1_us, kNoBase, kSrtt, kT0);
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

TEST(Congestion, NoPacingWithoutAnRttOrWhenDisabled) {
  Fixture f;
  f.cc.on_sent(1500, kT0, Duration::zero());
  EXPECT_LE(f.cc.next_send_time(), kT0);
  Fixture g;
  g.cfg.pacing = false;
  g.cc.on_sent(1500, kT0, kSrtt);
  EXPECT_EQ(g.cc.next_send_time(), Time::zero());
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

namespace srdx {
namespace {
using namespace srdx::literals;

// On a slow path the base RTT exceeds the configured target: one packet's
// serialisation alone would count as queueing. The window then aims at the
// base RTT instead, and keeps growing where a fixed target would shrink it.
TEST(Congestion, TargetFollowsALongBaseRtt) {
  EndpointConfig cfg;
  cfg.cc_target_delay = 25_us;
  Congestion cc(cfg, 1500);
  EXPECT_EQ(cc.target(10_us), 25_us);
  EXPECT_EQ(cc.target(200_us), 200_us);
  const Time t0 = Time::zero() + 1_ms;
  const uint64_t before = cc.cwnd();
  for (int i = 0; i < 64; ++i) {
    cc.on_sent(1500, t0, 300_us);
    cc.on_acked(1500, 120_us, 200_us, 300_us, t0 + Duration::micros(300 * (i + 1)));
  }
  EXPECT_GT(cc.cwnd(), before) << "120 us of queueing is under a 200 us base RTT";
  Congestion fixed(cfg, 1500);
  for (int i = 0; i < 64; ++i) {
    fixed.on_sent(1500, t0, 300_us);
    fixed.on_acked(1500, 120_us, 10_us, 300_us, t0 + Duration::micros(300 * (i + 1)));
  }
  EXPECT_LT(fixed.cwnd(), before) << "120 us of queueing is over a 25 us target";
}

}  // namespace
}  // namespace srdx
