// The DR store on a temporary directory: what the replication protocol will
// see (missing chunks, refusals, commits) and what is on disk afterwards.
#include "replicate/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_data.h"

namespace srdx::replicate {
namespace {

namespace fs = std::filesystem;
constexpr uint32_t kChunk = 4096;

using testdata::pattern;

std::vector<uint8_t> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spill(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A manifest of `data` as the source would make it.
Manifest manifest_of(const std::string& path, uint64_t version, const std::vector<uint8_t>& data,
                     int64_t mtime_ns = 1'700'000'000'000'000'000) {
  Manifest m;
  m.path = path;
  m.version = version;
  m.size = data.size();
  m.mtime_ns = mtime_ns;
  m.mode = 0640;
  m.chunk_size = kChunk;
  for (uint64_t i = 0; i < chunk_count(m.size, kChunk); ++i) {
    m.chunks.push_back(sha256({data.data() + i * kChunk, chunk_length(m.size, kChunk, i)}));
  }
  m.root = merkle_root(m.chunks);
  return m;
}

std::span<const uint8_t> chunk(const std::vector<uint8_t>& data, uint64_t i) {
  return {data.data() + i * kChunk, chunk_length(data.size(), kChunk, i)};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "srdx-store-XXXXXX").string();
    base_ = mkdtemp(tmpl.data());
    root_ = base_ / "dr";
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(base_); }

  std::unique_ptr<Store> open_store(StoreOptions opt = {}) {
    Result<std::unique_ptr<Store>> s = Store::open(root_.string(), std::move(opt));
    EXPECT_TRUE(s.ok()) << s.error.message;
    return std::move(s.value);
  }

  // Sends every missing chunk and commits.
  static Status replicate(Store& store, const Manifest& m, const std::vector<uint8_t>& data,
                          std::vector<uint64_t>* sent = nullptr) {
    Result<Staging> st = store.begin(m);
    if (!st.ok()) return {st.error};
    for (uint64_t i : st.value.missing_chunks()) {
      if (sent) sent->push_back(i);
      if (Status w = st.value.write_chunk(i, chunk(data, i)); !w.ok()) return w;
    }
    return st.value.commit();
  }

  fs::path base_, root_;
};

TEST_F(StoreTest, AllChunksThenCommitGivesTheFile) {
  auto store = open_store();
  const std::vector<uint8_t> data = pattern(3 * kChunk + 17);
  const Manifest m = manifest_of("fhir/Patient.ndjson", 1, data);
  Result<Staging> st = store->begin(m);
  ASSERT_TRUE(st.ok()) << st.error.message;
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{0, 1, 2, 3}));
  // Out of order, and one chunk twice: both fine.
  for (uint64_t i : {3, 1, 0, 2, 1}) ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
  EXPECT_TRUE(st.value.missing_chunks().empty());
  EXPECT_FALSE(fs::exists(root_ / "fhir/Patient.ndjson"));  // not before commit
  Status c = st.value.commit();
  ASSERT_TRUE(c.ok()) << c.error.message;
  EXPECT_EQ(slurp(root_ / "fhir/Patient.ndjson"), data);
  EXPECT_EQ(fs::status(root_ / "fhir/Patient.ndjson").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
  EXPECT_TRUE(store->verify().empty());
  // The same version again: already there.
  EXPECT_EQ(store->begin(m).error.code, Errc::already_committed);
}

TEST_F(StoreTest, ReceivedModeAndTheFreeFunctions) {
  StoreOptions opt;
  opt.durability = Durability::received;
  const std::vector<uint8_t> data = pattern(5 * kChunk + 1);
  {
    auto store = open_store(opt);
    ASSERT_TRUE(replicate(*store, manifest_of("n/obs.ndjson", 1, data), data).ok());
  }
  Result<std::vector<Problem>> problems = verify(root_.string());
  ASSERT_TRUE(problems.ok()) << problems.error.message;
  EXPECT_TRUE(problems.value.empty());
  Result<std::vector<Restored>> r = restore(root_.string(), "", {}, (base_ / "out").string());
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(slurp(base_ / "out/n/obs.ndjson"), data);
  EXPECT_EQ(verify((base_ / "nowhere").string()).error.code, Errc::not_found);
}

TEST_F(StoreTest, EmptyFile) {
  auto store = open_store();
  const Manifest m = manifest_of("empty", 1, {});
  ASSERT_TRUE(replicate(*store, m, {}).ok());
  EXPECT_TRUE(fs::exists(root_ / "empty"));
  EXPECT_EQ(fs::file_size(root_ / "empty"), 0u);
  EXPECT_TRUE(store->verify().empty());
}

