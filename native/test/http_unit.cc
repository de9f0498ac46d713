// C-level tests of the HTTP side of the engine, without sockets: SHA-1 and base64 against their
// RFCs' test vectors, the request-head reader (every verdict, any split, pipelined bytes), static
// path mapping and MIME types, the WebSocket handshake (RFC 6455 §4.2) and error responses.
// Prints one line per failure and "N passed, N failed"; exit status 1 on any failure.
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "../core/base64.h"
#include "../core/http_request.h"
#include "../core/http_response.h"
#include "../core/sha1.h"
#include "../core/static_path.h"
#include "../core/ws_deflate.h"
#include "../core/ws_handshake.h"

namespace {


using ep::http::RequestReader;
using State = RequestReader::State;

std::string hex(const ep::Sha1::Digest& d) {
  std::string s;
  char b[3];
  for (uint8_t x : d) {
    std::snprintf(b, sizeof b, "%02x", x);
    s += b;
  }
  return s;
}

// Feeds s in pieces of `step` bytes (0: in one piece); returns the bytes taken in all.
size_t feed(RequestReader* r, const std::string& s, size_t step = 0) {
  size_t taken = 0, off = 0;
  while (off < s.size() && r->state() == State::NeedMore) {
    size_t n = step ? std::min(step, s.size() - off) : s.size() - off;
    taken += r->feed(s.data() + off, n);
    off += n;
  }
  return taken;
}

// The status a request gets (0 when Done, -1 while NeedMore), the same for every split tried.
int verdict(const std::string& s, ep::http::Limits lim = {}) {
  int first = -2;
  for (size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{64}}) {
    RequestReader r(lim);
    feed(&r, s, step);
    int v = r.state() == State::Done ? 0 : r.state() == State::NeedMore ? -1 : r.status();
    if (first == -2) first = v;
    else if (v != first) return -100;  // split-dependent: always a failure
  }
  return first;
}

const std::string kUpgrade =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

ep::ws::Handshake shake(const std::string& req, const ep::ws::HandshakeConfig& cfg) {
  RequestReader r;
  feed(&r, req);
  return ep::ws::accept_upgrade(r, cfg);
}

