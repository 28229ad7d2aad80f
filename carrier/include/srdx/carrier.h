// The carrier interface: how applications move whole messages to peers,
// whatever carries them underneath (issue 13).
//
// Two carriers implement it:
//   - EngineCarrier (engine_carrier.h): the srdx engine (transport/) over a
//     dp::Link (udp, dpdk), run by the dataplane's poll loop (dp::Poller).
//     srdx does reliability itself.
//   - FabricCarrier (fabric_carrier.h): a libfabric FI_EP_RDM endpoint of a
//     provider chosen by name (efa on AWS: hardware SRD; udp;ofi_rxd,
//     tcp;ofi_rxm, shm elsewhere). The provider does reliability; srdx adds
//     message ids, segmentation, completion at the receiving application,
//     failure on a deadline and per-flow order (docs/carrier.md).
//
// The semantics are the engine's (srdx/endpoint.h), on both carriers:
//   - send() takes a whole message and returns its id; exactly one of
//     send_completed (the peer's carrier handed it up, once) or send_failed
//     (by the message's deadline at the latest; maybe_delivered says whether
//     it may have been handed up) follows, as an Event with the send's cookie;
//   - message_received hands up whole messages, out of order by default, in
//     send order among the `ordered` messages of one flow;
//   - peer_up when a peer is reachable.
//
// One run loop: poll_once(now) does one iteration (receive, timers, events
// to the handler, the tick handler, transmit) and never sleeps; run(stop)
// iterates and, when idle, sleeps on wait_fd() until next_deadline().
// Handlers run inside poll_once() and may call send().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "srdx/endpoint.h"
#include "srdx/time.h"

namespace srdx::carrier {

// What every carrier counts (each has more of its own).
struct CarrierStats {
  uint64_t messages_sent = 0, messages_completed = 0, messages_failed = 0;
  uint64_t messages_received = 0;
  // Bytes: the engine counts what its packets carried, the fabric message bytes.
  uint64_t bytes_sent = 0, bytes_received = 0;
  // Datagrams (engine) or provider receive completions (fabric): anything
  // arriving, for "the peer has gone quiet" checks.
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
};

// How run() backs off when idle.
struct RunConfig {
  bool busy_poll = false;          // never sleep
  uint32_t spin_iterations = 200;  // idle iterations in a row before a sleep
  Duration max_sleep = Duration::millis(1);
  // Without a wait descriptor nothing wakes the loop: short naps.
  Duration max_sleep_without_fd = Duration::micros(50);
};

class Carrier {
 public:
  // A message_received event's data is valid only during the call.
  using EventHandler = std::function<void(const Event& ev, Time now)>;
  // Called once per iteration after the events: the place to send.
  using TickHandler = std::function<void(Time now)>;

  virtual ~Carrier() = default;

  // "engine" or "fabric".
  virtual std::string_view kind() const = 0;
  // What a peer passes to add_peer() to reach this carrier: "IP:PORT" for the
  // engine, the provider's endpoint name in hex for the fabric.
  virtual std::string local_name() const = 0;
  // A peer by the name its local_name() gave. A malformed name is
  // invalid_argument.
  virtual Result<PeerId> add_peer(std::string_view name) = 0;

  // Sends a whole message; see srdx::SendOptions (flow, ordered, timeout,
  // cookie). would_block: too many messages outstanding, retry after a
  // completion.
  virtual Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt,
                             Time now) = 0;

  // Whether the peer answers now: the engine's connection to it is up; the
  // fabric peer answered our hello. False for an id that is not a peer.
  virtual bool peer_reachable(PeerId peer) const = 0;
  // Forgets a peer: its messages not yet completed fail (send_failed,
  // peer_removed, as events of the next iterations) and its id is not used
  // again; add_peer() with its name makes a new one. unknown_peer when it is
  // not a peer.
  virtual Errc remove_peer(PeerId peer, Time now) = 0;

  void on_event(EventHandler h) { on_event_ = std::move(h); }
  void on_tick(TickHandler h) { on_tick_ = std::move(h); }

  // One iteration at `now`, no sleep; true when it did anything.
  virtual bool poll_once(Time now) = 0;
  // Iterates until `stop`, reading the monotonic clock and sleeping when idle.
  virtual void run(const std::atomic<bool>& stop) = 0;
  // Readable when something arrived (for a caller's own idle wait), or -1.
  virtual int wait_fd() const = 0;
  // Any thread: a run() loop sleeping when idle iterates at once (on_tick
  // then sends what the caller queued). Cheap while it is awake.
  virtual void wake() = 0;
  // When the carrier next has timer work; Time::infinite() when none.
  virtual Time next_deadline() const = 0;

  virtual CarrierStats stats() const = 0;

 protected:
  EventHandler on_event_;
  TickHandler on_tick_;
};

}  // namespace srdx::carrier
