#include "sim/scenario.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace srdx::sim {

namespace {
constexpr uint32_t kSideAIp = 0xC6120001;  // 198.18.0.1, then .2, ...
constexpr uint32_t kSideBIp = 0xC6130001;  // 198.19.0.1
constexpr uint16_t kPort = 7471;
constexpr uint32_t kAttackerIp = 0xC6120000 + 200;  // 198.18.0.200, .201, ... on side A
// How often the peer tables are sampled while an attack runs.
constexpr Duration kPeerSampleEvery = Duration::micros(100);
constexpr size_t kIndexBytes = 8;
// When send() says would_block and nothing is outstanding to wake us up.
constexpr Duration kRetryAfter = Duration::micros(20);

void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
uint64_t stream_seed(uint64_t seed, uint64_t index) { return mix64(seed ^ mix64(~index)); }
}  // namespace

std::string_view to_string(Workload w) {
  switch (w) {
    case Workload::bulk:
      return "bulk";
    case Workload::pingpong:
      return "pingpong";
  }
  return "?";
}

void make_payload(uint64_t seed, uint64_t index, std::span<uint8_t> out) {
  size_t i = 0;
  if (out.size() >= kIndexBytes) {
    put_le64(out.data(), index);
    i = kIndexBytes;
  }
  Rng rng(stream_seed(seed, index));
  while (i < out.size()) {
    uint64_t w = rng.next();
    for (int k = 0; k < 8 && i < out.size(); k++, i++) out[i] = static_cast<uint8_t>(w >> (8 * k));
  }
}

bool check_payload(uint64_t seed, std::span<const uint8_t> data, uint64_t& index) {
  if (data.size() < kIndexBytes) return false;
  index = get_le64(data.data());
  Rng rng(stream_seed(seed, index));
  size_t i = kIndexBytes;
  while (i < data.size()) {
    uint64_t w = rng.next();
    for (int k = 0; k < 8 && i < data.size(); k++, i++) {
      if (data[i] != static_cast<uint8_t>(w >> (8 * k))) return false;
    }
  }
  return true;
}

