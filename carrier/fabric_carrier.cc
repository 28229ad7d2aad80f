#include "fabric_carrier.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "fabric_wire.h"
#include "loop/clock.h"
#include "loop/waker.h"

namespace srdx::carrier {

using wire::SegHeader;
using wire::SegType;

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

bool from_hex(std::string_view hex, std::vector<uint8_t>& out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

std::string FabricConfig::validate() const {
  if (provider.empty()) return "provider: empty (e.g. udp;ofi_rxd, tcp;ofi_rxm, shm, efa)";
  if (segment_size < 64 || segment_size > (1u << 30)) return "segment_size: 64 bytes..1 GiB";
  if (tx_depth < 2 || tx_depth > 65536) return "tx_depth: 2..65536";
  if (rx_depth < 2 || rx_depth > 65536) return "rx_depth: 2..65536";
  if (max_outstanding < 1) return "max_outstanding: at least 1";
  if (max_message_size < 1 || max_message_size > (uint64_t{1} << 40))
    return "max_message_size: 1 byte..1 TiB";
  if (message_timeout <= Duration::zero()) return "message_timeout: must be positive";
  return {};
}

namespace {

// How often a hello is repeated while a peer has not answered (the provider
// is reliable, but a peer that is not running yet may drop it).
constexpr Duration kHelloInterval = Duration::millis(100);

[[noreturn]] void fail_call(const std::string& what, int ret, const std::string& hint = {}) {
  std::string msg = what + ": " + fi_strerror(ret < 0 ? -ret : ret);
  if (!hint.empty()) msg += ": " + hint;
  throw std::runtime_error(msg);
}

uint64_t random_id() {
  std::random_device rd;
  uint64_t v = 0;
  while (v == 0) v = (uint64_t{rd()} << 32) ^ rd();
  return v;
}

}  // namespace

class FabricCarrier::Impl {
 public:
  // An operation the provider holds: its context comes back in the
  // completion. fi_context2 first, for providers that ask for FI_CONTEXT(2).
  struct Op {
    fi_context2 ctx;
    bool tx = false;
    uint32_t slot = 0;
    PeerId peer = kNoPeer;
    MsgId msg = 0;  // tx data: the message (0 for controls)
  };

  struct HeldMsg {
    bool skip = false;  // aborted by its sender: its place passes
    MsgId id = 0;
    std::vector<uint8_t> data;
  };
  struct FlowIn {
    uint64_t next = 1;
    std::map<uint64_t, HeldMsg> held;
  };
  struct InMsg {
    std::vector<uint8_t> data;
    uint64_t received = 0;
    uint16_t flow = 0;
    bool ordered = false;
    uint64_t oseq = 0;
  };

  struct Peer {
    std::vector<uint8_t> name;
    fi_addr_t addr = FI_ADDR_UNSPEC;
    uint64_t remote_id = 0;    // its incarnation, once learnt
    bool confirmed = false;    // it answered our hello (or sent data): it knows us
    bool removed = false;      // remove_peer(): its id is not used again
    Time hello_next;           // when to (re)send a hello while unconfirmed
    uint32_t outstanding = 0;  // messages to it not completed or failed yet
    // Payload bytes per segment to it: ours, or less when its receive
    // buffers are smaller (its hello or hello_ack says).
    size_t seg_payload = 0;
    MsgId next_msg = 1;
    std::unordered_map<uint16_t, uint64_t> next_oseq;
    // Receiving from it.
    std::unordered_map<MsgId, InMsg> partial;
    MsgId done_low = 1;  // every id below is handed up or aborted
    std::set<MsgId> done_above;
    std::unordered_map<uint16_t, FlowIn> flows;
  };

  // What a removed peer's name keeps for when it is added again.
  struct Retired {
    uint64_t remote_id = 0;
    MsgId next_msg = 1;
    std::unordered_map<uint16_t, uint64_t> next_oseq;
    MsgId done_low = 1;
    std::set<MsgId> done_above;
    std::unordered_map<uint16_t, uint64_t> flow_next;
  };

  struct OutMsg {
    PeerId peer = kNoPeer;
    MsgId id = 0;
    uint16_t flow = 0;
    bool ordered = false;
    uint64_t oseq = 0;
    std::vector<uint8_t> data;
    uint64_t next_off = 0;
    bool all_posted = false, any_posted = false;
    Time deadline;
    uint64_t cookie = 0;
  };

  struct Control {
    PeerId peer = kNoPeer;
    SegHeader h;
    std::vector<uint8_t> payload;
  };

  struct Pending {
    Event ev;
    std::vector<uint8_t> data;
  };

  explicit Impl(const FabricConfig& cfg, FabricCarrier& owner) : cfg_(cfg), owner_(owner) {
    if (std::string err = cfg.validate(); !err.empty()) throw std::invalid_argument(err);
    src_id_ = random_id();
    try {
      open();
    } catch (...) {
      close();
      throw;
    }
  }
  ~Impl() { close(); }

  void open() {
    fi_info* hints = fi_allocinfo();
    if (!hints) throw std::runtime_error("fi_allocinfo: out of memory");
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = FI_MSG;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    // Every local-registration mode this carrier handles: it registers its
    // buffers when FI_MR_LOCAL comes back (binding them with FI_MR_ENDPOINT).
    // The others only matter for RMA targets, which this carrier has none of.
    hints->domain_attr->mr_mode =
        FI_MR_LOCAL | FI_MR_ENDPOINT | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_VIRT_ADDR;
    hints->domain_attr->av_type = FI_AV_TABLE;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->fabric_attr->prov_name = strdup(cfg_.provider.c_str());
    const char* node = cfg_.node.empty() ? nullptr : cfg_.node.c_str();
    const char* service = cfg_.service.empty() ? nullptr : cfg_.service.c_str();
    const uint64_t flags = (node || service) ? FI_SOURCE : 0;
    int ret = fi_getinfo(FI_VERSION(1, 17), node, service, flags, hints, &info_);
    fi_freeinfo(hints);
    if (ret) {
      info_ = nullptr;
      fail_call("fi_getinfo(provider '" + cfg_.provider + "'" +
                    (node ? std::string(", node ") + node : std::string()) +
                    (service ? std::string(", service ") + service : std::string()) + ")",
                ret,
                "no FI_EP_RDM endpoint with FI_MSG from this provider here (fi_info -l lists "
                "the providers, fi_info -p NAME what they offer)");
    }
    mr_local_ = (info_->domain_attr->mr_mode & FI_MR_LOCAL) != 0;
    mr_endpoint_ = (info_->domain_attr->mr_mode & FI_MR_ENDPOINT) != 0;

    if ((ret = fi_fabric(info_->fabric_attr, &fabric_, nullptr))) fail_call("fi_fabric", ret);
    if ((ret = fi_domain(fabric_, info_, &domain_, nullptr))) fail_call("fi_domain", ret);
    fi_av_attr av_attr{};
    av_attr.type = FI_AV_TABLE;
    if ((ret = fi_av_open(domain_, &av_attr, &av_, nullptr))) fail_call("fi_av_open", ret);

    uint64_t tx_size = info_->tx_attr->size ? info_->tx_attr->size : cfg_.tx_depth;
    uint64_t rx_size = info_->rx_attr->size ? info_->rx_attr->size : cfg_.rx_depth;
    tx_depth_ = static_cast<uint32_t>(std::min<uint64_t>(cfg_.tx_depth, tx_size));
    rx_depth_ = static_cast<uint32_t>(std::min<uint64_t>(cfg_.rx_depth, rx_size));

    open_cq();

    if ((ret = fi_endpoint(domain_, info_, &ep_, nullptr))) fail_call("fi_endpoint", ret);
    if ((ret = fi_ep_bind(ep_, &av_->fid, 0))) fail_call("fi_ep_bind(av)", ret);
    if ((ret = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV))) fail_call("fi_ep_bind(cq)", ret);
    if ((ret = fi_enable(ep_))) fail_call("fi_enable", ret);

    size_t len = 64;
    name_.resize(len);
    ret = fi_getname(&ep_->fid, name_.data(), &len);
    if (ret == -FI_ETOOSMALL) {
      name_.resize(len);
      ret = fi_getname(&ep_->fid, name_.data(), &len);
    }
    if (ret) fail_call("fi_getname", ret);
    name_.resize(len);

    const uint64_t max_msg = info_->ep_attr->max_msg_size;
    seg_bytes_ = static_cast<size_t>(
        std::min<uint64_t>(uint64_t{cfg_.segment_size} + wire::kHeaderBytes, max_msg));
    if (seg_bytes_ < wire::kHeaderBytes + 64 || seg_bytes_ < wire::kHeaderBytes + name_.size()) {
      throw std::runtime_error("provider '" + cfg_.provider + "' takes messages of at most " +
                               std::to_string(max_msg) + " bytes: too small for segments");
    }

    tx_slab_.assign(size_t{tx_depth_} * seg_bytes_, 0);
    rx_slab_.assign(size_t{rx_depth_} * seg_bytes_, 0);
    if (mr_local_ || cfg_.always_register) {
      registered_ = true;
      tx_desc_ = register_buffer(tx_slab_, 1, tx_mr_);
      rx_desc_ = register_buffer(rx_slab_, 2, rx_mr_);
    }
    tx_ops_.resize(tx_depth_);
    rx_ops_.resize(rx_depth_);
    for (uint32_t i = 0; i < tx_depth_; ++i) {
      tx_ops_[i].tx = true;
      tx_ops_[i].slot = i;
      tx_free_.push_back(tx_depth_ - 1 - i);
    }
    for (uint32_t i = 0; i < rx_depth_; ++i) {
      rx_ops_[i].slot = i;
      rx_to_post_.push_back(i);
    }
    post_receives();
  }

  // The CQ, with a descriptor to sleep on where the provider gives one:
  // FI_WAIT_FD on the CQ itself (tcp;ofi_rxm); else a wait set of kind
  // FI_WAIT_FD the CQ waits through (udp;ofi_rxd in 1.17 opens a CQ with
  // FI_WAIT_FD but has no FI_GETWAIT for it, and does for a wait set);
  // else no wait object at all (shm: -FI_ENOSYS), and run() naps.
  void open_cq() {
    fi_cq_attr attr{};
    attr.format = FI_CQ_FORMAT_DATA;
    attr.size = tx_depth_ + rx_depth_;
    attr.wait_obj = FI_WAIT_FD;
    if (fi_cq_open(domain_, &attr, &cq_, nullptr) == 0) {
      if (fi_control(&cq_->fid, FI_GETWAIT, &fd_) == 0 && fd_ >= 0) {
        wait_kind_ = "FI_WAIT_FD on the CQ";
        return;
      }
      fd_ = -1;
      fi_close(&cq_->fid);
      cq_ = nullptr;
    }
    fi_wait_attr wattr{};
    wattr.wait_obj = FI_WAIT_FD;
    if (fi_wait_open(fabric_, &wattr, &waitset_) == 0) {
      attr.wait_obj = FI_WAIT_SET;
      attr.wait_set = waitset_;
      if (fi_control(&waitset_->fid, FI_GETWAIT, &fd_) == 0 && fd_ >= 0 &&
          fi_cq_open(domain_, &attr, &cq_, nullptr) == 0) {
        wait_kind_ = "FI_WAIT_FD through a wait set";
        return;
      }
      fd_ = -1;
      if (cq_) fi_close(&cq_->fid);
      cq_ = nullptr;
      fi_close(&waitset_->fid);
      waitset_ = nullptr;
    }
    attr.wait_obj = FI_WAIT_NONE;
    attr.wait_set = nullptr;
    if (const int ret = fi_cq_open(domain_, &attr, &cq_, nullptr)) fail_call("fi_cq_open", ret);
    wait_kind_ = "no wait object: polled";
  }

  void* register_buffer(std::vector<uint8_t>& buf, uint64_t key, fid_mr*& mr) {
    int ret =
        fi_mr_reg(domain_, buf.data(), buf.size(), FI_SEND | FI_RECV, 0, key, 0, &mr, nullptr);
    if (ret) {
      fail_call(mr_local_ ? "fi_mr_reg (the provider asks for FI_MR_LOCAL)" : "fi_mr_reg", ret);
    }
    if (mr_endpoint_) {
      if ((ret = fi_mr_bind(mr, &ep_->fid, 0))) fail_call("fi_mr_bind", ret);
      if ((ret = fi_mr_enable(mr))) fail_call("fi_mr_enable", ret);
    }
    return fi_mr_desc(mr);
  }

  void close() {
    auto close_fid = [](auto*& p) {
      if (p) fi_close(&p->fid);
      p = nullptr;
    };
    close_fid(ep_);
    close_fid(tx_mr_);
    close_fid(rx_mr_);
    close_fid(cq_);
    close_fid(waitset_);
    close_fid(av_);
    close_fid(domain_);
    close_fid(fabric_);
    if (info_) fi_freeinfo(info_);
    info_ = nullptr;
  }

  // ---- peers -----------------------------------------------------------------

  Result<PeerId> add_peer(std::string_view text) {
    std::vector<uint8_t> name;
    if (!from_hex(text, name) && !sockaddr_name(text, name)) {
      return {kNoPeer, Errc::invalid_argument};
    }
    if (name.size() > 4096 || name == name_) return {kNoPeer, Errc::invalid_argument};
    return peer_by_name(name);
  }

  // "IP:PORT" as the endpoint name a provider addressed by sockaddr_in
  // (udp;ofi_rxd, tcp;ofi_rxm) gives from fi_getname: the sockaddr_in itself.
  bool sockaddr_name(std::string_view text, std::vector<uint8_t>& out) const {
    if (info_->addr_format != FI_SOCKADDR_IN) return false;
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    const std::string ip(text.substr(0, colon));
    const std::string port(text.substr(colon + 1));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) return false;
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    const unsigned long p = std::stoul(port);
    if (p == 0 || p > 65535) return false;
    sa.sin_port = htons(static_cast<uint16_t>(p));
    const auto* b = reinterpret_cast<const uint8_t*>(&sa);
    out.assign(b, b + sizeof sa);
    return true;
  }

