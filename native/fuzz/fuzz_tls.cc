// fuzz_tls: the TLS record layer as the engine drives it: arbitrary client bytes into a server
// TlsSession (native/core/tls_session), and scripted traffic from a real client SSL.
//
// Input: byte 0 picks the mode (even: raw, odd: scripted); then 4 bytes of chunk-size seed; then
//   raw:      1 byte of limits (handshake budget 512..16 KiB), then the client's bytes, fed in
//             chunks: the ClientHello parser, record layer, alerts and our own pre-checks (plaintext
//             and oversized-hello detection) against anything a client can send before and
//             instead of a handshake. Seeds: ClientHellos captured from `openssl s_client` and
//             node:tls, plaintext HTTP/IRC first lines, truncations.
//   scripted: 1 byte picks TLS 1.3 or 1.2; a real handshake with a client SSL over memory BIOs;
//             then 2-byte operations: client writes n bytes, server writes n bytes (write/writev),
//             deliver client→server in fuzzed chunks, deliver server→client, client KeyUpdate,
//             flip one bit of the ciphertext in flight, client close_notify, server shutdown.
// Invariants (FUZZ_CHECK aborts):
//   - no plaintext reaches the sink before the handshake completed;
//   - the server's plaintext is exactly a prefix of what the client wrote (all of it once every
//     byte is delivered and nothing was tampered with), and the same for the client's;
//   - after a tampered record: a Protocol/Handshake failure and nothing more delivered;
//   - bounds: the ciphertext a session queues stays under output_max + one flight; feed consumes
//     every byte unless the session failed or closed; a failed session stays failed and reads
//     nothing; the session's output buffer is freed once drained;
//   - no crash, no leak (ASan/LSan), no UB (UBSan).
// OpenSSL itself is not instrumented (the system's libssl): coverage guides the fuzzer through our
// code and the shapes of input it tries; OpenSSL's parsers are exercised, not mapped.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/tls_context.h"
#include "../core/tls_session.h"
#include "../test/tls_testcert.h"
#include "fuzz_util.h"

namespace {

using ep::TlsSession;
using ep::TlsState;

struct Fixture {
  std::string dir, cert, key;
  std::shared_ptr<const ep::TlsContext> ctx;
  SSL_CTX* client = nullptr;
};

void cleanup();

Fixture& fixture() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    char tmpl[] = "/tmp/epchat-fuzz-tls-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr, "mkdtemp");
    fx->dir = tmpl;
    FUZZ_CHECK(tlstest::make_cert(fx->dir, "", "localhost", &fx->cert, &fx->key), "test certificate");
    ep::TlsConfig cfg;
    cfg.cert_file = fx->cert;
    cfg.key_file = fx->key;
    ep::TlsLoadResult r;
    fx->ctx = ep::TlsContext::load(cfg, &r);
    FUZZ_CHECK(fx->ctx != nullptr, "%s", r.message.c_str());
    fx->client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(fx->client, SSL_VERIFY_NONE, nullptr);
    std::atexit(cleanup);
    return fx;
  }();
  return *f;
}

void cleanup() {
  Fixture& f = fixture();
  unlink(f.cert.c_str());
  unlink(f.key.c_str());
  rmdir(f.dir.c_str());
}

struct Sink {
  const TlsSession* s;
  std::string got;
  bool operator()(const char* p, size_t n) {
    FUZZ_CHECK(s->handshake_complete(), "plaintext before the handshake completed");
    FUZZ_CHECK(n > 0, "an empty delivery");
    got.append(p, n);
    return true;
  }
};

