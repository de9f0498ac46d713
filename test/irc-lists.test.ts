// IRC's long replies and long texts (docs/irc.md, "Long replies" and "Long messages"): LIST, NAMES and
// WHO of a big room and WHO with a mask are sent a chunk at a time as the asker reads, through the
// line protocol's list machinery (an asker that does not read is not dropped, costs others nothing,
// and its next lines wait); a line user's message longer than an IRC line reaches IRC users whole, in
// several lines; an announcement reaches line, IRC and WebSocket IRC users, formatted once per codec.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from 'irc-framework';
import { expectStats, until, withServer, withTimeout, type TestServer } from './helpers.js';
import { IrcRaw, ircPort, ircRegister } from './irc-helpers.js';
import { httpPort, wsIrcRegister, destroyAllWs, type WsClient } from './ws-helpers.js';

const test = suite('irc long replies');
test.after.each(() => destroyAllWs());

const byteLen = (s: string) => Buffer.byteLength(s, 'utf8');

async function registerMany(t: TestServer, nicks: string[]): Promise<IrcRaw[]> {
  const out: IrcRaw[] = [];
  for (let i = 0; i < nicks.length; i += 50) out.push(...await Promise.all(nicks.slice(i, i + 50).map((n) => ircRegister(t, n))));
  return out;
}

/** Joins c to chans, a JOIN line of at most 15 at a time; resolves after the last one's 366. */
async function joinAll(c: IrcRaw, chans: string[]): Promise<void> {
  for (let i = 0; i < chans.length; i += 15) c.send(`JOIN ${chans.slice(i, i + 15).join(',')}`);
  const last = chans[chans.length - 1]!;
  await c.num(366, `${last} `);
}

interface Reply { rows: string[]; end: string }

/** Splits lines (numerics to `me`) into replies: rows of numeric `row` (their text after `:epchat NNN me `)
 *  closed by numeric `end`; head (if given) must open each reply. Fails on anything else. */
function replies(lines: string[], me: string, row: number, end: number, head?: number): Reply[] {
  const out: Reply[] = [];
  let cur: string[] | undefined;
  const re = new RegExp(`^:epchat (\\d{3}) ${me} (.*)$`);
  for (const l of lines) {
    const m = re.exec(l);
    assert.ok(m, `a numeric: ${l}`);
    const code = Number(m![1]);
    if (head !== undefined && code === head) {
      assert.ok(!cur, `${head} inside a reply`);
      cur = [];
      continue;
    }
    if (code === row) {
      if (!cur) { assert.is(head, undefined, `${row} outside a reply`); cur = []; }
      cur.push(m![2]!);
      continue;
    }
    assert.is(code, end, `only ${row}/${end} lines: ${l}`);
    out.push({ rows: cur ?? [], end: m![2]! });
    cur = undefined;
  }
  assert.ok(!cur, 'the last reply is complete');
  return out;
}

test('LIST of 2,000 rooms to an IRC asker that does not read: not dropped, others unslowed, every LIST whole and in order', () =>
  withServer({ floodRate: 0, maxClients: 300, backlog: 1024 }, async (t) => {
    const chan = (i: number) => `#room${String(i).padStart(5, '0')}${'y'.repeat(20)}`;
    const joiners = await registerMany(t, Array.from({ length: 40 }, (_, i) => `joiner${i}`));
    await Promise.all(joiners.map((j, k) => joinAll(j, Array.from({ length: 50 }, (_, i) => chan(k * 50 + i)))));
    const rooms = t.server.stats().rooms;
    assert.is(rooms, 2001, '2,000 rooms and the lobby');
    const asker = await ircRegister(t, 'asker');
    const bob = await ircRegister(t, 'bob');
    const carol = await t.register('carol');
    const start = asker.c.lines.length;
    asker.c.pause(); // never reads until told
    const before = t.server.stats().messages_in;
    const ASKS = 150; // 150 × ~110 KB of LIST: 16 MB, far more than maxOutputBytes (1 MiB) and the kernel's buffers
    await asker.c.sendRaw('LIST\r\n'.repeat(ASKS) + 'PING :listed\r\n');
    await until(() => t.server.stats().messages_in > before, 10_000, 'the server read the first LIST');
    // meanwhile, private messages between others go through promptly
    const lat: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = process.hrtime.bigint();
      bob.send(`PRIVMSG carol :ping ${i}`);
      await carol.expect(`[pm from bob] ping ${i}`);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    lat.sort((a, b) => a - b);
    process.stderr.write(`    [irc-lists] pm latency while an IRC asker stalls on LIST: median ${lat[15]!.toFixed(2)} ms, max ${lat[29]!.toFixed(2)} ms\n`);
    assert.ok(lat[29]! < 2000, `a pm took ${lat[29]} ms`);
    await expectStats(t.server, { dropped_slow: 0 });
    // a stalled LIST holds the lines behind it in the asker's socket, unread
    assert.ok(t.server.stats().messages_in - before - 30 < ASKS, 'the LISTs behind a stalled one wait unread');
    asker.c.resume();
    await asker.expect(':epchat PONG epchat :listed', 60_000);
    const got = asker.c.lines.slice(start).map((l) => l.slice(0, -1));
    assert.is(got.pop(), ':epchat PONG epchat :listed', 'the PING behind the LISTs answered after all of them');
    const want = ['#lobby 1 :', ...Array.from({ length: 2000 }, (_, i) => `${chan(i)} 1 :`)].sort();
    const lists = replies(got, 'asker', 322, 323, 321);
    assert.is(lists.length, ASKS);
    for (const l of lists) {
      assert.equal(l.rows, want);
      assert.is(l.end, ':End of /LIST');
    }
    await expectStats(t.server, { dropped_slow: 0 });
    for (const j of joiners) j.destroy();
    for (const c of [asker, bob]) c.destroy();
  }, 120_000));

