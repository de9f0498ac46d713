// The engine: one thread, one loop (loop.h) whose epoll set holds a handler per descriptor: the
// listeners (listener.cc, one per protocol), the clients (connection.h), the host's command eventfd
// (host_channel.cc), the signal self-pipe (signals.cc) and, with the console on, stdin (console.cc). The Server wires
// them together and owns every piece of chat state; nothing here is touched from another thread
// except through the Bridge and the Stats counters.
//
// Split by concern: server.cc (the loop pass, reads, flushes, timers, lifetimes), membership.cc
// (joining, leaving, renaming: the chat model's operations and who is told), line_session.cc (the line
// protocol's commands), irc_session.cc and irc_replies.cc (IRC), lists.cc (long line-protocol lists),
// admin.cc (what the host and the console ask for), http_session.cc (the HTTP listener's requests:
// static files, the WebSocket upgrade), ws_session.cc (WebSocket frames in and the Close out).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bridge.h"
#include "chat.h"
#include "client.h"
#include "codec.h"
#include "connection.h"
#include "console.h"
#include "host_channel.h"
#include "irc_codec.h"
#include "irc_message.h"
#include "line_codec.h"
#include "listener.h"
#include "loop.h"
#include "options.h"
#include "signals.h"
#include "static_files.h"
#include "stats.h"
#include "tls_context.h"
#include "ws_codec.h"
#include "ws_handshake.h"

namespace ep {

// Bytes of long list replies made per loop pass, for all askers together (lists.cc).
extern const size_t kListBytesPerPass;
// IRC: a room this small answers NAMES and WHO #room at once (a bigger one a chunk at a time, as
// lists are); bytes of names per 353 line.
inline constexpr size_t kIrcListDirect = 128;
inline constexpr size_t kIrcNamesChunk = 400;

// An idle IRC user is sent PING this long before the idle timeout (half of it, at most a minute).
inline uint64_t irc_ping_grace(uint64_t idle_ms) { return idle_ms / 2 < 60000 ? idle_ms / 2 : 60000; }

class Server : private ConnectionOwner, private ListenerHost, private ConsoleHost {
 public:
  Server(const Options& opt, Bridge* bridge, Stats* stats);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the loop, joins the host channel, binds the listener, installs the signal pipe and the
  // console (as the options say). On failure returns false with an errno
  // name (EADDRINUSE, …) in *code and a sentence in *msg.
  bool open(std::string* code, std::string* msg);
  // The line listener's address once open() succeeded (empty, and port -1, before or when it is off).
  const std::string& bound_host() const;
  int bound_port() const;
  // The IRC listener's bound address; port -1 when IRC is off.
  const std::string& irc_bound_host() const;
  int irc_bound_port() const;
  // Any listener's bound port by protocol and TLS (-1 when that one is off).
  const Listener* listener(Proto p, bool tls) const;

  // Loads the configured certificate and key again (SIGHUP, the host's reloadTls): new TLS
  // connections get the new ones, existing ones keep theirs. False with a sentence in *msg (naming
  // the file) when they cannot be loaded (or TLS is not configured): the old ones stay.
  bool reload_tls(std::string* msg);
  // The HTTP listener's bound address; port -1 when it is off.
  const std::string& http_bound_host() const;
  int http_bound_port() const;

  // Runs the loop until a shutdown completes, then publishes a Closed event.
  void run();
  // One loop pass, waiting at most max_wait_ms (-1: until the next deadline). False once closed.
  // run() is step(-1) in a loop; tests and fuzzers drive passes themselves.
  bool step(int max_wait_ms);
  // Takes a connected, non-blocking socket as a new client speaking protocol p (a listener's accept
  // uses it too; so can a socketpair in a test, or a gateway handing over a connection). Null when
  // full or shutting down.
  Client* adopt(int fd, const char* address, Proto p = Proto::Line, bool tls = false);

