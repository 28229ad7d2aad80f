// srdxd's configuration: the command line and an INI-style config file with
// the same option names (Boost.Program_options). `--link.kind udp` on the
// command line is `kind = udp` under `[link]` in the file.
//
// Every value is parsed here, once, into typed fields; an invalid value gives
// one line naming the option, what was wrong and what is accepted, and the
// daemon refuses to start rather than guess.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "link.h"
#include "log.h"
#include "loop/poller.h"
#include "srdx/config.h"
#include "srdx/endpoint.h"
#include "srdx/keys.h"
#include "srdx/time.h"

namespace srdx::ctl {

inline constexpr const char* kVersion = "0.1.0";
inline constexpr uint16_t kDefaultTcpEchoPort = 7481;
inline constexpr uint16_t kDefaultControlPort = 7480;
// The flow the srdx echo service answers on (probes use it).
inline constexpr uint16_t kEchoFlow = 0xFFFF;

struct PeerConfig {
  std::string name;
  Addr addr;
  uint16_t tcp_port = kDefaultTcpEchoPort;
  // Its static public key (key=BASE64); all zero: none given (accepted only
  // with endpoint.encryption = off).
  PublicKey key{};
  // With carrier.kind = fabric: the peer's endpoint name in hex (srdxctl
  // status shows it), for providers not addressed by IP:PORT (shm). Empty:
  // the peer is reached at addr.
  std::string fabric_name;
  // site=, region=: where the peer is (replication.allowed-regions checks
  // region); empty: not said.
  std::string site, region;
  bool operator==(const PeerConfig&) const = default;
};

// The endpoint's bounds on state and memory ([endpoint]), read and checked
// here; apply_endpoint_limits() is the one place they reach EndpointConfig.
struct EndpointLimits {
  // Peers the endpoint may hold, configured and accepted together.
  uint32_t max_peers = 1024;
  // All peers' receive buffers together.
  uint64_t recv_memory_bytes = uint64_t{1} << 30;
  // An accepted (unconfigured) peer idle this long is reclaimed.
  Duration idle_timeout = Duration::seconds(120);
  bool operator==(const EndpointLimits&) const = default;
};

// [replication] (read at start): DR replication jobs (control/jobs.h) and,
// with dr-root, this appliance as a DR site.
inline constexpr const char* kDefaultStateDir = "/var/lib/srdx";

struct ReplicationConfig {
  // Where replicas from peers land (dr_root/<job name>); empty: this
  // appliance refuses incoming replication.
  std::string dr_root;
  // Job definitions and state (jobs.json); created 0700 at start.
  std::string state_dir = kDefaultStateDir;
  // The hash-chained audit log; default state_dir/audit.jsonl.
  std::string audit_log;
  // A job refuses a peer whose region is not one of these; empty: any.
  std::vector<std::string> allowed_regions;
  // This appliance's own site and region (for the audit log and status).
  std::string site, region;
  // Replication runs only over encrypted, authenticated connections
  // (endpoint.encryption on), unless this says the network below does it
  // (EFA between Nitro instances, with the fabric carrier).
  bool allow_unencrypted = false;
  bool encrypted = true;  // endpoint.encryption, as parsed
  // Why replication is refused on this appliance's carrier; empty: it is not.
  std::string unencrypted_refusal() const;
  bool operator==(const ReplicationConfig&) const = default;
};

// [telemetry] (read at start): the MQTT telemetry bridge (issue 15,
// control/mqtt_bridge.h). role edge: subscribe to the local broker's topics
// and ship them to the `central` peer; role central: publish what edges send
// to the local broker; off: neither.
struct TelemetryConfig {
  std::string role = "off";  // off, edge, central
  std::string broker_host = "127.0.0.1";
  uint16_t broker_port = 1883;
  int mqtt_version = 5;             // 5 or 4 (3.1.1)
  std::string client_id;            // default srdxd-ROLE
  std::vector<std::string> topics;  // edge: filters subscribed
  int qos = 1;                      // edge: subscription QoS
  std::string central;              // edge: the peer (by name) to ship to
  std::vector<std::string> alarms;  // edge: rules, checked here
  std::string alarm_topic = "srdx/alarms";
  std::string spool_dir;  // edge; default STATE-DIR/telemetry-spool
  uint64_t spool_max = 256ull << 20;
  bool fsync_always = false;
  Duration gap_timeout = Duration::seconds(10);  // central
  bool operator==(const TelemetryConfig&) const = default;
};

// A site or region name: 1..64 of [A-Za-z0-9._-] (eu-west-3, paris-1).
bool valid_place_name(std::string_view name);

struct DaemonConfig {
  std::string config_file;  // empty: command line only
  dp::LinkConfig link;
  // carrier.kind: "engine" (the srdx engine over the link) or "fabric" (a
  // libfabric endpoint of carrier.provider, opened at link.local for the
  // providers addressed by IP:PORT; the link is not opened).
  std::string carrier = "engine";
  std::string fabric_provider = "udp;ofi_rxd";
  EndpointConfig ep;  // ep.accept_unknown_peers is peers.accept-unknown
  EndpointLimits limits;
  dp::PollerConfig poll;
  std::vector<PeerConfig> peers;
  // peers.allow-key: strangers (peers.accept-unknown) holding one of these
  // keys may connect.
  std::vector<PublicKey> allowed_keys;
  // keys.private-key-file; the key itself goes to ep.static_key.
  std::string private_key_file;
  Addr control_listen{0x7f000001, kDefaultControlPort};
  // control.listen = unix:PATH: the API on a unix socket (mode 0660) instead;
  // control_listen is then unused.
  std::string control_unix;
  std::string token_file;
  std::string token;  // read from token_file: every request (the write scope)
  // control.read-token-file (optional): a second token for GET and HEAD
  // only (/metrics, status): what a Prometheus or a dashboard holds.
  std::string read_token_file;
  std::string read_token;
  uint32_t max_probes = 8;  // API probes running at once (each has a thread)
  // The control API against slow and greedy clients (control/api.cc): a
  // connection must deliver its whole request (line, headers, body) within
  // request_timeout of being accepted; one client IP holds at most
  // max_connections_per_client connections (served or queued); `workers`
  // threads serve requests and at most `queue` accepted connections wait
  // for one. What is refused is answered 503 and counted
  // (srdx_api_connections_refused_total{reason}).
  Duration api_request_timeout = Duration::seconds(10);
  uint32_t api_max_per_client = 8;
  uint32_t api_workers = 8;
  uint32_t api_queue = 64;
  bool tcp_echo = true;
  Addr tcp_echo_addr;  // default: the link's local IP, port 7481
  // A TCP echo connection that sends nothing for this long is closed; one
  // source IP holds at most this many connections (more are reset, counted).
  Duration tcp_echo_idle_timeout = Duration::seconds(60);
  uint32_t tcp_echo_max_per_source = 8;
  LogLevel log_level = LogLevel::info;
  Duration drain_timeout = Duration::seconds(5);
  Duration probe_every = Duration::zero();  // 0: no periodic probing
  ReplicationConfig replication;
  TelemetryConfig telemetry;
};

enum class ParseOutcome { run, check, help, version, error };

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::error;
  std::string message;  // help text, or the one-line error
};

