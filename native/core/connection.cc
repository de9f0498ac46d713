#include "connection.h"

#include <cerrno>

#include "sysio.h"

namespace ep {

Connection::~Connection() {
  // Only a server torn down with connections still open gets here with a descriptor.
  if (fd >= 0) ::close(fd);
}

bool Connection::attach(Loop& loop, int f, ConnectionOwner* o) {
  reg = loop.add(f, EPOLLIN | EPOLLRDHUP, o, this);
  if (!reg) return false;
  fd = f;
  tcp.reset(f);
  return true;
}

bool Connection::set_reading(Loop& loop, bool on) {
  if (reading == on) return true;
  reading = on;
  return apply_events(loop);
}

bool Connection::set_want_write(Loop& loop, bool on) {
  if (want_write == on) return true;
  want_write = on;
  return apply_events(loop);
}

bool Connection::apply_events(Loop& loop) {
  uint32_t ev = (reading ? static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP) : 0u) |
                (want_write ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  return loop.modify(reg, ev);
}

FlushResult Connection::write_out(size_t* written, int* err) {
  FlushResult r = out.flush(*transport, written, err);
  if (r != FlushResult::Done || !transport->want_write() || transport->flush_transport()) return r;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return FlushResult::Blocked;
  *err = errno;
  return FlushResult::Error;
}

bool Connection::close_fd(Loop& loop) {
  bool ok = loop.remove(reg);
  reg = 0;
  sysio::close(fd);
  fd = -1;
  tcp.reset(-1);
  transport = &tcp;
  tls.reset();  // the TLS session's memory goes with the socket
  out.clear();
  return ok;
}

}  // namespace ep
