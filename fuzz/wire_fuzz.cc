// libFuzzer target: the wire decoder on arbitrary bytes. Whatever decodes
// must re-encode to exactly the same bytes (v1 has one encoding per packet:
// reserved fields are zero, ack ranges and lengths are canonical) and decode
// again to the same fields. Every input is tried twice: as it is, and with its
// checksum field corrected. Also checks the CRC32C paths against each other.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "crc32c.h"
#include "wire.h"

namespace {

using namespace srdx::wire;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wire_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool same(const Packet& a, const Packet& b) {
  if (a.common.type != b.common.type || a.common.flags != b.common.flags ||
      a.common.src_epoch != b.common.src_epoch) {
    return false;
  }
  switch (a.common.type) {
    case Type::hello:
    case Type::hello_ack: {
      const Hello &x = a.hello, &y = b.hello;
      return x.dst_epoch == y.dst_epoch && x.features == y.features &&
             x.max_payload == y.max_payload && x.max_message == y.max_message &&
             x.recv_msg_window == y.recv_msg_window && x.reserved == y.reserved &&
             x.recv_buffer == y.recv_buffer;
    }
    case Type::data: {
      const Data &x = a.data, &y = b.data;
      return x.dst_epoch == y.dst_epoch && x.pn == y.pn && x.pn_floor_delta == y.pn_floor_delta &&
             x.msg_floor_delta == y.msg_floor_delta && x.msg_id == y.msg_id &&
             x.msg_len == y.msg_len && x.frag_index == y.frag_index &&
             x.prev_delta == y.prev_delta && x.frag_size == y.frag_size && x.flow == y.flow &&
             x.payload_len == y.payload_len && x.reserved == y.reserved &&
             x.payload.size() == y.payload.size() &&
             (x.payload.empty() ||
              std::memcmp(x.payload.data(), y.payload.data(), x.payload.size()) == 0);
    }
    case Type::ack: {
      const Ack &x = a.ack, &y = b.ack;
      if (x.dst_epoch != y.dst_epoch || x.largest_pn != y.largest_pn ||
          x.ack_delay_ns != y.ack_delay_ns || x.ack_seq != y.ack_seq ||
          x.max_msg_id != y.max_msg_id || x.msg_floor != y.msg_floor ||
          x.free_buffer_kib != y.free_buffer_kib || x.range_count != y.range_count ||
          x.reserved != y.reserved) {
        return false;
      }
      for (uint16_t i = 0; i < x.range_count; ++i) {
        if (x.ranges[i].lo != y.ranges[i].lo || x.ranges[i].hi != y.ranges[i].hi) return false;
      }
      return true;
    }
  }
  return false;
}

// What an accepted packet promises its users (the endpoint relies on these).
void check_invariants(const Packet& p, size_t size) {
  check(p.common.src_epoch != 0, "src_epoch 0 accepted");
  if (p.common.type == Type::data) {
    const Data& d = p.data;
    check(d.payload_len == d.payload.size() && size == kDataOverhead + d.payload.size(),
          "payload length");
    const uint64_t offset = uint64_t{d.frag_index} * d.frag_size;
    check(d.msg_len == 0 ? d.frag_index == 0 && d.payload.empty()
                         : offset + d.payload.size() <= d.msg_len,
          "fragment outside its message");
  } else if (p.common.type == Type::ack) {
    const Ack& a = p.ack;
    check(a.range_count <= srdx::tuning::kMaxAckRanges, "range_count");
    check(a.range_count == 0 ? a.largest_pn == 0 : a.ranges[0].hi == a.largest_pn,
          "first range ends at largest_pn");
    for (uint16_t i = 0; i < a.range_count; ++i) {
      check(a.ranges[i].lo <= a.ranges[i].hi, "empty range");
      if (i > 0) check(a.ranges[i].hi + 1 < a.ranges[i - 1].lo, "ranges touch or overlap");
    }
  }
}

// Big enough for the largest data packet.
std::array<uint8_t, kDataOverhead + 0xffff> g_in, g_out;

// Decodes `in` and, if it is a packet, checks everything above.
void round_trip(std::span<const uint8_t> in) {
  Packet p;
  const DecodeError e = decode(in, p);
  if (e != DecodeError::ok) {
    (void)to_drop_reason(e);
    return;
  }
  check_invariants(p, in.size());

  size_t n = 0;
  switch (p.common.type) {
    case Type::hello:
    case Type::hello_ack:
      n = encode_hello(g_out, p.common, p.hello);
      break;
    case Type::data:
      n = encode_data(g_out, p.common, p.data);
      break;
    case Type::ack:
      n = encode_ack(g_out, p.common, p.ack);
      break;
  }
  check(n == in.size(), "re-encoded length differs");
  check(std::memcmp(g_out.data(), in.data(), n) == 0, "re-encoded bytes differ");

  Packet q;
  check(decode(std::span<const uint8_t>(g_out.data(), n), q) == DecodeError::ok,
        "re-encoded packet does not decode");
  check(same(p, q), "decode(encode(decode(x))) != decode(x)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  if (crc32c_impl::hardware_available()) {
    check(crc32c_impl::hardware(in, 0) == crc32c_impl::portable(in, 0), "crc32c paths disagree");
  }
  round_trip(in);

  // The same bytes with a correct checksum, so that mutations reach the field
  // checks behind it without the fuzzer having to solve CRC32C each time.
  if (size >= 12 && size <= g_in.size()) {
    std::memcpy(g_in.data(), data, size);
    std::memset(g_in.data() + 8, 0, 4);
    const uint32_t crc = crc32c(std::span<const uint8_t>(g_in.data(), size));
    for (int i = 0; i < 4; ++i) g_in[8 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    round_trip(std::span<const uint8_t>(g_in.data(), size));
  }
  return 0;
}