TEST_F(StoreTest, WrongChunkRefusedAndNothingWritten) {
  auto store = open_store();
  const std::vector<uint8_t> data = pattern(2 * kChunk);
  Result<Staging> st = store->begin(manifest_of("a", 1, data));
  ASSERT_TRUE(st.ok());
  std::vector<uint8_t> bad(data.begin(), data.begin() + kChunk);
  bad[100] ^= 0x01;
  EXPECT_EQ(st.value.write_chunk(0, bad).error.code, Errc::hash_mismatch);
  EXPECT_EQ(st.value.write_chunk(1, chunk(data, 0)).error.code, Errc::hash_mismatch);
  EXPECT_EQ(st.value.write_chunk(0, {data.data(), 10}).error.code, Errc::invalid_argument);
  EXPECT_EQ(st.value.write_chunk(2, chunk(data, 0)).error.code, Errc::invalid_argument);
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{0, 1}));
  // Nothing was written: the staging file is still all holes (zeros).
  std::vector<uint8_t> staged;
  for (const auto& e : fs::directory_iterator(root_ / ".srdx/staging")) {
    if (e.path().extension() == ".1") staged = slurp(e.path());
  }
  EXPECT_EQ(staged, std::vector<uint8_t>(data.size(), 0));
}

TEST_F(StoreTest, CommitWithAMissingChunkRefused) {
  auto store = open_store();
  const std::vector<uint8_t> data = pattern(3 * kChunk);
  Result<Staging> st = store->begin(manifest_of("a", 1, data));
  ASSERT_TRUE(st.value.write_chunk(0, chunk(data, 0)).ok());
  ASSERT_TRUE(st.value.write_chunk(2, chunk(data, 2)).ok());
  Status c = st.value.commit();
  EXPECT_EQ(c.error.code, Errc::incomplete);
  EXPECT_NE(c.error.message.find("the first 1"), std::string::npos) << c.error.message;
  EXPECT_FALSE(fs::exists(root_ / "a"));
}

TEST_F(StoreTest, CrashMidFileResumesWithOnlyTheMissingChunks) {
  const std::vector<uint8_t> data = pattern(6 * kChunk + 1);
  const Manifest m = manifest_of("hl7/adt.hl7", 1, data);
  {
    auto store = open_store();
    Result<Staging> st = store->begin(m);
    for (uint64_t i : {0, 2, 5}) ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
    // The store and the staging are dropped without commit: kill -9 here
    // loses nothing that was durable.
  }
  auto store = open_store();
  Result<Staging> st = store->begin(m);
  ASSERT_TRUE(st.ok()) << st.error.message;
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{1, 3, 4, 6}));
  for (uint64_t i : st.value.missing_chunks())
    ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
  ASSERT_TRUE(st.value.commit().ok());
  EXPECT_EQ(slurp(root_ / "hl7/adt.hl7"), data);

  // A different manifest for the same path and version starts over.
  const Manifest other = manifest_of("x", 1, pattern(2 * kChunk, 5));
  {
    Result<Staging> a = store->begin(other);
    ASSERT_TRUE(a.value.write_chunk(0, chunk(pattern(2 * kChunk, 5), 0)).ok());
  }
  const Manifest other2 = manifest_of("x", 1, pattern(2 * kChunk, 6));
  Result<Staging> b = store->begin(other2);
  EXPECT_EQ(b.value.missing_chunks(), (std::vector<uint64_t>{0, 1}));
}

// The same with a real kill -9: a child process writes chunks 0..3 and
// SIGKILLs itself (no destructor runs); the parent resumes.
TEST_F(StoreTest, KillNineMidFileResumes) {
  const std::vector<uint8_t> data = pattern(8 * kChunk);
  const Manifest m = manifest_of("k/journal", 1, data);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Result<std::unique_ptr<Store>> s = Store::open(root_.string());
    if (!s.ok()) _exit(2);
    Result<Staging> st = s.value->begin(m);
    if (!st.ok()) _exit(3);
    for (uint64_t i = 0; i < 4; ++i) {
      if (!st.value.write_chunk(i, chunk(data, i)).ok()) _exit(4);
    }
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto store = open_store();
  Result<Staging> st = store->begin(m);
  ASSERT_TRUE(st.ok()) << st.error.message;
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{4, 5, 6, 7}));
  for (uint64_t i : st.value.missing_chunks())
    ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
  ASSERT_TRUE(st.value.commit().ok());
  EXPECT_EQ(slurp(root_ / "k/journal"), data);
}

// A crash after commit's rename, before the version's manifest was written:
// Store::open finds the staging manifest without its data, checks the live
// file against it and finishes the commit.
TEST_F(StoreTest, CrashAfterTheRenameIsFinishedAtOpen) {
  const std::vector<uint8_t> data = pattern(2 * kChunk + 9);
  const Manifest m = manifest_of("r/x", 1, data);
  {
    auto store = open_store();
    Result<Staging> st = store->begin(m);
    for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
    for (const auto& e : fs::directory_iterator(root_ / ".srdx/staging")) {
      if (e.path().extension() == ".1") {
        fs::create_directories(root_ / "r");
        fs::rename(e.path(), root_ / "r/x");  // what commit's rename does
      }
    }
  }
  auto store = open_store();
  Result<std::vector<VersionInfo>> vs = store->list_versions("r/x");
  ASSERT_TRUE(vs.ok()) << vs.error.message;
  EXPECT_EQ(vs.value.size(), 1u);
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
  EXPECT_TRUE(store->verify().empty());
  EXPECT_EQ(store->begin(m).error.code, Errc::already_committed);
}

