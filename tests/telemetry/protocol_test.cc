#include "telemetry/protocol.h"

#include <gtest/gtest.h>

#include "telemetry/topic.h"

namespace srdx::telemetry {
namespace {

Record rec(std::string topic, std::string payload, uint8_t qos, bool retain, uint64_t seq) {
  Record r;
  r.topic = std::move(topic);
  r.payload.assign(payload.begin(), payload.end());
  r.qos = qos;
  r.retain = retain;
  r.seq = seq;
  r.publish_ns = 1'700'000'000'000'000'000ull + seq;
  return r;
}

TEST(TelemetryProtocol, BatchRoundTrips) {
  Msg m;
  m.batch_id = 42;
  m.epoch = 7;
  m.records.push_back(rec("turbine/1/temperature", "81.5", 1, true, 1));
  m.records.push_back(rec("turbine/2/rpm", "", 0, false, 99));
  m.records.back().alarm = true;
  const std::vector<uint8_t> b = encode(m);
  Result<Msg> d = decode(b);
  ASSERT_TRUE(d.ok()) << d.error.message;
  EXPECT_EQ(d.value.type, MsgType::batch);
  EXPECT_EQ(d.value.batch_id, 42u);
  EXPECT_EQ(d.value.epoch, 7u);
  ASSERT_EQ(d.value.records.size(), 2u);
  EXPECT_EQ(d.value.records[0], m.records[0]);
  EXPECT_EQ(d.value.records[1], m.records[1]);
  size_t size = 10 + 12;
  for (const Record& r : m.records) size += encoded_size(r);
  EXPECT_EQ(b.size(), size);
}

TEST(TelemetryProtocol, AckIsTheHeader) {
  Msg m;
  m.type = MsgType::ack;
  m.batch_id = 5;
  const std::vector<uint8_t> b = encode(m);
  EXPECT_EQ(b.size(), 10u);
  Result<Msg> d = decode(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value.type, MsgType::ack);
  EXPECT_EQ(d.value.batch_id, 5u);
}

TEST(TelemetryProtocol, RefusesMalformedInput) {
  Msg m;
  m.batch_id = 1;
  m.epoch = 1;
  m.records.push_back(rec("a/b", "1", 1, false, 3));
  const std::vector<uint8_t> good = encode(m);
  // Every truncation is refused with a reason.
  for (size_t n = 0; n < good.size(); ++n) {
    Result<Msg> d = decode(std::span<const uint8_t>(good.data(), n));
    EXPECT_FALSE(d.ok()) << n;
    EXPECT_EQ(d.error.code, Errc::malformed);
    EXPECT_NE(d.error.message.find("telemetry message"), std::string::npos);
  }
  std::vector<uint8_t> b = good;
  b.push_back(0);
  EXPECT_NE(decode(b).error.message.find("trailing"), std::string::npos);
  b = good;
  b[0] = 9;
  EXPECT_NE(decode(b).error.message.find("version"), std::string::npos);
  b = good;
  b[1] = 3;
  EXPECT_NE(decode(b).error.message.find("type"), std::string::npos);
  // A count far beyond the bytes is refused before anything is allocated.
  b = good;
  b[18] = 0xff;
  b[19] = 0xff;
  EXPECT_FALSE(decode(b).ok());
  // A wildcard topic, qos 2, seq 0, unknown flags.
  Msg w = m;
  w.records[0].topic = "a/+";
  EXPECT_NE(decode(encode(w)).error.message.find("wildcard"), std::string::npos);
  w = m;
  w.records[0].qos = 2;
  EXPECT_NE(decode(encode(w)).error.message.find("qos"), std::string::npos);
  w = m;
  w.records[0].seq = 0;
  EXPECT_NE(decode(encode(w)).error.message.find("sequence"), std::string::npos);
  b = good;
  b[b.size() - 17] |= 0x80;  // the flags byte
  EXPECT_NE(decode(b).error.message.find("flags"), std::string::npos);
}

TEST(TelemetryProtocol, RefusesHugePayload) {
  Msg m;
  m.batch_id = 1;
  m.records.push_back(rec("a", std::string(kMaxPayloadBytes + 1, 'x'), 0, false, 1));
  Result<Msg> d = decode(encode(m));
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.message.find("256 KiB"), std::string::npos);
  m.records[0].payload.resize(kMaxPayloadBytes);
  EXPECT_TRUE(decode(encode(m)).ok());
}

TEST(TelemetryProtocol, SpoolRecordRoundTrips) {
  std::vector<uint8_t> b;
  const Record r = rec("x/y", "12", 1, true, 4);
  encode_record(b, 3, r);
  uint64_t epoch = 0;
  Result<Record> d = decode_record(b, epoch);
  ASSERT_TRUE(d.ok()) << d.error.message;
  EXPECT_EQ(epoch, 3u);
  EXPECT_EQ(d.value, r);
  b.pop_back();
  EXPECT_FALSE(decode_record(b, epoch).ok());
}

TEST(TelemetryTopic, Matching) {
  EXPECT_TRUE(topic_matches("turbine/+/temperature", "turbine/7/temperature"));
  EXPECT_FALSE(topic_matches("turbine/+/temperature", "turbine/7/rpm"));
  EXPECT_FALSE(topic_matches("turbine/+/temperature", "turbine/7/x/temperature"));
  EXPECT_FALSE(topic_matches("turbine/+", "turbine"));
  EXPECT_TRUE(topic_matches("turbine/+", "turbine/"));
  EXPECT_TRUE(topic_matches("turbine/#", "turbine"));
  EXPECT_TRUE(topic_matches("turbine/#", "turbine/1/a/b"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_FALSE(topic_matches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(topic_matches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/broker/uptime"));
  EXPECT_TRUE(topic_matches("a/b", "a/b"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
  EXPECT_TRUE(topic_matches("+/+", "/x"));
}

TEST(TelemetryTopic, Validation) {
  EXPECT_EQ(check_filter("turbine/+/temperature"), "");
  EXPECT_EQ(check_filter("#"), "");
  EXPECT_EQ(check_filter("a/#"), "");
  EXPECT_NE(check_filter("a/#/b"), "");
  EXPECT_NE(check_filter("a#"), "");
  EXPECT_NE(check_filter("a/b+"), "");
  EXPECT_NE(check_filter(""), "");
  EXPECT_EQ(check_topic("a/b"), "");
  EXPECT_NE(check_topic("a/+"), "");
  EXPECT_NE(check_topic(std::string("a\0b", 3)), "");
}

}  // namespace
}  // namespace srdx::telemetry
