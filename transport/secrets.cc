#include "secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstring>
#include <stdexcept>

namespace srdx {
namespace {

void put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Labels keep the two uses of the key apart.
constexpr uint8_t kLabelCid = 'C';
constexpr uint8_t kLabelCookie = 'K';
constexpr uint8_t kLabelStatic = 'S';
constexpr uint8_t kLabelEphemeral = 'E';

}  // namespace

Secrets::Secrets(const std::array<uint8_t, 32>& secret, uint64_t seed) : key_(secret) {
  bool zero = true;
  for (uint8_t b : secret) zero = zero && b == 0;
  if (zero) {
    uint8_t in[8 + 12];
    put64(in, seed);
    std::memcpy(in + 8, "srdx-secret", 12);
    SHA256(in, sizeof in, key_.data());
  }
}

void Secrets::mac(const uint8_t* msg, size_t len, uint8_t out[32]) const {
  unsigned int n = 32;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), msg, len, out, &n) ||
      n != 32) {
    // Only a broken OpenSSL installation gets here: nothing can be keyed.
    throw std::runtime_error("srdx: HMAC-SHA-256 failed (OpenSSL)");
  }
}

std::array<uint8_t, 32> Secrets::derived_static_key() const {
  const uint8_t label = kLabelStatic;
  std::array<uint8_t, 32> k{};
  mac(&label, 1, k.data());
  return k;
}

std::array<uint8_t, 32> Secrets::derived_key(uint64_t n) const {
  uint8_t in[9];
  in[0] = kLabelEphemeral;
  put64(in + 1, n);
  std::array<uint8_t, 32> k{};
  mac(in, sizeof in, k.data());
  return k;
}

uint64_t Secrets::next_cid() {
  while (true) {
    uint8_t in[9], out[32];
    in[0] = kLabelCid;
    put64(in + 1, counter_++);
    mac(in, sizeof in, out);
    const uint64_t cid = get64(out);
    if (cid != 0) return cid;
  }
}

void Secrets::cookie(uint64_t period, Addr from, uint64_t cid,
                     uint8_t out[wire::kCookieSize]) const {
  uint8_t in[1 + 8 + 4 + 2 + 8], h[32];
  in[0] = kLabelCookie;
  put64(in + 1, period);
  in[9] = static_cast<uint8_t>(from.ip >> 24);
  in[10] = static_cast<uint8_t>(from.ip >> 16);
  in[11] = static_cast<uint8_t>(from.ip >> 8);
  in[12] = static_cast<uint8_t>(from.ip);
  in[13] = static_cast<uint8_t>(from.port >> 8);
  in[14] = static_cast<uint8_t>(from.port);
  put64(in + 15, cid);
  mac(in, sizeof in, h);
  std::memcpy(out, h, wire::kCookieSize);
}

bool Secrets::check_cookie(uint64_t period, Addr from, uint64_t cid,
                           const uint8_t c[wire::kCookieSize]) const {
  uint8_t want[wire::kCookieSize];
  for (uint64_t p : {period, period - 1}) {
    if (p > period) break;  // period 0 has no predecessor
    cookie(p, from, cid, want);
    if (CRYPTO_memcmp(want, c, wire::kCookieSize) == 0) return true;
  }
  return false;
}

}  // namespace srdx
