// The `udp` link backend: kernel UDP sockets driven through one io_uring.
//
// Sockets. One receive socket bound to cfg.local (the port peers answer to,
// which the endpoint writes into every packet) and one transmit socket per
// port of cfg.entropy, each bound to cfg.local.ip: a datagram leaves from the
// socket of the port its entropy maps to (EntropyPorts::port_for), so ECMP
// hashes it onto that path. Nothing is expected on the transmit sockets; a
// socket filter drops whatever arrives there (counted in rx_not_for_us).
//
// Transmit. A fixed pool of cfg.queue_depth slots of mtu - 28 bytes.
// tx_commit() queues a datagram; tx_flush() (or a full queue) groups the
// queued datagrams by source socket and destination, keeping their order
// within a group, and prepares one request per group: with UDP GSO
// (cfg.udp_gso, on by default) a run of same-size datagrams, the last
// possibly shorter, becomes one IORING_OP_SENDMSG carrying a UDP_SEGMENT
// control message (at most 64 datagrams, 64 KiB), which the kernel walks
// through its stack once and cuts into datagrams as late as it can; a lone
// datagram is an IORING_OP_SEND with a destination (a sendto). Then one
// io_uring_enter submits them all and what has completed is reaped without
// waiting. Sprayed traffic changes source port every few datagrams, so the
// groups are short; a burst over 16 ports still halves the requests. A kernel
// that refuses GSO (EINVAL, EIO, ENOPROTOOPT) turns it off for the link
// (counted; the refused datagrams are dropped and counted, as any failed
// send). A slot is free again once its completion is reaped; until then
// tx_buffer() may run dry (counted in tx_no_buffer). Failed sends are
// counted in tx_dropped, never retried.
//
// The local address going away. An interface removed or its address
// deleted (cfg.local.ip no longer configured on the host) makes every send
// fail (ENETUNREACH, EADDRNOTAVAIL, ENETDOWN, EHOSTUNREACH: counted in
// tx_unreachable) while nothing arrives. On such a failure the link checks
// whether the address is still the host's (a bind() to it on a scratch
// socket): if not, the link is down (backend counter link_up = 0,
// link_down_events + 1). While down it checks again every 100 ms; when the
// address is back, link_up = 1 and link_up_events + 1. The sockets stay
// bound throughout (the kernel keeps a socket bound to an address that
// left), so traffic resumes as it returns: what was dropped meanwhile is the
// engine's to retransmit, as for any lost packet. A link bound to 0.0.0.0
// never goes down this way.
//
// Receive. One multishot recvmsg on the receive socket picks buffers from a
// provided-buffer ring: every arriving datagram becomes one completion
// without a system call. rx_burst() only reads the completion queue. Buffers
// handed out by rx_burst() go back to the ring at the next rx_burst(). When
// the ring runs dry the kernel ends the multishot request (datagrams wait in
// the socket's receive queue) and the next rx_burst()/tx_flush() re-arms it.
// The receive is first armed by the first rx_burst() or tx_flush(), so that
// its work belongs to the thread that polls the link, not to the one that
// built it; until then datagrams wait in the socket.
//
// With UDP GRO (cfg.udp_gro, on by default, when the kernel takes the socket
// option) the kernel may coalesce datagrams of one source into one buffer
// with their segment size in a control message (a GSO train from a peer over
// loopback or a NIC that aggregates); rx_burst() cuts it into the datagrams
// it was. Buffers are then 64 KiB each and fewer (the ring holds 256), since
// a coalesced buffer must never be truncated.
//
// wait_fd() is the ring's own fd: readable while completions are waiting,
// which is exactly when rx_burst() has work (call rx_burst() once before
// sleeping on it). Needs Linux 6.0 or later.
//
// One thread drives a link at a time (the poll loop's); nothing is locked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "link.h"

struct io_uring;
struct io_uring_buf_ring;
struct io_uring_sqe;

