// The centre's sequence log (workloads/telemetry/seqlog.h): what a centre
// published survives its restart, numbers still missing stay missing, gaps
// are not reported twice, a torn tail is cut, and compaction keeps it all.
#include "telemetry/seqlog.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace srdx::telemetry {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

class TelemetrySeqLog : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/srdx-seqlog-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SeqLogOptions opts(uint64_t compact = 16ull << 20) {
    SeqLogOptions o;
    o.dir = dir_ + "/central";
    o.compact_bytes = compact;
    return o;
  }
  // A centre's tracker and its log, as Central::start() opens them.
  struct Centre {
    SeqTracker seq{SeqOptions{.gap_timeout_ns = kSecond}};
    std::unique_ptr<SeqLog> log;
  };
  std::unique_ptr<Centre> open(SeqLogOptions o) {
    auto c = std::make_unique<Centre>();
    Result<std::unique_ptr<SeqLog>> r = SeqLog::open(std::move(o), c->seq, 0);
    EXPECT_TRUE(r.ok()) << r.error.message;
    if (r.ok()) c->log = std::move(r.value);
    return c;
  }
  // Accepts and logs a number as Central does for an acknowledged batch.
  SeqTracker::Verdict publish(Centre& c, std::string_view topic, uint64_t seq, uint64_t epoch = 7) {
    std::vector<Gap> gaps;
    const SeqTracker::Verdict v = c.seq.accept("edge-a", topic, epoch, seq, 0, gaps);
    if (v == SeqTracker::Verdict::fresh) c.log->seen("edge-a", topic, epoch, seq);
    for (const Gap& g : gaps) c.log->gap(g);
    return v;
  }

  std::string dir_;
};

using V = SeqTracker::Verdict;

TEST_F(TelemetrySeqLog, ARestartedCentreStillDropsWhatItPublished) {
  {
    auto c = open(opts());
    for (uint64_t s = 1; s <= 5; ++s) ASSERT_EQ(publish(*c, "turbine/1/rpm", s), V::fresh);
    ASSERT_TRUE(c->log->flush(false).ok());
  }  // as kill -9: nothing more is written
  auto c = open(opts());
  EXPECT_EQ(c->log->stats().recovered_frames, 5u);
  EXPECT_EQ(c->seq.stats().accepted, 0u) << "counters start from zero after the replay";
  for (uint64_t s = 1; s <= 5; ++s) EXPECT_EQ(publish(*c, "turbine/1/rpm", s), V::duplicate) << s;
  EXPECT_EQ(publish(*c, "turbine/1/rpm", 6), V::fresh);
  EXPECT_EQ(publish(*c, "turbine/2/rpm", 1), V::fresh) << "another topic is its own";
  EXPECT_EQ(publish(*c, "turbine/1/rpm", 1, 8), V::fresh) << "a new epoch starts again";
}

TEST_F(TelemetrySeqLog, WithoutTheLogARestartPublishesAgain) {
  // What the log is for: the same sequence with a fresh tracker and no log.
  SeqTracker first, second;
  std::vector<Gap> gaps;
  ASSERT_EQ(first.accept("edge-a", "t", 7, 1, 0, gaps), V::fresh);
  EXPECT_EQ(second.accept("edge-a", "t", 7, 1, 0, gaps), V::fresh);
}

TEST_F(TelemetrySeqLog, NumbersNotYetArrivedStayMissingAcrossARestart) {
  {
    auto c = open(opts());
    for (uint64_t s : {1, 2, 4, 6}) ASSERT_EQ(publish(*c, "t", s), V::fresh);
    ASSERT_TRUE(c->log->flush(true).ok());
  }
  auto c = open(opts());
  EXPECT_EQ(c->seq.stats().missing_now, 2u);
  EXPECT_EQ(publish(*c, "t", 3), V::fresh) << "a late number is not a duplicate";
  EXPECT_EQ(publish(*c, "t", 5), V::fresh);
  EXPECT_EQ(publish(*c, "t", 4), V::duplicate);
  EXPECT_EQ(c->seq.stats().missing_now, 0u);
}

TEST_F(TelemetrySeqLog, GapsReportedBeforeARestartAreNotReportedAgain) {
  {
    auto c = open(opts());
    for (uint64_t s : {1, 4}) ASSERT_EQ(publish(*c, "t", s), V::fresh);
    std::vector<Gap> gaps;
    c->seq.expire(10 * kSecond, gaps);  // 2 and 3 never came
    ASSERT_EQ(gaps.size(), 1u);
    EXPECT_EQ(gaps[0].first, 2u);
    EXPECT_EQ(gaps[0].count, 2u);
    c->log->gap(gaps[0]);
    ASSERT_TRUE(c->log->flush(false).ok());
  }
  auto c = open(opts());
  EXPECT_EQ(c->seq.stats().missing_now, 0u);
  std::vector<Gap> gaps;
  c->seq.expire(100 * kSecond, gaps);
  EXPECT_TRUE(gaps.empty());
  // One of them comes after all (the edge resends until acknowledged): it
  // is published, not dropped as a duplicate.
  EXPECT_EQ(publish(*c, "t", 3), V::fresh);
  EXPECT_EQ(publish(*c, "t", 3), V::duplicate);
}

