#include "hdr_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace srdx::ctl {

namespace {
constexpr uint64_t kSub = uint64_t{1} << LogLinearHistogram::kSubBits;
}

size_t LogLinearHistogram::bucket_of(uint64_t v) {
  if (v < kLinear) return static_cast<size_t>(v);
  const unsigned k = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits + 1
  if (k >= kMaxBits) return kBuckets - 1;
  const uint64_t sub = (v >> (k - kSubBits)) - kSub;  // 0..63
  return static_cast<size_t>(kLinear + (k - (kSubBits + 1)) * kSub + sub);
}

uint64_t LogLinearHistogram::bucket_low(size_t i) {
  if (i < kLinear) return i;
  const uint64_t j = i - kLinear;
  const unsigned k = static_cast<unsigned>(j / kSub) + kSubBits + 1;
  return (kSub + j % kSub) << (k - kSubBits);
}

uint64_t LogLinearHistogram::bucket_width(size_t i) {
  if (i < kLinear) return 1;
  const unsigned k = static_cast<unsigned>((i - kLinear) / kSub) + kSubBits + 1;
  return uint64_t{1} << (k - kSubBits);
}

void LogLinearHistogram::merge(const LogLinearHistogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t LogLinearHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  const double want = std::ceil(std::clamp(p, 0.0, 1.0) * static_cast<double>(count_));
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(want), 1, count_);
  // The lowest and the highest rank are exact; so is the overflow bucket's top.
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      if (i == kBuckets - 1) return max_;
      const uint64_t mid = bucket_low(i) + bucket_width(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace srdx::ctl
