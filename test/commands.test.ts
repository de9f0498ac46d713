// Private messages, /me, /help, /quit, /stats, the // escape, unknown commands.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bye, err, withServer } from './helpers.js';

const test = suite('commands');

test('/msg and /pm: recipient gets [pm from], sender gets [pm to], across rooms, nobody else', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  await carol!.expectNext('>> bob left lobby');

  alice!.send('/msg bob hi there');
  await alice!.expectNext('[pm to bob] hi there');
  await bob!.expectNext('[pm from alice] hi there');
  bob!.send('/pm alice  two  spaces\tand tab');
  await bob!.expectNext('[pm to alice]  two  spaces\tand tab');
  await alice!.expectNext('[pm from bob]  two  spaces\tand tab');
  await carol!.quiet();
}));

test('/msg to a nick is case-insensitive', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'Bob');
  alice!.send('/msg BOB hello');
  await alice!.expectNext(/^\[pm to (Bob|BOB)\] hello$/);
  await bob!.expectNext('[pm from alice] hello');
}));

test('/msg errors: NO_SUCH_USER, EMPTY, USAGE', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const anon = await t.connect('anon');
  await anon.expectNext('>> Enter pseudo:');
  alice!.send('/msg nobody hi');
  await alice!.expectNext(err('NO_SUCH_USER'));
  alice!.send('/pm nobody hi');
  await alice!.expectNext(err('NO_SUCH_USER'));
  alice!.send('/msg bob');
  await alice!.expectNext(err('EMPTY'));
  alice!.send('/msg bob    ');
  await alice!.expectNext(err('EMPTY'));
  alice!.send('/msg');
  await alice!.expectNext(err('USAGE'));
  await bob!.quiet();
}));

test('/me: the room, sender included, gets "* nick action"; other rooms do not', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  carol!.send('/create dev');
  await carol!.expectNext('>> carol joined dev');
  await alice!.expectNext('>> carol left lobby');
  await bob!.expectNext('>> carol left lobby');
  alice!.send('/me waves at everyone');
  await alice!.expectNext('* alice waves at everyone');
  await bob!.expectNext('* alice waves at everyone');
  await carol!.quiet();
  alice!.send('/me');
  await alice!.expectNext(err('EMPTY'));
  alice!.send('/me   ');
  await alice!.expectNext(err('EMPTY'));
  await bob!.quiet();
}));

test('/help lists the commands, closed by END HELP with the count', () => withServer({}, async (t) => {
  const alice = await t.register('alice');
  alice.send('/help');
  const help = await alice.reply('HELP');
  assert.is(help.count, help.rows.length);
  for (const row of help.rows) assert.match(row, /^== HELP \/[a-z]+/);
  const listed = help.rows.map((r) => r.split(' ')[2]);
  for (const cmd of ['/help', '/nick', '/rooms', '/create', '/join', '/leave', '/users', '/who', '/msg', '/me', '/quit', '/stats']) {
    assert.ok(listed.includes(cmd), `/help lists ${cmd}: ${JSON.stringify(listed)}`);
  }
}));

test('/quit with a reason: Bye with the reason to the user and the room, connection closed', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/quit gone fishing');
  await alice!.expectNext(`${bye('alice')} (gone fishing)`);
  await alice!.expectClosed();
  await bob!.expectNext(`${bye('alice')} (gone fishing)`);
  bob!.send('/who');
  assert.equal(await bob!.reply('WHO'), { rows: ['== WHO bob lobby'], count: 1 });
}));

test('/quit without a reason', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  bob!.send('/quit');
  await bob!.expectNext(bye('bob'));
  await bob!.expectClosed();
  await alice!.expectNext(bye('bob'));
  await alice!.quiet();
}));

const STAT_NAMES = ['uptime_s', 'users', 'connections', 'peak_users', 'accepted', 'rejected_full', 'messages_in',
  'deliveries', 'bytes_in', 'bytes_out', 'rooms', 'latency_mean_us', 'latency_p99_us', 'dropped_slow'];

test('/stats: one STAT line per counter, then END STATS n', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const anon = await t.connect('anon');
  await anon.expectNext('>> Enter pseudo:');
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  alice!.send('/stats');
  const { rows, count } = await alice!.reply('STATS');
  assert.is(count, rows.length);
  const stats = new Map<string, number>();
  for (const row of rows) {
    const m = /^== STAT ([a-z0-9_]+) (-?\d+(?:\.\d+)?)$/.exec(row);
    assert.ok(m, `STAT line format: ${JSON.stringify(row)}`);
    stats.set(m![1]!, Number(m![2]));
  }
  for (const name of STAT_NAMES) assert.ok(stats.has(name), `/stats has ${name}: ${JSON.stringify(rows)}`);
  assert.is(stats.get('users'), 2);
  assert.is(stats.get('connections'), 3);
  assert.is(stats.get('peak_users'), 2);
  assert.is(stats.get('accepted'), 3);
  assert.is(stats.get('rooms'), 2);
  assert.is(stats.get('rejected_full'), 0);
  assert.is(stats.get('dropped_slow'), 0);
  assert.ok(stats.get('messages_in')! >= 4, 'messages_in counts the lines read (nicks, /create, /stats)');
  assert.ok(stats.get('bytes_in')! > 0 && stats.get('bytes_out')! > 0);
}));

test('// sends the rest of the line, starting with /, as a message', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('//shrug');
  await bob!.expectNext('alice: /shrug');
  alice!.send('//join lobby');
  await bob!.expectNext('alice: /join lobby');
  alice!.send('///');
  await bob!.expectNext('alice: //');
  await alice!.quiet();
}));

test('unknown commands get UNKNOWN_COMMAND and are not sent to the room', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const cmds = ['/dance', '/shrug now', '/ msg', '/'];
  for (const cmd of cmds) alice!.send(cmd);
  alice!.send('/msg bob barrier');
  const replies = await alice!.readUntil('[pm to bob] barrier');
  replies.pop();
  assert.is(replies.length, cmds.length, `one reply per command ${JSON.stringify(cmds)}: ${JSON.stringify(replies)}`);
  for (const r of replies) assert.match(r, err('UNKNOWN_COMMAND'));
  await bob!.expectNext('[pm from alice] barrier'); // none of them reached the room
}));

test.run();
