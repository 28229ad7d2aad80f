#include "telemetry/sequence.h"

#include <algorithm>
#include <iterator>

namespace srdx::telemetry {

void SeqTracker::report(const std::string& key, uint64_t epoch, const std::vector<uint64_t>& seqs,
                        std::vector<Gap>& gaps) {
  const size_t nul = key.find('\0');
  for (size_t i = 0; i < seqs.size();) {
    size_t j = i + 1;
    while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1) ++j;
    gaps.push_back({key.substr(0, nul), key.substr(nul + 1), epoch, seqs[i], j - i});
    stats_.gap_messages += j - i;
    ++stats_.gap_events;
    i = j;
  }
  stats_.missing_now -= std::min<uint64_t>(stats_.missing_now, seqs.size());
}

std::string SeqTracker::make_key(std::string_view source, std::string_view topic) {
  std::string key;
  key.reserve(source.size() + 1 + topic.size());
  key.append(source).push_back('\0');
  key.append(topic);
  return key;
}

SeqTracker::EpochState* SeqTracker::find(std::string_view source, std::string_view topic,
                                         uint64_t epoch, bool create) {
  const std::string key = make_key(source, topic);
  auto it = topics_.find(key);
  if (it == topics_.end()) {
    if (!create || topics_.size() >= opt_.max_topics) return nullptr;
    it = topics_.emplace(key, TopicState{}).first;
  }
  auto& epochs = it->second.epochs;
  auto e = epochs.find(epoch);
  if (e == epochs.end()) {
    if (!create || epochs.size() >= opt_.max_epochs) return nullptr;
    e = epochs.emplace(epoch, EpochState{}).first;
  }
  return &e->second;
}

void SeqTracker::forget(std::string_view source, std::string_view topic, uint64_t epoch,
                        uint64_t seq, uint64_t now_ns) {
  EpochState* st = find(source, topic, epoch, false);
  if (!st || seq > st->high || seq == 0) return;
  if (st->missing.emplace(seq, now_ns).second) {
    ++stats_.missing_now;
    if (stats_.accepted) --stats_.accepted;
  }
}

void SeqTracker::settle(std::string_view source, std::string_view topic, uint64_t epoch,
                        uint64_t first, uint64_t count) {
  EpochState* st = find(source, topic, epoch, false);
  if (!st || count == 0) return;
  auto from = st->missing.lower_bound(first);
  auto to = first + count < first ? st->missing.end() : st->missing.lower_bound(first + count);
  std::vector<uint64_t> seqs;
  for (auto m = from; m != to; ++m) seqs.push_back(m->first);
  st->missing.erase(from, to);
  stats_.missing_now -= std::min<uint64_t>(stats_.missing_now, seqs.size());
  give_up(*st, seqs);
}

void SeqTracker::give_up(EpochState& st, const std::vector<uint64_t>& seqs) const {
  for (uint64_t s : seqs) st.given_up.insert(s);
  while (st.given_up.size() > opt_.max_missing) st.given_up.erase(st.given_up.begin());
}

void SeqTracker::restore(std::string_view source, std::string_view topic, uint64_t epoch,
                         uint64_t high, const std::vector<uint64_t>& missing, uint64_t now_ns) {
  EpochState* st = find(source, topic, epoch, true);
  if (!st) return;
  stats_.missing_now -= std::min<uint64_t>(stats_.missing_now, st->missing.size());
  st->high = high;
  st->missing.clear();
  // Up to twice max_missing: a compacted log's state frame lists the numbers
  // given up too (each followed by its gap frames, which settle them).
  for (uint64_t s : missing) {
    if (s == 0 || s > high || st->missing.size() >= 2 * opt_.max_missing) continue;
    st->missing.emplace(s, now_ns);
  }
  stats_.missing_now += st->missing.size();
}

