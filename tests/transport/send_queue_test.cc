// SendQueue: the sender's message ring. Ids, capacity, the order new
// fragments are taken in, acknowledgement bookkeeping, the floor, and the
// prev_delta chain of ordered flows.
#include "send_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srdx {
namespace {

using namespace srdx::literals;

const Time kDeadline = Time::zero() + 2_s;

struct Fixture {
  explicit Fixture(uint32_t capacity = 4) : pool(1 << 20), q(capacity, pool) {}
  TxMsg& push(std::string_view s, SendOptions opt = {}) {
    return q.push({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, opt, kDeadline);
  }
  BufferPool pool;
  SendQueue q;
};

SendOptions ordered(uint16_t flow) {
  SendOptions o;
  o.flow = flow;
  o.ordered = true;
  return o;
}

// Sends every fragment of the next unsent message, the way the endpoint does.
uint64_t send_all_of_next(SendQueue& q, uint32_t frag_size) {
  TxMsg* m = q.next_unsent();
  if (!m) return ~uint64_t{0};
  if (!m->started) q.start(*m, frag_size);
  m->next_frag = m->nfrags;
  return m->id;
}

TEST(SendQueue, IdsAreSequentialFromZero) {
  Fixture f;
  EXPECT_EQ(f.push("a").id, 0u);
  EXPECT_EQ(f.push("b").id, 1u);
  EXPECT_EQ(f.push("c").id, 2u);
  EXPECT_EQ(f.q.next_id(), 3u);
  EXPECT_EQ(f.q.live(), 3u);
  EXPECT_EQ(f.q.buffered_bytes(), 3u);
}

TEST(SendQueue, FullAtCapacityUntilTheFloorMoves) {
  Fixture f(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(f.q.full());
    f.push("x");
  }
  EXPECT_TRUE(f.q.full());
  f.q.finish(*f.q.find(1));  // not the oldest: floor stays at 0
  EXPECT_TRUE(f.q.full());
  f.q.finish(*f.q.find(0));
  EXPECT_FALSE(f.q.full());
  EXPECT_EQ(f.push("y").id, 4u);
  EXPECT_EQ(f.push("z").id, 5u);
  EXPECT_TRUE(f.q.full());
}

TEST(SendQueue, CopiesTheBytesByDefault) {
  Fixture f;
  std::string s = "hello";
  TxMsg& m = f.q.push({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, {}, kDeadline);
  s[0] = 'J';
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data), m.len), "hello");
}

