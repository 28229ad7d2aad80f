// The fabric carrier's own header, in front of every provider message
// (docs/carrier.md, "The fabric carrier's header"). The provider carries
// bytes reliably; this header is what srdx adds: who sent it (an incarnation
// id), which message, where in it, and its place in an ordered flow.
//
//   0  magic   u32  'S','R','D','F'
//   4  version u8   1
//   5  type    u8   SegType
//   6  flags   u8   bit 0: ordered
//   7  zero    u8
//   8  flow    u16
//  10  zero    u16
//  12  len     u32  payload bytes after the header (hello, hello_ack: the endpoint name)
//  16  src_id  u64  the sending carrier's incarnation (random, never 0)
//  24  msg_id  u64  data / ack / abort: the message (per sender and peer, from 1)
//  32  total   u64  data: the whole message's length; hello, hello_ack: the
//                   largest segment payload the sender receives (0: not said)
//  40  offset  u64  data: where this segment's payload starts in the message
//  48  oseq    u64  ordered data / abort: place in the flow (from 1); else 0
// All little-endian. 56 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace srdx::carrier::wire {

inline constexpr uint32_t kMagic = 0x46445253;  // "SRDF" little-endian
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 56;

enum class SegType : uint8_t {
  hello = 1,      // payload: the sender's endpoint name (fi_getname); answered by hello_ack
  hello_ack = 2,  // payload: the answering endpoint's name
  data = 3,       // a segment of message msg_id
  ack = 4,        // msg_id was handed up whole at the receiver
  abort = 5,      // the sender gave msg_id up: drop what arrived, skip its place in the flow
};

struct SegHeader {
  SegType type = SegType::data;
  bool ordered = false;
  uint16_t flow = 0;
  uint32_t len = 0;
  uint64_t src_id = 0;
  uint64_t msg_id = 0;
  uint64_t total = 0;
  uint64_t offset = 0;
  uint64_t oseq = 0;
};

// Writes h into out[0..kHeaderBytes).
void encode(const SegHeader& h, std::span<uint8_t> out);

enum class DecodeError : uint8_t {
  ok = 0,
  too_short,
  bad_magic,
  bad_version,
  bad_type,
  bad_length,
  bad_field
};
const char* to_string(DecodeError e);

// Parses a whole received provider message (header and payload); checks the
// lengths agree, data segments lie inside their message and are not larger
// than max_message.
DecodeError decode(std::span<const uint8_t> msg, uint64_t max_message, SegHeader& h);

}  // namespace srdx::carrier::wire
