// The links' housekeeping that must run on the thread that built them (the
// first make_link() caller), at least once a second: DPDK's timers, among
// them the ENA PMD's watchdog, which raises the RESET event the dpdk link
// handles (dpdk/eal.h, eal_run_timers). Cheap; nothing to do without a dpdk
// link.
#pragma once

namespace srdx::dp {

void run_link_timers();

}  // namespace srdx::dp
