// srdxd's configuration: good files and command lines parse into the right
// values; every bad value is refused with one line naming the option.
#include "config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace srdx;
using namespace srdx::ctl;
using ::testing::HasSubstr;

namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/srdx-config-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    token_ = dir_ + "/token";
    write(token_, "  s3cret-token-0123456 \n", 0600);
    priv_ = generate_private_key();
    key_ = dir_ + "/private.key";
    write(key_, key_to_base64(priv_) + "\n", 0600);
    peer_key_ = key_to_base64(public_key_of(generate_private_key()));
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  static void write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  }

  // A minimal valid command line, plus `extra`.
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"--link.local", "127.0.0.1:47000",         "--control.token-file",
                                  token_,         "--keys.private-key-file", key_};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // The error line for `extra` on top of the minimal command line.
  std::string error(std::vector<std::string> extra) const {
    DaemonConfig c;
    const ParseResult r = parse_config(args(std::move(extra)), c);
    EXPECT_EQ(r.outcome, ParseOutcome::error);
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
    return r.message;
  }

  // The [keys] section naming key_, for config files.
  std::string keys_section() const { return "[keys]\nprivate-key-file = " + key_ + "\n"; }
  // ",key=..." for a peer line.
  std::string with_key() const { return ",key=" + peer_key_; }

  std::string dir_, token_, key_;
  PrivateKey priv_{};
  std::string peer_key_;  // some peer's public key, base64
};

TEST_F(ConfigTest, MinimalCommandLineGetsTheDefaults) {
  DaemonConfig c;
  const ParseResult r = parse_config(args(), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.link.kind, "udp");
  EXPECT_EQ(c.link.local, (Addr{0x7f000001, 47000}));
  EXPECT_EQ(c.link.entropy.first_port, 49152);
  EXPECT_EQ(c.link.entropy.port_count, 64);
  EXPECT_EQ(c.link.mtu, 1500u);
  EXPECT_EQ(c.ep.port, 47000);
  EXPECT_EQ(c.ep.paths_per_peer, 16u);
  EXPECT_EQ(c.ep.rto_min, Duration::micros(50));
  EXPECT_EQ(c.ep.message_timeout, Duration::seconds(2));
  EXPECT_EQ(c.control_listen, (Addr{0x7f000001, 7480}));
  EXPECT_EQ(c.token, "s3cret-token-0123456");
  EXPECT_TRUE(c.tcp_echo);
  EXPECT_EQ(c.tcp_echo_addr, (Addr{0x7f000001, 7481}));
  EXPECT_EQ(c.log_level, LogLevel::info);
  EXPECT_EQ(c.drain_timeout, Duration::seconds(5));
  EXPECT_EQ(c.probe_every, Duration::zero());
  EXPECT_EQ(c.max_probes, 8u);
  EXPECT_TRUE(c.peers.empty());
  // Strangers are refused unless asked for.
  EXPECT_FALSE(c.ep.accept_unknown_peers);
  EXPECT_EQ(c.limits, EndpointLimits{});
  EXPECT_EQ(c.limits.max_peers, 1024u);
  EXPECT_EQ(c.limits.recv_memory_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c.limits.idle_timeout, Duration::seconds(120));
}

