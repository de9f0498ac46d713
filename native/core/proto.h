// The wire protocols a connection can speak: its listener's, or the one adopt() was given.
#pragma once
#include <cstdint>

namespace ep {

// Http: a connection on the HTTP listener until its request is answered (static files) or upgraded to
// a WebSocket, which then speaks Line or Irc (ws_session.h).
enum class Proto : uint8_t { Line, Irc, Http };

}  // namespace ep
