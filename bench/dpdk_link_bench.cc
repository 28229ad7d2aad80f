// srdx-dpdk-bench: the dpdk link's packet rate, one core, the way the poll
// loop drives it (tx_buffer / write the payload / tx_commit per packet,
// tx_flush per burst; rx_burst). Prints one JSON line per run, for
// scripts/bench-dpdk to set beside dpdk-testpmd on the same vdev.
//
//   srdx-dpdk-bench --mode tx   --device net_null0            # TX burst
//   srdx-dpdk-bench --mode rx   --device net_null0,size=106   # RX: parse, deliver, free
//   srdx-dpdk-bench --mode io   --device net_null0,size=106   # RX, parse, echo each back
//   srdx-dpdk-bench --mode loop --device net_ring0            # TX to itself, RX the datagrams
//   srdx-dpdk-bench --mode tx --device net_af_xdp0,iface=veth0 --remote-mac M  # a veth
//
// rx and io on net_null: net_null "receives" mbufs fresh from the RX queue's
// pool without writing them (unless copy=1), so a frame is whatever its mbuf
// last held. The bench therefore plays the far side: it probes the port
// itself, gives it a fixed MAC, and writes a 64-byte-payload srdx datagram
// addressed to the link into every mbuf of the link's pool before it starts.
// Every frame the link then receives is a real datagram for it, parsed and
// checked in full. In io mode each datagram is echoed to its source (payload
// copied into a new TX buffer, headers from the link), and that source is the
// link itself (its own IP, UDP port and MAC; entropy ports collapsed to its
// port), so the mbufs net_null recycles stay datagrams for the link.
//
// Options: --seconds S (3), --payload BYTES (64), --burst N (32),
// --eal "ARGS" (extra EAL arguments, split on spaces), --local IP, --remote IP.
#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "dpdk/dpdk_link.h"
#include "dpdk/eal.h"

namespace {

using namespace srdx;
using namespace srdx::dp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "tx";
  std::string device = "net_null0";
  double seconds = 3;
  size_t payload = 64;
  uint32_t burst = 32;
  std::vector<std::string> eal;
  uint32_t local = 0xc6120001;   // 198.18.0.1
  uint32_t remote = 0xc6120002;  // 198.18.0.2
  frame::Mac remote_mac = {0x02, 0, 0, 0, 0, 0x02};
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "srdx-dpdk-bench: %s\n"
               "usage: srdx-dpdk-bench [--mode tx|rx|io|loop] [--device SPEC] [--seconds S]\n"
               "       [--payload BYTES] [--burst N] [--eal \"EAL ARGS\"] [--local IP]\n"
               "       [--remote IP] [--remote-mac MAC]\n",
               why.c_str());
  std::exit(2);
}

uint32_t parse_ip(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) usage("not an IPv4 address: " + s);
  return ntohl(a.s_addr);
}

frame::Mac parse_mac(const std::string& s) {
  frame::Mac m{};
  unsigned b[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    usage("not a MAC address: " + s);
  }
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(b[i]);
  return m;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      o.mode = value();
      if (o.mode != "tx" && o.mode != "rx" && o.mode != "io" && o.mode != "loop") {
        usage("unknown mode " + o.mode);
      }
    } else if (a == "--device") {
      o.device = value();
    } else if (a == "--seconds") {
      o.seconds = std::atof(value().c_str());
    } else if (a == "--payload") {
      o.payload = std::strtoul(value().c_str(), nullptr, 10);
    } else if (a == "--burst") {
      o.burst = static_cast<uint32_t>(std::strtoul(value().c_str(), nullptr, 10));
    } else if (a == "--eal") {
      std::istringstream in(value());
      for (std::string w; in >> w;) o.eal.push_back(w);
    } else if (a == "--local") {
      o.local = parse_ip(value());
    } else if (a == "--remote") {
      o.remote = parse_ip(value());
    } else if (a == "--remote-mac") {
      o.remote_mac = parse_mac(value());
    } else if (a == "-h" || a == "--help") {
      usage("help");
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.seconds <= 0 || o.burst == 0 || o.burst > 256) usage("bad --seconds or --burst");
  return o;
}

