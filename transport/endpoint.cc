// The endpoint: peers, the handshake, and the glue between the mechanisms
// (send queue, sent-packet record, path selector, congestion control, ACK
// tracker, reassembly). Each mechanism lives in its own file; this one decides
// what happens when a packet arrives, a timer fires or a packet may leave.
#include "srdx/endpoint.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "ack_tracker.h"
#include "buffer_pool.h"
#include "congestion.h"
#include "path_selector.h"
#include "reassembly.h"
#include "ring_queue.h"
#include "rng.h"
#include "send_queue.h"
#include "sent_packets.h"
#include "wire.h"

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
    case DropReason::stale_epoch:
      return "stale_epoch";
    case DropReason::wrong_epoch:
      return "wrong_epoch";
    case DropReason::no_state:
      return "no_state";
    case DropReason::out_of_window:
      return "out_of_window";
    case DropReason::no_buffer:
      return "no_buffer";
    case DropReason::bad_coalesce:
      return "bad_coalesce";
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

namespace {

constexpr uint32_t kWireOverhead = wire::kDataOverhead + tuning::kIpUdpOverhead;

using tuning::credit_charge;
using tuning::kFloorUpdateRepeats;
using tuning::kMaxStatelessHellos;

struct Retx {
  uint64_t msg_id = 0;
  uint32_t frag = 0;
  uint16_t avoid = PathSelector::kNone;
};

enum class PeerState : uint8_t { idle, connecting, established };

}  // namespace

struct Peer {
  Peer(PeerId pid, Addr a, const EndpointConfig& cfg, Rng& rng, BufferPool& pool)
      : id(pid),
        addr(a),
        sq(cfg.max_outstanding_msgs, pool),
        sent(cfg.max_inflight_packets),
        paths(cfg.paths_per_peer, rng, cfg),
        cc(cfg, cfg.max_payload() + kWireOverhead),
        rx(cfg, pool) {}

  PeerId id;
  Addr addr;
  PeerState state = PeerState::idle;
  bool up = false;
  uint64_t remote_epoch = 0;
  uint32_t features = 0;
  uint32_t peer_max_payload = 0;
  uint64_t peer_max_message = 0;

  // Control work (handshake, ACKs) waiting for poll_transmit.
  bool in_ctrl = false;
  bool hello_due = false, hello_ack_due = false, ack_due = false;
  bool first_hello_sent = false;  // silence is timed from the first hello out
  Duration hello_interval;
  Time hello_next = Time::infinite();
  Time hello_reply_ok = Time::zero();  // rate limit for hellos sent as a reply

  // Liveness: the peer is expected to answer since busy_since.
  Time last_heard = Time::zero();

  // Transmit side.
  SendQueue sq;
  SentPackets sent;
  RecentLosses recent_losses;
  PathSelector paths;
  Congestion cc;
  RingQueue<Retx> retx{16};
  uint64_t next_pn = 0;
  uint64_t peer_max_msg_id = 0;
  uint64_t peer_window =
      0;  // the peer's recv_msg_window: max_msg_id - window = its delivered floor
  uint64_t ordered_waiting = 0;  // ordered messages fully acked, not yet delivered there
  uint64_t peer_free = 0;
  uint32_t last_ack_seq_rx = 0;
  bool have_ack_seq = false;
  uint64_t started_unacked = 0;  // bytes of started, unfinished messages
  Time rto_deadline = Time::infinite();
  Time msg_deadline = Time::infinite();  // no message expires before this
  Time probe_next = Time::infinite();    // credit probe when flow control blocks
  Time keepalive_next = Time::zero();    // hello when busy and the peer is quiet
  uint32_t floor_updates_left = 0;
  Time floor_update_next = Time::infinite();

  // Receive side.
  AckTracker acks;
  Reassembly rx;
  uint32_t ack_pending = 0;
  Time ack_deadline = Time::infinite();
  uint32_t ack_seq_tx = 0;
  // ACKs leave with the entropy of the latest data packet: the sender's path
  // choice then covers the round trip, so an entropy whose return path is dead
  // times out at the sender and is replaced there, like a dead forward path.
  // A pure receiver has no other way to learn which return paths work.
  uint16_t ack_entropy = 0;
  uint64_t last_adv_free = 0, last_adv_max_msg = 0;
  uint32_t rx_gen = 0;

  PeerStats st;
  uint64_t retransmissions = 0;

  // Expecting to hear from the peer: connecting, messages to send, or parts
  // of its messages waiting for the rest.
  bool busy() const {
    return state == PeerState::connecting || sq.live() > 0 || rx.partial_messages() > 0;
  }
};

class Endpoint::Impl final : public Reassembly::Sink {
 public:
  explicit Impl(const EndpointConfig& cfg)
      : cfg_(cfg), rng_(cfg.seed ^ 0x5eed5eed5eedull), pool_(cfg.recv_buffer_bytes), events_(256) {}

  ~Impl() {
    release_lent();
    while (!events_.empty()) {
      const EventEntry e = events_.pop();
      if (e.buf != BufferPool::kNone) pool_.put(e.buf);
    }
  }

  // ---- peers -------------------------------------------------------------
  static uint64_t key(Addr a) { return (uint64_t{a.ip} << 16) | a.port; }

