// srdx-perf: moves messages between two srdx endpoints over a real link (udp
// or dpdk), checks every byte end to end, and reports rate, goodput,
// retransmissions and latency percentiles.
//
//   srdx-perf genkey > a.key        (each side its own; chmod 600)
//   srdx-perf pubkey < a.key        (the public key, for the other side)
//   srdx-perf recv --link udp --local 198.18.2.2:47000 --key b.key --allow-key PUB_A
//   srdx-perf send --link udp --local 198.18.1.2:47000 --peer 198.18.2.2:47000
//       --key a.key --peer-key PUB_B --bytes 1GiB
//
// Over libfabric instead of the srdx engine (docs/carrier.md), the receiver
// hands its endpoint name to the sender:
//   srdx-perf recv --carrier fabric --fabric-provider 'udp;ofi_rxd' --local 198.18.2.2
//       --no-encryption --fabric-name-file b.name
//   srdx-perf send --carrier fabric --fabric-provider 'udp;ofi_rxd' --local 198.18.1.2
//       --no-encryption --fabric-peer "$(cat b.name)" --bytes 1GiB
//
// Encryption is on unless --no-encryption (measurement only): the endpoints
// run the Noise IK handshake and seal every packet (srdx/keys.h, OpenSSL 3).
//
// The sender first sends a header (mode, count, sizes, seed); each data
// message carries its index, the seed and a CRC32C (payload.h). The receiver
// checks each message, counts duplicates in a bitmap, exits once every
// message has arrived, and reports received / duplicates / corrupt / missing.
// Exit status: 0 every message arrived exactly once and intact (send: every
// message completed); 1 anything else (timeout, loss, corruption, a link
// error); 2 bad command line.
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine_carrier.h"
#include "fabric_carrier.h"
#include "loop/clock.h"
#include "loop/entropy.h"
#include "loop/poller.h"
#include "loop/secret_file.h"
#include "perf/payload.h"
#include "perf/report.h"
#include "perf/series.h"
#include "sim/units.h"
#include "srdx/keys.h"

namespace po = boost::program_options;
using namespace srdx;
using namespace srdx::perf;

namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;

// Set by SIGINT/SIGTERM; the poll loop's tick handler turns it into a stop.
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }

struct UsageError {
  std::string message;
};

[[noreturn]] void fail(const std::string& option, const std::string& what) {
  throw UsageError{"--" + option + ": " + what};
}

// ---- parsing ------------------------------------------------------------------

uint64_t parse_uint(const std::string& option, const std::string& text, uint64_t min,
                    uint64_t max) {
  uint64_t v = 0;
  if (std::string err = sim::parse_uint(text, min, max, v); !err.empty()) fail(option, err);
  return v;
}

// Runs one of sim/units' parsers; a refusal becomes a usage error naming the
// option.
template <class T>
T parsed(const std::string& option, const std::string& text,
         std::string (*parse)(std::string_view, T&)) {
  T v{};
  if (std::string err = parse(text, v); !err.empty()) fail(option, err);
  return v;
}

uint32_t parse_ip(const std::string& option, const std::string& text) {
  return parsed(option, text, sim::parse_ipv4);
}
Addr parse_addr(const std::string& option, const std::string& text) {
  return parsed(option, text, sim::parse_addr);
}
uint64_t parse_size(const std::string& option, const std::string& text) {
  return parsed(option, text, sim::parse_size);
}
Duration parse_duration(const std::string& option, const std::string& text) {
  return parsed(option, text, sim::parse_duration);
}
std::array<uint8_t, 6> parse_mac(const std::string& option, const std::string& text) {
  return parsed(option, text, sim::parse_mac);
}

using sim::format_addr;
using sim::split_words;

// ---- keys -----------------------------------------------------------------------

const char* kKeyHowTo =
    "make one with: (umask 077; srdx-perf genkey > FILE), and give the other side "
    "`srdx-perf pubkey < FILE`";

PublicKey parse_public_key(const std::string& option, const std::string& text) {
  const std::optional<PublicKey> k = key_from_base64(text);
  if (!k) {
    fail(option, "'" + text +
                     "' is not a public key: expected 44 characters of base64, as "
                     "`srdx-perf pubkey < FILE` prints");
  }
  if (is_zero(*k)) fail(option, "the all-zero key is not a key");
  return *k;
}

// srdx-perf genkey / pubkey.
int genkey() {
  const PrivateKey k = generate_private_key();
  std::printf("%s\n", key_to_base64(k).c_str());
  return 0;
}

int pubkey() {
  std::stringstream ss;
  ss << std::cin.rdbuf();
  const std::optional<PrivateKey> k = key_from_base64(ss.str());
  if (!k || is_zero(*k)) {
    std::fprintf(stderr,
                 "srdx-perf pubkey: stdin does not hold a private key (expected 44 characters "
                 "of base64, as srdx-perf genkey prints): srdx-perf pubkey < FILE\n");
    return 2;
  }
  std::printf("%s\n", key_to_base64(public_key_of(*k)).c_str());
  return 0;
}

// ---- options --------------------------------------------------------------------

struct Options {
  bool send = false;
  // --carrier: "engine" (the srdx engine over --link) or "fabric" (libfabric).
  std::string carrier = "engine";
  carrier::FabricConfig fabric;
  std::string fabric_peer;       // send: the receiver's endpoint name (hex)
  std::string fabric_name_file;  // recv: where to write this endpoint's name
  dp::LinkConfig link;
  EndpointConfig ep;
  dp::PollerConfig poll;
  Addr peer;
  Mode mode = Mode::bulk;
  uint64_t count = 0;
  uint64_t size = 0;
  uint64_t last_size = 0;
  uint32_t window = 64;
  uint64_t seed = 1;
  Duration timeout = Duration::seconds(300);
  Duration linger = Duration::millis(100);
  bool json = false;
  bool progress = true;
  std::string samples_path;   // --samples: every latency sample (us), one per line
  std::string timeline_path;  // --timeline: goodput per --timeline-interval
  Duration timeline_interval = Duration::millis(1);
  // Keys (with encryption): the sender's peer's public key; the keys a
  // receiver accepts strangers with.
  PublicKey peer_key{};
  std::vector<PublicKey> allow_keys;
};

const char* kUsage =
    "srdx-perf: move messages between two srdx endpoints over a real link, check\n"
    "every byte end to end, and report rate, goodput, retransmissions and latency.\n"
    "\n"
    "Usage: srdx-perf recv --local IP:PORT --key FILE --allow-key PUBKEY [options]\n"
    "       srdx-perf send --local IP:PORT --peer IP:PORT --key FILE --peer-key PUBKEY\n"
    "                      [--count N | --bytes SIZE] [options]\n"
    "       srdx-perf genkey            print a new private key (base64, as `wg genkey`)\n"
    "       srdx-perf pubkey < FILE     print the public key of the private key on stdin\n"
    "\n"
    "Encryption is on by default: the two endpoints run an authenticated handshake\n"
    "(Noise IK over X25519) and seal every packet (AES-256-GCM). Each side needs\n"
    "its own private key in a file others cannot read, and the other side's public\n"
    "key: the sender names the receiver's (--peer-key), the receiver accepts the\n"
    "senders whose keys it allows (--allow-key, repeatable). Make keys with:\n"
    "  (umask 077; srdx-perf genkey > a.key; srdx-perf genkey > b.key)\n"
    "  srdx-perf pubkey < a.key     # give this to the receiver: --allow-key\n"
    "  srdx-perf pubkey < b.key     # give this to the sender:   --peer-key\n"
    "--no-encryption turns all of it off, for measuring what encryption costs only:\n"
    "then anyone on the path can read, forge and reset everything.\n"
    "\n"
    "The sender first tells the receiver the run (count, sizes, seed); each message\n"
    "carries its index, a CRC32C and bytes derived from (seed, index). The receiver\n"
    "checks every byte, detects duplicates, exits once all messages arrived, and\n"
    "prints received / duplicates / corrupt / missing. Latency: bulk reports each\n"
    "message's send -> completion time at the sender; --pingpong has the receiver\n"
    "echo each message and reports the round-trip time (RTT).\n";

const char* kExamples =
    "Examples (the fabric from scripts/fabric up; a.key, b.key made as above):\n"
    "  ip netns exec srdx-hB srdx-perf recv --link udp --local 198.18.2.2:47000 \\\n"
    "      --key b.key --allow-key \"$(srdx-perf pubkey < a.key)\"\n"
    "  ip netns exec srdx-hA srdx-perf send --link udp --local 198.18.1.2:47000 \\\n"
    "      --key a.key --peer-key \"$(srdx-perf pubkey < b.key)\" \\\n"
    "      --peer 198.18.2.2:47000 --bytes 1GiB --size 64KiB --window 64\n"
    "  # ping-pong of 64-byte messages, RTT percentiles as JSON:\n"
    "  ip netns exec srdx-hA srdx-perf send --local 198.18.1.2:47000 --peer 198.18.2.2:47000 \\\n"
    "      --key a.key --peer-key \"$B_PUB\" --pingpong --count 100000 --size 64 --json\n"
    "  # the sender on DPDK over AF_XDP on the host's veth:\n"
    "  ip netns exec srdx-hA srdx-perf send --link dpdk --device net_af_xdp0,iface=veth0 \\\n"
    "      --local 198.18.1.2:47000 --peer 198.18.2.2:47000 --gateway 198.18.1.1 \\\n"
    "      --key a.key --peer-key \"$B_PUB\" --bytes 1GiB\n"
    "  # what encryption costs: the same run in the clear, both sides (measurement only):\n"
    "  srdx-perf recv --local 127.0.0.1:47000 --entropy-ports 40000:16 --no-encryption &\n"
    "  srdx-perf send --local 127.0.0.1:47100 --entropy-ports 41000:16 --peer 127.0.0.1:47000 \\\n"
    "      --no-encryption\n"
    "  (on loopback, two processes need distinct entropy port ranges, as here)\n"
    "  # over libfabric (the provider does reliability; no encryption), shm on one host:\n"
    "  srdx-perf recv --carrier fabric --fabric-provider shm --no-encryption \\\n"
    "      --fabric-name-file /tmp/b.name &\n"
    "  srdx-perf send --carrier fabric --fabric-provider shm --no-encryption \\\n"
    "      --fabric-peer-file /tmp/b.name --pingpong --count 10000\n"
    "\n"
    "Exit status: 0 every message arrived exactly once and intact (and, when\n"
    "sending, completed); 1 anything else; 2 bad command line.\n";

