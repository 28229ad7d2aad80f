// The replication protocol's decoder (workloads/replicate/protocol.h) on
// arbitrary bytes: it never crashes, and whatever it accepts encodes back to
// exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "replicate/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace srdx::replicate;
  const std::span<const uint8_t> in(data, size);
  Result<proto::Msg> m = proto::decode(in);
  if (!m.ok()) return 0;
  const std::vector<uint8_t> again = proto::encode(m.value);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