  Result<PeerId> peer_by_name(const std::vector<uint8_t>& name) {
    if (auto it = by_name_.find(name); it != by_name_.end()) return {it->second, Errc::ok};
    fi_addr_t addr = FI_ADDR_UNSPEC;
    const int n = fi_av_insert(av_, name.data(), 1, &addr, 0, nullptr);
    if (n != 1) return {kNoPeer, Errc::invalid_argument};
    const PeerId id = static_cast<PeerId>(peers_.size());
    peers_.emplace_back();
    peers_.back().name = name;
    peers_.back().addr = addr;
    peers_.back().seg_payload = seg_bytes_ - wire::kHeaderBytes;
    by_name_[name] = id;
    if (auto it = retired_.find(name); it != retired_.end()) {
      Peer& p = peers_.back();
      Retired& r = it->second;
      p.next_msg = r.next_msg;
      p.next_oseq = std::move(r.next_oseq);
      p.done_low = r.done_low;
      p.done_above = std::move(r.done_above);
      for (const auto& [flow, next] : r.flow_next) p.flows[flow].next = next;
      if (r.remote_id != 0 && !by_remote_.count(r.remote_id)) {
        // A hello from another incarnation resets all this (learn()).
        p.remote_id = r.remote_id;
        by_remote_[r.remote_id] = id;
      }
      retired_.erase(it);
    }
    return {id, Errc::ok};
  }

