// Helpers for the udp link tests: links on 127.0.0.1 with entropy port ranges
// that do not collide with each other, and a receive loop with a deadline.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "udp/udp_link.h"

namespace srdx::dp::test {

inline constexpr uint32_t kLoopback = 0x7f000001;  // 127.0.0.1

// A link on 127.0.0.1 with a kernel-chosen receive port and `ports` entropy
// ports below the ephemeral range, moving on when a range is taken.
inline std::unique_ptr<UdpLink> open_link(LinkConfig cfg, uint16_t ports = 8) {
  static uint32_t next = 20000 + static_cast<uint32_t>(getpid() % 40) * 200;
  cfg.local = Addr{kLoopback, 0};
  cfg.entropy.port_count = ports;
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (next + ports > 32000) next = 20000;
    cfg.entropy.first_port = static_cast<uint16_t>(next);
    next += ports;
    try {
      return std::make_unique<UdpLink>(cfg);
    } catch (const std::runtime_error& e) {
      if (!std::strstr(e.what(), "in use")) throw;
    }
  }
  throw std::runtime_error("no free entropy port range for the test");
}

inline std::unique_ptr<UdpLink> open_link(uint16_t ports = 8) {
  return open_link(LinkConfig{}, ports);
}

// Calls rx_burst until `want` datagrams arrived in total, or until nothing
// arrived for `quiet`. `each` sees every datagram. Returns how many arrived.
inline size_t receive(UdpLink& link, size_t want,
                      const std::function<void(const RxDatagram&)>& each,
                      std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) {
  RxDatagram rx[64];
  size_t got = 0;
  auto last = std::chrono::steady_clock::now();
  while (got < want) {
    const size_t n = link.rx_burst(rx);
    for (size_t i = 0; i < n; ++i) each(rx[i]);
    got += n;
    const auto now = std::chrono::steady_clock::now();
    if (n > 0) {
      last = now;
    } else if (now - last > quiet) {
      break;
    } else {
      std::this_thread::yield();
    }
  }
  return got;
}

}  // namespace srdx::dp::test
