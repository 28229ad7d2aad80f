#include "dpdk/neighbours.h"

namespace srdx::dp {

NeighbourTable::NeighbourTable(const NeighbourConfig& cfg) : cfg_(cfg) {
  const uint32_t bits = cfg.prefix_len > 32 ? 32 : cfg.prefix_len;
  mask_ = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
}

bool NeighbourTable::on_link(uint32_t ip) const { return (ip & mask_) == (cfg_.local_ip & mask_); }

uint32_t NeighbourTable::next_hop(uint32_t dst) const {
  if (cfg_.gateway == 0 || on_link(dst)) return dst;
  return cfg_.gateway;
}

void NeighbourTable::add_static(uint32_t ip, const frame::Mac& mac) {
  entries_[ip] = Entry{mac, true};
  pending_.erase(ip);
}

void NeighbourTable::learn(uint32_t ip, const frame::Mac& mac, bool refresh_only) {
  if (ip == 0 || mac == frame::kBroadcast || mac == frame::Mac{} || (mac[0] & 1) != 0) {
    return;  // no address, or a multicast/broadcast sender: never a neighbour
  }
  auto it = entries_.find(ip);
  if (it != entries_.end()) {
    if (!it->second.is_static) it->second.mac = mac;
  } else if (!refresh_only && entries_.size() < cfg_.capacity) {
    entries_.emplace(ip, Entry{mac, false});
  } else {
    return;
  }
  pending_.erase(ip);
}

const frame::Mac* NeighbourTable::lookup(uint32_t ip) const {
  auto it = entries_.find(ip);
  return it == entries_.end() ? nullptr : &it->second.mac;
}

bool NeighbourTable::should_request(uint32_t ip, uint64_t now_ns) {
  if (entries_.count(ip) != 0) return false;
  auto it = pending_.find(ip);
  if (it != pending_.end()) {
    if (now_ns - it->second < cfg_.retry_ns) return false;
    it->second = now_ns;
    return true;
  }
  if (pending_.size() >= cfg_.capacity) return false;
  pending_.emplace(ip, now_ns);
  return true;
}

}  // namespace srdx::dp
