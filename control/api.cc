#include "api.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <vector>

#include "daemon.h"
#include "log.h"
#include "loop/clock.h"
#include "metrics.h"
#include "request.h"

namespace srdx::ctl {

using nlohmann::json;

namespace {

// A 64-bit id as 16 hex digits (JSON numbers lose precision past 2^53).
std::string format_hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

// POST /v1/replications/{id}/barrier waits this long for the DR.
constexpr std::chrono::milliseconds kBarrierTimeout{30000};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void reply(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void error(httplib::Response& res, int status, const std::string& msg) {
  res.status = status;
  res.set_content(error_json(msg), "application/json");
}

std::string_view path_state(PathState s) {
  switch (s) {
    case PathState::active:
      return "active";
    case PathState::probation:
      return "probation";
    case PathState::retired:
      return "retired";
  }
  return "?";
}

}  // namespace

json peer_json(const PeerSnapshot& p) {
  const PeerStats& s = p.stats;
  return {{"name", p.cfg.name},
          {"address", format_addr(p.cfg.addr)},
          {"tcp_port", p.cfg.tcp_port},
          {"up", s.up},
          {"srtt_us", s.srtt.us()},
          {"min_rtt_us", s.min_rtt.us()},
          {"cwnd_bytes", s.cwnd_bytes},
          {"inflight_bytes", s.inflight_bytes},
          {"messages_queued", s.messages_queued},
          {"messages_completed", s.messages_completed},
          {"messages_failed", s.messages_failed},
          {"messages_received", s.messages_received},
          {"retransmissions", s.retransmissions},
          {"bytes_acked", s.bytes_acked},
          {"bytes_received", s.bytes_received}};
}

json paths_json(const PeerSnapshot& p) {
  json paths = json::array();
  for (const PathStats& ps : p.paths) {
    paths.push_back({{"entropy", ps.entropy},
                     {"state", std::string(path_state(ps.state))},
                     {"srtt_us", ps.srtt.us()},
                     {"rttvar_us", ps.rttvar.us()},
                     {"min_rtt_us", ps.min_rtt.us()},
                     {"last_rtt_us", ps.last_rtt.us()},
                     {"packets_sent", ps.packets_sent},
                     {"packets_acked", ps.packets_acked},
                     {"packets_lost", ps.packets_lost},
                     {"timeouts", ps.timeouts},
                     {"inflight", ps.inflight},
                     {"generation", ps.generation}});
  }
  return {{"peer", p.cfg.name}, {"paths", paths}};
}

json counters_json(const Snapshot& s, const ApiCounters& api) {
  json ep = json::object();
#define SRDX_J(f) ep[#f] = s.ep.f;
  SRDX_ENDPOINT_COUNTERS(SRDX_J)
#undef SRDX_J
  json drops = json::object();
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    drops[std::string(to_string(static_cast<DropReason>(i)))] = s.ep.drops[i];
  }
  ep["drops"] = drops;
  ep["buffered_messages"] = s.buffered_messages;
  ep["buffered_bytes"] = s.buffered_bytes;
  json link = json::object();
  link["kind"] = s.link_kind;
#define SRDX_J(f) link[#f] = s.link.f;
  SRDX_LINK_COUNTERS(SRDX_J)
#undef SRDX_J
  json backend = json::object();
  for (const auto& [name, v] : s.link_backend) backend[name] = v;
  link["backend"] = backend;
  json poller = json::object();
#define SRDX_J(f) poller[#f] = s.poller.f;
  SRDX_POLLER_COUNTERS(SRDX_J)
#undef SRDX_J
  return {{"endpoint", ep},
          {"link", link},
          {"poller", poller},
          {"echo",
           {{"served", s.echo_served},
            {"failed", s.echo_failed},
            {"refused", s.echo_refused},
            {"unserved_messages", s.other_flow_dropped},
            {"tcp_connections", s.tcp_echo_connections},
            {"tcp_bytes", s.tcp_echo_bytes},
            {"tcp_refused", s.tcp_echo_refused},
            {"tcp_idle_closed", s.tcp_echo_idle_closed},
            {"tcp_over_cap", s.tcp_echo_over_cap}}},
          {"api",
           {{"requests", api.requests},
            {"unauthorized", api.unauthorized},
            {"forbidden", api.forbidden},
            {"bad_requests", api.bad_requests},
            {"connections_refused",
             {{"deadline", api.refused_deadline},
              {"per_client", api.refused_per_client},
              {"queue_full", api.refused_queue_full}}}}}};
}

namespace {

// Where the daemon listens and sends from: the link's local address, the
// entropy (source) port range, the DPDK device, the TCP echo listener and the
// control API.
json ports_json(const DaemonConfig& c, const Snapshot& s, const TcpEchoServer& echo) {
  const dp::EntropyPorts& e = c.link.entropy;
  json link = {{"local", format_addr(s.link_local)},
               {"local_port", s.link_local.port},
               {"entropy_ports",
                {{"first", e.first_port},
                 {"count", e.port_count},
                 {"last", uint32_t{e.first_port} + e.port_count - 1}}}};
  if (c.link.kind == "dpdk") {
    link["dpdk_device"] = c.link.device;
    link["dpdk_queues"] = c.link.queues;
  }
  // The echo's state: "listening", "off" (services.tcp-echo = off) or
  // "unavailable" (a dpdk link's IP the kernel does not have; the reason).
  json echo_state = {{"state", !c.tcp_echo                   ? "off"
                               : !echo.unavailable().empty() ? "unavailable"
                                                             : "listening"}};
  if (!echo.unavailable().empty()) echo_state["reason"] = echo.unavailable();
  echo_state["idle_timeout_s"] = c.tcp_echo_idle_timeout.sec();
  echo_state["max_per_source"] = c.tcp_echo_max_per_source;
  return {{"link", link},
          {"tcp_echo", c.tcp_echo ? json(format_addr(c.tcp_echo_addr)) : json(nullptr)},
          {"tcp_echo_service", echo_state},
          {"control", control_listen_text(c)}};
}

// The dpdk link's port state for /v1/status, from its backend counters:
// "up", "removed", "speed_mbps" and the event counts; nothing for other links.
void add_port_state(json& link, const Snapshot& s) {
  bool has = false;
  json events = json::object();
  for (const auto& [name, v] : s.link_backend) {
    if (name == "link_up") {
      link["up"] = v != 0;
      has = true;
    } else if (name == "port_removed") {
      link["removed"] = v != 0;
    } else if (name == "link_speed_mbps") {
      link["speed_mbps"] = v;
    } else if (name == "link_up_events" || name == "link_down_events" || name == "lsc_events" ||
               name == "reset_events" || name == "resets_done" || name == "reset_failures" ||
               name == "removal_events") {
      events[name] = v;
    }
  }
  if (has) link["port_events"] = events;
}

// Splits "/v1/peers/b/paths" into {"v1","peers","b","paths"}; false on an
// empty segment (a doubled or trailing slash).
bool split_path(const std::string& path, std::vector<std::string>& out) {
  out.clear();
  if (path.empty() || path[0] != '/') return false;
  size_t i = 1;
  while (i <= path.size()) {
    const size_t j = path.find('/', i);
    const size_t end = j == std::string::npos ? path.size() : j;
    if (end == i) return false;
    out.push_back(path.substr(i, end - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return true;
}

}  // namespace

// ---- Connections: the whole-request deadline, the per-client cap, the queue ----

namespace {

using Clock = std::chrono::steady_clock;

enum RefuseReason : size_t { kDeadline = 0, kPerClient = 1, kQueueFull = 2, kReasons = 3 };

constexpr const char* kReasonName[kReasons] = {"deadline", "per_client", "queue_full"};

// One connection's byte stream for httplib's request parser: every read
// waits at most until the request's deadline (and at most kOpTimeout), so
// a client trickling a byte a second is cut off at the deadline, not kept
// for ever by per-read timeouts. Writes have their own deadline, counted
// from the first one (a handler may take long, e.g. a barrier).
class DeadlineStream : public httplib::Stream {
 public:
  static constexpr std::chrono::seconds kOpTimeout{5};

  DeadlineStream(int fd, Clock::time_point read_deadline, std::chrono::milliseconds write_budget)
      : fd_(fd), read_deadline_(read_deadline), write_budget_(write_budget) {}

  bool is_readable() const override {
    return len_ > pos_ || wait(POLLIN, std::min(read_deadline_, Clock::now() + kOpTimeout));
  }
  bool is_writable() const override {
    return wait(POLLOUT, std::min(write_deadline(), Clock::now() + kOpTimeout));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < len_) {
      const size_t n = std::min(size, len_ - pos_);
      std::memcpy(ptr, buf_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    const Clock::time_point until = std::min(read_deadline_, Clock::now() + kOpTimeout);
    if (!wait(POLLIN, until)) {
      if (Clock::now() >= read_deadline_) deadline_hit_ = true;
      return -1;
    }
    if (size >= buf_.size()) return recv_some(ptr, size);
    const ssize_t n = recv_some(buf_.data(), buf_.size());
    if (n <= 0) return n;
    pos_ = 0;
    len_ = static_cast<size_t>(n);
    return read(ptr, size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!wrote_) {
      wrote_ = true;
      first_write_ = Clock::now();
    }
    if (!wait(POLLOUT, std::min(write_deadline(), Clock::now() + kOpTimeout))) return -1;
    for (;;) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && errno == EAGAIN ? 0 : n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

  bool deadline_hit() const { return deadline_hit_; }
  bool wrote() const { return wrote_; }

 private:
  Clock::time_point write_deadline() const {
    return (wrote_ ? first_write_ : Clock::now()) + write_budget_;
  }
  // Whether fd_ is ready for `events` before `until`.
  bool wait(short events, Clock::time_point until) const {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }
  ssize_t recv_some(char* ptr, size_t size) {
    for (;;) {
      const ssize_t n = ::recv(fd_, ptr, size, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  void address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ip.clear();
    port = 0;
    if (get(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
    char b[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
      ::inet_ntop(AF_INET, &a->sin_addr, b, sizeof b);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
      ::inet_ntop(AF_INET6, &a->sin6_addr, b, sizeof b);
      port = ntohs(a->sin6_port);
    } else if (ss.ss_family == AF_UNIX) {
      std::snprintf(b, sizeof b, "unix");
    }
    ip = b;
  }

  const int fd_;
  const Clock::time_point read_deadline_;
  const std::chrono::milliseconds write_budget_;
  std::array<char, 4096> buf_{};
  size_t pos_ = 0, len_ = 0;
  bool deadline_hit_ = false, wrote_ = false;
  Clock::time_point first_write_;
};

// The stream of the request this worker thread serves (for the handlers
// to tell a deadline from a malformed request).
thread_local const DeadlineStream* tl_stream = nullptr;

bool deadline_hit() { return tl_stream && tl_stream->deadline_hit(); }

// `threads` workers; submit() refuses once `max_queued` jobs wait.
class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~WorkerPool() { shutdown(); }

  bool submit(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_ || jobs_.size() >= max_queued_ + idle_) return false;
      jobs_.push_back(std::move(fn));
    }
    cv_.notify_one();
    return true;
  }
  // Runs what is queued, then joins the threads.
  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // shut down
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;  // workers waiting for a job: what they take at once is not queued
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// httplib's accept loop hands each accepted socket to its task queue as a
// call of process_and_close_socket(). This queue makes that call at once,
// in the accepting thread: GuardedServer's admission, which refuses or
// passes the socket on to the bounded WorkerPool.
class AdmissionQueue : public httplib::TaskQueue {
 public:
  explicit AdmissionQueue(std::function<void()> on_shutdown)
      : on_shutdown_(std::move(on_shutdown)) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { on_shutdown_(); }

 private:
  std::function<void()> on_shutdown_;
};

// What a refused connection is told, without reading its request.
std::string refusal(int status, const std::string& msg) {
  const std::string body = error_json(msg);
  return "HTTP/1.1 " + std::to_string(status) +
         (status == 408 ? " Request Timeout" : " Service Unavailable") +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + (status == 503 ? "Retry-After: 1\r\n" : "") + "\r\n" + body;
}

// A client for the log: its IP, or the unix socket's (all of whose
// clients are one "client").
std::string who(uint32_t ip) { return ip == 0 ? "the unix socket" : format_ip(ip); }

}  // namespace

class GuardedServer : public httplib::Server {
 public:
  struct Limits {
    std::chrono::milliseconds request_timeout{10000};
    size_t per_client = 8, workers = 8, queue = 64;
  };

  explicit GuardedServer(const Limits& l) : lim_(l) {
    new_task_queue = [this] {
      pool_ = std::make_unique<WorkerPool>(lim_.workers, lim_.queue);
      return new AdmissionQueue([this] { close_all(); });
    };
  }

  uint64_t refused(RefuseReason r) const { return refused_[r].load(); }

  // Before stop(): connections being served or waiting end at once.
  void begin_stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : active_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  // In the accepting thread (AdmissionQueue): the per-client cap and the
  // queue's bound, then a worker serves it.
  bool process_and_close_socket(socket_t sock) override {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    uint32_t ip = 0;
    if (::getpeername(sock, reinterpret_cast<sockaddr*>(&from), &len) == 0 &&
        from.sin_family == AF_INET) {
      ip = ntohl(from.sin_addr.s_addr);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t& n = per_ip_[ip];
      if (stopping_ || n >= lim_.per_client) {
        if (n == 0) per_ip_.erase(ip);
        if (!stopping_) {
          refuse(sock, ip, kPerClient, 503,
                 "too many connections from " + who(ip) + ": " + std::to_string(lim_.per_client) +
                     " already open (control.max-connections-per-client)");
        } else {
          ::close(sock);
        }
        return false;
      }
      ++n;
      active_.insert(sock);
    }
    if (!pool_->submit([this, sock, ip] { serve(sock, ip); })) {
      release(sock, ip);
      refuse(sock, ip, kQueueFull, 503,
             "busy: " + std::to_string(lim_.workers) + " workers serving and " +
                 std::to_string(lim_.queue) +
                 " connections waiting (control.workers, control.queue)");
      return false;
    }
    return true;
  }

  void serve(int sock, uint32_t ip) {
    if (!is_stopping()) {
      DeadlineStream strm(sock, Clock::now() + lim_.request_timeout, lim_.request_timeout);
      tl_stream = &strm;
      bool closed = false;
      process_request(strm, /*close_connection=*/true, closed, nullptr);
      tl_stream = nullptr;
      if (strm.deadline_hit()) {
        if (!strm.wrote()) {
          // Not even the request line came in time: httplib wrote nothing.
          const std::string r = refusal(408, deadline_message());
          [[maybe_unused]] ssize_t w =
              ::send(sock, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        count(ip, kDeadline);
      }
    }
    release(sock, ip);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }

 public:
  std::string deadline_message() const {
    return "request not complete within " + std::to_string(lim_.request_timeout.count() / 1000) +
           " s (control.request-timeout)";
  }

 private:
  bool is_stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  void release(int sock, uint32_t ip) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(sock);
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }

  void refuse(int sock, uint32_t ip, RefuseReason why, int status, const std::string& msg) {
    const std::string r = refusal(status, msg);
    [[maybe_unused]] ssize_t w = ::send(sock, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(sock, SHUT_WR);
    // What the client already sent is discarded first (up to 64 KiB, without
    // waiting): closing with unread bytes would reset the connection, and
    // the client could lose the answer.
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(sock, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    count(ip, why);  // before the close: counted by the time the client sees it
    ::close(sock);
  }

  void count(uint32_t ip, RefuseReason why) {
    const uint64_t n = refused_[why].fetch_add(1) + 1;
    // Logged at the 1st, 2nd, 4th, 8th... of a reason: a flood cannot flood the log.
    logf((n & (n - 1)) == 0 ? LogLevel::warn : LogLevel::debug,
         "api: closed a connection from %s unserved (%s; %llu so far)", who(ip).c_str(),
         kReasonName[why], static_cast<unsigned long long>(n));
  }

  void close_all() {
    begin_stop();
    if (pool_) pool_->shutdown();
  }

  const Limits lim_;
  std::unique_ptr<WorkerPool> pool_;
  std::mutex mu_;
  std::unordered_map<uint32_t, size_t> per_ip_;  // connections served or queued, by client IP
  std::set<int> active_;
  bool stopping_ = false;
  std::array<std::atomic<uint64_t>, kReasons> refused_{};
};

ApiServer::ApiServer(Daemon& d) : d_(d) {
  GuardedServer::Limits l;
  const DaemonConfig& c = d.config();
  l.request_timeout =
      std::chrono::milliseconds(std::max<int64_t>(1, c.api_request_timeout.ns() / 1000000));
  l.per_client = c.api_max_per_client;
  l.workers = c.api_workers;
  l.queue = c.api_queue;
  srv_ = std::make_unique<GuardedServer>(l);
}

ApiServer::~ApiServer() { stop(); }

ApiCounters ApiServer::counters() const {
  ApiCounters c{requests_.load(), unauthorized_.load(), bad_requests_.load(), forbidden_.load()};
  c.refused_deadline = srv_->refused(kDeadline);
  c.refused_per_client = srv_->refused(kPerClient);
  c.refused_queue_full = srv_->refused(kQueueFull);
  return c;
}

namespace {

// Set by the pre-routing handler of the request this thread serves (it was
// counted), cleared before its response goes out (post-routing handler). The
// error handler sees it unset for what httplib refused before routing (a
// request line it cannot parse, an unknown method): those are counted there.
thread_local bool tl_counted = false;

constexpr const char* kAllowed = "GET, HEAD, POST, DELETE";

bool known_method(const std::string& m) {
  return m == "GET" || m == "HEAD" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" ||
         m == "OPTIONS";
}

// An HTTP method token (RFC 9110: tchar), so that "FOO / HTTP/1.1" gets 405,
// and a garbled request line 400.
bool method_token(const std::string& m) {
  if (m.empty() || m.size() > 32) return false;
  for (char c : m) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string shown(const std::string& s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; }

}  // namespace

std::string ApiServer::start(Addr listen) {
  // GET and HEAD (Get), OPTIONS: no body. POST, PUT, PATCH, DELETE: the body
  // is read by handle_body itself, with the same 64 KiB limit whatever its
  // Content-Type (httplib's own reading stops urlencoded forms at 8 KiB).
  auto h = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
  auto hb = [this](const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) { handle_body(req, res, reader); };
  srv_->Get(".*", h);
  srv_->Options(".*", h);
  srv_->Post(".*", hb);
  srv_->Put(".*", hb);
  srv_->Patch(".*", hb);
  srv_->Delete(".*", hb);
  // httplib's default sets SO_REUSEPORT, which lets a second srdxd bind the
  // same control port and silently take half of the requests: SO_REUSEADDR
  // only (a restart still binds at once past TIME_WAIT; a live listener
  // makes bind fail).
  srv_->set_socket_options([](int sock) {
    const int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });
  // One request per connection ("Connection: close"): a request answered
  // before its body or headers were read (401, 405, 413) can never leave
  // bytes behind that would be taken for the next request.
  srv_->set_keep_alive_max_count(1);
  srv_->set_payload_max_length(kMaxRequestBody);
  // Per read and write (DeadlineStream adds the whole-request deadline).
  srv_->set_read_timeout(5, 0);
  srv_->set_write_timeout(5, 0);
  // Every request httplib could parse: counted, the token checked (before
  // any body is read), methods the API has no use for refused.
  srv_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    tl_counted = true;
    requests_.fetch_add(1);
    if (!authorized(req, res)) return httplib::Server::HandlerResponse::Handled;
    if (!known_method(req.method)) {
      res.set_header("Allow", kAllowed);
      error(res, 405, "method " + shown(req.method) + " not supported; allowed: " + kAllowed);
      bad_requests_.fetch_add(1);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  srv_->set_post_routing_handler(
      [](const httplib::Request&, httplib::Response&) { tl_counted = false; });
  // Responses the library makes itself (400 on a bad request line, 414, 416)
  // get a JSON body too, and are counted; an unknown method is a 405.
  srv_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!tl_counted) requests_.fetch_add(1);
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;  // ours
    if (deadline_hit()) {
      error(res, 408, srv_->deadline_message());
    } else if (res.status == 400 && !tl_counted && !known_method(req.method) &&
               req.method != "TRACE" && req.method != "CONNECT" && method_token(req.method) &&
               req.version.rfind("HTTP/", 0) == 0) {
      res.status = 405;
      res.set_header("Allow", kAllowed);
      error(res, 405, "method " + shown(req.method) + " not supported; allowed: " + kAllowed);
    } else {
      error(res, res.status,
            res.status == 413   ? "request body too large; accepted: up to 64 KiB"
            : res.status == 414 ? "request line too long"
            : res.status == 404 ? "no such resource"
                                : "bad request (HTTP status " + std::to_string(res.status) + ")");
    }
    if (res.status >= 400 && res.status < 500) bad_requests_.fetch_add(1);
    return httplib::Server::HandlerResponse::Handled;
  }));
  srv_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what += std::string(": ") + e.what();
        } catch (...) {
        }
        SRDX_LOG_ERROR("api: %s", what.c_str());
        error(res, 500, what);
      });
  if (const std::string& path = d_.config().control_unix; !path.empty()) {
    if (std::string err = bind_unix(path); !err.empty()) return "--control.listen: " + err;
  } else {
    const std::string host = format_ip(listen.ip);
    if (!srv_->bind_to_port(host, listen.port)) {
      return "--control.listen: cannot listen on " + format_addr(listen) +
             " (address in use or not local?)";
    }
  }
  thread_ = std::thread([this] { srv_->listen_after_bind(); });
  return {};
}

void ApiServer::stop() {
  if (thread_.joinable()) {
    srv_->begin_stop();
    srv_->stop();
    thread_.join();
  }
  if (!unix_path_.empty()) {
    ::unlink(unix_path_.c_str());
    unix_path_.clear();
  }
}

std::string ApiServer::bind_unix(const std::string& path) {
  // A socket left by a srdxd that died is removed; one that still answers
  // belongs to a running srdxd; anything else there is not ours to remove.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return "unix:" + path + " exists and is not a socket";
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    const bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return "unix:" + path + " is in use (another srdxd?)";
    ::unlink(path.c_str());
  }
  srv_->set_address_family(AF_UNIX);
  // The socket is made 0660 before anyone can connect: umask at bind time.
  const mode_t old = ::umask(0117);
  const bool ok = srv_->bind_to_port(path, 80);
  ::umask(old);
  if (!ok) {
    return "cannot listen on unix:" + path + ": " + std::strerror(errno) +
           " (does its directory exist?)";
  }
  unix_path_ = path;
  return {};
}

bool ApiServer::authorized(const httplib::Request& req, httplib::Response& res) {
  const Daemon::Tokens t = d_.tokens();
  const std::string auth = req.get_header_value("Authorization");
  if (bearer_matches(auth, t.write)) return true;
  if (!t.read.empty() && bearer_matches(auth, t.read)) {
    if (req.method == "GET" || req.method == "HEAD") return true;
    forbidden_.fetch_add(1);
    error(res, 403,
          "this token is read-only (control.read-token-file): GET and HEAD only; " +
              shown(req.method) + " needs the token of control.token-file");
    return false;
  }
  unauthorized_.fetch_add(1);
  res.set_header("WWW-Authenticate", "Bearer realm=\"srdxd\"");
  error(res, 401, "missing or wrong bearer token");
  SRDX_LOG_DEBUG("api: 401 %s %s from %s", shown(req.method).c_str(), req.path.c_str(),
                 req.remote_addr.c_str());
  return false;
}

void ApiServer::handle(const httplib::Request& req, httplib::Response& res) {
  dispatch(req, req.body, res);
}

void ApiServer::handle_body(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
  // Read (or skip) the whole body first, at most kMaxRequestBody bytes of
  // any Content-Type; a longer one is a 413.
  std::string body;
  bool too_large = false;
  bool ok = true;
  if (req.is_multipart_form_data()) {
    size_t n = 0;
    ok = reader([](const httplib::MultipartFormData&) { return true; },
                [&](const char*, size_t len) {
                  n += len;
                  too_large = too_large || n > kMaxRequestBody;
                  return !too_large;
                });
  } else {
    ok = reader([&](const char* data, size_t len) {
      if (body.size() + len > kMaxRequestBody) {
        too_large = true;
        return false;
      }
      body.append(data, len);
      return true;
    });
  }
  if (too_large || res.status == 413) {
    error(res, 413, "request body too large; accepted: up to 64 KiB");
  } else if (!ok && deadline_hit()) {
    error(res, 408, srv_->deadline_message());
  } else if (!ok) {
    error(res, 400, "could not read the request body");
  } else if (!body.empty() || req.is_multipart_form_data()) {
    // A body is JSON: say so rather than guess.
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type != "application/json") {
      error(res, 415,
            "Content-Type " + (type.empty() ? std::string("missing") : "'" + shown(type) + "'") +
                "; accepted: application/json");
    }
  }
  if (res.status >= 400) {
    bad_requests_.fetch_add(1);
    SRDX_LOG_DEBUG("api: %d %s %s", res.status, req.method.c_str(), req.path.c_str());
    return;
  }
  dispatch(req, body, res);
}

void ApiServer::dispatch(const httplib::Request& req, const std::string& body,
                         httplib::Response& res) {
  try {
    route(req, body, res);
  } catch (const std::exception& e) {
    // Never expected; the daemon must not die of a request.
    SRDX_LOG_ERROR("api: %s %s: %s", req.method.c_str(), req.path.c_str(), e.what());
    error(res, 500, std::string("internal error: ") + e.what());
  }
  if (res.status >= 400 && res.status < 500) bad_requests_.fetch_add(1);
  SRDX_LOG_DEBUG("api: %d %s %s", res.status, req.method.c_str(), req.path.c_str());
}

void ApiServer::route(const httplib::Request& req, const std::string& body,
                      httplib::Response& res) {
  std::vector<std::string> seg;
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  auto not_allowed = [&](const char* allow) {
    res.set_header("Allow", allow);
    error(res, 405, "method " + m + " not allowed on " + req.path + "; allowed: " + allow);
  };
  if (!split_path(req.path, seg)) {
    error(res, 404, "no such resource: " + req.path);
    return;
  }
  if (seg.size() == 1 && seg[0] == "metrics") {
    if (!get) return not_allowed("GET");
    const Snapshot s = d_.snapshot();
    MetricsInput in;
    in.snap = &s;
    in.api = counters();
    in.probes = d_.histograms().copy();
    in.uptime_s = d_.uptime_s();
    in.draining = d_.draining();
    in.heartbeat_age_s = d_.heartbeat_age().sec();
    in.probes_started = d_.probes().started();
    in.jobs = d_.jobs().metrics();
    in.sink = d_.sink_metrics();
    in.replication_refused = d_.jobs().refused();
    res.status = 200;
    std::string text = render_prometheus(in);
    if (MqttBridgeService* t = d_.telemetry_bridge()) text += t->prometheus();
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    return;
  }
  if (seg.size() < 2 || seg[0] != "v1") {
    error(res, 404, "no such resource: " + req.path);
    return;
  }
  const std::string& what = seg[1];
  if (what == "status" && seg.size() == 2) {
    if (!get) return not_allowed("GET");
    const Snapshot s = d_.snapshot();
    uint64_t up = 0;
    for (const PeerSnapshot& p : s.peers) up += p.stats.up ? 1 : 0;
    json link = {{"kind", s.link_kind}, {"local", format_addr(s.link_local)}};
    add_port_state(link, s);
    json j = {{"version", kVersion},
              {"uptime_s", d_.uptime_s()},
              {"link", link},
              // A hung poll loop serves its last counters: how old they are.
              {"loop", {{"heartbeat_age_s", d_.heartbeat_age().sec()}}},
              {"snapshot",
               {{"taken_at", s.taken_at},
                {"age_s", std::max(0.0, (dp::monotonic_now() - s.taken_mono).sec())}}},
              {"carrier",
               {{"kind", s.carrier},
                {"name", s.carrier_name},
                {"provider", d_.config().carrier == "fabric" ? d_.config().fabric_provider : ""},
                {"detail", s.carrier_detail}}},
              {"encryption", s.encryption},
              {"public_key", s.public_key},
              {"engine",
               {{"instance", format_hex64(s.instance)},
                {"start_time", s.start_time},
                {"peers", s.peers.size()},
                {"peers_up", up},
                {"endpoint_peers", s.endpoint_peers},
                {"accept_unknown_peers", d_.config().ep.accept_unknown_peers},
                {"limits",
                 {{"max_peers", d_.config().limits.max_peers},
                  {"recv_memory_bytes", d_.config().limits.recv_memory_bytes},
                  {"idle_timeout_s", d_.config().limits.idle_timeout.sec()}}},
                {"buffered_messages", s.buffered_messages}}},
              {"ports", ports_json(d_.config(), s, d_.tcp_echo())},
              {"probes_running", d_.probes().running()},
              {"replication",
               {{"dr_root", d_.config().replication.dr_root},
                {"accepts_replicas", !d_.config().replication.dr_root.empty()},
                {"state_dir", d_.config().replication.state_dir},
                {"audit_log", d_.config().replication.audit_log},
                {"allowed_regions", d_.config().replication.allowed_regions},
                {"site", d_.config().replication.site},
                {"region", d_.config().replication.region},
                {"jobs", d_.jobs().size()}}},
              {"state", d_.draining() ? "draining" : "running"}};
    reply(res, 200, j);
    return;
  }
  if (what == "counters" && seg.size() == 2) {
    if (!get) return not_allowed("GET");
    reply(res, 200, counters_json(d_.snapshot(), counters()));
    return;
  }
  if (what == "peers" && seg.size() >= 2 && seg.size() <= 4) {
    if (!get) return not_allowed("GET");
    const Snapshot s = d_.snapshot();
    if (seg.size() == 2) {
      json peers = json::array();
      for (const PeerSnapshot& p : s.peers) peers.push_back(peer_json(p));
      reply(res, 200, {{"peers", peers}});
      return;
    }
    if (seg.size() == 4 && seg[3] != "paths") {
      error(res, 404, "no such resource: " + req.path);
      return;
    }
    for (const PeerSnapshot& p : s.peers) {
      if (p.cfg.name != seg[2]) continue;
      reply(res, 200, seg.size() == 4 ? paths_json(p) : peer_json(p));
      return;
    }
    error(res, 404, "unknown peer '" + seg[2] + "'");
    return;
  }
  if (what == "probes" && seg.size() == 2) {
    if (m == "POST") {
      if (d_.draining()) {
        error(res, 503, "draining: not accepting new probes");
        return;
      }
      ProbeRequest pr;
      if (std::string err = parse_probe_request(body, pr); !err.empty()) {
        error(res, 400, err);
        return;
      }
      const std::optional<PeerConfig> peer = d_.find_peer(pr.peer);
      if (!peer) {
        error(res, 404, "unknown peer '" + pr.peer + "'");
        return;
      }
      const uint32_t max = d_.config().max_probes;
      const auto p = d_.probes().start(pr, *peer, true, max);
      if (!p) {
        res.set_header("Retry-After", "1");
        error(res, 429,
              "too many probes: " + std::to_string(max) +
                  " already running (control.max-probes); cancel one (DELETE "
                  "/v1/probes/{id}) or wait for one to finish");
        return;
      }
      SRDX_LOG_INFO("probe %llu: %s to %s, %u x %u B, interval %u us",
                    static_cast<unsigned long long>(p->id()),
                    std::string(to_string(pr.transport)).c_str(), pr.peer.c_str(), pr.count,
                    pr.size, pr.interval_us);
      res.set_header("Location", "/v1/probes/" + std::to_string(p->id()));
      reply(res, 202, {{"id", std::to_string(p->id())}, {"state", "running"}});
      return;
    }
    if (!get) return not_allowed("GET, POST");
    json list = json::array();
    for (const auto& p : d_.probes().list()) list.push_back(p->to_json());
    reply(res, 200, {{"probes", list}});
    return;
  }
  if (what == "probes" && seg.size() == 3) {
    uint64_t id = 0;
    std::shared_ptr<Probe> p;
    if (parse_probe_id(seg[2], id)) p = d_.probes().find(id);
    if (m == "GET" || m == "HEAD" || m == "DELETE") {
      if (!p) {
        error(res, 404, "unknown probe '" + seg[2] + "'");
        return;
      }
      if (m == "DELETE") {
        // The probe as GET shows it, final (samples after the cancel are
        // dropped), and whether this request stopped it.
        p->cancel();
        const bool stopped = p->finish(ProbeState::cancelled);
        SRDX_LOG_INFO("probe %llu: cancel requested (state %s)",
                      static_cast<unsigned long long>(id),
                      std::string(to_string(p->state())).c_str());
        json doc = p->to_json();
        doc["stopped"] = stopped;
        reply(res, 200, doc);
        return;
      }
      p->renew();  // the lease: a client reading its probe is still there
      reply(res, 200, p->to_json());
      return;
    }
    return not_allowed("GET, DELETE");
  }
  if (what == "telemetry" && seg.size() == 2) {
    if (!get) return not_allowed("GET");
    MqttBridgeService* t = d_.telemetry_bridge();
    if (!t) {
      error(res, 404, "telemetry is off (telemetry.role = off in [telemetry])");
      return;
    }
    reply(res, 200, t->status_json());
    return;
  }
  if (what == "replications" && seg.size() == 2) {
    if (m == "POST") {
      if (d_.draining()) {
        error(res, 503, "draining: not accepting new replication jobs");
        return;
      }
      ReplicationRequest rr;
      if (std::string err = parse_replication_request(body, rr); !err.empty()) {
        error(res, 400, err);
        return;
      }
      const JobManager::Answer a = d_.jobs().create(rr);
      if (a.status == 201) {
        res.set_header("Location", "/v1/replications/" + a.doc.value("id", std::string()));
      }
      reply(res, a.status, a.doc);
      return;
    }
    if (!get) return not_allowed("GET, POST");
    reply(res, 200, d_.jobs().list());
    return;
  }
  if (what == "replications" && seg.size() == 3) {
    if (m == "DELETE") {
      const JobManager::Answer a = d_.jobs().stop(seg[2]);
      reply(res, a.status, a.doc);
      return;
    }
    if (!get) return not_allowed("GET, DELETE");
    const JobManager::Answer a = d_.jobs().get(seg[2]);
    reply(res, a.status, a.doc);
    return;
  }
  if (what == "replications" && seg.size() == 4 && seg[3] == "barrier") {
    if (m != "POST") return not_allowed("POST");
    const JobManager::Answer a = d_.jobs().barrier(seg[2], kBarrierTimeout);
    reply(res, a.status, a.doc);
    return;
  }
  error(res, 404, "no such resource: " + req.path);
}

}  // namespace srdx::ctl
