// A FIFO ring that grows by doubling and never shrinks: in steady state it
// allocates nothing. Used for events, retransmissions and control work.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace srdx {

template <class T>
class RingQueue {
 public:
  explicit RingQueue(size_t initial = 64) : buf_(round_up(initial)) {}

  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }
  T& front() { return buf_[head_ & (buf_.size() - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  T& operator[](size_t i) { return buf_[(head_ + i) & (buf_.size() - 1)]; }

  void push(T v) {
    if (size() == buf_.size()) grow();
    buf_[tail_++ & (buf_.size() - 1)] = std::move(v);
  }
  T pop() { return std::move(buf_[head_++ & (buf_.size() - 1)]); }
  void clear() { head_ = tail_ = 0; }

 private:
  static size_t round_up(size_t n) {
    size_t c = 1;
    while (c < n) c <<= 1;
    return c;
  }
  void grow() {
    std::vector<T> next(buf_.size() * 2);
    size_t n = size();
    for (size_t i = 0; i < n; ++i) next[i] = std::move((*this)[i]);
    buf_.swap(next);
    head_ = 0;
    tail_ = n;
  }
  std::vector<T> buf_;
  size_t head_ = 0, tail_ = 0;
};

}  // namespace srdx
