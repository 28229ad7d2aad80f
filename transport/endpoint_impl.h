// The endpoint's insides: the per-peer state and the one Impl that the public
// Endpoint forwards to. Impl's members are defined across files, one per
// concern (as eRPC splits its Rpc):
//   endpoint.cc         peers, sending, events, completion and failure, stats
//   endpoint_conn.cc    connection identity: hellos, cookies, retries, closes,
//                       the start and end of connections, datagram dispatch
//   endpoint_rx.cc      data and ACK processing, loss detection
//   endpoint_tx.cc      what leaves next: control packets and data packets
//   endpoint_timers.cc  timers, deadlines, giving up on silent peers, reclaiming
//   endpoint_crypto.cc  encryption: the Noise IK handshake, sealing and opening
//                       datagrams, key updates (docs/protocol.md, section 13)
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ack_paths.h"
#include "ack_tracker.h"
#include "buffer_pool.h"
#include "congestion.h"
#include "noise.h"
#include "path_selector.h"
#include "reassembly.h"
#include "ring_queue.h"
#include "rng.h"
#include "seal.h"
#include "secrets.h"
#include "send_queue.h"
#include "sent_packets.h"
#include "srdx/endpoint.h"
#include "wire.h"

// Invariants that must hold wherever state changes hands. Checked in debug
// and sanitizer builds, compiled out with NDEBUG.
#define SRDX_ASSERT(cond) assert(cond)

namespace srdx {

inline constexpr uint32_t kWireOverhead = wire::kDataOverhead + tuning::kIpUdpOverhead;

struct Retx {
  uint64_t msg_id = 0;
  uint32_t frag = 0;
  uint16_t avoid = PathSelector::kNone;
};

// One connection's packet keys, each direction (docs/protocol.md, 13).
struct Session {
  crypto::Cipher cipher = crypto::Cipher::aes256gcm;
  crypto::PacketKey tx;
  uint8_t tx_phase = 0;
  uint64_t tx_counter = 0;
  uint64_t tx_under_key = 0;  // datagrams sealed with tx
  Time tx_keyed = Time::zero();
  uint8_t peer_rx_phase = 0;  // what the peer opens ours with (flag kPeerPhase)
  crypto::PacketKey rx, rx_prev, rx_next;
  uint8_t rx_phase = 0;
  uint64_t rx_phase_first = 0;  // lowest counter opened with rx
  crypto::ReplayWindow replay;
  void start(crypto::Cipher c, const crypto::Secret& tx_secret, const crypto::Secret& rx_secret,
             Time now) {
    cipher = c;
    tx.set(c, tx_secret);
    rx.set(c, rx_secret);
    tx_keyed = now;
  }
};

// A peer's encryption state, allocated at its first handshake.
struct PeerCrypto {
  // Initiator: the handshake in flight. Its hello and Noise message are made
  // once per connection attempt and repeated unchanged (but for the cookie),
  // so that an answer to any copy completes it; the ephemeral key is kept to
  // restore the handshake after a forged answer failed to read.
  crypto::NoiseIK hs;
  bool hs_active = false;
  PrivateKey ephemeral{};
  wire::Hello hello1;
  uint8_t msg1[wire::kNoise1Size] = {};
  // The connection's keys, while established.
  std::unique_ptr<Session> cur;
  // Responder: the connection a proven, authenticated hello offered and we
  // answered. It becomes the connection (replacing any other) when the first
  // datagram sealed under it arrives: a replayed hello never gets that far.
  std::unique_ptr<Session> pending;
  uint64_t pending_local = 0, pending_remote = 0;
  wire::Hello pending_hello;
  Time pending_expires = Time::infinite();
  // The hello_ack last made, sent again for a repeat of its hello.
  uint8_t msg2[wire::kHelloTranscriptSize + wire::kNoise2Size] = {};
  uint64_t msg2_for = 0;  // the src_cid of the hello it answers
  bool msg2_due = false;
};

// idle: no connection (ids 0). connecting: our hello is out, with local_cid.
// established: both ids known; data and ACKs flow.
enum class PeerState : uint8_t { idle, connecting, established };

struct Peer {
  Peer(PeerId pid, Addr a, const EndpointConfig& cfg, Rng& rng, BufferPool& pool,
       RecvBudget& budget)
      : id(pid),
        addr(a),
        sq(cfg.max_outstanding_msgs, pool),
        sent(cfg.max_inflight_packets),
        paths(cfg.paths_per_peer, rng, cfg),
        cc(cfg, cfg.max_payload() + kWireOverhead),
        rx(cfg, pool, budget) {}

