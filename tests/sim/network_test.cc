// The network model on its own: raw datagrams injected between probe ports,
// deliveries captured with their times. No endpoint involved.
#include "sim/network.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

namespace srdx::sim {
namespace {

using namespace srdx::literals;

constexpr Addr kA{0xC6120001, 7000};  // 198.18.0.1, side A
constexpr Addr kB{0xC6130001, 7000};  // 198.19.0.1, side B

struct Delivery {
  int64_t at_ns;
  uint16_t src_port;
  uint32_t path;
  uint64_t id;
  std::vector<uint8_t> bytes;
  bool duplicate, corrupted, reordered;
  bool operator==(const Delivery&) const = default;
};

// A port that records every delivery.
class Probe : public Port {
 public:
  void deliver(const Datagram& d, Time now) override {
    got.push_back(Delivery{now.ns(), d.src_port, d.path, d.id,
                           std::vector<uint8_t>(d.bytes.begin(), d.bytes.end()), d.duplicate,
                           d.corrupted, d.reordered});
  }
  std::vector<Delivery> got;
};

std::vector<uint8_t> packet(uint64_t n, size_t len) {
  std::vector<uint8_t> p(len);
  for (size_t i = 0; i < len; i++) p[i] = static_cast<uint8_t>(n * 31 + i);
  return p;
}

// Two probes across a network: A on side A, B on side B.
struct Fabric {
  explicit Fabric(NetworkConfig cfg) : net(cfg) {
    net.attach(a, kA, Side::a);
    net.attach(b, kB, Side::b);
  }
  bool send_ab(uint16_t port, size_t len, uint64_t n = 0) {
    return net.send(kA, port, kB, packet(n, len));
  }
  // A source port whose a->b packets take `path`.
  uint16_t port_for(uint32_t path) const {
    for (uint32_t p = 1000; p < 65535; p++) {
      if (net.path_of(kA, static_cast<uint16_t>(p), kB) == path) return static_cast<uint16_t>(p);
    }
    ADD_FAILURE() << "no port maps to path " << path;
    return 0;
  }
  Network net;
  Probe a, b;
};

NetworkConfig clean(uint32_t paths = 4) {
  NetworkConfig c;
  c.paths = paths;
  c.link = LinkParams{};
  c.link.delay = 10_us;
  return c;
}

NetworkConfig lossy(uint64_t seed) {
  NetworkConfig c = clean();
  c.seed = seed;
  c.link.loss = 0.1;
  c.link.duplicate = 0.05;
  c.link.reorder = 0.05;
  c.link.corrupt = 0.05;
  c.link.jitter = 5_us;
  c.link.rate_bps = 1'000'000'000;
  return c;
}

std::vector<Delivery> run_trace(uint64_t seed) {
  Fabric f(lossy(seed));
  for (uint64_t i = 0; i < 2000; i++) {
    f.net.at(Time::zero() + Duration::nanos(static_cast<int64_t>(i * 700)), [&f, i](Network&) {
      f.send_ab(static_cast<uint16_t>(1000 + i % 64), 200 + i % 700, i);
    });
  }
  f.net.run_until(Time::zero() + 1_s);
  return f.b.got;
}

TEST(SimNetwork, SameSeedSameTrace) {
  const auto t1 = run_trace(7);
  const auto t2 = run_trace(7);
  ASSERT_GT(t1.size(), 1500u);
  EXPECT_EQ(t1, t2);
}

TEST(SimNetwork, DifferentSeedDifferentTraceAndEcmpMap) {
  EXPECT_NE(run_trace(7), run_trace(8));
  Network n1(lossy(7)), n2(lossy(8));
  Probe a, b;
  n1.attach(a, kA, Side::a);
  n1.attach(b, kB, Side::b);
  Probe c, d;
  n2.attach(c, kA, Side::a);
  n2.attach(d, kB, Side::b);
  int differ = 0;
  for (uint16_t p = 1000; p < 1100; p++) differ += n1.path_of(kA, p, kB) != n2.path_of(kA, p, kB);
  EXPECT_GT(differ, 40);  // about 75 of 100 expected with 4 paths
}

TEST(SimNetwork, EcmpIsStickyPerEntropyAndSpreads) {
  Fabric f(clean(8));
  std::vector<int> per_path(8);
  for (uint16_t p = 1000; p < 1800; p++) {
    const uint32_t path = f.net.path_of(kA, p, kB);
    per_path[path]++;
    for (int i = 0; i < 3; i++) f.send_ab(p, 100);
  }
  f.net.run_until(Time::zero() + 1_ms);
  ASSERT_EQ(f.b.got.size(), 2400u);
  for (const Delivery& d : f.b.got) EXPECT_EQ(d.path, f.net.path_of(kA, d.src_port, kB));
  for (int n : per_path) EXPECT_NEAR(n, 100, 40);  // 800 ports over 8 paths
  // The reverse direction has its own salt: its map is not the mirror image.
  int same = 0;
  for (uint16_t p = 1000; p < 1800; p++)
    same += f.net.path_of(kB, p, kA) == f.net.path_of(kA, p, kB);
  EXPECT_LT(same, 200);
}

TEST(SimNetwork, DelayAndSerialisationAreExact) {
  NetworkConfig c = clean(1);
  c.link.delay = 10_us;
  c.link.rate_bps = 8'000'000;  // 1 byte per microsecond
  Fabric f(c);
  // 972 bytes + 28 bytes IPv4/UDP = 1000 bytes on the wire = 1 ms at 8 Mbit/s.
  ASSERT_TRUE(f.send_ab(5000, 972));
  ASSERT_TRUE(f.send_ab(5000, 972));  // waits for the first: departs at 1 ms
  f.net.run_until(Time::zero() + 10_ms);
  ASSERT_EQ(f.b.got.size(), 2u);
  EXPECT_EQ(f.b.got[0].at_ns, (1_ms + 10_us).ns());
  EXPECT_EQ(f.b.got[1].at_ns, (2_ms + 10_us).ns());
  EXPECT_EQ(f.net.now(), Time::zero() + 10_ms);
}

TEST(SimNetwork, TimeJumpsToEvents) {
  Fabric f(clean(1));
  std::vector<int64_t> seen;
  f.net.at(Time::zero() + 3_ms, [&](Network& n) {
    seen.push_back(n.now().ns());
    n.send(kA, 1, kB, packet(0, 10));
  });
  EXPECT_TRUE(f.net.step());
  EXPECT_EQ(f.net.now(), Time::zero() + 3_ms);
  EXPECT_TRUE(f.net.step());
  EXPECT_EQ(f.net.now(), Time::zero() + 3_ms + 10_us);
  EXPECT_EQ(f.b.got.size(), 1u);
  EXPECT_FALSE(f.net.step());
  EXPECT_EQ(f.net.next_event(), Time::infinite());
}

TEST(SimNetwork, JitterKeepsFifoPerPath) {
  NetworkConfig c = clean(1);
  c.link.jitter = 50_us;
  Fabric f(c);
  for (uint64_t i = 0; i < 500; i++) {
    f.net.at(Time::zero() + Duration::micros(static_cast<int64_t>(i)),
             [&f, i](Network&) { f.send_ab(1234, 100, i); });
  }
  f.net.run_until(Time::zero() + 10_ms);
  ASSERT_EQ(f.b.got.size(), 500u);
  int64_t spread = 0;
  for (size_t i = 0; i < 500; i++) {
    EXPECT_EQ(f.b.got[i].bytes, packet(i, 100)) << "packet " << i << " out of order";
    spread = std::max(spread, f.b.got[i].at_ns - static_cast<int64_t>(i) * 1000 - 10000);
    if (i > 0) {
      EXPECT_GE(f.b.got[i].at_ns, f.b.got[i - 1].at_ns);
    }
  }
  EXPECT_GT(spread, 20000);  // the jitter did add delay
  EXPECT_LE(spread, 50000 + 50000);
}

TEST(SimNetwork, ReorderingLetsLaterPacketsOvertake) {
  NetworkConfig c = clean(1);
  c.link.reorder = 0.2;
  c.link.reorder_delay = 30_us;
  Fabric f(c);
  for (uint64_t i = 0; i < 1000; i++) {
    f.net.at(Time::zero() + Duration::micros(static_cast<int64_t>(i)),
             [&f, i](Network&) { f.send_ab(1234, 100, i); });
  }
  f.net.run_until(Time::zero() + 10_ms);
  ASSERT_EQ(f.b.got.size(), 1000u);
  int inversions = 0;
  for (size_t i = 1; i < f.b.got.size(); i++) inversions += f.b.got[i].id < f.b.got[i - 1].id;
  const uint64_t reordered = f.net.link(0, Dir::a_to_b).counters.reordered;
  EXPECT_NEAR(static_cast<double>(reordered), 200, 50);
  EXPECT_GT(inversions, 100);
  for (const Delivery& d : f.b.got) {
    if (!d.reordered) continue;
    EXPECT_GT(d.at_ns, static_cast<int64_t>(d.id) * 1000 + 10000);
    EXPECT_LE(d.at_ns, static_cast<int64_t>(d.id) * 1000 + 10000 + 30000);
  }
}

TEST(SimNetwork, QueueTailDropsAtTheByteLimit) {
  NetworkConfig c = clean(1);
  c.link.rate_bps = 8'000'000;
  c.link.queue_bytes = 3000;
  Fabric f(c);
  for (int i = 0; i < 5; i++) EXPECT_TRUE(f.send_ab(1, 972));  // 1000 wire bytes each
  const LinkCounters& k = f.net.link(0, Dir::a_to_b).counters;
  EXPECT_EQ(k.enqueued_packets, 5u);
  EXPECT_EQ(k.dropped_queue, 2u);
  EXPECT_EQ(f.net.link(0, Dir::a_to_b).backlog_bytes(f.net.now()), 3000u);
  // Half a packet later 500 bytes have left: still no room for 1000 more.
  f.net.run_until(Time::zero() + 500_us);
  EXPECT_TRUE(f.send_ab(1, 972));
  EXPECT_EQ(k.dropped_queue, 3u);
  // After the first has left there is room for exactly one.
  f.net.run_until(Time::zero() + 1_ms);
  EXPECT_TRUE(f.send_ab(1, 972));
  EXPECT_TRUE(f.send_ab(1, 972));
  EXPECT_EQ(k.dropped_queue, 4u);
  f.net.run_until(Time::zero() + 10_ms);
  EXPECT_EQ(f.b.got.size(), 4u);
  EXPECT_EQ(k.delivered_packets, 4u);
  EXPECT_EQ(f.b.got.back().at_ns, (4_ms + 10_us).ns());
  // The other direction has its own queue: untouched.
  EXPECT_EQ(f.net.link(0, Dir::b_to_a).counters.enqueued_packets, 0u);
}

TEST(SimNetwork, LossRateWithinBounds) {
  NetworkConfig c = clean(4);
  c.seed = 42;
  c.link.loss = 0.01;
  Fabric f(c);
  const int n = 100000;
  for (int i = 0; i < n; i++) f.send_ab(static_cast<uint16_t>(1000 + i % 256), 64);
  f.net.run_until(Time::zero() + 1_ms);
  const LinkCounters t = f.net.total(Dir::a_to_b);
  EXPECT_EQ(t.enqueued_packets, static_cast<uint64_t>(n));
  // Binomial(100000, 0.01): mean 1000, sd ~31.5; allow 5 sd.
  EXPECT_NEAR(static_cast<double>(t.dropped_loss), 1000.0, 160.0);
  EXPECT_EQ(f.b.got.size(), n - t.dropped_loss);
  EXPECT_EQ(t.delivered_packets, f.b.got.size());
}

TEST(SimNetwork, DuplicationDeliversTwoIdenticalCopies) {
  NetworkConfig c = clean(1);
  c.link.duplicate = 0.1;
  Fabric f(c);
  for (uint64_t i = 0; i < 10000; i++) f.send_ab(1, 50, i);
  f.net.run_until(Time::zero() + 1_ms);
  const uint64_t dups = f.net.link(0, Dir::a_to_b).counters.duplicated;
  EXPECT_NEAR(static_cast<double>(dups), 1000.0, 150.0);
  ASSERT_EQ(f.b.got.size(), 10000 + dups);
  std::multiset<uint64_t> ids;
  for (size_t i = 0; i < f.b.got.size(); i++) {
    const Delivery& d = f.b.got[i];
    ids.insert(d.id);
    EXPECT_EQ(d.bytes, packet(d.id, 50));
    if (d.duplicate) {  // right behind its original, same time, same bytes
      ASSERT_GT(i, 0u);
      EXPECT_EQ(f.b.got[i - 1].id, d.id);
      EXPECT_EQ(f.b.got[i - 1].at_ns, d.at_ns);
    }
  }
  uint64_t twice = 0;
  for (uint64_t i = 0; i < 10000; i++) twice += ids.count(i) == 2;
  EXPECT_EQ(twice, dups);
}

TEST(SimNetwork, CorruptionChangesBytes) {
  NetworkConfig c = clean(1);
  c.link.corrupt = 0.2;
  Fabric f(c);
  for (uint64_t i = 0; i < 5000; i++) f.send_ab(1, 300, i);
  f.net.run_until(Time::zero() + 1_ms);
  ASSERT_EQ(f.b.got.size(), 5000u);
  uint64_t changed = 0;
  for (const Delivery& d : f.b.got) {
    const bool differs = d.bytes != packet(d.id, 300);
    EXPECT_EQ(differs, d.corrupted) << "packet " << d.id;
    EXPECT_EQ(d.bytes.size(), 300u);
    changed += differs;
  }
  EXPECT_EQ(changed, f.net.link(0, Dir::a_to_b).counters.corrupted);
  EXPECT_NEAR(static_cast<double>(changed), 1000.0, 150.0);
}

TEST(SimNetwork, BlackholeDropsAllThenRestores) {
  NetworkConfig c = clean(4);
  c.link.delay = 150_us;
  Fabric f(c);
  const uint16_t on2 = f.port_for(2), on1 = f.port_for(1);
  f.net.at(Time::zero() + 1_ms,
           [](Network& n) { n.set_path(2, [](LinkParams& l) { l.blackhole = true; }); });
  f.net.at(Time::zero() + 3_ms,
           [](Network& n) { n.set_path(2, [](LinkParams& l) { l.blackhole = false; }); });
  for (int i = 0; i < 50; i++) {  // one packet on each path every 100 us
    f.net.at(Time::zero() + Duration::micros(i * 100), [&f, on1, on2](Network& n) {
      n.send(kA, on1, kB, packet(1, 10));
      n.send(kA, on2, kB, packet(2, 10));
    });
  }
  f.net.run_until(Time::zero() + 10_ms);
  const LinkCounters& k2 = f.net.link(2, Dir::a_to_b).counters;
  const LinkCounters& k1 = f.net.link(1, Dir::a_to_b).counters;
  EXPECT_EQ(k1.delivered_packets, 50u);
  // Those sent at 1.0 .. 2.9 ms are dropped, and the one sent at 0.9 ms, still
  // on the wire at 1 ms, too; the one sent at 2.9 ms arrives after 3 ms but
  // entered while the path was dark.
  EXPECT_EQ(k2.dropped_blackhole, 21u);
  EXPECT_EQ(k2.delivered_packets, 29u);
  for (const Delivery& d : f.b.got) {
    if (d.path == 2) {
      EXPECT_TRUE(d.at_ns < (1_ms).ns() || d.at_ns > (3_ms).ns());
    }
  }
}

TEST(SimNetwork, MidRunParameterChange) {
  NetworkConfig c = clean(1);
  c.link.rate_bps = 8'000'000;
  Fabric f(c);
  f.net.at(Time::zero() + 5_ms, [](Network& n) {
    n.set_all([](LinkParams& l) {
      l.rate_bps = 80'000'000;
      l.delay = 100_us;
    });
  });
  f.send_ab(1, 972);  // old parameters: 1 ms + 10 us
  f.net.at(Time::zero() + 6_ms, [&f](Network&) { f.send_ab(1, 972); });  // 100 us + 100 us
  f.net.run_until(Time::zero() + 10_ms);
  ASSERT_EQ(f.b.got.size(), 2u);
  EXPECT_EQ(f.b.got[0].at_ns, (1010_us).ns());
  EXPECT_EQ(f.b.got[1].at_ns, (6_ms + 200_us).ns());
}

TEST(SimNetwork, DirectionsAreIndependent) {
  NetworkConfig c = clean(1);
  Fabric f(c);
  f.net.link(0, Dir::b_to_a).params.delay = 1_ms;
  f.send_ab(1, 10);
  f.net.send(kB, 1, kA, packet(0, 10));
  f.net.run_until(Time::zero() + 5_ms);
  ASSERT_EQ(f.b.got.size(), 1u);
  ASSERT_EQ(f.a.got.size(), 1u);
  EXPECT_EQ(f.b.got[0].at_ns, (10_us).ns());
  EXPECT_EQ(f.a.got[0].at_ns, (1_ms).ns());
  EXPECT_EQ(f.net.link(0, Dir::b_to_a).counters.delivered_packets, 1u);
}

TEST(SimNetwork, UnknownDestinationAndOversizeAreRefused) {
  Fabric f(clean(1));
  EXPECT_FALSE(f.net.send(kA, 1, Addr{1, 2}, packet(0, 10)));
  EXPECT_FALSE(f.net.send(kA, 1, kB, std::vector<uint8_t>(70000)));
  EXPECT_EQ(f.net.counters().no_route, 1u);
  EXPECT_EQ(f.net.counters().too_large, 1u);
  Probe dup;
  EXPECT_THROW(f.net.attach(dup, kA, Side::a), std::invalid_argument);
}

TEST(SimNetwork, RunWhileStopsOnPredicateOrLimit) {
  Fabric f(clean(1));
  for (int i = 0; i < 10; i++) f.send_ab(1, 10);
  EXPECT_TRUE(f.net.run_while([&] { return f.b.got.size() < 10; }, Time::zero() + 1_s));
  EXPECT_EQ(f.net.now(), Time::zero() + 10_us);
  EXPECT_FALSE(f.net.run_while([] { return true; }, Time::zero() + 2_ms));
  EXPECT_EQ(f.net.now(), Time::zero() + 2_ms);
}

}  // namespace
}  // namespace srdx::sim

