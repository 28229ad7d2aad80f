// Per-topic sequence tracking at the central side (issue 15): every record
// carries (epoch, seq) from its edge (wire.h), seq counting from 1 per topic
// in each epoch. A record already seen is a duplicate (dropped: a batch sent
// again after a lost ack, a spool replayed after a crash). A record whose seq
// jumps ahead leaves the skipped numbers missing; they may still come (the
// spool drains older records after live ones, the carrier delivers out of
// order), so a missing number becomes a gap only after gap_timeout, or when
// a topic has more than max_missing numbers outstanding. Gaps are counted
// and handed to the caller to log, as ranges. A number reported as a gap
// that arrives after all (an edge's spool drained later than gap_timeout)
// is still delivered, never taken for a duplicate: the edge only drops a
// record once the centre has acknowledged it, so a record dropped here
// would be lost (at most max_missing such numbers are remembered per
// epoch, the newest).
//
// Bounded: at most max_topics (edge, topic) pairs and max_epochs epochs each;
// records past those bounds are delivered and counted as untracked.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace srdx::telemetry {

struct SeqOptions {
  uint64_t gap_timeout_ns = 10'000'000'000ull;
  size_t max_missing = 4096;  // per (edge, topic, epoch)
  size_t max_topics = 100000;
  size_t max_epochs =
      4;  // per (edge, topic): an edge restarting keeps its old epoch's records coming
};

struct Gap {
  std::string source, topic;
  uint64_t epoch = 0, first = 0, count = 0;
};

struct SeqStats {
  uint64_t accepted = 0, duplicates = 0, late = 0, untracked = 0;
  uint64_t after_gap = 0;  // of the late: numbers that had been reported as a gap
  uint64_t gap_messages = 0, gap_events = 0;
  uint64_t missing_now = 0;
};

class SeqTracker {
 public:
  enum class Verdict { fresh, duplicate, untracked };

  explicit SeqTracker(SeqOptions opt = {}) : opt_(opt) {}

  // `source` names the edge (its peer name); seq >= 1.
  Verdict accept(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t seq,
                 uint64_t now_ns, std::vector<Gap>& gaps);
  // Declares missing numbers older than gap_timeout gaps.
  void expire(uint64_t now_ns, std::vector<Gap>& gaps);

  const SeqStats& stats() const { return stats_; }

  // --- for the centre's sequence log (seqlog.h) ---
  // A fresh record that could not be published: missing again, so that the
  // edge's resend is taken as fresh, not as a duplicate.
  void forget(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t seq,
              uint64_t now_ns);
  // Numbers reported as a gap before a restart: no longer missing, and not
  // reported again.
  void settle(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t first,
              uint64_t count);
  // One (edge, topic, epoch) as a snapshot holds it: the highest number and
  // the numbers below it still missing (noticed at now_ns).
  void restore(std::string_view source, std::string_view topic, uint64_t epoch, uint64_t high,
               const std::vector<uint64_t>& missing, uint64_t now_ns);
  // f(source, topic, epoch, high, const std::map<uint64_t, uint64_t>& missing,
  //   const std::set<uint64_t>& given_up): given_up, the numbers reported as
  //   gaps that are delivered if they come after all.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [key, ts] : topics_) {
      const size_t nul = key.find('\0');
      const std::string_view k(key);
      for (const auto& [epoch, st] : ts.epochs) {
        f(k.substr(0, nul), k.substr(nul + 1), epoch, st.high, st.missing, st.given_up);
      }
    }
  }
  size_t topics() const { return topics_.size(); }
  // Counters back to zero (after a replay), missing_now kept.
  void reset_stats() { stats_ = SeqStats{.missing_now = stats_.missing_now}; }

 private:
  struct EpochState {
    uint64_t high = 0;
    std::map<uint64_t, uint64_t> missing;  // seq -> when noticed
    std::set<uint64_t> given_up;           // reported as gaps, may still come
  };
  // Remembers seqs as reported gaps that may still arrive (the newest
  // max_missing of them).
  void give_up(EpochState& st, const std::vector<uint64_t>& seqs) const;
  struct TopicState {
    std::map<uint64_t, EpochState> epochs;
  };
  static std::string make_key(std::string_view source, std::string_view topic);
  // The epoch's state, created if there is room (nullptr if not).
  EpochState* find(std::string_view source, std::string_view topic, uint64_t epoch, bool create);
  // Moves `seqs` (ascending) into gaps as ranges.
  void report(const std::string& key, uint64_t epoch, const std::vector<uint64_t>& seqs,
              std::vector<Gap>& gaps);

  SeqOptions opt_;
  std::unordered_map<std::string, TopicState> topics_;  // source '\0' topic
  SeqStats stats_;
};

}  // namespace srdx::telemetry
