// The srdx engine as a carrier: an Endpoint over a dp::Link, run by the
// dataplane's poll loop (dp::Poller). srdx does reliability itself
// (retransmission, path spraying, congestion control, encryption).
#pragma once

#include <memory>

#include "loop/poller.h"
#include "srdx/carrier.h"
#include "srdx/keys.h"

namespace srdx::carrier {

class EngineCarrier final : public Carrier {
 public:
  // Over a poller (and its link and endpoint) the caller owns and keeps
  // alive; the carrier takes over the poller's event and tick handlers.
  explicit EngineCarrier(dp::Poller& poller);
  // Owns its link (dp::make_link: throws std::runtime_error with the reason
  // when it cannot be opened), endpoint and poller. ep.port is taken from
  // the link's local port.
  EngineCarrier(const dp::LinkConfig& link, EndpointConfig ep, const dp::PollerConfig& poll = {});
  // The same over a link already opened.
  EngineCarrier(std::unique_ptr<dp::Link> link, EndpointConfig ep,
                const dp::PollerConfig& poll = {});
  ~EngineCarrier() override;

  std::string_view kind() const override { return "engine"; }
  // "IP:PORT" of the link.
  std::string local_name() const override;
  // "IP:PORT"; without a key (the endpoint must not encrypt).
  Result<PeerId> add_peer(std::string_view name) override;
  // With encryption: the peer's static public key.
  Result<PeerId> add_peer(Addr addr, const PublicKey& key);

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

  Endpoint& endpoint() { return poller_->endpoint(); }
  dp::Poller& poller() { return *poller_; }
  dp::Link& link() { return poller_->link(); }

 private:
  void attach();

  std::unique_ptr<dp::Link> own_link_;
  std::unique_ptr<Endpoint> own_ep_;
  std::unique_ptr<dp::Poller> own_poller_;
  dp::Poller* poller_ = nullptr;
};

// "IP:PORT" -> Addr; false when malformed.
bool parse_ip_port(std::string_view text, Addr& out);
std::string format_ip_port(Addr a);

}  // namespace srdx::carrier
