// The simulator runs the poll loop that ships: each sim::Host is a Poller
// over a sim::HostLink (the `sim` link backend), stepped in simulated time.
// Its counters agree with the endpoint's, the link's and the network's; the
// link hands over datagrams as a UDP socket would (source port = the
// sender's entropy); the host's features map onto the loop (paused reading
// is paused events, a restart is a new link and a new loop, the loop's
// configuration applies: a transmit budget spreads an instant's packets over
// iterations) and a restart from inside the loop's own handler is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/host.h"
#include "sim/network.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

constexpr Addr kA{0x0a000001, 7000};
constexpr Addr kB{0x0a000002, 7000};

EndpointConfig endpoint_config(uint64_t seed) {
  EndpointConfig c;
  c.seed = seed;
  c.encryption = false;
  return c;
}

struct TwoHosts {
  TwoHosts() : net(net_config()) {
    to_b = a.add_peer(kB).value;
    b.add_peer(kA);
    b.on_event([this](Host&, const Event& ev, Time) {
      if (ev.type == EventType::message_received) got.emplace_back(ev.data.begin(), ev.data.end());
    });
  }
  static NetworkConfig net_config() {
    NetworkConfig c;
    c.paths = 4;
    c.link.delay = 10_us;
    return c;
  }
  void send(const std::string& m) {
    ASSERT_TRUE(a.send(to_b, {reinterpret_cast<const uint8_t*>(m.data()), m.size()}).ok());
  }
  Network net;
  Host a{net, "a", kA, Side::a, endpoint_config(1)};
  Host b{net, "b", kB, Side::b, endpoint_config(2)};
  PeerId to_b = kNoPeer;
  std::vector<std::string> got;
};

TEST(SimHost, RunsThePollerAndItsCountersAgreeWithTheEndpointAndTheNetwork) {
  TwoHosts t;
  for (int i = 0; i < 20; ++i) t.send("m" + std::to_string(i));
  t.net.run_until(Time::zero() + 50_ms);
  ASSERT_EQ(t.got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(t.got[i], "m" + std::to_string(i));

  for (const Host* h : {&t.a, &t.b}) {
    const dp::PollerStats& ps = h->poller().stats();
    const dp::LinkStats ls = h->link().stats();
    const EndpointStats& es = h->endpoint().stats();
    EXPECT_GT(ps.iterations, 0u);
    EXPECT_EQ(ps.rx_packets, es.packets_received) << h->name();
    EXPECT_EQ(ps.rx_packets, ls.rx_packets) << h->name();
    EXPECT_EQ(ps.tx_packets, es.packets_sent) << h->name();
    EXPECT_EQ(ps.tx_packets, ls.tx_packets) << h->name();
    EXPECT_EQ(h->packets_transmitted(), es.packets_sent) << h->name();
    EXPECT_EQ(ps.partial_tx, 0u);
    EXPECT_EQ(h->link().kind(), "sim");
    EXPECT_EQ(h->link().local(), h->addr());
  }
  EXPECT_GT(t.b.poller().stats().events, 20u) << "the messages reached the handler by the loop";
  EXPECT_EQ(t.net.counters().sent, t.a.packets_transmitted() + t.b.packets_transmitted());
  EXPECT_EQ(t.net.counters().delivered,
            t.a.link().stats().rx_packets + t.b.link().stats().rx_packets);
}

// The link reports what a socket would: the sender's IP and UDP source port,
// the entropy the sender chose.
TEST(SimHost, TheLinkHandsOverTheSourcePortAsTheEntropy) {
  NetworkConfig nc;
  nc.paths = 4;
  Network net(nc);
  Host a(net, "a", kA, Side::a, endpoint_config(1));
  // A probe at B's address sees the datagrams as the network delivers them;
  // a HostLink of its own turns them into what a Poller would receive.
  struct Probe : Port {
    explicit Probe(Network& n) : link(n, kB, 1500) {}
    void deliver(const Datagram& d, Time) override {
      ports.insert(d.src_port);
      link.push(d);
    }
    HostLink link;
    std::set<uint16_t> ports;
  } probe(net);
  net.attach(probe, kB, Side::b);
  const PeerId to_b = a.add_peer(kB).value;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(a.send(to_b, std::vector<uint8_t>(1000, static_cast<uint8_t>(i))).ok());
  }
  net.run_until(Time::zero() + 1_ms);
  const size_t queued = probe.link.queued();
  ASSERT_GT(queued, 0u) << "A's hellos, at least";
  std::vector<dp::RxDatagram> rx(64);
  const size_t n = probe.link.rx_burst(rx);
  EXPECT_EQ(n, std::min<size_t>(64, queued));
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(rx[i].src.ip, kA.ip);
    EXPECT_TRUE(probe.ports.contains(rx[i].src.port));
    EXPECT_EQ(probe.link.label_of(rx[i]), Label::genuine);
  }
  EXPECT_EQ(probe.link.stats().rx_packets, n);
  net.detach(probe);
}

