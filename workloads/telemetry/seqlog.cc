#include "telemetry/seqlog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "telemetry/fileio.h"
#include "wire.h"  // transport's: wire::crc32c

namespace srdx::telemetry {

namespace {

using fileio::sys;

constexpr size_t kHeader = 8;
constexpr uint32_t kMaxFrame = 1u << 20;  // a state frame: 4096 missing numbers and a topic
enum : uint8_t { kSeen = 1, kGap = 2, kState = 3 };

void put64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put32v(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& b, std::string_view s) {
  put32v(b, static_cast<uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}

struct Reader {
  const uint8_t* p;
  size_t n;
  bool ok = true;
  uint64_t u64() {
    if (n < 8) return ok = false, 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
    p += 8, n -= 8;
    return v;
  }
  uint32_t u32() {
    if (n < 4) return ok = false, 0;
    const uint32_t v = fileio::get32(p);
    p += 4, n -= 4;
    return v;
  }
  std::string_view str() {
    const uint32_t len = u32();
    if (!ok || len > n) return ok = false, std::string_view{};
    std::string_view s(reinterpret_cast<const char*>(p), len);
    p += len, n -= len;
    return s;
  }
};

// Appends one frame (len, crc32c, body) to out.
void put_frame(std::vector<uint8_t>& out, const std::vector<uint8_t>& body) {
  const size_t at = out.size();
  out.resize(at + kHeader);
  fileio::put32(out.data() + at, static_cast<uint32_t>(body.size()));
  fileio::put32(out.data() + at + 4, wire::crc32c(body));
  out.insert(out.end(), body.begin(), body.end());
}

// A gap frame's body: numbers first..first+count-1 given up.
void gap_body(std::vector<uint8_t>& body, std::string_view source, std::string_view topic,
              uint64_t epoch, uint64_t first, uint64_t count) {
  body.clear();
  body.push_back(kGap);
  put64(body, epoch);
  put64(body, first);
  put64(body, count);
  put_str(body, source);
  put_str(body, topic);
}

}  // namespace

SeqLog::SeqLog(SeqLogOptions opt)
    : opt_(std::move(opt)), path_(opt_.dir + "/seq.log"), mine_(opt_.seq) {}

SeqLog::~SeqLog() {
  if (fd_ >= 0) {
    if (!buf_.empty()) (void)flush(false);
    ::close(fd_);
  }
}

Result<std::unique_ptr<SeqLog>> SeqLog::open(SeqLogOptions opt, SeqTracker& into, uint64_t now_ns) {
  using R = Result<std::unique_ptr<SeqLog>>;
  if (opt.dir.empty()) return R::fail(Errc::invalid, "sequence log: no directory");
  if (::mkdir(opt.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return R::fail(Errc::io, sys("sequence log: mkdir " + opt.dir).message);
  }
  std::unique_ptr<SeqLog> l(new SeqLog(std::move(opt)));
  l->fd_ = ::open(l->path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (l->fd_ < 0) return R::fail(Errc::io, sys("sequence log: open " + l->path_).message);
  if (Status s = l->replay(into, now_ns); !s.ok()) return R::fail(s.error.code, s.error.message);
  return {std::move(l), {}};
}

Status SeqLog::replay(SeqTracker& into, uint64_t now_ns) {
  struct stat sb {};
  if (::fstat(fd_, &sb) != 0) return {sys("sequence log: stat " + path_)};
  const auto file_size = static_cast<uint64_t>(sb.st_size);
  uint64_t off = 0;
  std::vector<uint8_t> body;
  std::vector<Gap> ignored;
  std::vector<uint64_t> missing;
  while (off + kHeader <= file_size) {
    uint8_t h[kHeader];
    if (!fileio::read_all(fd_, h, kHeader, off)) break;
    const uint32_t len = fileio::get32(h), crc = fileio::get32(h + 4);
    if (len == 0 || len > kMaxFrame || off + kHeader + len > file_size) break;
    body.resize(len);
    if (!fileio::read_all(fd_, body.data(), len, off + kHeader)) break;
    if (wire::crc32c(body) != crc) break;
    Reader r{body.data() + 1, body.size() - 1};
    const uint8_t type = body[0];
    if (type == kSeen) {
      const uint64_t epoch = r.u64(), seq = r.u64();
      const std::string_view source = r.str(), topic = r.str();
      if (!r.ok || r.n != 0 || seq == 0) break;
      for (SeqTracker* t : {&into, &mine_}) t->accept(source, topic, epoch, seq, now_ns, ignored);
    } else if (type == kGap) {
      const uint64_t epoch = r.u64(), first = r.u64(), count = r.u64();
      const std::string_view source = r.str(), topic = r.str();
      if (!r.ok || r.n != 0) break;
      for (SeqTracker* t : {&into, &mine_}) t->settle(source, topic, epoch, first, count);
    } else if (type == kState) {
      const uint64_t epoch = r.u64(), high = r.u64();
      const uint32_t n = r.u32();
      if (!r.ok || n > r.n / 8) break;
      missing.clear();
      for (uint32_t i = 0; i < n; ++i) missing.push_back(r.u64());
      const std::string_view source = r.str(), topic = r.str();
      if (!r.ok || r.n != 0) break;
      for (SeqTracker* t : {&into, &mine_}) {
        t->restore(source, topic, epoch, high, missing, now_ns);
      }
    } else {
      break;
    }
    ignored.clear();
    ++st_.recovered_frames;
    off += kHeader + len;
  }
  if (off < file_size) {
    st_.torn_bytes = file_size - off;
    if (::ftruncate(fd_, static_cast<off_t>(off)) != 0) {
      return {sys("sequence log: truncate " + path_)};
    }
  }
  if (::lseek(fd_, static_cast<off_t>(off), SEEK_SET) < 0) return {sys("sequence log: seek")};
  size_ = off;
  into.reset_stats();
  mine_.reset_stats();
  return {};
}

void SeqLog::frame(const std::vector<uint8_t>& body) {
  put_frame(buf_, body);
  ++st_.frames;
}

void SeqLog::seen(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t seq) {
  std::vector<Gap> ignored;
  mine_.accept(source, topic, epoch, seq, 0, ignored);
  body_.clear();
  body_.push_back(kSeen);
  put64(body_, epoch);
  put64(body_, seq);
  put_str(body_, source);
  put_str(body_, topic);
  frame(body_);
}

void SeqLog::gap(const Gap& g) {
  mine_.settle(g.source, g.topic, g.epoch, g.first, g.count);
  gap_body(body_, g.source, g.topic, g.epoch, g.first, g.count);
  frame(body_);
}

Status SeqLog::flush(bool sync) {
  if (!buf_.empty()) {
    if (!fileio::write_all(fd_, buf_.data(), buf_.size())) {
      // Cut back to the last whole frame: the next open must not stop at a
      // torn frame in the middle of good ones.
      const Error e = sys("sequence log: write " + path_);
      buf_.clear();
      if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {
        (void)::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
      }
      return {e};
    }
    size_ += buf_.size();
    st_.bytes += buf_.size();
    buf_.clear();
    dirty_ = true;
  }
  if ((sync || opt_.fsync_always) && dirty_) {
    if (::fdatasync(fd_) != 0) return {sys("sequence log: fdatasync " + path_)};
    dirty_ = false;
    ++st_.syncs;
  }
  if (size_ > opt_.compact_bytes) return compact();
  return {};
}

int SeqLog::take_sync_fd() {
  if (!dirty_ || fd_ < 0) return -1;
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd >= 0) {
    dirty_ = false;
    ++st_.syncs;
  }
  return fd;
}

Status SeqLog::compact() {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return {sys("sequence log: open " + tmp)};
  std::vector<uint8_t> out;
  bool ok = true;
  std::vector<uint64_t> listed;
  mine_.for_each([&](std::string_view source, std::string_view topic, uint64_t epoch, uint64_t high,
                     const std::map<uint64_t, uint64_t>& missing,
                     const std::set<uint64_t>& given_up) {
    // The state lists the missing numbers and those given up (reported as
    // gaps, delivered if they come after all); gap frames for the latter
    // follow, which settle them again on replay, as the frames they replace
    // did. (A reader that knows only state and gap frames reads it alike.)
    listed.clear();
    for (const auto& [s, t] : missing) listed.push_back(s);
    listed.insert(listed.end(), given_up.begin(), given_up.end());
    std::sort(listed.begin(), listed.end());
    body_.clear();
    body_.push_back(kState);
    put64(body_, epoch);
    put64(body_, high);
    put32v(body_, static_cast<uint32_t>(listed.size()));
    for (uint64_t s : listed) put64(body_, s);
    put_str(body_, source);
    put_str(body_, topic);
    put_frame(out, body_);
    for (auto it = given_up.begin(); it != given_up.end();) {
      const uint64_t first = *it;
      uint64_t count = 1;
      for (++it; it != given_up.end() && *it == first + count; ++it) ++count;
      gap_body(body_, source, topic, epoch, first, count);
      put_frame(out, body_);
    }
    if (out.size() >= (1u << 20)) {
      ok = ok && fileio::write_all(fd, out.data(), out.size());
      out.clear();
    }
  });
  ok = ok && fileio::write_all(fd, out.data(), out.size()) && ::fdatasync(fd) == 0;
  const Error e = sys("sequence log: write " + tmp);
  if (!ok) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return {e};
  }
  const off_t new_size = ::lseek(fd, 0, SEEK_END);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const Error re = sys("sequence log: rename " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return {re};
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) return {sys("sequence log: reopen " + path_)};
  ::close(fd);
  size_ = static_cast<uint64_t>(new_size);
  if (::lseek(fd_, new_size, SEEK_SET) < 0) return {sys("sequence log: seek")};
  dirty_ = false;
  ++st_.compactions;
  return fileio::fsync_dir(opt_.dir);
}

SeqLogStats SeqLog::stats() const {
  SeqLogStats s = st_;
  s.topics = mine_.topics();
  s.bytes = size_;
  return s;
}

}  // namespace srdx::telemetry