  PeerId id;
  Addr addr;
  bool accepted = false;  // created by a proven hello, not by add_peer(): reclaimed when idle
  PeerState state = PeerState::idle;
  bool up = false;
  // The connection's identity: ours (in the dst_cid of what the peer sends)
  // and the peer's (in the src_cid of what it sends). 0 while unknown.
  uint64_t local_cid = 0, remote_cid = 0;
  // The peer's static public key (all zero: not given; encryption off).
  PublicKey static_key{};
  std::unique_ptr<PeerCrypto> crypto;
  // The cookie the peer's retry gave us, echoed in our hellos.
  bool have_cookie = false;
  uint8_t cookie[wire::kCookieSize] = {};
  uint32_t features = 0;
  uint32_t peer_max_payload = 0;
  uint64_t peer_max_message = 0;

  // Control work (handshake, ACKs) waiting for poll_transmit.
  bool in_ctrl = false;
  bool hello_due = false, hello_ack_due = false, ack_due = false;
  bool first_hello_sent = false;  // silence is timed from the first hello out
  Duration hello_interval;
  Time hello_next = Time::infinite();
  Time reply_ok = Time::zero();  // rate limit for hellos, retries and closes sent as replies

  // Liveness: the last time a packet of the connection (or a hello) came.
  Time last_heard = Time::zero();

  // Transmit side.
  SendQueue sq;
  SentPackets sent;
  RecentLosses recent_losses;
  PathSelector paths;
  Congestion cc;
  // The least network RTT (without ACK delay and host waits) of this
  // connection: the zero of the congestion control's queueing delay.
  Duration net_min_rtt = Duration::infinite();
  // When our latest hello of this handshake left, and whether the timer sent
  // one again (then an answer may be to an earlier one: no RTT sample).
  Time hello_sent_at = Time::infinite();
  bool hello_resent = false;
  RingQueue<Retx> retx{kRetxInitial};
  uint64_t next_pn = 0;
  uint64_t peer_max_msg_id = 0;
  uint64_t peer_window =
      0;  // the peer's recv_msg_window: max_msg_id - window = its delivered floor
  uint64_t ordered_waiting = 0;  // ordered messages fully acked, not yet delivered there
  uint64_t peer_free = 0;        // receive buffer the peer last said it has free, in bytes
  uint32_t last_ack_seq_rx = 0;
  bool have_ack_seq = false;
  // Credit charges of started messages of which the peer acknowledged no
  // fragment yet. Once it acknowledged one, the peer holds the message and
  // its free buffer counts it: charging it here too would count it twice.
  uint64_t started_unseen = 0;
  // The latest send time of a packet acknowledged: a timeout of a packet
  // sent before it is its path's fault (something sent later got through),
  // not a stall of the whole connection.
  Time acked_sent_max = Time::zero();
  // Entropies of ACKs received, to echo in the next data packets (kAckEcho).
  EchoQueue echoes;
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
  // The entropy of the latest data packet. Without kAckEcho, ACKs leave with
  // it (the sender's path choice then covers the round trip); with it, ACKs
  // go over the entropies the sender's echoes proved (ack_paths.h) and retrace
  // this one only to explore.
  uint16_t ack_entropy = 0;
  AckPaths ack_paths;
  // Copies of the next ACK still to send, on exploring entropies: the data
  // it answers was a repair, so the sender may be missing our ACKs.
  uint8_t ack_copies = 0;
  uint16_t ack_copy_entropy = 0;  // the next copy's entropy (0: not a copy)
  uint64_t last_adv_free = 0, last_adv_max_msg = 0;
  // Feature kShare: the bytes of data this peer sent us in the current
  // interval (share_listed: it is in Impl::share_now_), and the share our
  // ACKs carry, from the last interval (wire::Ack::share).
  uint64_t share_bytes = 0;
  bool share_listed = false;
  uint16_t share_adv = 0;
  uint32_t start_grant = 0;  // the initial window our hello_ack gives (0: none)
  uint32_t rx_gen = 0;       // bumped when the connection ends: older deliveries' charges are void

  PeerStats st;
  uint64_t retransmissions = 0;

