#include "telemetry/bridge.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "telemetry/topic.h"

namespace srdx::telemetry {

namespace {

constexpr uint64_t kCookieTag = uint64_t{0x54} << 56;
constexpr uint64_t kCookieMask = uint64_t{0xff} << 56;
constexpr size_t kLastAlarms = 16, kLastGaps = 16;

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}

}  // namespace

void LatencyHistogram::add(double s) {
  size_t i = 0;
  while (i + 1 < kBuckets && s > bound(i)) ++i;
  ++counts[i];
  ++total;
  sum_s += s;
}

double LatencyHistogram::bound(size_t i) { return std::ldexp(1e-6, static_cast<int>(i)); }

double LatencyHistogram::quantile(double q) const {
  if (total == 0) return 0;
  const double want = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= want) return bound(i);
  }
  return bound(kBuckets - 1);
}

// ---- Edge ----------------------------------------------------------------------------

Edge::Edge(EdgeOptions opt, carrier::Carrier& carrier, PeerId central)
    : opt_(std::move(opt)), carrier_(carrier), central_(central), rules_(opt_.rules) {}

Result<std::unique_ptr<Edge>> Edge::create(EdgeOptions opt, carrier::Carrier& carrier,
                                           PeerId central) {
  using R = Result<std::unique_ptr<Edge>>;
  for (const std::string& f : opt.mqtt.filters) {
    if (std::string why = check_filter(f); !why.empty()) {
      return R::fail(Errc::invalid, "telemetry topic filter '" + f + "': " + why);
    }
  }
  if (opt.mqtt.filters.empty()) return R::fail(Errc::invalid, "telemetry: no topics to subscribe");
  if (std::string why = check_topic(opt.alarm_prefix); !why.empty()) {
    return R::fail(Errc::invalid, "telemetry alarm topic '" + opt.alarm_prefix + "': " + why);
  }
  Result<std::unique_ptr<Spool>> sp = Spool::open(opt.spool);
  if (!sp.ok()) return R::fail(sp.error.code, sp.error.message);
  std::unique_ptr<Edge> e(new Edge(std::move(opt), carrier, central));
  e->spool_ = std::move(sp.value);
  e->st_.epoch = e->spool_->epoch();
  MqttClient::Handlers h;
  Edge* self = e.get();
  h.message = [self](const MqttMessage& m) { self->on_message(m); };
  h.connection = [self](bool up, const std::string& why) {
    std::lock_guard<std::mutex> l(self->mu_);
    self->st_.broker_connected = up;
    if (!up) self->st_.last_error = why;
  };
  h.session = [self](bool present) {
    std::lock_guard<std::mutex> l(self->mu_);
    // A fresh session: the broker sends nothing again, and numbers its
    // packets from the start.
    if (!present) self->session_start_ = self->deliveries_;
    ++self->connection_;
    self->replaying_ = present;
  };
  e->mids_.resize(65536);
  e->mqtt_ = std::make_unique<MqttClient>(e->opt_.mqtt, std::move(h));
  return {std::move(e), {}};
}

Edge::~Edge() { stop(); }

Status Edge::start() {
  syncer_ = std::thread([this] { syncer_main(); });
  Status s = mqtt_->start();
  if (!s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    st_.last_error = s.error.message;
  }
  return s;
}

void Edge::stop() {
  if (stopping_.exchange(true)) return;
  room_cv_.notify_all();
  if (mqtt_) mqtt_->stop();
  { std::lock_guard<std::mutex> l(sync_mu_); }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  std::lock_guard<std::mutex> l(mu_);
  if (spool_) (void)spool_->sync();
}

