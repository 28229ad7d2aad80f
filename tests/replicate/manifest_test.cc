// The replication core's pure parts: chunking, the Merkle root (computed here
// independently with EVP), the manifest codec and path validation.
#include "replicate/manifest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_data.h"

namespace srdx::replicate {
namespace {

Hash evp_sha256(const std::vector<uint8_t>& in) {
  Hash out{};
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::vector<uint8_t> cat(uint8_t prefix, const Hash& a) {
  std::vector<uint8_t> v{prefix};
  v.insert(v.end(), a.begin(), a.end());
  return v;
}
std::vector<uint8_t> cat(uint8_t prefix, const Hash& a, const Hash& b) {
  std::vector<uint8_t> v = cat(prefix, a);
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "srdx-manifest-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::vector<uint8_t>& bytes) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  std::string path_;
};

using testdata::pattern;

constexpr uint32_t kChunk = 4096;

TEST(Chunking, CountsAndLengths) {
  EXPECT_EQ(chunk_count(0, kChunk), 0u);
  EXPECT_EQ(chunk_count(1, kChunk), 1u);
  EXPECT_EQ(chunk_count(kChunk, kChunk), 1u);
  EXPECT_EQ(chunk_count(kChunk + 1, kChunk), 2u);
  EXPECT_EQ(chunk_length(kChunk + 1, kChunk, 0), kChunk);
  EXPECT_EQ(chunk_length(kChunk + 1, kChunk, 1), 1u);
  EXPECT_EQ(chunk_length(kChunk + 1, kChunk, 2), 0u);
  EXPECT_TRUE(valid_chunk_size(4096));
  EXPECT_TRUE(valid_chunk_size(1u << 20));
  EXPECT_TRUE(valid_chunk_size(16u << 20));
  EXPECT_FALSE(valid_chunk_size(2048));
  EXPECT_FALSE(valid_chunk_size(32u << 20));
  EXPECT_FALSE(valid_chunk_size(5000));
}

TEST(Merkle, EmptyIsHashOfNothing) { EXPECT_EQ(merkle_root({}), evp_sha256({})); }

TEST(Merkle, KnownAnswerThreeChunks) {
  const Hash c0 = evp_sha256({'a'}), c1 = evp_sha256({'b'}), c2 = evp_sha256({'c'});
  const Hash l0 = evp_sha256(cat(0, c0)), l1 = evp_sha256(cat(0, c1)), l2 = evp_sha256(cat(0, c2));
  // Three leaves: (l0, l1) paired, l2 promoted, then paired with that node.
  const Hash expect = evp_sha256(cat(1, evp_sha256(cat(1, l0, l1)), l2));
  const std::vector<Hash> hs{c0, c1, c2};
  EXPECT_EQ(merkle_root(hs), expect);
  const std::vector<Hash> one{c0};
  EXPECT_EQ(merkle_root(one), l0);
  // A fixed value, so that a change of the tree shape shows.
  EXPECT_EQ(to_hex(merkle_root(one)).size(), 64u);
}

TEST(HashFile, EdgeSizes) {
  TempDir dir;
  for (size_t size : {size_t{0}, size_t{kChunk}, size_t{3 * kChunk}, size_t{kChunk + 1}}) {
    const std::vector<uint8_t> data = pattern(size);
    Result<Manifest> r = hash_file(dir.file("f", data), "f", 1, kChunk);
    ASSERT_TRUE(r.ok()) << r.error.message;
    const Manifest& m = r.value;
    EXPECT_EQ(m.size, size);
    ASSERT_EQ(m.chunks.size(), chunk_count(size, kChunk));
    for (size_t i = 0; i < m.chunks.size(); ++i) {
      const size_t len = chunk_length(size, kChunk, i);
      EXPECT_EQ(m.chunks[i], evp_sha256({data.begin() + static_cast<long>(i * kChunk),
                                         data.begin() + static_cast<long>(i * kChunk + len)}));
    }
    EXPECT_EQ(m.root, merkle_root(m.chunks));
    EXPECT_TRUE(validate(m).ok());
  }
}

TEST(HashFile, RefusesSymlinkAndBadChunkSize) {
  TempDir dir;
  const std::string p = dir.file("f", pattern(10));
  EXPECT_EQ(hash_file(p, "f", 1, 1000).error.code, Errc::invalid_argument);
  const std::string link = p + ".link";
  ASSERT_EQ(symlink(p.c_str(), link.c_str()), 0);
  EXPECT_FALSE(hash_file(link, "f", 1, kChunk).ok());
}

// A limit reads that many chunks and no further: the source's append check
// hashes one chunk of a journal, never the journal to its end (a shorter
// file than `size` proves nothing past the limit was read).
TEST(HashChunks, LimitReadsOnlyThoseChunks) {
  TempDir dir;
  const std::vector<uint8_t> data = pattern(3 * kChunk);
  const int fd = open(dir.file("f", data).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<Hash> h;
  ASSERT_TRUE(hash_chunks(fd, 100 * kChunk, kChunk, 1, h, 1).ok());
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0], evp_sha256({data.begin() + kChunk, data.begin() + 2 * kChunk}));
  h.clear();
  EXPECT_EQ(hash_chunks(fd, 100 * kChunk, kChunk, 1, h).error.code, Errc::hash_mismatch);
  h.clear();
  ASSERT_TRUE(hash_chunks(fd, 3 * kChunk, kChunk, 0, h, 2).ok());
  EXPECT_EQ(h.size(), 2u);
  close(fd);
}

TEST(ExtendManifest, RehashesOnlyFromTheOldPartialChunk) {
  TempDir dir;
  std::vector<uint8_t> data = pattern(2 * kChunk + 100);
  const std::string p = dir.file("j", data);
  Result<Manifest> v1 = hash_file(p, "j", 1, kChunk);
  ASSERT_TRUE(v1.ok());
  const std::vector<uint8_t> more = pattern(kChunk + 7, 9);
  data.insert(data.end(), more.begin(), more.end());
  dir.file("j", data);
  const int fd = open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  Result<Manifest> v2 = extend_manifest(v1.value, fd, data.size(), 2);
  close(fd);
  ASSERT_TRUE(v2.ok()) << v2.error.message;
  Result<Manifest> full = hash_file(p, "j", 2, kChunk);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(v2.value.chunks, full.value.chunks);
  EXPECT_EQ(v2.value.root, full.value.root);
  EXPECT_EQ(v2.value.version, 2u);

  // The kept chunks are taken, not read: a forged old hash stays (the caller
  // checks that the file only grew).
  Manifest forged = v1.value;
  forged.chunks[0][0] ^= 1;
  forged.root = merkle_root(forged.chunks);
  const int fd2 = open(p.c_str(), O_RDONLY);
  Result<Manifest> v2f = extend_manifest(forged, fd2, data.size(), 2);
  EXPECT_TRUE(v2f.ok());
  EXPECT_EQ(v2f.value.chunks[0], forged.chunks[0]);
  EXPECT_EQ(extend_manifest(v1.value, fd2, 10, 2).error.code, Errc::invalid_argument);
  close(fd2);
}

Manifest sample() {
  Manifest m;
  m.path = "fhir/Patient.ndjson";
  m.version = 7;
  m.size = 2 * kChunk + 5;
  m.mtime_ns = 1'700'000'000'123'456'789;
  m.mode = 0640;
  m.chunk_size = kChunk;
  m.chunks = {evp_sha256({1}), evp_sha256({2}), evp_sha256({3})};
  m.root = merkle_root(m.chunks);
  return m;
}

TEST(Codec, RoundTrip) {
  const Manifest m = sample();
  const std::vector<uint8_t> bytes = encode(m);
  EXPECT_EQ(bytes.size(), 8 + m.path.size() + kManifestFixedBytes + 32 * 4);
  Result<Manifest> d = decode(bytes);
  ASSERT_TRUE(d.ok()) << d.error.message;
  EXPECT_EQ(d.value, m);

  Manifest empty = sample();
  empty.size = 0;
  empty.chunks.clear();
  empty.root = merkle_root({});
  Result<Manifest> e = decode(encode(empty));
  ASSERT_TRUE(e.ok()) << e.error.message;
  EXPECT_EQ(e.value, empty);
}

TEST(Codec, EveryTruncationAndExtensionRejected) {
  const std::vector<uint8_t> bytes = encode(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Manifest> d = decode({bytes.data(), n});
    EXPECT_FALSE(d.ok()) << n;
    EXPECT_FALSE(d.error.message.empty());
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode(longer).ok());
}

TEST(Codec, ForgedFieldsRejected) {
  const std::vector<uint8_t> good = encode(sample());
  auto with = [&](size_t at, uint8_t v) {
    std::vector<uint8_t> b = good;
    b[at] = v;
    return decode(b);
  };
  EXPECT_FALSE(with(0, 'X').ok());  // magic
  EXPECT_FALSE(with(4, 2).ok());    // version
  EXPECT_FALSE(with(5, 1).ok());    // flags
  EXPECT_FALSE(with(8, '/').ok());  // absolute path
  const size_t fixed = 8 + sample().path.size();
  EXPECT_FALSE(with(fixed + 9, 0xFF).ok());  // size no longer matches the count
  // A chunk count of 2^56: must be refused without allocating for it.
  EXPECT_FALSE(with(fixed + 8 + 8 + 8 + 4 + 4 + 7, 1).ok());
  // A flipped bit in a hash: the root no longer matches.
  Result<Manifest> h = with(good.size() - 40, good[good.size() - 40] ^ 1);
  EXPECT_EQ(h.error.code, Errc::hash_mismatch);
  // Chunk size not a power of two.
  EXPECT_FALSE(with(fixed + 8 + 8 + 8 + 4 + 1, 0x11).ok());
}

TEST(Paths, Validation) {
  for (const char* ok :
       {"a", "a/b", "fhir/Patient.ndjson", "é/ü.txt", "a/.hidden", "a/..b", ".srdxx"}) {
    EXPECT_TRUE(validate_path(ok).ok()) << ok;
  }
  for (const char* bad : {"", "../x", "/x", "a//b", "a/./b", "a/..", "./a", "a/", ".srdx",
                          ".srdx/versions/x", "\xff\xfe", "\xc0\xaf"}) {
    Status s = validate_path(bad);
    EXPECT_EQ(s.error.code, Errc::bad_path) << bad;
  }
  EXPECT_FALSE(validate_path(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(validate_path(std::string(4096, 'a')).ok());
  EXPECT_FALSE(validate_path(std::string(256, 'a')).ok());
  EXPECT_TRUE(validate_path(std::string(255, 'a')).ok());
}

TEST(Json, ForPeople) {
  const nlohmann::json j = to_json(sample());
  EXPECT_EQ(j["path"], "fhir/Patient.ndjson");
  EXPECT_EQ(j["version"], 7);
  EXPECT_EQ(j["chunks"].size(), 3u);
  EXPECT_EQ(j["merkle_root"].get<std::string>(), to_hex(sample().root));
}

}  // namespace
}  // namespace srdx::replicate
