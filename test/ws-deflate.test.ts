// permessage-deflate (RFC 7692, docs/websocket.md): negotiation with no context takeover both ways,
// server messages compressed once per fan-out (the same bytes for every deflate recipient), client
// messages inflated with their size capped, and the errors. Real sockets: the `ws` package (which
// offers permessage-deflate by default) and a raw client over node:net.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { withServer, cleanupAll } from './helpers.js';
import { ircRegister } from './irc-helpers.js';
import { WsClient, RawWs, httpPort, destroyAllWs } from './ws-helpers.js';

test.after.each(() => destroyAllWs());
test.after(async () => { destroyAllWs(); await cleanupAll(); });

const OFFER = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A message compressed as a client does (raw deflate, sync flush, the 00 00 FF FF tail removed). */
function compress(s: string | Buffer): Buffer {
  const z = deflateRawSync(typeof s === 'string' ? Buffer.from(s) : s, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  assert.ok(z.subarray(-4).equals(TAIL), 'sync flush ends in 00 00 FF FF');
  return z.subarray(0, -4);
}
function inflate(b: Buffer): string { return inflateRawSync(Buffer.concat([b, TAIL]), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString(); }

/** A raw line-protocol user over WebSocket that negotiated deflate, registered. */
async function rawDeflateUser(port: number, nick: string): Promise<RawWs> {
  const r = new RawWs(port);
  assert.is(await r.handshake('epchat.line', OFFER), 'HTTP/1.1 101 Switching Protocols');
  assert.match(r.head, /\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover(\r\n|$)/);
  await r.until(() => r.frames.length >= 1, undefined, 'the prompt');
  r.write(RawWs.frame(0x1, nick));
  await r.until(() => r.frames.some((f) => f.opcode === 1 && f.payload.toString() === `>> Welcome ${nick} !`), undefined, 'the welcome');
  return r;
}

function texts(r: RawWs): string[] {
  return r.frames.filter((f) => f.opcode === 1).map((f) => (f.rsv & 4 ? inflate(f.payload) : f.payload.toString()));
}

test('the ws package with permessage-deflate chats with a plain WebSocket user and TCP users; every message intact', async () => {
  await withServer({ maxLineBytes: 16_384, wsMaxMessage: 16_384 }, async (t) => {
    const hp = httpPort(t);
    const z = new WsClient(hp, 'epchat.line');  // the ws package offers permessage-deflate by default
    await z.open();
    assert.match(z.ws.extensions, /^permessage-deflate/, `negotiated: ${JSON.stringify(z.ws.extensions)}`);
    await z.expectNext('>> Enter pseudo:');
    z.send('zed');
    await z.expectNext('>> Welcome zed !');
    const plain = new WsClient(hp, 'epchat.line', { perMessageDeflate: false });
    await plain.open();
    assert.is(plain.ws.extensions, '');
    await plain.expectNext('>> Enter pseudo:');
    plain.send('plain');
    await plain.expectNext('>> Welcome plain !');
    const zirc = new WsClient(hp, 'text.ircv3.net');
    await zirc.open();
    zirc.send('NICK zirc');
    zirc.send('USER zirc 0 * :zirc');
    await zirc.expect(/^:epchat 376 /);  // numerics (per-connection output) through the compressed codec
    zirc.send('JOIN #lobby');
    await zirc.expect(/^:epchat 366 /);
    const tline = await t.register('tline');
    const tirc = await ircRegister(t, 'tirc');
    tirc.send('JOIN #lobby');
    await tirc.num(366);

    // Small (under wsDeflateMin), medium, and large ones near the cap (the ws package compresses
    // its own messages over 1 KiB), with non-ASCII text.
    let big = ('é chat line ' + 'x'.repeat(50) + ' ').repeat(300);
    while (Buffer.byteLength(big) > 16_300) big = big.slice(0, -1);
    const msgs = ['hi', 'a medium line that is longer than the 64-byte threshold, so it is compressed ✓', big];
    for (const m of msgs) {
      z.send(m);
      await plain.expect(`zed: ${m}`);
      await tline.expect(`zed: ${m}`);
      await zirc.expect((s) => s.startsWith(':zed!') && s.includes(m.slice(0, 200)));
      await tirc.expect((s) => s.startsWith(':zed!') && s.includes(m.slice(0, 200)));
    }
    for (const m of msgs) {
      tline.send(m);
      await z.expect(`tline: ${m}`);
      await plain.expect(`tline: ${m}`);
      plain.send(m + '!');
      await z.expect(`plain: ${m}!`);
      await tline.expect(`plain: ${m}!`);
    }
    tirc.send('PRIVMSG #lobby :from tcp irc, long enough to be compressed for the deflate users here');
    await zirc.expect(/^:tirc!\S+ PRIVMSG #lobby :from tcp irc, long enough to be compressed for the deflate users here$/);
    await z.expect('tirc: from tcp irc, long enough to be compressed for the deflate users here');
    const st = t.server.stats();
    assert.ok(st.deliveries > 0);
  });
});

test('one room message reaches two deflate users as byte-identical compressed frames; a short one uncompressed', async () => {
  await withServer({ wsDeflateMin: 64 }, async (t) => {
    const hp = httpPort(t);
    const a = await rawDeflateUser(hp, 'ana');
    const b = await rawDeflateUser(hp, 'bob');
    const sender = await t.register('sender');
    const long = 'the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog again';
    sender.send(long);
    sender.send('short');
    const want = [`sender: ${long}`, 'sender: short'];
    for (const r of [a, b]) await r.until(() => texts(r).includes('sender: short'), undefined, 'both messages');
    const frameOf = (r: RawWs, s: string) => r.frames.find((f) => f.opcode === 1 && (f.rsv & 4 ? inflate(f.payload) : f.payload.toString()) === s)!;
    const fa = frameOf(a, want[0]!), fb = frameOf(b, want[0]!);
    assert.is(fa.rsv, 4, 'the long line is compressed (RSV1)');
    assert.ok(fa.payload.equals(fb.payload), 'the same compressed bytes for both recipients');
    assert.ok(fa.payload.length < Buffer.byteLength(want[0]!), `smaller (${fa.payload.length} < ${Buffer.byteLength(want[0]!)})`);
    const sa = frameOf(a, want[1]!);
    assert.is(sa.rsv, 0, 'under wsDeflateMin: sent uncompressed');
    assert.is(sa.payload.toString(), want[1]);
    // Each compressed message inflates alone (server_no_context_takeover): checked by inflate()
    // above on every frame without any earlier one. A client's compressed message is read too.
    a.write(RawWs.frame(0x1, compress('from ana, compressed by the client, long enough to matter here'), { rsv: 4 }));
    await sender.expect('ana: from ana, compressed by the client, long enough to matter here');
    // Fragmented: RSV1 on the first frame only; a ping in between.
    const z = compress('fragmented and compressed: ' + 'abc'.repeat(40));
    a.write(RawWs.frame(0x1, z.subarray(0, 5), { fin: false, rsv: 4 }));
    a.write(RawWs.frame(0x9, 'p'));
    a.write(RawWs.frame(0x0, z.subarray(5)));
    await sender.expect('ana: fragmented and compressed: ' + 'abc'.repeat(40));
    // Control frames are never compressed.
    await a.until(() => a.frames.some((f) => f.opcode === 0xA), undefined, 'the pong');
    const pong = a.frames.find((f) => f.opcode === 0xA)!;
    assert.is(pong.rsv, 0);
    assert.is(pong.payload.toString(), 'p');
  });
});

test('a compressed message that inflates past wsMaxMessage closes with 1009 (zip bomb); the others go on', async () => {
  await withServer({ wsMaxMessage: 4096 }, async (t) => {
    const hp = httpPort(t);
    const bomb = await rawDeflateUser(hp, 'bomb');
    const tcp = await t.register('tcp');
    const other = await t.register('other');
    bomb.write(RawWs.frame(0x1, compress('before the bomb'), { rsv: 4 }));
    await tcp.expect('bomb: before the bomb');
    const z = compress(Buffer.alloc(10_000_000, 0x61));  // 10 MB of 'a' in about 10 KB
    assert.ok(z.length < 16_000);
    // Under wsMaxMessage compressed, far over it inflated.
    const small = compress(Buffer.alloc(100_000, 0x61));
    assert.ok(small.length < 4096, `compressed ${small.length}`);
    bomb.write(RawWs.frame(0x1, small, { rsv: 4 }));
    assert.is((await bomb.closeFrame()).code, 1009);
    await bomb.closed();
    await tcp.expect('>> Bye bomb !');
    tcp.send('still here');
    await other.expect('tcp: still here');
  });
});

test('RSV1 without negotiation is 1002; RSV1 on a continuation or a control frame is 1002; bad deflate data is 1007', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const none = new RawWs(hp);
    await none.handshake('epchat.line');
    assert.not.match(none.head, /Sec-WebSocket-Extensions/i);
    none.write(RawWs.frame(0x1, compress('compressed but not negotiated'), { rsv: 4 }));
    assert.is((await none.closeFrame()).code, 1002);

    const cont = await rawDeflateUser(hp, 'cont');
    cont.write(RawWs.frame(0x1, 'plain first', { fin: false }));
    cont.write(RawWs.frame(0x0, compress('x'), { rsv: 4 }));
    assert.is((await cont.closeFrame()).code, 1002);

    const ping = await rawDeflateUser(hp, 'ping');
    ping.write(RawWs.frame(0x9, 'p', { rsv: 4 }));
    assert.is((await ping.closeFrame()).code, 1002);

    const bad = await rawDeflateUser(hp, 'bad');
    const watcher = await t.register('watcher');
    const other = await t.register('other');
    bad.write(RawWs.frame(0x1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x12, 0x34]), { rsv: 4 }));  // block type 3: invalid
    assert.is((await bad.closeFrame()).code, 1007);
    await bad.closed();

    // Valid deflate data that inflates to invalid UTF-8 in a text message: 1007.
    const utf = await rawDeflateUser(hp, 'utf');
    utf.write(RawWs.frame(0x1, compress(Buffer.from([0x41, 0xc3, 0x28, 0x41])), { rsv: 4 }));
    assert.is((await utf.closeFrame()).code, 1007);
    watcher.send('the others go on');
    await other.expect('watcher: the others go on');
  });
});

