// srdx-tcpperf: kernel TCP bulk and ping-pong between two hosts, the baseline
// srdx-perf is compared with (scripts/srdx-bench). TCP_NODELAY on every
// socket. Its --json output uses srdx-perf's names: goodput_gbps, elapsed_s,
// retransmissions, latency_us {p50,p90,p99,p99.9,p99.99,max} (RTT), plus
// flows and per_flow.
//
// Wire: each connection starts with a 32-byte header (magic, mode, size,
// bytes or count, flows). Bulk: the client writes `bytes`, shuts down its
// write side, the server answers with the 8-byte count it read; the flow ends
// when that count arrives. Ping-pong: the server echoes every message of
// `size` bytes; one outstanding.
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "perf/report.h"
#include "perf/series.h"

namespace {

using srdx::perf::clock_ns;
using srdx::perf::Timeline;

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMagic = 0x7372647874637031ull;  // "srdxtcp1"

struct Header {
  uint64_t magic;
  uint32_t mode;  // 0 bulk, 1 pingpong
  uint32_t size;
  uint64_t amount;  // bulk: bytes of this flow; pingpong: messages
  uint32_t flows;
  uint32_t pad;
};
static_assert(sizeof(Header) == 32);

struct Options {
  std::string role;
  std::string local;  // recv: IP:PORT; send: IP (optional, :PORT ignored)
  std::string peer;
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t size = 0;
  bool pingpong = false;
  int flows = 1;
  double timeout_s = 300;
  bool json = false;
  bool quiet = false;
  bool mptcp = false;
  std::string samples;       // --samples FILE
  std::string timeline;      // --timeline FILE
  double timeline_s = 1e-3;  // --timeline-interval
};

Timeline* g_timeline = nullptr;  // --timeline: bytes over time, shared by the flows
void timeline_add(uint64_t bytes) {
  if (g_timeline) g_timeline->add(clock_ns(CLOCK_MONOTONIC), bytes);
}

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
bool g_mptcp = false;
int stream_socket() { return ::socket(AF_INET, SOCK_STREAM, g_mptcp ? IPPROTO_MPTCP : 0); }
const char* proto_name() { return g_mptcp ? "mptcp" : "tcp"; }

[[noreturn]] void usage(int rc) {
  std::fputs(
      "srdx-tcpperf: kernel TCP (TCP_NODELAY) bulk and ping-pong, the baseline for srdx-perf.\n\n"
      "Usage: srdx-tcpperf recv --local IP:PORT [options]\n"
      "       srdx-tcpperf send --peer IP:PORT [--local IP] [--count N | --bytes SIZE] "
      "[options]\n\n"
      "  --local IP:PORT   recv: address to listen on; send: source IP (port ignored)\n"
      "  --peer IP:PORT    send: the receiver\n"
      "  --count N         messages (default 10000); bulk: count x size bytes\n"
      "  --bytes SIZE      bulk: total bytes (split evenly over the flows): 1GiB, 500MB\n"
      "  --size SIZE       message / write size (default 64KiB; 64 with --pingpong)\n"
      "  --pingpong        the receiver echoes each message; one outstanding; RTT\n"
      "  --flows N         bulk: N parallel connections (default 1)\n"
      "  --timeout T       give up after T (300s, 2.5s, 500ms; 0 = never); a run\n"
      "                    cut short reports ok:false and what it completed\n"
      "  --mptcp           IPPROTO_MPTCP sockets (both sides); subflows follow the\n"
      "                    host's `ip mptcp endpoint` and `ip mptcp limits`\n"
      "  --samples FILE    send: every RTT (ping-pong) in microseconds, one per line\n"
      "  --timeline FILE   goodput over time: one 'UNIX_TIME_S BYTES' line per\n"
      "                    interval (recv: bytes read; send: bytes written, or\n"
      "                    echoed with --pingpong)\n"
      "  --timeline-interval T  its interval (default 1ms; 100us..10s)\n"
      "  --json            one JSON object instead of the table\n"
      "  -q, --quiet       no progress on stderr\n"
      "  -h, --help        this help\n\n"
      "The receiver serves one run (all flows of one sender), then exits.\n"
      "Exit status: 0 complete; 1 anything else; 2 bad command line.\n",
      rc == 0 ? stdout : stderr);
  std::exit(rc);
}

uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string u = end;
  double m = 1;
  if (u.empty() || u == "B")
    m = 1;
  else if (u == "K" || u == "KiB")
    m = 1024.0;
  else if (u == "M" || u == "MiB")
    m = 1024.0 * 1024;
  else if (u == "G" || u == "GiB")
    m = 1024.0 * 1024 * 1024;
  else if (u == "KB")
    m = 1e3;
  else if (u == "MB")
    m = 1e6;
  else if (u == "GB")
    m = 1e9;
  else {
    std::fprintf(stderr, "srdx-tcpperf: bad size '%s'\n", s.c_str());
    std::exit(2);
  }
  if (end == s.c_str() || v < 0) {
    std::fprintf(stderr, "srdx-tcpperf: bad size '%s'\n", s.c_str());
    std::exit(2);
  }
  return static_cast<uint64_t>(v * m);
}