  // A hello or hello_ack from `name`, incarnation src_id.
  PeerId learn(const std::vector<uint8_t>& name, uint64_t src_id, Time now) {
    const Result<PeerId> r = peer_by_name(name);
    if (!r.ok()) return kNoPeer;
    Peer& p = peers_[r.value];
    if (p.remote_id == src_id) return r.value;
    if (p.remote_id != 0) {
      // A new incarnation at the same name: the old one's state is gone.
      ++fstats_.peer_restarts;
      by_remote_.erase(p.remote_id);
      p.partial.clear();
      p.done_low = 1;
      p.done_above.clear();
      p.flows.clear();
      p.next_oseq.clear();
      p.confirmed = false;
      std::vector<uint64_t> gone;
      for (const auto& [key, m] : out_)
        if (m.peer == r.value) gone.push_back(key);
      for (uint64_t key : gone) fail_message(key, FailReason::peer_restarted, now, false);
    }
    p.remote_id = src_id;
    by_remote_[src_id] = r.value;
    Pending ev;
    ev.ev.type = EventType::peer_up;
    ev.ev.peer = r.value;
    events_.push_back(std::move(ev));
    return r.value;
  }

  Errc remove_peer(PeerId id, Time now) {
    if (id >= peers_.size() || peers_[id].removed) return Errc::unknown_peer;
    std::vector<uint64_t> gone;
    for (const auto& [key, m] : out_)
      if (m.peer == id) gone.push_back(key);
    // The peer is told (abort), so that it drops what arrived of them.
    for (uint64_t key : gone) fail_message(key, FailReason::peer_removed, now, true);
    Peer& p = peers_[id];
    // The peer does not forget us: it still knows which of our message ids
    // it handed up and where our ordered flows stand, as we know its. Adding
    // the name again continues from there (peer_by_name), or the peer would
    // take our next messages for duplicates.
    Retired& r = retired_[p.name];
    r.remote_id = p.remote_id;
    r.next_msg = p.next_msg;
    r.next_oseq = std::move(p.next_oseq);
    r.done_low = p.done_low;
    r.done_above = std::move(p.done_above);
    r.flow_next.clear();
    for (const auto& [flow, f] : p.flows) r.flow_next[flow] = f.next;
    by_name_.erase(p.name);
    if (p.remote_id != 0) by_remote_.erase(p.remote_id);
    // The slot keeps its address and `confirmed` only, for the aborts and
    // acks still queued to it; its id is not used again.
    p.removed = true;
    p.partial.clear();
    p.flows.clear();
    p.next_oseq.clear();
    p.done_above.clear();
    p.hello_next = Time();
    return Errc::ok;
  }

