#include "ctl/client.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "loop/secret_file.h"

namespace srdx::cli {

using nlohmann::json;

std::string Endpoint::text() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(const std::string& text) {
  Endpoint ep;
  std::string port;
  if (text.rfind("unix:", 0) == 0) {
    ep.unix_path = text.substr(5);
    if (ep.unix_path.empty() || ep.unix_path.size() > 107) return std::nullopt;
    return ep;
  }
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    ep.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    ep.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (ep.host.find(':') != std::string::npos) return std::nullopt;
  }
  if (ep.host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  ep.port = std::stoi(port);
  if (ep.port < 1 || ep.port > 65535) return std::nullopt;
  return ep;
}

std::string read_token(const std::string& path) {
  // The same reader and checks as srdxd's (loop/secret_file.h).
  std::string token;
  if (std::string err = read_secret_file(path, "the token", token, kMinTokenLength); !err.empty())
    throw CtlError{kExitUsage, "token file " + err + " (use --token-file or SRDXCTL_TOKEN_FILE)"};
  return token;
}

namespace {

constexpr int kConnectTimeoutS = 2;
constexpr int kReadTimeoutS = 10;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// cpp-httplib says only "Connection" when connect() fails; connect once more
// ourselves to name the reason (refused, no route, timed out).
std::string connect_failure(const Endpoint& ep) {
  if (!ep.unix_path.empty()) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return lowercase(std::strerror(errno));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, ep.unix_path.data(), ep.unix_path.size());
    const int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    const int err = errno;
    close(fd);
    return rc == 0 ? "connection failed (it accepts now: try again)"
                   : lowercase(std::strerror(err));
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(ep.port);
  if (const int rc = getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return lowercase(gai_strerror(rc));
  }
  std::string reason = "connection failed";
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      reason = lowercase(std::strerror(errno));
      continue;
    }
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, kConnectTimeoutS * 1000) == 1) {
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
          err = ETIMEDOUT;
        }
      }
    }
    close(fd);
    if (err == 0) {
      reason = "connection failed (it accepts now: try again)";
      break;
    }
    reason = lowercase(std::strerror(err));
  }
  freeaddrinfo(list);
  return reason;
}

Reply finish(const Endpoint& ep, const httplib::Result& res, const std::string& method,
             const std::string& path) {
  if (!res) {
    const httplib::Error e = res.error();
    std::string why;
    if (e == httplib::Error::Connection) {
      why = connect_failure(ep) + " (is srdxd running?)";
    } else if (e == httplib::Error::ConnectionTimeout) {
      why = "connection timed out (is srdxd running?)";
    } else if (e == httplib::Error::Read) {
      why = "no answer to " + method + " " + path + " (srdxd closed the connection or timed out)";
    } else {
      why = lowercase(httplib::to_string(e));
    }
    throw CtlError{kExitUnreachable, "cannot reach srdxd at " + ep.text() + ": " + why};
  }
  Reply reply{res->status, res->body, json()};
  reply.doc = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (reply.doc.is_discarded()) reply.doc = json();

  if (res->status == 401) {
    throw CtlError{kExitUnauthorized, "srdxd refused the token (401): check --token-file"};
  }
  if (res->status < 200 || res->status > 299) {
    std::string message;
    if (reply.doc.is_object() && reply.doc.contains("error") && reply.doc["error"].is_string()) {
      message = reply.doc["error"].get<std::string>();
    } else {
      message = res->body.empty() ? "(no message)" : res->body;
      while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
        message.pop_back();
      }
    }
    throw CtlError{
        kExitDaemonError,
        "srdxd: " + message + " (" + std::to_string(res->status) + ", " + method + " " + path + ")",
        res->status};
  }
  return reply;
}

}  // namespace

ApiClient::ApiClient(Endpoint endpoint, const std::string& token)
    : endpoint_(std::move(endpoint)),
      http_(endpoint_.unix_path.empty()
                ? std::make_unique<httplib::Client>(endpoint_.host, endpoint_.port)
                : std::make_unique<httplib::Client>(endpoint_.unix_path, 80)) {
  if (!endpoint_.unix_path.empty()) http_->set_address_family(AF_UNIX);
  http_->set_connection_timeout(kConnectTimeoutS, 0);
  http_->set_read_timeout(kReadTimeoutS, 0);
  http_->set_write_timeout(kReadTimeoutS, 0);
  http_->set_bearer_token_auth(token);
  http_->set_keep_alive(true);
}

ApiClient::~ApiClient() = default;

void ApiClient::set_read_timeout(int seconds) { http_->set_read_timeout(seconds, 0); }

Reply ApiClient::get(const std::string& path) {
  return finish(endpoint_, http_->Get(path), "GET", path);
}

Reply ApiClient::post(const std::string& path, const json& body) {
  return finish(endpoint_, http_->Post(path, body.dump(), "application/json"), "POST", path);
}

Reply ApiClient::del(const std::string& path) {
  return finish(endpoint_, http_->Delete(path), "DELETE", path);
}

std::string path_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace srdx::cli
