#include "sim/host.h"

namespace srdx::sim {

Host::Host(Network& net, std::string name, Addr addr, Side side, const EndpointConfig& cfg)
    : net_(net),
      name_(std::move(name)),
      addr_(addr),
      cfg_(cfg),
      ep_(nullptr),
      txbuf_(cfg.mtu - tuning::kIpUdpOverhead) {
  // The endpoint names itself by the port it receives on, like a real one.
  cfg_.port = addr.port;
  ep_ = std::make_unique<Endpoint>(cfg_);
  net_.attach(*this, addr, side);
}

Host::~Host() { net_.detach(*this); }

Result<PeerId> Host::add_peer(Addr peer) {
  Result<PeerId> r = ep_->add_peer(peer);
  if (r.ok()) peers_.push_back(peer);
  kicked_ = true;
  return r;
}

Result<MsgId> Host::send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt) {
  kicked_ = true;
  return ep_->send(peer, data, opt, net_.now());
}

void Host::restart() {
  ep_.reset();
  cfg_.seed = mix64(cfg_.seed ^ (uint64_t{restarts_} + 1));
  ep_ = std::make_unique<Endpoint>(cfg_);
  for (const Addr& p : peers_) ep_->add_peer(p);
  restarts_++;
  kicked_ = true;
}

void Host::pause_reading(bool paused) {
  paused_ = paused;
  kicked_ = true;
}

void Host::deliver(const Datagram& d, Time now) {
  ep_->on_packet(d.bytes, RxPath{d.src, d.src_port, 0}, now);
  kicked_ = true;  // the endpoint may now have an ack or a message for us
}

Time Host::deadline() const {
  if (kicked_) return net_.now();
  return ep_->next_deadline();
}

bool Host::drain_transmit(Time now) {
  bool any = false;
  TxPath tx;
  while (size_t n = ep_->poll_transmit(txbuf_, tx, now)) {
    net_.send(Addr{addr_.ip, addr_.port}, tx.entropy, tx.remote,
              std::span<const uint8_t>(txbuf_.data(), n));
    tx_packets_++;
    any = true;
    tx = TxPath{};
  }
  return any;
}

void Host::poll(Time now) {
  if (polling_) return;  // a callback's send() runs inside this loop already
  polling_ = true;
  kicked_ = false;
  if (ep_->next_deadline() <= now) ep_->on_timer(now);
  // Events before transmitting, as the real poll loop does (dp::Poller): what
  // a handler sends (an echo) leaves with the ACK of what it answers.
  for (;;) {
    bool any_event = false;
    Event ev;
    // The callback may restart this host: always go through ep_.
    while (!paused_ && ep_->poll_event(ev)) {
      any_event = true;
      if (on_event_) on_event_(*this, ev, now);
    }
    drain_transmit(now);
    if (!any_event) break;
  }
  polling_ = false;
  // A callback's send() set kicked_, but the loop above already drained it.
  kicked_ = false;
}

}  // namespace srdx::sim
