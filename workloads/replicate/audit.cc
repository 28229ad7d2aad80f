#include "audit.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace srdx::replicate {

using nlohmann::json;

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool valid_event(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// YYYY-MM-DDTHH:MM:SS.mmmZ, checked by shape only: the log stamps it, and a
// wrong clock is not something the chain can prove.
bool valid_time(std::string_view s) {
  static constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
  }
  return true;
}

// The object for `line` with or without its hash. nlohmann::json keeps keys
// in a std::map, so dump() sorts them bytewise: the same order as Python's
// sort_keys for the ASCII key names used here.
json to_json(const AuditLine& line, bool with_hash) {
  const AuditRecord& r = line.record;
  json j = {{"seq", line.seq},  {"prev", line.prev}, {"time", r.time},
            {"event", r.event}, {"job", r.job},      {"peer", r.peer}};
  if (r.file) j["file"] = *r.file;
  if (r.version) j["version"] = *r.version;
  if (r.size) j["size"] = *r.size;
  if (r.sha256) j["sha256"] = *r.sha256;
  if (r.detail) j["detail"] = *r.detail;
  if (with_hash) j["hash"] = line.hash;
  return j;
}

// dump() with no indent, no ASCII escaping: the bytes Python's
// json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// gives. Throws on invalid UTF-8 (strict handler); callers catch.
std::string canonical(const json& j) { return j.dump(-1, ' ', false); }

std::string check_record(const AuditRecord& r) {
  if (!valid_event(r.event)) return "event must be 1..64 of [a-z0-9_], not '" + r.event + "'";
  if (!valid_time(r.time)) return "time must be YYYY-MM-DDTHH:MM:SS.mmmZ, not '" + r.time + "'";
  if (r.sha256 && !is_hex64(*r.sha256)) return "sha256 must be 64 lowercase hex digits";
  return {};
}

std::string fsync_dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno_text("open directory", dir);
  const int rc = ::fsync(dfd);
  const int saved = errno;
  ::close(dfd);
  errno = saved;
  return rc == 0 ? std::string{} : errno_text("fsync directory", dir);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Head {
  uint64_t seq = 0;
  std::string hash;
};

// Reads <path>.head: {"hash":"<hex>","seq":N}. nullopt with an empty error
// when there is none.
std::optional<Head> read_head(const std::string& path, std::string& error) {
  std::ifstream in(audit_head_path(path), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  const json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j.contains("hash") ||
      !j["seq"].is_number_unsigned() || !j["hash"].is_string() ||
      !is_hex64(j["hash"].get<std::string>())) {
    error = "head file " + audit_head_path(path) + " is not {\"hash\":<hex>,\"seq\":N}";
    return std::nullopt;
  }
  return Head{j["seq"].get<uint64_t>(), j["hash"].get<std::string>()};
}

}  // namespace

std::string audit_head_path(const std::string& path) { return path + ".head"; }

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string audit_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the compiler can imagine in each field
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

AuditResult<std::string> format_audit_line(AuditLine& line) {
  if (std::string err = check_record(line.record); !err.empty()) return {{}, err};
  if (!is_hex64(line.prev)) return {{}, "prev must be 64 lowercase hex digits"};
  try {
    line.hash = sha256_hex(canonical(to_json(line, false)));
    std::string text = canonical(to_json(line, true));
    if (text.size() > kAuditMaxLine) {
      return {{},
              "line of " + std::to_string(text.size()) + " bytes is over the limit of " +
                  std::to_string(kAuditMaxLine)};
    }
    return {std::move(text), {}};
  } catch (const json::exception&) {
    return {{}, "a field is not valid UTF-8"};
  }
}

