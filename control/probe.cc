#include "probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "log.h"
#include "loop/clock.h"

namespace srdx::ctl {

using nlohmann::json;

namespace {
int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
constexpr size_t idx(ProbeTransport t) { return t == ProbeTransport::tcp ? 1 : 0; }
// Cookies of ping sends carry this tag in their top 16 bits.
constexpr uint64_t kPingCookieTag = uint64_t{0x5052} << 48;
constexpr Duration kPingTimeout = Duration::seconds(1);
constexpr uint32_t kBatch = 100;  // pings per transport before switching
constexpr uint32_t kPeriodicGiveUpAfterLost = 2;
}  // namespace

RttSummary summarize(const LogLinearHistogram& ns, uint64_t lost) {
  RttSummary s;
  s.count = ns.count();
  s.lost = lost;
  if (s.count == 0) return s;
  auto pct = [&](double p) { return static_cast<double>(ns.percentile(p)) / 1e3; };
  s.p50_us = pct(0.50);
  s.p90_us = pct(0.90);
  s.p99_us = pct(0.99);
  s.p999_us = pct(0.999);
  s.max_us = static_cast<double>(ns.max()) / 1e3;
  return s;
}

std::string_view to_string(ProbeState s) {
  switch (s) {
    case ProbeState::running:
      return "running";
    case ProbeState::done:
      return "done";
    case ProbeState::cancelled:
      return "cancelled";
    case ProbeState::failed:
      return "failed";
  }
  return "?";
}

// ---- Probe -----------------------------------------------------------------------

Probe::Probe(uint64_t id, const ProbeRequest& req, const PeerConfig& peer, bool listed,
             ProbeHistograms& metrics)
    : id_(id),
      req_(req),
      peer_(peer),
      listed_(listed),
      metrics_(metrics),
      lease_ns_(listed ? int64_t{req.lease_s} * 1000000000 : 0),
      renewed_ns_(steady_ns()),
      rtt_(std::make_unique<LogLinearHistogram[]>(2)),
      series_{ProbeHistograms::Series({peer.name, "srdx", source()}),
              ProbeHistograms::Series({peer.name, "tcp", source()})} {}

void Probe::renew() { renewed_ns_.store(steady_ns()); }

bool Probe::lease_expired() {
  if (lease_ns_ == 0 || steady_ns() - renewed_ns_.load() < lease_ns_) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != ProbeState::running) return false;
    if (reason_.empty()) {
      reason_ = "lease expired: not read for " + std::to_string(req_.lease_s) +
                " s (GET /v1/probes/" + std::to_string(id_) +
                " renews the lease; \"lease_s\":0, srdxctl probe --detach, runs without one)";
    }
  }
  cancel_.store(true);
  return true;
}

void Probe::cancel(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == ProbeState::running && reason_.empty()) reason_ = why;
  }
  cancel_.store(true);
}

std::string Probe::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

ProbeState Probe::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

// A sample that lands after the probe ended (a reply in flight when it was
// cancelled) or was aborted (a TCP ping to a peer just removed, timing out)
// is dropped: the results and the metrics stop where the probe did.
void Probe::record(ProbeTransport t, int64_t rtt_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != ProbeState::running || !abort_reason_.empty()) return;
    rtt_[idx(t)].record(static_cast<uint64_t>(std::max<int64_t>(rtt_ns, 0)));
    ++answered_[idx(t)];
  }
  metrics_.observe(series_[idx(t)], static_cast<double>(rtt_ns) / 1e9);
}

void Probe::record_lost(ProbeTransport t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != ProbeState::running || !abort_reason_.empty()) return;
    ++lost_[idx(t)];
  }
  metrics_.lost(series_[idx(t)]);
}

bool Probe::finish(ProbeState s, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ProbeState::running) return false;
  state_ = s;
  error_ = error;
  // The summaries are final: compute them once, and free the histograms
  // (the newest 256 ended probes are kept, each a few hundred bytes).
  for (size_t i = 0; i < 2; ++i) final_[i] = summarize(rtt_[i], lost_[i]);
  rtt_.reset();
  return true;
}

size_t Probe::storage_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rtt_ ? 2 * sizeof(LogLinearHistogram) : 0;
}

uint64_t Probe::done(ProbeTransport t) const {
  std::lock_guard<std::mutex> lock(mu_);
  return answered_[idx(t)] + lost_[idx(t)];
}

