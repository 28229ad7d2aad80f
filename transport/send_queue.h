// Sender side of messages: the messages a connection has accepted and not
// yet finished, in a ring indexed by message id. Tracks which fragments are
// unsent and which are acknowledged; a message completes when every fragment
// is acknowledged, and the lowest unfinished id is the msg_floor carried to
// the receiver.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "buffer_pool.h"
#include "srdx/endpoint.h"

namespace srdx {

struct TxMsg {
  uint64_t id = 0;
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t frag_size = 0, nfrags = 0, next_frag = 0, acked = 0, prev_delta = 0;
  uint16_t flow = 0;
  bool live = false, started = false;
  BufferPool::Handle owned = BufferPool::kNone;
  Time deadline;
  uint64_t cookie = 0;
  BufferPool::Handle bits = BufferPool::kNone;  // acked_bits' storage
  uint64_t* acked_bits = nullptr;               // multi-fragment messages only

  bool frag_acked(uint32_t f) const {
    return nfrags == 1 ? acked != 0 : (acked_bits[f >> 6] >> (f & 63)) & 1;
  }
  uint32_t frag_len(uint32_t f) const {
    uint64_t off = uint64_t{f} * frag_size;
    uint64_t rest = len - off;
    return static_cast<uint32_t>(rest < frag_size ? rest : frag_size);
  }
};

class SendQueue {
 public:
  SendQueue(uint32_t capacity, BufferPool& pool);
  ~SendQueue();
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  bool full() const { return next_id_ - floor_ > mask_; }
  // Accepts a message; the caller checked !full().
  TxMsg& push(std::span<const uint8_t> data, const SendOptions& opt, Time deadline);

  // Message ids between floor() and next_id() are in the ring (when there
  // are any, the ring is allocated).
  TxMsg* find(uint64_t id) {
    if (id < floor_ || id >= next_id_) return nullptr;
    TxMsg& m = ring_[id & mask_];
    return m.live ? &m : nullptr;
  }
  const TxMsg* find(uint64_t id) const { return const_cast<SendQueue*>(this)->find(id); }
  // Fixes the fragmentation of a message about to send its first packet.
  void start(TxMsg& m, uint32_t frag_size);
  // The oldest message with fragments never sent, or null.
  TxMsg* next_unsent();
  const TxMsg* next_unsent() const { return const_cast<SendQueue*>(this)->next_unsent(); }
  // Marks fragment f acknowledged; true if it was not before.
  bool ack_frag(TxMsg& m, uint32_t f);
  // Removes a completed or failed message and advances the floor.
  void finish(TxMsg& m);
  // Forgets every message (they must all be finished) and restarts ids at 0:
  // a new connection numbers its messages from 0.
  void reset();
  // Gives the ring's memory back when no message is live (push() allocates
  // it again), so a peer with nothing to send costs a few words.
  void release();
  size_t allocated_bytes() const { return ring_.capacity() * sizeof(TxMsg); }

  uint64_t floor() const { return floor_; }
  uint64_t next_id() const { return next_id_; }
  uint64_t live() const { return live_; }
  uint64_t buffered_bytes() const { return bytes_; }

 private:
  std::vector<TxMsg> ring_;
  uint64_t mask_;
  BufferPool& pool_;
  uint64_t next_id_ = 0, floor_ = 0, cursor_ = 0;
  uint64_t live_ = 0, bytes_ = 0;
  std::unordered_map<uint16_t, uint64_t> last_of_flow_;  // ordered flows: last message id
};

}  // namespace srdx
