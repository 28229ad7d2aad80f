// Every tuning knob of the transport core, in one place, with the relations
// between them asserted. EndpointConfig carries the per-endpoint values (their
// defaults come from `tuning`); validate() explains any value it refuses.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "srdx/time.h"

namespace srdx {

namespace tuning {
using namespace srdx::literals;

// Wire and packet sizes.
inline constexpr uint32_t kDefaultMtu = 1500;   // IP MTU of the link
inline constexpr uint32_t kMinMtu = 576;        // smallest IPv4 MTU every host accepts
inline constexpr uint32_t kMaxMtu = 9216;       // jumbo frames (EC2 VPC MTU is 9001)
inline constexpr uint32_t kIpUdpOverhead = 28;  // IPv4 (20) + UDP (8) header bytes

// Messages.
inline constexpr uint64_t kDefaultMaxMessage = 16u << 20;  // 16 MiB
inline constexpr uint64_t kMaxMaxMessage = 1u << 30;       // 1 GiB hard ceiling
inline constexpr Duration kDefaultMessageTimeout = 2_s;
inline constexpr uint32_t kDefaultMaxOutstandingMsgs = 1024;  // per peer, sender side
inline constexpr uint32_t kDefaultRecvMsgWindow = 4096;       // per peer, receiver side
inline constexpr uint64_t kDefaultRecvBufferBytes = 64u << 20;
// Every held message is charged at least this much receive buffer, so that a
// flood of empty messages is bounded too.
inline constexpr uint32_t kMinMessageCharge = 64;
// The receive buffer a message occupies for flow control; sender and
// receiver must agree on it.
constexpr uint64_t credit_charge(uint64_t len) {
  return len > kMinMessageCharge ? len : kMinMessageCharge;
}

// Paths (entropies).
inline constexpr uint32_t kDefaultPathsPerPeer = 16;
inline constexpr uint32_t kMaxPathsPerPeer = 256;
// A path with this many consecutive retransmission timeouts is replaced by a
// fresh entropy.
inline constexpr uint32_t kPathTimeoutsBeforeReplace = 2;
// Packets sent later on the same path that must be acknowledged before an
// earlier one on that path is declared lost (per-path reordering threshold).
inline constexpr uint32_t kDefaultReorderThreshold = 3;

// Path steering (path_selector.cc).
// A new packet goes to the cheapest of this many slots (all of them when the
// peer has fewer). Two random choices balance slots, not paths: with several
// slots per path a path can sit idle while no slot of it is drawn.
inline constexpr uint32_t kPathChoices = 8;
// A slot losing more than this fraction of its packets is re-drawn; random
// loss spread over every path stays far below it.
inline constexpr double kPathLossReplaceThreshold = 0.2;
inline constexpr double kPathLossEwmaGain = 1.0 / 16;
// RTT samples a fresh entropy needs before it is compared with the others.
inline constexpr uint32_t kPathSamplesBeforeJudging = 16;
// A slot slower than the best by more than max(target delay, best / 2) is
// re-drawn, at most once per this many best RTTs...
inline constexpr int64_t kSlowReplaceEveryRtts = 2;
// ...and while every slot sees queueing, the slowest is re-drawn once per
// this many RTTs, to find paths that no entropy maps to.
inline constexpr int64_t kExploreEveryRtts = 16;

// Loss recovery timers.
inline constexpr Duration kDefaultRtoMin = 50_us;
inline constexpr Duration kDefaultRtoMax = 20_ms;
inline constexpr Duration kDefaultRtoInitial = 1_ms;  // before any RTT sample
inline constexpr uint32_t kMaxInflightPackets = 1u << 20;
inline constexpr uint32_t kDefaultMaxInflightPackets = 8192;  // per peer
inline constexpr uint32_t kMaxAckRanges = 32;                 // per ACK packet
// Doublings of every RTO while timeouts follow timeouts with no ACK between.
inline constexpr uint32_t kMaxRtoBackoff = 16;
// Stall rounds in a row before the doubling starts (path_selector.h).
inline constexpr uint32_t kRtoBackoffGrace = 3;
// Packets a stalled connection may have out whatever its window, as probes
// for a living path (endpoint_impl.h, data_gate).
inline constexpr uint32_t kStallProbes = 8;
// An ACK of a repaired packet is sent this many more times, on entropies
// drawn afresh (ack_paths.h).
inline constexpr uint8_t kRepairAckCopies = 4;
// How many times a floor update (the sender gave up on messages and has no
// data packet to carry the news) is repeated, an RTO apart.
inline constexpr uint32_t kFloorUpdateRepeats = 3;

// Acknowledgements.
inline constexpr Duration kDefaultAckDelay = 10_us;
inline constexpr uint32_t kDefaultAckEvery = 2;
// Packet numbers the receiver tracks per peer (ack_tracker.h), and arrivals
// it remembers between two ACKs.
inline constexpr uint64_t kAckWindow = 1u << 16;
inline constexpr size_t kAckFreshArrivals = 128;

// Handshake and liveness.
inline constexpr Duration kDefaultHandshakeInterval = 1_ms;  // first retry
inline constexpr Duration kDefaultPeerTimeout = 200_ms;      // silence => peer down
// Retries and closes queued for senders we keep no state for (strangers,
// connections that ended); beyond it they are not answered until it drains.
inline constexpr size_t kMaxStatelessReplies = 64;
// Encryption: the hello ids a responder remembers per initiator static key;
// a hello read again with one of them (other than the one it answered last)
// is a replay, dropped (docs/protocol.md, section 10).
inline constexpr size_t kHelloIdsKept = 16;
// A cookie is good for the period it was made in and the next one.
inline constexpr Duration kCookiePeriod = 2_s;

// Packet protection (docs/protocol.md, section 13). A sealed datagram is a
// 24-byte clear header, the packet(s) encrypted, and a 16-byte tag.
inline constexpr uint32_t kSealOverhead = 24 + 16;
// A direction's key is replaced (a key update, no pause in traffic) after
// this many packets: the AES-GCM confidentiality limit of RFC 9001, 6.6...
inline constexpr uint64_t kDefaultRekeyPackets = uint64_t{1} << 23;
// ...or after this long, whichever comes first.
inline constexpr Duration kDefaultRekeyInterval = 120_s;
// Sealed packets are accepted at most once, within a window of this many
// counter values below the highest seen (reordering over many paths).
inline constexpr uint32_t kReplayWindow = 8192;

// Peers and memory, endpoint wide.
inline constexpr uint32_t kDefaultMaxPeers = 4096;
inline constexpr uint32_t kMaxMaxPeers = 1u << 20;
inline constexpr uint64_t kDefaultRecvMemory = 256u << 20;  // every peer's receive buffers
// A peer the endpoint accepted (not one added with add_peer) with nothing
// buffered and nothing heard for this long is forgotten.
inline constexpr Duration kDefaultIdleTimeout = 60_s;
// A connected peer with nothing in flight, nothing queued and nothing
// partial that heard nothing for this long gives its rings back (send queue,
// sent packets, ACK bitmap, reassembly: ~0.9 MiB at the defaults); the next
// message allocates them again. Long against a request's gaps, so a busy
// peer does not churn the allocator; short against the idle timeout, so
// 10,000 quiet peers cost what their Peer objects cost.
inline constexpr Duration kRingIdleRelease = 1_s;

// Congestion control (after Swift; transport/congestion.h): the window grows
// while the standing queueing delay stays under the target and shrinks in
// proportion to the excess, or by the fraction of bytes lost, at most once
// per RTT.
// 25 us: below what a 64 KiB switch queue holds at 10 Gbit/s (52 us), so
// the delay, not the drops, stops the senders of an incast.
inline constexpr Duration kDefaultCcTargetDelay = 25_us;
// Swift's flow scaling: the target grows by up to this much as the window
// shrinks from kCcFlowScaleMaxWindow packets to kCcFlowScaleMinWindow.
inline constexpr Duration kDefaultCcFlowScaleRange = 25_us;
inline constexpr double kCcFlowScaleMinWindow = 0.1;
inline constexpr double kCcFlowScaleMaxWindow = 100.0;
// A loss shrinks the window by this x the fraction of bytes lost over the
// last RTT or two (bounded by cc_max_decrease).
inline constexpr double kDefaultCcLossBeta = 1.0;
// Additive increase is cc_additive_increase packets per RTT up to an RTT of
// kCcIncreaseRtt, and that much per kCcIncreaseRtt of time beyond (at most
// kCcIncreaseMaxStretch times per RTT): RTT-fair growth, so a long flow is
// not starved by short ones at a shared bottleneck.
inline constexpr Duration kCcIncreaseRtt = 70_us;
inline constexpr double kCcIncreaseMaxStretch = 64.0;
// The smallest window, in packets: below one the pacer sends a packet every
// 1 / window RTTs (a fan-in of thousands into one receiver).
inline constexpr double kCcMinWindowPackets = 1.0 / 64;
inline constexpr uint64_t kDefaultCcInitialWindow = 64u << 10;
inline constexpr uint64_t kDefaultCcMaxWindow = 64u << 20;
inline constexpr double kDefaultCcAdditiveIncrease = 1.0;  // packets per RTT
inline constexpr double kDefaultCcBeta = 0.8;
inline constexpr double kDefaultCcMaxDecrease = 0.5;
inline constexpr double kPacingGain = 1.5;
// The queueing delay the window reacts to is the least of the last
// kCcStandingSamples packets' (or of one srtt's, when at least 2 but fewer
// arrive in it: a window of a few packets): a standing queue, not
// per-packet noise. In the simulator at 4 x 200 Mbit/s with 200 us of
// jitter per path (a busy host), the mean of the samples held goodput at
// 395 Mbit/s of 800; the least over one srtt got 743. A count, not one srtt's samples, so that windows of
// every size judge the same queue alike (congestion.cc).
inline constexpr uint32_t kCcStandingSamples = 8;
// Measurement noise: an EWMA, gain 1 / kCcNoiseGainDiv, of each block's mean
// minus its least. Noise beyond cc_target_delay raises the target by
// kCcNoiseAllowance times the excess, and the standing queue is then the
// least over one block per cc_target_delay of noise (up to 8): at 4 x 200
// Mbit/s with 200 us of jitter each way (noise about 130 us) the window
// otherwise read jitter as queue and stayed at half the paths' rate. Below
// it (an incast's queue swings by a few microseconds) nothing changes.
inline constexpr int64_t kCcNoiseGainDiv = 8;
inline constexpr int64_t kCcNoiseAllowance = 2;
// The loss rate a loss is weighed by is counted over windows of one srtt,
// at least this long.
inline constexpr Duration kCcLossWindowMin = 10_us;
// Feature `share` (docs/protocol.md, congestion control): a receiver
// measures what each of its peers sends over intervals of kShareInterval and
// tells each its rate against the mean of those that sent. A sender more
// than kShareSlack over the mean while its delay shows a queue stops growing
// and shrinks to the mean, at most once per kShareInterval plus an srtt.
inline constexpr Duration kShareInterval = 200_us;
inline constexpr double kShareSlack = 0.1;
// A receiver answering a handshake gives the new connection its own
// cc_initial_window divided by the connections that start or send to it
// now: those it answered in the last kStartWindow (at most kStartsKept of
// them) and those that sent data in its last or current share interval.
inline constexpr Duration kStartWindow = 1_ms;
inline constexpr size_t kStartsKept = 1024;
// The most of a packet's wait in the receiving host (RxPath::arrival) that
// round-trip samples leave out: a timestamp from a clock gone wrong must not
// make a late ACK look early.
inline constexpr Duration kMaxRxLag = 10_ms;

static_assert(kMinMtu < kDefaultMtu && kDefaultMtu <= kMaxMtu);
static_assert(kDefaultPathsPerPeer >= 16 && kDefaultPathsPerPeer <= kMaxPathsPerPeer);
static_assert(kDefaultRtoMin < kDefaultRtoInitial && kDefaultRtoInitial < kDefaultRtoMax);
static_assert(kDefaultAckDelay < kDefaultRtoMin, "a delayed ACK must arrive before the RTO fires");
static_assert(kDefaultMaxOutstandingMsgs <= kDefaultRecvMsgWindow);
static_assert(kDefaultRecvBufferBytes >= kDefaultMaxMessage,
              "a receiver must be able to hold one largest message");
static_assert((kDefaultRecvMsgWindow & (kDefaultRecvMsgWindow - 1)) == 0);
static_assert((kDefaultMaxOutstandingMsgs & (kDefaultMaxOutstandingMsgs - 1)) == 0);
static_assert((kDefaultMaxInflightPackets & (kDefaultMaxInflightPackets - 1)) == 0);
static_assert(kDefaultCcInitialWindow < kDefaultCcMaxWindow);
static_assert(kDefaultCcMaxDecrease > 0.0 && kDefaultCcMaxDecrease < 1.0);
static_assert(0.0 < kCcFlowScaleMinWindow && kCcFlowScaleMinWindow < kCcFlowScaleMaxWindow);
static_assert(0.0 < kCcMinWindowPackets && kCcMinWindowPackets < 1.0);
static_assert(kDefaultHandshakeInterval < kDefaultPeerTimeout);
static_assert(kDefaultPeerTimeout < kDefaultIdleTimeout);
static_assert(kRingIdleRelease > kDefaultPeerTimeout && kRingIdleRelease < kDefaultIdleTimeout);
static_assert(kDefaultRecvMemory >= kDefaultRecvBufferBytes,
              "one peer must be able to fill its own receive buffer");
static_assert(kCookiePeriod > kDefaultPeerTimeout, "a cookie outlives a handshake");
static_assert(kPathLossReplaceThreshold > 0.0 && kPathLossReplaceThreshold < 1.0);
static_assert(kSlowReplaceEveryRtts < kExploreEveryRtts, "exploring is the slower of the two");
static_assert(kPathChoices >= 2 && kPathChoices <= kDefaultPathsPerPeer,
              "a choice among fewer than two slots does not steer; among all of them, every "
              "packet pays for a scan of every slot");
static_assert((kAckWindow & (kAckWindow - 1)) == 0 && kAckWindow >= kMaxInflightPackets / 16);
static_assert(kAckFreshArrivals >= 2 * kMaxAckRanges);
static_assert(kCcStandingSamples >= 1);
static_assert(kCcLossWindowMin < kDefaultRtoMin);
}  // namespace tuning

struct EndpointConfig {
  // Seeds the endpoint's own pseudo-random choices (fresh entropies). Same
  // seed and same inputs give the same behaviour.
  uint64_t seed = 1;
  // Keys what must not be guessed: connection ids and cookies. Fill it from
  // the OS's generator (getrandom) in production, and give every incarnation
  // of an endpoint a fresh one. All zero (the default) derives it from `seed`,
  // for reproducible runs: simulations and tests.
  std::array<uint8_t, 32> secret{};
  // Authenticated handshake (Noise IK over X25519) and every later packet
  // sealed with AES-256-GCM (ChaCha20-Poly1305 where the CPU lacks AES
  // instructions). Off is for measurement only: then anyone on the path can
  // read, forge and reset everything (docs/protocol.md, section 13).
  bool encryption = true;
  // This endpoint's static X25519 private key (srdx/keys.h). All zero (the
  // default) derives one from `secret` (and so from `seed`): tests and
  // simulations. Endpoint::public_key() tells its public half.
  std::array<uint8_t, 32> static_key{};
  // Key updates: after this many packets sent under one key, or this long.
  uint64_t rekey_packets = tuning::kDefaultRekeyPackets;
  Duration rekey_interval = tuning::kDefaultRekeyInterval;
  // The UDP port this endpoint receives on, written into every packet so a
  // peer knows where to answer whatever source port (entropy) a packet left
  // from. 0: peers are named by the datagram's own source address and port.
  uint16_t port = 0;