uint64_t Probe::answered(ProbeTransport t) const {
  std::lock_guard<std::mutex> lock(mu_);
  return answered_[idx(t)];
}

uint64_t Probe::lost(ProbeTransport t) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_[idx(t)];
}

void Probe::abort(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abort_reason_.empty()) abort_reason_ = why;
  }
  cancel_.store(true);
}

std::string Probe::abort_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abort_reason_;
}

std::string Probe::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

json Probe::to_json() const {
  // A running probe: a fixed-size copy under the lock (two memcpy's of a
  // histogram, whatever the count), the percentiles computed outside it. An
  // ended one: the summaries finish() computed.
  auto rtt = std::make_unique<LogLinearHistogram[]>(2);
  uint64_t answered[2], lost[2];
  RttSummary sum[2];
  bool running;
  ProbeState state;
  std::string error, reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = rtt_ != nullptr;
    if (running) {
      rtt[0] = rtt_[0];
      rtt[1] = rtt_[1];
    } else {
      sum[0] = final_[0];
      sum[1] = final_[1];
    }
    answered[0] = answered_[0];
    answered[1] = answered_[1];
    lost[0] = lost_[0];
    lost[1] = lost_[1];
    state = state_;
    error = error_;
    reason = reason_;
  }
  const bool want[2] = {req_.transport != ProbeTransport::tcp,
                        req_.transport != ProbeTransport::srdx};
  const uint64_t n_transports = (want[0] ? 1 : 0) + (want[1] ? 1 : 0);
  uint64_t done_sum = 0;
  for (size_t i = 0; i < 2; ++i) done_sum += answered[i] + lost[i];

  json j = json::object();
  j["id"] = std::to_string(id_);
  j["peer"] = peer_.name;
  j["transport"] = std::string(to_string(req_.transport));
  j["size"] = req_.size;
  j["count"] = req_.count;
  j["interval_us"] = req_.interval_us;
  j["state"] = std::string(to_string(state));
  j["progress"] = {{"done", done_sum / n_transports}, {"count", req_.count}};
  if (state == ProbeState::failed) j["error"] = error;
  if (state == ProbeState::cancelled && !reason.empty()) j["reason"] = reason;
  j["lease_s"] = listed_ ? req_.lease_s : 0;
  j["storage_bytes"] = running ? 2 * sizeof(LogLinearHistogram) : 0;
  json results = json::object();
  bool have[2] = {false, false};
  const char* names[2] = {"srdx", "tcp"};
  for (size_t i = 0; i < 2; ++i) {
    if (!want[i] || answered[i] + lost[i] == 0) continue;
    have[i] = true;
    if (running) sum[i] = summarize(rtt[i], lost[i]);
    results[names[i]] = {{"count", sum[i].count},   {"lost", sum[i].lost},
                         {"p50_us", sum[i].p50_us}, {"p90_us", sum[i].p90_us},
                         {"p99_us", sum[i].p99_us}, {"p999_us", sum[i].p999_us},
                         {"max_us", sum[i].max_us}};
  }
  if (!results.empty()) j["results"] = results;
  if (have[0] && have[1] && sum[0].count > 0 && sum[1].count > 0) {
    auto ratio = [](double tcp, double srdx) { return srdx > 0 ? tcp / srdx : 0.0; };
    j["ratio"] = {{"p50", ratio(sum[1].p50_us, sum[0].p50_us)},
                  {"p90", ratio(sum[1].p90_us, sum[0].p90_us)},
                  {"p99", ratio(sum[1].p99_us, sum[0].p99_us)},
                  {"p999", ratio(sum[1].p999_us, sum[0].p999_us)},
                  {"max", ratio(sum[1].max_us, sum[0].max_us)}};
  }
  return j;
}

// ---- SrdxBatch ---------------------------------------------------------------------

void SrdxBatch::complete(const std::string& err) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (finished) return;
    finished = true;
    error = err;
  }
  cv.notify_all();
}

std::string SrdxBatch::wait() {
  std::unique_lock<std::mutex> lock(mu);
  int cancelled_waits = 0;
  while (!finished) {
    cv.wait_for(lock, std::chrono::milliseconds(100));
    probe->lease_expired();  // cancels the probe: the poller ends the batch
    // The poller ends cancelled batches within a tick; if it is gone (the
    // daemon stopping), do not wait forever.
    if (!finished && probe->cancelled() && ++cancelled_waits > 20) return "cancelled";
  }
  return error;
}