TEST_F(ConfigTest, AcceptUnknownPeersAndEndpointLimits) {
  const std::string conf = dir_ + "/srdxd.conf";
  write(conf,
        "[link]\nlocal = 127.0.0.1:47000\n"
        "[endpoint]\nmax-peers = 2\nrecv-memory = 64MiB\nidle-timeout = 30s\n"
        "[peers]\naccept-unknown = on\npeer = b=10.0.0.2:47000" +
            with_key() + "\npeer = c=10.0.0.3:47000" + with_key() + "\n" + keys_section() +
            "[control]\ntoken-file = " + token_ + "\n",
        0644);
  DaemonConfig c;
  ParseResult r = parse_config({"--config", conf}, c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_TRUE(c.ep.accept_unknown_peers);
  EXPECT_EQ(c.limits.max_peers, 2u);
  EXPECT_EQ(c.limits.recv_memory_bytes, uint64_t{64} << 20);
  EXPECT_EQ(c.limits.idle_timeout, Duration::seconds(30));
  // The command line wins.
  r = parse_config({"--config", conf, "--peers.accept-unknown", "off", "--endpoint.max-peers", "3"},
                   c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_FALSE(c.ep.accept_unknown_peers);
  EXPECT_EQ(c.limits.max_peers, 3u);
  // [peers] must fit under max-peers.
  DaemonConfig d;
  r = parse_config({"--config", conf, "--endpoint.max-peers", "1"}, d);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message,
            "--endpoint.max-peers: '1' is fewer than the 2 peers in [peers]; accepted: at least 2");
}

TEST_F(ConfigTest, EndpointLimitsRefused) {
  EXPECT_EQ(error({"--engine.spin", "0"}),
            "--engine.spin: '0' is out of range; accepted 1..1000000");
  EXPECT_EQ(error({"--endpoint.max-peers", "0"}),
            "--endpoint.max-peers: '0' is out of range; accepted 1..1048576");
  EXPECT_EQ(error({"--endpoint.recv-memory", "1MiB"}),
            "--endpoint.recv-memory: '1MiB' cannot hold one peer's receive buffer; accepted: at "
            "least 67108864 bytes (the larger of 64MiB and engine.max-message)");
  EXPECT_THAT(error({"--endpoint.recv-memory", "2048GiB"}),
              HasSubstr("--endpoint.recv-memory: '2048GiB' is out of range; accepted"));
  EXPECT_THAT(error({"--endpoint.idle-timeout", "100ms"}),
              HasSubstr("--endpoint.idle-timeout: '100ms' is out of range; accepted"));
  EXPECT_EQ(error({"--engine.peer-timeout", "5s", "--endpoint.idle-timeout", "5s"}),
            "--endpoint.idle-timeout: '5s' must be longer than engine.peer-timeout (5s)");
  EXPECT_EQ(error({"--peers.accept-unknown", "sometimes"}),
            "--peers.accept-unknown: 'sometimes' is not a switch; accepted: on, off (true/false, "
            "yes/no, 1/0)");
  // One peer's receive buffer is the floor: 64MiB, or the largest message
  // when that is larger.
  EXPECT_EQ(error({"--engine.max-message", "128MiB", "--endpoint.recv-memory", "100MiB"}),
            "--endpoint.recv-memory: '100MiB' cannot hold one peer's receive buffer; accepted: at "
            "least 134217728 bytes (the larger of 64MiB and engine.max-message)");
  DaemonConfig c;
  const ParseResult r = parse_config(args({"--endpoint.recv-memory", "64MiB"}), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.limits.recv_memory_bytes, uint64_t{64} << 20);
  EXPECT_EQ(c.ep.recv_memory_bytes, uint64_t{64} << 20);
}

TEST_F(ConfigTest, MaxProbes) {
  DaemonConfig c;
  ASSERT_EQ(parse_config(args({"--control.max-probes", "1"}), c).outcome, ParseOutcome::run);
  EXPECT_EQ(c.max_probes, 1u);
  ASSERT_EQ(parse_config(args({"--control.max_probes", "1024"}), c).outcome, ParseOutcome::run);
  EXPECT_EQ(c.max_probes, 1024u);
  EXPECT_EQ(error({"--control.max-probes", "0"}),
            "--control.max-probes: '0' is out of range; accepted 1..1024");
  EXPECT_EQ(error({"--control.max-probes", "lots"}),
            "--control.max-probes: 'lots' is not a whole number; accepted 1..1024");
}

// Two TCP listeners on one port conflict when their IPs are equal or either
// is 0.0.0.0: --check-config says so, naming both options.
TEST_F(ConfigTest, ListenerConflicts) {
  EXPECT_EQ(error({"--control.listen", "0.0.0.0:9000", "--services.tcp-echo", "127.0.0.1:9000"}),
            "--services.tcp-echo: control.listen 0.0.0.0:9000 and services.tcp-echo "
            "127.0.0.1:9000 conflict (control.listen takes port 9000 on every address): both are "
            "TCP listeners and only one can bind; accepted: another port for one of them, or "
            "services.tcp-echo = off");
  EXPECT_EQ(error({"--control.listen", "127.0.0.1:9000", "--services.tcp-echo", "0.0.0.0:9000"}),
            "--services.tcp-echo: control.listen 127.0.0.1:9000 and services.tcp-echo "
            "0.0.0.0:9000 conflict (services.tcp-echo takes port 9000 on every address): both "
            "are TCP listeners and only one can bind; accepted: another port for one of them, or "
            "services.tcp-echo = off");
  EXPECT_THAT(error({"--control.listen", "0.0.0.0:9000", "--services.tcp-echo", "0.0.0.0:9000"}),
              HasSubstr("is control.listen's address 0.0.0.0:9000"));
  // The default echo (link.local's IP, port 7481) against a wildcard control port 7481.
  EXPECT_THAT(error({"--control.listen", "0.0.0.0:7481"}),
              HasSubstr("control.listen 0.0.0.0:7481 and services.tcp-echo 127.0.0.1:7481 "
                        "conflict"));
  // No conflict: other IPs on one port, other ports, the echo off.
  DaemonConfig c;
  for (const std::vector<std::string>& ok :
       {std::vector<std::string>{"--control.listen", "127.0.0.1:9000", "--services.tcp-echo",
                                 "127.0.0.2:9000"},
        std::vector<std::string>{"--control.listen", "0.0.0.0:9000", "--services.tcp-echo",
                                 "127.0.0.1:9001"},
        std::vector<std::string>{"--control.listen", "0.0.0.0:9000", "--services.tcp-echo",
                                 "off"}}) {
    EXPECT_EQ(parse_config(args(ok), c).outcome, ParseOutcome::run) << ok[1] << " " << ok[3];
  }
  // IPv6 (the any address [::] against an IPv4 one) cannot be configured at
  // all: every listener is IPv4.
  EXPECT_EQ(error({"--control.listen", "[::]:9000"}),
            "--control.listen: '[::]:9000': '[::]' is not an IPv4 address; accepted: IP:PORT");
  // The rule itself.
  EXPECT_EQ(listener_conflict("a", Addr{0, 80}, "b", Addr{0x7f000001, 81}), "");
  EXPECT_EQ(listener_conflict("a", Addr{0x7f000001, 80}, "b", Addr{0x7f000002, 80}), "");
  EXPECT_NE(listener_conflict("a", Addr{0x7f000001, 80}, "b", Addr{0x7f000001, 80}), "");
  EXPECT_NE(listener_conflict("a", Addr{0, 80}, "b", Addr{0x0a000001, 80}), "");
  EXPECT_NE(listener_conflict("a", Addr{0x0a000001, 80}, "b", Addr{0, 80}), "");
}

// Found by fuzz/config_fuzz.cc: a section or option name holding one of
// Boost.Program_options' message placeholders (%canonical_option%) made its
// error message substitution loop for ever (srdxd --check-config hung).
TEST_F(ConfigTest, PlaceholderInANameIsRefusedNotAHang) {
  const std::string conf = dir_ + "/percent.conf";
  write(conf, "[link]\nkind = udp\n[contro option '%canonical_option%'eers]\npeer = x\n", 0644);
  DaemonConfig c;
  ParseResult r = parse_config(args({"--config", conf}), c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message, "config file " + conf +
                           ": line 3: '%' in a section or option name; accepted: letters, digits, "
                           "'-', '_' and '.'");
  write(conf, "[link]\nkind%option% = udp\n", 0644);
  r = parse_config(args({"--config", conf}), c);
  EXPECT_THAT(r.message, HasSubstr("line 2: '%' in a section or option name"));
  // The same on the command line.
  EXPECT_EQ(error({"--x%canonical_option%=1"}),
            "command line: '--x%canonical_option%': '%' in a section or option name; accepted: "
            "letters, digits, '-', '_' and '.'");
  // A '%' in a value is just a value.
  write(conf, "[link]\nkind = udp\n[telemetry]\nalarm-topic = alarms%value%\n", 0644);
  EXPECT_EQ(parse_config(args({"--config", conf}), c).message.find("'%' in"), std::string::npos);
}

// control.listen = unix:PATH: the API on a unix socket; no TCP conflict then.
TEST_F(ConfigTest, ControlOnAUnixSocket) {
  DaemonConfig c;
  ASSERT_EQ(parse_config(args({"--control.listen", "unix:/run/srdx/api.sock", "--services.tcp-echo",
                               "0.0.0.0:7480"}),
                         c)
                .outcome,
            ParseOutcome::run);
  EXPECT_EQ(c.control_unix, "/run/srdx/api.sock");
  EXPECT_EQ(control_listen_text(c), "unix:/run/srdx/api.sock");
  ASSERT_EQ(parse_config(args(), c).outcome, ParseOutcome::run);
  EXPECT_EQ(c.control_unix, "");
  EXPECT_EQ(control_listen_text(c), "127.0.0.1:7480");
  const std::string accepted =
      " is no unix socket path; accepted: unix:/ABSOLUTE/PATH of at most 107 bytes, e.g. "
      "unix:/run/srdx/api.sock";
  EXPECT_EQ(error({"--control.listen", "unix:"}), "--control.listen: 'unix:'" + accepted);
  EXPECT_EQ(error({"--control.listen", "unix:api.sock"}),
            "--control.listen: 'unix:api.sock'" + accepted);
  EXPECT_THAT(error({"--control.listen", "unix:/" + std::string(107, 'a')}), HasSubstr(accepted));
}

// The control API's and the TCP echo's limits against slow or greedy clients.
TEST_F(ConfigTest, ListenerLimits) {
  DaemonConfig c;
  ASSERT_EQ(parse_config(args(), c).outcome, ParseOutcome::run);
  EXPECT_EQ(c.api_request_timeout, Duration::seconds(10));
  EXPECT_EQ(c.api_max_per_client, 8u);
  EXPECT_EQ(c.api_workers, 8u);
  EXPECT_EQ(c.api_queue, 64u);
  EXPECT_EQ(c.tcp_echo_idle_timeout, Duration::seconds(60));
  EXPECT_EQ(c.tcp_echo_max_per_source, 8u);
  ASSERT_EQ(parse_config(args({"--control.request-timeout", "2s",
                               "--control.max-connections-per-client", "3", "--control.workers",
                               "4", "--control.queue", "0", "--services.tcp-echo-idle-timeout",
                               "5s", "--services.tcp-echo-max-per-source", "2"}),
                         c)
                .outcome,
            ParseOutcome::run);
  EXPECT_EQ(c.api_request_timeout, Duration::seconds(2));
  EXPECT_EQ(c.api_max_per_client, 3u);
  EXPECT_EQ(c.api_workers, 4u);
  EXPECT_EQ(c.api_queue, 0u);
  EXPECT_EQ(c.tcp_echo_idle_timeout, Duration::seconds(5));
  EXPECT_EQ(c.tcp_echo_max_per_source, 2u);
  EXPECT_EQ(error({"--control.request-timeout", "100ms"}),
            "--control.request-timeout: '100ms' is out of range; accepted 1.000 s to 300.000 s");
  EXPECT_EQ(error({"--control.max-connections-per-client", "0"}),
            "--control.max-connections-per-client: '0' is out of range; accepted 1..1024");
  EXPECT_EQ(error({"--control.workers", "0"}),
            "--control.workers: '0' is out of range; accepted 1..256");
  EXPECT_EQ(error({"--services.tcp-echo-max-per-source", "1000"}),
            "--services.tcp-echo-max-per-source: '1000' is out of range; accepted 1..256");
}

TEST_F(ConfigTest, ConfigFileSectionsAndCommandLineOverride) {
  const std::string conf = dir_ + "/srdxd.conf";
  write(conf,
        "# a comment\n"
        "[link]\nkind = udp\nlocal = 198.18.1.1:47000\nentropy-ports = 40000:16\nmtu = 9001\n"
        "[engine]\npaths = 32\nrto-min = 100us\nmessage-timeout = 500ms\ncc-target = 80us\n"
        "pacing = off\nspin-time = 40us\nspin = 20\n"
        "[peers]\npeer = b=198.18.2.2:47000,tcp=7500" +
            with_key() + "\npeer = c=198.18.3.3:47000" + with_key() + "\n" + keys_section() +
            "[control]\nlisten = 127.0.0.1:9000\ntoken_file = " + token_ +
            "\n"
            "[services]\ntcp-echo = off\n[log]\nlevel = debug\n"
            "[daemon]\ndrain-timeout = 1s\nprobe-every = 30s\n",
        0644);
  DaemonConfig c;
  const ParseResult r = parse_config({"--config", conf, "--link.mtu", "1500"}, c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.config_file, conf);
  EXPECT_EQ(c.link.local, (Addr{(198u << 24) | (18u << 16) | (1u << 8) | 1u, 47000}));
  EXPECT_EQ(c.link.mtu, 1500u);  // the command line wins
  EXPECT_EQ(c.ep.mtu, 1500u);
  EXPECT_EQ(c.ep.paths_per_peer, 32u);
  EXPECT_EQ(c.ep.rto_min, Duration::micros(100));
  EXPECT_GE(c.ep.rto_initial, c.ep.rto_min);
  EXPECT_EQ(c.ep.message_timeout, Duration::millis(500));
  EXPECT_EQ(c.ep.cc_target_delay, Duration::micros(80));
  EXPECT_FALSE(c.ep.pacing);
  EXPECT_EQ(c.poll.spin_time, Duration::micros(40));
  EXPECT_EQ(c.poll.spin_iterations, 20u);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].name, "b");
  EXPECT_EQ(c.peers[0].tcp_port, 7500);
  EXPECT_EQ(c.peers[1].name, "c");
  EXPECT_EQ(c.peers[1].tcp_port, kDefaultTcpEchoPort);
  EXPECT_EQ(c.control_listen.port, 9000);
  EXPECT_FALSE(c.tcp_echo);
  EXPECT_EQ(c.log_level, LogLevel::debug);
  EXPECT_EQ(c.drain_timeout, Duration::seconds(1));
  EXPECT_EQ(c.probe_every, Duration::seconds(30));
}

