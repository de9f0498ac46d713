// The bench's C instruments (tools/stress, tools/cref): built with cc into a temporary directory, run
// over loopback against each other and against scripted IRC servers, so `npm run bench` can trust
// their numbers (IRC registration with PING, error numerics, both protocols, churn, rooms); over
// WebSocket and TLS too, each side also against an independent implementation (a WebSocket server
// and client scripted here on node:net and node:crypto, node:tls).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withFakeServer } from './helpers.js';

const test = suite('bench-tools');
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'epchat-bench-tools-'));
const STRESS = join(dir, 'stress');
const CREF = join(dir, 'cref');
const CERT = join(dir, 'tls', 'cert.pem');
const KEY = join(dir, 'tls', 'key.pem');

test.before(() => {
  for (const [bin, src] of [[STRESS, 'tools/stress/stress.c'], [CREF, 'tools/cref/cref.c']] as const) {
    const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, join(root, src), '-lssl', '-lcrypto'], { encoding: 'utf8' });
    assert.is(cc.status, 0, `cc ${src}: ${cc.stderr}`);
  }
  const cert = spawnSync('bash', [join(root, 'scripts', 'dev-cert.sh'), join(dir, 'tls')], { encoding: 'utf8' });
  assert.is(cert.status, 0, `dev-cert.sh: ${cert.stderr}`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Run { code: number | null; json: Record<string, unknown> | null; stderr: string }

function stress(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(STRESS, ['--json', '--timeout', '20', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      resolve({ code, json: line.startsWith('{') ? JSON.parse(line) as Record<string, unknown> : null, stderr: err });
    });
  });
}

/** Runs cref with `proto` (and `extra` flags: --ws, --tls-cert …) on an ephemeral port for the
 *  duration of `fn`. */
async function withCref(proto: 'line' | 'irc', fn: (port: number, pid: number) => Promise<void>, extra: string[] = []): Promise<void> {
  const child = spawn(CREF, ['--port', '0', '--proto', proto, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (c: Buffer) => {
        text += c.toString();
        const m = /^listening (\d+)$/m.exec(text);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`cref exited (${code}) before listening`)));
    });
    await fn(port, child.pid!);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** A scripted IRC server: `onLine` gets each line a client sends and the socket to answer on. */
function fakeIrc(onLine: (line: string, sock: net.Socket) => void, fn: (port: number) => Promise<void>): Promise<void> {
  return withFakeServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        onLine(line, s);
      }
    });
  }, fn);
}

const short = ['--duration', '0.3', '--warmup', '0.1'];

test('line protocol: stress against cref delivers everything, with the server CPU measured', () => withCref('line', async (port, pid) => {
  const r = await stress(['--port', String(port), '--server-pid', String(pid), '--scenario', 'fanout', '--clients', '20', '--senders', '2', ...short]);
  assert.is(r.code, 0, r.stderr);
  assert.ok((r.json!['deliveries'] as number) > 0, 'deliveries');
  assert.is(r.json!['losses'], 0);
  assert.is(r.json!['proto'], undefined, 'line mode output has no proto field (unchanged)');
  assert.ok(typeof r.json!['server_cpu_ns_per_delivery'] === 'number', 'server CPU per delivery');
}));

test('IRC: fanout, rooms and churn against cref-irc, no loss, misroute or corruption', () => withCref('irc', async (port, pid) => {
  for (const args of [
    ['--scenario', 'fanout', '--clients', '20', '--senders', '2', ...short],
    ['--scenario', 'rooms', '--rooms', '5', '--room-size', '4', ...short],
  ]) {
    const r = await stress(['--proto', 'irc', '--port', String(port), '--server-pid', String(pid), ...args]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.json!['proto'], 'irc');
    assert.ok((r.json!['deliveries'] as number) > 0, `${args[1]}: deliveries`);
    for (const k of ['losses', 'out_of_order', 'misrouted', 'corrupt']) assert.is(r.json![k], 0, `${args[1]}: ${k}`);
  }
  const churn = await stress(['--proto', 'irc', '--port', String(port), '--scenario', 'churn', '--parallel', '4', ...short]);
  assert.is(churn.code, 0, churn.stderr);
  assert.ok((churn.json!['cycles'] as number) > 0, 'NICK/USER → 001 → QUIT → ERROR → EOF cycles');
}));