// ---- SrdxPinger --------------------------------------------------------------------

SrdxPinger::SrdxPinger(carrier::Carrier& carrier, uint64_t magic) : carrier_(carrier) {
  for (size_t i = 0; i < 8; ++i) magic_[i] = static_cast<uint8_t>(magic >> (8 * i));
}

void SrdxPinger::add(std::shared_ptr<SrdxBatch> b, PeerId peer, Time now) {
  Peer& p = queues_[Key{peer, b->probe->listed() ? kApiLane : kPeriodicLane}];
  if (p.batches.empty()) {
    p.done = 0;
    p.lost_in_row = 0;
    p.started = false;
    p.next_send = now;
  }
  p.batches.push_back(std::move(b));
}

bool SrdxPinger::is_ours(std::span<const uint8_t> data) const {
  const size_t n = std::min<size_t>(data.size(), 8);
  return n > 0 && std::memcmp(data.data(), magic_, n) == 0;
}

std::string SrdxPinger::send_ping(PeerId id, Peer& p, Time now) {
  const SrdxBatch& b = *p.batches.front();
  if (!p.started) {
    p.started = true;
    // The first ping to a peer not yet up carries the handshake: not counted.
    p.warmup = !carrier_.peer_reachable(id);
  }
  p.seq = next_seq_++;
  p.payload.assign(b.size, 0);
  for (size_t i = 0; i < b.size; ++i) {
    p.payload[i] = i < 8    ? magic_[i]
                   : i < 16 ? static_cast<uint8_t>(p.seq >> (8 * (i - 8)))
                            : static_cast<uint8_t>(i * 131 + p.seq);
  }
  p.cookie = kPingCookieTag | (p.seq & 0xffffffffffffull);
  SendOptions opt;
  opt.flow = kEchoFlow;
  opt.cookie = p.cookie;
  opt.timeout = kPingTimeout;
  const Result<MsgId> r = carrier_.send(id, p.payload, opt, now);
  if (r.err == Errc::would_block) {
    // The peer's send queue is full (other traffic): this ping is lost, the
    // next one goes a little later.
    if (!p.warmup) {
      ping_lost(p);
    } else {
      ++p.done;
    }
    p.warmup = false;
    p.next_send = now + Duration::micros(std::max<uint32_t>(b.interval_us, 1000));
    return {};
  }
  if (!r.ok()) {
    // Every further ping would fail the same way (too large, no such peer).
    return "the endpoint refused a " + std::to_string(b.size) +
           "-byte ping: " + std::string(to_string(r.err)) +
           (r.err == Errc::too_large ? " (larger than engine.max-message)" : "");
  }
  p.in_flight = true;
  p.sent = now;
  return {};
}

void SrdxPinger::ping_lost(Peer& p) {
  p.batches.front()->probe->record_lost(ProbeTransport::srdx);
  ++p.done;
  ++p.lost_in_row;
}

void SrdxPinger::ping_done(PeerId, Peer& p, Time now) {
  p.in_flight = false;
  const SrdxBatch& b = *p.batches.front();
  p.next_send = now + Duration::micros(b.interval_us);
}

bool SrdxPinger::on_message(const Event& ev, Time now) {
  if (!is_ours(ev.data)) return false;
  // Either lane's ping (a late answer matches neither: it is dropped).
  for (uint8_t lane : {kApiLane, kPeriodicLane}) {
    auto it = queues_.find(Key{ev.peer, lane});
    if (it == queues_.end()) continue;
    Peer& p = it->second;
    if (!p.in_flight || p.batches.empty()) continue;
    // The whole echo, byte for byte: the magic, the sequence number and
    // every byte after them (a reply whose first bytes match but whose tail
    // was altered or truncated is no answer).
    if (ev.data.size() != p.payload.size() ||
        std::memcmp(ev.data.data(), p.payload.data(), p.payload.size()) != 0) {
      continue;  // an answer to an earlier ping, or to the other lane's, or damaged
    }
    SrdxBatch& b = *p.batches.front();
    const int64_t rtt = (now - p.sent).ns();
    if (p.warmup) {
      p.warmup = false;
    } else {
      b.probe->record(ProbeTransport::srdx, rtt);
      ++p.done;
      p.lost_in_row = 0;
    }
    ping_done(ev.peer, p, now);
    return true;
  }
  return true;
}

