#include "perf/payload.h"

#include <cstring>

#include "wire.h"  // crc32c

namespace srdx::perf {
namespace {

constexpr uint32_t kDataMagic = 0x44585053;    // "SPXD" little endian
constexpr uint32_t kHeaderMagic = 0x48585053;  // "SPXH"
constexpr uint32_t kEndMagic = 0x45585053;     // "SPXE"
constexpr uint32_t kVersion = 1;
constexpr size_t kOffsets = 4096;  // distinct payload offsets into the pattern

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string_view to_string(Mode m) { return m == Mode::pingpong ? "pingpong" : "bulk"; }

std::vector<uint8_t> encode_header(const RunHeader& h) {
  std::vector<uint8_t> b(kRunHeaderBytes);
  put32(&b[0], kHeaderMagic);
  put32(&b[8], kVersion);
  put32(&b[12], static_cast<uint32_t>(h.mode));
  put64(&b[16], h.count);
  put64(&b[24], h.size);
  put64(&b[32], h.last_size);
  put64(&b[40], h.seed);
  put32(&b[4], wire::crc32c(std::span<const uint8_t>(b).subspan(8)));
  return b;
}

Decoded decode_header(std::span<const uint8_t> msg, RunHeader& out) {
  if (msg.size() < 4 || get32(msg.data()) != kHeaderMagic) return Decoded::not_this_kind;
  if (msg.size() != kRunHeaderBytes) return Decoded::corrupt;
  const uint8_t* p = msg.data();
  if (get32(p + 4) != wire::crc32c(msg.subspan(8))) return Decoded::corrupt;
  if (get32(p + 8) != kVersion) return Decoded::corrupt;
  const uint32_t mode = get32(p + 12);
  if (mode > 1) return Decoded::corrupt;
  out.mode = static_cast<Mode>(mode);
  out.count = get64(p + 16);
  out.size = get64(p + 24);
  out.last_size = get64(p + 32);
  out.seed = get64(p + 40);
  return Decoded::ok;
}

std::vector<uint8_t> encode_end(const RunEnd& e) {
  std::vector<uint8_t> b(kRunEndBytes);
  put32(&b[0], kEndMagic);
  put64(&b[8], e.completed);
  put64(&b[16], e.failed);
  put32(&b[4], wire::crc32c(std::span<const uint8_t>(b).subspan(8)));
  return b;
}

Decoded decode_end(std::span<const uint8_t> msg, RunEnd& out) {
  if (msg.size() < 4 || get32(msg.data()) != kEndMagic) return Decoded::not_this_kind;
  if (msg.size() != kRunEndBytes) return Decoded::corrupt;
  if (get32(msg.data() + 4) != wire::crc32c(msg.subspan(8))) return Decoded::corrupt;
  out.completed = get64(msg.data() + 8);
  out.failed = get64(msg.data() + 16);
  return Decoded::ok;
}

Pattern::Pattern(uint64_t seed, size_t max_size)
    : seed_(seed), max_size_(max_size), bytes_(max_size + kOffsets + 8) {
  uint64_t x = seed;
  for (size_t i = 0; i + 8 <= bytes_.size(); i += 8) put64(&bytes_[i], splitmix64(x));
}

size_t Pattern::offset_of(uint64_t index) const {
  uint64_t x = seed_ ^ (index * 0xd1342543de82ef95ULL);
  return static_cast<size_t>(splitmix64(x) % kOffsets);
}

void Pattern::fill(uint64_t index, std::span<uint8_t> msg) const {
  uint8_t* p = msg.data();
  put32(p, kDataMagic);
  put64(p + 8, index);
  put64(p + 16, seed_);
  std::memcpy(p + kDataHeaderBytes, &bytes_[offset_of(index)], msg.size() - kDataHeaderBytes);
  put32(p + 4, wire::crc32c(msg.subspan(8)));
}

Decoded Pattern::check(std::span<const uint8_t> msg, uint64_t& index) const {
  if (msg.size() < 4 || get32(msg.data()) != kDataMagic) return Decoded::not_this_kind;
  if (msg.size() < kDataHeaderBytes || msg.size() > max_size_) return Decoded::corrupt;
  const uint8_t* p = msg.data();
  index = get64(p + 8);
  if (get64(p + 16) != seed_) return Decoded::corrupt;
  if (get32(p + 4) != wire::crc32c(msg.subspan(8))) return Decoded::corrupt;
  if (std::memcmp(p + kDataHeaderBytes, &bytes_[offset_of(index)], msg.size() - kDataHeaderBytes) !=
      0) {
    return Decoded::corrupt;
  }
  return Decoded::ok;
}

void IndexBitmap::reserve(uint64_t count) {
  if (words_.size() < (count + 63) / 64) words_.resize((count + 63) / 64);
}

bool IndexBitmap::mark(uint64_t index) {
  reserve(index + 1);
  uint64_t& w = words_[index / 64];
  const uint64_t bit = uint64_t{1} << (index % 64);
  if (w & bit) return false;
  w |= bit;
  ++marked_;
  return true;
}

bool IndexBitmap::seen(uint64_t index) const {
  return index / 64 < words_.size() && (words_[index / 64] >> (index % 64)) & 1;
}

}  // namespace srdx::perf
