// The terminal client (`epchat connect`) as a person uses it: in a real terminal (tmux, narrow), and
// as a pipe. The server is real; other users are line clients over TCP.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expandShortcut, secretStart } from '../lib/shortcuts.js';
import { masked } from '../lib/client-terminal.js';
import { ClientSession } from '../lib/client-session.js';
import { BIN, PROMPT, spawnBin, welcome, withServer } from './helpers.js';
import { createOffline, loggedIn, registerAccount, withAccounts } from './community-helpers.js';
import { killAllTerminals, withTerminal } from './tmux.js';

const test = suite('client');

const PASSWORD = 'pass-word-1';
const clientArgv = (port: number) => [process.execPath, BIN, 'connect', `127.0.0.1:${port}`];

/** Rows from the last one matching `start`. */
const tail = (rows: string[], start: RegExp) => {
  let i = rows.length - 1;
  while (i >= 0 && !start.test(rows[i]!)) i--;
  return i < 0 ? [] : rows.slice(i);
};

test.after.each(killAllTerminals);

// ------------------------------------------------------------------------------- pure parts

test('shortcuts: each seed 002 command maps onto a server command', () => {
  const groups = new Set(['team']);
  const isGroup = (n: string) => groups.has(n.toLowerCase());
  assert.equal(expandShortcut('@bob hello there', isGroup), ['/msg bob hello there']);
  assert.equal(expandShortcut('@bob "Do or do not"', isGroup), ['/msg bob Do or do not']);
  assert.equal(expandShortcut('@Team standup at 10', isGroup), ['/msg @Team standup at 10']);
  assert.equal(expandShortcut('?', isGroup), ['/unread']);
  assert.equal(expandShortcut(' ? ', isGroup), ['/unread']);
  assert.equal(expandShortcut('read', isGroup), ['/read']);
  assert.equal(expandShortcut('jedi=yoda+luke', isGroup), ['/group create jedi yoda luke']);
  assert.equal(expandShortcut('@jedi=yoda+luke', isGroup), ['/group create jedi yoda luke']);
  assert.equal(expandShortcut('solo=han', isGroup), ['/group create solo han']);
  assert.equal(expandShortcut('jedi+=hansolo', isGroup), ['/group add jedi hansolo']);
  assert.equal(expandShortcut('jedi+=han+chewie', isGroup), ['/group add jedi han', '/group add jedi chewie']);
  // not shortcuts: sent as typed
  for (const line of ['hello', '@bob', '@ bob hi', 'read it', '??', 'a = b', 'x=y z', '/msg bob hi', '2+2=4', '\\o/', 'a==b', 'a = b+c', 'a+= b']) {
    assert.is(expandShortcut(line, isGroup), null, line);
  }
  // a backslash sends a would-be shortcut as it is
  assert.equal(expandShortcut('\\?', isGroup), ['?']);
  assert.equal(expandShortcut('\\read', isGroup), ['read']);
  assert.equal(expandShortcut('\\@bob hi', isGroup), ['@bob hi']);
});

test('passwords: where the secret part of a typed line starts, and how it is drawn', () => {
  assert.is(secretStart('/register bob'), -1);
  assert.is(secretStart('/register bob '), 13);
  assert.is(secretStart('/register bob hunter22'), 13);
  assert.is(secretStart('/LOGIN bob hunter22'), 10);
  assert.is(secretStart('/passwd'), -1);
  assert.is(secretStart('/passwd old new'), 7);
  assert.is(secretStart('/unregister hunter22'), 11);
  assert.is(secretStart('  /login  bob  pw'), 13);
  for (const line of ['/msg bob hi', 'login bob pw', '/loginx a b', 'hello /login a b']) assert.is(secretStart(line), -1, line);
  assert.is(masked('/login bob hunter22', 10), '/login bob ********');
  assert.is(masked('/passwd old new', 7), '/passwd *** ***');
  assert.is(masked('/login bob hunter22', 10, 12, 15), '***');
  assert.is(masked('/login bob hunter22', 10, 0, 8), '/login b');
  assert.is(masked('pässwört', 0), '********');
  assert.is(masked('密码', 0), '****', 'as many stars as columns');
  assert.is(masked('hello', -1), 'hello');
});

