// The alarm rule parser (workloads/telemetry/rules.h) on arbitrary text: it
// never crashes, refuses with a message, and a rule it accepts parses again
// from its normalised text to the same rule. The first byte splits the input
// into a rule and a sample fed to an evaluator with a topic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "telemetry/rules.h"
#include "telemetry/topic.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace srdx::telemetry;
  if (size == 0) return 0;
  const size_t split = std::min<size_t>(data[0], size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), split);
  const std::span<const uint8_t> sample(data + 1 + split, size - 1 - split);
  Result<Rule> r = parse_rule(text);
  if (!r.ok()) {
    if (r.error.message.empty()) std::abort();
    return 0;
  }
  Result<Rule> again = parse_rule(r.value.text);
  if (!again.ok() || again.value.filter != r.value.filter || again.value.op != r.value.op ||
      again.value.threshold != r.value.threshold || again.value.samples != r.value.samples ||
      again.value.text != r.value.text) {
    std::abort();
  }
  RuleEvaluator ev({r.value});
  std::vector<AlarmEvent> out;
  const std::string topic(reinterpret_cast<const char*>(sample.data()),
                          std::min<size_t>(sample.size(), 64));
  if (check_topic(topic).empty()) {
    for (int i = 0; i < 3; ++i) ev.on_sample(topic, sample, out);
  }
  (void)topic_matches(r.value.filter, "turbine/1/temperature");
  return 0;
}