struct OptionGroups {
  po::options_description carrier{"Carrier"};
  po::options_description link{"Link"};
  po::options_description dpdk{"DPDK link (--link dpdk)"};
  po::options_description run{"Transfer (send; the receiver learns it from the sender)"};
  po::options_description keys{"Keys and encryption"};
  po::options_description endpoint{"Endpoint and poll loop"};
  po::options_description output{"Output"};
  po::options_description visible;
  po::options_description all;

  OptionGroups() {
    carrier.add_options()("carrier", po::value<std::string>()->default_value("engine"),
                          "engine: the srdx engine over --link (srdx does reliability); fabric: "
                          "a libfabric FI_EP_RDM endpoint (the provider does reliability; "
                          "no encryption: needs --no-encryption)")(
        "fabric-provider", po::value<std::string>()->default_value("udp;ofi_rxd"),
        "--carrier fabric: the libfabric provider: udp;ofi_rxd, tcp;ofi_rxm, shm, efa "
        "(fi_info -l lists them)")(
        "fabric-peer", po::value<std::string>(),
        "--carrier fabric, send: the receiver's endpoint name in hex, as it prints it")(
        "fabric-peer-file", po::value<std::string>(),
        "--carrier fabric, send: read the receiver's name from FILE (its --fabric-name-file)")(
        "fabric-name-file", po::value<std::string>(),
        "--carrier fabric, recv: write this endpoint's name (hex) to FILE once open")(
        "fabric-segment", po::value<std::string>()->default_value("64KiB"),
        "--carrier fabric: message bytes per provider message; larger messages are "
        "segmented (each side tells the other the largest it takes)");
    link.add_options()("link", po::value<std::string>()->default_value("udp"),
                       "link backend: udp (kernel sockets, io_uring) or dpdk")(
        "local", po::value<std::string>(),
        "IP:PORT this endpoint receives on (required; --carrier fabric: optional, IP or "
        "IP:PORT, for udp;ofi_rxd and tcp;ofi_rxm)")(
        "peer", po::value<std::string>(),
        "send: IP:PORT of the receiver (required; --carrier fabric: or --fabric-peer)")(
        "entropy-ports", po::value<std::string>()->default_value("49152:64"),
        "FIRST:COUNT: the UDP source ports packets leave from (one per entropy slot)")(
        "mtu", po::value<std::string>()->default_value("1500"), "IP MTU of the link")(
        "burst", po::value<std::string>()->default_value("32"), "packets per rx/tx burst")(
        "queue-depth", po::value<std::string>()->default_value("1024"),
        "link queue depth (packets)");
    dpdk.add_options()("device", po::value<std::string>(),
                       "vdev spec or PCI address: net_af_xdp0,iface=veth0, "
                       "net_af_packet0,iface=veth0, 0000:00:05.0")(
        "eal", po::value<std::string>()->default_value(""),
        "EAL arguments, one string (default: --no-huge -m 256 and a --file-prefix of "
        "its own when there are no hugepages)")("gateway", po::value<std::string>(),
                                                "next hop IP for peers off the local subnet")(
        "prefix-len", po::value<std::string>()->default_value("24"), "local subnet prefix length")(
        "queues", po::value<std::string>()->default_value("1"),
        "RX and TX queues (1..64), at most what the port has; more than one uses RSS")(
        "neighbour", po::value<std::vector<std::string>>()->composing(),
        "IP=MAC: a static neighbour entry; repeatable")(
        "rx-interrupts", po::value<std::string>()->default_value("on"),
        "on: with --idle sleep, sleep on the port's Rx interrupts where the PMD has them "
        "(net_tap, ENA, virtio); off: nap and poll again (as on a PMD without)");
    run.add_options()("count", po::value<std::string>(), "messages to send (default 10000)")(
        "bytes", po::value<std::string>(),
        "bytes to send instead of --count: 1GiB, 500MB; the last message may be shorter")(
        "size", po::value<std::string>(),
        "message size: 64KiB, 1500, 16MiB at most (default 64KiB; 64 with --pingpong)")(
        "window", po::value<std::string>()->default_value("64"),
        "bulk: messages outstanding at once (1..1024)")(
        "pingpong", "the receiver echoes each message; one outstanding; reports RTT")(
        "seed", po::value<std::string>()->default_value("1"), "seeds the payload bytes");
    keys.add_options()("key", po::value<std::string>(),
                       "FILE holding this endpoint's private key (srdx-perf genkey); a regular "
                       "file others cannot read (chmod 600). Required with encryption")(
        "peer-key", po::value<std::string>(),
        "send: the receiver's public key (base64, srdx-perf pubkey); required with "
        "encryption. recv: the same as one --allow-key")(
        "allow-key", po::value<std::vector<std::string>>()->composing(),
        "recv: a sender's public key this receiver accepts; repeatable. A sender whose "
        "key is not allowed is refused (counted as drops: unknown_key)")(
        "no-encryption",
        "no handshake authentication, no sealing: for measuring the cost of encryption "
        "only (both sides must say it; warns loudly)")(
        "rekey-packets", po::value<std::string>(),
        "replace a direction's key after this many packets (default 8388608, the AES-GCM "
        "limit; at most that)")("rekey-interval", po::value<std::string>(),
                                "...or after this long (default 120s; 1ms..1h)");
    endpoint.add_options()("paths", po::value<std::string>()->default_value("16"),
                           "entropies (paths) the endpoint sprays each peer over")(
        "timeout", po::value<std::string>()->default_value("300s"),
        "give up after this long (recv: counting from start); 0 = never")(
        "idle", po::value<std::string>()->default_value("sleep"),
        "busy: poll without pause (a core each); sleep: spin, then sleep on the link")(
        "spin", po::value<std::string>()->default_value("200"),
        "--idle sleep: idle iterations before sleeping")(
        "spin-time", po::value<std::string>()->default_value("0us"),
        "--idle sleep: also spin this long after the last work before sleeping (the busy-poll "
        "window after activity: 0us..1s)")(
        "max-sleep", po::value<std::string>()->default_value("1ms"),
        "longest single sleep (dpdk, which cannot wake the loop: at most 50us)")(
        "cc-target", po::value<std::string>(),
        "congestion control: target queueing delay (default 25us, plus flow scaling)")(
        "rto-min", po::value<std::string>(), "smallest retransmission timeout (default 50us)")(
        "msg-timeout", po::value<std::string>(),
        "a message not acknowledged within this fails (default 2s)")(
        "no-pacing", "send a window at once instead of pacing it")(
        "no-gso", "udp link: one datagram per send (no UDP GSO)")(
        "no-gro", "udp link: one datagram per receive (no UDP GRO)");
    output.add_options()("json", "print one JSON object instead of the table")(
        "quiet,q", "no progress line on stderr")(
        "samples", po::value<std::string>(),
        "send: write every latency sample (RTT with --pingpong, else send->completion) "
        "to FILE, one per line in microseconds, in completion order")(
        "timeline", po::value<std::string>(),
        "write goodput over time to FILE: one 'UNIX_TIME_S BYTES' line per interval "
        "(send: bytes completed; recv: bytes delivered)")(
        "timeline-interval", po::value<std::string>()->default_value("1ms"),
        "--timeline: interval length (100us..10s)")("help,h", "show this help");
    visible.add(carrier).add(link).add(dpdk).add(run).add(keys).add(endpoint).add(output);
    all.add(visible);
    all.add_options()("role", po::value<std::string>(), "send, recv, genkey or pubkey");
  }
};

std::string get(const po::variables_map& vm, const char* name) {
  return vm[name].as<std::string>();
}

