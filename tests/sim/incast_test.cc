// Congestion control under incast and mixed RTTs (issue 11), asserted in
// simulated time. The simulator is deterministic, so every figure here is
// exact; each test prints what it measured. README.md's incast table gives
// the same runs from srdx-sim's command line.
//
// The fabric: 4 paths of 10 Gbit/s (40 Gbit/s between the two routers),
// 10 us one way, tail-drop queues of 64 KiB or 256 KiB per path and
// direction, no random loss. Senders on one side, one receiver on the other:
// the paths are the bottleneck every sender shares. Defaults everywhere
// else (encryption on, 64 KiB initial window).
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "sim/scenario.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

constexpr uint64_t kGbit = 1'000'000'000;
constexpr uint32_t kPaths = 4;

struct Figures {
  double retransmitted = 0;  // sender retransmissions / sender data packets
  double goodput = 0;        // of the paths' capacity
  double fairness = 0;       // Jain's index while every sender has work
};

ScenarioConfig incast(uint32_t senders, uint64_t queue_bytes) {
  ScenarioConfig c;
  c.seed = 1;
  c.net.paths = kPaths;
  c.net.link.rate_bps = 10 * kGbit;
  c.net.link.delay = 10_us;
  c.net.link.queue_bytes = queue_bytes;
  c.workload = Workload::bulk;
  c.senders = senders;
  c.msg_size = 64u << 10;
  c.count = 3200 / senders;  // 210 MB in all: about 46 ms at 36 Gbit/s
  c.window = 32;
  c.time_limit = 10_s;
  return c;
}

Figures run(const ScenarioConfig& c, const char* name) {
  const ScenarioResult r = run_scenario(c);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.delivered, c.count * c.senders);
  EXPECT_EQ(r.failed, 0u);
  Figures f;
  f.retransmitted = static_cast<double>(r.sender_retransmissions) /
                    static_cast<double>(std::max<uint64_t>(r.sender_data_packets, 1));
  f.goodput = r.goodput_bps / (static_cast<double>(c.net.link.rate_bps) * kPaths);
  f.fairness = r.fairness;
  char line[256];
  std::snprintf(line, sizeof line,
                "[%s] retransmitted %.3f%% of %llu data packets, goodput %.1f%% of %.0f Gbit/s "
                "over %.1f ms, Jain's fairness %.4f over %.1f ms, p99.9 %.0f us\n",
                name, 100 * f.retransmitted, static_cast<unsigned long long>(r.sender_data_packets),
                100 * f.goodput, static_cast<double>(c.net.link.rate_bps) * kPaths / 1e9,
                r.elapsed.us() / 1000, f.fairness, r.contended.us() / 1000, r.latency.p999_us);
  std::cout << line;
  return f;
}

// Before this congestion control (delay only, a target that grew with the
// base RTT, each path's least RTT as its base, the window shrinking only on
// a stall), the same runs retransmitted 18.8% (16:1, 256 KiB), 48.6% (16:1,
// 64 KiB), 25.1% (64:1, 256 KiB) and 47.0% (64:1, 64 KiB) of the data
// packets the senders sent (12.9%, 36.1%, 17.0% and 34.3% of every packet,
// ACKs included, as issue 11 counted them).

// Fairness: a delay-based sender's share depends on the base RTT it
// measured, and one that measured it behind a queue others had built kept
// that queue (16:1 deep queues: base RTTs of 21.3 to 26.3 us, Jain's index
// 0.866; 64:1 shallow: 26 to 64 us, 0.70). The handshake's round trip as
// the first base RTT and the receiver's fair-share figure (feature share,
// docs/protocol.md) brought every run to 0.998 or more. Repairs at 64:1
// (1.66% into 256 KiB queues, 13.3% into 64 KiB) were the first round trip's
// 64 initial windows, now divided by the receiver among the connections
// that start together (hello_ack initial_window), and windows of a few
// packets that judged the queue only every few RTTs (congestion.cc): 0.003%
// and 0.81%. Every figure of issue 11 is met: these assert its targets.
TEST(Incast, SixteenToOneDeepQueues) {
  const Figures f = run(incast(16, 256u << 10), "16:1, 256 KiB");
  EXPECT_LE(f.retransmitted, 0.01);
  EXPECT_GE(f.goodput, 0.90);
  EXPECT_GE(f.fairness, 0.95);
}

TEST(Incast, SixteenToOneShallowQueues) {
  const Figures f = run(incast(16, 64u << 10), "16:1, 64 KiB");
  EXPECT_LE(f.retransmitted, 0.01);
  EXPECT_GE(f.goodput, 0.90);
  EXPECT_GE(f.fairness, 0.95);
}

TEST(Incast, SixtyFourToOneDeepQueues) {
  const Figures f = run(incast(64, 256u << 10), "64:1, 256 KiB");
  EXPECT_LE(f.retransmitted, 0.01);
  EXPECT_GE(f.goodput, 0.90);
  EXPECT_GE(f.fairness, 0.95);
}

TEST(Incast, SixtyFourToOneShallowQueues) {
  const Figures f = run(incast(64, 64u << 10), "64:1, 64 KiB");
  EXPECT_LE(f.retransmitted, 0.01);
  EXPECT_GE(f.goodput, 0.90);
  EXPECT_GE(f.fairness, 0.95);
}

// A flow with a 20 us RTT and one with a 1 ms RTT (490 us more each way
// between its host and the fabric) into one receiver over 4 paths of
// 1 Gbit/s: each gets at least a third of its fair share (half the paths'
// capacity) while both have work. A target that grew with the base RTT let
// the long flow keep 1 ms of queue, which the short one took for congestion;
// with a fixed target and growth of one packet per RTT whatever the RTT,
// the long flow got 0.10 of its share (RTT-fair growth, config.h: 0.37;
// with the receiver's fair share, feature share: 0.56).
TEST(Incast, ShortAndLongRttShareTheBottleneck) {
  ScenarioConfig c = incast(2, 256u << 10);
  c.net.link.rate_bps = 1 * kGbit;
  c.count = 600;  // 39 MB each: the first finishes after about 100 ms
  c.sender_delay = {Duration::zero(), 490_us};
  const ScenarioResult r = run_scenario(c);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.timed_out);
  ASSERT_EQ(r.sender_bytes.size(), 2u);
  const double capacity = static_cast<double>(c.net.link.rate_bps) * kPaths;
  const double fair = capacity / 2 * r.contended.sec() / 8;  // bytes
  const double short_share = static_cast<double>(r.sender_bytes[0]) / fair;
  const double long_share = static_cast<double>(r.sender_bytes[1]) / fair;
  std::printf(
      "[mixed RTT] over %.1f ms: the 20 us flow got %.4f of its fair share, the 1 ms "
      "flow %.4f (at least 0.33 each); goodput %.2f Gbit/s; retransmissions %llu\n",
      r.contended.us() / 1000, short_share, long_share, r.goodput_bps / 1e9,
      static_cast<unsigned long long>(r.sender_retransmissions));
  EXPECT_GE(r.contended, 50_ms) << "both flows must share the bottleneck for a while";
  EXPECT_GE(short_share, 1.0 / 3);
  EXPECT_GE(long_share, 1.0 / 3);
}

}  // namespace
}  // namespace srdx::sim
