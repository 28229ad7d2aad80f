// Errors of the telemetry workload: a code a caller branches on and one line
// for people and the log (which topic, which rule, which file, why);
// common/result.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/result.h"

namespace srdx::telemetry {

enum class Errc : uint8_t {
  ok = 0,
  invalid,    // bad input from a caller or a config file (a rule, a topic)
  malformed,  // bytes from the network or the disk that do not decode
  full,       // the spool is at its bound
  io,         // a system call failed
};

using Error = workloads::BasicError<Errc>;
using Status = workloads::BasicStatus<Errc>;
template <class T>
using Result = workloads::BasicResult<Errc, T>;

}  // namespace srdx::telemetry