TEST_F(ConfigTest, CheckHelpAndVersion) {
  DaemonConfig c;
  EXPECT_EQ(parse_config(args({"--check-config"}), c).outcome, ParseOutcome::check);
  const ParseResult h = parse_config({"--help"}, c);
  EXPECT_EQ(h.outcome, ParseOutcome::help);
  for (const char* s : {"Link",
                        "Engine",
                        "Endpoint: encryption",
                        "Keys",
                        "Peers",
                        "Control API",
                        "--link.kind",
                        "--engine.rto-min",
                        "--endpoint.max-peers",
                        "--endpoint.recv-memory",
                        "--endpoint.idle-timeout",
                        "--peers.peer",
                        "--peers.accept-unknown",
                        "--control.token-file",
                        "--endpoint.encryption",
                        "--endpoint.rekey-packets",
                        "--endpoint.rekey-interval",
                        "--keys.private-key-file",
                        "--peers.allow-key",
                        "srdxctl genkey",
                        "--services.tcp-echo",
                        "--log.level",
                        "--daemon.drain-timeout",
                        "--check-config"}) {
    EXPECT_THAT(h.message, HasSubstr(s));
  }
  EXPECT_EQ(parse_config({"--version"}, c).outcome, ParseOutcome::version);
}

TEST_F(ConfigTest, ExactMessagesForBadValues) {
  EXPECT_EQ(error({"--link.mtu", "100"}), "--link.mtu: '100' is out of range; accepted 576..9216");
  EXPECT_EQ(error({"--link.mtu", "big"}),
            "--link.mtu: 'big' is not a whole number; accepted 576..9216");
  EXPECT_EQ(error({"--link.kind", "rdma"}),
            "--link.kind: 'rdma' is not a link kind; accepted: udp, dpdk");
  EXPECT_EQ(error({"--engine.paths", "0"}), "--engine.paths: '0' is out of range; accepted 1..256");
  EXPECT_EQ(
      error({"--engine.rto-min", "fast"}),
      "--engine.rto-min: not a duration: 'fast'; accepted: a number with a unit ns, us, ms or "
      "s, e.g. 10us, 1.5ms");
  EXPECT_EQ(error({"--log.level", "chatty"}),
            "--log.level: 'chatty' is not a log level; accepted: error, warn, info, debug");
  EXPECT_EQ(error({"--control.listen", "127.0.0.1"}),
            "--control.listen: '127.0.0.1' is not IP:PORT; accepted e.g. 198.18.1.1:47000");
  EXPECT_EQ(error({"--control.listen", "127.0.0.1:99999"}),
            "--control.listen: '127.0.0.1:99999': port '99999' is out of range; accepted 1..65535");
  EXPECT_EQ(
      error({"--peers.peer", "b"}),
      "--peers.peer: 'b' has no NAME=; accepted: "
      "NAME=IP:PORT[,tcp=PORT][,key=BASE64][,fabric-name=HEX][,site=NAME][,region=NAME], e.g. "
      "b=198.18.2.2:47000,key=...,region=eu-west-3");
  EXPECT_EQ(error({"--peers.peer", "b=300.1.1.1:5"}),
            "--peers.peer: peer 'b': '300.1.1.1:5': '300.1.1.1' is not an IPv4 address; "
            "accepted: IP:PORT");
  EXPECT_EQ(error({"--peers.peer", "b=10.0.0.1:5", "--peers.peer", "b=10.0.0.2:5"}),
            "--peers.peer: peer name 'b' given twice; accepted: each name once");
  EXPECT_EQ(error({"--peers.peer", "b=10.0.0.1:5", "--peers.peer", "c=10.0.0.1:5"}),
            "--peers.peer: peers 'b' and 'c' have the same address 10.0.0.1:5; accepted: one "
            "peer per address");
  EXPECT_EQ(error({"--peers.peer", "b=127.0.0.1:47000"}),
            "--peers.peer: peer 'b' is link.local itself (127.0.0.1:47000); accepted: another "
            "endpoint's address");
  EXPECT_EQ(error({"--link.entropy-ports", "65500:64"}),
            "--link.entropy-ports: '65500:64' runs past port 65535; accepted: FIRST + COUNT at "
            "most 65536 (FIRST at most 65472 for 64 ports)");
  EXPECT_EQ(error({"--services.tcp-echo", "127.0.0.1:7480"}),
            "--services.tcp-echo: is control.listen's address 127.0.0.1:7480; accepted: another "
            "IP:PORT, or off");
  EXPECT_EQ(error({"--services.tcp-echo", "on"}),
            "--services.tcp-echo: 'on' is not IP:PORT; accepted e.g. 198.18.1.1:47000");
  EXPECT_EQ(
      error({"--engine.pacing", "maybe"}),
      "--engine.pacing: 'maybe' is not a switch; accepted: on, off (true/false, yes/no, 1/0)");
  EXPECT_EQ(error({"--daemon.probe-every", "1ms"}),
            "--daemon.probe-every: '1ms' is too often; accepted 0 (off) or 100ms to 1 day");
  EXPECT_EQ(error({"--link.device", "net_null0"}),
            "--link.device: only with link.kind=dpdk (link.kind is udp); accepted: link.kind = "
            "dpdk, or leave this option out");
  EXPECT_EQ(error({"--link.neighbour", "10.0.0.1=02:00:00:00:00:01"}),
            "--link.neighbour: only with link.kind=dpdk (link.kind is udp); accepted: link.kind = "
            "dpdk, or leave this option out");
  EXPECT_EQ(error({"--link.kind", "dpdk"}),
            "--link.device: required with link.kind=dpdk; accepted e.g. net_af_xdp0,iface=veth0");
  EXPECT_EQ(error({"--link.entropy-ports", "46990:20"}),
            "--link.entropy-ports: '46990:20' contains link.local's port 47000; accepted: a range "
            "that leaves it out");
  EXPECT_EQ(error({"--engine.rto-min", "5ms", "--engine.rto-initial", "1ms"}),
            "--engine.rto-initial: must not be below engine.rto-min (5ms)");
}

