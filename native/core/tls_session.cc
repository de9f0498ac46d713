// One server-side TLS connection over our own memory BIO (tls_session.h).
#include "tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "tls_context.h"

namespace ep {

namespace {

constexpr size_t kRecord = 16 * 1024;      // TLS plaintext record maximum
constexpr size_t kKeepOutput = 4 * 1024;   // output capacity kept after a drain; more is freed

}  // namespace

// The BIO both directions share: reads from the session's current input span, writes append to
// its output buffer. A write never fails (the limits are applied on what we ask OpenSSL to write),
// so OpenSSL never sees a half-written record; a read with nothing left says "retry" (WANT_READ).
struct TlsBio {
  static TlsSession* of(BIO* b) { return static_cast<TlsSession*>(BIO_get_data(b)); }

  static int write(BIO* b, const char* data, size_t n, size_t* written) {
    BIO_clear_retry_flags(b);
    TlsSession* s = of(b);
    if (!s) return 0;
    if (s->out_off_ > 0 && s->out_off_ >= s->out_.size() / 2) {  // reclaim the sent front
      s->out_.erase(s->out_.begin(), s->out_.begin() + static_cast<std::ptrdiff_t>(s->out_off_));
      s->out_off_ = 0;
    }
    s->out_.insert(s->out_.end(), data, data + n);
    *written = n;
    return 1;
  }

  static int read(BIO* b, char* out, size_t cap, size_t* got) {
    BIO_clear_retry_flags(b);
    TlsSession* s = of(b);
    if (!s || s->in_taken_ == s->in_len_) {
      BIO_set_retry_read(b);
      *got = 0;
      return 0;
    }
    size_t k = std::min(cap, s->in_len_ - s->in_taken_);
    std::memcpy(out, s->in_ + s->in_taken_, k);
    s->in_taken_ += k;
    *got = k;
    return 1;
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    TlsSession* s = of(b);
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return s ? static_cast<long>(s->in_len_ - s->in_taken_) : 0;
      case BIO_CTRL_WPENDING:
        return s ? static_cast<long>(s->output_size()) : 0;
      default:
        return 0;  // no EOF, no push/pop, no kTLS (BIO_CTRL_GET_KTLS_SEND/RECV answer 0)
    }
  }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }
  static int destroy(BIO* b) {
    BIO_set_data(b, nullptr);
    return 1;
  }

  // One method table for the process, made on first use (thread-safe static); never freed.
  static BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* mm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "epchat tls");
      if (mm) {
        BIO_meth_set_write_ex(mm, write);
        BIO_meth_set_read_ex(mm, read);
        BIO_meth_set_ctrl(mm, ctrl);
        BIO_meth_set_create(mm, create);
        BIO_meth_set_destroy(mm, destroy);
      }
      return mm;
    }();
    return m;
  }
};

const char* tls_error_name(TlsError e) {
  switch (e) {
    case TlsError::None: return "none";
    case TlsError::Plaintext: return "plaintext";
    case TlsError::NotTls: return "not-tls";
    case TlsError::Handshake: return "handshake";
    case TlsError::HandshakeTooLarge: return "handshake-too-large";
    case TlsError::Protocol: return "protocol";
    case TlsError::OutputOverflow: return "output-overflow";
    case TlsError::Stopped: return "stopped";
    case TlsError::Internal: return "internal";
  }
  return "?";
}

TlsSession::TlsSession(const TlsContext& ctx, TlsLimits limits) : limits_(limits) {
  ERR_clear_error();
  BIO_METHOD* m = TlsBio::method();
  BIO* bio = m ? BIO_new(m) : nullptr;
  ssl_ = bio ? SSL_new(ctx.native()) : nullptr;
  if (!ssl_) {
    if (bio) BIO_free(bio);
    fail(TlsError::Internal, "cannot create a TLS connection: " + tls_drain_errors());
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: SSL takes the one reference
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);  // frees the BIO; drops this connection's reference to the SSL_CTX
  ERR_clear_error();
}

void TlsSession::fail(TlsError e, std::string message) {
  if (state_ == TlsState::Failed) return;
  state_ = TlsState::Failed;
  error_ = e;
  error_message_ = std::move(message);
}

