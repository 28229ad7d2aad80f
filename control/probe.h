// Ping-pong measurements between two appliances, over srdx and over TCP.
//
// A Probe belongs to the ProbeManager and runs on its own thread, which
// alternates batches of pings between the transports (same peer, same
// moment, so the comparison is fair). TCP pings run on that thread over one
// TCP_NODELAY connection to the peer's TCP echo listener. srdx pings are
// handed to the poller thread as an SrdxBatch (the Endpoint is single
// threaded): the SrdxPinger there sends each ping on flow 0xFFFF, timestamps
// the send and the echo with the poll loop's clock, and completes the batch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config.h"
#include "hdr_histogram.h"
#include "metrics.h"
#include "request.h"
#include "srdx/carrier.h"
#include "srdx/endpoint.h"

namespace srdx::ctl {

// RTT percentiles of one transport, from a histogram of RTTs in nanoseconds.
struct RttSummary {
  uint64_t count = 0, lost = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};
// Nearest-rank percentiles within 1% (LogLinearHistogram); max exact.
RttSummary summarize(const LogLinearHistogram& ns, uint64_t lost);

enum class ProbeState : uint8_t { running, done, cancelled, failed };
std::string_view to_string(ProbeState s);

class Probe {
 public:
  // listed=false: a periodic round (daemon.probe-every), not in /v1/probes.
  // Samples and lost pings also go to `metrics` under source "probe" or
  // "periodic".
  Probe(uint64_t id, const ProbeRequest& req, const PeerConfig& peer, bool listed,
        ProbeHistograms& metrics);

  uint64_t id() const { return id_; }
  const ProbeRequest& request() const { return req_; }
  const PeerConfig& peer() const { return peer_; }
  bool listed() const { return listed_; }
  // "probe" (API) or "periodic": the metrics' source label.
  const char* source() const { return listed_ ? "probe" : "periodic"; }
  ProbeState state() const;
  bool cancelled() const { return cancel_.load(); }
  bool finished() const { return state() != ProbeState::running; }

  void cancel() { cancel_.store(true); }
  // cancel() saying why (srdxd stopping): reason() tells it, the first
  // reason given is kept.
  void cancel(const std::string& why);
  // Stops the probe as cancel() does, but it ends failed with `why` (its
  // peer was removed by a reload): the first reason given is kept.
  void abort(const std::string& why);
  // abort()'s reason; empty when not aborted.
  std::string abort_reason() const;
  // Samples (thread-safe): an RTT in nanoseconds, or a lost ping. O(1):
  // no string, no map lookup, no allocation (after a transport's first
  // sample), a short lock that GET never holds for long.
  void record(ProbeTransport t, int64_t rtt_ns);
  void record_lost(ProbeTransport t);
  // Ends a running probe with `s`; false when it had already ended.
  bool finish(ProbeState s, const std::string& error = {});

  // The lease (request().lease_s > 0, API probes only): GET
  // /v1/probes/{id} renews it; lease_expired() cancels a probe not renewed
  // for lease_s, its "reason" says so. Called by the probe's thread.
  void renew();
  bool lease_expired();
  // Why a cancelled probe ended, when not by DELETE; empty otherwise.
  std::string reason() const;
  // What the probe keeps of its samples, in bytes: two fixed-size
  // histograms while it runs, whatever the count; none once it has ended
  // (its summaries are computed then).
  size_t storage_bytes() const;

  // The GET /v1/probes/{id} object.
  nlohmann::json to_json() const;
  // Pings done so far on transport t (measured + lost).
  uint64_t done(ProbeTransport t) const;
  uint64_t answered(ProbeTransport t) const;
  uint64_t lost(ProbeTransport t) const;
  std::string error() const;

 private:
  const uint64_t id_;
  const ProbeRequest req_;
  const PeerConfig peer_;
  const bool listed_;
  ProbeHistograms& metrics_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mu_;
  ProbeState state_ = ProbeState::running;
  std::string error_;
  std::string abort_reason_;
  std::string reason_;
  const int64_t lease_ns_;              // 0: no lease
  std::atomic<int64_t> renewed_ns_{0};  // steady clock
  // RTTs in ns, by transport; freed by finish(), which fills final_.
  std::unique_ptr<LogLinearHistogram[]> rtt_;
  uint64_t answered_[2] = {0, 0}, lost_[2] = {0, 0};
  RttSummary final_[2];
  ProbeHistograms::Series series_[2];  // the metrics', made once
};

// A batch of srdx pings for the poller thread.
struct SrdxBatch {
  std::shared_ptr<Probe> probe;
  std::string peer;  // configured peer name
  uint32_t size = 64, count = 1, interval_us = 0;
  // Non-zero: the batch ends early, without an error, after this many pings
  // in a row got no answer (periodic rounds: a dead peer costs a round a few
  // ping timeouts, not count of them); gave_up then says so.
  uint32_t give_up_after_lost = 0;
  bool gave_up = false;
  // Set by the poller thread when the batch ends; error empty on success.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::string error;
  void complete(const std::string& err);
  // Waits for complete(); returns its error.
  std::string wait();
};

// Runs in the poller thread: sends srdx pings and matches their echoes.
class SrdxPinger {
 public:
  // `magic` marks this daemon's pings (their first 8 bytes), so that an echo
  // coming back is never echoed again.
  SrdxPinger(carrier::Carrier& carrier, uint64_t magic);

