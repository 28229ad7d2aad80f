#include "jobs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "log.h"
#include "loop/clock.h"
#include "srdx/keys.h"

namespace srdx::ctl {

using nlohmann::json;
namespace rp = replicate;

namespace {

constexpr const char* kJobsFile = "jobs.json";

JobManager::Answer err(int status, const std::string& msg) { return {status, {{"error", msg}}}; }

json progress_json(const rp::Progress& p) {
  const uint64_t remaining = p.bytes_total > p.bytes_done ? p.bytes_total - p.bytes_done : 0;
  json eta = nullptr;
  if (remaining == 0 && p.bytes_total > 0) {
    eta = 0.0;
  } else if (p.rate_bytes_per_s > 0) {
    eta = static_cast<double>(remaining) / p.rate_bytes_per_s;
  }
  return {{"files_total", p.files_total},
          {"files_done", p.files_done},
          {"files_failed", p.files_failed},
          {"files_pending", p.files_pending},
          {"bytes_total", p.bytes_total},
          {"bytes_done", p.bytes_done},
          {"bytes_sent", p.bytes_sent},
          {"chunks_sent", p.chunks_sent},
          {"chunks_resent", p.chunks_resent},
          {"chunks_skipped", p.chunks_skipped},
          {"verify_failures", p.verify_failures},
          {"rate_bytes_per_s", p.rate_bytes_per_s},
          {"eta_s", eta},
          {"lag_seconds", p.lag_seconds},
          {"lag_bytes", p.lag_bytes},
          {"elapsed_s", p.elapsed_s}};
}

void progress_from_json(const json& j, rp::Progress& p) {
  if (!j.is_object()) return;
  auto u = [&](const char* k, uint64_t& out) {
    if (j.contains(k) && j[k].is_number_unsigned()) out = j[k].get<uint64_t>();
  };
  auto d = [&](const char* k, double& out) {
    if (j.contains(k) && j[k].is_number()) out = j[k].get<double>();
  };
  u("files_total", p.files_total);
  u("files_done", p.files_done);
  u("files_failed", p.files_failed);
  u("files_pending", p.files_pending);
  u("bytes_total", p.bytes_total);
  u("bytes_done", p.bytes_done);
  u("bytes_sent", p.bytes_sent);
  u("chunks_sent", p.chunks_sent);
  u("chunks_resent", p.chunks_resent);
  u("chunks_skipped", p.chunks_skipped);
  u("verify_failures", p.verify_failures);
  u("lag_bytes", p.lag_bytes);
  d("lag_seconds", p.lag_seconds);
  d("elapsed_s", p.elapsed_s);
  // The rate is of a past run: not kept.
}

bool running_state(const std::string& s) { return s != "done" && s != "failed" && s != "stopped"; }

// mkdir -p with mode 0700 for what it creates.
std::string make_dirs(const std::string& path) {
  std::string at;
  size_t i = 0;
  while (i < path.size()) {
    const size_t j = path.find('/', i + 1);
    at = path.substr(0, j);
    i = j == std::string::npos ? path.size() : j;
    if (at.empty() || at == "/") continue;
    if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) {
      return "cannot create " + at + " (" + std::strerror(errno) + ")";
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return path + " is not a directory";
  return {};
}

std::string write_file_durably(const std::string& dir, const std::string& name,
                               const std::string& text) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot write " + tmp + " (" + std::strerror(errno) + ")";
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return "cannot write " + tmp + " (" + std::strerror(e) + ")";
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    return "cannot sync " + tmp + " (" + std::strerror(e) + ")";
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return "cannot rename " + tmp + " to " + path + " (" + std::strerror(errno) + ")";
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

// The source directory as a job needs it: there, a directory, readable.
std::string check_source(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return "source: " + dir + ": " + std::strerror(errno) + "; accepted: an existing directory";
  }
  if (!S_ISDIR(st.st_mode)) return "source: " + dir + " is not a directory";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr || ::access(dir.c_str(), R_OK | X_OK) != 0) {
    const int e = errno;
    if (d != nullptr) ::closedir(d);
    return "source: " + dir + ": cannot read it (" + std::strerror(e) + ")";
  }
  ::closedir(d);
  return {};
}

}  // namespace

std::string JobManager::make_state_dir(const std::string& dir) {
  if (std::string e = make_dirs(dir); !e.empty()) {
    return "--replication.state-dir: " + e +
           "; set replication.state-dir to a directory srdxd may create and write";
  }
  return {};
}

std::string JobManager::peer_identity(const PeerConfig& p) {
  return is_zero(p.key) ? p.name : p.name + " key=" + key_to_base64(p.key);
}

