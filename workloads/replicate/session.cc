#include "replicate/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "replicate/protocol.h"

namespace srdx::replicate {

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::durable:
      return "durable";
    case Mode::received:
      return "received";
    case Mode::async:
      return "async";
  }
  return "?";
}

bool parse_mode(std::string_view text, Mode& out) {
  for (Mode m : {Mode::durable, Mode::received, Mode::async}) {
    if (text == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::starting:
      return "starting";
    case JobState::syncing:
      return "syncing";
    case JobState::watching:
      return "watching";
    case JobState::done:
      return "done";
    case JobState::failed:
      return "failed";
    case JobState::stopped:
      return "stopped";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// Cookies of replication's messages: the top byte says whose (a source's or
// the sink's), the next 16 bits which source job, the rest a sequence number.
constexpr uint64_t kSourceTag = uint64_t{0x52} << 56;
constexpr uint64_t kSinkTag = uint64_t{0x53} << 56;
constexpr uint64_t kTagMask = uint64_t{0xff} << 56;
constexpr uint64_t kJobMask = uint64_t{0xffff} << 40;
constexpr uint64_t kSeqMask = (uint64_t{1} << 40) - 1;

// Files a source ships at once (their chunks share the window): small files
// pipeline instead of paying a round trip each.
constexpr size_t kFilesInFlight = 128;

// What crosses between the carrier's thread and a worker. The carrier thread
// never waits on the worker: it takes the mutex only to move queues.
struct Mailbox {
  struct In {
    EventType type = EventType::message_received;
    PeerId peer = kNoPeer;
    uint64_t cookie = 0;
    FailReason reason = FailReason::none;
    std::vector<uint8_t> data;
  };
  struct Out {
    PeerId peer = kNoPeer;
    uint64_t cookie = 0;
    std::vector<uint8_t> data;
  };

  Mailbox() : efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Mailbox() {
    if (efd >= 0) close(efd);
  }

  void wake() const {
    const uint64_t one = 1;
    if (efd >= 0) (void)!write(efd, &one, sizeof one);
  }
  void drain_wake() const {
    uint64_t v = 0;
    if (efd >= 0) (void)!read(efd, &v, sizeof v);
  }
  void put_in(In in) {
    {
      std::lock_guard<std::mutex> l(mu);
      inbox.push_back(std::move(in));
    }
    wake();
  }
  std::deque<In> take_in() {
    std::lock_guard<std::mutex> l(mu);
    std::deque<In> d;
    d.swap(inbox);
    return d;
  }
  void put_out(Out out) {
    {
      std::lock_guard<std::mutex> l(mu);
      outbox.push_back(std::move(out));
      has_out.store(true, std::memory_order_release);
    }
    // The carrier's loop sends it on its next tick: now, not after its nap.
    if (loop) loop->wake();
  }
  // Carrier thread: sends what is queued; what the carrier cannot take now
  // (would_block) waits for the next tick; a refusal comes back as a failure.
  void flush(carrier::Carrier& c, Time now, Duration timeout) {
    if (!has_out.load(std::memory_order_acquire)) return;
    std::deque<Out> q;
    {
      std::lock_guard<std::mutex> l(mu);
      q.swap(outbox);
      has_out.store(false, std::memory_order_release);
    }
    while (!q.empty()) {
      Out& o = q.front();
      SendOptions opt;
      opt.flow = kReplicationFlow;
      opt.cookie = o.cookie;
      opt.timeout = timeout;
      const srdx::Result<MsgId> r = c.send(o.peer, o.data, opt, now);
      if (r.err == srdx::Errc::would_block) break;
      if (!r.ok()) put_in({EventType::send_failed, o.peer, o.cookie, FailReason::none, {}});
      q.pop_front();
    }
    if (!q.empty()) {
      std::lock_guard<std::mutex> l(mu);
      for (auto it = q.rbegin(); it != q.rend(); ++it) outbox.push_front(std::move(*it));
      has_out.store(true, std::memory_order_release);
    }
  }
  size_t out_size() {
    std::lock_guard<std::mutex> l(mu);
    return outbox.size();
  }

  const int efd;
  carrier::Carrier* loop = nullptr;  // woken by put_out (Carrier::wake)
  std::mutex mu;
  std::deque<In> inbox;
  std::deque<Out> outbox;
  std::atomic<bool> has_out{false};
};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

}  // namespace

// ---- Source --------------------------------------------------------------------------

struct Source::Impl {
  // One offer of one file version, from offer to committed.
  struct Transfer {
    uint64_t fseq = 0;
    std::string rel;
    int fd = -1;
    Manifest m;
    enum class Phase { offered, sending, committing } phase = Phase::offered;
    std::deque<uint64_t> to_send;
    std::set<uint64_t> unacked;
    uint64_t version = 0;
    Clock::time_point last_progress;
    Clock::time_point started;  // when the file was opened and hashed
    bool resent = false;
    bool removal = false;  // a remove, not an offer        // an earlier offer of this file failed:
                           // its chunks count as re-sent
  };
  // What this source last had committed of a path.
  struct Known {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    std::optional<Manifest> shipped;
    // Not shipped by this incarnation, but the DR's listing has this size
    // and mtime as the live version (a restart's quick check).
    bool at_dr = false;
  };
  struct Pending {
    Clock::time_point detected;
    Clock::time_point not_before;
    uint32_t failures = 0;
  };
  struct Barrier {
    uint64_t token = 0;
    Clock::time_point asked;
    std::function<void(bool, double)> done;
    bool rescanned = false, sent = false, failed = false;
    // The paths that had changes at the barrier's rescan: each must have a
    // transfer that started (hashed the file) after the barrier was asked
    // end committed; a writer that keeps writing does not hold it back.
    std::set<std::string> waits;
  };

  Impl(SourceOptions o, carrier::Carrier& c, PeerId p, AuditLog* a)
      : opt(std::move(o)), carrier(c), peer(p), audit(a) {
    box.loop = &carrier;
  }

  ~Impl() { stop_worker(); }

  void stop_worker() {
    stopping.store(true);
    box.wake();
    if (worker.joinable()) worker.join();
    for (auto& [fseq, t] : active)
      if (t.fd >= 0) close(t.fd);
    active.clear();
    if (ino >= 0) close(ino);
    ino = -1;
  }

  uint64_t cookie(uint64_t seq) const {
    return kSourceTag | ((opt.job_id << 40) & kJobMask) | (seq & kSeqMask);
  }
  bool ours(uint64_t c) const {
    return (c & kTagMask) == kSourceTag && (c & kJobMask) == ((opt.job_id << 40) & kJobMask);
  }

  // ---- worker -----------------------------------------------------------------

  // What a message in flight was, by the sequence number in its cookie.
  struct Sent {
    uint64_t fseq = 0;   // 0: a barrier
    uint64_t index = 0;  // chunk index + 1; 0: offer, commit, barrier
    uint64_t token = 0;  // barrier
  };
  void send(std::vector<uint8_t>&& bytes, Sent what) {
    const uint64_t seq = next_seq++ & kSeqMask;
    in_flight[seq] = what;
    box.put_out({peer, cookie(seq), std::move(bytes)});
  }

  bool included(const std::string& rel) const {
    if (opt.include.empty()) return true;
    const std::string base = rel.substr(rel.rfind('/') + 1);
    for (const std::string& g : opt.include) {
      if (fnmatch(g.c_str(), rel.c_str(), FNM_PATHNAME) == 0) return true;
      if (g.find('/') == std::string::npos && fnmatch(g.c_str(), base.c_str(), 0) == 0) return true;
    }
    return false;
  }

  // How a changed file is scheduled: now (a rescan, a barrier), now even if
  // it was settling (inotify: closed after writing, moved, removed), or once
  // quiet (inotify: being written).
  enum class Mark { changed, closed, writing };

  // A changed file, to ship. One in flight goes again once its transfer
  // ends. A file being written (IN_CREATE, IN_MODIFY) ships once quiet for
  // opt.settle, at most opt.settle_max after it was first seen; closed
  // after writing (IN_CLOSE_WRITE), at once. A rescan leaves a settling
  // file to settle.
  void mark(const std::string& rel, Clock::time_point now, Mark how = Mark::changed) {
    if (active_paths.count(rel)) {
      dirty_again.insert(rel);
      return;
    }
    auto [it, fresh] = pending.try_emplace(rel);
    Pending& p = it->second;
    if (fresh) {
      p.detected = now;
      pending_detected.insert(now);
      p.not_before = now;
      queue.push_back(rel);
    }
    if (how == Mark::writing) {
      const Clock::time_point quiet = now + std::chrono::nanoseconds(opt.settle.ns());
      const Clock::time_point cap = p.detected + std::chrono::nanoseconds(opt.settle_max.ns());
      p.not_before = fresh ? std::min(quiet, cap) : std::max(p.not_before, std::min(quiet, cap));
    } else if (how == Mark::closed && p.failures == 0) {
      p.not_before = std::min(p.not_before, now);  // was settling: now
    }
  }

  // Walks the tree (symlinks are not followed, nor shipped); marks every
  // regular file whose size or mtime differs from what was last committed.
  void scan(Clock::time_point now) {
    std::vector<std::string> dirs{""};
    uint64_t seen_bytes = 0, seen_files = 0;
    std::set<std::string> here;
    while (!dirs.empty()) {
      const std::string rel_dir = dirs.back();
      dirs.pop_back();
      const std::string fs_dir = join(opt.source_dir, rel_dir);
      DIR* d = opendir(fs_dir.c_str());
      if (!d) {
        if (rel_dir.empty())
          fail_job("cannot read the source " + opt.source_dir + ": " + strerror(errno));
        continue;
      }
      if (ino >= 0 && opt.continuous && !watched.count(rel_dir)) {
        const int wd =
            inotify_add_watch(ino, fs_dir.c_str(),
                              IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ATTRIB |
                                  IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR | IN_DONT_FOLLOW);
        if (wd >= 0) {
          wd_dir[wd] = rel_dir;
          watched.insert(rel_dir);
        }
      }
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string rel = join(rel_dir, name);
        struct stat st {};
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
          if (rel_dir.empty() && name == kStateDir) continue;
          dirs.push_back(rel);
        } else if (S_ISREG(st.st_mode) && included(rel) && validate_path(rel).ok()) {
          ++seen_files;
          seen_bytes += static_cast<uint64_t>(st.st_size);
          here.insert(rel);
          const int64_t mt = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
          auto k = known.find(rel);
          if (k == known.end() || k->second.size != static_cast<uint64_t>(st.st_size) ||
              k->second.mtime_ns != mt) {
            mark(rel, now);
          }
        }
      }
      closedir(d);
    }
    files_total = std::max(files_total, seen_files);
    bytes_total = std::max(bytes_total, seen_bytes);
    // Gone since they were shipped (or since the DR listed them): removed at
    // DR too (start_transfer finds them gone).
    for (const auto& [rel, k] : known)
      if (!here.count(rel)) mark(rel, now);
    for (const std::string& rel : dr_paths)
      if (!here.count(rel) && included(rel)) mark(rel, now);
    seen = std::move(here);
  }

  void read_inotify(Clock::time_point now) {
    alignas(inotify_event) char buf[16384];
    for (;;) {
      const ssize_t n = read(ino, buf, sizeof buf);
      if (n <= 0) return;
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + e->len;
        if (e->mask & IN_Q_OVERFLOW) {
          scan(now);  // events were lost: look at everything
          continue;
        }
        auto d = wd_dir.find(e->wd);
        if (d == wd_dir.end() || e->len == 0) continue;
        const std::string rel = join(d->second, e->name);
        if (e->mask & IN_ISDIR) {
          if (e->mask & (IN_CREATE | IN_MOVED_TO)) scan(now);  // a new directory: watch, ship
          continue;
        }
        if (!included(rel) || !validate_path(rel).ok()) continue;
        // Still being written, maybe; or closed after writing, moved,
        // removed, its mode changed.
        mark(rel, now, e->mask & (IN_CREATE | IN_MODIFY) ? Mark::writing : Mark::closed);
      }
    }
  }

  enum class Start { started, nothing, retry };
  // Opens and hashes a pending file and offers it. nothing: there is nothing
  // to ship (gone and never at DR, not a regular file, unchanged); retry: it
  // could not be read now (an error, not an absence): it stays pending.
  Start start_transfer(const std::string& rel, const Pending& pend, Clock::time_point now) {
    // What is read from here on holds every write made before this moment:
    // the time a barrier compares with (Barrier::asked). Not the
    // iteration's `now`, which a barrier asked during the iteration follows.
    looked_at = Clock::now();
    const std::string fs = join(opt.source_dir, rel);
    const int fd = open(fs.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    const int open_errno = errno;
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const bool gone =
          fd < 0 && (open_errno == ENOENT || open_errno == ENOTDIR || open_errno == ELOOP);
      if (fd >= 0) close(fd);
      if (fd < 0 && !gone) {
        note_error(rel + ": cannot open: " + strerror(open_errno) + " (tried again)");
        return Start::retry;
      }
      // Deleted, renamed away or replaced by a symlink or a non-file: if the
      // DR holds it, it is removed there too (its bytes stay a kept version).
      if (known.count(rel) || dr_paths.count(rel)) {
        start_removal(rel, looked_at);
        return Start::started;
      }
      return Start::nothing;
    }
    const int64_t mt = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    Known& k = known[rel];
    if ((k.shipped || k.at_dr) && k.size == static_cast<uint64_t>(st.st_size) && k.mtime_ns == mt) {
      close(fd);
      return Start::nothing;
    }
    // After a restart: the DR's live version has this file's size and mtime,
    // so it is taken as shipped without reading or hashing it (rsync's quick
    // check; the steady state trusts size and mtime the same way).
    if (!k.shipped) {
      auto d = dr_listed.find(rel);
      if (d != dr_listed.end()) {
        const proto::Listed l = d->second;
        dr_listed.erase(d);
        if (l.size == static_cast<uint64_t>(st.st_size) && l.mtime_ns == mt) {
          k.size = l.size;
          k.mtime_ns = mt;
          k.at_dr = true;
          bytes_done += l.size;  // at DR as it is: done for this pass
          ++files_done;
          close(fd);
          return Start::nothing;
        }
      }
    }
    Result<Manifest> m = Result<Manifest>::fail(Errc::io, "");
    if (k.shipped && k.shipped->chunk_size == opt.chunk_size &&
        static_cast<uint64_t>(st.st_size) >= k.shipped->size && appended_only(fd, *k.shipped)) {
      // An append-only file (a journal): only its tail is read and hashed.
      m = extend_manifest(*k.shipped, fd, static_cast<uint64_t>(st.st_size), 0);
      if (m.ok()) m.value.path = rel;
    }
    if (!m.ok()) m = hash_file(fd, rel, 0, opt.chunk_size);
    if (!m.ok()) {
      close(fd);
      note_error(rel + ": " + m.error.message + " (tried again)");
      return Start::retry;
    }
    Transfer t;
    t.fseq = next_fseq++;
    t.rel = rel;
    t.fd = fd;
    t.m = std::move(m.value);
    t.last_progress = now;
    t.started = looked_at;
    t.resent = pend.failures > 0;
    proto::Msg offer;
    offer.type = proto::Type::offer;
    offer.job = opt.job_id;
    offer.fseq = t.fseq;
    offer.mode = static_cast<uint8_t>(opt.mode);
    offer.name = opt.job_name;
    offer.manifest = encode(t.m);
    send(proto::encode(offer), {t.fseq, 0, 0});
    active_paths.insert(rel);
    active.emplace(t.fseq, std::move(t));
    return Start::started;
  }

  // The DR's list of this job's live paths: files removed while this source
  // was not running are removed there too. Asked again until it comes (the
  // DR may be down when the source starts).
  void ask_listing(Clock::time_point now) {
    proto::Msg l;
    l.type = proto::Type::list;
    l.job = opt.job_id;
    l.value = list_token = kListTag | (next_list++ & 0xffffffffull);
    l.name = opt.job_name;
    send(proto::encode(l), {0, 0, list_token});
    list_again = now + std::chrono::nanoseconds(opt.message_timeout.ns());
  }

  void start_removal(const std::string& rel, Clock::time_point now) {
    Transfer t;
    t.fseq = next_fseq++;
    t.rel = rel;
    t.removal = true;
    t.phase = Transfer::Phase::committing;
    t.last_progress = t.started = now;
    proto::Msg m;
    m.type = proto::Type::remove;
    m.job = opt.job_id;
    m.fseq = t.fseq;
    m.path = rel;
    send(proto::encode(m), {t.fseq, 0, 0});
    active_paths.insert(rel);
    active.emplace(t.fseq, std::move(t));
  }

  void finish_removal(Transfer& t, uint64_t version, Clock::time_point now) {
    settled[t.rel] = t.started;
    known.erase(t.rel);
    dr_paths.erase(t.rel);
    if (audit) {
      AuditRecord r;
      r.event = "removed";
      r.job = opt.job_name;
      r.peer = opt.peer_name;
      r.file = t.rel;
      r.version = version;
      r.detail = "gone at the source; the DR keeps the version for restore";
      audit_batch.push_back(std::move(r));
    }
    active_paths.erase(t.rel);
    if (dirty_again.erase(t.rel)) mark(t.rel, now);  // created again meanwhile
  }

  // The first and the last full chunk of what was shipped are unchanged: the
  // file is taken to have grown by appends only (a rewrite is caught by the
  // periodic full rescan... of a size or mtime change, then hashed whole).
  bool appended_only(int fd, const Manifest& old) const {
    const uint64_t full = old.size / old.chunk_size;
    if (full == 0) return true;
    for (uint64_t i : {uint64_t{0}, full - 1}) {
      std::vector<Hash> h;
      // Chunk i alone: hashing to the end would read the whole journal on
      // every append (a 64 MiB journal cost the job's worker ~70 ms a version).
      if (!hash_chunks(fd, old.size, old.chunk_size, i, h, 1).ok() || h.size() != 1) return false;
      if (h.front() != old.chunks[i]) return false;
    }
    return true;
  }

  void note_error(std::string e) {
    std::lock_guard<std::mutex> l(pmu);
    last_error = std::move(e);
  }

  void fail_job(std::string why) {
    note_error(why);
    std::lock_guard<std::mutex> l(pmu);
    failed = true;
  }

  // The transfer stops here; the file is offered again after a pause (the DR
  // resumes its staging: only chunks not yet durable travel again).
  void abort(uint64_t fseq, Clock::time_point now, const std::string& why) {
    auto it = active.find(fseq);
    if (it == active.end()) return;
    Transfer& t = it->second;
    for (uint64_t i : std::vector<uint64_t>(t.unacked.begin(), t.unacked.end())) release(t, i);
    if (t.fd >= 0) close(t.fd);
    const std::string rel = t.rel;
    // Its commit may have happened at DR with the answer lost: if the file
    // is gone when it is looked at again, the DR is asked to remove it.
    if (t.phase == Transfer::Phase::committing && !t.removal) dr_paths.insert(rel);
    active_paths.erase(rel);
    active.erase(it);
    dirty_again.erase(rel);
    auto [p, fresh] = pending.try_emplace(rel);
    if (fresh) {
      p->second.detected = now;
      pending_detected.insert(now);
      queue.push_back(rel);
    }
    ++p->second.failures;
    const uint32_t f = std::min<uint32_t>(p->second.failures, 6);
    p->second.not_before = now + std::chrono::milliseconds(50u << f);
    note_error(rel + ": " + why + " (offered again)");
  }

  void finish(Transfer& t, uint64_t version, bool up_to_date, Clock::time_point now) {
    // Acknowledgements of its chunks still on their way are moot now.
    for (uint64_t i : std::vector<uint64_t>(t.unacked.begin(), t.unacked.end())) release(t, i);
    settled[t.rel] = t.started;
    Known& k = known[t.rel];
    k.size = t.m.size;
    k.mtime_ns = t.m.mtime_ns;
    t.m.version = version;
    k.shipped = t.m;
    bytes_done += t.m.size;
    ++files_done;
    if (audit) {
      AuditRecord r;
      r.event = up_to_date ? "up_to_date" : "replicated";
      r.job = opt.job_name;
      r.peer = opt.peer_name;
      r.file = t.rel;
      r.version = version;
      r.size = t.m.size;
      r.sha256 = to_hex(t.m.root);
      r.detail = std::string("mode ") + std::string(to_string(opt.mode));
      audit_batch.push_back(std::move(r));
    }
    if (t.fd >= 0) close(t.fd);
    t.fd = -1;
    active_paths.erase(t.rel);
    if (dirty_again.erase(t.rel)) mark(t.rel, now);
    (void)now;
  }

  void on_reply(const proto::Msg& m, Clock::time_point now) {
    if (m.type == proto::Type::listing) {
      if (m.value != list_token) return;
      list_token = 0;
      // What the DR holds and the source no longer has: removed there.
      for (size_t i = 0; i < m.paths.size(); ++i) {
        const std::string& p = m.paths[i];
        if (!validate_path(p).ok()) continue;
        dr_paths.insert(p);
        if (i < m.listed.size()) dr_listed[p] = m.listed[i];
        if (!seen.count(p) && included(p)) mark(p, now);
      }
      return;
    }
    if (m.type == proto::Type::barrier_ok) {
      flush_audit();  // what the barrier confirms is on the record first
      for (auto it = barriers.begin(); it != barriers.end(); ++it) {
        if (it->token == m.value && it->sent) {
          {
            std::lock_guard<std::mutex> l(pmu);  // Source::tick takes them
            done_barriers.push_back(
                {std::move(it->done), !it->failed, seconds_between(it->asked, now)});
          }
          carrier.wake();
          barriers.erase(it);
          break;
        }
      }
      return;
    }
    auto it = active.find(m.fseq);
    if (it == active.end()) return;  // a transfer aborted since: a late answer
    Transfer& t = it->second;
    t.last_progress = now;
    switch (m.type) {
      case proto::Type::state: {
        if (t.phase != Transfer::Phase::offered) return;
        if (m.outcome == proto::Outcome::refused) {
          ++files_failed;
          refused[t.rel] = t.started;
          note_error(t.rel + ": refused by the DR: " + m.error);
          const std::string rel = t.rel;
          if (t.fd >= 0) close(t.fd);
          active_paths.erase(rel);
          dirty_again.erase(rel);
          active.erase(it);
          return;
        }
        t.version = m.value;
        if (m.outcome == proto::Outcome::up_to_date) {
          finish(t, m.value, true, now);
          active.erase(it);
          return;
        }
        uint64_t need = 0;
        for (const auto& [first, count] : m.missing) {
          for (uint64_t i = first; i < first + count && i < t.m.chunks.size(); ++i) {
            t.to_send.push_back(i);
            ++need;
          }
        }
        chunks_skipped += t.m.chunks.size() - std::min<uint64_t>(need, t.m.chunks.size());
        t.phase = Transfer::Phase::sending;
        return;
      }
      case proto::Type::chunk_ack:
        if (m.outcome != proto::Outcome::ok) {
          abort(t.fseq, now, "chunk " + std::to_string(m.value) + " refused: " + m.error);
          return;
        }
        if (opt.mode != Mode::async) release(t, m.value);
        return;
      case proto::Type::committed:
        if (t.phase != Transfer::Phase::committing) return;
        if (m.outcome != proto::Outcome::ok) {
          if (m.error.find("hash") != std::string::npos) ++verify_failures;
          abort(t.fseq, now, "commit refused: " + m.error);
          return;
        }
        if (t.removal) {
          finish_removal(t, m.value, now);
        } else {
          finish(t, m.value, false, now);
        }
        active.erase(it);
        return;
      case proto::Type::listing:
        return;  // handled before (on_reply's start)
      default:
        return;
    }
  }

  // A message of ours the carrier delivered (seq: which) or failed.
  void on_sent(uint64_t seq, bool ok, Clock::time_point now) {
    auto sent = in_flight.find(seq);
    if (sent == in_flight.end()) return;
    const Sent what = sent->second;
    in_flight.erase(sent);
    if (what.fseq == 0) {
      // A barrier the carrier could not deliver goes again; a list request
      // too, after a pause.
      if (!ok && what.token == list_token && list_token != 0) {
        list_again = now + std::chrono::milliseconds(500);
      } else if (!ok) {
        for (Barrier& b : barriers)
          if (b.token == what.token) b.sent = false;
      }
      return;
    }
    auto it = active.find(what.fseq);
    if (it == active.end()) return;
    if (!ok) {
      abort(what.fseq, now, "the carrier could not deliver a message (peer unreachable?)");
      return;
    }
    if (opt.mode == Mode::async && what.index > 0) {
      // Delivered is enough in async mode.
      release(it->second, what.index - 1);
    }
  }

  // A chunk no longer in flight: its place in the window is free.
  void release(Transfer& t, uint64_t index) {
    if (!t.unacked.erase(index)) return;
    --window_used;
    window_bytes -= chunk_length(t.m.size, t.m.chunk_size, index);
  }

  // Sends chunks while the window has room, and commits what is complete.
  void pump(Clock::time_point now) {
    std::vector<uint8_t> buf;
    for (auto& [fseq, t] : active) {
      if (t.phase != Transfer::Phase::sending) continue;
      while (!t.to_send.empty() && window_used < opt.window && window_bytes < opt.window_bytes) {
        const uint64_t i = t.to_send.front();
        const uint64_t len = chunk_length(t.m.size, t.m.chunk_size, i);
        buf.resize(len);
        const ssize_t n = pread(t.fd, buf.data(), len, static_cast<off_t>(i * t.m.chunk_size));
        if (n != static_cast<ssize_t>(len) || sha256(buf) != t.m.chunks[i]) {
          // Changed under us (not an append): offer its new content.
          const uint64_t f = t.fseq;
          abort(f, now, "changed while being sent");
          return;  // `active` changed
        }
        t.to_send.pop_front();
        t.unacked.insert(i);
        ++window_used;
        window_bytes += len;
        ++chunks_sent;
        if (t.resent) ++chunks_resent;
        bytes_sent += len;
        rate_bytes += len;
        send(proto::encode_chunk(opt.job_id, t.fseq, i, buf), {t.fseq, i + 1, 0});
        t.last_progress = now;
      }
      // The commit follows the last chunk at once, not its acknowledgement:
      // the DR seals the version when its last chunk is written (in the
      // same group when they arrive together), so a file costs two round
      // trips (offer, then chunks and commit), not three.
      if (t.to_send.empty()) {
        proto::Msg c;
        c.type = proto::Type::commit;
        c.job = opt.job_id;
        c.fseq = t.fseq;
        send(proto::encode(c), {t.fseq, 0, 0});
        t.phase = Transfer::Phase::committing;
      }
    }
  }

  // For a barrier that takes long, what it waits for (Progress).
  std::string describe_wait(const Barrier& b) const {
    if (!b.rescanned) return "rescanning";
    if (b.sent) return "the DR's answer";
    std::string w = std::to_string(b.waits.size()) + " file(s) to commit:";
    size_t n = 0;
    for (const std::string& rel : b.waits) {
      if (++n > 3) {
        w += " ...";
        break;
      }
      const char* state = active_paths.count(rel)
                              ? (dirty_again.count(rel) ? "in flight, changed again" : "in flight")
                          : pending.count(rel) ? "queued"
                          : refused.count(rel) ? "refused by the DR"
                                               : "no transfer under way";
      w += (n > 1 ? ", " : " ") + rel + " (" + state + ")";
    }
    return w;
  }

  void publish(Clock::time_point now) {
    Progress p;
    p.files_total = files_total;
    p.files_done = files_done;
    p.files_failed = files_failed;
    p.files_pending = pending.size() + active.size();
    p.bytes_total = bytes_total;
    p.bytes_done = bytes_done;
    p.bytes_sent = bytes_sent;
    p.chunks_sent = chunks_sent;
    p.chunks_resent = chunks_resent;
    p.chunks_skipped = chunks_skipped;
    p.verify_failures = verify_failures;
    Clock::time_point oldest = now;
    uint64_t lag_bytes = 0;
    if (!pending_detected.empty()) oldest = std::min(oldest, *pending_detected.begin());
    for (const auto& [fseq, t] : active) {
      lag_bytes += t.m.size;
      auto pend = detected.find(t.rel);
      if (pend != detected.end()) oldest = std::min(oldest, pend->second);
    }
    p.lag_seconds = seconds_between(oldest, now);
    p.lag_bytes = lag_bytes;
    // A continuous job commits every new version of a file (an append
    // counts its file again, whole): once those outrun the scans' totals,
    // the totals are what is done plus what is still to ship, so that done
    // never reads more than its total (157%, 1073/1053 files).
    p.files_total = std::max(p.files_total, p.files_done + p.files_failed + p.files_pending);
    p.bytes_total = std::max(p.bytes_total, p.bytes_done + lag_bytes);
    p.elapsed_s = seconds_between(started, now);
    if (now - rate_at >= std::chrono::seconds(1)) {
      rate = static_cast<double>(rate_bytes) / seconds_between(rate_at, now);
      rate_bytes = 0;
      rate_at = now;
    }
    p.rate_bytes_per_s = rate;
    if (!barriers.empty()) p.barrier_waiting = describe_wait(barriers.front());
    std::lock_guard<std::mutex> l(pmu);
    p.error = last_error;
    if (failed) {
      p.state = JobState::failed;
    } else if (stopped_flag) {
      p.state = JobState::stopped;
    } else if (!scanned_once) {
      p.state = JobState::starting;
    } else if (!pending.empty() || !active.empty()) {
      p.state = JobState::syncing;
    } else {
      p.state = opt.continuous ? JobState::watching : JobState::done;
    }
    if (p.state == JobState::done || p.state == JobState::watching) p.error.clear();
    progress = p;
  }

  void run() {
    const Clock::time_point t0 = Clock::now();
    started = rate_at = t0;
    if (opt.continuous) ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    scan(t0);
    scanned_once = true;
    ask_listing(t0);
    // New transfers wait (a little) for the DR's listing: with it, a restart
    // skips every file the DR already holds as it is (the quick check).
    list_hold_until = t0 + std::chrono::seconds(2);
    Clock::time_point next_rescan = t0 + std::chrono::nanoseconds(opt.rescan_every.ns());
    const auto timeout = std::chrono::nanoseconds(opt.message_timeout.ns());
    while (!stopping.load()) {
      Clock::time_point now = Clock::now();
      for (Mailbox::In& in : box.take_in()) {
        if (in.type == EventType::message_received) {
          Result<proto::Msg> m = proto::decode(in.data);
          if (m.ok() && m.value.job == opt.job_id) on_reply(m.value, now);
        } else if (in.type == EventType::peer_down) {
          // No barrier can be confirmed by a DR that is down: each fails
          // now, not at its caller's timeout (the caller asks again).
          std::lock_guard<std::mutex> l(pmu);
          for (Barrier& b : barriers)
            done_barriers.push_back({std::move(b.done), false, seconds_between(b.asked, now)});
          barriers.clear();
          for (Barrier& b : asked_barriers)
            done_barriers.push_back({std::move(b.done), false, seconds_between(b.asked, now)});
          asked_barriers.clear();
        } else {
          on_sent(in.cookie & kSeqMask, in.type == EventType::send_completed, now);
        }
      }
      flush_audit();
      // Barriers: a rescan first (changes inotify may not have said yet),
      // then, once nothing is pending, a round trip through the DR.
      {
        std::lock_guard<std::mutex> l(pmu);
        while (!asked_barriers.empty()) {
          barriers.push_back(std::move(asked_barriers.front()));
          asked_barriers.pop_front();
        }
      }
      for (Barrier& b : barriers) {
        if (!b.rescanned) {
          scan(now);
          b.rescanned = true;
          for (const auto& [rel, pend] : pending) b.waits.insert(rel);
          b.waits.insert(active_paths.begin(), active_paths.end());
          b.waits.insert(dirty_again.begin(), dirty_again.end());
        }
      }
      if (ino >= 0) read_inotify(now);
      if (opt.continuous && now >= next_rescan) {
        scan(now);
        next_rescan = now + std::chrono::nanoseconds(opt.rescan_every.ns());
      }
      if (list_token != 0 && now >= list_again) ask_listing(now);
      // Transfers that heard nothing for too long: offered again.
      std::vector<uint64_t> stale;
      for (const auto& [fseq, t] : active)
        if (now - t.last_progress > timeout) stale.push_back(fseq);
      for (uint64_t f : stale) abort(f, now, "no answer from the DR");
      // New transfers.
      const bool hold = list_token != 0 && now < list_hold_until;
      // The earliest a file passed over here (a paused retry, a settling
      // file) is due: how long the worker may sleep.
      Clock::time_point next_due = Clock::time_point::max();
      for (size_t n = hold ? 0 : queue.size();
           n > 0 && active.size() < kFilesInFlight && !failed_now(); --n) {
        const std::string rel = queue.front();
        queue.pop_front();
        auto p = pending.find(rel);
        if (p == pending.end()) continue;
        if (p->second.not_before > now) {
          next_due = std::min(next_due, p->second.not_before);
          queue.push_back(rel);
          continue;
        }
        const Pending pend = p->second;
        if (auto d = pending_detected.find(pend.detected); d != pending_detected.end())
          pending_detected.erase(d);
        pending.erase(p);
        switch (start_transfer(rel, pend, now)) {
          case Start::started:
            detected[rel] = pend.detected;
            break;
          case Start::nothing:
            settled[rel] = looked_at;  // nothing to ship (unchanged, or gone and never at DR)
            break;
          case Start::retry: {
            Pending again = pend;
            again.not_before = now + std::chrono::milliseconds(200);
            pending.emplace(rel, again);
            pending_detected.insert(again.detected);
            queue.push_back(rel);
            break;
          }
        }
      }
      for (auto it = detected.begin(); it != detected.end();)
        it = active_paths.count(it->first) ? std::next(it) : detected.erase(it);
      pump(now);
      for (Barrier& b : barriers) {
        if (b.sent) continue;
        for (auto it = b.waits.begin(); it != b.waits.end();) {
          auto s_it = settled.find(*it);
          auto r_it = refused.find(*it);
          if (r_it != refused.end() && r_it->second >= b.asked) b.failed = true;
          const bool over = (s_it != settled.end() && s_it->second >= b.asked) ||
                            (r_it != refused.end() && r_it->second >= b.asked);
          it = over ? b.waits.erase(it) : std::next(it);
        }
      }
      {
        for (Barrier& b : barriers) {
          if (b.sent || !b.rescanned || !b.waits.empty()) continue;
          proto::Msg m;
          m.type = proto::Type::barrier;
          m.job = opt.job_id;
          m.value = b.token;
          send(proto::encode(m), {0, 0, b.token});
          b.sent = true;
        }
      }
      // The progress (a walk over every pending file for the lag) at most
      // every 20 ms, and whenever the state may change.
      if (now - published_at >= std::chrono::milliseconds(20) ||
          (pending.empty() && active.empty())) {
        publish(now);
        published_at = now;
      }
      // Sleep until an answer, a file event, a timeout or a rescan.
      pollfd fds[2] = {{box.efd, POLLIN, 0}, {ino, POLLIN, 0}};
      int wait_ms = 100;
      if (!queue.empty()) {
        // A paused retry or a settling file: until the first is due (20 ms
        // at most, also when the loop above could not look at them all).
        wait_ms = 20;
        if (next_due != Clock::time_point::max()) {
          const auto ms =
              std::chrono::ceil<std::chrono::milliseconds>(next_due - Clock::now()).count();
          wait_ms = static_cast<int>(std::clamp<int64_t>(ms, 1, wait_ms));
        }
      }
      poll(fds, ino >= 0 ? 2 : 1, wait_ms);
      box.drain_wake();
      flush_audit();
    }
    flush_audit();
    {
      std::lock_guard<std::mutex> l(pmu);
      stopped_flag = true;
    }
    publish(Clock::now());
  }

  bool failed_now() {
    std::lock_guard<std::mutex> l(pmu);
    return failed;
  }

  const SourceOptions opt;
  carrier::Carrier& carrier;
  const PeerId peer;
  AuditLog* const audit;
  Mailbox box;
  std::thread worker;
  std::atomic<bool> stopping{false};

  // Worker state.
  int ino = -1;
  std::unordered_map<int, std::string> wd_dir;
  std::set<std::string> watched;
  std::map<std::string, Known> known;
  std::map<std::string, Pending> pending;
  // The pending files' detection times, for the lag (publish) without a
  // walk over every pending file: that walk, every 20 ms, cost the worker
  // most of a core at 54,000 files (a 2 GiB tree's initial sync).
  std::multiset<Clock::time_point> pending_detected;
  std::deque<std::string> queue;
  std::map<uint64_t, Transfer> active;
  std::set<std::string> active_paths, dirty_again;
  std::map<std::string, Clock::time_point> detected;  // of the active paths
  // When the last transfer of a path that ended committed (or found nothing
  // to ship) started, and when the last refused one did: for barriers.
  std::map<std::string, Clock::time_point> settled, refused;
  Clock::time_point looked_at;     // start_transfer(): when it opened the file
  std::set<std::string> seen;      // the regular files of the last scan
  std::set<std::string> dr_paths;  // live at DR when it was asked (list), less those removed since
  // The listing's live versions, until each path's first transfer looks.
  std::map<std::string, proto::Listed> dr_listed;
  Clock::time_point list_hold_until{};
  // This loop's audit records, written together (one sync) after each round
  // of the inbox and before a barrier is answered.
  std::vector<AuditRecord> audit_batch;
  void flush_audit() {
    if (audit && !audit_batch.empty()) (void)audit->append_batch(audit_batch);
    audit_batch.clear();
  }
  uint64_t list_token = 0;  // a list request unanswered (0: none)
  uint64_t next_list = 1;
  Clock::time_point list_again;
  static constexpr uint64_t kListTag = uint64_t{0x4c} << 56;  // apart from barrier tokens
  // Transfer numbers start at a random point per source incarnation, so that
  // a DR never takes a restarted source's transfer for one of the previous
  // incarnation's (the DR also replaces an open transfer of the same number).
  uint64_t next_fseq = first_fseq();
  static uint64_t first_fseq() {
    std::random_device rd;
    return ((uint64_t{rd()} << 32 | rd()) & 0x0000ffffffffffffull) | 1;
  }
  uint64_t next_seq = 1;
  std::unordered_map<uint64_t, Sent> in_flight;
  uint64_t window_used = 0, window_bytes = 0;
  uint64_t files_total = 0, files_done = 0, files_failed = 0, bytes_total = 0, bytes_done = 0;
  uint64_t bytes_sent = 0, chunks_sent = 0, chunks_resent = 0, chunks_skipped = 0;
  uint64_t verify_failures = 0;
  uint64_t rate_bytes = 0;
  double rate = 0;
  Clock::time_point started, rate_at, published_at;
  bool scanned_once = false;
  std::deque<Barrier> barriers;

  // Shared (pmu).
  mutable std::mutex pmu;
  Progress progress;
  std::string last_error;
  bool failed = false, stopped_flag = false;
  std::deque<Barrier> asked_barriers;
  uint64_t next_token = 1;
  struct DoneBarrier {
    std::function<void(bool, double)> done;
    bool ok;
    double seconds;
  };
  std::deque<DoneBarrier> done_barriers;  // worker -> carrier thread (under pmu)
};

