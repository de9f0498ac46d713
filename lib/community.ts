// Accounts, offline mailboxes and groups on top of the engine: a plugin (lib/plugin.ts). The engine owns
// the chat; this owns what must outlive a connection. It sees the server only through its PluginHost:
// delegated commands (with `wantsOfflineMsg` for `/msg` to someone offline, and `auth` / `password` for
// protected nicks), the nick / disconnect events of the clients it takes part in, and it answers with
// structured replies (notices, errors, lists), login / prompt / close, deliver and protectNicks.
//
// A connection's delegated commands run one at a time, in the order typed, even though hashing and
// storage are asynchronous (the engine holds the client's next line until the command is finished).
// Passwords (the `password` step, and the arguments of /register, /login, /passwd, /unregister) are
// never logged, and never shown: a refused password step never lets the next line become a nickname
// (a wrong password asks again; LOGIN_THROTTLED ends the connection).
import type { ClientId, HostLine } from './native.js';
import { error, notice, type CommandContext, type Plugin, type PluginHost } from './plugin.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Storage } from './storage/storage.js';
import {
  LoginThrottle, dummyHash, hashPassword, passwordProblem, verifyPassword, type ScryptParams,
} from './accounts.js';
import { addressKey } from './address.js';
import { HashQueue, HashRefused, isHashRefused } from './hashqueue.js';
import { Mailbox } from './mailbox.js';
import { Groups } from './groups.js';
import { plural, splitWord, type Hub } from './hub.js';

const NICK = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const passwordPrompt = (nick: string) => notice(`${nick} is a registered account; password:`);

export class Community implements Hub, Plugin {
  readonly name = 'accounts';
  /** `/msg` to an offline nick goes to its mailbox, `/msg @group` to the group. */
  readonly wantsOfflineMsg = true;
  readonly storage: Storage;
  readonly mailbox: Mailbox;
  readonly groups: Groups;
  #host: PluginHost | null = null;
  /** connection → account key, while logged in. */
  #sessions = new Map<ClientId, string>();
  /** connection → nick chosen at the prompt, between `auth` and `password`. */
  #pendingAuth = new Map<ClientId, string>();
  /** connection → tail of its command chain. */
  #queues = new Map<ClientId, Promise<void>>();
  #throttle = new LoginThrottle(0, 0);
  /** Registrations per address (`/register`). */
  #registrations = new LoginThrottle(0, 0);
  /** Every password hash of the server (logins, registrations, password changes), bounded. */
  #hashes: HashQueue;
  /** Connections that went away with commands still in their chain (their hashes are dropped). */
  #gone = new Set<ClientId>();
  #sweeper: NodeJS.Timeout | null = null;
  #dummy: Promise<string> | null = null;
  #unhook: Array<() => void> = [];
  #open = false;
  /** Account names read at open(), protected at started(). */
  #accounts: string[] = [];