AuditResult<AuditLine> parse_audit_line(std::string_view text) {
  if (text.size() > kAuditMaxLine) return {{}, "line longer than " + std::to_string(kAuditMaxLine)};
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return {{}, "not valid JSON"};
  if (!j.is_object()) return {{}, "not a JSON object"};

  AuditLine out;
  AuditRecord& r = out.record;
  for (const auto& [key, v] : j.items()) {
    const bool str = v.is_string(), num = v.is_number_unsigned();
    if (key == "seq" && num) {
      out.seq = v.get<uint64_t>();
    } else if (key == "prev" && str) {
      out.prev = v.get<std::string>();
    } else if (key == "hash" && str) {
      out.hash = v.get<std::string>();
    } else if (key == "time" && str) {
      r.time = v.get<std::string>();
    } else if (key == "event" && str) {
      r.event = v.get<std::string>();
    } else if (key == "job" && str) {
      r.job = v.get<std::string>();
    } else if (key == "peer" && str) {
      r.peer = v.get<std::string>();
    } else if (key == "file" && str) {
      r.file = v.get<std::string>();
    } else if (key == "version" && num) {
      r.version = v.get<uint64_t>();
    } else if (key == "size" && num) {
      r.size = v.get<uint64_t>();
    } else if (key == "sha256" && str) {
      r.sha256 = v.get<std::string>();
    } else if (key == "detail" && str) {
      r.detail = v.get<std::string>();
    } else {
      return {{}, "unknown key or wrong type: \"" + key + "\""};
    }
  }
  for (const char* key : {"seq", "prev", "hash", "time", "event", "job", "peer"}) {
    if (!j.contains(key)) return {{}, std::string("missing \"") + key + "\""};
  }
  if (std::string err = check_record(r); !err.empty()) return {{}, err};
  if (!is_hex64(out.prev)) return {{}, "prev is not 64 lowercase hex digits"};
  if (!is_hex64(out.hash)) return {{}, "hash is not 64 lowercase hex digits"};
  // Same content, other bytes (spacing, key order, escapes) would let two
  // different files carry one chain of hashes: only the canonical form counts.
  if (canonical(j) != text) return {{}, "not in canonical form (sorted keys, no spaces)"};
  if (sha256_hex(canonical(to_json(out, false))) != out.hash) {
    return {{}, "hash mismatch: the line was edited"};
  }
  return {std::move(out), {}};
}

AuditLog::AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
  if (head_fd_ >= 0) {
    (void)::fdatasync(head_fd_);  // a clean stop leaves the head current on disk
    ::close(head_fd_);
  }
}

uint64_t AuditLog::last_seq() const {
  std::lock_guard lock(mu_);
  return seq_;
}

