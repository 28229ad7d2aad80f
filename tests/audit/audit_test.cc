// The hash-chained audit log (workloads/replicate/audit.h): what verify finds
// after each kind of tampering, the torn-line recovery after a crash, the head
// anchor against truncation, concurrent appends, and the auditor's Python
// script from docs/audit.md agreeing with the C++ verifier.
#include "replicate/audit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace srdx::replicate {
namespace {

namespace fs = std::filesystem;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "srdx-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AuditLog> open_log() {
    auto r = AuditLog::open(path_);
    EXPECT_TRUE(r.ok()) << r.error;
    return std::move(r.value);
  }

  static AuditRecord shipped(int i) {
    AuditRecord r;
    r.event = "shipped";
    r.job = "job-1";
    r.peer = "dr-paris";
    r.file = "fhir/Patient-" + std::to_string(i) + ".ndjson";
    r.version = 1;
    r.size = 1000 + static_cast<uint64_t>(i);
    r.sha256 = sha256_hex("content " + std::to_string(i));
    r.detail = "chunk set complete";
    return r;
  }

  void write_n(int n) {
    auto log = open_log();
    ASSERT_TRUE(log);
    for (int i = 0; i < n; ++i) {
      auto r = log->append(shipped(i));
      ASSERT_TRUE(r.ok()) << r.error;
      EXPECT_EQ(r.value, static_cast<uint64_t>(i + 1));
    }
  }

  std::vector<std::string> lines() const {
    std::ifstream in(path_, std::ios::binary);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void write_lines(const std::vector<std::string>& ls) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    for (const auto& l : ls) out << l << '\n';
  }
  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(AuditTest, AppendedRecordsVerify) {
  write_n(10);
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.line << ": " << v.reason;
  EXPECT_EQ(v.records, 10u);
  EXPECT_TRUE(v.head_checked);

  const auto ls = lines();
  ASSERT_EQ(ls.size(), 10u);
  auto first = parse_audit_line(ls[0]);
  ASSERT_TRUE(first.ok()) << first.error;
  EXPECT_EQ(first.value.seq, 1u);
  EXPECT_EQ(first.value.prev, kAuditGenesis);
  EXPECT_EQ(first.value.record.event, "shipped");
  EXPECT_EQ(*first.value.record.file, "fhir/Patient-0.ndjson");
  auto second = parse_audit_line(ls[1]);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value.prev, sha256_hex(ls[0]));

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A group of records in one write and one sync: the same chain as one by
// one, and a bad record refuses the whole batch before anything is written.
TEST_F(AuditTest, ABatchChainsLikeSingleAppendsAndIsAllOrNothing) {
  {
    auto log = open_log();
    ASSERT_TRUE(log->append(shipped(0)).ok());
    std::vector<AuditRecord> batch = {shipped(1), shipped(2), shipped(3)};
    auto r = log->append_batch(batch);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.value, 4u);
    batch.push_back(shipped(4));
    batch[1].event = "Not An Event";  // refused: nothing of the batch is written
    EXPECT_FALSE(log->append_batch(batch).ok());
    EXPECT_EQ(log->last_seq(), 4u);
    EXPECT_TRUE(log->append_batch({}).ok());
    ASSERT_TRUE(log->append(shipped(5)).ok());
    EXPECT_EQ(log->last_seq(), 5u);
  }
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 5u);
  EXPECT_TRUE(v.head_checked);
}

TEST_F(AuditTest, ReopenContinuesTheChain) {
  write_n(3);
  {
    auto log = open_log();
    ASSERT_TRUE(log);
    EXPECT_EQ(log->last_seq(), 3u);
    EXPECT_TRUE(log->recovered().empty());
    auto r = log->append(shipped(3));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.value, 4u);
  }
  EXPECT_TRUE(verify_audit(path_, true).ok);
}

TEST_F(AuditTest, EditedByteIsFoundAtItsLine) {
  write_n(7);
  auto ls = lines();
  const size_t at = ls[3].find("chunk set");
  ASSERT_NE(at, std::string::npos);
  ls[3][at] = 'C';  // one byte, still valid JSON, still canonical
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 4u);
  EXPECT_NE(v.reason.find("hash mismatch"), std::string::npos) << v.reason;
}