Options parse_options(const po::variables_map& vm) {
  Options o;
  if (!vm.count("role"))
    throw UsageError{"missing the role: srdx-perf send|recv [options], or srdx-perf genkey|pubkey"};
  const std::string role = get(vm, "role");
  if (role == "send") {
    o.send = true;
  } else if (role != "recv" && role != "receive") {
    throw UsageError{"unknown role '" + role + "'; accepted: send, recv, genkey, pubkey"};
  }

  o.carrier = get(vm, "carrier");
  if (o.carrier != "engine" && o.carrier != "fabric") {
    fail("carrier", "unknown carrier '" + o.carrier + "'; accepted: engine, fabric");
  }
  const bool fabric = o.carrier == "fabric";
  if (!fabric) {
    for (const char* opt : {"fabric-peer", "fabric-peer-file", "fabric-name-file"}) {
      if (vm.count(opt)) fail(opt, "only with --carrier fabric");
    }
  }
  o.link.kind = get(vm, "link");
  if (o.link.kind != "udp" && o.link.kind != "dpdk") {
    fail("link", "unknown link '" + o.link.kind + "'; accepted: udp, dpdk");
  }
  if (!fabric && !vm.count("local")) {
    fail("local", "required: the IP:PORT this endpoint receives on");
  }
  // The fabric takes an IP alone too (any port).
  if (vm.count("local")) {
    const std::string local = get(vm, "local");
    o.link.local = fabric && local.find(':') == std::string::npos
                       ? Addr{parse_ip("local", local), 0}
                       : parse_addr("local", local);
  }
  {
    const std::string ep = get(vm, "entropy-ports");
    const size_t colon = ep.find(':');
    if (colon == std::string::npos) fail("entropy-ports", "'" + ep + "': expected FIRST:COUNT");
    o.link.entropy.first_port =
        static_cast<uint16_t>(parse_uint("entropy-ports", ep.substr(0, colon), 1, 65535));
    o.link.entropy.port_count =
        static_cast<uint16_t>(parse_uint("entropy-ports", ep.substr(colon + 1), 1, 65535));
    if (uint32_t{o.link.entropy.first_port} + o.link.entropy.port_count > 65536) {
      fail("entropy-ports", "'" + ep + "' runs past port 65535");
    }
  }
  o.link.mtu =
      static_cast<uint32_t>(parse_uint("mtu", get(vm, "mtu"), tuning::kMinMtu, tuning::kMaxMtu));
  o.link.burst = static_cast<uint32_t>(parse_uint("burst", get(vm, "burst"), 1, 1024));
  o.link.queue_depth =
      static_cast<uint32_t>(parse_uint("queue-depth", get(vm, "queue-depth"), 1, 65536));

  if (o.link.kind == "dpdk") {
    if (!vm.count("device")) {
      fail("device", "required with --link dpdk, e.g. net_af_xdp0,iface=veth0");
    }
    o.link.device = get(vm, "device");
    o.link.eal_args = split_words(get(vm, "eal"));
    if (vm.count("gateway")) o.link.gateway = parse_ip("gateway", get(vm, "gateway"));
    o.link.prefix_len =
        static_cast<uint32_t>(parse_uint("prefix-len", get(vm, "prefix-len"), 1, 32));
    o.link.queues = static_cast<uint16_t>(parse_uint("queues", get(vm, "queues"), 1, 64));
    const std::string intr = get(vm, "rx-interrupts");
    if (intr != "on" && intr != "off") fail("rx-interrupts", "'" + intr + "'; accepted: on, off");
    o.link.rx_interrupts = intr == "on";
    if (vm.count("neighbour")) {
      for (const std::string& n : vm["neighbour"].as<std::vector<std::string>>()) {
        const size_t eq = n.find('=');
        if (eq == std::string::npos) fail("neighbour", "'" + n + "': expected IP=MAC");
        o.link.static_neighbours.emplace_back(parse_ip("neighbour", n.substr(0, eq)),
                                              parse_mac("neighbour", n.substr(eq + 1)));
      }
    }
  } else {
    for (const char* opt : {"device", "gateway", "neighbour"}) {
      if (vm.count(opt)) fail(opt, "only with --link dpdk");
    }
  }

  o.mode = vm.count("pingpong") ? Mode::pingpong : Mode::bulk;
  if (o.send) {
    if (fabric) {
      if (vm.count("peer") + vm.count("fabric-peer") + vm.count("fabric-peer-file") != 1) {
        fail("fabric-peer",
             "sending over the fabric takes one of --fabric-peer HEX, --fabric-peer-file FILE "
             "(the name the receiver prints: srdx-perf recv --carrier fabric) or, for "
             "udp;ofi_rxd and tcp;ofi_rxm, --peer IP:PORT (the receiver's --local IP:PORT)");
      }
      if (vm.count("peer")) {
        o.peer = parse_addr("peer", get(vm, "peer"));
        o.fabric_peer = get(vm, "peer");
      } else if (vm.count("fabric-peer")) {
        o.fabric_peer = get(vm, "fabric-peer");
      } else {
        const std::string file = get(vm, "fabric-peer-file");
        std::ifstream in(file);
        if (!in || !std::getline(in, o.fabric_peer)) {
          fail("fabric-peer-file", "cannot read '" + file + "'");
        }
      }
      std::vector<uint8_t> name;
      if (!vm.count("peer") && !carrier::from_hex(o.fabric_peer, name)) {
        fail(vm.count("fabric-peer") ? "fabric-peer" : "fabric-peer-file",
             "'" + o.fabric_peer +
                 "' is not an endpoint name: expected an even number of hex "
                 "digits, as the receiver prints");
      }
    } else {
      if (!vm.count("peer")) fail("peer", "required when sending: the receiver's IP:PORT");
      o.peer = parse_addr("peer", get(vm, "peer"));
      if (o.peer == o.link.local) fail("peer", "is --local itself");
    }
    const bool bulk = o.mode == Mode::bulk;
    o.size = vm.count("size") ? parse_size("size", get(vm, "size")) : (bulk ? 64u << 10 : 64u);
    if (o.size < kMinMessageBytes) {
      fail("size", "at least " + std::to_string(kMinMessageBytes) +
                       " bytes (each message carries its index, seed and checksum)");
    }
    if (o.size > tuning::kDefaultMaxMessage) {
      fail("size", "at most " + sim::format_size(tuning::kDefaultMaxMessage) +
                       " (the endpoint's largest message)");
    }
    if (vm.count("count") && vm.count("bytes")) fail("bytes", "give --count or --bytes, not both");
    if (vm.count("bytes")) {
      const uint64_t bytes = parse_size("bytes", get(vm, "bytes"));
      if (bytes < kMinMessageBytes) fail("bytes", "at least one message of 24 bytes");
      o.count = (bytes + o.size - 1) / o.size;
      o.last_size = bytes - (o.count - 1) * o.size;
      if (o.last_size < kMinMessageBytes) {  // fold a tiny tail into the previous message
        o.count -= 1;
        o.last_size += o.size;
        if (o.last_size > tuning::kDefaultMaxMessage) fail("bytes", "leaves a tail too large");
      }
    } else {
      o.count =
          vm.count("count") ? parse_uint("count", get(vm, "count"), 1, uint64_t{1} << 32) : 10000;
      o.last_size = o.size;
    }
    o.window = static_cast<uint32_t>(
        parse_uint("window", get(vm, "window"), 1, tuning::kDefaultMaxOutstandingMsgs));
    if (!bulk) o.window = 1;
    o.seed = parse_uint("seed", get(vm, "seed"), 0, UINT64_MAX);
  } else {
    for (const char* opt :
         {"peer", "count", "bytes", "size", "pingpong", "fabric-peer", "fabric-peer-file"}) {
      if (vm.count(opt))
        fail(opt, "only when sending (the receiver learns the run from the sender)");
    }
  }

  o.ep.seed = dp::random_u64();
  o.ep.secret = dp::random_secret();
  o.ep.port = o.link.local.port;
  o.ep.mtu = o.link.mtu;
  o.ep.paths_per_peer =
      static_cast<uint32_t>(parse_uint("paths", get(vm, "paths"), 1, tuning::kMaxPathsPerPeer));
  if (vm.count("cc-target"))
    o.ep.cc_target_delay = parse_duration("cc-target", get(vm, "cc-target"));
  if (vm.count("rto-min")) {
    o.ep.rto_min = parse_duration("rto-min", get(vm, "rto-min"));
    o.ep.rto_initial = max(o.ep.rto_initial, o.ep.rto_min);
    o.ep.rto_max = max(o.ep.rto_max, o.ep.rto_initial);
  }
  if (vm.count("no-pacing")) o.ep.pacing = false;
  if (vm.count("no-gso")) o.link.udp_gso = false;
  if (vm.count("no-gro")) o.link.udp_gro = false;
  if (vm.count("msg-timeout")) {
    o.ep.message_timeout = parse_duration("msg-timeout", get(vm, "msg-timeout"));
  }

  if (o.send && vm.count("fabric-name-file")) {
    fail("fabric-name-file", "only when receiving (the sender names its peer: --fabric-peer)");
  }
  if (fabric && !vm.count("no-encryption")) {
    fail("carrier",
         "the fabric carrier does not encrypt or authenticate (the provider carries the bytes "
         "as they are): say --no-encryption on both sides to run over it");
  }

  // Keys and encryption.
  if (vm.count("no-encryption")) {
    for (const char* opt : {"key", "peer-key", "allow-key", "rekey-packets", "rekey-interval"}) {
      if (vm.count(opt)) fail(opt, "means nothing with --no-encryption (no handshake, no keys)");
    }
    o.ep.encryption = false;
  } else {
    o.ep.encryption = true;
    if (!vm.count("key")) {
      fail("key", std::string("required: encryption is on, and this endpoint needs its own ") +
                      "private key; " + kKeyHowTo +
                      " (--no-encryption runs in the clear, for measurement only)");
    }
    PrivateKey priv{};
    if (std::string err = read_private_key_file(get(vm, "key"), priv, kKeyHowTo); !err.empty()) {
      fail("key", err);
    }
    o.ep.static_key = priv;
    const PublicKey own = public_key_of(priv);
    if (o.send) {
      if (vm.count("allow-key")) {
        fail("allow-key", "only when receiving (the sender knows its peer: --peer-key)");
      }
      if (!vm.count("peer-key")) {
        fail("peer-key",
             "required when sending with encryption: the receiver's public key "
             "(`srdx-perf pubkey < ITS_KEY_FILE`)");
      }
      o.peer_key = parse_public_key("peer-key", get(vm, "peer-key"));
    } else {
      if (vm.count("peer-key")) {
        o.allow_keys.push_back(parse_public_key("peer-key", get(vm, "peer-key")));
      }
      if (vm.count("allow-key")) {
        for (const std::string& k : vm["allow-key"].as<std::vector<std::string>>()) {
          o.allow_keys.push_back(parse_public_key("allow-key", k));
        }
      }
      if (o.allow_keys.empty()) {
        fail("allow-key",
             "required when receiving with encryption: the public key of each sender to "
             "accept (`srdx-perf pubkey < ITS_KEY_FILE`); repeatable");
      }
    }
    if (o.send ? o.peer_key == own
               : std::find(o.allow_keys.begin(), o.allow_keys.end(), own) != o.allow_keys.end()) {
      std::fprintf(stderr,
                   "srdx-perf: note: the peer's key is this endpoint's own public key (one key "
                   "pair on both sides)\n");
    }
    if (vm.count("rekey-packets")) {
      o.ep.rekey_packets =
          parse_uint("rekey-packets", get(vm, "rekey-packets"), 1, tuning::kDefaultRekeyPackets);
    }
    if (vm.count("rekey-interval")) {
      o.ep.rekey_interval = parse_duration("rekey-interval", get(vm, "rekey-interval"));
      if (o.ep.rekey_interval < Duration::millis(1) ||
          o.ep.rekey_interval > Duration::seconds(3600))
        fail("rekey-interval", "accepted: 1ms..1h");
    }
  }
  if (std::string err = o.ep.validate(); !err.empty()) {
    throw UsageError{"endpoint configuration (--mtu / --paths): " + err};
  }

  if (vm.count("samples")) {
    if (!o.send) fail("samples", "only when sending (the sender measures latency)");
    o.samples_path = get(vm, "samples");
    if (o.samples_path.empty()) fail("samples", "needs a file name");
  }
  if (vm.count("timeline")) {
    o.timeline_path = get(vm, "timeline");
    if (o.timeline_path.empty()) fail("timeline", "needs a file name");
  }
  o.timeline_interval = parse_duration("timeline-interval", get(vm, "timeline-interval"));
  if (o.timeline_interval < Duration::micros(100) || o.timeline_interval > Duration::seconds(10))
    fail("timeline-interval", "accepted: 100us..10s");

  o.timeout = parse_duration("timeout", get(vm, "timeout"));
  if (o.timeout < Duration::zero()) fail("timeout", "must not be negative");
  if (o.timeout == Duration::zero()) o.timeout = Duration::infinite();
  const std::string idle = get(vm, "idle");
  if (idle == "busy") {
    o.poll.idle = dp::IdleMode::busy_poll;
  } else if (idle == "sleep") {
    o.poll.idle = dp::IdleMode::spin_then_sleep;
  } else {
    fail("idle", "'" + idle + "'; accepted: busy, sleep");
  }
  o.poll.spin_iterations = static_cast<uint32_t>(parse_uint("spin", get(vm, "spin"), 1, 1u << 30));
  o.poll.max_sleep = parse_duration("max-sleep", get(vm, "max-sleep"));
  o.poll.spin_time = parse_duration("spin-time", get(vm, "spin-time"));
  o.poll.burst = o.link.burst;
  o.poll.tx_budget = std::max<uint32_t>(256, o.link.burst);
  if (std::string err = o.poll.validate(); !err.empty()) throw UsageError{err};
  o.json = vm.count("json") > 0;
  o.progress = vm.count("quiet") == 0;

  if (fabric) {
    carrier::FabricConfig& f = o.fabric;
    f.provider = get(vm, "fabric-provider");
    if (vm.count("local")) {
      if (f.provider == "shm") fail("local", "not with the shm provider (it names its endpoints)");
      f.node = sim::format_addr(Addr{o.link.local.ip, 1});
      f.node = f.node.substr(0, f.node.rfind(':'));
      if (o.link.local.port) f.service = std::to_string(o.link.local.port);
    }
    const uint64_t seg = parse_size("fabric-segment", get(vm, "fabric-segment"));
    if (seg > (uint64_t{1} << 30)) fail("fabric-segment", "at most 1GiB");
    f.segment_size = static_cast<uint32_t>(seg);
    f.message_timeout = o.ep.message_timeout;
    f.max_message_size = tuning::kDefaultMaxMessage;
    f.max_outstanding = tuning::kDefaultMaxOutstandingMsgs;
    f.run.busy_poll = o.poll.idle == dp::IdleMode::busy_poll;
    f.run.spin_iterations = o.poll.spin_iterations;
    f.run.max_sleep = o.poll.max_sleep;
    if (std::string err = f.validate(); !err.empty()) throw UsageError{"--carrier fabric: " + err};
    if (vm.count("fabric-name-file")) {
      o.fabric_name_file = get(vm, "fabric-name-file");
      if (o.fabric_name_file.empty()) fail("fabric-name-file", "needs a file name");
    }
  }
  return o;
}

