// The poll loop that srdxd and srdx-perf run (dataplane/loop/poller.h), over
// a fake link the test controls: two endpoints, each with its Poller, joined
// by in-memory queues whose transmit ring and flush can be made to run short.
// poll_once() with a hand-made clock for the iteration's order (rx, timers,
// events, tick, tx), partial transmits and a full ring counted exactly, the
// transmit budget, the timers, paused events and the packet handler; step()
// with the same clock for the idle back-off (how many idle iterations spin
// before a sleep, how long the sleep is: the endpoint's deadline or the cap);
// run() on a thread for the wake-up by the link's descriptor. And make_link()
// refusing `sim` with its reason.
#include "loop/poller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/clock.h"
#include "wire.h"

namespace srdx::dp {
namespace {

using namespace srdx::literals;

constexpr Addr kA{0x0a000001, 7000};
constexpr Addr kB{0x0a000002, 7000};

// One side of an in-memory wire. tx_buffer() gives at most `ring` buffers
// between flushes; tx_flush() hands at most `flush_limit` of them to the
// other side and drops (and counts) the rest, as a full device ring would.
class FakeLink : public Link {
 public:
  explicit FakeLink(Addr local, bool with_fd = false) : local_(local) {
    if (with_fd) fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~FakeLink() override {
    if (fd_ >= 0) close(fd_);
  }
  FakeLink* peer = nullptr;
  size_t ring = 64;
  size_t flush_limit = SIZE_MAX;
  std::vector<std::string>* log = nullptr;  // when set: "rx N", "tx", "flush N" as they happen
  std::atomic<uint64_t> wait_fd_calls{0};

  std::string_view kind() const override { return "fake"; }
  Addr local() const override { return local_; }

  size_t rx_burst(std::span<RxDatagram> out) override {
    std::lock_guard<std::mutex> g(mu_);
    held_.clear();
    size_t n = 0;
    while (n < out.size() && !inbox_.empty()) {
      held_.push_back(std::move(inbox_.front()));
      inbox_.pop_front();
      ++n;
    }
    for (size_t i = 0; i < n; ++i) out[i] = RxDatagram{held_[i].bytes, held_[i].from};
    stats_.rx_packets += n;
    if (log && n > 0) log->push_back("rx " + std::to_string(n));
    if (fd_ >= 0) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(fd_, &v, sizeof v);  // drained: nothing pending
      if (!inbox_.empty()) notify();
    }
    return n;
  }
  std::span<uint8_t> tx_buffer() override {
    if (queued_.size() >= ring) {
      ++stats_.tx_no_buffer;
      return {};
    }
    scratch_.assign(9000, 0);
    return scratch_;
  }
  void tx_commit(size_t len, const TxPath& path) override {
    if (log) log->push_back("tx");
    queued_.push_back(Datagram{{scratch_.begin(), scratch_.begin() + static_cast<long>(len)},
                               Addr{local_.ip, EntropyPorts{}.port_for(path.entropy)}});
  }
  size_t tx_flush() override {
    size_t sent = 0;
    for (Datagram& d : queued_) {
      if (sent < flush_limit) {
        peer->deliver(std::move(d));
        ++sent;
      } else {
        ++stats_.tx_dropped;
      }
    }
    stats_.tx_packets += sent;
    if (log && !queued_.empty()) log->push_back("flush " + std::to_string(sent));
    queued_.clear();
    return sent;
  }
  int wait_fd() const override {
    const_cast<std::atomic<uint64_t>&>(wait_fd_calls).fetch_add(1);
    return fd_;
  }
  LinkStats stats() const override { return stats_; }

  // A datagram from `from` arrives (the test injecting one, or the peer).
  void inject(std::vector<uint8_t> bytes, Addr from) { deliver(Datagram{std::move(bytes), from}); }
  size_t pending() {
    std::lock_guard<std::mutex> g(mu_);
    return inbox_.size();
  }

 private:
  struct Datagram {
    std::vector<uint8_t> bytes;
    Addr from;
  };
  void deliver(Datagram d) {
    std::lock_guard<std::mutex> g(mu_);
    inbox_.push_back(std::move(d));
    notify();
  }
  void notify() {
    if (fd_ < 0) return;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(fd_, &one, sizeof one);
  }

