#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "sysio.h"
#include "transport.h"

namespace ep {

ssize_t TcpTransport::read(char* buf, size_t n) { return sysio::read(fd_, buf, n); }

ssize_t TcpTransport::writev(const iovec* iov, int n) {
  msghdr msg = {};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(n);
  return sysio::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int TcpTransport::shutdown_write() { return sysio::shutdown(fd_, SHUT_WR); }

// SIOCOUTQ: bytes not yet acknowledged by the peer (TCP) or not yet taken by it (a Unix socket).
bool TcpTransport::delivered() const {
  int queued = 0;
  if (ioctl(fd_, SIOCOUTQ, &queued) < 0) return true;
  return queued == 0;
}

}  // namespace ep
