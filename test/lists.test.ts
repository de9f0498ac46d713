// Long list replies (/who, /users, /rooms) are sent a chunk at a time as the asker drains its socket
// (docs/protocol.md, "Long lists"): complete and in order, other lines may come between their lines,
// the asker's own next lines wait until its list is complete (docs/protocol.md, "Order"), and an
// asker that does not read costs the server a bounded amount of memory however often it asks.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  LineClient, PROMPT, expectStats, parseListening, sleep, spawnBin, until, welcome, withServer, withTimeout,
} from './helpers.js';

const test = suite('long lists');

/** 24-character nicks, so that a list of 1,000 users is about 38 KB (many 4 KiB chunks). */
const nick = (i: number) => `user${String(i).padStart(5, '0')}${'x'.repeat(15)}`;

async function registerMany(port: number, n: number, first = 0): Promise<LineClient[]> {
  const out: LineClient[] = [];
  const BATCH = 100;
  for (let i = 0; i < n; i += BATCH) {
    out.push(...await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, async (_, j) => {
      const name = nick(first + i + j);
      const c = new LineClient(port, name);
      await c.connected();
      await c.expectNext(PROMPT);
      c.send(name);
      await c.expectNext(welcome(name));
      return c;
    })));
  }
  return out;
}

interface Parsed {
  /** Every list received: its rows (the fields after `== KIND `) and the END count. */
  lists: { kind: string; rows: string[]; count: number }[];
  other: string[];
}

/** Splits what a client received into list replies (rows between the first row and the END line)
 *  and other lines, failing if a row comes outside a list or lists overlap. */
function parse(lines: string[], kinds: Record<string, string>): Parsed {
  const out: Parsed = { lists: [], other: [] };
  let cur: { kind: string; rows: string[] } | undefined;
  for (const l of lines) {
    const end = /^== END ([A-Z]+) (\d+)$/.exec(l);
    if (end) {
      const kind = end[1]!;
      const rows = cur && kinds[cur.kind] === kind ? cur.rows : [];
      assert.ok(!cur || kinds[cur.kind] === kind, `END ${kind} closes a ${cur?.kind} list`);
      out.lists.push({ kind, rows, count: Number(end[2]) });
      cur = undefined;
      continue;
    }
    const row = /^== ([A-Z]+) (.*)$/.exec(l);
    if (row && row[1]! in kinds) {
      if (!cur) cur = { kind: row[1]!, rows: [] };
      assert.is(cur.kind, row[1], `a ${row[1]} row inside a ${cur.kind} list`);
      cur.rows.push(row[2]!);
      continue;
    }
    out.other.push(l);
  }
  assert.ok(!cur, 'a list without its END line');
  return out;
}

const sorted = (a: string[]) => [...a].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : x.toLowerCase() > y.toLowerCase() ? 1 : 0));

test('lists longer than one chunk arrive complete and in order: /who, /users (scan of a big room), /rooms', () =>
  withServer({ maxClients: 1200, quietRoomSize: 1, backlog: 1024, floodRate: 0 }, async (t) => {
    const users = await registerMany(t.port, 1000);
    const names = users.map((u) => u.name);
    // 300 rooms, each made by one user (who leaves the lobby): /rooms is ~6 KB
    const rooms = Array.from({ length: 300 }, (_, i) => `room${String(i).padStart(3, '0')}`);
    await Promise.all(rooms.map(async (r, i) => {
      users[i]!.send(`/create ${r}`);
      await users[i]!.expect(`>> ${names[i]} joined ${r}`);
    }));
    const alice = users[999]!;
    alice.pos = alice.lines.length;
    // one write: /rooms waits until the /who reply is complete, then is answered
    await alice.sendRaw('/who\n/rooms\n');
    const who = await alice.reply('WHO');
    assert.is(who.count, 1000);
    assert.equal(who.rows, sorted(names).map((n) => `== WHO ${n} ${names.indexOf(n) < 300 ? rooms[names.indexOf(n)] : 'lobby'}`));
    const first = await alice.reply('ROOMS');
    assert.is(first.count, 301);
    alice.send('/users');
    const usersReply = await alice.reply('USERS');
    assert.is(usersReply.count, 700);
    assert.equal(usersReply.rows, sorted(names.slice(300)).map((n) => `== USER ${n}`));
    alice.send('/rooms');
    const roomsReply = await alice.reply('ROOMS');
    assert.is(roomsReply.count, 301);
    assert.equal(roomsReply.rows, ['== ROOM lobby 700', ...rooms.map((r) => `== ROOM ${r} 1`)]);
    // a small room's /users is answered at once, as before
    users[0]!.pos = users[0]!.lines.length;
    users[0]!.send('/users');
    assert.equal((await users[0]!.reply('USERS')).rows, [`== USER ${names[0]}`]);
  }, 60_000));

