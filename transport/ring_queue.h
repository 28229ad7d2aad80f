// A FIFO ring that grows by doubling and shrinks only when asked (shrink()):
// in steady state it allocates nothing. Used for events, retransmissions,
// control work and the endpoint's list of peers with data.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace srdx {

template <class T>
class RingQueue {
 public:
  explicit RingQueue(size_t initial = 64) : buf_(round_up(initial)), mask_(buf_.size() - 1) {}

  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }
  size_t allocated_bytes() const { return buf_.capacity() * sizeof(T); }
  size_t capacity() const { return buf_.size(); }
  T& front() { return buf_[head_ & mask_]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & mask_]; }
  T& operator[](size_t i) { return buf_[(head_ + i) & mask_]; }

  void push(T v) {
    if (size() > mask_) grow();
    buf_[tail_++ & mask_] = std::move(v);
  }
  T pop() { return std::move(buf_[head_++ & mask_]); }
  // A new last element, to be filled in place (it holds whatever an earlier
  // element there left).
  T& push_slot() {
    if (size() > mask_) grow();
    return buf_[tail_++ & mask_];
  }
  void drop_front() { ++head_; }
  void drop_back() { --tail_; }
  void clear() { head_ = tail_ = 0; }
  // Gives back what it grew by: an empty ring goes back to `initial`
  // elements (a peer whose burst of repairs is over).
  void shrink(size_t initial) {
    if (!empty() || buf_.size() <= round_up(initial)) return;
    std::vector<T>(round_up(initial)).swap(buf_);
    mask_ = buf_.size() - 1;
    head_ = tail_ = 0;
  }

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
    mask_ = buf_.size() - 1;
    head_ = 0;
    tail_ = n;
  }
  std::vector<T> buf_;
  size_t mask_;  // buf_.size() - 1, kept: size() divides by sizeof(T)
  size_t head_ = 0, tail_ = 0;
};

}  // namespace srdx
