// The HTTP listener's connections: one request head at a time (http_request.h: bounded in size; the
// time bound is http_list_, from the connection or the last response, never moved by bytes arriving,
// so a slowloris that dribbles its head is dropped), then either a static file of the web client
// (static_path.h maps the target, static_files.h opens and caches) with keep-alive for a few requests,
// or a WebSocket upgrade (ws_handshake.h), after which the connection is a chat client whose bytes
// are frames (ws_session.cc). Bad requests get their status (http_response.h) and the connection
// closes after it.
#include "server.h"
#include "static_path.h"
#include "http_response.h"

namespace ep {

namespace {

// Only this site's own scripts, styles and images, and WebSocket only back to this origin (a page
// cannot be made to send what is typed, a password included, elsewhere); no framing by others, no
// sniffing, no referrer.
constexpr const char* kSecurityHeaders =
    "X-Content-Type-Options: nosniff\r\n"
    "Content-Security-Policy: default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n";

}  // namespace

size_t Server::http_feed(Client* c, char* p, size_t n, uint64_t read_ns) {
  size_t off = 0;
  while (off < n && c->fd >= 0 && c->state != ClientState::Closing && c->http) {
    HttpSession& h = *c->http;
    h.started = true;
    off += h.req.feed(p + off, n - off);
    switch (h.req.state()) {
      case http::RequestReader::State::NeedMore:
        return n;
      case http::RequestReader::State::Error:
        http_error(c, h.req.status(), h.req.reason());
        return n;
      case http::RequestReader::State::Done:
        break;
    }
    if (http_request(c)) continue;  // kept alive: the next request (pipelined bytes) in this read
    // Upgraded: what follows the head is the client's first frames.
    if (c->ws && c->fd >= 0 && c->state != ClientState::Closing) return off + ws_feed(c, p + off, n - off, read_ns);
    return n;
  }
  return n;
}

bool Server::http_request(Client* c) {
  HttpSession& h = *c->http;
  if (ws::wants_upgrade(h.req)) return http_upgrade(c);
  ++h.served;
  const bool keep = h.req.version() == http::Version::Http11 && !h.req.has_token("Connection", "close") &&
                    h.served < kHttpKeepAliveRequests && !stopping_;
  http_static(c, keep);
  if (!keep || c->fd < 0 || c->state == ClientState::Closing) {
    close_client(c, "closed");
    return false;
  }
  // The next request's head has its own time bound, from now.
  h.req.reset();
  h.started = false;
  c->last_ms = now_ms_;
  http_list_.move_to_back(c);
  return true;
}

void Server::http_static(Client* c, bool keep_alive) {
  const http::RequestReader& req = c->http->req;
  const bool head = req.method() == http::Method::Head;
  http::StaticPath sp = http::map_static_path(opt_.web_root, req.target());
  if (sp.status) return http_error(c, sp.status, sp.status == 404 ? "no such file" : "bad path");
  if (opt_.web_root.empty()) return http_error(c, 404, "no web root configured");
  StaticFiles::File f = files_.get(sp.path);
  if (f.status) return http_error(c, f.status, f.why);
  const std::string modified = http_date(f.mtime_s);
  const bool not_modified = req.header("If-Modified-Since") == modified;
  std::string r;
  r.reserve(512);
  r += not_modified ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 200 OK\r\n";
  r += "Content-Type: ";
  r += http::mime_type(sp.path);
  r += "\r\n";
  if (!not_modified) r += "Content-Length: " + std::to_string(f.body->len) + "\r\n";
  // Revalidated on each load (Last-Modified / If-Modified-Since): a rebuilt client is never stale.
  r += "Cache-Control: no-cache\r\nLast-Modified: " + modified + "\r\n";
  r += kSecurityHeaders;
  r += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  enqueue_copy(c, r);
  if (!head && !not_modified) enqueue(c, f.body);  // the shared bytes of the cached file
  f.body->unref();
}

bool Server::http_upgrade(Client* c) {
  ws::Handshake hs = ws::accept_upgrade(c->http->req, ws_cfg_);
  if (hs.status) {
    enqueue_copy(c, hs.response);
    close_client(c, "closed");
    return false;
  }
  // No subprotocol (or none we speak, which a browser then fails itself) is IRC in text frames, as
  // the IRCv3 websocket spec says.
  const bool line = hs.protocol == kWsLine;
  const bool binary = hs.protocol == kWsIrcBinary;
  enqueue_copy(c, hs.response);
  unlink_timer(c);
  c->http.reset();
  c->ws = std::make_unique<WsSession>(ws::Limits{opt_.ws_max_message, opt_.ws_max_message});
  c->ws->binary = binary;
  if (hs.deflate) {
    c->ws->deflate = true;
    c->ws->reader.set_deflate(&ws_deflate_);
  }
  if (line) {
    c->proto = Proto::Line;
    c->codec = hs.deflate ? &wsz_line_codec_ : &ws_line_codec_;
  } else {
    c->proto = Proto::Irc;
    c->irc = std::make_unique<IrcState>();
    c->codec = irc_codec_for(c, false);
  }
  // Now a chat client: the registration timer, the connect event, the prompt (none on IRC).
  c->last_ms = now_ms_;
  reg_list_.push_back(c);
  lifecycle(c, ev::Connect{c->id(), c->addr});
  send(c, Out{OutKind::Prompt});
  return false;
}

Codec* Server::irc_codec_for(const Client* c, bool tagged) {
  if (!c->ws) return tagged ? static_cast<Codec*>(&irc_tagged_codec_) : &irc_codec_;
  if (c->ws->deflate) {
    if (c->ws->binary) return tagged ? &wsz_irc_bin_tagged_codec_ : &wsz_irc_bin_codec_;
    return tagged ? &wsz_irc_tagged_codec_ : &wsz_irc_codec_;
  }
  if (c->ws->binary) return tagged ? &ws_irc_bin_tagged_codec_ : &ws_irc_bin_codec_;
  return tagged ? &ws_irc_tagged_codec_ : &ws_irc_codec_;
}

void Server::http_error(Client* c, int status, std::string_view detail, std::string_view extra) {
  const bool head = c->http && c->http->req.state() == http::RequestReader::State::Done &&
                    c->http->req.method() == http::Method::Head;
  enqueue_copy(c, http::error_response(status, detail, extra, head));
  close_client(c, "closed");
}

// No whole request head in time (or no next request on a kept-alive connection): a request begun
// is told 408; an idle kept-alive connection just closes.
void Server::http_timeout(Client* c) {
  if (c->http && c->http->started) {
    enqueue_copy(c, http::error_response(408, "the request head did not arrive in time"));
    close_client(c, "idle");
    return;
  }
  close_client(c, "idle");
}

}  // namespace ep
