#include "replicate/manifest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace srdx::replicate {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::ok:
      return "ok";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::bad_path:
      return "bad_path";
    case Errc::malformed:
      return "malformed";
    case Errc::hash_mismatch:
      return "hash_mismatch";
    case Errc::incomplete:
      return "incomplete";
    case Errc::escapes_root:
      return "escapes_root";
    case Errc::no_space:
      return "no_space";
    case Errc::not_found:
      return "not_found";
    case Errc::already_committed:
      return "already_committed";
    case Errc::io:
      return "io";
  }
  return "unknown";
}

Error sys_error(int err, std::string_view what) {
  Errc code = Errc::io;
  if (err == ENOSPC || err == EDQUOT) code = Errc::no_space;
  if (err == ELOOP || err == ENOTDIR || err == EXDEV) code = Errc::escapes_root;
  if (err == ENOENT) code = Errc::not_found;
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  if (code == Errc::no_space) msg += " (disk full at DR; committed versions are intact)";
  return {code, std::move(msg)};
}

namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// One SHA-256 over the concatenation of `parts`. EVP failing here means
// OpenSSL cannot allocate or has no SHA-256: nothing sensible goes on.
Hash sha256_parts(std::initializer_list<std::span<const uint8_t>> parts) {
  MdCtx ctx(EVP_MD_CTX_new());
  Hash out{};
  unsigned len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) std::abort();
  for (auto p : parts) {
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) std::abort();
  }
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) std::abort();
  return out;
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
  }
}

// Reads from a span that only moves forward; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  size_t left() const { return in_.size() - at_; }
  template <class T>
  bool get(T& v) {
    if (left() < sizeof(T)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) x |= uint64_t{in_[at_ + i]} << (8 * i);
    at_ += sizeof(T);
    v = static_cast<T>(x);
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>& v) {
    if (left() < n) return false;
    v = in_.subspan(at_, n);
    at_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> in_;
  size_t at_ = 0;
};

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, at most U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

bool valid_chunk_size(uint32_t chunk_size) {
  return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize &&
         (chunk_size & (chunk_size - 1)) == 0;
}

