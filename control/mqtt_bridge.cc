#include "mqtt_bridge.h"

#include <cstdio>
#include <sstream>

#include "log.h"
#include "telemetry/rules.h"

namespace srdx::ctl {

using nlohmann::json;

namespace {

// At most this many turbine series in srdx_telemetry_latest_value (and as
// many alarm series): Prometheus cardinality stays bounded whatever the
// topics.
constexpr size_t kMaxTurbineSeries = 300;

// "turbine/<id>/<sensor>" (any prefix before the last two levels):
// the turbine id and sensor, or false.
bool turbine_of(const std::string& topic, std::string& id, std::string& sensor) {
  const size_t b = topic.rfind('/');
  if (b == std::string::npos || b == 0) return false;
  const size_t a = topic.rfind('/', b - 1);
  id = topic.substr(a == std::string::npos ? 0 : a + 1, b - (a == std::string::npos ? 0 : a + 1));
  sensor = topic.substr(b + 1);
  if (id.empty() || sensor.empty() || id.size() > 64 || sensor.size() > 64) return false;
  for (char c : id + sensor) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

}  // namespace

std::unique_ptr<MqttBridgeService> MqttBridgeService::create(const TelemetryConfig& cfg,
                                                             carrier::Carrier& carrier,
                                                             PeerId central, std::string& error) {
  std::unique_ptr<MqttBridgeService> s(new MqttBridgeService(cfg));
  telemetry::MqttOptions mo;
  mo.host = cfg.broker_host;
  mo.port = cfg.broker_port;
  mo.client_id = cfg.client_id;
  mo.protocol = cfg.mqtt_version;
  if (cfg.role == "edge") {
    telemetry::EdgeOptions eo;
    mo.filters = cfg.topics;
    mo.sub_qos = cfg.qos;
    eo.mqtt = mo;
    eo.spool.dir = cfg.spool_dir;
    eo.spool.max_bytes = cfg.spool_max;
    eo.spool.segment_bytes = std::min<uint64_t>(8ull << 20, cfg.spool_max / 4);
    eo.spool.fsync =
        cfg.fsync_always ? telemetry::FsyncPolicy::always : telemetry::FsyncPolicy::interval;
    for (const std::string& a : cfg.alarms) eo.rules.push_back(telemetry::parse_rule(a).value);
    eo.alarm_prefix = cfg.alarm_topic;
    auto e = telemetry::Edge::create(std::move(eo), carrier, central);
    if (!e.ok()) {
      error = e.error.message;
      return nullptr;
    }
    s->edge_ = std::move(e.value);
    const telemetry::EdgeStatus st = s->edge_->status();
    SRDX_LOG_INFO(
        "telemetry edge: broker %s:%u (MQTT %s), %zu topic filters, %zu alarm rules, "
        "spool %s (epoch %llu, %llu records recovered)",
        cfg.broker_host.c_str(), cfg.broker_port, cfg.mqtt_version == 5 ? "5" : "3.1.1",
        cfg.topics.size(), cfg.alarms.size(), cfg.spool_dir.c_str(),
        static_cast<unsigned long long>(st.epoch),
        static_cast<unsigned long long>(st.spool.recovered));
    if (telemetry::Status ss = s->edge_->start(); !ss.ok()) {
      SRDX_LOG_WARN("telemetry edge: %s", ss.error.message.c_str());
    }
  } else {
    telemetry::CentralOptions co;
    co.mqtt = mo;
    co.seq.gap_timeout_ns = static_cast<uint64_t>(cfg.gap_timeout.ns());
    co.log = [](const std::string& line) { SRDX_LOG_WARN("%s", line.c_str()); };
    co.state_dir = cfg.spool_dir;
    co.fsync_always = cfg.fsync_always;
    s->central_ = std::make_unique<telemetry::Central>(std::move(co), carrier);
    if (telemetry::Status ss = s->central_->open_state(); !ss.ok()) {
      error = ss.error.message;
      return nullptr;
    }
    const telemetry::CentralStatus st = s->central_->status();
    SRDX_LOG_INFO("telemetry central: sequence log %s/seq.log (%llu frames recovered, %llu topics)",
                  cfg.spool_dir.c_str(),
                  static_cast<unsigned long long>(st.seqlog.recovered_frames),
                  static_cast<unsigned long long>(st.seqlog.topics));
    SRDX_LOG_INFO("telemetry central: publishing to broker %s:%u (MQTT %s)",
                  cfg.broker_host.c_str(), cfg.broker_port, cfg.mqtt_version == 5 ? "5" : "3.1.1");
    if (telemetry::Status ss = s->central_->start(); !ss.ok()) {
      SRDX_LOG_WARN("telemetry central: %s", ss.error.message.c_str());
    }
  }
  return s;
}

MqttBridgeService::~MqttBridgeService() { stop(); }

void MqttBridgeService::stop() {
  if (edge_) edge_->stop();
  if (central_) central_->stop();
}

void MqttBridgeService::name_peer(PeerId id, const std::string& name) {
  if (central_) central_->name_peer(id, name);
}

bool MqttBridgeService::on_event(const Event& ev, Time now) {
  if (edge_) return edge_->on_event(ev, now);
  return central_->on_event(ev, now);
}

void MqttBridgeService::tick(Time now) {
  if (edge_) edge_->tick(now);
  if (central_) central_->tick(now);
}

json MqttBridgeService::status_json() const {
  const double up_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  json j = {{"role", cfg_.role},
            {"broker", cfg_.broker_host + ":" + std::to_string(cfg_.broker_port)},
            {"mqtt_version", cfg_.mqtt_version == 5 ? "5" : "3.1.1"}};
  if (edge_) {
    const telemetry::EdgeStatus s = edge_->status();
    json alarms = json::array();
    for (const auto& a : s.last_alarms) {
      alarms.push_back({{"rule", a.rule},
                        {"topic", a.topic},
                        {"state", a.state},
                        {"value", a.value},
                        {"time", a.time}});
    }
    const uint64_t lag = s.spool.pending;
    j.update({{"broker_connected", s.broker_connected},
              {"central", cfg_.central},
              {"central_reachable", s.peer_reachable},
              {"topics", cfg_.topics},
              {"topics_seen", s.topics},
              {"epoch", s.epoch},
              {"messages_in", s.received},
              {"messages_in_qos1", s.received_qos1},
              {"redeliveries_dropped", s.redeliveries_dropped},
              {"rate_in_per_s", up_s > 0 ? static_cast<double>(s.received) / up_s : 0},
              {"records_sent", s.sent_records},
              {"records_acked", s.acked_records},
              {"batches_sent", s.batches_sent},
              {"batches_resent", s.batches_resent},
              {"lag_records", lag},
              {"inflight_batches", s.inflight_batches},
              {"dropped",
               {{"qos0_spool_full", s.dropped_qos0_full},
                {"too_large", s.dropped_too_large},
                {"bad_topic", s.dropped_bad_topic},
                {"topic_limit", s.dropped_topic_limit}}},
              {"spool",
               {{"dir", cfg_.spool_dir},
                {"bytes", s.spool.bytes},
                {"max_bytes", cfg_.spool_max},
                {"records", s.spool.pending},
                {"backlog", s.spool.backlog},
                {"segments", s.spool.segments},
                {"recovered", s.spool.recovered},
                {"full_stalls", s.full_stalls},
                {"fsync", cfg_.fsync_always ? "always" : "interval"}}},
              {"alarms", {{"raised", s.alarms_raised}, {"cleared", s.alarms_cleared}}},
              {"rules", cfg_.alarms},
              {"last_alarms", alarms},
              {"last_error", s.last_error}});
  } else {
    const telemetry::CentralStatus s = central_->status();
    json gaps = json::array();
    for (const auto& g : s.last_gaps) {
      gaps.push_back({{"edge", g.source},
                      {"topic", g.topic},
                      {"epoch", g.epoch},
                      {"first", g.first},
                      {"count", g.count}});
    }
    json latest = json::object();
    for (const auto& [t, v] : s.latest) latest[t] = {{"value", v.payload}, {"time", v.time}};
    json alarms = json::object();
    for (const auto& [t, raised] : s.alarm_state) alarms[t] = raised ? "raised" : "cleared";
    j.update({{"broker_connected", s.broker_connected},
              {"batches", s.batches},
              {"records", s.records},
              {"messages_out", s.published},
              {"rate_out_per_s", up_s > 0 ? static_cast<double>(s.published) / up_s : 0},
              {"publish_errors", s.publish_errors},
              {"malformed", s.malformed},
              {"duplicates_dropped", s.seq.duplicates},
              {"gaps", {{"messages", s.seq.gap_messages}, {"events", s.seq.gap_events}}},
              {"missing_now", s.seq.missing_now},
              {"late", s.seq.late},
              {"sequence_log",
               {{"enabled", s.seqlog_enabled},
                {"path", s.seqlog_enabled ? cfg_.spool_dir + "/seq.log" : ""},
                {"bytes", s.seqlog.bytes},
                {"topics", s.seqlog.topics},
                {"recovered_frames", s.seqlog.recovered_frames},
                {"torn_bytes", s.seqlog.torn_bytes},
                {"compactions", s.seqlog.compactions},
                {"write_errors", s.seqlog_errors},
                {"fsync", cfg_.fsync_always ? "always" : "interval"}}},
              {"latency_s",
               {{"p50", s.latency.quantile(0.5)},
                {"p99", s.latency.quantile(0.99)},
                {"p999", s.latency.quantile(0.999)},
                {"count", s.latency.total}}},
              {"alarm_latency_s",
               {{"p50", s.alarm_latency.quantile(0.5)},
                {"p99", s.alarm_latency.quantile(0.99)},
                {"count", s.alarm_latency.total}}},
              {"alarms_received", s.alarms},
              {"alarm_state", alarms},
              {"last_gaps", gaps},
              {"latest", latest}});
  }
  return j;
}

std::string MqttBridgeService::prometheus() const {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, uint64_t v,
                     const std::string& labels = "") {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << labels << " " << v << "\n";
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << num(v) << "\n";
  };
  const std::string role = "{role=\"" + cfg_.role + "\"}";
  o << "# HELP srdx_telemetry_up The MQTT telemetry bridge runs (role: edge or central).\n"
       "# TYPE srdx_telemetry_up gauge\nsrdx_telemetry_up"
    << role << " 1\n";
  if (edge_) {
    const telemetry::EdgeStatus s = edge_->status();
    gauge("srdx_telemetry_broker_connected", "The bridge is connected to its MQTT broker.",
          s.broker_connected ? 1 : 0);
    counter("srdx_telemetry_messages_in_total", "Messages received from the edge broker.",
            s.received);
    counter("srdx_telemetry_records_sent_total", "Records shipped to the central appliance.",
            s.sent_records);
    counter("srdx_telemetry_records_acked_total",
            "Records the central appliance acknowledged (published).", s.acked_records);
    counter("srdx_telemetry_batches_resent_total", "Batches sent again (from the spool).",
            s.batches_resent);
    o << "# HELP srdx_telemetry_dropped_total Messages dropped at the edge, by reason.\n"
         "# TYPE srdx_telemetry_dropped_total counter\n"
      << "srdx_telemetry_dropped_total{reason=\"qos0_spool_full\"} " << s.dropped_qos0_full
      << "\nsrdx_telemetry_dropped_total{reason=\"too_large\"} " << s.dropped_too_large
      << "\nsrdx_telemetry_dropped_total{reason=\"bad_topic\"} " << s.dropped_bad_topic
      << "\nsrdx_telemetry_dropped_total{reason=\"topic_limit\"} " << s.dropped_topic_limit << "\n";
    gauge("srdx_telemetry_spool_bytes", "Bytes of the spool's segment files.",
          static_cast<double>(s.spool.bytes));
    gauge("srdx_telemetry_spool_records", "Records in the spool not yet acknowledged.",
          static_cast<double>(s.spool.pending));
    gauge("srdx_telemetry_spool_backlog", "Spooled records waiting to be sent.",
          static_cast<double>(s.spool.backlog));
    counter("srdx_telemetry_spool_full_stalls_total",
            "QoS 1 messages that waited for room in a full spool.", s.full_stalls);
    counter("srdx_telemetry_redeliveries_dropped_total",
            "QoS 1 messages the edge broker sent again (same packet id) after the edge had them.",
            s.redeliveries_dropped);
    o << "# HELP srdx_telemetry_alarms_total Alarms raised and cleared by the edge's rules.\n"
         "# TYPE srdx_telemetry_alarms_total counter\n"
      << "srdx_telemetry_alarms_total{state=\"raised\"} " << s.alarms_raised
      << "\nsrdx_telemetry_alarms_total{state=\"cleared\"} " << s.alarms_cleared << "\n";
    return o.str();
  }
  const telemetry::CentralStatus s = central_->status();
  gauge("srdx_telemetry_broker_connected", "The bridge is connected to its MQTT broker.",
        s.broker_connected ? 1 : 0);
  counter("srdx_telemetry_messages_out_total", "Messages published to the central broker.",
          s.published);
  counter("srdx_telemetry_duplicates_dropped_total", "Records dropped as duplicates.",
          s.seq.duplicates);
  counter("srdx_telemetry_gaps_total", "Messages that never arrived (per-topic sequence gaps).",
          s.seq.gap_messages);
  counter("srdx_telemetry_gap_events_total", "Gaps (ranges of missing messages) reported.",
          s.seq.gap_events);
  counter("srdx_telemetry_publish_errors_total", "Publishes the central broker refused.",
          s.publish_errors);
  counter("srdx_telemetry_malformed_total", "Telemetry messages that did not decode.", s.malformed);
  counter("srdx_telemetry_alarms_received_total", "Alarms received from edges and published.",
          s.alarms);
  auto hist = [&](const char* kind, const telemetry::LatencyHistogram& h) {
    uint64_t cum = 0;
    for (size_t i = 0; i < telemetry::LatencyHistogram::kBuckets - 1; ++i) {
      cum += h.counts[i];
      o << "srdx_telemetry_latency_seconds_bucket{kind=\"" << kind << "\",le=\""
        << num(telemetry::LatencyHistogram::bound(i)) << "\"} " << cum << "\n";
    }
    o << "srdx_telemetry_latency_seconds_bucket{kind=\"" << kind << "\",le=\"+Inf\"} " << h.total
      << "\nsrdx_telemetry_latency_seconds_sum{kind=\"" << kind << "\"} " << num(h.sum_s)
      << "\nsrdx_telemetry_latency_seconds_count{kind=\"" << kind << "\"} " << h.total << "\n";
  };
  o << "# HELP srdx_telemetry_latency_seconds Edge receipt to central publish, per record "
       "(wall clocks of both appliances).\n# TYPE srdx_telemetry_latency_seconds histogram\n";
  hist("data", s.latency);
  hist("alarm", s.alarm_latency);
  o << "# HELP srdx_telemetry_latest_value Latest sample per turbine and sensor (topics "
       ".../TURBINE/SENSOR; at most 300 series).\n# TYPE srdx_telemetry_latest_value gauge\n";
  size_t n = 0;
  for (const auto& [topic, v] : s.latest) {
    std::string id, sensor;
    if (!turbine_of(topic, id, sensor)) continue;
    const auto val = telemetry::parse_sample(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(v.payload.data()), v.payload.size()));
    if (!val) continue;
    if (++n > kMaxTurbineSeries) break;
    o << "srdx_telemetry_latest_value{turbine=\"" << id << "\",sensor=\"" << sensor << "\"} "
      << num(*val) << "\n";
  }
  o << "# HELP srdx_telemetry_turbine_alarm 1 while an alarm is raised on the turbine's "
       "sensor, 0 once cleared (at most 300 series).\n# TYPE srdx_telemetry_turbine_alarm gauge\n";
  n = 0;
  for (const auto& [topic, raised] : s.alarm_state) {
    std::string id, sensor;
    if (!turbine_of(topic, id, sensor)) continue;
    if (++n > kMaxTurbineSeries) break;
    o << "srdx_telemetry_turbine_alarm{turbine=\"" << id << "\",sensor=\"" << sensor << "\"} "
      << (raised ? 1 : 0) << "\n";
  }
  return o.str();
}

}  // namespace srdx::ctl
