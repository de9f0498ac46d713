// The server side of the WebSocket opening handshake (RFC 6455 §4.2) on a request head that
// http::RequestReader has read: checks, Origin policy, subprotocol choice, Sec-WebSocket-Accept and
// the response bytes. No sockets; the listener writes `response` and, on 101, hands the connection
// (and any bytes after the head) to the frame reader.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "http_request.h"

namespace ep::ws {

struct HandshakeConfig {
  // Origins allowed to open a WebSocket (the browser's Origin header, e.g. "https://chat.example"):
  //   - exact entries, compared ASCII case-insensitively;
  //   - "*" allows every origin;
  //   - an empty list means "same host": the Origin's host[:port] must equal the request's Host
  //     (what a page served by this listener sends), which stops cross-site WebSocket hijacking by
  //     default. A request with no Origin is not from a browser page and is always allowed (Origin
  //     protects browser users; any other client can forge it anyway). "null" never matches but "*".
  std::vector<std::string> origins;
  // Subprotocols in server preference order, e.g. {"text.ircv3.net", "binary.ircv3.net",
  // "epchat.line"}; the first of them the client offers is chosen.
  std::vector<std::string> protocols;
  // Accept a permessage-deflate offer (ws_deflate.h: negotiate_deflate, no context takeover).
  bool deflate = false;
};

struct Handshake {
  int status = 0;            // 0: accepted, `response` is the 101; else the HTTP error status
  const char* reason = "";   // why not, fixed text (also in the error body)
  std::string_view protocol; // the chosen subprotocol (a view of a HandshakeConfig string), or empty
  bool offered = false;      // the client sent Sec-WebSocket-Protocol
  bool deflate = false;      // permessage-deflate negotiated (the 101 names it)
  std::string accept;        // Sec-WebSocket-Accept, on success
  std::string response;      // the bytes to write: 101 Switching Protocols, or an error that closes
};

// Whether a request asks for a WebSocket: an Upgrade header listing "websocket". Requests that do
// not are ordinary HTTP (a static file).
bool wants_upgrade(const http::RequestReader& req);

// Checks, in this order: GET (else 400), HTTP/1.1 (400), Upgrade lists "websocket" (400),
// Connection lists "upgrade" (400), exactly one Sec-WebSocket-Version equal to "13" (else 426 with
// "Sec-WebSocket-Version: 13"), exactly one Sec-WebSocket-Key that is the base64 of 16 bytes (400),
// at most one Origin (400) and an allowed one (403), Sec-WebSocket-Protocol elements are tokens
// (400). Then the subprotocol: the first of cfg.protocols the client offered (exact, case-sensitive
// as RFC 6455 §11.3.4 registers them). When the client offered some and none is acceptable, the 101
// names none (RFC 6455 §4.2.2): a browser then fails the connection itself; a client that offered
// nothing gets the listener's default. Extensions: with cfg.deflate, the first acceptable
// permessage-deflate offer (ws_deflate.h) is answered in Sec-WebSocket-Extensions; nothing else is.
// req must be Done.
Handshake accept_upgrade(const http::RequestReader& req, const HandshakeConfig& cfg);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), key as sent (already trimmed).
std::string accept_key(std::string_view key);

// The Origin policy of HandshakeConfig::origins for one Origin value and the request's Host.
bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);

// "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection, Sec-WebSocket-Accept and, if not
// empty, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions.
std::string switching_protocols(std::string_view accept, std::string_view protocol,
                                std::string_view extensions = {});

}  // namespace ep::ws
