// Sender side record of every data packet in flight, indexed by packet
// number in a ring, with an intrusive list of the unacknowledged ones in
// packet-number (= send-time) order. ACK processing and the RTO scan walk
// only that list, so their cost follows what is in flight, not what was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "srdx/time.h"

namespace srdx {

struct SentPacket {
  uint64_t pn = 0;
  uint64_t msg_id = 0;
  uint64_t path_seq = 0;  // sequence of this packet on its path slot
  Time sent_time;
  uint32_t frag = 0;
  uint32_t bytes = 0;     // payload bytes (what congestion control counts)
  uint16_t slot = 0;      // path slot it was sent on
  uint32_t slot_gen = 0;  // that slot's generation (entropy) when sent
  bool in_flight = false;
  uint32_t prev = 0, next = 0;  // unacked list links (ring indices)
};

class SentPackets {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;

  // The ring is allocated by the first add() and given back by release(), so
  // a peer with nothing in flight costs a few words.
  explicit SentPackets(uint32_t capacity) : mask_(capacity - 1) {}

  // Whether packet number `pn` can be recorded without overwriting a packet
  // still in flight.
  bool has_room(uint64_t pn) const { return head_ == kNil || pn - ring_[head_].pn <= mask_; }
  SentPacket& add(const SentPacket& p);
  // Removes a packet from the in-flight list.
  void remove(SentPacket& p);
  SentPacket* find(uint64_t pn) {
    if (ring_.empty()) return nullptr;
    SentPacket& p = ring_[pn & mask_];
    return (p.in_flight && p.pn == pn) ? &p : nullptr;
  }

  SentPacket* first() { return head_ == kNil ? nullptr : &ring_[head_]; }
  SentPacket* next(const SentPacket& p) { return p.next == kNil ? nullptr : &ring_[p.next]; }
  uint32_t count() const { return count_; }
  void clear();
  // Gives the ring's memory back (nothing may be in flight).
  void release();
  size_t allocated_bytes() const { return ring_.capacity() * sizeof(SentPacket); }

 private:
  std::vector<SentPacket> ring_;
  uint64_t mask_;
  uint32_t head_ = kNil, tail_ = kNil, count_ = 0;
};

// Packets declared lost a short while ago. If an ACK names one of them later,
// the loss was spurious (the packet or its ACK was only late): that ACK is an
// RTT sample the estimator missed, and the penalties can be undone. Without
// it, a path whose real RTT jumps above the estimate (a descheduled receiver,
// a burst of queueing) keeps timing out without ever measuring how slow it is.
class RecentLosses {
 public:
  static constexpr size_t kCapacity = 256;
  struct Entry {
    SentPacket pkt;
    Time declared;
    bool by_timeout = false;
  };

  void add(const SentPacket& p, Time now, bool by_timeout) {
    if (!e_) e_ = std::make_unique<Entry[]>(kCapacity);  // first loss of a connection
    if (n_ == kCapacity) drop(0);                        // full: forget one
    e_[n_++] = Entry{p, now, by_timeout};
  }
  size_t size() const { return n_; }
  Entry& operator[](size_t i) { return e_[i]; }
  // Removes entry i (order is not kept).
  void drop(size_t i) { e_[i] = e_[--n_]; }
  void clear() { n_ = 0; }
  void release() {
    n_ = 0;
    e_.reset();
  }
  size_t allocated_bytes() const { return e_ ? kCapacity * sizeof(Entry) : 0; }

 private:
  std::unique_ptr<Entry[]> e_;
  size_t n_ = 0;
};

}  // namespace srdx
