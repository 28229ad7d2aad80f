// The `sim` link backend: the dp::Link (dataplane/link.h) a simulated host's
// Poller drives, over the simulated Network.
//
// It behaves as a UDP socket bound to the host's address does, in simulated
// time:
//   - rx_burst() hands over, in arrival order, the datagrams the network
//     delivered to the host (Host::deliver -> push()). A datagram's `src` is
//     what a socket reports: the sender's IP and UDP source port, which is
//     the sender's entropy, so the Poller's RxPath carries it as the other
//     links' does. (The endpoint finds its peer by the listening port the
//     packet names, as over udp.)
//   - tx_commit() hands the datagram to the network at once, from the host's
//     address with UDP source port = the entropy (all 65536 of them: the
//     fabric's ECMP hash sees every entropy, as srdx-sim always did).
//     tx_flush() says how many of those committed since the last flush the
//     network took; one it refused (no route, too large) is dropped and
//     counted in tx_dropped.
//   - It never runs out of buffers, and it has no wait_fd(): simulated time
//     is stepped, never slept through.
//
// A datagram keeps the Label the harness gave it (who made its bytes), for
// the host's taint counters; the endpoint never sees it.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "../link.h"  // dataplane/link.h; "link.h" here would be sim/link.h (a fabric path)
#include "sim/network.h"

namespace srdx::sim {

class HostLink : public dp::Link {
 public:
  // `local` is the host's address (its IP and the port it receives on);
  // `mtu` the IP MTU (tx_buffer() gives mtu - 28 bytes).
  HostLink(Network& net, Addr local, uint32_t mtu);

  // A datagram the network delivered to this host: copied and queued, as a
  // socket's receive buffer holds it until the next rx_burst().
  void push(const Datagram& d);
  // Datagrams and payload bytes waiting for rx_burst().
  size_t queued() const { return inbox_.size(); }
  uint64_t queued_bytes() const { return inbox_bytes_; }
  // Who made the bytes of `d`, one of the datagrams the last rx_burst()
  // handed out.
  Label label_of(const dp::RxDatagram& d) const;

  // dp::Link.
  std::string_view kind() const override { return "sim"; }
  Addr local() const override { return local_; }
  size_t rx_burst(std::span<dp::RxDatagram> out) override;
  std::span<uint8_t> tx_buffer() override { return txbuf_; }
  void tx_commit(size_t len, const TxPath& path) override;
  size_t tx_flush() override;
  dp::LinkStats stats() const override { return stats_; }

 private:
  struct Held {
    Addr src;  // sender's IP and UDP source port
    Label label = Label::genuine;
    std::vector<uint8_t> bytes;
  };

  Network& net_;
  Addr local_;
  std::vector<uint8_t> txbuf_;
  std::deque<Held> inbox_;
  uint64_t inbox_bytes_ = 0;
  std::vector<Held> out_;                   // what the last rx_burst() handed out
  size_t out_labelled_ = 0;                 // of those, not Label::genuine
  std::vector<std::vector<uint8_t>> free_;  // payload buffers to reuse
  size_t committed_ = 0, refused_ = 0;      // since the last tx_flush()
  dp::LinkStats stats_;
};

}  // namespace srdx::sim
