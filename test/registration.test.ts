// Registration and nicknames (docs/protocol.md: Session, nickname rules, /nick).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, bye, err, welcome, withServer } from './helpers.js';

const test = suite('registration & nicks');

test('the prompt is the first line; the nick is welcomed', () => withServer({}, async (t) => {
  const c = await t.connect('alice');
  assert.is(await c.next(), PROMPT);
  c.send('alice');
  assert.is(await c.next(), '>> Welcome alice !');
  await c.quiet();
}));

test('the welcome goes to everyone in the default room, newcomer included', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const carol = await t.register('carol');
  assert.is(await alice!.next(), welcome('carol'));
  assert.is(await bob!.next(), welcome('carol'));
  await carol.quiet();
  await alice!.quiet();
}));

test('an unregistered connection does not receive room traffic', () => withServer({}, async (t) => {
  const alice = await t.register('alice');
  const anon = await t.connect('anon');
  await anon.expectNext(PROMPT);
  alice.send('hello room');
  const bob = await t.register('bob');
  await alice.expectNext(welcome('bob'));
  // anon registers after both: the first thing after its prompt must be its own welcome
  anon.send('carol');
  await anon.expectNext(welcome('carol'));
  await alice.expectNext(welcome('carol'));
  await bob.expectNext(welcome('carol'));
  await anon.quiet();
}));

test('a nick in use is refused without regard to case, prompt again, connection kept', () => withServer({}, async (t) => {
  const alice = await t.register('Alice');
  const c = await t.connect('second');
  await c.expectNext(PROMPT);
  for (const attempt of ['alice', 'ALICE', 'aLiCe']) {
    c.send(attempt);
    await c.expectNext(err('NICK_TAKEN'));
    await c.expectNext(PROMPT);
  }
  c.send('alice2');
  await c.expectNext(welcome('alice2'));
  await alice.expectNext(welcome('alice2'));
}));

test('reserved nicks are refused (any case), prompt again', () => withServer({}, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  for (const nick of ['server', 'admin', 'root', 'system', 'epchat', 'nickserv', 'chanserv', 'operator', 'Server', 'ROOT']) {
    c.send(nick);
    await c.expectNext(err('NICK_RESERVED'));
    await c.expectNext(PROMPT);
  }
  c.send('serverx');
  await c.expectNext(welcome('serverx'));
}));

test('reservedNicks option', () => withServer({ reservedNicks: ['bigboss'] }, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  c.send('BigBoss');
  await c.expectNext(err('NICK_RESERVED'));
  await c.expectNext(PROMPT);
  c.send('bigboss2');
  await c.expectNext(welcome('bigboss2'));
}));

test('malformed nicks get NICK_INVALID and the prompt again', () => withServer({}, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  const bad = ['1abc', '-abc', 'a b', 'al:ce', 'bob!', '[x]', '*x', 'a=b', 'a>b', 'al.ce', 'élise', 'x'.repeat(25), ''];
  for (const nick of bad) {
    c.send(nick);
    const line = await c.next();
    assert.ok(err('NICK_INVALID').test(line), `nick ${JSON.stringify(nick)}: expected NICK_INVALID, got ${JSON.stringify(line)}`);
    await c.expectNext(PROMPT);
  }
  // the connection was kept through all of that
  c.send('x'.repeat(24));
  await c.expectNext(welcome('x'.repeat(24)));
}));

test('valid nick shapes: underscore start, digits, dash, 1 char', () => withServer({}, async (t) => {
  for (const nick of ['_x', 'a-b_9', 'Z', 'A1-_']) await t.register(nick);
}));

test('nickMaxLength option', () => withServer({ nickMaxLength: 5 }, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  c.send('abcdef');
  await c.expectNext(err('NICK_INVALID'));
  await c.expectNext(PROMPT);
  c.send('abcde');
  await c.expectNext(welcome('abcde'));
}));

test('before registration: commands other than /help and /quit get NOT_REGISTERED', () => withServer({}, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  // whether the prompt is repeated after NOT_REGISTERED is not specified: skip prompts
  const nextNonPrompt = async () => { let l = await c.next(); while (l === PROMPT) l = await c.next(); return l; };
  for (const cmd of ['/users', '/rooms', '/join lobby', '/msg bob hi', '/nick bob', '/stats', '/who', '/me waves']) {
    c.send(cmd);
    const line = await nextNonPrompt();
    assert.ok(err('NOT_REGISTERED').test(line), `${cmd}: expected NOT_REGISTERED, got ${JSON.stringify(line)}`);
  }
  c.send('/help');
  assert.match(await nextNonPrompt(), /^== HELP /);
  const help = await c.reply('HELP');
  assert.ok(help.count > 1, 'help has lines');
  // still unregistered but connected: a nick now works
  c.send('alice');
  assert.is(await nextNonPrompt(), welcome('alice'));
}));

test('/quit before registration closes the connection', () => withServer({}, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  c.send('/quit');
  await c.closed();
  // nobody is online
  const alice = await t.register('alice');
  alice.send('/who');
  const who = await alice.reply('WHO');
  assert.equal(who.rows, ['== WHO alice lobby']);
}));

test('/nick renames: the room is told (user included), other rooms are not', () => withServer({}, async (t) => {
  const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
  carol!.send('/create elsewhere');
  await carol!.expectNext('>> carol joined elsewhere');
  await alice!.expectNext('>> carol left lobby');
  await bob!.expectNext('>> carol left lobby');

  alice!.send('/nick alicia');
  await alice!.expectNext('>> alice is now known as alicia');
  await bob!.expectNext('>> alice is now known as alicia');
  alice!.send('hi');
  await bob!.expectNext('alicia: hi');
  // carol saw nothing of it: a pm from bob is the next thing she gets
  bob!.send('/msg carol ping');
  await bob!.expectNext('[pm to carol] ping');
  await carol!.expectNext('[pm from bob] ping');

  // the old nick is free, the new one is taken
  await t.register('alice');
  await alice!.expectNext(welcome('alice'));
  await bob!.expectNext(welcome('alice'));
  const dup = await t.connect();
  await dup.expectNext(PROMPT);
  dup.send('ALICIA');
  await dup.expectNext(err('NICK_TAKEN'));
}));

test('/nick errors keep the old nick and send no prompt', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/nick BOB');
  await alice!.expectNext(err('NICK_TAKEN'));
  alice!.send('/nick 9lives');
  await alice!.expectNext(err('NICK_INVALID'));
  alice!.send('/nick admin');
  await alice!.expectNext(err('NICK_RESERVED'));
  alice!.send('/nick');
  await alice!.expectNext(err('USAGE'));
  alice!.send('still me');
  await bob!.expectNext('alice: still me');
  await alice!.quiet();
  await bob!.quiet();
}));

test('disconnect after /nick says Bye with the new nick', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  alice!.send('/nick zed');
  await bob!.expectNext('>> alice is now known as zed');
  alice!.end();
  await bob!.expectNext(bye('zed'));
}));

test.run();
