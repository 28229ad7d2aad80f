// Time: the retransmission timer, message deadlines, delayed ACKs, hello
// retries and keepalives, giving up on silent peers, reclaiming idle ones,
// giving back the rings of quiet ones; the schedule that finds the peers
// with something due without visiting the others; and next_deadline(),
// which must name the earliest of them.
#include <algorithm>

#include "endpoint_impl.h"

namespace srdx {

// Only the peers with a timer due are visited, in slot order (as a scan of
// the table would visit them: the packets they queue leave in that order).
void Endpoint::Impl::on_timer(Time now) {
  settle();
  due_.clear();
  while (!timers_.empty() && timers_.front()->timer_at <= now) {
    Peer& p = *timers_.front();
    timer_set(p, Time::infinite());  // settle() files it again after its turn
    due_.push_back(p.id);
  }
  std::sort(due_.begin(), due_.end(),
            [](PeerId a, PeerId b) { return (a & kSlotMask) < (b & kSlotMask); });
  for (const PeerId id : due_) {
    Peer* p = peer(id);
    if (p && on_peer_timer(*p, now)) touch(*p);
  }
}

bool Endpoint::Impl::on_peer_timer(Peer& p, Time now) {
  if (reclaimable(p) && now - p.last_heard >= cfg_.idle_timeout) {
    // A stranger we accepted that went quiet: forget it (it may come back
    // with a new handshake).
    ++stats_.peers_reclaimed;
    end_connection(p, FailReason::idle, static_cast<uint32_t>(wire::CloseReason::idle), now);
    forget_peer(p);
    return false;
  }
  if (p.crypto && now >= p.crypto->pending_expires) {
    // Offered, answered, never confirmed (a lost answer, or a replayed
    // hello): forgotten. What waited for it starts a handshake of its own.
    p.crypto->pending.reset();
    p.crypto->pending_expires = Time::infinite();
    if (p.state == PeerState::idle && p.sq.live() > 0) start_handshake(p, now);
  }
  if (p.state == PeerState::connecting && now >= p.hello_next) {
    p.hello_due = true;
    p.hello_resent = true;
    p.hello_interval = min(p.hello_interval * 2, cfg_.peer_timeout / 4);
    p.hello_next = now + p.hello_interval;
    want_ctrl(p);
  }
  if (now >= p.ack_deadline) {
    p.ack_due = true;
    want_ctrl(p);
  }
  if (now >= p.probe_next) {
    // A credit probe, while a message still waits for credit with nothing
    // in flight; once none does (it completed, failed, or credit came),
    // the probing stops: a probe outliving its message kept a connection
    // to a receiver that had restarted busy forever (endpoint fuzz target,
    // crash_credit_probe_forever).
    uint32_t bytes = 0;
    if (data_gate(p, bytes) == Gate::blocked_credit && p.sent.count() == 0) {
      p.hello_due = true;
      p.probe_next = now + p.paths.min_rto() * 2;
      want_ctrl(p);
    } else {
      p.probe_next = Time::infinite();
    }
  }
  if (now >= p.floor_update_next && p.floor_updates_left) {
    want_ctrl(p);
  }
  if (now >= p.rto_deadline) scan_rto(p, now);
  if (now >= p.msg_deadline) scan_deadlines(p, now);
  const bool waiting_to_ask = p.state == PeerState::connecting && !p.first_hello_sent;
  if (p.busy() && !waiting_to_ask && now - p.last_heard > cfg_.peer_timeout) {
    peer_down(p, now);
  } else if (p.busy() && p.state == PeerState::established &&
             now - p.last_heard > cfg_.peer_timeout / 2 && now >= p.keepalive_next) {
    // Quiet for half the timeout: ask. A hello is answered by a live peer
    // (a restarted one answers our data with a close instead).
    p.hello_due = true;
    p.keepalive_next = now + cfg_.peer_timeout / 8;
    want_ctrl(p);
  }
  if (rings_idle(p) && now >= ring_release_time(p)) release_idle_rings(p, now);
  return true;
}

// A connected peer that went quiet gives its rings back: what traffic
// allocated (issue 11: an idle peer costs at most 16 KiB) is allocated again
// by its next message. Nothing in them is live: no message queued or
// partial, nothing in flight; the repairs still queued are all stale.
void Endpoint::Impl::release_idle_rings(Peer& p, Time now) {
  SRDX_ASSERT(!p.busy() && p.sent.count() == 0);
  p.sq.release();
  p.sent.release();
  p.recent_losses.release();
  drop_stale_retx(p);
  p.retx.shrink(Peer::kRetxInitial);
  // The ACK bitmap goes with the reassembly rings, never alone: a late copy
  // of an old packet is then still known as old by its message id.
  if (p.rx.release_memory()) p.acks.release_memory();
  // When something must stay (a message delivered above a gap that only
  // the sender's floor closes), the next try waits for the peer's next
  // packet: a quiet peer gets one timer, not one every second forever.
  p.rings_checked = now;
}

void Endpoint::Impl::scan_rto(Peer& p, Time now) {
  const Duration floor = p.paths.min_rto();
  Time next = Time::infinite();
  expired_.clear();
  SentPacket* s = p.sent.first();
  for (; s && s->sent_time + floor <= now; s = p.sent.next(*s)) {
    Time expiry = s->sent_time + p.paths.rto(s->slot, s->sent_time);
    if (expiry > now) {
      next = min(next, expiry);
      continue;
    }
    expired_.push_back(s);
  }
  if (s) next = min(next, s->sent_time + floor);
  p.rto_deadline = next;
  if (expired_.empty()) return;
  // A packet that timed out although one sent after it was acknowledged
  // was lost on its path: the selector penalises that slot and re-draws
  // it. (ACKs come back over paths proven to work, ack_paths.h, so a dead
  // return path does not pass for a dead forward one.) Timeouts with
  // nothing acknowledged since are a stall: the peer or this host was
  // descheduled, every path died, or the connection sent too much; no path
  // is blamed, the window shrinks, and the timers back off.
  // A stall that lasts (a second round in a row) may be every entropy in
  // use having died with its path: then the paths are blamed too, so the
  // slots move to fresh entropies and find the paths still alive.
  bool stall = true;
  const bool lasting = p.paths.stall_rounds() > 0;
  Time latest_sent = Time::zero();
  for (SentPacket* e : expired_) {
    ++stats_.rto_events;
    latest_sent = max(latest_sent, e->sent_time);
    const bool blame = e->sent_time < p.acked_sent_max;
    stall &= !blame;
    p.paths.on_timeout(e->slot, e->slot_gen, now, blame || lasting || p.paths.size() == 1);
    lose(p, *e, now, true);
  }
  if (stall || p.paths.size() == 1) p.cc.on_timeout(p.paths.srtt(), now);
  if (stall) p.paths.on_rto_round(now, latest_sent);
  p.paths.refresh(now);
}

void Endpoint::Impl::scan_deadlines(Peer& p, Time now) {
  Time next = Time::infinite();
  for (uint64_t id = p.sq.floor(); id < p.sq.next_id(); ++id) {
    TxMsg* m = p.sq.find(id);
    if (!m) continue;
    if (m->deadline <= now) {
      fail(p, *m, FailReason::timeout, now);
    } else {
      next = min(next, m->deadline);
    }
  }
  p.msg_deadline = next;
}

// Silence for peer_timeout while expecting to hear: this side gives up on
// the connection. Its messages fail, the partial messages it received are
// dropped (their sender fails them when it hears the close, or when its own
// timers run out), and the peer is told, so it does not go on sending into a
// connection that no longer exists here.
void Endpoint::Impl::peer_down(Peer& p, Time now) {
  end_connection(p, FailReason::peer_unreachable, static_cast<uint32_t>(wire::CloseReason::timeout),
                 now);
}

// Brings the schedule up to date with the touched peers.
void Endpoint::Impl::settle() const {
  for (const PeerId id : dirty_) {
    Peer* p = peer(id);
    if (!p) continue;
    p->dirty = false;
    const Time t = peer_deadline(*p);
    if (t != p->timer_at) timer_set(*p, t);
  }
  dirty_.clear();
  settle_data();
}

void Endpoint::Impl::recheck_data() const {
  for (const PeerId id : recheck_) {
    Peer* p = peer(id);
    if (!p) continue;
    p->recheck = false;
    uint32_t bytes = 0;
    if (!p->in_data && data_gate(*p, bytes) == Gate::ready) {
      p->in_data = true;
      data_.push(id);
    }
  }
  recheck_.clear();
}

void Endpoint::Impl::timer_set(Peer& p, Time t) const {
  const Time old = p.timer_at;
  p.timer_at = t;
  if (p.timer_pos == Peer::kNoTimer) {
    if (t.is_infinite()) return;
    timers_.push_back(&p);
    p.timer_pos = static_cast<uint32_t>(timers_.size() - 1);
    return timer_up(p.timer_pos);
  }
  if (t.is_infinite()) {
    const uint32_t i = p.timer_pos;
    Peer* last = timers_.back();
    timers_.pop_back();
    p.timer_pos = Peer::kNoTimer;
    if (last == &p) return;
    timer_place(last, i);
    timer_up(i);
    return timer_down(last->timer_pos);
  }
  if (t < old) return timer_up(p.timer_pos);
  timer_down(p.timer_pos);
}

void Endpoint::Impl::timer_up(uint32_t i) const {
  Peer* p = timers_[i];
  while (i > 0) {
    const uint32_t parent = (i - 1) / 2;
    if (!(p->timer_at < timers_[parent]->timer_at)) break;
    timer_place(timers_[parent], i);
    i = parent;
  }
  timer_place(p, i);
}

void Endpoint::Impl::timer_down(uint32_t i) const {
  Peer* p = timers_[i];
  const auto n = static_cast<uint32_t>(timers_.size());
  while (true) {
    uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && timers_[child + 1]->timer_at < timers_[child]->timer_at) ++child;
    if (!(timers_[child]->timer_at < p->timer_at)) break;
    timer_place(timers_[child], i);
    i = child;
  }
  timer_place(p, i);
}

