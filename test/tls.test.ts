// TLS on the listeners (docs/architecture.md "TLS transport", README "TLS"): the line protocol and IRC
// over TLS beside plaintext users, openssl s_client, bursts whose plaintext OpenSSL decrypted beyond
// one read (the pending-read list), plaintext/garbage/old-version/half-finished handshakes costing
// nobody else, certificate reload without dropping anyone, ALPN/SNI ignored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import { LineClient, PROMPT, welcome, until, withServer, withProc, withTimeout, parseListening, expectStats, type TestServer } from './helpers.js';
import { IrcRaw } from './irc-helpers.js';
import { WsClient } from './ws-helpers.js';
import { makeDevCert } from '../lib/cert.js';
import { resolveConfig, configFromOptions } from '../lib/config.js';

const DIR = mkdtempSync(join(tmpdir(), 'epchat-tls-'));
process.on('exit', () => rmSync(DIR, { recursive: true, force: true }));
const first = makeDevCert(join(DIR, 'a'));
const second = makeDevCert(join(DIR, 'b'));
if (!first.ok || !second.ok) throw new Error(`cannot make test certificates: ${first.output}${second.output}`);
// The served pair: a copy of `first` (the reload test overwrites it with `second`).
const LIVE = join(DIR, 'live');
makeDevCert(LIVE);
const CERT = join(LIVE, 'cert.pem');
const KEY = join(LIVE, 'key.pem');
const useFirst = () => { copyFileSync(first.cert, CERT); copyFileSync(first.key, KEY); };
useFirst();

const TLS = { tlsCert: CERT, tlsKey: KEY, tlsPort: 0 };
const trust = (cert = first.cert): tls.ConnectionOptions => ({ ca: readFileSync(cert), servername: 'localhost' });

/** p must reject (and the error satisfy check, when given). */
async function rejects(p: Promise<unknown>, check?: (e: Error & { code?: string }) => boolean): Promise<void> {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  assert.ok(err instanceof Error, 'expected a rejection');
  if (check) assert.ok(check(err as Error & { code?: string }), `unexpected error: ${(err as Error).message}`);
}

function tlsPort(t: TestServer): number { return t.server.tlsAddress()!.port; }
function ircTlsPort(t: TestServer): number { return t.server.ircTlsAddress()!.port; }

async function tlsRegister(t: TestServer, nick: string, opts: tls.ConnectionOptions = trust()): Promise<LineClient> {
  const c = new LineClient(tlsPort(t), nick, '127.0.0.1', opts);
  await c.connected();
  await c.expectNext(PROMPT);
  c.send(nick);
  await c.expectNext(welcome(nick));
  return c;
}

async function ircTlsRegister(t: TestServer, nick: string): Promise<IrcRaw> {
  const c = new IrcRaw(ircTlsPort(t), nick, trust());
  await c.connected();
  c.send(`NICK ${nick}`);
  c.send(`USER ${nick} 0 * :${nick}`);
  await c.num(1);
  await c.num(376);
  return c;
}

/** Raw bytes to a port; resolves with everything received until the server closes. */
function rawExchange(port: number, data: Buffer | string): Promise<{ got: Buffer; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    s.on('data', (b) => chunks.push(b));
    s.on('error', () => { /* a reset after the answer: what was read counts */ });
    s.on('close', () => resolve({ got: Buffer.concat(chunks), socket: s }));
    s.on('connect', () => s.write(data));
    setTimeout(() => { s.destroy(); reject(new Error('the server did not close the connection')); }, 5000).unref();
  });
}

function sClient(port: number, args: string[], input: string, untilText: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', first.cert, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { p.kill(); reject(new Error(`openssl s_client saw no ${untilText}: ${out}`)); }, 8000);
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (untilText.test(out)) { clearTimeout(timer); p.stdin.end(); p.kill(); resolve(out); }
    });
    p.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    p.on('error', reject);
    // s_client may be gone before it reads its input (a refused handshake: the TLS 1.1 case): EPIPE
    // on its stdin is that, not a failure of the test; the verdict is what it printed.
    p.stdin.on('error', () => { /* see above */ });
    p.stdin.write(input);
  });
}