void SrdxPinger::on_send_failed(const Event& ev, Time now) {
  if ((ev.cookie >> 48) != (kPingCookieTag >> 48)) return;
  for (uint8_t lane : {kApiLane, kPeriodicLane}) {
    auto it = queues_.find(Key{ev.peer, lane});
    if (it == queues_.end()) continue;
    Peer& p = it->second;
    if (!p.in_flight || p.cookie != ev.cookie || p.batches.empty()) continue;
    if (p.warmup) {
      p.warmup = false;
    } else {
      ping_lost(p);
    }
    ping_done(ev.peer, p, now);
    return;
  }
}

void SrdxPinger::on_peer_removed(PeerId peer, const std::string& why) {
  for (uint8_t lane : {kApiLane, kPeriodicLane}) {
    auto it = queues_.find(Key{peer, lane});
    if (it == queues_.end()) continue;
    for (auto& b : it->second.batches) b->complete(why);
    queues_.erase(it);
  }
}

void SrdxPinger::cancel_all() {
  for (auto& [id, p] : queues_) {
    for (auto& b : p.batches) b->complete("cancelled");
  }
  queues_.clear();
}

void SrdxPinger::tick(Time now) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    const PeerId id = it->first.first;
    Peer& p = it->second;
    while (!p.batches.empty()) {
      SrdxBatch& b = *p.batches.front();
      if (p.in_flight && now - p.sent > kPingTimeout + Duration::millis(100)) {
        // The endpoint's own message timeout normally fires first.
        if (!p.warmup) ping_lost(p);
        p.warmup = false;
        ping_done(id, p, now);
      }
      std::string err;
      if (!p.in_flight && now >= p.next_send && !b.probe->cancelled() && p.done < b.count) {
        err = send_ping(id, p, now);
      }
      const bool give_up = b.give_up_after_lost > 0 && p.lost_in_row >= b.give_up_after_lost;
      if (!err.empty() || b.probe->cancelled() || p.done >= b.count || give_up) {
        if (give_up && p.done < b.count) b.gave_up = true;
        if (err.empty() && b.probe->cancelled() && p.done < b.count) err = "cancelled";
        b.complete(err);
        p.batches.pop_front();
        p.done = 0;
        p.lost_in_row = 0;
        p.started = false;
        // The next batch may start at once; an in-flight ping of the
        // cancelled batch is simply forgotten (its echo is dropped).
        p.in_flight = false;
        p.next_send = now;
        continue;
      }
      break;
    }
    if (p.batches.empty()) {
      it = queues_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---- ProbeManager ------------------------------------------------------------------

ProbeManager::ProbeManager(ProbeHistograms& hist, Submit submit, uint32_t tcp_source_ip)
    : hist_(hist), submit_(std::move(submit)), tcp_source_ip_(tcp_source_ip) {}

ProbeManager::~ProbeManager() { stop(); }

std::shared_ptr<Probe> ProbeManager::start(const ProbeRequest& req, const PeerConfig& peer,
                                           bool listed, size_t max_listed) {
  std::lock_guard<std::mutex> lock(mu_);
  reap_locked();
  if (listed && max_listed > 0) {
    // Threads, not states: a cancelled probe holds its thread until the
    // thread notices.
    if (listed_threads_ >= max_listed) return nullptr;
  }
  if (listed) ++listed_threads_;
  const uint64_t id = next_id_++;
  auto p = std::make_shared<Probe>(id, req, peer, listed, hist_);
  probes_[id] = p;
  started_.fetch_add(1);
  // The thread cannot finish before it is in threads_: run() takes mu_ last.
  threads_.emplace(id, std::thread([this, p] { run(p); }));
  return p;
}

void ProbeManager::reap_locked() {
  for (std::thread& t : done_threads_) t.join();
  done_threads_.clear();
  // Keep the newest 256 finished API probes; finished periodic rounds are
  // not listed, so they go at once (else frequent rounds would push the API
  // probes' results out).
  for (auto it = probes_.begin(); it != probes_.end();) {
    it = !it->second->listed() && it->second->finished() ? probes_.erase(it) : std::next(it);
  }
  size_t finished = 0;
  for (const auto& [id, p] : probes_) finished += p->finished() ? 1 : 0;
  for (auto it = probes_.begin(); it != probes_.end() && finished > 256;) {
    if (it->second->finished()) {
      it = probes_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

std::shared_ptr<Probe> ProbeManager::find(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = probes_.find(id);
  if (it == probes_.end() || !it->second->listed()) return nullptr;
  return it->second;
}

std::vector<std::shared_ptr<Probe>> ProbeManager::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Probe>> v;
  for (const auto& [id, p] : probes_)
    if (p->listed()) v.push_back(p);
  return v;
}

size_t ProbeManager::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, p] : probes_) n += p->finished() ? 0 : 1;
  return n;
}

