// WebSocket sessions: frames in, through the frame reader (ws_frame.h), each message one line into
// the ordinary per-line path (take_line → on_line: order, holds while the host works, flood control,
// the line limits); pings answered; the Close handshake. Output is framed by the client's codec
// (ws_codec.h); the Close frame is the last thing queued (ws_close_frame), then the connection ends
// as any other (close_client: FIN after the last byte, linger for the peer's).
#include <cstring>

#include "server.h"

namespace ep {

struct Server::WsSink final : ws::Sink {
  Server& s;
  Client* c;
  uint64_t read_ns;
  WsSink(Server& server, Client* client, uint64_t ns) : s(server), c(client), read_ns(ns) {}

  bool on_message(ws::Opcode, std::string_view payload) override {
    // One IRC line (or line-protocol line) per message; a client may end it in CR LF anyway.
    if (!payload.empty() && payload.back() == '\n') payload.remove_suffix(1);
    if (!payload.empty() && payload.back() == '\r') payload.remove_suffix(1);
    bool go = s.take_line(c, payload, read_ns);
    if (c->fd < 0 || c->state == ClientState::Closing) return false;
    if (!go || input_held(c)) c->ws->reader.pause();  // the rest waits, unread (Server::feed holds it)
    return true;
  }
  bool on_ping(std::string_view payload) override {
    std::string f;
    ws::append_frame(ws::Opcode::Pong, payload, &f);
    s.enqueue_copy(c, f);
    return c->fd >= 0 && c->state != ClientState::Closing;
  }
  bool on_pong(std::string_view) override { return true; }
  void on_close(uint16_t code, std::string_view) override {
    // Echo the peer's code (RFC 6455 §5.5.1); a Close without one is answered with 1000.
    c->ws->close_code = code == ws::kCloseNoStatus ? ws::kCloseNormal : code;
    s.close_client(c, "closed");
  }
  void on_error(uint16_t close_code, const char* why) override { s.ws_fail(c, close_code, why); }
};

size_t Server::ws_feed(Client* c, char* p, size_t n, uint64_t read_ns) {
  WsSink sink(*this, c, read_ns);
  size_t used = n;
  c->ws->reader.feed(p, n, sink, &used);
  return used;
}

void Server::ws_fail(Client* c, uint16_t code, std::string_view why) {
  if (c->fd < 0 || c->state == ClientState::Closing) return;
  c->ws->close_code = code;
  c->ws->close_reason.assign(why.data(), why.size());
  close_client(c, "error");
}

void Server::ws_close_frame(Client* c, const char* reason) {
  WsSession& w = *c->ws;
  if (w.close_sent) return;
  uint16_t code = w.close_code;
  if (!code) {
    if (!std::strcmp(reason, "shutdown")) code = ws::kCloseGoingAway;
    else if (!std::strcmp(reason, "flood") || !std::strcmp(reason, "kicked")) code = ws::kClosePolicy;
    else if (!std::strcmp(reason, "error")) code = ws::kCloseInternal;
    else code = ws::kCloseNormal;
  }
  std::string f;
  ws::append_close(code, w.close_reason, &f);
  enqueue_copy(c, f);
  w.close_sent = true;
}

}  // namespace ep