// Journal mode: an append to the live version is staged as its tail alone
// and grows the live file in place; the old version is the new one's prefix.
TEST_F(StoreTest, AppendOnlyShipsOnlyTheNewChunksAndGrowsTheFileInPlace) {
  auto store = open_store();
  std::vector<uint8_t> v1 = pattern(4 * kChunk + 100);
  ASSERT_TRUE(replicate(*store, manifest_of("db/journal", 1, v1), v1).ok());
  struct stat before {};
  ASSERT_EQ(stat((root_ / "db/journal").c_str(), &before), 0);
  std::vector<uint8_t> v2 = v1;
  const std::vector<uint8_t> more = pattern(2 * kChunk, 3);
  v2.insert(v2.end(), more.begin(), more.end());
  Result<Staging> st = store->begin(manifest_of("db/journal", 2, v2, 2'000));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value.chunks_copied(), 0u);  // nothing copied: the prefix stays where it is
  // The old partial last chunk (4) and the new ones.
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{4, 5, 6}));
  for (uint64_t i : st.value.missing_chunks())
    ASSERT_TRUE(st.value.write_chunk(i, chunk(v2, i)).ok());
  EXPECT_EQ(slurp(root_ / "db/journal"), v1);  // not before the commit
  ASSERT_TRUE(st.value.commit().ok());
  EXPECT_EQ(slurp(root_ / "db/journal"), v2);
  struct stat sb {};
  ASSERT_EQ(stat((root_ / "db/journal").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_ino, before.st_ino);                                       // the same file, grown
  EXPECT_EQ(sb.st_mtim.tv_sec * 1'000'000'000 + sb.st_mtim.tv_nsec, 2'000);  // the version's mtime
  EXPECT_FALSE(fs::exists(root_ / ".srdx/versions/db/journal/1"));           // no copy of version 1
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
  // Version 1 is still there: the first bytes of version 2.
  Result<std::vector<VersionInfo>> vs = store->list_versions("db/journal");
  ASSERT_TRUE(vs.ok());
  ASSERT_EQ(vs.value.size(), 2u);
  RestorePoint p1;
  p1.version = 1;
  Result<std::vector<Restored>> r = store->restore("db/journal", p1, (base_ / "r").string());
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(slurp(base_ / "r/db/journal"), v1);
  EXPECT_TRUE(store->verify().empty());
  // A rewrite after the appends: version 2 moves to versions/ as before, and
  // version 1 is now its prefix there.
  const std::vector<uint8_t> v3 = pattern(3 * kChunk, 8);
  ASSERT_TRUE(replicate(*store, manifest_of("db/journal", 3, v3), v3).ok());
  EXPECT_EQ(slurp(root_ / ".srdx/versions/db/journal/2"), v2);
  Result<std::vector<Restored>> r1 = store->restore("db/journal", p1, (base_ / "r1").string());
  ASSERT_TRUE(r1.ok()) << r1.error.message;
  EXPECT_EQ(slurp(base_ / "r1/db/journal"), v1);
  EXPECT_TRUE(store->verify().empty());
  // Removed at the source: every version stays restorable.
  ASSERT_TRUE(store->remove("db/journal").ok());
  for (uint64_t v : {1, 2, 3}) {
    RestorePoint pv;
    pv.version = v;
    const fs::path to = base_ / ("rm" + std::to_string(v));
    Result<std::vector<Restored>> rv = store->restore("db/journal", pv, to.string());
    ASSERT_TRUE(rv.ok()) << v << ": " << rv.error.message;
    EXPECT_EQ(slurp(to / "db/journal"), v == 1 ? v1 : v == 2 ? v2 : v3);
  }
  EXPECT_TRUE(store->verify().empty());
}

TEST_F(StoreTest, AManyVersionJournalKeepsItsLastNVersionsAsPrefixes) {
  StoreOptions opt;
  opt.keep_versions = 3;
  auto store = open_store(opt);
  std::vector<uint8_t> all = pattern(20 * kChunk + 77, 4);
  std::vector<uint64_t> sizes;
  for (uint64_t v = 1; v <= 8; ++v) {
    sizes.push_back(kChunk + 1 + (v - 1) * 2 * kChunk + v * 13);
    const std::vector<uint8_t> d(all.begin(), all.begin() + static_cast<long>(sizes.back()));
    std::vector<uint64_t> sent;
    ASSERT_TRUE(replicate(*store, manifest_of("wal", v, d), d, &sent).ok()) << v;
    // Only the old last partial chunk and the new ones travel.
    if (v > 1) {
      EXPECT_EQ(sent.front(), sizes[v - 2] / kChunk) << v;
    }
  }
  Result<std::vector<VersionInfo>> vs = store->list_versions("wal");
  ASSERT_TRUE(vs.ok());
  ASSERT_EQ(vs.value.size(), 3u);
  EXPECT_EQ(vs.value.front().version, 6u);
  for (const VersionInfo& vi : vs.value) {
    RestorePoint p;
    p.version = vi.version;
    const fs::path to = base_ / ("r" + std::to_string(vi.version));
    ASSERT_TRUE(store->restore("wal", p, to.string()).ok());
    EXPECT_EQ(
        slurp(to / "wal"),
        std::vector<uint8_t>(all.begin(), all.begin() + static_cast<long>(sizes[vi.version - 1])));
  }
  EXPECT_TRUE(store->verify().empty());
}

// The old last partial chunk rewritten (not appended to) while the full
// chunks stayed: taken for an append at begin(), found out at commit and
// staged whole, so that version 1 keeps its own bytes.
TEST_F(StoreTest, APartialChunkRewrittenInsteadOfAppendedIsStagedWhole) {
  auto store = open_store();
  const std::vector<uint8_t> v1 = pattern(2 * kChunk + 100);
  ASSERT_TRUE(replicate(*store, manifest_of("j", 1, v1), v1).ok());
  std::vector<uint8_t> v2 = v1;
  v2[2 * kChunk + 10] ^= 1;
  v2.resize(3 * kChunk + 5, 7);
  ASSERT_TRUE(replicate(*store, manifest_of("j", 2, v2), v2).ok());
  EXPECT_EQ(slurp(root_ / "j"), v2);
  EXPECT_EQ(slurp(root_ / ".srdx/versions/j/1"), v1);
  EXPECT_TRUE(store->verify().empty());
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
}

// A publish that a crash cut short after the tail reached the live file and
// before the version's manifest: Store::open cuts the live file back to its
// version, and the staged tail resumes with nothing to send.
TEST_F(StoreTest, AJournalPublishCutShortIsRepairedAtOpenAndResumes) {
  const std::vector<uint8_t> v1 = pattern(3 * kChunk + 10);
  std::vector<uint8_t> v2 = v1;
  const std::vector<uint8_t> more = pattern(kChunk + 3, 2);
  v2.insert(v2.end(), more.begin(), more.end());
  const Manifest m2 = manifest_of("j", 2, v2);
  {
    auto store = open_store();
    ASSERT_TRUE(replicate(*store, manifest_of("j", 1, v1), v1).ok());
    Result<Staging> st = store->begin(m2);
    ASSERT_TRUE(st.ok());
    for (uint64_t i : st.value.missing_chunks())
      ASSERT_TRUE(st.value.write_chunk(i, chunk(v2, i)).ok());
    // What publish's write into the live file leaves, half done.
    std::vector<uint8_t> half(v2.begin(), v2.begin() + static_cast<long>(v1.size() + 1000));
    spill(root_ / "j", half);
  }
  // A tool beside a running receiver changes nothing.
  ASSERT_TRUE(verify(root_.string()).ok());
  EXPECT_EQ(fs::file_size(root_ / "j"), v1.size() + 1000);
  auto store = open_store();
  EXPECT_EQ(slurp(root_ / "j"), v1);
  EXPECT_TRUE(store->verify().empty());
  Result<Staging> st = store->begin(m2);
  ASSERT_TRUE(st.ok()) << st.error.message;
  EXPECT_TRUE(st.value.missing_chunks().empty());
  ASSERT_TRUE(st.value.commit().ok());
  EXPECT_EQ(slurp(root_ / "j"), v2);
  EXPECT_TRUE(store->verify().empty());
}

// kill -9 at random moments of a journal growing version after version: at
// every restart the live file is exactly its live version, every kept
// version verifies, and the appends carry on from there.
TEST_F(StoreTest, KillNineWhileAJournalGrowsLosesNothingCommitted) {
  const std::vector<uint8_t> all = pattern(64 * kChunk + 11, 6);
  auto size_of = [](uint64_t v) { return v * 3 * kChunk / 2 + v; };  // partial chunks too
  uint64_t live = 0;
  int killed = 0;
  for (int round = 0; round < 12 && size_of(live + 1) <= all.size(); ++round) {
    int pfd[2];
    ASSERT_EQ(pipe(pfd), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(pfd[0]);
      StoreOptions opt;
      opt.group_sync = round % 2 == 1;
      Result<std::unique_ptr<Store>> s = Store::open(root_.string(), opt);
      if (!s.ok()) _exit(2);
      for (uint64_t v = live + 1; size_of(v) <= all.size(); ++v) {
        const std::vector<uint8_t> d(all.begin(), all.begin() + static_cast<long>(size_of(v)));
        Result<Staging> st = s.value->begin(manifest_of("wal", v, d));
        if (!st.ok()) _exit(3);
        for (uint64_t i : st.value.missing_chunks())
          if (!st.value.write_chunk(i, chunk(d, i)).ok()) _exit(4);
        if (opt.group_sync) {
          if (!s.value->flush().ok() || !st.value.settle().ok()) _exit(5);
        }
        if (!st.value.commit().ok()) _exit(6);
        if (write(pfd[1], &v, sizeof v) != sizeof v) _exit(7);
      }
      _exit(0);
    }
    close(pfd[1]);
    // Killed after 1 to 3 commits, somewhere in the ones that follow.
    uint64_t v = 0;
    for (int c = 0; c < 1 + round % 3 && read(pfd[0], &v, sizeof v) == sizeof v; ++c) {
    }
    usleep(static_cast<useconds_t>((round * 7919) % 400));
    kill(pid, SIGKILL);
    close(pfd[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << status;
    killed += WIFSIGNALED(status);
    auto store = open_store();
    EXPECT_TRUE(store->verify().empty()) << "round " << round;
    Result<std::vector<VersionInfo>> vs = store->list_versions("wal");
    ASSERT_TRUE(vs.ok()) << round;  // at least one commit was reported
    ASSERT_GE(vs.value.back().version, std::max(live, v)) << round;  // nothing reported lost
    live = vs.value.back().version;
    EXPECT_EQ(slurp(root_ / "wal"),
              std::vector<uint8_t>(all.begin(), all.begin() + static_cast<long>(size_of(live))));
  }
  EXPECT_GT(killed, 0);
}

TEST_F(StoreTest, CopiedPrefixThatDoesNotHashIsAskedFor) {
  auto store = open_store();
  std::vector<uint8_t> v1 = pattern(4 * kChunk);
  ASSERT_TRUE(replicate(*store, manifest_of("j", 1, v1), v1).ok());
  // Bit rot in the live copy of chunk 1: a version that shares the first
  // chunks but is not an append (chunk 2 changed) copies them and must not
  // trust the rotten one.
  std::vector<uint8_t> rotten = v1;
  rotten[kChunk + 5] ^= 0x80;
  spill(root_ / "j", rotten);
  std::vector<uint8_t> v2 = v1;
  v2[2 * kChunk] ^= 1;
  Result<Staging> st = store->begin(manifest_of("j", 2, v2));
  ASSERT_TRUE(st.ok());
  // 0 copied and checked; 1 rotten; 2 changed; 3 after the change (only the
  // leading run of equal chunks is copied).
  EXPECT_EQ(st.value.missing_chunks(), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(StoreTest, KeepsTheLastNVersions) {
  StoreOptions opt;
  opt.keep_versions = 3;
  auto store = open_store(opt);
  std::vector<std::vector<uint8_t>> datas;
  for (uint64_t v = 1; v <= 6; ++v) {
    datas.push_back(pattern(kChunk + v, static_cast<uint32_t>(v)));
    ASSERT_TRUE(
        replicate(*store, manifest_of("obs", v, datas.back(), int64_t(v) * 1000), datas.back())
            .ok());
  }
  Result<std::vector<VersionInfo>> vs = store->list_versions("obs");
  ASSERT_TRUE(vs.ok());
  ASSERT_EQ(vs.value.size(), 3u);
  EXPECT_EQ(vs.value[0].version, 4u);
  EXPECT_EQ(vs.value[2].version, 6u);
  EXPECT_TRUE(vs.value[2].live);
  EXPECT_FALSE(vs.value[1].live);
  EXPECT_FALSE(fs::exists(root_ / ".srdx/versions/obs/3"));
  EXPECT_EQ(slurp(root_ / ".srdx/versions/obs/4"), datas[3]);
  EXPECT_EQ(slurp(root_ / "obs"), datas[5]);
  EXPECT_TRUE(store->verify().empty());
  // An old version is refused.
  EXPECT_EQ(store->begin(manifest_of("obs", 2, datas[1])).error.code, Errc::already_committed);
}

TEST_F(StoreTest, VerifyFindsAFlippedBit) {
  auto store = open_store();
  const std::vector<uint8_t> a1 = pattern(3 * kChunk), a2 = pattern(3 * kChunk, 2);
  ASSERT_TRUE(replicate(*store, manifest_of("a", 1, a1), a1).ok());
  ASSERT_TRUE(replicate(*store, manifest_of("a", 2, a2), a2).ok());
  ASSERT_TRUE(replicate(*store, manifest_of("d/b", 1, a1), a1).ok());
  ASSERT_TRUE(store->verify().empty());

  // One bit in the live file of a, one in the kept version 1.
  for (const fs::path& p : {root_ / "a", root_ / ".srdx/versions/a/1"}) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(2 * kChunk + 7);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x04;
    f.seekp(2 * kChunk + 7);
    f.write(&c, 1);
  }
  const std::vector<Problem> problems = store->verify();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].path, "a");
  EXPECT_EQ(problems[0].version, 1u);
  EXPECT_NE(problems[0].what.find("chunk(s) differ"), std::string::npos) << problems[0].what;
  EXPECT_NE(problems[0].what.find(": 2"), std::string::npos) << problems[0].what;
  EXPECT_EQ(problems[1].version, 2u);
  EXPECT_NE(problems[1].what.find("live"), std::string::npos);
  // A missing live file is found too.
  fs::remove(root_ / "d/b");
  EXPECT_EQ(store->verify().size(), 3u);
}

TEST_F(StoreTest, RestoreGivesEqualBytes) {
  auto store = open_store();
  const std::vector<uint8_t> v1 = pattern(2 * kChunk + 3), v2 = pattern(kChunk, 7);
  const std::vector<uint8_t> b1 = pattern(5000, 9);
  ASSERT_TRUE(replicate(*store, manifest_of("x/a", 1, v1, 100), v1).ok());
  ASSERT_TRUE(replicate(*store, manifest_of("x/a", 2, v2, 200), v2).ok());
  ASSERT_TRUE(replicate(*store, manifest_of("b", 1, b1, 150), b1).ok());

  // Everything, live.
  Result<std::vector<Restored>> all = store->restore("", {}, (base_ / "r1").string());
  ASSERT_TRUE(all.ok()) << all.error.message;
  ASSERT_EQ(all.value.size(), 2u);
  EXPECT_EQ(slurp(base_ / "r1/x/a"), v2);
  EXPECT_EQ(slurp(base_ / "r1/b"), b1);

  // One path, a version.
  RestorePoint v;
  v.version = 1;
  Result<std::vector<Restored>> one = store->restore("x/a", v, (base_ / "r2").string());
  ASSERT_TRUE(one.ok()) << one.error.message;
  EXPECT_EQ(slurp(base_ / "r2/x/a"), v1);
  EXPECT_EQ(one.value[0].root, manifest_of("x/a", 1, v1).root);

  // A point in time: the source as it was at mtime 160.
  RestorePoint t;
  t.at_or_before_mtime_ns = 160;
  Result<std::vector<Restored>> pit = store->restore("", t, (base_ / "r3").string());
  ASSERT_TRUE(pit.ok()) << pit.error.message;
  EXPECT_EQ(slurp(base_ / "r3/x/a"), v1);
  EXPECT_EQ(slurp(base_ / "r3/b"), b1);

  // A damaged kept version is not restored as if it were good.
  spill(root_ / ".srdx/versions/x/a/1", pattern(2 * kChunk + 3, 99));
  EXPECT_EQ(store->restore("x/a", v, (base_ / "r4").string()).error.code, Errc::hash_mismatch);
  EXPECT_FALSE(fs::exists(base_ / "r4/x/a"));
  v.version = 9;
  EXPECT_EQ(store->restore("x/a", v, (base_ / "r5").string()).error.code, Errc::not_found);
}

TEST_F(StoreTest, SymlinkInsideRootIsNotFollowed) {
  const fs::path outside = base_ / "outside";
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, root_ / "evil");
  auto store = open_store();
  const std::vector<uint8_t> data = pattern(kChunk);
  EXPECT_EQ(store->begin(manifest_of("evil/x", 1, data)).error.code, Errc::escapes_root);
  // A symlink planted after begin, before commit.
  Result<Staging> st = store->begin(manifest_of("later/x", 1, data));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st.value.write_chunk(0, chunk(data, 0)).ok());
  fs::create_directory_symlink(outside, root_ / "later");
  EXPECT_EQ(st.value.commit().error.code, Errc::escapes_root);
  EXPECT_TRUE(fs::is_empty(outside));
  // A symlink as the live file itself is replaced, not written through.
  spill(outside / "target", {1, 2, 3});
  fs::create_symlink(outside / "target", root_ / "f");
  ASSERT_TRUE(replicate(*store, manifest_of("f", 1, data), data).ok());
  EXPECT_FALSE(fs::is_symlink(root_ / "f"));
  EXPECT_EQ(slurp(outside / "target"), (std::vector<uint8_t>{1, 2, 3}));
  // The store's own state through a symlink is refused at open.
  fs::remove_all(root_ / ".srdx");
  fs::create_directory_symlink(outside, root_ / ".srdx");
  EXPECT_EQ(Store::open(root_.string()).error.code, Errc::escapes_root);
}

