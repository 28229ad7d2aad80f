#include "model.h"

#include <algorithm>
#include <cmath>

namespace srdx::turbines {

Farm::Farm(ModelOptions opt) : opt_(opt), rng_(opt.seed), t_(opt.turbines), out_(opt.turbines) {
  std::uniform_real_distribution<double> base(60, 72);
  for (Turbine& t : t_) {
    t.baseline = base(rng_);
    t.temp = t.baseline;
  }
}

const std::vector<Sample>& Farm::step() {
  std::normal_distribution<double> n01(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  // Wind: a mean-reverting random walk around 9 m/s, 0..25, with gusts.
  wind_ += 0.02 * (9 - wind_) + 0.3 * n01(rng_);
  if (u(rng_) < 0.01) wind_ += 3 * u(rng_);
  wind_ = std::clamp(wind_, 0.0, 25.0);
  for (size_t i = 0; i < t_.size(); ++i) {
    Turbine& t = t_[i];
    // Each turbine sees the farm's wind a little differently.
    const double w = std::max(0.0, wind_ + 0.5 * n01(rng_));
    double target = 0;
    if (w >= 3 && w < 25) target = std::min(16.0, (w - 3) * 16.0 / 9.0);
    t.rpm += 0.2 * (target - t.rpm) + 0.05 * n01(rng_);
    t.rpm = std::max(0.0, t.rpm);
    // Temperature: drifts to baseline plus load, overheats now and then.
    double want = t.baseline + 0.4 * t.rpm;
    if (t.overheat_left == 0 && u(rng_) < opt_.overheat_chance) {
      t.overheat_left = 12 + static_cast<uint32_t>(u(rng_) * 8);
      t.overheat_peak = 84 + 14 * u(rng_);
    }
    if (t.overheat_left > 0) {
      want = t.overheat_peak;
      --t.overheat_left;
    }
    t.temp += 0.35 * (want - t.temp) + 0.15 * n01(rng_);
    // Vibration: noise around 0.3 m/s² per rpm-ish, bursts.
    double vib = 0.5 + 0.08 * t.rpm + 0.1 * std::abs(n01(rng_));
    if (t.burst_left == 0 && u(rng_) < opt_.burst_chance) {
      t.burst_left = 2 + static_cast<uint32_t>(u(rng_) * 4);
    }
    if (t.burst_left > 0) {
      vib += 5 + 10 * u(rng_);
      --t.burst_left;
    }
    out_[i] = {t.temp, vib, t.rpm};
  }
  return out_;
}

}  // namespace srdx::turbines
