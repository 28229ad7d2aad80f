#include "ctl/replicate.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <thread>

#include "ctl/format.h"
#include "replicate/audit.h"
#include "replicate/store.h"

namespace po = boost::program_options;
using nlohmann::json;

namespace srdx::cli {

const char* const kReplicateUsage =
    R"(usage: srdxctl [global options] replicate SUBCOMMAND [options]

DR replication of a directory tree to a peer appliance (its srdxd has
[replication] dr-root; the files land in DR-ROOT/NAME there, each version
complete, verified and durable before it is visible).

Through srdxd (global --api, --token-file, --json apply):
  replicate start NAME --source DIR --peer PEER [--mode durable|received|async]
                  [--include GLOB]... [--once] [--chunk-size BYTES]
                         start job NAME: ship DIR to PEER, then keep watching it
                         for new and changed files (--once: one pass, then done).
                         --mode durable (default): a chunk counts once synced at
                         DR; received: once written there; async: no waiting.
                         --include: only the paths matching a glob (repeatable)
  replicate status [NAME|ID] [--watch]
                         every job as a table (state, files, bytes, rate, ETA,
                         lag), or one job; --watch: a live progress line on
                         stderr until the job is done (or caught up, for a
                         continuous job), fails, or Ctrl-C (the job runs on)
  replicate stop NAME|ID stop a job (it stays listed, state stopped)
  replicate barrier NAME|ID
                         wait (up to 30 s) until everything changed before now
                         is durable at DR; prints how long that took (RPO proof)

Local tools, no daemon needed:
  replicate verify DR_DIR
                         re-hash every file and kept version in DR_DIR (a job's
                         folder at DR) against its manifests; exit 1 and the list
                         of problems when one is found
  replicate restore DR_DIR TARGET [--path P] [--version V | --at TIME]
                         copy the live version (or version V of --path P, or the
                         newest version whose source mtime is at or before TIME:
                         2026-12-07T04:13:53Z or seconds since 1970) into TARGET,
                         re-hash the copy and print one proof line per file
  replicate audit LOG [--verify]
                         print the audit log's records (--json: the JSON lines);
                         --verify checks the hash chain and the head file: exit 1
                         naming the first bad line (edited, reordered, deleted)

Examples:
  srdxctl replicate start ehr --source /data/ehr --peer dr --include '*.ndjson'
  srdxctl replicate status ehr --watch
  srdxctl --json replicate status ehr
  srdxctl replicate barrier ehr              # how long until all of it was durable at DR
  srdxctl replicate stop ehr
  srdxctl replicate verify /srv/dr/ehr        # at the DR site
  srdxctl replicate restore /srv/dr/ehr /tmp/restored --at 2026-12-07T04:00:00Z
  srdxctl replicate audit /var/lib/srdx/audit.jsonl --verify

Exit status: 0 ok; 1 the daemon refused (400 bad request, 403 peer region not
allowed, 404 unknown job), a job watched failed or was stopped, a barrier not
confirmed, a problem found by verify or audit --verify, or a DR directory or
log that cannot be read; 2 usage; 3 daemon unreachable; 4 token refused;
130 --watch ended by Ctrl-C.
)";

po::options_description replicate_options(ReplicateOptions& o) {
  po::options_description d("replicate options");
  d.add_options()("source", po::value<std::string>(&o.source)->value_name("DIR"),
                  "start: the directory to replicate (absolute, or relative to here)")(
      "peer", po::value<std::string>(&o.peer)->value_name("PEER"), "start: the DR appliance")(
      "mode", po::value<std::string>(&o.mode)->default_value(o.mode),
      "start: durable, received or async")(
      "include", po::value<std::vector<std::string>>(&o.include)->composing()->value_name("GLOB"),
      "start: replicate only paths matching GLOB (repeatable)")(
      "once", po::bool_switch(&o.once), "start: one pass, then the job is done")(
      "chunk-size", po::value<std::string>(&o.chunk_size)->value_name("BYTES"),
      "start: chunk size, a power of two from 4096 to 16777216 (default 1048576)")(
      "watch", po::bool_switch(&o.watch), "status NAME: a live progress line until done")(
      "path", po::value<std::string>(&o.path)->value_name("P"),
      "restore: only this path (relative to the DR directory)")(
      "version", po::value<std::string>(&o.version)->value_name("V"),
      "restore: this version of --path")(
      "at", po::value<std::string>(&o.at)->value_name("TIME"),
      "restore: the newest version at or before TIME (2026-12-07T04:13:53Z or epoch seconds)")(
      "verify", po::bool_switch(&o.verify), "audit: check the chain instead of printing");
  return d;
}

