// The typed face of the native addon (build/Release/epchat.node). Nothing else in lib/ touches the
// addon directly; everything here mirrors native/binding/*.cc, which is the only place with N-API types.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Engine settings a user configures (lib/config.ts has one setting for each). `setPolicy` takes any
 *  subset of the fields marked (reloadable). */
export interface EngineSettings {
  host: string;
  /** The line protocol's port. */
  port: number;
  /** The IRC listener's address. */
  ircHost: string;
  /** The IRC listener's port: 0 picks a free one, -1 turns IRC off. */
  ircPort: number;
  /** TLS certificate chain and key (PEM paths; both or neither; '' for none). */
  tlsCert: string;
  tlsKey: string;
  /** The line protocol over TLS (on `host`): 0 picks a free port, -1 off. */
  tlsPort: number;
  /** IRC over TLS (on `ircHost`): 0 picks a free port, -1 off. */
  ircTlsPort: number;
  /** (reloadable) a TLS handshake not finished this long after connecting is dropped; 0: no bound. */
  tlsHandshakeTimeoutMs: number;
  /** The HTTP listener's address (web client, WebSocket). */
  httpHost: string;
  /** The HTTP listener's port: 0 picks a free one, -1 turns it off. */
  httpPort: number;
  /** Directory of the static files served over HTTP (the web client). */
  webRoot: string;
  /** Origins allowed to open a WebSocket; empty: the page's own host; `*`: any. */
  wsOrigins: string[];
  /** Largest WebSocket message (and frame) from a client, in bytes (1009 past it). */
  wsMaxMessage: number;
  /** Accept permessage-deflate offers (no context takeover both ways). */
  wsDeflate: boolean;
  /** Messages shorter than this (bytes) are sent uncompressed to permessage-deflate clients. */
  wsDeflateMin: number;
  /** Time an HTTP connection has to send a whole request head, in ms. */
  httpTimeoutMs: number;
  /** The HTTP listener over TLS (on `httpHost`: HTTPS, WSS): 0 picks a free port, -1 off. */
  httpsPort: number;
  backlog: number;
  /** Connections at once (registered or not); the next one gets `!! SERVER_FULL`. */
  maxClients: number;
  /** (reloadable) */ maxLineBytes: number;
  /** (reloadable) */ maxOutputBytes: number;
  /** (reloadable) 0 disables. */ registrationTimeoutMs: number;
  /** (reloadable) 0 disables. */ idleTimeoutMs: number;
  /** (reloadable) lines per second, 0 disables flood control. */ floodRate: number;
  /** (reloadable) */ floodBurst: number;
  /** (reloadable) */ floodKick: number;
  /** (reloadable) */ quietRoomSize: number;
  defaultRoom: string;
  /** (reloadable) */ autoCreateRooms: boolean;
  /** (reloadable) */ maxRooms: number;
  /** (reloadable) */ nickMaxLength: number;
  /** (reloadable) lower-case nicknames nobody may take. */ reservedNicks: string[];
  /** Read admin commands from stdin inside the engine's epoll set. */
  console: boolean;
  /** Install SIGINT/SIGTERM/SIGHUP handlers that write to the engine's self-pipe. */
  handleSignals: boolean;
  /** (reloadable) emit a `message` event for every room and private message. */
  emitMessages: boolean;

  /** (reloadable) command names (lower case, no slash) that the engine forwards to JavaScript as
   *  `command` events instead of handling them. */
  delegate: string[];
  /** (reloadable) forward `/msg NICK` to JavaScript (as a `command` event named `msg`) when no user
   *  with that nick is online, instead of answering `!! NO_SUCH_USER`. */
  delegateOfflineMsg: boolean;
  /** How long a graceful close waits for output queues to drain. */
  shutdownGraceMs: number;
}

/** Engine options the façade decides, not the user. */
export interface EngineHostOptions {
  /** False: no line-protocol listener (`port` is then ignored): what the configuration's `port: -1`
   *  becomes (lib/config.ts toEngineOptions). */
  lineListener?: boolean;
  /** (reloadable) emit connect, register, nick, join, leave, disconnect and timeout events for every
   *  client. Off, the engine reports only the clients whose session the host takes part in (those it
   *  logged in with a `login` command, whose password it is checking, or that sent it a delegated command): their
   *  register, nick and disconnect. */
  lifecycleEvents: boolean;
  /** Nicknames (lower case) owned by accounts from the start, before the first connection. */
  protectedNicks: string[];
  /** (reloadable) extra `/help` lines for commands the host handles, each `USAGE - what it does`. */
  help: string[];
  /** (reloadable) how long the host may take to `finish` a `command` event (the client's later lines
   *  wait for it); past it the client gets `!! INTERNAL_ERROR` and is disconnected (reason `error`).
   *  0: no bound. */
  commandTimeoutMs: number;
}

/** Every field is required at construction. */
export interface EngineOptions extends EngineSettings, EngineHostOptions {}