double parse_time(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string u = end;
  if (end == s.c_str()) usage(2);
  if (u.empty() || u == "s") return v;
  if (u == "ms") return v / 1e3;
  if (u == "us") return v / 1e6;
  if (u == "m" || u == "min") return v * 60;
  usage(2);
}

sockaddr_in parse_addr(const std::string& s, bool need_port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  auto colon = s.rfind(':');
  std::string ip = colon == std::string::npos ? s : s.substr(0, colon);
  if (colon != std::string::npos)
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  else if (need_port) {
    std::fprintf(stderr, "srdx-tcpperf: '%s' needs IP:PORT\n", s.c_str());
    std::exit(2);
  }
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "srdx-tcpperf: bad IPv4 address '%s'\n", ip.c_str());
    std::exit(2);
  }
  return a;
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage(2);
  std::string first = argv[1];
  if (first == "-h" || first == "--help") usage(0);
  o.role = first;
  if (o.role != "send" && o.role != "recv") usage(2);
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "srdx-tcpperf: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--local")
      o.local = val();
    else if (a == "--peer")
      o.peer = val();
    else if (a == "--count")
      o.count = parse_size(val());
    else if (a == "--bytes")
      o.bytes = parse_size(val());
    else if (a == "--size")
      o.size = parse_size(val());
    else if (a == "--pingpong")
      o.pingpong = true;
    else if (a == "--flows")
      o.flows = std::atoi(val().c_str());
    else if (a == "--timeout")
      o.timeout_s = parse_time(val());
    else if (a == "--json")
      o.json = true;
    else if (a == "--mptcp")
      o.mptcp = true;
    else if (a == "--samples")
      o.samples = val();
    else if (a == "--timeline")
      o.timeline = val();
    else if (a == "--timeline-interval")
      o.timeline_s = parse_time(val());
    else if (a == "-q" || a == "--quiet")
      o.quiet = true;
    else if (a == "-h" || a == "--help")
      usage(0);
    else {
      std::fprintf(stderr, "srdx-tcpperf: unknown option %s\n", a.c_str());
      usage(2);
    }
  }
  if (o.flows < 1 || o.flows > 1024) usage(2);
  if (o.timeline_s < 1e-4 || o.timeline_s > 10) {
    std::fprintf(stderr, "srdx-tcpperf: --timeline-interval: accepted 100us..10s\n");
    std::exit(2);
  }
  if (!o.samples.empty() && o.role != "send") {
    std::fprintf(stderr, "srdx-tcpperf: --samples only when sending (the sender measures RTT)\n");
    std::exit(2);
  }
  if (o.role == "recv" && o.local.empty()) usage(2);
  if (o.role == "send" && o.peer.empty()) usage(2);
  if (o.size == 0) o.size = o.pingpong ? 64 : 65536;
  if (o.pingpong && o.flows != 1) {
    std::fprintf(stderr, "srdx-tcpperf: --pingpong uses one connection\n");
    std::exit(2);
  }
  if (o.count && o.bytes) {
    std::fprintf(stderr, "srdx-tcpperf: --count or --bytes, not both\n");
    std::exit(2);
  }
  if (o.pingpong && o.bytes) o.count = (o.bytes + o.size - 1) / o.size, o.bytes = 0;
  if (!o.pingpong && !o.bytes) o.bytes = (o.count ? o.count : 10000) * o.size;
  if (o.pingpong && !o.count) o.count = 10000;
  return o;
}

std::string cc_name() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_congestion_control");
  std::string s;
  std::getline(f, s);
  return s.empty() ? "unknown" : s;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t total_retrans(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
  return ti.tcpi_total_retrans;
}

