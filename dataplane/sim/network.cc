#include "sim/network.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace srdx::sim {

namespace {
// Steps in a row without time moving before the loop declares itself stuck
// (a port whose deadline stays in the past although it was polled).
constexpr uint64_t kMaxStalledSteps = 1'000'000;
}  // namespace

Network::Network(const NetworkConfig& cfg) : cfg_(cfg) {
  if (cfg.paths == 0) throw std::invalid_argument("paths: must be at least 1");
  salt_[0] = mix64(cfg.seed ^ 0x6563'6d70'0000'0000ull);  // "ecmp"
  salt_[1] = mix64(salt_[0] ^ cfg.seed);
  links_.resize(static_cast<size_t>(cfg.paths) * 2);
  rngs_.reserve(links_.size());
  for (size_t i = 0; i < links_.size(); i++) {
    links_[i].params = cfg.link;
    rngs_.emplace_back(mix64(cfg.seed) ^ mix64(0x6c696e6b0000ull + i));  // "link"
  }
}

void Network::attach(Port& port, Addr addr, Side side) {
  if (by_addr_.contains(key(addr))) {
    throw std::invalid_argument("address already attached: ip " + std::to_string(addr.ip) +
                                " port " + std::to_string(addr.port));
  }
  Attachment a{&port, addr, side};
  by_addr_.emplace(key(addr), a);
  ports_.push_back(a);
}

void Network::detach(Port& port) {
  for (auto it = by_addr_.begin(); it != by_addr_.end();) {
    it = it->second.port == &port ? by_addr_.erase(it) : std::next(it);
  }
  std::erase_if(ports_, [&](const Attachment& a) { return a.port == &port; });
}

void Network::set_access_delay(Addr addr, Duration delay) {
  auto it = by_addr_.find(key(addr));
  if (it == by_addr_.end()) {
    throw std::invalid_argument("set_access_delay: nothing attached at ip " +
                                std::to_string(addr.ip) + " port " + std::to_string(addr.port));
  }
  if (delay < Duration::zero()) throw std::invalid_argument("set_access_delay: negative delay");
  it->second.access_delay = delay;
  for (Attachment& a : ports_) {
    if (a.port == it->second.port && a.addr == addr) a.access_delay = delay;
  }
}

Dir Network::dir_of(Addr src) const {
  auto it = by_addr_.find(key(src));
  return it != by_addr_.end() && it->second.side == Side::b ? Dir::b_to_a : Dir::a_to_b;
}

uint32_t Network::path_of(Addr src, uint16_t src_port, Addr dst) const {
  const uint64_t salt = salt_[static_cast<int>(dir_of(src))];
  uint64_t h = mix64(salt ^ ((static_cast<uint64_t>(src.ip) << 32) | dst.ip));
  h = mix64(h ^ ((static_cast<uint64_t>(src_port) << 16) | dst.port));
  return static_cast<uint32_t>((static_cast<u128>(h) * paths()) >> 64);
}

void Network::set_path(uint32_t path, const std::function<void(LinkParams&)>& change) {
  change(link(path, Dir::a_to_b).params);
  change(link(path, Dir::b_to_a).params);
}

void Network::set_all(const std::function<void(LinkParams&)>& change) {
  for (auto& l : links_) change(l.params);
}

LinkCounters Network::total(Dir dir) const {
  LinkCounters t;
  for (uint32_t p = 0; p < paths(); p++) {
    const LinkCounters& c = link(p, dir).counters;
    t.enqueued_packets += c.enqueued_packets;
    t.enqueued_bytes += c.enqueued_bytes;
    t.delivered_packets += c.delivered_packets;
    t.delivered_bytes += c.delivered_bytes;
    t.dropped_loss += c.dropped_loss;
    t.dropped_queue += c.dropped_queue;
    t.dropped_blackhole += c.dropped_blackhole;
    t.duplicated += c.duplicated;
    t.corrupted += c.corrupted;
    t.reordered += c.reordered;
  }
  return t;
}

uint32_t Network::take_buffer(std::span<const uint8_t> bytes) {
  uint32_t b;
  if (free_bufs_.empty()) {
    b = static_cast<uint32_t>(bufs_.size());
    bufs_.emplace_back();
  } else {
    b = free_bufs_.back();
    free_bufs_.pop_back();
  }
  bufs_[b].assign(bytes.begin(), bytes.end());  // reuses the buffer's capacity
  return b;
}

void Network::corrupt(uint32_t buf, uint32_t len, Rng& rng) {
  // One byte most of the time, sometimes a short burst of up to four.
  const uint64_t flips = 1 + (rng.chance(0.25) ? rng.below(4) : 0);
  for (uint64_t i = 0; i < flips; i++) {
    const uint64_t at = rng.below(len);
    bufs_[buf][at] ^= static_cast<uint8_t>(1 + rng.below(255));  // never a no-op
  }
}

bool Network::send(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes) {
  if (tap_ && !tap_->on_send(src, src_port, dst, bytes, now_)) {
    counters_.sent++;
    return true;  // on the wire as far as the sender knows
  }
  return inject(src, src_port, dst, bytes, Label::genuine);
}

bool Network::inject(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes,
                     Label label) {
  counters_.sent++;
  if (bytes.size() > cfg_.max_datagram) {
    counters_.too_large++;
    return false;
  }
  const auto to = by_addr_.find(key(dst));
  if (to == by_addr_.end()) {
    counters_.no_route++;
    return false;
  }
  Duration access = to->second.access_delay;
  if (const auto from = by_addr_.find(key(src)); from != by_addr_.end()) {
    access += from->second.access_delay;
  }
  InFlight p;
  p.id = next_id_++;
  p.src = src;
  p.dst = dst;
  p.src_port = src_port;
  p.dir = dir_of(src);
  p.path = path_of(src, src_port, dst);
  p.len = static_cast<uint32_t>(bytes.size());
  p.label = label;
  const size_t li = p.path * 2 + static_cast<size_t>(p.dir);
  Rng& rng = rngs_[li];
  const Admission a = links_[li].admit(p.len + cfg_.overhead_bytes, p.len, now_, rng);
  if (a.verdict != Verdict::deliver) return true;
  p.at = a.deliver_at + access;
  latest_arrival_ = max(latest_arrival_, p.at);
  p.order = next_order_++;
  p.reordered = a.reordered;
  p.buf = take_buffer(bytes);
  if (a.duplicate) {
    InFlight d = p;
    d.order = next_order_++;
    d.duplicate = true;
    d.buf = take_buffer(bytes);
    inflight_.push(d);
  }
  if (a.corrupt) {
    p.corrupted = true;
    corrupt(p.buf, p.len, rng);
  }
  inflight_.push(p);
  return true;
}

void Network::at(Time t, Action action) {
  size_t slot;
  if (free_actions_.empty()) {
    slot = actions_.size();
    actions_.push_back(std::move(action));
  } else {
    slot = free_actions_.back();
    free_actions_.pop_back();
    actions_[slot] = std::move(action);
  }
  scheduled_.push(Scheduled{max(t, now_), next_order_++, slot});
}

Time Network::next_event() const {
  Time t = Time::infinite();
  if (!inflight_.empty()) t = min(t, inflight_.top().at);
  if (!scheduled_.empty()) t = min(t, scheduled_.top().at);
  for (const Attachment& a : ports_) t = min(t, a.port->deadline());
  return t;
}

void Network::deliver(const InFlight& p) {
  Link& l = links_[p.path * 2 + static_cast<size_t>(p.dir)];
  if (l.params.blackhole) {  // went dark while this packet was on it
    l.counters.dropped_blackhole++;
    return;
  }
  auto it = by_addr_.find(key(p.dst));
  if (it == by_addr_.end()) {  // detached while the packet was in flight
    counters_.no_route++;
    return;
  }
  l.counters.delivered_packets++;
  l.counters.delivered_bytes += p.len;
  counters_.delivered++;
  const std::span<const uint8_t> bytes(bufs_[p.buf].data(), p.len);
  uint64_t h = trace_hash_ ^ static_cast<uint64_t>(now_.ns());
  h = mix64(h ^ ((static_cast<uint64_t>(p.src.ip) << 32) | p.dst.ip));
  h = mix64(h ^ ((static_cast<uint64_t>(p.src_port) << 32) | (p.dst.port << 16) | p.path));
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
  trace_hash_ = mix64(h ^ p.len);
  Datagram d;
  d.src = p.src;
  d.src_port = p.src_port;
  d.dst = p.dst;
  d.path = p.path;
  d.dir = p.dir;
  d.id = p.id;
  d.duplicate = p.duplicate;
  d.corrupted = p.corrupted;
  d.reordered = p.reordered;
  d.label = p.label;
  d.bytes = bytes;
  it->second.port->deliver(d, now_);
}

bool Network::step(Time limit) {
  const Time t = next_event();
  if (t.is_infinite() || t > limit) {
    if (!limit.is_infinite()) now_ = max(now_, limit);
    return false;
  }
  if (t > now_) {
    now_ = t;
    stalled_steps_ = 0;
  } else if (++stalled_steps_ > kMaxStalledSteps) {
    throw std::runtime_error("simulation stuck at t=" + std::to_string(now_.ns()) +
                             " ns: an event stays due after being processed");
  }
  while (!scheduled_.empty() && scheduled_.top().at <= now_) {
    const size_t slot = scheduled_.top().slot;
    scheduled_.pop();
    Action action = std::move(actions_[slot]);
    actions_[slot] = nullptr;
    free_actions_.push_back(slot);
    action(*this);
  }
  while (!inflight_.empty() && inflight_.top().at <= now_) {
    const InFlight p = inflight_.top();
    inflight_.pop();
    deliver(p);
    release_buffer(p.buf);
  }
  // Index loop: a poll may attach or detach ports.
  for (size_t i = 0; i < ports_.size(); i++) ports_[i].port->poll(now_);
  return true;
}

void Network::run_until(Time t) {
  while (step(t)) {
  }
}

bool Network::run_while(const std::function<bool()>& keep_going, Time limit) {
  while (keep_going()) {
    if (!step(limit)) return !keep_going();
  }
  return true;
}

}  // namespace srdx::sim
