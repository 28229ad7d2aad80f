// ACK path choice from the data sender's echoes (transport/ack_paths.h).
#include "ack_paths.h"

#include <gtest/gtest.h>

#include <set>

namespace srdx {
namespace {

using namespace srdx::literals;
const Time kT0 = Time::zero() + 1_ms;

TEST(AckPaths, WithNothingProvenAcksRetraceTheData) {
  AckPaths a;
  EXPECT_EQ(a.choose(100, 7, kT0), 100);
  EXPECT_EQ(a.choose(101, 7, kT0), 101);
  EXPECT_EQ(a.choose(0, 7, kT0), 7);  // no data entropy: the caller's
  EXPECT_EQ(a.proven(), 0u);
}

TEST(AckPaths, EchoedEntropiesCarryTheAcksRoundRobinWithExploration) {
  AckPaths a;
  a.choose(100, 0, kT0);
  a.choose(200, 0, kT0);
  a.on_echo(100, kT0 + 20_us);
  a.on_echo(200, kT0 + 20_us);
  EXPECT_EQ(a.proven(), 2u);
  std::multiset<uint16_t> seen;
  for (int i = 0; i < 64; ++i) {
    const uint16_t e = a.choose(static_cast<uint16_t>(1000 + i), 0, kT0 + 30_us);
    seen.insert(e);
    // Keep both proven: the sender echoes what arrives.
    if (e == 100 || e == 200) a.on_echo(e, kT0 + 40_us);
  }
  // One ACK in kExploreEvery retraces the data; the rest share the proven two.
  const size_t explored = 64 - seen.count(100) - seen.count(200);
  EXPECT_EQ(explored, 64 / AckPaths::kExploreEvery);
  EXPECT_GE(seen.count(100), 27u);
  EXPECT_GE(seen.count(200), 27u);
}

TEST(AckPaths, AnEntropyWhoseAcksGoUnechoedIsDropped) {
  AckPaths a;
  a.choose(100, 0, kT0);
  a.choose(200, 0, kT0);
  a.on_echo(100, kT0 + 20_us);  // echo time ~20us
  a.on_echo(200, kT0 + 20_us);
  // ACKs on 200 keep arriving, those on 100 no longer do.
  Time t = kT0 + 50_us;
  for (int i = 0; i < 20 && a.is_proven(100); ++i, t = t + 10_us) {
    const uint16_t e = a.choose(300, 0, t);
    if (e == 200) a.on_echo(200, t + 20_us);
  }
  EXPECT_FALSE(a.is_proven(100));
  EXPECT_TRUE(a.is_proven(200));
  EXPECT_EQ(a.dropped(), 1u);
}

TEST(AckPaths, SilenceWhileDataKeepsComingDropsEveryProvenEntropy) {
  AckPaths a;
  a.choose(100, 0, kT0);
  a.on_echo(100, kT0 + 20_us);
  ASSERT_TRUE(a.is_proven(100));
  // Every ACK path died: data still arrives (judge) but never an echo.
  Time t = kT0 + 30_us;
  for (int i = 0; i < 10; ++i, t = t + 10_us) {
    a.choose(300, 0, t);
    a.judge(t);
  }
  EXPECT_EQ(a.proven(), 0u);
  // Then ACKs retrace the data again: exploration finds a new path.
  EXPECT_EQ(a.choose(555, 0, t), 555);
}

TEST(AckPaths, ExploreRetracesTheGivenEntropyWhateverIsProven) {
  AckPaths a;
  a.choose(100, 0, kT0);
  a.on_echo(100, kT0 + 20_us);
  EXPECT_EQ(a.choose(4242, 0, kT0 + 30_us, true), 4242);
}

TEST(EchoQueue, EachAckEntropyIsEchoedOnceInArrivalOrder) {
  EchoQueue q;
  EXPECT_EQ(q.next(), 0);
  q.on_ack(5);
  q.on_ack(6);
  q.on_ack(5);  // already waiting
  q.on_ack(0);  // not an entropy
  EXPECT_EQ(q.next(), 5);
  EXPECT_EQ(q.next(), 6);
  EXPECT_EQ(q.next(), 0);
  // Bounded: the oldest go first when it overflows.
  for (uint16_t e = 1; e <= EchoQueue::kSize + 2; ++e) q.on_ack(e);
  EXPECT_EQ(q.next(), 3);
}

}  // namespace
}  // namespace srdx
