#include "telemetry/rules.h"

#include <gtest/gtest.h>

namespace srdx::telemetry {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(TelemetryRules, ParsesTheSeedRule) {
  Result<Rule> r = parse_rule("turbine/+/temperature > 80 for 3 samples");
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(r.value.filter, "turbine/+/temperature");
  EXPECT_EQ(r.value.op, CmpOp::gt);
  EXPECT_EQ(r.value.threshold, 80);
  EXPECT_EQ(r.value.samples, 3u);
  EXPECT_EQ(r.value.text, "turbine/+/temperature > 80 for 3 samples");
  Result<Rule> one = parse_rule("  turbine/#   <=  -2.5e1 ");
  ASSERT_TRUE(one.ok()) << one.error.message;
  EXPECT_EQ(one.value.op, CmpOp::le);
  EXPECT_EQ(one.value.threshold, -25);
  EXPECT_EQ(one.value.samples, 1u);
  for (const char* op : {">", ">=", "<", "<=", "==", "!="}) {
    EXPECT_TRUE(parse_rule(std::string("a ") + op + " 1").ok()) << op;
  }
  EXPECT_TRUE(parse_rule("a > 1 for 1 sample").ok());
}

TEST(TelemetryRules, ClearErrors) {
  auto err = [](std::string_view text) { return parse_rule(text).error.message; };
  EXPECT_NE(err("").find("expected 'TOPIC-FILTER OP NUMBER"), std::string::npos);
  EXPECT_NE(err("turbine/+/temperature >").find("expected"), std::string::npos);
  EXPECT_NE(err("turbine/+/temperature => 80").find("unknown comparison '=>'"), std::string::npos);
  EXPECT_NE(err("turbine/+/temperature > hot").find("threshold 'hot' is not a number"),
            std::string::npos);
  EXPECT_NE(err("turbine/+/temperature > nan").find("not a number"), std::string::npos);
  EXPECT_NE(err("turbine/+/temperature > 0x50").find("not a number"), std::string::npos);
  EXPECT_NE(err("turbine/#/temperature > 80").find("'#' must be the last level"),
            std::string::npos);
  EXPECT_NE(err("turbine/t+ > 80").find("'+' must be a whole level"), std::string::npos);
  EXPECT_NE(err("a > 80 during 3 samples").find("expected 'for N samples'"), std::string::npos);
  EXPECT_NE(err("a > 80 for").find("needs a sample count"), std::string::npos);
  EXPECT_NE(err("a > 80 for 0 samples").find("1..1000"), std::string::npos);
  EXPECT_NE(err("a > 80 for 2.5 samples").find("1..1000"), std::string::npos);
  EXPECT_NE(err("a > 80 for 3 minutes").find("expected 'samples'"), std::string::npos);
  EXPECT_NE(err("a > 80 for 3 samples please").find("unexpected text"), std::string::npos);
  EXPECT_NE(err(std::string(2000, 'a')).find("longer than 1024"), std::string::npos);
  EXPECT_NE(err("a > 80\n").find("control character"), std::string::npos);
  // The message names the rule.
  EXPECT_EQ(err("x ? 1").rfind("alarm rule 'x ? 1': ", 0), 0u);
}

TEST(TelemetryRules, FiresOnTheSeedRuleAndNotBelowIt) {
  RuleEvaluator ev({parse_rule("turbine/+/temperature > 80 for 3 samples").value});
  std::vector<AlarmEvent> out;
  // 80 is not above 80: never fires.
  for (int i = 0; i < 10; ++i) ev.on_sample("turbine/1/temperature", bytes("80"), out);
  EXPECT_TRUE(out.empty());
  // Two above, one below, two above: the run restarts, no alarm.
  for (const char* v : {"81", "82", "79.9", "85", "90"}) {
    ev.on_sample("turbine/1/temperature", bytes(v), out);
  }
  EXPECT_TRUE(out.empty());
  // The third in a row raises it, once.
  ev.on_sample("turbine/1/temperature", bytes("95"), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].raised);
  EXPECT_EQ(out[0].topic, "turbine/1/temperature");
  EXPECT_EQ(out[0].value, 95);
  ev.on_sample("turbine/1/temperature", bytes("96"), out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(ev.active(), 1u);
  // Other sensors and turbines are apart.
  for (int i = 0; i < 5; ++i) ev.on_sample("turbine/1/rpm", bytes("1000"), out);
  for (int i = 0; i < 2; ++i) ev.on_sample("turbine/2/temperature", bytes("99"), out);
  EXPECT_EQ(out.size(), 1u);
  // A sample back under clears it.
  ev.on_sample("turbine/1/temperature", bytes(" 70\n"), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[1].raised);
  EXPECT_EQ(ev.active(), 0u);
  // Not a number: skipped and counted, the run is untouched.
  ev.on_sample("turbine/2/temperature", bytes("{\"t\": 99}"), out);
  EXPECT_EQ(ev.non_numeric(), 1u);
  ev.on_sample("turbine/2/temperature", bytes("99"), out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].topic, "turbine/2/temperature");
}

TEST(TelemetryRules, BoundedState) {
  RuleEvaluator ev({parse_rule("t/+ > 1").value}, 2);
  std::vector<AlarmEvent> out;
  ev.on_sample("t/a", bytes("5"), out);
  ev.on_sample("t/b", bytes("5"), out);
  ev.on_sample("t/c", bytes("5"), out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(ev.untracked(), 1u);
}

}  // namespace
}  // namespace srdx::telemetry
