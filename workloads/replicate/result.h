// Errors of the replication core: a code a caller branches on (the protocol
// answers "hash mismatch" differently from "disk full") and one line for
// people and the audit log, with the path and the system error in it
// (common/result.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace srdx::replicate {

enum class Errc : uint8_t {
  ok = 0,
  invalid_argument,   // a bad chunk size, index or length from the caller
  bad_path,           // validate_path refused it
  malformed,          // a manifest encoding that does not decode
  hash_mismatch,      // bytes that are not what the manifest says
  incomplete,         // commit with chunks still missing
  escapes_root,       // a symlink or non-directory on the way, or not a regular file
  no_space,           // ENOSPC or EDQUOT: nothing committed was lost
  not_found,          // no such path or version
  already_committed,  // that version (or a newer one) is live at DR
  io,                 // any other system error
};
std::string_view to_string(Errc e);

using Error = workloads::BasicError<Errc>;
using Status = workloads::BasicStatus<Errc>;
template <class T>
using Result = workloads::BasicResult<Errc, T>;

// An errno as an Error: ENOSPC and EDQUOT become no_space, ELOOP and ENOTDIR
// escapes_root, ENOENT not_found; `what` says which call on which path.
Error sys_error(int err, std::string_view what);

}  // namespace srdx::replicate