// ---- common reporting -----------------------------------------------------------

void add_endpoint_json(Json& j, const Endpoint& ep) {
  const EndpointStats& s = ep.stats();
  j.begin("endpoint");
  j.field("packets_sent", s.packets_sent).field("packets_received", s.packets_received);
  j.field("data_packets_sent", s.data_packets_sent).field("ack_packets_sent", s.ack_packets_sent);
  j.field("coalesced_sent", s.coalesced_sent).field("coalesced_received", s.coalesced_received);
  j.field("retransmissions", s.retransmissions).field("rto_events", s.rto_events);
  j.field("reorder_losses", s.reorder_losses);
  j.field("duplicate_fragments", s.duplicate_fragments);
  j.field("out_of_order_packets", s.out_of_order_packets);
  j.field("path_replacements", s.path_replacements);
  j.field("messages_failed", s.messages_failed);
  j.field("handshakes_completed", s.handshakes_completed).field("key_updates", s.key_updates);
  j.field("drops", s.total_drops());
  j.begin("drops_by_reason");
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    j.field(std::string(to_string(static_cast<DropReason>(i))).c_str(), s.drops[i]);
  }
  j.end();
  j.end();
}

// The top-level encryption fields of either side's JSON.
void add_encryption_json(Json& j, const Endpoint& ep) {
  const EndpointConfig& c = ep.config();
  j.field("encryption", c.encryption);
  if (c.encryption) {
    j.field("public_key", key_to_base64(ep.public_key()));
    j.field("rekey_packets", c.rekey_packets).field("rekey_interval_s", c.rekey_interval.sec());
  }
}

// "0", or "5 (unknown_key 3, bad_auth 2)".
std::string drops_summary(const EndpointStats& s) {
  std::string out = std::to_string(s.total_drops());
  std::string why;
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    if (!s.drops[i]) continue;
    why += (why.empty() ? "" : ", ") + std::string(to_string(static_cast<DropReason>(i))) + " " +
           std::to_string(s.drops[i]);
  }
  return why.empty() ? out : out + " (" + why + ")";
}

void add_encryption_rows(Table& t, const Endpoint& ep) {
  const EndpointConfig& c = ep.config();
  const EndpointStats& s = ep.stats();
  if (c.encryption) {
    t.row("encryption", "on: Noise IK handshake, sealed packets; " +
                            std::to_string(s.handshakes_completed) + " handshake(s), " +
                            std::to_string(s.key_updates) + " key update(s)");
    t.row("public key", key_to_base64(ep.public_key()));
  } else {
    t.row("encryption", "OFF (--no-encryption: measurement only, nothing authenticated)");
  }
  t.row("drops", drops_summary(s));
}

void add_paths_json(Json& j, const Endpoint& ep, PeerId peer) {
  j.begin_array("paths");
  for (const PathStats& p : ep.path_stats(peer)) {
    j.begin();
    j.field("entropy", uint64_t{p.entropy});
    j.field("state", p.state == PathState::active      ? "active"
                     : p.state == PathState::probation ? "probation"
                                                       : "retired");
    j.field("packets_sent", p.packets_sent).field("packets_lost", p.packets_lost);
    j.field("timeouts", p.timeouts).field("srtt_us", p.srtt.us());
    j.field("generation", uint64_t{p.generation});
    j.end();
  }
  j.end_array();
}

