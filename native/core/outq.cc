#include "outq.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdlib>

#include "transport.h"

namespace ep {

namespace {
constexpr uint32_t kMaxIov = 256;
}

bool OutQ::grow() {
  uint32_t ncap = cap_ * 2;
  Entry* n = static_cast<Entry*>(std::malloc(sizeof(Entry) * ncap));
  if (!n) return false;
  for (uint32_t i = 0; i < count_; ++i) n[i] = at(i);
  if (ring_ != inline_) std::free(ring_);
  ring_ = n;
  cap_ = ncap;
  head_ = 0;
  return true;
}

// An idle client should cost no heap, but a busy one should not pay a malloc and a free every pass:
// once the queue drains, a small ring is kept and only a large one is given back.
void OutQ::release_storage() {
  if (ring_ != inline_ && cap_ > kKeep) {
    std::free(ring_);
    ring_ = inline_;
    cap_ = kInline;
  }
  head_ = 0;
}

bool OutQ::push(Buf* b) {
  if (count_ == cap_ && !grow()) return false;
  b->ref();
  at(count_) = Entry{b, 0};
  ++count_;
  bytes_ += b->len;
  return true;
}

void OutQ::clear() {
  for (uint32_t i = 0; i < count_; ++i) at(i).buf->unref();
  count_ = 0;
  bytes_ = 0;
  if (ring_ != inline_) std::free(ring_);
  ring_ = inline_;
  cap_ = kInline;
  head_ = 0;
}

FlushResult OutQ::flush(int fd, size_t* written, int* err) {
  TcpTransport t(fd);
  return flush(t, written, err);
}

FlushResult OutQ::flush(Transport& t, size_t* written, int* err) {
  *written = 0;
  while (count_ > 0) {
    struct iovec iov[kMaxIov];
    uint32_t n = count_ < kMaxIov ? count_ : kMaxIov;
    size_t offered = 0;
    for (uint32_t i = 0; i < n; ++i) {
      Entry& e = at(i);
      iov[i].iov_base = e.buf->data + e.off;
      iov[i].iov_len = e.buf->len - e.off;
      offered += iov[i].iov_len;
    }
    ssize_t w = t.writev(iov, static_cast<int>(n));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return FlushResult::Blocked;
      *err = errno;
      return FlushResult::Error;
    }
    size_t left = static_cast<size_t>(w);
    *written += left;
    bytes_ -= left;
    while (left > 0) {
      Entry& e = at(0);
      size_t rest = e.buf->len - e.off;
      if (left < rest) {
        e.off += static_cast<uint32_t>(left);
        break;
      }
      left -= rest;
      e.buf->unref();
      head_ = (head_ + 1) & (cap_ - 1);
      --count_;
    }
    // A short write means the socket buffer is full: don't spin on EAGAIN.
    if (static_cast<size_t>(w) < offered) return FlushResult::Blocked;
  }
  release_storage();
  return FlushResult::Done;
}

}  // namespace ep