TEST_F(ConfigTest, RequiredOptions) {
  DaemonConfig c;
  ParseResult r = parse_config({"--control.token-file", token_}, c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message,
            "--link.local: required: the IP:PORT this endpoint receives on, e.g. "
            "198.18.1.1:47000");
  r = parse_config({"--link.local", "127.0.0.1:47000"}, c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_THAT(r.message, HasSubstr("--control.token-file: required"));
}

TEST_F(ConfigTest, UnknownOptionsAndFiles) {
  DaemonConfig c;
  ParseResult r = parse_config(args({"--link.colour", "blue"}), c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_THAT(r.message, HasSubstr("link.colour"));
  const std::string conf = dir_ + "/bad.conf";
  write(conf, "[link]\ncolour = blue\n", 0644);
  r = parse_config(args({"--config", conf}), c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_THAT(r.message, HasSubstr("link.colour"));
  EXPECT_THAT(r.message, HasSubstr(conf));
  r = parse_config(args({"--config", dir_ + "/missing.conf"}), c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message, "--config: " + dir_ +
                           "/missing.conf: cannot open (No such file or directory); accepted: a "
                           "readable INI file");
  // A directory is said to be one (not "--link.local: required").
  r = parse_config(args({"--config", dir_}), c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message, "--config: " + dir_ + " is a directory; accepted: a readable INI file");
  r = parse_config({"--config", dir_}, c);
  EXPECT_EQ(r.message, "--config: " + dir_ + " is a directory; accepted: a readable INI file");
  // A file its reader may not read (root reads any file: checked as others).
  if (geteuid() != 0) {
    const std::string secret = dir_ + "/secret.conf";
    write(secret, "[link]\nmtu = 1500\n", 0);
    r = parse_config(args({"--config", secret}), c);
    EXPECT_EQ(r.outcome, ParseOutcome::error);
    EXPECT_EQ(r.message, "--config: " + secret +
                             ": cannot open (Permission denied); accepted: a readable INI file");
  }
}

TEST_F(ConfigTest, CommandLinePeersReplaceTheFiles) {
  const std::string conf = dir_ + "/peers.conf";
  write(conf,
        "[link]\nlocal = 127.0.0.1:47000\n[peers]\npeer = b=10.0.0.2:47000" + with_key() +
            "\npeer = c=10.0.0.3:47000" + with_key() + "\n" + keys_section() +
            "[control]\ntoken-file = " + token_ + "\n",
        0644);
  DaemonConfig c;
  ParseResult r = parse_config({"--config", conf}, c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  ASSERT_EQ(c.peers.size(), 2u);
  // The command line wins: its peers, not the file's and its own.
  r = parse_config({"--config", conf, "--peers.peer", "d=10.0.0.4:47000" + with_key()}, c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].name, "d");
  // A name the file also has takes the command line's address.
  r = parse_config({"--config", conf, "--peers.peer", "b=10.0.0.9:47000" + with_key(),
                    "--peers.peer", "e=10.0.0.5:47000" + with_key()},
                   c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].name, "b");
  EXPECT_EQ(c.peers[0].addr.ip, (10u << 24) | 9u);
  EXPECT_EQ(c.peers[1].name, "e");
}

TEST_F(ConfigTest, AReadOnlyTokenFile) {
  const std::string ro = dir_ + "/ro";
  write(ro, "read-only-token-0123456\n", 0600);
  DaemonConfig c;
  ParseResult r = parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", token_,
                                "--control.read-token-file", ro, "--keys.private-key-file", key_},
                               c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.read_token, "read-only-token-0123456");
  EXPECT_EQ(c.token, "s3cret-token-0123456");
  DaemonConfig same;
  r = parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", token_,
                    "--control.read-token-file", token_, "--keys.private-key-file", key_},
                   same);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_THAT(r.message, HasSubstr("--control.read-token-file: holds the same token"));
  write(ro, "short\n", 0600);
  DaemonConfig bad;
  r = parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", token_,
                    "--control.read-token-file", ro, "--keys.private-key-file", key_},
                   bad);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_THAT(r.message, HasSubstr("at least 16"));
}