  Addr local_;
  int fd_ = -1;
  std::mutex mu_;
  std::deque<Datagram> inbox_;
  std::vector<Datagram> held_;  // what the last rx_burst handed out
  std::vector<Datagram> queued_;
  std::vector<uint8_t> scratch_;
  LinkStats stats_;
};

EndpointConfig endpoint_config(uint64_t seed) {
  EndpointConfig c;
  c.seed = seed;
  c.port = 7000;         // both hosts receive on 7000; datagrams leave from entropy ports
  c.encryption = false;  // the loop is the subject; encryption has its own tests
  return c;
}

EndpointConfig with_pacing(EndpointConfig c, bool pacing) {
  c.pacing = pacing;
  return c;
}

// Endpoints A and B, each with a Poller over a FakeLink, joined.
struct Pair {
  explicit Pair(PollerConfig pc = {}, bool pacing = true)
      : a(with_pacing(endpoint_config(1), pacing)), b(endpoint_config(2)) {
    la.peer = &lb;
    lb.peer = &la;
    pa = std::make_unique<Poller>(la, a, pc);
    pb = std::make_unique<Poller>(lb, b, pc);
    to_b = a.add_peer(kB).value;
    b.add_peer(kA);
    pb->on_event([this](const Event& ev, Time) {
      if (ev.type == EventType::message_received) got.emplace_back(ev.data.begin(), ev.data.end());
    });
    pa->on_event([this](const Event& ev, Time) {
      completed += ev.type == EventType::send_completed;
      failed += ev.type == EventType::send_failed;
    });
  }
  void turns(int n, Duration step = 10_us) {
    for (int i = 0; i < n; ++i) {
      pa->poll_once(now);
      pb->poll_once(now);
      now = now + step;
    }
  }
  Endpoint a, b;
  FakeLink la{kA}, lb{kB};
  std::unique_ptr<Poller> pa, pb;
  PeerId to_b = kNoPeer;
  Time now = Time::zero() + 1_s;
  std::vector<std::string> got;
  int completed = 0, failed = 0;
};

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Poller, MovesMessagesBothWaysAndCountsWhatItDid) {
  Pair p;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(p.a.send(p.to_b, bytes("m" + std::to_string(i)), {}, p.now).ok());
  }
  p.turns(200);
  ASSERT_EQ(p.got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.got[i], "m" + std::to_string(i));
  EXPECT_EQ(p.completed, 20);
  const PollerStats& s = p.pa->stats();
  EXPECT_EQ(s.iterations, 200u);
  EXPECT_EQ(s.tx_packets, p.la.stats().tx_packets);
  EXPECT_EQ(s.tx_packets, p.a.stats().packets_sent);
  EXPECT_EQ(p.pb->stats().rx_packets, p.b.stats().packets_received);
  EXPECT_GT(s.events, 0u);
  EXPECT_GT(s.idle_iterations, 0u) << "after the exchange, iterations that did nothing";
  EXPECT_EQ(s.partial_tx, 0u);
}

// What a handler sends in an iteration leaves in that same iteration.
TEST(Poller, WhatTheTickSendsLeavesInTheSameIteration) {
  Pair p;
  bool sent = false;
  p.pa->on_tick([&](Time now) {
    if (!sent) sent = p.a.send(p.to_b, bytes("tick"), {}, now).ok();
  });
  const uint64_t before = p.la.stats().tx_packets;
  p.pa->poll_once(p.now);
  EXPECT_TRUE(sent);
  EXPECT_GT(p.la.stats().tx_packets, before);
  EXPECT_EQ(p.lb.pending(), p.la.stats().tx_packets - before) << "handed to the wire at once";
}

// A flush that sends fewer than were committed is counted, not retried; the
// transport's loss recovery repairs what was dropped.
TEST(Poller, PartialTransmitsAreCountedAndRepaired) {
  Pair p;
  p.turns(20);
  p.la.flush_limit = 3;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        p.a.send(p.to_b, std::vector<uint8_t>(3000, static_cast<uint8_t>(i)), {}, p.now).ok());
  }
  p.turns(5);
  const PollerStats& s = p.pa->stats();
  EXPECT_GT(s.partial_tx, 0u);
  EXPECT_GT(s.tx_dropped, 0u);
  EXPECT_EQ(s.tx_dropped, p.la.stats().tx_dropped);
  p.la.flush_limit = SIZE_MAX;
  p.turns(3000);
  EXPECT_EQ(p.got.size(), 10u);
  EXPECT_EQ(p.completed, 10);
  EXPECT_EQ(p.failed, 0);
  EXPECT_GT(p.a.stats().retransmissions, 0u);
}

// A link with no buffer stops the transmit loop for the iteration; nothing is
// lost, it leaves once buffers come back.
TEST(Poller, AFullRingStopsTransmittingUntilBuffersReturn) {
  Pair p;
  p.turns(20);
  p.la.ring = 0;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("waits"), {}, p.now).ok());
  p.turns(3);
  EXPECT_GT(p.pa->stats().tx_no_buffer, 0u);
  EXPECT_TRUE(p.got.empty());
  p.la.ring = 64;
  p.turns(200);
  EXPECT_EQ(p.got, std::vector<std::string>{"waits"});
}

// One iteration transmits at most tx_budget packets, so receiving is not
// starved by a large window.
TEST(Poller, OneIterationTransmitsAtMostTheBudget) {
  PollerConfig pc;
  pc.burst = 4;
  pc.tx_budget = 8;
  Pair p(pc, false);  // no pacer: the window alone would let 40 packets go at once
  ASSERT_TRUE(p.a.send(p.to_b, bytes("first"), {}, p.now).ok());  // the handshake
  p.turns(100);
  ASSERT_EQ(p.got.size(), 1u);
  ASSERT_TRUE(p.a.send(p.to_b, std::vector<uint8_t>(64 * 1400, 7), {}, p.now).ok());
  const uint64_t before = p.la.stats().tx_packets;
  p.pa->poll_once(p.now);
  EXPECT_EQ(p.la.stats().tx_packets - before, 8u);
  EXPECT_GT(p.pa->stats().tx_budget_spent, 0u);
  EXPECT_GT(p.pa->stats().tx_bursts, 1u) << "flushed every `burst` packets";
  p.turns(2000);
  ASSERT_EQ(p.got.size(), 2u);
  EXPECT_EQ(p.got[1].size(), 64u * 1400);
}

