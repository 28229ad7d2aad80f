// A deterministic discrete-event model of a multipath fabric:
//
//   host --+                                +-- host
//   host --+-- r1 ==== N parallel paths ==== r2 --+-- host
//   host --+        (each direction its own       +-- host
//                    queue, rate, impairments)
//
// Hosts attach on side A (behind r1) or side B (behind r2). Host links are
// ideal; every delay, rate and impairment lives on the N paths. A datagram's
// path is chosen as an ECMP router would: by hashing (src ip, dst ip, src
// port, dst port) with a per-direction salt, so one source port (the srdx
// entropy) always takes the same path while different ones spread. Salts and
// impairment draws come from the seed: the same seed gives the same run.
//
// Virtual time jumps from event to event: the next delivery, the next
// scheduled action (`at`), or the earliest deadline an attached Port reports.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <unordered_map>
#include <vector>

#include "sim/link.h"
#include "sim/rng.h"
#include "srdx/endpoint.h"
#include "srdx/time.h"

namespace srdx::sim {

enum class Side : uint8_t { a = 0, b = 1 };
// Direction on a path: a_to_b carries what side-A hosts send.
enum class Dir : uint8_t { a_to_b = 0, b_to_a = 1 };

// Who made a datagram's bytes, as the test harness (never the endpoint)
// sees it: a host, or an on-path attacker (sim/onpath.h). An attacker's
// `delayed` datagram is a host's own, held back and released unchanged.
enum class Label : uint8_t { genuine = 0, delayed, copy, altered, reflected, forged };
inline constexpr size_t kLabels = 6;
// Bytes the attacker made or changed (a copy is a host's bytes, verbatim).
constexpr bool is_made(Label l) {
  return l == Label::altered || l == Label::reflected || l == Label::forged;
}

// A datagram as it reaches its destination.
struct Datagram {
  Addr src;               // sender's address (ip, its listening port)
  uint16_t src_port = 0;  // UDP source port: the sender's entropy
  Addr dst;
  uint32_t path = 0;  // the fabric path it took
  Dir dir = Dir::a_to_b;
  uint64_t id = 0;  // per send; a duplicate carries the original's id
  bool duplicate = false, corrupted = false, reordered = false;
  Label label = Label::genuine;
  std::span<const uint8_t> bytes;
};

// A tap on the fabric: an on-path attacker sees every datagram a port sends
// (Network::send), before the fabric does. Returning false takes the
// datagram off the wire (dropped, or held to be sent later by inject()).
class Tap {
 public:
  virtual ~Tap() = default;
  virtual bool on_send(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes,
                       Time now) = 0;
};

// Something attached to the network at an address: a simulated host, or a
// test probe capturing deliveries.
class Port {
 public:
  virtual ~Port() = default;
  // A datagram arrived. Its bytes are valid only during the call.
  virtual void deliver(const Datagram& d, Time now) = 0;
  // When this port next wants poll(); Time::infinite() when idle.
  virtual Time deadline() const { return Time::infinite(); }
  // Called once per simulation step, after the step's deliveries.
  virtual void poll(Time now) { (void)now; }
};

struct NetworkConfig {
  uint64_t seed = 1;
  uint32_t paths = 4;
  LinkParams link;                // every path, both directions, at time zero
  uint32_t overhead_bytes = 28;   // IPv4 + UDP headers, counted by serialisation
  uint32_t max_datagram = 65507;  // larger sends are refused (counted)
};

struct NetworkCounters {
  uint64_t sent = 0;       // send() calls
  uint64_t no_route = 0;   // no port at the destination address
  uint64_t too_large = 0;  // larger than max_datagram
  uint64_t delivered = 0;  // handed to a port (duplicates included)
};

class Network {
 public:
  using Action = std::function<void(Network&)>;

  explicit Network(const NetworkConfig& cfg);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkConfig& config() const { return cfg_; }
  Time now() const { return now_; }
  uint32_t paths() const { return static_cast<uint32_t>(links_.size() / 2); }

  // Attaches a port at `addr` on `side`. Throws std::invalid_argument if the
  // address is taken. The port must outlive its attachment.
  void attach(Port& port, Addr addr, Side side);
  void detach(Port& port);
  // Extra one-way delay on the host link of the port at `addr`, both ways:
  // added to every datagram it sends or receives, after the fabric (so its
  // RTT grows by twice `delay` while the paths' queues stay shared). A host
  // far from a bottleneck that nearby hosts also cross. Throws
  // std::invalid_argument if nothing is attached at `addr` or `delay` < 0.
  void set_access_delay(Addr addr, Duration delay);

