#include "dpdk/dpdk_link.h"

#include <dirent.h>
#include <net/if.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_epoll.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dpdk/eal.h"
#include "dpdk/neighbours.h"
#include "dpdk/pool.h"

namespace srdx::dp {
namespace {

constexpr uint32_t kMaxBurst = 256;
constexpr uint32_t kMempoolCache = 256;
constexpr uint32_t kControlMbufs = 512;  // ARP and ICMP replies in flight
// Port events and link state: the poll loop looks at the clock for them once
// every kServiceEvery rx_bursts (or at once when a callback set a flag); the
// link state is read every kLinkCheckNs, a failed restart is retried as
// often, and the extended statistics are read at most every kXstatsEveryNs.
constexpr uint32_t kServiceEvery = 1024;
constexpr uint64_t kLinkCheckNs = 100'000'000;
constexpr uint64_t kXstatsEveryNs = 1'000'000'000;

constexpr uint32_t kEventLink = 1, kEventReset = 2, kEventRemoval = 4;
constexpr rte_eth_event_type kPortEvents[] = {RTE_ETH_EVENT_INTR_LSC, RTE_ETH_EVENT_INTR_RESET,
                                              RTE_ETH_EVENT_INTR_RMV};

// Set by on_port_event() on DPDK's interrupt thread, taken by the poll loop.
struct PortEventFlags {
  std::atomic<uint32_t> pending{0};
  std::atomic<uint64_t> lsc{0}, reset{0}, removal{0};
};

// This process's AF_XDP sockets, by descriptor (defined below).
std::vector<int> af_xdp_sockets();

// The callback DPDK calls for kPortEvents: counts and flags, nothing more
// (it runs on the interrupt thread, beside the poll loop).
int on_port_event(uint16_t, rte_eth_event_type type, void* arg, void*) {
  auto* f = static_cast<PortEventFlags*>(arg);
  switch (type) {
    case RTE_ETH_EVENT_INTR_LSC:
      f->lsc.fetch_add(1);
      f->pending.fetch_or(kEventLink);
      break;
    case RTE_ETH_EVENT_INTR_RESET:
      f->reset.fetch_add(1);
      f->pending.fetch_or(kEventReset);
      break;
    case RTE_ETH_EVENT_INTR_RMV:
      f->removal.fetch_add(1);
      f->pending.fetch_or(kEventRemoval);
      break;
    default:
      break;
  }
  return 0;
}

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

// What the device says of a checksum. "None" (the checksum field is not valid
// but the data's integrity was verified: virtio and others deliver locally
// generated packets so) counts as good; "unknown" is verified in software.
frame::HwCheck hw_check(uint64_t flags, uint64_t mask, uint64_t good, uint64_t bad, uint64_t none) {
  const uint64_t f = flags & mask;
  if (f == good || f == none) return frame::HwCheck::good;
  if (f == bad) return frame::HwCheck::bad;
  return frame::HwCheck::unknown;
}

// Frees single-segment mbufs, most of them from `pool`, the way
// rte_pktmbuf_free_bulk() does but inline and with one bulk put.
void free_segments(rte_mbuf* const* ms, uint32_t n, rte_mempool* pool) {
  void* put[kMaxBurst];
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = rte_pktmbuf_prefree_seg(ms[i]);
    if (m == nullptr) continue;  // still referenced elsewhere
    if (m->pool == pool) [[likely]] {
      put[k++] = m;
    } else {
      rte_mempool_put(m->pool, m);
    }
  }
  if (k != 0) rte_mempool_put_bulk(pool, put, k);
}

// The link's counters for one queue number (its RX queue, its TX queue).
struct QueueState {
  LinkStats stats;
  std::array<uint64_t, frame::kVerdictCount> verdicts{};
  uint64_t tx_partial_bursts = 0;  // tx_bursts the device took only part of
};

// Frames committed to one TX queue, waiting for tx_flush().
struct TxQueue {
  std::array<rte_mbuf*, kMaxBurst> mbufs{};
  std::array<uint16_t, kMaxBurst> payload{};  // payload bytes; 0 for ARP/ICMP
  uint32_t n = 0;
  uint64_t pending_bytes = 0;    // payload bytes in mbufs
  uint32_t pending_control = 0;  // ARP/ICMP frames in mbufs
};

class DpdkLinkImpl final : public DpdkLink {
 public:
  explicit DpdkLinkImpl(const LinkConfig& cfg) : cfg_(cfg), neighbours_(neighbour_config(cfg)) {}
  ~DpdkLinkImpl() override { close(); }
  DpdkLinkImpl(const DpdkLinkImpl&) = delete;
  DpdkLinkImpl& operator=(const DpdkLinkImpl&) = delete;

  void open();

  std::string_view kind() const override { return "dpdk"; }
  std::vector<std::pair<std::string_view, uint64_t>> backend_counters() const override;
  Addr local() const override { return cfg_.local; }
  size_t rx_burst(std::span<RxDatagram> out) override;
  std::span<uint8_t> tx_buffer() override;
  void tx_commit(size_t len, const TxPath& path) override;
  size_t tx_flush() override;
  LinkStats stats() const override;
  int wait_fd() const override { return rx_intr_ ? epfd_ : -1; }
  bool wait_needs_arming() const override { return rx_intr_; }
  bool arm_wait() override;
  void disarm_wait() override;

  DpdkPortInfo port_info() const override { return info_; }
  DpdkPortCounters port_counters() const override;
  LinkStats queue_stats(uint16_t queue) const override {
    return queue < queues_.size() ? queues_[queue].stats : LinkStats{};
  }
  std::array<uint64_t, frame::kVerdictCount> verdicts() const override;
  bool knows_neighbour(uint32_t ip) const override { return neighbours_.lookup(ip) != nullptr; }
  DpdkPortHealth port_health() const override { return health_; }
  std::vector<std::pair<std::string, uint64_t>> port_xstats() const override;
  void raise_port_event(PortEvent e) override;

 private:
  static NeighbourConfig neighbour_config(const LinkConfig& cfg) {
    NeighbourConfig n;
    n.local_ip = cfg.local.ip;
    n.prefix_len = cfg.prefix_len;
    n.gateway = cfg.gateway;
    return n;
  }
  void resolve_port();
  void choose_queues(const rte_eth_dev_info& di, rte_eth_conf& conf);
  void name_counters();
  void start_port();
  void close();
  // Rx interrupts (see dpdk_link.h, Idle): each RX queue's event fd into
  // epfd_ after a start, out again before a stop.
  void attach_rx_interrupts();
  void detach_rx_interrupts();
  // net_af_xdp: the AF_XDP sockets its start made (`before`: those there
  // already), into epfd_ level-triggered. See Idle in dpdk_link.h.
  void attach_xsk_sockets(const std::vector<int>& before);
  // Port events, in the poll loop (rx_burst): see dpdk_link.h.
  [[gnu::cold]] void service_port();
  void check_link();
  void restart_port();
  void on_removal();
  void drop_pending_tx();
  // Names and ids of the port's xstats (after every start); values, read
  // into xstat_values_ at most every kXstatsEveryNs (or `now`).
  void resolve_xstats();
  void read_xstats(bool now) const;
  bool refill_stash();
  // The TX queue of a datagram leaving from UDP source port `sport`: every
  // datagram of one path (one source port) takes the same queue, so a path's
  // packets stay in order.
  uint16_t tx_queue_for(uint16_t sport) const {
    if (n_txq_ == 1) [[likely]]
      return 0;
    return txq_pow2_ ? static_cast<uint16_t>(sport & (n_txq_ - 1))
                     : static_cast<uint16_t>(sport % n_txq_);
  }
  // Queues a frame on TX queue `q` for the next tx_flush(); `payload_len` is
  // 0 for ARP/ICMP.
  void push_tx(uint16_t q, rte_mbuf* m, uint16_t payload_len) {
    TxQueue& t = txq_[q];
    if (t.n == burst_) [[unlikely]]
      flush_queue(q);  // a full burst goes, as l2fwd does
    t.mbufs[t.n] = m;
    t.payload[t.n++] = payload_len;
    t.pending_bytes += payload_len;
    if (payload_len == 0) ++t.pending_control;
  }
  // Hands TX queue `q`'s pending frames to the device; returns how many went.
  uint16_t flush_queue(uint16_t q);
  [[gnu::cold]] void send_arp_request(uint32_t ip);
  void handle_control(rte_mbuf* m, const frame::Parsed& p);
  // Everything but the common case of the RX loop: full parse, counting,
  // ARP/ICMP. Returns true when `m` is a datagram after all (then `d` is set);
  // otherwise `m` is the caller's to free.
  [[gnu::noinline]] bool rx_slow(QueueState& qs, rte_mbuf* m, frame::ParseContext ctx,
                                 frame::HwCheck ip_ck, frame::HwCheck l4_ck, frame::DatagramRef& d,
                                 bool& replied);

