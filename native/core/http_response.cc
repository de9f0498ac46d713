#include "http_response.h"

namespace ep::http {

const char* status_text(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string error_response(int status, std::string_view detail, std::string_view extra_headers, bool head_only) {
  std::string code = std::to_string(status);
  std::string body = code + " " + status_text(status);
  if (!detail.empty()) {
    body += ": ";
    body.append(detail.data(), detail.size());
  }
  body += '\n';
  std::string r;
  r.reserve(200 + extra_headers.size() + body.size());
  r += "HTTP/1.1 " + code + " " + status_text(status) + "\r\n";
  r += "Content-Type: text/plain; charset=utf-8\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "Connection: close\r\n";
  r += "X-Content-Type-Options: nosniff\r\n";
  if (status == 405) r += "Allow: GET, HEAD\r\n";
  r.append(extra_headers.data(), extra_headers.size());
  r += "\r\n";
  if (!head_only) r += body;
  return r;
}

}  // namespace ep::http
