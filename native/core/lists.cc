// Long list replies (/who, /users, /rooms; IRC's in irc_lists.cc), made incrementally as the asker drains its socket.
//
// A list starts with one chunk at once (so a short list is complete before the next line is read),
// and the rest comes one chunk per flush, only when everything queued before it has been written
// (Server::flush calls list_more). An asker that stops reading stops the list: it costs one cursor
// (the last key sent) and no work, and no loop pass formats more than one chunk for it. The cursor
// resumes with upper_bound in the ordered nick and room indexes, so there is no snapshot per asker; a
// user who arrives, leaves or is renamed while a list is being sent is listed as the index is when
// the cursor passes their place.
#include <algorithm>
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

namespace {
// A chunk ends at the first item that takes it to this many bytes.
constexpr size_t kListChunk = 4096;
// Index entries looked at per chunk of /users in a big room (the others are in other rooms).
constexpr size_t kListScan = 4096;
// A room this small answers /users at once, from its member list.
constexpr size_t kUsersDirect = 128;
}  // namespace

// Bytes of list chunks all askers together may get in one loop pass (after the first chunk of each
// list, which comes with the command), so that many askers cannot make one pass long: the ones left
// over keep EPOLLOUT armed and are served first on the next pass (epoll hands out ready descriptors
// round-robin).
const size_t kListBytesPerPass = 256 * 1024;

// A long list costs its asker flood tokens (one per 1,000 lines), charged when asked, so asking for
// 19,000 users over and over cannot keep the engine busy for everyone else.
void Server::charge_list(Client* c, uint64_t lines) {
  if (pol_.flood_rate > 0) c->tokens -= static_cast<double>(lines) / 1000.0;
}

void Server::list_start(Client* c, ListKind kind, uint64_t expected, std::string room) {
  charge_list(c, expected);
  c->list = std::make_unique<ListCursor>();
  c->list->kind = kind;
  c->list->room = std::move(room);
  list_chunk(c);
}

// Queues the next chunk of c's list; the last one carries the END line and ends the list.
void Server::list_chunk(Client* c) {
  ListCursor& l = *c->list;
  std::string buf;
  const Codec& codec = *c->codec;
  bool end = false;
  auto item = [&](std::string_view kind, std::string_view first, std::string_view rest) {
    codec.append(Out{OutKind::Item, kind, first, rest}, buf);
    ++l.n;
  };
  const bool irc = l.kind == ListKind::IrcList || l.kind == ListKind::IrcNames || l.kind == ListKind::IrcWho ||
                   l.kind == ListKind::IrcWhoMask;
  if (irc) end = irc_list_chunk(c, buf);  // IRC numerics, framed by c's codec (irc_lists.cc)
  else switch (l.kind) {
    case ListKind::Who: {
      const Nicks::Index& idx = nicks_.index();
      auto it = idx.upper_bound(l.after);
      for (; it != idx.end() && buf.size() < kListChunk; ++it) {
        const Client* u = it->second;
        if (u->state == ClientState::Active) {
          // An IRC user: its first channel, or "-" when in none.
          const Room* in = u->room ? u->room : u->joined.empty() ? nullptr : u->joined.front().room;
          item("WHO", u->nick, in ? std::string_view(in->name) : std::string_view("-"));
        }
        l.after = it->first;
      }
      end = it == idx.end();
      break;
    }
    case ListKind::Users: {
      const Room* room = rooms_.find(l.room);
      if (!room) {
        end = true;  // the room emptied and is gone: nobody left to list
        break;
      }
      const Nicks::Index& idx = nicks_.index();
      auto it = idx.upper_bound(l.after);
      for (size_t seen = 0; it != idx.end() && buf.size() < kListChunk && seen < kListScan; ++it, ++seen) {
        const Client* u = it->second;
        if (u->state == ClientState::Active && in_room(u, room)) item("USER", {}, u->nick);
        l.after = it->first;
      }
      end = it == idx.end();
      break;
    }
    case ListKind::Rooms: {
      const Rooms::Index& idx = rooms_.index();
      auto it = idx.upper_bound(l.after);
      for (; it != idx.end() && buf.size() < kListChunk; ++it) {
        item("ROOM", it->second->name, std::to_string(it->second->members.size()));
        l.after = it->first;
      }
      end = it == idx.end();
      break;
    }
    default:
      break;
  }
  if (end) {
    static constexpr std::string_view kEnd[] = {"WHO", "USERS", "ROOMS"};
    if (!irc) codec.append(Out{OutKind::End, kEnd[static_cast<int>(l.kind)], {}, {}, l.n}, buf);
    c->list.reset();
  }
  if (buf.empty()) return;
  Buf* b = Buf::make(buf.data(), buf.size());
  if (!b) {
    c->list.reset();
    overflowed_.push_back(c);
    return;
  }
  enqueue(c, b);
  b->unref();
}

// Called by flush when c's queue has been written out and a list is in progress: queues the next chunk
// and writes it. Done when the list is over and written, Blocked when there is more to come (EPOLLOUT
// brings c back on the next pass: one chunk per asker per pass, so no pass is long), Error as flush.
FlushResult Server::list_more(Client* c, size_t* written, int* err) {
  if (c->state != ClientState::Active) {
    c->list.reset();
    return FlushResult::Done;
  }
  if (list_budget_ < kListChunk) return FlushResult::Blocked;  // this pass has made enough: the next one
  list_budget_ -= kListChunk;
  list_chunk(c);
  if (c->fd < 0 || c->state != ClientState::Active) return FlushResult::Done;
  FlushResult r = c->write_out(written, err);
  if (r == FlushResult::Done && c->list) return FlushResult::Blocked;
  return r;
}

template <typename Range>
std::vector<const Client*> Server::by_nick(const Range& clients) {
  std::vector<std::pair<std::string, const Client*>> keyed;
  for (const Client* c : clients)
    if (c && c->state == ClientState::Active) keyed.emplace_back(text::lower(c->nick), c);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const Client*> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) out.push_back(k.second);
  return out;
}

// Both uses (room members, the slot array) are vectors of clients.
template std::vector<const Client*> Server::by_nick(const std::vector<Client*>&);

void Server::cmd_rooms(Client* c) {
  list_start(c, ListKind::Rooms, rooms_.size(), {});
}

void Server::cmd_users(Client* c) {
  const Room* room = c->room;
  if (room->members.size() > kUsersDirect) {
    list_start(c, ListKind::Users, room->members.size(), room->key);
    return;
  }
  ListReply r{c, "USER"};
  for (const Client* m : by_nick(room->members)) r.add({}, m->nick);
  finish(r, "USERS");
}

void Server::cmd_who(Client* c) {
  list_start(c, ListKind::Who, nicks_.size(), {});
}

}  // namespace ep