void add_loop_json(Json& j, const dp::Poller& poller, const dp::Link& link) {
  const dp::PollerStats& p = poller.stats();
  j.begin("poller");
  j.field("iterations", p.iterations).field("idle_sleeps", p.idle_sleeps);
  j.field("wakeups_by_link", p.wakeups_by_link);
  j.field("armed_sleeps", p.armed_sleeps)
      .field("arm_rechecks_found_work", p.arm_rechecks_found_work);
  j.field("slept_s", static_cast<double>(p.slept_ns) / 1e9);
  j.field("rx_bursts", p.rx_bursts).field("tx_bursts", p.tx_bursts);
  j.field("partial_tx", p.partial_tx).field("tx_dropped", p.tx_dropped);
  j.field("tx_no_buffer", p.tx_no_buffer);
  j.field("max_iteration_us", static_cast<double>(p.max_iteration_ns) / 1e3);
  j.field("long_iterations", p.long_iterations);
  j.field("max_oversleep_us", static_cast<double>(p.max_oversleep_ns) / 1e3);
  j.end();
  const dp::LinkStats l = link.stats();
  j.begin("link_stats");
  j.field("kind", std::string(link.kind()));
  j.field("rx_packets", l.rx_packets).field("tx_packets", l.tx_packets);
  j.field("tx_dropped", l.tx_dropped).field("tx_no_buffer", l.tx_no_buffer);
  j.field("rx_dropped", l.rx_dropped).field("arp_requests", l.arp_requests);
  j.field("arp_replies", l.arp_replies).field("tx_no_neighbour", l.tx_no_neighbour);
  j.end();
  j.begin("link_counters");
  for (const auto& [name, v] : link.backend_counters()) j.field(std::string(name).c_str(), v);
  j.end();
}

void add_loop_rows(Table& t, const dp::Poller& poller, const dp::Link& link, const Endpoint& ep) {
  const dp::PollerStats& p = poller.stats();
  const dp::LinkStats l = link.stats();
  const EndpointStats& s = ep.stats();
  t.row("packets sent / received",
        std::to_string(s.packets_sent) + " / " + std::to_string(s.packets_received));
  t.row("ACK+data datagrams sent / received",
        std::to_string(s.coalesced_sent) + " / " + std::to_string(s.coalesced_received));
  t.row("poll iterations / sleeps",
        std::to_string(p.iterations) + " / " + std::to_string(p.idle_sleeps) + " (" +
            fmt("%.2f", static_cast<double>(p.slept_ns) / 1e9) + " s asleep)");
  t.row("link tx dropped / no buffer",
        std::to_string(l.tx_dropped) + " / " + std::to_string(l.tx_no_buffer));
}

std::string path_summary(const Endpoint& ep, PeerId peer) {
  size_t active = 0;
  const std::vector<PathStats> paths = ep.path_stats(peer);
  for (const PathStats& p : paths) {
    if (p.state == PathState::active) ++active;
  }
  return std::to_string(active) + " of " + std::to_string(paths.size()) + " active";
}

// `ep`: the engine's endpoint, or null over the fabric (whose provider's
// retransmissions and windows are its own).
// "0.120 + 0.340 s (1.79 + 5.07 s/GB)": the run's CPU time and per GB moved.
std::string cpu_row(const CpuTime& c, uint64_t bytes) {
  std::string r = fmt("%.3f", c.user_s) + " + " + fmt("%.3f s", c.sys_s);
  if (bytes > 0) {
    const double gb = static_cast<double>(bytes) / 1e9;
    r += " (" + fmt("%.2f", c.user_s / gb) + " + " + fmt("%.2f s/GB)", c.sys_s / gb);
  }
  return r;
}

void progress_line(const char* role, Duration elapsed, uint64_t msgs, uint64_t bytes,
                   double bps_now, const Endpoint* ep) {
  std::string peer;
  PeerStats ps;
  if (ep) {
    const std::vector<PeerId> peers = ep->peers();
    if (!peers.empty() && ep->peer_stats(peers.front(), ps)) {
      peer =
          "  cwnd " + std::to_string(ps.cwnd_bytes >> 10) + " KiB  srtt " + format_us(ps.srtt.us());
    }
    peer = "  retx " + std::to_string(ep->stats().retransmissions) + peer;
  }
  std::fprintf(stderr, "srdx-perf %s: %6.1f s  %10llu msgs  %8.1f MiB  %s%s\n", role, elapsed.sec(),
               static_cast<unsigned long long>(msgs), static_cast<double>(bytes) / (1 << 20),
               sim::format_rate(bps_now).c_str(), peer.c_str());
}

// What carries the run: the carrier, and the engine's parts when it is the
// engine (reports read them), or the fabric carrier.
struct Carried {
  carrier::Carrier& c;
  Endpoint* ep = nullptr;                    // --carrier engine
  dp::Poller* poller = nullptr;              // --carrier engine
  carrier::FabricCarrier* fabric = nullptr;  // --carrier fabric
};

void add_fabric_json(Json& j, const carrier::FabricCarrier& f, const std::string& provider) {
  j.field("carrier", "fabric").field("provider", provider).field("fabric", f.describe());
  j.field("encryption", false);
  const carrier::CarrierStats c = f.stats();
  const carrier::FabricStats& s = f.fabric_stats();
  j.begin("fabric_stats");
  j.field("provider_messages_sent", c.packets_sent);
  j.field("provider_messages_received", c.packets_received);
  j.field("segments_sent", s.segments_sent).field("segments_received", s.segments_received);
  j.field("controls_sent", s.controls_sent).field("send_again", s.send_again);
  j.field("provider_errors", s.provider_errors);
  j.field("dropped_malformed", s.dropped_malformed);
  j.field("dropped_unknown_source", s.dropped_unknown_source);
  j.field("dropped_duplicate", s.dropped_duplicate);
  j.field("idle_waits", s.waits).field("wakeups_by_fd", s.wakeups_by_fd);
  j.end();
}

void add_fabric_rows(Table& t, const carrier::FabricCarrier& f) {
  const carrier::CarrierStats c = f.stats();
  const carrier::FabricStats& s = f.fabric_stats();
  t.row("fabric", f.describe());
  t.row("encryption", "none (the fabric carrier carries bytes as they are)");
  t.row("provider messages sent / received",
        std::to_string(c.packets_sent) + " / " + std::to_string(c.packets_received));
  t.row("segments sent / received",
        std::to_string(s.segments_sent) + " / " + std::to_string(s.segments_received));
  t.row("provider errors / busy (EAGAIN)",
        std::to_string(s.provider_errors) + " / " + std::to_string(s.send_again));
  t.row("dropped (malformed, unknown source, duplicate)",
        std::to_string(s.dropped_malformed) + ", " + std::to_string(s.dropped_unknown_source) +
            ", " + std::to_string(s.dropped_duplicate));
  t.row("idle waits / woken by the CQ's fd",
        std::to_string(s.waits) + " / " + std::to_string(s.wakeups_by_fd));
}

const EndpointStats kNoEndpointStats{};

// ---- sender ---------------------------------------------------------------------

constexpr uint64_t kHeaderCookie = ~uint64_t{0};
constexpr uint64_t kEndCookie = ~uint64_t{0} - 1;

class Sender {
 public:
  Sender(const Options& o, const Carried& k, Timeline* timeline)
      : o_(o),
        c_(k.c),
        ep_(k.ep),
        poller_(k.poller),
        fabric_(k.fabric),
        timeline_(timeline),
        pattern_(o.seed, std::max(o.size, o.last_size)) {
    header_.mode = o.mode;
    header_.count = o.count;
    header_.size = o.size;
    header_.last_size = o.last_size;
    header_.seed = o.seed;
    header_bytes_ = encode_header(header_);
    const Result<PeerId> r = !ep_              ? c_.add_peer(o.fabric_peer)
                             : o.ep.encryption ? ep_->add_peer(o.peer, o.peer_key)
                                               : ep_->add_peer(o.peer);
    if (!r.ok() && !ep_) {
      throw std::runtime_error("the fabric peer '" + o.fabric_peer + "' is not an address " +
                               o.fabric.provider +
                               " takes (fi_av_insert refused it): is it the name the receiver "
                               "printed, with the same provider?");
    }
    if (!r.ok()) throw std::runtime_error("add_peer: " + std::string(to_string(r.err)));
    peer_ = r.value;
    slots_.resize(o.window);
    for (uint32_t i = 0; i < o.window; ++i) {
      slots_[i].buf.resize(std::max(o.size, o.last_size));
      free_.push_back(o.window - 1 - i);
    }
    latencies_.reserve(std::min<uint64_t>(o.count, 1u << 24));
  }

  // Finished and the receiver told (or given up on telling: end_timeout).
  bool done(Time now) const {
    return fatal_ || (finished_ && (end_done_ || now - end_ >= Duration::seconds(1)));
  }
  bool ok() const { return !fatal_ && completed_ == o_.count && failed_ == 0; }

  void on_event(const Event& ev, Time now) {
    switch (ev.type) {
      case EventType::send_completed:
        if (ev.cookie == kEndCookie) {
          end_done_ = true;
          return;
        }
        if (ev.cookie == kHeaderCookie) {
          header_done_ = true;
          start_ = now;
          cpu_start_ = cpu_now();
          last_progress_ = now;
          return;
        }
        if (o_.mode == Mode::bulk) complete_slot(static_cast<uint32_t>(ev.cookie), now);
        return;
      case EventType::send_failed:
        if (ev.cookie == kEndCookie) {
          end_done_ = true;
          return;
        }
        if (ev.cookie == kHeaderCookie) {
          error_ = "the run header was not delivered (" + std::string(to_string(ev.reason)) +
                   "): is the receiver running at " +
                   (ep_ ? format_addr(o_.peer) : "fabric name " + o_.fabric_peer) + "?";
          if (ep_ && o_.ep.encryption && ep_->stats().handshakes_completed == 0) {
            error_ +=
                " No handshake completed: does the receiver allow this sender's key "
                "(its --allow-key must be " +
                key_to_base64(ep_->public_key()) +
                "), is --peer-key the receiver's public key, and do both sides encrypt "
                "(neither has --no-encryption)?";
          }
          fatal_ = true;
          return;
        }
        ++failed_;
        if (fail_reason_.empty()) fail_reason_ = std::string(to_string(ev.reason));
        if (o_.mode == Mode::bulk) {
          free_slot(static_cast<uint32_t>(ev.cookie));
        } else {
          in_flight_ = false;
        }
        check_finished(now);
        return;
      case EventType::message_received:
        if (o_.mode == Mode::pingpong) on_echo(ev, now);
        return;
      case EventType::peer_up:
        ++peer_ups_;
        return;
      case EventType::peer_down:
        ++peer_downs_;
        return;
    }
  }

