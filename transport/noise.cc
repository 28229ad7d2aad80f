#include "noise.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace srdx::crypto {
namespace {

// 28 bytes: h starts as the name padded with zeros to HASHLEN (32).
constexpr std::string_view kProtocolName = "Noise_IK_25519_AESGCM_SHA256";
static_assert(kProtocolName.size() <= 32);

constexpr size_t kDhSize = 32;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// Noise's HKDF(chaining_key, input_key_material, 2): RFC 5869 HKDF-SHA-256
// with the chaining key as salt, the input as key and no info, 64 bytes out.
bool hkdf2(std::span<const uint8_t, 32> ck, std::span<const uint8_t> ikm, uint8_t out[64]) {
  EVP_KDF* kdf = hkdf_algorithm();
  Owned<EVP_KDF_CTX> ctx(kdf ? EVP_KDF_CTX_new(kdf) : nullptr);
  if (!ctx) return false;
  int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
  char digest[] = "SHA256";
  // An empty key (Split's) still needs a non-null pointer for OpenSSL.
  uint8_t none = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(ck.data()),
                                        ck.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, ikm.empty() ? &none : const_cast<uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_end(),
  };
  return EVP_KDF_derive(ctx.get(), out, 64, params) == 1;
}

bool x25519_public(const PrivateKey& priv, PublicKey& pub) {
  Owned<EVP_PKEY> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  size_t n = pub.size();
  return key && EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &n) == 1 && n == pub.size();
}

// X25519(priv, pub). false if OpenSSL fails or the result is all zeros (a
// low-order `pub`; OpenSSL 3 refuses those itself, and this checks again).
bool x25519(const PrivateKey& priv, const PublicKey& pub, std::array<uint8_t, kDhSize>& out) {
  Owned<EVP_PKEY> mine(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  Owned<EVP_PKEY> theirs(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub.data(), pub.size()));
  if (!mine || !theirs) return false;
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.get(), nullptr));
  size_t n = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &n) != 1 || n != out.size()) {
    return false;
  }
  uint8_t acc = 0;
  for (uint8_t b : out) acc |= b;
  return acc != 0;
}

// Noise's ENCRYPT/DECRYPT for AESGCM: AES-256-GCM, nonce = 4 zero bytes ||
// n as u64 big endian, tag (16) after the ciphertext. A context per call: the
// handshake is not the per-packet path.
bool aesgcm(bool encrypt, const std::array<uint8_t, 32>& k, uint64_t n, std::span<const uint8_t> ad,
            const uint8_t* in, size_t len, uint8_t* out, uint8_t* tag) {
  if (len > INT_MAX || ad.size() > INT_MAX) return false;
  uint8_t nonce[kIvSize] = {};
  for (int i = 0; i < 8; ++i) nonce[kIvSize - 1 - i] = static_cast<uint8_t>(n >> (8 * i));
  Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  int m = 0;
  uint8_t none[16];
  const int enc = encrypt ? 1 : 0;
  return ctx &&
         EVP_CipherInit_ex(ctx.get(), cipher_algorithm(Cipher::aes256gcm), nullptr, k.data(), nonce,
                           enc) == 1 &&
         (encrypt ||
          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, int{kTagSize}, tag) == 1) &&
         (ad.empty() ||
          EVP_CipherUpdate(ctx.get(), nullptr, &m, ad.data(), static_cast<int>(ad.size())) == 1) &&
         (len == 0 || EVP_CipherUpdate(ctx.get(), out, &m, in, static_cast<int>(len)) == 1) &&
         EVP_CipherFinal_ex(ctx.get(), none, &m) == 1 &&
         (!encrypt ||
          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, int{kTagSize}, tag) == 1);
}

}  // namespace

NoiseIK::NoiseIK(NoiseIK&& other) noexcept { *this = std::move(other); }

NoiseIK& NoiseIK::operator=(NoiseIK&& other) noexcept {
  if (this != &other) {
    ck_ = other.ck_;
    h_ = other.h_;
    k_ = other.k_;
    n_ = other.n_;
    has_key_ = other.has_key_;
    stage_ = other.stage_;
    s_ = other.s_;
    s_pub_ = other.s_pub_;
    e_ = other.e_;
    rs_ = other.rs_;
    re_ = other.re_;
    other.clear();
  }
  return *this;
}

void NoiseIK::clear() {
  OPENSSL_cleanse(ck_.data(), ck_.size());
  OPENSSL_cleanse(h_.data(), h_.size());
  OPENSSL_cleanse(k_.data(), k_.size());
  OPENSSL_cleanse(s_.data(), s_.size());
  OPENSSL_cleanse(e_.data(), e_.size());
  s_pub_ = {};
  rs_ = {};
  re_ = {};
  n_ = 0;
  has_key_ = false;
  stage_ = Stage::idle;
}