  // Scheduling (endpoint_timers.cc): the endpoint visits a peer only when one
  // of its deadlines is due or it has data to send, so an idle peer costs
  // nothing per poll-loop iteration.
  Time timer_at = Time::infinite();  // its key in Impl::timers_ (infinite: not there)
  uint32_t timer_pos = kNoTimer;     // its index in Impl::timers_
  static constexpr uint32_t kNoTimer = ~uint32_t{0};
  // The last idle-ring release (see release_idle_rings); one that could not
  // give every ring back is not tried again before the peer is heard from.
  Time rings_checked = Time::zero();
  bool dirty = false;    // in Impl::dirty_: its deadlines may have changed
  bool in_data = false;  // in Impl::data_: may have data to send
  bool recheck = false;  // in Impl::recheck_: not in data_, and may have become ready

  // Expecting to hear from the peer: connecting, messages to send, or parts
  // of its messages waiting for the rest.
  bool busy() const {
    return state == PeerState::connecting || sq.live() > 0 || rx.partial_messages() > 0;
  }
  // Heap bytes this peer holds besides the Peer object (rings, path slots).
  size_t allocated_bytes() const;
  // Whether it holds any of the rings traffic allocates (and an idle peer
  // gives back): send queue, sent packets, recent losses, ACK bitmap,
  // reassembly, or a repair queue grown past its first size.
  bool rings_held() const {
    return sq.allocated_bytes() || sent.allocated_bytes() || recent_losses.allocated_bytes() ||
           acks.allocated_bytes() || rx.allocated_bytes() || retx.capacity() > kRetxInitial;
  }
  static constexpr size_t kRetxInitial = 16;
};

// A packet sent without peer state: a retry to a hello that did not prove
// its address, or a close for a connection that is not (or no longer) ours.
struct StatelessReply {
  Addr to;
  wire::Type type = wire::Type::close;
  uint64_t src_cid = 0, dst_cid = 0;
  uint32_t reason = 0;  // close: wire::CloseReason
  uint8_t cookie[wire::kCookieSize] = {};
  // A close sealed under the connection it ends, made before its keys went:
  // sent as it is (type close, the fields above unused).
  uint8_t sealed_len = 0;
  uint8_t sealed[wire::kSealedHeaderSize + wire::kCommonHeaderSize + wire::kCloseSize +
                 wire::kTagSize] = {};
};

class Endpoint::Impl final : public Reassembly::Sink {
 public:
  explicit Impl(const EndpointConfig& cfg);
  ~Impl() override;

  // ---- peers, sending, events (endpoint.cc) ----------------------------------
  Result<PeerId> add_peer(Addr a);
  Result<PeerId> add_peer(Addr a, const PublicKey& key);
  // A PeerId is a slot in peers_ (low kSlotBits) and the slot's generation:
  // an id of a removed peer names nothing, even once its slot is reused, so
  // events still queued for it (and the application's own records) can
  // never be taken for the peer that came after.
  static constexpr uint32_t kSlotBits = 20;
  static constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
  static constexpr uint32_t kGenerations = 0xfff;  // 0xfff with slot 0xfffff would be kNoPeer
  static_assert(tuning::kMaxMaxPeers <= (1u << kSlotBits));
  Peer* peer(PeerId id) const {
    const uint32_t slot = id & kSlotMask;
    if (slot >= peers_.size()) return nullptr;
    Peer* p = peers_[slot].get();
    return p && p->id == id ? p : nullptr;
  }
  PeerId find_peer(Addr a) const;
  Errc remove_peer(PeerId id, Time now);
  Result<MsgId> send(PeerId id, std::span<const uint8_t> data, const SendOptions& opt, Time now);
  void want_ctrl(Peer& p);
  void push_event(const Event& ev);
  void deliver(uint64_t msg_id, uint16_t flow, BufferPool::Handle buf, uint32_t len,
               uint32_t charge) override;
  void release_lent();
  bool poll_event(Event& out);
  void complete(Peer& p, TxMsg& m);
  void fail(Peer& p, TxMsg& m, FailReason why, Time now);
  void fail_all(Peer& p, FailReason why, Time now);
  bool peer_stats(PeerId id, PeerStats& out) const;
  std::vector<PathStats> path_stats(PeerId id) const;
  uint64_t buffered_bytes() const;
  uint64_t buffered_messages() const;
  EndpointStats& stats();
  size_t memory_bytes() const;

  // ---- connections (endpoint_conn.cc) ----------------------------------------
  void on_packet(std::span<const uint8_t> bytes, const RxPath& path, Time now);
  void on_stranger(const RxPath& path, Addr from, Time now);
  void on_hello(Peer& p, Addr from, bool is_ack, Time now);
  void on_retry(Peer& p);
  void on_close(Peer& p, Time now);
  // Whether a data or ACK packet belongs to p's connection; drops (and
  // answers) it otherwise.
  bool check_connection(Peer& p, uint64_t src_cid, uint64_t dst_cid, Time now);
  void start_handshake(Peer& p, Time now);

