// Seeded random scenarios: every seed derives a whole run (fabric, impairments,
// failures, workload, endpoint knobs) and the end-to-end invariants must hold:
//
//   every message is delivered exactly once and intact, or reported failed
//   (missing == 0, duplicated == 0, corrupted_delivered == 0); no message
//   reported completed went undelivered (completed_not_delivered == 0); none
//   reported failed as "not delivered" (Event::maybe_delivered false, once the
//   field exists) was delivered; nothing an attacker forged is delivered and
//   it gets no state (forged_delivered == 0, extra_peers == 0); the workload
//   finishes within its simulated time limit, and afterwards every endpoint's
//   buffers drain back to zero.
//
// The faults of issue 9 (one-way outages of a path or of every path, peer
// reloads, restarts with the clock stepped back and of a sender, frozen hosts
// longer or shorter than peer_timeout, a blind attacker) are drawn after every
// older parameter, so a seed keeps its fabric, workload and knobs.
//
// How many seeds: the first command-line argument (meson passes the
// `property_seeds` option), overridden by env SRDX_PROPERTY_SEEDS. Seeds run
// from SRDX_PROPERTY_SEED_BASE (default 1). SRDX_PROPERTY_SEED=N replays seed N
// alone and prints its parameters and result. SRDX_PROPERTY_ONPATH=0 leaves
// the on-path attacker out of the seeds that drew it (to compare). A failing seed is printed as one
// line with every parameter, so it can be replayed with SRDX_PROPERTY_SEED.
//
// Sharding: "--shard=I/N" (after the count) runs the seeds whose position
// modulo N is I, so meson runs the shards in parallel.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sim/scenario.h"
#include "sim/units.h"

namespace srdx::sim {
namespace {

using namespace srdx::literals;

uint64_t g_seed_count = 1000;
uint64_t g_seed_base = 1;
uint32_t g_shard = 0, g_shards = 1;
std::optional<uint64_t> g_only_seed;
bool g_onpath = true;  // SRDX_PROPERTY_ONPATH=0: the on-path attacker stays off (still drawn)

// Our own generator, so that a seed's scenario does not change when the
// simulator's generator does.
class SplitMix64 {
 public:
  // The seed is mixed first: consecutive seeds must not give shifted streams.
  explicit SplitMix64(uint64_t seed) : s_(seed) { s_ = next(); }
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  // Log-uniform in [lo, hi].
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  bool chance(double p) { return unit() < p; }

 private:
  uint64_t s_;
};

struct PathParams {
  Duration delay_ab, delay_ba;  // asymmetric one-way delays
  uint64_t rate_bps = 0;        // 0: unlimited
  uint64_t queue_bytes = 0;     // 0: unbounded
  double loss = 0, duplicate = 0, reorder = 0, corrupt = 0;
};

struct Params {
  uint64_t seed = 0;
  Workload workload = Workload::bulk;
  uint32_t senders = 1;
  uint64_t msg_size = 8, count = 1;
  uint32_t window = 1;
  std::vector<PathParams> paths;
  // Failures, each optional.
  bool blackhole = false;
  uint32_t bh_path = 0;
  Duration bh_start, bh_len;  // bh_len infinite: never restored
  bool restart = false;
  Duration restart_at;
  bool pause = false;
  Duration pause_at, pause_len;
  bool ordered = false;
  // Issue 9's faults, each optional.
  bool oneway = false;   // a blackhole of one direction
  uint32_t ow_path = 0;  // kAllPaths: every path
  Directions ow_dir = Directions::a_to_b;
  Duration ow_start, ow_len;
  bool reload = false;
  HostRef reload_host;
  Duration reload_at;
  bool restart_back = false;  // the receiver's restart steps its clock back
  bool sender_restart = false;
  Clock sender_restart_clock = Clock::forward;
  Duration sender_restart_at;
  bool freeze = false;
  HostRef freeze_host;
  Duration freeze_at, freeze_len;
  bool attack = false;
  uint64_t attack_pps = 0;
  Duration attack_at, attack_len;
  // Issue 10: an on-path attacker (sim/onpath.h), from attack_at on.
  bool onpath = false;
  OnPathConfig op;
  EndpointConfig ep;
  Duration time_limit, drain_limit;