  bool peer_reachable(PeerId id) const {
    return id < peers_.size() && !peers_[id].removed && peers_[id].confirmed;
  }

  // ---- sending ---------------------------------------------------------------

  static uint64_t key_of(PeerId peer, MsgId id) { return (uint64_t{peer} << 40) | id; }

  Result<MsgId> send(PeerId peer, std::span<const uint8_t> data, const SendOptions& opt, Time now) {
    if (peer >= peers_.size() || peers_[peer].removed) return {0, Errc::unknown_peer};
    if (data.size() > cfg_.max_message_size) return {0, Errc::too_large};
    if (out_.size() >= cfg_.max_outstanding) return {0, Errc::would_block};
    Peer& p = peers_[peer];
    OutMsg m;
    m.peer = peer;
    m.id = p.next_msg++;
    m.flow = opt.flow;
    m.ordered = opt.ordered;
    if (opt.ordered) m.oseq = ++p.next_oseq[opt.flow];
    m.data.assign(data.begin(), data.end());  // always a copy: see docs/carrier.md
    m.deadline = now + (opt.timeout > Duration::zero() ? opt.timeout : cfg_.message_timeout);
    m.cookie = opt.cookie;
    const uint64_t key = key_of(peer, m.id);
    deadlines_.insert({m.deadline, key});
    out_.emplace(key, std::move(m));
    txq_.push_back(key);
    ++p.outstanding;
    ++stats_.messages_sent;
    stats_.bytes_sent += data.size();
    if (!p.confirmed && p.hello_next == Time()) p.hello_next = now;  // say hello now
    return {key & ((uint64_t{1} << 40) - 1), Errc::ok};
  }