// A disk that fills up after `budget` bytes (ENOSPC), for a machine where
// mounting a small tmpfs is not allowed.
class FullDisk final : public BlockWriter {
 public:
  explicit FullDisk(uint64_t budget) : budget_(budget), real_(make_pwrite_writer()) {}
  Status write(int fd, std::span<const uint8_t> data, uint64_t offset) override {
    if (data.size() > budget_) return {sys_error(ENOSPC, "write")};
    budget_ -= data.size();
    return real_->write(fd, data, offset);
  }
  Status sync(int fd) override { return real_->sync(fd); }
  std::string_view name() const override { return "full-disk"; }

 private:
  uint64_t budget_;
  std::unique_ptr<BlockWriter> real_;
};

TEST_F(StoreTest, DiskFullIsAClearErrorAndLosesNothingCommitted) {
  const std::vector<uint8_t> v1 = pattern(2 * kChunk), v2 = pattern(4 * kChunk, 4);
  StoreOptions opt;
  opt.writer = std::make_shared<FullDisk>(3 * kChunk);
  auto store = open_store(opt);
  ASSERT_TRUE(replicate(*store, manifest_of("a", 1, v1), v1).ok());
  Status s = replicate(*store, manifest_of("a", 2, v2), v2);
  EXPECT_EQ(s.error.code, Errc::no_space);
  EXPECT_NE(s.error.message.find("No space left"), std::string::npos) << s.error.message;
  EXPECT_EQ(slurp(root_ / "a"), v1);
  EXPECT_TRUE(store->verify().empty());
}