namespace srdx::sim {
namespace {

// A host's access delay adds to every datagram it sends or receives, after
// the fabric: both directions, once per end; other hosts are unaffected.
TEST(SimNetwork, AccessDelayAddsToBothDirectionsOfThatHostOnly) {
  Fabric f(clean());
  Probe far;
  const Addr kFar{0xC6120002, 7000};
  f.net.attach(far, kFar, Side::a);
  f.net.set_access_delay(kFar, 490_us);
  ASSERT_TRUE(f.send_ab(1000, 100));
  ASSERT_TRUE(f.net.send(kFar, 1000, kB, packet(1, 100)));
  ASSERT_TRUE(f.net.send(kB, 1000, kFar, packet(2, 100)));
  f.net.run_until(Time::zero() + 10_ms);
  ASSERT_EQ(f.b.got.size(), 2u);
  EXPECT_EQ(f.b.got[0].at_ns, (10_us).ns());           // from A: the path's delay alone
  EXPECT_EQ(f.b.got[1].at_ns, (10_us + 490_us).ns());  // from the far host
  ASSERT_EQ(far.got.size(), 1u);
  EXPECT_EQ(far.got[0].at_ns, (10_us + 490_us).ns());  // to the far host
  EXPECT_THROW(f.net.set_access_delay(Addr{1, 1}, 1_us), std::invalid_argument);
  EXPECT_THROW(f.net.set_access_delay(kFar, Duration::nanos(-1)), std::invalid_argument);
  f.net.detach(far);
}

}  // namespace
}  // namespace srdx::sim