  void add(std::shared_ptr<SrdxBatch> b, PeerId peer, Time now);
  // A flow-0xFFFF message: true when it is (or was) an answer to one of our
  // pings, so it must not be echoed.
  bool on_message(const Event& ev, Time now);
  void on_send_failed(const Event& ev, Time now);
  // Ends the peer's batches with `why` (a ping in flight is failed by the
  // endpoint's remove_peer, and its event ignored).
  void on_peer_removed(PeerId peer, const std::string& why);
  void tick(Time now);
  // Cancels every batch (drain).
  void cancel_all();
  size_t active() const { return queues_.size(); }

 private:
  // Periodic rounds have a lane of their own to each peer, beside the API
  // probes': a health round never waits behind a long API probe's batch.
  enum Lane : uint8_t { kApiLane = 0, kPeriodicLane = 1 };
  using Key = std::pair<PeerId, uint8_t>;
  struct Peer {
    std::deque<std::shared_ptr<SrdxBatch>> batches;
    uint32_t done = 0, lost_in_row = 0;
    bool in_flight = false, warmup = false, started = false;
    uint64_t seq = 0, cookie = 0;
    Time sent, next_send;
    std::vector<uint8_t> payload;
  };
  // Empty, or why no ping of this batch can be sent.
  std::string send_ping(PeerId id, Peer& p, Time now);
  void ping_done(PeerId id, Peer& p, Time now);
  // A counted ping of the front batch got no answer.
  void ping_lost(Peer& p);
  bool is_ours(std::span<const uint8_t> data) const;

  carrier::Carrier& carrier_;
  uint8_t magic_[8];
  std::map<Key, Peer> queues_;
  uint64_t next_seq_ = 1;
};

// Starts, lists, cancels and reaps probes.
class ProbeManager {
 public:
  // submit: hands a batch to the poller thread (its command queue).
  using Submit = std::function<void(std::shared_ptr<SrdxBatch>)>;
  // tcp_source_ip: the IP TCP pings leave from (link.local's, so that the
  // peer's TCP echo knows this host as the peer it configured); 0 or an IP
  // the kernel does not have: the kernel's choice.
  ProbeManager(ProbeHistograms& hist, Submit submit, uint32_t tcp_source_ip = 0);
  ~ProbeManager();

  // Returns the new probe (already running). listed=false: a periodic probe,
  // not shown in /v1/probes. max_listed > 0: nullptr instead when that many
  // listed probes still have their thread (periodic rounds do not count).
  std::shared_ptr<Probe> start(const ProbeRequest& req, const PeerConfig& peer, bool listed,
                               size_t max_listed = 0);
  std::shared_ptr<Probe> find(uint64_t id) const;
  std::vector<std::shared_ptr<Probe>> list() const;
  size_t running() const;
  uint64_t started() const { return started_.load(); }
  // Cancels every probe; with `why`, each one's reason() says it.
  void cancel_all(const std::string& why = {});
  // Aborts every running probe (API and periodic) to peer `name` with `why`.
  // Returns how many.
  size_t abort_peer(const std::string& name, const std::string& why);
  // Cancels and joins every probe thread.
  void stop();

 private:
  void run(std::shared_ptr<Probe> p);
  void reap_locked();

  ProbeHistograms& hist_;
  Submit submit_;
  const uint32_t tcp_source_ip_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> started_{0};
  std::map<uint64_t, std::shared_ptr<Probe>> probes_;
  std::map<uint64_t, std::thread> threads_;
  size_t listed_threads_ = 0;  // API probes whose thread still runs
  std::vector<std::thread> done_threads_;
};

// One TCP ping-pong connection (used by the probe threads).
class TcpPinger {
 public:
  ~TcpPinger();
  // Empty on success. source_ip: bind to it first (0: the kernel chooses; an
  // address the kernel does not have is ignored).
  std::string connect(uint32_t ip, uint16_t port, int timeout_ms, uint32_t source_ip = 0);
  // One ping of `size` bytes: >0 RTT in ns; 0 lost (timed out; reconnect);
  // <0 error (err says why).
  int64_t ping(uint32_t size, int timeout_ms, std::string& err);
  void close();
  bool connected() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::vector<uint8_t> out_, in_;
};

}  // namespace srdx::ctl
