// Idle on Rx interrupts (dpdk_link.h, Idle): two dpdk links on net_tap ports
// (the PMD here that has Rx interrupts in DPDK 22.11), joined by a kernel
// bridge in a network namespace this test makes (and deletes) for itself,
// and two on net_af_xdp over a veth pair there.
// Each link is run by the poll loop that ships (Poller::run on its own
// thread) with long sleeps, so that only an interrupt, not a timeout, can
// wake a loop promptly:
//  - the link reports Rx interrupts (port_info, wait_fd, counters);
//  - in a ping-pong with pauses between pings, both loops go to sleep armed
//    and are woken by the link (PollerStats idle_sleeps, armed_sleeps,
//    wakeups_by_link), and every ping and echo arrives exactly once;
//  - the same ping-pong over net_af_xdp on a veth pair, which has no Rx
//    interrupts: the links sleep on the PMD's AF_XDP sockets;
//  - with IdleMode::busy_poll the loop never sleeps or arms.
// Needs root (namespaces, interfaces): exits 77 (skipped) without it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dpdk/dpdk_link.h"
#include "dpdk/eal.h"
#include "link_test_util.h"
#include "netns_env.h"
#include "transfer_util.h"

namespace srdx::dp {
namespace {

constexpr uint32_t kIpA = 0xc6120101;  // 198.18.1.1
constexpr uint32_t kIpB = 0xc6120102;  // 198.18.1.2

using test::sh;

[[maybe_unused]] const auto* const kEnv =
    ::testing::AddGlobalTestEnvironment(new test::NetnsEnvironment("srdx-idle-", "dpdk_idle", [] {
      ASSERT_TRUE(sh("ip link add srdxbr type bridge"));
      ASSERT_TRUE(sh("ip link set srdxbr up"));
      eal_init({"--no-huge", "-m", "256", "--no-pci", "--log-level=lib.eal:warning"}, "net_tap0");
    }));

// The tap interface the port made, put on the bridge and up. net_tap gives
// the interface the port's MAC; the bridge would keep frames for its own
// port's address (a local entry) instead of forwarding them out of that
// port, so the interface gets another (02:5a:.., the name's last digit).
void bridge(const std::string& iface) {
  ASSERT_TRUE(sh("ip link set " + iface + " address 02:5a:00:00:00:0" + iface.back()));
  ASSERT_TRUE(sh("ip link set " + iface + " master srdxbr"));
  ASSERT_TRUE(sh("ip link set " + iface + " up"));
}

// A node whose loop sleeps up to a second when idle: a packet that finds it
// asleep is seen promptly only if the link's interrupt wakes it.
void sleepy(test::Node& n, IdleMode mode) {
  PollerConfig pc;
  pc.idle = mode;
  pc.spin_iterations = 50;
  pc.max_sleep = Duration::seconds(1);
  n.poller = std::make_unique<Poller>(*n.link, *n.ep, pc);
}

uint64_t counter(Link& link, std::string_view name) {
  for (const auto& [k, v] : link.backend_counters())
    if (k == name) return v;
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

// A sends pings to B one at a time (the test thread asks for each, then
// waits for its echo and lets both loops fall asleep); B echoes each.
struct PingPong {
  static constexpr size_t kSize = 64;
  test::Node& a;
  test::Node& b;
  PeerId to_b = kNoPeer, to_a = kNoPeer;
  std::atomic<uint32_t> asked{0}, sent{0}, echoes{0}, pings{0}, bad{0}, failed{0};

  PingPong(test::Node& na, test::Node& nb) : a(na), b(nb) {
    Result<PeerId> p = a.ep->add_peer(b.link->local(), b.ep->public_key());
    Result<PeerId> q = b.ep->add_peer(a.link->local(), a.ep->public_key());
    EXPECT_TRUE(p.ok() && q.ok());
    to_b = p.value;
    to_a = q.value;
    a.poller->on_event([this](const Event& ev, Time) {
      if (ev.type == EventType::send_failed) failed.fetch_add(1);
      if (ev.type != EventType::message_received) return;
      const std::vector<uint8_t> want = test::message(echoes.load(), kSize);
      if (!std::equal(ev.data.begin(), ev.data.end(), want.begin(), want.end())) bad.fetch_add(1);
      echoes.fetch_add(1);
    });
    b.poller->on_event([this](const Event& ev, Time now) {
      if (ev.type == EventType::send_failed) failed.fetch_add(1);
      if (ev.type != EventType::message_received) return;
      pings.fetch_add(1);
      std::vector<uint8_t> echo(ev.data.begin(), ev.data.end());
      if (!b.ep->send(to_a, echo, {}, now).ok()) failed.fetch_add(1);
    });
    a.start([this](Time now) {
      while (sent.load() < asked.load()) {
        if (!a.ep->send(to_b, test::message(sent.load(), kSize), {}, now).ok()) failed.fetch_add(1);
        sent.fetch_add(1);
      }
    });
    b.start();
  }

  // One ping and its echo; false when the echo did not come.
  bool once() {
    const uint32_t want = asked.fetch_add(1) + 1;
    a.poller->wake();
    return test::Transfer::wait([&] { return echoes.load() >= want; });
  }
};

// kPings pings with a pause after each echo (both loops go idle and to
// sleep before the next), then stops both loops: every ping and echo
// arrived exactly once. B's loop stats, for what its sleeps were.
constexpr uint32_t kPings = 40;
PollerStats paused_pingpong(test::Node& a, test::Node& b) {
  PingPong pp(a, b);
  for (uint32_t i = 0; i < kPings; ++i) {
    EXPECT_TRUE(pp.once()) << "no echo for ping " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a late duplicate would show
  a.stop();
  b.stop();
  EXPECT_EQ(pp.pings.load(), kPings);
  EXPECT_EQ(pp.echoes.load(), kPings);
  EXPECT_EQ(pp.bad.load(), 0u);
  EXPECT_EQ(pp.failed.load(), 0u);
  return b.poller->stats();
}

TEST(DpdkIdle, TapPortsSleepOnRxInterruptsAndWakeOnEachPacket) {
  LinkConfig ca = test::config("net_tap0,iface=srdxi0", kIpA);
  LinkConfig cb = test::config("net_tap1,iface=srdxi1", kIpB);
  ::testing::internal::CaptureStderr();
  {
    test::Node a(ca, 1), b(cb, 2);
    bridge("srdxi0");
    bridge("srdxi1");
    for (test::Node* n : {&a, &b}) {
      const DpdkPortInfo info = as_dpdk(n->link.get())->port_info();
      EXPECT_EQ(info.driver, "net_tap");
      EXPECT_TRUE(info.rx_interrupts) << info.idle_note;
      EXPECT_GE(n->link->wait_fd(), 0);
      EXPECT_TRUE(n->link->wait_needs_arming());
      EXPECT_EQ(counter(*n->link, "rx_interrupts"), 1u);
      sleepy(*n, IdleMode::spin_then_sleep);
    }
    const PollerStats sb = paused_pingpong(a, b), sa = a.poller->stats();
    // B sleeps between pings and each ping wakes it through its link: at
    // least most of them (the loop may be awake for a timer when one lands).
    EXPECT_GT(sb.idle_sleeps, kPings / 2);
    EXPECT_GE(sb.wakeups_by_link, kPings / 2) << "pings ended B's sleeps";
    EXPECT_GT(sb.armed_sleeps, 0u);
    EXPECT_EQ(sb.armed_sleeps, sb.idle_sleeps) << "every sleep went armed";
    // A is woken by the test (wake()) to send; its echo mostly comes while
    // it still spins, so its link wake-ups are not counted on.
    EXPECT_GT(sa.idle_sleeps, 0u);
    EXPECT_EQ(sa.armed_sleeps, sa.idle_sleeps);
    EXPECT_GT(counter(*b.link, "rx_interrupt_arms"), 0u);
    EXPECT_EQ(b.link->stats().rx_dropped, 0u);
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("an idle loop sleeps on Rx interrupts (net_tap, 1 RX queue)"),
            std::string::npos)
      << log;
}

// net_af_xdp has no Rx interrupts in DPDK 22.11; the link sleeps on its
// AF_XDP sockets instead (dpdk_link.h, Idle): the same ping-pong over a veth
// pair, one port on each end.
TEST(DpdkIdle, AfXdpPortsSleepOnTheirSocketsAndWakeOnEachPacket) {
  ASSERT_TRUE(sh("ip link add srdxv0 type veth peer name srdxv1"));
  ASSERT_TRUE(sh("ip link set srdxv0 up"));
  ASSERT_TRUE(sh("ip link set srdxv1 up"));
  LinkConfig ca = test::config("net_af_xdp0,iface=srdxv0", kIpA);
  LinkConfig cb = test::config("net_af_xdp1,iface=srdxv1", kIpB);
  ca.queue_depth = cb.queue_depth = 1024;  // net_af_xdp refuses 256 (its fill ring)
  // A kernel without AF_XDP (or XDP on veth) cannot run this: said and
  // skipped, as the fabric tests fall back to net_af_packet there.
  std::unique_ptr<test::Node> na, nb;
  try {
    na = std::make_unique<test::Node>(ca, 5);
    nb = std::make_unique<test::Node>(cb, 6);
  } catch (const std::runtime_error& e) {
    na.reset();
    sh("ip link del srdxv0");
    GTEST_SKIP() << "net_af_xdp cannot attach to a veth here: " << e.what();
  }
  ::testing::internal::CaptureStderr();
  {
    test::Node& a = *na;
    test::Node& b = *nb;
    for (test::Node* n : {&a, &b}) {
      const DpdkPortInfo info = as_dpdk(n->link.get())->port_info();
      EXPECT_EQ(info.driver, "net_af_xdp");
      EXPECT_TRUE(info.rx_interrupts) << info.idle_note;
      EXPECT_GE(n->link->wait_fd(), 0);
      sleepy(*n, IdleMode::spin_then_sleep);
    }
    const PollerStats sb = paused_pingpong(a, b);
    EXPECT_GT(sb.idle_sleeps, kPings / 2);
    EXPECT_GE(sb.wakeups_by_link, kPings / 2) << "pings ended B's sleeps";
    EXPECT_EQ(sb.armed_sleeps, sb.idle_sleeps);
    EXPECT_NE(as_dpdk(b.link.get())->port_info().idle_note.find("sleeps until its AF_XDP sockets"),
              std::string::npos);
  }
  na.reset();
  nb.reset();
  (void)::testing::internal::GetCapturedStderr();
  sh("ip link del srdxv0");
}

TEST(DpdkIdle, BusyPollNeverSleepsOrArms) {
  LinkConfig ca = test::config("net_tap2,iface=srdxi2", kIpA);
  LinkConfig cb = test::config("net_tap3,iface=srdxi3", kIpB);
  ::testing::internal::CaptureStderr();
  {
    test::Node a(ca, 3), b(cb, 4);
    bridge("srdxi2");
    bridge("srdxi3");
    sleepy(a, IdleMode::busy_poll);
    sleepy(b, IdleMode::busy_poll);
    PingPong pp(a, b);
    for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(pp.once()) << "no echo for ping " << i;
    a.stop();
    b.stop();
    EXPECT_EQ(pp.echoes.load(), 10u);
    for (test::Node* n : {&a, &b}) {
      EXPECT_EQ(n->poller->stats().idle_sleeps, 0u);
      EXPECT_EQ(n->poller->stats().armed_sleeps, 0u);
      EXPECT_EQ(counter(*n->link, "rx_interrupt_arms"), 0u);
    }
  }
  (void)::testing::internal::GetCapturedStderr();
}

}  // namespace
}  // namespace srdx::dp
