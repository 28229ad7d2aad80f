// Bytes for the replication core's tests: a pattern that differs per seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace srdx::replicate::testdata {

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed = 1) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

}  // namespace srdx::replicate::testdata