  uint32_t mtu = tuning::kDefaultMtu;
  uint64_t max_message_size = tuning::kDefaultMaxMessage;
  Duration message_timeout = tuning::kDefaultMessageTimeout;
  uint32_t max_outstanding_msgs = tuning::kDefaultMaxOutstandingMsgs;
  uint32_t recv_msg_window = tuning::kDefaultRecvMsgWindow;
  uint64_t recv_buffer_bytes = tuning::kDefaultRecvBufferBytes;  // per peer
  // Every peer's receive buffers together; credit advertised to a peer never
  // exceeds what is left of it.
  uint64_t recv_memory_bytes = tuning::kDefaultRecvMemory;
  // Hosts that add_peer() did not name may connect (after proving their
  // address with a cookie), up to max_peers peers in all; an accepted peer
  // idle for idle_timeout is forgotten.
  bool accept_unknown_peers = true;
  uint32_t max_peers = tuning::kDefaultMaxPeers;
  Duration idle_timeout = tuning::kDefaultIdleTimeout;

  uint32_t paths_per_peer = tuning::kDefaultPathsPerPeer;
  uint32_t reorder_threshold = tuning::kDefaultReorderThreshold;
  Duration rto_min = tuning::kDefaultRtoMin;
  Duration rto_max = tuning::kDefaultRtoMax;
  Duration rto_initial = tuning::kDefaultRtoInitial;
  uint32_t max_inflight_packets = tuning::kDefaultMaxInflightPackets;

