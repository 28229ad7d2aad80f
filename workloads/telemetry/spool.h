// The edge's store-and-forward spool (issue 15): a bounded write-ahead log of
// records on their way to the central appliance, in append-only segment
// files spool-dir/seg-<first record id>.log.
//
// Every QoS 1 record is appended (one write(2)) before the MQTT
// acknowledgement goes back to the broker, and stays until the central side
// acknowledges it (ack); QoS 0 records are appended only when they cannot be
// sent now (peer unreachable, window full). A segment whose records are all
// acknowledged is deleted. After a crash, open() reads every segment back
// (a torn last record is cut off) and all its records are the backlog, to
// be sent again in order; the central side drops the duplicates (sequence.h).
//
// Frames: len u32, crc32c u32 of the body, body = epoch u64 + record as in a
// batch (wire.h). Little-endian.
//
// Durability (fsync policy): `always` fsyncs the segment before append()
// returns (survives power loss, ~1 fsync per QoS 1 message); `interval`
// (default) relies on write(2) reaching the page cache before the broker is
// acknowledged, which survives kill -9 of srdxd, and the caller fsyncs every
// sync interval (sync()), which bounds what a power loss can take.
//
// Full policy: append() past max_bytes fails with Errc::full and writes
// nothing. The bridge drops a QoS 0 record then (counted), and for a QoS 1
// record stops taking messages from the broker until there is room, so the
// broker holds them (docs/telemetry.md).
//
// Epochs: open() reads spool-dir/epoch, adds one, and writes it back
// (fsync) before anything is appended, so every start of an edge has its
// own sequence-number space.
//
// Not thread-safe: the bridge holds one lock around it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "telemetry/protocol.h"
#include "telemetry/result.h"

namespace srdx::telemetry {

enum class FsyncPolicy : uint8_t { interval, always };

struct SpoolOptions {
  std::string dir;
  uint64_t max_bytes = 256ull << 20;
  uint64_t segment_bytes = 8ull << 20;
  FsyncPolicy fsync = FsyncPolicy::interval;
};

struct Spooled {
  uint64_t rid = 0;  // the spool's record id, ascending in append order
  uint64_t epoch = 0;
  Record rec;
};

struct SpoolStats {
  uint64_t bytes = 0;     // of the segment files
  uint64_t pending = 0;   // records not yet acknowledged
  uint64_t backlog = 0;   // of those, records waiting to be sent
  uint64_t segments = 0;  // files
  uint64_t appended = 0, acked = 0;
  uint64_t recovered = 0;      // records read back by open()
  uint64_t torn_bytes = 0;     // cut off the end of a segment by open()
  uint64_t full_refusals = 0;  // append() answered full
};

class Spool {
 public:
  static Result<std::unique_ptr<Spool>> open(SpoolOptions opt);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // This start's epoch (1 on a new spool directory).
  uint64_t epoch() const { return epoch_; }

  // Appends one record. backlog=false: the caller is sending it now (it is
  // in flight until ack or nack); true: it waits in the backlog.
  Result<uint64_t> append(uint64_t epoch, const Record& r, bool backlog);
  // The oldest backlog records (at most max_records, and max_bytes of
  // encoded records but at least one), read back from the files; they are
  // in flight from now on.
  Result<std::vector<Spooled>> take_backlog(size_t max_records, size_t max_bytes);
  // The central side has it: forgotten; a segment left with nothing pending
  // (not the one being written) is deleted.
  void ack(uint64_t rid);
  // Its send failed: back to the backlog, in rid order.
  void nack(uint64_t rid);
  // fsyncs the segment being written (FsyncPolicy::interval calls it).
  Status sync();
  // For a sync outside the caller's lock: a duplicate of the descriptor of
  // the segment being written (the caller fdatasyncs and closes it), or -1
  // when nothing was appended since the last sync.
  int take_sync_fd();

  SpoolStats stats() const;

 private:
  struct Segment {
    uint64_t first_rid = 0, next_rid = 0;
    uint64_t size = 0;
    uint64_t pending = 0;
    int fd = -1;
    std::string path;
  };
  struct Loc {
    uint64_t seg = 0;  // first_rid of its segment
    uint64_t offset = 0;
    uint32_t len = 0;  // of the body
  };

  explicit Spool(SpoolOptions opt) : opt_(std::move(opt)) {}
  Status recover();
  Status new_segment(uint64_t first_rid);
  void maybe_delete(uint64_t seg);

  SpoolOptions opt_;
  uint64_t epoch_ = 0;
  uint64_t next_rid_ = 1;
  uint64_t bytes_ = 0;
  std::map<uint64_t, Segment> segments_;  // by first rid; the last is written
  std::map<uint64_t, Loc> pending_;       // rid -> where
  std::set<uint64_t> backlog_;
  SpoolStats counters_;
  bool dirty_ = false;
};

}  // namespace srdx::telemetry
