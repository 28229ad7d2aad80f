// Parsers for the quantities the command lines and config files of srdx-sim,
// srdx-perf and srdxd take. Each returns an empty string on success, otherwise
// what was wrong and what is accepted (the caller prefixes the option name).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/link.h"       // srdx/time.h
#include "srdx/endpoint.h"  // Addr

namespace srdx::sim {

// Bits per second: "10G", "200M", "1.5Gbit", "800kbps", "0" (unlimited).
// k/M/G/T are powers of 1000.
std::string parse_rate(std::string_view text, uint64_t& bps);
// "10us", "1.5ms", "250ns", "2s", "0". A unit is required except for 0.
std::string parse_duration(std::string_view text, Duration& out);
// Bytes: "1500", "64KiB", "64K" (KiB), "1MiB", "2M" (MiB), "100kB" (1000s).
std::string parse_size(std::string_view text, uint64_t& bytes);
// A probability: "0.01" or "1%", within [0, 1].
std::string parse_probability(std::string_view text, double& p);
// A whole number in [min, max].
std::string parse_uint(std::string_view text, uint64_t min, uint64_t max, uint64_t& out);
// An IPv4 address "a.b.c.d", in host byte order.
std::string parse_ipv4(std::string_view text, uint32_t& ip);
// "IP:PORT", port 1..65535.
std::string parse_addr(std::string_view text, Addr& out);
std::string format_addr(Addr a);
// "aa:bb:cc:dd:ee:ff".
std::string parse_mac(std::string_view text, std::array<uint8_t, 6>& mac);
// Whitespace-separated words (EAL arguments in one option).
std::vector<std::string> split_words(std::string_view text);
// "PATH@START" or "PATH@START-END", e.g. "2@5ms-20ms".
std::string parse_blackhole(std::string_view text, uint32_t& path, Duration& start, Duration& end);
// The same with a direction and "all" paths: "[PATH|all][:a2b|:b2a]@START[-END]",
// e.g. "all:a2b@10ms-300ms" (every path, side A to side B only). `path` is
// kAllPaths for "all"; no direction means both.
std::string parse_blackhole(std::string_view text, uint32_t& path, Directions& dir, Duration& start,
                            Duration& end);
std::string_view to_string(Directions d);

// "10 Gbit/s", "250 us", "64 KiB": for tables.
std::string format_rate(double bps);
std::string format_duration(Duration d);
std::string format_size(uint64_t bytes);

}  // namespace srdx::sim
