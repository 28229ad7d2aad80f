// A libmosquitto client for the telemetry bridge: connects (MQTT 3.1.1 or
// 5), keeps reconnecting on its own thread (mosquitto_loop_start), subscribes
// its filters again on every connect, publishes from any thread.
//
// Acknowledgement order (what makes QoS 1 safe across kill -9): the client
// runs in libmosquitto's threaded mode, where a QoS 1 PUBACK is only queued
// while a message is handled and written by the same network thread after
// on_message returns. So whatever on_message does before returning (the
// bridge appends the message to its spool) happens before the broker may
// forget the message; a crash before that and the broker delivers it again
// (persistent session: clean_session false / MQTT 5 session expiry).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "telemetry/result.h"

struct mosquitto;
struct mosquitto_message;

namespace srdx::telemetry {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id;  // empty: a random one (and a clean session)
  int protocol = 5;       // 4 (3.1.1) or 5
  bool clean_session = false;
  uint32_t session_expiry_s = 3600;  // MQTT 5, with clean_session false
  int keepalive_s = 30;
  // Subscriptions made on every connect.
  std::vector<std::string> filters;
  int sub_qos = 1;
};

struct MqttMessage {
  std::string_view topic;
  std::span<const uint8_t> payload;
  int qos = 0;
  bool retain = false;
  // The packet identifier (QoS 1; 0 for QoS 0). A broker that sends a QoS 1
  // message again within a session (after a reconnect, for one whose
  // PUBACK it did not get) uses the same one.
  int mid = 0;
};

class MqttClient {
 public:
  struct Handlers {
    // The network thread; see "Acknowledgement order".
    std::function<void(const MqttMessage&)> message;
    // A QoS 1 publish of ours was acknowledged by the broker (its mid).
    std::function<void(int mid)> published;
    // Connected (true) or lost (false, why).
    std::function<void(bool up, const std::string& why)> connection;
    // Connected, before the subscriptions: whether the broker kept a
    // session for this client id (CONNACK's session present flag).
    std::function<void(bool session_present)> session;
  };

  MqttClient(MqttOptions opt, Handlers h);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Connects and starts the network thread. A broker that does not answer
  // is an error (one line naming it) but the thread is started anyway and
  // keeps trying; ok() then means it connected at once.
  Status start();
  void stop();

  // Any thread. The message id (QoS 1: published() names it later).
  Result<int> publish(const std::string& topic, std::span<const uint8_t> payload, int qos,
                      bool retain);
  bool connected() const { return connected_.load(); }
  std::string name() const { return opt_.host + ":" + std::to_string(opt_.port); }
  // The network thread, from on_message: stops reading (the spool is full)
  // without acknowledging what it holds: the connection is shut down, so
  // the broker keeps the message for the next session.
  void abort_connection();

 private:
  static void on_connect(mosquitto*, void*, int rc, int flags);
  static void on_disconnect(mosquitto*, void*, int rc);
  static void on_message(mosquitto*, void*, const mosquitto_message* m);
  static void on_publish(mosquitto*, void*, int mid);

  MqttOptions opt_;
  Handlers h_;
  mosquitto* mosq_ = nullptr;
  bool started_ = false;
  std::atomic<bool> connected_{false};
};

}  // namespace srdx::telemetry