test('a non-reading asker: its list stops, its next lines wait unread, it is not dropped; other lines interleave whole', () =>
  withServer({ maxClients: 1200, quietRoomSize: 1, backlog: 1024, floodRate: 0 }, async (t) => {
    // default maxOutputBytes (1 MiB): a server that queued every list would drop alice as slow
    const users = await registerMany(t.port, 1000);
    const names = users.map((u) => u.name);
    const [alice, bob] = [users[0]!, users[1]!];
    alice.pos = alice.lines.length;
    alice.pause(); // never reads until told
    const before = t.server.stats().messages_in;
    const ASKS = 400; // 400 × 38 KB = 15 MB of lists, far more than the kernel's socket buffers
    await alice.sendRaw('/who\n'.repeat(ASKS));
    await until(() => t.server.stats().messages_in >= before + 1, 10_000, 'the server read the first /who');
    // meanwhile bob's private messages to alice
    for (let i = 0; i < 50; i++) bob.send(`/msg ${names[0]} m${i}`);
    await bob.expect(`[pm to ${names[0]}] m49`);
    await expectStats(t.server, { dropped_slow: 0, connections: 1000 });
    // a stalled list holds the /who behind it in alice's socket, unread (the kernel's buffers hold
    // ~100 lists of 38 KB before the list stalls)
    assert.ok(t.server.stats().messages_in - before - 50 < ASKS, 'the /who behind a stalled list wait unread');
    alice.resume();
    // a last /who once everything else has arrived marks the end
    await until(() => alice.lines.filter((l) => l.startsWith('[pm from ')).length === 50, 10_000, 'alice has every pm');
    const parsedSoFar = () => parse(alice.lines.slice(alice.pos), { WHO: 'WHO' });
    await until(() => { try { return parsedSoFar().lists.length === ASKS; } catch { return false; } }, 30_000,
      'every /who answered with a complete list');
    const p = parsedSoFar();
    const want = sorted(names).map((n) => `${n} lobby`);
    for (const l of p.lists) {
      assert.is(l.count, 1000);
      assert.equal(l.rows, want);
    }
    // nothing else either: no /who refused (each waited for the list before it), no error
    assert.equal(p.other, Array.from({ length: 50 }, (_, i) => `[pm from ${names[1]}] m${i}`), 'the pms, whole and in order');
    alice.pos = alice.lines.length;
    alice.send('/who');
    assert.is((await alice.reply('WHO', 10_000)).count, 1000);
  }, 60_000));

// ---------------------------------------------------------------------------------------------
// Memory: a spawned server, so its RSS can be read

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const UNDER_ASAN = /asan/.test(process.env.LD_PRELOAD ?? '');

test('20 askers that never read, 300 /who each of 1,000 users: server memory stays bounded', async () => {
  const proc = spawnBin(['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--no-console', '--no-accounts',
    '--quiet-room-size', '1', '--flood-rate', '0', '--max-clients', '1200', '--backlog', '1024',
    '--max-output-bytes', String(64 * 1024 * 1024)]);
  const clients: LineClient[] = [];
  try {
    await withTimeout((async () => {
      const port = parseListening(await proc.waitOutput(/listening on/, 10_000));
      const pid = proc.child.pid!;
      clients.push(...await registerMany(port, 1000));
      const askers = clients.slice(0, 20);
      const witness = clients[999]!;
      const stat = async (name: string) => {
        witness.pos = witness.lines.length;
        witness.send('/stats');
        const row = (await witness.reply('STATS', 10_000)).rows.find((r) => r.startsWith(`== STAT ${name} `));
        return Number(row!.split(' ').pop());
      };
      const rss0 = rssKb(pid);
      const in0 = await stat('messages_in');
      const ASKS = 300; // 300 × 38 KB = 11 MB per asker: 230 MB if it were all queued
      for (const a of askers) a.pause();
      await Promise.all(askers.map((a) => a.sendRaw('/who\n'.repeat(ASKS))));
      // the server reads /who until each asker's list stalls (the kernel's buffers full), then the
      // rest waits unread in the askers' sockets: wait until it has stopped reading (each stat() is a line)
      const deadline = Date.now() + 20_000;
      let polls = 0;
      let last = -1;
      for (;;) {
        const read = (await stat('messages_in')) - in0 - ++polls;
        if (read >= 20 && read === last) break;
        last = read;
        if (Date.now() > deadline) throw new Error('the server did not stop reading /who in 20 s');
        await sleep(200);
      }
      const grown = rssKb(pid) - rss0;
      process.stderr.write(`    [lists] server RSS +${grown} KiB for 20 non-reading askers × ${ASKS} /who\n`);
      if (!UNDER_ASAN) assert.ok(grown < 24 * 1024, `server RSS grew by ${grown} KiB for 20 non-reading askers (bound 24 MiB)`);
      assert.is(await stat('dropped_slow'), 0);
      // the others are served meanwhile
      clients[998]!.send(`/msg ${witness.name} still here`);
      await witness.expect(`[pm from ${clients[998]!.name}] still here`);
    })(), 90_000, 'memory test');
  } finally {
    for (const c of clients) c.destroy();
    proc.child.kill('SIGKILL');
    await proc.exited(5000).catch(() => undefined);
  }
});

test.run();
