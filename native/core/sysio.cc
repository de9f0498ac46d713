#include "sysio.h"

namespace ep::sysio {

Hook* g_hook = nullptr;

ssize_t Hook::read(int fd, void* buf, size_t n) { return ::read(fd, buf, n); }
ssize_t Hook::sendmsg(int fd, const msghdr* msg, int flags) { return ::sendmsg(fd, msg, flags); }
ssize_t Hook::send(int fd, const void* buf, size_t n, int flags) { return ::send(fd, buf, n, flags); }
int Hook::shutdown(int fd, int how) { return ::shutdown(fd, how); }
int Hook::accept4(int fd, sockaddr* addr, socklen_t* len, int flags) { return ::accept4(fd, addr, len, flags); }
int Hook::close(int fd) { return ::close(fd); }
int Hook::epoll_ctl(int epfd, int op, int fd, epoll_event* ev) { return ::epoll_ctl(epfd, op, fd, ev); }
int Hook::socket(int domain, int type, int protocol) { return ::socket(domain, type, protocol); }
int Hook::setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  return ::setsockopt(fd, level, name, val, len);
}
int Hook::bind(int fd, const sockaddr* addr, socklen_t len) { return ::bind(fd, addr, len); }
int Hook::listen(int fd, int backlog) { return ::listen(fd, backlog); }

}  // namespace ep::sysio
