#include "ws_handshake.h"

#include "base64.h"
#include "http_response.h"
#include "sha1.h"
#include "ws_deflate.h"

namespace ep::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

Handshake refuse(int status, const char* reason, std::string_view extra = {}) {
  Handshake h;
  h.status = status;
  h.reason = reason;
  h.response = http::error_response(status, reason, extra);
  return h;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!http::is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

bool wants_upgrade(const http::RequestReader& req) { return req.has_token("Upgrade", "websocket"); }

std::string accept_key(std::string_view key) {
  Sha1 h;
  h.update(key);
  h.update(kGuid);
  Sha1::Digest d = h.finish();
  return base64::encode(d.data(), d.size());
}

bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
  if (allowed.empty()) {
    size_t sep = origin.find("://");
    if (sep == std::string_view::npos) return false;
    std::string_view scheme = origin.substr(0, sep), authority = origin.substr(sep + 3);
    if (!http::iequals(scheme, "http") && !http::iequals(scheme, "https")) return false;
    return !authority.empty() && !host.empty() && http::iequals(authority, host);
  }
  for (const std::string& a : allowed)
    if (a == "*" || http::iequals(a, origin)) return true;
  return false;
}

std::string switching_protocols(std::string_view accept, std::string_view protocol,
                                std::string_view extensions) {
  std::string r;
  r.reserve(160);
  r += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  r.append(accept.data(), accept.size());
  r += "\r\n";
  if (!protocol.empty()) {
    r += "Sec-WebSocket-Protocol: ";
    r.append(protocol.data(), protocol.size());
    r += "\r\n";
  }
  if (!extensions.empty()) {
    r += "Sec-WebSocket-Extensions: ";
    r.append(extensions.data(), extensions.size());
    r += "\r\n";
  }
  r += "\r\n";
  return r;
}

Handshake accept_upgrade(const http::RequestReader& req, const HandshakeConfig& cfg) {
  if (req.state() != http::RequestReader::State::Done) return refuse(400, "incomplete request");
  if (req.method() != http::Method::Get) return refuse(400, "a WebSocket upgrade needs GET");
  if (req.version() != http::Version::Http11) return refuse(400, "a WebSocket upgrade needs HTTP/1.1");
  if (!req.has_token("Upgrade", "websocket")) return refuse(400, "no Upgrade: websocket");
  if (!req.has_token("Connection", "upgrade")) return refuse(400, "no Connection: Upgrade");
  if (req.header_count("Sec-WebSocket-Version") != 1 || req.header("Sec-WebSocket-Version") != "13")
    return refuse(426, "only WebSocket version 13 is supported",
                  "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n");
  std::string_view key = req.header("Sec-WebSocket-Key");
  std::string raw;
  if (req.header_count("Sec-WebSocket-Key") != 1 || !base64::decode(key, &raw) || raw.size() != 16)
    return refuse(400, "Sec-WebSocket-Key is not the base64 of 16 bytes");
  size_t origins = req.header_count("Origin");
  if (origins > 1) return refuse(400, "more than one Origin header");
  if (origins == 1 && !origin_allowed(req.header("Origin"), req.header("Host"), cfg.origins))
    return refuse(403, "origin not allowed");
  bool offered = false, bad = false;
  req.for_each_element("Sec-WebSocket-Protocol", [&](std::string_view p) {
    offered = true;
    bad = !is_token(p);
    return !bad;
  });
  if (bad) return refuse(400, "malformed Sec-WebSocket-Protocol");
  Handshake h;
  h.offered = offered;
  for (const std::string& want : cfg.protocols) {
    req.for_each_element("Sec-WebSocket-Protocol", [&](std::string_view p) {
      if (p == want) h.protocol = want;
      return h.protocol.empty();
    });
    if (!h.protocol.empty()) break;
  }
  std::string extensions;
  if (cfg.deflate) {
    std::string offers;
    for (size_t i = 0; i < req.header_count(); ++i) {
      if (!http::iequals(req.header_name(i), "Sec-WebSocket-Extensions")) continue;
      if (!offers.empty()) offers += ',';
      offers.append(req.header_value(i).data(), req.header_value(i).size());
    }
    extensions = negotiate_deflate(offers);
    h.deflate = !extensions.empty();
  }
  h.accept = accept_key(key);
  h.response = switching_protocols(h.accept, h.protocol, extensions);
  return h;
}

}  // namespace ep::ws
