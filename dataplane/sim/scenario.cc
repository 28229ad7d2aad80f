#include "sim/scenario.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace srdx::sim {

namespace {
constexpr uint32_t kSideAIp = 0xC6120001;  // 198.18.0.1, then .2, ...
constexpr uint32_t kSideBIp = 0xC6130001;  // 198.19.0.1
constexpr uint16_t kPort = 7471;
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
  if (time_limit <= Duration::zero()) return "time-limit: must be positive";
  if (timeline_interval <= Duration::zero()) return "timeline-interval: must be positive";
  for (const Blackhole& b : blackholes) {
    if (b.path >= net.paths) {
      return "blackhole: path " + std::to_string(b.path) + " does not exist (paths are 0.." +
             std::to_string(net.paths - 1) + ")";
    }
    if (b.end <= b.start) return "blackhole: the end must come after the start";
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
    if (!cfg_.endpoint.accept_unknown_peers) receiver().add_peer(h.addr());
  }
  receiver().on_event([this](Host&, const Event& ev, Time now) { on_receiver_event(ev, now); });
  rec_.resize(total());
  payload_.resize(cfg_.msg_size);
  for (const Blackhole& b : cfg_.blackholes) {
    net_->at(b.start, [p = b.path](Network& net) {
      net.set_path(p, [](LinkParams& l) { l.blackhole = true; });
    });
    if (!b.end.is_infinite()) {
      net_->at(b.end, [p = b.path](Network& net) {
        net.set_path(p, [](LinkParams& l) { l.blackhole = false; });
      });
    }
  }
}

Scenario::~Scenario() = default;

void Scenario::top_up(size_t s) {
  SenderState& st = st_[s];
  Host& h = *hosts_[s];
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
  if (st.next >= cfg_.count) return;
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
      if (q.deliveries == 0 && q.failed == FailReason::none) break;
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
        r.failed = ev.reason;
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

void Scenario::on_receiver_event(const Event& ev, Time now) {
  switch (ev.type) {
    case EventType::peer_up:
      res_.peer_up++;
      return;
    case EventType::peer_down:
      res_.peer_down++;
      return;
    case EventType::send_completed:
      return;
    case EventType::send_failed:
      // A pingpong echo that will not arrive: the round trip is over.
      if (cfg_.workload == Workload::pingpong && ev.cookie < rec_.size()) {
        rec_[ev.cookie].failed = ev.reason;
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

  for (const Record& r : rec_) {
    if (r.sent_at.is_infinite() && r.failed == FailReason::none) continue;  // never sent
    const bool arrived = r.deliveries > 0;
    if (arrived) res_.delivered++;
    if (r.deliveries > 1 || r.hop1 > 1) res_.duplicated++;
    if (r.failed != FailReason::none) {
      res_.failed++;
      res_.failed_by_reason.at(static_cast<size_t>(r.failed))++;
      if (arrived) res_.failed_but_delivered++;
    } else if (!arrived) {
      res_.missing++;
    } else if (!r.completed && cfg_.workload == Workload::bulk) {
      res_.unacknowledged++;
    }
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
    for (DropReason d : {DropReason::too_short, DropReason::bad_version, DropReason::bad_type,
                         DropReason::bad_checksum, DropReason::bad_length, DropReason::bad_field}) {
      res_.corrupted_rejected += s.drops[static_cast<size_t>(d)];
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
