// The harness itself: a wait that should fail does fail (fast), so the suites' assertions mean
// something. Runs against a scripted node:net server, not epchat.
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, malformed, parseListening, withFakeServer, withTimeout, type LineClient } from './helpers.js';

const test = suite('harness');

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  let caught: Error | undefined;
  try { await p; } catch (e) { caught = e as Error; }
  assert.ok(caught, `expected a rejection matching ${re}`);
  assert.match(caught!.message, re);
}

/** Replies to the sync command like epchat does. */
function syncing(extra: string[] = []) {
  return (s: net.Socket) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('/epchat-test-sync\n')) {
        buf = '';
        s.write(extra.map((l) => l + '\n').join('') + '!! UNKNOWN_COMMAND unknown command\n');
      }
    });
  };
}

test('lines split anywhere (even inside a UTF-8 sequence) are reassembled', () => withFakeServer((s) => {
  const bytes = Buffer.from('first\nsecond é€😀 line\nthird\n');
  let i = 0;
  const drip = () => { if (i < bytes.length) { s.write(bytes.subarray(i, i + 1)); i++; setImmediate(drip); } };
  drip();
}, async (port) => {
  const c = await connect(port);
  assert.equal([await c.next(), await c.next(), await c.next()], ['first', 'second é€😀 line', 'third']);
  c.destroy();
}));

test('expectNext fails on a different line; next fails on timeout and on close', () => withFakeServer((s) => {
  s.write('hello\n');
  s.on('data', () => s.end('bye\n'));
}, async (port) => {
  const c = await connect(port);
  await rejects(c.expectNext('goodbye'), /expected next line "goodbye", got "hello"/);
  const t0 = Date.now();
  await rejects(c.next(100), /timeout after 100 ms/);
  assert.ok(Date.now() - t0 < 1000);
  c.send('x');
  assert.is(await c.next(), 'bye');
  await c.closed();
  await rejects(c.next(), /connection closed/);
}));

test('expect skips lines (kept in skipped) and still times out', () => withFakeServer((s) => {
  s.write('a\nb\nc\n');
}, async (port) => {
  const c: LineClient = await connect(port);
  assert.is(await c.expect('c'), 'c');
  assert.equal(c.skipped, ['a', 'b']);
  await rejects(c.expect(/never/, 100), /timeout/);
  c.destroy();
}));

test('quiet() fails when an unexpected line came first; sync() returns it', () => withFakeServer(syncing(['surprise']), async (port) => {
  const c = await connect(port);
  await rejects(c.quiet(), /unexpected line\(s\) \["surprise"\]/);
  assert.equal(await c.sync(), ['surprise']);
  c.destroy();
}));

test('expectClosed() fails on a line before the close, and on no close', () => withFakeServer((s) => {
  s.on('data', (d) => { if (d.toString().includes('close')) s.end('late line\n'); });
}, async (port) => {
  const c = await connect(port);
  await rejects(c.closed(100), /timeout after 100 ms/);
  c.send('close');
  await rejects(c.expectClosed(), /unexpected line\(s\) before close \["late line"\]/);
}));

test('nothingMore() fails on a late line', () => withFakeServer((s) => { setTimeout(() => s.write('late\n'), 20); }, async (port) => {
  const c = await connect(port);
  await rejects(c.nothingMore(100), /unexpected line\(s\) \["late"\]/);
  c.destroy();
}));

test('reply() reads a == block and its count', () => withFakeServer((s) => {
  s.write('== USER a\n== USER b\n== END USERS 2\n');
}, async (port) => {
  const c = await connect(port);
  assert.equal(await c.reply('USERS'), { rows: ['== USER a', '== USER b'], count: 2 });
  c.destroy();
}));

test('withTimeout rejects a promise that never settles', async () => {
  await rejects(withTimeout(new Promise(() => {}), 50, 'never'), /timeout after 50 ms: never/);
});

test('parseListening: plain, JSON and IPv6 forms', () => {
  assert.is(parseListening('epchat listening on 0.0.0.0:7000'), 7000);
  assert.is(parseListening('{"level":30,"time":1700000000,"msg":"epchat listening on 127.0.0.1:41234","port":41234}'), 41234);
  assert.is(parseListening('listening on :::5555'), 5555);
  assert.is(parseListening('listening on [::1]:6000'), 6000);
  assert.throws(() => parseListening('nothing here'));
});

test('malformed(): the protocol line grammar', () => {
  for (const ok of ['>> Welcome a !', '!! NICK_TAKEN nickname a is taken', '!! FLOOD', '== ROOM lobby 3', '== END ROOMS 1',
    '* alice waves', '[pm from bob] hi', '[pm to bob] hi', 'alice: hi\tthere', 'a_b-c: : x']) {
    assert.is(malformed(ok), null, ok);
  }
  for (const bad of ['hello', '!! WHATEVER x', '!!NICK_TAKEN', 'alice:hi', '[pm from bob]hi', '* alice', '== lower',
    'alice: \x1b[31m', 'alice: a\rb', 'alice: \u0085', '9lives: hi', 'al ice: hi']) {
    assert.ok(malformed(bad), bad);
  }
});

test.run();
