// A client's input is handled in order and nothing is dropped: while a command of a client waits on the
// host (the password step, storage), that client's following lines wait too, in the socket, then run in
// order; replies arrive in the order of the lines; a half-close still gets every reply before the close;
// a password is never shown to anyone, even sent at the wrong moment. Real sockets against a running
// server (docs/protocol.md, "Order").
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative, type NativeBinding } from '../lib/native.js';
import { createServer } from '../lib/index.js';
import {
  PROMPT, TEST_DEFAULTS, bye, connect, err, sleep, until, welcome, withServer, withTimeout, type LineClient,
} from './helpers.js';
import { createOffline, loggedIn, passwordPrompt, registerAccount, withAccounts } from './community-helpers.js';

const test = suite('order');
const PW = 'order-pass-1';

test('lines sent while a password is checked wait, then run in order', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'kim');
  const watcher = await t.register('watcher');
  const kim = await t.connect('kim');
  await kim.expectNext(PROMPT);
  await kim.sendRaw(`kim\n${PW}\n/users\nhello\n/unread\n`);
  await kim.expectLines([
    passwordPrompt('kim'), welcome('kim'), loggedIn('kim'),
    '== USER kim', '== USER watcher', '== END USERS 2',
    '>> 0 unread messages',
  ]);
  await watcher.expectNext(welcome('kim'));
  await watcher.expectNext('kim: hello');
  await kim.quiet();
  await watcher.quiet();
}));

test('replies to /msg (to an offline account) and /users come in the order of the lines', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'bob');
  const alice = await t.register('alice');
  await alice.sendRaw('/msg bob one\n/users\n/msg bob two\n/rooms\n/unread\n/who\n');
  await alice.expectLines([
    '>> Message stored for bob (offline)',
    '== USER alice', '== END USERS 1',
    '>> Message stored for bob (offline)',
    '== ROOM lobby 1', '== END ROOMS 1',
    err('LOGIN_REQUIRED'),
    '== WHO alice lobby', '== END WHO 1',
  ]);
  await alice.quiet();
}));

test('a delegated command with no handler is answered in its place too', () => withServer({ accounts: false, delegate: ['nohandler'] }, async (t) => {
  const alice = await t.register('alice');
  await alice.sendRaw('/nohandler x\n/users\n');
  await alice.expectLines([err('UNKNOWN_COMMAND'), '== USER alice', '== END USERS 1']);
}));

test('a long list, then more lines in the same write: the list is complete before their replies', () => withServer({ accounts: false, floodRate: 0 }, async (t) => {
  // 200 users of 24-character nicks: /who is ~7 KB, more than one chunk (docs/protocol.md, "Long lists")
  const names = Array.from({ length: 200 }, (_, i) => `user${String(i).padStart(5, '0')}${'x'.repeat(15)}`);
  const others: LineClient[] = [];
  for (let i = 0; i < names.length; i += 50) {
    others.push(...await Promise.all(names.slice(i, i + 50).map(async (n) => {
      const c = await t.connect(n);
      await c.expectNext(PROMPT);
      c.send(n);
      await c.expect(welcome(n));
      return c;
    })));
  }
  const alice = await t.register('alice');
  await alice.sendRaw(`/who\n/msg ${names[7]} hi\n/users\n/rooms\n`);
  const who = await alice.reply('WHO');
  assert.is(who.count, 201);
  assert.ok(who.rows.every((r) => r.startsWith('== WHO ')), 'nothing inside the list');
  await alice.expectNext(`[pm to ${names[7]}] hi`);
  const users = await alice.reply('USERS');
  assert.is(users.count, 201);
  await alice.expectLines(['== ROOM lobby 201', '== END ROOMS 1']);
  await others[7]!.expect(`[pm from alice] hi`);
}));

