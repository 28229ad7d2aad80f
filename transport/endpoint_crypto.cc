// Encryption (docs/protocol.md, section 13): the Noise IK handshake carried
// in hello and hello_ack, and every later datagram sealed with the
// connection's keys. The cryptography itself is OpenSSL's (seal.h, noise.h);
// this file decides what is accepted and when, and keeps the rule that a
// datagram that does not authenticate changes nothing.
#include <openssl/crypto.h>

#include <cstring>

#include "endpoint_impl.h"

namespace srdx {
namespace {

constexpr uint8_t kPrologue[] = {'s', 'r', 'd', 'x', ' ', 'v', '3'};

std::span<const uint8_t> prologue() { return {kPrologue, sizeof kPrologue}; }

uint64_t key_hash(const PublicKey& k) {
  uint64_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);
  return h;
}

}  // namespace

bool Endpoint::Impl::hello_replayed(const PublicKey& key, uint64_t id) const {
  auto it = hello_ids_.find(key_hash(key));
  if (it == hello_ids_.end() || it->second.key != key) return false;
  for (uint64_t x : it->second.ids)
    if (x == id) return true;
  return false;
}

void Endpoint::Impl::remember_hello(const PublicKey& key, uint64_t id) {
  HelloIds& h = hello_ids_[key_hash(key)];
  if (h.key != key) h = HelloIds{key, {}, 0};  // another key with those 8 bytes: start over
  for (uint64_t x : h.ids)
    if (x == id) return;
  h.ids[h.next] = id;
  h.next = (h.next + 1) % tuning::kHelloIdsKept;
}

// ---- receiving ---------------------------------------------------------------

void Endpoint::Impl::on_packet_encrypted(std::span<const uint8_t> bytes, const RxPath& path,
                                         Time now) {
  if (wire::is_sealed(bytes)) return on_sealed(bytes, path, now);
  size_t count = 0;
  const wire::DecodeError e = wire::decode_datagram(bytes, pkt_, pkt2_, count);
  if (e != wire::DecodeError::ok) return drop(wire::to_drop_reason(e));
  const wire::Type t = pkt_.common.type;
  // In the clear only the handshake (with its Noise message) and retries:
  // a clear data, ack or close could come from anyone on the path.
  const bool handshake = (t == wire::Type::hello || t == wire::Type::hello_ack) &&
                         (pkt_.hello.features & wire::feature::kSealed);
  if (count != 1 || !(handshake || t == wire::Type::retry))
    return drop(DropReason::unauthenticated);
  Addr from = path.remote;
  if (pkt_.common.src_port) from.port = pkt_.common.src_port;
  Peer* p = peer(find_peer(from));
  if (!p) return on_stranger_encrypted(from, now);
  switch (t) {
    case wire::Type::hello:
      return on_noise_hello(*p, from, now);
    case wire::Type::hello_ack:
      return on_noise_hello_ack(*p, now);
    default:
      return on_retry(*p);
  }
}

void Endpoint::Impl::on_stranger_encrypted(Addr from, Time now) {
  if (!cfg_.accept_unknown_peers || pkt_.common.type != wire::Type::hello)
    return drop(DropReason::unknown_peer);
  // The address first (a retry costs nothing); the Diffie-Hellman work only
  // for a hello that proved it.
  if (!hello_proven(nullptr, from, pkt_, now)) return answer_unproven_hello(nullptr, from, now);
  crypto::NoiseIK hs;
  hs.init_responder(static_priv_, prologue());
  uint8_t tr[wire::kHelloTranscriptSize];
  wire::hello_transcript(pkt_.common, pkt_.hello, tr);
  PublicKey key{};
  if (!hs.read_msg1(tr, pkt_.hello.noise.first<wire::kNoise1Size>(), key))
    return drop(DropReason::bad_auth);
  bool known = false;
  for (const PublicKey& k : allowed_keys_) known = known || k == key;
  if (!known) return drop(DropReason::unknown_key);
  // A hello of a connection answered before (the peer was reclaimed since).
  if (hello_replayed(key, pkt_.common.src_cid)) return drop(DropReason::replay);
  if (live_peers_ >= cfg_.max_peers) return drop(DropReason::peer_limit);
  Result<PeerId> r = add_peer(from, key);
  if (!r.ok()) return drop(DropReason::unknown_peer);
  Peer& p = *peer(r.value);
  p.accepted = true;
  // Heard now: the idle clock of an accepted peer starts here, not at zero.
  p.last_heard = max(p.last_heard, now);
  respond(p, hs, now);
}

