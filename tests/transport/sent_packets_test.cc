// SentPackets: the sender's in-flight ring and its unacknowledged list, which
// must stay in packet-number order whatever is removed from it.
#include "sent_packets.h"

#include <gtest/gtest.h>

#include <string>

namespace srdx {
namespace {

using namespace srdx::literals;

std::string order(SentPackets& s) {
  std::string out;
  for (SentPacket* p = s.first(); p; p = s.next(*p)) {
    if (!out.empty()) out += " ";
    out += std::to_string(p->pn);
  }
  return out;
}

SentPacket pkt(uint64_t pn, uint64_t msg = 0) {
  SentPacket p;
  p.pn = pn;
  p.msg_id = msg;
  p.sent_time = Time::zero() + Duration::micros(static_cast<int64_t>(pn));
  return p;
}

TEST(SentPackets, ListKeepsOrderAfterRemovalsInTheMiddle) {
  SentPackets s(8);
  for (uint64_t pn = 0; pn < 5; ++pn) s.add(pkt(pn));
  EXPECT_EQ(order(s), "0 1 2 3 4");
  s.remove(*s.find(2));
  EXPECT_EQ(order(s), "0 1 3 4");
  s.remove(*s.find(0));  // head
  EXPECT_EQ(order(s), "1 3 4");
  s.remove(*s.find(4));  // tail
  EXPECT_EQ(order(s), "1 3");
  s.add(pkt(5));
  EXPECT_EQ(order(s), "1 3 5");
  EXPECT_EQ(s.count(), 3u);
  s.remove(*s.find(3));
  s.remove(*s.find(1));
  s.remove(*s.find(5));
  EXPECT_EQ(order(s), "");
  EXPECT_EQ(s.first(), nullptr);
  EXPECT_EQ(s.count(), 0u);
}

TEST(SentPackets, HasRoomUntilTheRingWrapsOntoTheOldestInFlight) {
  SentPackets s(8);
  EXPECT_TRUE(s.has_room(1000));  // empty: anything fits
  for (uint64_t pn = 0; pn < 8; ++pn) {
    ASSERT_TRUE(s.has_room(pn));
    s.add(pkt(pn));
  }
  EXPECT_FALSE(s.has_room(8));  // would overwrite pn 0
  s.remove(*s.find(3));
  EXPECT_FALSE(s.has_room(8));  // pn 0 is still the oldest
  s.remove(*s.find(0));
  EXPECT_TRUE(s.has_room(8));
  EXPECT_FALSE(s.has_room(9));  // pn 1 is the oldest now
}

TEST(SentPackets, FindReturnsOnlyThePacketInFlight) {
  SentPackets s(8);
  s.add(pkt(2, 42));
  ASSERT_NE(s.find(2), nullptr);
  EXPECT_EQ(s.find(2)->msg_id, 42u);
  EXPECT_EQ(s.find(2)->sent_time, Time::zero() + 2_us);
  EXPECT_EQ(s.find(10), nullptr);  // same ring index, other packet number
  EXPECT_EQ(s.find(3), nullptr);
  s.remove(*s.find(2));
  EXPECT_EQ(s.find(2), nullptr);
}

TEST(SentPackets, ClearEmptiesTheList) {
  SentPackets s(16);
  for (uint64_t pn = 0; pn < 4; ++pn) s.add(pkt(pn));
  s.clear();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.first(), nullptr);
  EXPECT_EQ(s.find(1), nullptr);
  s.add(pkt(4));
  EXPECT_EQ(order(s), "4");
}

}  // namespace
}  // namespace srdx