  Result<PeerId> add_peer(Addr a) {
    if (by_addr_.count(key(a))) return {by_addr_[key(a)], Errc::ok};
    if (a.ip == 0 || a.port == 0) return {kNoPeer, Errc::invalid_argument};
    if (peers_.size() >= 0xfffffff0u) return {kNoPeer, Errc::too_many_peers};
    PeerId id = static_cast<PeerId>(peers_.size());
    peers_.push_back(std::make_unique<Peer>(id, a, cfg_, rng_, pool_));
    peers_.back()->st.addr = a;
    by_addr_[key(a)] = id;
    return {id, Errc::ok};
  }

  Peer* peer(PeerId id) const { return id < peers_.size() ? peers_[id].get() : nullptr; }

  PeerId find_peer(Addr a) const {
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

  Errc remove_peer(PeerId id, Time now) {
    Peer* p = peer(id);
    if (!p) return Errc::unknown_peer;
    fail_all(*p, FailReason::peer_removed, now);
    if (p->up) push_event({EventType::peer_down, FailReason::peer_removed, 0, id, 0, 0, {}});
    by_addr_.erase(key(p->addr));
    last_key_ = kNoKey;
    peers_[id].reset();
    return Errc::ok;
  }

  // ---- sending -----------------------------------------------------------
  Result<MsgId> send(PeerId id, std::span<const uint8_t> data, const SendOptions& opt, Time now) {
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
    ++stats_.messages_sent;
    if (p->state == PeerState::idle) start_handshake(*p, now);
    return {m.id, Errc::ok};
  }

  void start_handshake(Peer& p, Time now) {
    p.state = PeerState::connecting;
    p.first_hello_sent = false;
    p.hello_interval = cfg_.handshake_interval;
    p.hello_next = now + p.hello_interval;
    p.hello_due = true;
    want_ctrl(p);
  }

  void want_ctrl(Peer& p) {
    if (p.in_ctrl) return;
    p.in_ctrl = true;
    ctrl_.push(p.id);
  }

  // ---- events ------------------------------------------------------------
  struct EventEntry {
    Event ev;
    BufferPool::Handle buf = BufferPool::kNone;
    uint32_t charge = 0;
    uint32_t rx_gen = 0;
  };

  void push_event(const Event& ev) {
    EventEntry& e = events_.push_slot();
    e.ev = ev;
    e.buf = BufferPool::kNone;
  }

  void deliver(uint64_t msg_id, uint16_t flow, BufferPool::Handle buf, uint32_t len,
               uint32_t charge) override {
    Peer& p = *delivering_;
    EventEntry& e = events_.push_slot();
    e.ev = Event{EventType::message_received,
                 FailReason::none,
                 flow,
                 p.id,
                 msg_id,
                 0,
                 std::span<const uint8_t>(pool_.data(buf), len)};
    e.buf = buf;
    e.charge = charge;
    e.rx_gen = p.rx_gen;
    ++stats_.messages_received;
    ++p.st.messages_received;
    p.st.bytes_received += len;
  }

  // The event poll_event() handed out last stays at the front of the queue,
  // its buffer lent to the caller, until the next call.
  void release_lent() {
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
      // Tell a sender that flow control held back that room opened up.
      const uint64_t cap = cfg_.recv_buffer_bytes;
      if (p->state == PeerState::established && p->last_adv_free < cap / 2 &&
          p->rx.free_bytes() >= p->last_adv_free + cap / 4) {
        p->ack_due = true;
        want_ctrl(*p);
      }
    }
  }

  bool poll_event(Event& out) {
    release_lent();
    if (events_.empty()) return false;
    out = events_.front().ev;
    lent_ = true;
    return true;
  }

  // ---- completion and failure -------------------------------------------
  void complete(Peer& p, TxMsg& m) {
    push_event({EventType::send_completed, FailReason::none, m.flow, p.id, m.id, m.cookie, {}});
    ++stats_.messages_completed;
    ++p.st.messages_completed;
    p.st.bytes_acked += m.len;
    if (m.started) p.started_unacked -= credit_charge(m.len);
    p.sq.finish(m);
    if (p.sq.live() == 0) p.msg_deadline = Time::infinite();
  }

  void fail(Peer& p, TxMsg& m, FailReason why, Time now) {
    if (m.started && m.prev_delta && m.acked == m.nfrags && p.ordered_waiting) --p.ordered_waiting;
    push_event({EventType::send_failed, why, m.flow, p.id, m.id, m.cookie, {}});
    ++stats_.messages_failed;
    ++p.st.messages_failed;
    if (m.started) p.started_unacked -= credit_charge(m.len);
    p.sq.finish(m);
    if (p.sq.live() == 0) p.msg_deadline = Time::infinite();
    // The receiver learns of the new floor from the next data packet; if no
    // data follows, from a few ACK-type floor updates.
    p.floor_updates_left = kFloorUpdateRepeats;
    p.floor_update_next = now;
  }

