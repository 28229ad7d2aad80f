// srdxctl telemetry status [--json]: the MQTT telemetry bridge of srdxd
// (GET /v1/telemetry, issue 15).
#pragma once

#include <string>
#include <vector>

#include "ctl/client.h"

namespace srdx::cli {

// args: the positional arguments after "telemetry" (args[0] is "status").
int cmd_telemetry(ApiClient& api, const std::vector<std::string>& args, bool as_json);

}  // namespace srdx::cli