namespace srdx::dp {

// What the udp link counts beyond LinkStats.
struct UdpLinkCounters {
  uint64_t tx_refused = 0;          // sends failed with ECONNREFUSED (ICMP port unreachable)
  uint64_t tx_no_buffer_space = 0;  // sends failed with ENOBUFS or ENOMEM
  uint64_t rx_errors = 0;           // receive completions carrying an error
  uint64_t rx_ring_empty = 0;       // the multishot receive stopped: no free buffer
  uint64_t rx_rearms = 0;           // the multishot receive was armed again
  uint64_t submit_errors = 0;       // io_uring_enter refused a submission (retried next flush)
  uint64_t gso_sends = 0;           // requests that carried several datagrams (UDP GSO)
  uint64_t gso_datagrams = 0;       // datagrams those carried
  uint64_t gso_refused = 0;         // GSO sends the kernel refused; GSO is then off
  uint64_t gro_buffers = 0;         // receive buffers that held several datagrams (UDP GRO)
  uint64_t gro_datagrams = 0;       // datagrams those held
  uint64_t tx_unreachable = 0;      // sends failed: no route from the local address (it left?)
  uint64_t link_down_events = 0;    // the local address found gone from the host
  uint64_t link_up_events = 0;      // ... and found back
};

class UdpLink final : public Link {
 public:
  // Throws std::runtime_error with a one line reason.
  explicit UdpLink(const LinkConfig& cfg);
  ~UdpLink() override;
  UdpLink(const UdpLink&) = delete;
  UdpLink& operator=(const UdpLink&) = delete;

  std::string_view kind() const override { return "udp"; }
  // The bound address: with cfg.local.port == 0 the kernel's choice.
  Addr local() const override { return local_; }
  size_t rx_burst(std::span<RxDatagram> out) override;
  std::span<uint8_t> tx_buffer() override;
  void tx_commit(size_t len, const TxPath& path) override;
  size_t tx_flush() override;
  int wait_fd() const override;
  LinkStats stats() const override;
  std::vector<std::pair<std::string_view, uint64_t>> backend_counters() const override;

  const UdpLinkCounters& counters() const { return counters_; }
  const EntropyPorts& entropy() const { return cfg_.entropy; }
  // Sends prepared or submitted whose completion has not been reaped.
  size_t tx_in_flight() const { return tx_inflight_; }
  // Whether UDP GSO is in use (configured, and not refused by the kernel).
  bool gso() const { return gso_; }
  // Whether the receive socket accepts coalesced datagrams (UDP GRO).
  bool gro() const { return gro_; }
  // False while the local address is gone from the host (see above).
  bool link_up() const { return addr_up_; }

 private:
  struct TxSlot;
  struct GsoMsg;
  struct RxReady {
    uint16_t bid;
    int32_t len;
  };

  void open_sockets();
  void setup_ring();
  void setup_rx_buffers();
  void close_all();
  void close_sockets();
  void arm_rx();  // prepares the multishot recvmsg if it is not running
  void submit();  // io_uring_submit, counting refusals
  void reap();    // every completion waiting, both directions
  void recycle(uint16_t bid);
  void recycle_commit();  // publishes the recycled buffers to the kernel
  void prepare_sends();   // turns the queued datagrams into send requests
  bool prepare_one(uint32_t slot);
  bool prepare_gso(const uint32_t* slots, size_t n);
  io_uring_sqe* next_sqe();
  void free_slot(uint32_t slot);
  void note_send_error(int res);
  void check_address();  // after a reap: is the local address (still, again) the host's?
  uint8_t* rx_buf(uint16_t bid) { return rx_mem_ + size_t{bid} * rx_stride_; }

  LinkConfig cfg_;
  Addr local_;
  uint32_t payload_max_ = 0;  // mtu - 28

  int rx_fd_ = -1;
  std::vector<int> tx_fds_;  // one per entropy port, in port order

