#include "sim/host.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace srdx::sim {

namespace {
// Iterations of one poll() at one instant before the host declares its loop
// stuck (an endpoint whose deadline stays due however often its timer runs).
constexpr uint64_t kMaxIterationsPerPoll = 1'000'000;
}  // namespace

Host::Host(Network& net, std::string name, Addr addr, Side side, const EndpointConfig& cfg,
           const dp::PollerConfig& pc)
    : net_(net), name_(std::move(name)), addr_(addr), cfg_(cfg), poller_cfg_(pc) {
  // The endpoint names itself by the port it receives on, like a real one.
  cfg_.port = addr.port;
  // Like an appliance's key file, the host's static key outlives restarts.
  if (cfg_.encryption && is_zero(cfg_.static_key)) cfg_.static_key = key_for(addr);
  ep_ = std::make_unique<Endpoint>(cfg_);
  start_loop();
  net_.attach(*this, addr, side);
}

Host::~Host() { net_.detach(*this); }

void Host::start_loop() {
  poller_.reset();
  link_ = std::make_unique<HostLink>(net_, addr_, cfg_.mtu);
  poller_ = std::make_unique<dp::Poller>(*link_, *ep_, poller_cfg_);
  poller_->pause_events(paused_);
  poller_->on_event([this](const Event& ev, Time now) {
    if (on_event_) on_event_(*this, ev, now);
  });
  // Every datagram through feed(), for the taint counters.
  poller_->on_packet([this](const dp::RxDatagram& d, const RxPath& path, Time now) {
    feed(d.payload, path, link_->label_of(d), now);
  });
}

uint64_t Host::packets_transmitted() const {
  const dp::LinkStats s = link_->stats();
  return tx_earlier_ + s.tx_packets + s.tx_dropped;
}

PrivateKey Host::key_for(Addr addr) {
  PrivateKey k{};
  uint64_t x = mix64((uint64_t{addr.ip} << 16 | addr.port) ^ 0x6b6579ull);  // "key"
  for (size_t i = 0; i < k.size(); i += 8) {
    x = mix64(x + i);
    for (size_t j = 0; j < 8; ++j) k[i + j] = static_cast<uint8_t>(x >> (8 * j));
  }
  return k;
}

PublicKey Host::public_key_for(Addr addr) { return public_key_of(key_for(addr)); }

Result<PeerId> Host::add_to_endpoint(Addr peer) {
  return cfg_.encryption ? ep_->add_peer(peer, public_key_for(peer)) : ep_->add_peer(peer);
}

void Host::allow(Addr peer) {
  allowed_.push_back(peer);
  ep_->allow_key(public_key_for(peer));
}

Result<PeerId> Host::add_peer(Addr peer) {
  Result<PeerId> r = add_to_endpoint(peer);
  if (r.ok()) peers_.push_back(peer);
  kicked_ = true;
  return r;
}

void Host::forget_peer(Addr peer) {
  if (auto it = std::find(peers_.begin(), peers_.end(), peer); it != peers_.end()) peers_.erase(it);
}

Errc Host::remove_peer(Addr peer) {
  kicked_ = true;
  const PeerId id = ep_->find_peer(peer);
  forget_peer(peer);
  if (id == kNoPeer) return Errc::unknown_peer;
  return ep_->remove_peer(id, net_.now());
}

Result<PeerId> Host::reload_peer(Addr peer) {
  const Errc e = remove_peer(peer);
  if (e != Errc::ok && e != Errc::unknown_peer) return {kNoPeer, e};
  return add_peer(peer);
}

Result<MsgId> Host::send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt) {
  kicked_ = true;
  return ep_->send(peer, data, opt, net_.now());
}

void Host::restart(Clock clock) {
  if (clock == Clock::stepped_back && epoch_ <= 1) {
    throw std::logic_error(name_ +
                           ": a restart with the clock stepped back needs an epoch above 1");
  }
  if (polling_) {
    throw std::logic_error(name_ +
                           ": restart() from inside the host's own event callback; schedule it "
                           "with Network::at");
  }
  tx_earlier_ = packets_transmitted();
  poller_.reset();
  ep_.reset();
  frozen_ = false;
  epoch_ = clock == Clock::forward ? epoch_ + 1 : epoch_ / 2;
  // Never derived from the epoch: a clock stepped back must not bring back an
  // old incarnation's seed (the endpoint draws its identifiers from it).
  cfg_.seed = mix64(cfg_.seed ^ (restarts_ + 2ull));
  ep_ = std::make_unique<Endpoint>(cfg_);
  // A new process has a new socket: what the old one held is gone.
  start_loop();
  for (const Addr& p : peers_) add_to_endpoint(p);
  for (const Addr& p : allowed_) ep_->allow_key(public_key_for(p));
  restarts_++;
  kicked_ = true;
}

void Host::pause_reading(bool paused) {
  paused_ = paused;
  poller_->pause_events(paused);
  kicked_ = true;
}

void Host::freeze(uint64_t queue_bytes) {
  frozen_ = true;
  frozen_limit_ = queue_bytes;
}

void Host::thaw() {
  if (!frozen_) return;
  frozen_ = false;
  // What the socket buffer held reaches the endpoint in arrival order, at the
  // thaw time: the next poll() takes it first.
  kicked_ = true;
}

void Host::deliver(const Datagram& d, Time) {
  if (frozen_) {
    if (link_->queued_bytes() + d.bytes.size() > frozen_limit_) {
      frozen_dropped_++;
      return;
    }
    frozen_queued_++;
  }
  // Taken by the host's next poll(), in this step (a Port is polled after
  // the step's deliveries) or at the thaw.
  link_->push(d);
}

void Host::feed(std::span<const uint8_t> bytes, const RxPath& path, Label label, Time now) {
  if (label == Label::genuine) return ep_->on_packet(bytes, path, now);
  const EndpointStats& s = ep_->stats();
  const uint64_t drops = s.total_drops(), msgs = s.messages_received;
  ep_->on_packet(bytes, path, now);
  const size_t l = static_cast<size_t>(label);
  taint_.received[l]++;
  const bool dropped = s.total_drops() != drops;
  if (dropped) taint_.dropped[l]++;
  taint_.completed[l] += s.messages_received - msgs;
  if (is_made(label) && !dropped) {
    const uint8_t type = bytes.size() > 3 ? bytes[3] : 0;
    taint_.made_not_dropped[type < 8 ? type : 0]++;
  }
}

Time Host::deadline() const {
  if (frozen_) return Time::infinite();
  if (kicked_ || link_->queued() != 0) return net_.now();
  return ep_->next_deadline();
}

void Host::poll(Time now) {
  if (polling_ || frozen_) return;  // a callback's send() runs inside this loop already
  polling_ = true;
  kicked_ = false;
  // The loop that ships, one iteration at a time at this instant, until an
  // iteration finds nothing to do: a burst's worth of datagrams per
  // iteration, and what the event callback sends leaves in its iteration.
  uint64_t iterations = 0;
  while (poller_->poll_once(now)) {
    if (++iterations == kMaxIterationsPerPoll) {
      polling_ = false;
      throw std::runtime_error(name_ + ": poll loop stuck at t=" + std::to_string(now.ns()) +
                               " ns: the endpoint's deadline stays due");
    }
  }
  polling_ = false;
  // A callback's send() set kicked_, but the loop above already drained it.
  kicked_ = false;
}

}  // namespace srdx::sim