test('line over TLS and IRC over TLS chat with plaintext line and IRC users in one room', () => withServer({ ...TLS, ircTlsPort: 0 }, async (t) => {
  const plain = await t.register('plain');
  const secure = await tlsRegister(t, 'secure');
  await plain.expectNext(welcome('secure'));
  const ircs = await ircTlsRegister(t, 'ircs');
  ircs.send('JOIN #lobby');
  await ircs.num(366);
  await plain.expectNext('>> ircs joined lobby');
  await secure.expectNext('>> ircs joined lobby');
  secure.send('hello from TLS');
  await plain.expectNext('secure: hello from TLS');
  await ircs.expectNext(':secure!secure@127.0.0.1 PRIVMSG #lobby :hello from TLS');
  ircs.send('PRIVMSG #lobby :hi over IRC+TLS');
  await plain.expectNext('ircs: hi over IRC+TLS');
  await secure.expectNext('ircs: hi over IRC+TLS');
  plain.send('plain text');
  await secure.expectNext('plain: plain text');
  await ircs.expectNext(':plain!plain@127.0.0.1 PRIVMSG #lobby :plain text');
  const s = await expectStats(t.server, { tls_handshakes: 2, tls_failed: 0 });
  assert.is(s.tls_plaintext, 0);
}));

test('irc-framework (a real IRC client library) over TLS on the IRC TLS port chats with a plaintext line user', () => withServer({ ...TLS, ircTlsPort: 0 }, async (t) => {
  const { Client } = await import('irc-framework');
  const irc = new Client();
  try {
    const registered = new Promise<void>((resolve) => irc.once('registered', () => resolve()));
    irc.connect({ host: '127.0.0.1', port: ircTlsPort(t), tls: true, rejectUnauthorized: false /* irc-framework takes no ca option */, nick: 'ircfw', username: 'ircfw', gecos: 'ircfw', auto_reconnect: false } as any);
    await withTimeout(registered, 5000, 'irc-framework registered over TLS');
    const line = await t.register('liner');
    const joined = new Promise<void>((resolve) => irc.once('join', () => resolve()));
    irc.join('#lobby');
    await withTimeout(joined, 3000, 'irc-framework join');
    await line.expectNext('>> ircfw joined lobby');
    const heard = new Promise<string>((resolve) => irc.on('privmsg', (e: { message: string }) => resolve(e.message)));
    line.send('hello over TLS');
    assert.is(await withTimeout(heard, 3000, 'privmsg over TLS'), 'hello over TLS');
    irc.say('#lobby', 'and back');
    await line.expectNext('ircfw: and back');
  } finally {
    try { irc.quit('done'); } catch { /* gone */ }
  }
}));

test('openssl s_client on the line and IRC TLS ports (TLS 1.2 and 1.3 accepted, 1.1 refused)', () => withServer({ ...TLS, ircTlsPort: 0 }, async (t) => {
  const watcher = await t.register('watcher');
  const line13 = await sClient(tlsPort(t), ['-quiet', '-tls1_3'], 'sc13\nvia s_client\n', /Welcome sc13/);
  assert.match(line13, /Enter pseudo/);
  await watcher.expect('sc13: via s_client');
  const line12 = await sClient(tlsPort(t), ['-tls1_2'], 'sc12\n', /Welcome sc12/);
  assert.match(line12, /Protocol *: TLSv1\.2/);
  const irc = await sClient(ircTlsPort(t), ['-quiet'], 'NICK scirc\r\nUSER scirc 0 * :s\r\n', / 376 scirc /);
  assert.match(irc, /:epchat 001 scirc /);
  // TLS 1.1: refused by the server (the client is allowed to offer it at security level 0).
  const before = (await t.server.stats()).tls_failed;
  const old = await sClient(tlsPort(t), ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], '', /alert|error|errno|Cipher is \(NONE\)/i).catch((e: Error) => e.message);
  assert.not.match(old, /Enter pseudo/);
  await expectStats(t.server, { tls_failed: before + 1 });
  watcher.send('still here');
}));

