// The HTTP side of srdxctl: one request to srdxd's control API, its answer
// parsed, and every way it can go wrong turned into a message and an exit
// status (see kExit* below, documented in `srdxctl --help`).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace httplib {
class Client;
}

namespace srdx::cli {

constexpr int kExitOk = 0;
constexpr int kExitDaemonError = 1;   // the daemon answered with an error
constexpr int kExitUsage = 2;         // bad command line, unreadable token file
constexpr int kExitUnreachable = 3;   // cannot connect, or no answer
constexpr int kExitUnauthorized = 4;  // 401: the token was refused
// SIGINT, SIGTERM or SIGHUP while `srdxctl probe` waits (the probe is
// cancelled first): 128 + the signal's number, as a shell reports a command
// killed by it: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
constexpr int kExitSignalBase = 128;

// What a command prints before exiting with `exit_code`.
struct CtlError {
  int exit_code;
  std::string message;
  int http_status = 0;  // the daemon's status when it answered (404, ...), else 0
};

struct Endpoint {
  std::string host;
  int port = 0;
  std::string unix_path;  // unix:PATH (host and port unused)
  std::string text() const;
};

// HOST:PORT, [IPv6]:PORT or unix:PATH (srdxd's control.listen = unix:PATH);
// nullopt when malformed.
std::optional<Endpoint> parse_endpoint(const std::string& text);

// The bearer token: the file's first line without surrounding blanks.
// Throws CtlError (kExitUsage) when it cannot be read or is empty.
std::string read_token(const std::string& path);

// One path segment of an API URL (a peer, probe or job name), percent-encoded
// beyond the unreserved characters.
std::string path_segment(const std::string& s);

struct Reply {
  int status = 0;
  std::string body;    // as received
  nlohmann::json doc;  // parsed body (null when it is not JSON)
};

class ApiClient {
 public:
  ApiClient(Endpoint endpoint, const std::string& token);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // 2xx replies are returned; anything else throws CtlError: 401 ->
  // kExitUnauthorized, other statuses -> kExitDaemonError with the daemon's
  // "error" text, no connection or no answer -> kExitUnreachable.
  Reply get(const std::string& path);
  Reply post(const std::string& path, const nlohmann::json& body);
  Reply del(const std::string& path);

  const Endpoint& endpoint() const { return endpoint_; }
  // How long to wait for an answer (default 10 s; a barrier waits longer).
  void set_read_timeout(int seconds);

 private:
  Endpoint endpoint_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace srdx::cli