// Parses a command line (args excludes the program name) and the config file
// it names (--config). On error, outcome is `error` and message is one line.
// read_token: also read and check the token file (the daemon and
// --check-config do; a SIGHUP reload does not). The private key file
// (keys.private-key-file) is read whenever it is given: it is needed to tell
// whether a reload changed it.
ParseResult parse_config(const std::vector<std::string>& args, DaemonConfig& out,
                         bool read_token = true);

// Copies srdxd's [endpoint] limits and its secret into the engine's
// configuration. The daemon calls it once, on the EndpointConfig it builds
// the Endpoint from; `secret` comes from getrandom(2) at start-up (it keys
// connection ids and cookies). The static key comes from
// keys.private-key-file (parse_config), never from the secret.
void apply_endpoint_limits(const EndpointLimits& limits, std::span<const uint8_t, 32> secret,
                           EndpointConfig& ep);

// --help: usage and every option, grouped by topic.
std::string help_text();

// "NAME=IP:PORT[,tcp=PORT][,key=BASE64][,fabric-name=HEX][,site=NAME][,region=NAME]".
// Empty on success, else what is wrong.
std::string parse_peer(std::string_view text, PeerConfig& out);

// The bearer token (read_secret_file).
std::string read_token_file(const std::string& path, std::string& token);

// The appliance's X25519 private key (loop/secret_file.h), the messages
// saying how to make one with srdxctl.
std::string read_appliance_key_file(const std::string& path, PrivateKey& key);

// Whether two TCP listeners cannot both bind: the same port, and the same IP
// or either on 0.0.0.0 (the wildcard takes the port on every address, so a
// later bind of any one address fails, and the reverse). Empty when they
// can; else why, naming both options.
std::string listener_conflict(const char* option_a, Addr a, const char* option_b, Addr b);

// control.listen as given: "IP:PORT" or "unix:PATH".
std::string control_listen_text(const DaemonConfig& c);

// "IP:PORT" (IPv4). Empty on success.
std::string parse_addr(std::string_view text, Addr& out);
std::string format_addr(Addr a);
std::string format_ip(uint32_t ip);

}  // namespace srdx::ctl
