// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// srdx packet. The CPU's CRC32C instructions when there are some (x86-64
// SSE4.2, ARMv8 CRC32; three chains at once, joined with PCLMULQDQ or PMULL
// when the CPU has them), chosen at run time; slicing-by-8 with compile-time
// tables otherwise. All paths give the same result.
#include "crc32c.h"

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>

#include "wire.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#include <nmmintrin.h>
#include <wmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
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

// The CRC32 instructions (x86-64 and ARMv8 alike) have a latency of three
// cycles and a throughput of one, so one dependent chain uses a third of the
// unit. Inputs long enough are cut into three stripes of equal length whose
// CRCs run interleaved, then joined: for stripes A, B, C of b bytes each,
// started from s, 0 and 0,
//   crc(ABC, s) = crc(A, s) * x^(16b) + crc(B, 0) * x^(8b) + crc(C, 0)  (mod P).
// Multiplying a CRC by x^(8b) mod P takes one carry-less multiply (PCLMULQDQ,
// PMULL) and one CRC32: clmul(v, x^(8b-33)) is v * x^(8b-33) * x in the
// instructions' reflected 64-bit order, and CRC32 of that from 0 multiplies
// by x^32 and reduces, which makes v * x^(8b).

// Polynomial arithmetic in the reflected domain: bit 31 is x^0.
constexpr uint32_t mul_mod_p(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ kPoly : b >> 1;  // b * x
  }
  return product;
}
constexpr uint32_t x_pow_mod_p(uint64_t e) {
  uint32_t result = 1u << 31, base = 1u << 30;  // x^0, x^1
  for (; e != 0; e >>= 1) {
    if (e & 1) result = mul_mod_p(result, base);
    base = mul_mod_p(base, base);
  }
  return result;
}
static_assert(mul_mod_p(1u << 31, 0x12345678u) == 0x12345678u, "x^0 is the unit");
static_assert(x_pow_mod_p(32) == kPoly, "x^32 mod P is P without its top term");

// Stripes of kMinWords to kMaxWords 8-byte words each. Below three stripes of
// kMinWords the join costs more than the interleaving saves.
constexpr size_t kMinWords = 4, kMaxWords = 256;
struct Join {
  uint32_t one, two;  // x^(8b - 33), x^(16b - 33) for stripes of b bytes
};
using JoinTable = std::array<Join, kMaxWords + 1>;

// v * x^(8 * bytes) mod P: the byte-at-a-time CRC over that many zero bytes.
constexpr uint32_t times_x8n(uint32_t v, size_t bytes) {
  for (; bytes > 0; --bytes) v = (v >> 8) ^ kTables[0][v & 0xffu];
  return v;
}
static_assert(times_x8n(1u << 31, 4) == x_pow_mod_p(32));

// One power from scratch, then each stripe one word longer than the last:
// x^64 and x^128 more, 24 table steps. (A power from scratch for every entry
// took clang 14 past its constexpr step limit.)
constexpr JoinTable make_join_table() {
  JoinTable t{};
  t[kMinWords] = {x_pow_mod_p(64 * kMinWords - 33), x_pow_mod_p(128 * kMinWords - 33)};
  for (size_t w = kMinWords + 1; w <= kMaxWords; ++w) {
    t[w] = {times_x8n(t[w - 1].one, 8), times_x8n(t[w - 1].two, 16)};
  }
  return t;
}
[[maybe_unused]] constexpr JoinTable kJoin = make_join_table();
static_assert(kJoin[kMaxWords].one == x_pow_mod_p(64 * kMaxWords - 33) &&
              kJoin[kMaxWords].two == x_pow_mod_p(128 * kMaxWords - 33));

