// Workloads over simulated hosts, checked end to end.
//
// Every message's payload is generated from (seed, message index): its first
// 8 bytes are the index, the rest a stream seeded by both. The receiving side
// regenerates and compares every byte, so a corruption that got past the
// transport, a duplicate delivery, or a message that vanished (neither
// delivered nor reported failed) is caught and counted. Those three must be zero,
// and so must: messages reported completed but never delivered, messages
// reported failed as "not delivered" that were (once Event says so), messages
// an attacker forged that were delivered, and peers an attacker got created.
//
// Faults, each at its time: blackholes of a path or every path, in both
// directions or one; peer reloads (remove_peer + add_peer); restarts, the
// clock forward or stepped back; frozen hosts; blind attackers; an on-path
// attacker (sim/onpath.h), whose made or altered datagrams must never
// complete a message (made_delivered).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/attacker.h"
#include "sim/host.h"
#include "sim/network.h"
#include "sim/onpath.h"
#include "sim/stats.h"
#include "sim/timeline.h"
#include "srdx/endpoint.h"

namespace srdx::sim {

enum class Workload : uint8_t {
  bulk,      // senders push `count` messages each to one receiver, `window` outstanding
  pingpong,  // the client sends a request, the server echoes it back, `count` times
};
std::string_view to_string(Workload);

// A path (or every path: kAllPaths) drops everything from `start` until
// `end`, in both directions or in one only (an outage of the data direction
// while ACKs still flow, or the reverse). Overlapping outages of one link
// end when the last of them does.
struct Blackhole {
  uint32_t path = 0;
  Time start;
  Time end = Time::infinite();  // restored at `end`
  Directions dir = Directions::both;
};

// Which host of the scenario a fault hits: the receiver (pingpong: the server)
// or sender `sender` (pingpong: the client is sender 0).
enum class Role : uint8_t { receiver, sender };
struct HostRef {
  Role role = Role::receiver;
  uint32_t sender = 0;
};

// At `at` the host removes its peer and adds it again, as srdxd's SIGHUP
// reload does when a peer's entry changes: its messages in flight fail with
// peer_removed, and the workload goes on with the new PeerId. A sender
// reloads the receiver; the receiver reloads sender `host.sender` (a peer it
// only accepted, accept_unknown_peers, is removed and not added back: the
// sender's next hello brings it back).
struct PeerReload {
  Time at;
  HostRef host = {Role::sender, 0};
};

// At `at` the host's endpoint is destroyed and a new one built (Host::restart):
// a new seed, and, while EndpointConfig::epoch exists, a larger epoch or a
// smaller one (the clock stepped back). A restarted sender's application
// restarts with it: the messages it had in flight are neither completed nor
// failed (counted as abandoned) and it goes on with the rest.
struct Restart {
  Time at;
  HostRef host;
  Clock clock = Clock::forward;
};

// From `start` for `length` the whole host is stopped (Host::freeze): nothing
// runs, datagrams to it wait in a socket buffer of `queue_bytes`.
struct Freeze {
  Time start;
  Duration length;
  HostRef host;
  uint64_t queue_bytes = kDefaultFrozenQueueBytes;
};

// A blind attacker (sim/attacker.h) forging packets from every sender to the
// receiver and from the receiver to every sender. Its seed comes from the
// scenario's.
struct Attack {
  Time start;
  Time end = Time::infinite();
  uint64_t rate_pps = 100'000;
  double new_identity = 0.1;  // AttackConfig::new_identity
};

struct ScenarioConfig {
  uint64_t seed = 1;
  NetworkConfig net;  // net.seed is replaced by `seed`
  std::vector<Blackhole> blackholes;
  std::vector<PeerReload> reloads;
  std::vector<Restart> restarts;
  std::vector<Freeze> freezes;
  std::vector<Attack> attacks;
  // An on-path attacker (sim/onpath.h) on the fabric; its seed is replaced
  // by one derived from the scenario's.
  std::optional<OnPathConfig> onpath;
  Workload workload = Workload::bulk;
  uint32_t senders = 1;  // bulk: many-to-one when more than one
  // Extra one-way delay between sender i and the fabric (Network::
  // set_access_delay); missing entries are 0. Mixed RTTs over one bottleneck.
  std::vector<Duration> sender_delay;
  uint64_t msg_size = 64u << 10;  // bytes; at least 8 (the index)
  uint64_t count = 1000;          // messages per sender, or round trips
  uint32_t window = 32;           // bulk: outstanding messages per sender
  // bulk: each sender's messages form one ordered flow (SendOptions::ordered);
  // the receiver then checks they arrive in send order, skipping only
  // messages whose sender was told they failed.
  bool ordered = false;
  EndpointConfig endpoint;                      // the seed is derived per host
  Duration time_limit = Duration::seconds(10);  // simulated
  // After the workload, how long to let acks and timers settle before
  // checking that every endpoint's buffers are empty.
  Duration drain_limit = Duration::millis(100);
  // Resolution of the delivered goodput timeline (ScenarioResult::timeline).
  Duration timeline_interval = Duration::millis(1);

