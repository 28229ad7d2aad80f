// srdx-mqtt-bench: the fast MQTT publisher and subscriber of
// bench/telemetry-fabric (issue 15's figures), on libmosquitto's C API.
//
//   srdx-mqtt-bench pub --broker H:P [--topic T] [--rate N] [--size S] [--qos Q]
//                       [--duration SECS] [--alarm-topic T --alarm-rate N]
//                       [--window N] [--report FILE]
//   srdx-mqtt-bench sub --broker H:P [--topic F]... [--qos Q] --pub-report FILE
//                       [--drain SECS] [--samples FILE]
//
// Data payloads are text, "SEQ SEND_NS" padded to S bytes (SEND_NS:
// CLOCK_REALTIME; publisher and subscriber run on one machine). Alarm samples
// (for the edge's rule "ALARM-TOPIC > 80 for 1 samples") alternate between a
// raising value 1000+K and a clearing value -K; the publisher writes each K's
// send time to REPORT.alarms, the subscriber reads the alarm's "value" back
// from srdxd's alarm JSON and joins the two at the end.
//
// --rate 0: as fast as possible, at most --window (default 2000) QoS 1
// messages unacknowledged.
// pub ends after --duration, waits (up to 30 s) for its QoS 1 acknowledgements,
// then writes REPORT (JSON: sent, acked, seconds, rate). sub runs until REPORT
// exists and then until every sent message arrived or --drain seconds passed,
// and prints one JSON object: delivered, missing, duplicates, latency
// percentiles, longest gap between deliveries, throughput, alarm latency.
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "srdx-mqtt-bench: %s\n", why.c_str());
  std::exit(2);
}

struct Options {
  std::string mode, host = "127.0.0.1", topic = "bench/data", alarm_topic, report, samples;
  std::vector<std::string> filters;
  int port = 1883, qos = 1, size = 64;
  uint64_t window = 2000;
  double rate = 1000, duration = 10, alarm_rate = 0, drain = 15;
};

double number(const char* opt, const char* v, double lo, double hi) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (!end || *end || !(d >= lo && d <= hi))
    die(std::string(opt) + " " + v + ": expected a number from " + std::to_string(lo) + " to " +
        std::to_string(hi));
  return d;
}

Options parse(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "pub") != 0 && std::strcmp(argv[1], "sub") != 0))
    die("usage: srdx-mqtt-bench pub|sub --broker HOST:PORT ... (see the source's header)");
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value");
    const char* v = argv[++i];
    if (a == "--broker") {
      const std::string s = v;
      const auto c = s.rfind(':');
      if (c == std::string::npos) die("--broker " + s + ": expected HOST:PORT");
      o.host = s.substr(0, c);
      o.port = static_cast<int>(number("--broker port", s.substr(c + 1).c_str(), 1, 65535));
    } else if (a == "--topic") {
      o.topic = v;
      o.filters.push_back(v);
    } else if (a == "--alarm-topic") {
      o.alarm_topic = v;
    } else if (a == "--rate") {
      o.rate = number("--rate", v, 0, 1e7);
    } else if (a == "--alarm-rate") {
      o.alarm_rate = number("--alarm-rate", v, 0, 1e4);
    } else if (a == "--size") {
      o.size = static_cast<int>(number("--size", v, 32, 1 << 20));
    } else if (a == "--qos") {
      o.qos = static_cast<int>(number("--qos", v, 0, 1));
    } else if (a == "--duration") {
      o.duration = number("--duration", v, 0.1, 86400);
    } else if (a == "--window") {
      o.window = static_cast<uint64_t>(number("--window", v, 1, 1e6));
    } else if (a == "--drain") {
      o.drain = number("--drain", v, 0, 3600);
    } else if (a == "--report" || a == "--pub-report") {
      o.report = v;
    } else if (a == "--samples") {
      o.samples = v;
    } else {
      die("unknown option " + a);
    }
  }
  if (o.report.empty()) die("--report / --pub-report FILE is needed");
  return o;
}

mosquitto* connect(const Options& o, void* self) {
  mosquitto* m = mosquitto_new(nullptr, true, self);
  if (!m) die("mosquitto_new failed");
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
  mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 65535);
  for (int i = 0;; ++i) {
    const int rc = mosquitto_connect(m, o.host.c_str(), o.port, 30);
    if (rc == MOSQ_ERR_SUCCESS) break;
    if (i == 50)
      die("broker " + o.host + ":" + std::to_string(o.port) + ": " + mosquitto_strerror(rc));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return m;
}

// ---- publisher -------------------------------------------------------------------
std::atomic<uint64_t> g_acked{0};