// on_timer() runs when the endpoint's deadline has come, not before.
TEST(Poller, TimersRunAtTheirDeadlineNotBefore) {
  Pair p;
  p.turns(20);  // quiet: nothing to send, no deadline
  EXPECT_TRUE(p.a.next_deadline().is_infinite());
  ASSERT_TRUE(p.a.send(p.to_b, bytes("x"), {}, p.now).ok());
  p.pa->poll_once(p.now);  // the hello leaves; A waits for the answer (timer armed)
  const Time deadline = p.a.next_deadline();
  ASSERT_FALSE(deadline.is_infinite());
  ASSERT_GT(deadline, p.now);
  const uint64_t calls = p.pa->stats().timer_calls;
  p.pa->poll_once(deadline - 1_ns);
  EXPECT_EQ(p.pa->stats().timer_calls, calls);
  p.pa->poll_once(deadline);
  EXPECT_EQ(p.pa->stats().timer_calls, calls + 1);
}

// Exact counts of a partial transmit: with burst 4 and flushes that take 3,
// each flush of an iteration sends 3 and drops 1, and the loop moves on.
TEST(Poller, PartialTransmitCountsAreExact) {
  PollerConfig pc;
  pc.burst = 4;
  pc.tx_budget = 8;
  Pair p(pc, false);  // no pacer: the window alone decides, 8 packets go at once
  ASSERT_TRUE(p.a.send(p.to_b, bytes("first"), {}, p.now).ok());  // the handshake
  p.turns(100);
  ASSERT_EQ(p.got.size(), 1u);
  ASSERT_TRUE(p.a.send(p.to_b, std::vector<uint8_t>(64 * 1400, 7), {}, p.now).ok());
  p.la.flush_limit = 3;
  const PollerStats before = p.pa->stats();
  const uint64_t link_dropped = p.la.stats().tx_dropped;
  p.pa->poll_once(p.now);
  const PollerStats& s = p.pa->stats();
  EXPECT_EQ(s.tx_bursts - before.tx_bursts, 2u);
  EXPECT_EQ(s.tx_packets - before.tx_packets, 6u);
  EXPECT_EQ(s.partial_tx - before.partial_tx, 2u);
  EXPECT_EQ(s.tx_dropped - before.tx_dropped, 2u);
  EXPECT_EQ(p.la.stats().tx_dropped - link_dropped, 2u);
  EXPECT_EQ(s.tx_budget_spent - before.tx_budget_spent, 1u);
  p.la.flush_limit = SIZE_MAX;
  p.turns(3000);
  ASSERT_EQ(p.got.size(), 2u) << "loss recovery repaired the dropped packets";
  EXPECT_EQ(p.got[1].size(), 64u * 1400);
  EXPECT_EQ(p.failed, 0);
}

// Each iteration that finds the ring full counts one tx_no_buffer (the link
// counts its refusal too) and sends nothing; the rest of the iteration runs.
TEST(Poller, EveryIterationWithAFullRingCountsOneNoBuffer) {
  Pair p;
  p.turns(20);
  p.la.ring = 0;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("waits"), {}, p.now).ok());
  const PollerStats before = p.pa->stats();
  const uint64_t link_before = p.la.stats().tx_no_buffer;
  int ticks = 0;
  p.pa->on_tick([&](Time) { ++ticks; });
  for (int i = 0; i < 7; ++i) p.pa->poll_once(p.now + Duration::micros(i));
  EXPECT_EQ(p.pa->stats().tx_no_buffer - before.tx_no_buffer, 7u);
  EXPECT_EQ(p.la.stats().tx_no_buffer - link_before, 7u);
  EXPECT_EQ(p.pa->stats().tx_packets, before.tx_packets);
  EXPECT_EQ(ticks, 7) << "a full ring stops the transmit loop, not the iteration";
}

// One iteration's order: the datagrams in, then the events they made, then
// the tick, then the transmit loop and its flush.
TEST(Poller, AnIterationReceivesThenHandsUpEventsThenTicksThenTransmits) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("warm-up"), {}, p.now).ok());
  p.turns(100);
  ASSERT_EQ(p.got.size(), 1u);
  std::vector<std::string> log;
  p.lb.log = &log;
  p.pb->on_event([&](const Event& ev, Time) {
    log.push_back("event " + std::string(to_string(ev.type)));
    if (ev.type == EventType::message_received) p.got.emplace_back(ev.data.begin(), ev.data.end());
  });
  p.pb->on_tick([&](Time) { log.push_back("tick"); });
  for (const char* m : {"one", "two"}) ASSERT_TRUE(p.a.send(p.to_b, bytes(m), {}, p.now).ok());
  p.pa->poll_once(p.now);  // both leave A
  ASSERT_EQ(p.lb.pending(), 2u);
  p.pb->poll_once(p.now);
  EXPECT_THAT(log, ::testing::ElementsAre("rx 2", "event message_received",
                                          "event message_received", "tick", "tx", "flush 1"));
  EXPECT_EQ(p.got, (std::vector<std::string>{"warm-up", "one", "two"}));
}