JobManager::JobManager(ReplicationConfig cfg, carrier::Carrier& carrier, rp::AuditLog* audit,
                       Hooks hooks)
    : cfg_(std::move(cfg)), carrier_(carrier), audit_(audit), hooks_(std::move(hooks)) {}

JobManager::~JobManager() { shutdown(); }

void JobManager::audit(const std::string& event, const std::string& job, const std::string& peer,
                       const std::string& detail) {
  if (audit_ == nullptr) return;
  rp::AuditRecord r;
  r.event = event;
  r.job = job;
  r.peer = peer;
  if (!detail.empty()) r.detail = detail;
  const auto res = audit_->append(r);
  if (!res.ok()) {
    SRDX_LOG_ERROR("audit log %s: cannot record %s of job %s: %s", audit_->path().c_str(),
                   event.c_str(), job.c_str(), res.error.c_str());
  }
}

std::string JobManager::load() {
  if (std::string e = make_state_dir(cfg_.state_dir); !e.empty()) return e;
  const std::string path = cfg_.state_dir + "/" + kJobsFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return {};
    return path + ": cannot read (" + std::strerror(errno) + ")";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json doc;
  try {
    doc = json::parse(ss.str());
  } catch (const json::exception& e) {
    return path + ": not valid JSON (" + e.what() +
           "); move it away to start without the jobs it held";
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    next_id_ = doc.value("next_id", uint64_t{1});
    for (const json& j : doc.at("jobs")) {
      auto job = std::make_shared<Job>();
      job->id = j.at("id").get<uint64_t>();
      job->name = j.at("name").get<std::string>();
      job->source = j.at("source").get<std::string>();
      job->peer = j.at("peer").get<std::string>();
      job->mode = j.at("mode").get<std::string>();
      job->include = j.value("include", std::vector<std::string>{});
      job->continuous = j.value("continuous", true);
      job->chunk_size = j.value("chunk_size", uint32_t{rp::kDefaultChunkSize});
      job->created = j.value("created", 0.0);
      job->stopped = j.value("stopped", false);
      job->state = j.value("state", std::string("starting"));
      job->error = j.value("error", std::string());
      if (j.contains("progress")) progress_from_json(j["progress"], job->last);
      next_id_ = std::max(next_id_, job->id + 1);
      jobs_.push_back(std::move(job));
    }
  } catch (const json::exception& e) {
    jobs_.clear();
    return path + ": not a jobs file (" + e.what() +
           "); move it away to start without the jobs it held";
  }
  return {};
}

void JobManager::resume() {
  std::vector<std::shared_ptr<Job>> again;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& j : jobs_) {
      if (!j->stopped && running_state(j->state)) again.push_back(j);
    }
  }
  for (const auto& j : again) start_job(j, true);
  if (!again.empty()) {
    SRDX_LOG_INFO("replication: %zu jobs resumed from %s/%s", again.size(), cfg_.state_dir.c_str(),
                  kJobsFile);
  }
  saver_ = std::thread([this] { saver_main(); });
}

void JobManager::shutdown() {
  {
    std::lock_guard<std::mutex> lock(saver_mu_);
    if (saver_stop_) return;
    saver_stop_ = true;
  }
  saver_cv_.notify_all();
  if (saver_.joinable()) saver_.join();
  // The carrier thread has stopped: the Sources are ours to stop.
  std::vector<std::shared_ptr<rp::Source>> srcs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    srcs = retired_;
    for (const auto& j : jobs_) {
      if (j->src) {
        const rp::Progress p = j->src->progress();
        j->last = p;
        if (!j->stopped) {
          j->state = std::string(rp::to_string(p.state));
          j->error = p.error;
        }
        srcs.push_back(std::move(j->src));
        j->src.reset();
      }
    }
    retired_.clear();
  }
  // Their state as it was before the stop (which makes a Source report
  // "stopped"): a running job stays running in jobs.json, and resumes.
  for (const auto& s : srcs) s->stop();
  save();
  live_.clear();
}

std::shared_ptr<JobManager::Job> JobManager::find_locked(const std::string& id_or_name) const {
  for (const auto& j : jobs_)
    if (std::to_string(j->id) == id_or_name) return j;
  for (const auto& j : jobs_)
    if (j->name == id_or_name) return j;
  return nullptr;
}

rp::Progress JobManager::progress_locked(const Job& j) const {
  return j.src ? j.src->progress() : j.last;
}

std::string JobManager::state_locked(const Job& j) const {
  if (j.stopped) return "stopped";
  if (j.src) return std::string(rp::to_string(j.src->progress().state));
  return j.state;
}

