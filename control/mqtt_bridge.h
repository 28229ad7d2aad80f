// srdxd's MQTT telemetry service (issue 15): the [telemetry] section made
// into a telemetry::Edge or telemetry::Central (workloads/telemetry/
// bridge.h) on the daemon's carrier, its status for GET /v1/telemetry and
// srdxctl telemetry status, and its Prometheus metrics.
//
// (control/telemetry.h is DPDK's telemetry socket, unrelated.)
//
// Threads: created and started by the main thread before the carrier
// thread runs; on_event/tick on the carrier thread; status_json and
// prometheus from the API threads; stop() after the carrier thread ended.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config.h"
#include "srdx/carrier.h"
#include "telemetry/bridge.h"

namespace srdx::ctl {

class MqttBridgeService {
 public:
  // Null with `error` set when it cannot start (the spool, a bad option);
  // a broker that is down is not an error (logged; the bridge retries).
  static std::unique_ptr<MqttBridgeService> create(const TelemetryConfig& cfg,
                                                   carrier::Carrier& carrier, PeerId central,
                                                   std::string& error);
  ~MqttBridgeService();

  bool on_event(const Event& ev, Time now);
  void tick(Time now);
  void stop();
  // Carrier thread (or before it runs): names a peer in gap reports.
  void name_peer(PeerId id, const std::string& name);

  nlohmann::json status_json() const;
  std::string prometheus() const;
  const std::string& role() const { return cfg_.role; }

 private:
  explicit MqttBridgeService(TelemetryConfig cfg) : cfg_(std::move(cfg)) {}
  TelemetryConfig cfg_;
  std::unique_ptr<telemetry::Edge> edge_;
  std::unique_ptr<telemetry::Central> central_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace srdx::ctl
