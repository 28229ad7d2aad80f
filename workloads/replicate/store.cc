#include "replicate/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

namespace srdx::replicate {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Error walk_error(int err, std::string_view where) {
  if (err == ELOOP || err == ENOTDIR) {
    return {Errc::escapes_root,
            std::string(where) + ": a symlink or a non-directory on the way (not followed)"};
  }
  return sys_error(err, where);
}

// Opens the directory `rel` ('/'-separated, validated or empty) under dirfd
// one component at a time, never following a symlink; creates missing
// components when `create`.
Result<Fd> open_dir_beneath(int dirfd, std::string_view rel, bool create) {
  Fd cur(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return Result<Fd>::fail(sys_error(errno, "dup"));
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) slash = rel.size();
    const std::string part(rel.substr(start, slash - start));
    Fd next(openat(cur.get(), part.c_str(), kDirFlags));
    if (!next.valid() && errno == ENOENT && create) {
      if (mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return Result<Fd>::fail(sys_error(errno, "mkdir " + std::string(rel.substr(0, slash))));
      }
      next = Fd(openat(cur.get(), part.c_str(), kDirFlags));
    }
    if (!next.valid()) {
      return Result<Fd>::fail(walk_error(errno, "open " + std::string(rel.substr(0, slash))));
    }
    cur = std::move(next);
    start = slash + 1;
  }
  return {std::move(cur), {}};
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {{}, path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

Status fsync_fd(int fd, std::string_view what) {
  if (fsync(fd) != 0) return {sys_error(errno, "fsync " + std::string(what))};
  return {};
}

// A small file (a manifest, a progress record) read whole; `cap` bounds it.
Result<std::vector<uint8_t>> read_small(int dirfd, const std::string& name, size_t cap) {
  using R = Result<std::vector<uint8_t>>;
  Fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return R::fail(walk_error(errno, "open " + name));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return R::fail(sys_error(errno, "fstat " + name));
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > cap) {
    return R::fail(Errc::malformed, name + ": not a regular file of a plausible size");
  }
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t r = pread(fd.get(), buf.data() + got, buf.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return R::fail(r < 0 ? sys_error(errno, "read " + name) : Error{Errc::io, name + ": short"});
    got += static_cast<size_t>(r);
  }
  return {std::move(buf), {}};
}

Status write_all(int fd, std::span<const uint8_t> data, uint64_t offset, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t r =
        pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return {sys_error(errno, "write " + std::string(what))};
    done += static_cast<size_t>(r);
  }
  return {};
}

// How a store makes one file or directory durable: fsync now, or, with
// group sync, later (Store::Impl::sync gathers it for the group's flush()).
using SyncFn = std::function<Status(int fd, std::string_view what)>;

