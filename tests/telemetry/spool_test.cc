#include "telemetry/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace srdx::telemetry {
namespace {

class TelemetrySpool : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/srdx-spool-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SpoolOptions opts(uint64_t max = 1 << 20, uint64_t seg = 4096) {
    SpoolOptions o;
    o.dir = dir_;
    o.max_bytes = max;
    o.segment_bytes = seg;
    return o;
  }
  std::unique_ptr<Spool> open_ok(const SpoolOptions& o) {
    Result<std::unique_ptr<Spool>> s = Spool::open(o);
    EXPECT_TRUE(s.ok()) << s.error.message;
    return std::move(s.value);
  }
  static Record rec(uint64_t seq, size_t payload = 20) {
    Record r;
    r.topic = "turbine/" + std::to_string(seq % 3) + "/temperature";
    r.payload.assign(payload, static_cast<uint8_t>('0' + seq % 10));
    r.qos = 1;
    r.seq = seq;
    r.publish_ns = seq * 1000;
    return r;
  }
  size_t segment_files() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      n += e.path().filename().string().rfind("seg-", 0) == 0 ? 1 : 0;
    }
    return n;
  }
  std::string dir_;
};

TEST_F(TelemetrySpool, EpochCountsStarts) {
  EXPECT_EQ(open_ok(opts())->epoch(), 1u);
  EXPECT_EQ(open_ok(opts())->epoch(), 2u);
  EXPECT_EQ(open_ok(opts())->epoch(), 3u);
}

TEST_F(TelemetrySpool, AckedSegmentsAreDeleted) {
  auto s = open_ok(opts());
  std::vector<uint64_t> rids;
  for (uint64_t i = 1; i <= 300; ++i) {
    Result<uint64_t> r = s->append(1, rec(i), false);
    ASSERT_TRUE(r.ok()) << r.error.message;
    rids.push_back(r.value);
  }
  EXPECT_GT(s->stats().segments, 3u);
  EXPECT_EQ(s->stats().pending, 300u);
  EXPECT_EQ(s->stats().backlog, 0u);
  // Acks out of order; every full segment but the one being written goes.
  for (size_t i = rids.size(); i-- > 0;) s->ack(rids[i]);
  EXPECT_EQ(s->stats().pending, 0u);
  EXPECT_EQ(s->stats().segments, 1u);
  EXPECT_EQ(segment_files(), 1u);
  EXPECT_LT(s->stats().bytes, 4096u);
}

TEST_F(TelemetrySpool, RecoversEverythingUnackedInOrderAfterACrash) {
  {
    auto s = open_ok(opts());
    for (uint64_t i = 1; i <= 200; ++i) {
      Result<uint64_t> r = s->append(1, rec(i), i % 2 == 0);
      ASSERT_TRUE(r.ok());
      if (i <= 150) s->ack(r.value);
    }
    // Destroyed without sync: the data is in the page cache, as after kill -9.
  }
  auto s = open_ok(opts());
  EXPECT_EQ(s->epoch(), 2u);
  // Acks are not persisted: what comes back is every record of the segments
  // not yet deleted, a suffix of what was appended that holds all the
  // unacknowledged ones (151..200), in order.
  const uint64_t n = s->stats().recovered;
  EXPECT_GE(n, 50u);
  EXPECT_LT(n, 150u);
  EXPECT_EQ(s->stats().backlog, n);
  Result<std::vector<Spooled>> b = s->take_backlog(1000, 1 << 20);
  ASSERT_TRUE(b.ok()) << b.error.message;
  ASSERT_EQ(b.value.size(), n);
  for (size_t i = 0; i < b.value.size(); ++i) {
    EXPECT_EQ(b.value[i].epoch, 1u);
    EXPECT_EQ(b.value[i].rec, rec(201 - n + i));
    if (i > 0) {
      EXPECT_GT(b.value[i].rid, b.value[i - 1].rid);
    }
  }
  // New appends after recovery come after the recovered ones.
  Result<uint64_t> r = s->append(2, rec(1), true);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r.value, b.value.back().rid);
}

