// Text formatting for srdxctl: aligned tables, durations in microseconds,
// byte counts, ratios, and flattened counter trees. Pure functions, so the
// control suite tests them without a daemon.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace srdx::cli {

// Columns padded to their widest cell, two spaces apart; the first column is
// left-aligned and the others right-aligned (they hold numbers).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Left-align this column too (names and states rather than numbers).
  void align_left(size_t column) { left_.push_back(column); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> left_;
};

// 18.2 us, 1.53 ms, 2.10 s; "-" for a missing value.
std::string format_us(const nlohmann::json& micros);
std::string format_us(std::optional<double> micros);
// 64 B, 12.0 KiB, 3.5 MiB.
std::string format_bytes(const nlohmann::json& bytes);
// 5.2x, 0.28x, 123x; "-" when missing (the daemon sends null when srdx's value is 0).
std::string format_ratio(const nlohmann::json& ratio);
// Whole numbers as integers, other numbers with up to 3 decimals, strings
// as they are, booleans yes/no, null as "-".
std::string format_value(const nlohmann::json& v);
// 3723 -> 1h02m03s.
std::string format_uptime(const nlohmann::json& seconds);

// {"a":{"b":1,"c":{"d":2}}} -> [("a.b","1"), ("a.c.d","2")], in key order.
std::vector<std::pair<std::string, std::string>> flatten(const nlohmann::json& tree);

// Quantile table of a probe: rows p50/p90/p99/p99.9/max (plus count and
// lost), one column per transport present, and tcp/srdx when both are
// present; "nothing measured" when there is no result yet (a probe cancelled
// before its first round trip). `probe` is the daemon's GET /v1/probes/{id}
// object, finished or not (a cancelled probe keeps its partial results).
std::string probe_table(const nlohmann::json& probe);

// "340/1000": round trips done (per transport) out of the requested count.
std::string probe_progress(const nlohmann::json& probe);

// The line above a probe's table, saying what was asked and where it stands:
//   probe 7 to b: 1000 x 64 B round trips, both, done
//   probe 7 to b: 1000 x 64 B round trips 1000 us apart, both, running (340/1000 done)
//   probe 7 to b: 1000 x 64 B round trips, both, cancelled after 340/1000
//   probe 7 to b: 1000 x 64 B round trips, srdx, failed after 12/1000: peer b is down
std::string probe_heading(const nlohmann::json& probe);

}  // namespace srdx::cli