test('a half-closed client gets every reply before the close', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'kim');
  const watcher = await t.register('watcher');
  // the password step, a delegated command and a built-in one, then FIN
  const kim = await t.connect('kim');
  await kim.expectNext(PROMPT);
  kim.socket.end(`kim\n${PW}\n/unread\n/users\nbye all\n`);
  await kim.expectLines([
    passwordPrompt('kim'), welcome('kim'), loggedIn('kim'), '>> 0 unread messages',
    '== USER kim', '== USER watcher', '== END USERS 2',
  ]);
  await kim.expectClosed();
  await watcher.expectLines([welcome('kim'), 'kim: bye all', bye('kim')]);

  // a guest: nick and commands, then FIN
  const guest = await t.connect('guest');
  await guest.expectNext(PROMPT);
  guest.socket.end('guest\n/unread\n/rooms\n');
  await guest.expectLines([welcome('guest'), err('LOGIN_REQUIRED'), '== ROOM lobby 2', '== END ROOMS 1']);
  await guest.expectClosed();
  await watcher.expectLines([welcome('guest'), bye('guest')]);
}));

test('/login, /read and /quit in one write: the mail is read, then the connection closes', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'kim');
  const alice = await registerAccount(t, 'alice', PW);
  alice.send('/msg kim see you at ten');
  await alice.expectNext('>> Message stored for kim (offline)');
  const kim = await t.connect('kim');
  await kim.expectNext(PROMPT);
  await kim.sendRaw(`/login kim ${PW}\n/read\n/quit\n`);
  await kim.expectLines([
    welcome('kim'), loggedIn('kim', 1),
    /^== MAIL \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ alice see you at ten$/, '== END MAIL 1',
    bye('kim'),
  ]);
  await kim.expectClosed();
  await alice.expectLines([welcome('kim'), bye('kim')]);
  // and it was marked read
  const again = await t.connect('kim again');
  await again.expectNext(PROMPT);
  await again.sendRaw(`/login kim ${PW}\n/unread\n`);
  await again.expectLines([welcome('kim'), loggedIn('kim', 0), '>> 0 unread messages']);
}));

test('a wrong password keeps the password step: the next line is never a nickname', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'kim', 'lee');
  const watcher = await t.register('watcher');
  const c = await t.connect('c');
  await c.expectNext(PROMPT);
  // a script that sends a wrong password, then something that would be a valid nickname
  await c.sendRaw('kim\nwrong-pass\nhunter22\n');
  await c.expectLines([
    passwordPrompt('kim'), err('AUTH_FAILED'), passwordPrompt('kim'), err('AUTH_FAILED'), passwordPrompt('kim'),
  ]);
  c.send(PW);
  await c.expectLines([welcome('kim'), loggedIn('kim')]);
  await watcher.expectNext(welcome('kim'));
  await watcher.quiet();

  // /quit still leaves the password step
  const d = await t.connect('d');
  await d.expectNext(PROMPT);
  await d.sendRaw('lee\n/quit\n');
  await d.expectNext(passwordPrompt('lee'));
  await d.expectClosed();
  await watcher.quiet();
}));

test('BUSY in the password step asks for the password again: the next line is never a nickname', () =>
  // scrypt N = 65536 (~0.2 s a hash): five passwords sent together find the first still running
  withAccounts({ scryptN: 65536, hashConcurrency: 1, hashQueueMax: 1, loginMaxFailures: 100 }, async (t) => {
    await createOffline(t, PW, 'kim');
    const watcher = await t.register('watcher');
    const cs: LineClient[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await t.connect(`c${i}`);
      await c.expectNext(PROMPT);
      c.send('kim');
      await c.expectNext(passwordPrompt('kim'));
      cs.push(c);
    }
    // each sends a wrong password, then a word that would be a valid nickname
    for (const c of cs) await c.sendRaw('wrong-pass\nhunter22\n');
    const answers = await Promise.all(cs.map((c) => c.expect(/^!! (BUSY|AUTH_FAILED) /, 10_000)));
    assert.ok(answers.some((a) => a.startsWith('!! BUSY ')), JSON.stringify(answers));
    for (const c of cs) await c.expectNext(passwordPrompt('kim'));
    await watcher.quiet();
  }));

