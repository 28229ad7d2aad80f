// BufferPool: buffers recycled by size class. Reuse is shown by identity: the
// same handle comes back with the same memory, so nothing was allocated.
#include "buffer_pool.h"

#include <gtest/gtest.h>

namespace srdx {
namespace {

TEST(BufferPool, ReusesAReleasedBufferOfTheSameClassWithoutAllocating) {
  BufferPool pool(1 << 20);
  BufferPool::Handle h = pool.get(100);  // 128-byte class
  uint8_t* mem = pool.data(h);
  EXPECT_EQ(pool.bytes_in_use(), 128u);
  pool.put(h);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.bytes_retained(), 128u);

  for (int i = 0; i < 100; ++i) {
    BufferPool::Handle again = pool.get(65 + i % 64);  // still the 128 class
    EXPECT_EQ(again, h);
    EXPECT_EQ(pool.data(again), mem);
    pool.put(again);
  }
  EXPECT_EQ(pool.bytes_retained(), 128u);
}

TEST(BufferPool, DifferentClassesDoNotShareBuffers) {
  BufferPool pool(1 << 20);
  BufferPool::Handle small = pool.get(64);
  pool.put(small);
  BufferPool::Handle big = pool.get(65);  // 128 class: the 64 one does not fit
  EXPECT_NE(big, small);
  EXPECT_EQ(pool.bytes_in_use(), 128u);
  EXPECT_EQ(pool.bytes_retained(), 64u);
}

TEST(BufferPool, ZeroAndTinyRequestsGetTheSmallestClass) {
  BufferPool pool(1 << 20);
  BufferPool::Handle h = pool.get(0);
  EXPECT_EQ(pool.bytes_in_use(), 64u);
  pool.put(h);
  EXPECT_EQ(pool.get(1), h);
}

TEST(BufferPool, RetainLimitSendsTheExcessBackToTheHeap) {
  BufferPool pool(256);
  BufferPool::Handle a = pool.get(256);
  BufferPool::Handle b = pool.get(256);
  pool.put(a);
  EXPECT_EQ(pool.bytes_retained(), 256u);
  pool.put(b);  // would exceed the limit: freed
  EXPECT_EQ(pool.bytes_retained(), 256u);
  EXPECT_EQ(pool.bytes_in_use(), 0u);

  // a comes back from the free list with its memory; b's handle is reused
  // with fresh memory.
  uint8_t* a_mem = pool.data(a);
  EXPECT_EQ(pool.get(256), a);
  EXPECT_EQ(pool.data(a), a_mem);
  EXPECT_EQ(pool.get(256), b);
  EXPECT_NE(pool.data(b), nullptr);
  EXPECT_EQ(pool.bytes_in_use(), 512u);
  EXPECT_EQ(pool.bytes_retained(), 0u);
}

TEST(BufferPool, BufferIsWritableToItsFullClassSize) {
  BufferPool pool(0);
  BufferPool::Handle h = pool.get(1000);
  for (int i = 0; i < 1024; ++i) pool.data(h)[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(pool.data(h)[1023], static_cast<uint8_t>(1023));
  pool.put(h);
  EXPECT_EQ(pool.bytes_retained(), 0u);  // limit 0 keeps nothing
}

}  // namespace
}  // namespace srdx
