// srdxctl: the command line client of srdxd's control API.
//
//   srdxctl status
//   srdxctl peers
//   srdxctl paths b
//   srdxctl probe b --transport both --count 1000 --size 64
//   srdxctl probe b --count 1000000 --interval-us 1000 --detach   (prints the id)
//   srdxctl probes [ID]
//   srdxctl cancel ID
//   umask 077; srdxctl genkey > key; srdxctl pubkey < key     (no daemon needed)
//   srdxctl replicate start|status|stop|barrier|verify|restore|audit ...   (replicate.cc)
//
// Human tables by default, the daemon's JSON with --json. The exit status
// says what went wrong (see kUsageText below): scripts tell a daemon that is
// down (3) from a refused token (4) from a request the daemon rejected (1).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ctl/client.h"
#include "ctl/format.h"
#include "ctl/replicate.h"
#include "ctl/telemetry_cmd.h"
#include "srdx/keys.h"

namespace po = boost::program_options;
using nlohmann::json;
using namespace srdx::cli;

namespace {

constexpr const char* kDefaultApi = "127.0.0.1:7480";
#ifndef SRDX_SYSCONFDIR
#define SRDX_SYSCONFDIR "/etc"  // meson passes the configured one, as to srdxd
#endif
constexpr const char* kDefaultTokenFile = SRDX_SYSCONFDIR "/srdx/token";

constexpr const char* kUsageText =
    R"(usage: srdxctl [global options] COMMAND [command options]

Commands:
  status                 daemon version, uptime, link, engine summary
  peers                  every peer: up, RTT, window, messages, retransmissions
  paths PEER             the peer's paths (one per entropy): state, RTT, losses
  counters               every endpoint, link, poller and API counter
  probe PEER [--size N] [--count N] [--interval-us N] [--transport srdx|tcp|both]
             [--detach]
                         measure RTT to PEER over srdx and/or TCP; a progress
                         line on stderr while it runs, then p50/p90/p99/p99.9/max
                         side by side and tcp/srdx ratios. Ctrl-C, SIGTERM or
                         SIGHUP cancel the probe on the daemon and print what it
                         measured so far (SIGHUP is left alone under nohup); a
                         second signal a second or more later quits at once.
                         --detach: print the new probe's id and return at once;
                         the probe runs on (see probes ID, cancel ID) with no
                         lease; a waiting probe is read every 100 ms, and one
                         not read for 30 s (srdxctl killed) ends on the daemon
  probes [ID]            the probes the daemon knows, running or finished: id,
                         peer, state, progress, p50/p99; with ID, that probe's
                         progress and its results so far
  cancel ID              cancel a running probe; prints its final state and the
                         results it kept (the daemon keeps partial results)
  genkey                 print a new X25519 private key (base64) for an
                         appliance's [keys] private-key-file; no daemon needed
  pubkey                 read a private key on stdin, print its public key: what
                         the other appliance puts in key= of its peer line (and
                         /v1/status shows as public_key)
  replicate SUBCOMMAND   DR replication: start, status [--watch], stop, barrier
                         through srdxd; verify, restore, audit [--verify] on
                         local files (srdxctl replicate --help explains them)
  telemetry status       the MQTT telemetry bridge: role, broker, messages in
                         and out, lag, spool, gaps, duplicates, last alarms

Keys (as with wg genkey | wg pubkey), on each appliance:
  umask 077; srdxctl genkey > /etc/srdx/private.key   # never world-readable
  srdxctl pubkey < /etc/srdx/private.key              # give this to the peers
  then in srdxd.conf:  [keys] private-key-file = /etc/srdx/private.key
  and on the other side: peer = a=198.18.1.2:47000,key=<that public key>

Examples:
  srdxctl --api 10.0.0.1:7480 --token-file ~/srdx.token peers
  srdxctl probe b --count 10000 --interval-us 100
  srdxctl --json probe b --transport srdx      # the probe's JSON when it ends
  id=$(srdxctl probe b --count 1000000 --interval-us 1000 --detach)
  srdxctl probes "$id"                         # how far it got, results so far
  srdxctl cancel "$id"                         # stop it, print partial results
  timeout -s TERM 60 srdxctl probe b --count 1000000   # cancelled after 60 s

Exit status:
  0    ok; cancel: the probe is no longer running (also when it had already
       finished: its state is printed); probes ID: whatever the probe's state
  1    the daemon answered with an error (unknown peer, unknown probe id, bad
       request, too many probes running, draining), or the probe that
       `srdxctl probe` waited for failed or was cancelled by someone else;
       replicate: a job refused (403: peer region), a watched job failed,
       a barrier not confirmed, verify or audit --verify found a problem
  2    usage: bad command line, unreadable token file
  3    cannot reach the daemon (not running, wrong --api)
  4    unauthorized: the daemon refused the token
  128+N  srdxctl probe stopped by signal N: 130 Ctrl-C (SIGINT), 143 SIGTERM,
       129 SIGHUP; the probe was cancelled on the daemon first and what it had
       measured printed
)";

