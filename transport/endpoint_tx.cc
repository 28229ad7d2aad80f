// The transmit path: what leaves next. Stateless replies first, then each
// peer's control packets (handshake, ACKs, floor updates), then data,
// round robin over the peers, paced and within the congestion window and the
// peer's credit.
#include <algorithm>
#include <cstring>

#include "endpoint_impl.h"

namespace srdx {

// One control packet for `p`, or 0 when it has none left.
size_t Endpoint::Impl::control_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
  path.remote = p.addr;
  path.link = 0;
  path.entropy = p.paths.slot(p.paths.choose(PathSelector::kNone, now)).entropy;
  // An ACK for fresh data goes back over a path chosen from the data's
  // sender's echoes, or retraces the data's entropy (ack_paths.h); anything
  // else (handshake, keepalive answers, floor updates) takes a path of its
  // own, so it does not keep following an entropy that may have died since.
  const uint16_t data_entropy = p.ack_pending ? p.ack_entropy : 0;
  if (data_entropy && !p.hello_ack_due && !p.hello_due && !(p.features & wire::feature::kAckEcho))
    path.entropy = data_entropy;
  if (p.hello_ack_due) {
    p.hello_ack_due = false;
    wire::Hello h;
    fill_hello(h, p, false);
    h.initial_window = p.start_grant;
    ++stats_.handshake_packets_sent;
    return wire::encode_hello(buf, common(p, wire::Type::hello_ack), h);
  }
  if (p.hello_due) {
    p.hello_due = false;
    if (p.state == PeerState::connecting && !p.first_hello_sent) {
      // However late the caller polls after send(), the peer gets a full
      // peer_timeout to answer.
      p.first_hello_sent = true;
      p.last_heard = max(p.last_heard, now);
    }
    ++stats_.handshake_packets_sent;
    if (p.state == PeerState::connecting) p.hello_sent_at = now;
    if (cfg_.encryption && p.state == PeerState::connecting) return noise_hello(p, buf);
    wire::Hello h;
    fill_hello(h, p, p.state == PeerState::connecting && p.have_cookie);
    return wire::encode_hello(buf, common(p, wire::Type::hello), h);
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
    a.dst_cid = p.remote_cid;
    if (!p.acks.fill(a)) {
      // More fresh arrivals than one ACK holds: another ACK right away.
      p.ack_due = true;
    }
    a.ack_delay_ns = p.acks.any() ? static_cast<uint32_t>(std::min<int64_t>(
                                        (now - p.acks.largest_time()).ns(), 0xffffffffll))
                                  : 0;
    a.ack_seq = ++p.ack_seq_tx;
    a.max_msg_id = p.rx.max_msg_id();
    a.free_buffer = p.rx.free_bytes();
    a.share = (p.features & wire::feature::kShare) ? p.share_adv : 0;
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
    wire::Common ac = common(p, wire::Type::ack);
    if ((p.features & wire::feature::kRxWait) && p.acks.any())
      ac.echo = static_cast<uint16_t>(std::min<int64_t>(p.acks.largest_wait().ns() / 1000, 0xffff));
    if (may_coalesce(p, ack_len, now)) {
      wire::Common cc = ac;
      cc.flags |= wire::flag::kCoalesced;
      const size_t n = wire::encode_ack(buf, cc, a);
      if (n != 0) {
        if (size_t d = data_packet(p, buf.subspan(n), path, now)) {
          ++stats_.coalesced_sent;
          return n + d;
        }
      }
    }
    if (p.features & wire::feature::kAckEcho) {
      // The copies of an ACK of a repair explore, each on a random draw.
      // Whichever arrives is echoed and proves its path.
      const bool copy = p.ack_copy_entropy != 0;
      path.entropy =
          p.ack_paths.choose(copy ? p.ack_copy_entropy : data_entropy, path.entropy, now, copy);
      p.ack_copy_entropy = 0;
      if (p.ack_copies) {
        --p.ack_copies;
        p.ack_due = true;
        do {
          p.ack_copy_entropy = static_cast<uint16_t>(1 + rng_.below(0xfffe));
        } while (p.ack_copy_entropy == path.entropy);
      }
    }
    return wire::encode_ack(buf, ac, a);
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

// Whether the data packet `p` sends next may follow an ACK of `ack_len`
// bytes in one datagram: coalescing negotiated, data_packet() would send
// now, and the ACK plus the fragment fit in one packet's payload room (the
// smaller of both sides' max_payload, so within both MTUs). A fragment's
// size is fixed when its message starts, so it cannot shrink to make room.
bool Endpoint::Impl::may_coalesce(Peer& p, size_t ack_len, Time now) {
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

size_t Endpoint::Impl::data_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
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
      p.started_unseen += tuning::credit_charge(m->len);
    }
    frag = m->next_frag++;
  }

  const uint16_t slot = p.paths.choose(avoid, now);
  const uint32_t flen = m->len == 0 ? 0 : m->frag_len(frag);
  wire::Data& d = pkt_out_;
  d.dst_cid = p.remote_cid;
  d.pn = p.next_pn;
  SentPacket* head = p.sent.first();
  d.pn_floor_delta =
      static_cast<uint32_t>(std::min<uint64_t>(head ? d.pn - head->pn : 0, 0xffffffffu));
  d.msg_id = m->id;
  d.msg_floor_delta = static_cast<uint32_t>(std::min<uint64_t>(m->id - p.sq.floor(), 0xffffffffu));
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
  wire::Common c = common(p, wire::Type::data, flags);
  if (p.features & wire::feature::kAckEcho) c.echo = p.echoes.next();
  size_t n = wire::encode_data(buf, c, d);
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

void Endpoint::Impl::fill_hello(wire::Hello& h, const Peer& p, bool with_cookie) const {
  h = wire::Hello{};
  h.dst_cid = p.remote_cid;
  h.features = offered_features();
  h.max_payload = cfg_.max_payload();
  h.max_message = cfg_.max_message_size;
  h.recv_msg_window = cfg_.recv_msg_window;
  h.recv_buffer = cfg_.recv_buffer_bytes;
  if (with_cookie) std::memcpy(h.cookie, p.cookie, wire::kCookieSize);
}

// A retry or a close, from the stateless queue (0 if it did not fit).
size_t Endpoint::Impl::stateless_packet(std::span<uint8_t> buf, TxPath& path) {
  const StatelessReply r = stateless_.pop();
  path.remote = r.to;
  path.entropy = static_cast<uint16_t>(1 + rng_.below(0xfffe));
  path.link = 0;
  if (r.sealed_len) {
    if (buf.size() < r.sealed_len) return 0;
    std::memcpy(buf.data(), r.sealed, r.sealed_len);
    ++stats_.closes_sent;
    return r.sealed_len;
  }
  wire::Common c;
  c.type = r.type;
  c.src_port = cfg_.port;
  c.src_cid = r.src_cid;
  if (r.type == wire::Type::retry) {
    wire::Retry rt;
    rt.dst_cid = r.dst_cid;
    std::memcpy(rt.cookie, r.cookie, wire::kCookieSize);
    ++stats_.retries_sent;
    ++stats_.handshake_packets_sent;
    return wire::encode_retry(buf, c, rt);
  }
  wire::Close cl;
  cl.dst_cid = r.dst_cid;
  cl.reason = r.reason;
  ++stats_.closes_sent;
  return wire::encode_close(buf, c, cl);
}

}  // namespace srdx
