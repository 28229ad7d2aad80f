// The endpoint: peers, sending, events, and how messages end (completed or
// failed). The rest of Endpoint::Impl lives beside it, one file per concern
// (endpoint_impl.h lists them).
#include "srdx/endpoint.h"

#include <algorithm>
#include <stdexcept>

#include "endpoint_impl.h"

namespace srdx {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::ok:
      return "ok";
    case Errc::unknown_peer:
      return "unknown peer";
    case Errc::too_large:
      return "message too large";
    case Errc::would_block:
      return "send queue full";
    case Errc::too_many_peers:
      return "too many peers";
    case Errc::invalid_argument:
      return "invalid argument";
  }
  return "?";
}

std::string_view to_string(EventType t) {
  switch (t) {
    case EventType::message_received:
      return "message_received";
    case EventType::send_completed:
      return "send_completed";
    case EventType::send_failed:
      return "send_failed";
    case EventType::peer_up:
      return "peer_up";
    case EventType::peer_down:
      return "peer_down";
  }
  return "?";
}

std::string_view to_string(FailReason r) {
  switch (r) {
    case FailReason::none:
      return "none";
    case FailReason::timeout:
      return "timeout";
    case FailReason::peer_unreachable:
      return "peer_unreachable";
    case FailReason::peer_restarted:
      return "peer_restarted";
    case FailReason::peer_removed:
      return "peer_removed";
    case FailReason::too_large:
      return "too_large";
    case FailReason::peer_closed:
      return "peer_closed";
    case FailReason::idle:
      return "idle";
  }
  return "?";
}

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::too_short:
      return "too_short";
    case DropReason::bad_version:
      return "bad_version";
    case DropReason::bad_type:
      return "bad_type";
    case DropReason::bad_checksum:
      return "bad_checksum";
    case DropReason::bad_length:
      return "bad_length";
    case DropReason::bad_field:
      return "bad_field";
    case DropReason::unknown_peer:
      return "unknown_peer";
    case DropReason::wrong_connection:
      return "wrong_connection";
    case DropReason::peer_limit:
      return "peer_limit";
    case DropReason::no_state:
      return "no_state";
    case DropReason::out_of_window:
      return "out_of_window";
    case DropReason::no_buffer:
      return "no_buffer";
    case DropReason::bad_coalesce:
      return "bad_coalesce";
    case DropReason::bad_auth:
      return "bad_auth";
    case DropReason::replay:
      return "replay";
    case DropReason::unknown_key:
      return "unknown_key";
    case DropReason::unauthenticated:
      return "unauthenticated";
    case DropReason::kCount:
      break;
  }
  return "?";
}

uint64_t EndpointStats::total_drops() const {
  uint64_t t = 0;
  for (uint64_t d : drops) t += d;
  return t;
}

using tuning::credit_charge;
using tuning::kFloorUpdateRepeats;

size_t Peer::allocated_bytes() const {
  // The encryption state counts as far as the engine allocates it; the
  // cipher contexts inside are OpenSSL's (BM_IdlePeers' heap/peer has them).
  const size_t keys = crypto ? sizeof(PeerCrypto) + (crypto->cur ? sizeof(Session) : 0) +
                                   (crypto->pending ? sizeof(Session) : 0)
                             : 0;
  return sq.allocated_bytes() + sent.allocated_bytes() + recent_losses.allocated_bytes() +
         acks.allocated_bytes() + rx.allocated_bytes() + paths.allocated_bytes() +
         retx.allocated_bytes() + keys;
}

Endpoint::Impl::Impl(const EndpointConfig& cfg)
    : cfg_(cfg),
      rng_(cfg.seed ^ 0x5eed5eed5eedull),
      secrets_(cfg.secret, cfg.seed),
      static_priv_(is_zero(cfg.static_key) ? secrets_.derived_static_key() : cfg.static_key),
      static_pub_(public_key_of(static_priv_)),
      pool_(cfg.recv_buffer_bytes),
      budget_{cfg.recv_memory_bytes, 0},
      events_(256),
      offered_(compute_offered()) {}

Endpoint::Impl::~Impl() {
  release_lent();
  while (!events_.empty()) {
    const EventEntry e = events_.pop();
    if (e.buf != BufferPool::kNone) pool_.put(e.buf);
  }
}

// ---- peers -------------------------------------------------------------------

