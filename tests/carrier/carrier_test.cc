// The carrier interface, the same tests over every carrier: the srdx engine
// over the udp link, and libfabric FI_EP_RDM over shm and udp;ofi_rxd, all on
// this host (loopback). Two carriers live in one process and are stepped by
// one loop (poll_once), or each runs its own run() loop on a thread.
//
// A provider that does not open here fails its tests with libfabric's reason
// (the constructor's exception): nothing is skipped.
#include "srdx/carrier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine_carrier.h"
#include "fabric_carrier.h"
#include "loop/clock.h"
#include "test_carriers.h"

namespace srdx::carrier {
namespace {

// A guard against a hang, never a measurement: every wait below ends as
// soon as its condition holds.
constexpr Duration kHangGuard = Duration::seconds(60);

std::unique_ptr<Carrier> make_engine() { return srdx::testing::make_engine(33000); }
using srdx::testing::make_fabric;

struct Kind {
  std::string name;
  std::function<std::unique_ptr<Carrier>()> make;
};

void PrintTo(const Kind& k, std::ostream* os) { *os << k.name; }

std::vector<Kind> kinds() {
  return {
      {"engine_udp", [] { return make_engine(); }},
      {"fabric_shm", [] { return make_fabric("shm"); }},
      {"fabric_rxd", [] { return make_fabric("udp;ofi_rxd"); }},
      {"fabric_rxm", [] { return make_fabric("tcp;ofi_rxm"); }},
      // Small segments: many per message, so reassembly is exercised hard.
      {"fabric_shm_4KiB_segments", [] { return make_fabric("shm", 4096); }},
      {"fabric_rxd_4KiB_segments", [] { return make_fabric("udp;ofi_rxd", 4096); }},
      // Registered buffers (fi_mr_reg, descriptors with every operation), as
      // a provider asking for FI_MR_LOCAL (efa) gets; none here asks.
      {"fabric_shm_registered", [] { return make_fabric("shm", 64u << 10, true); }},
      {"fabric_rxd_registered", [] { return make_fabric("udp;ofi_rxd", 64u << 10, true); }},
  };
}

// Bytes of message i, length len: a pattern that differs per message.
std::vector<uint8_t> message(uint32_t i, size_t len) {
  std::vector<uint8_t> m(len);
  uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
  for (size_t k = 0; k < len; ++k) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m[k] = static_cast<uint8_t>(x);
  }
  if (len >= 4) std::memcpy(m.data(), &i, 4);
  return m;
}

uint32_t index_of(const std::vector<uint8_t>& m) {
  uint32_t i = 0;
  std::memcpy(&i, m.data(), 4);
  return i;
}

// What one carrier's handler saw.
struct Recorder {
  struct Received {
    PeerId peer;
    uint16_t flow;
    std::vector<uint8_t> data;
  };
  struct Failed {
    uint64_t cookie;
    FailReason reason;
    bool maybe_delivered;
    Time at;
  };
  std::vector<Received> received;
  std::vector<uint64_t> completed;
  std::vector<Failed> failed;
  int peer_ups = 0;
  std::function<void(const Event&, Time)> also;

