// LogLinearHistogram: percentiles within 1% of the exact nearest-rank ones
// over random distributions, merge, min/max/count/mean, constant size.
#include "hdr_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace srdx::ctl {
namespace {

uint64_t exact(std::vector<uint64_t>& v, double p) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

void expect_within_1pct(const LogLinearHistogram& h, std::vector<uint64_t> v) {
  for (double p : {0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const double want = static_cast<double>(exact(v, p));
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_LE(std::abs(got - want), 0.01 * want) << "p=" << p << " want " << want << " got " << got;
  }
}

TEST(LogLinearHistogram, BucketsCoverEveryValueOnce) {
  for (size_t i = 1; i < LogLinearHistogram::kBuckets; ++i) {
    EXPECT_EQ(LogLinearHistogram::bucket_low(i),
              LogLinearHistogram::bucket_low(i - 1) + LogLinearHistogram::bucket_width(i - 1))
        << i;
  }
  for (size_t i = 0; i < LogLinearHistogram::kBuckets - 1; ++i) {
    const uint64_t lo = LogLinearHistogram::bucket_low(i);
    const uint64_t w = LogLinearHistogram::bucket_width(i);
    EXPECT_EQ(LogLinearHistogram::bucket_of(lo), i);
    EXPECT_EQ(LogLinearHistogram::bucket_of(lo + w - 1), i);
    // At most 1/64 of its lowest value wide: the midpoint is within 1%.
    if (lo >= LogLinearHistogram::kLinear) {
      EXPECT_LE(w * 64, lo);
    }
  }
  EXPECT_EQ(LogLinearHistogram::bucket_of(~uint64_t{0}), LogLinearHistogram::kBuckets - 1);
}

TEST(LogLinearHistogram, PercentilesWithinOnePercentOverRandomDistributions) {
  std::mt19937_64 rng(17);
  std::lognormal_distribution<double> lognormal(std::log(30e3), 0.8);  // RTTs around 30 us
  std::exponential_distribution<double> expo(1.0 / 200e3);
  std::uniform_int_distribution<uint64_t> uniform(0, 5'000'000'000ull);
  std::uniform_int_distribution<uint64_t> tiny(0, 300);
  for (int dist = 0; dist < 4; ++dist) {
    for (size_t n : {1u, 7u, 1000u, 100000u}) {
      LogLinearHistogram h;
      std::vector<uint64_t> v;
      for (size_t i = 0; i < n; ++i) {
        uint64_t x = dist == 0   ? static_cast<uint64_t>(lognormal(rng))
                     : dist == 1 ? static_cast<uint64_t>(expo(rng))
                     : dist == 2 ? uniform(rng)
                                 : tiny(rng);
        v.push_back(x);
        h.record(x);
      }
      SCOPED_TRACE("dist " + std::to_string(dist) + " n " + std::to_string(n));
      expect_within_1pct(h, v);
      EXPECT_EQ(h.count(), n);
      EXPECT_EQ(h.min(), *std::min_element(v.begin(), v.end()));
      EXPECT_EQ(h.max(), *std::max_element(v.begin(), v.end()));
      double sum = 0;
      for (uint64_t x : v) sum += static_cast<double>(x);
      EXPECT_NEAR(h.mean(), sum / static_cast<double>(n), 1e-9 * sum / static_cast<double>(n));
    }
  }
}

TEST(LogLinearHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> a(std::log(20e3), 0.5), b(std::log(900e3), 1.0);
  LogLinearHistogram ha, hb, all;
  std::vector<uint64_t> v;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = static_cast<uint64_t>(a(rng)), y = static_cast<uint64_t>(b(rng));
    ha.record(x);
    hb.record(y);
    all.record(x);
    all.record(y);
    v.push_back(x);
    v.push_back(y);
  }
  ha.merge(hb);
  EXPECT_EQ(ha.count(), all.count());
  EXPECT_EQ(ha.min(), all.min());
  EXPECT_EQ(ha.max(), all.max());
  EXPECT_DOUBLE_EQ(ha.mean(), all.mean());
  for (size_t i = 0; i < LogLinearHistogram::kBuckets; ++i)
    ASSERT_EQ(ha.bucket_count(i), all.bucket_count(i)) << i;
  expect_within_1pct(ha, v);
}

TEST(LogLinearHistogram, EmptyAndHugeValues) {
  LogLinearHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  h.record(~uint64_t{0});
  h.record(0);
  EXPECT_EQ(h.max(), ~uint64_t{0});
  EXPECT_EQ(h.percentile(1.0), ~uint64_t{0});
  EXPECT_EQ(h.percentile(0.5), 0u);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
}

TEST(LogLinearHistogram, ConstantSize) {
  // The size is what the type says, whatever was recorded: about 16 KB.
  static_assert(sizeof(LogLinearHistogram) < 17 * 1024);
  LogLinearHistogram h;
  for (uint64_t i = 0; i < 2'000'000; ++i) h.record(i * 7919);
  EXPECT_EQ(h.count(), 2'000'000u);
}

}  // namespace
}  // namespace srdx::ctl
