// IRC's long replies (LIST, NAMES and WHO of a big room, WHO with a mask), made a chunk at a time as
// the asker drains its socket, through the line protocol's list machinery (lists.cc): the first chunk
// comes with the command, the rest one chunk per flush once the queue before it is written, within
// the loop pass's shared budget (kListBytesPerPass), and the asker's later lines wait until the end
// numeric is queued (Server::input_held). The lines are framed by the asker's codec (a WebSocket
// frame per line for IRC over WebSocket).
//
// What the same command says after the list starts (the rest of a JOIN #a,#b or NAMES #a,#b: echoes,
// topics, more NAMES) waits in ListCursor::then and follows the end numeric, in order.
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

namespace {
// As lists.cc: a chunk ends at the first line that takes it to this many bytes, and looks at this
// many index entries at most (NAMES and WHO of a room: the others are in other rooms).
constexpr size_t kIrcListChunk = 4096;
constexpr size_t kIrcListScan = 4096;

char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; }

// IRC's mask match (ASCII case-insensitive, as CASEMAPPING=ascii): * any run, ? any one byte.
bool glob(std::string_view mask, std::string_view s) {
  size_t m = 0, i = 0, star = std::string_view::npos, back = 0;
  while (i < s.size()) {
    if (m < mask.size() && (mask[m] == '?' || lower(mask[m]) == lower(s[i]))) {
      ++m, ++i;
    } else if (m < mask.size() && mask[m] == '*') {
      star = m++;
      back = i;
    } else if (star != std::string_view::npos) {
      m = star + 1;
      i = ++back;
    } else {
      return false;
    }
  }
  while (m < mask.size() && mask[m] == '*') ++m;
  return m == mask.size();
}
}  // namespace

// WHO with no argument, "0", or a mask with * or ?: everyone whose nick matches.
bool Server::irc_who_is_mask(std::string_view mask) {
  return mask.empty() || mask == "0" || mask.find_first_of("*?") != std::string_view::npos;
}

void Server::irc_list_start(Client* c, ListKind kind, std::string room, std::string mask) {
  c->list = std::make_unique<ListCursor>();
  ListCursor& l = *c->list;
  l.kind = kind;
  l.room = std::move(room);
  l.mask = std::move(mask);
  l.uhnames = c->irc->caps.has(irc::kCapUserhostInNames);
  list_chunk(c);
}

bool Server::irc_list_chunk(Client* c, std::string& buf) {
  ListCursor& l = *c->list;
  const Codec& codec = *c->codec;
  std::string raw;  // lines of this chunk, framed into buf by the codec
  auto frame = [&]() {
    if (raw.empty()) return;
    codec.append_wire(raw, buf);
    raw.clear();
  };
  auto full = [&]() { return buf.size() + raw.size() >= kIrcListChunk; };
  const Nicks::Index& nicks = nicks_.index();
  for (;;) {
    bool done = false;
    switch (l.kind) {
      case ListKind::IrcList: {
        const Rooms::Index& idx = rooms_.index();
        auto it = idx.upper_bound(l.after);
        for (; it != idx.end() && !full(); ++it) {
          const Room* r = it->second.get();
          raw += irc_num_line(c, 322, "#" + r->name + " " + std::to_string(r->members.size()),
                              text::utf8_prefix(r->topic, kIrcTopicLen));
          l.after = it->first;
          ++l.n;
        }
        done = it == idx.end();
        if (done) raw += irc_num_line(c, 323, {}, "End of /LIST");
        break;
      }
      case ListKind::IrcNames:
      case ListKind::IrcWho: {
        const bool names = l.kind == ListKind::IrcNames;
        const Room* room = rooms_.find(l.room);
        auto it = nicks.upper_bound(l.after);
        if (room) {
          const std::string chan = "#" + room->name;
          for (size_t seen = 0; it != nicks.end() && !full() && seen < kIrcListScan; ++it, ++seen) {
            const Client* u = it->second;
            l.after = it->first;
            if (u->state != ClientState::Active || !in_room(u, room)) continue;
            ++l.n;
            if (!names) {
              raw += irc_who_row(c, u, chan, irc_is_op(u, room));
              continue;
            }
            std::string one = irc_name(u, room, l.uhnames);
            if (!l.names.empty() && l.names.size() + one.size() + 1 > kIrcNamesChunk) {
              raw += irc_num_line(c, 353, "= " + chan, l.names);
              l.names.clear();
            }
            if (!l.names.empty()) l.names += ' ';
            l.names += one;
          }
        }
        done = !room || it == nicks.end();  // a room that emptied and is gone: nobody left to list
        if (names && !l.names.empty() && (done || full())) {
          raw += irc_num_line(c, 353, "= " + (room ? "#" + room->name : l.mask), l.names);
          l.names.clear();
        }
        if (done && names) raw += irc_num_line(c, 366, l.mask, "End of /NAMES list.");
        if (done && !names) raw += irc_num_line(c, 315, l.mask, "End of /WHO list.");
        break;
      }
      case ListKind::IrcWhoMask: {
        const bool all = l.mask == "*" || l.mask == "0";
        auto it = nicks.upper_bound(l.after);
        for (size_t seen = 0; it != nicks.end() && !full() && seen < kIrcListScan; ++it, ++seen) {
          const Client* u = it->second;
          l.after = it->first;
          if (u->state != ClientState::Active || !(all || glob(l.mask, u->nick))) continue;
          ++l.n;
          raw += irc_who_row(c, u, "*", false);
        }
        done = it == nicks.end();
        if (done) raw += irc_num_line(c, 315, l.mask, "End of /WHO list.");
        break;
      }
      default:
        done = true;  // the line protocol's kinds are lists.cc's
        break;
    }
    frame();
    if (!done) return false;
    // The list is over: what the command said after it, in order, up to the next big NAMES (which
    // becomes this cursor's list).
    size_t i = 0;
    bool next = false;
    for (; i < l.then.size() && !next; ++i) {
      ListThen& t = l.then[i];
      if (t.room.empty()) {
        buf += t.wire;
        continue;
      }
      const Room* r = rooms_.find(t.room);
      if (!r) {
        raw += irc_num_line(c, 366, "#" + t.room, "End of /NAMES list.");
      } else {
        charge_list(c, r->members.size());
        if (r->members.size() <= kIrcListDirect) {
          irc_names_direct(c, r, raw);
        } else {
          l.kind = ListKind::IrcNames;
          l.room = t.room;
          l.mask = "#" + r->name;
          l.after.clear();
          l.names.clear();
          l.n = 0;
          next = true;
        }
      }
      frame();
    }
    l.then.erase(l.then.begin(), l.then.begin() + static_cast<std::ptrdiff_t>(i));
    if (!next) return true;
    if (full()) return false;
  }
}

}  // namespace ep
