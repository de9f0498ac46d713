// The admin console (the server's stdin) over real processes: a pipe, and a terminal (tmux) for the
// prompt. Its replies are on stdout, the log on stderr; terminal keys are not commands; the end of
// stdin is said, and the server keeps serving.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, PROMPT, connect, parseListening, register, withProc, type Proc } from './helpers.js';
import { killAllTerminals, withTerminal } from './tmux.js';

const test = suite('console');

const SERVER_ARGS = ['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--log-level', 'info'];
const CLOSED = 'console closed; server keeps running';

test.after.each(killAllTerminals);

async function started(p: Proc): Promise<number> {
  return parseListening(await p.waitOutput(/listening on [^\s"]*:\d+/, 8000));
}

/** Writes raw bytes to the server's stdin. */
const raw = (p: Proc, bytes: string) => { p.child.stdin.write(bytes); };

test('console over a pipe: replies on stdout, the log on stderr', () =>
  withProc([...SERVER_ARGS, '--console'], async (p) => {
    const port = await started(p);
    await p.waitOutput((l) => l.startsWith('{') && /listening on/.test(l), 5000, 'stderr');
    const alice = await register(port, 'alice');
    await p.waitOutput((l) => l.startsWith('{') && /"nick":"alice"/.test(l), 5000, 'stderr');
    p.write('/users');
    await p.waitOutput('1 user(s) online', 5000, 'stdout');
    assert.ok(p.out.some((l) => /^alice lobby /.test(l)), JSON.stringify(p.out));
    assert.equal(p.out.filter((l) => l.startsWith('{')), [], 'no log record on stdout');
    assert.equal(p.err.filter((l) => !l.startsWith('{')), [], 'only log records on stderr');
    p.write('/shutdown');
    await alice.expect('!! SHUTDOWN server is shutting down');
    assert.is(await p.exited(8000), 0);
  }));

test('console: arrow keys, Home, F1 and control keys are stripped, not commands', () =>
  withProc([...SERVER_ARGS, '--console'], async (p) => {
    await started(p);
    raw(p, '\x1b[A\x1b[B\n'); // Up, Down, Enter: nothing
    raw(p, '\x1bOP\x01\x05\x7f\n'); // F1, Ctrl-A, Ctrl-E, DEL: nothing
    raw(p, '/us\x1b[D\x1b[Cers\n'); // Left, Right inside the word
    await p.waitOutput('0 user(s) online', 5000, 'stdout');
    raw(p, '\x1b[H\x01/rooms\x1b[1;5C\n'); // Home, Ctrl-A, Ctrl-Right
    await p.waitOutput('1 room(s)', 5000, 'stdout');
    raw(p, '/say hello\x1b[2~ all\x1b\n'); // Insert, a lone Escape at the end
    await p.waitOutput('announced to 0 user(s)', 5000, 'stdout');
    raw(p, '\x1b]0;title\x07/stats\n'); // an OSC string
    await p.waitOutput(/^messages_in \d+$/, 5000, 'stdout');
    assert.equal(p.out.filter((l) => /unknown console command|usage:/.test(l)), [], JSON.stringify(p.out));
    p.write('/nosuch');
    await p.waitOutput('unknown console command /nosuch (try /help)', 5000, 'stdout');
    p.write('/shutdown');
    assert.is(await p.exited(8000), 0);
  }));

test('console: the end of stdin is said, and the server keeps serving', () =>
  withProc([...SERVER_ARGS, '--console'], async (p) => {
    const port = await started(p);
    p.write('/rooms');
    await p.waitOutput('1 room(s)', 5000, 'stdout');
    p.child.stdin.end();
    await p.waitOutput(CLOSED, 5000, 'stdout');
    const bob = await register(port, 'bob');
    bob.send('/who');
    await bob.expectNext('== WHO bob lobby');
    await bob.expectNext('== END WHO 1');
    assert.is(p.child.exitCode, null, 'still running');
    p.child.kill('SIGTERM');
    await bob.expectNext('!! SHUTDOWN server is shutting down');
    assert.is(await p.exited(8000), 0);
  }));

test('console in a terminal: a prompt, kept below log lines; Ctrl-D closes it, the server goes on', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'epchat-console-'));
  try {
    await withTerminal([process.execPath, BIN, '--host', '127.0.0.1', '--port', '0'],
      { columns: 100, rows: 40, env: { EPCHAT_DATA_DIR: dataDir } }, async (term) => {
        const rows = await term.waitForLine(/epchat listening on 127\.0\.0\.1:\d+/);
        const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(rows.find((r) => /listening on/.test(r))!)![1]);
        const last = async (want: string, what: string) => term.waitFor((r) => r[r.length - 1] === want, what);
        await last('epchat>', 'the prompt');

        // A log line (a registration) while the prompt shows: printed above it, the prompt below.
        const alice = await connect(port, 'alice');
        await alice.expectNext(PROMPT);
        alice.send('alice');
        await term.waitForLine(/INFO.*register/);
        await last('epchat>', 'the prompt below the log line');

        await term.type('/users');
        await term.press('Enter');
        await term.waitForLine('1 user(s) online');
        await last('epchat>', 'the prompt after the reply');
        const screen = await term.screen();
        assert.equal(screen.slice(-4), ['epchat> /users', screen[screen.length - 3]!, '1 user(s) online', 'epchat>']);
        assert.match(screen[screen.length - 3]!, /^alice lobby 127\.0\.0\.1:\d+$/);

        await term.press('Up', 'Enter'); // an arrow key alone: no command, a new prompt
        await term.waitFor((r) => r.length >= 2 && r[r.length - 1] === 'epchat>' && /^epchat> /.test(r[r.length - 2]!), 'a new prompt');
        assert.not.ok((await term.capture()).some((r) => /unknown console command/.test(r)));

        await term.press('C-d');
        await term.waitForLine(CLOSED);
        assert.is((await term.screen()).at(-1), CLOSED, 'no prompt once the console is closed');
        alice.send('/who');
        await alice.expect('== END WHO 1');
        process.kill(await term.pid(), 'SIGTERM');
        await alice.expect('!! SHUTDOWN server is shutting down');
        assert.is(await term.exited(), 0);
      });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server started in the background (`epchat &`) is not stopped when someone types in the shell', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'epchat-console-'));
  let pid = 0;
  try {
    await withTerminal(['bash', '--norc', '--noprofile', '-i'], { columns: 120, rows: 40, env: { EPCHAT_DATA_DIR: dataDir } }, async (term) => {
      await term.waitForLine(/[$#]$/); // the shell's prompt
      await term.type(`${process.execPath} ${BIN} --host 127.0.0.1 --port 0 --log-format json & echo "pid=$!"`);
      await term.press('Enter');
      const rows = await term.waitForLine(/"msg":"epchat listening on 127\.0\.0\.1:\d+"/, { join: true });
      pid = Number(/^pid=(\d+)$/.exec(rows.find((r) => /^pid=\d+$/.test(r))!)![1]);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(rows.find((r) => /listening on/.test(r))!)![1]);
      // Typing in the shell makes the terminal readable: the server must not read it (SIGTTIN would
      // stop it). The shell may take the input before the server's epoll looks, so type until the
      // server has seen it once.
      const closed = /console closed \(the server runs in the background: the terminal's input is not its own\); server keeps running$/;
      for (let i = 0; ; i++) {
        await term.type(`echo typed ${i}`);
        await term.press('Enter');
        await term.waitForLine(`typed ${i}`);
        try {
          await term.waitForLine(closed, { join: true, ms: 500 });
          break;
        } catch (e) {
          if (i === 20) throw e;
        }
      }
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
      assert.is.not(state, 'T', 'the server is not stopped');
      const bob = await register(port, 'bob'); // still served
      bob.send('/who');
      await bob.expect('== END WHO 1');
      process.kill(pid, 'SIGTERM');
      await bob.expect('!! SHUTDOWN server is shutting down');
      await bob.expectClosed();
    });
  } finally {
    if (pid > 0) { try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
