// How the DR store puts verified chunk bytes on disk: io_uring normally, or
// pwrite(2) where liburing is missing or the kernel refuses a ring. A test
// passes its own BlockWriter to inject a failing disk (ENOSPC): the store has
// no test-only branch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "replicate/result.h"

namespace srdx::replicate {

class BlockWriter {
 public:
  virtual ~BlockWriter() = default;
  // Writes all of `data` at `offset` of fd, or fails (a short write that
  // cannot go on is an error: ENOSPC, EIO).
  virtual Status write(int fd, std::span<const uint8_t> data, uint64_t offset) = 0;
  // fdatasync(fd): the written bytes survive a power cut once this succeeds.
  virtual Status sync(int fd) = 0;
  struct SyncItem {
    int fd = -1;
    bool data_only = true;  // fdatasync; false: fsync (a directory, a renamed or stamped file)
  };
  // Makes every item durable; all of them are tried, the first failure is
  // returned. The io_uring writer submits them together, so the filesystem
  // can commit them in one journal transaction instead of one per file.
  virtual Status sync_all(std::span<const SyncItem> items);
  virtual std::string_view name() const = 0;
};

std::unique_ptr<BlockWriter> make_pwrite_writer();
// One ring of `entries`; submission then wait for the completion, one write
// and one fsync at a time (the store writes a chunk, then syncs it). Falls
// back to pwrite when liburing was not built in or io_uring_queue_init fails
// (io_uring disabled by sysctl or seccomp); name() says which.
std::unique_ptr<BlockWriter> make_default_writer(unsigned entries = 8);

}  // namespace srdx::replicate
