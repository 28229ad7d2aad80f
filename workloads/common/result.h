// The workloads' error values: a code a caller branches on and one line for
// people and the logs (which path, which topic, which system call, why).
// transport/'s Result<T> carries only an Errc; here the message matters.
// Each workload names its own codes and takes these with them:
//   namespace srdx::replicate { enum class Errc {...};
//     using Error = workloads::BasicError<Errc>; ... }
// A code's value 0 (Code{}) is "ok".
#pragma once

#include <string>
#include <utility>

namespace srdx::workloads {

template <class Code>
struct BasicError {
  Code code{};
  std::string message;
};

// "Empty means ok" made explicit: ok() or error.code/.message.
template <class Code>
struct [[nodiscard]] BasicStatus {
  BasicError<Code> error;
  bool ok() const { return error.code == Code{}; }
  static BasicStatus fail(Code code, std::string message) { return {{code, std::move(message)}}; }
};

template <class Code, class T>
struct [[nodiscard]] BasicResult {
  T value{};
  BasicError<Code> error;
  bool ok() const { return error.code == Code{}; }
  static BasicResult fail(Code code, std::string message) {
    return {T{}, {code, std::move(message)}};
  }
  static BasicResult fail(BasicError<Code> e) { return {T{}, std::move(e)}; }
};

}  // namespace srdx::workloads
