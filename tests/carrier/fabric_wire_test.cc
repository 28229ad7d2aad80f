// The fabric carrier's segment header: golden bytes, round trip, and every
// malformed input refused with its reason.
#include "fabric_wire.h"

#include <gtest/gtest.h>

#include <vector>

namespace srdx::carrier::wire {
namespace {

std::vector<uint8_t> encoded(const SegHeader& h, size_t payload) {
  std::vector<uint8_t> b(kHeaderBytes + payload, 0xab);
  encode(h, b);
  return b;
}

SegHeader data_header() {
  SegHeader h;
  h.type = SegType::data;
  h.flow = 0x0102;
  h.len = 10;
  h.src_id = 0x1122334455667788ull;
  h.msg_id = 3;
  h.total = 100;
  h.offset = 90;
  return h;
}

TEST(FabricWire, GoldenBytes) {
  const std::vector<uint8_t> b = encoded(data_header(), 10);
  const std::vector<uint8_t> head(b.begin(), b.begin() + 24);
  EXPECT_EQ(head, (std::vector<uint8_t>{'S',  'R',  'D',  'F',  1,    3,    0,    0,
                                        0x02, 0x01, 0,    0,    10,   0,    0,    0,
                                        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(b[24], 3);    // msg_id
  EXPECT_EQ(b[32], 100);  // total
  EXPECT_EQ(b[40], 90);   // offset
}

TEST(FabricWire, RoundTrip) {
  SegHeader h = data_header();
  h.ordered = true;
  h.oseq = 7;
  SegHeader out;
  ASSERT_EQ(decode(encoded(h, 10), 1000, out), DecodeError::ok);
  EXPECT_EQ(out.type, SegType::data);
  EXPECT_TRUE(out.ordered);
  EXPECT_EQ(out.flow, h.flow);
  EXPECT_EQ(out.src_id, h.src_id);
  EXPECT_EQ(out.msg_id, 3u);
  EXPECT_EQ(out.total, 100u);
  EXPECT_EQ(out.offset, 90u);
  EXPECT_EQ(out.oseq, 7u);
}

TEST(FabricWire, RefusesMalformed) {
  SegHeader out;
  std::vector<uint8_t> b = encoded(data_header(), 10);
  EXPECT_EQ(decode(std::span<const uint8_t>(b.data(), 20), 1000, out), DecodeError::too_short);
  std::vector<uint8_t> bad = b;
  bad[0] ^= 1;
  EXPECT_EQ(decode(bad, 1000, out), DecodeError::bad_magic);
  bad = b;
  bad[4] = 2;
  EXPECT_EQ(decode(bad, 1000, out), DecodeError::bad_version);
  bad = b;
  bad[5] = 9;
  EXPECT_EQ(decode(bad, 1000, out), DecodeError::bad_type);
  bad = b;
  bad[6] = 2;
  EXPECT_EQ(decode(bad, 1000, out), DecodeError::bad_field);
  for (size_t zero : {7, 10, 11}) {  // the zero fields
    bad = b;
    bad[zero] = 1;
    EXPECT_EQ(decode(bad, 1000, out), DecodeError::bad_field) << "byte " << zero;
  }
  // The length field disagrees with what arrived.
  EXPECT_EQ(decode(std::span<const uint8_t>(b.data(), b.size() - 1), 1000, out),
            DecodeError::bad_length);
  // A segment past its message's end, a message over the limit, no sender.
  SegHeader h = data_header();
  h.offset = 95;
  EXPECT_EQ(decode(encoded(h, 10), 1000, out), DecodeError::bad_field);
  EXPECT_EQ(decode(encoded(data_header(), 10), 99, out), DecodeError::bad_field);
  h = data_header();
  h.src_id = 0;
  EXPECT_EQ(decode(encoded(h, 10), 1000, out), DecodeError::bad_field);
  // Ordered without a place in the flow, and the reverse.
  h = data_header();
  h.ordered = true;
  EXPECT_EQ(decode(encoded(h, 10), 1000, out), DecodeError::bad_field);
  h = data_header();
  h.oseq = 4;
  EXPECT_EQ(decode(encoded(h, 10), 1000, out), DecodeError::bad_field);
  // Controls: a hello names its sender; an ack carries nothing.
  SegHeader hello;
  hello.type = SegType::hello;
  hello.src_id = 1;
  EXPECT_EQ(decode(encoded(hello, 0), 1000, out), DecodeError::bad_length);
  hello.type = SegType::hello_ack;
  EXPECT_EQ(decode(encoded(hello, 0), 1000, out), DecodeError::bad_length);
  SegHeader ack;
  ack.type = SegType::ack;
  ack.src_id = 1;
  ack.msg_id = 1;
  ack.len = 1;
  EXPECT_EQ(decode(encoded(ack, 1), 1000, out), DecodeError::bad_length);
  ack.len = 0;
  ack.msg_id = 0;
  EXPECT_EQ(decode(encoded(ack, 0), 1000, out), DecodeError::bad_field);
}

}  // namespace
}  // namespace srdx::carrier::wire
