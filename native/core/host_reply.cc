// Structured replies from the host (host_api.h's HostLine): turned into Outs here, formatted by each
// client's protocol (Codec::append), so the host never writes protocol text. A reply goes to one
// client (cmd::Reply); a delivery to several (cmd::Deliver), formatted once per protocol present.
#include <array>
#include <string>

#include "server.h"

namespace ep {

namespace {

// Calls f(out) for each Out that line l stands for (a list: one Item per row, then its End).
template <typename F>
void outs(const HostLine& l, F&& f) {
  struct Visit {
    F& f;
    void operator()(const line::Notice& n) const { f(Out{OutKind::Notice, {}, {}, n.text}); }
    void operator()(const line::Error& e) const { f(Out{OutKind::Error, e.code, {}, e.text}); }
    void operator()(const line::List& l) const {
      for (const auto& row : l.rows) {
        Out o{OutKind::Item, l.kind};
        o.fields = &row;
        f(o);
      }
      f(Out{OutKind::End, l.end.empty() ? l.kind : l.end, {}, {}, l.rows.size()});
    }
    void operator()(const line::Pm& p) const { f(Out{OutKind::PmFrom, p.from, {}, p.text, p.time_ms}); }
    void operator()(const line::PmSent& p) const { f(Out{OutKind::PmTo, p.to, {}, p.text}); }
    void operator()(const line::Group& g) const { f(Out{OutKind::GroupFrom, g.from, g.group, g.text, g.time_ms}); }
  };
  std::visit(Visit{f}, l);
}

// The lines that are well formed; each bad one is reported to the host (the binding refuses them
// before they get here: only a C++ host can send one).
std::vector<const HostLine*> checked(const std::vector<HostLine>& lines, Bridge* bridge) {
  std::vector<const HostLine*> ok;
  ok.reserve(lines.size());
  for (const HostLine& l : lines) {
    std::string field;
    if (const char* why = host_line_problem(l, &field)) {
      bridge->emit(ev::Error{"EPCHAT_INVALID_ARGUMENT", "host reply dropped: " + field + " must be " + why});
      continue;
    }
    ok.push_back(&l);
  }
  return ok;
}

}  // namespace

// Every line in one buffer: one allocation and one queue entry for the whole reply. c null (the
// client is gone): the lines are only checked, so a malformed one is reported all the same.
void Server::reply_lines(Client* c, const std::vector<HostLine>& lines) {
  std::vector<const HostLine*> ok = checked(lines, bridge_);
  if (!c) return;
  send_lines(c, ok);
}

// Lines already checked, formatted for c alone (an IRC NOTICE names its recipient).
void Server::send_lines(Client* c, const std::vector<const HostLine*>& ok) {
  std::string s;
  for (const HostLine* l : ok) outs(*l, [&](Out o) {
    o.to = c->nick;  // an IRC NOTICE names its recipient
    c->codec->append(o, s);
  });
  if (s.empty()) return;
  Buf* b = Buf::make(s.data(), s.size());
  if (!b) {
    close_client(c, "error", true);
    return;
  }
  enqueue(c, b);
  b->unref();
}

// Sends lines to each nick online; returns the nicks not online, so the host can store for them.
// Formatted once per protocol present among the recipients; no lines: only asks who is offline.
std::vector<std::string> Server::deliver(const std::vector<std::string>& nicks, const std::vector<HostLine>& lines) {
  std::vector<std::string> offline;
  std::vector<const HostLine*> ok = checked(lines, bridge_);
  std::array<Buf*, Codec::kMax> bufs{};
  for (const std::string& n : nicks) {
    Client* c = nicks_.find(n);
    if (!c || c->state != ClientState::Active) {
      offline.push_back(n);
      continue;
    }
    if (ok.empty()) continue;  // only asked who is offline
    if (c->proto == Proto::Irc) {  // IRC lines name their recipient: formatted for each
      send_lines(c, ok);
      stats_->deliveries.add();
      continue;
    }
    Buf*& b = bufs[static_cast<size_t>(c->codec->id()) % bufs.size()];
    if (!b) {
      std::string s;
      for (const HostLine* l : ok) outs(*l, [&](const Out& o) { c->codec->append(o, s); });
      if (!(b = Buf::make(s.data(), s.size()))) {
        offline.push_back(n);
        continue;
      }
    }
    enqueue(c, b);
    stats_->deliveries.add();
  }
  for (Buf* b : bufs)
    if (b) b->unref();
  return offline;
}

}  // namespace ep