  // Empty when usable; otherwise one line naming the field.
  std::string validate() const;
};

struct ScenarioResult {
  Workload workload = Workload::bulk;
  uint64_t messages_sent = 0;        // accepted by send()
  uint64_t send_errors = 0;          // refused by send() other than would_block
  uint64_t delivered = 0;            // delivered (at least once, intact)
  uint64_t duplicated = 0;           // delivered more than once: invariant
  uint64_t corrupted_delivered = 0;  // delivered with wrong bytes: invariant
  uint64_t order_violations = 0;     // ordered: delivered before an unresolved predecessor
  uint64_t missing = 0;              // neither delivered nor failed: invariant
  // Reported completed yet never delivered: a bulk message, a pingpong
  // request the server never got, or an echo the client never got. Invariant.
  uint64_t completed_not_delivered = 0;
  uint64_t failed = 0;                                    // send_failed
  std::array<uint64_t, kFailReasons> failed_by_reason{};  // indexed by FailReason
  uint64_t failed_but_delivered = 0;                      // reported failed, yet it did arrive
  // Of those, reported failed with Event::maybe_delivered false: the sender
  // was told it was not delivered. Invariant. Always 0 while Event has no
  // maybe_delivered (kEventSaysMaybeDelivered).
  uint64_t failed_not_maybe_but_delivered = 0;
  // In flight at a sender that restarted and never delivered: its
  // application went down with them, nobody is left to tell. Not a violation.
  uint64_t abandoned = 0;
  // Delivered messages an attacker forged (its payloads say so). Invariant.
  uint64_t forged_delivered = 0;
  uint64_t forged_sent = 0;  // datagrams the attackers sent
  // The on-path attacker: what it did, and what the endpoints did with the
  // datagrams it sent (summed over the hosts).
  OnPathCounters onpath;
  TaintCounters taint;
  // Messages handed up while an endpoint took a datagram the attacker made
  // or altered (Label: altered, reflected, forged). Invariant (encryption on;
  // with it off, the control: an on-path attacker gets them delivered).
  uint64_t made_delivered = 0;
  // Connections replaced by a new incarnation of their peer, over the
  // endpoints (EndpointStats::peer_restarts).
  uint64_t peer_restarts = 0;
  // Drops over the endpoints, by DropReason.
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> drops{};
  // The most peers the endpoints held beyond the configured ones, sampled
  // through the attacks and at the end. Invariant: strangers get no state.
  uint64_t extra_peers = 0;
  // Samples (at every delivery) where a host held more receive buffer than
  // recv_memory_bytes, or more peers than max_peers. Invariant.
  uint64_t over_caps = 0;
  uint64_t frozen_dropped = 0;  // datagrams a frozen host's full socket buffer dropped
  uint64_t peer_reloads = 0;    // PeerReload faults carried out
  uint64_t unacknowledged = 0;  // delivered, sender never told either way
  // Decode drops (bad checksum, ...) and, with encryption, tags that did not
  // verify (a corrupted sealed datagram, or an attacker's) at the endpoints.
  uint64_t corrupted_rejected = 0;
  uint64_t retransmissions = 0;
  // Why packets were declared lost (summed over the endpoints): retransmission
  // timeouts, per-path reordering, and how many of those losses an ACK later
  // showed to be only late (spurious).
  uint64_t rto_events = 0, reorder_losses = 0, spurious_losses = 0;
  uint64_t packets_sent = 0;  // by the endpoints
  // bulk: data packets the senders sent (first transmissions and repairs),
  // and of those, repairs (retransmissions).
  uint64_t sender_data_packets = 0, sender_retransmissions = 0;
  // bulk: payload bytes each sender got delivered between the first send
  // and the moment the first sender had all its messages delivered (while
  // every sender still had work: the interval fairness is judged on), and
  // Jain's fairness index over them, (sum x)^2 / (n sum x^2): 1 when equal,
  // 1/n when one sender had it all.
  std::vector<uint64_t> sender_bytes;
  double fairness = 0;
  Duration contended;  // that interval's length
  uint64_t peer_up = 0, peer_down = 0;

  bool latency_is_rtt = false;  // pingpong: RTT; bulk: send to delivery
  Percentiles latency;
  Duration elapsed;        // first send to last delivery
  double goodput_bps = 0;  // delivered payload bits / elapsed
  Duration longest_gap;    // between consecutive deliveries
  Time end_time;           // simulated time when the run ended
  bool timed_out = false;  // time_limit hit before the workload finished
  // Payload bytes delivered per timeline_interval from the start of the run,
  // at the final receiver (bulk: the receiver; pingpong: the client).
  Timeline timeline;
  // What the first blackhole did to that goodput (measured when there is one
  // and deliveries before and after it).
  Dip dip;

  std::vector<double> path_share;  // of a_to_b packets offered, per path
  std::vector<LinkCounters> path_a_to_b, path_b_to_a;
  bool drained = false;  // every endpoint's buffered bytes and messages back to 0
  uint64_t buffered_bytes = 0, buffered_messages = 0;  // at the end, summed
  uint64_t trace_hash = 0;