  // ---- encryption (endpoint_crypto.cc) -----------------------------------------
  bool sealing(const Peer& p) const { return cfg_.encryption && p.state == PeerState::established; }
  PeerCrypto& crypto_of(Peer& p) {
    if (!p.crypto) p.crypto = std::make_unique<PeerCrypto>();
    return *p.crypto;
  }
  crypto::Cipher cipher_for(uint32_t peer_features) const {
    return ((offered_features() | peer_features) & wire::feature::kChaCha)
               ? crypto::Cipher::chacha20poly1305
               : crypto::Cipher::aes256gcm;
  }
  void on_packet_encrypted(std::span<const uint8_t> bytes, const RxPath& path, Time now);
  void on_sealed(std::span<const uint8_t> bytes, const RxPath& path, Time now);
  void on_stranger_encrypted(Addr from, Time now);
  void on_noise_hello(Peer& p, Addr from, Time now);
  void on_noise_hello_ack(Peer& p, Time now);
  // Answers an authenticated hello (its msg1 read into `hs`) with a hello_ack
  // and keeps the offered connection pending.
  void respond(Peer& p, crypto::NoiseIK& hs, Time now);
  void promote_pending(Peer& p, Time now);
  // The initiator's hello, with its Noise message (made on first use).
  size_t noise_hello(Peer& p, std::span<uint8_t> buf);
  // A fresh ephemeral key: from the OS's generator; from the seed when
  // EndpointConfig::secret is all zero (tests and simulations, which must
  // replay exactly; not secret, like everything else derived from the seed).
  PrivateKey ephemeral_key() {
    return is_zero(cfg_.secret) ? secrets_.derived_key(secrets_.next_cid())
                                : generate_private_key();
  }
  // Seals the inner datagram of `inner_len` bytes at buf[kSealedHeaderSize]
  // and returns the datagram's length.
  size_t seal_datagram(Peer& p, Session& s, std::span<uint8_t> buf, size_t inner_len, Time now);
  static std::span<uint8_t> inner(std::span<uint8_t> buf) {
    if (buf.size() < wire::kSealedHeaderSize + wire::kTagSize) return {};
    return buf.subspan(wire::kSealedHeaderSize,
                       buf.size() - wire::kSealedHeaderSize - wire::kTagSize);
  }
  size_t ctrl_out(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now);
  size_t data_out(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now) {
    if (!sealing(p)) return data_packet(p, buf, path, now);
    const size_t n = data_packet(p, inner(buf), path, now);
    return n ? seal_datagram(p, *p.crypto->cur, buf, n, now) : 0;
  }
  void dispatch(Peer& p, bool coalesced, Addr from, const RxPath& path, Time now);
  void establish(Peer& p, uint64_t remote_cid, const wire::Hello& h, Time now);
  // The connection is over on this side: its messages fail with `why`, the
  // peer is told (a close with `close_reason`, 0: none), and every id and
  // ring of it is forgotten.
  void end_connection(Peer& p, FailReason why, uint32_t close_reason, Time now);
  bool hello_proven(const Peer* p, Addr from, const wire::Packet& pkt, Time now) const;
  void answer_unproven_hello(Peer* p, Addr from, Time now);
  void queue_retry(Addr to, uint64_t hello_src_cid, Time now);
  void queue_close(Peer* p, Addr to, uint64_t src_cid, uint64_t dst_cid, wire::CloseReason r,
                   Time now);
  bool reply_allowed(Peer* p, Time now);
  void forget_peer(Peer& p);
  uint64_t cookie_period(Time now) const {
    return static_cast<uint64_t>(now.ns() / tuning::kCookiePeriod.ns());
  }

  // ---- receiving (endpoint_rx.cc) --------------------------------------------
  void drop(DropReason r) { ++stats_.drops[static_cast<size_t>(r)]; }
  void on_data(Peer& p, const wire::Packet& pkt, uint16_t entropy, Time now);
  bool on_ack(Peer& p, const wire::Packet& pkt, uint16_t entropy, Time now);
  void check_late_acks(Peer& p, const wire::Ack& a, Time now, Duration ack_delay);
  // `ack_delay` is what the peer says it held the packet for (subtracted from
  // every RTT sample), `host_wait` the time the packet or its ACK also
  // waited for a poll loop on either host (subtracted from the congestion
  // control's sample only: the timers must cover it).
  void on_packet_acked(Peer& p, SentPacket& s, Time now, Duration ack_delay, Duration host_wait);
  void finish_fragment(Peer& p, uint64_t msg_id, uint32_t frag);
  static uint64_t delivered_floor(const Peer& p) {
    return p.peer_max_msg_id >= p.peer_window ? p.peer_max_msg_id - p.peer_window : 0;
  }
  void complete_delivered_ordered(Peer& p);
  void lose(Peer& p, SentPacket& s, Time now, bool by_timeout);
  void arm_rto(Peer& p);