Source::Source(SourceOptions opt, carrier::Carrier& carrier, PeerId peer, AuditLog* audit)
    : impl_(std::make_unique<Impl>(std::move(opt), carrier, peer, audit)) {}

Source::~Source() = default;

void Source::start(Time) {
  if (impl_->worker.joinable()) return;
  impl_->worker = std::thread([this] { impl_->run(); });
  pthread_setname_np(impl_->worker.native_handle(), "repl-source");
}

bool Source::on_event(const Event& ev, Time) {
  Impl& s = *impl_;
  switch (ev.type) {
    case EventType::message_received: {
      if (ev.flow != kReplicationFlow || ev.peer != s.peer) return false;
      // A reply names its job: only this source's are taken.
      if (ev.data.size() < 10) return false;
      uint64_t job = 0;
      for (int i = 0; i < 8; ++i) job |= uint64_t{ev.data[2 + static_cast<size_t>(i)]} << (8 * i);
      if (job != s.opt.job_id) return false;
      const uint8_t type = ev.data[1];
      // Requests go to a sink, not to a source.
      if (type < 1 || type > 11 || proto::is_request(static_cast<proto::Type>(type))) return false;
      s.box.put_in({ev.type, ev.peer, 0, FailReason::none, {ev.data.begin(), ev.data.end()}});
      return true;
    }
    case EventType::send_completed:
    case EventType::send_failed:
      if (!s.ours(ev.cookie)) return false;
      s.box.put_in({ev.type, ev.peer, ev.cookie, ev.reason, {}});
      return true;
    case EventType::peer_down:
      // Seen, not taken: every job to that peer and the daemon see it too.
      if (ev.peer == s.peer) s.box.put_in({ev.type, ev.peer, 0, ev.reason, {}});
      return false;
    default:
      return false;
  }
}

