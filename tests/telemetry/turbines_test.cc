// srdx-turbines' model (apps/turbines/model.h): plausible values, overheats
// above 80 °F now and then (the demo's alarms), vibration bursts, rpm that
// follows the wind, and the same samples for the same seed.
#include <gtest/gtest.h>

#include "model.h"

namespace srdx::turbines {
namespace {

TEST(Turbines, PlausibleWithOverheatsAndBursts) {
  Farm farm({20, 7, 0.002, 0.01});
  size_t hot = 0, bursts = 0, samples = 0;
  double rpm_low_wind = 0, rpm_high_wind = 0;
  size_t low = 0, high = 0;
  for (int s = 0; s < 5000; ++s) {
    const auto& v = farm.step();
    ASSERT_EQ(v.size(), 20u);
    for (const Sample& x : v) {
      ++samples;
      EXPECT_GT(x.temperature_f, 40);
      EXPECT_LT(x.temperature_f, 110);
      EXPECT_GE(x.vibration, 0);
      EXPECT_LT(x.vibration, 25);
      EXPECT_GE(x.rpm, 0);
      EXPECT_LT(x.rpm, 20);
      hot += x.temperature_f > 80 ? 1 : 0;
      bursts += x.vibration > 4 ? 1 : 0;
      if (farm.wind() < 6) {
        rpm_low_wind += x.rpm;
        ++low;
      } else if (farm.wind() > 11) {
        rpm_high_wind += x.rpm;
        ++high;
      }
    }
  }
  // Overheats: rare but present (a few percent of samples at most).
  EXPECT_GT(hot, 0u);
  EXPECT_LT(hot, samples / 10);
  EXPECT_GT(bursts, 0u);
  EXPECT_LT(bursts, samples / 10);
  ASSERT_GT(low, 0u);
  ASSERT_GT(high, 0u);
  EXPECT_LT(rpm_low_wind / static_cast<double>(low), rpm_high_wind / static_cast<double>(high));
}

TEST(Turbines, SameSeedSameSamples) {
  Farm a({3, 42}), b({3, 42}), c({3, 43});
  bool differs = false;
  for (int s = 0; s < 100; ++s) {
    const auto va = a.step();
    const auto& vb = b.step();
    const auto& vc = c.step();
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(va[i].temperature_f, vb[i].temperature_f);
      EXPECT_EQ(va[i].rpm, vb[i].rpm);
      differs |= va[i].temperature_f != vc[i].temperature_f;
    }
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace srdx::turbines