 private:
  // --- the loop pass, connections (server.cc)
  void report_epoll(const char* what, int e);
  void raise_fd_limit();
  // ListenerHost
  bool accept_full(std::string* why) override;
  bool accept_connection(int fd, const char* address, Proto p, bool tls) override;
  // ConnectionOwner
  void on_connection_io(Connection* c, uint32_t events) override { on_client(static_cast<Client*>(c), events); }
  void on_client(Client* c, uint32_t events);
  void on_readable(Client* c);
  void read_input(Client* c);
  // After a TLS connection's reads: the handshake's end, records to send, plaintext left waiting.
  void after_tls_read(Client* c);
  void tls_failed(Client* c);
  // Connections with input waiting in their transport (TLS plaintext epoll will not announce): read
  // again once per pass, kReadsPerPass reads each, until none is left.
  void read_pending();
  void list_pending_read(Client* c);
  // Runs the lines in p[0..n); if one makes c's input wait (input_held), keeps the rest in c->held
  // and stops reading c's socket until resume_input().
  // p is writable: a WebSocket frame reader unmasks in place.
  void feed(Client* c, char* p, size_t n, uint64_t read_ns);
  // The line framing of TCP input (LineIn): returns how many of the n bytes were taken.
  size_t feed_lines(Client* c, const char* p, size_t n, uint64_t read_ns);
  // One line (without its line ending) from any framing: the too-long check, then on_line.
  bool take_line(Client* c, std::string_view line, uint64_t read_ns);
  bool line_too_long(Client* c);
  // c's next line must wait: a command of c waits on the host, or a list reply to c is still being
  // made (its replies would otherwise land inside the list).
  static bool input_held(const Client* c) { return c->wait_seq != 0 || c->list != nullptr; }
  // Runs the lines held for c, and reads c's socket again once none is left.
  void resume_input(Client* c);
  bool on_line(Client* c, std::string_view line, uint64_t read_ns);
  void expire(uint64_t now);
  int next_timeout_ms() const;
  void flush_dirty();
  void flush(Client* c);
  Client* lookup(uint64_t id) const { return conns_.find(id); }
  bool set_events(Client* c, bool want_write);
  bool set_reading(Client* c, bool on);
  void unlink_timer(Client* c);
  void touch(Client* c);
  bool flood_ok(Client* c);

  // Output.
  void send(Client* c, const Out& o);
  void enqueue(Client* c, Buf* b);
  // Queues bytes made for c alone (an HTTP response, a control frame, an IRC line) in a buffer of
  // their own; out of memory, c is dropped as overflowed.
  void enqueue_copy(Client* c, std::string_view bytes);
  // Formats o once per codec and queues it to every member of r but `except`.
  // stamp (nonzero): an event sent to several rooms reaches each user once (Client::mark); irc_only:
  // only IRC members (a CTCP other than ACTION).
  void fanout(Room* r, const Out& o, Client* except, bool count_deliveries, uint64_t stamp = 0, bool irc_only = false);
  void fanout_all(const Out& o);
  void error(Client* c, std::string_view code, std::string_view text);
  void drop_overflowed();

  // Lifetimes: close detaches a client from chat and lingers while its last lines flush; finalize
  // closes the socket; the Client is freed after the loop pass, so events already fetched for it
  // in this pass find it marked closed instead of freed memory.
  void close_client(Client* c, const char* reason, bool discard_output = false);
  void finalize(Client* c);
  void begin_shutdown(bool force);

  // A short list reply (`== KIND fields` lines, then `== END KINDS n`) built in one buffer: one
  // allocation and one queue entry. Long ones (/who, /users, /rooms) are sent a chunk at a time.
  struct ListReply {
    Client* c;
    std::string_view kind;
    std::string buf;
    uint64_t n = 0;
    void add(std::string_view first, std::string_view rest) {
      c->codec->append(Out{OutKind::Item, kind, first, rest}, buf);
      ++n;
    }
  };
  void finish(ListReply& r, std::string_view end_kind);
  // Registered clients sorted by nick without regard to case (keys lowered once, not per comparison).
  template <typename Range>
  static std::vector<const Client*> by_nick(const Range& clients);

  // --- long list replies, a chunk at a time as the asker drains its socket (lists.cc)
  void charge_list(Client* c, uint64_t lines);
  void list_start(Client* c, ListKind kind, uint64_t expected, std::string room);
  void list_chunk(Client* c);
  FlushResult list_more(Client* c, size_t* written, int* err);

