// WebSocket sessions on the HTTP listener (docs/websocket.md): IRC over WebSocket as the IRCv3
// websocket spec says (text.ircv3.net, binary.ircv3.net, none = text), the line protocol
// (epchat.line), sharing rooms with TCP users; fan-out; ping/pong; fragments; the close handshake and
// the violations (1002, 1007, 1009). Real sockets, the `ws` package and a raw client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withServer, cleanupAll, until, expectStats } from './helpers.js';
import { ircRegister } from './irc-helpers.js';
import { WsClient, RawWs, httpPort, wsIrcRegister, wsLineRegister, destroyAllWs } from './ws-helpers.js';

test.after.each(() => destroyAllWs());
test.after(async () => { destroyAllWs(); await cleanupAll(); });

test('IRC text, IRC binary, WS line, TCP line and TCP IRC users chat in one room', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const text = await wsIrcRegister(hp, 'wtext', 'text.ircv3.net');
    assert.is(text.protocol, 'text.ircv3.net');
    const none = await wsIrcRegister(hp, 'wnone');
    assert.is(none.protocol, '');
    const bin = await wsIrcRegister(hp, 'wbin', 'binary.ircv3.net');
    assert.is(bin.protocol, 'binary.ircv3.net');
    assert.ok(bin.binary.every((b) => b), 'binary.ircv3.net: every message in a binary frame');
    assert.ok(text.binary.every((b) => !b), 'text.ircv3.net: text frames');
    const wline = await wsLineRegister(hp, 'wline');
    const tirc = await ircRegister(t, 'tirc');
    const tline = await t.register('tline');

    for (const c of [text, none, bin]) {
      c.send('JOIN #lobby');
      await c.expect(/^:epchat 366 /);
    }
    tirc.send('JOIN #lobby');
    await tirc.num(366);

    // A WS IRC user speaks: everyone else in the room hears it, each in their own protocol.
    text.send('PRIVMSG #lobby :hello from a browser');
    await none.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await bin.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await tirc.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await wline.expect('wtext: hello from a browser');
    await tline.expect('wtext: hello from a browser');

    // The others speak: the WS users hear them.
    tline.send('from tcp line');
    await text.expect(/^:tline!\S+ PRIVMSG #lobby :from tcp line$/);
    await wline.expect('tline: from tcp line');
    wline.send('from ws line');
    await bin.expect(/^:wline!\S+ PRIVMSG #lobby :from ws line$/);
    await tline.expect('wline: from ws line');
    bin.sendBinary('PRIVMSG #lobby :from binary');
    await text.expect(/^:wbin!\S+ PRIVMSG #lobby :from binary$/);
    await tirc.expect(/^:wbin!\S+ PRIVMSG #lobby :from binary$/);
    assert.ok(bin.binary.every((b) => b));
    // One IRC line per message, no CR LF.
    for (const c of [text, none, bin, wline]) assert.ok(c.messages.every((m) => !/[\r\n]/.test(m)), 'no line endings inside messages');
  });
});

test('fan-out: one message reaches every WebSocket user of each variant, framed whole', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const users: WsClient[] = [];
    for (let i = 0; i < 6; i++) users.push(await wsIrcRegister(hp, `irc${i}`, i % 2 ? 'binary.ircv3.net' : 'text.ircv3.net'));
    for (const u of users) { u.send('JOIN #lobby'); await u.expect(/^:epchat 366 /); }
    const lines: WsClient[] = [];
    for (let i = 0; i < 4; i++) lines.push(await wsLineRegister(hp, `line${i}`));
    const sender = await t.register('sender');
    for (let k = 0; k < 20; k++) sender.send(`burst ${k}`);
    for (const u of users) for (let k = 0; k < 20; k++) await u.expect(`:sender!sender@127.0.0.1 PRIVMSG #lobby :burst ${k}`);
    for (const u of lines) for (let k = 0; k < 20; k++) await u.expect(`sender: burst ${k}`);
    const st = t.server.stats();
    assert.ok(st.deliveries >= 20 * 10, `deliveries counted (${st.deliveries})`);
  });
});