test('session: no shortcut at the nickname or password step; the password step is secret', () => {
  const s = new ClientSession();
  s.received(PROMPT);
  assert.equal(s.typed('read'), { send: ['read'], local: [], secret: false }, '"read" is a nickname here');
  s.received('>> read is a registered account; password:');
  assert.is(s.prompt(), 'password: ');
  assert.equal(s.typed('').send, [], 'an empty password is not sent');
  assert.is(s.prompt(), 'password: ');
  assert.is(s.secretFrom('anything'), 0);
  assert.equal(s.typed('team=a+b'), { send: ['team=a+b'], local: [], secret: true });
  assert.equal(s.received('>> Logged in as read: 2 unread messages (/read)'), ['/group list']);
  assert.is(s.prompt(), '[2 unread] > ');
  assert.equal(s.typed('read').send, ['/read']);
  s.received('== END MAIL 2');
  assert.is(s.prompt(), '> ');
  assert.equal(s.typed('  /login bob pw').send, ['/login bob pw'], 'a command after blanks stays a command');
  assert.ok(s.typed('/help').local.some((l) => l.includes('@GROUP TEXT')));
  s.received('== GROUP crew 3');
  s.received('== END GROUPS 1');
  assert.equal(s.typed('@crew hi').send, ['/msg @crew hi']);
  s.received('>> You left @crew');
  assert.equal(s.typed('@crew hi').send, ['/msg crew hi']);
  assert.is(s.quitting, false);
  s.typed('/quit bye');
  assert.is(s.quitting, true);
});

// ------------------------------------------------------------------------------- in a terminal

test('a 40-column terminal: lines arriving while the input wraps over several rows are all shown, input intact', () =>
  withServer({}, async (t) => {
    await withTerminal(clientArgv(t.port), { columns: 40, rows: 12 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type('carl');
      await term.press('Enter');
      await term.waitForLine(welcome('carl'));
      const bob = await t.register('bob');
      await term.waitForLine(welcome('bob'));

      // 100 characters after the 2-column prompt: 3 rows of 40.
      const typed = 'the quick brown fox jumps over the lazy dog while carl keeps typing a very long line of text here!';
      assert.is(typed.length, 98);
      await term.type(typed);
      await term.waitForLine(`> ${typed}`, { join: true });
      for (let i = 1; i <= 5; i++) bob.send(`incoming ${i} from bob`);
      let rows = await term.waitFor((r) => r.includes('bob: incoming 5 from bob') && r[r.length - 1] === `> ${typed}`,
        'the five lines from bob, the input below them', { join: true });
      const shown = rows.filter((l) => l.startsWith('bob: '));
      assert.equal(shown, [1, 2, 3, 4, 5].map((i) => `bob: incoming ${i} from bob`), 'each once, in order');
      assert.equal(tail(rows, /^> /), [`> ${typed}`], 'the input, intact, below them (and nothing after it)');

      // The cursor in the first row of the input (the terminal shows the input over 3 rows).
      await term.press(...Array<string>(70).fill('Left'));
      for (let i = 6; i <= 8; i++) bob.send(`incoming ${i} from bob`);
      rows = await term.waitFor((r) => r.includes('bob: incoming 8 from bob') && r[r.length - 1] === `> ${typed}`,
        'the next three, the input below them', { join: true });
      assert.equal(rows.filter((l) => l.startsWith('bob: ')).length, 8, 'nothing lost or repeated');
      assert.equal(tail(rows, /^> /), [`> ${typed}`]);
      const screen = await term.screen();
      assert.equal(screen.slice(-3), [`> ${typed.slice(0, 38)}`, typed.slice(38, 78), typed.slice(78)], 'drawn once, over 3 rows');

      // Typing goes on where the cursor is; Enter sends the whole line.
      await term.type('X');
      await term.press('Enter');
      await bob.expectNext(`carl: ${typed.slice(0, 28)}X${typed.slice(28)}`);
    });
  }));

test('a line exactly as wide as the terminal, then incoming lines: nothing overwritten', () =>
  withServer({}, async (t) => {
    await withTerminal(clientArgv(t.port), { columns: 40, rows: 12 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type('dora');
      await term.press('Enter');
      await term.waitForLine(welcome('dora'));
      const bob = await t.register('bob');
      await term.waitForLine(welcome('bob'));
      const typed = 'x'.repeat(38); // with "> ", exactly one full row: the terminal's wrap is pending
      await term.type(typed);
      await term.waitForLine(`> ${typed}`);
      bob.send('one');
      bob.send('two');
      const rows = await term.waitFor((r) => r.includes('bob: two') && r[r.length - 1] === `> ${typed}`, 'both lines, then the input', { join: true });
      assert.equal(rows.slice(rows.indexOf(welcome('bob'))), [welcome('bob'), 'bob: one', 'bob: two', `> ${typed}`]);
    });
  }));

