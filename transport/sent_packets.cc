#include "sent_packets.h"

namespace srdx {

SentPacket& SentPackets::add(const SentPacket& p) {
  if (ring_.empty()) ring_.resize(mask_ + 1);
  uint32_t i = static_cast<uint32_t>(p.pn & mask_);
  SentPacket& s = ring_[i];
  s = p;
  s.in_flight = true;
  s.next = kNil;
  s.prev = tail_;
  if (tail_ != kNil) ring_[tail_].next = i;
  tail_ = i;
  if (head_ == kNil) head_ = i;
  ++count_;
  return s;
}

void SentPackets::remove(SentPacket& p) {
  uint32_t i = static_cast<uint32_t>(p.pn & mask_);
  if (p.prev != kNil)
    ring_[p.prev].next = p.next;
  else
    head_ = p.next;
  if (p.next != kNil)
    ring_[p.next].prev = p.prev;
  else
    tail_ = p.prev;
  p.in_flight = false;
  (void)i;
  --count_;
}

void SentPackets::clear() {
  for (SentPacket* p = first(); p;) {
    SentPacket* n = next(*p);
    p->in_flight = false;
    p = n;
  }
  head_ = tail_ = kNil;
  count_ = 0;
}

void SentPackets::release() {
  clear();
  std::vector<SentPacket>().swap(ring_);
}

}  // namespace srdx