  // ---- transmitting (endpoint_tx.cc) -----------------------------------------
  size_t poll_transmit(std::span<uint8_t> buf, TxPath& path, Time now);
  size_t stateless_packet(std::span<uint8_t> buf, TxPath& path);
  size_t control_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now);
  size_t data_packet(Peer& p, std::span<uint8_t> buf, TxPath& path, Time now);
  enum class Gate : uint8_t { ready, nothing, blocked_cwnd, blocked_credit, blocked_ring };
  static bool stale(const Peer& p, const Retx& r) {
    const TxMsg* m = p.sq.find(r.msg_id);
    return !m || m->frag_acked(r.frag);
  }
  static void drop_stale_retx(Peer& p) {
    while (!p.retx.empty() && stale(p, p.retx.front())) p.retx.pop();
  }
  // Hot on every poll: defined here so that the transmit path and
  // next_deadline() inline them.
  // Whether a queued repair is still needed. The front one usually is: every
  // path that pops repairs drops stale ones from the front first.
  static bool has_live_retx(const Peer& p) {
    for (size_t i = 0; i < p.retx.size(); ++i)
      if (!stale(p, p.retx[i])) return true;
    return false;
  }
  // `next`: the message new fragments come from (when no repair is queued).
  // Always inlined: with the schedule's call sites added, GCC's LTO stopped
  // inlining it into data_packet(), which cost the 64 B row a few percent.
  [[gnu::always_inline]] Gate data_gate(const Peer& p, uint32_t& bytes,
                                        const TxMsg** next = nullptr) const {
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
        const uint64_t need = tuning::credit_charge(m->len);
        if (p.started_unseen + need > p.peer_free) return Gate::blocked_credit;
      }
      bytes = kWireOverhead + std::min<uint32_t>(m->len, payload_size(p));
    }
    // In a stall (nothing acknowledged since timeouts) the window has
    // shrunk to a packet, yet the way out is to find a living path: up to
    // kStallProbes packets may be out, each on its own fresh entropy.
    if (!p.cc.can_send(bytes) &&
        !(p.paths.stall_rounds() > 1 && p.sent.count() < tuning::kStallProbes))
      return Gate::blocked_cwnd;
    return Gate::ready;
  }
  Time data_ready_time(const Peer& p) const {
    uint32_t bytes = 0;
    Gate g = data_gate(p, bytes);
    if (g != Gate::ready) return Time::infinite();
    return cfg_.pacing ? p.cc.next_send_time() : Time::zero();
  }
  bool may_coalesce(Peer& p, size_t ack_len, Time now);
  uint32_t payload_size(const Peer& p) const {
    return std::min<uint32_t>(cfg_.max_payload(), p.peer_max_payload);
  }
  size_t count_sent(size_t n) {
    ++stats_.packets_sent;
    stats_.bytes_sent += n;
    return n;
  }
  wire::Common common(const Peer& p, wire::Type t, uint16_t flags = 0) const {
    wire::Common c;
    c.type = t;
    c.flags = flags;
    c.src_port = cfg_.port;
    c.src_cid = p.local_cid;
    c.sealed = sealing(p);
    return c;
  }
  uint32_t offered_features() const { return offered_; }
  uint32_t compute_offered() const {
    uint32_t f = cfg_.coalesce ? wire::feature::kSupported
                               : wire::feature::kSupported & ~wire::feature::kCoalesce;
    if (cfg_.encryption) f |= wire::feature::kSealed;
    if (cfg_.encryption && !crypto::cpu_has_aes()) f |= wire::feature::kChaCha;
    return f;
  }
  void fill_hello(wire::Hello& h, const Peer& p, bool with_cookie) const;

  // ---- timers (endpoint_timers.cc) -------------------------------------------
  // The schedule. Every peer with a finite deadline (peer_deadline) is in
  // timers_, a binary min-heap on timer_at that knows each peer's place in
  // it (timer_pos), so a deadline that moves is moved, never duplicated: the
  // heap holds one entry per peer with a timer, and idle peers hold none.
  // Every peer whose data may leave (data_gate ready, paced or not) is in
  // data_. Whatever may change a peer's deadlines or its data readiness
  // touches it (dispatch, send, want_ctrl, release_lent, poll_transmit,
  // on_timer, add_peer), and settle() brings the touched peers' entries up
  // to date before the schedule is read. The peer table is never scanned per
  // iteration (debug builds check the schedule against a scan).
  // Per packet: a few flag tests. Only a peer with a live message can have
  // data to send (a repair is of a live message too), so a pure receiver is
  // never rechecked; send() touches after it queued the message.
  void touch(Peer& p) const {
    if (!p.dirty) {
      p.dirty = true;
      dirty_.push_back(p.id);
    }
    if (!p.in_data && !p.recheck && p.sq.live() > 0) {
      p.recheck = true;
      recheck_.push_back(p.id);
    }
  }
  // The timers of the touched peers are filed once per loop iteration (in
  // next_deadline() and on_timer()); their data readiness before every
  // transmit (settle_data()), so what became ready leaves in the same turn.
  void settle() const;
  void settle_data() const {
    if (!recheck_.empty()) recheck_data();
  }
  void recheck_data() const;
  void timer_set(Peer& p, Time t) const;  // t infinite: out of the heap
  void timer_up(uint32_t i) const;
  void timer_down(uint32_t i) const;
  void timer_place(Peer* p, uint32_t i) const {
    timers_[i] = p;
    p->timer_pos = i;
  }
  // The earliest of p's timers (all but its data readiness, which data_
  // covers).
  Time peer_deadline(const Peer& p) const;
  Time ring_release_time(const Peer& p) const { return p.last_heard + tuning::kRingIdleRelease; }
  // Quiet, holding rings, and not refused since it was last heard from (see
  // release_idle_rings): a one-shot timer per quiet spell, never a periodic
  // one.
  bool rings_idle(const Peer& p) const {
    return !p.busy() && p.sent.count() == 0 && p.last_heard >= p.rings_checked && p.rings_held();
  }
  void release_idle_rings(Peer& p, Time now);
  // Runs p's due timers; false when p was reclaimed (p is gone).
  bool on_peer_timer(Peer& p, Time now);
  Time next_deadline_scan() const;               // the schedule's answer, by a scan of every peer
  static constexpr size_t kCheckedPeers = 2048;  // debug builds check up to this many slots
  void on_timer(Time now);
  void scan_rto(Peer& p, Time now);
  void scan_deadlines(Peer& p, Time now);
  void peer_down(Peer& p, Time now);
  bool reclaimable(const Peer& p) const {
    return p.accepted && !p.busy() && p.sq.live() == 0 && p.rx.held_bytes() == 0;
  }
  Time next_deadline() const;

  // ---- state -----------------------------------------------------------------
  static uint64_t key(Addr a) { return (uint64_t{a.ip} << 16) | a.port; }

  struct EventEntry {
    Event ev;
    BufferPool::Handle buf = BufferPool::kNone;
    uint32_t charge = 0;
    uint32_t rx_gen = 0;
  };

  EndpointConfig cfg_;
  Rng rng_;
  Secrets secrets_;
  PrivateKey static_priv_{};
  PublicKey static_pub_{};
  std::vector<PublicKey> allowed_keys_;  // allow_key()
  // The ids of the hellos answered lately, per initiator static key (only
  // keys we trust get here), kept across the peer's removal: a hello read
  // again with one of them is a replay (an attacker on the path can get an
  // old hello a fresh cookie), dropped before it could displace the
  // connection a newer hello offered.
  struct HelloIds {
    PublicKey key{};
    uint64_t ids[tuning::kHelloIdsKept] = {};
    uint32_t next = 0;
  };
  std::unordered_map<uint64_t, HelloIds> hello_ids_;  // by the key's first 8 bytes
  bool hello_replayed(const PublicKey& key, uint64_t id) const;
  void remember_hello(const PublicKey& key, uint64_t id);
  BufferPool pool_;
  RecvBudget budget_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<uint32_t> free_slots_;  // slots of removed peers, reused
  std::vector<uint16_t> slot_gen_;    // each slot's next generation
  size_t live_peers_ = 0;
  std::unordered_map<uint64_t, PeerId> by_addr_;
  // find_peer()'s last hit; key() never makes kNoKey (48 bits).
  static constexpr uint64_t kNoKey = ~uint64_t{0};
  mutable uint64_t last_key_ = kNoKey;
  mutable PeerId last_id_ = kNoPeer;
  RingQueue<EventEntry> events_;
  bool lent_ = false;  // events_.front() was handed out by poll_event()
  RingQueue<PeerId> ctrl_{64};
  mutable std::vector<Peer*> timers_;  // see settle()
  mutable std::vector<PeerId> dirty_, recheck_;
  mutable RingQueue<PeerId> data_{64};
  std::vector<PeerId> due_;  // on_timer's scratch list
  RingQueue<StatelessReply> stateless_{tuning::kMaxStatelessReplies};
  Peer* delivering_ = nullptr;
  // Feature kShare: the peers that sent data in the current interval (until
  // share_end_) and those whose ACKs carry a share from the last one.
  std::vector<PeerId> share_now_, share_last_;
  Time share_end_ = Time::zero();
  void count_share(Peer& p, uint32_t bytes, Time now);
  // Feature kShare: when the connections we answered started (the last
  // tuning::kStartWindow of them), and the initial window we give a new one.
  RingQueue<Time> starts_{16};
  uint32_t start_grant(const wire::Hello& offer, Time now);
  std::vector<SentPacket*> expired_;  // scan_rto's scratch list
  wire::Packet pkt_, pkt2_;  // a datagram's packets (pkt2_: the data after a coalesced ack)
  wire::Data pkt_out_;
  wire::Ack ack_;
  EndpointStats stats_;
  Duration rx_lag_ = Duration::zero();  // the packet being handled: now - its arrival
  uint32_t offered_ = 0;
  std::vector<uint8_t> plain_;  // an opened datagram
};

