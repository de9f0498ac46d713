// Test helpers for the epchat suite: a line client over node:net, a server fixture that cleans up
// after itself, a CLI process fixture, and small waiting utilities. Every wait has a timeout, so a
// failing test fails in seconds and never hangs the run.
import net from 'node:net';
import tls from 'node:tls';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createServer } from '../lib/index.js';
import type { EngineStats } from '../lib/native.js';

export type { EngineStats };
export type ServerOptions = NonNullable<Parameters<typeof createServer>[0]>;
export type ChatServer = ReturnType<typeof createServer>;

/** Repository root (this file runs from dist/test/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'epchat.js');

export const DEFAULT_TIMEOUT = 3000;

// ---------------------------------------------------------------------------------------------
// Global registry: everything a test opens is closed even when the test fails.

const liveClients = new Set<LineClient>();
const liveChildren = new Set<ChildProcessWithoutNullStreams>();
const liveServers = new Set<ChatServer>();

/** Destroys every client, kills every child, closes every server still open. Never throws. */
export async function cleanupAll(): Promise<void> {
  for (const c of liveClients) c.destroy();
  liveClients.clear();
  for (const p of liveChildren) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  liveChildren.clear();
  for (const s of [...liveServers]) {
    try { await withTimeout(s.close(), 5000, 'server.close() during cleanup'); } catch { /* best effort */ }
    liveServers.delete(s);
  }
}

/** What is still open (a leak check for the end of a file). */
export function openResources(): { clients: number; children: number; servers: number } {
  return { clients: liveClients.size, children: liveChildren.size, servers: liveServers.size };
}

// A last resort against a hung run: if the process is still alive this long after the helpers were
// loaded, something leaked or hung; fail loudly instead of hanging CI. unref(): never keeps us alive.
const WATCHDOG_MS = Number(process.env.EPCHAT_TEST_WATCHDOG_MS ?? 170_000);
setTimeout(() => {
  process.stderr.write(`\n[test watchdog] still running after ${WATCHDOG_MS} ms: open ${JSON.stringify(openResources())}; exiting 1\n`);
  process.exit(1);
}, WATCHDOG_MS).unref();

// ---------------------------------------------------------------------------------------------
// Small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Waits for `event` on `emitter` whose first argument satisfies `pred`. */
export function waitEvent<T = any>(emitter: EventEmitter, event: string,
  pred: (arg: T) => boolean = () => true, ms = DEFAULT_TIMEOUT): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const on = (arg: T) => {
      let ok = false;
      try { ok = pred(arg); } catch (e) { finish(); reject(e); return; }
      if (ok) { finish(); resolve(arg); }
    };
    const timer = setTimeout(() => { finish(); reject(new Error(`timeout after ${ms} ms waiting for '${event}' event`)); }, ms);
    const finish = () => { clearTimeout(timer); emitter.off(event, on); };
    emitter.on(event, on);
  });
}

/** Polls `cond` every few ms until it is true (for state that is only observable by asking, like
 *  stats()); fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = DEFAULT_TIMEOUT, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Waits (briefly) until the server's counters equal `want`: stats are read from another thread, so a
 *  client can see the effect of an event a moment before the counter moves. Fails with the last
 *  values seen. */
export async function expectStats(server: ChatServer, want: Partial<EngineStats>, ms = 1000): Promise<EngineStats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = server.stats();
    const off = (Object.keys(want) as (keyof EngineStats)[]).filter((k) => s[k] !== want[k]);
    if (off.length === 0) return s;
    if (Date.now() > deadline) {
      throw new Error(`stats after ${ms} ms: ${off.map((k) => `${k} = ${s[k]}, expected ${want[k]}`).join('; ')}`);
    }
    await sleep(5);
  }
}

export type Matcher = string | RegExp | ((line: string) => boolean);

function matches(m: Matcher, line: string): boolean {
  if (typeof m === 'string') return line === m;
  if (m instanceof RegExp) return m.test(line);
  return m(line);
}