test('IRC registration answers PING before 001, then OPER and MODE when asked', () => {
  const seen: string[] = [];
  return fakeIrc((line, s) => {
    seen.push(line);
    const nick = /^NICK (\S+)/.exec(line)?.[1];
    if (nick) (s as net.Socket & { nick?: string }).nick = nick;
    const me = (s as net.Socket & { nick?: string }).nick ?? '*';
    if (line.startsWith('USER ')) s.write(`:fake NOTICE * :hello\r\nPING :tok-${me}\r\n`);
    else if (line === `PONG :tok-${me}`) s.write(`:fake 001 ${me} :Welcome\r\n:fake 005 ${me} X :are supported\r\n`);
    else if (line === 'OPER op secret') s.write(`:fake 381 ${me} :You are now an IRC operator\r\n`);
    else if (line === `MODE ${me} +F`) s.write(`:${me}!u@h MODE ${me} :+F\r\n`);
    else if (line.startsWith('JOIN ')) s.write(`:${me}!u@h ${line}\r\n`);
    else if (line.startsWith('PRIVMSG ')) s.end();
  }, async (port) => {
    // Registration and joins must complete; traffic then fails (the fake closes), which proves the
    // tool got that far: exit 2 in phase "traffic", not "connect+register" or "join channels".
    const r = await stress(['--proto', 'irc', '--port', String(port), '--scenario', 'fanout', '--clients', '3', '--senders', '1',
      '--irc-oper', 'op:secret', '--irc-umode', '+F', ...short]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /phase traffic/);
    assert.ok(seen.includes('OPER op secret'), 'the sender OPERed');
    assert.is(seen.filter((l) => l.startsWith('OPER ')).length, 1, 'only the sender OPERs');
    assert.is(seen.filter((l) => l === 'JOIN #bench').length, 3, 'every client joins #bench');
  });
});

test('an IRC error numeric ends the run with exit 2 and says which', () => fakeIrc((line, s) => {
  if (line.startsWith('NICK ')) s.write(':fake 433 * u :Nickname is already in use\r\n');
}, async (port) => {
  const r = await stress(['--proto', 'irc', '--port', String(port), '--scenario', 'fanout', '--clients', '2', '--senders', '1', ...short]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /error numeric: :fake 433/);
}));

test('--irc-oper and --irc-umode need --proto irc; --size is bounded for IRC', async () => {
  const a = await stress(['--port', '1', '--irc-umode', '+F']);
  assert.is(a.code, 1);
  assert.match(a.stderr, /need --proto irc/);
  const b = await stress(['--port', '1', '--proto', 'irc', '--size', '401']);
  assert.is(b.code, 1);
  assert.match(b.stderr, /--size at most 400/);
});

// ---------------------------------------------------------------------------------------------------
// WebSocket and TLS (issue #10's bench rows)

const TLS_FLAGS = ['--tls-cert', CERT, '--tls-key', KEY];
const clean = (r: Run, what: string): void => {
  assert.is(r.code, 0, `${what}: ${r.stderr}`);
  assert.ok((r.json!['deliveries'] as number) > 0, `${what}: deliveries`);
  for (const k of ['losses', 'out_of_order', 'misrouted', 'corrupt']) assert.is(r.json![k], 0, `${what}: ${k}`);
};

