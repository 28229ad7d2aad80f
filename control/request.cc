#include "request.h"

#include <nlohmann/json.hpp>

namespace srdx::ctl {

using nlohmann::json;

std::string_view to_string(ProbeTransport t) {
  switch (t) {
    case ProbeTransport::srdx:
      return "srdx";
    case ProbeTransport::tcp:
      return "tcp";
    case ProbeTransport::both:
      return "both";
  }
  return "?";
}

namespace {

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "true or false";
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    default:
      return "not a number";
  }
}

// An integer field within [min, max]; refuses fractions and exponents (1e3,
// also integers too large for 64 bits, which JSON parsing turns into
// floating point), strings, booleans.
std::string get_uint(const json& j, const char* name, uint64_t min, uint64_t max, uint32_t& out) {
  const std::string accepted =
      "; accepted: an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v < min || v > max) {
      return std::string(name) + ": " + std::to_string(v) + " is out of range" + accepted;
    }
    out = static_cast<uint32_t>(v);
    return {};
  }
  if (j.is_number_integer()) {  // negative
    return std::string(name) + ": " + std::to_string(j.get<int64_t>()) + " is out of range" +
           accepted;
  }
  if (j.is_number_float()) {
    return std::string(name) + ": " + j.dump() + " is not an integer" + accepted;
  }
  return std::string(name) + ": " + type_name(j) + " is not an integer" + accepted;
}

// A request body as a JSON object; empty, or why not.
std::string parse_object(std::string_view body, json& j) {
  if (body.size() > kMaxRequestBody) return "request body too large";
  try {
    j = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {
    return std::string("malformed JSON: ") + e.what();
  }
  if (!j.is_object()) return "the body must be a JSON object";
  return {};
}

}  // namespace

std::string parse_probe_request(std::string_view body, ProbeRequest& out) {
  json j;
  if (std::string err = parse_object(body, j); !err.empty()) return err;
  ProbeRequest r;
  bool have_peer = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "peer") {
      if (!v.is_string()) return "peer: must be a string (a configured peer's name)";
      r.peer = v.get<std::string>();
      if (!valid_peer_name(r.peer)) {
        return "peer: not a peer name; accepted: 1 to 64 of letters, digits, '-', '_', '.'";
      }
      have_peer = true;
    } else if (key == "transport") {
      const std::string accepted = "; accepted: \"srdx\", \"tcp\", \"both\"";
      if (!v.is_string()) return "transport: must be a string" + accepted;
      const std::string t = v.get<std::string>();
      if (t == "srdx")
        r.transport = ProbeTransport::srdx;
      else if (t == "tcp")
        r.transport = ProbeTransport::tcp;
      else if (t == "both")
        r.transport = ProbeTransport::both;
      else
        return "transport: unknown transport" + accepted;
    } else if (key == "size") {
      if (std::string e = get_uint(v, "size", 1, kProbeMaxSize, r.size); !e.empty()) return e;
    } else if (key == "count") {
      if (std::string e = get_uint(v, "count", 1, kProbeMaxCount, r.count); !e.empty()) return e;
    } else if (key == "interval_us") {
      if (std::string e = get_uint(v, "interval_us", 0, kProbeMaxIntervalUs, r.interval_us);
          !e.empty()) {
        return e;
      }
    } else if (key == "lease_s") {
      if (std::string e = get_uint(v, "lease_s", 0, kProbeMaxLeaseS, r.lease_s); !e.empty()) {
        return e;
      }
    } else {
      std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return "unknown field " + json(shown).dump(-1, ' ', false, json::error_handler_t::replace) +
             "; accepted: peer, transport, size, count, interval_us, lease_s";
    }
  }
  if (!have_peer) return "peer: required (a configured peer's name)";
  if (const uint64_t us = uint64_t{r.count} * r.interval_us; us > kProbeMaxScheduleUs) {
    return "count x interval_us: " + std::to_string(r.count) + " x " +
           std::to_string(r.interval_us) + " us is " + std::to_string(us / 1000000) +
           " s of pings; the limit is " + std::to_string(kProbeMaxScheduleUs / 1000000) +
           " s per probe: fewer pings or a shorter interval";
  }
  out = r;
  return {};
}