  Duration ack_delay = tuning::kDefaultAckDelay;
  uint32_t ack_every = tuning::kDefaultAckEvery;
  // Offer feature `coalesce` in the handshake: when the peer offers it too,
  // an ACK and a data packet to that peer that are ready together leave in
  // one datagram (docs/protocol.md, section 8).
  bool coalesce = true;

  Duration handshake_interval = tuning::kDefaultHandshakeInterval;
  Duration peer_timeout = tuning::kDefaultPeerTimeout;

  Duration cc_target_delay = tuning::kDefaultCcTargetDelay;
  uint64_t cc_initial_window = tuning::kDefaultCcInitialWindow;
  uint64_t cc_max_window = tuning::kDefaultCcMaxWindow;
  double cc_additive_increase = tuning::kDefaultCcAdditiveIncrease;
  double cc_beta = tuning::kDefaultCcBeta;
  double cc_max_decrease = tuning::kDefaultCcMaxDecrease;
  double cc_loss_beta = tuning::kDefaultCcLossBeta;
  Duration cc_flow_scale_range = tuning::kDefaultCcFlowScaleRange;  // 0: no flow scaling
  bool pacing = true;

  // Payload bytes one packet can carry with this MTU.
  uint32_t max_payload() const;
  // Empty when the configuration is usable; otherwise one line naming the
  // field, what was wrong and what is accepted.
  std::string validate() const;
};

}  // namespace srdx