// ---- the per-message path, inline ----------------------------------------------
// Small functions every message passes through, defined here (not in the
// endpoint*.cc that use them) so that the compiler inlines them into their
// callers: the 64 B message rate depends on it (bench/engine_bench.cc).

inline void Endpoint::Impl::push_event(const Event& ev) {
  EventEntry& e = events_.push_slot();
  e.ev = ev;
  e.buf = BufferPool::kNone;
}

inline void Endpoint::Impl::deliver(uint64_t msg_id, uint16_t flow, BufferPool::Handle buf,
                                    uint32_t len, uint32_t charge) {
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

inline void Endpoint::Impl::complete(Peer& p, TxMsg& m) {
  SRDX_ASSERT(m.started && m.acked == m.nfrags);
  push_event({EventType::send_completed, FailReason::none, m.flow, p.id, m.id, m.cookie, {}});
  ++stats_.messages_completed;
  ++p.st.messages_completed;
  p.st.bytes_acked += m.len;
  p.sq.finish(m);
  if (p.sq.live() == 0) p.msg_deadline = Time::infinite();
}

inline void Endpoint::Impl::on_packet_acked(Peer& p, SentPacket& s, Time now, Duration ack_delay,
                                            Duration host_wait) {
  // The timers' sample leaves out at most the ACK delay we allow the peer
  // (RFC 9002, 5.3): a peer that held the packet longer (a busy loop) will
  // do so again, and the timers must wait for it. The congestion control's
  // leaves out all of it, and the host waits.
  const Duration raw = now - s.sent_time;
  const Duration held = min(ack_delay, cfg_.ack_delay);
  const Duration rtt = raw > held ? raw - held : raw;
  p.paths.on_acked(s.slot, s.path_seq, rtt);
  p.acked_sent_max = max(p.acked_sent_max, s.sent_time);
  const Duration away = ack_delay + host_wait;
  const Duration net = raw > away ? raw - away : rtt;
  if (net < p.net_min_rtt) p.net_min_rtt = net;
  p.cc.on_acked(s.bytes, net - p.net_min_rtt, p.paths.srtt(), now);
  const uint64_t msg_id = s.msg_id;
  const uint32_t frag = s.frag;
  p.sent.remove(s);
  finish_fragment(p, msg_id, frag);
}

// Fragment `frag` of message `msg_id` reached the peer.
inline void Endpoint::Impl::finish_fragment(Peer& p, uint64_t msg_id, uint32_t frag) {
  TxMsg* m = p.sq.find(msg_id);
  if (!m || !p.sq.ack_frag(*m, frag)) return;
  if (m->acked == 1) {
    // The peer holds the message now and its advertised free buffer counts it.
    SRDX_ASSERT(p.started_unseen >= tuning::credit_charge(m->len));
    p.started_unseen -= tuning::credit_charge(m->len);
  }
  if (m->acked != m->nfrags) return;
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

// Every datagram in and out passes here.
inline void Endpoint::Impl::on_packet(std::span<const uint8_t> bytes, const RxPath& path,
                                      Time now) {
  // How long the packet waited in this host before this call (the link's
  // receive timestamp): left out of round-trip samples and added to the ACK
  // delay we report (endpoint.h, RxPath::arrival).
  rx_lag_ = path.arrival > Time::zero() && path.arrival < now
                ? min(now - path.arrival, tuning::kMaxRxLag)
                : Duration::zero();
  ++stats_.packets_received;
  stats_.bytes_received += bytes.size();
  if (cfg_.encryption) return on_packet_encrypted(bytes, path, now);
  size_t count = 0;
  wire::DecodeError e = wire::decode_datagram(bytes, pkt_, pkt2_, count);
  if (e != wire::DecodeError::ok) return drop(wire::to_drop_reason(e));
  // A peer is named by its address and the port it receives on; the
  // datagram's source port is only the path entropy.
  Addr from = path.remote;
  if (pkt_.common.src_port) from.port = pkt_.common.src_port;
  Peer* p = peer(find_peer(from));
  if (!p) {
    on_stranger(path, from, now);
    p = peer(find_peer(from));
    if (!p) return;  // answered (or not) without state
  }
  dispatch(*p, count == 2, from, path, now);
}

// The packet(s) in pkt_ (and pkt2_ when coalesced), from p; with encryption
// the inside of a datagram that opened under p's connection.
[[gnu::always_inline]] inline void Endpoint::Impl::dispatch(Peer& p, bool coalesced, Addr from,
                                                            const RxPath& path, Time now) {
  touch(p);
  if (coalesced) {
    // We never offered it: whoever sent this did not listen to our hello.
    if (!(offered_features() & wire::feature::kCoalesce)) return drop(DropReason::bad_coalesce);
    // Negotiated per connection: a peer that did not see our offer (or did
    // not make its own) must not coalesce.
    if (p.state == PeerState::established && !(p.features & wire::feature::kCoalesce))
      return drop(DropReason::bad_coalesce);
    // The ACK first: it may free window for the data's answer. Both parts
    // carry the same ids, so the data passes the checks the ack passed.
    if (!on_ack(p, pkt_, path.entropy, now)) return;
    ++stats_.coalesced_received;
    return on_data(p, pkt2_, path.entropy, now);
  }
  switch (pkt_.common.type) {
    case wire::Type::hello:
    case wire::Type::hello_ack:
      return on_hello(p, from, pkt_.common.type == wire::Type::hello_ack, now);
    case wire::Type::data:
      return on_data(p, pkt_, path.entropy, now);
    case wire::Type::ack:
      on_ack(p, pkt_, path.entropy, now);
      return;
    case wire::Type::retry:
      return on_retry(p);
    case wire::Type::close:
      return on_close(p, now);
    case wire::Type::sealed:
      return drop(DropReason::bad_type);
  }
}

inline size_t Endpoint::Impl::poll_transmit(std::span<uint8_t> buf, TxPath& path, Time now) {
  while (!stateless_.empty()) {
    if (size_t n = stateless_packet(buf, path)) return count_sent(n);
  }
  while (!ctrl_.empty()) {
    Peer* p = peer(ctrl_.front());
    if (!p) {
      ctrl_.pop();
      continue;
    }
    size_t n = ctrl_out(*p, buf, path, now);
    touch(*p);
    if (n) return count_sent(n);
    ctrl_.pop();
    p->in_ctrl = false;
  }
  // Data: round robin over the peers that may have some (data_), each visited
  // at most once per call. A peer that sent goes to the back; one whose gate
  // closed leaves the list (its next send(), ACK or repair brings it back);
  // one held by the pacer stays.
  settle_data();
  for (size_t tries = data_.size(); tries > 0; --tries) {
    const PeerId id = data_.pop();
    Peer* p = peer(id);
    if (!p) continue;
    const size_t n = data_out(*p, buf, path, now);
    touch(*p);
    if (n) {
      data_.push(id);
      return count_sent(n);
    }
    if (cfg_.pacing && now < p->cc.next_send_time()) {
      data_.push(id);  // held by the pacer: next_deadline() names its time
      continue;
    }
    // Its gate closed (or the packet did not fit): out of the list, and
    // looked at again by the next transmit while it holds a live message.
    p->in_data = false;
    touch(*p);
  }
  return 0;
}

}  // namespace srdx
