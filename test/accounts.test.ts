// Accounts: /register, /login (command and nick prompt), wrong passwords, throttling, nick protection,
// /passwd, /unregister, and passwords never reaching the log. Real sockets against a running server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { PROMPT, err, welcome, withTimeout, connect } from './helpers.js';
import {
  FAST_SCRYPT, loggedIn, loginAtPrompt, passwordPrompt, registerAccount, removeDir, tempDir, withAccounts,
} from './community-helpers.js';
import { createServer, createLogger, resolveConfig } from '../lib/index.js';
import { DEFAULT_SCRYPT, LoginThrottle, hashParams, hashPassword, verifyPassword } from '../lib/accounts.js';

const test = suite('accounts');
const PW = 'correct-horse';

test('scrypt: per-user salt, parameters in the hash, constant-time verify; secure defaults', async () => {
  assert.equal(DEFAULT_SCRYPT, { N: 16384, r: 8, p: 1 });
  const cfg = resolveConfig({});
  assert.equal([cfg.scryptN, cfg.scryptR, cfg.scryptP], [16384, 8, 1]);
  const t0 = performance.now();
  const a = await hashPassword(PW);
  const ms = performance.now() - t0;
  const b = await hashPassword(PW);
  assert.is.not(a, b, 'a fresh salt every time');
  assert.equal(hashParams(a), { N: 16384, r: 8, p: 1 });
  assert.ok(await verifyPassword(PW, a));
  assert.not.ok(await verifyPassword('wrong-horse', a));
  assert.not.ok(await verifyPassword(PW, 'garbage'));
  const cheap = await hashPassword(PW, { N: 1024, r: 8, p: 1 });
  assert.ok(await verifyPassword(PW, cheap), 'old parameters keep working');
  process.stdout.write(`\n    scrypt N=16384 r=8 p=1: ${ms.toFixed(1)} ms per hash\n`);
  assert.throws(() => resolveConfig({ argv: ['--scrypt-n', '1000'] }), /power of two/);
});

test('LoginThrottle: sliding window per key, charge then refund', () => {
  let now = 1000;
  const th = new LoginThrottle(3, 10_000, () => now);
  for (let i = 0; i < 3; i++) th.charge(['c:1', 'a:alice']);
  assert.ok(th.check(['a:alice']) > 0);
  assert.is(th.check(['a:bob']), 0);
  const tok = th.charge(['c:2']);
  th.refund(tok);
  assert.is(th.check(['c:2']), 0);
  now += 5000;
  assert.is(th.blockedFor('c:1'), 5000);
  now += 5001;
  assert.is(th.check(['c:1', 'a:alice']), 0);
  th.sweep();
  assert.is(th.size, 0);
});

test('register, then log in at the prompt and with /login; wrong password', () => withAccounts({}, async (t) => {
  const alice = await registerAccount(t, 'alice', PW);
  alice.send('/quit');
  await alice.closed();

  // the nick prompt asks for the password
  const a2 = await loginAtPrompt(t, 'alice', PW);
  a2.send('/quit');
  await a2.closed();

  // wrong password at the prompt: error and the password step again (the next line is a password
  // too, never a nickname); /quit leaves it
  const a3 = await t.connect('a3');
  await a3.expectNext(PROMPT);
  a3.send('ALICE');
  await a3.expectNext(passwordPrompt('ALICE'));
  a3.send('nope-nope');
  await a3.expectNext('!! AUTH_FAILED wrong password; try again, or /quit');
  await a3.expectNext(passwordPrompt('ALICE'));
  a3.send('/quit');
  await a3.expectClosed();
  // /login at the prompt, any case: the account's spelling is used
  const a4 = await t.connect('a4');
  await a4.expectNext(PROMPT);
  a4.send(`/login ALICE ${PW}`);
  await a4.expectNext(welcome('alice'));
  await a4.expectNext(loggedIn('alice'));
  a4.send(`/login alice ${PW}`);
  await a4.expectNext(err('ALREADY_LOGGED_IN'));
  a4.send('/register alice2 whatever-pass');
  await a4.expectNext(err('ALREADY_LOGGED_IN'));
  a4.send('/quit');
  await a4.closed();

  // a guest logs in: renamed to the account
  const g = await t.register('guest1');
  g.send(`/login alice ${PW}x`);
  await g.expectNext(err('AUTH_FAILED'));
  g.send('/login nobody-here whatever');
  await g.expectNext(err('AUTH_FAILED'));
  g.send(`/login alice ${PW}`);
  await g.expectNext('>> guest1 is now known as alice');
  await g.expectNext(loggedIn('alice'));
  await g.quiet();
}));

