// The simulator's faults for connection identity (issue 9): outages in one
// direction, peer reloads, restarts with the clock stepped back, frozen hosts
// and a blind attacker. First the faults themselves (they do what they say),
// then whole scenarios under each fault, held to the end-to-end invariants:
// every message reported completed was delivered exactly once and intact,
// every message not delivered was reported failed, nothing forged is
// delivered, strangers get no state, and the buffers drain.
#include <gtest/gtest.h>

#include <iostream>
#include <stdexcept>

#include "sim/scenario.h"
#include "sim/units.h"
#include "wire.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

ScenarioConfig bulk(uint64_t msg_size = 64u << 10, uint64_t count = 300) {
  ScenarioConfig c;
  c.net.paths = 4;
  c.net.link.rate_bps = 10'000'000'000;
  c.net.link.delay = 10_us;
  c.net.link.queue_bytes = 1u << 20;
  c.msg_size = msg_size;  // 64 KiB: about 45 fragments at MTU 1500
  c.count = count;
  c.window = 16;
  c.time_limit = 5_s;
  c.drain_limit = 1_s;
  return c;
}

std::string describe(const ScenarioResult& r) {
  std::string s = "sent " + std::to_string(r.messages_sent) + ", delivered " +
                  std::to_string(r.delivered) + ", failed " + std::to_string(r.failed) + " (";
  for (size_t i = 1; i < r.failed_by_reason.size(); i++) {
    if (r.failed_by_reason[i]) {
      s += std::string(to_string(static_cast<FailReason>(i))) + " " +
           std::to_string(r.failed_by_reason[i]) + " ";
    }
  }
  s += "), failed_but_delivered " + std::to_string(r.failed_but_delivered) + ", missing " +
       std::to_string(r.missing) + ", completed_not_delivered " +
       std::to_string(r.completed_not_delivered) + ", duplicated " + std::to_string(r.duplicated) +
       ", corrupted " + std::to_string(r.corrupted_delivered) + ", forged_delivered " +
       std::to_string(r.forged_delivered) + ", extra_peers " + std::to_string(r.extra_peers) +
       ", abandoned " + std::to_string(r.abandoned) + ", timed_out " + std::to_string(r.timed_out) +
       ", drained " + std::to_string(r.drained) + ", peer up/down " + std::to_string(r.peer_up) +
       "/" + std::to_string(r.peer_down);
  return s;
}

// The invariants every fault must keep, whatever the engine does about it.
void expect_invariants(const ScenarioResult& r) {
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.completed_not_delivered, 0u) << "reported completed, never delivered";
  EXPECT_EQ(r.missing, 0u) << "neither delivered nor reported failed";
  EXPECT_EQ(r.duplicated, 0u);
  EXPECT_EQ(r.corrupted_delivered, 0u);
  EXPECT_EQ(r.failed_not_maybe_but_delivered, 0u);
  EXPECT_EQ(r.forged_delivered, 0u);
  EXPECT_EQ(r.extra_peers, 0u);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.drained) << r.buffered_bytes << " bytes, " << r.buffered_messages << " messages";
  EXPECT_EQ(r.delivered + r.failed + r.abandoned - r.failed_but_delivered, r.messages_sent);
}

// ---- the faults themselves ---------------------------------------------

TEST(SimFaults, OneWayBlackholesDropOneDirectionAndOverlapsEndWithTheLast) {
  ScenarioConfig c = bulk(1024, 50);
  c.blackholes.push_back({1, Time::zero() + 1_ms, Time::zero() + 3_ms, Directions::a_to_b});
  c.blackholes.push_back({kAllPaths, Time::zero() + 2_ms, Time::zero() + 4_ms, Directions::b_to_a});
  c.blackholes.push_back({kAllPaths, Time::zero() + 2_ms, Time::zero() + 5_ms, Directions::a_to_b});
  Scenario s(c);
  Network& net = s.network();
  auto dead = [&net](uint32_t p, Dir d) { return net.link(p, d).params.blackhole; };
  std::vector<std::string> seen;
  for (int ms : {0, 1, 2, 3, 4, 5}) {
    net.at(Time::zero() + Duration::millis(ms) + 500_us, [&, ms](Network&) {
      std::string row = std::to_string(ms) + "ms:";
      for (uint32_t p = 0; p < 4; p++) {
        row += std::string(" ") + (dead(p, Dir::a_to_b) ? "A" : "-") +
               (dead(p, Dir::b_to_a) ? "B" : "-");
      }
      seen.push_back(row);
    });
  }
  net.run_until(Time::zero() + 6_ms);
  const std::vector<std::string> want = {
      "0ms: -- -- -- --",  //
      "1ms: -- A- -- --",  // path 1, a_to_b only
      "2ms: AB AB AB AB",  // every path both ways
      "3ms: AB AB AB AB",  // path 1's own outage ended; the all-paths one holds it
      "4ms: A- A- A- A-",  // b_to_a back
      "5ms: -- -- -- --",
  };
  EXPECT_EQ(seen, want);
}