  // Headers per destination IP, a small direct-mapped cache; a slot is valid
  // while its generation is the current one (bumped whenever ARP may have
  // changed a MAC).
  struct HeaderSlot {
    uint32_t dst = 0;
    uint32_t generation = 0;  // 0: never filled
    frame::UdpHeaderTemplate header;
  };
  static constexpr size_t kHeaderSlots = 16;
  const frame::UdpHeaderTemplate* header_for(uint32_t dst) {
    HeaderSlot& s = headers_[(dst * 0x9e3779b1u) >> 28];
    static_assert(kHeaderSlots == 16);
    if (s.generation == header_generation_ && s.dst == dst) [[likely]]
      return &s.header;
    return fill_header(s, dst);
  }
  [[gnu::noinline]] const frame::UdpHeaderTemplate* fill_header(HeaderSlot& slot, uint32_t dst);
  uint16_t source_port(uint16_t entropy) const {
    if (entropy_pow2_) [[likely]] {
      return static_cast<uint16_t>(cfg_.entropy.first_port + (entropy & entropy_mask_));
    }
    return cfg_.entropy.port_for(entropy);
  }

  LinkConfig cfg_;
  NeighbourTable neighbours_;
  DpdkPortInfo info_;
  rte_device* device_ = nullptr;  // set when the link probed it
  bool configured_ = false, started_ = false;
  rte_mempool* pool_ = nullptr;
  uint32_t burst_ = 32;
  size_t max_payload_ = 0;
  frame::UdpFrameSpec spec_;  // the per-link fields of every outgoing datagram
  uint64_t tx_ol_flags_ = 0;  // mbuf flags asking the device for checksums
  uint64_t tx_offload_ = 0;   // mbuf tx_offload word: l2_len, l3_len when offloading
  uint64_t rx_cksum_offloads_ = 0;
  uint16_t ip_id_ = 0;
  uint16_t n_rxq_ = 1, n_txq_ = 1;  // queues in use (what the port allows of cfg.queues)
  bool txq_pow2_ = true;            // n_txq_ is a power of two: a mask picks the queue
  uint16_t next_rx_queue_ = 0;      // where the next rx_burst starts polling
  uint16_t entropy_mask_ = 0;       // port_count - 1 when that is a power of two
  bool entropy_pow2_ = false;
  // Prefetch received frames ahead of parsing them: on a bus device (PCI),
  // yes. Not on virtual devices (net_null, net_ring, net_af_xdp, ...): their
  // frames were written by a CPU moments before (or, on net_null, never) and
  // are already in cache, and there a prefetch per packet measured ~8% slower.
  bool prefetch_ = true;

  std::vector<QueueState> queues_;          // max(n_rxq_, n_txq_), indexed by queue number
  std::vector<TxQueue> txq_;                // n_txq_; sized once in open(), no growth later
  std::vector<std::string> counter_names_;  // backend_counters()' names, built in open()
  // Fixed arrays, no growth on the fast path.
  std::array<rte_mbuf*, kMaxBurst> rx_held_{};  // datagrams handed out by the last rx_burst
  uint32_t n_held_ = 0;
  std::array<rte_mbuf*, kMaxBurst> stash_{};  // pre-allocated TX mbufs, used from the top
  uint32_t n_stash_ = 0;
  rte_mbuf* staged_ = nullptr;  // handed out by tx_buffer, not committed yet
  std::array<HeaderSlot, kHeaderSlots> headers_{};
  uint32_t header_generation_ = 1;

  // Port events (see dpdk_link.h). The flags live on the heap: DPDK holds
  // their address until the callbacks are unregistered.
  std::unique_ptr<PortEventFlags> events_ = std::make_unique<PortEventFlags>();
  bool callbacks_registered_ = false;
  rte_eth_conf conf_{};  // what the port was configured with, again after a reset
  uint16_t data_room_ = 0;
  DpdkPortHealth health_;
  uint32_t service_countdown_ = kServiceEvery;
  uint64_t next_check_ns_ = 0;
  bool restart_pending_ = false;
  std::string kernel_ifname_;  // the kernel interface under the port, if any
  int ifr_fd_ = -1;            // a socket for its SIOCGIFFLAGS
  std::vector<uint64_t> xstat_ids_;
  std::vector<std::string> xstat_names_;          // DPDK's names
  std::vector<std::string> xstat_counter_names_;  // backend_counters()' names for them
  mutable std::vector<uint64_t> xstat_values_;
  mutable uint64_t xstats_read_ns_ = 0;