TEST_F(ConfigTest, TokenFilePermissions) {
  std::string tok;
  EXPECT_EQ(read_token_file(token_, tok), "");
  EXPECT_EQ(tok, "s3cret-token-0123456");

  const std::string world = dir_ + "/world";
  write(world, "abc\n", 0644);
  EXPECT_EQ(read_token_file(world, tok),
            world +
                " is world-readable (mode 0644); accepted: a file others cannot read (chmod "
                "600 or 640)");
  const std::string group = dir_ + "/group";
  write(group, "abcdefghijklmnopq\n", 0640);
  EXPECT_EQ(read_token_file(group, tok), "");
  EXPECT_EQ(tok, "abcdefghijklmnopq");

  // Writable by others, a symlink, too short, another owner (issue 17).
  const std::string gw = dir_ + "/gw";
  write(gw, "abcdefghijklmnopq\n", 0660);
  EXPECT_EQ(read_token_file(gw, tok),
            gw + " is writable by others than its owner (mode 0660); accepted: chmod 600 or 640");
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(token_.c_str(), link.c_str()), 0);
  EXPECT_EQ(read_token_file(link, tok),
            link +
                " is a symbolic link; accepted: a regular file holding the token (a link could "
                "be pointed elsewhere)");
  const std::string shortt = dir_ + "/short";
  write(shortt, "fifteen-chars-x\n", 0600);
  EXPECT_EQ(
      read_token_file(shortt, tok),
      shortt + ": the token is 15 characters; accepted: at least 16 (e.g. openssl rand -hex 16)");
  if (geteuid() == 0) {
    const std::string other = dir_ + "/other";
    write(other, "abcdefghijklmnopq\n", 0600);
    ASSERT_EQ(chown(other.c_str(), 12345, 12345), 0);
    EXPECT_THAT(read_token_file(other, tok),
                HasSubstr("is owned by uid 12345, not by this user (uid 0) or root"));
  }
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_token_file(fifo, tok), fifo + ": not a regular file");  // and no hang

  const std::string empty = dir_ + "/empty";
  write(empty, " \n", 0600);
  EXPECT_EQ(read_token_file(empty, tok), empty + " is empty; accepted: a file holding the token");
  EXPECT_THAT(read_token_file(dir_ + "/none", tok), HasSubstr("cannot read (No such file"));
  EXPECT_EQ(read_token_file(dir_, tok), dir_ + ": not a regular file");

  // Through the option: one line naming it.
  DaemonConfig c;
  const ParseResult r =
      parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", world}, c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message,
            "--control.token-file: " + world +
                " is world-readable (mode 0644); accepted: a file others cannot read (chmod 600 "
                "or 640)");
}