test('node:tls: TLS 1.1 refused, 1.2 and 1.3 accepted; ALPN and SNI offered by the client are ignored', () => withServer(TLS, async (t) => {
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const c = await tlsRegister(t, `v${v.slice(-1)}`, { ...trust(), minVersion: v, maxVersion: v });
    assert.is((c.socket as tls.TLSSocket).getProtocol(), v);
  }
  const alpn = await tlsRegister(t, 'alpn', { ca: readFileSync(first.cert), servername: 'chat.example.org', ALPNProtocols: ['h2', 'irc'], checkServerIdentity: () => undefined });
  assert.is((alpn.socket as tls.TLSSocket).alpnProtocol, false);
  const old = new LineClient(tlsPort(t), 'tls11', '127.0.0.1', { ...trust(), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  await rejects(old.connected());
  await old.closed();
  await expectStats(t.server, { tls_failed: 1, tls_handshakes: 3 });
}));

test('a 16 KiB burst then nothing, and a 1 MiB one: every line is delivered (plaintext OpenSSL decrypted beyond one read is read again)', () => withServer({ ...TLS, floodRate: 0, maxOutputBytes: 64 << 20 }, async (t) => {
  const rx = await t.register('rx');
  const tx = await tlsRegister(t, 'tx');
  await rx.expectNext(welcome('tx'));
  for (const total of [16 * 1024, 1024 * 1024]) {
    const line = (i: number) => `m${total}-${String(i).padStart(6, '0')} ${'x'.repeat(90)}`;
    const n = Math.ceil(total / (line(0).length + 1));
    let got = 0;
    let last = '';
    rx.onLine = (l) => { if (l.startsWith(`tx: m${total}-`)) { got++; last = l; } };
    // One write: node:tls cuts it into 16 KiB records, which reach the server in reads that end mid-record.
    tx.socket.write(Array.from({ length: n }, (_, i) => line(i)).join('\n') + '\n');
    await until(() => got === n, 10_000, `${n} lines of a ${total}-byte burst (got ${got})`);
    assert.is(last, `tx: ${line(n - 1)}`);
    rx.onLine = undefined;
    rx.pos = rx.lines.length;
  }
}));

test('a plaintext client on a TLS port is answered in plaintext and closed (line, IRC, HTTP)', () => withServer({ ...TLS, ircTlsPort: 0 }, async (t) => {
  const a = await rawExchange(tlsPort(t), 'alice\n');
  assert.match(a.got.toString(), /^!! TLS_REQUIRED /);
  const b = await rawExchange(ircTlsPort(t), 'NICK bob\r\nUSER bob 0 * :b\r\n');
  assert.match(b.got.toString(), /^ERROR :Closing link: .*TLS/);
  const c = await rawExchange(ircTlsPort(t), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(c.got.toString(), /^HTTP\/1\.1 400 /);
  await expectStats(t.server, { tls_plaintext: 3 });
  const ok = await tlsRegister(t, 'after');
  ok.send('fine');
}));

function httpsGet(port: number, path: string): Promise<{ status: number; type: string; body: string; tlsVersion: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ...trust(), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString(),
        tlsVersion: (res.socket as tls.TLSSocket).getProtocol() ?? '',
      }));
    });
    req.on('error', reject);
  });
}