test('ping is answered with a pong of the same payload, also between the fragments of a message', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const c = await wsIrcRegister(hp, 'pinger');
    const pong = new Promise<string>((resolve) => c.ws.once('pong', (d) => resolve(d.toString())));
    c.ws.ping('are you there');
    assert.is(await pong, 'are you there');

    const other = await wsIrcRegister(hp, 'other');
    other.send('JOIN #lobby');
    await other.expect(/^:epchat 366 /);
    const raw = new RawWs(hp);
    assert.is(await raw.handshake('text.ircv3.net'), 'HTTP/1.1 101 Switching Protocols');
    raw.text('NICK frag');
    raw.text('USER frag 0 * :frag');
    raw.text('JOIN #lobby');
    await raw.until(() => raw.texts().some((m) => / 366 /.test(m)), 3000, 'the join');
    raw.write(RawWs.frame(0x1, 'PRIVMSG #lobby :hel', { fin: false }));
    raw.write(RawWs.frame(0x9, 'mid'));
    raw.write(RawWs.frame(0x0, 'lo wor', { fin: false }));
    raw.write(RawWs.frame(0x0, 'ld', { fin: true }));
    await raw.until(() => raw.frames.some((f) => f.opcode === 0xA && f.payload.toString() === 'mid'), 3000, 'the pong between fragments');
    await other.expect(/^:frag!\S+ PRIVMSG #lobby :hello world$/);
  });
});

test('a UTF-8 character split across fragments is whole; invalid UTF-8 closes with 1007, others unaffected', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const other = await wsLineRegister(hp, 'other');
    const raw = new RawWs(hp);
    await raw.handshake('epchat.line');
    raw.text('utf');
    await raw.until(() => raw.texts().includes('>> Welcome utf !'), 3000, 'the welcome');
    const e = Buffer.from('caf\u00e9');
    raw.write(RawWs.frame(0x1, e.subarray(0, 4), { fin: false }));
    raw.write(RawWs.frame(0x0, e.subarray(4), { fin: true }));
    await other.expect('utf: caf\u00e9');
    raw.write(RawWs.frame(0x1, Buffer.from([0x68, 0xc3, 0x28])));
    const close = await raw.closeFrame();
    assert.is(close.code, 1007);
    await raw.closed();
    await other.expect('>> Bye utf !');
    other.send('still here');
    const third = await wsLineRegister(hp, 'third');
    other.send('and again');
    await third.expect('other: and again');
  });
});

test('an unmasked client frame is a protocol error: Close 1002, the connection closes', async () => {
  await withServer({}, async (t) => {
    const raw = new RawWs(httpPort(t));
    await raw.handshake();
    raw.text('NICK unmasked', { mask: false });
    assert.is((await raw.closeFrame()).code, 1002);
    await raw.closed();
    // Reserved bits (no extension negotiated): 1002 too.
    const r2 = new RawWs(httpPort(t));
    await r2.handshake();
    r2.write(RawWs.frame(0x1, 'x', { rsv: 4 }));
    assert.is((await r2.closeFrame()).code, 1002);
  });
});

test('a message over wsMaxMessage closes with 1009 and loses nothing for the others', async () => {
  await withServer({ wsMaxMessage: 1024 }, async (t) => {
    const hp = httpPort(t);
    const big = await wsLineRegister(hp, 'big');
    const watcher = await wsLineRegister(hp, 'watcher');
    await big.expect('>> Welcome watcher !');
    const tcp = await t.register('tcp');
    big.send('before the big one');
    big.send('y'.repeat(2000));
    await big.closed();
    assert.is(big.closeCode, 1009);
    await watcher.expect('big: before the big one');
    await watcher.expect('>> Bye big !');
    await tcp.expect('big: before the big one');
    tcp.send('after');
    await watcher.expect('tcp: after');
  });
});

test('a line over maxLineBytes inside a message gets LINE_TOO_LONG; IRC over 512 gets 417', async () => {
  await withServer({ maxLineBytes: 100 }, async (t) => {
    const hp = httpPort(t);
    const l = await wsLineRegister(hp, 'longline');
    l.send('z'.repeat(200));
    await l.expect(/^!! LINE_TOO_LONG /);
    l.send('short');
    const i = await wsIrcRegister(hp, 'longirc');
    i.send(`PRIVMSG #lobby :${'q'.repeat(600)}`);
    await i.expect(/^:epchat 417 longirc :Input line was too long$/);
  });
});

test('close handshake: the client\'s Close is echoed, then the server closes; QUIT ends with ERROR then Close 1000', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const watcher = await t.register('watcher');
    const c = await wsLineRegister(hp, 'leaver');
    await watcher.expect('>> Welcome leaver !');
    c.ws.close(4001, 'bye now');
    await c.closed();
    assert.is(c.closeCode, 4001, 'the server echoes the code');
    await watcher.expect('>> Bye leaver !');

    const raw = new RawWs(hp);
    await raw.handshake();
    raw.write(RawWs.frame(0x8, Buffer.from([0x03, 0xe8])));
    assert.is((await raw.closeFrame()).code, 1000);
    await raw.closed();

    // An invalid close code from the client is a protocol error.
    const bad = new RawWs(hp);
    await bad.handshake();
    bad.write(RawWs.frame(0x8, Buffer.from([0x03, 0xed])));  // 1005 may not be sent
    assert.is((await bad.closeFrame()).code, 1002);

    const q = await wsIrcRegister(hp, 'quitter');
    q.send('QUIT :done');
    await q.expect(/^ERROR :Closing link: Quit: done$/);
    await q.closed();
    assert.is(q.closeCode, 1000);
    // Server-initiated: a shutdown ends with 1001 after the line saying so.
    const s = await wsLineRegister(hp, 'stayer');
    const closing = t.close();
    await s.expect(/^!! SHUTDOWN /);
    await s.closed();
    assert.is(s.closeCode, 1001);
    await closing;
  });
});

