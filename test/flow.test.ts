// Flow control: flood limits (token bucket, FLOOD, FLOOD_KICK) and slow readers (maxOutputBytes).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bye, err, expectStats, sleep, until, withServer, type LineClient } from './helpers.js';

const test = suite('flood & slow readers');

/** Lines from `c` that are `alice: m<i>` messages, as numbers. */
function msgs(c: LineClient, from: string): number[] {
  const out: number[] = [];
  for (const l of c.lines) {
    const m = new RegExp(`^${from}: m(\\d+)$`).exec(l);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

test('FLOOD: lines beyond the burst are dropped with an error; the connection is kept', () =>
  withServer({ floodRate: 20, floodBurst: 5, floodKick: 40 }, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    const N = 8;
    await alice!.sendRaw(range(1, N + 1).map((i) => `m${i}\n`).join(''));
    // every line is accounted for: delivered to bob or refused to alice
    await until(() => msgs(bob!, 'alice').length + alice!.pending.length >= N, 3000, 'all 8 lines accounted for');
    const delivered = msgs(bob!, 'alice');
    const K = delivered.length;
    // the burst (the nick line may have taken one token) passes, in order
    assert.ok(K === 5 || K === 4, `burst of 5 (or 4 after the nick): delivered ${JSON.stringify(delivered)}`);
    assert.equal(delivered, range(1, K + 1));
    const errors = alice!.pending;
    assert.is(errors.length, N - K);
    for (const l of errors) assert.match(l, err('FLOOD'));
    alice!.pos = alice!.lines.length;
    // still connected: bob's pm gets through
    bob!.pos = bob!.lines.length;
    bob!.send('/msg alice you ok?');
    await bob!.expectNext('[pm to alice] you ok?');
    await alice!.expectNext('[pm from bob] you ok?');
    // the bucket refills with time (20 lines/s: 150 ms gives 3)
    await sleep(150);
    alice!.send('refilled');
    await bob!.expectNext('alice: refilled');
  }));

test('FLOOD_KICK: after floodKick dropped lines in a row the connection is closed', () =>
  withServer({ floodRate: 1, floodBurst: 3, floodKick: 4 }, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    await alice!.sendRaw(range(1, 21).map((i) => `m${i}\n`).join(''));
    const seen = await alice!.readUntil(err('FLOOD_KICK'));
    seen.pop();
    for (const l of seen) assert.match(l, err('FLOOD'));
    assert.ok(seen.length === 3 || seen.length === 4, `FLOOD lines before FLOOD_KICK (floodKick 4): ${JSON.stringify(seen)}`);
    await alice!.expectClosed();
    const bobSaw = await bob!.readUntil(bye('alice'));
    bobSaw.pop();
    const K = bobSaw.length;
    assert.ok(K === 3 || K === 2, `burst delivered before the kick: ${JSON.stringify(bobSaw)}`);
    assert.equal(bobSaw, range(1, K + 1).map((i) => `alice: m${i}`));
    await bob!.quiet();
    assert.ok(!(await t.server.users()).some((u) => u.nick === 'alice'), 'alice is gone');
  }));

test('floodRate 0 disables flood control', () => withServer({ floodRate: 0, floodBurst: 2, floodKick: 2 }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const N = 200;
  await alice!.sendRaw(range(0, N).map((i) => `m${i}\n`).join(''));
  await bob!.expect(`alice: m${N - 1}`);
  assert.equal(msgs(bob!, 'alice'), range(0, N));
  await alice!.quiet();
}));

test('a slow reader is disconnected alone; the room is told Bye; the others get everything', () =>
  withServer({ maxOutputBytes: 64 * 1024, floodRate: 0 }, async (t) => {
    const [alice, bob, slow] = await t.registerAll('alice', 'bob', 'slow');
    slow!.pause(); // never reads from now on
    const pad = 'p'.repeat(1000);
    const BATCH = 200;
    const LIMIT_BYTES = 64 * 1024 * 1024;
    let sent = 0;
    let gone = false;
    while (!gone) {
      if (sent * 1000 > LIMIT_BYTES) throw new Error(`slow reader still connected after ${sent} KB of chat`);
      const lines = range(sent, sent + BATCH).map((i) => `m${i} ${pad}\n`).join('');
      await alice!.sendRaw(lines);
      sent += BATCH;
      await bob!.expect(`alice: m${sent - 1} ${pad}`, 5000);
      gone = bob!.lines.includes(bye('slow'));
    }
    // bob got every message in order, and exactly one Bye for slow
    const got: number[] = [];
    for (const l of bob!.lines) {
      const m = /^alice: m(\d+) p+$/.exec(l);
      if (m) got.push(Number(m[1]));
    }
    assert.is(got.length, sent);
    assert.equal(got, range(0, sent));
    await alice!.expect(bye('slow'));
    assert.is(bob!.lines.filter((l) => l === bye('slow')).length, 1);
    // alice and bob are fine
    bob!.pos = bob!.lines.length;
    alice!.pos = alice!.lines.length;
    alice!.send('after');
    await bob!.expectNext('alice: after');
    await alice!.quiet();
    await expectStats(t.server, { dropped_slow: 1, users: 2 });
    // once slow reads again it finds the connection closed
    slow!.resume();
    await slow!.closed(5000);
  }, 30_000));

test('a long list reply costs flood tokens: one more line per 1,000 lines it holds', () =>
  withServer({ maxClients: 1200, quietRoomSize: 20, backlog: 1024, floodRate: 0.5, floodBurst: 3, floodKick: 40 }, async (t) => {
    // 1,099 users besides alice: /who is 1,100 lines, so it costs 1 + 1.1 tokens of the 2 alice has
    // left after her nick line (burst 3, refill 0.5 a second)
    const N = 1099;
    const BATCH = 100;
    for (let i = 0; i < N; i += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => t.register(`u${i + j}`)));
    }
    const alice = await t.register('alice');
    alice.send('/who');
    assert.is((await alice.reply('WHO')).count, N + 1);
    // without the charge, 1 token would be left for a second /who; with it, none
    alice.send('/who');
    await alice.expectNext(err('FLOOD'));
  }, 30_000));

test.run();
