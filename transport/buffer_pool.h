// Message buffers, recycled by power-of-two size class so that steady-state
// traffic allocates nothing. Handles are small integers, so events and
// message slots can refer to a buffer without owning a pointer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace srdx {

class BufferPool {
 public:
  using Handle = uint32_t;
  static constexpr Handle kNone = 0xffffffffu;

  // `retain_limit`: free bytes kept for reuse; beyond it, released buffers go
  // back to the heap.
  explicit BufferPool(uint64_t retain_limit) : retain_limit_(retain_limit) {}

  // A buffer of at least `len` bytes (contents undefined).
  Handle get(size_t len) {
    const int c = class_of(len);
    if (free_[c].empty()) return get_new(c);
    const Handle h = free_[c].back();
    free_[c].pop_back();
    const uint64_t cap = bufs_[h].cap;
    retained_ -= cap;
    in_use_ += cap;
    return h;
  }
  void put(Handle h) {
    Buf& b = bufs_[h];
    in_use_ -= b.cap;
    if (retained_ + b.cap > retain_limit_) return release(h);
    retained_ += b.cap;
    free_[b.cls].push_back(h);
  }
  uint8_t* data(Handle h) { return bufs_[h].p.get(); }
  const uint8_t* data(Handle h) const { return bufs_[h].p.get(); }
  // A zeroed bitmap of `words` 64-bit words, from the same recycled storage
  // (new[] storage is aligned for any fundamental type).
  Handle get_bitmap(size_t words, uint64_t*& bits);

  uint64_t bytes_in_use() const { return in_use_; }
  uint64_t bytes_retained() const { return retained_; }

 private:
  static constexpr int kMinClass = 6;  // 64 bytes
  static constexpr int kClasses = 40;
  struct Buf {
    std::unique_ptr<uint8_t[]> p;
    uint64_t cap = 0;
    int cls = -1;
  };
  // The smallest power of two >= len, as its exponent; at least kMinClass.
  static int class_of(size_t len) {
    return len <= (size_t{1} << kMinClass) ? kMinClass : static_cast<int>(std::bit_width(len - 1));
  }
  Handle get_new(int c);   // nothing free in class c: a new buffer
  void release(Handle h);  // beyond the retain limit: back to the heap
  std::vector<Buf> bufs_;
  std::vector<Handle> free_[kClasses];
  std::vector<Handle> empty_;  // handles whose memory went back to the heap
  uint64_t retain_limit_;
  uint64_t retained_ = 0, in_use_ = 0;
};

}  // namespace srdx
