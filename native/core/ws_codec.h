// WebSocket variants of the codecs: the same formatting (line protocol, IRC, tagged IRC), each
// complete line then turned into one server frame (RFC 6455: unmasked, so the same bytes for every
// recipient). A WebSocket codec has its own id in the fan-out cache, so a room message costs one
// format and one framing per variant present, whatever the number of WebSocket recipients.
//
// The IRCv3 websocket spec: each message is one IRC line without CR LF, in text frames
// (text.ircv3.net, or no subprotocol) or binary frames (binary.ircv3.net); the line protocol over
// WebSocket (epchat.line) likewise, in text frames. Text frames must be UTF-8: a line that is not
// (a host's raw text) has each bad byte replaced by U+FFFD rather than breaking the connection; for
// IRC, whose lines are capped (512 bytes with CR LF, tags aside), a line that grew past the cap by
// that is cut back to it at a character boundary.
//
// permessage-deflate (ws_deflate.h): the compressed variants (their own ids, 8-12) compress each
// line of at least `min` bytes into one RSV1 frame, through the engine's one deflater reset per
// message (no context takeover), so the compressed frame too is built once per fan-out and is the
// same bytes for every recipient that negotiated deflate. A shorter line, or one that would not
// shrink, goes in an ordinary frame (RSV1 is per message).
#pragma once
#include <string>

#include "codec.h"
#include "ws_deflate.h"
#include "ws_frame.h"

namespace ep {

class WsCodec final : public Codec {
 public:
  // id: 3-12, unique among the server's codecs; inner formats, op is Text or Binary; max_body: the
  // inner protocol's line cap without tags and line ending (kIrcMaxBody), 0 for none; deflate: the
  // compressed variant (nullptr: plain frames).
  WsCodec(int id, const Codec& inner, ws::Opcode op, size_t max_body = 0, ws::Deflate* deflate = nullptr)
      : id_(id), inner_(inner), op_(op), max_body_(max_body), deflate_(deflate) {}
  // Lines shorter than this go uncompressed (the compressed variants).
  void set_deflate_min(size_t n) { min_ = n; }
  int id() const override { return id_; }
  void append(const Out& o, std::string& s) const override;
  void append_wire(std::string_view lines, std::string& s) const override;
  Request parse(std::string_view line) const override { return inner_.parse(line); }
  ws::Opcode opcode() const { return op_; }

 private:
  int id_;
  const Codec& inner_;
  ws::Opcode op_;
  size_t max_body_;
  ws::Deflate* deflate_;
  size_t min_ = 64;
  mutable std::string lines_;  // the inner codec's output, reused (a codec belongs to one engine thread)
};

// Appends one frame per line of `lines` (each ending in LF or CR LF; a last line without one counts
// too; empty lines are skipped), the line ending removed. Text frames get valid UTF-8, and a line
// repaired for it is kept within max_body bytes after its tags (0: no cap). With deflate, a line of
// at least min bytes is compressed (RSV1) when that makes it shorter.
void append_frames(std::string_view lines, ws::Opcode op, std::string& s, size_t max_body = 0,
                   ws::Deflate* deflate = nullptr, size_t min = 0);

// An IRC line's cap without its tags and CR LF (RFC 1459's 512 bytes with them).
constexpr size_t kIrcMaxBody = 510;

// s with every byte that cannot continue valid UTF-8 replaced by U+FFFD (EF BF BD).
std::string repair_utf8(std::string_view s);

}  // namespace ep