test('text pasted (or typed quickly) in the middle of the line goes where the cursor is', () =>
  withServer({}, async (t) => {
    await withTerminal(clientArgv(t.port), { columns: 40, rows: 12 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type('hana');
      await term.press('Enter');
      await term.waitForLine(welcome('hana'));
      const bob = await t.register('bob');
      await term.waitForLine(welcome('bob'));
      await term.type('abcdefgh');
      await term.press('Left', 'Left', 'Left');
      await term.type('XYZ'); // one chunk, as a paste arrives
      await term.waitFor((r) => r[r.length - 1] === '> abcdeXYZfgh', 'the paste drawn at the cursor');
      await term.press('Enter');
      await bob.expectNext('hana: abcdeXYZfgh');
    });
  }));

test('passwords are not echoed and not kept in the history; /quit exits 0', () =>
  withAccounts({}, async (t) => {
    await withTerminal(clientArgv(t.port), { columns: 60, rows: 20 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type(`/register carl ${PASSWORD}`);
      await term.waitForLine('> /register carl ***********'); // masked while typed
      await term.press('Enter');
      await term.waitForLine(loggedIn('carl'));
      await term.type('hello room');
      await term.press('Enter');
      await term.type(`/passwd ${PASSWORD} new-pass-2`);
      await term.press('Enter');
      await term.waitForLine('>> Password changed');
      await term.type(`/login carl new-pass-2`);
      await term.press('Enter');
      await term.waitForLine(/^!! ALREADY_LOGGED_IN/);
      // Up: the last line kept is "hello room", not a line with a password.
      await term.press('Up');
      await term.waitFor((r) => r[r.length - 1] === '> hello room', 'the history to skip the password lines');
      await term.press('Up');
      await term.waitFor((r) => r[r.length - 1] === '>', 'nothing older: the input empty');
      await term.press('C-u');
      await term.type('/quit');
      await term.press('Enter');
      assert.is(await term.exited(), 0);
      const all = (await term.capture(true)).join('\n');
      assert.not.ok(all.includes(PASSWORD) || all.includes('new-pass-2'), all);
      assert.ok(all.includes('> /passwd *********** **********'), all);
    });

    // The password prompt: carl is a registered account now.
    await withTerminal(clientArgv(t.port), { columns: 60, rows: 20 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type('carl');
      await term.press('Enter');
      await term.waitForLine('>> carl is a registered account; password:');
      await term.waitFor((r) => r[r.length - 1] === 'password:', 'the password prompt');
      await term.type('new-pass-2');
      await term.waitFor((r) => r[r.length - 1] === 'password: **********', 'the password masked');
      await term.press('Enter');
      await term.waitForLine(loggedIn('carl'));
      await term.press('Up');
      await term.waitFor((r) => r[r.length - 1] === '> carl', 'the history to hold the nickname only');
      const all = (await term.capture(true)).join('\n');
      assert.not.ok(all.includes('new-pass-2'), all);
    });
  }));

test('the server going away: exit status 1 and a message saying why (terminal)', () =>
  withAccounts({}, async (t) => {
    await createOffline(t, PASSWORD, 'erin');
    await withTerminal(clientArgv(t.port), { columns: 80, rows: 10 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type(`/login erin ${PASSWORD}`);
      await term.press('Enter');
      await term.waitForLine(loggedIn('erin'));
      t.server.kick('erin', 'testing');
      await term.waitForLine('!! KICKED testing');
      assert.is(await term.exited(), 1);
      await term.waitForLine(/^epchat: the server at 127\.0\.0\.1:\d+ closed the connection \(KICKED testing\)$/);
    });
  }));

