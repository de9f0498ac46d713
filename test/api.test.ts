// The façade API: createServer / listen / stats / announce / kick / users / rooms / reload / events /
// close.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type {
  ConnectEvent, DisconnectEvent, JoinEvent, LeaveEvent, MessageEvent, NickEvent, RegisterEvent, TimeoutEvent,
} from '../lib/index.js';
import { createServer } from '../lib/index.js';
import { PROMPT, TEST_DEFAULTS, bye, err, expectStats, waitEvent, welcome, withServer, withTimeout } from './helpers.js';

const test = suite('façade API');

test('listen() on port 0 resolves with the real port; a client can connect', () => withServer({}, async (t) => {
  assert.type(t.port, 'number');
  assert.ok(t.port > 0 && t.port < 65536, `port ${t.port}`);
  assert.is(t.host, '127.0.0.1');
  const c = await t.connect();
  await c.expectNext(PROMPT);
}));

test('stats() counters move with traffic', () => withServer({}, async (t) => {
  const s0 = t.server.stats();
  assert.is(s0.accepted, 0);
  assert.is(s0.users, 0);
  assert.is(s0.connections, 0);
  assert.is(s0.rooms, 1, 'the default room always exists');
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  const s1 = await expectStats(t.server, { accepted: 3, users: 3, connections: 3, peak_users: 3 });
  assert.ok(s1.messages_in >= 3, `messages_in ${s1.messages_in} counts the three nick lines`);
  await expectStats(t.server, { bytes_in: s1.bytes_in }); // settled: nothing else in flight

  alice!.send('hi');
  await bob!.expectNext('alice: hi');
  await carol!.expectNext('alice: hi');
  const s2 = await expectStats(t.server, {
    messages_in: s1.messages_in + 1, // one line in
    deliveries: s1.deliveries + 2, // a room message to 3 members is 2 deliveries
    bytes_in: s1.bytes_in + 'hi\n'.length,
    bytes_out: s1.bytes_out + 2 * 'alice: hi\n'.length,
  });
  assert.ok(Number.isFinite(s2.latency_mean_us) && s2.latency_mean_us >= 0);
  assert.ok(Number.isFinite(s2.latency_p99_us) && s2.latency_p99_us >= 0);

  carol!.send('/quit');
  await alice!.expect(bye('carol'));
  await carol!.closed();
  const s3 = await expectStats(t.server, { users: 2, connections: 2, peak_users: 3, accepted: 3 });
  assert.ok(s3.uptime_s >= 0);
}));

test('announce() sends ">> [server] text" to every registered user, not to unregistered ones', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  const anon = await t.connect('anon');
  await anon.expectNext(PROMPT);
  t.server.announce('maintenance at noon');
  await alice!.expectNext('>> [server] maintenance at noon');
  await bob!.expectNext('>> [server] maintenance at noon');
  anon.send('carol');
  await anon.expectNext(welcome('carol')); // nothing before it
}));

test('kick(): "!! KICKED reason", close, Bye to the room, resolves true; unknown nick resolves false', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const disc = waitEvent<DisconnectEvent>(t.server, 'disconnect', (e) => e.nick === 'bob');
  assert.is(await withTimeout(t.server.kick('bob', 'be nice'), 3000, 'kick'), true);
  await bob!.expectNext('!! KICKED be nice');
  await bob!.expectClosed();
  await alice!.expectNext(bye('bob'));
  assert.is((await disc).reason, 'kicked');
  assert.is(await withTimeout(t.server.kick('nobody'), 3000, 'kick nobody'), false);
  assert.is(await withTimeout(t.server.kick('bob'), 3000, 'kick bob again'), false);
  await alice!.quiet();
}));

test('kick() a user in another room: that room is told Bye', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  await carol!.expectNext('>> bob left lobby');
  carol!.send('/join dev');
  await carol!.expectNext('>> carol joined dev');
  await bob!.expectNext('>> carol joined dev');
  await alice!.expectNext('>> carol left lobby');
  assert.is(await withTimeout(t.server.kick('CAROL', 'case does not matter'), 3000, 'kick'), true);
  await carol!.expectNext('!! KICKED case does not matter');
  await carol!.expectClosed();
  await bob!.expectNext(bye('carol'));
  await alice!.quiet();
}));

