// Time: the retransmission timer, message deadlines, delayed ACKs, hello
// retries and keepalives, giving up on silent peers, reclaiming idle ones;
// and next_deadline(), which must name the earliest of them.
#include <algorithm>

#include "endpoint_impl.h"

namespace srdx {

void Endpoint::Impl::on_timer(Time now) {
  for (auto& up : peers_) {
    if (!up) continue;
    Peer& p = *up;
    if (reclaimable(p) && now - p.last_heard >= cfg_.idle_timeout) {
      // A stranger we accepted that went quiet: forget it (it may come back
      // with a new handshake).
      ++stats_.peers_reclaimed;
      end_connection(p, FailReason::idle, static_cast<uint32_t>(wire::CloseReason::idle), now);
      forget_peer(p);
      continue;
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
  }
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

Time Endpoint::Impl::next_deadline() const {
  Time t = Time::infinite();
  if (!ctrl_.empty() || !stateless_.empty()) return Time::zero();
  for (auto& up : peers_) {
    if (!up) continue;
    const Peer& p = *up;
    // Data that may leave now is the earliest deadline there is.
    t = min(t, data_ready_time(p));
    if (t == Time::zero()) return t;
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
        t = min(t,
                max(p.keepalive_next, p.last_heard + cfg_.peer_timeout / 2 + Duration::nanos(1)));
    }
  }
  return t;
}

}  // namespace srdx
