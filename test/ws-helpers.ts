// WebSocket test helpers: a client over the `ws` package (messages queued, expect() like the line
// client's), and a raw one over node:net that does the handshake itself and then writes any bytes
// (unmasked frames, bad lengths…) and parses the server's frames, for the protocol-violation tests.
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import WebSocket from 'ws';
import { DEFAULT_TIMEOUT, type Matcher, type TestServer } from './helpers.js';

export function httpPort(t: TestServer): number {
  const a = t.server.httpAddress();
  if (!a) throw new Error('the HTTP listener is off');
  return a.port;
}

function matches(m: Matcher, s: string): boolean {
  if (typeof m === 'string') return s === m;
  if (m instanceof RegExp) return m.test(s);
  return m(s);
}

const live = new Set<WsClient | RawWs>();
/** Closes whatever a test left open. */
export function destroyAllWs(): void {
  for (const c of live) c.destroy();
  live.clear();
}

export class WsClient {
  readonly ws: WebSocket;
  /** Every message received, as text, in order; `binary` says which came in binary frames. */
  readonly messages: string[] = [];
  readonly binary: boolean[] = [];
  pos = 0;
  closeCode: number | undefined;
  closeReason = '';
  private wake: (() => void)[] = [];
  private readonly openP: Promise<void>;
  private readonly closedP: Promise<void>;

