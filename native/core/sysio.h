// sysio: the engine's socket calls, through one seam. In production each is the plain system call
// behind one well-predicted branch on a null pointer. A test or a fuzzer may install a Hook that
// makes chosen calls fail (EIO, ECONNRESET, EPIPE, EAGAIN, EMFILE…), write short, or report a reset
// or a half-close, so the engine's error paths run at the points the test picks, not only when a
// real network happens to fail at the right moment.
//
// Used for: read (client input), sendmsg / send (output), shutdown (FIN after the last line),
// accept4, close (client and accepted sockets), epoll_ctl, and opening a listener (socket, setsockopt,
// bind, listen).
#pragma once
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace ep::sysio {

// Override what you want to fault; the defaults are the real calls.
class Hook {
 public:
  virtual ~Hook() = default;
  virtual ssize_t read(int fd, void* buf, size_t n);
  virtual ssize_t sendmsg(int fd, const msghdr* msg, int flags);
  virtual ssize_t send(int fd, const void* buf, size_t n, int flags);
  virtual int shutdown(int fd, int how);
  virtual int accept4(int fd, sockaddr* addr, socklen_t* len, int flags);
  virtual int close(int fd);
  virtual int epoll_ctl(int epfd, int op, int fd, epoll_event* ev);
  virtual int socket(int domain, int type, int protocol);
  virtual int setsockopt(int fd, int level, int name, const void* val, socklen_t len);
  virtual int bind(int fd, const sockaddr* addr, socklen_t len);
  virtual int listen(int fd, int backlog);
};

extern Hook* g_hook;

// Installs h (nullptr: the real calls again). Not synchronised: install it before the engine's
// thread starts, or between step() calls of a Server driven by the caller's thread.
inline void set_hook(Hook* h) { g_hook = h; }

#define EP_SYSIO_CALL(name, ...) \
  (__builtin_expect(g_hook != nullptr, 0) ? g_hook->name(__VA_ARGS__) : ::name(__VA_ARGS__))

inline ssize_t read(int fd, void* buf, size_t n) { return EP_SYSIO_CALL(read, fd, buf, n); }
inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) { return EP_SYSIO_CALL(sendmsg, fd, msg, flags); }
inline ssize_t send(int fd, const void* buf, size_t n, int flags) { return EP_SYSIO_CALL(send, fd, buf, n, flags); }
inline int shutdown(int fd, int how) { return EP_SYSIO_CALL(shutdown, fd, how); }
inline int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) { return EP_SYSIO_CALL(accept4, fd, addr, len, flags); }
inline int close(int fd) { return EP_SYSIO_CALL(close, fd); }
inline int epoll_ctl(int epfd, int op, int fd, epoll_event* ev) { return EP_SYSIO_CALL(epoll_ctl, epfd, op, fd, ev); }
inline int socket(int domain, int type, int protocol) { return EP_SYSIO_CALL(socket, domain, type, protocol); }
inline int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  return EP_SYSIO_CALL(setsockopt, fd, level, name, val, len);
}
inline int bind(int fd, const sockaddr* addr, socklen_t len) { return EP_SYSIO_CALL(bind, fd, addr, len); }
inline int listen(int fd, int backlog) { return EP_SYSIO_CALL(listen, fd, backlog); }

#undef EP_SYSIO_CALL

}  // namespace ep::sysio