TEST_F(ConfigTest, KeysAndEncryption) {
  DaemonConfig c;
  ParseResult r = parse_config(args(), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_TRUE(c.ep.encryption);
  EXPECT_EQ(c.ep.static_key, priv_);
  EXPECT_EQ(c.private_key_file, key_);
  EXPECT_EQ(c.ep.rekey_packets, tuning::kDefaultRekeyPackets);
  EXPECT_EQ(c.ep.rekey_interval, tuning::kDefaultRekeyInterval);
  EXPECT_TRUE(c.allowed_keys.empty());

  const PublicKey b = public_key_of(generate_private_key());
  const PublicKey s = public_key_of(generate_private_key());
  r = parse_config(args({"--peers.peer", "b=10.0.0.2:47000,key=" + key_to_base64(b) + ",tcp=9",
                         "--peers.allow-key", key_to_base64(s), "--endpoint.rekey-packets", "1000",
                         "--endpoint.rekey-interval", "10s"}),
                   c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].key, b);
  EXPECT_EQ(c.peers[0].tcp_port, 9);
  ASSERT_EQ(c.allowed_keys.size(), 1u);
  EXPECT_EQ(c.allowed_keys[0], s);
  EXPECT_EQ(c.ep.rekey_packets, 1000u);
  EXPECT_EQ(c.ep.rekey_interval, Duration::seconds(10));

  // Encryption off: no key needed anywhere.
  r = parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", token_,
                    "--endpoint.encryption", "off", "--peers.peer", "b=10.0.0.2:47000"},
                   c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_FALSE(c.ep.encryption);
  EXPECT_TRUE(is_zero(c.ep.static_key));
  EXPECT_TRUE(is_zero(c.peers[0].key));
}

TEST_F(ConfigTest, KeyErrors) {
  // No private key with encryption on: an error, not a derived key.
  DaemonConfig c;
  ParseResult r =
      parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file", token_}, c);
  EXPECT_EQ(r.outcome, ParseOutcome::error);
  EXPECT_EQ(r.message,
            "--keys.private-key-file: required with endpoint.encryption on: a file holding this "
            "appliance's private key, readable by its owner only (umask 077; srdxctl genkey > "
            "FILE)");
  // A peer without a key.
  EXPECT_EQ(error({"--peers.peer", "b=10.0.0.2:47000,tcp=9"}),
            "--peers.peer: peer 'b' has no key; with endpoint.encryption on every peer needs its "
            "public key: b=10.0.0.2:47000,key=BASE64 (srdxctl pubkey prints it)");
  // Bad base64, a short key, the zero key.
  EXPECT_EQ(error({"--peers.peer", "b=10.0.0.2:47000,key=not-base64!"}),
            "--peers.peer: peer 'b': key 'not-base64!' is not a key; accepted: a public key, 44 "
            "characters of base64 (srdxctl pubkey prints it)");
  EXPECT_THAT(error({"--peers.peer", "b=10.0.0.2:47000,key=AAAA"}), HasSubstr("is not a key"));
  EXPECT_EQ(error({"--peers.peer", "b=10.0.0.2:47000,key=" + key_to_base64(PublicKey{})}),
            "--peers.peer: peer 'b': the key is the all-zero key");
  EXPECT_EQ(
      error({"--peers.peer", "b=10.0.0.2:47000" + with_key() + with_key()}),
      "--peers.peer: 'b=10.0.0.2:47000" + with_key() + with_key() +
          "': key= given twice; accepted: "
          "NAME=IP:PORT[,tcp=PORT][,key=BASE64][,fabric-name=HEX][,site=NAME][,region=NAME], e.g. "
          "b=198.18.2.2:47000,key=...,region=eu-west-3");
  EXPECT_EQ(error({"--peers.allow-key", "zzz"}),
            "--peers.allow-key: 'zzz' is not a key; accepted: a public key, 44 characters of "
            "base64 (srdxctl pubkey prints it)");
  EXPECT_EQ(error({"--endpoint.encryption", "maybe"}),
            "--endpoint.encryption: 'maybe' is not a switch; accepted: on, off (true/false, "
            "yes/no, 1/0)");
  EXPECT_EQ(error({"--endpoint.rekey-packets", "10"}),
            "--endpoint.rekey-packets: '10' is out of range; accepted 64..8388608");
  EXPECT_THAT(error({"--endpoint.rekey-interval", "10ms"}),
              HasSubstr("--endpoint.rekey-interval: '10ms' is out of range; accepted"));

  // The private key file: the token's checks, then the key's form.
  auto key_error = [&](const std::string& file) {
    DaemonConfig d;
    const ParseResult kr = parse_config({"--link.local", "127.0.0.1:47000", "--control.token-file",
                                         token_, "--keys.private-key-file", file},
                                        d);
    EXPECT_EQ(kr.outcome, ParseOutcome::error);
    return kr.message;
  };
  const std::string world = dir_ + "/world.key";
  write(world, key_to_base64(priv_) + "\n", 0644);
  EXPECT_EQ(key_error(world),
            "--keys.private-key-file: " + world +
                " is world-readable (mode 0644); accepted: a file others cannot read (chmod 600 "
                "or 640)");
  const std::string empty = dir_ + "/empty.key";
  write(empty, "\n", 0600);
  EXPECT_EQ(key_error(empty), "--keys.private-key-file: " + empty +
                                  " is empty; accepted: a file holding the private key");
  const std::string bad = dir_ + "/bad.key";
  write(bad, "hello\n", 0600);
  EXPECT_EQ(key_error(bad),
            "--keys.private-key-file: " + bad +
                ": not a private key; accepted: 44 characters of base64 (umask 077; srdxctl "
                "genkey > " +
                bad + ")");
  EXPECT_THAT(key_error(dir_ + "/none"),
              HasSubstr("cannot read (No such file or directory); accepted: an existing file "
                        "holding the private key"));
  EXPECT_EQ(key_error(dir_), "--keys.private-key-file: " + dir_ + ": not a regular file");
}

