#include "udp/udp_link.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace srdx::dp {

namespace {

// user_data of a completion: what it belongs to (top byte) and an index.
constexpr uint64_t kTagShift = 56;
constexpr uint64_t kTagTx = uint64_t{1} << kTagShift;      // | slot index
constexpr uint64_t kTagRx = uint64_t{2} << kTagShift;      // the multishot recvmsg
constexpr uint64_t kTagCancel = uint64_t{3} << kTagShift;  // shutdown
constexpr uint64_t kTagGso = uint64_t{4} << kTagShift;     // | GsoMsg index
constexpr uint64_t kIndexMask = (uint64_t{1} << kTagShift) - 1;

constexpr uint16_t kBufGroup = 0;
constexpr uint32_t kMaxRingBuffers = 32768;  // the kernel's limit for a buffer ring
constexpr uint32_t kMaxQueueDepth = 16384;
constexpr size_t kCacheLine = 64;
constexpr int kSocketBufferBytes = 4 << 20;  // receive socket: absorbs bursts while the ring is dry
constexpr unsigned kReapBatch = 64;
constexpr size_t kMaxGsoSegments = 64;  // the kernel's UDP_MAX_SEGMENTS
constexpr size_t kMaxGsoBytes = 65000;  // below the 64 KiB an IPv4 datagram can carry
constexpr size_t kPrepareThreshold = 256;
constexpr uint32_t kGroBuffers = 256;  // receive buffers with UDP GRO (64 KiB each)
constexpr size_t kGroBufferPayload =
    65535;  // queued datagrams that trigger grouping before a flush

std::string addr_str(uint32_t ip, uint16_t port) {
  char b[32];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                ip & 0xff, port);
  return b;
}

std::string errno_str(int err) { return std::strerror(err); }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("udp link: " + what); }

[[noreturn]] void fail_errno(const std::string& what, int err) {
  std::string hint;
  if (err == EADDRINUSE) hint = " (is another srdx running?)";
  if (err == EADDRNOTAVAIL) hint = " (is that an address of this host?)";
  if (err == EACCES) hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  if (err == EMFILE || err == ENFILE) hint = " (one socket per entropy port: raise ulimit -n)";
  fail(what + ": " + errno_str(err) + hint);
}

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

uint32_t pow2_at_least(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

void* map_anon(size_t len, const char* what) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail_errno(std::string("cannot allocate ") + what, errno);
  return p;
}

sockaddr_in sockaddr_of(uint32_t ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons(port);
  return sa;
}

// Packets the kernel dropped on this socket (full receive queue, filter).
uint64_t socket_drops(int fd) {
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0) return 0;
  return len > SK_MEMINFO_DROPS * sizeof(uint32_t) ? mem[SK_MEMINFO_DROPS] : 0;
}

void check_kernel() {
  utsname u{};
  unsigned major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return;
  if (major < 6)
    fail(std::string("Linux ") + u.release +
         " lacks multishot recvmsg on io_uring (needs 6.0 or later)");
}

void check_config(const LinkConfig& cfg) {
  const EntropyPorts& e = cfg.entropy;
  if (cfg.mtu < 576 || cfg.mtu > 65535)
    fail("mtu " + std::to_string(cfg.mtu) + " out of range (576..65535)");
  if (cfg.burst == 0) fail("burst must be at least 1");
  if (cfg.queue_depth == 0 || cfg.queue_depth > kMaxQueueDepth)
    fail("queue_depth " + std::to_string(cfg.queue_depth) + " out of range (1.." +
         std::to_string(kMaxQueueDepth) + ")");
  if (e.port_count == 0) fail("entropy.port_count must be at least 1");
  if (e.first_port == 0 || uint32_t{e.first_port} + e.port_count - 1 > 65535)
    fail("entropy ports " + std::to_string(e.first_port) + ".." +
         std::to_string(uint32_t{e.first_port} + e.port_count - 1) + " out of range (1..65535)");
  if (cfg.local.port >= e.first_port && cfg.local.port < uint32_t{e.first_port} + e.port_count)
    fail("receive port " + std::to_string(cfg.local.port) + " lies inside the entropy ports " +
         std::to_string(e.first_port) + ".." +
         std::to_string(uint32_t{e.first_port} + e.port_count - 1));
}

