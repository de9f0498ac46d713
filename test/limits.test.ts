// Limits and bad input: line length, UTF-8, control characters, CRLF, spoofing, abrupt resets,
// max clients.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, bye, err, expectStats, welcome, withServer } from './helpers.js';

const test = suite('limits & bad input');

const MAX = 64;

test('a line of exactly maxLineBytes is accepted; one byte more is LINE_TOO_LONG', () => withServer({ maxLineBytes: MAX }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const exact = 'a'.repeat(MAX);
  alice!.send(exact);
  await bob!.expectNext(`alice: ${exact}`);
  alice!.sendRaw(exact + '\r\n'); // the line ending does not count
  await bob!.expectNext(`alice: ${exact}`);
  alice!.send('b'.repeat(MAX + 1));
  await alice!.expectNext(err('LINE_TOO_LONG'));
  alice!.send('next');
  await bob!.expectNext('alice: next');
  await alice!.quiet();
}));

test('the limit is in bytes, not characters', () => withServer({ maxLineBytes: MAX }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const fits = 'é'.repeat(MAX / 2); // 2 bytes each
  alice!.send(fits);
  await bob!.expectNext(`alice: ${fits}`);
  alice!.send('é'.repeat(MAX / 2 + 1));
  await alice!.expectNext(err('LINE_TOO_LONG'));
  await bob!.quiet();
}));

test('over-long line with the newline in the same write: discarded whole, connection kept', () => withServer({ maxLineBytes: MAX }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  await alice!.sendRaw('x'.repeat(300) + 'TAIL\nafter\n');
  await alice!.expectNext(err('LINE_TOO_LONG'));
  await bob!.expectNext('alice: after');
  await alice!.quiet();
  await bob!.quiet();
}));

test('over-long line with no newline in sight: one error, the rest of it discarded up to its newline', () => withServer({ maxLineBytes: MAX }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  await alice!.sendRaw('y'.repeat(10 * MAX)); // no newline yet
  await alice!.sendRaw('z'.repeat(10 * MAX));
  await alice!.sendRaw('still the same line\n');
  alice!.send('after');
  await bob!.expectNext('alice: after');
  await alice!.expectNext(err('LINE_TOO_LONG')); // exactly one error for the one line
  await alice!.quiet();
  await bob!.quiet();
}));

test('a huge line (1 MiB, many writes) without newline does not kill the connection', () => withServer({ maxLineBytes: 4096 }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const chunk = Buffer.alloc(64 * 1024, 'q');
  for (let i = 0; i < 16; i++) await alice!.sendRaw(chunk);
  await alice!.sendRaw('\nok\n');
  await alice!.expectNext(err('LINE_TOO_LONG'));
  await bob!.expectNext('alice: ok');
  await alice!.quiet();
}));

test('a line split across many TCP writes arrives whole, once', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const text = 'this line travels one byte at a time — with UTF-8 too: é€😀';
  await alice!.sendChunks(text + '\n', 1);
  await bob!.expectNext(`alice: ${text}`);
  // CRLF split between writes
  await alice!.sendChunks('split crlf\r\n', 11);
  await bob!.expectNext('alice: split crlf');
  // several lines in one write
  await alice!.sendRaw('one\ntwo\nthree\n');
  await bob!.expectLines(['alice: one', 'alice: two', 'alice: three']);
  await alice!.quiet();
}));

test('an over-long line split across many writes: one LINE_TOO_LONG, next line works', () => withServer({ maxLineBytes: MAX }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  await alice!.sendChunks('w'.repeat(5 * MAX) + '\nnext\n', 7);
  await alice!.expectNext(err('LINE_TOO_LONG'));
  await bob!.expectNext('alice: next');
  await alice!.quiet();
}));

test('invalid UTF-8 gets BAD_UTF8 and is not forwarded', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const bad: [string, number[]][] = [
    ['lone continuation', [0x68, 0x80, 0x69]],
    ['0xff', [0x68, 0x69, 0xff]],
    ['truncated 3-byte', [0x61, 0xe2, 0x82]],
    ['truncated then ascii', [0xe2, 0x82, 0x61]],
    ['overlong /', [0xc0, 0xaf]],
    ['overlong 3-byte NUL', [0xe0, 0x80, 0x80]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [what, bytes] of bad) {
    await alice!.sendRaw(Buffer.from([...bytes, 0x0a]));
    const line = await alice!.next();
    assert.ok(err('BAD_UTF8').test(line), `${what}: expected BAD_UTF8, got ${JSON.stringify(line)}`);
  }
  alice!.send('valid: é € 😀');
  await bob!.expectNext('alice: valid: é € 😀');
  await alice!.quiet();
}));