TEST(PeerSpec, Forms) {
  PeerConfig p;
  EXPECT_EQ(parse_peer("b=198.18.2.2:47000", p), "");
  EXPECT_EQ(p.name, "b");
  EXPECT_EQ(p.addr.port, 47000);
  EXPECT_EQ(p.tcp_port, kDefaultTcpEchoPort);
  EXPECT_EQ(parse_peer("node-2.x=10.0.0.1:1,tcp=9", p), "");
  EXPECT_EQ(p.tcp_port, 9);
  EXPECT_THAT(parse_peer("b=10.0.0.1:1,udp=9", p), HasSubstr("unknown 'udp=9'"));
  EXPECT_THAT(parse_peer("b=10.0.0.1:1,tcp=0", p), HasSubstr("tcp port '0' is out of range"));
  EXPECT_THAT(parse_peer("b c=10.0.0.1:1", p), HasSubstr("the name may hold only"));
  EXPECT_THAT(parse_peer("=10.0.0.1:1", p), HasSubstr("1 to 64 characters"));
  // key= and tcp= in either order; each once.
  const std::string k = key_to_base64(public_key_of(generate_private_key()));
  EXPECT_EQ(parse_peer("b=10.0.0.1:1,key=" + k + ",tcp=9", p), "");
  EXPECT_EQ(key_to_base64(p.key), k);
  EXPECT_EQ(p.tcp_port, 9);
  EXPECT_EQ(parse_peer("b=10.0.0.1:1,tcp=8,key=" + k, p), "");
  EXPECT_EQ(p.tcp_port, 8);
  EXPECT_THAT(parse_peer("b=10.0.0.1:1,tcp=8,tcp=9", p), HasSubstr("tcp= given twice"));
  EXPECT_THAT(parse_peer("b=10.0.0.1:1,", p), HasSubstr("unknown ''"));
}

}  // namespace

namespace {

TEST_F(ConfigTest, TheCarrierIsTheEngineUnlessSaid) {
  DaemonConfig c;
  ASSERT_EQ(parse_config(args(), c).outcome, ParseOutcome::run);
  EXPECT_EQ(c.carrier, "engine");
}

TEST_F(ConfigTest, FabricCarrierWithItsProviderAndPeerNames) {
  DaemonConfig c;
  const ParseResult r = parse_config(
      args({"--carrier.kind", "fabric", "--carrier.provider", "shm", "--endpoint.encryption", "off",
            "--peers.peer", "b=127.0.0.2:47000,fabric-name=0a0B", "--peers.peer",
            "c=127.0.0.3:47000"}),
      c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.carrier, "fabric");
  EXPECT_EQ(c.fabric_provider, "shm");
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].fabric_name, "0a0B");
  EXPECT_EQ(c.peers[1].fabric_name, "");
}

TEST_F(ConfigTest, CarrierMistakesAreOneClearLine) {
  EXPECT_EQ(error({"--carrier.kind", "tcp"}),
            "--carrier.kind: 'tcp' is not a carrier; accepted: engine, fabric");
  EXPECT_THAT(error({"--carrier.kind", "fabric"}), HasSubstr("fabric does not encrypt"));
  EXPECT_THAT(error({"--carrier.provider", "shm"}),
              HasSubstr("only with carrier.kind = fabric (carrier.kind is engine)"));
  const std::vector<std::string> fabric = {"--carrier.kind", "fabric", "--endpoint.encryption",
                                           "off"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), fabric.begin(), fabric.end());
    return more;
  };
  EXPECT_THAT(error(with({"--carrier.provider", ""})), HasSubstr("--carrier.provider: empty"));
  EXPECT_THAT(error(with({"--peers.accept-unknown", "on"})),
              HasSubstr("not with carrier.kind = fabric"));
  for (const char* bad : {"abc", "", "zz", "0x12"}) {
    EXPECT_THAT(error(with({"--peers.peer", std::string("b=127.0.0.2:1,fabric-name=") + bad})),
                HasSubstr("is not an endpoint name"))
        << bad;
  }
  EXPECT_THAT(error(with({"--peers.peer", "b=127.0.0.2:1,fabric-name=ab,fabric-name=ab"})),
              HasSubstr("fabric-name= given twice"));
  EXPECT_THAT(
      error({"--endpoint.encryption", "off", "--peers.peer", "b=127.0.0.2:1,fabric-name=ab"}),
      HasSubstr("fabric-name= only with carrier.kind = fabric"));
}

