#include "fabric_wire.h"

namespace srdx::carrier::wire {
namespace {

template <class T>
void put(std::span<uint8_t> out, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<uint8_t>(uint64_t{v} >> (8 * i));
}

template <class T>
T get(std::span<const uint8_t> in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{in[at + i]} << (8 * i);
  return static_cast<T>(v);
}

}  // namespace

void encode(const SegHeader& h, std::span<uint8_t> out) {
  put<uint32_t>(out, 0, kMagic);
  put<uint8_t>(out, 4, kVersion);
  put<uint8_t>(out, 5, static_cast<uint8_t>(h.type));
  put<uint8_t>(out, 6, h.ordered ? 1 : 0);
  put<uint8_t>(out, 7, 0);
  put<uint16_t>(out, 8, h.flow);
  put<uint16_t>(out, 10, 0);
  put<uint32_t>(out, 12, h.len);
  put<uint64_t>(out, 16, h.src_id);
  put<uint64_t>(out, 24, h.msg_id);
  put<uint64_t>(out, 32, h.total);
  put<uint64_t>(out, 40, h.offset);
  put<uint64_t>(out, 48, h.oseq);
}

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::ok:
      return "ok";
    case DecodeError::too_short:
      return "too_short";
    case DecodeError::bad_magic:
      return "bad_magic";
    case DecodeError::bad_version:
      return "bad_version";
    case DecodeError::bad_type:
      return "bad_type";
    case DecodeError::bad_length:
      return "bad_length";
    case DecodeError::bad_field:
      return "bad_field";
  }
  return "?";
}

DecodeError decode(std::span<const uint8_t> msg, uint64_t max_message, SegHeader& h) {
  if (msg.size() < kHeaderBytes) return DecodeError::too_short;
  if (get<uint32_t>(msg, 0) != kMagic) return DecodeError::bad_magic;
  if (get<uint8_t>(msg, 4) != kVersion) return DecodeError::bad_version;
  const uint8_t type = get<uint8_t>(msg, 5);
  if (type < 1 || type > 5) return DecodeError::bad_type;
  h.type = static_cast<SegType>(type);
  const uint8_t flags = get<uint8_t>(msg, 6);
  // One encoding per header: unknown flags and the zero fields are refused.
  if ((flags & ~1u) != 0 || get<uint8_t>(msg, 7) != 0 || get<uint16_t>(msg, 10) != 0)
    return DecodeError::bad_field;
  h.ordered = flags & 1;
  h.flow = get<uint16_t>(msg, 8);
  h.len = get<uint32_t>(msg, 12);
  h.src_id = get<uint64_t>(msg, 16);
  h.msg_id = get<uint64_t>(msg, 24);
  h.total = get<uint64_t>(msg, 32);
  h.offset = get<uint64_t>(msg, 40);
  h.oseq = get<uint64_t>(msg, 48);
  if (h.len != msg.size() - kHeaderBytes) return DecodeError::bad_length;
  if (h.src_id == 0) return DecodeError::bad_field;
  switch (h.type) {
    case SegType::hello:
    case SegType::hello_ack:
      if (h.len == 0) return DecodeError::bad_length;
      break;
    case SegType::data:
      if (h.msg_id == 0 || h.total > max_message || h.offset > h.total ||
          h.len > h.total - h.offset || (h.len == 0 && h.total != 0))
        return DecodeError::bad_field;
      if (h.ordered != (h.oseq != 0)) return DecodeError::bad_field;
      break;
    case SegType::ack:
    case SegType::abort:
      if (h.len != 0) return DecodeError::bad_length;
      if (h.msg_id == 0 || h.ordered != (h.oseq != 0)) return DecodeError::bad_field;
      break;
  }
  return DecodeError::ok;
}

}  // namespace srdx::carrier::wire
