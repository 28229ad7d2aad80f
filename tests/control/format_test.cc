// srdxctl's text formatting (apps/ctl/format.h), no daemon needed.
#include "ctl/format.h"

#include <gtest/gtest.h>

namespace srdx::cli {
namespace {

using nlohmann::json;

TEST(Format, Durations) {
  EXPECT_EQ(format_us(json(18.23)), "18.2 us");
  EXPECT_EQ(format_us(json(9999)), "9999.0 us");
  EXPECT_EQ(format_us(json(15300)), "15.30 ms");
  EXPECT_EQ(format_us(json(12'000'000)), "12.00 s");
  EXPECT_EQ(format_us(json()), "-");
  EXPECT_EQ(format_us(json("12")), "-");
}

TEST(Format, BytesRatiosValues) {
  EXPECT_EQ(format_bytes(json(64)), "64 B");
  EXPECT_EQ(format_bytes(json(65536)), "64.0 KiB");
  EXPECT_EQ(format_bytes(json(3 * 1024 * 1024 + 512 * 1024)), "3.5 MiB");
  EXPECT_EQ(format_ratio(json(5.23)), "5.2x");
  EXPECT_EQ(format_ratio(json(123.4)), "123x");
  EXPECT_EQ(format_ratio(json(0.2828)), "0.28x");
  EXPECT_EQ(format_ratio(json()), "-");
  EXPECT_EQ(format_value(json(true)), "yes");
  EXPECT_EQ(format_value(json(12)), "12");
  EXPECT_EQ(format_value(json(2.0)), "2");
  EXPECT_EQ(format_value(json(0.125)), "0.125");
  EXPECT_EQ(format_value(json("up")), "up");
  EXPECT_EQ(format_uptime(json(3723)), "1h02m03s");
  EXPECT_EQ(format_uptime(json(59)), "59s");
  EXPECT_EQ(format_uptime(json(90061)), "1d01h01m");
}

TEST(Format, TableAlignsColumns) {
  Table t({"PEER", "UP", "SRTT"});
  t.add({"b", "yes", "18.2 us"});
  t.add({"longname", "no", "1.5 us"});
  EXPECT_EQ(t.render(),
            "PEER       UP     SRTT\n"
            "b         yes  18.2 us\n"
            "longname   no   1.5 us\n");
}

TEST(Format, FlattenCounters) {
  const json counters = json::parse(R"({"api":{"requests":3},"endpoint":{"drops":{"bad":1}}})");
  const auto flat = flatten(counters);
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0], (std::pair<std::string, std::string>{"api.requests", "3"}));
  EXPECT_EQ(flat[1], (std::pair<std::string, std::string>{"endpoint.drops.bad", "1"}));
}

TEST(Format, ProbeTableSideBySide) {
  const json probe = json::parse(R"({
    "id": "1", "peer": "b", "state": "done",
    "results": {
      "srdx": {"count": 1000, "lost": 0, "p50_us": 10.0, "p90_us": 12.0, "p99_us": 18.2,
               "p999_us": 30.0, "max_us": 40.0},
      "tcp": {"count": 1000, "lost": 0, "p50_us": 40.0, "p90_us": 50.0, "p99_us": 95.1,
              "p999_us": 120.0, "max_us": 20000.0}},
    "ratio": {"p50": 4.0, "p90": 4.17, "p99": 5.225, "p999": 4.0, "max": 500.0}})");
  const std::string table = probe_table(probe);
  EXPECT_NE(table.find("srdx       tcp  tcp/srdx\n"), std::string::npos) << table;
  EXPECT_NE(table.find("p99    18.2 us   95.1 us      5.2x\n"), std::string::npos) << table;
  EXPECT_NE(table.find("p99.9  30.0 us  120.0 us      4.0x\n"), std::string::npos) << table;
  EXPECT_NE(table.find("max    40.0 us  20.00 ms      500x\n"), std::string::npos) << table;
}

TEST(Format, ProbeTableComputesAMissingRatioAndShowsOneTransport) {
  json probe = json::parse(R"({"results": {
      "srdx": {"count": 5, "lost": 0, "p50_us": 10, "p90_us": 10, "p99_us": 10,
               "p999_us": 10, "max_us": 10},
      "tcp": {"count": 5, "lost": 1, "p50_us": 25, "p90_us": 25, "p99_us": 25,
              "p999_us": 25, "max_us": 25}}})");
  EXPECT_NE(probe_table(probe).find("2.5x"), std::string::npos);
  probe["results"].erase("tcp");
  const std::string srdx_only = probe_table(probe);
  EXPECT_EQ(srdx_only.find("tcp"), std::string::npos) << srdx_only;
  EXPECT_NE(srdx_only.find("p50    10.0 us"), std::string::npos) << srdx_only;
}

TEST(Format, ProbeTableWithNothingMeasured) {
  // A probe cancelled before its first round trip has no results at all.
  const json probe = json::parse(R"({"id": "4", "state": "cancelled",
      "progress": {"done": 0, "count": 1000}})");
  EXPECT_EQ(probe_table(probe), "nothing measured\n");
  EXPECT_EQ(probe_table(json()), "nothing measured\n");
}

TEST(Format, ProbeHeadingSaysWhereTheProbeStands) {
  json probe = json::parse(R"({"id": "7", "peer": "b", "transport": "both", "size": 64,
      "count": 1000, "interval_us": 0, "state": "done",
      "progress": {"done": 1000, "count": 1000}})");
  EXPECT_EQ(probe_heading(probe), "probe 7 to b: 1000 x 64 B round trips, both, done\n");
  EXPECT_EQ(probe_progress(probe), "1000/1000");

  probe["state"] = "running";
  probe["interval_us"] = 1000;
  probe["progress"]["done"] = 340;
  EXPECT_EQ(probe_heading(probe),
            "probe 7 to b: 1000 x 64 B round trips 1000 us apart, both, running (340/1000 done)\n");

  probe["state"] = "cancelled";
  probe["interval_us"] = 0;
  EXPECT_EQ(probe_heading(probe),
            "probe 7 to b: 1000 x 64 B round trips, both, cancelled after 340/1000\n");
  probe["reason"] = "lease expired: not read for 30 s";
  EXPECT_EQ(probe_heading(probe),
            "probe 7 to b: 1000 x 64 B round trips, both, cancelled after 340/1000: lease expired: "
            "not read for 30 s\n");
  probe.erase("reason");

  probe["state"] = "failed";
  probe["transport"] = "srdx";
  probe["progress"]["done"] = 12;
  probe["error"] = "peer b is down";
  EXPECT_EQ(probe_heading(probe),
            "probe 7 to b: 1000 x 64 B round trips, srdx, failed after 12/1000: peer b is down\n");
}

TEST(Format, ProbeHeadingOfAnIncompleteObject) {
  // DELETE's reply carries only id and state; missing fields print as "-".
  const json probe = json::parse(R"({"id": "9", "state": "cancelled"})");
  EXPECT_EQ(probe_heading(probe), "probe 9 to -: - x - B round trips, -, cancelled after -/-\n");
  EXPECT_EQ(probe_progress(json()), "-/-");
}

}  // namespace
}  // namespace srdx::cli
