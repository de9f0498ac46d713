// The chat model: rooms with their members and topics, and the nickname registry. Pure bookkeeping:
// who is where, no descriptors and no protocol text. Telling people about it is the protocol
// sessions' job (line_session.cc, irc_session.cc), through fan-out (Server::fanout).
//
// A user may be in many rooms (IRC channels); the line protocol keeps one current room per user on
// top of this (Client::room), as docs/protocol.md promises.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ep {

struct Client;

struct Room {
  std::string name;
  std::string key;  // lower case
  std::vector<Client*> members;
  bool permanent = false;  // the default room is never removed
  // Topic: empty text when none; the setter's nick and when (Unix seconds).
  std::string topic, topic_by;
  uint64_t topic_time = 0;
  uint64_t created = 0;     // Unix seconds
  std::string creator;      // lower-case nick of whoever created the room: its operator ("" for none)
};

// One room a user is in, and the user's index in room->members (O(1) removal).
struct Membership {
  Room* room;
  uint32_t pos;
};

class Rooms {
 public:
  Room* find(std::string_view name) const;
  Room* create(std::string_view name, bool permanent = false);
  // Adds c to r (c must not be in r).
  void add(Room* r, Client* c);
  // Removes c from r; deletes r when it empties and is not permanent. False when c was not in r.
  bool remove(Room* r, Client* c);
  size_t size() const { return by_key_.size(); }
  std::vector<const Room*> sorted() const;
  // Ordered by key (lower-case name), so a list reply can resume after the last key it sent.
  using Index = std::map<std::string, std::unique_ptr<Room>, std::less<>>;
  const Index& index() const { return by_key_; }

 private:
  Index by_key_;
};

// True when c is a member of r (a scan of c's memberships: a handful).
bool in_room(const Client* c, const Room* r);

class Nicks {
 public:
  Client* find(std::string_view nick) const;
  void insert(std::string_view nick, Client* c);
  void erase(std::string_view nick);
  size_t size() const { return by_key_.size(); }
  // Ordered by lower-case nick, so a list reply can resume after the last key it sent (lower_bound)
  // instead of sorting a snapshot per asker.
  using Index = std::map<std::string, Client*, std::less<>>;
  const Index& index() const { return by_key_; }

 private:
  Index by_key_;
};

}  // namespace ep
