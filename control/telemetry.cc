#include "telemetry.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api.h"
#include "daemon.h"
#include "log.h"

#if SRDX_HAVE_DPDK_TELEMETRY
#include <rte_telemetry.h>
#endif

namespace srdx::ctl {

#if SRDX_HAVE_DPDK_TELEMETRY
namespace {

using nlohmann::json;
// Telemetry keeps a dict's entries in the order they were added: the
// reshaped documents keep the API's key order and list order.
using tjson = nlohmann::ordered_json;

// DPDK's reply buffer is 16 KiB (max_output_len); entries that do not fit
// are dropped without a word, so lists stop short of it (the command's name
// and the wrapping braces take the rest).
constexpr size_t kReplyBudget = 16384 - 256;

// Telemetry callbacks take no user pointer: one daemon per process. g_mu is
// held while a callback reads the daemon, so unregister_telemetry() waits.
std::mutex g_mu;
Daemon* g_daemon = nullptr;
const ApiServer* g_api = nullptr;

// A telemetry key: letters, digits, '_' and '/' (DPDK refuses others), at
// most RTE_TEL_MAX_STRING_LEN - 1 characters.
std::string tel_key(std::string_view k) {
  std::string out(k.substr(0, RTE_TEL_MAX_STRING_LEN - 1));
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
  }
  return out.empty() ? "_" : out;
}

tjson shape(const json& v);

// obj[key] = v, reshaped: a fractional time X_us becomes a whole X_ns.
void put(tjson& obj, std::string key, const json& v) {
  if (v.is_null()) return;
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (key.size() > 3 && key.ends_with("_us") && std::isfinite(x)) {
      key.replace(key.size() - 3, 3, "_ns");
      const long long ns = std::llround(x * 1e3);
      if (ns >= 0) {
        obj[tel_key(key)] = static_cast<uint64_t>(ns);
      } else {
        obj[tel_key(key)] = static_cast<int64_t>(ns);
      }
      return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    obj[tel_key(key)] = buf;
    return;
  }
  obj[tel_key(key)] = shape(v);
}

// The API's JSON as telemetry can carry it (telemetry.h).
tjson shape(const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      tjson o = tjson::object();
      for (const auto& [k, x] : v.items()) put(o, k, x);
      return o;
    }
    case json::value_t::array: {
      bool u64s = true, strings = true;
      for (const json& x : v) {
        u64s = u64s && (x.is_number_unsigned() || (x.is_number_integer() && x.get<int64_t>() >= 0));
        strings = strings && x.is_string();
      }
      if (u64s || strings) return tjson(v);
      tjson o = tjson::object();
      for (size_t i = 0; i < v.size(); ++i) put(o, std::to_string(i), v[i]);
      return o;
    }
    case json::value_t::boolean:
      return v.get<bool>() ? 1u : 0u;
    default:
      return tjson(v);
  }
}

// What the entry takes in the reply, about: DPDK writes ", " and ": ".
size_t reply_size(const tjson& v) {
  if (!v.is_structured()) return v.dump().size();
  size_t n = 2;
  for (const auto& [k, x] : v.items()) n += (v.is_object() ? k.size() + 4 : 0) + reply_size(x) + 2;
  return n;
}

// Adds `entry` under `key` while the reply stays within DPDK's budget; from
// the first that does not fit on, counts it and every later one in `omitted`
// (so a list is cut at one place, and a reader asks again from there).
void add_within_budget(tjson& dst, const std::string& key, tjson entry, size_t& used,
                       size_t& omitted) {
  const size_t size = key.size() + 6 + reply_size(entry);
  if (omitted > 0 || used + size > kReplyBudget) {
    ++omitted;
    return;
  }
  used += size;
  dst[key] = std::move(entry);
}

void fill_dict(rte_tel_data* d, const tjson& obj);

// Adds v to the dict d under key (DPDK refuses what it cannot hold; the
// rest of the reply still goes out).
void add(rte_tel_data* d, const std::string& key, const tjson& v) {
  const char* k = key.c_str();
  switch (v.type()) {
    case tjson::value_t::object:
    case tjson::value_t::array: {
      rte_tel_data* c = rte_tel_data_alloc();
      if (!c) return;
      if (v.is_object()) {
        rte_tel_data_start_dict(c);
        fill_dict(c, v);
      } else if (!v.empty() && v[0].is_string()) {
        rte_tel_data_start_array(c, RTE_TEL_STRING_VAL);
        for (const tjson& x : v) rte_tel_data_add_array_string(c, x.get<std::string>().c_str());
      } else {
        rte_tel_data_start_array(c, RTE_TEL_U64_VAL);
        for (const tjson& x : v) rte_tel_data_add_array_u64(c, x.get<uint64_t>());
      }
      if (rte_tel_data_add_dict_container(d, k, c, 0) != 0) rte_tel_data_free(c);
      return;
    }
    case tjson::value_t::string:
      rte_tel_data_add_dict_string(d, k, v.get_ref<const std::string&>().c_str());
      return;
    case tjson::value_t::number_unsigned:
      rte_tel_data_add_dict_u64(d, k, v.get<uint64_t>());
      return;
    case tjson::value_t::number_integer: {
      const int64_t x = v.get<int64_t>();
      if (x >= 0) {
        rte_tel_data_add_dict_u64(d, k, static_cast<uint64_t>(x));
      } else {
        rte_tel_data_add_dict_int(d, k, static_cast<int>(x < INT_MIN ? INT_MIN : x));
      }
      return;
    }
    case tjson::value_t::number_float:
      rte_tel_data_add_dict_string(d, k, v.dump().c_str());
      return;
    default:
      return;
  }
}