test('WebSocket: stress --ws against cref --ws, line and IRC (text and binary frames), fanout, rooms and churn', async () => {
  await withCref('line', async (port, pid) => {
    const r = await stress(['--ws', '--ws-protocol', 'epchat.line', '--port', String(port), '--server-pid', String(pid),
      '--scenario', 'fanout', '--clients', '20', '--senders', '2', ...short]);
    clean(r, 'line fanout');
    assert.is(r.json!['transport'], 'ws');
    assert.is(r.json!['ws_protocol'], 'epchat.line');
    assert.ok(typeof r.json!['server_cpu_ns_per_delivery'] === 'number');
    const rooms = await stress(['--ws', '--port', String(port), '--scenario', 'rooms', '--rooms', '5', '--room-size', '4', ...short]);
    clean(rooms, 'line rooms');
    const churn = await stress(['--ws', '--port', String(port), '--scenario', 'churn', '--parallel', '4', ...short]);
    assert.is(churn.code, 0, churn.stderr);
    assert.ok((churn.json!['cycles'] as number) > 0, 'upgrade → prompt → nick → welcome → /quit → close cycles');
  }, ['--ws']);
  await withCref('irc', async (port) => {
    for (const proto of ['text.ircv3.net', 'binary.ircv3.net']) {
      const r = await stress(['--proto', 'irc', '--ws', '--ws-protocol', proto, '--port', String(port), '--scenario', 'fanout',
        '--clients', '20', '--senders', '2', ...short]);
      clean(r, proto);
      assert.is(r.json!['proto'], 'irc');
    }
  }, ['--ws']);
});

test('TLS: stress --tls against cref with a dev certificate, line and IRC, and WebSocket over TLS', async () => {
  await withCref('line', async (port, pid) => {
    const r = await stress(['--tls', '--port', String(port), '--server-pid', String(pid), '--scenario', 'fanout',
      '--clients', '20', '--senders', '2', ...short]);
    clean(r, 'line over TLS');
    assert.is(r.json!['transport'], 'tls');
    const idle = await stress(['--tls', '--port', String(port), '--server-pid', String(pid), '--scenario', 'idle',
      '--clients', '50', '--duration', '0.2']);
    assert.is(idle.code, 0, idle.stderr);
    assert.ok((idle.json!['rss_bytes_per_client'] as number) > 0, 'idle memory per TLS connection measured');
  }, TLS_FLAGS);
  await withCref('irc', async (port) => {
    const r = await stress(['--tls', '--proto', 'irc', '--port', String(port), '--scenario', 'fanout', '--clients', '20', '--senders', '2', ...short]);
    clean(r, 'IRC over TLS');
    const churn = await stress(['--tls', '--proto', 'irc', '--port', String(port), '--scenario', 'churn', '--parallel', '4', ...short]);
    assert.is(churn.code, 0, churn.stderr);
    assert.ok((churn.json!['cycles'] as number) > 0, 'handshake → NICK/USER → 001 → QUIT → ERROR → EOF cycles');
  }, TLS_FLAGS);
  await withCref('irc', async (port) => {
    const r = await stress(['--tls', '--ws', '--ws-protocol', 'text.ircv3.net', '--proto', 'irc', '--port', String(port),
      '--scenario', 'fanout', '--clients', '10', '--senders', '2', ...short]);
    clean(r, 'IRC over WebSocket over TLS');
    assert.is(r.json!['transport'], 'wss');
  }, ['--ws', ...TLS_FLAGS]);
});

/** A WebSocket frame as a server sends it (unmasked). */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const head = payload.length < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, payload.length])
    : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A client's frame (masked), as a client sends it. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), key, masked]);
}

interface Frame { fin: boolean; opcode: number; masked: boolean; payload: Buffer }