Time Endpoint::Impl::peer_deadline(const Peer& p) const {
  Time t = Time::infinite();
  if (reclaimable(p)) t = min(t, p.last_heard + cfg_.idle_timeout);
  if (p.crypto) t = min(t, p.crypto->pending_expires);
  if (p.state == PeerState::connecting) t = min(t, p.hello_next);
  t = min(t, p.ack_deadline);
  t = min(t, p.rto_deadline);
  t = min(t, p.msg_deadline);
  t = min(t, p.probe_next);
  if (p.floor_updates_left) t = min(t, p.floor_update_next);
  if (p.busy() && !(p.state == PeerState::connecting && !p.first_hello_sent)) {
    t = min(t, p.last_heard + cfg_.peer_timeout + Duration::nanos(1));
    if (p.state == PeerState::established)
      t = min(t, max(p.keepalive_next, p.last_heard + cfg_.peer_timeout / 2 + Duration::nanos(1)));
  }
  if (rings_idle(p)) t = min(t, ring_release_time(p));
  return t;
}

Time Endpoint::Impl::next_deadline() const {
  if (!ctrl_.empty() || !stateless_.empty()) return Time::zero();
  settle();
  Time t = timers_.empty() ? Time::infinite() : timers_.front()->timer_at;
  // Data that may leave now is the earliest deadline there is.
  for (size_t i = 0; i < data_.size() && t != Time::zero(); ++i)
    if (const Peer* p = peer(data_[i])) t = min(t, data_ready_time(*p));
  // The schedule against the table, in debug builds with a table small
  // enough to scan (the tests, the simulator, the fuzz target): a peer
  // changed without being touched shows here, not as a missed timer later.
  SRDX_ASSERT(peers_.size() > kCheckedPeers || t == next_deadline_scan());
  return t;
}

Time Endpoint::Impl::next_deadline_scan() const {
  Time t = Time::infinite();
  for (auto& up : peers_) {
    if (!up) continue;
    t = min(t, min(peer_deadline(*up), data_ready_time(*up)));
    if (t == Time::zero()) return t;
  }
  return t;
}

}  // namespace srdx
