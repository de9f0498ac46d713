// The bench's C instruments (tools/stress, tools/cref): built with cc into a temporary directory, run
// over loopback against each other and against scripted IRC servers, so `npm run bench` can trust
// their numbers (IRC registration with PING, error numerics, both protocols, churn, rooms).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
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

test.before(() => {
  for (const [bin, src] of [[STRESS, 'tools/stress/stress.c'], [CREF, 'tools/cref/cref.c']] as const) {
    const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, join(root, src)], { encoding: 'utf8' });
    assert.is(cc.status, 0, `cc ${src}: ${cc.stderr}`);
  }
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

/** Runs cref with `proto` on an ephemeral port for the duration of `fn`. */
async function withCref(proto: 'line' | 'irc', fn: (port: number, pid: number) => Promise<void>): Promise<void> {
  const child = spawn(CREF, ['--port', '0', '--proto', proto], { stdio: ['ignore', 'pipe', 'inherit'] });
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

test.run();
