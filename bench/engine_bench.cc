// Engine benchmark: two srdx::Endpoint instances connected back to back in
// memory, on one thread, with no network and no I/O. It measures what the
// transport core itself costs per message and per packet.
//
// The harness owns the clock, as the dataplane does: it reads
// std::chrono::steady_clock once per loop iteration and passes that `now` to
// every call of that iteration; the transport never reads a clock.
//
// So every packet is acknowledged in the turn it left, with the same `now`:
// each RTT sample is 0, the path records it as its 1 ns floor, and the
// congestion rule gets no queueing-delay sample at all (it is not fed
// processing time as delay; whatever rule it runs, it never runs here). The
// window stays at its initial 64 KiB, which the 64-byte row's own window
// (256 messages of 164 wire bytes: 42 KB) stays under, and with an srtt of
// ~1 ns the pacer adds no gap: that row measures the protocol core without
// congestion control idling it. The larger rows send at most the 64 KiB window
// per turn. The `cwnd` counter (KiB, at the end of the run) shows the window.
//
// Each benchmark iteration sends a batch of messages A -> B, keeping at most a
// window of them outstanding (retrying after draining when send() says
// would_block), and drains until every message of the batch has its
// send_completed event. Every received message is checked (length, first and
// last byte) so that a broken engine cannot look fast.
//
// Messages of 64 KiB and more are sent zero copy (SendOptions{.copy = false}):
// the payload buffer lives for the whole benchmark and is never changed, which
// is what zero copy requires. A copy=true variant of 64 KiB shows the cost of
// the copy.
//
// Counters, rates per second of wall time: msgs (messages completed), pkts
// (packets moved, both directions, data and ACKs), Gbit (message payload).
// allocs/msg counts real heap allocations (global operator new is replaced
// below) made inside the timed loop, after a warm-up, divided by the messages
// sent; retx/msg should stay 0 on this lossless in-memory link; cwnd (KiB) is
// the congestion window at the end of the run; turns/msg is how many turns of
// the loop (one clock read, one pump) a message took, so 1/256 means the whole
// window moved each turn.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "srdx/config.h"
#include "srdx/endpoint.h"
#include "srdx/time.h"