// Feeds bytes in chunks and checks the feed contract.
void feed(TlsSession& s, Sink& sink, const std::string& bytes, fuzz::Chunker& ch, const ep::TlsLimits& lim) {
  size_t off = 0;
  while (off < bytes.size()) {
    size_t n = std::min(ch.next(), bytes.size() - off);
    TlsState before = s.state();
    size_t got_before = sink.got.size();
    ep::TlsFeed f = s.feed(bytes.data() + off, n, sink);
    off += n;
    FUZZ_CHECK(f.consumed <= n, "consumed %zu of %zu", f.consumed, n);
    FUZZ_CHECK(f.plaintext == sink.got.size() - got_before, "plaintext count");
    if (before != TlsState::Handshake && before != TlsState::Open) {
      FUZZ_CHECK(f.consumed == 0 && f.plaintext == 0, "a %d session read input", static_cast<int>(before));
    } else if (!f.failed && !f.peer_closed) {
      FUZZ_CHECK(f.consumed == n, "consumed %zu of %zu without failing", f.consumed, n);
    }
    if (before == TlsState::Failed) FUZZ_CHECK(s.state() == TlsState::Failed, "left Failed");
    if (f.failed) FUZZ_CHECK(s.state() == TlsState::Failed && s.error() != ep::TlsError::None, "failed without error");
    FUZZ_CHECK(s.output_size() <= lim.output_max + 8192, "output %zu", s.output_size());
  }
}

void drain(TlsSession& s, std::string* to) {
  if (to) to->append(s.output_data(), s.output_size());
  s.consume_output(s.output_size());
  FUZZ_CHECK(s.buffered_capacity() <= 4096, "output buffer kept %zu bytes after a drain", s.buffered_capacity());
}

void raw(fuzz::Bytes& in, fuzz::Chunker& ch) {
  Fixture& fx = fixture();
  ep::TlsLimits lim;
  lim.handshake_input_max = 512 + (in.u8() % 32) * 512;
  TlsSession s(*fx.ctx, lim);
  Sink sink{&s, {}};
  std::string bytes(reinterpret_cast<const char*>(in.p), in.n);
  feed(s, sink, bytes, ch, lim);
  FUZZ_CHECK(sink.got.empty(), "plaintext from raw bytes");
  if (s.state() == TlsState::Handshake) FUZZ_CHECK(bytes.size() <= lim.handshake_input_max, "budget");
  if (s.error() == ep::TlsError::Plaintext) FUZZ_CHECK(!s.has_output(), "an alert for a plaintext client");
  drain(s, nullptr);
  s.shutdown();
  drain(s, nullptr);
}