  // Idle on Rx interrupts: an epoll fd holding every RX queue's event fd
  // (wait_fd()), made once and kept for the link's life; rx_intr_ while the
  // queues are in it.
  int epfd_ = -1;
  bool rx_intr_ = false;
  bool rx_intr_enable_ = false;  // the PMD arms per queue (rte_eth_dev_rx_intr_enable)
  bool rx_intr_armed_ = false;
  uint64_t rx_intr_arms_ = 0;
  std::vector<int> xsk_fds_;  // net_af_xdp: its sockets, in epfd_ instead of interrupt fds
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
  const int rc = rte_dev_probe(probe_spec(dev).c_str());
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

// How many RX and TX queues: cfg.queues, each clamped to what the port has
// (logged when it is less). With more than one RX queue, RSS over IP and UDP
// spreads received flows when the port offers it (logged either way).
void DpdkLinkImpl::choose_queues(const rte_eth_dev_info& di, rte_eth_conf& conf) {
  const std::string& dev = cfg_.device;
  const uint16_t want = std::max<uint16_t>(cfg_.queues, 1);
  n_rxq_ = std::clamp<uint16_t>(want, 1, std::max<uint16_t>(di.max_rx_queues, 1));
  n_txq_ = std::clamp<uint16_t>(want, 1, std::max<uint16_t>(di.max_tx_queues, 1));
  std::string note;
  if (n_rxq_ < want || n_txq_ < want) {
    note = "dpdk link '" + dev + "': " + std::to_string(want) + " queues asked for, the port (" +
           info_.driver + ") has at most " + std::to_string(di.max_rx_queues) + " RX and " +
           std::to_string(di.max_tx_queues) + " TX queues: using " + std::to_string(n_rxq_) +
           " RX and " + std::to_string(n_txq_) + " TX";
    std::fprintf(stderr, "%s\n", note.c_str());
  }
  if (n_rxq_ > 1) {
    const uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
    std::string line;
    if (hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the port's default key
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
      info_.rss = true;
      line = "dpdk link '" + dev + "': RSS (IP/UDP hash) over " + std::to_string(n_rxq_) +
             " RX queues";
    } else {
      line = "dpdk link '" + dev + "': " + std::to_string(n_rxq_) + " RX queues but the port (" +
             info_.driver + ") offers no IP/UDP RSS: each queue receives what the port puts on it";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    note += note.empty() ? line : "; " + line;
  }
  info_.queue_note = note;
}

// backend_counters()' names, fixed for the link's life: per RX queue, per TX
// queue, then the port's own counters (rte_eth_stats_get).
void DpdkLinkImpl::name_counters() {
  counter_names_.clear();
  for (uint16_t q = 0; q < n_rxq_; ++q) {
    const std::string p = "rxq" + std::to_string(q) + "_";
    counter_names_.push_back(p + "packets");
    counter_names_.push_back(p + "bytes");
    counter_names_.push_back(p + "not_datagram");
  }
  for (uint16_t q = 0; q < n_txq_; ++q) {
    const std::string p = "txq" + std::to_string(q) + "_";
    counter_names_.push_back(p + "packets");
    counter_names_.push_back(p + "bytes");
    counter_names_.push_back(p + "dropped");
    counter_names_.push_back(p + "partial_bursts");
    counter_names_.push_back(p + "no_neighbour");
  }
}

std::vector<std::pair<std::string_view, uint64_t>> DpdkLinkImpl::backend_counters() const {
  std::vector<std::pair<std::string_view, uint64_t>> out;
  out.reserve(counter_names_.size() + 11);
  out.emplace_back("rx_queues", n_rxq_);
  out.emplace_back("tx_queues", n_txq_);
  out.emplace_back("rss", info_.rss ? 1 : 0);
  out.emplace_back("rx_interrupts", rx_intr_ ? 1 : 0);
  out.emplace_back("rx_interrupt_arms", rx_intr_arms_);
  size_t k = 0;
  for (uint16_t q = 0; q < n_rxq_; ++q) {
    const QueueState& qs = queues_[q];
    uint64_t other = 0;
    for (size_t v = 0; v < qs.verdicts.size(); ++v) {
      if (v != stat_index(frame::Verdict::datagram)) other += qs.verdicts[v];
    }
    out.emplace_back(counter_names_[k++], qs.stats.rx_packets);
    out.emplace_back(counter_names_[k++], qs.stats.rx_bytes);
    out.emplace_back(counter_names_[k++], other);
  }
  for (uint16_t q = 0; q < n_txq_; ++q) {
    const QueueState& qs = queues_[q];
    out.emplace_back(counter_names_[k++], qs.stats.tx_packets);
    out.emplace_back(counter_names_[k++], qs.stats.tx_bytes);
    out.emplace_back(counter_names_[k++], qs.stats.tx_dropped);
    out.emplace_back(counter_names_[k++], qs.tx_partial_bursts);
    out.emplace_back(counter_names_[k++], qs.stats.tx_no_neighbour);
  }
  const DpdkPortCounters pc = port_counters();
  out.emplace_back("port_ipackets", pc.ipackets);
  out.emplace_back("port_opackets", pc.opackets);
  out.emplace_back("port_imissed", pc.imissed);
  out.emplace_back("port_ierrors", pc.ierrors);
  out.emplace_back("port_oerrors", pc.oerrors);
  out.emplace_back("port_rx_nombuf", pc.rx_nombuf);
  const DpdkPortHealth& h = health_;
  out.emplace_back("link_up", h.link_up ? 1 : 0);
  out.emplace_back("link_speed_mbps", h.link_speed_mbps);
  out.emplace_back("link_up_events", h.link_up_events);
  out.emplace_back("link_down_events", h.link_down_events);
  out.emplace_back("lsc_events", h.lsc_events);
  out.emplace_back("reset_events", h.reset_events);
  out.emplace_back("resets_done", h.resets_done);
  out.emplace_back("reset_failures", h.reset_failures);
  out.emplace_back("removal_events", h.removal_events);
  out.emplace_back("port_removed", h.removed ? 1 : 0);
  read_xstats(false);
  for (size_t i = 0; i < xstat_counter_names_.size(); ++i) {
    if (!xstat_counter_names_[i].empty())
      out.emplace_back(xstat_counter_names_[i], xstat_values_[i]);
  }
  return out;
}

void DpdkLinkImpl::resolve_xstats() {
  xstat_ids_.clear();
  xstat_names_.clear();
  xstat_counter_names_.clear();
  xstat_values_.clear();
  xstats_read_ns_ = 0;
  const uint16_t port = info_.port_id;
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n <= 0) return;
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
  const int got = rte_eth_xstats_get_names(port, names.data(), static_cast<unsigned>(n));
  if (got <= 0 || got > n) return;
  for (int i = 0; i < got; ++i) {
    // An id is the name's index in this list (rte_eth_xstats_get_names_by_id).
    xstat_ids_.push_back(static_cast<uint64_t>(i));
    xstat_names_.emplace_back(names[static_cast<size_t>(i)].name);
    // Per-queue xstats (rx_qN_*, tx_qN_*: a few dozen per queue on the ENA)
    // stay out of backend_counters(), which every snapshot copies; the link
    // counts per queue itself, and port_xstats() has them all.
    const std::string_view x = xstat_names_.back();
    const bool per_queue = x.size() > 4 && (x.rfind("rx_q", 0) == 0 || x.rfind("tx_q", 0) == 0) &&
                           std::isdigit(static_cast<unsigned char>(x[4])) != 0;
    xstat_counter_names_.push_back(per_queue ? std::string() : xstat_counter_name(x));
  }
  xstat_values_.assign(xstat_ids_.size(), 0);
}

void DpdkLinkImpl::read_xstats(bool now) const {
  if (xstat_ids_.empty() || !started_) return;  // a stopped port keeps its last values
  const uint64_t t = now_ns();
  if (!now && xstats_read_ns_ != 0 && t - xstats_read_ns_ < kXstatsEveryNs) return;
  xstats_read_ns_ = t;
  std::vector<uint64_t> v(xstat_ids_.size(), 0);
  const int rc = rte_eth_xstats_get_by_id(info_.port_id, xstat_ids_.data(), v.data(),
                                          static_cast<unsigned>(v.size()));
  if (rc == static_cast<int>(v.size())) xstat_values_ = std::move(v);
}

std::vector<std::pair<std::string, uint64_t>> DpdkLinkImpl::port_xstats() const {
  read_xstats(true);
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(xstat_names_.size());
  for (size_t i = 0; i < xstat_names_.size(); ++i)
    out.emplace_back(xstat_names_[i], xstat_values_[i]);
  return out;
}

void DpdkLinkImpl::raise_port_event(PortEvent e) {
  const rte_eth_event_type t = e == PortEvent::link_change ? RTE_ETH_EVENT_INTR_LSC
                               : e == PortEvent::reset     ? RTE_ETH_EVENT_INTR_RESET
                                                           : RTE_ETH_EVENT_INTR_RMV;
  on_port_event(info_.port_id, t, events_.get(), nullptr);
}

// In rx_burst, once every kServiceEvery calls or when a callback set a flag.
void DpdkLinkImpl::service_port() {
  service_countdown_ = kServiceEvery;
  const uint32_t ev = events_->pending.exchange(0);
  health_.lsc_events = events_->lsc.load();
  health_.reset_events = events_->reset.load();
  health_.removal_events = events_->removal.load();
  if (health_.removed) return;
  if ((ev & kEventRemoval) != 0) {
    on_removal();
    return;
  }
  const uint64_t now = now_ns();
  if (ev == 0 && now < next_check_ns_) return;
  next_check_ns_ = now + kLinkCheckNs;
  if ((ev & kEventReset) != 0) restart_pending_ = true;
  if (restart_pending_) restart_port();  // and again every kLinkCheckNs until it works
  if (started_) check_link();
}

void DpdkLinkImpl::check_link() {
  rte_eth_link l{};
  bool up = false;
  if (rte_eth_link_get_nowait(info_.port_id, &l) == 0) up = l.link_status == RTE_ETH_LINK_UP;
  if (up && ifr_fd_ >= 0) {
    // The PMD over a kernel interface may say up whatever the interface
    // does: the interface must be up and running (have a carrier) too.
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, kernel_ifname_.c_str(), IF_NAMESIZE - 1);
    if (ioctl(ifr_fd_, SIOCGIFFLAGS, &ifr) == 0) {
      up = (ifr.ifr_flags & IFF_UP) != 0 && (ifr.ifr_flags & IFF_RUNNING) != 0;
    }
  }
  const uint32_t speed = up && l.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN ? l.link_speed : 0;
  const bool first = next_check_ns_ == 0;  // open(): the state as found, not a change
  if (first) next_check_ns_ = now_ns() + kLinkCheckNs;
  if (up == health_.link_up && !first) {
    health_.link_speed_mbps = speed;
    return;
  }
  if (!first) {
    ++(up ? health_.link_up_events : health_.link_down_events);
    std::fprintf(stderr, "dpdk link '%s': link %s%s\n", cfg_.device.c_str(), up ? "up" : "down",
                 kernel_ifname_.empty() ? "" : (" (interface " + kernel_ifname_ + ")").c_str());
  }
  health_.link_up = up;
  health_.link_speed_mbps = speed;
}

// Frames committed but not flushed: dropped and counted (the transport
// retransmits what they carried).
void DpdkLinkImpl::drop_pending_tx() {
  for (uint16_t q = 0; q < txq_.size(); ++q) {
    TxQueue& t = txq_[q];
    if (t.n == 0) continue;
    rte_pktmbuf_free_bulk(t.mbufs.data(), t.n);
    queues_[q].stats.tx_dropped += t.n - t.pending_control;
    t.n = 0;
    t.pending_bytes = 0;
    t.pending_control = 0;
  }
}

void DpdkLinkImpl::restart_port() {
  const uint16_t port = info_.port_id;
  if (info_.driver == "net_af_packet") {
    // Its stop closes its sockets and its start opens none: stopped, it
    // would never move a frame again. Left running, and said.
    restart_pending_ = false;
    ++health_.reset_failures;
    std::fprintf(stderr,
                 "dpdk link '%s': not restarted: net_af_packet cannot start again once stopped "
                 "(DPDK 22.11 closes its sockets on stop); restart srdxd to reset it\n",
                 cfg_.device.c_str());
    return;
  }
  drop_pending_tx();
  detach_rx_interrupts();
  if (started_) {
    (void)rte_eth_dev_stop(port);
    started_ = false;
  }
  const int rc = rte_eth_dev_reset(port);  // -ENOTSUP: the PMD has none; stopped is enough
  const bool af_xdp = info_.driver == "net_af_xdp" && info_.rx_interrupts;
  const std::vector<int> xsk_before = af_xdp ? af_xdp_sockets() : std::vector<int>{};
  std::string failed;
  if (rc != 0 && rc != -ENOTSUP) {
    failed = std::string("rte_eth_dev_reset: ") + rte_strerror(-rc);
  } else {
    try {
      start_port();
    } catch (const std::runtime_error& e) {
      failed = e.what();
      if (started_) (void)rte_eth_dev_stop(port);
      started_ = false;
    }
  }
  if (!failed.empty()) {
    ++health_.reset_failures;
    std::fprintf(stderr,
                 "dpdk link '%s': restarting the port failed (%s); trying again in %llu ms\n",
                 cfg_.device.c_str(), failed.c_str(),
                 static_cast<unsigned long long>(kLinkCheckNs / 1000000));
    return;
  }
  restart_pending_ = false;
  ++health_.resets_done;
  resolve_xstats();
  attach_rx_interrupts();
  if (!rx_intr_ && af_xdp) attach_xsk_sockets(xsk_before);
  if (info_.rx_interrupts && !rx_intr_) {
    std::fprintf(stderr, "dpdk link '%s': no Rx interrupts after the restart: an idle loop naps\n",
                 cfg_.device.c_str());
  }
  std::fprintf(stderr, "dpdk link '%s': port %s and started again (%u RX, %u TX queues)\n",
               cfg_.device.c_str(), rc == 0 ? "reset" : "stopped (the PMD has no reset)",
               unsigned{n_rxq_}, unsigned{n_txq_});
}

void DpdkLinkImpl::on_removal() {
  health_.removed = true;
  if (health_.link_up) ++health_.link_down_events;
  health_.link_up = false;
  health_.link_speed_mbps = 0;
  restart_pending_ = false;
  drop_pending_tx();
  detach_rx_interrupts();
  if (started_) (void)rte_eth_dev_stop(info_.port_id);
  started_ = false;
  std::fprintf(stderr,
               "dpdk link '%s': the device was removed: no longer polled; what is sent is "
               "dropped and counted until srdx is restarted with a device\n",
               cfg_.device.c_str());
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
  if (di.device != nullptr) {
    const rte_bus* bus = rte_dev_bus(di.device);
    const char* bus_name = bus != nullptr ? rte_bus_name(bus) : nullptr;
    prefetch_ = bus_name == nullptr || std::strcmp(bus_name, "vdev") != 0;
  }
  rte_eth_conf conf{};
  choose_queues(di, conf);
  // Checksums, whatever LinkConfig says:
  //  - TX: each checksum the port can compute is left to it. The IPv4 header
  //    checksum is otherwise computed here (20 bytes, incrementally from the
  //    per-destination template: a few adds). The UDP checksum is otherwise
  //    sent as zero, "no checksum", which IPv4 allows (RFC 768, RFC 1122
  //    4.1.3.4): every srdx packet carries a CRC32C over its whole payload
  //    (transport/wire.h) that the receiving transport verifies, so summing
  //    the payload again in software would be redundant work per packet.
  //  - RX: what the device verified (mbuf RX checksum flags) is not verified
  //    again. A UDP checksum of zero is accepted (the sender computed none);
  //    a nonzero one the device did not verify is verified in software.
  const bool ip_tx = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  const bool udp_tx = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
  if (ip_tx) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (udp_tx) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if (ip_tx || udp_tx) {
    tx_ol_flags_ = RTE_MBUF_F_TX_IPV4 | (ip_tx ? RTE_MBUF_F_TX_IP_CKSUM : 0) |
                   (udp_tx ? RTE_MBUF_F_TX_UDP_CKSUM : 0);
    rte_mbuf t{};
    t.l2_len = frame::kEthLen;
    t.l3_len = frame::kIpv4Len;
    tx_offload_ = t.tx_offload;
  }
  rx_cksum_offloads_ =
      di.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
  conf.rxmode.offloads |= rx_cksum_offloads_;
  if (cfg_.mtu < 68 || cfg_.mtu > di.max_mtu || cfg_.mtu < di.min_mtu) {
    throw std::runtime_error("dpdk link '" + dev + "': mtu " + std::to_string(cfg_.mtu) +
                             " is outside the port's range " + std::to_string(di.min_mtu) + ".." +
                             std::to_string(di.max_mtu));
  }
  conf.rxmode.mtu = cfg_.mtu;
  // Port events: LSC and RMV interrupts where the PMD raises them (ENA: LSC);
  // the callbacks are registered before the port starts. RESET needs no
  // flag in the configuration.
  const uint32_t dev_flags = di.dev_flags != nullptr ? *di.dev_flags : 0;
  health_.lsc_interrupt = (dev_flags & RTE_ETH_DEV_INTR_LSC) != 0;
  conf.intr_conf.lsc = health_.lsc_interrupt ? 1 : 0;
  conf.intr_conf.rmv = (dev_flags & RTE_ETH_DEV_INTR_RMV) != 0 ? 1 : 0;
  for (rte_eth_event_type t : kPortEvents) {
    rc = rte_eth_dev_callback_register(port, t, on_port_event, events_.get());
    if (rc != 0) throw error(dev, "rte_eth_dev_callback_register", -rc);
  }
  callbacks_registered_ = true;
  if (di.if_index != 0) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(di.if_index, name) != nullptr) {
      kernel_ifname_ = name;
      ifr_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      health_.kernel_interface = ifr_fd_ >= 0;
    }
  }
  // Rx interrupts, for an idle loop to sleep on (Idle, dpdk_link.h): asked
  // of every port, since no dev_info flag says which PMDs have them. A port
  // that refuses to configure or start with them is started without.
  conf.intr_conf.rxq = cfg_.rx_interrupts ? 1 : 0;
  conf_ = conf;
  const bool af_xdp = info_.driver == "net_af_xdp" && cfg_.rx_interrupts;
  const std::vector<int> xsk_before = af_xdp ? af_xdp_sockets() : std::vector<int>{};
  try {
    start_port();
  } catch (const std::runtime_error& with) {
    // Again without; if that fails too, its error is the one to report.
    if (started_) (void)rte_eth_dev_stop(port);
    started_ = false;
    conf_.intr_conf.rxq = 0;
    start_port();
    std::fprintf(stderr,
                 "dpdk link '%s': the port did not start with Rx interrupts (%s); it did "
                 "without\n",
                 dev.c_str(), with.what());
  }
  attach_rx_interrupts();
  if (!rx_intr_ && af_xdp) attach_xsk_sockets(xsk_before);
  if (!xsk_fds_.empty()) {
    info_.idle_note =
        "an idle loop sleeps until its AF_XDP sockets have frames (net_af_xdp has no "
        "Rx interrupts; " +
        std::to_string(xsk_fds_.size()) + " socket" + (xsk_fds_.size() == 1 ? "" : "s") + ")";
  } else if (rx_intr_) {
    info_.idle_note = "an idle loop sleeps on Rx interrupts (" + info_.driver + ", " +
                      std::to_string(n_rxq_) + " RX queue" + (n_rxq_ == 1 ? "" : "s") +
                      (rx_intr_enable_ ? ", armed per queue" : "") + ")";
  } else if (!cfg_.rx_interrupts) {
    info_.idle_note =
        "Rx interrupts not asked for: an idle loop naps and polls again (poller "
        "max_sleep_without_fd)";
  } else {
    info_.idle_note = info_.driver +
                      " has no Rx interrupts: an idle loop naps and polls again (poller "
                      "max_sleep_without_fd)";
  }
  info_.rx_interrupts = rx_intr_;
  std::fprintf(stderr, "dpdk link '%s': %s\n", dev.c_str(), info_.idle_note.c_str());

  uint16_t mtu = 0;
  info_.mtu = rte_eth_dev_get_mtu(port, &mtu) == 0 ? mtu : cfg_.mtu;
  info_.rx_queues = n_rxq_;
  info_.tx_queues = n_txq_;
  info_.tx_ip_checksum_offload = ip_tx;
  info_.tx_udp_checksum_offload = udp_tx;
  info_.rx_checksum_offload = rx_cksum_offloads_ != 0;

  queues_.resize(std::max(n_rxq_, n_txq_));
  txq_.resize(n_txq_);
  txq_pow2_ = (n_txq_ & (n_txq_ - 1)) == 0;
  name_counters();
  const uint16_t pc = cfg_.entropy.port_count;
  entropy_pow2_ = pc != 0 && (pc & (pc - 1)) == 0;  // then a mask, not a division per packet
  entropy_mask_ = entropy_pow2_ ? static_cast<uint16_t>(pc - 1) : 0;
  max_payload_ = std::min<size_t>(cfg_.mtu - frame::kIpv4Len - frame::kUdpLen,
                                  data_room_ - RTE_PKTMBUF_HEADROOM - frame::kHeadersLen);
  spec_.src_mac = info_.mac;
  spec_.src_ip = cfg_.local.ip;
  spec_.ip_checksum = ip_tx ? frame::Checksum::offload : frame::Checksum::software;
  spec_.udp_checksum = udp_tx ? frame::Checksum::offload : frame::Checksum::none;
  for (const auto& [ip, m] : cfg_.static_neighbours) neighbours_.add_static(ip, m);
  resolve_xstats();
  check_link();
}

