// A transfer between two srdx endpoints over two dpdk links, each run by the
// poll loop that ships (dp::Poller::run on a thread of its own), for the
// port event tests: the sender keeps a window of messages in flight until
// told to stop; the receiver records which arrived. The test meanwhile
// takes a link down and up, or resets a port, and then checks that every
// message sent arrived exactly once and none failed.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dpdk/dpdk_link.h"
#include "loop/poller.h"
#include "srdx/endpoint.h"

namespace srdx::dp::test {

// One endpoint on one dpdk link, run by a Poller on its own thread. The
// link's port health is copied every few iterations for the test thread.
struct Node {
  std::unique_ptr<Link> link;
  std::unique_ptr<Endpoint> ep;
  std::unique_ptr<Poller> poller;
  std::atomic<bool> stop_flag{false};
  std::thread thread;
  mutable std::mutex mu;
  DpdkPortHealth health;

  Node(const LinkConfig& lc, uint64_t seed) {
    link = make_dpdk_link(lc);
    EndpointConfig cfg;
    cfg.seed = seed;
    cfg.port = lc.local.port;
    cfg.mtu = lc.mtu;
    // An outage of a few hundred ms must not fail the peer or the messages:
    // these tests are about the port, and the transport's retransmissions.
    cfg.peer_timeout = Duration::seconds(5);
    cfg.message_timeout = Duration::seconds(60);
    ep = std::make_unique<Endpoint>(cfg);
    poller = std::make_unique<Poller>(*link, *ep);
  }
  ~Node() { stop(); }

  void start(Poller::TickHandler app = {}) {
    poller->on_tick([this, app = std::move(app), n = uint64_t{0}](Time now) mutable {
      if ((++n & 63) == 0) {
        std::lock_guard<std::mutex> lock(mu);
        health = as_dpdk(link.get())->port_health();
      }
      if (app) app(now);
    });
    thread = std::thread([this] { poller->run(stop_flag); });
  }
  void stop() {
    stop_flag = true;
    if (thread.joinable()) thread.join();
  }
  DpdkPortHealth port_health() const {
    std::lock_guard<std::mutex> lock(mu);
    return health;
  }
};

inline std::vector<uint8_t> message(uint32_t i, size_t len) {
  std::vector<uint8_t> m(len);
  std::memcpy(m.data(), &i, sizeof i);
  for (size_t k = sizeof i; k < len; ++k) m[k] = static_cast<uint8_t>(i * 131 + k);
  return m;
}

// A sends to B while `sending`; B checks every message's bytes.
class Transfer {
 public:
  static constexpr size_t kSize = 8 << 10;
  static constexpr uint32_t kWindow = 16;

  Transfer(Node& a, Node& b) : a_(a), b_(b) {
    Result<PeerId> peer = a.ep->add_peer(b.link->local(), b.ep->public_key());
    b.ep->allow_key(a.ep->public_key());
    EXPECT_TRUE(peer.ok());
    peer_ = peer.value;
    a.poller->on_event([this](const Event& ev, Time) {
      if (ev.type == EventType::send_completed) completed_.fetch_add(1);
      if (ev.type == EventType::send_failed) failed_.fetch_add(1);
    });
    b.poller->on_event([this](const Event& ev, Time) {
      if (ev.type != EventType::message_received) return;
      uint32_t i = 0;
      if (ev.data.size() == kSize) std::memcpy(&i, ev.data.data(), sizeof i);
      const std::vector<uint8_t> want = message(i, kSize);
      std::lock_guard<std::mutex> lock(mu_);
      if (ev.data.size() != kSize || !std::equal(want.begin(), want.end(), ev.data.begin())) {
        ++corrupt_;
      } else {
        if (received_.size() <= i) received_.resize(i + 1, 0);
        ++received_[i];
      }
      received_count_.fetch_add(1);
    });
    a.start([this](Time now) {
      while (sending_.load(std::memory_order_relaxed) &&
             next_ - completed_.load() - failed_.load() < kWindow) {
        SendOptions opt;
        opt.cookie = next_;
        const Result<MsgId> r = a_.ep->send(peer_, message(next_, kSize), opt, now);
        if (r.err == Errc::would_block) break;
        if (!r.ok()) send_errors_.fetch_add(1);
        next_ = next_ + 1;
      }
    });
    b.start();
  }

  uint64_t completed() const { return completed_.load(); }
  uint64_t received() const { return received_count_.load(); }
  uint64_t failed() const { return failed_.load(); }

  // Waits (at most `limit`) until `done` holds; false when it did not.
  static bool wait(const std::function<bool()>& done,
                   std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  // Stops sending, waits for what is in flight, stops both loops and checks
  // that every message sent arrived exactly once, intact, and none failed.
  void finish_and_check() {
    sending_ = false;
    EXPECT_TRUE(wait([&] { return completed_.load() + failed_.load() == next_.load(); }))
        << completed_.load() << " completed, " << failed_.load() << " failed of " << next_.load();
    EXPECT_TRUE(wait([&] { return received_count_.load() >= next_.load(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a late duplicate would show
    a_.stop();
    b_.stop();
    const uint32_t sent = next_.load();
    EXPECT_EQ(send_errors_.load(), 0u);
    EXPECT_EQ(failed_.load(), 0u);
    EXPECT_EQ(completed_.load(), sent);
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(corrupt_, 0u);
    ASSERT_EQ(received_.size(), sent);
    for (uint32_t i = 0; i < sent; ++i) EXPECT_EQ(received_[i], 1) << "message " << i;
  }

 private:
  Node& a_;
  Node& b_;
  PeerId peer_ = 0;
  std::atomic<bool> sending_{true};
  std::atomic<uint32_t> next_{0};
  std::atomic<uint64_t> completed_{0}, failed_{0}, send_errors_{0}, received_count_{0};
  std::mutex mu_;
  std::vector<int> received_;  // times each message arrived
  uint64_t corrupt_ = 0;
};

}  // namespace srdx::dp::test