json JobManager::job_json_locked(const Job& j) const {
  const rp::Progress p = progress_locked(j);
  const std::string state = j.stopped ? "stopped"
                            : j.src   ? std::string(rp::to_string(p.state))
                                      : j.state;
  const std::string error = j.src && !p.error.empty() ? p.error : j.error;
  json doc = {{"id", std::to_string(j.id)},
              {"name", j.name},
              {"source", j.source},
              {"peer", j.peer},
              {"mode", j.mode},
              {"include", j.include},
              {"continuous", j.continuous},
              {"chunk_size", j.chunk_size},
              {"created", j.created},
              {"state", state},
              {"error", error},
              {"progress", progress_json(p)}};
  // Caught up: every file seen is committed at DR and nothing is waiting.
  // files_done counts every version committed (a continuous job's changed
  // files count again); files_total is at least that (session.cc, publish).
  doc["caught_up"] = (state == "done" || state == "watching") && p.files_done >= p.files_total &&
                     p.files_pending == 0 && p.lag_bytes == 0;
  return doc;
}

JobManager::Answer JobManager::create(const ReplicationRequest& r) {
  rp::Mode mode{};
  if (!rp::parse_mode(r.mode, mode)) {
    return err(400, "mode: '" + r.mode + "' is not a mode; accepted: durable, received, async");
  }
  if (std::string e = check_source(r.source); !e.empty()) return err(400, e);
  if (std::string why = cfg_.unencrypted_refusal(); !why.empty()) {
    SRDX_LOG_WARN("replication job %s refused: %s", r.name.c_str(), why.c_str());
    audit("refused", r.name, r.peer, why);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++refused_;
    }
    return err(403, why);
  }
  const std::optional<PeerConfig> peer = hooks_.find_peer(r.peer);
  if (!peer) {
    return err(400, "peer: unknown peer '" + r.peer +
                        "'; accepted: a peer of [peers] (srdxctl peers lists them)");
  }
  if (!cfg_.allowed_regions.empty() &&
      std::find(cfg_.allowed_regions.begin(), cfg_.allowed_regions.end(), peer->region) ==
          cfg_.allowed_regions.end()) {
    std::string allowed;
    for (const std::string& a : cfg_.allowed_regions) allowed += (allowed.empty() ? "" : ", ") + a;
    const std::string why =
        "peer '" + peer->name + "' is " +
        (peer->region.empty() ? std::string("in no region (its peer line has no region=)")
                              : "in region '" + peer->region + "'") +
        ", not in replication.allowed-regions (" + allowed + "): replicas stay in those regions";
    SRDX_LOG_WARN("replication job %s refused: %s", r.name.c_str(), why.c_str());
    audit("refused", r.name, peer_identity(*peer), why);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++refused_;
    }
    return err(403, why);
  }
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if ((*it)->name != r.name) continue;
      if (!(*it)->stopped && running_state(state_locked(**it))) {
        return err(400, "name: a job named '" + r.name + "' is running (id " +
                            std::to_string((*it)->id) +
                            "); stop it first (srdxctl replicate stop " + r.name +
                            ") or choose another name");
      }
      // A finished or stopped job of that name is replaced (the DR resumes
      // into the same DR-ROOT/NAME). Its Source stays alive until shutdown.
      if ((*it)->src) {
        std::shared_ptr<rp::Source> old = (*it)->src;
        hooks_.post([this, old](Time) {
          old->stop();
          std::erase(live_, old);
        });
        retired_.push_back(old);
      }
      jobs_.erase(it);
      break;
    }
    job = std::make_shared<Job>();
    job->id = next_id_++;
    job->name = r.name;
    job->source = r.source;
    job->peer = r.peer;
    job->mode = r.mode;
    job->include = r.include;
    job->continuous = r.continuous;
    job->chunk_size = r.chunk_size;
    job->created = dp::wall_seconds();
    job->state = "starting";
    jobs_.push_back(job);
  }
  save();
  start_job(job, false);
  std::lock_guard<std::mutex> lock(mu_);
  return {201, job_json_locked(*job)};
}

