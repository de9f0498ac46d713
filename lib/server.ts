// ChatServer: the JavaScript face of the engine. It configures the engine, dispatches its batched events
// as typed EventEmitter events, answers delegated commands and turns request/reply pairs into promises.
// It is never on the per-message path: the engine only emits `message` events while someone listens.
// Plugins (lib/plugin.ts; accounts, mailboxes and groups are one: lib/community.ts) are installed
// through the PluginHost it gives each of them.
import { EventEmitter } from 'node:events';
import {
  loadNative,
  type ClientId, type EngineCommand, type EngineEvent, type EngineOptions, type EngineStats, type HostLine,
  type NativeBinding, type NativeEngine, type RoomInfo, type UserInfo,
} from './native.js';
import {
  checkReloadable, configFromOptions, diffConfig, toEngineOptions,
  type Config, type ReloadableConfig, type SettingName,
} from './config.js';
import { EpchatError, ErrorCodes } from './errors.js';
import { checkClientId, checkFunction, checkStringList, checkText } from './args.js';
import { createLogger, type Logger } from './log.js';
import { checkLines } from './host-lines.js';
import { Community } from './community.js';
import {
  error, type CommandContext, type CommandHandler, type Plugin, type PluginHost, type RegisterCommandOptions,
} from './plugin.js';
import type { Storage } from './storage/storage.js';

export type { CommandContext, CommandHandler, Plugin, PluginHost, RegisterCommandOptions } from './plugin.js';

type EventOf<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export type ConnectEvent = EventOf<'connect'>;
export type RegisterEvent = EventOf<'register'>;
export type NickEvent = EventOf<'nick'>;
export type JoinEvent = EventOf<'join'>;
export type LeaveEvent = EventOf<'leave'>;
export type MessageEvent = EventOf<'message'>;
export type DisconnectEvent = EventOf<'disconnect'>;
export type TimeoutEvent = EventOf<'timeout'>;
export type SignalName = EventOf<'signal'>['signal'];

export interface Address { host: string; port: number }

export interface ServerEvents {
  listening: [address: Address];
  connect: [event: ConnectEvent];
  register: [event: RegisterEvent];
  nick: [event: NickEvent];
  join: [event: JoinEvent];
  leave: [event: LeaveEvent];
  /** Only emitted while a listener is attached or `emitMessages` is set. */
  message: [event: MessageEvent];
  disconnect: [event: DisconnectEvent];
  timeout: [event: TimeoutEvent];
  /** A delegated command; also handled by a `registerCommand` handler when there is one. */
  command: [ctx: CommandContext];
  /** A line from the admin console (no newline). */
  console: [text: string];
  /** The admin console has handled what was typed and waits for the next command (the CLI shows its
   *  prompt). */
  consoleReady: [];
  signal: [signal: SignalName];
  /** An engine error (code from the engine). Logged always; emitted only when someone listens, so an
   *  engine error never crashes a process that did not subscribe. */
  error: [error: EpchatError];
  /** The engine has stopped, whoever asked (close(), a signal, the console). */
  close: [stats: EngineStats];
  /** EventEmitter's own. */
  newListener: [event: string | symbol, listener: (...args: any[]) => void];
  removeListener: [event: string | symbol, listener: (...args: any[]) => void];
}

export interface ServerDeps {
  logger?: Logger;
  /** The native binding (tests can inject a fake); loaded from build/ on the first listen() otherwise. */
  binding?: NativeBinding;
  /** With `accounts`: where accounts, mailboxes and groups live; a SqliteStorage in `dataDir` by
   *  default. Opened by listen(), closed when the server closes. */
  storage?: Storage;
}

export interface ReloadChange { name: SettingName; from: unknown; to: unknown }

type State = 'idle' | 'listening' | 'closing' | 'closed';

interface Pending { resolve(data: unknown): void; reject(err: Error): void }

type RequestCommand = Extract<EngineCommand, { req: number }>;
/** A request command without its `req` (given by #request). */
type RequestOf<C> = C extends RequestCommand ? Omit<C, 'req'> : never;

const COMMAND_NAME = /^[a-z][a-z0-9_-]*$/;
const MAX_REQ = 2 ** 31 - 1;
/** How long a delegated command may take before its client is disconnected (its later lines wait for
 *  it; docs/protocol.md, "Order"). Generous: hashing a password and a storage round trip take
 *  milliseconds. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** Per-connection events: the engine sends them only while someone listens or logs them. */
