// What srdx-perf sends, and how the receiving side checks every byte.
//
// A run starts with one header message (mode, count, sizes, seed). Every data
// message carries its own index and the run's seed, a CRC32C, and payload
// bytes derived from (seed, index), so the receiver checks each byte of each
// message by itself and counts duplicates in a bitmap of indices:
//
//   data   [0,4) magic 'SPXD'  [4,8) crc32c of [8,len)  [8,16) index  [16,24) seed
//          [24,len) pattern(seed) from an offset derived from (seed, index)
//   header [0,4) magic 'SPXH'  [4,8) crc32c of [8,48)   [8,12) version [12,16) mode
//          [16,24) count  [24,32) size  [32,40) last_size  [40,48) seed
//   end    [0,4) magic 'SPXE'  [4,8) crc32c of [8,24)   [8,16) completed [16,24) failed
//
// The end message goes last, once the sender knows the fate of every message,
// so that a receiver missing messages the sender gave up on stops waiting.
//
// Integers are little endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace srdx::perf {

inline constexpr size_t kDataHeaderBytes = 24;
inline constexpr size_t kMinMessageBytes = kDataHeaderBytes;
inline constexpr size_t kRunHeaderBytes = 48;

enum class Mode : uint32_t { bulk = 0, pingpong = 1 };
std::string_view to_string(Mode m);

struct RunHeader {
  Mode mode = Mode::bulk;
  uint64_t count = 0;      // data messages
  uint64_t size = 0;       // bytes of each data message but the last
  uint64_t last_size = 0;  // bytes of the last one (--bytes not a multiple of --size)
  uint64_t seed = 0;
  uint64_t size_of(uint64_t index) const { return index + 1 == count ? last_size : size; }
  uint64_t total_bytes() const { return count == 0 ? 0 : (count - 1) * size + last_size; }
};

std::vector<uint8_t> encode_header(const RunHeader& h);
enum class Decoded : uint8_t { ok, not_this_kind, corrupt };
Decoded decode_header(std::span<const uint8_t> msg, RunHeader& out);

inline constexpr size_t kRunEndBytes = 24;
struct RunEnd {
  uint64_t completed = 0, failed = 0;
};
std::vector<uint8_t> encode_end(const RunEnd& e);
Decoded decode_end(std::span<const uint8_t> msg, RunEnd& out);

// The bytes a seed stands for: enough for messages up to max_size.
class Pattern {
 public:
  Pattern(uint64_t seed, size_t max_size);
  uint64_t seed() const { return seed_; }
  size_t max_size() const { return max_size_; }
  // Writes data message `index` into msg (msg.size() >= kMinMessageBytes and
  // <= max_size()).
  void fill(uint64_t index, std::span<uint8_t> msg) const;
  // Checks a data message: its magic, seed, CRC and every payload byte.
  // not_this_kind: no data magic (e.g. a header); corrupt: anything else
  // wrong (index is set when it could be read).
  Decoded check(std::span<const uint8_t> msg, uint64_t& index) const;

 private:
  size_t offset_of(uint64_t index) const;
  uint64_t seed_;
  size_t max_size_;
  std::vector<uint8_t> bytes_;
};

// Which indices arrived: exactly-once bookkeeping for up to 2^32 messages.
class IndexBitmap {
 public:
  void reserve(uint64_t count);
  // True the first time `index` is marked, false for a duplicate.
  bool mark(uint64_t index);
  bool seen(uint64_t index) const;
  uint64_t marked() const { return marked_; }

 private:
  std::vector<uint64_t> words_;
  uint64_t marked_ = 0;
};

}  // namespace srdx::perf
