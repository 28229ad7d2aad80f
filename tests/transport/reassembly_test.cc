// Reassembly: the receiver's messages. A recording Sink prints every delivery
// as "msg=ID flow=F len=L 'payload'"; the tests feed wire::Data fragments as
// the decoder would produce them. Window 8 messages, buffer 1024 bytes.
#include "reassembly.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srdx {
namespace {

struct Recorder : Reassembly::Sink {
  explicit Recorder(BufferPool& p) : pool(p) {}
  void deliver(uint64_t msg_id, uint16_t flow, BufferPool::Handle buf, uint32_t len,
               uint32_t charge) override {
    std::string s = "msg=" + std::to_string(msg_id) + " flow=" + std::to_string(flow) +
                    " len=" + std::to_string(len);
    if (len <= 32)
      s += " '" + std::string(reinterpret_cast<const char*>(pool.data(buf)), len) + "'";
    log.push_back(s);
    charges.push_back(charge);
    payloads.emplace_back(reinterpret_cast<const char*>(pool.data(buf)), len);
    pool.put(buf);
  }
  std::string take() {
    std::string s;
    for (auto& l : log) s += (s.empty() ? "" : "; ") + l;
    log.clear();
    return s;
  }
  BufferPool& pool;
  std::vector<std::string> log;
  std::vector<uint32_t> charges;
  std::vector<std::string> payloads;
};

struct Fixture {
  Fixture() : pool(1 << 20), rx(make_cfg(), pool, budget), sink(pool) {}
  static const EndpointConfig& make_cfg() {
    static EndpointConfig c = [] {
      EndpointConfig cfg;
      cfg.recv_msg_window = 8;
      cfg.recv_buffer_bytes = 1024;  // Reassembly does not validate: small on purpose
      cfg.max_message_size = 1024;
      return cfg;
    }();
    return c;
  }
  // Fragment `frag` of message `id` whose whole content is `msg`.
  Reassembly::Verdict frag(uint64_t id, std::string_view msg, uint32_t frag, uint16_t frag_size,
                           uint32_t prev_delta = 0, uint16_t flow = 0) {
    wire::Data d;
    d.msg_id = id;
    d.msg_len = static_cast<uint32_t>(msg.size());
    d.frag_index = frag;
    d.frag_size = frag_size;
    d.prev_delta = prev_delta;
    d.flow = flow;
    const size_t off = size_t{frag} * frag_size;
    const size_t n = off >= msg.size() ? 0 : std::min<size_t>(frag_size, msg.size() - off);
    d.payload_len = static_cast<uint16_t>(n);
    d.payload = {reinterpret_cast<const uint8_t*>(msg.data()) + off, n};
    return rx.on_fragment(d, sink);
  }
  Reassembly::Verdict whole(uint64_t id, std::string_view msg, uint32_t prev_delta = 0,
                            uint16_t flow = 0) {
    return frag(id, msg, 0, 1000, prev_delta, flow);
  }
  BufferPool pool;
  RecvBudget budget{1 << 20, 0};
  Reassembly rx;
  Recorder sink;
};

using V = Reassembly::Verdict;

TEST(Reassembly, SingleFragmentMessageIsDeliveredAtOnce) {
  Fixture f;
  EXPECT_EQ(f.whole(0, "hello", 0, 3), V::accepted);
  EXPECT_EQ(f.sink.take(), "msg=0 flow=3 len=5 'hello'");
  EXPECT_EQ(f.rx.base(), 1u);
  EXPECT_EQ(f.rx.partial_messages(), 0u);
  EXPECT_EQ(f.sink.charges[0], 64u);  // small messages are charged kMinMessageCharge
  EXPECT_EQ(f.rx.held_bytes(), 64u);  // until the application releases it
  f.rx.release(64);
  EXPECT_EQ(f.rx.held_bytes(), 0u);
}

TEST(Reassembly, EmptyMessage) {
  Fixture f;
  EXPECT_EQ(f.whole(0, ""), V::accepted);
  EXPECT_EQ(f.sink.take(), "msg=0 flow=0 len=0 ''");
}

TEST(Reassembly, MultiFragmentMessageIsDeliveredWhenTheLastFragmentLands) {
  Fixture f;
  const std::string m = "0123456789";  // frag size 4: "0123" "4567" "89"
  EXPECT_EQ(f.frag(0, m, 2, 4), V::accepted);
  EXPECT_EQ(f.frag(0, m, 0, 4), V::accepted);
  EXPECT_EQ(f.sink.take(), "");
  EXPECT_EQ(f.rx.partial_messages(), 1u);
  EXPECT_EQ(f.frag(0, m, 1, 4), V::accepted);
  EXPECT_EQ(f.sink.take(), "msg=0 flow=0 len=10 '0123456789'");
  EXPECT_EQ(f.rx.partial_messages(), 0u);
}

TEST(Reassembly, LargeMessageInManyFragments) {
  Fixture f;
  std::string m(1000, '\0');
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<char>('a' + i % 26);
  for (int i = 99; i >= 0; --i) ASSERT_EQ(f.frag(5, m, i, 10), V::accepted);  // 100 fragments
  ASSERT_EQ(f.sink.payloads.size(), 1u);
  EXPECT_EQ(f.sink.payloads[0], m);
  EXPECT_EQ(f.sink.charges[0], 1000u);
}

TEST(Reassembly, DuplicateFragmentsAreReported) {
  Fixture f;
  const std::string m = "0123456789";
  EXPECT_EQ(f.frag(0, m, 0, 4), V::accepted);
  EXPECT_EQ(f.frag(0, m, 0, 4), V::duplicate);
  EXPECT_EQ(f.frag(0, m, 1, 4), V::accepted);
  EXPECT_EQ(f.frag(0, m, 2, 4), V::accepted);
  EXPECT_EQ(f.frag(0, m, 1, 4), V::duplicate);  // after delivery
  EXPECT_EQ(f.whole(1, "x"), V::accepted);
  EXPECT_EQ(f.whole(1, "x"), V::duplicate);
  EXPECT_EQ(f.sink.take(), "msg=0 flow=0 len=10 '0123456789'; msg=1 flow=0 len=1 'x'");
}

TEST(Reassembly, InconsistentFragmentIsRefused) {
  Fixture f;
  EXPECT_EQ(f.frag(0, "0123456789", 0, 4), V::accepted);
  EXPECT_EQ(f.frag(0, "0123456789AB", 1, 4), V::inconsistent);     // other length
  EXPECT_EQ(f.frag(0, "0123456789", 1, 5), V::inconsistent);       // other frag size
  EXPECT_EQ(f.whole(2, std::string(1025, 'x')), V::inconsistent);  // above max_message_size
  EXPECT_EQ(f.sink.take(), "");
}

TEST(Reassembly, OutOfWindowIsRefused) {
  Fixture f;
  EXPECT_EQ(f.whole(8, "x"), V::out_of_window);
  EXPECT_EQ(f.whole(7, "x"), V::accepted);
  EXPECT_EQ(f.rx.max_msg_id(), 8u);
  EXPECT_EQ(f.whole(0, "y"), V::accepted);  // base moves to 1
  EXPECT_EQ(f.rx.max_msg_id(), 9u);
  EXPECT_EQ(f.whole(8, "z"), V::accepted);
  EXPECT_EQ(f.sink.take(),
            "msg=7 flow=0 len=1 'x'; msg=0 flow=0 len=1 'y'; msg=8 flow=0 len=1 'z'");
}

TEST(Reassembly, NoBufferWhenCreditIsExhaustedUntilReleased) {
  Fixture f;
  const std::string big(400, 'b');
  EXPECT_EQ(f.whole(0, big), V::accepted);
  EXPECT_EQ(f.whole(1, big), V::accepted);
  EXPECT_EQ(f.rx.free_bytes(), 224u);
  EXPECT_EQ(f.whole(2, big), V::no_buffer);
  EXPECT_EQ(f.whole(3, "s"), V::accepted);  // 64 still fit
  EXPECT_EQ(f.rx.free_bytes(), 160u);
  EXPECT_EQ(f.sink.payloads.size(), 3u);
  f.rx.release(400);
  EXPECT_EQ(f.rx.free_bytes(), 560u);
  EXPECT_EQ(f.whole(2, big), V::accepted);
  EXPECT_EQ(f.sink.payloads.size(), 4u);
}

TEST(Reassembly, PartialMessagesAreChargedTheirFullLength) {
  Fixture f;
  const std::string m(800, 'p');
  EXPECT_EQ(f.frag(0, m, 0, 100), V::accepted);
  EXPECT_EQ(f.rx.held_bytes(), 800u);
  EXPECT_EQ(f.whole(1, std::string(300, 'q')), V::no_buffer);
  EXPECT_EQ(f.frag(0, m, 1, 100), V::accepted);  // the started message goes on
}

TEST(Reassembly, OrderedChainWaitsForItsPredecessor) {
  Fixture f;
  EXPECT_EQ(f.whole(2, "c", 1, 9), V::accepted);  // after 1
  EXPECT_EQ(f.whole(1, "b", 1, 9), V::accepted);  // after 0
  EXPECT_EQ(f.sink.take(), "");
  EXPECT_EQ(f.whole(3, "u"), V::accepted);  // unordered: not held back
  EXPECT_EQ(f.sink.take(), "msg=3 flow=0 len=1 'u'");
  EXPECT_EQ(f.whole(0, "a", 0, 9), V::accepted);
  EXPECT_EQ(f.sink.take(),
            "msg=0 flow=9 len=1 'a'; msg=1 flow=9 len=1 'b'; msg=2 flow=9 len=1 'c'");
  EXPECT_EQ(f.rx.base(), 4u);
}

TEST(Reassembly, OrderedChainSkipsOtherFlows) {
  Fixture f;
  // Flow 1: 0 -> 2 (prev_delta 2); message 1 belongs to another flow.
  EXPECT_EQ(f.whole(2, "c", 2, 1), V::accepted);
  EXPECT_EQ(f.sink.take(), "");
  EXPECT_EQ(f.whole(0, "a", 0, 1), V::accepted);
  EXPECT_EQ(f.sink.take(), "msg=0 flow=1 len=1 'a'; msg=2 flow=1 len=1 'c'");
  EXPECT_EQ(f.whole(1, "b", 0, 2), V::accepted);
  EXPECT_EQ(f.sink.take(), "msg=1 flow=2 len=1 'b'");
}

TEST(Reassembly, RaiseFloorDiscardsPartialAndDeliversHeldComplete) {
  Fixture f;
  EXPECT_EQ(f.frag(0, "0123456789", 0, 4), V::accepted);  // partial
  EXPECT_EQ(f.whole(1, "b", 1, 5), V::accepted);          // waits for 0
  EXPECT_EQ(f.sink.take(), "");
  EXPECT_EQ(f.rx.held_bytes(), 64u + 64u);  // both charged at least kMinMessageCharge
  f.rx.raise_floor(2, f.sink);
  EXPECT_EQ(f.sink.take(), "msg=1 flow=5 len=1 'b'");
  EXPECT_EQ(f.rx.partial_messages(), 0u);
  EXPECT_EQ(f.rx.held_bytes(), 64u);  // only the delivered message's charge
  EXPECT_EQ(f.rx.base(), 2u);
  EXPECT_EQ(f.frag(0, "0123456789", 1, 4), V::duplicate);  // given up: never delivered
  EXPECT_EQ(f.sink.take(), "");
}

TEST(Reassembly, RaiseFloorReleasesASuccessorAboveTheFloor) {
  Fixture f;
  EXPECT_EQ(f.frag(0, "0123456789", 0, 4), V::accepted);  // partial, given up
  EXPECT_EQ(f.whole(1, "b", 1, 5), V::accepted);          // complete, waits for 0
  f.rx.raise_floor(1, f.sink);
  EXPECT_EQ(f.sink.take(), "msg=1 flow=5 len=1 'b'");
  EXPECT_EQ(f.rx.base(), 2u);
}

TEST(Reassembly, ExactlyOnceAcrossFloors) {
  Fixture f;
  EXPECT_EQ(f.whole(3, "d"), V::accepted);
  f.rx.raise_floor(2, f.sink);
  EXPECT_EQ(f.rx.base(), 2u);
  EXPECT_EQ(f.whole(3, "d"), V::duplicate);
  EXPECT_EQ(f.whole(1, "b"), V::duplicate);  // below the floor
  f.rx.raise_floor(4, f.sink);
  EXPECT_EQ(f.whole(3, "d"), V::duplicate);
  EXPECT_EQ(f.whole(4, "e"), V::accepted);
  EXPECT_EQ(f.whole(4, "e"), V::duplicate);
  EXPECT_EQ(f.sink.take(), "msg=3 flow=0 len=1 'd'; msg=4 flow=0 len=1 'e'");
}

TEST(Reassembly, FloorJumpingPastTheWindowForgetsEverything) {
  Fixture f;
  EXPECT_EQ(f.whole(5, "f"), V::accepted);
  EXPECT_EQ(f.frag(6, "0123456789", 0, 4), V::accepted);
  f.rx.raise_floor(100, f.sink);
  EXPECT_EQ(f.rx.base(), 100u);
  EXPECT_EQ(f.rx.partial_messages(), 0u);
  // Ids that share slots with the old ones are fresh.
  EXPECT_EQ(f.whole(101, "x"), V::accepted);  // slot of 5
  EXPECT_EQ(f.whole(102, "y"), V::accepted);  // slot of 6
  EXPECT_EQ(f.whole(107, "z"), V::accepted);
  EXPECT_EQ(f.whole(108, "w"), V::out_of_window);
  EXPECT_EQ(f.sink.take(),
            "msg=5 flow=0 len=1 'f'; msg=101 flow=0 len=1 'x'; msg=102 flow=0 len=1 'y'; "
            "msg=107 flow=0 len=1 'z'");
}

TEST(Reassembly, LowerFloorIsIgnored) {
  Fixture f;
  EXPECT_EQ(f.whole(0, "a"), V::accepted);
  EXPECT_EQ(f.whole(1, "b"), V::accepted);
  f.rx.raise_floor(1, f.sink);
  EXPECT_EQ(f.rx.base(), 2u);
  EXPECT_EQ(f.whole(1, "b"), V::duplicate);
}

TEST(Reassembly, ResetForgetsEverythingAndReturnsBuffers) {
  Fixture f;
  EXPECT_EQ(f.frag(0, std::string(300, 'p'), 0, 100), V::accepted);
  EXPECT_EQ(f.whole(2, "c", 1), V::accepted);
  EXPECT_EQ(f.whole(1, "b"), V::accepted);  // delivers 1, then 2
  EXPECT_EQ(f.sink.take(), "msg=1 flow=0 len=1 'b'; msg=2 flow=0 len=1 'c'");
  f.rx.reset();
  EXPECT_EQ(f.rx.base(), 0u);
  EXPECT_EQ(f.rx.held_bytes(), 0u);
  EXPECT_EQ(f.rx.partial_messages(), 0u);
  EXPECT_EQ(f.pool.bytes_in_use(), 0u);
  EXPECT_EQ(f.whole(0, "a"), V::accepted);  // id 0 is new again
  EXPECT_EQ(f.sink.take(), "msg=0 flow=0 len=1 'a'");
}

}  // namespace
}  // namespace srdx