void Endpoint::Impl::on_noise_hello(Peer& p, Addr from, Time now) {
  const uint64_t src = pkt_.common.src_cid;
  PeerCrypto& k = crypto_of(p);
  // A repeat of a hello we answered (our answer was lost): the same answer,
  // and nothing else changes.
  if (k.msg2_for == src && (k.pending ? k.pending_remote == src : p.remote_cid == src)) {
    if (reply_allowed(&p, now)) {
      k.msg2_due = true;
      want_ctrl(p);
    }
    return;
  }
  if (!hello_proven(&p, from, pkt_, now)) return answer_unproven_hello(&p, from, now);
  crypto::NoiseIK hs;
  hs.init_responder(static_priv_, prologue());
  uint8_t tr[wire::kHelloTranscriptSize];
  wire::hello_transcript(pkt_.common, pkt_.hello, tr);
  PublicKey key{};
  if (!hs.read_msg1(tr, pkt_.hello.noise.first<wire::kNoise1Size>(), key))
    return drop(DropReason::bad_auth);
  if (key != p.static_key) return drop(DropReason::unknown_key);
  // An older hello of this key than the one answered last: a replay (the
  // initiator moved on, and its ephemeral key is gone). Answering it would
  // displace the connection the newer hello offered.
  if (src != k.msg2_for && hello_replayed(key, src)) return drop(DropReason::replay);
  if (p.state == PeerState::connecting && k.hs_active) {
    // Both sides opened at once. The handshake of the side with the larger
    // public key goes on; the other answers it.
    if (static_pub_ > p.static_key) return;
    k.hs.clear();
    k.hs_active = false;
  }
  respond(p, hs, now);
}

void Endpoint::Impl::respond(Peer& p, crypto::NoiseIK& hs, Time now) {
  PeerCrypto& k = crypto_of(p);
  const wire::Hello& h = pkt_.hello;
  const uint64_t src = pkt_.common.src_cid;
  // Our id for the offered connection: the one our own hello already named
  // when we were connecting, a fresh one otherwise (the live connection, if
  // any, keeps its own until this one is confirmed).
  const uint64_t local = p.state == PeerState::connecting ? p.local_cid : secrets_.next_cid();
  wire::Common c;
  c.type = wire::Type::hello_ack;
  c.src_port = cfg_.port;
  c.src_cid = local;
  wire::Hello a;
  fill_hello(a, p, false);
  a.dst_cid = src;
  a.initial_window = start_grant(h, now);
  uint8_t tr[wire::kHelloTranscriptSize];
  wire::hello_transcript(c, a, tr);
  uint8_t m2[wire::kNoise2Size];
  PrivateKey e = ephemeral_key();
  const bool ok = hs.write_msg2(tr, std::span<uint8_t, wire::kNoise2Size>(m2), &e);
  OPENSSL_cleanse(e.data(), e.size());
  if (!ok) return;
  a.noise = std::span<const uint8_t>(m2, sizeof m2);
  const size_t n = wire::encode_hello(k.msg2, c, a);
  SRDX_ASSERT(n == sizeof k.msg2);
  (void)n;
  crypto::Secret i2r, r2i;
  hs.split(i2r, r2i);
  hs.clear();
  k.pending = std::make_unique<Session>();
  k.pending->start(cipher_for(h.features), r2i, i2r, now);
  OPENSSL_cleanse(i2r.data(), i2r.size());
  OPENSSL_cleanse(r2i.data(), r2i.size());
  k.pending_local = local;
  k.pending_remote = src;
  k.pending_hello = h;
  k.pending_hello.noise = {};
  k.pending_expires = now + cfg_.peer_timeout;
  k.msg2_for = src;
  k.msg2_due = true;
  remember_hello(p.static_key, src);
  want_ctrl(p);
}