  /** scheme 'wss': over TLS (the HTTPS listener; opts carries the CA). */
  constructor(port: number, protocols?: string | string[], opts: WebSocket.ClientOptions = {}, path = '/', scheme: 'ws' | 'wss' = 'ws') {
    this.ws = new WebSocket(`${scheme}://127.0.0.1:${port}${path}`, protocols, opts);
    live.add(this);
    this.openP = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', (e) => reject(e));
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.openP.catch(() => { /* seen by open() */ });
    this.ws.on('error', () => { /* a refused handshake or a reset: seen by the promises */ });
    this.closedP = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        live.delete(this);
        this.notify();
        resolve();
      });
    });
    this.ws.on('message', (data, isBinary) => {
      this.messages.push(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
      this.binary.push(isBinary);
      this.notify();
    });
  }

  open(): Promise<void> { return this.openP; }
  closed(ms = DEFAULT_TIMEOUT): Promise<void> {
    return Promise.race([this.closedP, new Promise<void>((_, rej) => setTimeout(() => rej(new Error('timeout waiting for close')), ms).unref())]);
  }
  get protocol(): string { return this.ws.protocol; }
  send(text: string): void { this.ws.send(text); }
  sendBinary(text: string): void { this.ws.send(Buffer.from(text), { binary: true }); }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** The next message matching m (those before it are passed over). */
  async expect(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.pos < this.messages.length) {
        const s = this.messages[this.pos++]!;
        if (matches(m, s)) return s;
      }
      if (this.closeCode !== undefined) throw new Error(`closed (${this.closeCode}) before ${String(m)}; got ${JSON.stringify(this.messages.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${String(m)}; got ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }
  /** The very next message must match m. */
  async expectNext(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> {
    const at = this.pos;
    const s = await this.expect(() => true, ms);
    if (!matches(m, s)) throw new Error(`message ${at}: expected ${String(m)}, got ${JSON.stringify(s)}`);
    return s;
  }
  destroy(): void {
    live.delete(this);
    this.ws.terminate();
  }
}

/** An IRC user over WebSocket, registered (after 376). */
export async function wsIrcRegister(port: number, nick: string, protocol?: string): Promise<WsClient> {
  const c = new WsClient(port, protocol);
  await c.open();
  c.send(`NICK ${nick}`);
  c.send(`USER ${nick} 0 * :${nick}`);
  await c.expect(new RegExp(`^:epchat 001 ${nick} `));
  await c.expect(/^:epchat 376 /);
  return c;
}

/** A line-protocol user over WebSocket (epchat.line), registered. */
export async function wsLineRegister(port: number, nick: string): Promise<WsClient> {
  const c = new WsClient(port, 'epchat.line');
  await c.open();
  await c.expectNext('>> Enter pseudo:');
  c.send(nick);
  await c.expectNext(`>> Welcome ${nick} !`);
  return c;
}

export interface Frame { fin: boolean; opcode: number; payload: Buffer; /** RSV1-3 (RSV1 = 4: permessage-deflate) */ rsv: number }

/** A WebSocket client over a bare socket: the handshake, then bytes as given. */
export class RawWs {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  /** The HTTP response head (status line and headers). */
  head = '';
  isClosed = false;
  private buf = Buffer.alloc(0);
  private wake: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setNoDelay(true);
    this.socket.on('error', () => { /* a reset: seen as a close */ });
    live.add(this);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.notify();
    });
    this.socket.on('close', () => { this.isClosed = true; live.delete(this); this.notify(); });
  }

  /** Sends the upgrade and waits for the 101; returns the status line. */
  async handshake(protocol?: string, extra = ''): Promise<string> {
    await new Promise<void>((resolve, reject) => { this.socket.once('connect', resolve); this.socket.once('error', reject); });
    const key = randomBytes(16).toString('base64');
    this.socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') + extra + '\r\n');
    await this.until(() => this.head !== '');
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    if (this.head.startsWith('HTTP/1.1 101') && !this.head.includes(`Sec-WebSocket-Accept: ${accept}`)) throw new Error('bad accept key');
    return this.head.split('\r\n')[0]!;
  }

  private parse(): void {
    if (!this.head) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!, b1 = this.buf[1]!;
      if (b1 & 0x80) throw new Error('server frame masked');
      let len = b1 & 0x7f, off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      this.frames.push({ fin: !!(b0 & 0x80), opcode: b0 & 0x0f, payload: Buffer.from(this.buf.subarray(off, off + len)), rsv: (b0 >> 4) & 7 });
      this.buf = this.buf.subarray(off + len);
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  async until(cond: () => boolean, ms = DEFAULT_TIMEOUT, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${what}; frames ${JSON.stringify(this.frames.map((f) => [f.opcode, f.payload.toString()]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** A frame as a client writes it: masked unless told otherwise. */
  static frame(opcode: number, payload: Buffer | string, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
    const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const fin = opts.fin ?? true, mask = opts.mask ?? true;
    const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode];
    const m = mask ? 0x80 : 0;
    if (p.length < 126) head.push(m | p.length);
    else if (p.length <= 0xffff) head.push(m | 126, p.length >> 8, p.length & 0xff);
    else { head.push(m | 127, 0, 0, 0, 0, (p.length >>> 24) & 0xff, (p.length >> 16) & 0xff, (p.length >> 8) & 0xff, p.length & 0xff); }
    if (!mask) return Buffer.concat([Buffer.from(head), p]);
    const key = randomBytes(4);
    const body = Buffer.from(p);
    for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
    return Buffer.concat([Buffer.from(head), key, body]);
  }

  write(b: Buffer): void { this.socket.write(b); }
  text(s: string, opts?: { fin?: boolean; mask?: boolean }): void { this.write(RawWs.frame(0x1, s, opts)); }

  /** The Close frame the server sent (waits for it): its code and reason. */
  async closeFrame(ms = DEFAULT_TIMEOUT): Promise<{ code: number; reason: string }> {
    await this.until(() => this.frames.some((f) => f.opcode === 0x8), ms, 'a Close frame');
    const f = this.frames.find((x) => x.opcode === 0x8)!;
    return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() };
  }
  /** Text of the data frames received so far. */
  texts(): string[] { return this.frames.filter((f) => f.opcode === 0x1 || f.opcode === 0x2).map((f) => f.payload.toString()); }
  closed(ms = DEFAULT_TIMEOUT): Promise<void> { return this.until(() => this.isClosed, ms, 'the socket to close'); }
  destroy(): void { live.delete(this); this.socket.destroy(); }
}
