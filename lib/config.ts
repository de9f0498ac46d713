// The configuration: one table of settings drives defaults, validation, environment and flag parsing,
// the `--help` text and the README's markdown table. Precedence, lowest first:
//   defaults < config file (JSON; --config FILE or EPCHAT_CONFIG) < environment (EPCHAT_*) < flags.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineSettings, EngineReloadable } from './native.js';
import { ConfigError, EpchatError, ErrorCodes, type ConfigIssue } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Every setting: the engine's options plus the façade's own. */
export interface Config extends EngineSettings {
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Where persistent data (accounts, mailboxes, groups: the SQLite database) lives. */
  dataDir: string;
  /** Accounts, offline mailboxes and groups (lib/community.ts), stored in `dataDir`. */
  accounts: boolean;
  /** Unread messages a mailbox holds; more get MAILBOX_FULL. */
  mailboxMax: number;
  /** Groups the server stores. */
  maxGroups: number;
  /** Groups one account may have created (that still exist). */
  maxGroupsPerUser: number;
  /** Members a group may have. */
  groupMaxMembers: number;
  /** Failed logins allowed per connection and per account within `loginWindowMs`. */
  loginMaxFailures: number;
  loginWindowMs: number;
  passwordMinLength: number;
  /** Password hashes computed at once, and waiting to start (more: BUSY). */
  hashConcurrency: number;
  hashQueueMax: number;
  /** Accounts `/register` may create from one address within `registerWindowMs`. */
  registerMaxPerAddress: number;
  registerWindowMs: number;
  /** scrypt cost parameters for new password hashes. */
  scryptN: number;
  scryptR: number;
  scryptP: number;
}
export type SettingName = keyof Config;

