// The DR side's store: everything replication does on disk under one root
// directory. The replication protocol feeds it manifests and chunks; it
// answers which chunks it still needs, and makes a version visible only once
// it is complete, verified and durable.
//
// On-disk layout under root (docs/replication.md, "On-disk layout at DR"):
//   <path>                                 the live version of each file
//   .srdx/staging/<id>                     a version being received; <id> is
//                                          hex(SHA-256(path))[0..32] "." version
//   .srdx/staging/<id>.manifest            its manifest (encode())
//   .srdx/staging/<id>.progress            one byte per chunk, 1: verified and
//                                          durable (the resume record)
//   .srdx/versions/<path>/<v>.manifest     the manifest of every kept version,
//                                          the live one included
//   .srdx/versions/<path>/<v>              the bytes of a kept older version (a
//                                          hard link to the file that was live)
//   .srdx/quarantine/<id>.<n>/{data,manifest.json,reason}
//                                          a staged version that failed
//                                          verification, and why
// The live version of a path is its highest <v>.manifest; its bytes are
// <path>. Paths are validated (validate_path: no "..", no absolute path, not
// under .srdx) and every directory is opened component by component with
// O_NOFOLLOW|O_DIRECTORY relative to the one before (an openat walk from
// root): a symlink or a non-directory planted on the way is refused, never
// followed, so nothing is read or written outside root.
//
// Not thread-safe: one store per root, used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "replicate/manifest.h"
#include "replicate/result.h"
#include "replicate/writer.h"

namespace srdx::replicate {

enum class Durability : uint8_t {
  durable,   // write_chunk reports success after fdatasync: acknowledged = on disk
  received,  // no sync per chunk (commit still syncs before the rename)
};

struct StoreOptions {
  Durability durability = Durability::durable;
  // Versions of a path kept, the live one included (restore reaches these).
  uint32_t keep_versions = 5;
  // null: make_default_writer() (io_uring, else pwrite).
  std::shared_ptr<BlockWriter> writer;
  // Group sync: no operation syncs on its own; the caller gathers many
  // (chunks of many files, commits of many files) and makes them durable
  // together with Store::flush(), then settle()s the chunks and publish()es
  // the sealed versions, flushes again and only then acknowledges anything.
  // A few syncs per group instead of a dozen per file: what makes a tree of
  // small files (DICOM, HL7) go at disk speed (docs/replication.md).
  bool group_sync = false;
  // For a tool beside a running receiver (srdxctl verify, restore): nothing
  // is created and no crash leftover is finished or dropped (that is the
  // receiver's, and its transfers may be in flight).
  bool read_only = false;
};

struct VersionInfo {
  uint64_t version = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  Hash root{};
  bool live = false;
};

struct Problem {
  std::string path;
  uint64_t version = 0;
  std::string what;
};

// What to restore: a version, or the newest version whose source mtime is at
// or before a time (the primary's state at that moment); neither: the live one.
struct RestorePoint {
  std::optional<uint64_t> version;
  std::optional<int64_t> at_or_before_mtime_ns;
};

struct Restored {
  std::string path;
  uint64_t version = 0;
  Hash root{};  // the target's re-hashed root, equal to the manifest's
};

class Store;

// A version being received (Store::begin). Move-only; destroying it without
// commit() leaves the staging file and its progress record for a resume. It
// must not outlive its Store. A Staging from a failed begin() is empty: only
// destroy it.
class Staging {
 public:
  Staging(Staging&&) noexcept;
  Staging& operator=(Staging&&) noexcept;
  ~Staging();

  const Manifest& manifest() const;
  // Chunk indices not yet verified and durable, ascending (with group sync:
  // not yet written; settle() after a flush makes the written ones durable).
  std::vector<uint64_t> missing_chunks() const;
  // Chunks begin() copied from the previous version instead of waiting for
  // them (an append-only file's unchanged prefix).
  uint64_t chunks_copied() const;
  // Checks bytes against the manifest's hash of chunk `index` first: a wrong
  // length or hash writes nothing. Success means written, and in durable mode
  // synced. A chunk already present is accepted again without a write.
  Status write_chunk(uint64_t index, std::span<const uint8_t> bytes);
  // Group sync: counts the chunks written since the last settle() as present
  // (their progress record); call after a Store::flush() made them durable.
  Status settle();
  // Re-reads the staged file against every chunk hash and the Merkle root,
  // syncs it, renames it into place and syncs the directory; the previous
  // live version moves to versions/, and versions beyond keep_versions are
  // deleted. A verification failure quarantines the staged file (reason
  // kept) and returns hash_mismatch. The Staging is spent after a success or a
  // quarantine.
  Status commit();
  // commit() in three steps, for group sync: seal() verifies and stamps the
  // staged file; after a Store::flush(), publish() renames it into place and
  // writes its manifest; after another flush(), cleanup() drops the staging
  // leftovers and old versions. (commit() = seal, sync, publish, cleanup.)
  Status seal();
  Status publish();
  Status cleanup();

 private:
  friend class Store;
  struct Impl;
  explicit Staging(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (creating .srdx/ and its folders) the store at root, which must
  // exist and be a directory. Finishes a commit a crash interrupted after its
  // rename, and drops or repairs other staging leftovers (not read_only).
  static Result<std::unique_ptr<Store>> open(const std::string& root, StoreOptions opt = {});
  ~Store();

  // Starts, or resumes, receiving version m.version of m.path. A staging
  // file of the same path and version with the same manifest is resumed (its
  // durable chunks count as present); one with a different manifest is
  // discarded. Chunks that begin the previous version (`base`, default the
  // live one) with equal hashes are copied locally, checked, and count as
  // present. A version at or below the live one is already_committed.
  Result<Staging> begin(const Manifest& m, std::optional<uint64_t> base = {});

  // The path is gone at the source: its live file is removed at DR, its
  // bytes kept as its newest version (restore reaches it), and a tombstone
  // says it has no live version; a later begin() of the path starts the next
  // version. Returns the version that was live (0: there was none).
  Result<uint64_t> remove(const std::string& path);
  // Every path with a live version, sorted.
  std::vector<std::string> live_paths() const;
  // The same with each live version (its manifest's size, mtime and root).
  std::vector<std::pair<std::string, VersionInfo>> live_versions() const;

  // Kept versions of path, oldest first (after a remove(), none is live).
  Result<std::vector<VersionInfo>> list_versions(const std::string& path) const;
  // Re-hashes every live file and every kept version against its manifest;
  // an empty list means all is well.
  std::vector<Problem> verify() const;
  // Copies the chosen version of `path` (empty: every path) into
  // target_dir/<path> and proves it equal by re-hashing the copy.
  Result<std::vector<Restored>> restore(const std::string& path, const RestorePoint& point,
                                        const std::string& target_dir) const;

  // Group sync: makes every write so far durable: each file and directory
  // the operations since the last flush wrote, synced together (one
  // io_uring batch), never the whole filesystem.
  Status flush();

  const std::string& root() const;
  std::string_view writer_name() const;

 private:
  friend class Staging;
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The same on a root given by name, for a tool (srdxctl verify, restore)
// that has no store open: an error when root is not a store it can open.
Result<std::vector<Problem>> verify(const std::string& root);
Result<std::vector<Restored>> restore(const std::string& root, const std::string& path,
                                      const RestorePoint& point, const std::string& target_dir);

}  // namespace srdx::replicate
