#include "telemetry/topic.h"

namespace srdx::telemetry {

std::string check_topic(std::string_view topic) {
  if (topic.empty()) return "empty topic";
  if (topic.size() > kMaxTopicBytes) return "topic longer than 65535 bytes";
  for (char c : topic) {
    if (c == '\0') return "NUL in topic";
    if (c == '+' || c == '#') return "wildcard in a topic name (only filters may have + and #)";
  }
  return {};
}

std::string check_filter(std::string_view filter) {
  if (filter.empty()) return "empty topic filter";
  if (filter.size() > kMaxTopicBytes) return "topic filter longer than 65535 bytes";
  size_t level_start = 0;
  for (size_t i = 0; i <= filter.size(); ++i) {
    if (i < filter.size() && filter[i] == '\0') return "NUL in topic filter";
    if (i == filter.size() || filter[i] == '/') {
      const std::string_view level = filter.substr(level_start, i - level_start);
      if (level.find('#') != std::string_view::npos) {
        if (level != "#") return "'#' must be a whole level";
        if (i != filter.size()) return "'#' must be the last level";
      }
      if (level.find('+') != std::string_view::npos && level != "+") {
        return "'+' must be a whole level";
      }
      level_start = i + 1;
    }
  }
  return {};
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t f = 0, t = 0;
  while (true) {
    const size_t fe = std::min(filter.find('/', f), filter.size());
    const std::string_view flevel = filter.substr(f, fe - f);
    if (flevel == "#") return true;  // the rest, including nothing (parent level)
    if (t > topic.size()) return false;
    const size_t te = std::min(topic.find('/', t), topic.size());
    const std::string_view tlevel = topic.substr(t, te - t);
    if (flevel != "+" && flevel != tlevel) return false;
    const bool fend = fe == filter.size(), tend = te == topic.size();
    if (fend && tend) return true;
    if (fend) return false;
    if (tend) {
      // "a/#" matches "a": the filter's next (and last) level is '#'.
      return filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

}  // namespace srdx::telemetry
