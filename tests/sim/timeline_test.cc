// The goodput timeline and the dip measure, on hand-made timelines.
#include "sim/timeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srdx::sim {
namespace {

using namespace srdx::literals;

TEST(Timeline, BinsBytesByIntervalFromTheOrigin) {
  Timeline t(1_ms);
  const Time o = Time::zero() + 5_ms;
  t.add(o, o, 100);
  t.add(o, o + 999_us, 1);
  t.add(o, o + 1_ms, 10);
  t.add(o, o + 3500_us, 7);
  t.add(o, o - 1_us, 1000);  // before the origin: ignored
  EXPECT_EQ(t.bins(), (std::vector<uint64_t>{101, 10, 0, 7}));
  EXPECT_EQ(t.text(), "# interval_s 0.001\n0.000000 101\n0.001000 10\n0.002000 0\n0.003000 7\n");
}

// 1 ms bins of 100 kB (800 Mbit/s) for `n` ms.
std::vector<uint64_t> steady(size_t n) { return std::vector<uint64_t>(n, 100'000); }

TEST(Timeline, NoDipWhenGoodputHolds) {
  std::vector<uint64_t> b = steady(100);
  for (size_t i = 50; i < 100; i++) b[i] = 60'000;  // 60%: above half
  const Dip d = measure_dip(b, 1_ms, 50_ms);
  ASSERT_TRUE(d.measured);
  EXPECT_DOUBLE_EQ(d.baseline_bps, 800e6);
  EXPECT_EQ(d.longest, Duration::zero());
  EXPECT_DOUBLE_EQ(d.min_after_bps, 480e6);
}

TEST(Timeline, DipIsTheLongestStretchOfWindowsBelowHalf) {
  std::vector<uint64_t> b = steady(100);
  for (size_t i = 50; i < 60; i++) b[i] = 0;  // 10 ms of nothing
  for (size_t i = 70; i < 72; i++) b[i] = 0;  // and 2 ms more later
  const Dip d = measure_dip(b, 1_ms, 50_ms);
  ASSERT_TRUE(d.measured);
  // 5 ms windows ending at 53..62 ms hold fewer than 2.5 full bins (10 ms);
  // the later gap never takes a window below half.
  EXPECT_EQ(d.longest, 10_ms);
  EXPECT_DOUBLE_EQ(d.min_after_bps, 0.0);
}

TEST(Timeline, NotMeasuredWithoutEnoughBeforeOrAfter) {
  EXPECT_FALSE(measure_dip(steady(100), 1_ms, 8_ms).measured);    // too little before
  EXPECT_FALSE(measure_dip(steady(100), 1_ms, 200_ms).measured);  // the run ended first
  EXPECT_FALSE(measure_dip({}, 1_ms, 50_ms).measured);
}

}  // namespace
}  // namespace srdx::sim
