// Behaviour figures in simulated time, asserted. The simulator is
// deterministic and time is virtual, so every figure here is exact and the
// same on every machine: a threshold that fails is the engine's behaviour, not
// noise. Each test prints what it measured.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

constexpr uint64_t kGbit = 1'000'000'000;

std::string gbps(double bps) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f Gbit/s", bps / 1e9);
  return b;
}

std::string pct(double f) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", f * 100.0);
  return b;
}

std::string shares(const ScenarioResult& r) {
  std::string s;
  for (size_t p = 0; p < r.path_share.size(); p++) {
    s += (p ? " " : "") + std::string("p") + std::to_string(p) + "=" + pct(r.path_share[p]);
  }
  return s;
}

// 64 KiB messages, 32 outstanding, over `paths` paths of 1 Gbit/s, 10 us
// one-way delay and a 256 KiB queue, without impairments. 400 messages are
// 26.2 MB: 52 ms at 4 Gbit/s, so the transfer lasts at least 40 ms.
ScenarioConfig bulk_four_paths() {
  ScenarioConfig c;
  c.seed = 1;
  c.net.paths = 4;
  c.net.link.rate_bps = 1 * kGbit;
  c.net.link.delay = 10_us;
  c.net.link.queue_bytes = 256u << 10;
  c.workload = Workload::bulk;
  c.msg_size = 64u << 10;
  c.count = 400;
  c.window = 32;
  c.time_limit = 10_s;
  return c;
}

void expect_all_delivered_once(const ScenarioResult& r, uint64_t n) {
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.messages_sent, n);
  EXPECT_EQ(r.delivered, n);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_EQ(r.duplicated, 0u);
  EXPECT_EQ(r.corrupted_delivered, 0u);
  EXPECT_EQ(r.failed, 0u);
}

// a) Four equal paths, one bulk connection: at least 90% of their sum, in
// the clear. Encrypted, each 1500-byte packet carries 40 bytes less payload
// (the sealed header and the tag): at least 90% of what is left.
TEST(Behaviour, BulkFillsFourEqualPaths) {
  for (bool encryption : {false, true}) {
    SCOPED_TRACE(encryption ? "encrypted" : "in the clear");
    ScenarioConfig c = bulk_four_paths();
    c.endpoint.encryption = encryption;
    EndpointConfig clear = c.endpoint;
    clear.encryption = false;
    const double share =
        static_cast<double>(c.endpoint.max_payload()) / static_cast<double>(clear.max_payload());
    const ScenarioResult r = run_scenario(c);
    const double capacity = 4.0 * static_cast<double>(c.net.link.rate_bps);
    std::cout << "[a] " << (encryption ? "encrypted" : "clear") << " goodput "
              << gbps(r.goodput_bps) << " = " << pct(r.goodput_bps / capacity) << " of "
              << gbps(capacity) << " over " << r.elapsed.us() / 1000.0 << " ms; shares "
              << shares(r) << "; retransmissions " << r.retransmissions << ", queue drops";
    for (const LinkCounters& l : r.path_a_to_b) std::cout << " " << l.dropped_queue;
    std::cout << "\n";
    expect_all_delivered_once(r, c.count);
    EXPECT_GE(r.elapsed, 40_ms) << "the transfer must last at least 40 ms of simulated time";
    EXPECT_GE(r.goodput_bps, 0.9 * capacity * share);
  }
}

// b) 1% loss on every path: the tail (p99.9) of a 64-byte ping-pong stays
// within 4x the median of the same workload without loss.
TEST(Behaviour, LossKeepsTheRttTailShort) {
  ScenarioConfig c;
  c.seed = 7;
  c.net.paths = 4;
  c.net.link.rate_bps = 10 * kGbit;
  c.net.link.delay = 10_us;
  c.workload = Workload::pingpong;
  c.msg_size = 64;
  c.count = 20000;
  c.time_limit = 30_s;
  const ScenarioResult clean = run_scenario(c);
  c.net.link.loss = 0.01;
  const ScenarioResult lossy = run_scenario(c);
  auto line = [](const char* name, const ScenarioResult& r) {
    std::cout << "[b] " << name << ": p50 " << r.latency.p50_us << " us, p90 " << r.latency.p90_us
              << " us, p99 " << r.latency.p99_us << " us, p99.9 " << r.latency.p999_us
              << " us, max " << r.latency.max_us << " us (" << r.latency.count << " round trips, "
              << r.retransmissions << " retransmissions, " << r.failed << " failed)\n";
  };
  line("no loss", clean);
  line("1% loss", lossy);
  std::cout << "[b] p99.9 with loss / p50 without = "
            << lossy.latency.p999_us / clean.latency.p50_us << " (limit 4)\n";
  EXPECT_TRUE(clean.ok());
  EXPECT_TRUE(lossy.ok());
  EXPECT_FALSE(clean.timed_out);
  EXPECT_FALSE(lossy.timed_out);
  EXPECT_EQ(clean.latency.count, c.count);
  EXPECT_EQ(lossy.latency.count, c.count);
  EXPECT_LE(lossy.latency.p999_us, 4.0 * clean.latency.p50_us);
}

