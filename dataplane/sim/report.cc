#include "sim/report.h"

#include <cmath>
#include <cstdio>
#include <string_view>

#include "sim/units.h"

namespace srdx::sim {

namespace {

constexpr FailReason kReasons[] = {FailReason::timeout,        FailReason::peer_unreachable,
                                   FailReason::peer_restarted, FailReason::peer_removed,
                                   FailReason::too_large,      FailReason::peer_closed};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pct(double fraction) {
  if (fraction == 0) return "0";
  return fmt(fraction * 100 < 0.1 ? "%.3g%%" : "%.2g%%", fraction * 100);
}

// A minimal JSON writer: objects, arrays, numbers, strings, booleans, null.
class Json {
 public:
  Json& open(std::string_view key = {}, char bracket = '{') {
    sep(key);
    out_ += bracket;
    first_ = true;
    return *this;
  }
  Json& close(char bracket = '}') {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  Json& num(std::string_view key, uint64_t v) { return raw(key, std::to_string(v)); }
  Json& num(std::string_view key, double v) {
    return raw(key, std::isfinite(v) ? fmt("%.9g", v) : std::string("null"));
  }
  Json& boolean(std::string_view key, bool v) { return raw(key, v ? "true" : "false"); }
  Json& null(std::string_view key) { return raw(key, "null"); }
  Json& str(std::string_view key, std::string_view v) {
    std::string s = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') {
        s += '\\';
        s += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        s += buf;
      } else {
        s += c;
      }
    }
    return raw(key, s + "\"");
  }
  std::string take() { return std::move(out_); }

 private:
  Json& raw(std::string_view key, std::string_view v) {
    sep(key);
    out_ += v;
    return *this;
  }
  void sep(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    if (!key.empty()) {
      out_ += '"';
      out_ += key;
      out_ += "\":";
    }
  }
  std::string out_;
  bool first_ = true;
};

void counters(Json& j, std::string_view key, const LinkCounters& c) {
  j.open(key)
      .num("enqueued_packets", c.enqueued_packets)
      .num("enqueued_bytes", c.enqueued_bytes)
      .num("delivered_packets", c.delivered_packets)
      .num("delivered_bytes", c.delivered_bytes)
      .num("dropped_loss", c.dropped_loss)
      .num("dropped_queue", c.dropped_queue)
      .num("dropped_blackhole", c.dropped_blackhole)
      .num("duplicated", c.duplicated)
      .num("corrupted", c.corrupted)
      .num("reordered", c.reordered)
      .close();
}

std::string blackholes_text(const ScenarioConfig& cfg) {
  std::string s;
  for (const Blackhole& b : cfg.blackholes) {
    s += s.empty() ? "" : ", ";
    s += b.path == kAllPaths ? std::string("every path") : "path " + std::to_string(b.path);
    if (b.dir != Directions::both) s += " " + std::string(to_string(b.dir)) + " only";
    s += " from " + format_duration(b.start - Time::zero());
    s += b.end.is_infinite() ? " on" : " to " + format_duration(b.end - Time::zero());
  }
  return s.empty() ? "none" : s;
}

std::string host_text(const HostRef& h) {
  return h.role == Role::receiver ? "receiver" : "sender" + std::to_string(h.sender);
}

std::string ms(Time t) { return format_duration(t - Time::zero()); }

// The host faults, one phrase each: "sender0 reloads at 2.000 ms, ...".
std::string faults_text(const ScenarioConfig& cfg) {
  std::string s;
  auto add = [&s](const std::string& x) { s += (s.empty() ? "" : ", ") + x; };
  for (const PeerReload& r : cfg.reloads) add(host_text(r.host) + " reloads at " + ms(r.at));
  for (const Restart& r : cfg.restarts) {
    add(host_text(r.host) + " restarts at " + ms(r.at) +
        (r.clock == Clock::stepped_back ? " (clock stepped back)" : ""));
  }
  for (const Freeze& f : cfg.freezes) {
    add(host_text(f.host) + " frozen from " + ms(f.start) + " for " + format_duration(f.length));
  }
  for (const Attack& a : cfg.attacks) {
    add("attacker at " + std::to_string(a.rate_pps) + "/s from " + ms(a.start) +
        (a.end.is_infinite() ? std::string(" on") : " to " + ms(a.end)));
  }
  if (cfg.onpath) {
    add("on-path attacker from " + ms(cfg.onpath->start) +
        (cfg.onpath->end.is_infinite() ? std::string(" on") : " to " + ms(cfg.onpath->end)));
  }
  if (!cfg.endpoint.encryption) add("encryption OFF");
  return s;
}

}  // namespace

