// A simulated host: one srdx::Endpoint at one address, attached to a Network.
//
// Each simulation step the network delivers due datagrams (Host::deliver ->
// Endpoint::on_packet), then polls every host: on_timer() if the endpoint's
// deadline is due, drain poll_transmit() into the network, drain poll_event()
// into the host's callback, and repeat while the callback produced work (it may
// call send()).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/network.h"
#include "srdx/endpoint.h"

namespace srdx::sim {

class Host : public Port {
 public:
  using EventFn = std::function<void(Host&, const Event&, Time)>;

  // Attaches to `net` at `addr` on `side`, with a fresh Endpoint built from
  // `cfg` (which must validate).
  Host(Network& net, std::string name, Addr addr, Side side, const EndpointConfig& cfg);
  ~Host() override;
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const std::string& name() const { return name_; }
  Addr addr() const { return addr_; }
  Network& network() { return net_; }
  Endpoint& endpoint() { return *ep_; }
  const Endpoint& endpoint() const { return *ep_; }

  void on_event(EventFn fn) { on_event_ = std::move(fn); }

  // add_peer() that the host remembers, to add again after restart().
  Result<PeerId> add_peer(Addr peer);
  // Endpoint::send at the network's current time; the host is polled in the
  // next step even if the endpoint's deadline does not say so.
  Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt = {});

  // Destroys the endpoint and builds a new one at the same address with a
  // new seed (so new connection ids), then re-adds the remembered peers in
  // the same order. Packets in flight to the old endpoint reach the new one.
  void restart();
  uint32_t restarts() const { return restarts_; }

  // While paused the host does not poll events: received messages stay in the
  // endpoint (to exercise receiver flow control). Packets still flow.
  void pause_reading(bool paused);
  bool reading_paused() const { return paused_; }

  // Port.
  void deliver(const Datagram& d, Time now) override;
  Time deadline() const override;
  void poll(Time now) override;

  // Packets this host handed to the network (after poll_transmit).
  uint64_t packets_transmitted() const { return tx_packets_; }

 private:
  bool drain_transmit(Time now);

  Network& net_;
  std::string name_;
  Addr addr_;
  EndpointConfig cfg_;
  std::unique_ptr<Endpoint> ep_;
  EventFn on_event_;
  std::vector<Addr> peers_;
  std::vector<uint8_t> txbuf_;
  bool kicked_ = false;  // poll at the next step regardless of the deadline
  bool paused_ = false;
  bool polling_ = false;
  uint32_t restarts_ = 0;
  uint64_t tx_packets_ = 0;
};

}  // namespace srdx::sim
