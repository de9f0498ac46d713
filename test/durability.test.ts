// Durability: what the server has acknowledged survives a restart and a kill -9. The kill -9 test runs
// the real CLI (bin/epchat.js) as a child process, kills it with SIGKILL right after "stored", starts
// it again on the same data directory and reads the message.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { writeFileSync, mkdirSync } from 'node:fs';
import { PROMPT, connect, err, parseListening, spawnBin, welcome, withTimeout, type Proc } from './helpers.js';
import {
  createOffline, loggedIn, loginAtPrompt, parseMail, passwordPrompt, registerAccount, removeDir, tempDir, withAccounts,
} from './community-helpers.js';
import { SqliteStorage, loadMigrations, migrate, DB_FILE } from '../lib/storage/sqlite.js';

const test = suite('durability');
const PW = 'durable-pass';

test('accounts, mail and groups survive a restart (same data directory)', async () => {
  const dir = tempDir('restart');
  try {
    await withAccounts({}, async (t) => {
      await createOffline(t, PW, 'bob', 'carol');
      const alice = await registerAccount(t, 'alice', PW);
      alice.send('/group create crew bob carol');
      await alice.expectNext('>> Group @crew created with 3 members: alice, bob, carol');
      alice.send('/msg bob before the restart');
      await alice.expectNext('>> Message stored for bob (offline)');
    }, dir);
    await withAccounts({}, async (t) => {
      // bob's nick is protected from the start
      const guest = await t.connect('guest');
      await guest.expectNext(PROMPT);
      guest.send('bob');
      await guest.expectNext(passwordPrompt('bob'));
      guest.send('not-his-password');
      await guest.expectNext(err('AUTH_FAILED'));
      await guest.expectNext(passwordPrompt('bob'));
      const bob = await loginAtPrompt(t, 'bob', PW, 1);
      bob.send('/read');
      const { rows } = await bob.reply('MAIL');
      assert.equal(rows.map(parseMail).map((m) => [m.from, m.text]), [['alice', 'before the restart']]);
      bob.send('/group members crew');
      const m = await bob.reply('MEMBERS');
      assert.equal(m.rows, ['== MEMBER alice offline', '== MEMBER bob online', '== MEMBER carol offline']);
      bob.send('/msg @crew still here');
      await bob.expectNext('>> Sent to 2 recipients in @crew (0 online, 2 stored)');
    }, dir);
  } finally {
    removeDir(dir);
  }
});

/** Starts the CLI on `dir`; resolves with the process and its port. */
async function startCli(dir: string): Promise<{ proc: Proc; port: number }> {
  const proc = spawnBin(['--host', '127.0.0.1', '--port', '0', '--data-dir', dir, '--scrypt-n', '1024',
    '--log-format', 'json', '--no-console']);
  const line = await proc.waitOutput(/listening on/, 10_000);
  return { proc, port: parseListening(line) };
}

test('kill -9 right after "stored": the message is there after a restart', async () => {
  const dir = tempDir('kill9');
  let proc: Proc | undefined;
  try {
    let port: number;
    ({ proc, port } = await startCli(dir));
    for (const nick of ['bob', 'alice']) {
      const c = await connect(port, nick);
      await c.expectNext(PROMPT);
      c.send(`/register ${nick} ${PW}`);
      await c.expectNext(`>> Account ${nick} registered`);
      await c.expectNext(welcome(nick));
      await c.expectNext(loggedIn(nick));
      if (nick === 'bob') { c.send('/quit'); await c.closed(); continue; }
      for (let i = 1; i <= 5; i++) {
        c.send(`/msg bob durable ${i}`);
        await c.expectNext('>> Message stored for bob (offline)');
      }
      c.send('/group create k9 bob');
      await c.expectNext('>> Group @k9 created with 2 members: alice, bob');
      c.send('/msg @k9 to the group');
      await c.expectNext('>> Sent to 1 recipient in @k9 (0 online, 1 stored)');
      // the acknowledgement is in: kill -9 now, no chance to flush or close anything
      proc.child.kill('SIGKILL');
      assert.is(await proc.exited(5000), 'SIGKILL');
      c.destroy();
    }

    ({ proc, port } = await startCli(dir));
    const bob = await connect(port, 'bob');
    await bob.expectNext(PROMPT);
    bob.send('bob');
    await bob.expectNext(passwordPrompt('bob'));
    bob.send(PW);
    await bob.expectNext(welcome('bob'));
    await bob.expectNext(loggedIn('bob', 6));
    bob.send('/read');
    const { rows, count } = await bob.reply('MAIL');
    assert.is(count, 6);
    assert.equal(rows.map(parseMail).map((m) => `${m.from} ${m.text}`), [
      'alice durable 1', 'alice durable 2', 'alice durable 3', 'alice durable 4', 'alice durable 5', 'alice@k9 to the group',
    ]);
    bob.destroy();
  } finally {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited(5000).catch(() => undefined);
    }
    removeDir(dir);
  }
});

test('storage: WAL, synchronous FULL, migrations numbered and recorded, newer schemas refused', async () => {
  const dir = tempDir('schema');
  try {
    const s = new SqliteStorage({ dataDir: join(dir, 'nested', 'data') });
    await s.open();
    assert.is(s.schemaVersion(), loadMigrations().length);
    assert.equal(s.durability(), { journalMode: 'wal', synchronous: 2 });
    await s.close();
    const db = new Database(join(dir, 'nested', 'data', DB_FILE));
    assert.is(db.pragma('journal_mode', { simple: true }), 'wal');
    const rows = db.prepare('SELECT version, name FROM schema_version ORDER BY version').all() as Array<{ version: number; name: string }>;
    assert.equal(rows[0], { version: 1, name: 'init' });
    // applying again changes nothing
    assert.is(migrate(db, loadMigrations()), rows.length);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    db.close();
    const again = new SqliteStorage({ dataDir: join(dir, 'nested', 'data') });
    await withTimeout(again.open().then(() => assert.unreachable('a newer schema must be refused'), (e: Error) => {
      assert.match(e.message, /newer than this epchat knows/);
    }), 3000, 'open');
    // a gap in the numbering is refused
    const mig = join(dir, 'mig');
    mkdirSync(mig);
    writeFileSync(join(mig, '001_a.sql'), 'CREATE TABLE a (x);');
    writeFileSync(join(mig, '003_c.sql'), 'CREATE TABLE c (x);');
    assert.throws(() => loadMigrations(mig), /without gaps/);
  } finally {
    removeDir(dir);
  }
});

test.run();
