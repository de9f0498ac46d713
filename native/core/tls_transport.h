// TLS on a connection: Transport (transport.h) over a TlsSession (sans-IO, tls_session.h) and the
// socket below it. Every system call goes through sysio (the fault seam); nothing blocks.
//
//   read():   ciphertext from the socket (into the server's shared scratch buffer, not a buffer per
//             connection) → TlsSession::feed → plaintext into the caller's buffer. OpenSSL hands over
//             everything it decrypted (feed drains SSL_read), which can be more than the caller asked
//             for (a record completed by this read adds to what this read brought): the excess waits
//             here (pending_, allocated only then) and read_pending() is true. epoll never fires for
//             it, so the server reads such connections again from its pending-read list (server.cc),
//             a bounded number of reads each per pass.
//   writev(): plaintext → records (TlsSession::writev gathers small lines into full records) →
//             socket. Records the socket did not take stay in the session (want_write(): the
//             connection keeps EPOLLOUT armed, flush_transport() sends them). Handshake replies go
//             out from read() the same way.
//   During the handshake the connection's queue (a prompt) cannot be encrypted yet: writev() says
//   EAGAIN and write_waits_for_read() is true, so the server does not arm EPOLLOUT for it (the
//   socket is writable: that would spin); it flushes the queue when the handshake completes.
//   shutdown_write(): close_notify, then FIN (after flush_transport() sent it, when the socket was full).
//
// A plaintext client (or other garbage) on a TLS port: read() writes the plaintext answer
// (TlsSession::plaintext_answer: HTTP 400, IRC ERROR, `!! TLS_REQUIRED`) straight to the socket,
// unencrypted, and fails with EPROTO; failure() says why. A TLS-level failure sends OpenSSL's alert
// the same way, then EPROTO.
//
// kTLS (the kernel has none here): the place is the handshake's completion in read() (feed()
// reporting handshake_done). With a kernel that has it, this class would install the session's keys
// on the socket there (OpenSSL 3 does it through its socket BIO with SSL_OP_ENABLE_KTLS), and from
// then on writev() would be TcpTransport's (one sendmsg of plaintext; the kernel encrypts) and read()
// a plain read, with control records (alerts, KeyUpdate) still through the session. Nothing above
// Transport would change; want_write()/read_pending() would simply stay false.
#pragma once
#include <cstddef>
#include <string>

#include "tls_session.h"
#include "transport.h"

namespace ep {

class TlsTransport final : public Transport {
 public:
  // fd: the connection's socket (not owned). scratch: a buffer the caller keeps for the transport's
  // reads (shared by every connection of the thread: read() never keeps bytes in it). fallback: the
  // answer for a plaintext client whose first bytes say nothing (the listener's protocol).
  TlsTransport(int fd, const TlsContext& ctx, const TlsLimits& limits, char* scratch, size_t scratch_len,
               PlaintextKind fallback);

  ssize_t read(char* buf, size_t n) override;
  ssize_t writev(const iovec* iov, int n) override;
  int shutdown_write() override;
  bool want_write() const override { return session_.has_output(); }
  bool flush_transport() override;
  bool delivered() const override;
  bool read_pending() const override { return pending_off_ < pending_.size(); }
  // Only while nothing of the transport's own waits for the socket: handshake replies the socket
  // refused need EPOLLOUT like any record.
  bool write_waits_for_read() const override {
    return session_.state() == TlsState::Handshake && !session_.has_output();
  }

  const TlsSession& session() const { return session_; }
  // Set once, by the read() in which the handshake completed; cleared by take_handshake_done().
  bool take_handshake_done() {
    bool d = handshake_done_;
    handshake_done_ = false;
    return d;
  }

 private:
  // Writes what the session holds: true once all is sent; false with errno (EAGAIN: later).
  bool send_output();
  ssize_t copy_pending(char* buf, size_t n);

  int fd_;
  TlsSession session_;
  char* scratch_;
  size_t scratch_len_;
  PlaintextKind fallback_;
  bool handshake_done_ = false;
  bool eof_ = false;  // close_notify seen: the stream ends after the pending plaintext
  bool fin_pending_ = false;  // shutdown_write() could not send close_notify at once: FIN after it
  std::string pending_;
  size_t pending_off_ = 0;
};

}  // namespace ep