// Configures the port with conf_, sets up its queues (and, the first time,
// the pool), starts it and reads its MAC. open() and a restart after a reset.
void DpdkLinkImpl::start_port() {
  const uint16_t port = info_.port_id;
  const std::string& dev = cfg_.device;
  int rc = rte_eth_dev_configure(port, n_rxq_, n_txq_, &conf_);
  if (rc != 0) throw error(dev, "rte_eth_dev_configure", -rc);
  configured_ = true;
  rte_eth_dev_info di{};
  rc = rte_eth_dev_info_get(port, &di);
  if (rc != 0) throw error(dev, "rte_eth_dev_info_get", -rc);

  uint16_t rxd = static_cast<uint16_t>(std::clamp<uint32_t>(cfg_.queue_depth, 64, 4096));
  uint16_t txd = rxd;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  if (rc != 0) throw error(dev, "rte_eth_dev_adjust_nb_rx_tx_desc", -rc);
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = SOCKET_ID_ANY;

  if (pool_ == nullptr) {
    burst_ = std::clamp<uint32_t>(cfg_.burst, 1, kMaxBurst);
    // Every descriptor may hold an mbuf, plus a burst held by the transport, a
    // burst committed per TX queue, a stash, the per-core caches and the
    // control replies.
    const uint32_t nmbufs = uint32_t{n_rxq_} * rxd + uint32_t{n_txq_} * txd +
                            (3u + n_txq_) * burst_ + kMempoolCache * 2 + kControlMbufs;
    const uint32_t frame_room = cfg_.mtu + frame::kEthLen + 4;  // + a VLAN tag's worth
    data_room_ = static_cast<uint16_t>(
        std::max<uint32_t>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + frame_room));
    static std::atomic<unsigned> pool_seq{0};
    const std::string pool_name =
        "srdx_p" + std::to_string(port) + "_" + std::to_string(pool_seq.fetch_add(1));
    // net_af_xdp makes this pool its UMEM and needs it packed (see pool.h).
    const PoolLayout layout = pool_layout_for(info_.driver);
    pool_ = create_mbuf_pool(pool_name, nmbufs, kMempoolCache, data_room_, socket, layout);
    if (pool_ == nullptr) {
      throw error(dev, "creating a pool of " + std::to_string(nmbufs) + " mbufs", rte_errno);
    }
    if (layout == PoolLayout::packed && !pool_fits_umem(pool_)) {
      throw std::runtime_error("dpdk link '" + dev + "': the pool of " + std::to_string(nmbufs) +
                               " mbufs is not one packed memory chunk, which " + info_.driver +
                               " needs for its UMEM (give EAL more memory, -m)");
    }
  }

  rte_eth_rxconf rxc = di.default_rxconf;
  rxc.offloads = conf_.rxmode.offloads;
  rte_eth_txconf txc = di.default_txconf;
  txc.offloads = conf_.txmode.offloads;
  for (uint16_t q = 0; q < n_rxq_; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, rxd, static_cast<unsigned>(socket), &rxc, pool_);
    if (rc != 0) throw error(dev, "rte_eth_rx_queue_setup(" + std::to_string(q) + ")", -rc);
  }
  for (uint16_t q = 0; q < n_txq_; ++q) {
    rc = rte_eth_tx_queue_setup(port, q, txd, static_cast<unsigned>(socket), &txc);
    if (rc != 0) throw error(dev, "rte_eth_tx_queue_setup(" + std::to_string(q) + ")", -rc);
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0 && info_.driver == "net_memif") {
    // memif's start returns -1 whatever went wrong ("Operation not
    // permitted"); what goes wrong is nearly always a client with no server.
    throw std::runtime_error("dpdk link '" + dev +
                             "': rte_eth_dev_start failed: a memif client connects to its "
                             "server's socket when it starts: is a memif server (role=server, "
                             "same socket and id) listening? (DPDK's log says more)");
  }
  if (rc != 0) throw error(dev, "rte_eth_dev_start", -rc);
  started_ = true;
  info_.rx_desc = rxd;
  info_.tx_desc = txd;

  rte_ether_addr mac{};
  rc = rte_eth_macaddr_get(port, &mac);
  if (rc != 0) throw error(dev, "rte_eth_macaddr_get", -rc);
  frame::Mac got{};
  std::memcpy(got.data(), mac.addr_bytes, 6);
  if (got == frame::Mac{}) {
    // Some PMDs (net_ring) have no address. Take a locally administered one
    // derived from our IP, 02:00:a:b:c:d, so that neighbours can tell us apart;
    // tell the port if it can be told.
    const uint32_t ip = cfg_.local.ip;
    got = {0x02,
           0x00,
           static_cast<uint8_t>(ip >> 24),
           static_cast<uint8_t>(ip >> 16),
           static_cast<uint8_t>(ip >> 8),
           static_cast<uint8_t>(ip)};
    std::memcpy(mac.addr_bytes, got.data(), 6);
    (void)rte_eth_dev_default_mac_addr_set(port, &mac);
  }
  if (got != info_.mac) {  // a reset may bring another address: headers are rebuilt
    info_.mac = got;
    spec_.src_mac = got;
    if (++header_generation_ == 0) header_generation_ = 1;
  }
}

