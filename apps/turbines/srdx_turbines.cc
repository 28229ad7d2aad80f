// srdx-turbines: publishes a simulated wind farm's telemetry to an MQTT
// broker (issue 15), the demo's source of samples and alarms:
//   PREFIX/<n>/temperature  °F, PREFIX/<n>/vibration  m/s², PREFIX/<n>/rpm
// as decimal text, every 1/RATE s for each of N turbines (model.h).
//
//   srdx-turbines --broker 127.0.0.1:1883 --turbines 20 --rate 10 --duration 60
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "model.h"
#include "telemetry/mqtt.h"

namespace po = boost::program_options;
using namespace srdx;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  std::string broker, prefix, client_id;
  uint32_t turbines = 10, qos = 1, mqtt_version = 5;
  double rate = 1, duration = 0, overheat = 0.002;
  uint64_t seed = 1;
  po::options_description opts("srdx-turbines: a simulated wind farm publishing MQTT telemetry");
  opts.add_options()("help,h", "this help")(
      "broker", po::value(&broker)->default_value("127.0.0.1:1883"), "MQTT broker HOST:PORT")(
      "turbines,n", po::value(&turbines)->default_value(10), "turbines (1..100000)")(
      "rate,r", po::value(&rate)->default_value(1), "samples per second per sensor (0.01..100000)")(
      "duration,d", po::value(&duration)->default_value(0), "seconds to run; 0: until Ctrl-C")(
      "qos", po::value(&qos)->default_value(1), "0 or 1")(
      "mqtt-version", po::value(&mqtt_version)->default_value(5), "5 or 4 (3.1.1)")(
      "prefix", po::value(&prefix)->default_value("turbine"), "topic prefix")(
      "client-id", po::value(&client_id)->default_value(""), "MQTT client id (default random)")(
      "seed", po::value(&seed)->default_value(1), "random seed (same seed, same samples)")(
      "overheat-chance", po::value(&overheat)->default_value(0.002),
      "per turbine and sample, the chance an overheat (> 80 °F) starts");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "srdx-turbines: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts
              << "\nTopics: PREFIX/<n>/temperature (°F), PREFIX/<n>/vibration (m/s²), "
                 "PREFIX/<n>/rpm.\n";
    return 0;
  }
  auto bad = [](const std::string& m) {
    std::cerr << "srdx-turbines: " << m << "\n";
    return 2;
  };
  if (turbines < 1 || turbines > 100000) return bad("--turbines: 1..100000");
  if (!(rate >= 0.01 && rate <= 100000)) return bad("--rate: 0.01..100000");
  if (qos > 1) return bad("--qos: 0 or 1");
  if (mqtt_version != 4 && mqtt_version != 5) return bad("--mqtt-version: 5 or 4");
  if (!(duration >= 0)) return bad("--duration: seconds, 0 or more");
  const size_t colon = broker.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("--broker: HOST:PORT");
  telemetry::MqttOptions mo;
  mo.host = broker.substr(0, colon);
  try {
    mo.port = std::stoi(broker.substr(colon + 1));
  } catch (...) {
    return bad("--broker: HOST:PORT");
  }
  mo.protocol = static_cast<int>(mqtt_version);
  mo.client_id = client_id;
  mo.clean_session = true;
  std::atomic<uint64_t> acked{0};
  telemetry::MqttClient::Handlers handlers;
  handlers.published = [&acked](int) { acked.fetch_add(1, std::memory_order_relaxed); };
  telemetry::MqttClient mqtt(mo, std::move(handlers));
  if (telemetry::Status s = mqtt.start(); !s.ok()) {
    const std::string m = s.error.message;
    std::cerr << "srdx-turbines: " << m.substr(0, m.find("; retrying")) << "\n";
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  turbines::Farm farm({turbines, seed, overheat, 0.01});
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto start = std::chrono::steady_clock::now();
  auto next = start;
  uint64_t sent = 0, errors = 0, ticks = 0;
  char buf[32];
  std::string topic;
  while (!g_stop) {
    const auto now = std::chrono::steady_clock::now();
    if (duration > 0 && std::chrono::duration<double>(now - start).count() >= duration) break;
    const auto& samples = farm.step();
    for (uint32_t i = 0; i < turbines; ++i) {
      const double v[3] = {samples[i].temperature_f, samples[i].vibration, samples[i].rpm};
      static const char* const kSensor[3] = {"temperature", "vibration", "rpm"};
      for (int k = 0; k < 3; ++k) {
        topic = prefix + "/" + std::to_string(i + 1) + "/" + kSensor[k];
        const int n = std::snprintf(buf, sizeof buf, "%.2f", v[k]);
        if (mqtt.publish(topic, {reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)},
                         static_cast<int>(qos), false)
                .ok()) {
          ++sent;
        } else {
          ++errors;
        }
      }
    }
    ++ticks;
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    std::this_thread::sleep_until(next);
  }
  // Let the network thread send what is queued: QoS 1 until the broker has
  // acknowledged every message (at most 60 s), QoS 0 a moment.
  const auto flush_until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  if (qos == 1) {
    while (acked.load() < sent && std::chrono::steady_clock::now() < flush_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  mqtt.stop();
  if (qos == 1 && acked.load() < sent) {
    std::fprintf(stderr, "srdx-turbines: %llu messages not acknowledged by the broker\n",
                 static_cast<unsigned long long>(sent - acked.load()));
    errors += sent - acked.load();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "srdx-turbines: %llu messages in %.1f s (%.0f/s), %u turbines x 3 sensors, %llu "
      "publish errors\n",
      static_cast<unsigned long long>(sent), secs, secs > 0 ? sent / secs : 0, turbines,
      static_cast<unsigned long long>(errors));
  return errors > 0 ? 1 : 0;
}