AuditResult<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  struct stat st_before {};
  const bool existed = ::lstat(path.c_str(), &st_before) == 0;
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return {nullptr, errno_text("open audit log", path)};
  std::unique_ptr<AuditLog> log(new AuditLog(path, fd));
  if (!existed) {
    // The new name must survive a crash as well as the lines in it.
    if (std::string err = fsync_dir_of(path); !err.empty()) return {nullptr, err};
  }

  struct stat st {};
  if (::fstat(fd, &st) != 0) return {nullptr, errno_text("stat", path)};
  if (!S_ISREG(st.st_mode)) return {nullptr, "audit log " + path + " is not a regular file"};
  const off_t size = st.st_size;

  // The last complete line and a torn tail both lie within the last two
  // maximum lines plus their newlines.
  const off_t want = std::min<off_t>(size, 2 * static_cast<off_t>(kAuditMaxLine) + 2);
  std::string tail(static_cast<size_t>(want), '\0');
  if (want > 0 && ::pread(fd, tail.data(), tail.size(), size - want) != want) {
    return {nullptr, errno_text("read", path)};
  }

  // A tail not ended by '\n' is a write cut short by a crash. append() had not
  // returned for it, so no acknowledged event is lost by cutting it off; it is
  // recorded (length and hash) rather than chained over. Every check comes
  // first: a log found bad is left exactly as it was, for the auditor.
  const std::string too_long =
      "audit log " + path + ": a line is longer than " + std::to_string(kAuditMaxLine) + " bytes";
  const size_t last_nl = tail.rfind('\n');
  if (last_nl == std::string::npos && want < size) return {nullptr, too_long};
  const std::string torn = tail.substr(last_nl == std::string::npos ? 0 : last_nl + 1);

  if (last_nl != std::string::npos) {
    const size_t start = last_nl == 0 ? std::string::npos : tail.rfind('\n', last_nl - 1);
    if (start == std::string::npos && want < size) return {nullptr, too_long};
    const size_t from = start == std::string::npos ? 0 : start + 1;
    const std::string_view last(tail.data() + from, last_nl - from);
    AuditResult<AuditLine> parsed = parse_audit_line(last);
    if (!parsed.ok()) {
      return {nullptr, "audit log " + path + ": last complete line is not valid (" + parsed.error +
                           "); not appending to it, run verify"};
    }
    log->seq_ = parsed.value.seq;
    log->prev_ = sha256_hex(last);
  }

  std::string head_err;
  const std::optional<Head> head = read_head(path, head_err);
  if (!head_err.empty()) return {nullptr, "audit log " + path + ": " + head_err};
  if (head) {
    // A head of the fixed size is updated in place from now on (write_head).
    const int hfd = ::open(audit_head_path(path).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat hst {};
    if (hfd >= 0 && ::fstat(hfd, &hst) == 0 && S_ISREG(hst.st_mode) &&
        hst.st_size == static_cast<off_t>(kAuditHeadBytes)) {
      log->head_fd_ = hfd;
    } else if (hfd >= 0) {
      ::close(hfd);
    }
  }
  if (head && head->seq > log->seq_) {
    return {nullptr, "audit log " + path + " ends at seq " + std::to_string(log->seq_) +
                         " but its head file names seq " + std::to_string(head->seq) +
                         ": lines are missing at the end; not appending to it"};
  }

  if (!torn.empty()) {
    if (::ftruncate(fd, size - static_cast<off_t>(torn.size())) != 0 || ::fdatasync(fd) != 0) {
      return {nullptr, errno_text("truncate the torn line of", path)};
    }
    AuditRecord r;
    r.event = "audit_recovered";
    r.size = torn.size();
    r.sha256 = sha256_hex(torn);
    r.detail = "cut off a torn last line (a write interrupted by a crash, never acknowledged)";
    AuditResult<uint64_t> seq = log->append(r);
    if (!seq.ok()) return {nullptr, seq.error};
    log->recovered_ = "cut off a torn last line of " + std::to_string(torn.size()) +
                      " bytes, recorded as seq " + std::to_string(seq.value);
  }
  return {std::move(log), {}};
}

std::string AuditLog::write_head(uint64_t seq, const std::string& hash) {
  // Always kAuditHeadBytes: {"hash":...,"seq":N}, spaces, '\n' (JSON allows
  // the trailing blanks), so that an update overwrites the whole head in one
  // sector and never leaves a tail of an older, longer one.
  std::string body = json{{"seq", seq}, {"hash", hash}}.dump();
  body.resize(kAuditHeadBytes - 1, ' ');
  body += '\n';
  const std::string head = audit_head_path(path_);
  if (head_fd_ >= 0) {
    // In place, not synced: the lines it names were fdatasynced before, so
    // whatever reaches the disk names durable lines; after a power loss it
    // may name an older line, which verify accepts (docs/audit.md). Within
    // one 512-byte sector, a write lands whole or not at all (what
    // PostgreSQL's pg_control relies on). One sync a group, not three.
    if (::pwrite(head_fd_, body.data(), body.size(), 0) == static_cast<ssize_t>(body.size())) {
      return {};
    }
    return errno_text("write", head);
  }
  // The first head of this log (or one of another size, from an older
  // srdxd): written aside, synced and renamed over, so that a crash leaves
  // the old one or the new one; then kept open for the updates in place.
  const std::string tmp = head + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_text("open", tmp);
  const bool ok = write_all(fd, body) && ::fsync(fd) == 0;
  const int saved = errno;
  if (!ok) {
    ::close(fd);
    errno = saved;
    return errno_text("write", tmp);
  }
  if (::rename(tmp.c_str(), head.c_str()) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return errno_text("rename", tmp);
  }
  head_fd_ = fd;  // now the head's descriptor
  return fsync_dir_of(head);
}

AuditResult<uint64_t> AuditLog::append(const AuditRecord& record) {
  return append_batch(std::span<const AuditRecord>(&record, 1));
}

