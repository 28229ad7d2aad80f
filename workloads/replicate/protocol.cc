#include "replicate/protocol.h"

#include <cstring>

namespace srdx::replicate::proto {

namespace {

class Writer {
 public:
  explicit Writer(size_t reserve) { b_.reserve(reserve); }
  void u8(uint8_t v) { b_.push_back(v); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void bytes(std::span<const uint8_t> d) { b_.insert(b_.end(), d.begin(), d.end()); }
  void str16(const std::string& s) {
    const size_t n = std::min<size_t>(s.size(), 0xffff);
    u16(static_cast<uint16_t>(n));
    b_.insert(b_.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::vector<uint8_t> take() { return std::move(b_); }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> b_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool u8(uint8_t& v) {
    if (left() < 1) return false;
    v = b_[at_++];
    return true;
  }
  bool u16(uint16_t& v) { return le(v, 2); }
  bool u32(uint32_t& v) { return le(v, 4); }
  bool u64(uint64_t& v) { return le(v, 8); }
  bool span(size_t n, std::span<const uint8_t>& out) {
    if (left() < n) return false;
    out = b_.subspan(at_, n);
    at_ += n;
    return true;
  }
  bool str16(std::string& s, size_t max) {
    uint16_t n = 0;
    std::span<const uint8_t> d;
    if (!u16(n) || n > max || !span(n, d)) return false;
    s.assign(d.begin(), d.end());
    return true;
  }
  size_t left() const { return b_.size() - at_; }

 private:
  template <class T>
  bool le(T& v, int n) {
    if (left() < static_cast<size_t>(n)) return false;
    uint64_t x = 0;
    for (int i = 0; i < n; ++i) x |= uint64_t{b_[at_ + static_cast<size_t>(i)]} << (8 * i);
    at_ += static_cast<size_t>(n);
    v = static_cast<T>(x);
    return true;
  }
  std::span<const uint8_t> b_;
  size_t at_ = 0;
};

void header(Writer& w, Type t, uint64_t job) {
  w.u8(kVersion);
  w.u8(static_cast<uint8_t>(t));
  w.u64(job);
}

}  // namespace

bool valid_job_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxJobNameBytes || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<uint8_t> encode(const Msg& m) {
  Writer w(64 + m.manifest.size() + m.missing.size() * 16 + m.data.size() + m.error.size());
  header(w, m.type, m.job);
  switch (m.type) {
    case Type::offer:
      w.u64(m.fseq);
      w.u8(m.mode);
      w.str16(m.name);
      w.u32(static_cast<uint32_t>(m.manifest.size()));
      w.bytes(m.manifest);
      break;
    case Type::state:
      w.u64(m.fseq);
      w.u8(static_cast<uint8_t>(m.outcome));
      w.u64(m.value);
      w.u32(static_cast<uint32_t>(m.missing.size()));
      for (const auto& [first, count] : m.missing) {
        w.u64(first);
        w.u64(count);
      }
      w.str16(m.error.substr(0, kMaxErrorBytes));
      break;
    case Type::chunk:
      w.u64(m.fseq);
      w.u64(m.value);
      w.u32(static_cast<uint32_t>(m.data.size()));
      w.bytes(m.data);
      break;
    case Type::chunk_ack:
    case Type::committed:
      w.u64(m.fseq);
      w.u64(m.value);
      w.u8(static_cast<uint8_t>(m.outcome));
      w.str16(m.error.substr(0, kMaxErrorBytes));
      break;
    case Type::commit:
      w.u64(m.fseq);
      break;
    case Type::barrier:
    case Type::barrier_ok:
      w.u64(m.value);
      break;
    case Type::list:
      w.u64(m.value);
      w.str16(m.name);
      break;
    case Type::remove:
      w.u64(m.fseq);
      w.str16(m.path);
      break;
    case Type::listing:
      w.u64(m.value);
      w.u32(static_cast<uint32_t>(m.paths.size()));
      for (size_t i = 0; i < m.paths.size(); ++i) {
        w.str16(m.paths[i]);
        const Listed l = i < m.listed.size() ? m.listed[i] : Listed{};
        w.u64(l.size);
        w.u64(static_cast<uint64_t>(l.mtime_ns));
        w.bytes(l.root);
      }
      break;
  }
  return w.take();
}

std::vector<uint8_t> encode_chunk(uint64_t job, uint64_t fseq, uint64_t index,
                                  std::span<const uint8_t> data) {
  Msg m;
  m.type = Type::chunk;
  m.job = job;
  m.fseq = fseq;
  m.value = index;
  m.data = data;
  return encode(m);
}

Result<Msg> decode(std::span<const uint8_t> bytes) {
  auto bad = [](const char* what) {
    return Result<Msg>::fail(Errc::malformed, std::string("replication message: ") + what);
  };
  Reader r(bytes);
  Msg m;
  uint8_t version = 0, type = 0;
  if (!r.u8(version) || !r.u8(type) || !r.u64(m.job)) return bad("shorter than its header");
  if (version != kVersion) return bad("unknown version");
  if (type < 1 || type > 11) return bad("unknown type");
  m.type = static_cast<Type>(type);
  auto outcome = [&]() {
    uint8_t o = 0;
    if (!r.u8(o) || o > 2) return false;
    m.outcome = static_cast<Outcome>(o);
    return true;
  };
  switch (m.type) {
    case Type::offer: {
      uint32_t len = 0;
      std::span<const uint8_t> man;
      if (!r.u64(m.fseq) || !r.u8(m.mode) || !r.str16(m.name, kMaxJobNameBytes) || !r.u32(len) ||
          !r.span(len, man)) {
        return bad("offer truncated");
      }
      if (m.mode > 2) return bad("offer: unknown mode");
      if (!valid_job_name(m.name)) return bad("offer: bad job name");
      m.manifest.assign(man.begin(), man.end());
      break;
    }
    case Type::state: {
      uint32_t n = 0;
      if (!r.u64(m.fseq) || !outcome() || !r.u64(m.value) || !r.u32(n))
        return bad("state truncated");
      if (n > r.left() / 16) return bad("state: more ranges than bytes");
      m.missing.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        uint64_t first = 0, count = 0;
        if (!r.u64(first) || !r.u64(count)) return bad("state truncated");
        if (count == 0 || first + count < first) return bad("state: empty or wrapping range");
        m.missing.emplace_back(first, count);
      }
      if (!r.str16(m.error, kMaxErrorBytes)) return bad("state: error line");
      break;
    }
    case Type::chunk: {
      uint32_t len = 0;
      if (!r.u64(m.fseq) || !r.u64(m.value) || !r.u32(len) || !r.span(len, m.data)) {
        return bad("chunk truncated");
      }
      break;
    }
    case Type::chunk_ack:
    case Type::committed:
      if (!r.u64(m.fseq) || !r.u64(m.value) || !outcome() || !r.str16(m.error, kMaxErrorBytes)) {
        return bad("ack truncated");
      }
      if (m.outcome == Outcome::up_to_date) return bad("ack: outcome up_to_date");
      break;
    case Type::commit:
      if (!r.u64(m.fseq)) return bad("commit truncated");
      break;
    case Type::barrier:
    case Type::barrier_ok:
      if (!r.u64(m.value)) return bad("barrier truncated");
      break;
    case Type::list:
      if (!r.u64(m.value) || !r.str16(m.name, kMaxJobNameBytes)) return bad("list truncated");
      if (!valid_job_name(m.name)) return bad("list: bad job name");
      break;
    case Type::remove:
      if (!r.u64(m.fseq) || !r.str16(m.path, 0xffff) || m.path.empty()) {
        return bad("remove truncated");
      }
      break;
    case Type::listing: {
      uint32_t n = 0;
      if (!r.u64(m.value) || !r.u32(n)) return bad("listing truncated");
      if (n > r.left() / (2 + 48)) return bad("listing: more paths than bytes");
      m.paths.reserve(n);
      m.listed.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        std::string p;
        Listed l;
        uint64_t mtime = 0;
        std::span<const uint8_t> root;
        if (!r.str16(p, 0xffff) || !r.u64(l.size) || !r.u64(mtime) || !r.span(32, root))
          return bad("listing truncated");
        l.mtime_ns = static_cast<int64_t>(mtime);
        std::copy(root.begin(), root.end(), l.root.begin());
        m.paths.push_back(std::move(p));
        m.listed.push_back(l);
      }
      break;
    }
  }
  if (r.left() != 0) return bad("trailing bytes");
  return {std::move(m), {}};
}

std::vector<std::pair<uint64_t, uint64_t>> to_ranges(const std::vector<uint64_t>& indices) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t i : indices) {
    if (!out.empty() && out.back().first + out.back().second == i) {
      ++out.back().second;
    } else {
      out.emplace_back(i, 1);
    }
  }
  return out;
}

}  // namespace srdx::replicate::proto
