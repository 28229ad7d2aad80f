// Internal: the individual CRC32C implementations behind wire::crc32c(), so
// tests can check the hardware paths against the portable one.
#pragma once

#include <cstdint>
#include <span>

namespace srdx::wire::crc32c_impl {

// Slicing-by-8 with compile-time tables; runs everywhere.
uint32_t portable(std::span<const uint8_t> bytes, uint32_t crc);
// The CPU's CRC32C instructions (x86-64 SSE4.2 or ARMv8 CRC32); only valid
// when hardware_available().
uint32_t hardware(std::span<const uint8_t> bytes, uint32_t crc);
bool hardware_available();

}  // namespace srdx::wire::crc32c_impl
