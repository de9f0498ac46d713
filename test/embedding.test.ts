// The embedding API checks its arguments (EPCHAT_INVALID_ARGUMENT, nothing sent) and close() during
// listen() really stops the server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { createServer } from '../lib/index.js';
import { PROMPT, TEST_DEFAULTS, withServer, withTimeout } from './helpers.js';
import { FAST_SCRYPT, removeDir, tempDir } from './community-helpers.js';

const test = suite('embedding API');

const INVALID = (e: unknown) => (e as { code?: string }).code === 'EPCHAT_INVALID_ARGUMENT';

async function rejectsInvalid(p: Promise<unknown>, what: string): Promise<void> {
  let caught: unknown;
  try {
    await withTimeout(p, 3000, what);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `${what} must reject`);
  assert.ok(INVALID(caught), `${what}: code ${(caught as { code?: string }).code} (${String(caught)})`);
}

test('announce, kick, deliver, send, protectNicks, registerCommand refuse bad arguments; nothing reaches a client', () =>
  withServer({}, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    const s = t.server as unknown as Record<string, (...args: unknown[]) => unknown>;
    const call = (name: string, ...args: unknown[]) => (s[name] as (...a: unknown[]) => unknown).apply(t.server, args);

    for (const text of ['two\nlines', 'cr\rhere', 'bell\x07', 'esc \x1b[31mred', 'nul\x00', 'c1 \x85', '', 'lone \ud800', 42, null, undefined, ['x']]) {
      assert.throws(() => call('announce', text), INVALID, `announce(${JSON.stringify(text)})`);
    }
    for (const [nick, reason] of [['bob', 'bye\n!! SHUTDOWN fake'], ['bob', 'esc \x1b[2J'], ['bob', 7], [42, 'x'], [['bob'], 'x'], ['bob', '']] as const) {
      await rejectsInvalid(call('kick', nick, reason) as Promise<unknown>, `kick(${JSON.stringify(nick)}, ${JSON.stringify(reason)})`);
    }
    const note = (text: unknown) => ({ type: 'notice', text });
    await rejectsInvalid(call('deliver', 'bob', note('hi')) as Promise<unknown>, 'deliver with a string instead of an array');
    await rejectsInvalid(call('deliver', ['bob', 3], note('hi')) as Promise<unknown>, 'deliver with a non-string nick');
    await rejectsInvalid(call('deliver', ['bob'], 'hi') as Promise<unknown>, 'deliver with protocol text instead of a line');
    await rejectsInvalid(call('deliver', ['bob'], note('hi\n>> fake line')) as Promise<unknown>, 'deliver with a newline');
    await rejectsInvalid(call('deliver', ['bob'], 12) as Promise<unknown>, 'deliver with a number');
    await rejectsInvalid(call('deliver', ['bob'], note('tab\tok but bell\x07')) as Promise<unknown>, 'deliver with a control character');
    await rejectsInvalid(call('deliver', ['bob'], { type: 'error', code: 'not a code', text: 'x' }) as Promise<unknown>, 'deliver with a bad code');
    await rejectsInvalid(call('deliver', ['bob'], { type: 'pm', from: 'two words', text: 'x' }) as Promise<unknown>, 'deliver with a spaced sender');
    const ids = (await t.server.users()).map((u) => u.id);
    assert.throws(() => call('send', ids[0], 'a\x1b[2Jb'), INVALID, 'send with a control character');
    assert.throws(() => call('send', ids[0], 'a\r\nb'), INVALID, 'send with CR');
    assert.throws(() => call('send', String(ids[0]), 'x'), INVALID, 'send with a string id');
    assert.throws(() => call('send', ids[0], 5), INVALID, 'send with a number');
    assert.throws(() => call('protectNicks', 'bob'), INVALID, 'protectNicks with a string');
    assert.throws(() => call('protectNicks', ['bob'], 'alice'), INVALID, 'protectNicks remove with a string');
    assert.throws(() => call('registerCommand', 'ok', 'not a function'), INVALID, 'registerCommand without a handler');
    assert.throws(() => call('registerCommand', 5, () => undefined), INVALID, 'registerCommand with a number');
    assert.throws(() => call('registerCommand', 'ok', () => undefined, { help: '/ok - x' }), INVALID, 'help as a string');
    assert.throws(() => call('registerCommand', 'ok', () => undefined, { help: ['/ok - x\n!! fake'] }), INVALID, 'help with a newline');
    assert.throws(() => call('reload', null), INVALID, 'reload(null)');
    assert.throws(() => call('reload', 'maxLineBytes=10'), INVALID, 'reload with a string');
    assert.throws(() => (createServer as (o: unknown) => unknown)(null), INVALID, 'createServer(null)');
    assert.throws(() => (createServer as (o: unknown) => unknown)(['port']), INVALID, 'createServer([...])');
    // nothing of the above reached anyone; valid calls still work
    await alice!.quiet();
    await bob!.quiet();
    t.server.announce('tab\tis fine');
    await alice!.expectNext('>> [server] tab\tis fine');
    await bob!.expectNext('>> [server] tab\tis fine');
    t.server.send(ids[0]!, '>> one\n>> two');
    const a = (await t.server.users())[0]!.nick === 'alice' ? alice! : bob!;
    await a.expectLines(['>> one', '>> two']);
    assert.is(await t.server.kick('bob', 'a reason'), true);
    await bob!.expectNext('!! KICKED a reason');
    await bob!.expectClosed();
  }));

test('a command handler that replies with control characters gets INTERNAL_ERROR, never raw bytes', () =>
  withServer({ accounts: false }, async (t) => {
    t.server.registerCommand('evil', (ctx) => ctx.reply({ type: 'notice', text: 'ok\x1b[2J' }), { help: ['/evil - test'] });
    const alice = await t.register('alice');
    alice.send('/evil');
    await alice.expectNext(/^!! INTERNAL_ERROR /);
    await alice.quiet();
  }));

test('close() during listen() stops the server: listen() rejects EPCHAT_CLOSED, nothing listens', async () => {
  const dir = tempDir('close-listen');
  try {
    const server = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir: dir });
    const listening = server.listen();
    const closed = server.close();
    let caught: unknown;
    try {
      await withTimeout(listening, 5000, 'listen()');
    } catch (e) {
      caught = e;
    }
    const stats = await withTimeout(closed, 5000, 'close()');
    assert.is(stats.accepted, 0);
    assert.ok(caught, 'listen() must reject when close() was called during it');
    assert.is((caught as { code?: string }).code, 'EPCHAT_CLOSED');
    assert.is(server.listening, false);
    assert.is(server.address(), null);
    // and the data directory is free for another server (the storage closed)
    const again = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir: dir });
    const { port } = await withTimeout(again.listen(), 5000, 'listen() of the next server');
    const c = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => { c.once('data', (d) => { assert.is(d.toString(), `${PROMPT}\n`); resolve(); }); c.once('error', reject); });
    c.destroy();
    await withTimeout(again.close(), 5000, 'close()');
  } finally {
    removeDir(dir);
  }
});

test.run();