  // --- what clients ask for (session.cc)
  void dispatch(Client* c, std::string_view line);
  void on_prompt_line(Client* c, std::string_view line);
  void try_register(Client* c, std::string_view nick);
  void register_client(Client* c, std::string_view nick);
  bool nick_error(Client* c, std::string_view nick);
  void cmd_text(Client* c, std::string_view text);
  void cmd_nick(Client* c, std::string_view nick);
  void rename(Client* c, std::string_view nick);
  void cmd_help(Client* c);
  void cmd_rooms(Client* c);
  void cmd_join(Client* c, std::string_view name, bool create);
  void cmd_users(Client* c);
  void cmd_who(Client* c);
  // typed: the command word as the user wrote it (msg or pm), for the usage line.
  void cmd_msg(Client* c, std::string_view to, std::string_view text, std::string_view typed);
  void cmd_me(Client* c, std::string_view text);
  void cmd_stats(Client* c);
  void move_to(Client* c, Room* r);

  // --- the chat model's operations and who hears of them (membership.cc)
  // nick!user@host, the source of c's events on IRC.
  std::string prefix(const Client* c) const;
  // Takes the nick, starts the idle timer: the common part of registering on any protocol.
  void register_user(Client* c, std::string_view nick);
  void detach(Client* c);
  // Takes c out of r; returns r if it still exists (it is deleted when it empties).
  Room* part_room(Client* c, Room* r);
  // A new stamp for an event told to several rooms (each user hears it once).
  uint64_t next_stamp() { return ++stamp_; }
  // Tells everyone who shares a room with c (and c itself, when tell_self), once each.
  void fanout_shared(Client* c, const Out& o, bool tell_self);
  bool quiet(const Room* r) const { return r->members.size() > pol_.quiet_room_size; }
  // Forwards a command to the host; c's later lines wait until the host finishes it.
  void emit_command(Client* c, std::string_view name, std::string_view args);
  void stop_waiting(Client* c);
  // Emits a per-connection event if the host wants those for c.
  void lifecycle(const Client* c, HostEvent ev) {
    if (pol_.lifecycle_events || (c->flags & kClientWatched)) bridge_->emit(std::move(ev));
  }

  // --- HTTP (http_session.cc): a request head at a time; static files; the WebSocket upgrade
  size_t http_feed(Client* c, char* p, size_t n, uint64_t read_ns);
  // Answers the request c->http->req holds; false when the connection is closed or upgraded.
  bool http_request(Client* c);
  void http_static(Client* c, bool keep_alive);
  bool http_upgrade(Client* c);
  void http_error(Client* c, int status, std::string_view detail, std::string_view extra = {});
  void http_timeout(Client* c);

  // --- WebSocket (ws_session.cc): frames in (through the frame reader into take_line), the Close out
  size_t ws_feed(Client* c, char* p, size_t n, uint64_t read_ns);
  // Sends c's Close frame (once), with the code its close reason calls for unless one is set.
  void ws_close_frame(Client* c, const char* reason);
  // A violation (or the peer's Close): the Close to send, then the connection closes cleanly.
  void ws_fail(Client* c, uint16_t code, std::string_view why);
  struct WsSink;

  // The codec of an IRC client: plain or tagged, framed for a WebSocket when c is one (compressed
  // when it negotiated permessage-deflate).
  Codec* irc_codec_for(const Client* c, bool tagged);