TEST_F(ConfigTest, ReplicationDefaultsAndValues) {
  DaemonConfig c;
  ParseResult r = parse_config(args(), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.replication.dr_root, "");
  EXPECT_EQ(c.replication.state_dir, "/var/lib/srdx");
  EXPECT_EQ(c.replication.audit_log, "/var/lib/srdx/audit.jsonl");
  EXPECT_TRUE(c.replication.allowed_regions.empty());

  const std::string conf = dir_ + "/r.conf";
  write(conf,
        "[link]\nlocal = 127.0.0.1:47000\n[control]\ntoken-file = " + token_ + "\n" +
            keys_section() + "[peers]\npeer = b=127.0.0.2:47000" + with_key() +
            ",site=paris-2,region=eu-west-3\n[replication]\ndr-root = " + dir_ +
            "\nstate-dir = " + dir_ + "/state/\nallowed-regions = eu-west-3, eu-central-1\n" +
            "site = lyon-1\nregion = eu-west-3\n",
        0600);
  r = parse_config({"--config", conf}, c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.replication.dr_root, dir_);
  EXPECT_EQ(c.replication.state_dir, dir_ + "/state");
  EXPECT_EQ(c.replication.audit_log, dir_ + "/state/audit.jsonl");
  EXPECT_EQ(c.replication.allowed_regions, (std::vector<std::string>{"eu-west-3", "eu-central-1"}));
  EXPECT_EQ(c.replication.site, "lyon-1");
  EXPECT_EQ(c.replication.region, "eu-west-3");
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].site, "paris-2");
  EXPECT_EQ(c.peers[0].region, "eu-west-3");

  r = parse_config(args({"--replication.audit-log", dir_ + "/a.log"}), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_EQ(c.replication.audit_log, dir_ + "/a.log");
}

// Replication carries health records: without encryption a DR site is a
// config error, and a source refuses jobs (control/jobs.cc), unless the
// operator says the network below encrypts.
TEST_F(ConfigTest, ReplicationWithoutEncryptionNeedsItsOwnSwitch) {
  EXPECT_THAT(error({"--endpoint.encryption", "off", "--replication.dr-root", dir_}),
              HasSubstr("--replication.dr-root: replication carries health records and needs "
                        "encrypted, authenticated connections: endpoint.encryption = on, or "
                        "replication.allow-unencrypted = on"));
  DaemonConfig c;
  ParseResult r = parse_config(args({"--endpoint.encryption", "off", "--replication.dr-root", dir_,
                                     "--replication.allow-unencrypted", "on"}),
                               c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_TRUE(c.replication.unencrypted_refusal().empty());
  r = parse_config(args({"--endpoint.encryption", "off"}), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_FALSE(c.replication.unencrypted_refusal().empty()) << "a source's jobs are refused";
  r = parse_config(args(), c);
  ASSERT_EQ(r.outcome, ParseOutcome::run) << r.message;
  EXPECT_TRUE(c.replication.unencrypted_refusal().empty());
  EXPECT_THAT(error({"--replication.allow-unencrypted", "maybe"}),
              HasSubstr("--replication.allow-unencrypted: 'maybe'"));
}

TEST_F(ConfigTest, ReplicationMistakesAreOneClearLine) {
  EXPECT_EQ(error({"--replication.dr-root", "dr"}),
            "--replication.dr-root: 'dr' is not an absolute path; accepted: /...");
  EXPECT_EQ(error({"--replication.dr-root", ""}),
            "--replication.dr-root: empty; accepted: an absolute path");
  EXPECT_EQ(error({"--replication.dr-root", dir_ + "/none"}),
            "--replication.dr-root: '" + dir_ +
                "/none': No such file or directory; accepted: an existing directory (mkdir -p it)");
  EXPECT_EQ(error({"--replication.dr-root", token_}),
            "--replication.dr-root: '" + token_ + "' is not a directory");
  EXPECT_EQ(error({"--replication.state-dir", "var/lib"}),
            "--replication.state-dir: 'var/lib' is not an absolute path; accepted: /...");
  EXPECT_EQ(error({"--replication.audit-log", "audit.jsonl"}),
            "--replication.audit-log: 'audit.jsonl' is not an absolute path; accepted: /...");
  EXPECT_EQ(error({"--replication.audit-log", "/var/log/"}),
            "--replication.audit-log: '/var/log/' names a directory; accepted: a file path");
  EXPECT_EQ(error({"--replication.allowed-regions", "eu-west-3,,eu-central-1"}),
            "--replication.allowed-regions: an empty region in 'eu-west-3,,eu-central-1' is not "
            "a region name; accepted: a comma list of names of 1 to 64 letters, digits, '-', "
            "'_', '.' (e.g. eu-west-3,eu-central-1)");
  EXPECT_THAT(error({"--replication.allowed-regions", "eu west"}),
              HasSubstr("--replication.allowed-regions: 'eu west' in 'eu west' is not a region"));
  EXPECT_EQ(error({"--replication.region", "eu/west"}),
            "--replication.region: 'eu/west' is not a name; accepted: 1 to 64 letters, digits, "
            "'-', '_', '.' (e.g. eu-west-3)");
  EXPECT_THAT(error({"--replication.site", std::string(65, 'a')}),
              HasSubstr("--replication.site: '"));
  const std::string peer = "b=127.0.0.2:47000" + with_key();
  EXPECT_EQ(error({"--peers.peer", peer + ",region=eu west"}),
            "--peers.peer: peer 'b': region 'eu west' is not a name; accepted: 1 to 64 "
            "letters, digits, '-', '_', '.' (e.g. eu-west-3)");
  EXPECT_EQ(error({"--peers.peer", peer + ",site="}),
            "--peers.peer: peer 'b': site '' is not a name; accepted: 1 to 64 letters, digits, "
            "'-', '_', '.' (e.g. eu-west-3)");
  EXPECT_THAT(error({"--peers.peer", peer + ",region=a,region=b"}),
              HasSubstr("region= given twice"));
  EXPECT_THAT(error({"--peers.peer", peer + ",site=a,site=b"}), HasSubstr("site= given twice"));
}

}  // namespace