test('/help lists the account, mailbox and group commands after the built-in ones', () => withAccounts({}, async (t) => {
  const zed = await t.register('zed');
  zed.send('/help');
  const { rows, count } = await zed.reply('HELP');
  assert.is(count, rows.length);
  const usages = rows.map((r) => r.replace(/^== HELP /, '').split(' - ')[0]);
  for (const u of ['/register NAME PASSWORD', '/login NAME PASSWORD', '/passwd OLD NEW', '/unregister PASSWORD',
    '/unread', '/read', '/group create NAME USER...', '/msg @GROUP TEXT']) {
    assert.ok(usages.includes(u), `${u} in /help: ${JSON.stringify(usages)}`);
  }
  assert.ok(usages.indexOf('/quit [REASON]') < usages.indexOf('/register NAME PASSWORD'), 'built-in commands first');
}));

test('register: usage, names, passwords, duplicates', () => withAccounts({ passwordMinLength: 8 }, async (t) => {
  const bob = await t.register('bob');
  bob.send('/register');
  await bob.expectNext(err('USAGE'));
  bob.send('/register bob');
  await bob.expectNext(err('USAGE'));
  bob.send('/register bob short');
  await bob.expectNext(err('PASSWORD_INVALID'));
  bob.send('/register 9bob long-enough');
  await bob.expectNext(err('NICK_INVALID'));
  bob.send('/register admin long-enough');
  await bob.expectNext(err('NICK_RESERVED'));
  const carol = await t.register('carol');
  await bob.expectNext(welcome('carol'));
  bob.send('/register carol long-enough');
  await bob.expectNext(err('NICK_TAKEN'));
  carol.send(`/register carol ${PW}`);
  await carol.expectNext('>> Account carol registered');
  await carol.expectNext(loggedIn('carol'));
  bob.send(`/register Carol ${PW}`);
  await bob.expectNext(err('ACCOUNT_EXISTS'));
  // registering another free name logs you in under it
  bob.send(`/register robert ${PW}`);
  await bob.expectNext('>> Account robert registered');
  await bob.expectNext('>> bob is now known as robert');
  await bob.expectNext(loggedIn('robert'));
  // at the prompt
  const d = await t.connect('d');
  await d.expectNext(PROMPT);
  d.send(`/register dave ${PW}`);
  await d.expectNext('>> Account dave registered');
  await d.expectNext(welcome('dave'));
  await d.expectNext(loggedIn('dave'));
  await d.quiet();
}));

test('nick protection: guests cannot take or rename onto an account; a login takes the nick over', () => withAccounts({}, async (t) => {
  const alice = await registerAccount(t, 'alice', PW);
  const guest = await t.register('guest');
  await alice.expectNext(welcome('guest'));
  guest.send('/nick Alice');
  await guest.expectNext(err('NICK_TAKEN'));
  // a second login from elsewhere takes over (the prompt says the nick is taken; /login works): the
  // old connection is kicked
  const again = await t.connect('again');
  await again.expectNext(PROMPT);
  again.send('alice');
  await again.expectNext(err('NICK_TAKEN'));
  await again.expectNext(PROMPT);
  again.send(`/login alice ${PW}`);
  await alice.expectNext(err('KICKED'));
  await alice.closed();
  await again.expectNext(welcome('alice'));
  await again.expectNext(loggedIn('alice'));
  // renaming away from the account ends the session
  again.send('/nick someone');
  await again.expect('>> alice is now known as someone');
  await again.expectNext(/^>> You are no longer logged in/);
  again.send('/unread');
  await again.expectNext(err('LOGIN_REQUIRED'));
  // the name stays protected while nobody holds it
  guest.send('/nick alice');
  await guest.expect(err('NICK_PROTECTED'));
}));

test('throttling: per connection and per account', () => withAccounts({ loginMaxFailures: 3 }, async (t) => {
  await registerAccount(t, 'alice', PW).then(async (c) => { c.send('/quit'); await c.closed(); });
  await registerAccount(t, 'bob', PW).then(async (c) => { c.send('/quit'); await c.closed(); });

  // one connection guessing: after 3 failures even the right password is refused, for any account
  const m = await t.register('mallory');
  for (let i = 0; i < 3; i++) {
    m.send(`/login ghost${i} wrong-${i}`);
    await m.expectNext(err('AUTH_FAILED'));
  }
  m.send(`/login bob ${PW}`);
  await m.expectNext(/^!! LOGIN_THROTTLED too many failed logins; try again in \d+ s$/);
  m.send(`/login alice ${PW}`);
  await m.expectNext(err('LOGIN_THROTTLED'));

  // many connections guessing one account: the account is throttled for everyone
  for (let i = 0; i < 3; i++) {
    const c = await t.connect(`guess${i}`);
    await c.expectNext(PROMPT);
    c.send('alice');
    await c.expectNext(passwordPrompt('alice'));
    c.send(`bad-${i}`);
    await c.expectNext(err('AUTH_FAILED'));
    await c.expectNext(passwordPrompt('alice'));
    c.destroy();
  }
  // throttled at the prompt: the error, then the connection ends (a script's next line would be the
  // password, which must never become a nickname)
  const early = await t.connect('early');
  await early.expectNext(PROMPT);
  early.send('alice');
  await early.expectNext(err('LOGIN_THROTTLED'));
  await early.expectClosed();
  const owner = await t.connect('owner');
  await owner.expectNext(PROMPT);
  owner.send(`/login alice ${PW}`);
  await owner.expectNext(err('LOGIN_THROTTLED'));
  await owner.expectNext(PROMPT);
  // another account is not affected
  owner.send(`/login bob ${PW}`);
  await owner.expectNext(welcome('bob'));
  await owner.expectNext(loggedIn('bob'));
}));

