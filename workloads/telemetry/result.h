// Errors of the telemetry workload: a code a caller branches on and one line
// for people and the log (which topic, which rule, which file, why).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace srdx::telemetry {

enum class Errc : uint8_t {
  ok = 0,
  invalid,    // bad input from a caller or a config file (a rule, a topic)
  malformed,  // bytes from the network or the disk that do not decode
  full,       // the spool is at its bound
  io,         // a system call failed
};

struct Error {
  Errc code = Errc::ok;
  std::string message;
};

struct [[nodiscard]] Status {
  Error error;
  bool ok() const { return error.code == Errc::ok; }
  static Status fail(Errc code, std::string message) { return {{code, std::move(message)}}; }
};

template <class T>
struct [[nodiscard]] Result {
  T value{};
  Error error;
  bool ok() const { return error.code == Errc::ok; }
  static Result fail(Errc code, std::string message) { return {T{}, {code, std::move(message)}}; }
};

}  // namespace srdx::telemetry
