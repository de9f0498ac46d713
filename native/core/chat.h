// The chat model's registries: rooms with their members, and nicknames. Pure bookkeeping: who is
// where. Telling people about it is the server's job.
#pragma once
#include <cstddef>
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
};

class Rooms {
 public:
  Room* find(std::string_view name) const;
  Room* create(std::string_view name, bool permanent = false);
  // Adds c (which must be in no room) to r.
  void add(Room* r, Client* c);
  // Removes c from its room; deletes the room when it empties and is not permanent.
  void remove(Client* c);
  size_t size() const { return by_key_.size(); }
  std::vector<const Room*> sorted() const;
  // Ordered by key (lower-case name), so a list reply can resume after the last key it sent.
  using Index = std::map<std::string, std::unique_ptr<Room>, std::less<>>;
  const Index& index() const { return by_key_; }

 private:
  Index by_key_;
};

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