/** What some defaults depend on (given explicitly so that resolution is testable). */
export interface Terminal {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Value kinds: how a setting's value is checked (typed, from JSON/options) or parsed (text, from the
// environment or a flag).

type Check<T> = { ok: true; value: T } | { ok: false; problem?: string };

interface Kind<T> {
  /** For messages: `must be ${expect}`. */
  expect: string;
  /** For docs: `integer 0..65535`, `boolean`, … */
  typeName: string;
  /** For `--help`: the placeholder after the flag; null for booleans (`--[no-]flag`). */
  metavar: string | null;
  fromValue(value: unknown): Check<T>;
  fromText(text: string): Check<T>;
  format(value: T): string;
}

const INT32_MAX = 2 ** 31 - 1;

function integer(min: number, max: number): Kind<number> {
  const inRange = (n: number): Check<number> => (n >= min && n <= max ? { ok: true, value: n } : { ok: false });
  return {
    expect: `an integer ${min}..${max}`,
    typeName: `integer ${min}..${max}`,
    metavar: 'N',
    fromValue: (v) => (typeof v === 'number' && Number.isInteger(v) ? inRange(v) : { ok: false }),
    fromText: (t) => (/^\s*[+-]?\d+\s*$/.test(t) ? inRange(Number(t)) : { ok: false }),
    format: String,
  };
}

function decimal(min: number, max: number): Kind<number> {
  const inRange = (n: number): Check<number> => (Number.isFinite(n) && n >= min && n <= max ? { ok: true, value: n } : { ok: false });
  return {
    expect: `a number ${min}..${max}`,
    typeName: `number ${min}..${max}`,
    metavar: 'N',
    fromValue: (v) => (typeof v === 'number' ? inRange(v) : { ok: false }),
    fromText: (t) => (/^\s*[+]?(\d+(\.\d*)?|\.\d+)\s*$/.test(t) ? inRange(Number(t)) : { ok: false }),
    format: String,
  };
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

function boolean(): Kind<boolean> {
  return {
    expect: 'a boolean (true or false)',
    typeName: 'boolean',
    metavar: null,
    fromValue: (v) => (typeof v === 'boolean' ? { ok: true, value: v } : { ok: false }),
    fromText: (t) => {
      const w = t.trim().toLowerCase();
      if (TRUE_WORDS.includes(w)) return { ok: true, value: true };
      if (FALSE_WORDS.includes(w)) return { ok: true, value: false };
      return { ok: false };
    },
    format: String,
  };
}

function text(opts: { expect: string; metavar: string; pattern?: RegExp; normalize?: (s: string) => string }): Kind<string> {
  const check = (s: string): Check<string> => {
    if (s.length === 0 || (opts.pattern && !opts.pattern.test(s))) return { ok: false };
    return { ok: true, value: opts.normalize ? opts.normalize(s) : s };
  };
  return {
    expect: opts.expect,
    typeName: 'string',
    metavar: opts.metavar,
    fromValue: (v) => (typeof v === 'string' ? check(v) : { ok: false }),
    fromText: check,
    format: (v) => v,
  };
}

/** A file path, or the empty string for none (the default). */
function optionalPath(expect: string): Kind<string> {
  const check = (s: string): Check<string> => (s.includes('\0') ? { ok: false } : { ok: true, value: s.trim() });
  return {
    expect: `${expect} (empty for none)`,
    typeName: 'string',
    metavar: 'FILE',
    fromValue: (v) => (typeof v === 'string' ? check(v) : { ok: false }),
    fromText: check,
    format: (v) => v,
  };
}

function powerOfTwo(min: number, max: number): Kind<number> {
  const base = integer(min, max);
  const check = (r: Check<number>): Check<number> => (r.ok && (r.value & (r.value - 1)) !== 0 ? { ok: false } : r);
  return {
    ...base,
    expect: `a power of two ${min}..${max}`,
    typeName: `power of two ${min}..${max}`,
    fromValue: (v) => check(base.fromValue(v)),
    fromText: (t) => check(base.fromText(t)),
  };
}

function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  const check = (v: unknown): Check<T> =>
    typeof v === 'string' && (values as readonly string[]).includes(v) ? { ok: true, value: v as T } : { ok: false };
  return {
    expect: `one of ${values.join(', ')}`,
    typeName: values.join(' | '),
    metavar: values.join('|'),
    fromValue: check,
    fromText: (t) => check(t.trim()),
    format: (v) => v,
  };
}

/** A list of lower-case words; text form is comma-separated (`a,b,c`; empty text is the empty list). */
function wordList(itemPattern: RegExp, itemExpect: string): Kind<string[]> {
  const check = (items: unknown[]): Check<string[]> => {
    const out: string[] = [];
    for (const item of items) {
      if (typeof item !== 'string' || !itemPattern.test(item)) {
        return { ok: false, problem: `must be a list of ${itemExpect}, got ${JSON.stringify(item)} in the list` };
      }
      const word = item.toLowerCase();
      if (!out.includes(word)) out.push(word);
    }
    return { ok: true, value: out };
  };
  return {
    expect: `a list of ${itemExpect}`,
    typeName: 'list',
    metavar: 'LIST',
    fromValue: (v) => (Array.isArray(v) ? check(v) : { ok: false }),
    fromText: (t) => check(t.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
    format: (v) => v.join(','),
  };
}

const NICK = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ROOM = /^#?[A-Za-z0-9_-]{1,32}$/;
const COMMAND = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ORIGIN = /^(\*|https?:\/\/[^\s,/]+)$/i;
/** The web client the package ships (`npm run build:web`): dist/web beside dist/lib. */
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../web', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// The table.

type ReloadFlag<K extends SettingName> = K extends keyof EngineSettings
  ? (K extends keyof EngineReloadable ? true : false)
  : boolean;
type EngineFlag<K extends SettingName> = K extends keyof EngineSettings ? true : false;

interface SettingSpec<K extends SettingName> {
  kind: Kind<Config[K]>;
  default: Config[K] | ((t: Terminal) => Config[K]);
  /** For docs, when the default depends on the terminal. */
  defaultDoc?: string;
  description: string;
  /** Can change while running (`reload()`, SIGHUP). Checked against lib/native.ts at compile time. */
  reloadable: ReloadFlag<K>;
  /** Passed to the engine (part of EngineSettings). Checked at compile time. */
  engine: EngineFlag<K>;
}

/** Every setting, in documentation order; the mapped type makes a missing or extra key a compile error. */
const SPECS: { [K in SettingName]: SettingSpec<K> } = {
  host: {
    kind: text({ expect: 'a host name or IP address', metavar: 'HOST', pattern: /^\S+$/ }),
    default: '0.0.0.0', description: 'Address to listen on.', reloadable: false, engine: true,
  },
  port: {
    kind: integer(-1, 65535), default: 7000,
    description: 'TCP port of the line protocol (docs/protocol.md); 0 picks a free port, -1 turns the line listener off (IRC only).', reloadable: false, engine: true,
  },
  ircHost: {
    kind: text({ expect: 'a host name or IP address', metavar: 'HOST', pattern: /^\S+$/ }),
    default: '0.0.0.0', defaultDoc: 'the `host` setting', description: 'Address the IRC listener listens on.', reloadable: false, engine: true,
  },
  ircPort: {
    kind: integer(-1, 65535), default: 6667,
    defaultDoc: '6667 (0 when `port` is 0)',
    description: 'TCP port of the IRC listener (docs/irc.md); 0 picks a free port, -1 turns IRC off. Left unset while `port` is 0, it is 0 too.', reloadable: false, engine: true,
  },
  httpHost: {
    kind: text({ expect: 'a host name or IP address', metavar: 'HOST', pattern: /^\S+$/ }),
    default: '0.0.0.0', defaultDoc: 'the `host` setting', description: 'Address the HTTP listener (web client, WebSocket) listens on.', reloadable: false, engine: true,
  },
  httpPort: {
    kind: integer(-1, 65535), default: 7080,
    defaultDoc: '7080 (0 when `port` or `ircPort` is 0)',
    description: 'TCP port of the HTTP listener: the web client at `/`, WebSocket (docs/websocket.md) on any path; 0 picks a free port, -1 turns it off. Left unset while `port` or `ircPort` is 0, it is 0 too.', reloadable: false, engine: true,
  },
  webRoot: {
    kind: text({ expect: 'a directory path', metavar: 'DIR' }),
    default: DEFAULT_WEB_ROOT, defaultDoc: "the package's `dist/web`",
    description: 'Directory of the static files the HTTP listener serves (the web client).', reloadable: false, engine: true,
  },
  wsOrigins: {
    kind: wordList(ORIGIN, 'origins (`https://host[:port]`, `*`)'), default: [], defaultDoc: 'none (the same host)',
    description: 'Origins allowed to open a WebSocket; empty: only pages of the same host; `*`: any.', reloadable: false, engine: true,
  },
  wsMaxMessage: {
    kind: integer(125, 16_777_216), default: 16384,
    description: 'Largest WebSocket message (and frame) a client may send, in bytes; more is closed with 1009.', reloadable: false, engine: true,
  },
  wsDeflate: {
    kind: boolean(), default: true,
    description: 'Accept a WebSocket client\'s permessage-deflate offer (no context takeover both ways: each message is compressed once for all its recipients, and no connection holds compression state; docs/websocket.md).', reloadable: false, engine: true,
  },
  wsDeflateMin: {
    kind: integer(0, 16_777_216), default: 64,
    description: 'WebSocket messages shorter than this many bytes are sent uncompressed to permessage-deflate clients.', reloadable: false, engine: true,
  },
  httpTimeoutMs: {
    kind: integer(1, INT32_MAX), default: 10_000,
    description: 'Time an HTTP connection has to send a whole request head (slowloris), in ms.', reloadable: false, engine: true,
  },
  httpsPort: {
    kind: integer(-1, 65535), default: -1,
    defaultDoc: '7443 when `tlsCert` is set, else -1 (0 when `port` or `ircPort` is 0)',
    description: 'TCP port of the HTTP listener over TLS (on `httpHost`): the web client over HTTPS, WebSocket over WSS; 0 picks a free port, -1 turns it off. Needs `tlsCert`.', reloadable: false, engine: true,
  },
  tlsCert: {
    kind: optionalPath('a PEM certificate chain file'), default: '', defaultDoc: 'none',
    description: 'TLS certificate chain (PEM: the server certificate first, then intermediates); with `tlsKey`, turns on the TLS listeners. `epchat cert` makes a development one. Re-read on SIGHUP (`reloadTls()`).', reloadable: false, engine: true,
  },
  tlsKey: {
    kind: optionalPath('a PEM private key file'), default: '', defaultDoc: 'none',
    description: 'TLS private key (PEM, unencrypted) of `tlsCert`; both or neither.', reloadable: false, engine: true,
  },
  tlsPort: {
    kind: integer(-1, 65535), default: -1,
    description: 'TCP port of the line protocol over TLS (on `host`); 0 picks a free port, -1 turns it off. Needs `tlsCert`.', reloadable: false, engine: true,
  },
  ircTlsPort: {
    kind: integer(-1, 65535), default: -1,
    defaultDoc: '6697 when `tlsCert` is set, else -1 (0 when `port` is 0)',
    description: 'TCP port of IRC over TLS (on `ircHost`, docs/irc.md); 0 picks a free port, -1 turns it off. Needs `tlsCert`.', reloadable: false, engine: true,
  },
  tlsHandshakeTimeoutMs: {
    kind: integer(0, INT32_MAX), default: 10000,
    description: 'Time a TLS client has to complete its handshake, in ms (a half-finished one is dropped); 0: only `registrationTimeoutMs` bounds it.', reloadable: true, engine: true,
  },
  backlog: {
    kind: integer(1, 65535), default: 511,
    description: 'Listen backlog (pending connections the kernel queues).', reloadable: false, engine: true,
  },
  maxClients: {
    kind: integer(1, 1_000_000), default: 10000,
    description: 'Connections at once (registered or not); the next one gets SERVER_FULL.', reloadable: false, engine: true,
  },
  maxLineBytes: {
    kind: integer(16, 16_777_216), default: 4096,
    description: 'Longest line a client may send, in bytes; longer lines get LINE_TOO_LONG.', reloadable: true, engine: true,
  },
  maxOutputBytes: {
    kind: integer(64, INT32_MAX), default: 1_048_576,
    description: 'Output queue limit per client; a client that does not read is dropped past it.', reloadable: true, engine: true,
  },
  registrationTimeoutMs: {
    kind: integer(0, INT32_MAX), default: 60_000,
    description: 'Time to choose a nickname, in ms; 0 disables.', reloadable: true, engine: true,
  },
  idleTimeoutMs: {
    kind: integer(0, INT32_MAX), default: 600_000,
    description: 'Disconnect registered users silent this long, in ms; 0 disables.', reloadable: true, engine: true,
  },
  floodRate: {
    kind: decimal(0, 1_000_000), default: 20,
    description: 'Lines per second each client may send (token bucket refill); 0 disables flood control.', reloadable: true, engine: true,
  },
  floodBurst: {
    kind: integer(1, 1_000_000), default: 40,
    description: 'Lines a client may send at once (token bucket size).', reloadable: true, engine: true,
  },
  floodKick: {
    kind: integer(1, 1_000_000), default: 40,
    description: 'Lines dropped in a row for flooding before FLOOD_KICK.', reloadable: true, engine: true,
  },
  quietRoomSize: {
    kind: integer(0, INT32_MAX), default: 1000,
    description: 'Rooms with more members stop announcing joins and departures.', reloadable: true, engine: true,
  },
  defaultRoom: {
    kind: text({ expect: 'a room name (1 to 32 of A-Z a-z 0-9 _ -)', metavar: 'ROOM', pattern: ROOM, normalize: (s) => s.replace(/^#/, '') }),
    default: 'lobby', description: 'Room every user starts in.', reloadable: false, engine: true,
  },
  autoCreateRooms: {
    kind: boolean(), default: false,
    description: '`/join` creates a room that does not exist.', reloadable: true, engine: true,
  },
  maxRooms: {
    kind: integer(1, 1_000_000), default: 10000,
    description: 'Rooms that may exist at once; more get ROOM_LIMIT.', reloadable: true, engine: true,
  },
  nickMaxLength: {
    kind: integer(1, 255), default: 24,
    description: 'Longest nickname, in characters.', reloadable: true, engine: true,
  },
  reservedNicks: {
    kind: wordList(NICK, 'nicknames'),
    default: ['server', 'admin', 'root', 'system', 'epchat', 'nickserv', 'chanserv', 'operator'],
    description: 'Nicknames nobody may take (compared without case).', reloadable: true, engine: true,
  },
  console: {
    kind: boolean(), default: (t) => t.stdinIsTTY, defaultDoc: 'true if stdin is a TTY',
    description: 'Read admin commands from stdin.', reloadable: false, engine: true,
  },
  handleSignals: {
    kind: boolean(), default: false, defaultDoc: 'false (library), true (CLI)',
    description: 'The engine handles SIGINT/SIGTERM (graceful shutdown) and SIGHUP (reload).', reloadable: false, engine: true,
  },
  emitMessages: {
    kind: boolean(), default: false,
    description: 'Emit a `message` event for every chat message (on anyway while a listener is attached).', reloadable: true, engine: true,
  },
  delegate: {
    kind: wordList(COMMAND, 'command names'), default: [], defaultDoc: 'none',
    description: 'Commands the engine forwards to JavaScript as `command` events.', reloadable: true, engine: true,
  },
  delegateOfflineMsg: {
    kind: boolean(), default: false,
    description: 'Forward `/msg` to an offline nick to JavaScript instead of NO_SUCH_USER.', reloadable: true, engine: true,
  },
  shutdownGraceMs: {
    kind: integer(0, INT32_MAX), default: 2000,
    description: 'How long a graceful shutdown waits for output to drain, in ms.', reloadable: false, engine: true,
  },
  logLevel: {
    kind: oneOf(LOG_LEVELS), default: 'info',
    description: 'Log level.', reloadable: true, engine: false,
  },
  logFormat: {
    kind: oneOf(LOG_FORMATS), default: (t) => (t.stdoutIsTTY ? 'pretty' : 'json'), defaultDoc: '`pretty` if stdout is a TTY, else `json`',
    description: 'Log output: human-readable or one JSON object per line.', reloadable: false, engine: false,
  },
  dataDir: {
    kind: text({ expect: 'a directory path', metavar: 'DIR' }), default: './epchat-data',
    description: 'Directory for persistent data: the SQLite database `epchat.db` (WAL, synchronous FULL) with accounts, mailboxes and groups.', reloadable: false, engine: false,
  },
  accounts: {
    kind: boolean(), default: true,
    description: 'Accounts (`/register`, `/login`), offline mailboxes and groups, stored in `dataDir`.', reloadable: false, engine: false,
  },
  mailboxMax: {
    kind: integer(1, 1_000_000), default: 100,
    description: 'Unread messages a mailbox holds; more get MAILBOX_FULL.', reloadable: true, engine: false,
  },
  maxGroups: {
    kind: integer(0, 10_000_000), default: 10000,
    description: 'Groups the server stores; more get GROUP_LIMIT.', reloadable: true, engine: false,
  },
  maxGroupsPerUser: {
    kind: integer(1, 10_000_000), default: 20,
    description: 'Groups one account may have created (those that still exist); more get GROUP_QUOTA.', reloadable: true, engine: false,
  },
  groupMaxMembers: {
    kind: integer(2, 100_000), default: 100,
    description: 'Members a group may have; more get GROUP_FULL.', reloadable: true, engine: false,
  },
  loginMaxFailures: {
    kind: integer(1, 1_000_000), default: 5,
    description: 'Failed logins allowed per connection and per account within `loginWindowMs`; then LOGIN_THROTTLED.', reloadable: true, engine: false,
  },
  loginWindowMs: {
    kind: integer(1, INT32_MAX), default: 60_000,
    description: 'Window for counting failed logins, in ms.', reloadable: true, engine: false,
  },
  passwordMinLength: {
    kind: integer(1, 128), default: 8,
    description: 'Shortest password accepted by `/register` and `/passwd`.', reloadable: true, engine: false,
  },
  hashConcurrency: {
    kind: integer(1, 64), default: 2,
    description: 'Password hashes (scrypt) computed at once, server-wide.', reloadable: true, engine: false,
  },
  hashQueueMax: {
    kind: integer(0, 100_000), default: 64,
    description: 'Password hashes waiting for a free slot, server-wide; past it a login, `/register` or `/passwd` gets BUSY. Waiting hashes of a client that disconnects, and all of them at shutdown, are dropped.', reloadable: true, engine: false,
  },
  registerMaxPerAddress: {
    kind: integer(1, 1_000_000), default: 10,
    description: 'Accounts `/register` may create from one IP address (one /64 for IPv6) within `registerWindowMs`; then REGISTER_THROTTLED.', reloadable: true, engine: false,
  },
  registerWindowMs: {
    kind: integer(1, INT32_MAX), default: 3_600_000,
    description: 'Window for counting registrations per address, in ms.', reloadable: true, engine: false,
  },
  scryptN: {
    kind: powerOfTwo(16, 1_048_576), default: 16384,
    description: 'scrypt cost N for new password hashes (keep at least 16384 in production).', reloadable: true, engine: false,
  },
  scryptR: {
    kind: integer(1, 64), default: 8,
    description: 'scrypt block size r for new password hashes.', reloadable: true, engine: false,
  },
  scryptP: {
    kind: integer(1, 16), default: 1,
    description: 'scrypt parallelization p for new password hashes.', reloadable: true, engine: false,
  },
};

/** One row of the settings table, with its derived environment variable and flag. */
export interface Setting {
  name: SettingName;
  env: string;
  flag: string;
  typeName: string;
  metavar: string | null;
  defaultDoc: string;
  description: string;
  reloadable: boolean;
  engine: boolean;
}

const envName = (name: string) => `EPCHAT_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const flagName = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const NAMES = Object.keys(SPECS) as SettingName[];

function specOf<K extends SettingName>(name: K): SettingSpec<K> {
  return SPECS[name];
}

/** The settings table, in documentation order. */
export const SETTINGS: readonly Setting[] = NAMES.map((name) => {
  const spec = specOf(name) as SettingSpec<SettingName>;
  const kind = spec.kind as Kind<unknown>;
  return Object.freeze({
    name,
    env: envName(name),
    flag: flagName(name),
    typeName: kind.typeName,
    metavar: kind.metavar,
    defaultDoc: spec.defaultDoc ?? (typeof spec.default === 'function' ? '' : kind.format(spec.default)),
    description: spec.description,
    reloadable: spec.reloadable,
    engine: spec.engine,
  });
});

export const RELOADABLE: readonly SettingName[] = SETTINGS.filter((s) => s.reloadable).map((s) => s.name);

/** The settings `reload()` accepts: the engine's reloadable policy plus the façade's own. */
export type ReloadableConfig = EngineReloadable & Pick<Config,
  'logLevel' | 'mailboxMax' | 'maxGroups' | 'maxGroupsPerUser' | 'groupMaxMembers' | 'loginMaxFailures' | 'loginWindowMs' |
  'passwordMinLength' | 'hashConcurrency' | 'hashQueueMax' | 'registerMaxPerAddress' | 'registerWindowMs' |
  'scryptN' | 'scryptR' | 'scryptP'>;

/** The config file: `--config FILE` or `EPCHAT_CONFIG`. */
export const CONFIG_ENV = 'EPCHAT_CONFIG';
export const CONFIG_FLAG = '--config';

// ---------------------------------------------------------------------------------------------------
// Layers. Each source yields entries (setting, raw value, where it came from); they are checked by the
// setting's kind and applied in precedence order.

export interface ConfigEntry {
  key: string;
  raw: unknown;
  source: string;
  /** Raw is text (env, flag) rather than a typed JSON value. */
  textual: boolean;
}

function isSetting(key: string): key is SettingName {
  return Object.prototype.hasOwnProperty.call(SPECS, key);
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) { bestScore = d; best = c; }
  }
  return bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownIssue(key: string, source: string, candidates: readonly string[], what: string): ConfigIssue {
  const hint = closest(key, candidates);
  return { key, source, problem: `is not a known ${what}${hint ? ` (did you mean ${hint}?)` : ''}` };
}

function checkEntry(e: ConfigEntry): { ok: true; name: SettingName; value: unknown } | { ok: false; issue: ConfigIssue } {
  if (!isSetting(e.key)) return { ok: false, issue: unknownIssue(e.key, e.source, NAMES, 'setting') };
  const kind = SPECS[e.key].kind as Kind<unknown>;
  const r = e.textual ? kind.fromText(String(e.raw)) : kind.fromValue(e.raw);
  if (r.ok) return { ok: true, name: e.key, value: r.value };
  return {
    ok: false,
    issue: { key: e.key, source: e.source, problem: r.problem ?? `must be ${kind.expect}, got ${JSON.stringify(e.raw)}` },
  };
}

function objectEntries(obj: Record<string, unknown>, source: string): ConfigEntry[] {
  return Object.entries(obj)
    .filter(([, v]) => v !== undefined)
    .map(([key, raw]) => ({ key, raw, source, textual: false }));
}

function envEntries(env: NodeJS.ProcessEnv): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  for (const s of SETTINGS) {
    const raw = env[s.env];
    if (raw === undefined) continue;
    // An empty variable counts as unset, except for lists where it means "none".
    if (raw === '' && s.metavar !== 'LIST') continue;
    out.push({ key: s.name, raw, source: s.env, textual: true });
  }
  return out;
}

/** EPCHAT_* variables that are not settings but are read elsewhere (the addon's path, test and fuzz
 *  knobs); any other unknown EPCHAT_* variable is most likely a typo and is warned about. */
const OTHER_ENV = [CONFIG_ENV, 'EPCHAT_ADDON', 'EPCHAT_ASAN_DIR'];
const OTHER_ENV_PREFIXES = ['EPCHAT_TEST_', 'EPCHAT_FUZZ_'];

/** Unknown EPCHAT_* variables, each with a suggestion when one is close (not an error: the
 *  environment is shared with other programs, so these are warnings). */
export function unknownEnv(env: NodeJS.ProcessEnv): ConfigIssue[] {
  const known = new Set([...SETTINGS.map((s) => s.env), ...OTHER_ENV]);
  const out: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('EPCHAT_') || known.has(name) || OTHER_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const issue = unknownIssue(name, 'environment', [...known], 'setting');
    out.push({ ...issue, problem: `${issue.problem}; ignored` });
  }
  return out;
}

/** The command line, split into settings and the few flags that are not settings. */
export interface ParsedArgs {
  entries: ConfigEntry[];
  configFile: string | undefined;
  help: boolean;
  version: boolean;
  positionals: string[];
  issues: ConfigIssue[];
}

const BY_FLAG = new Map(SETTINGS.map((s) => [s.flag, s]));
const META_FLAGS = [CONFIG_FLAG, '--help', '--version'];

/** Parses `--flag value`, `--flag=value`, `--flag`/`--no-flag` (booleans), `--config FILE`, `-h`/`--help`,
 *  `-v`/`--version` and `--` (end of flags). Never throws: problems are returned in `issues`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { entries: [], configFile: undefined, help: false, version: false, positionals: [], issues: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { out.positionals.push(...argv.slice(i + 1)); break; }
    if (arg === '-h' || arg === '--help') { out.help = true; continue; }
    if (arg === '-v' || arg === '--version') { out.version = true; continue; }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) out.issues.push({ key: arg, source: 'command line', problem: 'is not a known flag' });
      else out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const takeValue = (): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) return undefined;
      i++;
      return next;
    };
    const missing = () => out.issues.push({ key: flag, source: 'command line', problem: 'needs a value' });

    if (flag === CONFIG_FLAG) {
      const v = takeValue();
      if (v === undefined || v === '') missing(); else out.configFile = v;
      continue;
    }
    const setting = BY_FLAG.get(flag);
    if (setting) {
      if (setting.metavar === null) {
        out.entries.push({ key: setting.name, raw: inline ?? 'true', source: flag, textual: true });
      } else {
        const v = takeValue();
        if (v === undefined) missing(); else out.entries.push({ key: setting.name, raw: v, source: flag, textual: true });
      }
      continue;
    }
    const negated = flag.startsWith('--no-') ? BY_FLAG.get(`--${flag.slice(5)}`) : undefined;
    if (negated && negated.metavar === null && inline === undefined) {
      out.entries.push({ key: negated.name, raw: 'false', source: flag, textual: true });
      continue;
    }
    out.issues.push(unknownIssue(flag, 'command line', [...BY_FLAG.keys(), ...META_FLAGS], 'flag'));
    // Skip the unknown flag's probable value so it is not reported a second time as an argument.
    if (inline === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')) i++;
  }
  return out;
}

/** Reads a JSON config file; it must hold one object whose keys are setting names. */
export function readConfigFile(path: string): Record<string, unknown> {
  let textContent: string;
  try {
    textContent = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? String(err);
    throw new EpchatError(ErrorCodes.CONFIG_INVALID, `invalid config: cannot read config file ${path}: ${code}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(textContent);
  } catch (err) {
    throw new EpchatError(ErrorCodes.CONFIG_INVALID, `invalid config: config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EpchatError(ErrorCodes.CONFIG_INVALID, `invalid config: config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------
// Resolution.

export interface ResolveInput {
  /** Command-line arguments after the command (process.argv.slice(2) minus any subcommand). */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** A config file path, or its parsed contents; when given, --config and EPCHAT_CONFIG are not used. */
  file?: string | Record<string, unknown>;
  /** Overrides the table's defaults (the CLI sets handleSignals: true); validated like any layer. */
  defaults?: Partial<Config>;
  /** Defaults to the process's own streams. */
  terminal?: Terminal;
}

export interface ResolvedConfig {
  config: Config;
  /** Where each setting's value came from: `default`, `config file PATH`, `EPCHAT_PORT`, `--port`, … */
  sources: Record<SettingName, string>;
  /** The config file used, if a path. */
  configFile: string | undefined;
  /** Problems that do not stop the server (unknown EPCHAT_* variables), to be logged. */
  warnings: ConfigIssue[];
}

function processTerminal(): Terminal {
  return { stdinIsTTY: process.stdin.isTTY === true, stdoutIsTTY: process.stdout.isTTY === true };
}

function tableDefaults(terminal: Terminal): Config {
  const out: Record<string, unknown> = {};
  for (const name of NAMES) {
    const d = SPECS[name].default as unknown;
    const value = typeof d === 'function' ? (d as (t: Terminal) => unknown)(terminal) : d;
    out[name] = Array.isArray(value) ? [...value] : value;
  }
  return out as unknown as Config;
}

/** Applies layers in order over `base`; collects every issue and throws one ConfigError if any. */
function applyLayers(base: Config, baseSource: string, layers: readonly ConfigEntry[][], issues: ConfigIssue[] = []): Omit<ResolvedConfig, 'warnings'> & { configFile: undefined } {
  const config: Record<string, unknown> = { ...base };
  const sources = Object.fromEntries(NAMES.map((n) => [n, baseSource])) as Record<SettingName, string>;
  for (const layer of layers) {
    for (const entry of layer) {
      const r = checkEntry(entry);
      if (!r.ok) { issues.push(r.issue); continue; }
      config[r.name] = r.value;
      sources[r.name] = entry.source;
    }
  }
  // TLS: a certificate needs its key (and the reverse); a TLS port needs both.
  const tlsSource = sources.tlsCert !== baseSource ? sources.tlsCert : sources.tlsKey;
  if ((config.tlsCert === '') !== (config.tlsKey === '')) {
    const missing = config.tlsCert === '' ? 'tlsCert' : 'tlsKey';
    issues.push({ key: missing, source: tlsSource, problem: `is needed with ${missing === 'tlsCert' ? 'tlsKey' : 'tlsCert'} (TLS takes both or neither)` });
  } else if (config.tlsCert === '') {
    for (const key of ['tlsPort', 'ircTlsPort', 'httpsPort'] as const) {
      if (sources[key] !== baseSource && (config[key] as number) >= 0) {
        issues.push({ key, source: sources[key], problem: 'needs tlsCert and tlsKey (`epchat cert` makes a development pair)' });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  // IRC over TLS on 6697 once a certificate is configured (a free port when the line port is 0).
  if (sources.ircTlsPort === baseSource && config.tlsCert !== '') config.ircTlsPort = config.port === 0 ? 0 : 6697;
  // A server on a free line port (tests, embedding) gets a free IRC port too, unless one was chosen.
  if (sources.ircPort === baseSource && config.port === 0) config.ircPort = 0;
  if (sources.ircHost === baseSource) config.ircHost = config.host;
  if (sources.httpPort === baseSource && (config.port === 0 || config.ircPort === 0)) config.httpPort = 0;
  if (sources.httpHost === baseSource) config.httpHost = config.host;
  // HTTPS (and WSS) on 7443 once a certificate is configured, a free port as httpPort gets one.
  if (sources.httpsPort === baseSource && config.tlsCert !== '') config.httpsPort = config.httpPort === 0 ? 0 : 7443;
  return { config: Object.freeze(config) as unknown as Config, sources, configFile: undefined };
}

/** defaults < config file < environment < flags, with the sources of every value. */
export function resolveConfigDetailed(input: ResolveInput = {}): ResolvedConfig {
  const env = input.env ?? {};
  const args = parseArgs(input.argv ?? []);
  const issues = [...args.issues];
  for (const p of args.positionals) issues.push({ key: JSON.stringify(p), source: 'command line', problem: 'is not an expected argument' });
  if (args.help || args.version) {
    issues.push({ key: args.help ? '--help' : '--version', source: 'command line', problem: 'is handled by the CLI, not by resolveConfig' });
  }

  const layers: ConfigEntry[][] = [];
  if (input.defaults) layers.push(objectEntries(input.defaults, 'defaults'));
  let configFile: string | undefined;
  if (input.file !== undefined && typeof input.file === 'object') {
    layers.push(objectEntries(input.file, 'config file'));
  } else {
    configFile = input.file ?? args.configFile ?? (env[CONFIG_ENV] || undefined);
    if (configFile !== undefined) layers.push(objectEntries(readConfigFile(configFile), `config file ${configFile}`));
  }
  layers.push(envEntries(env), args.entries);

  const resolved = applyLayers(tableDefaults(input.terminal ?? processTerminal()), 'default', layers, issues);
  return { ...resolved, configFile, warnings: unknownEnv(env) };
}

/** defaults < config file < environment < flags. Throws EpchatError EPCHAT_CONFIG_INVALID. */
export function resolveConfig(input: ResolveInput = {}): Config {
  return resolveConfigDetailed(input).config;
}

/** Library configuration: the table's defaults under `options` (no environment, no file). */
export function configFromOptions(options: Partial<Config> = {}, terminal: Terminal = processTerminal()): Config {
  return applyLayers(tableDefaults(terminal), 'default', [objectEntries(options, 'options')]).config;
}

/** Validates a partial update of reloadable settings (for `reload()`); `source` names it in errors. */
export function checkReloadable(update: Record<string, unknown>, source = 'reload'): Partial<Config> {
  const issues: ConfigIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const entry of objectEntries(update, source)) {
    const r = checkEntry(entry);
    if (!r.ok) { issues.push(r.issue); continue; }
    if (!SPECS[r.name].reloadable) { issues.push({ key: r.name, source, problem: 'cannot change while running (restart needed)' }); continue; }
    out[r.name] = r.value;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out as Partial<Config>;
}

/** The engine's part of the configuration (fresh arrays, so later changes cannot leak in). */
export function toEngineOptions(config: Config): EngineSettings {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (!s.engine) continue;
    const v = config[s.name];
    out[s.name] = Array.isArray(v) ? [...v] : v;
  }
  // `port: -1` (the line listener off) reaches the engine as lineListener: false.
  if (out.port === -1) {
    out.port = 0;
    out.lineListener = false;
  }
  return out as unknown as EngineSettings;
}

/** Settings whose values differ between two configurations. */
export function diffConfig(before: Config, after: Config): Array<{ name: SettingName; from: unknown; to: unknown }> {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return NAMES.filter((n) => !same(before[n], after[n])).map((n) => ({ name: n, from: before[n], to: after[n] }));
}

// ---------------------------------------------------------------------------------------------------
// Documentation.

/** The options part of `epchat --help`. */
export function renderHelp(width = 28): string {
  const lines: string[] = [];
  const row = (left: string, right: string) => {
    lines.push(left.length >= width - 2 ? `  ${left}\n${' '.repeat(width)}${right}` : `  ${left.padEnd(width - 2)}${right}`);
  };
  row(`${CONFIG_FLAG} FILE`, `JSON config file (env ${CONFIG_ENV}); its keys are the setting names.`);
  for (const s of SETTINGS) {
    const left = s.metavar === null ? `--[no-]${s.flag.slice(2)}` : `${s.flag} ${s.metavar}`;
    row(left, s.description.replace(/`/g, ''));
    const details = [`env ${s.env}`];
    if (s.defaultDoc !== '') details.push(`default ${s.defaultDoc.replace(/`/g, '')}`);
    if (s.reloadable) details.push('reloadable');
    lines.push(`${' '.repeat(width)}(${details.join(', ')})`);
  }
  row('-h, --help', 'Show this help.');
  row('-v, --version', 'Show the version.');
  return lines.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

/** The README's configuration table, as markdown. */
export function renderMarkdownTable(): string {
  const head = '| Setting | Type | Default | Environment | Flag | Reloadable | Description |\n| --- | --- | --- | --- | --- | --- | --- |';
  const rows = SETTINGS.map((s) => {
    const dflt = s.defaultDoc === '' ? '' : s.defaultDoc === 'none' || s.defaultDoc.includes('`') || s.defaultDoc.includes(' ') ? s.defaultDoc : `\`${s.defaultDoc}\``;
    const flag = s.metavar === null ? `\`--[no-]${s.flag.slice(2)}\`` : `\`${s.flag} ${s.metavar}\``;
    return `| \`${s.name}\` | ${md(s.typeName)} | ${md(dflt)} | \`${s.env}\` | ${md(flag)} | ${s.reloadable ? 'yes' : 'no'} | ${md(s.description)} |`;
  });
  return [head, ...rows].join('\n') + '\n';
}
