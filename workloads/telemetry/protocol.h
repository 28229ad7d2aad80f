// The telemetry messages between an edge bridge and the central publisher,
// each one whole carrier message, little-endian (docs/telemetry.md, "Wire"):
//   header   version u8 (1), type u8, batch id u64
//   batch    E->C  epoch u64, count u32, then count records:
//                  topic len u16, topic, payload len u32, payload,
//                  flags u8 (bits 0-1 qos, bit 2 retain, bit 3 alarm),
//                  seq u64, publish time u64 (ns since the Unix epoch)
//   ack      C->E  (the header only): every record of that batch is
//                  published at the central broker (QoS 1: acknowledged by it)
// `epoch` counts the edge's starts (persisted in its spool directory);
// `seq` counts per topic within an epoch from 1, so the central side drops
// duplicates and reports gaps per topic (sequence.h).
//
// The decoder takes bytes from the network: every length is checked against
// what is left before it is read, trailing bytes are refused, and nothing is
// allocated beyond what the input justifies.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "telemetry/result.h"

namespace srdx::telemetry {

inline constexpr uint8_t kWireVersion = 1;
// The largest payload carried (larger ones are refused at the edge, counted
// and logged). Mosquitto's default limit is 256 MB; telemetry samples are
// bytes to a few kB.
inline constexpr uint32_t kMaxPayloadBytes = 256 * 1024;
// Records in one batch at most.
inline constexpr uint32_t kMaxBatchRecords = 65536;

struct Record {
  std::string topic;
  std::vector<uint8_t> payload;
  uint8_t qos = 0;  // 0 or 1 (QoS 2 is carried as 1)
  bool retain = false;
  bool alarm = false;  // an alarm the edge's rules raised (it travels on the alarm flow)
  uint64_t seq = 0;
  uint64_t publish_ns = 0;  // when the edge received it (wall clock)

  bool operator==(const Record&) const = default;
};

enum class MsgType : uint8_t { batch = 1, ack = 2 };

struct Msg {
  MsgType type = MsgType::batch;
  uint64_t batch_id = 0;
  uint64_t epoch = 0;           // batch
  std::vector<Record> records;  // batch
};

std::vector<uint8_t> encode(const Msg& m);
// Bytes one record adds to a batch.
size_t encoded_size(const Record& r);
Result<Msg> decode(std::span<const uint8_t> bytes);

// One record alone (the spool's on-disk form): epoch u64 then the record
// as in a batch.
void encode_record(std::vector<uint8_t>& out, uint64_t epoch, const Record& r);
Result<Record> decode_record(std::span<const uint8_t> bytes, uint64_t& epoch);

}  // namespace srdx::telemetry
