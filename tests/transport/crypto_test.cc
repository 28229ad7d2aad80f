// The cryptographic building blocks: HKDF-Expand, PacketKey (per-packet
// AEAD), ReplayWindow and the Noise IK handshake.
//
// Known answers come from published vectors, never from this code's output:
//   - HKDF: RFC 5869, appendix A.1 (test case 1's PRK and OKM).
//   - AES-256-GCM: "The Galois/Counter Mode of Operation (GCM)", McGrew and
//     Viega (revised 2005), appendix B, test cases 15 and 16 (96-bit IV).
//   - ChaCha20-Poly1305: RFC 8439, section 2.8.2.
//   - Noise_IK_25519_AESGCM_SHA256: the cacophony test vectors (the Haskell
//     Noise implementation's, as published in snow's
//     tests/vectors/cacophony.txt), all six messages and the handshake hash.
// The AEAD vectors check a one-shot reference AEAD written straight on
// OpenSSL in this file; PacketKey is then checked against that reference with
// the key and IV from HKDF-Expand (itself checked against RFC 5869) and a
// nonce written out by hand. The Noise vector's transport messages check
// split() the same way.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "noise.h"
#include "seal.h"
#include "srdx/config.h"
#include "srdx/keys.h"

namespace srdx::crypto {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hex(std::string_view s) {
  Bytes out;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

template <size_t N>
std::array<uint8_t, N> hex_array(std::string_view s) {
  const Bytes b = hex(s);
  std::array<uint8_t, N> a{};
  EXPECT_EQ(b.size(), N) << s;
  std::copy_n(b.begin(), std::min(N, b.size()), a.begin());
  return a;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string to_hex(std::span<const uint8_t> b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += digits[x >> 4];
    s += digits[x & 15];
  }
  return s;
}

// The reference AEAD: one call, one fresh OpenSSL context, key and nonce as
// given. Returns ciphertext || tag (16).
Bytes reference_seal(Cipher c, std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                     std::span<const uint8_t> ad, std::span<const uint8_t> plain) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER* cipher = c == Cipher::aes256gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  Bytes out(plain.size() + kTagSize);
  int n = 0;
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(nonce.size(), 12u);
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nonce.data()), 1);
  if (!ad.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &n, ad.data(), static_cast<int>(ad.size())), 1);
  }
  if (!plain.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &n, plain.data(), static_cast<int>(plain.size())),
              1);
  }
  uint8_t none[16];
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, none, &n), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + plain.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// ---------------------------------------------------------------------------
// Published vectors: HKDF and the two AEADs
// ---------------------------------------------------------------------------