// with_version false: `replicate restore` has a --version of its own.
po::options_description global_options(bool with_version = true) {
  po::options_description d("Global options");
  d.add_options()("api", po::value<std::string>()->value_name("HOST:PORT"),
                  "srdxd's control API, HOST:PORT or unix:PATH (default 127.0.0.1:7480, env "
                  "SRDXCTL_API)")("token-file", po::value<std::string>()->value_name("FILE"),
                                  "bearer token file (default " SRDX_SYSCONFDIR
                                  "/srdx/token, env SRDXCTL_TOKEN_FILE)")(
      "json", po::bool_switch(), "print the daemon's JSON instead of a table")(
      "help,h", po::bool_switch(), "this help");
  if (with_version) d.add_options()("version", po::bool_switch(), "srdxctl's version");
  return d;
}

// Kept as text: Boost's unsigned parser takes "-1" as 4294967295. Ranges are
// the daemon's to check (it answers 400 with the limits).
struct ProbeOptions {
  std::string size = "64";
  std::string count = "1000";
  std::string interval_us = "0";
  std::string transport = "both";
  bool detach = false;
};

uint64_t whole_number(const std::string& option, const std::string& text);

po::options_description probe_options(ProbeOptions& p) {
  po::options_description d("probe options");
  d.add_options()("size", po::value<std::string>(&p.size)->default_value(p.size),
                  "message size in bytes")("count",
                                           po::value<std::string>(&p.count)->default_value(p.count),
                                           "round trips per transport")(
      "interval-us", po::value<std::string>(&p.interval_us)->default_value(p.interval_us),
      "pause between round trips, microseconds")(
      "transport", po::value<std::string>(&p.transport)->default_value(p.transport),
      "srdx, tcp or both (alternating)")(
      "detach", po::bool_switch(&p.detach),
      "print the probe's id (--json: the daemon's reply) and exit 0 without waiting");
  return d;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Options that take a value, so that the value is not mistaken for the
// command (srdxctl --api 127.0.0.1:7480 status).
bool takes_value(const std::string& arg) { return arg == "--api" || arg == "--token-file"; }

struct CommandLine {
  std::string command;
  std::vector<std::string> args;  // everything but the command itself
};

CommandLine split(int argc, char** argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (cl.command.empty() && !a.empty() && a[0] != '-') {
      cl.command = a;
      continue;
    }
    cl.args.push_back(a);
    if (cl.command.empty() && takes_value(a) && i + 1 < argc) cl.args.push_back(argv[++i]);
  }
  return cl;
}

void print_json(const Reply& r) {
  std::cout << r.body;
  if (r.body.empty() || r.body.back() != '\n') std::cout << '\n';
}

