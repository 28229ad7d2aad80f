#include "ctl/telemetry_cmd.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ctl/format.h"

namespace srdx::cli {

using nlohmann::json;

namespace {

const json& at(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

std::string ms(const json& seconds) {
  if (!seconds.is_number()) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f ms", seconds.get<double>() * 1e3);
  return b;
}

void line(const std::string& k, const std::string& v) { std::cout << k << ": " << v << "\n"; }

}  // namespace

int cmd_telemetry(ApiClient& api, const std::vector<std::string>& args, bool as_json) {
  if (args.size() != 1 || args[0] != "status") {
    throw CtlError{kExitUsage,
                   "telemetry: the subcommand is status (srdxctl telemetry status "
                   "[--json])\n(srdxctl --help for usage)"};
  }
  const Reply r = api.get("/v1/telemetry");
  if (as_json) {
    std::cout << r.body;
    if (r.body.empty() || r.body.back() != '\n') std::cout << '\n';
    return kExitOk;
  }
  const json& d = r.doc;
  const std::string role = format_value(at(d, "role"));
  line("role", role);
  line("broker", format_value(at(d, "broker")) + " (MQTT " + format_value(at(d, "mqtt_version")) +
                     ", " + (at(d, "broker_connected") == true ? "connected" : "NOT connected") +
                     ")");
  if (role == "edge") {
    line("central", format_value(at(d, "central")) +
                        (at(d, "central_reachable") == true ? " (reachable)" : " (UNREACHABLE)"));
    std::string topics;
    for (const json& t : at(d, "topics"))
      topics += (topics.empty() ? "" : " ") + t.get<std::string>();
    line("topics", topics + " (" + format_value(at(d, "topics_seen")) + " seen)");
    line("messages in", format_value(at(d, "messages_in")) + " (" +
                            format_value(at(d, "messages_in_qos1")) + " QoS 1, " +
                            format_value(at(d, "redeliveries_dropped")) +
                            " sent again by the broker and dropped)");
    line("records sent", format_value(at(d, "records_sent")) + ", acknowledged " +
                             format_value(at(d, "records_acked")));
    line("lag", format_value(at(d, "lag_records")) + " records not yet acknowledged");
    const json& sp = at(d, "spool");
    line("spool", format_bytes(at(sp, "bytes")) + " of " + format_bytes(at(sp, "max_bytes")) +
                      ", " + format_value(at(sp, "records")) + " records (" +
                      format_value(at(sp, "backlog")) + " to send), fsync " +
                      format_value(at(sp, "fsync")) + ", " + format_value(at(sp, "dir")));
    const json& dr = at(d, "dropped");
    line("dropped", "spool full (QoS 0) " + format_value(at(dr, "qos0_spool_full")) +
                        ", too large " + format_value(at(dr, "too_large")) + ", topic limit " +
                        format_value(at(dr, "topic_limit")));
    for (const json& rule : at(d, "rules")) line("rule", rule.get<std::string>());
    line("alarms", format_value(at(at(d, "alarms"), "raised")) + " raised, " +
                       format_value(at(at(d, "alarms"), "cleared")) + " cleared");
    for (const json& a : at(d, "last_alarms")) {
      line("  " + format_value(at(a, "state")), format_value(at(a, "topic")) + " = " +
                                                    format_value(at(a, "value")) + " (" +
                                                    format_value(at(a, "rule")) + ")");
    }
    const std::string err =
        at(d, "last_error").is_string() ? at(d, "last_error").get<std::string>() : "";
    if (!err.empty()) line("last error", err);
  } else {
    line("messages out", format_value(at(d, "messages_out")) + " (" +
                             format_value(at(d, "records")) + " records in " +
                             format_value(at(d, "batches")) + " batches)");
    line("duplicates dropped", format_value(at(d, "duplicates_dropped")));
    line("gaps", format_value(at(at(d, "gaps"), "messages")) + " messages in " +
                     format_value(at(at(d, "gaps"), "events")) + " gaps");
    const json& l = at(d, "latency_s");
    line("latency", "p50 " + ms(at(l, "p50")) + ", p99 " + ms(at(l, "p99")) + ", p99.9 " +
                        ms(at(l, "p999")) + " (bucket bounds)");
    line("alarms received", format_value(at(d, "alarms_received")));
    for (const auto& [topic, state] : at(d, "alarm_state").items()) {
      line("  " + state.get<std::string>(), topic);
    }
    for (const json& g : at(d, "last_gaps")) {
      line("  gap", format_value(at(g, "topic")) + " from " + format_value(at(g, "edge")) + ": " +
                        format_value(at(g, "count")) + " from seq " + format_value(at(g, "first")));
    }
  }
  return kExitOk;
}

}  // namespace srdx::cli