bool replicate_is_local(const std::string& sub) {
  return sub == "verify" || sub == "restore" || sub == "audit";
}

namespace {

[[noreturn]] void usage(const std::string& message) {
  throw CtlError{kExitUsage, message + "\n(srdxctl replicate --help for usage)"};
}

void expect_args(const std::vector<std::string>& args, size_t min, size_t max,
                 const std::string& what) {
  if (args.size() - 1 < min || args.size() - 1 > max) usage("replicate " + args[0] + " " + what);
}

const json& field(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

std::string rate_text(const json& p) {
  const json& r = field(p, "rate_bytes_per_s");
  if (!r.is_number() || r.get<double>() <= 0) return "-";
  return format_bytes(json(static_cast<uint64_t>(r.get<double>()))) + "/s";
}

std::string eta_text(const json& p) { return format_uptime(field(p, "eta_s")); }

std::string lag_text(const json& p) {
  const json& s = field(p, "lag_seconds");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s.is_number() ? s.get<double>() : 0.0);
  return std::string(buf) + " / " + format_bytes(field(p, "lag_bytes"));
}

// "12.0 MiB/40.0 MiB (30%), files 12/40, 5.0 MiB/s, ETA 6s, lag 0.120 s / 3.0 MiB"
std::string progress_line(const json& job) {
  const json& p = field(job, "progress");
  const double total =
      field(p, "bytes_total").is_number() ? field(p, "bytes_total").get<double>() : 0;
  const double done = field(p, "bytes_done").is_number() ? field(p, "bytes_done").get<double>() : 0;
  char pct[16] = "";
  if (total > 0) std::snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * done / total);
  std::string line = format_value(field(job, "name")) + ": " + format_value(field(job, "state")) +
                     " " + format_bytes(field(p, "bytes_done")) + "/" +
                     format_bytes(field(p, "bytes_total")) + pct + ", files " +
                     format_value(field(p, "files_done")) + "/" +
                     format_value(field(p, "files_total")) + ", " + rate_text(p) + ", ETA " +
                     eta_text(p) + ", lag " + lag_text(p);
  const std::string error = format_value(field(job, "error"));
  if (!error.empty() && error != "-") line += ", error: " + error;
  return line;
}

void print_job(const json& job, bool as_json) {
  if (as_json) {
    std::cout << job.dump(2) << "\n";
    return;
  }
  const json& p = field(job, "progress");
  Table t({"", ""});
  t.add({"job", format_value(field(job, "id")) + " " + format_value(field(job, "name"))});
  t.add({"state", format_value(field(job, "state"))});
  const std::string error = format_value(field(job, "error"));
  if (!error.empty() && error != "-") t.add({"error", error});
  t.add({"source", format_value(field(job, "source"))});
  t.add({"peer", format_value(field(job, "peer"))});
  t.add({"mode", format_value(field(job, "mode")) +
                     (field(job, "continuous") == json(true) ? ", continuous" : ", one pass")});
  std::string inc;
  for (const json& g : field(job, "include"))
    inc += (inc.empty() ? "" : " ") + g.get<std::string>();
  t.add({"include", inc.empty() ? "everything" : inc});
  t.add({"files", format_value(field(p, "files_done")) + "/" +
                      format_value(field(p, "files_total")) + " done, " +
                      format_value(field(p, "files_pending")) + " pending, " +
                      format_value(field(p, "files_failed")) + " failed"});
  t.add({"bytes", format_bytes(field(p, "bytes_done")) + "/" +
                      format_bytes(field(p, "bytes_total")) + " committed at DR, " +
                      format_bytes(field(p, "bytes_sent")) + " sent"});
  t.add({"chunks", format_value(field(p, "chunks_sent")) + " sent, " +
                       format_value(field(p, "chunks_resent")) + " re-sent, " +
                       format_value(field(p, "chunks_skipped")) + " already at DR"});
  t.add({"rate", rate_text(p)});
  t.add({"eta", eta_text(p)});
  t.add({"lag", lag_text(p)});
  t.add({"verify failures", format_value(field(p, "verify_failures"))});
  t.align_left(1);
  const std::string text = t.render();
  std::cout << text.substr(text.find('\n') + 1);
}