void ProbeManager::cancel_all(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, p] : probes_) {
    if (why.empty()) {
      p->cancel();
    } else if (!p->finished()) {
      p->cancel(why);
    }
  }
}

size_t ProbeManager::abort_peer(const std::string& name, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& [id, p] : probes_) {
    if (p->peer().name != name || p->finished()) continue;
    p->abort(why);
    ++n;
  }
  return n;
}

void ProbeManager::stop() {
  cancel_all();
  std::map<uint64_t, std::thread> running;
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running.swap(threads_);
    done.swap(done_threads_);
  }
  for (auto& [id, t] : running) t.join();
  for (auto& t : done) t.join();
}

void ProbeManager::run(std::shared_ptr<Probe> p) {
  const ProbeRequest& req = p->request();
  const bool do_srdx = req.transport != ProbeTransport::tcp;
  const bool do_tcp = req.transport != ProbeTransport::srdx;
  uint32_t rem_srdx = do_srdx ? req.count : 0;
  uint32_t rem_tcp = do_tcp ? req.count : 0;
  // A periodic round is a health check: a transport that leaves this many
  // pings in a row unanswered is given up for the round.
  const uint32_t give_up = p->listed() ? 0 : kPeriodicGiveUpAfterLost;
  uint32_t tcp_lost_in_row = 0;
  TcpPinger tcp;
  std::string error;
  while ((rem_srdx || rem_tcp) && !p->lease_expired() && !p->cancelled() && error.empty()) {
    if (rem_srdx) {
      auto b = std::make_shared<SrdxBatch>();
      b->probe = p;
      b->peer = p->peer().name;
      b->size = req.size;
      b->count = std::min(kBatch, rem_srdx);
      b->interval_us = req.interval_us;
      b->give_up_after_lost = give_up;
      submit_(b);
      const std::string err = b->wait();
      if (!err.empty() && err != "cancelled") error = "srdx: " + err;
      rem_srdx -= b->count;
      if (err.empty() && b->gave_up) rem_srdx = 0;
    }
    for (uint32_t i = 0;
         rem_tcp && i < kBatch && !p->lease_expired() && !p->cancelled() && error.empty(); ++i) {
      if (!tcp.connected()) {
        if (std::string err =
                tcp.connect(p->peer().addr.ip, p->peer().tcp_port, 2000, tcp_source_ip_);
            !err.empty()) {
          error = "tcp: " + err;
          break;
        }
      }
      std::string err;
      const int64_t rtt = tcp.ping(req.size, 1000, err);
      if (rtt < 0) {
        error = "tcp: " + err;
        break;
      }
      if (rtt == 0) {
        p->record_lost(ProbeTransport::tcp);
        tcp.close();
        ++tcp_lost_in_row;
      } else {
        p->record(ProbeTransport::tcp, rtt);
        tcp_lost_in_row = 0;
      }
      --rem_tcp;
      if (give_up && tcp_lost_in_row >= give_up) rem_tcp = 0;
      if (req.interval_us) std::this_thread::sleep_for(std::chrono::microseconds(req.interval_us));
    }
  }
  // A probe aborted (its peer removed by a reload) before its end fails with
  // that reason, whatever its transports saw as the peer went.
  if (const std::string why = p->abort_reason();
      !why.empty() && (rem_srdx || rem_tcp || !error.empty())) {
    error = why;
  }
  // Failures by transport, for the metrics: the transport's error, or not
  // one answer over it (a cancelled probe counts as neither).
  const bool stopped_early = p->cancelled() && (rem_srdx || rem_tcp);
  if (!stopped_early || !error.empty()) {
    for (ProbeTransport t : {ProbeTransport::srdx, ProbeTransport::tcp}) {
      if (t == ProbeTransport::srdx ? !do_srdx : !do_tcp) continue;
      const std::string name(to_string(t));
      const bool its_error = error.rfind(name + ":", 0) == 0;
      const bool no_answer = p->answered(t) == 0 && p->lost(t) > 0;
      if (its_error || no_answer) hist_.failed({p->peer().name, name, p->source()});
    }
  }
  if (!error.empty()) {
    p->finish(ProbeState::failed, error);
    // Periodic rounds log on a change of state only (Daemon::periodic_main).
    if (p->listed()) {
      SRDX_LOG_WARN("probe %llu to %s failed: %s", static_cast<unsigned long long>(p->id()),
                    p->peer().name.c_str(), error.c_str());
    }
  } else if (p->cancelled() && (rem_srdx || rem_tcp)) {
    p->finish(ProbeState::cancelled);
    if (const std::string why = p->reason(); p->listed() && !why.empty()) {
      SRDX_LOG_INFO("probe %llu to %s cancelled: %s", static_cast<unsigned long long>(p->id()),
                    p->peer().name.c_str(), why.c_str());
    }
  } else {
    p->finish(ProbeState::done);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (p->listed()) --listed_threads_;
  auto it = threads_.find(p->id());
  if (it != threads_.end()) {
    done_threads_.push_back(std::move(it->second));
    threads_.erase(it);
  }
}

// ---- TcpPinger ---------------------------------------------------------------------

TcpPinger::~TcpPinger() { close(); }

void TcpPinger::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string TcpPinger::connect(uint32_t ip, uint16_t port, int timeout_ms, uint32_t source_ip) {
  close();
  const std::string where = format_addr(Addr{ip, port});
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  if (source_ip != 0) {
    // The peer's TCP echo answers the IPs of its configured peers: leave
    // from this appliance's srdx address when the kernel has it (a DPDK
    // link's address is not the kernel's: then the kernel chooses).
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(source_ip);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 && errno != EADDRNOTAVAIL) {
      const std::string e = std::strerror(errno);
      ::close(fd);
      return "bind to " + format_ip(source_ip) + ": " + e;
    }
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(ip);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    const std::string e = std::strerror(errno);
    ::close(fd);
    return "connect to " + where + ": " + e;
  }
  pollfd pfd{fd, POLLOUT, 0};
  const int r = ::poll(&pfd, 1, timeout_ms);
  int soerr = 0;
  socklen_t len = sizeof soerr;
  if (r <= 0) {
    ::close(fd);
    return "connect to " + where + ": timed out";
  }
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    ::close(fd);
    return "connect to " + where + ": " + std::strerror(soerr) +
           " (is the peer's services.tcp-echo listening?)";
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  return {};
}

