// The receive path of a connection: data fragments into reassembly and the
// ACK tracker, ACKs into completion, RTT samples, congestion control and
// loss detection (per-path order, and late ACKs that undo a loss).
#include <algorithm>

#include "endpoint_impl.h"

namespace srdx {

void Endpoint::Impl::on_data(Peer& p, const wire::Packet& pkt, uint16_t entropy, Time now) {
  const wire::Data& d = pkt.data;
  if (!check_connection(p, pkt.common.src_cid, d.dst_cid, now)) return;
  const uint64_t msg_floor = d.msg_id - d.msg_floor_delta;
  delivering_ = &p;
  p.rx.raise_floor(msg_floor, *this);
  Reassembly::Verdict v = p.rx.on_fragment(d, *this);
  switch (v) {
    case Reassembly::Verdict::out_of_window:
      return drop(DropReason::out_of_window);
    case Reassembly::Verdict::no_buffer:
      return drop(DropReason::no_buffer);
    case Reassembly::Verdict::inconsistent:
      return drop(DropReason::bad_field);
    case Reassembly::Verdict::duplicate:
      ++stats_.duplicate_fragments;
      break;
    case Reassembly::Verdict::accepted:
      break;
  }
  if (p.features & wire::feature::kShare)
    count_share(p, d.payload_len + wire::kCommonHeaderSize + wire::kDataSize, now);
  if (p.acks.any() && d.pn < p.acks.largest()) ++stats_.out_of_order_packets;
  p.acks.on_packet(d.pn, now, rx_lag_);
  p.ack_entropy = entropy;
  if (p.features & wire::feature::kAckEcho) {
    if (pkt.common.echo) {
      p.ack_paths.on_echo(pkt.common.echo, now);
    } else {
      p.ack_paths.judge(now);
    }
  }
  p.acks.raise_floor(d.pn - d.pn_floor_delta);
  ++p.ack_pending;
  // A repair: our ACK of the first copy, or that copy, was lost. Its ACK
  // goes out again on fresh draws too, in case our ACK paths died (when
  // they have, only ACKs on other paths get the sender going again).
  if ((pkt.common.flags & wire::flag::kRetransmission) && (p.features & wire::feature::kAckEcho))
    p.ack_copies = tuning::kRepairAckCopies;
  if (p.ack_pending >= cfg_.ack_every || (pkt.common.flags & wire::flag::kAckNow) ||
      v == Reassembly::Verdict::duplicate) {
    p.ack_due = true;
    want_ctrl(p);
  } else if (p.ack_deadline.is_infinite()) {
    p.ack_deadline = now + cfg_.ack_delay;
  }
}

// Feature kShare: what each peer sends us, against the mean of those that
// sent in the same interval of tuning::kShareInterval. At each interval's
// end every active peer's share is fixed for the ACKs of the next; a peer
// alone, or one that went quiet, gets none (0). Costs what the active peers
// cost, not the table.
void Endpoint::Impl::count_share(Peer& p, uint32_t bytes, Time now) {
  if (now >= share_end_) {
    for (const PeerId id : share_last_)
      if (Peer* q = peer(id)) q->share_adv = 0;
    uint64_t total = 0;
    for (const PeerId id : share_now_)
      if (const Peer* q = peer(id)) total += q->share_bytes;
    const uint64_t n = share_now_.size();
    for (const PeerId id : share_now_) {
      Peer* q = peer(id);
      if (!q) continue;
      if (n >= 2 && total > 0) {
        const uint64_t s = q->share_bytes * n * wire::kShareOne / total;
        q->share_adv = static_cast<uint16_t>(std::clamp<uint64_t>(s, 1, 0xffff));
      }
      q->share_bytes = 0;
      q->share_listed = false;
    }
    share_last_.swap(share_now_);
    share_now_.clear();
    share_end_ = now + tuning::kShareInterval;
  }
  if (!p.share_listed) {
    p.share_listed = true;
    share_now_.push_back(p.id);
  }
  p.share_bytes += bytes;
}

// Feature kShare: the window a connection starting now gets (hello_ack
// initial_window). n connections starting into one receiver at once would
// otherwise send n initial windows in their first round trip, before any
// feedback (64 x 64 KiB into 256 KiB of switch queues: most of it dropped).
// 0 (no figure) when the peer did not offer the feature: an older peer
// refuses a nonzero field there.
uint32_t Endpoint::Impl::start_grant(const wire::Hello& offer, Time now) {
  if (!(offer.features & offered_features() & wire::feature::kShare)) return 0;
  while (starts_.size() &&
         (now - starts_[0] >= tuning::kStartWindow || starts_.size() >= tuning::kStartsKept))
    starts_.pop();
  starts_.push(now);
  const uint64_t n = starts_.size() + std::max(share_now_.size(), share_last_.size());
  return static_cast<uint32_t>(std::clamp<uint64_t>(cfg_.cc_initial_window / n, 1, 0xffffffffu));
}

// Returns false when the ACK was dropped: not of this connection.
bool Endpoint::Impl::on_ack(Peer& p, const wire::Packet& pkt, uint16_t entropy, Time now) {
  const wire::Ack& a = pkt.ack;
  if (!check_connection(p, pkt.common.src_cid, a.dst_cid, now)) return false;
  // This ACK's path works back to us: say so in the next data packets.
  if (p.features & wire::feature::kAckEcho) p.echoes.on_ack(entropy);
  if (!p.have_ack_seq || static_cast<int32_t>(a.ack_seq - p.last_ack_seq_rx) > 0) {
    p.have_ack_seq = true;
    p.last_ack_seq_rx = a.ack_seq;
    p.peer_max_msg_id = std::max(p.peer_max_msg_id, a.max_msg_id);
    p.peer_free = a.free_buffer;
    if (p.features & wire::feature::kShare)
      p.cc.on_share(static_cast<double>(a.share) / wire::kShareOne, p.paths.srtt(), now);
    if (p.peer_free >= p.started_unseen) p.probe_next = Time::infinite();
    complete_delivered_ordered(p);
  }
  // The peer's own send floor: messages it gave up on. If that lets us hand
  // up messages, the peer learns the new window from an ACK.
  delivering_ = &p;
  const uint64_t base = p.rx.base();
  p.rx.raise_floor(a.msg_floor, *this);
  if (p.rx.base() != base) {
    p.ack_due = true;
    want_ctrl(p);
  }
  if (a.range_count == 0) return true;

  // Pass 1: everything the ranges cover (ranges are descending; the list
  // ascends).
  const Duration ack_delay = Duration::nanos(a.ack_delay_ns);
  // How long largest_pn waited in the peer's host before it was handled
  // (feature kRxWait): with our own wait for this ACK, host time that the
  // congestion control leaves out (on_packet_acked).
  const Duration peer_wait =
      (p.features & wire::feature::kRxWait) ? Duration::micros(pkt.common.echo) : Duration::zero();
  int r = a.range_count - 1;
  bool any_acked = false;
  for (SentPacket* s = p.sent.first(); s && s->pn <= a.largest_pn;) {
    SentPacket* next = p.sent.next(*s);
    while (r >= 0 && a.ranges[r].hi < s->pn) --r;
    if (r < 0) break;
    if (a.ranges[r].lo <= s->pn) {
      // The ACK delay is the time the receiver held largest_pn: only that
      // packet's sample may subtract it (RFC 9002, 5.3). The others waited
      // there for an unknown part of it, so theirs are taken whole.
      on_packet_acked(p, *s, now, s->pn == a.largest_pn ? ack_delay : Duration::zero(),
                      (s->pn == a.largest_pn ? peer_wait : Duration::zero()) + rx_lag_);
      any_acked = true;
    }
    s = next;
  }
  // Pass 2: per-path order. A path delivers in order, so a packet overtaken
  // on its own path is lost: at once when reorder_threshold later packets
  // of that path were acknowledged; when only one was, once it is also
  // older than twice the path's smoothed RTT (ACKs come back over other paths
  // and may themselves be reordered; a path carries few
  // packets of a sprayed connection, so the count alone comes too rarely).
  for (SentPacket* s = p.sent.first(); s && s->pn < a.largest_pn;) {
    SentPacket* next = p.sent.next(*s);
    const PathSlot& slot = p.paths.slot(s->slot);
    // Only against packets of the same entropy: after a slot moves to a new
    // one, older packets on the old path are judged by the RTO alone.
    if (s->slot_gen == slot.generation &&
        (p.paths.overtaken(s->slot, s->path_seq, cfg_.reorder_threshold) ||
         (p.paths.overtaken(s->slot, s->path_seq, 1) && slot.has_rtt &&
          now - s->sent_time > slot.srtt * 2 + cfg_.ack_delay))) {
      ++stats_.reorder_losses;
      p.paths.on_lost(s->slot, now);
      lose(p, *s, now, false);
    }
    s = next;
  }
  if (p.recent_losses.size()) check_late_acks(p, a, now, ack_delay);
  drop_stale_retx(p);
  if (any_acked) p.paths.refresh(now);
  arm_rto(p);
  return true;
}

// Packets declared lost that this ACK names after all: the loss was only a
// delay. Learn the path's real RTT from it, undo the penalties, and count
// the fragment as delivered (its repair may still be queued; it is skipped).
void Endpoint::Impl::check_late_acks(Peer& p, const wire::Ack& a, Time now, Duration ack_delay) {
  const uint64_t lowest = a.ranges[a.range_count - 1].lo;
  for (size_t i = 0; i < p.recent_losses.size();) {
    RecentLosses::Entry& e = p.recent_losses[i];
    const uint64_t pn = e.pkt.pn;
    bool acked = false;
    if (pn >= lowest && pn <= a.largest_pn) {
      for (int r = 0; r < a.range_count && !acked; ++r)
        acked = a.ranges[r].lo <= pn && pn <= a.ranges[r].hi;
    }
    if (!acked) {
      // Past the longest an ACK can plausibly be late: forget it.
      if (now - e.declared > cfg_.rto_max) {
        p.recent_losses.drop(i);
      } else {
        ++i;
      }
      continue;
    }
    ++stats_.spurious_losses;
    Duration rtt = now - e.pkt.sent_time;
    const Duration held = min(ack_delay, cfg_.ack_delay);
    if (pn == a.largest_pn && rtt > held) rtt -= held;
    p.paths.on_late_ack(e.pkt.slot, e.pkt.slot_gen, e.pkt.path_seq, rtt);
    p.acked_sent_max = max(p.acked_sent_max, e.pkt.sent_time);
    if (e.by_timeout) p.cc.undo_timeout();
    p.cc.undo_loss(e.pkt.sent_time);
    const uint64_t msg_id = e.pkt.msg_id;
    const uint32_t frag = e.pkt.frag;
    p.recent_losses.drop(i);
    finish_fragment(p, msg_id, frag);
  }
}

void Endpoint::Impl::complete_delivered_ordered(Peer& p) {
  const uint64_t floor = delivered_floor(p);
  for (uint64_t id = p.sq.floor(); p.ordered_waiting && id < floor && id < p.sq.next_id(); ++id) {
    TxMsg* m = p.sq.find(id);
    if (m && m->started && m->acked == m->nfrags && m->prev_delta) {
      --p.ordered_waiting;
      complete(p, *m);
    }
  }
}

// A packet is lost: forget it and queue its fragment for retransmission on
// another path (unless the fragment got through in another copy).
void Endpoint::Impl::lose(Peer& p, SentPacket& s, Time now, bool by_timeout) {
  p.recent_losses.add(s, now, by_timeout);
  p.cc.on_lost(s.bytes, s.sent_time, p.paths.srtt(), now);  // loss is a congestion signal too
  const uint64_t msg_id = s.msg_id;
  const uint32_t frag = s.frag;
  const uint16_t slot = s.slot;
  p.sent.remove(s);
  TxMsg* m = p.sq.find(msg_id);
  if (m && !m->frag_acked(frag)) p.retx.push(Retx{msg_id, frag, slot});
}

void Endpoint::Impl::arm_rto(Peer& p) {
  SentPacket* head = p.sent.first();
  p.rto_deadline = head ? head->sent_time + p.paths.min_rto() : Time::infinite();
}

}  // namespace srdx
