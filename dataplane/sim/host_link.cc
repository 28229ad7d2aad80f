#include "sim/host_link.h"

#include <algorithm>

#include "srdx/config.h"

namespace srdx::sim {

HostLink::HostLink(Network& net, Addr local, uint32_t mtu)
    : net_(net), local_(local), txbuf_(mtu - tuning::kIpUdpOverhead) {}

void HostLink::push(const Datagram& d) {
  Held h{Addr{d.src.ip, d.src_port}, d.label, {}};
  if (!free_.empty()) {
    h.bytes = std::move(free_.back());
    free_.pop_back();
  }
  // A buffer of its own even for an empty datagram: label_of() tells the
  // datagrams of a burst apart by where their payloads are.
  h.bytes.reserve(std::max<size_t>(d.bytes.size(), 1));
  h.bytes.assign(d.bytes.begin(), d.bytes.end());  // reuses the buffer's capacity
  inbox_bytes_ += d.bytes.size();
  inbox_.push_back(std::move(h));
}

size_t HostLink::rx_burst(std::span<dp::RxDatagram> out) {
  // The previous burst's payloads are no longer valid: recycle them.
  for (Held& h : out_) free_.push_back(std::move(h.bytes));
  out_.clear();
  out_labelled_ = 0;
  const size_t n = std::min(out.size(), inbox_.size());
  for (size_t i = 0; i < n; ++i) {
    out_.push_back(std::move(inbox_.front()));
    inbox_.pop_front();
  }
  for (size_t i = 0; i < n; ++i) {
    const Held& h = out_[i];
    out[i] = dp::RxDatagram{h.bytes, h.src};
    inbox_bytes_ -= h.bytes.size();
    stats_.rx_packets++;
    stats_.rx_bytes += h.bytes.size();
    out_labelled_ += h.label != Label::genuine;
  }
  return n;
}

Label HostLink::label_of(const dp::RxDatagram& d) const {
  if (out_labelled_ == 0) return Label::genuine;
  for (const Held& h : out_) {
    if (h.bytes.data() == d.payload.data()) return h.label;
  }
  return Label::genuine;
}

void HostLink::tx_commit(size_t len, const TxPath& path) {
  const std::span<const uint8_t> bytes(txbuf_.data(), len);
  committed_++;
  if (net_.send(local_, path.entropy, path.remote, bytes)) {
    stats_.tx_packets++;
    stats_.tx_bytes += len;
  } else {
    refused_++;
    stats_.tx_dropped++;
  }
}

size_t HostLink::tx_flush() {
  const size_t went = committed_ - refused_;
  committed_ = refused_ = 0;
  return went;
}

}  // namespace srdx::sim
