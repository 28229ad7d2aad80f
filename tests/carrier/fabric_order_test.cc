// The fabric carrier's receive side against a peer that the test drives
// itself: a bare libfabric endpoint (shm) sending segments built with the
// carrier's header codec, in whatever order and number the test chooses.
// The providers here deliver in send order (FI_ORDER_SAS), so only this way
// do reordered segments, held ordered messages, duplicates and aborts reach
// the carrier, as they may from a provider that does not keep order (efa).
#include <gtest/gtest.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fabric_carrier.h"
#include "fabric_wire.h"
#include "loop/clock.h"

namespace srdx::carrier {
namespace {

using wire::SegHeader;
using wire::SegType;

void check(int ret, const char* what) {
  if (ret) throw std::runtime_error(std::string(what) + ": " + fi_strerror(-ret));
}

// A bare FI_EP_RDM endpoint over shm: sends what the test gives it, and
// collects what arrives.
class RawPeer {
 public:
  RawPeer() {
    fi_info* hints = fi_allocinfo();
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = FI_MSG;
    hints->domain_attr->av_type = FI_AV_TABLE;
    hints->fabric_attr->prov_name = strdup("shm");
    check(fi_getinfo(FI_VERSION(1, 17), nullptr, nullptr, 0, hints, &info_), "fi_getinfo");
    fi_freeinfo(hints);
    check(fi_fabric(info_->fabric_attr, &fabric_, nullptr), "fi_fabric");
    check(fi_domain(fabric_, info_, &domain_, nullptr), "fi_domain");
    fi_av_attr av{};
    av.type = FI_AV_TABLE;
    check(fi_av_open(domain_, &av, &av_, nullptr), "fi_av_open");
    fi_cq_attr cq{};
    cq.format = FI_CQ_FORMAT_DATA;
    cq.size = 256;
    check(fi_cq_open(domain_, &cq, &cq_, nullptr), "fi_cq_open");
    check(fi_endpoint(domain_, info_, &ep_, nullptr), "fi_endpoint");
    check(fi_ep_bind(ep_, &av_->fid, 0), "bind av");
    check(fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV), "bind cq");
    check(fi_enable(ep_), "fi_enable");
    size_t len = 256;
    name_.resize(len);
    check(fi_getname(&ep_->fid, name_.data(), &len), "fi_getname");
    name_.resize(len);
    rx_.assign(kRx, std::vector<uint8_t>(1 << 17));
    for (size_t i = 0; i < kRx; ++i) post(i);
  }
  ~RawPeer() {
    fi_close(&ep_->fid);
    fi_close(&cq_->fid);
    fi_close(&av_->fid);
    fi_close(&domain_->fid);
    fi_close(&fabric_->fid);
    fi_freeinfo(info_);
  }

  const std::vector<uint8_t>& name() const { return name_; }

  void connect(const std::string& hex) {
    std::vector<uint8_t> n;
    if (!from_hex(hex, n)) throw std::runtime_error("bad name");
    if (fi_av_insert(av_, n.data(), 1, &peer_, 0, nullptr) != 1) throw std::runtime_error("av");
  }

  // Sends one provider message: header h (len and src_id filled in) and payload.
  void send(SegHeader h, std::span<const uint8_t> payload = {}) {
    h.src_id = kId;
    h.len = static_cast<uint32_t>(payload.size());
    std::vector<uint8_t> msg(wire::kHeaderBytes + payload.size());
    wire::encode(h, msg);
    if (!payload.empty())
      std::memcpy(msg.data() + wire::kHeaderBytes, payload.data(), payload.size());
    send_bytes(std::move(msg));
  }
  // Sends bytes as they are.
  void send_bytes(std::vector<uint8_t> msg) {
    auto buf = std::make_unique<std::vector<uint8_t>>(std::move(msg));
    ssize_t ret;
    while ((ret = fi_send(ep_, buf->data(), buf->size(), nullptr, peer_, buf.get())) ==
           -FI_EAGAIN) {
      poll();
      if (also_progress) also_progress();  // shm's first send waits for the peer to answer
    }
    if (ret) throw std::runtime_error("fi_send");
    in_flight_.push_back(std::move(buf));
  }