  void fail_all(Peer& p, FailReason why, Time now) {
    for (uint64_t id = p.sq.floor(); id < p.sq.next_id(); ++id)
      if (TxMsg* m = p.sq.find(id)) fail(p, *m, why, now);
    // Forget what is in flight: those packets will never be acknowledged.
    while (SentPacket* s = p.sent.first()) {
      p.paths.on_abandoned(s->slot);
      p.sent.remove(*s);
    }
    p.recent_losses.clear();
    p.retx.clear();
    p.cc.reset();
    p.rto_deadline = Time::infinite();
    p.msg_deadline = Time::infinite();
    p.probe_next = Time::infinite();
  }

  // The peer came back with a new epoch: nothing of the old connection is
  // valid on either side.
  void on_peer_restart(Peer& p, Time now) {
    ++stats_.peer_restarts;
    fail_all(p, FailReason::peer_restarted, now);
    if (p.up) push_event({EventType::peer_down, FailReason::peer_restarted, 0, p.id, 0, 0, {}});
    p.up = false;
    p.state = PeerState::idle;
    p.sq.reset();
    p.floor_updates_left = 0;
    p.rx.reset();
    p.acks.reset();
    ++p.rx_gen;
    p.ack_pending = 0;
    p.ack_deadline = Time::infinite();
    p.ack_due = false;
    p.have_ack_seq = false;
    p.peer_max_msg_id = 0;
    p.ordered_waiting = 0;
    p.started_unacked = 0;
  }

  // ---- receiving ---------------------------------------------------------
  void drop(DropReason r) { ++stats_.drops[static_cast<size_t>(r)]; }

  void on_packet(std::span<const uint8_t> bytes, const RxPath& path, Time now) {
    ++stats_.packets_received;
    stats_.bytes_received += bytes.size();
    size_t count = 0;
    wire::DecodeError e = wire::decode_datagram(bytes, pkt_, pkt2_, count);
    if (e != wire::DecodeError::ok) return drop(wire::to_drop_reason(e));
    const bool coalesced = count == 2;
    // We never offered it: whoever sent this did not listen to our hello.
    if (coalesced && !(offered_features() & wire::feature::kCoalesce))
      return drop(DropReason::bad_coalesce);
    // A peer is named by its address and the port it receives on; the
    // datagram's source port is only the path entropy.
    Addr from = path.remote;
    if (pkt_.common.src_port) from.port = pkt_.common.src_port;
    PeerId id = find_peer(from);
    Peer* p = peer(id);
    if (!p) {
      if (!cfg_.accept_unknown_peers) return drop(DropReason::unknown_peer);
      const wire::Type t = pkt_.common.type;
      // A peer is created by a hello, or by a hello_ack naming our epoch (the
      // answer to a hello we sent without keeping state, below).
      if (t == wire::Type::data || t == wire::Type::ack ||
          (t == wire::Type::hello_ack && pkt_.hello.dst_epoch != cfg_.epoch)) {
        // Most likely we restarted and the peer still talks to our previous
        // incarnation: a hello with our new epoch tells it. Sent without
        // creating state, so stray or forged packets cannot fill the peer
        // table.
        drop(DropReason::unknown_peer);
        if (stateless_hellos_.size() < kMaxStatelessHellos) stateless_hellos_.push(from);
        return;
      }
      Result<PeerId> r = add_peer(from);
      if (!r.ok()) return drop(DropReason::unknown_peer);
      p = peer(r.value);
    }
    if (coalesced) {
      // Negotiated per connection: a peer that did not see our offer (or did
      // not make its own) must not coalesce. Before a connection exists the
      // epoch checks answer as they do for a lone ack.
      if (p->state == PeerState::established && !(p->features & wire::feature::kCoalesce))
        return drop(DropReason::bad_coalesce);
      // The ACK first: it may free window for the data's answer. Both parts
      // carry the same epochs, so the data passes the checks the ack passed.
      if (!on_ack(*p, pkt_, now)) return;
      ++stats_.coalesced_received;
      return on_data(*p, pkt2_, path.entropy, now);
    }
    switch (pkt_.common.type) {
      case wire::Type::hello:
      case wire::Type::hello_ack:
        return on_hello(*p, pkt_.common.type == wire::Type::hello_ack, now);
      case wire::Type::data:
        return on_data(*p, pkt_, path.entropy, now);
      case wire::Type::ack:
        on_ack(*p, pkt_, now);
        return;
    }
  }

  // Common epoch check for data and ack. Returns false if the packet is dropped.
  bool check_epochs(Peer& p, uint64_t src, uint64_t dst_epoch, Time now) {
    if (p.remote_epoch == 0 || p.state != PeerState::established) {
      drop(DropReason::no_state);
      reply_hello(p, now);
      return false;
    }
    if (src < p.remote_epoch) {
      drop(DropReason::stale_epoch);
      return false;
    }
    if (src > p.remote_epoch) {
      // The peer restarted and we missed its hello: reset and re-handshake.
      on_peer_restart(p, now);
      p.remote_epoch = 0;
      drop(DropReason::no_state);
      start_handshake(p, now);
      return false;
    }
    if (dst_epoch != cfg_.epoch) {
      drop(DropReason::wrong_epoch);
      reply_hello(p, now);
      return false;
    }
    p.last_heard = max(p.last_heard, now);
    return true;
  }

