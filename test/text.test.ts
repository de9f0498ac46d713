// Text a client sends is never forwarded in a form that displays as something else (docs/protocol.md,
// "Text"): bidirectional controls and line/paragraph separators are refused with BAD_CHAR, a leading
// byte-order mark is dropped, and a blank line is refused with EMPTY instead of being sent or dropped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, err, welcome, withServer } from './helpers.js';

const test = suite('text');

const SPOOF: [string, string][] = [
  ['U+202A LRE', '\u202a'], ['U+202B RLE', '\u202b'], ['U+202C PDF', '\u202c'], ['U+202D LRO', '\u202d'],
  ['U+202E RLO', '\u202e'], ['U+2066 LRI', '\u2066'], ['U+2067 RLI', '\u2067'], ['U+2068 FSI', '\u2068'],
  ['U+2069 PDI', '\u2069'], ['U+2028 LS', '\u2028'], ['U+2029 PS', '\u2029'],
];

test('bidirectional controls and line separators are refused with BAD_CHAR in messages, /me, /msg and /quit', () =>
  withServer({ floodRate: 0 }, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    for (const [name, ch] of SPOOF) {
      for (const line of [`see ${ch}txt.exe`, `/me ${ch}waves`, `/msg bob ${ch}hi`, `/quit ${ch}bye`]) {
        alice!.send(line);
        const got = await alice!.next();
        assert.match(got, err('BAD_CHAR'), `${name} in ${JSON.stringify(line)}`);
        assert.match(got, /bidirectional control or line separator/);
      }
    }
    // nothing reached bob, and alice is still connected (the /quit lines were refused too)
    await bob!.quiet();
    alice!.send('plain');
    await bob!.expectNext('alice: plain');
  }));

test('a leading byte-order mark is dropped: at the prompt and before a message', () =>
  withServer({}, async (t) => {
    const [bob] = await t.registerAll('bob');
    const carol = await t.connect('carol');
    await carol.expectNext(PROMPT);
    carol.send('\ufeffcarol');
    await carol.expectNext(welcome('carol'));
    await bob!.expectNext(welcome('carol'));
    carol.send('\ufeffhello');
    await bob!.expectNext('carol: hello');
    carol.send('mid\ufeffdle'); // not leading: U+FEFF inside text is a zero-width no-break space, kept
    await bob!.expectNext('carol: mid\ufeffdle');
  }));

test('a blank line is refused with EMPTY, not sent and not silently dropped', () =>
  withServer({ floodRate: 0 }, async (t) => {
    const [alice, bob] = await t.registerAll('alice', 'bob');
    for (const line of ['', '   ', '\t \t', '\u00a0\u3000', '\u200b', '\u2800', '\ufeff']) {
      alice!.send(line);
      assert.match(await alice!.next(), err('EMPTY'), JSON.stringify(line));
    }
    alice!.send('/me \u00a0');
    await alice!.expectNext(err('EMPTY'));
    alice!.send('/msg bob \u3000');
    await alice!.expectNext(err('EMPTY'));
    await bob!.quiet();
    alice!.send('  spaced  ');
    await bob!.expectNext('alice:   spaced  ');
  }));

test.run();
