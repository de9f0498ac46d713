// IRC formatting of chat events (Outs) for fan-out: `:nick!user@host PRIVMSG #room :text` and the
// like. Two instances: plain, and tagged (server-time for clients that enabled server-time or
// message-tags), so a room message is formatted once per variant present, never per recipient.
// Numerics (replies to one user's own commands) are written by irc_replies.cc instead.
#pragma once
#include "codec.h"

namespace ep {

// The server's name in IRC prefixes and numerics.
inline constexpr const char* kIrcServerName = "epchat";
// TOPICLEN (ISUPPORT): topics are cut to this many bytes for IRC users.
inline constexpr size_t kIrcTopicLen = 300;

class IrcCodec final : public Codec {
 public:
  explicit IrcCodec(bool tagged) : tagged_(tagged) {}
  int id() const override { return tagged_ ? 2 : 1; }
  void append(const Out& o, std::string& s) const override;
  // IRC lines are parsed by the IRC session (irc_session.cc), not through the codec.
  Request parse(std::string_view line) const override;

 private:
  bool tagged_;
};

// "@time=2026-11-30T00:00:00.000Z " for now (UTC, milliseconds).
void irc_time_tag(std::string* out);

}  // namespace ep