TEST(sha1_rfc3174_vectors) {
  bool ok = true;
  CHECK(hex(ep::Sha1::of("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(hex(ep::Sha1::of("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(ep::Sha1::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  ep::Sha1 h;
  std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(a);
  CHECK(hex(h.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  h.reset();
  // RFC 3174's fourth test, fed one byte at a time to cross every block boundary.
  std::string four;
  for (int i = 0; i < 10; ++i) four += "0123456701234567012345670123456701234567012345670123456701234567";
  for (char c : four) h.update(&c, 1);
  CHECK(hex(h.finish()) == "dea356a2cddd90c7a7ecedc5ebb563934f460452");
  // Lengths around the padding boundary (55, 56, 63, 64 bytes): one piece equals many pieces.
  for (size_t n : {55, 56, 57, 63, 64, 65, 119, 120}) {
    std::string s(n, 'x');
    ep::Sha1 p;
    p.update(s.substr(0, n / 3));
    p.update(s.substr(n / 3));
    CHECK(p.finish() == ep::Sha1::of(s));
  }
  return ok;
}

TEST(base64_rfc4648_vectors) {
  bool ok = true;
  const char* v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
                        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto& t : v) {
    CHECK(ep::base64::encode(t[0]) == t[1]);
    std::string out = "junk";
    CHECK(ep::base64::decode(t[1], &out) && out == t[0]);
  }
  std::string out;
  for (const char* bad : {"Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9v\n", " Zm9v", "Zm 9", "Zg==Zg==", "Zm-v", "Zm_v"})
    CHECK(!ep::base64::decode(bad, &out));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(ep::base64::decode(ep::base64::encode(all), &out) && out == all);
  return ok;
}

TEST(ws_accept_key_rfc6455_example) {
  bool ok = true;
  CHECK(ep::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  return ok;
}

TEST(http_reads_a_browser_request_in_any_split) {
  bool ok = true;
  std::string req =
      "GET /app.js?v=3 HTTP/1.1\r\nHost: chat.example:7080\r\nUser-Agent: Mozilla/5.0 (X11)\r\n"
      "Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nX-Empty:\r\nX-Padded: \t value \t\r\n\r\n";
  for (size_t step : {0, 1, 3, 16}) {
    RequestReader r;
    size_t taken = feed(&r, req, step);
    CHECK(r.state() == State::Done);
    CHECK(taken == req.size());
    CHECK(r.method() == ep::http::Method::Get && r.method_name() == "GET");
    CHECK(r.target() == "/app.js?v=3");
    CHECK(r.version() == ep::http::Version::Http11);
    CHECK(r.header_count() == 6);
    CHECK(r.header("host") == "chat.example:7080" && r.header("HOST") == "chat.example:7080");
    CHECK(r.header("x-empty").empty() && r.header_count("X-Empty") == 1);
    CHECK(r.header("X-Padded") == "value");
    CHECK(r.header("Cookie").data() == nullptr);
    CHECK(r.head() == req);
  }
  return ok;
}

TEST(http_keeps_bytes_after_the_head) {
  bool ok = true;
  std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);  // RFC 6455 §5.7 "Hello"
  std::string all = kUpgrade + frame;
  for (size_t step : {0, 1, 5, 100}) {
    RequestReader r;
    size_t off = 0, taken = 0;
    while (r.state() == State::NeedMore && off < all.size()) {
      size_t n = step ? std::min(step, all.size() - off) : all.size() - off;
      taken += r.feed(all.data() + off, n);
      off += n;
    }
    CHECK(r.state() == State::Done);
    CHECK(taken == kUpgrade.size());
    CHECK(all.substr(taken) == frame);  // the caller still has the frame
    CHECK(r.head() == kUpgrade);
    CHECK(r.feed("x", 1) == 0);  // takes nothing once Done
  }
  return ok;
}

TEST(http_verdicts) {
  bool ok = true;
  const std::string host = "Host: h\r\n";
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "\r\n") == 0);
  CHECK(verdict("HEAD / HTTP/1.1\r\n" + host + "\r\n") == 0);
  CHECK(verdict("GET / HTTP/1.0\r\n\r\n") == 0);                        // 1.0 may omit Host
  CHECK(verdict("\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n") == 0);    // leading empty lines skipped
  CHECK(verdict("GET http://h/x HTTP/1.1\r\n" + host + "\r\n") == 0);   // absolute-form
  CHECK(verdict("GET / HTTP/1.1\r\n" + host) == -1);                    // not finished
  CHECK(verdict("GET / HTTP/1.1\n" + host + "\r\n") == 400);            // bare LF
  CHECK(verdict("GET / HTTP/1.1\r\nHost: h\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n") == 400);   // obs-fold
  CHECK(verdict("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400);                  // indented first header
  CHECK(verdict("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400);                  // blank before colon
  CHECK(verdict("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: a" + std::string(1, '\0') + "b\r\n\r\n") == 400);  // NUL
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: a\x01\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: a\x7f\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n") == 400);       // lone CR
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X: caf\xc3\xa9\r\n\r\n") == 0);  // obs-text is fine
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + ": v\r\n\r\n") == 400);           // empty name
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "X(y): v\r\n\r\n") == 400);       // not a token
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + "transfer-encoding: chunked\r\n\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1\r\n\r\n") == 400);                          // no Host
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + host + "\r\n") == 400);       // two Hosts
  CHECK(verdict("GET / HTTP/1.0\r\n" + host + host + "\r\n") == 400);
  CHECK(verdict("POST / HTTP/1.1\r\n" + host + "\r\n") == 405);
  CHECK(verdict("OPTIONS * HTTP/1.1\r\n" + host + "\r\n") == 405);
  CHECK(verdict("BREW / HTTP/1.1\r\n" + host + "\r\n") == 501);
  CHECK(verdict("get / HTTP/1.1\r\n" + host + "\r\n") == 501);              // methods are case-sensitive
  CHECK(verdict("GET / HTTP/2.0\r\n" + host + "\r\n") == 505);
  CHECK(verdict("GET / HTTP/1.2\r\n" + host + "\r\n") == 505);
  CHECK(verdict("GET / http/1.1\r\n" + host + "\r\n") == 400);
  CHECK(verdict("GET / HTTP/1.1 \r\n" + host + "\r\n") == 400);
  CHECK(verdict("GET /\r\n\r\n") == 400);                                   // HTTP/0.9
  CHECK(verdict("GET  / HTTP/1.1\r\n" + host + "\r\n") == 400);             // two spaces
  CHECK(verdict("G(T / HTTP/1.1\r\n" + host + "\r\n") == 400);
  CHECK(verdict("GET x HTTP/1.1\r\n" + host + "\r\n") == 400);              // neither a path nor a URL
  CHECK(verdict("GET /\x80 HTTP/1.1\r\n" + host + "\r\n") == 400);
  return ok;
}

