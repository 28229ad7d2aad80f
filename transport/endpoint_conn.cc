// Connection identity (docs/protocol.md, section 4): which connection a
// datagram belongs to, how connections start and end, and how a stranger is
// answered without state.
//
// A connection is one incarnation of each side for one peer, named by two
// random 64-bit ids, one chosen by each side (wire::Common::src_cid, and the
// dst_cid every packet carries). Anything that does not name the current
// connection is dropped, so a restarted or re-created side can never be
// taken for the old one, and an off-path sender, who cannot guess the ids,
// cannot touch a connection. A hello starts or replaces a connection only
// when it proves its sender receives at its address: it echoes a cookie from
// a retry, or names our own id.
#include <algorithm>
#include <cstring>

#include "endpoint_impl.h"

namespace srdx {

// A datagram from an address we keep no peer for. Only a proven hello may
// create one (when strangers are accepted and there is room); a hello that
// is not proven gets a retry; data or an ACK (we restarted, or forgot the
// connection) gets a close, so that its sender fails its messages at once
// instead of timing out. Nothing here keeps state.
void Endpoint::Impl::on_stranger(const RxPath& path, Addr from, Time now) {
  (void)path;
  const wire::Type t = pkt_.common.type;
  if (!cfg_.accept_unknown_peers) return drop(DropReason::unknown_peer);
  if (t == wire::Type::data || t == wire::Type::ack) {
    drop(DropReason::unknown_peer);
    return queue_close(nullptr, from, wire::dst_cid(pkt_), pkt_.common.src_cid,
                       wire::CloseReason::no_connection, now);
  }
  if (t != wire::Type::hello) return drop(DropReason::unknown_peer);
  // Not a drop: the first hello of every handshake is answered this way
  // (EndpointStats::retries_sent counts them).
  if (!hello_proven(nullptr, from, pkt_, now)) return answer_unproven_hello(nullptr, from, now);
  if (live_peers_ >= cfg_.max_peers) return drop(DropReason::peer_limit);
  Result<PeerId> r = add_peer(from);
  if (!r.ok()) return drop(DropReason::unknown_peer);
  peer(r.value)->accepted = true;
}

bool Endpoint::Impl::hello_proven(const Peer* p, Addr from, const wire::Packet& pkt,
                                  Time now) const {
  const wire::Hello& h = pkt.hello;
  if (p && p->local_cid != 0 && h.dst_cid == p->local_cid) return true;
  static constexpr uint8_t kNoCookie[wire::kCookieSize] = {};
  if (std::memcmp(h.cookie, kNoCookie, wire::kCookieSize) == 0) return false;
  return secrets_.check_cookie(cookie_period(now), from, pkt.common.src_cid, h.cookie);
}

void Endpoint::Impl::on_hello(Peer& p, Addr from, bool is_ack, Time now) {
  const wire::Hello& h = pkt_.hello;
  const uint64_t src = pkt_.common.src_cid;
  if (cfg_.encryption) {
    // Inside a sealed datagram: a keepalive (or credit probe) of the live
    // connection, or the answer to ours. Handshakes come in the clear
    // (on_noise_hello).
    if (p.state != PeerState::established || src != p.remote_cid || h.dst_cid != p.local_cid)
      return drop(DropReason::wrong_connection);
    p.last_heard = max(p.last_heard, now);
    if (!is_ack) {
      p.hello_ack_due = true;
      p.ack_due = true;
      want_ctrl(p);
    }
    return;
  }
  if (is_ack) {
    // Only the answer to our own hello: it names our id, which no one else knows.
    if (p.local_cid == 0 || h.dst_cid != p.local_cid) return drop(DropReason::wrong_connection);
    if (p.state == PeerState::established) {
      if (src != p.remote_cid) return drop(DropReason::wrong_connection);
      p.last_heard = max(p.last_heard, now);  // the answer to a keepalive
      return;
    }
    SRDX_ASSERT(p.state == PeerState::connecting);
    return establish(p, src, h, now);
  }
  // The live connection's own hello: a keepalive, a credit probe, or a
  // repeat of the hello whose answer was lost.
  if (p.state == PeerState::established && src == p.remote_cid &&
      (h.dst_cid == p.local_cid || hello_proven(&p, from, pkt_, now))) {
    p.last_heard = max(p.last_heard, now);
    p.hello_ack_due = true;
    p.ack_due = true;  // also a credit probe
    want_ctrl(p);
    return;
  }
  if (!hello_proven(&p, from, pkt_, now)) return answer_unproven_hello(&p, from, now);
  if (p.state == PeerState::established) {
    // A proven hello with another id: the peer is a new incarnation (it
    // restarted, or re-created us). Nothing of the old connection is valid.
    ++stats_.peer_restarts;
    end_connection(p, FailReason::peer_restarted, 0, now);
  }
  if (p.local_cid == 0) p.local_cid = secrets_.next_cid();
  establish(p, src, h, now);
  p.start_grant = start_grant(h, now);
  p.hello_ack_due = true;
  want_ctrl(p);
}

void Endpoint::Impl::establish(Peer& p, uint64_t remote_cid, const wire::Hello& h, Time now) {
  SRDX_ASSERT(p.state != PeerState::established && p.local_cid != 0 && remote_cid != 0);
  SRDX_ASSERT(p.sent.count() == 0 && p.rx.partial_messages() == 0);
  p.remote_cid = remote_cid;
  p.last_heard = max(p.last_heard, now);
  // The handshake's round trip, taken before any data queues behind it, is
  // the congestion control's first base RTT: a sender that starts into a
  // queue others built would otherwise take that queue for empty and keep
  // it (docs/protocol.md, congestion control). Our hello's answer only, and
  // only when the timer did not send it again (a late answer to the first
  // would look short).
  if (!p.hello_sent_at.is_infinite() && !p.hello_resent && now > p.hello_sent_at) {
    const Duration rtt = now - p.hello_sent_at;
    p.net_min_rtt = min(p.net_min_rtt, rtt > rx_lag_ ? rtt - rx_lag_ : rtt);
  }
  p.hello_sent_at = Time::infinite();
  p.hello_resent = false;
  p.features = h.features & offered_features();
  // The receiver's initial window for us (hello_ack, feature kShare).
  if ((p.features & wire::feature::kShare) && h.initial_window) p.cc.start_window(h.initial_window);
  p.peer_max_payload = h.max_payload;
  p.peer_max_message = h.max_message;
  p.peer_max_msg_id = p.sq.floor() + h.recv_msg_window;
  p.peer_window = h.recv_msg_window;
  p.peer_free = h.recv_buffer;
  p.have_ack_seq = false;
  p.have_cookie = false;
  p.state = PeerState::established;
  p.hello_due = false;
  p.hello_next = Time::infinite();
  if (!p.up) {
    p.up = true;
    push_event({EventType::peer_up, FailReason::none, 0, p.id, 0, 0, {}});
  }
  // Messages queued before the handshake larger than the peer accepts.
  for (uint64_t id = p.sq.floor(); id < p.sq.next_id(); ++id)
    if (TxMsg* m = p.sq.find(id); m && m->len > p.peer_max_message)
      fail(p, *m, FailReason::too_large, now);
}

void Endpoint::Impl::on_retry(Peer& p) {
  const wire::Retry& r = pkt_.retry;
  // Only an answer to the hello we are sending now; it names our id.
  if (p.state != PeerState::connecting || p.local_cid == 0 || r.dst_cid != p.local_cid)
    return drop(DropReason::wrong_connection);
  std::memcpy(p.cookie, r.cookie, wire::kCookieSize);
  p.have_cookie = true;
  p.hello_due = true;
  want_ctrl(p);
}

void Endpoint::Impl::on_close(Peer& p, Time now) {
  const wire::Close& c = pkt_.close;
  if (p.state != PeerState::established || c.dst_cid != p.local_cid ||
      pkt_.common.src_cid != p.remote_cid)
    return drop(DropReason::wrong_connection);
  ++stats_.closes_received;
  // A peer that has no connection with these ids lost it (it restarted, or
  // forgot us); one that closed it on purpose says why.
  const FailReason why = c.reason == static_cast<uint32_t>(wire::CloseReason::no_connection)
                             ? FailReason::peer_restarted
                             : FailReason::peer_closed;
  if (why == FailReason::peer_restarted) ++stats_.peer_restarts;
  end_connection(p, why, 0, now);
}

bool Endpoint::Impl::check_connection(Peer& p, uint64_t src_cid, uint64_t dst_cid, Time now) {
  if (p.state == PeerState::established && dst_cid == p.local_cid && src_cid == p.remote_cid) {
    p.last_heard = max(p.last_heard, now);
    return true;
  }
  if (p.state == PeerState::connecting && dst_cid == p.local_cid) {
    // The peer took our hello and answered; its hello_ack is lost or late.
    // The next hello (due at once) brings another.
    drop(DropReason::no_state);
    if (reply_allowed(&p, now)) {
      p.hello_due = true;
      want_ctrl(p);
    }
    return false;
  }
  drop(DropReason::wrong_connection);
  // Not our connection (an old one, or none): its sender should hear that
  // it is over. A packet naming our current id but another sender id is
  // not from the peer's current incarnation either; it is left unanswered.
  if (dst_cid != p.local_cid || p.local_cid == 0)
    queue_close(&p, p.addr, dst_cid, src_cid, wire::CloseReason::no_connection, now);
  return false;
}

void Endpoint::Impl::start_handshake(Peer& p, Time now) {
  SRDX_ASSERT(p.state == PeerState::idle);
  p.state = PeerState::connecting;
  p.local_cid = secrets_.next_cid();
  p.remote_cid = 0;
  p.have_cookie = false;
  p.first_hello_sent = false;
  p.hello_interval = cfg_.handshake_interval;
  p.hello_next = now + p.hello_interval;
  p.hello_due = true;
  want_ctrl(p);
}

void Endpoint::Impl::end_connection(Peer& p, FailReason why, uint32_t close_reason, Time now) {
  fail_all(p, why, now);
  // What we hold of the peer's messages goes with the connection: partial
  // ones cannot complete, and complete ordered ones waiting for a
  // predecessor are not handed up either, since that predecessor is not
  // known to have failed at its sender yet (it will fail there, and these
  // with maybe_delivered: their every fragment arrived).
  if (p.up) push_event({EventType::peer_down, why, 0, p.id, 0, 0, {}});
  if (close_reason != 0 && p.state == PeerState::established)
    queue_close(sealing(p) ? &p : nullptr, p.addr, p.local_cid, p.remote_cid,
                static_cast<wire::CloseReason>(close_reason), now);
  if (p.crypto) {
    // The keys go with the connection; one the peer offered stays pending.
    p.crypto->cur.reset();
    p.crypto->hs.clear();
    p.crypto->hs_active = false;
  }
  p.up = false;
  p.state = PeerState::idle;
  p.local_cid = p.remote_cid = 0;
  p.have_cookie = false;
  p.hello_due = p.hello_ack_due = p.ack_due = false;
  p.hello_next = Time::infinite();
  // The next connection numbers everything from 0 again.
  p.sq.reset();
  p.rx.reset();
  p.acks.reset();
  p.sent.release();
  p.recent_losses.release();
  ++p.rx_gen;
  p.next_pn = 0;
  p.ack_pending = 0;
  p.ack_deadline = Time::infinite();
  p.have_ack_seq = false;
  p.peer_max_msg_id = 0;
  p.ordered_waiting = 0;
  p.floor_updates_left = 0;
  p.floor_update_next = Time::infinite();
  SRDX_ASSERT(p.started_unseen == 0 && !p.busy());
}

// A hello that names a connection of ours (dst_cid not 0) that we do not
// have comes from an established side talking to a connection that is gone
// here (we restarted, or ended it): a close tells it so. Any other gets a
// retry: a first hello, or its repeat, names no connection.
void Endpoint::Impl::answer_unproven_hello(Peer* p, Addr from, Time now) {
  const uint64_t src = pkt_.common.src_cid, named = pkt_.hello.dst_cid;
  if (named != 0) return queue_close(p, from, named, src, wire::CloseReason::no_connection, now);
  queue_retry(from, src, now);
}

bool Endpoint::Impl::reply_allowed(Peer* p, Time now) {
  if (!p) return true;  // strangers: bounded by the stateless queue alone
  if (now < p->reply_ok) return false;
  p->reply_ok = now + cfg_.handshake_interval;
  return true;
}

// Not limited per peer: anyone on the path can send cookie-less hellos from
// a peer's address, and a per-peer limit spent on them would leave the
// peer's own hello unanswered (its handshake starved). A retry costs a hash,
// is smaller than the hello it answers, and comes from the bounded queue.
void Endpoint::Impl::queue_retry(Addr to, uint64_t hello_src_cid, Time now) {
  if (stateless_.size() >= tuning::kMaxStatelessReplies) return;
  StatelessReply& r = stateless_.push_slot();
  r = StatelessReply{};
  r.to = to;
  r.type = wire::Type::retry;
  r.dst_cid = hello_src_cid;
  secrets_.cookie(cookie_period(now), to, hello_src_cid, r.cookie);
}

void Endpoint::Impl::queue_close(Peer* p, Addr to, uint64_t src_cid, uint64_t dst_cid,
                                 wire::CloseReason why, Time now) {
  if (src_cid == 0 || dst_cid == 0) return;
  // The end of our own encrypted connection: sealed under its keys (made
  // now, before they go), so the peer can believe it.
  const bool sealed = p && sealing(*p) && p->crypto && p->crypto->cur && src_cid == p->local_cid &&
                      dst_cid == p->remote_cid;
  if (stateless_.size() >= tuning::kMaxStatelessReplies || (!sealed && !reply_allowed(p, now)))
    return;
  StatelessReply& r = stateless_.push_slot();
  r = StatelessReply{};
  r.to = to;
  r.type = wire::Type::close;
  r.src_cid = src_cid;
  r.dst_cid = dst_cid;
  r.reason = static_cast<uint32_t>(why);
  if (sealed) {
    wire::Common c = common(*p, wire::Type::close);
    wire::Close cl;
    cl.dst_cid = dst_cid;
    cl.reason = r.reason;
    std::span<uint8_t> buf(r.sealed, sizeof r.sealed);
    const size_t n = wire::encode_close(inner(buf), c, cl);
    r.sealed_len = n ? static_cast<uint8_t>(seal_datagram(*p, *p->crypto->cur, buf, n, now)) : 0;
    if (r.sealed_len == 0) stateless_.drop_back();
  }
}

}  // namespace srdx
