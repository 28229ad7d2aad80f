#include "srdx/keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>
#include <stdexcept>

namespace srdx {

PrivateKey generate_private_key() {
  PrivateKey k{};
  if (RAND_priv_bytes(k.data(), static_cast<int>(k.size())) != 1)
    throw std::runtime_error("srdx: no random bytes for a private key (OpenSSL RAND_priv_bytes)");
  return k;
}

PublicKey public_key_of(const PrivateKey& priv) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()),
      EVP_PKEY_free);
  PublicKey pub{};
  size_t n = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &n) != 1 || n != pub.size())
    throw std::runtime_error("srdx: X25519 public key derivation failed (OpenSSL)");
  return pub;
}

bool is_zero(const std::array<uint8_t, kKeySize>& key) {
  uint8_t acc = 0;
  for (uint8_t b : key) acc |= b;
  return acc == 0;
}

std::string key_to_base64(const std::array<uint8_t, kKeySize>& key) {
  unsigned char out[4 * ((kKeySize + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, key.data(), static_cast<int>(key.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

std::optional<std::array<uint8_t, kKeySize>> key_from_base64(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  // 32 bytes are 44 characters, the last one '=' (two pad bits of the 43rd
  // character must be zero for the encoding to be the canonical one).
  if (text.size() != 44 || text[43] != '=' || text[42] == '=') return std::nullopt;
  for (size_t i = 0; i < 43; ++i) {
    const char c = text[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return std::nullopt;
  }
  unsigned char out[33];
  if (EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(text.data()), 44) != 33)
    return std::nullopt;
  std::array<uint8_t, kKeySize> key{};
  std::copy(out, out + kKeySize, key.begin());
  if (key_to_base64(key) != text) return std::nullopt;  // non-canonical pad bits
  return key;
}

}  // namespace srdx
