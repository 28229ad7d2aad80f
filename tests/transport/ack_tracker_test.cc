// AckTracker: the receiver's record of packet numbers and the SACK ranges it
// reports. Ranges are printed as "hi-lo" pairs in the order they go into an
// ACK: the range holding the largest packet number, then the ranges holding
// packets that arrived since the previous ACK, newest first.
#include "ack_tracker.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace srdx {
namespace {

using namespace srdx::literals;

const Time kT0 = Time::zero() + 1_ms;

// Checks what every ACK must satisfy: at most kMaxAckRanges ranges, the
// first holding the largest, descending, disjoint and not adjacent, and
// every packet number inside a range received.
void check_well_formed(const AckTracker& t, const wire::Ack& a) {
  ASSERT_GE(a.range_count, 1);
  ASSERT_LE(a.range_count, tuning::kMaxAckRanges);
  EXPECT_EQ(a.ranges[0].hi, a.largest_pn);
  for (uint16_t i = 0; i < a.range_count; ++i) {
    EXPECT_LE(a.ranges[i].lo, a.ranges[i].hi);
    if (i) {
      EXPECT_LT(a.ranges[i].hi + 1, a.ranges[i - 1].lo) << i;
    }
    for (uint64_t pn = a.ranges[i].lo; pn <= a.ranges[i].hi; ++pn) EXPECT_TRUE(t.contains(pn));
  }
}

// Fills one ACK (which forgets the fresh arrivals it reports).
std::string ranges(AckTracker& t) {
  wire::Ack a;
  t.fill(a);
  if (a.range_count) check_well_formed(t, a);
  std::string s = "largest=" + std::to_string(a.largest_pn);
  for (uint16_t i = 0; i < a.range_count; ++i)
    s += " " + std::to_string(a.ranges[i].hi) + "-" + std::to_string(a.ranges[i].lo);
  return s;
}

void receive(AckTracker& t, std::initializer_list<uint64_t> pns) {
  for (uint64_t pn : pns) t.on_packet(pn, kT0);
}

TEST(AckTracker, EmptyReportsNothing) {
  AckTracker t;
  EXPECT_FALSE(t.any());
  wire::Ack a;
  EXPECT_TRUE(t.fill(a));
  EXPECT_EQ(a.range_count, 0);
  EXPECT_EQ(a.largest_pn, 0u);
}

TEST(AckTracker, GapsSplitRanges) {
  AckTracker t;
  receive(t, {0, 1, 2, 5, 6, 9});
  EXPECT_EQ(ranges(t), "largest=9 9-9 6-5 2-0");
}

TEST(AckTracker, OutOfOrderArrivalFillsAGap) {
  AckTracker t;
  receive(t, {0, 2, 3});
  EXPECT_EQ(ranges(t), "largest=3 3-2 0-0");
  receive(t, {1});
  EXPECT_EQ(ranges(t), "largest=3 3-0");
}

TEST(AckTracker, LargestTimeIsWhenTheLargestArrived) {
  AckTracker t;
  t.on_packet(4, kT0);
  t.on_packet(2, kT0 + 7_us);  // older packet: largest unchanged
  EXPECT_EQ(t.largest_time(), kT0);
  t.on_packet(5, kT0 + 9_us);
  EXPECT_EQ(t.largest(), 5u);
  EXPECT_EQ(t.largest_time(), kT0 + 9_us);
}

TEST(AckTracker, FloorBoundsTheReport) {
  AckTracker t;
  receive(t, {0, 1, 2, 5, 6, 9});
  t.raise_floor(6);
  t.raise_floor(3);  // floors never go down
  EXPECT_EQ(ranges(t), "largest=9 9-9 6-6");
}

TEST(AckTracker, EveryAckRepeatsTheNewestRanges) {
  AckTracker t;
  receive(t, {0, 1, 2, 5, 6, 9});
  EXPECT_EQ(ranges(t), "largest=9 9-9 6-5 2-0");
  EXPECT_EQ(t.unreported(), 0u);
  EXPECT_EQ(ranges(t), "largest=9 9-9 6-5 2-0");  // a lost ACK is harmless
  receive(t, {3});
  EXPECT_EQ(t.unreported(), 1u);
  EXPECT_EQ(ranges(t), "largest=9 9-9 6-5 3-0");
  receive(t, {8, 7});
  EXPECT_EQ(ranges(t), "largest=9 9-5 3-0");
}

TEST(AckTracker, FloorAboveLargestStillReportsTheLargest) {
  AckTracker t;
  receive(t, {3, 4});
  t.raise_floor(10);
  EXPECT_EQ(ranges(t), "largest=4 4-4");
}

TEST(AckTracker, DuplicatesAreDetected) {
  AckTracker t;
  EXPECT_TRUE(t.on_packet(5, kT0));
  EXPECT_TRUE(t.on_packet(3, kT0));
  EXPECT_FALSE(t.on_packet(5, kT0));
  EXPECT_FALSE(t.on_packet(3, kT0));
  EXPECT_TRUE(t.on_packet(4, kT0));
  EXPECT_TRUE(t.contains(4));
  EXPECT_FALSE(t.contains(2));
  EXPECT_FALSE(t.contains(6));
}

TEST(AckTracker, WindowWrapForgetsWhatFellOut) {
  constexpr uint64_t W = AckTracker::kWindow;
  AckTracker t;
  for (uint64_t pn = 0; pn < 10; ++pn) t.on_packet(pn, kT0);
  t.on_packet(W + 3, kT0);
  // pn 0..3 share bitmap words with W..W+3; they fell out of the window.
  EXPECT_FALSE(t.contains(3));
  EXPECT_TRUE(t.contains(4));
  EXPECT_TRUE(t.contains(9));
  EXPECT_FALSE(t.contains(W + 2));  // never received, though its bit was pn 2's
  EXPECT_EQ(ranges(t), "largest=" + std::to_string(W + 3) + " " + std::to_string(W + 3) + "-" +
                           std::to_string(W + 3) + " 9-4");
  // A packet whose bit was reused by the wrap is new, not a duplicate.
  EXPECT_TRUE(t.on_packet(W + 2, kT0));
  EXPECT_FALSE(t.on_packet(W + 2, kT0));
}

TEST(AckTracker, JumpFartherThanTheWindowClearsEverything) {
  constexpr uint64_t W = AckTracker::kWindow;
  AckTracker t;
  receive(t, {1, 2, 3});
  t.on_packet(5 * W + 2, kT0);
  EXPECT_FALSE(t.contains(5 * W + 1));
  EXPECT_FALSE(t.contains(5 * W + 3));
  EXPECT_EQ(ranges(t), "largest=" + std::to_string(5 * W + 2) + " " + std::to_string(5 * W + 2) +
                           "-" + std::to_string(5 * W + 2));
}

TEST(AckTracker, RangeCapKeepsTheNewestAndReportsTheRestNext) {
  AckTracker t;
  for (uint64_t pn = 0; pn <= 80; pn += 2) t.on_packet(pn, kT0);  // 41 isolated packets
  std::set<uint64_t> reported;
  wire::Ack a;
  bool all_fit = t.fill(a);
  EXPECT_FALSE(all_fit);  // 41 ranges do not fit in one ACK: ACK again soon
  check_well_formed(t, a);
  ASSERT_EQ(a.range_count, tuning::kMaxAckRanges);
  EXPECT_EQ(a.ranges[0].lo, 80u);  // the newest first
  EXPECT_EQ(a.ranges[1].lo, 78u);
  for (uint16_t i = 0; i < a.range_count; ++i) reported.insert(a.ranges[i].lo);
  for (int n = 0; n < 3 && !all_fit; ++n) {
    all_fit = t.fill(a);
    check_well_formed(t, a);
    for (uint16_t i = 0; i < a.range_count; ++i) reported.insert(a.ranges[i].lo);
  }
  EXPECT_TRUE(all_fit);
  EXPECT_EQ(reported.size(), 41u);  // every packet was acknowledged at least once
  EXPECT_EQ(t.unreported(), 0u);
}

TEST(AckTracker, RangesAcrossWordBoundaries) {
  AckTracker t;
  for (uint64_t pn = 60; pn <= 140; ++pn)
    if (pn != 64 && pn != 127 && pn != 128) t.on_packet(pn, kT0);
  EXPECT_EQ(ranges(t), "largest=140 140-129 126-65 63-60");
}

TEST(AckTracker, ResetForgetsEverything) {
  AckTracker t;
  receive(t, {1, 2});
  t.raise_floor(2);
  t.reset();
  EXPECT_FALSE(t.any());
  EXPECT_TRUE(t.on_packet(1, kT0));
  EXPECT_EQ(ranges(t), "largest=1 1-1");
}

}  // namespace
}  // namespace srdx
