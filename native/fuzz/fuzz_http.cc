// fuzz_http: the HTTP listener's pure layers, everything between a client's first bytes and the
// WebSocket frames: http::RequestReader, map_static_path / mime_type, ws::accept_upgrade, SHA-1 and
// base64.
//
// Input: 1 byte max_head (32-8192), 1 byte max_headers (1-64), 1 byte max_target (1-4081), 1 byte
// policy (origin allow-list and subprotocol list), 4 bytes of chunk-size seed, then the client's bytes.
// Invariants:
//   - the same bytes in one piece and in fuzzed pieces give the same verdict: state, status,
//     reason, bytes taken (but after an Error), and on Done the same request (method, target, version, every header);
//   - on Done: the head is exactly the input's first `taken` bytes, ends in CRLF CRLF at the first
//     empty line (an independent search), holds no bare LF, is within max_head; at most max_headers
//     headers; every view lies inside the head; names are tokens; values have no control byte but
//     HTAB and no blank at either end; the target is visible ASCII within max_target; Host count
//     and the no-body rule hold. NeedMore only with fewer than max_head bytes and no head end seen.
//     Errors carry one of the documented statuses;
//   - map_static_path (of the parsed target and of the raw bytes) never leaves the root: every
//     segment is a plain name (not empty, no leading '.', no NUL/CTL/'\'); a path with a ".."
//     segment after an independent percent-decoding is refused;
//   - accept_upgrade: a 101 only for a request that has everything RFC 6455 §4.2.1 asks; its
//     Sec-WebSocket-Accept equals an independent SHA-1 + base64 of key + GUID; the chosen protocol
//     was offered and is the server's first preference among those offered; a listed origin policy
//     is obeyed; a refusal is a complete response with Connection: close and a correct Content-Length;
//   - SHA-1 of arbitrary bytes equals the independent one; base64 decode(encode(x)) == x, and a
//     string that decodes re-encodes to itself (one spelling per value).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../core/base64.h"
#include "../core/http_request.h"
#include "../core/sha1.h"
#include "../core/static_path.h"
#include "../core/ws_handshake.h"
#include "fuzz_util.h"

