// What the host (JavaScript, or epchatd) and the admin console on stdin ask for. The handlers that
// bring the commands in are host_channel.cc (the Bridge's eventfd) and console.cc (stdin).
#include <string>

#include "server.h"
#include "sysio.h"
#include "text.h"

namespace ep {

namespace {
constexpr size_t kLoginNickMax = 255;  // the largest nickMaxLength the configuration accepts
}  // namespace

// One handler per command kind (host_api.h); std::visit makes a kind left unhandled a compile error.
struct Server::HostCommands {
  Server& s;
  Client* live(uint64_t id) const {
    Client* c = s.lookup(id);
    // An HTTP connection not upgraded is no chat client: nothing the host sends may reach it.
    return c && c->state != ClientState::Closing && !c->http ? c : nullptr;
  }
  void operator()(cmd::Stop& c) const { s.begin_shutdown(c.force); }
  void operator()(cmd::Send& c) const {
    Client* cl = live(c.id);
    if (!cl || irc_authenticating(cl)) return;
    std::string_view t = c.text;
    while (!t.empty() && t.back() == '\n') t.remove_suffix(1);
    s.send(cl, Out{OutKind::Raw, {}, {}, t});
  }
  void operator()(cmd::Reply& c) const {
    Client* cl = live(c.id);
    s.reply_lines(irc_authenticating(cl) ? nullptr : cl, c.lines);
  }
  // During an IRC login (SASL, PASS) the host's password-step prompts mean nothing: numerics say it.
  static bool irc_authenticating(const Client* cl) { return cl && cl->proto == Proto::Irc && cl->irc->auth_step; }
  void operator()(cmd::Announce& c) const { s.announce(c.text); }
  void operator()(cmd::Kick& c) const { s.bridge_->emit(ev::KickReply{c.req, s.kick(c.nick, c.reason)}); }
  void operator()(cmd::Query& c) const {
    if (c.what == cmd::What::Users) s.bridge_->emit(ev::UsersReply{c.req, s.user_list()});
    else s.bridge_->emit(ev::RoomsReply{c.req, s.room_list()});
  }
  void operator()(cmd::Login& c) const {
    Client* cl = live(c.id);
    if (!cl) return;
    // A login bypasses nick protection, not the nick grammar: a nick with a blank, ':' or a
    // control character (or an empty one) would let host code break the protocol's promise that
    // a line starting "NICK: " is NICK's. Refused; an unregistered client goes back to the
    // prompt rather than waiting in the password step. (Found by fuzz_session.) The bound is
    // nickMaxLength's ceiling, so an account made under a longer limit can still log in.
    if (!text::valid_nick(c.nick, kLoginNickMax)) {
      if (cl->state == ClientState::Active) return;
      if (cl->proto == Proto::Irc) {
        s.irc_auth_result(cl, false);  // not logged in
        return;
      }
      cl->state = ClientState::Nick;
      s.send(cl, Out{OutKind::Prompt});
      return;
    }
    s.login(cl, c.nick);
  }
  void operator()(cmd::Prompt& c) const {
    Client* cl = s.lookup(c.id);
    if (!cl || (cl->state != ClientState::Nick && cl->state != ClientState::Auth)) return;
    if (cl->proto == Proto::Irc) {
      s.irc_auth_result(cl, false);  // the password was refused
      return;
    }
    cl->state = ClientState::Nick;
    s.send(cl, Out{OutKind::Prompt});
  }
  void operator()(cmd::Protect& c) const {
    for (auto& n : c.add) s.protected_.insert(text::lower(n));
    for (auto& n : c.remove) s.protected_.erase(text::lower(n));
  }
  void operator()(cmd::SetPolicy& c) const {
    if (c.policy) s.pol_ = *c.policy;
  }
  void operator()(cmd::Deliver& c) const { s.bridge_->emit(ev::DeliverReply{c.req, s.deliver(c.nicks, c.lines)}); }
  void operator()(cmd::Adopt& c) const {
    // A socket the host accepted (a gateway, a test) becomes a client of the protocol it names.
    Proto proto = c.irc ? Proto::Irc : Proto::Line;
    int fd = c.fd.release();
    if (s.adopt(fd, c.address.c_str(), proto)) return;
    if (proto == Proto::Line) refuse_connection(fd, "server is full, try again later", s.stats_);
    else sysio::close(fd);
  }
  void operator()(cmd::ReloadTls& c) const {
    std::string msg;
    bool ok = s.reload_tls(&msg);
    s.bridge_->emit(ev::TlsReloadReply{c.req, ok, std::move(msg)});
  }
  void operator()(cmd::Finish& c) const {
    Client* cl = s.lookup(c.id);
    if (cl && cl->fd >= 0 && cl->state != ClientState::Closing) s.finish_command(cl, c.seq, c.close);
  }
};

void Server::on_host_commands(std::vector<HostCmd>& cmds) {
  for (HostCmd& cmd : cmds) std::visit(HostCommands{*this}, cmd);
  drop_overflowed();
}

// An authenticated login: the account owns the nick, so whoever holds it now gives it up.
void Server::login(Client* c, std::string_view nick) {
  c->flags |= kClientWatched;
  Client* holder = nicks_.find(nick);
  if (holder && holder != c) {
    error(holder, "KICKED", "logged in from another connection");
    close_client(holder, "kicked");
  }
  if (c->proto == Proto::Irc && c->state != ClientState::Active) {
    // The IRC password path (SASL, or PASS for a protected nick): logged in, registration goes on.
    c->irc->account = text::lower(nick);
    irc_auth_result(c, true);
    return;
  }
  if (c->state == ClientState::Active) {
    if (c->nick != nick) rename(c, nick);
  } else {
    register_client(c, nick);
  }
}

// The host is done with command `seq` of c: the lines that waited behind it run now, up to the next
// one that waits on the host (the rest stays held), and reading resumes once none is left. A stale or
// unknown seq finishes nothing. close: the host ends the connection (after what it queued to it),
// whatever the seq.
void Server::finish_command(Client* c, uint32_t seq, bool close) {
  if (close) {
    close_client(c, "kicked");
    return;
  }
  if (!c->wait_seq || c->wait_seq != seq) return;
  stop_waiting(c);
  if (c->proto == Proto::Irc && c->irc->auth_step) irc_auth_finished(c);
  if (c->fd < 0 || c->state == ClientState::Closing || input_held(c)) return;
  // An IRC login by PASS is done: registration, held until now, completes.
  if (c->proto == Proto::Irc && c->state == ClientState::Nick) irc_try_register(c);
  if (c->fd < 0 || c->state == ClientState::Closing || input_held(c)) return;
  resume_input(c);
}

void Server::resume_input(Client* c) {
  std::string held;
  held.swap(c->held);  // feed() may hold a new rest in c->held
  if (!held.empty()) feed(c, held.data(), held.size(), mono_ns());
  if (c->fd >= 0 && c->state != ClientState::Closing && !input_held(c) && !set_reading(c, true))
    close_client(c, "error", true);
  list_pending_read(c);  // reading again: what the transport holds will not wake epoll
}

bool Server::kick(std::string_view nick, std::string_view reason) {
  Client* c = nicks_.find(nick);
  if (!c) return false;
  error(c, "KICKED", reason.empty() ? std::string_view("kicked by the administrator") : reason);
  close_client(c, "kicked");
  return true;
}

void Server::announce(std::string_view t) { fanout_all(Out{OutKind::Announce, {}, {}, t}); }

// ---------------------------------------------------------------------------------------- console

std::vector<UserRec> Server::console_users() const { return user_list(); }
std::vector<RoomRec> Server::console_rooms() const { return room_list(); }
bool Server::console_kick(std::string_view nick, std::string_view reason) { return kick(nick, reason); }
void Server::console_announce(std::string_view text) { announce(text); }
void Server::console_shutdown() { begin_shutdown(false); }
void Server::console_done() { drop_overflowed(); }

}  // namespace ep
