#include "engine_carrier.h"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>
#include <string>

namespace srdx::carrier {

bool parse_ip_port(std::string_view text, Addr& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
  const std::string ip(text.substr(0, colon));
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  unsigned port = 0;
  const std::string_view p = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port == 0 || port > 65535) return false;
  out.ip = ntohl(a.s_addr);
  out.port = static_cast<uint16_t>(port);
  return true;
}

std::string format_ip_port(Addr a) {
  return std::to_string(a.ip >> 24) + "." + std::to_string((a.ip >> 16) & 0xff) + "." +
         std::to_string((a.ip >> 8) & 0xff) + "." + std::to_string(a.ip & 0xff) + ":" +
         std::to_string(a.port);
}

EngineCarrier::EngineCarrier(dp::Poller& poller) : poller_(&poller) { attach(); }

EngineCarrier::EngineCarrier(const dp::LinkConfig& link, EndpointConfig ep,
                             const dp::PollerConfig& poll)
    : EngineCarrier(dp::make_link(link), std::move(ep), poll) {}

EngineCarrier::EngineCarrier(std::unique_ptr<dp::Link> link, EndpointConfig ep,
                             const dp::PollerConfig& poll) {
  if (!link) throw std::invalid_argument("EngineCarrier: no link");
  own_link_ = std::move(link);
  ep.port = own_link_->local().port;
  own_ep_ = std::make_unique<Endpoint>(ep);
  own_poller_ = std::make_unique<dp::Poller>(*own_link_, *own_ep_, poll);
  poller_ = own_poller_.get();
  attach();
}

EngineCarrier::~EngineCarrier() {
  poller_->on_event({});
  poller_->on_tick({});
}

void EngineCarrier::attach() {
  poller_->on_event([this](const Event& ev, Time now) {
    if (on_event_) on_event_(ev, now);
  });
  poller_->on_tick([this](Time now) {
    if (on_tick_) on_tick_(now);
  });
}

std::string EngineCarrier::local_name() const { return format_ip_port(poller_->link().local()); }

Result<PeerId> EngineCarrier::add_peer(std::string_view name) {
  Addr a;
  if (!parse_ip_port(name, a)) return {kNoPeer, Errc::invalid_argument};
  return poller_->endpoint().add_peer(a);
}

Result<PeerId> EngineCarrier::add_peer(Addr addr, const PublicKey& key) {
  return poller_->endpoint().add_peer(addr, key);
}

Result<MsgId> EngineCarrier::send(PeerId peer, std::span<const uint8_t> data,
                                  const SendOptions& opt, Time now) {
  return poller_->endpoint().send(peer, data, opt, now);
}

bool EngineCarrier::peer_reachable(PeerId peer) const {
  PeerStats ps;
  return poller_->endpoint().peer_stats(peer, ps) && ps.up;
}

Errc EngineCarrier::remove_peer(PeerId peer, Time now) {
  return poller_->endpoint().remove_peer(peer, now);
}

bool EngineCarrier::poll_once(Time now) { return poller_->poll_once(now); }

void EngineCarrier::run(const std::atomic<bool>& stop) { poller_->run(stop); }

int EngineCarrier::wait_fd() const { return poller_->link().wait_fd(); }
void EngineCarrier::wake() { poller_->wake(); }

Time EngineCarrier::next_deadline() const { return poller_->endpoint().next_deadline(); }

CarrierStats EngineCarrier::stats() const {
  const EndpointStats& e = poller_->endpoint().stats();
  CarrierStats s;
  s.messages_sent = e.messages_sent;
  s.messages_completed = e.messages_completed;
  s.messages_failed = e.messages_failed;
  s.messages_received = e.messages_received;
  s.bytes_sent = e.bytes_sent;
  s.bytes_received = e.bytes_received;
  s.packets_received = poller_->stats().rx_packets;
  s.packets_sent = poller_->stats().tx_packets;
  return s;
}

}  // namespace srdx::carrier
