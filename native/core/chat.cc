#include "chat.h"

#include "client.h"
#include "text.h"

namespace ep {

Room* Rooms::find(std::string_view name) const {
  auto it = by_key_.find(text::lower(name));
  return it == by_key_.end() ? nullptr : it->second.get();
}

Room* Rooms::create(std::string_view name, bool permanent) {
  auto r = std::make_unique<Room>();
  r->name = std::string(name);
  r->key = text::lower(name);
  r->permanent = permanent;
  Room* raw = r.get();
  by_key_.emplace(raw->key, std::move(r));
  return raw;
}

void Rooms::add(Room* r, Client* c) {
  c->room = r;
  c->room_pos = static_cast<uint32_t>(r->members.size());
  r->members.push_back(c);
}

void Rooms::remove(Client* c) {
  Room* r = c->room;
  if (!r) return;
  Client* last = r->members.back();
  r->members[c->room_pos] = last;
  last->room_pos = c->room_pos;
  r->members.pop_back();
  c->room = nullptr;
  if (r->members.empty() && !r->permanent) by_key_.erase(r->key);
}

std::vector<const Room*> Rooms::sorted() const {
  std::vector<const Room*> v;
  v.reserve(by_key_.size());
  for (auto& kv : by_key_) v.push_back(kv.second.get());  // already in key order
  return v;
}

Client* Nicks::find(std::string_view nick) const {
  auto it = by_key_.find(text::lower(nick));
  return it == by_key_.end() ? nullptr : it->second;
}

void Nicks::insert(std::string_view nick, Client* c) { by_key_[text::lower(nick)] = c; }

void Nicks::erase(std::string_view nick) { by_key_.erase(text::lower(nick)); }

}  // namespace ep