/** Reads whole frames from `buf` (a client's: masked) and returns them with the bytes left over. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (buf.length - at >= 2) {
    const masked = (buf[at + 1]! & 0x80) !== 0;
    let len = buf[at + 1]! & 0x7f;
    let hl = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      hl = 4;
    }
    const total = hl + (masked ? 4 : 0) + len;
    if (buf.length - at < total) break;
    const key = buf.subarray(at + hl, at + hl + 4);
    const body = buf.subarray(at + total - len, at + total);
    frames.push({ fin: (buf[at]! & 0x80) !== 0, opcode: buf[at]! & 0x0f, masked,
      payload: masked ? Buffer.from(body.map((b, i) => b ^ key[i & 3]!)) : Buffer.from(body) });
    at += total;
  }
  return { frames, rest: buf.subarray(at) };
}

const wsAccept = (key: string): string => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

test('stress --ws against a WebSocket server scripted here: subprotocol, masked frames, fragments, pings', () => {
  const seen: string[] = [];
  const unmasked: string[] = [];
  const pongs: string[] = [];
  return withFakeServer((s) => {
    let buf: Buffer = Buffer.alloc(0);
    let open = false;
    let nick = '*';
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const req = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        const key = /\r\nSec-WebSocket-Key: (\S+)/i.exec(req)?.[1] ?? '';
        seen.push(/\r\nSec-WebSocket-Protocol: (\S+)/i.exec(req)?.[1] ?? '(none)');
        s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n` +
          'Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n');
        open = true;
      }
      const { frames, rest } = parseFrames(buf);
      buf = rest;
      for (const f of frames) {
        if (!f.masked) unmasked.push(f.payload.toString());
        if (f.opcode === 10) { pongs.push(f.payload.toString()); continue; }
        const line = f.payload.toString();
        seen.push(line);
        const m = /^NICK (\S+)/.exec(line);
        if (m) nick = m[1]!;
        if (line.startsWith('USER ')) {
          // a ping, then 001 in three fragments with a ping between them, then 005
          s.write(Buffer.concat([serverFrame(9, Buffer.from('p1')), serverFrame(1, Buffer.from(':fake 00'), false),
            serverFrame(9, Buffer.from('p2')), serverFrame(0, Buffer.from(`1 ${nick} `), false),
            serverFrame(0, Buffer.from(':Welcome')), serverFrame(1, Buffer.from(`:fake 005 ${nick} X :are supported\r\n`))]));
        } else if (line.startsWith('JOIN ')) {
          s.write(serverFrame(1, Buffer.from(`:${nick}!u@h ${line}`)));
        } else if (line.startsWith('PRIVMSG ')) {
          s.end();
        }
      }
    });
  }, async (port) => {
    const r = await stress(['--proto', 'irc', '--ws', '--ws-protocol', 'text.ircv3.net', '--port', String(port), '--scenario', 'fanout',
      '--clients', '3', '--senders', '1', ...short]);
    // registration and joins complete; traffic then fails (the fake closes): exit 2 in phase traffic
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /phase traffic/);
    assert.is(seen.filter((l) => l === 'text.ircv3.net').length, 3, 'each client asks for the subprotocol');
    assert.is(seen.filter((l) => l === 'JOIN #bench').length, 3, 'every client joins #bench: 001 was parsed from its fragments');
    assert.ok(seen.some((l) => /^NICK u\w+$/.test(l)), 'one line per message, without its line end');
    assert.equal(unmasked, [], 'every client frame is masked');
    assert.is(pongs.filter((p) => p === 'p2').length, 3, 'a ping between fragments is answered');
  });
});

test('stress --ws: a refused upgrade and a server that ignores the subprotocol end the run with exit 2, saying why', async () => {
  await withFakeServer((s) => s.once('data', () => s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')), async (port) => {
    const r = await stress(['--ws', '--port', String(port), '--scenario', 'fanout', '--clients', '2', '--senders', '1', ...short]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /WebSocket upgrade refused: HTTP\/1.1 403 Forbidden/);
  });
  await withFakeServer((s) => s.once('data', (d: Buffer) => {
    const key = /Sec-WebSocket-Key: (\S+)/i.exec(d.toString())?.[1] ?? '';
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`);
  }), async (port) => {
    const r = await stress(['--ws', '--ws-protocol', 'epchat.line', '--port', String(port), '--scenario', 'fanout', '--clients', '2', '--senders', '1', ...short]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /did not accept the WebSocket subprotocol epchat.line/);
  });
  const usage = await stress(['--port', '1', '--ws-protocol', 'epchat.line']);
  assert.is(usage.code, 1);
  assert.match(usage.stderr, /need --ws/);
});

test('stress --tls against a node:tls IRC server scripted here: handshake, registration, joins', async () => {
  const seen: string[] = [];
  const socks = new Set<net.Socket>();
  const srv = tls.createServer({ cert: readFileSync(CERT), key: readFileSync(KEY) }, (s) => {
    socks.add(s);
    s.on('error', () => {});
    let buf = '';
    let nick = '*';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        seen.push(line);
        nick = /^NICK (\S+)/.exec(line)?.[1] ?? nick;
        if (line.startsWith('USER ')) s.write(`PING :t\r\n:fake 001 ${nick} :Welcome\r\n`);
        else if (line.startsWith('JOIN ')) s.write(`:${nick}!u@h ${line}\r\n`);
        else if (line.startsWith('PRIVMSG ')) s.end();
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as net.AddressInfo).port;
    const r = await stress(['--tls', '--proto', 'irc', '--port', String(port), '--scenario', 'fanout', '--clients', '3', '--senders', '1', ...short]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /phase traffic/);
    assert.is(seen.filter((l) => l === 'JOIN #bench').length, 3, 'every client registered and joined over TLS');
    assert.is(seen.filter((l) => l === 'PONG :t').length, 3, 'PING answered over TLS');
  } finally {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

/** Lines (or WebSocket frames) from a socket, awaited one at a time. */
function reader(sock: net.Socket, ws: boolean): () => Promise<string> {
  let buf: Buffer = Buffer.alloc(0);
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let header = ws;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (header) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      queue.push(buf.subarray(0, end).toString());
      buf = buf.subarray(end + 4);
      header = false;
    }
    if (ws) {
      const { frames, rest } = parseFrames(buf);
      buf = rest;
      for (const f of frames) queue.push(`${f.masked ? 'MASKED ' : ''}${f.opcode}:${f.payload.toString()}`);
    } else {
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        queue.push(buf.subarray(0, i).toString());
        buf = buf.subarray(i + 1);
      }
    }
    wake?.();
  });
  return async () => {
    const deadline = Date.now() + 5000;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no line within 5 s');
      await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
    }
    return queue.shift()!;
  };
}

