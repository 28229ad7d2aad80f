// Secrets on disk: the control API's bearer token and an X25519 private key
// (srdxd's [keys] private-key-file, srdx-perf --key). One set of checks for
// every such file, so a key is guarded as the token is.
#pragma once

#include <string>

#include "srdx/keys.h"

namespace srdx {

// Reads a secret from `path`: the file must exist, be a regular file, not be
// world-readable (mode & 0004 == 0) and hold one non-empty word of printable
// ASCII (leading and trailing white space ignored). `what` names the secret
// in the messages ("the token"). Empty on success, else the reason, naming
// the file.
std::string read_secret_file(const std::string& path, const std::string& what, std::string& out);

// An X25519 private key: read_secret_file, then 44 characters of base64 (what
// `srdxctl genkey`, `srdx-perf genkey` and `wg genkey` print), not all zero.
// `how_to_make` ends the messages about a file that holds no key ("umask 077;
// srdxctl genkey > FILE").
std::string read_private_key_file(const std::string& path, PrivateKey& key,
                                  const std::string& how_to_make);

}  // namespace srdx
