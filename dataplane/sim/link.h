// One direction of one fabric path: its impairments (LinkParams), what it did
// (LinkCounters), and the timing model (Link).
//
// A packet entering a link goes through, in this order:
//   blackhole -> loss -> queue admission (tail drop) -> serialisation at `rate`
//   -> propagation `delay` + uniform `jitter` (+ reordering extra delay)
//   -> delivery, FIFO unless the packet was picked for reordering.
// Duplication and corruption act on the admitted packet: a duplicate is a second
// copy delivered right behind the original; corruption flips bytes of the copy.
#pragma once

#include <compare>  // srdx/time.h uses <=> but does not include it (yet)
#include <cstdint>

#include "srdx/time.h"

namespace srdx::sim {

class Rng;

struct LinkParams {
  Duration delay = Duration::micros(10);  // one-way propagation delay
  Duration jitter = Duration::zero();     // uniform extra delay in [0, jitter]
  // Jitter never reorders a path unless this is set: deliveries are FIFO per
  // path (delivery = max(previous delivery on the path, computed time)).
  bool jitter_reorders = false;
  uint64_t rate_bps = 0;     // serialisation rate, bits/s; 0 = infinitely fast
  uint64_t queue_bytes = 0;  // bytes waiting or in serialisation; 0 = unbounded
  double loss = 0.0;         // probability a packet is dropped
  double duplicate = 0.0;    // probability a packet is delivered twice
  double reorder = 0.0;      // probability a packet is held back and overtaken
  Duration reorder_delay = Duration::micros(50);  // held back by uniform (0, this]
  double corrupt = 0.0;    // probability one or more payload bytes are flipped
  bool blackhole = false;  // drop everything (a gray failure: the link stays up)
};

struct LinkCounters {
  uint64_t enqueued_packets = 0, enqueued_bytes = 0;    // offered to the link
  uint64_t delivered_packets = 0, delivered_bytes = 0;  // handed to a host
  uint64_t dropped_loss = 0, dropped_queue = 0, dropped_blackhole = 0;
  uint64_t duplicated = 0, corrupted = 0, reordered = 0;
  uint64_t dropped() const { return dropped_loss + dropped_queue + dropped_blackhole; }
};

// Which directions of a path a fault acts on: a_to_b is what side-A hosts
// send (the bulk sender's data), b_to_a what side-B hosts send (its ACKs).
enum class Directions : uint8_t { both = 0, a_to_b, b_to_a };
// A fault on every path rather than one.
inline constexpr uint32_t kAllPaths = 0xffffffffu;

enum class Verdict : uint8_t { deliver, drop_blackhole, drop_loss, drop_queue };

// What the link decided for one packet.
struct Admission {
  Verdict verdict = Verdict::deliver;
  Time deliver_at;         // when it reaches the far end
  bool duplicate = false;  // deliver a second copy at the same time, behind it
  bool corrupt = false;    // flip bytes of the delivered copy
  bool reordered = false;
};

class Link {
 public:
  LinkParams params;
  LinkCounters counters;

  // Decides the fate and timing of a packet of `wire_bytes` (what occupies the
  // link: datagram plus IP/UDP overhead) offered at `now`. Counts it.
  Admission admit(uint32_t wire_bytes, uint32_t payload_bytes, Time now, Rng& rng);

  // Bytes admitted but not yet fully serialised at `now`.
  uint64_t backlog_bytes(Time now) const;
  // Time to serialise `wire_bytes` at the current rate (rounded up to 1 ns).
  Duration serialisation(uint32_t wire_bytes) const;

 private:
  Time busy_until_;     // when the serialiser is free
  Time last_delivery_;  // FIFO floor for in-order packets
};

}  // namespace srdx::sim
