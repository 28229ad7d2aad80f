// The daemon: the dataplane (a carrier on one thread: the srdx engine, a
// link, an endpoint and a poller; or a libfabric endpoint), the echo
// responders, the probes, the control API and the signals.
//
// Threads: the poller thread owns the carrier. Other threads
// read a Snapshot it refreshes every 10 ms, and hand it work through a
// command queue it drains every iteration (probe pings, peer reloads). The
// main thread waits for signals: SIGTERM/SIGINT drain and exit, SIGHUP
// reloads the peers.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "echo.h"
#include "engine_carrier.h"
#include "fabric_carrier.h"
#include "jobs.h"
#include "link.h"
#include "liveness.h"
#include "loop/poller.h"
#include "metrics.h"
#include "mqtt_bridge.h"
#include "probe.h"
#include "snapshot.h"
#include "srdx/carrier.h"

namespace srdx::ctl {

class ApiServer;

class Daemon {
 public:
  // args: the command line (without the program name), kept for SIGHUP.
  Daemon(DaemonConfig cfg, std::vector<std::string> args);
  ~Daemon();

  // Starts everything, waits for SIGTERM/SIGINT, drains, stops. Returns the
  // exit status (0 clean, 1 could not start).
  int run();

  // ---- for the API threads ----
  Snapshot snapshot() const;
  std::optional<PeerConfig> find_peer(const std::string& name) const;
  bool draining() const { return draining_.load(); }
  double uptime_s() const;
  // How long ago the poll loop last ran an iteration: grows while it hangs
  // (the snapshot's counters are then that old). /v1/status, /metrics.
  Duration heartbeat_age() const;
  const DaemonConfig& config() const { return cfg_; }
  const TcpEchoServer& tcp_echo() const { return tcp_echo_; }
  // The API's tokens (config().token and read_token at start; a SIGHUP
  // re-reads their files): any thread.
  struct Tokens {
    std::string write, read;
  };
  Tokens tokens() const {
    std::lock_guard<std::mutex> l(tokens_mu_);
    return tokens_;
  }
  ProbeManager& probes() { return *probes_; }
  ProbeHistograms& histograms() { return hist_; }
  // Runs `cmd` on the poller thread (with its `now`).
  void post(std::function<void(Time)> cmd);
  // Replication jobs (/v1/replications), and the DR side's counters.
  JobManager& jobs() { return *jobs_; }
  ReplicationSinkMetrics sink_metrics() const;
  // The MQTT telemetry bridge ([telemetry]); null when telemetry.role = off.
  MqttBridgeService* telemetry_bridge() { return telemetry_bridge_.get(); }

 private:
  void poller_main();
  void on_event(const Event& ev, Time now);
  void on_tick(Time now);
  void refresh_snapshot(Time now);
  // How a log line names a peer the carrier knows: its address (engine),
  // or its configured name / carrier id (fabric).
  std::string peer_label(PeerId id) const;
  // Makes the endpoint's peers those of `peers`: a peer whose name and
  // address are unchanged keeps its connection untouched; a removed one (or
  // one whose address changed) is removed from the endpoint, its messages
  // failing (send_failed: peer_removed) and its probes ending failed; a new
  // one is added. The TCP echo answers the new peers' IPs.
  void apply_peers(const std::vector<PeerConfig>& peers, Time now);
  void reload();
  // Opens the audit log, loads the jobs, makes the DR sink; false (logged)
  // when srdxd cannot start.
  bool start_replication();
  void periodic_main();
  // Returns the summary for the last log line: messages in flight at the
  // signal, completed and failed during the drain, left at its end.
  std::string drain_and_stop(const char* cause);
  // The main thread's liveness duties, every turn of its loop (and of the
  // drain's): WATCHDOG=1 while the poll loop beats, READY=1 once it runs
  // with the link up, a log line when the loop stalls and when it resumes.
  void watch_loop(Time now);

  DaemonConfig cfg_;
  std::vector<std::string> args_;
  const Time started_;

  std::unique_ptr<carrier::Carrier> carrier_;
  // carrier_ as what it is (one of them is null): the engine's endpoint,
  // link and poller have counters and settings the fabric has not.
  carrier::EngineCarrier* engine_ = nullptr;
  carrier::FabricCarrier* fabric_ = nullptr;
  std::unique_ptr<SrdxPinger> pinger_;
  std::atomic<bool> stop_poller_{false};
  std::thread poller_thread_;
  std::atomic<bool> poller_failed_{false};

  // Poller-thread state.
  std::vector<PeerConfig> peers_;
  std::map<std::string, PeerId> peer_ids_;
  std::map<PeerId, std::string> peer_names_;  // the same, the other way
  // Counters of peers removed by a reload, by name (poller thread): the
  // metrics continue from them if the name comes back.
  std::map<std::string, PeerTotals> earlier_;
  Time last_refresh_;
  uint64_t echo_served_ = 0, echo_failed_ = 0, other_flow_ = 0;
  uint64_t echo_refused_ = 0;  // echo requests from peers not configured
  uint64_t instance_ = 0;      // random per start (status: "instance")
  // Set at start, then read only: the endpoint's static public key (raw
  // and base64). The main thread compares a reload's key with it.
  PublicKey own_key_{};
  std::string public_key_;
  // peers.allow-key as applied (main thread: reloads add to it).
  std::vector<PublicKey> allowed_keys_;
  double start_time_ = 0;  // wall clock at start

  // Shared.
  mutable std::mutex snap_mu_;
  Snapshot snap_;
  std::mutex cmd_mu_;
  std::deque<std::function<void(Time)>> cmds_;
  std::atomic<bool> have_cmds_{false};
  std::atomic<bool> draining_{false};
  // Beaten by the poll loop every iteration (on_tick).
  Heartbeat heartbeat_;

  // Main thread: systemd's notification socket ($NOTIFY_SOCKET) and
  // watchdog ($WATCHDOG_USEC), and what watch_loop() has said.
  WatchdogGate watchdog_{Duration::zero()};
  bool ready_sent_ = false;
  bool waiting_said_ = false;             // "waiting for the link" logged
  Time loop_started_ = Time::infinite();  // when the poll loop's thread started
  bool stall_logged_ = false;
  int link_up_ = -1;  // the udp link's state as last logged (-1: not yet seen)
  Time link_down_at_ = Time::zero();

  ProbeHistograms hist_;
  std::unique_ptr<ProbeManager> probes_;
  TcpEchoServer tcp_echo_;
  std::unique_ptr<ApiServer> api_;

  std::thread periodic_thread_;
  std::mutex periodic_mu_;
  std::condition_variable periodic_cv_;
  bool periodic_stop_ = false;

  // Replication (declared after carrier_: destroyed before it). The audit
  // log outlives the jobs and the sink that write to it.
  std::unique_ptr<replicate::AuditLog> audit_;
  std::unique_ptr<replicate::Sink> sink_;  // null without replication.dr-root
  std::unique_ptr<JobManager> jobs_;
  // The MQTT telemetry bridge (declared after carrier_: destroyed before it).
  std::unique_ptr<MqttBridgeService> telemetry_bridge_;
  mutable std::mutex tokens_mu_;
  Tokens tokens_;
  void reload_tokens(const DaemonConfig& fresh);
};

}  // namespace srdx::ctl