void DpdkLinkImpl::close() {
  if (n_held_ != 0) rte_pktmbuf_free_bulk(rx_held_.data(), n_held_);
  for (TxQueue& t : txq_) {
    if (t.n != 0) rte_pktmbuf_free_bulk(t.mbufs.data(), t.n);
    t.n = 0;
    t.pending_bytes = t.pending_control = 0;
  }
  if (n_stash_ != 0) rte_pktmbuf_free_bulk(stash_.data(), n_stash_);
  if (staged_ != nullptr) rte_pktmbuf_free(staged_);
  n_held_ = n_stash_ = 0;
  staged_ = nullptr;
  if (callbacks_registered_) {
    for (rte_eth_event_type t : kPortEvents) {
      // -EAGAIN while the callback runs on the interrupt thread: wait for it.
      for (int i = 0; i < 1000; ++i) {
        if (rte_eth_dev_callback_unregister(info_.port_id, t, on_port_event, events_.get()) !=
            -EAGAIN)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    callbacks_registered_ = false;
  }
  if (ifr_fd_ >= 0) ::close(ifr_fd_);
  ifr_fd_ = -1;
  detach_rx_interrupts();
  if (epfd_ >= 0) ::close(epfd_);
  epfd_ = -1;
  if (started_) rte_eth_dev_stop(info_.port_id);
  if (configured_ || info_.owns_device) rte_eth_dev_close(info_.port_id);
  if (device_ != nullptr) rte_dev_remove(device_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
  started_ = configured_ = false;
  device_ = nullptr;
  pool_ = nullptr;
}

// This process's AF_XDP sockets (the kernel says each socket's family:
// SO_DOMAIN), by descriptor.
std::vector<int> af_xdp_sockets() {
  std::vector<int> out;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(d)) continue;
    int domain = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
        domain == AF_XDP)
      out.push_back(static_cast<int>(fd));
  }
  closedir(d);
  return out;
}