Result<PeerId> Endpoint::Impl::add_peer(Addr a) {
  if (auto it = by_addr_.find(key(a)); it != by_addr_.end()) return {it->second, Errc::ok};
  if (a.ip == 0 || a.port == 0) return {kNoPeer, Errc::invalid_argument};
  if (live_peers_ >= cfg_.max_peers) return {kNoPeer, Errc::too_many_peers};
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(peers_.size());
    peers_.emplace_back();
    slot_gen_.push_back(0);
  }
  const PeerId id = slot | (uint32_t{slot_gen_[slot]} << kSlotBits);
  SRDX_ASSERT(id != kNoPeer);
  peers_[slot] = std::make_unique<Peer>(id, a, cfg_, rng_, pool_, budget_);
  peers_[slot]->st.addr = a;
  by_addr_[key(a)] = id;
  ++live_peers_;
  touch(*peers_[slot]);
  return {id, Errc::ok};
}

Result<PeerId> Endpoint::Impl::add_peer(Addr a, const PublicKey& key) {
  if (cfg_.encryption && is_zero(key)) return {kNoPeer, Errc::invalid_argument};
  if (Peer* known = peer(find_peer(a))) {
    // The same address with another key is another peer: remove it first.
    // (In the clear keys are not used: a peer accepted from a hello has none.)
    if (cfg_.encryption && known->static_key != key) return {kNoPeer, Errc::invalid_argument};
    return {known->id, Errc::ok};
  }
  Result<PeerId> r = add_peer(a);
  if (r.ok()) peer(r.value)->static_key = key;
  return r;
}

PeerId Endpoint::Impl::find_peer(Addr a) const {
  // Datagrams come in runs from one peer: the last answer first, before
  // hashing (the table's bucket index is a division).
  const uint64_t k = key(a);
  if (k == last_key_) return last_id_;
  auto it = by_addr_.find(k);
  if (it == by_addr_.end()) return kNoPeer;
  last_key_ = k;
  last_id_ = it->second;
  return last_id_;
}

Errc Endpoint::Impl::remove_peer(PeerId id, Time now) {
  Peer* p = peer(id);
  if (!p) return Errc::unknown_peer;
  end_connection(*p, FailReason::peer_removed, static_cast<uint32_t>(wire::CloseReason::removed),
                 now);
  forget_peer(*p);
  return Errc::ok;
}

// Drops the Peer object; its connection has ended (end_connection).
void Endpoint::Impl::forget_peer(Peer& p) {
  SRDX_ASSERT(p.state == PeerState::idle && p.sq.live() == 0 && p.sent.count() == 0);
  const uint32_t slot = p.id & kSlotMask;
  timer_set(p, Time::infinite());
  by_addr_.erase(key(p.addr));
  last_key_ = kNoKey;
  peers_[slot].reset();
  slot_gen_[slot] = static_cast<uint16_t>((slot_gen_[slot] + 1) % kGenerations);
  free_slots_.push_back(slot);
  --live_peers_;
}

// ---- sending -----------------------------------------------------------------

Result<MsgId> Endpoint::Impl::send(PeerId id, std::span<const uint8_t> data, const SendOptions& opt,
                                   Time now) {
  Peer* p = peer(id);
  if (!p) return {0, Errc::unknown_peer};
  if (data.size() > cfg_.max_message_size ||
      (p->peer_max_message && data.size() > p->peer_max_message))
    return {0, Errc::too_large};
  if (opt.timeout < Duration::zero()) return {0, Errc::invalid_argument};
  if (p->sq.full()) return {0, Errc::would_block};
  if (!p->busy()) p->last_heard = max(p->last_heard, now);
  Time deadline = now + (opt.timeout == Duration::zero() ? cfg_.message_timeout : opt.timeout);
  TxMsg& m = p->sq.push(data, opt, deadline);
  p->msg_deadline = min(p->msg_deadline, deadline);
  touch(*p);
  ++stats_.messages_sent;
  // A connection the peer offered and we answered comes up with its next
  // datagram; a handshake of our own would only cross it.
  if (p->state == PeerState::idle && !(p->crypto && p->crypto->pending)) start_handshake(*p, now);
  return {m.id, Errc::ok};
}

void Endpoint::Impl::want_ctrl(Peer& p) {
  touch(p);
  if (p.in_ctrl) return;
  p.in_ctrl = true;
  ctrl_.push(p.id);
}

// ---- events ------------------------------------------------------------------

