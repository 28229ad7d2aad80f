#include "seal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace srdx::crypto {
namespace {

constexpr std::string_view kLabelKey = "srdx key";
constexpr std::string_view kLabelIv = "srdx iv";
constexpr std::string_view kLabelKeyUpdate = "srdx ku";

struct KdfFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

}  // namespace

bool cpu_has_aes() {
#if defined(__x86_64__) || defined(__i386__)
  // OpenSSL 3.0 keeps its own view (OPENSSL_ia32cap_P) out of its exported
  // symbols, so ask the CPU: leaf 1, ECX bit 25 is AES-NI, bit 1 PCLMULQDQ.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_AES) != 0 && (ecx & bit_PCLMUL) != 0;
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long caps = getauxval(AT_HWCAP);
  return (caps & HWCAP_AES) != 0 && (caps & HWCAP_PMULL) != 0;
#else
  return false;
#endif
}

EVP_KDF* hkdf_algorithm() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  return kdf;
}

EVP_MD* sha256_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

EVP_CIPHER* cipher_algorithm(Cipher c) {
  static EVP_CIPHER* const aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return c == Cipher::aes256gcm ? aes : chacha;
}

void hkdf_expand(const Secret& secret, std::string_view label, std::span<uint8_t> out) {
  EVP_KDF* kdf = hkdf_algorithm();
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx(kdf ? EVP_KDF_CTX_new(kdf) : nullptr);
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      // In expand-only mode the key is the pseudorandom key (PRK).
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(label.data()),
                                        label.size()),
      OSSL_PARAM_construct_end(),
  };
  if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
    throw std::runtime_error("srdx: HKDF-Expand (SHA-256) failed (OpenSSL)");
}

// ---------------------------------------------------------------------------
// PacketKey
// ---------------------------------------------------------------------------

PacketKey::~PacketKey() { clear(); }

PacketKey::PacketKey(PacketKey&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)),
      secret_(other.secret_),
      iv_(other.iv_),
      cipher_(other.cipher_) {
  other.clear();
}

PacketKey& PacketKey::operator=(PacketKey&& other) noexcept {
  if (this != &other) {
    clear();
    ctx_ = std::exchange(other.ctx_, nullptr);
    secret_ = other.secret_;
    iv_ = other.iv_;
    cipher_ = other.cipher_;
    other.clear();
  }
  return *this;
}

void PacketKey::clear() {
  EVP_CIPHER_CTX_free(ctx_);  // wipes the key schedule
  ctx_ = nullptr;
  OPENSSL_cleanse(secret_.data(), secret_.size());
  OPENSSL_cleanse(iv_.data(), iv_.size());
}

void PacketKey::set(Cipher c, const Secret& secret) {
  clear();
  cipher_ = c;
  secret_ = secret;
  std::array<uint8_t, 32> key{};
  hkdf_expand(secret, kLabelKey, key);
  hkdf_expand(secret, kLabelIv, iv_);

  EVP_CIPHER* cipher = cipher_algorithm(c);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  // Both ciphers' nonces are 12 bytes by default. The direction is chosen per
  // packet (start), so one context serves both seal and open.
  const bool ok = cipher != nullptr && ctx != nullptr &&
                  EVP_CIPHER_get_iv_length(cipher) == static_cast<int>(kIvSize) &&
                  EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), nullptr, 1) == 1;
  OPENSSL_cleanse(key.data(), key.size());
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    clear();
    return;
  }
  ctx_ = ctx;
}

Secret PacketKey::next_secret() const {
  Secret next{};
  hkdf_expand(secret_, kLabelKeyUpdate, next);
  return next;
}

// Sets the nonce of `counter` and the direction; the key stays as set() left it.
bool PacketKey::start(uint64_t counter, int encrypt) {
  if (ctx_ == nullptr) return false;
  uint8_t nonce[kIvSize];
  std::memcpy(nonce, iv_.data(), kIvSize);
  for (int i = 0; i < 8; ++i) nonce[kIvSize - 1 - i] ^= static_cast<uint8_t>(counter >> (8 * i));
  return EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce, encrypt) == 1;
}

bool PacketKey::seal(uint64_t counter, std::span<const uint8_t> ad, std::span<uint8_t> text,
                     uint8_t* tag) {
  if (ad.size() > INT_MAX || text.size() > INT_MAX || !start(counter, 1)) return false;
  int n = 0;
  if (!ad.empty() &&
      EVP_CipherUpdate(ctx_, nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1) {
    return false;
  }
  if (!text.empty() &&
      EVP_CipherUpdate(ctx_, text.data(), &n, text.data(), static_cast<int>(text.size())) != 1) {
    return false;
  }
  // AEAD modes write nothing at Final; the pointer only has to be valid.
  uint8_t none[16];
  // The tag through the provider's parameters directly: EVP_CIPHER_CTX_ctrl
  // builds the same parameter list each call and asks for more than the tag.
  OSSL_PARAM get[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagSize),
                      OSSL_PARAM_construct_end()};
  return EVP_CipherFinal_ex(ctx_, none, &n) == 1 && EVP_CIPHER_CTX_get_params(ctx_, get) == 1;
}

bool PacketKey::open(uint64_t counter, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                     std::span<uint8_t> out, const uint8_t* tag) {
  int n = 0;
  uint8_t none[16];
  // OpenSSL copies the expected tag; its parameter is only not const.
  OSSL_PARAM set[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                        const_cast<uint8_t*>(tag), kTagSize),
                      OSSL_PARAM_construct_end()};
  const bool ok = in.size() == out.size() && ad.size() <= INT_MAX && in.size() <= INT_MAX &&
                  start(counter, 0) && EVP_CIPHER_CTX_set_params(ctx_, set) == 1 &&
                  (ad.empty() || EVP_CipherUpdate(ctx_, nullptr, &n, ad.data(),
                                                  static_cast<int>(ad.size())) == 1) &&
                  (in.empty() || EVP_CipherUpdate(ctx_, out.data(), &n, in.data(),
                                                  static_cast<int>(in.size())) == 1) &&
                  EVP_CipherFinal_ex(ctx_, none, &n) == 1;
  if (!ok && !out.empty()) OPENSSL_cleanse(out.data(), out.size());
  return ok;
}

// ---------------------------------------------------------------------------
// ReplayWindow
// ---------------------------------------------------------------------------

void ReplayWindow::accept(uint64_t counter) {
  if (counter > highest_) {
    // Clear the words the window slides onto: they last held counters a
    // whole ring ago.
    const uint64_t from = highest_ >> 6, to = counter >> 6;
    if (to - from >= kWords) {
      bits_.fill(0);
    } else {
      for (uint64_t w = from + 1; w <= to; ++w) bits_[w % kWords] = 0;
    }
    highest_ = counter;
  }
  bits_[word_of(counter)] |= bit_of(counter);
}

}  // namespace srdx::crypto
