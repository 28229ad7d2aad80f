// make_link(): the link backend cfg.kind names, chosen at run time. Backends
// whose libraries this build did not find are named in the error, with the
// package that brings them.
#include "link.h"

#include <stdexcept>
#include <string>
#if SRDX_HAVE_UDP_LINK
#include "udp/udp_link.h"
#endif
#if SRDX_HAVE_DPDK_LINK
#include "dpdk/dpdk_link.h"
#endif

namespace srdx::dp {

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
  throw std::runtime_error("link '" + cfg.kind + "': unknown kind; accepted: udp, dpdk");
}

}  // namespace srdx::dp
