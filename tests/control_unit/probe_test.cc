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

// A carrier that keeps what the pinger sends and answers nothing itself.
class FakeCarrier : public carrier::Carrier {
 public:
  std::vector<std::vector<uint8_t>> sent;
  std::string_view kind() const override { return "fake"; }
  std::string local_name() const override { return "fake"; }
  Result<PeerId> add_peer(std::string_view) override { return Result<PeerId>{PeerId{1}}; }
  Result<MsgId> send(PeerId, std::span<const uint8_t> data, const SendOptions&, Time) override {
    sent.emplace_back(data.begin(), data.end());
    return Result<MsgId>{MsgId{sent.size()}};
  }
  bool peer_reachable(PeerId) const override { return true; }
  Errc remove_peer(PeerId, Time) override { return Errc::ok; }
  bool poll_once(Time) override { return false; }
  void run(const std::atomic<bool>&) override {}
  int wait_fd() const override { return -1; }
  void wake() override {}
  Time next_deadline() const override { return Time::infinite(); }
  carrier::CarrierStats stats() const override { return {}; }
};

Event echo_of(std::span<const uint8_t> data) {
  Event ev;
  ev.type = EventType::message_received;
  ev.flow = 0xFFFF;
  ev.peer = PeerId{1};
  ev.data = data;
  return ev;
}

// An echo counts only when it is the whole ping, byte for byte, at any size:
// one with the right first 8 (or 16) bytes and a wrong tail is no answer.
TEST(SrdxPinger, EchoMustMatchTheWholePayload) {
  for (uint32_t size : {1u, 8u, 12u, 16u, 17u, 64u, 1400u}) {
    SCOPED_TRACE("size " + std::to_string(size));
    ProbeHistograms hist;
    auto probe = make_probe(hist);
    FakeCarrier carrier;
    SrdxPinger pinger(carrier, 0x0123456789abcdefull);
    auto batch = std::make_shared<SrdxBatch>();
    batch->probe = probe;
    batch->peer = "b";
    batch->size = size;
    batch->count = 2;
    Time now = Time::from_ns(1000000000);
    pinger.add(batch, PeerId{1}, now);
    pinger.tick(now);
    ASSERT_EQ(carrier.sent.size(), 1u);
    const std::vector<uint8_t> ping = carrier.sent[0];
    ASSERT_EQ(ping.size(), size);

    if (size > 8) {
      // The first 8 bytes (the daemon's magic) right, the last byte wrong.
      std::vector<uint8_t> bad = ping;
      bad.back() ^= 0x5a;
      EXPECT_TRUE(pinger.on_message(echo_of(bad), now + Duration::micros(10)));
      EXPECT_EQ(probe->answered(ProbeTransport::srdx), 0u);
    }
    // One byte short, and one byte long.
    std::vector<uint8_t> shorter(ping.begin(), ping.end() - 1);
    if (!shorter.empty()) pinger.on_message(echo_of(shorter), now + Duration::micros(15));
    std::vector<uint8_t> longer = ping;
    longer.push_back(0);
    pinger.on_message(echo_of(longer), now + Duration::micros(15));
    EXPECT_EQ(probe->answered(ProbeTransport::srdx), 0u);

    EXPECT_TRUE(pinger.on_message(echo_of(ping), now + Duration::micros(20)));
    EXPECT_EQ(probe->answered(ProbeTransport::srdx), 1u);
  }
}

}  // namespace
}  // namespace srdx::ctl