test('users() and rooms()', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const anon = await t.connect('anon');
  await anon.expectNext(PROMPT);
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  const users = (await withTimeout(Promise.resolve(t.server.users()), 3000, 'users()'))
    .map((u) => ({ nick: u.nick, room: u.room, hasId: typeof u.id === 'number', addr: u.address.includes('127.0.0.1') }))
    .sort((a, b) => a.nick.localeCompare(b.nick));
  assert.equal(users, [
    { nick: 'alice', room: 'lobby', hasId: true, addr: true },
    { nick: 'bob', room: 'dev', hasId: true, addr: true },
  ]);
  const rooms = (await withTimeout(Promise.resolve(t.server.rooms()), 3000, 'rooms()'))
    .map((r) => ({ name: r.name, members: r.members }))
    .sort((a, b) => a.name.localeCompare(b.name));
  assert.equal(rooms, [{ name: 'dev', members: 1 }, { name: 'lobby', members: 1 }]);
}));

test('deliver(): structured lines reach the online nicks (any case), formatted by their protocol; the offline ones are returned', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const offline = await withTimeout(t.server.deliver(['ALICE', 'nobody', 'bob', 'not a nick'], { type: 'group', from: 'server', group: 'ops', text: 'deploy at noon' }), 3000, 'deliver()');
  assert.equal(offline, ['nobody', 'not a nick']);
  await alice!.expectNext('[@ops from server] deploy at noon');
  await bob!.expectNext('[@ops from server] deploy at noon');
  // no lines only asks who is offline: nothing is sent
  assert.equal(await t.server.deliver(['alice', 'carol']), ['carol']);
  assert.equal(await t.server.deliver(['alice', 'carol'], []), ['carol']);
  bob!.send('/msg alice ping');
  await alice!.expectNext('[pm from bob] ping');
  assert.ok(t.server.stats().deliveries >= 3);
}));

test('per-connection events start flowing when a listener is added after listen()', () => withServer({ logLevel: 'silent' }, async (t) => {
  await t.register('early');
  const regP = waitEvent<RegisterEvent>(t.server, 'register', (e) => e.nick === 'late');
  const discP = waitEvent<DisconnectEvent>(t.server, 'disconnect', (e) => e.nick === 'late');
  const late = await t.register('late');
  assert.is((await regP).nick, 'late');
  late.send('/quit');
  assert.is((await discP).reason, 'quit');
}));

test('events: connect, register, join, leave, disconnect', () => withServer({}, async (t) => {
  const seen: string[] = [];
  const s = t.server;
  s.on('connect', (e: ConnectEvent) => seen.push(`connect ${typeof e.id} ${e.address.includes('127.0.0.1')}`));
  s.on('register', (e: RegisterEvent) => seen.push(`register ${e.nick}`));
  s.on('join', (e: JoinEvent) => seen.push(`join ${e.nick} ${e.room}`));
  s.on('leave', (e: LeaveEvent) => seen.push(`leave ${e.nick} ${e.room}`));
  s.on('disconnect', (e: DisconnectEvent) => seen.push(`disconnect ${e.nick} ${e.reason}`));

  s.on('nick', (e: NickEvent) => seen.push(`nick ${e.old} ${e.nick}`));
  const regP = waitEvent<RegisterEvent>(s, 'register', (e) => e.nick === 'al');
  const alice = await t.register('al');
  const reg = await regP;
  alice.send('/nick alice');
  await alice.expectNext('>> al is now known as alice');
  alice.send('/create dev');
  await alice.expectNext('>> alice joined dev');
  const discP = waitEvent<DisconnectEvent>(s, 'disconnect', (e) => e.id === reg.id);
  alice.send('/quit');
  await alice.closed();
  const disc = await discP;
  assert.is(disc.reason, 'quit');
  assert.is(disc.nick, 'alice');

  const anonDisc = waitEvent<DisconnectEvent>(s, 'disconnect', (e) => e.nick === null);
  const anon = await t.connect();
  await anon.expectNext(PROMPT);
  anon.end();
  assert.is((await anonDisc).reason, 'closed');

  const joinDev = seen.indexOf('join alice dev');
  assert.ok(seen[0] === 'connect number true', JSON.stringify(seen));
  assert.ok(seen.indexOf('register al') > 0, JSON.stringify(seen));
  assert.ok(seen.indexOf('nick al alice') > seen.indexOf('register al'), JSON.stringify(seen));
  assert.ok(joinDev > seen.indexOf('nick al alice'), JSON.stringify(seen));
  assert.ok(seen.includes('leave alice lobby'), JSON.stringify(seen));
  assert.ok(seen.indexOf('disconnect alice quit') > joinDev, JSON.stringify(seen));
}));

