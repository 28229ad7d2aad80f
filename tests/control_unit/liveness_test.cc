// control/liveness.h: the heartbeat's age, when WATCHDOG=1 goes out, and the
// drain's bound from the unit's stop timeout.
#include "liveness.h"

#include <gtest/gtest.h>

namespace srdx::ctl {
namespace {

Time at_ms(int64_t ms) { return Time::from_ns(ms * 1000000); }

TEST(Heartbeat, AgeGrowsUntilTheNextBeat) {
  Heartbeat h;
  h.beat(at_ms(1000));
  EXPECT_EQ(h.age(at_ms(1000)), Duration::zero());
  EXPECT_EQ(h.age(at_ms(3500)), Duration::millis(2500));
  h.beat(at_ms(3600));
  EXPECT_EQ(h.age(at_ms(3601)), Duration::millis(1));
  // A clock read on another thread just before the beat: no negative age.
  EXPECT_EQ(h.age(at_ms(3599)), Duration::zero());
}

TEST(WatchdogGate, OffWithoutATimeout) {
  WatchdogGate g(Duration::zero());
  EXPECT_FALSE(g.enabled());
  EXPECT_FALSE(g.due(at_ms(0), Duration::zero()));
}

TEST(WatchdogGate, EveryHalfTimeoutWhileTheLoopBeats) {
  WatchdogGate g(Duration::seconds(2));  // WATCHDOG_USEC=2000000
  ASSERT_TRUE(g.enabled());
  EXPECT_EQ(g.interval(), Duration::seconds(1));
  EXPECT_TRUE(g.due(at_ms(100), Duration::millis(1)));
  EXPECT_FALSE(g.due(at_ms(600), Duration::millis(1)));
  EXPECT_TRUE(g.due(at_ms(1100), Duration::millis(1)));
}

TEST(WatchdogGate, WithheldWhileTheLoopIsStalled) {
  WatchdogGate g(Duration::seconds(2));
  EXPECT_TRUE(g.due(at_ms(0), Duration::zero()));
  // The loop stopped at 200 ms: its heartbeat is a full interval old from
  // 1200 ms on, and no keep-alive goes out however often it is asked.
  for (int64_t t = 1200; t < 10000; t += 100) {
    EXPECT_FALSE(g.due(at_ms(t), at_ms(t) - at_ms(200))) << t;
  }
  // It beats again: the next keep-alive goes at once.
  EXPECT_TRUE(g.due(at_ms(10000), Duration::millis(1)));
}

TEST(StopTimeout, ParsedFromTheUnitsEnvironment) {
  EXPECT_EQ(stop_timeout_from(nullptr), std::nullopt);
  EXPECT_EQ(stop_timeout_from(""), std::nullopt);
  EXPECT_EQ(stop_timeout_from("30s"), std::nullopt);
  EXPECT_EQ(stop_timeout_from("0"), std::nullopt);
  EXPECT_EQ(stop_timeout_from("-5"), std::nullopt);
  EXPECT_EQ(stop_timeout_from("infinity"), std::nullopt);
  EXPECT_EQ(stop_timeout_from("30"), Duration::seconds(30));
}

TEST(StopTimeout, TheDrainLeavesASecondToStop) {
  EXPECT_EQ(drain_limit(Duration::seconds(30)), Duration::seconds(29));
  EXPECT_EQ(drain_limit(Duration::seconds(3)), Duration::seconds(2));
  // Too short for a one-second margin: half of it.
  EXPECT_EQ(drain_limit(Duration::seconds(2)), Duration::seconds(1));
  EXPECT_EQ(drain_limit(Duration::seconds(1)), Duration::millis(500));
}

}  // namespace
}  // namespace srdx::ctl