  // --- IRC (irc_session.cc: commands and registration; irc_replies.cc: numerics)
  void irc_line(Client* c, std::string_view line);
  void irc_dispatch(Client* c, const irc::Message& m);
  void irc_try_register(Client* c);
  void irc_complete_registration(Client* c, std::string_view nick);
  void irc_welcome(Client* c);
  void irc_nick(Client* c, std::string_view nick);
  void irc_join(Client* c, std::string_view chans);
  void irc_join_one(Client* c, std::string_view chan);
  void irc_part(Client* c, std::string_view chans, std::string_view reason);
  void irc_privmsg(Client* c, const irc::Message& m, bool notice);
  void irc_names(Client* c, const Room* r);
  void irc_who(Client* c, std::string_view mask);
  void irc_whois(Client* c, std::string_view nick);
  void irc_list(Client* c);
  void irc_topic(Client* c, const irc::Message& m);
  void irc_mode(Client* c, const irc::Message& m);
  void irc_kick(Client* c, const irc::Message& m);
  void irc_away(Client* c, const irc::Message& m);
  void irc_quit(Client* c, std::string_view reason);
  void irc_authenticate(Client* c, const irc::Message& m);
  // The host finished the auth or password command of c's IRC login (SASL or PASS).
  void irc_auth_finished(Client* c);
  // The host logged c in (ok) or refused the password.
  void irc_auth_result(Client* c, bool ok);
  // Tells the IRC users with away-notify who share a room with c that c is away or back.
  void irc_away_notify(Client* c);
  void irc_lusers(Client* c);
  void irc_motd(Client* c);
  bool irc_is_op(const Client* c, const Room* r) const;
  // Room named by an IRC channel name ("#dev" → dev), or null; *valid false for a name that can never
  // be a room.
  Room* irc_room(std::string_view chan, bool* valid) const;
  // A numeric reply to c: ":server NNN nick params… :trailing".
  void irc_num(Client* c, int code, std::string_view params, std::string_view trailing, bool has_trailing = true);
  // The same line, returned (for lists that are framed and queued a chunk at a time).
  std::string irc_num_line(const Client* c, int code, std::string_view params, std::string_view trailing,
                           bool has_trailing = true) const;
  // Sends complete IRC lines to c, framed by its codec; while a list c asked for is being sent, they
  // wait behind it (ListCursor::then).
  void irc_send(Client* c, const std::string& line);
  // --- IRC's long replies, a chunk at a time (irc_lists.cc)
  void irc_list_start(Client* c, ListKind kind, std::string room, std::string mask);
  // Appends the next chunk of c's IRC list to buf (framed); true when the list is over.
  bool irc_list_chunk(Client* c, std::string& buf);
  void irc_names_direct(const Client* c, const Room* r, std::string& lines);
  std::string irc_name(const Client* m, const Room* r, bool uhnames) const;
  std::string irc_who_row(const Client* c, const Client* u, std::string_view chan, bool op) const;
  static bool irc_who_is_mask(std::string_view mask);
  void irc_ping_idle(uint64_t now);

  // --- what the host and the console ask for (admin.cc)
  struct HostCommands;  // one handler per host command kind (admin.cc)
  friend struct HostCommands;
  void on_host_commands(std::vector<HostCmd>& cmds);
  // ConsoleHost
  std::vector<UserRec> console_users() const override;
  std::vector<RoomRec> console_rooms() const override;
  bool console_kick(std::string_view nick, std::string_view reason) override;
  void console_announce(std::string_view text) override;
  void console_shutdown() override;
  bool console_stopping() const override { return stopping_; }
  void console_done() override;
  bool kick(std::string_view nick, std::string_view reason);
  // Structured host lines (host_api.h) to one client (null: only checked), or to each nick online
  // (host_reply.cc).
  void reply_lines(Client* c, const std::vector<HostLine>& lines);
  void send_lines(Client* c, const std::vector<const HostLine*>& ok);
  std::vector<std::string> deliver(const std::vector<std::string>& nicks, const std::vector<HostLine>& lines);
  void announce(std::string_view text);
  void login(Client* c, std::string_view nick);
  void finish_command(Client* c, uint32_t seq, bool close);
  std::vector<UserRec> user_list() const;
  std::vector<RoomRec> room_list() const;

  Options opt_;
  Policy& pol_;
  Bridge* bridge_;
  Stats* stats_;
  LineCodec line_codec_;
  uint64_t now_ms_ = 0;  // the clock of this pass (declared before the handlers that read it)