  void fail_message(uint64_t key, FailReason why, Time now, bool tell_peer) {
    auto it = out_.find(key);
    if (it == out_.end()) return;
    OutMsg& m = it->second;
    Pending ev;
    ev.ev.type = EventType::send_failed;
    ev.ev.reason = why;
    ev.ev.peer = m.peer;
    ev.ev.msg_id = m.id;
    ev.ev.flow = m.flow;
    ev.ev.cookie = m.cookie;
    ev.ev.maybe_delivered = m.any_posted;
    events_.push_back(std::move(ev));
    if (tell_peer) {
      // Drops what arrived of it and, ordered, lets the flow's later
      // messages pass its place.
      Control c;
      c.peer = m.peer;
      c.h.type = SegType::abort;
      c.h.msg_id = m.id;
      c.h.flow = m.flow;
      c.h.ordered = m.ordered;
      c.h.oseq = m.oseq;
      controls_.push_back(std::move(c));
    }
    deadlines_.erase({m.deadline, key});
    --peers_[m.peer].outstanding;
    out_.erase(it);
    ++stats_.messages_failed;
    (void)now;
  }

  // One provider send from tx slot `slot` of `len` bytes already written.
  // false: the provider has no room now (-FI_EAGAIN), the slot is free again.
  int post(uint32_t slot, size_t len, PeerId peer, MsgId msg) {
    Op& op = tx_ops_[slot];
    op.peer = peer;
    op.msg = msg;
    const ssize_t ret = fi_send(ep_, tx_slab_.data() + size_t{slot} * seg_bytes_, len, tx_desc_,
                                peers_[peer].addr, &op);
    if (ret == 0) {
      ++stats_.packets_sent;
      return 0;
    }
    if (ret == -FI_EAGAIN)
      ++fstats_.send_again;
    else
      ++fstats_.provider_errors;
    tx_free_.push_back(slot);
    return static_cast<int>(ret);
  }

  uint8_t* tx_buf(uint32_t slot) { return tx_slab_.data() + size_t{slot} * seg_bytes_; }

  // Controls first (they are small and unblock the peer), then data.
  bool transmit(Time now) {
    bool did = false;
    for (size_t n = controls_.size(); n > 0 && !tx_free_.empty(); --n) {
      Control c = std::move(controls_.front());
      controls_.pop_front();
      if (c.h.type == SegType::abort && !peers_[c.peer].confirmed) {
        controls_.push_back(std::move(c));  // waits until the peer knows us
        continue;
      }
      const uint32_t slot = tx_free_.back();
      tx_free_.pop_back();
      c.h.src_id = src_id_;
      c.h.len = static_cast<uint32_t>(c.payload.size());
      wire::encode(c.h, std::span<uint8_t>(tx_buf(slot), wire::kHeaderBytes));
      if (!c.payload.empty())
        std::memcpy(tx_buf(slot) + wire::kHeaderBytes, c.payload.data(), c.payload.size());
      const int ret = post(slot, wire::kHeaderBytes + c.payload.size(), c.peer, 0);
      if (ret == -FI_EAGAIN) {
        controls_.push_front(std::move(c));
        return did;
      }
      ++fstats_.controls_sent;
      did = true;
    }
    for (size_t n = txq_.size(); n > 0 && !tx_free_.empty(); --n) {
      const uint64_t key = txq_.front();
      txq_.pop_front();
      auto it = out_.find(key);
      if (it == out_.end() || it->second.all_posted) continue;  // finished meanwhile
      OutMsg& m = it->second;
      if (!peers_[m.peer].confirmed) {
        txq_.push_back(key);  // waits for the peer's hello_ack
        continue;
      }
      const size_t payload = peers_[m.peer].seg_payload;
      while (!tx_free_.empty() && !m.all_posted) {
        const uint32_t slot = tx_free_.back();
        tx_free_.pop_back();
        const size_t len = std::min<uint64_t>(payload, m.data.size() - m.next_off);
        SegHeader h;
        h.type = SegType::data;
        h.ordered = m.ordered;
        h.flow = m.flow;
        h.len = static_cast<uint32_t>(len);
        h.src_id = src_id_;
        h.msg_id = m.id;
        h.total = m.data.size();
        h.offset = m.next_off;
        h.oseq = m.oseq;
        wire::encode(h, std::span<uint8_t>(tx_buf(slot), wire::kHeaderBytes));
        if (len) std::memcpy(tx_buf(slot) + wire::kHeaderBytes, m.data.data() + m.next_off, len);
        const int ret = post(slot, wire::kHeaderBytes + len, m.peer, m.id);
        if (ret == -FI_EAGAIN) {
          txq_.push_front(key);
          return did;
        }
        if (ret != 0) {
          fail_message(key, FailReason::peer_unreachable, now, true);
          break;
        }
        did = true;
        ++fstats_.segments_sent;
        m.any_posted = true;
        m.next_off += len;
        if (m.next_off == m.data.size()) m.all_posted = true;
      }
      if (out_.count(key) && !out_[key].all_posted) {
        txq_.push_front(key);  // out of slots
        break;
      }
    }
    return did;
  }

  // ---- receiving -------------------------------------------------------------

