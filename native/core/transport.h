// How a connection's bytes reach the network. The connection layer (connection.h) reads input and
// writes its output queue through this interface only, so what lies underneath can change per
// connection: plain TCP (TcpTransport) or TLS (TlsTransport, tls_transport.h).
//
// TLS: read() pulls ciphertext with sysio::read, feeds the session and returns the plaintext it
// yields (EAGAIN while a handshake or a partial record needs more bytes); plaintext decrypted beyond
// what the caller asked for waits in the transport (read_pending(): epoll never fires for it, so the
// server reads the connection again without waiting for an event); writev() encrypts what it is given
// into records and writes them, holding records the socket did not take; want_write() is true while
// such records (or handshake replies) wait, so the connection keeps EPOLLOUT armed and calls
// flush_transport() even with an empty queue; shutdown_write() sends close_notify, then FIN. Every
// call below this interface stays in sysio.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace ep {

class Transport {
 public:
  // Reads up to n bytes of the peer's data: > 0 bytes, 0 at the end of the stream, -1 with errno set
  // (EAGAIN: nothing now; EINTR: try again; anything else: the connection is broken).
  virtual ssize_t read(char* buf, size_t n) = 0;
  // Writes the buffers in order, gathered (one system call for plain TCP): the bytes taken (fewer than
  // offered when the socket is full), or -1 with errno set (EAGAIN, EINTR, or broken).
  virtual ssize_t writev(const iovec* iov, int n) = 0;
  // Ends our direction after the last byte (FIN). 0, or -1 with errno set (ENOTCONN: the peer is gone).
  virtual int shutdown_write() = 0;
  // Bytes of the transport's own wait to be written (TLS records the socket did not take, handshake
  // replies), even when the connection's queue is empty. Plain TCP holds none.
  virtual bool want_write() const = 0;
  // Writes those bytes: true once none is left, false when blocked or broken (errno set).
  virtual bool flush_transport() = 0;
  // Everything written has been acknowledged by the peer (or the transport cannot say): closing now
  // loses nothing, even if unread input turns the close into a reset.
  virtual bool delivered() const = 0;
  // Input already taken off the socket and waiting here (TLS plaintext decrypted beyond one read):
  // read again without waiting for epoll, which will not fire for it.
  virtual bool read_pending() const { return false; }
  // writev() said EAGAIN because the transport is not ready (a TLS handshake in progress), not
  // because the socket is full: arming EPOLLOUT would spin. The owner flushes once input moved it on.
  virtual bool write_waits_for_read() const { return false; }

 protected:
  // Not virtual: a transport is destroyed as its own type by its connection (a TcpTransport is a
  // member; a TlsTransport is owned as its type), so a plain TCP connection's is trivial.
  ~Transport() = default;
};

// Plain TCP (or a Unix socketpair in the tests): each call is one system call through sysio, the fault
// seam. Does not own the descriptor: the connection closes it.
class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(int fd = -1) : fd_(fd) {}
  void reset(int fd) { fd_ = fd; }
  ssize_t read(char* buf, size_t n) override;
  ssize_t writev(const iovec* iov, int n) override;
  int shutdown_write() override;
  bool want_write() const override { return false; }
  bool flush_transport() override { return true; }
  bool delivered() const override;

 private:
  int fd_;
};

}  // namespace ep
