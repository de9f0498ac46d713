// The host API: what the host (the Node binding, or epchatd) asks the engine for, and what the engine
// tells it. Each command and each event is a struct with named fields; a HostCmd / HostEvent is a
// std::variant of them, so a new kind is a compile error wherever it is not handled (std::visit).
// Replies the host writes to users are structured too (HostLine: a notice, an error with a code, a list
// of rows, a private or group message): each protocol formats them (Server::host_lines → Out → Codec),
// so the host never writes protocol text. The binding (native/binding/addon.cc) converts these to and
// from the JavaScript objects that lib/native.ts describes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "options.h"
#include "owned_fd.h"

namespace ep {

// ------------------------------------------------------------------------------- structured replies

namespace line {
struct Notice {  // line protocol: `>> text`
  std::string text;
};
struct Error {  // `!! CODE text`; code: A-Z 0-9 _
  std::string code, text;
};
struct List {  // `== KIND f1 f2 …` per row, then `== END END n` (end: the END kind, default `kind`)
  std::string kind, end;
  std::vector<std::vector<std::string>> rows;
};
struct Pm {  // a private message to the recipient: `[pm from FROM] text`; time: ms since the epoch, 0: now
  std::string from, text;
  uint64_t time_ms = 0;
};
struct PmSent {  // the sender's copy: `[pm to TO] text`
  std::string to, text;
};
struct Group {  // a group message to a member: `[@GROUP from FROM] text`
  std::string from, group, text;
  uint64_t time_ms = 0;
};
}  // namespace line

using HostLine = std::variant<line::Notice, line::Error, line::List, line::Pm, line::PmSent, line::Group>;

// Null when l can be sent to any protocol (each text one line of valid UTF-8 without control
// characters; codes and kinds A-Z 0-9 _ starting with a letter; nicks and groups one word), else what
// is wrong, naming the field ("rows[1][0]", "code"). The binding checks the same way before posting;
// the engine checks again (a host in C++ talks to it directly).
const char* host_line_problem(const HostLine& l, std::string* field);

// ----------------------------------------------------------------------------------------- commands

namespace cmd {
struct Stop {  // graceful shutdown; force: no grace
  bool force = false;
};
struct Send {  // raw protocol text, one or more lines: the escape hatch (line protocol only)
  uint64_t id = 0;
  std::string text;
};
struct Reply {  // structured lines to one client, formatted by its protocol
  uint64_t id = 0;
  std::vector<HostLine> lines;
};
struct Announce {
  std::string text;
};
struct Kick {  // answered by ev::KickReply
  uint32_t req = 0;
  std::string nick, reason;
};
enum class What : uint8_t { Users, Rooms };
struct Query {  // answered by ev::UsersReply or ev::RoomsReply
  uint32_t req = 0;
  What what = What::Users;
};
struct Login {
  uint64_t id = 0;
  std::string nick;
};
struct Prompt {
  uint64_t id = 0;
};
struct Protect {
  std::vector<std::string> add, remove;
};
struct SetPolicy {
  std::shared_ptr<Policy> policy;
};
// Lines to each of nicks who is online (each protocol formats them once); answered by
// ev::DeliverReply with the nicks that were not online. No lines: only asks who is offline.
struct Deliver {
  uint32_t req = 0;
  std::vector<std::string> nicks;
  std::vector<HostLine> lines;
};
// The host is done with command `seq` of client id: the client's lines that waited behind it run now
// (or, with close, the connection closes after what was queued to it). Every ev::Command must be
// finished, or the client waits (Policy's command_timeout_ms bounds it).
struct Finish {
  uint64_t id = 0;
  uint32_t seq = 0;
  bool close = false;
};
// A connected socket the engine takes as a client (a gateway, a test): the descriptor is the engine's
// from then on (the binding posts a duplicate); irc: it speaks IRC, else the line protocol. The
// command owns it until it runs: one never run (still queued at shutdown) closes it.
struct Adopt {
  OwnedFd fd;
  std::string address;
  bool irc = false;
};
// Loads the TLS certificate and key again (their configured paths); answered by ev::TlsReloadReply.
struct ReloadTls {
  uint32_t req = 0;
};
}  // namespace cmd

using HostCmd = std::variant<cmd::Stop, cmd::Send, cmd::Reply, cmd::Announce, cmd::Kick, cmd::Query, cmd::Login,
                             cmd::Prompt, cmd::Protect, cmd::SetPolicy, cmd::Deliver, cmd::Finish, cmd::Adopt, cmd::ReloadTls>;

// ------------------------------------------------------------------------------------------- events

struct UserRec {
  uint64_t id;
  std::string nick, room, address;
};
struct RoomRec {
  std::string name;
  uint64_t members;
};

namespace ev {
struct Connect {
  uint64_t id = 0;
  std::string address;
};
struct Register {
  uint64_t id = 0;
  std::string nick;
};
struct Nick {
  uint64_t id = 0;
  std::string old, nick;
};
struct Join {
  uint64_t id = 0;
  std::string nick, room;
};
struct Leave {
  uint64_t id = 0;
  std::string nick, room;
};
struct Message {  // room empty for a private message, to empty for a room message
  uint64_t id = 0;
  std::string nick, room, to, text;
};
struct Disconnect {  // nick empty before registration
  uint64_t id = 0;
  std::string nick, reason;
};
struct Timeout {  // kind: "idle" | "registration"
  uint64_t id = 0;
  std::string nick, kind;
};
struct Command {  // a delegated command; seq: for cmd::Finish
  uint64_t id = 0;
  uint32_t seq = 0;
  std::string nick, name, args, address;
};
struct Console {  // one line of console output; or ready (text empty): ready for the next command
  std::string text;
  bool ready = false;
};
struct Signal {
  std::string name;
};
struct Error {
  std::string code, message;
};
struct KickReply {
  uint32_t req = 0;
  bool kicked = false;
};
struct UsersReply {
  uint32_t req = 0;
  std::vector<UserRec> users;
};
struct RoomsReply {
  uint32_t req = 0;
  std::vector<RoomRec> rooms;
};
struct DeliverReply {
  uint32_t req = 0;
  std::vector<std::string> offline;
};
struct TlsReloadReply {
  uint32_t req = 0;
  bool ok = false;
  std::string message;  // why not (naming the file), when !ok
};
struct Closed {
  std::vector<std::pair<const char*, uint64_t>> stats;
};
}  // namespace ev

using HostEvent = std::variant<ev::Connect, ev::Register, ev::Nick, ev::Join, ev::Leave, ev::Message, ev::Disconnect,
                               ev::Timeout, ev::Command, ev::Console, ev::Signal, ev::Error, ev::KickReply,
                               ev::UsersReply, ev::RoomsReply, ev::DeliverReply, ev::TlsReloadReply, ev::Closed>;

}  // namespace ep