SeqTracker::Verdict SeqTracker::accept(std::string_view source, std::string_view topic,
                                       uint64_t epoch, uint64_t seq, uint64_t now_ns,
                                       std::vector<Gap>& gaps) {
  const std::string key = make_key(source, topic);
  auto it = topics_.find(key);
  if (it == topics_.end()) {
    if (topics_.size() >= opt_.max_topics) {
      ++stats_.untracked;
      return Verdict::untracked;
    }
    it = topics_.emplace(key, TopicState{}).first;
  }
  auto& epochs = it->second.epochs;
  auto e = epochs.find(epoch);
  if (e == epochs.end()) {
    if (epochs.size() >= opt_.max_epochs) {
      if (epoch < epochs.begin()->first) {
        ++stats_.untracked;
        return Verdict::untracked;
      }
      // The oldest epoch's missing numbers will not come now: gaps.
      std::vector<uint64_t> lost;
      for (const auto& [s, t] : epochs.begin()->second.missing) lost.push_back(s);
      report(key, epochs.begin()->first, lost, gaps);
      epochs.erase(epochs.begin());
    }
    e = epochs.emplace(epoch, EpochState{}).first;
  }
  EpochState& st = e->second;
  if (seq <= st.high) {
    auto m = st.missing.find(seq);
    if (m == st.missing.end()) {
      if (st.given_up.erase(seq)) {
        // Reported as a gap, and here after all: delivered (late).
        ++stats_.after_gap;
        ++stats_.late;
        ++stats_.accepted;
        return Verdict::fresh;
      }
      ++stats_.duplicates;
      return Verdict::duplicate;
    }
    st.missing.erase(m);
    --stats_.missing_now;
    ++stats_.late;
    ++stats_.accepted;
    return Verdict::fresh;
  }
  // seq > high: high+1 .. seq-1 are missing for now; beyond max_missing
  // outstanding the oldest become gaps at once.
  const uint64_t skipped = seq - st.high - 1;
  std::vector<uint64_t> lost;
  uint64_t first_kept = st.high + 1;
  if (skipped > opt_.max_missing) {
    // Too many to remember: all but the newest max_missing are gaps now.
    const uint64_t drop = skipped - opt_.max_missing;
    for (const auto& [s, t] : st.missing) lost.push_back(s);
    st.missing.clear();
    if (!lost.empty()) {
      report(key, epoch, lost, gaps);
      give_up(st, lost);
    }
    lost.clear();
    // Report the dropped block as one range without materialising it.
    const size_t nul = key.find('\0');
    gaps.push_back({key.substr(0, nul), key.substr(nul + 1), epoch, st.high + 1, drop});
    stats_.gap_messages += drop;
    ++stats_.gap_events;
    // The newest of the dropped block may still come (give_up keeps at
    // most max_missing numbers anyway).
    std::vector<uint64_t> newest;
    for (uint64_t s = st.high + 1 + drop - std::min<uint64_t>(drop, opt_.max_missing);
         s < st.high + 1 + drop; ++s)
      newest.push_back(s);
    give_up(st, newest);
    first_kept = st.high + 1 + drop;
  }
  for (uint64_t s = first_kept; s < seq; ++s) {
    st.missing.emplace(s, now_ns);
    ++stats_.missing_now;
  }
  while (st.missing.size() > opt_.max_missing) {
    lost.push_back(st.missing.begin()->first);
    st.missing.erase(st.missing.begin());
  }
  if (!lost.empty()) {
    report(key, epoch, lost, gaps);
    give_up(st, lost);
  }
  st.high = seq;
  ++stats_.accepted;
  return Verdict::fresh;
}

void SeqTracker::expire(uint64_t now_ns, std::vector<Gap>& gaps) {
  for (auto& [key, ts] : topics_) {
    for (auto& [epoch, st] : ts.epochs) {
      if (st.missing.empty()) continue;
      std::vector<uint64_t> lost;
      for (auto m = st.missing.begin(); m != st.missing.end();) {
        if (now_ns - m->second >= opt_.gap_timeout_ns) {
          lost.push_back(m->first);
          m = st.missing.erase(m);
        } else {
          ++m;
        }
      }
      if (!lost.empty()) {
        report(key, epoch, lost, gaps);
        give_up(st, lost);
      }
    }
  }
}

}  // namespace srdx::telemetry