void Edge::syncer_main() {
  std::unique_lock<std::mutex> sl(sync_mu_);
  while (!stopping_.load()) {
    sync_cv_.wait_for(sl, std::chrono::microseconds(opt_.sync_interval.ns() / 1000));
    if (stopping_.load()) break;
    // One fdatasync per interval, shared by every append in it, outside the
    // lock (appends and the carrier thread go on meanwhile).
    int fd = -1;
    {
      std::lock_guard<std::mutex> l(mu_);
      fd = spool_->take_sync_fd();
    }
    if (fd < 0) continue;
    const int rc = ::fdatasync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      std::lock_guard<std::mutex> l(mu_);
      st_.last_error = std::string("spool: fsync: ") + std::strerror(err);
    }
  }
}

void Edge::drop_broker_connection() { mqtt_->abort_connection(); }

void Edge::on_message(const MqttMessage& m) {
  Record r;
  r.topic.assign(m.topic);
  r.qos = m.qos > 0 ? 1 : 0;
  r.retain = m.retain;
  r.publish_ns = wall_ns();
  std::unique_lock<std::mutex> l(mu_);
  ++st_.received;
  if (r.qos == 1) ++st_.received_qos1;
  MidSlot* slot = nullptr;
  uint64_t hash = 0;
  if (r.qos == 1 && m.mid > 0 && static_cast<size_t>(m.mid) < mids_.size()) {
    const std::string_view p(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
    hash = std::hash<std::string_view>{}(m.topic) * 0x9e3779b97f4a7c15ull ^
           std::hash<std::string_view>{}(p);
    slot = &mids_[static_cast<size_t>(m.mid)];
    ++deliveries_;
    if (replaying_) {
      if (slot->delivery > session_start_ && deliveries_ - slot->delivery <= kMidWindow &&
          slot->connection < connection_ && slot->hash == hash) {
        // Numbered already: its first delivery is in the spool.
        ++st_.redeliveries_dropped;
        return;
      }
      replaying_ = false;  // the first new message: the replay is over
    }
  }
  if (m.payload.size() > kMaxPayloadBytes) {
    ++st_.dropped_too_large;
    st_.last_error = "message on '" + r.topic.substr(0, 200) + "' of " +
                     std::to_string(m.payload.size()) + " bytes dropped (limit 256 KiB)";
    return;
  }
  if (std::string why = check_topic(r.topic); !why.empty()) {
    ++st_.dropped_bad_topic;
    return;
  }
  r.payload.assign(m.payload.begin(), m.payload.end());
  std::vector<AlarmEvent> alarms;
  rules_.on_sample(r.topic, r.payload, alarms);
  const uint64_t sample_ns = r.publish_ns;
  if (admit(std::move(r), l) && slot) *slot = {hash, deliveries_, connection_};
  carrier_.wake();  // the carrier's tick ships it now, not after the loop's nap
  for (const AlarmEvent& a : alarms) {
    if (stopping_.load()) return;
    const Rule& rule = rules_.rules()[a.rule];
    const double now_s = static_cast<double>(sample_ns) / 1e9;
    char value[64];
    std::snprintf(value, sizeof value, "%.10g", a.value);
    const std::string payload = "{\"rule\":\"" + json_escape(rule.text) + "\",\"topic\":\"" +
                                json_escape(a.topic) + "\",\"value\":" + value + ",\"state\":\"" +
                                (a.raised ? "raised" : "cleared") +
                                "\",\"time\":" + std::to_string(now_s) + "}";
    Record ar;
    ar.topic = opt_.alarm_prefix + "/" + a.topic;
    ar.payload.assign(payload.begin(), payload.end());
    ar.qos = 1;
    ar.alarm = true;
    ar.publish_ns = sample_ns;
    (a.raised ? st_.alarms_raised : st_.alarms_cleared)++;
    st_.last_alarms.push_back(
        {rule.text, a.topic, a.raised ? "raised" : "cleared", a.value, now_s});
    if (st_.last_alarms.size() > kLastAlarms) st_.last_alarms.erase(st_.last_alarms.begin());
    admit(std::move(ar), l);
    carrier_.wake();
  }
  if (opt_.after_message) {
    l.unlock();
    opt_.after_message(*this, m);
  }
}

bool Edge::admit(Record r, std::unique_lock<std::mutex>& l) {
  auto it = seq_.find(r.topic);
  if (it == seq_.end()) {
    if (seq_.size() >= opt_.max_topics) {
      ++st_.dropped_topic_limit;
      return false;
    }
    it = seq_.emplace(r.topic, 0).first;
  }
  r.seq = ++it->second;
  const uint64_t epoch = spool_->epoch();
  const bool live = reachable_.load() && live_.size() < opt_.live_queue;
  if (r.qos == 0 && live) {
    (r.alarm ? alarms_ : live_).push_back({0, epoch, std::move(r)});
    return true;
  }
  bool stalled = false;
  while (true) {
    Result<uint64_t> rid = spool_->append(epoch, r, !live);
    if (rid.ok()) {
      if (live) (r.alarm ? alarms_ : live_).push_back({rid.value, epoch, std::move(r)});
      return true;
    }
    if (rid.error.code != Errc::full || r.qos == 0) {
      if (rid.error.code == Errc::full) {
        ++st_.dropped_qos0_full;
      } else {
        st_.last_error = rid.error.message;
      }
      if (r.qos == 0) return false;
    }
    // QoS 1 and no room: wait (the broker keeps the message unacknowledged).
    if (!stalled) {
      ++st_.full_stalls;
      stalled = true;
    }
    if (stopping_.load()) {
      mqtt_->abort_connection();
      return false;
    }
    room_cv_.wait_for(l, std::chrono::milliseconds(100));
  }
}

void Edge::send_batch(std::vector<Item>& items, uint16_t flow, Time now, bool resend) {
  if (items.empty()) return;
  Msg m;
  m.batch_id = next_batch_++;
  m.epoch = items.front().epoch;
  Inflight inf;
  inf.sent = now;
  inf.records = items.size();
  for (Item& it : items) {
    if (it.rid) inf.rids.push_back(it.rid);
    m.records.push_back(std::move(it.rec));
  }
  items.clear();
  const std::vector<uint8_t> bytes = encode(m);
  SendOptions so;
  so.flow = flow;
  so.cookie = kCookieTag | m.batch_id;
  so.timeout = opt_.ack_timeout;
  const srdx::Result<MsgId> r = carrier_.send(central_, bytes, so, now);
  std::lock_guard<std::mutex> l(mu_);
  if (!r.ok()) {
    for (uint64_t rid : inf.rids) spool_->nack(rid);
    return;
  }
  ++st_.batches_sent;
  if (resend) ++st_.batches_resent;
  st_.sent_records += inf.records;
  inflight_.emplace(m.batch_id, std::move(inf));
  inflight_count_ = inflight_.size();
}

bool Edge::on_event(const Event& ev, Time now) {
  (void)now;
  if (ev.type == EventType::send_failed || ev.type == EventType::send_completed) {
    // Only the results of this edge's batches in flight are its own.
    if ((ev.cookie & kCookieMask) != kCookieTag) return false;
    auto it = inflight_.find(ev.cookie & ~kCookieMask);
    if (it == inflight_.end()) return false;
    if (ev.type == EventType::send_failed) {
      if (!carrier_.peer_reachable(central_)) down_ = true;
      std::lock_guard<std::mutex> l(mu_);
      for (uint64_t rid : it->second.rids) spool_->nack(rid);
      inflight_.erase(it);
      inflight_count_ = inflight_.size();
    }
    return true;
  }
  if ((ev.type == EventType::peer_up || ev.type == EventType::peer_down) && ev.peer == central_) {
    down_ = ev.type == EventType::peer_down;
    return false;  // others may want it too
  }
  if (ev.type != EventType::message_received || !is_telemetry_flow(ev.flow)) return false;
  if (ev.peer != central_) return true;
  Result<Msg> m = decode(ev.data);
  if (!m.ok() || m.value.type != MsgType::ack) return true;
  auto it = inflight_.find(m.value.batch_id);
  if (it == inflight_.end()) return true;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t rid : it->second.rids) spool_->ack(rid);
    st_.acked_records += it->second.records;
  }
  inflight_.erase(it);
  inflight_count_ = inflight_.size();
  room_cv_.notify_all();
  return true;
}