int open_udp(const std::string& what) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("cannot open a UDP socket for " + what, errno);
  return fd;
}

// Best effort: the forced size needs CAP_NET_ADMIN, the plain one is capped by
// net.core.[rw]mem_max.
void set_buffer(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

}  // namespace

struct UdpLink::TxSlot {
  uint8_t* data;
  sockaddr_in to;  // read by the kernel until the send completes
  uint32_t len;
  uint16_t file;  // registered file index of the source socket
};

// One GSO send: the kernel reads all of it until the completion.
struct UdpLink::GsoMsg {
  msghdr msg;
  sockaddr_in to;
  iovec iov[kMaxGsoSegments];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))];
  uint32_t slots[kMaxGsoSegments];
  uint32_t count;
};

struct UdpLink::RxMsg {
  msghdr msg;
};

UdpLink::UdpLink(const LinkConfig& cfg) : cfg_(cfg), local_(cfg.local) {
  check_config(cfg_);
  check_kernel();
  payload_max_ = cfg_.mtu - 28;
  gso_ = cfg_.udp_gso;
  try {
    open_sockets();
    setup_ring();
    setup_rx_buffers();
  } catch (...) {
    close_all();
    throw;
  }
}

UdpLink::~UdpLink() { close_all(); }

void UdpLink::open_sockets() {
  rx_fd_ = open_udp("receiving");
  set_buffer(rx_fd_, SO_RCVBUFFORCE, SO_RCVBUF, kSocketBufferBytes);
  sockaddr_in sa = sockaddr_of(cfg_.local.ip, cfg_.local.port);
  if (bind(rx_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    fail_errno("cannot bind " + addr_str(cfg_.local.ip, cfg_.local.port), errno);
  socklen_t len = sizeof sa;
  if (getsockname(rx_fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    local_ = Addr{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
  if (cfg_.udp_gro) {
    const int one = 1;  // refused by kernels before 5.0: single datagrams then
    gro_ = setsockopt(rx_fd_, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
  }
  {
    // When each datagram reached the host, so that round-trip samples leave
    // out the time it then waited for this loop (RxPath::arrival). Without
    // (a kernel that refuses) samples include it, as before.
    const int one = 1;
    stamps_ = setsockopt(rx_fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0;
  }

  // Transmit sockets: never read, so a filter drops what reaches them rather
  // than letting it sit in their queues (the kernel counts it in sk_drops).
  static sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog prog{1, drop_all};
  const EntropyPorts& e = cfg_.entropy;
  tx_fds_.reserve(e.port_count);
  for (uint32_t i = 0; i < e.port_count; ++i) {
    const auto port = static_cast<uint16_t>(e.first_port + i);
    int fd = open_udp("entropy port " + std::to_string(port));
    tx_fds_.push_back(fd);
    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    sockaddr_in ta = sockaddr_of(cfg_.local.ip, port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ta), sizeof ta) != 0)
      fail_errno("cannot bind entropy source port " + addr_str(cfg_.local.ip, port) +
                     " (entropy ports " + std::to_string(e.first_port) + ".." +
                     std::to_string(uint32_t{e.first_port} + e.port_count - 1) + ")",
                 errno);
  }
}

void UdpLink::setup_ring() {
  rx_nbufs_ =
      std::min(kMaxRingBuffers,
               pow2_at_least(std::max({cfg_.queue_depth, 4 * std::min(cfg_.burst, 4096u), 64u})));
  if (gro_) rx_nbufs_ = std::min(rx_nbufs_, kGroBuffers);
  const uint32_t sq = pow2_at_least(cfg_.queue_depth + 16);
  // Room for every completion that can be outstanding at once: one per
  // transmit slot, one per receive buffer, a few for arming and cancelling.
  const uint32_t cq = std::min(65536u, pow2_at_least(2 * (cfg_.queue_depth + rx_nbufs_ + 16)));

  ring_ = std::make_unique<io_uring>();
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = cq;
  int r = io_uring_queue_init_params(sq, ring_.get(), &p);
  if (r == -EINVAL) {  // a kernel without SUBMIT_ALL
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = cq;
    r = io_uring_queue_init_params(sq, ring_.get(), &p);
  }
  if (r < 0) {
    std::string hint = r == -EPERM || r == -ENOSYS
                           ? " (io_uring disabled? see /proc/sys/kernel/io_uring_disabled)"
                           : "";
    fail("cannot create an io_uring of " + std::to_string(sq) + " entries: " + errno_str(-r) +
         hint);
  }
  ring_ok_ = true;

  std::vector<int> fds;
  fds.push_back(rx_fd_);
  fds.insert(fds.end(), tx_fds_.begin(), tx_fds_.end());
  r = io_uring_register_files(ring_.get(), fds.data(), static_cast<unsigned>(fds.size()));
  if (r < 0) fail_errno("cannot register the sockets with io_uring", -r);

  // Transmit pool.
  tx_stride_ = round_up(payload_max_, kCacheLine);
  tx_mem_len_ = round_up(tx_stride_ * cfg_.queue_depth, 4096);
  tx_mem_ = static_cast<uint8_t*>(map_anon(tx_mem_len_, "the transmit buffers"));
  tx_slots_.resize(cfg_.queue_depth);
  tx_free_.reserve(cfg_.queue_depth);
  for (uint32_t i = 0; i < cfg_.queue_depth; ++i) {
    TxSlot& s = tx_slots_[i];
    s = TxSlot{};
    s.data = tx_mem_ + size_t{i} * tx_stride_;
    tx_free_.push_back(cfg_.queue_depth - 1 - i);  // hand out slot 0 first
  }
  tx_queued_.reserve(cfg_.queue_depth);
  tx_order_.reserve(cfg_.queue_depth);
  if (gso_) {
    const uint32_t n = std::max(1u, cfg_.queue_depth / 2);
    gso_msgs_.resize(n);
    gso_free_.reserve(n);
    for (uint32_t i = 0; i < n; ++i) gso_free_.push_back(n - 1 - i);
  }
}

void UdpLink::setup_rx_buffers() {
  rx_msg_ = std::make_unique<RxMsg>();
  rx_msg_->msg = msghdr{};
  rx_msg_->msg.msg_namelen = sizeof(sockaddr_in);
  // With GRO: room for the control message carrying the segment size.
  // With timestamps: room for the receive time.
  rx_msg_->msg.msg_controllen =
      (gro_ ? CMSG_SPACE(sizeof(int)) : 0) + (stamps_ ? CMSG_SPACE(sizeof(timespec)) : 0);

  // Each buffer: the kernel's io_uring_recvmsg_out, the source address, the
  // control message, then the payload. A datagram larger than mtu - 28 is
  // truncated and counted; with GRO a buffer takes a whole coalesced train.
  const size_t header =
      sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_in) + rx_msg_->msg.msg_controllen;
  rx_buf_len_ = header + (gro_ ? kGroBufferPayload : payload_max_);
  rx_stride_ = round_up(rx_buf_len_, kCacheLine);
  rx_mem_len_ = round_up(rx_stride_ * rx_nbufs_, 4096);
  rx_mem_ = static_cast<uint8_t*>(map_anon(rx_mem_len_, "the receive buffers"));

  br_len_ = round_up(sizeof(io_uring_buf) * rx_nbufs_, 4096);
  br_ = static_cast<io_uring_buf_ring*>(map_anon(br_len_, "the buffer ring"));
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br_);
  reg.ring_entries = rx_nbufs_;
  reg.bgid = kBufGroup;
  int r = io_uring_register_buf_ring(ring_.get(), &reg, 0);
  if (r < 0) {
    munmap(br_, br_len_);
    br_ = nullptr;
    fail_errno("cannot register a provided-buffer ring (needs Linux 5.19 or later)", -r);
  }
  rx_ready_.resize(rx_nbufs_);
  rx_lent_.reserve(rx_nbufs_);
  for (uint32_t i = 0; i < rx_nbufs_; ++i) recycle(static_cast<uint16_t>(i));
  recycle_commit();
}

void UdpLink::recycle(uint16_t bid) {
  io_uring_buf_ring_add(br_, rx_buf(bid), static_cast<unsigned>(rx_buf_len_), bid,
                        io_uring_buf_ring_mask(rx_nbufs_), br_pending_);
  ++br_pending_;
}

void UdpLink::recycle_commit() {
  if (br_pending_ == 0) return;
  io_uring_buf_ring_advance(br_, br_pending_);
  rx_in_ring_ += static_cast<uint32_t>(br_pending_);
  br_pending_ = 0;
}

void UdpLink::arm_rx() {
  if (rx_armed_ || rx_in_ring_ == 0) return;
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (!sqe) {
    submit();
    sqe = io_uring_get_sqe(ring_.get());
    if (!sqe) return;  // tried again at the next rx_burst or tx_flush
  }
  io_uring_prep_recvmsg_multishot(sqe, 0, &rx_msg_->msg, 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufGroup;
  io_uring_sqe_set_data64(sqe, kTagRx);
  rx_armed_ = true;
  counters_.rx_rearms++;
}

void UdpLink::submit() {
  int r = io_uring_submit(ring_.get());
  if (r == -EBUSY || r == -EAGAIN) {  // completions to reap first
    reap();
    r = io_uring_submit(ring_.get());
  }
  if (r < 0) {
    counters_.submit_errors++;  // the prepared entries stay queued for the next flush
    return;
  }
  tx_went_ += tx_prepared_;
  tx_prepared_ = 0;
}

void UdpLink::reap() {
  io_uring_cqe* cqes[kReapBatch];
  for (;;) {
    const unsigned n = io_uring_peek_batch_cqe(ring_.get(), cqes, kReapBatch);
    for (unsigned i = 0; i < n; ++i) {
      const io_uring_cqe* c = cqes[i];
      const uint64_t tag = c->user_data & ~kIndexMask;
      if (tag == kTagTx) {
        const auto idx = static_cast<uint32_t>(c->user_data & kIndexMask);
        if (c->res >= 0) {
          stats_.tx_packets++;
          stats_.tx_bytes += static_cast<uint64_t>(c->res);
        } else {
          stats_.tx_dropped++;
          note_send_error(c->res);
        }
        free_slot(idx);
      } else if (tag == kTagGso) {
        const auto gi = static_cast<uint32_t>(c->user_data & kIndexMask);
        GsoMsg& g = gso_msgs_[gi];
        if (c->res >= 0) {
          stats_.tx_packets += g.count;
          stats_.tx_bytes += static_cast<uint64_t>(c->res);
        } else {
          stats_.tx_dropped += g.count;
          note_send_error(c->res);
          // (Not while the address is gone: sends fail then whatever they are.)
          if (addr_up_ && !addr_suspect_ &&
              (c->res == -EINVAL || c->res == -EIO || c->res == -ENOPROTOOPT ||
               c->res == -EOPNOTSUPP)) {
            // This kernel or route cannot segment: single datagrams from now on.
            if (gso_) counters_.gso_refused++;
            gso_ = false;
          }
        }
        for (uint32_t k = 0; k < g.count; ++k) free_slot(g.slots[k]);
        gso_free_.push_back(gi);
      } else if (tag == kTagRx) {
        if (!(c->flags & IORING_CQE_F_MORE)) rx_armed_ = false;
        if (c->flags & IORING_CQE_F_BUFFER) {
          const auto bid = static_cast<uint16_t>(c->flags >> IORING_CQE_BUFFER_SHIFT);
          --rx_in_ring_;
          if (c->res > 0) {
            rx_ready_[(rx_head_ + rx_count_) & (rx_nbufs_ - 1)] = RxReady{bid, c->res};
            ++rx_count_;
          } else {
            if (c->res < 0) counters_.rx_errors++;
            recycle(bid);
          }
        } else if (c->res == -ENOBUFS) {
          counters_.rx_ring_empty++;
        } else if (c->res < 0 && c->res != -ECANCELED) {
          // ECONNREFUSED and friends: an error reported on the socket, not a
          // datagram. Ignore it; the request is armed again.
          counters_.rx_errors++;
        }
      }
    }
    io_uring_cq_advance(ring_.get(), n);
    if (n < kReapBatch) break;
  }
  if (addr_suspect_ || !addr_up_) check_address();
}

void UdpLink::note_send_error(int res) {
  if (res == -ECONNREFUSED) counters_.tx_refused++;
  if (res == -ENOBUFS || res == -ENOMEM) counters_.tx_no_buffer_space++;
  if (res == -ENETUNREACH || res == -EADDRNOTAVAIL || res == -ENETDOWN || res == -EHOSTUNREACH) {
    counters_.tx_unreachable++;
    if (cfg_.local.ip != 0) addr_suspect_ = true;
  }
}

void UdpLink::check_address() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const int64_t now = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  if (now < addr_next_check_ns_) return;
  addr_next_check_ns_ = now + 100 * 1000000;  // at most every 100 ms
  addr_suspect_ = false;
  // The address is the host's when a fresh socket can bind to it.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;  // out of descriptors: no verdict this time
  sockaddr_in sa = sockaddr_of(cfg_.local.ip, 0);
  const bool here =
      ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno != EADDRNOTAVAIL;
  ::close(fd);
  if (here == addr_up_) return;
  addr_up_ = here;
  // (The sockets are still bound. Should the receive have ended meanwhile,
  // rx_burst() and tx_flush() arm it again, as always.)
  if (here) {
    counters_.link_up_events++;
  } else {
    counters_.link_down_events++;
  }
  recycle_commit();
}

void UdpLink::recalibrate_stamps() {
  timespec c{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &c);
  const int64_t coarse = int64_t{c.tv_sec} * 1000000000 + c.tv_nsec;
  if (coarse < rt_next_ns_) return;
  rt_next_ns_ = coarse + kStampRecalibrateNs;
  timespec rt{}, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  rt_to_mono_ = (rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

// A kernel receive time (CLOCK_REALTIME) on the loop's clock (CLOCK_MONOTONIC);
// zero for a timestamp that is missing.
Time UdpLink::arrival_of(const timespec& ts) const {
  const int64_t rt = ts.tv_sec * 1000000000ll + ts.tv_nsec;
  if (rt == 0) return Time::zero();
  return Time::from_ns(rt - rt_to_mono_);
}

size_t UdpLink::rx_burst(std::span<RxDatagram> out) {
  for (uint16_t bid : rx_lent_) recycle(bid);
  rx_lent_.clear();
  recycle_commit();
  reap();
  if (!rx_armed_ && rx_in_ring_ > 0) {
    arm_rx();
    submit();
  }

  if (stamps_ && rx_count_ > 0) recalibrate_stamps();  // (a GRO cut has its arrival)
  // The rest of a coalesced buffer a previous call did not finish.
  size_t n = emit_gro(out, 0);
  msghdr* mh = &rx_msg_->msg;
  while (n < out.size() && rx_count_ > 0) {
    const RxReady r = rx_ready_[rx_head_];
    rx_head_ = (rx_head_ + 1) & (rx_nbufs_ - 1);
    --rx_count_;
    uint8_t* buf = rx_buf(r.bid);
    io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf, r.len, mh);
    if (!o || o->namelen < sizeof(sockaddr_in)) {
      counters_.rx_errors++;
      recycle(r.bid);
      continue;
    }
    if (o->flags & MSG_TRUNC) {
      stats_.rx_truncated++;
      recycle(r.bid);
      continue;
    }
    sockaddr_in sa;
    std::memcpy(&sa, io_uring_recvmsg_name(o), sizeof sa);
    const Addr src{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
    const auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(o, mh));
    const unsigned len = io_uring_recvmsg_payload_length(o, r.len, mh);
    int seg = 0;  // UDP GRO: the size of every datagram but the last
    Time arrival = Time::zero();
    if (gro_ || stamps_) {
      for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(o, mh); c;
           c = io_uring_recvmsg_cmsg_nexthdr(o, mh, c)) {
        if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          std::memcpy(&seg, CMSG_DATA(c), sizeof seg);
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
                   c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          arrival = arrival_of(ts);
        }
      }
    }
    if (seg > 0 && static_cast<unsigned>(seg) < len) {
      if (static_cast<unsigned>(seg) > payload_max_) {
        stats_.rx_truncated++;  // datagrams larger than ours could be
        recycle(r.bid);
        continue;
      }
      counters_.gro_buffers++;
      counters_.gro_datagrams +=
          (len + static_cast<unsigned>(seg) - 1) / static_cast<unsigned>(seg);
      gro_cut_ = GroCut{r.bid, payload, len, static_cast<size_t>(seg), src, arrival};
      n = emit_gro(out, n);
      continue;
    }
    if (len > payload_max_) {  // only possible with the larger GRO buffers
      stats_.rx_truncated++;
      recycle(r.bid);
      continue;
    }
    out[n].payload = std::span<const uint8_t>(payload, len);
    out[n].src = src;
    out[n].arrival = arrival;
    stats_.rx_packets++;
    stats_.rx_bytes += len;
    rx_lent_.push_back(r.bid);
    ++n;
  }
  recycle_commit();
  return n;
}

// Hands out the datagrams of the coalesced buffer being cut, from out[n] on;
// the buffer is lent (recycled at the next rx_burst) once its last datagram
// is out. Returns the new n.
size_t UdpLink::emit_gro(std::span<RxDatagram> out, size_t n) {
  GroCut& g = gro_cut_;
  while (g.left > 0 && n < out.size()) {
    const size_t take = std::min(g.left, g.seg);
    out[n].payload = std::span<const uint8_t>(g.next, take);
    out[n].src = g.src;
    out[n].arrival = g.arrival;
    stats_.rx_packets++;
    stats_.rx_bytes += take;
    g.next += take;
    g.left -= take;
    ++n;
    if (g.left == 0) rx_lent_.push_back(g.bid);
  }
  return n;
}

std::span<uint8_t> UdpLink::tx_buffer() {
  if (tx_current_ < 0) {
    if (tx_free_.empty()) reap();
    if (tx_free_.empty()) {
      stats_.tx_no_buffer++;
      return {};
    }
    tx_current_ = tx_free_.back();
    tx_free_.pop_back();
  }
  return std::span<uint8_t>(tx_slots_[tx_current_].data, payload_max_);
}

void UdpLink::tx_commit(size_t len, const TxPath& path) {
  if (tx_current_ < 0) return;  // no tx_buffer() to commit
  if (len == 0 || len > payload_max_) {
    stats_.tx_dropped++;  // the slot stays with the caller for the next payload
    return;
  }
  const auto idx = static_cast<uint32_t>(tx_current_);
  TxSlot& s = tx_slots_[idx];
  s.to = sockaddr_of(path.remote.ip, path.remote.port);
  s.len = static_cast<uint32_t>(len);
  s.file = static_cast<uint16_t>(1 + path.entropy % cfg_.entropy.port_count);
  tx_current_ = -1;
  ++tx_inflight_;
  tx_queued_.push_back(idx);
  if (tx_queued_.size() >= kPrepareThreshold) prepare_sends();
}

void UdpLink::free_slot(uint32_t slot) {
  tx_free_.push_back(slot);
  --tx_inflight_;
}

io_uring_sqe* UdpLink::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (!sqe) {
    submit();
    sqe = io_uring_get_sqe(ring_.get());
  }
  return sqe;
}

bool UdpLink::prepare_one(uint32_t idx) {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) {
    stats_.tx_dropped++;
    free_slot(idx);
    return false;
  }
  TxSlot& s = tx_slots_[idx];
  // IORING_OP_SEND with a destination (sendto) spares the kernel the
  // msghdr and iovec copies of a sendmsg.
  io_uring_prep_send(sqe, s.file, s.data, s.len, 0);
  io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&s.to), sizeof s.to);
  sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64(sqe, kTagTx | idx);
  ++tx_prepared_;
  return true;
}

