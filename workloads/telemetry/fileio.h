// Small file helpers shared by the edge's spool and the centre's sequence
// log: little-endian framing and whole writes/reads that retry EINTR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "telemetry/result.h"

namespace srdx::telemetry::fileio {

// An Errc::io error: WHAT and strerror(errno).
Error sys(const std::string& what);

inline uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

bool write_all(int fd, const uint8_t* p, size_t n);
// pread of exactly n bytes at off; false on an error or a short file.
bool read_all(int fd, uint8_t* p, size_t n, uint64_t off);
// fsync of a directory (after a create, a rename or an unlink in it).
Status fsync_dir(const std::string& dir);

}  // namespace srdx::telemetry::fileio
