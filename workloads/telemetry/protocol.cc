#include "telemetry/protocol.h"

#include "telemetry/topic.h"

namespace srdx::telemetry {

namespace {

void put(std::vector<uint8_t>& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <class T>
  bool le(T& v) {
    if (left() < sizeof(T)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) x |= uint64_t{b_[at_ + i]} << (8 * i);
    at_ += sizeof(T);
    v = static_cast<T>(x);
    return true;
  }
  bool span(size_t n, std::span<const uint8_t>& out) {
    if (left() < n) return false;
    out = b_.subspan(at_, n);
    at_ += n;
    return true;
  }
  size_t left() const { return b_.size() - at_; }

 private:
  std::span<const uint8_t> b_;
  size_t at_ = 0;
};

constexpr uint8_t kQosMask = 0x03, kRetain = 0x04, kAlarm = 0x08;
// topic len + payload len + flags + seq + time
constexpr size_t kRecordFixed = 2 + 4 + 1 + 8 + 8;

void put_record(std::vector<uint8_t>& b, const Record& r) {
  put(b, r.topic.size(), 2);
  b.insert(b.end(), r.topic.begin(), r.topic.end());
  put(b, r.payload.size(), 4);
  b.insert(b.end(), r.payload.begin(), r.payload.end());
  put(b, (r.qos & kQosMask) | (r.retain ? kRetain : 0) | (r.alarm ? kAlarm : 0), 1);
  put(b, r.seq, 8);
  put(b, r.publish_ns, 8);
}

// Empty on success.
std::string read_record(Reader& rd, Record& r) {
  uint16_t tlen = 0;
  uint32_t plen = 0;
  uint8_t flags = 0;
  std::span<const uint8_t> t, p;
  if (!rd.le(tlen) || !rd.span(tlen, t)) return "record truncated in its topic";
  r.topic.assign(t.begin(), t.end());
  if (std::string why = check_topic(r.topic); !why.empty()) return "record: " + why;
  if (!rd.le(plen)) return "record truncated in its payload length";
  if (plen > kMaxPayloadBytes) return "record: payload larger than 256 KiB";
  if (!rd.span(plen, p)) return "record truncated in its payload";
  r.payload.assign(p.begin(), p.end());
  if (!rd.le(flags) || !rd.le(r.seq) || !rd.le(r.publish_ns)) return "record truncated";
  if ((flags & ~(kQosMask | kRetain | kAlarm)) != 0) return "record: unknown flags";
  r.qos = flags & kQosMask;
  if (r.qos > 1) return "record: qos above 1";
  r.retain = (flags & kRetain) != 0;
  r.alarm = (flags & kAlarm) != 0;
  if (r.seq == 0) return "record: sequence number 0";
  return {};
}

}  // namespace

size_t encoded_size(const Record& r) { return kRecordFixed + r.topic.size() + r.payload.size(); }

std::vector<uint8_t> encode(const Msg& m) {
  std::vector<uint8_t> b;
  size_t size = 10 + 12;
  for (const Record& r : m.records) size += encoded_size(r);
  b.reserve(size);
  put(b, kWireVersion, 1);
  put(b, static_cast<uint8_t>(m.type), 1);
  put(b, m.batch_id, 8);
  if (m.type == MsgType::batch) {
    put(b, m.epoch, 8);
    put(b, m.records.size(), 4);
    for (const Record& r : m.records) put_record(b, r);
  }
  return b;
}

Result<Msg> decode(std::span<const uint8_t> bytes) {
  auto bad = [](const std::string& what) {
    return Result<Msg>::fail(Errc::malformed, "telemetry message: " + what);
  };
  Reader rd(bytes);
  Msg m;
  uint8_t version = 0, type = 0;
  if (!rd.le(version) || !rd.le(type) || !rd.le(m.batch_id)) return bad("shorter than its header");
  if (version != kWireVersion) return bad("unknown version " + std::to_string(version));
  if (type != 1 && type != 2) return bad("unknown type " + std::to_string(type));
  m.type = static_cast<MsgType>(type);
  if (m.type == MsgType::batch) {
    uint32_t n = 0;
    if (!rd.le(m.epoch) || !rd.le(n)) return bad("batch truncated");
    if (n > kMaxBatchRecords) return bad("batch of more than 65536 records");
    if (n > rd.left() / kRecordFixed) return bad("batch: more records than bytes");
    m.records.resize(n);
    for (Record& r : m.records) {
      if (std::string why = read_record(rd, r); !why.empty()) return bad(why);
    }
  }
  if (rd.left() != 0) return bad("trailing bytes");
  return {std::move(m), {}};
}

void encode_record(std::vector<uint8_t>& out, uint64_t epoch, const Record& r) {
  put(out, epoch, 8);
  put_record(out, r);
}

Result<Record> decode_record(std::span<const uint8_t> bytes, uint64_t& epoch) {
  Reader rd(bytes);
  Record r;
  if (!rd.le(epoch)) return Result<Record>::fail(Errc::malformed, "spooled record truncated");
  if (std::string why = read_record(rd, r); !why.empty()) {
    return Result<Record>::fail(Errc::malformed, "spooled " + why);
  }
  if (rd.left() != 0)
    return Result<Record>::fail(Errc::malformed, "spooled record: trailing bytes");
  return {std::move(r), {}};
}

}  // namespace srdx::telemetry