// Lowers DPDK's ethdev and EAL logging while the link asks a port for what it
// may not have (rte_eth_dev_rx_intr_ctl_q logs an ERR line for every PMD
// without Rx interrupts); restored when it goes.
class QuietDpdkLog {
 public:
  QuietDpdkLog() : ethdev_(rte_log_register("lib.ethdev")) {
    if (ethdev_ >= 0) {
      ethdev_level_ = rte_log_get_level(static_cast<uint32_t>(ethdev_));
      rte_log_set_level(static_cast<uint32_t>(ethdev_), RTE_LOG_CRIT);
    }
    eal_level_ = rte_log_get_level(RTE_LOGTYPE_EAL);
    rte_log_set_level(RTE_LOGTYPE_EAL, RTE_LOG_CRIT);
  }
  ~QuietDpdkLog() {
    if (ethdev_ >= 0 && ethdev_level_ >= 0)
      rte_log_set_level(static_cast<uint32_t>(ethdev_), static_cast<uint32_t>(ethdev_level_));
    if (eal_level_ >= 0) rte_log_set_level(RTE_LOGTYPE_EAL, static_cast<uint32_t>(eal_level_));
  }
  QuietDpdkLog(const QuietDpdkLog&) = delete;
  QuietDpdkLog& operator=(const QuietDpdkLog&) = delete;

 private:
  int ethdev_;
  int ethdev_level_ = -1, eal_level_ = -1;
};

