// The centre's sequence log (workloads/telemetry/seqlog.h) read back from a
// file of arbitrary content: opening never crashes and never fails on bad
// bytes (a torn or corrupt tail is cut), what it keeps reads back the same
// on a second open, and the log takes new numbers after it.
//
// Input: frames as [u16 little-endian length][body] (the target writes each
// with its crc32c, so that the fuzzer reaches the body decoder), then
// whatever is left, written raw (a torn tail).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "telemetry/seqlog.h"
#include "wire.h"

namespace {

const std::string& dir() {
  static const std::string d = [] {
    char t[] = "/tmp/srdx-seqlog-fuzz-XXXXXX";
    if (!mkdtemp(t)) std::abort();
    return std::string(t);
  }();
  return d;
}

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace srdx::telemetry;
  std::vector<uint8_t> file;
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t len = data[at] | size_t{data[at + 1]} << 8;
    if (len == 0 || at + 2 + len > size) break;
    const std::span<const uint8_t> body(data + at + 2, len);
    put32(file, static_cast<uint32_t>(len));
    put32(file, srdx::wire::crc32c(body));
    file.insert(file.end(), body.begin(), body.end());
    at += 2 + len;
  }
  file.insert(file.end(), data + at, data + size);
  const std::string path = dir() + "/seq.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) {
    std::abort();
  }
  ::close(fd);

  SeqLogOptions o;
  o.dir = dir();
  o.compact_bytes = 1 << 16;
  {
    SeqTracker t;
    Result<std::unique_ptr<SeqLog>> l = SeqLog::open(o, t, 1);
    if (!l.ok()) std::abort();  // bad bytes are cut, never an error
    l.value->seen("edge", "turbine/1/rpm", 1, 1);
    if (!l.value->flush(false).ok()) std::abort();
  }
  SeqTracker t;
  Result<std::unique_ptr<SeqLog>> again = SeqLog::open(o, t, 1);
  if (!again.ok() || again.value->stats().torn_bytes != 0) std::abort();
  // The number logged after the cut is read back whatever came before it.
  std::vector<Gap> gaps;
  // (untracked: four newer epochs of that topic in the input, a stated bound)
  if (t.accept("edge", "turbine/1/rpm", 1, 1, 1, gaps) == SeqTracker::Verdict::fresh) {
    std::abort();
  }
  return 0;
}
