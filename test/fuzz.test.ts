// Seeded input fuzzing against an oracle built from docs/protocol.md: every line is either forwarded
// verbatim or refused with exactly one of LINE_TOO_LONG / BAD_UTF8 / BAD_CHAR, never both, never
// silently; nothing malformed ever reaches another client; the server keeps serving. Also: closing a
// server whose client does not read.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withServer, withTimeout } from './helpers.js';

const test = suite('fuzz & shutdown');

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX = 200;
const decoder = new TextDecoder('utf-8', { fatal: true });

type Verdict = { forward: string } | { refuse: string[] };

/** What the contract says must happen to one line (without its `\n`). */
function oracle(bytes: Buffer): Verdict {
  const body = bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes; // CRLF
  const codes: string[] = [];
  if (body.length > MAX) return { refuse: ['LINE_TOO_LONG'] };
  let text: string | undefined;
  try { text = decoder.decode(body); } catch { codes.push('BAD_UTF8'); }
  // control characters: C0 but tab, DEL, C1 (as code points, or as raw bytes when the UTF-8 is bad)
  const ctl = text !== undefined
    ? /[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(text)
    : body.some((b) => (b < 0x20 && b !== 0x09) || b === 0x7f);
  if (ctl) codes.push('BAD_CHAR');
  if (codes.length) return { refuse: codes };
  return { forward: text! };
}

function genLine(rnd: () => number): Buffer {
  const kind = Math.floor(rnd() * 6);
  const len = 1 + Math.floor(rnd() * (kind === 5 ? 300 : 60));
  const out: number[] = [];
  const printable = () => 0x20 + Math.floor(rnd() * 95);
  for (let i = 0; i < len; i++) {
    const r = rnd();
    if (kind === 0 || r < 0.7) out.push(printable());
    else if (kind === 1) out.push(Math.floor(rnd() * 0x20)); // C0 controls (may include tab)
    else if (kind === 2) out.push(...Buffer.from(String.fromCodePoint(0xa0 + Math.floor(rnd() * 0x2ff00)).replace(/[\ud800-\udfff]/g, 'x')));
    else if (kind === 3) out.push(0x80 + Math.floor(rnd() * 0x80)); // stray high bytes
    else if (kind === 4) out.push([0x7f, 0xc2, 0x80 + Math.floor(rnd() * 0x20)][Math.floor(rnd() * 3)]!);
    else out.push(printable());
  }
  let b = Buffer.from(out.filter((x) => x !== 0x0a));
  if (b.length === 0 || b[0] === 0x2f /* '/' */) b = Buffer.concat([Buffer.from('x'), b]);
  if (rnd() < 0.1) b = Buffer.concat([b, Buffer.from([0x0d])]); // CRLF ending
  return b;
}

test('seeded fuzz: each line forwarded verbatim or refused with exactly one error', () =>
  withServer({ maxLineBytes: MAX, floodRate: 0 }, async (t) => {
    const seed = Number(process.env.EPCHAT_FUZZ_SEED ?? 0xc0ffee);
    const rnd = mulberry32(seed);
    const [fuzz, watcher] = await t.registerAll('fuzz', 'watcher');
    const N = 400;
    const lines = Array.from({ length: N }, () => genLine(rnd));
    const verdicts = lines.map(oracle);
    // all in one go, in random-sized writes that split lines anywhere
    const wire = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
    for (let i = 0; i < wire.length;) {
      const n = 1 + Math.floor(rnd() * 700);
      await fuzz!.sendRaw(wire.subarray(i, i + n));
      i += n;
    }
    fuzz!.send('/msg watcher end-of-fuzz');
    const replies = await fuzz!.readUntil('[pm to watcher] end-of-fuzz', 5000);
    replies.pop();
    const seen = await watcher!.readUntil('[pm from fuzz] end-of-fuzz', 5000);
    seen.pop();

    const ctx = (i: number) => `seed ${seed}, line ${i}: ${JSON.stringify(lines[i]!.toString('latin1'))}`;
    const wantSeen = verdicts.flatMap((v) => ('forward' in v ? [`fuzz: ${v.forward}`] : []));
    const wantErrors = verdicts.flatMap((v, i) => ('refuse' in v ? [{ codes: v.refuse, i }] : []));
    assert.is(replies.length, wantErrors.length, `seed ${seed}: one error per refused line; got ${JSON.stringify(replies.slice(0, 5))}…`);
    wantErrors.forEach(({ codes, i }, k) => {
      const code = /^!! ([A-Z0-9_]+)/.exec(replies[k]!)?.[1];
      assert.ok(code && codes.includes(code), `${ctx(i)}: expected ${codes.join(' or ')}, got ${JSON.stringify(replies[k])}`);
    });
    for (let k = 0; k < Math.max(seen.length, wantSeen.length); k++) {
      if (seen[k] !== wantSeen[k]) {
        throw new Error(`seed ${seed}: forwarded line ${k}: expected ${JSON.stringify(wantSeen[k])}, got ${JSON.stringify(seen[k])}`);
      }
    }
    // still serving
    watcher!.send('/users');
    assert.is((await watcher!.reply('USERS')).count, 2);
  }));

test('close() with a client that never reads finishes within the grace period', () =>
  withServer({ shutdownGraceMs: 300, maxOutputBytes: 64 * 1024 * 1024, floodRate: 0 }, async (t) => {
    const [alice, bob, sleepy] = await t.registerAll('alice', 'bob', 'sleepy');
    sleepy!.pause();
    // queue several MB for sleepy (far more than the socket buffers take)
    const pad = 'z'.repeat(3000);
    for (let i = 0; i < 2000; i += 200) {
      await alice!.sendRaw(Array.from({ length: 200 }, (_, j) => `m${i + j} ${pad}\n`).join(''));
      await bob!.expect(`alice: m${i + 199} ${pad}`, 5000);
    }
    const t0 = Date.now();
    const stats = await withTimeout(t.close(), 3000, 'close() with a stalled client');
    const took = Date.now() - t0;
    assert.ok(took < 2000, `close took ${took} ms with shutdownGraceMs 300`);
    assert.is(stats.accepted, 3);
    await bob!.expect('!! SHUTDOWN server is shutting down');
    await bob!.expectClosed();
    sleepy!.destroy();
  }, 30_000));

test.run();
