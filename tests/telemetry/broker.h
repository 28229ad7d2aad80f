// A real Mosquitto broker for a test: on a free loopback port, no
// persistence, started by the test and killed at its end.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace srdx::testing {

inline int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline std::string mosquitto_binary() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "mosquitto";
}

class Broker {
 public:
  explicit Broker(int port = 0) : port_(port ? port : free_tcp_port()) { start(); }
  ~Broker() { kill_now(); }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  int port() const { return port_; }
  void start() {
    conf_ =
        "/tmp/srdx-mosquitto-" + std::to_string(::getpid()) + "-" + std::to_string(port_) + ".conf";
    std::ofstream(conf_) << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n"
                         << "persistence false\nmax_queued_messages 100000\nlog_dest none\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test: a test that aborts (a failed assert() in the
      // code under test) runs no destructor, and a broker left running
      // would hold meson's output pipe open until the suite's timeout.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const std::string bin = mosquitto_binary();
      ::execlp(bin.c_str(), bin.c_str(), "-c", conf_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!port_open(port_)) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("mosquitto exited at start (is it installed? scripts/bootstrap)");
      }
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("mosquitto did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // SIGSTOP / SIGCONT: a broker that holds its answers (PUBACKs) meanwhile.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      ::unlink(conf_.c_str());
    }
  }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string conf_;
};

}  // namespace srdx::testing