// c) A path dies in the middle of a bulk transfer and stays dead: deliveries
// never pause for more than 1 ms, and nothing is lost or failed.
TEST(Behaviour, DeadPathDoesNotStallDelivery) {
  ScenarioConfig c = bulk_four_paths();
  const Time start = Time::zero() + 20_ms;
  c.blackholes.push_back({1, start});  // never restored
  const ScenarioResult r = run_scenario(c);
  const LinkCounters& dead = r.path_a_to_b.at(1);
  std::cout << "[c] longest gap between deliveries " << r.longest_gap.us() << " us (limit 1000 us);"
            << " goodput " << gbps(r.goodput_bps) << " over " << r.elapsed.us() / 1000.0 << " ms; "
            << r.failed << " failed; packets lost in the blackhole " << dead.dropped_blackhole
            << "; shares " << shares(r) << "\n";
  expect_all_delivered_once(r, c.count);
  EXPECT_GT(dead.dropped_blackhole, 0u) << "path 1 carried no traffic when it died";
  EXPECT_GT(r.end_time, start) << "the blackhole must start before the transfer ends";
  EXPECT_GT(r.elapsed, 25_ms) << "the blackhole must start mid-transfer";
  EXPECT_LE(r.longest_gap, 1_ms);
}

// d) One path ten times slower than the other three: the sender moves traffic
// off it, and goodput stays near what the fast paths can carry.
TEST(Behaviour, SlowPathIsAvoided) {
  ScenarioConfig c = bulk_four_paths();
  constexpr uint32_t kSlow = 2;
  Scenario s(c);
  s.network().set_path(kSlow, [](LinkParams& l) { l.rate_bps = kGbit / 10; });
  const ScenarioResult r = s.run();
  const double fast = 3.0 * static_cast<double>(kGbit);
  std::cout << "[d] slow path p" << kSlow << " (100 Mbit/s) share " << pct(r.path_share.at(kSlow))
            << " (limit 15%); goodput " << gbps(r.goodput_bps) << " = " << pct(r.goodput_bps / fast)
            << " of the fast paths' " << gbps(fast) << " (limit 80%) over "
            << r.elapsed.us() / 1000.0 << " ms; shares " << shares(r) << "; retransmissions "
            << r.retransmissions << ", slow path queue drops "
            << r.path_a_to_b.at(kSlow).dropped_queue << "\n";
  expect_all_delivered_once(r, c.count);
  EXPECT_LT(r.path_share.at(kSlow), 0.15);
  EXPECT_GE(r.goodput_bps, 0.8 * fast);
}