TEST(SimHost, PausedReadingIsPausedEventsAndARestartIsANewLoop) {
  TwoHosts t;
  t.send("before");
  t.net.run_until(Time::zero() + 5_ms);
  ASSERT_EQ(t.got.size(), 1u);

  t.b.pause_reading(true);
  EXPECT_TRUE(t.b.poller().events_paused());
  t.send("held");
  t.net.run_until(Time::zero() + 10_ms);
  EXPECT_EQ(t.got.size(), 1u);
  EXPECT_EQ(t.b.endpoint().buffered_messages(), 1u);
  t.b.pause_reading(false);
  EXPECT_FALSE(t.b.poller().events_paused());
  t.net.run_until(Time::zero() + 15_ms);
  EXPECT_EQ(t.got, (std::vector<std::string>{"before", "held"}));

  const uint64_t sent = t.b.packets_transmitted();
  t.b.pause_reading(true);
  t.b.restart();
  EXPECT_EQ(t.b.poller().stats().iterations, 0u) << "a new process, a new loop";
  EXPECT_TRUE(t.b.poller().events_paused()) << "the host's reader is still paused";
  EXPECT_EQ(t.b.packets_transmitted(), sent) << "counted over every incarnation";
  t.b.pause_reading(false);
  std::vector<std::string> failed;
  t.a.on_event([&](Host&, const Event& ev, Time) {
    if (ev.type == EventType::send_failed) failed.push_back(std::string(to_string(ev.reason)));
  });
  // A's connection was to the old process: what it sends on it fails, and
  // the next message opens a connection to the new one.
  t.send("after");
  t.net.run_until(Time::zero() + 100_ms);
  EXPECT_EQ(failed, std::vector<std::string>{"peer_restarted"});
  t.send("again");
  t.net.run_until(Time::zero() + 200_ms);
  EXPECT_EQ(t.got, (std::vector<std::string>{"before", "held", "again"}));
  EXPECT_GT(t.b.packets_transmitted(), sent);
}

// The host's loop is configured like srdxd's: with a transmit budget of 2
// packets per iteration, what is due at one instant leaves over several
// iterations at that instant, and everything still arrives.
TEST(SimHost, ATightTransmitBudgetSpreadsAnInstantsWorkOverIterations) {
  NetworkConfig nc;
  nc.paths = 4;
  Network net(nc);
  dp::PollerConfig pc;
  pc.burst = 2;
  pc.tx_budget = 2;
  EndpointConfig ca = endpoint_config(1);
  ca.pacing = false;  // the window alone: many packets due at once
  Host a(net, "a", kA, Side::a, ca, pc);
  Host b(net, "b", kB, Side::b, endpoint_config(2), pc);
  const PeerId to_b = a.add_peer(kB).value;
  b.add_peer(kA);
  size_t got = 0;
  b.on_event([&](Host&, const Event& ev, Time) {
    if (ev.type == EventType::message_received) got += ev.data.size();
  });
  ASSERT_TRUE(a.send(to_b, std::vector<uint8_t>(1000)).ok());  // the handshake
  net.run_until(Time::zero() + 5_ms);
  ASSERT_EQ(got, 1000u);
  ASSERT_TRUE(a.send(to_b, std::vector<uint8_t>(256u << 10, 3)).ok());
  net.run_until(Time::zero() + 100_ms);
  EXPECT_EQ(got, 1000u + (256u << 10));
  const dp::PollerStats& s = a.poller().stats();
  EXPECT_GT(s.tx_budget_spent, 0u);
  EXPECT_EQ(s.tx_packets, a.endpoint().stats().packets_sent);
  EXPECT_LE(s.tx_packets, 2 * (s.iterations - s.idle_iterations));
}

TEST(SimHost, ARestartFromInsideTheHostsOwnHandlerIsRefused) {
  TwoHosts t;
  std::string error;
  t.b.on_event([&](Host& h, const Event& ev, Time) {
    if (ev.type != EventType::message_received) return;
    try {
      h.restart();
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  });
  t.send("x");
  t.net.run_until(Time::zero() + 5_ms);
  EXPECT_NE(error.find("Network::at"), std::string::npos) << error;
  EXPECT_EQ(t.b.restarts(), 0u);
}

}  // namespace
}  // namespace srdx::sim
