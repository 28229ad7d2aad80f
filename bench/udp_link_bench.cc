// Packet rate of the udp link (io_uring) against a plain sendmmsg/recvmmsg
// loop on the same kind of sockets: one receive socket, one transmit socket
// per entropy port, 64-byte payloads on loopback, bursts of 32, the receiver
// drained after every burst, one thread.
//
// `spray` is how many entropies (source ports, so sockets) a burst of 32 is
// spread over: 32 is what the transport does (every datagram from another
// port: sendmmsg can batch nothing, io_uring batches across sockets), 1 is
// sendmmsg's best case (one call for the whole burst).
//
//   build/bench/srdx-udp-bench --benchmark_counters_tabular=true
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "udp/udp_link.h"

namespace {

using srdx::Addr;
using srdx::TxPath;
using srdx::dp::LinkConfig;
using srdx::dp::RxDatagram;
using srdx::dp::UdpLink;

constexpr uint32_t kLoopback = 0x7f000001;
constexpr size_t kPayload = 64;
constexpr uint32_t kBurst = 32;
constexpr uint16_t kPorts = 64;

// Entropy port ranges below the ephemeral range, moving on when one is taken.
uint16_t next_range() {
  static uint32_t next = 33000 - 20 * kPorts;
  next += kPorts;
  if (next + kPorts > 32700) next = 12000;
  return static_cast<uint16_t>(next);
}

std::unique_ptr<UdpLink> open_link() {
  LinkConfig cfg;
  cfg.local = Addr{kLoopback, 0};
  cfg.entropy.port_count = kPorts;
  for (int attempt = 0; attempt < 100; ++attempt) {
    cfg.entropy.first_port = next_range();
    try {
      return std::make_unique<UdpLink>(cfg);
    } catch (const std::runtime_error& e) {
      if (!std::strstr(e.what(), "in use")) throw;
    }
  }
  throw std::runtime_error("no free port range");
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// pkts/s is per wall-clock second; pkts/cpu_s per second of this thread's CPU
// time (user and kernel: loopback delivers inside the sending thread), which
// other load on the machine disturbs less.
void report(benchmark::State& state, uint64_t sent, uint64_t received, double cpu_s) {
  state.counters["pkts/cpu_s"] = static_cast<double>(received) / cpu_s;
  state.counters["pkts/s"] =
      benchmark::Counter(static_cast<double>(received), benchmark::Counter::kIsRate);
  state.counters["tx_pkts/s"] =
      benchmark::Counter(static_cast<double>(sent), benchmark::Counter::kIsRate);
  state.counters["lost"] = static_cast<double>(sent - received);
  state.SetItemsProcessed(static_cast<int64_t>(received));
}

void BM_UdpLinkIoUring(benchmark::State& state) {
  const auto spray = static_cast<uint32_t>(state.range(0));
  auto tx = open_link();
  auto rx = open_link();
  RxDatagram got[64];
  uint64_t sent = 0, received = 0;
  uint16_t entropy = 0;
  TxPath path;
  path.remote = rx->local();
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    for (uint32_t k = 0; k < kBurst; ++k) {
      std::span<uint8_t> buf = tx->tx_buffer();
      if (buf.empty()) break;
      std::memset(buf.data(), static_cast<int>(k), kPayload);
      path.entropy = static_cast<uint16_t>(entropy + k % spray);
      tx->tx_commit(kPayload, path);
    }
    sent += tx->tx_flush();
    while (size_t n = rx->rx_burst(got)) received += n;
    entropy = static_cast<uint16_t>(entropy + spray);
  }
  // The loop's clock has stopped: collect the stragglers of the last burst.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (received < sent && std::chrono::steady_clock::now() < until) {
    tx->tx_flush();
    received += rx->rx_burst(got);
  }
  report(state, sent, received, thread_cpu_seconds() - cpu0);
  state.counters["tx_no_buffer"] = static_cast<double>(tx->stats().tx_no_buffer);
}

// The same sockets without io_uring: sendmmsg per source socket, recvmmsg.
struct PlainSockets {
  int rx = -1;
  uint16_t rx_port = 0;
  std::vector<int> tx;

