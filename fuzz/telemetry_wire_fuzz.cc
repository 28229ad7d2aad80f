// The telemetry edge-centre codec (workloads/telemetry/protocol.h) on
// arbitrary bytes: it never crashes, and whatever it accepts encodes back to
// exactly the same bytes. The spool's record form is decoded too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "telemetry/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace srdx::telemetry;
  const std::span<const uint8_t> in(data, size);
  Result<Msg> m = decode(in);
  if (m.ok()) {
    const std::vector<uint8_t> again = encode(m.value);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  uint64_t epoch = 0;
  Result<Record> r = decode_record(in, epoch);
  if (r.ok()) {
    std::vector<uint8_t> again;
    encode_record(again, epoch, r.value);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}
