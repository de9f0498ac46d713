// The seam between wire protocols and the chat model.
//
// The model speaks in Requests (what a client asked for) and Outs (what someone must be told). A codec
// turns bytes into Requests and Outs into bytes for one wire protocol: the line protocol, IRC (plain
// and with server-time tags) and their WebSocket variants (ws_codec.h), all sharing the same rooms and
// users. Fan-out formats an Out once per codec
// present among the recipients, never once per recipient.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "buf.h"

namespace ep {

enum class Cmd : uint8_t {
  Text,    // text: a message to the current room
  Nick,    // arg: new nick
  Help,
  Rooms,
  Create,  // arg: room
  Join,    // arg: room
  Leave,
  Users,
  Who,
  Msg,     // arg: nick, text: message
  Me,      // text: action
  Quit,    // text: reason
  Stats,
  Other,   // name: command word (without '/'), text: the rest, verbatim
};

struct Request {
  Cmd cmd = Cmd::Text;
  std::string_view name;
  std::string_view arg;
  std::string_view text;
};

enum class OutKind : uint8_t {
  Prompt,    // ask for a nickname
  Welcome,   // a: nick, b: the default room (a line user's registration, seen by that room)
  Bye,       // a: nick, c: the reason the user gave with /quit (optional)
  Joined,    // a: nick, b: room
  Left,      // a: nick, b: room, c: reason (IRC PART; optional)
  Renamed,   // a: old nick, b: new nick
  Chat,      // a: nick, b: room, c: text; notice: an IRC NOTICE
  Action,    // a: nick, b: room, c: text
  PmFrom,    // a: sender, c: text; action: a CTCP ACTION; notice: an IRC NOTICE
  PmTo,      // a: recipient, c: text; action, notice: as PmFrom
  Announce,  // c: text
  Error,     // a: code, c: text
  Item,      // a: reply kind (ROOM, USER, ...), b and c: fields (b optional); or, with fields set (a
             // host's list row), the fields in order (b and c unused)
  End,       // a: reply kind, n: item count
  Raw,       // c: protocol text supplied by the host, sent as is (one newline added per line)
  Topic,     // a: nick, b: room, c: the new topic (empty: cleared)
  Kicked,    // a: who kicked, b: room, c: reason, d: who was kicked
  Away,      // a: nick, c: away text (empty: back); IRC away-notify only
  // Structured replies from the host (host_api.h's HostLine, turned into Outs by host_reply.cc):
  Notice,    // c: text (the host telling its user something: "Account alice registered")
  GroupFrom, // a: sender, b: group (without '@'), c: text, n: time (ms since the epoch, 0: now)
  // (a host's private message is PmFrom with n: time, its sender's copy PmTo; its error is Error,
  //  its list Item with fields and End.)
};

struct Out {
  OutKind kind;
  std::string_view a, b, c;
  uint64_t n = 0;
  std::string_view d;
  // The source's nick!user@host (IRC formats a source prefix; the line protocol ignores it).
  std::string_view src;
  // The recipient's nick, set by Server::send for one recipient (IRC numerics and NOTICEs name it);
  // empty in a fan-out.
  std::string_view to;
  bool action = false;
  bool notice = false;
  const std::vector<std::string>* fields = nullptr;  // Item: a host list row
};

class Codec {
 public:
  // line (0), IRC (1), IRC tagged (2), their WebSocket variants (3-7, ws_codec.h) and those
  // compressed with permessage-deflate (8-12).
  static constexpr int kMax = 13;
  virtual ~Codec() = default;
  // Small index, unique per codec, for the fan-out format cache.
  virtual int id() const = 0;
  // Appends o, as one or more complete lines, to s (on a WebSocket, one frame per line).
  virtual void append(const Out& o, std::string& s) const = 0;
  // Appends complete lines written by a session for its own user (IRC numerics, CAP replies), as
  // this codec's connections take them: as they are, or one WebSocket frame per line (ws_codec.h).
  // Every byte queued to a client goes through a codec, so nothing bypasses the framing.
  virtual void append_wire(std::string_view lines, std::string& s) const { s.append(lines); }
  // Formats o into a new buffer holding one reference; nullptr when out of memory, or when o means
  // nothing in this protocol (*empty is then set).
  Buf* format(const Out& o, bool* empty = nullptr) {
    scratch_.clear();
    append(o, scratch_);
    if (scratch_.empty()) {
      if (empty) *empty = true;
      return nullptr;
    }
    return Buf::make(scratch_.data(), scratch_.size());
  }
  // Parses one complete, validated line.
  virtual Request parse(std::string_view line) const = 0;

 private:
  std::string scratch_;
};

}  // namespace ep
