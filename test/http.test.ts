// The HTTP listener (docs/websocket.md): the web client's static files (types, security headers,
// HEAD, keep-alive, 404, traversal and links refused), bad requests (400/405/431/505), the head's
// time bound (a slowloris is dropped and costs nobody else), the WebSocket Origin policy (403).
// Raw sockets, so every byte of each answer is seen.
import net from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../lib/index.js';
import { ROOT, cleanupAll, until, withServer, type ServerOptions } from './helpers.js';
import { WsClient, destroyAllWs, httpPort } from './ws-helpers.js';

const WEB = mkdtempSync(join(tmpdir(), 'epchat-web-'));
writeFileSync(join(WEB, 'index.html'), '<!doctype html><title>epchat</title><script src="app.js"></script>\n');
writeFileSync(join(WEB, 'app.js'), 'console.log("hi");\n');
writeFileSync(join(WEB, 'style.css'), 'body { color: black }\n');
mkdirSync(join(WEB, 'sub'));
writeFileSync(join(WEB, 'sub', 'index.html'), 'sub index\n');
writeFileSync(join(WEB, '.secret'), 'hidden\n');
const OUTSIDE = mkdtempSync(join(tmpdir(), 'epchat-outside-'));
writeFileSync(join(OUTSIDE, 'passwd'), 'root:x:0:0\n');
symlinkSync(join(OUTSIDE, 'passwd'), join(WEB, 'link.txt'));

test.after.each(() => destroyAllWs());
test.after(async () => {
  destroyAllWs();
  await cleanupAll();
  rmSync(WEB, { recursive: true, force: true });
  rmSync(OUTSIDE, { recursive: true, force: true });
});

interface Response { status: number; head: string; headers: Map<string, string>; body: Buffer }

/** A raw HTTP connection: writes requests, reads responses one at a time (Content-Length framed). */
class Http {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private wake: (() => void)[] = [];
  closed = false;
  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.on('error', () => { /* seen as a close */ });
    this.socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.notify(); });
    this.socket.on('close', () => { this.closed = true; this.notify(); });
  }
  private notify(): void { const w = this.wake; this.wake = []; for (const f of w) f(); }
  private async wait(ms: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`)), ms);
      this.wake.push(() => { clearTimeout(timer); resolve(); });
    });
  }
  write(s: string | Buffer): void { this.socket.write(s); }
  /** The next response; head: a response to HEAD (no body whatever Content-Length says). */
  async response(head = false, ms = 3000): Promise<Response> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const headText = this.buf.subarray(0, end).toString('latin1');
        const [statusLine, ...rest] = headText.split('\r\n');
        const headers = new Map<string, string>();
        for (const l of rest) { const i = l.indexOf(':'); headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()); }
        const len = head || /^HTTP\/1\.1 304/.test(statusLine!) ? 0 : Number(headers.get('content-length') ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
          this.buf = this.buf.subarray(end + 4 + len);
          return { status: Number(statusLine!.split(' ')[1]), head: headText, headers, body };
        }
      }
      if (this.closed) throw new Error(`closed before a whole response: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await this.wait(Math.max(1, deadline - Date.now()));
    }
  }
  async closedSoon(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) await this.wait(Math.max(1, deadline - Date.now()));
  }
  rest(): string { return this.buf.toString('latin1'); }
  destroy(): void { this.socket.destroy(); }
}

const opts: ServerOptions = { webRoot: WEB } as ServerOptions;
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

async function once(port: number, request: string, head = false): Promise<Response> {
  const h = new Http(port);
  try {
    h.write(request);
    return await h.response(head);
  } finally {
    h.destroy();
  }
}

