// A throwaway self-signed ECDSA P-256 certificate, made with OpenSSL's API at test time (the C TLS
// tests and fuzz_tls): nothing secret is committed and nothing expires in the repository.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace tlstest {

inline EVP_PKEY* make_key() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); }

inline bool write_key(EVP_PKEY* key, const std::string& path, const char* passphrase = nullptr) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = passphrase ? PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                              const_cast<char*>(passphrase)) == 1
                       : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

// Writes cert.pem (CN=cn, SAN localhost/127.0.0.1, valid for a day) and key.pem for a new key into
// dir as <prefix>cert.pem / <prefix>key.pem. Returns false on any failure.
inline bool make_cert(const std::string& dir, const std::string& prefix, const char* cn, std::string* cert_path,
                      std::string* key_path) {
  EVP_PKEY* key = make_key();
  X509* x = X509_new();
  bool ok = key && x;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::rand() & 0x7fffffff) + 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    ok = san && X509_add_ext(x, san, -1) == 1;
    if (san) X509_EXTENSION_free(san);
    ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
  }
  *cert_path = dir + "/" + prefix + "cert.pem";
  *key_path = dir + "/" + prefix + "key.pem";
  if (ok) {
    FILE* f = std::fopen(cert_path->c_str(), "w");
    ok = f && PEM_write_X509(f, x) == 1;
    if (f) ok = std::fclose(f) == 0 && ok;
  }
  ok = ok && write_key(key, *key_path);
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace tlstest
