// srdx-sim: runs a workload between simulated hosts over a deterministic
// multipath network and checks that every message arrived exactly once and
// intact, under impairments and faults (blackholes in one or both directions,
// peer reloads, restarts, frozen hosts, a blind attacker). Exit codes: 0 all
// good, 1 an invariant failed (a message missing, reported completed but not
// delivered, duplicated, delivered corrupted or forged, or an attacker got
// state), 2 bad command line.
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/units.h"

namespace po = boost::program_options;
using namespace srdx;
using namespace srdx::sim;

namespace {

constexpr int kExitOk = 0, kExitInvariant = 1, kExitUsage = 2;

struct UsageError {
  std::string message;
};

[[noreturn]] void fail(const std::string& option, const std::string& what) {
  throw UsageError{"--" + option + ": " + what};
}

std::string get(const po::variables_map& vm, const char* name) {
  return vm[name].as<std::string>();
}

template <class T, class Parse>
T parse(const po::variables_map& vm, const char* name, Parse p) {
  T v{};
  if (std::string err = p(get(vm, name), v); !err.empty()) fail(name, err);
  return v;
}

uint64_t parse_count(const std::string& option, const std::string& text, uint64_t min,
                     uint64_t max) {
  uint64_t v = 0;
  if (std::string err = parse_uint(text, min, max, v); !err.empty()) fail(option, err);
  return v;
}

// "receiver", "server", "sender", "client", "senderN" (N from 0).
HostRef parse_host(const std::string& option, std::string_view text) {
  if (text == "receiver" || text == "server") return {Role::receiver, 0};
  if (text == "sender" || text == "client") return {Role::sender, 0};
  if (text.substr(0, 6) == "sender" && text.size() > 6) {
    return {Role::sender,
            static_cast<uint32_t>(parse_count(option, std::string(text.substr(6)), 0, 249))};
  }
  fail(option, "unknown host '" + std::string(text) +
                   "'; accepted: receiver, server, sender, client, senderN");
}

// "HOST@TIME", the rest of the text after TIME (from the first ':') in `rest`.
std::pair<HostRef, Duration> parse_host_at(const std::string& option, std::string_view text,
                                           std::string_view& rest) {
  const size_t at = text.find('@');
  if (at == std::string_view::npos) {
    fail(option, "expected HOST@TIME in '" + std::string(text) + "', e.g. receiver@2ms");
  }
  const HostRef h = parse_host(option, text.substr(0, at));
  std::string_view t = text.substr(at + 1);
  const size_t colon = t.find(':');
  rest = colon == std::string_view::npos ? std::string_view() : t.substr(colon + 1);
  t = t.substr(0, colon);
  Duration d;
  if (std::string err = parse_duration(t, d); !err.empty()) fail(option, err);
  return {h, d};
}

// "START-END" (END may be "end": until the run ends).
void parse_window(const std::string& option, std::string_view text, Time& start, Time& end) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    fail(option, "expected START-END in '" + std::string(text) + "', e.g. 2ms-302ms");
  }
  Duration s, e = Duration::infinite();
  if (std::string err = parse_duration(text.substr(0, dash), s); !err.empty()) fail(option, err);
  if (text.substr(dash + 1) != "end") {
    if (std::string err = parse_duration(text.substr(dash + 1), e); !err.empty()) {
      fail(option, err);
    }
    if (e <= s) fail(option, "the end comes before the start in '" + std::string(text) + "'");
  }
  start = Time::zero() + s;
  end = e == Duration::infinite() ? Time::infinite() : Time::zero() + e;
}

const char* kUsage =
    "srdx-sim: run the srdx transport between simulated hosts over a deterministic\n"
    "multipath network (hostA -- r1 == N paths == r2 -- hostB) and check that every\n"
    "message arrives exactly once and intact. Same options and seed => same run.\n"
    "\n"
    "Usage: srdx-sim [options]\n"
    "With no options: a demo of 2000 x 64 KiB messages over 4 paths at 10 Gbit/s,\n"
    "10 us delay, 1% loss on every path, and path 2 blackholed from 10 to 40 ms.\n";

