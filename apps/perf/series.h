// Raw series that srdx-perf and srdx-tcpperf write next to their summary, so
// that a benchmark can draw full CDFs and goodput over time (srdx-bench):
//
//   write_samples(): every latency sample, one per line, in microseconds.
//   Timeline: bytes per fixed interval, one "UNIX_TIME_S BYTES" line per
//   interval, the time being the interval's start on the wall clock, so that
//   two processes' timelines and an event logged by a script (a path dying)
//   line up.
//
// Header-only and free of srdx types: srdx-tcpperf shares it.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace srdx::perf {

inline int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Creates `path` and lets `fill` write it. Returns "" or the reason it could not.
template <typename Fill>
std::string write_file(const std::string& path, Fill&& fill) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return "cannot write " + path + ": " + std::strerror(errno);
  fill(f);
  const bool ok = std::fflush(f) == 0 && !std::ferror(f);
  std::fclose(f);
  return ok ? "" : "cannot write " + path + ": " + std::strerror(errno);
}

// Writes `path` with one line per value, times `to_us` (microseconds, three
// decimals), in the order given. Returns "" or the reason it could not.
template <typename T>
std::string write_samples(const std::string& path, const std::vector<T>& values, double to_us) {
  return write_file(path, [&](std::FILE* f) {
    for (const T& v : values) std::fprintf(f, "%.3f\n", static_cast<double>(v) * to_us);
  });
}

// Bytes per interval from construction on; add() may be called from several
// threads. Time is CLOCK_MONOTONIC nanoseconds (what srdx's loop clock and
// std::chrono::steady_clock read on Linux).
class Timeline {
 public:
  // `span_ns` bounds the run (its timeout); later bytes count in the last
  // interval, which write() then says.
  Timeline(int64_t interval_ns, int64_t span_ns)
      : interval_(std::max<int64_t>(interval_ns, 1000)),
        start_mono_(clock_ns(CLOCK_MONOTONIC)),
        start_unix_(clock_ns(CLOCK_REALTIME)) {
    const int64_t n = std::clamp<int64_t>(span_ns / interval_ + 2, 2, kMaxIntervals);
    count_ = static_cast<size_t>(n);
    bytes_ = std::make_unique<std::atomic<uint64_t>[]>(count_);
    for (size_t i = 0; i < count_; ++i) bytes_[i].store(0, std::memory_order_relaxed);
  }

  void add(int64_t mono_ns, uint64_t bytes) {
    const int64_t i = (mono_ns - start_mono_) / interval_;
    const size_t at =
        static_cast<size_t>(std::clamp<int64_t>(i, 0, static_cast<int64_t>(count_) - 1));
    bytes_[at].fetch_add(bytes, std::memory_order_relaxed);
    size_t seen = last_.load(std::memory_order_relaxed);
    while (at > seen && !last_.compare_exchange_weak(seen, at, std::memory_order_relaxed)) {
    }
  }

  // "# comment" header lines, then one line per interval from the first up to
  // the last that saw bytes. Returns "" or the reason it could not.
  std::string write(const std::string& path, const std::string& what) const {
    return write_file(path, [&](std::FILE* f) { write_to(f, what); });
  }

  static constexpr int64_t kMaxIntervals = int64_t{1} << 23;

 private:
  void write_to(std::FILE* f, const std::string& what) const {
    std::fprintf(f, "# %s\n# interval_s %.6f\n# columns: unix_time_s bytes\n", what.c_str(),
                 static_cast<double>(interval_) / 1e9);
    const size_t last = last_.load(std::memory_order_relaxed);
    for (size_t i = 0; i <= last && i < count_; ++i) {
      const int64_t t = start_unix_ + static_cast<int64_t>(i) * interval_;
      std::fprintf(f, "%lld.%06lld %llu\n", static_cast<long long>(t / 1000000000),
                   static_cast<long long>(t % 1000000000 / 1000),
                   static_cast<unsigned long long>(bytes_[i].load(std::memory_order_relaxed)));
    }
    if (last + 1 == count_) std::fprintf(f, "# the last interval also holds every later byte\n");
  }

  int64_t interval_, start_mono_, start_unix_;
  size_t count_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> bytes_;
  std::atomic<size_t> last_{0};
};

}  // namespace srdx::perf
