// A simulated host: one srdx::Endpoint at one address, attached to a Network,
// run by the poll loop that srdxd and srdx-perf run (dp::Poller) over the
// `sim` link backend (sim/host_link.h).
//
// Each simulation step the network delivers due datagrams (Host::deliver ->
// the link's receive queue), then polls every host: Host::poll(now) runs
// Poller::poll_once(now) (rx, timers, events, the transmit loop) and repeats
// it while it did work, so that everything due at `now`, including what the
// event callback sent, is done before simulated time moves on.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loop/poller.h"
#include "sim/host_link.h"
#include "sim/network.h"
#include "srdx/endpoint.h"

namespace srdx::sim {

// How a restarted host's wall clock compares with the one it had before (NTP,
// a VM restored from a snapshot step it back). The host keeps an "epoch", its
// boot time as such a clock reads it; srdx once identified incarnations by it
// (a clock stepped back made a restarted host "stale" to its peers forever).
// The engine no longer reads any clock for identity: restarts either way must
// behave the same, which is what the faults test checks.
enum class Clock : uint8_t { forward, stepped_back };

// Every host's first epoch: large enough for a restart with the clock stepped
// back to go lower.
inline constexpr uint64_t kBootEpoch = 1'000'000'000'000;

// What a frozen host's socket holds before it drops, like a receive buffer
// (net.core.rmem_default is 208 KiB).
inline constexpr uint64_t kDefaultFrozenQueueBytes = 256u << 10;

// What a host's endpoint did with datagrams by who made them (Label), as
// the harness sees it: the endpoint itself never learns the label.
struct TaintCounters {
  std::array<uint64_t, kLabels> received{};  // handed to the endpoint
  std::array<uint64_t, kLabels> dropped{};   // of those, counted in a drop counter
  // Messages the endpoint handed up while taking one (the datagram completed
  // them). Of attacker-made bytes (is_made): what must never happen with
  // encryption on.
  std::array<uint64_t, kLabels> completed{};
  // Attacker-made datagrams that no drop counter took, by wire type byte
  // (1..7; 0: anything else): answered (a retry, a hello_ack) or ignored.
  std::array<uint64_t, 8> made_not_dropped{};
};

class Host : public Port {
 public:
  using EventFn = std::function<void(Host&, const Event&, Time)>;

  // Attaches to `net` at `addr` on `side`, with a fresh Endpoint built from
  // `cfg` (which must validate), run by a Poller configured by `pc`.
  Host(Network& net, std::string name, Addr addr, Side side, const EndpointConfig& cfg,
       const dp::PollerConfig& pc = {});
  ~Host() override;
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const std::string& name() const { return name_; }
  Addr addr() const { return addr_; }
  Network& network() { return net_; }
  Endpoint& endpoint() { return *ep_; }
  const Endpoint& endpoint() const { return *ep_; }

  void on_event(EventFn fn) { on_event_ = std::move(fn); }

  // add_peer() that the host remembers, to add again after restart(). With
  // encryption, with the key of the host at `peer` (key_for).
  Result<PeerId> add_peer(Addr peer);
  // With encryption and accept_unknown_peers: the host at `peer` may connect
  // without add_peer (Endpoint::allow_key), also after restart().
  void allow(Addr peer);
  // The static key every simulated host at `addr` has: fixed, so that a
  // restart keeps it, and made from the address, so that peers know it.
  static PrivateKey key_for(Addr addr);
  static PublicKey public_key_for(Addr addr);
  // Endpoint::remove_peer of the peer at `peer` (its messages fail with
  // peer_removed), forgotten for restart() too. unknown_peer if there is none.
  Errc remove_peer(Addr peer);
  // What srdxd's SIGHUP reload does to a peer whose entry changed: remove it
  // and add it again. Returns the new PeerId (the old one is dead).
  Result<PeerId> reload_peer(Addr peer);
  // Endpoint::send at the network's current time; the host is polled in the
  // next step even if the endpoint's deadline does not say so.
  Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt = {});

  // Destroys the endpoint and builds a new one at the same address with a
  // fresh seed (the seed is what the endpoint draws its identifiers from), then
  // re-adds the remembered peers in the same order; a new process, so a new
  // link (what the old socket held is gone) and a new Poller. Packets in
  // flight to the old endpoint reach the new one. The host's epoch (Clock)
  // grows, or with the clock stepped back halves. Not from inside the host's
  // own event callback (the poller running it would be destroyed under it):
  // schedule it with Network::at; std::logic_error otherwise.
  void restart(Clock clock = Clock::forward);
  uint64_t epoch() const { return epoch_; }
  uint64_t seed() const { return cfg_.seed; }
  uint32_t restarts() const { return restarts_; }

  // While paused the host does not poll events (Poller::pause_events):
  // received messages stay in the endpoint (to exercise receiver flow
  // control). Packets still flow.
  void pause_reading(bool paused);
  bool reading_paused() const { return paused_; }

  // The whole host stops, as a process stopped (SIGSTOP) or a VM descheduled:
  // no on_packet, no on_timer, no poll_transmit, no events. Datagrams that
  // arrive meanwhile wait in a socket buffer of `queue_bytes` (payload bytes;
  // what does not fit is dropped and counted) and reach the endpoint in
  // arrival order when the host thaws, at the thaw time.
  void freeze(uint64_t queue_bytes = kDefaultFrozenQueueBytes);
  void thaw();
  bool frozen() const { return frozen_; }
  uint64_t frozen_queued() const { return frozen_queued_; }    // datagrams held, in all
  uint64_t frozen_dropped() const { return frozen_dropped_; }  // datagrams the full buffer dropped

  // Port.
  void deliver(const Datagram& d, Time now) override;
  Time deadline() const override;
  void poll(Time now) override;

  // Packets this host handed to the network (after poll_transmit), over
  // every incarnation.
  uint64_t packets_transmitted() const;
  const TaintCounters& taint() const { return taint_; }
  // The loop and the link of the current incarnation (restart() replaces
  // both): what the simulator measured of the loop that ships.
  const dp::Poller& poller() const { return *poller_; }
  const HostLink& link() const { return *link_; }

 private:
  Result<PeerId> add_to_endpoint(Addr peer);
  // A new link and a poller over it for the current endpoint.
  void start_loop();
  void feed(std::span<const uint8_t> bytes, const RxPath& path, Label label, Time now);
  void forget_peer(Addr peer);

  Network& net_;
  std::string name_;
  Addr addr_;
  EndpointConfig cfg_;
  dp::PollerConfig poller_cfg_;
  std::unique_ptr<Endpoint> ep_;
  std::unique_ptr<HostLink> link_;
  std::unique_ptr<dp::Poller> poller_;
  EventFn on_event_;
  std::vector<Addr> allowed_;
  std::vector<Addr> peers_;
  bool kicked_ = false;  // poll at the next step regardless of the deadline
  bool paused_ = false;
  bool polling_ = false;
  uint32_t restarts_ = 0;
  uint64_t epoch_ = kBootEpoch;
  uint64_t tx_earlier_ = 0;  // packets_transmitted() of the incarnations before
  bool frozen_ = false;
  uint64_t frozen_limit_ = 0;
  uint64_t frozen_queued_ = 0, frozen_dropped_ = 0;
  TaintCounters taint_;
};

}  // namespace srdx::sim