void Edge::tick(Time now) {
  // Reachable until the carrier says the peer is down (a connection is made
  // by the first send), and again once it is up.
  const bool reachable = !down_ || carrier_.peer_reachable(central_);
  reachable_ = reachable;
  // Batches unanswered too long go back to the backlog. Batch ids are given
  // in the order batches are sent, at this loop's (nondecreasing) time, so
  // the oldest come first and the walk stops at the first one still in time:
  // this runs every loop iteration, idle ones included.
  for (auto it = inflight_.begin();
       it != inflight_.end() && now - it->second.sent > opt_.ack_timeout;) {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t rid : it->second.rids) spool_->nack(rid);
    it = inflight_.erase(it);
  }
  inflight_count_ = inflight_.size();
  std::vector<Item> alarms, live;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!reachable) {
      // Queued records wait in the spool (QoS 0 ones are appended now).
      for (auto* q : {&alarms_, &live_}) {
        for (Item& it : *q) {
          if (it.rid) {
            spool_->nack(it.rid);
          } else if (!spool_->append(it.epoch, it.rec, true).ok()) {
            ++st_.dropped_qos0_full;
          }
        }
        q->clear();
      }
      // One spooled batch a second as a probe: it makes the carrier try to
      // reach the peer again.
      if (now - last_probe_ < Duration::seconds(1) || spool_->stats().backlog == 0) return;
    }
    alarms.assign(std::make_move_iterator(alarms_.begin()), std::make_move_iterator(alarms_.end()));
    alarms_.clear();
    const size_t room = opt_.window > inflight_.size() ? opt_.window - inflight_.size() : 0;
    const size_t take = std::min(live_.size(), room * opt_.batch_records);
    live.assign(std::make_move_iterator(live_.begin()),
                std::make_move_iterator(live_.begin() + static_cast<std::ptrdiff_t>(take)));
    live_.erase(live_.begin(), live_.begin() + static_cast<std::ptrdiff_t>(take));
  }
  // Alarms first, on their own flow (not limited by the window).
  auto ship = [&](std::vector<Item>& items, uint16_t flow, bool resend) {
    std::vector<Item> batch;
    size_t bytes = 0;
    for (Item& it : items) {
      const size_t sz = encoded_size(it.rec);
      if (!batch.empty() && (batch.size() >= opt_.batch_records || bytes + sz > opt_.batch_bytes ||
                             it.epoch != batch.front().epoch)) {
        send_batch(batch, flow, now, resend);
        bytes = 0;
      }
      bytes += sz;
      batch.push_back(std::move(it));
    }
    send_batch(batch, flow, now, resend);
  };
  ship(alarms, kAlarmFlow, false);
  ship(live, kBulkFlow, false);
  // The backlog: the window left over, at least one batch per iteration.
  std::vector<Item> backlog;
  {
    std::lock_guard<std::mutex> l(mu_);
    size_t batches = opt_.window > inflight_.size() ? opt_.window - inflight_.size() : 0;
    if (batches == 0 && spool_->stats().backlog > 0 && inflight_.size() < opt_.window * 2) {
      batches = 1;
    }
    if (!reachable) {
      batches = 1;
      last_probe_ = now;
    }
    for (size_t b = 0; b < batches; ++b) {
      Result<std::vector<Spooled>> got = spool_->take_backlog(opt_.batch_records, opt_.batch_bytes);
      if (!got.ok()) {
        st_.last_error = got.error.message;
        break;
      }
      if (got.value.empty()) break;
      for (Spooled& s : got.value) {
        backlog.push_back({s.rid, s.epoch, std::move(s.rec)});
      }
    }
    st_.live_queued = live_.size();
  }
  // Alarms replayed from the spool go on the alarm flow.
  std::vector<Item> spooled_alarms;
  for (auto it = backlog.begin(); it != backlog.end();) {
    if (it->rec.alarm) {
      spooled_alarms.push_back(std::move(*it));
      it = backlog.erase(it);
    } else {
      ++it;
    }
  }
  ship(spooled_alarms, kAlarmFlow, true);
  ship(backlog, kBulkFlow, true);
  room_cv_.notify_all();
}

