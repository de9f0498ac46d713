#include "tls_transport.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sysio.h"

namespace ep {

TlsTransport::TlsTransport(int fd, const TlsContext& ctx, const TlsLimits& limits, char* scratch, size_t scratch_len,
                           PlaintextKind fallback)
    : fd_(fd), session_(ctx, limits), scratch_(scratch), scratch_len_(scratch_len), fallback_(fallback) {}

ssize_t TlsTransport::copy_pending(char* buf, size_t n) {
  size_t k = std::min(n, pending_.size() - pending_off_);
  std::memcpy(buf, pending_.data() + pending_off_, k);
  pending_off_ += k;
  if (pending_off_ == pending_.size()) {
    std::string().swap(pending_);  // freed: an idle connection holds no plaintext
    pending_off_ = 0;
  }
  return static_cast<ssize_t>(k);
}

ssize_t TlsTransport::read(char* buf, size_t n) {
  if (read_pending()) return copy_pending(buf, n);
  if (eof_) return 0;
  TlsState st = session_.state();
  if (st == TlsState::Failed) {
    errno = EPROTO;
    return -1;
  }
  if (st != TlsState::Handshake && st != TlsState::Open) {
    // We said goodbye (close_notify): what the peer still sends (its own close_notify) is read and
    // dropped, so that a lingering connection's socket does not stay readable (level-triggered, it
    // would wake every pass); then the end of the stream.
    ssize_t r = sysio::read(fd_, scratch_, scratch_len_);
    if (r <= 0) return r;
    errno = EAGAIN;
    return -1;
  }
  ssize_t r = sysio::read(fd_, scratch_, scratch_len_);
  if (r <= 0) return r;  // the end of the stream (without close_notify: a truncation we accept), or errno
  size_t got = 0;
  auto sink = [&](const char* p, size_t k) {
    size_t direct = std::min(k, n - got);
    std::memcpy(buf + got, p, direct);
    got += direct;
    if (direct < k) pending_.append(p + direct, k - direct);
    return true;
  };
  TlsFeed f = session_.feed(scratch_, static_cast<size_t>(r), sink);
  if (f.handshake_done) handshake_done_ = true;
  if (f.failed) {
    TlsError e = session_.error();
    if (e == TlsError::Plaintext || e == TlsError::NotTls) {
      PlaintextKind kind = session_.plaintext_kind() != PlaintextKind::Unknown ? session_.plaintext_kind() : fallback_;
      std::string_view answer = TlsSession::plaintext_answer(kind);
      // One best-effort write: the socket is new and its buffer empty.
      ssize_t w = sysio::send(fd_, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)w;
    } else {
      send_output();  // OpenSSL's alert, best effort
    }
    errno = EPROTO;
    return -1;
  }
  // Handshake replies, session tickets, KeyUpdate answers: out now; what the socket refuses waits
  // (want_write()), and a broken socket shows on the next read or write.
  if (session_.has_output() && !send_output() && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    return -1;
  if (f.peer_closed) eof_ = true;
  if (got > 0) return static_cast<ssize_t>(got);
  if (eof_) return 0;
  errno = EAGAIN;  // a handshake step or a partial record: nothing for the caller yet
  return -1;
}

bool TlsTransport::send_output() {
  while (session_.has_output()) {
    ssize_t w = sysio::send(fd_, session_.output_data(), session_.output_size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    session_.consume_output(static_cast<size_t>(w));
  }
  return true;
}

bool TlsTransport::flush_transport() {
  if (!send_output()) return false;
  if (fin_pending_) {
    fin_pending_ = false;
    if (sysio::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) return false;
  }
  return true;
}

ssize_t TlsTransport::writev(const iovec* iov, int n) {
  if (!send_output()) return -1;
  switch (session_.state()) {
    case TlsState::Open: break;
    case TlsState::Handshake: errno = EAGAIN; return -1;  // write_waits_for_read()
    default: errno = EPIPE; return -1;
  }
  size_t took = session_.writev(iov, n);
  if (!send_output() && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
  if (took == 0) {
    errno = EAGAIN;
    return -1;
  }
  return static_cast<ssize_t>(took);
}

int TlsTransport::shutdown_write() {
  session_.shutdown();  // close_notify, once the handshake completed
  if (send_output()) return sysio::shutdown(fd_, SHUT_WR);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
  // The socket is full: FIN follows close_notify from flush_transport() (want_write() keeps EPOLLOUT).
  fin_pending_ = true;
  return 0;
}

bool TlsTransport::delivered() const {
  if (session_.has_output()) return false;
  int queued = 0;
  if (ioctl(fd_, SIOCOUTQ, &queued) < 0) return true;
  return queued == 0;
}

}  // namespace ep
