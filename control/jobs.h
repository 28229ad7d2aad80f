// Replication jobs of srdxd (issue 14): the control API's /v1/replications.
// Each job is a replicate::Source (workloads/replicate/session.h) shipping a
// directory tree to a configured peer's Sink; the JobManager validates new
// jobs, runs their Sources on the carrier thread, persists every job's
// definition and last state in state-dir/jobs.json (temp file, fsync,
// rename, directory fsync) and starts the jobs that were running again
// when srdxd starts (the DR resumes each file from its durable chunks).
//
// Threads: the API threads call create/list/get/stop/barrier/metrics; the
// carrier thread calls on_event and tick and runs every Source call that
// must be made there (start, barrier, stop) through Daemon::post; a saver
// thread notices state changes (done, failed) once a second, audits them
// and writes jobs.json. Sources are never destroyed before shutdown(), so a
// pointer taken under the lock stays valid.
//
// Answers: 201 created; 400 a bad request (source missing, unreadable or
// not a directory, unknown peer, bad mode or name, a running job of that
// name); 403 the peer's region is not in replication.allowed-regions (logged
// and audited as `refused`); 404 unknown job; 409 barrier on a job that is
// not running; 503 draining; 504 a barrier not answered in time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "metrics.h"
#include "replicate/audit.h"
#include "replicate/session.h"
#include "request.h"
#include "srdx/carrier.h"

namespace srdx::ctl {

class JobManager {
 public:
  struct Hooks {
    // Runs a command on the carrier thread (Daemon::post).
    std::function<void(std::function<void(Time)>)> post;
    // Carrier thread: the carrier's id of a configured peer, or kNoPeer.
    std::function<PeerId(const std::string&)> peer_id;
    // Any thread: a configured peer by name.
    std::function<std::optional<PeerConfig>(const std::string&)> find_peer;
  };

  // What an API call answers: an HTTP status and a JSON document (a job, a
  // list, or {"error": ...}).
  struct Answer {
    int status = 200;
    nlohmann::json doc;
  };

  JobManager(ReplicationConfig cfg, carrier::Carrier& carrier, replicate::AuditLog* audit,
             Hooks hooks);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Creates the state directory (mode 0700 for what it makes). Empty on
  // success, else one line.
  static std::string make_state_dir(const std::string& dir);
  // Main thread, at start: reads state-dir/jobs.json (missing: no jobs).
  // Empty on success, else one line.
  std::string load();
  // Main thread, at start: starts again every job that was running, and the
  // saver thread.
  void resume();
  // Main thread, once the carrier thread has stopped: stops every Source
  // and writes jobs.json (running jobs stay "running": the next start
  // resumes them).
  void shutdown();

  // ---- API threads ----
  Answer create(const ReplicationRequest& r);
  nlohmann::json list() const;
  Answer get(const std::string& id_or_name) const;
  Answer stop(const std::string& id_or_name);
  // Waits (at most `timeout`) for Source::barrier's answer.
  Answer barrier(const std::string& id_or_name, std::chrono::milliseconds timeout);
  std::vector<ReplicationJobMetrics> metrics() const;
  uint64_t refused() const;
  size_t size() const;

  // ---- carrier thread ----
  bool on_event(const Event& ev, Time now);
  void tick(Time now);

  // "b key=BASE64" (or just the name): how the audit log names a peer.
  static std::string peer_identity(const PeerConfig& p);

 private:
  struct Job {
    uint64_t id = 0;
    std::string name, source, peer, mode;
    std::vector<std::string> include;
    bool continuous = true;
    uint32_t chunk_size = 0;
    double created = 0;                      // wall clock
    bool stopped = false;                    // DELETE: stays stopped, also across restarts
    std::string state;                       // last state seen (persisted)
    std::string error;                       // why failed (persisted)
    replicate::Progress last;                // last progress seen (persisted)
    std::shared_ptr<replicate::Source> src;  // null: not running in this process
  };

  std::shared_ptr<Job> find_locked(const std::string& id_or_name) const;
  // The job's current state and progress (from its Source when it runs).
  nlohmann::json job_json_locked(const Job& j) const;
  replicate::Progress progress_locked(const Job& j) const;
  std::string state_locked(const Job& j) const;
  void start_job(const std::shared_ptr<Job>& j, bool resumed);
  // Writes jobs.json; logs (and returns) an error line.
  std::string save();
  void saver_main();
  void audit(const std::string& event, const std::string& job, const std::string& peer,
             const std::string& detail);

  const ReplicationConfig cfg_;
  carrier::Carrier& carrier_;
  replicate::AuditLog* audit_;
  Hooks hooks_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Job>> jobs_;  // creation order
  uint64_t next_id_ = 1;
  uint64_t refused_ = 0;
  // Sources of jobs replaced by a new job of the same name: kept alive
  // (stopped) until shutdown, as the carrier thread may still hold them.
  std::vector<std::shared_ptr<replicate::Source>> retired_;

  std::mutex save_mu_;  // one jobs.json writer at a time

  // Carrier thread only.
  std::vector<std::shared_ptr<replicate::Source>> live_;

  std::thread saver_;
  std::mutex saver_mu_;
  std::condition_variable saver_cv_;
  bool saver_stop_ = false;
};

}  // namespace srdx::ctl
