// srdx-sim's output: a table for people, one JSON object for machines.
#pragma once

#include <string>

#include "sim/scenario.h"

namespace srdx::sim {

std::string report_table(const ScenarioConfig& cfg, const ScenarioResult& r);
std::string report_json(const ScenarioConfig& cfg, const ScenarioResult& r);

}  // namespace srdx::sim
