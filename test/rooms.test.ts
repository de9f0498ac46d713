// Rooms: /rooms, /create, /join, /leave, /users, /who, room lifetime, message routing, quietRoomSize.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bye, err, welcome, withServer } from './helpers.js';

const test = suite('rooms');

test('/rooms lists rooms with member counts, sorted by name', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  alice!.send('/rooms');
  assert.equal(await alice!.reply('ROOMS'), { rows: ['== ROOM lobby 3'], count: 1 });

  bob!.send('/create zeta');
  await bob!.expectNext('>> bob joined zeta');
  await alice!.expectNext('>> bob left lobby');
  await carol!.expectNext('>> bob left lobby');
  carol!.send('/create alpha');
  await carol!.expectNext('>> carol joined alpha');
  await alice!.expectNext('>> carol left lobby');
  alice!.send('/rooms');
  assert.equal(await alice!.reply('ROOMS'), {
    rows: ['== ROOM alpha 1', '== ROOM lobby 1', '== ROOM zeta 1'], count: 3,
  });
}));

test('/create makes the room and moves you there; the old room is told', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  bob!.send('/create dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob left lobby');
  bob!.send('in dev');
  await bob!.quiet();
  await alice!.quiet(); // bob's message did not reach the lobby
}));

test('/create an existing room (any case, with #) gets ROOM_EXISTS', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/create dev');
  await alice!.expectNext('>> alice joined dev');
  await bob!.expectNext('>> alice left lobby');
  for (const name of ['dev', 'DEV', '#dev', 'lobby']) {
    bob!.send(`/create ${name}`);
    await bob!.expectNext(err('ROOM_EXISTS'));
  }
  // bob is still in the lobby
  bob!.send('/users');
  assert.equal(await bob!.reply('USERS'), { rows: ['== USER bob'], count: 1 });
}));

test('/create and /join check room names', () => withServer({ autoCreateRooms: true }, async (t) => {
  const alice = await t.register('alice');
  for (const cmd of ['/create bad!name', '/create ' + 'r'.repeat(33), '/join a.b', '/create é']) {
    alice.send(cmd);
    const line = await alice.next();
    assert.ok(err('ROOM_INVALID').test(line), `${cmd}: expected ROOM_INVALID, got ${JSON.stringify(line)}`);
  }
  alice.send('/create ' + 'r'.repeat(32));
  await alice.expectNext(`>> alice joined ${'r'.repeat(32)}`);
  for (const cmd of ['/join', '/create']) {
    alice.send(cmd);
    await alice.expectNext(err('USAGE'));
  }
}));

test('/join: old room told "left", new room (you included) told "joined"', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  carol!.send('/create dev');
  await carol!.expectNext('>> carol joined dev');
  await alice!.expectNext('>> carol left lobby');
  await bob!.expectNext('>> carol left lobby');

  alice!.send('/join #DEV'); // leading #, any case
  await alice!.expectNext(/^>> alice joined dev$/i);
  await carol!.expectNext(/^>> alice joined dev$/i);
  await bob!.expectNext('>> alice left lobby');
  await alice!.quiet(); // no "left" notice to the one who left
}));

test('/join a room that does not exist: NO_SUCH_ROOM, you stay', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/join nowhere');
  await alice!.expectNext(err('NO_SUCH_ROOM'));
  alice!.send('still here');
  await bob!.expectNext('alice: still here');
  alice!.send('/rooms');
  assert.equal(await alice!.reply('ROOMS'), { rows: ['== ROOM lobby 2'], count: 1 });
}));

test('autoCreateRooms: /join creates the room', () => withServer({ autoCreateRooms: true }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/join fresh');
  await alice!.expectNext('>> alice joined fresh');
  await bob!.expectNext('>> alice left lobby');
  bob!.send('/rooms');
  assert.equal(await bob!.reply('ROOMS'), { rows: ['== ROOM fresh 1', '== ROOM lobby 1'], count: 2 });
}));

test('ALREADY_IN_ROOM for /join of your room and /leave in the default room', () => withServer({}, async (t) => {
  const alice = await t.register('alice');
  alice.send('/join lobby');
  await alice.expectNext(err('ALREADY_IN_ROOM'));
  alice.send('/leave');
  await alice.expectNext(err('ALREADY_IN_ROOM'));
  alice.send('/create dev');
  await alice.expectNext('>> alice joined dev');
  alice.send('/join dev');
  await alice.expectNext(err('ALREADY_IN_ROOM'));
  alice.send('/join #Dev');
  await alice.expectNext(err('ALREADY_IN_ROOM'));
}));

test('/leave goes back to the default room', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  alice!.send('/create dev');
  await alice!.expectNext('>> alice joined dev');
  await bob!.expectNext('>> alice left lobby');
  await carol!.expectNext('>> alice left lobby');
  bob!.send('/join dev');
  await bob!.expectNext('>> bob joined dev');
  await alice!.expectNext('>> bob joined dev');
  await carol!.expectNext('>> bob left lobby');

  alice!.send('/leave');
  await alice!.expectNext('>> alice joined lobby');
  await carol!.expectNext('>> alice joined lobby');
  await bob!.expectNext('>> alice left dev');
  alice!.send('back');
  await carol!.expectNext('alice: back');
  await bob!.quiet();
}));