// What the event handler sends (an echo) leaves in the iteration that handed
// up the message it answers.
TEST(Poller, WhatTheEventHandlerSendsLeavesInTheSameIteration) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("warm-up"), {}, p.now).ok());
  p.turns(100);
  const PeerId b_to_a = p.b.find_peer(kA);
  ASSERT_NE(b_to_a, kNoPeer);
  p.pb->on_event([&](const Event& ev, Time now) {
    if (ev.type != EventType::message_received) return;
    const std::string echo = "echo " + std::string(ev.data.begin(), ev.data.end());
    ASSERT_TRUE(p.b.send(b_to_a, bytes(echo), {}, now).ok());
  });
  std::vector<std::string> at_a;
  p.pa->on_event([&](const Event& ev, Time) {
    if (ev.type == EventType::message_received) at_a.emplace_back(ev.data.begin(), ev.data.end());
  });
  ASSERT_TRUE(p.a.send(p.to_b, bytes("ping"), {}, p.now).ok());
  p.pa->poll_once(p.now);
  p.pb->poll_once(p.now);  // one iteration of B: receives, echoes, transmits
  p.pa->poll_once(p.now);  // and A has the echo, at the same instant
  EXPECT_EQ(at_a, std::vector<std::string>{"echo ping"});
}

// A failure the timer declares reaches the event handler in the iteration
// whose on_timer() declared it: timers run before events.
TEST(Poller, WhatTheTimerDeclaresIsHandedUpInTheSameIteration) {
  EndpointConfig ca = endpoint_config(1);
  ca.peer_timeout = 20_ms;  // B never answers: A gives up on it
  ca.message_timeout = 50_ms;
  Endpoint a(ca);
  FakeLink la(kA), lb(kB);
  la.peer = &lb;
  lb.peer = &la;
  Poller pa(la, a);
  const PeerId to_b = a.add_peer(kB).value;
  Time now = Time::zero() + 1_s;
  ASSERT_TRUE(a.send(to_b, bytes("lost"), {}, now).ok());
  uint64_t timer_calls_at_failure = 0, timer_calls_before = 0;
  bool failed = false;
  pa.on_event([&](const Event& ev, Time) {
    if (ev.type != EventType::send_failed) return;
    failed = true;
    timer_calls_at_failure = pa.stats().timer_calls;
  });
  for (int i = 0; i < 1000 && !failed; ++i) {
    timer_calls_before = pa.stats().timer_calls;
    pa.poll_once(now);
    now = max(now + 1_ns, a.next_deadline());  // straight to the next timer
  }
  ASSERT_TRUE(failed);
  EXPECT_EQ(timer_calls_at_failure, timer_calls_before + 1)
      << "the failure came from this iteration's on_timer()";
  EXPECT_GT(lb.pending(), 1u) << "the hello was retried before giving up";
}

// step(): `spin_iterations` idle iterations in a row go on at once; the next
// sleeps, and so does every idle one after it, until an iteration does work
// and the count starts again. A loop that never sleeps never does.
TEST(Poller, StepSpinsThenSleepsAndWorkStartsTheCountAgain) {
  PollerConfig pc;
  pc.spin_iterations = 5;
  pc.max_sleep = 2_ms;
  Endpoint e(endpoint_config(1));  // no peers: no deadline, nothing to do
  FakeLink l(kA, true);            // with a descriptor: the sleep's cap is max_sleep
  Poller poller(l, e, pc);
  Time now = Time::zero() + 1_s;
  for (uint32_t i = 1; i < pc.spin_iterations; ++i) {
    EXPECT_EQ(poller.step(now), now) << "idle iteration " << i << " spins";
  }
  EXPECT_EQ(poller.step(now), now + pc.max_sleep) << "the 5th idle iteration in a row sleeps";
  now = now + pc.max_sleep;
  EXPECT_EQ(poller.step(now), now + pc.max_sleep) << "and every idle one after it";
  EXPECT_EQ(poller.stats().idle_iterations, 6u);

  l.inject(std::vector<uint8_t>(40, 0xee), Addr{kB.ip, 50000});  // junk, but work for the loop
  EXPECT_EQ(poller.step(now), now);
  EXPECT_EQ(poller.stats().rx_packets, 1u);
  for (uint32_t i = 1; i < pc.spin_iterations; ++i) EXPECT_EQ(poller.step(now), now);
  EXPECT_EQ(poller.step(now), now + pc.max_sleep) << "five idle iterations again before a sleep";

  pc.idle = IdleMode::busy_poll;
  Poller busy(l, e, pc);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(busy.step(now), now);
  EXPECT_EQ(busy.stats().idle_iterations, 1000u);
}

