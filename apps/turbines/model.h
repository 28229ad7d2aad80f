// The simulated wind farm of srdx-turbines: one wind speed for the farm
// (a bounded random walk, gusts), and per turbine:
//   - rpm follows the wind: 0 below cut-in (3 m/s), rising to rated speed
//     (about 16 rpm at 12 m/s), then held; with a little noise and inertia;
//   - temperature (°F) drifts around a per-turbine baseline (60-72 °F) that
//     rises with load, and now and then an overheat episode climbs above
//     80 °F for a dozen samples and cools down;
//   - vibration (m/s²) is small with noise, with short bursts (5-15 m/s²).
// Deterministic for a seed: the same seed gives the same samples.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace srdx::turbines {

struct Sample {
  double temperature_f = 0, vibration = 0, rpm = 0;
};

struct ModelOptions {
  uint32_t turbines = 10;
  uint64_t seed = 1;
  // Per turbine and sample: chance an overheat episode starts, and a burst.
  double overheat_chance = 0.002;
  double burst_chance = 0.01;
};

class Farm {
 public:
  explicit Farm(ModelOptions opt);
  // One sample of every turbine (one tick of the publisher).
  const std::vector<Sample>& step();
  double wind() const { return wind_; }

 private:
  struct Turbine {
    double baseline = 65, temp = 65, rpm = 0;
    uint32_t overheat_left = 0, burst_left = 0;
    double overheat_peak = 90;
  };
  ModelOptions opt_;
  std::mt19937_64 rng_;
  double wind_ = 8;
  std::vector<Turbine> t_;
  std::vector<Sample> out_;
};

}  // namespace srdx::turbines
