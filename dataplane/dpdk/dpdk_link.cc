#include "dpdk/dpdk_link.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "dpdk/eal.h"
#include "dpdk/neighbours.h"

namespace srdx::dp {
namespace {

constexpr uint32_t kMaxBurst = 256;
constexpr uint32_t kMempoolCache = 256;
constexpr uint32_t kControlMbufs = 512;  // ARP and ICMP replies in flight

std::runtime_error error(const std::string& device, const std::string& what, int err) {
  return std::runtime_error("dpdk link '" + device + "': " + what + ": " + rte_strerror(err));
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

size_t stat_index(frame::Verdict v) { return static_cast<size_t>(v); }

// Adds a counted verdict to the LinkStats field that names its reason.
void count(LinkStats& s, frame::Verdict v) {
  using frame::Verdict;
  switch (v) {
    case Verdict::datagram:
      break;
    case Verdict::arp_request:
      ++s.arp_requests;
      break;
    case Verdict::arp_reply:
      ++s.arp_replies;
      break;
    case Verdict::icmp_echo_request:
      ++s.icmp_echo;
      break;
    case Verdict::arp_other:
    case Verdict::not_for_us:
    case Verdict::wrong_dst_ip:
    case Verdict::wrong_dst_port:
      ++s.rx_not_for_us;
      break;
    case Verdict::unknown_ethertype:
      ++s.rx_unknown_ethertype;
      break;
    case Verdict::not_ipv4:
      ++s.rx_not_ip;
      break;
    case Verdict::not_udp:
      ++s.rx_not_udp;
      break;
    case Verdict::truncated:
    case Verdict::bad_ip_header:
      ++s.rx_truncated;
      break;
    case Verdict::bad_ip_checksum:
    case Verdict::bad_udp_checksum:
      ++s.rx_bad_checksum;
      break;
    case Verdict::ip_fragment:
      ++s.rx_fragments;
      break;
  }
}

frame::HwCheck hw_check(uint64_t flags, uint64_t mask, uint64_t good, uint64_t bad) {
  const uint64_t f = flags & mask;
  if (f == good) return frame::HwCheck::good;
  if (f == bad) return frame::HwCheck::bad;
  return frame::HwCheck::unknown;  // unknown or "none": verify in software
}

struct QueueState {
  LinkStats stats;
  std::array<uint64_t, frame::kVerdictCount> verdicts{};
};

class DpdkLinkImpl final : public DpdkLink {
 public:
  explicit DpdkLinkImpl(const LinkConfig& cfg) : cfg_(cfg), neighbours_(neighbour_config(cfg)) {}
  ~DpdkLinkImpl() override { close(); }
  DpdkLinkImpl(const DpdkLinkImpl&) = delete;
  DpdkLinkImpl& operator=(const DpdkLinkImpl&) = delete;

  void open();

  std::string_view kind() const override { return "dpdk"; }
  Addr local() const override { return cfg_.local; }
  size_t rx_burst(std::span<RxDatagram> out) override;
  std::span<uint8_t> tx_buffer() override;
  void tx_commit(size_t len, const TxPath& path) override;
  size_t tx_flush() override;
  LinkStats stats() const override;

  DpdkPortInfo port_info() const override { return info_; }
  DpdkPortCounters port_counters() const override;
  LinkStats queue_stats(uint16_t queue) const override {
    return queue < queues_.size() ? queues_[queue].stats : LinkStats{};
  }
  std::array<uint64_t, frame::kVerdictCount> verdicts() const override;
  bool knows_neighbour(uint32_t ip) const override { return neighbours_.lookup(ip) != nullptr; }

 private:
  static NeighbourConfig neighbour_config(const LinkConfig& cfg) {
    NeighbourConfig n;
    n.local_ip = cfg.local.ip;
    n.prefix_len = cfg.prefix_len;
    n.gateway = cfg.gateway;
    return n;
  }
  void resolve_port();
  void close();
  rte_mbuf* alloc_tx();
  // Queues a frame for the next tx_flush(); `payload_len` is 0 for ARP/ICMP.
  void push_tx(rte_mbuf* m, uint16_t payload_len);
  void send_arp_request(uint32_t ip);
  void handle_control(rte_mbuf* m, const frame::Parsed& p);

  LinkConfig cfg_;
  NeighbourTable neighbours_;
  DpdkPortInfo info_;
  rte_device* device_ = nullptr;  // set when the link probed it
  bool configured_ = false, started_ = false;
  rte_mempool* pool_ = nullptr;
  uint32_t burst_ = 32;
  size_t max_payload_ = 0;
  frame::UdpFrameSpec spec_;  // the per-link fields of every outgoing datagram
  bool tx_offload_ = false;
  uint64_t rx_cksum_offloads_ = 0;
  uint16_t ip_id_ = 0;
  uint16_t next_rx_queue_ = 0;

  std::vector<QueueState> queues_;
  std::vector<rte_mbuf*> rx_held_;  // datagrams handed out by the last rx_burst
  std::vector<rte_mbuf*> tx_;       // committed frames waiting for tx_flush
  std::vector<uint16_t> tx_payload_;
  std::vector<rte_mbuf*> stash_;  // pre-allocated TX mbufs
  rte_mbuf* staged_ = nullptr;    // handed out by tx_buffer, not committed yet
  // Headers for the last destination: datagrams come in runs to one peer.
  // Invalidated whenever the ARP table changes.
  uint32_t cached_dst_ = 0;
  frame::UdpHeaderTemplate header_;
  bool cache_valid_ = false;
};

void DpdkLinkImpl::resolve_port() {
  const std::string& dev = cfg_.device;
  if (dev.empty()) throw std::runtime_error("dpdk link: LinkConfig.device is empty");
  if (std::all_of(dev.begin(), dev.end(), [](char c) { return std::isdigit(c) != 0; })) {
    const unsigned long id = std::stoul(dev);
    if (id >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port(static_cast<uint16_t>(id))) {
      throw std::runtime_error("dpdk link: no port with id " + dev);
    }
    info_.port_id = static_cast<uint16_t>(id);
    return;
  }
  const std::string name = dev.substr(0, dev.find(','));
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) {
    info_.port_id = port;
    return;
  }
  const int rc = rte_dev_probe(dev.c_str());
  if (rc < 0) throw error(dev, "rte_dev_probe failed (is the PMD plugin installed?)", -rc);
  bool found = rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0;
  if (!found) {  // a PCI address written another way ("00:05.0")
    rte_dev_iterator it{};
    RTE_ETH_FOREACH_MATCHING_DEV(port, name.c_str(), &it) {
      found = true;
      rte_eth_iterator_cleanup(&it);
      break;
    }
  }
  if (!found) throw std::runtime_error("dpdk link '" + dev + "': probed, but no ethdev port");
  info_.port_id = port;
  rte_eth_dev_info di{};
  if (rte_eth_dev_info_get(port, &di) == 0) device_ = di.device;
  info_.owns_device = true;
}

void DpdkLinkImpl::open() {
  eal_init(cfg_.eal_args, cfg_.device);
  resolve_port();
  const uint16_t port = info_.port_id;
  const std::string& dev = cfg_.device;

  rte_eth_dev_info di{};
  int rc = rte_eth_dev_info_get(port, &di);
  if (rc != 0) throw error(dev, "rte_eth_dev_info_get", -rc);
  info_.driver = di.driver_name ? di.driver_name : "";
  const uint16_t max_q = std::min(di.max_rx_queues, di.max_tx_queues);
  const uint16_t nq = std::clamp<uint16_t>(cfg_.queues, 1, std::max<uint16_t>(max_q, 1));

  rte_eth_conf conf{};
  if (nq > 1 && di.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
  }
  const uint64_t tx_ck = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if ((di.tx_offload_capa & tx_ck) == tx_ck) {
    conf.txmode.offloads |= tx_ck;
    tx_offload_ = true;
  }
  const uint64_t rx_ck = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  if ((di.rx_offload_capa & rx_ck) == rx_ck) {
    conf.rxmode.offloads |= rx_ck;
    rx_cksum_offloads_ = rx_ck;
  }
  if (cfg_.mtu < 68 || cfg_.mtu > di.max_mtu || cfg_.mtu < di.min_mtu) {
    throw std::runtime_error("dpdk link '" + dev + "': mtu " + std::to_string(cfg_.mtu) +
                             " is outside the port's range " + std::to_string(di.min_mtu) + ".." +
                             std::to_string(di.max_mtu));
  }
  conf.rxmode.mtu = cfg_.mtu;
  rc = rte_eth_dev_configure(port, nq, nq, &conf);
  if (rc != 0) throw error(dev, "rte_eth_dev_configure", -rc);
  configured_ = true;

  uint16_t rxd = static_cast<uint16_t>(std::clamp<uint32_t>(cfg_.queue_depth, 64, 4096));
  uint16_t txd = rxd;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  if (rc != 0) throw error(dev, "rte_eth_dev_adjust_nb_rx_tx_desc", -rc);

  burst_ = std::clamp<uint32_t>(cfg_.burst, 1, kMaxBurst);
  // Every descriptor may hold an mbuf, plus a burst held by the transport, a
  // burst committed, a stash, the per-core caches and the control replies.
  const uint32_t nmbufs =
      nq * (uint32_t{rxd} + txd) + 4 * burst_ + kMempoolCache * 2 + kControlMbufs;
  const uint32_t frame_room = cfg_.mtu + frame::kEthLen + 4;  // + a VLAN tag's worth
  const auto data_room = static_cast<uint16_t>(
      std::max<uint32_t>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + frame_room));
  static std::atomic<unsigned> pool_seq{0};
  const std::string pool_name =
      "srdx_p" + std::to_string(port) + "_" + std::to_string(pool_seq.fetch_add(1));
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = SOCKET_ID_ANY;
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), nmbufs, kMempoolCache, 0, data_room, socket);
  if (pool_ == nullptr) {
    throw error(dev, "rte_pktmbuf_pool_create(" + std::to_string(nmbufs) + " mbufs)", rte_errno);
  }

  rte_eth_rxconf rxc = di.default_rxconf;
  rxc.offloads = conf.rxmode.offloads;
  rte_eth_txconf txc = di.default_txconf;
  txc.offloads = conf.txmode.offloads;
  for (uint16_t q = 0; q < nq; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, rxd, static_cast<unsigned>(socket), &rxc, pool_);
    if (rc != 0) throw error(dev, "rte_eth_rx_queue_setup(" + std::to_string(q) + ")", -rc);
    rc = rte_eth_tx_queue_setup(port, q, txd, static_cast<unsigned>(socket), &txc);
    if (rc != 0) throw error(dev, "rte_eth_tx_queue_setup(" + std::to_string(q) + ")", -rc);
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) throw error(dev, "rte_eth_dev_start", -rc);
  started_ = true;

  rte_ether_addr mac{};
  rc = rte_eth_macaddr_get(port, &mac);
  if (rc != 0) throw error(dev, "rte_eth_macaddr_get", -rc);
  std::memcpy(info_.mac.data(), mac.addr_bytes, 6);
  if (info_.mac == frame::Mac{}) {
    // Some PMDs (net_ring) have no address. Take a locally administered one
    // derived from our IP, 02:00:a:b:c:d, so that neighbours can tell us apart;
    // tell the port if it can be told.
    const uint32_t ip = cfg_.local.ip;
    info_.mac = {0x02,
                 0x00,
                 static_cast<uint8_t>(ip >> 24),
                 static_cast<uint8_t>(ip >> 16),
                 static_cast<uint8_t>(ip >> 8),
                 static_cast<uint8_t>(ip)};
    std::memcpy(mac.addr_bytes, info_.mac.data(), 6);
    (void)rte_eth_dev_default_mac_addr_set(port, &mac);
  }
  uint16_t mtu = 0;
  info_.mtu = rte_eth_dev_get_mtu(port, &mtu) == 0 ? mtu : cfg_.mtu;
  info_.rx_queues = info_.tx_queues = nq;
  info_.rx_desc = rxd;
  info_.tx_desc = txd;
  info_.tx_ip_checksum_offload = info_.tx_udp_checksum_offload = tx_offload_;
  info_.rx_checksum_offload = rx_cksum_offloads_ != 0;

  queues_.resize(nq);
  rx_held_.reserve(kMaxBurst);
  tx_.reserve(burst_);
  tx_payload_.reserve(burst_);
  stash_.reserve(burst_);
  max_payload_ = std::min<size_t>(cfg_.mtu - frame::kIpv4Len - frame::kUdpLen,
                                  data_room - RTE_PKTMBUF_HEADROOM - frame::kHeadersLen);
  spec_.src_mac = info_.mac;
  spec_.src_ip = cfg_.local.ip;
  spec_.ip_checksum = tx_offload_ ? frame::Checksum::offload : frame::Checksum::software;
  spec_.udp_checksum = spec_.ip_checksum;
  for (const auto& [ip, m] : cfg_.static_neighbours) neighbours_.add_static(ip, m);
}