test('GET / serves index.html with its type, length and security headers; other files by extension', () => withServer(opts, async (t) => {
  const p = httpPort(t);
  const r = await once(p, get('/'));
  assert.is(r.status, 200);
  assert.is(r.body.toString(), readFileSync(join(WEB, 'index.html'), 'utf8'));
  assert.is(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.is(r.headers.get('content-length'), String(r.body.length));
  assert.is(r.headers.get('x-content-type-options'), 'nosniff');
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.ok(r.headers.has('cache-control') && r.headers.has('last-modified'));
  const js = await once(p, get('/app.js'));
  assert.is(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  const css = await once(p, get('/style.css?v=3'));
  assert.is(css.headers.get('content-type'), 'text/css; charset=utf-8');
  const sub = await once(p, get('/sub/'));
  assert.is(sub.body.toString(), 'sub index\n');
  // If-Modified-Since with the served date: 304, no body.
  const again = await once(p, get('/', `If-Modified-Since: ${r.headers.get('last-modified')}\r\n`));
  assert.is(again.status, 304);
}));

test('HEAD: the headers of GET, no body; keep-alive serves several requests on one connection', () => withServer(opts, async (t) => {
  const h = new Http(httpPort(t));
  h.write(`HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\n`);
  const head = await h.response(true);
  assert.is(head.status, 200);
  assert.is(head.headers.get('content-length'), String(readFileSync(join(WEB, 'app.js')).length));
  assert.is(head.headers.get('connection'), 'keep-alive');
  // Pipelined: two requests in one write, answered in order on the same connection.
  h.write(get('/index.html') + get('/style.css'));
  const a = await h.response();
  const b = await h.response();
  assert.is(a.status, 200);
  assert.match(a.body.toString(), /<title>epchat/);
  assert.is(b.body.toString(), 'body { color: black }\n');
  assert.is(h.rest(), '', 'HEAD sent no body');
  h.write(get('/', 'Connection: close\r\n'));
  const last = await h.response();
  assert.is(last.headers.get('connection'), 'close');
  await h.closedSoon();
  h.destroy();
}));

test('404 for missing files, hidden names, traversal and symbolic links; 400 for a bad path', () => withServer(opts, async (t) => {
  const p = httpPort(t);
  for (const path of ['/nope.html', '/.secret', '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/sub/../.secret', '/link.txt', '/sub']) {
    const r = await once(p, get(path));
    assert.is(r.status, 404, `${path}: 404 (got ${r.status})`);
    assert.not.match(r.body.toString(), /root:x/);
  }
  assert.is((await once(p, get('/a%00b'))).status, 400);
  assert.is((await once(p, get('/a%zz'))).status, 400);
}));

test('bad requests: 400 (bare LF), 405 (POST), 431 (huge head), 505 (HTTP/2.0), 501; each closes', () => withServer(opts, async (t) => {
  const p = httpPort(t);
  const cases: [string, number][] = [
    ['GET / HTTP/1.1\nHost: x\n\n', 400],
    ['POST / HTTP/1.1\r\nHost: x\r\n\r\n', 405],
    [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`, 431],
    ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 501],
    ['GET / HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [req, status] of cases) {
    const h = new Http(p);
    h.write(req);
    const r = await h.response();
    assert.is(r.status, status, `${JSON.stringify(req.slice(0, 30))}: ${status} (got ${r.status})`);
    assert.is(r.headers.get('connection'), 'close');
    await h.closedSoon();
    h.destroy();
  }
  const r = await once(p, 'POST / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.is(r.headers.get('allow'), 'GET, HEAD');
}));

test('a slowloris dribbling its head is dropped after httpTimeoutMs (408); the others keep chatting', () => withServer({ ...opts, httpTimeoutMs: 400 } as ServerOptions, async (t) => {
  const slow = new Http(httpPort(t));
  const idle = new Http(httpPort(t));  // connects and sends nothing
  const started = Date.now();
  const a = await t.register('alice');
  const b = await t.register('bob');
  await a.expect('>> Welcome bob !');
  const head = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
  let i = 0;
  const drip = setInterval(() => { if (!slow.closed) slow.write(head[i++ % head.length]!); }, 50);
  try {
    for (let k = 0; k < 5; k++) {
      a.send(`ping ${k}`);
      await b.expect(`alice: ping ${k}`);
    }
    const r = await slow.response(false, 5000);
    assert.is(r.status, 408);
    await slow.closedSoon(5000);
    await idle.closedSoon(5000);
    assert.ok(Date.now() - started >= 350, 'not before the timeout');
    assert.is(idle.rest(), '', 'an idle connection is closed without an answer');
  } finally {
    clearInterval(drip);
    slow.destroy();
    idle.destroy();
  }
  b.send('still fine');
  await a.expect('bob: still fine');
}));

test('WebSocket Origin: same host allowed, another refused with 403, wsOrigins lists them', async () => {
  await withServer(opts, async (t) => {
    const p = httpPort(t);
    const same = new WsClient(p, 'text.ircv3.net', { origin: `http://127.0.0.1:${p}` });
    await same.open();
    same.destroy();
    const evil = new WsClient(p, 'text.ircv3.net', { origin: 'http://evil.example' });
    await evil.open().then(() => assert.unreachable('a foreign origin was accepted'), (e: Error) => assert.match(e.message, /403/));
    // No Origin: not a browser, allowed.
    const tool = new WsClient(p);
    await tool.open();
    tool.destroy();
  });
  await withServer({ ...opts, wsOrigins: ['https://chat.example'] } as ServerOptions, async (t) => {
    const p = httpPort(t);
    const ok = new WsClient(p, undefined, { origin: 'https://chat.example' });
    await ok.open();
    ok.destroy();
    const same = new WsClient(p, undefined, { origin: `http://127.0.0.1:${p}` });
    await same.open().then(() => assert.unreachable('not listed'), (e: Error) => assert.match(e.message, /403/));
  });
});

test('the default webRoot serves the bundled web client (dist/web) at /, WebSocket on the same origin', () => withServer({}, async (t) => {
  const r = await once(httpPort(t), get('/'));
  assert.is(r.status, 200);
  assert.is(r.body.toString(), readFileSync(join(ROOT, 'dist', 'web', 'index.html'), 'utf8'));
  const ws = new WsClient(httpPort(t), 'text.ircv3.net', { origin: `http://127.0.0.1:${httpPort(t)}` }, '/ws');
  await ws.open();
  ws.destroy();
}));

test('a full server answers an HTTP client 503 (not the line protocol\'s SERVER_FULL)', () => withServer({ ...opts, maxClients: 2 } as ServerOptions, async (t) => {
  await t.register('one');
  await t.register('two');
  const h = new Http(httpPort(t));
  const r = await h.response();
  assert.is(r.status, 503);
  assert.match(r.body.toString(), /server is full/);
  await h.closedSoon();
  h.destroy();
}));

test('a webRoot that is not a directory is reported at start (EPCHAT_WEB_ROOT); files are 404, WebSocket works', () => withServer({ webRoot: join(WEB, 'missing') } as ServerOptions, async (t) => {
  await until(() => t.errors.length > 0, 3000, 'the warning');
  assert.is((t.errors[0] as { code?: string }).code, 'EPCHAT_WEB_ROOT');
  assert.is((await once(httpPort(t), get('/'))).status, 404);
  const ws = new WsClient(httpPort(t), 'text.ircv3.net');
  await ws.open();
  ws.destroy();
}));

test('configuration: httpPort 7080 by default, 0 with port 0, webRoot the package\'s dist/web, wsOrigins checked', () => {
  const d = resolveConfig({});
  assert.is(d.httpPort, 7080);
  assert.is(d.httpHost, d.host);
  assert.is(d.webRoot, join(ROOT, 'dist', 'web'));
  assert.equal(d.wsOrigins, []);
  assert.is(resolveConfig({ argv: ['--port', '0'] }).httpPort, 0);
  assert.is(resolveConfig({ argv: ['--port', '0', '--http-port', '9000'] }).httpPort, 9000);
  assert.equal(resolveConfig({ argv: ['--ws-origins', 'https://Chat.example:8443,*'] }).wsOrigins, ['https://chat.example:8443', '*']);
  for (const bad of ['evil', 'null', 'ftp://x', 'https://a/path']) {
    assert.throws(() => resolveConfig({ argv: ['--ws-origins', bad] }), /wsOrigins|ws-origins/, bad);
  }
});

test('httpPort -1 turns the HTTP listener off', () => withServer({ httpPort: -1 } as ServerOptions, async (t) => {
  assert.is(t.server.httpAddress(), null);
}));

test.run();