test('HTTPS and WSS: the web client over TLS (node:https, openssl s_client), IRC over WSS chats with a line user over TLS; plaintext HTTP there gets 400', () => withServer({ ...TLS, httpsPort: 0 }, async (t) => {
  const port = t.server.httpsAddress()!.port;
  const page = await httpsGet(port, '/');
  assert.is(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<title>/i);
  assert.match(page.tlsVersion, /^TLSv1\.[23]$/);
  assert.is((await httpsGet(port, '/no-such-file')).status, 404);

  const ws = new WsClient(port, 'text.ircv3.net', { ca: readFileSync(first.cert) }, '/', 'wss');
  await ws.open();
  ws.send('NICK wss');
  ws.send('USER wss 0 * :wss');
  await ws.expect(/^:epchat 376 wss /);
  ws.send('JOIN #lobby');
  await ws.expect(/^:epchat 366 wss #lobby /);
  const line = await tlsRegister(t, 'tlsline');
  await ws.expect(/^:tlsline!\S+ JOIN #lobby$/);
  ws.send('PRIVMSG #lobby :hello over wss');
  await line.expect('wss: hello over wss');
  line.send('hello back over tls');
  await ws.expect(/^:tlsline!\S+ PRIVMSG #lobby :hello back over tls$/);

  // openssl s_client speaks HTTP over it too.
  const viaOpenssl = await sClient(port, ['-quiet'], 'GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n', /<\/html>/i);
  assert.match(viaOpenssl, /HTTP\/1\.1 200 OK/);

  const plain = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(plain.got.toString(), /^HTTP\/1\.1 400 /);
  ws.destroy();
}));

test('a bad handshake (garbage, a broken ClientHello) closes only that connection', () => withServer(TLS, async (t) => {
  const a = await tlsRegister(t, 'a');
  const plain = await t.register('p');
  await a.expectNext(welcome('p'));
  await rawExchange(tlsPort(t), Buffer.from([0x00, 0xff, 0x13, 0x37, 0x01, 0x02]));
  // A handshake record whose ClientHello body is garbage.
  const bogus = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c]), Buffer.alloc(60, 0xee)]);
  await rawExchange(tlsPort(t), bogus);
  a.send('still chatting');
  await plain.expectNext('a: still chatting');
  const s = await expectStats(t.server, { tls_failed: 1, tls_plaintext: 1 });
  assert.is(s.connections, 2);
}));

test('a half-finished handshake is dropped after tlsHandshakeTimeoutMs while others keep chatting', () => withServer({ ...TLS, tlsHandshakeTimeoutMs: 400 }, async (t) => {
  const a = await tlsRegister(t, 'a');
  const b = await t.register('b');
  await a.expectNext(welcome('b'));
  // The first 40 bytes of a ClientHello, then nothing.
  const hello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(29, 0x11)]);
  const started = Date.now();
  const slow = rawExchange(tlsPort(t), hello);
  for (let i = 0; i < 3; i++) {
    a.send(`tick ${i}`);
    await b.expectNext(`a: tick ${i}`);
  }
  const r = await slow;
  assert.is(r.got.length, 0);
  assert.ok(Date.now() - started >= 350, 'dropped after the timeout, not before');
  await expectStats(t.server, { tls_timeouts: 1 });
  a.send('after');
  await b.expectNext('a: after');
}));