int run_pub(const Options& o) {
  mosquitto* m = connect(o, nullptr);
  mosquitto_publish_v5_callback_set(
      m, [](mosquitto*, void*, int, int, const mosquitto_property*) { g_acked.fetch_add(1); });
  if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) die("mosquitto_loop_start failed");
  std::vector<char> buf(static_cast<size_t>(o.size), '.');
  std::vector<std::pair<uint64_t, int64_t>> alarms;
  const int64_t start = now_ns();
  const int64_t end = start + static_cast<int64_t>(o.duration * 1e9);
  uint64_t seq = 0, alarm_k = 0, errors = 0;
  int64_t next_alarm = start + (o.alarm_rate > 0 ? static_cast<int64_t>(1e9 / o.alarm_rate) : 0);
  for (;;) {
    const int64_t t = now_ns();
    if (t >= end) break;
    // Messages due by now (rate 0: as fast as the client goes, in batches).
    const uint64_t due =
        o.rate > 0 ? static_cast<uint64_t>(static_cast<double>(t - start) * o.rate / 1e9) + 1
                   : seq + 64;
    while (seq < due) {
      // As fast as possible: at most --window QoS 1 messages unacknowledged
      // (libmosquitto would queue without a bound otherwise).
      if (o.rate <= 0 && o.qos && seq - g_acked.load() >= o.window) break;
      ++seq;
      const int64_t ts = now_ns();
      const int n = std::snprintf(buf.data(), buf.size(), "%" PRIu64 " %" PRId64 " ", seq, ts);
      if (n < static_cast<int>(buf.size())) buf[static_cast<size_t>(n)] = '.';
      const int rc =
          mosquitto_publish(m, nullptr, o.topic.c_str(), o.size, buf.data(), o.qos, false);
      if (rc != MOSQ_ERR_SUCCESS) ++errors;
    }
    if (o.alarm_rate > 0 && !o.alarm_topic.empty() && t >= next_alarm) {
      ++alarm_k;
      const std::string v =
          (alarm_k % 2) ? std::to_string(1000 + alarm_k) : "-" + std::to_string(alarm_k);
      alarms.emplace_back(alarm_k, now_ns());
      mosquitto_publish(m, nullptr, o.alarm_topic.c_str(), static_cast<int>(v.size()), v.data(), 1,
                        false);
      next_alarm += static_cast<int64_t>(1e9 / o.alarm_rate);
    }
    if (o.rate <= 0 && o.qos && seq - g_acked.load() >= o.window)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (o.rate > 0) {
      const int64_t nxt = start + static_cast<int64_t>(static_cast<double>(seq) * 1e9 / o.rate);
      const int64_t wait = std::min<int64_t>(nxt - now_ns(), 1000000);
      if (wait > 20000) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
  }
  const double secs = static_cast<double>(now_ns() - start) / 1e9;
  const uint64_t want = o.qos ? seq - errors + alarms.size() : 0;
  for (int i = 0; i < 3000 && o.qos && g_acked.load() < want; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  {
    std::ofstream a(o.report + ".alarms");
    for (auto& [k, ts] : alarms) a << k << ' ' << ts << '\n';
  }
  const std::string tmp = o.report + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) die("cannot write " + tmp);
  std::fprintf(f,
               "{\"sent\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"acked\":%" PRIu64
               ",\"alarm_samples\":%zu,\"seconds\":%.3f,\"rate\":%.1f,\"end_ns\":%" PRId64 "}\n",
               seq, errors, g_acked.load(), alarms.size(), secs, static_cast<double>(seq) / secs,
               now_ns());
  std::fclose(f);
  std::rename(tmp.c_str(), o.report.c_str());
  return errors ? 1 : 0;
}

// ---- subscriber -------------------------------------------------------------------
struct Sub {
  std::mutex mu;
  std::vector<uint8_t> seen;  // by sequence number
  std::vector<int64_t> lat_ns;
  std::vector<std::pair<uint64_t, int64_t>> alarm_recv;  // K, receive time
  uint64_t delivered = 0, duplicates = 0, malformed = 0, max_seq = 0;
  int64_t first = 0, last = 0, longest_gap = 0, longest_gap_at = 0;
  std::string alarm_prefix;
};