  // Reads completions; received headers go to `got`.
  void poll() {
    fi_cq_data_entry e[16];
    ssize_t n;
    while ((n = fi_cq_read(cq_, e, 16)) > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        if (!(e[i].flags & FI_RECV)) continue;
        const size_t slot = reinterpret_cast<uintptr_t>(e[i].op_context);
        SegHeader h;
        if (wire::decode(std::span<const uint8_t>(rx_[slot].data(), e[i].len), 1 << 30, h) ==
            wire::DecodeError::ok) {
          got.push_back(h);
        }
        post(slot);
      }
    }
  }

  std::vector<SegHeader> got;
  std::function<void()> also_progress;
  static constexpr uint64_t kId = 0x5eed;

 private:
  static constexpr size_t kRx = 16;
  void post(size_t slot) {
    check(static_cast<int>(fi_recv(ep_, rx_[slot].data(), rx_[slot].size(), nullptr, FI_ADDR_UNSPEC,
                                   reinterpret_cast<void*>(slot))),
          "fi_recv");
  }

  fi_info* info_ = nullptr;
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_av* av_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_ep* ep_ = nullptr;
  fi_addr_t peer_ = FI_ADDR_UNSPEC;
  std::vector<uint8_t> name_;
  std::vector<std::vector<uint8_t>> rx_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> in_flight_;
};

class FabricOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    FabricConfig cfg;
    cfg.provider = "shm";
    carrier_ = std::make_unique<FabricCarrier>(cfg);
    carrier_->on_event([this](const Event& ev, Time) {
      if (ev.type == EventType::message_received) {
        received_.push_back({ev.msg_id, std::vector<uint8_t>(ev.data.begin(), ev.data.end())});
        peer_of_raw_ = ev.peer;
      }
    });
    raw_.also_progress = [this] { carrier_->poll_once(dp::monotonic_now()); };
    raw_.connect(carrier_->local_name());
    SegHeader hello;
    hello.type = SegType::hello;
    raw_.send(hello, raw_.name());
    ASSERT_TRUE(pump_until([&] { return count(SegType::hello_ack) == 1; }));
  }

  // Steps the carrier and the raw peer until done() or the hang guard.
  bool pump_until(const std::function<bool()>& done) {
    const Time start = dp::monotonic_now();
    while (!done()) {
      carrier_->poll_once(dp::monotonic_now());
      raw_.poll();
      if (dp::monotonic_now() - start > Duration::seconds(30)) return false;
    }
    return true;
  }
  // A few more iterations, for "nothing more happens" checks.
  void settle() {
    for (int i = 0; i < 200; ++i) {
      carrier_->poll_once(dp::monotonic_now());
      raw_.poll();
    }
  }
  size_t count(SegType t, MsgId id = 0) const {
    size_t n = 0;
    for (const SegHeader& h : raw_.got) n += h.type == t && (id == 0 || h.msg_id == id);
    return n;
  }

  static SegHeader data(MsgId id, uint64_t total, uint64_t offset, uint64_t oseq = 0) {
    SegHeader h;
    h.type = SegType::data;
    h.msg_id = id;
    h.total = total;
    h.offset = offset;
    h.ordered = oseq != 0;
    h.oseq = oseq;
    h.flow = 3;
    return h;
  }

  RawPeer raw_;
  std::unique_ptr<FabricCarrier> carrier_;
  std::vector<std::pair<MsgId, std::vector<uint8_t>>> received_;
  PeerId peer_of_raw_ = kNoPeer;
};

std::vector<uint8_t> bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST_F(FabricOrder, SegmentsInAnyOrderMakeTheMessage) {
  const std::vector<uint8_t> m = bytes(3000, 1);
  const std::span<const uint8_t> s(m);
  raw_.send(data(1, 3000, 2000), s.subspan(2000));
  raw_.send(data(1, 3000, 0), s.subspan(0, 1000));
  settle();
  EXPECT_TRUE(received_.empty());  // not whole yet
  EXPECT_EQ(count(SegType::ack), 0u);
  raw_.send(data(1, 3000, 1000), s.subspan(1000, 1000));
  ASSERT_TRUE(pump_until([&] { return count(SegType::ack, 1) == 1; }));
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].second, m);
}

