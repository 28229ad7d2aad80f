// MQTT topic names and filters (MQTT 3.1.1 section 4.7, the same in 5):
// levels split by '/', '+' matches one level, '#' (last, alone in its level)
// matches any number of levels including none; a topic beginning with '$'
// is not matched by a filter beginning with a wildcard.
#pragma once

#include <string>
#include <string_view>

namespace srdx::telemetry {

// At most this many bytes (MQTT allows 65535).
inline constexpr size_t kMaxTopicBytes = 65535;

// A name messages are published to: 1..65535 bytes, no wildcard, no NUL.
// Empty on success, else why not.
std::string check_topic(std::string_view topic);
// A subscription filter: wildcards where MQTT allows them.
std::string check_filter(std::string_view filter);
// Whether `topic` matches `filter` (both assumed valid).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace srdx::telemetry