test('/users lists the members of your room; /who lists everyone online', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  const anon = await t.connect('anon'); // unregistered: in no list
  await anon.expectNext('>> Enter pseudo:');
  carol!.send('/create dev');
  await carol!.expectNext('>> carol joined dev');
  await alice!.expectNext('>> carol left lobby');
  await bob!.expectNext('>> carol left lobby');

  alice!.send('/users');
  const users = await alice!.reply('USERS');
  assert.equal(users.rows.sort(), ['== USER alice', '== USER bob']);
  assert.is(users.count, 2);

  carol!.send('/users');
  assert.equal(await carol!.reply('USERS'), { rows: ['== USER carol'], count: 1 });

  bob!.send('/who');
  const who = await bob!.reply('WHO');
  assert.equal(who.rows.sort(), ['== WHO alice lobby', '== WHO bob lobby', '== WHO carol dev']);
  assert.is(who.count, 3);
}));

test('a room other than the default room is removed when its last member leaves', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/create dev');
  await alice!.expectNext('>> alice joined dev');
  await bob!.expectNext('>> alice left lobby');
  bob!.send('/create ops');
  await bob!.expectNext('>> bob joined ops');
  // the default room stays, even empty
  alice!.send('/rooms');
  assert.equal(await alice!.reply('ROOMS'), { rows: ['== ROOM dev 1', '== ROOM lobby 0', '== ROOM ops 1'], count: 3 });

  alice!.send('/leave'); // dev is now empty
  await alice!.expectNext('>> alice joined lobby');
  bob!.end(); // ops is now empty through a disconnect
  await bob!.closed();
  await alice!.quiet(); // bob was not in alice's room: no Bye for her
  alice!.send('/rooms');
  assert.equal(await alice!.reply('ROOMS'), { rows: ['== ROOM lobby 1'], count: 1 });
  alice!.send('/join dev');
  await alice!.expectNext(err('NO_SUCH_ROOM'));
  alice!.send('/create dev'); // can be created again
  await alice!.expectNext('>> alice joined dev');
}));

test('messages go only to the current room, never echoed to the sender', () => withServer({}, async (t) => {
  const [alice, bob, carol, dave] = await t.registerAll('alice', 'bob', 'carol', 'dave');
  carol!.send('/create dev');
  await carol!.expectNext('>> carol joined dev');
  for (const c of [alice!, bob!, dave!]) await c.expectNext('>> carol left lobby');
  dave!.send('/join dev');
  await dave!.expectNext('>> dave joined dev');
  await carol!.expectNext('>> dave joined dev');
  await alice!.expectNext('>> dave left lobby');
  await bob!.expectNext('>> dave left lobby');

  alice!.send('lobby talk');
  carol!.send('dev talk');
  await bob!.expectNext('alice: lobby talk');
  await dave!.expectNext('carol: dev talk');
  // barriers: each sender's own round trip shows no echo; a pm shows nothing crossed rooms
  await alice!.quiet();
  await carol!.quiet();
  alice!.send('/msg carol barrier');
  await carol!.expectNext('[pm from alice] barrier');
  carol!.send('/msg bob barrier');
  await bob!.expectNext('[pm from carol] barrier');
  await dave!.quiet();
}));

test('a departing member: the room is told Bye', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  bob!.end();
  await alice!.expectNext(bye('bob'));
}));

test('quietRoomSize: joins and departures not announced in a big room; messages still flow', () =>
  withServer({ quietRoomSize: 2 }, async (t) => {
    // up to quietRoomSize members, joins are announced as usual
    const [alice, bob] = await t.registerAll('alice', 'bob');
    const carol = await t.register('carol'); // the room grows past 2 with carol: announcing it or not is the boundary
    const dave = await t.register('dave'); // the room already had 3 > 2 members: no announcement
    carol.send('after dave');
    // alice and bob: whatever carol's welcome did, dave's welcome must not be there
    for (const c of [alice!, bob!]) {
      const seen = await c.readUntil('carol: after dave');
      assert.not.ok(seen.includes(welcome('dave')), `${c.name} saw dave's welcome: ${JSON.stringify(seen)}`);
    }
    await dave.expectNext('carol: after dave');
    // departure in a room of 4 > 2: no Bye
    dave.send('/quit');
    await dave.closed();
    carol.send('after quit');
    await alice!.expectNext('carol: after quit');
    await bob!.expectNext('carol: after quit');
    // nor a join via /join
    const erin = await t.register('erin');
    erin.send('/create side');
    await erin.expectNext('>> erin joined side');
    erin.send('/join lobby'); // whether erin herself is told is not specified in a quiet room
    erin.send('erin here');
    await alice!.expectNext('erin: erin here');
    await bob!.expectNext('erin: erin here');
    await carol.expectNext('erin: erin here');
  }));

test.run();