const char* kExamples =
    "Examples:\n"
    "  # 8 paths at 1 Gbit/s, 2% loss, path 3 dead from 2 ms on, 10000 x 16 KiB:\n"
    "  srdx-sim --paths 8 --rate 1G --loss 2% --blackhole 3@2ms --size 16KiB --count 10000\n"
    "  # ping-pong of 64-byte messages with jitter and reordering, machine output:\n"
    "  srdx-sim --workload pingpong --size 64 --count 20000 --jitter 5us --reorder 1% --json\n"
    "  # every path dead from A to B only (ACKs still flow) for 300 ms, past peer_timeout:\n"
    "  srdx-sim --blackhole all:a2b@10ms-310ms --count 500\n"
    "  # the sender reloads its peer at 2 ms; the receiver restarts with its clock set back:\n"
    "  srdx-sim --blackhole none --reload sender@2ms --restart receiver@5ms:back\n"
    "  # the receiver stopped for 300 ms, and a blind attacker at 100k forgeries/s:\n"
    "  srdx-sim --blackhole none --freeze receiver@2ms-302ms --attack 100k@0ms-200ms\n"
    "  # an on-path attacker forging 20% and dropping 1%; then the same in the clear:\n"
    "  srdx-sim --blackhole none --onpath --onpath-forge 20% --onpath-drop 1% --count 500\n"
    "  srdx-sim --blackhole none --onpath --clear --count 500   # exit status 1\n"
    "  # incast: 16 senders into one receiver through 64 KiB queues; a far sender:\n"
    "  srdx-sim --senders 16 --queue 64KiB --loss 0 --blackhole none --count 200\n"
    "  srdx-sim --senders 2 --rate 1G --loss 0 --blackhole none --count 600 \\\n"
    "           --sender-delay sender1:490us\n"
    "  # 4 paths at 200 Mbit/s, path 2 dead from 100 ms on; goodput per ms and its dip:\n"
    "  srdx-sim --rate 200M --loss 0 --blackhole 2@100ms --count 1500 --timeline t.txt\n"
    "\n"
    "Exit status: 0 ok; 1 an invariant failed (a message went missing, was reported\n"
    "completed but never delivered, was delivered twice, corrupted or forged, or an\n"
    "attacker got state in an endpoint); 2 bad command line.\n";

}  // namespace