std::string ScenarioConfig::validate() const {
  if (net.paths == 0 || net.paths > 4096) return "paths: must be between 1 and 4096";
  if (msg_size < kIndexBytes) return "size: must be at least 8 bytes (the message index)";
  if (msg_size > endpoint.max_message_size) {
    return "size: larger than the endpoint's max_message_size (" +
           std::to_string(endpoint.max_message_size) + ")";
  }
  if (count == 0) return "count: must be at least 1";
  if (senders == 0 || senders > 250) return "senders: must be between 1 and 250";
  if (workload == Workload::pingpong && senders != 1) return "senders: pingpong has one client";
  if (window == 0) return "window: must be at least 1";
  if (sender_delay.size() > senders) return "sender_delay: more entries than senders";
  for (Duration d : sender_delay) {
    if (d < Duration::zero()) return "sender_delay: must not be negative";
  }
  if (time_limit <= Duration::zero()) return "time-limit: must be positive";
  if (timeline_interval <= Duration::zero()) return "timeline-interval: must be positive";
  for (const Blackhole& b : blackholes) {
    if (b.path != kAllPaths && b.path >= net.paths) {
      return "blackhole: path " + std::to_string(b.path) + " does not exist (paths are 0.." +
             std::to_string(net.paths - 1) + ")";
    }
    if (b.end <= b.start) return "blackhole: the end must come after the start";
  }
  const uint32_t n = workload == Workload::pingpong ? 1 : senders;
  auto bad_host = [n](const HostRef& h) { return h.role == Role::sender && h.sender >= n; };
  for (const PeerReload& r : reloads) {
    if (bad_host(r.host)) return "reload: no such sender";
  }
  for (const Restart& r : restarts) {
    if (bad_host(r.host)) return "restart: no such sender";
  }
  for (const Freeze& f : freezes) {
    if (bad_host(f.host)) return "freeze: no such sender";
    if (f.length <= Duration::zero()) return "freeze: the length must be positive";
  }
  for (const Attack& a : attacks) {
    if (a.rate_pps == 0 || a.rate_pps > 1'000'000'000)
      return "attack: rate must be 1..1e9 per second";
    if (a.end <= a.start) return "attack: the end must come after the start";
    if (!(a.new_identity >= 0.0 && a.new_identity <= 1.0))
      return "attack: new_identity within [0, 1]";
  }
  if (onpath) {
    const OnPathConfig& o = *onpath;
    for (double p : {o.drop, o.delay, o.copy, o.replay, o.alter, o.reflect, o.forge}) {
      if (!(p >= 0.0 && p <= 1.0)) return "onpath: probabilities must be within [0, 1]";
    }
    if (o.max_delay <= Duration::zero()) return "onpath: max_delay must be positive";
    if (o.end <= o.start) return "onpath: the end must come after the start";
  }
  for (double p : {net.link.loss, net.link.duplicate, net.link.reorder, net.link.corrupt}) {
    if (!(p >= 0.0 && p <= 1.0)) return "impairment probabilities must be within [0, 1]";
  }
  return endpoint.validate();
}

Scenario::Scenario(const ScenarioConfig& cfg) : cfg_(cfg) {
  if (std::string err = cfg_.validate(); !err.empty()) throw std::invalid_argument(err);
  NetworkConfig nc = cfg_.net;
  nc.seed = cfg_.seed;
  net_ = std::make_unique<Network>(nc);
  const uint32_t n = cfg_.workload == Workload::pingpong ? 1 : cfg_.senders;
  const Addr rx_addr{kSideBIp, kPort};
  for (uint32_t i = 0; i <= n; i++) {
    EndpointConfig ec = cfg_.endpoint;
    ec.seed = mix64(cfg_.seed + 0x686f7374ull * (i + 1));  // "host"
    const bool rx = i == n;
    const Addr addr = rx ? rx_addr : Addr{kSideAIp + i, kPort};
    std::string name =
        rx ? (cfg_.workload == Workload::pingpong ? "server" : "receiver")
           : (cfg_.workload == Workload::pingpong ? "client" : "sender" + std::to_string(i));
    hosts_.push_back(
        std::make_unique<Host>(*net_, std::move(name), addr, rx ? Side::b : Side::a, ec));
  }
  st_.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    Host& h = *hosts_[i];
    Result<PeerId> r = h.add_peer(rx_addr);
    if (!r.ok()) throw std::runtime_error("add_peer: " + std::string(to_string(r.err)));
    st_[i].peer = r.value;
    h.on_event([this, i](Host&, const Event& ev, Time now) { on_sender_event(i, ev, now); });
    if (!cfg_.endpoint.accept_unknown_peers)
      receiver().add_peer(h.addr());
    else
      receiver().allow(h.addr());
  }
  receiver().on_event([this](Host&, const Event& ev, Time now) { on_receiver_event(ev, now); });
  for (size_t i = 0; i < cfg_.sender_delay.size(); i++) {
    net_->set_access_delay(hosts_[i]->addr(), cfg_.sender_delay[i]);
  }
  rec_.resize(total());
  sender_bytes_.assign(n, 0);
  sender_left_.assign(n, cfg_.count);
  payload_.resize(cfg_.msg_size);
  outages_.assign(static_cast<size_t>(net_->paths()) * 2, 0);
  for (const Blackhole& b : cfg_.blackholes) {
    net_->at(b.start, [this, b](Network&) { set_outage(b, true); });
    if (!b.end.is_infinite()) net_->at(b.end, [this, b](Network&) { set_outage(b, false); });
  }
  for (const PeerReload& r : cfg_.reloads) {
    net_->at(r.at, [this, h = r.host](Network&) { reload_peer(h); });
  }
  for (const Restart& r : cfg_.restarts) {
    net_->at(r.at, [this, r](Network&) { restart(r.host, r.clock); });
  }
  for (const Freeze& f : cfg_.freezes) {
    net_->at(f.start, [this, f](Network&) { freeze(f.host, f.queue_bytes); });
    net_->at(f.start + f.length, [this, f](Network&) { thaw(f.host); });
  }
  std::vector<AttackTarget> targets;
  for (uint32_t i = 0; i < n; i++) {
    targets.push_back({hosts_[i]->addr(), rx_addr});
    targets.push_back({rx_addr, hosts_[i]->addr()});
  }
  for (size_t i = 0; i < cfg_.attacks.size(); i++) {
    const Attack& a = cfg_.attacks[i];
    AttackConfig ac;
    ac.start = a.start;
    ac.end = a.end;
    ac.rate_pps = a.rate_pps;
    ac.new_identity = a.new_identity;
    ac.seed = mix64(cfg_.seed ^ (0x61747461636bull + i));  // "attack"
    attackers_.push_back(std::make_unique<Attacker>(
        *net_, Addr{kAttackerIp + static_cast<uint32_t>(i), kPort}, Side::a, ac, targets));
    // Sample the peer tables through the attack (run() samples once more at
    // the end).
    const Time until = min(a.end, Time::zero() + cfg_.time_limit);
    for (Time t = a.start; t <= until; t += kPeerSampleEvery) {
      net_->at(t, [this](Network&) { sample_peers(); });
    }
  }
  if (cfg_.onpath) {
    OnPathConfig oc = *cfg_.onpath;
    oc.seed = mix64(cfg_.seed ^ 0x6f6e70617468ull);  // "onpath"
    onpath_ = std::make_unique<OnPath>(*net_, oc);
  }
}