TEST(SendQueue, ZeroCopyKeepsTheCallersPointer) {
  Fixture f;
  std::string s = "hello";
  SendOptions o;
  o.copy = false;
  TxMsg& m = f.q.push({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, o, kDeadline);
  EXPECT_EQ(m.data, reinterpret_cast<const uint8_t*>(s.data()));
}

TEST(SendQueue, NextUnsentIsOldestFirst) {
  Fixture f;
  f.push("a");
  f.push("b");
  f.push("c");
  EXPECT_EQ(send_all_of_next(f.q, 1400), 0u);
  EXPECT_EQ(send_all_of_next(f.q, 1400), 1u);
  EXPECT_EQ(send_all_of_next(f.q, 1400), 2u);
  EXPECT_EQ(f.q.next_unsent(), nullptr);
  f.push("d");
  EXPECT_EQ(send_all_of_next(f.q, 1400), 3u);
}

TEST(SendQueue, NextUnsentStaysOnAMessageUntilItsLastFragment) {
  Fixture f;
  f.push("0123456789");  // frag size 4: 3 fragments
  f.push("x");
  TxMsg* m = f.q.next_unsent();
  f.q.start(*m, 4);
  EXPECT_EQ(m->nfrags, 3u);
  EXPECT_EQ(m->frag_len(2), 2u);
  m->next_frag = 2;
  EXPECT_EQ(f.q.next_unsent(), m);
  m->next_frag = 3;
  EXPECT_EQ(f.q.next_unsent()->id, 1u);
}

TEST(SendQueue, NextUnsentSkipsFinishedMessages) {
  Fixture f;
  f.push("a");
  f.push("b");
  f.q.finish(*f.q.find(0));  // failed before it was ever sent
  EXPECT_EQ(f.q.next_unsent()->id, 1u);
}

TEST(SendQueue, EmptyMessageIsOneFragment) {
  Fixture f;
  TxMsg& m = f.push("");
  f.q.start(m, 1400);
  EXPECT_EQ(m.nfrags, 1u);
  EXPECT_EQ(m.len, 0u);
}

TEST(SendQueue, AckFragIsIdempotent) {
  Fixture f;
  TxMsg& single = f.push("a");
  f.q.start(single, 1400);
  EXPECT_TRUE(f.q.ack_frag(single, 0));
  EXPECT_FALSE(f.q.ack_frag(single, 0));
  EXPECT_TRUE(single.frag_acked(0));

  TxMsg& multi = f.push(std::string(200, 'm'));
  f.q.start(multi, 64);  // 4 fragments
  EXPECT_FALSE(multi.frag_acked(2));
  EXPECT_TRUE(f.q.ack_frag(multi, 2));
  EXPECT_FALSE(f.q.ack_frag(multi, 2));
  EXPECT_TRUE(f.q.ack_frag(multi, 0));
  EXPECT_EQ(multi.acked, 2u);
  EXPECT_TRUE(multi.frag_acked(2));
  EXPECT_FALSE(multi.frag_acked(1));
}

TEST(SendQueue, ManyFragmentBitmapCrossesWords) {
  Fixture f;
  TxMsg& m = f.push(std::string(100 * 10, 'm'));
  f.q.start(m, 10);  // 100 fragments: two bitmap words
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(f.q.ack_frag(m, i)) << i;
  EXPECT_EQ(m.acked, 100u);
  EXPECT_FALSE(f.q.ack_frag(m, 64));
}

TEST(SendQueue, FinishAdvancesTheFloorOverFinishedOnly) {
  Fixture f(8);
  for (int i = 0; i < 5; ++i) f.push("x");
  f.q.finish(*f.q.find(1));
  f.q.finish(*f.q.find(3));
  EXPECT_EQ(f.q.floor(), 0u);
  EXPECT_EQ(f.q.find(1), nullptr);
  f.q.finish(*f.q.find(0));
  EXPECT_EQ(f.q.floor(), 2u);
  f.q.finish(*f.q.find(2));
  EXPECT_EQ(f.q.floor(), 4u);
  f.q.finish(*f.q.find(4));
  EXPECT_EQ(f.q.floor(), 5u);
  EXPECT_EQ(f.q.live(), 0u);
  EXPECT_EQ(f.q.buffered_bytes(), 0u);
}

TEST(SendQueue, FinishReturnsBuffersToThePool) {
  Fixture f;
  TxMsg& m = f.push(std::string(300, 'm'));
  f.q.start(m, 64);
  EXPECT_GT(f.pool.bytes_in_use(), 0u);
  f.q.finish(m);
  EXPECT_EQ(f.pool.bytes_in_use(), 0u);
}

TEST(SendQueue, OrderedMessagesChainPerFlow) {
  Fixture f(8);
  std::vector<uint32_t> d;
  d.push_back(f.push("a", ordered(7)).prev_delta);  // id 0: first of flow 7
  d.push_back(f.push("b").prev_delta);              // id 1: unordered
  d.push_back(f.push("c", ordered(7)).prev_delta);  // id 2: after 0
  d.push_back(f.push("d", ordered(8)).prev_delta);  // id 3: first of flow 8
  d.push_back(f.push("e", ordered(7)).prev_delta);  // id 4: after 2
  d.push_back(f.push("f", ordered(8)).prev_delta);  // id 5: after 3
  EXPECT_EQ(d, (std::vector<uint32_t>{0, 0, 2, 0, 2, 2}));
}

TEST(SendQueue, UnorderedMessageOnAnOrderedFlowDoesNotJoinTheChain) {
  Fixture f(8);
  SendOptions unordered;
  unordered.flow = 7;
  f.push("a", ordered(7));
  EXPECT_EQ(f.push("b", unordered).prev_delta, 0u);
  EXPECT_EQ(f.push("c", ordered(7)).prev_delta, 2u);
}

TEST(SendQueue, ResetRestartsIdsAndChains) {
  Fixture f(4);
  f.push("a", ordered(1));
  f.push("b", ordered(1));
  f.q.reset();
  EXPECT_EQ(f.q.live(), 0u);
  EXPECT_EQ(f.q.floor(), 0u);
  EXPECT_EQ(f.pool.bytes_in_use(), 0u);
  TxMsg& m = f.push("c", ordered(1));
  EXPECT_EQ(m.id, 0u);
  EXPECT_EQ(m.prev_delta, 0u);
}

}  // namespace
}  // namespace srdx
