// Registration and idle timeouts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TimeoutEvent } from '../lib/index.js';
import { PROMPT, bye, err, expectStats, sleep, waitEvent, welcome, withServer } from './helpers.js';

const test = suite('timeouts');

test('REGISTRATION_TIMEOUT: no nick in time, error then close', () => withServer({ registrationTimeoutMs: 200 }, async (t) => {
  const started = Date.now();
  const c = await t.connect();
  await c.expectNext(PROMPT);
  await c.expectNext(err('REGISTRATION_TIMEOUT'), 3000);
  await c.expectClosed();
  const took = Date.now() - started;
  assert.ok(took >= 180, `timed out after ${took} ms, not before 200 ms`);
  await expectStats(t.server, { connections: 0 });
}));

test('registration timeout does not hit a client that registered in time', () =>
  withServer({ registrationTimeoutMs: 200 }, async (t) => {
    const alice = await t.register('alice');
    const late = await t.connect('late');
    await late.expectNext(PROMPT);
    await late.expectNext(err('REGISTRATION_TIMEOUT'), 3000); // a later connection times out...
    await late.closed();
    await alice.quiet(); // ...alice is untouched, and unregistered connections leave no Bye
  }));

test('bad nicks do not extend the registration deadline', () => withServer({ registrationTimeoutMs: 300 }, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  const deadline = Date.now() + 2000;
  // keep sending bad nicks: the timeout still fires
  while (!c.lines.some((l) => err('REGISTRATION_TIMEOUT').test(l))) {
    if (Date.now() > deadline) throw new Error(`no REGISTRATION_TIMEOUT while sending bad nicks: ${JSON.stringify(c.lines.slice(-5))}`);
    c.send('9bad');
    await c.expect((l) => l === PROMPT || err('REGISTRATION_TIMEOUT').test(l), 2000);
    await sleep(50);
  }
  await c.closed();
}));

test('IDLE_TIMEOUT: an idle user is disconnected, the room is told Bye; activity resets the timer', () =>
  withServer({ idleTimeoutMs: 400 }, async (t) => {
    const [idle, talker] = await t.registerAll('idle', 'talker');
    const ev = waitEvent<TimeoutEvent>(t.server, 'timeout', (e) => e.nick === 'idle', 3000);
    const start = Date.now();
    // talker keeps talking every 100 ms for 3 idle periods; idle says nothing
    let i = 0;
    while (Date.now() - start < 1200) {
      talker!.send(`tick ${i++}`);
      await sleep(100);
    }
    const e = await ev;
    assert.is(e.kind, 'idle');
    // idle got the ticks sent before its timeout, then the error, then the close
    const idleLines = [...idle!.lines];
    await idle!.closed();
    const last = idleLines.findIndex((l) => err('IDLE_TIMEOUT').test(l));
    assert.ok(last >= 0, `idle got IDLE_TIMEOUT: ${JSON.stringify(idleLines)}`);
    // after the handshake, only ticks, then the error
    assert.equal(idleLines.slice(0, 3), [PROMPT, welcome('idle'), welcome('talker')]);
    assert.ok(idleLines.slice(3, last).every((l) => /^talker: tick \d+$/.test(l)), JSON.stringify(idleLines));
    assert.is(idleLines.length, last + 1, 'nothing after IDLE_TIMEOUT');
    // talker saw the Bye and is still connected well past the idle timeout
    assert.is(await talker!.expect(bye('idle')), bye('idle'));
    assert.ok(Date.now() - start >= 1200);
    talker!.send('/users');
    assert.equal(await talker!.reply('USERS'), { rows: ['== USER talker'], count: 1 });
    // and once talker stops, it times out too
    const stop = Date.now();
    await talker!.expectNext(err('IDLE_TIMEOUT'), 3000);
    const took = Date.now() - stop;
    assert.ok(took >= 350, `idle timeout after ${took} ms, not before 400`);
    await talker!.expectClosed();
  }));

test('idleTimeoutMs 0 disables the idle timeout', () => withServer({ idleTimeoutMs: 0 }, async (t) => {
  const alice = await t.register('alice');
  await sleep(150);
  await alice.quiet();
}));

test('the idle timeout does not apply to unregistered connections', () =>
  withServer({ idleTimeoutMs: 100, registrationTimeoutMs: 0 }, async (t) => {
    const anon = await t.connect('anon');
    await anon.expectNext(PROMPT);
    await anon.nothingMore(300); // three idle periods without a line
    anon.send('bob');
    await anon.expectNext(welcome('bob'));
    await anon.expectNext(err('IDLE_TIMEOUT'), 2000); // registered now: the idle timer applies
    await anon.expectClosed();
  }));

test.run();
