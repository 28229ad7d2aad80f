// Replication through two carriers in one process, for measuring the
// replication path itself (scanning, hashing, the protocol, the DR store and
// its syncs) without a network in the way:
//   srdx-replicate-bench SOURCE_DIR DR_DIR [engine|shm] [durable|received|async]
// Ships SOURCE_DIR once into DR_DIR/bench and prints one JSON line: bytes,
// files, seconds, MB/s, files/s, chunks. DR_DIR must exist (empty for a full
// sync; a second run measures an up-to-date pass). SRDX_BENCH_AUDIT=DIR adds
// the audit logs both sites keep in srdxd (DIR/source.jsonl, DIR/dr.jsonl).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "engine_carrier.h"
#include "fabric_carrier.h"
#include "loop/clock.h"
#include "replicate/audit.h"
#include "replicate/session.h"

using namespace srdx;

namespace {

std::unique_ptr<carrier::Carrier> make(const std::string& kind, uint16_t first_port) {
  if (kind == "shm") {
    carrier::FabricConfig cfg;
    cfg.provider = "shm";
    return std::make_unique<carrier::FabricCarrier>(cfg);
  }
  dp::LinkConfig link;
  link.kind = "udp";
  link.local = Addr{0x7f000001, 0};
  link.entropy.first_port = first_port;
  link.entropy.port_count = 8;
  EndpointConfig ep;
  ep.encryption = false;
  ep.seed = first_port;
  return std::make_unique<carrier::EngineCarrier>(link, ep);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOURCE_DIR DR_DIR [engine|shm] [durable|received|async]\n",
                 argv[0]);
    return 2;
  }
  const std::string kind = argc > 3 ? argv[3] : "engine";
  replicate::Mode mode = replicate::Mode::durable;
  if (argc > 4 && !replicate::parse_mode(argv[4], mode)) {
    std::fprintf(stderr, "unknown mode %s (durable, received, async)\n", argv[4]);
    return 2;
  }
  try {
    auto a = make(kind, 41000);
    auto b = make(kind, 41100);
    const Result<PeerId> peer = a->add_peer(b->local_name());
    if (!peer.ok()) throw std::runtime_error("add_peer");
    std::unique_ptr<replicate::AuditLog> audit_src, audit_dr;
    if (const char* dir = std::getenv("SRDX_BENCH_AUDIT")) {
      for (auto [log, name] : {std::pair{&audit_src, "/source.jsonl"}, {&audit_dr, "/dr.jsonl"}}) {
        auto opened = replicate::AuditLog::open(std::string(dir) + name);
        if (!opened.ok()) throw std::runtime_error(opened.error);
        *log = std::move(opened.value);
      }
    }
    replicate::Sink sink({argv[2], 5}, *b, audit_dr.get());
    replicate::SourceOptions o;
    o.job_id = 1;
    o.job_name = "bench";
    o.source_dir = argv[1];
    o.mode = mode;
    replicate::Source source(o, *a, peer.value, audit_src.get());
    a->on_event([&](const Event& ev, Time now) { source.on_event(ev, now); });
    a->on_tick([&](Time now) { source.tick(now); });
    b->on_event([&](const Event& ev, Time now) { sink.on_event(ev, now); });
    b->on_tick([&](Time now) { sink.tick(now); });
    const Time t0 = dp::monotonic_now();
    source.start(t0);
    std::atomic<bool> stop{false};
    std::thread tb([&] { b->run(stop); });
    std::atomic<bool> stop_a{false};
    std::thread ta([&] { a->run(stop_a); });
    while (!source.finished()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const double secs = (dp::monotonic_now() - t0).sec();
    stop_a.store(true);
    stop.store(true);
    ta.join();
    tb.join();
    const replicate::Progress p = source.progress();
    std::printf(
        "{\"carrier\":\"%s\",\"mode\":\"%s\",\"state\":\"%s\",\"bytes\":%llu,\"files\":%llu,"
        "\"seconds\":%.3f,\"MBps\":%.1f,\"files_per_s\":%.1f,\"chunks_sent\":%llu,"
        "\"chunks_skipped\":%llu,\"error\":\"%s\"}\n",
        kind.c_str(), std::string(replicate::to_string(mode)).c_str(),
        std::string(replicate::to_string(p.state)).c_str(),
        static_cast<unsigned long long>(p.bytes_done),
        static_cast<unsigned long long>(p.files_done), secs, p.bytes_done / secs / 1e6,
        p.files_done / secs, static_cast<unsigned long long>(p.chunks_sent),
        static_cast<unsigned long long>(p.chunks_skipped), p.error.c_str());
    return p.state == replicate::JobState::done ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srdx-replicate-bench: %s\n", e.what());
    return 1;
  }
}
