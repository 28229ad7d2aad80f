// The centre's sequence log (issue 15): which numbers it has published and
// its broker has acknowledged, kept on disk so that a restarted centre still
// drops what the edges send again. Without it, delivery was at least once
// across a restart of the centre; with it, a duplicate can only come from a
// crash between the broker's PUBACK and the log's write (a window of one
// carrier iteration), and is published at most once more.
//
// What goes in, in order (Central::tick): the numbers of every batch about to
// be acknowledged to its edge, before the acknowledgement is sent; and the
// gaps reported, so that a restart does not report them again. A number goes
// in only once its broker has acknowledged it, so a number in the log is a
// message the central broker holds. A number accepted but not yet
// acknowledged is not in the log: after a crash the edge sends it again and
// it is published.
//
// File: DIR/seq.log, frames `len u32, crc32c u32, body`:
//   body = 1 seen:  epoch u64, seq u64, source, topic
//          2 gap:   epoch u64, first u64, count u64, source, topic
//          3 state: epoch u64, high u64, n u32, n x missing u64, source, topic
// strings as u32 length + bytes. A torn or corrupt tail is cut off on open.
// Past compact_bytes the log is rewritten as one state frame per (edge,
// topic, epoch) of what it holds (its own tracker, which never sees a number
// the log does not hold), to a temporary file and renamed over.
//
// Durability: a write(2) before the acknowledgement survives kill -9 of
// srdxd; fdatasync every sync_interval (or before every acknowledgement with
// fsync_always) bounds what a power loss can take, as the edge's spool does.
//
// Carrier thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/result.h"
#include "telemetry/sequence.h"

namespace srdx::telemetry {

struct SeqLogOptions {
  std::string dir;
  uint64_t compact_bytes = 16ull << 20;
  bool fsync_always = false;
  SeqOptions seq;  // the bounds of the log's own tracker
};

struct SeqLogStats {
  uint64_t recovered_frames = 0, torn_bytes = 0;
  uint64_t frames = 0, bytes = 0, syncs = 0, compactions = 0;
  uint64_t topics = 0;
};

class SeqLog {
 public:
  // Opens DIR/seq.log (creating DIR) and replays it into `into`, whose
  // counters are then reset: a restarted centre drops what it had published.
  static Result<std::unique_ptr<SeqLog>> open(SeqLogOptions opt, SeqTracker& into, uint64_t now_ns);
  ~SeqLog();

  // Buffered until flush().
  void seen(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t seq);
  void gap(const Gap& g);
  // Writes what is buffered; fdatasync when `sync` (or fsync_always). Then
  // compacts if the file has grown past compact_bytes.
  Status flush(bool sync);
  // For an fdatasync on another thread (the periodic one of fsync =
  // interval, off the carrier thread): a duplicate of the log's descriptor
  // if anything was written since the last sync, else -1; the caller
  // fdatasyncs and closes it. Counted as a sync.
  int take_sync_fd();
  bool pending() const { return !buf_.empty(); }

  SeqLogStats stats() const;
  const std::string& path() const { return path_; }

 private:
  explicit SeqLog(SeqLogOptions opt);
  Status replay(SeqTracker& into, uint64_t now_ns);
  Status compact();
  void frame(const std::vector<uint8_t>& body);

  SeqLogOptions opt_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool dirty_ = false;  // written since the last fdatasync
  SeqTracker mine_;     // what the file holds
  std::vector<uint8_t> buf_, body_;
  SeqLogStats st_;
};

}  // namespace srdx::telemetry
