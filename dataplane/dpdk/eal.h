// DPDK's Environment Abstraction Layer, initialised once per process from the
// first dpdk link's LinkConfig::eal_args.
//
// On a machine with no free hugepages (this one, CI), unless the arguments
// already choose the memory (--no-huge, -m, --socket-mem, --in-memory,
// --huge-dir), --no-huge -m 256 is added, plus --no-pci when the device is a
// vdev; the reason is logged in one line on stderr. Every process gets its own
// --file-prefix (srdx-<pid>) unless one is given: two DPDK processes sharing
// the default prefix collide.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace srdx::dp {

// True when `device` names a virtual device ("net_null0", "net_af_xdp0,iface=x")
// rather than a PCI address ("0000:00:05.0", "00:05.0") or a port id ("0").
bool is_vdev(std::string_view device);
// True when /proc/meminfo or /sys/kernel/mm/hugepages/*/free_hugepages shows a
// free hugepage.
bool hugepages_available();

// The device spec the link probes for `device`: `device` itself, but a
// net_af_xdp vdev gets busy_budget=0 unless it names a busy_budget. The PMD's
// default (64) turns on preferred busy polling (SO_PREFER_BUSY_POLL), which
// leaves the interface's NAPI processing to the application's own recvfrom()
// and sendto() calls; a link that sleeps when idle (the poller's default)
// then stalls its own receive path: on a veth, throughput fell to a fifth and
// RTTs reached hundreds of ms. busy_budget=N in `device` restores it.
std::string probe_spec(std::string_view device);

struct EalPlan {
  std::vector<std::string> args;  // argv[0] first
  std::string note;               // the one-line reason for what was added, or empty
};
// The arguments rte_eal_init() gets for `user_args` (pure: tested alone).
EalPlan plan_eal_args(const std::vector<std::string>& user_args, std::string_view device,
                      bool hugepages, int pid);

// True when `user_args` choose the lcores (-l, -c, --lcores, --main-lcore).
// rte_eal_init() pins the thread that calls it to the main lcore's CPU: with
// no lcore option that is lcore 0, CPU 0, in every DPDK process. eal_init()
// keeps the pinning only when the lcores were chosen; otherwise it gives the
// thread back the CPUs it was allowed before, and the kernel places it.
// Pinned, two DPDK processes on one machine (srdx-perf's sender and
// receiver, two srdxd) share CPU 0, with the kernel's forwarding work that
// their sends bring there, while the other cores idle: a poll loop waits its
// turn, and a slow iteration grows by the same factor, towards the peer's
// timeout (200 ms). On the 4-path fabric of a 2-core VM (256 MiB over
// net_af_xdp, 4 runs each, alternated), the receiver's longest sleep overrun
// fell from 3.0-4.8 ms pinned to 0.3-1.0 ms, and goodput rose from 1.6-2.9
// to 2.5-3.4 Gbit/s. A busy-polling deployment names its cores (-l 2), and
// keeps them.
bool lcores_chosen(const std::vector<std::string>& user_args);

// Initialises EAL on the first call; later calls return at once (their
// arguments are ignored). Throws std::runtime_error naming the arguments and
// rte_strerror(rte_errno) when it fails; a failure is sticky (EAL cannot be
// initialised twice in one process).
void eal_init(const std::vector<std::string>& user_args, std::string_view device);
bool eal_initialised();

// Runs the DPDK timers that are due (rte_timer_manage): the ENA PMD's
// watchdog, which checks the device's keep-alives and missing TX completions
// and raises RTE_ETH_EVENT_INTR_RESET, is one ("Device reset and the timer
// service" in the ENA PMD guide: call it about once a second). PMDs arm their
// timers on the lcore that starts the port, EAL's main lcore (the thread that
// initialised EAL): call it from that thread; anywhere else it does nothing.
// eal_init() initialises the timer subsystem.
void eal_run_timers();

}  // namespace srdx::dp
