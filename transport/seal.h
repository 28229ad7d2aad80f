// Per-packet authenticated encryption (AEAD) and its anti-replay window: the
// record layer of srdx's encryption. The keys come from the handshake
// (noise.h: NoiseIK::split), one secret per direction; each PacketKey turns
// its secret into an AEAD key and a base IV, as TLS 1.3 and QUIC do, and
// numbers its nonces by the packet counter.
//
// Every primitive is OpenSSL 3's (EVP): AES-256-GCM, ChaCha20-Poly1305 and
// HKDF-SHA-256. None of the cryptography is srdx's own.
//
// The per-packet calls (seal, open, fresh, accept) allocate nothing: the
// cipher context is prepared once per key, and each packet only sets its
// nonce and runs the cipher.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "srdx/config.h"

// OpenSSL's types, without its headers here.
struct evp_cipher_ctx_st;
struct evp_cipher_st;
struct evp_kdf_st;
struct evp_md_st;

namespace srdx::crypto {

enum class Cipher : uint8_t { aes256gcm, chacha20poly1305 };

// Whether this CPU has AES instructions (and the carry-less multiply GCM
// needs): x86-64 AES-NI and PCLMULQDQ, arm64 AES and PMULL. Without them
// ChaCha20-Poly1305 is the faster cipher, and the one with no table lookups
// indexed by secrets.
bool cpu_has_aes();

// OpenSSL's implementations of HKDF, SHA-256 and each cipher, fetched once
// per process and kept: fetching one is a search of OpenSSL's providers by
// name, which costs more than a handshake's HKDF calls (OpenSSL's
// crypto(7), "Performance"). nullptr if OpenSSL has none (broken install).
evp_kdf_st* hkdf_algorithm();
evp_md_st* sha256_algorithm();
evp_cipher_st* cipher_algorithm(Cipher c);

inline constexpr size_t kTagSize = 16;
inline constexpr size_t kIvSize = 12;
inline constexpr size_t kSecretSize = 32;
using Secret = std::array<uint8_t, kSecretSize>;

// HKDF-Expand (RFC 5869, SHA-256) of `secret` with info = `label`, filling
// `out` (at most 255 * 32 bytes). Throws std::runtime_error only if OpenSSL
// fails (a broken installation): keys cannot be made without it.
void hkdf_expand(const Secret& secret, std::string_view label, std::span<uint8_t> out);

// One direction's packet key. set() derives
//   key = HKDF-Expand(secret, "srdx key", 32)
//   iv  = HKDF-Expand(secret, "srdx iv", 12)
// and prepares the cipher context once; seal() and open() then only set the
// nonce
//   nonce = iv XOR (4 zero bytes || counter as u64 big endian)
// (TLS 1.3 and QUIC's construction), so each counter must be sealed at most
// once per key: the sender numbers its packets, the receiver's ReplayWindow
// refuses a counter seen before. Key updates (next_secret) bound how much one
// key seals (AES-GCM: TLS 1.3 allows 2^24.5 full-size records per key).
class PacketKey {
 public:
  PacketKey() = default;
  ~PacketKey();
  PacketKey(PacketKey&& other) noexcept;
  PacketKey& operator=(PacketKey&& other) noexcept;
  PacketKey(const PacketKey&) = delete;
  PacketKey& operator=(const PacketKey&) = delete;

  // Replaces any previous key. Allocates (the OpenSSL context); if OpenSSL
  // fails, the key is left invalid.
  void set(Cipher c, const Secret& secret);
  bool valid() const { return ctx_ != nullptr; }
  Cipher cipher() const { return cipher_; }

  // The secret of the next key phase (key update):
  // HKDF-Expand(secret, "srdx ku", 32). Both sides compute the same chain.
  Secret next_secret() const;

  // Encrypts `text` in place and writes the kTagSize-byte tag; `ad` is
  // authenticated but not encrypted. false only if OpenSSL fails (or the key
  // is not valid).
  [[nodiscard]] bool seal(uint64_t counter, std::span<const uint8_t> ad, std::span<uint8_t> text,
                          uint8_t* tag);
  // Decrypts `in` into `out` (the same size; they may be the same memory, but
  // must not otherwise overlap) and checks `tag`. false: authentication
  // failed (or the sizes differ, or the key is not valid); `out` is then
  // zeroed and must not be used.
  [[nodiscard]] bool open(uint64_t counter, std::span<const uint8_t> ad,
                          std::span<const uint8_t> in, std::span<uint8_t> out, const uint8_t* tag);

  // Wipes the secret and frees the context (also done by the destructor).
  void clear();

 private:
  bool start(uint64_t counter, int encrypt);

  evp_cipher_ctx_st* ctx_ = nullptr;
  Secret secret_{};
  std::array<uint8_t, kIvSize> iv_{};
  Cipher cipher_ = Cipher::aes256gcm;
};

// Anti-replay: accepts each counter at most once, and none more than
// tuning::kReplayWindow below the highest accepted (the window allows
// reordering over many paths). A ring of 64-bit words with one word more than
// the window needs, so that sliding forward clears whole words (RFC 6479):
// no allocation, O(1) per packet unless the counter jumps ahead by many words
// (then at most the whole ring, 129 words, is cleared once).
class ReplayWindow {
 public:
  // Whether accept(counter) would take it: not seen, not too old.
  bool fresh(uint64_t counter) const {
    if (counter > highest_) return true;
    if (highest_ - counter >= tuning::kReplayWindow) return false;
    return (bits_[word_of(counter)] & bit_of(counter)) == 0;
  }
  // Records `counter`. Call only after the packet authenticated (and only for
  // a counter fresh() took): a forged packet must not move the window.
  void accept(uint64_t counter);
  // The highest accepted counter (0 before any).
  uint64_t highest() const { return highest_; }

 private:
  static constexpr size_t kWords = tuning::kReplayWindow / 64 + 1;
  static size_t word_of(uint64_t c) { return static_cast<size_t>((c >> 6) % kWords); }
  static uint64_t bit_of(uint64_t c) { return uint64_t{1} << (c & 63); }

  uint64_t highest_ = 0;
  std::array<uint64_t, kWords> bits_{};
};

static_assert(tuning::kReplayWindow % 64 == 0, "the replay ring is made of whole words");

}  // namespace srdx::crypto