// One set of loops over the CPU's primitives: crc8/16/32/64(state, data) as
// the instructions define them, and clmul(a, b), the low 64 bits of the
// carry-less product of two 32-bit values.
#if defined(__x86_64__)
#define SRDX_CRC32C_HW 1
#define SRDX_CRC_TARGET __attribute__((target("sse4.2")))
#define SRDX_CLMUL_TARGET __attribute__((target("sse4.2,pclmul")))
SRDX_CRC_TARGET inline uint32_t crc8(uint32_t s, uint8_t v) { return _mm_crc32_u8(s, v); }
SRDX_CRC_TARGET inline uint32_t crc16(uint32_t s, uint16_t v) { return _mm_crc32_u16(s, v); }
SRDX_CRC_TARGET inline uint32_t crc32(uint32_t s, uint32_t v) { return _mm_crc32_u32(s, v); }
SRDX_CRC_TARGET inline uint32_t crc64(uint32_t s, uint64_t v) {
  return static_cast<uint32_t>(_mm_crc32_u64(s, v));
}
SRDX_CLMUL_TARGET inline uint64_t clmul(uint32_t a, uint32_t b) {
  const __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                            _mm_cvtsi32_si128(static_cast<int>(b)), 0);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(prod));
}
bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
bool detect_clmul() { return detect_hardware() && __builtin_cpu_supports("pclmul"); }
#elif defined(__aarch64__)
// Chosen at run time too: Debian builds for plain ARMv8-A, where the CRC32
// instructions are optional (Graviton has them, and PMULL).
#define SRDX_CRC32C_HW 1
#define SRDX_CRC_TARGET __attribute__((target("+crc")))
#define SRDX_CLMUL_TARGET __attribute__((target("+crc+crypto")))
SRDX_CRC_TARGET inline uint32_t crc8(uint32_t s, uint8_t v) { return __crc32cb(s, v); }
SRDX_CRC_TARGET inline uint32_t crc16(uint32_t s, uint16_t v) { return __crc32ch(s, v); }
SRDX_CRC_TARGET inline uint32_t crc32(uint32_t s, uint32_t v) { return __crc32cw(s, v); }
SRDX_CRC_TARGET inline uint32_t crc64(uint32_t s, uint64_t v) { return __crc32cd(s, v); }
SRDX_CLMUL_TARGET inline uint64_t clmul(uint32_t a, uint32_t b) {
  return vgetq_lane_u64(vreinterpretq_u64_p128(vmull_p64(a, b)), 0);
}
bool detect_hardware() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
bool detect_clmul() { return detect_hardware() && (getauxval(AT_HWCAP) & HWCAP_PMULL) != 0; }
#endif

#if defined(SRDX_CRC32C_HW)
SRDX_CRC_TARGET inline uint32_t tail_hardware(const uint8_t* p, size_t n, uint32_t s) {
  for (; n >= 8; p += 8, n -= 8) s = crc64(s, load_le64(p));
  if (n & 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    s = crc32(s, v);
    p += 4;
  }
  if (n & 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    s = crc16(s, v);
    p += 2;
  }
  if (n & 1) s = crc8(s, *p);
  return s;
}

SRDX_CRC_TARGET uint32_t raw_hardware_serial(const uint8_t* p, size_t n, uint32_t s) {
  return tail_hardware(p, n, s);
}

SRDX_CLMUL_TARGET inline uint32_t times_x8b(uint32_t crc, uint32_t k) {
  return crc64(0, clmul(crc, k));
}

SRDX_CLMUL_TARGET uint32_t raw_hardware(const uint8_t* p, size_t n, uint32_t s) {
  while (n >= 3 * 8 * kMinWords) {
    const size_t words = std::min(n / 24, kMaxWords), b = words * 8;
    uint32_t ca = s, cb = 0, cc = 0;
    for (const uint8_t* q = p; q != p + b; q += 8) {
      ca = crc64(ca, load_le64(q));
      cb = crc64(cb, load_le64(q + b));
      cc = crc64(cc, load_le64(q + 2 * b));
    }
    s = times_x8b(ca, kJoin[words].two) ^ times_x8b(cb, kJoin[words].one) ^ cc;
    p += 3 * b;
    n -= 3 * b;
  }
  return tail_hardware(p, n, s);
}

