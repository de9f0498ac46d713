// The CLI's shutdown under account load, over real sockets: SIGTERM with 1,000 failed logins queued
// exits 0 promptly with the final stats; a second signal while the storage is still closing exits 130.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, connect, err, finalStats, parseListening, sleep, spawnBin, type LineClient, type Proc } from './helpers.js';
import { removeDir, tempDir } from './community-helpers.js';

const test = suite('shutdown');

const LISTENING = /listening on [^\s"]*:\d+/;
const ARGS = ['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--log-level', 'info', '--no-console'];

async function kill(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited(5000).catch(() => undefined);
}

test('SIGTERM with 1,000 failed logins queued: exit 0 within seconds, final stats printed', async () => {
  const dir = tempDir('sigterm-logins');
  // default scrypt cost (N = 16384); no login throttle, so every attempt costs a hash
  const p = spawnBin([...ARGS, '--data-dir', dir, '--login-max-failures', '1000000', '--flood-rate', '0']);
  const clients: LineClient[] = [];
  try {
    const port = parseListening(await p.waitOutput(LISTENING, 8000));
    for (let i = 0; i < 250; i++) {
      const c = await connect(port, `guest${i}`);
      clients.push(c);
    }
    for (const c of clients) await c.expectNext(PROMPT);
    for (const c of clients) c.socket.write('/login ghost wrong-password\n'.repeat(4)); // 1,000 in all
    // hashing has started (some answers are back): the rest wait
    await clients[0]!.expect(/^!! (AUTH_FAILED|BUSY) /, 10_000);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const code = await p.exited(15_000);
    const took = Date.now() - t0;
    assert.is(code, 0, `exit code (after ${took} ms)`);
    assert.ok(took < 5000, `exited in ${took} ms (grace 2000 ms)`);
    if (process.env.EPCHAT_TEST_VERBOSE) console.log(`SIGTERM with 1,000 logins queued: exit 0 after ${took} ms`);
    const stats = finalStats(p);
    assert.ok(stats, 'final stats printed');
    assert.is(stats!.accepted, 250);
    for (const c of clients) await c.closed(3000);
  } finally {
    for (const c of clients) c.destroy();
    await kill(p);
    removeDir(dir);
  }
});

test('a second signal while shutting down (the storage still closing) exits 130 at once', async () => {
  const dir = tempDir('sigterm-twice');
  // one slow hash (N = 262144, ~0.7 s, one at a time) still running when the engine has stopped
  const p = spawnBin([...ARGS, '--data-dir', dir, '--scrypt-n', '262144', '--hash-concurrency', '1']);
  const clients: LineClient[] = [];
  try {
    const port = parseListening(await p.waitOutput(LISTENING, 8000));
    const c = await connect(port, 'guest');
    clients.push(c);
    await c.expectNext(PROMPT);
    c.send('/login ghost wrong-password');
    // The login costs two hashes (the dummy one for unknown accounts, then the check): ~1.4 s. Nothing
    // observable marks its start, so give the line 200 ms to reach the host (a generous bound).
    await sleep(200);
    p.child.kill('SIGTERM');
    await c.expect(err('SHUTDOWN'), 5000);
    await c.closed(5000);
    // the engine has stopped; the login's hash keeps the process in its storage close
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const code = await p.exited(5000);
    assert.is(code, 130, `exit code ${String(code)} after ${Date.now() - t0} ms`);
    assert.ok([...p.out, ...p.err].some((l) => /SIGTERM again: exiting without waiting/.test(l)), 'says why');
  } finally {
    for (const c of clients) c.destroy();
    await kill(p);
    removeDir(dir);
  }
});

test.run();