TEST_F(AuditTest, EditedLineWithRecomputedHashBreaksTheNextPrev) {
  write_n(5);
  auto ls = lines();
  auto p = parse_audit_line(ls[1]);
  ASSERT_TRUE(p.ok());
  p.value.record.size = 1;  // a forger who recomputes this line's hash...
  auto forged = format_audit_line(p.value);
  ASSERT_TRUE(forged.ok());
  ls[1] = forged.value;
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 3u);  // ...is caught by the next line's prev
  EXPECT_NE(v.reason.find("prev"), std::string::npos) << v.reason;
}

TEST_F(AuditTest, SwappedLinesAreFound) {
  write_n(6);
  auto ls = lines();
  std::swap(ls[2], ls[3]);
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 3u);
  EXPECT_NE(v.reason.find("seq 4 on line 3"), std::string::npos) << v.reason;
}

TEST_F(AuditTest, DeletedMiddleLineIsFound) {
  write_n(6);
  auto ls = lines();
  ls.erase(ls.begin() + 2);
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 3u);
}

TEST_F(AuditTest, DeletedLastLineIsFoundThroughTheHead) {
  write_n(6);
  auto ls = lines();
  ls.pop_back();
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 6u);
  EXPECT_NE(v.reason.find("deleted at the end"), std::string::npos) << v.reason;
  // And open() will not chain over it.
  auto r = AuditLog::open(path_);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("missing at the end"), std::string::npos) << r.error;
}

TEST_F(AuditTest, WithoutTheHeadTruncationIsInvisibleUnlessRequired) {
  // The documented limit: the chain alone cannot tell a log cut at the end
  // from a shorter one.
  write_n(6);
  auto ls = lines();
  ls.pop_back();
  write_lines(ls);
  fs::remove(audit_head_path(path_));
  const AuditVerify v = verify_audit(path_);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_FALSE(v.head_checked);
  const AuditVerify strict = verify_audit(path_, true);
  EXPECT_FALSE(strict.ok);
  EXPECT_NE(strict.reason.find("no head file"), std::string::npos) << strict.reason;
}

TEST_F(AuditTest, HeadLaggingByTheLastLineIsAccepted) {
  // A crash between the line's fdatasync and the head's rename.
  write_n(4);
  const std::string head = audit_head_path(path_);
  std::ifstream in(head);
  std::string old_head((std::istreambuf_iterator<char>(in)), {});
  {
    auto log = open_log();
    ASSERT_TRUE(log->append(shipped(4)).ok());
  }
  std::ofstream(head, std::ios::trunc) << old_head;
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_TRUE(v.head_checked);
}

TEST_F(AuditTest, HeadIsUpdatedInPlaceAndAnOlderHeadIsTakenOver) {
  // An older srdxd's head: the short JSON, no padding. Still read, and
  // replaced by one of the fixed size on the next append.
  write_n(2);
  const std::string head = audit_head_path(path_);
  const std::string last_hash = parse_audit_line(lines().back()).value.hash;
  std::ofstream(head, std::ios::trunc) << "{\"hash\":\"" << last_hash << "\",\"seq\":2}\n";
  ASSERT_TRUE(verify_audit(path_, true).ok);
  auto log = open_log();
  ASSERT_TRUE(log->append(shipped(2)).ok());
  struct stat first {};
  ASSERT_EQ(::stat(head.c_str(), &first), 0);
  EXPECT_EQ(static_cast<size_t>(first.st_size), kAuditHeadBytes);
  // Later appends write the same file in place: same inode, same size, and
  // it names the newest line.
  for (int i = 3; i < 6; ++i) ASSERT_TRUE(log->append(shipped(i)).ok());
  struct stat later {};
  ASSERT_EQ(::stat(head.c_str(), &later), 0);
  EXPECT_EQ(later.st_ino, first.st_ino);
  EXPECT_EQ(static_cast<size_t>(later.st_size), kAuditHeadBytes);
  std::ifstream in(head);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("\"seq\":6"), std::string::npos) << text;
  EXPECT_NE(text.find(parse_audit_line(lines().back()).value.hash), std::string::npos) << text;
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_TRUE(v.head_checked);
  EXPECT_EQ(v.records, 6u);
  // A reopened log keeps updating it in place, and a deleted last line is
  // still found through it.
  log.reset();
  ASSERT_TRUE(open_log()->append(shipped(6)).ok());
  ASSERT_EQ(::stat(head.c_str(), &later), 0);
  EXPECT_EQ(later.st_ino, first.st_ino);
  auto ls = lines();
  ls.pop_back();
  write_lines(ls);
  EXPECT_FALSE(verify_audit(path_).ok);
}

