#include "replicate/writer.h"

#include <unistd.h>

#include <cerrno>
#include <string>

#ifdef SRDX_HAVE_URING
#include <liburing.h>
#endif

namespace srdx::replicate {

Status BlockWriter::sync_all(std::span<const SyncItem> items) {
  Status first;
  for (const SyncItem& it : items) {
    Status s;
    if (it.data_only) {
      s = sync(it.fd);
    } else if (fsync(it.fd) != 0) {
      s = {sys_error(errno, "fsync")};
    }
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  return first;
}

namespace {

class PwriteWriter final : public BlockWriter {
 public:
  Status write(int fd, std::span<const uint8_t> data, uint64_t offset) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t r =
          pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return {sys_error(errno, "write")};
      }
      done += static_cast<size_t>(r);
    }
    return {};
  }
  Status sync(int fd) override {
    if (fdatasync(fd) != 0) return {sys_error(errno, "fdatasync")};
    return {};
  }
  std::string_view name() const override { return "pwrite"; }
};

#ifdef SRDX_HAVE_URING
class UringWriter final : public BlockWriter {
 public:
  ~UringWriter() override {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  bool init(unsigned entries) {
    ready_ = io_uring_queue_init(entries, &ring_, 0) == 0;
    return ready_;
  }

  Status write(int fd, std::span<const uint8_t> data, uint64_t offset) override {
    size_t done = 0;
    while (done < data.size()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return Status::fail(Errc::io, "write: io_uring submission queue full");
      io_uring_prep_write(sqe, fd, data.data() + done, static_cast<unsigned>(data.size() - done),
                          offset + done);
      const int res = submit_and_wait();
      if (res == -EINTR || res == -EAGAIN) continue;
      if (res < 0) return {sys_error(-res, "write (io_uring)")};
      if (res == 0) return Status::fail(Errc::io, "write (io_uring): no progress");
      done += static_cast<size_t>(res);
    }
    return {};
  }

  Status sync(int fd) override {
    while (true) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr)
        return Status::fail(Errc::io, "fdatasync: io_uring submission queue full");
      io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      const int res = submit_and_wait();
      if (res == -EINTR) continue;
      if (res < 0) return {sys_error(-res, "fdatasync (io_uring)")};
      return {};
    }
  }
  // As many at a time as the ring holds: submitted together, then every
  // completion reaped.
  Status sync_all(std::span<const SyncItem> items) override {
    Status first;
    size_t next = 0;
    while (next < items.size()) {
      unsigned queued = 0;
      while (next < items.size()) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) break;
        io_uring_prep_fsync(sqe, items[next].fd, items[next].data_only ? IORING_FSYNC_DATASYNC : 0);
        ++next;
        ++queued;
      }
      if (queued == 0) return Status::fail(Errc::io, "fsync: io_uring submission queue full");
      int r;
      do {
        r = io_uring_submit(&ring_);
      } while (r == -EINTR);
      if (r < 0) return {sys_error(-r, "fsync (io_uring submit)")};
      for (unsigned done = 0; done < queued; ++done) {
        io_uring_cqe* cqe = nullptr;
        do {
          r = io_uring_wait_cqe(&ring_, &cqe);
        } while (r == -EINTR);
        if (r < 0) return {sys_error(-r, "fsync (io_uring wait)")};
        if (cqe->res < 0 && first.ok()) first = {sys_error(-cqe->res, "fsync (io_uring)")};
        io_uring_cqe_seen(&ring_, cqe);
      }
    }
    return first;
  }
  std::string_view name() const override { return "io_uring"; }

 private:
  // One request in flight: submit it, wait for its completion, return its res.
  int submit_and_wait() {
    int r = io_uring_submit(&ring_);
    if (r < 0) return r;
    io_uring_cqe* cqe = nullptr;
    do {
      r = io_uring_wait_cqe(&ring_, &cqe);
    } while (r == -EINTR);
    if (r < 0) return r;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }
  io_uring ring_{};
  bool ready_ = false;
};
#endif

}  // namespace

std::unique_ptr<BlockWriter> make_pwrite_writer() { return std::make_unique<PwriteWriter>(); }

std::unique_ptr<BlockWriter> make_default_writer([[maybe_unused]] unsigned entries) {
#ifdef SRDX_HAVE_URING
  auto w = std::make_unique<UringWriter>();
  if (w->init(entries)) return w;
#endif
  return make_pwrite_writer();
}

}  // namespace srdx::replicate
