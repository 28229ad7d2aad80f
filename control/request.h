// Validation of control API requests: pure functions of their input (no
// daemon state), so that the fuzzer can hammer them. Each returns an empty
// string when the request is acceptable, otherwise the message a 400 carries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace srdx::ctl {

enum class ProbeTransport : uint8_t { srdx, tcp, both };
std::string_view to_string(ProbeTransport t);

struct ProbeRequest {
  std::string peer;
  ProbeTransport transport = ProbeTransport::both;
  uint32_t size = 64;        // 1..65536 bytes
  uint32_t count = 1000;     // 1..1000000 pings per transport
  uint32_t interval_us = 0;  // 0..1000000 between pings
  // The probe ends (cancelled, "reason" says why) when nobody has read it
  // (GET /v1/probes/{id}) for this many seconds; 0: no lease (srdxctl probe
  // --detach). API probes only; periodic rounds have none.
  uint32_t lease_s = 30;
};

inline constexpr uint32_t kProbeMaxSize = 65536;
inline constexpr uint32_t kProbeMaxCount = 1000000;
inline constexpr uint32_t kProbeMaxIntervalUs = 1000000;
// count x interval_us may not exceed this (one hour of pings per transport):
// a probe cannot be made to run for days.
inline constexpr uint64_t kProbeMaxScheduleUs = 3600ull * 1000000;
inline constexpr uint32_t kProbeMaxLeaseS = 3600;
// Bodies larger than this are refused before parsing.
inline constexpr size_t kMaxRequestBody = 64 * 1024;

// POST /v1/probes body: {"peer":"b","transport":"srdx"|"tcp"|"both","size":64,
// "count":1000,"interval_us":0,"lease_s":30}; "peer" is required, the rest
// default. count x interval_us is capped (kProbeMaxScheduleUs).
// Malformed JSON, a non-object, unknown fields, wrong types and out-of-range
// values are refused.
std::string parse_probe_request(std::string_view body, ProbeRequest& out);

// POST /v1/replications body: {"name":"ehr","source":"/abs/dir","peer":"b",
// "mode":"durable"|"received"|"async","include":["*.ndjson"],"continuous":true,
// "chunk_size":1048576}; name, source and peer are required. Only the shape is
// checked here (the source directory and the peer are the job manager's).
struct ReplicationRequest {
  std::string name;    // 1..64 of [A-Za-z0-9._-], not "." or ".."
  std::string source;  // an absolute path
  std::string peer;
  std::string mode = "durable";
  std::vector<std::string> include;  // fnmatch globs on the relative path; empty: all
  bool continuous = true;
  uint32_t chunk_size = 1u << 20;  // a power of two, 4 KiB..16 MiB
};
inline constexpr size_t kReplicationMaxIncludes = 64;
std::string parse_replication_request(std::string_view body, ReplicationRequest& out);

// A job name: 1..64 of [A-Za-z0-9._-], not "." or "..".
bool valid_job_name(std::string_view name);

// A peer name as the config accepts it: 1..64 of [A-Za-z0-9._-].
bool valid_peer_name(std::string_view name);

// A probe id in a path: 1..18 decimal digits, no leading zero.
bool parse_probe_id(std::string_view text, uint64_t& id);

// Compares the Authorization header with "Bearer <token>" in constant time
// (for a given header length). An empty token never matches.
bool bearer_matches(std::string_view authorization, std::string_view token);

// {"error":"<message>"} with the message JSON-escaped.
std::string error_json(std::string_view message);

}  // namespace srdx::ctl