TEST(Hkdf, ExpandMatchesRfc5869TestCase1) {
  const Secret prk =
      hex_array<32>("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  const Bytes info = hex("f0f1f2f3f4f5f6f7f8f9");
  Bytes okm(42);
  hkdf_expand(prk, std::string_view(reinterpret_cast<const char*>(info.data()), info.size()), okm);
  EXPECT_EQ(to_hex(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(ReferenceAead, ReproducesGcmSpecTestCases15And16) {
  const Bytes key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const Bytes iv = hex("cafebabefacedbaddecaf888");
  const std::string p =
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
  const std::string c =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
  // Test case 15: 64 bytes, no additional data.
  EXPECT_EQ(to_hex(reference_seal(Cipher::aes256gcm, key, iv, {}, hex(p + "1aafd255"))),
            c + "898015ad" + "b094dac5d93471bdec1a502270e3cc6c");
  // Test case 16: 60 bytes, 20 bytes of additional data.
  EXPECT_EQ(to_hex(reference_seal(Cipher::aes256gcm, key, iv,
                                  hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"), hex(p))),
            c + "76fc6ece0f4e1768cddf8853bb2d551b");
}

TEST(ReferenceAead, ReproducesRfc8439Section282) {
  const Bytes key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const Bytes out = reference_seal(
      Cipher::chacha20poly1305, key, hex("070000004041424344454647"),
      hex("50515253c0c1c2c3c4c5c6c7"),
      bytes_of("Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
               "for the future, sunscreen would be it."));
  EXPECT_EQ(to_hex(out),
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116"
            "1ae10b594f09e26a7e902ecbd0600691");
}

// ---------------------------------------------------------------------------
// PacketKey
// ---------------------------------------------------------------------------

Secret test_secret(uint8_t first) {
  Secret s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(first + i);
  return s;
}

class PacketKeyTest : public ::testing::TestWithParam<Cipher> {};

INSTANTIATE_TEST_SUITE_P(BothCiphers, PacketKeyTest,
                         ::testing::Values(Cipher::aes256gcm, Cipher::chacha20poly1305),
                         [](const auto& p) {
                           return p.param == Cipher::aes256gcm ? "aes256gcm" : "chacha20poly1305";
                         });

// The key and IV are HKDF-Expand(secret, "srdx key" / "srdx iv"), and the
// nonce is the IV with the counter XORed into its last 8 bytes, big endian.
TEST_P(PacketKeyTest, SealsAsTheReferenceAeadWithTheDerivedKeyAndNonce) {
  const Secret secret = test_secret(0x40);
  Bytes key(32), iv(12);
  hkdf_expand(secret, "srdx key", key);
  hkdf_expand(secret, "srdx iv", iv);
  PacketKey pk;
  pk.set(GetParam(), secret);
  ASSERT_TRUE(pk.valid());
  const Bytes ad = bytes_of("clear header");
  const Bytes plain = bytes_of("a payload of some bytes");

  for (const uint64_t counter : {uint64_t{0}, uint64_t{0x0102030405060708}}) {
    Bytes nonce = iv;
    if (counter != 0) {
      const uint8_t be[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
      for (int i = 0; i < 8; ++i) nonce[4 + i] ^= be[i];
    }
    Bytes text = plain;
    uint8_t tag[kTagSize];
    ASSERT_TRUE(pk.seal(counter, ad, text, tag));
    Bytes got = text;
    got.insert(got.end(), tag, tag + kTagSize);
    EXPECT_EQ(to_hex(got), to_hex(reference_seal(GetParam(), key, nonce, ad, plain)))
        << "counter " << counter;
  }
}

TEST_P(PacketKeyTest, RoundTripsEverySizeInPlaceAndApart) {
  PacketKey tx, rx;
  tx.set(GetParam(), test_secret(1));
  rx.set(GetParam(), test_secret(1));
  const Bytes ad = bytes_of("header bytes");
  uint64_t counter = 7;
  for (const size_t size : {0, 1, 64, 1500, 9000}) {
    Bytes plain(size);
    for (size_t i = 0; i < size; ++i) plain[i] = static_cast<uint8_t>(i * 31 + 5);
    Bytes text = plain;
    uint8_t tag[kTagSize];
    ASSERT_TRUE(tx.seal(counter, ad, text, tag)) << size;
    if (size >= 16) {
      EXPECT_NE(text, plain) << "not encrypted, size " << size;
    }

    Bytes out(size);
    ASSERT_TRUE(rx.open(counter, ad, text, out, tag)) << size;
    EXPECT_EQ(out, plain) << size;
    ASSERT_TRUE(rx.open(counter, ad, text, text, tag)) << "in place, size " << size;
    EXPECT_EQ(text, plain) << size;
    ++counter;
  }
}

TEST_P(PacketKeyTest, AnyFlippedBitInAdTextOrTagFailsOpenAndWipesTheOutput) {
  PacketKey key;
  key.set(GetParam(), test_secret(9));
  Bytes ad = bytes_of("twenty-four header bytes");
  Bytes text(64, 0xab);
  uint8_t tag[kTagSize];
  ASSERT_TRUE(key.seal(42, ad, text, tag));

  auto try_open = [&](const Bytes& a, const Bytes& t, const uint8_t* g) {
    Bytes out(t.size(), 0x55);
    const bool ok = key.open(42, a, t, out, g);
    if (!ok) {
      EXPECT_EQ(out, Bytes(t.size(), 0)) << "output not wiped";
    }
    return ok;
  };
  ASSERT_TRUE(try_open(ad, text, tag));
  for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
    Bytes a = ad;
    a[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(try_open(a, text, tag)) << "ad bit " << bit;
  }
  for (size_t bit = 0; bit < text.size() * 8; ++bit) {
    Bytes t = text;
    t[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(try_open(ad, t, tag)) << "text bit " << bit;
  }
  for (size_t bit = 0; bit < kTagSize * 8; ++bit) {
    uint8_t g[kTagSize];
    std::copy_n(tag, kTagSize, g);
    g[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(try_open(ad, text, g)) << "tag bit " << bit;
  }
  // Shorter ad or text: also refused.
  EXPECT_FALSE(try_open(Bytes(ad.begin(), ad.end() - 1), text, tag));
  EXPECT_FALSE(try_open(ad, Bytes(text.begin(), text.end() - 1), tag));
  // The key still works after all those failures.
  EXPECT_TRUE(try_open(ad, text, tag));
}

TEST_P(PacketKeyTest, WrongCounterWrongSecretOrWrongCipherFails) {
  PacketKey tx, rx, other, wrong_cipher;
  tx.set(GetParam(), test_secret(3));
  rx.set(GetParam(), test_secret(3));
  other.set(GetParam(), test_secret(4));
  wrong_cipher.set(GetParam() == Cipher::aes256gcm ? Cipher::chacha20poly1305 : Cipher::aes256gcm,
                   test_secret(3));
  Bytes text = bytes_of("counter matters");
  const Bytes plain = text;
  uint8_t tag[kTagSize];
  ASSERT_TRUE(tx.seal(1000, {}, text, tag));
  Bytes out(text.size());
  for (const uint64_t c : {uint64_t{0}, uint64_t{999}, uint64_t{1001}, uint64_t{1000} << 32})
    EXPECT_FALSE(rx.open(c, {}, text, out, tag)) << c;
  EXPECT_FALSE(other.open(1000, {}, text, out, tag));
  EXPECT_FALSE(wrong_cipher.open(1000, {}, text, out, tag));
  ASSERT_TRUE(rx.open(1000, {}, text, out, tag));
  EXPECT_EQ(out, plain);
}

TEST_P(PacketKeyTest, NextSecretChainsTheSameOnBothSidesAndEachPhaseHasItsOwnKey) {
  const Secret s0 = test_secret(0x10);
  PacketKey a, b;
  a.set(GetParam(), s0);
  b.set(GetParam(), s0);
  std::set<Secret> seen{s0};
  PacketKey a_old;
  a_old.set(GetParam(), s0);
  for (int phase = 1; phase <= 4; ++phase) {
    const Secret na = a.next_secret(), nb = b.next_secret();
    EXPECT_EQ(na, nb) << "phase " << phase;
    EXPECT_TRUE(seen.insert(na).second) << "phase " << phase << " repeats a secret";
    a.set(GetParam(), na);
    b.set(GetParam(), nb);
    Bytes text = bytes_of("phase data");
    uint8_t tag[kTagSize];
    ASSERT_TRUE(a.seal(0, {}, text, tag));
    Bytes out(text.size());
    EXPECT_TRUE(b.open(0, {}, text, out, tag)) << "phase " << phase;
    EXPECT_FALSE(a_old.open(0, {}, text, out, tag)) << "phase 0's key opens phase " << phase;
  }
}

TEST(PacketKey, UnsetOrClearedOrMovedFromKeyRefusesEverything) {
  PacketKey none;
  EXPECT_FALSE(none.valid());
  uint8_t buf[8] = {}, tag[kTagSize] = {};
  EXPECT_FALSE(none.seal(0, {}, buf, tag));
  EXPECT_FALSE(none.open(0, {}, buf, buf, tag));

  PacketKey a;
  a.set(Cipher::aes256gcm, test_secret(5));
  ASSERT_TRUE(a.seal(0, {}, buf, tag));
  PacketKey b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_FALSE(a.seal(1, {}, buf, tag));
  ASSERT_TRUE(b.valid());
  EXPECT_TRUE(b.open(0, {}, buf, buf, tag)) << "the moved key decrypts what it sealed";
  PacketKey c;
  c = std::move(b);
  EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(c.valid());
  c.clear();
  EXPECT_FALSE(c.valid());
  EXPECT_FALSE(c.seal(0, {}, buf, tag));
}

#if defined(__x86_64__) && defined(__linux__)
// cpu_has_aes() asks cpuid; the kernel's /proc/cpuinfo flags say the same.
TEST(CpuHasAes, AgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  bool aes = false, pclmul = false;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    aes = line.find(" aes") != std::string::npos;
    pclmul = line.find(" pclmulqdq") != std::string::npos;
    break;
  }
  EXPECT_EQ(cpu_has_aes(), aes && pclmul);
}
#endif

// ---------------------------------------------------------------------------
// ReplayWindow
// ---------------------------------------------------------------------------

constexpr uint64_t kWindow = tuning::kReplayWindow;

TEST(ReplayWindow, TakesEachCounterOnceStartingAtZero) {
  ReplayWindow w;
  EXPECT_TRUE(w.fresh(0));
  w.accept(0);
  EXPECT_FALSE(w.fresh(0));
  EXPECT_TRUE(w.fresh(1));
  w.accept(1);
  EXPECT_FALSE(w.fresh(1));
  EXPECT_EQ(w.highest(), 1u);
}

TEST(ReplayWindow, OutOfOrderWithinTheWindowIsTakenOnce) {
  ReplayWindow w;
  w.accept(10000);
  for (const uint64_t c : {9999, 10000 - 5000, 10000 - int(kWindow) + 1, 10000 - 64, 10000 - 63}) {
    EXPECT_TRUE(w.fresh(c)) << c;
    w.accept(c);
    EXPECT_FALSE(w.fresh(c)) << c;
  }
  EXPECT_EQ(w.highest(), 10000u) << "an older counter does not move the window";
}

TEST(ReplayWindow, ExactlyAWindowBelowTheHighestIsTooOld) {
  ReplayWindow w;
  w.accept(kWindow + 100);
  EXPECT_FALSE(w.fresh(100));
  EXPECT_TRUE(w.fresh(101));
  EXPECT_FALSE(w.fresh(0));
}

TEST(ReplayWindow, LargeJumpsForgetWhatTheRingHeld) {
  ReplayWindow w;
  for (uint64_t c = 0; c < 300; ++c) w.accept(c);
  // The ring is kWindow/64 + 1 words: a jump of exactly that many words lands
  // on the same ring slots, which must have been cleared.
  const uint64_t ring = (kWindow / 64 + 1) * 64;
  w.accept(ring + 299);
  for (uint64_t c = ring; c < ring + 299; ++c) ASSERT_TRUE(w.fresh(c)) << c;
  EXPECT_FALSE(w.fresh(ring + 299));
  // A jump of 2^40: everything before is too old, everything new is fresh.
  const uint64_t far = uint64_t{1} << 40;
  w.accept(far);
  EXPECT_FALSE(w.fresh(ring + 299));
  EXPECT_FALSE(w.fresh(far));
  for (uint64_t c = far - kWindow + 1; c < far; c += 97) ASSERT_TRUE(w.fresh(c)) << c;
  // And the very top of the counter space.
  w.accept(UINT64_MAX);
  EXPECT_FALSE(w.fresh(UINT64_MAX));
  EXPECT_TRUE(w.fresh(UINT64_MAX - 1));
  EXPECT_FALSE(w.fresh(UINT64_MAX - kWindow));
}

// A slide of fewer words than the ring lands the new highest word on the slot
// of the word one ring older, which must be cleared too.
TEST(ReplayWindow, SlidingReusesTheSlotOfTheWordOneRingOlder) {
  ReplayWindow w;
  const uint64_t ring_words = kWindow / 64 + 1;
  for (uint64_t c = 0; c < 64; ++c) w.accept(c);  // word 0, all of it
  w.accept(64 * 100);
  const uint64_t top = 64 * ring_words + 63;  // the last counter of word 0's slot, a ring on
  w.accept(top);
  for (uint64_t c = top - 63; c < top; ++c) EXPECT_TRUE(w.fresh(c)) << c;
  EXPECT_FALSE(w.fresh(top));
}

// Against a model that remembers every counter: fresh(c) iff c was never
// accepted and c > highest or highest - c < window.
TEST(ReplayWindow, AgreesWithAModelOnRandomTraffic) {
  std::mt19937_64 rng(12345);
  ReplayWindow w;
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t r = rng() % 100;
    uint64_t c;
    if (r < 50) {
      c = highest + 1 + rng() % 4;  // in order, small gaps
    } else if (r < 70) {
      c = highest - std::min<uint64_t>(highest, rng() % 70);  // just behind
    } else if (r < 90) {
      c = highest - std::min<uint64_t>(highest, rng() % (kWindow + 200));  // reordered or old
    } else if (r < 99) {
      c = highest + rng() % (3 * kWindow);  // a jump
    } else {
      c = highest + (uint64_t{1} << 20) + rng() % 1000;  // a large jump
    }
    const bool model = !seen.count(c) && (c > highest || highest - c < kWindow);
    ASSERT_EQ(w.fresh(c), model) << "step " << i << " counter " << c << " highest " << highest;
    if (model) {
      w.accept(c);
      seen.insert(c);
      highest = std::max(highest, c);
    }
    ASSERT_EQ(w.highest(), highest);
  }
}

// ---------------------------------------------------------------------------
// NoiseIK
// ---------------------------------------------------------------------------

// The cacophony vector of Noise_IK_25519_AESGCM_SHA256.
struct Cacophony {
  Bytes prologue = bytes_of("John Galt");
  PrivateKey init_static =
      hex_array<32>("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1");
  PrivateKey init_ephemeral =
      hex_array<32>("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a");
  PublicKey init_remote_static =
      hex_array<32>("31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62");
  PrivateKey resp_static =
      hex_array<32>("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893");
  PrivateKey resp_ephemeral =
      hex_array<32>("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b");
  std::string handshake_hash = "669c8640d9e42a3cda2f232f78597ceefb01daa6e3df81181ccce6fc6b5026bf";
  struct Message {
    std::string payload;
    std::string ciphertext;
  };
  std::vector<Message> messages = {
      {"Ludwig von Mises",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
       "4e417bc55c7a8166c993356c1be41ef67818a292426f301556c7f26b21d25ddb"
       "097153891a9a956cff47b83e63ad8d701c1342c209cff1ca5ecd43402762ac24"
       "9e3bd3a4c0a145fe07cb5dae28ea13a3"},
      {"Murray Rothbard",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
       "af2ccf9972e22afc67aeafcd25162f7f98c363b7762e3e4cb7d272e39f27a5"},
      {"F. A. Hayek", "66acfc92e3197de166809e6d4d5d003dcc819a84bc3522ca53c9d9"},
      {"Carl Menger", "71f89aa6533a6de70b0826864dd75f60806ee40170c16290189eb3"},
      {"Jean-Baptiste Say", "4795a3423550c8bf00386bd496a3e2c76c10669d2a75ab8f79b5094c5412a25705"},
      {"Eugen B\xf6hm von Bawerk",
       "aa0bb39097555c918e40be82abc2b909eb79d9eb87adb07e268fc37323a6cf904fd01fb391"},
  };
};

// Noise transport messages after Split: AES-256-GCM under the split secret,
// nonce 4 zero bytes || n big endian, no additional data.
Bytes noise_transport(const Secret& k, uint64_t n, const std::string& payload) {
  Bytes nonce(12, 0);
  for (int i = 0; i < 8; ++i) nonce[11 - i] = static_cast<uint8_t>(n >> (8 * i));
  return reference_seal(Cipher::aes256gcm, k, nonce, {}, bytes_of(payload));
}

TEST(NoiseIK, MatchesTheCacophonyVector) {
  const Cacophony v;
  EXPECT_EQ(public_key_of(v.resp_static), v.init_remote_static);

  NoiseIK initiator, responder;
  initiator.init_initiator(v.init_static, v.init_remote_static, v.prologue);
  responder.init_responder(v.resp_static, v.prologue);

  const Bytes p1 = bytes_of(v.messages[0].payload);
  Bytes msg1(NoiseIK::kMsg1Size + p1.size());
  ASSERT_TRUE(initiator.write_msg1({}, p1, msg1, &v.init_ephemeral));
  EXPECT_EQ(to_hex(msg1), v.messages[0].ciphertext);

  PublicKey learned{};
  Bytes got1(p1.size());
  ASSERT_TRUE(responder.read_msg1({}, hex(v.messages[0].ciphertext), learned, got1));
  EXPECT_EQ(got1, p1);
  EXPECT_EQ(learned, public_key_of(v.init_static));

  const Bytes p2 = bytes_of(v.messages[1].payload);
  Bytes msg2(NoiseIK::kMsg2Size + p2.size());
  ASSERT_TRUE(responder.write_msg2({}, p2, msg2, &v.resp_ephemeral));
  EXPECT_EQ(to_hex(msg2), v.messages[1].ciphertext);
  Bytes got2(p2.size());
  ASSERT_TRUE(initiator.read_msg2({}, hex(v.messages[1].ciphertext), got2));
  EXPECT_EQ(got2, p2);

  EXPECT_EQ(to_hex(initiator.handshake_hash()), v.handshake_hash);
  EXPECT_EQ(to_hex(responder.handshake_hash()), v.handshake_hash);

  // Messages 3..6 alternate initiator, responder, ... under the split keys.
  Secret i2r, r2i, i2r_resp, r2i_resp;
  initiator.split(i2r, r2i);
  responder.split(i2r_resp, r2i_resp);
  EXPECT_EQ(i2r, i2r_resp);
  EXPECT_EQ(r2i, r2i_resp);
  for (size_t m = 2; m < v.messages.size(); ++m) {
    const bool from_initiator = m % 2 == 0;
    const uint64_t n = (m - 2) / 2;
    EXPECT_EQ(to_hex(noise_transport(from_initiator ? i2r : r2i, n, v.messages[m].payload)),
              v.messages[m].ciphertext)
        << "message " << m;
  }
}

// The same handshake with srdx's fixed-size, empty-payload messages: msg1's
// e and encrypted s (its first 80 bytes) do not depend on the payload, so
// they are the vector's too.
TEST(NoiseIK, EmptyPayloadMsg1StartsAsTheCacophonyVector) {
  const Cacophony v;
  NoiseIK initiator;
  initiator.init_initiator(v.init_static, v.init_remote_static, v.prologue);
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  ASSERT_TRUE(initiator.write_msg1({}, msg1, &v.init_ephemeral));
  EXPECT_EQ(to_hex(std::span(msg1).first(80)), v.messages[0].ciphertext.substr(0, 160));
}

struct Parties {
  PrivateKey i_static = generate_private_key();
  PrivateKey r_static = generate_private_key();
  PublicKey r_public = public_key_of(r_static);
  Bytes prologue = bytes_of("srdx v3");
  Bytes ad1 = bytes_of("hello header: cids and parameters");
  Bytes ad2 = bytes_of("hello_ack header");
  NoiseIK initiator, responder;
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  std::array<uint8_t, NoiseIK::kMsg2Size> msg2{};

  // New static keys, or those of `keys`.
  explicit Parties(const Parties* keys = nullptr) {
    if (keys != nullptr) {
      i_static = keys->i_static;
      r_static = keys->r_static;
      r_public = keys->r_public;
    }
    initiator.init_initiator(i_static, r_public, prologue);
    responder.init_responder(r_static, prologue);
  }
  bool step1() { return initiator.write_msg1(ad1, msg1); }
  bool read1() {
    PublicKey learned{};
    return responder.read_msg1(ad1, msg1, learned) && learned == public_key_of(i_static);
  }
  bool step2() { return responder.write_msg2(ad2, msg2); }
  bool read2() { return initiator.read_msg2(ad2, msg2); }
};

TEST(NoiseIK, FullHandshakeAgreesOnSecretsAndHash) {
  Parties p;
  ASSERT_TRUE(p.step1());
  PublicKey learned{};
  ASSERT_TRUE(p.responder.read_msg1(p.ad1, p.msg1, learned));
  EXPECT_EQ(learned, public_key_of(p.i_static)) << "the responder learns the initiator's static";
  ASSERT_TRUE(p.step2());
  ASSERT_TRUE(p.read2());
  EXPECT_TRUE(p.initiator.done());
  EXPECT_TRUE(p.responder.done());

  Secret i2r, r2i, ri2r, rr2i;
  p.initiator.split(i2r, r2i);
  p.responder.split(ri2r, rr2i);
  EXPECT_EQ(i2r, ri2r);
  EXPECT_EQ(r2i, rr2i);
  EXPECT_NE(i2r, r2i);
  EXPECT_NE(i2r, Secret{});
  EXPECT_EQ(p.initiator.handshake_hash(), p.responder.handshake_hash());

  // The secrets seed working packet keys both ways.
  PacketKey i_tx, i_rx, r_tx, r_rx;
  i_tx.set(Cipher::aes256gcm, i2r);
  r_rx.set(Cipher::aes256gcm, ri2r);
  r_tx.set(Cipher::aes256gcm, rr2i);
  i_rx.set(Cipher::aes256gcm, r2i);
  Bytes text = bytes_of("first data"), out(10);
  uint8_t tag[kTagSize];
  ASSERT_TRUE(i_tx.seal(0, {}, text, tag));
  EXPECT_TRUE(r_rx.open(0, {}, text, out, tag));
  EXPECT_FALSE(i_rx.open(0, {}, text, out, tag)) << "the two directions share a key";
  text = bytes_of("reply data");
  ASSERT_TRUE(r_tx.seal(0, {}, text, tag));
  EXPECT_TRUE(i_rx.open(0, {}, text, out, tag));
}

TEST(NoiseIK, FreshEphemeralsMakeEveryHandshakeDifferent) {
  Parties a;
  Parties b(&a);
  for (Parties* p : {&a, &b}) {
    ASSERT_TRUE(p->step1() && p->read1() && p->step2() && p->read2());
  }
  EXPECT_NE(a.msg1, b.msg1);
  EXPECT_NE(a.msg2, b.msg2);
  EXPECT_NE(a.initiator.handshake_hash(), b.initiator.handshake_hash());
  Secret ai, ar, bi, br;
  a.initiator.split(ai, ar);
  b.initiator.split(bi, br);
  EXPECT_NE(ai, bi);
}

// Empty ads are standard Noise; a non-empty one changes the messages from the
// first encrypted byte on (the flipped-bit tests below show a different one
// fails).
TEST(NoiseIK, AdIsBoundIntoTheHandshake) {
  Parties with_ad;
  Parties without_ad(&with_ad);
  without_ad.ad1.clear();
  without_ad.ad2.clear();
  const PrivateKey e = generate_private_key();
  ASSERT_TRUE(with_ad.initiator.write_msg1(with_ad.ad1, with_ad.msg1, &e));
  ASSERT_TRUE(without_ad.initiator.write_msg1({}, without_ad.msg1, &e));
  EXPECT_TRUE(std::equal(with_ad.msg1.begin(), with_ad.msg1.begin() + 32, without_ad.msg1.begin()))
      << "the same ephemeral";
  EXPECT_FALSE(
      std::equal(with_ad.msg1.begin() + 32, with_ad.msg1.end(), without_ad.msg1.begin() + 32))
      << "the ad changed nothing";
  ASSERT_TRUE(with_ad.read1() && with_ad.step2() && with_ad.read2());
  ASSERT_TRUE(without_ad.read1() && without_ad.step2() && without_ad.read2());
  EXPECT_NE(with_ad.initiator.handshake_hash(), without_ad.initiator.handshake_hash());
}

TEST(NoiseIK, WrongResponderStaticFailsReadMsg1) {
  Parties p;
  p.initiator.init_initiator(p.i_static, public_key_of(generate_private_key()), p.prologue);
  ASSERT_TRUE(p.step1());
  PublicKey learned{};
  EXPECT_FALSE(p.responder.read_msg1(p.ad1, p.msg1, learned));
  EXPECT_EQ(learned, PublicKey{});
}

TEST(NoiseIK, DifferentProloguesFail) {
  Parties p;
  p.responder.init_responder(p.r_static, bytes_of("srdx v2"));
  ASSERT_TRUE(p.step1());
  EXPECT_FALSE(p.read1());
}

TEST(NoiseIK, AnyFlippedBitInMsg1OrItsAdFails) {
  Parties good;
  ASSERT_TRUE(good.step1());
  for (size_t bit = 0; bit <= (NoiseIK::kMsg1Size + good.ad1.size()) * 8; ++bit) {
    std::array<uint8_t, NoiseIK::kMsg1Size> msg1 = good.msg1;
    Bytes ad = good.ad1;
    const size_t byte = bit / 8;
    if (byte < msg1.size()) {
      msg1[byte] ^= static_cast<uint8_t>(1 << (bit % 8));
    } else if (byte < msg1.size() + ad.size()) {
      ad[byte - msg1.size()] ^= static_cast<uint8_t>(1 << (bit % 8));
    }  // else: the last round flips nothing and must succeed
    NoiseIK responder;
    responder.init_responder(good.r_static, good.prologue);
    PublicKey learned{};
    const bool flipped = byte < msg1.size() + ad.size();
    EXPECT_EQ(responder.read_msg1(ad, msg1, learned), !flipped) << "bit " << bit;
  }
}

TEST(NoiseIK, AnyFlippedBitInMsg2OrItsAdFails) {
  const Parties keys;
  const size_t bits = (NoiseIK::kMsg2Size + keys.ad2.size()) * 8;
  for (size_t bit = 0; bit <= bits; ++bit) {
    // msg2 answers one msg1 only: a whole handshake per bit.
    Parties p(&keys);
    ASSERT_TRUE(p.step1() && p.read1() && p.step2());
    const size_t byte = bit / 8;
    if (byte < p.msg2.size()) {
      p.msg2[byte] ^= static_cast<uint8_t>(1 << (bit % 8));
    } else if (bit < bits) {
      p.ad2[byte - p.msg2.size()] ^= static_cast<uint8_t>(1 << (bit % 8));
    }  // else: the last round flips nothing and must succeed
    EXPECT_EQ(p.read2(), bit == bits) << "bit " << bit;
  }
}

const char* const kLowOrderPoints[] = {
    // The X25519 public values whose product with any key is all zeros
    // (order 1, 2, 4 and 8, and their non-canonical encodings).
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

TEST(NoiseIK, LowOrderPointsAreRefused) {
  for (const char* point : kLowOrderPoints) {
    const PublicKey low = hex_array<32>(point);
    // As the responder's static: the initiator's first DH is all zeros, so it
    // refuses to write anything (no other step can fail here).
    {
      Parties p;
      p.initiator.init_initiator(p.i_static, low, p.prologue);
      EXPECT_FALSE(p.step1()) << point;
    }
    // As the initiator's ephemeral in msg1.
    {
      Parties p;
      ASSERT_TRUE(p.step1());
      std::copy(low.begin(), low.end(), p.msg1.begin());
      EXPECT_FALSE(p.read1()) << point;
    }
    // As the responder's ephemeral in msg2.
    {
      Parties p;
      ASSERT_TRUE(p.step1() && p.read1() && p.step2());
      std::copy(low.begin(), low.end(), p.msg2.begin());
      EXPECT_FALSE(p.read2()) << point;
    }
  }
}

TEST(NoiseIK, CallsOutOfOrderFailAndLeaveTheObjectUnusable) {
  {
    NoiseIK idle;
    std::array<uint8_t, NoiseIK::kMsg1Size> m1{};
    std::array<uint8_t, NoiseIK::kMsg2Size> m2{};
    PublicKey k{};
    EXPECT_FALSE(idle.write_msg1({}, m1));
    EXPECT_FALSE(idle.read_msg1({}, m1, k));
    EXPECT_FALSE(idle.write_msg2({}, m2));
    EXPECT_FALSE(idle.read_msg2({}, m2));
  }
  {
    Parties p;  // the initiator reads msg2 before writing msg1
    EXPECT_FALSE(p.initiator.read_msg2({}, p.msg2));
    EXPECT_FALSE(p.step1()) << "usable after a failure";
  }
  {
    Parties p;  // the initiator writes msg1 twice
    ASSERT_TRUE(p.step1());
    EXPECT_FALSE(p.step1());
  }
  {
    Parties p;  // the responder writes msg2 before reading msg1
    EXPECT_FALSE(p.step2());
    ASSERT_TRUE(p.step1());
    EXPECT_FALSE(p.read1()) << "usable after a failure";
  }
  {
    Parties p;  // roles swapped
    ASSERT_TRUE(p.step1());
    PublicKey k{};
    EXPECT_FALSE(p.initiator.read_msg1(p.ad1, p.msg1, k));
  }
  {
    Parties p;  // a failure, then a re-init works
    ASSERT_TRUE(p.step1());
    p.msg1[50] ^= 1;
    EXPECT_FALSE(p.read1());
    p.msg1[50] ^= 1;
    EXPECT_FALSE(p.read1()) << "the failed responder took the good msg1";
    p.responder.init_responder(p.r_static, p.prologue);
    EXPECT_TRUE(p.read1() && p.step2() && p.read2());
  }
  {
    Parties p;  // done: no more messages
    ASSERT_TRUE(p.step1() && p.read1() && p.step2() && p.read2());
    EXPECT_FALSE(p.read2());
  }
}

TEST(NoiseIK, SplitIsZeroUntilDoneAndClearWipesEverything) {
  Parties p;
  ASSERT_TRUE(p.step1() && p.read1());
  Secret a{}, b{};
  a[0] = b[0] = 1;
  p.responder.split(a, b);
  EXPECT_EQ(a, Secret{});
  EXPECT_EQ(b, Secret{});
  ASSERT_TRUE(p.step2() && p.read2());
  p.initiator.split(a, b);
  EXPECT_NE(a, Secret{});
  p.initiator.clear();
  EXPECT_FALSE(p.initiator.done());
  EXPECT_EQ(p.initiator.handshake_hash(), (std::array<uint8_t, 32>{}));
  p.initiator.split(a, b);
  EXPECT_EQ(a, Secret{});
}

TEST(NoiseIK, MovesTakeTheStateAndStaySmall) {
  Parties p;
  ASSERT_TRUE(p.step1());
  NoiseIK moved(std::move(p.initiator));
  EXPECT_FALSE(p.initiator.read_msg2(p.ad2, p.msg2)) << "the moved-from object is usable";
  ASSERT_TRUE(p.read1() && p.step2());
  EXPECT_TRUE(moved.read_msg2(p.ad2, p.msg2));
  // One per peer while handshaking: a few hundred bytes, no heap.
  EXPECT_LE(sizeof(NoiseIK), 320u);
}

}  // namespace
}  // namespace srdx::crypto