  PlainSockets() {
    rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int bytes = 4 << 20;
    if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
      setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    sockaddr_in sa = at(0);
    if (bind(rx, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("bind rx");
    socklen_t len = sizeof sa;
    getsockname(rx, reinterpret_cast<sockaddr*>(&sa), &len);
    rx_port = ntohs(sa.sin_port);
    for (int attempt = 0; attempt < 100 && tx.empty(); ++attempt) {
      const uint16_t first = next_range();
      for (uint16_t i = 0; i < kPorts; ++i) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in ta = at(static_cast<uint16_t>(first + i));
        if (bind(fd, reinterpret_cast<sockaddr*>(&ta), sizeof ta) != 0) {
          close(fd);
          for (int t : tx) close(t);
          tx.clear();
          break;
        }
        tx.push_back(fd);
      }
    }
    if (tx.empty()) throw std::runtime_error("no free port range");
  }
  ~PlainSockets() {
    close(rx);
    for (int fd : tx) close(fd);
  }
  static sockaddr_in at(uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(kLoopback);
    sa.sin_port = htons(port);
    return sa;
  }
};

void BM_SendmmsgRecvmmsg(benchmark::State& state) {
  const auto spray = static_cast<uint32_t>(state.range(0));
  PlainSockets s;
  sockaddr_in to = PlainSockets::at(s.rx_port);

  // The burst, grouped by source socket: datagram k leaves from socket k % spray.
  std::vector<uint8_t> tx_mem(kBurst * kPayload);
  std::vector<iovec> tx_iov(kBurst);
  std::vector<mmsghdr> tx_msgs(kBurst);
  for (uint32_t k = 0; k < kBurst; ++k) {
    tx_iov[k] = iovec{tx_mem.data() + k * kPayload, kPayload};
    tx_msgs[k] = mmsghdr{};
    tx_msgs[k].msg_hdr.msg_name = &to;
    tx_msgs[k].msg_hdr.msg_namelen = sizeof to;
    tx_msgs[k].msg_hdr.msg_iov = &tx_iov[k];
    tx_msgs[k].msg_hdr.msg_iovlen = 1;
  }
  std::vector<uint32_t> group_size(spray, 0);
  for (uint32_t k = 0; k < kBurst; ++k) group_size[k % spray]++;

  constexpr unsigned kRx = 64;
  const size_t rx_len = 1472;
  std::vector<uint8_t> rx_mem(kRx * rx_len);
  std::vector<iovec> rx_iov(kRx);
  std::vector<sockaddr_in> rx_from(kRx);
  std::vector<mmsghdr> rx_msgs(kRx);
  auto reset_rx = [&] {
    for (unsigned k = 0; k < kRx; ++k) {
      rx_iov[k] = iovec{rx_mem.data() + k * rx_len, rx_len};
      rx_msgs[k] = mmsghdr{};
      rx_msgs[k].msg_hdr.msg_name = &rx_from[k];
      rx_msgs[k].msg_hdr.msg_namelen = sizeof rx_from[k];
      rx_msgs[k].msg_hdr.msg_iov = &rx_iov[k];
      rx_msgs[k].msg_hdr.msg_iovlen = 1;
    }
  };
  auto drain = [&] {
    uint64_t n = 0;
    for (;;) {
      reset_rx();
      int r = recvmmsg(s.rx, rx_msgs.data(), kRx, MSG_DONTWAIT, nullptr);
      if (r <= 0) break;
      n += static_cast<uint64_t>(r);
    }
    return n;
  };

  uint64_t sent = 0, received = 0;
  uint32_t entropy = 0;
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    uint32_t off = 0;
    for (uint32_t g = 0; g < spray; ++g) {
      std::memset(tx_mem.data() + off * kPayload, static_cast<int>(g), kPayload);
      int r = sendmmsg(s.tx[(entropy + g) % kPorts], tx_msgs.data() + off, group_size[g], 0);
      if (r > 0) sent += static_cast<uint64_t>(r);
      off += group_size[g];
    }
    received += drain();
    entropy += spray;
  }
  // The loop's clock has stopped: collect the stragglers of the last burst.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (received < sent && std::chrono::steady_clock::now() < until) received += drain();
  report(state, sent, received, thread_cpu_seconds() - cpu0);
}

BENCHMARK(BM_UdpLinkIoUring)->ArgName("spray")->Arg(32)->Arg(1)->UseRealTime();
BENCHMARK(BM_SendmmsgRecvmmsg)->ArgName("spray")->Arg(32)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