TEST_F(AuditTest, TornLastLineIsCutOffAndRecorded) {
  write_n(5);
  // A crash in the middle of the write of line 6: half of it reached the file.
  AuditLine next;
  next.seq = 6;
  next.prev = sha256_hex(lines().back());
  next.record = shipped(5);
  next.record.time = audit_now();
  auto text = format_audit_line(next);
  ASSERT_TRUE(text.ok());
  const std::string torn = text.value.substr(0, text.value.size() / 2);
  std::ofstream(path_, std::ios::binary | std::ios::app) << torn;

  const AuditVerify before = verify_audit(path_);
  EXPECT_FALSE(before.ok);
  EXPECT_EQ(before.line, 6u);
  EXPECT_NE(before.reason.find("torn"), std::string::npos) << before.reason;

  auto log = open_log();
  ASSERT_TRUE(log);
  EXPECT_NE(log->recovered().find(std::to_string(torn.size()) + " bytes"), std::string::npos)
      << log->recovered();
  EXPECT_EQ(log->last_seq(), 6u);
  ASSERT_TRUE(log->append(shipped(6)).ok());

  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.line << ": " << v.reason;
  EXPECT_EQ(v.records, 7u);
  auto rec = parse_audit_line(lines()[5]);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec.value.record.event, "audit_recovered");
  EXPECT_EQ(*rec.value.record.size, torn.size());
  EXPECT_EQ(*rec.value.record.sha256, sha256_hex(torn));
}

TEST_F(AuditTest, TornFirstLineIsRecoveredToo) {
  std::ofstream(path_, std::ios::binary) << "{\"detail\":\"x";
  auto log = open_log();
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->recovered().empty());
  EXPECT_EQ(log->last_seq(), 1u);
  EXPECT_TRUE(verify_audit(path_, true).ok);
}

TEST_F(AuditTest, AFailedWriteStopsTheLogUntilReopened) {
  write_n(3);
  auto log = open_log();
  ASSERT_TRUE(log);
  // A file size limit that cuts the next line in the middle: write() stores
  // part of it, then fails (EFBIG), as a full disk would.
  const auto size = static_cast<rlim_t>(fs::file_size(path_));
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size + 40;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto failed = log->append(shipped(3));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(fs::file_size(path_), size + 40);

  // Nothing is chained after the partial line...
  const auto refused = log->append(shipped(4));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error.find("reopen"), std::string::npos) << refused.error;
  log.reset();
  // ...and a reopen cuts it off, on the record.
  log = open_log();
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->recovered().empty());
  ASSERT_TRUE(log->append(shipped(3)).ok());
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.line << ": " << v.reason;
  EXPECT_EQ(v.records, 5u);
}

TEST_F(AuditTest, ConcurrentAppendsKeepOneChain) {
  {
    auto log = open_log();
    ASSERT_TRUE(log);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 25; ++i) {
          AuditRecord r = shipped(t * 100 + i);
          r.job = "job-" + std::to_string(t);
          auto res = log->append(r);
          EXPECT_TRUE(res.ok()) << res.error;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(log->last_seq(), 100u);
  }
  const AuditVerify v = verify_audit(path_, true);
  EXPECT_TRUE(v.ok) << v.line << ": " << v.reason;
  EXPECT_EQ(v.records, 100u);
}