// Deadline-aware full read/write. Returns false on error, EOF or deadline.
bool wait_fd(int fd, short ev, Clock::time_point deadline, bool has_deadline) {
  for (;;) {
    int ms = -1;
    if (has_deadline) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      ms = static_cast<int>(std::min<long long>(left, 1000));
    }
    pollfd p{fd, ev, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// Moves all n bytes through send (POLLOUT) or recv (POLLIN), waiting for the
// socket as needed.
bool move_all(int fd, char* b, size_t n, short ev, Clock::time_point dl, bool has_dl) {
  while (n) {
    const ssize_t r = ev == POLLOUT ? ::send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT)
                                    : ::recv(fd, b, n, MSG_DONTWAIT);
    if (r > 0) {
      b += r, n -= static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, ev, dl, has_dl)) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool write_all(int fd, const char* b, size_t n, Clock::time_point dl, bool has_dl) {
  return move_all(fd, const_cast<char*>(b), n, POLLOUT, dl, has_dl);  // send only reads b
}

bool read_all(int fd, char* b, size_t n, Clock::time_point dl, bool has_dl) {
  return move_all(fd, b, n, POLLIN, dl, has_dl);
}

// Writes what --samples and --timeline asked for; false when a file failed.
bool write_series(const Options& o, const std::vector<double>& rtt_us) {
  std::string err;
  if (!o.samples.empty()) err = srdx::perf::write_samples(o.samples, rtt_us, 1.0);
  if (err.empty() && g_timeline) {
    err = g_timeline->write(o.timeline, o.role == "recv" ? "srdx-tcpperf recv: bytes read"
                                        : o.pingpong     ? "srdx-tcpperf send: bytes echoed back"
                                                         : "srdx-tcpperf send: bytes written");
  }
  if (err.empty()) return true;
  std::fprintf(stderr, "srdx-tcpperf: %s\n", err.c_str());
  return false;
}

// CPU seconds over the run and the "cpu" object of --json: srdx-perf's
// (perf/report.h), so both tools report them alike.
using srdx::perf::cpu_now;
using srdx::perf::CpuTime;
std::string cpu_json(const CpuTime& run, uint64_t bytes) {
  return srdx::perf::cpu_json(run, cpu_now(), bytes);
}

// ---------------------------------------------------------------- receiver

void serve(int fd, const Header& h, std::atomic<uint64_t>& bytes_total) {
  auto none = Clock::time_point{};
  std::vector<char> buf(std::max<size_t>(h.size, 1 << 16));
  if (h.mode == 1) {
    for (uint64_t i = 0; i < h.amount; ++i) {
      if (!read_all(fd, buf.data(), h.size, none, false)) break;
      if (!write_all(fd, buf.data(), h.size, none, false)) break;
      bytes_total += h.size;
      timeline_add(h.size);
    }
  } else {
    uint64_t got = 0;
    for (;;) {
      ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      got += static_cast<uint64_t>(r);
      timeline_add(static_cast<uint64_t>(r));
    }
    bytes_total += got;
    write_all(fd, reinterpret_cast<const char*>(&got), sizeof got, none, false);
  }
  ::close(fd);
}

int run_recv(const Options& o) {
  sockaddr_in a = parse_addr(o.local, true);
  int ls = stream_socket();
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1024) != 0) {
    std::fprintf(stderr, "srdx-tcpperf recv: %s: %s\n", o.local.c_str(), std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "srdx-tcpperf recv: listening on %s (%s, %s)\n", o.local.c_str(),
               proto_name(), cc_name().c_str());
  auto start = Clock::now();
  const CpuTime cpu0 = cpu_now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.timeout_s));
  bool has_dl = o.timeout_s > 0;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> bytes{0};
  uint32_t expected = 1, accepted = 0;
  Header first{};
  bool ok = true;
  while (accepted < expected) {
    if (!wait_fd(ls, POLLIN, deadline, has_dl)) {
      ok = false;
      break;
    }
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    set_nodelay(fd);
    Header h{};
    if (!read_all(fd, reinterpret_cast<char*>(&h), sizeof h, deadline, has_dl) ||
        h.magic != kMagic) {
      ::close(fd);
      continue;
    }
    if (accepted == 0) first = h, expected = std::max<uint32_t>(h.flows, 1);
    ++accepted;
    workers.emplace_back(serve, fd, h, std::ref(bytes));
  }
  if (!ok) {
    // Detach what is still running: the process exits anyway.
    for (auto& w : workers) w.detach();
  } else {
    for (auto& w : workers) w.join();
  }
  // Closed only now: MPTCP's further subflows (MP_JOIN) arrive as SYNs at the
  // listening socket, and a closed listener answers them with a reset, which
  // left a connection that lost the race with this accept loop on one path.
  ::close(ls);
  double el = std::chrono::duration<double>(Clock::now() - start).count();
  const CpuTime cpu_run = cpu_now() - cpu0;
  if (!write_series(o, {})) ok = false;
  if (o.json)
    std::printf(
        "{\"role\":\"recv\",\"ok\":%s,\"transport\":\"%s\",\"cc\":\"%s\",\"local\":\"%s\",\"mode\":"
        "\"%s\","
        "\"flows\":%u,\"size\":%u,\"bytes\":%llu,\"elapsed_s\":%.6g,\"cpu\":%s}\n",
        ok ? "true" : "false", proto_name(), cc_name().c_str(), o.local.c_str(),
        first.mode ? "pingpong" : "bulk", accepted, first.size,
        static_cast<unsigned long long>(bytes.load()), el, cpu_json(cpu_run, bytes.load()).c_str());
  else
    std::printf(
        "srdx-tcpperf recv: %s, %u flow(s), %llu bytes in %.3f s, cpu %.3f user + %.3f sys s\n",
        ok ? "ok" : "incomplete", accepted, static_cast<unsigned long long>(bytes.load()), el,
        cpu_run.user_s, cpu_run.sys_s);
  return ok ? 0 : 1;
}