test('/passwd and /unregister', () => withAccounts({}, async (t) => {
  const guest = await t.register('guest');
  guest.send('/passwd a b');
  await guest.expectNext(err('LOGIN_REQUIRED'));
  guest.send('/unregister x');
  await guest.expectNext(err('LOGIN_REQUIRED'));

  const alice = await registerAccount(t, 'alice', PW);
  await guest.expectNext(welcome('alice'));
  alice.send('/passwd');
  await alice.expectNext(err('USAGE'));
  alice.send(`/passwd wrong-old new-password`);
  await alice.expectNext(err('AUTH_FAILED'));
  alice.send(`/passwd ${PW} short`);
  await alice.expectNext(err('PASSWORD_INVALID'));
  alice.send(`/passwd ${PW} new-password`);
  await alice.expectNext('>> Password changed');
  alice.send('/quit');
  await alice.closed();

  const a2 = await t.register('x');
  a2.send(`/login alice ${PW}`);
  await a2.expectNext(err('AUTH_FAILED'));
  a2.send('/login alice new-password');
  await a2.expectNext('>> x is now known as alice');
  await a2.expectNext(loggedIn('alice'));
  a2.send('/unregister wrong');
  await a2.expectNext(err('AUTH_FAILED'));
  a2.send('/unregister new-password');
  await a2.expectNext(/^>> Account alice deleted/);
  a2.send('/read');
  await a2.expectNext(err('LOGIN_REQUIRED'));
  a2.send('/quit');
  await a2.closed();

  // the nick is free again
  await guest.expect('>> x is now known as alice');
  await guest.expectNext('>> Bye alice !');
  guest.send('/nick alice');
  await guest.expectNext('>> guest is now known as alice');
  guest.send('/login alice new-password');
  await guest.expectNext(err('AUTH_FAILED'));
}));

test('commands at the prompt need a nick; guests get LOGIN_REQUIRED', () => withAccounts({}, async (t) => {
  const c = await t.connect('c');
  await c.expectNext(PROMPT);
  c.send('/read');
  await c.expectNext(err('NOT_REGISTERED'));
  await c.expectNext(PROMPT);
  c.send('/group list');
  await c.expectNext(err('NOT_REGISTERED'));
  await c.expectNext(PROMPT);
  c.send('/login');
  await c.expectNext(err('USAGE'));
  await c.expectNext(PROMPT);
  c.send('guest');
  await c.expectNext(welcome('guest'));
  c.send('/group list');
  await c.expectNext(err('LOGIN_REQUIRED'));
}));

test('no password reaches the log (debug level)', async () => {
  const dataDir = tempDir('log');
  const chunks: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  const logger = createLogger({ level: 'trace', format: 'json', destination: sink });
  const server = createServer({
    host: '127.0.0.1', port: 0, console: false, handleSignals: false, dataDir, ...FAST_SCRYPT, logLevel: 'trace',
  }, { logger });
  try {
    const { port } = await server.listen();
    const c = await connect(port, 'c');
    await c.expectNext(PROMPT);
    c.send('/register alice Secret-One-111');
    await c.expectNext('>> Account alice registered');
    await c.expect(/^>> Logged in as alice/);
    c.send('/passwd Secret-One-111 Secret-Two-222');
    await c.expectNext('>> Password changed');
    c.send('/login alice Wrong-Three-333');
    await c.expectNext(err('ALREADY_LOGGED_IN'));
    c.send('/quit');
    await c.closed();
    let d = await connect(port, 'd');
    await d.expectNext(PROMPT);
    d.send('alice');
    await d.expectNext(passwordPrompt('alice'));
    d.send('Wrong-Four-444');
    await d.expectNext(err('AUTH_FAILED'));
    await d.expectNext(passwordPrompt('alice'));
    d.send('/quit');
    await d.expectClosed();
    d = await connect(port, 'd2');
    await d.expectNext(PROMPT);
    d.send('/login alice Secret-Two-222');
    await d.expect(/^>> Logged in as alice/);
    d.send('/unregister Secret-Two-222');
    await d.expect(/^>> Account alice deleted/);
    d.destroy();
  } finally {
    await withTimeout(server.close(), 5000, 'close');
    removeDir(dataDir);
  }
  const log = chunks.join('');
  assert.ok(log.includes('failed login'), 'failed logins are logged');
  for (const secret of ['Secret-One-111', 'Secret-Two-222', 'Wrong-Three-333', 'Wrong-Four-444']) {
    assert.not.ok(log.includes(secret), `${secret} must not be in the log`);
  }
});

test.run();
