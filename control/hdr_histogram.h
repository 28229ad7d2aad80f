// A fixed-size HDR-style histogram of non-negative integers (RTTs in ns).
//
// Log-linear buckets: values below 128 each have their own bucket; above,
// every power of two [2^k, 2^(k+1)) is split into 64 equal sub-buckets, so a
// bucket is at most 1/64 of its lowest value wide and its midpoint is within
// 1/128 (0.78%) of any value in it. Values of 2^36 and more (68.7 s in ns)
// share the last bucket; min and max stay exact. Memory is constant
// (kBuckets counters, about 16 KB), record() is O(1) and never allocates.
//
// Not thread-safe: the owner locks (record() is a few instructions).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace srdx::ctl {

class LogLinearHistogram {
 public:
  static constexpr unsigned kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr unsigned kMaxBits = 36;
  static constexpr uint64_t kLinear = uint64_t{2} << kSubBits;  // 128 exact buckets
  static constexpr size_t kBuckets =
      kLinear + (kMaxBits - (kSubBits + 1)) * (size_t{1} << kSubBits);

  void record(uint64_t v) {
    ++counts_[bucket_of(v)];
    ++count_;
    sum_ += static_cast<double>(v);
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  // Adds o's values to this one.
  void merge(const LogLinearHistogram& o);
  void reset() { *this = LogLinearHistogram{}; }

  uint64_t count() const { return count_; }
  // 0 when empty.
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // Nearest-rank percentile, p in [0, 1]: the midpoint of the bucket holding
  // the value of rank ceil(p * count), clamped to [min, max] (so p = 1 is the
  // exact max); within 1% of the exact value. 0 when empty.
  uint64_t percentile(double p) const;

  static size_t bucket_of(uint64_t v);
  // The lowest value of bucket i and its width.
  static uint64_t bucket_low(size_t i);
  static uint64_t bucket_width(size_t i);
  uint64_t bucket_count(size_t i) const { return counts_[i]; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace srdx::ctl