// The same on a real 256 KiB tmpfs, where the machine lets us mount one. The
// test process takes a private mount namespace first, so that the tmpfs is
// gone with it even if the test dies halfway.
TEST_F(StoreTest, DiskFullOnASmallTmpfs) {
  if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("srdx-test", root_.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (not root): FullDisk covers it";
  }
  {
    auto store = open_store();
    const std::vector<uint8_t> small = pattern(16 * kChunk), big = pattern(80 * kChunk, 3);
    ASSERT_TRUE(replicate(*store, manifest_of("small", 1, small), small).ok());
    Status s = replicate(*store, manifest_of("big", 1, big), big);
    EXPECT_EQ(s.error.code, Errc::no_space) << s.error.message;
    EXPECT_EQ(slurp(root_ / "small"), small);
    EXPECT_TRUE(store->verify().empty());
  }
  umount2(root_.c_str(), MNT_DETACH);
}

TEST_F(StoreTest, CorruptStagingIsQuarantinedAtCommit) {
  auto store = open_store();
  const std::vector<uint8_t> data = pattern(2 * kChunk);
  Result<Staging> st = store->begin(manifest_of("q", 1, data));
  for (uint64_t i : {0, 1}) ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
  // Something damages the staged bytes after they were checked.
  for (const auto& e : fs::directory_iterator(root_ / ".srdx/staging")) {
    if (e.path().extension() == ".1") {
      std::vector<uint8_t> bad = data;
      bad[0] ^= 1;
      spill(e.path(), bad);
    }
  }
  Status c = st.value.commit();
  EXPECT_EQ(c.error.code, Errc::hash_mismatch);
  EXPECT_NE(c.error.message.find("quarantined"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "q"));
  ASSERT_FALSE(fs::is_empty(root_ / ".srdx/quarantine"));
  const fs::path q = fs::directory_iterator(root_ / ".srdx/quarantine")->path();
  EXPECT_TRUE(fs::exists(q / "data"));
  EXPECT_TRUE(fs::exists(q / "manifest.json"));
  const std::vector<uint8_t> reason = slurp(q / "reason");
  EXPECT_NE(std::string(reason.begin(), reason.end()).find("chunk(s) differ"), std::string::npos);
}