void DpdkLinkImpl::close() {
  if (!rx_held_.empty()) rte_pktmbuf_free_bulk(rx_held_.data(), rx_held_.size());
  if (!tx_.empty()) rte_pktmbuf_free_bulk(tx_.data(), tx_.size());
  if (!stash_.empty()) rte_pktmbuf_free_bulk(stash_.data(), stash_.size());
  if (staged_ != nullptr) rte_pktmbuf_free(staged_);
  rx_held_.clear();
  tx_.clear();
  stash_.clear();
  staged_ = nullptr;
  if (started_) rte_eth_dev_stop(info_.port_id);
  if (configured_ || info_.owns_device) rte_eth_dev_close(info_.port_id);
  if (device_ != nullptr) rte_dev_remove(device_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
  started_ = configured_ = false;
  device_ = nullptr;
  pool_ = nullptr;
}

size_t DpdkLinkImpl::rx_burst(std::span<RxDatagram> out) {
  if (!rx_held_.empty()) {
    rte_pktmbuf_free_bulk(rx_held_.data(), rx_held_.size());
    rx_held_.clear();
  }
  const size_t want = std::min<size_t>(out.size(), burst_);
  if (want == 0) return 0;
  rte_mbuf* bufs[kMaxBurst];
  rte_mbuf* drop[kMaxBurst];
  size_t got = 0;
  bool replied = false;
  frame::ParseContext ctx;
  ctx.local_mac = info_.mac;
  ctx.local_ip = cfg_.local.ip;
  ctx.local_port = cfg_.local.port;
  // Poll every RX queue, starting where the last call stopped, until `out` is full.
  const auto nq = static_cast<uint16_t>(queues_.size());
  for (uint16_t i = 0; i < nq && got < want; ++i) {
    const uint16_t q = next_rx_queue_;
    next_rx_queue_ = static_cast<uint16_t>((next_rx_queue_ + 1) % nq);
    QueueState& qs = queues_[q];
    const uint16_t n = rte_eth_rx_burst(info_.port_id, q, bufs, static_cast<uint16_t>(want - got));
    size_t ndrop = 0;
    for (uint16_t j = 0; j < n; ++j) {
      rte_mbuf* m = bufs[j];
      if (j + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(bufs[j + 1], void*));
      frame::Parsed p;
      if (m->nb_segs != 1) {
        p.verdict = frame::Verdict::truncated;  // chained mbufs: larger than the MTU
      } else {
        if (rx_cksum_offloads_ != 0) {
          ctx.ip_checksum = hw_check(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK,
                                     RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD);
          ctx.l4_checksum = hw_check(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK,
                                     RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD);
        }
        p = frame::parse({rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, ctx);
      }
      ++qs.verdicts[stat_index(p.verdict)];
      if (p.verdict == frame::Verdict::datagram) {
        out[got++] = RxDatagram{
            {rte_pktmbuf_mtod_offset(m, const uint8_t*, p.payload_offset), p.payload_len},
            Addr{p.src_ip, p.src_port}};
        ++qs.stats.rx_packets;
        qs.stats.rx_bytes += p.payload_len;
        rx_held_.push_back(m);
        continue;
      }
      count(qs.stats, p.verdict);
      if (p.verdict == frame::Verdict::arp_request || p.verdict == frame::Verdict::arp_reply ||
          p.verdict == frame::Verdict::arp_other ||
          p.verdict == frame::Verdict::icmp_echo_request) {
        handle_control(m, p);
        replied = true;
      }
      drop[ndrop++] = m;
    }
    if (ndrop != 0) rte_pktmbuf_free_bulk(drop, static_cast<unsigned>(ndrop));
  }
  if (replied) tx_flush();
  return got;
}

void DpdkLinkImpl::handle_control(rte_mbuf* m, const frame::Parsed& p) {
  using frame::Verdict;
  if (p.verdict == Verdict::arp_request || p.verdict == Verdict::arp_reply ||
      p.verdict == Verdict::arp_other) {
    neighbours_.learn(p.src_ip, p.arp_sender_mac, p.verdict == Verdict::arp_other);
    cache_valid_ = false;
  }
  if (p.verdict != Verdict::arp_request && p.verdict != Verdict::icmp_echo_request) return;
  rte_mbuf* r = rte_pktmbuf_alloc(pool_);
  if (r == nullptr) {
    ++queues_[0].stats.tx_no_buffer;
    return;
  }
  const std::span<uint8_t> room{rte_pktmbuf_mtod(r, uint8_t*), rte_pktmbuf_tailroom(r)};
  size_t len = 0;
  if (p.verdict == Verdict::arp_request) {
    len = frame::build_arp_reply(room, p, info_.mac, cfg_.local.ip);
  } else {
    len = frame::build_icmp_echo_reply(room, {rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, p,
                                       info_.mac);
  }
  if (len == 0) {
    rte_pktmbuf_free(r);
    return;
  }
  r->data_len = static_cast<uint16_t>(len);
  r->pkt_len = static_cast<uint32_t>(len);
  push_tx(r, 0);
}

rte_mbuf* DpdkLinkImpl::alloc_tx() {
  if (stash_.empty()) {
    stash_.resize(burst_);
    if (rte_pktmbuf_alloc_bulk(pool_, stash_.data(), burst_) != 0) {
      stash_.clear();
      return rte_pktmbuf_alloc(pool_);  // the pool is nearly empty: one at a time
    }
  }
  rte_mbuf* m = stash_.back();
  stash_.pop_back();
  return m;
}

std::span<uint8_t> DpdkLinkImpl::tx_buffer() {
  if (staged_ == nullptr) {
    staged_ = alloc_tx();
    if (staged_ == nullptr) {
      ++queues_[0].stats.tx_no_buffer;
      return {};
    }
  }
  return {rte_pktmbuf_mtod_offset(staged_, uint8_t*, frame::kHeadersLen), max_payload_};
}

void DpdkLinkImpl::push_tx(rte_mbuf* m, uint16_t payload_len) {
  if (tx_.size() == burst_) tx_flush();  // flush when a burst is full, as l2fwd does
  tx_.push_back(m);
  tx_payload_.push_back(payload_len);
}

void DpdkLinkImpl::send_arp_request(uint32_t ip) {
  rte_mbuf* r = rte_pktmbuf_alloc(pool_);
  if (r == nullptr) return;
  const size_t len = frame::build_arp_request(
      {rte_pktmbuf_mtod(r, uint8_t*), rte_pktmbuf_tailroom(r)}, info_.mac, cfg_.local.ip, ip);
  r->data_len = static_cast<uint16_t>(len);
  r->pkt_len = static_cast<uint32_t>(len);
  push_tx(r, 0);
}

void DpdkLinkImpl::tx_commit(size_t len, const TxPath& path) {
  QueueState& qs = queues_[0];
  if (staged_ == nullptr || len == 0 || len > max_payload_) {
    ++qs.stats.tx_dropped;  // nothing staged, or more than tx_buffer() offered
    return;
  }
  if (!cache_valid_ || cached_dst_ != path.remote.ip) {
    const uint32_t hop = neighbours_.next_hop(path.remote.ip);
    const frame::Mac* mac = neighbours_.lookup(hop);
    if (mac == nullptr) {
      // The staged mbuf stays for the next tx_buffer(); the transport retransmits.
      ++qs.stats.tx_no_neighbour;
      if (neighbours_.should_request(hop, now_ns())) send_arp_request(hop);
      return;
    }
    frame::UdpFrameSpec spec = spec_;
    spec.dst_mac = *mac;
    spec.dst_ip = path.remote.ip;
    header_ = frame::UdpHeaderTemplate(spec);
    cached_dst_ = path.remote.ip;
    cache_valid_ = true;
  }
  rte_mbuf* m = staged_;
  const size_t flen =
      header_.write({rte_pktmbuf_mtod(m, uint8_t*), frame::kHeadersLen + len}, len,
                    cfg_.entropy.port_for(path.entropy), path.remote.port, ip_id_++);
  m->data_len = static_cast<uint16_t>(flen);
  m->pkt_len = static_cast<uint32_t>(flen);
  if (tx_offload_) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
    m->l2_len = frame::kEthLen;
    m->l3_len = frame::kIpv4Len;
  }
  staged_ = nullptr;
  push_tx(m, static_cast<uint16_t>(len));
}

size_t DpdkLinkImpl::tx_flush() {
  if (tx_.empty()) return 0;
  QueueState& qs = queues_[0];
  const auto n = static_cast<uint16_t>(tx_.size());
  const uint16_t sent = rte_eth_tx_burst(info_.port_id, 0, tx_.data(), n);
  for (uint16_t i = 0; i < sent; ++i) {
    if (tx_payload_[i] != 0) {
      ++qs.stats.tx_packets;
      qs.stats.tx_bytes += tx_payload_[i];
    }
  }
  if (sent < n) {  // never spin on a full ring: free and count the rest
    rte_pktmbuf_free_bulk(tx_.data() + sent, n - sent);
    qs.stats.tx_dropped += n - sent;
  }
  tx_.clear();
  tx_payload_.clear();
  return sent;
}

LinkStats DpdkLinkImpl::stats() const {
  LinkStats t;
  for (const QueueState& q : queues_) {
    const LinkStats& s = q.stats;
    t.rx_packets += s.rx_packets;
    t.rx_bytes += s.rx_bytes;
    t.tx_packets += s.tx_packets;
    t.tx_bytes += s.tx_bytes;
    t.tx_dropped += s.tx_dropped;
    t.tx_no_buffer += s.tx_no_buffer;
    t.rx_dropped += s.rx_dropped;
    t.rx_not_ip += s.rx_not_ip;
    t.rx_not_udp += s.rx_not_udp;
    t.rx_not_for_us += s.rx_not_for_us;
    t.rx_bad_checksum += s.rx_bad_checksum;
    t.rx_truncated += s.rx_truncated;
    t.rx_fragments += s.rx_fragments;
    t.rx_unknown_ethertype += s.rx_unknown_ethertype;
    t.arp_requests += s.arp_requests;
    t.arp_replies += s.arp_replies;
    t.icmp_echo += s.icmp_echo;
    t.tx_no_neighbour += s.tx_no_neighbour;
  }
  const DpdkPortCounters pc = port_counters();
  t.rx_dropped += pc.imissed + pc.ierrors + pc.rx_nombuf;
  return t;
}

DpdkPortCounters DpdkLinkImpl::port_counters() const {
  DpdkPortCounters c;
  rte_eth_stats s{};
  if (started_ && rte_eth_stats_get(info_.port_id, &s) == 0) {
    c.ipackets = s.ipackets;
    c.opackets = s.opackets;
    c.ibytes = s.ibytes;
    c.obytes = s.obytes;
    c.imissed = s.imissed;
    c.ierrors = s.ierrors;
    c.oerrors = s.oerrors;
    c.rx_nombuf = s.rx_nombuf;
  }
  return c;
}

std::array<uint64_t, frame::kVerdictCount> DpdkLinkImpl::verdicts() const {
  std::array<uint64_t, frame::kVerdictCount> t{};
  for (const QueueState& q : queues_) {
    for (size_t i = 0; i < t.size(); ++i) t[i] += q.verdicts[i];
  }
  return t;
}

}  // namespace

std::unique_ptr<Link> make_dpdk_link(const LinkConfig& cfg) {
  auto link = std::make_unique<DpdkLinkImpl>(cfg);
  link->open();  // throws; the destructor undoes what was done
  return link;
}

}  // namespace srdx::dp