bool NoiseIK::fail() {
  clear();
  return false;
}

// A read that failed may have decrypted part of the payload already.
bool NoiseIK::fail_read(std::span<uint8_t> payload) {
  if (!payload.empty()) OPENSSL_cleanse(payload.data(), payload.size());
  return fail();
}

// The handshake is over: what is left is ck (for split) and h. The private
// keys and the handshake cipher key are no longer needed.
void NoiseIK::finish() {
  OPENSSL_cleanse(k_.data(), k_.size());
  OPENSSL_cleanse(s_.data(), s_.size());
  OPENSSL_cleanse(e_.data(), e_.size());
  has_key_ = false;
  stage_ = Stage::done;
}

// Initialize(protocol_name), MixHash(prologue): the start both roles share.
bool NoiseIK::init(const PrivateKey& s, std::span<const uint8_t> prologue) {
  clear();
  std::memcpy(h_.data(), kProtocolName.data(), kProtocolName.size());
  ck_ = h_;
  s_ = s;
  return (x25519_public(s_, s_pub_) && mix_hash(prologue)) || fail();
}

void NoiseIK::init_initiator(const PrivateKey& s, const PublicKey& responder_static,
                             std::span<const uint8_t> prologue) {
  if (!init(s, prologue)) return;
  rs_ = responder_static;
  // Pre-message "<- s": the responder's static key, known to both.
  if (mix_hash(rs_)) {
    stage_ = Stage::initiator_start;
  } else {
    fail();
  }
}

void NoiseIK::init_responder(const PrivateKey& s, std::span<const uint8_t> prologue) {
  if (!init(s, prologue)) return;
  if (mix_hash(s_pub_)) {
    stage_ = Stage::responder_start;
  } else {
    fail();
  }
}

bool NoiseIK::mix_hash(std::span<const uint8_t> data) {
  Owned<EVP_MD_CTX> md(EVP_MD_CTX_new());
  unsigned n = 0;
  return md && EVP_DigestInit_ex(md.get(), sha256_algorithm(), nullptr) == 1 &&
         EVP_DigestUpdate(md.get(), h_.data(), h_.size()) == 1 &&
         (data.empty() || EVP_DigestUpdate(md.get(), data.data(), data.size()) == 1) &&
         EVP_DigestFinal_ex(md.get(), h_.data(), &n) == 1 && n == h_.size();
}

bool NoiseIK::mix_key(const Bytes32& ikm) {
  uint8_t out[64];
  if (!hkdf2(ck_, ikm, out)) return false;
  std::memcpy(ck_.data(), out, 32);
  std::memcpy(k_.data(), out + 32, 32);
  OPENSSL_cleanse(out, sizeof out);
  n_ = 0;
  has_key_ = true;
  return true;
}

bool NoiseIK::mix_dh(const PrivateKey& priv, const PublicKey& pub) {
  std::array<uint8_t, kDhSize> shared{};
  const bool ok = x25519(priv, pub, shared) && mix_key(shared);
  OPENSSL_cleanse(shared.data(), shared.size());
  return ok;
}

// Writes plain.size() + kTagSize bytes at `out` (with a key; before MixKey,
// Noise sends the plaintext, which IK never does).
bool NoiseIK::encrypt_and_hash(std::span<const uint8_t> plain, uint8_t* out) {
  size_t len = plain.size();
  if (has_key_) {
    if (!aesgcm(true, k_, n_, h_, plain.data(), plain.size(), out, out + plain.size()))
      return false;
    ++n_;
    len += kTagSize;
  } else if (!plain.empty()) {
    std::memcpy(out, plain.data(), plain.size());
  }
  return mix_hash(std::span<const uint8_t>(out, len));
}

// `in` is the ciphertext and its tag; writes in.size() - kTagSize bytes at `plain`.
bool NoiseIK::decrypt_and_hash(std::span<const uint8_t> in, uint8_t* plain) {
  if (!has_key_) {
    if (!in.empty()) std::memcpy(plain, in.data(), in.size());
    return mix_hash(in);
  }
  if (in.size() < kTagSize) return false;
  const size_t len = in.size() - kTagSize;
  // OpenSSL copies the expected tag; its parameter is only not const.
  if (!aesgcm(false, k_, n_, h_, in.data(), len, plain, const_cast<uint8_t*>(in.data() + len)))
    return false;
  ++n_;
  return mix_hash(in);
}

bool NoiseIK::new_ephemeral(const PrivateKey* given, PublicKey& pub) {
  if (given != nullptr) {
    e_ = *given;
  } else if (RAND_priv_bytes(e_.data(), static_cast<int>(e_.size())) != 1) {
    return false;
  }
  // "e": the public half goes out and into h.
  return x25519_public(e_, pub) && mix_hash(pub);
}

