#include "telemetry/sequence.h"

#include <gtest/gtest.h>

namespace srdx::telemetry {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;
using V = SeqTracker::Verdict;

TEST(TelemetrySequence, DropsDuplicates) {
  SeqTracker t;
  std::vector<Gap> gaps;
  for (uint64_t s = 1; s <= 5; ++s) EXPECT_EQ(t.accept("edge", "a", 1, s, 0, gaps), V::fresh);
  EXPECT_EQ(t.accept("edge", "a", 1, 3, 0, gaps), V::duplicate);
  EXPECT_EQ(t.accept("edge", "a", 1, 5, 0, gaps), V::duplicate);
  // Other topics, epochs and edges have their own numbers.
  EXPECT_EQ(t.accept("edge", "b", 1, 3, 0, gaps), V::fresh);
  EXPECT_EQ(t.accept("edge", "a", 2, 3, 0, gaps), V::fresh);
  EXPECT_EQ(t.accept("edge2", "a", 1, 3, 0, gaps), V::fresh);
  EXPECT_EQ(t.stats().duplicates, 2u);
  EXPECT_TRUE(gaps.empty());
}

TEST(TelemetrySequence, LateArrivalsFillInAndAreNotGaps) {
  SeqTracker t;
  std::vector<Gap> gaps;
  EXPECT_EQ(t.accept("e", "a", 1, 1, 0, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "a", 1, 5, 0, gaps), V::fresh);
  EXPECT_EQ(t.stats().missing_now, 3u);
  EXPECT_EQ(t.accept("e", "a", 1, 3, kSec, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "a", 1, 3, kSec, gaps), V::duplicate);
  EXPECT_EQ(t.accept("e", "a", 1, 2, kSec, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "a", 1, 4, kSec, gaps), V::fresh);
  t.expire(100 * kSec, gaps);
  EXPECT_TRUE(gaps.empty());
  EXPECT_EQ(t.stats().late, 3u);
  EXPECT_EQ(t.stats().missing_now, 0u);
}

TEST(TelemetrySequence, GapsAfterTheTimeoutAsRanges) {
  SeqOptions o;
  o.gap_timeout_ns = 10 * kSec;
  SeqTracker t(o);
  std::vector<Gap> gaps;
  t.accept("e", "t/1", 4, 1, 0, gaps);
  t.accept("e", "t/1", 4, 4, 0, gaps);     // 2, 3 missing
  t.accept("e", "t/1", 4, 9, kSec, gaps);  // 5..8 missing
  t.accept("e", "t/1", 4, 6, kSec, gaps);  // 6 came
  t.expire(5 * kSec, gaps);
  EXPECT_TRUE(gaps.empty());
  t.expire(10 * kSec, gaps);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].source, "e");
  EXPECT_EQ(gaps[0].topic, "t/1");
  EXPECT_EQ(gaps[0].epoch, 4u);
  EXPECT_EQ(gaps[0].first, 2u);
  EXPECT_EQ(gaps[0].count, 2u);
  t.expire(11 * kSec, gaps);
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_EQ(gaps[1].first, 5u);
  EXPECT_EQ(gaps[1].count, 1u);
  EXPECT_EQ(gaps[2].first, 7u);
  EXPECT_EQ(gaps[2].count, 2u);
  EXPECT_EQ(t.stats().gap_messages, 5u);
  EXPECT_EQ(t.stats().gap_events, 3u);
  // A number declared lost that still comes is delivered (late), once, and
  // the gap it was part of is not counted again or taken back.
  EXPECT_EQ(t.accept("e", "t/1", 4, 2, 12 * kSec, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "t/1", 4, 2, 12 * kSec, gaps), V::duplicate);
  EXPECT_EQ(t.stats().gap_messages, 5u);
  EXPECT_EQ(t.stats().after_gap, 1u);
}

// A number reported as a gap that arrives after all (an edge's spool that
// drained later than gap_timeout) is delivered once, not dropped as a
// duplicate: the edge drops a record only once it is acknowledged, so a
// record dropped here would be lost.
TEST(TelemetrySequence, ANumberReportedAsAGapIsDeliveredIfItComesAfterAll) {
  SeqOptions o;
  o.gap_timeout_ns = 10 * kSec;
  SeqTracker t(o);
  std::vector<Gap> gaps;
  t.accept("e", "a", 1, 1, 0, gaps);
  t.accept("e", "a", 1, 5, 0, gaps);  // 2..4 missing
  t.expire(20 * kSec, gaps);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].count, 3u);
  EXPECT_EQ(t.accept("e", "a", 1, 3, 21 * kSec, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "a", 1, 3, 21 * kSec, gaps), V::duplicate);  // once
  EXPECT_EQ(t.accept("e", "a", 1, 1, 21 * kSec, gaps), V::duplicate);  // seen, not a gap
  EXPECT_EQ(t.stats().after_gap, 1u);
  EXPECT_EQ(t.stats().duplicates, 2u);
  // Numbers pushed out by a jump beyond max_missing too.
  SeqOptions small;
  small.max_missing = 2;
  SeqTracker u(small);
  u.accept("e", "a", 1, 1, 0, gaps);
  u.accept("e", "a", 1, 5, 0, gaps);  // 2 reported at once, 3 and 4 missing
  EXPECT_EQ(u.accept("e", "a", 1, 2, 0, gaps), V::fresh);
  EXPECT_EQ(u.stats().after_gap, 1u);
}

TEST(TelemetrySequence, HugeJumpIsBounded) {
  SeqOptions o;
  o.max_missing = 100;
  SeqTracker t(o);
  std::vector<Gap> gaps;
  t.accept("e", "a", 1, 1, 0, gaps);
  t.accept("e", "a", 1, 1'000'000'000'000ull, 0, gaps);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].first, 2u);
  EXPECT_EQ(gaps[0].count, 1'000'000'000'000ull - 2 - 100);
  EXPECT_EQ(t.stats().missing_now, 100u);
  // Still within bounds: one more jump reports the overflow at once.
  t.accept("e", "a", 1, 1'000'000'000'050ull, 0, gaps);
  EXPECT_EQ(t.stats().missing_now, 100u);
  EXPECT_EQ(gaps.size(), 2u);
}

TEST(TelemetrySequence, BoundedTopicsAndEpochs) {
  SeqOptions o;
  o.max_topics = 2;
  o.max_epochs = 2;
  SeqTracker t(o);
  std::vector<Gap> gaps;
  t.accept("e", "a", 1, 1, 0, gaps);
  t.accept("e", "a", 1, 3, 0, gaps);  // 2 missing in epoch 1
  t.accept("e", "b", 1, 1, 0, gaps);
  EXPECT_EQ(t.accept("e", "c", 1, 1, 0, gaps), V::untracked);
  t.accept("e", "a", 2, 1, 0, gaps);
  EXPECT_TRUE(gaps.empty());
  // A third epoch pushes out the first: its missing number is a gap.
  t.accept("e", "a", 3, 1, 0, gaps);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].epoch, 1u);
  EXPECT_EQ(gaps[0].first, 2u);
  EXPECT_EQ(t.accept("e", "a", 1, 5, 0, gaps), V::untracked);
}

}  // namespace
}  // namespace srdx::telemetry
