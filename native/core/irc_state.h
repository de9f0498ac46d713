// What an IRC connection remembers beyond a line client: registration progress, capabilities, SASL,
// its user name and real name, away text, account. Allocated only for IRC connections (Client::irc).
#pragma once
#include <cstdint>
#include <string>

#include "irc_caps.h"
#include "irc_sasl.h"

namespace ep {

struct IrcState {
  irc::CapNegotiation caps;
  irc::SaslPlain sasl;
  std::string nick;      // NICK given before registration (Client::nick is set on registration)
  std::string user;      // USER's user name ("~" prefixed on the wire)
  std::string realname;
  std::string pass;      // PASS, kept until registration (a protected nick's password), then wiped
  std::string away;      // away message; empty when here
  std::string account;   // lower-case account name once logged in (SASL or PASS)
  std::string auth_password;  // SASL/PASS password between the auth and password steps, then wiped
  bool got_user = false;
  bool pinged = false;
  bool invisible = false;  // user mode +i   // the server sent PING for idleness and awaits any line
  // The host password path (the same `auth` then `password` commands as the line protocol):
  // 0 none; 1 auth sent; 2 password sent. sasl: started by AUTHENTICATE (else by PASS at registration).
  uint8_t auth_step = 0;
  bool auth_sasl = false;
  bool quitting = false;
};

}  // namespace ep