test('invalid UTF-8 in a nick or a command is refused too', () => withServer({}, async (t) => {
  const c = await t.connect();
  await c.expectNext(PROMPT);
  await c.sendRaw(Buffer.from([0x62, 0x6f, 0x62, 0xff, 0x0a]));
  const line = await c.next();
  assert.ok(err('BAD_UTF8').test(line) || err('NICK_INVALID').test(line), `got ${JSON.stringify(line)}`);
  const alice = await t.register('alice');
  await alice.sendRaw(Buffer.from('/msg bob \xff\n', 'latin1'));
  await alice.expectNext(err('BAD_UTF8'));
}));

test('control characters get BAD_CHAR and are not forwarded; tab is kept', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  const bad: [string, string][] = [
    ['NUL', 'a\u0000b'],
    ['ESC sequence', '\u001b[31mred\u001b[0m'],
    ['bell', 'ding\u0007'],
    ['backspace', 'abc\u0008\u0008'],
    ['lone CR inside', 'abc\rdef'],
    ['DEL', 'del\u007f'],
    ['C1 NEL', 'x\u0085y'],
    ['C1 CSI', '\u009b31m'],
  ];
  for (const [what, text] of bad) {
    alice!.send(text);
    const line = await alice!.next();
    assert.ok(err('BAD_CHAR').test(line), `${what}: expected BAD_CHAR, got ${JSON.stringify(line)}`);
  }
  alice!.send('/msg bob \u001b[2J');
  await alice!.expectNext(err('BAD_CHAR'));
  alice!.send('/me \u0000');
  await alice!.expectNext(err('BAD_CHAR'));
  alice!.send('col1\tcol2\t');
  await bob!.expectNext('alice: col1\tcol2\t');
  await alice!.quiet();
}));

test('CRLF line endings are accepted everywhere (nick, commands, messages)', () => withServer({}, async (t) => {
  const alice = await t.register('alice');
  const bob = await t.connect('bob');
  await bob.expectNext(PROMPT);
  await bob.sendRaw('bob\r\n');
  await bob.expectNext(welcome('bob'));
  await alice.expectNext(welcome('bob'));
  await bob.sendRaw('hello\r\n/users\r\n');
  await alice.expectNext('bob: hello');
  const users = await bob.reply('USERS');
  assert.equal(users.rows.sort(), ['== USER alice', '== USER bob']);
  for (const l of [...alice.lines, ...bob.lines]) assert.not.ok(l.includes('\r'), `no CR in ${JSON.stringify(l)}`);
}));

test('nobody can spoof a nick or a server line', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  for (const text of ['bob: hi', '>> Welcome mallory !', '!! KICKED you', '== END USERS 0', '* bob dances', '[pm from bob] secret']) {
    alice!.send(text);
    await bob!.expectNext(`alice: ${text}`);
  }
  await alice!.quiet();
}));

test('abrupt reset mid-line: the room is told Bye, the partial line is not sent, the server still serves', () => withServer({}, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob');
  await alice!.sendRaw('half a line without newl');
  alice!.reset();
  await bob!.expectNext(bye('alice'));
  const carol = await t.register('carol');
  await bob!.expectNext(welcome('carol'));
  carol.send('still alive?');
  await bob!.expectNext('carol: still alive?');
  await bob!.quiet();
  // an unregistered reset too
  const anon = await t.connect();
  await anon.expectNext(PROMPT);
  await anon.sendRaw('mallo');
  anon.reset();
  bob!.send('/who');
  const who = await bob!.reply('WHO');
  assert.equal(who.rows.sort(), ['== WHO bob lobby', '== WHO carol lobby']);
}));

test('maxClients: the next connection gets SERVER_FULL then is closed; a freed slot is reusable', () => withServer({ maxClients: 2 }, async (t) => {
  const alice = await t.register('alice');
  const anon = await t.connect('anon');
  await anon.expectNext(PROMPT);
  const third = await t.connect('third');
  await third.expectNext(/^!! SERVER_FULL server is full \(2 clients\)/);
  await third.expectClosed();
  await expectStats(t.server, { rejected_full: 1, connections: 2 });
  // alice leaves; her slot can be taken
  alice.send('/quit');
  await alice.expectNext(bye('alice'));
  await alice.closed();
  const fourth = await t.connect('fourth');
  await fourth.expectNext(PROMPT);
  fourth.send('dora');
  await fourth.expectNext(welcome('dora'));
}));

test.run();
