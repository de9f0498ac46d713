// Engine settings. Policy is what a reload (SIGHUP, setPolicy) may change while clients stay
// connected; Options adds what is fixed for the engine's life.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace ep {

struct Policy {
  uint32_t max_line = 4096;
  uint64_t max_output = 1 << 20;
  uint32_t registration_timeout_ms = 60000;  // 0: none
  uint32_t idle_timeout_ms = 600000;         // 0: none
  double flood_rate = 20;                    // lines per second; 0: no flood control
  uint32_t flood_burst = 40;
  uint32_t flood_kick = 40;
  uint32_t quiet_room_size = 1000;
  bool auto_create_rooms = false;
  uint32_t max_rooms = 10000;
  uint32_t nick_max = 24;
  std::unordered_set<std::string> reserved = {"server", "admin",    "root",     "system",
                                              "epchat", "nickserv", "chanserv", "operator"};
  bool emit_messages = false;
  // Connect, register, nick, join, leave, disconnect and timeout events for every client. Off, the host
  // hears only about clients it logged in (their nick changes and disconnects), so a host that needs
  // no per-connection events pays nothing for them.
  bool lifecycle_events = true;
  std::unordered_set<std::string> delegate;  // lower-case command names forwarded to the host
  bool delegate_offline_msg = false;
  // How long the host may take to finish a forwarded command (the client's later lines wait for it);
  // past it the client is told and closed. 0: no bound.
  uint32_t command_timeout_ms = 30000;
  std::vector<std::string> help;  // extra /help lines ("USAGE - what it does") for host commands
  // A TLS connection that has not completed its handshake this long after connecting is dropped (a
  // half-finished handshake is a slowloris). 0: no bound but the registration timeout's.
  uint32_t tls_handshake_timeout_ms = 10000;
};

struct Options {
  std::string host = "0.0.0.0";
  int port = 7000;  // the line protocol's listener; -1: off
  // The IRC listener: port -1 leaves it off (the engine's default; the configuration's is 6667), 0
  // picks a free port. irc_host empty: the same address as host.
  std::string irc_host;
  int irc_port = -1;
  // TLS (docs/architecture.md, "TLS transport"): the certificate chain and key (PEM paths; both or
  // neither), and the TLS listeners, each -1 when off: the line protocol over TLS on host:tls_port,
  // IRC over TLS on irc_host:irc_tls_port. A listener is (host, port, protocol, tls): server.cc's
  // listener table has one row each.
  std::string tls_cert;
  std::string tls_key;
  int tls_port = -1;
  int irc_tls_port = -1;
  int https_port = -1;  // the HTTP listener's protocol over TLS (HTTPS, WSS) on http_host
  // The HTTP listener (the web client at /, WebSocket upgrades): port -1 leaves it off (the engine's
  // default; the configuration's is 7080), 0 picks a free port; http_host empty: host. web_root: the
  // directory of the static files (empty: none served, every file is 404).
  std::string http_host;
  int http_port = -1;
  std::string web_root;
  // Origins allowed to open a WebSocket (ws_handshake.h): empty = the page's own host; "*" = any.
  std::vector<std::string> ws_origins;
  uint32_t ws_max_message = 16384;  // bytes of one WebSocket message (and frame) from a client
  // permessage-deflate (ws_deflate.h): accept a client's offer (no context takeover both ways);
  // messages shorter than ws_deflate_min bytes are sent uncompressed.
  bool ws_deflate = true;
  uint32_t ws_deflate_min = 64;
  // An HTTP connection must send a whole request head within this (slowloris), and a kept-alive one
  // its next request.
  uint32_t http_timeout_ms = 10000;
  int backlog = 511;
  uint32_t max_clients = 10000;
  std::string default_room = "lobby";
  bool console = false;
  bool handle_signals = false;
  uint32_t shutdown_grace_ms = 2000;
  std::vector<std::string> protected_nicks;  // protected from the first connection on
  Policy policy;
};

}  // namespace ep
