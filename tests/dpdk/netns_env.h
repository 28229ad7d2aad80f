// A network namespace a dpdk test makes for itself and deletes at its end.
// The process enters it before EAL starts, so DPDK's interrupt thread and
// every interface live there; IPv6 is off in it (no chatter on the test's
// interfaces: only what the links send). Needs root: the test exits 77
// (skipped) without it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

namespace srdx::dp::test {

// Runs a shell command (in the namespace, once entered); true on exit 0.
inline bool sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

class NetnsEnvironment : public ::testing::Environment {
 public:
  // prefix: the namespace's name, before the process id; test: the name the
  // skip line gives; setup: makes the interfaces (inside), then starts EAL.
  NetnsEnvironment(std::string prefix, std::string test, std::function<void()> setup)
      : name_(prefix + std::to_string(getpid())),
        test_(std::move(test)),
        setup_(std::move(setup)) {}
  void SetUp() override {
    if (geteuid() != 0) {
      std::printf("%s: needs root (network namespaces, interfaces): skipped\n", test_.c_str());
      std::fflush(stdout);
      std::_Exit(77);
    }
    ASSERT_TRUE(sh("ip netns add " + name_));
    made_ = true;
    const int fd = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(setns(fd, CLONE_NEWNET), 0);
    close(fd);
    sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
    sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
    setup_();
  }
  void TearDown() override {
    if (made_) sh("ip netns del " + name_);
  }

 private:
  std::string name_, test_;
  std::function<void()> setup_;
  bool made_ = false;
};

}  // namespace srdx::dp::test
