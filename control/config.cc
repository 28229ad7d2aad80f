#include "config.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "loop/secret_file.h"
#include "request.h"
#include "sim/units.h"
#include "telemetry/rules.h"
#include "telemetry/topic.h"

namespace po = boost::program_options;

#ifndef SRDX_SYSCONFDIR
#define SRDX_SYSCONFDIR "/etc"  // meson passes the configured one
#endif

namespace srdx::ctl {
namespace {

// One line: "--OPTION: what was wrong; accepted: ...".
struct Invalid {
  std::string line;
};

[[noreturn]] void fail(const std::string& option, const std::string& what) {
  throw Invalid{"--" + option + ": " + what};
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- the option table ---------------------------------------------------------

struct Opt {
  const char* group;
  const char* name;
  const char* def;  // nullptr: no default
  const char* help;
  bool repeat = false;
};

// Groups in --help order.
const char* const kGroups[] = {"link", "carrier", "engine",      "endpoint",
                               "keys", "peers",   "control",     "services",
                               "log",  "daemon",  "replication", "telemetry"};
const char* group_caption(std::string_view g) {
  if (g == "link") return "Link ([link] in the config file)";
  if (g == "carrier") return "Carrier: what moves the messages ([carrier]; read at start)";
  if (g == "engine") return "Engine: paths, timers, congestion control ([engine])";
  if (g == "endpoint") return "Endpoint: encryption, peers and memory ([endpoint]; read at start)";
  if (g == "keys") return "Keys: the appliance's own key pair ([keys]; read at start)";
  if (g == "peers") return "Peers ([peers]; SIGHUP re-reads the peer list)";
  if (g == "control") return "Control API ([control])";
  if (g == "services") return "Measurement responders ([services])";
  if (g == "log") return "Logging ([log])";
  if (g == "replication") return "DR replication jobs and DR site ([replication]; read at start)";
  if (g == "telemetry") return "MQTT telemetry bridge ([telemetry]; read at start)";
  return "Daemon ([daemon])";
}

const std::vector<Opt>& options_table() {
  static const std::vector<Opt> t = {
      {"link", "link.kind", "udp", "link backend: udp (kernel sockets, io_uring) or dpdk"},
      {"link", "link.local", nullptr, "IP:PORT the endpoint receives on (required)"},
      {"link", "link.entropy-ports", "49152:64",
       "FIRST:COUNT: UDP source ports packets leave from (one per entropy)"},
      {"link", "link.mtu", "1500", "IP MTU of the link (576..9216)"},
      {"link", "link.burst", "32", "packets per rx/tx burst (1..1024)"},
      {"link", "link.queue-depth", "1024", "link queue depth in packets (1..65536)"},
      {"link", "link.device", nullptr,
       "dpdk: vdev spec or PCI address (net_af_xdp0,iface=veth0, 0000:00:05.0)"},
      {"link", "link.eal", "", "dpdk: EAL arguments, one string (--no-huge -m 256 ...)"},
      {"link", "link.gateway", nullptr, "dpdk: next-hop IP for peers off the local subnet"},
      {"link", "link.prefix-len", "24", "dpdk: local subnet prefix length (1..32)"},
      {"link", "link.neighbour", nullptr, "dpdk: IP=MAC static neighbour entry; repeatable", true},
      {"carrier", "carrier.kind", "engine",
       "engine: the srdx engine over the link (it does reliability, multipath and "
       "encryption); fabric: a libfabric reliable-datagram endpoint of carrier.provider (the "
       "provider does reliability; no encryption: needs endpoint.encryption = off; the link "
       "is not opened)"},
      {"carrier", "carrier.provider", "udp;ofi_rxd",
       "carrier.kind = fabric: the libfabric provider (efa on AWS; udp;ofi_rxd and "
       "tcp;ofi_rxm open at link.local's IP:PORT; shm names its endpoint itself, and peers "
       "name it with fabric-name=)"},
      {"engine", "engine.paths", "16", "entropies (paths) per peer (1..256)"},
      {"engine", "engine.rto-min", "50us", "smallest retransmission timeout"},
      {"engine", "engine.rto-initial", "1ms", "retransmission timeout before any RTT sample"},
      {"engine", "engine.rto-max", "20ms", "largest retransmission timeout"},
      {"engine", "engine.message-timeout", "2s", "a message not acknowledged within this fails"},
      {"engine", "engine.max-message", "16MiB", "largest message (1..1GiB)"},
      {"engine", "engine.peer-timeout", "200ms", "silence after which a busy peer is down"},
      {"engine", "engine.handshake-interval", "1ms", "first hello retry interval"},
      {"engine", "engine.ack-delay", "10us", "longest delay of an acknowledgement"},
      {"engine", "engine.ack-every", "2", "acknowledge at least every N packets (1..64)"},
      {"engine", "engine.reorder-threshold", "3",
       "later packets on a path acked before an earlier one is lost (1..1000)"},
      {"engine", "engine.cc-target", "25us", "congestion control: target queueing delay"},
      {"engine", "engine.cc-initial-window", "64KiB", "congestion control: initial window"},
      {"engine", "engine.cc-max-window", "64MiB", "congestion control: largest window"},
      {"engine", "engine.pacing", "on", "pace each window out (on/off)"},
      {"engine", "engine.idle", "sleep",
       "poll loop when idle: sleep (spin, then sleep on the link) or busy (a core)"},
      {"engine", "engine.max-sleep", "1ms", "poll loop: longest single sleep"},
      {"engine", "engine.spin", "200",
       "poll loop: idle iterations polled before it sleeps (1..1000000; fewer spare a shared "
       "core)"},
      {"engine", "engine.spin-time", "0us",
       "poll loop: keep spinning this long after the last work before sleeping (0us..1s)"},
      {"endpoint", "endpoint.max-peers", "1024",
       "peers the endpoint may hold, listed and accepted together (1..1048576); "
       "[peers] must fit"},
      {"endpoint", "endpoint.recv-memory", "1GiB",
       "receive buffers of all peers together (engine.max-message..1024GiB)"},
      {"endpoint", "endpoint.idle-timeout", "120s",
       "an accepted peer (not in [peers]) idle this long is reclaimed (longer than "
       "engine.peer-timeout; at most 1 day)"},
      {"endpoint", "endpoint.encryption", "on",
       "on: an authenticated handshake (Noise IK, X25519) and every packet sealed "
       "(AES-256-GCM); off: FOR MEASUREMENT ONLY, anyone on the path can read, forge and "
       "reset all traffic (logged loudly at start)"},
      {"endpoint", "endpoint.rekey-packets", "8388608",
       "a key update after this many packets under one key (64..8388608), without a pause in "
       "traffic"},
      {"endpoint", "endpoint.rekey-interval", "120s",
       "a key update after this long under one key (1s..1 day), whichever comes first"},
      {"keys", "keys.private-key-file", nullptr,
       "file holding this appliance's X25519 private key, base64 (srdxctl genkey); must not "
       "be world-readable (chmod 600); required with endpoint.encryption on"},
      {"peers", "peers.peer", nullptr,
       "NAME=IP:PORT[,tcp=PORT][,key=BASE64][,fabric-name=HEX][,site=NAME][,region=NAME]: a "
       "peer, its TCP echo port (default 7481), its public key (srdxctl pubkey; required "
       "with endpoint.encryption on), with carrier.kind = fabric over shm its endpoint name "
       "(its srdxctl status shows it), and where it is (site=paris-2,region=eu-west-3: "
       "replication.allowed-regions checks the region); repeatable",
       true},
      {"peers", "peers.allow-key", nullptr,
       "BASE64 public key: with accept-unknown = on, a host not in [peers] may connect only "
       "if it holds the private key of one of these; repeatable (a SIGHUP adds new ones; "
       "removing one takes a restart)",
       true},
      {"peers", "peers.accept-unknown", "off",
       "on: hosts not in [peers] may connect (up to endpoint.max-peers); off: their packets "
       "are dropped (drops reason unknown_peer). Either way the srdx and TCP echo answer "
       "listed peers only. Read at start"},
      {"control", "control.listen", "127.0.0.1:7480",
       "IP:PORT of the HTTP/JSON control API, or unix:PATH (an absolute path: a unix socket, "
       "mode 0660, for local control only)"},
      {"control", "control.token-file", nullptr,
       "file holding the API bearer token (every request); mode 600 or 640, owned by srdxd's "
       "user or root, no symlink, at least 16 characters (required; re-read on SIGHUP)"},
      {"control", "control.read-token-file", nullptr,
       "file holding a read-only token: GET and HEAD only (/metrics, status), for a Prometheus "
       "or a dashboard; the same checks (optional; re-read on SIGHUP)"},
      {"control", "control.max-probes", "8",
       "API probes running at once (1..1024); one more gets 429 until one ends"},
      {"control", "control.request-timeout", "10s",
       "a connection must send its whole request (line, headers, body) within this long "
       "of being accepted, however it trickles (1s..300s); else it is closed (408) and "
       "counted"},
      {"control", "control.max-connections-per-client", "8",
       "connections one client IP may hold open or queued at once (1..1024); one more is "
       "refused (503)"},
      {"control", "control.workers", "8", "threads serving API requests (1..256)"},
      {"control", "control.queue", "64",
       "accepted connections waiting for a worker (0..4096); one more is refused (503)"},
      {"services", "services.tcp-echo", nullptr,
       "IP:PORT of the TCP echo listener, or off (default: link.local's IP, port 7481; "
       "with a dpdk link that IP is not the kernel's: the echo is then off, and says so)"},
      {"services", "services.tcp-echo-idle-timeout", "60s",
       "a TCP echo connection idle this long is closed (1s..1h)"},
      {"services", "services.tcp-echo-max-per-source", "8",
       "TCP echo connections one peer IP may hold at once (1..256); more are reset"},
      {"log", "log.level", "info", "error, warn, info or debug"},
      {"daemon", "daemon.drain-timeout", "5s",
       "SIGTERM: how long to wait for in-flight messages before exiting"},
      {"daemon", "daemon.probe-every", "0",
       "probe every peer over srdx and tcp (10 pings) this often, as metrics "
       "(source=\"periodic\"); 0 = off, else 100ms or more"},
      {"replication", "replication.dr-root", nullptr,
       "directory (absolute, existing) where this appliance accepts replicas from its peers, "
       "one folder per job (DR-ROOT/JOB); absent: incoming replication is refused"},
      {"replication", "replication.state-dir", kDefaultStateDir,
       "absolute directory for the jobs' definitions and state (jobs.json) and the audit "
       "log; created 0700 at start"},
      {"replication", "replication.audit-log", nullptr,
       "the hash-chained audit log, JSON lines (default STATE-DIR/audit.jsonl); srdxctl "
       "replicate audit LOG --verify checks it"},
      {"replication", "replication.allowed-regions", "",
       "comma list of regions (e.g. eu-west-3,eu-central-1): a job refuses a peer whose "
       "region= is not one of them (HDS: the EEA); empty: any region"},
      {"replication", "replication.allow-unencrypted", "off",
       "on: replicate (and accept replicas) with endpoint.encryption = off, where the network "
       "below encrypts and authenticates (EFA between Nitro instances, carrier.kind = fabric); "
       "off: replication needs endpoint.encryption = on"},
      {"replication", "replication.site", "", "this appliance's site name (audit, status)"},
      {"replication", "replication.region", "", "this appliance's region (audit, status)"},
      {"telemetry", "telemetry.role", "off",
       "off, edge (subscribe to the local MQTT broker, ship to telemetry.central) or central "
       "(publish what edges send to the local broker)"},
      {"telemetry", "telemetry.broker", "127.0.0.1:1883", "the local MQTT broker, HOST:PORT"},
      {"telemetry", "telemetry.mqtt-version", "5", "5 or 3.1.1"},
      {"telemetry", "telemetry.client-id", nullptr,
       "MQTT client id of the bridge (a persistent session; default srdxd-ROLE)"},
      {"telemetry", "telemetry.topic", nullptr,
       "edge: a topic filter to subscribe to (+ and # wildcards; in the config file, where # "
       "starts a comment, write turbine/* for turbine/#); repeatable",
       true},
      {"telemetry", "telemetry.qos", "1", "edge: subscription QoS, 0 or 1"},
      {"telemetry", "telemetry.central", nullptr, "edge: the peer (a [peers] name) to ship to"},
      {"telemetry", "telemetry.alarm", nullptr,
       "edge: an alarm rule, FILTER OP NUMBER [for N samples], e.g. "
       "turbine/+/temperature > 80 for 3 samples; repeatable",
       true},
      {"telemetry", "telemetry.alarm-topic", "srdx/alarms",
       "edge: alarms are published to ALARM-TOPIC/<sample topic>"},
      {"telemetry", "telemetry.spool-dir", nullptr,
       "edge: the store-and-forward spool (absolute; default STATE-DIR/telemetry-spool)"},
      {"telemetry", "telemetry.spool-max", "256MiB", "edge: the spool's bound on disk"},
      {"telemetry", "telemetry.fsync", "interval",
       "edge: interval (fsync the spool every 100 ms; QoS 1 survives kill -9) or always "
       "(fsync before each QoS 1 acknowledgement; survives power loss)"},
      {"telemetry", "telemetry.gap-timeout", "10s",
       "central: a missing sequence number counts as a gap after this long"},
  };
  return t;
}

// program_options names may also be spelled with '_' for '-' (control.token_file).
std::string underscored(std::string s) {
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

struct Descriptions {
  static constexpr unsigned kWidth = 100, kDescWidth = 50;  // --help columns
  po::options_description general{"General", kWidth, kDescWidth};
  std::map<std::string, po::options_description> groups;
  po::options_description visible{kWidth, kDescWidth};
  po::options_description all;        // command line: visible + hidden aliases
  po::options_description file_opts;  // config file: the same names

  Descriptions() {
    general.add_options()("help,h", "show this help and exit")("version", "print the version")(
        "config,c", po::value<std::string>(), "read options from this INI-style file")(
        "check-config", "validate the configuration (and token file), print 'config ok', exit");
    visible.add(general);
    po::options_description hidden;
    for (const char* g : kGroups)
      groups.emplace(g, po::options_description(group_caption(g), kWidth, kDescWidth));
    for (const Opt& o : options_table()) {
      auto add = [&](po::options_description& d, const std::string& name, const char* help) {
        if (o.repeat) {
          d.add_options()(name.c_str(), po::value<std::vector<std::string>>()->composing(), help);
        } else if (o.def) {
          d.add_options()(name.c_str(), po::value<std::string>()->default_value(o.def), help);
        } else {
          d.add_options()(name.c_str(), po::value<std::string>(), help);
        }
      };
      add(groups.at(o.group), o.name, o.help);
      add(file_opts, o.name, o.help);
      const std::string alias = underscored(o.name);
      if (alias != o.name) {
        // Aliases carry no default, so that a default never hides a value.
        if (o.repeat) {
          hidden.add_options()(alias.c_str(), po::value<std::vector<std::string>>()->composing(),
                               "");
          file_opts.add_options()(alias.c_str(), po::value<std::vector<std::string>>()->composing(),
                                  "");
        } else {
          hidden.add_options()(alias.c_str(), po::value<std::string>(), "");
          file_opts.add_options()(alias.c_str(), po::value<std::string>(), "");
        }
      }
    }
    for (const char* g : kGroups) visible.add(groups.at(g));
    all.add(visible).add(hidden);
  }
};

const char* kUsage =
    "srdxd: the srdx appliance daemon. Runs the dataplane (udp or dpdk link) and the\n"
    "srdx engine, answers srdx and TCP echo probes, and serves the control API\n"
    "(HTTP/JSON with a bearer token, Prometheus metrics on /metrics).\n"
    "\n"
    "Usage: srdxd --config " SRDX_SYSCONFDIR
    "/srdx/srdxd.conf\n"
    "       srdxd --check-config --config FILE     (prints 'config ok'; exit 0, else 2)\n"
    "       srdxd --link.local IP:PORT --control.token-file FILE [options]\n"
    "\n"
    "Every option can be given on the command line (--link.mtu 9001) or in the\n"
    "config file under its section ([link] then mtu = 9001); the command line wins\n"
    "(--peers.peer and --link.neighbour given there replace all of the file's).\n"
    "Names may also be spelled with '_' for '-' (control.token_file).\n"
    "Durations take a unit (50us, 2ms, 5s), sizes may (64KiB, 16MiB).\n"
    "Only the hosts listed in [peers] may connect (peers.accept-unknown = off), and\n"
    "the srdx and TCP echo answer them only (TCP: by the peer's IP).\n"
    "Keys: every appliance has an X25519 key pair and names its peers' public keys\n"
    "(as WireGuard does): `umask 077; srdxctl genkey > key; srdxctl pubkey < key`,\n"
    "then [keys] private-key-file = key here and key=PUBLIC on the peer line there.\n"
    "Signals: SIGTERM/SIGINT drain in-flight messages (daemon.drain-timeout) and\n"
    "exit 0; SIGHUP re-reads the config file's peer list (unless --peers.peer is\n"
    "given): added peers connect, removed ones' messages fail, a peer whose address\n"
    "or key changed is replaced, the others are kept; new peers.allow-key entries\n"
    "apply. A changed keys.private-key-file is refused (logged; restart srdxd for\n"
    "it) while the rest of the reload applies.\n"
    "Replication: jobs run from the control API (POST /v1/replications, srdxctl\n"
    "replicate start); [replication] dr-root makes this appliance a DR site;\n"
    "allowed-regions refuses peers whose region= is elsewhere (HTTP 403, audited).\n";

// ---- value parsers --------------------------------------------------------------

uint64_t parse_uint(const std::string& option, const std::string& text, uint64_t min,
                    uint64_t max) {
  uint64_t v = 0;
  if (std::string err = sim::parse_uint(text, min, max, v); !err.empty()) fail(option, err);
  return v;
}

uint32_t parse_ip_or_fail(const std::string& option, const std::string& text) {
  uint32_t ip = 0;
  if (std::string err = sim::parse_ipv4(text, ip); !err.empty()) fail(option, err);
  return ip;
}

Addr parse_addr_or_fail(const std::string& option, const std::string& text) {
  Addr a;
  if (std::string err = parse_addr(text, a); !err.empty()) fail(option, err);
  return a;
}

Duration parse_duration_or_fail(const std::string& option, const std::string& text, Duration min,
                                Duration max) {
  Duration d;
  if (std::string err = sim::parse_duration(text, d); !err.empty()) fail(option, err);
  if (d < min || d > max) {
    fail(option, quote(text) + " is out of range; accepted " + sim::format_duration(min) + " to " +
                     sim::format_duration(max));
  }
  return d;
}

uint64_t parse_size_or_fail(const std::string& option, const std::string& text, uint64_t min,
                            uint64_t max) {
  uint64_t v = 0;
  if (std::string err = sim::parse_size(text, v); !err.empty()) fail(option, err);
  if (v < min || v > max) {
    fail(option, quote(text) + " is out of range; accepted " + sim::format_size(min) + " to " +
                     sim::format_size(max));
  }
  return v;
}

bool parse_bool_or_fail(const std::string& option, const std::string& text) {
  if (text == "on" || text == "true" || text == "yes" || text == "1") return true;
  if (text == "off" || text == "false" || text == "no" || text == "0") return false;
  fail(option, quote(text) + " is not a switch; accepted: on, off (true/false, yes/no, 1/0)");
}

std::array<uint8_t, 6> parse_mac_or_fail(const std::string& option, const std::string& text) {
  std::array<uint8_t, 6> mac{};
  if (std::string err = sim::parse_mac(text, mac); !err.empty()) fail(option, err);
  return mac;
}

using sim::split_words;

// Values by option name, looked up under both spellings.
class Values {
 public:
  explicit Values(const po::variables_map& vm) : vm_(vm) {}

  // Explicitly given (not a default)?
  bool given(const std::string& name) const {
    return given_one(name) || given_one(underscored(name));
  }
  bool has(const std::string& name) const { return given(name) || vm_.count(name) > 0; }
  std::string get(const std::string& name) const {
    if (given_one(name)) return vm_[name].as<std::string>();
    const std::string alias = underscored(name);
    if (given_one(alias)) return vm_[alias].as<std::string>();
    return vm_[name].as<std::string>();  // the default
  }
  std::vector<std::string> list(const std::string& name) const {
    std::vector<std::string> out;
    std::vector<std::string> names{name};
    if (underscored(name) != name) names.push_back(underscored(name));
    for (const std::string& n : names) {
      if (vm_.count(n)) {
        for (const std::string& v : vm_[n].as<std::vector<std::string>>()) out.push_back(v);
      }
    }
    return out;
  }

 private:
  bool given_one(const std::string& n) const { return vm_.count(n) && !vm_[n].defaulted(); }
  const po::variables_map& vm_;
};

void parse_link(const Values& v, DaemonConfig& c) {
  dp::LinkConfig& l = c.link;
  l.kind = v.get("link.kind");
  if (l.kind != "udp" && l.kind != "dpdk") {
    fail("link.kind", quote(l.kind) + " is not a link kind; accepted: udp, dpdk");
  }
  if (!v.has("link.local")) {
    fail("link.local", "required: the IP:PORT this endpoint receives on, e.g. 198.18.1.1:47000");
  }
  l.local = parse_addr_or_fail("link.local", v.get("link.local"));
  {
    const std::string ep = v.get("link.entropy-ports");
    const size_t colon = ep.find(':');
    if (colon == std::string::npos) {
      fail("link.entropy-ports", quote(ep) + " is not FIRST:COUNT; accepted e.g. 49152:64");
    }
    l.entropy.first_port =
        static_cast<uint16_t>(parse_uint("link.entropy-ports", ep.substr(0, colon), 1, 65535));
    l.entropy.port_count =
        static_cast<uint16_t>(parse_uint("link.entropy-ports", ep.substr(colon + 1), 1, 4096));
    if (uint32_t{l.entropy.first_port} + l.entropy.port_count > 65536) {
      fail("link.entropy-ports",
           quote(ep) +
               " runs past port 65535; accepted: FIRST + COUNT at most 65536 (FIRST at "
               "most " +
               std::to_string(65536 - l.entropy.port_count) + " for " +
               std::to_string(l.entropy.port_count) + " ports)");
    }
    if (l.local.port >= l.entropy.first_port &&
        l.local.port < uint32_t{l.entropy.first_port} + l.entropy.port_count) {
      fail("link.entropy-ports", quote(ep) + " contains link.local's port " +
                                     std::to_string(l.local.port) +
                                     "; accepted: a range that leaves it out");
    }
  }
  l.mtu = static_cast<uint32_t>(
      parse_uint("link.mtu", v.get("link.mtu"), tuning::kMinMtu, tuning::kMaxMtu));
  l.burst = static_cast<uint32_t>(parse_uint("link.burst", v.get("link.burst"), 1, 1024));
  l.queue_depth =
      static_cast<uint32_t>(parse_uint("link.queue-depth", v.get("link.queue-depth"), 1, 65536));
  if (l.kind == "dpdk") {
    if (!v.has("link.device")) {
      fail("link.device", "required with link.kind=dpdk; accepted e.g. net_af_xdp0,iface=veth0");
    }
    l.device = v.get("link.device");
    l.eal_args = split_words(v.get("link.eal"));
    if (v.has("link.gateway")) l.gateway = parse_ip_or_fail("link.gateway", v.get("link.gateway"));
    l.prefix_len =
        static_cast<uint32_t>(parse_uint("link.prefix-len", v.get("link.prefix-len"), 1, 32));
    for (const std::string& n : v.list("link.neighbour")) {
      const size_t eq = n.find('=');
      if (eq == std::string::npos) {
        fail("link.neighbour",
             quote(n) + " is not IP=MAC; accepted e.g. 198.18.1.1=02:00:00:00:00:01");
      }
      l.static_neighbours.emplace_back(parse_ip_or_fail("link.neighbour", n.substr(0, eq)),
                                       parse_mac_or_fail("link.neighbour", n.substr(eq + 1)));
    }
  } else {
    const std::string dpdk_only = "only with link.kind=dpdk (link.kind is " + l.kind +
                                  "); accepted: link.kind = dpdk, or "
                                  "leave this option out";
    for (const char* opt : {"link.device", "link.gateway"}) {
      if (v.given(opt)) fail(opt, dpdk_only);
    }
    if (!v.list("link.neighbour").empty()) fail("link.neighbour", dpdk_only);
    if (v.given("link.eal") && !v.get("link.eal").empty()) fail("link.eal", dpdk_only);
  }
}

void parse_engine(const Values& v, DaemonConfig& c) {
  EndpointConfig& e = c.ep;
  const Duration hour = Duration::seconds(3600);
  e.port = c.link.local.port;
  e.mtu = c.link.mtu;
  e.paths_per_peer = static_cast<uint32_t>(
      parse_uint("engine.paths", v.get("engine.paths"), 1, tuning::kMaxPathsPerPeer));
  e.rto_min = parse_duration_or_fail("engine.rto-min", v.get("engine.rto-min"), Duration::micros(1),
                                     Duration::seconds(1));
  e.rto_initial = parse_duration_or_fail("engine.rto-initial", v.get("engine.rto-initial"),
                                         Duration::micros(1), Duration::seconds(10));
  e.rto_max = parse_duration_or_fail("engine.rto-max", v.get("engine.rto-max"), Duration::micros(1),
                                     Duration::seconds(60));
  // A raised floor carries the defaults above it along; explicit values are checked.
  if (!v.given("engine.rto-initial")) e.rto_initial = max(e.rto_initial, e.rto_min);
  if (!v.given("engine.rto-max")) e.rto_max = max(e.rto_max, e.rto_initial);
  if (e.rto_min > e.rto_initial) {
    fail("engine.rto-initial",
         "must not be below engine.rto-min (" + v.get("engine.rto-min") + ")");
  }
  if (e.rto_initial > e.rto_max) {
    fail("engine.rto-max",
         "must not be below engine.rto-initial (" + sim::format_duration(e.rto_initial) + ")");
  }
  e.message_timeout = parse_duration_or_fail(
      "engine.message-timeout", v.get("engine.message-timeout"), Duration::micros(100), hour);
  e.max_message_size = parse_size_or_fail("engine.max-message", v.get("engine.max-message"), 1,
                                          tuning::kMaxMaxMessage);
  e.recv_buffer_bytes = std::max<uint64_t>(e.recv_buffer_bytes, e.max_message_size);
  e.peer_timeout = parse_duration_or_fail("engine.peer-timeout", v.get("engine.peer-timeout"),
                                          Duration::millis(1), hour);
  e.handshake_interval =
      parse_duration_or_fail("engine.handshake-interval", v.get("engine.handshake-interval"),
                             Duration::micros(10), Duration::seconds(10));
  if (e.handshake_interval >= e.peer_timeout) {
    fail("engine.handshake-interval",
         "must be shorter than engine.peer-timeout (" + v.get("engine.peer-timeout") + ")");
  }
  e.ack_delay = parse_duration_or_fail("engine.ack-delay", v.get("engine.ack-delay"),
                                       Duration::zero(), Duration::millis(100));
  if (e.ack_delay >= e.rto_min) {
    fail("engine.ack-delay",
         "must be shorter than engine.rto-min (" + v.get("engine.rto-min") + ")");
  }
  e.ack_every =
      static_cast<uint32_t>(parse_uint("engine.ack-every", v.get("engine.ack-every"), 1, 64));
  e.reorder_threshold = static_cast<uint32_t>(
      parse_uint("engine.reorder-threshold", v.get("engine.reorder-threshold"), 1, 1000));
  e.cc_target_delay = parse_duration_or_fail("engine.cc-target", v.get("engine.cc-target"),
                                             Duration::micros(1), Duration::seconds(1));
  e.cc_initial_window = parse_size_or_fail(
      "engine.cc-initial-window", v.get("engine.cc-initial-window"), 4096, uint64_t{1} << 32);
  e.cc_max_window = parse_size_or_fail("engine.cc-max-window", v.get("engine.cc-max-window"), 4096,
                                       uint64_t{1} << 34);
  if (e.cc_initial_window > e.cc_max_window) {
    fail("engine.cc-initial-window",
         "must not exceed engine.cc-max-window (" + v.get("engine.cc-max-window") + ")");
  }
  e.pacing = parse_bool_or_fail("engine.pacing", v.get("engine.pacing"));
  const std::string idle = v.get("engine.idle");
  if (idle == "busy") {
    c.poll.idle = dp::IdleMode::busy_poll;
  } else if (idle == "sleep") {
    c.poll.idle = dp::IdleMode::spin_then_sleep;
  } else {
    fail("engine.idle", quote(idle) + " is not an idle mode; accepted: sleep, busy");
  }
  c.poll.max_sleep = parse_duration_or_fail("engine.max-sleep", v.get("engine.max-sleep"),
                                            Duration::micros(1), Duration::millis(100));
  c.poll.spin_iterations =
      static_cast<uint32_t>(parse_uint("engine.spin", v.get("engine.spin"), 1, 1000000));
  c.poll.spin_time = parse_duration_or_fail("engine.spin-time", v.get("engine.spin-time"),
                                            Duration::zero(), Duration::seconds(1));
  c.poll.burst = c.link.burst;
  c.poll.tx_budget = std::max<uint32_t>(256, c.link.burst);
  if (std::string err = c.poll.validate(); !err.empty()) fail("engine.max-sleep", err);
  // EndpointConfig::validate() runs once [endpoint] is read too (parse_endpoint).
}

void parse_peers(const Values& v, DaemonConfig& c) {
  c.ep.encryption = parse_bool_or_fail("endpoint.encryption", v.get("endpoint.encryption"));
  c.ep.rekey_packets = parse_uint("endpoint.rekey-packets", v.get("endpoint.rekey-packets"), 64,
                                  tuning::kDefaultRekeyPackets);
  c.ep.rekey_interval =
      parse_duration_or_fail("endpoint.rekey-interval", v.get("endpoint.rekey-interval"),
                             Duration::seconds(1), Duration::seconds(86400));
  c.peers.clear();
  for (const std::string& text : v.list("peers.peer")) {
    PeerConfig p;
    if (std::string err = parse_peer(text, p); !err.empty()) fail("peers.peer", err);
    for (const PeerConfig& q : c.peers) {
      if (q.name == p.name) {
        fail("peers.peer", "peer name " + quote(p.name) + " given twice; accepted: each name once");
      }
      if (q.addr == p.addr) {
        fail("peers.peer", "peers " + quote(q.name) + " and " + quote(p.name) +
                               " have the same address " + format_addr(p.addr) +
                               "; accepted: one peer per address");
      }
    }
    if (p.addr == c.link.local) {
      fail("peers.peer", "peer " + quote(p.name) + " is link.local itself (" + format_addr(p.addr) +
                             "); accepted: another endpoint's address");
    }
    c.peers.push_back(p);
  }
  // After the list's own mistakes (names, addresses), so they are named first.
  for (const PeerConfig& p : c.peers) {
    if (c.ep.encryption && is_zero(p.key)) {
      fail("peers.peer", "peer " + quote(p.name) +
                             " has no key; with endpoint.encryption on every peer needs its "
                             "public key: " +
                             p.name + "=" + format_addr(p.addr) +
                             ",key=BASE64 (srdxctl pubkey prints it)");
    }
  }
  c.allowed_keys.clear();
  for (const std::string& text : v.list("peers.allow-key")) {
    const std::optional<PublicKey> k = key_from_base64(text);
    if (!k) {
      fail("peers.allow-key", quote(text) +
                                  " is not a key; accepted: a public key, 44 characters of "
                                  "base64 (srdxctl pubkey prints it)");
    }
    if (is_zero(*k)) fail("peers.allow-key", quote(text) + " is the all-zero key");
    c.allowed_keys.push_back(*k);
  }
  c.ep.accept_unknown_peers =
      parse_bool_or_fail("peers.accept-unknown", v.get("peers.accept-unknown"));
}

// After parse_link and parse_peers: the fabric carrier needs the link's
// address and no encryption.
void parse_carrier(const Values& v, DaemonConfig& c) {
  c.carrier = v.get("carrier.kind");
  if (c.carrier != "engine" && c.carrier != "fabric") {
    fail("carrier.kind", quote(c.carrier) + " is not a carrier; accepted: engine, fabric");
  }
  c.fabric_provider = v.get("carrier.provider");
  if (c.carrier != "fabric") {
    if (v.given("carrier.provider")) {
      fail("carrier.provider",
           "only with carrier.kind = fabric (carrier.kind is " + c.carrier + ")");
    }
    for (const PeerConfig& p : c.peers) {
      if (!p.fabric_name.empty()) {
        fail("peers.peer", "peer " + quote(p.name) +
                               ": fabric-name= only with carrier.kind = fabric (carrier.kind is " +
                               c.carrier + ")");
      }
    }
    return;
  }
  if (c.fabric_provider.empty()) {
    fail("carrier.provider", "empty; accepted e.g. udp;ofi_rxd, tcp;ofi_rxm, shm, efa");
  }
  if (c.ep.encryption) {
    fail("carrier.kind",
         "fabric does not encrypt or authenticate: it needs endpoint.encryption = off "
         "(for measurement; or use carrier.kind = engine)");
  }
  if (c.link.kind != "udp") {
    fail("carrier.kind",
         "fabric opens its own endpoint at link.local: link.kind must stay udp "
         "(it is " +
             c.link.kind + ")");
  }
  if (c.ep.accept_unknown_peers) {
    fail("peers.accept-unknown",
         "not with carrier.kind = fabric: it has no keys to tell strangers apart");
  }
}

// After parse_rest, so that a missing link.local or token file is named
// first. The key is read whether or not the token is (a reload compares it).
void parse_keys(const Values& v, DaemonConfig& c) {
  if (!v.has("keys.private-key-file")) {
    if (c.ep.encryption) {
      fail("keys.private-key-file",
           "required with endpoint.encryption on: a file holding this appliance's private "
           "key, readable by its owner only (umask 077; srdxctl genkey > FILE)");
    }
    return;
  }
  c.private_key_file = v.get("keys.private-key-file");
  if (c.private_key_file.empty()) fail("keys.private-key-file", "empty; accepted: a file path");
  PrivateKey key{};
  if (std::string err = read_appliance_key_file(c.private_key_file, key); !err.empty()) {
    fail("keys.private-key-file", err);
  }
  c.ep.static_key = key;
  OPENSSL_cleanse(key.data(), key.size());
}

// After parse_engine and parse_peers: the limits are checked against both.
void parse_endpoint(const Values& v, DaemonConfig& c) {
  EndpointLimits& l = c.limits;
  l.max_peers = static_cast<uint32_t>(
      parse_uint("endpoint.max-peers", v.get("endpoint.max-peers"), 1, uint64_t{1} << 20));
  if (c.peers.size() > l.max_peers) {
    fail("endpoint.max-peers", quote(v.get("endpoint.max-peers")) + " is fewer than the " +
                                   std::to_string(c.peers.size()) +
                                   " peers in [peers]; accepted: at least " +
                                   std::to_string(c.peers.size()));
  }
  l.recv_memory_bytes = parse_size_or_fail("endpoint.recv-memory", v.get("endpoint.recv-memory"), 1,
                                           uint64_t{1} << 40);
  if (l.recv_memory_bytes < c.ep.recv_buffer_bytes) {
    fail("endpoint.recv-memory", quote(v.get("endpoint.recv-memory")) +
                                     " cannot hold one peer's receive buffer; accepted: at least " +
                                     std::to_string(c.ep.recv_buffer_bytes) +
                                     " bytes (the larger of 64MiB and engine.max-message)");
  }
  l.idle_timeout = parse_duration_or_fail("endpoint.idle-timeout", v.get("endpoint.idle-timeout"),
                                          Duration::seconds(1), Duration::seconds(86400));
  if (l.idle_timeout <= c.ep.peer_timeout) {
    fail("endpoint.idle-timeout", quote(v.get("endpoint.idle-timeout")) +
                                      " must be longer than engine.peer-timeout (" +
                                      v.get("engine.peer-timeout") + ")");
  }
  // The engine checks them against the rest of its configuration now, not
  // at start-up (the daemon applies them again with the real secret).
  const std::array<uint8_t, 32> no_secret{};
  apply_endpoint_limits(l, no_secret, c.ep);
  if (std::string err = c.ep.validate(); !err.empty()) {
    throw Invalid{"engine configuration refused: " + err};
  }
}

void parse_rest(const Values& v, DaemonConfig& c, bool read_token) {
  const std::string listen = v.get("control.listen");
  if (listen.rfind("unix:", 0) == 0) {
    c.control_unix = listen.substr(5);
    // sockaddr_un's sun_path: 108 bytes with the NUL.
    if (c.control_unix.empty() || c.control_unix[0] != '/' || c.control_unix.size() > 107 ||
        c.control_unix.find('\0') != std::string::npos) {
      fail("control.listen", quote(listen) +
                                 " is no unix socket path; accepted: unix:/ABSOLUTE/PATH of at "
                                 "most 107 bytes, e.g. unix:/run/srdx/api.sock");
    }
  } else {
    c.control_listen = parse_addr_or_fail("control.listen", listen);
  }
  if (!v.has("control.token-file")) {
    fail("control.token-file",
         "required: a file holding the API bearer token, readable by its owner only (chmod 600)");
  }
  c.max_probes =
      static_cast<uint32_t>(parse_uint("control.max-probes", v.get("control.max-probes"), 1, 1024));
  c.api_request_timeout =
      parse_duration_or_fail("control.request-timeout", v.get("control.request-timeout"),
                             Duration::seconds(1), Duration::seconds(300));
  c.api_max_per_client = static_cast<uint32_t>(parse_uint(
      "control.max-connections-per-client", v.get("control.max-connections-per-client"), 1, 1024));
  c.api_workers =
      static_cast<uint32_t>(parse_uint("control.workers", v.get("control.workers"), 1, 256));
  c.api_queue = static_cast<uint32_t>(parse_uint("control.queue", v.get("control.queue"), 0, 4096));
  c.token_file = v.get("control.token-file");
  if (c.token_file.empty()) fail("control.token-file", "empty; accepted: a file path");
  if (v.has("control.read-token-file")) {
    c.read_token_file = v.get("control.read-token-file");
    if (c.read_token_file.empty()) fail("control.read-token-file", "empty; accepted: a file path");
  }
  if (read_token) {
    if (std::string err = read_token_file(c.token_file, c.token); !err.empty()) {
      fail("control.token-file", err);
    }
    if (!c.read_token_file.empty()) {
      if (std::string err = read_token_file(c.read_token_file, c.read_token); !err.empty()) {
        fail("control.read-token-file", err);
      }
      if (c.read_token == c.token) {
        fail("control.read-token-file",
             "holds the same token as control.token-file; accepted: another token (the "
             "read-only one)");
      }
    }
  }
  if (v.has("services.tcp-echo")) {
    const std::string t = v.get("services.tcp-echo");
    if (t == "off") {
      c.tcp_echo = false;
    } else {
      c.tcp_echo = true;
      c.tcp_echo_addr = parse_addr_or_fail("services.tcp-echo", t);
    }
  } else {
    c.tcp_echo = true;
    c.tcp_echo_addr = Addr{c.link.local.ip, kDefaultTcpEchoPort};
  }
  if (c.tcp_echo && c.control_unix.empty() && c.tcp_echo_addr == c.control_listen) {
    fail("services.tcp-echo", "is control.listen's address " + format_addr(c.control_listen) +
                                  "; accepted: another IP:PORT, or off");
  }
  if (c.tcp_echo && c.control_unix.empty()) {
    if (std::string err = listener_conflict("control.listen", c.control_listen, "services.tcp-echo",
                                            c.tcp_echo_addr);
        !err.empty()) {
      fail("services.tcp-echo", err);
    }
  }
  c.tcp_echo_idle_timeout = parse_duration_or_fail("services.tcp-echo-idle-timeout",
                                                   v.get("services.tcp-echo-idle-timeout"),
                                                   Duration::seconds(1), Duration::seconds(3600));
  c.tcp_echo_max_per_source = static_cast<uint32_t>(parse_uint(
      "services.tcp-echo-max-per-source", v.get("services.tcp-echo-max-per-source"), 1, 256));
  const std::string level = v.get("log.level");
  if (!parse_log_level(level, c.log_level)) {
    fail("log.level", quote(level) + " is not a log level; accepted: error, warn, info, debug");
  }
  c.drain_timeout = parse_duration_or_fail("daemon.drain-timeout", v.get("daemon.drain-timeout"),
                                           Duration::zero(), Duration::seconds(3600));
  c.probe_every = parse_duration_or_fail("daemon.probe-every", v.get("daemon.probe-every"),
                                         Duration::zero(), Duration::seconds(86400));
  if (c.probe_every != Duration::zero() && c.probe_every < Duration::millis(100)) {
    fail("daemon.probe-every",
         quote(v.get("daemon.probe-every")) + " is too often; accepted 0 (off) or 100ms to 1 day");
  }
}

// [replication]: paths are absolute; dr-root must exist as a directory now
// (the state dir is created at start, not by --check-config).
// The config file reads '#' as the start of a comment, wherever it is, so
// MQTT's multi-level wildcard is written '*' there (as the last level of a
// filter: turbine/* is turbine/#); the command line takes either.
std::string hash_alias(std::string filter) {
  if (filter == "*") return "#";
  if (filter.size() >= 2 && filter.compare(filter.size() - 2, 2, "/*") == 0) filter.back() = '#';
  return filter;
}

void parse_telemetry(const Values& v, DaemonConfig& c) {
  TelemetryConfig& t = c.telemetry;
  t.role = v.get("telemetry.role");
  if (t.role != "off" && t.role != "edge" && t.role != "central") {
    fail("telemetry.role", quote(t.role) + " is not a role; accepted: off, edge, central");
  }
  {
    const std::string b = v.get("telemetry.broker");
    const size_t colon = b.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      fail("telemetry.broker", quote(b) + " is not HOST:PORT; accepted e.g. 127.0.0.1:1883");
    }
    t.broker_host = b.substr(0, colon);
    t.broker_port =
        static_cast<uint16_t>(parse_uint("telemetry.broker", b.substr(colon + 1), 1, 65535));
  }
  const std::string ver = v.get("telemetry.mqtt-version");
  if (ver == "5") {
    t.mqtt_version = 5;
  } else if (ver == "3.1.1" || ver == "4") {
    t.mqtt_version = 4;
  } else {
    fail("telemetry.mqtt-version", quote(ver) + " is not an MQTT version; accepted: 5, 3.1.1");
  }
  t.client_id = v.has("telemetry.client-id") ? v.get("telemetry.client-id") : "srdxd-" + t.role;
  if (t.client_id.empty() || t.client_id.size() > 128) {
    fail("telemetry.client-id", "empty or longer than 128 bytes");
  }
  for (const std::string& f : v.list("telemetry.topic")) t.topics.push_back(hash_alias(f));
  for (const std::string& f : t.topics) {
    if (std::string why = telemetry::check_filter(f); !why.empty()) {
      fail("telemetry.topic", quote(f) + ": " + why);
    }
  }
  t.qos = static_cast<int>(parse_uint("telemetry.qos", v.get("telemetry.qos"), 0, 1));
  for (std::string a : v.list("telemetry.alarm")) {
    const size_t b = a.find_first_not_of(" \t");
    const size_t e = b == std::string::npos ? std::string::npos : a.find_first_of(" \t", b);
    if (b != std::string::npos)
      a = a.substr(0, b) + hash_alias(a.substr(b, e - b)) +
          (e == std::string::npos ? "" : a.substr(e));
    t.alarms.push_back(a);
  }
  for (const std::string& a : t.alarms) {
    telemetry::Result<telemetry::Rule> r = telemetry::parse_rule(a);
    if (!r.ok()) fail("telemetry.alarm", r.error.message);
  }
  t.alarm_topic = v.get("telemetry.alarm-topic");
  if (std::string why = telemetry::check_topic(t.alarm_topic); !why.empty()) {
    fail("telemetry.alarm-topic", quote(t.alarm_topic) + ": " + why);
  }
  t.spool_dir = v.has("telemetry.spool-dir") ? v.get("telemetry.spool-dir")
                                             : c.replication.state_dir + "/telemetry-spool";
  if (t.spool_dir.empty() || t.spool_dir[0] != '/') {
    fail("telemetry.spool-dir", quote(t.spool_dir) + "; accepted: an absolute path");
  }
  t.spool_max = parse_size_or_fail("telemetry.spool-max", v.get("telemetry.spool-max"), 1 << 20,
                                   uint64_t{1} << 40);
  const std::string fs = v.get("telemetry.fsync");
  if (fs != "interval" && fs != "always") {
    fail("telemetry.fsync", quote(fs) + "; accepted: interval, always");
  }
  t.fsync_always = fs == "always";
  t.gap_timeout = parse_duration_or_fail("telemetry.gap-timeout", v.get("telemetry.gap-timeout"),
                                         Duration::millis(10), Duration::seconds(86400));
  if (t.role == "edge") {
    if (t.topics.empty()) fail("telemetry.topic", "role edge needs at least one topic filter");
    if (!v.has("telemetry.central")) fail("telemetry.central", "role edge needs the central peer");
    t.central = v.get("telemetry.central");
    bool known = false;
    for (const PeerConfig& p : c.peers) known |= p.name == t.central;
    if (!known) fail("telemetry.central", quote(t.central) + " is not a peer in [peers]");
  } else if (!t.topics.empty() || !t.alarms.empty() || v.has("telemetry.central")) {
    fail(t.topics.empty() ? (t.alarms.empty() ? "telemetry.central" : "telemetry.alarm")
                          : "telemetry.topic",
         "only with telemetry.role = edge (it is " + t.role + ")");
  }
}

void parse_replication(const Values& v, DaemonConfig& c) {
  ReplicationConfig& r = c.replication;
  auto absolute = [&](const char* option, const std::string& text) {
    if (text.empty()) fail(option, "empty; accepted: an absolute path");
    if (text[0] != '/') fail(option, quote(text) + " is not an absolute path; accepted: /...");
    return text;
  };
  r.dr_root.clear();
  if (v.has("replication.dr-root")) {
    r.dr_root = absolute("replication.dr-root", v.get("replication.dr-root"));
    struct stat st {};
    if (::stat(r.dr_root.c_str(), &st) != 0) {
      fail("replication.dr-root", quote(r.dr_root) + ": " + std::strerror(errno) +
                                      "; accepted: an existing directory (mkdir -p it)");
    }
    if (!S_ISDIR(st.st_mode)) {
      fail("replication.dr-root", quote(r.dr_root) + " is not a directory");
    }
  }
  r.state_dir = absolute("replication.state-dir", v.get("replication.state-dir"));
  while (r.state_dir.size() > 1 && r.state_dir.back() == '/') r.state_dir.pop_back();
  r.audit_log = v.has("replication.audit-log")
                    ? absolute("replication.audit-log", v.get("replication.audit-log"))
                    : r.state_dir + "/audit.jsonl";
  if (r.audit_log.back() == '/') {
    fail("replication.audit-log", quote(r.audit_log) + " names a directory; accepted: a file path");
  }
  r.allowed_regions.clear();
  const std::string regions = v.get("replication.allowed-regions");
  if (!regions.empty()) {
    size_t at = 0;
    for (;;) {
      const size_t comma = regions.find(',', at);
      std::string item = regions.substr(at, comma == std::string::npos ? comma : comma - at);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (!valid_place_name(item)) {
        fail("replication.allowed-regions",
             (item.empty() ? std::string("an empty region") : quote(item)) + " in " +
                 quote(regions) +
                 " is not a region name; accepted: a comma list of names of 1 to 64 letters, "
                 "digits, '-', '_', '.' (e.g. eu-west-3,eu-central-1)");
      }
      r.allowed_regions.push_back(item);
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  }
  for (const char* opt : {"replication.site", "replication.region"}) {
    const std::string t = v.get(opt);
    if (!t.empty() && !valid_place_name(t)) {
      fail(opt, quote(t) +
                    " is not a name; accepted: 1 to 64 letters, digits, '-', '_', '.' (e.g. "
                    "eu-west-3)");
    }
  }
  r.site = v.get("replication.site");
  r.region = v.get("replication.region");
  r.allow_unencrypted =
      parse_bool_or_fail("replication.allow-unencrypted", v.get("replication.allow-unencrypted"));
  r.encrypted = c.ep.encryption;
  if (!r.dr_root.empty()) {
    if (std::string why = r.unencrypted_refusal(); !why.empty()) fail("replication.dr-root", why);
  }
}

}  // namespace

// ---- public -------------------------------------------------------------------------

std::string format_ip(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string ReplicationConfig::unencrypted_refusal() const {
  if (encrypted || allow_unencrypted) return {};
  return "replication carries health records and needs encrypted, authenticated connections: "
         "endpoint.encryption = on, or replication.allow-unencrypted = on where the network "
         "below encrypts (EFA between Nitro instances)";
}

// A site or region name: what a peer name may be (request.h).
bool valid_place_name(std::string_view name) { return valid_peer_name(name); }

std::string format_addr(Addr a) { return format_ip(a.ip) + ":" + std::to_string(a.port); }

std::string parse_addr(std::string_view text, Addr& out) { return sim::parse_addr(text, out); }

std::string control_listen_text(const DaemonConfig& c) {
  return c.control_unix.empty() ? format_addr(c.control_listen) : "unix:" + c.control_unix;
}

std::string listener_conflict(const char* option_a, Addr a, const char* option_b, Addr b) {
  if (a.port != b.port) return {};
  if (a.ip != b.ip && a.ip != 0 && b.ip != 0) return {};
  std::string why =
      a.ip == b.ip ? "the same address"
      : a.ip == 0
          ? std::string(option_a) + " takes port " + std::to_string(a.port) + " on every address"
          : std::string(option_b) + " takes port " + std::to_string(b.port) + " on every address";
  return std::string(option_a) + " " + format_addr(a) + " and " + option_b + " " + format_addr(b) +
         " conflict (" + why + "): both are TCP listeners and only one can bind; accepted: " +
         "another port for one of them, or services.tcp-echo = off";
}

std::string parse_peer(std::string_view text, PeerConfig& out) {
  const std::string t(text);
  const std::string accepted =
      "; accepted: NAME=IP:PORT[,tcp=PORT][,key=BASE64][,fabric-name=HEX][,site=NAME]"
      "[,region=NAME], e.g. b=198.18.2.2:47000,key=...,region=eu-west-3";
  const size_t eq = t.find('=');
  if (eq == std::string::npos) return quote(t) + " has no NAME=" + accepted;
  PeerConfig p;
  p.name = t.substr(0, eq);
  if (p.name.empty() || p.name.size() > 64) {
    return quote(t) + ": the name must be 1 to 64 characters" + accepted;
  }
  if (!valid_peer_name(p.name)) {
    return quote(t) + ": the name may hold only letters, digits, '-', '_' and '.'";
  }
  const std::string rest = t.substr(eq + 1);
  const size_t comma = rest.find(',');
  const std::string addr = rest.substr(0, comma);
  bool have_tcp = false, have_key = false, have_name = false, have_site = false,
       have_region = false;
  // The options after the address, each once, in any order.
  for (size_t at = comma; at != std::string::npos;) {
    const size_t next = rest.find(',', at + 1);
    const std::string opt =
        rest.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    at = next;
    if (opt.rfind("tcp=", 0) == 0) {
      if (have_tcp) return quote(t) + ": tcp= given twice" + accepted;
      have_tcp = true;
      const std::string port = opt.substr(4);
      uint32_t v = 0;
      bool ok = !port.empty() && port.size() <= 5;
      for (char ch : port) {
        if (ch < '0' || ch > '9') ok = false;
        if (ok) v = v * 10 + static_cast<uint32_t>(ch - '0');
      }
      if (!ok || v < 1 || v > 65535) {
        return quote(t) + ": tcp port " + quote(port) + " is out of range; accepted 1..65535";
      }
      p.tcp_port = static_cast<uint16_t>(v);
    } else if (opt.rfind("key=", 0) == 0) {
      if (have_key) return quote(t) + ": key= given twice" + accepted;
      have_key = true;
      const std::optional<PublicKey> k = key_from_base64(opt.substr(4));
      if (!k) {
        return "peer " + quote(p.name) + ": key " + quote(opt.substr(4)) +
               " is not a key; accepted: a public key, 44 characters of base64 (srdxctl "
               "pubkey prints it)";
      }
      if (is_zero(*k)) return "peer " + quote(p.name) + ": the key is the all-zero key";
      p.key = *k;
    } else if (opt.rfind("fabric-name=", 0) == 0) {
      if (have_name) return quote(t) + ": fabric-name= given twice" + accepted;
      have_name = true;
      p.fabric_name = opt.substr(12);
      const bool hex =
          !p.fabric_name.empty() && p.fabric_name.size() % 2 == 0 && p.fabric_name.size() <= 8192 &&
          p.fabric_name.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
      if (!hex) {
        return "peer " + quote(p.name) + ": fabric-name " + quote(p.fabric_name) +
               " is not an endpoint name; accepted: an even number of hex digits, at most "
               "8192 (the peer's srdxctl status shows its name)";
      }
    } else if (opt.rfind("site=", 0) == 0 || opt.rfind("region=", 0) == 0) {
      const bool site = opt[0] == 's';
      bool& have = site ? have_site : have_region;
      const char* what = site ? "site" : "region";
      if (have) return quote(t) + ": " + what + "= given twice" + accepted;
      have = true;
      const std::string value = opt.substr(site ? 5 : 7);
      if (!valid_place_name(value)) {
        return "peer " + quote(p.name) + ": " + what + " " + quote(value) +
               " is not a name; accepted: 1 to 64 letters, digits, '-', '_', '.' (e.g. "
               "eu-west-3)";
      }
      (site ? p.site : p.region) = value;
    } else {
      return quote(t) + ": unknown " + quote(opt) + accepted;
    }
  }
  if (std::string err = parse_addr(addr, p.addr); !err.empty()) {
    return "peer " + quote(p.name) + ": " + err;
  }
  out = p;
  return {};
}

std::string read_token_file(const std::string& path, std::string& token) {
  return read_secret_file(path, "the token", token, kMinTokenLength);
}

std::string read_appliance_key_file(const std::string& path, PrivateKey& key) {
  return read_private_key_file(path, key, "umask 077; srdxctl genkey > " + path);
}

void apply_endpoint_limits(const EndpointLimits& limits, std::span<const uint8_t, 32> secret,
                           EndpointConfig& ep) {
  ep.max_peers = limits.max_peers;
  ep.recv_memory_bytes = limits.recv_memory_bytes;
  ep.idle_timeout = limits.idle_timeout;
  std::copy(secret.begin(), secret.end(), ep.secret.begin());
}

std::string help_text() {
  const Descriptions d;
  std::ostringstream out;
  out << kUsage << "\n" << d.visible << "\n";
  return out.str();
}

// Boost.Program_options builds its error messages by replacing placeholders
// such as %canonical_option% with the option's name until none is left: a
// name that itself contains one never ends (found by fuzz/config_fuzz.cc).
// No option has a '%' in its name, so such a name is refused before Boost
// sees it.
constexpr const char* kPercentInName =
    ": '%' in a section or option name; accepted: letters, digits, '-', '_' and '.'";

// The config file's text, at most 1 MiB; empty on success, else why. Every
// [section] and option name is checked for '%' (kPercentInName).
std::string read_config_text(std::istream& in, std::string& text) {
  constexpr size_t kMax = 1 << 20;
  text.clear();
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    text += line;
    text += '\n';
    if (text.size() > kMax) return "larger than 1 MiB; accepted: a config file up to 1 MiB";
    std::string_view l(line);
    l = l.substr(0, l.find('#'));
    const std::string_view name = !l.empty() &&
                                          l.find_first_not_of(" \t") != std::string_view::npos &&
                                          l[l.find_first_not_of(" \t")] == '['
                                      ? l
                                      : l.substr(0, l.find('='));
    if (name.find('%') != std::string_view::npos) {
      return "line " + std::to_string(n) + kPercentInName;
    }
  }
  return {};
}

ParseResult parse_config(const std::vector<std::string>& args, DaemonConfig& out, bool read_token) {
  const Descriptions d;
  ParseResult r;
  po::variables_map vm;
  try {
    for (const std::string& a : args) {
      if (a.size() > 1 && a[0] == '-' && a.substr(0, a.find('=')).find('%') != std::string::npos) {
        throw Invalid{"command line: " + quote(a.substr(0, a.find('='))) + kPercentInName};
      }
    }
    try {
      po::store(po::command_line_parser(args).options(d.all).run(), vm);
    } catch (const po::error& e) {
      throw Invalid{std::string("command line: ") + e.what() + " (see srdxd --help)"};
    }
    if (vm.count("help")) {
      r.outcome = ParseOutcome::help;
      r.message = help_text();
      return r;
    }
    if (vm.count("version")) {
      r.outcome = ParseOutcome::version;
      r.message = std::string("srdxd ") + kVersion + "\n";
      return r;
    }
    DaemonConfig c;
    if (vm.count("config")) {
      c.config_file = vm["config"].as<std::string>();
      const std::string accepted = "; accepted: a readable INI file";
      struct stat st {};
      if (::stat(c.config_file.c_str(), &st) != 0) {
        throw Invalid{"--config: " + c.config_file + ": cannot open (" + std::strerror(errno) +
                      ")" + accepted};
      }
      if (S_ISDIR(st.st_mode)) {
        throw Invalid{"--config: " + c.config_file + " is a directory" + accepted};
      }
      std::ifstream in(c.config_file);
      if (!in) {
        throw Invalid{"--config: " + c.config_file + ": cannot open (" + std::strerror(errno) +
                      ")" + accepted};
      }
      std::string text;
      if (std::string err = read_config_text(in, text); !err.empty()) {
        throw Invalid{"config file " + c.config_file + ": " + err};
      }
      std::istringstream text_in(text);
      po::parsed_options from_file(&d.file_opts);
      try {
        from_file = po::parse_config_file(text_in, d.file_opts, false);
      } catch (const po::error& e) {
        throw Invalid{"config file " + c.config_file + ": " + e.what()};
      }
      if (in.bad()) {
        throw Invalid{"--config: " + c.config_file + ": cannot read (" + std::strerror(errno) +
                      ")" + accepted};
      }
      // The command line wins for repeatable options too: --peers.peer on
      // the command line replaces the file's peers (rather than adding to
      // them); so does --link.neighbour.
      std::set<std::string> overridden;
      for (const Opt& o : options_table()) {
        if (!o.repeat) continue;
        if (vm.count(o.name) || vm.count(underscored(o.name))) {
          overridden.insert(o.name);
          overridden.insert(underscored(o.name));
        }
      }
      std::erase_if(from_file.options, [&](const po::basic_option<char>& o) {
        return overridden.count(o.string_key) > 0;
      });
      po::store(from_file, vm);
    }
    po::notify(vm);
    const Values v(vm);
    parse_link(v, c);
    parse_engine(v, c);
    parse_peers(v, c);
    parse_endpoint(v, c);
    parse_carrier(v, c);
    parse_rest(v, c, read_token);
    parse_keys(v, c);
    parse_replication(v, c);
    parse_telemetry(v, c);
    out = std::move(c);
    r.outcome = vm.count("check-config") ? ParseOutcome::check : ParseOutcome::run;
  } catch (const Invalid& e) {
    r.outcome = ParseOutcome::error;
    r.message = e.line;
  } catch (const po::error& e) {
    r.outcome = ParseOutcome::error;
    r.message = e.what();
  }
  return r;
}

}  // namespace srdx::ctl
