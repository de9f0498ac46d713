// The IRC-over-WebSocket connection: registration (CAP LS 302, optional SASL PLAIN, NICK/USER),
// keep-alive, and reconnection with exponential back-off and jitter.
import { base64Utf8, foldCase, formatLine, nickOf, parseLine, type IrcMessage } from './irc.js';

/** The WebSocket subprotocol (IRCv3 websocket spec): one IRC line per text message, no CR LF. */
export const SUBPROTOCOLS = ['text.ircv3.net'];

export interface Account {
  name: string;
  password: string;
}

export interface ConnectOptions {
  url: string;
  nick: string;
  account?: Account;
}

export type Status =
  | { state: 'connecting' }
  | { state: 'online'; nick: string }
  | { state: 'waiting'; retryAt: number; attempt: number }
  | { state: 'stopped'; reason: string };

export interface ConnectionEvents {
  message(msg: IrcMessage): void;
  status(status: Status): void;
  /** Registration finished (001): a good time to rejoin rooms. */
  registered(nick: string, caps: ReadonlySet<string>): void;
  /** A notice about the connection itself, shown in the server view. */
  info(text: string, isError: boolean): void;
}

/** Capabilities the client uses when the server offers them. */
const WANTED_CAPS = ['server-time', 'multi-prefix', 'message-tags'];

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const IDLE_PING_MS = 60000;
const SASL_CHUNK = 400;

