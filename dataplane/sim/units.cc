#include "sim/units.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace srdx::sim {

namespace {

// Splits "1.5ms" into 1.5 and "ms". False when there is no number.
bool split_number(std::string_view text, double& value, std::string_view& unit) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  size_t i = 0;
  bool digits = false;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) {
    digits = digits || text[i] != '.';
    i++;
  }
  if (!digits) return false;
  const std::string num(text.substr(0, i));
  char* end = nullptr;
  value = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(value)) return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return true;
}

// Built by appending: g++ 12 at -O3 reports a false -Wrestrict on
// "'" + std::string(...) (GCC bug 105651).
std::string quote(std::string_view text) {
  std::string q;
  q.reserve(text.size() + 2);
  q += '\'';
  q += text;
  q += '\'';
  return q;
}

}  // namespace

std::string parse_rate(std::string_view text, uint64_t& bps) {
  const std::string accepted =
      "accepted: a number with an optional k/M/G/T suffix "
      "(bits/s, powers of 1000), e.g. 10G, 200M, 1.5Gbit; 0 = unlimited";
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return "not a rate: " + quote(text) + "; " + accepted;
  double mult = 1;
  if (!unit.empty()) {
    switch (unit.front()) {
      case 'k':
      case 'K':
        mult = 1e3;
        unit.remove_prefix(1);
        break;
      case 'm':
      case 'M':
        mult = 1e6;
        unit.remove_prefix(1);
        break;
      case 'g':
      case 'G':
        mult = 1e9;
        unit.remove_prefix(1);
        break;
      case 't':
      case 'T':
        mult = 1e12;
        unit.remove_prefix(1);
        break;
      default:
        break;
    }
  }
  if (!(unit.empty() || unit == "bit" || unit == "bps" || unit == "b/s" || unit == "bit/s" ||
        unit == "b")) {
    return "unknown rate unit in " + quote(text) + "; " + accepted;
  }
  const double r = v * mult;
  if (r > 1e15) return "rate too large: " + quote(text) + "; at most 1000T";
  if (r != 0 && r < 1000) return "rate too small: " + quote(text) + "; at least 1k (or 0)";
  bps = static_cast<uint64_t>(std::llround(r));
  return {};
}

std::string parse_duration(std::string_view text, Duration& out) {
  const std::string accepted = "accepted: a number with a unit ns, us, ms or s, e.g. 10us, 1.5ms";
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return "not a duration: " + quote(text) + "; " + accepted;
  double ns_per = 0;
  if (unit == "ns") {
    ns_per = 1;
  } else if (unit == "us" || unit == "\u00b5s") {
    ns_per = 1e3;
  } else if (unit == "ms") {
    ns_per = 1e6;
  } else if (unit == "s") {
    ns_per = 1e9;
  } else if (unit.empty() && v == 0) {
    ns_per = 1;
  } else {
    return (unit.empty() ? "missing unit in " : "unknown unit in ") + quote(text) + "; " + accepted;
  }
  const double ns = v * ns_per;
  if (ns > 9e18) return "duration too long: " + quote(text);
  out = Duration::nanos(std::llround(ns));
  return {};
}

std::string parse_size(std::string_view text, uint64_t& bytes) {
  const std::string accepted =
      "accepted: bytes with an optional suffix KiB/MiB/GiB (or K/M/G, also powers of 1024) "
      "or kB/MB/GB (powers of 1000), e.g. 1500, 64KiB, 1M";
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return "not a size: " + quote(text) + "; " + accepted;
  double mult = 0;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "k" || unit == "KiB" || unit == "Ki")
    mult = 1024.0;
  else if (unit == "M" || unit == "MiB" || unit == "Mi")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB" || unit == "Gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "kB" || unit == "KB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  else
    return "unknown size unit in " + quote(text) + "; " + accepted;
  const double b = v * mult;
  if (b > 1e15) return "size too large: " + quote(text);
  if (b != std::floor(b)) return "not a whole number of bytes: " + quote(text);
  bytes = static_cast<uint64_t>(b);
  return {};
}

std::string parse_probability(std::string_view text, double& p) {
  const std::string accepted = "accepted: a fraction in [0, 1] or a percentage, e.g. 0.01 or 1%";
  double v = 0;
  std::string_view unit;
  if (!split_number(text, v, unit)) return "not a probability: " + quote(text) + "; " + accepted;
  if (unit == "%") {
    v /= 100.0;
  } else if (!unit.empty()) {
    return "unexpected " + quote(unit) + " in " + quote(text) + "; " + accepted;
  }
  if (v < 0 || v > 1) return "out of range: " + quote(text) + "; " + accepted;
  p = v;
  return {};
}

std::string parse_blackhole(std::string_view text, uint32_t& path, Duration& start, Duration& end) {
  Directions dir = Directions::both;
  const std::string accepted = "accepted: PATH@START or PATH@START-END, e.g. 2@5ms or 2@5ms-20ms";
  const size_t at = text.find('@');
  const std::string_view head = text.substr(0, at);
  if (head.find(':') != std::string_view::npos || head == "all") {
    return "no direction or 'all' here in " + quote(text) + "; " + accepted;
  }
  return parse_blackhole(text, path, dir, start, end);
}