bool UdpLink::prepare_gso(const uint32_t* slots, size_t n) {
  if (gso_free_.empty()) {
    for (size_t k = 0; k < n; ++k) prepare_one(slots[k]);
    return false;
  }
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) {
    stats_.tx_dropped += n;
    for (size_t k = 0; k < n; ++k) free_slot(slots[k]);
    return false;
  }
  const uint32_t gi = gso_free_.back();
  gso_free_.pop_back();
  GsoMsg& g = gso_msgs_[gi];
  const TxSlot& first = tx_slots_[slots[0]];
  g.to = first.to;
  g.count = static_cast<uint32_t>(n);
  for (size_t k = 0; k < n; ++k) {
    g.slots[k] = slots[k];
    g.iov[k] = iovec{tx_slots_[slots[k]].data, tx_slots_[slots[k]].len};
  }
  g.msg = msghdr{};
  g.msg.msg_name = &g.to;
  g.msg.msg_namelen = sizeof g.to;
  g.msg.msg_iov = g.iov;
  g.msg.msg_iovlen = n;
  g.msg.msg_control = g.control;
  g.msg.msg_controllen = sizeof g.control;
  cmsghdr* cm = CMSG_FIRSTHDR(&g.msg);
  cm->cmsg_level = IPPROTO_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const auto seg = static_cast<uint16_t>(first.len);
  std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
  io_uring_prep_sendmsg(sqe, first.file, &g.msg, 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64(sqe, kTagGso | gi);
  tx_prepared_ += n;
  counters_.gso_sends++;
  counters_.gso_datagrams += n;
  return true;
}

