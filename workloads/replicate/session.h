// Replication over a carrier (issue 14): a Source ships a directory tree to a
// Sink at the DR site, which writes it into a Store (store.h). Both run beside
// any other user of the carrier: the carrier's thread hands them the events of
// flow kReplicationFlow (on_event) and calls tick() once per iteration; their
// file work (scanning, hashing, reading, writing, fsync) runs on a worker
// thread of their own, so the poll loop never waits on a disk.
//
// The protocol (docs/replication.md, "Protocol"): messages of flow
// kReplicationFlow, each one whole carrier message, little-endian:
//   offer     S->D  job, file seq, job name, mode, manifest (version 0: the
//                   DR picks live+1, so a resume finds its staging again)
//   state     D->S  file seq, outcome (need / up_to_date / refused), version,
//                   missing chunks as ranges, error line
//   chunk     S->D  job, file seq, index, bytes
//   chunk_ack D->S  file seq, index, outcome: written (durable mode: and
//                   synced) or why not
//   commit    S->D  job, file seq
//   committed D->S  file seq, outcome, version
//   barrier   S->D  job, token: answered once everything offered before it
//                   is committed
//   barrier_ok D->S token
// Every message is answered or the carrier fails it (send_failed): a failed
// message makes the Source offer the file again later (the DR resumes the
// staging), so nothing acknowledged is lost and nothing is acknowledged
// before the DR says so.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "replicate/audit.h"
#include "replicate/store.h"
#include "srdx/carrier.h"

namespace srdx::replicate {

// The flow replication messages travel on (echo uses 0xFFFF).
inline constexpr uint16_t kReplicationFlow = 0x5250;

enum class Mode : uint8_t {
  durable,   // a chunk is acknowledged once written and fdatasynced at DR
  received,  // once written at DR (no sync per chunk; commit still syncs)
  async,     // the source does not wait for chunk acks before more (window only)
};
std::string_view to_string(Mode m);
bool parse_mode(std::string_view text, Mode& out);

struct SourceOptions {
  uint64_t job_id = 0;   // unique per job at this source (the DR keys jobs by peer + id)
  std::string job_name;  // [A-Za-z0-9._-]{1,64}: the DR stores under dr_root/<job_name>
  std::string source_dir;
  Mode mode = Mode::durable;
  // Glob patterns (fnmatch, on the relative path); empty: everything.
  std::vector<std::string> include;
  uint32_t chunk_size = kDefaultChunkSize;
  // Chunks sent and not yet acknowledged: at most this many, and at most this
  // many bytes (the DR holds at most a window per source in memory).
  uint32_t window = 256;
  uint64_t window_bytes = 16u << 20;
  // false: one pass over the tree, then the job is done. true: keep watching
  // (inotify, and a full rescan every rescan_every as a safety net).
  bool continuous = false;
  Duration rescan_every = Duration::seconds(10);
  // A file that inotify says is being written (created, modified) ships once
  // it has been quiet this long, or at once when it is closed after writing;
  // never later than settle_max after the first such event. Without it, a
  // new file was often shipped empty or half written on its creation, and
  // its real content waited for that transfer to commit.
  Duration settle = Duration::millis(5);
  Duration settle_max = Duration::millis(100);
  // A message unanswered this long counts as lost: the file is offered again.
  Duration message_timeout = Duration::seconds(10);
  // The peer's identity for the audit log.
  std::string peer_name;
};

enum class JobState : uint8_t { starting, syncing, watching, done, failed, stopped };
std::string_view to_string(JobState s);

struct Progress {
  JobState state = JobState::starting;
  std::string error;  // why failed
  uint64_t files_total = 0, files_done = 0, files_failed = 0, files_pending = 0;
  // Totals: what the scans saw, or done + still to ship when more (a
  // continuous job's later versions); done: committed at DR (or found up to
  // date), each version counted whole.
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_sent = 0;  // chunk bytes put on the wire
  uint64_t chunks_sent = 0, chunks_resent = 0;
  uint64_t chunks_skipped = 0;  // the DR had them already (resume, append-only prefix)
  uint64_t verify_failures = 0;
  // RPO: the oldest change seen at the source and not yet committed at DR.
  double lag_seconds = 0;
  uint64_t lag_bytes = 0;
  double rate_bytes_per_s = 0;  // over the last seconds
  double elapsed_s = 0;
  // What the oldest barrier waits for, when one does: "rescanning", "the
  // DR's answer", or the files it waits on with their state (at most 3).
  std::string barrier_waiting;
};

class Source {
 public:
  Source(SourceOptions opt, carrier::Carrier& carrier, PeerId peer, AuditLog* audit);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Carrier thread.
  void start(Time now);
  // Events of kReplicationFlow (and send results with this source's cookies);
  // true when it was this source's.
  bool on_event(const Event& ev, Time now);
  void tick(Time now);

  // Any thread.
  Progress progress() const;
  // Asks for a barrier: done(ok, seconds) runs on the carrier thread once
  // everything changed before the call is committed at DR.
  void barrier(std::function<void(bool ok, double seconds)> done);
  // Stops the worker; in-flight chunks are forgotten (a restart resumes).
  void stop();
  bool finished() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SinkOptions {
  std::string dr_root;  // each job stores under dr_root/<job name>
  uint32_t keep_versions = 5;
};

struct SinkStats {
  uint64_t offers = 0, chunks_written = 0, bytes_written = 0, commits = 0;
  uint64_t verify_failures = 0, refused = 0, malformed = 0;
  // Where the worker's time goes: groups ended, and seconds spent handling
  // messages (offers, chunk writes, seals), in the group's two flushes
  // (the syncs), publishing (renames, manifests, cleanup) and writing the
  // group's audit records. The rest of the time it waited for messages.
  uint64_t groups = 0;
  double receive_s = 0, sync_s = 0, publish_s = 0, audit_s = 0;
};

class Sink {
 public:
  Sink(SinkOptions opt, carrier::Carrier& carrier, AuditLog* audit);
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Carrier thread: messages of kReplicationFlow; true when it was one.
  bool on_event(const Event& ev, Time now);
  void tick(Time now);
  // Carrier thread: names a peer for the audit log.
  void name_peer(PeerId peer, std::string name);

  SinkStats stats() const;  // any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace srdx::replicate
