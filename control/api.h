// The control API: HTTP/1.1 + JSON on cpp-httplib (Debian's libcpp-httplib),
// bound to control.listen (127.0.0.1:7480 by default). Every request needs
// "Authorization: Bearer <token>"; a missing or wrong one gets 401 and is
// counted. Routes:
//   GET    /v1/status  /v1/peers  /v1/peers/{name}  /v1/peers/{name}/paths  /v1/counters
//   GET    /v1/probes  /v1/probes/{id}      POST /v1/probes     DELETE /v1/probes/{id}
//   (DELETE answers the probe as GET does, plus "stopped": whether it stopped it)
//   GET    /v1/replications  /v1/replications/{id|name}   POST /v1/replications
//   DELETE /v1/replications/{id|name}  (stops it; kept in the list, state stopped)
//   POST   /v1/replications/{id|name}/barrier  (waits up to 30 s for the DR:
//          {"ok":true,"seconds":...}; 504 when it does not answer in time)
//   (control/jobs.h: 201, 400, 403 for a peer outside replication.allowed-regions,
//   404, 409, 503)
//   GET    /metrics    (Prometheus text format 0.0.4)
// Errors are {"error":"..."} with 400, 401, 404, 405 (any other method, even
// one httplib cannot parse), 413 (a body over 64 KiB, whatever its type), 415
// (a body that is not application/json), 429 (more than control.max-probes
// probes running; Retry-After: 1) or 503. The token is checked before the
// method and before any body is read. One request per connection.
//
// Slow and greedy clients (slowloris): a connection must deliver its whole
// request within control.request-timeout of a worker taking it, however it
// trickles, else 408 and closed; one client IP holds at most
// control.max-connections-per-client connections (served or waiting) and
// control.workers threads serve with at most control.queue connections
// waiting: one more is answered 503 at once by the accepting thread. Each
// is counted (srdx_api_connections_refused_total{reason}).
//
// control.listen = unix:PATH serves on a unix socket (mode 0660) instead:
// local control only, its clients sharing the per-client cap.
#pragma once

#include <atomic>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>

#include "snapshot.h"
#include "srdx/endpoint.h"

namespace httplib {
class Server;
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace srdx::ctl {

class Daemon;
class GuardedServer;

// The JSON of GET /v1/counters, /v1/peers/{name} and /v1/peers/{name}/paths.
// DPDK telemetry (telemetry.cc) answers from the same documents.
nlohmann::json counters_json(const Snapshot& s, const ApiCounters& api);
nlohmann::json peer_json(const PeerSnapshot& p);
nlohmann::json paths_json(const PeerSnapshot& p);

class ApiServer {
 public:
  explicit ApiServer(Daemon& d);
  ~ApiServer();
  // Binds and starts serving; empty on success, else one line.
  std::string start(Addr listen);
  void stop();
  ApiCounters counters() const;

 private:
  // Counts and answers 401 unless the bearer token matches.
  bool authorized(const httplib::Request& req, httplib::Response& res);
  void handle(const httplib::Request& req, httplib::Response& res);
  void handle_body(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader);
  void dispatch(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void route(const httplib::Request& req, const std::string& body, httplib::Response& res);
  // control.listen = unix:PATH. Empty on success.
  std::string bind_unix(const std::string& path);

  Daemon& d_;
  std::unique_ptr<GuardedServer> srv_;
  std::thread thread_;
  std::string unix_path_;  // removed at stop()
  std::atomic<uint64_t> requests_{0}, unauthorized_{0}, bad_requests_{0}, forbidden_{0};
};

}  // namespace srdx::ctl