void Source::tick(Time now) {
  Impl& s = *impl_;
  s.box.flush(s.carrier, now, s.opt.message_timeout);
  std::deque<Impl::DoneBarrier> done;
  {
    std::lock_guard<std::mutex> l(s.pmu);
    if (s.done_barriers.empty()) return;
    done.swap(s.done_barriers);
  }
  for (auto& d : done)
    if (d.done) d.done(d.ok, d.seconds);
}

Progress Source::progress() const {
  std::lock_guard<std::mutex> l(impl_->pmu);
  return impl_->progress;
}

void Source::barrier(std::function<void(bool ok, double seconds)> done) {
  {
    std::lock_guard<std::mutex> l(impl_->pmu);
    Impl::Barrier b;
    b.token = impl_->next_token++;
    b.asked = Clock::now();
    b.done = std::move(done);
    impl_->asked_barriers.push_back(std::move(b));
  }
  impl_->box.wake();
}

void Source::stop() { impl_->stop_worker(); }

bool Source::finished() const {
  const Progress p = progress();
  return p.state == JobState::done || p.state == JobState::failed || p.state == JobState::stopped;
}

// ---- Sink ----------------------------------------------------------------------------

struct Sink::Impl {
  struct Open {
    Staging staging;
    std::string job;  // name
    std::string path;
    // Its commit came before all its chunks (a source commits right after
    // its last chunk, and datagrams arrive in any order): sealed when the
    // last missing chunk is written.
    bool commit_waiting = false;
  };

