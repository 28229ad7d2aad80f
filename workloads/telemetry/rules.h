// Alarm rules evaluated at the edge (issue 15), one per `alarm =` config line:
//   FILTER OP THRESHOLD [for N sample[s]]
// e.g. `turbine/+/temperature > 80 for 3 samples`. FILTER is an MQTT topic
// filter (+ and # wildcards), OP one of > >= < <= == !=, THRESHOLD a decimal
// number, N 1..1000 (default 1). A rule raises an alarm on a topic when N
// samples in a row of that topic satisfy it, and clears it at the first one
// that does not; a payload that is not a number (telemetry payloads are
// decimal text, as the simulator publishes them) is skipped and counted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/result.h"

namespace srdx::telemetry {

enum class CmpOp : uint8_t { gt, ge, lt, le, eq, ne };
std::string_view to_string(CmpOp op);

struct Rule {
  std::string filter;
  CmpOp op = CmpOp::gt;
  double threshold = 0;
  uint32_t samples = 1;
  std::string text;  // as written, normalised spacing: for logs and alarm payloads

  bool holds(double v) const;
};

inline constexpr uint32_t kMaxRuleSamples = 1000;
inline constexpr size_t kMaxRuleBytes = 1024;

// One clear line on error, naming what is wrong and where.
Result<Rule> parse_rule(std::string_view text);

// A sample's numeric value: the payload as a decimal number (leading and
// trailing blanks allowed), nothing otherwise.
std::optional<double> parse_sample(std::span<const uint8_t> payload);

struct AlarmEvent {
  size_t rule = 0;  // index in the evaluator's rules
  std::string topic;
  double value = 0;
  bool raised = true;  // false: cleared
};

class RuleEvaluator {
 public:
  // State is kept for at most max_topics (rule, topic) pairs; past that, new
  // pairs are not tracked (counted in untracked()).
  explicit RuleEvaluator(std::vector<Rule> rules, size_t max_topics = 100000);

  // Feeds one sample; appends the alarms it raises or clears to `out`.
  void on_sample(std::string_view topic, std::span<const uint8_t> payload,
                 std::vector<AlarmEvent>& out);

  const std::vector<Rule>& rules() const { return rules_; }
  uint64_t non_numeric() const { return non_numeric_; }
  uint64_t untracked() const { return untracked_; }
  size_t active() const;  // alarms raised and not cleared

 private:
  struct State {
    uint32_t run = 0;
    bool raised = false;
  };
  std::vector<Rule> rules_;
  size_t max_topics_;
  std::vector<std::unordered_map<std::string, State>> state_;  // per rule
  size_t tracked_ = 0;
  uint64_t non_numeric_ = 0, untracked_ = 0;
};

}  // namespace srdx::telemetry