std::string report_table(const ScenarioConfig& cfg, const ScenarioResult& r) {
  const LinkParams& l = cfg.net.link;
  std::string o;
  auto line = [&o](const std::string& s) { o += s + "\n"; };
  char buf[512];
  std::snprintf(buf, sizeof buf, "workload   %s, %llu x %s%s, seed %llu",
                std::string(to_string(cfg.workload)).c_str(),
                static_cast<unsigned long long>(cfg.count *
                                                (cfg.workload == Workload::bulk ? cfg.senders : 1)),
                format_size(cfg.msg_size).c_str(),
                cfg.workload == Workload::bulk
                    ? (", window " + std::to_string(cfg.window) +
                       (cfg.senders > 1 ? ", " + std::to_string(cfg.senders) + " senders" : ""))
                          .c_str()
                    : " round trips",
                static_cast<unsigned long long>(cfg.seed));
  line(buf);
  std::snprintf(buf, sizeof buf,
                "fabric     %u paths x %s, delay %s, jitter %s, queue %s, mtu %u, %u entropies",
                cfg.net.paths,
                l.rate_bps ? format_rate(static_cast<double>(l.rate_bps)).c_str() : "unlimited",
                format_duration(l.delay).c_str(), format_duration(l.jitter).c_str(),
                l.queue_bytes ? format_size(l.queue_bytes).c_str() : "unbounded", cfg.endpoint.mtu,
                cfg.endpoint.paths_per_peer);
  line(buf);
  line("impairing  loss " + pct(l.loss) + ", dup " + pct(l.duplicate) + ", reorder " +
       pct(l.reorder) + ", corrupt " + pct(l.corrupt) + "; blackhole " + blackholes_text(cfg));
  if (const std::string f = faults_text(cfg); !f.empty()) line("faults     " + f);
  line("");
  std::snprintf(
      buf, sizeof buf,
      "messages   sent %llu, delivered %llu, failed %llu, missing %llu, duplicated %llu, "
      "corrupted %llu, out of order %llu  => %s",
      static_cast<unsigned long long>(r.messages_sent),
      static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.failed),
      static_cast<unsigned long long>(r.missing), static_cast<unsigned long long>(r.duplicated),
      static_cast<unsigned long long>(r.corrupted_delivered),
      static_cast<unsigned long long>(r.order_violations), r.ok() ? "OK" : "INVARIANT FAILED");
  line(buf);
  if (r.failed > 0) {
    std::string s = "failures  ";
    for (FailReason f : kReasons) {
      if (uint64_t n = r.failed_by_reason[static_cast<size_t>(f)]) {
        s += " " + std::string(to_string(f)) + " " + std::to_string(n);
      }
    }
    if (r.failed_but_delivered)
      s += " (" + std::to_string(r.failed_but_delivered) + " of them arrived anyway)";
    if (r.failed_not_maybe_but_delivered)
      s += " (" + std::to_string(r.failed_not_maybe_but_delivered) +
           " said not delivered, yet arrived: INVARIANT)";
    line(s);
  }
  if (r.completed_not_delivered || r.forged_delivered || r.extra_peers) {
    line("violated   completed but never delivered " + std::to_string(r.completed_not_delivered) +
         ", forged messages delivered " + std::to_string(r.forged_delivered) +
         ", peers beyond the configured " + std::to_string(r.extra_peers));
  }
  if (cfg.onpath) {
    const OnPathCounters& op = r.onpath;
    line("on-path    seen " + std::to_string(op.seen) + ", dropped " + std::to_string(op.dropped) +
         ", delayed " + std::to_string(op.delayed) + ", copied " + std::to_string(op.copies) +
         ", replayed " + std::to_string(op.replays) + ", altered " + std::to_string(op.altered) +
         ", reflected " + std::to_string(op.reflected) + ", forged " + std::to_string(op.forged));
    std::string d;
    for (DropReason x : {DropReason::bad_auth, DropReason::replay, DropReason::unknown_key,
                         DropReason::unauthenticated, DropReason::wrong_connection}) {
      d += (d.empty() ? "" : ", ") + std::string(to_string(x)) + " " +
           std::to_string(r.drops[static_cast<size_t>(x)]);
    }
    line("drops      " + d + "; messages from attacker bytes " + std::to_string(r.made_delivered) +
         (r.made_delivered ? " (INVARIANT)" : "") + ", peer restarts " +
         std::to_string(r.peer_restarts));
  }
  if (r.abandoned || r.peer_reloads || r.frozen_dropped || r.forged_sent) {
    line("faults     peer reloads " + std::to_string(r.peer_reloads) +
         ", messages abandoned by a restarted sender " + std::to_string(r.abandoned) +
         ", dropped at a frozen host " + std::to_string(r.frozen_dropped) + ", datagrams forged " +
         std::to_string(r.forged_sent));
  }
  std::snprintf(buf, sizeof buf,
                "%-10s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (%s)",
                r.latency_is_rtt ? "rtt" : "latency", r.latency.p50_us, r.latency.p90_us,
                r.latency.p99_us, r.latency.p999_us, r.latency.max_us,
                r.latency_is_rtt ? "round trip at the client" : "send to delivery");
  line(buf);
  line("goodput    " + format_rate(r.goodput_bps) + " over " + format_duration(r.elapsed) +
       " simulated; longest gap between deliveries " + format_duration(r.longest_gap));
  if (r.dip.measured) {
    std::snprintf(buf, sizeof buf,
                  "dip        %.2f ms below half the pre-failure goodput %s (5 ms windows); "
                  "lowest after the failure %s",
                  r.dip.longest.us() / 1000.0, format_rate(r.dip.baseline_bps).c_str(),
                  format_rate(r.dip.min_after_bps).c_str());
    line(buf);
  }
  std::snprintf(buf, sizeof buf,
                "transport  packets %llu, retransmissions %llu, corrupt packets rejected %llu, "
                "peer up %llu / down %llu",
                static_cast<unsigned long long>(r.packets_sent),
                static_cast<unsigned long long>(r.retransmissions),
                static_cast<unsigned long long>(r.corrupted_rejected),
                static_cast<unsigned long long>(r.peer_up),
                static_cast<unsigned long long>(r.peer_down));
  line(buf);
  std::snprintf(buf, sizeof buf, "losses     by timeout %llu, by reordering %llu; spurious %llu",
                static_cast<unsigned long long>(r.rto_events),
                static_cast<unsigned long long>(r.reorder_losses),
                static_cast<unsigned long long>(r.spurious_losses));
  line(buf);
  line(std::string("end        ") + format_duration(r.end_time - Time::zero()) + " simulated" +
       (r.timed_out ? ", TIME LIMIT reached before the workload finished" : "") +
       (r.drained ? "; endpoint buffers drained"
                  : "; endpoint buffers NOT drained (" + std::to_string(r.buffered_bytes) +
                        " bytes, " + std::to_string(r.buffered_messages) + " messages)"));
  line("");
  line(
      "path  share   offered  delivered    loss   queue  blackhole  dup  corrupt  reorder  (a->b)");
  for (size_t p = 0; p < r.path_a_to_b.size(); p++) {
    const LinkCounters& c = r.path_a_to_b[p];
    std::snprintf(
        buf, sizeof buf, "%4zu  %5.1f%%  %7llu  %9llu  %6llu  %6llu  %9llu  %3llu  %7llu  %7llu", p,
        r.path_share[p] * 100, static_cast<unsigned long long>(c.enqueued_packets),
        static_cast<unsigned long long>(c.delivered_packets),
        static_cast<unsigned long long>(c.dropped_loss),
        static_cast<unsigned long long>(c.dropped_queue),
        static_cast<unsigned long long>(c.dropped_blackhole),
        static_cast<unsigned long long>(c.duplicated), static_cast<unsigned long long>(c.corrupted),
        static_cast<unsigned long long>(c.reordered));
    line(buf);
  }
  return o;
}

