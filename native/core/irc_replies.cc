// IRC numerics: replies to one IRC user's own commands (registration burst, NAMES, WHO, WHOIS, LIST,
// LUSERS, MOTD), written for that user (a numeric names its recipient). What the other users of a
// room see is fan-out (irc_codec.cc).
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

void Server::irc_send(Client* c, const std::string& line) {
  if (line.empty()) return;
  // Through the client's codec: as is on TCP, a frame per line on a WebSocket.
  std::string_view wire = line;
  if (c->ws) {
    wire_.clear();
    c->codec->append_wire(line, wire_);
    wire = wire_;
  }
  if (c->list) {
    // A list this user asked for is still being sent (irc_lists.cc): what its command says next
    // follows the list's end numeric, in order.
    std::vector<ListThen>& then = c->list->then;
    if (then.empty() || !then.back().room.empty()) then.emplace_back();
    then.back().wire.append(wire);
    return;
  }
  enqueue_copy(c, wire);
}

void Server::irc_num(Client* c, int code, std::string_view params, std::string_view trailing, bool has_trailing) {
  irc_send(c, irc_num_line(c, code, params, trailing, has_trailing));
}

std::string Server::irc_num_line(const Client* c, int code, std::string_view params, std::string_view trailing,
                                 bool has_trailing) const {
  char num[4];
  num[0] = static_cast<char>('0' + code / 100);
  num[1] = static_cast<char>('0' + code / 10 % 10);
  num[2] = static_cast<char>('0' + code % 10);
  num[3] = 0;
  std::string s;
  s.reserve(64 + params.size() + trailing.size());
  s += ':';
  s += kIrcServerName;
  s += ' ';
  s += num;
  s += ' ';
  if (c->state == ClientState::Active) s += c->nick;
  else s += c->irc && !c->irc->nick.empty() ? c->irc->nick : std::string("*");
  if (!params.empty()) {
    // Parameters echo what the client sent (a target, a command): cut so the line stays in 512 bytes.
    size_t room = irc::kMaxBody > s.size() + 40 ? irc::kMaxBody - s.size() - 40 : 0;
    s += ' ';
    s.append(text::utf8_prefix(params, room));
  }
  if (has_trailing) {
    s += " :";
    s.append(text::utf8_prefix(trailing, irc::kMaxBody > s.size() ? irc::kMaxBody - s.size() : 0));
  }
  s += "\r\n";
  return s;
}

void Server::irc_welcome(Client* c) {
  const std::string& n = c->nick;
  irc_num(c, 1, {}, "Welcome to the epchat IRC network " + prefix(c));
  irc_num(c, 2, {}, std::string("Your host is ") + kIrcServerName + ", running epchat");
  irc_num(c, 3, {}, "This server was created when it started");
  irc_num(c, 4, std::string(kIrcServerName) + " epchat i bno", {}, false);
  irc_num(c, 5,
          "AWAYLEN=300 CASEMAPPING=ascii CHANLIMIT=#:50 CHANMODES=b,,,n CHANNELLEN=33 CHANTYPES=# KICKLEN=300 "
          "MAXTARGETS=4 MODES=1 NETWORK=epchat NICKLEN=" +
              std::to_string(pol_.nick_max) + " PREFIX=(o)@",
          "are supported by this server");
  irc_num(c, 5, "STATUSMSG= TARGMAX=PRIVMSG:4,NOTICE:4,NAMES:1,WHOIS:1,JOIN:,PART:,KICK:1 TOPICLEN=300 UTF8ONLY",
          "are supported by this server");
  (void)n;
  irc_lusers(c);
  irc_motd(c);
}

void Server::irc_lusers(Client* c) {
  irc_num(c, 251, {}, "There are " + std::to_string(nicks_.size()) + " users and 0 invisible on 1 servers");
  irc_num(c, 254, std::to_string(rooms_.size()), "channels formed");
  irc_num(c, 255, {}, "I have " + std::to_string(open_clients_) + " clients and 0 servers");
}

void Server::irc_motd(Client* c) {
  irc_num(c, 375, {}, std::string("- ") + kIrcServerName + " Message of the day -");
  irc_num(c, 372, {}, "- IRC and line-protocol users share rooms here: #dev on IRC is dev on the line protocol.");
  irc_num(c, 376, {}, "End of /MOTD command.");
}

bool Server::irc_is_op(const Client* c, const Room* r) const {
  return !r->creator.empty() && r->creator == text::lower(c->nick);
}

void Server::irc_names(Client* c, const Room* r) {
  if (c->list) {  // after the list in progress (the rest of a JOIN #a,#b or NAMES #a,#b), in order
    c->list->then.push_back(ListThen{{}, r->key});
    return;
  }
  charge_list(c, r->members.size());
  if (r->members.size() > kIrcListDirect) {
    irc_list_start(c, ListKind::IrcNames, r->key, "#" + r->name);
    return;
  }
  std::string lines;
  irc_names_direct(c, r, lines);
  irc_send(c, lines);
}