// Puts every RX queue's interrupt event fd into epfd_ (made the first time),
// when the port was configured for Rx interrupts and the PMD set them up;
// otherwise rx_intr_ stays false and wait_fd() is -1 (an idle loop naps).
// DPDK adds each fd edge-triggered: arm_wait() empties epfd_ of what came
// while the loop was busy. A PMD with a per-queue enable (ENA, virtio: an
// eventfd that fires once armed) is armed by arm_wait() and disarmed after;
// one without (net_tap: the fd is its queue's tap descriptor, readable
// while frames wait) needs no arming.
void DpdkLinkImpl::attach_rx_interrupts() {
  rx_intr_ = false;
  rx_intr_enable_ = false;
  rx_intr_armed_ = false;
  if (conf_.intr_conf.rxq == 0 || !started_) return;
  if (epfd_ < 0) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return;
  }
  const uint16_t port = info_.port_id;
  QuietDpdkLog quiet;
  uint16_t added = 0;
  for (; added < n_rxq_; ++added) {
    if (rte_eth_dev_rx_intr_ctl_q(port, added, epfd_, RTE_INTR_EVENT_ADD, nullptr) != 0) break;
  }
  if (added != n_rxq_) {
    for (uint16_t q = 0; q < added; ++q)
      (void)rte_eth_dev_rx_intr_ctl_q(port, q, epfd_, RTE_INTR_EVENT_DEL, nullptr);
    return;
  }
  const int rc = rte_eth_dev_rx_intr_enable(port, 0);
  if (rc == 0) {
    rx_intr_enable_ = true;
    for (uint16_t q = 0; q < n_rxq_; ++q) (void)rte_eth_dev_rx_intr_disable(port, q);
  } else if (rc != -ENOTSUP) {
    for (uint16_t q = 0; q < n_rxq_; ++q)
      (void)rte_eth_dev_rx_intr_ctl_q(port, q, epfd_, RTE_INTR_EVENT_DEL, nullptr);
    return;
  }
  rx_intr_ = true;
}

void DpdkLinkImpl::detach_rx_interrupts() {
  if (!rx_intr_) return;
  disarm_wait();
  if (!xsk_fds_.empty()) {
    for (int fd : xsk_fds_) (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    xsk_fds_.clear();
    rx_intr_ = false;
    return;
  }
  QuietDpdkLog quiet;
  for (uint16_t q = 0; q < n_rxq_; ++q)
    (void)rte_eth_dev_rx_intr_ctl_q(info_.port_id, q, epfd_, RTE_INTR_EVENT_DEL, nullptr);
  rx_intr_ = false;
}

// net_af_xdp has no Rx interrupts in DPDK 22.11 (no rx_queue_intr_enable, no
// interrupt handle), but each of its RX queues is an AF_XDP socket, readable
// while its RX ring holds frames (the kernel's xsk_poll), and the kernel
// wakes its waiters when it fills the ring. The PMD keeps the sockets to
// itself; the link finds them as the AF_XDP sockets that were not in the
// process before the port started (one per RX queue, or none is used), and
// only polls them, never reads or writes them: level-triggered in epfd_,
// so there is nothing to arm. They close with the port: the link takes them
// out of epfd_ before it stops the port, and looks for them again after a
// restart (when the count does not match, an idle loop naps, and says so).
void DpdkLinkImpl::attach_xsk_sockets(const std::vector<int>& before) {
  if (!started_) return;
  std::vector<int> made;
  for (int fd : af_xdp_sockets()) {
    if (std::find(before.begin(), before.end(), fd) == before.end()) made.push_back(fd);
  }
  if (made.size() != n_rxq_) return;
  if (epfd_ < 0) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return;
  }
  for (size_t i = 0; i < made.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = made[i];
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, made[i], &ev) != 0) {
      for (size_t j = 0; j < i; ++j) (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, made[j], nullptr);
      return;
    }
  }
  xsk_fds_ = std::move(made);
  rx_intr_ = true;
}

bool DpdkLinkImpl::arm_wait() {
  if (!rx_intr_ || !started_) return false;
  if (rx_intr_enable_ && !rx_intr_armed_) {
    for (uint16_t q = 0; q < n_rxq_; ++q) (void)rte_eth_dev_rx_intr_enable(info_.port_id, q);
  }
  rx_intr_armed_ = true;
  ++rx_intr_arms_;
  if (!xsk_fds_.empty()) return true;  // level-triggered: nothing stale to empty
  // Empty epfd_ of the edges that came while the loop was busy (and, for an
  // eventfd, read its count): what they announced has been received.
  // What arrives from here raises a new edge; what arrived just before,
  // the poller's next look finds.
  rte_epoll_event ev[8];
  while (rte_epoll_wait(epfd_, ev, 8, 0) == 8) {
  }
  return true;
}

void DpdkLinkImpl::disarm_wait() {
  if (!rx_intr_armed_) return;
  rx_intr_armed_ = false;
  if (!rx_intr_enable_) return;
  for (uint16_t q = 0; q < n_rxq_; ++q) (void)rte_eth_dev_rx_intr_disable(info_.port_id, q);
}

size_t DpdkLinkImpl::rx_burst(std::span<RxDatagram> out) {
  if (n_held_ != 0) {
    free_segments(rx_held_.data(), n_held_, pool_);
    n_held_ = 0;
  }
  if (--service_countdown_ == 0 || events_->pending.load(std::memory_order_relaxed) != 0)
      [[unlikely]]
    service_port();
  if (!started_) [[unlikely]]
    return 0;  // removed, or a restart that has not worked yet
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
  const frame::DatagramMatch match(ctx);
  // Poll every RX queue, starting where the last call stopped, until `out` is full.
  const uint16_t nq = n_rxq_;
  for (uint16_t i = 0; i < nq && got < want; ++i) {
    const uint16_t q = next_rx_queue_;
    next_rx_queue_ = static_cast<uint16_t>(next_rx_queue_ + 1 == nq ? 0 : next_rx_queue_ + 1);
    const uint16_t n = rte_eth_rx_burst(info_.port_id, q, bufs, static_cast<uint16_t>(want - got));
    if (n == 0) continue;
    QueueState& qs = queues_[q];
    // On hardware, prefetch a few frames ahead as l3fwd does: the NIC wrote
    // them by DMA, so their header line (one, read once) is not in L1. See
    // prefetch_ for why not on virtual devices.
    constexpr uint16_t kAhead = 4;
    if (prefetch_) {
      for (uint16_t j = 0; j < n && j < kAhead; ++j)
        rte_prefetch0(rte_pktmbuf_mtod(bufs[j], void*));
    }
    const size_t first = got;
    uint64_t bytes = 0;
    uint32_t ndrop = 0;
    for (uint16_t j = 0; j < n; ++j) {
      if (prefetch_ && j + kAhead < n) rte_prefetch0(rte_pktmbuf_mtod(bufs[j + kAhead], void*));
      rte_mbuf* m = bufs[j];
      frame::HwCheck ip_ck = frame::HwCheck::unknown, l4_ck = frame::HwCheck::unknown;
      if (rx_cksum_offloads_ != 0) {
        ip_ck = hw_check(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                         RTE_MBUF_F_RX_IP_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_NONE);
        l4_ck = hw_check(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                         RTE_MBUF_F_RX_L4_CKSUM_BAD, RTE_MBUF_F_RX_L4_CKSUM_NONE);
      }
      const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
      frame::DatagramRef d;
      // The common case first: one segment, a datagram for us.
      if (!(m->nb_segs == 1 &&
            frame::parse_datagram({data, m->data_len}, match, ip_ck, l4_ck, d)) &&
          !rx_slow(qs, m, ctx, ip_ck, l4_ck, d, replied)) [[unlikely]] {
        drop[ndrop++] = m;
        continue;
      }
      out[got++] = RxDatagram{{data + d.payload_offset, d.payload_len}, Addr{d.src_ip, d.src_port}};
      bytes += d.payload_len;
      rx_held_[n_held_++] = m;
    }
    const size_t delivered = got - first;
    qs.stats.rx_packets += delivered;
    qs.stats.rx_bytes += bytes;
    qs.verdicts[stat_index(frame::Verdict::datagram)] += delivered;
    if (ndrop != 0) rte_pktmbuf_free_bulk(drop, ndrop);
  }
  if (replied) tx_flush();
  return got;
}

