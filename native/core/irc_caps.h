// IRCv3 capability negotiation (CAP LS/LIST/REQ/END, version 302, cap-notify) for one IRC
// connection: which capabilities it has enabled and whether negotiation is holding registration.
// Replies are written as complete IRC lines; the session sends them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "irc_message.h"

namespace ep::irc {

enum Cap : uint32_t {
  kCapMultiPrefix = 1u << 0,
  kCapServerTime = 1u << 1,
  kCapMessageTags = 1u << 2,
  kCapEchoMessage = 1u << 3,
  kCapAwayNotify = 1u << 4,
  kCapCapNotify = 1u << 5,
  kCapUserhostInNames = 1u << 6,
  kCapSasl = 1u << 7,
};

struct CapInfo {
  Cap bit;
  const char* name;
  const char* value;  // advertised as name=value to CAP LS 302 clients; nullptr for none
};

// Every capability the server offers, in the order CAP LS lists them.
const CapInfo* caps_offered(size_t* n);
// The capability named `name` (case-sensitive, as IRCv3 says), or nullptr.
const CapInfo* find_cap(std::string_view name);

class CapNegotiation {
 public:
  // Handles one CAP command (m.command is CAP). `nick` is the client's nick, or "*" before
  // registration. Appends the replies (or a 410 ERR_INVALIDCAPCMD / 461) to *out.
  void handle(const Message& m, std::string_view server, std::string_view nick, std::string* out);

  bool has(Cap c) const { return enabled_ & c; }
  uint32_t enabled() const { return enabled_; }
  // True from a CAP LS or CAP REQ before registration until CAP END.
  bool holding() const { return holding_; }
  // Called once the client is registered: later CAP LS/REQ no longer hold anything.
  void registered() { registered_ = true; holding_ = false; }
  int version() const { return version_; }

 private:
  void ls(std::string_view server, std::string_view nick, const Message& m, std::string* out);
  void req(std::string_view server, std::string_view nick, std::string_view list, std::string* out);
  uint32_t enabled_ = 0;
  int version_ = 0;  // 0 before CAP LS; 301 or 302 after
  bool holding_ = false;
  bool registered_ = false;
};

}  // namespace ep::irc