const json& field(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

// ---- commands -----------------------------------------------------------------

int cmd_status(ApiClient& api, bool as_json) {
  const Reply r = api.get("/v1/status");
  if (as_json) return print_json(r), kExitOk;
  const json& d = r.doc;
  const json& link = field(d, "link");
  const json& engine = field(d, "engine");
  Table t({"", ""});
  t.add({"srdxd", format_value(field(d, "version"))});
  t.add({"state", format_value(field(d, "state"))});
  t.add({"uptime", format_uptime(field(d, "uptime_s"))});
  t.add({"link", format_value(field(link, "kind")) + " " + format_value(field(link, "local"))});
  const json& enc = field(d, "encryption");
  t.add({"encryption", enc.is_boolean() ? (enc.get<bool>() ? "on" : "OFF (measurement only)")
                                        : format_value(enc)});
  t.add({"public key", format_value(field(d, "public_key"))});
  t.add({"instance", format_value(field(engine, "instance"))});
  t.add({"peers", format_value(field(engine, "peers")) + " (" +
                      format_value(field(engine, "peers_up")) + " up)"});
  t.align_left(1);
  // No header line: it is a list of facts, not a table.
  const std::string text = t.render();
  std::cout << text.substr(text.find('\n') + 1);
  return kExitOk;
}

int cmd_peers(ApiClient& api, bool as_json) {
  const Reply r = api.get("/v1/peers");
  if (as_json) return print_json(r), kExitOk;
  Table t({"PEER", "ADDRESS", "UP", "SRTT", "MIN RTT", "CWND", "INFLIGHT", "COMPLETED", "FAILED",
           "RECEIVED", "RETRANSMITTED"});
  t.align_left(1);
  t.align_left(2);
  for (const json& p : field(r.doc, "peers")) {
    t.add({format_value(field(p, "name")), format_value(field(p, "address")),
           format_value(field(p, "up")), format_us(field(p, "srtt_us")),
           format_us(field(p, "min_rtt_us")), format_bytes(field(p, "cwnd_bytes")),
           format_bytes(field(p, "inflight_bytes")), format_value(field(p, "messages_completed")),
           format_value(field(p, "messages_failed")), format_value(field(p, "messages_received")),
           format_value(field(p, "retransmissions"))});
  }
  std::cout << t.render();
  return kExitOk;
}

int cmd_paths(ApiClient& api, bool as_json, const std::string& peer) {
  const Reply r = api.get("/v1/peers/" + path_segment(peer) + "/paths");
  if (as_json) return print_json(r), kExitOk;
  Table t({"ENTROPY", "STATE", "SRTT", "RTTVAR", "MIN RTT", "SENT", "ACKED", "LOST", "TIMEOUTS",
           "INFLIGHT", "GEN"});
  t.align_left(1);
  for (const json& p : field(r.doc, "paths")) {
    t.add({format_value(field(p, "entropy")), format_value(field(p, "state")),
           format_us(field(p, "srtt_us")), format_us(field(p, "rttvar_us")),
           format_us(field(p, "min_rtt_us")), format_value(field(p, "packets_sent")),
           format_value(field(p, "packets_acked")), format_value(field(p, "packets_lost")),
           format_value(field(p, "timeouts")), format_value(field(p, "inflight")),
           format_value(field(p, "generation"))});
  }
  std::cout << "peer " << format_value(field(r.doc, "peer")) << "\n" << t.render();
  return kExitOk;
}

int cmd_counters(ApiClient& api, bool as_json) {
  const Reply r = api.get("/v1/counters");
  if (as_json) return print_json(r), kExitOk;
  Table t({"COUNTER", "VALUE"});
  for (const auto& [name, value] : flatten(r.doc)) t.add({name, value});
  std::cout << t.render();
  return kExitOk;
}

int cmd_probes(ApiClient& api, bool as_json) {
  const Reply r = api.get("/v1/probes");
  if (as_json) return print_json(r), kExitOk;
  const json& list = r.doc.is_array() ? r.doc : field(r.doc, "probes");
  Table t({"ID", "PEER", "TRANSPORT", "STATE", "PROGRESS", "SRDX P50", "SRDX P99", "TCP P50",
           "TCP P99"});
  t.align_left(1);
  t.align_left(2);
  t.align_left(3);
  for (const json& p : list) {
    const json& results = field(p, "results");
    const json& srdx = field(results, "srdx");
    const json& tcp = field(results, "tcp");
    t.add({format_value(field(p, "id")), format_value(field(p, "peer")),
           format_value(field(p, "transport")), format_value(field(p, "state")), probe_progress(p),
           format_us(field(srdx, "p50_us")), format_us(field(srdx, "p99_us")),
           format_us(field(tcp, "p50_us")), format_us(field(tcp, "p99_us"))});
  }
  std::cout << t.render();
  return kExitOk;
}

// An unknown probe id gets a hint on where to find the right one.
[[noreturn]] void rethrow_with_probe_hint(const CtlError& e) {
  if (e.http_status != 404) throw e;
  throw CtlError{e.exit_code,
                 e.message +
                     "\n(srdxctl probes lists the probes srdxd knows; it keeps the newest " +
                     "256 finished ones)",
                 e.http_status};
}

void print_probe(const json& probe, bool as_json) {
  if (as_json) {
    std::cout << probe.dump(2) << "\n";
  } else {
    std::cout << probe_heading(probe) << probe_table(probe);
  }
}

// srdxctl probes ID: one probe, running or finished.
int cmd_probe_status(ApiClient& api, bool as_json, const std::string& id) {
  try {
    print_probe(api.get("/v1/probes/" + path_segment(id)).doc, as_json);
  } catch (const CtlError& e) {
    rethrow_with_probe_hint(e);
  }
  return kExitOk;
}

// GET, then DELETE, which answers the probe as it stands after the cancel
// and whether that request stopped it (`was_running`; false: it had
// finished, or been cancelled, before). The GET first: nothing is asked of a
// daemon that does not answer (srdxctl may give up on it at a second signal).
json cancel_probe(ApiClient& api, const std::string& id, bool& was_running) {
  const std::string where = "/v1/probes/" + path_segment(id);
  try {
    api.get(where);
    json doc = api.del(where).doc;
    was_running = doc.is_object() && doc.value("stopped", false);
    if (doc.is_object()) doc.erase("stopped");
    return doc;
  } catch (const CtlError& e) {
    rethrow_with_probe_hint(e);
  }
}

int cmd_cancel(ApiClient& api, bool as_json, const std::string& id) {
  bool was_running = false;
  const json probe = cancel_probe(api, id, was_running);
  if (!was_running) {
    const std::string state = format_value(field(probe, "state"));
    std::cerr << "srdxctl: probe " << id
              << (state == "cancelled" ? " was already cancelled"
                                       : " had already finished (" + state + ")")
              << "; nothing to cancel\n";
  }
  print_probe(probe, as_json);
  return kExitOk;
}

// SIGINT, SIGTERM and SIGHUP while `srdxctl probe` waits: the signal's number.
volatile std::sig_atomic_t g_stop_signal = 0;
// When the first one came (CLOCK_MONOTONIC); only the handler uses it, and
// the handler runs with the stop signals blocked, so never twice at once.
timespec g_stop_signal_at{};

// The first stop signal asks for the probe to be cancelled. Another within a
// second is the same request again (timeout(1) sends its signal to srdxctl
// and then to srdxctl's whole process group); one later quits at once, without
// waiting for the daemon, in case it does not answer.
extern "C" void on_stop_signal(int sig) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (g_stop_signal == 0) {
    g_stop_signal_at = now;
    g_stop_signal = sig;
    return;
  }
  const long long since_ns = (now.tv_sec - g_stop_signal_at.tv_sec) * 1'000'000'000LL +
                             (now.tv_nsec - g_stop_signal_at.tv_nsec);
  if (since_ns < 1'000'000'000LL) return;
  // Dies of `sig` when the handler returns (it is blocked until then).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "Ctrl-C (SIGINT)";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
  }
  return "a signal";
}