TEST_F(TelemetrySpool, TornTailIsCutOff) {
  {
    auto s = open_ok(opts(1 << 20, 1 << 16));
    for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(s->append(1, rec(i), true).ok());
  }
  std::string seg;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("seg-", 0) == 0 && std::filesystem::file_size(e.path()) > 0) seg = e.path();
  }
  ASSERT_FALSE(seg.empty());
  const auto size = std::filesystem::file_size(seg);
  std::filesystem::resize_file(seg, size - 5);  // the last frame loses its end
  {
    // A flipped byte in the middle cuts there too (crc).
    auto s = open_ok(opts(1 << 20, 1 << 16));
    EXPECT_EQ(s->stats().recovered, 9u);
    EXPECT_GT(s->stats().torn_bytes, 0u);
    Result<std::vector<Spooled>> b = s->take_backlog(100, 1 << 20);
    ASSERT_TRUE(b.ok());
    ASSERT_EQ(b.value.size(), 9u);
    EXPECT_EQ(b.value.back().rec, rec(9));
  }
  const int fd = ::open(seg.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint8_t x = 0xAA;
  ASSERT_EQ(::pwrite(fd, &x, 1, 200), 1);
  ::close(fd);
  auto s = open_ok(opts(1 << 20, 1 << 16));
  EXPECT_LT(s->stats().recovered, 9u);
}

TEST_F(TelemetrySpool, FullSpoolRefusesAndCounts) {
  auto s = open_ok(opts(8192, 4096));
  size_t ok = 0;
  Result<uint64_t> r;
  for (uint64_t i = 1; i <= 1000; ++i) {
    r = s->append(1, rec(i, 100), true);
    if (!r.ok()) break;
    ++ok;
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error.code, Errc::full);
  EXPECT_NE(r.error.message.find("spool full"), std::string::npos);
  EXPECT_GT(ok, 40u);
  EXPECT_LE(s->stats().bytes, 8192u);
  EXPECT_EQ(s->stats().full_refusals, 1u);
  // Draining and acknowledging makes room again.
  Result<std::vector<Spooled>> b = s->take_backlog(1000, 1 << 20);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value.size(), ok);
  for (const Spooled& x : b.value) s->ack(x.rid);
  EXPECT_TRUE(s->append(1, rec(1, 100), true).ok());
}

TEST_F(TelemetrySpool, BacklogInOrderWithNacksAndLimits) {
  auto s = open_ok(opts());
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(s->append(1, rec(i), true).ok());
  Result<std::vector<Spooled>> a = s->take_backlog(3, 1 << 20);
  ASSERT_EQ(a.value.size(), 3u);
  // A byte budget smaller than one record still yields one.
  Result<std::vector<Spooled>> b = s->take_backlog(100, 1);
  ASSERT_EQ(b.value.size(), 1u);
  EXPECT_EQ(b.value[0].rec.seq, 4u);
  // A failed send goes back ahead of the rest.
  s->nack(a.value[1].rid);
  Result<std::vector<Spooled>> c = s->take_backlog(100, 1 << 20);
  ASSERT_EQ(c.value.size(), 7u);
  EXPECT_EQ(c.value[0].rec.seq, 2u);
  EXPECT_EQ(c.value[1].rec.seq, 5u);
  EXPECT_EQ(s->stats().backlog, 0u);
  EXPECT_EQ(s->stats().pending, 10u);
  EXPECT_TRUE(s->sync().ok());
}

TEST_F(TelemetrySpool, FsyncAlwaysAndBadOptions) {
  SpoolOptions o = opts();
  o.fsync = FsyncPolicy::always;
  auto s = open_ok(o);
  EXPECT_TRUE(s->append(1, rec(1), true).ok());
  o.segment_bytes = 10;
  Result<std::unique_ptr<Spool>> bad = Spool::open(o);
  EXPECT_EQ(bad.error.code, Errc::invalid);
  o = opts();
  o.dir = dir_ + "/no/such/parent";
  bad = Spool::open(o);
  EXPECT_EQ(bad.error.code, Errc::io);
  EXPECT_NE(bad.error.message.find("no/such/parent"), std::string::npos);
}

}  // namespace
}  // namespace srdx::telemetry