int64_t TcpPinger::ping(uint32_t size, int timeout_ms, std::string& err) {
  if (out_.size() != size) {
    out_.resize(size);
    for (size_t i = 0; i < size; ++i) out_[i] = static_cast<uint8_t>(i * 7 + 1);
  }
  in_.resize(size);
  const Time start = dp::monotonic_now();
  const Time deadline = start + Duration::millis(timeout_ms);
  size_t sent = 0, got = 0;
  while (got < size) {
    const Time now = dp::monotonic_now();
    if (now >= deadline) return 0;
    pollfd pfd{fd_, static_cast<short>(POLLIN | (sent < size ? POLLOUT : 0)), 0};
    const int wait_ms = static_cast<int>(std::max<int64_t>(1, (deadline - now).ns() / 1000000));
    const int r = ::poll(&pfd, 1, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = std::string("poll: ") + std::strerror(errno);
      return -1;
    }
    if (r == 0) continue;
    if (sent < size && (pfd.revents & (POLLOUT | POLLERR))) {
      const ssize_t n = ::send(fd_, out_.data() + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
        err = "the peer reset the connection (does it list this host's IP in its [peers]?)";
        return -1;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        err = std::string("send: ") + std::strerror(errno);
        return -1;
      }
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd_, in_.data() + got, size - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n == 0) {
        err = "the peer closed the connection";
        return -1;
      } else if (errno == ECONNRESET) {
        err = "the peer reset the connection (does it list this host's IP in its [peers]?)";
        return -1;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        err = std::string("recv: ") + std::strerror(errno);
        return -1;
      }
    }
  }
  const int64_t rtt = std::max<int64_t>(1, (dp::monotonic_now() - start).ns());
  if (std::memcmp(in_.data(), out_.data(), size) != 0) {
    err = "the echo did not match what was sent";
    return -1;
  }
  return rtt;
}

}  // namespace srdx::ctl
