// One server-side TLS connection as a sans-IO state machine (docs/architecture.md, "TLS transport").
// It never touches a socket: the connection layer hands it the ciphertext it read, takes the
// plaintext it yields, gives it plaintext to send and writes the ciphertext it produces.
//
//   socket --read--> feed(bytes, sink) --plaintext--> sink (the protocol session)
//   output queue --> write()/writev() --ciphertext--> output_data()/consume_output() --> socket
//
// OpenSSL sees one BIO of ours (BIO_meth_new) for both directions: reads come straight from the
// caller's read buffer for the length of one feed() (no copy in between; what a partial record
// leaves OpenSSL keeps in its own record buffer), writes append to this session's output buffer,
// which is freed whenever it is fully sent. A BIO_s_mem pair would copy each byte once more and
// keep its high-water allocation for the connection's life.
//
// Non-blocking semantics, expressed without OpenSSL's vocabulary:
//   - "needs more input" (WANT_READ): feed() returned having consumed every byte; nothing to do
//     until the socket is readable again. feed() always drains: it loops SSL_read until OpenSSL
//     holds no complete record (SSL_pending/SSL_has_pending are 0), because epoll never fires for
//     bytes OpenSSL already took off the socket.
//   - "has ciphertext to send" (WANT_WRITE): has_output(); the connection arms EPOLLOUT while true.
//     Handshake messages, session tickets, alerts, KeyUpdate answers and close_notify all arrive
//     there, not only what write() encrypts.
//
// Bounded memory: before the handshake completes, at most TlsLimits::handshake_input_max bytes are
// taken from the client, and a ClientHello whose header claims more is refused before OpenSSL
// allocates for it; after it, OpenSSL holds at most one partial record (about 17 KiB) of input, and
// write() takes plaintext only while less than output_high_water ciphertext waits. A peer that
// makes us queue more than output_max (KeyUpdate requests, say, while never reading) is an error.
// The caller applies the handshake timeout (a half-finished handshake is a slowloris).
//
// kTLS (not on this kernel): the seam is handshake completion in feed(). With a kernel that has
// it, the transport would give OpenSSL a socket BIO with SSL_OP_ENABLE_KTLS set on the context
// (OpenSSL 3 installs keys only through its socket BIO), and after the handshake send plaintext
// straight to the fd with writev/sendfile while this class kept only control records (alerts,
// KeyUpdate); write()/output_data() are the calls that would bypass it.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;  // OpenSSL's SSL
struct bio_st;  // OpenSSL's BIO

namespace ep {

class TlsContext;

struct TlsLimits {
  size_t handshake_input_max = 16 * 1024;  // client bytes before the handshake completes (a
                                           // ClientHello is 0.3-2 KiB, 512-byte padded ones too)
  size_t output_high_water = 64 * 1024;    // write() takes plaintext only below this much ciphertext
  size_t output_max = 256 * 1024;          // ciphertext queued beyond this is an error
};

enum class TlsState {
  Handshake,   // waiting for the client's handshake messages
  Open,        // application data both ways
  PeerClosed,  // the client sent close_notify: call shutdown(), send the output, close
  Closed,      // shutdown() was called: close_notify is queued (or nothing, if never open)
  Failed,      // a fatal error (error()): send the output (it may hold an alert), then close
};

enum class TlsError {
  None,
  Plaintext,           // the first bytes are plain text, not TLS: see plaintext_kind()
  NotTls,              // the first bytes are neither TLS nor text
  Handshake,           // OpenSSL refused the handshake (reason in error_message())
  HandshakeTooLarge,   // more than handshake_input_max bytes before the handshake completed
  Protocol,            // a fatal TLS error after the handshake (bad record MAC, bad message, …)
  OutputOverflow,      // more than output_max ciphertext queued: the peer does not read
  Stopped,             // the sink returned false: the caller is closing this connection
  Internal,            // out of memory creating the connection
};

// What a plaintext client on a TLS port probably speaks, from its first bytes.
enum class PlaintextKind { Unknown, Http, Irc };

struct TlsFeed {
  bool handshake_done = false;  // the handshake completed in this call: flush queued output now
  bool peer_closed = false;     // close_notify arrived in this call
  bool failed = false;          // the session entered Failed in this call (see error())
  size_t consumed = 0;          // ciphertext bytes taken (all of them unless failed/closed)
  size_t plaintext = 0;         // plaintext bytes given to the sink
};

class TlsSession {
 public:
  // The plaintext consumer: returns false to stop (the rest of this input is dropped, state Failed
  // with TlsError::Stopped). Called only in state Open.
  using Sink = bool (*)(void* ctx, const char* data, size_t n);