  void post_receives() {
    while (!rx_to_post_.empty()) {
      const uint32_t slot = rx_to_post_.back();
      const ssize_t ret = fi_recv(ep_, rx_slab_.data() + size_t{slot} * seg_bytes_, seg_bytes_,
                                  rx_desc_, FI_ADDR_UNSPEC, &rx_ops_[slot]);
      if (ret == -FI_EAGAIN) return;  // again in the next iteration
      if (ret != 0) fail_call("fi_recv", static_cast<int>(ret));
      rx_to_post_.pop_back();
    }
  }

  // Hands a whole message up and acknowledges it: the ack completes the
  // send, so it goes only now (an ordered message held for its place is not
  // acknowledged while held).
  void hand_up(PeerId peer, MsgId id, uint16_t flow, uint64_t oseq, std::vector<uint8_t>&& data) {
    Control c;
    c.peer = peer;
    c.h.type = SegType::ack;
    c.h.msg_id = id;
    c.h.flow = flow;
    c.h.ordered = oseq != 0;
    c.h.oseq = oseq;
    controls_.push_back(std::move(c));
    Pending ev;
    ev.ev.type = EventType::message_received;
    ev.ev.peer = peer;
    ev.ev.msg_id = id;
    ev.ev.flow = flow;
    ev.data = std::move(data);
    ++stats_.messages_received;
    stats_.bytes_received += ev.data.size();
    events_.push_back(std::move(ev));
  }

  static void mark_done(Peer& p, MsgId id) {
    if (id < p.done_low) return;
    p.done_above.insert(id);
    while (!p.done_above.empty() && *p.done_above.begin() == p.done_low) {
      p.done_above.erase(p.done_above.begin());
      ++p.done_low;
    }
  }
  static bool is_done(const Peer& p, MsgId id) {
    return id < p.done_low || p.done_above.count(id) != 0;
  }

  void drain_flow(PeerId peer, uint16_t flow) {
    FlowIn& f = peers_[peer].flows[flow];
    for (auto it = f.held.begin(); it != f.held.end() && it->first == f.next;
         it = f.held.erase(it), ++f.next) {
      if (!it->second.skip) {
        hand_up(peer, it->second.id, flow, it->first, std::move(it->second.data));
      }
    }
  }

  void on_receive(std::span<const uint8_t> msg, Time now) {
    ++stats_.packets_received;
    SegHeader h;
    if (wire::decode(msg, cfg_.max_message_size, h) != wire::DecodeError::ok) {
      ++fstats_.dropped_malformed;
      return;
    }
    const std::span<const uint8_t> payload = msg.subspan(wire::kHeaderBytes);
    if (h.type == SegType::hello || h.type == SegType::hello_ack) {
      const std::vector<uint8_t> name(payload.begin(), payload.end());
      if (name == name_) {
        ++fstats_.dropped_malformed;
        return;
      }
      const PeerId peer = learn(name, h.src_id, now);
      if (peer == kNoPeer) {
        ++fstats_.dropped_malformed;
        return;
      }
      // `total` of a hello: the largest segment payload the sender receives.
      if (h.total >= 64) {
        peers_[peer].seg_payload = std::min<size_t>(seg_bytes_ - wire::kHeaderBytes, h.total);
      }
      if (h.type == SegType::hello) {
        Control c;
        c.peer = peer;
        c.h.type = SegType::hello_ack;
        c.h.total = seg_bytes_ - wire::kHeaderBytes;
        c.payload = name_;
        controls_.push_back(std::move(c));
      } else {
        peers_[peer].confirmed = true;
      }
      return;
    }
    auto pit = by_remote_.find(h.src_id);
    if (pit == by_remote_.end()) {
      ++fstats_.dropped_unknown_source;
      return;
    }
    const PeerId peer = pit->second;
    Peer& p = peers_[peer];
    // It sends data, acks and aborts only after our hello_ack: it knows us,
    // so ours may go to it without a hello of our own (an echo's first
    // answer saves that round trip).
    p.confirmed = true;
    switch (h.type) {
      case SegType::ack: {
        const uint64_t key = key_of(peer, h.msg_id);
        auto it = out_.find(key);
        if (it == out_.end()) return;  // failed here already (deadline)
        Pending ev;
        ev.ev.type = EventType::send_completed;
        ev.ev.peer = peer;
        ev.ev.msg_id = h.msg_id;
        ev.ev.flow = it->second.flow;
        ev.ev.cookie = it->second.cookie;
        events_.push_back(std::move(ev));
        deadlines_.erase({it->second.deadline, key});
        --p.outstanding;
        out_.erase(it);
        ++stats_.messages_completed;
        return;
      }
      case SegType::abort: {
        if (is_done(p, h.msg_id)) return;
        p.partial.erase(h.msg_id);
        mark_done(p, h.msg_id);
        if (h.ordered) {
          FlowIn& f = p.flows[h.flow];
          if (h.oseq >= f.next) f.held[h.oseq].skip = true;
          drain_flow(peer, h.flow);
        }
        return;
      }
      case SegType::data:
        break;
      default:
        return;
    }
    ++fstats_.segments_received;
    if (is_done(p, h.msg_id)) {
      ++fstats_.dropped_duplicate;
      return;
    }
    auto [it, fresh] = p.partial.try_emplace(h.msg_id);
    InMsg& m = it->second;
    if (fresh) {
      m.data.resize(h.total);
      m.flow = h.flow;
      m.ordered = h.ordered;
      m.oseq = h.oseq;
    } else if (m.data.size() != h.total || m.flow != h.flow || m.oseq != h.oseq) {
      ++fstats_.dropped_malformed;
      return;
    }
    if (h.len) std::memcpy(m.data.data() + h.offset, payload.data(), h.len);
    m.received += h.len;
    if (m.received < m.data.size()) return;
    InMsg whole = std::move(m);
    p.partial.erase(it);
    mark_done(p, h.msg_id);
    if (!whole.ordered) {
      hand_up(peer, h.msg_id, whole.flow, 0, std::move(whole.data));
      return;
    }
    FlowIn& f = p.flows[whole.flow];
    if (whole.oseq < f.next) return;  // cannot happen: ids are unique per incarnation
    HeldMsg& held = f.held[whole.oseq];
    held.id = h.msg_id;
    held.data = std::move(whole.data);
    drain_flow(peer, whole.flow);
  }