// e) A dead path is abandoned within a few RTTs. The path RTT here is 20 us
// plus queueing (a 256 KiB queue at 1 Gbit/s adds up to 2 ms), so 1 ms after
// the blackhole starts the sender must have stopped using the path: from then
// on, at most a handful of packets a millisecond may still go to it (probes,
// or a fresh entropy that happens to hash onto it), 16 plus one per entropy
// in any one millisecond, and no more than 8 a millisecond on average.
TEST(Behaviour, DeadPathIsAbandonedWithinAFewRtts) {
  ScenarioConfig c = bulk_four_paths();
  constexpr uint32_t kDead = 1;
  const Time start = Time::zero() + 10_ms;
  c.blackholes.push_back({kDead, start});
  Scenario s(c);
  // dropped_blackhole on the dead path (sender to receiver), each millisecond.
  std::vector<uint64_t> at_ms;
  for (int k = 0; k <= 60; k++) {
    s.network().at(start + 1_ms * k, [&at_ms](Network& net) {
      at_ms.push_back(net.link(kDead, Dir::a_to_b).counters.dropped_blackhole);
    });
  }
  const ScenarioResult r = s.run();
  const Time transfer_end = Time::zero() + r.elapsed;  // the first send is at time zero
  std::vector<uint64_t> per_ms;  // packets into the dead path during ms k after the start
  for (size_t k = 1; k < at_ms.size(); k++) {
    if (start + 1_ms * static_cast<int64_t>(k) > transfer_end) break;
    per_ms.push_back(at_ms[k] - at_ms[k - 1]);
  }
  const uint64_t limit = 16 + c.endpoint.paths_per_peer;
  std::cout << "[e] packets into the dead path per ms after the blackhole at 10 ms:";
  for (uint64_t n : per_ms) std::cout << " " << n;
  std::cout << " (limit " << limit << "/ms from the 2nd ms, 8/ms on average); total "
            << r.path_a_to_b.at(kDead).dropped_blackhole << " a->b, "
            << r.path_b_to_a.at(kDead).dropped_blackhole << " b->a; transfer ended at "
            << r.elapsed.us() / 1000.0 << " ms; goodput " << gbps(r.goodput_bps) << "\n";
  expect_all_delivered_once(r, c.count);
  ASSERT_GE(per_ms.size(), 5u) << "the transfer must go on for at least 5 ms after the blackhole";
  EXPECT_GT(per_ms[0], 0u) << "path " << kDead << " carried no traffic when it died";
  uint64_t after_first = 0;
  for (size_t k = 1; k < per_ms.size(); k++) {
    EXPECT_LE(per_ms[k], limit) << "during ms " << k << ".." << k + 1 << " after the blackhole";
    after_first += per_ms[k];
  }
  const double average = static_cast<double>(after_first) / static_cast<double>(per_ms.size() - 1);
  EXPECT_LE(average, 8.0) << "packets a millisecond into the dead path, after the first";
}

// f) A path dies under a bulk transfer over four slow paths (200 Mbit/s, as
// the fabric's tbf shapes them) on a busy host: 200 us of jitter per path and
// direction stands for a receiver or sender that is scheduled late. Goodput
// at the receiver, over 5 ms windows, stays above half of what it was before
// the failure except for less than 10 ms (the fabric bench's dip), and every
// message arrives exactly once, none failed. Before the congestion control
// reacted to the standing queue instead of the mean of noisy samples, the
// noise held goodput near half the paths' rate and the dip was 42 ms.
TEST(Behaviour, SlowPathsKeepGoingWhenOneDies) {
  ScenarioConfig c;
  c.seed = 1;
  c.net.paths = 4;
  c.net.link.rate_bps = 200'000'000;
  c.net.link.delay = 50_us;
  c.net.link.jitter = 200_us;
  c.net.link.queue_bytes = 192u << 10;  // tbf rate x latency 5 ms + burst 64 KiB
  c.workload = Workload::bulk;
  c.msg_size = 64u << 10;
  c.count = 1500;
  c.window = 64;
  c.time_limit = 10_s;
  const Time start = Time::zero() + 100_ms;
  c.blackholes.push_back({2, start});
  const ScenarioResult r = run_scenario(c);
  std::cout << "[f] dip " << r.dip.longest.us() / 1000.0 << " ms (limit 10 ms) below half of "
            << gbps(r.dip.baseline_bps) << "; lowest 5 ms window after the failure "
            << gbps(r.dip.min_after_bps) << "; goodput " << gbps(r.goodput_bps) << " over "
            << r.elapsed.us() / 1000.0 << " ms; " << r.failed << " failed; retransmissions "
            << r.retransmissions << "; shares " << shares(r) << "\n";
  expect_all_delivered_once(r, c.count);
  ASSERT_TRUE(r.dip.measured) << "deliveries before and after the failure";
  EXPECT_GT(r.path_a_to_b.at(2).dropped_blackhole, 0u) << "path 2 carried no traffic when it died";
  EXPECT_GT(r.elapsed, 300_ms) << "the transfer must go on well past the failure";
  EXPECT_LT(r.dip.longest, 10_ms);
}

}  // namespace
}  // namespace srdx::sim