TEST_F(AuditTest, BadJsonLineIsReported) {
  write_n(4);
  auto ls = lines();
  ls[1] = "{\"seq\":2,";
  write_lines(ls);
  const AuditVerify v = verify_audit(path_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.line, 2u);
  EXPECT_EQ(v.reason, "not valid JSON");
}

TEST_F(AuditTest, OpenRefusesABadLastLineAndASymlink) {
  write_n(3);
  auto ls = lines();
  ls.back()[ls.back().size() - 3] ^= 1;  // inside the hash: the line no longer checks out
  write_lines(ls);
  auto r = AuditLog::open(path_);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("last complete line is not valid"), std::string::npos) << r.error;

  const std::string link = (dir_ / "link.jsonl").string();
  fs::create_symlink(path_, link);
  auto s = AuditLog::open(link);
  EXPECT_FALSE(s.ok());
}

TEST_F(AuditTest, ParserRefusesNonCanonicalAndUnknownFields) {
  AuditLine l;
  l.seq = 1;
  l.prev = std::string(kAuditGenesis);
  l.record.event = "job_started";
  l.record.job = "j";
  l.record.time = "2026-12-07T04:13:53.123Z";
  auto text = format_audit_line(l);
  ASSERT_TRUE(text.ok()) << text.error;
  EXPECT_TRUE(parse_audit_line(text.value).ok());

  std::string spaced = text.value;
  spaced.insert(1, " ");
  EXPECT_NE(parse_audit_line(spaced).error.find("canonical"), std::string::npos);
  std::string extra = text.value;
  extra.insert(1, "\"aaa\":1,");
  EXPECT_NE(parse_audit_line(extra).error.find("unknown key"), std::string::npos);

  AuditLine bad = l;
  bad.record.event = "Bad Event";
  EXPECT_FALSE(format_audit_line(bad).ok());
  bad = l;
  bad.record.sha256 = "abc";
  EXPECT_FALSE(format_audit_line(bad).ok());
  bad = l;
  bad.record.detail = std::string("\xff\xfe", 2);
  EXPECT_EQ(format_audit_line(bad).error, "a field is not valid UTF-8");
  bad = l;
  bad.record.detail = std::string(kAuditMaxLine, 'x');
  EXPECT_FALSE(format_audit_line(bad).ok());
}

// The script an auditor runs (docs/audit.md, between the python fences marked
// audit-verify) agrees with verify_audit(): it accepts the log as written,
// with non-ASCII and escaped characters, and finds an edited line.
TEST_F(AuditTest, AuditorsPythonScriptAgrees) {
  std::ifstream doc(SRDX_SOURCE_ROOT "/docs/audit.md");
  ASSERT_TRUE(doc) << "docs/audit.md";
  std::stringstream ss;
  ss << doc.rdbuf();
  const std::string md = ss.str();
  const std::string begin = "```python audit-verify\n";
  const size_t from = md.find(begin);
  ASSERT_NE(from, std::string::npos);
  const size_t to = md.find("```", from + begin.size());
  ASSERT_NE(to, std::string::npos);
  const std::string script_path = (dir_ / "verify.py").string();
  std::ofstream(script_path) << md.substr(from + begin.size(), to - from - begin.size());

  {
    auto log = open_log();
    ASSERT_TRUE(log);
    AuditRecord r = shipped(0);
    r.file = "dicom/Étude \"1\"/série\t2/\x01.dcm";
    r.detail = "quote \" backslash \\ newline \n tab \t unicode \u00e9\u4e2d";
    ASSERT_TRUE(log->append(r).ok());
    for (int i = 1; i < 5; ++i) ASSERT_TRUE(log->append(shipped(i)).ok());
  }
  ASSERT_TRUE(verify_audit(path_, true).ok);
  const std::string cmd = "python3 " + script_path + " " + path_ + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  auto ls = lines();
  ls[2][ls[2].find("chunk")] = 'C';
  write_lines(ls);
  EXPECT_NE(std::system((cmd + " 2>/dev/null").c_str()), 0);
}

}  // namespace
}  // namespace srdx::replicate
