// A Probe's samples: a fixed-size histogram per transport, so a probe of
// 2 x 10^6 pings keeps what one of 10 keeps, and record() (run in the poll
// loop for every echo) allocates nothing; the lease ends a probe nobody reads.
#include "probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

// Allocations made by this thread while `g_counting` is set. (The
// replacement operator new/delete pair is malloc/free: GCC's check cannot
// see that they match once inlined.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local bool g_counting = false;
thread_local uint64_t g_allocs = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting) ++g_allocs;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace srdx::ctl {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<Probe> make_probe(ProbeHistograms& hist, uint32_t lease_s = 30,
                                  bool listed = true) {
  ProbeRequest req;
  req.peer = "b";
  req.transport = ProbeTransport::both;
  req.count = 1000000;
  req.lease_s = lease_s;
  PeerConfig peer;
  peer.name = "b";
  return std::make_shared<Probe>(1, req, peer, listed, hist);
}

TEST(Probe, TwoMillionSamplesInFixedStorageWithoutAllocating) {
  ProbeHistograms hist;
  auto p = make_probe(hist);
  const nlohmann::json before = p->to_json();
  // Each transport's first sample makes its metrics series (once per probe).
  p->record(ProbeTransport::srdx, 1000);
  p->record(ProbeTransport::tcp, 1000);
  p->record_lost(ProbeTransport::srdx);
  p->record_lost(ProbeTransport::tcp);

  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> rtt(std::log(40e3), 0.6);
  std::vector<int64_t> srdx;
  srdx.reserve(1000000);
  for (int i = 0; i < 1000000; ++i) srdx.push_back(static_cast<int64_t>(rtt(rng)) + 1);
  g_allocs = 0;
  g_counting = true;
  for (int64_t ns : srdx) {
    p->record(ProbeTransport::srdx, ns);
    p->record(ProbeTransport::tcp, 2 * ns);
  }
  p->record_lost(ProbeTransport::tcp);
  g_counting = false;
  EXPECT_EQ(g_allocs, 0u) << "record() allocated in the poll loop";

  const nlohmann::json after = p->to_json();
  EXPECT_EQ(after["storage_bytes"], before["storage_bytes"]);
  EXPECT_LT(after["storage_bytes"].get<uint64_t>(), 64u * 1024);
  EXPECT_EQ(after["results"]["srdx"]["count"], 1000001u);
  EXPECT_EQ(after["results"]["tcp"]["lost"], 2u);
  EXPECT_EQ(after["progress"]["done"], (2000002u + 3u) / 2);

  // The percentiles are within 1% of the exact ones.
  srdx.push_back(1000);
  std::sort(srdx.begin(), srdx.end());
  for (auto [name, p_] : {std::pair{"p50_us", 0.5}, {"p99_us", 0.99}, {"p999_us", 0.999}}) {
    const size_t rank = static_cast<size_t>(std::ceil(p_ * static_cast<double>(srdx.size())));
    const double want = static_cast<double>(srdx[rank - 1]) / 1e3;
    const double got = after["results"]["srdx"][name].get<double>();
    EXPECT_NEAR(got, want, 0.01 * want) << name;
  }
  EXPECT_DOUBLE_EQ(after["results"]["srdx"]["max_us"].get<double>(),
                   static_cast<double>(srdx.back()) / 1e3);

  // Ended: the summaries stay, the histograms go.
  ASSERT_TRUE(p->finish(ProbeState::done));
  const nlohmann::json ended = p->to_json();
  EXPECT_EQ(ended["storage_bytes"], 0u);
  EXPECT_EQ(p->storage_bytes(), 0u);
  EXPECT_EQ(ended["results"], after["results"]);
  p->record(ProbeTransport::srdx, 5);  // late: dropped
  EXPECT_EQ(p->answered(ProbeTransport::srdx), 1000001u);

  // The metrics saw every sample, under the probe's series.
  const ProbeMetrics m = hist.copy();
  EXPECT_EQ(m.rtt.at(ProbeKey{"b", "srdx", "probe"}).count(), 1000001u);
  EXPECT_EQ(m.lost.at(ProbeKey{"b", "tcp", "probe"}), 2u);
}

TEST(Probe, LeaseEndsAProbeNobodyReads) {
  ProbeHistograms hist;
  auto kept = make_probe(hist, 3600);
  auto detached = make_probe(hist, 0);
  auto periodic = make_probe(hist, 1, false);  // periodic rounds have no lease
  auto leased = make_probe(hist, 1);
  EXPECT_FALSE(kept->lease_expired());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  kept->renew();
  EXPECT_FALSE(kept->lease_expired());
  EXPECT_FALSE(detached->lease_expired());
  EXPECT_FALSE(periodic->lease_expired());
  EXPECT_FALSE(detached->cancelled());
  EXPECT_TRUE(leased->lease_expired());
  EXPECT_TRUE(leased->cancelled());
  EXPECT_THAT(leased->reason(), HasSubstr("lease expired: not read for 1 s"));
  ASSERT_TRUE(leased->finish(ProbeState::cancelled));
  const nlohmann::json j = leased->to_json();
  EXPECT_EQ(j["state"], "cancelled");
  EXPECT_THAT(j["reason"].get<std::string>(), HasSubstr("lease expired"));
  EXPECT_EQ(j["lease_s"], 1u);
  EXPECT_EQ(detached->to_json()["lease_s"], 0u);
}

}  // namespace
}  // namespace srdx::ctl
