// A small deterministic pseudo-random generator (splitmix64). The core draws
// fresh path entropies from it; seeded from EndpointConfig::seed, so runs
// replay exactly.
#pragma once

#include <cstdint>

namespace srdx {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0. A power of two (the usual slot count) is
  // masked instead of divided: the same value, without a 64-bit division.
  uint64_t below(uint64_t n) {
    const uint64_t r = next();
    return (n & (n - 1)) == 0 ? r & (n - 1) : r % n;
  }

 private:
  uint64_t s_;
};

}  // namespace srdx