void Endpoint::Impl::on_noise_hello_ack(Peer& p, Time now) {
  const wire::Hello& h = pkt_.hello;
  const uint64_t src = pkt_.common.src_cid;
  PeerCrypto& k = crypto_of(p);
  if (p.state == PeerState::established && src == p.remote_cid && h.dst_cid == p.local_cid)
    return;  // a repeat of the answer we took
  if (p.state != PeerState::connecting || !k.hs_active || h.dst_cid != p.local_cid)
    return drop(DropReason::wrong_connection);
  uint8_t tr[wire::kHelloTranscriptSize];
  wire::hello_transcript(pkt_.common, h, tr);
  if (!k.hs.read_msg2(tr, h.noise.first<wire::kNoise2Size>())) {
    drop(DropReason::bad_auth);
    // A forged answer spoiled the handshake state: make it again, the same
    // (same ephemeral key, same hello), so the real answer still reads.
    uint8_t tr1[wire::kHelloTranscriptSize], m1[wire::kNoise1Size];
    wire::hello_transcript(common(p, wire::Type::hello), k.hello1, tr1);
    k.hs.init_initiator(static_priv_, p.static_key, prologue());
    k.hs_active = k.hs.write_msg1(tr1, std::span<uint8_t, wire::kNoise1Size>(m1), &k.ephemeral) &&
                  std::memcmp(m1, k.msg1, sizeof m1) == 0;
    return;
  }
  crypto::Secret i2r, r2i;
  k.hs.split(i2r, r2i);
  k.hs.clear();
  k.hs_active = false;
  OPENSSL_cleanse(k.ephemeral.data(), k.ephemeral.size());
  k.cur = std::make_unique<Session>();
  k.cur->start(cipher_for(h.features), i2r, r2i, now);
  OPENSSL_cleanse(i2r.data(), i2r.size());
  OPENSSL_cleanse(r2i.data(), r2i.size());
  // A pending connection the peer offered meanwhile is superseded.
  k.pending.reset();
  establish(p, src, h, now);
  ++stats_.handshakes_completed;
  // The responder waits for a datagram sealed under the new keys before it
  // takes the connection as up: send one now, data or not.
  p.ack_due = true;
  want_ctrl(p);
}

void Endpoint::Impl::on_sealed(std::span<const uint8_t> bytes, const RxPath& path, Time now) {
  wire::SealedHeader h;
  if (wire::DecodeError e = wire::decode_sealed(bytes, h); e != wire::DecodeError::ok)
    return drop(wire::to_drop_reason(e));
  Addr from = path.remote;
  if (h.src_port) from.port = h.src_port;
  Peer* pp = peer(find_peer(from));
  if (!pp) return drop(DropReason::unknown_peer);
  Peer& p = *pp;
  PeerCrypto* k = p.crypto.get();
  Session* s = nullptr;
  bool pending = false;
  uint64_t remote = 0;
  if (k && k->cur && p.state == PeerState::established && h.dst_cid == p.local_cid) {
    s = k->cur.get();
    remote = p.remote_cid;
  } else if (k && k->pending && h.dst_cid == k->pending_local) {
    s = k->pending.get();
    pending = true;
    remote = k->pending_remote;
  } else {
    drop(DropReason::wrong_connection);
    // Sealed traffic from a peer we have no connection with: we restarted,
    // or ended it. A new handshake (when we know the peer's key) replaces
    // the peer's connection once it completes, failing what it had in
    // flight, rather than leaving it to time out.
    if (p.state == PeerState::idle && !(k && k->pending) && !is_zero(p.static_key) &&
        reply_allowed(&p, now))
      start_handshake(p, now);
    return;
  }
  if (!s->replay.fresh(h.counter)) return drop(DropReason::replay);
  const uint8_t phase = h.flags & wire::sealed_flag::kKeyPhase;
  crypto::PacketKey* key = &s->rx;
  bool next = false;
  if (phase != s->rx_phase) {
    if (h.counter < s->rx_phase_first && s->rx_prev.valid()) {
      key = &s->rx_prev;
    } else {
      if (!s->rx_next.valid()) s->rx_next.set(s->cipher, s->rx.next_secret());
      key = &s->rx_next;
      next = true;
    }
  }
  const size_t text = bytes.size() - wire::kSealedHeaderSize - wire::kTagSize;
  if (plain_.size() < text) plain_.resize(text);
  std::span<uint8_t> plain(plain_.data(), text);
  if (!key->open(h.counter, bytes.first(wire::kSealedHeaderSize),
                 bytes.subspan(wire::kSealedHeaderSize, text), plain,
                 bytes.data() + wire::kSealedHeaderSize + text))
    return drop(DropReason::bad_auth);
  // Authentic from here on.
  s->replay.accept(h.counter);
  if (next) {
    s->rx_prev = std::move(s->rx);
    s->rx = std::move(s->rx_next);
    s->rx_next = crypto::PacketKey();
    s->rx_phase ^= 1;
    s->rx_phase_first = h.counter;
  } else if (key == &s->rx && h.counter < s->rx_phase_first) {
    s->rx_phase_first = h.counter;
  }
  if (h.counter == s->replay.highest())
    s->peer_rx_phase = (h.flags & wire::sealed_flag::kPeerPhase) ? 1 : 0;
  size_t count = 0;
  if (wire::DecodeError e = wire::decode_datagram(plain, pkt_, pkt2_, count, true);
      e != wire::DecodeError::ok)
    return drop(wire::to_drop_reason(e));
  if (pkt_.common.src_cid != remote || pkt_.common.type == wire::Type::retry)
    return drop(DropReason::wrong_connection);
  if (pending) promote_pending(p, now);
  dispatch(p, count == 2, from, path, now);
}