  void on_tick(Time now) {
    if (!header_sent_) {
      SendOptions so;
      so.cookie = kHeaderCookie;
      const Result<MsgId> r = c_.send(peer_, header_bytes_, so, now);
      if (!r.ok()) {
        error_ = "sending the run header: " + std::string(to_string(r.err));
        fatal_ = true;
        return;
      }
      header_sent_ = true;
      return;
    }
    if (!header_done_) return;
    if (finished_) {
      if (!end_sent_) {
        // Tell the receiver the run is over, so that it stops waiting for
        // messages that failed here.
        SendOptions so;
        so.cookie = kEndCookie;
        c_.send(peer_, encode_end(RunEnd{completed_, failed_}), so, now);
        end_sent_ = true;
      }
      return;
    }
    if (o_.mode == Mode::bulk) {
      while (!free_.empty() && next_ < o_.count) {
        const uint32_t slot = free_.back();
        Slot& s = slots_[slot];
        const size_t len = header_.size_of(next_);
        pattern_.fill(next_, std::span<uint8_t>(s.buf.data(), len));
        SendOptions so;
        so.copy = false;  // the slot stays untouched until completed or failed
        so.cookie = slot;
        const Result<MsgId> r =
            c_.send(peer_, std::span<const uint8_t>(s.buf.data(), len), so, now);
        if (r.err == Errc::would_block) break;
        if (!r.ok()) {
          error_ = "send: " + std::string(to_string(r.err));
          fatal_ = true;
          return;
        }
        free_.pop_back();
        s.sent = now;
        s.len = len;
        ++next_;
      }
    } else if (!in_flight_ && next_ < o_.count) {
      Slot& s = slots_[0];
      const size_t len = header_.size_of(next_);
      pattern_.fill(next_, std::span<uint8_t>(s.buf.data(), len));
      const Result<MsgId> r =
          c_.send(peer_, std::span<const uint8_t>(s.buf.data(), len), SendOptions{}, now);
      if (r.ok()) {
        s.sent = now;
        s.len = len;
        in_flight_ = true;
        ++next_;
      } else if (r.err != Errc::would_block) {
        error_ = "send: " + std::string(to_string(r.err));
        fatal_ = true;
      }
    }
  }

  void progress(Time now) {
    if (!header_done_ || now - last_progress_ < Duration::seconds(1)) return;
    const double dt = (now - last_progress_).sec();
    progress_line("send", now - start_, completed_, bytes_done_,
                  static_cast<double>(bytes_done_ - bytes_at_progress_) * 8 / dt, ep_);
    last_progress_ = now;
    bytes_at_progress_ = bytes_done_;
  }

  // CPU time over the run (from the header's completion to the last
  // message's); to now when the run did not finish, zero before it started.
  CpuTime run_cpu() const {
    if (!header_done_) return {};
    return (finished_ ? cpu_end_ : cpu_now()) - cpu_start_;
  }

  std::string report(bool json) {
    const Duration elapsed = (finished_ ? end_ : dp::monotonic_now()) - start_;
    const double secs = header_done_ ? std::max(elapsed.sec(), 1e-9) : 0;
    const Percentiles lat = percentiles(latencies_);
    const EndpointStats& s = ep_ ? ep_->stats() : kNoEndpointStats;
    const double goodput = secs > 0 ? static_cast<double>(bytes_done_) * 8 / secs : 0;
    const double rate = secs > 0 ? static_cast<double>(completed_) / secs : 0;
    const char* lat_kind = o_.mode == Mode::pingpong ? "rtt" : "completion";
    if (json) {
      Json j;
      j.begin();
      j.field("role", "send").field("ok", ok());
      if (ep_) {
        j.field("link", o_.link.kind);
      } else {
        add_fabric_json(j, *fabric_, o_.fabric.provider);
      }
      j.field("mode", std::string(to_string(o_.mode)));
      if (ep_) {
        j.field("local", format_addr(o_.link.local)).field("peer", format_addr(o_.peer));
      } else {
        j.field("local", c_.local_name()).field("peer", o_.fabric_peer);
      }
      j.field("messages", o_.count).field("size", o_.size).field("bytes", header_.total_bytes());
      j.field("window", uint64_t{o_.window});
      j.field("completed", completed_).field("failed", failed_);
      j.field("bytes_completed", bytes_done_);
      j.field("elapsed_s", secs).field("msg_rate", rate);
      j.field("goodput_bps", goodput).field("goodput_gbps", goodput / 1e9);
      j.field("retransmissions", s.retransmissions);
      j.raw("cpu", cpu_json(run_cpu(), cpu_now(), bytes_done_));
      j.field("latency_kind", lat_kind);
      j.percentiles("latency_us", lat);
      if (ep_) {
        add_encryption_json(j, *ep_);
        add_endpoint_json(j, *ep_);
        add_paths_json(j, *ep_, peer_);
        add_loop_json(j, *poller_, poller_->link());
      }
      if (!error_.empty()) j.field("error", error_);
      j.end();
      return j.str() + "\n";
    }
    Table t;
    if (ep_) {
      t.section("srdx-perf send (" + o_.link.kind + ", " + std::string(to_string(o_.mode)) + ") " +
                format_addr(o_.link.local) + " -> " + format_addr(o_.peer));
    } else {
      t.section("srdx-perf send (fabric " + o_.fabric.provider + ", " +
                std::string(to_string(o_.mode)) + ") -> " + o_.fabric_peer);
    }
    t.row("messages completed",
          std::to_string(completed_) + " of " + std::to_string(o_.count) + " x " +
              sim::format_size(o_.size) +
              (failed_ ? ", " + std::to_string(failed_) + " FAILED (" + fail_reason_ + ")" : ""));
    t.row("bytes", sim::format_size(bytes_done_));
    t.row("elapsed", fmt("%.3f s", secs));
    t.row("message rate", fmt("%.0f msg/s", rate));
    t.row("goodput", sim::format_rate(goodput));
    t.row("cpu (user + sys)", cpu_row(run_cpu(), bytes_done_));
    if (ep_) {
      t.row("retransmissions", std::to_string(s.retransmissions) + " (RTO events " +
                                   std::to_string(s.rto_events) + ", reorder losses " +
                                   std::to_string(s.reorder_losses) + ")");
      t.row("paths",
            path_summary(*ep_, peer_) + ", " + std::to_string(s.path_replacements) + " replaced");
    }
    t.row(o_.mode == Mode::pingpong ? "RTT (round trip)" : "send->completion latency",
          "p50 " + format_us(lat.p50) + "  p90 " + format_us(lat.p90) + "  p99 " +
              format_us(lat.p99) + "  p99.9 " + format_us(lat.p999) + "  max " +
              format_us(lat.max));
    if (ep_) {
      add_encryption_rows(t, *ep_);
      add_loop_rows(t, *poller_, poller_->link(), *ep_);
    } else {
      add_fabric_rows(t, *fabric_);
    }
    if (!error_.empty()) t.row("error", error_);
    t.row("result", ok() ? "OK" : "FAILED");
    return t.str();
  }

  const std::string& error() const { return error_; }
  // Latencies in nanoseconds, in completion order until report() sorts them.
  const std::vector<int64_t>& latencies() const { return latencies_; }

 private:
  struct Slot {
    std::vector<uint8_t> buf;
    Time sent;
    size_t len = 0;
  };

  void free_slot(uint32_t slot) {
    if (slot < slots_.size()) free_.push_back(slot);
  }

  void complete_slot(uint32_t slot, Time now) {
    if (slot >= slots_.size()) return;
    const Slot& s = slots_[slot];
    latencies_.push_back((now - s.sent).ns());
    bytes_done_ += s.len;
    if (timeline_) timeline_->add(now.ns(), s.len);
    ++completed_;
    free_.push_back(slot);
    check_finished(now);
  }

  void on_echo(const Event& ev, Time now) {
    uint64_t index = 0;
    const Decoded d = pattern_.check(ev.data, index);
    if (d != Decoded::ok || !in_flight_ || index + 1 != next_ || ev.data.size() != slots_[0].len) {
      error_ =
          "pingpong: an echo did not match the message sent (index " + std::to_string(index) + ")";
      fatal_ = true;
      return;
    }
    latencies_.push_back((now - slots_[0].sent).ns());
    bytes_done_ += ev.data.size();
    if (timeline_) timeline_->add(now.ns(), ev.data.size());
    ++completed_;
    in_flight_ = false;
    check_finished(now);
  }

  void check_finished(Time now) {
    if (completed_ + failed_ == o_.count) {
      finished_ = true;
      end_ = now;
      cpu_end_ = cpu_now();
    }
  }