// ------------------------------------------------------------------ sender

struct FlowResult {
  bool ok = false;
  uint64_t bytes = 0;  // completed (bulk: acknowledged by the receiver)
  double elapsed_s = 0;
  uint64_t retrans = 0;
  std::vector<double> rtt_us;
  std::string error;
};

int connect_to(const Options& o) {
  int fd = stream_socket();
  set_nodelay(fd);
  if (!o.local.empty()) {
    sockaddr_in l = parse_addr(o.local, false);
    l.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&l), sizeof l);
  }
  sockaddr_in p = parse_addr(o.peer, true);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&p), sizeof p) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void run_flow(const Options& o, int fd, uint64_t amount, Clock::time_point start,
              Clock::time_point deadline, bool has_dl, std::atomic<uint64_t>* progress,
              FlowResult& r) {
  std::vector<char> buf(o.size);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(i * 131 + 7);
  if (o.pingpong) {
    r.rtt_us.reserve(amount);
    std::vector<char> in(o.size);
    for (uint64_t i = 0; i < amount; ++i) {
      auto t0 = Clock::now();
      if (!write_all(fd, buf.data(), buf.size(), deadline, has_dl) ||
          !read_all(fd, in.data(), in.size(), deadline, has_dl)) {
        // The outstanding message counts with the time it waited (censored).
        r.rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        r.error = "timeout or connection error at message " + std::to_string(i);
        break;
      }
      r.rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      r.bytes += o.size;
      progress->fetch_add(o.size, std::memory_order_relaxed);
      timeline_add(o.size);
    }
    r.ok = r.error.empty();
  } else {
    uint64_t left = amount;
    bool ok = true;
    while (left) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      if (!write_all(fd, buf.data(), n, deadline, has_dl)) {
        ok = false;
        break;
      }
      left -= n;
      progress->fetch_add(n, std::memory_order_relaxed);
      timeline_add(n);
    }
    uint64_t got = 0;
    if (ok) {
      ::shutdown(fd, SHUT_WR);
      ok = read_all(fd, reinterpret_cast<char*>(&got), sizeof got, deadline, has_dl);
    }
    if (ok) {
      r.bytes = got;
      r.ok = got == amount;
      if (!r.ok) r.error = "receiver counted " + std::to_string(got) + " bytes";
    } else {
      // Bytes the peer acknowledged so far: sent minus what is still unacked.
      uint64_t sent = amount - left;
      int outq = 0;
      if (::ioctl(fd, SIOCOUTQ, &outq) != 0) outq = 0;  // bytes not yet acknowledged
      r.bytes = sent > static_cast<uint64_t>(outq) ? sent - static_cast<uint64_t>(outq) : 0;
      r.error = "timeout or connection error";
    }
  }
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.retrans = total_retrans(fd);
}

double pct(const std::vector<double>& s, double p) {
  if (s.empty()) return NAN;
  double rank = std::ceil(p / 100.0 * static_cast<double>(s.size()));
  size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return s[std::min(i, s.size() - 1)];
}

