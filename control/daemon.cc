#include "daemon.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include "api.h"
#include "log.h"
#include "loop/clock.h"
#include "loop/entropy.h"
#include "loop/link_timers.h"
#include "sim/units.h"
#include "telemetry.h"

namespace srdx::ctl {

namespace {
constexpr Duration kSnapshotEvery = Duration::millis(10);

}  // namespace

Daemon::Daemon(DaemonConfig cfg, std::vector<std::string> args)
    : cfg_(std::move(cfg)),
      args_(std::move(args)),
      started_(dp::monotonic_now()),
      tokens_{cfg_.token, cfg_.read_token} {}

Daemon::~Daemon() = default;

double Daemon::uptime_s() const { return (dp::monotonic_now() - started_).sec(); }

Duration Daemon::heartbeat_age() const { return heartbeat_.age(dp::monotonic_now()); }

Snapshot Daemon::snapshot() const {
  std::lock_guard<std::mutex> lock(snap_mu_);
  return snap_;
}

std::optional<PeerConfig> Daemon::find_peer(const std::string& name) const {
  std::lock_guard<std::mutex> lock(snap_mu_);
  for (const PeerSnapshot& p : snap_.peers)
    if (p.cfg.name == name) return p.cfg;
  return std::nullopt;
}

ReplicationSinkMetrics Daemon::sink_metrics() const {
  ReplicationSinkMetrics m;
  if (!sink_) return m;
  const replicate::SinkStats s = sink_->stats();
  m.present = true;
  m.offers = s.offers;
  m.chunks_written = s.chunks_written;
  m.bytes_written = s.bytes_written;
  m.commits = s.commits;
  m.verify_failures = s.verify_failures;
  m.refused = s.refused;
  m.malformed = s.malformed;
  m.groups = s.groups;
  m.receive_s = s.receive_s;
  m.sync_s = s.sync_s;
  m.publish_s = s.publish_s;
  m.audit_s = s.audit_s;
  return m;
}

void Daemon::post(std::function<void(Time)> cmd) {
  {
    std::lock_guard<std::mutex> lock(cmd_mu_);
    cmds_.push_back(std::move(cmd));
    have_cmds_.store(true);
  }
  if (carrier_) carrier_->wake();  // run on the loop's next iteration, not after its nap
}

// ---- poller thread -------------------------------------------------------------------

void Daemon::on_event(const Event& ev, Time now) {
  // Telemetry's messages, and the send results of its batches (peer_up and
  // peer_down go on to be logged below).
  if (telemetry_bridge_ &&
      (ev.type != EventType::message_received || telemetry::is_telemetry_flow(ev.flow)) &&
      telemetry_bridge_->on_event(ev, now)) {
    return;
  }
  // Replication first: its messages, and the send results of its cookies
  // (the jobs' Sources, then the DR side's Sink, say whether they were theirs).
  if ((ev.type == EventType::message_received && ev.flow == replicate::kReplicationFlow) ||
      ev.type == EventType::send_completed || ev.type == EventType::send_failed) {
    if (jobs_ && jobs_->on_event(ev, now)) return;
    if (sink_ && sink_->on_event(ev, now)) return;
  }
  // The jobs see a peer go down (their barriers fail at once); so does the log.
  if (ev.type == EventType::peer_down && jobs_) (void)jobs_->on_event(ev, now);
  switch (ev.type) {
    case EventType::message_received:
      if (ev.flow != kEchoFlow) {
        ++other_flow_;
        return;
      }
      if (pinger_->on_message(ev, now)) return;
      // The echo answers configured peers only: with peers.accept-unknown
      // on, a stranger may connect, but it is not answered.
      if (!peer_names_.count(ev.peer)) {
        const uint64_t n = ++echo_refused_;
        if ((n & (n - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...
          const std::string addr = peer_label(ev.peer);
          SRDX_LOG_INFO("srdx echo: not answering %s (not a configured peer; %llu refused so far)",
                        addr.c_str(), static_cast<unsigned long long>(n));
        }
        return;
      }
      {
        SendOptions opt;
        opt.flow = kEchoFlow;
        if (carrier_->send(ev.peer, ev.data, opt, now).ok()) {
          ++echo_served_;
        } else {
          ++echo_failed_;
        }
      }
      return;
    case EventType::send_failed:
      pinger_->on_send_failed(ev, now);
      return;
    case EventType::peer_up:
    case EventType::peer_down: {
      auto named = peer_names_.find(ev.peer);
      const std::string name = named == peer_names_.end() ? std::string() : named->second;
      const std::string addr = peer_label(ev.peer);
      const bool up = ev.type == EventType::peer_up;
      if (!name.empty()) {
        logf(up ? LogLevel::info : LogLevel::warn, "peer %s (%s) %s", name.c_str(), addr.c_str(),
             up ? "up" : ("down: " + std::string(to_string(ev.reason))).c_str());
      } else {
        SRDX_LOG_DEBUG("unconfigured peer %s %s", addr.c_str(), up ? "up" : "down");
      }
      return;
    }
    case EventType::send_completed:
      return;
  }
}

void Daemon::on_tick(Time now) {
  heartbeat_.beat(now);
  if (have_cmds_.load(std::memory_order_relaxed)) {
    std::deque<std::function<void(Time)>> cmds;
    {
      std::lock_guard<std::mutex> lock(cmd_mu_);
      cmds.swap(cmds_);
      have_cmds_.store(false);
    }
    for (auto& c : cmds) c(now);
    refresh_snapshot(now);
  }
  pinger_->tick(now);
  if (jobs_) jobs_->tick(now);
  if (sink_) sink_->tick(now);
  if (telemetry_bridge_) telemetry_bridge_->tick(now);
  if (now - last_refresh_ >= kSnapshotEvery) refresh_snapshot(now);
}

std::string Daemon::peer_label(PeerId id) const {
  if (engine_) {
    PeerStats ps;
    return engine_->endpoint().peer_stats(id, ps) ? format_addr(ps.addr) : "?";
  }
  auto named = peer_names_.find(id);
  return "fabric peer " + std::to_string(id) +
         (named == peer_names_.end() ? std::string() : " (" + named->second + ")");
}

void Daemon::refresh_snapshot(Time now) {
  last_refresh_ = now;
  Snapshot s;
  s.taken_at = dp::wall_seconds();
  s.taken_mono = now;
  s.instance = instance_;
  s.start_time = start_time_;
  s.carrier = std::string(carrier_->kind());
  s.carrier_name = carrier_->local_name();
  s.encryption = cfg_.ep.encryption;
  s.public_key = public_key_;
  if (engine_) {
    s.link_kind = cfg_.link.kind;
    s.link_local = engine_->link().local();
    Endpoint& ep = engine_->endpoint();
    s.ep = ep.stats();
    s.link = engine_->link().stats();
    for (const auto& [name, v] : engine_->link().backend_counters())
      s.link_backend.emplace_back(name, v);
    s.poller = engine_->poller().stats();
    s.buffered_messages = ep.buffered_messages();
    s.buffered_bytes = ep.buffered_bytes();
    s.endpoint_peers = ep.peers().size();
  } else {
    // The fabric has no link, poller or engine counters: what the carrier
    // counts takes the endpoint's names, the provider's own the backend's.
    s.link_kind = "fabric";
    s.link_local = cfg_.link.local;
    s.carrier_detail = fabric_->describe();
    const carrier::CarrierStats c = fabric_->stats();
    s.ep.messages_sent = c.messages_sent;
    s.ep.messages_completed = c.messages_completed;
    s.ep.messages_failed = c.messages_failed;
    s.ep.messages_received = c.messages_received;
    s.ep.bytes_sent = c.bytes_sent;
    s.ep.bytes_received = c.bytes_received;
    s.ep.packets_sent = c.packets_sent;
    s.ep.packets_received = c.packets_received;
    const carrier::FabricStats& f = fabric_->fabric_stats();
    s.link_backend = {{"fabric_segments_sent", f.segments_sent},
                      {"fabric_segments_received", f.segments_received},
                      {"fabric_controls_sent", f.controls_sent},
                      {"fabric_send_again", f.send_again},
                      {"fabric_provider_errors", f.provider_errors},
                      {"fabric_dropped_malformed", f.dropped_malformed},
                      {"fabric_dropped_unknown_source", f.dropped_unknown_source},
                      {"fabric_dropped_duplicate", f.dropped_duplicate},
                      {"fabric_peer_restarts", f.peer_restarts},
                      {"fabric_waits", f.waits},
                      {"fabric_wakeups_by_fd", f.wakeups_by_fd}};
    s.buffered_messages = c.messages_sent - c.messages_completed - c.messages_failed;
    s.endpoint_peers = peer_ids_.size();
  }
  s.echo_served = echo_served_;
  s.echo_failed = echo_failed_;
  s.echo_refused = echo_refused_;
  s.tcp_echo_connections = tcp_echo_.connections();
  s.tcp_echo_bytes = tcp_echo_.bytes();
  s.tcp_echo_refused = tcp_echo_.refused();
  s.tcp_echo_idle_closed = tcp_echo_.idle_closed();
  s.tcp_echo_over_cap = tcp_echo_.over_cap();
  s.other_flow_dropped = other_flow_;
  s.peers.reserve(peers_.size());
  for (const PeerConfig& pc : peers_) {
    PeerSnapshot ps;
    ps.cfg = pc;
    auto it = peer_ids_.find(pc.name);
    if (it != peer_ids_.end() && engine_) {
      if (engine_->endpoint().peer_stats(it->second, ps.stats)) {
        ps.known = true;
        ps.paths = engine_->endpoint().path_stats(it->second);
      }
    } else if (it != peer_ids_.end()) {
      ps.known = true;
      ps.stats.addr = pc.addr;
      ps.stats.up = fabric_->peer_reachable(it->second);
    }
    if (auto e = earlier_.find(pc.name); e != earlier_.end()) ps.earlier = e->second;
    s.peers.push_back(std::move(ps));
  }
  std::lock_guard<std::mutex> lock(snap_mu_);
  snap_ = std::move(s);
}

void Daemon::apply_peers(const std::vector<PeerConfig>& peers, Time now) {
  // Removed, or changed address: remove_peer (their messages fail).
  std::vector<PeerConfig> kept;
  for (const PeerConfig& old : peers_) {
    const PeerConfig* same = nullptr;
    for (const PeerConfig& p : peers)
      if (p.name == old.name) same = &p;
    if (same && same->addr == old.addr && same->key == old.key &&
        same->fabric_name == old.fabric_name) {
      if (same->tcp_port != old.tcp_port) {
        SRDX_LOG_INFO("reload: peer %s tcp echo port %u -> %u", old.name.c_str(), old.tcp_port,
                      same->tcp_port);
      }
      continue;
    }
    // Its probes end failed with this reason; its pings and echoes in
    // flight fail in the endpoint (send_failed: peer_removed, counted in
    // messages_failed), none is dropped unreported.
    const char* changed = !same                    ? ""
                          : same->addr != old.addr ? " (its address changed)"
                          : same->key != old.key   ? " (its key changed)"
                                                   : " (its fabric-name changed)";
    const std::string why =
        "peer " + old.name + " was removed from the configuration by a reload" + changed;
    const size_t aborted = probes_ ? probes_->abort_peer(old.name, why) : 0;
    uint64_t failed = 0;
    auto it = peer_ids_.find(old.name);
    if (it != peer_ids_.end()) {
      pinger_->on_peer_removed(it->second, why);
      PeerStats ps;
      if (engine_ && engine_->endpoint().peer_stats(it->second, ps)) {
        failed = ps.messages_queued;
        PeerTotals& e = earlier_[old.name];
        e.add(ps, engine_->endpoint().path_stats(it->second));
        e.messages_failed += ps.messages_queued;  // they fail in remove_peer below
      }
      carrier_->remove_peer(it->second, now);
      peer_names_.erase(it->second);
      peer_ids_.erase(it);
    }
    SRDX_LOG_INFO(
        "reload: peer %s (%s) removed%s: %llu messages to it failed (peer_removed), "
        "%zu probes to it stopped",
        old.name.c_str(), format_addr(old.addr).c_str(), changed,
        static_cast<unsigned long long>(failed), aborted);
  }
  for (const PeerConfig& p : peers) {
    if (peer_ids_.count(p.name)) continue;
    PeerId id = kNoPeer;
    if (engine_) {
      Endpoint& ep = engine_->endpoint();
      id = ep.find_peer(p.addr);
      if (id != kNoPeer && cfg_.ep.encryption) {
        // A stranger accepted at this address (peers.accept-unknown) proved a
        // key from peers.allow-key, not necessarily this peer's: it is
        // replaced, and the peer must prove its own key in a new handshake.
        ep.remove_peer(id, now);
        id = kNoPeer;
      }
    }
    if (id == kNoPeer) {
      const Result<PeerId> r =
          fabric_ ? fabric_->add_peer(p.fabric_name.empty() ? carrier::format_ip_port(p.addr)
                                                            : p.fabric_name)
          : is_zero(p.key) ? engine_->endpoint().add_peer(p.addr)
                           : engine_->endpoint().add_peer(p.addr, p.key);
      if (!r.ok()) {
        SRDX_LOG_ERROR("peer %s (%s): cannot add: %s", p.name.c_str(), format_addr(p.addr).c_str(),
                       std::string(to_string(r.err)).c_str());
        continue;
      }
      id = r.value;
    }
    peer_ids_[p.name] = id;
    peer_names_[id] = p.name;
    if (sink_) sink_->name_peer(id, JobManager::peer_identity(p));
    SRDX_LOG_INFO("peer %s added: %s (tcp echo port %u, key %s)", p.name.c_str(),
                  format_addr(p.addr).c_str(), p.tcp_port,
                  is_zero(p.key) ? "none" : key_to_base64(p.key).c_str());
  }
  peers_ = peers;
  std::set<uint32_t> ips;
  for (const PeerConfig& p : peers_) ips.insert(p.addr.ip);
  tcp_echo_.set_allowed(std::move(ips));
}

void Daemon::poller_main() {
  try {
    carrier_->run(stop_poller_);
  } catch (const std::exception& e) {
    SRDX_LOG_ERROR("poll loop stopped: %s", e.what());
    poller_failed_.store(true);
  }
  // Whatever still waits on the poller is answered now.
  pinger_->cancel_all();
}

// ---- control -------------------------------------------------------------------------

// The API's tokens from the files the re-read configuration names (a token
// rotated in place, or another file): each applies only if its file passes
// every check; otherwise the current one stays, and the log says why.
void Daemon::reload_tokens(const DaemonConfig& fresh) {
  Tokens t = tokens();
  std::string w, r;
  if (std::string err = read_token_file(fresh.token_file, w); !err.empty()) {
    SRDX_LOG_ERROR("SIGHUP: control.token-file: %s; keeping the current token", err.c_str());
    w = t.write;
  }
  if (fresh.read_token_file.empty()) {
    r.clear();
  } else if (std::string err = read_token_file(fresh.read_token_file, r); !err.empty()) {
    SRDX_LOG_ERROR("SIGHUP: control.read-token-file: %s; keeping the current read-only token",
                   err.c_str());
    r = t.read;
  }
  if (!r.empty() && r == w) {
    SRDX_LOG_ERROR(
        "SIGHUP: control.read-token-file holds the write token; the read-only token is off");
    r.clear();
  }
  const bool changed = w != t.write || r != t.read;
  {
    std::lock_guard<std::mutex> l(tokens_mu_);
    tokens_ = {std::move(w), std::move(r)};
  }
  if (changed) SRDX_LOG_INFO("SIGHUP: the API tokens were re-read and changed");
}

void Daemon::reload() {
  if (cfg_.config_file.empty()) {
    SRDX_LOG_WARN("SIGHUP: no --config file to re-read; peers unchanged");
    return;
  }
  DaemonConfig fresh;
  const ParseResult r = parse_config(args_, fresh, false);
  if (r.outcome == ParseOutcome::error) {
    SRDX_LOG_ERROR("SIGHUP: %s; keeping the current peers", r.message.c_str());
    return;
  }
  reload_tokens(fresh);
  if (fresh.peers.size() > cfg_.limits.max_peers) {
    SRDX_LOG_ERROR(
        "SIGHUP: %zu peers in [peers], more than endpoint.max-peers (%u) allows; "
        "keeping the current peers",
        fresh.peers.size(), cfg_.limits.max_peers);
    return;
  }
  // The running endpoint's encryption decides: a peer without a key cannot
  // be added to an encrypting endpoint, whatever the file now says.
  if (cfg_.ep.encryption) {
    for (const PeerConfig& p : fresh.peers) {
      if (is_zero(p.key)) {
        SRDX_LOG_ERROR(
            "SIGHUP: peer %s has no key, and this srdxd encrypts (endpoint.encryption is read "
            "at start); keeping the current peers",
            p.name.c_str());
        return;
      }
    }
  }
  // Read at start only: say so rather than seem to apply them.
  if (fresh.ep.accept_unknown_peers != cfg_.ep.accept_unknown_peers) {
    SRDX_LOG_WARN("SIGHUP: peers.accept-unknown changed; it takes effect at the next start");
  }
  if (!(fresh.limits == cfg_.limits)) {
    SRDX_LOG_WARN("SIGHUP: [endpoint] limits changed; they take effect at the next start");
  }
  if (fresh.ep.encryption != cfg_.ep.encryption ||
      fresh.ep.rekey_packets != cfg_.ep.rekey_packets ||
      fresh.ep.rekey_interval != cfg_.ep.rekey_interval) {
    SRDX_LOG_WARN(
        "SIGHUP: endpoint.encryption or endpoint.rekey-* changed; they take effect at the next "
        "start");
  }
  // The appliance's identity is not swapped under live connections: the
  // peer list still applies, the key waits for a restart.
  if (!is_zero(fresh.ep.static_key) && public_key_of(fresh.ep.static_key) != own_key_) {
    SRDX_LOG_ERROR(
        "SIGHUP: keys.private-key-file (%s) holds another private key: refused, the appliance "
        "keeps its key %s until srdxd is restarted; the rest of the reload applies",
        fresh.private_key_file.c_str(), public_key_.c_str());
  }
  OPENSSL_cleanse(fresh.ep.static_key.data(), fresh.ep.static_key.size());
  std::vector<PublicKey> added_keys;
  for (const PublicKey& k : fresh.allowed_keys) {
    if (std::find(allowed_keys_.begin(), allowed_keys_.end(), k) == allowed_keys_.end())
      added_keys.push_back(k);
  }
  for (const PublicKey& k : allowed_keys_) {
    if (std::find(fresh.allowed_keys.begin(), fresh.allowed_keys.end(), k) ==
        fresh.allowed_keys.end()) {
      SRDX_LOG_WARN("SIGHUP: peers.allow-key %s was removed; it stays allowed until the next start",
                    key_to_base64(k).c_str());
    }
  }
  allowed_keys_.insert(allowed_keys_.end(), added_keys.begin(), added_keys.end());
  SRDX_LOG_INFO(
      "SIGHUP: re-read %s (%zu peers, %zu new allowed keys; only the peer list and new "
      "allowed keys are reloaded)",
      cfg_.config_file.c_str(), fresh.peers.size(), added_keys.size());
  post([this, peers = fresh.peers, added_keys](Time now) {
    if (engine_)
      for (const PublicKey& k : added_keys) engine_->endpoint().allow_key(k);
    apply_peers(peers, now);
  });
}

namespace {

// Why a finished periodic round counts as failed, or empty: it failed, or a
// transport got not one answer.
std::string round_failure(const Probe& p) {
  if (p.state() == ProbeState::failed) return p.error();
  for (ProbeTransport t : {ProbeTransport::srdx, ProbeTransport::tcp}) {
    if (p.answered(t) == 0 && p.lost(t) > 0) {
      return std::string(to_string(t)) + ": no answer (" + std::to_string(p.lost(t)) +
             " pings lost)";
    }
  }
  return {};
}

}  // namespace

void Daemon::periodic_main() {
  std::unique_lock<std::mutex> lock(periodic_mu_);
  const auto every = std::chrono::nanoseconds(cfg_.probe_every.ns());
  // A peer's previous round still running (an unreachable peer's pings time
  // out) is not started again: rounds never pile up. A peer whose rounds
  // fail is logged once when they start failing and once when one succeeds
  // again, not every round (the metrics count every failed round).
  struct PeerRounds {
    std::shared_ptr<Probe> last;
    bool judged = false, failing = false;
    uint64_t failed_rounds = 0;
  };
  std::map<std::string, PeerRounds> peers;
  auto judge = [&](const std::string& name, PeerRounds& r) {
    if (!r.last || r.judged || !r.last->finished()) return;
    r.judged = true;
    if (r.last->state() == ProbeState::cancelled) return;
    const std::string why = round_failure(*r.last);
    if (!why.empty()) {
      ++r.failed_rounds;
      if (!r.failing) {
        SRDX_LOG_WARN("periodic probe to %s failing: %s (logged again when it recovers)",
                      name.c_str(), why.c_str());
      } else {
        SRDX_LOG_DEBUG("periodic probe to %s still failing: %s", name.c_str(), why.c_str());
      }
      r.failing = true;
    } else if (r.failing) {
      SRDX_LOG_INFO("periodic probe to %s recovered after %llu failed rounds", name.c_str(),
                    static_cast<unsigned long long>(r.failed_rounds));
      r.failing = false;
      r.failed_rounds = 0;
    }
  };
  while (!periodic_stop_) {
    if (periodic_cv_.wait_for(lock, every, [this] { return periodic_stop_; })) break;
    if (draining_.load()) continue;
    const Snapshot s = snapshot();
    // Peers removed by a reload are forgotten.
    for (auto it = peers.begin(); it != peers.end();) {
      bool still = false;
      for (const PeerSnapshot& p : s.peers) still = still || p.cfg.name == it->first;
      it = still ? std::next(it) : peers.erase(it);
    }
    for (const PeerSnapshot& p : s.peers) {
      PeerRounds& r = peers[p.cfg.name];
      judge(p.cfg.name, r);
      if (r.last && !r.last->finished()) continue;
      ProbeRequest req;
      req.peer = p.cfg.name;
      req.transport = ProbeTransport::both;
      req.size = 64;
      req.count = 10;
      r.last = probes_->start(req, p.cfg, false);
      r.judged = false;
    }
  }
}

bool Daemon::start_replication() {
  const ReplicationConfig& r = cfg_.replication;
  if (std::string e = JobManager::make_state_dir(r.state_dir); !e.empty()) {
    SRDX_LOG_ERROR("cannot start: %s", e.c_str());
    return false;
  }
  const size_t slash = r.audit_log.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    ::mkdir(r.audit_log.substr(0, slash).c_str(), 0700);
  }
  auto opened = replicate::AuditLog::open(r.audit_log);
  if (!opened.ok()) {
    SRDX_LOG_ERROR("cannot start: --replication.audit-log: %s: %s", r.audit_log.c_str(),
                   opened.error.c_str());
    return false;
  }
  audit_ = std::move(opened.value);
  if (!audit_->recovered().empty()) {
    SRDX_LOG_WARN("audit log %s: %s", r.audit_log.c_str(), audit_->recovered().c_str());
  }
  jobs_ = std::make_unique<JobManager>(
      r, *carrier_, audit_.get(),
      JobManager::Hooks{[this](std::function<void(Time)> cmd) { post(std::move(cmd)); },
                        [this](const std::string& name) {
                          auto it = peer_ids_.find(name);
                          return it == peer_ids_.end() ? kNoPeer : it->second;
                        },
                        [this](const std::string& name) { return find_peer(name); }});
  if (std::string e = jobs_->load(); !e.empty()) {
    SRDX_LOG_ERROR("cannot start: %s", e.c_str());
    return false;
  }
  if (!r.dr_root.empty()) {
    replicate::SinkOptions so;
    so.dr_root = r.dr_root;
    sink_ = std::make_unique<replicate::Sink>(so, *carrier_, audit_.get());
  }
  SRDX_LOG_INFO("replication: %zu jobs in %s, audit log %s, %s%s", jobs_->size(),
                r.state_dir.c_str(), r.audit_log.c_str(),
                r.dr_root.empty() ? "incoming replication refused (no replication.dr-root)"
                                  : ("DR site: replicas into " + r.dr_root).c_str(),
                r.allowed_regions.empty() ? "" : ", peers' regions checked");
  return true;
}

int Daemon::run() {
  // Signals go to the main thread only (sigwait); every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // systemd (none of this does anything without $NOTIFY_SOCKET): the
  // watchdog's timeout, and the unit's stop timeout, which bounds the drain.
  heartbeat_.beat(dp::monotonic_now());
  if (uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = WatchdogGate(Duration::micros(static_cast<int64_t>(usec)));
    SRDX_LOG_INFO("systemd watchdog: WATCHDOG=1 every %s while the poll loop runs",
                  sim::format_duration(watchdog_.interval()).c_str());
  }
  if (const std::optional<Duration> stop = stop_timeout_from(std::getenv(kStopTimeoutEnv))) {
    const Duration limit = drain_limit(*stop);
    if (cfg_.drain_timeout > limit) {
      SRDX_LOG_WARN(
          "daemon.drain-timeout (%s) is longer than the unit's stop timeout allows "
          "(%s=%s s, TimeoutStopSec=): draining for at most %s, so that systemd does not kill "
          "srdxd mid-drain",
          sim::format_duration(cfg_.drain_timeout).c_str(), kStopTimeoutEnv,
          std::getenv(kStopTimeoutEnv), sim::format_duration(limit).c_str());
      cfg_.drain_timeout = limit;
    }
  }

  std::random_device rd;
  try {
    instance_ = dp::random_u64();
    start_time_ = dp::wall_seconds();
    cfg_.ep.seed = dp::random_u64();
    // Keys the engine's connection ids and cookies; never leaves this
    // process, never logged.
    std::array<uint8_t, 32> secret = dp::random_secret();
    apply_endpoint_limits(cfg_.limits, secret, cfg_.ep);
    std::fill(secret.begin(), secret.end(), uint8_t{0});
  } catch (const std::exception& e) {
    SRDX_LOG_ERROR("cannot start: no randomness for the endpoint's secret: %s", e.what());
    return 1;
  }
  try {
    if (cfg_.carrier == "fabric") {
      carrier::FabricConfig fc;
      fc.provider = cfg_.fabric_provider;
      if (fc.provider != "shm") {  // shm names its endpoints itself
        const std::string local = carrier::format_ip_port(cfg_.link.local);
        fc.node = local.substr(0, local.rfind(':'));
        fc.service = std::to_string(cfg_.link.local.port);
      }
      auto f = std::make_unique<carrier::FabricCarrier>(fc);
      fabric_ = f.get();
      carrier_ = std::move(f);
      SRDX_LOG_INFO("carrier: libfabric %s, endpoint name %s", fabric_->describe().c_str(),
                    fabric_->local_name().c_str());
    } else {
      auto e =
          std::make_unique<carrier::EngineCarrier>(dp::make_link(cfg_.link), cfg_.ep, cfg_.poll);
      engine_ = e.get();
      carrier_ = std::move(e);
    }
  } catch (const std::exception& e) {
    SRDX_LOG_ERROR("cannot start the dataplane: %s", e.what());
    return 1;
  }
  // The endpoint holds its own copy of the private key.
  OPENSSL_cleanse(cfg_.ep.static_key.data(), cfg_.ep.static_key.size());
  allowed_keys_ = cfg_.allowed_keys;
  if (engine_) {
    own_key_ = engine_->endpoint().public_key();
    public_key_ = key_to_base64(own_key_);
    for (const PublicKey& k : allowed_keys_) engine_->endpoint().allow_key(k);
  }
  if (cfg_.ep.encryption) {
    SRDX_LOG_INFO("encryption on: public key %s (%s), %zu allowed keys for strangers",
                  public_key_.c_str(), cfg_.private_key_file.c_str(), cfg_.allowed_keys.size());
  } else {
    SRDX_LOG_WARN(
        "ENCRYPTION IS OFF (endpoint.encryption = off): FOR MEASUREMENT ONLY. Peers are not "
        "authenticated and packets travel in the clear: anyone on the path can read, forge, "
        "replay and reset all traffic. Never carry real data like this.");
  }
  const uint64_t magic = (uint64_t{rd()} << 32) ^ rd() ^ instance_;
  pinger_ = std::make_unique<SrdxPinger>(*carrier_, magic);
  if (!start_replication()) return 1;
  apply_peers(cfg_.peers, dp::monotonic_now());
  refresh_snapshot(dp::monotonic_now());
  jobs_->resume();
  if (cfg_.telemetry.role != "off") {
    PeerId central = kNoPeer;
    if (cfg_.telemetry.role == "edge") {
      auto it = peer_ids_.find(cfg_.telemetry.central);
      if (it == peer_ids_.end()) {
        SRDX_LOG_ERROR("cannot start: telemetry.central: peer '%s' could not be added",
                       cfg_.telemetry.central.c_str());
        return 1;
      }
      central = it->second;
    }
    std::string err;
    telemetry_bridge_ = MqttBridgeService::create(cfg_.telemetry, *carrier_, central, err);
    if (!telemetry_bridge_) {
      SRDX_LOG_ERROR("cannot start: telemetry: %s", err.c_str());
      return 1;
    }
    for (const auto& [id, name] : peer_names_) telemetry_bridge_->name_peer(id, name);
  }
  probes_ = std::make_unique<ProbeManager>(
      hist_,
      [this](std::shared_ptr<SrdxBatch> b) {
        post([this, b](Time now) {
          auto it = peer_ids_.find(b->peer);
          if (it == peer_ids_.end()) {
            b->complete("peer " + b->peer + " is not configured (any more)");
            return;
          }
          pinger_->add(b, it->second, now);
        });
      },
      cfg_.link.local.ip);

  if (cfg_.tcp_echo) {
    TcpEchoServer::Options eo;
    eo.idle_timeout = cfg_.tcp_echo_idle_timeout;
    eo.max_per_source = cfg_.tcp_echo_max_per_source;
    eo.dpdk_link = cfg_.link.kind == "dpdk";
    if (std::string err = tcp_echo_.start(cfg_.tcp_echo_addr, eo); !err.empty()) {
      SRDX_LOG_ERROR("%s", err.c_str());
      return 1;
    }
  }
  api_ = std::make_unique<ApiServer>(*this);
  if (std::string err = api_->start(cfg_.control_listen); !err.empty()) {
    SRDX_LOG_ERROR("%s", err.c_str());
    tcp_echo_.stop();
    return 1;
  }
  if (engine_ && cfg_.link.kind == "dpdk") register_telemetry(this, api_.get());

  carrier_->on_event([this](const Event& ev, Time now) { on_event(ev, now); });
  carrier_->on_tick([this](Time now) { on_tick(now); });
  loop_started_ = dp::monotonic_now();
  heartbeat_.beat(loop_started_);
  poller_thread_ = std::thread([this] { poller_main(); });
  // Named, so that ps, top -H and gdb tell it from the API's threads.
  pthread_setname_np(poller_thread_.native_handle(), "srdx-poll");
  if (cfg_.probe_every > Duration::zero()) {
    periodic_thread_ = std::thread([this] { periodic_main(); });
  }

  SRDX_LOG_INFO(
      "running: %s %s %s, %zu peers (%s), control http://%s, tcp echo %s, srdx echo on "
      "flow 0x%04x",
      engine_ ? "link" : "fabric", engine_ ? cfg_.link.kind.c_str() : cfg_.fabric_provider.c_str(),
      engine_ ? format_addr(engine_->link().local()).c_str() : carrier_->local_name().c_str(),
      cfg_.peers.size(),
      cfg_.ep.accept_unknown_peers ? "others accepted: peers.accept-unknown" : "no others",
      control_listen_text(cfg_).c_str(),
      cfg_.tcp_echo ? format_addr(cfg_.tcp_echo_addr).c_str() : "off", kEchoFlow);

  int exit_code = 0;
  const char* cause = "the poll loop failed";
  for (;;) {
    watch_loop(dp::monotonic_now());
    // Wake often enough for the watchdog, and soon after start for READY=1.
    Duration wait = Duration::millis(ready_sent_ || waiting_said_ ? 200 : 5);
    if (watchdog_.enabled()) wait = std::min(wait, Duration::nanos(watchdog_.interval().ns() / 4));
    timespec ts{static_cast<time_t>(wait.ns() / 1000000000),
                static_cast<long>(wait.ns() % 1000000000)};
    const int sig = sigtimedwait(&sigs, nullptr, &ts);
    // This thread built the link: DPDK's timers (the ENA's watchdog) run here.
    if (engine_) dp::run_link_timers();
    if (poller_failed_.load()) {
      exit_code = 1;
      break;
    }
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1\nSTATUS=SIGHUP: re-reading the configuration");
      reload();
      // (READY=1 again at once: the peers apply on the poll loop's next turn.)
      sd_notify(0, "READY=1\nSTATUS=running (reloaded)");
    } else if (sig == SIGTERM || sig == SIGINT) {
      cause = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      SRDX_LOG_INFO("%s: draining (at most %s)", cause,
                    sim::format_duration(cfg_.drain_timeout).c_str());
      break;
    }
  }
  sd_notifyf(0, "STOPPING=1\nSTATUS=%s: draining (at most %s)", cause,
             sim::format_duration(cfg_.drain_timeout).c_str());
  const std::string summary = drain_and_stop(cause);
  SRDX_LOG_INFO("stopped: %s", summary.c_str());
  return exit_code;
}

void Daemon::watch_loop(Time now) {
  const Duration age = heartbeat_.age(now);
  if (age >= kLoopStalledAfter && !stall_logged_) {
    stall_logged_ = true;
    SRDX_LOG_ERROR(
        "poll loop stalled: no iteration for %s; /v1/status and /metrics serve counters that "
        "old (loop.heartbeat_age_s)%s",
        sim::format_duration(age).c_str(),
        watchdog_.enabled() ? "; WATCHDOG=1 withheld (systemd restarts srdxd at WatchdogSec=)"
                            : "");
  } else if (age < kLoopStalledAfter && stall_logged_) {
    stall_logged_ = false;
    SRDX_LOG_WARN("poll loop running again");
  }
  if (watchdog_.due(now, age)) sd_notify(0, "WATCHDOG=1");
  if (engine_ && cfg_.link.kind == "udp") {
    // The udp link's local address leaving the host, and coming back.
    const Snapshot s = snapshot();
    uint64_t up = 1, unreachable = 0;
    for (const auto& [name, v] : s.link_backend) {
      if (name == "link_up") up = v;
      if (name == "tx_unreachable") unreachable = v;
    }
    if (link_up_ == 1 && up == 0) {
      link_down_at_ = now;
      SRDX_LOG_ERROR(
          "link udp %s down: its local address is no longer the host's (%llu sends failed: "
          "network unreachable); the sockets stay bound, checked every 100 ms, and what was "
          "lost is retransmitted when it returns",
          format_addr(s.link_local).c_str(), static_cast<unsigned long long>(unreachable));
      sd_notifyf(0, "STATUS=link down: %s is gone", format_addr(s.link_local).c_str());
    } else if (link_up_ == 0 && up == 1) {
      SRDX_LOG_WARN("link udp %s up again after %s", format_addr(s.link_local).c_str(),
                    sim::format_duration(now - link_down_at_).c_str());
      sd_notify(0, "STATUS=running");
    }
    link_up_ = static_cast<int>(up);
  }
  // (Never after STOPPING=1: a SIGTERM during start-up.)
  if (ready_sent_ || draining_.load() || heartbeat_.last() <= loop_started_) return;
  // The loop has turned at least once over the link. A link that reports
  // its state (dpdk: link_up) must also be up.
  const Snapshot s = snapshot();
  for (const auto& [name, v] : s.link_backend) {
    if (name == "link_up" && v == 0) {
      if (!waiting_said_) {
        waiting_said_ = true;
        SRDX_LOG_INFO("waiting for the link to come up before telling systemd READY=1");
        sd_notify(0, "STATUS=waiting for the link to come up");
      }
      return;
    }
  }
  ready_sent_ = true;
  sd_notifyf(0, "READY=1\nSTATUS=running: %s %s, %zu peers", s.link_kind.c_str(),
             s.carrier_name.c_str(), s.peers.size());
}

std::string Daemon::drain_and_stop(const char* cause) {
  const Time started = dp::monotonic_now();
  draining_.store(true);
  // What was in flight when the signal came, to say at the end what became
  // of it.
  const Snapshot before = snapshot();
  const size_t probes_running = probes_->running();
  {
    std::lock_guard<std::mutex> lock(periodic_mu_);
    periodic_stop_ = true;
  }
  periodic_cv_.notify_all();
  if (periodic_thread_.joinable()) periodic_thread_.join();
  // A probe is a measurement, not a message: it ends now, and its reason
  // says why. Again at every turn below, for one the API admitted as the
  // signal came (it passed the draining check just before).
  const std::string why = std::string("srdxd is stopping (") + cause + ")";
  probes_->cancel_all(why);
  // Wait for in-flight messages (bounded by the drain timeout).
  const Time deadline = dp::monotonic_now() + cfg_.drain_timeout;
  Snapshot after = before;
  uint64_t left = before.buffered_messages;
  while (!poller_failed_.load()) {
    after = snapshot();
    left = after.buffered_messages;
    if (left == 0 && probes_->running() == 0) break;
    probes_->cancel_all(why);
    watch_loop(dp::monotonic_now());
    if (dp::monotonic_now() >= deadline) {
      SRDX_LOG_WARN("drain timeout: %llu messages still in flight",
                    static_cast<unsigned long long>(left));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (left == 0) SRDX_LOG_INFO("drained: no message in flight");
  char summary[256];
  std::snprintf(
      summary, sizeof summary,
      "drained for %lld ms: %llu messages in flight at the signal; during the drain "
      "%llu completed, %llu failed; %llu left; %zu probes cancelled",
      static_cast<long long>((dp::monotonic_now() - started).ns() / 1000000),
      static_cast<unsigned long long>(before.buffered_messages),
      static_cast<unsigned long long>(after.ep.messages_completed - before.ep.messages_completed),
      static_cast<unsigned long long>(after.ep.messages_failed - before.ep.messages_failed),
      static_cast<unsigned long long>(left), probes_running);
  if (engine_ && cfg_.link.kind == "dpdk") unregister_telemetry();
  stop_poller_.store(true);
  if (poller_thread_.joinable()) poller_thread_.join();
  // The carrier thread is gone: the jobs' Sources stop here, and their state
  // is saved (running jobs resume at the next start).
  jobs_->shutdown();
  if (telemetry_bridge_) telemetry_bridge_->stop();
  probes_->stop();
  api_->stop();
  tcp_echo_.stop();
  return summary;
}

}  // namespace srdx::ctl