uint64_t chunk_count(uint64_t size, uint32_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

uint64_t chunk_length(uint64_t size, uint32_t chunk_size, uint64_t index) {
  const uint64_t start = index * chunk_size;
  if (start >= size) return 0;
  return std::min<uint64_t>(chunk_size, size - start);
}

Hash sha256(std::span<const uint8_t> data) { return sha256_parts({data}); }

Hash merkle_root(std::span<const Hash> chunk_hashes) {
  if (chunk_hashes.empty()) return sha256({});
  static constexpr uint8_t kLeaf[1] = {0x00};
  static constexpr uint8_t kNode[1] = {0x01};
  std::vector<Hash> level;
  level.reserve(chunk_hashes.size());
  for (const Hash& h : chunk_hashes) level.push_back(sha256_parts({kLeaf, h}));
  while (level.size() > 1) {
    size_t out = 0;
    for (size_t i = 0; i < level.size(); i += 2) {
      level[out++] = i + 1 < level.size() ? sha256_parts({kNode, level[i], level[i + 1]})
                                          : level[i];  // odd: promoted
    }
    level.resize(out);
  }
  return level[0];
}

std::string to_hex(const Hash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (uint8_t b : h) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

Status validate_path(std::string_view path) {
  auto bad = [&](std::string_view why) {
    std::string shown(path.substr(0, 200));
    for (char& c : shown) {
      if (c == '\0') c = '?';
    }
    return Status::fail(Errc::bad_path, "path \"" + shown + "\": " + std::string(why));
  };
  if (path.empty()) return bad("empty");
  if (path.size() > kMaxPathBytes) return bad("longer than 4095 bytes");
  if (path.find('\0') != std::string_view::npos) return bad("contains NUL");
  if (path.front() == '/') return bad("absolute");
  if (!valid_utf8(path)) return bad("not UTF-8");
  size_t start = 0;
  bool first = true;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return bad("empty component");
    if (part == ".") return bad("'.' component");
    if (part == "..") return bad("'..' component");
    if (part.size() > kMaxComponentBytes) return bad("a component longer than 255 bytes");
    if (first && part == kStateDir) return bad("under .srdx/, the DR store's own state");
    first = false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

Status validate(const Manifest& m) {
  if (Status s = validate_path(m.path); !s.ok()) return s;
  if (!valid_chunk_size(m.chunk_size)) {
    return Status::fail(Errc::malformed, "chunk size " + std::to_string(m.chunk_size) +
                                             " is not a power of two between 4 KiB and 16 MiB");
  }
  if (m.mode > 07777) return Status::fail(Errc::malformed, "mode has bits beyond 07777");
  if (m.chunks.size() != chunk_count(m.size, m.chunk_size)) {
    return Status::fail(Errc::malformed, "chunk count " + std::to_string(m.chunks.size()) +
                                             " does not match size " + std::to_string(m.size));
  }
  if (merkle_root(m.chunks) != m.root) {
    return Status::fail(Errc::hash_mismatch, "Merkle root does not match the chunk hashes");
  }
  return {};
}

std::vector<uint8_t> encode(const Manifest& m) {
  std::vector<uint8_t> out;
  out.reserve(8 + m.path.size() + kManifestFixedBytes + 32 * (m.chunks.size() + 1));
  put<uint32_t>(out, kManifestMagic);
  put<uint8_t>(out, kManifestVersion);
  put<uint8_t>(out, 0);
  put<uint16_t>(out, static_cast<uint16_t>(m.path.size()));
  out.insert(out.end(), m.path.begin(), m.path.end());
  put<uint64_t>(out, m.version);
  put<uint64_t>(out, m.size);
  put<int64_t>(out, m.mtime_ns);
  put<uint32_t>(out, m.mode);
  put<uint32_t>(out, m.chunk_size);
  put<uint64_t>(out, m.chunks.size());
  for (const Hash& h : m.chunks) out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), m.root.begin(), m.root.end());
  return out;
}

Result<Manifest> decode(std::span<const uint8_t> bytes) {
  using R = Result<Manifest>;
  auto bad = [](std::string why) { return R::fail(Errc::malformed, "manifest: " + why); };
  Reader r(bytes);
  uint32_t magic = 0;
  uint8_t version = 0, flags = 0;
  uint16_t path_len = 0;
  if (!r.get(magic) || !r.get(version) || !r.get(flags) || !r.get(path_len)) {
    return bad("shorter than its 8-byte header");
  }
  if (magic != kManifestMagic) return bad("bad magic");
  if (version != kManifestVersion) return bad("unknown version " + std::to_string(version));
  if (flags != 0) return bad("unknown flags");
  if (path_len == 0 || path_len > kMaxPathBytes) return bad("path length out of range");
  Manifest m;
  std::span<const uint8_t> path;
  if (!r.bytes(path_len, path)) return bad("truncated in the path");
  m.path.assign(path.begin(), path.end());
  uint64_t count = 0;
  if (!r.get(m.version) || !r.get(m.size) || !r.get(m.mtime_ns) || !r.get(m.mode) ||
      !r.get(m.chunk_size) || !r.get(count)) {
    return bad("truncated in the fixed fields");
  }
  if (!valid_chunk_size(m.chunk_size)) return bad("bad chunk size");
  if (count != chunk_count(m.size, m.chunk_size)) return bad("chunk count does not match size");
  // Checked against what is left before allocating: a forged count cannot
  // make the decoder reserve more than the input holds.
  if (count > r.left() / 32 || r.left() != (count + 1) * 32) {
    return bad("hash list length does not match the encoding's length");
  }
  m.chunks.resize(count);
  std::span<const uint8_t> h;
  for (Hash& c : m.chunks) {
    if (!r.bytes(32, h)) return bad("truncated in the hashes");
    std::copy(h.begin(), h.end(), c.begin());
  }
  if (!r.bytes(32, h)) return bad("truncated in the root");
  std::copy(h.begin(), h.end(), m.root.begin());
  if (Status s = validate(m); !s.ok()) return R::fail(s.error.code, "manifest: " + s.error.message);
  return {std::move(m), {}};
}

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json chunks = nlohmann::json::array();
  for (const Hash& h : m.chunks) chunks.push_back(to_hex(h));
  return {
      {"path", m.path},
      {"version", m.version},
      {"size", m.size},
      {"mtime_ns", m.mtime_ns},
      {"mode", m.mode},
      {"chunk_size", m.chunk_size},
      {"chunks", std::move(chunks)},
      {"merkle_root", to_hex(m.root)},
  };
}

