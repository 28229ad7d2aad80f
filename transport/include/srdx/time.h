// Strong time types for the sans-I/O core.
//
// The transport never reads a clock: every entry point takes `Time now` from
// the caller (the dataplane's poll loop, the simulator, or a test). Time and
// Duration are distinct types so that a point in time cannot be passed where
// a length of time is meant.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace srdx {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration nanos(int64_t n) { return Duration(n); }
  static constexpr Duration micros(int64_t us) { return Duration(us * 1000); }
  static constexpr Duration millis(int64_t ms) { return Duration(ms * 1000000); }
  static constexpr Duration seconds(int64_t s) { return Duration(s * 1000000000); }
  static constexpr Duration zero() { return Duration(0); }
  static constexpr Duration infinite() { return Duration(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t ns() const { return ns_; }
  constexpr double us() const { return static_cast<double>(ns_) / 1e3; }
  constexpr double sec() const { return static_cast<double>(ns_) / 1e9; }

  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator*(int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(ns_ / k); }
  constexpr Duration& operator+=(Duration o) {
    ns_ += o.ns_;
    return *this;
  }
  constexpr Duration& operator-=(Duration o) {
    ns_ -= o.ns_;
    return *this;
  }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(int64_t n) : ns_(n) {}
  int64_t ns_ = 0;
};

// A point in time: nanoseconds since an arbitrary origin chosen by whoever
// owns the clock. Only differences between two Times mean anything.
class Time {
 public:
  constexpr Time() = default;
  static constexpr Time from_ns(int64_t n) { return Time(n); }
  static constexpr Time zero() { return Time(0); }
  // "Never": the value of next_deadline() when nothing is pending.
  static constexpr Time infinite() { return Time(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t ns() const { return ns_; }
  constexpr bool is_infinite() const { return ns_ == std::numeric_limits<int64_t>::max(); }

  constexpr Time operator+(Duration d) const {
    if (is_infinite() || d == Duration::infinite()) return infinite();
    return Time(ns_ + d.ns());
  }
  constexpr Time operator-(Duration d) const { return Time(ns_ - d.ns()); }
  constexpr Duration operator-(Time o) const { return Duration::nanos(ns_ - o.ns_); }
  constexpr Time& operator+=(Duration d) {
    *this = *this + d;
    return *this;
  }
  constexpr auto operator<=>(const Time&) const = default;

 private:
  constexpr explicit Time(int64_t n) : ns_(n) {}
  int64_t ns_ = 0;
};

constexpr Time min(Time a, Time b) { return a < b ? a : b; }
constexpr Time max(Time a, Time b) { return a < b ? b : a; }
constexpr Duration min(Duration a, Duration b) { return a < b ? a : b; }
constexpr Duration max(Duration a, Duration b) { return a < b ? b : a; }

namespace literals {
constexpr Duration operator""_ns(unsigned long long v) {
  return Duration::nanos(static_cast<int64_t>(v));
}
constexpr Duration operator""_us(unsigned long long v) {
  return Duration::micros(static_cast<int64_t>(v));
}
constexpr Duration operator""_ms(unsigned long long v) {
  return Duration::millis(static_cast<int64_t>(v));
}
constexpr Duration operator""_s(unsigned long long v) {
  return Duration::seconds(static_cast<int64_t>(v));
}
}  // namespace literals

}  // namespace srdx