// -> e, es, s, ss
bool NoiseIK::write_msg1(std::span<const uint8_t> ad, std::span<const uint8_t> payload,
                         std::span<uint8_t> out, const PrivateKey* ephemeral) {
  if (stage_ != Stage::initiator_start || out.size() != kMsg1Size + payload.size()) return fail();
  PublicKey e_pub{};
  const bool ok = (ad.empty() || mix_hash(ad)) && new_ephemeral(ephemeral, e_pub) &&
                  mix_dh(e_, rs_) &&                                // es
                  encrypt_and_hash(s_pub_, out.data() + 32) &&      // s
                  mix_dh(s_, rs_) &&                                // ss
                  encrypt_and_hash(payload, out.data() + 32 + 48);  // payload
  if (!ok) return fail();
  std::memcpy(out.data(), e_pub.data(), e_pub.size());
  stage_ = Stage::initiator_sent;
  return true;
}

bool NoiseIK::read_msg1(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                        PublicKey& initiator_static, std::span<uint8_t> payload) {
  if (stage_ != Stage::responder_start || in.size() < kMsg1Size ||
      payload.size() != in.size() - kMsg1Size) {
    return fail();
  }
  std::memcpy(re_.data(), in.data(), re_.size());
  const bool ok = (ad.empty() || mix_hash(ad)) && mix_hash(re_) &&        // e
                  mix_dh(s_, re_) &&                                      // es
                  decrypt_and_hash(in.subspan(32, 48), rs_.data()) &&     // s
                  mix_dh(s_, rs_) &&                                      // ss
                  decrypt_and_hash(in.subspan(32 + 48), payload.data());  // payload
  if (!ok) return fail_read(payload);
  initiator_static = rs_;
  stage_ = Stage::responder_received;
  return true;
}

// <- e, ee, se
bool NoiseIK::write_msg2(std::span<const uint8_t> ad, std::span<const uint8_t> payload,
                         std::span<uint8_t> out, const PrivateKey* ephemeral) {
  if (stage_ != Stage::responder_received || out.size() != kMsg2Size + payload.size())
    return fail();
  PublicKey e_pub{};
  const bool ok = (ad.empty() || mix_hash(ad)) && new_ephemeral(ephemeral, e_pub) &&
                  mix_dh(e_, re_) &&  // ee
                  mix_dh(e_, rs_) &&  // se: the initiator's static, our ephemeral
                  encrypt_and_hash(payload, out.data() + 32);
  if (!ok) return fail();
  std::memcpy(out.data(), e_pub.data(), e_pub.size());
  finish();
  return true;
}

bool NoiseIK::read_msg2(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                        std::span<uint8_t> payload) {
  if (stage_ != Stage::initiator_sent || in.size() < kMsg2Size ||
      payload.size() != in.size() - kMsg2Size) {
    return fail();
  }
  std::memcpy(re_.data(), in.data(), re_.size());
  const bool ok = (ad.empty() || mix_hash(ad)) && mix_hash(re_) &&  // e
                  mix_dh(e_, re_) &&                                // ee
                  mix_dh(s_, re_) &&                                // se
                  decrypt_and_hash(in.subspan(32), payload.data());
  if (!ok) return fail_read(payload);
  finish();
  return true;
}

bool NoiseIK::write_msg1(std::span<const uint8_t> ad, std::span<uint8_t, kMsg1Size> out,
                         const PrivateKey* ephemeral) {
  return write_msg1(ad, {}, std::span<uint8_t>(out), ephemeral);
}

bool NoiseIK::read_msg1(std::span<const uint8_t> ad, std::span<const uint8_t, kMsg1Size> in,
                        PublicKey& initiator_static) {
  return read_msg1(ad, std::span<const uint8_t>(in), initiator_static, {});
}

bool NoiseIK::write_msg2(std::span<const uint8_t> ad, std::span<uint8_t, kMsg2Size> out,
                         const PrivateKey* ephemeral) {
  return write_msg2(ad, {}, std::span<uint8_t>(out), ephemeral);
}

bool NoiseIK::read_msg2(std::span<const uint8_t> ad, std::span<const uint8_t, kMsg2Size> in) {
  return read_msg2(ad, std::span<const uint8_t>(in), {});
}

// Split(): HKDF(ck, zero-length input, 2); the first secret is the initiator's
// sending direction.
void NoiseIK::split(Secret& i2r, Secret& r2i) const {
  uint8_t out[64];
  if (stage_ != Stage::done || !hkdf2(ck_, {}, out)) {
    i2r = {};
    r2i = {};
    return;
  }
  std::memcpy(i2r.data(), out, 32);
  std::memcpy(r2i.data(), out + 32, 32);
  OPENSSL_cleanse(out, sizeof out);
}

}  // namespace srdx::crypto