TEST_F(StoreTest, GroupSyncCountsChunksOnlyAfterSettleAndPublishesInSteps) {
  StoreOptions opt;
  opt.group_sync = true;
  auto store = open_store(opt);
  const std::vector<uint8_t> big = pattern(5 * kChunk, 3), small = pattern(100, 4);
  const Manifest mb = manifest_of("j/big", 1, big), ms = manifest_of("j/small", 1, small);
  Result<Staging> b = store->begin(mb);
  ASSERT_TRUE(b.ok());
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(b.value.write_chunk(i, chunk(big, i)).ok());
  // Written chunks are not missing (the group's flush makes them durable)...
  EXPECT_EQ(b.value.missing_chunks(), (std::vector<uint64_t>{3, 4}));
  // ...but a crash before settle() loses their progress: a reopened store
  // asks for them again.
  b.value = Staging(std::move(b.value));
  {
    auto again = open_store(opt);
    Result<Staging> r = again->begin(mb);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value.missing_chunks(), (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  }
  b = store->begin(mb);
  ASSERT_TRUE(b.ok());
  for (uint64_t i : {0, 1, 2, 3, 4}) ASSERT_TRUE(b.value.write_chunk(i, chunk(big, i)).ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(b.value.settle().ok());
  // Settled chunks survive a reopen.
  {
    auto again = open_store(opt);
    Result<Staging> r = again->begin(mb);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value.missing_chunks().empty());
  }
  b = store->begin(mb);
  ASSERT_TRUE(b.ok());
  // A single-chunk file is staged as its data alone (nothing to resume).
  Result<Staging> sm = store->begin(ms);
  ASSERT_TRUE(sm.ok());
  ASSERT_TRUE(sm.value.write_chunk(0, chunk(small, 0)).ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(sm.value.settle().ok());
  for (Staging* st : {&b.value, &sm.value}) ASSERT_TRUE(st->seal().ok());
  EXPECT_FALSE(fs::exists(root_ / "j/big"));  // not before publish
  ASSERT_TRUE(store->flush().ok());
  for (Staging* st : {&b.value, &sm.value}) ASSERT_TRUE(st->publish().ok());
  ASSERT_TRUE(store->flush().ok());
  for (Staging* st : {&b.value, &sm.value}) ASSERT_TRUE(st->cleanup().ok());
  EXPECT_EQ(slurp(root_ / "j/big"), big);
  EXPECT_EQ(slurp(root_ / "j/small"), small);
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
  EXPECT_TRUE(store->verify().empty());
}

// A writer that records what each flush syncs (by inode), for the group
// sync test below; the syncs themselves are real.
class RecordingWriter final : public BlockWriter {
 public:
  struct Synced {
    ino_t ino;
    bool data_only;
  };
  Status write(int fd, std::span<const uint8_t> data, uint64_t offset) override {
    return real_->write(fd, data, offset);
  }
  Status sync(int fd) override { return real_->sync(fd); }
  Status sync_all(std::span<const SyncItem> items) override {
    calls.emplace_back();
    for (const SyncItem& it : items) {
      struct stat sb {};
      EXPECT_EQ(fstat(it.fd, &sb), 0);
      calls.back().push_back({sb.st_ino, it.data_only});
    }
    return real_->sync_all(items);
  }
  std::string_view name() const override { return "recording"; }
  std::vector<std::vector<Synced>> calls;  // one per flush

 private:
  std::unique_ptr<BlockWriter> real_ = make_pwrite_writer();
};

ino_t inode_of(const fs::path& p) {
  struct stat sb {};
  EXPECT_EQ(stat(p.c_str(), &sb), 0) << p;
  return sb.st_ino;
}

// A group's flush syncs exactly what the group wrote, each inode once: the
// chunks' file (data), then at the seal the same file again (its mode and
// mtime: a full fsync), then at the publish the directory it was renamed
// into and the versions directory holding its manifest. Not the whole
// filesystem (syncfs waits for every other writer), and nothing at all
// for a group that wrote nothing.
TEST_F(StoreTest, GroupSyncFlushSyncsWhatTheGroupWroteEachOnce) {
  auto rec = std::make_shared<RecordingWriter>();
  StoreOptions opt;
  opt.group_sync = true;
  opt.writer = rec;
  auto store = open_store(opt);
  const std::vector<uint8_t> data = pattern(3 * kChunk, 5);
  Result<Staging> st = store->begin(manifest_of("d/f", 1, data));
  ASSERT_TRUE(st.ok());
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(st.value.write_chunk(i, chunk(data, i)).ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(st.value.settle().ok());
  ASSERT_TRUE(st.value.seal().ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(st.value.publish().ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(st.value.cleanup().ok());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_TRUE(store->flush().ok());  // nothing written since
  ASSERT_EQ(rec->calls.size(), 5u);
  EXPECT_EQ(slurp(root_ / "d/f"), data);

  auto find = [](const std::vector<RecordingWriter::Synced>& call, ino_t ino) {
    int n = 0;
    bool data_only = true;
    for (const auto& s : call) {
      if (s.ino != ino) continue;
      ++n;
      data_only = s.data_only;
    }
    return std::pair{n, data_only};
  };
  for (const auto& call : rec->calls)
    for (const auto& s : call) EXPECT_EQ(find(call, s.ino).first, 1) << "an inode synced twice";
  const ino_t file = inode_of(root_ / "d/f");  // the staged file, renamed into place
  EXPECT_EQ(find(rec->calls[0], file), (std::pair{1, true}));   // its chunks
  EXPECT_EQ(find(rec->calls[1], file), (std::pair{1, false}));  // sealed: mode, mtime
  EXPECT_EQ(find(rec->calls[2], inode_of(root_ / "d")).first, 1);
  EXPECT_FALSE(find(rec->calls[2], inode_of(root_ / "d")).second);
  EXPECT_EQ(find(rec->calls[2], inode_of(root_ / ".srdx/versions/d/f")).first, 1);
  EXPECT_EQ(find(rec->calls[3], inode_of(root_ / ".srdx/staging")).first, 1);  // cleanup
  EXPECT_TRUE(rec->calls[4].empty());
  EXPECT_TRUE(store->verify().empty());
}

TEST_F(StoreTest, ALeftoverSingleChunkStagingIsDroppedAtOpen) {
  {
    auto store = open_store();
    const std::vector<uint8_t> small = pattern(100, 5);
    Result<Staging> st = store->begin(manifest_of("a/small", 1, small));
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st.value.write_chunk(0, chunk(small, 0)).ok());
    // Never committed: as if the daemon died here.
  }
  EXPECT_FALSE(fs::is_empty(root_ / ".srdx/staging"));
  auto store = open_store();
  EXPECT_TRUE(fs::is_empty(root_ / ".srdx/staging"));
}

TEST_F(StoreTest, ADirectoryRemovedByAnOperatorIsWalkedAgain) {
  auto store = open_store();
  const std::vector<uint8_t> d1 = pattern(10, 6), d2 = pattern(20, 7);
  ASSERT_TRUE(replicate(*store, manifest_of("x/y/f1", 1, d1), d1).ok());
  fs::remove_all(root_ / "x");  // the live tree's directory, while the store is open
  ASSERT_TRUE(replicate(*store, manifest_of("x/y/f2", 1, d2), d2).ok());
  EXPECT_EQ(slurp(root_ / "x/y/f2"), d2);
}

TEST_F(StoreTest, UsesIoUringWhenTheKernelAllows) {
  auto store = open_store();
  // Informational: pwrite is the fallback, not a failure.
  std::printf("writer: %s\n", std::string(store->writer_name()).c_str());
  SUCCEED();
}

}  // namespace
}  // namespace srdx::replicate