std::string num(double v) {
  if (std::isnan(v) || std::isinf(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

int run_send(const Options& o) {
  auto begin = Clock::now();
  auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.timeout_s));
  bool has_dl = o.timeout_s > 0;
  int n = o.flows;
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = -1;
    // The receiver may be a moment late: retry for up to 5 s.
    for (int t = 0; t < 50 && fd < 0; ++t) {
      fd = connect_to(o);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (fd < 0) {
      std::fprintf(stderr, "srdx-tcpperf send: connect %s: %s\n", o.peer.c_str(),
                   std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<uint64_t> amount(n);
  for (int i = 0; i < n; ++i) {
    amount[i] =
        o.pingpong ? o.count : o.bytes / n + (static_cast<uint64_t>(i) < o.bytes % n ? 1 : 0);
    Header h{kMagic,    o.pingpong ? 1u : 0u,     static_cast<uint32_t>(o.size),
             amount[i], static_cast<uint32_t>(n), 0};
    if (!write_all(fds[i], reinterpret_cast<const char*>(&h), sizeof h, deadline, has_dl)) {
      std::fprintf(stderr, "srdx-tcpperf send: header: %s\n", std::strerror(errno));
      return 1;
    }
  }
  std::fprintf(stderr, "srdx-tcpperf send: listening on %s (%s, %s): %d flow(s) to %s\n",
               o.local.empty() ? "-" : o.local.c_str(), proto_name(), cc_name().c_str(), n,
               o.peer.c_str());
  std::vector<FlowResult> res(n);
  std::atomic<uint64_t> progress{0};
  std::atomic<bool> done{false};
  uint64_t want = o.pingpong ? o.count * o.size : o.bytes;
  auto start = Clock::now();
  const CpuTime cpu0 = cpu_now();
  std::thread meter;
  if (!o.quiet)
    meter = std::thread([&] {
      while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        double el = std::chrono::duration<double>(Clock::now() - start).count();
        double b = static_cast<double>(progress.load());
        std::fprintf(stderr, "\rsrdx-tcpperf: %5.1f%%  %.3f Gbit/s  %.1f s   ",
                     100.0 * b / static_cast<double>(want), b * 8 / el / 1e9, el);
      }
      std::fputs("\n", stderr);
    });
  std::vector<std::thread> th;
  for (int i = 0; i < n; ++i)
    th.emplace_back(run_flow, std::cref(o), fds[i], amount[i], start, deadline, has_dl, &progress,
                    std::ref(res[i]));
  for (auto& t : th) t.join();
  const CpuTime cpu_run = cpu_now() - cpu0;
  done = true;
  if (meter.joinable()) meter.join();
  for (int fd : fds) ::close(fd);

  bool ok = true;
  uint64_t bytes = 0, retrans = 0;
  double elapsed = 0;
  std::vector<double> rtt;
  for (auto& r : res) {
    ok = ok && r.ok;
    bytes += r.bytes;
    retrans += r.retrans;
    elapsed = std::max(elapsed, r.elapsed_s);
    rtt.insert(rtt.end(), r.rtt_us.begin(), r.rtt_us.end());
  }
  if (!write_series(o, rtt)) ok = false;
  std::sort(rtt.begin(), rtt.end());
  double gbps = elapsed > 0 ? static_cast<double>(bytes) * 8 / elapsed / 1e9 : 0;
  uint64_t completed = o.pingpong ? rtt.size() - (ok ? 0 : 1) : bytes / o.size;
  double mean = 0;
  for (double v : rtt) mean += v;
  if (!rtt.empty()) mean /= static_cast<double>(rtt.size());

  if (o.json) {
    std::string s = "{\"role\":\"send\",\"ok\":";
    s += ok ? "true" : "false";
    s += ",\"transport\":\"" + std::string(proto_name()) + "\",\"cc\":\"" + cc_name() +
         "\",\"mode\":\"";
    s += o.pingpong ? "pingpong" : "bulk";
    s += "\",\"local\":\"" + o.local + "\",\"peer\":\"" + o.peer + "\"";
    s += ",\"flows\":" + std::to_string(n) + ",\"size\":" + std::to_string(o.size);
    s += ",\"bytes\":" + std::to_string(want) + ",\"completed\":" + std::to_string(completed);
    s += ",\"bytes_completed\":" + std::to_string(bytes) + ",\"elapsed_s\":" + num(elapsed);
    s += ",\"msg_rate\":" + num(elapsed > 0 ? static_cast<double>(completed) / elapsed : 0);
    s += ",\"goodput_bps\":" + num(gbps * 1e9) + ",\"goodput_gbps\":" + num(gbps);
    s += ",\"retransmissions\":" + std::to_string(retrans);
    s += ",\"cpu\":" + cpu_json(cpu_run, bytes);
    if (o.pingpong) {
      s += ",\"latency_kind\":\"rtt\",\"latency_us\":{\"samples\":" + std::to_string(rtt.size());
      s += ",\"min\":" + num(rtt.empty() ? NAN : rtt.front()) +
           ",\"mean\":" + num(rtt.empty() ? NAN : mean);
      s += ",\"p50\":" + num(pct(rtt, 50)) + ",\"p90\":" + num(pct(rtt, 90)) +
           ",\"p99\":" + num(pct(rtt, 99));
      s += ",\"p99.9\":" + num(pct(rtt, 99.9)) + ",\"p99.99\":" + num(pct(rtt, 99.99));
      s += ",\"max\":" + num(rtt.empty() ? NAN : rtt.back()) + "}";
    } else {
      s += ",\"latency_kind\":null,\"latency_us\":null";
    }
    s += ",\"per_flow\":[";
    for (int i = 0; i < n; ++i) {
      auto& r = res[i];
      if (i) s += ",";
      s += "{\"ok\":" + std::string(r.ok ? "true" : "false") +
           ",\"bytes_completed\":" + std::to_string(r.bytes);
      s += ",\"elapsed_s\":" + num(r.elapsed_s);
      s += ",\"goodput_gbps\":" +
           num(r.elapsed_s > 0 ? static_cast<double>(r.bytes) * 8 / r.elapsed_s / 1e9 : 0);
      s += ",\"retransmissions\":" + std::to_string(r.retrans);
      if (!r.error.empty()) s += ",\"error\":\"" + r.error + "\"";
      s += "}";
    }
    s += "]}";
    std::puts(s.c_str());
  } else {
    std::printf("srdx-tcpperf send: %s (%s, %s), %d flow(s)\n", ok ? "ok" : "INCOMPLETE",
                proto_name(), cc_name().c_str(), n);
    std::printf("  goodput          %.3f Gbit/s (%llu bytes in %.3f s)\n", gbps,
                static_cast<unsigned long long>(bytes), elapsed);
    std::printf("  retransmissions  %llu\n", static_cast<unsigned long long>(retrans));
    std::printf("  cpu              %.3f user + %.3f sys s\n", cpu_run.user_s, cpu_run.sys_s);
    for (int i = 0; i < n && n > 1; ++i)
      std::printf(
          "  flow %-3d         %.3f Gbit/s%s\n", i,
          res[i].elapsed_s > 0 ? static_cast<double>(res[i].bytes) * 8 / res[i].elapsed_s / 1e9 : 0,
          res[i].ok ? "" : " (incomplete)");
    if (o.pingpong)
      std::printf(
          "  RTT us           p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f\n",
          pct(rtt, 50), pct(rtt, 90), pct(rtt, 99), pct(rtt, 99.9), pct(rtt, 99.99),
          rtt.empty() ? NAN : rtt.back());
    for (auto& r : res)
      if (!r.error.empty()) {
        std::printf("  error            %s\n", r.error.c_str());
        break;
      }
  }
  return ok ? 0 : 1;
}

// SIGTERM or SIGINT (a benchmark giving up on a stalled run): the timeline
// so far is still written, then the process exits with status 1. Runs on a
// thread of its own, the signals being blocked everywhere else.
void watch_signals(const Options& o) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([o, set] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::fprintf(stderr, "srdx-tcpperf %s: %s: stopping\n", o.role.c_str(),
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (g_timeline) write_series(o, {});
    std::fflush(nullptr);
    std::_Exit(1);
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  g_mptcp = o.mptcp;
  watch_signals(o);
  if (!o.timeline.empty()) {
    // Never freed: a receiver that gave up leaves its flow threads running
    // until the process exits, and they may still count bytes.
    const double span_s = o.timeout_s > 0 ? o.timeout_s : 3600;
    g_timeline =
        new Timeline(static_cast<int64_t>(o.timeline_s * 1e9), static_cast<int64_t>(span_s * 1e9));
  }
  return o.role == "recv" ? run_recv(o) : run_send(o);
}