// spin_time: after work the loop spins for that long, whatever the count;
// past it (and past spin_iterations) it sleeps.
TEST(Poller, StepSpinsForSpinTimeAfterWork) {
  PollerConfig pc;
  pc.spin_iterations = 2;
  pc.spin_time = 100_us;
  pc.max_sleep = 2_ms;
  Endpoint e(endpoint_config(1));
  FakeLink l(kA, true);
  Poller poller(l, e, pc);
  Time now = Time::zero() + 1_s;
  l.inject(std::vector<uint8_t>(40, 0xee), Addr{kB.ip, 50000});  // work
  ASSERT_EQ(poller.step(now), now);
  for (int i = 1; i <= 9; ++i) {
    EXPECT_EQ(poller.step(now + Duration::micros(10 * i)), now + Duration::micros(10 * i))
        << "idle at " << 10 * i << " us after work: within spin_time, spins";
  }
  const Time later = now + 100_us;
  EXPECT_EQ(poller.step(later), later + pc.max_sleep) << "spin_time over: sleeps";
  EXPECT_EQ(poller.stats().idle_sleeps, 0u) << "step() decides, it does not sleep";
}

// The sleep lasts until the endpoint's next deadline when that comes first,
// else max_sleep (a link without a descriptor: max_sleep_without_fd, since
// nothing would wake it when packets arrive); at the deadline, the timer runs.
TEST(Poller, StepSleepsUntilTheEndpointsDeadlineOrTheCap) {
  PollerConfig pc;
  pc.spin_iterations = 3;
  pc.max_sleep = Duration::seconds(1);  // longer than the hello's retry timer
  pc.max_sleep_without_fd = 20_us;
  Endpoint a(endpoint_config(1));
  FakeLink with_fd(kA, true), without_fd(kA);
  FakeLink lb(kB);
  with_fd.peer = &lb;
  Poller pa(with_fd, a, pc);
  const PeerId to_b = a.add_peer(kB).value;
  Time now = Time::zero() + 1_s;
  ASSERT_TRUE(a.send(to_b, bytes("x"), {}, now).ok());
  EXPECT_EQ(pa.step(now), now) << "the hello leaves: work";
  const Time deadline = a.next_deadline();
  ASSERT_GT(deadline, now);
  ASSERT_LT(deadline, now + pc.max_sleep);
  EXPECT_EQ(pa.step(now), now);
  EXPECT_EQ(pa.step(now), now);
  EXPECT_EQ(pa.step(now), deadline) << "asleep until the retry timer, not the 1 s cap";
  const uint64_t timers = pa.stats().timer_calls;
  const size_t sent = lb.pending();
  EXPECT_EQ(pa.step(deadline), deadline) << "woken at the deadline: the timer ran";
  EXPECT_EQ(pa.stats().timer_calls, timers + 1);
  EXPECT_EQ(lb.pending(), sent + 1) << "the hello, retried";

  // The same endpoint behind a link without a descriptor naps in short steps.
  without_fd.peer = &lb;
  Poller nap(without_fd, a, pc);
  const Time later = deadline + 1_us;
  for (uint32_t i = 1; i < pc.spin_iterations; ++i) EXPECT_EQ(nap.step(later), later);
  ASSERT_GT(a.next_deadline(), later + pc.max_sleep_without_fd);
  EXPECT_EQ(nap.step(later), later + pc.max_sleep_without_fd);
}

// While events are paused, messages stay in the endpoint and no handler
// runs, but packets, timers and the tick go on; resumed, they come in order.
TEST(Poller, PausedEventsStayInTheEndpointUntilResumed) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("warm-up"), {}, p.now).ok());
  p.turns(100);
  ASSERT_EQ(p.got.size(), 1u);
  p.pb->pause_events(true);
  EXPECT_TRUE(p.pb->events_paused());
  int ticks = 0;
  p.pb->on_tick([&](Time) { ++ticks; });
  const uint64_t events = p.pb->stats().events, rx = p.pb->stats().rx_packets;
  for (const char* m : {"a", "b", "c"}) ASSERT_TRUE(p.a.send(p.to_b, bytes(m), {}, p.now).ok());
  p.turns(50);
  EXPECT_EQ(p.got.size(), 1u);
  EXPECT_EQ(p.pb->stats().events, events);
  EXPECT_GT(p.pb->stats().rx_packets, rx);
  EXPECT_EQ(ticks, 50);
  EXPECT_EQ(p.b.buffered_messages(), 3u) << "held by the endpoint, not lost";
  p.pb->pause_events(false);
  p.turns(50);
  EXPECT_EQ(p.got, (std::vector<std::string>{"warm-up", "a", "b", "c"}));
}