Scenario::~Scenario() {
  onpath_.reset();
  attackers_.clear();  // detach before the network goes
}

uint64_t Scenario::extra_peers() const {
  uint64_t extra = 0;
  for (size_t i = 0; i < hosts_.size(); i++) {
    const size_t expected = i + 1 == hosts_.size() ? st_.size() : 1;
    const size_t have = hosts_[i]->endpoint().peers().size();
    if (have > expected) extra += have - expected;
  }
  return extra;
}

void Scenario::sample_peers() { res_.extra_peers = std::max(res_.extra_peers, extra_peers()); }

void Scenario::reload_peer(const HostRef& ref) {
  const Addr rx_addr = receiver().addr();
  if (ref.role == Role::sender) {
    const size_t s = ref.sender;
    const Result<PeerId> r = sender(s).reload_peer(rx_addr);
    if (!r.ok()) throw std::runtime_error("reload: add_peer: " + std::string(to_string(r.err)));
    st_[s].peer = r.value;
    res_.peer_reloads++;
    return;
  }
  const Addr peer = sender(ref.sender).addr();
  if (cfg_.endpoint.accept_unknown_peers) {
    receiver().remove_peer(peer);
  } else {
    const Result<PeerId> r = receiver().reload_peer(peer);
    if (!r.ok()) throw std::runtime_error("reload: add_peer: " + std::string(to_string(r.err)));
  }
  res_.peer_reloads++;
}

void Scenario::restart(const HostRef& ref, Clock clock) {
  Host& h = host(ref);
  h.restart(clock);
  if (ref.role == Role::receiver) return;
  // The application restarts with its endpoint: what it had in flight is
  // gone with the old process; it sends the rest over the new endpoint.
  const size_t s = ref.sender;
  SenderState& st = st_[s];
  st.peer = h.endpoint().find_peer(receiver().addr());
  const uint64_t base = s * cfg_.count;
  for (uint64_t i = base; i < base + st.next; i++) {
    Record& r = rec_[i];
    if (!r.sent_at.is_infinite() && !r.completed && r.failed == FailReason::none) {
      r.abandoned = true;
    }
  }
  const bool was_waiting = st.outstanding > 0;
  st.outstanding = 0;
  if (cfg_.workload == Workload::bulk) {
    top_up(s);
  } else if (was_waiting) {
    pp_resolved_++;
    ping_next();
  }
}

void Scenario::freeze(const HostRef& ref, uint64_t queue_bytes) { host(ref).freeze(queue_bytes); }