TEST(SimFaults, FrozenHostRunsNothingAndGetsItsDatagramsOnThaw) {
  ScenarioConfig c = bulk(16u << 10, 200);
  Scenario s(c);
  Network& net = s.network();
  uint64_t rx_before = 0, tx_before = 0, rx_during = 0, tx_during = 0;
  net.at(Time::zero() + 1_ms, [&](Network&) {
    s.freeze({Role::receiver, 0});
    rx_before = s.receiver().endpoint().stats().packets_received;
    tx_before = s.receiver().packets_transmitted();
  });
  net.at(Time::zero() + 5_ms, [&](Network&) {
    rx_during = s.receiver().endpoint().stats().packets_received;
    tx_during = s.receiver().packets_transmitted();
    EXPECT_TRUE(s.receiver().frozen());
    EXPECT_EQ(s.receiver().deadline(), Time::infinite());
  });
  net.at(Time::zero() + 6_ms, [&](Network&) { s.thaw({Role::receiver, 0}); });
  const ScenarioResult r = s.run();
  EXPECT_EQ(rx_during, rx_before) << "a frozen endpoint gets no packets";
  EXPECT_EQ(tx_during, tx_before) << "a frozen endpoint sends nothing";
  EXPECT_GT(s.receiver().frozen_queued(), 0u);
  EXPECT_EQ(s.receiver().frozen_dropped(), 0u);
  expect_invariants(r);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_GE(r.latency.max_us, 4000.0) << "nothing was delivered while frozen";
}

TEST(SimFaults, FrozenHostsSocketBufferIsBounded) {
  ScenarioConfig c = bulk(16u << 10, 200);
  c.freezes.push_back({Time::zero() + 1_ms, 5_ms, {Role::receiver, 0}, 32u << 10});
  Scenario s(c);
  const ScenarioResult r = s.run();
  EXPECT_GT(s.receiver().frozen_dropped(), 0u);
  EXPECT_EQ(r.frozen_dropped, s.receiver().frozen_dropped());
  EXPECT_LE(s.receiver().frozen_queued() * 1024, 32u << 10 << 10) << "a bounded buffer";
  expect_invariants(r);
  EXPECT_EQ(r.failed, 0u) << "dropped datagrams are retransmitted";
}

TEST(SimFaults, RestartGivesAFreshSeedAndTheClockMayStepBack) {
  ScenarioConfig c = bulk(1024, 10);
  Scenario s(c);
  Host& h = s.receiver();
  const uint64_t e0 = h.epoch(), s0 = h.seed();
  EXPECT_GT(e0, 1u);
  EXPECT_NE(s.sender().seed(), s0) << "every host its own seed";
  h.restart();
  const uint64_t e1 = h.epoch(), s1 = h.seed();
  EXPECT_GT(e1, e0);
  EXPECT_NE(s1, s0);
  h.restart(Clock::stepped_back);
  EXPECT_LT(h.epoch(), e1);
  EXPECT_GT(h.epoch(), 0u);
  EXPECT_NE(h.seed(), s1);
  EXPECT_NE(h.seed(), s0);
  EXPECT_EQ(h.restarts(), 2u);
  EXPECT_EQ(h.endpoint().config().seed, h.seed());
  // Only the receiver's remembered peers come back (none here: it accepts
  // unknown peers), at the same address.
  EXPECT_EQ(h.endpoint().peers().size(), 0u);
  s.sender().restart();
  EXPECT_EQ(s.sender().endpoint().peers().size(), 1u);
  EXPECT_NE(s.sender().endpoint().find_peer(h.addr()), kNoPeer);
}

