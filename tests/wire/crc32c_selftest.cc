// CRC32C self-test without GoogleTest, so that it also builds for other CPUs
// with nothing but a cross compiler (scripts/check-arm64 runs it on arm64
// under qemu): every implementation this CPU offers against the portable one,
// over every length up to 300 and random ones past two jumbo frames, from
// every alignment, plus the checksum-field hole. Exit status 0 when all agree.
#include <cstdio>
#include <random>
#include <span>
#include <vector>

#include "crc32c.h"
#include "wire.h"

using namespace srdx::wire;

int main() {
  std::mt19937_64 rng(42);
  std::vector<uint8_t> buf(20000 + 8);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const bool hw = crc32c_impl::hardware_available();
  const bool wide = crc32c_impl::interleaved_available();
  std::printf("crc32c: instructions %s, interleaved %s\n", hw ? "yes" : "no", wide ? "yes" : "no");

  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  int bad = crc32c(check) == 0xE3069283u ? 0 : 1;
  if (bad) std::printf("check value wrong: %08x\n", crc32c(check));
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t off = rng() % 8, len = iter < 300 ? iter : rng() % 20000;
    const uint32_t seed = iter % 2 ? static_cast<uint32_t>(rng()) : 0;
    const std::span<const uint8_t> s(buf.data() + off, len);
    const uint32_t want = crc32c_impl::portable(s, seed);
    const struct {
      const char* name;
      bool present;
      uint32_t got;
    } results[] = {
        {"dispatched", true, crc32c(s, seed)},
        {"serial", hw, hw ? crc32c_impl::hardware_serial(s, seed) : 0},
        {"interleaved", wide, wide ? crc32c_impl::hardware(s, seed) : 0},
    };
    for (const auto& r : results) {
      if (r.present && r.got != want) {
        if (++bad <= 10)
          std::printf("%s: length %zu offset %zu: %08x, want %08x\n", r.name, len, off, r.got,
                      want);
      }
    }
    if (len >= 12) {
      std::vector<uint8_t> zeroed(s.begin(), s.end());
      zeroed[8] = zeroed[9] = zeroed[10] = zeroed[11] = 0;
      if (crc32c_hole(s, 8) != crc32c(zeroed) && ++bad <= 10) {
        std::printf("hole: length %zu offset %zu\n", len, off);
      }
    }
  }
  std::printf("crc32c: %s\n", bad ? "MISMATCH" : "all implementations agree");
  return bad ? 1 : 0;
}
