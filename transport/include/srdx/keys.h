// Static X25519 keys: each endpoint (each appliance) has one key pair and
// knows its peers' public keys, as WireGuard does. The handshake
// (docs/protocol.md, section 13) proves both sides hold their private keys.
// Every function here uses OpenSSL 3; none of the cryptography is srdx's own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace srdx {

inline constexpr size_t kKeySize = 32;
using PrivateKey = std::array<uint8_t, kKeySize>;
using PublicKey = std::array<uint8_t, kKeySize>;

// A fresh private key from the OS's generator (OpenSSL's RAND_priv_bytes).
// Throws std::runtime_error if none can be had.
PrivateKey generate_private_key();

// The public key of `priv` (X25519 base point multiplication).
PublicKey public_key_of(const PrivateKey& priv);

// Whether every byte is zero: "no key".
bool is_zero(const std::array<uint8_t, kKeySize>& key);

// Standard base64 with padding, 44 characters for a key (the form `wg`
// prints, so keys can be pasted between the two).
std::string key_to_base64(const std::array<uint8_t, kKeySize>& key);
// The key in `text` (surrounding whitespace ignored), or nullopt if it is not
// exactly 32 bytes of standard base64.
std::optional<std::array<uint8_t, kKeySize>> key_from_base64(std::string_view text);

}  // namespace srdx
