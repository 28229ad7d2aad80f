#include "reassembly.h"

#include <algorithm>
#include <cstring>

namespace srdx {

Reassembly::Reassembly(const EndpointConfig& cfg, BufferPool& pool, RecvBudget& budget)
    : cfg_(cfg),
      pool_(pool),
      budget_(budget),
      window_(cfg.recv_msg_window),
      capacity_(cfg.recv_buffer_bytes) {}

Reassembly::~Reassembly() { reset(); }

void Reassembly::reset() {
  for (auto& m : msgs_)
    if (m.active) drop(m);
  std::vector<uint64_t>().swap(held_ids_);
  base_ = 0;
  active_ = 0;
  uncharge(held_);
  std::vector<Msg>().swap(msgs_);
  std::vector<uint64_t>().swap(done_);
}

bool Reassembly::release_memory() {
  if (active_ != 0 || !held_ids_.empty()) return false;
  for (uint64_t w : done_)
    if (w) return false;  // delivered out of order above base: still needed
  std::vector<Msg>().swap(msgs_);
  std::vector<uint64_t>().swap(done_);
  std::vector<uint64_t>().swap(held_ids_);
  return true;
}

void Reassembly::release_bits(Msg& m) {
  if (m.bits != BufferPool::kNone) pool_.put(m.bits);
  m.bits = BufferPool::kNone;
  m.frags = nullptr;
}

void Reassembly::drop(Msg& m) {
  if (m.buf != BufferPool::kNone) pool_.put(m.buf);
  m.buf = BufferPool::kNone;
  release_bits(m);
  uncharge(m.charge);
  m.active = false;
  m.complete = false;
  --active_;
}

Reassembly::Verdict Reassembly::on_fragment(const wire::Data& d, Sink& sink) {
  if (msgs_.empty()) {
    msgs_.resize(window_);
    done_.assign((window_ + 63) / 64, 0);
  }
  const uint64_t id = d.msg_id;
  if (delivered(id)) return Verdict::duplicate;
  if (id >= base_ + window_) return Verdict::out_of_window;
  Msg& m = slot(id);
  const uint32_t nfrags =
      d.msg_len == 0 ? 1
                     : static_cast<uint32_t>((uint64_t{d.msg_len} + d.frag_size - 1) / d.frag_size);
  if (!m.active) {
    if (d.msg_len > cfg_.max_message_size) return Verdict::inconsistent;
    const uint32_t charge = static_cast<uint32_t>(tuning::credit_charge(d.msg_len));
    if (held_ + charge > capacity_ || budget_.held + charge > budget_.capacity)
      return Verdict::no_buffer;
    m.id = id;
    m.active = true;
    m.complete = false;
    m.ordered = (d.prev_delta != 0);
    m.flow = d.flow;
    m.len = d.msg_len;
    m.frag_size = d.frag_size;
    m.nfrags = nfrags;
    m.got = 0;
    m.prev_delta = d.prev_delta;
    m.charge = charge;
    m.buf = pool_.get(d.msg_len);
    if (nfrags > 1) m.bits = pool_.get_bitmap((nfrags + 63) / 64, m.frags);
    this->charge(charge);
    ++active_;
  } else if (m.id != id || m.len != d.msg_len || m.frag_size != d.frag_size ||
             m.prev_delta != d.prev_delta) {
    return Verdict::inconsistent;
  }
  if (m.complete) return Verdict::duplicate;
  if (nfrags > 1) {
    uint64_t& w = m.frags[d.frag_index >> 6];
    const uint64_t bit = uint64_t{1} << (d.frag_index & 63);
    if (w & bit) return Verdict::duplicate;
    w |= bit;
  }
  if (d.payload_len)
    std::memcpy(pool_.data(m.buf) + uint64_t{d.frag_index} * m.frag_size, d.payload.data(),
                d.payload_len);
  if (++m.got < m.nfrags) return Verdict::accepted;
  m.complete = true;
  if (predecessor_done(m)) {
    hand_up(m, sink);
    deliver_ready_held(sink);
  } else {
    held_ids_.push_back(id);
  }
  return Verdict::accepted;
}

void Reassembly::give(Msg& m, Sink& sink) {
  const uint64_t id = m.id;
  done_[(id & (window_ - 1)) >> 6] |= uint64_t{1} << (id & 63);
  BufferPool::Handle buf = m.buf;
  m.buf = BufferPool::kNone;
  release_bits(m);
  m.active = false;
  m.complete = false;
  --active_;
  // The charge stays on held_ until the application consumes the message.
  sink.deliver(id, m.flow, buf, m.len, m.charge);
}

void Reassembly::hand_up(Msg& m, Sink& sink) {
  give(m, sink);
  advance_base();
}

void Reassembly::advance_base() {
  if (done_.empty()) return;
  while (true) {
    uint64_t& w = done_[(base_ & (window_ - 1)) >> 6];
    const uint64_t bit = uint64_t{1} << (base_ & 63);
    if (!(w & bit)) return;
    w &= ~bit;
    ++base_;
  }
}

void Reassembly::deliver_ready_held(Sink& sink) {
  bool progress = true;
  while (progress && !held_ids_.empty()) {
    progress = false;
    for (size_t i = 0; i < held_ids_.size(); ++i) {
      Msg& m = slot(held_ids_[i]);
      if (!predecessor_done(m)) continue;
      held_ids_[i] = held_ids_.back();
      held_ids_.pop_back();
      hand_up(m, sink);
      progress = true;
      break;
    }
  }
}

void Reassembly::raise_floor(uint64_t floor, Sink& sink) {
  if (floor <= base_) return;
  if (msgs_.empty()) {  // nothing held: only the window moves
    base_ = floor;
    return;
  }
  // Complete messages below the floor are delivered (their predecessors are
  // finished by definition); partial ones were given up by the sender.
  std::sort(held_ids_.begin(), held_ids_.end());
  size_t kept = 0;
  for (size_t i = 0; i < held_ids_.size(); ++i) {
    uint64_t id = held_ids_[i];
    if (id < floor) {
      give(slot(id), sink);
    } else {
      held_ids_[kept++] = id;
    }
  }
  held_ids_.resize(kept);
  const uint64_t end = std::min(floor, base_ + window_);
  for (uint64_t id = base_; id < end; ++id) {
    Msg& m = slot(id);
    if (m.active && m.id == id) drop(m);
    done_[(id & (window_ - 1)) >> 6] &= ~(uint64_t{1} << (id & 63));
  }
  base_ = floor;
  if (floor > end) {
    // The floor jumped past the whole window: nothing in it can be live.
    std::fill(done_.begin(), done_.end(), 0);
  }
  advance_base();
  deliver_ready_held(sink);
}

}  // namespace srdx