// Queues up to `n` datagrams of `payload` bytes; returns how many were queued.
size_t fill(Link& link, size_t n, size_t payload, Addr to, uint16_t& entropy) {
  static uint8_t pattern[9000];
  size_t k = 0;
  for (; k < n; ++k) {
    std::span<uint8_t> buf = link.tx_buffer();
    if (buf.size() < payload) break;
    std::memcpy(buf.data(), pattern, payload);  // what poll_transmit's encoder writes
    link.tx_commit(payload, TxPath{to, entropy++, 0});
  }
  return k;
}

constexpr frame::Mac kLinkMac = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x01};

// Probes `device` (a vdev spec) before the link and gives it kLinkMac.
// Returns the port name the link should take, or empty when it cannot.
std::string preprobe(const Options& o) {
  try {
    eal_init(o.eal, o.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srdx-dpdk-bench: %s\n", e.what());
    return {};
  }
  const std::string name = o.device.substr(0, o.device.find(','));
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
    if (rte_dev_probe(o.device.c_str()) != 0 ||
        rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
      return {};
    }
  }
  rte_ether_addr mac{};
  std::memcpy(mac.addr_bytes, kLinkMac.data(), 6);
  if (rte_eth_dev_default_mac_addr_set(port, &mac) != 0) return {};
  return name;
}

struct Prefill {
  std::vector<uint8_t> frame;
  unsigned mbufs = 0;
};

// Writes `frame` at the data offset of every mbuf of the srdx link's pool.
void prefill_pool(Prefill& p) {
  rte_mempool_walk(
      [](rte_mempool* mp, void* arg) {
        if (std::strncmp(mp->name, "srdx_p", 6) != 0) return;
        rte_mempool_obj_iter(
            mp,
            [](rte_mempool*, void* a, void* obj, unsigned) {
              auto* pf = static_cast<Prefill*>(a);
              auto* m = static_cast<rte_mbuf*>(obj);
              std::memcpy(static_cast<uint8_t*>(m->buf_addr) + RTE_PKTMBUF_HEADROOM,
                          pf->frame.data(), pf->frame.size());
              ++pf->mbufs;
            },
            arg);
      },
      &p);
}

