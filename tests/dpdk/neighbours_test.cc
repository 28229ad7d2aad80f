// neighbours.h: next-hop choice, static and learned entries, ARP rate limit.
#include "dpdk/neighbours.h"

#include <gtest/gtest.h>

namespace srdx::dp {
namespace {

constexpr frame::Mac kA = {0x02, 0, 0, 0, 0, 0x0a};
constexpr frame::Mac kB = {0x02, 0, 0, 0, 0, 0x0b};
constexpr uint32_t kLocal = 0xc6120001;  // 198.18.0.1/24
constexpr uint32_t kGw = 0xc61200fe;

NeighbourConfig cfg(uint32_t gateway = kGw) {
  NeighbourConfig c;
  c.local_ip = kLocal;
  c.prefix_len = 24;
  c.gateway = gateway;
  c.retry_ns = 1000;
  return c;
}

TEST(Neighbours, NextHop) {
  NeighbourTable t(cfg());
  EXPECT_EQ(t.next_hop(0xc6120063), 0xc6120063u);  // on-link
  EXPECT_EQ(t.next_hop(0xc6130002), kGw);          // 198.19.0.2 via the gateway
  NeighbourTable no_gw(cfg(0));
  EXPECT_EQ(no_gw.next_hop(0xc6130002), 0xc6130002u);  // no gateway: everything on-link
  NeighbourConfig c = cfg();
  c.prefix_len = 0;
  EXPECT_EQ(NeighbourTable(c).next_hop(0x01020304), 0x01020304u);
  c.prefix_len = 32;
  EXPECT_EQ(NeighbourTable(c).next_hop(kLocal + 1), kGw);
  EXPECT_EQ(NeighbourTable(c).next_hop(kLocal), kLocal);
}

TEST(Neighbours, StaticEntriesWin) {
  NeighbourTable t(cfg());
  t.add_static(kGw, kA);
  t.learn(kGw, kB);
  ASSERT_NE(t.lookup(kGw), nullptr);
  EXPECT_EQ(*t.lookup(kGw), kA);
  EXPECT_FALSE(t.should_request(kGw, 0));
}

TEST(Neighbours, LearnAndRefresh) {
  NeighbourTable t(cfg());
  EXPECT_EQ(t.lookup(kLocal + 1), nullptr);
  t.learn(kLocal + 1, kA, /*refresh_only=*/true);  // not addressed to us: not added
  EXPECT_EQ(t.lookup(kLocal + 1), nullptr);
  t.learn(kLocal + 1, kA);
  EXPECT_EQ(*t.lookup(kLocal + 1), kA);
  t.learn(kLocal + 1, kB, /*refresh_only=*/true);  // known: refreshed
  EXPECT_EQ(*t.lookup(kLocal + 1), kB);
  // Never a broadcast, multicast or zero MAC, never address 0.
  t.learn(kLocal + 2, frame::kBroadcast);
  t.learn(kLocal + 3, frame::Mac{0x01, 0, 0x5e, 0, 0, 1});
  t.learn(kLocal + 4, frame::Mac{});
  t.learn(0, kA);
  EXPECT_EQ(t.size(), 1u);
}

TEST(Neighbours, Capacity) {
  NeighbourConfig c = cfg();
  c.capacity = 2;
  NeighbourTable t(c);
  t.learn(kLocal + 1, kA);
  t.learn(kLocal + 2, kA);
  t.learn(kLocal + 3, kA);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.lookup(kLocal + 3), nullptr);
  t.learn(kLocal + 2, kB);  // a full table still refreshes
  EXPECT_EQ(*t.lookup(kLocal + 2), kB);
}

TEST(Neighbours, RequestsAreRateLimited) {
  NeighbourTable t(cfg());
  const uint32_t ip = kLocal + 9;
  EXPECT_TRUE(t.should_request(ip, 5000));
  EXPECT_FALSE(t.should_request(ip, 5000));
  EXPECT_FALSE(t.should_request(ip, 5999));
  EXPECT_TRUE(t.should_request(ip, 6000));      // retry_ns later
  EXPECT_TRUE(t.should_request(ip + 1, 6000));  // per address
  t.learn(ip, kA);
  EXPECT_FALSE(t.should_request(ip, 100000));  // resolved
}

}  // namespace
}  // namespace srdx::dp
