// The server TLS context: policy and certificate loading (tls_context.h).
#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <utility>

namespace ep {

namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) and an AEAD cipher, nothing else (no CBC, no RSA key
// exchange, no DHE). TLS 1.3's suites are all AEAD; OpenSSL's default list and order stand.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";

// ALPN: the client's list is read and nothing is selected; NOACK continues the handshake without
// an ALPN extension in the answer (no alert), which HTTP clients take as HTTP/1.1.
int alpn_ignore(SSL*, const unsigned char**, unsigned char*, const unsigned char*, unsigned int, void*) {
  return SSL_TLSEXT_ERR_NOACK;
}

// SNI: one certificate whatever name was asked for; NOACK says the name was not used (RFC 6066 §3),
// never an alert. A later multi-certificate listener would choose its SSL_CTX here.
int sni_ignore(SSL*, int*, void*) { return SSL_TLSEXT_ERR_NOACK; }

// An encrypted key would make OpenSSL prompt on the terminal: answer "no passphrase" instead, and
// remember that one was asked for so the error can say so.
int no_passphrase(char*, int, int, void* asked) {
  if (asked) *static_cast<bool*>(asked) = true;
  return -1;
}

TlsLoadResult fail(TlsLoadError code, std::string what, const std::string& file) {
  std::string reason = tls_drain_errors();
  TlsLoadResult r;
  r.code = code;
  r.message = std::move(what);
  if (!file.empty()) r.message += " " + file;
  r.message += ": " + (reason.empty() ? std::string("unknown OpenSSL error") : reason);
  return r;
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

}  // namespace

std::string tls_drain_errors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    char buf[256];
    if (ERR_SYSTEM_ERROR(e)) {  // errno from fopen and friends: strerror's words, not a code
      reason = std::strerror(static_cast<int>(ERR_GET_REASON(e)));
    } else if (!reason) {
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
    if (out.find(reason) != std::string::npos) continue;  // the same reason from two layers
    size_t len = std::strlen(reason);
    if (!out.empty() && len > 4 && std::strcmp(reason + len - 4, " lib") == 0) continue;  // "PEM lib": a wrapper
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}

std::shared_ptr<const TlsContext> TlsContext::load(const TlsConfig& cfg, TlsLoadResult* err) {
  TlsLoadResult scratch;
  if (!err) err = &scratch;
  *err = TlsLoadResult{};
  ERR_clear_error();

  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *err = fail(TlsLoadError::Setup, "cannot create a TLS context", "");
    return nullptr;
  }
  SSL_CTX* c = ctx.get();

  // Protocol policy.
  if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
      !SSL_CTX_set_cipher_list(c, kTls12Ciphers) ||
      !SSL_CTX_set1_groups_list(c, kGroups)) {
    *err = fail(TlsLoadError::Setup, "OpenSSL refused the TLS policy (TLS 1.2+, ECDHE+AEAD, X25519/P-256/P-384)", "");
    return nullptr;
  }
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET | SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  // Resumption by stateless tickets only: no per-session state kept on the server between
  // connections (a session cache would hold up to 20480 sessions by default).
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 1);
  // RELEASE_BUFFERS: no 16 KiB read/write record buffers held while a connection is idle.
  // ENABLE_PARTIAL_WRITE and ACCEPT_MOVING_WRITE_BUFFER: our memory BIO never refuses a write, so
  // today SSL_write always completes; both matter once a socket BIO (kTLS) can stop it half-way and
  // the retry comes from an output queue whose storage may have moved.
  long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
  if (cfg.release_buffers) mode |= SSL_MODE_RELEASE_BUFFERS;
  SSL_CTX_set_mode(c, mode);
  if (!cfg.release_buffers) SSL_CTX_clear_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_alpn_select_cb(c, alpn_ignore, nullptr);
  SSL_CTX_set_tlsext_servername_callback(c, sni_ignore);

  // Certificate chain and key.
  if (SSL_CTX_use_certificate_chain_file(c, cfg.cert_file.c_str()) != 1) {
    *err = fail(TlsLoadError::CertFile, "cannot load the TLS certificate chain", cfg.cert_file);
    return nullptr;
  }
  bool asked = false;
  SSL_CTX_set_default_passwd_cb(c, no_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(c, &asked);
  int key_ok = SSL_CTX_use_PrivateKey_file(c, cfg.key_file.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);  // no pointer to this frame survives
  if (key_ok != 1) {
    // SSL_CTX_use_PrivateKey_file already compares the key with the certificate.
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_X509 && ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH) {
      *err = fail(TlsLoadError::KeyMismatch, "the TLS key " + cfg.key_file + " does not belong to the certificate in",
                  cfg.cert_file);
      return nullptr;
    }
    if (asked) {
      tls_drain_errors();
      *err = TlsLoadResult{TlsLoadError::KeyFile,
                           "cannot load the TLS key " + cfg.key_file +
                               ": it is encrypted (protected by a passphrase); epchat needs an unencrypted key "
                               "(keep it readable by the server's user only, mode 0600)"};
      return nullptr;
    }
    *err = fail(TlsLoadError::KeyFile, "cannot load the TLS key", cfg.key_file);
    return nullptr;
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    *err = fail(TlsLoadError::KeyMismatch, "the TLS key " + cfg.key_file + " does not belong to the certificate in",
                cfg.cert_file);
    return nullptr;
  }
  ERR_clear_error();
  return std::shared_ptr<const TlsContext>(new TlsContext(ctx.release(), cfg));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace ep