test('reloadTls: connected TLS clients stay and keep chatting, new ones get the new certificate; a failed reload keeps the old one', () => withServer(TLS, async (t) => {
  useFirst();
  const fp = (c: LineClient) => (c.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
  const old = await tlsRegister(t, 'old');
  const oldFp = fp(old);
  copyFileSync(second.cert, CERT);
  copyFileSync(second.key, KEY);
  await t.server.reloadTls();
  const fresh = await tlsRegister(t, 'fresh', trust(second.cert));
  await old.expectNext(welcome('fresh'));
  assert.is.not(fp(fresh), oldFp);
  old.send('I stayed');
  await fresh.expectNext('old: I stayed');
  // A broken key file: the reload fails, naming it, and the current pair stays in use.
  writeFileSync(KEY, 'not a key\n');
  await rejects(t.server.reloadTls(), (e: Error & { code?: string }) => e.code === 'EPCHAT_TLS' && e.message.includes(KEY));
  const third = await tlsRegister(t, 'third', trust(second.cert));
  assert.is(fp(third), fp(fresh));
  fresh.send('all good');
  await old.expect('fresh: all good');
  useFirst();
}));

test('SIGHUP to the CLI reloads the certificate without dropping anyone', () => withProc(
  ['--port', '0', '--host', '127.0.0.1', '--tls-cert', CERT, '--tls-key', KEY, '--tls-port', '0', '--irc-port', '-1', '--irc-tls-port', '-1', '--no-console'],
  async (p) => {
    useFirst();
    const port = parseListening(await p.waitOutput(/^.*TLS listening on/));
    const c = new LineClient(port, 'hup', '127.0.0.1', trust());
    await c.connected();
    await c.expectNext(PROMPT);
    c.send('hup');
    await c.expectNext(welcome('hup'));
    copyFileSync(second.cert, CERT);
    copyFileSync(second.key, KEY);
    p.child.kill('SIGHUP');
    await p.waitOutput(/TLS certificate reloaded/);
    const n = new LineClient(port, 'new', '127.0.0.1', trust(second.cert));
    await n.connected();
    await n.expectNext(PROMPT);
    n.send('newbie');
    await c.expectNext(welcome('newbie'));
    c.send('still here');
    await n.expect('hup: still here');
    c.destroy();
    n.destroy();
    useFirst();
  }));

test('config: tlsCert needs tlsKey, a TLS port needs both, ircTlsPort follows the certificate; an unreadable file is named at listen', async () => {
  assert.throws(() => resolveConfig({ argv: ['--tls-cert', CERT] }), /tlsKey.*is needed with tlsCert/);
  assert.throws(() => resolveConfig({ argv: ['--tls-port', '7001'] }), /tlsPort.*needs tlsCert and tlsKey/);
  assert.is(resolveConfig({}).ircTlsPort, -1);
  assert.is(resolveConfig({ argv: ['--tls-cert', CERT, '--tls-key', KEY] }).ircTlsPort, 6697);
  assert.is(configFromOptions({ port: 0, tlsCert: CERT, tlsKey: KEY }).ircTlsPort, 0);
  const missing = join(DIR, 'nope.pem');
  await rejects(withServer({ tlsCert: missing, tlsKey: KEY, tlsPort: 0 }, async () => { /* never runs */ }),
    (e: Error & { code?: string }) => e.code === 'EPCHAT_TLS' && e.message.includes(missing));
});

test('`epchat cert` writes <dataDir>/tls/{cert,key}.pem, says how to use them, refuses to overwrite them', async () => {
  const { statSync } = await import('node:fs');
  const data = join(DIR, 'cert-cli');
  await withProc(['cert'], async (p) => {
    assert.is(await p.exited(20_000), 0);
    const out = p.out.join('\n');
    assert.match(out, /--tls-cert \S+\/tls\/cert\.pem --tls-key \S+\/tls\/key\.pem/);
    assert.match(out, /openssl s_client/);
  }, 30_000, { EPCHAT_DATA_DIR: data });
  assert.is(statSync(join(data, 'tls', 'key.pem')).mode & 0o777, 0o600);
  await withProc(['cert'], async (p) => {
    assert.is(await p.exited(20_000), 1);
    assert.match(p.err.join('\n'), /exists; pass --force/);
  }, 30_000, { EPCHAT_DATA_DIR: data });
});

test('epchat cert writes a usable pair (key mode 0600) and refuses to overwrite it', async () => {
  const { statSync } = await import('node:fs');
  const dir = join(DIR, 'cli');
  const again = makeDevCert(dir);
  assert.ok(again.ok, again.output);
  assert.is(statSync(again.key).mode & 0o777, 0o600);
  assert.not.ok(makeDevCert(dir).ok);
  await withServer({ tlsCert: again.cert, tlsKey: again.key, tlsPort: 0 }, async (t) => {
    await tlsRegister(t, 'cli', trust(again.cert));
  });
});

test.run();