// Echoes each received datagram to its source; returns how many went out.
size_t echo(Link& link, std::span<const RxDatagram> rx, uint16_t& entropy) {
  size_t k = 0;
  for (const RxDatagram& d : rx) {
    std::span<uint8_t> buf = link.tx_buffer();
    if (buf.size() < d.payload.size()) break;
    std::memcpy(buf.data(), d.payload.data(), d.payload.size());
    link.tx_commit(d.payload.size(), TxPath{d.src, entropy++, 0});
    ++k;
  }
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  LinkConfig cfg;
  cfg.kind = "dpdk";
  cfg.device = o.device;
  cfg.eal_args = o.eal;
  cfg.burst = o.burst;
  cfg.local = Addr{o.local, 4791};
  Addr to{o.remote, 4791};
  // rx and io on net_null: see the top of the file.
  const bool far_side = (o.mode == "rx" || o.mode == "io") && o.device.rfind("net_null", 0) == 0;
  if (far_side) {
    cfg.device = preprobe(o);
    if (cfg.device.empty()) {
      std::fprintf(stderr, "srdx-dpdk-bench: cannot probe %s or set its MAC\n", o.device.c_str());
      return 1;
    }
  }
  if (far_side && o.mode == "io") {
    cfg.static_neighbours = {{o.local, kLinkMac}};
    cfg.entropy.first_port = 4791;
    cfg.entropy.port_count = 1;
  } else if (o.mode == "loop") {
    to.ip = o.local;  // net_ring0 hands our frames back to us
    cfg.static_neighbours = {
        {o.local,
         {0x02, 0x00, static_cast<uint8_t>(o.local >> 24), static_cast<uint8_t>(o.local >> 16),
          static_cast<uint8_t>(o.local >> 8), static_cast<uint8_t>(o.local)}}};
  } else {
    cfg.static_neighbours = {{o.remote, o.remote_mac}};
  }
  std::unique_ptr<Link> link;
  try {
    link = make_dpdk_link(cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srdx-dpdk-bench: %s\n", e.what());
    return 1;
  }
  DpdkLink& dl = *as_dpdk(link.get());
  if (o.mode == "loop" && dl.port_info().mac != cfg.static_neighbours[0].second) {
    // The port has a MAC of its own: talk to that.
    std::fprintf(stderr, "srdx-dpdk-bench: loop mode needs a port without a MAC (net_ring)\n");
    return 1;
  }

  if (far_side) {
    Prefill pf;
    pf.frame.resize(frame::kHeadersLen + o.payload);
    for (size_t i = 0; i < o.payload; ++i)
      pf.frame[frame::kHeadersLen + i] = static_cast<uint8_t>(i);
    frame::UdpFrameSpec spec;
    spec.dst_mac = kLinkMac;
    spec.dst_ip = o.local;
    spec.dst_port = 4791;
    if (o.mode == "io") {  // from the link itself: echoes go back to it
      spec.src_mac = kLinkMac;
      spec.src_ip = o.local;
      spec.src_port = 4791;
    } else {
      spec.src_mac = o.remote_mac;
      spec.src_ip = o.remote;
      spec.src_port = 49152;
    }
    // What a peer without checksum offload sends (the link's own policy).
    spec.udp_checksum = frame::Checksum::none;
    frame::build_udp(pf.frame, o.payload, spec);
    prefill_pool(pf);
    if (pf.mbufs == 0) {
      std::fprintf(stderr, "srdx-dpdk-bench: no srdx mempool found to prefill\n");
      return 1;
    }
  }

  std::vector<RxDatagram> rx(o.burst);
  uint16_t entropy = 0;
  uint64_t rx_frames = 0, delivered = 0, iterations = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.seconds);
  auto now = start;
  const int mode = o.mode == "tx" ? 0 : o.mode == "rx" ? 1 : o.mode == "io" ? 2 : 3;
  while (now < deadline) {
    for (int i = 0; i < 64; ++i) {  // read the clock once per 64 bursts
      if (mode == 0) {
        fill(*link, o.burst, o.payload, to, entropy);
        link->tx_flush();
      } else if (mode == 1) {
        delivered += link->rx_burst(rx);
      } else if (mode == 2) {
        const size_t n = link->rx_burst(rx);
        delivered += n;
        if (far_side) {
          echo(*link, std::span<const RxDatagram>(rx).first(n), entropy);
        } else {
          fill(*link, o.burst, o.payload, to, entropy);
        }
        link->tx_flush();
      } else {  // loop
        fill(*link, o.burst, o.payload, to, entropy);
        link->tx_flush();
        delivered += link->rx_burst(rx);
      }
    }
    iterations += 64;
    now = Clock::now();
  }
  const double secs = std::chrono::duration<double>(now - start).count();
  const LinkStats s = link->stats();
  for (uint64_t v : dl.verdicts()) rx_frames += v;
  const DpdkPortInfo info = dl.port_info();
  const double tx_pps = static_cast<double>(s.tx_packets) / secs;
  const double rx_pps = static_cast<double>(rx_frames) / secs;
  const double delivered_pps = static_cast<double>(delivered) / secs;
  std::printf(
      "{\"bench\":\"srdx-dpdk\",\"mode\":\"%s\",\"device\":\"%s\",\"driver\":\"%s\","
      "\"payload\":%zu,\"burst\":%u,\"seconds\":%.3f,\"tx_packets\":%llu,\"tx_pps\":%.0f,"
      "\"rx_frames\":%llu,\"rx_pps\":%.0f,\"delivered\":%llu,\"delivered_pps\":%.0f,"
      "\"tx_dropped\":%llu,\"tx_no_buffer\":%llu,\"tx_checksum_offload\":%s}\n",
      o.mode.c_str(), o.device.c_str(), info.driver.c_str(), o.payload, o.burst, secs,
      static_cast<unsigned long long>(s.tx_packets), tx_pps,
      static_cast<unsigned long long>(rx_frames), rx_pps,
      static_cast<unsigned long long>(delivered), delivered_pps,
      static_cast<unsigned long long>(s.tx_dropped),
      static_cast<unsigned long long>(s.tx_no_buffer),
      info.tx_udp_checksum_offload ? "true" : "false");
  (void)iterations;
  return 0;
}