// From here on a stop signal cancels the probe (see on_stop_signal). SIGHUP
// ignored at start (nohup) stays ignored. SIGINT is caught even when ignored at start, as a shell
// script's background job gets it, so that `kill -INT` still cancels.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig : kStopSignals) sigaddset(&sa.sa_mask, sig);
    for (size_t i = 0; i < std::size(kStopSignals); ++i) {
      sigaction(kStopSignals[i], nullptr, &old_[i]);
      if (kStopSignals[i] == SIGHUP && old_[i].sa_handler == SIG_IGN) continue;
      sigaction(kStopSignals[i], &sa, nullptr);
    }
  }
  ~StopSignals() {
    for (size_t i = 0; i < std::size(kStopSignals); ++i)
      sigaction(kStopSignals[i], &old_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_[std::size(kStopSignals)]{};
};

// The probe is cancelled on the daemon before anything is printed, so that
// a closed pipe or terminal cannot leave it running.
int stop_probe(ApiClient& api, bool as_json, const std::string& id, bool tty, int sig) {
  if (tty) std::cerr << "\r\033[K" << std::flush;
  bool was_running = false;
  json probe;
  try {
    probe = cancel_probe(api, id, was_running);
  } catch (const CtlError& e) {
    throw CtlError{e.exit_code,
                   std::string(signal_name(sig)) + ": could not cancel probe " + id +
                       " (it may still be running; srdxctl cancel " + id + "): " + e.message,
                   e.http_status};
  }
  if (was_running) {
    std::cerr << "srdxctl: " << signal_name(sig) << ": probe " << id << " cancelled after "
              << probe_progress(probe) << "\n";
  } else {
    std::cerr << "srdxctl: " << signal_name(sig) << ": probe " << id << " had already finished ("
              << format_value(field(probe, "state")) << ")\n";
  }
  print_probe(probe, as_json);
  return kExitSignalBase + sig;
}

int cmd_probe(ApiClient& api, bool as_json, const std::string& peer, const ProbeOptions& o) {
  json request = {{"peer", peer},
                  {"transport", o.transport},
                  {"size", whole_number("size", o.size)},
                  {"count", whole_number("count", o.count)},
                  {"interval_us", whole_number("interval-us", o.interval_us)}};
  if (o.detach) {
    // Nobody polls a detached probe: it runs without a lease (the daemon's
    // cap on count x interval still bounds it).
    request["lease_s"] = 0;
    const Reply started = api.post("/v1/probes", request);
    const std::string id = format_value(field(started.doc, "id"));
    if (as_json) {
      print_json(started);
    } else {
      std::cout << id << "\n";
    }
    if (isatty(STDERR_FILENO) != 0) {
      std::cerr << "probe " << id << " to " << peer << " started: srdxctl probes " << id
                << " shows it, srdxctl cancel " << id << " stops it\n";
    }
    return kExitOk;
  }

  const StopSignals stop_signals;
  const Reply started = api.post("/v1/probes", request);
  const std::string id = format_value(field(started.doc, "id"));
  const std::string where = "/v1/probes/" + path_segment(id);
  const bool tty = isatty(STDERR_FILENO) != 0;
  using clock = std::chrono::steady_clock;
  auto next_line = clock::now();

  json probe = started.doc;
  for (;;) {
    if (g_stop_signal != 0) return stop_probe(api, as_json, id, tty, g_stop_signal);
    probe = api.get(where).doc;
    const std::string state = format_value(field(probe, "state"));
    if (state != "running") break;
    // One line kept up to date on a terminal; a line a second otherwise.
    if (tty) {
      std::cerr << "\r\033[Kprobe " << id << " to " << peer << " (" << o.transport
                << "): " << probe_progress(probe) << std::flush;
    } else if (clock::now() >= next_line) {
      std::cerr << "probe " << id << " to " << peer << " (" << o.transport
                << "): " << probe_progress(probe) << "\n";
      next_line = clock::now() + std::chrono::seconds(1);
    }
    for (int i = 0; i < 10 && g_stop_signal == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (tty) std::cerr << "\r\033[K" << std::flush;

  const std::string state = format_value(field(probe, "state"));
  print_probe(probe, as_json);
  if (state == "failed") {
    throw CtlError{kExitDaemonError,
                   "probe " + id + " failed: " + format_value(field(probe, "error"))};
  }
  if (state == "cancelled") {
    throw CtlError{kExitDaemonError, "probe " + id + " was cancelled (not by this srdxctl)"};
  }
  return kExitOk;
}

// ---- main ---------------------------------------------------------------------

[[noreturn]] void usage_error(const std::string& message) {
  throw CtlError{kExitUsage, message + "\n(srdxctl --help for usage)"};
}

uint64_t whole_number(const std::string& option, const std::string& text) {
  uint64_t v = 0;
  if (text.empty() || text.size() > 18)
    usage_error("--" + option + ": '" + text + "' is not a whole number");
  for (char c : text) {
    if (c < '0' || c > '9') usage_error("--" + option + ": '" + text + "' is not a whole number");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// srdxctl genkey: a fresh private key on stdout. Like wg, a warning when
// stdout is a file others may read.
int cmd_genkey() {
  struct stat st {};
  if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) != 0) {
    std::cerr << "srdxctl: warning: writing a private key to a world-readable file; srdxd will "
                 "refuse it (set umask 077 first, or chmod 600 the file)\n";
  }
  srdx::PrivateKey key = srdx::generate_private_key();
  std::cout << srdx::key_to_base64(key) << "\n";
  key.fill(0);
  return kExitOk;
}

// srdxctl pubkey: the public key of the private key on stdin.
int cmd_pubkey() {
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const std::optional<srdx::PrivateKey> key = srdx::key_from_base64(text);
  std::fill(text.begin(), text.end(), '\0');
  if (!key || srdx::is_zero(*key)) {
    throw CtlError{kExitUsage,
                   "pubkey: stdin does not hold a private key; accepted: 44 characters of "
                   "base64, as srdxctl genkey prints (srdxctl pubkey < private.key)"};
  }
  srdx::PrivateKey priv = *key;
  std::cout << srdx::key_to_base64(srdx::public_key_of(priv)) << "\n";
  priv.fill(0);
  return kExitOk;
}

int run(int argc, char** argv) {
  const CommandLine cl = split(argc, argv);
  const bool replicate = cl.command == "replicate";
  po::options_description global = global_options(!replicate);
  ProbeOptions probe;
  ReplicateOptions rep;
  po::options_description all("");
  all.add(global);
  std::vector<std::string> positional;
  all.add_options()("arg", po::value<std::vector<std::string>>(&positional), "");
  if (cl.command == "probe") all.add(probe_options(probe));
  if (replicate) all.add(replicate_options(rep));
  po::positional_options_description pos;
  pos.add("arg", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(cl.args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    usage_error(e.what());
  }
  if (vm["help"].as<bool>() && replicate) {
    ReplicateOptions defaults;
    std::cout << kReplicateUsage << "\n" << global << "\n" << replicate_options(defaults) << "\n";
    return kExitOk;
  }
  if (vm["help"].as<bool>()) {
    std::cout << kUsageText << "\n" << global;
    if (cl.command == "probe") {
      ProbeOptions defaults;
      std::cout << "\n" << probe_options(defaults) << "\n";
    }
    return kExitOk;
  }
  if (!replicate && vm["version"].as<bool>()) {
    std::cout << "srdxctl 0.1.0\n";
    return kExitOk;
  }
  if (cl.command.empty()) usage_error("no command given");

  struct Command {
    const char* name;
    size_t min_args, max_args;  // positional arguments after the command
    const char* args_error;     // when their number is wrong
  };
  static const Command kCommands[] = {
      {"status", 0, 0, "status takes no arguments"},
      {"peers", 0, 0, "peers takes no arguments"},
      {"paths", 1, 1, "paths needs one PEER"},
      {"counters", 0, 0, "counters takes no arguments"},
      {"probe", 1, 1, "probe needs one PEER"},
      {"probes", 0, 1, "probes takes at most one probe ID"},
      {"cancel", 1, 1, "cancel needs one probe ID (srdxctl probes lists them)"},
      {"genkey", 0, 0, "genkey takes no arguments (umask 077; srdxctl genkey > FILE)"},
      {"pubkey", 0, 0, "pubkey takes no arguments; it reads the private key on stdin"},
      {"replicate", 1, 3,
       "replicate needs a subcommand: start, status, stop, barrier, verify, restore, audit"},
      {"telemetry", 1, 1, "telemetry needs a subcommand: status"}};
  const Command* cmd = nullptr;
  for (const Command& c : kCommands) {
    if (cl.command == c.name) cmd = &c;
  }
  if (cmd == nullptr) usage_error("unknown command '" + cl.command + "'");
  if (positional.size() < cmd->min_args || positional.size() > cmd->max_args) {
    usage_error(cmd->args_error);
  }
  if ((cl.command == "probes" || cl.command == "cancel") && !positional.empty() &&
      positional[0].empty()) {
    usage_error(cl.command + ": the probe ID is empty");
  }
  if (cl.command == "probe") {
    if (probe.transport != "srdx" && probe.transport != "tcp" && probe.transport != "both") {
      usage_error("--transport: '" + probe.transport + "' is not srdx, tcp or both");
    }
    whole_number("size", probe.size);
    whole_number("count", probe.count);
    whole_number("interval-us", probe.interval_us);
  }
  // Keys are made here; no daemon is asked.
  if (cl.command == "genkey") return cmd_genkey();
  if (cl.command == "pubkey") return cmd_pubkey();
  if (replicate && replicate_is_local(positional[0])) {
    return cmd_replicate_local(positional, rep, vm["json"].as<bool>());
  }

  const std::string api_text =
      vm.count("api") ? vm["api"].as<std::string>() : env_or("SRDXCTL_API", kDefaultApi);
  const auto endpoint = parse_endpoint(api_text);
  if (!endpoint) usage_error("--api: '" + api_text + "' is not HOST:PORT or unix:PATH");
  const std::string token_file = vm.count("token-file")
                                     ? vm["token-file"].as<std::string>()
                                     : env_or("SRDXCTL_TOKEN_FILE", kDefaultTokenFile);
  ApiClient api(*endpoint, read_token(token_file));
  const bool as_json = vm["json"].as<bool>();

  if (cl.command == "status") return cmd_status(api, as_json);
  if (cl.command == "peers") return cmd_peers(api, as_json);
  if (cl.command == "paths") return cmd_paths(api, as_json, positional[0]);
  if (cl.command == "counters") return cmd_counters(api, as_json);
  if (cl.command == "probe") return cmd_probe(api, as_json, positional[0], probe);
  if (cl.command == "cancel") return cmd_cancel(api, as_json, positional[0]);
  if (replicate) return cmd_replicate_api(api, positional, rep, as_json);
  if (cl.command == "telemetry") return cmd_telemetry(api, positional, as_json);
  if (!positional.empty()) return cmd_probe_status(api, as_json, positional[0]);
  return cmd_probes(api, as_json);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const CtlError& e) {
    std::cerr << "srdxctl: " << e.message << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "srdxctl: " << e.what() << "\n";
    return kExitDaemonError;
  }
}
