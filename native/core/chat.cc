#include "chat.h"

#include <ctime>

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
  r->created = static_cast<uint64_t>(std::time(nullptr));
  Room* raw = r.get();
  by_key_.emplace(raw->key, std::move(r));
  return raw;
}

void Rooms::add(Room* r, Client* c) {
  c->joined.push_back(Membership{r, static_cast<uint32_t>(r->members.size())});
  r->members.push_back(c);
}

namespace {
Membership* membership(Client* c, const Room* r) {
  for (Membership& m : c->joined)
    if (m.room == r) return &m;
  return nullptr;
}
}  // namespace

bool in_room(const Client* c, const Room* r) {
  for (const Membership& m : c->joined)
    if (m.room == r) return true;
  return false;
}

bool Rooms::remove(Room* r, Client* c) {
  Membership* mine = membership(c, r);
  if (!mine) return false;
  uint32_t pos = mine->pos;
  Client* last = r->members.back();
  r->members[pos] = last;
  if (last != c) membership(last, r)->pos = pos;
  r->members.pop_back();
  *mine = c->joined.back();
  c->joined.pop_back();
  if (c->room == r) c->room = nullptr;
  if (r->members.empty() && !r->permanent) by_key_.erase(r->key);
  return true;
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
