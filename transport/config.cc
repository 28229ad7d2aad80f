#include "srdx/config.h"

#include <sstream>

#include "wire.h"

namespace srdx {

uint32_t EndpointConfig::max_payload() const {
  return mtu - tuning::kIpUdpOverhead - static_cast<uint32_t>(wire::kDataOverhead) -
         (encryption ? tuning::kSealOverhead : 0);
}

namespace {
bool pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
}  // namespace

std::string EndpointConfig::validate() const {
  std::ostringstream e;
  auto us = [](Duration d) { return std::to_string(d.ns() / 1000) + "us"; };
  if (mtu < tuning::kMinMtu || mtu > tuning::kMaxMtu) {
    e << "mtu: " << mtu << " is out of range; accepted " << tuning::kMinMtu << ".."
      << tuning::kMaxMtu;
  } else if (max_message_size > tuning::kMaxMaxMessage) {
    e << "max_message_size: " << max_message_size << " is too large; accepted 0.."
      << tuning::kMaxMaxMessage;
  } else if (message_timeout <= Duration::zero()) {
    e << "message_timeout: must be positive";
  } else if (!pow2(max_outstanding_msgs) || max_outstanding_msgs > (1u << 20)) {
    e << "max_outstanding_msgs: " << max_outstanding_msgs
      << " must be a power of two between 1 and 1048576";
  } else if (!pow2(recv_msg_window) || recv_msg_window > (1u << 20)) {
    e << "recv_msg_window: " << recv_msg_window << " must be a power of two between 1 and 1048576";
  } else if (recv_buffer_bytes < max_message_size || recv_buffer_bytes < 64 * 1024) {
    e << "recv_buffer_bytes: " << recv_buffer_bytes
      << " must hold at least one largest message (max_message_size) and at least 65536";
  } else if (recv_buffer_bytes > (uint64_t{1} << 42)) {
    e << "recv_buffer_bytes: " << recv_buffer_bytes << " is too large; at most 4 TiB";
  } else if (recv_memory_bytes < recv_buffer_bytes) {
    e << "recv_memory_bytes: " << recv_memory_bytes << " must be at least recv_buffer_bytes ("
      << recv_buffer_bytes << ")";
  } else if (max_peers < 1 || max_peers > tuning::kMaxMaxPeers) {
    e << "max_peers: " << max_peers << " is out of range; accepted 1.." << tuning::kMaxMaxPeers;
  } else if (idle_timeout <= peer_timeout) {
    e << "idle_timeout: " << us(idle_timeout) << " must be longer than peer_timeout ("
      << us(peer_timeout) << ")";
  } else if (paths_per_peer < 1 || paths_per_peer > tuning::kMaxPathsPerPeer) {
    e << "paths_per_peer: " << paths_per_peer << " is out of range; accepted 1.."
      << tuning::kMaxPathsPerPeer;
  } else if (reorder_threshold < 1 || reorder_threshold > 1000) {
    e << "reorder_threshold: " << reorder_threshold << " is out of range; accepted 1..1000";
  } else if (rto_min <= Duration::zero() || rto_min > rto_initial || rto_initial > rto_max) {
    e << "rto_min/rto_initial/rto_max: need 0 < rto_min <= rto_initial <= rto_max (got "
      << us(rto_min) << ", " << us(rto_initial) << ", " << us(rto_max) << ")";
  } else if (!pow2(max_inflight_packets) || max_inflight_packets < 16 ||
             max_inflight_packets > tuning::kMaxInflightPackets) {
    e << "max_inflight_packets: " << max_inflight_packets
      << " must be a power of two between 16 and " << tuning::kMaxInflightPackets;
  } else if (ack_delay < Duration::zero() || ack_delay >= rto_min) {
    e << "ack_delay: " << us(ack_delay) << " must be >= 0 and below rto_min (" << us(rto_min)
      << ")";
  } else if (ack_every < 1 || ack_every > 64) {
    e << "ack_every: " << ack_every << " is out of range; accepted 1..64";
  } else if (handshake_interval <= Duration::zero() || handshake_interval >= peer_timeout) {
    e << "handshake_interval: must be positive and below peer_timeout";
  } else if (cc_target_delay <= Duration::zero()) {
    e << "cc_target_delay: must be positive";
  } else if (cc_initial_window < max_payload() || cc_initial_window > cc_max_window) {
    e << "cc_initial_window: " << cc_initial_window << " must be between one packet ("
      << max_payload() << ") and cc_max_window (" << cc_max_window << ")";
  } else if (!(cc_additive_increase > 0.0 && cc_additive_increase <= 100.0)) {
    e << "cc_additive_increase: accepted (0, 100] packets per RTT";
  } else if (!(cc_beta > 0.0 && cc_beta <= 10.0)) {
    e << "cc_beta: accepted (0, 10]";
  } else if (!(cc_max_decrease > 0.0 && cc_max_decrease < 1.0)) {
    e << "cc_max_decrease: accepted (0, 1)";
  } else if (!(cc_loss_beta >= 0.0 && cc_loss_beta <= 10.0)) {
    e << "cc_loss_beta: accepted [0, 10] (0: loss does not shrink the window)";
  } else if (cc_flow_scale_range < Duration::zero() || cc_flow_scale_range > Duration::seconds(1)) {
    e << "cc_flow_scale_range: accepted 0 (off) to 1 s";
  }
  return e.str();
}

}  // namespace srdx
