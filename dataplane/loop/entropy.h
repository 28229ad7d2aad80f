// Randomness from the OS for what the engine must not make guessable
// (EndpointConfig::secret keys its connection ids and cookies) and for seeds.
// The engine itself takes randomness as an input, like time.
#pragma once

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace srdx::dp {

// Fills `out` from getrandom(2); throws if the OS cannot provide it.
inline void random_bytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    const ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
}

inline std::array<uint8_t, 32> random_secret() {
  std::array<uint8_t, 32> s;
  random_bytes(s.data(), s.size());
  return s;
}

inline uint64_t random_u64() {
  uint64_t v;
  random_bytes(&v, sizeof v);
  return v;
}

}  // namespace srdx::dp
