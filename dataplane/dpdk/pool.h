// The link's mbuf pool, and the layout net_af_xdp needs of it.
//
// net_af_xdp (DPDK 22.11) turns the RX queue's mempool into the AF_XDP
// socket's UMEM: it registers populated_size * object_size bytes from the
// start of the pool's first memory chunk, and finds an mbuf's UMEM frame by
// arithmetic (mbuf - header - UMEM base). That holds only when the objects sit
// back to back in one chunk. rte_pktmbuf_pool_create() does not promise that:
// without hugepages it keeps each object inside one 4 KiB page (IOVA
// contiguous), so a 2368-byte mbuf takes a whole page, the chunk is ~1.7 times
// what the PMD registers, and every mbuf past that share gets a descriptor the
// kernel rejects: TX frames are dropped (XDP_STATISTICS tx_invalid_descs) and
// RX fill buffers are lost, while rte_eth_tx_burst() reports them sent.
// A packed pool (objects may cross pages; AF_XDP in copy mode, as on a veth,
// copies through the kernel's own mapping of the UMEM) satisfies the PMD.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>

namespace srdx::dp {

enum class PoolLayout {
  standard,  // rte_pktmbuf_pool_create(): each object IOVA contiguous
  packed,    // objects back to back in one memory chunk (net_af_xdp's UMEM)
};

// A pktmbuf pool of `n` mbufs with `data_room` bytes each (headroom
// included), as rte_pktmbuf_pool_create() makes one, laid out as `layout`
// asks. nullptr with rte_errno set on failure.
rte_mempool* create_mbuf_pool(const std::string& name, uint32_t n, uint32_t cache,
                              uint16_t data_room, int socket, PoolLayout layout);

// Whether every object of `mp` (header to trailer) lies inside what
// net_af_xdp registers as UMEM: the first populated_size * object_size bytes
// of the first memory chunk.
bool pool_fits_umem(const rte_mempool* mp);

// The layout a port's driver needs: packed for net_af_xdp, standard otherwise.
PoolLayout pool_layout_for(const std::string& driver);

}  // namespace srdx::dp
