#include "telemetry/mqtt.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/socket.h>

#include <mutex>

namespace srdx::telemetry {

namespace {
std::once_flag lib_once;
}

MqttClient::MqttClient(MqttOptions opt, Handlers h) : opt_(std::move(opt)), h_(std::move(h)) {
  std::call_once(lib_once, [] { mosquitto_lib_init(); });
  const bool clean = opt_.client_id.empty() || opt_.clean_session;
  mosq_ = mosquitto_new(opt_.client_id.empty() ? nullptr : opt_.client_id.c_str(), clean, this);
  if (!mosq_) return;
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       opt_.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  if (opt_.protocol == 5) {
    // QoS 1 messages the broker may have in flight to us (MQTT 5 Receive
    // Maximum; the default 20 caps a subscriber at 20 per round trip). The
    // send side stays at libmosquitto's default: raised past what the broker
    // accepts, it made the broker drop the connection and the client resend
    // (duplicates).
    mosquitto_int_option(mosq_, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
  }
  mosquitto_connect_with_flags_callback_set(mosq_, &MqttClient::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect);
  mosquitto_message_callback_set(mosq_, &MqttClient::on_message);
  mosquitto_publish_callback_set(mosq_, &MqttClient::on_publish);
  mosquitto_reconnect_delay_set(mosq_, 1, 5, false);
}

MqttClient::~MqttClient() {
  stop();
  if (mosq_) mosquitto_destroy(mosq_);
}

Status MqttClient::start() {
  if (!mosq_) return Status::fail(Errc::io, "MQTT: cannot create a libmosquitto client");
  mosquitto_property* props = nullptr;
  if (opt_.protocol == 5 && !opt_.clean_session && !opt_.client_id.empty()) {
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, opt_.session_expiry_s);
  }
  const int rc = mosquitto_connect_bind_v5(mosq_, opt_.host.c_str(), opt_.port, opt_.keepalive_s,
                                           nullptr, props);
  mosquitto_property_free_all(&props);
  if (rc == MOSQ_ERR_INVAL) {
    return Status::fail(Errc::invalid, "MQTT broker " + name() + ": invalid host or port");
  }
  const int lrc = mosquitto_loop_start(mosq_);
  if (lrc != MOSQ_ERR_SUCCESS) {
    return Status::fail(
        Errc::io, "MQTT: cannot start the network thread: " + std::string(mosquitto_strerror(lrc)));
  }
  started_ = true;
  if (rc != MOSQ_ERR_SUCCESS) {
    return Status::fail(Errc::io,
                        "MQTT broker " + name() + " not reachable (" +
                            std::string(rc == MOSQ_ERR_ERRNO ? "connection refused or unreachable"
                                                             : mosquitto_strerror(rc)) +
                            "); retrying every few seconds");
  }
  return {};
}

void MqttClient::stop() {
  if (!started_) return;
  started_ = false;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  connected_ = false;
}

void MqttClient::abort_connection() {
  const int fd = mosquitto_socket(mosq_);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

Result<int> MqttClient::publish(const std::string& topic, std::span<const uint8_t> payload, int qos,
                                bool retain) {
  int mid = 0;
  const int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) {
    return Result<int>::fail(rc == MOSQ_ERR_NO_CONN ? Errc::io : Errc::invalid,
                             "MQTT publish to " + name() + ": " + mosquitto_strerror(rc));
  }
  return {mid, {}};
}

void MqttClient::on_connect(mosquitto* m, void* self_v, int rc, int flags) {
  auto* self = static_cast<MqttClient*>(self_v);
  if (rc != 0) {
    if (self->h_.connection) {
      self->h_.connection(false, "MQTT broker " + self->name() +
                                     " refused the connection: " + mosquitto_connack_string(rc));
    }
    return;
  }
  self->connected_ = true;
  if (self->h_.session) self->h_.session((flags & 1) != 0);
  for (const std::string& f : self->opt_.filters) {
    const int options = self->opt_.protocol == 5 ? MQTT_SUB_OPT_RETAIN_AS_PUBLISHED : 0;
    mosquitto_subscribe_v5(m, nullptr, f.c_str(), self->opt_.sub_qos, options, nullptr);
  }
  if (self->h_.connection) self->h_.connection(true, "");
}

void MqttClient::on_disconnect(mosquitto*, void* self_v, int rc) {
  auto* self = static_cast<MqttClient*>(self_v);
  self->connected_ = false;
  if (self->h_.connection && rc != 0) {
    self->h_.connection(false, "MQTT broker " + self->name() + " lost: " + mosquitto_strerror(rc));
  }
}

void MqttClient::on_message(mosquitto*, void* self_v, const mosquitto_message* m) {
  auto* self = static_cast<MqttClient*>(self_v);
  if (!self->h_.message || !m->topic) return;
  MqttMessage msg;
  msg.topic = m->topic;
  msg.payload = std::span<const uint8_t>(static_cast<const uint8_t*>(m->payload),
                                         static_cast<size_t>(m->payloadlen));
  msg.qos = m->qos;
  msg.retain = m->retain;
  msg.mid = m->qos > 0 ? m->mid : 0;
  self->h_.message(msg);
}

void MqttClient::on_publish(mosquitto*, void* self_v, int mid) {
  auto* self = static_cast<MqttClient*>(self_v);
  if (self->h_.published) self->h_.published(mid);
}

}  // namespace srdx::telemetry