// Replaces dirfd/name with `data` atomically and durably: a temporary name,
// fsync, rename, fsync of the directory (each through `sync`).
Status write_file_durable(int dirfd, const std::string& name, std::span<const uint8_t> data,
                          const SyncFn& sync = fsync_fd) {
  const std::string tmp = name + ".tmp";
  Fd fd(openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return {walk_error(errno, "create " + tmp)};
  if (Status s = write_all(fd.get(), data, 0, tmp); !s.ok()) {
    unlinkat(dirfd, tmp.c_str(), 0);
    return s;
  }
  if (Status s = sync(fd.get(), tmp); !s.ok()) return s;
  if (renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    return {sys_error(errno, "rename " + tmp)};
  }
  return sync(dirfd, "directory of " + name);
}

Result<Manifest> read_manifest(int dirfd, const std::string& name) {
  auto bytes = read_small(dirfd, name, 64u << 20);
  if (!bytes.ok()) return Result<Manifest>::fail(bytes.error);
  return decode(bytes.value);
}

// Directory entries: (name, is_dir), without "." and "..". d_type is not
// trusted blindly: DT_UNKNOWN is resolved with fstatat(AT_SYMLINK_NOFOLLOW).
std::vector<std::pair<std::string, bool>> list_dir(int dirfd) {
  std::vector<std::pair<std::string, bool>> out;
  const int fd = openat(dirfd, ".", kDirFlags);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return out;
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out.emplace_back(name, is_dir);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<uint64_t> parse_version(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The hash of chunk i of m's file as fd holds it now; all zero if unreadable
// (which no SHA-256 is).
Hash chunk_hash_at(int fd, const Manifest& m, uint64_t i, std::vector<uint8_t>& buf) {
  const uint64_t len = chunk_length(m.size, m.chunk_size, i);
  buf.resize(len);
  uint64_t got = 0;
  while (got < len) {
    const ssize_t r =
        pread(fd, buf.data() + got, len - got, static_cast<off_t>(i * m.chunk_size + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    got += static_cast<uint64_t>(r);
  }
  return sha256(buf);
}

constexpr std::string_view kManifestSuffix = ".manifest";

// The versions with a manifest in a path's versions directory, ascending.
std::vector<uint64_t> manifest_versions(int vdir) {
  std::vector<uint64_t> out;
  for (const auto& [name, is_dir] : list_dir(vdir)) {
    if (is_dir || !name.ends_with(kManifestSuffix)) continue;
    if (auto v =
            parse_version(std::string_view(name).substr(0, name.size() - kManifestSuffix.size()))) {
      out.push_back(*v);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string manifest_name(uint64_t v) { return std::to_string(v) + std::string(kManifestSuffix); }

// What is wrong with dirfd/name against m; empty: nothing.
// prefix: the version's bytes are the first m.size bytes of a later version's
// file (an append-only file grown in place: Store::begin), which may be longer.
std::string check_file(int dirfd, const std::string& name, const Manifest& m, bool prefix = false) {
  Fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return walk_error(errno, "open").message;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return sys_error(errno, "fstat").message;
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (prefix ? static_cast<uint64_t>(st.st_size) < m.size
             : static_cast<uint64_t>(st.st_size) != m.size) {
    return "size " + std::to_string(st.st_size) + ", manifest says " + std::to_string(m.size);
  }
  std::vector<Hash> hashes;
  hashes.reserve(m.chunks.size());
  if (Status s = hash_chunks(fd.get(), m.size, m.chunk_size, 0, hashes); !s.ok()) {
    return s.error.message;
  }
  std::string bad;
  size_t nbad = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (hashes[i] == m.chunks[i]) continue;
    if (nbad++ < 8) bad += (bad.empty() ? "" : ",") + std::to_string(i);
  }
  if (nbad > 0) {
    return std::to_string(nbad) + " chunk(s) differ from the manifest: " + bad +
           (nbad > 8 ? ",..." : "");
  }
  if (merkle_root(hashes) != m.root) return "Merkle root differs";
  return {};
}

// Copies len bytes from src at src_off to dst at dst_off: copy_file_range (a
// reflink or an in-kernel copy), pread/pwrite where it is refused.
Status copy_range(int src, uint64_t src_off, int dst, uint64_t dst_off, uint64_t len) {
  uint64_t done = 0;
  while (done < len) {
    loff_t in = static_cast<loff_t>(src_off + done), out = static_cast<loff_t>(dst_off + done);
    const ssize_t r = copy_file_range(src, &in, dst, &out, len - done, 0);
    if (r > 0) {
      done += static_cast<uint64_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
      return {sys_error(errno, "copy_file_range")};
    }
    // Refused, or 0 (source shorter than expected): byte by byte copying tells which.
    std::vector<uint8_t> buf(std::min<uint64_t>(len - done, 1u << 20));
    const ssize_t n = pread(src, buf.data(), buf.size(), static_cast<off_t>(src_off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {sys_error(errno, "read")};
    if (n == 0) return Status::fail(Errc::io, "copy: source shorter than expected");
    if (Status s = write_all(dst, {buf.data(), static_cast<size_t>(n)}, dst_off + done, "copy");
        !s.ok()) {
      return s;
    }
    done += static_cast<uint64_t>(n);
  }
  return {};
}
Status copy_range(int src, int dst, uint64_t offset, uint64_t len) {
  return copy_range(src, offset, dst, offset, len);
}

// A version's mode and mtime on the file that holds it.
Status stamp(int fd, const Manifest& m) {
  if (fchmod(fd, static_cast<mode_t>(m.mode)) != 0) return {sys_error(errno, "fchmod")};
  const timespec times[2] = {{0, UTIME_OMIT},
                             {static_cast<time_t>(m.mtime_ns / 1'000'000'000),
                              static_cast<long>(m.mtime_ns % 1'000'000'000)}};
  if (m.mtime_ns >= 0 && futimens(fd, times) != 0) return {sys_error(errno, "futimens")};
  return {};
}

// Whether the len bytes at a_off in a equal those at b_off in b.
Result<bool> same_bytes(int a, uint64_t a_off, int b, uint64_t b_off, uint64_t len) {
  std::vector<uint8_t> x(std::min<uint64_t>(len, 1u << 20)), y(x.size());
  for (uint64_t done = 0; done < len;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, x.size()));
    for (auto [fd, off, buf] : {std::tuple{a, a_off, &x}, std::tuple{b, b_off, &y}}) {
      for (size_t got = 0; got < n;) {
        const ssize_t r =
            pread(fd, buf->data() + got, n - got, static_cast<off_t>(off + done + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Result<bool>::fail(sys_error(errno, "read"));
        if (r == 0) return {false, {}};  // shorter: not the same
        got += static_cast<size_t>(r);
      }
    }
    if (std::memcmp(x.data(), y.data(), n) != 0) return {false, {}};
    done += n;
  }
  return {true, {}};
}

}  // namespace

// ---------------------------------------------------------------------------

struct Store::Impl {
  std::string root;
  StoreOptions opt;
  std::shared_ptr<BlockWriter> writer;
  Fd rootfd, staging, versions, quarantine;

  // Directories walked before (the parents of live files, the versions
  // directories), kept open: a tree of many files in few directories walks
  // each directory once, not once per file and operation. The cache holds
  // what the walk (O_NOFOLLOW, component by component) opened; a dup of it is
  // handed out. Bounded: emptied when it grows past kMaxCachedDirs.
  static constexpr size_t kMaxCachedDirs = 512;
  mutable std::unordered_map<std::string, Fd> dir_cache;
  Result<Fd> cached_dir(int base, char kind, std::string_view rel, bool create) const {
    const std::string key = std::string(1, kind) + std::string(rel);
    auto it = dir_cache.find(key);
    if (it != dir_cache.end()) {
      // A directory removed since (by an operator) is walked again, not
      // written into unseen.
      struct stat st {};
      if (fstat(it->second.get(), &st) != 0 || st.st_nlink == 0) {
        dir_cache.erase(it);
        it = dir_cache.end();
      }
    }
    if (it == dir_cache.end()) {
      Result<Fd> d = open_dir_beneath(base, rel, create);
      if (!d.ok()) return d;
      if (dir_cache.size() >= kMaxCachedDirs) dir_cache.clear();
      it = dir_cache.emplace(key, std::move(d.value)).first;
    }
    Fd dup(fcntl(it->second.get(), F_DUPFD_CLOEXEC, 0));
    if (!dup.valid()) return Result<Fd>::fail(sys_error(errno, "dup"));
    return {std::move(dup), {}};
  }

  // Group sync (StoreOptions::group_sync): each per-operation sync is
  // gathered for flush() (each file or directory once, by inode); otherwise
  // each happens where it is needed.
  Status sync(int fd, std::string_view what) const {
    return opt.group_sync ? defer(fd, false) : fsync_fd(fd, what);
  }
  Status sync_data(int fd) const { return opt.group_sync ? defer(fd, true) : writer->sync(fd); }
  SyncFn syncer() const {
    return [this](int fd, std::string_view what) { return sync(fd, what); };
  }
  // Group sync only: what a group wrote with no sync of its own (chunk data,
  // a stamped file) joins the group's flush(). Nothing otherwise.
  Status later(int fd, bool data_only) const {
    return opt.group_sync ? defer(fd, data_only) : Status{};
  }
  // Every file and directory the group gathered, synced together (one
  // io_uring batch: the filesystem commits them as one). Not syncfs(2): that
  // would wait for every other writer of the filesystem too (logs, builds,
  // the source's own writes on a shared disk), seconds at worst.
  Status flush() const {
    std::map<std::pair<dev_t, ino_t>, Deferred> now;
    now.swap(deferred);
    std::vector<BlockWriter::SyncItem> items;
    items.reserve(now.size());
    for (const auto& [id, d] : now) items.push_back({d.fd.get(), d.data_only});
    if (Status s = writer->sync_all(items); !s.ok()) {
      return {s.error.code, "sync of " + std::to_string(items.size()) + " file(s) under " + root +
                                ": " + s.error.message};
    }
    return {};
  }
  struct Deferred {
    Fd fd;  // a duplicate: the caller's may be closed before the flush
    bool data_only = true;
  };
  mutable std::map<std::pair<dev_t, ino_t>, Deferred> deferred;
  Status defer(int fd, bool data_only) const {
    struct stat sb {};
    if (fstat(fd, &sb) != 0) return {sys_error(errno, "fstat")};
    auto [it, fresh] = deferred.try_emplace({sb.st_dev, sb.st_ino});
    if (fresh) {
      it->second.fd = Fd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
      if (!it->second.fd.valid()) {
        deferred.erase(it);
        return {sys_error(errno, "dup")};
      }
      it->second.data_only = data_only;
    } else {
      it->second.data_only = it->second.data_only && data_only;
    }
    return {};
  }

  // The versions directory of path (created when `create`).
  Result<Fd> version_dir(const std::string& path, bool create) const {
    return cached_dir(versions.get(), 'v', path, create);
  }

  // The live manifest of path, or nothing (never committed); an error if the
  // way to it is not a plain directory walk.
  Result<std::optional<Manifest>> live_manifest(const std::string& path) const {
    using R = Result<std::optional<Manifest>>;
    Result<Fd> vdir = version_dir(path, false);
    if (!vdir.ok()) {
      if (vdir.error.code == Errc::not_found) return {};
      return R::fail(vdir.error);
    }
    const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
    if (vs.empty()) return {};
    Result<Manifest> m = read_manifest(vdir.value.get(), manifest_name(vs.back()));
    if (!m.ok()) return R::fail(m.error.code, path + ": live manifest: " + m.error.message);
    return {std::move(m.value), {}};
  }

  // A path removed at the source (Store::remove): a tombstone "<v>.deleted"
  // beside the manifest of its newest version v. Its bytes are then kept as
  // versions/<path>/<v>, and it has no live version.
  static bool tombstoned(int vdir, uint64_t newest) {
    struct stat st {};
    return fstatat(vdir, (std::to_string(newest) + ".deleted").c_str(), &st, AT_SYMLINK_NOFOLLOW) ==
           0;
  }
  bool path_deleted(const std::string& path) const {
    Result<Fd> vdir = version_dir(path, false);
    if (!vdir.ok()) return false;
    const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
    return !vs.empty() && tombstoned(vdir.value.get(), vs.back());
  }

  // Every path with a versions directory (a manifest in it), walked with
  // O_NOFOLLOW from versions/.
  void collect_paths(int dirfd, const std::string& prefix, std::vector<std::string>& out) const {
    bool has_manifest = false;
    for (const auto& [name, is_dir] : list_dir(dirfd)) {
      if (!is_dir) {
        has_manifest = has_manifest || name.ends_with(kManifestSuffix);
        continue;
      }
      Fd sub(openat(dirfd, name.c_str(), kDirFlags));
      if (sub.valid()) collect_paths(sub.get(), prefix.empty() ? name : prefix + "/" + name, out);
    }
    if (has_manifest && !prefix.empty()) out.push_back(prefix);
  }

  // Where the bytes of `version` of path are: its own file (the live file for
  // the live version `live`, versions/<path>/<v> for a kept one), or, for a
  // version that an append grew in place (journal mode, Store::begin), the
  // first `size` bytes of the oldest later version that has a file of its
  // own (`prefix`). Either way the manifest's hashes are what prove them.
  struct BytesAt {
    Fd dir;
    std::string name;
    bool prefix = false;
  };
  Result<BytesAt> version_bytes(const std::string& path, uint64_t version, uint64_t live) const {
    using R = Result<BytesAt>;
    auto live_file = [&](bool prefix) -> R {
      auto [parent, name] = split_parent(path);
      Result<Fd> dir = open_dir_beneath(rootfd.get(), parent, false);
      if (!dir.ok()) return R::fail(dir.error);
      return {{std::move(dir.value), std::string(name), prefix}, {}};
    };
    if (version == live) return live_file(false);
    Result<Fd> vdir = version_dir(path, false);
    if (!vdir.ok()) return R::fail(vdir.error);
    for (uint64_t w : manifest_versions(vdir.value.get())) {
      if (w < version) continue;
      if (w == live) return live_file(w != version);
      struct stat st {};
      if (fstatat(vdir.value.get(), std::to_string(w).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        Fd dup(fcntl(vdir.value.get(), F_DUPFD_CLOEXEC, 0));
        if (!dup.valid()) return R::fail(sys_error(errno, "dup"));
        return {{std::move(dup), std::to_string(w), w != version}, {}};
      }
    }
    return R::fail(Errc::not_found,
                   path + " version " + std::to_string(version) + ": no bytes kept for it");
  }

  // Staging leftovers after a crash:
  //  - a version at or below the live one is done (its cleanup was cut
  //    short): dropped;
  //  - a journal tail (start_journal) whose publish a crash cut short leaves
  //    the live file longer than its version: cut back, the tail resumes;
  //    a tail of a version that is no longer live is dropped;
  //  - a whole staging whose data is gone was renamed into place: if the
  //    live file is that version, its manifest goes to versions/; otherwise
  //    (a quarantine, or never renamed) the leftovers are dropped.
  void recover() {
    const std::vector<std::pair<std::string, bool>> entries = list_dir(staging.get());
    auto exists = [&](const std::string& n) {
      return std::binary_search(entries.begin(), entries.end(), std::pair{n, false});
    };
    // id -> the journal tail's name and base version.
    std::map<std::string, std::pair<std::string, uint64_t>> tails;
    for (const auto& [name, is_dir] : entries) {
      const size_t t = name.find(".tail.");
      if (is_dir || t == std::string::npos) continue;
      if (std::optional<uint64_t> b = parse_version(std::string_view(name).substr(t + 6)))
        tails[name.substr(0, t)] = {name, *b};
      else
        unlinkat(staging.get(), name.c_str(), 0);
    }
    for (const auto& [name, is_dir] : entries) {
      if (is_dir || !name.ends_with(kManifestSuffix)) continue;
      const std::string id = name.substr(0, name.size() - kManifestSuffix.size());
      // A plain reference for the lambda: clang before 16 cannot capture a
      // structured binding.
      const std::string& manifest_file = name;
      auto drop = [&] {
        if (auto t = tails.find(id); t != tails.end()) {
          unlinkat(staging.get(), t->second.first.c_str(), 0);
          tails.erase(t);
        }
        unlinkat(staging.get(), id.c_str(), 0);
        unlinkat(staging.get(), (id + ".progress").c_str(), 0);
        unlinkat(staging.get(), manifest_file.c_str(), 0);
      };
      Result<Manifest> m = read_manifest(staging.get(), name);
      if (!m.ok()) {
        drop();
        continue;
      }
      Result<std::optional<Manifest>> lv = live_manifest(m.value.path);
      if (lv.ok() && lv.value && lv.value->version >= m.value.version) {
        drop();
        continue;
      }
      auto [parent, base] = split_parent(m.value.path);
      if (auto t = tails.find(id); t != tails.end()) {
        if (!lv.ok() || !lv.value || lv.value->version != t->second.second) {
          drop();
          continue;
        }
        Result<Fd> dir = open_dir_beneath(rootfd.get(), parent, false);
        Fd lf(dir.ok() ? openat(dir.value.get(), std::string(base).c_str(),
                                O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                       : -1);
        struct stat sb {};
        if (lf.valid() && fstat(lf.get(), &sb) == 0 && S_ISREG(sb.st_mode) &&
            static_cast<uint64_t>(sb.st_size) > lv.value->size) {
          if (ftruncate(lf.get(), static_cast<off_t>(lv.value->size)) == 0)
            (void)fsync_fd(lf.get(), "");
        }
        continue;  // resumable
      }
      if (exists(id)) continue;  // resumable
      Result<Fd> dir = open_dir_beneath(rootfd.get(), parent, false);
      if (dir.ok() && check_file(dir.value.get(), std::string(base), m.value).empty()) {
        Result<Fd> vdir = version_dir(m.value.path, true);
        if (vdir.ok()) {
          const std::vector<uint8_t> bytes = encode(m.value);
          (void)write_file_durable(vdir.value.get(), manifest_name(m.value.version), bytes);
        }
      }
      unlinkat(staging.get(), (id + ".progress").c_str(), 0);
      unlinkat(staging.get(), name.c_str(), 0);
    }
    // Staged data without a manifest beside it: a single-chunk file (staged
    // without manifest or progress, begin()) or a begin() a crash cut short.
    // Nothing to resume from: dropped.
    for (const auto& [name, is_dir] : list_dir(staging.get())) {
      if (is_dir || name.ends_with(kManifestSuffix) || name.ends_with(".tmp")) continue;
      std::string id = name;
      if (const size_t t = name.find(".tail."); t != std::string::npos)
        id = name.substr(0, t);
      else if (name.ends_with(".progress"))
        id = name.substr(0, name.size() - 9);
      struct stat st {};
      if (fstatat(staging.get(), (id + std::string(kManifestSuffix)).c_str(), &st,
                  AT_SYMLINK_NOFOLLOW) != 0) {
        unlinkat(staging.get(), name.c_str(), 0);
      }
    }
    (void)fsync_fd(staging.get(), "staging");
  }
};

struct Staging::Impl {
  Store::Impl* store = nullptr;
  Manifest m;
  std::string id;
  std::string data_name;  // in staging/: id, or the journal tail's name
  Fd data, progress;
  // Journal mode (start_journal): an append to the live file is staged as its
  // tail alone, bytes [tail_off, m.size), and publish() grows the live file in
  // place; chunks below tail_off are the live version's, present from the start.
  bool journal = false;
  uint64_t tail_off = 0, base = 0, base_size = 0;
  Fd live;                       // the live file (journal mode), opened at begin()
  std::vector<uint8_t> present;  // 1: verified and durable (as the mode says)
  uint64_t copied = 0;
  bool spent = false;

  Status mark_present(uint64_t first, uint64_t count) {
    for (uint64_t i = first; i < first + count; ++i) present[i] = 1;
    if (!progress.valid()) return {};  // a single-chunk file: no progress record
    const std::span<const uint8_t> bytes(present.data() + first, count);
    if (Status s = store->writer->write(progress.get(), bytes, first); !s.ok()) return s;
    if (store->opt.durability == Durability::durable) return store->sync_data(progress.get());
    return {};
  }

  // Group sync: chunks written and not yet counted present (settle()).
  std::vector<uint64_t> unsettled;
  // seal() done: verified, waiting for publish().
  bool sealed = false, published = false;

  // Moves the staged bytes to quarantine/ with the reason and the manifest,
  // and forgets the staging.
  void quarantine(const std::string& reason) {
    int n = 0;
    std::string dir;
    while (true) {
      dir = id + "." + std::to_string(n++);
      if (mkdirat(store->quarantine.get(), dir.c_str(), 0700) == 0 || errno != EEXIST) break;
    }
    Fd q(openat(store->quarantine.get(), dir.c_str(), kDirFlags));
    if (q.valid()) {
      const std::string why =
          m.path + " version " + std::to_string(m.version) + ": " + reason + "\n";
      (void)write_file_durable(q.get(), "reason",
                               {reinterpret_cast<const uint8_t*>(why.data()), why.size()});
      const std::string js = to_json(m).dump(2) + "\n";
      (void)write_file_durable(q.get(), "manifest.json",
                               {reinterpret_cast<const uint8_t*>(js.data()), js.size()});
      renameat(store->staging.get(), data_name.c_str(), q.get(), "data");
      (void)fsync_fd(q.get(), "quarantine");
    } else {
      unlinkat(store->staging.get(), data_name.c_str(), 0);
    }
    unlinkat(store->staging.get(), (id + ".progress").c_str(), 0);
    unlinkat(store->staging.get(), (id + std::string(kManifestSuffix)).c_str(), 0);
    (void)fsync_fd(store->staging.get(), "staging");
    spent = true;
  }

  static std::string tail_name(const std::string& id, uint64_t base) {
    return id + ".tail." + std::to_string(base);
  }

  // Journal mode: m extends the live version `lv` by appends. Its full chunks
  // are lv's, the live file is lv's bytes (a plain file of one link, at least
  // lv.size long), so only the tail travels and is written: an append costs
  // its own size at DR, not the file's (a database journal of gigabytes
  // appended every few milliseconds). false: not such an append; the caller
  // stages the whole version. The old last partial chunk is checked byte for
  // byte at seal(): if it was rewritten, not appended to, the version is
  // staged whole after all (to_full).
  Result<bool> start_journal(const Manifest& lv) {
    using R = Result<bool>;
    const uint32_t cs = m.chunk_size;
    const uint64_t k = lv.size / cs;
    if (lv.chunk_size != cs || k == 0 || m.size < lv.size || m.chunks.size() < k) return {};
    for (uint64_t i = 0; i < k; ++i)
      if (m.chunks[i] != lv.chunks[i]) return {};
    auto [parent_path, name] = split_parent(m.path);
    Result<Fd> parent = store->cached_dir(store->rootfd.get(), 'r', parent_path, false);
    if (!parent.ok()) return {};
    Fd lf(openat(parent.value.get(), std::string(name).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    struct stat sb {};
    if (!lf.valid() || fstat(lf.get(), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
        static_cast<uint64_t>(sb.st_size) < lv.size) {
      return {};
    }
    const size_t n = m.chunks.size();
    const std::string tname = tail_name(id, lv.version);
    const std::string mname = id + std::string(kManifestSuffix), pname = id + ".progress";
    bool resumed = false;
    if (Result<Manifest> old = read_manifest(store->staging.get(), mname);
        old.ok() && old.value == m) {
      data = Fd(openat(store->staging.get(), tname.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
      progress = Fd(openat(store->staging.get(), pname.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
      if (data.valid() && progress.valid()) {
        Result<std::vector<uint8_t>> p = read_small(store->staging.get(), pname, n + 1);
        if (p.ok() && p.value.size() == n) {
          present = std::move(p.value);
          for (uint8_t& b : present) b = b == 1 ? 1 : 0;
          resumed = true;
        }
      }
    }
    if (!resumed) {
      // As a fresh whole staging (Store::begin): tail and progress first, the
      // manifest last. A whole staging of the same version goes.
      unlinkat(store->staging.get(), mname.c_str(), 0);
      unlinkat(store->staging.get(), id.c_str(), 0);
      data = Fd(openat(store->staging.get(), tname.c_str(),
                       O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!data.valid()) return R::fail(walk_error(errno, "create staging for " + m.path));
      if (ftruncate(data.get(), static_cast<off_t>(m.size - k * cs)) != 0) {
        return R::fail(sys_error(errno, "size staging for " + m.path));
      }
      progress = Fd(openat(store->staging.get(), pname.c_str(),
                           O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!progress.valid()) return R::fail(walk_error(errno, "create progress for " + m.path));
      present.assign(n, 0);
      std::fill_n(present.begin(), k, uint8_t{1});
      if (Status w = write_all(progress.get(), present, 0, pname); !w.ok()) return R::fail(w.error);
      if (Status w = store->sync(progress.get(), pname); !w.ok()) return R::fail(w.error);
      const std::vector<uint8_t> bytes = encode(m);
      if (Status w = write_file_durable(store->staging.get(), mname, bytes, store->syncer());
          !w.ok())
        return R::fail(w.error);
    }
    std::fill_n(present.begin(), k, uint8_t{1});
    data_name = tname;
    journal = true;
    tail_off = k * cs;
    base = lv.version;
    base_size = lv.size;
    live = std::move(lf);
    return {true, {}};
  }

  // The tail's chunks against the manifest, re-read from disk; an empty
  // string when all is well.
  std::string check_tail() {
    struct stat sb {};
    if (fstat(data.get(), &sb) != 0) return sys_error(errno, "fstat staging").message;
    if (static_cast<uint64_t>(sb.st_size) != m.size - tail_off) {
      return "staged tail is " + std::to_string(sb.st_size) + " bytes, not " +
             std::to_string(m.size - tail_off);
    }
    std::vector<uint8_t> buf;
    for (uint64_t i = tail_off / m.chunk_size; i < m.chunks.size(); ++i) {
      const uint64_t len = chunk_length(m.size, m.chunk_size, i);
      buf.resize(len);
      for (uint64_t got = 0; got < len;) {
        const ssize_t r = pread(data.get(), buf.data() + got, len - got,
                                static_cast<off_t>(i * m.chunk_size - tail_off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return "chunk " + std::to_string(i) + " unreadable";
        got += static_cast<uint64_t>(r);
      }
      if (sha256(buf) != m.chunks[i]) return "chunk " + std::to_string(i) + " differs";
    }
    return {};
  }

  // The old last partial chunk was rewritten, not appended to: the version
  // is staged whole (the live prefix copied locally, then the tail), as if
  // begin() had not taken it for an append.
  Status to_full() {
    Fd full(openat(store->staging.get(), id.c_str(),
                   O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!full.valid()) return {walk_error(errno, "create staging for " + m.path)};
    if (Status c = copy_range(live.get(), 0, full.get(), 0, tail_off); !c.ok()) return c;
    if (Status c = copy_range(data.get(), 0, full.get(), tail_off, m.size - tail_off); !c.ok())
      return c;
    unlinkat(store->staging.get(), data_name.c_str(), 0);
    data = std::move(full);
    data_name = id;
    journal = false;
    live.reset();
    return {};
  }
};

Staging::Staging(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Staging::Staging(Staging&&) noexcept = default;
Staging& Staging::operator=(Staging&&) noexcept = default;
Staging::~Staging() = default;

const Manifest& Staging::manifest() const { return impl_->m; }

std::vector<uint64_t> Staging::missing_chunks() const {
  // Written and waiting for settle() (group sync) is not missing: the
  // caller's flush makes it durable before anything is acknowledged.
  std::vector<uint8_t> have = impl_->present;
  for (uint64_t i : impl_->unsettled) have[i] = 1;
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < have.size(); ++i) {
    if (!have[i]) out.push_back(i);
  }
  return out;
}

uint64_t Staging::chunks_copied() const { return impl_->copied; }

Status Staging::write_chunk(uint64_t index, std::span<const uint8_t> bytes) {
  Impl& s = *impl_;
  if (s.spent) return Status::fail(Errc::invalid_argument, "staging already committed");
  const Manifest& m = s.m;
  if (index >= m.chunks.size()) {
    return Status::fail(Errc::invalid_argument, m.path + ": chunk " + std::to_string(index) +
                                                    " of " + std::to_string(m.chunks.size()));
  }
  const uint64_t len = chunk_length(m.size, m.chunk_size, index);
  if (bytes.size() != len) {
    return Status::fail(Errc::invalid_argument, m.path + ": chunk " + std::to_string(index) +
                                                    " is " + std::to_string(bytes.size()) +
                                                    " bytes, expected " + std::to_string(len));
  }
  // Verified before anything touches the disk: a corrupt or forged chunk is
  // never written.
  if (sha256(bytes) != m.chunks[index]) {
    return Status::fail(Errc::hash_mismatch,
                        m.path + ": chunk " + std::to_string(index) + " hash mismatch");
  }
  if (s.present[index]) return {};
  if (Status w = s.store->writer->write(s.data.get(), bytes, index * m.chunk_size - s.tail_off);
      !w.ok()) {
    return Status::fail(w.error.code,
                        m.path + ": chunk " + std::to_string(index) + ": " + w.error.message);
  }
  if (s.store->opt.group_sync) {
    // Present once settle() runs after the caller's flush().
    if (s.store->opt.durability == Durability::durable) {
      if (Status w = s.store->later(s.data.get(), true); !w.ok()) return w;
    }
    if (std::find(s.unsettled.begin(), s.unsettled.end(), index) == s.unsettled.end())
      s.unsettled.push_back(index);
    return {};
  }
  if (s.store->opt.durability == Durability::durable) {
    if (Status w = s.store->writer->sync(s.data.get()); !w.ok()) return w;
  }
  return s.mark_present(index, 1);
}

Status Staging::settle() {
  Impl& s = *impl_;
  for (uint64_t i : s.unsettled) {
    if (s.present[i]) continue;
    if (Status w = s.mark_present(i, 1); !w.ok()) return w;
  }
  s.unsettled.clear();
  return {};
}

Status Staging::commit() {
  if (Status r = seal(); !r.ok()) return r;
  if (impl_->store->opt.group_sync) {
    if (Status r = impl_->store->flush(); !r.ok()) return r;
  } else if (Status r = fsync_fd(impl_->data.get(), impl_->m.path); !r.ok()) {
    return r;
  }
  if (Status r = publish(); !r.ok()) return r;
  if (impl_->store->opt.group_sync) {
    if (Status r = impl_->store->flush(); !r.ok()) return r;
  }
  return cleanup();
}

Status Staging::seal() {
  Impl& s = *impl_;
  Store::Impl& st = *s.store;
  const Manifest& m = s.m;
  if (s.spent) return Status::fail(Errc::invalid_argument, "staging already committed");
  if (s.sealed) return {};
  const std::vector<uint64_t> missing = missing_chunks();
  if (!missing.empty()) {
    return Status::fail(Errc::incomplete, m.path + ": " + std::to_string(missing.size()) +
                                              " chunk(s) missing, the first " +
                                              std::to_string(missing.front()));
  }
  if (s.journal) {
    // The tail against the manifest, re-read from disk: what publish() appends
    // is what was verified. The chunks below it are the live version's.
    if (std::string reason = s.check_tail(); !reason.empty()) {
      s.quarantine(reason);
      return Status::fail(Errc::hash_mismatch,
                          m.path + " version " + std::to_string(m.version) +
                              " failed verification and was quarantined: " + reason);
    }
    Result<bool> same =
        s.base_size == s.tail_off
            ? Result<bool>{true, {}}
            : same_bytes(s.live.get(), s.tail_off, s.data.get(), 0, s.base_size - s.tail_off);
    if (!same.ok()) return {same.error};
    if (same.value) {
      s.sealed = true;
      return {};
    }
    if (Status f = s.to_full(); !f.ok()) return f;
  }
  // The whole staged file against the manifest, re-read from disk: what is
  // renamed into place is what was verified.
  struct stat sb {};
  if (fstat(s.data.get(), &sb) != 0) return {sys_error(errno, "fstat staging")};
  std::string reason;
  if (static_cast<uint64_t>(sb.st_size) != m.size) {
    reason = "staged size " + std::to_string(sb.st_size) + " is not " + std::to_string(m.size);
  } else {
    reason = check_file(st.staging.get(), s.data_name, m);
  }
  if (!reason.empty()) {
    s.quarantine(reason);
    return Status::fail(Errc::hash_mismatch,
                        m.path + " version " + std::to_string(m.version) +
                            " failed verification and was quarantined: " + reason);
  }
  if (Status r = stamp(s.data.get(), m); !r.ok()) return r;
  // Group sync: its bytes, mode and mtime join the flush before publish().
  if (Status r = st.later(s.data.get(), false); !r.ok()) return r;
  s.sealed = true;
  return {};
}

Status Staging::publish() {
  Impl& s = *impl_;
  Store::Impl& st = *s.store;
  const Manifest& m = s.m;
  if (s.spent || !s.sealed) return Status::fail(Errc::invalid_argument, "staging not sealed");
  if (s.published) return {};
  auto [parent_path, name_view] = split_parent(m.path);
  const std::string name(name_view);
  Result<Fd> parent = st.cached_dir(st.rootfd.get(), 'r', parent_path, true);
  if (!parent.ok()) return {parent.error};
  Result<Fd> vdir = st.version_dir(m.path, true);
  if (!vdir.ok()) return {vdir.error};
  Result<std::optional<Manifest>> live = st.live_manifest(m.path);
  if (!live.ok()) return {live.error};
  if (live.value && live.value->version >= m.version) {
    return Status::fail(Errc::already_committed,
                        m.path + ": version " + std::to_string(live.value->version) + " is live");
  }

  // The version's manifest in versions/: what makes it the live one.
  auto make_live = [&]() -> Status {
    if (Status r =
            write_file_durable(vdir.value.get(), manifest_name(m.version), encode(m), st.syncer());
        !r.ok()) {
      return r;
    }
    s.published = true;
    return {};
  };
  if (s.journal) {
    // The live file grows in place by the verified tail. The version it
    // extends must still be the live one, in the same file.
    struct stat lb {
    }, fb{};
    if (!live.value || live.value->version != s.base ||
        fstatat(parent.value.get(), name.c_str(), &lb, AT_SYMLINK_NOFOLLOW) != 0 ||
        fstat(s.live.get(), &fb) != 0 || lb.st_dev != fb.st_dev || lb.st_ino != fb.st_ino) {
      return Status::fail(Errc::io, m.path + ": the live version changed during the transfer of " +
                                        "version " + std::to_string(m.version) +
                                        "; offer it again");
    }
    if (Status c = copy_range(s.data.get(), 0, s.live.get(), s.tail_off, m.size - s.tail_off);
        !c.ok()) {
      return c;
    }
    // Bytes beyond: an earlier publish of this tail that a crash cut short.
    if (static_cast<uint64_t>(fb.st_size) > m.size &&
        ftruncate(s.live.get(), static_cast<off_t>(m.size)) != 0) {
      return {sys_error(errno, "truncate " + m.path)};
    }
    if (Status r = stamp(s.live.get(), m); !r.ok()) return r;
    // Always synced here, group sync or not: the manifest that makes the
    // version live must never reach the disk before the bytes it describes.
    if (Status r = fsync_fd(s.live.get(), m.path); !r.ok()) return r;
    return make_live();
  }

  struct stat lb {};
  if (fstatat(parent.value.get(), name.c_str(), &lb, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(lb.st_mode)) {
      return Status::fail(Errc::escapes_root, m.path + ": a directory is in the way");
    }
    // Longer than its manifest: a journal tail's publish that failed half way
    // (journal mode); the kept version must be its own bytes exactly.
    if (S_ISREG(lb.st_mode) && live.value && static_cast<uint64_t>(lb.st_size) > live.value->size) {
      Fd lf(openat(parent.value.get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!lf.valid() || ftruncate(lf.get(), static_cast<off_t>(live.value->size)) != 0)
        return {sys_error(errno, "truncate " + m.path)};
      if (Status r = st.sync(lf.get(), m.path); !r.ok()) return r;
    }
    // The previous live version stays readable as versions/<path>/<v>: a hard
    // link, no copy. EEXIST: a crash came between this link and the rename.
    if (S_ISREG(lb.st_mode) && live.value) {
      const std::string old = std::to_string(live.value->version);
      if (linkat(parent.value.get(), name.c_str(), vdir.value.get(), old.c_str(), 0) != 0 &&
          errno != EEXIST) {
        return {sys_error(errno, "keep " + m.path + " version " + old)};
      }
      if (Status r = st.sync(vdir.value.get(), "versions of " + m.path); !r.ok()) return r;
    }
  }
  if (renameat(st.staging.get(), s.data_name.c_str(), parent.value.get(), name.c_str()) != 0) {
    return {sys_error(errno, "rename into " + m.path)};
  }
  if (Status r = st.sync(parent.value.get(), "directory of " + m.path); !r.ok()) return r;
  // From here the version is live. Its manifest in versions/ makes it the
  // live version for the store; a crash before that is finished by
  // Store::open (recover) from the staging manifest, removed only after.
  return make_live();
}

// After publish() (and, with group sync, the flush() that made it durable):
// the staging leftovers go, and versions beyond keep_versions.
Status Staging::cleanup() {
  Impl& s = *impl_;
  Store::Impl& st = *s.store;
  const Manifest& m = s.m;
  if (!s.published) return Status::fail(Errc::invalid_argument, "staging not published");
  if (s.spent) return {};
  Result<Fd> vdir = st.version_dir(m.path, true);
  if (!vdir.ok()) return {vdir.error};
  if (s.journal) unlinkat(st.staging.get(), s.data_name.c_str(), 0);  // the tail, now in place
  unlinkat(st.staging.get(), (s.id + ".progress").c_str(), 0);
  unlinkat(st.staging.get(), (s.id + std::string(kManifestSuffix)).c_str(), 0);
  (void)st.sync(st.staging.get(), "staging");
  s.spent = true;

  // Keep the newest keep_versions (the live one among them).
  const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
  const size_t keep = std::max<uint32_t>(st.opt.keep_versions, 1);
  for (size_t i = 0; i + keep < vs.size(); ++i) {
    unlinkat(vdir.value.get(), std::to_string(vs[i]).c_str(), 0);
    unlinkat(vdir.value.get(), manifest_name(vs[i]).c_str(), 0);
    unlinkat(vdir.value.get(), (std::to_string(vs[i]) + ".deleted").c_str(), 0);
  }
  return st.sync(vdir.value.get(), "versions of " + m.path);
}

Result<uint64_t> Store::remove(const std::string& path) {
  using R = Result<uint64_t>;
  Impl& st = *impl_;
  if (Status v = validate_path(path); !v.ok()) return R::fail(v.error);
  Result<Fd> vdir = st.version_dir(path, false);
  if (!vdir.ok()) {
    if (vdir.error.code == Errc::not_found) return {0, {}};  // never replicated: nothing to do
    return R::fail(vdir.error);
  }
  const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
  if (vs.empty()) return {0, {}};
  const uint64_t v = vs.back();
  auto [parent_path, name_view] = split_parent(path);
  const std::string name(name_view);
  Result<Fd> parent = open_dir_beneath(st.rootfd.get(), parent_path, false);
  struct stat lb {};
  const bool present = parent.ok() &&
                       fstatat(parent.value.get(), name.c_str(), &lb, AT_SYMLINK_NOFOLLOW) == 0 &&
                       S_ISREG(lb.st_mode);
  if (present) {
    // The bytes stay as the kept version v (point-in-time restore reaches
    // them); the tombstone before the unlink, so that a crash between the
    // two leaves a removal that a repeated remove() finishes.
    if (linkat(parent.value.get(), name.c_str(), vdir.value.get(), std::to_string(v).c_str(), 0) !=
            0 &&
        errno != EEXIST) {
      return R::fail(sys_error(errno, "keep " + path + " version " + std::to_string(v)));
    }
  }
  const std::string tomb = std::to_string(v) + ".deleted";
  Fd t(openat(vdir.value.get(), tomb.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!t.valid()) return R::fail(walk_error(errno, "tombstone of " + path));
  if (Status r = st.sync(vdir.value.get(), "versions of " + path); !r.ok()) return R::fail(r.error);
  if (present) {
    if (unlinkat(parent.value.get(), name.c_str(), 0) != 0) {
      return R::fail(sys_error(errno, "remove " + path));
    }
    if (Status r = st.sync(parent.value.get(), "directory of " + path); !r.ok())
      return R::fail(r.error);
  }
  return {v, {}};
}

std::vector<std::string> Store::live_paths() const {
  std::vector<std::string> paths, out;
  impl_->collect_paths(impl_->versions.get(), "", paths);
  std::sort(paths.begin(), paths.end());
  for (std::string& p : paths)
    if (!impl_->path_deleted(p)) out.push_back(std::move(p));
  return out;
}

std::vector<std::pair<std::string, VersionInfo>> Store::live_versions() const {
  std::vector<std::pair<std::string, VersionInfo>> out;
  for (std::string& p : live_paths()) {
    Result<std::optional<Manifest>> m = impl_->live_manifest(p);
    if (!m.ok() || !m.value) continue;
    const Manifest& lm = *m.value;
    out.emplace_back(std::move(p), VersionInfo{lm.version, lm.size, lm.mtime_ns, lm.root, true});
  }
  return out;
}

Status Store::flush() { return impl_->flush(); }

// ---------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::root() const { return impl_->root; }
std::string_view Store::writer_name() const { return impl_->writer->name(); }

Result<std::unique_ptr<Store>> Store::open(const std::string& root, StoreOptions opt) {
  using R = Result<std::unique_ptr<Store>>;
  auto impl = std::make_unique<Impl>();
  impl->root = root;
  impl->opt = std::move(opt);
  impl->writer = impl->opt.writer ? impl->opt.writer : std::shared_ptr(make_default_writer(64));
  impl->rootfd = Fd(::open(root.c_str(), kDirFlags));
  if (!impl->rootfd.valid()) return R::fail(walk_error(errno, "open store root " + root));
  for (auto [sub, fd] :
       {std::pair{".srdx/staging", &impl->staging}, std::pair{".srdx/versions", &impl->versions},
        std::pair{".srdx/quarantine", &impl->quarantine}}) {
    Result<Fd> d = open_dir_beneath(impl->rootfd.get(), sub, !impl->opt.read_only);
    if (!d.ok()) {
      if (impl->opt.read_only && d.error.code == Errc::not_found)
        return R::fail(Errc::not_found, root + ": not a replication store (no " + sub + ")");
      return R::fail(d.error.code, root + ": " + d.error.message);
    }
    *fd = std::move(d.value);
  }
  if (!impl->opt.read_only) impl->recover();
  return {std::unique_ptr<Store>(new Store(std::move(impl))), {}};
}

Result<Staging> Store::begin(const Manifest& m, std::optional<uint64_t> base) {
  using R = Result<Staging>;
  Impl& st = *impl_;
  auto fail = [](Error e) { return R{Staging(nullptr), std::move(e)}; };
  if (Status v = validate(m); !v.ok()) return fail(v.error);
  Result<std::optional<Manifest>> live = st.live_manifest(m.path);
  if (!live.ok()) return fail(live.error);
  if (live.value && live.value->version >= m.version) {
    return fail({Errc::already_committed,
                 m.path + ": version " + std::to_string(live.value->version) + " is live"});
  }
  // Refuse now, not after the whole file crossed the network, a path whose
  // way at DR goes through a symlink or a file.
  {
    auto [parent, name] = split_parent(m.path);
    Result<Fd> dir = open_dir_beneath(st.rootfd.get(), parent, false);
    if (!dir.ok() && dir.error.code != Errc::not_found) return fail(dir.error);
  }

  auto s = std::make_unique<Staging::Impl>();
  s->store = &st;
  s->m = m;
  s->id = to_hex(sha256({reinterpret_cast<const uint8_t*>(m.path.data()), m.path.size()}))
              .substr(0, 32) +
          "." + std::to_string(m.version);
  s->data_name = s->id;
  // An append to the live version: only the tail is staged (journal mode).
  if (live.value && (!base || *base == live.value->version) && !st.path_deleted(m.path)) {
    Result<bool> j = s->start_journal(*live.value);
    if (!j.ok()) return fail(j.error);
    if (j.value) return {Staging(std::move(s)), {}};
  }
  const std::string mname = s->id + std::string(kManifestSuffix);
  const std::string pname = s->id + ".progress";
  const size_t n = m.chunks.size();

  // A file of one chunk (most of a tree of DICOM, HL7 and FHIR parts) has
  // nothing to resume from a part of: it is staged as its data alone, no
  // manifest or progress record beside it (recover() drops a leftover).
  // That is three files fewer to create and delete per file.
  const bool single = n <= 1;
  if (single) {
    s->data = Fd(openat(st.staging.get(), s->id.c_str(),
                        O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!s->data.valid()) return fail(walk_error(errno, "create staging for " + m.path));
    if (ftruncate(s->data.get(), static_cast<off_t>(m.size)) != 0) {
      return fail(sys_error(errno, "size staging for " + m.path));
    }
    s->present.assign(n, 0);
    return {Staging(std::move(s)), {}};
  }
  // Resume: the same manifest staged before, its data and progress intact.
  bool resumed = false;
  if (Result<Manifest> old = read_manifest(st.staging.get(), mname); old.ok() && old.value == m) {
    s->data = Fd(openat(st.staging.get(), s->id.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    s->progress = Fd(openat(st.staging.get(), pname.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (s->data.valid() && s->progress.valid()) {
      Result<std::vector<uint8_t>> p = read_small(st.staging.get(), pname, n + 1);
      if (p.ok() && p.value.size() == n) {
        s->present = std::move(p.value);
        for (uint8_t& b : s->present) b = b == 1 ? 1 : 0;
        resumed = true;
      }
    }
  }
  if (!resumed) {
    // Fresh: data and progress first, the manifest last, so that a staging
    // manifest always has its two files beside it.
    unlinkat(st.staging.get(), mname.c_str(), 0);
    s->data = Fd(openat(st.staging.get(), s->id.c_str(),
                        O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!s->data.valid()) return fail(walk_error(errno, "create staging for " + m.path));
    if (ftruncate(s->data.get(), static_cast<off_t>(m.size)) != 0) {
      return fail(sys_error(errno, "size staging for " + m.path));
    }
    s->progress = Fd(openat(st.staging.get(), pname.c_str(),
                            O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!s->progress.valid()) return fail(walk_error(errno, "create progress for " + m.path));
    s->present.assign(n, 0);
    if (Status w = write_all(s->progress.get(), s->present, 0, pname); !w.ok())
      return fail(w.error);
    if (Status w = st.sync(s->progress.get(), pname); !w.ok()) return fail(w.error);
    const std::vector<uint8_t> bytes = encode(m);
    if (Status w = write_file_durable(st.staging.get(), mname, bytes, st.syncer()); !w.ok())
      return fail(w.error);
  }

  // The previous version's chunks that begin this one alike (an append-only
  // journal: all but the old last partial chunk) are copied locally, then
  // checked: a chunk counts only once it hashes right.
  std::optional<Manifest> from;
  if (base && (!live.value || *base != live.value->version)) {
    Result<Fd> vdir = st.version_dir(m.path, false);
    if (vdir.ok()) {
      if (Result<Manifest> bm = read_manifest(vdir.value.get(), manifest_name(*base)); bm.ok()) {
        from = std::move(bm.value);
      }
    }
  } else if (live.value) {
    from = live.value;
  }
  if (from && from->chunk_size == m.chunk_size) {
    uint64_t k = 0;
    while (k < n && k < from->chunks.size() && from->chunks[k] == m.chunks[k] &&
           chunk_length(from->size, m.chunk_size, k) == chunk_length(m.size, m.chunk_size, k)) {
      ++k;
    }
    bool any = false;
    for (uint64_t i = 0; i < k; ++i) any = any || !s->present[i];
    Result<Impl::BytesAt> src = Result<Impl::BytesAt>::fail(Errc::not_found, "");
    if (any) {
      src = st.version_bytes(m.path, from->version,
                             live.value && !st.path_deleted(m.path) ? live.value->version : 0);
    }
    if (any && src.ok()) {
      Fd sfd(
          openat(src.value.dir.get(), src.value.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      struct stat sb {};
      if (sfd.valid() && fstat(sfd.get(), &sb) == 0 && S_ISREG(sb.st_mode)) {
        std::vector<uint8_t> buf;
        std::vector<uint64_t> good;
        for (uint64_t i = 0; i < k; ++i) {
          if (s->present[i]) continue;
          const uint64_t len = chunk_length(m.size, m.chunk_size, i);
          if (Status c = copy_range(sfd.get(), s->data.get(), i * m.chunk_size, len); !c.ok()) {
            if (c.error.code == Errc::no_space) return fail(c.error);
            break;
          }
          if (chunk_hash_at(s->data.get(), m, i, buf) == m.chunks[i]) good.push_back(i);
        }
        if (!good.empty()) {
          if (st.opt.group_sync) {
            // Counted present by settle(), after the caller's flush().
            if (Status w = st.later(s->data.get(), true); !w.ok()) return fail(w.error);
            s->unsettled.insert(s->unsettled.end(), good.begin(), good.end());
          } else {
            if (st.opt.durability == Durability::durable) {
              if (Status w = st.writer->sync(s->data.get()); !w.ok()) return fail(w.error);
            }
            for (uint64_t i : good) {
              if (Status w = s->mark_present(i, 1); !w.ok()) return fail(w.error);
            }
          }
          s->copied = good.size();
        }
      }
    }
  }
  return {Staging(std::move(s)), {}};
}

Result<std::vector<VersionInfo>> Store::list_versions(const std::string& path) const {
  using R = Result<std::vector<VersionInfo>>;
  if (Status v = validate_path(path); !v.ok()) return R::fail(v.error);
  Result<Fd> vdir = impl_->version_dir(path, false);
  if (!vdir.ok()) return R::fail(vdir.error.code, path + ": no version at DR");
  std::vector<VersionInfo> out;
  const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
  const bool gone = !vs.empty() && Impl::tombstoned(vdir.value.get(), vs.back());
  for (uint64_t v : vs) {
    Result<Manifest> m = read_manifest(vdir.value.get(), manifest_name(v));
    if (!m.ok())
      return R::fail(m.error.code, path + " version " + std::to_string(v) + ": " + m.error.message);
    out.push_back({v, m.value.size, m.value.mtime_ns, m.value.root, v == vs.back() && !gone});
  }
  if (out.empty()) return R::fail(Errc::not_found, path + ": no version at DR");
  return {std::move(out), {}};
}

std::vector<Problem> Store::verify() const {
  const Impl& st = *impl_;
  std::vector<Problem> problems;
  std::vector<std::string> paths;
  st.collect_paths(st.versions.get(), "", paths);
  std::sort(paths.begin(), paths.end());
  for (const std::string& path : paths) {
    Result<Fd> vdir = st.version_dir(path, false);
    if (!vdir.ok()) {
      problems.push_back({path, 0, vdir.error.message});
      continue;
    }
    const std::vector<uint64_t> vs = manifest_versions(vdir.value.get());
    const uint64_t live =
        !vs.empty() && !Impl::tombstoned(vdir.value.get(), vs.back()) ? vs.back() : 0;
    for (uint64_t v : vs) {
      Result<Manifest> m = read_manifest(vdir.value.get(), manifest_name(v));
      if (!m.ok()) {
        problems.push_back({path, v, "manifest: " + m.error.message});
        continue;
      }
      if (m.value.path != path || m.value.version != v) {
        problems.push_back(
            {path, v,
             "manifest names " + m.value.path + " version " + std::to_string(m.value.version)});
        continue;
      }
      Result<Impl::BytesAt> where = st.version_bytes(path, v, live);
      const std::string what = where.ok() ? check_file(where.value.dir.get(), where.value.name,
                                                       m.value, where.value.prefix)
                                          : where.error.message;
      if (!what.empty()) {
        problems.push_back({path, v, (v == live ? "live: " : "kept: ") + what});
      }
    }
  }
  return problems;
}

Result<std::vector<Restored>> Store::restore(const std::string& path, const RestorePoint& point,
                                             const std::string& target_dir) const {
  using R = Result<std::vector<Restored>>;
  const Impl& st = *impl_;
  std::vector<std::string> paths;
  if (path.empty()) {
    st.collect_paths(st.versions.get(), "", paths);
    std::sort(paths.begin(), paths.end());
  } else {
    if (Status v = validate_path(path); !v.ok()) return R::fail(v.error);
    paths.push_back(path);
  }
  if (mkdir(target_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return R::fail(sys_error(errno, "mkdir " + target_dir));
  }
  Fd target(::open(target_dir.c_str(), kDirFlags));
  if (!target.valid()) return R::fail(walk_error(errno, "open " + target_dir));

  std::vector<Restored> out;
  for (const std::string& p : paths) {
    Result<std::vector<VersionInfo>> vs = list_versions(p);
    if (!vs.ok()) return R::fail(vs.error);
    std::optional<uint64_t> chosen;
    for (const VersionInfo& v : vs.value) {
      if (point.version) {
        if (v.version == *point.version) chosen = v.version;
      } else if (point.at_or_before_mtime_ns) {
        if (v.mtime_ns <= *point.at_or_before_mtime_ns) chosen = v.version;
      } else if (v.live) {
        chosen = v.version;
      }
    }
    if (!chosen) {
      if (path.empty() && !point.version) continue;  // that path did not exist yet
      return R::fail(Errc::not_found, p + ": no kept version matches");
    }
    Result<Fd> vdir = st.version_dir(p, false);
    if (!vdir.ok()) return R::fail(vdir.error);
    Result<Manifest> m = read_manifest(vdir.value.get(), manifest_name(*chosen));
    if (!m.ok()) return R::fail(m.error);
    Result<Impl::BytesAt> src =
        st.version_bytes(p, *chosen, vs.value.back().live ? vs.value.back().version : 0);
    if (!src.ok()) return R::fail(src.error);
    Fd sfd(openat(src.value.dir.get(), src.value.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!sfd.valid()) return R::fail(walk_error(errno, "open " + p));

    auto [parent, name_view] = split_parent(p);
    const std::string name(name_view), tmp = std::string(name_view) + ".srdx-restore";
    Result<Fd> dir = open_dir_beneath(target.get(), parent, true);
    if (!dir.ok()) return R::fail(dir.error);
    Fd dst(openat(dir.value.get(), tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                  0600));
    if (!dst.valid()) return R::fail(walk_error(errno, "create " + tmp));
    if (Status c = copy_range(sfd.get(), dst.get(), 0, m.value.size); !c.ok())
      return R::fail(c.error);
    // The proof: the copy, read back, has the manifest's chunk hashes and root.
    if (std::string bad = check_file(dir.value.get(), tmp, m.value); !bad.empty()) {
      unlinkat(dir.value.get(), tmp.c_str(), 0);
      return R::fail(Errc::hash_mismatch, p + " version " + std::to_string(*chosen) +
                                              ": the restored copy differs: " + bad);
    }
    (void)stamp(dst.get(), m.value);  // best effort: the bytes are what is proven
    if (Status r = fsync_fd(dst.get(), tmp); !r.ok()) return R::fail(r.error);
    if (renameat(dir.value.get(), tmp.c_str(), dir.value.get(), name.c_str()) != 0) {
      return R::fail(sys_error(errno, "rename " + tmp));
    }
    (void)fsync_fd(dir.value.get(), "directory of " + p);
    out.push_back({p, *chosen, m.value.root});
  }
  return {std::move(out), {}};
}

Result<std::vector<Problem>> verify(const std::string& root) {
  StoreOptions ro;
  ro.read_only = true;
  Result<std::unique_ptr<Store>> s = Store::open(root, ro);
  if (!s.ok()) return Result<std::vector<Problem>>::fail(s.error);
  return {s.value->verify(), {}};
}

Result<std::vector<Restored>> restore(const std::string& root, const std::string& path,
                                      const RestorePoint& point, const std::string& target_dir) {
  StoreOptions ro;
  ro.read_only = true;
  Result<std::unique_ptr<Store>> s = Store::open(root, ro);
  if (!s.ok()) return Result<std::vector<Restored>>::fail(s.error);
  return s.value->restore(path, point, target_dir);
}

}  // namespace srdx::replicate