  bool ok() const {
    return missing == 0 && duplicated == 0 && corrupted_delivered == 0 && order_violations == 0 &&
           completed_not_delivered == 0 && failed_not_maybe_but_delivered == 0 &&
           forged_delivered == 0 && made_delivered == 0 && extra_peers == 0 && over_caps == 0;
  }
};

// Whether srdx::Event carries maybe_delivered (send_failed: the message may
// have been delivered). Detected, not assumed, so that the simulator builds
// against the endpoint before and after the field exists; while it does not,
// every failure counts as "maybe delivered".
template <class E>
inline constexpr bool kHasMaybeDelivered = requires(const E& e) {
  e.maybe_delivered;
};
inline constexpr bool kEventSaysMaybeDelivered = kHasMaybeDelivered<Event>;
template <class E>
bool maybe_delivered(const E& ev) {
  if constexpr (kHasMaybeDelivered<E>) {
    return ev.maybe_delivered;
  } else {
    return true;
  }
}

// The payload of message `index` of a run seeded `seed`.
void make_payload(uint64_t seed, uint64_t index, std::span<uint8_t> out);
// The index the payload claims, and whether every byte matches it.
bool check_payload(uint64_t seed, std::span<const uint8_t> data, uint64_t& index);

// Builds the network and hosts; tests may reach in (schedule actions, restart
// hosts, pause a reader) before run().
class Scenario {
 public:
  explicit Scenario(const ScenarioConfig& cfg);  // throws std::invalid_argument
  ~Scenario();

  Network& network() { return *net_; }
  Host& receiver() { return *hosts_.back(); }  // bulk receiver / pingpong server
  Host& sender(size_t i = 0) { return *hosts_.at(i); }
  size_t senders() const { return st_.size(); }
  Host& host(const HostRef& h) { return h.role == Role::receiver ? receiver() : sender(h.sender); }
  const std::vector<std::unique_ptr<Attacker>>& attackers() const { return attackers_; }
  const OnPath* onpath() const { return onpath_.get(); }

  // The faults of ScenarioConfig, also callable from a test's own actions.
  void reload_peer(const HostRef& h);
  void restart(const HostRef& h, Clock clock = Clock::forward);
  void freeze(const HostRef& h, uint64_t queue_bytes = kDefaultFrozenQueueBytes);
  void thaw(const HostRef& h);
  // Peers the endpoints hold beyond the configured ones, now.
  uint64_t extra_peers() const;
  void check_caps();

  ScenarioResult run();

 private:
  struct Record {
    Time sent_at = Time::infinite();
    Time delivered_at = Time::infinite();
    uint32_t deliveries = 0;  // at the final receiver
    uint32_t hop1 = 0;        // pingpong: requests delivered at the server
    bool completed = false;
    bool echo_completed = false;  // pingpong: the server was told the echo arrived
    FailReason failed = FailReason::none;
    bool maybe_delivered = true;  // with `failed`
    uint8_t failed_hop = 1;       // pingpong: 1 the request failed, 2 the echo
    bool abandoned = false;
    bool corrupted = false;
  };
  struct SenderState {
    PeerId peer = kNoPeer;
    uint64_t resolved = 0;  // ordered: messages below this index are delivered or failed
    uint64_t next = 0;      // next message index (within this sender)
    uint64_t outstanding = 0;
    bool retry_scheduled = false;
  };

  void on_sender_event(size_t s, const Event& ev, Time now);
  void on_receiver_event(const Event& ev, Time now);
  void top_up(size_t s);
  void ping_next();
  void on_arrival(uint64_t index, bool intact, Time now);
  void on_failed(Record& r, const Event& ev, uint8_t hop);
  void sample_peers();
  bool finished() const;
  void set_outage(const Blackhole& b, bool on);
  uint64_t total() const { return cfg_.count * senders(); }

  ScenarioConfig cfg_;
  std::unique_ptr<Network> net_;
  std::vector<std::unique_ptr<Host>> hosts_;  // senders..., then the receiver
  std::vector<std::unique_ptr<Attacker>> attackers_;
  std::unique_ptr<OnPath> onpath_;
  std::vector<SenderState> st_;
  std::vector<Record> rec_;
  std::vector<uint32_t> outages_;  // per link (path * 2 + dir): blackholes now in force
  std::vector<uint8_t> payload_;
  std::vector<Duration> latencies_;
  ScenarioResult res_;
  Time first_send_ = Time::infinite();
  Time last_delivery_ = Time::infinite();
  Duration longest_gap_;
  Time run_start_;
  uint64_t delivered_bytes_ = 0;
  std::vector<uint64_t> sender_bytes_;  // bulk: delivered per sender so far
  std::vector<uint64_t> sender_left_;   // bulk: messages per sender not yet delivered
  Time first_done_ = Time::infinite();  // when a sender first had everything delivered
  uint64_t pp_resolved_ = 0;            // pingpong: round trips finished either way
};

ScenarioResult run_scenario(const ScenarioConfig& cfg);

}  // namespace srdx::sim