  // The loop first: the handlers below leave it when they are destroyed.
  Loop loop_;
  HostChannel host_channel_;
  // One per protocol listened for: the line protocol, then IRC, each unless it is off (port -1).
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<SignalPipe> signals_;
  std::unique_ptr<Console> console_;
  IrcCodec irc_codec_{false};
  IrcCodec irc_tagged_codec_{true};
  // The WebSocket variants (ws_codec.h): each line one frame, built once per fan-out like the rest.
  WsCodec ws_line_codec_{3, line_codec_, ws::Opcode::Text};
  WsCodec ws_irc_codec_{4, irc_codec_, ws::Opcode::Text, kIrcMaxBody};
  WsCodec ws_irc_tagged_codec_{5, irc_tagged_codec_, ws::Opcode::Text, kIrcMaxBody};
  WsCodec ws_irc_bin_codec_{6, irc_codec_, ws::Opcode::Binary};
  WsCodec ws_irc_bin_tagged_codec_{7, irc_tagged_codec_, ws::Opcode::Binary};
  // permessage-deflate (ws_deflate.h): the engine's one deflater and inflater, reset per message (no
  // context takeover), so no connection holds zlib state; the compressed variants of the five.
  ws::Deflate ws_deflate_;
  WsCodec wsz_line_codec_{8, line_codec_, ws::Opcode::Text, 0, &ws_deflate_};
  WsCodec wsz_irc_codec_{9, irc_codec_, ws::Opcode::Text, kIrcMaxBody, &ws_deflate_};
  WsCodec wsz_irc_tagged_codec_{10, irc_tagged_codec_, ws::Opcode::Text, kIrcMaxBody, &ws_deflate_};
  WsCodec wsz_irc_bin_codec_{11, irc_codec_, ws::Opcode::Binary, 0, &ws_deflate_};
  WsCodec wsz_irc_bin_tagged_codec_{12, irc_tagged_codec_, ws::Opcode::Binary, 0, &ws_deflate_};
  std::string wire_;  // irc_send's framing, reused
  // The HTTP listener's files and WebSocket handshake policy.
  StaticFiles files_;
  ws::HandshakeConfig ws_cfg_;

  // Who holds clients, and why none of it can reach freed memory (a Client is freed only by
  // conns_.free_retired(), at the end of the pass in which it was finalized):
  //   conns_         the owner (connection.h); a slot is emptied when its client is freed, and reused
  //                  with a new generation, so ids (host commands, overflowed_) go stale, not wild;
  //                  the loop's registrations have ids of their own, so an event fetched for a client
  //                  finalized earlier in the pass is skipped (loop.h);
  //   room members, nicks_, the inactivity lists: pointers, but a client leaves them synchronously
  //                  when it is closed (detach, unlink_timer), long before it is freed;
  //   the flush list (conns_.mark_dirty): intrusive, per pass only: flush_dirty() drains it every
  //                  pass, before free_retired(); a client finalized while on it stays until drained
  //                  (fd < 0 is skipped) and free_retired() keeps any client still linked for later;
  //   overflowed_    outlives a pass (filled during flush_dirty, drained by the next pass's expire):
  //                  ids. Holding pointers here was a use-after-free (issue #8).
  Connections<Client> conns_;
  uint64_t open_clients_ = 0;
  // The timers: inactivity lists, each sorted by deadline (ilist.h); next_timeout_ms() feeds their
  // heads to a Deadline.
  Inactivity reg_list_{0};
  Inactivity idle_list_{1};
  Inactivity linger_list_{2};
  IList<Client, &Client::wait_link> wait_list_{3};  // clients waiting on the host, oldest first
  // Registered IRC users: idle ones are sent PING (irc_idle_list_, deadline last_ms + idle - grace),
  // then wait for any line (ping_list_, deadline last_ms + idle) before the idle timeout drops them.
  Inactivity irc_idle_list_{4};
  Inactivity ping_list_{5};
  // TLS connections whose handshake has not completed (deadline last_ms + tls_handshake_timeout_ms);
  // then they move to reg_list_.
  Inactivity handshake_list_{6};
  // HTTP connections (not upgraded): the request head must be complete within http_timeout_ms of the
  // connection or of the last response (slowloris); the deadline is not moved by bytes arriving.
  Inactivity http_list_{7};
  ClientIds overflowed_;
  ClientIds pending_reads_;  // ids: the list outlives the pass that filled it

  // TLS: the context new connections are made from (swapped by reload_tls; each connection's SSL
  // keeps a reference to the one it was made from), and the buffer TlsTransport reads ciphertext into.
  std::shared_ptr<const TlsContext> tls_ctx_;
  std::unique_ptr<char[]> tls_scratch_;

  Rooms rooms_;
  Nicks nicks_;
  Room* lobby_ = nullptr;
  std::unordered_set<std::string> protected_;

  uint64_t stamp_ = 0;  // fan-out to several rooms (next_stamp)
  size_t list_budget_ = 0;  // bytes of list replies this loop pass may still make (lists.cc)
  std::string_view quit_reason_;  // set while a /quit closes its client: shown on the room's Bye line
  bool stopping_ = false;
  bool done_ = false;
  uint64_t stop_deadline_ = 0;

  char rbuf_[64 * 1024];
};

uint64_t mono_ms();
uint64_t mono_ns();

}  // namespace ep