void UdpLink::prepare_sends() {
  if (tx_queued_.empty()) return;
  if (!gso_) {
    for (uint32_t idx : tx_queued_) prepare_one(idx);
    tx_queued_.clear();
    return;
  }
  // Group by source socket and destination, keeping commit order inside a
  // group: a sprayed burst touches a few dozen sockets, so quadratic is fine.
  auto same = [&](uint32_t a, uint32_t b) {
    const TxSlot& x = tx_slots_[a];
    const TxSlot& y = tx_slots_[b];
    return x.file == y.file && x.to.sin_addr.s_addr == y.to.sin_addr.s_addr &&
           x.to.sin_port == y.to.sin_port;
  };
  tx_order_.clear();
  const size_t n = tx_queued_.size();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t head = tx_queued_[i];
    if (head == UINT32_MAX) continue;
    tx_order_.push_back(head);
    for (size_t j = i + 1; j < n; ++j) {
      if (tx_queued_[j] != UINT32_MAX && same(head, tx_queued_[j])) {
        tx_order_.push_back(tx_queued_[j]);
        tx_queued_[j] = UINT32_MAX;
      }
    }
  }
  tx_queued_.clear();
  // Runs of one group with one size (the last may be shorter) go as one send.
  size_t i = 0;
  while (i < tx_order_.size()) {
    const uint32_t head = tx_order_[i];
    const uint32_t seg = tx_slots_[head].len;
    size_t j = i + 1;
    size_t bytes = seg;
    while (j < tx_order_.size() && j - i < kMaxGsoSegments && same(head, tx_order_[j])) {
      const uint32_t len = tx_slots_[tx_order_[j]].len;
      if (len > seg || bytes + len > kMaxGsoBytes) break;
      bytes += len;
      ++j;
      if (len < seg) break;  // a shorter datagram ends the run
    }
    if (j - i == 1 || !gso_) {
      for (size_t k = i; k < j; ++k) prepare_one(tx_order_[k]);
    } else {
      prepare_gso(&tx_order_[i], j - i);
    }
    i = j;
  }
}