namespace {

using ep::http::RequestReader;
using State = RequestReader::State;

// ---- independent oracles --------------------------------------------------------------------

// SHA-1 over a padded copy of the whole message, with the 16-word circular schedule (FIPS 180-4
// §6.1.3's alternative method), so it shares no structure with native/core/sha1.cc.
std::string oracle_sha1(std::string_view m) {
  std::vector<uint8_t> b(m.begin(), m.end());
  uint64_t bits = static_cast<uint64_t>(m.size()) * 8;
  b.push_back(0x80);
  while (b.size() % 64 != 56) b.push_back(0);
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  uint32_t H[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  auto S = [](uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); };
  for (size_t off = 0; off < b.size(); off += 64) {
    uint32_t W[16];
    for (int t = 0; t < 16; ++t) {
      W[t] = 0;
      for (int k = 0; k < 4; ++k) W[t] = (W[t] << 8) | b[off + 4 * static_cast<size_t>(t) + static_cast<size_t>(k)];
    }
    uint32_t A = H[0], B = H[1], C = H[2], D = H[3], E = H[4];
    for (int t = 0; t < 80; ++t) {
      int s = t & 15;
      if (t >= 16) W[s] = S(W[(s + 13) & 15] ^ W[(s + 8) & 15] ^ W[(s + 2) & 15] ^ W[s], 1);
      uint32_t f = t < 20 ? (B & C) ^ (~B & D) : t < 40 ? B ^ C ^ D : t < 60 ? (B & C) ^ (B & D) ^ (C & D) : B ^ C ^ D;
      static const uint32_t K[4] = {0x5A827999u, 0x6ED9EBA1u, 0x8F1BBCDCu, 0xCA62C1D6u};
      uint32_t tmp = S(A, 5) + f + E + W[s] + K[t / 20];
      E = D, D = C, C = S(B, 30), B = A, A = tmp;
    }
    H[0] += A, H[1] += B, H[2] += C, H[3] += D, H[4] += E;
  }
  std::string out;
  for (uint32_t h : H)
    for (int k = 3; k >= 0; --k) out += static_cast<char>(h >> (8 * k));
  return out;
}

// Base64 with a bit accumulator.
std::string oracle_b64(std::string_view in) {
  static const char* A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int nbits = 0;
  for (char c : in) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      out += A[(acc >> nbits) & 63];
    }
  }
  if (nbits) out += A[(acc << (6 - nbits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

std::string oracle_accept(std::string_view key) {
  return oracle_b64(oracle_sha1(std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
}

// Percent-decoding that skips what it cannot decode (the oracle only needs to see "..").
std::string oracle_decode(std::string_view s) {
  std::string out;
  auto hv = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hv(s[i + 1]) >= 0 && hv(s[i + 2]) >= 0) {
      out += static_cast<char>(hv(s[i + 1]) * 16 + hv(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool ieq(std::string_view a, std::string_view b) { return ep::http::iequals(a, b); }

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// ---- the reader -----------------------------------------------------------------------------

struct Result {
  State state;
  int status;
  std::string reason;
  size_t taken;
  std::string method, target, head;
  int version;
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const Result& o) const {
    // After an Error the connection is answered and closed: how much was taken does not matter.
    bool same_taken = state == State::Error || taken == o.taken;
    return state == o.state && status == o.status && reason == o.reason && same_taken && method == o.method &&
           target == o.target && head == o.head && version == o.version && headers == o.headers;
  }
};

Result run(RequestReader* r, std::string_view in, fuzz::Chunker* ch) {
  size_t off = 0, taken = 0;
  while (off < in.size() && r->state() == State::NeedMore) {
    size_t n = ch ? ch->next() : in.size();
    if (n > in.size() - off) n = in.size() - off;
    size_t t = r->feed(in.data() + off, n);
    FUZZ_CHECK(t <= n, "took %zu of %zu bytes", t, n);
    FUZZ_CHECK(r->state() != State::NeedMore || t == n, "NeedMore but took %zu of %zu", t, n);
    taken += t;
    off += n;
  }
  Result res{r->state(), r->status(), r->reason(), taken, {}, {}, {}, static_cast<int>(r->version()), {}};
  if (r->state() == State::Done) {
    res.method = std::string(r->method_name());
    res.target = std::string(r->target());
    res.head = std::string(r->head());
    for (size_t i = 0; i < r->header_count(); ++i)
      res.headers.emplace_back(std::string(r->header_name(i)), std::string(r->header_value(i)));
  }
  return res;
}

// Where an independent search puts the end of the head: leading CRLFs skipped, then the first
// CRLF CRLF. npos if none.
size_t oracle_head_end(std::string_view in) {
  size_t start = 0;
  while (in.substr(start, 2) == "\r\n") start += 2;
  size_t p = in.find("\r\n\r\n", start);
  return p == std::string_view::npos ? p : p + 4;
}

void check_request(const RequestReader& r, const Result& res, std::string_view in, const ep::http::Limits& lim) {
  char buf[200];
  fuzz::dump(in.substr(0, 60), buf, sizeof buf);
  if (res.state == State::NeedMore) {
    FUZZ_CHECK(in.size() < lim.max_head, "undecided after %zu bytes (max_head %zu)", in.size(), lim.max_head);
    FUZZ_CHECK(res.taken == in.size(), "NeedMore but did not take everything");
    size_t e = oracle_head_end(in);
    FUZZ_CHECK(e == std::string_view::npos, "head end at %zu not seen: %s", e, buf);
    return;
  }
  if (res.state == State::Error) {
    int s = res.status;
    FUZZ_CHECK(s == 400 || s == 405 || s == 414 || s == 431 || s == 501 || s == 505, "status %d", s);
    FUZZ_CHECK(!res.reason.empty(), "error with no reason");
    return;
  }
  FUZZ_CHECK(res.status == 0 && res.reason.empty(), "Done with a status");
  std::string_view head = r.head();
  FUZZ_CHECK(head == in.substr(0, res.taken), "head is not the input's first bytes");
  FUZZ_CHECK(head.size() <= lim.max_head, "head of %zu bytes, max %zu", head.size(), lim.max_head);
  FUZZ_CHECK(oracle_head_end(in) == head.size(), "head ends at %zu, oracle %zu: %s", head.size(), oracle_head_end(in), buf);
  for (size_t i = 0; i < head.size(); ++i)
    if (head[i] == '\n') FUZZ_CHECK(i > 0 && head[i - 1] == '\r', "bare LF in an accepted head");
  FUZZ_CHECK(r.header_count() <= lim.max_headers, "%zu headers, max %zu", r.header_count(), lim.max_headers);
  FUZZ_CHECK(r.method() == ep::http::Method::Get ? r.method_name() == "GET"
                                                 : r.method() == ep::http::Method::Head && r.method_name() == "HEAD",
             "method");
  FUZZ_CHECK(r.version() != ep::http::Version::None, "no version");
  std::string_view t = r.target();
  FUZZ_CHECK(inside(t, head) && inside(r.method_name(), head), "request line view outside the head");
  FUZZ_CHECK(!t.empty() && t.size() <= lim.max_target, "target of %zu bytes, max %zu", t.size(), lim.max_target);
  for (char c : t) FUZZ_CHECK(c > 0x20 && c < 0x7F, "target byte %02x", static_cast<uint8_t>(c));
  for (size_t i = 0; i < r.header_count(); ++i) {
    std::string_view n = r.header_name(i), v = r.header_value(i);
    FUZZ_CHECK(inside(n, head) && inside(v, head), "header view outside the head");
    FUZZ_CHECK(!n.empty(), "empty header name");
    for (char c : n) FUZZ_CHECK(ep::http::is_tchar(static_cast<uint8_t>(c)), "name byte %02x", static_cast<uint8_t>(c));
    for (char c : v) {
      uint8_t u = static_cast<uint8_t>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7F), "value byte %02x", u);
    }
    FUZZ_CHECK(v.empty() || (v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t'),
               "value not trimmed");
    FUZZ_CHECK(!ieq(n, "Content-Length") && !ieq(n, "Transfer-Encoding"), "a body header accepted");
  }
  size_t hosts = r.header_count("host");
  FUZZ_CHECK(r.version() == ep::http::Version::Http11 ? hosts == 1 : hosts <= 1, "%zu Host headers", hosts);
}

// ---- static paths ---------------------------------------------------------------------------

void check_path(std::string_view target) {
  static const std::string root = "/srv/epchat/web";
  ep::http::StaticPath sp = ep::http::map_static_path(root, target);
  int s = sp.status;
  FUZZ_CHECK(s == 0 || s == 400 || s == 404 || s == 414, "path status %d", s);
  std::string dec = oracle_decode(target.substr(0, target.find_first_of("?#")));
  bool dotdot = false;
  for (size_t i = 0; i <= dec.size();) {
    size_t j = dec.find('/', i);
    if (j == std::string::npos) j = dec.size();
    if (dec.compare(i, j - i, "..") == 0 && j - i == 2) dotdot = true;
    i = j + 1;
  }
  bool absolute = target.size() >= 7 && (ieq(target.substr(0, 7), "http://") || ieq(target.substr(0, 8), "https://"));
  if (dotdot && !absolute) FUZZ_CHECK(s != 0, "a '..' path was mapped");
  if (s != 0) {
    FUZZ_CHECK(sp.path.empty(), "refused but a path given");
    return;
  }
  FUZZ_CHECK(sp.path.compare(0, root.size() + 1, root + "/") == 0, "path outside the root");
  std::string_view rel(sp.path);
  rel.remove_prefix(root.size() + 1);
  FUZZ_CHECK(!rel.empty(), "empty relative path");
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string_view::npos) j = rel.size();
    std::string_view seg = rel.substr(i, j - i);
    FUZZ_CHECK(!seg.empty() && seg[0] != '.', "bad segment in %s", sp.path.c_str());
    for (char c : seg) {
      uint8_t u = static_cast<uint8_t>(c);
      FUZZ_CHECK(u >= 0x20 && u != 0x7F && c != '\\', "byte %02x in a mapped path", u);
    }
    i = j + 1;
  }
  FUZZ_CHECK(rel.size() <= 1024 + 11, "path of %zu bytes", rel.size());
  std::string_view mt = ep::http::mime_type(sp.path);
  FUZZ_CHECK(!mt.empty(), "no MIME type");
}

// ---- the handshake --------------------------------------------------------------------------

bool is_offered(const RequestReader& r, std::string_view p) {
  bool found = false;
  r.for_each_element("Sec-WebSocket-Protocol", [&](std::string_view e) {
    found = e == p;
    return !found;
  });
  return found;
}

void check_response_frame(const std::string& resp, int status) {
  std::string line = "HTTP/1.1 " + std::to_string(status) + " ";
  FUZZ_CHECK(resp.compare(0, line.size(), line) == 0, "response does not start with its status");
  size_t end = resp.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos, "response head not terminated");
  if (status == 101) {
    FUZZ_CHECK(end + 4 == resp.size(), "bytes after a 101");
    return;
  }
  std::string_view head(resp.data(), end + 2);
  FUZZ_CHECK(head.find("\r\nConnection: close\r\n") != std::string_view::npos, "error without Connection: close");
  size_t cl = head.find("\r\nContent-Length: ");
  FUZZ_CHECK(cl != std::string_view::npos, "error without Content-Length");
  size_t len = std::strtoul(resp.c_str() + cl + 18, nullptr, 10);
  FUZZ_CHECK(len == resp.size() - end - 4, "Content-Length %zu, body %zu", len, resp.size() - end - 4);
}

void check_handshake(const RequestReader& r, uint8_t policy) {
  static const std::vector<std::string> kLists[4] = {
      {}, {"*"}, {"http://example.com", "https://chat.example"}, {"https://chat.example:7080"}};
  static const std::vector<std::string> kProtocols[4] = {
      {"text.ircv3.net", "binary.ircv3.net", "epchat.line"}, {}, {"epchat.line", "text.ircv3.net"}, {"chat"}};
  ep::ws::HandshakeConfig cfg{kLists[policy & 3], kProtocols[(policy >> 2) & 3]};
  ep::ws::Handshake h = ep::ws::accept_upgrade(r, cfg);
  if (h.status != 0) {
    FUZZ_CHECK(h.status == 400 || h.status == 403 || h.status == 426, "handshake status %d", h.status);
    check_response_frame(h.response, h.status);
    if (h.status == 426) FUZZ_CHECK(h.response.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos, "426 without version");
    return;
  }
  check_response_frame(h.response, 101);
  FUZZ_CHECK(r.method() == ep::http::Method::Get && r.version() == ep::http::Version::Http11, "101 for a non-GET/1.1");
  FUZZ_CHECK(r.has_token("Upgrade", "websocket") && r.has_token("Connection", "upgrade"), "101 without Upgrade/Connection");
  FUZZ_CHECK(r.header_count("Sec-WebSocket-Version") == 1 && r.header("Sec-WebSocket-Version") == "13", "101 without version 13");
  std::string_view key = r.header("Sec-WebSocket-Key");
  FUZZ_CHECK(r.header_count("Sec-WebSocket-Key") == 1 && key.size() == 24 && key.substr(22) == "==", "101 with a bad key");
  FUZZ_CHECK(h.accept == oracle_accept(key), "accept key differs from the oracle");
  FUZZ_CHECK(h.response.find("\r\nSec-WebSocket-Accept: " + h.accept + "\r\n") != std::string::npos, "accept not in the 101");
  if (r.header_count("Origin")) {
    std::string_view o = r.header("Origin");
    const auto& list = cfg.origins;
    if (!list.empty() && list[0] != "*") {
      bool listed = false;
      for (const std::string& a : list) listed = listed || ieq(o, a);
      FUZZ_CHECK(listed, "unlisted origin accepted");
    }
    if (list.empty()) {
      size_t sep = o.find("://");
      FUZZ_CHECK(sep != std::string_view::npos && ieq(o.substr(sep + 3), r.header("Host")), "cross-host origin accepted");
    }
  }
  if (!h.protocol.empty()) {
    FUZZ_CHECK(is_offered(r, h.protocol), "protocol not offered");
    FUZZ_CHECK(h.response.find("\r\nSec-WebSocket-Protocol: " + std::string(h.protocol) + "\r\n") != std::string::npos,
               "protocol not in the 101");
  }
  for (const std::string& p : cfg.protocols) {
    if (p == h.protocol) break;
    FUZZ_CHECK(!is_offered(r, p), "a preferred protocol was offered but not chosen");
  }
  if (h.protocol.empty()) FUZZ_CHECK(h.response.find("Sec-WebSocket-Protocol") == std::string::npos, "protocol header with none");
}

void check_crypto(std::string_view s) {
  std::string_view piece = s.substr(0, 300);
  ep::Sha1 h;
  h.update(piece.substr(0, piece.size() / 2));
  h.update(piece.substr(piece.size() / 2));
  ep::Sha1::Digest d = h.finish();
  FUZZ_CHECK(std::string(reinterpret_cast<const char*>(d.data()), d.size()) == oracle_sha1(piece), "SHA-1 differs");
  std::string enc = ep::base64::encode(piece);
  FUZZ_CHECK(enc == oracle_b64(piece), "base64 encoding differs");
  std::string back;
  FUZZ_CHECK(ep::base64::decode(enc, &back) && back == piece, "base64 round trip");
  if (ep::base64::decode(piece, &back)) FUZZ_CHECK(ep::base64::encode(back) == piece, "a non-canonical spelling decoded");
  FUZZ_CHECK(ep::ws::accept_key(piece.substr(0, 40)) == oracle_accept(piece.substr(0, 40)), "accept_key differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in{data, size};
  ep::http::Limits lim;
  lim.max_head = 32 + static_cast<size_t>(in.u8()) * 32;
  lim.max_headers = 1 + in.u8() % 64;
  lim.max_target = 1 + static_cast<size_t>(in.u8()) * 16;
  uint8_t policy = in.u8();
  fuzz::Chunker ch;
  for (auto& s : ch.seed) s = in.u8();
  std::string_view stream(reinterpret_cast<const char*>(in.p), in.n);

  RequestReader whole(lim), chunked(lim);
  Result a = run(&whole, stream, nullptr);
  Result b = run(&chunked, stream, &ch);
  char buf[200];
  fuzz::dump(stream.substr(0, 60), buf, sizeof buf);
  FUZZ_CHECK(a == b, "split changed the verdict: state %d/%d status %d/%d taken %zu/%zu: %s", static_cast<int>(a.state),
             static_cast<int>(b.state), a.status, b.status, a.taken, b.taken, buf);
  check_request(whole, a, stream, lim);
  if (a.state == State::Done) {
    check_path(whole.target());
    check_handshake(whole, policy);
  }
  check_path(stream.substr(0, 2048));
  check_crypto(stream);
  // reset() gives a fresh reader: the same bytes give the same result again.
  whole.reset();
  Result c = run(&whole, stream, nullptr);
  FUZZ_CHECK(c == a, "reset reader disagrees");
  return 0;
}