function describe(m: Matcher): string {
  if (typeof m === 'string') return JSON.stringify(m);
  if (m instanceof RegExp) return m.toString();
  return m.name ? `predicate ${m.name}` : 'predicate';
}

/** Matches an error line `!! CODE …`. */
export function err(code: string): RegExp {
  return new RegExp(`^!! ${code}(?: |$)`);
}

// ---------------------------------------------------------------------------------------------
// Line client

export class LineClient {
  readonly socket: net.Socket;
  /** Every line received, in order (without the `\n`). */
  readonly lines: string[] = [];
  /** Lines passed over by expect() while looking for a match. */
  readonly skipped: string[] = [];
  /** Index in `lines` of the next unread line. */
  pos = 0;
  isClosed = false;
  /** The connection closed with bytes after the last newline (pushed as a last line). */
  partialTail = false;
  error: Error | undefined;
  /** Raw chunk count and bytes received (for the slow-reader and load tests). */
  bytesIn = 0;
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void)[] = [];
  private readonly closedP: Promise<void>;
  private readonly connectedP: Promise<void>;
  /** Called for every line as it arrives (load tests count without awaiting each line). */
  onLine: ((line: string) => void) | undefined;

  /** With tlsOptions, a node:tls client (connected once its handshake completed). */
  constructor(readonly port: number, readonly name = `client@${port}`, host = '127.0.0.1', tlsOptions?: tls.ConnectionOptions) {
    this.socket = tlsOptions ? tls.connect({ port, host, ...tlsOptions }) : net.connect({ port, host });
    this.socket.setNoDelay(true);
    liveClients.add(this);
    this.connectedP = new Promise<void>((resolve, reject) => {
      this.socket.once(tlsOptions ? 'secureConnect' : 'connect', () => resolve());
      this.socket.once('error', (e) => reject(e));
    });
    this.connectedP.catch(() => { /* reported via closed()/next() */ });
    this.closedP = new Promise<void>((resolve) => {
      this.socket.once('close', () => {
        this.isClosed = true;
        liveClients.delete(this);
        if (this.buf.length) { // a last line without a newline: keep it visible for assertions
          this.partialTail = true;
          this.push(this.buf.toString('utf8'));
          this.buf = Buffer.alloc(0);
        }
        this.notify();
        resolve();
      });
    });
    this.socket.on('error', (e) => { this.error = e; });
    this.socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      let start = 0;
      for (;;) {
        const nl = this.buf.indexOf(0x0a, start);
        if (nl < 0) break;
        this.push(this.buf.toString('utf8', start, nl));
        start = nl + 1;
      }
      this.buf = start ? this.buf.subarray(start) : this.buf;
      this.notify();
    });
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.onLine) this.onLine(line);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  private waitChange(): Promise<void> {
    return new Promise((r) => this.wake.push(r));
  }

  connected(ms = DEFAULT_TIMEOUT): Promise<void> {
    return withTimeout(this.connectedP, ms, `${this.name} connect`);
  }

  /** Unread lines so far (does not consume them). */
  get pending(): string[] {
    return this.lines.slice(this.pos);
  }

  send(line: string): void {
    this.socket.write(line + '\n');
  }

  sendRaw(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (e) => (e ? reject(e) : resolve()));
    });
  }

  /** Sends `data` in pieces of `size` bytes, each its own write (and, with Nagle off, its own TCP
   *  segment), yielding to the event loop between pieces. */
  async sendChunks(data: string | Uint8Array, size: number): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    for (let i = 0; i < bytes.length; i += size) {
      await this.sendRaw(bytes.subarray(i, i + size));
      await new Promise((r) => setImmediate(r));
    }
  }

  private context(): string {
    const recent = this.lines.slice(Math.max(0, this.pos - 5), this.pos);
    const unread = this.pending.slice(0, 10);
    const skipped = this.skipped.slice(-10);
    return `\n    ${this.name}: closed=${this.isClosed}${this.error ? ` error=${this.error.message}` : ''}` +
      `\n    last read: ${JSON.stringify(recent)}\n    unread: ${JSON.stringify(unread)}` +
      (skipped.length ? `\n    skipped: ${JSON.stringify(skipped)}` : '');
  }

  /** Exactly the next line; fails on timeout or when the connection closes first. */
  async next(ms = DEFAULT_TIMEOUT): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.pos < this.lines.length) return this.lines[this.pos++]!;
      if (this.isClosed) throw new Error(`${this.name}: connection closed while waiting for a line${this.context()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: timeout after ${ms} ms waiting for a line${this.context()}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.waitChange(), new Promise<void>((r) => { timer = setTimeout(r, left); })]);
      clearTimeout(timer);
    }
  }

  /** The next line must match `m` (strict: any other line fails the test). */
  async expectNext(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> {
    const line = await this.next(ms);
    if (!matches(m, line)) {
      throw new Error(`${this.name}: expected next line ${describe(m)}, got ${JSON.stringify(line)}${this.context()}`);
    }
    return line;
  }

  /** The next lines must be exactly `ms`, in order. */
  async expectLines(want: Matcher[], ms = DEFAULT_TIMEOUT): Promise<string[]> {
    const got: string[] = [];
    for (const m of want) got.push(await this.expectNext(m, ms));
    return got;
  }

  /** The next line matching `m`; lines before it are consumed and kept in `skipped`. */
  async expect(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = Math.max(1, deadline - Date.now());
      let line: string;
      try {
        line = await this.next(left);
      } catch (e) {
        throw new Error(`${this.name}: waiting for ${describe(m)}: ${(e as Error).message}`);
      }
      if (matches(m, line)) return line;
      this.skipped.push(line);
    }
  }

  /** Reads lines up to and including the first matching `m`; returns them all (the match last). */
  async readUntil(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string[]> {
    const deadline = Date.now() + ms;
    const out: string[] = [];
    for (;;) {
      const line = await this.next(Math.max(1, deadline - Date.now()));
      out.push(line);
      if (matches(m, line)) return out;
    }
  }

  /** A `== KIND …` reply block: the data lines (without the END line) and the END count. */
  async reply(kind: string, ms = DEFAULT_TIMEOUT): Promise<{ rows: string[]; count: number }> {
    const lines = await this.readUntil(new RegExp(`^== END ${kind} \\d+$`), ms);
    const end = lines.pop()!;
    return { rows: lines, count: Number(end.split(' ').pop()) };
  }

  /** Asserts that no unread line arrives within `ms` (use sparingly: this is a sleep). */
  async nothingMore(ms = 100): Promise<void> {
    await sleep(ms);
    if (this.pos < this.lines.length) {
      throw new Error(`${this.name}: unexpected line(s) ${JSON.stringify(this.pending)}${this.context()}`);
    }
  }

  /** Round trip with the server: sends an unknown command and waits for its error. Returns the
   *  lines that arrived before the reply (the server handles a client's lines in order, so anything
   *  the server queued for us before reading this line is among them). Only for registered users. */
  async sync(ms = DEFAULT_TIMEOUT): Promise<string[]> {
    this.send('/epchat-test-sync');
    const lines = await this.readUntil(err('UNKNOWN_COMMAND'), ms);
    lines.pop();
    return lines;
  }

  /** sync() and assert that nothing else had arrived. */
  async quiet(ms = DEFAULT_TIMEOUT): Promise<void> {
    const extra = await this.sync(ms);
    if (extra.length) throw new Error(`${this.name}: unexpected line(s) ${JSON.stringify(extra)}${this.context()}`);
  }

  /** Resolves when the connection is closed (by either side); fails after `ms`. */
  closed(ms = DEFAULT_TIMEOUT): Promise<void> {
    return withTimeout(this.closedP, ms, `${this.name} waiting for the connection to close${this.context()}`);
  }

  /** Waits for the server to close the connection and asserts that no further line came before. */
  async expectClosed(ms = DEFAULT_TIMEOUT): Promise<void> {
    await this.closed(ms);
    if (this.pos < this.lines.length) {
      throw new Error(`${this.name}: unexpected line(s) before close ${JSON.stringify(this.pending)}${this.context()}`);
    }
  }

  /** Graceful close (FIN). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
    liveClients.delete(this);
  }

  /** Abortive close (RST). */
  reset(): void {
    if (this.socket.destroyed) return;
    this.socket.resetAndDestroy();
    liveClients.delete(this);
  }

  pause(): void { this.socket.pause(); }
  resume(): void { this.socket.resume(); }
}

/** Every error code in docs/protocol.md. */
export const ERROR_CODES = new Set([
  'NICK_INVALID', 'NICK_TAKEN', 'NICK_RESERVED', 'NOT_REGISTERED', 'UNKNOWN_COMMAND', 'USAGE', 'NO_SUCH_ROOM',
  'ROOM_EXISTS', 'ROOM_INVALID', 'ROOM_LIMIT', 'ALREADY_IN_ROOM', 'NO_SUCH_USER', 'LINE_TOO_LONG', 'BAD_UTF8',
  'BAD_CHAR', 'EMPTY', 'FLOOD', 'FLOOD_KICK', 'IDLE_TIMEOUT', 'REGISTRATION_TIMEOUT', 'SERVER_FULL', 'KICKED',
  'SHUTDOWN', 'NICK_PROTECTED', 'INTERNAL_ERROR',
  // accounts, mailboxes and groups
  'ACCOUNT_EXISTS', 'AUTH_FAILED', 'LOGIN_THROTTLED', 'LOGIN_REQUIRED', 'ALREADY_LOGGED_IN', 'PASSWORD_INVALID',
  'NO_SUCH_ACCOUNT', 'MAILBOX_FULL', 'STORAGE_ERROR', 'NO_SUCH_GROUP', 'GROUP_EXISTS', 'GROUP_INVALID', 'GROUP_LIMIT',
  'GROUP_FULL', 'NOT_A_MEMBER', 'ALREADY_MEMBER',
  // resource bounds
  'BUSY', 'REGISTER_THROTTLED', 'GROUP_QUOTA',
]);

const NICK_RE = '[A-Za-z_][A-Za-z0-9_-]*';
const LINE_KINDS: RegExp[] = [
  /^>> ./, // notice
  /^== [A-Z]+( |$)/, // reply data
  new RegExp(`^\\* ${NICK_RE} `), // action
  new RegExp(`^\\[pm (from|to) ${NICK_RE}\\] `), // private message
  new RegExp(`^\\[@[A-Za-z0-9_-]{1,32} from ${NICK_RE}\\] `), // group message
  new RegExp(`^${NICK_RE}: `), // room message
];

/** Why `line` is not a well-formed server line (docs/protocol.md: every line starts with a known
 *  prefix; errors are `!! CODE text` with a documented CODE; no control characters but tab), or null. */
export function malformed(line: string): string | null {
  if (/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(line)) return 'control character';
  if (line.includes('\ufffd')) return 'invalid UTF-8 (or U+FFFD)';
  if (line.startsWith('!! ')) {
    const code = /^!! ([A-Z0-9_]+)(?: |$)/.exec(line)?.[1];
    return code && ERROR_CODES.has(code) ? null : 'error line without a documented CODE';
  }
  return LINE_KINDS.some((re) => re.test(line)) ? null : 'no known prefix';
}

/** Throws if any complete line `c` received is not a well-formed server line. */
export function assertWellFormed(c: LineClient): void {
  const n = c.partialTail ? c.lines.length - 1 : c.lines.length;
  for (let i = 0; i < n; i++) {
    const why = malformed(c.lines[i]!);
    if (why) throw new Error(`${c.name} received a malformed server line (${why}): ${JSON.stringify(c.lines[i])}`);
  }
}

export const PROMPT = '>> Enter pseudo:';
export const welcome = (nick: string) => `>> Welcome ${nick} !`;
export const bye = (nick: string) => `>> Bye ${nick} !`;

export async function connect(port: number, name?: string): Promise<LineClient> {
  const c = new LineClient(port, name);
  await c.connected();
  return c;
}

/** Connects, waits for the prompt, sends the nick, waits for the welcome (both must be the exact
 *  next lines). */
export async function register(port: number, nick: string): Promise<LineClient> {
  const c = await connect(port, nick);
  await c.expectNext(PROMPT);
  c.send(nick);
  await c.expectNext(welcome(nick));
  return c;
}

// ---------------------------------------------------------------------------------------------
// Server fixture

export interface TestServer {
  server: ChatServer;
  port: number;
  host: string;
  connect(name?: string): Promise<LineClient>;
  register(nick: string): Promise<LineClient>;
  /** Registers several users in order; each one's welcome is consumed by those already in. */
  registerAll(...nicks: string[]): Promise<LineClient[]>;
  /** Closes the server once (later calls return the same promise). */
  close(): Promise<EngineStats>;
  /** Errors emitted by the server's `error` event. */
  errors: unknown[];
}

/** The data directory of in-process servers (accounts are on by default): one per test process, in
 *  the system's temp directory and removed at exit, so no run sees another's accounts. */
export const TEST_DATA_DIR = mkdtempSync(join(tmpdir(), 'epchat-test-'));
process.on('exit', () => rmSync(TEST_DATA_DIR, { recursive: true, force: true }));

export const TEST_DEFAULTS: ServerOptions = {
  host: '127.0.0.1',
  port: 0,
  logLevel: 'silent',
  console: false,
  handleSignals: false,
  dataDir: TEST_DATA_DIR,
} as ServerOptions;

/** Starts a server on an ephemeral port, runs `fn`, then destroys every client it opened and
 *  closes the server, even on failure. The whole test is bounded by `ms`. */
export async function withServer(options: ServerOptions, fn: (t: TestServer) => Promise<void>, ms = 20_000): Promise<void> {
  const server = createServer({ ...TEST_DEFAULTS, ...options });
  liveServers.add(server);
  const errors: unknown[] = [];
  server.on('error', (e: unknown) => { errors.push(e); });
  const clients: LineClient[] = [];
  let closing: Promise<EngineStats> | undefined;
  const close = () => (closing ??= server.close());
  try {
    const addr = await withTimeout(server.listen(), 5000, 'server.listen()');
    const t: TestServer = {
      server,
      port: addr.port,
      host: addr.host,
      errors,
      close,
      async connect(name?: string) {
        const c = new LineClient(addr.port, name);
        clients.push(c);
        await c.connected();
        return c;
      },
      async register(nick: string) {
        const c = await t.connect(nick);
        await c.expectNext(PROMPT);
        c.send(nick);
        await c.expectNext(welcome(nick));
        return c;
      },
      async registerAll(...nicks: string[]) {
        const out: LineClient[] = [];
        for (const nick of nicks) {
          const c = await t.register(nick);
          for (const o of out) await o.expectNext(welcome(nick));
          out.push(c);
        }
        return out;
      },
    };
    await withTimeout(fn(t), ms, 'test body');
    // every line any client got in this test must follow the protocol's line grammar
    for (const c of clients) assertWellFormed(c);
  } finally {
    for (const c of clients) c.destroy();
    try {
      await withTimeout(close(), 5000, 'server.close()');
    } finally {
      liveServers.delete(server);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CLI process fixture

/** The final-stats JSON record a CLI server logs on exit (with `--log-format json`). */
export function finalStats(p: Proc): Record<string, number> | undefined {
  for (const l of [...p.out, ...p.err]) {
    if (!l.startsWith('{')) continue;
    try {
      const rec = JSON.parse(l) as { stats?: Record<string, number> };
      if (rec.stats && typeof rec.stats.accepted === 'number') return rec.stats;
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** A fake server on an ephemeral loopback port: `script` gets each connection's socket; every socket
 *  is destroyed and the server closed when `fn` ends. */
export async function withFakeServer(script: (sock: net.Socket) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => { socks.add(s); s.on('error', () => {}); script(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await fn((srv.address() as net.AddressInfo).port);
  } finally {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

export interface Proc {
  child: ChildProcessWithoutNullStreams;
  /** stdout and stderr lines so far. */
  out: string[];
  err: string[];
  /** Waits for a line (stdout or stderr) matching `m`, searching from the start of the output. */
  waitOutput(m: Matcher, ms?: number, from?: 'stdout' | 'stderr' | 'any'): Promise<string>;
  /** Resolves with the exit code (or signal name) when the process ends; fails after `ms`. */
  exited(ms?: number): Promise<number | string>;
  write(line: string): void;
}

export function spawnBin(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    // Each process its own data directory (inside TEST_DATA_DIR, removed at exit): one server per data
    // directory, so a CLI server never collides with an in-process one or another process.
    env: { ...process.env, NO_COLOR: '1', EPCHAT_DATA_DIR: mkdtempSync(join(TEST_DATA_DIR, 'proc-')), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  const out: string[] = [];
  const errLines: string[] = [];
  const bus = new EventEmitter();
  const reader = (into: string[], stream: NodeJS.ReadableStream, name: string) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      rest += s;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl).replace(/\r$/, '');
        rest = rest.slice(nl + 1);
        into.push(line);
        bus.emit('line', { line, name });
      }
    });
    stream.on('end', () => { if (rest) { into.push(rest); bus.emit('line', { line: rest, name }); rest = ''; } });
  };
  reader(out, child.stdout, 'stdout');
  reader(errLines, child.stderr, 'stderr');
  child.stdin.on('error', () => { /* EPIPE after exit */ });
  let exitValue: number | string | undefined;
  const exitP = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitValue = code ?? signal ?? 'unknown';
      liveChildren.delete(child);
      bus.emit('exit');
      resolve(exitValue);
    });
  });
  const dump = () => `\n    stdout: ${JSON.stringify(out.slice(-15))}\n    stderr: ${JSON.stringify(errLines.slice(-15))}`;
  return {
    child,
    out,
    err: errLines,
    write(line: string) { child.stdin.write(line + '\n'); },
    exited(ms = 5000) {
      return withTimeout(exitP, ms, `process exit (${args.join(' ')})${dump()}`);
    },
    waitOutput(m: Matcher, ms = 5000, from: 'stdout' | 'stderr' | 'any' = 'any') {
      const pool = () => (from === 'stdout' ? out : from === 'stderr' ? errLines : [...out, ...errLines]);
      const found = pool().find((l) => matches(m, l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<string>((resolve, reject) => {
        const onLine = ({ line, name }: { line: string; name: string }) => {
          if ((from === 'any' || from === name) && matches(m, line)) { finish(); resolve(line); }
        };
        const onExit = () => {
          // let trailing 'data' events land before giving up
          setImmediate(() => {
            const f = pool().find((l) => matches(m, l));
            finish();
            if (f !== undefined) resolve(f);
            else reject(new Error(`process exited (${String(exitValue)}) before printing ${describe(m)}${dump()}`));
          });
        };
        const timer = setTimeout(() => { finish(); reject(new Error(`timeout after ${ms} ms waiting for output ${describe(m)}${dump()}`)); }, ms);
        const finish = () => { clearTimeout(timer); bus.off('line', onLine); bus.off('exit', onExit); };
        bus.on('line', onLine);
        if (exitValue !== undefined) onExit(); else bus.once('exit', onExit);
      });
    },
  };
}

/** Extracts the port from a `listening on HOST:PORT` log line (plain or JSON). */
export function parseListening(line: string): number {
  const m = /listening on [^\s"]*:(\d+)/.exec(line);
  if (!m) throw new Error(`no 'listening on HOST:PORT' in ${JSON.stringify(line)}`);
  return Number(m[1]);
}

/** Runs `fn` with a spawned server process; kills it afterwards whatever happens. */
export async function withProc<T>(args: string[], fn: (p: Proc) => Promise<T>, ms = 20_000, env?: NodeJS.ProcessEnv): Promise<T> {
  const p = spawnBin(args, env ? { env } : {});
  try {
    return await withTimeout(fn(p), ms, `test body with ${args.join(' ')}`);
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      try { await p.exited(3000); } catch { /* ignore */ }
    }
  }
}