export type EngineReloadable = Partial<Omit<EngineOptions,
  'host' | 'port' | 'ircHost' | 'ircPort' | 'tlsCert' | 'tlsKey' | 'tlsPort' | 'ircTlsPort' | 'httpHost' | 'httpPort' | 'httpsPort' | 'webRoot' | 'wsOrigins' | 'wsMaxMessage' | 'wsDeflate' | 'wsDeflateMin' | 'httpTimeoutMs' | 'backlog' | 'maxClients' | 'defaultRoom' | 'console' | 'handleSignals' | 'shutdownGraceMs' |
  'protectedNicks' | 'lineListener'>>;

/** Why a connection ended. */
export type DisconnectReason =
  | 'quit' | 'closed' | 'reset' | 'idle' | 'registration' | 'flood' | 'slow' | 'kicked' | 'shutdown' | 'error';

/** Client ids are stable for a connection's life and never reused while anything may refer to them. */
export type ClientId = number;

export type EngineEvent =
  | { type: 'connect'; id: ClientId; address: string }
  | { type: 'register'; id: ClientId; nick: string }
  | { type: 'nick'; id: ClientId; old: string; nick: string }
  | { type: 'join'; id: ClientId; nick: string; room: string }
  | { type: 'leave'; id: ClientId; nick: string; room: string }
  | { type: 'message'; id: ClientId; nick: string; room: string | null; to: string | null; text: string }
  | { type: 'disconnect'; id: ClientId; nick: string | null; reason: DisconnectReason }
  | { type: 'timeout'; id: ClientId; nick: string | null; kind: 'idle' | 'registration' }
  /** A delegated command (see `delegate`); `nick` is null before registration; `address` is the
   *  client's `host:port` (as in `connect`). The client's disconnect is reported even with lifecycle
   *  events off, so the host can drop work it keeps for it. The client's later lines wait until the
   *  host posts `{ type: 'finish', id, seq, close }`. */
  | { type: 'command'; id: ClientId; nick: string | null; name: string; args: string; address: string; seq: number }
  /** A line the admin console prints (already formatted, no newline); or, with `ready` (and no
   *  text), the console has handled what was typed and waits for the next command. */
  | { type: 'console'; text: string; ready?: true }
  | { type: 'signal'; signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM' }
  | { type: 'error'; code: string; message: string }
  /** The answer to a `kick`, `query` or `deliver` command with that `req`. */
  | EngineReply
  /** The engine thread has stopped; `stats` are the final counters. */
  | { type: 'closed'; stats: EngineStats };

export interface EngineStats {
  uptime_s: number;
  users: number;
  connections: number;
  peak_users: number;
  accepted: number;
  rejected_full: number;
  messages_in: number;
  deliveries: number;
  bytes_in: number;
  bytes_out: number;
  rooms: number;
  latency_mean_us: number;
  latency_p99_us: number;
  dropped_slow: number;
  /** TLS handshakes completed. */
  tls_handshakes: number;
  /** TLS connections dropped for a failed handshake or a TLS error. */
  tls_failed: number;
  /** Plaintext clients answered (and closed) on a TLS port. */
  tls_plaintext: number;
  /** TLS handshakes not completed within `tlsHandshakeTimeoutMs`. */
  tls_timeouts: number;
}

/** room: a line user's current room; an IRC user's first channel, or '' when it is in none. */
export interface UserInfo { id: ClientId; nick: string; room: string; address: string }
export interface RoomInfo { name: string; members: number }

/** The engine's answer to a request command, by kind. */
export type EngineReply =
  /** `kick`: whether someone had that nick. */
  | { type: 'reply'; req: number; kind: 'kick'; data: boolean }
  /** `query` users. */
  | { type: 'reply'; req: number; kind: 'users'; data: UserInfo[] }
  /** `query` rooms. */
  | { type: 'reply'; req: number; kind: 'rooms'; data: RoomInfo[] }
  /** `deliver`: the nicks that were not online (in the order asked). */
  | { type: 'reply'; req: number; kind: 'deliver'; data: string[] }
  /** `reloadTls`: whether the certificate and key were loaded again (else why not; the old ones stay). */
  | { type: 'reply'; req: number; kind: 'reloadTls'; data: { ok: boolean; message?: string } };

/** A structured line for a user: what it means, never how it looks. Each client's protocol formats it
 *  (the line protocol as shown; IRC as NOTICEs). Texts are one line of valid UTF-8 without control
 *  characters; codes and kinds are 1-32 of `A-Z 0-9 _` starting with a letter; `from`, `to` and
 *  `group` are one word. The binding throws EPCHAT_INVALID_ARGUMENT (a RangeError naming the field,
 *  e.g. `command.lines[0].code`) for anything else, and nothing is sent. */
export type HostLine =
  /** `>> text` */
  | { type: 'notice'; text: string }
  /** `!! CODE text` */
  | { type: 'error'; code: string; text: string }
  /** `== KIND field…` per row (every field but the last one word), then `== END END n`, where END is
   *  `end` (default: `kind`) and n the number of rows. */
  | { type: 'list'; kind: string; end?: string; rows: string[][] }
  /** A private message to its recipient: `[pm from FROM] text`; `time` (ms since the epoch) is when it
   *  was sent, for protocols that show it (default: now). */
  | { type: 'pm'; from: string; text: string; time?: number }
  /** The sender's copy of a private message: `[pm to TO] text`. */
  | { type: 'pmSent'; to: string; text: string }
  /** A group message to a member: `[@GROUP from FROM] text`. */
  | { type: 'group'; from: string; group: string; text: string; time?: number };

/** What the host asks of the engine (`engine.post`). Requests (`req`) are answered by a `reply` event
 *  with the same `req`. Every field is checked: a missing or mistyped one throws a TypeError, a value
 *  out of range (or an unknown `type`) a RangeError, each with code EPCHAT_INVALID_ARGUMENT and
 *  `argument` naming it (`command.id`). */
export type EngineCommand =
  /** Raw protocol text to one client (one or more lines, `\n` separated): the escape hatch, sent as is
   *  whatever the client's protocol. Prefer `reply`. */
  | { type: 'send'; id: ClientId; text: string }
  /** Structured lines to one client, formatted by its protocol. */
  | { type: 'reply'; id: ClientId; lines: HostLine[] }
  /** `>> [server] text` to every registered user. */
  | { type: 'announce'; text: string }
  /** Disconnects a user with `!! KICKED reason`; answered with `kind: 'kick'`. */
  | { type: 'kick'; req: number; nick: string; reason?: string }
  /** Answered with `kind: 'users'` (UserInfo[]) or `'rooms'` (RoomInfo[]). */
  | { type: 'query'; req: number; what: 'users' | 'rooms' }
  /** Lines to each of `nicks` who is online (formatted once per protocol); answered with `kind:
   *  'deliver'` and the nicks that were not online. No lines: only asks who is offline. */
  | { type: 'deliver'; req: number; nicks: string[]; lines: HostLine[] }
  /** Registers client `id` under `nick` (an authenticated login), bypassing nick protection; if
   *  another connection holds the nick, that one is disconnected (reason `kicked`). */
  | { type: 'login'; id: ClientId; nick: string }
  /** Sends the nickname prompt again to an unregistered client (after a failed login). */
  | { type: 'prompt'; id: ClientId }
  /** Marks nicknames as owned by accounts (lower case): guests cannot take them; choosing one at the
   *  prompt is forwarded as a `command` event named `auth` with the nick as args, and then each line
   *  of the password step (every line but `/quit`, until `login` or `prompt`) as a `command` named
   *  `password`. */
  | { type: 'protect'; add: string[]; remove: string[] }
  /** The host is done with the `command` event `seq` of client `id` (send its replies first: commands
   *  run in the order they are posted). The client's lines that waited behind it run now, in order;
   *  with `close`, the connection closes instead once what was queued to it is written (reason
   *  `kicked`). A stale seq finishes nothing (`close` applies whatever the seq). */
  | { type: 'finish'; id: ClientId; seq: number; close: boolean }
  /** Takes a duplicate of connected socket `fd` as a client speaking `protocol` (the caller keeps and
   *  closes its own descriptor; stop reading it first). */
  | { type: 'adopt'; fd: number; address: string; protocol: 'line' | 'irc' }
  /** Loads `tlsCert`/`tlsKey` again: new TLS connections get them, existing ones keep theirs. */
  | { type: 'reloadTls'; req: number };

export interface NativeEngine {
  /** Binds and starts the engine thread. Throws an Error with `code` (EADDRINUSE, EACCES, …). */
  listen(): { host: string; port: number; ircHost?: string; ircPort?: number; tlsPort?: number; ircTlsPort?: number; httpHost?: string; httpPort?: number; httpsPort?: number };
  /** Queues one command to the engine thread (checked first; throws EPCHAT_NOT_LISTENING when the
   *  engine does not run). */
  post(command: EngineCommand): void;
  setPolicy(policy: EngineReloadable): void;
  stats(): EngineStats;
  /** Tells every client, drains queues for up to `shutdownGraceMs`, closes; a `closed` event follows. */
  close(): void;
}

export interface NativeBinding {
  Engine: new (options: EngineOptions, onEvents: (events: EngineEvent[]) => void) => NativeEngine;
}

function findAddon(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/lib → package root; also works when run from lib/ through a TS loader.
  for (const root of [join(here, '..', '..'), join(here, '..')]) {
    for (const kind of ['Release', 'Debug']) {
      const p = join(root, 'build', kind, 'epchat.node');
      if (existsSync(p)) return p;
    }
  }
  const err = new Error('epchat native addon not found: run `npm install` (or `npx node-gyp rebuild`)') as Error & { code: string };
  err.code = 'EPCHAT_NO_ADDON';
  throw err;
}

let cached: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (!cached) cached = createRequire(import.meta.url)(process.env.EPCHAT_ADDON ?? findAddon()) as NativeBinding;
  return cached;
}
