// The replication audit log: append-only, hash-chained JSON lines, one per
// event (HDS EXI 15/16, HIPAA 164.312(b)). Both sites keep one. The format,
// exactly what is hashed, the torn-line policy, the head anchor and its limits
// are in docs/audit.md, with a Python script an auditor can check a log with.
//
// Each line is one JSON object, keys sorted, no whitespace (the canonical
// form), ended by '\n':
//   seq     1, 2, 3... (equal to the line number)
//   prev    hex SHA-256 of the previous line's bytes (without its '\n'), or 64
//           zeros on line 1
//   time    RFC 3339 UTC with milliseconds, e.g. 2026-12-07T04:13:53.123Z
//   event   what happened: shipped, committed, verify_failed, refused, ...
//   job, peer   strings, possibly empty
//   file, version, size, sha256, detail   present only when the event has them
//   hash    hex SHA-256 of the canonical form of the object without "hash"
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace srdx::replicate {

// A value or the reason there is none (an empty error means ok), as
// control/request.h reports refusals: one readable line.
template <class T>
struct AuditResult {
  T value{};
  std::string error;
  bool ok() const { return error.empty(); }
};

// What the caller records. seq, prev, time and hash are the log's.
struct AuditRecord {
  std::string event;  // required: 1..64 of [a-z0-9_]
  std::string job;
  std::string peer;  // the peer's identity (its name or public key)
  std::optional<std::string> file;
  std::optional<uint64_t> version;
  std::optional<uint64_t> size;
  std::optional<std::string> sha256;  // 64 lowercase hex digits
  std::optional<std::string> detail;
  // Empty: the log stamps the current time. Tests and imports set it.
  std::string time;
};

// One line as written and read back.
struct AuditLine {
  uint64_t seq = 0;
  std::string prev;
  std::string hash;
  AuditRecord record;  // record.time is always set
};

inline constexpr std::string_view kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
// A line longer than this is refused on append and on reading: the recovery
// reads only the tail, and a bound keeps that read small.
inline constexpr size_t kAuditMaxLine = 16 * 1024;
// The head file's size (<path>.head): {"hash":"<hex>","seq":N}, padded with
// spaces, then '\n'.
inline constexpr size_t kAuditHeadBytes = 128;

// The canonical line (without '\n') for `line`, its hash filled in: the bytes
// append() writes. Fails on a record that is not valid (bad event name, bad
// sha256, invalid UTF-8, too long).
AuditResult<std::string> format_audit_line(AuditLine& line);

// Parses one line (without '\n') and checks it on its own: JSON, known keys and
// types, canonical form, hash. Does not check seq or prev (that needs the
// previous line): verify_audit() does.
AuditResult<AuditLine> parse_audit_line(std::string_view text);

// Hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Current UTC time in the log's format.
std::string audit_now();

class AuditLog {
 public:
  // Opens `path`, creating it (mode 0600) when missing; never follows a
  // symlink. Reads the tail to find the last seq and line. A torn last line (no
  // '\n': a crash in the middle of a write that was never acknowledged) is cut
  // off and an "audit_recovered" record says how many bytes and their SHA-256.
  // Refuses a log whose last complete line is not valid, and one that stops
  // short of its head file (truncated): neither is chained over silently.
  static AuditResult<std::unique_ptr<AuditLog>> open(const std::string& path);

  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Writes the record as one line and fdatasyncs before returning its seq,
  // then updates the head file in place (written, not synced: see
  // docs/audit.md; its first version is written, synced and renamed into
  // place). Thread-safe: appends
  // are serialized, so the chain stays linear. After a failed write or sync
  // every later append fails too (reopen to recover). If only the head update
  // fails, the error says so and value still carries the durable seq.
  AuditResult<uint64_t> append(const AuditRecord& record);
  // The same for several records at once: one write, one fdatasync and one
  // head update for all of them (a group of commits at DR: a few syncs per
  // group, not three per file). All or none: a record that is not valid
  // refuses the batch before anything is written. Returns the last seq.
  AuditResult<uint64_t> append_batch(std::span<const AuditRecord> records);

  // Non-empty when open() recovered from a torn line: what it did.
  const std::string& recovered() const { return recovered_; }
  uint64_t last_seq() const;
  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, int fd);
  std::string write_head(uint64_t seq, const std::string& hash);

  std::string path_;
  int fd_ = -1;
  int head_fd_ = -1;  // <path>.head, once it has kAuditHeadBytes
  mutable std::mutex mu_;
  uint64_t seq_ = 0;
  std::string prev_{kAuditGenesis};  // hex SHA-256 of the last line
  std::string recovered_;
  std::string broken_;  // why appends are refused, after a failed write
};

struct AuditVerify {
  bool ok = false;
  size_t line = 0;     // the first bad line (1-based); 0 when ok or not about a line
  std::string reason;  // why, when not ok
  uint64_t records = 0;
  bool head_checked = false;  // <path>.head existed and the log reaches it
};

// Checks every line of `path`: each parses, is canonical, its hash matches,
// its seq is the line number and its prev is the previous line's SHA-256. Then,
// if <path>.head exists, that the log reaches the seq and hash it names
// (deleting lines at the end is invisible to the chain alone). With
// require_head, a missing head file is a failure.
AuditVerify verify_audit(const std::string& path, bool require_head = false);

// The head file's path for a log.
std::string audit_head_path(const std::string& path);

}  // namespace srdx::replicate