int main(int argc, char** argv) {
  po::options_description topology("Topology");
  topology.add_options()("paths", po::value<std::string>()->default_value("4"),
                         "parallel paths between r1 and r2")(
      "rate", po::value<std::string>()->default_value("10G"),
      "per path and direction, bits/s: 10G, 200M, 1.5Gbit; 0 = unlimited")(
      "delay", po::value<std::string>()->default_value("10us"),
      "one-way propagation delay per path: ns, us, ms, s")(
      "queue", po::value<std::string>()->default_value("256KiB"),
      "per path queue limit (tail drop): 1500, 64KiB, 1M; 0 = unbounded")(
      "mtu", po::value<std::string>()->default_value("1500"), "IP MTU of every host")(
      "entropies", po::value<std::string>()->default_value("16"),
      "entropies (UDP source ports, i.e. paths) each endpoint sprays a peer over")(
      "senders", po::value<std::string>()->default_value("1"),
      "bulk: senders sharing one receiver (many-to-one)")(
      "sender-delay", po::value<std::vector<std::string>>()->multitoken(),
      "senderN:DELAY: extra one-way delay between sender N and the fabric, both ways "
      "(its RTT grows by twice DELAY), e.g. sender1:490us; repeatable");
  po::options_description cc("Congestion control (every endpoint)");
  cc.add_options()("cc-initial-window", po::value<std::string>(),
                   "window before any feedback (default 64KiB)")(
      "cc-target", po::value<std::string>(), "queueing delay the window aims at (default 25us)")(
      "cc-flow-scale", po::value<std::string>(),
      "extra target (default 25us) as the window shrinks towards a tenth of a packet (Swift's flow "
      "scaling); "
      "0 = off")(
      "cc-loss-beta", po::value<std::string>(),
      "a loss shrinks the window by this x the fraction lost (default 1); 0 = loss is no signal");
  po::options_description impair(
      "Impairments (per path and direction; probabilities as 0.01 or 1%)");
  impair.add_options()("loss", po::value<std::string>()->default_value("1%"),
                       "packet loss probability")(
      "dup", po::value<std::string>()->default_value("0"), "duplication probability")(
      "reorder", po::value<std::string>()->default_value("0"),
      "probability a packet is held back (up to --reorder-delay) and overtaken")(
      "reorder-delay", po::value<std::string>()->default_value("50us"),
      "the most a reordered packet is held back")("corrupt",
                                                  po::value<std::string>()->default_value("0"),
                                                  "probability that bytes of a packet are flipped")(
      "jitter", po::value<std::string>()->default_value("0"),
      "uniform extra delay in [0, jitter]; keeps each path FIFO")(
      "blackhole",
      po::value<std::vector<std::string>>()->multitoken()->default_value({"2@10ms-40ms"},
                                                                         "2@10ms-40ms"),
      "[PATH|all][:a2b|:b2a]@START[-END]: the path (or every path) drops everything from "
      "START (until END), in both directions or only a2b (what side A sends: the data) or "
      "b2a (side B: the ACKs); repeatable; 'none' for no blackhole. Paths are numbered "
      "from 0");
  po::options_description faults(
      "Host faults (repeatable; HOST is receiver, server, sender, "
      "client or senderN)");
  faults.add_options()(
      "reload", po::value<std::vector<std::string>>()->multitoken(),
      "HOST@TIME: the host removes its peer and adds it again, as srdxd's SIGHUP reload "
      "does; its messages in flight fail with peer_removed, the workload goes on")(
      "restart", po::value<std::vector<std::string>>()->multitoken(),
      "HOST@TIME[:back]: the host's endpoint is replaced by a new one (new seed, larger "
      "epoch; ':back': its clock stepped back, a smaller epoch). A restarted sender "
      "abandons what it had in flight")(
      "freeze", po::value<std::vector<std::string>>()->multitoken(),
      "HOST@START-END: the whole host stops (no packets, timers or events; SIGSTOP); "
      "datagrams to it wait in a socket buffer of --freeze-buffer")(
      "freeze-buffer", po::value<std::string>()->default_value("256KiB"),
      "a frozen host's socket buffer; what does not fit is dropped")(
      "attack", po::value<std::vector<std::string>>()->multitoken(),
      "RATE[@START-END]: a blind attacker forges hellos, data and ACKs from each host's "
      "address to its peer, RATE datagrams/s (100k, 1M), from START to END (default: the "
      "whole run); nothing it sends may be delivered or create state")(
      "onpath", po::value<std::string>()->implicit_value("0ms"),
      "[START[-END]]: an on-path attacker taps the fabric (from START, default the whole "
      "run): it sees every datagram and copies, replays, alters, reflects, delays and "
      "forges them (--onpath-* below); with encryption on nothing it makes may be "
      "delivered, and only its drops may fail messages")(
      "onpath-drop", po::value<std::string>()->default_value("0"),
      "on-path: probability it drops a datagram (the only way it may break a connection)")(
      "onpath-max-drops", po::value<std::string>(), "on-path: drop at most this many")(
      "onpath-delay", po::value<std::string>()->default_value("5%"),
      "on-path: probability it holds a datagram back (up to --onpath-max-delay), reordering")(
      "onpath-max-delay", po::value<std::string>()->default_value("1ms"),
      "on-path: the longest it holds one back")(
      "onpath-copy", po::value<std::string>()->default_value("5%"),
      "on-path: probability it sends an exact copy at once")(
      "onpath-replay", po::value<std::string>()->default_value("5%"),
      "on-path: probability it replays an earlier datagram")(
      "onpath-alter", po::value<std::string>()->default_value("5%"),
      "on-path: probability it sends a copy with bits flipped (header, body or tag)")(
      "onpath-reflect", po::value<std::string>()->default_value("3%"),
      "on-path: probability it sends a copy back to its sender or to a third host")(
      "onpath-forge", po::value<std::string>()->default_value("5%"),
      "on-path: probability it forges a datagram from what it saw (hellos with its own or "
      "made-up keys, old hellos with fresh cookies, hello_acks, retries, closes, clear "
      "data and ACKs, sealed garbage)")(
      "clear",
      "encryption off (measurement only): the control, where an on-path attacker can "
      "inject messages and reset connections")(
      "configured-peers",
      "the receiver adds the senders as peers and refuses unknown ones "
      "(accept_unknown_peers off)");
  po::options_description workload("Workload");
  workload.add_options()(
      "workload", po::value<std::string>()->default_value("bulk"),
      "bulk: one sender streams --count messages of --size, --window outstanding;\n"
      "pingpong: the client sends a message, the server echoes it; RTT per round trip")(
      "size", po::value<std::string>(), "message size (default 64KiB for bulk, 64 for pingpong)")(
      "count", po::value<std::string>(),
      "messages per sender, or round trips (default 2000 for bulk, 10000 for pingpong)")(
      "window", po::value<std::string>()->default_value("32"),
      "bulk: messages outstanding per sender")(
      "ordered", "bulk: send each sender's messages as one ordered flow and check the order")(
      "seed", po::value<std::string>()->default_value("1"), "seeds the network and the endpoints")(
      "time-limit", po::value<std::string>()->default_value("10s"), "simulated time limit");
  po::options_description output("Output");
  output.add_options()("json", "print one JSON object instead of the table")(
      "timeline", po::value<std::string>(),
      "write the receiver's delivered bytes per interval to FILE: a '# interval_s' line, then "
      "'TIME_S BYTES' lines (simulated seconds from the start)")(
      "timeline-interval", po::value<std::string>()->default_value("1ms"),
      "the timeline's interval; the dip after a blackhole is judged on 5 ms windows of it")(
      "help,h", "show this help");
  po::options_description all;
  all.add(topology).add(cc).add(impair).add(faults).add(workload).add(output);

  try {
    po::variables_map vm;
    try {
      po::store(po::parse_command_line(argc, argv, all), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw UsageError{e.what()};
    }
    if (vm.count("help")) {
      std::cout << kUsage << "\n" << all << "\n" << kExamples;
      return kExitOk;
    }

    ScenarioConfig cfg;
    LinkParams& l = cfg.net.link;
    cfg.net.paths = static_cast<uint32_t>(parse_count("paths", get(vm, "paths"), 1, 4096));
    l.rate_bps = parse<uint64_t>(vm, "rate", parse_rate);
    l.delay = parse<Duration>(vm, "delay", parse_duration);
    l.queue_bytes = parse<uint64_t>(vm, "queue", parse_size);
    l.loss = parse<double>(vm, "loss", parse_probability);
    l.duplicate = parse<double>(vm, "dup", parse_probability);
    l.reorder = parse<double>(vm, "reorder", parse_probability);
    l.reorder_delay = parse<Duration>(vm, "reorder-delay", parse_duration);
    l.corrupt = parse<double>(vm, "corrupt", parse_probability);
    l.jitter = parse<Duration>(vm, "jitter", parse_duration);
    for (const std::string& b : vm["blackhole"].as<std::vector<std::string>>()) {
      if (b == "none") continue;
      Blackhole bh;
      Duration start, end;
      if (std::string err = parse_blackhole(b, bh.path, bh.dir, start, end); !err.empty()) {
        fail("blackhole", err);
      }
      if (bh.path != kAllPaths && bh.path >= cfg.net.paths) {
        fail("blackhole", "path " + std::to_string(bh.path) + " in '" + b +
                              "' does not exist; paths are 0.." +
                              std::to_string(cfg.net.paths - 1));
      }
      bh.start = Time::zero() + start;
      bh.end = end == Duration::infinite() ? Time::infinite() : Time::zero() + end;
      cfg.blackholes.push_back(bh);
    }
    auto strings = [&vm](const char* name) {
      return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
    };
    for (const std::string& t : strings("reload")) {
      std::string_view rest;
      const auto [h, at] = parse_host_at("reload", t, rest);
      if (!rest.empty()) fail("reload", "unexpected ':" + std::string(rest) + "' in '" + t + "'");
      cfg.reloads.push_back({Time::zero() + at, h});
    }
    for (const std::string& t : strings("restart")) {
      std::string_view rest;
      const auto [h, at] = parse_host_at("restart", t, rest);
      Clock clock = Clock::forward;
      if (rest == "back") {
        clock = Clock::stepped_back;
      } else if (!rest.empty()) {
        fail("restart", "unknown '" + std::string(rest) + "' in '" + t + "'; accepted: back");
      }
      cfg.restarts.push_back({Time::zero() + at, h, clock});
    }
    const uint64_t freeze_buffer = parse<uint64_t>(vm, "freeze-buffer", parse_size);
    for (const std::string& t : strings("freeze")) {
      const size_t at = t.find('@');
      if (at == std::string::npos) fail("freeze", "expected HOST@START-END in '" + t + "'");
      Freeze f;
      f.host = parse_host("freeze", std::string_view(t).substr(0, at));
      Time end;
      parse_window("freeze", std::string_view(t).substr(at + 1), f.start, end);
      if (end.is_infinite()) fail("freeze", "a freeze needs an end in '" + t + "'");
      f.length = end - f.start;
      f.queue_bytes = freeze_buffer;
      cfg.freezes.push_back(f);
    }
    for (const std::string& t : strings("attack")) {
      Attack a;
      const size_t at = t.find('@');
      uint64_t rate = 0;
      if (std::string err = parse_rate(std::string_view(t).substr(0, at), rate); !err.empty()) {
        fail("attack", err);
      }
      if (rate == 0 || rate > 1'000'000'000) fail("attack", "the rate must be 1 to 1G per second");
      a.rate_pps = rate;
      if (at != std::string::npos)
        parse_window("attack", std::string_view(t).substr(at + 1), a.start, a.end);
      cfg.attacks.push_back(a);
    }
    if (vm.count("onpath")) {
      OnPathConfig o;
      const std::string t = get(vm, "onpath");
      if (t.find('-') != std::string::npos) {
        parse_window("onpath", t, o.start, o.end);
      } else {
        Duration d;
        if (std::string err = parse_duration(t, d); !err.empty()) fail("onpath", err);
        o.start = Time::zero() + d;
      }
      o.drop = parse<double>(vm, "onpath-drop", parse_probability);
      if (vm.count("onpath-max-drops"))
        o.max_drops = parse_count("onpath-max-drops", get(vm, "onpath-max-drops"), 0, UINT64_MAX);
      o.delay = parse<double>(vm, "onpath-delay", parse_probability);
      o.max_delay = parse<Duration>(vm, "onpath-max-delay", parse_duration);
      if (o.max_delay <= Duration::zero()) fail("onpath-max-delay", "must be positive, e.g. 1ms");
      o.copy = parse<double>(vm, "onpath-copy", parse_probability);
      o.replay = parse<double>(vm, "onpath-replay", parse_probability);
      o.alter = parse<double>(vm, "onpath-alter", parse_probability);
      o.reflect = parse<double>(vm, "onpath-reflect", parse_probability);
      o.forge = parse<double>(vm, "onpath-forge", parse_probability);
      cfg.onpath = o;
    }
    if (vm.count("clear")) cfg.endpoint.encryption = false;
    if (vm.count("configured-peers")) cfg.endpoint.accept_unknown_peers = false;
    const std::string w = get(vm, "workload");
    if (w == "bulk") {
      cfg.workload = Workload::bulk;
    } else if (w == "pingpong" || w == "ping-pong") {
      cfg.workload = Workload::pingpong;
    } else {
      fail("workload", "unknown workload '" + w + "'; accepted: bulk, pingpong");
    }
    const bool bulk = cfg.workload == Workload::bulk;
    cfg.msg_size =
        vm.count("size") ? parse<uint64_t>(vm, "size", parse_size) : (bulk ? 64u << 10 : 64u);
    if (cfg.msg_size < 8) fail("size", "at least 8 bytes (each message carries its index)");
    cfg.count = vm.count("count") ? parse_count("count", get(vm, "count"), 1, 1u << 30)
                                  : (bulk ? 2000 : 10000);
    cfg.window = static_cast<uint32_t>(parse_count("window", get(vm, "window"), 1, 1u << 20));
    cfg.ordered = vm.count("ordered") > 0;
    cfg.senders = static_cast<uint32_t>(parse_count("senders", get(vm, "senders"), 1, 250));
    if (!bulk && cfg.senders != 1) fail("senders", "pingpong has exactly one client");
    cfg.seed = parse_count("seed", get(vm, "seed"), 0, UINT64_MAX);
    cfg.time_limit = parse<Duration>(vm, "time-limit", parse_duration);
    if (cfg.time_limit <= Duration::zero()) fail("time-limit", "must be positive, e.g. 10s");
    cfg.timeline_interval = parse<Duration>(vm, "timeline-interval", parse_duration);
    if (cfg.timeline_interval <= Duration::zero())
      fail("timeline-interval", "must be positive, e.g. 1ms");
    std::ofstream timeline;
    if (vm.count("timeline")) {
      timeline.open(get(vm, "timeline"));
      if (!timeline) fail("timeline", "cannot write '" + get(vm, "timeline") + "'");
    }
    for (const std::string& t : strings("sender-delay")) {
      const size_t colon = t.find(':');
      if (colon == std::string::npos) {
        fail("sender-delay", "expected senderN:DELAY in '" + t + "', e.g. sender1:490us");
      }
      const HostRef h = parse_host("sender-delay", std::string_view(t).substr(0, colon));
      if (h.role != Role::sender) fail("sender-delay", "only senders: '" + t + "'");
      Duration d;
      if (std::string err = parse_duration(std::string_view(t).substr(colon + 1), d); !err.empty())
        fail("sender-delay", err);
      if (h.sender >= cfg.senders) {
        fail("sender-delay", "no sender " + std::to_string(h.sender) + " (--senders " +
                                 std::to_string(cfg.senders) + ")");
      }
      cfg.sender_delay.resize(cfg.senders);
      cfg.sender_delay[h.sender] = d;
    }
    if (vm.count("cc-target"))
      cfg.endpoint.cc_target_delay = parse<Duration>(vm, "cc-target", parse_duration);
    if (vm.count("cc-flow-scale"))
      cfg.endpoint.cc_flow_scale_range = parse<Duration>(vm, "cc-flow-scale", parse_duration);
    if (vm.count("cc-initial-window"))
      cfg.endpoint.cc_initial_window = parse<uint64_t>(vm, "cc-initial-window", parse_size);
    if (vm.count("cc-loss-beta")) {
      const std::string t = get(vm, "cc-loss-beta");
      try {
        size_t used = 0;
        cfg.endpoint.cc_loss_beta = std::stod(t, &used);
        if (used != t.size()) throw std::invalid_argument(t);
      } catch (const std::logic_error&) {
        fail("cc-loss-beta", "expected a number, e.g. 1 or 0.5, not '" + t + "'");
      }
    }
    cfg.endpoint.mtu = static_cast<uint32_t>(parse_count("mtu", get(vm, "mtu"), 1, 65535));
    cfg.endpoint.paths_per_peer =
        static_cast<uint32_t>(parse_count("entropies", get(vm, "entropies"), 1, 65535));
    if (cfg.msg_size > cfg.endpoint.max_message_size) {
      fail("size", "at most " + format_size(cfg.endpoint.max_message_size) +
                       " (the endpoint's max_message_size)");
    }
    if (std::string err = cfg.endpoint.validate(); !err.empty()) {
      throw UsageError{"endpoint configuration (--mtu / --entropies / --cc-*): " + err};
    }
    if (std::string err = cfg.validate(); !err.empty()) throw UsageError{err};

    const ScenarioResult r = run_scenario(cfg);
    if (timeline.is_open()) {
      timeline << r.timeline.text();
      timeline.close();
      if (!timeline) fail("timeline", "could not write '" + get(vm, "timeline") + "'");
    }
    std::cout << (vm.count("json") ? report_json(cfg, r) : report_table(cfg, r));
    if (!vm.count("json") && bulk && cfg.senders > 1) {
      // Many-to-one: what the congestion control is judged on.
      const double capacity = static_cast<double>(l.rate_bps) * cfg.net.paths;
      std::printf(
          "incast     %u:1, goodput %.1f%% of the paths' %.2f Gbit/s; sender "
          "retransmissions %.3f%% of %llu data packets; Jain's fairness %.4f over "
          "the first %.3f ms (until a sender finished)\n",
          cfg.senders, capacity > 0 ? 100.0 * r.goodput_bps / capacity : 0.0, capacity / 1e9,
          r.sender_data_packets ? 100.0 * static_cast<double>(r.sender_retransmissions) /
                                      static_cast<double>(r.sender_data_packets)
                                : 0.0,
          static_cast<unsigned long long>(r.sender_data_packets), r.fairness,
          r.contended.us() / 1000.0);
      std::printf("per sender");
      for (uint64_t b : r.sender_bytes) std::printf(" %.1f", static_cast<double>(b) / 1e6);
      std::printf(" MB\n");
    }
    return r.ok() ? kExitOk : kExitInvariant;
  } catch (const UsageError& e) {
    std::cerr << "srdx-sim: " << e.message << " (see srdx-sim --help)\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "srdx-sim: error: " << e.what() << "\n";
    return kExitInvariant;
  }
}
