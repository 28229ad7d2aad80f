// The srdx handshake: Noise_IK_25519_AESGCM_SHA256 (the Noise Protocol
// Framework, revision 34, http://noiseprotocol.org/noise.html), as WireGuard
// uses Noise_IKpsk2. The initiator knows the responder's static public key
// beforehand (srdx: EndpointConfig's peer keys), so one round trip both
// authenticates the two static keys and agrees on the session secrets:
//
//   IK:  <- s
//        ...
//        -> e, es, s, ss      msg1: e (32) | encrypted s (32+16) | payload (16+)
//        <- e, ee, se         msg2: e (32) | payload (16+)
//
// The Noise state machine (MixHash, MixKey, EncryptAndHash, Split) is written
// here; its primitives are OpenSSL 3's: X25519 (EVP_PKEY_derive), SHA-256,
// HKDF (EVP_KDF) and AES-256-GCM. A DH result of all zeros (the peer sent a
// low-order point) fails the handshake.
//
// One srdx addition: before each message's tokens, a non-empty `ad` (the
// packet's clear header, binding connection ids and parameters into the keys)
// is MixHash'ed. An empty `ad` skips that MixHash entirely, so that with
// empty `ad`s this is exactly standard Noise IK with the given prologue,
// checkable against the published Noise test vectors.
//
// sans-I/O: messages are bytes in and out; the ephemeral keys come from
// OpenSSL's RAND_priv_bytes unless the caller supplies them (test vectors).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "seal.h"
#include "srdx/keys.h"

namespace srdx::crypto {

class NoiseIK {
 public:
  static constexpr size_t kMsg1Size =
      96;  // e (32) | encrypted s (32+16) | encrypted empty payload (16)
  static constexpr size_t kMsg2Size = 48;  // e (32) | encrypted empty payload (16)

  NoiseIK() = default;
  ~NoiseIK() { clear(); }
  // A move takes the secrets and wipes them from the source.
  NoiseIK(NoiseIK&& other) noexcept;
  NoiseIK& operator=(NoiseIK&& other) noexcept;
  NoiseIK(const NoiseIK&) = delete;
  NoiseIK& operator=(const NoiseIK&) = delete;

  // Starts a handshake (forgetting any earlier one). `prologue` is mixed into
  // the handshake hash first (srdx passes "srdx v3"): both sides must use the
  // same. If OpenSSL cannot compute the static public key, the object stays
  // unusable (every call below returns false).
  void init_initiator(const PrivateKey& s, const PublicKey& responder_static,
                      std::span<const uint8_t> prologue);
  void init_responder(const PrivateKey& s, std::span<const uint8_t> prologue);

  // Each message call below returns false on any failure: a bad tag, a
  // low-order point, a call out of order (initiator: write_msg1, read_msg2;
  // responder: read_msg1, write_msg2), or OpenSSL failing. It then wipes the
  // state, and the object stays unusable until the next init_*.
  //
  // `ad`: see the top of this file. `ephemeral` non-null: use that ephemeral
  // private key (test vectors); null: a fresh one from RAND_priv_bytes.
  [[nodiscard]] bool write_msg1(std::span<const uint8_t> ad, std::span<uint8_t, kMsg1Size> out,
                                const PrivateKey* ephemeral = nullptr);
  // On success `initiator_static` is the initiator's static public key, now
  // proven: the caller decides whether it knows that key before write_msg2.
  [[nodiscard]] bool read_msg1(std::span<const uint8_t> ad, std::span<const uint8_t, kMsg1Size> in,
                               PublicKey& initiator_static);
  [[nodiscard]] bool write_msg2(std::span<const uint8_t> ad, std::span<uint8_t, kMsg2Size> out,
                                const PrivateKey* ephemeral = nullptr);
  [[nodiscard]] bool read_msg2(std::span<const uint8_t> ad, std::span<const uint8_t, kMsg2Size> in);

  // The same messages with a Noise payload, encrypted after the tokens:
  // `out` and `in` are kMsgNSize + payload.size() bytes. srdx's handshake
  // sends none; the published Noise test vectors do. `payload` and the
  // message must not overlap.
  [[nodiscard]] bool write_msg1(std::span<const uint8_t> ad, std::span<const uint8_t> payload,
                                std::span<uint8_t> out, const PrivateKey* ephemeral = nullptr);
  [[nodiscard]] bool read_msg1(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                               PublicKey& initiator_static, std::span<uint8_t> payload);
  [[nodiscard]] bool write_msg2(std::span<const uint8_t> ad, std::span<const uint8_t> payload,
                                std::span<uint8_t> out, const PrivateKey* ephemeral = nullptr);
  [[nodiscard]] bool read_msg2(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                               std::span<uint8_t> payload);

  // Whether msg2 has been written (responder) or read (initiator).
  bool done() const { return stage_ == Stage::done; }

  // After msg2 on both sides: the (initiator->responder, responder->initiator)
  // secrets (Noise Split(); each seeds a PacketKey). Before that, or if
  // OpenSSL fails: both all zero.
  void split(Secret& i2r, Secret& r2i) const;
  // h: after the handshake, the same on both sides, and unique to it (the
  // Noise handshake hash, for channel binding).
  const std::array<uint8_t, 32>& handshake_hash() const { return h_; }

  // Wipes every secret (OPENSSL_cleanse); also done by the destructor.
  void clear();

 private:
  enum class Stage : uint8_t {
    idle,                // not initialised, failed, or cleared
    initiator_start,     // next: write_msg1
    initiator_sent,      // next: read_msg2
    responder_start,     // next: read_msg1
    responder_received,  // next: write_msg2
    done,
  };
  using Bytes32 = std::array<uint8_t, 32>;

  bool init(const PrivateKey& s, std::span<const uint8_t> prologue);
  bool fail();  // clear(), false
  bool fail_read(std::span<uint8_t> payload);
  void finish();
  bool new_ephemeral(const PrivateKey* given, PublicKey& pub);
  bool mix_hash(std::span<const uint8_t> data);
  bool mix_key(const Bytes32& ikm);
  bool mix_dh(const PrivateKey& priv, const PublicKey& pub);
  bool encrypt_and_hash(std::span<const uint8_t> plain, uint8_t* out);
  bool decrypt_and_hash(std::span<const uint8_t> in, uint8_t* plain);

  // Noise's SymmetricState: chaining key, handshake hash, cipher key and nonce.
  Bytes32 ck_{};
  Bytes32 h_{};
  Bytes32 k_{};
  uint64_t n_ = 0;
  bool has_key_ = false;
  Stage stage_ = Stage::idle;
  // Noise's HandshakeState: own static and ephemeral keys, the peer's.
  PrivateKey s_{};
  PublicKey s_pub_{};
  PrivateKey e_{};
  PublicKey rs_{};
  PublicKey re_{};
};

}  // namespace srdx::crypto
