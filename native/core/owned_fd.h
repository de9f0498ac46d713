// A descriptor with one owner: closed when its owner goes away without handing it on (release()).
// Carried by commands that give the engine a descriptor (cmd::Adopt), so one dropped unrun (queued at
// shutdown, posted after the engine ended) closes it instead of leaking it.
#pragma once
#include <unistd.h>

namespace ep {

class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(o.release()) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }

  int get() const { return fd_; }
  // The caller owns the descriptor from now on.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes it (if any). A failed close (EINTR, EIO) still frees the descriptor on Linux: not retried.
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace ep
