// The telemetry bridge over a carrier (issue 15). An Edge subscribes to a
// local broker, numbers every message per topic, evaluates the alarm rules,
// spools what must not be lost, and ships batches to one central peer; a
// Central drops duplicates, reports gaps, and publishes to its broker with
// the same topic, payload, QoS and retain flag, then acknowledges.
//
// Flows: bulk telemetry on kBulkFlow, alarms on kAlarmFlow. Every carrier
// iteration the edge sends alarms first, then live messages, then spooled
// ones (the backlog), all within a window of batches in flight: live traffic
// goes ahead of the backlog, and the backlog has whatever window is left.
//
// What is acknowledged when (docs/telemetry.md, "Durability"):
//   - a QoS 1 message is appended to the spool before on_message returns,
//     hence before its PUBACK (mqtt.h);
//   - it leaves the spool when the central side acknowledges its batch,
//     which it does once every QoS 1 record of the batch has been
//     acknowledged by the central broker (or was a duplicate);
//   - a batch not acknowledged within ack_timeout, or failed by the carrier,
//     is sent again from the spool; duplicates are dropped at the centre.
// So a kill -9 of the edge loses nothing its broker was told it has, and a
// kill -9 of the centre loses nothing the edge was told it has.
//
// Threads: the carrier thread calls on_event() and tick(); libmosquitto's
// network threads call in through MqttClient; status() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "srdx/carrier.h"
#include "telemetry/mqtt.h"
#include "telemetry/protocol.h"
#include "telemetry/rules.h"
#include "telemetry/seqlog.h"
#include "telemetry/sequence.h"
#include "telemetry/spool.h"

namespace srdx::telemetry {

inline constexpr uint16_t kBulkFlow = 0x5442;   // "TB"
inline constexpr uint16_t kAlarmFlow = 0x5441;  // "TA"
inline bool is_telemetry_flow(uint16_t f) { return f == kBulkFlow || f == kAlarmFlow; }

// A latency histogram: powers-of-two microsecond buckets.
struct LatencyHistogram {
  static constexpr size_t kBuckets = 24;  // 1 us .. 8 s, and above
  uint64_t counts[kBuckets] = {};
  uint64_t total = 0;
  double sum_s = 0;
  void add(double seconds);
  // Upper bound in seconds of bucket i.
  static double bound(size_t i);
  double quantile(double q) const;
};

class Edge;

struct EdgeOptions {
  MqttOptions mqtt;
  SpoolOptions spool;
  std::vector<Rule> rules;
  std::string alarm_prefix = "srdx/alarms";  // alarms publish to PREFIX/<sample topic>
  size_t batch_records = 256;
  size_t batch_bytes = 48 * 1024;
  size_t window = 64;  // batches in flight
  Duration ack_timeout = Duration::seconds(5);
  Duration sync_interval = Duration::millis(100);
  size_t max_topics = 100000;  // distinct topics numbered; more are dropped (counted)
  size_t live_queue = 20000;   // records waiting for the carrier; past it they spool
  // Tests only: called on the MQTT network thread after a message was
  // handled (numbered and queued or spooled), before its PUBACK is written.
  std::function<void(Edge&, const MqttMessage&)> after_message;
};

struct LastAlarm {
  std::string rule, topic, state;
  double value = 0;
  double time = 0;  // wall clock
};

struct EdgeStatus {
  bool broker_connected = false, peer_reachable = false;
  uint64_t epoch = 0;
  uint64_t received = 0, received_qos1 = 0;  // from the broker
  uint64_t sent_records = 0, acked_records = 0, batches_sent = 0, batches_resent = 0;
  uint64_t dropped_qos0_full = 0, dropped_too_large = 0, dropped_bad_topic = 0;
  uint64_t dropped_topic_limit = 0;
  uint64_t full_stalls = 0;  // QoS 1 messages that waited for spool room
  // QoS 1 messages the broker sent again (same packet id, topic and payload
  // within the session) after the edge had numbered them: not numbered twice.
  uint64_t redeliveries_dropped = 0;
  uint64_t alarms_raised = 0, alarms_cleared = 0;
  uint64_t inflight_batches = 0, live_queued = 0;
  uint64_t topics = 0;
  SpoolStats spool;
  std::vector<LastAlarm> last_alarms;  // newest last, at most 16
  std::string last_error;
};

class Edge {
 public:
  // Opens the spool (recovering it); the broker is not contacted yet.
  static Result<std::unique_ptr<Edge>> create(EdgeOptions opt, carrier::Carrier& carrier,
                                              PeerId central);
  ~Edge();

  // Connects to the broker; an error names it (the client keeps retrying).
  Status start();
  void stop();

  // Carrier thread.
  bool on_event(const Event& ev, Time now);
  void tick(Time now);

  EdgeStatus status() const;
  // Shuts the broker connection down at once (the client reconnects): what
  // the broker has not had a PUBACK for, it sends again.
  void drop_broker_connection();

 private:
  struct Item {
    uint64_t rid = 0;  // 0: a QoS 0 record not in the spool
    uint64_t epoch = 0;
    Record rec;
  };
  struct Inflight {
    std::vector<uint64_t> rids;
    Time sent;
    size_t records = 0;
  };
  Edge(EdgeOptions opt, carrier::Carrier& carrier, PeerId central);
  void on_message(const MqttMessage& m);
  // Under mu_: numbers and queues one record (spool first for QoS 1); false
  // if it was dropped (counted) instead.
  bool admit(Record r, std::unique_lock<std::mutex>& l);
  void send_batch(std::vector<Item>& items, uint16_t flow, Time now, bool resend);
  void syncer_main();

  EdgeOptions opt_;
  carrier::Carrier& carrier_;
  const PeerId central_;
  std::unique_ptr<MqttClient> mqtt_;
  RuleEvaluator rules_;