std::string report_json(const ScenarioConfig& cfg, const ScenarioResult& r) {
  const LinkParams& l = cfg.net.link;
  Json j;
  j.open();
  j.open("config")
      .num("seed", cfg.seed)
      .str("workload", to_string(cfg.workload))
      .num("paths", static_cast<uint64_t>(cfg.net.paths))
      .num("rate_bps", l.rate_bps)
      .num("delay_ns", static_cast<uint64_t>(l.delay.ns()))
      .num("jitter_ns", static_cast<uint64_t>(l.jitter.ns()))
      .num("queue_bytes", l.queue_bytes)
      .num("loss", l.loss)
      .num("duplicate", l.duplicate)
      .num("reorder", l.reorder)
      .num("corrupt", l.corrupt);
  j.open("blackholes", '[');
  for (const Blackhole& b : cfg.blackholes) {
    j.open();
    if (b.path == kAllPaths) {
      j.str("path", "all");
    } else {
      j.num("path", static_cast<uint64_t>(b.path));
    }
    j.str("direction", to_string(b.dir)).num("start_ns", static_cast<uint64_t>(b.start.ns()));
    if (b.end.is_infinite()) {
      j.null("end_ns");
    } else {
      j.num("end_ns", static_cast<uint64_t>(b.end.ns()));
    }
    j.close();
  }
  j.close(']');
  j.str("faults", faults_text(cfg));
  j.num("size", cfg.msg_size)
      .num("count", cfg.count)
      .num("window", static_cast<uint64_t>(cfg.window))
      .num("senders", static_cast<uint64_t>(cfg.senders))
      .num("mtu", static_cast<uint64_t>(cfg.endpoint.mtu))
      .num("entropies", static_cast<uint64_t>(cfg.endpoint.paths_per_peer))
      .num("time_limit_ns", static_cast<uint64_t>(cfg.time_limit.ns()))
      .close();
  j.open("result")
      .boolean("ok", r.ok())
      .num("messages_sent", r.messages_sent)
      .num("delivered", r.delivered)
      .num("duplicated", r.duplicated)
      .num("corrupted_delivered", r.corrupted_delivered)
      .num("order_violations", r.order_violations)
      .num("missing", r.missing)
      .num("failed", r.failed);
  j.open("failed_by_reason");
  for (FailReason f : kReasons) j.num(to_string(f), r.failed_by_reason[static_cast<size_t>(f)]);
  j.close();
  j.num("failed_but_delivered", r.failed_but_delivered)
      .num("failed_not_maybe_but_delivered", r.failed_not_maybe_but_delivered)
      .num("completed_not_delivered", r.completed_not_delivered)
      .num("abandoned", r.abandoned)
      .num("forged_delivered", r.forged_delivered)
      .num("forged_sent", r.forged_sent)
      .num("made_delivered", r.made_delivered)
      .num("onpath_sent", r.onpath.sent())
      .num("onpath_dropped", r.onpath.dropped)
      .num("peer_restarts", r.peer_restarts)
      .num("extra_peers", r.extra_peers)
      .num("peer_reloads", r.peer_reloads)
      .num("frozen_dropped", r.frozen_dropped)
      .num("unacknowledged", r.unacknowledged)
      .num("send_errors", r.send_errors)
      .num("corrupted_rejected", r.corrupted_rejected)
      .num("retransmissions", r.retransmissions)
      .num("rto_events", r.rto_events)
      .num("reorder_losses", r.reorder_losses)
      .num("spurious_losses", r.spurious_losses)
      .num("packets_sent", r.packets_sent)
      .num("peer_up", r.peer_up)
      .num("peer_down", r.peer_down);
  j.open("latency")
      .str("kind", r.latency_is_rtt ? "rtt" : "send_to_delivery")
      .str("unit", "us")
      .num("count", r.latency.count)
      .num("mean", r.latency.mean_us)
      .num("p50", r.latency.p50_us)
      .num("p90", r.latency.p90_us)
      .num("p99", r.latency.p99_us)
      .num("p99.9", r.latency.p999_us)
      .num("max", r.latency.max_us)
      .close();
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.trace_hash));
  j.num("goodput_bps", r.goodput_bps)
      .num("elapsed_ns", static_cast<uint64_t>(r.elapsed.ns()))
      .num("longest_gap_ns", static_cast<uint64_t>(r.longest_gap.ns()))
      .num("end_time_ns", static_cast<uint64_t>(r.end_time.ns()))
      .boolean("timed_out", r.timed_out)
      .num("timeline_interval_ns", static_cast<uint64_t>(r.timeline.interval().ns()));
  if (r.dip.measured) {
    j.num("dip_ms", r.dip.longest.us() / 1000.0)
        .num("dip_baseline_bps", r.dip.baseline_bps)
        .num("dip_min_window_bps", r.dip.min_after_bps);
  } else {
    j.null("dip_ms").null("dip_baseline_bps").null("dip_min_window_bps");
  }
  j.boolean("drained", r.drained)
      .num("buffered_bytes", r.buffered_bytes)
      .num("buffered_messages", r.buffered_messages)
      .str("trace_hash", hash)
      .close();
  j.open("paths", '[');
  for (size_t p = 0; p < r.path_a_to_b.size(); p++) {
    j.open().num("path", static_cast<uint64_t>(p)).num("share", r.path_share[p]);
    counters(j, "a_to_b", r.path_a_to_b[p]);
    counters(j, "b_to_a", r.path_b_to_a[p]);
    j.close();
  }
  j.close(']');
  j.close();
  return j.take() + "\n";
}

}  // namespace srdx::sim