  Impl(SinkOptions o, carrier::Carrier& c, AuditLog* a) : opt(std::move(o)), carrier(c), audit(a) {
    box.loop = &carrier;
    worker = std::thread([this] { run(); });
    pthread_setname_np(worker.native_handle(), "repl-sink");
  }
  ~Impl() {
    stopping.store(true);
    box.wake();
    if (worker.joinable()) worker.join();
  }

  // Answers wait for the end of the group (run()): nothing is acknowledged
  // before the flush that makes it durable, and a refusal not before its
  // audit record. Except an offer's state that accepts it: it
  // acknowledges nothing (what it says is missing comes from the durable
  // progress record; a live version it calls up to date was flushed by the
  // group that published it), and holding it made every file wait for a
  // whole group of other files' syncs before its chunks could start.
  void reply(PeerId peer, const proto::Msg& m) {
    if (m.type == proto::Type::state && m.outcome != proto::Outcome::refused) {
      box.put_out({peer, kSinkTag | (next_seq++ & kSeqMask), proto::encode(m)});
      return;
    }
    held.push_back({peer, m});
  }

  std::string peer_name(PeerId p) {
    std::lock_guard<std::mutex> l(smu);
    auto it = names.find(p);
    return it == names.end() ? "peer " + std::to_string(p) : it->second;
  }

