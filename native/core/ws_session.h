// A WebSocket connection's framing state (the Client owns one after its HTTP upgrade): the frame
// reader for what the client sends and the Close the server will send. The protocol spoken inside
// (IRC or the line protocol) is the Client's proto, its output framing the client's codec
// (ws_codec.h); what the messages mean is the ordinary session's (Server::feed → on_line).
#pragma once
#include <cstdint>
#include <string>

#include "ws_frame.h"

namespace ep {

// The subprotocols, in the server's order of preference (ws_handshake.h picks the first offered).
inline constexpr const char* kWsIrcText = "text.ircv3.net";
inline constexpr const char* kWsIrcBinary = "binary.ircv3.net";
inline constexpr const char* kWsLine = "epchat.line";

struct WsSession {
  explicit WsSession(ws::Limits limits) : reader(limits) {}
  ws::FrameReader reader;
  // The Close frame the server sends when it ends the connection (close_client): set before, by a
  // violation (1002, 1007, 1009), the peer's own Close (echoed) or the reason of the close.
  uint16_t close_code = 0;  // 0: chosen from the close's reason
  std::string close_reason;
  bool close_sent = false;
  bool binary = false;  // binary.ircv3.net: IRC lines in binary frames
  bool deflate = false;  // permessage-deflate negotiated: the compressed codec variants, RSV1 read
};

}  // namespace ep
