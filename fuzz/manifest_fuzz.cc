// libFuzzer target: the replication manifest decoder (workloads/replicate/
// manifest.h) on arbitrary bytes, as a DR site receives them from the
// network. Whatever decodes must be a valid manifest (path, chunk count,
// Merkle root) and re-encode to exactly the same bytes (one encoding per
// manifest); the JSON rendering must not throw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "replicate/manifest.h"

namespace {

using namespace srdx::replicate;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "manifest_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  Result<Manifest> r = decode(in);
  if (!r.ok()) {
    check(!r.error.message.empty(), "an error without a message");
    return 0;
  }
  const Manifest& m = r.value;
  check(validate(m).ok(), "decoded but not valid");
  check(m.chunks.size() * 32 < size, "more hashes than the input holds");
  const std::vector<uint8_t> again = encode(m);
  check(again.size() == size, "re-encodes to another length");
  for (size_t i = 0; i < size; ++i) check(again[i] == data[i], "re-encodes differently");
  (void)to_json(m).dump();
  return 0;
}
