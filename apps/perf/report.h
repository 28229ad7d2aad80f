// srdx-perf's results: percentiles, a table for people, JSON for machines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace srdx::perf {

// Latency percentiles in microseconds (nearest rank).
struct Percentiles {
  uint64_t samples = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0, mean = 0;
};
// Sorts `ns` in place.
Percentiles percentiles(std::vector<int64_t>& ns);

// One JSON object written field by field; nested objects with begin()/end().
class Json {
 public:
  Json& begin(const char* key = nullptr);  // '{' (a top-level object has no key)
  Json& end();                             // '}'
  Json& begin_array(const char* key);
  Json& end_array();
  Json& field(const char* key, const std::string& v);
  Json& field(const char* key, const char* v) { return field(key, std::string(v)); }
  Json& field(const char* key, double v);
  Json& field(const char* key, uint64_t v);
  Json& field(const char* key, bool v);
  Json& percentiles(const char* key, const Percentiles& p);
  // A value that is JSON already (an object from cpu_json).
  Json& raw(const char* key, const std::string& json);
  const std::string& str() const { return out_; }

 private:
  void key(const char* k);
  std::string out_;
  bool first_ = true;
};

// A two-column table: "  name ........ value".
class Table {
 public:
  void row(const std::string& name, const std::string& value);
  void section(const std::string& title);
  std::string str() const { return out_; }

 private:
  std::string out_;
};

// CPU time this process has used so far, every thread (getrusage
// RUSAGE_SELF): user and system seconds. A run's cost is the difference of
// two readings.
struct CpuTime {
  double user_s = 0, sys_s = 0;
};
CpuTime cpu_now();
inline CpuTime operator-(const CpuTime& a, const CpuTime& b) {
  return {a.user_s - b.user_s, a.sys_s - b.sys_s};
}
// The JSON object srdx-perf and srdx-tcpperf print as "cpu": user and system
// seconds over the run (the window its goodput is measured over), the same
// per GB moved (1e9 bytes; null when nothing moved), and the whole process's.
std::string cpu_json(const CpuTime& run, const CpuTime& process, uint64_t bytes);

std::string fmt(const char* format, double v);
std::string format_us(double us);

}  // namespace srdx::perf