  void attach(Carrier& c) {
    c.on_event([this](const Event& ev, Time now) {
      switch (ev.type) {
        case EventType::message_received:
          received.push_back({ev.peer, ev.flow, {ev.data.begin(), ev.data.end()}});
          break;
        case EventType::send_completed:
          completed.push_back(ev.cookie);
          break;
        case EventType::send_failed:
          failed.push_back({ev.cookie, ev.reason, ev.maybe_delivered, now});
          break;
        case EventType::peer_up:
          ++peer_ups;
          break;
        case EventType::peer_down:
          break;
      }
      if (also) also(ev, now);
    });
  }
};

class CarrierTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    a_ = GetParam().make();
    b_ = GetParam().make();
    ra_.attach(*a_);
    rb_.attach(*b_);
    const Result<PeerId> p = a_->add_peer(b_->local_name());
    ASSERT_TRUE(p.ok()) << "add_peer(" << b_->local_name() << ")";
    peer_ = p.value;
    if (auto* f = dynamic_cast<FabricCarrier*>(a_.get())) {
      std::printf("fabric carrier: %s; name %s\n", f->describe().c_str(), f->local_name().c_str());
    }
  }

  // Steps both carriers until done() (true) or the hang guard (false).
  bool pump(const std::function<bool()>& done) {
    const Time start = dp::monotonic_now();
    while (!done()) {
      const Time now = dp::monotonic_now();
      bool did = a_ ? a_->poll_once(now) : false;
      did |= b_ ? b_->poll_once(now) : false;
      if (now - start > kHangGuard) return false;
      if (!did) std::this_thread::yield();
    }
    return true;
  }

  // Sends each message (retrying would_block), the i-th with cookie i.
  void send_all(const std::vector<std::vector<uint8_t>>& msgs, SendOptions opt = {}) {
    size_t next = 0;
    a_->on_tick([&](Time now) {
      while (next < msgs.size()) {
        opt.cookie = next;
        const Result<MsgId> r = a_->send(peer_, msgs[next], opt, now);
        if (r.err == Errc::would_block) return;
        ASSERT_TRUE(r.ok()) << to_string(r.err);
        ++next;
      }
    });
    // The receiver is b_, or a process of its own (then completions say it).
    const bool done = pump([&] {
      return next == msgs.size() && ra_.completed.size() + ra_.failed.size() == msgs.size() &&
             (!b_ || rb_.received.size() >= msgs.size());
    });
    a_->on_tick({});  // the handler refers to msgs
    ASSERT_TRUE(done) << "sent " << next << ", completed " << ra_.completed.size() << ", failed "
                      << ra_.failed.size() << ", received " << rb_.received.size() << " of "
                      << msgs.size();
  }

  // Every message arrived once, byte for byte, and completed at the sender.
  void expect_whole_and_exact(const std::vector<std::vector<uint8_t>>& msgs) {
    EXPECT_TRUE(ra_.failed.empty());
    EXPECT_EQ(ra_.completed.size(), msgs.size());
    ASSERT_EQ(rb_.received.size(), msgs.size());
    std::vector<int> seen(msgs.size(), 0);
    for (const Recorder::Received& r : rb_.received) {
      ASSERT_GE(r.data.size(), 4u);
      const uint32_t i = index_of(r.data);
      ASSERT_LT(i, msgs.size());
      ++seen[i];
      EXPECT_TRUE(r.data == msgs[i]) << "message " << i << " differs (" << r.data.size()
                                     << " bytes, sent " << msgs[i].size() << ")";
    }
    for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(seen[i], 1) << "message " << i;
  }

  std::unique_ptr<Carrier> a_, b_;
  Recorder ra_, rb_;
  PeerId peer_ = kNoPeer;
};

TEST_P(CarrierTest, SmallMessagesArriveWholeAndExact) {
  std::vector<std::vector<uint8_t>> msgs;
  for (uint32_t i = 0; i < 300; ++i) msgs.push_back(message(i, 4 + (i * 37) % 1400));
  send_all(msgs);
  expect_whole_and_exact(msgs);
  EXPECT_GE(rb_.peer_ups, 1);
}

TEST_P(CarrierTest, LargeMessagesArriveWholeAndExact) {
  std::vector<std::vector<uint8_t>> msgs;
  msgs.push_back(message(0, 1u << 20));            // 1 MiB: many segments
  msgs.push_back(message(1, (1u << 20) + 12345));  // a short last segment
  msgs.push_back(message(2, 4u << 20));
  msgs.push_back(message(3, 100));
  send_all(msgs);
  expect_whole_and_exact(msgs);
  if (GetParam().name.find("registered") != std::string::npos) {
    EXPECT_TRUE(static_cast<FabricCarrier&>(*a_).registers_buffers());
    EXPECT_TRUE(static_cast<FabricCarrier&>(*b_).registers_buffers());
  }
  if (auto* f = dynamic_cast<FabricCarrier*>(b_.get())) {
    // Really segmented: more segments than messages arrived.
    EXPECT_GT(f->fabric_stats().segments_received, msgs.size());
    EXPECT_EQ(f->fabric_stats().dropped_malformed, 0u);
  }
}