namespace {

bool text_byte(uint8_t c) { return (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t'; }

bool starts_with_word(const uint8_t* p, size_t n, const char* word) {
  size_t k = std::strlen(word);
  if (n < k + 1) return false;
  for (size_t i = 0; i < k; ++i) {
    uint8_t c = p[i];
    if (c >= 'a' && c <= 'z') c = static_cast<uint8_t>(c - 'a' + 'A');
    if (c != static_cast<uint8_t>(word[i])) return false;
  }
  return p[k] == ' ' || p[k] == '\r' || p[k] == '\n';
}

PlaintextKind classify(const uint8_t* p, size_t n) {
  static const char* const kHttp[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PRI"};
  static const char* const kIrc[] = {"CAP", "NICK", "USER", "PASS", "PING", "QUIT", "AUTHENTICATE"};
  for (const char* w : kHttp)
    if (starts_with_word(p, n, w)) return PlaintextKind::Http;
  for (const char* w : kIrc)
    if (starts_with_word(p, n, w)) return PlaintextKind::Irc;
  return PlaintextKind::Unknown;
}

}  // namespace

std::string_view TlsSession::plaintext_answer(PlaintextKind kind) {
  switch (kind) {
    case PlaintextKind::Http:
      return "HTTP/1.1 400 Bad Request\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: 52\r\n"
             "Connection: close\r\n"
             "\r\n"
             "This port speaks HTTPS: use https:// or wss:// URLs\n";
    case PlaintextKind::Irc:
      return "ERROR :Closing link: this port speaks TLS; reconnect with TLS enabled\r\n";
    case PlaintextKind::Unknown:
      break;
  }
  return "!! TLS_REQUIRED this port speaks TLS: connect with a TLS client (openssl s_client -connect host:port)\n";
}

// The first 9 bytes of a connection: TLS record header (type 22, version 3.x, length) and the
// handshake header (ClientHello, its length). Checked before OpenSSL sees them, so a plaintext
// client gets a readable answer instead of an alert, and a ClientHello claiming up to 128 KiB
// (OpenSSL's own bound, allocated as soon as the header arrives) is refused at our bound.
bool TlsSession::sniff(const uint8_t* p, size_t n, size_t* used, TlsFeed* r) {
  *used = 0;
  if (head_len_ == 0 && n > 0 && p[0] != 22) {
    if (text_byte(p[0])) {
      plaintext_kind_ = classify(p, n);
      fail(TlsError::Plaintext, "a plaintext client on a TLS port (first bytes are text)");
    } else {
      char b[96];
      std::snprintf(b, sizeof b, "not a TLS handshake (first byte 0x%02x, a ClientHello starts with 0x16)", p[0]);
      fail(TlsError::NotTls, b);
    }
    r->failed = true;
    return false;
  }
  size_t k = std::min(n, sizeof head_ - head_len_);
  std::memcpy(head_ + head_len_, p, k);
  head_len_ = static_cast<uint8_t>(head_len_ + k);
  *used = k;
  if (head_len_ < sizeof head_) return true;  // needs more input
  head_checked_ = true;
  size_t record_len = (static_cast<size_t>(head_[3]) << 8) | head_[4];
  size_t hello_len = (static_cast<size_t>(head_[6]) << 16) | (static_cast<size_t>(head_[7]) << 8) | head_[8];
  const char* why = nullptr;
  if (head_[1] != 3) why = "not a TLS record (version byte is not 3)";
  else if (record_len < 4) why = "a first record too short for a handshake message";
  else if (head_[5] != 1) why = "the first handshake message is not a ClientHello";
  if (why) {
    fail(TlsError::NotTls, why);
    r->failed = true;
    return false;
  }
  if (hello_len + 4 > limits_.handshake_input_max) {
    fail(TlsError::HandshakeTooLarge, "a ClientHello of " + std::to_string(hello_len) + " bytes (the limit is " +
                                          std::to_string(limits_.handshake_input_max) + " for the whole handshake)");
    r->failed = true;
    return false;
  }
  return true;
}

TlsFeed TlsSession::feed(const void* data, size_t n, Sink sink, void* sink_ctx) {
  TlsFeed r;
  auto* p = static_cast<const uint8_t*>(data);
  if (state_ != TlsState::Handshake && state_ != TlsState::Open) return r;  // nothing more is read
  if (!head_checked_) {
    size_t used = 0;
    if (!sniff(p, n, &used, &r)) return r;
    r.consumed = used;
    if (!head_checked_) return r;
    // The 9 bytes go to OpenSSL first, then the rest of this input.
    if (!run(head_, sizeof head_, sink, sink_ctx, &r)) return r;
    p += used;
    n -= used;
  }
  run(p, n, sink, sink_ctx, &r);
  return r;
}

// Feeds one span to OpenSSL: handshake first, then SSL_read until it wants more input. Returns
// false when the session left Handshake/Open.
bool TlsSession::run(const uint8_t* p, size_t n, Sink sink, void* sink_ctx, TlsFeed* r) {
  in_ = p;
  in_len_ = n;
  in_taken_ = 0;
  struct Clear {  // the span is the caller's: never kept past this call
    TlsSession* s;
    ~Clear() { s->in_ = nullptr; s->in_len_ = s->in_taken_ = 0; }
  } clear{this};
  ERR_clear_error();

  if (state_ == TlsState::Handshake) {
    // OpenSSL sees at most what the handshake budget has left.
    size_t room = limits_.handshake_input_max - std::min(handshake_in_, limits_.handshake_input_max);
    in_len_ = std::min(n, room);
    int rc = SSL_do_handshake(ssl_);
    handshake_in_ += in_taken_;
    r->consumed += (p == head_) ? 0 : in_taken_;
    if (rc != 1) {
      int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_WANT_READ) {
        if (in_taken_ == in_len_ && in_len_ < n) {
          fail(TlsError::HandshakeTooLarge, "the client sent more than " + std::to_string(limits_.handshake_input_max) +
                                                " bytes without completing the handshake");
          r->failed = true;
          check_output();
          return false;
        }
        check_output();
        return true;  // needs more input
      }
      std::string why = tls_drain_errors();
      fail(TlsError::Handshake, "TLS handshake failed: " + (why.empty() ? std::string("connection refused by OpenSSL") : why));
      r->failed = true;
      check_output();
      return false;
    }
    handshaked_ = true;
    state_ = TlsState::Open;
    r->handshake_done = true;
    // kTLS seam: with a socket BIO and SSL_OP_ENABLE_KTLS, BIO_get_ktls_send/recv would say here
    // whether the kernel took the keys; the transport would then bypass write()/output_data().
    in_len_ = n;  // what follows the client's Finished (often its first data) is application data
  }

  uint8_t buf[kRecord];
  size_t before = in_taken_;
  for (;;) {
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, sizeof buf, &got) == 1) {
      r->plaintext += got;
      if (!sink(sink_ctx, reinterpret_cast<const char*>(buf), got)) {
        fail(TlsError::Stopped, "the connection stopped reading");
        r->failed = true;
        break;
      }
      continue;  // drain: more plaintext may be pending in OpenSSL or in the input
    }
    int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_READ) break;  // every byte taken, no complete record held
    if (e == SSL_ERROR_ZERO_RETURN) {
      state_ = TlsState::PeerClosed;
      peer_notified_ = true;
      r->peer_closed = true;
      break;
    }
    std::string why = tls_drain_errors();
    fail(TlsError::Protocol, "TLS error: " + (why.empty() ? std::string("unexpected state from SSL_read") : why));
    r->failed = true;
    break;
  }
  r->consumed += (p == head_) ? 0 : in_taken_ - before;
  check_output();
  return state_ == TlsState::Open || state_ == TlsState::Handshake;
}