TEST(http_bounds) {
  bool ok = true;
  ep::http::Limits lim;
  lim.max_head = 1024;
  lim.max_headers = 4;
  lim.max_target = 100;
  std::string host = "Host: h\r\n";
  CHECK(verdict("GET /" + std::string(99, 'a') + " HTTP/1.1\r\n" + host + "\r\n", lim) == 0);
  CHECK(verdict("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n" + host + "\r\n", lim) == 414);
  // A request line that never ends is refused once it is longer than any acceptable one.
  CHECK(verdict("GET /" + std::string(200, 'a'), lim) == 414);
  CHECK(verdict("GET /" + std::string(120, 'a'), lim) == -1);
  std::string four = "A: 1\r\nB: 2\r\nC: 3\r\n";
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + four + "\r\n", lim) == 0);
  CHECK(verdict("GET / HTTP/1.1\r\n" + host + four + "D: 4\r\n\r\n", lim) == 431);
  // Exactly max_head bytes is accepted; one more is 431, whether or not the rest ever arrives.
  std::string base = "GET / HTTP/1.1\r\n" + host + "X: ";
  std::string exact = base + std::string(1024 - base.size() - 4, 'v') + "\r\n\r\n";
  CHECK(exact.size() == 1024 && verdict(exact, lim) == 0);
  std::string over = base + std::string(1024 - base.size() - 3, 'v') + "\r\n\r\n";
  CHECK(verdict(over, lim) == 431);
  CHECK(verdict(base + std::string(5000, 'v'), lim) == 431);
  RequestReader r(lim);
  std::string big(5000, 'v');
  CHECK(r.feed(base.data(), base.size()) == base.size());
  r.feed(big.data(), big.size());
  CHECK(r.state() == State::Error && r.status() == 431 && r.head().size() == 0);
  r.reset();
  std::string ok_req = "GET / HTTP/1.0\r\n\r\n";
  CHECK(r.feed(ok_req.data(), ok_req.size()) == ok_req.size() && r.state() == State::Done);
  return ok;
}

TEST(http_token_lists) {
  bool ok = true;
  RequestReader r;
  feed(&r, "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nconnection: ,  Upgrade ,\r\n"
           "Upgrade: h2c, WebSocket\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b, ,c\r\n\r\n");
  CHECK(r.state() == State::Done);
  CHECK(r.has_token("Connection", "upgrade") && r.has_token("CONNECTION", "keep-alive"));
  CHECK(!r.has_token("Connection", "close"));
  CHECK(r.has_token("Upgrade", "websocket") && ep::ws::wants_upgrade(r));
  std::vector<std::string> protos;
  r.for_each_element("sec-websocket-protocol", [&](std::string_view p) {
    protos.emplace_back(p);
    return true;
  });
  CHECK(protos == (std::vector<std::string>{"a", "b", "c"}));
  return ok;
}

