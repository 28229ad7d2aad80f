// EndpointConfig::validate: the defaults are usable, and every invalid field
// is refused with one line that names it. Endpoint's constructor throws that
// line.
#include "srdx/config.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "srdx/endpoint.h"

namespace srdx {
namespace {

using namespace srdx::literals;

TEST(Config, DefaultsValidateClean) {
  EndpointConfig cfg;
  EXPECT_EQ(cfg.validate(), "");
}

TEST(Config, MaxPayloadIsMtuMinusIpUdpAndDataHeaders) {
  EndpointConfig cfg;
  cfg.encryption = false;
  EXPECT_EQ(cfg.max_payload(), 1500u - 28 - 72);
  cfg.mtu = 9000;
  EXPECT_EQ(cfg.max_payload(), 9000u - 28 - 72);
}

TEST(Config, EncryptionTakesTheSealedHeaderAndTagToo) {
  EndpointConfig cfg;
  EXPECT_TRUE(cfg.encryption);  // the default
  EXPECT_EQ(cfg.max_payload(), 1500u - 28 - 72 - 24 - 16);
  cfg.mtu = 9000;
  EXPECT_EQ(cfg.max_payload(), 9000u - 28 - 72 - 24 - 16);
}

struct Bad {
  const char* field;  // the message must start with this
  std::function<void(EndpointConfig&)> set;
};

TEST(Config, EachInvalidFieldIsNamedInOneLine) {
  const Bad cases[] = {
      {"mtu", [](EndpointConfig& c) { c.mtu = 575; }},
      {"mtu", [](EndpointConfig& c) { c.mtu = 9217; }},
      {"max_message_size", [](EndpointConfig& c) { c.max_message_size = (1ull << 30) + 1; }},
      {"message_timeout", [](EndpointConfig& c) { c.message_timeout = Duration::zero(); }},
      {"max_outstanding_msgs", [](EndpointConfig& c) { c.max_outstanding_msgs = 0; }},
      {"max_outstanding_msgs", [](EndpointConfig& c) { c.max_outstanding_msgs = 1000; }},
      {"max_outstanding_msgs", [](EndpointConfig& c) { c.max_outstanding_msgs = 1u << 21; }},
      {"recv_msg_window", [](EndpointConfig& c) { c.recv_msg_window = 3; }},
      {"recv_buffer_bytes", [](EndpointConfig& c) { c.recv_buffer_bytes = 65535; }},
      {"recv_buffer_bytes",
       [](EndpointConfig& c) {
         c.max_message_size = 1 << 20;
         c.recv_buffer_bytes = 1 << 19;
       }},
      {"recv_buffer_bytes", [](EndpointConfig& c) { c.recv_buffer_bytes = 1ull << 43; }},
      {"recv_memory_bytes", [](EndpointConfig& c) { c.recv_memory_bytes = 1 << 20; }},
      {"max_peers", [](EndpointConfig& c) { c.max_peers = 0; }},
      {"max_peers", [](EndpointConfig& c) { c.max_peers = (1u << 20) + 1; }},
      {"idle_timeout", [](EndpointConfig& c) { c.idle_timeout = 200_ms; }},  // == peer_timeout
      {"paths_per_peer", [](EndpointConfig& c) { c.paths_per_peer = 0; }},
      {"paths_per_peer", [](EndpointConfig& c) { c.paths_per_peer = 257; }},
      {"reorder_threshold", [](EndpointConfig& c) { c.reorder_threshold = 0; }},
      {"rto_min", [](EndpointConfig& c) { c.rto_min = Duration::zero(); }},
      {"rto_min", [](EndpointConfig& c) { c.rto_min = 2_ms; }},       // above rto_initial
      {"rto_min", [](EndpointConfig& c) { c.rto_initial = 30_ms; }},  // above rto_max
      {"max_inflight_packets", [](EndpointConfig& c) { c.max_inflight_packets = 8; }},
      {"max_inflight_packets", [](EndpointConfig& c) { c.max_inflight_packets = 100; }},
      {"ack_delay", [](EndpointConfig& c) { c.ack_delay = 50_us; }},  // == rto_min
      {"ack_delay", [](EndpointConfig& c) { c.ack_delay = Duration::nanos(-1); }},
      {"ack_every", [](EndpointConfig& c) { c.ack_every = 0; }},
      {"ack_every", [](EndpointConfig& c) { c.ack_every = 65; }},
      {"handshake_interval", [](EndpointConfig& c) { c.handshake_interval = 200_ms; }},
      {"handshake_interval", [](EndpointConfig& c) { c.handshake_interval = Duration::zero(); }},
      {"cc_target_delay", [](EndpointConfig& c) { c.cc_target_delay = Duration::zero(); }},
      {"cc_initial_window", [](EndpointConfig& c) { c.cc_initial_window = c.max_payload() - 1; }},
      {"cc_initial_window", [](EndpointConfig& c) { c.cc_initial_window = (64ull << 20) + 1; }},
      {"cc_additive_increase", [](EndpointConfig& c) { c.cc_additive_increase = 0; }},
      {"cc_additive_increase", [](EndpointConfig& c) { c.cc_additive_increase = 101; }},
      {"cc_beta", [](EndpointConfig& c) { c.cc_beta = 0; }},
      {"cc_max_decrease", [](EndpointConfig& c) { c.cc_max_decrease = 1.0; }},
      {"cc_max_decrease", [](EndpointConfig& c) { c.cc_max_decrease = 0.0; }},
      {"cc_loss_beta", [](EndpointConfig& c) { c.cc_loss_beta = -0.1; }},
      {"cc_loss_beta", [](EndpointConfig& c) { c.cc_loss_beta = 11; }},
      {"cc_flow_scale_range",
       [](EndpointConfig& c) { c.cc_flow_scale_range = Duration::nanos(-1); }},
      {"cc_flow_scale_range", [](EndpointConfig& c) { c.cc_flow_scale_range = 2_s; }},
  };
  for (const Bad& b : cases) {
    EndpointConfig cfg;
    b.set(cfg);
    const std::string msg = cfg.validate();
    SCOPED_TRACE(b.field);
    ASSERT_FALSE(msg.empty());
    EXPECT_EQ(msg.rfind(b.field, 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Config, MessageSaysWhatIsAccepted) {
  EndpointConfig cfg;
  cfg.mtu = 100;
  EXPECT_EQ(cfg.validate(), "mtu: 100 is out of range; accepted 576..9216");
}

TEST(Config, EdgeValuesAreAccepted) {
  EndpointConfig cfg;
  cfg.mtu = 576;
  cfg.cc_initial_window = cfg.max_payload();
  cfg.paths_per_peer = 1;
  cfg.max_outstanding_msgs = 1;
  cfg.recv_msg_window = 1;
  cfg.max_inflight_packets = 16;
  cfg.ack_every = 64;
  cfg.rto_min = cfg.rto_initial = cfg.rto_max = 1_ms;
  cfg.ack_delay = Duration::zero();
  EXPECT_EQ(cfg.validate(), "");
}

TEST(Config, EndpointRefusesAnInvalidConfigWithTheSameMessage) {
  EndpointConfig cfg;
  cfg.ack_every = 0;
  try {
    Endpoint ep(cfg);
    FAIL() << "constructor accepted ack_every = 0";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), cfg.validate());
  }
}

}  // namespace
}  // namespace srdx