void Endpoint::Impl::promote_pending(Peer& p, Time now) {
  PeerCrypto& k = *p.crypto;
  if (p.state == PeerState::established) {
    // The peer's new incarnation proved itself: the old connection is over.
    ++stats_.peer_restarts;
    end_connection(p, FailReason::peer_restarted, 0, now);
  }
  k.hs.clear();
  k.hs_active = false;
  p.local_cid = k.pending_local;
  k.cur = std::move(k.pending);
  k.pending_expires = Time::infinite();
  // establish() keeps what was queued while connecting or idle.
  if (p.state == PeerState::connecting) p.state = PeerState::idle;
  establish(p, k.pending_remote, k.pending_hello, now);
  ++stats_.handshakes_completed;
}

// ---- sending -----------------------------------------------------------------

size_t Endpoint::Impl::noise_hello(Peer& p, std::span<uint8_t> buf) {
  PeerCrypto& k = crypto_of(p);
  const wire::Common c = common(p, wire::Type::hello);
  if (!k.hs_active) {
    fill_hello(k.hello1, p, false);
    uint8_t tr[wire::kHelloTranscriptSize];
    wire::hello_transcript(c, k.hello1, tr);
    k.ephemeral = ephemeral_key();
    k.hs.init_initiator(static_priv_, p.static_key, prologue());
    if (!k.hs.write_msg1(tr, std::span<uint8_t, wire::kNoise1Size>(k.msg1), &k.ephemeral)) return 0;
    k.hs_active = true;
  }
  wire::Hello h = k.hello1;
  if (p.have_cookie) std::memcpy(h.cookie, p.cookie, wire::kCookieSize);
  h.noise = std::span<const uint8_t>(k.msg1, sizeof k.msg1);
  return wire::encode_hello(buf, c, h);
}

size_t Endpoint::Impl::ctrl_out(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
  if (p.crypto && p.crypto->msg2_due) {
    // The answer to a hello, in the clear, as made when it was read.
    PeerCrypto& k = *p.crypto;
    k.msg2_due = false;
    if (buf.size() < sizeof k.msg2) return 0;
    std::memcpy(buf.data(), k.msg2, sizeof k.msg2);
    path.remote = p.addr;
    path.link = 0;
    path.entropy = p.paths.slot(p.paths.choose(PathSelector::kNone, now)).entropy;
    ++stats_.handshake_packets_sent;
    return sizeof k.msg2;
  }
  if (!sealing(p)) return control_packet(p, buf, path, now);
  const size_t n = control_packet(p, inner(buf), path, now);
  return n ? seal_datagram(p, *p.crypto->cur, buf, n, now) : 0;
}

size_t Endpoint::Impl::seal_datagram(Peer& p, Session& s, std::span<uint8_t> buf, size_t inner_len,
                                     Time now) {
  // A key update: after rekey_packets datagrams or rekey_interval under one
  // key, once the peer opens with the current one (so it can tell the next
  // from the one before).
  if ((s.tx_under_key >= cfg_.rekey_packets || now - s.tx_keyed >= cfg_.rekey_interval) &&
      s.peer_rx_phase == s.tx_phase) {
    s.tx.set(s.cipher, s.tx.next_secret());
    s.tx_phase ^= 1;
    s.tx_under_key = 0;
    s.tx_keyed = now;
    ++stats_.key_updates;
  }
  wire::SealedHeader h;
  h.flags = static_cast<uint8_t>((s.tx_phase ? wire::sealed_flag::kKeyPhase : 0) |
                                 (s.rx_phase ? wire::sealed_flag::kPeerPhase : 0));
  h.src_port = cfg_.port;
  h.dst_cid = p.remote_cid;
  h.counter = s.tx_counter++;
  ++s.tx_under_key;
  wire::encode_sealed_header(buf.data(), h);
  if (!s.tx.seal(h.counter, buf.first(wire::kSealedHeaderSize),
                 buf.subspan(wire::kSealedHeaderSize, inner_len),
                 buf.data() + wire::kSealedHeaderSize + inner_len))
    return 0;  // only a broken OpenSSL: nothing leaves unsealed
  return wire::kSealedHeaderSize + inner_len + wire::kTagSize;
}

}  // namespace srdx
