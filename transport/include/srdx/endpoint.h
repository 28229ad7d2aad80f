// The public API of the srdx transport core: a sans-I/O endpoint.
//
// An Endpoint is a deterministic state machine. The caller owns sockets,
// packets and clocks; it feeds the endpoint packets (`on_packet`) and the
// passage of time (`on_timer`), drains packets to send (`poll_transmit`) and
// events (`poll_event`), and sleeps until `next_deadline()`. Given the same
// inputs an endpoint does the same thing, which is what lets the simulator
// replay every behaviour and the fuzzer explore it.
//
//   Endpoint ep(cfg);
//   PeerId b = ep.add_peer(addr_b).value;
//   ep.send(b, bytes, {}, now);
//   while (size_t n = ep.poll_transmit(buf, tx, now)) link.send(buf, n, tx);
//   ...
//   ep.on_packet(rx_bytes, rx_path, now);
//   while (ep.poll_event(ev)) handle(ev);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "srdx/config.h"
#include "srdx/keys.h"
#include "srdx/time.h"

namespace srdx {

// An IPv4 address and UDP port, both in host byte order.
struct Addr {
  uint32_t ip = 0;
  uint16_t port = 0;
  constexpr bool operator==(const Addr&) const = default;
};

// Names a peer until it is removed (or, accepted, reclaimed); a later peer
// never gets the same id back in practice (4095 generations per slot).
using PeerId = uint32_t;
using MsgId = uint64_t;
inline constexpr PeerId kNoPeer = 0xffffffffu;

// How a packet arrived: from which remote address, carrying which entropy
// (the remote's UDP source port), on which local link.
struct RxPath {
  Addr remote;
  uint16_t entropy = 0;
  uint16_t link = 0;
  // When the packet reached the host (a kernel receive timestamp), if the
  // link knows; zero when it does not. Not later than the `now` it is
  // passed with. Only round-trip times use it: a sample then leaves out the
  // time the packet waited for a sleeping or busy poll loop on either side,
  // which is the host's delay, not the network's queue.
  Time arrival = Time::zero();
};

// Where poll_transmit()'s packet goes: to `remote`, from UDP source port
// `entropy` (this is what spreads packets over ECMP paths), on `link`.
struct TxPath {
  Addr remote;
  uint16_t entropy = 0;
  uint16_t link = 0;
};

enum class Errc : uint8_t {
  ok = 0,
  unknown_peer,
  too_large,    // message larger than max_message_size
  would_block,  // the peer's send queue is full; retry after a completion
  too_many_peers,
  invalid_argument,
};
std::string_view to_string(Errc);

template <class T>
struct Result {
  T value{};
  Errc err = Errc::ok;
  bool ok() const { return err == Errc::ok; }
};

enum class EventType : uint8_t {
  message_received,  // data: the whole message, valid until the next poll_event()
  // Every byte of msg_id reached the peer's endpoint, which handed it up
  // exactly once (ordered: in order).
  send_completed,
  // The endpoint gave up on msg_id; `reason` says why. With maybe_delivered
  // false it was not delivered and never will be. With maybe_delivered true
  // it was delivered at most once, possibly before or soon after this event
  // (every fragment may have reached the peer while the answer was lost), and
  // the application must find out which when it matters (replication: ask).
  send_failed,
  peer_up,    // a connection is up (also a new one after the peer restarted)
  peer_down,  // the connection ended: `reason` says why
};
std::string_view to_string(EventType);

enum class FailReason : uint8_t {
  none = 0,
  timeout,           // not acknowledged within its timeout
  peer_unreachable,  // the peer went silent for peer_timeout
  peer_restarted,    // the peer has a new connection, or none: it restarted or forgot this one
  peer_removed,      // remove_peer() was called here
  too_large,         // larger than the peer accepts
  peer_closed,       // the peer ended the connection (it removed us, or gave up on us)
  idle,              // peer_down only: an accepted peer idle for idle_timeout was forgotten
};
inline constexpr size_t kFailReasons = 8;
std::string_view to_string(FailReason);

struct Event {
  EventType type = EventType::message_received;
  FailReason reason = FailReason::none;
  uint16_t flow = 0;
  PeerId peer = kNoPeer;
  MsgId msg_id = 0;               // the sender's message id
  uint64_t cookie = 0;            // SendOptions::cookie, on send_completed / send_failed
  std::span<const uint8_t> data;  // message_received only
  bool maybe_delivered = false;   // send_failed only: see EventType::send_failed
};

struct SendOptions {
  // Flow label. Messages are delivered out of order by default; `ordered`
  // messages of one flow are delivered in the order they were sent.
  uint16_t flow = 0;
  bool ordered = false;
  // true: the endpoint copies the bytes. false: zero copy, the caller keeps
  // them alive and unchanged until send_completed or send_failed.
  bool copy = true;
  // Zero: EndpointConfig::message_timeout.
  Duration timeout = Duration::zero();
  uint64_t cookie = 0;
};

// Why the endpoint dropped an incoming packet. Every drop is counted.
enum class DropReason : uint8_t {
  too_short = 0,
  bad_version,
  bad_type,
  bad_checksum,
  bad_length,
  bad_field,
  unknown_peer,      // from a host the endpoint does not know, and may not accept
  wrong_connection,  // names a connection that is not the current one (old, forged)
  peer_limit,        // a new peer past max_peers
  no_state,          // data or ack before a handshake
  out_of_window,     // message id beyond the receive window
  no_buffer,         // receive buffer full (slow reader)
  bad_coalesce,      // a malformed coalesced datagram, or one from a peer that did not negotiate it
  // With encryption: a sealed datagram whose tag did not verify (forged,
  // altered, or sealed under keys the connection does not have).
  bad_auth,
  replay,           // a sealed datagram accepted before, or older than the replay window
  unknown_key,      // a hello from a static key this endpoint does not trust
  unauthenticated,  // a clear packet where only a sealed one is accepted (or the reverse)
  kCount
};
std::string_view to_string(DropReason);

struct EndpointStats {
  uint64_t packets_sent = 0, packets_received = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  // Each packet once by type; closes_sent (below) are the rest.
  uint64_t data_packets_sent = 0, ack_packets_sent = 0, handshake_packets_sent = 0;
  uint64_t retransmissions = 0, rto_events = 0, reorder_losses = 0;
  uint64_t spurious_losses = 0;  // declared lost, then acknowledged after all
  uint64_t duplicate_fragments = 0, out_of_order_packets = 0;
  uint64_t messages_sent = 0, messages_completed = 0, messages_failed = 0;
  uint64_t messages_received = 0;
  uint64_t path_replacements = 0;
  uint64_t peer_restarts = 0;  // connections replaced by a new one of the same peer
  uint64_t retries_sent = 0;   // answers to hellos without a cookie (also handshake packets)
  uint64_t closes_sent = 0, closes_received = 0;
  uint64_t peers_reclaimed = 0;  // accepted peers forgotten after idle_timeout
  // Datagrams that carried an ACK and a data packet together (feature coalesce).
  uint64_t coalesced_sent = 0, coalesced_received = 0;
  // Encryption: handshakes that ended with keys on both sides, and key
  // updates (each direction's counted where it is made).
  uint64_t handshakes_completed = 0, key_updates = 0;
  uint64_t drops[static_cast<size_t>(DropReason::kCount)] = {};
  uint64_t total_drops() const;
};

enum class PathState : uint8_t { active, probation, retired };

struct PathStats {
  uint16_t entropy = 0;
  PathState state = PathState::active;
  Duration srtt, rttvar, min_rtt, last_rtt;
  uint64_t packets_sent = 0, packets_acked = 0, packets_lost = 0, timeouts = 0;
  uint32_t inflight = 0;
  uint32_t generation = 0;  // how many times this slot got a fresh entropy
};

struct PeerStats {
  Addr addr;
  bool up = false;
  uint64_t local_cid = 0, remote_cid = 0;  // the connection's ids (0: none)
  Duration srtt, min_rtt;
  uint64_t cwnd_bytes = 0, inflight_bytes = 0;
  uint64_t messages_queued = 0;
  uint64_t retransmissions = 0;
  uint64_t messages_completed = 0, messages_failed = 0, messages_received = 0;
  uint64_t bytes_acked = 0, bytes_received = 0;
};

class Endpoint {
 public:
  // The configuration must pass cfg.validate(); otherwise this throws
  // std::invalid_argument with that message.
  explicit Endpoint(const EndpointConfig& cfg);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // A peer at `addr` whose static public key is `key`: the handshake admits
  // only the holder of its private key. With encryption off the key is not
  // used, and add_peer(addr) is the same; with it on, add_peer(addr) fails
  // with invalid_argument.
  Result<PeerId> add_peer(Addr addr, const PublicKey& key);
  Result<PeerId> add_peer(Addr addr);
  // This endpoint's static public key (from EndpointConfig::static_key).
  const PublicKey& public_key() const;
  // With accept_unknown_peers and encryption: a host add_peer() did not name
  // may connect if it holds the private key of one of these public keys.
  // Without encryption any host may (the key is not checked).
  void allow_key(const PublicKey& key);
  // Fails the peer's messages with peer_removed (events) and forgets it.
  Errc remove_peer(PeerId peer, Time now);
  PeerId find_peer(Addr addr) const;

  Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt, Time now);