  constructor(storage: Storage) {
    this.storage = storage;
    this.#hashes = new HashQueue({
      concurrency: () => this.config.hashConcurrency,
      maxQueued: () => this.config.hashQueueMax,
    });
    this.mailbox = new Mailbox(this);
    this.groups = new Groups(this);
  }

  #server(): PluginHost {
    if (!this.#host) throw new Error('the accounts plugin is not installed');
    return this.#host;
  }

  get config(): Config { return this.#server().config; }

  get log(): Logger { return this.#server().log; }

  now(): number { return Date.now(); }

  deliver(nicks: readonly string[], lines?: HostLine | readonly HostLine[]): Promise<string[]> { return this.#server().deliver(nicks, lines); }

  accountOf(id: ClientId): string | undefined { return this.#sessions.get(id); }

  /** Opens the storage and installs the commands (before the engine listens, so the delegate list is
   *  part of the engine's first options). */
  async install(host: PluginHost): Promise<void> {
    this.#host = host;
    const c = host.config;
    this.#throttle = new LoginThrottle(c.loginMaxFailures, c.loginWindowMs);
    this.#registrations = new LoginThrottle(c.registerMaxPerAddress, c.registerWindowMs);
    await this.storage.open();
    this.#open = true;
    this.#accounts = await this.storage.accountNames();
    const s = host;
    const cmd = (name: string, fn: (ctx: CommandContext) => Promise<void>, help: string[], delegate = true) =>
      this.#unhook.push(s.registerCommand(name, (ctx) => this.#serial(ctx.id, () => fn(ctx).catch((e: unknown) => this.#refused(ctx, e))), { delegate, help }));
    cmd('register', (c) => this.#register(c), ['/register NAME PASSWORD - create an account for a nickname and log in']);
    cmd('login', (c) => this.#login(c), ['/login NAME PASSWORD - log in to your account (also at the prompt)']);
    cmd('passwd', (c) => this.#passwd(c), ['/passwd OLD NEW - change your password']);
    cmd('unregister', (c) => this.#unregister(c), ['/unregister PASSWORD - delete your account and its mail']);
    cmd('auth', (c) => this.#auth(c), [], false);
    cmd('password', (c) => this.#password(c), [], false);
    cmd('unread', (c) => this.#needLogin(c, (name) => this.mailbox.unread(c, name)), ['/unread - count the messages waiting for you']);
    cmd('read', (c) => this.#needLogin(c, (name) => this.mailbox.read(c, name)), ['/read - show the messages waiting for you, then mark them read']);
    cmd('group', (c) => this.#needLogin(c, (name) => this.groups.command(c, name)), [
      '/group create NAME USER... - create a group (you are a member)',
      '/group add NAME USER - add an account to a group you are in',
      '/group leave NAME - leave a group',
      '/group list - your groups',
      '/group members NAME - who is in a group',
      '/msg @GROUP TEXT - message every member (offline ones get it in their mailbox)',
    ]);
    cmd('msg', (c) => this.#msg(c), [], false);
  }

  /** A logged-in connection changed its nickname (the engine reports these even with lifecycle
   *  events off). The account is its nickname: renamed away from it, the connection is a guest again. */
  onNick(ev: { id: ClientId; nick: string }): void {
    const account = this.#sessions.get(ev.id);
    if (account !== undefined && account !== ev.nick.toLowerCase()) {
      this.#sessions.delete(ev.id);
      this.#server().notify(ev.id, notice(`You are no longer logged in (your nickname is not ${account} any more)`));
    }
  }

  /** A connection the community took part in ended. */
  onDisconnect(ev: { id: ClientId }): void {
    this.#sessions.delete(ev.id);
    this.#pendingAuth.delete(ev.id);
    this.#throttle.forget(`c:${ev.id}`);
    // Its waiting hashes never run, nor do the ones its queued commands would start.
    this.#hashes.abandon(ev.id);
    const chain = this.#queues.get(ev.id);
    if (chain) {
      this.#gone.add(ev.id);
      void chain.then(() => this.#gone.delete(ev.id));
    }
  }

  /** Account nicknames, protected by the engine from its first connection on. */
  protectedAtStart(): string[] {
    return this.#accounts.map((n) => n.toLowerCase());
  }

  /** The engine is listening (with every account's nickname protected from the start). */
  started(): number {
    const names = this.#accounts;
    this.#accounts = [];
    this.#sweeper = setInterval(() => {
      this.#throttle.sweep();
      this.#registrations.sweep();
    }, Math.max(1000, Math.min(this.config.loginWindowMs, this.config.registerWindowMs))).unref();
    this.log.info({ storage: this.storage.location, accounts: names.length }, `accounts: ${names.length} in ${this.storage.location}`);
    return names.length;
  }

  /** The engine has stopped: drops the hashes still waiting, waits for commands in flight (at most
   *  `hashConcurrency` hashes are still running), closes the storage. With `discard` (a failed start),
   *  the storage also removes what its open() created, if it can. */
  async close(opts: { discard?: boolean } = {}): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
    this.#hashes.close();
    for (const u of this.#unhook.splice(0)) u();
    await Promise.allSettled([...this.#queues.values()]);
    this.#sessions.clear();
    this.#pendingAuth.clear();
    this.#gone.clear();
    const wasOpen = this.#open;
    this.#open = false;
    // A failed start discards even a storage whose open() failed half-way (a directory it created).
    if (opts.discard && this.storage.discard) await this.storage.discard();
    else if (wasOpen) await this.storage.close();
  }

  // -------------------------------------------------------------------------------------------------

  /** Runs `fn` after the connection's previous commands; the returned promise settles with fn's. */
  #serial(id: ClientId, fn: () => Promise<void>): Promise<void> {
    const prev = this.#queues.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => { /* reported by the caller */ });
    this.#queues.set(id, tail);
    void tail.then(() => { if (this.#queues.get(id) === tail) this.#queues.delete(id); });
    return run;
  }

  /** Runs a password hash for connection `id` through the server-wide queue. */
  #hash<T>(id: ClientId, job: () => Promise<T>): Promise<T> {
    if (this.#gone.has(id)) return Promise.reject(new HashRefused('abandoned'));
    return this.#hashes.run(id, job);
  }

  /** A command that stopped because its hash was refused: busy → `!! BUSY` (and the prompt again
   *  before registration); a client gone or a server closing → nothing to say. Other errors go on. */
  #refused(ctx: CommandContext, err: unknown): void {
    if (!isHashRefused(err)) throw err;
    if (err.reason === 'busy') {
      this.log.warn({ id: ctx.id, command: ctx.name }, 'password hashing queue full: BUSY');
      const busy = error('BUSY', 'the server is busy checking passwords; try again in a few seconds');
      // In the password step the next line is a password again, never a nickname (docs/protocol.md).
      const nick = ctx.name === 'password' ? this.#pendingAuth.get(ctx.id) : undefined;
      if (nick !== undefined) ctx.reply(busy, passwordPrompt(nick));
      else this.#refuse(ctx, busy);
    }
  }

  #scrypt(): ScryptParams {
    const c = this.config;
    return { N: c.scryptN, r: c.scryptR, p: c.scryptP };
  }

  #syncThrottle(): void {
    this.#throttle.maxFailures = this.config.loginMaxFailures;
    this.#throttle.windowMs = this.config.loginWindowMs;
  }

  /** A registered user (`ctx.nick`) logged in to an account; else answers and returns. */
  async #needLogin(ctx: CommandContext, fn: (account: string) => Promise<void>): Promise<void> {
    if (ctx.nick === null) return this.#notRegistered(ctx);
    const account = this.#sessions.get(ctx.id);
    if (account === undefined) {
      ctx.reply(error('LOGIN_REQUIRED', `/${ctx.name} needs an account: /register NAME PASSWORD or /login NAME PASSWORD`));
      return;
    }
    await fn(account);
  }

  #notRegistered(ctx: CommandContext): void {
    ctx.reply(error('NOT_REGISTERED', 'choose a nickname first (or /login NAME PASSWORD, /register NAME PASSWORD)'));
    ctx.prompt();
  }

  /** Answers an error; at the prompt, shows the prompt again. */
  #refuse(ctx: CommandContext, line: HostLine): void {
    ctx.reply(line);
    if (ctx.nick === null) ctx.prompt();
  }

  /** Null if `name` can be an account's nickname, else the error line. */
  #nameError(name: string): HostLine | null {
    const c = this.config;
    if (!NICK.test(name) || name.length > c.nickMaxLength) {
      return error('NICK_INVALID', `nickname must be 1-${c.nickMaxLength} characters of A-Z a-z 0-9 _ - and start with a letter or _`);
    }
    if (c.reservedNicks.includes(name.toLowerCase())) return error('NICK_RESERVED', `nickname ${name} is reserved`);
    return null;
  }

  /** Checks a password against an account under the throttle. 'ok', 'bad' or the throttle's wait. */
  async #checkPassword(id: ClientId, name: string, password: string): Promise<'ok' | 'bad' | number> {
    this.#syncThrottle();
    const keys = [`c:${id}`, `a:${name.toLowerCase()}`];
    const wait = this.#throttle.check(keys);
    if (wait > 0) return wait;
    const token = this.#throttle.charge(keys);
    const account = await this.storage.getAccount(name);
    // Unknown accounts cost the same time as known ones.
    const hash = account?.password ?? await (this.#dummy ??= dummyHash(this.#scrypt()));
    let ok: boolean;
    try {
      ok = await this.#hash(id, () => verifyPassword(password, hash)) && account !== null;
    } catch (err) {
      // Not checked at all (busy): not a failed attempt. Abandoned ones stay charged.
      if (isHashRefused(err, 'busy')) this.#throttle.refund(token);
      throw err;
    }
    if (ok) {
      this.#throttle.refund(token);
      return 'ok';
    }
    this.log.warn({ id, account: name.toLowerCase() }, 'failed login');
    return 'bad';
  }

  #throttled(waitMs: number): HostLine {
    return error('LOGIN_THROTTLED', `too many failed logins; try again in ${Math.ceil(waitMs / 1000)} s`);
  }

  /** Logs connection `id` in to `name` (its stored spelling) and tells it what is waiting. */
  async #complete(ctx: CommandContext, name: string, how: string): Promise<void> {
    ctx.login(name);
    this.#sessions.set(ctx.id, name.toLowerCase());
    const unread = await this.storage.unreadCount(name);
    ctx.reply(notice(`Logged in as ${name}: ${plural(unread, 'unread message')}${unread > 0 ? ' (/read)' : ''}`));
    this.log.info({ id: ctx.id, account: name }, how);
  }

  // ------------------------------------------------------------------------------------- commands

  async #register(ctx: CommandContext): Promise<void> {
    const [name, rest] = splitWord(ctx.args);
    const [password, extra] = splitWord(rest);
    if (!name || !password || extra.trim()) return this.#refuse(ctx, error('USAGE', '/register NAME PASSWORD'));
    const nameErr = this.#nameError(name);
    if (nameErr) return this.#refuse(ctx, nameErr);
    const current = this.#sessions.get(ctx.id);
    if (current !== undefined) return this.#refuse(ctx, error('ALREADY_LOGGED_IN', `you are logged in as ${current}`));
    const pwErr = passwordProblem(password, this.config.passwordMinLength);
    if (pwErr) return this.#refuse(ctx, error('PASSWORD_INVALID', pwErr));
    if (await this.storage.getAccount(name)) return this.#refuse(ctx, error('ACCOUNT_EXISTS', `${name} is already registered; /login ${name} PASSWORD`));
    const mine = ctx.nick?.toLowerCase() === name.toLowerCase();
    if (!mine && (await this.deliver([name])).length === 0) return this.#refuse(ctx, error('NICK_TAKEN', `nickname ${name} is taken`));
    // Registrations per address: each one that gets this far costs a hash and may create an account.
    const from = [`r:${addressKey(ctx.address ?? 'unknown')}`];
    this.#registrations.maxFailures = this.config.registerMaxPerAddress;
    this.#registrations.windowMs = this.config.registerWindowMs;
    const wait = this.#registrations.check(from);
    if (wait > 0) {
      return this.#refuse(ctx, error('REGISTER_THROTTLED', `too many registrations from your address; try again in ${Math.ceil(wait / 1000)} s`));
    }
    const charge = this.#registrations.charge(from);
    let hash: string;
    try {
      hash = await this.#hash(ctx.id, () => hashPassword(password, this.#scrypt()));
    } catch (err) {
      if (isHashRefused(err, 'busy')) this.#registrations.refund(charge);
      throw err;
    }
    if (!await this.storage.createAccount(name, hash, this.now())) {
      return this.#refuse(ctx, error('ACCOUNT_EXISTS', `${name} is already registered; /login ${name} PASSWORD`));
    }
    this.#server().protectNicks([name]);
    ctx.reply(notice(`Account ${name} registered`));
    await this.#complete(ctx, name, 'account registered');
  }

  async #login(ctx: CommandContext): Promise<void> {
    const [name, rest] = splitWord(ctx.args);
    const [password, extra] = splitWord(rest);
    if (!name || !password || extra.trim()) return this.#refuse(ctx, error('USAGE', '/login NAME PASSWORD'));
    if (this.#sessions.get(ctx.id) === name.toLowerCase()) {
      return this.#refuse(ctx, error('ALREADY_LOGGED_IN', `you are logged in as ${name}`));
    }
    const r = await this.#checkPassword(ctx.id, name, password);
    if (typeof r === 'number') return this.#refuse(ctx, this.#throttled(r));
    if (r === 'bad') return this.#refuse(ctx, error('AUTH_FAILED', 'wrong name or password'));
    const account = await this.storage.getAccount(name);
    if (!account) return this.#refuse(ctx, error('AUTH_FAILED', 'wrong name or password'));
    await this.#complete(ctx, account.name, 'login');
  }

  /** A protected nick typed at the prompt: ask for its password. Throttled, the connection ends: a
   *  script's next line is the password, which must not become a nickname at the prompt. */
  async #auth(ctx: CommandContext): Promise<void> {
    const nick = ctx.args.trim();
    this.#syncThrottle();
    const wait = this.#throttle.check([`c:${ctx.id}`, `a:${nick.toLowerCase()}`]);
    if (wait > 0) {
      ctx.reply(this.#throttled(wait));
      ctx.close();
      return;
    }
    this.#pendingAuth.set(ctx.id, nick);
    ctx.reply(passwordPrompt(nick));
  }

  /** A line in the password step: the password (never logged). Wrong, the step asks again (so the next
   *  line is a password too, never a nickname; `/quit` leaves); throttled, the connection ends. */
  async #password(ctx: CommandContext): Promise<void> {
    const nick = this.#pendingAuth.get(ctx.id);
    if (nick === undefined) return ctx.prompt();
    const r = await this.#checkPassword(ctx.id, nick, ctx.args.trim());
    if (r === 'ok') {
      const account = await this.storage.getAccount(nick);
      if (account) {
        this.#pendingAuth.delete(ctx.id);
        return this.#complete(ctx, account.name, 'login');
      }
    }
    if (typeof r === 'number') {
      this.#pendingAuth.delete(ctx.id);
      ctx.reply(this.#throttled(r));
      ctx.close();
      return;
    }
    ctx.reply(error('AUTH_FAILED', 'wrong password; try again, or /quit'), passwordPrompt(nick));
  }

  async #passwd(ctx: CommandContext): Promise<void> {
    await this.#needLogin(ctx, async (account) => {
      const [old, rest] = splitWord(ctx.args);
      const [next, extra] = splitWord(rest);
      if (!old || !next || extra.trim()) return ctx.reply(error('USAGE', '/passwd OLD NEW'));
      const pwErr = passwordProblem(next, this.config.passwordMinLength);
      if (pwErr) return ctx.reply(error('PASSWORD_INVALID', pwErr));
      const r = await this.#checkPassword(ctx.id, account, old);
      if (typeof r === 'number') return ctx.reply(this.#throttled(r));
      if (r === 'bad') return ctx.reply(error('AUTH_FAILED', 'wrong password'));
      await this.storage.setPassword(account, await this.#hash(ctx.id, () => hashPassword(next, this.#scrypt())));
      this.log.info({ id: ctx.id, account }, 'password changed');
      ctx.reply(notice('Password changed'));
    });
  }

  async #unregister(ctx: CommandContext): Promise<void> {
    await this.#needLogin(ctx, async (account) => {
      const [password, extra] = splitWord(ctx.args);
      if (!password || extra.trim()) return ctx.reply(error('USAGE', '/unregister PASSWORD'));
      const r = await this.#checkPassword(ctx.id, account, password);
      if (typeof r === 'number') return ctx.reply(this.#throttled(r));
      if (r === 'bad') return ctx.reply(error('AUTH_FAILED', 'wrong password'));
      await this.storage.deleteAccount(account);
      this.#server().protectNicks([], [account]);
      for (const [id, a] of this.#sessions) if (a === account) this.#sessions.delete(id);
      this.log.info({ id: ctx.id, account }, 'account deleted');
      ctx.reply(notice(`Account ${account} deleted; its mailbox and group memberships are gone`));
    });
  }

  /** `/msg NICK TEXT` to someone the engine did not find online, or `/msg @GROUP TEXT`. */
  async #msg(ctx: CommandContext): Promise<void> {
    if (ctx.nick === null) return this.#notRegistered(ctx);
    const [to, text] = splitWord(ctx.args);
    if (to.startsWith('@')) return this.#needLogin(ctx, (account) => this.groups.send(ctx, account, to.slice(1), text));
    await this.mailbox.msg(ctx, to, text);
  }
}