const LIFECYCLE_EVENTS: ReadonlySet<string | symbol> = new Set(['connect', 'register', 'nick', 'join', 'leave', 'disconnect', 'timeout']);
/** Log levels at which connections are logged (register and disconnect at info). */
const LOGS_CONNECTIONS: ReadonlySet<string> = new Set(['trace', 'debug', 'info']);

const ZERO_STATS: EngineStats = Object.freeze({
  uptime_s: 0, users: 0, connections: 0, peak_users: 0, accepted: 0, rejected_full: 0, messages_in: 0,
  deliveries: 0, bytes_in: 0, bytes_out: 0, rooms: 0, latency_mean_us: 0, latency_p99_us: 0, dropped_slow: 0,
  tls_handshakes: 0, tls_failed: 0, tls_plaintext: 0, tls_timeouts: 0,
});

export class ChatServer extends EventEmitter<ServerEvents> {
  readonly log: Logger;
  #config: Config;
  #binding: NativeBinding | undefined;
  #engine: NativeEngine | null = null;
  #state: State = 'idle';
  #address: Address | null = null;
  #ircAddress: Address | null = null;
  #tlsAddress: Address | null = null;
  #ircTlsAddress: Address | null = null;
  #httpAddress: Address | null = null;
  #httpsAddress: Address | null = null;
  #finalStats: EngineStats | null = null;
  #closing: Promise<EngineStats> | null = null;
  #resolveClosing: ((stats: EngineStats) => void) | null = null;
  #pending = new Map<number, Pending>();
  #nextReq = 1;
  #commands = new Map<string, { handler: CommandHandler; delegate: boolean; help: string[] }>();
  /** The emitMessages value last given to the engine. */
  #messagesOn = false;
  /** The lifecycleEvents value last given to the engine. */
  #lifecycleOn = true;
  #storage: Storage | undefined;
  /** Accounts, mailboxes and groups, while listening with `accounts` on (also in #active). */
  #community: Community | null = null;
  /** Plugins given to use(), installed at each listen(). */
  #plugins: Plugin[] = [];
  /** The plugins installed for this run (the accounts one first), in order. */
  #active: Plugin[] = [];
  /** The commands each installed plugin registered (removed when it is closed). */
  #pluginCommands = new Map<Plugin, Array<() => void>>();
  #starting = false;
  /** close() was called while listen() was still starting: listen() gives up before the engine runs. */
  #abortStart: { promise: Promise<EngineStats>; resolve: (stats: EngineStats) => void } | null = null;

  constructor(config: Config, deps: ServerDeps = {}) {
    super();
    this.#config = config;
    this.#binding = deps.binding;
    this.#storage = deps.storage;
    this.log = deps.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
    this.#watchListeners();
  }

