// Edge cases of the contract: pipelining, half-close, verbatim text, room limits, churn.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, bye, err, expectStats, welcome, withServer } from './helpers.js';

const test = suite('edge cases');

test('a client may pipeline its nick and commands before reading the prompt; order is kept', () => withServer({}, async (t) => {
  const bob = await t.register('bob');
  const c = await t.connect('alice');
  await c.sendRaw('alice\n/join nowhere\nfirst\n/create dev\nin dev\n/leave\nback\n');
  await c.expectLines([
    PROMPT, welcome('alice'), err('NO_SUCH_ROOM'), '>> alice joined dev', '>> alice joined lobby',
  ]);
  await bob.expectLines([welcome('alice'), 'alice: first', '>> alice left lobby', '>> alice joined lobby', 'alice: back']);
  await c.quiet();
}));

test('lines sent just before a half-close (FIN) are delivered, then Bye', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  await alice!.sendRaw('one\ntwo\nlast words\n');
  alice!.end();
  await bob!.expectLines(['alice: one', 'alice: two', 'alice: last words', bye('alice')]);
  await alice!.closed();
}));

test('a nick sent with a FIN right behind it: welcome then Bye to the room', () => withServer({}, async (t) => {
  const bob = await t.register('bob');
  const c = await t.connect('hasty');
  await c.sendRaw('hasty\nhello and goodbye\n');
  c.end();
  await bob.expectLines([welcome('hasty'), 'hasty: hello and goodbye', bye('hasty')]);
}));

test('message text is forwarded verbatim (leading/trailing spaces; a leading space makes / text)', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  for (const text of ['  padded  ', ' /users', '\ttabbed', 'a  b   c', ':)', 'émoji 😀 ok']) {
    alice!.send(text);
    await bob!.expectNext(`alice: ${text}`);
  }
  await alice!.quiet();
}));

test('maxRooms: creating past the limit gets ROOM_LIMIT (also via autoCreateRooms); a removed room frees a slot', () =>
  withServer({ maxRooms: 2, autoCreateRooms: true }, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    alice!.send('/create r1');
    await alice!.expectNext('>> alice joined r1');
    await bob!.expectNext('>> alice left lobby');
    bob!.send('/create r2');
    await bob!.expectNext(err('ROOM_LIMIT'));
    bob!.send('/join r3');
    await bob!.expectNext(err('ROOM_LIMIT'));
    bob!.send('/join r1'); // an existing room is fine
    await bob!.expectNext('>> bob joined r1');
    await alice!.expectNext('>> bob joined r1');
    bob!.send('/rooms');
    assert.equal(await bob!.reply('ROOMS'), { rows: ['== ROOM lobby 0', '== ROOM r1 2'], count: 2 });
    alice!.send('/leave');
    await alice!.expectNext('>> alice joined lobby');
    await bob!.expectNext('>> alice left r1');
    bob!.send('/leave'); // r1 is gone
    await bob!.expectNext('>> bob joined lobby');
    await alice!.expectNext('>> bob joined lobby');
    bob!.send('/create r2');
    await bob!.expectNext('>> bob joined r2');
  }));

test('room names are case-insensitive for lookup; /rooms shows one room', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/create Dev');
  await alice!.expectNext(/^>> alice joined Dev$/);
  await bob!.expectNext('>> alice left lobby');
  bob!.send('/join DEV');
  await bob!.expectNext(/^>> bob joined Dev$/);
  await alice!.expectNext(/^>> bob joined Dev$/);
  bob!.send('/rooms');
  assert.equal(await bob!.reply('ROOMS'), { rows: ['== ROOM Dev 2', '== ROOM lobby 0'], count: 2 });
}));

test('a nick freed by a disconnect can be taken at once', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/quit');
  await bob!.expectNext(bye('alice'));
  const again = await t.register('ALICE');
  await bob!.expectNext(welcome('ALICE'));
  again.send('back');
  await bob!.expectNext('ALICE: back');
}));

test('churn: 100 connect/register/quit cycles leave nothing behind', () => withServer({}, async (t) => {
  const watcher = await t.register('watcher');
  for (let i = 0; i < 100; i++) {
    const c = await t.register(`c${i}`);
    c.send(i % 2 ? '/quit' : `m${i}`);
    if (i % 2) await c.closed();
    else c.reset();
  }
  // the watcher saw each one arrive and leave, in order
  for (let i = 0; i < 100; i++) {
    await watcher.expectNext(welcome(`c${i}`));
    if (i % 2 === 0) {
      // a reset right behind the line: the line may or may not have been read before the RST
      const l = await watcher.next();
      if (l === `c${i}: m${i}`) await watcher.expectNext(bye(`c${i}`));
      else assert.is(l, bye(`c${i}`));
    } else {
      await watcher.expectNext(bye(`c${i}`));
    }
  }
  watcher.send('/who');
  assert.equal(await watcher.reply('WHO'), { rows: ['== WHO watcher lobby'], count: 1 });
  await expectStats(t.server, { users: 1, connections: 1, accepted: 101, rooms: 1 });
}));

test.run();
