// Short HTTP/1.1 responses the listener writes itself: errors (which close the connection) and the
// reason phrases. The WebSocket 101 is in ws_handshake.h; static files' headers are the listener's.
#pragma once
#include <string>
#include <string_view>

namespace ep::http {

// The reason phrase for a status this server sends ("Bad Request", ...); "Error" for others.
const char* status_text(int status);

// "HTTP/1.1 <status> <text>", Content-Type text/plain, Content-Length, Connection: close,
// X-Content-Type-Options: nosniff, then extra_headers (each "Name: value\r\n", as given), then a
// short body: "<status> <text>: <detail>\n" ("<status> <text>\n" without detail). A 405 carries
// "Allow: GET, HEAD" by itself. head_only (an answer to HEAD) keeps Content-Length, omits the body.
std::string error_response(int status, std::string_view detail = {}, std::string_view extra_headers = {},
                           bool head_only = false);

}  // namespace ep::http
