#include "sim/units.h"

#include <gtest/gtest.h>

#include "sim/stats.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

TEST(SimUnits, Rates) {
  uint64_t r = 0;
  EXPECT_EQ(parse_rate("10G", r), "");
  EXPECT_EQ(r, 10'000'000'000u);
  EXPECT_EQ(parse_rate("200mbit", r), "");
  EXPECT_EQ(r, 200'000'000u);
  EXPECT_EQ(parse_rate("1.5G", r), "");
  EXPECT_EQ(r, 1'500'000'000u);
  EXPECT_EQ(parse_rate("0", r), "");
  EXPECT_EQ(r, 0u);
  EXPECT_NE(parse_rate("fast", r), "");
  EXPECT_NE(parse_rate("10X", r), "");
}

TEST(SimUnits, Durations) {
  Duration d;
  EXPECT_EQ(parse_duration("10us", d), "");
  EXPECT_EQ(d, 10_us);
  EXPECT_EQ(parse_duration("1.5ms", d), "");
  EXPECT_EQ(d, 1500_us);
  EXPECT_EQ(parse_duration("250ns", d), "");
  EXPECT_EQ(d, 250_ns);
  EXPECT_EQ(parse_duration("2s", d), "");
  EXPECT_EQ(d, 2_s);
  EXPECT_EQ(parse_duration("0", d), "");
  EXPECT_EQ(d, Duration::zero());
  EXPECT_NE(parse_duration("10", d).find("missing unit"), std::string::npos);
  EXPECT_NE(parse_duration("10h", d), "");
}

TEST(SimUnits, SizesAndProbabilities) {
  uint64_t b = 0;
  EXPECT_EQ(parse_size("64KiB", b), "");
  EXPECT_EQ(b, 65536u);
  EXPECT_EQ(parse_size("64K", b), "");
  EXPECT_EQ(b, 65536u);
  EXPECT_EQ(parse_size("1MiB", b), "");
  EXPECT_EQ(b, 1u << 20);
  EXPECT_EQ(parse_size("100kB", b), "");
  EXPECT_EQ(b, 100000u);
  EXPECT_EQ(parse_size("1500", b), "");
  EXPECT_EQ(b, 1500u);
  EXPECT_NE(parse_size("12Q", b), "");
  double p = 0;
  EXPECT_EQ(parse_probability("1%", p), "");
  EXPECT_DOUBLE_EQ(p, 0.01);
  EXPECT_EQ(parse_probability("0.25", p), "");
  EXPECT_DOUBLE_EQ(p, 0.25);
  EXPECT_NE(parse_probability("1.5", p), "");
  EXPECT_NE(parse_probability("-1%", p), "");
}

TEST(SimUnits, Blackholes) {
  uint32_t path = 0;
  Duration s, e;
  EXPECT_EQ(parse_blackhole("2@5ms-20ms", path, s, e), "");
  EXPECT_EQ(path, 2u);
  EXPECT_EQ(s, 5_ms);
  EXPECT_EQ(e, 20_ms);
  EXPECT_EQ(parse_blackhole("0@1ms", path, s, e), "");
  EXPECT_EQ(e, Duration::infinite());
  EXPECT_NE(parse_blackhole("x@1ms", path, s, e), "");
  EXPECT_NE(parse_blackhole("1@5ms-2ms", path, s, e), "");
  EXPECT_NE(parse_blackhole("15ms", path, s, e), "");
  // The short form refuses what it cannot return: a direction, every path.
  EXPECT_NE(parse_blackhole("all@1ms", path, s, e), "");
  EXPECT_NE(parse_blackhole("1:a2b@1ms", path, s, e), "");
}

TEST(SimUnits, OneWayBlackholesAndEveryPath) {
  uint32_t path = 0;
  Directions dir = Directions::both;
  Duration s, e;
  EXPECT_EQ(parse_blackhole("all:a2b@10ms-300ms", path, dir, s, e), "");
  EXPECT_EQ(path, kAllPaths);
  EXPECT_EQ(dir, Directions::a_to_b);
  EXPECT_EQ(s, 10_ms);
  EXPECT_EQ(e, 300_ms);
  EXPECT_EQ(parse_blackhole("3:b2a@1ms", path, dir, s, e), "");
  EXPECT_EQ(path, 3u);
  EXPECT_EQ(dir, Directions::b_to_a);
  EXPECT_EQ(e, Duration::infinite());
  EXPECT_EQ(parse_blackhole("2@5ms-20ms", path, dir, s, e), "");
  EXPECT_EQ(path, 2u);
  EXPECT_EQ(dir, Directions::both);
  EXPECT_EQ(parse_blackhole("all:both@0-1s", path, dir, s, e), "");
  EXPECT_EQ(dir, Directions::both);
  EXPECT_NE(parse_blackhole("all:sideways@1ms", path, dir, s, e), "");
  EXPECT_NE(parse_blackhole(":a2b@1ms", path, dir, s, e), "");
  EXPECT_NE(parse_blackhole("al@1ms", path, dir, s, e), "");
  EXPECT_EQ(to_string(Directions::a_to_b), "a_to_b");
}

TEST(SimStats, NearestRankPercentiles) {
  std::vector<Duration> v;
  for (int i = 1000; i >= 1; i--) v.push_back(Duration::micros(i));
  const Percentiles p = percentiles(v);
  EXPECT_EQ(p.count, 1000u);
  EXPECT_DOUBLE_EQ(p.p50_us, 500);
  EXPECT_DOUBLE_EQ(p.p90_us, 900);
  EXPECT_DOUBLE_EQ(p.p99_us, 990);
  EXPECT_DOUBLE_EQ(p.p999_us, 999);
  EXPECT_DOUBLE_EQ(p.max_us, 1000);
  EXPECT_DOUBLE_EQ(p.mean_us, 500.5);
}

}  // namespace
}  // namespace srdx::sim