  void on_packet(std::span<const uint8_t> packet, const RxPath& path, Time now);
  void on_timer(Time now);
  // Writes the next packet into `buf` (at least cfg.mtu - 28 bytes) and returns
  // its length, or 0 when nothing is due now.
  size_t poll_transmit(std::span<uint8_t> buf, TxPath& path, Time now);
  bool poll_event(Event& ev);
  // When on_timer() next has work; Time::infinite() when idle.
  Time next_deadline() const;

  const EndpointConfig& config() const;
  const EndpointStats& stats() const;
  std::vector<PeerId> peers() const;
  bool peer_stats(PeerId peer, PeerStats& out) const;
  std::vector<PathStats> path_stats(PeerId peer) const;
  // Bytes the endpoint holds for in-flight and undelivered messages, and the
  // number of such messages: both return to zero when traffic ends.
  uint64_t buffered_bytes() const;
  uint64_t buffered_messages() const;
  // Heap bytes the endpoint holds for its peers: their objects, rings and
  // tables (not message buffers, which buffered_bytes() counts). A peer's
  // rings come with its connection's first message and go when the
  // connection ends: a peer that never had traffic holds none.
  size_t memory_bytes() const;
  // Receive buffer charged over all peers: never above recv_memory_bytes.
  uint64_t recv_held_bytes() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace srdx
