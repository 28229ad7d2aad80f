#include "ctl/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace srdx::cli {

using nlohmann::json;

namespace {

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::optional<double> number(const json& v) {
  if (v.is_number()) return v.get<double>();
  return std::nullopt;
}

}  // namespace

std::string Table::render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      const std::string pad(width[i] - cell.size(), ' ');
      const bool left = i == 0 || std::find(left_.begin(), left_.end(), i) != left_.end();
      if (i > 0) line += "  ";
      line += left ? cell + pad : pad + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(header_);
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string format_us(std::optional<double> micros) {
  if (!micros) return "-";
  const double us = *micros;
  if (us < 10'000) return printf_string("%.1f us", us);
  if (us < 10'000'000) return printf_string("%.2f ms", us / 1e3);
  return printf_string("%.2f s", us / 1e6);
}

std::string format_us(const json& micros) { return format_us(number(micros)); }

std::string format_bytes(const json& bytes) {
  const auto b = number(bytes);
  if (!b) return "-";
  if (*b < 1024) return printf_string("%.0f B", *b);
  if (*b < 1024.0 * 1024) return printf_string("%.1f KiB", *b / 1024);
  if (*b < 1024.0 * 1024 * 1024) return printf_string("%.1f MiB", *b / (1024.0 * 1024));
  return printf_string("%.1f GiB", *b / (1024.0 * 1024 * 1024));
}

std::string format_ratio(const json& ratio) {
  const auto r = number(ratio);
  if (!r || !std::isfinite(*r)) return "-";
  // Two decimals below 1 (srdx slower than TCP: 0.28x), one up to 10.
  return printf_string(*r < 1 ? "%.2fx" : *r < 10 ? "%.1fx" : "%.0fx", *r);
}

std::string format_value(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) {
    const double d = v.get<double>();
    if (d == std::floor(d) && std::fabs(d) < 1e15) return printf_string("%.0f", d);
    std::string s = printf_string("%.3f", d);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string format_uptime(const json& seconds) {
  const auto s = number(seconds);
  if (!s) return "-";
  const auto total = static_cast<long long>(*s);
  const long long d = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, sec = total % 60;
  char buf[64];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh%02lldm", d, h, m);
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", h, m, sec);
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", m, sec);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", sec);
  }
  return buf;
}

namespace {

void flatten_into(const json& node, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) {
      flatten_into(child, prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      flatten_into(node[i], prefix + "[" + std::to_string(i) + "]", out);
    }
  } else {
    out.emplace_back(prefix, format_value(node));
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> flatten(const json& tree) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten_into(tree, "", out);
  return out;
}

std::string probe_table(const json& probe) {
  static const json kEmpty = json::object();
  const json& results =
      probe.is_object() && probe.contains("results") && probe["results"].is_object()
          ? probe["results"]
          : kEmpty;
  std::vector<std::string> transports;
  for (const char* t : {"srdx", "tcp"}) {
    if (results.contains(t) && results[t].is_object()) transports.emplace_back(t);
  }
  if (transports.empty()) return "nothing measured\n";
  const bool both = transports.size() == 2;
  const json& ratio = probe.is_object() && probe.contains("ratio") && probe["ratio"].is_object()
                          ? probe["ratio"]
                          : kEmpty;

  std::vector<std::string> header{""};
  header.insert(header.end(), transports.begin(), transports.end());
  if (both) header.emplace_back("tcp/srdx");
  Table table(header);

  for (const char* key : {"count", "lost"}) {
    std::vector<std::string> row{key};
    for (const auto& t : transports) row.push_back(format_value(results[t].value(key, json())));
    table.add(row);
  }
  struct Quantile {
    const char* label;
    const char* result_key;
    const char* ratio_key;
  };
  for (const Quantile& q : {Quantile{"p50", "p50_us", "p50"}, Quantile{"p90", "p90_us", "p90"},
                            Quantile{"p99", "p99_us", "p99"}, Quantile{"p99.9", "p999_us", "p999"},
                            Quantile{"max", "max_us", "max"}}) {
    std::vector<std::string> row{q.label};
    for (const auto& t : transports)
      row.push_back(format_us(results[t].value(q.result_key, json())));
    if (both) {
      json r = ratio.value(q.ratio_key, json());
      if (!r.is_number()) {
        // The daemon leaves the ratio out (or null) when srdx's figure is 0;
        // compute it here when both figures are there and usable.
        const auto s = number(results["srdx"].value(q.result_key, json()));
        const auto t = number(results["tcp"].value(q.result_key, json()));
        if (s && t && *s > 0) r = *t / *s;
      }
      row.push_back(format_ratio(r));
    }
    table.add(row);
  }
  return table.render();
}

namespace {

const json& member(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

}  // namespace

std::string probe_progress(const json& probe) {
  const json& progress = member(probe, "progress");
  return format_value(member(progress, "done")) + "/" + format_value(member(progress, "count"));
}

std::string probe_heading(const json& probe) {
  std::string line = "probe " + format_value(member(probe, "id")) + " to " +
                     format_value(member(probe, "peer")) + ": " +
                     format_value(member(probe, "count")) + " x " +
                     format_value(member(probe, "size")) + " B round trips";
  const json& interval = member(probe, "interval_us");
  if (interval.is_number() && interval.get<double>() > 0) {
    line += " " + format_value(interval) + " us apart";
  }
  const std::string state = format_value(member(probe, "state"));
  line += ", " + format_value(member(probe, "transport")) + ", " + state;
  if (state == "running") {
    line += " (" + probe_progress(probe) + " done)";
  } else if (state == "cancelled" || state == "failed") {
    line += " after " + probe_progress(probe);
    const json& error = member(probe, "error");
    if (state == "failed" && error.is_string() && !error.get<std::string>().empty()) {
      line += ": " + error.get<std::string>();
    }
    // Cancelled by the daemon, not by a client (its lease ran out).
    const json& reason = member(probe, "reason");
    if (state == "cancelled" && reason.is_string() && !reason.get<std::string>().empty()) {
      line += ": " + reason.get<std::string>();
    }
  }
  return line + "\n";
}

}  // namespace srdx::cli