  std::string describe() const;
};

std::string us(Duration d) {
  if (d == Duration::infinite()) return "inf";
  std::ostringstream o;
  o << d.ns() / 1000 << "us";
  return o.str();
}

std::string Params::describe() const {
  std::ostringstream o;
  o << "seed=" << seed << " workload=" << to_string(workload) << " senders=" << senders
    << " size=" << msg_size << " count=" << count << " window=" << window
    << " paths=" << paths.size() << " [";
  for (size_t i = 0; i < paths.size(); i++) {
    const PathParams& p = paths[i];
    o << (i ? " " : "") << "p" << i << ":" << us(p.delay_ab) << "/" << us(p.delay_ba) << ","
      << (p.rate_bps ? std::to_string(p.rate_bps / 1'000'000) + "Mb" : std::string("inf")) << ",q"
      << p.queue_bytes << ",l" << p.loss << ",d" << p.duplicate << ",r" << p.reorder << ",c"
      << p.corrupt;
  }
  o << "]";
  if (blackhole) o << " blackhole=p" << bh_path << "@" << us(bh_start) << "+" << us(bh_len);
  if (restart) o << " restart@" << us(restart_at) << (restart_back ? ":back" : "");
  if (pause) o << " pause@" << us(pause_at) << "+" << us(pause_len);
  if (ordered) o << " ordered";
  auto host = [](const HostRef& h) {
    return h.role == Role::receiver ? std::string("receiver") : "sender" + std::to_string(h.sender);
  };
  if (oneway) {
    o << " oneway=" << (ow_path == kAllPaths ? std::string("all") : "p" + std::to_string(ow_path))
      << ":" << to_string(ow_dir) << "@" << us(ow_start) << "+" << us(ow_len);
  }
  if (reload) o << " reload=" << host(reload_host) << "@" << us(reload_at);
  if (sender_restart) {
    o << " sender_restart@" << us(sender_restart_at)
      << (sender_restart_clock == Clock::stepped_back ? ":back" : "");
  }
  if (freeze) o << " freeze=" << host(freeze_host) << "@" << us(freeze_at) << "+" << us(freeze_len);
  if (attack) o << " attack=" << attack_pps << "pps@" << us(attack_at) << "+" << us(attack_len);
  if (onpath) {
    o << " onpath@" << us(op.start - Time::zero()) << "{drop=" << op.drop << " delay=" << op.delay
      << "/" << us(op.max_delay) << " copy=" << op.copy << " replay=" << op.replay
      << " alter=" << op.alter << " reflect=" << op.reflect << " forge=" << op.forge << "}";
  }
  o << " ep{mtu=" << ep.mtu << " paths_per_peer=" << ep.paths_per_peer
    << " msg_timeout=" << us(ep.message_timeout) << " max_outstanding=" << ep.max_outstanding_msgs
    << " recv_window=" << ep.recv_msg_window << " recv_buffer=" << ep.recv_buffer_bytes
    << " reorder_thr=" << ep.reorder_threshold << " rto=" << us(ep.rto_min) << "/"
    << us(ep.rto_initial) << "/" << us(ep.rto_max) << " max_inflight=" << ep.max_inflight_packets
    << " ack_delay=" << us(ep.ack_delay) << " ack_every=" << ep.ack_every
    << " hs=" << us(ep.handshake_interval) << " peer_timeout=" << us(ep.peer_timeout)
    << " cc_target=" << us(ep.cc_target_delay) << " cc_init=" << ep.cc_initial_window
    << " cc_ai=" << ep.cc_additive_increase << " cc_beta=" << ep.cc_beta
    << " cc_md=" << ep.cc_max_decrease << " pacing=" << ep.pacing << " coalesce=" << ep.coalesce
    << "}"
    << " time_limit=" << us(time_limit) << " drain=" << us(drain_limit);
  return o.str();
}

uint32_t pow2_between(SplitMix64& r, uint32_t lo_log2, uint32_t hi_log2) {
  return 1u << r.range(lo_log2, hi_log2);
}

Params derive(uint64_t seed) {
  SplitMix64 r(seed ^ 0x70726f7065727479ull);  // "property"
  Params p;
  p.seed = seed;

  // Workload. Sizes are per run (the scenario sends one size); the smallest is
  // 8 bytes, the message index every payload starts with.
  p.workload = r.chance(0.7) ? Workload::bulk : Workload::pingpong;
  switch (r.range(0, 3)) {
    case 0:
      p.msg_size = r.range(8, 64);
      break;
    case 1:
      p.msg_size = r.range(65, 4096);
      break;
    default:
      p.msg_size = r.range(4097, 200u << 10);
      break;
  }
  if (p.workload == Workload::bulk) {
    p.senders = r.chance(0.25) ? static_cast<uint32_t>(r.range(2, 3)) : 1;
    p.count = r.range(10, 60);
    p.window = static_cast<uint32_t>(r.range(1, 32));
  } else {
    p.count = r.range(10, 60);
  }
  // Bound the bytes a seed moves so that a thousand seeds stay quick.
  const uint64_t budget = 6u << 20;
  while (p.count > 10 && p.msg_size * p.count * p.senders > budget) p.count--;

  // Fabric.
  const uint32_t n = static_cast<uint32_t>(r.range(1, 8));
  const double max_loss = r.chance(0.3) ? 0.0 : r.uniform(0.0, 0.20);
  const double max_dup = r.chance(0.5) ? 0.0 : r.uniform(0.0, 0.05);
  const double max_reorder = r.chance(0.5) ? 0.0 : r.uniform(0.0, 0.05);
  const double max_corrupt = r.chance(0.5) ? 0.0 : r.uniform(0.0, 0.02);
  for (uint32_t i = 0; i < n; i++) {
    PathParams pp;
    pp.delay_ab = Duration::nanos(static_cast<int64_t>(r.range(1000, 200'000)));
    pp.delay_ba =
        r.chance(0.5) ? pp.delay_ab : Duration::nanos(static_cast<int64_t>(r.range(1000, 200'000)));
    pp.rate_bps = r.chance(0.2)
                      ? 0
                      : static_cast<uint64_t>(r.log_uniform(100e6, 10e9)) / 1'000'000 * 1'000'000;
    pp.queue_bytes = r.chance(0.4) ? 0 : static_cast<uint64_t>(r.log_uniform(64 << 10, 4 << 20));
    pp.loss = r.uniform(0.0, max_loss);
    pp.duplicate = r.uniform(0.0, max_dup);
    pp.reorder = r.uniform(0.0, max_reorder);
    pp.corrupt = r.uniform(0.0, max_corrupt);
    p.paths.push_back(pp);
  }

  // A rough idea of how long the transfer takes, to place failures inside it.
  uint64_t rate_sum = 0;
  Duration max_delay;
  for (const PathParams& pp : p.paths) {
    rate_sum += pp.rate_bps ? pp.rate_bps : 10'000'000'000ull;
    max_delay = max(max_delay, max(pp.delay_ab, pp.delay_ba));
  }
  const double bytes = static_cast<double>(p.msg_size * p.count * p.senders) *
                       (p.workload == Workload::pingpong ? 2.0 : 1.0);
  const uint64_t rounds = p.workload == Workload::pingpong ? p.count : p.count / p.window + 1;
  const Duration estimate = Duration::nanos(static_cast<int64_t>(bytes * 8e9 / rate_sum)) +
                            max_delay * static_cast<int64_t>(2 * rounds) + 100_us;
  auto within = [&](double lo, double hi) {
    return Duration::nanos(
        static_cast<int64_t>(r.uniform(lo, hi) * static_cast<double>(estimate.ns())));
  };

  if (r.chance(0.3)) {
    p.blackhole = true;
    p.bh_path = static_cast<uint32_t>(r.range(0, n - 1));
    p.bh_start = within(0.05, 0.8);
    // The only path may stay dead only briefly; otherwise sometimes forever.
    p.bh_len = (n > 1 && r.chance(0.3))
                   ? Duration::infinite()
                   : Duration::nanos(static_cast<int64_t>(r.log_uniform(100e3, 20e6)));
  }
  if (r.chance(0.15)) {
    p.restart = true;
    p.restart_at = within(0.05, 0.9);
  }
  if (r.chance(0.15)) {
    p.pause = true;
    p.pause_at = within(0.0, 0.8);
    p.pause_len = Duration::nanos(static_cast<int64_t>(r.log_uniform(50e3, 50e6)));
  }
  // A restart destroys the messages the endpoint completed (they reached it)
  // but the paused application had not read yet: lost by design, not by the
  // transport. The reader resumes 10 us before the restart instead.
  if (p.restart && p.pause && p.pause_at <= p.restart_at &&
      p.restart_at <= p.pause_at + p.pause_len) {
    p.pause_len = max(p.restart_at - p.pause_at - 10_us, Duration::zero());
  }

  // Endpoint knobs, within what validate() accepts.
  EndpointConfig& e = p.ep;
  e.mtu = static_cast<uint32_t>(r.range(tuning::kMinMtu, 9000));
  e.paths_per_peer = static_cast<uint32_t>(r.range(1, 64));
  e.max_message_size = 256u << 10;
  e.message_timeout = Duration::nanos(static_cast<int64_t>(r.log_uniform(30e6, 500e6)));
  e.max_outstanding_msgs = pow2_between(r, 0, 10);
  e.recv_msg_window = pow2_between(r, 0, 12);
  e.recv_buffer_bytes = static_cast<uint64_t>(r.log_uniform(256 << 10, 64 << 20));
  e.reorder_threshold = static_cast<uint32_t>(r.range(1, 16));
  // Receive memory over all peers: one to three peers' buffers, a cap the
  // senders share when there are more of them. Taken from a draw made
  // already, so that adding it did not move every seed's later draws.
  e.recv_memory_bytes = e.recv_buffer_bytes * (1 + e.reorder_threshold % 3);
  e.rto_min = Duration::nanos(static_cast<int64_t>(r.range(20'000, 200'000)));
  e.rto_initial = e.rto_min + Duration::nanos(static_cast<int64_t>(r.range(0, 2'000'000)));
  e.rto_max = e.rto_initial + Duration::nanos(static_cast<int64_t>(r.range(0, 40'000'000)));
  e.max_inflight_packets = pow2_between(r, 4, 13);
  e.ack_delay =
      Duration::nanos(static_cast<int64_t>(r.range(0, static_cast<uint64_t>(e.rto_min.ns()) - 1)));
  e.ack_every = static_cast<uint32_t>(r.range(1, 16));
  e.handshake_interval = Duration::nanos(static_cast<int64_t>(r.range(100'000, 5'000'000)));
  e.peer_timeout = Duration::nanos(static_cast<int64_t>(r.log_uniform(50e6, 1e9)));
  if (e.peer_timeout <= e.handshake_interval) e.peer_timeout = e.handshake_interval * 4;
  e.cc_target_delay = Duration::nanos(static_cast<int64_t>(r.range(5'000, 200'000)));
  e.cc_initial_window = std::max<uint64_t>(e.max_payload(), r.range(4u << 10, 1u << 20));
  e.cc_additive_increase = r.uniform(0.5, 8.0);
  e.cc_beta = r.uniform(0.2, 2.0);
  e.cc_max_decrease = r.uniform(0.1, 0.9);
  e.pacing = r.chance(0.8);

  // Time to finish even when every message times out: each one resolves
  // within message_timeout of send(), a window at a time (pingpong: request
  // then echo), plus the stalls the failures add.
  const uint64_t window = std::min<uint64_t>(p.window, e.max_outstanding_msgs);
  const uint64_t waves =
      p.workload == Workload::pingpong ? 2 * p.count : (p.count + window - 1) / window + 1;
  p.time_limit = e.message_timeout * static_cast<int64_t>(waves + 2) + e.peer_timeout * 2 + 1_s;
  p.drain_limit = e.message_timeout * 2 + e.peer_timeout * 2 + e.rto_max * 4 + 100_ms;
  if (p.pause) p.time_limit += p.pause_len;
  // Drawn last, so that adding it left every other parameter of a seed as it was.
  p.ordered = p.workload == Workload::bulk && r.chance(0.3);
  // Likewise: feature coalesce (an ACK and data in one datagram) on in most runs.
  p.ep.coalesce = r.chance(0.8);

  // Issue 9's faults, drawn after everything above. Half of the outages and
  // freezes outlast peer_timeout: that is where a connection is given up on.
  auto long_or_short = [&](double short_lo, double short_hi) {
    return r.chance(0.5) ? e.peer_timeout + Duration::nanos(static_cast<int64_t>(
                                                r.uniform(0.1, 1.0) * e.peer_timeout.ns()))
                         : Duration::nanos(static_cast<int64_t>(r.log_uniform(short_lo, short_hi)));
  };
  auto any_host = [&](double receiver_share) {
    return r.chance(receiver_share)
               ? HostRef{Role::receiver, 0}
               : HostRef{Role::sender, static_cast<uint32_t>(r.range(0, p.senders - 1))};
  };
  if (r.chance(0.15)) {
    p.oneway = true;
    p.ow_path = r.chance(0.5) ? kAllPaths : static_cast<uint32_t>(r.range(0, n - 1));
    p.ow_dir = r.chance(0.6) ? Directions::a_to_b : Directions::b_to_a;
    p.ow_start = within(0.05, 0.8);
    p.ow_len = long_or_short(100e3, 20e6);
  }
  if (r.chance(0.1)) {
    p.reload = true;
    p.reload_host = any_host(0.4);
    p.reload_at = within(0.05, 0.9);
  }
  p.restart_back = p.restart && r.chance(0.4);
  if (r.chance(0.05)) {
    p.sender_restart = true;
    p.sender_restart_at = within(0.05, 0.9);
    p.sender_restart_clock = r.chance(0.5) ? Clock::stepped_back : Clock::forward;
  }
  if (r.chance(0.1)) {
    p.freeze = true;
    p.freeze_host = any_host(0.7);
    p.freeze_at = within(0.0, 0.8);
    p.freeze_len = long_or_short(50e3, 20e6);
  }
  if (r.chance(0.08)) {
    p.attack = true;
    p.attack_pps = static_cast<uint64_t>(r.log_uniform(1e3, 2e5));
    p.attack_at = within(0.0, 0.5);
    p.attack_len = Duration::nanos(static_cast<int64_t>(r.log_uniform(1e6, 50e6)));
  }
  if (p.oneway) p.time_limit += p.ow_len;
  if (p.freeze) p.time_limit += p.freeze_len;
  // Issue 10's on-path attacker, drawn last. It may drop a little (then
  // messages may fail, as under loss); what it makes must never be delivered.
  if (r.chance(0.15)) {
    p.onpath = true;
    OnPathConfig& o = p.op;
    o.start = Time::zero() + within(0.0, 0.3);
    o.drop = r.chance(0.7) ? 0.0 : r.uniform(0.0, 0.1);
    o.delay = r.uniform(0.0, 0.1);
    o.max_delay = Duration::nanos(static_cast<int64_t>(r.log_uniform(1e3, 1e6)));
    o.copy = r.uniform(0.0, 0.1);
    o.replay = r.uniform(0.0, 0.1);
    o.alter = r.uniform(0.0, 0.1);
    o.reflect = r.uniform(0.0, 0.05);
    o.forge = r.uniform(0.0, 0.2);
  }
  return p;
}

ScenarioResult run(const Params& p) {
  ScenarioConfig c;
  c.seed = p.seed;
  c.net.paths = static_cast<uint32_t>(p.paths.size());
  c.workload = p.workload;
  c.senders = p.senders;
  c.msg_size = p.msg_size;
  c.count = p.count;
  c.window = p.window;
  c.ordered = p.ordered;
  c.endpoint = p.ep;
  c.time_limit = p.time_limit;
  c.drain_limit = p.drain_limit;
  if (p.blackhole) {
    c.blackholes.push_back({p.bh_path, Time::zero() + p.bh_start,
                            p.bh_len == Duration::infinite()
                                ? Time::infinite()
                                : Time::zero() + p.bh_start + p.bh_len});
  }
  if (p.oneway) {
    c.blackholes.push_back(
        {p.ow_path, Time::zero() + p.ow_start, Time::zero() + p.ow_start + p.ow_len, p.ow_dir});
  }
  if (p.reload) c.reloads.push_back({Time::zero() + p.reload_at, p.reload_host});
  if (p.sender_restart) {
    c.restarts.push_back(
        {Time::zero() + p.sender_restart_at, {Role::sender, 0}, p.sender_restart_clock});
  }
  if (p.freeze) c.freezes.push_back({Time::zero() + p.freeze_at, p.freeze_len, p.freeze_host});
  if (p.attack) {
    c.attacks.push_back(
        {Time::zero() + p.attack_at, Time::zero() + p.attack_at + p.attack_len, p.attack_pps, 0.1});
  }
  if (p.onpath && g_onpath) c.onpath = p.op;
  Scenario s(c);
  Network& net = s.network();
  for (uint32_t i = 0; i < p.paths.size(); i++) {
    const PathParams& pp = p.paths[i];
    net.set_path(i, [&](LinkParams& l) {
      l.delay = pp.delay_ab;
      l.rate_bps = pp.rate_bps;
      l.queue_bytes = pp.queue_bytes;
      l.loss = pp.loss;
      l.duplicate = pp.duplicate;
      l.reorder = pp.reorder;
      l.corrupt = pp.corrupt;
    });
    net.link(i, Dir::b_to_a).params.delay = pp.delay_ba;
  }
  if (p.restart) {
    net.at(Time::zero() + p.restart_at, [&s, &p](Network&) {
      s.restart({Role::receiver, 0}, p.restart_back ? Clock::stepped_back : Clock::forward);
    });
  }
  if (p.pause) {
    net.at(Time::zero() + p.pause_at, [&s](Network&) { s.receiver().pause_reading(true); });
    net.at(Time::zero() + p.pause_at + p.pause_len,
           [&s](Network&) { s.receiver().pause_reading(false); });
  }
  return s.run();
}

std::string summarize(const ScenarioResult& r) {
  std::ostringstream o;
  o << "sent=" << r.messages_sent << " send_errors=" << r.send_errors
    << " delivered=" << r.delivered << " failed=" << r.failed
    << " (timeout=" << r.failed_by_reason[1] << " unreachable=" << r.failed_by_reason[2]
    << " restarted=" << r.failed_by_reason[3] << " too_large=" << r.failed_by_reason[5]
    << " removed=" << r.failed_by_reason[4] << ") failed_but_delivered=" << r.failed_but_delivered
    << " failed_not_maybe_but_delivered=" << r.failed_not_maybe_but_delivered
    << (kEventSaysMaybeDelivered ? "" : " (Event has no maybe_delivered yet)")
    << " missing=" << r.missing << " completed_not_delivered=" << r.completed_not_delivered
    << " abandoned=" << r.abandoned << " forged_delivered=" << r.forged_delivered
    << " forged_sent=" << r.forged_sent << " onpath_sent=" << r.onpath.sent()
    << " onpath_dropped=" << r.onpath.dropped << " made_delivered=" << r.made_delivered
    << " extra_peers=" << r.extra_peers << " over_caps=" << r.over_caps
    << " duplicated=" << r.duplicated << " corrupted_delivered=" << r.corrupted_delivered
    << " timed_out=" << r.timed_out << " drained=" << r.drained << " (" << r.buffered_bytes
    << " B, " << r.buffered_messages << " msgs) retx=" << r.retransmissions
    << " corrupted_rejected=" << r.corrupted_rejected << " end=" << us(r.end_time - Time::zero())
    << " hash=" << std::hex << r.trace_hash << std::dec;
  return o.str();
}

// Empty when every invariant holds; otherwise which ones broke.
//
// One exception: a pingpong server that restarts may take the echo of the
// request it had just received (and acknowledged) down with it. Nothing can
// report that echo failed, so that round trip stays open and the workload
// stops there: one missing round trip and a timed-out run are allowed then;
// duplicates, corruption and undrained buffers are not.
std::string violations(const Params& p, const ScenarioResult& r) {
  const bool echo_may_die = p.workload == Workload::pingpong && p.restart;
  std::string v;
  if (r.missing > (echo_may_die ? 1u : 0u)) v += " missing";
  if (r.duplicated != 0) v += " duplicated";
  if (r.corrupted_delivered != 0) v += " corrupted_delivered";
  if (r.order_violations != 0) v += " order_violations";
  if (r.completed_not_delivered != 0) v += " completed_not_delivered";
  if (r.failed_not_maybe_but_delivered != 0) v += " failed_not_maybe_but_delivered";
  if (r.forged_delivered != 0) v += " forged_delivered";
  if (r.made_delivered != 0) v += " made_delivered";
  // Sealed datagrams, data, ACKs and closes the on-path attacker made or
  // altered are all dropped and counted (only handshake packets may be
  // answered instead).
  for (size_t t : {0, 3, 4, 6, 7}) {
    if (r.taint.made_not_dropped[t] != 0) v += " made_not_dropped_type_" + std::to_string(t);
  }
  if (r.extra_peers != 0) v += " extra_peers";
  if (r.timed_out && !(echo_may_die && r.missing == 1)) v += " timed_out";
  if (!r.drained) v += " not_drained";
  return v;
}

TEST(Property, RandomScenariosKeepTheInvariants) {
  std::vector<uint64_t> seeds;
  if (g_only_seed) {
    seeds.push_back(*g_only_seed);
  } else {
    for (uint64_t i = 0; i < g_seed_count; i++) {
      if (i % g_shards == g_shard) seeds.push_back(g_seed_base + i);
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t failures = 0, delivered = 0, failed = 0, sent = 0, with_failures = 0;
  // Failing seeds that drew each of issue 9's faults, and those that drew none.
  uint64_t failing_with[7] = {}, onpath_seeds = 0, failing_old_faults_only = 0;
  double slowest_ms = 0;
  uint64_t slowest_seed = 0;
  for (uint64_t seed : seeds) {
    const Params p = derive(seed);
    onpath_seeds += p.onpath;
    const auto s0 = std::chrono::steady_clock::now();
    ScenarioResult r;
    std::string error;
    try {
      r = run(p);
    } catch (const std::exception& e) {
      error = std::string(" exception: ") + e.what();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count();
    if (ms > slowest_ms) slowest_ms = ms, slowest_seed = seed;
    sent += r.messages_sent;
    delivered += r.delivered;
    failed += r.failed;
    with_failures += r.failed > 0;
    const std::string v = error.empty() ? violations(p, r) : error;
    if (g_only_seed) {
      std::cout << p.describe() << "\n" << summarize(r) << "\n";
    }
    if (!v.empty()) {
      failures++;
      if (!(p.oneway || p.reload || p.restart_back || p.sender_restart || p.freeze || p.attack ||
            p.onpath)) {
        failing_old_faults_only++;
      }
      failing_with[0] += p.oneway;
      failing_with[1] += p.reload;
      failing_with[2] += p.restart_back;
      failing_with[3] += p.sender_restart;
      failing_with[4] += p.freeze;
      failing_with[5] += p.attack;
      failing_with[6] += p.onpath;
      ADD_FAILURE() << "FAILED seed " << seed << ":" << v << " (replay: SRDX_PROPERTY_SEED=" << seed
                    << ")\n  " << p.describe() << "\n  " << summarize(r);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "property: " << seeds.size() << " seeds";
  if (!g_only_seed) {
    std::cout << " (" << g_seed_base << ".." << g_seed_base + g_seed_count - 1 << ", shard "
              << g_shard << "/" << g_shards << ")";
  }
  std::cout << ", " << failures << " failing, " << sent << " messages sent, " << delivered
            << " delivered, " << failed << " failed (in " << with_failures << " seeds), "
            << onpath_seeds << " with the on-path attacker, " << secs << " s wall, slowest seed "
            << slowest_seed << " (" << slowest_ms << " ms)\n";
  if (failures) {
    std::cout << "property: failing seeds with a one-way outage " << failing_with[0]
              << ", a reload " << failing_with[1] << ", a restart with the clock back "
              << failing_with[2] << ", a sender restart " << failing_with[3] << ", a freeze "
              << failing_with[4] << ", an attack " << failing_with[5] << ", on-path "
              << failing_with[6] << "; with none of these " << failing_old_faults_only << "\n";
  }
}

// The same seed twice: the same trace and the same figures.
TEST(Property, SameSeedSameRun) {
  // Once per run: only the first shard, and not when replaying one seed.
  if (g_only_seed || g_shard != 0) return;
  int checked = 0;
  for (uint64_t seed = 1; checked < 6 && seed < 10000; seed++) {
    const Params p = derive(seed);
    // Prefer seeds that exercise impairments and failures.
    if (checked < 3 && !(p.blackhole || p.restart || p.pause || p.oneway || p.reload ||
                         p.sender_restart || p.freeze || p.attack || p.onpath))
      continue;
    checked++;
    const ScenarioResult a = run(p), b = run(p);
    SCOPED_TRACE(p.describe());
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_EQ(a.end_time, b.end_time);
    EXPECT_EQ(a.messages_sent, b.messages_sent);
    EXPECT_EQ(a.delivered, b.delivered);
    EXPECT_EQ(a.failed, b.failed);
    EXPECT_EQ(a.failed_by_reason, b.failed_by_reason);
    EXPECT_EQ(a.retransmissions, b.retransmissions);
    EXPECT_EQ(a.packets_sent, b.packets_sent);
    EXPECT_EQ(a.corrupted_rejected, b.corrupted_rejected);
    EXPECT_EQ(a.peer_up, b.peer_up);
    EXPECT_EQ(a.peer_down, b.peer_down);
    EXPECT_EQ(a.elapsed, b.elapsed);
    EXPECT_EQ(a.longest_gap, b.longest_gap);
    EXPECT_EQ(a.latency.p50_us, b.latency.p50_us);
    EXPECT_EQ(a.latency.max_us, b.latency.max_us);
    EXPECT_EQ(a.buffered_bytes, b.buffered_bytes);
    EXPECT_EQ(a.path_share, b.path_share);
    EXPECT_EQ(a.forged_sent, b.forged_sent);
    EXPECT_EQ(a.abandoned, b.abandoned);
    EXPECT_EQ(a.frozen_dropped, b.frozen_dropped);
    EXPECT_EQ(a.onpath.sent(), b.onpath.sent());
    EXPECT_EQ(a.onpath.dropped, b.onpath.dropped);
    EXPECT_EQ(a.taint.received, b.taint.received);
    EXPECT_EQ(a.drops, b.drops);
  }
}

bool parse_u64(const char* s, uint64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0') return false;
  out = v;
  return true;
}

}  // namespace
}  // namespace srdx::sim

int main(int argc, char** argv) {
  using namespace srdx::sim;
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    uint64_t v = 0;
    if (a.rfind("--shard=", 0) == 0) {
      unsigned shard = 0, shards = 1;
      if (std::sscanf(a.c_str() + 8, "%u/%u", &shard, &shards) != 2 || shards == 0 ||
          shard >= shards) {
        std::cerr << "bad " << a << ": expected --shard=I/N with I < N\n";
        return 2;
      }
      g_shard = shard;
      g_shards = shards;
    } else if (parse_u64(argv[i], v) && v > 0) {
      g_seed_count = v;
    } else {
      std::cerr << "usage: " << argv[0] << " [SEEDS] [--shard=I/N] [gtest flags]\n";
      return 2;
    }
  }
  uint64_t v = 0;
  if (parse_u64(std::getenv("SRDX_PROPERTY_SEEDS"), v) && v > 0) g_seed_count = v;
  if (parse_u64(std::getenv("SRDX_PROPERTY_SEED_BASE"), v)) g_seed_base = v;
  if (parse_u64(std::getenv("SRDX_PROPERTY_SEED"), v)) g_only_seed = v;
  if (parse_u64(std::getenv("SRDX_PROPERTY_ONPATH"), v)) g_onpath = v != 0;
  return RUN_ALL_TESTS();
}
