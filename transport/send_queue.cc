#include "send_queue.h"

#include <cstring>

namespace srdx {

SendQueue::SendQueue(uint32_t capacity, BufferPool& pool) : mask_(capacity - 1), pool_(pool) {}

SendQueue::~SendQueue() {
  for (auto& m : ring_) {
    if (!m.live) continue;
    if (m.owned != BufferPool::kNone) pool_.put(m.owned);
    if (m.bits != BufferPool::kNone) pool_.put(m.bits);
  }
}

TxMsg& SendQueue::push(std::span<const uint8_t> data, const SendOptions& opt, Time deadline) {
  if (ring_.empty()) ring_.resize(mask_ + 1);
  const uint64_t id = next_id_++;
  TxMsg& m = ring_[id & mask_];
  m.id = id;
  m.len = static_cast<uint32_t>(data.size());
  m.owned = BufferPool::kNone;
  if (opt.copy && !data.empty()) {
    m.owned = pool_.get(data.size());
    std::memcpy(pool_.data(m.owned), data.data(), data.size());
    m.data = pool_.data(m.owned);
  } else {
    m.data = data.data();
  }
  m.frag_size = m.nfrags = m.next_frag = m.acked = 0;
  m.prev_delta = 0;
  if (opt.ordered) {
    auto [it, fresh] = last_of_flow_.try_emplace(opt.flow, id);
    if (!fresh) {
      // Chain to the previous message of the flow unless it is long finished
      // and out of reach of the 32-bit delta.
      uint64_t delta = id - it->second;
      m.prev_delta = delta <= 0xffffffffu ? static_cast<uint32_t>(delta) : 0;
      it->second = id;
    }
  }
  m.flow = opt.flow;
  m.live = true;
  m.started = false;
  m.deadline = deadline;
  m.cookie = opt.cookie;
  ++live_;
  bytes_ += m.len;
  return m;
}

TxMsg* SendQueue::next_unsent() {
  while (cursor_ < next_id_) {
    TxMsg& m = ring_[cursor_ & mask_];
    if (m.live && m.id == cursor_ && (!m.started || m.next_frag < m.nfrags)) return &m;
    ++cursor_;
  }
  return nullptr;
}

void SendQueue::start(TxMsg& m, uint32_t frag_size) {
  m.started = true;
  m.frag_size = frag_size;
  m.nfrags = m.len == 0 ? 1 : (m.len + frag_size - 1) / frag_size;
  if (m.nfrags > 1) m.bits = pool_.get_bitmap((m.nfrags + 63) / 64, m.acked_bits);
}

bool SendQueue::ack_frag(TxMsg& m, uint32_t f) {
  if (m.nfrags == 1) {
    if (m.acked) return false;
    m.acked = 1;
    return true;
  }
  uint64_t& w = m.acked_bits[f >> 6];
  const uint64_t bit = uint64_t{1} << (f & 63);
  if (w & bit) return false;
  w |= bit;
  ++m.acked;
  return true;
}

void SendQueue::reset() {
  for (auto& m : ring_)
    if (m.live) finish(m);
  next_id_ = floor_ = cursor_ = 0;
  last_of_flow_.clear();
  release();
}

void SendQueue::release() {
  if (live_ != 0) return;
  std::vector<TxMsg>().swap(ring_);
}

void SendQueue::finish(TxMsg& m) {
  if (m.owned != BufferPool::kNone) pool_.put(m.owned);
  if (m.bits != BufferPool::kNone) pool_.put(m.bits);
  m.owned = m.bits = BufferPool::kNone;
  m.acked_bits = nullptr;
  m.data = nullptr;
  m.live = false;
  --live_;
  bytes_ -= m.len;
  while (floor_ < next_id_) {
    TxMsg& f = ring_[floor_ & mask_];
    if (f.live && f.id == floor_) break;
    ++floor_;
  }
  if (cursor_ < floor_) cursor_ = floor_;
}

}  // namespace srdx