  // ---- the loop --------------------------------------------------------------

  void on_completion(void* context, size_t len, Time now) {
    Op* op = static_cast<Op*>(context);
    if (!op) return;
    if (op->tx) {
      tx_free_.push_back(op->slot);
      return;
    }
    on_receive(std::span<const uint8_t>(rx_slab_.data() + size_t{op->slot} * seg_bytes_, len), now);
    rx_to_post_.push_back(op->slot);
  }

  void on_error_completion(Time now) {
    fi_cq_err_entry err{};
    if (fi_cq_readerr(cq_, &err, 0) <= 0) return;
    ++fstats_.provider_errors;
    Op* op = static_cast<Op*>(err.op_context);
    if (!op) return;
    if (op->tx) {
      tx_free_.push_back(op->slot);
      if (op->msg) {
        fail_message(key_of(op->peer, op->msg), FailReason::peer_unreachable, now, true);
      }
      return;
    }
    // A receive that failed (truncated: a peer with larger segments). Its
    // buffer goes back.
    if (err.err != FI_ECANCELED) rx_to_post_.push_back(op->slot);
  }

  bool read_completions(Time now) {
    bool did = false;
    fi_cq_data_entry entries[32];
    for (int round = 0; round < 8; ++round) {
      const ssize_t n = fi_cq_read(cq_, entries, 32);
      if (n == -FI_EAGAIN) break;
      if (n == -FI_EAVAIL) {
        on_error_completion(now);
        did = true;
        continue;
      }
      if (n < 0) {
        ++fstats_.provider_errors;
        break;
      }
      did = true;
      for (ssize_t i = 0; i < n; ++i) on_completion(entries[i].op_context, entries[i].len, now);
      if (n < 32) break;
    }
    if (!rx_to_post_.empty()) post_receives();
    return did;
  }