  void record(const char* event, const std::string& job, PeerId peer, const Manifest* m,
              const std::string& detail) {
    if (!audit) return;
    AuditRecord r;
    r.event = event;
    r.job = job;
    r.peer = peer_name(peer);
    if (m) {
      r.file = m->path;
      r.version = m->version;
      r.size = m->size;
      r.sha256 = to_hex(m->root);
    }
    if (!detail.empty()) r.detail = detail;
    audit_batch.push_back(std::move(r));
  }
  // The group's audit records: durable (one write, one sync) before any of
  // its answers leaves.
  std::vector<AuditRecord> audit_batch;
  void flush_audit() {
    if (audit && !audit_batch.empty()) (void)audit->append_batch(audit_batch);
    audit_batch.clear();
  }

  Result<Store*> store_for(const std::string& name, Mode mode) {
    auto it = stores.find(name);
    if (it != stores.end()) return {it->second.get(), {}};
    const std::string root = opt.dr_root + "/" + name;
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
      return Result<Store*>::fail(sys_error(errno, "mkdir " + root));
    }
    StoreOptions so;
    so.durability = mode == Mode::durable ? Durability::durable : Durability::received;
    so.group_sync = true;
    so.keep_versions = opt.keep_versions;
    Result<std::unique_ptr<Store>> s = Store::open(root, so);
    if (!s.ok()) return Result<Store*>::fail(s.error);
    Store* p = s.value.get();
    if (mode == Mode::durable) durable.insert(p);
    stores.emplace(name, std::move(s.value));
    return {p, {}};
  }

  void refuse(PeerId peer, proto::Type type, const proto::Msg& in, const std::string& why) {
    proto::Msg r;
    r.type = type;
    r.job = in.job;
    r.fseq = in.fseq;
    r.value = in.value;
    r.outcome = proto::Outcome::refused;
    r.error = why;
    reply(peer, r);
    std::lock_guard<std::mutex> l(smu);
    ++stats.refused;
  }

  // A complete transfer's commit: verified now, published after the group's
  // flush (finish_group); a failure is refused and recorded.
  void seal(PeerId peer, const proto::Msg& in) {
    auto it = open.find(std::make_tuple(peer, in.job, in.fseq));
    if (it == open.end()) return;
    const Manifest m = it->second.staging.manifest();
    const std::string job = it->second.job;
    const Status c = it->second.staging.seal();
    if (c.ok()) {
      sealed.push_back(it->first);
      return;
    }
    open.erase(it);
    if (c.error.code == Errc::hash_mismatch) {
      std::lock_guard<std::mutex> l(smu);
      ++stats.verify_failures;
    }
    record(c.error.code == Errc::hash_mismatch ? "verify_failed" : "refused", job, peer, &m,
           c.error.message);
    refuse(peer, proto::Type::committed, in, c.error.message);
  }

  void handle(PeerId peer, std::span<const uint8_t> bytes) {
    Result<proto::Msg> d = proto::decode(bytes);
    if (!d.ok()) {
      std::lock_guard<std::mutex> l(smu);
      ++stats.malformed;
      return;
    }
    const proto::Msg& in = d.value;
    const auto key = std::make_pair(peer, in.job);
    switch (in.type) {
      case proto::Type::offer: {
        {
          std::lock_guard<std::mutex> l(smu);
          ++stats.offers;
        }
        Result<Manifest> m = decode(in.manifest);
        if (!m.ok()) return refuse(peer, proto::Type::state, in, m.error.message);
        // One source per job name: another one would write the same tree.
        auto owner = owners.find(in.name);
        if (owner != owners.end() && owner->second != key) {
          return refuse(peer, proto::Type::state, in,
                        "job " + in.name + " is replicated here by another source");
        }
        owners[in.name] = key;
        Result<Store*> st = store_for(in.name, static_cast<Mode>(in.mode));
        if (!st.ok()) {
          record("refused", in.name, peer, &m.value, st.error.message);
          return refuse(peer, proto::Type::state, in, st.error.message);
        }
        // An earlier offer of the same path (the source gave up on it) is
        // dropped: its staging stays on disk, and begin() resumes it.
        for (auto it = open.begin(); it != open.end();) {
          const bool same = std::get<0>(it->first) == peer && std::get<1>(it->first) == in.job &&
                            it->second.path == m.value.path;
          it = same ? open.erase(it) : std::next(it);
        }
        Result<std::vector<VersionInfo>> vs = st.value->list_versions(m.value.path);
        uint64_t live = 0, newest = 0;  // newest: a removed path has versions, none live
        const VersionInfo* live_info = nullptr;
        if (vs.ok()) {
          for (const VersionInfo& v : vs.value) {
            newest = std::max(newest, v.version);
            if (v.live) {
              live = v.version;
              live_info = &v;
            }
          }
        }
        proto::Msg r;
        r.type = proto::Type::state;
        r.job = in.job;
        r.fseq = in.fseq;
        if (live_info && live_info->root == m.value.root && live_info->size == m.value.size) {
          r.outcome = proto::Outcome::up_to_date;
          r.value = live;
          return reply(peer, r);
        }
        m.value.version = newest + 1;
        Result<Staging> s = st.value->begin(m.value);
        if (!s.ok()) {
          record("refused", in.name, peer, &m.value, s.error.message);
          return refuse(peer, proto::Type::state, in, s.error.message);
        }
        r.outcome = proto::Outcome::ok;
        r.value = m.value.version;
        r.missing = proto::to_ranges(s.value.missing_chunks());
        // Chunks begin() copied from the previous version (an append-only
        // file's prefix) are made durable with the group.
        if (s.value.chunks_copied() > 0) copied.push_back(std::make_tuple(peer, in.job, in.fseq));
        // The same number from an earlier incarnation of the source (it
        // restarted) is another transfer: replaced, never mixed up with it.
        open.insert_or_assign(std::make_tuple(peer, in.job, in.fseq),
                              Open{std::move(s.value), in.name, m.value.path});
        return reply(peer, r);
      }
      case proto::Type::chunk: {
        auto it = open.find(std::make_tuple(peer, in.job, in.fseq));
        if (it == open.end()) {
          return refuse(peer, proto::Type::chunk_ack, in, "no such transfer (offer it again)");
        }
        const Status w = it->second.staging.write_chunk(in.value, in.data);
        if (!w.ok()) {
          if (w.error.code == Errc::hash_mismatch) {
            std::lock_guard<std::mutex> l(smu);
            ++stats.verify_failures;
          }
          return refuse(peer, proto::Type::chunk_ack, in, w.error.message);
        }
        {
          std::lock_guard<std::mutex> l(smu);
          ++stats.chunks_written;
          stats.bytes_written += in.data.size();
        }
        written.push_back({it->first, in.value, peer});
        if (it->second.commit_waiting && it->second.staging.missing_chunks().empty()) {
          it->second.commit_waiting = false;
          proto::Msg c;
          c.type = proto::Type::commit;
          c.job = in.job;
          c.fseq = in.fseq;
          seal(peer, c);
        }
        return;
      }
      case proto::Type::commit: {
        auto it = open.find(std::make_tuple(peer, in.job, in.fseq));
        if (it == open.end()) {
          return refuse(peer, proto::Type::committed, in, "no such transfer (offer it again)");
        }
        if (!it->second.staging.missing_chunks().empty()) {
          // Its last chunks are still on their way: sealed when they are
          // written. A source that gives up on it offers it again, which
          // drops this transfer.
          it->second.commit_waiting = true;
          return;
        }
        return seal(peer, in);
      }
      case proto::Type::remove: {
        auto owner = std::find_if(owners.begin(), owners.end(),
                                  [&](const auto& o) { return o.second == key; });
        if (owner == owners.end()) {
          // Nothing was offered by this job since the DR started: nothing of
          // it is staged here, but its store may hold the path.
          return refuse(peer, proto::Type::committed, in, "unknown job (offer or list first)");
        }
        if (Status v = validate_path(in.path); !v.ok()) {
          return refuse(peer, proto::Type::committed, in, v.error.message);
        }
        Result<Store*> st = store_for(owner->first, Mode::durable);
        if (!st.ok()) return refuse(peer, proto::Type::committed, in, st.error.message);
        // A transfer of the path still open here is dropped (its staging
        // stays on disk until a new offer or the next open()).
        for (auto it = open.begin(); it != open.end();) {
          const bool same = std::get<0>(it->first) == peer && std::get<1>(it->first) == in.job &&
                            it->second.path == in.path;
          it = same ? open.erase(it) : std::next(it);
        }
        Result<uint64_t> r = st.value->remove(in.path);
        if (!r.ok()) {
          record("refused", owner->first, peer, nullptr, in.path + ": " + r.error.message);
          return refuse(peer, proto::Type::committed, in, r.error.message);
        }
        removed.push_back({key, in.fseq, r.value, in.path, owner->first, st.value});
        return;
      }
      case proto::Type::list: {
        proto::Msg r;
        r.type = proto::Type::listing;
        r.job = in.job;
        r.value = in.value;
        auto owner = owners.find(in.name);
        if (owner != owners.end() && owner->second != key) return reply(peer, r);  // not its tree
        owners[in.name] = key;
        Result<Store*> st = store_for(in.name, Mode::durable);
        if (st.ok()) {
          size_t listed = 0;
          for (auto& [p, v] : st.value->live_versions()) {
            listed += p.size() + 2 + 48;
            if (listed > proto::kMaxListingBytes) {
              r.paths.clear();  // too large to list: the source does without
              r.listed.clear();
              break;
            }
            r.paths.push_back(std::move(p));
            r.listed.push_back({v.size, v.mtime_ns, v.root});
          }
        }
        return reply(peer, r);
      }
      case proto::Type::barrier: {
        // Messages are handled in arrival order and every commit is done
        // (synced) before its answer: everything the source had answered is
        // durable here now.
        proto::Msg r;
        r.type = proto::Type::barrier_ok;
        r.job = in.job;
        r.value = in.value;
        return reply(peer, r);
      }
      default: {
        std::lock_guard<std::mutex> l(smu);
        ++stats.malformed;  // an answer sent to a sink
        return;
      }
    }
  }

  void refuse_held(std::vector<std::pair<PeerId, proto::Msg>>& out, PeerId peer, proto::Type type,
                   uint64_t job, uint64_t fseq, uint64_t value, const std::string& why) {
    proto::Msg r;
    r.type = type;
    r.job = job;
    r.fseq = fseq;
    r.value = value;
    r.outcome = proto::Outcome::refused;
    r.error = why;
    out.push_back({peer, r});
    std::lock_guard<std::mutex> l(smu);
    ++stats.refused;
  }

  // The end of a group: one flush makes the chunks and the sealed versions
  // durable; then the chunks count as present and the versions are renamed
  // into place; a second flush makes that durable; then every answer goes.
  void finish_group() {
    std::set<Store*> touched;
    auto store_of = [&](const Key& k) -> Store* {
      auto it = open.find(k);
      if (it == open.end()) return nullptr;
      auto st = stores.find(it->second.job);
      return st == stores.end() ? nullptr : st->second.get();
    };
    // Chunks wait for a flush in durable mode only; sealed versions always.
    for (const Written& w : written) {
      Store* st = store_of(w.key);
      if (st && durable.count(st)) touched.insert(st);
    }
    for (const Key& k : copied) {
      Store* st = store_of(k);
      if (st && durable.count(st)) touched.insert(st);
    }
    for (const Key& k : sealed)
      if (Store* st = store_of(k)) touched.insert(st);
    for (const Removed& r : removed) touched.insert(r.store);
    const Clock::time_point t_sync1 = Clock::now();
    std::map<Store*, Status> flushed;
    for (Store* st : touched) flushed[st] = st->flush();
    const Clock::time_point t_publish = Clock::now();
    auto flush_error = [&](const Key& k) -> std::string {
      Store* st = store_of(k);
      if (!st) return "the transfer was replaced (offer it again)";
      auto f = flushed.find(st);
      return f == flushed.end() || f->second.ok() ? std::string() : f->second.error.message;
    };
    std::vector<std::pair<PeerId, proto::Msg>> out;
    std::set<Key> settled;
    for (const Key& k : copied) {
      if (!flush_error(k).empty() || !open.count(k)) continue;
      (void)open.find(k)->second.staging.settle();  // a failure leaves them missing: sent again
    }
    for (const Written& w : written) {
      const auto [peer, job, fseq] = w.key;
      std::string why = flush_error(w.key);
      if (why.empty() && !settled.count(w.key)) {
        const Status s = open.find(w.key)->second.staging.settle();
        if (!s.ok()) why = s.error.message;
        settled.insert(w.key);
      }
      if (!why.empty()) {
        refuse_held(out, w.peer, proto::Type::chunk_ack, job, fseq, w.index, why);
        continue;
      }
      proto::Msg r;
      r.type = proto::Type::chunk_ack;
      r.job = job;
      r.fseq = fseq;
      r.value = w.index;
      out.push_back({w.peer, r});
    }
    std::set<Store*> published;
    std::vector<Key> ok_commits;
    for (const Key& k : sealed) {
      const auto [peer, job, fseq] = k;
      std::string why = flush_error(k);
      if (why.empty()) {
        Store* st = store_of(k);
        const Status s = open.find(k)->second.staging.publish();
        if (s.ok()) {
          published.insert(st);
          ok_commits.push_back(k);
          continue;
        }
        why = s.error.message;
      }
      if (auto it = open.find(k); it != open.end()) {
        const Manifest m = it->second.staging.manifest();
        record("refused", it->second.job, peer, &m, why);
        open.erase(it);
      }
      refuse_held(out, peer, proto::Type::committed, job, fseq, 0, why);
    }
    const Clock::time_point t_sync2 = Clock::now();
    std::map<Store*, Status> flushed2;
    for (Store* st : published) flushed2[st] = st->flush();
    const Clock::time_point t_cleanup = Clock::now();
    for (const Key& k : ok_commits) {
      const auto [peer, job, fseq] = k;
      auto it = open.find(k);
      Store* st = store_of(k);
      const Manifest m = it->second.staging.manifest();
      const std::string name = it->second.job;
      if (!flushed2[st].ok()) {
        // Renamed but maybe not durable: not acknowledged. The source offers
        // it again and finds it up to date (or the DR's open() repairs it).
        refuse_held(out, peer, proto::Type::committed, job, fseq, 0, flushed2[st].error.message);
        open.erase(it);
        continue;
      }
      (void)it->second.staging.cleanup();
      open.erase(it);
      {
        std::lock_guard<std::mutex> l(smu);
        ++stats.commits;
      }
      record("committed", name, peer, &m, "");
      proto::Msg r;
      r.type = proto::Type::committed;
      r.job = job;
      r.fseq = fseq;
      r.value = m.version;
      out.push_back({peer, r});
    }
    for (const Removed& r : removed) {
      const auto [peer, job] = r.key;
      const Status& f = flushed[r.store];
      if (!f.ok()) {
        refuse_held(out, peer, proto::Type::committed, job, r.fseq, 0, f.error.message);
        continue;
      }
      record("removed", r.job, peer, nullptr,
             r.path + " (version " + std::to_string(r.version) + " kept for restore)");
      proto::Msg m;
      m.type = proto::Type::committed;
      m.job = job;
      m.fseq = r.fseq;
      m.value = r.version;
      out.push_back({peer, m});
    }
    removed.clear();
    // Offers' states, refusals and barriers (answered in order after all the
    // group's commits) go after the group's acks.
    for (auto& h : held) out.push_back(std::move(h));
    held.clear();
    written.clear();
    sealed.clear();
    copied.clear();
    const Clock::time_point t_audit = Clock::now();
    flush_audit();
    {
      const Clock::time_point t_end = Clock::now();
      std::lock_guard<std::mutex> l(smu);
      ++stats.groups;
      stats.sync_s += seconds_between(t_sync1, t_publish) + seconds_between(t_sync2, t_cleanup);
      stats.publish_s += seconds_between(t_publish, t_sync2) + seconds_between(t_cleanup, t_audit);
      stats.audit_s += seconds_between(t_audit, t_end);
    }
    for (auto& [peer, m] : out) {
      box.put_out({peer, kSinkTag | (next_seq++ & kSeqMask), proto::encode(m)});
    }
  }

  void run() {
    while (!stopping.load()) {
      std::deque<Mailbox::In> batch = box.take_in();
      const Clock::time_point t0 = Clock::now();
      for (Mailbox::In& in : batch) {
        if (in.type == EventType::message_received) handle(in.peer, in.data);
      }
      if (!batch.empty()) {
        const double s = seconds_between(t0, Clock::now());
        std::lock_guard<std::mutex> l(smu);
        stats.receive_s += s;
      }
      if (!batch.empty() || !copied.empty() || !removed.empty()) finish_group();
      pollfd fd{box.efd, POLLIN, 0};
      poll(&fd, 1, 100);
      box.drain_wake();
    }
  }

  const SinkOptions opt;
  carrier::Carrier& carrier;
  AuditLog* const audit;
  Mailbox box;
  std::thread worker;
  std::atomic<bool> stopping{false};
  uint64_t next_seq = 1;

  // Worker state.
  std::map<std::string, std::unique_ptr<Store>> stores;
  std::set<Store*> durable;  // stores of jobs in durable mode
  std::map<std::string, std::pair<PeerId, uint64_t>> owners;
  using Key = std::tuple<PeerId, uint64_t, uint64_t>;  // peer, job, fseq
  std::map<Key, Open> open;
  // The current group (finish_group()).
  struct Written {
    Key key;
    uint64_t index = 0;
    PeerId peer = kNoPeer;
  };
  std::vector<Written> written;
  std::vector<Key> sealed;
  std::vector<Key> copied;
  struct Removed {
    std::pair<PeerId, uint64_t> key;  // peer, job
    uint64_t fseq = 0, version = 0;
    std::string path, job;
    Store* store = nullptr;
  };
  std::vector<Removed> removed;
  std::vector<std::pair<PeerId, proto::Msg>> held;

  // Shared (smu).
  mutable std::mutex smu;
  SinkStats stats;
  std::map<PeerId, std::string> names;
};