void Scenario::thaw(const HostRef& ref) {
  Host& h = host(ref);
  if (!h.frozen()) return;
  h.thaw();
  if (ref.role == Role::receiver) return;
  // A sender's application was stopped too: it carries on where it was.
  if (cfg_.workload == Workload::bulk) {
    top_up(ref.sender);
  } else if (st_[0].outstanding == 0) {
    ping_next();
  }
}

void Scenario::set_outage(const Blackhole& b, bool on) {
  const uint32_t first = b.path == kAllPaths ? 0 : b.path;
  const uint32_t last = b.path == kAllPaths ? net_->paths() - 1 : b.path;
  for (uint32_t p = first; p <= last; p++) {
    for (Dir d : {Dir::a_to_b, Dir::b_to_a}) {
      if (b.dir == Directions::a_to_b && d != Dir::a_to_b) continue;
      if (b.dir == Directions::b_to_a && d != Dir::b_to_a) continue;
      uint32_t& n = outages_[p * 2 + static_cast<uint32_t>(d)];
      n = on ? n + 1 : n - 1;
      net_->link(p, d).params.blackhole = n > 0;
    }
  }
}

void Scenario::top_up(size_t s) {
  SenderState& st = st_[s];
  Host& h = *hosts_[s];
  if (h.frozen()) return;  // its application is stopped too; thaw() resumes it
  while (st.outstanding < cfg_.window && st.next < cfg_.count) {
    const uint64_t index = s * cfg_.count + st.next;
    make_payload(cfg_.seed, index, payload_);
    SendOptions opt;
    opt.cookie = index;
    opt.ordered = cfg_.ordered;
    opt.flow = static_cast<uint16_t>(s);
    const Result<MsgId> r = h.send(st.peer, payload_, opt);
    if (r.err == Errc::would_block) {
      if (st.outstanding == 0 && !st.retry_scheduled) {
        st.retry_scheduled = true;
        net_->at(net_->now() + kRetryAfter, [this, s](Network&) {
          st_[s].retry_scheduled = false;
          top_up(s);
        });
      }
      return;
    }
    st.next++;
    if (!r.ok()) {
      res_.send_errors++;
      rec_[index].failed = FailReason::too_large;  // resolved: refused at once
      continue;
    }
    res_.messages_sent++;
    rec_[index].sent_at = net_->now();
    first_send_ = min(first_send_, net_->now());
    st.outstanding++;
  }
}

void Scenario::ping_next() {
  SenderState& st = st_[0];
  if (st.next >= cfg_.count || sender().frozen()) return;
  const uint64_t index = st.next;
  make_payload(cfg_.seed, index, payload_);
  SendOptions opt;
  opt.cookie = index;
  const Result<MsgId> r = sender().send(st.peer, payload_, opt);
  if (r.err == Errc::would_block) {
    if (!st.retry_scheduled) {
      st.retry_scheduled = true;
      net_->at(net_->now() + kRetryAfter, [this](Network&) {
        st_[0].retry_scheduled = false;
        ping_next();
      });
    }
    return;
  }
  st.next++;
  if (!r.ok()) {
    res_.send_errors++;
    rec_[index].failed = FailReason::too_large;
    pp_resolved_++;
    ping_next();
    return;
  }
  res_.messages_sent++;
  rec_[index].sent_at = net_->now();
  first_send_ = min(first_send_, net_->now());
  st.outstanding = 1;
}

