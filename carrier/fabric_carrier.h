// libfabric as a carrier: an FI_EP_RDM endpoint of a provider chosen by name
// (efa on AWS, the hardware SRD; udp;ofi_rxd, tcp;ofi_rxm, shm elsewhere).
//
// The provider delivers each provider message reliably; this carrier adds
// what the engine's API promises beyond that (docs/carrier.md):
//   - message ids, and segmentation of messages larger than a segment (the
//     configured segment size, at most the provider's max_msg_size) with
//     reassembly at the receiver (fabric_wire.h);
//   - completion when the receiving carrier has handed the whole message up
//     (its ack), not when the provider is done with the send buffer;
//   - failure on a deadline: a message not acknowledged by its timeout fails
//     (send_failed, reason timeout), so a peer that is gone is noticed;
//   - order per flow on request (ordered messages of one flow are handed up
//     in send order), out of order otherwise;
//   - peers learnt from their hello: a receiver needs no add_peer() for a
//     sender (as the engine with accept_unknown_peers). There is no
//     authentication or encryption on this carrier.
// Buffers are registered (fi_mr_reg) when the provider's mr_mode asks for it
// (FI_MR_LOCAL; FI_MR_ENDPOINT binds them to the endpoint), or always with
// always_register. Completions come from one CQ (FI_CQ_FORMAT_DATA); when
// the provider gives a descriptor for it (FI_WAIT_FD on the CQ, or through a
// wait set), run() sleeps on it after fi_trywait, otherwise it naps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "srdx/carrier.h"

namespace srdx::carrier {

struct FabricConfig {
  // fi_getinfo's provider name: "udp;ofi_rxd", "tcp;ofi_rxm", "shm", "efa".
  std::string provider = "udp;ofi_rxd";
  // Where to open the endpoint (fi_getinfo node/service with FI_SOURCE):
  // udp and tcp take an IP ("127.0.0.1") and a port; empty: the provider
  // picks (its first fabric, any port). For shm leave them empty (it names
  // its endpoints itself).
  std::string node;
  std::string service;
  // Message bytes one provider message carries (this carrier's 56-byte
  // header comes on top): larger messages are segmented. Capped by the
  // provider's max_msg_size. Each side tells the other its own in its
  // hello, and segments to a peer are never larger than the peer's.
  uint32_t segment_size = 64u << 10;
  // Register the transmit and receive buffers (fi_mr_reg) even when the
  // provider does not ask for it with FI_MR_LOCAL: some providers move
  // registered memory faster, and it exercises the registration path on
  // providers that never ask (none here does).
  bool always_register = false;
  uint32_t tx_depth = 64;           // provider sends outstanding at once (capped by tx_attr->size)
  uint32_t rx_depth = 64;           // receive buffers posted (capped by rx_attr->size)
  uint32_t max_outstanding = 1024;  // messages sent and not yet completed or failed
  uint64_t max_message_size = 16u << 20;
  Duration message_timeout = Duration::seconds(2);  // SendOptions::timeout zero means this
  RunConfig run;

  // Empty when usable; otherwise one line naming the field.
  std::string validate() const;
};

// What the fabric carrier counts beyond CarrierStats.
struct FabricStats {
  uint64_t segments_sent = 0, segments_received = 0;
  uint64_t controls_sent = 0;             // hello, hello_ack, ack, abort
  uint64_t send_again = 0;                // fi_send said -FI_EAGAIN (retried in a later iteration)
  uint64_t provider_errors = 0;           // error completions (fi_cq_readerr)
  uint64_t dropped_malformed = 0;         // a provider message whose header did not decode
  uint64_t dropped_unknown_source = 0;    // data or ack from an incarnation never said hello
  uint64_t dropped_duplicate = 0;         // a segment of a message already handed up
  uint64_t peer_restarts = 0;             // a hello from a known name with a new incarnation
  uint64_t waits = 0, wakeups_by_fd = 0;  // idle sleeps; those the CQ's descriptor ended
};

class FabricCarrier final : public Carrier {
 public:
  // Opens fabric, domain, AV (FI_AV_TABLE), CQ and endpoint. Throws
  // std::invalid_argument when cfg.validate() refuses it, and
  // std::runtime_error naming the libfabric call and its error when the
  // provider cannot be opened (e.g. "fi_getinfo(prov udp;ofi_rxd): No data
  // available: the provider is not available here, see fi_info -l").
  explicit FabricCarrier(const FabricConfig& cfg);
  ~FabricCarrier() override;
  FabricCarrier(const FabricCarrier&) = delete;
  FabricCarrier& operator=(const FabricCarrier&) = delete;

  std::string_view kind() const override { return "fabric"; }
  // The endpoint's name (fi_getname) in hex.
  std::string local_name() const override;
  // A peer by its name in hex; with a provider addressed by sockaddr_in
  // (udp;ofi_rxd, tcp;ofi_rxm) also "IP:PORT", for a peer opened with that
  // node and service.
  Result<PeerId> add_peer(std::string_view name) override;
  Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt,
                     Time now) override;
  bool peer_reachable(PeerId peer) const override;
  Errc remove_peer(PeerId peer, Time now) override;
  bool poll_once(Time now) override;
  void run(const std::atomic<bool>& stop) override;
  int wait_fd() const override;
  void wake() override;
  Time next_deadline() const override;
  CarrierStats stats() const override;

  const FabricStats& fabric_stats() const;
  // What was opened: provider, fabric, domain, segment payload, whether
  // buffers are registered (FI_MR_LOCAL) and the CQ has a wait fd.
  std::string describe() const;
  bool registers_buffers() const;  // FI_MR_LOCAL asked for it, or always_register
  bool has_wait_fd() const;
  // Payload bytes per segment (segment_size less the header).
  size_t segment_payload() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Hex of bytes, and back (false when not an even number of hex digits).
std::string to_hex(std::span<const uint8_t> bytes);
bool from_hex(std::string_view hex, std::vector<uint8_t>& out);

}  // namespace srdx::carrier