/** Delay before reconnect attempt n (0-based): exponential, capped, with "equal jitter". */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class IrcConnection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: number | undefined;
  private idleTimer: number | undefined;
  private awaitingPong = false;
  private registered = false;
  private stopped = false;
  private nick: string;
  private nickTries = 0;
  private offered = new Map<string, string>();
  private enabled = new Set<string>();
  private capsDone = false;

  constructor(
    private readonly opts: ConnectOptions,
    private readonly on: ConnectionEvents,
  ) {
    this.nick = opts.nick;
  }

  get currentNick(): string {
    return this.nick;
  }

  get isOnline(): boolean {
    return this.registered && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Ends the session for good (no reconnect). */
  stop(reason = 'Disconnected', quitMessage?: string): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.idleTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN && quitMessage !== undefined) ws.send(formatLine('QUIT', quitMessage));
      ws.close(1000);
    }
    this.on.status({ state: 'stopped', reason });
  }

  /** Skips the back-off wait (e.g. when the browser comes back online). */
  retryNow(): void {
    if (this.stopped || this.ws) return;
    window.clearTimeout(this.retryTimer);
    this.open();
  }

  send(line: string): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(line);
    return true;
  }

  sendCommand(command: string, ...params: string[]): boolean {
    return this.send(formatLine(command, ...params));
  }

  private open(): void {
    this.registered = false;
    this.capsDone = false;
    this.offered.clear();
    this.enabled.clear();
    this.nick = this.nick || this.opts.nick;
    this.nickTries = 0;
    this.on.status({ state: 'connecting' });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url, SUBPROTOCOLS);
    } catch (e) {
      this.on.info(`Cannot connect to ${this.opts.url}: ${(e as Error).message}`, true);
      this.stop('Bad server address');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.sendCommand('CAP', 'LS', '302');
      this.sendCommand('NICK', this.nick);
      this.sendCommand('USER', (this.opts.account?.name || this.opts.nick).replace(/[^A-Za-z0-9]/g, '').slice(0, 10) || 'web', '0', '*', 'epchat web client');
      this.armIdle();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      this.armIdle();
      // A text message is one line; tolerate servers that still append CR LF or batch lines.
      for (const raw of ev.data.split(/\r?\n/)) {
        if (!raw) continue;
        const msg = parseLine(raw);
        if (msg) this.handle(msg);
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      window.clearTimeout(this.idleTimer);
      this.registered = false;
      if (this.stopped) return;
      const why = ev.code === 1000 || ev.code === 1005 ? 'Connection closed' : `Connection lost (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
      this.scheduleRetry(why);
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  private scheduleRetry(why: string): void {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.on.info(`${why}; reconnecting in ${Math.ceil(delay / 1000)} s`, true);
    this.on.status({ state: 'waiting', retryAt, attempt: this.attempt });
    this.retryTimer = window.setTimeout(() => this.open(), delay);
  }

  /** Keep-alive: after a quiet minute send PING; a second quiet minute means the link is dead. */
  private armIdle(): void {
    this.awaitingPong = false;
    window.clearTimeout(this.idleTimer);
    const tick = (): void => {
      if (!this.ws) return;
      if (this.awaitingPong) {
        this.ws.close(4000, 'ping timeout');
        // close() fires onclose asynchronously; it schedules the retry.
        return;
      }
      this.awaitingPong = true;
      this.sendCommand('PING', 'keepalive');
      this.idleTimer = window.setTimeout(tick, IDLE_PING_MS);
    };
    this.idleTimer = window.setTimeout(tick, IDLE_PING_MS);
  }

  private fatal(text: string): void {
    this.on.info(text, true);
    this.stop(text);
  }

  private handle(msg: IrcMessage): void {
    const p = msg.params;
    switch (msg.command) {
      case 'PING':
        this.sendCommand('PONG', p[0] ?? '');
        return;
      case 'PONG':
        return;
      case 'CAP':
        this.handleCap(msg);
        return;
      case 'AUTHENTICATE':
        if (p[0] === '+' && this.opts.account) {
          const { name, password } = this.opts.account;
          const payload = base64Utf8(`${name}\0${name}\0${password}`);
          for (let i = 0; i < payload.length; i += SASL_CHUNK) this.send(`AUTHENTICATE ${payload.slice(i, i + SASL_CHUNK)}`);
          if (payload.length % SASL_CHUNK === 0) this.send('AUTHENTICATE +');
        }
        return;
      case '900': // RPL_LOGGEDIN
        this.on.info(p[p.length - 1] ?? 'Logged in', false);
        return;
      case '903': // RPL_SASLSUCCESS
        this.endCaps();
        return;
      case '902':
      case '904':
      case '905':
      case '906':
      case '908':
        this.fatal(`Login failed: ${p[p.length - 1] ?? 'SASL authentication failed'}`);
        return;
      case '433': // ERR_NICKNAMEINUSE
      case '432': // ERR_ERRONEUSNICKNAME
        if (!this.registered) {
          // A nick that belongs to an account is not "taken": its owner logs in to use it.
          if (msg.command === '433' && !this.opts.account && /account/i.test(p[p.length - 1] ?? '')) {
            this.fatal(`The nickname "${p[1] ?? this.nick}" belongs to an account: open "Log in with an account" and enter its password, or pick another nickname.`);
            return;
          }
          if (msg.command === '432' || this.nickTries >= 5) {
            this.fatal(`Nickname "${p[1] ?? this.nick}" is not available: ${p[p.length - 1] ?? ''}`);
            return;
          }
          this.nickTries += 1;
          this.nick = `${this.opts.nick}${'_'.repeat(this.nickTries)}`;
          this.sendCommand('NICK', this.nick);
          return;
        }
        break;
      case '001':
        this.registered = true;
        this.attempt = 0;
        this.nick = p[0] ?? this.nick;
        this.on.status({ state: 'online', nick: this.nick });
        this.on.registered(this.nick, this.enabled);
        break;
      case 'NICK':
        if (foldCase(nickOf(msg.prefix)) === foldCase(this.nick) && p[0]) this.nick = p[0];
        break;
      case 'ERROR':
        this.on.info(p[0] ?? 'Server closed the connection', true);
        return;
    }
    this.on.message(msg);
  }

  private handleCap(msg: IrcMessage): void {
    const p = msg.params;
    const sub = (p[1] ?? '').toUpperCase();
    if (sub === 'LS') {
      const more = p[2] === '*';
      for (const item of (p[more ? 3 : 2] ?? '').split(' ')) {
        if (!item) continue;
        const eq = item.indexOf('=');
        this.offered.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
      }
      if (more) return;
      const want = WANTED_CAPS.filter((c) => this.offered.has(c));
      if (this.opts.account) {
        const mechs = this.offered.get('sasl');
        if (mechs === undefined) {
          this.fatal('This server does not offer account login (SASL); connect with a nickname instead.');
          return;
        }
        if (mechs !== '' && !mechs.split(',').includes('PLAIN')) {
          this.fatal('This server does not accept password login (SASL PLAIN).');
          return;
        }
        want.push('sasl');
      }
      if (want.length === 0) this.endCaps();
      else this.sendCommand('CAP', 'REQ', want.join(' '));
    } else if (sub === 'ACK') {
      for (const c of (p[2] ?? '').split(' ')) if (c && !c.startsWith('-')) this.enabled.add(c);
      if (this.opts.account && this.enabled.has('sasl')) this.sendCommand('AUTHENTICATE', 'PLAIN');
      else if (this.opts.account) this.fatal('The server refused account login (SASL).');
      else this.endCaps();
    } else if (sub === 'NAK') {
      if (this.opts.account) this.fatal('The server refused account login (SASL).');
      else this.endCaps();
    }
  }

  private endCaps(): void {
    if (this.capsDone) return;
    this.capsDone = true;
    this.sendCommand('CAP', 'END');
  }
}