TEST_P(CarrierTest, OrderedFlowArrivesInOrder) {
  // Large and small messages alternate, so that a small one could overtake
  // a large one if order were not kept; a second flow runs unordered beside.
  std::vector<std::vector<uint8_t>> msgs;
  for (uint32_t i = 0; i < 60; ++i) msgs.push_back(message(i, i % 3 == 0 ? 200000 : 64));
  size_t next = 0;
  a_->on_tick([&](Time now) {
    while (next < msgs.size()) {
      SendOptions opt;
      opt.cookie = next;
      opt.ordered = next % 4 != 3;  // every fourth: unordered, on flow 9
      opt.flow = opt.ordered ? 7 : 9;
      const Result<MsgId> r = a_->send(peer_, msgs[next], opt, now);
      if (r.err == Errc::would_block) return;
      ASSERT_TRUE(r.ok());
      ++next;
    }
  });
  ASSERT_TRUE(pump([&] {
    return ra_.completed.size() + ra_.failed.size() == msgs.size() &&
           rb_.received.size() == msgs.size();
  }));
  expect_whole_and_exact(msgs);
  std::vector<uint32_t> flow7;
  for (const Recorder::Received& r : rb_.received) {
    const uint32_t i = index_of(r.data);
    EXPECT_EQ(r.flow, i % 4 != 3 ? 7 : 9) << "message " << i;
    if (r.flow == 7) flow7.push_back(i);
  }
  EXPECT_EQ(flow7.size(), 45u);
  EXPECT_TRUE(std::is_sorted(flow7.begin(), flow7.end()));
}

TEST_P(CarrierTest, EchoRoundTrips) {
  // B answers each message with the same bytes; A sends the next on the echo.
  rb_.also = [&](const Event& ev, Time now) {
    if (ev.type == EventType::message_received) {
      ASSERT_TRUE(b_->send(ev.peer, ev.data, SendOptions{}, now).ok());
    }
  };
  uint32_t sent = 0;
  bool waiting = false;
  a_->on_tick([&](Time now) {
    if (waiting || sent == 50) return;
    ASSERT_TRUE(a_->send(peer_, message(sent, 64), SendOptions{}, now).ok());
    ++sent;
    waiting = true;
  });
  ra_.also = [&](const Event& ev, Time) {
    if (ev.type == EventType::message_received) waiting = false;
  };
  ASSERT_TRUE(pump([&] { return ra_.received.size() == 50; }));
  for (uint32_t i = 0; i < 50; ++i) EXPECT_TRUE(ra_.received[i].data == message(i, 64));
}

TEST_P(CarrierTest, ARemovedPeersMessagesFailAndItsIdIsNotUsedAgain) {
  EXPECT_FALSE(a_->peer_reachable(peer_));  // nothing exchanged yet
  // One message through: the peer answers, so it is reachable.
  send_all({message(0, 100)});
  EXPECT_TRUE(a_->peer_reachable(peer_));
  EXPECT_FALSE(a_->peer_reachable(peer_ + 1000));
  // B goes quiet (it is no longer polled), and A holds messages to it.
  // Removing the peer fails each of them once, with peer_removed.
  const std::unique_ptr<Carrier> quiet = std::move(b_);
  const Time now = dp::monotonic_now();
  SendOptions opt;
  opt.timeout = Duration::seconds(60);
  for (uint64_t c = 10; c < 13; ++c) {
    opt.cookie = c;
    ASSERT_TRUE(a_->send(peer_, message(static_cast<uint32_t>(c), 3000), opt, now).ok());
  }
  ASSERT_EQ(a_->remove_peer(peer_, now), Errc::ok);
  EXPECT_FALSE(a_->peer_reachable(peer_));
  ASSERT_TRUE(pump([&] { return ra_.failed.size() == 3; }));
  std::vector<uint64_t> cookies;
  for (const Recorder::Failed& f : ra_.failed) {
    EXPECT_EQ(f.reason, FailReason::peer_removed);
    cookies.push_back(f.cookie);
  }
  std::sort(cookies.begin(), cookies.end());
  EXPECT_EQ(cookies, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(ra_.completed.size(), 1u);
  // The id is gone; the name makes a new peer.
  EXPECT_EQ(a_->send(peer_, message(20, 10), opt, now).err, Errc::unknown_peer);
  EXPECT_EQ(a_->remove_peer(peer_, now), Errc::unknown_peer);
  const Result<PeerId> again = a_->add_peer(quiet->local_name());
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again.value, peer_);
  // Nothing further fails or completes late.
  for (int i = 0; i < 100; ++i) a_->poll_once(dp::monotonic_now());
  EXPECT_EQ(ra_.failed.size(), 3u);
  EXPECT_EQ(ra_.completed.size(), 1u);
}

