// Secrets on disk: the control API's bearer token and an X25519 private key
// (srdxd's [keys] private-key-file, srdx-perf --key). One set of checks for
// every such file, so a key is guarded as the token is.
#pragma once

#include <cstddef>
#include <string>

#include "srdx/keys.h"

namespace srdx {

// Reads a secret from `path`, the same way for every program that reads one
// (srdxd, srdxctl, srdx-perf). The file is opened with O_NOFOLLOW and checked
// through the open descriptor (no race between the check and the read): it
// must be a regular file, not a symbolic link; not world-readable
// (mode & 0004); not group- or world-writable (mode & 0022); owned by the
// reading user or by root; and hold one word of printable ASCII (leading and
// trailing white space ignored) of at least `min_length` characters. `what`
// names the secret in the messages ("the token"). Empty on success, else the
// reason, naming the file.
std::string read_secret_file(const std::string& path, const std::string& what, std::string& out,
                             size_t min_length = 1);

// The control API's bearer token: a secret of at least this many characters
// (`openssl rand -hex 16` gives 32).
inline constexpr size_t kMinTokenLength = 16;

// An X25519 private key: read_secret_file, then 44 characters of base64 (what
// `srdxctl genkey`, `srdx-perf genkey` and `wg genkey` print), not all zero.
// `how_to_make` ends the messages about a file that holds no key ("umask 077;
// srdxctl genkey > FILE").
std::string read_private_key_file(const std::string& path, PrivateKey& key,
                                  const std::string& how_to_make);

}  // namespace srdx