test('the server going away: exit status 1 and a message (pipe); /quit in the pipe exits 0', () =>
  withServer({}, async (t) => {
    const p = spawnBin(['connect', `127.0.0.1:${t.port}`]);
    try {
      await p.waitOutput(PROMPT, 8000, 'stdout');
      p.write('fred');
      await p.waitOutput(welcome('fred'), 5000, 'stdout');
      void t.close(); // the server shuts down while the client's input is still open
      await p.waitOutput('!! SHUTDOWN server is shutting down', 5000, 'stdout');
      assert.is(await p.exited(5000), 1);
      await p.waitOutput(/^epchat: the server at 127\.0\.0\.1:\d+ closed the connection \(SHUTDOWN server is shutting down\)$/, 2000, 'stderr');
    } finally {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  }));

test('pipe: lines written before the connection is made are all sent; the end of input exits 0', () =>
  withServer({}, async (t) => {
    const bob = await t.register('bob');
    const p = spawnBin(['connect', `127.0.0.1:${t.port}`]);
    try {
      p.child.stdin.end('ivan\nfirst\nsecond\n'); // at once, before the client has even connected
      await bob.expectNext(welcome('ivan'));
      await bob.expectNext('ivan: first');
      await bob.expectNext('ivan: second');
      assert.is(await p.exited(5000), 0);
      assert.equal(p.err, []);
    } finally {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  }));

test('pipe: /quit, with the input still open, exits 0', () =>
  withServer({}, async (t) => {
    const p = spawnBin(['connect', `127.0.0.1:${t.port}`]);
    try {
      await p.waitOutput(PROMPT, 8000, 'stdout');
      p.write('gina');
      await p.waitOutput(welcome('gina'), 5000, 'stdout');
      p.write('/quit');
      assert.is(await p.exited(5000), 0);
      assert.equal(p.err, []);
    } finally {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  }));

test('shortcuts in the terminal: @user, @group, ?, read, group=u1+u2, group+=u, /help, \\', () =>
  withAccounts({}, async (t) => {
    await createOffline(t, PASSWORD, 'carl', 'dave', 'erin');
    const bob = await registerAccount(t, 'bob', PASSWORD);
    bob.send('/msg carl while you were away');
    await bob.expectNext('>> Message stored for carl (offline)');
    bob.send('/group create crew carl');
    await bob.expectNext('>> Group @crew created with 2 members: bob, carl');

    await withTerminal(clientArgv(t.port), { columns: 80, rows: 40 }, async (term) => {
      await term.waitForLine(PROMPT);
      await term.type('carl');
      await term.press('Enter');
      await term.waitForLine('>> carl is a registered account; password:');
      await term.type(PASSWORD);
      await term.press('Enter');
      await term.waitForLine(loggedIn('carl', 1));
      await term.waitForLine('== END GROUPS 1'); // the client asked for the groups it is in
      await term.waitFor((r) => r[r.length - 1] === '[1 unread] >', 'the unread count in the prompt');
      await bob.expectNext(welcome('carl'));
      const enter = async (line: string) => { await term.type(line); await term.press('Enter'); };

      await enter('?');
      await term.waitForLine('>> 1 unread message');
      await enter('read');
      await term.waitForLine(/^== MAIL \S+ bob while you were away$/);
      await term.waitForLine('== END MAIL 1');
      await term.waitFor((r) => r[r.length - 1] === '>', 'no unread count once read');

      await enter('@bob hello "bob"');
      await bob.expectNext('[pm from carl] hello "bob"');
      await term.waitForLine('[pm to bob] hello "bob"');

      await enter('@crew from the crew'); // a group the client learnt from /group list
      await bob.expectNext('[@crew from carl] from the crew');
      await term.waitForLine('>> Sent to 1 recipient in @crew (1 online, 0 stored)');

      await enter('team=bob+dave');
      await term.waitForLine('>> Group @team created with 3 members: carl, bob, dave');
      await enter('@team "standup at 10"');
      await bob.expectNext('[@team from carl] standup at 10');
      await term.waitForLine('>> Sent to 2 recipients in @team (1 online, 1 stored)');
      await enter('team+=erin');
      await term.waitForLine('>> erin added to @team');

      await enter('\\?');
      await bob.expectNext('carl: ?');

      await enter('/help');
      await term.waitForLine('client shortcuts, and the server command each one sends:');
      await term.waitForLine(/^  G\+=U1\+U2… +\/group add G U1, … +add members to a group$/);
      await term.waitForLine(/^== END HELP \d+$/);
      const rows = await term.capture();
      assert.ok(rows.indexOf('server commands:') < rows.findIndex((l) => l.startsWith('== HELP ')), 'client shortcuts first');
      await bob.quiet();
    });
  }));

test.run();