TEST(static_path_mapping) {
  bool ok = true;
  auto map = [](const char* t) { return ep::http::map_static_path("/srv/web", t); };
  CHECK(map("/").status == 0 && map("/").path == "/srv/web/index.html");
  CHECK(map("/app.js?v=1").path == "/srv/web/app.js");
  CHECK(map("/css/site.css#x").path == "/srv/web/css/site.css");
  CHECK(map("/dir/").path == "/srv/web/dir/index.html");
  CHECK(map("/dir/.").path == "/srv/web/dir/index.html");
  CHECK(map("//a///b").path == "/srv/web/a/b");
  CHECK(map("/./a").path == "/srv/web/a");
  CHECK(map("/my%20file.txt").path == "/srv/web/my file.txt");
  CHECK(map("http://h:7080/x.css?q").path == "/srv/web/x.css");
  CHECK(map("https://h").path == "/srv/web/index.html");
  CHECK(map("/a/../b").status == 404);
  CHECK(map("/..").status == 404);
  CHECK(map("/%2e%2e/etc/passwd").status == 404);
  CHECK(map("/%2E%2e%2fetc").status == 404);
  CHECK(map("/..%2fetc").status == 404);
  CHECK(map("/.git/config").status == 404);
  CHECK(map("/a%00b").status == 400);
  CHECK(map("/a%0ab").status == 400);
  CHECK(map("/a%5cb").status == 400);  // backslash
  CHECK(map("/%zz").status == 400 && map("/%4").status == 400 && map("/%").status == 400);
  CHECK(map("x").status == 400);
  CHECK(map(("/" + std::string(1100, 'a')).c_str()).status == 414);
  return ok;
}

TEST(mime_types) {
  bool ok = true;
  using ep::http::mime_type;
  CHECK(mime_type("/r/index.html") == "text/html; charset=utf-8");
  CHECK(mime_type("/r/app.JS") == "text/javascript; charset=utf-8");
  CHECK(mime_type("/r/site.css") == "text/css; charset=utf-8");
  CHECK(mime_type("/r/logo.svg") == "image/svg+xml");
  CHECK(mime_type("/r/icon.png") == "image/png");
  CHECK(mime_type("/r/favicon.ico") == "image/x-icon");
  CHECK(mime_type("/r/a.json") == "application/json");
  CHECK(mime_type("/r/app.js.map") == "application/json");
  CHECK(mime_type("/r/readme.txt") == "text/plain; charset=utf-8");
  CHECK(mime_type("/r/x.bin") == "application/octet-stream");
  CHECK(mime_type("/r.d/noext") == "application/octet-stream");
  return ok;
}