TEST(SimFaults, ReloadingAPeerGivesANewIdAndFailsItsMessages) {
  ScenarioConfig c = bulk(1024, 10);
  Scenario s(c);
  Host& h = s.sender();
  const Addr rx = s.receiver().addr();
  const PeerId old = h.endpoint().find_peer(rx);
  ASSERT_NE(old, kNoPeer);
  std::vector<uint8_t> msg(100, 1);
  SendOptions opt;
  opt.cookie = 77;
  ASSERT_TRUE(h.send(old, msg, opt).ok());
  std::vector<Event> events;
  h.on_event([&](Host&, const Event& ev, Time) { events.push_back(ev); });
  const Result<PeerId> r = h.reload_peer(rx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(h.endpoint().peers().size(), 1u);
  EXPECT_EQ(h.endpoint().find_peer(rx), r.value);
  s.network().run_until(Time::zero() + 1_us);
  bool failed = false;
  for (const Event& ev : events) {
    if (ev.type == EventType::send_failed && ev.cookie == 77) {
      failed = true;
      EXPECT_EQ(ev.reason, FailReason::peer_removed);
    }
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(h.remove_peer(Addr{0x01020304, 9}), Errc::unknown_peer);
  // A removed peer is not re-added by a restart.
  EXPECT_EQ(h.remove_peer(rx), Errc::ok);
  h.restart();
  EXPECT_EQ(h.endpoint().peers().size(), 0u);
}

// Every forgery decodes (well formed, valid checksum), and is spoofed from a
// real endpoint's address towards its peer, at the configured rate.
TEST(SimFaults, AttackerForgesWellFormedPacketsFromThePeersAddresses) {
  struct Probe : Port {
    std::vector<Datagram> got;
    std::vector<std::vector<uint8_t>> bytes;
    void deliver(const Datagram& d, Time) override {
      got.push_back(d);
      bytes.emplace_back(d.bytes.begin(), d.bytes.end());
    }
  };
  NetworkConfig nc;
  nc.paths = 2;
  Network net(nc);
  Probe a, b;
  const Addr aa{0xC6120001, 7471}, ba{0xC6130001, 7471};
  net.attach(a, aa, Side::a);
  net.attach(b, ba, Side::b);
  AttackConfig ac;
  ac.start = Time::zero() + 1_ms;
  ac.end = Time::zero() + 11_ms;
  ac.rate_pps = 200'000;
  ac.new_identity = 0.5;
  Attacker atk(net, Addr{0xC61200C8, 7471}, Side::a, ac, {{aa, ba}, {ba, aa}});
  net.run_until(Time::zero() + 20_ms);
  EXPECT_EQ(atk.counters().sent, 2000u);
  EXPECT_EQ(a.got.size() + b.got.size(), 2000u);
  EXPECT_GT(a.got.size(), 800u);
  EXPECT_GT(b.got.size(), 800u);
  uint64_t types[7] = {}, foreign_port = 0, forged_payloads = 0, huge = 0;  // by wire::Type
  auto check = [&](const Probe& p, Addr from) {
    for (size_t i = 0; i < p.got.size(); i++) {
      EXPECT_EQ(p.got[i].src, from);
      wire::Packet pkt, second;
      size_t count = 0;
      ASSERT_EQ(wire::decode_datagram(p.bytes[i], pkt, second, count), wire::DecodeError::ok);
      types[static_cast<int>(pkt.common.type)]++;
      if (pkt.common.src_port != from.port) foreign_port++;
      if (pkt.common.src_cid > (1ull << 63)) huge++;
      if (pkt.common.type == wire::Type::data) {
        ASSERT_GE(pkt.data.payload.size(), 8u);
        uint64_t index = 0;
        for (int k = 0; k < 8; k++) index |= uint64_t{pkt.data.payload[k]} << (8 * k);
        forged_payloads += is_forged_index(index);
      }
    }
  };
  check(a, ba);
  check(b, aa);
  // Six types, about a sixth each.
  for (int t = 1; t <= 6; t++) EXPECT_GT(types[t], 200u) << "type " << t;
  EXPECT_EQ(forged_payloads, types[static_cast<int>(wire::Type::data)]);
  EXPECT_GT(foreign_port, 50u) << "hellos naming new identities";
  EXPECT_GT(huge, 200u) << "huge identifiers";
  EXPECT_EQ(atk.counters().received, 0u);
}

// ---- scenarios under each fault ----------------------------------------

// Passes today: a one-way outage of one path is steered around.
TEST(SimFaults, OneWayOutageOfOnePathLosesNothing) {
  for (Directions d : {Directions::a_to_b, Directions::b_to_a}) {
    ScenarioConfig c = bulk();
    c.blackholes.push_back({1, Time::zero() + 2_ms, Time::zero() + 50_ms, d});
    const ScenarioResult r = run_scenario(c);
    SCOPED_TRACE(std::string(to_string(d)));
    expect_invariants(r);
    EXPECT_EQ(r.failed, 0u) << describe(r);
  }
}

// Issue 9, first case: every A->B path dead for longer than peer_timeout
// (200 ms) while B->A works, during 64 KiB (multi-fragment) messages. B
// declares A down and drops the partial messages whose fragments it had
// acknowledged; A keeps hearing B and resends only what was not
// acknowledged. Today: messages reported completed that never arrive.
TEST(SimFaults, DataDirectionOutageLongerThanPeerTimeout) {
  ScenarioConfig c = bulk();
  c.blackholes.push_back(
      {kAllPaths, Time::zero() + 2_ms, Time::zero() + 302_ms, Directions::a_to_b});
  const ScenarioResult r = run_scenario(c);
  expect_invariants(r);
}

// The reverse: every ACK lost for longer than peer_timeout.
TEST(SimFaults, AckDirectionOutageLongerThanPeerTimeout) {
  ScenarioConfig c = bulk();
  c.blackholes.push_back(
      {kAllPaths, Time::zero() + 2_ms, Time::zero() + 302_ms, Directions::b_to_a});
  const ScenarioResult r = run_scenario(c);
  expect_invariants(r);
}

// Issue 9, second case: remove_peer + add_peer at the sender, as srdxd's
// SIGHUP reload does. The messages in flight fail with peer_removed; the new
// connection's messages must be delivered, not taken for duplicates of the
// old one's (today its ids start at 0 again and collide).
TEST(SimFaults, SenderReloadsItsPeerMidTransfer) {
  for (bool configured : {false, true}) {
    ScenarioConfig c = bulk();
    c.endpoint.accept_unknown_peers = !configured;
    c.reloads.push_back({Time::zero() + 2_ms, {Role::sender, 0}});
    const ScenarioResult r = run_scenario(c);
    SCOPED_TRACE(configured ? "receiver configured with the sender" : "receiver accepts anyone");
    expect_invariants(r);
    EXPECT_EQ(r.peer_reloads, 1u);
    EXPECT_GT(r.failed_by_reason[static_cast<size_t>(FailReason::peer_removed)], 0u);
    EXPECT_EQ(r.failed, r.failed_by_reason[static_cast<size_t>(FailReason::peer_removed)])
        << "only what was in flight at the reload fails";
  }
}

// The receiver reloads its sender (configured peers) mid-transfer: the
// sender must learn that the old connection is gone and fail (or resend) what
// the receiver had not delivered.
TEST(SimFaults, ReceiverReloadsItsPeerMidTransfer) {
  for (bool configured : {false, true}) {
    ScenarioConfig c = bulk();
    c.endpoint.accept_unknown_peers = !configured;
    c.reloads.push_back({Time::zero() + 2_ms, {Role::receiver, 0}});
    const ScenarioResult r = run_scenario(c);
    SCOPED_TRACE(configured ? "receiver configured with the sender" : "receiver accepts anyone");
    expect_invariants(r);
    EXPECT_EQ(r.peer_reloads, 1u);
    EXPECT_GE(r.delivered, 300u - 2 * c.window) << describe(r);
  }
}

// Ping-pong with the client reloading the server, then the server the client.
TEST(SimFaults, PingPongSurvivesReloadsOnBothSides) {
  ScenarioConfig c = bulk(2000, 400);
  c.workload = Workload::pingpong;
  c.endpoint.accept_unknown_peers = false;
  c.reloads.push_back({Time::zero() + 1_ms, {Role::sender, 0}});
  c.reloads.push_back({Time::zero() + 3_ms, {Role::receiver, 0}});
  const ScenarioResult r = run_scenario(c);
  expect_invariants(r);
  EXPECT_GE(r.delivered, 390u) << describe(r);
}

// Issue 9, fourth case: a restart whose clock was stepped back. Today the new
// incarnation's smaller epoch is "stale" to its peer for good: everything
// after the restart fails. A restart is a new connection whatever the clock
// says: only what was in flight may fail, the rest is delivered.
void restart_with_clock_back(Role who) {
  for (bool configured : {false, true}) {
    ScenarioConfig c = bulk();
    c.endpoint.accept_unknown_peers = !configured;
    c.restarts.push_back({Time::zero() + 1_ms, {who, 0}, Clock::stepped_back});
    Scenario s(c);
    const uint64_t before = s.host({who, 0}).epoch();
    const ScenarioResult r = s.run();
    SCOPED_TRACE(configured ? "receiver configured with the sender" : "receiver accepts anyone");
    EXPECT_EQ(s.host({who, 0}).restarts(), 1u);
    EXPECT_LT(s.host({who, 0}).epoch(), before);
    expect_invariants(r);
    EXPECT_LE(r.failed + r.abandoned, 2u * c.window) << describe(r);
    EXPECT_GE(r.delivered, 300u - 2 * c.window) << describe(r);
  }
}

TEST(SimFaults, ReceiverRestartsWithItsClockSteppedBack) {
  restart_with_clock_back(Role::receiver);
}
TEST(SimFaults, SenderRestartsWithItsClockSteppedBack) { restart_with_clock_back(Role::sender); }

// The same restarts with the clock going forward: the baseline.
TEST(SimFaults, SenderRestartAbandonsOnlyWhatWasInFlight) {
  ScenarioConfig c = bulk();
  c.restarts.push_back({Time::zero() + 1_ms, {Role::sender, 0}, Clock::forward});
  Scenario s(c);
  const ScenarioResult r = s.run();
  EXPECT_EQ(s.sender().restarts(), 1u);
  expect_invariants(r);
  EXPECT_GT(r.abandoned, 0u);
  EXPECT_LE(r.abandoned, c.window);
}

// A whole host stopped for longer than peer_timeout (a SIGSTOP, a VM paused),
// unlike a paused reader: no timers, no ACKs. When it resumes, nothing it
// acknowledged may be lost, and the sender is told of what it gave up.
void frozen_longer_than_peer_timeout(Role who) {
  ScenarioConfig c = bulk();
  c.freezes.push_back({Time::zero() + 2_ms, 300_ms, {who, 0}});
  const ScenarioResult r = run_scenario(c);
  expect_invariants(r);
}

TEST(SimFaults, ReceiverFrozenLongerThanPeerTimeout) {
  frozen_longer_than_peer_timeout(Role::receiver);
}
TEST(SimFaults, SenderFrozenLongerThanPeerTimeout) {
  frozen_longer_than_peer_timeout(Role::sender);
}

// Issue 9, third case and "no state for strangers": a blind attacker floods
// both endpoints with forged hellos, hello_acks, data and ACKs from each
// other's addresses. Nothing it sends is delivered or changes a connection
// (no message fails, no peer restarts), and no state grows.
void blind_attack(Workload w, bool configured) {
  ScenarioConfig c = bulk(16u << 10, 1000);
  c.workload = w;
  if (w == Workload::pingpong) c.msg_size = 1000;
  c.endpoint.accept_unknown_peers = !configured;
  c.attacks.push_back({Time::zero(), Time::zero() + 200_ms, 1'000'000, 0.1});
  Scenario s(c);
  const ScenarioResult r = s.run();
  expect_invariants(r);
  EXPECT_GT(r.forged_sent, 1000u);
  EXPECT_EQ(r.failed, 0u) << describe(r);
  EXPECT_EQ(s.sender().endpoint().stats().peer_restarts, 0u);
  EXPECT_EQ(s.receiver().endpoint().stats().peer_restarts, 0u);
  EXPECT_EQ(s.sender().endpoint().peers().size(), 1u);
  EXPECT_EQ(s.receiver().endpoint().peers().size(), 1u);
}

TEST(SimFaults, BlindAttackerChangesNothingInBulk) { blind_attack(Workload::bulk, true); }
TEST(SimFaults, BlindAttackerChangesNothingInBulkAcceptingUnknownPeers) {
  blind_attack(Workload::bulk, false);
}
TEST(SimFaults, BlindAttackerChangesNothingInPingPong) { blind_attack(Workload::pingpong, true); }

}  // namespace
}  // namespace srdx::sim