test('LOGIN_THROTTLED ends the connection: a password sent after it is never a nickname', () => withAccounts({ loginMaxFailures: 2 }, async (t) => {
  await createOffline(t, PW, 'kim');
  const watcher = await t.register('watcher');
  // throttled in the password step
  const c = await t.connect('c');
  await c.expectNext(PROMPT);
  await c.sendRaw('kim\nbad-one\nbad-two\nhunter22\nhunter33\n');
  await c.expectLines([
    passwordPrompt('kim'), err('AUTH_FAILED'), passwordPrompt('kim'), err('AUTH_FAILED'), passwordPrompt('kim'),
    err('LOGIN_THROTTLED'),
  ]);
  await c.expectClosed();
  // throttled before the password is asked for: the password a script sends next is not a nickname
  const d = await t.connect('d');
  await d.expectNext(PROMPT);
  await d.sendRaw(`kim\n${PW}\n`);
  await d.expectNext(err('LOGIN_THROTTLED'));
  await d.expectClosed();
  await watcher.quiet();
  assert.is((await t.server.users()).length, 1, 'nobody but the watcher registered');
}));

test('lines behind a slow command wait in the socket, not in memory, and none is lost', () => withServer({ accounts: false, floodRate: 0, maxOutputBytes: 64 << 20 }, async (t) => {
  const [alice, bob] = await t.registerAll('alice', 'bob') as [LineClient, LineClient];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let started = false;
  t.server.registerCommand('slow', async (ctx) => {
    started = true;
    await gate;
    ctx.reply({ type: 'notice', text: 'slow done' });
  });
  await t.server.users(); // a round trip: the engine has the new delegate list
  const N = 100_000;
  const pad = 'x'.repeat(90);
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`m${i} ${pad}`);
  let got = 0;
  let bad: string | null = null;
  bob.onLine = (line) => {
    if (line === `alice: m${got} ${pad}`) got++;
    else bad ??= `line ${got}: ${JSON.stringify(line)}`;
  };
  const before = t.server.stats().bytes_in;
  alice.socket.write(`/slow\n${lines.join('\n')}\n`);
  await until(() => started, 3000, 'the slow command to start');
  await sleep(300); // shows that the server does not read on, and does not run the lines
  const read = t.server.stats().bytes_in - before;
  assert.ok(read < 512 * 1024, `the server read ${read} bytes while the command waited (of ${N * 97})`);
  assert.is(got, 0, 'no line ran before the slow command finished');
  const t0 = Date.now();
  release();
  await alice.expectNext('>> slow done');
  await until(() => got === N || bad !== null, 15_000, `all ${N} lines at bob (got ${got})`);
  assert.is(bad, null);
  assert.is(got, N);
  process.stdout.write(`\n    held: ${read} of ${N * 97} bytes read while the command waited; then ${N} lines in ${Date.now() - t0} ms\n`);
}, 30_000));

test('a host that never finishes a command: the client is told and closed; others are served', async () => {
  const real = loadNative();
  const binding = {
    Engine: function Engine(options: object, onEvents: unknown) {
      return new real.Engine({ ...options, commandTimeoutMs: 300 } as never, onEvents as never);
    },
  } as unknown as NativeBinding;
  const server = createServer({ ...TEST_DEFAULTS, accounts: false }, { binding });
  server.registerCommand('hang', () => new Promise<void>(() => { /* never settles */ }));
  try {
    const { port } = await server.listen();
    const alice = await connect(port, 'alice');
    await alice.expectNext(PROMPT);
    alice.send('alice');
    await alice.expectNext(welcome('alice'));
    const bob = await connect(port, 'bob');
    await bob.expectNext(PROMPT);
    bob.send('bob');
    await bob.expectNext(welcome('bob'));
    await alice.expectNext(welcome('bob'));
    await alice.sendRaw('/hang\n/users\nnever sent\n');
    const t0 = Date.now();
    await alice.expectNext(/^!! INTERNAL_ERROR .*in time/, 3000);
    await alice.expectClosed();
    assert.ok(Date.now() - t0 >= 250, 'not before the bound');
    await bob.expectNext(bye('alice'));
    bob.send('/users');
    await bob.expectLines(['== USER bob', '== END USERS 1']);
    alice.destroy();
    bob.destroy();
  } finally {
    await withTimeout(server.close(), 5000, 'close');
  }
});

test.run();