// ---------------------------------------------------------------------------
// Counting global allocator: every form of operator new counts one allocation.
// ---------------------------------------------------------------------------
namespace {
std::atomic<uint64_t> g_allocations{0};

[[gnu::noinline]] void* counted_alloc(std::size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

[[gnu::noinline]] void* counted_aligned_alloc(std::size_t size, std::align_val_t al) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(al);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = (std::max<std::size_t>(size, 1) + a - 1) / a * a;
  return std::aligned_alloc(a, rounded);
}

// Out of line so that GCC, after inlining the replaced operators, does not pair
// `operator new` with `free` and warn (-Wmismatched-new-delete).
[[gnu::noinline]] void counted_free(void* p) noexcept { std::free(p); }

uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace

void* operator new(std::size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_alloc(size);
}
void* operator new(std::size_t size, std::align_val_t al) {
  if (void* p = counted_aligned_alloc(size, al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t al) {
  if (void* p = counted_aligned_alloc(size, al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(size, al);
}

void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}

// ---------------------------------------------------------------------------
// Two endpoints back to back.
// ---------------------------------------------------------------------------
namespace {
using Clock = std::chrono::steady_clock;

// 198.18.0.0/15 is reserved for benchmarking network devices.
constexpr srdx::Addr kAddrA{0xC6120001u, 7700};
constexpr srdx::Addr kAddrB{0xC6120002u, 7700};
constexpr auto kStallLimit = std::chrono::seconds(5);

srdx::EndpointConfig make_config(uint64_t seed, uint32_t mtu, bool encryption,
                                 uint32_t max_peers = srdx::tuning::kDefaultMaxPeers) {
  srdx::EndpointConfig cfg;
  cfg.seed = seed;
  cfg.mtu = mtu;
  cfg.encryption = encryption;
  cfg.max_peers = max_peers;
  return cfg;
}

// ---------------------------------------------------------------------------
// Idle peers: `n` peers of `hub` (at hub_addr), each a leaf endpoint of its
// own at 10.x (from ip_base), connected (with encryption: the Noise
// handshake), one 64-byte message each way over every connection, then
// quiet for tuning::kRingIdleRelease, so that each gives back the rings its
// traffic allocated. Runs on a clock of its own, `t`, advanced as it goes
// (10 us a turn; the quiet second in one jump), in batches of 64 leaves, so
// the rings of at most one batch are held at a time. The leaves are dropped
// afterwards: an idle peer sends nothing, so nothing notices. Returns null,
// or what went wrong; the hub must then have no timer left (an idle peer
// costs no timer work).
// ---------------------------------------------------------------------------
const char* connect_idle_peers(srdx::Endpoint& hub, srdx::Addr hub_addr, uint32_t n,
                               uint32_t ip_base, bool encryption, srdx::Time& t) {
  using namespace srdx::literals;
  constexpr uint32_t kBatch = 64;
  constexpr uint16_t kPort = 7000;
  std::vector<uint8_t> buf(srdx::tuning::kMaxMtu);
  const std::vector<uint8_t> msg(64, 0x3c);
  for (uint32_t first = 0; first < n; first += kBatch) {
    const uint32_t count = std::min(kBatch, n - first);
    std::vector<std::unique_ptr<srdx::Endpoint>> leaves;
    for (uint32_t i = 0; i < count; ++i) {
      const srdx::Addr addr{ip_base + first + i, kPort};
      leaves.push_back(
          std::make_unique<srdx::Endpoint>(make_config(1000 + first + i, 1500, encryption)));
      srdx::Endpoint& leaf = *leaves.back();
      auto to_hub = leaf.add_peer(hub_addr, hub.public_key());
      auto to_leaf = encryption ? hub.add_peer(addr, leaf.public_key()) : hub.add_peer(addr);
      if (!to_hub.ok() || !to_leaf.ok()) return "idle peers: add_peer failed";
      if (!leaf.send(to_hub.value, msg, srdx::SendOptions{}, t).ok())
        return "idle peers: send failed";
    }
    // The leaf opens the connection and sends; the hub answers what it
    // receives (both opening at once would cross the handshakes). Both
    // messages of every leaf end at the hub: one received, one completed.
    uint32_t done = 0;
    srdx::TxPath tx;
    srdx::Event ev;
    for (uint32_t turn = 0; done < 2 * count || hub.next_deadline() < t + 100_ms; ++turn) {
      if (turn > 100000) return "idle peers: their messages did not complete";
      t = t + 10_us;
      if (hub.next_deadline() <= t) hub.on_timer(t);
      for (auto& leaf : leaves)
        if (leaf->next_deadline() <= t) leaf->on_timer(t);
      while (std::size_t len = hub.poll_transmit(buf, tx, t)) {
        const uint32_t i = tx.remote.ip - ip_base - first;
        if (i >= count || tx.remote.port != kPort) return "idle peers: hub sent to a stranger";
        leaves[i]->on_packet(std::span<const uint8_t>(buf.data(), len),
                             srdx::RxPath{hub_addr, tx.entropy, 0}, t);
      }
      for (uint32_t i = 0; i < count; ++i) {
        while (std::size_t len = leaves[i]->poll_transmit(buf, tx, t))
          hub.on_packet(std::span<const uint8_t>(buf.data(), len),
                        srdx::RxPath{srdx::Addr{ip_base + first + i, kPort}, tx.entropy, 0}, t);
        while (leaves[i]->poll_event(ev))
          if (ev.type == srdx::EventType::send_failed || ev.type == srdx::EventType::peer_down)
            return "idle peers: a leaf lost its connection";
      }
      while (hub.poll_event(ev)) {
        if (ev.type == srdx::EventType::message_received &&
            !hub.send(ev.peer, msg, srdx::SendOptions{}, t).ok())
          return "idle peers: the hub's answer failed";
        if (ev.type == srdx::EventType::send_completed ||
            ev.type == srdx::EventType::message_received)
          ++done;
        if (ev.type == srdx::EventType::send_failed || ev.type == srdx::EventType::peer_down)
          return "idle peers: the hub lost a connection";
      }
    }
    t = t + srdx::tuning::kRingIdleRelease + 1_ms;
    if (hub.next_deadline() <= t) hub.on_timer(t);
    if (!hub.next_deadline().is_infinite()) return "idle peers: a timer is left";
  }
  return nullptr;
}

class BackToBack {
 public:
  BackToBack(uint32_t mtu, std::size_t msg_size, bool encryption,
             uint32_t max_peers = srdx::tuning::kDefaultMaxPeers)
      : a_(make_config(11, mtu, encryption, max_peers)),
        b_(make_config(22, mtu, encryption, max_peers)),
        encryption_(encryption),
        buf_(srdx::tuning::kMaxMtu),
        msg_size_(msg_size),
        origin_(Clock::now()) {}

  const char* error() const { return error_; }

  // `n` idle peers on each endpoint, before connect(): see
  // connect_idle_peers(). Their set-up runs on simulated time; the clock
  // then goes on from there.
  bool add_idle_peers(uint32_t n) {
    srdx::Time t = clock_now();
    if (const char* e = connect_idle_peers(a_, kAddrA, n, 0x0a000000, encryption_, t))
      return fail(e);
    if (const char* e = connect_idle_peers(b_, kAddrB, n, 0x0a800000, encryption_, t))
      return fail(e);
    offset_ = offset_ + (t - clock_now());
    return true;
  }
  // Clock::now() since the start, plus the simulated time idle peers took.
  srdx::Time clock_now() const {
    return srdx::Time::from_ns(
               std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin_)
                   .count()) +
           offset_;
  }

  // Adds each endpoint as the other's peer and pumps until both are up, or
  // for at most 100 ms: an engine that handshakes only once it has something
  // to send finishes the handshake during the warm-up batches instead.
  bool connect() {
    auto pa = a_.add_peer(kAddrB, b_.public_key());
    auto pb = b_.add_peer(kAddrA, a_.public_key());
    if (!pa.ok() || !pb.ok()) return fail("add_peer failed");
    peer_b_ = pa.value;
    const auto start = Clock::now();
    while (!(a_up_ && b_up_) && Clock::now() - start < std::chrono::milliseconds(100)) {
      pump(clock_now());
      if (error_) return false;
    }
    return true;
  }

  // Sends `count` messages of `payload`, at most `window` outstanding, and
  // returns once all of them completed (false on error or stall).
  bool run_batch(std::span<const uint8_t> payload, const srdx::SendOptions& opt, uint64_t count,
                 uint64_t window) {
    const uint64_t target = completed_ + count;
    uint64_t to_send = count;
    uint64_t last_progress = completed_;
    auto last_progress_time = Clock::now();
    uint32_t loops = 0;
    while (completed_ < target) {
      const srdx::Time now = clock_now();
      while (to_send > 0 && sent_ - completed_ < window) {
        auto r = a_.send(peer_b_, payload, opt, now);
        if (r.err == srdx::Errc::would_block) break;  // drain, then retry
        if (!r.ok()) return fail("send() failed");
        ++sent_;
        --to_send;
      }
      pump(now);
      ++turns_;
      if (error_) return false;
      if (++loops % 1024 == 0) {
        const auto t = Clock::now();
        if (completed_ != last_progress) {
          last_progress = completed_;
          last_progress_time = t;
        } else if (t - last_progress_time > kStallLimit) {
          return fail("no send_completed for 5 s: engine stalled");
        }
      }
    }
    return true;
  }

  // One turn of the in-memory link: timers, A -> B packets, B's events,
  // B -> A packets (ACKs), A's events.
  void pump(srdx::Time now) {
    if (a_.next_deadline() <= now) a_.on_timer(now);
    if (b_.next_deadline() <= now) b_.on_timer(now);
    srdx::TxPath tx;
    while (std::size_t n = a_.poll_transmit(buf_, tx, now)) {
      if (tx.remote != kAddrB) fail("A sent to an idle peer");
      b_.on_packet(std::span<const uint8_t>(buf_.data(), n), srdx::RxPath{kAddrA, tx.entropy, 0},
                   now);
      ++packets_;
    }
    drain_b();
    while (std::size_t n = b_.poll_transmit(buf_, tx, now)) {
      if (tx.remote != kAddrA) fail("B sent to an idle peer");
      a_.on_packet(std::span<const uint8_t>(buf_.data(), n), srdx::RxPath{kAddrB, tx.entropy, 0},
                   now);
      ++packets_;
    }
    drain_a();
  }

  void set_expected(uint8_t first, uint8_t last) {
    first_ = first;
    last_ = last;
  }

  // A new connection, as a removed and re-added peer makes it: A forgets B
  // (B hears a close), adds it again, and one message of `payload` goes
  // over the new connection, which the message's send starts: B's retry,
  // A's hello with the cookie, B's hello_ack (with encryption: the Noise IK
  // handshake, both sides' Diffie-Hellman work and key derivation). Returns
  // once the message completed.
  bool reconnect(std::span<const uint8_t> payload) {
    const srdx::Time now = clock_now();
    reconnecting_ = true;
    if (a_.remove_peer(peer_b_, now) != srdx::Errc::ok) return fail("remove_peer failed");
    auto pa = a_.add_peer(kAddrB, b_.public_key());
    if (!pa.ok()) return fail("add_peer failed");
    peer_b_ = pa.value;
    const bool ok = run_batch(payload, srdx::SendOptions{}, 1, 1);
    reconnecting_ = false;
    return ok;
  }
  const srdx::EndpointStats& stats_a() const { return a_.stats(); }

  uint64_t completed() const { return completed_; }
  uint64_t received() const { return received_; }
  uint64_t packets() const { return packets_; }
  uint64_t turns() const { return turns_; }
  uint64_t cwnd() const {
    srdx::PeerStats ps;
    return a_.peer_stats(peer_b_, ps) ? ps.cwnd_bytes : 0;
  }
  uint64_t retransmissions() const {
    return a_.stats().retransmissions + b_.stats().retransmissions;
  }

 private:
  bool fail(const char* why) {
    if (!error_) error_ = why;
    return false;
  }

  void drain_a() {
    srdx::Event ev;
    while (a_.poll_event(ev)) {
      switch (ev.type) {
        case srdx::EventType::send_completed:
          ++completed_;
          break;
        case srdx::EventType::send_failed:
          fail("send_failed event");
          break;
        case srdx::EventType::peer_up:
          a_up_ = true;
          break;
        case srdx::EventType::peer_down:
          if (!reconnecting_) fail("peer_down on A");
          break;
        case srdx::EventType::message_received:
          fail("A received a message");
          break;
      }
    }
  }

  void drain_b() {
    srdx::Event ev;
    while (b_.poll_event(ev)) {
      switch (ev.type) {
        case srdx::EventType::message_received:
          // The cheap check: right length, right first and last byte.
          if (ev.data.size() != msg_size_ ||
              (msg_size_ > 0 && (ev.data.front() != first_ || ev.data.back() != last_))) {
            fail("received message has wrong length or content");
          }
          ++received_;
          break;
        case srdx::EventType::peer_up:
          b_up_ = true;
          break;
        case srdx::EventType::peer_down:
          if (!reconnecting_) fail("peer_down on B");
          break;
        case srdx::EventType::send_completed:
        case srdx::EventType::send_failed:
          fail("B got a send event");
          break;
      }
    }
  }

  srdx::Endpoint a_, b_;
  bool encryption_;
  srdx::Duration offset_ = srdx::Duration::zero();
  std::vector<uint8_t> buf_;
  std::size_t msg_size_;
  Clock::time_point origin_;
  srdx::PeerId peer_b_ = srdx::kNoPeer;
  bool a_up_ = false, b_up_ = false;
  bool reconnecting_ = false;  // peers going down and up is expected
  uint8_t first_ = 0, last_ = 0;
  uint64_t sent_ = 0, completed_ = 0, received_ = 0, packets_ = 0, turns_ = 0;
  const char* error_ = nullptr;
};

// Args: message size (bytes), MTU, copy (1: SendOptions::copy, 0: zero
// copy), enc (1: encryption, the default; 0: off, for comparison).
void BM_Engine(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto mtu = static_cast<uint32_t>(state.range(1));
  const bool copy = state.range(2) != 0;
  const bool encryption = state.range(3) != 0;

  // Up to ~2 MiB outstanding, between 2 and 256 messages; a batch is 4 windows.
  const uint64_t window = std::clamp<uint64_t>((2u << 20) / std::max<std::size_t>(size, 1), 2, 256);
  const uint64_t batch = window * 4;

  // Kept alive and unchanged for the whole run: required by copy=false.
  std::vector<uint8_t> payload(size);
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 31 + 7);
  if (size > 0) payload.back() = static_cast<uint8_t>(payload.front() ^ 0xa5);
  srdx::SendOptions opt{.copy = copy};

  BackToBack link(mtu, size, encryption);
  link.set_expected(size ? payload.front() : 0, size ? payload.back() : 0);
  if (!link.connect()) {
    state.SkipWithError(link.error());
    return;
  }
  // Warm-up: let the engine grow its tables and buffers before counting.
  for (int i = 0; i < 3; ++i) {
    if (!link.run_batch(payload, opt, batch, window)) {
      state.SkipWithError(link.error());
      return;
    }
  }

  const uint64_t completed0 = link.completed();
  const uint64_t packets0 = link.packets();
  const uint64_t turns0 = link.turns();
  const uint64_t retx0 = link.retransmissions();
  const uint64_t allocs0 = allocations();
  for (auto _ : state) {
    if (!link.run_batch(payload, opt, batch, window)) {
      state.SkipWithError(link.error());
      break;
    }
  }
  const uint64_t allocs = allocations() - allocs0;
  if (state.error_occurred()) return;

  const uint64_t msgs = link.completed() - completed0;
  if (link.received() != link.completed()) {
    state.SkipWithError("messages completed but not received");
    return;
  }
  const double bytes = static_cast<double>(msgs) * static_cast<double>(size);
  using benchmark::Counter;
  // Rates: the console shows them with "/s"; JSON holds the per-second value.
  state.counters["msgs"] = Counter(static_cast<double>(msgs), Counter::kIsRate);
  state.counters["pkts"] =
      Counter(static_cast<double>(link.packets() - packets0), Counter::kIsRate);
  state.counters["Gbit"] = Counter(bytes * 8 / 1e9, Counter::kIsRate);
  state.counters["allocs/msg"] =
      Counter(msgs ? static_cast<double>(allocs) / static_cast<double>(msgs) : 0.0);
  state.counters["retx/msg"] = Counter(
      msgs ? static_cast<double>(link.retransmissions() - retx0) / static_cast<double>(msgs) : 0.0);
  state.counters["turns/msg"] =
      Counter(msgs ? static_cast<double>(link.turns() - turns0) / static_cast<double>(msgs) : 0.0);
  state.counters["window"] = Counter(static_cast<double>(window));
  state.counters["cwnd"] = Counter(static_cast<double>(link.cwnd()) / 1024);
}

// The 64-byte row of BM_Engine with `idle` more peers on each endpoint
// (issue 11: one active peer among 10,000 idle ones keeps >= 90% of the
// single-peer message rate). The idle peers are connected, established and
// quiet (connect_idle_peers: each moved a message each way, then gave its
// rings back); every turn's timers, transmit loop and next_deadline() then
// cost what the one active peer needs, if the endpoint never visits the
// others. idle:0 is the same harness with none. Setting up 2 x 10,000
// connections takes a while, done once per process and reused by every run
// of the row. A packet to an idle peer fails the row.
constexpr std::size_t kIdleRowSize = 64;
constexpr uint64_t kIdleRowWindow = 256, kIdleRowBatch = 4 * kIdleRowWindow;

const std::vector<uint8_t>& idle_row_payload() {
  static const std::vector<uint8_t> payload = [] {
    std::vector<uint8_t> p(kIdleRowSize);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 31 + 7);
    p.back() = static_cast<uint8_t>(p.front() ^ 0xa5);
    return p;
  }();
  return payload;
}

// The pair with `idle` idle peers on each side, made (and warmed up) on
// first use; null after SkipWithError.
BackToBack* idle_row_link(benchmark::State& state, uint32_t idle, bool encryption) {
  static std::map<std::pair<uint32_t, bool>, std::unique_ptr<BackToBack>> links;
  auto& link = links[{idle, encryption}];
  if (link) return link.get();
  const std::vector<uint8_t>& payload = idle_row_payload();
  link = std::make_unique<BackToBack>(1500, kIdleRowSize, encryption, idle + 1);
  link->set_expected(payload.front(), payload.back());
  bool ok = link->add_idle_peers(idle) && link->connect();
  for (int i = 0; ok && i < 3; ++i)
    ok = link->run_batch(payload, srdx::SendOptions{}, kIdleRowBatch, kIdleRowWindow);
  if (!ok) {
    state.SkipWithError(link->error());
    link.reset();
  }
  return link.get();
}

void BM_EngineAmongIdle(benchmark::State& state) {
  const auto idle = static_cast<uint32_t>(state.range(0));
  const bool encryption = state.range(1) != 0;
  BackToBack* link = idle_row_link(state, idle, encryption);
  if (!link) return;
  const uint64_t completed0 = link->completed();
  const uint64_t turns0 = link->turns();
  for (auto _ : state) {
    if (!link->run_batch(idle_row_payload(), srdx::SendOptions{}, kIdleRowBatch, kIdleRowWindow)) {
      state.SkipWithError(link->error());
      return;
    }
  }
  const uint64_t msgs = link->completed() - completed0;
  if (link->received() != link->completed()) {
    state.SkipWithError("messages completed but not received");
    return;
  }
  using benchmark::Counter;
  state.counters["msgs"] = Counter(static_cast<double>(msgs), Counter::kIsRate);
  state.counters["turns/msg"] =
      Counter(msgs ? static_cast<double>(link->turns() - turns0) / static_cast<double>(msgs) : 0.0);
  state.counters["peers"] = Counter(static_cast<double>(idle + 1));
}
BENCHMARK(BM_EngineAmongIdle)
    ->ArgNames({"idle", "enc"})
    ->Args({0, 1})
    ->Args({10000, 1})
    ->Args({0, 0})
    ->Args({10000, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The two rows of BM_EngineAmongIdle side by side: every iteration runs one
// batch on the pair with no idle peers and one on the pair with 10,000 on
// each side (in alternating order), so that a machine whose speed drifts
// (a shared VM) slows both alike. Counters: msgs/s of each (`one`, `among`,
// wall time), and `ratio` = among / one, of wall time and of thread CPU
// time (`ratio_cpu`, less disturbed by other work on the machine).
void BM_EngineAmongIdleRatio(benchmark::State& state) {
  const bool encryption = state.range(0) != 0;
  BackToBack* links[2] = {idle_row_link(state, 0, encryption),
                          idle_row_link(state, 10000, encryption)};
  if (!links[0] || !links[1]) return;
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  uint64_t msgs[2] = {0, 0};
  uint64_t n = 0;
  for (auto _ : state) {
    for (int k = 0; k < 2; ++k) {
      const int which = (n & 1) ? 1 - k : k;
      BackToBack& link = *links[which];
      const uint64_t done0 = link.completed();
      const auto w0 = Clock::now();
      const double c0 = thread_cpu_seconds();
      if (!link.run_batch(idle_row_payload(), srdx::SendOptions{}, kIdleRowBatch, kIdleRowWindow)) {
        state.SkipWithError(link.error());
        return;
      }
      cpu[which] += thread_cpu_seconds() - c0;
      wall[which] += std::chrono::duration<double>(Clock::now() - w0).count();
      msgs[which] += link.completed() - done0;
    }
    ++n;
  }
  const double one = static_cast<double>(msgs[0]) / wall[0];
  const double among = static_cast<double>(msgs[1]) / wall[1];
  state.counters["one"] = one;
  state.counters["among"] = among;
  state.counters["ratio"] = among / one;
  state.counters["ratio_cpu"] =
      (static_cast<double>(msgs[1]) / cpu[1]) / (static_cast<double>(msgs[0]) / cpu[0]);
}
BENCHMARK(BM_EngineAmongIdleRatio)
    ->ArgName("enc")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void engine_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"size", "mtu", "copy", "enc"});
  for (int64_t enc : {1, 0}) {
    b->Args({64, 1500, 1, enc});
    b->Args({1 << 10, 1500, 1, enc});
    for (int64_t mtu : {1500, 9000}) {
      b->Args({64 << 10, mtu, 0, enc});  // zero copy
      b->Args({64 << 10, mtu, 1, enc});  // the same with the copy
      b->Args({1 << 20, mtu, 0, enc});   // zero copy
    }
  }
}

BENCHMARK(BM_Engine)->Apply(engine_args)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Connections per second per core: each iteration removes the peer and adds
// it again, and one 64-byte message starts the new connection and crosses it
// (reconnect() above). Both endpoints run on this one thread, so the figure
// holds both sides' work: the initiator's and the responder's. enc:1 is the
// Noise IK handshake (four X25519 operations per side, HKDF, AEAD), enc:0
// the handshake in the clear, for comparison.
void BM_Handshake(benchmark::State& state) {
  const bool encryption = state.range(0) != 0;
  std::vector<uint8_t> payload(64, 0x5a);
  BackToBack link(1500, payload.size(), encryption);
  link.set_expected(0x5a, 0x5a);
  if (!link.connect() || !link.run_batch(payload, srdx::SendOptions{}, 1, 1)) {
    state.SkipWithError(link.error());
    return;
  }
  const uint64_t hs0 = link.stats_a().handshakes_completed;
  const uint64_t restarts0 = link.stats_a().handshake_packets_sent;
  uint64_t n = 0;
  for (auto _ : state) {
    if (!link.reconnect(payload)) {
      state.SkipWithError(link.error());
      return;
    }
    ++n;
  }
  using benchmark::Counter;
  state.counters["conns"] = Counter(static_cast<double>(n), Counter::kIsRate);
  if (encryption) {
    const uint64_t hs = link.stats_a().handshakes_completed - hs0;
    if (hs < n) {
      state.SkipWithError("fewer handshakes completed than connections made");
      return;
    }
    state.counters["handshakes"] = Counter(static_cast<double>(hs), Counter::kIsRate);
  }
  state.counters["hs_pkts/conn"] =
      Counter(static_cast<double>(link.stats_a().handshake_packets_sent - restarts0) /
              std::max<uint64_t>(n, 1));
}
BENCHMARK(BM_Handshake)
    ->ArgName("enc")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// What an idle peer costs: `peers` peers added, none sending (used:0), or
// connected, one message moved each way, then quiet for
// tuning::kRingIdleRelease (used:1, with encryption: connect_idle_peers).
// heap/peer is the heap the process grew by (mallinfo2), mem/peer the
// engine's own count (Endpoint::memory_bytes); issues 9 and 11 ask for at
// most 16 KiB at 10,000 peers. Rings (send queue, sent packets, reassembly,
// ACK bitmap) come with the first message in either direction, and go when
// the peer has been quiet for kRingIdleRelease: used:1 costs what used:0
// does, plus the connection's keys.
void BM_IdlePeers(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  const bool used = state.range(1) != 0;
  double heap = 0, mem = 0;
  for (auto _ : state) {
    srdx::EndpointConfig cfg;
    cfg.max_peers = n + 1;
    const srdx::PublicKey key = srdx::public_key_of(srdx::generate_private_key());
    srdx::Endpoint ep(cfg);
    const size_t heap0 = mallinfo2().uordblks;
    const size_t mem0 = ep.memory_bytes();
    if (used) {
      srdx::Time t = srdx::Time::zero();
      if (const char* e = connect_idle_peers(ep, kAddrA, n, 0x0a000000, true, t)) {
        state.SkipWithError(e);
        return;
      }
    } else {
      for (uint32_t i = 0; i < n; ++i) {
        if (!ep.add_peer(srdx::Addr{0x0a000000 + i, 7000}, key).ok()) {
          state.SkipWithError("add_peer failed");
          return;
        }
      }
    }
    heap = static_cast<double>(mallinfo2().uordblks - heap0) / n;
    mem = static_cast<double>(ep.memory_bytes() - mem0) / n;
  }
  state.counters["heap/peer"] = heap;
  state.counters["mem/peer"] = mem;
}
BENCHMARK(BM_IdlePeers)
    ->ArgNames({"peers", "used"})
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