  TlsSession(const TlsContext& ctx, TlsLimits limits = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;  // OpenSSL's BIO points at this object
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext read from the socket. Runs the handshake, then decrypts every complete record and
  // gives the plaintext to sink, before returning. Afterwards OpenSSL holds no plaintext.
  TlsFeed feed(const void* data, size_t n, Sink sink, void* sink_ctx);
  template <class F>
  TlsFeed feed(const void* data, size_t n, F& f) {
    return feed(data, n, [](void* c, const char* p, size_t k) -> bool { return (*static_cast<F*>(c))(p, k); }, &f);
  }

  // Plaintext to send: encrypted into records (16 KiB at most each) while state is Open and less
  // than output_high_water ciphertext waits. Returns the bytes taken (0: keep them queued; retry
  // once has_output() went false or can_write() is true again). writev gathers small pieces into
  // full records, one copy, so a burst of short lines is not one record each.
  size_t write(const void* data, size_t n);
  size_t writev(const struct iovec* iov, int iovcnt);
  bool can_write() const { return state_ == TlsState::Open && output_size() < limits_.output_high_water; }

  // Ciphertext to send on the socket, in order.
  bool has_output() const { return out_off_ < out_.size(); }
  const char* output_data() const { return out_.data() + out_off_; }
  size_t output_size() const { return out_.size() - out_off_; }
  void consume_output(size_t n);

  // Queue close_notify (once; not before the handshake completed, when there is nothing to close).
  // write() takes nothing afterwards.
  void shutdown();

  TlsState state() const { return state_; }
  bool handshake_complete() const { return handshaked_; }
  TlsError error() const { return error_; }
  const std::string& error_message() const { return error_message_; }
  PlaintextKind plaintext_kind() const { return plaintext_kind_; }
  bool close_notify_received() const { return state_ == TlsState::PeerClosed || peer_notified_; }
  // For logs: "TLSv1.3" and the suite name, once the handshake completed ("" before).
  const char* version() const;
  const char* cipher() const;
  // Memory this object holds outside OpenSSL (its output buffer's capacity).
  size_t buffered_capacity() const { return out_.capacity(); }

  // What to write, unencrypted, to a plaintext client before closing: an HTTP 400, an IRC ERROR
  // line or a line-protocol "!! TLS_REQUIRED" line.
  static std::string_view plaintext_answer(PlaintextKind kind);

 private:
  friend struct TlsBio;
  void fail(TlsError e, std::string message);
  bool sniff(const uint8_t* p, size_t n, size_t* used, TlsFeed* r);
  bool run(const uint8_t* p, size_t n, Sink sink, void* sink_ctx, TlsFeed* r);
  size_t encrypt(const void* data, size_t n);
  void check_output();

  ssl_st* ssl_ = nullptr;
  TlsLimits limits_;
  TlsState state_ = TlsState::Handshake;
  TlsError error_ = TlsError::None;
  PlaintextKind plaintext_kind_ = PlaintextKind::Unknown;
  bool handshaked_ = false;
  bool peer_notified_ = false;
  bool shutdown_sent_ = false;
  // The first 9 bytes (record header + handshake header) are checked before OpenSSL sees them.
  uint8_t head_[9] = {};
  uint8_t head_len_ = 0;
  bool head_checked_ = false;
  size_t handshake_in_ = 0;  // bytes OpenSSL took before the handshake completed
  // Input visible to OpenSSL during one run(): the caller's bytes, not copied.
  const uint8_t* in_ = nullptr;
  size_t in_len_ = 0;
  size_t in_taken_ = 0;
  // Ciphertext produced, not yet sent.
  std::vector<char> out_;
  size_t out_off_ = 0;
  std::string error_message_;
};

const char* tls_error_name(TlsError e);

}  // namespace ep
