#include "buffer_pool.h"

namespace srdx {

BufferPool::Handle BufferPool::get_new(int c) {
  Handle h;
  if (!empty_.empty()) {
    h = empty_.back();
    empty_.pop_back();
  } else {
    h = static_cast<Handle>(bufs_.size());
    bufs_.emplace_back();
  }
  Buf& b = bufs_[h];
  b.cap = uint64_t{1} << c;
  b.p.reset(new uint8_t[b.cap]);
  b.cls = c;
  in_use_ += b.cap;
  return h;
}

BufferPool::Handle BufferPool::get_bitmap(size_t words, uint64_t*& bits) {
  Handle h = get(words * sizeof(uint64_t));
  bits = reinterpret_cast<uint64_t*>(data(h));
  for (size_t i = 0; i < words; ++i) bits[i] = 0;
  return h;
}

void BufferPool::release(Handle h) {
  Buf& b = bufs_[h];
  b.p.reset();
  b.cap = 0;
  b.cls = -1;
  empty_.push_back(h);
}

}  // namespace srdx
