// Internal: the individual CRC32C implementations behind wire::crc32c(), so
// tests can check the hardware paths against the portable one.
#pragma once

#include <cstdint>
#include <span>

namespace srdx::wire::crc32c_impl {

// Slicing-by-8 with compile-time tables; runs everywhere.
uint32_t portable(std::span<const uint8_t> bytes, uint32_t crc);
// The CPU's CRC32C instructions (x86-64 SSE4.2 or ARMv8 CRC32), one chain of
// them; only valid when hardware_available().
uint32_t hardware_serial(std::span<const uint8_t> bytes, uint32_t crc);
bool hardware_available();
// The fastest hardware path: three chains interleaved over stripes of the
// input and joined with carry-less multiplication (x86-64 PCLMULQDQ, ARMv8
// PMULL). Only valid when interleaved_available().
uint32_t hardware(std::span<const uint8_t> bytes, uint32_t crc);
bool interleaved_available();

}  // namespace srdx::wire::crc32c_impl