  bool timers(Time now) {
    bool did = false;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      fail_message(deadlines_.begin()->second, FailReason::timeout, now, true);
      did = true;
    }
    for (PeerId id = 0; id < peers_.size(); ++id) {
      Peer& p = peers_[id];
      if (p.confirmed || p.hello_next == Time() || p.hello_next > now) continue;
      if (p.outstanding == 0) {  // nothing to send it any more: stop calling
        p.hello_next = Time();
        continue;
      }
      Control c;
      c.peer = id;
      c.h.type = SegType::hello;
      c.h.total = seg_bytes_ - wire::kHeaderBytes;
      c.payload = name_;
      controls_.push_back(std::move(c));
      p.hello_next = now + kHelloInterval;
      did = true;
    }
    return did;
  }

  bool poll_once(Time now) {
    bool did = read_completions(now);
    did |= timers(now);
    while (!events_.empty()) {
      Pending p = std::move(events_.front());
      events_.pop_front();
      p.ev.data = p.data;
      if (owner_.on_event_) owner_.on_event_(p.ev, now);
      did = true;
    }
    if (owner_.on_tick_) owner_.on_tick_(now);
    did |= transmit(now);
    return did;
  }

  Time next_deadline() const {
    Time t = deadlines_.empty() ? Time::infinite() : deadlines_.begin()->first;
    for (const Peer& p : peers_) {
      if (!p.confirmed && p.hello_next != Time()) t = min(t, p.hello_next);
    }
    return t;
  }

  void idle_wait(Time now, Time wake) {
    const Duration d = wake - now;
    if (d <= Duration::zero()) return;
    // The CQ's descriptor where the provider has one (after fi_trywait:
    // else progress is due, iterate now), and the waker's (dp::Waker: work
    // handed over by another thread).
    pollfd p[2] = {{waker_.fd(), POLLIN, 0}, {fd_, POLLIN, 0}};
    Duration nap = d;
    if (fd_ >= 0) {
      fid* f = &cq_->fid;
      if (fi_trywait(fabric_, &f, 1) != FI_SUCCESS) return;
    } else {
      nap = min(d, cfg_.run.max_sleep_without_fd);
    }
    if (!waker_.prepare_sleep()) return;
    ++fstats_.waits;
    timespec ts{static_cast<time_t>(nap.ns() / 1000000000),
                static_cast<long>(nap.ns() % 1000000000)};
    if (ppoll(p, fd_ >= 0 ? 2 : 1, &ts, nullptr) > 0 && (p[1].revents & POLLIN)) {
      ++fstats_.wakeups_by_fd;
    }
    waker_.finish_sleep((p[0].revents & POLLIN) != 0);
  }

  void run(const std::atomic<bool>& stop) {
    uint32_t idle = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const Time now = dp::monotonic_now();
      if (poll_once(now)) {
        idle = 0;
        continue;
      }
      if (cfg_.run.busy_poll || ++idle < cfg_.run.spin_iterations) continue;
      idle_wait(now, min(next_deadline(), now + cfg_.run.max_sleep));
    }
  }

  std::string describe() const {
    return std::string("provider ") + info_->fabric_attr->prov_name + ", fabric " +
           (info_->fabric_attr->name ? info_->fabric_attr->name : "?") + ", domain " +
           (info_->domain_attr->name ? info_->domain_attr->name : "?") + ", segments of " +
           std::to_string(seg_bytes_ - wire::kHeaderBytes) + " bytes (+" +
           std::to_string(wire::kHeaderBytes) + " of header), " +
           (mr_local_     ? "buffers registered (FI_MR_LOCAL)"
            : registered_ ? "buffers registered (not required)"
                          : "no registration needed") +
           ", " + "CQ: " + wait_kind_;
  }

  FabricConfig cfg_;
  FabricCarrier& owner_;
  uint64_t src_id_ = 0;
  fi_info* info_ = nullptr;
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_av* av_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_wait* waitset_ = nullptr;
  const char* wait_kind_ = "";
  fid_ep* ep_ = nullptr;
  fid_mr* tx_mr_ = nullptr;
  fid_mr* rx_mr_ = nullptr;
  void* tx_desc_ = nullptr;
  void* rx_desc_ = nullptr;
  bool mr_local_ = false, mr_endpoint_ = false;
  bool registered_ = false;  // tx_desc_ and rx_desc_ are registrations
  int fd_ = -1;
  dp::Waker waker_;
  uint32_t tx_depth_ = 0, rx_depth_ = 0;
  size_t seg_bytes_ = 0;
  std::vector<uint8_t> name_;
  std::vector<uint8_t> tx_slab_, rx_slab_;
  std::vector<Op> tx_ops_, rx_ops_;
  std::vector<uint32_t> tx_free_, rx_to_post_;

  std::vector<Peer> peers_;
  std::map<std::vector<uint8_t>, PeerId> by_name_;
  std::unordered_map<uint64_t, PeerId> by_remote_;
  std::unordered_map<uint64_t, OutMsg> out_;
  std::deque<uint64_t> txq_;
  std::map<std::vector<uint8_t>, Retired> retired_;
  std::set<std::pair<Time, uint64_t>> deadlines_;
  std::deque<Control> controls_;
  std::deque<Pending> events_;
  CarrierStats stats_;
  FabricStats fstats_;
};

FabricCarrier::FabricCarrier(const FabricConfig& cfg) : impl_(std::make_unique<Impl>(cfg, *this)) {}
FabricCarrier::~FabricCarrier() = default;

std::string FabricCarrier::local_name() const { return to_hex(impl_->name_); }
Result<PeerId> FabricCarrier::add_peer(std::string_view name) { return impl_->add_peer(name); }
bool FabricCarrier::peer_reachable(PeerId peer) const { return impl_->peer_reachable(peer); }
Errc FabricCarrier::remove_peer(PeerId peer, Time now) { return impl_->remove_peer(peer, now); }
Result<MsgId> FabricCarrier::send(PeerId peer, std::span<const uint8_t> data,
                                  const SendOptions& opt, Time now) {
  return impl_->send(peer, data, opt, now);
}
bool FabricCarrier::poll_once(Time now) { return impl_->poll_once(now); }
void FabricCarrier::run(const std::atomic<bool>& stop) { impl_->run(stop); }
int FabricCarrier::wait_fd() const { return impl_->fd_; }
void FabricCarrier::wake() { impl_->waker_.wake(); }
Time FabricCarrier::next_deadline() const { return impl_->next_deadline(); }
CarrierStats FabricCarrier::stats() const { return impl_->stats_; }
const FabricStats& FabricCarrier::fabric_stats() const { return impl_->fstats_; }
std::string FabricCarrier::describe() const { return impl_->describe(); }
bool FabricCarrier::registers_buffers() const { return impl_->registered_; }
bool FabricCarrier::has_wait_fd() const { return impl_->fd_ >= 0; }
size_t FabricCarrier::segment_payload() const { return impl_->seg_bytes_ - wire::kHeaderBytes; }

}  // namespace srdx::carrier