Status hash_chunks(int fd, uint64_t size, uint32_t chunk_size, uint64_t first,
                   std::vector<Hash>& out, uint64_t limit) {
  if (!valid_chunk_size(chunk_size)) return Status::fail(Errc::invalid_argument, "bad chunk size");
  std::vector<uint8_t> buf(std::min<uint64_t>(chunk_size, std::max<uint64_t>(size, 1)));
  const uint64_t n = chunk_count(size, chunk_size);
  for (uint64_t i = first; i < n && i - first < limit; ++i) {
    const uint64_t len = chunk_length(size, chunk_size, i);
    uint64_t got = 0;
    while (got < len) {
      const ssize_t r =
          pread(fd, buf.data() + got, len - got, static_cast<off_t>(i * chunk_size + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return {sys_error(errno, "read")};
      }
      if (r == 0) {
        return Status::fail(Errc::hash_mismatch,
                            "file shorter than " + std::to_string(size) +
                                " bytes while hashing (changed or replaced meanwhile)");
      }
      got += static_cast<uint64_t>(r);
    }
    out.push_back(sha256({buf.data(), len}));
  }
  return {};
}

namespace {

Result<Manifest> from_stat(int fd, std::string path, uint64_t version, uint32_t chunk_size) {
  using R = Result<Manifest>;
  if (Status s = validate_path(path); !s.ok()) return R::fail(s.error);
  if (!valid_chunk_size(chunk_size)) {
    return R::fail(Errc::invalid_argument, "chunk size " + std::to_string(chunk_size) +
                                               " is not a power of two between 4 KiB and 16 MiB");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) return R::fail(sys_error(errno, "fstat " + path));
  if (!S_ISREG(st.st_mode)) return R::fail(Errc::invalid_argument, path + ": not a regular file");
  Manifest m;
  m.path = std::move(path);
  m.version = version;
  m.size = static_cast<uint64_t>(st.st_size);
  m.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  m.mode = st.st_mode & 07777;
  m.chunk_size = chunk_size;
  return {std::move(m), {}};
}

}  // namespace

Result<Manifest> hash_file(int fd, std::string path, uint64_t version, uint32_t chunk_size) {
  Result<Manifest> r = from_stat(fd, std::move(path), version, chunk_size);
  if (!r.ok()) return r;
  Manifest& m = r.value;
  if (Status s = hash_chunks(fd, m.size, m.chunk_size, 0, m.chunks); !s.ok()) {
    return Result<Manifest>::fail(s.error.code, m.path + ": " + s.error.message);
  }
  m.root = merkle_root(m.chunks);
  return r;
}

Result<Manifest> hash_file(const std::string& fs_path, std::string path, uint64_t version,
                           uint32_t chunk_size) {
  const int fd = open(fs_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Result<Manifest>::fail(sys_error(errno, "open " + fs_path));
  Result<Manifest> r = hash_file(fd, std::move(path), version, chunk_size);
  close(fd);
  return r;
}

Result<Manifest> extend_manifest(const Manifest& old, int fd, uint64_t new_size,
                                 uint64_t new_version) {
  using R = Result<Manifest>;
  if (Status s = validate(old); !s.ok()) return R::fail(s.error);
  if (new_size < old.size) {
    return R::fail(Errc::invalid_argument, old.path + ": shrank from " + std::to_string(old.size) +
                                               " to " + std::to_string(new_size) +
                                               " bytes: not an append");
  }
  R r = from_stat(fd, old.path, new_version, old.chunk_size);
  if (!r.ok()) return r;
  Manifest& m = r.value;
  if (m.size < new_size) {
    return R::fail(Errc::invalid_argument, old.path + ": file is " + std::to_string(m.size) +
                                               " bytes, not " + std::to_string(new_size));
  }
  // Bytes written after new_size are the next version's business.
  m.size = new_size;
  // Old full chunks are kept; the old last partial chunk (if any) grew and
  // is hashed again, with everything after it.
  const uint64_t keep = old.size / old.chunk_size;
  m.chunks.assign(old.chunks.begin(), old.chunks.begin() + static_cast<ptrdiff_t>(keep));
  if (Status s = hash_chunks(fd, m.size, m.chunk_size, keep, m.chunks); !s.ok()) {
    return R::fail(s.error.code, m.path + ": " + s.error.message);
  }
  m.root = merkle_root(m.chunks);
  return r;
}

}  // namespace srdx::replicate