AuditResult<uint64_t> AuditLog::append_batch(std::span<const AuditRecord> records) {
  std::lock_guard lock(mu_);
  if (!broken_.empty()) return {0, broken_};
  if (records.empty()) return {seq_, {}};
  // Every line first, chained in memory: a record that is not valid refuses
  // the whole batch before anything is written.
  std::string bytes;
  uint64_t seq = seq_;
  std::string prev = prev_, last_hash;
  const std::string now = audit_now();
  for (const AuditRecord& record : records) {
    AuditLine line;
    line.seq = seq + 1;
    line.prev = prev;
    line.record = record;
    if (line.record.time.empty()) line.record.time = now;
    AuditResult<std::string> text = format_audit_line(line);
    if (!text.ok()) return {0, text.error};
    bytes += text.value;
    bytes += '\n';
    seq = line.seq;
    prev = sha256_hex(text.value);
    last_hash = line.hash;
  }
  // One write() of every line: O_APPEND places them at the end atomically
  // with respect to other writers of this file, and a crash can only cut the
  // end off (the torn line open() handles; whole lines before it stay).
  // The events are not acknowledged until they are on disk: one fdatasync
  // for the batch. After a failed write or sync the file may end in part of
  // a line: chaining the next one after it would bury the damage, so this log
  // refuses every later append and a reopen (which cuts a torn line off, on
  // the record) takes over.
  if (!write_all(fd_, bytes) || ::fdatasync(fd_) != 0) {
    broken_ = errno_text("write", path_) + " (reopen the log to recover)";
    return {0, broken_};
  }
  seq_ = seq;
  prev_ = std::move(prev);
  // The lines are durable: a failed head update is an error the caller hears
  // of, with the seq, so that it does not append the same events again; the
  // head then lags, which verify accepts.
  if (std::string err = write_head(seq, last_hash); !err.empty()) {
    return {seq, "seq " + std::to_string(seq) + " is durable, but the head file " +
                     "was not updated: " + err};
  }
  return {seq, {}};
}

AuditVerify verify_audit(const std::string& path, bool require_head) {
  AuditVerify v;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    v.reason = "cannot open " + path;
    return v;
  }
  // The head first, so that only the hash of the line it names is kept.
  std::string head_err;
  const std::optional<Head> head = read_head(path, head_err);
  if (!head_err.empty()) {
    v.reason = head_err;
    return v;
  }
  std::string prev(kAuditGenesis);
  std::string line;
  size_t n = 0;
  std::string hash_at_head;
  while (std::getline(in, line)) {
    ++n;
    if (in.eof()) {
      v.line = n;
      v.reason = "last line has no newline: a torn write (open() the log to recover it)";
      return v;
    }
    AuditResult<AuditLine> p = parse_audit_line(line);
    if (!p.ok()) {
      v.line = n;
      v.reason = p.error;
      return v;
    }
    if (p.value.seq != n) {
      v.line = n;
      v.reason = "seq " + std::to_string(p.value.seq) + " on line " + std::to_string(n) +
                 ": a line was deleted, inserted or moved";
      return v;
    }
    if (p.value.prev != prev) {
      v.line = n;
      v.reason = "prev does not match the previous line: a line was deleted, inserted or moved";
      return v;
    }
    prev = sha256_hex(line);
    if (head && head->seq == n) hash_at_head = p.value.hash;
  }
  v.records = n;

  if (!head) {
    if (require_head) {
      v.reason = "no head file " + audit_head_path(path) + ": truncation cannot be ruled out";
      return v;
    }
    v.ok = true;
    return v;
  }
  if (head->seq > n) {
    v.line = n + 1;
    v.reason = "the log ends at seq " + std::to_string(n) + " but its head names seq " +
               std::to_string(head->seq) + ": lines were deleted at the end";
    return v;
  }
  // The head may lag the log by the line written before a crash.
  if (head->seq > 0 && hash_at_head != head->hash) {
    v.line = head->seq;
    v.reason = "line " + std::to_string(head->seq) + " is not the one the head file names";
    return v;
  }
  v.head_checked = true;
  v.ok = true;
  return v;
}

}  // namespace srdx::replicate
