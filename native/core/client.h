// One connection as the chat sees it: the socket side (descriptor, transport, output queue, linger,
// id, inactivity) is the Connection it derives from (connection.h); the fields here are the user's.
// Clients live in the server's Connections table; a slot is reused only after the client is freed at
// the end of a loop pass, and its generation changes, so a stale id never reaches a new connection.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat.h"
#include "connection.h"
#include "ilist.h"
#include "http_session.h"
#include "irc_state.h"
#include "linein.h"
#include "proto.h"
#include "ws_session.h"

namespace ep {

class Codec;

// Client::flags
// The host takes part in this client's session (an account login, a password being checked, or a
// delegated command it may still be working on):
// it always hears of the client's nick changes and end, even with lifecycle events off.
constexpr uint8_t kClientWatched = 1;

// A long list reply (/who, /users, /rooms) in progress: made a chunk at a time as the asker's socket
// drains, resuming after the last key sent, so an asker that does not read holds no snapshot and costs
// no work. Allocated only while a list is being sent.
// IRC's long replies go the same way (irc_lists.cc): LIST (322s, 323), NAMES #room (353s, 366) and
// WHO #room (352s, 315) of a big room, WHO with a mask over everyone (352s, 315).
enum class ListKind : uint8_t { Who, Users, Rooms, IrcList, IrcNames, IrcWho, IrcWhoMask };
// What an IRC user's command queued after a list it started (the rest of a JOIN #a,#b or NAMES
// #a,#b): lines ready for the wire, or another NAMES (room key set) to answer once the list is over.
struct ListThen {
  std::string wire;
  std::string room;
};
struct ListCursor {
  ListKind kind;
  std::string after;  // the last key sent (lower-case nick or room key); empty before the first
  std::string room;   // /users, IRC NAMES and WHO #room: the key of the room asked about
  uint64_t n = 0;     // items sent so far
  std::string mask;   // IRC: the end numeric's parameter (#room, or the WHO mask)
  std::string names;  // IRC NAMES: names not yet sent in a 353 line
  bool uhnames = false;
  std::vector<ListThen> then;  // IRC: in order, after the end numeric
};

enum class ClientState : uint8_t {
  Nick,     // connected, waiting for a nickname
  Auth,     // chose an account's nickname; the host is checking the password
  Active,   // registered: has a nick and a room
  Closing,  // detached from chat; flushing its last lines, then closed
};

struct Client : Connection {
  ClientState state = ClientState::Nick;
  uint8_t flags = 0;

  // A command waiting on the host (docs/protocol.md, "Order"): its sequence number (0: none), when it
  // started (the key of the wait list), and the rest of the read it stopped in. The client's later
  // lines wait in `held` (at most one read) and in the socket, unread, until the host finishes it.
  ILink<Client> wait_link;
  uint32_t wait_seq = 0;
  uint32_t last_seq = 0;
  uint64_t wait_ms = 0;
  std::string held;

  std::string nick;
  // The rooms this user is in (the chat model: many for IRC users). A line user is in exactly one
  // once registered, its current room `room`; an IRC user's `room` stays null.
  std::vector<Membership> joined;
  Room* room = nullptr;
  uint64_t mark = 0;         // fan-out to several rooms: the stamp of the last event this user got

  double tokens = 0;         // flood bucket
  uint64_t tokens_ms = 0;
  uint32_t dropped = 0;      // lines dropped in a row for flooding

  std::unique_ptr<ListCursor> list;  // a list reply being sent, or null

  Proto proto = Proto::Line;
  Codec* codec = nullptr;
  std::unique_ptr<IrcState> irc;  // IRC connections only
  // The framing under the protocol: none (raw TCP lines), HTTP (before an upgrade) or WebSocket.
  std::unique_ptr<HttpSession> http;  // on the HTTP listener, until upgraded or closed
  std::unique_ptr<WsSession> ws;      // a WebSocket: input through its frame reader, codec frames output
  LineIn in;
  char addr[56] = {0};
};

// Clients to come back to later, held as ids (slot + generation), never as pointers: such a list
// can outlive the loop pass in which one of its clients is finalized and freed, and a stale id then
// simply no longer resolves (Connections::find) where a pointer would be freed memory. Any list of
// clients that outlives a pass must be one of these.
class ClientIds {
 public:
  void push_back(const Client* c) { ids_.push_back(c->id()); }
  bool empty() const { return ids_.empty(); }
  void swap(ClientIds& o) { ids_.swap(o.ids_); }
  uint64_t pop() {
    uint64_t id = ids_.back();
    ids_.pop_back();
    return id;
  }

 private:
  std::vector<uint64_t> ids_;
};

}  // namespace ep