bool DpdkLinkImpl::rx_slow(QueueState& qs, rte_mbuf* m, frame::ParseContext ctx,
                           frame::HwCheck ip_ck, frame::HwCheck l4_ck, frame::DatagramRef& d,
                           bool& replied) {
  ctx.ip_checksum = ip_ck;
  ctx.l4_checksum = l4_ck;
  frame::Parsed p;
  if (m->nb_segs != 1) {
    p.verdict = frame::Verdict::truncated;  // chained mbufs: larger than the MTU
  } else {
    p = frame::parse({rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, ctx);
  }
  if (p.verdict == frame::Verdict::datagram) {  // one parse_datagram leaves out: IP options
    d.src_ip = p.src_ip;
    d.src_port = p.src_port;
    d.payload_offset = static_cast<uint16_t>(p.payload_offset);
    d.payload_len = static_cast<uint16_t>(p.payload_len);
    return true;
  }
  ++qs.verdicts[stat_index(p.verdict)];
  count(qs.stats, p.verdict);
  if (p.verdict == frame::Verdict::arp_request || p.verdict == frame::Verdict::arp_reply ||
      p.verdict == frame::Verdict::arp_other || p.verdict == frame::Verdict::icmp_echo_request) {
    handle_control(m, p);
    replied = true;
  }
  return false;
}

void DpdkLinkImpl::handle_control(rte_mbuf* m, const frame::Parsed& p) {
  using frame::Verdict;
  if (p.verdict == Verdict::arp_request || p.verdict == Verdict::arp_reply ||
      p.verdict == Verdict::arp_other) {
    neighbours_.learn(p.src_ip, p.arp_sender_mac, p.verdict == Verdict::arp_other);
    if (++header_generation_ == 0) header_generation_ = 1;  // 0 marks an empty slot
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
  push_tx(0, r, 0);  // replies and requests leave on TX queue 0
}

// TX mbufs come from the pool raw, a burst at a time, as testpmd's txonly and
// the RX PMDs take them: an mbuf in a pool is already direct with refcnt 1,
// next NULL and nb_segs 1 (rte_mbuf_raw_free()'s contract), so only the fields
// a transmitted frame needs are written (data_off here; lengths, ol_flags and
// tx_offload in tx_commit), not all that rte_pktmbuf_reset() writes.
bool DpdkLinkImpl::refill_stash() {
  if (rte_mempool_get_bulk(pool_, reinterpret_cast<void**>(stash_.data()), burst_) == 0)
      [[likely]] {
    n_stash_ = burst_;
    return true;
  }
  rte_mbuf* m = rte_mbuf_raw_alloc(pool_);  // the pool is nearly empty: one at a time
  if (m == nullptr) return false;
  stash_[0] = m;
  n_stash_ = 1;
  return true;
}

std::span<uint8_t> DpdkLinkImpl::tx_buffer() {
  if (staged_ == nullptr) {
    if (n_stash_ == 0 && !refill_stash()) [[unlikely]] {
      ++queues_[0].stats.tx_no_buffer;
      return {};
    }
    staged_ = stash_[--n_stash_];
    staged_->data_off = RTE_PKTMBUF_HEADROOM;
  }
  return {rte_pktmbuf_mtod_offset(staged_, uint8_t*, frame::kHeadersLen), max_payload_};
}

void DpdkLinkImpl::send_arp_request(uint32_t ip) {
  rte_mbuf* r = rte_pktmbuf_alloc(pool_);
  if (r == nullptr) return;
  const size_t len = frame::build_arp_request(
      {rte_pktmbuf_mtod(r, uint8_t*), rte_pktmbuf_tailroom(r)}, info_.mac, cfg_.local.ip, ip);
  r->data_len = static_cast<uint16_t>(len);
  r->pkt_len = static_cast<uint32_t>(len);
  push_tx(0, r, 0);  // replies and requests leave on TX queue 0
}

const frame::UdpHeaderTemplate* DpdkLinkImpl::fill_header(HeaderSlot& slot, uint32_t dst) {
  const uint32_t hop = neighbours_.next_hop(dst);
  const frame::Mac* mac = neighbours_.lookup(hop);
  if (mac == nullptr) {
    // The staged mbuf stays for the next tx_buffer(); the transport retransmits.
    // tx_commit() counts the datagram on its queue.
    if (neighbours_.should_request(hop, now_ns())) send_arp_request(hop);
    return nullptr;
  }
  frame::UdpFrameSpec spec = spec_;
  spec.dst_mac = *mac;
  spec.dst_ip = dst;
  slot.header = frame::UdpHeaderTemplate(spec);
  slot.dst = dst;
  slot.generation = header_generation_;
  return &slot.header;
}

void DpdkLinkImpl::tx_commit(size_t len, const TxPath& path) {
  const uint16_t sport = source_port(path.entropy);
  const uint16_t q = tx_queue_for(sport);
  if (staged_ == nullptr || len == 0 || len > max_payload_) [[unlikely]] {
    ++queues_[q].stats.tx_dropped;  // nothing staged, or more than tx_buffer() offered
    return;
  }
  const frame::UdpHeaderTemplate* header = header_for(path.remote.ip);
  if (header == nullptr) [[unlikely]] {
    ++queues_[q].stats.tx_no_neighbour;
    return;
  }
  rte_mbuf* m = staged_;
  const size_t flen = header->write({rte_pktmbuf_mtod(m, uint8_t*), frame::kHeadersLen + len}, len,
                                    sport, path.remote.port, ip_id_++);
  m->data_len = static_cast<uint16_t>(flen);
  m->pkt_len = static_cast<uint32_t>(flen);
  m->ol_flags = tx_ol_flags_;  // also clears what a previous life left
  m->tx_offload = tx_offload_;
  staged_ = nullptr;
  push_tx(q, m, static_cast<uint16_t>(len));
}

uint16_t DpdkLinkImpl::flush_queue(uint16_t q) {
  TxQueue& t = txq_[q];
  QueueState& qs = queues_[q];
  const auto n = static_cast<uint16_t>(t.n);
  // A removed port, or one whose restart has not worked yet, sends nothing.
  const uint16_t sent = started_ ? rte_eth_tx_burst(info_.port_id, q, t.mbufs.data(), n) : 0;
  if (sent == n) [[likely]] {
    qs.stats.tx_packets += n - t.pending_control;
    qs.stats.tx_bytes += t.pending_bytes;
  } else {  // never spin on a full ring: free and count the rest
    for (uint16_t i = 0; i < sent; ++i) {
      if (t.payload[i] != 0) {
        ++qs.stats.tx_packets;
        qs.stats.tx_bytes += t.payload[i];
      }
    }
    rte_pktmbuf_free_bulk(t.mbufs.data() + sent, n - sent);
    qs.stats.tx_dropped += n - sent;
    ++qs.tx_partial_bursts;
  }
  t.n = 0;
  t.pending_bytes = 0;
  t.pending_control = 0;
  return sent;
}

size_t DpdkLinkImpl::tx_flush() {
  size_t sent = 0;
  for (uint16_t q = 0; q < n_txq_; ++q) {
    if (txq_[q].n != 0) sent += flush_queue(q);
  }
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

std::string xstat_counter_name(std::string_view xstat) {
  for (std::string_view a : kEnaAllowanceCounters)
    if (xstat == a) return std::string(a);
  return "xstat_" + std::string(xstat);
}

std::unique_ptr<Link> make_dpdk_link(const LinkConfig& cfg) {
  auto link = std::make_unique<DpdkLinkImpl>(cfg);
  link->open();  // throws; the destructor undoes what was done
  return link;
}

}  // namespace srdx::dp
