// Groups: create / add / leave / list / members, and /msg @group to a mix of online and offline members
// (online at once, offline through the mailbox). Real sockets against a running server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { err, welcome } from './helpers.js';
import { createOffline, loginAtPrompt, parseMail, registerAccount, withAccounts } from './community-helpers.js';

const test = suite('groups');
const PW = 'groups-pass';

test('create, then send to online and offline members', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'carol', 'dave');
  const alice = await registerAccount(t, 'alice', PW);
  const bob = await registerAccount(t, 'bob', PW);
  await alice.expectNext(welcome('bob'));
  alice.send('/group create team bob Carol dave');
  await alice.expectNext('>> Group @team created with 4 members: alice, bob, carol, dave');
  alice.send('/group members @team');
  const m = await alice.reply('MEMBERS');
  assert.equal(m.rows, ['== MEMBER alice online', '== MEMBER bob online', '== MEMBER carol offline', '== MEMBER dave offline']);
  assert.is(m.count, 4);

  alice.send('/msg @team hello team');
  await alice.expectNext('>> Sent to 3 recipients in @team (1 online, 2 stored)');
  await bob.expectNext('[@team from alice] hello team');
  bob.send('/msg @TEAM hi back');
  await bob.expectNext('>> Sent to 3 recipients in @team (1 online, 2 stored)');
  await alice.expectNext('[@team from bob] hi back');

  const carol = await loginAtPrompt(t, 'carol', PW, 2);
  carol.send('/read');
  const { rows } = await carol.reply('MAIL');
  assert.equal(rows.map(parseMail).map((x) => [x.from, x.text]), [['alice@team', 'hello team'], ['bob@team', 'hi back']]);
  await alice.expectNext(welcome('carol'));
  await bob.expectNext(welcome('carol'));
  alice.send('/msg @team now two online');
  await alice.expectNext('>> Sent to 3 recipients in @team (2 online, 1 stored)');
  await carol.expect('[@team from alice] now two online');
  await bob.expectNext('[@team from alice] now two online');
}));

test('add (members only), leave, list; the last member out deletes the group', () => withAccounts({}, async (t) => {
  await createOffline(t, PW, 'dave');
  const alice = await registerAccount(t, 'alice', PW);
  const bob = await registerAccount(t, 'bob', PW);
  await alice.expectNext(welcome('bob'));
  alice.send('/group create devs');
  await alice.expectNext('>> Group @devs created with 1 member: alice');
  bob.send('/group add devs bob');
  await bob.expectNext(err('NOT_A_MEMBER'));
  bob.send('/msg @devs let me in');
  await bob.expectNext(err('NOT_A_MEMBER'));
  bob.send('/group members devs');
  await bob.expectNext(err('NOT_A_MEMBER'));
  alice.send('/group add devs bob');
  await alice.expectNext('>> bob added to @devs');
  await bob.expectNext('>> alice added you to @devs');
  alice.send('/group add devs BOB');
  await alice.expectNext(err('ALREADY_MEMBER'));
  alice.send('/group add devs nobody');
  await alice.expectNext(err('NO_SUCH_ACCOUNT'));
  bob.send('/group add @devs dave');
  await bob.expectNext('>> dave added to @devs');
  alice.send('/group create ops bob');
  await alice.expectNext('>> Group @ops created with 2 members: alice, bob');
  bob.send('/group list');
  const l = await bob.reply('GROUPS');
  assert.equal(l.rows, ['== GROUP devs 3', '== GROUP ops 2']);
  bob.send('/group leave ops');
  await bob.expectNext('>> You left @ops');
  bob.send('/group leave ops');
  await bob.expectNext(err('NOT_A_MEMBER'));
  alice.send('/group leave ops');
  await alice.expectNext('>> You left @ops');
  alice.send('/group members ops');
  await alice.expectNext(err('NO_SUCH_GROUP'));
  alice.send('/msg @ops anyone?');
  await alice.expectNext(err('NO_SUCH_GROUP'));
  alice.send('/group list');
  assert.equal((await alice.reply('GROUPS')).rows, ['== GROUP devs 3']);
}));

test('errors: usage, names, duplicates, accounts only, limits', () => withAccounts({ maxGroups: 2, groupMaxMembers: 3 }, async (t) => {
  const guest = await t.register('guest');
  guest.send('/group create g');
  await guest.expectNext(err('LOGIN_REQUIRED'));
  guest.send('/msg @g hi');
  await guest.expectNext(err('LOGIN_REQUIRED'));
  await createOffline(t, PW, 'b', 'c', 'd');
  const a = await registerAccount(t, 'a', PW);
  a.send('/group');
  await a.expectNext(err('USAGE'));
  a.send('/group frobnicate x');
  await a.expectNext(err('USAGE'));
  a.send('/group create');
  await a.expectNext(err('USAGE'));
  a.send('/group create bad.name');
  await a.expectNext(err('GROUP_INVALID'));
  a.send('/group create g1 guest');
  await a.expectNext(err('NO_SUCH_ACCOUNT'));
  a.send('/group create g1 b c d');
  await a.expectNext(err('GROUP_FULL'));
  a.send('/group create g1 b c');
  await a.expectNext('>> Group @g1 created with 3 members: a, b, c');
  a.send('/group add g1 d');
  await a.expectNext(err('GROUP_FULL'));
  a.send('/group create G1');
  await a.expectNext(err('GROUP_EXISTS'));
  a.send('/group create g2');
  await a.expectNext('>> Group @g2 created with 1 member: a');
  a.send('/group create g3');
  await a.expectNext(err('GROUP_LIMIT'));
  a.send('/msg @g1');
  await a.expectNext(err('EMPTY'));
  a.send('/msg @nope hi');
  await a.expectNext(err('NO_SUCH_GROUP'));
  a.send('/msg @g2 only me');
  await a.expectNext('>> Sent to 0 recipients in @g2 (0 online, 0 stored)');
}));

test('a full mailbox skips that member and says so', () => withAccounts({ mailboxMax: 1 }, async (t) => {
  await createOffline(t, PW, 'b', 'c');
  const a = await registerAccount(t, 'a', PW);
  a.send('/group create g b c');
  await a.expectNext('>> Group @g created with 3 members: a, b, c');
  a.send('/msg b fill');
  await a.expectNext('>> Message stored for b (offline)');
  a.send('/msg @g to all');
  await a.expectNext('>> Sent to 1 recipient in @g (0 online, 1 stored); not stored, mailbox full: b');
}));

test.run();
