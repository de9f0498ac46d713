// The CLI (bin/epchat.js): server process, signals, admin console over a stdin pipe, `connect` client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PROMPT, bye, connect, finalStats, parseListening, register, spawnBin, welcome, withProc, withServer, type Proc,
} from './helpers.js';

const test = suite('CLI');

const SERVER_ARGS = ['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--log-level', 'info'];
const LISTENING = /listening on [^\s"]*:\d+/;
const notJson = (l: string) => !l.startsWith('{');

async function started(p: Proc): Promise<number> {
  const port = parseListening(await p.waitOutput(LISTENING, 8000));
  assert.ok(port > 0, `port ${port}`);
  return port;
}

test('SIGTERM: clients get SHUTDOWN, exit code 0, final stats printed', () =>
  withProc([...SERVER_ARGS, '--no-console'], async (p) => {
    const port = await started(p);
    const alice = await register(port, 'alice');
    const anon = await connect(port, 'anon');
    await anon.expectNext(PROMPT);
    alice.send('/create x');
    await alice.expectNext('>> alice joined x');
    p.child.kill('SIGTERM');
    for (const c of [alice, anon]) {
      await c.expectNext('!! SHUTDOWN server is shutting down');
      await c.expectClosed();
    }
    assert.is(await p.exited(8000), 0);
    const stats = finalStats(p);
    assert.ok(stats, `final stats in the output: ${JSON.stringify(p.out.slice(-5))}`);
    assert.is(stats!.accepted, 2);
    assert.is(stats!.peak_users, 1);
  }));

test('SIGINT also shuts down gracefully with exit code 0', () =>
  withProc([...SERVER_ARGS, '--no-console'], async (p) => {
    const port = await started(p);
    const alice = await register(port, 'alice');
    p.child.kill('SIGINT');
    await alice.expectNext('!! SHUTDOWN server is shutting down');
    await alice.expectClosed();
    assert.is(await p.exited(8000), 0);
  }));

test('flags reach the engine (--idle-timeout-ms, --max-line-bytes)', () =>
  withProc([...SERVER_ARGS, '--no-console', '--idle-timeout-ms', '300', '--max-line-bytes', '32'], async (p) => {
    const port = await started(p);
    const alice = await register(port, 'alice');
    alice.send('z'.repeat(40));
    await alice.expectNext(/^!! LINE_TOO_LONG( |$)/);
    await alice.expectNext(/^!! IDLE_TIMEOUT( |$)/, 3000);
    await alice.expectClosed();
  }));

test('SIGHUP re-reads the config file and applies reloadable settings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'epchat-test-'));
  const file = join(dir, 'epchat.json');
  writeFileSync(file, JSON.stringify({ maxLineBytes: 100 }));
  try {
    await withProc([...SERVER_ARGS, '--no-console', '--config', file], async (p) => {
      const port = await started(p);
      const alice = await register(port, 'alice');
      alice.send('/nosuch ' + 'a'.repeat(50));
      await alice.expectNext(/^!! UNKNOWN_COMMAND( |$)/);
      writeFileSync(file, JSON.stringify({ maxLineBytes: 32 }));
      p.child.kill('SIGHUP');
      await p.waitOutput((l) => l.startsWith('{') && /reload/.test(l) && /maxLineBytes/.test(l), 5000);
      await alice.quiet(); // one round trip for the engine to pick the policy up
      alice.send('/nosuch ' + 'a'.repeat(50));
      await alice.expectNext(/^!! LINE_TOO_LONG( |$)/);
      assert.is(p.child.exitCode, null, 'SIGHUP does not stop the server');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad flag exits with a usage error, not a crash', () =>
  withProc(['--port', 'notaport', '--log-format', 'json'], async (p) => {
    const code = await p.exited(8000);
    assert.is(code, 2);
    assert.ok([...p.out, ...p.err].some((l) => /port/i.test(l)), 'names the bad setting');
  }));

test('admin console over a stdin pipe: /say, /users, /rooms, /stats, /kick, /shutdown', () =>
  withProc([...SERVER_ARGS, '--console'], async (p) => {
    const port = await started(p);
    const alice = await register(port, 'alice');
    const bob = await register(port, 'bob');
    await alice.expectNext(welcome('bob'));

    p.write('/say hi everyone');
    await alice.expectNext('>> [server] hi everyone');
    await bob.expectNext('>> [server] hi everyone');

    p.write('/users');
    await p.waitOutput((l) => notJson(l) && /\balice\b/.test(l), 5000, 'stdout');
    await p.waitOutput((l) => notJson(l) && /\bbob\b/.test(l), 5000, 'stdout');

    p.write('/rooms');
    await p.waitOutput((l) => notJson(l) && /\blobby\b/.test(l), 5000, 'stdout');

    p.write('/stats');
    await p.waitOutput((l) => notJson(l) && /\bmessages_in\b/.test(l), 5000, 'stdout');

    p.write('/kick bob spamming');
    await bob.expectNext('!! KICKED spamming');
    await bob.expectClosed();
    await alice.expectNext(bye('bob'));

    p.write('/shutdown');
    await alice.expectNext('!! SHUTDOWN server is shutting down');
    await alice.expectClosed();
    assert.is(await p.exited(8000), 0);
  }));

test('epchat connect: a piped client sends stdin lines and prints server lines', () => withServer({}, async (t) => {
  const bob = await t.register('bob');
  const p = spawnBin(['connect', `127.0.0.1:${t.port}`]);
  try {
    await p.waitOutput(PROMPT, 8000, 'stdout');
    p.write('carl');
    await p.waitOutput(welcome('carl'), 5000, 'stdout');
    await bob.expectNext(welcome('carl'));
    p.write('hello from the cli');
    await bob.expectNext('carl: hello from the cli');
    bob.send('hi carl');
    await p.waitOutput('bob: hi carl', 5000, 'stdout');
    p.child.stdin.end(); // end of input: the client leaves
    await bob.expectNext(bye('carl'));
    assert.is(await p.exited(5000), 0);
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
}));

test.run();