EdgeStatus Edge::status() const {
  std::lock_guard<std::mutex> l(mu_);
  EdgeStatus s = st_;
  s.peer_reachable = reachable_.load();
  s.broker_connected = mqtt_ && mqtt_->connected();
  s.spool = spool_->stats();
  s.inflight_batches = inflight_count_.load();
  s.live_queued = live_.size();
  s.topics = seq_.size();
  return s;
}

// ---- Central -------------------------------------------------------------------------

Central::Central(CentralOptions opt, carrier::Carrier& carrier)
    : opt_(std::move(opt)), carrier_(carrier), seq_(opt_.seq) {
  MqttClient::Handlers h;
  h.published = [this](int mid) { on_published(mid); };
  h.connection = [this](bool up, const std::string&) {
    std::lock_guard<std::mutex> l(mu_);
    st_.broker_connected = up;
  };
  opt_.mqtt.filters.clear();
  mqtt_ = std::make_unique<MqttClient>(opt_.mqtt, std::move(h));
}

Central::~Central() { stop(); }

Status Central::start() {
  if (Status s = open_state(); !s.ok()) return s;
  return mqtt_->start();
}

Status Central::open_state() {
  if (!opt_.state_dir.empty() && !log_) {
    SeqLogOptions lo;
    lo.dir = opt_.state_dir;
    lo.fsync_always = opt_.fsync_always;
    lo.seq = opt_.seq;
    std::lock_guard<std::mutex> l(mu_);
    Result<std::unique_ptr<SeqLog>> r = SeqLog::open(std::move(lo), seq_, wall_ns());
    if (!r.ok()) return {r.error};
    log_ = std::move(r.value);
    st_.seqlog_enabled = true;
    st_.seqlog = log_->stats();
    if (!opt_.fsync_always) syncer_ = std::thread([this] { syncer_main(); });
  }
  return {};
}