// A small room's NAMES, at once, in member order: 353 lines, then 366.
void Server::irc_names_direct(const Client* c, const Room* r, std::string& lines) {
  const bool uhnames = c->irc->caps.has(irc::kCapUserhostInNames);
  const std::string head = "= #" + r->name;
  std::string names;
  for (const Client* m : r->members) {
    if (m->state != ClientState::Active) continue;
    std::string one = irc_name(m, r, uhnames);
    if (!names.empty() && names.size() + one.size() + 1 > kIrcNamesChunk) {
      lines += irc_num_line(c, 353, head, names);
      names.clear();
    }
    if (!names.empty()) names += ' ';
    names += one;
  }
  if (!names.empty()) lines += irc_num_line(c, 353, head, names);
  lines += irc_num_line(c, 366, "#" + r->name, "End of /NAMES list.");
}

// One user in NAMES: @ for the room's operator, nick!user@host with userhost-in-names.
std::string Server::irc_name(const Client* m, const Room* r, bool uhnames) const {
  std::string one = irc_is_op(m, r) ? "@" : "";
  one += uhnames ? prefix(m) : m->nick;
  return one;
}

// One 352 line for c about u.
std::string Server::irc_who_row(const Client* c, const Client* u, std::string_view chan, bool op) const {
  std::string user = u->irc && !u->irc->user.empty() ? u->irc->user : u->nick;
  std::string p = prefix(u);
  std::string host = p.substr(p.find('@') + 1);
  std::string flags = u->irc && !u->irc->away.empty() ? "G" : "H";
  if (op) flags += '@';
  std::string real = u->irc && !u->irc->realname.empty() ? u->irc->realname : u->nick;
  return irc_num_line(c, 352,
                      std::string(chan) + " " + user + " " + host + " " + kIrcServerName + " " + u->nick + " " + flags,
                      "0 " + real);
}

void Server::irc_who(Client* c, std::string_view mask) {
  if (!mask.empty() && mask[0] == '#') {
    bool valid = false;
    if (const Room* r = irc_room(mask, &valid)) {
      charge_list(c, r->members.size());  // as a line user's /users: big replies cost flood tokens
      if (r->members.size() > kIrcListDirect) {
        irc_list_start(c, ListKind::IrcWho, r->key, std::string(mask));
        return;
      }
      std::string lines;
      for (const Client* m : r->members)
        if (m->state == ClientState::Active) lines += irc_who_row(c, m, "#" + r->name, irc_is_op(m, r));
      irc_send(c, lines);
    }
  } else if (irc_who_is_mask(mask)) {
    // Everyone whose nick matches (WHO, WHO *, WHO 0, WHO a*): the whole nick index, a chunk at a time.
    charge_list(c, nicks_.size());
    irc_list_start(c, ListKind::IrcWhoMask, {}, mask.empty() ? std::string("*") : std::string(mask));
    return;
  } else if (const Client* u = nicks_.find(mask)) {
    irc_send(c, irc_who_row(c, u, "*", false));
  }
  irc_num(c, 315, mask.empty() ? std::string_view("*") : mask, "End of /WHO list.");
}

void Server::irc_whois(Client* c, std::string_view nick) {
  const Client* u = nicks_.find(nick);
  if (!u || u->state != ClientState::Active) {
    irc_num(c, 401, nick, "No such nick/channel");
    irc_num(c, 318, nick, "End of /WHOIS list.");
    return;
  }
  std::string p = prefix(u);
  std::string user = p.substr(p.find('!') + 1, p.find('@') - p.find('!') - 1);
  std::string host = p.substr(p.find('@') + 1);
  std::string real = u->irc && !u->irc->realname.empty() ? u->irc->realname : u->nick;
  irc_num(c, 311, u->nick + " " + user + " " + host + " *", real);
  std::string chans;
  for (const Membership& m : u->joined) {
    if (!chans.empty()) chans += ' ';
    if (irc_is_op(u, m.room)) chans += '@';
    chans += "#" + m.room->name;
  }
  if (!chans.empty()) irc_num(c, 319, u->nick, chans);
  irc_num(c, 312, u->nick + " " + kIrcServerName, u->proto == Proto::Irc ? "epchat (IRC)" : "epchat (line protocol)");
  if (u->irc && !u->irc->away.empty()) irc_num(c, 301, u->nick, u->irc->away);
  if (u->irc && !u->irc->account.empty()) irc_num(c, 330, u->nick + " " + u->irc->account, "is logged in as");
  irc_num(c, 318, u->nick, "End of /WHOIS list.");
}

void Server::irc_list(Client* c) {
  charge_list(c, rooms_.size());
  irc_num(c, 321, "Channel", "Users  Name");
  irc_list_start(c, ListKind::IrcList, {}, {});  // 322 per room, 323 (irc_lists.cc)
}

}  // namespace ep