TEST_P(CarrierTest, APeerRemovedAndAddedAgainCarriesOnBothWays) {
  // B answers every message with its bytes; ordered on flow 3 as well.
  rb_.also = [&](const Event& ev, Time now) {
    if (ev.type == EventType::message_received) {
      SendOptions o;
      o.flow = ev.flow;
      o.ordered = true;
      ASSERT_TRUE(b_->send(ev.peer, ev.data, o, now).ok());
    }
  };
  auto exchange = [&](uint32_t first, uint32_t n) {
    const size_t got = ra_.received.size();
    SendOptions opt;
    opt.flow = 3;
    opt.ordered = true;
    for (uint32_t i = first; i < first + n; ++i) {
      ASSERT_TRUE(a_->send(peer_, message(i, 200), opt, dp::monotonic_now()).ok());
    }
    ASSERT_TRUE(pump([&] { return ra_.received.size() == got + n; }))
        << "echoes " << ra_.received.size() - got << " of " << n;
    for (uint32_t k = 0; k < n; ++k) {
      EXPECT_TRUE(ra_.received[got + k].data == message(first + k, 200)) << "echo " << k;
    }
  };
  exchange(0, 20);
  ASSERT_EQ(a_->remove_peer(peer_, dp::monotonic_now()), Errc::ok);
  const Result<PeerId> again = a_->add_peer(b_->local_name());
  ASSERT_TRUE(again.ok());
  peer_ = again.value;
  // Nothing sent after the re-add is taken for a duplicate of what went
  // before, and order holds across the removal.
  exchange(20, 20);
  EXPECT_TRUE(ra_.failed.empty());
  EXPECT_TRUE(rb_.failed.empty());
}

TEST_P(CarrierTest, SendToAPeerThatIsGoneFailsByItsDeadline) {
  // The peer runs in a child process, so that it can really go away (shm
  // maps an in-process peer's region directly: closing that peer in this
  // process would pull the memory from under the sender, which a peer in
  // another process, dead or not, cannot do).
  b_.reset();
  int name_pipe[2], go_pipe[2];
  ASSERT_EQ(pipe(name_pipe), 0);
  ASSERT_EQ(pipe(go_pipe), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The peer: answers until the parent says its message completed.
    close(name_pipe[0]);
    close(go_pipe[1]);
    int status = 1;
    try {
      std::unique_ptr<Carrier> c = GetParam().make();
      uint64_t got = 0;
      c->on_event([&](const Event& ev, Time) {
        if (ev.type == EventType::message_received) ++got;
      });
      const std::string n = c->local_name() + "\n";
      if (write(name_pipe[1], n.data(), n.size()) != static_cast<ssize_t>(n.size())) _exit(1);
      fcntl(go_pipe[0], F_SETFL, O_NONBLOCK);
      const Time start = dp::monotonic_now();
      char byte = 0;
      while (read(go_pipe[0], &byte, 1) != 1 && dp::monotonic_now() - start < kHangGuard) {
        c->poll_once(dp::monotonic_now());
      }
      status = got == 1 ? 0 : 1;
    } catch (...) {
    }
    _exit(status);
  }
  close(name_pipe[1]);
  close(go_pipe[0]);
  std::string name;
  char ch = 0;
  while (read(name_pipe[0], &ch, 1) == 1 && ch != '\n') name.push_back(ch);
  close(name_pipe[0]);
  const Result<PeerId> p = a_->add_peer(name);
  ASSERT_TRUE(p.ok()) << "the child's name: '" << name << "'";
  peer_ = p.value;

  // First the peer is there: one message goes through.
  send_all({message(0, 64)});
  ASSERT_EQ(ra_.completed.size(), 1u);
  // Then it is gone.
  ASSERT_EQ(write(go_pipe[1], "x", 1), 1);
  close(go_pipe[1]);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the peer process failed";

  const Time sent = dp::monotonic_now();
  SendOptions opt;
  opt.cookie = 42;
  opt.timeout = Duration::millis(300);
  std::vector<uint8_t> m = message(1, 3000);
  ASSERT_TRUE(a_->send(peer_, m, opt, sent).ok());
  ASSERT_TRUE(pump([&] { return ra_.completed.size() + ra_.failed.size() == 2; }));
  EXPECT_EQ(ra_.completed.size(), 1u);
  ASSERT_EQ(ra_.failed.size(), 1u);
  EXPECT_EQ(ra_.failed[0].cookie, 42u);
  // The engine may notice the silent peer (peer_unreachable) before the
  // message's own timeout; the fabric carrier knows only the deadline.
  const FailReason why = ra_.failed[0].reason;
  EXPECT_TRUE(why == FailReason::timeout || why == FailReason::peer_unreachable) << to_string(why);
  if (a_->kind() == "fabric") {
    EXPECT_EQ(why, FailReason::timeout);
    EXPECT_GE(ra_.failed[0].at - sent, opt.timeout);  // not before its deadline
  }
}