void Central::stop() {
  if (mqtt_) mqtt_->stop();
  if (syncer_.joinable()) {
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_all();
    syncer_.join();
  }
}

void Central::syncer_main() {
  std::unique_lock<std::mutex> sl(sync_mu_);
  while (true) {
    sync_cv_.wait(sl, [this] { return sync_stop_ || sync_fd_ >= 0; });
    const int fd = sync_fd_;
    sync_fd_ = -1;
    if (fd < 0) break;  // stopping, nothing left to sync
    sl.unlock();
    const int rc = ::fdatasync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      std::lock_guard<std::mutex> l(mu_);
      if (st_.seqlog_errors++ == 0 && opt_.log) {
        opt_.log("telemetry: sequence log: fdatasync: " + std::string(std::strerror(err)));
      }
    }
    sl.lock();
  }
}

void Central::name_peer(PeerId peer, std::string name) {
  std::lock_guard<std::mutex> l(mu_);
  names_[peer] = std::move(name);
}

void Central::note_gaps(std::vector<Gap>& gaps) {
  for (Gap& g : gaps) {
    if (opt_.log) {
      opt_.log("telemetry: gap from " + g.source + " on '" + g.topic +
               "': " + std::to_string(g.count) + " message(s) from seq " + std::to_string(g.first) +
               " (epoch " + std::to_string(g.epoch) + ") never arrived");
    }
    if (log_) gaps_to_log_.push_back(g);
    st_.last_gaps.push_back(std::move(g));
    if (st_.last_gaps.size() > kLastGaps) st_.last_gaps.erase(st_.last_gaps.begin());
  }
}