TEST_F(FabricOrder, OrderedMessagesWaitForTheirPlaceAndAreAckedWhenHandedUp) {
  const std::vector<uint8_t> a = bytes(100, 1), b = bytes(200, 2), c = bytes(50, 3);
  // Places 3 and 2 arrive whole before place 1.
  raw_.send(data(3, 50, 0, 3), c);
  raw_.send(data(2, 200, 0, 2), b);
  settle();
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(count(SegType::ack), 0u);  // held, not handed up: not acknowledged
  raw_.send(data(1, 100, 0, 1), a);
  ASSERT_TRUE(pump_until([&] { return count(SegType::ack) == 3; }));
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(received_[0].first, 1u);
  EXPECT_EQ(received_[1].first, 2u);
  EXPECT_EQ(received_[2].first, 3u);
  EXPECT_EQ(received_[1].second, b);
}

TEST_F(FabricOrder, AnAbortedPlaceLetsTheFlowGoOn) {
  const std::vector<uint8_t> m = bytes(1000, 4);
  raw_.send(data(2, 100, 0, 2), std::span<const uint8_t>(m).subspan(0, 100));
  raw_.send(data(1, 1000, 0, 1), std::span<const uint8_t>(m).subspan(0, 400));  // part of it
  settle();
  EXPECT_TRUE(received_.empty());
  SegHeader abort;
  abort.type = SegType::abort;
  abort.msg_id = 1;
  abort.ordered = true;
  abort.oseq = 1;
  abort.flow = 3;
  raw_.send(abort);
  ASSERT_TRUE(pump_until([&] { return received_.size() == 1; }));
  EXPECT_EQ(received_[0].first, 2u);
  // The rest of the aborted message, late: dropped, never handed up.
  raw_.send(data(1, 1000, 400, 1), std::span<const uint8_t>(m).subspan(400));
  settle();
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(carrier_->fabric_stats().dropped_duplicate, 1u);
}

TEST_F(FabricOrder, ADuplicateIsNotHandedUpTwice) {
  const std::vector<uint8_t> m = bytes(10, 5);
  raw_.send(data(1, 10, 0), m);
  ASSERT_TRUE(pump_until([&] { return received_.size() == 1; }));
  raw_.send(data(1, 10, 0), m);
  settle();
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(carrier_->fabric_stats().dropped_duplicate, 1u);
}

TEST_F(FabricOrder, AnAnswerGoesWithoutAHelloOfItsOwn) {
  // The raw peer said hello and sent data: it knows the carrier, so the
  // carrier's answer needs no hello first.
  raw_.send(data(1, 4, 0), bytes(4, 6));
  ASSERT_TRUE(pump_until([&] { return received_.size() == 1; }));
  const Result<MsgId> r = carrier_->send(peer_of_raw_, bytes(30, 7), {}, dp::monotonic_now());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(pump_until([&] { return count(SegType::data) == 1; }));
  EXPECT_EQ(count(SegType::hello), 0u);
}

TEST_F(FabricOrder, MalformedAndUnknownSendersAreDroppedAndCounted) {
  SegHeader h = data(1, 10, 0);
  h.src_id = 99;  // an incarnation that never said hello
  h.len = 10;
  std::vector<uint8_t> unknown(wire::kHeaderBytes + 10);
  wire::encode(h, unknown);
  raw_.send_bytes(unknown);
  const std::vector<uint8_t> some(40, 0xee);
  raw_.send(data(1, 5, 3), std::span<const uint8_t>(some).subspan(0, 3));  // past its end
  raw_.send_bytes(some);                                                   // no header at all
  settle();
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(count(SegType::ack), 0u);
  EXPECT_EQ(carrier_->fabric_stats().dropped_unknown_source, 1u);
  EXPECT_EQ(carrier_->fabric_stats().dropped_malformed, 2u);
}

}  // namespace
}  // namespace srdx::carrier