void JobManager::start_job(const std::shared_ptr<Job>& j, bool resumed) {
  rp::SourceOptions opt;
  opt.job_id = j->id;
  opt.job_name = j->name;
  opt.source_dir = j->source;
  rp::parse_mode(j->mode, opt.mode);
  opt.include = j->include;
  opt.chunk_size = j->chunk_size;
  opt.continuous = j->continuous;
  const std::optional<PeerConfig> peer = hooks_.find_peer(j->peer);
  opt.peer_name = peer ? peer_identity(*peer) : j->peer;
  audit("job_started", j->name, opt.peer_name,
        std::string(resumed ? "resumed after a restart of srdxd; " : "") + "source " + j->source +
            ", mode " + j->mode + (j->continuous ? ", continuous" : ", one pass"));
  SRDX_LOG_INFO("replication job %llu (%s): %s %s to %s, mode %s%s",
                static_cast<unsigned long long>(j->id), j->name.c_str(),
                resumed ? "resuming" : "starting", j->source.c_str(), j->peer.c_str(),
                j->mode.c_str(), j->continuous ? ", continuous" : ", one pass");
  hooks_.post([this, j, opt = std::move(opt)](Time now) mutable {
    const PeerId id = hooks_.peer_id(j->peer);
    std::lock_guard<std::mutex> lock(mu_);
    if (j->stopped) return;
    if (std::string why = cfg_.unencrypted_refusal(); !why.empty()) {
      // A job of jobs.json, with the config changed to encryption off since.
      j->state = "failed";
      j->error = why;
      SRDX_LOG_ERROR("replication job %s: %s", j->name.c_str(), j->error.c_str());
      return;
    }
    if (id == kNoPeer) {
      j->state = "failed";
      j->error = "peer '" + j->peer + "' is not configured (any more)";
      SRDX_LOG_ERROR("replication job %s: %s", j->name.c_str(), j->error.c_str());
      return;
    }
    auto src = std::make_shared<rp::Source>(std::move(opt), carrier_, id, audit_);
    src->start(now);
    live_.push_back(src);
    j->src = std::move(src);
  });
}

json JobManager::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  json out = json::array();
  for (const auto& j : jobs_) out.push_back(job_json_locked(*j));
  return {{"replications", out}};
}

JobManager::Answer JobManager::get(const std::string& id_or_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto j = find_locked(id_or_name);
  if (!j) return err(404, "unknown replication job '" + id_or_name + "'");
  return {200, job_json_locked(*j)};
}

JobManager::Answer JobManager::stop(const std::string& id_or_name) {
  std::shared_ptr<Job> j;
  bool was_stopped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    j = find_locked(id_or_name);
    if (!j) return err(404, "unknown replication job '" + id_or_name + "'");
    was_stopped = j->stopped;
    if (!was_stopped) {
      if (j->src) j->last = j->src->progress();
      j->stopped = true;
      j->state = "stopped";
      if (std::shared_ptr<rp::Source> src = j->src) {
        hooks_.post([this, src](Time) {
          src->stop();
          std::erase(live_, src);
        });
      }
    }
  }
  if (!was_stopped) {
    const std::optional<PeerConfig> peer = hooks_.find_peer(j->peer);
    audit("job_stopped", j->name, peer ? peer_identity(*peer) : j->peer, "stopped by the API");
    SRDX_LOG_INFO("replication job %llu (%s) stopped", static_cast<unsigned long long>(j->id),
                  j->name.c_str());
    save();
  }
  std::lock_guard<std::mutex> lock(mu_);
  json doc = job_json_locked(*j);
  doc["stopped"] = !was_stopped;
  return {200, doc};
}

JobManager::Answer JobManager::barrier(const std::string& id_or_name,
                                       std::chrono::milliseconds timeout) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false, ok = false;
    double seconds = 0;
  };
  std::shared_ptr<rp::Source> src;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto j = find_locked(id_or_name);
    if (!j) return err(404, "unknown replication job '" + id_or_name + "'");
    name = j->name;
    if (j->stopped || !j->src) {
      return err(409, "replication job '" + j->name + "' is not running (state " +
                          state_locked(*j) + "): no barrier to wait for");
    }
    src = j->src;
  }
  auto w = std::make_shared<Wait>();
  const auto started = std::chrono::steady_clock::now();
  hooks_.post([src, w](Time) {
    src->barrier([w](bool ok, double seconds) {
      std::lock_guard<std::mutex> lock(w->mu);
      w->done = true;
      w->ok = ok;
      w->seconds = seconds;
      w->cv.notify_all();
    });
  });
  std::unique_lock<std::mutex> lock(w->mu);
  if (!w->cv.wait_for(lock, timeout, [&] { return w->done; })) {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string waiting = src->progress().barrier_waiting;
    SRDX_LOG_WARN("replication job %s: a barrier timed out after %.1f s, waiting for %s",
                  name.c_str(), waited, waiting.empty() ? "?" : waiting.c_str());
    return {504,
            {{"ok", false},
             {"job", name},
             {"seconds", waited},
             {"waiting_for", waiting},
             {"error", "barrier: the DR did not confirm within " +
                           std::to_string(timeout.count() / 1000) +
                           " s (is the peer up? srdxctl replicate status " + name + ")"}}};
  }
  if (!w->ok) {
    return {502,
            {{"ok", false},
             {"job", name},
             {"seconds", w->seconds},
             {"error",
              "barrier: failed: the DR went down, or the job stopped or failed, before it "
              "confirmed (srdxctl replicate status " +
                  name + ")"}}};
  }
  return {200, {{"ok", true}, {"job", name}, {"seconds", w->seconds}}};
}

