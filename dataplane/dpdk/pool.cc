#include "dpdk/pool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>

namespace srdx::dp {

rte_mempool* create_mbuf_pool(const std::string& name, uint32_t n, uint32_t cache,
                              uint16_t data_room, int socket, PoolLayout layout) {
  if (layout == PoolLayout::standard) {
    return rte_pktmbuf_pool_create(name.c_str(), n, cache, 0, data_room, socket);
  }
  // What rte_pktmbuf_pool_create() does, with RTE_MEMPOOL_F_NO_IOVA_CONTIG:
  // no page boundary to keep objects from, so rte_mempool_populate_default()
  // places them back to back (in one chunk when the memory allows; the
  // caller checks with pool_fits_umem()).
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = data_room;
  priv.mbuf_priv_size = 0;
  rte_mempool* mp = rte_mempool_create_empty(name.c_str(), n, sizeof(rte_mbuf) + data_room, cache,
                                             sizeof(rte_pktmbuf_pool_private), socket,
                                             RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == nullptr) return nullptr;
  int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
  if (rc == 0) {
    rte_pktmbuf_pool_init(mp, &priv);
    rc = rte_mempool_populate_default(mp);
    if (rc >= 0) {
      rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
      return mp;
    }
  }
  rte_mempool_free(mp);
  rte_errno = -rc;
  return nullptr;
}

bool pool_fits_umem(const rte_mempool* mp) {
  const rte_mempool_memhdr* first = STAILQ_FIRST(&mp->mem_list);
  if (first == nullptr) return false;
  struct Bounds {
    uintptr_t lo, hi;  // [lo, hi): what the PMD registers
    uint32_t header, total;
    bool ok = true;
  } b{};
  b.header = mp->header_size;
  b.total = mp->header_size + mp->elt_size + mp->trailer_size;
  b.lo = reinterpret_cast<uintptr_t>(first->addr);
  b.hi = b.lo + uintptr_t{mp->populated_size} * b.total;
  b.ok = true;
  // rte_mempool_obj_iter() takes a non-const pool; it only walks the list.
  rte_mempool_obj_iter(
      const_cast<rte_mempool*>(mp),
      [](rte_mempool*, void* opaque, void* obj, unsigned) {
        auto& bb = *static_cast<Bounds*>(opaque);
        const uintptr_t start = reinterpret_cast<uintptr_t>(obj) - bb.header;
        if (start < bb.lo || start + bb.total > bb.hi) bb.ok = false;
      },
      &b);
  return b.ok;
}

PoolLayout pool_layout_for(const std::string& driver) {
  return driver == "net_af_xdp" ? PoolLayout::packed : PoolLayout::standard;
}

}  // namespace srdx::dp