test('lines that wait on the host (a delegated command) hold the following messages, in order', async () => {
  await withServer({ floodRate: 0 }, async (t) => {
    const hp = httpPort(t);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let started = false;
    t.server.registerCommand('slow', async (ctx) => {
      started = true;
      await gate;
      ctx.reply({ type: 'notice', text: 'slow done' });
    });
    await t.server.users();
    const watcher = await t.register('watcher');
    const c = await wsLineRegister(hp, 'waiter');
    await watcher.expect('>> Welcome waiter !');
    c.send('/slow');
    for (let i = 0; i < 500; i++) c.send(`m${i}`);
    await until(() => started, 3000, 'the command to start');
    await t.server.users();  // a round trip: the engine has read what it will read
    assert.not.ok(watcher.lines.slice(watcher.pos).some((l) => l.startsWith('waiter: m')), 'nothing runs before the command finishes');
    release();
    await c.expect('>> slow done');
    for (let i = 0; i < 500; i++) await watcher.expectNext(`waiter: m${i}`);
  });
});

test('a WebSocket reader that never reads is dropped alone (maxOutputBytes); the others get everything', async () => {
  await withServer({ maxOutputBytes: 65536, floodRate: 0 }, async (t) => {
    const hp = httpPort(t);
    const stalled = new RawWs(hp);
    await stalled.handshake('epchat.line');
    stalled.text('stalled');
    await stalled.until(() => stalled.texts().includes('>> Welcome stalled !'), 3000, 'the welcome');
    stalled.socket.pause();  // reads nothing more: the kernel's buffers fill, then its queue
    const reader = await wsLineRegister(hp, 'reader');
    const alice = await t.register('alice');
    const bob = await t.register('bob');
    // alice sends rounds of 8 lines of 4 KB (32 KB, half the 64 KiB output limit) until the server
    // says it dropped `stalled`, each round only once bob (TCP) and reader (WebSocket) have read the one
    // before: the readers are then never more than a round behind, however slowly this process runs on
    // a busy machine (blasting 6 MB at once, as this test did, let them fall megabytes behind under load,
    // and the server rightly dropped them as slow too, as the TCP fault test found).
    const pad = ' ' + 'p'.repeat(4000);
    const ROUND = 8;
    const MAX_ROUNDS = 1000; // 32 MB: several times what the stalled socket's buffers can hold
    let rounds = 0;
    while (!bob.lines.includes('>> Bye stalled !')) {
      assert.ok(rounds < MAX_ROUNDS, `stalled still not dropped after ${rounds * ROUND} lines`);
      const lines = Array.from({ length: ROUND }, (_, k) => `${rounds * ROUND + k}${pad}`);
      alice.socket.write(lines.join('\n') + '\n');
      await bob.expect(`alice: ${lines[ROUND - 1]}`, 5000);
      await reader.expect(`alice: ${lines[ROUND - 1]}`, 5000);
      rounds++;
    }
    await expectStats(t.server, { dropped_slow: 1 }, 3000);
    // Every line reached both readers, in order.
    const n = rounds * ROUND;
    const tcp = bob.lines.filter((l) => l.startsWith('alice: '));
    const ws = reader.messages.filter((l) => l.startsWith('alice: '));
    assert.is(tcp.length, n, `bob: ${tcp.length} of ${n}`);
    assert.is(ws.length, n, `reader: ${ws.length} of ${n}`);
    for (let i = 0; i < n; i++) {
      if (tcp[i] !== `alice: ${i}${pad}` || ws[i] !== `alice: ${i}${pad}`) assert.unreachable(`message ${i} out of order or damaged`);
    }
    stalled.destroy();
  });
});

test('flood control applies to WebSocket messages as to TCP lines', async () => {
  await withServer({ floodRate: 0.001, floodBurst: 4, floodKick: 3 }, async (t) => {
    const c = await wsLineRegister(httpPort(t), 'flooder');
    for (let i = 0; i < 12; i++) c.send(`x${i}`);
    await c.expect(/^!! FLOOD /);
    await c.expect(/^!! FLOOD_KICK /);
    await c.closed();
    assert.is(c.closeCode, 1008);
  });
});

test.run();