// The event poll_event() handed out last stays at the front of the queue,
// its buffer lent to the caller, until the next call.
void Endpoint::Impl::release_lent() {
  if (!lent_) return;
  lent_ = false;
  const EventEntry& e = events_.front();
  const BufferPool::Handle buf = e.buf;
  const PeerId peer_id = e.ev.peer;
  const uint32_t charge = e.charge, rx_gen = e.rx_gen;
  events_.drop_front();
  if (buf == BufferPool::kNone) return;
  pool_.put(buf);
  Peer* p = peer(peer_id);
  if (p && p->rx_gen == rx_gen) {
    p->rx.release(charge);
    touch(*p);  // what it holds decides whether it may be reclaimed
    // Tell a sender that flow control held back that room opened up.
    const uint64_t cap = cfg_.recv_buffer_bytes;
    if (p->state == PeerState::established && p->last_adv_free < cap / 2 &&
        p->rx.free_bytes() >= p->last_adv_free + cap / 4) {
      p->ack_due = true;
      want_ctrl(*p);
    }
  }
}

bool Endpoint::Impl::poll_event(Event& out) {
  release_lent();
  if (events_.empty()) return false;
  out = events_.front().ev;
  lent_ = true;
  return true;
}

// ---- completion and failure ----------------------------------------------------

// What send_failed promises (endpoint.h): a message with a fragment that
// never left cannot have been delivered; one whose every fragment left may
// have been, however many were acknowledged (the rest may have arrived with
// their ACKs lost, or be on their way).
void Endpoint::Impl::fail(Peer& p, TxMsg& m, FailReason why, Time now) {
  if (m.started && m.prev_delta && m.acked == m.nfrags && p.ordered_waiting) --p.ordered_waiting;
  const bool maybe_delivered = m.started && m.next_frag >= m.nfrags;
  Event ev{EventType::send_failed, why, m.flow, p.id, m.id, m.cookie, {}};
  ev.maybe_delivered = maybe_delivered;
  push_event(ev);
  ++stats_.messages_failed;
  ++p.st.messages_failed;
  if (m.started && m.acked == 0) {
    SRDX_ASSERT(p.started_unseen >= credit_charge(m.len));
    p.started_unseen -= credit_charge(m.len);
  }
  p.sq.finish(m);
  if (p.sq.live() == 0) p.msg_deadline = Time::infinite();
  // The receiver learns of the new floor from the next data packet; if no
  // data follows, from a few ACK-type floor updates.
  p.floor_updates_left = kFloorUpdateRepeats;
  p.floor_update_next = now;
}

void Endpoint::Impl::fail_all(Peer& p, FailReason why, Time now) {
  for (uint64_t id = p.sq.floor(); id < p.sq.next_id(); ++id)
    if (TxMsg* m = p.sq.find(id)) fail(p, *m, why, now);
  SRDX_ASSERT(p.started_unseen == 0);
  // Forget what is in flight: those packets will never be acknowledged.
  while (SentPacket* s = p.sent.first()) {
    p.paths.on_abandoned(s->slot);
    p.sent.remove(*s);
  }
  p.recent_losses.clear();
  p.retx.clear();
  p.cc.reset();
  p.net_min_rtt = Duration::infinite();
  p.rto_deadline = Time::infinite();
  p.msg_deadline = Time::infinite();
  p.probe_next = Time::infinite();
}

// ---- introspection -------------------------------------------------------------

bool Endpoint::Impl::peer_stats(PeerId id, PeerStats& out) const {
  const Peer* p = peer(id);
  if (!p) return false;
  out = p->st;
  out.addr = p->addr;
  out.up = p->up;
  out.local_cid = p->local_cid;
  out.remote_cid = p->remote_cid;
  out.srtt = p->paths.srtt();
  out.min_rtt = p->paths.min_rtt();
  out.cwnd_bytes = p->cc.cwnd();
  out.inflight_bytes = p->cc.inflight();
  out.messages_queued = p->sq.live();
  out.retransmissions = p->retransmissions;
  return true;
}

std::vector<PathStats> Endpoint::Impl::path_stats(PeerId id) const {
  std::vector<PathStats> v;
  const Peer* p = peer(id);
  if (!p) return v;
  for (uint16_t i = 0; i < p->paths.size(); ++i) {
    const PathSlot& s = p->paths.slot(i);
    PathStats ps;
    ps.entropy = s.entropy;
    ps.state = s.state;
    ps.srtt = s.srtt;
    ps.rttvar = s.rttvar;
    ps.min_rtt = s.min_rtt;
    ps.last_rtt = s.last_rtt;
    ps.packets_sent = s.sent;
    ps.packets_acked = s.acked;
    ps.packets_lost = s.lost;
    ps.timeouts = s.timeouts;
    ps.inflight = s.inflight;
    ps.generation = s.generation;
    v.push_back(ps);
  }
  return v;
}