// The final hop: a bulk message at the receiver, a response at the client.
void Scenario::on_arrival(uint64_t index, bool intact, Time now) {
  if (is_forged_index(index)) {
    res_.forged_delivered++;
    return;
  }
  if (!intact || index >= rec_.size()) {
    res_.corrupted_delivered++;
    if (index < rec_.size()) rec_[index].corrupted = true;
    return;
  }
  Record& r = rec_[index];
  if (++r.deliveries > 1) return;  // counted as duplicated at the end
  if (cfg_.ordered && cfg_.workload == Workload::bulk) {
    // Every earlier message of this sender must be delivered, or its sender
    // told that it failed (before the receiver could learn it was given up).
    const uint64_t s = index / cfg_.count;
    SenderState& st = st_[s];
    const uint64_t base = s * cfg_.count;
    while (st.resolved < index - base) {
      const Record& q = rec_[base + st.resolved];
      if (q.deliveries == 0 && q.failed == FailReason::none && !q.abandoned) break;
      ++st.resolved;
    }
    if (st.resolved < index - base) res_.order_violations++;
  }
  r.delivered_at = now;
  if (!r.sent_at.is_infinite()) latencies_.push_back(now - r.sent_at);
  if (!last_delivery_.is_infinite()) longest_gap_ = max(longest_gap_, now - last_delivery_);
  last_delivery_ = now;
  delivered_bytes_ += cfg_.msg_size;
  res_.timeline.add(run_start_, now, cfg_.msg_size);
  if (cfg_.workload == Workload::bulk) {
    const uint64_t s = index / cfg_.count;
    sender_bytes_[s] += cfg_.msg_size;
    if (--sender_left_[s] == 0 && first_done_.is_infinite()) {
      first_done_ = now;
      res_.sender_bytes = sender_bytes_;
    }
  }
}

void Scenario::on_failed(Record& r, const Event& ev, uint8_t hop) {
  r.failed = ev.reason;
  r.maybe_delivered = maybe_delivered(ev);
  r.failed_hop = hop;
}

void Scenario::on_sender_event(size_t s, const Event& ev, Time now) {
  switch (ev.type) {
    case EventType::peer_up:
      res_.peer_up++;
      return;
    case EventType::peer_down:
      res_.peer_down++;
      return;
    case EventType::send_completed:
    case EventType::send_failed: {
      if (ev.cookie >= rec_.size()) return;
      Record& r = rec_[ev.cookie];
      if (ev.type == EventType::send_completed) {
        r.completed = true;
      } else {
        on_failed(r, ev, 1);
      }
      if (cfg_.workload == Workload::bulk) {
        if (st_[s].outstanding > 0) st_[s].outstanding--;
        top_up(s);
      } else if (ev.type == EventType::send_failed && ev.cookie + 1 == st_[0].next &&
                 st_[0].outstanding == 1) {
        st_[0].outstanding = 0;  // the request will not be answered
        pp_resolved_++;
        ping_next();
      }
      return;
    }
    case EventType::message_received: {
      if (cfg_.workload != Workload::pingpong) return;
      uint64_t index = ~0ull;
      const bool intact =
          check_payload(cfg_.seed, ev.data, index) && ev.data.size() == cfg_.msg_size;
      on_arrival(index, intact, now);
      if (intact && index + 1 == st_[0].next && st_[0].outstanding == 1) {
        st_[0].outstanding = 0;
        pp_resolved_++;
        ping_next();
      }
      return;
    }
  }
}

void Scenario::check_caps() {
  for (const auto& h : hosts_) {
    const Endpoint& ep = h->endpoint();
    if (ep.recv_held_bytes() > ep.config().recv_memory_bytes ||
        ep.peers().size() > ep.config().max_peers)
      res_.over_caps++;
  }
}

void Scenario::on_receiver_event(const Event& ev, Time now) {
  if (ev.type == EventType::message_received) check_caps();
  switch (ev.type) {
    case EventType::peer_up:
      res_.peer_up++;
      return;
    case EventType::peer_down:
      res_.peer_down++;
      return;
    case EventType::send_completed:
      if (cfg_.workload == Workload::pingpong && ev.cookie < rec_.size()) {
        rec_[ev.cookie].echo_completed = true;
      }
      return;
    case EventType::send_failed:
      // A pingpong echo that will not arrive: the round trip is over.
      if (cfg_.workload == Workload::pingpong && ev.cookie < rec_.size()) {
        on_failed(rec_[ev.cookie], ev, 2);
        if (ev.cookie + 1 == st_[0].next && st_[0].outstanding == 1) {
          st_[0].outstanding = 0;
          pp_resolved_++;
          ping_next();
        }
      }
      return;
    case EventType::message_received: {
      uint64_t index = ~0ull;
      const bool intact =
          check_payload(cfg_.seed, ev.data, index) && ev.data.size() == cfg_.msg_size;
      if (cfg_.workload == Workload::bulk) {
        on_arrival(index, intact, now);
        return;
      }
      if (is_forged_index(index)) {
        res_.forged_delivered++;
        return;
      }
      if (!intact || index >= rec_.size()) {
        res_.corrupted_delivered++;
        return;
      }
      if (++rec_[index].hop1 > 1) return;  // a duplicate request: do not echo it twice
      SendOptions opt;
      opt.cookie = index;
      const Result<MsgId> r = receiver().send(ev.peer, ev.data, opt);
      if (!r.ok()) {
        res_.send_errors++;
        rec_[index].failed = FailReason::too_large;
        if (index + 1 == st_[0].next && st_[0].outstanding == 1) {
          st_[0].outstanding = 0;
          pp_resolved_++;
          ping_next();
        }
      }
      return;
    }
  }
}