  std::unique_ptr<io_uring> ring_;
  bool ring_ok_ = false;

  // Transmit pool.
  std::vector<TxSlot> tx_slots_;
  std::vector<uint32_t> tx_free_;
  uint8_t* tx_mem_ = nullptr;
  size_t tx_mem_len_ = 0;
  size_t tx_stride_ = 0;
  int64_t tx_current_ = -1;          // the slot the last tx_buffer() gave out
  size_t tx_prepared_ = 0;           // sends prepared, not yet submitted
  size_t tx_went_ = 0;               // sends submitted since the last tx_flush()
  size_t tx_inflight_ = 0;           // sends prepared whose completion is not reaped
  std::vector<uint32_t> tx_queued_;  // committed, not yet prepared (in commit order)
  std::vector<uint32_t> tx_order_;   // scratch: tx_queued_ grouped
  bool gso_ = true;
  bool gro_ = false;
  // Kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME) on the
  // receiving socket; rt_to_mono_ converts them. The two clocks run at the
  // same rate (NTP slews both), so their difference changes only when the
  // wall clock is stepped: rx_burst() takes it again at most every
  // kStampRecalibrateNs (by the coarse clock, which costs no TSC read), and
  // only when datagrams wait, not two precise clock reads per call.
  bool stamps_ = false;
  int64_t rt_to_mono_ = 0;
  int64_t rt_next_ns_ = 0;  // CLOCK_MONOTONIC_COARSE: when to take rt_to_mono_ again
  static constexpr int64_t kStampRecalibrateNs = 10 * 1000000;
  void recalibrate_stamps();
  Time arrival_of(const timespec& ts) const;
  // A coalesced receive buffer being cut into datagrams by rx_burst().
  struct GroCut {
    uint16_t bid = 0;
    const uint8_t* next = nullptr;
    size_t left = 0, seg = 0;  // left = 0: no cut under way
    Addr src;
    Time arrival;
  } gro_cut_;
  size_t emit_gro(std::span<RxDatagram> out, size_t n);
  std::vector<GsoMsg> gso_msgs_;  // msghdr, iovecs and control message of a GSO send
  std::vector<uint32_t> gso_free_;

  // Receive: provided buffers, completions waiting, buffers lent to the caller.
  io_uring_buf_ring* br_ = nullptr;
  size_t br_len_ = 0;
  uint32_t rx_nbufs_ = 0;
  uint8_t* rx_mem_ = nullptr;
  size_t rx_mem_len_ = 0;
  size_t rx_stride_ = 0;
  size_t rx_buf_len_ = 0;          // what the kernel may fill: header, address, mtu - 28
  int br_pending_ = 0;             // buffers added to the ring, not yet published
  uint32_t rx_in_ring_ = 0;        // buffers the kernel may fill
  std::vector<RxReady> rx_ready_;  // a FIFO of capacity rx_nbufs_
  size_t rx_head_ = 0, rx_count_ = 0;
  std::vector<uint16_t> rx_lent_;
  bool rx_armed_ = false;
  struct RxMsg;
  std::unique_ptr<RxMsg> rx_msg_;  // the msghdr template of the multishot recvmsg

  bool addr_up_ = true;
  bool addr_suspect_ = false;  // a send failed as if the address were gone
  int64_t addr_next_check_ns_ = 0;
  // The kernel's drop counts of the sockets (SO_MEMINFO, one getsockopt per
  // socket: 65 calls), read by stats() at most every 250 ms. srdxd takes a
  // snapshot every 10 ms on the poll thread; reading them each time cost the
  // loop about 1.5k syscalls a second.
  mutable uint64_t kernel_rx_dropped_ = 0, kernel_tx_socket_drops_ = 0;
  mutable int64_t drops_next_read_ns_ = 0;

  LinkStats stats_;
  UdpLinkCounters counters_;
};

std::unique_ptr<Link> make_udp_link(const LinkConfig& cfg);

}  // namespace srdx::dp