// A packet handler sees each datagram with the path the poller made of it
// (the source's IP and port; the port is the entropy) and passes it on
// itself; one that does not keeps it from the endpoint.
TEST(Poller, APacketHandlerSeesEveryDatagramAndPassesItOn) {
  Pair p;
  std::vector<RxPath> paths;
  p.pb->on_packet([&](const RxDatagram& d, const RxPath& path, Time now) {
    paths.push_back(path);
    p.b.on_packet(d.payload, path, now);
  });
  ASSERT_TRUE(p.a.send(p.to_b, bytes("seen"), {}, p.now).ok());
  p.turns(100);
  EXPECT_EQ(p.got, std::vector<std::string>{"seen"});
  ASSERT_EQ(paths.size(), p.pb->stats().rx_packets);
  ASSERT_EQ(paths.size(), p.b.stats().packets_received);
  const EntropyPorts ports;
  for (const RxPath& path : paths) {
    EXPECT_EQ(path.remote.ip, kA.ip);
    EXPECT_EQ(path.entropy, path.remote.port);
    EXPECT_GE(path.remote.port, ports.first_port);
    EXPECT_LT(path.remote.port, ports.first_port + ports.port_count);
  }

  p.pb->on_packet([](const RxDatagram&, const RxPath&, Time) {});  // swallows everything
  const uint64_t received = p.b.stats().packets_received, rx = p.pb->stats().rx_packets;
  ASSERT_TRUE(p.a.send(p.to_b, bytes("swallowed"), {}, p.now).ok());
  p.turns(10);
  EXPECT_GT(p.pb->stats().rx_packets, rx);
  EXPECT_EQ(p.b.stats().packets_received, received);
  EXPECT_EQ(p.got.size(), 1u);
}

// `sim` is a link backend (the simulator's hosts run this Poller over it),
// but not one make_link() can build for srdxd or srdx-perf: refused, with the
// reason and where it is used. An unknown kind names the accepted ones.
TEST(MakeLink, RefusesSimWithTheReasonAndUnknownKindsWithTheChoices) {
  LinkConfig cfg;
  cfg.kind = "sim";
  try {
    make_link(cfg);
    ADD_FAILURE() << "make_link accepted sim";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("link sim"), std::string::npos) << what;
    EXPECT_NE(what.find("simulated time"), std::string::npos) << what;
    EXPECT_NE(what.find("srdx-sim"), std::string::npos) << what;
  }
  cfg.kind = "tap";
  try {
    make_link(cfg);
    ADD_FAILURE() << "make_link accepted tap";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("accepted: udp, dpdk"), std::string::npos) << e.what();
  }
}

// A's first datagram to B (a hello, for a message A queued), made by hand,
// and the address it comes from: what a test injects into B's link.
std::pair<std::vector<uint8_t>, Addr> first_packet(Endpoint& a) {
  const PeerId to_b = a.add_peer(kB).value;
  std::vector<uint8_t> hello(9000);
  TxPath tx;
  if (!a.send(to_b, bytes("first"), {}, Time::zero() + 1_s).ok()) return {};
  hello.resize(a.poll_transmit(hello, tx, Time::zero() + 1_s));
  return {hello, Addr{kA.ip, EntropyPorts{}.port_for(tx.entropy)}};
}