  mutable std::mutex mu_;
  std::condition_variable room_cv_;
  std::unique_ptr<Spool> spool_;
  std::unordered_map<std::string, uint64_t> seq_;
  // Redeliveries: per packet id, the (topic, payload) hash, the number of
  // the QoS 1 delivery that used it last and the connection it came on. A
  // broker sends a message again only on a reconnect that resumes the
  // session, in the order it first sent it (MQTT 4.4, 4.6): so right after
  // such a reconnect, a message whose id, topic and payload match a delivery
  // of an earlier connection within kMidWindow deliveries is that message
  // again (its PUBACK was lost); the first one that does not match ends the
  // replay. Within one connection nothing is dropped, so a broker that
  // reuses ids at once (the lowest free one) cannot make a new message look
  // like an old one there. A new session (no session present) starts afresh.
  static constexpr uint64_t kMidWindow = 32768;
  struct MidSlot {
    uint64_t hash = 0, delivery = 0, connection = 0;
  };
  std::vector<MidSlot> mids_;
  uint64_t deliveries_ = 0, session_start_ = 0, connection_ = 0;
  bool replaying_ = false;  // after a reconnect into the same session
  std::deque<Item> alarms_, live_;
  std::atomic<bool> reachable_{false};
  std::atomic<bool> stopping_{false};
  EdgeStatus st_;

  // Carrier thread only.
  bool down_ = false;  // the carrier said peer_down, and not peer_up since
  Time last_probe_;
  uint64_t next_batch_ = 1;
  std::map<uint64_t, Inflight> inflight_;
  std::atomic<size_t> inflight_count_{0};

  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
};

struct CentralOptions {
  MqttOptions mqtt;
  SeqOptions seq;
  // Where the sequence log lives (seqlog.h); empty: numbers are kept in
  // memory only, and a restarted centre publishes again what edges resend.
  std::string state_dir;
  bool fsync_always = false;  // fdatasync before every acknowledgement
  Duration sync_interval = Duration::millis(100);
  // Gaps are logged through this (any thread, under the central's lock).
  std::function<void(const std::string&)> log;
};

struct TopicLatest {
  std::string payload;
  double time = 0;
};

struct CentralStatus {
  bool broker_connected = false;
  uint64_t batches = 0, records = 0, published = 0, publish_errors = 0;
  uint64_t malformed = 0, acks_sent = 0, alarms = 0;
  SeqStats seq;
  bool seqlog_enabled = false;
  SeqLogStats seqlog;
  uint64_t seqlog_errors = 0;
  LatencyHistogram latency, alarm_latency;
  std::vector<Gap> last_gaps;  // newest last, at most 16
  // Latest value per topic, bounded (status and metrics read it).
  std::map<std::string, TopicLatest> latest;
  // Alarms seen, by the sample topic they are about: raised (true) or
  // cleared; bounded like `latest`.
  std::map<std::string, bool> alarm_state;
};

class Central {
 public:
  static constexpr size_t kMaxLatest = 4096;

  Central(CentralOptions opt, carrier::Carrier& carrier);
  ~Central();
  // Opens the sequence log (if state_dir is set; an error names the file),
  // then connects to the broker (an error names it; the client keeps
  // retrying).
  Status start();
  // The sequence log alone (start() opens it if this was not called).
  Status open_state();
  void stop();
  // Carrier thread: names a peer in gap reports (else "peer-<id>").
  void name_peer(PeerId peer, std::string name);
  bool on_event(const Event& ev, Time now);
  void tick(Time now);
  CentralStatus status() const;

 private:
  struct PendingBatch {
    PeerId peer = kNoPeer;
    uint16_t flow = 0;
    uint64_t batch_id = 0;
    size_t waiting = 0;
    // For the sequence log: the numbers this batch published.
    std::string source;
    uint64_t epoch = 0;
    std::vector<std::pair<std::string, uint64_t>> fresh;  // topic, seq
  };
  void on_published(int mid);
  void note_gaps(std::vector<Gap>& gaps);  // under mu_
  // The periodic fdatasync of the sequence log (fsync = interval) runs on
  // its own thread: on the carrier thread it held every batch behind the
  // disk (tens of ms on a busy disk) every sync_interval.
  void syncer_main();

  CentralOptions opt_;
  carrier::Carrier& carrier_;
  std::unique_ptr<MqttClient> mqtt_;

  mutable std::mutex mu_;
  SeqTracker seq_;
  std::map<PeerId, std::string> names_;
  uint64_t next_key_ = 1;
  std::unordered_map<uint64_t, PendingBatch> pending_;  // key -> batch
  // A QoS 1 record published and not yet confirmed by the broker (PUBACK),
  // by (source, topic, epoch, seq): the batches waiting on it. A copy of it
  // that comes again meanwhile (an edge's resend after a restart or an ack
  // timeout) is a duplicate, but its batch is acknowledged only once the
  // first copy is confirmed: acknowledged at once, the edge would drop it
  // from its spool while it may still sit in libmosquitto's queue, and a
  // kill -9 of the centre then would lose it.
  std::unordered_map<std::string, std::vector<uint64_t>> unconfirmed_;
  std::unordered_map<int, std::string> mids_;  // mid -> unconfirmed_ key
  std::deque<PendingBatch> acks_;              // ready to send
  CentralStatus st_;
  Time last_expire_;
  // Carrier thread (opened by start() before the carrier runs).
  std::unique_ptr<SeqLog> log_;
  std::vector<Gap> gaps_to_log_;  // under mu_
  Time last_sync_;
  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  int sync_fd_ = -1;  // under sync_mu_: a descriptor of the log to fdatasync
  bool sync_stop_ = false;
};

}  // namespace srdx::telemetry
