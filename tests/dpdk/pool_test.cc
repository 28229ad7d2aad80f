// The link's mbuf pools (dataplane/dpdk/pool.h) under the link tests' EAL
// (--no-huge -m 256 --no-pci, 4 KiB pages): the layout net_af_xdp needs.
#include "dpdk/pool.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include <string>

namespace srdx::dp {
namespace {

constexpr uint16_t kDataRoom = RTE_MBUF_DEFAULT_BUF_SIZE;  // 2176: the link's room at MTU 1500

TEST(MbufPool, PackedPoolIsWhatAfXdpRegistersAsUmem) {
  rte_mempool* mp =
      create_mbuf_pool("srdx_t_packed", 3000, 64, kDataRoom, SOCKET_ID_ANY, PoolLayout::packed);
  ASSERT_NE(mp, nullptr) << rte_strerror(rte_errno);
  EXPECT_EQ(mp->nb_mem_chunks, 1u);
  EXPECT_EQ(mp->populated_size, 3000u);
  EXPECT_TRUE(pool_fits_umem(mp));
  // A pktmbuf pool like any other: room, no private area, mbufs initialised.
  EXPECT_EQ(rte_pktmbuf_data_room_size(mp), kDataRoom);
  EXPECT_EQ(rte_pktmbuf_priv_size(mp), 0);
  rte_mbuf* m = rte_pktmbuf_alloc(mp);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->pool, mp);
  EXPECT_EQ(m->buf_len, kDataRoom);
  EXPECT_EQ(m->data_off, RTE_PKTMBUF_HEADROOM);
  EXPECT_EQ(rte_pktmbuf_tailroom(m), kDataRoom - RTE_PKTMBUF_HEADROOM);
  rte_pktmbuf_free(m);
  rte_mempool_free(mp);
}

// Why the packed layout exists: without hugepages rte_pktmbuf_pool_create()
// keeps each 2368-byte object within one 4 KiB page, so the pool spans ~1.7
// times what net_af_xdp registers, and mbufs past that get rejected frames.
TEST(MbufPool, StandardPoolWithoutHugepagesDoesNotFitUmem) {
  rte_mempool* mp =
      create_mbuf_pool("srdx_t_std", 3000, 64, kDataRoom, SOCKET_ID_ANY, PoolLayout::standard);
  ASSERT_NE(mp, nullptr) << rte_strerror(rte_errno);
  EXPECT_FALSE(pool_fits_umem(mp));
  rte_mempool_free(mp);
}

TEST(MbufPool, LayoutByDriver) {
  EXPECT_EQ(pool_layout_for("net_af_xdp"), PoolLayout::packed);
  EXPECT_EQ(pool_layout_for("net_af_packet"), PoolLayout::standard);
  EXPECT_EQ(pool_layout_for("net_ring"), PoolLayout::standard);
  EXPECT_EQ(pool_layout_for("net_ena"), PoolLayout::standard);
}

}  // namespace
}  // namespace srdx::dp