std::string take(BIO* b) {
  std::string s;
  char buf[4096];
  int n;
  while ((n = BIO_read(b, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

void client_read(SSL* c, std::string* got) {
  char b[4096];
  size_t n;
  while (SSL_read_ex(c, b, sizeof b, &n) == 1) got->append(b, n);
  ERR_clear_error();
}

void scripted(fuzz::Bytes& in, fuzz::Chunker& ch) {
  Fixture& fx = fixture();
  ep::TlsLimits lim;
  TlsSession s(*fx.ctx, lim);
  Sink sink{&s, {}};
  SSL* c = SSL_new(fx.client);
  BIO* cin = BIO_new(BIO_s_mem());
  BIO* cout = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(cin, -1);
  SSL_set_bio(c, cin, cout);
  SSL_set_connect_state(c);
  if (in.u8() & 1) SSL_set_max_proto_version(c, TLS1_2_VERSION);

  // Handshake, unfuzzed bytes in fuzzed chunks.
  for (int i = 0; i < 8 && !(SSL_is_init_finished(c) && s.handshake_complete()); ++i) {
    SSL_do_handshake(c);
    feed(s, sink, take(cout), ch, lim);
    std::string down;
    drain(s, &down);
    BIO_write(cin, down.data(), static_cast<int>(down.size()));
  }
  SSL_do_handshake(c);
  ERR_clear_error();
  FUZZ_CHECK(s.handshake_complete() && SSL_is_init_finished(c), "the scripted handshake did not complete");

  std::string sent_up, sent_down, got_down, wire_up, wire_down;
  bool tampered = false, client_closed = false;
  int ops = 0;
  while (in.n >= 2 && ops++ < 64) {
    uint8_t op = in.u8(), arg = in.u8();
    size_t n = 1 + arg * 67u;  // 1 .. 17086
    switch (op % 8) {
      case 0: {  // client writes n bytes
        if (client_closed) break;
        std::string d(n, static_cast<char>('a' + op % 26));
        size_t w = 0;
        if (SSL_write_ex(c, d.data(), d.size(), &w) == 1) sent_up.append(d, 0, w);
        ERR_clear_error();
        wire_up += take(cout);
        break;
      }
      case 1: {  // server writes n bytes, in one piece or as short lines
        std::string d(n, static_cast<char>('A' + op % 26));
        size_t took;
        if (op & 8) {
          std::vector<iovec> iov;
          for (size_t off = 0; off < d.size(); off += 1 + arg % 13)
            iov.push_back({&d[off], std::min<size_t>(1 + arg % 13, d.size() - off)});
          took = s.writev(iov.data(), static_cast<int>(iov.size()));
        } else {
          took = s.write(d.data(), d.size());
        }
        FUZZ_CHECK(took <= d.size(), "took too much");
        FUZZ_CHECK(took == 0 || s.handshake_complete(), "wrote before the handshake");
        sent_down.append(d, 0, took);
        break;
      }
      case 2:  // deliver client → server
        feed(s, sink, wire_up, ch, lim);
        wire_up.clear();
        break;
      case 3: {  // deliver server → client
        std::string d;
        drain(s, &d);
        BIO_write(cin, d.data(), static_cast<int>(d.size()));
        client_read(c, &got_down);
        wire_up += take(cout);
        break;
      }
      case 4:  // client KeyUpdate
        if (!client_closed && SSL_key_update(c, (arg & 1) ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) == 1) {
          size_t w;
          if (SSL_write_ex(c, "k", 1, &w) == 1) sent_up += 'k';
        }
        ERR_clear_error();
        wire_up += take(cout);
        break;
      case 5:  // flip one bit of the ciphertext in flight
        if (!wire_up.empty()) {
          wire_up[(arg * 131u) % wire_up.size()] ^= static_cast<char>(1u << ((op >> 3) & 7));
          tampered = true;
        }
        break;
      case 6:  // client close_notify
        SSL_shutdown(c);
        ERR_clear_error();
        client_closed = true;
        wire_up += take(cout);
        break;
      case 7:  // server shutdown
        s.shutdown();
        break;
    }
    FUZZ_CHECK(sent_up.compare(0, sink.got.size(), sink.got) == 0 || tampered, "server plaintext is not what the client sent");
    FUZZ_CHECK(sink.got.size() <= sent_up.size(), "server got more than was sent");
    FUZZ_CHECK(sent_down.compare(0, got_down.size(), got_down) == 0, "client plaintext is not what the server sent");
  }
  // Deliver what remains.
  size_t before = sink.got.size();
  feed(s, sink, wire_up, ch, lim);
  if (tampered) {
    FUZZ_CHECK(sink.got.size() <= sent_up.size() && sent_up.compare(0, sink.got.size(), sink.got) == 0,
               "a tampered stream delivered bytes the client never sent");
  } else if (s.state() == TlsState::Open || s.state() == TlsState::PeerClosed || s.state() == TlsState::Closed) {
    if (s.state() != TlsState::Closed || before == sent_up.size())
      FUZZ_CHECK(s.state() == TlsState::Closed || sink.got == sent_up, "delivered %zu of %zu", sink.got.size(), sent_up.size());
  }
  std::string d;
  drain(s, &d);
  BIO_write(cin, d.data(), static_cast<int>(d.size()));
  client_read(c, &got_down);
  if (!tampered && s.state() != TlsState::Failed)
    FUZZ_CHECK(got_down == sent_down, "client got %zu of %zu", got_down.size(), sent_down.size());
  SSL_free(c);
  ERR_clear_error();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  fuzz::Bytes in{data, size};
  uint8_t mode = in.u8();
  fuzz::Chunker ch;
  for (auto& b : ch.seed) b = in.u8();
  if (mode & 1)
    scripted(in, ch);
  else
    raw(in, ch);
  ERR_clear_error();
  return 0;
}