std::string parse_blackhole(std::string_view text, uint32_t& path, Directions& dir, Duration& start,
                            Duration& end) {
  const std::string accepted =
      "accepted: [PATH|all][:a2b|:b2a]@START[-END], e.g. 2@5ms, 2@5ms-20ms, all:a2b@10ms-300ms";
  const size_t at = text.find('@');
  if (at == std::string_view::npos || at == 0) {
    return "expected PATH@TIME in " + quote(text) + "; " + accepted;
  }
  std::string_view p = text.substr(0, at);
  dir = Directions::both;
  if (const size_t colon = p.find(':'); colon != std::string_view::npos) {
    const std::string_view d = p.substr(colon + 1);
    if (d == "a2b" || d == "a_to_b") {
      dir = Directions::a_to_b;
    } else if (d == "b2a" || d == "b_to_a") {
      dir = Directions::b_to_a;
    } else if (d != "both") {
      return "bad direction in " + quote(text) + "; " + accepted;
    }
    p = p.substr(0, colon);
  }
  if (p == "all") {
    path = kAllPaths;
  } else {
    uint64_t v = 0;
    if (p.empty()) return "bad path number in " + quote(text) + "; " + accepted;
    for (char c : p) {
      if (c < '0' || c > '9' || v > 100000)
        return "bad path number in " + quote(text) + "; " + accepted;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    path = static_cast<uint32_t>(v);
  }
  std::string_view times = text.substr(at + 1);
  const size_t dash = times.find('-');
  if (std::string err = parse_duration(times.substr(0, dash), start); !err.empty()) {
    return "bad start time in " + quote(text) + ": " + err;
  }
  end = Duration::infinite();
  if (dash != std::string_view::npos) {
    if (std::string err = parse_duration(times.substr(dash + 1), end); !err.empty()) {
      return "bad end time in " + quote(text) + ": " + err;
    }
    if (end <= start) return "end before start in " + quote(text) + "; " + accepted;
  }
  return {};
}

std::string_view to_string(Directions d) {
  switch (d) {
    case Directions::both:
      return "both";
    case Directions::a_to_b:
      return "a_to_b";
    case Directions::b_to_a:
      return "b_to_a";
  }
  return "?";
}

std::string format_rate(double bps) {
  char buf[64];
  if (bps >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2f Gbit/s", bps / 1e9);
  else if (bps >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f Mbit/s", bps / 1e6);
  else if (bps >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2f kbit/s", bps / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f bit/s", bps);
  return buf;
}

std::string format_duration(Duration d) {
  char buf[64];
  const auto ns = static_cast<double>(d.ns());
  if (d == Duration::infinite()) return "never";
  if (ns >= 1e9)
    std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
  else if (ns >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3f ms", ns / 1e6);
  else if (ns >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1f us", ns / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f ns", ns);
  return buf;
}

std::string format_size(uint64_t bytes) {
  char buf[64];
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
    std::snprintf(buf, sizeof buf, "%llu GiB", static_cast<unsigned long long>(bytes >> 30));
  else if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
    std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  else if (bytes >= (1ull << 10) && bytes % (1ull << 10) == 0)
    std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(bytes >> 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string parse_uint(std::string_view text, uint64_t min, uint64_t max, uint64_t& out) {
  const std::string t(text);
  const std::string accepted = "; accepted " + std::to_string(min) + ".." + std::to_string(max);
  if (t.empty()) return "empty; expected a whole number" + accepted;
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return quote(t) + " is not a whole number" + accepted;
    if (v > (UINT64_MAX - static_cast<uint64_t>(c - '0')) / 10) {
      return quote(t) + " is out of range" + accepted;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) return quote(t) + " is out of range" + accepted;
  out = v;
  return {};
}

std::string parse_ipv4(std::string_view text, uint32_t& ip) {
  const std::string t(text);
  in_addr a{};
  if (inet_pton(AF_INET, t.c_str(), &a) != 1) {
    return quote(t) + " is not an IPv4 address; accepted: a.b.c.d";
  }
  ip = ntohl(a.s_addr);
  return {};
}

std::string parse_addr(std::string_view text, Addr& out) {
  const std::string t(text);
  const size_t colon = t.rfind(':');
  if (colon == std::string::npos)
    return quote(t) + " is not IP:PORT; accepted e.g. 198.18.1.1:47000";
  Addr a;
  const std::string ip = t.substr(0, colon);
  if (!parse_ipv4(ip, a.ip).empty()) {
    return quote(t) + ": " + quote(ip) + " is not an IPv4 address; accepted: IP:PORT";
  }
  uint64_t port = 0;
  if (std::string err = parse_uint(t.substr(colon + 1), 1, 65535, port); !err.empty()) {
    return quote(t) + ": port " + err;
  }
  a.port = static_cast<uint16_t>(port);
  out = a;
  return {};
}

std::string format_addr(Addr a) {
  return std::to_string(a.ip >> 24) + "." + std::to_string((a.ip >> 16) & 255) + "." +
         std::to_string((a.ip >> 8) & 255) + "." + std::to_string(a.ip & 255) + ":" +
         std::to_string(a.port);
}

std::string parse_mac(std::string_view text, std::array<uint8_t, 6>& mac) {
  const std::string t(text);
  unsigned b[6];
  char extra = 0;
  if (std::sscanf(t.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &extra) != 6) {
    return quote(t) + " is not a MAC address; accepted: aa:bb:cc:dd:ee:ff";
  }
  for (size_t i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(b[i]);
  return {};
}

std::vector<std::string> split_words(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace srdx::sim