TEST_F(TelemetrySeqLog, ATornTailIsCutAndTheLogGoesOn) {
  std::string path;
  {
    auto c = open(opts());
    for (uint64_t s = 1; s <= 3; ++s) ASSERT_EQ(publish(*c, "t", s), V::fresh);
    ASSERT_TRUE(c->log->flush(false).ok());
    path = c->log->path();
  }
  {
    // Half a frame, as a crash in the middle of a write leaves it.
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    const uint8_t junk[] = {40, 0, 0, 0, 1, 2, 3, 4, 1, 9};
    ASSERT_EQ(::write(fd, junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
    ::close(fd);
  }
  {
    auto c = open(opts());
    EXPECT_EQ(c->log->stats().recovered_frames, 3u);
    EXPECT_EQ(c->log->stats().torn_bytes, 10u);
    EXPECT_EQ(publish(*c, "t", 3), V::duplicate);
    EXPECT_EQ(publish(*c, "t", 4), V::fresh);
    ASSERT_TRUE(c->log->flush(false).ok());
  }
  auto c = open(opts());
  EXPECT_EQ(c->log->stats().torn_bytes, 0u);
  EXPECT_EQ(publish(*c, "t", 4), V::duplicate) << "written after the cut, read back";
}

TEST_F(TelemetrySeqLog, CompactionKeepsHighsAndMissingNumbers) {
  {
    auto c = open(opts(4096));
    for (uint64_t s = 1; s <= 2000; ++s) {
      if (s % 100 == 50) continue;  // missing: 50, 150, ...
      ASSERT_EQ(publish(*c, "turbine/9/vibration", s), V::fresh);
      if (s % 64 == 0) {
        ASSERT_TRUE(c->log->flush(false).ok());
      }
    }
    ASSERT_TRUE(c->log->flush(false).ok());
    EXPECT_GT(c->log->stats().compactions, 0u);
    EXPECT_LT(std::filesystem::file_size(c->log->path()), 8192u);
  }
  auto c = open(opts(4096));
  EXPECT_EQ(c->seq.stats().missing_now, 20u);
  EXPECT_EQ(publish(*c, "turbine/9/vibration", 1999), V::duplicate);
  EXPECT_EQ(publish(*c, "turbine/9/vibration", 1950), V::fresh);
  EXPECT_EQ(publish(*c, "turbine/9/vibration", 1951), V::duplicate);
  EXPECT_EQ(publish(*c, "turbine/9/vibration", 2001), V::fresh);
}

// A number reported as a gap is still published once if it comes after
// all (sequence.h); a compacted log keeps that, as it keeps the missing.
TEST_F(TelemetrySeqLog, CompactionKeepsNumbersReportedAsGaps) {
  {
    auto c = open(opts(4096));
    for (uint64_t s : {1, 5, 9}) ASSERT_EQ(publish(*c, "t", s), V::fresh);  // 2-4, 6-8 missing
    ASSERT_EQ(publish(*c, "t", 7), V::fresh);
    std::vector<Gap> gaps;
    c->seq.expire(10 * kSecond, gaps);  // 2-4, 6 and 8 reported
    ASSERT_EQ(gaps.size(), 3u);
    for (const Gap& g : gaps) c->log->gap(g);
    ASSERT_EQ(publish(*c, "t", 12), V::fresh);  // 10 and 11 missing, not yet gaps
    // Enough other numbers to compact the log.
    for (uint64_t s = 1; s <= 400; ++s) ASSERT_EQ(publish(*c, "u", s), V::fresh);
    ASSERT_TRUE(c->log->flush(false).ok());
    ASSERT_GT(c->log->stats().compactions, 0u);
  }
  auto c = open(opts(4096));
  EXPECT_EQ(c->seq.stats().missing_now, 2u);  // 10 and 11
  std::vector<Gap> gaps;
  c->seq.expire(0, gaps);
  EXPECT_TRUE(gaps.empty()) << "reported before the restart, not again";
  for (uint64_t s : {3, 6, 10}) {
    EXPECT_EQ(publish(*c, "t", s), V::fresh) << s;
    EXPECT_EQ(publish(*c, "t", s), V::duplicate) << s;
  }
  EXPECT_EQ(publish(*c, "t", 7), V::duplicate);
  EXPECT_EQ(publish(*c, "u", 400), V::duplicate);
  EXPECT_EQ(c->seq.stats().missing_now, 1u);  // 11
  ASSERT_TRUE(c->log->flush(false).ok());
  // Compacted again, and read back once more.
  for (uint64_t s = 401; s <= 800; ++s) ASSERT_EQ(publish(*c, "u", s), V::fresh);
  ASSERT_TRUE(c->log->flush(false).ok());
  c.reset();
  c = open(opts(4096));
  EXPECT_EQ(publish(*c, "t", 2), V::fresh);
  EXPECT_EQ(publish(*c, "t", 3), V::duplicate);
  EXPECT_EQ(publish(*c, "t", 8), V::fresh);
}

TEST_F(TelemetrySeqLog, AFailedPublishMakesTheNumberFreshAgain) {
  SeqTracker t;
  std::vector<Gap> gaps;
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_EQ(t.accept("e", "t", 1, s, 0, gaps), V::fresh);
  t.forget("e", "t", 1, 2, 0);
  EXPECT_EQ(t.stats().missing_now, 1u);
  EXPECT_EQ(t.accept("e", "t", 1, 2, 0, gaps), V::fresh);
  EXPECT_EQ(t.accept("e", "t", 1, 2, 0, gaps), V::duplicate);
  EXPECT_EQ(t.stats().missing_now, 0u);
}

TEST_F(TelemetrySeqLog, BadDirectoryIsAClearError) {
  SeqTracker t;
  SeqLogOptions o;
  o.dir = "";
  EXPECT_FALSE(SeqLog::open(o, t, 0).ok());
  o.dir = dir_ + "/no/such/parent";
  Result<std::unique_ptr<SeqLog>> r = SeqLog::open(o, t, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.message.find("mkdir"), std::string::npos) << r.error.message;
}

}  // namespace
}  // namespace srdx::telemetry