uint64_t Endpoint::Impl::buffered_bytes() const {
  uint64_t b = 0;
  for (auto& p : peers_)
    if (p) b += p->sq.buffered_bytes() + p->rx.held_bytes();
  return b;
}

uint64_t Endpoint::Impl::buffered_messages() const {
  uint64_t n = events_.size() - (lent_ ? 1 : 0);
  for (auto& p : peers_)
    if (p) n += p->sq.live() + p->rx.partial_messages() + p->sent.count() + p->retx.size();
  return n;
}

size_t Endpoint::Impl::memory_bytes() const {
  size_t b = peers_.capacity() * sizeof(peers_[0]) + free_slots_.capacity() * sizeof(uint32_t) +
             slot_gen_.capacity() * sizeof(uint16_t) +
             by_addr_.size() * (sizeof(std::pair<uint64_t, PeerId>) + 2 * sizeof(void*)) +
             by_addr_.bucket_count() * sizeof(void*);
  for (auto& p : peers_)
    if (p) b += sizeof(Peer) + p->allocated_bytes();
  return b;
}

EndpointStats& Endpoint::Impl::stats() {
  stats_.path_replacements = 0;
  for (auto& p : peers_)
    if (p) stats_.path_replacements += p->paths.replacements();
  return stats_;
}

// ---- the public face -------------------------------------------------------------

Endpoint::Endpoint(const EndpointConfig& cfg) {
  std::string err = cfg.validate();
  if (!err.empty()) throw std::invalid_argument(err);
  impl_ = std::make_unique<Impl>(cfg);
}
Endpoint::~Endpoint() = default;

Result<PeerId> Endpoint::add_peer(Addr addr) {
  // With encryption a peer is its key.
  if (impl_->cfg_.encryption) return {kNoPeer, Errc::invalid_argument};
  return impl_->add_peer(addr);
}
Result<PeerId> Endpoint::add_peer(Addr addr, const PublicKey& key) {
  return impl_->add_peer(addr, key);
}
const PublicKey& Endpoint::public_key() const { return impl_->static_pub_; }
void Endpoint::allow_key(const PublicKey& key) {
  for (const PublicKey& k : impl_->allowed_keys_)
    if (k == key) return;
  impl_->allowed_keys_.push_back(key);
}
Errc Endpoint::remove_peer(PeerId peer, Time now) { return impl_->remove_peer(peer, now); }
PeerId Endpoint::find_peer(Addr addr) const { return impl_->find_peer(addr); }
Result<MsgId> Endpoint::send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt,
                             Time now) {
  return impl_->send(peer, data, opt, now);
}
void Endpoint::on_packet(std::span<const uint8_t> packet, const RxPath& path, Time now) {
  impl_->on_packet(packet, path, now);
}
void Endpoint::on_timer(Time now) { impl_->on_timer(now); }
size_t Endpoint::poll_transmit(std::span<uint8_t> buf, TxPath& path, Time now) {
  return impl_->poll_transmit(buf, path, now);
}
bool Endpoint::poll_event(Event& ev) { return impl_->poll_event(ev); }
Time Endpoint::next_deadline() const { return impl_->next_deadline(); }
const EndpointConfig& Endpoint::config() const { return impl_->cfg_; }
const EndpointStats& Endpoint::stats() const { return impl_->stats(); }
std::vector<PeerId> Endpoint::peers() const {
  std::vector<PeerId> v;
  for (auto& p : impl_->peers_)
    if (p) v.push_back(p->id);
  return v;
}
bool Endpoint::peer_stats(PeerId peer, PeerStats& out) const {
  return impl_->peer_stats(peer, out);
}
std::vector<PathStats> Endpoint::path_stats(PeerId peer) const { return impl_->path_stats(peer); }
uint64_t Endpoint::buffered_bytes() const { return impl_->buffered_bytes(); }
uint64_t Endpoint::buffered_messages() const { return impl_->buffered_messages(); }
size_t Endpoint::memory_bytes() const { return impl_->memory_bytes(); }
uint64_t Endpoint::recv_held_bytes() const { return impl_->budget_.held; }

}  // namespace srdx