TEST_P(CarrierTest, SendToAPeerThatNeverWasFailsNotDelivered) {
  // A name nobody is behind: a carrier's in a child process that has exited
  // (in this process, shm would keep using a closed peer's memory).
  b_.reset();
  int name_pipe[2];
  ASSERT_EQ(pipe(name_pipe), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(name_pipe[0]);
    try {
      const std::string n = GetParam().make()->local_name() + "\n";
      if (write(name_pipe[1], n.data(), n.size()) == static_cast<ssize_t>(n.size())) _exit(0);
    } catch (...) {
    }
    _exit(1);
  }
  close(name_pipe[1]);
  std::string name;
  char ch = 0;
  while (read(name_pipe[0], &ch, 1) == 1 && ch != '\n') name.push_back(ch);
  close(name_pipe[0]);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const Result<PeerId> p = a_->add_peer(name);
  ASSERT_TRUE(p.ok());
  SendOptions opt;
  opt.cookie = 7;
  opt.timeout = Duration::millis(200);
  ASSERT_TRUE(a_->send(p.value, message(0, 100), opt, dp::monotonic_now()).ok());
  ASSERT_TRUE(pump([&] { return !ra_.failed.empty(); }));
  EXPECT_EQ(ra_.failed[0].cookie, 7u);
  EXPECT_TRUE(ra_.completed.empty());
  if (a_->kind() == "fabric") {
    // It never said hello back, so no segment left: certainly not delivered.
    EXPECT_FALSE(ra_.failed[0].maybe_delivered);
    // With nothing left to send it, the carrier stops calling it: no timer
    // is left once the next hello would have been due.
    a_->poll_once(dp::monotonic_now() + Duration::seconds(1));
    EXPECT_TRUE(a_->next_deadline().is_infinite());
  }
}

TEST_P(CarrierTest, BadInputIsRefused) {
  EXPECT_EQ(a_->add_peer("").err, Errc::invalid_argument);
  EXPECT_EQ(a_->add_peer("not a name").err, Errc::invalid_argument);
  const Time now = dp::monotonic_now();
  std::vector<uint8_t> m(10);
  EXPECT_EQ(a_->send(12345, m, SendOptions{}, now).err, Errc::unknown_peer);
  std::vector<uint8_t> huge((16u << 20) + 1);
  EXPECT_EQ(a_->send(peer_, huge, SendOptions{}, now).err, Errc::too_large);
}

