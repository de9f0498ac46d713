// A connection's output queue: references to shared buffers, flushed with one gathered write
// (Transport::writev: one sendmsg for plain TCP) per pass. Bounded by bytes: the owner checks bytes() against its limit after each push.
#pragma once
#include <cstddef>
#include <cstdint>

#include "buf.h"

namespace ep {

class Transport;

enum class FlushResult { Done, Blocked, Error };

class OutQ {
 public:
  OutQ() = default;
  OutQ(const OutQ&) = delete;
  OutQ& operator=(const OutQ&) = delete;
  ~OutQ() { clear(); }

  // Takes a new reference to b. Returns false when out of memory (nothing queued).
  bool push(Buf* b);
  // Writes as much as the transport takes. Error carries errno in *err.
  FlushResult flush(Transport& t, size_t* written, int* err);
  // The same over plain TCP on fd (the unit tests).
  FlushResult flush(int fd, size_t* written, int* err);
  void clear();
  bool empty() const { return count_ == 0; }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    Buf* buf;
    uint32_t off;
  };
  static constexpr uint32_t kInline = 2;
  static constexpr uint32_t kKeep = 16;  // ring entries kept allocated after a drain

  Entry& at(uint32_t i) { return ring_[(head_ + i) & (cap_ - 1)]; }
  bool grow();
  void release_storage();

  Entry inline_[kInline];
  Entry* ring_ = inline_;
  uint32_t cap_ = kInline;  // power of two
  uint32_t head_ = 0;
  uint32_t count_ = 0;
  size_t bytes_ = 0;
};

}  // namespace ep
