// Port events on ports whose link really goes down, in a network namespace
// this test makes (and deletes) for itself: the process enters it before EAL
// starts, so DPDK's interrupt thread and every interface live there.
//  - net_af_packet over a veth pair, a transfer running between two
//    endpoints: the interface is set down (ip link set), the links see it
//    (net_af_packet reports its link up whatever the interface does: the
//    link reads the interface's state), traffic stops, the interface comes
//    back, traffic resumes, and every message arrives exactly once.
// No PMD on this machine raises LSC, RESET or RMV events to the application
// (net_tap follows its interface through netlink but, in DPDK 22.11, calls
// no callback): link_test.cc drives that path with raise_port_event().
// Needs root (namespaces, interfaces): exits 77 (skipped) without it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dpdk/dpdk_link.h"
#include "dpdk/eal.h"
#include "link_test_util.h"
#include "netns_env.h"
#include "transfer_util.h"

namespace srdx::dp {
namespace {

constexpr uint32_t kIpA = 0xc6120001;  // 198.18.0.1
constexpr uint32_t kIpB = 0xc6120002;  // 198.18.0.2

using test::sh;

[[maybe_unused]] const auto* const kEnv = ::testing::AddGlobalTestEnvironment(
    new test::NetnsEnvironment("srdx-ev-", "dpdk_port_events", [] {
      ASSERT_TRUE(sh("ip link add srdxa type veth peer name srdxb"));
      ASSERT_TRUE(sh("ip link set srdxa up"));
      ASSERT_TRUE(sh("ip link set srdxb up"));
      eal_init({"--no-huge", "-m", "256", "--no-pci", "--log-level=lib.eal:warning"},
               "net_af_packet0");
    }));

TEST(PortEventsAfPacket, LinkDownAndUpMidTransferLosesNoMessage) {
  LinkConfig ca = test::config("net_af_packet0,iface=srdxa", kIpA);
  LinkConfig cb = test::config("net_af_packet1,iface=srdxb", kIpB);
  ::testing::internal::CaptureStderr();
  {
    test::Node a(ca, 1), b(cb, 2);
    EXPECT_TRUE(as_dpdk(a.link.get())->port_health().kernel_interface);
    EXPECT_TRUE(as_dpdk(a.link.get())->port_health().link_up);
    test::Transfer t(a, b);
    ASSERT_TRUE(test::Transfer::wait([&] { return t.completed() >= 200; }))
        << t.completed() << " completed";

    ASSERT_TRUE(sh("ip link set srdxa down"));
    // A sees its interface down; B its peer's carrier gone.
    ASSERT_TRUE(test::Transfer::wait([&] { return !a.port_health().link_up; }));
    ASSERT_TRUE(test::Transfer::wait([&] { return !b.port_health().link_up; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t during = t.received();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(t.received(), during) << "nothing crosses a link that is down";
    const uint64_t at_down = t.completed();

    ASSERT_TRUE(sh("ip link set srdxa up"));
    ASSERT_TRUE(test::Transfer::wait([&] { return a.port_health().link_up; }));
    ASSERT_TRUE(test::Transfer::wait([&] { return b.port_health().link_up; }));
    ASSERT_TRUE(test::Transfer::wait([&] { return t.completed() >= at_down + 200; }))
        << "traffic did not resume: " << t.completed() - at_down << " completed since";
    t.finish_and_check();
    const DpdkPortHealth ha = a.port_health(), hb = b.port_health();
    EXPECT_EQ(ha.link_down_events, 1u);
    EXPECT_EQ(ha.link_up_events, 1u);
    EXPECT_EQ(hb.link_down_events, 1u);
    EXPECT_EQ(hb.link_up_events, 1u);
    EXPECT_GT(a.ep->stats().retransmissions, 0u) << "what the outage lost was sent again";
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("link down (interface srdxa)"), std::string::npos) << log;
  EXPECT_NE(log.find("link up (interface srdxa)"), std::string::npos) << log;
}

}  // namespace
}  // namespace srdx::dp
