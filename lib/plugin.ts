// The plugin interface: what a module that adds commands to the server (accounts, mailboxes and groups
// in lib/community.ts; your own) sees of it, and what it offers back. ChatServer (lib/server.ts)
// provides a PluginHost to each plugin it installs; a plugin imports this file, never lib/server.ts,
// so lib/ has no import cycle (test/imports.test.ts checks).
//
// Replies are structured (HostLine: a notice, an error with a code, a list of rows, a private or group
// message): each client's protocol formats them in the engine, so a plugin never writes protocol text.
import type { ClientId, HostLine } from './native.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Storage } from './storage/storage.js';

export type { HostLine } from './native.js';

/** What a delegated command's handler (and a `command` listener) gets. */
export interface CommandContext {
  id: ClientId;
  /** null before the client has registered (e.g. the `auth` / `password` steps of a login). */
  nick: string | null;
  /** Lower case, no slash. */
  name: string;
  /** Everything after the command name, as typed (may hold a password: never log it). */
  args: string;
  /** The client's address, `host:port` (`[v6]:port` for IPv6), as in the `connect` event. */
  address: string;
  /** Sends structured lines to the client, formatted by its protocol (e.g. `notice('done')`,
   *  `error('USAGE', '/weather CITY')`, `list('CITY', rows, 'CITIES')`). Throws EPCHAT_INVALID_ARGUMENT
   *  for a malformed line (nothing is sent; from a handler, the client gets `!! INTERNAL_ERROR`). */
  reply(...lines: HostLine[]): void;
  /** Registers the client under `nick` (an authenticated login). */
  login(nick: string): void;
  /** Sends the nickname prompt again (after a failed login). */
  prompt(): void;
  /** Disconnects the client once this command is finished, after the lines sent to it (e.g. after a
   *  `LOGIN_THROTTLED` in the password step). */
  close(): void;
}

/** A delegated command's handler. The client's later lines wait until the command is finished: when
 *  the returned promise settles (or the handler returns), so replies keep the order of the lines. A
 *  handler must settle; one that does not within `COMMAND_TIMEOUT_MS` costs the client its connection. */
export type CommandHandler = (ctx: CommandContext) => void | Promise<void>;

export interface RegisterCommandOptions {
  /** Add the name to the engine's `delegate` list (default true). False for commands the engine forwards
   *  by itself: `auth` and `password` (protected nicks) and `msg` (with `delegateOfflineMsg`). */
  delegate?: boolean;
  /** `/help` lines for it, each `USAGE - what it does` (e.g. `/unread - count your unread messages`). */
  help?: readonly string[];
}

/** What the server offers a plugin. Valid from `install()` until the plugin's `close()`. */
export interface PluginHost {
  /** The current configuration (a reload changes it: read it when needed, do not keep it). */
  readonly config: Config;
  readonly log: Logger;
  /** Where the plugin keeps what outlives a connection (opened and closed by the plugin). */
  readonly storage: Storage;
  /** Whether the engine runs (replies are dropped when it does not). */
  readonly listening: boolean;
  /** Handles `/name` (see ChatServer.registerCommand); returns a function that removes it. */
  registerCommand(name: string, handler: CommandHandler, opts?: RegisterCommandOptions): () => void;
  /** Structured lines to one client outside a command (e.g. a notice after a rename); dropped silently
   *  when the server has closed or the client is gone. */
  notify(id: ClientId, ...lines: HostLine[]): void;
  /** Lines to each of `nicks` who is online, formatted once per protocol; resolves with the nicks that
   *  were offline. No lines: only asks who is offline. */
  deliver(nicks: readonly string[], lines?: HostLine | readonly HostLine[]): Promise<string[]>;
  /** Nicknames owned by accounts: guests cannot take them (see NativeEngine `protect`). */
  protectNicks(add: readonly string[], remove?: readonly string[]): void;
}

/** Events a plugin hears: those of the clients it takes part in (that it logged in, that are in the
 *  password step, that sent it a delegated command), and every client's while lifecycle events are on
 *  for other reasons. Connect is heard only in the second case. */
export interface PluginEvents {
  onConnect?(ev: { id: ClientId; address: string }): void;
  onNick?(ev: { id: ClientId; old: string; nick: string }): void;
  onDisconnect?(ev: { id: ClientId; nick: string | null; reason: string }): void;
}

/** A module installed into a ChatServer (`server.use(plugin)` before `listen()`). */
export interface Plugin extends PluginEvents {
  readonly name: string;
  /** Called by listen() before the engine starts: open storage, register commands. A rejection fails
   *  the start (then `close({ discard: true })` follows). */
  install(host: PluginHost): Promise<void>;
  /** Nicknames (lower case) protected from the engine's first connection on. */
  protectedAtStart?(): string[];
  /** Whether `/msg` to an offline nick (and to `@group`) is forwarded to the plugin as a `msg` command. */
  readonly wantsOfflineMsg?: boolean;
  /** The engine listens. */
  started?(): void;
  /** The engine has stopped (or the start failed: `discard`). Waits for the plugin's work in flight. */
  close(opts?: { discard?: boolean }): Promise<void>;
}

// ------------------------------------------------------------------------------- line constructors

/** `>> text` on the line protocol. */
export const notice = (text: string): HostLine => ({ type: 'notice', text });
/** `!! CODE text` on the line protocol. */
export const error = (code: string, text: string): HostLine => ({ type: 'error', code, text });
/** `== KIND fields…` per row, then `== END END n` (END: `end`, default `kind`). */
export const list = (kind: string, rows: string[][], end?: string): HostLine =>
  end === undefined ? { type: 'list', kind, rows } : { type: 'list', kind, rows, end };
/** `[pm from FROM] text` to the recipient. */
export const pm = (from: string, text: string, time?: number): HostLine =>
  time === undefined ? { type: 'pm', from, text } : { type: 'pm', from, text, time };
/** `[pm to TO] text`: the sender's copy. */
export const pmSent = (to: string, text: string): HostLine => ({ type: 'pmSent', to, text });
/** `[@GROUP from FROM] text` to a member. */
export const groupMessage = (from: string, group: string, text: string, time?: number): HostLine =>
  time === undefined ? { type: 'group', from, group, text } : { type: 'group', from, group, text, time };