// Each carrier in its own run() loop on a thread: idle waits (the wait fd
// where there is one) and wake-ups on arrival.
TEST_P(CarrierTest, RunLoopsOnThreads) {
  std::atomic<bool> stop_a{false}, stop_b{false};
  std::atomic<size_t> received{0}, completed{0};
  rb_.also = [&](const Event& ev, Time) {
    if (ev.type == EventType::message_received) received.fetch_add(1);
  };
  ra_.also = [&](const Event& ev, Time) {
    if (ev.type == EventType::send_completed) completed.fetch_add(1);
  };
  uint32_t sent = 0;
  a_->on_tick([&](Time now) {
    // One at a time, so that both loops go idle between messages.
    if (sent < 20 && completed.load() == sent) {
      if (a_->send(peer_, message(sent, 1000 + sent * 5000), SendOptions{}, now).ok()) ++sent;
    }
    if (completed.load() == 20) stop_a = true;
  });
  std::thread tb([&] { b_->run(stop_b); });
  std::thread ta([&] { a_->run(stop_a); });
  ta.join();
  stop_b = true;
  tb.join();
  EXPECT_EQ(completed.load(), 20u);
  EXPECT_EQ(received.load(), 20u);
  for (const Recorder::Received& r : rb_.received) {
    const uint32_t i = index_of(r.data);
    EXPECT_TRUE(r.data == message(i, 1000 + i * 5000));
  }
  if (auto* f = dynamic_cast<FabricCarrier*>(b_.get())) {
    std::printf("receiver: %llu idle waits, %llu woken by the CQ's fd\n",
                static_cast<unsigned long long>(f->fabric_stats().waits),
                static_cast<unsigned long long>(f->fabric_stats().wakeups_by_fd));
  }
}

INSTANTIATE_TEST_SUITE_P(Carriers, CarrierTest, ::testing::ValuesIn(kinds()),
                         [](const ::testing::TestParamInfo<Kind>& p) { return p.param.name; });

TEST(FabricCarrier, UnknownProviderFailsWithTheReason) {
  FabricConfig cfg;
  cfg.provider = "no_such_provider";
  try {
    FabricCarrier c(cfg);
    FAIL() << "opened a provider that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fi_getinfo"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_provider"), std::string::npos) << e.what();
  }
}

TEST(FabricCarrier, BadConfigurationIsRefused) {
  FabricConfig cfg;
  cfg.segment_size = 10;
  EXPECT_THROW(FabricCarrier c(cfg), std::invalid_argument);
  cfg = FabricConfig{};
  cfg.provider = "";
  EXPECT_THROW(FabricCarrier c(cfg), std::invalid_argument);
}

// What libfabric 1.17 offers here to sleep on (docs/carrier.md): shm has no
// wait object (its CQ refuses FI_WAIT_FD), udp;ofi_rxd gives a descriptor
// through a wait set, tcp;ofi_rxm on the CQ itself.
TEST(FabricCarrier, WaitDescriptorWhereTheProviderHasOne) {
  auto fd_of = [](const std::string& provider) {
    FabricConfig cfg;
    cfg.provider = provider;
    if (provider != "shm") cfg.node = "127.0.0.1";
    FabricCarrier c(cfg);
    std::printf("%s: %s\n", provider.c_str(), c.describe().c_str());
    return c.has_wait_fd();
  };
  EXPECT_FALSE(fd_of("shm"));
  EXPECT_TRUE(fd_of("udp;ofi_rxd"));
  EXPECT_TRUE(fd_of("tcp;ofi_rxm"));
}