Sink::Sink(SinkOptions opt, carrier::Carrier& carrier, AuditLog* audit)
    : impl_(std::make_unique<Impl>(std::move(opt), carrier, audit)) {}

Sink::~Sink() = default;

bool Sink::on_event(const Event& ev, Time) {
  Impl& s = *impl_;
  switch (ev.type) {
    case EventType::message_received: {
      if (ev.flow != kReplicationFlow) return false;
      // Answers go to sources; everything else (malformed included) is ours.
      if (ev.data.size() >= 2 && ev.data[1] >= 1 && ev.data[1] <= 11 &&
          !proto::is_request(static_cast<proto::Type>(ev.data[1]))) {
        return false;
      }
      s.box.put_in({ev.type, ev.peer, 0, FailReason::none, {ev.data.begin(), ev.data.end()}});
      return true;
    }
    case EventType::send_completed:
    case EventType::send_failed:
      // A lost answer: the source times the transfer out and offers again.
      return (ev.cookie & kTagMask) == kSinkTag;
    default:
      return false;
  }
}

void Sink::tick(Time now) { impl_->box.flush(impl_->carrier, now, Duration::seconds(10)); }

void Sink::name_peer(PeerId peer, std::string name) {
  std::lock_guard<std::mutex> l(impl_->smu);
  impl_->names[peer] = std::move(name);
}

SinkStats Sink::stats() const {
  std::lock_guard<std::mutex> l(impl_->smu);
  return impl_->stats;
}

}  // namespace srdx::replicate