  const Options& o_;
  carrier::Carrier& c_;
  Endpoint* ep_;                    // the engine's, or null
  dp::Poller* poller_;              // the engine's, or null
  carrier::FabricCarrier* fabric_;  // or null
  Timeline* timeline_;
  Pattern pattern_;
  RunHeader header_;
  std::vector<uint8_t> header_bytes_;
  PeerId peer_ = kNoPeer;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<int64_t> latencies_;
  bool header_sent_ = false, header_done_ = false, in_flight_ = false;
  bool end_sent_ = false, end_done_ = false;
  bool finished_ = false, fatal_ = false;
  uint64_t next_ = 0, completed_ = 0, failed_ = 0, bytes_done_ = 0;
  uint64_t peer_ups_ = 0, peer_downs_ = 0;
  Time start_, end_, last_progress_;
  CpuTime cpu_start_, cpu_end_;  // at start_ and end_: the run's CPU time
  uint64_t bytes_at_progress_ = 0;
  std::string error_, fail_reason_;
};

// ---- receiver -------------------------------------------------------------------

class Receiver {
 public:
  Receiver(const Options& o, const Carried& k, Timeline* timeline)
      : o_(o), c_(k.c), ep_(k.ep), poller_(k.poller), fabric_(k.fabric), timeline_(timeline) {}

  bool done() const { return have_header_ && bitmap_.marked() == header_.count; }
  // The sender said it is finished (some messages may have failed there).
  bool sender_finished() const { return sender_finished_; }
  bool ok() const { return done() && duplicates_ == 0 && corrupt_ == 0; }

  void on_event(const Event& ev, Time now) {
    if (ev.type == EventType::peer_up) {
      ++peer_ups_;
      return;
    }
    if (ev.type == EventType::peer_down) {
      ++peer_downs_;
      return;
    }
    if (ev.type != EventType::message_received) return;
    last_data_ = now;
    RunEnd e;
    switch (decode_end(ev.data, e)) {
      case Decoded::ok:
        sender_finished_ = true;
        sender_failed_ = e.failed;
        return;
      case Decoded::corrupt:
        ++corrupt_;
        return;
      case Decoded::not_this_kind:
        break;
    }
    RunHeader h;
    switch (decode_header(ev.data, h)) {
      case Decoded::ok:
        on_header(h, ev.peer, now);
        return;
      case Decoded::corrupt:
        ++corrupt_;
        return;
      case Decoded::not_this_kind:
        break;
    }
    if (!have_header_) {
      // Data before the header (it is sent first, but delivery is out of
      // order): the seed is in every message, and the sizes are not known
      // yet, so the pattern grows with the messages.
      uint64_t seed = 0;
      if (pattern_) {
        seed = pattern_->seed();
      } else if (ev.data.size() < kMinMessageBytes) {
        ++corrupt_;
        return;
      } else {
        for (int i = 7; i >= 0; --i) seed = (seed << 8) | ev.data[16 + static_cast<size_t>(i)];
      }
      cover(seed, ev.data.size());
    }
    if (start_ == Time()) {
      start_ = now;
      cpu_start_ = cpu_now();
    }
    uint64_t index = 0;
    const Decoded d = pattern_->check(ev.data, index);
    const uint64_t limit = have_header_ ? header_.count : uint64_t{1} << 32;
    if (d != Decoded::ok || index >= limit ||
        (have_header_ && ev.data.size() != header_.size_of(index))) {
      ++corrupt_;
      return;
    }
    if (!bitmap_.mark(index)) {
      ++duplicates_;
      return;
    }
    bytes_ += ev.data.size();
    if (timeline_) timeline_->add(now.ns(), ev.data.size());
    if (have_header_ && header_.mode == Mode::pingpong) {
      const Result<MsgId> r = c_.send(ev.peer, ev.data, SendOptions{}, now);
      if (!r.ok()) ++echo_failures_;
    }
    if (done() && end_ == Time()) {
      end_ = now;
      cpu_end_ = cpu_now();
    }
  }

  void progress(Time now) {
    if (start_ == Time() || now - last_progress_ < Duration::seconds(1)) return;
    if (last_progress_ == Time()) {
      last_progress_ = now;
      return;
    }
    const double dt = (now - last_progress_).sec();
    progress_line("recv", now - start_, bitmap_.marked(), bytes_,
                  static_cast<double>(bytes_ - bytes_at_progress_) * 8 / dt, ep_);
    last_progress_ = now;
    bytes_at_progress_ = bytes_;
  }

  // Keeps acknowledging after the last message (its ACK may be lost and the
  // sender retransmit) until the link has been quiet for `quiet`.
  bool lingered(Time now, Duration quiet) {
    const uint64_t rx = c_.stats().packets_received;
    if (rx != rx_seen_) {
      rx_seen_ = rx;
      quiet_since_ = now;
    }
    if (quiet_since_ == Time()) quiet_since_ = now;
    return now - quiet_since_ >= quiet;
  }

  // CPU time over the run (from the first message to the last one of the
  // run); to now when the run did not complete, zero before it started.
  CpuTime run_cpu() const {
    if (start_ == Time()) return {};
    return (end_ != Time() ? cpu_end_ : cpu_now()) - cpu_start_;
  }

  std::string report(bool json) {
    const Time end = end_ != Time() ? end_ : last_data_;
    const double secs = start_ != Time() ? std::max((end - start_).sec(), 1e-9) : 0;
    const uint64_t received = bitmap_.marked();
    const uint64_t missing = have_header_ ? header_.count - received : 0;
    const double goodput = secs > 0 ? static_cast<double>(bytes_) * 8 / secs : 0;
    const EndpointStats& s = ep_ ? ep_->stats() : kNoEndpointStats;
    if (json) {
      Json j;
      j.begin();
      j.field("role", "recv").field("ok", ok());
      if (ep_) {
        j.field("link", o_.link.kind);
        j.field("local", format_addr(o_.link.local));
      } else {
        add_fabric_json(j, *fabric_, o_.fabric.provider);
        j.field("local", c_.local_name());
      }
      j.field("header_received", have_header_);
      if (have_header_) {
        j.field("mode", std::string(to_string(header_.mode)));
        j.field("expected", header_.count).field("size", header_.size);
      }
      j.field("received", received).field("duplicates", duplicates_);
      j.field("corrupt", corrupt_).field("missing", missing);
      j.field("bytes", bytes_).field("elapsed_s", secs);
      j.field("goodput_bps", goodput).field("goodput_gbps", goodput / 1e9);
      j.field("echo_failures", echo_failures_);
      j.raw("cpu", cpu_json(run_cpu(), cpu_now(), bytes_));
      j.field("sender_finished", sender_finished_).field("sender_failed", sender_failed_);
      if (ep_) {
        add_encryption_json(j, *ep_);
        add_endpoint_json(j, *ep_);
        add_loop_json(j, *poller_, poller_->link());
      }
      j.end();
      return j.str() + "\n";
    }
    Table t;
    t.section(ep_ ? "srdx-perf recv (" + o_.link.kind + ") " + format_addr(o_.link.local)
                  : "srdx-perf recv (fabric " + o_.fabric.provider + ") " + c_.local_name());
    if (have_header_) {
      t.row("run", std::string(to_string(header_.mode)) + ", " + std::to_string(header_.count) +
                       " x " + sim::format_size(header_.size) + " from " + sender_);
    } else {
      t.row("run", "no header received (no sender?)");
    }
    t.row("received", std::to_string(received) + " (" + sim::format_size(bytes_) + ")");
    t.row("duplicates", std::to_string(duplicates_));
    t.row("corrupt", std::to_string(corrupt_));
    t.row("missing",
          std::to_string(missing) +
              (sender_failed_ ? " (the sender gave up on " + std::to_string(sender_failed_) + ")"
                              : ""));
    t.row("elapsed", fmt("%.3f s", secs));
    t.row("goodput", sim::format_rate(goodput));
    t.row("cpu (user + sys)", cpu_row(run_cpu(), bytes_));
    if (ep_) {
      t.row("out-of-order packets", std::to_string(s.out_of_order_packets));
      t.row("duplicate fragments", std::to_string(s.duplicate_fragments));
      add_encryption_rows(t, *ep_);
      add_loop_rows(t, *poller_, poller_->link(), *ep_);
    } else {
      add_fabric_rows(t, *fabric_);
    }
    t.row("result", ok() ? "OK: every message exactly once and intact" : "FAILED");
    return t.str();
  }

 private:
  // Makes pattern_ the one for `seed`, covering messages of up to `size`
  // bytes, capped at the largest message srdx carries (check() refuses a
  // message longer than its pattern covers). Built for the run's own sizes,
  // not for that cap: a 16 MiB pattern takes 30-45 ms to build on a 2-core
  // VM, and it was built in the event handler that took the run header, in
  // the poll loop iteration that then sends the header's ACK. With CPU 0
  // shared, that iteration once outlasted the sender's peer timeout (200 ms)
  // and the sender gave the receiver up.
  void cover(uint64_t seed, uint64_t size) {
    size = std::min<uint64_t>(size, tuning::kDefaultMaxMessage);
    if (pattern_ && pattern_->seed() == seed && pattern_->max_size() >= size) return;
    if (pattern_ && pattern_->seed() == seed) {
      // Growing before the header: by doubling, so a run of growing
      // messages rebuilds it a few times, not once per message.
      size = std::min<uint64_t>(std::max<uint64_t>(size, 2 * pattern_->max_size()),
                                tuning::kDefaultMaxMessage);
    }
    pattern_ = std::make_unique<Pattern>(seed, static_cast<size_t>(size));
  }

