// Offline mailboxes: /msg to an offline account is stored; /unread counts; /read delivers with time and
// sender and marks read; the login notice; the cap. Real sockets against a running server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { err, PROMPT } from './helpers.js';
import { createOffline, loginAtPrompt, parseMail, registerAccount, withAccounts } from './community-helpers.js';

const test = suite('mailbox');
const PW = 'mailbox-pass';

test('store, count, read, then nothing unread', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'bob');
  const alice = await registerAccount(t, 'alice', PW);
  const before = Date.now();
  alice.send('/msg bob hello bob');
  await alice.expectNext('>> Message stored for bob (offline)');
  alice.send('/msg BOB second\twith a tab  and  spaces');
  await alice.expectNext('>> Message stored for bob (offline)');
  const guest = await t.register('guest');
  await alice.expectNext('>> Welcome guest !');
  guest.send('/pm bob from a guest');
  await guest.expectNext('>> Message stored for bob (offline)');

  const bob = await loginAtPrompt(t, 'bob', PW, 3);
  bob.send('/unread');
  await bob.expectNext('>> 3 unread messages');
  bob.send('/read');
  const { rows, count } = await bob.reply('MAIL');
  assert.is(count, 3);
  const mail = rows.map(parseMail);
  assert.equal(mail.map((m) => [m.from, m.text]), [
    ['alice', 'hello bob'],
    ['alice', 'second\twith a tab  and  spaces'],
    ['guest', 'from a guest'],
  ]);
  for (const m of mail) {
    assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const at = Date.parse(m.time);
    assert.ok(at >= Math.floor(before / 1000) * 1000 && at <= Date.now(), `time ${m.time} is when it was sent`);
  }
  bob.send('/unread');
  await bob.expectNext('>> 0 unread messages');
  bob.send('/read');
  await bob.expectNext('== END MAIL 0');

  // bob is online now: /msg goes straight to him, nothing is stored
  alice.send('/msg bob live');
  await alice.expect('[pm to bob] live');
  await bob.expect('[pm from alice] live');
  bob.send('/unread');
  await bob.expectNext('>> 0 unread messages');
}));

test('a message stays unread until /read; the login notice counts it', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'bob');
  const alice = await registerAccount(t, 'alice', PW);
  alice.send('/msg bob one');
  await alice.expectNext('>> Message stored for bob (offline)');
  const b1 = await loginAtPrompt(t, 'bob', PW, 1);
  b1.send('/quit');
  await b1.closed();
  const b2 = await loginAtPrompt(t, 'bob', PW, 1);
  b2.send('/read');
  const { rows } = await b2.reply('MAIL');
  assert.is(parseMail(rows[0]!).text, 'one');
  b2.send('/quit');
  await b2.closed();
  await loginAtPrompt(t, 'bob', PW, 0);
}));

test('unknown users, usage, guests', () => withAccounts({}, async (t) => {
  const alice = await t.register('alice');
  alice.send('/msg nobody hi');
  await alice.expectNext('!! NO_SUCH_USER no user named nobody is online');
  alice.send('/msg nobody');
  await alice.expectNext(err('EMPTY'));
  alice.send('/unread');
  await alice.expectNext(err('LOGIN_REQUIRED'));
  alice.send('/read');
  await alice.expectNext(err('LOGIN_REQUIRED'));
  const c = await t.connect('c');
  await c.expectNext(PROMPT);
  c.send('/unread');
  await c.expectNext(err('NOT_REGISTERED'));
  await c.expectNext(PROMPT);
}));

test('the mailbox cap: MAILBOX_FULL, and room again after /read', () => withAccounts({ mailboxMax: 2 }, async (t) => {
  await createOffline(t, PW, 'bob');
  const alice = await registerAccount(t, 'alice', PW);
  alice.send('/msg bob 1');
  await alice.expectNext('>> Message stored for bob (offline)');
  alice.send('/msg bob 2');
  await alice.expectNext('>> Message stored for bob (offline)');
  alice.send('/msg bob 3');
  await alice.expectNext('!! MAILBOX_FULL the mailbox of bob is full (2 unread messages); it was not sent');
  const bob = await loginAtPrompt(t, 'bob', PW, 2);
  bob.send('/read');
  const { rows } = await bob.reply('MAIL');
  assert.equal(rows.map((r) => parseMail(r).text), ['1', '2']);
  bob.send('/quit');
  await bob.closed();
  alice.send('/msg bob 4');
  await alice.expect('>> Message stored for bob (offline)');
}));

test.run();
