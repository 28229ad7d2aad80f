// Whole scenarios: real endpoints over the simulated fabric, every message
// checked end to end.
#include <gtest/gtest.h>

#include <vector>

#include "sim/scenario.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

ScenarioConfig clean_bulk() {
  ScenarioConfig c;
  c.net.paths = 4;
  c.net.link.rate_bps = 10'000'000'000;
  c.net.link.delay = 10_us;
  c.net.link.queue_bytes = 256u << 10;
  c.msg_size = 16u << 10;
  c.count = 300;
  c.window = 16;
  c.time_limit = 2_s;
  return c;
}

void expect_exactly_once(const ScenarioResult& r, uint64_t n) {
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.messages_sent, n);
  EXPECT_EQ(r.delivered, n);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_EQ(r.duplicated, 0u);
  EXPECT_EQ(r.corrupted_delivered, 0u);
  EXPECT_FALSE(r.timed_out);
}

TEST(SimE2e, BulkOverFourCleanPathsDeliversEveryMessageOnce) {
  Scenario s(clean_bulk());
  const ScenarioResult r = s.run();
  expect_exactly_once(r, 300);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_TRUE(r.drained) << r.buffered_bytes << " bytes, " << r.buffered_messages << " messages";
  EXPECT_GT(r.goodput_bps, 0.0);
  EXPECT_EQ(r.latency.count, 300u);
  // Sprayed: a path carries data exactly when one of the sender's entropies
  // hashes onto it (16 entropies can leave one of 4 paths unused: ECMP).
  ASSERT_EQ(r.path_share.size(), 4u);
  std::vector<bool> mapped(4);
  Host& tx = s.sender();
  for (const PathStats& p : tx.endpoint().path_stats(tx.endpoint().peers().at(0))) {
    mapped.at(s.network().path_of(tx.addr(), p.entropy, s.receiver().addr())) = true;
  }
  int used = 0;
  for (size_t p = 0; p < 4; p++) {
    EXPECT_EQ(r.path_share[p] > 0.0, mapped[p]) << "path " << p;
    used += r.path_share[p] > 0.05;
  }
  EXPECT_GE(used, 2);
}

TEST(SimE2e, SameSeedSameRun) {
  ScenarioConfig c = clean_bulk();
  c.count = 100;
  c.net.link.loss = 0.01;
  const ScenarioResult a = run_scenario(c), b = run_scenario(c);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.retransmissions, b.retransmissions);
}

TEST(SimE2e, PingPongWorks) {
  ScenarioConfig c = clean_bulk();
  c.workload = Workload::pingpong;
  c.msg_size = 64;
  c.count = 500;
  const ScenarioResult r = run_scenario(c);
  expect_exactly_once(r, 500);
  EXPECT_EQ(r.latency.count, 500u);
  EXPECT_TRUE(r.latency_is_rtt);
  // Two one-way delays of 10 us at least.
  EXPECT_GE(r.latency.p50_us, 20.0);
  EXPECT_TRUE(r.drained);
}

TEST(SimE2e, BulkSurvivesLossAndABlackhole) {
  ScenarioConfig c = clean_bulk();
  c.net.link.loss = 0.01;
  c.blackholes.push_back({1, Time::zero() + 200_us, Time::zero() + 2_ms});
  const ScenarioResult r = run_scenario(c);
  expect_exactly_once(r, 300);
  EXPECT_GT(r.retransmissions, 0u);
}

TEST(SimE2e, CorruptionIsRejectedNotDelivered) {
  ScenarioConfig c = clean_bulk();
  c.count = 100;
  c.net.link.corrupt = 0.02;
  const ScenarioResult r = run_scenario(c);
  expect_exactly_once(r, 100);
  EXPECT_GT(r.corrupted_rejected, 0u);
}

}  // namespace
}  // namespace srdx::sim
