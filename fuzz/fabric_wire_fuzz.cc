// libFuzzer target: the fabric carrier's segment header decoder
// (carrier/fabric_wire.h) on arbitrary bytes, as a whole provider message.
// Whatever decodes must lie inside its message (data: offset + len <= total
// <= the limit) and re-encode to exactly the same header bytes (one encoding
// per header: the zero fields are zero, flags only bit 0).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "../carrier/fabric_wire.h"

namespace {

using namespace srdx::carrier::wire;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fabric_wire_fuzz: %s\n", what);
    std::abort();
  }
}

constexpr uint64_t kLimit = 16u << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> msg(data, size);
  SegHeader h;
  if (decode(msg, kLimit, h) != DecodeError::ok) return 0;
  check(size >= kHeaderBytes && h.len == size - kHeaderBytes, "length disagrees");
  check(h.src_id != 0, "no sender");
  if (h.type == SegType::data) {
    check(h.total <= kLimit && h.offset <= h.total && h.len <= h.total - h.offset,
          "segment outside its message");
    check(h.ordered == (h.oseq != 0), "ordered without a place");
  }
  std::vector<uint8_t> again(kHeaderBytes);
  encode(h, again);
  for (size_t i = 0; i < kHeaderBytes; ++i) check(again[i] == data[i], "re-encodes differently");
  SegHeader h2;
  check(decode(msg, kLimit, h2) == DecodeError::ok && h2.msg_id == h.msg_id, "not stable");
  return 0;
}