  // Sends `bytes` from `src` (the sender's address) with UDP source port
  // `src_port` to `dst`, at now(). Returns false when refused (no route, too
  // large); true when handed to the fabric (it may still be dropped there).
  bool send(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes);
  // Like send(), past the tap, the datagram labelled (what an attacker sends).
  bool inject(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes, Label label);
  // At most one tap; nullptr removes it. The tap must outlive its setting.
  void set_tap(Tap* tap) { tap_ = tap; }

  // The path ECMP picks for this 5-tuple (independent of traffic and time).
  uint32_t path_of(Addr src, uint16_t src_port, Addr dst) const;
  Dir dir_of(Addr src) const;

  Link& link(uint32_t path, Dir dir) { return links_.at(path * 2 + static_cast<uint32_t>(dir)); }
  const Link& link(uint32_t path, Dir dir) const {
    return links_.at(path * 2 + static_cast<uint32_t>(dir));
  }
  // Changes one path (both directions) or every path, from now on.
  void set_path(uint32_t path, const std::function<void(LinkParams&)>& change);
  void set_all(const std::function<void(LinkParams&)>& change);
  const NetworkCounters& counters() const { return counters_; }
  // Sum over every path of one direction.
  LinkCounters total(Dir dir) const;

  // Runs `action` when virtual time reaches `t` (now() if t is in the past),
  // before that step's deliveries. Actions at the same time run in the order
  // they were scheduled.
  void at(Time t, Action action);

  // The time of the next event; Time::infinite() when nothing is pending.
  Time next_event() const;
  // Advances to the next event if it is at or before `limit` and processes
  // it: due actions, due deliveries, then every port's poll(). Returns false
  // (and moves now() to `limit` if finite) when there is no such event.
  bool step(Time limit = Time::infinite());
  // Processes every event up to `t`; now() ends at `t`.
  void run_until(Time t);
  // Steps while `keep_going()` holds and time stays at or before `limit`.
  // Returns true when the predicate became false, false when time ran out or
  // nothing was left to happen.
  bool run_while(const std::function<bool()>& keep_going, Time limit);

  // A running hash of every delivery (time, addresses, ports, path, bytes):
  // equal runs have equal hashes.
  uint64_t trace_hash() const { return trace_hash_; }
  // When the last packet accepted so far arrives (queues can hold seconds of
  // packets on a slow path): nothing sent until now is in flight after it.
  Time latest_arrival() const { return latest_arrival_; }

 private:
  struct InFlight {
    Time at;
    uint64_t order = 0;  // tie-break: FIFO among equal times
    uint64_t id = 0;
    uint32_t buf = 0;
    uint32_t len = 0;
    Addr src, dst;
    uint16_t src_port = 0;
    uint32_t path = 0;
    Dir dir = Dir::a_to_b;
    bool duplicate = false, corrupted = false, reordered = false;
    Label label = Label::genuine;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct Scheduled {
    Time at;
    uint64_t order = 0;
    size_t slot = 0;
    bool operator>(const Scheduled& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct Attachment {
    Port* port = nullptr;
    Addr addr;
    Side side = Side::a;
    Duration access_delay;  // set_access_delay
  };

  static uint64_t key(Addr a) { return (static_cast<uint64_t>(a.ip) << 16) | a.port; }
  uint32_t take_buffer(std::span<const uint8_t> bytes);
  void release_buffer(uint32_t buf) { free_bufs_.push_back(buf); }
  void corrupt(uint32_t buf, uint32_t len, Rng& rng);
  void deliver(const InFlight& p);

  NetworkConfig cfg_;
  Time now_;
  uint64_t salt_[2] = {};
  std::vector<Link> links_;  // path * 2 + dir
  std::vector<Rng> rngs_;    // one stream per link: paths do not perturb each other
  std::unordered_map<uint64_t, Attachment> by_addr_;
  std::vector<Attachment> ports_;  // attach order: the order poll() runs in
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> inflight_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> scheduled_;
  std::vector<Action> actions_;  // slots referenced by scheduled_
  std::vector<size_t> free_actions_;
  std::vector<std::vector<uint8_t>> bufs_;  // packet buffers, recycled
  std::vector<uint32_t> free_bufs_;
  NetworkCounters counters_;
  Tap* tap_ = nullptr;
  uint64_t next_order_ = 0, next_id_ = 0;
  uint64_t trace_hash_ = 0;
  uint64_t stalled_steps_ = 0;
  Time latest_arrival_;
};

}  // namespace srdx::sim