std::vector<ReplicationJobMetrics> JobManager::metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReplicationJobMetrics> out;
  for (const auto& j : jobs_) {
    const rp::Progress p = progress_locked(*j);
    ReplicationJobMetrics m;
    m.job = j->name;
    m.state = j->stopped ? "stopped" : j->src ? std::string(rp::to_string(p.state)) : j->state;
    m.lag_seconds = p.lag_seconds;
    m.lag_bytes = p.lag_bytes;
    m.bytes_sent = p.bytes_sent;
    m.bytes_committed = p.bytes_done;
    m.files_pending = p.files_pending;
    m.files_failed = p.files_failed;
    m.chunks_resent = p.chunks_resent;
    m.verify_failures = p.verify_failures;
    out.push_back(std::move(m));
  }
  return out;
}

uint64_t JobManager::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

size_t JobManager::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

bool JobManager::on_event(const Event& ev, Time now) {
  for (const auto& s : live_)
    if (s->on_event(ev, now)) return true;
  return false;
}

void JobManager::tick(Time now) {
  for (const auto& s : live_) s->tick(now);
}

std::string JobManager::save() {
  std::lock_guard<std::mutex> save_lock(save_mu_);
  json doc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    json list = json::array();
    for (const auto& j : jobs_) {
      const rp::Progress p = progress_locked(*j);
      list.push_back({{"id", j->id},
                      {"name", j->name},
                      {"source", j->source},
                      {"peer", j->peer},
                      {"mode", j->mode},
                      {"include", j->include},
                      {"continuous", j->continuous},
                      {"chunk_size", j->chunk_size},
                      {"created", j->created},
                      {"stopped", j->stopped},
                      {"state", j->stopped ? std::string("stopped") : state_locked(*j)},
                      {"error", j->src && !p.error.empty() ? p.error : j->error},
                      {"progress", progress_json(p)}});
    }
    doc = {{"version", 1}, {"next_id", next_id_}, {"jobs", list}};
  }
  const std::string e = write_file_durably(
      cfg_.state_dir, kJobsFile, doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  if (!e.empty()) SRDX_LOG_ERROR("replication: job state not saved: %s", e.c_str());
  return e;
}

// Once a second: a job whose state changed (done, failed, back to syncing)
// is audited and saved; progress is saved every 10 s while jobs run.
void JobManager::saver_main() {
  std::unique_lock<std::mutex> slock(saver_mu_);
  int since_save = 0;
  while (!saver_stop_) {
    if (saver_cv_.wait_for(slock, std::chrono::seconds(1), [this] { return saver_stop_; })) break;
    struct Change {
      std::string job, peer, event, detail;
    };
    std::vector<Change> changes;
    bool any_running = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& j : jobs_) {
        if (!j->src || j->stopped) continue;
        const rp::Progress p = j->src->progress();
        const std::string state(rp::to_string(p.state));
        any_running = any_running || running_state(state);
        if (state == j->state) continue;
        if (state == "done") {
          changes.push_back({j->name, j->peer, "job_done",
                             std::to_string(p.files_done) + " files, " +
                                 std::to_string(p.bytes_done) + " bytes committed at DR"});
        } else if (state == "failed") {
          changes.push_back({j->name, j->peer, "job_failed", p.error});
          SRDX_LOG_ERROR("replication job %s failed: %s", j->name.c_str(), p.error.c_str());
        }
        j->state = state;
        j->error = p.error;
        j->last = p;
        changes.push_back({});  // saved below
      }
    }
    for (const Change& c : changes) {
      if (c.event.empty()) continue;
      const std::optional<PeerConfig> peer = hooks_.find_peer(c.peer);
      audit(c.event, c.job, peer ? peer_identity(*peer) : c.peer, c.detail);
    }
    ++since_save;
    if (!changes.empty() || (any_running && since_save >= 10)) {
      slock.unlock();
      save();
      slock.lock();
      since_save = 0;
    }
  }
}

}  // namespace srdx::ctl
