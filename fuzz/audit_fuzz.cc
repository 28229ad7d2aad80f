// libFuzzer target: the audit log's line parser (workloads/replicate/audit.h)
// on arbitrary bytes. It must never crash, hang or throw. A line it accepts
// must be exactly what format_audit_line() writes for the parsed values (the
// canonical form is unique, so a verified log has one byte sequence), and its
// hash must be the one format_audit_line() computes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "replicate/audit.h"

namespace {

using namespace srdx::replicate;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "audit_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  AuditResult<AuditLine> parsed = parse_audit_line(text);
  if (!parsed.ok()) {
    check(!parsed.error.empty(), "refused without a reason");
    return 0;
  }
  AuditLine again = parsed.value;
  const std::string hash = again.hash;
  again.hash.clear();
  AuditResult<std::string> line = format_audit_line(again);
  check(line.ok(), "an accepted line cannot be formatted again");
  check(line.value == text, "an accepted line is not what format_audit_line writes");
  check(again.hash == hash, "format_audit_line computes another hash");
  check(parsed.value.seq == again.seq && parsed.value.record.event == again.record.event,
        "round trip changed the line");
  return 0;
}
