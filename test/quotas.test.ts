// Resource bounds of the account layer: password hashing goes through one bounded queue (BUSY past
// it; queued hashes of a client that went away never run), /register is throttled per address, and
// an account may create only so many groups.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { createServer, createLogger } from '../lib/index.js';
import {
  PROMPT, TEST_DEFAULTS, err, until, withTimeout, type LineClient,
} from './helpers.js';
import { addressKey } from '../lib/address.js';
import { loggedIn, registerAccount, removeDir, tempDir, withAccounts } from './community-helpers.js';

const test = suite('quotas');

const PW = 'correct-horse';

/** A log sink that keeps the JSON records. */
function recordingLogger(level: 'warn' | 'info') {
  const records: Array<Record<string, unknown>> = [];
  let rest = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      rest += String(chunk);
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        records.push(JSON.parse(rest.slice(0, nl)) as Record<string, unknown>);
        rest = rest.slice(nl + 1);
      }
      cb();
    },
  });
  return { logger: createLogger({ level, format: 'json', destination: sink }), records };
}

test('hashing is bounded: past hashConcurrency running and hashQueueMax waiting, a login gets BUSY at once (and the prompt back)', () =>
  // scrypt N = 65536 (~0.2 s a hash) so that five logins sent together all find the first still running
  withAccounts({ scryptN: 65536, hashConcurrency: 1, hashQueueMax: 1, loginMaxFailures: 100 }, async (t) => {
    const alice = await registerAccount(t, 'alice', PW);
    alice.send('/quit');
    await alice.closed();
    const guests: LineClient[] = [];
    for (let i = 0; i < 5; i++) {
      const g = await t.connect(`guest${i}`);
      await g.expectNext(PROMPT);
      guests.push(g);
    }
    for (const g of guests) g.send('/login alice wrong-password');
    const answers = await Promise.all(guests.map((g) => g.expect(/^!! (BUSY|AUTH_FAILED) /, 10_000)));
    const busy = answers.filter((a) => a.startsWith('!! BUSY ')).length;
    assert.is(busy, 3, `1 running + 1 waiting, 3 busy: ${JSON.stringify(answers)}`);
    assert.match(answers.find((a) => a.startsWith('!! BUSY'))!, /try again/);
    for (const g of guests) await g.expectNext(PROMPT);
    // a busy answer is not a failed login: the right password works at once
    guests[0]!.send(`/login alice ${PW}`);
    await guests[0]!.expect(loggedIn('alice'), 5000);
  }));

test('queued hashes of a client that disconnected never run', async () => {
  const dir = tempDir('abandon');
  const { logger, records } = recordingLogger('warn'); // warn: lifecycle events off
  const server = createServer({
    ...TEST_DEFAULTS, accounts: true, dataDir: dir, scryptN: 131072, scryptR: 8, scryptP: 1,
    hashConcurrency: 1, hashQueueMax: 100, loginMaxFailures: 1000,
  }, { logger });
  const clients: LineClient[] = [];
  try {
    const { port } = await withTimeout(server.listen(), 5000, 'listen()');
    const { LineClient } = await import('./helpers.js');
    const open = async (name: string) => {
      const c = new LineClient(port, name);
      clients.push(c);
      await c.connected();
      await c.expectNext(PROMPT);
      return c;
    };
    let logins = 0;
    server.on('command', (ctx) => { if (ctx.name === 'login') logins++; });
    const quitters: LineClient[] = [];
    for (let i = 0; i < 20; i++) quitters.push(await open(`quitter${i}`));
    const first = await open('first');
    const last = await open('last');
    first.send('/login ghost wrong-password-1'); // takes the only hashing slot (~0.35 s)
    await until(() => logins === 1, 3000, 'the first login reached the host');
    for (const q of quitters) q.send('/login ghost wrong-password-2');
    await until(() => logins === 21, 3000, 'the 20 logins are queued');
    for (const q of quitters) q.reset();
    await until(() => server.stats().connections === 2, 3000, 'the 20 are gone');
    last.send('/login ghost wrong-password-3');
    await first.expect(err('AUTH_FAILED'), 5000);
    // behind the abandoned ones: answered after one more hash, not twenty
    await last.expect(err('AUTH_FAILED'), 3000);
    const failed = records.filter((r) => r.msg === 'failed login');
    assert.is(failed.length, 2, `only the two live clients' hashes ran: ${failed.length} failed logins logged`);
  } finally {
    for (const c of clients) c.destroy();
    await withTimeout(server.close(), 5000, 'close()');
    removeDir(dir);
  }
});

test('/register is throttled per address (registerMaxPerAddress in registerWindowMs)', () =>
  withAccounts({ registerMaxPerAddress: 2, registerWindowMs: 60_000 }, async (t) => {
    await registerAccount(t, 'alice', PW);
    const bob = await t.register('bob');
    bob.send(`/register bob ${PW}`);
    await bob.expectNext('>> Account bob registered');
    await bob.expectNext(loggedIn('bob'));
    const carol = await t.connect('carol');
    await carol.expectNext(PROMPT);
    carol.send(`/register carol ${PW}`);
    await carol.expectNext(/^!! REGISTER_THROTTLED too many registrations from your address; try again in \d+ s$/);
    await carol.expectNext(PROMPT);
    // nothing was created
    carol.send(`/login carol ${PW}`);
    await carol.expectNext(err('AUTH_FAILED'));
    // a refused attempt before the hash (bad password) does not count
    const t2 = await t.register('dave');
    t2.send('/register dave x');
    await t2.expectNext(err('PASSWORD_INVALID'));
  }));

test('registrations are counted per IPv4 address, per /64 for IPv6', () => {
  assert.is(addressKey('127.0.0.1:5000'), '127.0.0.1');
  assert.is(addressKey('[::ffff:10.1.2.3]:80'), '10.1.2.3');
  assert.is(addressKey('[2001:db8:1:2:aaaa::1]:7000'), '2001:db8:1:2::/64');
  assert.is(addressKey('[2001:db8:1:2:bbbb:cccc:dddd:eeee]:7001'), '2001:db8:1:2::/64');
  assert.is(addressKey('[::1]:7000'), '0:0:0:0::/64');
  assert.is(addressKey('[fe80::1%eth0]:7000'), 'fe80:0:0:0::/64');
});

test('an account may create at most maxGroupsPerUser groups (GROUP_QUOTA); leaving one frees a place', () =>
  withAccounts({ maxGroupsPerUser: 2, maxGroups: 100 }, async (t) => {
    const alice = await registerAccount(t, 'alice', PW);
    alice.send('/group create g1');
    await alice.expectNext(/^>> Group @g1 created/);
    alice.send('/group create g2');
    await alice.expectNext(/^>> Group @g2 created/);
    alice.send('/group create g3');
    await alice.expectNext(/^!! GROUP_QUOTA you have created 2 groups/);
    alice.send('/group list');
    assert.is((await alice.reply('GROUPS')).count, 2);
    alice.send('/group leave g1'); // its last member: the group is gone
    await alice.expectNext('>> You left @g1');
    alice.send('/group create g3');
    await alice.expectNext(/^>> Group @g3 created/);
  }));

test.run();