test('NAMES and WHO of a 200-member room, WHO masks: a non-reading asker is not dropped; whole replies, in order; JOIN of two big rooms in order', () =>
  withServer({ floodRate: 0, maxClients: 400, backlog: 1024 }, async (t) => {
    const nick = (i: number) => `member${String(i).padStart(3, '0')}${'z'.repeat(15)}`; // 24 characters
    const nicks = Array.from({ length: 200 }, (_, i) => nick(i));
    const members = await registerMany(t, nicks);
    await members[0]!.c.sendRaw('JOIN #big,#big2\r\n'); // its creator: @ in NAMES and WHO
    await members[0]!.num(366, '#big2 ');
    await Promise.all(members.slice(1).map(async (m) => { m.send('JOIN #big,#big2'); await m.num(366, '#big2 '); }));
    const asker = await ircRegister(t, 'asker');
    const start = asker.c.lines.length;
    asker.c.pause();
    const ASKS = 400; // 400 × (5 KB of NAMES + 22 KB of WHO): 11 MB, more than maxOutputBytes and the kernel's buffers
    const asks: string[] = [];
    for (let i = 0; i < ASKS; i++) asks.push('NAMES #big', 'WHO #big');
    asks.push('WHO member1*', 'WHO', 'PING :done');
    const before = t.server.stats().messages_in;
    await asker.c.sendRaw(asks.map((a) => `${a}\r\n`).join(''));
    // the kernel's buffers take some 2 MB (~80 replies) before the asker's replies stall
    await until(() => t.server.stats().messages_in - before >= 60 || t.server.stats().dropped_slow > 0, 10_000, 'the server read');
    await expectStats(t.server, { dropped_slow: 0 });
    asker.c.resume();
    await asker.expect(':epchat PONG epchat :done', 30_000);
    const got = asker.c.lines.slice(start).map((l) => l.slice(0, -1));
    got.pop();
    const names = `@${nicks[0]} ${nicks.slice(1).join(' ')}`.split(' ').sort();
    const row = (n: string, i: number, chan: string) => `${chan} user 127.0.0.1 epchat ${n} H${i === 0 && chan !== '*' ? '@' : ''} :0 ${n} real`;
    const whoBig = nicks.map((n, i) => row(n, i, '#big')).sort();
    let at = 0;
    const take = (code: number, end: number) => {
      const start = at;
      while (!got[at]!.startsWith(`:epchat ${end} `)) at++;
      return replies(got.slice(start, ++at), 'asker', code, end)[0]!;
    };
    for (let i = 0; i < ASKS; i++) {
      const n = take(353, 366);
      assert.equal(n.rows.flatMap((r) => r.replace(/^= #big :/, '').split(' ')).sort(), names, `NAMES ${i}`);
      assert.is(n.end, '#big :End of /NAMES list.');
      assert.ok(n.rows.every((r) => byteLen(r) < 512));
      const w = take(352, 315);
      assert.equal(w.rows.sort(), whoBig, `WHO ${i}`);
      assert.is(w.end, '#big :End of /WHO list.');
    }
    const m1 = take(352, 315);
    assert.equal(m1.rows, nicks.filter((n) => n.startsWith('member1')).map((n) => row(n, 1, '*')));
    assert.is(m1.end, 'member1* :End of /WHO list.');
    const all = take(352, 315);
    assert.is(all.rows.length, 201, 'WHO: every user');
    assert.is(at, got.length, 'nothing else');
    // JOIN of two big rooms: the first's NAMES ends before the second's JOIN echo
    const j = await ircRegister(t, 'joiner');
    const jstart = j.c.lines.length;
    j.send('JOIN #big,#big2');
    j.send('PING :joined');
    await j.expect(':epchat PONG epchat :joined');
    const seq = j.c.lines.slice(jstart).map((l) => l.slice(0, -1));
    const kinds = seq.map((l) => l.startsWith(':joiner!') ? `JOIN ${l.split(' ')[2]}` : l.split(' ').slice(1, 2).concat(l.split(' ')[3] ?? '').join(' '));
    const squeezed = kinds.filter((k, i) => k !== kinds[i - 1]);
    assert.equal(squeezed, ['JOIN #big', '353 =', '366 #big', 'JOIN #big2', '353 =', '366 #big2', 'PONG :joined']);
    for (const m of members) m.destroy();
    for (const c of [asker, j]) c.destroy();
  }, 120_000));

test('IRC over WebSocket: LIST, NAMES and WHO of a big room, one line per message, whole', () =>
  withServer({ floodRate: 0, maxClients: 300, backlog: 1024 }, async (t) => {
    const nicks = Array.from({ length: 150 }, (_, i) => `ws${String(i).padStart(3, '0')}${'q'.repeat(18)}`);
    const members = await registerMany(t, nicks);
    await Promise.all(members.map(async (m) => { m.send('JOIN #wide'); await m.num(366, '#wide '); }));
    for (const proto of ['text.ircv3.net', 'binary.ircv3.net']) {
      const w: WsClient = await wsIrcRegister(httpPort(t), proto.startsWith('text') ? 'wtext' : 'wbin', proto);
      const me = proto.startsWith('text') ? 'wtext' : 'wbin';
      const wstart = w.messages.length;
      w.send('NAMES #wide');
      w.send('WHO #wide');
      w.send('LIST');
      w.send('PING :end');
      await w.expect(':epchat PONG epchat :end');
      const got = w.messages.slice(wstart);
      got.pop();
      assert.ok(got.every((m) => !/[\r\n]/.test(m)), 'one line per message');
      const n = replies(got.slice(0, got.findIndex((l) => l.includes(' 366 ')) + 1), me, 353, 366)[0]!;
      assert.equal(n.rows.flatMap((r) => r.replace(/^= #wide :/, '').split(' ')).map((x) => x.replace('@', '')).sort(), nicks);
      const rest = got.slice(got.findIndex((l) => l.includes(' 366 ')) + 1);
      const who = replies(rest.slice(0, rest.findIndex((l) => l.includes(' 315 ')) + 1), me, 352, 315)[0]!;
      assert.is(who.rows.length, 150);
      const list = replies(rest.slice(rest.findIndex((l) => l.includes(' 315 ')) + 1), me, 322, 323, 321)[0]!;
      assert.equal(list.rows.sort(), ['#lobby 0 :', '#wide 150 :']);
      w.destroy();
    }
    for (const m of members) m.destroy();
  }, 60_000));

// ------------------------------------------------------------------------------------------------
// Long messages

/** Text of `bytes` bytes: words (some multi-byte) separated by spaces. */
function words(bytes: number): string {
  let s = '';
  for (let i = 0; byteLen(s) < bytes; i++) s += `${s ? ' ' : ''}wörd${i}-ünïcode`;
  return s;
}

/** The texts of PRIVMSG/NOTICE lines (raw, without CRLF) that match head, checking each fits 512 bytes
 *  (tags apart) and each is valid UTF-8 (no U+FFFD). */
function pieces(lines: string[], head: string): string[] {
  return lines.filter((l) => l.replace(/^@\S+ /, '').startsWith(head)).map((l) => {
    const body = l.replace(/^@\S+ /, '');
    assert.ok(byteLen(body) + 2 <= 512, `an IRC line of ${byteLen(body) + 2} bytes`);
    assert.not.ok(body.includes('\uFFFD'), 'cut inside a character');
    return body.slice(head.length);
  });
}

test('a line user\'s 3,000-byte message reaches IRC users whole, in several PRIVMSGs (plain, server-time, WebSocket, irc-framework)', () =>
  withServer({ floodRate: 0 }, async (t) => {
    const raw = await ircRegister(t, 'rawirc');
    const tagged = await ircRegister(t, 'tagged', ['server-time']);
    const ws = await wsIrcRegister(httpPort(t), 'wsirc', 'text.ircv3.net');
    for (const c of [raw, tagged]) { c.send('JOIN #lobby'); await c.num(366); }
    ws.send('JOIN #lobby');
    await ws.expect(/ 366 /);
    const fw = new Client();
    const fwMsgs: string[] = [];
    try {
      const reg = new Promise<void>((resolve) => fw.once('registered', () => resolve()));
      fw.connect({ host: '127.0.0.1', port: ircPort(t), nick: 'fwuser', username: 'fwuser', gecos: 'fw', auto_reconnect: false });
      await withTimeout(reg, 5000, 'irc-framework registered');
      fw.on('privmsg', (e: { message: string; target: string }) => { if (e.target === '#lobby') fwMsgs.push(e.message); });
      const joined = new Promise<void>((resolve) => fw.on('userlist', () => resolve()));
      fw.join('#lobby');
      await withTimeout(joined, 5000, 'irc-framework joined');
      const liner = await t.register('liner');
      const text = words(3000);
      const solid = 'é'.repeat(1500); // 3,000 bytes, no space to split at
      liner.send(text);
      liner.send(solid);
      liner.send('after');
      const head = ':liner!liner@127.0.0.1 PRIVMSG #lobby :';
      for (const c of [raw, tagged]) {
        c.c.pos = 0;
        await c.expect(/PRIVMSG #lobby :after$/);
        const lines = c.c.lines.map((l) => l.slice(0, -1));
        const got = pieces(lines, head);
        if (got.length < 9) console.error(lines.slice(-3));
        assert.ok(got.length >= 9, `split into ${got.length} lines`);
        const end = got.indexOf('after');
        const first = got.slice(0, end).filter((p) => !p.startsWith('é'));
        const second = got.slice(0, end).filter((p) => p.startsWith('é'));
        assert.is(first.join(' '), text, 'the words, whole (split at spaces)');
        assert.ok(first.slice(0, -1).every((p) => byteLen(head + p) > 400), 'each piece but the last fills its line');
        assert.is(second.join(''), solid, 'the solid text, whole (split at characters)');
        if (c === tagged) assert.ok(lines.filter((l) => l.includes(head)).every((l) => l.startsWith('@time=')), 'every piece tagged');
      }
      await ws.expect(/PRIVMSG #lobby :after$/);
      const wsGot = pieces(ws.messages, head);
      assert.is(wsGot.filter((p) => !p.startsWith('é') && p !== 'after').join(' '), text);
      assert.is(wsGot.filter((p) => p.startsWith('é')).join(''), solid);
      await until(() => fwMsgs.includes('after'), 5000, 'irc-framework got every piece');
      assert.is(fwMsgs.filter((p) => !p.startsWith('é') && p !== 'after').join(' '), text);
      assert.is(fwMsgs.filter((p) => p.startsWith('é')).join(''), solid);
      // a private message and an action, the same way
      const rstart = raw.c.lines.length;
      liner.send(`/msg rawirc ${text}`);
      liner.send(`/me ${text}`);
      liner.send('/msg rawirc done');
      await raw.expect(/PRIVMSG rawirc :done$/);
      const later = raw.c.lines.slice(rstart).map((l) => l.slice(0, -1));
      const pm = pieces(later, ':liner!liner@127.0.0.1 PRIVMSG rawirc :');
      assert.is(pm.slice(0, -1).join(' '), text);
      const act = pieces(later, head).map((p) => {
        assert.ok(p.startsWith('\x01ACTION ') && p.endsWith('\x01'), 'each piece a whole ACTION');
        return p.slice(8, -1);
      });
      assert.ok(act.length > 1);
      assert.is(act.join(' '), text);
    } finally {
      try { fw.quit('done'); } catch { /* gone */ }
      raw.destroy();
      tagged.destroy();
      ws.destroy();
    }
  }, 30_000));

test('an announcement reaches line, IRC (plain, tagged) and WebSocket IRC users, whole, to the server mask', () =>
  withServer({}, async (t) => {
    const line = await t.register('liney');
    const raw = await ircRegister(t, 'plain');
    const tagged = await ircRegister(t, 'stamped', ['server-time']);
    const ws = await wsIrcRegister(httpPort(t), 'wsuser', 'binary.ircv3.net');
    const text = words(1200);
    t.server.announce('short one');
    t.server.announce(text);
    await line.expect('>> [server] short one');
    await line.expect(`>> [server] ${text}`);
    const head = ':epchat NOTICE $epchat :';
    for (const c of [raw, tagged]) {
      c.c.pos = 0;
      await c.expect((l) => l.endsWith(`${head}[server] short one`));
      await c.expect((l) => l.endsWith(` ${text.split(' ').pop()!}`));
      const got = pieces(c.c.lines.map((l) => l.slice(0, -1)), head);
      assert.is(got[0], '[server] short one');
      assert.ok(got.length >= 4);
      assert.is(got.slice(1).join(' '), `[server] ${text}`);
      if (c === tagged) assert.ok(c.c.lines.filter((l) => l.includes(head)).every((l) => l.startsWith('@time=')));
    }
    await ws.expect((m) => m.endsWith(` ${text.split(' ').pop()!}`));
    const wsGot = pieces(ws.messages, head);
    assert.is(wsGot.join('\n'), `[server] short one\n${pieces(raw.c.lines.map((l) => l.slice(0, -1)), head).slice(1).join('\n')}`);
    raw.destroy();
    tagged.destroy();
    ws.destroy();
  }));

test.run();