  /** Keeps the engine's emitMessages and lifecycleEvents in step with the listeners (events nobody
   *  hears cost the engine work and JavaScript memory). */
  #watchListeners(): void {
    // 'newListener' runs before the listener is added: it counts as wanted at once, so the engine
    // hears of it before any command the caller sends next.
    this.on('newListener', (event) => {
      if (event === 'message') this.#syncMessages(true);
      else if (LIFECYCLE_EVENTS.has(event)) this.#syncLifecycle(true);
    });
    this.on('removeListener', (event) => {
      if (event === 'message') this.#syncMessages();
      else if (LIFECYCLE_EVENTS.has(event)) this.#syncLifecycle();
    });
  }

  /** As EventEmitter's, but the internal listener watch survives `removeAllListeners()`. */
  override removeAllListeners(...args: Parameters<EventEmitter<ServerEvents>['removeAllListeners']>): this {
    super.removeAllListeners(...args);
    const [event] = args;
    if (event === undefined || event === 'newListener' || event === 'removeListener') {
      super.removeAllListeners('newListener');
      super.removeAllListeners('removeListener');
      this.#watchListeners();
    }
    this.#syncMessages();
    this.#syncLifecycle();
    return this;
  }

  /** Accounts, mailboxes and groups' storage while listening with `accounts` on, else null. */
  get storage(): Storage | null { return this.#community?.storage ?? null; }

  /** The current configuration (reload() changes it). */
  get config(): Config { return this.#config; }

  get listening(): boolean { return this.#state === 'listening'; }

  /** The bound address while listening (or closing), else null. */
  address(): Address | null { return this.#address ? { ...this.#address } : null; }

  /** The IRC listener's bound address while listening, else null (also when `ircPort` is -1). */
  ircAddress(): Address | null { return this.#ircAddress ? { ...this.#ircAddress } : null; }
  /** The HTTP listener's bound address (web client, WebSocket) while listening, else null (also when
   *  `httpPort` is -1). */
  httpAddress(): Address | null { return this.#httpAddress ? { ...this.#httpAddress } : null; }

  /** The TLS listeners' bound addresses while listening, else null (also when that port is -1). */
  tlsAddress(): Address | null { return this.#tlsAddress ? { ...this.#tlsAddress } : null; }
  ircTlsAddress(): Address | null { return this.#ircTlsAddress ? { ...this.#ircTlsAddress } : null; }
  /** The HTTP listener over TLS (HTTPS, WSS), like httpAddress(). */
  httpsAddress(): Address | null { return this.#httpsAddress ? { ...this.#httpsAddress } : null; }

  /** Loads `tlsCert` and `tlsKey` again (the CLI does on SIGHUP): TLS connections made from now on
   *  get the new certificate, connected ones keep theirs and stay connected. Rejects with EPCHAT_TLS
   *  (naming the file) when they cannot be loaded, keeping the old ones; with EPCHAT_NOT_LISTENING
   *  when not listening. */
  async reloadTls(): Promise<void> {
    const r = (await this.#request({ type: 'reloadTls' })) as { ok: boolean; message?: string };
    if (!r.ok) throw new EpchatError(ErrorCodes.TLS, `TLS reload failed: ${r.message ?? 'unknown error'}`);
    this.log.info({ cert: this.#config.tlsCert }, 'TLS certificate reloaded');
  }

  /** Binds and starts the engine. Port 0 picks a free port: the resolved address has the real one.
   *  Rejects with the bind error (its `code` is EADDRINUSE, EACCES, …). */
  async listen(): Promise<Address> {
    if (this.#state === 'listening' || this.#state === 'closing' || this.#starting) {
      throw new EpchatError(ErrorCodes.ALREADY_LISTENING, `server is already ${this.#starting ? 'starting' : this.#state}`);
    }
    this.#starting = true;
    let community: Community | null = null;
    const installed: Plugin[] = [];
    let bound: ReturnType<NativeEngine['listen']>;
    let engine: NativeEngine;
    let options: EngineOptions;
    // close() during the awaits below: give up before the engine runs (nothing is left listening).
    const aborted = () => {
      if (this.#abortStart) throw new EpchatError(ErrorCodes.CLOSED, 'close() was called while the server was starting');
    };
    try {
      const binding = this.#binding ?? loadNative();
      let storage = this.#storage ?? null;
      const plugins = [...this.#plugins];
      if (this.#config.accounts) {
        // Loaded on demand: better-sqlite3 is a native module that servers without accounts never need.
        storage ??= new (await import('./storage/sqlite.js')).SqliteStorage({ dataDir: this.#config.dataDir });
        aborted();
        community = new Community(storage);
        this.#community = community;
        plugins.unshift(community);
      }
      this.#active = installed;
      for (const plugin of plugins) {
        installed.push(plugin);
        try {
          await plugin.install(this.#hostFor(plugin, storage));
        } catch (err) {
          throw plugin === community && storage ? storageError(err, storage.location) : err;
        }
        aborted();
      }
      aborted();
      options = this.#engineOptions();
      engine = new binding.Engine(options, (events) => this.#onEvents(events));
      // A bind error (EADDRINUSE, EACCES, …) rejects as is: the caller decides how to report it.
      bound = engine.listen();
    } catch (err) {
      this.#community = null;
      this.#active = [];
      // A failed start leaves nothing behind: what the storage created at open() is removed.
      for (const plugin of installed.reverse()) {
        await this.#closePlugin(plugin, { discard: true });
      }
      throw err;
    } finally {
      this.#starting = false;
      const abort = this.#abortStart;
      this.#abortStart = null;
      abort?.resolve(this.#finalStats ?? { ...ZERO_STATS });
    }
    this.#engine = engine;
    this.#messagesOn = options.emitMessages;
    this.#lifecycleOn = options.lifecycleEvents;
    this.#state = 'listening';
    this.#address = bound.port >= 0 ? { host: bound.host, port: bound.port } : null;
    this.#ircAddress = bound.ircPort !== undefined && bound.ircPort >= 0 ? { host: bound.ircHost ?? bound.host, port: bound.ircPort } : null;
    this.#tlsAddress = bound.tlsPort !== undefined ? { host: bound.host, port: bound.tlsPort } : null;
    this.#ircTlsAddress = bound.ircTlsPort !== undefined ? { host: bound.ircHost ?? bound.host, port: bound.ircTlsPort } : null;
    this.#httpAddress = bound.httpPort !== undefined && bound.httpPort >= 0 ? { host: bound.httpHost ?? bound.host, port: bound.httpPort } : null;
    this.#httpsAddress = bound.httpsPort !== undefined ? { host: bound.httpHost ?? bound.host, port: bound.httpsPort } : null;
    this.#finalStats = null;
    this.#closing = null;
    this.log.debug({ host: bound.host, port: bound.port }, 'engine listening');
    for (const plugin of installed) plugin.started?.();
    // The line listener's address; with the line listener off (port -1), the IRC one, then HTTP's.
    const main = (this.address() ?? this.ircAddress() ?? this.httpAddress() ?? this.httpsAddress())!;
    this.emit('listening', main);
    return main;
  }

  /** Graceful close: clients are told, queues drain for up to `shutdownGraceMs`. Resolves with the final
   *  counters when the engine has stopped. Idempotent; before listen() it resolves with zero counters. */
  close(): Promise<EngineStats> {
    if (this.#closing) return this.#closing;
    if (this.#starting) {
      // listen() is between its awaits: it rejects with EPCHAT_CLOSED and this resolves once it has.
      if (!this.#abortStart) {
        let resolve!: (stats: EngineStats) => void;
        const promise = new Promise<EngineStats>((r) => { resolve = r; });
        this.#abortStart = { promise, resolve };
      }
      return this.#abortStart.promise;
    }
    if (this.#state === 'idle' || this.#state === 'closed') return Promise.resolve(this.#finalStats ?? { ...ZERO_STATS });
    const closing = this.#expectClose();
    try {
      this.#engine!.close();
    } catch (err) {
      this.log.error({ err }, 'engine close failed');
    }
    return closing;
  }

  /** The engine's counters now (after close: the final ones). */
  stats(): EngineStats {
    if (this.#engine) return this.#engine.stats();
    if (this.#finalStats) return { ...this.#finalStats };
    throw new EpchatError(ErrorCodes.NOT_LISTENING, 'server is not listening');
  }

  /** `>> [server] text` to every registered user. `text` is one non-empty line without control
   *  characters (else EPCHAT_INVALID_ARGUMENT, and nothing is sent). */
  announce(text: string): void {
    checkText('announce(text)', text);
    this.#post({ type: 'announce', text });
  }

  /** Disconnects `nick` with `!! KICKED reason`. Resolves false when nobody has that nick. Rejects
   *  with EPCHAT_INVALID_ARGUMENT for a non-string nick or a reason that is not one line of text. */
  kick(nick: string, reason = 'kicked by the admin'): Promise<boolean> {
    try {
      checkText('kick(nick)', nick);
      checkText('kick(reason)', reason);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request({ type: 'kick', nick, reason }) as Promise<boolean>;
  }

  /** Sends structured lines (lib/native.ts HostLine, e.g. `{ type: 'group', from: 'server', group:
   *  'ops', text: 'deploy at noon' }`) to each of `nicks` who is online, formatted once per protocol;
   *  resolves with the nicks that were not online. Without lines it sends nothing: it only tells who is
   *  offline. */
  deliver(nicks: readonly string[], lines?: HostLine | readonly HostLine[]): Promise<string[]> {
    let list: string[];
    let checked: HostLine[];
    try {
      list = checkStringList('deliver(nicks)', nicks);
      checked = checkLines('deliver(lines)', lines);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request({ type: 'deliver', nicks: list, lines: checked }) as Promise<string[]>;
  }

  users(): Promise<UserInfo[]> {
    return this.#request({ type: 'query', what: 'users' }) as Promise<UserInfo[]>;
  }

  rooms(): Promise<RoomInfo[]> {
    return this.#request({ type: 'query', what: 'rooms' }) as Promise<RoomInfo[]>;
  }

  /** Structured lines (lib/native.ts HostLine) to one client, formatted by its protocol. */
  reply(id: ClientId, ...lines: HostLine[]): void {
    checkClientId('reply(id)', id);
    this.#post({ type: 'reply', id, lines: checkLines('reply(lines)', lines) });
  }

  /** The raw escape hatch: queues protocol text as is to one client (one or more lines, `\n`
   *  separated, no control characters), whatever its protocol. Prefer reply(), which each protocol
   *  formats (an IRC client would get these bytes verbatim). */
  /** Hands a connected socket to the engine as a client speaking `protocol` (a gateway, a test):
   *  the engine takes a duplicate of `fd`; pause the socket first, then close it. */
  adopt(fd: number, address: string, protocol: 'line' | 'irc' = 'line'): void {
    checkText('adopt(address)', address);
    this.#post({ type: 'adopt', fd, address, protocol });
  }

  send(id: ClientId, text: string): void {
    checkClientId('send(id)', id);
    checkText('send(text)', text, { multiline: true });
    this.#post({ type: 'send', id, text });
  }

  /** Installs a plugin (lib/plugin.ts) at the next listen(), after the accounts one (with `accounts`
   *  on), in the order given. Throws EPCHAT_ALREADY_LISTENING while the server runs. */
  use(plugin: Plugin): this {
    if (plugin === null || typeof plugin !== 'object' || typeof plugin.install !== 'function' || typeof plugin.close !== 'function') {
      throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'use(plugin) must be a plugin (an object with install() and close())');
    }
    if (this.#state === 'listening' || this.#state === 'closing' || this.#starting) {
      throw new EpchatError(ErrorCodes.ALREADY_LISTENING, 'use(plugin) must come before listen()');
    }
    this.#plugins.push(plugin);
    return this;
  }

  /** Nicknames owned by accounts (see the engine command `protect`, lib/native.ts). */
  protectNicks(add: readonly string[], remove: readonly string[] = []): void {
    const a = checkStringList('protectNicks(add)', add);
    const r = checkStringList('protectNicks(remove)', remove);
    this.#post({ type: 'protect', add: a.map((n) => n.toLowerCase()), remove: r.map((n) => n.toLowerCase()) });
  }

  /** Applies reloadable settings (validated like any config; others throw EPCHAT_CONFIG_INVALID).
   *  Works before listen() too (the values apply at listen). Returns what changed. */
  reload(update: Partial<ReloadableConfig>): ReloadChange[] {
    if (update === null || typeof update !== 'object' || Array.isArray(update)) {
      throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'reload(update) must be an object of settings');
    }
    const checked = checkReloadable(update as Record<string, unknown>);
    const next = Object.freeze({ ...this.#config, ...checked }) as Config;
    const changes = diffConfig(this.#config, next);
    this.#config = next;
    if (changes.length === 0) return changes;
    if (changes.some((c) => c.name === 'logLevel')) {
      this.log.level = next.logLevel;
      this.#syncLifecycle();
    }
    const engineOptions = this.#engineOptions();
    const policy: Record<string, unknown> = {};
    for (const c of changes) if (c.name in engineOptions) policy[c.name] = engineOptions[c.name as keyof EngineOptions];
    if (Object.keys(policy).length > 0) this.#setPolicy(policy);
    return changes;
  }

  /** Handles `/name` in JavaScript: the name is added to the engine's `delegate` list (unless
   *  `delegate: false`). Returns a function that removes the handler. */
  registerCommand(name: string, handler: CommandHandler, opts: RegisterCommandOptions = {}): () => void {
    checkText('registerCommand(name)', name);
    checkFunction('registerCommand(handler)', handler);
    if (opts === null || typeof opts !== 'object') throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'registerCommand(opts) must be an object');
    if (opts.delegate !== undefined && typeof opts.delegate !== 'boolean') {
      throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'registerCommand(opts.delegate) must be a boolean');
    }
    if (opts.help !== undefined) checkStringList('registerCommand(opts.help)', opts.help);
    const key = name.replace(/^\//, '').toLowerCase();
    if (!COMMAND_NAME.test(key)) throw new EpchatError(ErrorCodes.COMMAND_INVALID, `invalid command name ${JSON.stringify(name)}`);
    if (this.#commands.has(key)) throw new EpchatError(ErrorCodes.COMMAND_INVALID, `command /${key} already has a handler`);
    const entry = { handler, delegate: opts.delegate ?? true, help: [...(opts.help ?? [])] };
    this.#commands.set(key, entry);
    const sync = () => {
      if (entry.delegate || entry.help.length > 0) this.#setPolicy({ delegate: this.#delegateList(), help: this.#helpLines() });
    };
    sync();
    return () => {
      if (this.#commands.get(key) !== entry) return;
      this.#commands.delete(key);
      sync();
    };
  }

  // -------------------------------------------------------------------------------------------------

  #engineOptions(): EngineOptions {
    return {
      ...toEngineOptions(this.#config),
      delegate: this.#delegateList(),
      help: this.#helpLines(),
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      emitMessages: this.#wantMessages(),
      lifecycleEvents: this.#wantLifecycle(),
      protectedNicks: this.#active.flatMap((p) => p.protectedAtStart?.() ?? []),
      // Accounts take `/msg` to offline users (mailboxes) and to `@groups`.
      delegateOfflineMsg: this.#config.delegateOfflineMsg || this.#active.some((p) => p.wantsOfflineMsg === true),
    };
  }

  #helpLines(): string[] {
    return [...this.#commands.values()].flatMap((c) => c.help);
  }

  #delegateList(): string[] {
    const names = new Set(this.#config.delegate);
    for (const [name, c] of this.#commands) if (c.delegate) names.add(name);
    return [...names];
  }

  #wantMessages(): boolean {
    return this.#config.emitMessages || this.listenerCount('message') > 0;
  }

  #wantLifecycle(): boolean {
    if (LOGS_CONNECTIONS.has(this.#config.logLevel)) return true;
    for (const e of LIFECYCLE_EVENTS) if (this.listenerCount(e) > 0) return true;
    return false;
  }

  #syncLifecycle(adding = false): void {
    const want = adding || this.#wantLifecycle();
    if (this.#engine && want !== this.#lifecycleOn) this.#setPolicy({ lifecycleEvents: want });
  }

  #syncMessages(adding = false): void {
    const want = adding || this.#wantMessages();
    if (this.#engine && want !== this.#messagesOn) this.#setPolicy({ emitMessages: want });
  }

  /** Sends policy to the engine when it runs; otherwise it is picked up at listen(). */
  #setPolicy(policy: Record<string, unknown>): void {
    if (!this.#engine) return;
    if ('emitMessages' in policy) this.#messagesOn = policy.emitMessages === true;
    if ('lifecycleEvents' in policy) this.#lifecycleOn = policy.lifecycleEvents === true;
    this.#engine.setPolicy(policy);
  }

  #requireEngine(): NativeEngine {
    if (!this.#engine || this.#state !== 'listening') {
      throw new EpchatError(ErrorCodes.NOT_LISTENING, `server is not listening (${this.#state})`);
    }
    return this.#engine;
  }

  #post(command: EngineCommand): void {
    this.#requireEngine().post(command);
  }

  /** Closes a plugin (errors logged), then removes the commands it registered, so the next listen()
   *  installs it afresh. */
  async #closePlugin(plugin: Plugin, opts: { discard?: boolean } = {}): Promise<void> {
    await plugin.close(opts).catch((err: unknown) => this.log.error({ err, plugin: plugin.name }, 'closing a plugin failed'));
    for (const remove of this.#pluginCommands.get(plugin)?.splice(0) ?? []) remove();
    this.#pluginCommands.delete(plugin);
  }

  /** What a plugin sees of this server (lib/plugin.ts). */
  #hostFor(plugin: Plugin, storage: Storage | null): PluginHost {
    const server = this;
    const commands: Array<() => void> = [];
    this.#pluginCommands.set(plugin, commands);
    return {
      get config() { return server.#config; },
      get log() { return server.log; },
      get storage() {
        if (!storage) throw new EpchatError(ErrorCodes.STORAGE, 'no storage: turn `accounts` on or pass deps.storage');
        return storage;
      },
      get listening() { return server.listening; },
      registerCommand: (name, handler, opts) => {
        const remove = this.registerCommand(name, handler, opts);
        commands.push(remove);
        return remove;
      },
      notify: (id, ...lines) => {
        const checked = checkLines('notify(lines)', lines);
        if (!this.listening) return;
        try {
          this.#post({ type: 'reply', id, lines: checked });
        } catch (err) {
          if ((err as { code?: unknown } | null)?.code === ErrorCodes.INVALID_ARGUMENT) throw err;
          this.log.debug({ err, id }, 'notify after close: dropped');
        }
      },
      deliver: (nicks, lines) => this.deliver(nicks, lines),
      protectNicks: (add, remove) => this.protectNicks(add, remove),
    };
  }

  #request(command: RequestOf<RequestCommand>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const engine = this.#requireEngine();
      const req = this.#nextReq;
      this.#nextReq = req >= MAX_REQ ? 1 : req + 1;
      this.#pending.set(req, { resolve, reject });
      try {
        engine.post({ ...command, req } as EngineCommand);
      } catch (err) {
        this.#pending.delete(req);
        throw err;
      }
    });
  }

  #expectClose(): Promise<EngineStats> {
    this.#state = 'closing';
    this.#closing = new Promise((resolve) => { this.#resolveClosing = resolve; });
    return this.#closing;
  }

  /** One batch from the engine thread, dispatched in order. A listener that throws does not stop the
   *  batch; the first error is rethrown afterwards, outside the native callback. */
  #onEvents(events: EngineEvent[]): void {
    let failure: { error: unknown } | null = null;
    for (const ev of events) {
      try {
        this.#dispatch(ev);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) {
      const { error } = failure;
      process.nextTick(() => { throw error; });
    }
  }

  #dispatch(ev: EngineEvent): void {
    switch (ev.type) {
      case 'connect':
        this.log.debug({ id: ev.id, address: ev.address }, 'connect');
        for (const p of this.#active) p.onConnect?.(ev);
        this.emit('connect', ev);
        break;
      case 'register':
        this.log.info({ id: ev.id, nick: ev.nick }, 'register');
        this.emit('register', ev);
        break;
      case 'nick':
        this.log.debug({ id: ev.id, old: ev.old, nick: ev.nick }, 'nick');
        for (const p of this.#active) p.onNick?.(ev);
        this.emit('nick', ev);
        break;
      case 'join':
        this.emit('join', ev);
        break;
      case 'leave':
        this.emit('leave', ev);
        break;
      case 'message':
        this.emit('message', ev);
        break;
      case 'disconnect':
        if (ev.nick === null) this.log.debug({ id: ev.id, reason: ev.reason }, 'disconnect');
        else this.log.info({ id: ev.id, nick: ev.nick, reason: ev.reason }, 'disconnect');
        for (const p of this.#active) p.onDisconnect?.(ev);
        this.emit('disconnect', ev);
        break;
      case 'timeout':
        this.log.debug({ id: ev.id, nick: ev.nick, kind: ev.kind }, 'timeout');
        this.emit('timeout', ev);
        break;
      case 'command':
        this.#onCommand(ev);
        break;
      case 'console':
        if (ev.ready) this.emit('consoleReady');
        else this.emit('console', ev.text);
        break;
      case 'signal':
        this.log.debug({ signal: ev.signal }, `${ev.signal} received`);
        // With handleSignals the engine starts the graceful shutdown itself on SIGINT/SIGTERM.
        if (ev.signal !== 'SIGHUP' && this.#config.handleSignals && this.#state === 'listening') this.#expectClose();
        this.emit('signal', ev.signal);
        break;
      case 'error': {
        const err = new EpchatError(ev.code, ev.message);
        // EPCHAT_FD_LIMIT and EPCHAT_WEB_ROOT are advice at start (the server runs, with fewer
        // clients than asked for, or without the web client's files).
        if (ev.code === 'EPCHAT_FD_LIMIT' || ev.code === 'EPCHAT_WEB_ROOT') this.log.warn({ code: ev.code }, ev.message);
        else this.log.error({ code: ev.code }, ev.message);
        if (this.listenerCount('error') > 0) this.emit('error', err);
        break;
      }
      case 'reply': {
        const pending = this.#pending.get(ev.req);
        if (!pending) { this.log.warn({ req: ev.req }, 'reply to an unknown request'); break; }
        this.#pending.delete(ev.req);
        pending.resolve(ev.data);
        break;
      }
      case 'closed':
        this.#onClosed(ev.stats);
        break;
      default:
        this.log.warn({ event: (ev as { type?: unknown }).type }, 'unknown engine event');
    }
  }

  #onClosed(stats: EngineStats): void {
    this.#engine = null;
    this.#address = null;
    this.#ircAddress = null;
    this.#tlsAddress = null;
    this.#ircTlsAddress = null;
    this.#httpAddress = null;
    this.#httpsAddress = null;
    this.#state = 'closed';
    this.#finalStats = stats;
    this.#messagesOn = false;
    for (const p of this.#pending.values()) p.reject(new EpchatError(ErrorCodes.CLOSED, 'the server closed before answering'));
    this.#pending.clear();
    const finish = () => {
      if (this.#resolveClosing) {
        this.#resolveClosing(stats);
        this.#resolveClosing = null;
      } else {
        this.#closing = Promise.resolve(stats);
      }
      this.log.debug({ stats }, 'engine closed');
      this.emit('close', stats);
    };
    // Plugins (accounts: commands in flight finish, their replies dropped, then the storage closes),
    // last installed first, before close() resolves.
    const plugins = this.#active.reverse();
    this.#active = [];
    this.#community = null;
    if (plugins.length === 0) return finish();
    if (!this.#resolveClosing) this.#expectClose();
    this.#state = 'closed';
    void plugins.reduce((done, p) => done.then(() => this.#closePlugin(p)), Promise.resolve())
      .finally(finish);
  }

  /** A delegated command. Finished (engine.finish) once its handler settles, or at once when only
   *  `command` listeners hear it (they are synchronous: one that answers later should be a handler), so
   *  the client's next line runs after this one's replies. */
  #onCommand(ev: EventOf<'command'>): void {
    const engine = this.#engine;
    const live = (what: string, fn: (e: NativeEngine) => void) => {
      try {
        if (engine && this.#engine === engine) return fn(engine);
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code === ErrorCodes.INVALID_ARGUMENT) throw err;
        // The engine stopped in the batch that brought this command (its `closed` event follows).
        this.log.debug({ err, id: ev.id, command: ev.name }, `${what} while the server closed: dropped`);
        return;
      }
      this.log.debug({ id: ev.id, command: ev.name }, `${what} after the server closed: dropped`);
    };
    let finished = false;
    let closing = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      live('finish', (e) => e.post({ type: 'finish', id: ev.id, seq: ev.seq, close: closing }));
    };
    const ctx: CommandContext = {
      id: ev.id,
      nick: ev.nick,
      name: ev.name,
      args: ev.args,
      address: ev.address,
      reply: (...lines) => {
        const checked = checkLines('reply(lines)', lines);
        live('reply', (e) => e.post({ type: 'reply', id: ev.id, lines: checked }));
      },
      login: (nick) => { checkText('login(nick)', nick); live('login', (e) => e.post({ type: 'login', id: ev.id, nick })); },
      prompt: () => live('prompt', (e) => e.post({ type: 'prompt', id: ev.id })),
      close: () => {
        if (closing) return;
        closing = true;
        if (finished) live('close', (e) => e.post({ type: 'finish', id: ev.id, seq: ev.seq, close: true }));
      },
    };
    // Never log args: `password` and account commands carry secrets.
    this.log.debug({ id: ev.id, nick: ev.nick, command: ev.name }, 'delegated command');
    const entry = this.#commands.get(ev.name);
    const listened = this.listenerCount('command') > 0;
    try {
      if (entry) this.#runHandler(entry.handler, ctx, finish);
      else if (!listened) ctx.reply(error('UNKNOWN_COMMAND', `no handler for /${ev.name}`));
      if (listened) this.emit('command', ctx);
    } finally {
      if (!entry) finish();
    }
  }

  /** Runs a handler; `done` once it has returned or its promise has settled, after any error reply. */
  #runHandler(handler: CommandHandler, ctx: CommandContext, done: () => void): void {
    const fail = (err: unknown) => {
      this.log.error({ err, id: ctx.id, command: ctx.name }, `command /${ctx.name} failed`);
      ctx.reply(error('INTERNAL_ERROR', `/${ctx.name} failed`));
    };
    let r: void | Promise<void>;
    try {
      r = handler(ctx);
    } catch (err) {
      fail(err);
      return done();
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(done, (err: unknown) => { fail(err); done(); });
    } else {
      done();
    }
  }
}

/** A storage failure at start as EPCHAT_STORAGE naming the place (coded errors of ours pass as they are). */
function storageError(err: unknown, location: string): unknown {
  if (err instanceof EpchatError && err.code.startsWith('EPCHAT_')) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return new EpchatError(ErrorCodes.STORAGE, `storage ${location}: ${detail}${typeof code === 'string' && !detail.includes(code) ? ` (${code})` : ''}`, { cause: err });
}

/** A chat server configured from `options` over the defaults (no environment, no file: see
 *  resolveConfig for those). Throws EPCHAT_CONFIG_INVALID on a bad option. */
export function createServer(options: Partial<Config> = {}, deps: ServerDeps = {}): ChatServer {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'createServer(options) must be an object of settings');
  }
  if (deps === null || typeof deps !== 'object') throw new EpchatError(ErrorCodes.INVALID_ARGUMENT, 'createServer(deps) must be an object');
  return new ChatServer(configFromOptions(options), deps);
}