// Two carriers with different segment sizes: each learns the other's from
// its hello and never sends it a segment larger than its receive buffers.
TEST(FabricCarrier, DifferentSegmentSizesWorkTogether) {
  for (const std::string provider : {"shm", "udp;ofi_rxd"}) {
    SCOPED_TRACE(provider);
    std::unique_ptr<Carrier> big = make_fabric(provider, 64u << 10);
    std::unique_ptr<Carrier> small = make_fabric(provider, 4096);
    std::vector<std::vector<uint8_t>> got_big, got_small;
    big->on_event([&](const Event& ev, Time) {
      if (ev.type == EventType::message_received)
        got_big.emplace_back(ev.data.begin(), ev.data.end());
    });
    small->on_event([&](const Event& ev, Time) {
      if (ev.type == EventType::message_received) {
        got_small.emplace_back(ev.data.begin(), ev.data.end());
      }
    });
    const Result<PeerId> to_small = big->add_peer(small->local_name());
    const Result<PeerId> to_big = small->add_peer(big->local_name());
    ASSERT_TRUE(to_small.ok() && to_big.ok());
    const std::vector<uint8_t> m1 = message(1, 1u << 20), m2 = message(2, 1u << 20);
    const Time now = dp::monotonic_now();
    ASSERT_TRUE(big->send(to_small.value, m1, SendOptions{}, now).ok());
    ASSERT_TRUE(small->send(to_big.value, m2, SendOptions{}, now).ok());
    const Time start = dp::monotonic_now();
    while ((got_small.empty() || got_big.empty()) && dp::monotonic_now() - start < kHangGuard) {
      big->poll_once(dp::monotonic_now());
      small->poll_once(dp::monotonic_now());
    }
    ASSERT_EQ(got_small.size(), 1u);
    ASSERT_EQ(got_big.size(), 1u);
    EXPECT_TRUE(got_small[0] == m1);
    EXPECT_TRUE(got_big[0] == m2);
    const FabricStats& s = static_cast<FabricCarrier&>(*small).fabric_stats();
    EXPECT_GE(s.segments_received, (1u << 20) / 4096);  // in segments it can take
    EXPECT_EQ(s.provider_errors, 0u);
    EXPECT_EQ(static_cast<FabricCarrier&>(*big).fabric_stats().provider_errors, 0u);
  }
}

// Providers addressed by sockaddr_in take a peer as IP:PORT too, for a peer
// opened with that node and service; shm does not.
TEST(FabricCarrier, PeerByIpAndPort) {
  for (const std::string provider : {"udp;ofi_rxd", "tcp;ofi_rxm"}) {
    SCOPED_TRACE(provider);
    std::unique_ptr<FabricCarrier> b;
    uint16_t port = 0;
    for (int attempt = 0; attempt < 50 && !b; ++attempt) {
      port = static_cast<uint16_t>(50000 + (getpid() * 7 + attempt * 131) % 10000);
      FabricConfig cfg;
      cfg.provider = provider;
      cfg.node = "127.0.0.1";
      cfg.service = std::to_string(port);
      try {
        b = std::make_unique<FabricCarrier>(cfg);
      } catch (const std::runtime_error&) {  // the port is taken: another
      }
    }
    ASSERT_TRUE(b) << "no free port";
    const std::string ip_port = "127.0.0.1:" + std::to_string(port);
    std::unique_ptr<Carrier> a = make_fabric(provider);
    const Result<PeerId> p = a->add_peer(ip_port);
    ASSERT_TRUE(p.ok()) << ip_port;
    // The same peer as by its hex name.
    EXPECT_EQ(a->add_peer(b->local_name()).value, p.value);
    std::vector<uint8_t> got;
    b->on_event([&](const Event& ev, Time) {
      if (ev.type == EventType::message_received) got.assign(ev.data.begin(), ev.data.end());
    });
    const std::vector<uint8_t> m = message(9, 5000);
    ASSERT_TRUE(a->send(p.value, m, SendOptions{}, dp::monotonic_now()).ok());
    const Time start = dp::monotonic_now();
    while (got.empty() && dp::monotonic_now() - start < kHangGuard) {
      a->poll_once(dp::monotonic_now());
      b->poll_once(dp::monotonic_now());
    }
    EXPECT_TRUE(got == m);
    EXPECT_EQ(a->add_peer("127.0.0.1:0").err, Errc::invalid_argument);
    EXPECT_EQ(a->add_peer("127.0.0.1:70000").err, Errc::invalid_argument);
    EXPECT_EQ(a->add_peer("localhost:5000").err, Errc::invalid_argument);
  }
  std::unique_ptr<Carrier> shm = make_fabric("shm");
  EXPECT_EQ(shm->add_peer("127.0.0.1:5000").err, Errc::invalid_argument);
}

TEST(FabricCarrier, HexNames) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(from_hex("00ff10Ab", out));
  EXPECT_EQ(out, (std::vector<uint8_t>{0x00, 0xff, 0x10, 0xab}));
  EXPECT_EQ(to_hex(out), "00ff10ab");
  EXPECT_FALSE(from_hex("abc", out));
  EXPECT_FALSE(from_hex("zz", out));
  EXPECT_FALSE(from_hex("", out));
}

}  // namespace
}  // namespace srdx::carrier
