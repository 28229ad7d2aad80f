// Wire format v3: the packets srdx endpoints exchange, inside UDP datagrams.
// docs/protocol.md describes every field; this header and its static
// assertions are the code side of that document. All integers are big endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "srdx/endpoint.h"

namespace srdx::wire {

inline constexpr uint8_t kVersion = 3;
inline constexpr uint16_t kMagic = 0x5244;  // "RD"

enum class Type : uint8_t {
  hello = 1,      // opens a connection: the sender's connection id, limits, a cookie
  hello_ack = 2,  // answers a hello that proved its address
  data = 3,       // one fragment of one message
  ack = 4,        // selective acknowledgement and flow-control credit
  retry = 5,      // answers a hello that did not prove its address: a cookie to echo
  close = 6,      // the connection named by the two ids is over
  // Encryption: a whole datagram sealed (AEAD) under the connection's keys;
  // inside, one of the packets above (never a retry or another sealed one).
  sealed = 7,
};

// Why a connection was closed (Close::reason).
enum class CloseReason : uint32_t {
  no_connection = 1,  // the receiver has no connection with those ids (restarted, forgot it)
  removed = 2,        // the sender's application removed the peer
  timeout = 3,        // the sender heard nothing for its peer timeout and gave up
  idle = 4,           // the sender reclaimed an idle connection it had accepted
  replaced = 5,       // a new connection with the same peer took its place
};
inline constexpr uint32_t kMaxCloseReason = 5;

// Proof that a hello's sender receives at its address: a keyed hash the
// receiver of the hello computes and checks without keeping state.
inline constexpr size_t kCookieSize = 16;

// Feature bits, negotiated in hello / hello_ack: a feature is used when both
// sides offer it.
namespace feature {
inline constexpr uint32_t kOrdered = 1u << 0;  // ordered delivery per flow
// The sender encrypts: its hello carries a Noise IK message, and every
// packet after the handshake is sealed. Both sides must offer it, or neither.
inline constexpr uint32_t kSealed = 1u << 1;
inline constexpr uint32_t kCoalesce = 1u << 2;  // an ACK and a data packet may share a datagram
// The sender lacks AES instructions: seal with ChaCha20-Poly1305. The
// connection uses it when either side offers it (AES-256-GCM otherwise).
inline constexpr uint32_t kChaCha = 1u << 3;
// Data packets echo the path entropy of an ACK their sender received
// (Common::echo): the receiver learns which of its ACK paths work, and ACKs
// leave over those instead of retracing the data's path (docs/protocol.md, 7).
inline constexpr uint32_t kAckEcho = 1u << 4;
// ACKs say how long the acknowledged largest_pn waited in the receiving host
// before it was handled (Common::echo of an ack), so that the congestion
// control of the data's sender leaves host time out of its RTT samples
// (docs/protocol.md, congestion control).
inline constexpr uint32_t kRxWait = 1u << 5;
// ACKs carry the data sender's share of what the ACK's sender received from
// all its peers in its last measurement interval (Ack::share), so that the
// senders of an incast even out their rates (docs/protocol.md, congestion
// control).
inline constexpr uint32_t kShare = 1u << 6;
inline constexpr uint32_t kSupported = kOrdered | kCoalesce | kAckEcho | kRxWait | kShare;
}  // namespace feature

// Flags in the common header.
namespace flag {
inline constexpr uint16_t kOrdered = 1u << 0;         // data: ordered message
inline constexpr uint16_t kRetransmission = 1u << 1;  // data: not the first copy
inline constexpr uint16_t kAckNow = 1u << 2;          // data: sender wants an ACK at once
// ack: this packet ends at header_len, its checksum covers only those bytes,
// and a data packet follows in the same datagram (feature kCoalesce).
inline constexpr uint16_t kCoalesced = 1u << 3;
inline constexpr uint16_t kKnown = kOrdered | kRetransmission | kAckNow | kCoalesced;
}  // namespace flag

// Common header, 24 bytes, on every packet:
//   0 magic u16 | 2 version u8 | 3 type u8 | 4 flags u16 | 6 header_len u16 |
//   8 checksum u32 (CRC32C of the whole packet with this field zero) |
//   12 src_port u16 | 14 echo u16 (data, ack; zero in other types) | 16 src_cid u64
// followed by the type's own header and, for data, the payload.
inline constexpr size_t kCommonHeaderSize = 24;

struct Common {
  Type type = Type::data;
  uint16_t flags = 0;
  // The UDP port the sender receives on: with src_ip it names the sender,
  // whatever source port (entropy) the datagram left from. 0: the datagram's
  // own source port is the sender's address.
  uint16_t src_port = 0;
  // Data, with feature kAckEcho: the path entropy (UDP source port) of an ACK
  // the sender received since its last data packet, so the ACK's sender
  // learns that path works back; 0: none.
  // Ack, with feature kRxWait: microseconds (saturating at 65535) that the
  // ACK's largest_pn waited in its receiver's host, from reaching it to
  // being handled; 0 when unknown. Zero in every other type.
  uint16_t echo = 0;
  // The sender's id for this connection: random, chosen by the sender when
  // the connection starts, never 0 (except in a retry, which has none).
  uint64_t src_cid = 0;
  // Not on the wire. Encoding: the packet goes inside a sealed datagram, so
  // its checksum field is 0 and no CRC is computed (the AEAD tag covers it).
  bool sealed = false;
};

// hello and hello_ack, 56 bytes after the common header.
struct Hello {
  uint64_t dst_cid = 0;  // the receiver's connection id as the sender knows it (0: none)
  uint32_t features = 0;
  uint32_t max_payload = 0;  // largest data payload the sender accepts
  uint64_t max_message = 0;  // largest message the sender accepts
  uint32_t recv_msg_window = 0;
  uint32_t initial_window = 0;  // hello_ack with feature kShare: the window to start with (0: none)
  uint64_t recv_buffer = 0;
  // hello: the cookie from the receiver's retry (zeros: none yet). hello_ack: zeros.
  uint8_t cookie[kCookieSize] = {};
  // With feature kSealed, after the header: the Noise IK message (hello:
  // kNoise1Size bytes, hello_ack: kNoise2Size). Empty otherwise. Encoding
  // writes these bytes; decoding points into the datagram.
  std::span<const uint8_t> noise;
};
inline constexpr size_t kHelloSize = 56;
inline constexpr size_t kNoise1Size = 96;  // e (32), sealed static (48), payload tag (16)
inline constexpr size_t kNoise2Size = 48;  // e (32), payload tag (16)
// What a hello's Noise message authenticates (mixed into the handshake hash):
// its common and hello headers as encoded, with checksum and cookie zero. The
// connection id and the parameters are so bound to the keys.
inline constexpr size_t kHelloTranscriptSize = 80;
void hello_transcript(const Common& c, const Hello& h, uint8_t out[kHelloTranscriptSize]);

// retry, 24 bytes after the common header (whose src_cid is 0).
struct Retry {
  uint64_t dst_cid = 0;  // the src_cid of the hello it answers
  uint8_t cookie[kCookieSize] = {};
};
inline constexpr size_t kRetrySize = 24;

// close, 16 bytes after the common header.
struct Close {
  uint64_t dst_cid = 0;  // the receiver's id of the connection that ended
  uint32_t reason = 0;   // CloseReason
  uint32_t reserved = 0;
};
inline constexpr size_t kCloseSize = 16;

// data, 48 bytes after the common header, then `payload_len` bytes.
struct Data {
  uint64_t dst_cid = 0;
  uint64_t pn = 0;               // packet number, per connection, never reused
  uint32_t pn_floor_delta = 0;   // pn - lowest pn the sender still waits for
  uint32_t msg_floor_delta = 0;  // msg_id - lowest message the sender still has
  uint64_t msg_id = 0;
  uint32_t msg_len = 0;
  uint32_t frag_index = 0;
  uint32_t prev_delta = 0;  // ordered: msg_id - previous message of the flow (0: first)
  uint16_t frag_size = 0;   // payload bytes of every fragment but the last
  uint16_t flow = 0;
  // Not on the wire: payload_len is the datagram length minus the headers,
  // and reserved is always 0. The decoder fills both.
  uint16_t payload_len = 0;
  uint16_t reserved = 0;
  std::span<const uint8_t> payload;
};
inline constexpr size_t kDataSize = 48;

struct AckRange {
  uint64_t lo = 0, hi = 0;  // inclusive packet numbers
};

// ack, 52 bytes after the common header, then range_count x (gap u32, len u32):
// the first range ends at largest_pn; each gap counts the missing packet
// numbers between a range and the next lower one. range_count 0 (with
// largest_pn 0) acknowledges nothing: a pure credit or msg_floor update.
struct Ack {
  uint64_t dst_cid = 0;
  uint64_t largest_pn = 0;
  uint32_t ack_delay_ns = 0;  // time the receiver held largest_pn before acking
  uint32_t ack_seq = 0;       // orders ACKs, so stale credit is ignored
  uint64_t max_msg_id = 0;    // sender may use message ids below this
  uint64_t msg_floor = 0;     // the ACK sender's own send floor (see Data)
  uint64_t free_buffer = 0;   // receive buffer still free, in bytes
  uint16_t range_count = 0;
  // With feature kShare: the data sender's rate over the mean rate of the
  // ACK sender's active peers in its last interval, in 1/kShareOne units
  // (saturating); 0 when there is no such figure (one sender alone, or none
  // measured yet). Zero without the feature.
  uint16_t share = 0;
  AckRange ranges[tuning::kMaxAckRanges];  // descending, disjoint
};
inline constexpr size_t kAckSize = 52;
inline constexpr uint16_t kShareOne = 256;  // Ack::share of a sender at exactly the mean
inline constexpr size_t kAckRangeSize = 8;

// sealed: a clear 24-byte header, the encrypted datagram, a 16-byte tag.
//   0 magic u16 | 2 version u8 | 3 type u8 (7) | 4 flags u8 | 5 reserved u8 |
//   6 src_port u16 | 8 dst_cid u64 | 16 counter u64
// The header is the AEAD's associated data; the nonce is made from the
// counter (docs/protocol.md, section 13). No checksum: the tag covers all.
inline constexpr size_t kSealedHeaderSize = 24;
inline constexpr size_t kTagSize = 16;
namespace sealed_flag {
inline constexpr uint8_t kKeyPhase = 1u << 0;  // the key this datagram is sealed with
// The key phase the sender opens the receiver's datagrams with now: the
// receiver may update its own key again once this equals its phase.
inline constexpr uint8_t kPeerPhase = 1u << 1;
}  // namespace sealed_flag
struct SealedHeader {
  uint8_t flags = 0;
  uint16_t src_port = 0;
  uint64_t dst_cid = 0;  // the receiver's connection id
  uint64_t counter = 0;  // per direction, from 0, never reused under one connection
};
inline constexpr size_t kSealedMin = kSealedHeaderSize + kCommonHeaderSize + kTagSize;

struct Packet {
  Common common;
  Hello hello;
  Data data;
  Ack ack;
  Retry retry;
  Close close;
};

enum class DecodeError : uint8_t {
  ok = 0,
  too_short,
  bad_version,  // magic or version not ours
  bad_type,
  bad_checksum,
  bad_length,  // header_len or payload_len disagree with the datagram
  bad_field,   // a field out of range (fragment beyond the message, bad ranges, ...)
  // A coalesced datagram that is not exactly an ack (flag coalesced) then a
  // data packet (no flag) of the same connection ids and src_port.
  bad_coalesce,
};
DropReason to_drop_reason(DecodeError e);

// Whether a datagram claims to be sealed (magic, version and type 7).
bool is_sealed(std::span<const uint8_t> bytes);
// Parses a sealed datagram's header: at least the header, a common header
// and a tag long, reserved bits zero, dst_cid not 0.
DecodeError decode_sealed(std::span<const uint8_t> bytes, SealedHeader& out);
void encode_sealed_header(uint8_t* out, const SealedHeader& h);

// Parses a datagram holding one packet into `out`. Never reads outside
// `bytes`; on error `out` is unspecified. data.payload points into `bytes`.
// A coalesced datagram (two packets) is refused with bad_coalesce here; the
// endpoint reads datagrams with decode_datagram().
DecodeError decode(std::span<const uint8_t> bytes, Packet& out);

// Parses a datagram: one packet into `first` (count 1), or a coalesced ack
// into `first` and the data packet after it into `second` (count 2). The
// whole datagram is refused at its first fault, in either part; the same
// guarantees as decode().
// `sealed`: the datagram was the inside of a sealed one, whose tag covered
// it: its packets carry checksum 0 and no checksum is computed.
DecodeError decode_datagram(std::span<const uint8_t> bytes, Packet& first, Packet& second,
                            size_t& count, bool sealed = false);

// Each encoder writes one whole packet (with checksum) into `buf` and returns
// its length, or 0 if `buf` is too small. A coalesced datagram is an ack
// encoded with flag::kCoalesced followed by a data packet encoded right
// after it; each packet's checksum covers that packet only.
// Common::sealed: the packet goes inside a sealed datagram, with checksum 0.
size_t encode_hello(std::span<uint8_t> buf, const Common& c, const Hello& h);
size_t encode_data(std::span<uint8_t> buf, const Common& c, const Data& d);
size_t encode_ack(std::span<uint8_t> buf, const Common& c, const Ack& a);
size_t encode_retry(std::span<uint8_t> buf, const Common& c, const Retry& r);
size_t encode_close(std::span<uint8_t> buf, const Common& c, const Close& cl);

// The connection ids a decoded packet carries: the sender's and the one it
// names at the receiver (0 where the packet has none: a first hello).
uint64_t dst_cid(const Packet& p);

inline constexpr size_t kDataOverhead = kCommonHeaderSize + kDataSize;
static_assert(kCommonHeaderSize == 24 && kHelloSize == 56 && kDataSize == 48 && kAckSize == 52 &&
              kRetrySize == 24 && kCloseSize == 16);
// A retry is never larger than the hello it answers, nor a close than the
// packet that draws it: neither amplifies a forged datagram.
static_assert(kRetrySize <= kHelloSize && kCloseSize <= kHelloSize && kCloseSize <= kDataSize &&
              kCloseSize <= kAckSize);
static_assert(kDataOverhead + tuning::kIpUdpOverhead < tuning::kMinMtu);
static_assert(kCommonHeaderSize + kAckSize + tuning::kMaxAckRanges * kAckRangeSize +
                  tuning::kIpUdpOverhead <=
              tuning::kMinMtu);

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);
// The CRC32C of `bytes` with the four bytes at `hole` read as zero (a packet's
// checksum field), in one pass; hole + 4 <= bytes.size().
uint32_t crc32c_hole(std::span<const uint8_t> bytes, size_t hole);

}  // namespace srdx::wire