test('cref --ws and cref --tls answer independent clients (node:net WebSocket, node:tls)', async () => {
  await withCref('line', async (port) => {
    const a = net.connect(port, '127.0.0.1');
    const b = net.connect(port, '127.0.0.1');
    try {
      const next = [reader(a, true), reader(b, true)] as const;
      const key = 'AAAAAAAAAAAAAAAAAAAAAA==';
      for (const s of [a, b]) {
        s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: epchat.line, other\r\n\r\n');
      }
      for (const [i, s] of [a, b].entries()) {
        const head = await next[i]!();
        assert.match(head, /^HTTP\/1.1 101 /);
        assert.ok(head.includes(`\r\nSec-WebSocket-Accept: ${wsAccept(key)}`), head);
        assert.ok(head.includes('\r\nSec-WebSocket-Protocol: epchat.line'), 'the first subprotocol offered');
        assert.is(await next[i]!(), '1:>> Enter pseudo:', 'one unmasked text frame per line, without its newline');
        s.write(clientFrame(1, Buffer.from(`n${i}`)));
        assert.is(await next[i]!(), `1:>> Welcome n${i} !`);
      }
      a.write(clientFrame(9, Buffer.from('hi')));
      assert.is(await next[0]!(), '10:hi', 'ping answered with pong');
      a.write(clientFrame(1, Buffer.from('hello there')));
      assert.is(await next[1]!(), '1:n0: hello there');
    } finally {
      a.destroy();
      b.destroy();
    }
  }, ['--ws']);
  await withCref('line', async (port) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    try {
      const next = reader(s, false);
      assert.is(await next(), '>> Enter pseudo:');
      s.write('tina\n');
      assert.is(await next(), '>> Welcome tina !');
      assert.is(s.getProtocol()?.startsWith('TLSv1.'), true);
    } finally {
      s.destroy();
    }
  }, TLS_FLAGS);
});

test.run();