void fill_dict(rte_tel_data* d, const tjson& obj) {
  for (const auto& [k, x] : obj.items()) add(d, k, x);
}

int reply(rte_tel_data* d, const tjson& doc) {
  rte_tel_data_start_dict(d);
  fill_dict(d, doc);
  return 0;
}

const PeerSnapshot* find(const Snapshot& s, std::string_view name) {
  for (const PeerSnapshot& p : s.peers) {
    if (p.cfg.name == name) return &p;
  }
  return nullptr;
}

int counters_cb(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_daemon) return -1;
  const ApiCounters api = g_api ? g_api->counters() : ApiCounters{};
  return reply(d, shape(counters_json(g_daemon->snapshot(), api)));
}

int link_cb(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_daemon) return -1;
  const ApiCounters api = g_api ? g_api->counters() : ApiCounters{};
  return reply(d, shape(counters_json(g_daemon->snapshot(), api)["link"]));
}

int peers_cb(const char*, const char* params, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_daemon) return -1;
  const Snapshot s = g_daemon->snapshot();
  if (params && *params) {
    const PeerSnapshot* p = find(s, params);
    return p ? reply(d, shape(peer_json(*p))) : -EINVAL;
  }
  tjson peers = tjson::object();
  size_t used = 64, omitted = 0;
  for (size_t i = 0; i < s.peers.size(); ++i) {
    std::string key = tel_key(s.peers[i].cfg.name);
    // Names differing only in '-' or '.' would meet on one key.
    if (peers.contains(key)) key += "_" + std::to_string(i);
    add_within_budget(peers, key, shape(peer_json(s.peers[i])), used, omitted);
  }
  tjson doc = {{"peers", std::move(peers)}};
  if (omitted > 0) doc["omitted"] = omitted;
  return reply(d, doc);
}

int paths_cb(const char*, const char* params, rte_tel_data* d) {
  const std::string_view arg = params ? params : "";
  const size_t comma = arg.find(',');
  const std::string_view name = arg.substr(0, comma);
  size_t first = 0;
  if (comma != std::string_view::npos) {
    const std::string_view f = arg.substr(comma + 1);
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), first);
    if (ec != std::errc() || end != f.data() + f.size()) return -EINVAL;
  }
  if (name.empty()) return -EINVAL;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_daemon) return -1;
  const Snapshot s = g_daemon->snapshot();
  const PeerSnapshot* p = find(s, name);
  if (!p) return -EINVAL;
  const json doc = paths_json(*p);
  tjson out = tjson::object();
  for (const auto& [k, v] : doc.items()) {
    if (k != "paths") put(out, k, v);
  }
  // The paths keyed by their index in the whole list, from `first` on.
  const json& list = doc["paths"];
  tjson paths = tjson::object();
  size_t used = 64 + reply_size(out), omitted = 0;
  for (size_t i = first; i < list.size(); ++i) {
    add_within_budget(paths, std::to_string(i), shape(list[i]), used, omitted);
  }
  out["paths"] = std::move(paths);
  if (omitted > 0) out["omitted"] = omitted;
  return reply(d, out);
}

}  // namespace

void register_telemetry(Daemon* d, const ApiServer* api) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_daemon = d;
    g_api = api;
  }
  int rc = rte_telemetry_register_cmd("/srdx/counters", counters_cb,
                                      "srdx counters, as GET /v1/counters. No parameters");
  rc |= rte_telemetry_register_cmd("/srdx/link", link_cb,
                                   "srdx link counters, /srdx/counters' link. No parameters");
  rc |= rte_telemetry_register_cmd(
      "/srdx/peers", peers_cb,
      "srdx peers, as GET /v1/peers. Parameter: a peer name (optional), as GET /v1/peers/NAME");
  rc |= rte_telemetry_register_cmd(
      "/srdx/paths", paths_cb,
      "srdx paths of a peer, as GET /v1/peers/NAME/paths. Parameters: NAME[,FIRST path]");
  if (rc != 0) {
    SRDX_LOG_WARN("dpdk telemetry: could not register the /srdx commands");
  } else {
    SRDX_LOG_INFO(
        "dpdk telemetry: /srdx/counters, /srdx/link, /srdx/peers, /srdx/paths registered");
  }
}

void unregister_telemetry() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_daemon = nullptr;
  g_api = nullptr;
}
#else
void unregister_telemetry() {}
void register_telemetry(Daemon*, const ApiServer*) {
  SRDX_LOG_WARN("dpdk telemetry: this build has no DPDK; no telemetry commands");
}
#endif

}  // namespace srdx::ctl