void Central::on_published(int mid) {
  std::lock_guard<std::mutex> l(mu_);
  auto m = mids_.find(mid);
  if (m == mids_.end()) return;
  auto u = unconfirmed_.find(m->second);
  mids_.erase(m);
  if (u == unconfirmed_.end()) return;
  for (const uint64_t key : u->second) {
    auto p = pending_.find(key);
    if (p == pending_.end()) continue;  // a batch with a publish error: never acknowledged
    if (--p->second.waiting == 0) {
      acks_.push_back(std::move(p->second));
      carrier_.wake();  // the ack goes on the carrier's next tick
      pending_.erase(p);
    }
  }
  unconfirmed_.erase(u);
}

namespace {
std::string record_key(std::string_view source, std::string_view topic, uint64_t epoch,
                       uint64_t seq) {
  std::string k;
  k.reserve(source.size() + topic.size() + 18);
  k.append(source).push_back('\0');
  k.append(topic).push_back('\0');
  k.append(reinterpret_cast<const char*>(&epoch), sizeof epoch);
  k.append(reinterpret_cast<const char*>(&seq), sizeof seq);
  return k;
}
}  // namespace

bool Central::on_event(const Event& ev, Time now) {
  (void)now;
  // The results of acks need nothing: a lost ack makes the edge send again.
  if (ev.type != EventType::message_received) return false;
  if (ev.type != EventType::message_received || !is_telemetry_flow(ev.flow)) return false;
  Result<Msg> m = decode(ev.data);
  std::lock_guard<std::mutex> l(mu_);
  if (!m.ok() || m.value.type != MsgType::batch) {
    ++st_.malformed;
    return true;
  }
  ++st_.batches;
  auto nm = names_.find(ev.peer);
  const std::string source = nm != names_.end() ? nm->second : "peer-" + std::to_string(ev.peer);
  const uint64_t key = next_key_++;
  PendingBatch pb{ev.peer, ev.flow, m.value.batch_id, 0, source, m.value.epoch, {}};
  const uint64_t now_ns = wall_ns();
  std::vector<Gap> gaps;
  for (const Record& r : m.value.records) {
    ++st_.records;
    std::string rkey;
    if (r.qos == 1) rkey = record_key(source, r.topic, m.value.epoch, r.seq);
    if (seq_.accept(source, r.topic, m.value.epoch, r.seq, now_ns, gaps) ==
        SeqTracker::Verdict::duplicate) {
      if (auto u = unconfirmed_.find(rkey); r.qos == 1 && u != unconfirmed_.end()) {
        // Its first copy is not confirmed yet: this batch waits for it too.
        u->second.push_back(key);
        ++pb.waiting;
      }
      continue;
    }
    Result<int> mid = mqtt_->publish(r.topic, r.payload, r.qos, r.retain);
    if (!mid.ok()) {
      // Not published: no ack for this batch, so the edge sends it again,
      // and this number must then be fresh.
      seq_.forget(source, r.topic, m.value.epoch, r.seq, now_ns);
      ++st_.publish_errors;
      pb.waiting += 1u << 30;
      continue;
    }
    ++st_.published;
    if (log_) pb.fresh.emplace_back(r.topic, r.seq);
    const double lat = now_ns > r.publish_ns ? static_cast<double>(now_ns - r.publish_ns) / 1e9 : 0;
    (r.alarm ? st_.alarm_latency : st_.latency).add(lat);
    if (r.alarm) {
      ++st_.alarms;
      // The payload names the sample topic and the state (Edge::on_message).
      const std::string_view p(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
      const size_t at = p.find("\"topic\":\"");
      if (at != std::string_view::npos) {
        const size_t from = at + 9, to = p.find('"', from);
        if (to != std::string_view::npos) {
          const std::string topic(p.substr(from, to - from));
          if (st_.alarm_state.size() < kMaxLatest || st_.alarm_state.count(topic)) {
            st_.alarm_state[topic] = p.find("\"state\":\"raised\"") != std::string_view::npos;
          }
        }
      }
    }
    if (r.qos == 1) {
      unconfirmed_[rkey].push_back(key);
      mids_[mid.value] = std::move(rkey);
      ++pb.waiting;
    }
    if (!r.alarm && (st_.latest.size() < kMaxLatest || st_.latest.count(r.topic))) {
      st_.latest[r.topic] = {
          std::string(r.payload.begin(),
                      r.payload.begin() +
                          static_cast<std::ptrdiff_t>(std::min<size_t>(r.payload.size(), 64))),
          static_cast<double>(r.publish_ns) / 1e9};
    }
  }
  note_gaps(gaps);
  if (pb.waiting == 0) {
    acks_.push_back(pb);
  } else if (pb.waiting < (1u << 30)) {
    pending_[key] = pb;
  }
  // else publish errors: this batch is not acknowledged (the edge sends it
  // again); its records that did go stay unconfirmed until their PUBACKs, so
  // that the resend's copies of them wait for those.
  return true;
}

void Central::tick(Time now) {
  std::deque<PendingBatch> acks;
  std::vector<Gap> gaps_to_log;
  {
    std::lock_guard<std::mutex> l(mu_);
    acks.swap(acks_);
    if (now - last_expire_ > Duration::seconds(1)) {
      last_expire_ = now;
      std::vector<Gap> gaps;
      seq_.expire(wall_ns(), gaps);
      note_gaps(gaps);
    }
    gaps_to_log.swap(gaps_to_log_);
  }
  if (log_) {
    // The numbers go to the log before their batches are acknowledged.
    for (const Gap& g : gaps_to_log) log_->gap(g);
    for (PendingBatch& a : acks) {
      for (const auto& [topic, seq] : a.fresh) log_->seen(a.source, topic, a.epoch, seq);
      a.fresh.clear();
    }
    const bool sync = now - last_sync_ >= opt_.sync_interval;
    if (log_->pending() || sync) {
      // With fsync = always, flush() fdatasyncs before the acks below go;
      // else the write(2) is what the acks wait for, and the periodic
      // fdatasync goes to the syncer thread.
      const Status s = log_->flush(false);
      if (sync) {
        last_sync_ = now;
        if (syncer_.joinable()) {
          if (const int fd = log_->take_sync_fd(); fd >= 0) {
            std::lock_guard<std::mutex> l(sync_mu_);
            // A descriptor not yet synced is of the same file (or of one a
            // compaction replaced, already synced): the newer one will do.
            if (sync_fd_ >= 0) ::close(sync_fd_);
            sync_fd_ = fd;
            sync_cv_.notify_one();
          }
        }
      }
      std::lock_guard<std::mutex> l(mu_);
      st_.seqlog = log_->stats();
      if (!s.ok()) {
        // The acknowledgements still go: a restart may then publish these
        // numbers again (at least once), which is better than holding the
        // edges' spools on a full disk.
        if (st_.seqlog_errors++ == 0 && opt_.log) opt_.log("telemetry: " + s.error.message);
      }
    }
  }
  while (!acks.empty()) {
    const PendingBatch& a = acks.front();
    Msg m;
    m.type = MsgType::ack;
    m.batch_id = a.batch_id;
    SendOptions so;
    so.flow = a.flow;
    so.cookie = kCookieTag | a.batch_id;
    const srdx::Result<MsgId> r = carrier_.send(a.peer, encode(m), so, now);
    if (r.err == srdx::Errc::would_block) break;
    acks.pop_front();
    std::lock_guard<std::mutex> l(mu_);
    ++st_.acks_sent;
  }
  if (!acks.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = acks.rbegin(); it != acks.rend(); ++it) acks_.push_front(*it);
  }
}

CentralStatus Central::status() const {
  std::lock_guard<std::mutex> l(mu_);
  CentralStatus s = st_;
  s.seq = seq_.stats();
  s.broker_connected = mqtt_ && mqtt_->connected();
  return s;
}

}  // namespace srdx::telemetry