TEST(ws_handshake_rfc6455_example) {
  bool ok = true;
  ep::ws::HandshakeConfig cfg{{"http://example.com"}, {"chat"}};
  ep::ws::Handshake h = shake(kUpgrade, cfg);
  CHECK(h.status == 0 && h.offered && h.protocol == "chat");
  CHECK(h.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(h.response ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
  return ok;
}

TEST(ws_handshake_refusals) {
  bool ok = true;
  ep::ws::HandshakeConfig cfg{{"http://example.com"}, {"chat"}};
  auto status = [&](const std::string& req) { return shake(req, cfg).status; };
  CHECK(status(replace(kUpgrade, "GET", "HEAD")) == 400);
  CHECK(status(replace(kUpgrade, "HTTP/1.1", "HTTP/1.0")) == 400);
  CHECK(status(replace(kUpgrade, "Upgrade: websocket\r\n", "")) == 400);
  CHECK(status(replace(kUpgrade, "Connection: Upgrade", "Connection: keep-alive")) == 400);
  CHECK(status(replace(kUpgrade, "Connection: Upgrade", "Connection: keep-alive, Upgrade")) == 0);
  ep::ws::Handshake v8 = shake(replace(kUpgrade, "Version: 13", "Version: 8"), cfg);
  CHECK(v8.status == 426 && v8.response.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(status(replace(kUpgrade, "Sec-WebSocket-Version: 13\r\n", "")) == 426);
  CHECK(status(replace(kUpgrade, "Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n")) == 426);
  CHECK(status(replace(kUpgrade, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")) == 400);
  CHECK(status(replace(kUpgrade, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ")) == 400);  // not base64
  CHECK(status(replace(kUpgrade, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==")) == 400);         // 10 bytes
  CHECK(status(replace(kUpgrade, "Origin: http://example.com", "Origin: http://evil.example")) == 403);
  CHECK(status(replace(kUpgrade, "Origin: http://example.com", "Origin: null")) == 403);
  CHECK(status(replace(kUpgrade, "Origin: http://example.com", "Origin: HTTP://EXAMPLE.COM")) == 0);
  CHECK(status(replace(kUpgrade, "Origin: http://example.com\r\n", "")) == 0);  // not a browser
  CHECK(status(replace(kUpgrade, "Origin: http://example.com\r\n", "Origin: http://example.com\r\nOrigin: http://example.com\r\n")) == 400);
  CHECK(status(replace(kUpgrade, "chat, superchat", "chat, super chat")) == 400);
  ep::ws::Handshake e = shake(replace(kUpgrade, "Origin: http://example.com", "Origin: http://evil.example"), cfg);
  CHECK(e.response.compare(0, 24, "HTTP/1.1 403 Forbidden\r\n") == 0);
  CHECK(e.response.find("Connection: close\r\n") != std::string::npos);
  return ok;
}

TEST(ws_origin_policy) {
  bool ok = true;
  using ep::ws::origin_allowed;
  std::vector<std::string> none, star{"*"}, list{"https://a.example", "http://b.example:8080"};
  CHECK(origin_allowed("http://chat.example:7080", "chat.example:7080", none));
  CHECK(origin_allowed("https://Chat.Example", "chat.example", none));
  CHECK(!origin_allowed("http://evil.example", "chat.example:7080", none));
  CHECK(!origin_allowed("http://chat.example", "chat.example:7080", none));  // another port
  CHECK(!origin_allowed("null", "chat.example", none));
  CHECK(!origin_allowed("file://chat.example", "chat.example", none));
  CHECK(!origin_allowed("http://", "", none));
  CHECK(origin_allowed("null", "x", star) && origin_allowed("http://evil.example", "x", star));
  CHECK(origin_allowed("https://a.example", "x", list) && origin_allowed("http://b.example:8080", "x", list));
  CHECK(!origin_allowed("https://a.example.evil", "x", list) && !origin_allowed("http://b.example", "x", list));
  return ok;
}

TEST(ws_subprotocol_by_server_preference) {
  bool ok = true;
  ep::ws::HandshakeConfig cfg{{}, {"text.ircv3.net", "binary.ircv3.net", "epchat.line"}};
  std::string base = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n";
  auto with = [&](const std::string& offer) { return shake(base + offer + "\r\n", cfg); };
  ep::ws::Handshake h = with("Sec-WebSocket-Protocol: binary.ircv3.net, text.ircv3.net\r\n");
  CHECK(h.status == 0 && h.protocol == "text.ircv3.net");
  h = with("Sec-WebSocket-Protocol: epchat.line\r\nSec-WebSocket-Protocol: binary.ircv3.net\r\n");
  CHECK(h.status == 0 && h.protocol == "binary.ircv3.net");
  h = with("Sec-WebSocket-Protocol: Text.IRCv3.net\r\n");  // case-sensitive: no match
  CHECK(h.status == 0 && h.offered && h.protocol.empty());
  CHECK(h.response.find("Sec-WebSocket-Protocol") == std::string::npos);
  h = with("");
  CHECK(h.status == 0 && !h.offered && h.protocol.empty());
  CHECK(h.accept == ep::ws::accept_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  return ok;
}

TEST(ws_permessage_deflate_negotiation) {
  bool ok = true;
  using ep::ws::negotiate_deflate;
  const std::string yes = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  // What browsers and the ws package offer.
  CHECK(negotiate_deflate("permessage-deflate; client_max_window_bits") == yes);
  CHECK(negotiate_deflate("permessage-deflate") == yes);
  CHECK(negotiate_deflate("  PerMessage-Deflate ;client_max_window_bits=10 ; client_no_context_takeover ") == yes);
  // server_max_window_bits: only 15 can be met (then named in the answer); a smaller one declines
  // that offer and the next is tried.
  CHECK(negotiate_deflate("permessage-deflate; server_max_window_bits=15") == yes + "; server_max_window_bits=15");
  CHECK(negotiate_deflate("permessage-deflate; server_max_window_bits=\"15\"") == yes + "; server_max_window_bits=15");
  CHECK(negotiate_deflate("permessage-deflate; server_max_window_bits=10") == "");
  CHECK(negotiate_deflate("permessage-deflate; server_max_window_bits=10, permessage-deflate") == yes);
  // Invalid parameters decline their offer (RFC 7692 §7.1): unknown, repeated, bad values.
  for (const char* bad : {"permessage-deflate; foo", "permessage-deflate; server_no_context_takeover=1",
                          "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                          "permessage-deflate; server_max_window_bits", "permessage-deflate; client_max_window_bits=7",
                          "permessage-deflate; client_max_window_bits=16", "permessage-deflate; client_max_window_bits=010",
                          "permessage-deflate; client_max_window_bits=\"1 5\"", "permessage-deflate; x=\"unterminated",
                          "x-webkit-deflate-frame", ""})
    CHECK(negotiate_deflate(bad) == "");
  CHECK(negotiate_deflate("foo, permessage-deflate; foo, permessage-deflate; client_max_window_bits=9") == yes);

  // Through the handshake: only with cfg.deflate; several headers are one list.
  std::string base = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n";
  ep::ws::HandshakeConfig cfg{{}, {"text.ircv3.net"}};
  std::string offer = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
  ep::ws::Handshake h = shake(base + offer, cfg);
  CHECK(h.status == 0 && !h.deflate && h.response.find("Extensions") == std::string::npos);
  cfg.deflate = true;
  h = shake(base + offer, cfg);
  CHECK(h.status == 0 && h.deflate && h.response.find("\r\nSec-WebSocket-Extensions: " + yes + "\r\n") != std::string::npos);
  return ok;
}

TEST(ws_deflate_shared_streams) {
  bool ok = true;
  ep::ws::Deflate d;
  CHECK(d.zlib_bytes() == 0);  // nothing until first used
  std::string z1, z2;
  const std::string line = "alice: the quick brown fox jumps over the lazy dog, the quick brown fox again";
  CHECK(d.compress(line, &z1) && z1.size() < line.size());
  CHECK(d.compress("something else entirely, to leave state behind", &z2));
  CHECK(d.compress(line, &z2) && z2 == z1);  // no context takeover: the same bytes every time
  std::string_view out;
  CHECK(d.inflate(z1, line.size(), &out) == ep::ws::Deflate::Inflated::Ok && out == line);
  CHECK(d.inflate(z1, line.size() - 1, &out) == ep::ws::Deflate::Inflated::TooBig);
  CHECK(d.inflate(std::string("\xff\xff\xff", 3), 100, &out) == ep::ws::Deflate::Inflated::Bad);
  CHECK(d.inflate(z1, line.size(), &out) == ep::ws::Deflate::Inflated::Ok && out == line);  // reset after an error
  std::printf("  zlib state shared by the engine: %zu bytes\n", d.zlib_bytes());
  CHECK(d.zlib_bytes() > 0);
  return ok;
}

TEST(http_error_responses) {
  bool ok = true;
  std::string r = ep::http::error_response(405, "method not allowed");
  std::string body = "405 Method Not Allowed: method not allowed\n";
  CHECK(r.compare(0, 33, "HTTP/1.1 405 Method Not Allowed\r\n") == 0);
  CHECK(r.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(r.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(r.size() > body.size() && r.substr(r.size() - body.size()) == body);
  CHECK(r.find("\r\n\r\n") + 4 == r.size() - body.size());
  std::string h = ep::http::error_response(404, {}, {}, true);
  CHECK(h.size() >= 4 && h.substr(h.size() - 4) == "\r\n\r\n");
  CHECK(h.find("Content-Length: 14\r\n") != std::string::npos);  // "404 Not Found\n"
  CHECK(std::string(ep::http::status_text(431)) == "Request Header Fields Too Large");
  return ok;
}

}  // namespace

int main() {
  return check::run_all();
}