test('events: a reset connection disconnects with reason reset or closed; timeout events', () =>
  withServer({ registrationTimeoutMs: 150 }, async (t) => {
    const alice = await t.register('alice');
    const d = waitEvent<DisconnectEvent>(t.server, 'disconnect', (e) => e.nick === 'alice');
    alice.reset();
    assert.ok(['reset', 'closed'].includes((await d).reason), (await d).reason);
    const to = waitEvent<TimeoutEvent>(t.server, 'timeout', () => true, 3000);
    const dr = waitEvent<DisconnectEvent>(t.server, 'disconnect', () => true, 3000);
    const anon = await t.connect();
    await anon.expectNext(PROMPT);
    const e = await to;
    assert.is(e.kind, 'registration');
    assert.is(e.nick, null);
    assert.is((await dr).reason, 'registration');
    await anon.expectNext(err('REGISTRATION_TIMEOUT'));
  }));

test('message events: emitted once a listener is attached, for room and private messages', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const got: MessageEvent[] = [];
  t.server.on('message', (e: MessageEvent) => got.push(e));
  // attaching the listener turns the engine's emission on (asynchronously): one round trip first
  await alice!.quiet();
  const first = waitEvent<MessageEvent>(t.server, 'message', (x) => x.text === 'to the room');
  alice!.send('to the room');
  await bob!.expectNext('alice: to the room');
  const e = await first;
  assert.is(e.nick, 'alice');
  assert.is(e.room, 'lobby');
  assert.is(e.to, null);
  const pm = waitEvent<MessageEvent>(t.server, 'message', (x) => x.to !== null);
  bob!.send('/msg alice psst');
  await alice!.expectNext('[pm from bob] psst');
  const p = await pm;
  assert.is(p.nick, 'bob');
  assert.is(p.to, 'alice');
  assert.is(p.text, 'psst');
  assert.is(p.room, null);
  assert.is(got.length, 2, `one event per message: ${JSON.stringify(got)}`);
}));

test('reload() applies a reloadable policy to live connections', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('x'.repeat(100));
  await bob!.expectNext(`alice: ${'x'.repeat(100)}`);
  t.server.reload({ maxLineBytes: 32 });
  // setPolicy is asynchronous to the engine: the next lines must see it once a round trip has passed
  await alice!.quiet();
  alice!.send('y'.repeat(100));
  await alice!.expectNext(err('LINE_TOO_LONG'));
  alice!.send('short');
  await bob!.expectNext('alice: short');
}));

test('close() tells every client SHUTDOWN, closes them, resolves with the final stats', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const anon = await t.connect('anon');
  await anon.expectNext(PROMPT);
  alice!.send('last words');
  await bob!.expectNext('alice: last words');
  const stats = await withTimeout(t.close(), 5000, 'close()');
  for (const c of [alice!, bob!, anon]) {
    await c.expectNext('!! SHUTDOWN server is shutting down');
    await c.expectClosed();
  }
  assert.is(stats.accepted, 3);
  assert.is(stats.peak_users, 2);
  assert.ok(stats.messages_in >= 3);
  assert.is(t.server.stats().accepted, 3, 'stats() after close gives the final counters');
  // idempotent
  assert.equal(await t.close(), stats);
}));

test('listen() on a port in use rejects with code EADDRINUSE', () => withServer({}, async (t) => {
  // accounts off: a second server on the same data directory would be refused first (EPCHAT_STORAGE)
  const other = createServer({ ...TEST_DEFAULTS, accounts: false, port: t.port });
  try {
    let caught: unknown;
    try {
      await withTimeout(other.listen(), 3000, 'second listen()');
    } catch (e) {
      caught = e;
    }
    assert.ok(caught, 'listen() on a used port must reject');
    assert.is((caught as { code?: string }).code, 'EADDRINUSE');
    // the first server is unaffected
    const c = await t.connect();
    await c.expectNext(PROMPT);
  } finally {
    await withTimeout(other.close(), 3000, 'close the second server');
  }
}));

test('handleSignals: a SIGHUP to the process is reported as a signal event, the server keeps running', () =>
  withServer({ handleSignals: true }, async (t) => {
    const alice = await t.register('alice');
    const sig = waitEvent<string>(t.server, 'signal', (s) => s === 'SIGHUP');
    process.kill(process.pid, 'SIGHUP');
    assert.is(await sig, 'SIGHUP');
    await alice.quiet();
    assert.ok(t.server.listening);
  }));

test('close() before listen() and createServer() option validation', async () => {
  const s = createServer({ ...TEST_DEFAULTS });
  const stats = await withTimeout(s.close(), 1000, 'close() before listen()');
  assert.is(stats.accepted, 0);
  assert.throws(() => createServer({ ...TEST_DEFAULTS, maxLineBytes: -1 }), (e: { code?: string }) => e.code === 'EPCHAT_CONFIG_INVALID');
  assert.throws(() => createServer({ ...TEST_DEFAULTS, port: 70000 }), (e: { code?: string }) => e.code === 'EPCHAT_CONFIG_INVALID');
});

test.run();