void TlsSession::check_output() {
  ERR_clear_error();
  if (output_size() > limits_.output_max && state_ != TlsState::Failed)
    fail(TlsError::OutputOverflow, "more than " + std::to_string(limits_.output_max) +
                                       " bytes of TLS output queued: the peer does not read");
}

size_t TlsSession::encrypt(const void* data, size_t n) {
  ERR_clear_error();
  size_t w = 0;
  if (SSL_write_ex(ssl_, data, n, &w) != 1) {
    std::string why = tls_drain_errors();
    fail(TlsError::Protocol, "TLS write failed: " + (why.empty() ? std::string("unexpected state from SSL_write") : why));
    return 0;
  }
  check_output();
  return w;
}

size_t TlsSession::write(const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n && can_write()) {
    size_t w = encrypt(p + done, std::min(n - done, kRecord));
    if (w == 0) break;
    done += w;
  }
  return done;
}

size_t TlsSession::writev(const struct iovec* iov, int iovcnt) {
  char stage[kRecord];
  size_t staged = 0, done = 0;
  for (int i = 0; i < iovcnt && can_write(); ++i) {
    auto* p = static_cast<const char*>(iov[i].iov_base);
    size_t len = iov[i].iov_len, off = 0;
    while (off < len && can_write()) {
      if (staged == 0 && len - off >= kRecord) {  // a full record straight from the caller's buffer
        size_t w = encrypt(p + off, kRecord);
        if (w == 0) return done;
        off += w;
        done += w;
        continue;
      }
      size_t k = std::min(len - off, kRecord - staged);
      std::memcpy(stage + staged, p + off, k);
      staged += k;
      off += k;
      if (staged == kRecord) {
        if (encrypt(stage, staged) == 0) return done;
        done += staged;
        staged = 0;
      }
    }
  }
  if (staged > 0 && state_ == TlsState::Open) {
    if (encrypt(stage, staged) == 0) return done;
    done += staged;
  }
  return done;
}

void TlsSession::consume_output(size_t n) {
  out_off_ += std::min(n, output_size());
  if (out_off_ == out_.size()) {
    out_off_ = 0;
    if (out_.capacity() > kKeepOutput)
      std::vector<char>().swap(out_);  // an idle connection holds no output buffer
    else
      out_.clear();
  }
}

void TlsSession::shutdown() {
  if (shutdown_sent_ || !ssl_) return;
  shutdown_sent_ = true;
  if (state_ == TlsState::Open || state_ == TlsState::PeerClosed) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's (we close the socket)
    ERR_clear_error();
    check_output();
  }
  if (state_ != TlsState::Failed) state_ = TlsState::Closed;
}

const char* TlsSession::version() const { return handshaked_ ? SSL_get_version(ssl_) : ""; }

const char* TlsSession::cipher() const {
  if (!handshaked_) return "";
  const char* c = SSL_get_cipher_name(ssl_);
  return c ? c : "";
}

}  // namespace ep