  void reply_hello(Peer& p, Time now) {
    if (now < p.hello_reply_ok) return;
    p.hello_reply_ok = now + cfg_.handshake_interval;
    p.hello_due = true;
    want_ctrl(p);
  }

  void on_hello(Peer& p, bool is_ack, Time now) {
    const wire::Hello& h = pkt_.hello;
    const uint64_t src = pkt_.common.src_epoch;
    if (p.remote_epoch != 0 && src < p.remote_epoch) return drop(DropReason::stale_epoch);
    if (is_ack && h.dst_epoch != cfg_.epoch) return drop(DropReason::wrong_epoch);
    if (p.remote_epoch != 0 && src > p.remote_epoch) on_peer_restart(p, now);
    p.last_heard = max(p.last_heard, now);
    const bool fresh = p.state != PeerState::established || p.remote_epoch != src;
    p.remote_epoch = src;
    if (!is_ack) {
      p.hello_ack_due = true;
      want_ctrl(p);
      // A hello on an established connection is also a credit probe.
      if (!fresh) p.ack_due = true;
    }
    if (!fresh) return;
    p.features = h.features & offered_features();
    p.peer_max_payload = h.max_payload;
    p.peer_max_message = h.max_message;
    p.peer_max_msg_id = p.sq.floor() + h.recv_msg_window;
    p.peer_window = h.recv_msg_window;
    p.peer_free = h.recv_buffer;
    p.have_ack_seq = false;
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

  void on_data(Peer& p, const wire::Packet& pkt, uint16_t entropy, Time now) {
    const wire::Data& d = pkt.data;
    if (!check_epochs(p, pkt.common.src_epoch, d.dst_epoch, now)) return;
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
    if (p.acks.any() && d.pn < p.acks.largest()) ++stats_.out_of_order_packets;
    p.acks.on_packet(d.pn, now);
    p.ack_entropy = entropy;
    p.acks.raise_floor(d.pn - d.pn_floor_delta);
    ++p.ack_pending;
    if (p.ack_pending >= cfg_.ack_every || (pkt.common.flags & wire::flag::kAckNow) ||
        v == Reassembly::Verdict::duplicate) {
      p.ack_due = true;
      want_ctrl(p);
    } else if (p.ack_deadline.is_infinite()) {
      p.ack_deadline = now + cfg_.ack_delay;
    }
  }

  // Returns false when the ACK was dropped by the epoch checks.
  bool on_ack(Peer& p, const wire::Packet& pkt, Time now) {
    const wire::Ack& a = pkt.ack;
    if (!check_epochs(p, pkt.common.src_epoch, a.dst_epoch, now)) return false;
    if (!p.have_ack_seq || static_cast<int32_t>(a.ack_seq - p.last_ack_seq_rx) > 0) {
      p.have_ack_seq = true;
      p.last_ack_seq_rx = a.ack_seq;
      p.peer_max_msg_id = std::max(p.peer_max_msg_id, a.max_msg_id);
      p.peer_free = uint64_t{a.free_buffer_kib} * 1024;
      if (p.peer_free >= p.started_unacked) p.probe_next = Time::infinite();
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
    int r = a.range_count - 1;
    bool any_acked = false;
    for (SentPacket* s = p.sent.first(); s && s->pn <= a.largest_pn;) {
      SentPacket* next = p.sent.next(*s);
      while (r >= 0 && a.ranges[r].hi < s->pn) --r;
      if (r < 0) break;
      if (a.ranges[r].lo <= s->pn) {
        on_packet_acked(p, *s, now, ack_delay);
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
  void check_late_acks(Peer& p, const wire::Ack& a, Time now, Duration ack_delay) {
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
      if (rtt > ack_delay) rtt -= ack_delay;
      p.paths.on_late_ack(e.pkt.slot, e.pkt.slot_gen, e.pkt.path_seq, rtt);
      if (e.by_timeout) p.cc.undo_timeout();
      const uint64_t msg_id = e.pkt.msg_id;
      const uint32_t frag = e.pkt.frag;
      p.recent_losses.drop(i);
      finish_fragment(p, msg_id, frag);
    }
  }

  void on_packet_acked(Peer& p, SentPacket& s, Time now, Duration ack_delay) {
    Duration rtt = now - s.sent_time;
    if (rtt > ack_delay) rtt -= ack_delay;
    p.paths.on_acked(s.slot, s.path_seq, rtt);
    const PathSlot& slot = p.paths.slot(s.slot);
    Duration qdelay = slot.has_rtt ? rtt - slot.min_rtt : Duration::nanos(-1);
    p.cc.on_acked(s.bytes, qdelay, p.paths.min_rtt(), p.paths.srtt(), now);
    const uint64_t msg_id = s.msg_id;
    const uint32_t frag = s.frag;
    p.sent.remove(s);
    finish_fragment(p, msg_id, frag);
  }

  // Fragment `frag` of message `msg_id` reached the peer.
  void finish_fragment(Peer& p, uint64_t msg_id, uint32_t frag) {
    TxMsg* m = p.sq.find(msg_id);
    if (!m || !p.sq.ack_frag(*m, frag) || m->acked != m->nfrags) return;
    // An ordered message may sit complete at the peer waiting for its
    // predecessor; it is done when the peer delivered it (its delivered floor,
    // max_msg_id - window, passed it), so a restart there cannot lose it
    // after we reported success.
    if (m->prev_delta && m->id >= delivered_floor(p)) {
      ++p.ordered_waiting;
      return;
    }
    complete(p, *m);
  }

  static uint64_t delivered_floor(const Peer& p) {
    return p.peer_max_msg_id >= p.peer_window ? p.peer_max_msg_id - p.peer_window : 0;
  }

  void complete_delivered_ordered(Peer& p) {
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
  void lose(Peer& p, SentPacket& s, Time now, bool by_timeout) {
    p.recent_losses.add(s, now, by_timeout);
    p.cc.on_lost(s.bytes);
    const uint64_t msg_id = s.msg_id;
    const uint32_t frag = s.frag;
    const uint16_t slot = s.slot;
    p.sent.remove(s);
    TxMsg* m = p.sq.find(msg_id);
    if (m && !m->frag_acked(frag)) p.retx.push(Retx{msg_id, frag, slot});
  }

  void arm_rto(Peer& p) {
    SentPacket* head = p.sent.first();
    p.rto_deadline = head ? head->sent_time + p.paths.min_rto() : Time::infinite();
  }

  // ---- timers ------------------------------------------------------------
  void on_timer(Time now) {
    for (auto& up : peers_) {
      if (!up) continue;
      Peer& p = *up;
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
        p.hello_due = true;
        p.probe_next = now + p.paths.min_rto() * 2;
        want_ctrl(p);
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
        // (and tells us of a restart through its epoch).
        p.hello_due = true;
        p.keepalive_next = now + cfg_.peer_timeout / 8;
        want_ctrl(p);
      }
    }
  }

  void scan_rto(Peer& p, Time now) {
    const Duration floor = p.paths.min_rto();
    Time next = Time::infinite();
    expired_.clear();
    uint64_t slots_hit[tuning::kMaxPathsPerPeer / 64] = {};
    uint32_t distinct = 0;
    SentPacket* s = p.sent.first();
    for (; s && s->sent_time + floor <= now; s = p.sent.next(*s)) {
      Time expiry = s->sent_time + p.paths.rto(s->slot);
      if (expiry > now) {
        next = min(next, expiry);
        continue;
      }
      expired_.push_back(s);
      uint64_t& w = slots_hit[s->slot >> 6];
      const uint64_t bit = uint64_t{1} << (s->slot & 63);
      distinct += (w & bit) ? 0 : 1;
      w |= bit;
    }
    if (s) next = min(next, s->sent_time + floor);
    p.rto_deadline = next;
    if (expired_.empty()) return;
    // Timeouts on one or a few paths are those paths' problem: the selector
    // steers away and re-draws them. Timeouts on most paths at once are a
    // stall (the peer or this host was descheduled) or the connection sending
    // too much: no path is blamed, and the window shrinks.
    const bool stall = p.paths.size() > 1 && distinct * 2 > p.paths.size();
    for (SentPacket* e : expired_) {
      ++stats_.rto_events;
      p.paths.on_timeout(e->slot, e->slot_gen, now, !stall);
      lose(p, *e, now, true);
    }
    if (stall || p.paths.size() == 1) p.cc.on_timeout(p.paths.srtt(), now);
    p.paths.on_rto_round();
    p.paths.refresh(now);
  }

  void scan_deadlines(Peer& p, Time now) {
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

  void peer_down(Peer& p, Time now) {
    fail_all(p, FailReason::peer_unreachable, now);
    // Parts of its messages will not be completed by a peer we lost.
    delivering_ = &p;
    p.rx.abandon_partial(*this);
    if (p.up) push_event({EventType::peer_down, FailReason::peer_unreachable, 0, p.id, 0, 0, {}});
    p.up = false;
    p.state = PeerState::idle;
    p.hello_next = Time::infinite();
    p.hello_due = false;
  }

  Time next_deadline() const {
    Time t = Time::infinite();
    if (!ctrl_.empty() || !stateless_hellos_.empty()) return Time::zero();
    for (auto& up : peers_) {
      if (!up) continue;
      const Peer& p = *up;
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
      t = min(t, data_ready_time(p));
    }
    return t;
  }

  // ---- transmitting ------------------------------------------------------
  size_t poll_transmit(std::span<uint8_t> buf, TxPath& path, Time now) {
    if (!stateless_hellos_.empty()) {
      path.remote = stateless_hellos_.pop();
      path.entropy = static_cast<uint16_t>(1 + rng_.below(0xfffe));
      path.link = 0;
      wire::Hello h;
      fill_hello(h, 0);
      ++stats_.handshake_packets_sent;
      if (size_t n = wire::encode_hello(buf, common(wire::Type::hello), h)) return count_sent(n);
    }
    while (!ctrl_.empty()) {
      Peer* p = peer(ctrl_.front());
      if (!p) {
        ctrl_.pop();
        continue;
      }
      size_t n = control_packet(*p, buf, path, now);
      if (n) return count_sent(n);
      ctrl_.pop();
      p->in_ctrl = false;
    }
    const size_t np = peers_.size();
    for (size_t i = 0; i < np; ++i) {
      Peer* p = peers_[(rr_ + i) % np].get();
      if (!p) continue;
      size_t n = data_packet(*p, buf, path, now);
      if (n) {
        rr_ = (rr_ + i + 1) % np;
        return count_sent(n);
      }
    }
    return 0;
  }

  size_t count_sent(size_t n) {
    ++stats_.packets_sent;
    stats_.bytes_sent += n;
    return n;
  }

  wire::Common common(wire::Type t, uint16_t flags = 0) const {
    wire::Common c;
    c.type = t;
    c.flags = flags;
    c.src_port = cfg_.port;
    c.src_epoch = cfg_.epoch;
    return c;
  }

  uint32_t offered_features() const {
    return cfg_.coalesce ? wire::feature::kSupported
                         : wire::feature::kSupported & ~wire::feature::kCoalesce;
  }

  void fill_hello(wire::Hello& h, uint64_t dst_epoch) const {
    h.dst_epoch = dst_epoch;
    h.features = offered_features();
    h.max_payload = cfg_.max_payload();
    h.max_message = cfg_.max_message_size;
    h.recv_msg_window = cfg_.recv_msg_window;
    h.recv_buffer = cfg_.recv_buffer_bytes;
  }

  // One control packet for `p`, or 0 when it has none left.
  size_t control_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
    path.remote = p.addr;
    path.link = 0;
    path.entropy = p.paths.slot(p.paths.choose(PathSelector::kNone, now)).entropy;
    // An ACK for fresh data follows that data's entropy back; anything else
    // (handshake, keepalive answers, floor updates) takes a path of its own,
    // so it does not keep following an entropy that may have died since.
    if (p.ack_entropy && p.ack_pending && !p.hello_ack_due && !p.hello_due)
      path.entropy = p.ack_entropy;
    if (p.hello_ack_due) {
      p.hello_ack_due = false;
      wire::Hello h;
      fill_hello(h, p.remote_epoch);
      ++stats_.handshake_packets_sent;
      return wire::encode_hello(buf, common(wire::Type::hello_ack), h);
    }
    if (p.hello_due) {
      p.hello_due = false;
      if (p.state == PeerState::connecting && !p.first_hello_sent) {
        // However late the caller polls after send(), the peer gets a full
        // peer_timeout to answer.
        p.first_hello_sent = true;
        p.last_heard = max(p.last_heard, now);
      }
      wire::Hello h;
      fill_hello(h, p.remote_epoch);
      ++stats_.handshake_packets_sent;
      return wire::encode_hello(buf, common(wire::Type::hello), h);
    }
    const bool floor_update = p.floor_updates_left && now >= p.floor_update_next;
    if ((p.ack_due || floor_update || now >= p.ack_deadline) && p.state == PeerState::established) {
      p.ack_due = false;
      p.ack_pending = 0;
      p.ack_deadline = Time::infinite();
      if (floor_update) {
        --p.floor_updates_left;
        p.floor_update_next = now + p.paths.min_rto();
      }
      wire::Ack& a = ack_;
      a.dst_epoch = p.remote_epoch;
      if (!p.acks.fill(a)) {
        // More fresh arrivals than one ACK holds: another ACK right away.
        p.ack_due = true;
      }
      a.ack_delay_ns = p.acks.any() ? static_cast<uint32_t>(std::min<int64_t>(
                                          (now - p.acks.largest_time()).ns(), 0xffffffffll))
                                    : 0;
      a.ack_seq = ++p.ack_seq_tx;
      a.max_msg_id = p.rx.max_msg_id();
      a.free_buffer_kib =
          static_cast<uint32_t>(std::min<uint64_t>(p.rx.free_bytes() / 1024, 0xffffffffu));
      a.msg_floor = p.sq.floor();
      p.last_adv_free = p.rx.free_bytes();
      p.last_adv_max_msg = a.max_msg_id;
      ++stats_.ack_packets_sent;
      // Data to the same peer that is ready to leave now rides in the same
      // datagram when both fit in one packet's payload room (an answer to the
      // request being acknowledged, typically). The datagram takes the data's
      // path: the data's slot accounting needs it, and the ACK then returns
      // over a path this side's selector picked as good.
      const size_t ack_len =
          wire::kCommonHeaderSize + wire::kAckSize + size_t{a.range_count} * wire::kAckRangeSize;
      if (may_coalesce(p, ack_len, now)) {
        const size_t n = wire::encode_ack(buf, common(wire::Type::ack, wire::flag::kCoalesced), a);
        if (n != 0) {
          if (size_t d = data_packet(p, buf.subspan(n), path, now)) {
            ++stats_.coalesced_sent;
            return n + d;
          }
        }
      }
      return wire::encode_ack(buf, common(wire::Type::ack), a);
    }
    if (p.state != PeerState::established) {
      // Nothing to acknowledge to a peer we have no connection with; the
      // floor reaches it with the first data after the next handshake.
      p.ack_deadline = Time::infinite();
      p.floor_updates_left = 0;
    }
    p.ack_due = false;
    return 0;
  }

  // Whether `p` may send a data packet, and of how many wire bytes.
  enum class Gate : uint8_t { ready, nothing, blocked_cwnd, blocked_credit, blocked_ring };

  // `next`: the message new fragments come from (when no repair is queued).
  Gate data_gate(const Peer& p, uint32_t& bytes, const TxMsg** next = nullptr) const {
    if (p.state != PeerState::established) return Gate::nothing;
    if (!p.sent.has_room(p.next_pn)) return Gate::blocked_ring;
    // Only a repair still needed counts: one whose fragment was acknowledged
    // since (a spurious loss) sends nothing, and must not let a new message
    // start here without the credit check below.
    if (has_live_retx(p)) {
      bytes = cfg_.max_payload() + kWireOverhead;
    } else {
      const TxMsg* m = p.sq.next_unsent();
      if (next) *next = m;
      if (!m) return Gate::nothing;
      if (!m->started) {
        if (m->id >= p.peer_max_msg_id) return Gate::blocked_credit;
        const uint64_t need = credit_charge(m->len);
        if (p.started_unacked + need > p.peer_free) return Gate::blocked_credit;
      }
      bytes = kWireOverhead + std::min<uint32_t>(m->len, payload_size(p));
    }
    if (!p.cc.can_send(bytes)) return Gate::blocked_cwnd;
    return Gate::ready;
  }

  static bool stale(const Peer& p, const Retx& r) {
    const TxMsg* m = p.sq.find(r.msg_id);
    return !m || m->frag_acked(r.frag);
  }

  // Whether a queued repair is still needed. The front one usually is: every
  // path that pops repairs drops stale ones from the front first.
  static bool has_live_retx(const Peer& p) {
    for (size_t i = 0; i < p.retx.size(); ++i)
      if (!stale(p, p.retx[i])) return true;
    return false;
  }

  // Drops repairs whose fragments were acknowledged (or whose messages ended)
  // from the front of the queue.
  static void drop_stale_retx(Peer& p) {
    while (!p.retx.empty() && stale(p, p.retx.front())) p.retx.pop();
  }

  // Whether the data packet `p` sends next may follow an ACK of `ack_len`
  // bytes in one datagram: coalescing negotiated, data_packet() would send
  // now, and the ACK plus the fragment fit in one packet's payload room (the
  // smaller of both sides' max_payload, so within both MTUs). A fragment's
  // size is fixed when its message starts, so it cannot shrink to make room.
  bool may_coalesce(Peer& p, size_t ack_len, Time now) {
    if (!(p.features & wire::feature::kCoalesce)) return false;
    // data_packet() skips repairs of fragments acknowledged since; so do we,
    // to look at the fragment it would really send.
    drop_stale_retx(p);
    uint32_t bytes = 0;
    const TxMsg* next = nullptr;
    if (data_gate(p, bytes, &next) != Gate::ready) return false;
    if (cfg_.pacing && now < p.cc.next_send_time()) return false;
    uint32_t flen = 0;
    if (!p.retx.empty()) {
      const Retx& r = p.retx.front();
      const TxMsg* m = p.sq.find(r.msg_id);
      flen = m->len == 0 ? 0 : m->frag_len(r.frag);
    } else if (next->started) {
      flen = next->len == 0 ? 0 : next->frag_len(next->next_frag);
    } else {
      flen = std::min<uint32_t>(next->len, payload_size(p));
    }
    return ack_len + flen <= payload_size(p);
  }

  uint32_t payload_size(const Peer& p) const {
    return std::min<uint32_t>(cfg_.max_payload(), p.peer_max_payload);
  }

  Time data_ready_time(const Peer& p) const {
    uint32_t bytes = 0;
    Gate g = data_gate(p, bytes);
    if (g != Gate::ready) return Time::infinite();
    return cfg_.pacing ? p.cc.next_send_time() : Time::zero();
  }

  size_t data_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
    drop_stale_retx(p);
    uint32_t bytes = 0;
    const TxMsg* next = nullptr;
    Gate g = data_gate(p, bytes, &next);
    if (g == Gate::blocked_credit && p.sent.count() == 0 && p.probe_next.is_infinite())
      p.probe_next = now + p.paths.min_rto();
    if (g != Gate::ready) return 0;
    if (cfg_.pacing && now < p.cc.next_send_time()) return 0;

    TxMsg* m = nullptr;
    uint32_t frag = 0;
    uint16_t avoid = PathSelector::kNone;
    bool retransmission = false;
    while (!p.retx.empty()) {
      Retx r = p.retx.pop();
      TxMsg* cand = p.sq.find(r.msg_id);
      if (!cand || cand->frag_acked(r.frag)) continue;
      m = cand;
      frag = r.frag;
      avoid = r.avoid;
      retransmission = true;
      break;
    }
    if (!m) {
      m = next ? p.sq.find(next->id) : p.sq.next_unsent();
      if (!m) return 0;
      if (!m->started) {
        p.sq.start(*m, payload_size(p));
        p.started_unacked += credit_charge(m->len);
      }
      frag = m->next_frag++;
    }

    const uint16_t slot = p.paths.choose(avoid, now);
    const uint32_t flen = m->len == 0 ? 0 : m->frag_len(frag);
    wire::Data& d = pkt_out_;
    d.dst_epoch = p.remote_epoch;
    d.pn = p.next_pn;
    SentPacket* head = p.sent.first();
    d.pn_floor_delta =
        static_cast<uint32_t>(std::min<uint64_t>(head ? d.pn - head->pn : 0, 0xffffffffu));
    d.msg_id = m->id;
    d.msg_floor_delta =
        static_cast<uint32_t>(std::min<uint64_t>(m->id - p.sq.floor(), 0xffffffffu));
    d.msg_len = m->len;
    d.frag_index = frag;
    d.prev_delta = m->prev_delta;
    d.frag_size = static_cast<uint16_t>(m->frag_size);
    d.flow = m->flow;
    d.payload_len = static_cast<uint16_t>(flen);
    d.payload =
        std::span<const uint8_t>(m->data ? m->data + uint64_t{frag} * m->frag_size : nullptr, flen);
    uint16_t flags = 0;
    if (m->prev_delta) flags |= wire::flag::kOrdered;
    if (retransmission) flags |= wire::flag::kRetransmission;
    // Ask for an immediate ACK when this packet may be the last for a while
    // (the tail of the queue, or a repair), so completion does not wait for
    // the delayed-ACK timer.
    if (retransmission ||
        (m->next_frag >= m->nfrags && m->id + 1 == p.sq.next_id() && p.retx.empty()))
      flags |= wire::flag::kAckNow;
    size_t n = wire::encode_data(buf, common(wire::Type::data, flags), d);
    if (n == 0) return 0;

    const uint32_t wire_bytes = static_cast<uint32_t>(n + tuning::kIpUdpOverhead);
    SentPacket s;
    s.pn = p.next_pn++;
    s.msg_id = m->id;
    s.frag = frag;
    s.bytes = wire_bytes;
    s.slot = slot;
    s.slot_gen = p.paths.slot(slot).generation;
    s.path_seq = p.paths.on_sent(slot);
    s.sent_time = now;
    p.sent.add(s);
    p.cc.on_sent(wire_bytes, now, p.paths.has_rtt() ? p.paths.srtt() : Duration::zero());
    if (p.rto_deadline.is_infinite()) p.rto_deadline = now + p.paths.min_rto();
    ++stats_.data_packets_sent;
    if (retransmission) {
      ++stats_.retransmissions;
      ++p.retransmissions;
    }
    path.remote = p.addr;
    path.entropy = p.paths.slot(slot).entropy;
    path.link = 0;
    return n;
  }

  // ---- introspection -----------------------------------------------------
  bool peer_stats(PeerId id, PeerStats& out) const {
    const Peer* p = peer(id);
    if (!p) return false;
    out = p->st;
    out.addr = p->addr;
    out.up = p->up;
    out.remote_epoch = p->remote_epoch;
    out.srtt = p->paths.srtt();
    out.min_rtt = p->paths.min_rtt();
    out.cwnd_bytes = p->cc.cwnd();
    out.inflight_bytes = p->cc.inflight();
    out.messages_queued = p->sq.live();
    out.retransmissions = p->retransmissions;
    return true;
  }

  std::vector<PathStats> path_stats(PeerId id) const {
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

  uint64_t buffered_bytes() const {
    uint64_t b = 0;
    for (auto& p : peers_)
      if (p) b += p->sq.buffered_bytes() + p->rx.held_bytes();
    return b;
  }

  uint64_t buffered_messages() const {
    uint64_t n = events_.size() - (lent_ ? 1 : 0);
    for (auto& p : peers_)
      if (p) n += p->sq.live() + p->rx.partial_messages() + p->sent.count() + p->retx.size();
    return n;
  }

  EndpointStats& stats() {
    stats_.path_replacements = 0;
    for (auto& p : peers_)
      if (p) stats_.path_replacements += p->paths.replacements();
    return stats_;
  }

  EndpointConfig cfg_;
  Rng rng_;
  BufferPool pool_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::unordered_map<uint64_t, PeerId> by_addr_;
  // find_peer()'s last hit; key() never makes kNoKey (48 bits).
  static constexpr uint64_t kNoKey = ~uint64_t{0};
  mutable uint64_t last_key_ = kNoKey;
  mutable PeerId last_id_ = kNoPeer;
  RingQueue<EventEntry> events_;
  bool lent_ = false;  // events_.front() was handed out by poll_event()
  RingQueue<PeerId> ctrl_{64};
  RingQueue<Addr> stateless_hellos_{kMaxStatelessHellos};
  size_t rr_ = 0;
  Peer* delivering_ = nullptr;
  std::vector<SentPacket*> expired_;  // scan_rto's scratch list
  wire::Packet pkt_, pkt2_;  // a datagram's packets (pkt2_: the data after a coalesced ack)
  wire::Data pkt_out_;
  wire::Ack ack_;
  EndpointStats stats_;
};

Endpoint::Endpoint(const EndpointConfig& cfg) {
  std::string err = cfg.validate();
  if (!err.empty()) throw std::invalid_argument(err);
  impl_ = std::make_unique<Impl>(cfg);
}
Endpoint::~Endpoint() = default;

Result<PeerId> Endpoint::add_peer(Addr addr) { return impl_->add_peer(addr); }
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

}  // namespace srdx
