// An HTTP connection's state (the Client owns one while it speaks HTTP: until its requests are
// answered or it is upgraded to a WebSocket). What it does is Server::http_feed (http_session.cc).
#pragma once
#include <cstdint>

#include "http_request.h"

namespace ep {

// Requests served on one kept-alive connection (enough for the web client's page and its files);
// the last one's response says Connection: close.
inline constexpr uint32_t kHttpKeepAliveRequests = 32;

struct HttpSession {
  HttpSession() = default;
  http::RequestReader req;
  uint32_t served = 0;   // requests answered on this connection
  bool started = false;  // bytes of a request arrived since the last response (a timeout answers 408)
};

}  // namespace ep
