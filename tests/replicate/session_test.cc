// Replication over a carrier, end to end in one process: a Source ships a
// tree through two real carriers (the srdx engine over the udp link on
// loopback, and libfabric over shm) to a Sink writing a Store; every file at
// DR is compared byte for byte with the source. Also: a resume after the
// source is destroyed mid-file (only what was in flight travels again), an
// append-only file shipping only its new chunks, a barrier, a file changed
// while being sent, forged and malformed messages refused, and the
// protocol codec.
#include "replicate/session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../carrier/test_carriers.h"
#include "engine_carrier.h"
#include "fabric_carrier.h"
#include "loop/clock.h"
#include "replicate/protocol.h"

using namespace srdx;
using namespace srdx::replicate;

namespace {

constexpr Duration kHangGuard = Duration::seconds(60);
constexpr uint32_t kChunk = 4096;

std::unique_ptr<carrier::Carrier> make_engine() { return srdx::testing::make_engine(36000); }
std::unique_ptr<carrier::Carrier> make_shm() { return srdx::testing::make_fabric("shm"); }

std::string temp_dir(const char* what) {
  std::string t = std::string("/tmp/srdx-session-") + what + ".XXXXXX";
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
  return t;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool append = false) {
  std::ofstream f(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

struct Kind {
  std::string name;
  std::function<std::unique_ptr<carrier::Carrier>()> make;
};
void PrintTo(const Kind& k, std::ostream* os) { *os << k.name; }

class SessionTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    src_ = temp_dir("src");
    dr_ = temp_dir("dr");
    a_ = GetParam().make();
    b_ = GetParam().make();
    const srdx::Result<PeerId> p = a_->add_peer(b_->local_name());
    ASSERT_TRUE(p.ok());
    peer_ = p.value;
    sink_ = std::make_unique<Sink>(SinkOptions{dr_, 3}, *b_, nullptr);
    b_->on_event([this](const Event& ev, Time now) { sink_->on_event(ev, now); });
    b_->on_tick([this](Time now) { sink_->tick(now); });
    a_->on_event([this](const Event& ev, Time now) {
      if (source_) source_->on_event(ev, now);
    });
    a_->on_tick([this](Time now) {
      if (source_) source_->tick(now);
    });
  }
  void TearDown() override {
    source_.reset();
    sink_.reset();
    std::system(("rm -rf '" + src_ + "' '" + dr_ + "'").c_str());
  }

  SourceOptions options(bool continuous = false) const {
    SourceOptions o;
    o.job_id = 7;
    o.job_name = "ehr";
    o.source_dir = src_;
    o.chunk_size = kChunk;
    o.window = 8;
    o.continuous = continuous;
    o.rescan_every = Duration::millis(200);
    return o;
  }

  void start(SourceOptions o) {
    source_ = std::make_unique<Source>(std::move(o), *a_, peer_, nullptr);
    source_->start(dp::monotonic_now());
  }

  bool pump(const std::function<bool()>& done) {
    const Time start = dp::monotonic_now();
    while (!done()) {
      const Time now = dp::monotonic_now();
      bool did = a_->poll_once(now);
      did |= b_->poll_once(now);
      if (now - start > kHangGuard) return false;
      if (!did) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
  }

  bool until_state(JobState s) {
    return pump([&] { return source_->progress().state == s; });
  }

  std::string dr(const std::string& rel) const { return dr_ + "/ehr/" + rel; }

  // For tests that speak the protocol by hand: the source side's carrier
  // keeps every replication message it receives, decoded...
  std::vector<proto::Msg>& capture_answers() {
    a_->on_event([this](const Event& ev, Time) {
      if (ev.type == EventType::message_received && ev.flow == kReplicationFlow) {
        replicate::Result<proto::Msg> d = proto::decode(ev.data);
        ASSERT_TRUE(d.ok());
        answers_.push_back(d.value);
      }
    });
    return answers_;
  }
  // ...and sends raw bytes on the replication flow.
  void send_raw(const std::vector<uint8_t>& bytes) {
    SendOptions so;
    so.flow = kReplicationFlow;
    ASSERT_TRUE(a_->send(peer_, bytes, so, dp::monotonic_now()).ok());
  }
  // An offer of m as transfer fseq of job 3 ("ehr"), or its commit.
  void offer_by_hand(uint64_t fseq, const Manifest& m) {
    proto::Msg o;
    o.type = proto::Type::offer;
    o.job = 3;
    o.fseq = fseq;
    o.name = "ehr";
    o.manifest = encode(m);
    send_raw(proto::encode(o));
  }
  void commit_by_hand(uint64_t fseq) {
    proto::Msg c;
    c.type = proto::Type::commit;
    c.job = 3;
    c.fseq = fseq;
    send_raw(proto::encode(c));
  }
  std::vector<proto::Msg> answers_;
  std::string src(const std::string& rel) const { return src_ + "/" + rel; }

  std::string src_, dr_;
  std::unique_ptr<carrier::Carrier> a_, b_;
  PeerId peer_ = kNoPeer;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Source> source_;
};

TEST_P(SessionTest, ATreeArrivesExactAndVerified) {
  mkdir(src("fhir").c_str(), 0755);
  mkdir(src("dicom").c_str(), 0755);
  mkdir(src("dicom/s1").c_str(), 0755);
  std::map<std::string, std::vector<uint8_t>> files;
  files["empty"] = {};
  files["fhir/Patient.ndjson"] = random_bytes(kChunk * 5, 1);          // exact multiple
  files["fhir/Observation.ndjson"] = random_bytes(kChunk * 9 + 1, 2);  // one byte over
  files["dicom/s1/1.dcm"] = random_bytes(1234, 3);
  for (int i = 0; i < 30; ++i)
    files["dicom/s1/small" + std::to_string(i)] = random_bytes(100 + i, i);
  for (const auto& [rel, b] : files) write_file(src(rel), b);
  symlink("/etc/passwd", src("link-out").c_str());  // never followed, never shipped
  start(options());
  ASSERT_TRUE(until_state(JobState::done)) << source_->progress().error;
  const Progress p = source_->progress();
  EXPECT_EQ(p.files_done, files.size());
  EXPECT_EQ(p.files_failed, 0u);
  EXPECT_EQ(p.chunks_resent, 0u);
  for (const auto& [rel, b] : files) EXPECT_EQ(read_file(dr(rel)), b) << rel;
  struct stat st {};
  EXPECT_NE(lstat(dr("link-out").c_str(), &st), 0);
  const replicate::Result<std::vector<Problem>> v = verify(dr_ + "/ehr");
  ASSERT_TRUE(v.ok()) << v.error.message;
  EXPECT_TRUE(v.value.empty());
  EXPECT_EQ(sink_->stats().commits, files.size());
  EXPECT_EQ(sink_->stats().malformed, 0u);

  // A second pass (a restart of the job) finds everything up to date: no
  // chunk travels.
  source_.reset();
  start(options());
  ASSERT_TRUE(until_state(JobState::done));
  EXPECT_EQ(source_->progress().chunks_sent, 0u);
  EXPECT_EQ(source_->progress().files_done, files.size());
}

TEST_P(SessionTest, AResumeAfterTheSourceDiesSendsOnlyWhatWasInFlight) {
  const auto big = random_bytes(kChunk * 400 + 77, 9);
  write_file(src("journal"), big);
  SourceOptions o = options();
  start(o);
  // Stop the source once some chunks are durable at DR, as a kill -9 would.
  ASSERT_TRUE(pump([&] { return sink_->stats().chunks_written >= 100; }));
  const uint64_t sent_before = source_->progress().chunks_sent;
  source_->stop();
  source_.reset();
  const uint64_t durable = sink_->stats().chunks_written;
  EXPECT_LT(durable, 401u);
  start(o);
  ASSERT_TRUE(until_state(JobState::done)) << source_->progress().error;
  EXPECT_EQ(read_file(dr("journal")), big);
  const uint64_t sent_after = source_->progress().chunks_sent;
  // Everything durable before the stop (and what was in flight and landed
  // after it) was not sent again; at most a window of chunks (in flight at
  // the stop) travelled twice.
  EXPECT_GE(source_->progress().chunks_skipped, durable);
  EXPECT_EQ(source_->progress().chunks_skipped + sent_after, 401u);
  EXPECT_LE(sent_before + sent_after, 401u + o.window + 1);
  std::printf("resume: %llu chunks before the stop, %llu after, %u in the file\n",
              static_cast<unsigned long long>(sent_before),
              static_cast<unsigned long long>(sent_after), 401);
}

// A restarted source takes what the DR's listing holds with the same size
// and mtime as shipped (the quick check): no offer, no read; a file changed
// while it was down, and one the DR lacks, travel.
TEST_P(SessionTest, ARestartedSourceOffersOnlyWhatTheDrDoesNotHoldAsItIs) {
  for (int i = 0; i < 20; ++i)
    write_file(src("f" + std::to_string(i)), random_bytes(100 + 37 * i, 40 + i));
  SourceOptions o = options();
  start(o);
  ASSERT_TRUE(until_state(JobState::done)) << source_->progress().error;
  source_.reset();
  const uint64_t offers = sink_->stats().offers;
  EXPECT_GE(offers, 20u);
  // While it was down: one file changed (another size), one new.
  write_file(src("f3"), random_bytes(5000, 99));
  write_file(src("new"), random_bytes(700, 98));
  start(o);
  ASSERT_TRUE(until_state(JobState::done)) << source_->progress().error;
  EXPECT_EQ(sink_->stats().offers - offers, 2u);
  EXPECT_EQ(read_file(dr("f3")), read_file(src("f3")));
  EXPECT_EQ(read_file(dr("new")), read_file(src("new")));
  EXPECT_EQ(source_->progress().files_done, 21u);  // 19 quick-checked, 2 shipped
}

// inotify says IN_CREATE and IN_MODIFY while a file is being written: it
// ships when it is closed, not half written (before, a new file was often
// offered empty on its creation and its content waited for that transfer).
// One left open ships once quiet for the settle time. The settle time is
// long here so that a slow machine cannot pass the test by luck.
TEST_P(SessionTest, AFileBeingWrittenShipsWhenClosedNotHalfWritten) {
  SourceOptions o = options(true);
  o.settle = Duration::seconds(3);
  o.settle_max = Duration::seconds(6);
  start(o);
  ASSERT_TRUE(until_state(JobState::watching)) << source_->progress().error;
  const uint64_t offers = sink_->stats().offers;
  const std::vector<uint8_t> data = random_bytes(kChunk * 4 + 5, 60);
  const size_t half = kChunk * 2;
  const int fd = open(src("slow.dcm").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, data.data(), half), static_cast<ssize_t>(half));
  const Time until = dp::monotonic_now() + Duration::millis(300);
  pump([&] { return dp::monotonic_now() > until; });
  EXPECT_EQ(sink_->stats().offers, offers) << "a half-written file was offered";
  ASSERT_EQ(write(fd, data.data() + half, data.size() - half),
            static_cast<ssize_t>(data.size() - half));
  close(fd);
  ASSERT_TRUE(pump([&] { return read_file(dr("slow.dcm")) == data; }));
  EXPECT_EQ(sink_->stats().offers - offers, 1u);

  // Written and left open (a journal): shipped once quiet, without a close.
  const int jfd = open(src("open.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(jfd, 0);
  ASSERT_EQ(write(jfd, data.data(), half), static_cast<ssize_t>(half));
  ASSERT_EQ(fsync(jfd), 0);
  ASSERT_TRUE(pump([&] { return read_file(dr("open.log")).size() == half; }));
  EXPECT_EQ(read_file(dr("open.log")), std::vector<uint8_t>(data.begin(), data.begin() + half));
  close(jfd);
}

TEST_P(SessionTest, AnAppendShipsOnlyTheNewChunksAndABarrierSeesIt) {
  auto journal = random_bytes(kChunk * 50 + 10, 4);
  write_file(src("wal.log"), journal);
  start(options(true));
  ASSERT_TRUE(until_state(JobState::watching)) << source_->progress().error;
  EXPECT_EQ(read_file(dr("wal.log")), journal);
  const uint64_t sent = source_->progress().chunks_sent;
  EXPECT_EQ(sent, 51u);
  // Appends: the old partial chunk and the new ones travel, not the prefix.
  const auto more = random_bytes(kChunk * 3, 5);
  write_file(src("wal.log"), more, true);
  journal.insert(journal.end(), more.begin(), more.end());
  bool done = false, ok = false;
  source_->barrier([&](bool k, double) {
    ok = k;
    done = true;
  });
  ASSERT_TRUE(pump([&] { return done; }));
  EXPECT_TRUE(ok);
  EXPECT_EQ(read_file(dr("wal.log")), journal);
  EXPECT_LE(source_->progress().chunks_sent - sent, 4u);
  // Progress counts the appended version as done, and never more than its
  // total (it once read 2 files done of 1, 200%).
  ASSERT_TRUE(pump([&] { return source_->progress().state == JobState::watching; }));
  const Progress pr = source_->progress();
  EXPECT_EQ(pr.files_done, 2u);
  EXPECT_EQ(pr.files_total, 2u);
  EXPECT_EQ(pr.bytes_done, pr.bytes_total);
  // Kept versions: the first and the appended one.
  const replicate::Result<std::vector<Problem>> v = verify(dr_ + "/ehr");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.value.empty());
  // A new file while watching arrives too (inotify, or the rescan).
  const auto fresh = random_bytes(999, 6);
  write_file(src("new.hl7"), fresh);
  ASSERT_TRUE(pump([&] { return read_file(dr("new.hl7")) == fresh; }));
}

TEST_P(SessionTest, ABarrierCompletesWhileAWriterKeepsWriting) {
  write_file(src("wal.log"), random_bytes(1000, 20));
  start(options(true));
  ASSERT_TRUE(until_state(JobState::watching));
  // A writer appends every millisecond, and never stops during the barrier.
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> appended{0};
  std::thread writer([&] {
    for (uint32_t i = 0; !stop.load(); ++i) {
      write_file(src("wal.log"), random_bytes(3000, 100 + i), true);
      appended.store(i + 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const std::vector<uint8_t> before = read_file(src("wal.log"));  // written before the barrier
  bool done = false, ok = false;
  source_->barrier([&](bool k, double) {
    ok = k;
    done = true;
  });
  const bool finished = pump([&] { return done; });
  const uint32_t during = appended.load();
  stop.store(true);
  writer.join();
  ASSERT_TRUE(finished) << "the barrier never completed";
  EXPECT_TRUE(ok);
  EXPECT_GT(during, 0u);
  // Everything written before the barrier is at DR.
  const std::vector<uint8_t> at_dr = read_file(dr("wal.log"));
  ASSERT_GE(at_dr.size(), before.size());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), at_dr.begin()));
}

TEST_P(SessionTest, DeletionsAndRenamesReachTheDrAndTheOldBytesStayRestorable) {
  const auto keep = random_bytes(5000, 30), gone = random_bytes(7000, 31);
  write_file(src("keep.ndjson"), keep);
  write_file(src("gone.hl7"), gone);
  start(options(true));
  ASSERT_TRUE(until_state(JobState::watching));
  ASSERT_EQ(read_file(dr("gone.hl7")), gone);
  // A deletion, and the write-then-rename pattern (a .part that is renamed).
  ASSERT_EQ(unlink(src("gone.hl7").c_str()), 0);
  const auto fresh = random_bytes(9000, 32);
  write_file(src("export.ndjson.part"), fresh);
  ASSERT_EQ(rename(src("export.ndjson.part").c_str(), src("export.ndjson").c_str()), 0);
  bool done = false, ok = false;
  source_->barrier([&](bool k, double) {
    ok = k;
    done = true;
  });
  ASSERT_TRUE(pump([&] { return done; }));
  EXPECT_TRUE(ok);
  struct stat st {};
  EXPECT_NE(stat(dr("gone.hl7").c_str(), &st), 0) << "deleted at the source, still live at DR";
  EXPECT_NE(stat(dr("export.ndjson.part").c_str(), &st), 0);
  EXPECT_EQ(read_file(dr("export.ndjson")), fresh);
  EXPECT_EQ(read_file(dr("keep.ndjson")), keep);
  // The deleted file's bytes stay restorable, and verify is clean.
  const std::string target = dr_ + "/restored";
  RestorePoint pt;
  pt.version = 1;
  replicate::Result<std::vector<Restored>> r = restore(dr_ + "/ehr", "gone.hl7", pt, target);
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(read_file(target + "/gone.hl7"), gone);
  const replicate::Result<std::vector<Problem>> v = verify(dr_ + "/ehr");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.value.empty()) << v.value.front().path << ": " << v.value.front().what;
  // Created again under the same name: a new live version.
  const auto back = random_bytes(100, 33);
  write_file(src("gone.hl7"), back);
  ASSERT_TRUE(pump([&] { return read_file(dr("gone.hl7")) == back; }));
}

TEST_P(SessionTest, AFileDeletedWhileTheSourceWasDownIsRemovedWhenItComesBack) {
  write_file(src("a.dcm"), random_bytes(3000, 40));
  write_file(src("b.dcm"), random_bytes(3000, 41));
  start(options());
  ASSERT_TRUE(until_state(JobState::done));
  source_.reset();
  ASSERT_EQ(unlink(src("b.dcm").c_str()), 0);
  start(options());  // a new source knows nothing of what it shipped: the DR lists it
  struct stat st {};
  ASSERT_TRUE(pump([&] {
    return source_->progress().state == JobState::done && stat(dr("b.dcm").c_str(), &st) != 0;
  }));
  EXPECT_EQ(stat(dr("a.dcm").c_str(), &st), 0);
}

TEST_P(SessionTest, AFileRewrittenWhileBeingSentArrivesInItsNewContent) {
  write_file(src("study.dcm"), random_bytes(kChunk * 300, 11));
  start(options());
  ASSERT_TRUE(pump([&] { return sink_->stats().chunks_written >= 20; }));
  // Rewritten in place, same size: the chunks still to send no longer match
  // the manifest offered; the version is offered again with its new content.
  const auto now_content = random_bytes(kChunk * 300, 12);
  write_file(src("study.dcm"), now_content);
  ASSERT_TRUE(until_state(JobState::done)) << source_->progress().error;
  EXPECT_EQ(read_file(dr("study.dcm")), now_content);
  const replicate::Result<std::vector<Problem>> v = verify(dr_ + "/ehr");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.value.empty());
}

TEST_P(SessionTest, ForgedAndMalformedMessagesAreRefusedAndNothingLandsOutsideTheRoot) {
  // An offer of a manifest whose path escapes, sent straight through the
  // carrier: refused, nothing written.
  Manifest m;
  m.path = "../outside";
  m.chunk_size = kChunk;
  m.chunks = {sha256(std::vector<uint8_t>(10, 1))};
  m.size = 10;
  m.root = merkle_root(m.chunks);
  proto::Msg offer;
  offer.type = proto::Type::offer;
  offer.job = 1;
  offer.fseq = 1;
  offer.name = "evil";
  offer.manifest = encode(m);
  std::vector<proto::Msg>& answers = capture_answers();
  send_raw(proto::encode(offer));
  // Garbage, and a chunk for a transfer that does not exist.
  send_raw({1, 3, 0, 0, 0});
  send_raw(proto::encode_chunk(1, 99, 0, std::vector<uint8_t>(10, 1)));
  ASSERT_TRUE(pump([&] { return answers.size() == 2 && sink_->stats().malformed == 1; }));
  for (const proto::Msg& r : answers) EXPECT_EQ(r.outcome, proto::Outcome::refused) << r.error;
  struct stat st {};
  EXPECT_NE(stat((dr_ + "/outside").c_str(), &st), 0);
  EXPECT_NE(stat((dr_ + "/evil/outside").c_str(), &st), 0);
}

TEST_P(SessionTest, ARestartedSourcesTransferIsNeverTakenForTheOldOnesOfTheSameNumber) {
  // Speaks the protocol by hand: an offer of X as transfer 5 that never
  // finishes (its source died), then, from the restarted source, an offer
  // of Y as transfer 5 again, its chunk and its commit. Y must be what is
  // committed (before the fix, the DR kept X's transfer under that number).
  std::vector<proto::Msg>& answers = capture_answers();
  auto send = [&](const std::vector<uint8_t>& bytes) { send_raw(bytes); };
  auto manifest = [](const std::string& path, const std::vector<uint8_t>& data) {
    Manifest m;
    m.path = path;
    m.chunk_size = kChunk;
    m.size = data.size();
    m.chunks = {sha256(data)};
    m.root = merkle_root(m.chunks);
    return m;
  };
  auto offer = [&](const Manifest& m) { offer_by_hand(5, m); };
  const std::vector<uint8_t> x = random_bytes(500, 50), y = random_bytes(600, 51);
  offer(manifest("x.dcm", x));
  ASSERT_TRUE(pump([&] { return answers.size() == 1; }));
  offer(manifest("y.dcm", y));
  ASSERT_TRUE(pump([&] { return answers.size() == 2; }));
  send(proto::encode_chunk(3, 5, 0, y));
  ASSERT_TRUE(pump([&] { return answers.size() == 3; }));
  EXPECT_EQ(answers[2].type, proto::Type::chunk_ack);
  EXPECT_EQ(answers[2].outcome, proto::Outcome::ok) << answers[2].error;
  commit_by_hand(5);
  ASSERT_TRUE(pump([&] { return answers.size() == 4; }));
  EXPECT_EQ(answers[3].type, proto::Type::committed);
  EXPECT_EQ(answers[3].outcome, proto::Outcome::ok) << answers[3].error;
  EXPECT_EQ(read_file(dr("y.dcm")), y);
  struct stat st {};
  EXPECT_NE(stat(dr("x.dcm").c_str(), &st), 0);
}

TEST_P(SessionTest, ACommitThatOvertakesItsLastChunkWaitsForIt) {
  // A source commits right after its last chunk, and datagrams arrive in
  // any order: a commit may come before a chunk. The DR holds it and seals
  // the version when the chunk is written, instead of refusing it.
  std::vector<proto::Msg>& answers = capture_answers();
  const std::vector<uint8_t> data = random_bytes(2 * kChunk + 10, 52);
  Manifest m;
  m.path = "late.dcm";
  m.chunk_size = kChunk;
  m.size = data.size();
  for (uint64_t i = 0; i < 3; ++i)
    m.chunks.push_back(sha256({data.data() + i * kChunk, chunk_length(m.size, kChunk, i)}));
  m.root = merkle_root(m.chunks);
  auto piece = [&](uint64_t i) {
    return std::vector<uint8_t>(
        data.begin() + static_cast<long>(i * kChunk),
        data.begin() + static_cast<long>(i * kChunk + chunk_length(m.size, kChunk, i)));
  };
  offer_by_hand(9, m);
  ASSERT_TRUE(pump([&] { return answers.size() == 1; }));
  ASSERT_EQ(answers[0].outcome, proto::Outcome::ok) << answers[0].error;
  send_raw(proto::encode_chunk(3, 9, 0, piece(0)));
  send_raw(proto::encode_chunk(3, 9, 2, piece(2)));
  commit_by_hand(9);
  ASSERT_TRUE(pump([&] { return answers.size() == 3; }));  // the two chunks' acks
  // The commit waits: nothing more is answered, nothing is published.
  const Time until = dp::monotonic_now() + Duration::millis(200);
  pump([&] { return answers.size() > 3 || dp::monotonic_now() > until; });
  ASSERT_EQ(answers.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(answers[i].type, proto::Type::chunk_ack);
    EXPECT_EQ(answers[i].outcome, proto::Outcome::ok) << answers[i].error;
  }
  struct stat st {};
  EXPECT_NE(stat(dr("late.dcm").c_str(), &st), 0);
  send_raw(proto::encode_chunk(3, 9, 1, piece(1)));
  ASSERT_TRUE(pump([&] { return answers.size() == 5; }));
  EXPECT_EQ(answers[3].type, proto::Type::chunk_ack);
  EXPECT_EQ(answers[4].type, proto::Type::committed);
  EXPECT_EQ(answers[4].outcome, proto::Outcome::ok) << answers[4].error;
  EXPECT_EQ(read_file(dr("late.dcm")), data);
}

// What needs the carrier to say when a peer goes down (peer_down): the srdx
// engine does; the fabric carrier does not (a provider's connection has no
// such event), where the API's own barrier timeout answers.
class PeerDownTest : public SessionTest {};

TEST_P(PeerDownTest, ABarrierFailsWhenTheDrGoesDownInsteadOfWaitingForever) {
  write_file(src("wal.log"), random_bytes(3 * kChunk, 30));
  start(options(true));
  ASSERT_TRUE(until_state(JobState::watching)) << source_->progress().error;
  // The DR falls silent (its carrier is no longer polled) and a change waits.
  write_file(src("wal.log"), random_bytes(kChunk, 31), true);
  bool done = false, ok = true;
  source_->barrier([&](bool k, double) {
    ok = k;
    done = true;
  });
  const Time start = dp::monotonic_now();
  while (!done && dp::monotonic_now() - start < kHangGuard) {
    if (!a_->poll_once(dp::monotonic_now()))
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_TRUE(done) << "the barrier neither completed nor failed with the DR down";
  EXPECT_FALSE(ok);
  // The DR back: a new barrier gets through.
  done = false;
  source_->barrier([&](bool k, double) {
    ok = k;
    done = true;
  });
  ASSERT_TRUE(pump([&] { return done; }));
  EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Engine, PeerDownTest, ::testing::Values(Kind{"engine_udp", make_engine}),
                         [](const ::testing::TestParamInfo<Kind>& p) { return p.param.name; });

INSTANTIATE_TEST_SUITE_P(Carriers, SessionTest,
                         ::testing::Values(Kind{"engine_udp", make_engine},
                                           Kind{"fabric_shm", make_shm}),
                         [](const ::testing::TestParamInfo<Kind>& p) { return p.param.name; });

TEST(ReplicationProtocol, EveryMessageRoundTripsAndEveryTruncationIsRefused) {
  std::vector<proto::Msg> msgs(8);
  for (int i = 0; i < 8; ++i) {
    msgs[i].type = static_cast<proto::Type>(i + 1);
    msgs[i].job = 0x1122334455667788ull;
    msgs[i].fseq = 42;
    msgs[i].value = 7;
  }
  msgs[0].name = "job-1";
  msgs[0].mode = 1;
  msgs[0].manifest = {1, 2, 3};
  msgs[1].missing = {{0, 3}, {10, 1}};
  msgs[1].error = "why";
  const std::vector<uint8_t> data = {9, 8, 7};
  msgs[2].data = data;
  msgs[3].outcome = proto::Outcome::refused;
  msgs[3].error = "disk full";
  for (const proto::Msg& m : msgs) {
    const std::vector<uint8_t> e = proto::encode(m);
    replicate::Result<proto::Msg> d = proto::decode(e);
    ASSERT_TRUE(d.ok()) << d.error.message;
    EXPECT_EQ(proto::encode(d.value), e);
    for (size_t n = 0; n < e.size(); ++n) {
      EXPECT_FALSE(proto::decode(std::span<const uint8_t>(e.data(), n)).ok()) << n;
    }
    std::vector<uint8_t> longer = e;
    longer.push_back(0);
    EXPECT_FALSE(proto::decode(longer).ok());
  }
  EXPECT_EQ(proto::to_ranges({0, 1, 2, 5, 7, 8}),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 3}, {5, 1}, {7, 2}}));
  EXPECT_TRUE(proto::valid_job_name("ehr-2026_a.b"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "é"})
    EXPECT_FALSE(proto::valid_job_name(bad));
}

}  // namespace
