// The srdxd config file parser (control/config.cc, parse_config with
// --config) on arbitrary text: it never crashes, and it either accepts the
// file or refuses it with one non-empty line. Token and key files are not
// read (read_token = false; a private-key-file named by the input is read,
// but the secret-file checks refuse anything but a regular 0600 file).
// The input is written to a memfd that --config names as /proc/self/fd/N.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace srdx::ctl;
  static const int fd = ::memfd_create("srdxd.conf", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0) std::abort();
  if (::ftruncate(fd, 0) != 0) std::abort();
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  DaemonConfig c;
  const ParseResult r = parse_config({"--config", path}, c, /*read_token=*/false);
  switch (r.outcome) {
    case ParseOutcome::error:
      if (r.message.empty() || r.message.find('\n') != std::string::npos) std::abort();
      break;
    case ParseOutcome::run:
    case ParseOutcome::check: {
      // Accepted: the values it promises hold.
      if (c.token_file.empty()) std::abort();
      if (c.tcp_echo && c.tcp_echo_addr == c.control_listen) std::abort();
      if (c.tcp_echo && !listener_conflict("a", c.control_listen, "b", c.tcp_echo_addr).empty()) {
        std::abort();
      }
      // Its addresses print and parse back to themselves.
      srdx::Addr back;
      if (!parse_addr(format_addr(c.control_listen), back).empty() || !(back == c.control_listen)) {
        std::abort();
      }
      break;
    }
    default:
      break;
  }
  return 0;
}