std::string parse_replication_request(std::string_view body, ReplicationRequest& out) {
  json j;
  if (std::string err = parse_object(body, j); !err.empty()) return err;
  ReplicationRequest r;
  bool have_name = false, have_source = false, have_peer = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "name") {
      if (!v.is_string()) return "name: must be a string";
      r.name = v.get<std::string>();
      if (!valid_job_name(r.name)) {
        return "name: " + json(r.name).dump(-1, ' ', false, json::error_handler_t::replace) +
               " is not a job name; accepted: 1 to 64 of letters, digits, '-', '_', '.' (the DR "
               "stores the job under DR-ROOT/NAME)";
      }
      have_name = true;
    } else if (key == "source") {
      if (!v.is_string()) return "source: must be a string (an absolute directory path)";
      r.source = v.get<std::string>();
      if (r.source.empty() || r.source[0] != '/' || r.source.size() > 4095) {
        return "source: " + json(r.source).dump(-1, ' ', false, json::error_handler_t::replace) +
               " is not an absolute path; accepted: /path/to/dir";
      }
      have_source = true;
    } else if (key == "peer") {
      if (!v.is_string()) return "peer: must be a string (a configured peer's name)";
      r.peer = v.get<std::string>();
      if (!valid_peer_name(r.peer)) {
        return "peer: not a peer name; accepted: 1 to 64 of letters, digits, '-', '_', '.'";
      }
      have_peer = true;
    } else if (key == "mode") {
      const std::string accepted = "; accepted: \"durable\", \"received\", \"async\"";
      if (!v.is_string()) return "mode: must be a string" + accepted;
      r.mode = v.get<std::string>();
      if (r.mode != "durable" && r.mode != "received" && r.mode != "async") {
        return "mode: " + json(r.mode).dump(-1, ' ', false, json::error_handler_t::replace) +
               " is not a mode" + accepted;
      }
    } else if (key == "include") {
      const std::string accepted = "; accepted: an array of glob patterns such as \"*.ndjson\"";
      if (!v.is_array()) return "include: must be an array" + accepted;
      if (v.size() > kReplicationMaxIncludes) {
        return "include: more than " + std::to_string(kReplicationMaxIncludes) + " patterns";
      }
      for (const json& g : v) {
        if (!g.is_string() || g.get<std::string>().empty() || g.get<std::string>().size() > 4095) {
          return "include: every pattern must be a non-empty string" + accepted;
        }
        r.include.push_back(g.get<std::string>());
      }
    } else if (key == "continuous") {
      if (!v.is_boolean()) return "continuous: must be true or false";
      r.continuous = v.get<bool>();
    } else if (key == "chunk_size") {
      if (std::string e = get_uint(v, "chunk_size", 4096, 16u << 20, r.chunk_size); !e.empty()) {
        return e;
      }
      if ((r.chunk_size & (r.chunk_size - 1)) != 0) {
        return "chunk_size: " + std::to_string(r.chunk_size) +
               " is not a power of two; accepted: 4096, 8192, ... 16777216";
      }
    } else {
      std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return "unknown field " + json(shown).dump(-1, ' ', false, json::error_handler_t::replace) +
             "; accepted: name, source, peer, mode, include, continuous, chunk_size";
    }
  }
  if (!have_name) return "name: required (the job's name, e.g. \"ehr\")";
  if (!have_source) return "source: required (the absolute directory to replicate)";
  if (!have_peer) return "peer: required (a configured peer's name: the DR appliance)";
  out = std::move(r);
  return {};
}

bool valid_job_name(std::string_view name) {
  return valid_peer_name(name) && name != "." && name != "..";
}

bool valid_peer_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    if (!ok) return false;
  }
  return true;
}

bool parse_probe_id(std::string_view text, uint64_t& id) {
  if (text.empty() || text.size() > 18 || text[0] == '0') return false;
  uint64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  id = v;
  return true;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (token.empty() || authorization.size() != kPrefix.size() + token.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    diff |= static_cast<unsigned char>(authorization[i]) ^ static_cast<unsigned char>(kPrefix[i]);
  }
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(authorization[kPrefix.size() + i]) ^
            static_cast<unsigned char>(token[i]);
  }
  return diff == 0;
}

std::string error_json(std::string_view message) {
  json j = json::object();
  j["error"] = std::string(message);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace srdx::ctl