size_t UdpLink::tx_flush() {
  prepare_sends();
  arm_rx();
  if (io_uring_sq_ready(ring_.get()) > 0) submit();
  reap();
  const size_t went = tx_went_;
  tx_went_ = 0;
  return went;
}

std::vector<std::pair<std::string_view, uint64_t>> UdpLink::backend_counters() const {
  const UdpLinkCounters& c = counters_;
  return {{"gso", gso_ ? 1 : 0},
          {"gso_sends", c.gso_sends},
          {"gso_datagrams", c.gso_datagrams},
          {"gso_refused", c.gso_refused},
          {"gro", gro_ ? 1 : 0},
          {"gro_buffers", c.gro_buffers},
          {"gro_datagrams", c.gro_datagrams},
          {"tx_refused", c.tx_refused},
          {"tx_no_buffer_space", c.tx_no_buffer_space},
          {"rx_errors", c.rx_errors},
          {"rx_ring_empty", c.rx_ring_empty},
          {"rx_rearms", c.rx_rearms},
          {"submit_errors", c.submit_errors},
          {"tx_unreachable", c.tx_unreachable},
          // The link's state as the dpdk link reports its port's: the API
          // and the metrics show it (link.up, srdx_link_up).
          {"link_up", addr_up_ ? 1 : 0},
          {"link_up_events", c.link_up_events},
          {"link_down_events", c.link_down_events}};
}

