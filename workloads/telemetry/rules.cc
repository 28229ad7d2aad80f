#include "telemetry/rules.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "telemetry/topic.h"

namespace srdx::telemetry {

std::string_view to_string(CmpOp op) {
  switch (op) {
    case CmpOp::gt:
      return ">";
    case CmpOp::ge:
      return ">=";
    case CmpOp::lt:
      return "<";
    case CmpOp::le:
      return "<=";
    case CmpOp::eq:
      return "==";
    case CmpOp::ne:
      return "!=";
  }
  return "?";
}

bool Rule::holds(double v) const {
  switch (op) {
    case CmpOp::gt:
      return v > threshold;
    case CmpOp::ge:
      return v >= threshold;
    case CmpOp::lt:
      return v < threshold;
    case CmpOp::le:
      return v <= threshold;
    case CmpOp::eq:
      return v == threshold;
    case CmpOp::ne:
      return v != threshold;
  }
  return false;
}

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && blank(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !blank(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<double> parse_number(std::string_view w) {
  if (w.empty() || w.size() > 64) return std::nullopt;
  const std::string s(w);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  // strtod also reads hex and "inf"/"nan": telemetry numbers are decimal.
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace

Result<Rule> parse_rule(std::string_view text) {
  auto bad = [&](const std::string& why) {
    std::string shown(text.substr(0, 120));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return Result<Rule>::fail(Errc::invalid, "alarm rule '" + shown + "': " + why);
  };
  if (text.size() > kMaxRuleBytes) return bad("longer than 1024 bytes");
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return bad("control character");
  }
  const std::vector<std::string_view> w = words(text);
  if (w.size() < 3) {
    return bad(
        "expected 'TOPIC-FILTER OP NUMBER [for N samples]', e.g. "
        "'turbine/+/temperature > 80 for 3 samples'");
  }
  Rule r;
  r.filter = std::string(w[0]);
  if (std::string why = check_filter(r.filter); !why.empty()) return bad("topic filter: " + why);
  const std::string_view op = w[1];
  if (op == ">") {
    r.op = CmpOp::gt;
  } else if (op == ">=") {
    r.op = CmpOp::ge;
  } else if (op == "<") {
    r.op = CmpOp::lt;
  } else if (op == "<=") {
    r.op = CmpOp::le;
  } else if (op == "==") {
    r.op = CmpOp::eq;
  } else if (op == "!=") {
    r.op = CmpOp::ne;
  } else {
    return bad("unknown comparison '" + std::string(op.substr(0, 16)) +
               "' (one of > >= < <= == !=)");
  }
  const std::optional<double> th = parse_number(w[2]);
  if (!th) return bad("threshold '" + std::string(w[2].substr(0, 32)) + "' is not a number");
  r.threshold = *th;
  if (w.size() > 3) {
    if (w[3] != "for")
      return bad("unexpected '" + std::string(w[3].substr(0, 32)) + "' (expected 'for N samples')");
    if (w.size() < 5) return bad("'for' needs a sample count, e.g. 'for 3 samples'");
    const std::optional<double> n = parse_number(w[4]);
    if (!n || *n != std::floor(*n) || *n < 1 || *n > kMaxRuleSamples) {
      return bad("sample count '" + std::string(w[4].substr(0, 32)) +
                 "' is not a whole number 1..1000");
    }
    r.samples = static_cast<uint32_t>(*n);
    if (w.size() > 6) return bad("unexpected text after 'samples'");
    if (w.size() == 6 && w[5] != "samples" && w[5] != "sample") {
      return bad("unexpected '" + std::string(w[5].substr(0, 32)) + "' (expected 'samples')");
    }
  }
  r.text = r.filter + " " + std::string(to_string(r.op)) + " " + std::string(w[2]);
  if (r.samples > 1 || w.size() > 3) {
    r.text += " for " + std::to_string(r.samples) + (r.samples == 1 ? " sample" : " samples");
  }
  return {std::move(r), {}};
}

std::optional<double> parse_sample(std::span<const uint8_t> payload) {
  std::string_view s(reinterpret_cast<const char*>(payload.data()), payload.size());
  while (!s.empty() && (blank(s.front()) || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (blank(s.back()) || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return parse_number(s);
}

RuleEvaluator::RuleEvaluator(std::vector<Rule> rules, size_t max_topics)
    : rules_(std::move(rules)), max_topics_(max_topics), state_(rules_.size()) {}

void RuleEvaluator::on_sample(std::string_view topic, std::span<const uint8_t> payload,
                              std::vector<AlarmEvent>& out) {
  std::optional<double> v;
  bool parsed = false;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (!topic_matches(r.filter, topic)) continue;
    if (!parsed) {
      v = parse_sample(payload);
      parsed = true;
      if (!v) {
        ++non_numeric_;
        return;
      }
    }
    auto& m = state_[i];
    auto it = m.find(std::string(topic));
    if (it == m.end()) {
      if (tracked_ >= max_topics_) {
        ++untracked_;
        continue;
      }
      it = m.emplace(std::string(topic), State{}).first;
      ++tracked_;
    }
    State& s = it->second;
    if (r.holds(*v)) {
      if (s.run < r.samples) ++s.run;
      if (!s.raised && s.run >= r.samples) {
        s.raised = true;
        out.push_back({i, std::string(topic), *v, true});
      }
    } else {
      s.run = 0;
      if (s.raised) {
        s.raised = false;
        out.push_back({i, std::string(topic), *v, false});
      }
    }
  }
}

size_t RuleEvaluator::active() const {
  size_t n = 0;
  for (const auto& m : state_) {
    for (const auto& [t, s] : m) n += s.raised ? 1 : 0;
  }
  return n;
}

}  // namespace srdx::telemetry
