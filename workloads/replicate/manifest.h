// A file version as replication sees it: fixed-size chunks, each with a
// SHA-256, and a Merkle root over the chunk hashes (docs/replication.md).
//
// The Merkle tree follows RFC 6962's domain separation:
//   leaf(i) = SHA-256(0x00 || chunk_hash[i])
//   node    = SHA-256(0x01 || left || right)
// level by level, an odd last node promoted unchanged to the next level
// (this gives RFC 6962's tree: the left subtree is the largest power of two).
// A leaf hashes the chunk's hash, not its bytes, so that a receiver checks a
// manifest's root from the manifest alone, and a chunk against its listed hash
// before writing it. The empty file (no chunk) has root SHA-256("") as in
// RFC 6962.
//
// The manifest's binary encoding (all integers little-endian):
//   0  magic       u32  'S','R','M','F'
//   4  version     u8   1
//   5  flags       u8   0
//   6  path_len    u16  1..kMaxPathBytes
//   8  path        path_len bytes of UTF-8 (validate_path)
//      version     u64  the file version
//      size        u64  bytes
//      mtime_ns    i64  nanoseconds since the Unix epoch
//      mode        u32  permission bits (07777 at most)
//      chunk_size  u32  a power of two in [kMinChunkSize, kMaxChunkSize]
//      chunks      u64  ceil(size / chunk_size): must agree with size
//      hashes      chunks x 32 bytes
//      root        32 bytes: must equal merkle_root(hashes)
// and nothing after. The decoder takes bytes from the network: it checks
// every length against what is left before reading or allocating.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replicate/result.h"

namespace srdx::replicate {

using Hash = std::array<uint8_t, 32>;

inline constexpr uint32_t kMinChunkSize = 4u << 10;
inline constexpr uint32_t kMaxChunkSize = 16u << 20;
inline constexpr uint32_t kDefaultChunkSize = 1u << 20;
// PATH_MAX and NAME_MAX of Linux: a path longer cannot be created at DR.
inline constexpr size_t kMaxPathBytes = 4095;
inline constexpr size_t kMaxComponentBytes = 255;
// The directory of the store's own state at DR (store.h): a replicated path
// may not start with it.
inline constexpr std::string_view kStateDir = ".srdx";

inline constexpr uint32_t kManifestMagic = 0x464D5253;  // "SRMF" little-endian
inline constexpr uint8_t kManifestVersion = 1;
// The fixed part of an encoding, without path, hashes and root.
inline constexpr size_t kManifestFixedBytes = 8 + 8 + 8 + 4 + 4 + 8;

struct Manifest {
  std::string path;  // relative to the replicated root, '/'-separated
  uint64_t version = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0644;
  uint32_t chunk_size = kDefaultChunkSize;
  std::vector<Hash> chunks;
  Hash root{};
  bool operator==(const Manifest&) const = default;
};

bool valid_chunk_size(uint32_t chunk_size);
uint64_t chunk_count(uint64_t size, uint32_t chunk_size);
// Bytes in chunk `index` of a file of `size` (the last one may be short).
uint64_t chunk_length(uint64_t size, uint32_t chunk_size, uint64_t index);

Hash sha256(std::span<const uint8_t> data);
Hash merkle_root(std::span<const Hash> chunk_hashes);
std::string to_hex(const Hash& h);

// A relative path that is the same file on every site: UTF-8, '/'-separated,
// no leading '/', no empty, "." or ".." component, no NUL, not under
// kStateDir, at most kMaxPathBytes (each component kMaxComponentBytes).
Status validate_path(std::string_view path);

// Everything a decoded manifest must satisfy (validate_path, chunk size,
// chunk count against size, root against hashes).
Status validate(const Manifest& m);

std::vector<uint8_t> encode(const Manifest& m);
Result<Manifest> decode(std::span<const uint8_t> bytes);

// For people and the audit log: hashes in hex.
nlohmann::json to_json(const Manifest& m);

// Hashes an open regular file from its current offset-independent start
// (pread), one chunk buffer at a time. Size, mtime and mode come from fstat;
// a file that shrinks while being read is an error (it was being replaced).
Result<Manifest> hash_file(int fd, std::string path, uint64_t version,
                           uint32_t chunk_size = kDefaultChunkSize);
// The same on a file opened by name (O_NOFOLLOW: a symlink is refused).
Result<Manifest> hash_file(const std::string& fs_path, std::string path, uint64_t version,
                           uint32_t chunk_size = kDefaultChunkSize);

// The manifest of `fd` after bytes were appended to the file `old` describes,
// now `new_size` long: the old full chunks are taken from `old`, and only the
// old last partial chunk and what follows are read and hashed. It checks
// nothing before that: that the file only grew by appends is the caller's
// assumption to check (e.g. compare the old last full chunk's hash, or an
// inode and a journal's own sequence number). new_size < old.size is an error.
Result<Manifest> extend_manifest(const Manifest& old, int fd, uint64_t new_size,
                                 uint64_t new_version);

// The hashes of chunks first, first + 1, ... of the `size` bytes of fd, at
// most `limit` of them (all to the end by default), one chunk buffer at a
// time; appended to `out`. Shared by the store's verify.
Status hash_chunks(int fd, uint64_t size, uint32_t chunk_size, uint64_t first,
                   std::vector<Hash>& out, uint64_t limit = UINT64_MAX);

}  // namespace srdx::replicate