volatile std::sig_atomic_t g_watch_stop = 0;
extern "C" void on_watch_signal(int) { g_watch_stop = 1; }

bool finished(const json& job) {
  const std::string s = format_value(field(job, "state"));
  if (s == "done" || s == "failed" || s == "stopped") return true;
  return field(job, "continuous") == json(true) && field(job, "caught_up") == json(true);
}

int watch(ApiClient& api, const std::string& who, bool as_json) {
  struct sigaction sa {};
  sa.sa_handler = on_watch_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto next_line = std::chrono::steady_clock::now();
  json job;
  for (;;) {
    job = api.get("/v1/replications/" + path_segment(who)).doc;
    const bool over = finished(job);
    if (tty) {
      std::cerr << "\r\033[K" << progress_line(job) << std::flush;
    } else if (over || std::chrono::steady_clock::now() >= next_line) {
      std::cerr << progress_line(job) << "\n";
      next_line = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    if (over || g_watch_stop) break;
    for (int i = 0; i < 25 && !g_watch_stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (tty) std::cerr << "\n";
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  print_job(job, as_json);
  if (g_watch_stop && !finished(job)) {
    std::cerr << "srdxctl: stopped watching; the job runs on (srdxctl replicate stop "
              << format_value(field(job, "name")) << " stops it)\n";
    return kExitSignalBase + SIGINT;
  }
  const std::string s = format_value(field(job, "state"));
  if (s == "failed") {
    throw CtlError{kExitDaemonError, "replication job " + format_value(field(job, "name")) +
                                         " failed: " + format_value(field(job, "error"))};
  }
  if (s == "stopped") {
    throw CtlError{kExitDaemonError,
                   "replication job " + format_value(field(job, "name")) + " was stopped"};
  }
  return kExitOk;
}

uint64_t whole(const std::string& option, const std::string& text) {
  if (text.empty() || text.size() > 18)
    usage("--" + option + ": '" + text + "' is not a whole number");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') usage("--" + option + ": '" + text + "' is not a whole number");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// 2026-12-07T04:13:53Z, 2026-12-07T04:13:53.250Z, or seconds since 1970.
int64_t parse_time_ns(const std::string& text) {
  const std::string accepted =
      "--at: '" + text +
      "' is not a time; accepted: 2026-12-07T04:13:53Z (UTC) or seconds since 1970";
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<int64_t>(whole("at", text)) * 1'000'000'000;
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) usage(accepted);
  int64_t frac_ns = 0;
  if (*end == '.') {
    ++end;
    int64_t scale = 100'000'000;
    if (!std::isdigit(static_cast<unsigned char>(*end))) usage(accepted);
    while (std::isdigit(static_cast<unsigned char>(*end))) {
      frac_ns += (*end - '0') * scale;
      scale /= 10;
      ++end;
    }
  }
  if (std::string(end) != "Z") usage(accepted);
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000 + frac_ns;
}

int cmd_verify(const std::string& dir, bool as_json) {
  const auto r = replicate::verify(dir);
  if (!r.ok()) throw CtlError{kExitDaemonError, "verify " + dir + ": " + r.error.message};
  if (as_json) {
    json problems = json::array();
    for (const auto& p : r.value)
      problems.push_back({{"path", p.path}, {"version", p.version}, {"what", p.what}});
    std::cout << json({{"dr_dir", dir}, {"ok", r.value.empty()}, {"problems", problems}}).dump(2)
              << "\n";
  } else if (r.value.empty()) {
    std::cout << "verify " << dir
              << ": ok, every live file and kept version matches its manifest\n";
  } else {
    std::cout << "verify " << dir << ": " << r.value.size() << " problems\n";
    for (const auto& p : r.value)
      std::cout << "  " << p.path << " (version " << p.version << "): " << p.what << "\n";
  }
  return r.value.empty() ? kExitOk : kExitDaemonError;
}

int cmd_restore(const std::string& dir, const std::string& target, const ReplicateOptions& o,
                bool as_json) {
  replicate::RestorePoint point;
  if (!o.version.empty() && !o.at.empty()) usage("restore: --version and --at exclude each other");
  if (!o.version.empty()) {
    if (o.path.empty()) usage("restore: --version needs --path (versions are per file)");
    point.version = whole("version", o.version);
  }
  if (!o.at.empty()) point.at_or_before_mtime_ns = parse_time_ns(o.at);
  const auto r = replicate::restore(dir, o.path, point, target);
  if (!r.ok()) throw CtlError{kExitDaemonError, "restore " + dir + ": " + r.error.message};
  if (as_json) {
    json files = json::array();
    for (const auto& f : r.value)
      files.push_back(
          {{"path", f.path}, {"version", f.version}, {"root", replicate::to_hex(f.root)}});
    std::cout << json({{"dr_dir", dir}, {"target", target}, {"restored", files}}).dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& f : r.value) {
    std::cout << "restored " << f.path << " version " << f.version << ": re-hashed, Merkle root "
              << replicate::to_hex(f.root) << " equals the manifest's\n";
  }
  std::cout << r.value.size() << " files restored into " << target << "\n";
  return kExitOk;
}

int cmd_audit(const std::string& log, bool verify, bool as_json) {
  if (verify) {
    const replicate::AuditVerify v = replicate::verify_audit(log);
    if (as_json) {
      std::cout << json({{"log", log},
                         {"ok", v.ok},
                         {"records", v.records},
                         {"line", v.line},
                         {"reason", v.reason},
                         {"head_checked", v.head_checked}})
                       .dump(2)
                << "\n";
    } else if (v.ok) {
      std::cout << "audit " << log << ": ok, " << v.records << " records, hash chain intact"
                << (v.head_checked ? ", head file matches" : " (no head file to check)") << "\n";
    }
    if (!v.ok) {
      throw CtlError{kExitDaemonError,
                     "audit " + log + ": " +
                         (v.line > 0 ? "line " + std::to_string(v.line) + ": " : std::string()) +
                         v.reason};
    }
    return kExitOk;
  }
  std::ifstream in(log);
  if (!in) throw CtlError{kExitDaemonError, "audit " + log + ": cannot open it"};
  Table t({"SEQ", "TIME", "EVENT", "JOB", "PEER", "FILE", "VERSION", "SIZE", "DETAIL"});
  for (size_t c = 1; c <= 8; ++c)
    if (c != 6 && c != 7) t.align_left(c);
  std::string line;
  size_t n = 0;
  int bad = 0;
  while (std::getline(in, line)) {
    ++n;
    if (as_json) {
      std::cout << line << "\n";
      continue;
    }
    const auto parsed = replicate::parse_audit_line(line);
    if (!parsed.ok()) {
      std::cerr << "srdxctl: audit " << log << ": line " << n << ": " << parsed.error << "\n";
      ++bad;
      continue;
    }
    const replicate::AuditRecord& r = parsed.value.record;
    const std::string peer = r.peer.substr(0, r.peer.find(' '));
    t.add({std::to_string(parsed.value.seq), r.time, r.event, r.job, peer, r.file.value_or("-"),
           r.version ? std::to_string(*r.version) : "-", r.size ? std::to_string(*r.size) : "-",
           r.detail.value_or("")});
  }
  if (!as_json) std::cout << t.render();
  if (bad > 0) {
    throw CtlError{kExitDaemonError, "audit " + log + ": " + std::to_string(bad) +
                                         " lines are not valid records (replicate audit " + log +
                                         " --verify checks the chain)"};
  }
  return kExitOk;
}

}  // namespace

int cmd_replicate_local(const std::vector<std::string>& args, const ReplicateOptions& o,
                        bool as_json) {
  const std::string& sub = args[0];
  if (sub == "verify") {
    expect_args(args, 1, 1, "needs one DR_DIR (a job's folder at DR: DR-ROOT/NAME)");
    return cmd_verify(args[1], as_json);
  }
  if (sub == "restore") {
    expect_args(args, 2, 2, "needs DR_DIR and TARGET");
    return cmd_restore(args[1], args[2], o, as_json);
  }
  expect_args(args, 1, 1, "needs one LOG (the audit log file)");
  return cmd_audit(args[1], o.verify, as_json);
}

int cmd_replicate_api(ApiClient& api, const std::vector<std::string>& args,
                      const ReplicateOptions& o, bool as_json) {
  const std::string& sub = args[0];
  if (sub == "start") {
    expect_args(args, 1, 1, "needs one NAME (the job's name; the DR stores it in DR-ROOT/NAME)");
    if (o.source.empty()) usage("replicate start: --source DIR is required");
    if (o.peer.empty()) usage("replicate start: --peer PEER is required");
    std::string source = o.source;
    if (source[0] != '/') {
      char cwd[4096];
      if (getcwd(cwd, sizeof cwd) == nullptr) usage("replicate start: --source: cannot resolve it");
      source = std::string(cwd) + "/" + source;
    }
    json req = {{"name", args[1]},
                {"source", source},
                {"peer", o.peer},
                {"mode", o.mode},
                {"continuous", !o.once}};
    if (!o.include.empty()) req["include"] = o.include;
    if (!o.chunk_size.empty()) req["chunk_size"] = whole("chunk-size", o.chunk_size);
    const Reply r = api.post("/v1/replications", req);
    if (as_json) {
      std::cout << r.doc.dump(2) << "\n";
    } else {
      std::cout << "replication job " << format_value(field(r.doc, "id")) << " ("
                << format_value(field(r.doc, "name")) << ") started: " << source << " to " << o.peer
                << ", mode " << o.mode << (o.once ? ", one pass" : ", continuous") << "\n";
    }
    if (!as_json && isatty(STDERR_FILENO) != 0) {
      std::cerr << "srdxctl replicate status " << args[1] << " --watch follows it\n";
    }
    return kExitOk;
  }
  if (sub == "status") {
    expect_args(args, 0, 1, "takes at most one NAME or ID");
    if (args.size() == 2) {
      if (o.watch) return watch(api, args[1], as_json);
      print_job(api.get("/v1/replications/" + path_segment(args[1])).doc, as_json);
      return kExitOk;
    }
    if (o.watch) usage("replicate status --watch needs a job NAME or ID");
    const Reply r = api.get("/v1/replications");
    if (as_json) {
      std::cout << r.doc.dump(2) << "\n";
      return kExitOk;
    }
    Table t(
        {"ID", "NAME", "PEER", "MODE", "STATE", "FILES", "DONE", "TOTAL", "RATE", "ETA", "LAG"});
    for (size_t c = 1; c <= 4; ++c) t.align_left(c);
    for (const json& j : field(r.doc, "replications")) {
      const json& p = field(j, "progress");
      t.add({format_value(field(j, "id")), format_value(field(j, "name")),
             format_value(field(j, "peer")), format_value(field(j, "mode")),
             format_value(field(j, "state")),
             format_value(field(p, "files_done")) + "/" + format_value(field(p, "files_total")),
             format_bytes(field(p, "bytes_done")), format_bytes(field(p, "bytes_total")),
             rate_text(p), eta_text(p), lag_text(p)});
    }
    std::cout << t.render();
    return kExitOk;
  }
  if (sub == "stop") {
    expect_args(args, 1, 1, "needs one NAME or ID");
    const Reply r = api.del("/v1/replications/" + path_segment(args[1]));
    if (!as_json && field(r.doc, "stopped") == json(false)) {
      std::cerr << "srdxctl: replication job " << args[1] << " was already stopped\n";
    }
    print_job(r.doc, as_json);
    return kExitOk;
  }
  if (sub == "barrier") {
    expect_args(args, 1, 1, "needs one NAME or ID");
    api.set_read_timeout(40);  // the daemon waits up to 30 s
    const Reply r =
        api.post("/v1/replications/" + path_segment(args[1]) + "/barrier", json::object());
    if (as_json) {
      std::cout << r.doc.dump(2) << "\n";
    } else {
      char buf[64];
      std::snprintf(
          buf, sizeof buf, "%.6f",
          field(r.doc, "seconds").is_number() ? field(r.doc, "seconds").get<double>() : 0.0);
      std::cout << "barrier ok: everything written to job " << args[1]
                << " before now is durable at DR (" << buf << " s)\n";
    }
    return kExitOk;
  }
  usage("unknown replicate subcommand '" + sub +
        "'; accepted: start, status, stop, barrier, verify, restore, audit");
}

}  // namespace srdx::cli
