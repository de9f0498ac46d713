// The data directory: private modes (0700 / 0600), one server at a time (a pid lock), storage failures
// at start reported as storage errors naming the path, nothing left behind by a failed start; and the
// CLI warns about unknown EPCHAT_* variables.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from '../lib/index.js';
import { TEST_DEFAULTS, parseListening, spawnBin, withTimeout, type Proc } from './helpers.js';
import { FAST_SCRYPT, registerAccount, removeDir, tempDir, withAccounts } from './community-helpers.js';

const test = suite('data directory');

const mode = (p: string) => statSync(p).mode & 0o777;
const LISTENING = /listening on [^\s"]*:\d+/;
const CLI_ARGS = ['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--log-level', 'info', '--no-console'];

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited(5000).catch(() => undefined);
}

test('the data directory is 0700 and every file in it 0600 (database, -wal, -shm, lock)', async () => {
  const parent = tempDir('modes');
  const dir = join(parent, 'data');
  try {
    await withAccounts({}, async (t) => {
      const alice = await registerAccount(t, 'alice', 'secret-pw-1');
      alice.send('/quit');
      await alice.closed();
      assert.is(mode(dir), 0o700, `data dir mode ${mode(dir).toString(8)}`);
      const files = readdirSync(dir);
      for (const f of ['epchat.db', 'epchat.db-wal', 'epchat.db-shm', 'epchat.lock']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      for (const f of files) assert.is(mode(join(dir, f)), 0o600, `${f} mode ${mode(join(dir, f)).toString(8)}`);
    }, dir);
    // an existing data directory of an older version (0755, 0644 files) is tightened at start
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    await withAccounts({}, async () => {
      assert.is(mode(dir), 0o700);
      for (const f of readdirSync(dir)) assert.is(mode(join(dir, f)), 0o600, `${f} after restart`);
    }, dir);
  } finally {
    removeDir(parent);
  }
});

test('a second server on the same data directory refuses to start (in-process and as a CLI); a stale lock is taken over', async () => {
  const dir = tempDir('lock');
  try {
    await withAccounts({}, async () => {
      const second = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir: dir });
      let caught: unknown;
      try {
        await withTimeout(second.listen(), 5000, 'second listen()');
      } catch (e) {
        caught = e;
      } finally {
        await second.close();
      }
      assert.ok(caught, 'a second server on the same data directory must not start');
      assert.is((caught as { code?: string }).code, 'EPCHAT_STORAGE');
      assert.match(String((caught as Error).message), dir);
      assert.match(String((caught as Error).message), /in use by another epchat server \(pid \d+/);

      const p = spawnBin([...CLI_ARGS], { env: { EPCHAT_DATA_DIR: dir } });
      try {
        assert.is(await p.exited(8000), 1);
        const all = [...p.out, ...p.err].join('\n');
        assert.match(all, /EPCHAT_STORAGE/);
        assert.match(all, new RegExp(`data directory ${dir} is in use by another epchat server \\(pid ${process.pid}`));
        assert.not.match(all, /cannot listen/);
      } finally {
        await stop(p);
      }
    }, dir);
    // the first server released its lock on close
    assert.not.ok(existsSync(join(dir, 'epchat.lock')), 'lock removed on close');
    // a lock left by a server that died (kill -9) names a pid that no longer runs: taken over
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'epchat.lock'), `${dead.stdout}\n`, { mode: 0o600 });
    await withAccounts({}, async (t) => {
      const c = await t.register('alice');
      c.send('/quit');
      await c.closed();
    }, dir);
  } finally {
    removeDir(dir);
  }
});

test('a storage failure at start is a storage error naming the path (CLI: EPCHAT_STORAGE, not "cannot listen")', async () => {
  const parent = tempDir('storage-fail');
  try {
    const file = join(parent, 'not-a-dir');
    writeFileSync(file, 'x');
    const dataDir = join(file, 'data');
    const server = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir });
    let caught: unknown;
    try {
      await withTimeout(server.listen(), 5000, 'listen()');
    } catch (e) {
      caught = e;
    } finally {
      await server.close();
    }
    assert.is((caught as { code?: string }).code, 'EPCHAT_STORAGE');
    assert.match(String((caught as Error).message), dataDir);

    const p = spawnBin([...CLI_ARGS, '--data-dir', dataDir]);
    try {
      assert.is(await p.exited(8000), 1);
      const all = [...p.out, ...p.err].join('\n');
      assert.match(all, /EPCHAT_STORAGE/);
      assert.match(all, dataDir);
      assert.not.match(all, /cannot listen/);
    } finally {
      await stop(p);
    }
  } finally {
    removeDir(parent);
  }
});

test('a server that fails to start (port in use) leaves no data directory or database behind', async () => {
  const parent = tempDir('nothing-left');
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const dataDir = join(parent, 'fresh', 'data');
    const server = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir, port });
    let caught: unknown;
    try {
      await withTimeout(server.listen(), 5000, 'listen()');
    } catch (e) {
      caught = e;
    } finally {
      await server.close();
    }
    assert.is((caught as { code?: string }).code, 'EADDRINUSE');
    assert.equal(readdirSync(parent), [], 'nothing created under the parent');

    // an existing data directory keeps its database; only the lock goes
    const keep = tempDir('keep');
    try {
      await withAccounts({}, async () => undefined, keep);
      const before = readdirSync(keep).sort();
      const again = createServer({ ...TEST_DEFAULTS, ...FAST_SCRYPT, accounts: true, dataDir: keep, port });
      await again.listen().then(() => assert.unreachable('port in use'), () => undefined);
      await again.close();
      assert.equal(readdirSync(keep).sort(), before, 'the existing files are kept, no lock left');
      assert.ok(before.includes('epchat.db'));
    } finally {
      removeDir(keep);
    }

    const p = spawnBin(['--host', '127.0.0.1', '--port', String(port), '--log-format', 'json', '--no-console', '--data-dir', join(parent, 'cli-data')]);
    try {
      assert.is(await p.exited(8000), 1);
      assert.match([...p.out, ...p.err].join('\n'), /EADDRINUSE/);
      assert.equal(readdirSync(parent), [], 'the CLI created nothing either');
    } finally {
      await stop(p);
    }
  } finally {
    blocker.close();
    removeDir(parent);
  }
});

test('an unknown EPCHAT_* variable is warned about with a suggestion; the server still starts', async () => {
  const p = spawnBin([...CLI_ARGS, '--no-accounts'], { env: { EPCHAT_PROT: '7001', EPCHAT_IDLE_TIMEOUT: '5' } });
  try {
    const port = parseListening(await p.waitOutput(LISTENING, 8000));
    assert.ok(port > 0);
    const warn = await p.waitOutput((l) => l.includes('EPCHAT_PROT'), 3000);
    assert.match(warn, /did you mean EPCHAT_PORT\?/);
    assert.match(await p.waitOutput((l) => l.includes('EPCHAT_IDLE_TIMEOUT'), 3000), /did you mean EPCHAT_IDLE_TIMEOUT_MS\?/);
    const unknown = [...p.out, ...p.err].filter((l) => l.includes('is not a known setting'));
    assert.is(unknown.length, 2, `only the two unknown variables (EPCHAT_DATA_DIR is a setting): ${unknown.join(' | ')}`);
    p.child.kill('SIGTERM');
    assert.is(await p.exited(8000), 0);
  } finally {
    await stop(p);
  }
});

test.run();
