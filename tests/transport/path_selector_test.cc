// PathSelector: spraying over entropy slots. Fixed seeds make the random
// draws repeatable; the assertions are about what the choice avoids and how
// slots are replaced, with literal RTTs and RTOs.
#include "path_selector.h"

#include <gtest/gtest.h>

#include <array>

namespace srdx {
namespace {

using namespace srdx::literals;

const Time kT0 = Time::zero() + 1_ms;

// Default timers: rto_min 50us, rto_initial 1ms, rto_max 20ms.
struct Fixture {
  explicit Fixture(uint32_t slots, uint64_t seed = 7) : rng(seed), ps(slots, rng, cfg) {}
  EndpointConfig cfg;
  Rng rng;
  PathSelector ps;
};

void sample(PathSelector& ps, uint16_t slot, Duration rtt) {
  uint64_t seq = ps.on_sent(slot);
  ps.on_acked(slot, seq, rtt);
}

TEST(PathSelector, SlotsStartWithDistinctNonzeroEntropies) {
  Fixture f(16);
  for (uint16_t i = 0; i < 16; ++i) {
    EXPECT_NE(f.ps.slot(i).entropy, 0);
    for (uint16_t j = 0; j < i; ++j) EXPECT_NE(f.ps.slot(i).entropy, f.ps.slot(j).entropy);
  }
}

TEST(PathSelector, SameSeedSameEntropies) {
  Fixture a(8, 99), b(8, 99), c(8, 100);
  int differ = 0;
  for (uint16_t i = 0; i < 8; ++i) {
    EXPECT_EQ(a.ps.slot(i).entropy, b.ps.slot(i).entropy);
    differ += a.ps.slot(i).entropy != c.ps.slot(i).entropy;
  }
  EXPECT_GT(differ, 0);
}

TEST(PathSelector, ChooseNeverReturnsAvoid) {
  Fixture f(4);
  std::array<int, 4> picks{};
  for (int i = 0; i < 1000; ++i) ++picks[f.ps.choose(1, kT0)];
  EXPECT_EQ(picks[1], 0);
  EXPECT_GT(picks[0], 0);
  EXPECT_GT(picks[2], 0);
  EXPECT_GT(picks[3], 0);
}

TEST(PathSelector, AvoidIsIgnoredWithASingleSlot) {
  Fixture f(1);
  EXPECT_EQ(f.ps.choose(0, kT0), 0);
}

TEST(PathSelector, AvoidWithTwoSlotsPicksTheOther) {
  Fixture f(2);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(f.ps.choose(0, kT0), 1);
}

TEST(PathSelector, PenalisedSlotIsSkippedUntilItsRtoPasses) {
  Fixture f(4);
  f.ps.on_sent(2);
  f.ps.on_timeout(2, 0, kT0);
  // No RTT yet: rto_initial 1ms, doubled by the one timeout.
  EXPECT_EQ(f.ps.rto(2), 2_ms);
  std::array<int, 4> picks{};
  for (int i = 0; i < 1000; ++i) ++picks[f.ps.choose(PathSelector::kNone, kT0 + 1999_us)];
  EXPECT_EQ(picks[2], 0);
  // Usable again: a little costlier (it lost a packet), so it is chosen when
  // the others are busier.
  for (uint16_t s : {0, 1, 3}) f.ps.on_sent(s);
  picks = {};
  for (int i = 0; i < 1000; ++i) ++picks[f.ps.choose(PathSelector::kNone, kT0 + 2_ms)];
  EXPECT_EQ(picks[2], 1000);
}

TEST(PathSelector, AllPenalisedStillChoosesOne) {
  Fixture f(2);
  f.ps.on_timeout(0, 0, kT0);
  f.ps.on_timeout(1, 0, kT0);
  uint16_t c = f.ps.choose(0, kT0);
  EXPECT_EQ(c, 1);
}

TEST(PathSelector, SlowSlotGetsFewerPicks) {
  Fixture f(4, 12345);
  sample(f.ps, 0, 100_us);
  sample(f.ps, 1, 10_us);
  sample(f.ps, 2, 10_us);
  sample(f.ps, 3, 10_us);
  std::array<int, 4> picks{};
  for (int i = 0; i < 4000; ++i) ++picks[f.ps.choose(PathSelector::kNone, kT0)];
  // Four slots are fewer than kPathChoices: every choice looks at all of
  // them, and the slow one never wins while the others are as empty.
  EXPECT_EQ(picks[0], 0);
  for (int s = 1; s < 4; ++s) EXPECT_GT(picks[s], 4000 / 8);
}

// 16 slots, 15 of them with packets in flight (on busy paths) and one empty
// (the only slot of an idle path): the empty one is in the kPathChoices = 8
// slots looked at half of the time, and wins every time it is. Two random
// choices would find it about one time in eight.
TEST(PathSelector, TheOneIdleSlotIsFoundAmongMany) {
  static_assert(tuning::kPathChoices == 8);
  Fixture f(16, 3);
  for (uint16_t s = 0; s < 16; ++s) {
    sample(f.ps, s, 100_us);
    if (s != 9) f.ps.on_sent(s);
  }
  std::array<int, 16> picks{};
  for (int i = 0; i < 4000; ++i) ++picks[f.ps.choose(PathSelector::kNone, kT0)];
  EXPECT_GT(picks[9], 4000 * 4 / 10);
  EXPECT_LT(picks[9], 4000 * 6 / 10);
}

TEST(PathSelector, BusySlotGetsFewerPicks) {
  Fixture f(4, 5);
  for (int i = 0; i < 20; ++i) f.ps.on_sent(3);  // 20 packets in flight on slot 3
  std::array<int, 4> picks{};
  for (int i = 0; i < 4000; ++i) ++picks[f.ps.choose(PathSelector::kNone, kT0)];
  EXPECT_LT(picks[3], 4000 / 10);
}

TEST(PathSelector, TwoConsecutiveTimeoutsReplaceTheEntropy) {
  Fixture f(4);
  const uint16_t e0 = f.ps.slot(1).entropy;
  f.ps.on_sent(1);
  f.ps.on_sent(1);
  f.ps.on_timeout(1, 0, kT0);
  EXPECT_EQ(f.ps.slot(1).generation, 0u);
  EXPECT_EQ(f.ps.slot(1).entropy, e0);
  f.ps.on_timeout(1, 0, kT0 + 2_ms);
  EXPECT_EQ(f.ps.slot(1).generation, 1u);
  EXPECT_NE(f.ps.slot(1).entropy, e0);
  EXPECT_EQ(f.ps.replacements(), 1u);
  // The fresh entropy starts without penalty and without backoff.
  EXPECT_EQ(f.ps.slot(1).consecutive_timeouts, 0u);
  EXPECT_EQ(f.ps.slot(1).timeouts, 2u);
  for (uint16_t i = 0; i < 4; ++i) {
    if (i != 1) {
      EXPECT_NE(f.ps.slot(i).entropy, f.ps.slot(1).entropy);
    }
  }
}

TEST(PathSelector, TimeoutsOfAnOlderGenerationDoNotCount) {
  Fixture f(4);
  for (int i = 0; i < 4; ++i) f.ps.on_sent(1);
  f.ps.on_timeout(1, 0, kT0);
  f.ps.on_timeout(1, 0, kT0);  // replaced: generation 1
  const uint16_t e1 = f.ps.slot(1).entropy;
  f.ps.on_timeout(1, 0, kT0 + 1_ms);  // late packets from the old entropy
  f.ps.on_timeout(1, 0, kT0 + 1_ms);
  EXPECT_EQ(f.ps.slot(1).generation, 1u);
  EXPECT_EQ(f.ps.slot(1).entropy, e1);
  EXPECT_EQ(f.ps.slot(1).consecutive_timeouts, 0u);
  EXPECT_EQ(f.ps.slot(1).lost, 4u);  // still counted as lost packets
  EXPECT_EQ(f.ps.replacements(), 1u);
}

TEST(PathSelector, AnAckBetweenTimeoutsPreventsReplacement) {
  Fixture f(4);
  f.ps.on_sent(2);
  f.ps.on_timeout(2, 0, kT0);
  sample(f.ps, 2, 10_us);
  f.ps.on_sent(2);
  f.ps.on_timeout(2, 0, kT0 + 1_ms);
  EXPECT_EQ(f.ps.slot(2).generation, 0u);
  EXPECT_EQ(f.ps.replacements(), 0u);
}

TEST(PathSelector, HighLossReplacesAfterEnoughPackets) {
  Fixture f(4);
  const uint16_t e0 = f.ps.slot(0).entropy;
  for (int i = 0; i < 16; ++i) f.ps.on_sent(0);
  // loss_ewma after k losses: 1 - (15/16)^k; above 0.2 from k = 4.
  for (int k = 1; k <= 3; ++k) {
    f.ps.on_lost(0, kT0);
    ASSERT_EQ(f.ps.slot(0).generation, 0u) << k;
  }
  f.ps.on_lost(0, kT0);
  EXPECT_EQ(f.ps.slot(0).generation, 1u);
  EXPECT_NE(f.ps.slot(0).entropy, e0);
  EXPECT_EQ(f.ps.slot(0).lost, 4u);
}

TEST(PathSelector, HighLossOnFewPacketsDoesNotReplace) {
  Fixture f(4);
  for (int i = 0; i < 15; ++i) f.ps.on_sent(0);
  for (int i = 0; i < 15; ++i) f.ps.on_lost(0, kT0);
  EXPECT_EQ(f.ps.slot(0).generation, 0u);
}

TEST(PathSelector, ReorderingThresholdIsPerSlot) {
  Fixture f(4);
  const uint64_t s0 = f.ps.on_sent(2);
  for (int i = 0; i < 3; ++i) f.ps.on_sent(2);
  f.ps.on_acked(2, 2, 10_us);
  EXPECT_FALSE(f.ps.overtaken(2, s0, 3));
  f.ps.on_acked(2, 3, 10_us);
  EXPECT_TRUE(f.ps.overtaken(2, s0, 3));
  EXPECT_FALSE(f.ps.overtaken(1, 0, 3));  // another slot saw nothing
}

TEST(PathSelector, RtoBeforeAnySampleIsRtoInitial) {
  Fixture f(4);
  EXPECT_EQ(f.ps.rto(0), 1_ms);
  EXPECT_EQ(f.ps.srtt(), 1_ms);
  EXPECT_FALSE(f.ps.has_rtt());
}

// RTO = srtt + 4 x rttvar + ack_delay (10us), at least rto_min (50us).
TEST(PathSelector, RtoIsSrttPlusFourRttvarPlusAckDelayWithTheFloor) {
  Fixture f(4);
  sample(f.ps, 0, 100_us);  // srtt 100us, rttvar 50us
  EXPECT_EQ(f.ps.rto(0), 310_us);
  // A slot without samples uses twice the connection's srtt (+ ack_delay),
  // 210us, but not less than the connection's own srtt + 4 x rttvar (+
  // ack_delay): 310us.
  EXPECT_EQ(f.ps.rto(1), 310_us);
  Fixture g(4);
  sample(g.ps, 0, 10_us);  // 10 + 4 x 5 + 10 = 40us: below rto_min
  EXPECT_EQ(g.ps.rto(0), 50_us);
  EXPECT_EQ(g.ps.rto(1), 50_us);
}

// A steady slot's own RTO is short, but when another path's delay differs
// (a queue there), the connection's spread of RTTs bounds every slot's RTO
// from below: sprayed packets of any slot may meet that queue next.
TEST(PathSelector, RtoIsAtLeastTheConnectionsSpreadOfRtts) {
  Fixture f(4);
  for (int i = 0; i < 64; ++i) sample(f.ps, 0, 100_us);
  // Slot 0 and the connection: srtt 100us, rttvar decayed to 0.
  EXPECT_EQ(f.ps.slot(0).rttvar, Duration::zero());
  EXPECT_EQ(f.ps.rto(0), 160_us);  // 100 + max(0, 100 / 2) + 10
  sample(f.ps, 1, 500_us);
  // Connection: srtt (7 x 100 + 500) / 8 = 150us, rttvar (0 + 400) / 4 = 100us:
  // 150 + 4 x 100 + 10 = 560us for slot 0, whose own estimate still says 160.
  EXPECT_EQ(f.ps.srtt(), 150_us);
  EXPECT_EQ(f.ps.rto(0), 560_us);
  // Slot 1's own (500 + 4 x 250 + 10) is the larger there.
  EXPECT_EQ(f.ps.rto(1), 1510_us);
}

TEST(PathSelector, SecondSampleSmoothsSrttAndRttvar) {
  Fixture f(4);
  sample(f.ps, 0, 100_us);
  sample(f.ps, 0, 180_us);
  // srtt = (7 x 100 + 180) / 8 = 110; rttvar = (3 x 50 + 80) / 4 = 57.5
  EXPECT_EQ(f.ps.slot(0).srtt, 110_us);
  EXPECT_EQ(f.ps.slot(0).rttvar, Duration::nanos(57500));
  EXPECT_EQ(f.ps.slot(0).min_rtt, 100_us);
  EXPECT_EQ(f.ps.rto(0), 350_us);
}

TEST(PathSelector, TimeoutDoublesRtoUpToTheCap) {
  Fixture f(4);
  sample(f.ps, 0, 100_us);
  f.ps.on_sent(0);
  f.ps.on_timeout(0, 0, kT0);
  EXPECT_EQ(f.ps.rto(0), 620_us);

  f.cfg.rto_max = 500_us;  // the selector reads the live config
  EXPECT_EQ(f.ps.rto(0), 500_us);
}

TEST(PathSelector, RtoInitialBacksOffAndCaps) {
  Fixture f(4);
  f.cfg.rto_max = 1500_us;
  f.ps.on_sent(3);
  f.ps.on_timeout(3, 0, kT0);
  EXPECT_EQ(f.ps.rto(3), 1500_us);  // 2ms capped
}

TEST(PathSelector, MinRtoIsTheSmallestSlotRto) {
  Fixture f(2);
  EXPECT_EQ(f.ps.min_rto(), 1_ms);  // rto_initial until refreshed
  for (int i = 0; i < 64; ++i) sample(f.ps, 0, 100_us);
  f.ps.refresh(kT0);
  // slot 0: 100 + 100 / 2 + 10 = 160us; slot 1: 2 x srtt + ack_delay = 210us.
  EXPECT_EQ(f.ps.min_rto(), 160_us);
}

}  // namespace
}  // namespace srdx
