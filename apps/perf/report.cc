#include "perf/report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace srdx::perf {

Percentiles percentiles(std::vector<int64_t>& ns) {
  Percentiles p;
  p.samples = ns.size();
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(ns.size())));
    rank = std::clamp<size_t>(rank, 1, ns.size());
    return static_cast<double>(ns[rank - 1]) / 1e3;
  };
  p.min = static_cast<double>(ns.front()) / 1e3;
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.p9999 = at(0.9999);
  p.max = static_cast<double>(ns.back()) / 1e3;
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  p.mean = sum / static_cast<double>(ns.size()) / 1e3;
  return p;
}

void Json::key(const char* k) {
  if (!first_) out_ += ',';
  first_ = false;
  if (k) {
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }
}

Json& Json::begin(const char* k) {
  key(k);
  out_ += '{';
  first_ = true;
  return *this;
}

Json& Json::end() {
  out_ += '}';
  first_ = false;
  return *this;
}

Json& Json::begin_array(const char* k) {
  key(k);
  out_ += '[';
  first_ = true;
  return *this;
}

Json& Json::end_array() {
  out_ += ']';
  first_ = false;
  return *this;
}

Json& Json::field(const char* k, const std::string& v) {
  key(k);
  out_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out_ += buf;
    } else {
      out_ += c;
    }
  }
  out_ += '"';
  return *this;
}

Json& Json::field(const char* k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
  }
  return *this;
}

Json& Json::field(const char* k, uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

Json& Json::field(const char* k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

Json& Json::percentiles(const char* k, const Percentiles& p) {
  begin(k);
  field("samples", p.samples);
  field("min", p.min).field("mean", p.mean);
  field("p50", p.p50).field("p90", p.p90).field("p99", p.p99);
  field("p99.9", p.p999).field("p99.99", p.p9999).field("max", p.max);
  return end();
}

Json& Json::raw(const char* k, const std::string& json) {
  key(k);
  out_ += json;
  return *this;
}

void Table::section(const std::string& title) { out_ += title + "\n"; }

void Table::row(const std::string& name, const std::string& value) {
  std::string line = "  " + name + " ";
  while (line.size() < 32) line += '.';
  out_ += line + " " + value + "\n";
}

CpuTime cpu_now() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return {};
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {sec(u.ru_utime), sec(u.ru_stime)};
}

std::string cpu_json(const CpuTime& run, const CpuTime& process, uint64_t bytes) {
  const double gb = static_cast<double>(bytes) / 1e9;
  const double none = std::nan("");
  Json j;
  j.begin();
  j.field("user_s", run.user_s).field("sys_s", run.sys_s);
  j.field("user_s_per_gb", gb > 0 ? run.user_s / gb : none);
  j.field("sys_s_per_gb", gb > 0 ? run.sys_s / gb : none);
  j.field("bytes", bytes);
  j.field("process_user_s", process.user_s).field("process_sys_s", process.sys_s);
  j.end();
  return j.str();
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string format_us(double us) {
  if (us >= 10000) return fmt("%.1f ms", us / 1000);
  if (us >= 100) return fmt("%.0f us", us);
  return fmt("%.1f us", us);
}

}  // namespace srdx::perf