  void on_header(const RunHeader& h, PeerId peer, Time now) {
    if (have_header_) {
      if (h.count != header_.count || h.seed != header_.seed || h.size != header_.size) {
        ++corrupt_;  // a second, different run: this receiver checks one
      }
      return;
    }
    if (h.count == 0 || h.count > (uint64_t{1} << 32) || h.size < kMinMessageBytes ||
        h.size > tuning::kDefaultMaxMessage || h.last_size < kMinMessageBytes ||
        h.last_size > tuning::kDefaultMaxMessage) {
      ++corrupt_;
      return;
    }
    have_header_ = true;
    header_ = h;
    bitmap_.reserve(h.count);
    cover(h.seed, std::max(h.size, h.last_size));
    PeerStats ps;
    if (!ep_) {
      sender_ = "fabric peer " + std::to_string(peer);
    } else if (ep_->peer_stats(peer, ps)) {
      sender_ = format_addr(ps.addr);
    }
    if (start_ == Time()) {
      start_ = now;
      cpu_start_ = cpu_now();
    }
  }

  const Options& o_;
  carrier::Carrier& c_;
  Endpoint* ep_;                    // the engine's, or null
  dp::Poller* poller_;              // the engine's, or null
  carrier::FabricCarrier* fabric_;  // or null
  Timeline* timeline_;
  bool have_header_ = false, sender_finished_ = false;
  uint64_t sender_failed_ = 0;
  RunHeader header_;
  std::unique_ptr<Pattern> pattern_;
  IndexBitmap bitmap_;
  uint64_t bytes_ = 0, duplicates_ = 0, corrupt_ = 0, echo_failures_ = 0;
  uint64_t peer_ups_ = 0, peer_downs_ = 0;
  Time start_, end_, last_data_, last_progress_, quiet_since_;
  CpuTime cpu_start_, cpu_end_;  // at start_ and end_ (or the last data): the run's CPU time
  uint64_t bytes_at_progress_ = 0, rx_seen_ = 0;
  std::string sender_;
};

// ---- main -----------------------------------------------------------------------

// The carrier's name where a peer finds it, written whole or not at all
// (through a temporary file and a rename: a script waits for the file).
std::string write_name_file(const std::string& path, const std::string& name) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out || !(out << name << "\n") || !out.flush()) return "cannot write '" + tmp + "'";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return "cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno);
  }
  return {};
}

int run(const Options& o) {
  const bool fabric = o.carrier == "fabric";
  if (!o.ep.encryption) {
    std::fprintf(stderr,
                 "srdx-perf: WARNING: ENCRYPTION IS OFF (--no-encryption). Nothing is "
                 "authenticated or encrypted:\n"
                 "srdx-perf: WARNING: anyone on the path can read, forge and reset every "
                 "message. For measurement only.\n");
  }
  // The engine over its link and poll loop, or a libfabric endpoint; the
  // sender and receiver see the carrier (and read the engine's counters).
  std::unique_ptr<dp::Link> link;
  std::unique_ptr<Endpoint> engine;
  std::unique_ptr<dp::Poller> poller;
  std::unique_ptr<carrier::Carrier> carried;
  carrier::FabricCarrier* fab = nullptr;
  if (fabric) {
    auto f = std::make_unique<carrier::FabricCarrier>(o.fabric);
    fab = f.get();
    carried = std::move(f);
  } else {
    link = dp::make_link(o.link);
    engine = std::make_unique<Endpoint>(o.ep);
    for (const PublicKey& k : o.allow_keys) engine->allow_key(k);
    poller = std::make_unique<dp::Poller>(*link, *engine, o.poll);
    carried = std::make_unique<carrier::EngineCarrier>(*poller);
  }
  carrier::Carrier& c = *carried;
  const Carried k{c, engine.get(), poller.get(), fab};
  std::atomic<bool> stop{false};
  const Time started = dp::monotonic_now();
  const Time deadline = started + o.timeout;
  bool timed_out = false;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Scripts wait for this line before starting the other side.
  if (fabric) {
    if (!o.fabric_name_file.empty()) {
      if (std::string err = write_name_file(o.fabric_name_file, c.local_name()); !err.empty()) {
        std::fprintf(stderr, "srdx-perf: --fabric-name-file: %s\n", err.c_str());
        return kExitFailed;
      }
    }
    std::fprintf(stderr, "srdx-perf %s: listening on fabric name %s (%s), NOT ENCRYPTED\n",
                 o.send ? "send" : "recv", c.local_name().c_str(), fab->describe().c_str());
  } else {
    std::fprintf(stderr, "srdx-perf %s: listening on %s (%s), %s\n", o.send ? "send" : "recv",
                 format_addr(o.link.local).c_str(), o.link.kind.c_str(),
                 o.ep.encryption
                     ? ("encrypted, public key " + key_to_base64(engine->public_key())).c_str()
                     : "NOT ENCRYPTED");
  }

  std::unique_ptr<Timeline> timeline;
  if (!o.timeline_path.empty()) {
    const int64_t span =
        o.timeout == Duration::infinite() ? int64_t{3600} * 1000000000 : o.timeout.ns();
    timeline = std::make_unique<Timeline>(o.timeline_interval.ns(), span);
  }
  std::string out, series_error;
  bool ok = false;
  if (o.send) {
    Sender s(o, k, timeline.get());
    c.on_event([&](const Event& ev, Time now) { s.on_event(ev, now); });
    c.on_tick([&](Time now) {
      s.on_tick(now);
      if (o.progress) s.progress(now);
      if (s.done(now) || g_interrupted.load()) stop = true;
      if (now >= deadline) {
        timed_out = true;
        stop = true;
      }
    });
    c.run(stop);
    if (!o.samples_path.empty()) series_error = write_samples(o.samples_path, s.latencies(), 1e-3);
    out = s.report(o.json);
    ok = s.ok() && !timed_out && !g_interrupted.load();
    if (!s.error().empty()) std::fprintf(stderr, "srdx-perf: %s\n", s.error().c_str());
  } else {
    Receiver r(o, k, timeline.get());
    c.on_event([&](const Event& ev, Time now) { r.on_event(ev, now); });
    c.on_tick([&](Time now) {
      if (o.progress) r.progress(now);
      if (g_interrupted.load()) stop = true;
      if (now >= deadline) {
        timed_out = true;
        stop = true;
      }
      if ((r.done() || r.sender_finished()) && r.lingered(now, o.linger)) stop = true;
    });
    c.run(stop);
    out = r.report(o.json);
    ok = r.ok() && !g_interrupted.load();
    const EndpointStats& st = engine ? engine->stats() : kNoEndpointStats;
    const uint64_t unknown = st.drops[static_cast<size_t>(DropReason::unknown_key)];
    const uint64_t bad_auth = st.drops[static_cast<size_t>(DropReason::bad_auth)];
    if (!ok && unknown) {
      std::fprintf(stderr,
                   "srdx-perf: refused %llu handshake(s) from a key this receiver does not "
                   "allow (unknown_key): give the sender's public key with --allow-key\n",
                   static_cast<unsigned long long>(unknown));
    }
    if (!ok && bad_auth && st.handshakes_completed == 0) {
      std::fprintf(stderr,
                   "srdx-perf: %llu datagram(s) failed authentication (bad_auth) and no "
                   "handshake completed: does the sender's --peer-key name this receiver's "
                   "public key, %s?\n",
                   static_cast<unsigned long long>(bad_auth),
                   key_to_base64(engine->public_key()).c_str());
    }
  }
  if (timed_out) {
    std::fprintf(stderr, "srdx-perf: timed out after %.1f s (--timeout)\n", o.timeout.sec());
  }
  if (g_interrupted.load()) std::fprintf(stderr, "srdx-perf: interrupted\n");
  if (timeline && series_error.empty()) {
    series_error = timeline->write(
        o.timeline_path,
        std::string("srdx-perf ") + (o.send ? "send: bytes completed" : "recv: bytes delivered"));
  }
  if (!series_error.empty()) {
    std::fprintf(stderr, "srdx-perf: %s\n", series_error.c_str());
    ok = false;
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "genkey") {
    try {
      return genkey();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "srdx-perf genkey: %s\n", e.what());
      return kExitFailed;
    }
  }
  if (argc == 2 && std::string(argv[1]) == "pubkey") return pubkey();
  if (argc > 2 && (std::string(argv[1]) == "genkey" || std::string(argv[1]) == "pubkey")) {
    std::fprintf(stderr, "srdx-perf %s: takes no options (see srdx-perf --help)\n", argv[1]);
    return kExitUsage;
  }
  OptionGroups g;
  po::positional_options_description pos;
  pos.add("role", 1);
  try {
    po::variables_map vm;
    try {
      po::store(po::command_line_parser(argc, argv).options(g.all).positional(pos).run(), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw UsageError{e.what()};
    }
    if (vm.count("help")) {
      std::cout << kUsage << "\n" << g.visible << "\n" << kExamples;
      return kExitOk;
    }
    const Options o = parse_options(vm);
    return run(o);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "srdx-perf: %s (see srdx-perf --help)\n", e.message.c_str());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srdx-perf: %s\n", e.what());
    return kExitFailed;
  }
}
