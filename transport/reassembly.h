// Receiver side of messages: fragments are placed into per-message buffers,
// each message is handed up exactly once when its last fragment lands (out of
// order across messages; in send order within a flow for ordered messages),
// and the receive window and buffer credit that flow control advertises are
// kept here. Message ids below `base` are finished: delivered, or abandoned by
// the sender (its msg_floor passed them).
#pragma once

#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "srdx/config.h"
#include "wire.h"

namespace srdx {

// Receive buffer memory of every peer together (EndpointConfig::
// recv_memory_bytes): each peer's Reassembly charges its messages here as
// well as against its own recv_buffer_bytes.
struct RecvBudget {
  uint64_t capacity = 0;
  uint64_t held = 0;
  uint64_t free() const { return held >= capacity ? 0 : capacity - held; }
};

class Reassembly {
 public:
  struct Sink {
    // A whole message, in `buf` (owned by the sink from now on), charged
    // `charge` bytes of receive buffer until release() is called.
    virtual void deliver(uint64_t msg_id, uint16_t flow, BufferPool::Handle buf, uint32_t len,
                         uint32_t charge) = 0;

    virtual ~Sink() = default;
  };

  enum class Verdict : uint8_t { accepted, duplicate, out_of_window, no_buffer, inconsistent };

  Reassembly(const EndpointConfig& cfg, BufferPool& pool, RecvBudget& budget);
  ~Reassembly();
  Reassembly(const Reassembly&) = delete;
  Reassembly& operator=(const Reassembly&) = delete;

  Verdict on_fragment(const wire::Data& d, Sink& sink);
  // The sender finished every message below `floor`.
  void raise_floor(uint64_t floor, Sink& sink);
  // The application consumed a delivered message.
  void release(uint32_t charge) { uncharge(charge); }
  // Forgets every message (the connection ended) and their charges, those of
  // messages the application still holds included (the endpoint ignores
  // their release()). Gives the rings back.
  void reset();
  // Gives the rings back when nothing in them is live (on_fragment()
  // allocates them again); the window position stays. False when something
  // is (a partial message, or one delivered above a gap).
  bool release_memory();
  size_t allocated_bytes() const {
    return msgs_.capacity() * sizeof(Msg) + done_.capacity() * sizeof(uint64_t) +
           held_ids_.capacity() * sizeof(uint64_t);
  }

  uint64_t base() const { return base_; }
  uint64_t max_msg_id() const { return base_ + window_; }
  // What a sender may still start: this peer's room, within what is left of
  // every peer's.
  uint64_t free_bytes() const {
    const uint64_t own = held_ >= capacity_ ? 0 : capacity_ - held_;
    return own < budget_.free() ? own : budget_.free();
  }
  uint64_t held_bytes() const { return held_; }
  uint64_t partial_messages() const { return active_; }

 private:
  struct Msg {
    uint64_t id = 0;
    bool active = false, complete = false, ordered = false;
    uint16_t flow = 0;
    uint32_t len = 0, frag_size = 0, nfrags = 0, got = 0, prev_delta = 0, charge = 0;
    BufferPool::Handle buf = BufferPool::kNone;
    BufferPool::Handle bits = BufferPool::kNone;
    uint64_t* frags = nullptr;  // received-fragment bitmap (multi-fragment only)
  };
  Msg& slot(uint64_t id) { return msgs_[id & (window_ - 1)]; }
  bool delivered(uint64_t id) const {
    return id < base_ || ((done_[(id & (window_ - 1)) >> 6] >> (id & 63)) & 1);
  }
  bool predecessor_done(const Msg& m) const {
    return m.prev_delta == 0 || delivered(m.id - m.prev_delta);
  }
  // Marks m delivered and hands its buffer to the sink.
  void give(Msg& m, Sink& sink);
  void hand_up(Msg& m, Sink& sink);
  void drop(Msg& m);
  void release_bits(Msg& m);
  void charge(uint32_t c) {
    held_ += c;
    budget_.held += c;
  }
  void uncharge(uint64_t c) {
    const uint64_t n = c <= held_ ? c : held_;
    held_ -= n;
    budget_.held -= n <= budget_.held ? n : budget_.held;
  }
  void advance_base();
  void deliver_ready_held(Sink& sink);

  const EndpointConfig& cfg_;
  BufferPool& pool_;
  RecvBudget& budget_;
  uint64_t window_;
  uint64_t capacity_;
  std::vector<Msg> msgs_;
  std::vector<uint64_t> done_;      // delivered bits for ids in [base, base + window)
  std::vector<uint64_t> held_ids_;  // complete ordered messages waiting for their predecessor
  uint64_t base_ = 0;
  uint64_t held_ = 0;  // bytes charged: partial, waiting and undelivered-to-app messages
  uint64_t active_ = 0;
};

}  // namespace srdx