// A packet's checksum: the bytes before the field, the field as zero, the rest,
// without three calls through the dispatch pointer.
SRDX_CLMUL_TARGET uint32_t raw_hole_hardware(const uint8_t* p, size_t n, size_t hole) {
  uint32_t s = tail_hardware(p, hole, ~0u);
  s = crc32(s, 0);
  return raw_hardware(p + hole + 4, n - hole - 4, s);
}
#else
uint32_t raw_hardware(const uint8_t* p, size_t n, uint32_t s) { return raw_portable(p, n, s); }
uint32_t raw_hardware_serial(const uint8_t* p, size_t n, uint32_t s) {
  return raw_portable(p, n, s);
}
bool detect_hardware() { return false; }
bool detect_clmul() { return false; }
#endif

using RawFn = uint32_t (*)(const uint8_t*, size_t, uint32_t);
RawFn pick() {
  if (detect_clmul()) return raw_hardware;
  return detect_hardware() ? raw_hardware_serial : raw_portable;
}

// The public value is the register inverted, and a continuation starts from
// the previous public value inverted back: crc32c(b, crc32c(a)) == crc32c(ab).
inline uint32_t run(RawFn fn, std::span<const uint8_t> bytes, uint32_t crc) {
  return ~fn(bytes.data(), bytes.size(), ~crc);
}

// The implementation, chosen on the first call (from any thread, at any time,
// static initialisation included: the pointers start at constants); a relaxed
// load is a plain load, cheaper than a guarded local static.
using RawHoleFn = uint32_t (*)(const uint8_t*, size_t, size_t);
uint32_t raw_first(const uint8_t* p, size_t n, uint32_t s);
uint32_t raw_hole_first(const uint8_t* p, size_t n, size_t hole);
std::atomic<RawFn> g_fn{raw_first};
std::atomic<RawHoleFn> g_hole_fn{raw_hole_first};

uint32_t raw_hole_generic(const uint8_t* p, size_t n, size_t hole) {
  static constexpr uint8_t kZero[4] = {};
  const RawFn fn = g_fn.load(std::memory_order_relaxed);
  uint32_t s = fn(p, hole, ~0u);
  s = fn(kZero, sizeof kZero, s);
  return fn(p + hole + sizeof kZero, n - hole - sizeof kZero, s);
}

void choose_once() {
  const RawFn fn = pick();
  RawHoleFn hole = raw_hole_generic;
#if defined(SRDX_CRC32C_HW)
  if (fn == raw_hardware) hole = raw_hole_hardware;
#endif
  g_fn.store(fn, std::memory_order_relaxed);
  g_hole_fn.store(hole, std::memory_order_relaxed);
}
uint32_t raw_first(const uint8_t* p, size_t n, uint32_t s) {
  choose_once();
  return g_fn.load(std::memory_order_relaxed)(p, n, s);
}
uint32_t raw_hole_first(const uint8_t* p, size_t n, size_t hole) {
  choose_once();
  return g_hole_fn.load(std::memory_order_relaxed)(p, n, hole);
}

}  // namespace

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(g_fn.load(std::memory_order_relaxed), bytes, crc);
}

uint32_t crc32c_hole(std::span<const uint8_t> bytes, size_t hole) {
  return ~g_hole_fn.load(std::memory_order_relaxed)(bytes.data(), bytes.size(), hole);
}

namespace crc32c_impl {
uint32_t portable(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(raw_portable, bytes, crc);
}
uint32_t hardware(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(raw_hardware, bytes, crc);
}
uint32_t hardware_serial(std::span<const uint8_t> bytes, uint32_t crc) {
  return run(raw_hardware_serial, bytes, crc);
}
bool hardware_available() { return detect_hardware(); }
bool interleaved_available() { return detect_clmul(); }
}  // namespace crc32c_impl

}  // namespace srdx::wire
