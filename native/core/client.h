// One connection. Clients live in the server's slot array; a slot is reused only after the client
// is freed at the end of a loop pass, and its generation changes, so a stale id never reaches a new
// connection.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat.h"
#include "ilist.h"
#include "irc_state.h"
#include "linein.h"
#include "outq.h"

namespace ep {

class Codec;

// The wire protocol a connection speaks (its listener's, or the one adopt() was given).
enum class Proto : uint8_t { Line, Irc };

// Client::flags
// The host takes part in this client's session (an account login, a password being checked, or a
// delegated command it may still be working on):
// it always hears of the client's nick changes and end, even with lifecycle events off.
constexpr uint8_t kClientWatched = 1;

// A long list reply (/who, /users, /rooms) in progress: made a chunk at a time as the asker's socket
// drains, resuming after the last key sent, so an asker that does not read holds no snapshot and costs
// no work. Allocated only while a list is being sent.
enum class ListKind : uint8_t { Who, Users, Rooms };
struct ListCursor {
  ListKind kind;
  std::string after;  // the last key sent (lower-case nick or room key); empty before the first
  std::string room;   // /users: the key of the room asked about
  uint64_t n = 0;     // items sent so far
};

enum class ClientState : uint8_t {
  Nick,     // connected, waiting for a nickname
  Auth,     // chose an account's nickname; the host is checking the password
  Active,   // registered: has a nick and a room
  Closing,  // detached from chat; flushing its last lines, then closed
};

struct Client {
  uint32_t slot = 0;
  uint32_t gen = 0;
  int fd = -1;
  ClientState state = ClientState::Nick;
  bool dirty = false;        // on the flush list for this pass
  bool want_write = false;   // EPOLLOUT armed: the socket was full
  bool peer_eof = false;     // the peer half-closed (read returned 0)
  bool wr_shut = false;      // we sent FIN after the last queued byte
  bool reading = true;       // EPOLLIN armed: off while a command waits on the host
  uint8_t flags = 0;

  ILink<Client> link;        // inactivity list (registration, idle or linger)
  uint64_t last_ms = 0;      // last activity, the key the inactivity lists are sorted by

  // A command waiting on the host (docs/protocol.md, "Order"): its sequence number (0: none), when it
  // started (the key of the wait list), and the rest of the read it stopped in. The client's later
  // lines wait in `held` (at most one read) and in the socket, unread, until the host finishes it.
  ILink<Client> wait_link;
  uint32_t wait_seq = 0;
  uint32_t last_seq = 0;
  uint64_t wait_ms = 0;
  std::string held;
  Client* next_dirty = nullptr;

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
  LineIn in;
  OutQ out;
  char addr[56] = {0};

  uint64_t id() const { return (static_cast<uint64_t>(gen) << 20) | slot; }
};

// Clients to come back to later, held as ids (slot + generation), never as pointers: such a list
// can outlive the loop pass in which one of its clients is finalized and freed, and a stale id then
// simply no longer resolves (Server::lookup) where a pointer would be freed memory. Any list of
// clients that outlives a pass must be one of these.
class ClientIds {
 public:
  void push_back(const Client* c) { ids_.push_back(c->id()); }
  bool empty() const { return ids_.empty(); }
  uint64_t pop() {
    uint64_t id = ids_.back();
    ids_.pop_back();
    return id;
  }

 private:
  std::vector<uint64_t> ids_;
};

}  // namespace ep