// run(): with nothing to do the loop sleeps on the link's descriptor, a
// datagram wakes it, and a stop request ends it.
TEST(Poller, RunSleepsWhenIdleAndTheLinkWakesIt) {
  Endpoint b(endpoint_config(2)), a(endpoint_config(1));
  FakeLink lb(kB, true), la(kA);
  la.peer = &lb;
  lb.peer = &la;
  PollerConfig pc;
  pc.spin_iterations = 10;
  pc.max_sleep = Duration::millis(300);
  Poller pb(lb, b, pc);
  b.add_peer(kA);
  // A's first packet (a hello), made by hand: what arrives while B sleeps.
  const auto [hello, from] = first_packet(a);
  ASSERT_FALSE(hello.empty());

  // A busy machine may deschedule this thread past the loop's sleep, and the
  // datagram then lands while the loop spins: try a few times. Each attempt
  // waits until the loop asked for the descriptor twice (the sleep's length,
  // then the sleep itself; a datagram that comes before the poll still finds
  // the descriptor readable), injects, and stops the loop once it was taken.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0; attempt < 5 && pb.stats().wakeups_by_link == 0; ++attempt) {
    std::atomic<bool> stop{false};
    const uint64_t calls = lb.wait_fd_calls.load();
    std::thread t([&] { pb.run(stop); });
    while (lb.wait_fd_calls.load() < calls + 2 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    lb.inject(hello, from);
    while (lb.pending() != 0 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop = true;
    t.join();
    EXPECT_EQ(lb.pending(), 0u) << "the datagram was taken";
  }
  const PollerStats& s = pb.stats();
  EXPECT_GT(s.idle_sleeps, 0u);
  EXPECT_GT(s.wakeups_by_link, 0u) << "the descriptor, not the 300 ms timeout, ended a sleep";
  EXPECT_GT(s.rx_packets, 0u);
  EXPECT_GT(s.idle_iterations, s.iterations / 2);
}

// In run(), what an iteration spent before transmitting (here: an event
// handler that takes 3 ms) is in the ACK delay it reports: the loop reads
// the clock again before it transmits. With the iteration's first reading
// the ACK would say 0, and the sender would take the 3 ms for the network's.
// A link whose descriptor must be armed before the loop sleeps on it (the
// dpdk link on Rx interrupts). Its descriptor never fires here: it stands
// for the edge lost when a datagram lands between the loop's last look and
// the arming. The first arm_wait() injects such a datagram; only the look
// the loop takes after arming can find it.
class ArmedLink : public FakeLink {
 public:
  explicit ArmedLink(Addr local) : FakeLink(local), silent_(eventfd(0, EFD_CLOEXEC)) {}
  ~ArmedLink() override { close(silent_); }
  int wait_fd() const override { return silent_; }
  bool wait_needs_arming() const override { return true; }
  bool arm_wait() override {
    EXPECT_FALSE(armed_) << "armed twice without a disarm";
    ++arms;
    if (!can_arm) return false;
    armed_ = true;
    if (arms == 1 && on_first_arm) on_first_arm();
    return true;
  }
  void disarm_wait() override {
    EXPECT_TRUE(armed_) << "disarmed without an arm";
    armed_ = false;
    ++disarms;
  }
  bool armed() const { return armed_; }

  bool can_arm = true;
  std::function<void()> on_first_arm;
  std::atomic<uint64_t> arms{0};
  uint64_t disarms = 0;

 private:
  int silent_;
  bool armed_ = false;
};

// run() on such a link: arms before each sleep, disarms after it, and
// polls once between arming and sleeping, which finds the datagram that
// came in the meantime (the loop then does not sleep).
TEST(Poller, RunArmsTheLinkPollsAgainThenSleepsAndDisarms) {
  Endpoint b(endpoint_config(2)), a(endpoint_config(1));
  ArmedLink lb(kB);
  FakeLink la(kA);  // takes what B answers
  lb.peer = &la;
  PollerConfig pc;
  pc.spin_iterations = 10;
  pc.max_sleep = Duration::millis(5);
  Poller pb(lb, b, pc);
  b.add_peer(kA);
  const auto [hello, from] = first_packet(a);
  ASSERT_FALSE(hello.empty());
  lb.on_first_arm = [&, hello = hello, from = from] { lb.inject(hello, from); };
  std::atomic<bool> stop{false};
  std::thread t([&] { pb.run(stop); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (lb.arms.load() < 5 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  t.join();
  const PollerStats& s = pb.stats();
  EXPECT_EQ(lb.pending(), 0u);
  EXPECT_EQ(s.rx_packets, 1u);
  EXPECT_EQ(s.arm_rechecks_found_work, 1u) << "the look after arming found the datagram";
  EXPECT_FALSE(lb.armed()) << "left armed";
  EXPECT_EQ(lb.disarms, lb.arms.load());
  EXPECT_EQ(s.armed_sleeps, s.idle_sleeps) << "every sleep went armed";
  EXPECT_GT(s.armed_sleeps, 0u);
  EXPECT_EQ(s.armed_sleeps + s.arm_rechecks_found_work, lb.arms.load());
}

// A link that cannot be armed now (a stopped port) is not slept on: the loop
// naps as for a link without a descriptor, and nothing is disarmed.
TEST(Poller, RunNapsWhenTheLinkCannotBeArmed) {
  Endpoint b(endpoint_config(2));
  ArmedLink lb(kB);
  lb.can_arm = false;
  PollerConfig pc;
  pc.spin_iterations = 10;
  pc.max_sleep = Duration::seconds(1);
  pc.max_sleep_without_fd = Duration::micros(50);
  Poller pb(lb, b, pc);
  std::atomic<bool> stop{false};
  std::thread t([&] { pb.run(stop); });
  // Ten refusals are ten naps: with 1 s sleeps this would take ten seconds
  // and the 60 s guard would end it with fewer.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (lb.arms.load() < 10 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  t.join();
  EXPECT_GE(lb.arms.load(), 10u);
  EXPECT_EQ(lb.disarms, 0u);
  EXPECT_EQ(pb.stats().armed_sleeps, 0u);
  EXPECT_GT(pb.stats().idle_sleeps, 0u);
}

// wake() from another thread ends the loop's sleep (a worker handing it
// messages to send on its tick), on a link with a descriptor and on one
// without (dpdk's case): the loop's next tick runs without waiting out its
// nap. A wake() that lands while the loop is awake makes it skip its next
// sleep instead; either way it is counted, and a lost wake-up would leave
// the count at zero with the 1 s naps alone ending the sleeps.
TEST(Poller, WakeFromAnotherThreadEndsTheSleep) {
  for (const bool with_fd : {true, false}) {
    Endpoint e(endpoint_config(2));
    FakeLink link(kB, with_fd);
    PollerConfig pc;
    pc.spin_iterations = 10;
    pc.max_sleep = Duration::seconds(1);
    pc.max_sleep_without_fd = Duration::seconds(1);
    Poller p(link, e, pc);
    std::atomic<uint64_t> ticks{0};
    p.on_tick([&](Time) { ticks.fetch_add(1); });
    std::atomic<bool> stop{false};
    std::thread t([&] { p.run(stop); });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < 5; ++i) {
      // Asleep: the ticks stopped (10 spins, then naps of 1 s).
      uint64_t seen = ticks.load();
      do {
        seen = ticks.load();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      } while (ticks.load() != seen && std::chrono::steady_clock::now() < give_up);
      p.wake();
      while (ticks.load() == seen && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    stop = true;
    p.wake();
    t.join();
    EXPECT_GE(p.stats().wakeups_by_call, 5u) << (with_fd ? "with" : "without") << " a link fd";
    EXPECT_GT(p.stats().idle_sleeps, 0u);
  }
}

TEST(Poller, RunTransmitsWithTheTimeTheIterationTook) {
  Endpoint a(endpoint_config(1)), b(endpoint_config(2));
  FakeLink la(kA, true), lb(kB, true);
  la.peer = &lb;
  lb.peer = &la;
  Poller pa(la, a, {});
  Poller pb(lb, b, {});
  const PeerId to_b = a.add_peer(kB).value;
  b.add_peer(kA);
  std::atomic<int> received{0};
  pb.on_event([&](const Event& ev, Time) {
    if (ev.type != EventType::message_received) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    ++received;
  });
  // A's side, on this thread: the largest ACK delay B reported.
  uint32_t max_ack_delay_ns = 0;
  pa.on_packet([&](const RxDatagram& d, const RxPath& path, Time now) {
    wire::Packet first, second;
    size_t count = 0;
    if (wire::decode_datagram(d.payload, first, second, count) == wire::DecodeError::ok &&
        first.common.type == wire::Type::ack)
      max_ack_delay_ns = std::max(max_ack_delay_ns, first.ack.ack_delay_ns);
    a.on_packet(d.payload, path, now);
  });
  std::atomic<bool> stop{false};
  std::thread t([&] { pb.run(stop); });
  ASSERT_TRUE(a.send(to_b, bytes("slow to hand up"), {}, monotonic_now()).ok());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool completed = false;
  pa.on_event([&](const Event& ev, Time) { completed |= ev.type == EventType::send_completed; });
  while (!completed && std::chrono::steady_clock::now() < give_up) pa.poll_once(monotonic_now());
  stop = true;
  t.join();
  ASSERT_TRUE(completed);
  EXPECT_EQ(received.load(), 1);
  EXPECT_GE(max_ack_delay_ns, 3'000'000u) << "the ACK left after the handler's 3 ms";
}

// A link without receive timestamps (dpdk): in run(), what a burst finds
// after an empty look (the loop napped in between) is said to have arrived
// halfway between that look and this one, earlier than it is handled, so
// that the engine leaves about half the nap out of its samples. Driven by
// poll_once() from outside (the simulator), arrivals stay unknown.
TEST(Poller, RunGuessesWhenADatagramArrivedWhileTheLoopNapped) {
  Endpoint a(endpoint_config(1)), b(endpoint_config(2));
  FakeLink la(kA), lb(kB);  // no descriptor: the loop naps
  la.peer = &lb;
  lb.peer = &la;
  PollerConfig pc;
  pc.spin_iterations = 10;
  pc.max_sleep_without_fd = Duration::millis(2);
  Poller pb(lb, b, pc);
  b.add_peer(kA);
  const auto [hello, from] = first_packet(a);
  ASSERT_FALSE(hello.empty());

  // From outside: unknown.
  Time seen_arrival = Time::infinite(), seen_now = Time::zero();
  pb.on_packet([&](const RxDatagram& d, const RxPath& path, Time now) {
    seen_arrival = path.arrival;
    seen_now = now;
    b.on_packet(d.payload, path, now);
  });
  pb.poll_once(Time::zero() + 2_s);
  lb.inject(hello, from);
  pb.poll_once(Time::zero() + 2_s + 1_ms);
  EXPECT_EQ(seen_arrival, Time::zero());

  // In run(): a guess, before the datagram was handled.
  seen_arrival = Time::infinite();
  std::atomic<bool> stop{false};
  std::thread t([&] { pb.run(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // idle: napping by now
  lb.inject(hello, from);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (lb.pending() != 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  t.join();
  ASSERT_NE(seen_arrival, Time::infinite()) << "the datagram was handled";
  EXPECT_GT(seen_arrival, Time::zero());
  EXPECT_LT(seen_arrival, seen_now);
}

TEST(Poller, BadConfigurationsAreRefusedWithTheFieldNamed) {
  PollerConfig pc;
  pc.burst = 0;
  EXPECT_NE(pc.validate().find("burst"), std::string::npos);
  pc = {};
  pc.tx_budget = 1;
  EXPECT_NE(pc.validate().find("tx_budget"), std::string::npos);
  pc = {};
  pc.max_sleep = Duration::zero();
  EXPECT_NE(pc.validate().find("max_sleep"), std::string::npos);
  pc = {};
  pc.spin_time = Duration::nanos(-1);
  EXPECT_NE(pc.validate().find("spin_time"), std::string::npos);
  Endpoint e(endpoint_config(1));
  FakeLink l(kA);
  pc = {};
  pc.burst = 0;
  EXPECT_THROW(Poller(l, e, pc), std::invalid_argument);
}

}  // namespace
}  // namespace srdx::dp
