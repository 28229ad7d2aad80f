// The replication protocol's messages (session.h), encoded and decoded.
// Every integer is little-endian; every message starts with
//   version u8 (1), type u8, job u64
// and then its own fields (docs/replication.md, "Protocol"). The decoder
// takes bytes from the network: it checks every length against what is left
// before reading, refuses trailing bytes, and never allocates more than the
// input justifies.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "replicate/result.h"

namespace srdx::replicate::proto {

inline constexpr uint8_t kVersion = 1;
// Longest error line carried back to the source.
inline constexpr size_t kMaxErrorBytes = 1024;
inline constexpr size_t kMaxJobNameBytes = 64;

enum class Type : uint8_t {
  offer = 1,
  state = 2,
  chunk = 3,
  chunk_ack = 4,
  commit = 5,
  committed = 6,
  barrier = 7,
  barrier_ok = 8,
  remove = 9,    // S->D: fseq, path: the file is gone at the source (answered by committed)
  list = 10,     // S->D: token, job name: which live paths does the DR hold for this job?
  listing = 11,  // D->S: token, paths, each with its live version's size, mtime and root
};
// Requests go to a sink, answers to a source.
inline bool is_request(Type t) {
  return t == Type::offer || t == Type::chunk || t == Type::commit || t == Type::barrier ||
         t == Type::remove || t == Type::list;
}
// A listing larger than this (bytes of paths) is refused: the source then
// does without it (docs/replication.md).
inline constexpr size_t kMaxListingBytes = 12u << 20;

enum class Outcome : uint8_t {
  ok = 0,          // state: chunks are needed; acks: done
  up_to_date = 1,  // state: the DR's live version is this manifest already
  refused = 2,     // the error line says why
};

// A live path's version at DR, as a listing carries it: a source that finds
// its file with this size and mtime takes it for shipped (rsync's quick
// check) instead of reading, hashing and offering it again after a restart.
struct Listed {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::array<uint8_t, 32> root{};
  bool operator==(const Listed&) const = default;
};

struct Msg {
  Type type = Type::offer;
  uint64_t job = 0;
  uint64_t fseq = 0;   // the source's number for one offer of one file version
  uint64_t value = 0;  // chunk/chunk_ack: index; state/committed: version; barrier*: token
  Outcome outcome = Outcome::ok;
  uint8_t mode = 0;                                    // offer: Mode
  std::string name;                                    // offer, list: the job's name
  std::vector<uint8_t> manifest;                       // offer: encode(Manifest)
  std::vector<std::pair<uint64_t, uint64_t>> missing;  // state: [first, count) ranges
  std::span<const uint8_t> data;                       // chunk: the bytes (points into the input)
  std::string error;                                   // state, chunk_ack, committed: why refused
  std::string path;                                    // remove
  std::vector<std::string> paths;                      // listing
  std::vector<Listed> listed;  // listing: one per path (what its live version is)
};

std::vector<uint8_t> encode(const Msg& m);
// The chunk message without copying its bytes twice: header then data.
std::vector<uint8_t> encode_chunk(uint64_t job, uint64_t fseq, uint64_t index,
                                  std::span<const uint8_t> data);
// m.data points into `bytes`.
Result<Msg> decode(std::span<const uint8_t> bytes);

// Ascending chunk indices as [first, count) ranges, and back (capped).
std::vector<std::pair<uint64_t, uint64_t>> to_ranges(const std::vector<uint64_t>& indices);

// A job name: 1..64 of [A-Za-z0-9._-], not "." or "..".
bool valid_job_name(std::string_view name);

}  // namespace srdx::replicate::proto
