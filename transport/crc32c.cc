// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// srdx packet. The CPU's CRC32C instruction when there is one (x86-64 SSE4.2,
// chosen at run time; ARMv8 CRC32, chosen at compile time), slicing-by-8 with
// compile-time tables otherwise. All paths give the same result.
#include "crc32c.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#include "wire.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define SRDX_CRC32C_X86 1
#elif defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define SRDX_CRC32C_ARM 1
#endif

namespace srdx::wire {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // 0x1EDC6F41 bit-reversed

// kTables[0] is the classic byte-at-a-time table; kTables[k][b] is the CRC of
// byte b followed by k zero bytes, which lets 8 bytes be folded at once.
using Tables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xffu];
  }
  return t;
}
constexpr Tables kTables = make_tables();
static_assert(kTables[0][1] == 0xF26B8303u && kTables[0][128] == kPoly);

// Little-endian 64-bit load from any alignment: reflected CRCs consume the
// lowest-addressed byte first.
inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// The loops below work on the raw register value (already inverted).
uint32_t raw_portable(const uint8_t* p, size_t n, uint32_t s) {
  const auto& t = kTables;
  for (; n >= 8; p += 8, n -= 8) {
    const uint64_t w = load_le64(p) ^ s;
    s = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
        t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
  }
  for (; n > 0; ++p, --n) s = (s >> 8) ^ t[0][(s ^ *p) & 0xff];
  return s;
}

#if defined(SRDX_CRC32C_X86)
__attribute__((target("sse4.2"))) uint32_t raw_hardware(const uint8_t* p, size_t n, uint32_t s) {
  uint64_t s64 = s;
  for (; n >= 8; p += 8, n -= 8) s64 = _mm_crc32_u64(s64, load_le64(p));
  s = static_cast<uint32_t>(s64);
  for (; n > 0; ++p, --n) s = _mm_crc32_u8(s, *p);
  return s;
}
bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#elif defined(SRDX_CRC32C_ARM)
uint32_t raw_hardware(const uint8_t* p, size_t n, uint32_t s) {
  for (; n >= 8; p += 8, n -= 8) s = __crc32cd(s, load_le64(p));
  for (; n > 0; ++p, --n) s = __crc32cb(s, *p);
  return s;
}
bool detect_hardware() { return true; }
#else
uint32_t raw_hardware(const uint8_t* p, size_t n, uint32_t s) { return raw_portable(p, n, s); }
bool detect_hardware() { return false; }
#endif

using RawFn = uint32_t (*)(const uint8_t*, size_t, uint32_t);
RawFn pick() { return detect_hardware() ? raw_hardware : raw_portable; }

// The public value is the register inverted, and a continuation starts from
// the previous public value inverted back: crc32c(b, crc32c(a)) == crc32c(ab).
inline uint32_t run(RawFn fn, std::span<const uint8_t> bytes, uint32_t crc) {
  return ~fn(bytes.data(), bytes.size(), ~crc);
}

}  // namespace

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
  static const RawFn fn = pick();
  return run(fn, bytes, crc);
}

namespace crc32c_impl {
uint32_t portable(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(raw_portable, bytes, crc);
}
uint32_t hardware(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(raw_hardware, bytes, crc);
}
bool hardware_available() { return detect_hardware(); }
}  // namespace crc32c_impl

}  // namespace srdx::wire