test('negotiation: offers that cannot be met are declined and the next one tried; wsDeflate: false negotiates nothing', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const cases: [string, RegExp | null][] = [
      // A smaller server window than the shared deflater's 15 bits: declined; the next offer taken.
      ['permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits=12',
        /^permessage-deflate; server_no_context_takeover; client_no_context_takeover$/],
      ['permessage-deflate; server_max_window_bits="15"; server_no_context_takeover',
        /^permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15$/],
      ['permessage-deflate; unknown_param', null],
      ['permessage-deflate; client_max_window_bits=16', null],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', null],
      ['x-webkit-deflate-frame', null],
    ];
    for (const [offer, want] of cases) {
      const r = new RawWs(hp);
      assert.is(await r.handshake('epchat.line', `Sec-WebSocket-Extensions: ${offer}\r\n`), 'HTTP/1.1 101 Switching Protocols');
      const m = /\r\nSec-WebSocket-Extensions: ([^\r]*)/i.exec(r.head);
      if (want) assert.match(m?.[1] ?? '', want, offer);
      else assert.is(m, null, offer);
      r.destroy();
    }
  });
  await withServer({ wsDeflate: false }, async (t) => {
    const hp = httpPort(t);
    const c = new WsClient(hp, 'epchat.line');
    await c.open();
    assert.is(c.ws.extensions, '');
    await c.expectNext('>> Enter pseudo:');
    c.send('nodefl');
    await c.expectNext('>> Welcome nodefl !');
    const tcp = await t.register('tcp');
    c.send('x'.repeat(2000));  // the ws package compresses only what was negotiated
    await tcp.expect(`nodefl: ${'x'.repeat(2000)}`);
    tcp.send('y'.repeat(2000));
    await c.expect(`tcp: ${'y'.repeat(2000)}`);
    const r = new RawWs(hp);
    await r.handshake('epchat.line', OFFER);
    assert.not.match(r.head, /Sec-WebSocket-Extensions/i);
    r.write(RawWs.frame(0x1, compress('x'), { rsv: 4 }));
    assert.is((await r.closeFrame()).code, 1002);
  });
});

test.run();