void on_message(mosquitto*, void* self, const mosquitto_message* msg) {
  const int64_t t = now_ns();
  Sub& s = *static_cast<Sub*>(self);
  std::lock_guard l(s.mu);
  const char* p = static_cast<const char*>(msg->payload);
  const std::string_view topic = msg->topic;
  if (!s.alarm_prefix.empty() && topic.starts_with(s.alarm_prefix)) {
    // srdxd's alarm JSON: ..."value":V,...
    const std::string body(p, static_cast<size_t>(msg->payloadlen));
    const auto at = body.find("\"value\":");
    if (at == std::string::npos) return;
    const double v = std::atof(body.c_str() + at + 8);
    const uint64_t k = static_cast<uint64_t>(v > 0 ? v - 1000 : -v);
    s.alarm_recv.emplace_back(k, t);
    return;
  }
  uint64_t seq = 0;
  int64_t ts = 0;
  std::string head(p, static_cast<size_t>(std::min(msg->payloadlen, 48)));
  if (std::sscanf(head.c_str(), "%" SCNu64 " %" SCNd64, &seq, &ts) != 2 || seq == 0 ||
      seq > (1u << 30)) {
    ++s.malformed;
    return;
  }
  if (seq >= s.seen.size()) s.seen.resize(std::max<size_t>(seq + 1, s.seen.size() * 2), 0);
  if (s.seen[seq]) {
    ++s.duplicates;
    return;
  }
  s.seen[seq] = 1;
  ++s.delivered;
  s.max_seq = std::max(s.max_seq, seq);
  s.lat_ns.push_back(t - ts);
  if (s.first == 0) s.first = t;
  if (s.last && t - s.last > s.longest_gap) {
    s.longest_gap = t - s.last;
    s.longest_gap_at = t;
  }
  s.last = t;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

uint64_t json_u64(const std::string& j, const char* key) {
  const auto at = j.find(std::string("\"") + key + "\":");
  return at == std::string::npos
             ? 0
             : std::strtoull(j.c_str() + at + std::strlen(key) + 3, nullptr, 10);
}

double pct(std::vector<int64_t>& v, double q) {
  if (v.empty()) return -1;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1e6;
}

int run_sub(const Options& o) {
  Sub s;
  s.alarm_prefix = o.alarm_topic;
  mosquitto* m = connect(o, &s);
  mosquitto_message_callback_set(m, on_message);
  std::vector<std::string> filters =
      o.filters.empty() ? std::vector<std::string>{"bench/#"} : o.filters;
  if (!o.alarm_topic.empty()) filters.push_back(o.alarm_topic + "/#");
  for (const auto& f : filters)
    if (mosquitto_subscribe(m, nullptr, f.c_str(), o.qos) != MOSQ_ERR_SUCCESS)
      die("subscribe " + f);
  if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) die("mosquitto_loop_start failed");
  std::fprintf(stderr, "srdx-mqtt-bench sub: subscribed\n");
  // Wait for the publisher's report, then for the rest (or --drain).
  std::string rep;
  while ((rep = read_file(o.report)).empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t sent = json_u64(rep, "sent");
  const int64_t pub_end = static_cast<int64_t>(json_u64(rep, "end_ns"));
  uint64_t at_end;
  {
    std::lock_guard l(s.mu);
    at_end = s.delivered;
  }
  const int64_t deadline = now_ns() + static_cast<int64_t>(o.drain * 1e9);
  for (;;) {
    {
      std::lock_guard l(s.mu);
      if (s.delivered >= sent || now_ns() >= deadline) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);

  std::lock_guard l(s.mu);
  if (!o.samples.empty()) {
    FILE* f = std::fopen(o.samples.c_str(), "w");
    if (f) {
      for (int64_t v : s.lat_ns) std::fprintf(f, "%.4f\n", static_cast<double>(v) / 1e6);
      std::fclose(f);
    }
  }
  std::vector<int64_t> lat = s.lat_ns;
  std::sort(lat.begin(), lat.end());
  // Alarms: sample send time (publisher's file) -> alarm at the centre.
  std::map<uint64_t, int64_t> sent_at;
  {
    std::ifstream a(o.report + ".alarms");
    uint64_t k;
    int64_t ts;
    while (a >> k >> ts) sent_at[k] = ts;
  }
  std::vector<int64_t> alat;
  for (auto& [k, t] : s.alarm_recv)
    if (auto it = sent_at.find(k); it != sent_at.end()) alat.push_back(t - it->second);
  std::sort(alat.begin(), alat.end());
  const double span = s.last > s.first ? static_cast<double>(s.last - s.first) / 1e9 : 0;
  std::printf(
      "{\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"missing\":%" PRIu64
      ",\"missing_at_pub_end\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"malformed\":%" PRIu64
      ",\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
      "\"longest_gap_ms\":%.3f,\"longest_gap_at_s\":%.3f,\"throughput\":%.1f,\"drained_after_pub_"
      "s\":%.3f,"
      "\"alarms\":{\"sent\":%zu,\"received\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}}"
      "\n",
      sent, s.delivered, sent > s.delivered ? sent - s.delivered : 0,
      sent > at_end ? sent - at_end : 0, s.duplicates, s.malformed, pct(lat, 0.5), pct(lat, 0.99),
      pct(lat, 0.999), pct(lat, 1.0), static_cast<double>(s.longest_gap) / 1e6,
      s.first ? static_cast<double>(s.longest_gap_at - s.first) / 1e9 : 0.0,
      span > 0 ? static_cast<double>(s.delivered) / span : 0.0,
      s.last > pub_end ? static_cast<double>(s.last - pub_end) / 1e9 : 0.0, sent_at.size(),
      alat.size(), pct(alat, 0.5), pct(alat, 0.99), pct(alat, 1.0));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mosquitto_lib_init();
  const Options o = parse(argc, argv);
  const int rc = o.mode == "pub" ? run_pub(o) : run_sub(o);
  mosquitto_lib_cleanup();
  return rc;
}
