#include "telemetry/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "telemetry/fileio.h"
#include "wire.h"  // transport's: wire::crc32c

namespace srdx::telemetry {

namespace {

constexpr size_t kFrameHeader = 8;

using fileio::get32;
using fileio::put32;
using fileio::read_all;
using fileio::sys;
using fileio::write_all;

std::string seg_name(uint64_t first_rid) {
  char b[40];
  std::snprintf(b, sizeof b, "seg-%020" PRIu64 ".log", first_rid);
  return b;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::open(SpoolOptions opt) {
  using R = Result<std::unique_ptr<Spool>>;
  if (opt.dir.empty()) return R::fail(Errc::invalid, "spool: no directory");
  if (opt.segment_bytes < 4096 || opt.max_bytes < opt.segment_bytes) {
    return R::fail(Errc::invalid, "spool: max bytes must be at least a segment, a segment 4 KiB");
  }
  if (::mkdir(opt.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return R::fail(Errc::io, sys("spool: mkdir " + opt.dir).message);
  }
  std::unique_ptr<Spool> s(new Spool(std::move(opt)));
  // The epoch: one more than the last start's, durable before use.
  const std::string epath = s->opt_.dir + "/epoch";
  uint64_t last = 0;
  if (FILE* f = std::fopen(epath.c_str(), "r")) {
    if (std::fscanf(f, "%" SCNu64, &last) != 1) last = 0;
    std::fclose(f);
  }
  s->epoch_ = last + 1;
  const std::string tmp = epath + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return R::fail(Errc::io, sys("spool: open " + tmp).message);
  const std::string text = std::to_string(s->epoch_) + "\n";
  const bool ok =
      write_all(fd, reinterpret_cast<const uint8_t*>(text.data()), text.size()) && ::fsync(fd) == 0;
  const int e = errno;
  ::close(fd);
  errno = e;
  if (!ok || ::rename(tmp.c_str(), epath.c_str()) != 0) {
    return R::fail(Errc::io, sys("spool: write " + epath).message);
  }
  if (Status st = fileio::fsync_dir(s->opt_.dir); !st.ok())
    return R::fail(Errc::io, st.error.message);
  if (Status st = s->recover(); !st.ok()) return R::fail(st.error.code, st.error.message);
  return {std::move(s), {}};
}

Spool::~Spool() {
  for (auto& [first, seg] : segments_) {
    if (seg.fd >= 0) ::close(seg.fd);
  }
}

Status Spool::recover() {
  DIR* d = ::opendir(opt_.dir.c_str());
  if (!d) return {sys("spool: opendir " + opt_.dir)};
  std::vector<uint64_t> firsts;
  while (dirent* e = ::readdir(d)) {
    uint64_t first = 0;
    char tail[8] = {};
    if (std::sscanf(e->d_name, "seg-%20" SCNu64 ".%3s", &first, tail) == 2 &&
        std::strcmp(tail, "log") == 0 && seg_name(first) == e->d_name) {
      firsts.push_back(first);
    }
  }
  ::closedir(d);
  std::sort(firsts.begin(), firsts.end());
  for (uint64_t first : firsts) {
    Segment seg;
    seg.first_rid = first;
    seg.path = opt_.dir + "/" + seg_name(first);
    seg.fd = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg.fd < 0) return {sys("spool: open " + seg.path)};
    struct stat st {};
    if (::fstat(seg.fd, &st) != 0) return {sys("spool: stat " + seg.path)};
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    uint64_t off = 0, rid = std::max(first, next_rid_);
    seg.first_rid = rid;
    std::vector<uint8_t> body;
    while (off + kFrameHeader <= file_size) {
      uint8_t h[kFrameHeader];
      if (!read_all(seg.fd, h, kFrameHeader, off)) break;
      const uint32_t len = get32(h), crc = get32(h + 4);
      if (len == 0 || len > kMaxPayloadBytes + 70000 || off + kFrameHeader + len > file_size) break;
      body.resize(len);
      if (!read_all(seg.fd, body.data(), len, off + kFrameHeader)) break;
      if (wire::crc32c(body) != crc) break;
      uint64_t ep = 0;
      if (!decode_record(body, ep).ok()) break;
      pending_[rid] = {first, off + kFrameHeader, len};
      backlog_.insert(rid);
      ++seg.pending;
      ++rid;
      ++counters_.recovered;
      off += kFrameHeader + len;
    }
    if (off < file_size) {
      counters_.torn_bytes += file_size - off;
      if (::ftruncate(seg.fd, static_cast<off_t>(off)) != 0) {
        return {sys("spool: truncate " + seg.path)};
      }
    }
    if (seg.pending == 0) {
      // Nothing decodable in it (created just before a crash): gone.
      ::close(seg.fd);
      ::unlink(seg.path.c_str());
      continue;
    }
    seg.size = off;
    seg.next_rid = rid;
    next_rid_ = rid;
    bytes_ += seg.size;
    // Pending locations name the segment by the key it is stored under.
    segments_.emplace(first, std::move(seg));
  }
  // Appends go to a fresh segment: a recovered one may end torn.
  return new_segment(next_rid_);
}

Status Spool::new_segment(uint64_t first_rid) {
  if (!segments_.empty()) {
    Segment& last = segments_.rbegin()->second;
    if (last.fd >= 0 && dirty_ && ::fdatasync(last.fd) != 0)
      return {sys("spool: fsync " + last.path)};
    dirty_ = false;
  }
  Segment seg;
  seg.first_rid = first_rid;
  seg.next_rid = first_rid;
  seg.path = opt_.dir + "/" + seg_name(first_rid);
  seg.fd = ::open(seg.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (seg.fd < 0) return {sys("spool: create " + seg.path)};
  if (::ftruncate(seg.fd, 0) != 0) {
    // A file of this name can only be one recover() found empty and removed.
    const Error e = sys("spool: truncate " + seg.path);
    ::close(seg.fd);
    return {e};
  }
  if (Status s = fileio::fsync_dir(opt_.dir); !s.ok()) {
    ::close(seg.fd);
    return s;
  }
  const uint64_t prev_last = segments_.empty() ? 0 : segments_.rbegin()->first;
  segments_.emplace(first_rid, std::move(seg));
  ++counters_.segments;
  if (prev_last != 0) maybe_delete(prev_last);
  return {};
}

Result<uint64_t> Spool::append(uint64_t epoch, const Record& r, bool backlog) {
  std::vector<uint8_t> frame(kFrameHeader);
  frame.reserve(kFrameHeader + 8 + encoded_size(r));
  encode_record(frame, epoch, r);
  const uint32_t len = static_cast<uint32_t>(frame.size() - kFrameHeader);
  put32(frame.data(), len);
  put32(frame.data() + 4, wire::crc32c(std::span<const uint8_t>(frame.data() + kFrameHeader, len)));
  if (bytes_ + frame.size() > opt_.max_bytes) {
    ++counters_.full_refusals;
    return Result<uint64_t>::fail(Errc::full, "spool full (" + std::to_string(bytes_) + " of " +
                                                  std::to_string(opt_.max_bytes) + " bytes)");
  }
  Segment* seg = &segments_.rbegin()->second;
  if (seg->size > 0 && seg->size + frame.size() > opt_.segment_bytes) {
    if (Status s = new_segment(next_rid_); !s.ok()) {
      return Result<uint64_t>::fail(s.error.code, s.error.message);
    }
    seg = &segments_.rbegin()->second;
  }
  if (!write_all(seg->fd, frame.data(), frame.size())) {
    const Error e = sys("spool: write " + seg->path);
    // A partial frame would be cut off by the next recovery; cut it now.
    (void)!::ftruncate(seg->fd, static_cast<off_t>(seg->size));
    return Result<uint64_t>::fail(e.code, e.message);
  }
  if (opt_.fsync == FsyncPolicy::always && ::fdatasync(seg->fd) != 0) {
    return Result<uint64_t>::fail(Errc::io, sys("spool: fsync " + seg->path).message);
  }
  dirty_ = opt_.fsync != FsyncPolicy::always;
  const uint64_t rid = next_rid_++;
  pending_[rid] = {seg->first_rid, seg->size + kFrameHeader, len};
  if (backlog) backlog_.insert(rid);
  seg->size += frame.size();
  seg->next_rid = next_rid_;
  ++seg->pending;
  bytes_ += frame.size();
  ++counters_.appended;
  return {rid, {}};
}

Result<std::vector<Spooled>> Spool::take_backlog(size_t max_records, size_t max_bytes) {
  std::vector<Spooled> out;
  size_t bytes = 0;
  std::vector<uint8_t> body;
  while (!backlog_.empty() && out.size() < max_records) {
    const uint64_t rid = *backlog_.begin();
    const Loc loc = pending_.at(rid);
    if (!out.empty() && bytes + loc.len > max_bytes) break;
    const Segment& seg = segments_.at(loc.seg);
    body.resize(loc.len);
    if (!read_all(seg.fd, body.data(), loc.len, loc.offset)) {
      return Result<std::vector<Spooled>>::fail(Errc::io, sys("spool: read " + seg.path).message);
    }
    Spooled s;
    s.rid = rid;
    Result<Record> r = decode_record(body, s.epoch);
    if (!r.ok()) return Result<std::vector<Spooled>>::fail(Errc::malformed, r.error.message);
    s.rec = std::move(r.value);
    out.push_back(std::move(s));
    bytes += loc.len;
    backlog_.erase(backlog_.begin());
  }
  return {std::move(out), {}};
}

void Spool::ack(uint64_t rid) {
  auto it = pending_.find(rid);
  if (it == pending_.end()) return;
  const uint64_t seg = it->second.seg;
  backlog_.erase(rid);
  pending_.erase(it);
  ++counters_.acked;
  auto s = segments_.find(seg);
  if (s != segments_.end() && s->second.pending > 0) --s->second.pending;
  maybe_delete(seg);
}

void Spool::nack(uint64_t rid) {
  if (pending_.count(rid)) backlog_.insert(rid);
}

void Spool::maybe_delete(uint64_t first) {
  auto it = segments_.find(first);
  if (it == segments_.end() || it->second.pending != 0) return;
  if (std::next(it) == segments_.end()) return;  // the one being written
  if (it->second.fd >= 0) ::close(it->second.fd);
  ::unlink(it->second.path.c_str());
  bytes_ -= std::min(bytes_, it->second.size);
  segments_.erase(it);
}

Status Spool::sync() {
  if (!dirty_ || segments_.empty()) return {};
  Segment& seg = segments_.rbegin()->second;
  if (::fdatasync(seg.fd) != 0) return {sys("spool: fsync " + seg.path)};
  dirty_ = false;
  return {};
}

int Spool::take_sync_fd() {
  if (!dirty_ || segments_.empty()) return -1;
  const int fd = ::fcntl(segments_.rbegin()->second.fd, F_DUPFD_CLOEXEC, 0);
  if (fd >= 0) dirty_ = false;
  return fd;
}

SpoolStats Spool::stats() const {
  SpoolStats s = counters_;
  s.bytes = bytes_;
  s.pending = pending_.size();
  s.backlog = backlog_.size();
  s.segments = segments_.size();
  return s;
}

}  // namespace srdx::telemetry