int UdpLink::wait_fd() const { return ring_ok_ ? ring_->ring_fd : -1; }

LinkStats UdpLink::stats() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const int64_t now = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  if (now >= drops_next_read_ns_) {
    drops_next_read_ns_ = now + 250 * 1000000;
    kernel_rx_dropped_ = socket_drops(rx_fd_);
    kernel_tx_socket_drops_ = 0;
    for (int fd : tx_fds_) kernel_tx_socket_drops_ += socket_drops(fd);
  }
  LinkStats s = stats_;
  s.rx_dropped = kernel_rx_dropped_;
  s.rx_not_for_us += kernel_tx_socket_drops_;
  return s;
}

void UdpLink::close_all() {
  if (ring_ok_) {
    // Cancel what is pending (the multishot receive, sends waiting for socket
    // space) and wait, briefly, for the kernel to let go of our buffers.
    if (io_uring_sqe* sqe = io_uring_get_sqe(ring_.get())) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, kTagCancel);
    }
    io_uring_submit(ring_.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    for (;;) {
      reap();
      if (!rx_armed_ && tx_inflight_ == 0) break;
      if (std::chrono::steady_clock::now() > deadline) break;
      __kernel_timespec ts{0, 10'000'000};
      io_uring_cqe* c = nullptr;
      io_uring_wait_cqe_timeout(ring_.get(), &c, &ts);
    }
    if (br_) io_uring_unregister_buf_ring(ring_.get(), kBufGroup);
    // Let go of the sockets now: left to the ring's teardown, which the
    // kernel finishes later in a worker, the ports would stay bound for a
    // while and a restarted srdx would find them in use.
    io_uring_unregister_files(ring_.get());
    close_sockets();
    io_uring_queue_exit(ring_.get());
    ring_ok_ = false;
  }
  if (br_) munmap(br_, br_len_);
  if (rx_mem_) munmap(rx_mem_, rx_mem_len_);
  if (tx_mem_) munmap(tx_mem_, tx_mem_len_);
  br_ = nullptr;
  rx_mem_ = tx_mem_ = nullptr;
  close_sockets();
}

void UdpLink::close_sockets() {
  if (rx_fd_ >= 0) close(rx_fd_);
  rx_fd_ = -1;
  for (int fd : tx_fds_) close(fd);
  tx_fds_.clear();
}

std::unique_ptr<Link> make_udp_link(const LinkConfig& cfg) {
  return std::make_unique<UdpLink>(cfg);
}

}  // namespace srdx::dp
