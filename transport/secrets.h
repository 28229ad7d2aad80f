// What an endpoint must not let others guess: its connection ids and the
// cookies that prove a hello's address. Both are keyed hashes (HMAC-SHA-256,
// from OpenSSL) of EndpointConfig::secret, so they are unpredictable to
// anyone who does not hold it, however many of them they have seen, and the
// endpoint keeps no state per cookie.
#pragma once

#include <array>
#include <cstdint>

#include "srdx/endpoint.h"
#include "wire.h"

namespace srdx {

class Secrets {
 public:
  // An all-zero `secret` is replaced by one derived from `seed` (tests and
  // simulations: reproducible, not secret).
  Secrets(const std::array<uint8_t, 32>& secret, uint64_t seed);

  // A fresh connection id: never 0, never the same twice in practice.
  uint64_t next_cid();

  // A private key derived from the secret (EndpointConfig::static_key all zero).
  std::array<uint8_t, 32> derived_static_key() const;
  // A key derived from the secret and `n` (the reproducible ephemeral keys of
  // tests and simulations).
  std::array<uint8_t, 32> derived_key(uint64_t n) const;

  // The cookie for a hello from `from` carrying connection id `cid`, made in
  // cookie period `period` (now / tuning::kCookiePeriod).
  void cookie(uint64_t period, Addr from, uint64_t cid, uint8_t out[wire::kCookieSize]) const;
  // Whether `c` is the cookie of this period or the one before.
  bool check_cookie(uint64_t period, Addr from, uint64_t cid,
                    const uint8_t c[wire::kCookieSize]) const;

 private:
  void mac(const uint8_t* msg, size_t len, uint8_t out[32]) const;
  std::array<uint8_t, 32> key_;
  uint64_t counter_ = 0;
};

}  // namespace srdx
