// make_link(): the link backend cfg.kind names, chosen at run time. Backends
// whose libraries this build did not find are named in the error, with the
// package that brings them.
//
// `sim` is a link backend too (sim::HostLink, behind this same interface and
// driven by the same Poller), but not one make_link() can give: its network
// is simulated, lives inside one process with every host on it, and moves in
// simulated time that the Poller steps with poll_once(), while srdxd and
// srdx-perf talk to a peer in another process in real time with run(). It is
// refused with that reason and where to find it.
#include "link.h"

#include <stdexcept>
#include <string>

#include "loop/link_timers.h"
#if SRDX_HAVE_UDP_LINK
#include "udp/udp_link.h"
#endif
#if SRDX_HAVE_DPDK_LINK
#include "dpdk/dpdk_link.h"
#include "dpdk/eal.h"
#endif

namespace srdx::dp {

void run_link_timers() {
#if SRDX_HAVE_DPDK_LINK
  eal_run_timers();
#endif
}

std::unique_ptr<Link> make_link(const LinkConfig& cfg) {
  if (cfg.kind == "udp") {
#if SRDX_HAVE_UDP_LINK
    return make_udp_link(cfg);
#else
    throw std::runtime_error(
        "link udp: this build has no udp backend (install liburing-dev and rebuild)");
#endif
  }
  if (cfg.kind == "dpdk") {
#if SRDX_HAVE_DPDK_LINK
    return make_dpdk_link(cfg);
#else
    throw std::runtime_error(
        "link dpdk: this build has no dpdk backend (install libdpdk-dev and rebuild)");
#endif
  }
  if (cfg.kind == "sim") {
    throw std::runtime_error(
        "link sim: the simulated network runs in simulated time inside one process, with every "
        "host on it; it cannot reach a peer in another process. Use srdx-sim (or sim::Host), "
        "which runs this same poll loop over it; here: udp or dpdk");
  }
  throw std::runtime_error("link '" + cfg.kind + "': unknown kind; accepted: udp, dpdk");
}

}  // namespace srdx::dp
