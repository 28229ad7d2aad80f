// libFuzzer target: the control API's request validation (control/request.h:
// probes and replication jobs) on arbitrary bytes. It must never crash, hang or throw; what it
// accepts must be within the documented ranges and survive a JSON round trip; every error message
// must itself be valid JSON once wrapped by error_json().
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "../control/request.h"

namespace {

using namespace srdx::ctl;
using nlohmann::json;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "api_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

void check_error_message(const std::string& msg) {
  const std::string wrapped = error_json(msg);
  const json j = json::parse(wrapped, nullptr, false);
  check(!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string(),
        "error_json is not {\"error\":string}");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  ProbeRequest r;
  const std::string err = parse_probe_request(text, r);
  if (err.empty()) {
    check(valid_peer_name(r.peer), "accepted an invalid peer name");
    check(r.size >= 1 && r.size <= kProbeMaxSize, "size out of range");
    check(r.count >= 1 && r.count <= kProbeMaxCount, "count out of range");
    check(r.interval_us <= kProbeMaxIntervalUs, "interval out of range");
    check(uint64_t{r.count} * r.interval_us <= kProbeMaxScheduleUs,
          "count x interval past the cap");
    check(r.lease_s <= kProbeMaxLeaseS, "lease out of range");
    const json again = {{"peer", r.peer},
                        {"transport", std::string(to_string(r.transport))},
                        {"size", r.size},
                        {"count", r.count},
                        {"interval_us", r.interval_us},
                        {"lease_s", r.lease_s}};
    ProbeRequest r2;
    check(parse_probe_request(again.dump(), r2).empty(), "a re-serialized request is refused");
    check(r2.peer == r.peer && r2.transport == r.transport && r2.size == r.size &&
              r2.count == r.count && r2.interval_us == r.interval_us && r2.lease_s == r.lease_s,
          "round trip changed the request");
  } else {
    check_error_message(err);
  }

  ReplicationRequest rr;
  const std::string rerr = parse_replication_request(text, rr);
  if (rerr.empty()) {
    check(valid_job_name(rr.name), "accepted an invalid job name");
    check(!rr.source.empty() && rr.source[0] == '/', "accepted a relative source");
    check(valid_peer_name(rr.peer), "accepted an invalid replication peer");
    check(rr.mode == "durable" || rr.mode == "received" || rr.mode == "async", "accepted a mode");
    check(rr.include.size() <= kReplicationMaxIncludes, "too many include patterns");
    check(rr.chunk_size >= 4096 && rr.chunk_size <= (16u << 20) &&
              (rr.chunk_size & (rr.chunk_size - 1)) == 0,
          "chunk_size out of range");
    // Strings from the fuzzer may be invalid UTF-8: replaced when dumped, so
    // only valid ones must survive the round trip unchanged.
    const std::string again = json({{"name", rr.name},
                                    {"source", rr.source},
                                    {"peer", rr.peer},
                                    {"mode", rr.mode},
                                    {"include", rr.include},
                                    {"continuous", rr.continuous},
                                    {"chunk_size", rr.chunk_size}})
                                  .dump(-1, ' ', false, json::error_handler_t::strict);
    ReplicationRequest rr2;
    check(parse_replication_request(again, rr2).empty(), "a re-serialized job is refused");
    check(rr2.name == rr.name && rr2.source == rr.source && rr2.peer == rr.peer &&
              rr2.mode == rr.mode && rr2.include == rr.include && rr2.continuous == rr.continuous &&
              rr2.chunk_size == rr.chunk_size,
          "round trip changed the job");
  } else {
    check_error_message(rerr);
  }

  uint64_t id = 0;
  if (parse_probe_id(text, id)) {
    check(id != 0 && std::to_string(id) == text, "probe id does not round-trip");
  }
  (void)valid_peer_name(text);
  // The first line as a token, the rest as the header.
  const size_t nl = text.find('\n');
  if (nl != std::string_view::npos) {
    const std::string_view token = text.substr(0, nl), header = text.substr(nl + 1);
    const bool match = bearer_matches(header, token);
    check(match == (!token.empty() && header == "Bearer " + std::string(token)),
          "bearer_matches disagrees with string comparison");
  }
  return 0;
}