bool Scenario::finished() const {
  for (const SenderState& s : st_) {
    if (s.next < cfg_.count || s.outstanding > 0) return false;
  }
  return true;
}

ScenarioResult Scenario::run() {
  res_ = ScenarioResult{};
  res_.workload = cfg_.workload;
  res_.latency_is_rtt = cfg_.workload == Workload::pingpong;
  res_.timeline = Timeline(cfg_.timeline_interval);
  const Time start = net_->now();
  run_start_ = start;
  net_->at(start, [this](Network&) {
    if (cfg_.workload == Workload::pingpong) {
      ping_next();
    } else {
      for (size_t s = 0; s < st_.size(); s++) top_up(s);
    }
  });
  net_->run_while([this] { return !finished(); }, start + cfg_.time_limit);
  res_.timed_out = !finished();

  auto buffered = [this](uint64_t& bytes, uint64_t& msgs) {
    bytes = msgs = 0;
    for (const auto& h : hosts_) {
      bytes += h->endpoint().buffered_bytes();
      msgs += h->endpoint().buffered_messages();
    }
    return bytes != 0 || msgs != 0;
  };
  uint64_t bytes = 0, msgs = 0;
  // The drain starts when the packets already queued in the network have
  // arrived: a floor update sent at the end of the workload may sit behind
  // seconds of queued retransmissions on a slow path.
  net_->run_while([&] { return buffered(bytes, msgs); },
                  max(net_->now(), net_->latest_arrival()) + cfg_.drain_limit);
  res_.drained = !buffered(res_.buffered_bytes, res_.buffered_messages);
  res_.end_time = net_->now();

  const bool pingpong = cfg_.workload == Workload::pingpong;
  for (const Record& r : rec_) {
    if (r.sent_at.is_infinite() && r.failed == FailReason::none) continue;  // never sent
    const bool arrived = r.deliveries > 0;
    // What the completed (or failed) message was: the request of a round
    // trip reaches the server, everything else the final receiver.
    const bool request_arrived = pingpong ? r.hop1 > 0 : arrived;
    if (arrived) res_.delivered++;
    if (r.deliveries > 1 || r.hop1 > 1) res_.duplicated++;
    if ((r.completed && !request_arrived) || (r.echo_completed && !arrived)) {
      res_.completed_not_delivered++;
    }
    if (r.failed != FailReason::none) {
      res_.failed++;
      res_.failed_by_reason.at(static_cast<size_t>(r.failed))++;
      if (arrived) res_.failed_but_delivered++;
      const bool failed_one_arrived = r.failed_hop == 1 ? request_arrived : arrived;
      if (failed_one_arrived && !r.maybe_delivered) res_.failed_not_maybe_but_delivered++;
    } else if (!arrived && r.abandoned) {
      res_.abandoned++;
    } else if (!arrived) {
      res_.missing++;
    } else if (!r.completed && !pingpong) {
      res_.unacknowledged++;
    }
  }
  sample_peers();
  for (const auto& h : hosts_) res_.frozen_dropped += h->frozen_dropped();
  for (const auto& a : attackers_) res_.forged_sent += a->counters().sent;
  if (onpath_) res_.onpath = onpath_->counters();
  for (const auto& h : hosts_) {
    const TaintCounters& t = h->taint();
    for (size_t l = 0; l < kLabels; l++) {
      res_.taint.received[l] += t.received[l];
      res_.taint.dropped[l] += t.dropped[l];
      res_.taint.completed[l] += t.completed[l];
      if (is_made(static_cast<Label>(l))) res_.made_delivered += t.completed[l];
    }
    for (size_t i = 0; i < t.made_not_dropped.size(); i++)
      res_.taint.made_not_dropped[i] += t.made_not_dropped[i];
  }
  res_.latency = percentiles(latencies_);
  if (!first_send_.is_infinite() && !last_delivery_.is_infinite() && last_delivery_ > first_send_) {
    res_.elapsed = last_delivery_ - first_send_;
    res_.goodput_bps = static_cast<double>(delivered_bytes_) * 8.0 / res_.elapsed.sec();
  }
  res_.longest_gap = longest_gap_;
  Time failure = Time::infinite();
  for (const Blackhole& b : cfg_.blackholes) failure = min(failure, b.start);
  if (!failure.is_infinite() && failure >= start) {
    res_.dip = measure_dip(res_.timeline.bins(), res_.timeline.interval(), failure - start);
  }
  for (const auto& h : hosts_) {
    const EndpointStats& s = h->endpoint().stats();
    res_.retransmissions += s.retransmissions;
    res_.rto_events += s.rto_events;
    res_.reorder_losses += s.reorder_losses;
    res_.spurious_losses += s.spurious_losses;
    res_.packets_sent += s.packets_sent;
    res_.peer_restarts += s.peer_restarts;
    for (size_t d = 0; d < res_.drops.size(); d++) res_.drops[d] += s.drops[d];
    // With encryption a corrupted datagram mostly fails its tag (bad_auth).
    for (DropReason d : {DropReason::too_short, DropReason::bad_version, DropReason::bad_type,
                         DropReason::bad_checksum, DropReason::bad_length, DropReason::bad_field,
                         DropReason::bad_auth}) {
      res_.corrupted_rejected += s.drops[static_cast<size_t>(d)];
    }
  }
  if (cfg_.workload == Workload::bulk) {
    for (size_t i = 0; i < st_.size(); i++) {
      const EndpointStats& s = hosts_[i]->endpoint().stats();
      res_.sender_data_packets += s.data_packets_sent;
      res_.sender_retransmissions += s.retransmissions;
    }
    // Judged while every sender had work; when none finished (failures,
    // restarts), over the whole run.
    if (first_done_.is_infinite()) res_.sender_bytes = sender_bytes_;
    const Time until = first_done_.is_infinite() ? last_delivery_ : first_done_;
    if (!first_send_.is_infinite() && !until.is_infinite() && until > first_send_) {
      res_.contended = until - first_send_;
    }
    double sum = 0, squares = 0;
    for (uint64_t b : res_.sender_bytes) {
      sum += static_cast<double>(b);
      squares += static_cast<double>(b) * static_cast<double>(b);
    }
    if (squares > 0) {
      res_.fairness = sum * sum / (static_cast<double>(res_.sender_bytes.size()) * squares);
    }
  }
  uint64_t total_a = 0;
  for (uint32_t p = 0; p < net_->paths(); p++) {
    res_.path_a_to_b.push_back(net_->link(p, Dir::a_to_b).counters);
    res_.path_b_to_a.push_back(net_->link(p, Dir::b_to_a).counters);
    total_a += res_.path_a_to_b.back().enqueued_packets;
  }
  for (const LinkCounters& c : res_.path_a_to_b) {
    res_.path_share.push_back(
        total_a ? static_cast<double>(c.enqueued_packets) / static_cast<double>(total_a) : 0.0);
  }
  res_.trace_hash = net_->trace_hash();
  return res_;
}

ScenarioResult run_scenario(const ScenarioConfig& cfg) {
  Scenario s(cfg);
  return s.run();
}

}  // namespace srdx::sim
